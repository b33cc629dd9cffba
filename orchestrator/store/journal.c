/* journal.c — the SQLite journal (journal.h, docs/JOURNAL.md).
 *
 * One connection per rd_journal, WAL, synchronous=FULL: a commit that has
 * returned survives a crash of the process and of the machine. Every
 * mutating call is one BEGIN IMMEDIATE ... COMMIT, so concurrent renewd
 * processes (serve and a manual run) serialise on the write lock instead of
 * failing half-way; busy_timeout makes them wait for it.
 *
 * Prepared statements are cached per connection and always reset after use:
 * a SELECT left un-reset would pin a read snapshot (and the WAL) forever. */
#include "store/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/err.h"

#define RD_JOURNAL_APP_ID 0x72644a31 /* "rdJ1": PRAGMA application_id */
#define BUSY_TIMEOUT_MS 10000

/* ---- schema ------------------------------------------------------------ */

/* migrations[i] takes the schema from version i to i + 1. Append only: never
 * edit a shipped entry, add the next one. Each runs in the same transaction
 * as its user_version bump. */
static const char *const migrations[] = {
    /* v1: initial schema */
    "CREATE TABLE jobs("
    "  id INTEGER PRIMARY KEY,"
    "  runbook TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  cert TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  terminal INTEGER NOT NULL DEFAULT 0 CHECK (terminal IN (0, 1)),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  next_try INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT NOT NULL DEFAULT '');"
    /* at most one active job per (host, cert) */
    "CREATE UNIQUE INDEX jobs_active ON jobs(host, cert) WHERE terminal = 0;"
    "CREATE INDEX jobs_host_cert ON jobs(host, cert, id);"
    "CREATE TABLE transitions("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  from_state TEXT,"
    "  to_state TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('create', 'transition', 'resume')),"
    "  at INTEGER NOT NULL,"
    "  error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX transitions_job ON transitions(job_id, id);"
    "CREATE TABLE steps("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  step TEXT NOT NULL,"
    "  phase TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  ms REAL NOT NULL DEFAULT 0,"
    "  result TEXT,"
    "  message TEXT NOT NULL DEFAULT '',"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX steps_job ON steps(job_id, id);"
    "CREATE TABLE kv("
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  PRIMARY KEY (job_id, key)) WITHOUT ROWID;"
    "CREATE TABLE inventory("
    "  id INTEGER PRIMARY KEY,"
    "  host TEXT NOT NULL,"
    "  taken_at INTEGER NOT NULL,"
    "  facts TEXT NOT NULL);"
    "CREATE INDEX inventory_host ON inventory(host, taken_at);"
    "CREATE TABLE audit("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  detail TEXT);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TABLE alerts("
    "  key TEXT PRIMARY KEY,"
    "  at INTEGER NOT NULL) WITHOUT ROWID;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(NMIGRATIONS == RD_JOURNAL_SCHEMA_VERSION,
               "RD_JOURNAL_SCHEMA_VERSION must equal the number of migrations");

/* ---- statement cache --------------------------------------------------- */

#define JOB_COLS "id, runbook, host, cert, state, attempts, created, updated, next_try, error"

