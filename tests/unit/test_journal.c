/* test_journal.c — the SQLite journal: schema and migration, jobs and their
 * transitions, kv, steps, audit (append-only), alerts, and crash safety: a
 * child hammering the journal is SIGKILLed at random points and the journal
 * must come back whole. */
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

static void rm_db(const char *path) {
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  char p[600];
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
    snprintf(p, sizeof p, "%s%s", path, sfx[i]);
    unlink(p);
  }
}

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rd-journal-test.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  snprintf(dbpath, sizeof dbpath, "%s/journal.db", tmpdir);
}

static void teardown(void) {
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

static rd_journal *open_j(void) {
  rd_journal *j = NULL;
  char err[1024] = "";
  int rc = rd_journal_open(dbpath, &j, err, sizeof err);
  ck_assert_msg(rc == 0, "open: %s", err);
  ck_assert_ptr_nonnull(j);
  return j;
}

/* One integer from a raw SQL query on the file. */
static long long sql_int(const char *path, const char *sql) {
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
static int sql_exec(const char *path, const char *sql, char *msg, size_t len) {
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

/* ---- open, schema, migration ------------------------------------------- */

START_TEST(open_creates_and_migrates) {
  char path[600], err[1024] = "";
  struct stat st;
  rd_journal *j = NULL;
  snprintf(path, sizeof path, "%s/x/y/journal.db", tmpdir);
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), 0);
  ck_assert_str_eq(rd_journal_path(j), path);
  rd_journal_close(j);
  /* Parents created 0700, the file 0600. */
  snprintf(err, sizeof err, "%s/x", tmpdir);
  ck_assert_int_eq(stat(err, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0700);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0600);
  ck_assert_int_eq(sql_int(path, "PRAGMA user_version"), RD_JOURNAL_SCHEMA_VERSION);
  ck_assert_int_eq(sql_int(path, "PRAGMA application_id"), 0x72644a31);
  ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                                 " AND name IN ('jobs','transitions','steps','kv',"
                                 "'inventory','audit','alerts')"),
                   7);
  ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"),
                   2);
  /* WAL is a property of the file. */
  {
    sqlite3 *db;
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  /* Reopen: nothing to migrate, data kept. */
  int64_t id, id2;
  int created;
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "/etc/c.pem", &id, &created), 0);
  ck_assert_int_eq(created, 1);
  rd_journal_close(j);
  ck_assert_int_eq(rd_journal_open_ex(path, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "/etc/c.pem", &id2, &created), 0);
  ck_assert_int_eq(created, 0);
  ck_assert_int_eq(id2, id);
  rd_journal_close(j);
  rd_journal_close(NULL);
}
END_TEST

START_TEST(open_refusals) {
  char path[600], err[1024] = "";
  rd_journal *j = (rd_journal *)1;
  /* Missing, when it must exist. */
  ck_assert_int_eq(rd_journal_open_ex(dbpath, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err),
                   RD_ENOTFOUND);
  ck_assert_ptr_null(j);
  snprintf(path, sizeof path, "journal %s: not found", dbpath);
  ck_assert_str_eq(err, path);
  ck_assert_int_ne(access(dbpath, F_OK), 0);
  /* A newer schema than this build knows. */
  j = open_j();
  rd_journal_close(j);
  ck_assert_int_eq(sql_exec(dbpath, "PRAGMA user_version = 7", NULL, 0), SQLITE_OK);
  ck_assert_int_eq(rd_journal_open(dbpath, &j, err, sizeof err), RD_EPROTO);
  ck_assert_msg(strstr(err, "schema version 7 is newer"), "%s", err);
  ck_assert_msg(!strncmp(err, "journal /tmp/", 13), "%s", err);
  /* Someone else's database. */
  snprintf(path, sizeof path, "%s/other.db", tmpdir);
  {
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  }
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), RD_EPROTO);
  ck_assert_msg(strstr(err, "not a renewd journal"), "%s", err);
  /* Not a database at all. */
  snprintf(path, sizeof path, "%s/file", tmpdir);
  {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
      fputs("this is not a database, just text\n", f);
    fclose(f);
  }
  ck_assert_int_lt(rd_journal_open(path, &j, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "not a database"), "%s", err);
  /* A parent that is a file. */
  snprintf(path, sizeof path, "%s/file/journal.db", tmpdir);
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), RD_EIO);
  ck_assert_msg(strstr(err, "Not a directory") || strstr(err, "not a directory"), "%s", err);
  ck_assert_int_eq(rd_journal_open("", &j, err, sizeof err), RD_EINVAL);
}
END_TEST

START_TEST(default_path) {
  char *old = getenv("RENEWD_JOURNAL") ? strdup(getenv("RENEWD_JOURNAL")) : NULL;
  unsetenv("RENEWD_JOURNAL");
  ck_assert_str_eq(rd_journal_default_path(), "/var/lib/renewd/journal.db");
  setenv("RENEWD_JOURNAL", "", 1);
  ck_assert_str_eq(rd_journal_default_path(), "/var/lib/renewd/journal.db");
  setenv("RENEWD_JOURNAL", dbpath, 1);
  ck_assert_str_eq(rd_journal_default_path(), dbpath);
  rd_journal *j = NULL;
  char err[256];
  ck_assert_int_eq(rd_journal_open(NULL, &j, err, sizeof err), 0);
  ck_assert_str_eq(rd_journal_path(j), dbpath);
  rd_journal_close(j);
  if (old)
    setenv("RENEWD_JOURNAL", old, 1);
  else
    unsetenv("RENEWD_JOURNAL");
  free(old);
}
END_TEST

/* ---- jobs -------------------------------------------------------------- */

