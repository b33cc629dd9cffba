/* test_journal_lock.c — a journal call that meets another connection's
 * write lock waits at most RD_JOURNAL_BUSY_MS and fails with RD_EBUSY,
 * changing nothing, with a message that names the journal and the holder
 * (docs/JOURNAL.md, "Locking"): the event loop calling it must not stall. */
#include "test_journal_fixture.h"

/* The longest a journal call may keep the event loop waiting for a lock. */
#define STALL_MAX_MS 1000

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A second connection on the file that holds the write lock. */
static sqlite3 *hold_write_lock(void) {
  sqlite3 *db = NULL;
  ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  return db;
}

/* rc must be RD_EBUSY, returned within the bound, with the message that
 * names the journal, what was refused and that nothing changed. */
static void check_busy(rd_journal *j, int rc, double t0, const char *what) {
  double ms = now_ms() - t0;
  const char *m = rd_journal_errmsg(j);
  ck_assert_msg(rc == RD_EBUSY, "%s: %d (%s), expected RD_EBUSY", what, rc, m);
  ck_assert_msg(ms < STALL_MAX_MS, "%s: returned after %.0f ms (the loop may stall %d ms at most)",
                what, ms, STALL_MAX_MS);
  ck_assert_msg(ms >= RD_JOURNAL_BUSY_MS / 2, "%s: gave up after %.0f ms without waiting",
                what, ms);
  ck_assert_msg(strstr(m, dbpath) && strstr(m, what) &&
                    strstr(m, "held the write lock") && strstr(m, "nothing was changed"),
                "%s: message: %s", what, m);
}

START_TEST(lock_wait_is_bounded) {
  rd_journal *j = open_j();
  int64_t id, id2;
  rd_job_row row;
  double t0;
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  sqlite3 *other = hold_write_lock();

  t0 = now_ms();
  check_busy(j, rd_journal_job_open(j, "rb", "h2", "c", &id2, NULL), t0, "job open: busy");
  t0 = now_ms();
  check_busy(j, rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), t0,
             "job 1: move to PROBED: busy");
  t0 = now_ms();
  check_busy(j, rd_journal_audit(j, "renewd", "run.start", NULL), t0, "audit: busy");
  /* WAL: reading does not wait for the writer. */
  t0 = now_ms();
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_DUE);
  ck_assert(now_ms() - t0 < 100);

  ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(other);
  /* Nothing was half-done: the same calls now succeed. */
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_audit(j, "renewd", "run.start", NULL), 0);
  rd_journal_close(j);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs"), 1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM transitions"), 2);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit"), 1);
}
END_TEST

/* The bound is the connection's: 0 fails at once. */
START_TEST(lock_wait_adjustable) {
  rd_journal *j = open_j();
  double t0;
  ck_assert_int_eq(rd_journal_set_busy_timeout(j, -1), RD_EINVAL);
  ck_assert_int_eq(rd_journal_set_busy_timeout(j, 0), 0);
  sqlite3 *other = hold_write_lock();
  t0 = now_ms();
  ck_assert_int_eq(rd_journal_alert_once(j, "k"), RD_EBUSY);
  ck_assert(now_ms() - t0 < 100);
  ck_assert_ptr_nonnull(strstr(rd_journal_errmsg(j), "longer than 0 ms"));
  sqlite3_close(other); /* closing rolls back */
  ck_assert_int_eq(rd_journal_alert_once(j, "k"), 0);
  rd_journal_close(j);
}
END_TEST

/* Another process holds the lock: the message names it. */
START_TEST(lock_holder_named) {
  rd_journal *j = open_j(); /* creates the journal; reopened after the fork */
  int ready[2], go[2];
  char c, pid[32];
  pid_t child;
  rd_journal_close(j);
  ck_assert_int_eq(pipe(ready), 0);
  ck_assert_int_eq(pipe(go), 0);
  fflush(NULL);
  child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    sqlite3 *db = NULL;
    close(ready[0]);
    close(go[1]);
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
      _exit(1);
    if (write(ready[1], "r", 1) != 1)
      _exit(1);
    (void)!read(go[0], &c, 1); /* until the parent closes its end */
    sqlite3_close(db);
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  ck_assert_int_eq(read(ready[0], &c, 1), 1);
  j = open_j();
  double t0 = now_ms();
  int rc = rd_journal_kv_put(j, 1, "k", NULL);
  check_busy(j, rc, t0, "job 1: kv put: busy");
  snprintf(pid, sizeof pid, "(pid %ld)", (long)child);
  ck_assert_msg(strstr(rd_journal_errmsg(j), pid), "no %s in: %s", pid, rd_journal_errmsg(j));
  close(go[1]);
  close(ready[0]);
  int st = 0;
  ck_assert_int_eq(waitpid(child, &st, 0), child);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  rd_journal_close(j);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("journal_lock");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, lock_wait_is_bounded);
  tcase_add_test(tc, lock_wait_adjustable);
  tcase_add_test(tc, lock_holder_named);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