#define STMT_MAP(X)                                                            \
  X(BEGIN, "BEGIN IMMEDIATE")                                                  \
  X(COMMIT, "COMMIT")                                                          \
  X(ROLLBACK, "ROLLBACK")                                                      \
  X(JOB_ACTIVE, "SELECT id FROM jobs WHERE host = ?1 AND cert = ?2 AND terminal = 0") \
  X(JOB_INSERT, "INSERT INTO jobs(runbook, host, cert, state, terminal, attempts," \
                " created, updated, next_try, error)"                          \
                " VALUES (?1, ?2, ?3, 'DUE', 0, 0, ?4, ?4, 0, '')")            \
  X(JOB_STATE, "SELECT state FROM jobs WHERE id = ?1")                         \
  X(JOB_SET_STATE, "UPDATE jobs SET state = ?2, terminal = ?3, updated = ?4,"  \
                   " error = ?5, next_try = CASE WHEN ?6 != 0 THEN ?6"          \
                   " WHEN ?3 = 1 THEN next_try ELSE 0 END WHERE id = ?1")      \
  X(JOB_REWIND, "UPDATE jobs SET state = ?2, updated = ?3 WHERE id = ?1")     \
  X(JOB_NEXT_TRY, "UPDATE jobs SET next_try = ?2, updated = ?3 WHERE id = ?1") \
  X(JOB_RETRY, "UPDATE jobs SET attempts = attempts + 1, error = ?2,"          \
               " next_try = ?3, updated = ?4 WHERE id = ?1")                   \
  X(JOB_GET, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1")                    \
  X(JOB_LAST, "SELECT " JOB_COLS " FROM jobs WHERE host = ?1 AND cert = ?2"    \
              " ORDER BY id DESC LIMIT 1")                                     \
  X(JOBS_ALL, "SELECT " JOB_COLS " FROM jobs ORDER BY id DESC LIMIT ?1")       \
  X(JOBS_ACTIVE, "SELECT " JOB_COLS " FROM jobs WHERE terminal = 0"            \
                 " ORDER BY id DESC LIMIT ?1")                                 \
  X(JOBS_LATEST, "SELECT " JOB_COLS " FROM jobs WHERE id IN"                   \
                 " (SELECT max(id) FROM jobs GROUP BY host, cert)"            \
                 " ORDER BY host, cert")                                       \
  X(JOB_HISTORY, "SELECT state FROM jobs WHERE host = ?1 AND cert = ?2"        \
                 " AND terminal = 1 ORDER BY id DESC")                         \
  X(TR_INSERT, "INSERT INTO transitions(job_id, from_state, to_state, kind, at, error)" \
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                             \
  X(TR_LIST, "SELECT id, from_state, to_state, kind, at, error FROM transitions" \
             " WHERE job_id = ?1 ORDER BY id")                                 \
  X(STEP_INSERT, "INSERT INTO steps(job_id, step, phase, status, ms, result, message, at)" \
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                   \
  X(STEP_LIST, "SELECT id, step, phase, status, ms, result, message, at FROM steps" \
               " WHERE job_id = ?1 ORDER BY id")                               \
  X(KV_PUT, "INSERT INTO kv(job_id, key, value, updated) VALUES (?1, ?2, ?3, ?4)" \
            " ON CONFLICT(job_id, key) DO UPDATE SET value = excluded.value,"  \
            " updated = excluded.updated")                                     \
  X(KV_DEL, "DELETE FROM kv WHERE job_id = ?1 AND key = ?2")                   \
  X(KV_GET, "SELECT value FROM kv WHERE job_id = ?1 AND key = ?2")             \
  X(INV_INSERT, "INSERT INTO inventory(host, taken_at, facts) VALUES (?1, ?2, ?3)") \
  X(AUDIT_INSERT, "INSERT INTO audit(at, actor, event, detail) VALUES (?1, ?2, ?3, ?4)") \
  X(ALERT_INSERT, "INSERT INTO alerts(key, at) VALUES (?1, ?2)"                \
                  " ON CONFLICT(key) DO NOTHING")

enum {
#define STMT_ENUM(id, sql) S_##id,
  STMT_MAP(STMT_ENUM)
#undef STMT_ENUM
      S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
#define STMT_SQL(id, sql) sql,
    STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

struct rd_journal {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *stmt[S_COUNT];
  char msg[1536];
};

/* ---- errors ------------------------------------------------------------ */

static int rd_from_sqlite(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return 0;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return RD_EBUSY;
  case SQLITE_NOMEM:
    return RD_ENOMEM;
  case SQLITE_CONSTRAINT:
    return RD_EEXIST;
  case SQLITE_NOTFOUND:
    return RD_ENOTFOUND;
  case SQLITE_TOOBIG:
    return RD_EOVERFLOW;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
  case SQLITE_FORMAT:
  case SQLITE_SCHEMA:
    return RD_EPROTO;
  default:
    return RD_EIO;
  }
}

static int fail(rd_journal *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(rd_journal *j, int code, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(j->msg, sizeof j->msg, "journal %s: %s", j->path, what);
  return code;
}

/* A failed sqlite call: the RD_E code, with sqlite's own message. */
static int dberr(rd_journal *j, int rc, const char *what) {
  return fail(j, rd_from_sqlite(rc) ? rd_from_sqlite(rc) : RD_EIO, "%s: %s", what,
              sqlite3_errmsg(j->db));
}

/* ---- statement helpers ------------------------------------------------- */

static sqlite3_stmt *stmt(rd_journal *j, int id, int *rc) {
  if (!j->stmt[id]) {
    *rc = sqlite3_prepare_v3(j->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                             &j->stmt[id], NULL);
    if (*rc != SQLITE_OK) {
      j->stmt[id] = NULL;
      return NULL;
    }
  }
  *rc = SQLITE_OK;
  return j->stmt[id];
}

static void done(sqlite3_stmt *s) {
  if (s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
}

static int bind_text(sqlite3_stmt *s, int i, const char *v) {
  return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

/* Run a cached statement that returns no rows. */
static int run(rd_journal *j, int id, const char *what) {
  int rc;
  sqlite3_stmt *s = stmt(j, id, &rc);
  if (!s)
    return dberr(j, rc, what);
  rc = sqlite3_step(s);
  done(s);
  if (rc != SQLITE_DONE)
    return dberr(j, rc, what);
  return 0;
}

static int tx_begin(rd_journal *j) { return run(j, S_BEGIN, "begin"); }

static void tx_rollback(rd_journal *j) {
  if (!sqlite3_get_autocommit(j->db)) {
    int rc;
    sqlite3_stmt *s = stmt(j, S_ROLLBACK, &rc);
    if (s) {
      sqlite3_step(s);
      done(s);
    } else {
      sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    }
  }
}

/* Commit, or roll back when anything before failed (err < 0). */
static int tx_end(rd_journal *j, int err) {
  if (err < 0) {
    tx_rollback(j);
    return err;
  }
  err = run(j, S_COMMIT, "commit");
  if (err < 0)
    tx_rollback(j);
  return err;
}

static char *json_text(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *s, int col) {
  const unsigned char *t = sqlite3_column_text(s, col);
  snprintf(dst, len, "%s", t ? (const char *)t : "");
}

/* ---- open / close ------------------------------------------------------ */

const char *rd_journal_default_path(void) {
  const char *e = getenv("RENEWD_JOURNAL");
  return e && *e ? e : "/var/lib/renewd/journal.db";
}

const char *rd_journal_errmsg(const rd_journal *j) { return j ? j->msg : ""; }
const char *rd_journal_path(const rd_journal *j) { return j ? j->path : ""; }

/* mkdir -p of path's parent; the directories it creates get mode 0700. */
static int make_parent(const char *path, char *why, size_t whylen) {
  char *dir = strdup(path), *slash;
  int err = 0;
  if (!dir)
    return RD_ENOMEM;
  slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    free(dir);
    return 0;
  }
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot create directory %s: %s", dir, strerror(errno));
        err = RD_EIO;
        break;
      }
      *p = c;
      if (c == '\0')
        break;
    }
  }
  if (!err) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(why, whylen, "%s is not a directory", dir);
      err = RD_EIO;
    }
  }
  free(dir);
  return err;
}

