/* journal_int.h — private to store/: the connection, the backend table
 * and the helpers the journal_*.c files share. Callers use journal.h only.
 *
 * The journal's logic (journal_jobs.c, _steps, _kv, _append, _lease) is
 * written once, over a small cursor interface that each backend implements:
 * store/sqlite/ (the embedded default) and store/pg/ (PostgreSQL, libpq).
 * The statements below are written once too, in the SQL both engines speak
 * (a backend may rewrite the placeholders ?N); each backend has its own
 * schema and migrations.
 *
 * Files: journal.c (open: picks the backend; close, errors), journal_sql.c
 * (transactions, row collection, checks), journal_jobs.c (jobs, transitions,
 * listings), journal_steps.c (step records), journal_kv.c (per-job values),
 * journal_append.c (inventory snapshots, audit, alerts), journal_lease.c
 * (host leases); sqlite/sqlite.c and pg/pg.c the backends. */
#ifndef RENEWD_JOURNAL_INT_H
#define RENEWD_JOURNAL_INT_H
#include <stdint.h>
#include <time.h>

#include "store/journal.h"

#define JOB_COLS "id, runbook, host, cert, state, attempts, created, updated, next_try, error"
#define LEASE_COLS "host, held, owner, node, pid, start, what, since, expires, epoch"

#define STMT_MAP(X)                                                            \
  X(BEGIN, "BEGIN IMMEDIATE")                                                  \
  X(COMMIT, "COMMIT")                                                          \
  X(ROLLBACK, "ROLLBACK")                                                      \
  X(JOB_ACTIVE, "SELECT id FROM jobs WHERE host = ?1 AND cert = ?2 AND terminal = 0") \
  X(JOB_INSERT, "INSERT INTO jobs(runbook, host, cert, state, terminal, attempts," \
                " created, updated, next_try, error)"                          \
                " VALUES (?1, ?2, ?3, 'DUE', 0, 0, ?4, ?4, 0, '') RETURNING id") \
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
  X(STEP_LIST, "SELECT id, step, phase, status, ms, result, message, at, job_id" \
               " FROM steps WHERE job_id = ?1 ORDER BY id")                    \
  X(STEP_MARKED, "SELECT id, step, phase, status, ms, result, message, at, job_id" \
                 " FROM steps WHERE result LIKE ?1 ORDER BY job_id, id")        \
  X(KV_PUT, "INSERT INTO kv(job_id, key, value, updated) VALUES (?1, ?2, ?3, ?4)" \
            " ON CONFLICT(job_id, key) DO UPDATE SET value = excluded.value,"  \
            " updated = excluded.updated")                                     \
  X(KV_DEL, "DELETE FROM kv WHERE job_id = ?1 AND key = ?2")                   \
  X(KV_GET, "SELECT value FROM kv WHERE job_id = ?1 AND key = ?2")             \
  X(INV_INSERT, "INSERT INTO inventory(host, taken_at, facts) VALUES (?1, ?2, ?3)") \
  X(INV_LATEST, "SELECT host, taken_at, facts FROM inventory WHERE id IN"      \
                " (SELECT max(id) FROM inventory GROUP BY host) ORDER BY host") \
  X(AUDIT_INSERT, "INSERT INTO audit(at, actor, event, detail) VALUES (?1, ?2, ?3, ?4)") \
  X(AUDIT_LIST, "SELECT id, at, actor, event, detail FROM audit WHERE event LIKE ?1" \
                " ORDER BY id")                                                \
  X(ALERT_INSERT, "INSERT INTO alerts(key, at) VALUES (?1, ?2)"                \
                  " ON CONFLICT(key) DO NOTHING")                              \
  X(LEASE_GET, "SELECT " LEASE_COLS " FROM leases WHERE host = ?1")            \
  X(LEASE_LIST, "SELECT " LEASE_COLS " FROM leases WHERE held >= ?1 ORDER BY host") \
  X(LEASE_TAKE, "INSERT INTO leases(host, held, owner, node, pid, start, what, since," \
                " expires, epoch) VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)" \
                " ON CONFLICT(host) DO UPDATE SET held = 1, owner = excluded.owner," \
                " node = excluded.node, pid = excluded.pid, start = excluded.start," \
                " what = excluded.what, since = excluded.since,"              \
                " expires = excluded.expires, epoch = leases.epoch + 1")             \
  X(LEASE_COUNTS, "SELECT count(*), coalesce(sum(CASE WHEN expires <= ?1 THEN 1 ELSE 0 END), 0)," \
                  " coalesce(sum(CASE WHEN owner = ?2 THEN 1 ELSE 0 END), 0)"          \
                  " FROM leases WHERE held = 1")                                        \
  X(LEASE_TAKEOVERS, "SELECT count(*) FROM audit WHERE event = 'lease.takeover'")     \
  X(LEASE_RENEW, "UPDATE leases SET expires = CASE WHEN expires > ?4 THEN expires" \
                 " ELSE ?4 END WHERE host = ?1 AND held = 1"                     \
                 " AND owner = ?2 AND epoch = ?3")                             \
  X(LEASE_FREE, "UPDATE leases SET held = 0, expires = ?4 WHERE host = ?1"     \
                " AND held = 1 AND owner = ?2 AND epoch = ?3")

