/* test_journal_lease_async.c — the host leases' heartbeat on the event loop
 * (journal.h: rd_journal_lease_renew_async, rd_journal_async_cancel): on
 * PostgreSQL one statement on the work connection renews the leases still
 * held at their epoch and names those taken over or released; a cancelled
 * beat is answered RD_ECANCELED at once and never again; a stopped backend
 * never blocks the loop. Without a work connection (`renewd run`) the beat
 * runs on the journal's second connection, off the loop, with the same
 * answer. SQLite refuses: the engine's synchronous beat does it. */
#include "test_journal_fixture.h"
#include "test_journal_loop.h"

#define T0 ((time_t)3000000)

static const char *const three[] = {"h1", "h2", "h3"};

static rd_lease_owner owner(const char *node) {
  rd_lease_owner o;
  memset(&o, 0, sizeof o);
  snprintf(o.node, sizeof o.node, "%s", node);
  o.pid = 10;
  o.start = 42;
  return o;
}

/* host's lease for o at now (ttl 10 s): its epoch. */
static int64_t claim(rd_journal *j, const char *host, const rd_lease_owner *o, time_t now) {
  rd_lease_req r = {.host = host, .owner = o, .what = "test", .ttl_s = 10, .now = now};
  int64_t epoch = 0;
  ck_assert_msg(rd_journal_lease_claim(j, &r, &epoch, NULL) == 0, "%s", rd_journal_errmsg(j));
  return epoch;
}

static long long expires(const char *host) {
  char q[128];
  snprintf(q, sizeof q, "SELECT expires FROM leases WHERE host = '%s'", host);
  return sql_int(dbpath, q);
}

typedef struct {
  int n;               /* answers so far */
  int err;
  unsigned char renewed[3];
  uint64_t at;         /* when the last answer came (ms) */
  long ticks;          /* a 10 ms timer's runs meanwhile */
  uv_timer_t tick;
} beats;

static void answered(int err, const unsigned char *renewed, size_t n, void *arg) {
  beats *b = arg;
  b->n++;
  b->err = err;
  b->at = rd_now_ms();
  ck_assert_int_eq(n, 3);
  if (!err)
    memcpy(b->renewed, renewed, 3);
}

/* The loop the second connection answers on (NULL: none, refused). */
static uv_loop_t *second_loop;

static int ask(rd_journal *j, const rd_lease_owner *o, int ttl, time_t now, const int64_t *ep,
               beats *b) {
  return rd_journal_lease_renew_async(j, second_loop, o, ttl, now, three, ep, 3, answered, b);
}

START_TEST(refused_without_a_loop) {
  rd_journal *j = open_j();
  rd_lease_owner a = owner("node-a");
  int64_t ep[3] = {claim(j, "h1", &a, T0), 1, 1};
  beats b;
  memset(&b, 0, sizeof b);
  ck_assert_int_eq(ask(j, &a, 30, T0, ep, &b), RD_ENOTSUP);
  ck_assert_int_eq(rd_journal_lease_renew_async(j, NULL, &a, 30, T0, three, ep, 0, answered, &b),
                   RD_EINVAL);
  rd_journal_async_cancel(j, &b); /* nothing asked: nothing happens */
  ck_assert_int_eq(b.n, 0);
  ck_assert_int_eq(expires("h1"), T0 + 10);
  rd_journal_close(j);
}
END_TEST

/* Through j: h1, h2, h3 claimed by me (their epochs in ep), h2 then
 * taken over by another owner once expired, h3 released. */
static void held_taken_released(rd_journal *j, const rd_lease_owner *me, int64_t ep[3]) {
  rd_lease_owner other = owner("node-b");
  rd_lease_req rel = {.host = "h3", .owner = me, .ttl_s = 10, .now = T0 + 1};
  ep[0] = claim(j, "h1", me, T0);
  ep[1] = claim(j, "h2", me, T0);
  ep[2] = claim(j, "h3", me, T0);
  ck_assert_int_eq(claim(j, "h2", &other, T0 + 11), 2);
  ck_assert_int_eq(rd_journal_lease_release(j, &rel, ep[2]), 0);
}

