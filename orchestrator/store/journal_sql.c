/* journal_sql.c — the statement cache, transactions and error messages every
 * journal_*.c file uses (journal_int.h).
 *
 * Prepared statements are cached per connection and always reset after use:
 * a SELECT left un-reset would pin a read snapshot (and the WAL) forever. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/crashpoint.h"
#include "base/err.h"
#include "store/journal_int.h"

const char *const jn_stmt_sql[S_COUNT] = {
#define STMT_SQL(id, sql) sql,
    STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

/* ---- errors ------------------------------------------------------------ */

int jn_from_sqlite(int rc) {
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

int jn_fail(rd_journal *j, int code, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(j->msg, sizeof j->msg, "journal %s: %s", j->path, what);
  return code;
}

/* The process holding the WAL write lock of path, or 0 when it cannot be
 * told (no lock, or held by this process: POSIX locks do not conflict with
 * their own process). Best effort: SQLite's unix VFS takes the WAL write lock
 * as an fcntl() lock on byte 120 of the -shm file (os_unix.c UNIX_SHM_BASE). */
static long lock_holder(const char *path) {
  char shm[4096];
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 120, .l_len = 1};
  int fd;
  if (snprintf(shm, sizeof shm, "%s-shm", path) >= (int)sizeof shm)
    return 0;
  if ((fd = open(shm, O_RDONLY | O_CLOEXEC)) < 0)
    return 0;
  if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK || fl.l_pid <= 0)
    fl.l_pid = 0;
  close(fd);
  return (long)fl.l_pid;
}

/* A failed sqlite call: the RD_E code, with sqlite's own message. A lock wait
 * that ran out says who held the lock and what that means for the caller: the
 * wait is bounded (busy_ms) so that the event loop calling us never stalls
 * behind a long transaction of another connection. */
int jn_dberr(rd_journal *j, int rc, const char *what) {
  int code = jn_from_sqlite(rc) ? jn_from_sqlite(rc) : RD_EIO;
  if (code == RD_EBUSY) {
    char who[64] = "another connection";
    long pid = lock_holder(j->path);
    if (pid > 0)
      snprintf(who, sizeof who, "another process (pid %ld)", pid);
    return jn_fail(j, code,
                   "%s: busy: %s held the write lock for longer than %d ms; nothing was "
                   "changed, try again (while a transaction elsewhere keeps this file "
                   "locked, e.g. an open sqlite3 shell, every renewd write fails like this)",
                   what, who, j->busy_ms);
  }
  return jn_fail(j, code, "%s: %s", what, sqlite3_errmsg(j->db));
}

/* ---- statement helpers ------------------------------------------------- */

sqlite3_stmt *jn_stmt(rd_journal *j, int id, int *rc) {
  if (!j->stmt[id]) {
    *rc = sqlite3_prepare_v3(j->db, jn_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                             &j->stmt[id], NULL);
    if (*rc != SQLITE_OK) {
      j->stmt[id] = NULL;
      return NULL;
    }
  }
  *rc = SQLITE_OK;
  return j->stmt[id];
}

void jn_done(sqlite3_stmt *s) {
  if (s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
}

int jn_bind_text(sqlite3_stmt *s, int i, const char *v) {
  return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

/* Run a cached statement that returns no rows. */
int jn_run(rd_journal *j, int id, const char *what) {
  int rc;
  sqlite3_stmt *s = jn_stmt(j, id, &rc);
  if (!s)
    return jn_dberr(j, rc, what);
  return jn_step(j, s, what);
}

int jn_step(rd_journal *j, sqlite3_stmt *s, const char *what) {
  int rc = sqlite3_step(s);
  jn_done(s);
  return rc == SQLITE_DONE ? 0 : jn_dberr(j, rc, what);
}

int jn_tx_begin(rd_journal *j, const char *what) { return jn_run(j, S_BEGIN, what); }

void jn_tx_rollback(rd_journal *j) {
  if (!sqlite3_get_autocommit(j->db)) {
    int rc;
    sqlite3_stmt *s = jn_stmt(j, S_ROLLBACK, &rc);
    if (s) {
      sqlite3_step(s);
      jn_done(s);
    } else {
      sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
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

void jn_copy_col(char *dst, size_t len, sqlite3_stmt *s, int col) {
  const unsigned char *t = sqlite3_column_text(s, col);
  snprintf(dst, len, "%s", t ? (const char *)t : "");
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

int jn_collect(rd_journal *j, sqlite3_stmt *s, const char *what, jn_rows *r, jn_read_fn read,
               int64_t ctx) {
  int rc, err = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
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
  if (!err && rc != SQLITE_DONE)
    err = jn_dberr(j, rc, what);
  return err;
}
