/* test_journal_loop.h — what the tests of the work connection share
 * (test_journal_work.c, test_journal_lease_async.c): a loop with a
 * listener on a journal's target, its wake-ups collected, and its end
 * (nothing left on the loop). Include after test_journal_fixture.h. */
#ifndef RENEWD_TEST_JOURNAL_LOOP_H
#define RENEWD_TEST_JOURNAL_LOOP_H
#include <uv.h>

#include "store/work.h"

typedef struct {
  char got[8][64];
  int n;
  uv_timer_t timeout;
} woke;

static inline void on_wake(const char *runbook, void *arg) {
  woke *w = arg;
  if (w->n < 8)
    snprintf(w->got[w->n++], sizeof w->got[0], "%s", runbook);
  if (w->n == 2)
    uv_stop(w->timeout.loop);
}

static inline void gave_up(uv_timer_t *t) { uv_stop(t->loop); }

/* A loop, w's timer on it, and a listener on a's connection target. */
static inline rd_work_listener *listen_begin(uv_loop_t *loop, rd_journal *a, woke *w) {
  rd_work_listener *l = NULL;
  memset(w, 0, sizeof *w);
  ck_assert_int_eq(uv_loop_init(loop), 0);
  ck_assert_int_eq(rd_work_listen(loop, a, on_wake, w, &l), 0);
  uv_timer_init(loop, &w->timeout);
  return l;
}

/* Close all that, the loop last (nothing left on it), and the journals. */
static inline void listen_end(uv_loop_t *loop, rd_work_listener *l, woke *w, rd_journal *a,
                              rd_journal *b) {
  rd_work_listener_close(l);
  uv_close((uv_handle_t *)&w->timeout, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(loop), 0);
  rd_journal_close(a);
  rd_journal_close(b);
}

/* The work connection's backend stopped (SIGSTOP): its pid, for SIGCONT. */
static inline long long listener_backend_stop(void) {
  long long pid = sql_int(dbpath, "SELECT pid FROM pg_stat_activity WHERE query ="
                                  " 'LISTEN renewd_work'");
  ck_assert_int_gt(pid, 0);
  ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
  return pid;
}

/* The stopped backend, resumed, ends (its client closed the connection):
 * whatever it had been sent has run by then. Waits up to 10 s. */
static inline void backend_gone(long long pid) {
  char q[96];
  long long n = 1;
  snprintf(q, sizeof q, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
  for (int i = 0; i < 200 && (n = sql_int(dbpath, q)) != 0; i++)
    usleep(50 * 1000);
  ck_assert_msg(n == 0, "backend %lld still there 10 s after SIGCONT", pid);
}

/* A call on the stopped backend was answered after took ms, while the
 * loop's 10 ms timer ran ticks times: after its bound (3 s), and the loop
 * was never blocked (a blocked loop runs it once or never; a loaded
 * machine less than every 10 ms). */
static inline void assert_loop_ran(const char *what, uint64_t took, long ticks) {
  ck_assert_msg(took >= 2900 && took < 15000, "%s answered after %llu ms", what,
                (unsigned long long)took);
  ck_assert_msg(ticks >= 20, "the loop ran its timer %ld times in %llu ms", ticks,
                (unsigned long long)took);
  fprintf(stderr, "%s on a stopped backend: RD_ETIMEDOUT after %llu ms, the loop's 10 ms timer "
                  "ran %ld times meanwhile\n",
          what, (unsigned long long)took, ticks);
}

/* The poll of the dropped connection closes, then check connects again. */
static inline void listener_reconnect(uv_loop_t *loop, rd_work_listener *l) {
  int rc = -1;
  for (int i = 0; i < 20 && (rc = rd_work_listener_check(l)) == -1; i++)
    uv_run(loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(rc, 0);
}

#endif
