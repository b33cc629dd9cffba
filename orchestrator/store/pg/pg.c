/* pg.c — the PostgreSQL backend of the journal (journal_int.h, jn_driver;
 * docs/JOURNAL.md, "PostgreSQL"): several renewd instances share one
 * database.
 *
 * One libpq connection per rd_journal. The statements are journal_int.h's,
 * with $N placeholders and typed parameters sent in text format. A write
 * transaction takes a transaction-level advisory lock first, so writers
 * serialise as SQLite's BEGIN IMMEDIATE makes them do: a call reads the
 * committed state (READ COMMITTED, a fresh snapshot per statement) and acts
 * on it without another instance acting in between. The wait for that lock
 * is bounded by lock_timeout = busy_ms (RD_EBUSY, nothing changed) and every
 * statement by statement_timeout = RD_JOURNAL_PG_STATEMENT_MS; a process
 * paused inside a transaction (SIGSTOP, a debugger) loses its session after
 * RD_JOURNAL_PG_IDLE_TX_MS, so it cannot hold every other instance's writes
 * back (idle_in_transaction_session_timeout). The calls are
 * synchronous: those made from the event loop cost it at most that; the
 * engine's transitions run on a second connection off the loop
 * (journal_async.c) and the heartbeats on the work connection
 * (pg_listen.c; docs/SCALING.md, "Asynchronous journal calls of the
 * engine").
 *
 * The URI must not hold a password (it would show in ps, in logs and in
 * every message that names the journal): the password comes from
 * $RENEWD_JOURNAL_PASSWORD_FILE or $RENEWD_JOURNAL_PASSWORD, read by
 * config/secret.c, handed to libpq and wiped; or from libpq's own sources
 * (~/.pgpass, peer authentication). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "config/secret.h"
#include "store/pg/pg_int.h"

#define TEXTOID 25
#define INT8OID 20
#define FLOAT8OID 701
/* How much longer than statement_timeout a call waits for an answer. */
#define PG_CLIENT_MARGIN_MS 1000
/* A native error: the SQLSTATE and message are in the pg_db. */
#define PG_FAIL 1

#define D(j) ((pg_db *)(j)->db)
#define Q(s) ((pg_q *)(s))

/* ---- errors ------------------------------------------------------------ */

/* Keep the SQLSTATE and the message (one line) of a failed result. */
/* Keep the SQLSTATE and the message of the connection's trouble (no
 * result at all). */
static void keep_lost(pg_db *d, const char *fallback) {
  const char *m = PQerrorMessage(d->conn);
  snprintf(d->state, sizeof d->state, "08006");
  snprintf(d->err, sizeof d->err, "%s", m && *m ? m : fallback);
  d->err[strcspn(d->err, "\r\n")] = '\0';
}

