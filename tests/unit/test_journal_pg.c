/* test_journal_pg.c — the PostgreSQL journal's own behaviour, on a private
 * server this program starts (tu_run_backends): which targets pick it,
 * opening and migrating, what it refuses (a password in the URI, someone
 * else's schema, a newer schema), the password from a file, the bounded
 * wait for the write lock, a connection lost between calls and a writer
 * paused inside a transaction. The journal
 * calls themselves run on it in test_journal.c, _jobs.c and _lease.c. */
#include <uv.h>

#include "test_journal_fixture.h"

START_TEST(targets_pick_backend) {
  ck_assert_int_eq(rd_journal_is_pg("postgresql:///renewd?host=/run/x"), 1);
  ck_assert_int_eq(rd_journal_is_pg("postgres://db.example/renewd"), 1);
  ck_assert_int_eq(rd_journal_is_pg("/var/lib/renewd/journal.db"), 0);
  ck_assert_int_eq(rd_journal_is_pg("postgresql.db"), 0);
  ck_assert_int_eq(rd_journal_is_pg(NULL), 0);
  rd_journal *j = open_j();
  ck_assert_str_eq(rd_journal_backend(j), "sqlite");
  rd_journal_close(j);
}
END_TEST

START_TEST(open_migrates) {
  char err[1024] = "";
  rd_journal *j = (rd_journal *)1;
  int64_t id, id2;
  int created;
  /* An empty schema is no journal for a reader... */
  ck_assert_int_eq(rd_journal_open_ex(jtarget, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err),
                   RD_ENOTFOUND);
  ck_assert_ptr_null(j);
  ck_assert_msg(strstr(err, "not found") && strstr(err, jtarget), "%s", err);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
                   0);
  /* ...and is migrated by a writer. */
  j = open_j();
  ck_assert_str_eq(rd_journal_backend(j), "postgresql");
  ck_assert_str_eq(rd_journal_path(j), jtarget);
  ck_assert_int_eq(sql_int(dbpath, "SELECT max(version) FROM schema_version"),
                   RD_JOURNAL_SCHEMA_VERSION);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                                   " AND tablename IN ('jobs','transitions','steps','kv',"
                                   "'inventory','audit','alerts','leases')"),
                   8);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "/etc/c.pem", &id, &created), 0);
  ck_assert_int_eq(created, 1);
  rd_journal_close(j);
  ck_assert_int_eq(rd_journal_open_ex(jtarget, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "/etc/c.pem", &id2, &created), 0);
  ck_assert_int_eq(created, 0);
  ck_assert_int_eq(id2, id);
  rd_journal_close(j);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM schema_version"),
                   RD_JOURNAL_SCHEMA_VERSION);
}
END_TEST

START_TEST(open_refusals) {
  char err[1024] = "", uri[700];
  rd_journal *j = NULL;
  /* A password in the URI: refused before connecting, and never echoed. */
  snprintf(uri, sizeof uri, "%s&password=s3cr3t-Pw", jtarget);
  ck_assert_int_eq(rd_journal_open(uri, &j, err, sizeof err), RD_ECONFIG);
  ck_assert_msg(strstr(err, "holds a password") && !strstr(err, "s3cr3t"), "%s", err);
  ck_assert_int_eq(rd_journal_open("postgresql://u:s3cr3t-Pw@db.invalid:5432/x", &j, err,
                                   sizeof err),
                   RD_ECONFIG);
  ck_assert_msg(!strstr(err, "s3cr3t"), "%s", err);
  ck_assert_int_eq(rd_journal_open("postgresql://[bad", &j, err, sizeof err), RD_ECONFIG);
  /* No server there. */
  ck_assert_int_eq(rd_journal_open("postgresql:///renewd?host=/nonexistent&connect_timeout=2",
                                   &j, err, sizeof err),
                   RD_ENETWORK);
  ck_assert_msg(strstr(err, "cannot connect"), "%s", err);
  /* Someone else's tables. */
  ck_assert_int_eq(sql_exec(dbpath, "CREATE TABLE t(x int)", NULL, 0), 0);
  ck_assert_int_eq(rd_journal_open(jtarget, &j, err, sizeof err), RD_EPROTO);
  ck_assert_msg(strstr(err, "not a renewd journal"), "%s", err);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
                   1);
  ck_assert_int_eq(sql_exec(dbpath, "DROP TABLE t", NULL, 0), 0);
  /* A newer schema than this build knows. */
  j = open_j();
  rd_journal_close(j);
  ck_assert_int_eq(sql_exec(dbpath, "INSERT INTO schema_version VALUES (7, 0)", NULL, 0), 0);
  ck_assert_int_eq(rd_journal_open(jtarget, &j, err, sizeof err), RD_EPROTO);
  ck_assert_msg(strstr(err, "schema version 7 is newer"), "%s", err);
}
END_TEST

/* The password comes through config/secret.c: a missing file is named, the
 * value never is (the test server trusts its socket, so any password
 * connects). */
