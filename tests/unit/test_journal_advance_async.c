/* test_journal_advance_async.c — a job's transition off the event loop
 * (journal.h: rd_journal_job_advance_async; journal_async.c): on PostgreSQL
 * the call runs on the journal's second connection in libuv's pool and is
 * answered from the loop, in order, with rd_journal_job_advance's checks
 * (a legal transition, the fence); while another connection holds the
 * journal's write lock the loop runs on and the transition commits once the
 * lock is free; a cancelled call is answered RD_ECANCELED at once and never
 * again, and so is one asked when the journal closes. SQLite refuses. */
#include <uv.h>

#include "test_journal_fixture.h"

typedef struct {
  int n;               /* answers so far */
  int err[4];
  char msg[4][256];
  uint64_t at;         /* when the last answer came (ms) */
  long ticks;          /* a 10 ms timer's runs meanwhile */
  uv_timer_t tick;
  PGconn *holder;      /* holds the write lock until the timer frees it */
  uv_timer_t release;
} answers;

static void answered(int err, const char *msg, void *arg) {
  answers *a = arg;
  if (a->n < 4) {
    a->err[a->n] = err;
    snprintf(a->msg[a->n], sizeof a->msg[0], "%s", msg);
  }
  a->n++;
  a->at = rd_now_ms();
}

static int64_t new_job(rd_journal *j, const char *host) {
  int64_t id = 0;
  int created = 0;
  ck_assert_int_eq(rd_journal_job_open(j, "rb", host, "/c.pem", &id, &created), 0);
  ck_assert_int_eq(created, 1);
  return id;
}

static int move(rd_journal *j, uv_loop_t *loop, int64_t id, rd_job_state to,
                const rd_lease_fence *f, answers *a) {
  rd_job_advance adv = {.to = to, .error = "why", .fence = f};
  return rd_journal_job_advance_async(j, loop, id, &adv, answered, a);
}

static const char *state_of(int64_t id) {
  static char st[32];
  char q[128];
  snprintf(q, sizeof q, "SELECT CASE state WHEN 'PROBED' THEN 1 WHEN 'KEY_READY' THEN 2"
                        " WHEN 'DUE' THEN 0 ELSE 9 END FROM jobs WHERE id = %lld",
           (long long)id);
  snprintf(st, sizeof st, "%lld", sql_int(dbpath, q));
  return st;
}

static void run_until(uv_loop_t *loop, const answers *a, int n) {
  uint64_t t0 = rd_now_ms();
  while (a->n < n && rd_now_ms() - t0 < 10000)
    uv_run(loop, UV_RUN_ONCE);
  ck_assert_int_eq(a->n, n);
}

START_TEST(sqlite_refuses) {
  rd_journal *j = open_j();
  uv_loop_t loop;
  answers a;
  int64_t id = new_job(j, "h1");
  memset(&a, 0, sizeof a);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_PROBED, NULL, &a), RD_ENOTSUP);
  ck_assert_int_eq(a.n, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(j);
}
END_TEST

/* Three moves asked at once: answered in order from the loop, never inside
 * the call; an illegal one and a fenced one whose lease is not held are
 * refused with the journal's message, changing nothing. */
START_TEST(answered_in_order) {
  rd_journal *j = open_j();
  uv_loop_t loop;
  answers a;
  rd_lease_owner me = {.node = "node-a", .pid = 10, .start = 42};
  rd_lease_fence f = {.host = "h1", .owner = &me, .epoch = 7};
  int64_t id = new_job(j, "h1");
  memset(&a, 0, sizeof a);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_PROBED, NULL, &a), 0);
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_VERIFIED, NULL, &a), 0);
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_KEY_READY, &f, &a), 0);
  ck_assert_int_eq(a.n, 0);
  run_until(&loop, &a, 3);
  ck_assert_int_eq(a.err[0], 0);
  ck_assert_str_eq(a.msg[0], "");
  ck_assert_int_eq(a.err[1], RD_ESTATE);
  ck_assert_msg(strstr(a.msg[1], "PROBED -> VERIFIED is not a legal transition"), "%s", a.msg[1]);
  ck_assert_int_eq(a.err[2], RD_ESTATE);
  ck_assert_msg(strstr(a.msg[2], "no longer held by node-a:10:42"), "%s", a.msg[2]);
  ck_assert_str_eq(state_of(id), "1");
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM transitions WHERE to_state = 'PROBED'"
                                   " AND error = 'why'"),
                   1);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(j);
}
END_TEST

static void ticked(uv_timer_t *t) {
  answers *a = t->data;
  a->ticks++;
  if (a->n > 0)
    uv_timer_stop(t);
}