/* res NULL: run_bounded kept the error already. */
static void keep_error(pg_db *d, const PGresult *res, const char *fallback) {
  if (!res)
    return;
  const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (!m || !*m)
    m = PQerrorMessage(d->conn);
  if (!m || !*m)
    m = fallback;
  snprintf(d->state, sizeof d->state, "%s", st ? st : "");
  snprintf(d->err, sizeof d->err, "%s", m);
  for (char *p = d->err; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  size_t n = strlen(d->err);
  while (n && d->err[n - 1] == ' ')
    d->err[--n] = '\0';
}

static int pg_dberr(rd_journal *j, int rc, const char *what) {
  pg_db *d = D(j);
  const char *st = d->state;
  (void)rc;
  if (!strcmp(st, "55P03") || !strcmp(st, "40001") || !strcmp(st, "40P01"))
    return jn_fail(j, RD_EBUSY,
                   "%s: busy: another connection held the journal's write lock for longer "
                   "than %d ms; nothing was changed, try again",
                   what, j->busy_ms);
  if (!strcmp(st, "57P05"))
    return jn_fail(j, RD_ETIMEDOUT,
                   "%s: the database did not answer within %d ms; the connection was "
                   "dropped (opened again at the next call)",
                   what, RD_JOURNAL_PG_STATEMENT_MS + PG_CLIENT_MARGIN_MS);
  if (!strcmp(st, "57014"))
    return jn_fail(j, RD_ETIMEDOUT,
                   "%s: the database did not answer within %d ms (statement_timeout); "
                   "nothing was changed",
                   what, RD_JOURNAL_PG_STATEMENT_MS);
  int code = RD_EIO;
  if (!strncmp(st, "23", 2))
    code = RD_EEXIST;
  else if (!strncmp(st, "08", 2) || (!*st && PQstatus(d->conn) != CONNECTION_OK))
    code = RD_ENETWORK;
  else if (!strncmp(st, "42", 2))
    code = RD_EPROTO;
  else if (!strncmp(st, "53", 2))
    code = RD_ENOMEM;
  return jn_fail(j, code, "%s: %s", what, d->err[0] ? d->err : "database error");
}

/* ---- the connection ---------------------------------------------------- */

/* Send sql (simple protocol when vals is NULL: several statements allowed)
 * and wait for its results, at most RD_JOURNAL_PG_STATEMENT_MS plus
 * PG_CLIENT_MARGIN_MS: the server's statement_timeout answers a slow
 * statement, this bound a server that does not answer at all (stopped,
 * partitioned: no timeout of the server's can fire then). The connection
 * is then dropped (d->broken: every call fails at once until the next one
 * outside a transaction opens it again). The last result, or NULL with
 * the error in d (SQLSTATE 57P05 for the client's own timeout). */
static PGresult *run_bounded(rd_journal *j, const char *sql, int n, const Oid *types,
                             const char *const *vals) {
  pg_db *d = D(j);
  PGresult *last = NULL, *r;
  uint64_t deadline = rd_now_ms() + RD_JOURNAL_PG_STATEMENT_MS + PG_CLIENT_MARGIN_MS;
  int sent;
  if (d->broken) {
    snprintf(d->state, sizeof d->state, "08006");
    snprintf(d->err, sizeof d->err, "the connection was dropped after a timeout");
    return NULL;
  }
  sent = vals || n ? PQsendQueryParams(d->conn, sql, n, types, vals, NULL, NULL, 0)
                   : PQsendQuery(d->conn, sql);
  if (!sent) {
    keep_lost(d, "cannot send");
    return NULL;
  }
  for (;;) {
    while (PQisBusy(d->conn)) {
      uint64_t now = rd_now_ms();
      struct pollfd p = {.fd = PQsocket(d->conn), .events = POLLIN};
      int rc = now >= deadline ? 0 : poll(&p, 1, (int)(deadline - now));
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc == 0) {
        PQclear(last);
        d->broken = 1;
        snprintf(d->state, sizeof d->state, "57P05");
        snprintf(d->err, sizeof d->err, "no answer");
        return NULL;
      }
      if (rc < 0 || !PQconsumeInput(d->conn))
        break; /* lost: PQgetResult says so */
    }
    if (!(r = PQgetResult(d->conn)))
      break;
    ExecStatusType st = PQresultStatus(r);
    if (last && (PQresultStatus(last) == PGRES_FATAL_ERROR || st == PGRES_EMPTY_QUERY)) {
      PQclear(r); /* keep the first error */
      continue;
    }
    PQclear(last);
    last = r;
    if (PQstatus(d->conn) == CONNECTION_BAD)
      break;
  }
  if (!last)
    keep_lost(d, "no result");
  return last;
}

/* Run sql (no parameters; several statements allowed): 0 or PG_FAIL. */
static int exec_sql(rd_journal *j, const char *sql) {
  pg_db *d = D(j);
  PGresult *res = run_bounded(j, sql, 0, NULL, NULL);
  ExecStatusType st = PQresultStatus(res);
  int rc = 0;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    keep_error(d, res, "no result");
    rc = PG_FAIL;
  }
  PQclear(res);
  return rc;
}