START_TEST(job_open_active_then_new) {
  rd_journal *j = open_j();
  int64_t a, b, c, d;
  int created = -1;
  rd_job_row row;
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/web.pem", &a, &created), 0);
  ck_assert_int_eq(created, 1);
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/web.pem", &b, &created), 0);
  ck_assert_int_eq(created, 0);
  ck_assert_int_eq(a, b);
  /* Another cert or host: another job. */
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/api.pem", &c, &created), 0);
  ck_assert_int_eq(created, 1);
  ck_assert_int_ne(c, a);
  ck_assert_int_eq(rd_journal_job_get(j, a, &row), 0);
  ck_assert_int_eq(row.id, a);
  ck_assert_str_eq(row.runbook, "nginx");
  ck_assert_str_eq(row.host, "web1");
  ck_assert_str_eq(row.cert, "/etc/ssl/web.pem");
  ck_assert_int_eq(row.state, RD_JOB_DUE);
  ck_assert_int_eq(row.attempts, 0);
  ck_assert_int_eq(row.next_try, 0);
  ck_assert_str_eq(row.error, "");
  ck_assert(row.created > 0 && row.updated >= row.created);
  /* After a terminal state: a new job. */
  ck_assert_int_eq(rd_journal_job_set_state(j, a, RD_JOB_FAILED, "web1: ssh: timed out"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/web.pem", &d, &created), 0);
  ck_assert_int_eq(created, 1);
  ck_assert(d > a);
  ck_assert_int_eq(rd_journal_job_last(j, "web1", "/etc/ssl/web.pem", &row), 0);
  ck_assert_int_eq(row.id, d);
  ck_assert_int_eq(rd_journal_job_last(j, "web9", "/x", &row), RD_ENOTFOUND);
  ck_assert_int_eq(rd_journal_job_get(j, 9999, &row), RD_ENOTFOUND);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "job 9999: not found"), "%s", rd_journal_errmsg(j));
  /* The partial unique index refuses a second active row, even from raw SQL. */
  rd_journal_close(j);
  char msg[256];
  ck_assert_int_eq(sql_exec(dbpath,
                            "INSERT INTO jobs(runbook, host, cert, state, terminal, created,"
                            " updated) VALUES ('x', 'web1', '/etc/ssl/web.pem', 'DUE', 0, 1, 1)",
                            msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  /* ...but any number of ended ones. */
  ck_assert_int_eq(sql_exec(dbpath,
                            "INSERT INTO jobs(runbook, host, cert, state, terminal, created,"
                            " updated) VALUES ('x', 'web1', '/etc/ssl/web.pem', 'DONE', 1, 1, 1)",
                            msg, sizeof msg),
                   SQLITE_OK);
  j = open_j();
  /* Bad input. */
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "", "/c", &a, &created), RD_EINVAL);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", NULL, &a, &created), RD_EINVAL);
  char longhost[400];
  memset(longhost, 'h', sizeof longhost - 1);
  longhost[sizeof longhost - 1] = '\0';
  ck_assert_int_eq(rd_journal_job_open(j, "rb", longhost, "/c", &a, &created), RD_EOVERFLOW);
  rd_journal_close(j);
}
END_TEST

typedef struct {
  int n, cap;
  rd_transition_row *rows;
} history;

static int collect_tr(const rd_transition_row *r, void *arg) {
  history *h = arg;
  if (h->n == h->cap) {
    h->cap = h->cap ? 2 * h->cap : 16;
    h->rows = realloc(h->rows, (size_t)h->cap * sizeof *h->rows);
    ck_assert_ptr_nonnull(h->rows);
  }
  h->rows[h->n++] = *r;
  return 0;
}

static void history_free(history *h) {
  free(h->rows);
  memset(h, 0, sizeof *h);
}