enum {
#define STMT_ENUM(id, sql) S_##id,
  STMT_MAP(STMT_ENUM)
#undef STMT_ENUM
      S_COUNT
};

/* The SQL of each statement id (journal_sql.c). */
extern const char *const jn_stmt_sql[S_COUNT];

/* What a backend's next() returns besides an error: the values SQLite uses. */
#define JN_ROW 100
#define JN_DONE 101

/* A prepared statement of a backend: the backend's own struct begins with
 * this one, so the helpers below find their backend from the statement. */
typedef struct jn_q {
  const struct jn_driver *drv;
} jn_q;

/* A backend. Native result codes (rc) are the backend's own; dberr turns a
 * failed one into an RD_E code and the journal's message. */
typedef struct jn_driver {
  const char *name;                      /* "sqlite", "postgresql" */
  /* Connect to j->path (j->target for the backend), configure, migrate.
   * RD_E code with jn_fail() message on error; close() then frees. */
  int (*open)(rd_journal *j, int flags);
  void (*close)(rd_journal *j);
  int (*set_busy)(rd_journal *j, int ms);
  /* The cached statement id, reset and unbound; NULL with *rc set. */
  jn_q *(*stmt)(rd_journal *j, int id, int *rc);
  void (*bind_text)(jn_q *s, int i, const char *v); /* NULL v binds NULL */
  void (*bind_int)(jn_q *s, int i, int64_t v);
  void (*bind_double)(jn_q *s, int i, double v);
  int (*next)(rd_journal *j, jn_q *s);   /* JN_ROW, JN_DONE or a native error */
  void (*done)(jn_q *s);                 /* reset and unbind (NULL ok) */
  const char *(*col_text)(jn_q *s, int col); /* NULL for SQL NULL */
  int64_t (*col_int)(jn_q *s, int col);
  double (*col_double)(jn_q *s, int col);
  int64_t (*changes)(rd_journal *j);     /* rows changed by the last statement */
  int (*dberr)(rd_journal *j, int rc, const char *what);
  int (*begin)(rd_journal *j);           /* open a write transaction: native rc */
  /* begin, and the state of job id as text (NULL: begin, then S_JOB_STATE):
   * JN_ROW, JN_DONE (no such job) or a native error */
  int (*begin_job)(rd_journal *j, int64_t id, char *state, size_t len);
  int (*in_tx)(rd_journal *j);
  /* After host's lease was released (NULL: nothing; errors ignored):
   * PostgreSQL readies the work items waiting for it (pg_work.c). */
  void (*lease_released)(rd_journal *j, const char *host);
  /* rd_journal_lease_renew_async and rd_journal_async_cancel (NULL:
   * RD_ENOTSUP, nothing): PostgreSQL's work connection (pg_listen.c). */
  int (*lease_renew_async)(rd_journal *j, const char *owner, int ttl_s, time_t now,
                           const char *const *hosts, const int64_t *epochs, size_t n,
                           rd_lease_renewed_fn cb, void *arg);
  void (*async_cancel)(rd_journal *j, const void *arg);
} jn_driver;

extern const jn_driver jn_sqlite_driver; /* store/sqlite/sqlite.c */
extern const jn_driver jn_pg_driver;     /* store/pg/pg.c */

struct rd_journal {
  const jn_driver *drv;
  void *db;                    /* the backend's connection state */
  char *path;                  /* shown in messages: never holds a password */
  char *target;                /* what the backend connects to */
  int busy_ms;                 /* how long a call waits for the write lock */
  char msg[1536];              /* rd_journal_errmsg() */
  struct jn_async *async;      /* transitions off the loop (journal_async.c), or NULL */
};

/* ---- journal_async.c ---- */
/* Cancel arg's transitions; at close, every one (the twin closes when the
 * one running returns to the loop). */
void jn_async_cancel(rd_journal *j, const void *arg);
void jn_async_close(rd_journal *j);
/* rd_journal_lease_renew_async on the second connection (loop NULL:
 * RD_ENOTSUP). */
int jn_async_lease_renew(rd_journal *j, struct uv_loop_s *loop, const rd_lease_owner *owner,
                         int ttl_s, time_t now, const char *const *hosts, const int64_t *epochs,
                         size_t n, rd_lease_renewed_fn cb, void *arg);