/* A beat at T0 + 5 (ttl 30) answered: h1 renewed, h2 and h3 not. */
static void assert_h1_only(const beats *got) {
  ck_assert_int_eq(got->n, 1);
  ck_assert_int_eq(got->err, 0);
  ck_assert_int_eq(got->renewed[0], 1);
  ck_assert_int_eq(got->renewed[1], 0);
  ck_assert_int_eq(got->renewed[2], 0);
  ck_assert_int_eq(expires("h1"), T0 + 35);
  ck_assert_int_eq(expires("h2"), T0 + 21); /* the new holder's */
}

/* No work connection: the beat runs on the second connection, answered
 * from the loop: h1 renewed, h2 (taken over) and h3 (released) not. */
START_TEST(on_the_second_connection) {
  uv_loop_t loop;
  rd_journal *j = open_j();
  rd_lease_owner me = owner("node-a");
  beats got;
  int64_t ep[3];
  memset(&got, 0, sizeof got);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  held_taken_released(j, &me, ep);
  second_loop = &loop;
  ck_assert_int_eq(ask(j, &me, 30, T0 + 5, ep, &got), 0);
  second_loop = NULL;
  ck_assert_int_eq(got.n, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_h1_only(&got);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(j);
}
END_TEST

/* h1 still held, h2 taken over by another owner after it expired, h3
 * released: one beat renews h1 only, and says so; never inside the call. */
START_TEST(renews_those_still_held) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  rd_lease_owner me = owner("node-a");
  woke w;
  beats got;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  int64_t ep[3];
  memset(&got, 0, sizeof got);
  held_taken_released(b, &me, ep);
  ck_assert_int_eq(ask(a, &me, 30, T0 + 5, ep, &got), 0);
  ck_assert_int_eq(got.n, 0);
  uv_timer_start(&w.timeout, gave_up, 5000, 0);
  while (got.n < 1 && uv_run(&loop, UV_RUN_ONCE))
    ;
  assert_h1_only(&got);
  ck_assert_int_eq(sql_int(dbpath, "SELECT held FROM leases WHERE host = 'h3'"), 0);
  /* the beat's epoch is no longer the holder's: not renewed */
  ep[1] = 2;
  ck_assert_int_eq(ask(a, &me, 30, T0 + 12, ep, &got), 0);
  while (got.n < 2 && uv_run(&loop, UV_RUN_ONCE))
    ;
  ck_assert_int_eq(got.err, 0);
  ck_assert_int_eq(got.renewed[0], 1);
  ck_assert_int_eq(got.renewed[1], 0);
  ck_assert_int_eq(expires("h2"), T0 + 21);
  listen_end(&loop, l, &w, a, b);
}
END_TEST

/* A beat on the wire and one queued behind it, both cancelled: each is
 * answered RD_ECANCELED inside the cancel, once; a beat of another arg is
 * answered as usual; the statement sent still runs, unheard. */