static void release(uv_timer_t *t) {
  answers *a = t->data;
  PQclear(PQexec(a->holder, "COMMIT"));
}

/* Another connection holds the journal's write lock for 600 ms: the loop
 * keeps running its 10 ms timer meanwhile, and the move commits once the
 * lock is free (the journal waits for it up to its busy timeout). */
START_TEST(held_lock_never_blocks_the_loop) {
  rd_journal *j = open_j();
  uv_loop_t loop;
  answers a;
  int64_t id = new_job(j, "h1");
  memset(&a, 0, sizeof a);
  ck_assert_int_eq(rd_journal_set_busy_timeout(j, 5000), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  /* a first move opens the second connection (its open takes the lock too) */
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_PROBED, NULL, &a), 0);
  run_until(&loop, &a, 1);
  ck_assert_msg(a.err[0] == 0, "%s", a.msg[0]);
  a.n = 0;
  a.holder = PQconnectdb(jtarget);
  ck_assert_int_eq(PQstatus(a.holder), CONNECTION_OK);
  PQclear(PQexec(a.holder, "BEGIN"));
  PQclear(PQexec(a.holder, "SELECT pg_advisory_xact_lock(1919699505)"));
  uv_timer_init(&loop, &a.tick);
  uv_timer_init(&loop, &a.release);
  a.tick.data = a.release.data = &a;
  uv_timer_start(&a.tick, ticked, 10, 10);
  uv_timer_start(&a.release, release, 600, 0);
  uint64_t t0 = rd_now_ms();
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_KEY_READY, NULL, &a), 0);
  run_until(&loop, &a, 1);
  ck_assert_msg(a.err[0] == 0, "%s", a.msg[0]);
  ck_assert_msg(a.at - t0 >= 550, "committed after %llu ms", (unsigned long long)(a.at - t0));
  /* a blocked loop would not have run it at all before the answer */
  ck_assert_msg(a.ticks >= 10, "the loop ran its timer %ld times in %llu ms", a.ticks,
                (unsigned long long)(a.at - t0));
  fprintf(stderr, "transition behind a held write lock: committed after %llu ms, the loop's "
                  "10 ms timer ran %ld times meanwhile\n",
          (unsigned long long)(a.at - t0), a.ticks);
  ck_assert_str_eq(state_of(id), "2");
  uv_close((uv_handle_t *)&a.tick, NULL);
  uv_close((uv_handle_t *)&a.release, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  PQfinish(a.holder);
  rd_journal_close(j);
}
END_TEST

/* A move running and one queued behind it, the queued one cancelled: it is
 * answered RD_ECANCELED inside the cancel and never runs; a move asked
 * when the journal closes is answered RD_ECANCELED once, and the loop then
 * ends with nothing left on it. */
START_TEST(cancelled_answered_once) {
  rd_journal *j = open_j();
  uv_loop_t loop;
  answers first, second, last;
  int64_t id = new_job(j, "h1"), other = new_job(j, "h2");
  memset(&first, 0, sizeof first);
  memset(&second, 0, sizeof second);
  memset(&last, 0, sizeof last);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_PROBED, NULL, &first), 0);
  ck_assert_int_eq(move(j, &loop, other, RD_JOB_PROBED, NULL, &second), 0);
  rd_journal_async_cancel(j, &second);
  ck_assert_int_eq(second.n, 1);
  ck_assert_int_eq(second.err[0], RD_ECANCELED);
  rd_journal_async_cancel(j, &second); /* again: nothing */
  ck_assert_int_eq(second.n, 1);
  run_until(&loop, &first, 1);
  ck_assert_int_eq(first.err[0], 0);
  ck_assert_str_eq(state_of(id), "1");
  ck_assert_str_eq(state_of(other), "0"); /* the cancelled move never ran */
  ck_assert_int_eq(move(j, &loop, id, RD_JOB_KEY_READY, NULL, &last), 0);
  rd_journal_close(j);
  ck_assert_int_eq(last.n, 1);
  ck_assert_int_eq(last.err[0], RD_ECANCELED);
  uv_run(&loop, UV_RUN_DEFAULT); /* the running call returns; the twin closes */
  ck_assert_int_eq(last.n, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_advance_async (postgresql)"
                             : "journal_advance_async (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  if (!pg) {
    tcase_add_test(tc, sqlite_refuses);
  } else {
    tcase_add_test(tc, answered_in_order);
    tcase_add_test(tc, held_lock_never_blocks_the_loop);
    tcase_add_test(tc, cancelled_answered_once);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