static int pragma_int(rd_journal *j, const char *sql, int *out) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(j->db, sql, -1, &s, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(s, 0);
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK)
    rc = dberr(j, rc, sql);
  sqlite3_finalize(s);
  return rc;
}

static int exec(rd_journal *j, const char *sql, const char *what) {
  char *emsg = NULL;
  int rc = sqlite3_exec(j->db, sql, NULL, NULL, &emsg);
  if (rc != SQLITE_OK) {
    int err = fail(j, rd_from_sqlite(rc) ? rd_from_sqlite(rc) : RD_EIO, "%s: %s", what,
                   emsg ? emsg : sqlite3_errmsg(j->db));
    sqlite3_free(emsg);
    return err;
  }
  return 0;
}

static int migrate(rd_journal *j) {
  int version = 0, appid = 0, ntables = 0, err;
  /* Up to date: no need for the write lock (status stays a reader). */
  if (pragma_int(j, "PRAGMA user_version", &version) == 0 &&
      pragma_int(j, "PRAGMA application_id", &appid) == 0 && version == NMIGRATIONS &&
      appid == RD_JOURNAL_APP_ID)
    return 0;
  if ((err = tx_begin(j)) < 0)
    return err;
  /* Read inside the write transaction: another process may have migrated
   * between our open and now. */
  if ((err = pragma_int(j, "PRAGMA user_version", &version)) < 0 ||
      (err = pragma_int(j, "PRAGMA application_id", &appid)) < 0 ||
      (err = pragma_int(j, "SELECT count(*) FROM sqlite_schema", &ntables)) < 0)
    return tx_end(j, err);
  if (appid != 0 && appid != RD_JOURNAL_APP_ID)
    return tx_end(j, fail(j, RD_EPROTO,
                          "not a renewd journal (application_id 0x%x); refusing to touch it",
                          (unsigned)appid));
  if (appid == 0 && ntables > 0)
    return tx_end(j, fail(j, RD_EPROTO,
                          "database holds %d objects but is not a renewd journal; "
                          "refusing to touch it",
                          ntables));
  if (version > NMIGRATIONS)
    return tx_end(j, fail(j, RD_EPROTO,
                          "schema version %d is newer than this renewd understands (%d); "
                          "upgrade renewd",
                          version, NMIGRATIONS));
  for (int v = version; v < NMIGRATIONS; v++) {
    char sql[96], what[64];
    snprintf(what, sizeof what, "migration to schema version %d", v + 1);
    if ((err = exec(j, migrations[v], what)) < 0)
      return tx_end(j, err);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d", v + 1,
             RD_JOURNAL_APP_ID);
    if ((err = exec(j, sql, what)) < 0)
      return tx_end(j, err);
  }
  return tx_end(j, 0);
}

