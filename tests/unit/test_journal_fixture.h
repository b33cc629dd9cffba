/* test_journal_fixture.h — what the test_journal*.c programs share: a
 * fresh journal per test (setup/teardown), raw SQL on it, collectors for a
 * job's history and steps, and tu_run_backends(): a suite run once on
 * SQLite and once on a private PostgreSQL server that the program starts
 * itself (tests/e2e/lib/pg.sh) -- jtarget is then its URI, and every test
 * gets an empty schema. */
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

#include <libpq-fe.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "base/err.h"
#include "store/journal.h"
#include "testutil.h"
#include "base/util.h"

/* ---- fixtures ---------------------------------------------------------- */

static char tmpdir[256];
static char dbpath[512];
/* What the tests open: dbpath, or on PostgreSQL the server's URI. */
static char jtarget[600];
static int jpg; /* 1 while the suite runs on PostgreSQL */

static inline int sql_exec(const char *path, const char *sql, char *msg, size_t len);

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
  if (!jpg) {
    snprintf(jtarget, sizeof jtarget, "%s", dbpath);
  } else {
    char msg[512];
    ck_assert_msg(sql_exec(jtarget, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public", msg,
                           sizeof msg) == 0,
                  "reset: %s", msg);
  }
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
  int rc = rd_journal_open(jtarget, &j, err, sizeof err);
  ck_assert_msg(rc == 0, "open: %s", err);
  ck_assert_ptr_nonnull(j);
  return j;
}

/* PostgreSQL: run sql on jtarget; the result (NULL when the connection
 * failed, message in msg). */
static inline PGresult *pg_exec(const char *sql, char *msg, size_t len) {
  PGconn *c = PQconnectdb(jtarget);
  PGresult *r = NULL;
  if (PQstatus(c) == CONNECTION_OK)
    r = PQexec(c, sql);
  if (msg) {
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(msg, len, "%s", m ? m : r ? PQresultErrorMessage(r) : PQerrorMessage(c));
  }
  PQfinish(c);
  return r;
}

/* One integer from a raw SQL query on the journal (-999: no row). */
static inline long long sql_int(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  long long v = -999;
  if (jpg) {
    char msg[512];
    PGresult *r = pg_exec(sql, msg, sizeof msg);
    ck_assert_msg(r && PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, msg);
    if (PQntuples(r) > 0)
      v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
  }
  ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
                sqlite3_errmsg(db));
  if (sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

/* Run raw SQL; returns the sqlite result code (on PostgreSQL: SQLITE_OK,
 * SQLITE_CONSTRAINT for an integrity violation, else SQLITE_ERROR) and
 * copies the message. */
static inline int sql_exec(const char *path, const char *sql, char *msg, size_t len) {
  sqlite3 *db = NULL;
  char *e = NULL;
  if (jpg) {
    PGresult *r = pg_exec(sql, msg, len);
    ExecStatusType st = PQresultStatus(r);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? SQLITE_OK
             : state && !strncmp(state, "23", 2)                   ? SQLITE_CONSTRAINT
                                                                   : SQLITE_ERROR;
    PQclear(r);
    return rc;
  }
  ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
  if (msg)
    snprintf(msg, len, "%s", e ? e : "");
  sqlite3_free(e);
  sqlite3_close(db);
  return rc;
}

/* Run the suite make(0) on SQLite, then start a private PostgreSQL server
 * (tests/e2e/lib/pg.sh, as `nobody` when root) and run make(1) on it. 77
 * when the server cannot start: check.sh counts that as a failure. */
static inline int tu_run_backends(Suite *(*make)(int pg)) {
  char dir[64] = "/tmp/rd-jpg.XXXXXX", cmd[1024], uri[600] = "";
  int rc = tu_run(make(0)), rc2;
  FILE *f;
  if (!mkdtemp(dir))
    return 77;
  snprintf(cmd, sizeof cmd, "bash '%s/tests/e2e/lib/pg.sh' start '%s'", SOURCE_DIR, dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "cannot start a PostgreSQL server for the journal tests\n");
    rmdir(dir);
    return 77;
  }
  snprintf(cmd, sizeof cmd, "%s/uri", dir);
  if ((f = fopen(cmd, "r"))) {
    if (!fgets(uri, sizeof uri, f))
      uri[0] = '\0';
    fclose(f);
  }
  uri[strcspn(uri, "\n")] = '\0';
  snprintf(jtarget, sizeof jtarget, "%s", uri);
  jpg = 1;
  rc2 = uri[0] ? tu_run(make(1)) : 77;
  jpg = 0;
  snprintf(cmd, sizeof cmd, "bash '%s/tests/e2e/lib/pg.sh' stop '%s'", SOURCE_DIR, dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not stop the PostgreSQL server in %s\n", dir);
  return rc != EXIT_SUCCESS ? rc : rc2;
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