/* The integer in the first column of sql's first row. */
static int query_int(rd_journal *j, const char *sql, const char *what, int64_t *out) {
  pg_db *d = D(j);
  PGresult *res = run_bounded(j, sql, 0, NULL, NULL);
  int err = 0;
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
    keep_error(d, res, "no row");
    err = pg_dberr(j, PG_FAIL, what);
  } else {
    *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  }
  PQclear(res);
  return err;
}

static int session(rd_journal *j) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SET lock_timeout = %d; SET statement_timeout = %d;"
           " SET idle_in_transaction_session_timeout = %d; SET client_min_messages = warning",
           j->busy_ms > 0 ? j->busy_ms : 1, RD_JOURNAL_PG_STATEMENT_MS, RD_JOURNAL_PG_IDLE_TX_MS);
  return exec_sql(j, sql);
}

/* Outside a transaction, a connection that was lost is opened again (a
 * database restart, a fail-over). Inside one it is not: the transaction is
 * gone and its statements must fail. */
static void reconnect(rd_journal *j) {
  pg_db *d = D(j);
  if (d->tx || (!d->broken && PQstatus(d->conn) == CONNECTION_OK))
    return;
  d->broken = 0;
  PQreset(d->conn);
  if (PQstatus(d->conn) == CONNECTION_OK)
    session(j);
}

/* The URI must not carry a password. 0, or RD_ECONFIG. */
static int check_uri(rd_journal *j) {
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(j->target, &perr);
  int err = 0;
  if (!opts) {
    /* libpq's message may quote the URI, password and all */
    PQfreemem(perr);
    return jn_fail(j, RD_ECONFIG, "not a valid postgresql:// URI");
  }
  for (PQconninfoOption *o = opts; o->keyword; o++)
    if (!strcmp(o->keyword, "password") && o->val && *o->val)
      err = jn_fail(j, RD_ECONFIG,
                    "the URI holds a password: it would show in process lists, logs and "
                    "messages; put it in a file named by RENEWD_JOURNAL_PASSWORD_FILE (or "
                    "in RENEWD_JOURNAL_PASSWORD, or ~/.pgpass)");
  PQconninfoFree(opts);
  return err;
}

/* The password from $RENEWD_JOURNAL_PASSWORD_FILE or $RENEWD_JOURNAL_PASSWORD,
 * through config/secret.c; *pw NULL when neither is set. */
static int read_password(rd_journal *j, char **pw) {
  const char *file = getenv("RENEWD_JOURNAL_PASSWORD_FILE");
  rd_secret_ref ref = {RD_SECRET_NONE, NULL};
  char why[512];
  *pw = NULL;
  if (file && *file) {
    ref.kind = RD_SECRET_FILE;
    ref.name = (char *)file;
  } else if (getenv("RENEWD_JOURNAL_PASSWORD")) {
    ref.kind = RD_SECRET_ENV;
    ref.name = (char *)"RENEWD_JOURNAL_PASSWORD";
  } else {
    return 0;
  }
  if (rd_secret_read(&ref, pw, NULL, why, sizeof why) < 0)
    return jn_fail(j, RD_ECONFIG, "password: %s", why);
  return 0;
}

/* ---- migrations -------------------------------------------------------- */