/* ---- journal_sql.c ---- */
/* Record "journal PATH: <what>" as the last error; returns code. */
int jn_fail(rd_journal *j, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A failed backend call: its RD_E code, with the backend's message, or for a
 * lock wait that ran out (RD_EBUSY) who held the lock and what that means. */
int jn_dberr(rd_journal *j, int rc, const char *what);
/* The cached statement id (prepared on first use), or NULL with *rc set. */
jn_q *jn_stmt(rd_journal *j, int id, int *rc);
/* Reset and clear a statement after use (NULL ok). */
void jn_done(jn_q *s);
void jn_bind_text(jn_q *s, int i, const char *v);
void jn_bind_int(jn_q *s, int i, int64_t v);
void jn_bind_double(jn_q *s, int i, double v);
/* The next row: JN_ROW, JN_DONE or a native error for jn_dberr. */
int jn_next(rd_journal *j, jn_q *s);
const char *jn_col_text(jn_q *s, int col);
int64_t jn_col_int(jn_q *s, int col);
double jn_col_double(jn_q *s, int col);
int64_t jn_changes(rd_journal *j);
/* Step a bound statement that returns no rows, then reset it: 0, or the
 * error (jn_dberr) named what. */
int jn_step(rd_journal *j, jn_q *s, const char *what);
/* Run a cached statement that returns no rows. */
int jn_run(rd_journal *j, int id, const char *what);
/* Begin a write transaction that serialises with every other writer (SQLite
 * BEGIN IMMEDIATE; PostgreSQL a transaction-level advisory lock) -- what
 * names the call in an error: "job 7: retry"; jn_tx_end commits, or rolls
 * back when err < 0, and returns err (or the commit's error). */
int jn_tx_begin(rd_journal *j, const char *what);
int jn_tx_end(rd_journal *j, int err);
void jn_tx_rollback(rd_journal *j);
/* Compact, sorted JSON text; caller frees. */
char *jn_json_text(const json_t *v);
void jn_copy_col(char *dst, size_t len, jn_q *s, int col);
/* RD_EINVAL when v is missing (or empty unless empty_ok), RD_EOVERFLOW when
 * it does not fit max bytes with its NUL. */
int jn_check_text(rd_journal *j, const char *what, const char *v, size_t max, int empty_ok);

/* Room for row n in the array *rowsp (a T ** passed as void *) of *cap
 * elements of size bytes, doubling it when full. 0 or RD_ENOMEM (the array
 * is kept). */
int jn_grow(void *rowsp, size_t n, size_t *cap, size_t size);

/* Rows collected before they are visited: visitors may then call the
 * journal (even the same query) without disturbing the statement. */
typedef struct jn_rows {
  void *rows;         /* n elements of size bytes; free() it */
  size_t n, cap, size;
} jn_rows;
/* Fill one zeroed row from the statement's current row; 0 or RD_E*. */
typedef int (*jn_read_fn)(rd_journal *j, jn_q *s, void *row, int64_t ctx);
/* Step s to its end, appending each row read by read(ctx) to r; then reset
 * s. 0 or the error (r keeps the rows read before it). */
int jn_collect(rd_journal *j, jn_q *s, const char *what, jn_rows *r, jn_read_fn read,
               int64_t ctx);
/* Free rows whose element holds one JSON value (a const json_t *) at byte
 * offset json_at (offsetof): each is released, then the array. */
void jn_rows_free(jn_rows *r, size_t json_at);

/* ---- journal_jobs.c ---- */
/* The state of job id; RD_ENOTFOUND when there is no such job. */
int jn_job_state(rd_journal *j, int64_t id, rd_job_state *st);
/* BEGIN IMMEDIATE, then the state of job id; on an error the transaction is
 * already ended. what: as for jn_tx_begin, after "job <id>: ". */
int jn_tx_begin_job(rd_journal *j, int64_t id, const char *what, rd_job_state *st);

/* ---- journal_kv.c, journal_steps.c: inside the caller's transaction ---- */
int jn_put_kv(rd_journal *j, int64_t id, const char *key, const json_t *value, time_t now);
int jn_put_step(rd_journal *j, int64_t id, const rd_step_record *r, time_t now);

/* ---- journal_lease.c: inside the caller's transaction ---- */
/* 0 while f's owner holds f's lease at f's epoch, else RD_ESTATE. */
int jn_lease_fenced(rd_journal *j, const rd_lease_fence *f);

/* ---- journal_append.c: an audit row inside the caller's transaction ---- */
int jn_put_audit(rd_journal *j, const char *actor, const char *event, const json_t *detail,
                 time_t now);

#endif