START_TEST(transitions_checked) {
  rd_journal *j = open_j();
  int64_t id;
  rd_job_row row;
  history h = {0};
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  /* Illegal: nothing changes, RD_ESTATE with a sentence. */
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_INSTALLED, NULL), RD_ESTATE);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "DUE -> INSTALLED is not a legal transition"),
                "%s", rd_journal_errmsg(j));
  ck_assert_msg(!strncmp(rd_journal_errmsg(j), "journal ", 8), "%s", rd_journal_errmsg(j));
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_DUE, NULL), RD_ESTATE);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, (rd_job_state)99, NULL), RD_EINVAL);
  ck_assert_int_eq(rd_journal_job_set_state(j, 4242, RD_JOB_PROBED, NULL), RD_ENOTFOUND);
  /* The whole forward path, with a transient retry on the way. */
  static const rd_job_state path[] = {RD_JOB_PROBED,    RD_JOB_KEY_READY, RD_JOB_REQUESTED,
                                      RD_JOB_PENDING_CA, RD_JOB_REQUESTED, RD_JOB_ISSUED,
                                      RD_JOB_INSTALLED, RD_JOB_FOLLOWUPS, RD_JOB_VERIFIED,
                                      RD_JOB_DONE};
  for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
    ck_assert_int_eq(rd_journal_job_set_state(j, id, path[i], NULL), 0);
    if (path[i] == RD_JOB_PENDING_CA) {
      ck_assert_int_eq(rd_journal_job_retry(j, id, "ca: pending", 1700000000), 0);
      ck_assert_int_eq(rd_journal_job_retry(j, id, "ca: still pending", 1700000600), 0);
      ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
      ck_assert_int_eq(row.attempts, 2);
      ck_assert_int_eq(row.next_try, 1700000600);
      ck_assert_str_eq(row.error, "ca: still pending");
      ck_assert_int_eq(row.state, RD_JOB_PENDING_CA);
    }
  }
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_DONE);
  ck_assert_str_eq(row.error, ""); /* a transition without error clears it */
  ck_assert_int_eq(row.next_try, 0);
  ck_assert_int_eq(row.attempts, 2);
  /* Ended: nothing moves it any more. */
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_FAILED, "late"), RD_ESTATE);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "(the job has ended)"), "%s", rd_journal_errmsg(j));
  ck_assert_int_eq(rd_journal_job_retry(j, id, "x", 0), RD_ESTATE);
  /* next_try is allowed on ended jobs (backoff before the next job). */
  ck_assert_int_eq(rd_journal_job_set_next_try(j, id, 1800000000), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.next_try, 1800000000);
  /* A backoff set before a transition: cleared when the job moves on,
   * kept when it ends (the engine's "set next_try, then FAILED"). */
  int64_t id2;
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id2, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_next_try(j, id2, 1700000000), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id2, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id2, &row), 0);
  ck_assert_int_eq(row.next_try, 0);
  ck_assert_int_eq(rd_journal_job_set_next_try(j, id2, 1700000001), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id2, RD_JOB_FAILED, "ssh: timed out"), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id2, &row), 0);
  ck_assert_int_eq(row.next_try, 1700000001);
  ck_assert_int_eq(rd_journal_job_set_next_try(j, 4242, 1), RD_ENOTFOUND);
  /* The history. */
  ck_assert_int_eq(rd_journal_transitions(j, id, collect_tr, &h), 0);
  ck_assert_int_eq(h.n, 11);
  ck_assert_int_eq(h.rows[0].from, -1);
  ck_assert_int_eq(h.rows[0].to, RD_JOB_DUE);
  ck_assert_str_eq(h.rows[0].kind, "create");
  for (int i = 1; i < h.n; i++) {
    ck_assert_int_eq(h.rows[i].from, h.rows[i - 1].to);
    ck_assert_int_eq(h.rows[i].to, path[i - 1]);
    ck_assert_str_eq(h.rows[i].kind, "transition");
  }
  history_free(&h);
  rd_journal_close(j);
}
END_TEST

START_TEST(resume_and_failures) {
  rd_journal *j = open_j();
  int64_t id;
  rd_job_state st;
  history h = {0};
  int n = -1;
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_KEY_READY, NULL), 0);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0);
  ck_assert_int_eq(st, RD_JOB_PROBED);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0); /* idempotent */
  ck_assert_int_eq(st, RD_JOB_PROBED);
  ck_assert_int_eq(rd_journal_transitions(j, id, collect_tr, &h), 0);
  ck_assert_int_eq(h.n, 4);
  ck_assert_str_eq(h.rows[3].kind, "resume");
  ck_assert_int_eq(h.rows[3].from, RD_JOB_KEY_READY);
  ck_assert_int_eq(h.rows[3].to, RD_JOB_PROBED);
  history_free(&h);
  /* PROBED -> REQUESTED: the key found again is reused. */
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_REQUESTED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0);
  ck_assert_int_eq(st, RD_JOB_REQUESTED);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_FAILED, "ca: denied"), 0);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0);
  ck_assert_int_eq(st, RD_JOB_FAILED);
  ck_assert_int_eq(rd_journal_job_resume(j, 31337, &st), RD_ENOTFOUND);
  /* Failure streaks: FAILED, ROLLED_BACK count; DONE ends the streak. */
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_REQUESTED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_ISSUED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_ROLLING_BACK, "install failed"), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_ROLLED_BACK, NULL), 0);
  /* An active job does not interrupt the count. */
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_DONE, NULL), 0);
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 0);
  rd_journal_close(j);
}
END_TEST

/* ---- kv, steps, advance ------------------------------------------------ */

START_TEST(kv_roundtrip) {
  rd_journal *j = open_j();
  int64_t id;
  json_t *v = NULL, *obj = json_pack("{s:s, s:i, s:[b, n]}", "tid", "A1B2", "n", 7, "l", 1);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.tid", &v), RD_ENOTFOUND);
  ck_assert_ptr_null(v);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "scep.tid", obj), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.tid", &v), 0);
  ck_assert(json_equal(v, obj));
  json_decref(v);
  /* Scalars, overwrite, unicode. */
  json_t *s = json_string("Zertifikat für ÄÖÜ \"quoted\" \\ back");
  ck_assert_int_eq(rd_journal_kv_put(j, id, "scep.tid", s), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.tid", &v), 0);
  ck_assert(json_equal(v, s));
  json_decref(v);
  json_decref(s);
  s = json_integer(-123456789012LL);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "n", s), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "n", &v), 0);
  ck_assert_int_eq(json_integer_value(v), -123456789012LL);
  json_decref(v);
  json_decref(s);
  /* Survives reopening. */
  rd_journal_close(j);
  j = open_j();
  ck_assert_int_eq(rd_journal_kv_get(j, id, "n", &v), 0);
  json_decref(v);
  /* Delete. */
  ck_assert_int_eq(rd_journal_kv_put(j, id, "n", NULL), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "n", &v), RD_ENOTFOUND);
  /* No such job, no key. */
  ck_assert_int_eq(rd_journal_kv_put(j, 777, "k", obj), RD_ENOTFOUND);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "", obj), RD_EINVAL);
  json_decref(obj);
  rd_journal_close(j);
}
END_TEST

typedef struct {
  char step[300];
  char to[32];
  int status;
} step_seen;
typedef struct {
  int n, cap;
  step_seen *v;
} steps_seen;