static int migrate(rd_journal *j, int flags) {
  int64_t have = 0, ntables = 0, version = 0;
  int err;
  if ((err = jn_tx_begin(j, "migration")) < 0)
    return err;
  if ((err = query_int(j,
                       "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname ="
                       " current_schema() AND tablename = 'schema_version'",
                       "migration", &have)) < 0 ||
      (err = query_int(j,
                       "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname ="
                       " current_schema()",
                       "migration", &ntables)) < 0)
    return jn_tx_end(j, err);
  if (!have && ntables > 0)
    return jn_tx_end(j, jn_fail(j, RD_EPROTO,
                                "the database's schema holds %lld tables but is not a renewd "
                                "journal (no schema_version table); refusing to touch it",
                                (long long)ntables));
  if (!have && (flags & RD_JOURNAL_MUST_EXIST))
    return jn_tx_end(j, jn_fail(j, RD_ENOTFOUND, "not found (no renewd journal in it)"));
  if (!have && exec_sql(j, "CREATE TABLE schema_version(version INTEGER PRIMARY KEY,"
                           " applied BIGINT NOT NULL)"))
    return jn_tx_end(j, pg_dberr(j, PG_FAIL, "migration"));
  if ((err = query_int(j, "SELECT coalesce(max(version), 0) FROM schema_version", "migration",
                       &version)) < 0)
    return jn_tx_end(j, err);
  if (version > jn_pg_nmigrations)
    return jn_tx_end(j, jn_fail(j, RD_EPROTO,
                                "schema version %lld is newer than this renewd understands "
                                "(%d); upgrade renewd",
                                (long long)version, jn_pg_nmigrations));
  for (int v = (int)version; v < jn_pg_nmigrations; v++) {
    char sql[128], what[64];
    snprintf(what, sizeof what, "migration to schema version %d", v + 1);
    snprintf(sql, sizeof sql,
             "INSERT INTO schema_version(version, applied) VALUES (%d, %lld)", v + 1,
             (long long)time(NULL));
    if (exec_sql(j, jn_pg_migrations[v]) || exec_sql(j, sql))
      return jn_tx_end(j, pg_dberr(j, PG_FAIL, what));
  }
  return jn_tx_end(j, 0);
}

/* ---- open / close ------------------------------------------------------ */

int jn_pg_connect(rd_journal *j, const char *timeout_s, PGconn **out) {
  char *pw = NULL;
  int err;
  if ((err = read_password(j, &pw)) < 0)
    return err;
  {
    const char *const kw[] = {"dbname", "connect_timeout", "application_name", "password",
                              NULL};
    const char *const val[] = {j->target, timeout_s, "renewd", pw, NULL};
    *out = PQconnectdbParams(kw, val, 1);
  }
  rd_secret_free(pw);
  if (!*out)
    return jn_fail(j, RD_ENOMEM, "out of memory");
  if (PQstatus(*out) != CONNECTION_OK) {
    const char *m = PQerrorMessage(*out);
    char one[512];
    snprintf(one, sizeof one, "%s", m && *m ? m : "connection failed");
    one[strcspn(one, "\r\n")] = '\0';
    return jn_fail(j, RD_ENETWORK, "cannot connect: %s", one);
  }
  return 0;
}

int jn_pg_query(rd_journal *j, const char *what, const char *sql, int n,
                const char *const *vals, PGresult **out) {
  pg_db *d = D(j);
  PGresult *res;
  ExecStatusType st;
  *out = NULL;
  reconnect(j); /* only outside a transaction */
  res = run_bounded(j, sql, n, NULL, vals);
  st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    keep_error(d, res, "no result");
    PQclear(res);
    return pg_dberr(j, PG_FAIL, what);
  }
  *out = res;
  return 0;
}

int jn_pg_begin_plain(rd_journal *j, const char *what) {
  pg_db *d = D(j);
  PGresult *res;
  int err;
  if (d->tx)
    return jn_fail(j, RD_ESTATE, "%s: inside another transaction", what);
  if ((err = jn_pg_query(j, what, "BEGIN", 0, NULL, &res)) < 0)
    return err;
  PQclear(res);
  d->tx = 1;
  return 0;
}

int jn_pg_end_plain(rd_journal *j, int err, const char *what) {
  pg_db *d = D(j);
  PGresult *res = NULL;
  int rc = jn_pg_query(j, what, err < 0 ? "ROLLBACK" : "COMMIT", 0, NULL, &res);
  PQclear(res);
  d->tx = 0;
  return err < 0 ? err : rc;
}