START_TEST(password_from_file) {
  char err[1024] = "", pw[600];
  rd_journal *j = NULL;
  snprintf(pw, sizeof pw, "%s/pw", tmpdir);
  setenv("RENEWD_JOURNAL_PASSWORD_FILE", pw, 1);
  ck_assert_int_eq(rd_journal_open(jtarget, &j, err, sizeof err), RD_ECONFIG);
  ck_assert_msg(strstr(err, "password: ") && strstr(err, pw), "%s", err);
  FILE *f = fopen(pw, "w");
  ck_assert_ptr_nonnull(f);
  fputs("pw-Value-42\n", f);
  fclose(f);
  ck_assert_int_eq(rd_journal_open(jtarget, &j, err, sizeof err), 0);
  rd_journal_close(j);
  unsetenv("RENEWD_JOURNAL_PASSWORD_FILE");
  unlink(pw);
  setenv("RENEWD_JOURNAL_PASSWORD", "", 1);
  ck_assert_int_eq(rd_journal_open(jtarget, &j, err, sizeof err), RD_ECONFIG);
  ck_assert_msg(strstr(err, "RENEWD_JOURNAL_PASSWORD"), "%s", err);
  unsetenv("RENEWD_JOURNAL_PASSWORD");
}
END_TEST

/* Another instance inside a write transaction holds the write lock: a call
 * waits busy_ms, then fails with RD_EBUSY having changed nothing; once the
 * other commits, the same call succeeds. */
START_TEST(lock_wait_is_bounded) {
  rd_journal *j = open_j();
  PGconn *other = PQconnectdb(jtarget);
  int64_t id;
  ck_assert_int_eq(PQstatus(other), CONNECTION_OK);
  PQclear(PQexec(other, "BEGIN"));
  PGresult *r = PQexec(other, "SELECT pg_advisory_xact_lock(1919699505)");
  ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
  PQclear(r);
  ck_assert_int_eq(rd_journal_set_busy_timeout(j, 100), 0);
  uint64_t t0 = uv_hrtime();
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), RD_EBUSY);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ck_assert_msg(ms >= 90 && ms < 1500, "waited %llu ms", (unsigned long long)ms);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "busy") && strstr(rd_journal_errmsg(j), "100 ms"),
                "%s", rd_journal_errmsg(j));
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs"), 0);
  PQclear(PQexec(other, "COMMIT"));
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs"), 1);
  PQfinish(other);
  rd_journal_close(j);
}
END_TEST

/* The server drops the connection between two calls (a restart, a
 * fail-over): the next call connects again instead of failing. */
START_TEST(lost_connection_reopened) {
  rd_journal *j = open_j();
  int64_t id;
  rd_job_row row;
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid)"
                                   " FROM pg_stat_activity WHERE application_name = 'renewd'"
                                   " AND pid <> pg_backend_pid()) t"),
                   1);
  ck_assert_msg(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL) == 0, "%s",
                rd_journal_errmsg(j));
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_PROBED);
  rd_journal_close(j);
}
END_TEST

/* A writer paused (SIGSTOP) inside a transaction holds the write lock: the
 * server ends its session after RD_JOURNAL_PG_IDLE_TX_MS, so the others
 * write again before it resumes; resumed, it reconnects and carries on. */
START_TEST(paused_writer_released) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    rd_journal *cj = NULL;
    char err[512], host[32];
    close(p[0]);
    if (rd_journal_open(jtarget, &cj, err, sizeof err) < 0)
      _exit(3);
    if (write(p[1], "r", 1) != 1)
      _exit(4);
    for (int i = 0;; i++) { /* busy or reconnecting calls fail; go on */
      int64_t id;
      snprintf(host, sizeof host, "child%d", i);
      rd_journal_job_open(cj, "rb", host, "c", &id, NULL);
    }
  }
  close(p[1]);
  char c;
  ck_assert_int_eq(read(p[0], &c, 1), 1);
  close(p[0]);
  rd_journal *j = open_j();
  int64_t id;
  int caught = 0;
  /* stop the child until it is caught inside a transaction: then a write
   * here runs out of its lock wait */
  for (int tries = 0; tries < 500 && !caught; tries++) {
    usleep(2000);
    kill(pid, SIGSTOP);
    usleep(20000);
    if (rd_journal_job_open(j, "rb", "parent", "c", &id, NULL) == RD_EBUSY)
      caught = 1;
    else
      kill(pid, SIGCONT);
  }
  ck_assert_msg(caught, "the child was never stopped inside a transaction");
  uint64_t t0 = uv_hrtime();
  int rc;
  while ((rc = rd_journal_job_open(j, "rb", "parent", "c", &id, NULL)) == RD_EBUSY &&
         uv_hrtime() - t0 < (uint64_t)(RD_JOURNAL_PG_IDLE_TX_MS + 5000) * 1000000)
    ;
  ck_assert_msg(rc == 0, "still %s while the writer is paused: %s", rd_errname(rc),
                rd_journal_errmsg(j));
  kill(pid, SIGCONT);
  /* resumed, it writes again (a new session) */
  long long n0 = sql_int(dbpath, "SELECT count(*) FROM jobs WHERE host LIKE 'child%'"), n1 = n0;
  for (int i = 0; i < 100 && n1 == n0; i++) {
    usleep(50000);
    n1 = sql_int(dbpath, "SELECT count(*) FROM jobs WHERE host LIKE 'child%'");
  }
  ck_assert_msg(n1 > n0, "the resumed writer wrote nothing");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  rd_journal_close(j);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_pg (postgresql)" : "journal_pg (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  if (!pg) {
    tcase_add_test(tc, targets_pick_backend);
  } else {
    tcase_add_test(tc, open_migrates);
    tcase_add_test(tc, open_refusals);
    tcase_add_test(tc, password_from_file);
    tcase_add_test(tc, lock_wait_is_bounded);
    tcase_add_test(tc, lost_connection_reopened);
    tcase_add_test(tc, paused_writer_released);
    tcase_set_timeout(tc, 60); /* the paused writer: RD_JOURNAL_PG_IDLE_TX_MS */
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