static int configure(rd_journal *j) {
  sqlite3_stmt *s = NULL;
  int rc, err = 0;
  sqlite3_extended_result_codes(j->db, 1);
  sqlite3_busy_timeout(j->db, BUSY_TIMEOUT_MS);
  /* journal_mode answers with the mode in effect: a filesystem without
   * shared memory support keeps the old one. */
  rc = sqlite3_prepare_v2(j->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    if (!mode || strcmp(mode, "wal"))
      err = fail(j, RD_EIO, "cannot switch to WAL mode (journal_mode is %s)",
                 mode ? mode : "?");
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    err = dberr(j, rc, "cannot open");
  sqlite3_finalize(s);
  if (err < 0)
    return err;
  if ((err = exec(j, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                     " PRAGMA trusted_schema = OFF",
                  "pragmas")) < 0)
    return err;
  return migrate(j);
}

int rd_journal_open_ex(const char *path, int flags, rd_journal **out, char *err,
                       size_t errlen) {
  rd_journal *j;
  char why[512] = "";
  int rc, e;
  struct stat st;
  if (!out)
    return RD_EINVAL;
  *out = NULL;
  if (!path)
    path = rd_journal_default_path();
  if (!*path) {
    rd_fmt(err, errlen, "journal: empty path");
    return RD_EINVAL;
  }
  if (!(j = calloc(1, sizeof *j)) || !(j->path = strdup(path))) {
    free(j);
    rd_fmt(err, errlen, "journal %s: out of memory", path);
    return RD_ENOMEM;
  }
  if (stat(path, &st) != 0) {
    if (errno != ENOENT) {
      e = fail(j, RD_EIO, "cannot access: %s", strerror(errno));
      goto out;
    }
    if (flags & RD_JOURNAL_MUST_EXIST) {
      e = fail(j, RD_ENOTFOUND, "not found");
      goto out;
    }
    if ((e = make_parent(path, why, sizeof why)) < 0) {
      fail(j, e, "%s", why);
      goto out;
    }
    /* Created here so that it is 0600 whatever the umask; sqlite gives the
     * -wal and -shm files the same mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      e = fail(j, RD_EIO, "cannot create: %s", strerror(errno));
      goto out;
    }
    close(fd);
  } else if (!S_ISREG(st.st_mode)) {
    e = fail(j, RD_EINVAL, "not a regular file");
    goto out;
  }
  int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
  oflags |= SQLITE_OPEN_EXRESCODE;
#endif
  rc = sqlite3_open_v2(path, &j->db, oflags, NULL);
  if (rc != SQLITE_OK) {
    e = j->db ? dberr(j, rc, "cannot open") : fail(j, RD_ENOMEM, "out of memory");
    goto out;
  }
  e = configure(j);
out:
  if (e < 0) {
    rd_fmt(err, errlen, "%s", j->msg);
    rd_journal_close(j);
    return e;
  }
  *out = j;
  return 0;
}

int rd_journal_open(const char *path, rd_journal **out, char *err, size_t errlen) {
  return rd_journal_open_ex(path, 0, out, err, errlen);
}

void rd_journal_close(rd_journal *j) {
  if (!j)
    return;
  if (j->db && !sqlite3_get_autocommit(j->db))
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
  for (int i = 0; i < S_COUNT; i++)
    sqlite3_finalize(j->stmt[i]);
  if (j->db) {
    sqlite3_exec(j->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close(j->db);
  }
  free(j->path);
  free(j);
}

/* ---- jobs -------------------------------------------------------------- */

static int check_text(rd_journal *j, const char *what, const char *v, size_t max, int empty_ok) {
  if (!v || (!empty_ok && !*v))
    return fail(j, RD_EINVAL, "%s: missing", what);
  if (strlen(v) >= max)
    return fail(j, RD_EOVERFLOW, "%s: longer than %zu bytes", what, max - 1);
  return 0;
}

/* The state of job id; RD_ENOTFOUND when there is no such job. */
static int job_state(rd_journal *j, int64_t id, rd_job_state *st) {
  int rc, err = 0;
  sqlite3_stmt *s = stmt(j, S_JOB_STATE, &rc);
  if (!s)
    return dberr(j, rc, "job state");
  sqlite3_bind_int64(s, 1, id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(s, 0);
    int v = rd_job_state_parse(name);
    if (v < 0)
      err = fail(j, RD_EPROTO, "job %lld: unknown state '%s'", (long long)id, name ? name : "");
    else
      *st = (rd_job_state)v;
  } else if (rc == SQLITE_DONE) {
    err = fail(j, RD_ENOTFOUND, "job %lld: not found", (long long)id);
  } else {
    err = dberr(j, rc, "job state");
  }
  done(s);
  return err;
}

static int add_transition(rd_journal *j, int64_t id, int from, rd_job_state to,
                          const char *kind, time_t now, const char *error) {
  int rc;
  sqlite3_stmt *s = stmt(j, S_TR_INSERT, &rc);
  if (!s)
    return dberr(j, rc, "job history");
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, from < 0 ? NULL : rd_job_state_name((rd_job_state)from));
  bind_text(s, 3, rd_job_state_name(to));
  bind_text(s, 4, kind);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)now);
  bind_text(s, 6, error ? error : "");
  rc = sqlite3_step(s);
  done(s);
  return rc == SQLITE_DONE ? 0 : dberr(j, rc, "job history");
}

int rd_journal_job_open(rd_journal *j, const char *runbook, const char *host,
                        const char *cert, int64_t *job_id, int *created) {
  int rc, err;
  sqlite3_stmt *s;
  time_t now = time(NULL);
  if (!j || !job_id)
    return RD_EINVAL;
  if (!runbook)
    runbook = "";
  if ((err = check_text(j, "runbook", runbook, sizeof ((rd_job_row *)0)->runbook, 1)) < 0 ||
      (err = check_text(j, "host", host, sizeof ((rd_job_row *)0)->host, 0)) < 0 ||
      (err = check_text(j, "cert", cert, sizeof ((rd_job_row *)0)->cert, 0)) < 0)
    return err;
  if ((err = tx_begin(j)) < 0)
    return err;
  if (!(s = stmt(j, S_JOB_ACTIVE, &rc)))
    return tx_end(j, dberr(j, rc, "job open"));
  bind_text(s, 1, host);
  bind_text(s, 2, cert);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *job_id = sqlite3_column_int64(s, 0);
    done(s);
    if (created)
      *created = 0;
    return tx_end(j, 0);
  }
  done(s);
  if (rc != SQLITE_DONE)
    return tx_end(j, dberr(j, rc, "job open"));
  if (!(s = stmt(j, S_JOB_INSERT, &rc)))
    return tx_end(j, dberr(j, rc, "job open"));
  bind_text(s, 1, runbook);
  bind_text(s, 2, host);
  bind_text(s, 3, cert);
  sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
  rc = sqlite3_step(s);
  done(s);
  if (rc != SQLITE_DONE)
    return tx_end(j, dberr(j, rc, "job open"));
  int64_t id = sqlite3_last_insert_rowid(j->db);
  if ((err = add_transition(j, id, -1, RD_JOB_DUE, "create", now, NULL)) < 0)
    return tx_end(j, err);
  if ((err = tx_end(j, 0)) < 0)
    return err;
  *job_id = id;
  if (created)
    *created = 1;
  return 0;
}

