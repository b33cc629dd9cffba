/* pg_int.h — private to store/pg/: the PostgreSQL backend's connection and
 * statements (pg.c) and its migrations (pg_schema.c). */
#ifndef RENEWD_PG_INT_H
#define RENEWD_PG_INT_H
#include <libpq-fe.h>

#include "store/journal_int.h"
#include "store/work.h"

/* "rdJ1", as the SQLite journal's application_id: the advisory lock key
 * every write transaction takes. */
#define JN_PG_WRITE_LOCK_KEY "1919699505"

/* Statement parameters: the most any statement of STMT_MAP binds. */
#define JN_PG_MAXPARAM 12

/* A statement: the jn_q header, its SQL ($N placeholders), its bound
 * parameters (text format, typed) and, while it is being read, its result. */
typedef struct pg_q {
  jn_q q;
  const char *sql;
  int nparam;                       /* highest index bound */
  char *val[JN_PG_MAXPARAM];        /* owned; NULL for SQL NULL */
  Oid type[JN_PG_MAXPARAM];
  PGresult *res;
  int row, nrows;                   /* row: the current row after JN_ROW */
  int oom;                          /* a value could not be copied */
} pg_q;

typedef struct pg_db {
  PGconn *conn;
  char *sql[S_COUNT];               /* jn_stmt_sql with $N placeholders */
  pg_q stmt[S_COUNT];
  int tx;                           /* inside a write transaction */
  int broken;                       /* dropped after no answer: reopen first */
  int work_ready;                   /* pg_work.c's tables are there */
  struct rd_work_listener *async;   /* the work connection, while open (pg_listen.c) */
  int64_t changes;                  /* rows the last command changed */
  char state[6];                    /* SQLSTATE of the last error, "" if none */
  char err[512];                    /* its message, one line */
} pg_db;

/* A connection to j's target (its password as pg.c reads it), connect
 * timeout timeout_s seconds: 0, or the RD_E code with jn_fail's message
 * (*out, possibly not NULL, is then the caller's to PQfinish). */
int jn_pg_connect(rd_journal *j, const char *timeout_s, PGconn **out);
/* One statement with text parameters on j's connection (outside a
 * transaction, a lost connection is opened again first): 0 and *out (the
 * caller's to PQclear), or the RD_E code with the message "what: ...". */
int jn_pg_query(rd_journal *j, const char *what, const char *sql, int n,
                const char *const *vals, PGresult **out);
/* A transaction without the journal's write lock (pg_work.c takes its own
 * locks): BEGIN; end commits, or rolls back when err < 0, and returns err
 * or the commit's error. */
int jn_pg_begin_plain(rd_journal *j, const char *what);
int jn_pg_end_plain(rd_journal *j, int err, const char *what);

/* pg_work.c's statements, shared by its calls on the journal's connection
 * and the asynchronous ones on the work connection (pg_listen.c): the SQL
 * and its text parameters (v points into num and the caller's strings). */
typedef struct jn_pg_call {
  const char *what, *sql;
  int n;
  const char *v[6];
  char num[3][32];
} jn_pg_call;
/* RD_EINVAL when an argument is missing. */
int jn_pg_claim_call(jn_pg_call *c, const char *runbook, const char *owner, int ttl_s, int max,
                     time_t now);
int jn_pg_renew_call(jn_pg_call *c, const char *owner, int ttl_s, time_t now);
/* The jn_driver hook: host's lease was released; the items of host given
 * back for later (its job found it busy) are claimable at once, and their
 * runbooks' instances woken. Nothing before this connection used the work
 * queue. */
void jn_pg_lease_released(rd_journal *j, const char *host);
/* The jn_driver hooks of rd_journal_lease_renew_async and
 * rd_journal_async_cancel, on the work connection (pg_listen.c). */
int jn_pg_lease_renew_async(rd_journal *j, const char *owner, int ttl_s, time_t now,
                            const char *const *hosts, const int64_t *epochs, size_t n,
                            rd_lease_renewed_fn cb, void *arg);
void jn_pg_async_cancel(rd_journal *j, const void *arg);
/* A claim's rows as items (*items: free()); 0 or RD_ENOMEM. */
int jn_pg_claim_rows(const PGresult *res, rd_work_item **items, size_t *n);

extern const char *const jn_pg_migrations[];
extern const int jn_pg_nmigrations;

#endif