static int collect_step(const rd_step_row *r, void *arg) {
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

START_TEST(advance_is_atomic) {
  rd_journal *j = open_j();
  int64_t id;
  json_t *v = NULL, *kv = json_pack("{s:s, s:n}", "tid", "T-1", "gone", 0);
  json_t *res = json_pack("{s:s}", "to", "PROBED");
  rd_step_record step = {.step = "posix.inventory", .phase = "probe", .status = 0, .ms = 12.5,
                         .result = res, .message = "found 1 certificate"};
  rd_job_advance a = {.to = RD_JOB_PROBED, .kv = kv, .step = &step};
  steps_seen seen = {0};
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "gone", json_true()), 0);
  ck_assert_int_eq(rd_journal_job_advance(j, id, &a), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "tid", &v), 0);
  ck_assert_str_eq(json_string_value(v), "T-1");
  json_decref(v);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "gone", &v), RD_ENOTFOUND); /* null deletes */
  ck_assert_int_eq(rd_journal_steps(j, id, collect_step, &seen), 0);
  ck_assert_int_eq(seen.n, 1);
  ck_assert_str_eq(seen.v[0].step, "posix.inventory/probe");
  ck_assert_str_eq(seen.v[0].to, "PROBED");
  /* An illegal advance writes none of its parts. */
  json_t *kv2 = json_pack("{s:s}", "tid", "T-2");
  rd_job_advance bad = {.to = RD_JOB_DONE + 0, .kv = kv2, .step = &step};
  bad.to = RD_JOB_ISSUED; /* PROBED -> ISSUED is illegal */
  ck_assert_int_eq(rd_journal_job_advance(j, id, &bad), RD_ESTATE);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "tid", &v), 0);
  ck_assert_str_eq(json_string_value(v), "T-1");
  json_decref(v);
  seen.n = 0;
  ck_assert_int_eq(rd_journal_steps(j, id, collect_step, &seen), 0);
  ck_assert_int_eq(seen.n, 1);
  /* A step record that fails validation rolls the transition back. */
  rd_step_record nostep = {.step = "", .phase = "apply"};
  rd_job_advance bad2 = {.to = RD_JOB_KEY_READY, .kv = kv2, .step = &nostep};
  ck_assert_int_eq(rd_journal_job_advance(j, id, &bad2), RD_EINVAL);
  rd_job_row row;
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_PROBED);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "tid", &v), 0);
  ck_assert_str_eq(json_string_value(v), "T-1");
  json_decref(v);
  /* kv must be an object. */
  rd_job_advance bad3 = {.to = RD_JOB_KEY_READY, .kv = res};
  json_t *arr = json_array();
  bad3.kv = arr;
  ck_assert_int_eq(rd_journal_job_advance(j, id, &bad3), RD_EINVAL);
  json_decref(arr);
  /* FAILED with its backoff, in one go. */
  rd_job_advance fail = {.to = RD_JOB_FAILED, .error = "ca: denied", .next_try = 1900000000};
  ck_assert_int_eq(rd_journal_job_advance(j, id, &fail), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_FAILED);
  ck_assert_int_eq(row.next_try, 1900000000);
  ck_assert_str_eq(row.error, "ca: denied");
  /* Plain step records. */
  rd_step_record r2 = {.step = "posix.install", .phase = "rollback", .status = RD_EREMOTE};
  ck_assert_int_eq(rd_journal_step(j, id, &r2), 0);
  ck_assert_int_eq(rd_journal_step(j, 5555, &r2), RD_ENOTFOUND);
  seen.n = 0;
  ck_assert_int_eq(rd_journal_steps(j, id, collect_step, &seen), 0);
  ck_assert_int_eq(seen.n, 2);
  ck_assert_str_eq(seen.v[1].step, "posix.install/rollback");
  ck_assert_str_eq(seen.v[1].to, "-");
  ck_assert_int_eq(seen.v[1].status, RD_EREMOTE);
  free(seen.v);
  json_decref(kv);
  json_decref(kv2);
  json_decref(res);
  rd_journal_close(j);
}
END_TEST

/* ---- listing ----------------------------------------------------------- */

typedef struct {
  rd_journal *j;
  int n;
  int64_t ids[32];
  int stop_at;
} listing;

static int collect_job(const rd_job_row *r, void *arg) {
  listing *l = arg;
  rd_job_row again;
  /* Re-entrant use of the journal from inside the walk. */
  ck_assert_int_eq(rd_journal_job_get(l->j, r->id, &again), 0);
  ck_assert_int_eq(again.state, r->state);
  if (l->n < 32)
    l->ids[l->n] = r->id;
  l->n++;
  return l->stop_at && l->n == l->stop_at ? 42 : 0;
}