static int put_kv(rd_journal *j, int64_t id, const char *key, const json_t *value, time_t now) {
  int rc;
  sqlite3_stmt *s;
  char *text = NULL;
  if (!key || !*key)
    return fail(j, RD_EINVAL, "job %lld: kv key missing", (long long)id);
  if (!value || json_is_null(value)) {
    if (!(s = stmt(j, S_KV_DEL, &rc)))
      return dberr(j, rc, "kv delete");
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, key);
  } else {
    if (!(text = json_text(value)))
      return fail(j, RD_ENOMEM, "job %lld: kv %s: cannot encode value", (long long)id, key);
    if (!(s = stmt(j, S_KV_PUT, &rc))) {
      free(text);
      return dberr(j, rc, "kv put");
    }
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, key);
    bind_text(s, 3, text);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
  }
  rc = sqlite3_step(s);
  done(s);
  free(text);
  return rc == SQLITE_DONE ? 0 : dberr(j, rc, "kv put");
}

static int put_step(rd_journal *j, int64_t id, const rd_step_record *r, time_t now) {
  int rc;
  sqlite3_stmt *s;
  char *text = NULL;
  if (!r->step || !*r->step || !r->phase || !*r->phase)
    return fail(j, RD_EINVAL, "job %lld: step record without step or phase", (long long)id);
  if (r->result && !(text = json_text(r->result)))
    return fail(j, RD_ENOMEM, "job %lld: step %s: cannot encode result", (long long)id, r->step);
  if (!(s = stmt(j, S_STEP_INSERT, &rc))) {
    free(text);
    return dberr(j, rc, "step");
  }
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, r->step);
  bind_text(s, 3, r->phase);
  sqlite3_bind_int(s, 4, r->status);
  sqlite3_bind_double(s, 5, r->ms);
  bind_text(s, 6, text);
  bind_text(s, 7, r->message ? r->message : "");
  sqlite3_bind_int64(s, 8, (sqlite3_int64)now);
  rc = sqlite3_step(s);
  done(s);
  free(text);
  return rc == SQLITE_DONE ? 0 : dberr(j, rc, "step");
}

int rd_journal_job_advance(rd_journal *j, int64_t job_id, const rd_job_advance *a) {
  rd_job_state from;
  int rc, err;
  sqlite3_stmt *s;
  time_t now = time(NULL);
  if (!j || !a)
    return RD_EINVAL;
  if ((int)a->to < 0 || a->to >= RD_JOB_NSTATES)
    return fail(j, RD_EINVAL, "job %lld: no such state %d", (long long)job_id, (int)a->to);
  if (a->kv && !json_is_object(a->kv))
    return fail(j, RD_EINVAL, "job %lld: kv must be a JSON object", (long long)job_id);
  if ((err = tx_begin(j)) < 0)
    return err;
  if ((err = job_state(j, job_id, &from)) < 0)
    return tx_end(j, err);
  if (!rd_job_transition_ok(from, a->to))
    return tx_end(j, fail(j, RD_ESTATE, "job %lld: %s -> %s is not a legal transition%s",
                          (long long)job_id, rd_job_state_name(from),
                          rd_job_state_name(a->to),
                          rd_job_state_terminal(from) ? " (the job has ended)" : ""));
  if (!(s = stmt(j, S_JOB_SET_STATE, &rc)))
    return tx_end(j, dberr(j, rc, "job state"));
  sqlite3_bind_int64(s, 1, job_id);
  bind_text(s, 2, rd_job_state_name(a->to));
  sqlite3_bind_int(s, 3, rd_job_state_terminal(a->to));
  sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
  bind_text(s, 5, a->error ? a->error : "");
  sqlite3_bind_int64(s, 6, (sqlite3_int64)a->next_try);
  rc = sqlite3_step(s);
  done(s);
  if (rc != SQLITE_DONE)
    return tx_end(j, dberr(j, rc, "job state"));
  if ((err = add_transition(j, job_id, (int)from, a->to, "transition", now, a->error)) < 0)
    return tx_end(j, err);
  if (a->kv) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a->kv, key, v) {
      if ((err = put_kv(j, job_id, key, v, now)) < 0)
        return tx_end(j, err);
    }
  }
  if (a->step && (err = put_step(j, job_id, a->step, now)) < 0)
    return tx_end(j, err);
  return tx_end(j, 0);
}

int rd_journal_job_set_state(rd_journal *j, int64_t job_id, rd_job_state to,
                             const char *error) {
  rd_job_advance a = {.to = to, .error = error};
  return rd_journal_job_advance(j, job_id, &a);
}

