/* journal_sql.c — what every journal_*.c file uses (journal_int.h): the
 * statement calls of the backend, transactions, row collection, error
 * messages and checks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crashpoint.h"
#include "base/err.h"
#include "store/journal_int.h"

const char *const jn_stmt_sql[S_COUNT] = {
#define STMT_SQL(id, sql) sql,
    STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

/* ---- errors ------------------------------------------------------------ */

int jn_fail(rd_journal *j, int code, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(j->msg, sizeof j->msg, "journal %s: %s", j->path, what);
  return code;
}

int jn_dberr(rd_journal *j, int rc, const char *what) { return j->drv->dberr(j, rc, what); }

/* ---- statement helpers ------------------------------------------------- */

jn_q *jn_stmt(rd_journal *j, int id, int *rc) { return j->drv->stmt(j, id, rc); }

void jn_done(jn_q *s) {
  if (s)
    s->drv->done(s);
}

void jn_bind_text(jn_q *s, int i, const char *v) { s->drv->bind_text(s, i, v); }
void jn_bind_int(jn_q *s, int i, int64_t v) { s->drv->bind_int(s, i, v); }
void jn_bind_double(jn_q *s, int i, double v) { s->drv->bind_double(s, i, v); }
int jn_next(rd_journal *j, jn_q *s) { return s->drv->next(j, s); }
const char *jn_col_text(jn_q *s, int col) { return s->drv->col_text(s, col); }
int64_t jn_col_int(jn_q *s, int col) { return s->drv->col_int(s, col); }
double jn_col_double(jn_q *s, int col) { return s->drv->col_double(s, col); }
int64_t jn_changes(rd_journal *j) { return j->drv->changes(j); }

/* Run a cached statement that returns no rows. */
int jn_run(rd_journal *j, int id, const char *what) {
  int rc;
  jn_q *s = jn_stmt(j, id, &rc);
  if (!s)
    return jn_dberr(j, rc, what);
  return jn_step(j, s, what);
}

int jn_step(rd_journal *j, jn_q *s, const char *what) {
  int rc = jn_next(j, s);
  jn_done(s);
  return rc == JN_DONE ? 0 : jn_dberr(j, rc, what);
}

int jn_tx_begin(rd_journal *j, const char *what) {
  int rc = j->drv->begin(j);
  return rc == JN_DONE ? 0 : jn_dberr(j, rc, what);
}

void jn_tx_rollback(rd_journal *j) {
  if (j->drv->in_tx(j)) {
    int rc;
    jn_q *s = jn_stmt(j, S_ROLLBACK, &rc);
    if (s) {
      jn_next(j, s);
      jn_done(s);
    }
  }
}

/* Commit, or roll back when anything before failed (err < 0). */
int jn_tx_end(rd_journal *j, int err) {
  if (err < 0) {
    jn_tx_rollback(j);
    return err;
  }
  err = jn_run(j, S_COMMIT, "commit");
  if (err < 0)
    jn_tx_rollback(j);
  if (err == 0) rd_crashpoint_commit(); /* RENEWD_CRASH_AT=commit:N */
  return err;
}

char *jn_json_text(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

void jn_copy_col(char *dst, size_t len, jn_q *s, int col) {
  const char *t = jn_col_text(s, col);
  snprintf(dst, len, "%s", t ? t : "");
}

int jn_check_text(rd_journal *j, const char *what, const char *v, size_t max, int empty_ok) {
  if (!v || (!empty_ok && !*v))
    return jn_fail(j, RD_EINVAL, "%s: missing", what);
  if (strlen(v) >= max)
    return jn_fail(j, RD_EOVERFLOW, "%s: longer than %zu bytes", what, max - 1);
  return 0;
}

int jn_grow(void *rowsp, size_t n, size_t *cap, size_t size) {
  void *rows, *nr;
  size_t ncap;
  if (n < *cap)
    return 0;
  ncap = *cap ? 2 * *cap : 16;
  memcpy(&rows, rowsp, sizeof rows);
  if (!(nr = realloc(rows, ncap * size)))
    return RD_ENOMEM;
  memcpy(rowsp, &nr, sizeof nr);
  *cap = ncap;
  return 0;
}

void jn_rows_free(jn_rows *r, size_t json_at) {
  for (size_t i = 0; i < r->n; i++) {
    json_t *v;
    memcpy(&v, (char *)r->rows + i * r->size + json_at, sizeof v);
    json_decref(v);
  }
  free(r->rows);
}

int jn_collect(rd_journal *j, jn_q *s, const char *what, jn_rows *r, jn_read_fn read,
               int64_t ctx) {
  int rc, err = 0;
  while ((rc = jn_next(j, s)) == JN_ROW) {
    char *row;
    if (jn_grow(&r->rows, r->n, &r->cap, r->size)) {
      err = jn_fail(j, RD_ENOMEM, "%s: out of memory", what);
      break;
    }
    row = (char *)r->rows + r->n * r->size;
    memset(row, 0, r->size);
    if ((err = read(j, s, row, ctx)) < 0)
      break;
    r->n++;
  }
  jn_done(s);
  if (!err && rc != JN_DONE)
    err = jn_dberr(j, rc, what);
  return err;
}