START_TEST(listing_jobs) {
  rd_journal *j = open_j();
  int64_t a, b, c, d;
  listing l = {.j = j};
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h2", "c", &a, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, a, RD_JOB_FAILED, "x"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h2", "c", &b, NULL), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "c", &c, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, c, RD_JOB_NEEDS_OPERATOR, "expired"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h3", "c", &d, NULL), 0);
  ck_assert_int_eq(rd_journal_jobs(j, 0, 0, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 4);
  ck_assert(l.ids[0] == d && l.ids[1] == c && l.ids[2] == b && l.ids[3] == a);
  l.n = 0;
  ck_assert_int_eq(rd_journal_jobs(j, 1, 0, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 2);
  ck_assert(l.ids[0] == d && l.ids[1] == b);
  l.n = 0;
  ck_assert_int_eq(rd_journal_jobs(j, 0, 3, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 3);
  l.n = 0;
  ck_assert_int_eq(rd_journal_jobs_latest(j, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 3); /* h1, h2 (newest only), h3 */
  ck_assert(l.ids[0] == c && l.ids[1] == b && l.ids[2] == d);
  l.n = 0;
  l.stop_at = 2;
  ck_assert_int_eq(rd_journal_jobs(j, 0, 0, collect_job, &l), 42);
  ck_assert_int_eq(l.n, 2);
  rd_journal_close(j);
}
END_TEST

/* Two handles (as two processes would have): one active job, not two. */
START_TEST(two_handles) {
  rd_journal *j1 = open_j(), *j2 = open_j();
  int64_t a, b;
  int c1, c2;
  ck_assert_int_eq(rd_journal_job_open(j1, "rb", "h", "c", &a, &c1), 0);
  ck_assert_int_eq(rd_journal_job_open(j2, "rb", "h", "c", &b, &c2), 0);
  ck_assert_int_eq(a, b);
  ck_assert(c1 == 1 && c2 == 0);
  ck_assert_int_eq(rd_journal_job_set_state(j2, a, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j1, a, RD_JOB_PROBED, NULL), RD_ESTATE);
  ck_assert_int_eq(rd_journal_job_set_state(j1, a, RD_JOB_KEY_READY, NULL), 0);
  rd_journal_close(j1);
  rd_journal_close(j2);
}
END_TEST

/* ---- audit, alerts, inventory ------------------------------------------ */

START_TEST(audit_append_only) {
  rd_journal *j = open_j();
  json_t *d = json_pack("{s:s}", "host", "web1");
  char msg[256];
  ck_assert_int_eq(rd_journal_audit(j, "operator:alice", "hosts.trust", d), 0);
  ck_assert_int_eq(rd_journal_audit(j, "renewd", "run.start", NULL), 0);
  ck_assert_int_eq(rd_journal_audit(j, "", "x", NULL), RD_EINVAL);
  json_decref(d);
  rd_journal_close(j);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit"), 2);
  ck_assert_int_eq(sql_exec(dbpath, "UPDATE audit SET actor = 'mallory'", msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  ck_assert_str_eq(msg, "audit is append-only");
  ck_assert_int_eq(sql_exec(dbpath, "DELETE FROM audit", msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  ck_assert_str_eq(msg, "audit is append-only");
  ck_assert_int_eq(sql_exec(dbpath, "DELETE FROM audit WHERE id = 1", msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit WHERE actor = 'operator:alice'"
                                   " AND event = 'hosts.trust' AND detail = '{\"host\":\"web1\"}'"),
                   1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit"), 2);
}
END_TEST

START_TEST(alert_once) {
  rd_journal *j = open_j();
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web1:/etc/c.pem:2024-05-01"), 0);
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web1:/etc/c.pem:2024-05-01"), 1);
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web2:/etc/c.pem:2024-05-01"), 0);
  rd_journal_close(j);
  j = open_j();
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web1:/etc/c.pem:2024-05-01"), 1);
  ck_assert_int_eq(rd_journal_alert_once(j, ""), RD_EINVAL);
  ck_assert_int_eq(rd_journal_alert_once(j, NULL), RD_EINVAL);
  rd_journal_close(j);
}
END_TEST

START_TEST(inventory_snapshots) {
  rd_journal *j = open_j();
  json_t *f = json_pack("{s:[{s:s}]}", "certs", "path", "/etc/ssl/a.pem");
  ck_assert_int_eq(rd_journal_inventory(j, "web1", f), 0);
  ck_assert_int_eq(rd_journal_inventory(j, "web1", f), 0);
  ck_assert_int_eq(rd_journal_inventory(j, "web1", NULL), RD_EINVAL);
  json_decref(f);
  rd_journal_close(j);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM inventory WHERE host = 'web1'"
                                   " AND facts = '{\"certs\":[{\"path\":\"/etc/ssl/a.pem\"}]}'"),
                   2);
}
END_TEST

/* ---- renewd status ------------------------------------------------------ */

/* Run cmd_status with stdout and stderr captured (caller frees both). */
static int run_status(char **argv, int argc, char **out, char **errout) {
  char po[600], pe[600];
  int so = dup(1), se = dup(2), rc;
  snprintf(po, sizeof po, "%s/out", tmpdir);
  snprintf(pe, sizeof pe, "%s/err", tmpdir);
  fflush(stdout);
  fflush(stderr);
  int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert(fo >= 0 && fe >= 0 && so >= 0 && se >= 0);
  dup2(fo, 1);
  dup2(fe, 2);
  rc = cmd_status(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so);
  close(se);
  close(fo);
  close(fe);
  size_t n;
  ck_assert_int_eq(rd_read_file(po, 1 << 20, out, &n), 0);
  ck_assert_int_eq(rd_read_file(pe, 1 << 20, errout, &n), 0);
  unlink(po);
  unlink(pe);
  return rc;
}

START_TEST(status_command) {
  rd_journal *j = open_j();
  int64_t a, b, c;
  char *out = NULL, *err = NULL;
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web01", "/etc/ssl/web.pem", &a, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, a, RD_JOB_FAILED, "web01: ssh:\nrefused"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web01", "/etc/ssl/web.pem", &b, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, b, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "iis", "win02", "LocalMachine\\My\\3F2A", &c, NULL),
                   0);
  ck_assert_int_eq(rd_journal_job_set_state(j, c, RD_JOB_NEEDS_OPERATOR, "expired"), 0);
  rd_journal_close(j);

  char *argv1[] = {"status", "--journal", dbpath, NULL};
  ck_assert_int_eq(run_status(argv1, 3, &out, &err), RD_EXIT_OK);
  ck_assert_msg(!strncmp(out, "ID  HOST ", 9), "%s", out);
  ck_assert_msg(strstr(out, "PROBED") && strstr(out, "NEEDS_OPERATOR"), "%s", out);
  ck_assert_msg(!strstr(out, "FAILED"), "newest job per certificate only:\n%s", out);
  ck_assert_msg(strstr(out, "2 certificates: 1 active, 0 failed, 1 needs an operator"), "%s",
                out);
  free(out);
  free(err);

  char *argv2[] = {"status", "--all", "--journal=", dbpath, NULL};
  char opt[600];
  snprintf(opt, sizeof opt, "--journal=%s", dbpath);
  argv2[2] = opt;
  ck_assert_int_eq(run_status(argv2, 3, &out, &err), RD_EXIT_OK);
  ck_assert_msg(strstr(out, "FAILED") && strstr(out, "web01: ssh: refused"), "%s", out);
  ck_assert_msg(strstr(out, "3 jobs: 1 active, 1 failed, 1 needs an operator"), "%s", out);
  free(out);
  free(err);

  char *argv3[] = {"status", "--json", "--all", "--journal", dbpath, NULL};
  ck_assert_int_eq(run_status(argv3, 5, &out, &err), RD_EXIT_OK);
  json_error_t jerr;
  json_t *doc = json_loads(out, 0, &jerr);
  ck_assert_msg(doc != NULL, "%s: %s", jerr.text, out);
  json_t *jobs = json_object_get(doc, "jobs");
  ck_assert_int_eq(json_array_size(jobs), 3);
  json_t *first = json_array_get(jobs, 0);
  ck_assert_str_eq(json_string_value(json_object_get(first, "state")), "NEEDS_OPERATOR");
  ck_assert_str_eq(json_string_value(json_object_get(first, "cert")), "LocalMachine\\My\\3F2A");
  ck_assert(json_is_true(json_object_get(first, "terminal")));
  ck_assert(json_is_null(json_object_get(first, "next_try")));
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(jobs, 2), "error")),
                   "web01: ssh:\nrefused");
  json_decref(doc);
  free(out);
  free(err);

  /* Usage errors and a missing journal (which status never creates). */
  char *argv4[] = {"status", "--bogus", NULL};
  ck_assert_int_eq(run_status(argv4, 2, &out, &err), RD_EXIT_USAGE);
  ck_assert_msg(strstr(err, "unknown argument '--bogus'"), "%s", err);
  free(out);
  free(err);
  char *argv5[] = {"status", "--journal", NULL};
  ck_assert_int_eq(run_status(argv5, 2, &out, &err), RD_EXIT_USAGE);
  free(out);
  free(err);
  char missing[600];
  snprintf(missing, sizeof missing, "%s/none.db", tmpdir);
  char *argv6[] = {"status", "--journal", missing, NULL};
  ck_assert_int_eq(run_status(argv6, 3, &out, &err), RD_EXIT_FAILED);
  ck_assert_msg(strstr(err, "journal ") && strstr(err, "none.db: not found"), "%s", err);
  ck_assert_int_ne(access(missing, F_OK), 0);
  free(out);
  free(err);
}
END_TEST

/* ---- crash safety ------------------------------------------------------ */

/* The child reports every commit AFTER it returned: (job, index in the
 * job's history, state). 16 bytes < PIPE_BUF, so a write is all or nothing
 * even when SIGKILL lands in it. */
typedef struct {
  int64_t job;
  int32_t seq;
  int32_t state; /* < 0: the child hit an error (its code) */
} crash_ev;

static uint64_t rnd_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void report(int fd, int64_t job, int seq, int state) {
  crash_ev ev = {job, seq, state};
  if (write(fd, &ev, sizeof ev) != (ssize_t)sizeof ev)
    _exit(4);
}

static int count_tr(const rd_transition_row *r, void *arg) {
  (void)r;
  (*(int *)arg)++;
  return 0;
}

/* Never returns. Even jobs go through rd_journal_job_advance (transition +
 * step + kv in one transaction), odd ones through plain set_state; KEY_READY
 * is sometimes resumed (a rewind). */
static void crash_child(int fd, uint64_t seed) {
  rd_journal *j = NULL;
  char err[512];
  int rc;
  if ((rc = rd_journal_open(dbpath, &j, err, sizeof err)) < 0) {
    report(fd, -1, 0, rc);
    _exit(3);
  }
  for (int iter = 0; iter < 200000; iter++) {
    char host[16], cert[16];
    int64_t id;
    int created, nhist = 0;
    rd_job_row row;
    snprintf(host, sizeof host, "h%d", (int)(rnd_next(&seed) % 5));
    snprintf(cert, sizeof cert, "c%d", (int)(rnd_next(&seed) % 3));
    if ((rc = rd_journal_job_open(j, "crash", host, cert, &id, &created)) < 0)
      goto fail;
    if (created)
      report(fd, id, 0, RD_JOB_DUE);
    if ((rc = rd_journal_transitions(j, id, count_tr, &nhist)) < 0 ||
        (rc = rd_journal_job_get(j, id, &row)) < 0)
      goto fail;
    /* A few moves on this job, then another job: several stay active. */
    int moves = 1 + (int)(rnd_next(&seed) % 3);
    for (int m = 0; m < moves && !rd_job_state_terminal(row.state); m++) {
      rd_job_state next[4 * RD_JOB_NSTATES];
      int nn = 0;
      if (row.state == RD_JOB_KEY_READY && rnd_next(&seed) % 4 == 0) {
        rd_job_state st;
        if ((rc = rd_journal_job_resume(j, id, &st)) < 0)
          goto fail;
        report(fd, id, nhist++, (int)st);
        row.state = st;
        continue;
      }
      for (int t = 0; t < RD_JOB_NSTATES; t++) {
        if (!rd_job_transition_ok(row.state, (rd_job_state)t))
          continue;
        /* Ends are less likely than progress, so that paths get long. */
        int w = rd_job_state_terminal((rd_job_state)t) && t != RD_JOB_DONE ? 1 : 4;
        for (int k = 0; k < w; k++)
          next[nn++] = (rd_job_state)t;
      }
      rd_job_state to = next[rnd_next(&seed) % (uint64_t)nn];
      if (id % 2 == 0) {
        int ntr = 0;
        /* transitions of kind "transition" so far = nhist - 1 - resumes;
         * the kv counter holds exactly that, so read it back. */
        json_t *cur = NULL;
        if ((rc = rd_journal_kv_get(j, id, "n", &cur)) < 0 && rc != RD_ENOTFOUND)
          goto fail;
        ntr = cur ? (int)json_integer_value(cur) : 0;
        json_decref(cur);
        json_t *res = json_pack("{s:s, s:i}", "to", rd_job_state_name(to), "n", ntr + 1);
        json_t *kv = json_pack("{s:i, s:s}", "n", ntr + 1, "pad",
                               "some bytes so that rows span more than a few cells");
        rd_step_record step = {.step = "crash.step", .phase = "apply", .result = res};
        rd_job_advance a = {.to = to, .kv = kv, .step = &step};
        rc = rd_journal_job_advance(j, id, &a);
        json_decref(res);
        json_decref(kv);
      } else {
        rc = rd_journal_job_set_state(j, id, to, "odd job");
      }
      if (rc < 0)
        goto fail;
      report(fd, id, nhist++, (int)to);
      row.state = to;
    }
  }
  rd_journal_close(j);
  _exit(0);
fail:
  report(fd, -1, 0, rc);
  _exit(3);
}

/* Check one job against its history, steps and kv; why gets the first
 * problem, or "". */
static void check_job(rd_journal *j, const rd_job_row *row, char *why, size_t len) {
  history h = {0};
  steps_seen st = {0};
  int ntrans = 0;
  long long id = (long long)row->id;
  ck_assert_int_eq(rd_journal_transitions(j, row->id, collect_tr, &h), 0);
  why[0] = '\0';
  if (h.n < 1 || h.rows[0].from != -1 || h.rows[0].to != RD_JOB_DUE ||
      strcmp(h.rows[0].kind, "create"))
    snprintf(why, len, "job %lld: history does not start with its creation", id);
  for (int i = 1; !why[0] && i < h.n; i++) {
    const rd_transition_row *r = &h.rows[i];
    if (r->from != (int)h.rows[i - 1].to)
      snprintf(why, len, "job %lld: history row %d starts from %d, not %d", id, i, r->from,
               (int)h.rows[i - 1].to);
    else if (!strcmp(r->kind, "transition")) {
      if (!rd_job_transition_ok((rd_job_state)r->from, r->to))
        snprintf(why, len, "job %lld: illegal %s -> %s in history", id,
                 rd_job_state_name((rd_job_state)r->from), rd_job_state_name(r->to));
      ntrans++;
    } else if (!strcmp(r->kind, "resume")) {
      if (rd_job_resume_state((rd_job_state)r->from) != r->to || (int)r->to == r->from)
        snprintf(why, len, "job %lld: bad resume row", id);
    } else {
      snprintf(why, len, "job %lld: history row kind %s", id, r->kind);
    }
  }
  if (!why[0] && h.rows[h.n - 1].to != row->state)
    snprintf(why, len, "job %lld: state %s but history ends in %s", id,
             rd_job_state_name(row->state), rd_job_state_name(h.rows[h.n - 1].to));
  if (!why[0] && row->id % 2 == 0 && !strcmp(row->runbook, "crash")) {
    /* Steps rows and the kv counter match the transitions one for one. */
    json_t *n = NULL;
    ck_assert_int_eq(rd_journal_steps(j, row->id, collect_step, &st), 0);
    int kvn = rd_journal_kv_get(j, row->id, "n", &n) == 0 ? (int)json_integer_value(n) : 0;
    json_decref(n);
    if (st.n != ntrans || kvn != ntrans)
      snprintf(why, len, "job %lld: %d transitions but %d steps and kv n=%d", id, ntrans, st.n,
               kvn);
    for (int i = 1, k = 0; !why[0] && i < h.n; i++) {
      if (strcmp(h.rows[i].kind, "transition"))
        continue;
      if (strcmp(st.v[k].to, rd_job_state_name(h.rows[i].to)))
        snprintf(why, len, "job %lld: step %d records %s, history %s", id, k, st.v[k].to,
                 rd_job_state_name(h.rows[i].to));
      k++;
    }
  }
  history_free(&h);
  free(st.v);
}

typedef struct {
  rd_journal *j;
  int jobs, bad;
  char why[512];
} walk;

static int check_visit(const rd_job_row *row, void *arg) {
  walk *w = arg;
  char why[512];
  w->jobs++;
  check_job(w->j, row, why, sizeof why);
  if (why[0] && !w->bad++)
    snprintf(w->why, sizeof w->why, "%s", why);
  return 0;
}

static int history_len(rd_journal *j, int64_t id) {
  int n = 0;
  ck_assert_int_eq(rd_journal_transitions(j, id, count_tr, &n), 0);
  return n;
}

static int history_to(rd_journal *j, int64_t id, int seq) {
  history h = {0};
  int to = -1;
  ck_assert_int_eq(rd_journal_transitions(j, id, collect_tr, &h), 0);
  if (seq < h.n)
    to = (int)h.rows[seq].to;
  history_free(&h);
  return to;
}

static long long total_history(void) {
  if (access(dbpath, F_OK) != 0)
    return 0;
  long long n = sql_int(dbpath, "SELECT count(*) FROM sqlite_schema WHERE name = 'transitions'");
  return n == 1 ? sql_int(dbpath, "SELECT count(*) FROM transitions") : 0;
}

START_TEST(crash_safety) {
  uint64_t seed = 0x5eed0000ULL + (uint64_t)getpid();
  int rounds = 14, total_events = 0, total_killed_mid = 0;
  for (int round = 0; round < rounds; round++) {
    int p[2];
    long long before = total_history();
    ck_assert_int_eq(pipe(p), 0);
    /* Kill points: by time (from "during open/migration" to deep in the
     * loop) or right after the k-th reported commit. */
    int by_events = round % 2;
    long kill_ms = round == 0 ? 0 : (long)(rnd_next(&seed) % 400);
    int kill_after = 1 + (int)(rnd_next(&seed) % 400);
    uint64_t child_seed = rnd_next(&seed) | 1;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
      close(p[0]);
      crash_child(p[1], child_seed);
    }
    close(p[1]);
    crash_ev *evs = NULL;
    size_t nev = 0, cap = 0;
    int killed = 0, eof = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!eof) {
      long elapsed;
      clock_gettime(CLOCK_MONOTONIC, &t);
      elapsed = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
      if (!killed && ((!by_events && elapsed >= kill_ms) ||
                      (by_events && (int)nev >= kill_after) || elapsed > 60000)) {
        kill(pid, SIGKILL);
        killed = 1;
      }
      struct pollfd pf = {.fd = p[0], .events = POLLIN};
      int timeout = killed ? 1000 : 1;
      if (poll(&pf, 1, timeout) <= 0)
        continue;
      crash_ev ev;
      ssize_t r = read(p[0], &ev, sizeof ev);
      if (r == 0) {
        eof = 1;
        break;
      }
      ck_assert_int_eq(r, (ssize_t)sizeof ev);
      if (nev == cap) {
        cap = cap ? 2 * cap : 256;
        evs = realloc(evs, cap * sizeof *evs);
        ck_assert_ptr_nonnull(evs);
      }
      evs[nev++] = ev;
      /* With events-based kills, stop at once: the child is mid-flight. */
      if (!killed && by_events && (int)nev >= kill_after) {
        kill(pid, SIGKILL);
        killed = 1;
      }
    }
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    for (size_t i = 0; i < nev; i++)
      ck_assert_msg(evs[i].state >= 0, "round %d: child error %s", round,
                    rd_errname(evs[i].state));
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      total_killed_mid++;
    else
      ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                    "round %d: child status %d", round, status);

    /* The file is whole... */
    if (access(dbpath, F_OK) == 0) {
      sqlite3 *db;
      sqlite3_stmt *s;
      ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
      ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
                       SQLITE_OK);
      ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
      ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
      sqlite3_finalize(s);
      ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL),
                       SQLITE_OK);
      ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
      sqlite3_finalize(s);
      sqlite3_close(db);
    }
    /* ...opens and migrates... */
    rd_journal *j = open_j();
    /* ...every job is consistent with its history, steps and kv... */
    walk w = {.j = j};
    ck_assert_int_eq(rd_journal_jobs(j, 0, 0, check_visit, &w), 0);
    ck_assert_msg(w.bad == 0, "round %d: %d bad jobs; first: %s", round, w.bad, w.why);
    ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM (SELECT host, cert FROM jobs"
                                     " WHERE terminal = 0 GROUP BY host, cert"
                                     " HAVING count(*) > 1)"),
                     0);
    ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs WHERE terminal !="
                                     " (state IN ('DONE','FAILED','ROLLED_BACK',"
                                     "'NEEDS_OPERATOR'))"),
                     0);
    /* ...every commit the child reported is there, in order... */
    for (size_t i = 0; i < nev; i++) {
      int len = history_len(j, evs[i].job);
      ck_assert_msg(len > evs[i].seq, "round %d: job %lld lost commit %d (history %d)", round,
                    (long long)evs[i].job, evs[i].seq, len);
      ck_assert_msg(history_to(j, evs[i].job, evs[i].seq) == evs[i].state,
                      "round %d: job %lld commit %d is not %s", round, (long long)evs[i].job,
                      evs[i].seq, rd_job_state_name((rd_job_state)evs[i].state));
    }
    /* ...and at most one commit happened that was not reported yet. */
    long long after = total_history();
    ck_assert_msg(after - before == (long long)nev || after - before == (long long)nev + 1,
                  "round %d: %lld new history rows, %zu reported", round, after - before, nev);
    total_events += (int)nev;
    rd_journal_close(j);
    free(evs);
  }
  ck_assert_int_gt(total_events, 100);
  ck_assert_int_ge(total_killed_mid, rounds - 1);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("journal");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, open_creates_and_migrates);
  tcase_add_test(tc, open_refusals);
  tcase_add_test(tc, default_path);
  tcase_add_test(tc, job_open_active_then_new);
  tcase_add_test(tc, transitions_checked);
  tcase_add_test(tc, resume_and_failures);
  tcase_add_test(tc, kv_roundtrip);
  tcase_add_test(tc, advance_is_atomic);
  tcase_add_test(tc, listing_jobs);
  tcase_add_test(tc, two_handles);
  tcase_add_test(tc, audit_append_only);
  tcase_add_test(tc, alert_once);
  tcase_add_test(tc, inventory_snapshots);
  tcase_add_test(tc, status_command);
  suite_add_tcase(s, tc);
  TCase *crash = tcase_create("crash");
  tcase_add_checked_fixture(crash, setup, teardown);
  tcase_set_timeout(crash, 240);
  tcase_add_test(crash, crash_safety);
  suite_add_tcase(s, crash);
  return s;
}

int main(void) { return tu_run(suite()); }