int rd_journal_job_set_next_try(rd_journal *j, int64_t job_id, time_t next_try) {
  rd_job_state st;
  int rc, err;
  sqlite3_stmt *s;
  if (!j)
    return RD_EINVAL;
  if ((err = tx_begin(j)) < 0)
    return err;
  if ((err = job_state(j, job_id, &st)) < 0)
    return tx_end(j, err);
  if (!(s = stmt(j, S_JOB_NEXT_TRY, &rc)))
    return tx_end(j, dberr(j, rc, "next try"));
  sqlite3_bind_int64(s, 1, job_id);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)next_try);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
  rc = sqlite3_step(s);
  done(s);
  return tx_end(j, rc == SQLITE_DONE ? 0 : dberr(j, rc, "next try"));
}

int rd_journal_job_retry(rd_journal *j, int64_t job_id, const char *error, time_t next_try) {
  rd_job_state st;
  int rc, err;
  sqlite3_stmt *s;
  if (!j)
    return RD_EINVAL;
  if ((err = tx_begin(j)) < 0)
    return err;
  if ((err = job_state(j, job_id, &st)) < 0)
    return tx_end(j, err);
  if (rd_job_state_terminal(st))
    return tx_end(j, fail(j, RD_ESTATE, "job %lld: cannot retry, it has ended in %s",
                          (long long)job_id, rd_job_state_name(st)));
  if (!(s = stmt(j, S_JOB_RETRY, &rc)))
    return tx_end(j, dberr(j, rc, "retry"));
  sqlite3_bind_int64(s, 1, job_id);
  bind_text(s, 2, error ? error : "");
  sqlite3_bind_int64(s, 3, (sqlite3_int64)next_try);
  sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
  rc = sqlite3_step(s);
  done(s);
  return tx_end(j, rc == SQLITE_DONE ? 0 : dberr(j, rc, "retry"));
}

int rd_journal_job_resume(rd_journal *j, int64_t job_id, rd_job_state *state) {
  rd_job_state st, to;
  int rc, err;
  sqlite3_stmt *s;
  time_t now = time(NULL);
  if (!j)
    return RD_EINVAL;
  if ((err = tx_begin(j)) < 0)
    return err;
  if ((err = job_state(j, job_id, &st)) < 0)
    return tx_end(j, err);
  to = rd_job_resume_state(st);
  if (to != st) {
    if (!(s = stmt(j, S_JOB_REWIND, &rc)))
      return tx_end(j, dberr(j, rc, "resume"));
    sqlite3_bind_int64(s, 1, job_id);
    bind_text(s, 2, rd_job_state_name(to));
    sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
    rc = sqlite3_step(s);
    done(s);
    if (rc != SQLITE_DONE)
      return tx_end(j, dberr(j, rc, "resume"));
    if ((err = add_transition(j, job_id, (int)st, to, "resume", now, NULL)) < 0)
      return tx_end(j, err);
  }
  if ((err = tx_end(j, 0)) < 0)
    return err;
  if (state)
    *state = to;
  return 0;
}

static int read_job(rd_journal *j, sqlite3_stmt *s, rd_job_row *r) {
  const char *state;
  int v;
  memset(r, 0, sizeof *r);
  r->id = sqlite3_column_int64(s, 0);
  copy_col(r->runbook, sizeof r->runbook, s, 1);
  copy_col(r->host, sizeof r->host, s, 2);
  copy_col(r->cert, sizeof r->cert, s, 3);
  state = (const char *)sqlite3_column_text(s, 4);
  if ((v = rd_job_state_parse(state)) < 0)
    return fail(j, RD_EPROTO, "job %lld: unknown state '%s'", (long long)r->id,
                state ? state : "");
  r->state = (rd_job_state)v;
  r->attempts = sqlite3_column_int(s, 5);
  r->created = (time_t)sqlite3_column_int64(s, 6);
  r->updated = (time_t)sqlite3_column_int64(s, 7);
  r->next_try = (time_t)sqlite3_column_int64(s, 8);
  copy_col(r->error, sizeof r->error, s, 9);
  return 0;
}

