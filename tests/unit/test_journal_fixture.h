/* test_journal_fixture.h — what the test_journal*.c programs share: a
 * fresh journal path per test (setup/teardown), raw SQL on the file, and
 * collectors for a job's history and steps. */
#ifndef RENEWD_TEST_JOURNAL_FIXTURE_H
#define RENEWD_TEST_JOURNAL_FIXTURE_H
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/cli.h"
#include "base/err.h"
#include "store/journal.h"
#include "testutil.h"
#include "base/util.h"

/* ---- fixtures ---------------------------------------------------------- */

static char tmpdir[256];
static char dbpath[512];

static inline void rm_db(const char *path) {
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  char p[600];
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
    snprintf(p, sizeof p, "%s%s", path, sfx[i]);
    unlink(p);
  }
}

static inline void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rd-journal-test.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  snprintf(dbpath, sizeof dbpath, "%s/journal.db", tmpdir);
}

static inline void teardown(void) {
  char p[600];
  rm_db(dbpath);
  snprintf(p, sizeof p, "%s/x/y/journal.db", tmpdir);
  rm_db(p);
  snprintf(p, sizeof p, "%s/x/y", tmpdir);
  rmdir(p);
  snprintf(p, sizeof p, "%s/x", tmpdir);
  rmdir(p);
  snprintf(p, sizeof p, "%s/other.db", tmpdir);
  rm_db(p);
  snprintf(p, sizeof p, "%s/file", tmpdir);
  unlink(p);
  rmdir(tmpdir);
}

static inline rd_journal *open_j(void) {
  rd_journal *j = NULL;
  char err[1024] = "";
  int rc = rd_journal_open(dbpath, &j, err, sizeof err);
  ck_assert_msg(rc == 0, "open: %s", err);
  ck_assert_ptr_nonnull(j);
  return j;
}

/* One integer from a raw SQL query on the file. */
static inline long long sql_int(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  long long v = -999;
  ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
                sqlite3_errmsg(db));
  if (sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

/* Run raw SQL; returns the sqlite result code and copies the message. */
static inline int sql_exec(const char *path, const char *sql, char *msg, size_t len) {
  sqlite3 *db = NULL;
  char *e = NULL;
  ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
  if (msg)
    snprintf(msg, len, "%s", e ? e : "");
  sqlite3_free(e);
  sqlite3_close(db);
  return rc;
}

/* ---- collectors -------------------------------------------------------- */

typedef struct {
  int n, cap;
  rd_transition_row *rows;
} history;

static inline int collect_tr(const rd_transition_row *r, void *arg) {
  history *h = arg;
  if (h->n == h->cap) {
    h->cap = h->cap ? 2 * h->cap : 16;
    h->rows = realloc(h->rows, (size_t)h->cap * sizeof *h->rows);
    ck_assert_ptr_nonnull(h->rows);
  }
  h->rows[h->n++] = *r;
  return 0;
}

static inline void history_free(history *h) {
  free(h->rows);
  memset(h, 0, sizeof *h);
}

typedef struct {
  char step[300];
  char to[32];
  int status;
} step_seen;
typedef struct {
  int n, cap;
  step_seen *v;
} steps_seen;

static inline int collect_step(const rd_step_row *r, void *arg) {
  steps_seen *s = arg;
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 16;
    s->v = realloc(s->v, (size_t)s->cap * sizeof *s->v);
    ck_assert_ptr_nonnull(s->v);
  }
  step_seen *e = &s->v[s->n++];
  snprintf(e->step, sizeof e->step, "%s/%s", r->step, r->phase);
  const char *to = r->result ? json_string_value(json_object_get(r->result, "to")) : NULL;
  snprintf(e->to, sizeof e->to, "%s", to ? to : "-");
  e->status = r->status;
  return 0;
}

#endif