START_TEST(cancelled_answered_once) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  rd_lease_owner me = owner("node-a");
  woke w;
  beats first, second, kept;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  int64_t ep[3] = {claim(b, "h1", &me, T0), claim(b, "h2", &me, T0), 9};
  memset(&first, 0, sizeof first);
  memset(&second, 0, sizeof second);
  memset(&kept, 0, sizeof kept);
  ck_assert_int_eq(ask(a, &me, 40, T0, ep, &first), 0);
  ck_assert_int_eq(ask(a, &me, 50, T0, ep, &second), 0);
  ck_assert_int_eq(ask(a, &me, 60, T0, ep, &kept), 0);
  rd_journal_async_cancel(a, &second);
  ck_assert_int_eq(second.n, 1);
  ck_assert_int_eq(second.err, RD_ECANCELED);
  rd_journal_async_cancel(a, &first);
  ck_assert_int_eq(first.n, 1);
  ck_assert_int_eq(first.err, RD_ECANCELED);
  rd_journal_async_cancel(a, &first); /* again: nothing */
  ck_assert_int_eq(first.n, 1);
  uv_timer_start(&w.timeout, gave_up, 5000, 0);
  while (kept.n < 1 && uv_run(&loop, UV_RUN_ONCE))
    ;
  ck_assert_int_eq(kept.n, 1);
  ck_assert_int_eq(kept.err, 0);
  ck_assert_int_eq(kept.renewed[0], 1);
  ck_assert_int_eq(kept.renewed[1], 1);
  ck_assert_int_eq(kept.renewed[2], 0);
  ck_assert_int_eq(first.n, 1);
  ck_assert_int_eq(second.n, 1);
  ck_assert_int_eq(expires("h1"), T0 + 60); /* the first ran, then the kept one */
  /* a beat asked when the connection closes: RD_ECANCELED, once */
  memset(&first, 0, sizeof first);
  ck_assert_int_eq(ask(a, &me, 40, T0, ep, &first), 0);
  rd_work_listener_close(l);
  ck_assert_int_eq(first.n, 1);
  ck_assert_int_eq(first.err, RD_ECANCELED);
  /* closed: no work connection (and no loop given for the second one) */
  ck_assert_int_eq(ask(a, &me, 40, T0, ep, &first), RD_ENOTSUP);
  uv_close((uv_handle_t *)&w.timeout, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(first.n, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(a);
  rd_journal_close(b);
}
END_TEST

static void ticked(uv_timer_t *t) {
  beats *b = t->data;
  b->ticks++;
  if (b->n > 0 && rd_now_ms() > b->at + 50)
    uv_stop(t->loop);
}

/* The work connection's backend stops answering (SIGSTOP): the loop runs
 * on -- a 10 ms timer keeps ticking -- and the beat is answered
 * RD_ETIMEDOUT after its bound; once the connection is opened again, the
 * next beat renews. The stopped backend still holds the timed-out beat:
 * resumed after the later beat committed, it runs it for nobody to hear,
 * and the lease keeps the later beat's expiry (a renewal only extends). */
START_TEST(async_beat_never_blocks_the_loop) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  rd_lease_owner me = owner("node-a");
  woke w;
  beats got;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  int64_t ep[3] = {claim(b, "h1", &me, T0), claim(b, "h2", &me, T0), claim(b, "h3", &me, T0)};
  long long pid;
  memset(&got, 0, sizeof got);
  pid = listener_backend_stop();
  uint64_t t0 = rd_now_ms();
  ck_assert_int_eq(ask(a, &me, 30, T0, ep, &got), 0);
  uv_timer_init(&loop, &got.tick);
  got.tick.data = &got;
  uv_timer_start(&got.tick, ticked, 10, 10);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(got.n, 1);
  ck_assert_int_eq(got.err, RD_ETIMEDOUT);
  assert_loop_ran("lease beat", got.at - t0, got.ticks);
  /* dropped: the beat would go to the second connection (no loop given
   * here: refused) until the work connection is opened again */
  ck_assert_int_eq(ask(a, &me, 30, T0, ep, &got), RD_ENOTSUP);
  listener_reconnect(&loop, l);
  got.n = 0;
  ck_assert_int_eq(ask(a, &me, 45, T0, ep, &got), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(got.n, 1);
  ck_assert_int_eq(got.err, 0);
  ck_assert_int_eq(got.renewed[0] + got.renewed[1] + got.renewed[2], 3);
  ck_assert_int_eq(expires("h3"), T0 + 45);
  /* the late beat (T0 + 30) runs now, after the later one */
  kill((pid_t)pid, SIGCONT);
  backend_gone(pid);
  ck_assert_int_eq(expires("h1"), T0 + 45);
  ck_assert_int_eq(expires("h3"), T0 + 45);
  uv_close((uv_handle_t *)&got.tick, NULL);
  listen_end(&loop, l, &w, a, b);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_lease_async (postgresql)" : "journal_lease_async (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60); /* one test waits out a 3 s bound */
  tcase_add_test(tc, refused_without_a_loop);
  if (pg) {
    tcase_add_test(tc, on_the_second_connection);
    tcase_add_test(tc, renews_those_still_held);
    tcase_add_test(tc, cancelled_answered_once);
    tcase_add_test(tc, async_beat_never_blocks_the_loop);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