int rd_journal_job_get(rd_journal *j, int64_t job_id, rd_job_row *out) {
  int rc, err = 0;
  sqlite3_stmt *s;
  if (!j || !out)
    return RD_EINVAL;
  if (!(s = stmt(j, S_JOB_GET, &rc)))
    return dberr(j, rc, "job");
  sqlite3_bind_int64(s, 1, job_id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    err = read_job(j, s, out);
  else if (rc == SQLITE_DONE)
    err = fail(j, RD_ENOTFOUND, "job %lld: not found", (long long)job_id);
  else
    err = dberr(j, rc, "job");
  done(s);
  return err;
}

int rd_journal_job_last(rd_journal *j, const char *host, const char *cert, rd_job_row *out) {
  int rc, err = 0;
  sqlite3_stmt *s;
  if (!j || !out || !host || !cert)
    return RD_EINVAL;
  if (!(s = stmt(j, S_JOB_LAST, &rc)))
    return dberr(j, rc, "last job");
  bind_text(s, 1, host);
  bind_text(s, 2, cert);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    err = read_job(j, s, out);
  else if (rc == SQLITE_DONE)
    err = fail(j, RD_ENOTFOUND, "host %s cert %s: no job", host, cert);
  else
    err = dberr(j, rc, "last job");
  done(s);
  return err;
}

int rd_journal_failures(rd_journal *j, const char *host, const char *cert, int *count) {
  int rc, n = 0;
  sqlite3_stmt *s;
  if (!j || !host || !cert || !count)
    return RD_EINVAL;
  if (!(s = stmt(j, S_JOB_HISTORY, &rc)))
    return dberr(j, rc, "failures");
  bind_text(s, 1, host);
  bind_text(s, 2, cert);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    int st = rd_job_state_parse((const char *)sqlite3_column_text(s, 0));
    if (st != RD_JOB_FAILED && st != RD_JOB_ROLLED_BACK)
      break;
    n++;
  }
  done(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return dberr(j, rc, "failures");
  *count = n;
  return 0;
}

/* Collect the rows of a job query first, then visit: visitors may call the
 * journal (even the same query) without disturbing the statement. */
static int visit_jobs(rd_journal *j, int id, sqlite3_int64 limit, rd_job_visit fn, void *arg) {
  int rc, err = 0;
  size_t n = 0, cap = 0;
  rd_job_row *rows = NULL;
  sqlite3_stmt *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = stmt(j, id, &rc)))
    return dberr(j, rc, "jobs");
  if (id != S_JOBS_LATEST)
    sqlite3_bind_int64(s, 1, limit);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 16;
      rd_job_row *nr = realloc(rows, ncap * sizeof *rows);
      if (!nr) {
        err = fail(j, RD_ENOMEM, "jobs: out of memory");
        break;
      }
      rows = nr;
      cap = ncap;
    }
    if ((err = read_job(j, s, &rows[n])) < 0)
      break;
    n++;
  }
  done(s);
  if (!err && rc != SQLITE_DONE)
    err = dberr(j, rc, "jobs");
  for (size_t i = 0; !err && i < n; i++)
    err = fn(&rows[i], arg);
  free(rows);
  return err;
}

int rd_journal_jobs(rd_journal *j, int active_only, size_t limit, rd_job_visit fn, void *arg) {
  sqlite3_int64 lim = limit == 0 || limit > (size_t)INT64_MAX ? -1 : (sqlite3_int64)limit;
  return visit_jobs(j, active_only ? S_JOBS_ACTIVE : S_JOBS_ALL, lim, fn, arg);
}

int rd_journal_jobs_latest(rd_journal *j, rd_job_visit fn, void *arg) {
  return visit_jobs(j, S_JOBS_LATEST, -1, fn, arg);
}

int rd_journal_transitions(rd_journal *j, int64_t job_id, rd_transition_visit fn, void *arg) {
  int rc, err = 0;
  size_t n = 0, cap = 0;
  rd_transition_row *rows = NULL;
  sqlite3_stmt *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = stmt(j, S_TR_LIST, &rc)))
    return dberr(j, rc, "job history");
  sqlite3_bind_int64(s, 1, job_id);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rd_transition_row *r;
    const char *from, *to;
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 16;
      rd_transition_row *nr = realloc(rows, ncap * sizeof *rows);
      if (!nr) {
        err = fail(j, RD_ENOMEM, "job history: out of memory");
        break;
      }
      rows = nr;
      cap = ncap;
    }
    r = &rows[n];
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    r->job_id = job_id;
    from = (const char *)sqlite3_column_text(s, 1);
    to = (const char *)sqlite3_column_text(s, 2);
    r->from = from ? rd_job_state_parse(from) : -1;
    int tv = rd_job_state_parse(to);
    if ((from && r->from < 0) || tv < 0) {
      err = fail(j, RD_EPROTO, "job %lld: history row %lld names an unknown state",
                 (long long)job_id, (long long)r->id);
      break;
    }
    r->to = (rd_job_state)tv;
    copy_col(r->kind, sizeof r->kind, s, 3);
    r->at = (time_t)sqlite3_column_int64(s, 4);
    copy_col(r->error, sizeof r->error, s, 5);
    n++;
  }
  done(s);
  if (!err && rc != SQLITE_DONE)
    err = dberr(j, rc, "job history");
  for (size_t i = 0; !err && i < n; i++)
    err = fn(&rows[i], arg);
  free(rows);
  return err;
}

/* ---- steps, kv, inventory, audit, alerts ------------------------------- */

static int with_job(rd_journal *j, int64_t job_id) {
  rd_job_state st;
  return job_state(j, job_id, &st);
}

int rd_journal_step(rd_journal *j, int64_t job_id, const rd_step_record *rec) {
  int err;
  if (!j || !rec)
    return RD_EINVAL;
  if ((err = tx_begin(j)) < 0)
    return err;
  if ((err = with_job(j, job_id)) < 0)
    return tx_end(j, err);
  return tx_end(j, put_step(j, job_id, rec, time(NULL)));
}