static int pg_open(rd_journal *j, int flags) {
  pg_db *d;
  char *name;
  int err;
  if (!(d = calloc(1, sizeof *d)))
    return jn_fail(j, RD_ENOMEM, "out of memory");
  j->db = d;
  for (int i = 0; i < S_COUNT; i++) {
    d->stmt[i].q.drv = &jn_pg_driver;
    if (!(d->sql[i] = strdup(i == S_BEGIN ? "BEGIN" : jn_stmt_sql[i])))
      return jn_fail(j, RD_ENOMEM, "out of memory");
    for (char *p = d->sql[i]; *p; p++)
      if (*p == '?')
        *p = '$';
    d->stmt[i].sql = d->sql[i];
  }
  if ((err = check_uri(j)) < 0)
    return err;
  if (!(name = strdup(j->target)))
    return jn_fail(j, RD_ENOMEM, "out of memory");
  free(j->path);
  j->path = name;
  if ((err = jn_pg_connect(j, "10", &d->conn)) < 0)
    return err;
  if (session(j))
    return pg_dberr(j, PG_FAIL, "cannot open");
  return migrate(j, flags);
}

static int pg_set_busy(rd_journal *j, int ms) {
  char sql[64];
  (void)ms;
  snprintf(sql, sizeof sql, "SET lock_timeout = %d", j->busy_ms > 0 ? j->busy_ms : 1);
  return exec_sql(j, sql) ? pg_dberr(j, PG_FAIL, "lock timeout") : 0;
}

static void pg_done(jn_q *q);

static void pg_close(rd_journal *j) {
  pg_db *d = D(j);
  for (int i = 0; i < S_COUNT; i++) {
    pg_done(&d->stmt[i].q);
    free(d->sql[i]);
  }
  if (d->conn) {
    if (!d->broken && PQtransactionStatus(d->conn) != PQTRANS_IDLE)
      PQclear(run_bounded(j, "ROLLBACK", 0, NULL, NULL));
    PQfinish(d->conn);
  }
  free(d);
  j->db = NULL;
}

/* ---- statements -------------------------------------------------------- */

static jn_q *pg_stmt(rd_journal *j, int id, int *rc) {
  *rc = 0;
  return &D(j)->stmt[id].q;
}

static void pg_done(jn_q *q) {
  pg_q *s = Q(q);
  PQclear(s->res);
  s->res = NULL;
  for (int i = 0; i < s->nparam; i++) {
    free(s->val[i]);
    s->val[i] = NULL;
  }
  s->nparam = 0;
  s->row = s->nrows = 0;
  s->oom = 0;
}

static void bind_param(pg_q *s, int i, const char *v, Oid type) {
  if (i < 1 || i > JN_PG_MAXPARAM)
    return;
  free(s->val[i - 1]);
  s->val[i - 1] = v ? strdup(v) : NULL;
  if (v && !s->val[i - 1])
    s->oom = 1;
  s->type[i - 1] = type;
  if (i > s->nparam)
    s->nparam = i;
}

static void pg_bind_text(jn_q *q, int i, const char *v) { bind_param(Q(q), i, v, TEXTOID); }

static void pg_bind_int(jn_q *q, int i, int64_t v) {
  char b[32];
  snprintf(b, sizeof b, "%lld", (long long)v);
  bind_param(Q(q), i, b, INT8OID);
}

static void pg_bind_double(jn_q *q, int i, double v) {
  char b[40];
  snprintf(b, sizeof b, "%.17g", v);
  bind_param(Q(q), i, b, FLOAT8OID);
}

static int pg_next(rd_journal *j, jn_q *q) {
  pg_db *d = D(j);
  pg_q *s = Q(q);
  if (!s->res) {
    int id = (int)(s - d->stmt);
    ExecStatusType st;
    if (id == S_COMMIT || id == S_ROLLBACK)
      d->tx = 0;
    else
      reconnect(j);
    if (s->oom) {
      snprintf(d->state, sizeof d->state, "53200");
      snprintf(d->err, sizeof d->err, "out of memory");
      return PG_FAIL;
    }
    s->res = run_bounded(j, s->sql, s->nparam, s->type, (const char *const *)s->val);
    st = PQresultStatus(s->res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      keep_error(d, s->res, "no result");
      PQclear(s->res);
      s->res = NULL;
      return PG_FAIL;
    }
    d->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
    s->nrows = st == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
    s->row = -1;
  }
  if (s->row + 1 < s->nrows) {
    s->row++;
    return JN_ROW;
  }
  s->row = s->nrows;
  return JN_DONE;
}