int rd_journal_steps(rd_journal *j, int64_t job_id, rd_step_visit fn, void *arg) {
  int rc, err = 0;
  size_t n = 0, cap = 0;
  rd_step_row *rows = NULL;
  sqlite3_stmt *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = stmt(j, S_STEP_LIST, &rc)))
    return dberr(j, rc, "steps");
  sqlite3_bind_int64(s, 1, job_id);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rd_step_row *r;
    const char *text;
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 16;
      rd_step_row *nr = realloc(rows, ncap * sizeof *rows);
      if (!nr) {
        err = fail(j, RD_ENOMEM, "steps: out of memory");
        break;
      }
      rows = nr;
      cap = ncap;
    }
    r = &rows[n];
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    r->job_id = job_id;
    copy_col(r->step, sizeof r->step, s, 1);
    copy_col(r->phase, sizeof r->phase, s, 2);
    r->status = sqlite3_column_int(s, 3);
    r->ms = sqlite3_column_double(s, 4);
    if ((text = (const char *)sqlite3_column_text(s, 5))) {
      json_error_t jerr;
      if (!(r->result = json_loads(text, JSON_DECODE_ANY, &jerr))) {
        err = fail(j, RD_EPROTO, "job %lld: step row %lld: result is not JSON: %s",
                   (long long)job_id, (long long)r->id, jerr.text);
        break;
      }
    }
    copy_col(r->message, sizeof r->message, s, 6);
    r->at = (time_t)sqlite3_column_int64(s, 7);
    n++;
  }
  done(s);
  if (!err && rc != SQLITE_DONE)
    err = dberr(j, rc, "steps");
  for (size_t i = 0; !err && i < n; i++)
    err = fn(&rows[i], arg);
  for (size_t i = 0; i < n; i++)
    json_decref((json_t *)rows[i].result);
  free(rows);
  return err;
}

int rd_journal_kv_put(rd_journal *j, int64_t job_id, const char *key, const json_t *value) {
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = tx_begin(j)) < 0)
    return err;
  if ((err = with_job(j, job_id)) < 0)
    return tx_end(j, err);
  return tx_end(j, put_kv(j, job_id, key, value, time(NULL)));
}

int rd_journal_kv_get(rd_journal *j, int64_t job_id, const char *key, json_t **out) {
  int rc, err = 0;
  sqlite3_stmt *s;
  if (!j || !key || !out)
    return RD_EINVAL;
  *out = NULL;
  if (!(s = stmt(j, S_KV_GET, &rc)))
    return dberr(j, rc, "kv get");
  sqlite3_bind_int64(s, 1, job_id);
  bind_text(s, 2, key);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    json_error_t jerr;
    const char *text = (const char *)sqlite3_column_text(s, 0);
    if (!(*out = json_loads(text ? text : "", JSON_DECODE_ANY, &jerr)))
      err = fail(j, RD_EPROTO, "job %lld: kv %s: not JSON: %s", (long long)job_id, key,
                 jerr.text);
  } else if (rc == SQLITE_DONE) {
    err = fail(j, RD_ENOTFOUND, "job %lld: kv %s: not found", (long long)job_id, key);
  } else {
    err = dberr(j, rc, "kv get");
  }
  done(s);
  return err;
}

/* One INSERT in its own transaction. */
static int insert1(rd_journal *j, int id, const char *what, const char *t1, const char *t2,
                   const char *t3) {
  int rc, err;
  sqlite3_stmt *s;
  sqlite3_int64 now = (sqlite3_int64)time(NULL);
  if ((err = tx_begin(j)) < 0)
    return err;
  if (!(s = stmt(j, id, &rc)))
    return tx_end(j, dberr(j, rc, what));
  switch (id) {
  case S_INV_INSERT: /* host, taken_at, facts */
    bind_text(s, 1, t1);
    sqlite3_bind_int64(s, 2, now);
    bind_text(s, 3, t2);
    break;
  case S_AUDIT_INSERT: /* at, actor, event, detail */
    sqlite3_bind_int64(s, 1, now);
    bind_text(s, 2, t1);
    bind_text(s, 3, t2);
    bind_text(s, 4, t3);
    break;
  case S_ALERT_INSERT: /* key, at */
    bind_text(s, 1, t1);
    sqlite3_bind_int64(s, 2, now);
    break;
  }
  rc = sqlite3_step(s);
  done(s);
  if (rc != SQLITE_DONE)
    return tx_end(j, dberr(j, rc, what));
  int changed = sqlite3_changes(j->db);
  if ((err = tx_end(j, 0)) < 0)
    return err;
  return changed;
}

int rd_journal_inventory(rd_journal *j, const char *host, const json_t *facts) {
  char *text;
  int err;
  if (!j || !facts)
    return RD_EINVAL;
  if ((err = check_text(j, "inventory host", host, 4096, 0)) < 0)
    return err;
  if (!(text = json_text(facts)))
    return fail(j, RD_ENOMEM, "inventory %s: cannot encode facts", host);
  err = insert1(j, S_INV_INSERT, "inventory", host, text, NULL);
  free(text);
  return err < 0 ? err : 0;
}

int rd_journal_audit(rd_journal *j, const char *actor, const char *event,
                     const json_t *detail) {
  char *text = NULL;
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = check_text(j, "audit actor", actor, 4096, 0)) < 0 ||
      (err = check_text(j, "audit event", event, 4096, 0)) < 0)
    return err;
  if (detail && !(text = json_text(detail)))
    return fail(j, RD_ENOMEM, "audit %s: cannot encode detail", event);
  err = insert1(j, S_AUDIT_INSERT, "audit", actor, event, text);
  free(text);
  return err < 0 ? err : 0;
}

int rd_journal_alert_once(rd_journal *j, const char *key) {
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = check_text(j, "alert key", key, 4096, 0)) < 0)
    return err;
  err = insert1(j, S_ALERT_INSERT, "alert", key, NULL, NULL);
  if (err < 0)
    return err;
  return err == 0 ? 1 : 0;
}