static const char *pg_col_text(jn_q *q, int col) {
  pg_q *s = Q(q);
  if (!s->res || s->row < 0 || s->row >= s->nrows || col >= PQnfields(s->res) ||
      PQgetisnull(s->res, s->row, col))
    return NULL;
  return PQgetvalue(s->res, s->row, col);
}

static int64_t pg_col_int(jn_q *q, int col) {
  const char *t = pg_col_text(q, col);
  return t ? strtoll(t, NULL, 10) : 0;
}

static double pg_col_double(jn_q *q, int col) {
  const char *t = pg_col_text(q, col);
  return t ? strtod(t, NULL) : 0;
}

static int64_t pg_changes(rd_journal *j) { return D(j)->changes; }

/* BEGIN, then the write lock: every writer of every instance in turn --
 * with whatever sql adds (no parameters), one message, one round trip (a
 * far server costs a round trip per statement). A connection found lost
 * is opened again once: a transaction cut off there committed nothing.
 * The last statement's result in *last (PQclear()), when asked for. */
static int begin_with(rd_journal *j, const char *sql, PGresult **last) {
  pg_db *d = D(j);
  PGresult *res;
  reconnect(j);
  for (int tries = 0;; tries++) {
    res = run_bounded(j, sql, 0, NULL, NULL);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
      break;
    keep_error(d, res, "no result");
    PQclear(res);
    if (tries == 0 && PQstatus(d->conn) != CONNECTION_OK) {
      reconnect(j);
      continue;
    }
    /* the lock's error (lock_timeout), not the rollback's */
    if (PQstatus(d->conn) == CONNECTION_OK && PQtransactionStatus(d->conn) != PQTRANS_IDLE) {
      char state[sizeof d->state], err[sizeof d->err];
      memcpy(state, d->state, sizeof state);
      memcpy(err, d->err, sizeof err);
      exec_sql(j, "ROLLBACK");
      memcpy(d->state, state, sizeof state);
      memcpy(d->err, err, sizeof err);
    }
    return PG_FAIL;
  }
  d->tx = 1;
  if (last)
    *last = res;
  else
    PQclear(res);
  return JN_DONE;
}

#define PG_BEGIN "BEGIN; SELECT pg_advisory_xact_lock(" JN_PG_WRITE_LOCK_KEY ")"

static int pg_begin(rd_journal *j) { return begin_with(j, PG_BEGIN, NULL); }

/* BEGIN, the write lock and the job's state in the same round trip (the
 * id is an integer of ours, printed, never a text): JN_ROW with the state
 * in st, JN_DONE when there is no such job, or PG_FAIL. */
static int pg_begin_job(rd_journal *j, int64_t id, char *st, size_t len) {
  char sql[160];
  PGresult *res = NULL;
  snprintf(sql, sizeof sql, PG_BEGIN "; SELECT state FROM jobs WHERE id = %lld", (long long)id);
  int rc = begin_with(j, sql, &res);
  if (rc != JN_DONE)
    return rc;
  if (PQntuples(res) > 0) {
    snprintf(st, len, "%s", PQgetvalue(res, 0, 0));
    rc = JN_ROW;
  }
  PQclear(res);
  return rc;
}

static int pg_in_tx(rd_journal *j) {
  pg_db *d = D(j);
  return d->tx || PQtransactionStatus(d->conn) == PQTRANS_INTRANS ||
         PQtransactionStatus(d->conn) == PQTRANS_INERROR;
}

const jn_driver jn_pg_driver = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .set_busy = pg_set_busy,
    .stmt = pg_stmt,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .bind_double = pg_bind_double,
    .next = pg_next,
    .done = pg_done,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .changes = pg_changes,
    .dberr = pg_dberr,
    .begin = pg_begin,
    .begin_job = pg_begin_job,
    .in_tx = pg_in_tx,
    .lease_released = jn_pg_lease_released,
    .lease_renew_async = jn_pg_lease_renew_async,
    .async_cancel = jn_pg_async_cancel,
};
