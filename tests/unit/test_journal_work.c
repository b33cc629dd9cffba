/* test_journal_work.c — the work queue of several instances on one
 * PostgreSQL journal (store/work.h, docs/SCALING.md "Divided scans"): plans
 * under the planner's lock, claims with SKIP LOCKED into disjoint sets,
 * the take-over of an expired claim with a bigger epoch, fenced ends, the
 * heartbeat, and LISTEN/NOTIFY on the event loop. On SQLite every call is
 * refused (one process scans everything). */
#include <uv.h>

#include "base/util.h"
#include "store/work.h"
#include "test_journal_fixture.h"
#include "test_journal_loop.h"

#define T0 ((time_t)2000000)

static const char *const six[] = {"h1", "h2", "h3", "h4", "h5", "h6"};

static void plan(rd_journal *j, const char *const *hosts, size_t n, time_t now, int want_planned,
                 int want_queued) {
  rd_work_plan_req r = {.runbook = "rb", .hosts = hosts, .nhosts = n, .owner = "planner",
                        .interval_s = 60, .now = now};
  int planned = -1, queued = -1;
  ck_assert_msg(rd_work_plan(j, &r, &planned, &queued) == 0, "%s", rd_journal_errmsg(j));
  ck_assert_int_eq(planned, want_planned);
  ck_assert_int_eq(queued, want_queued);
}

/* Claims max items as owner at now; their hosts, comma-joined, in out. */
static size_t claim(rd_journal *j, const char *owner, int max, time_t now, char *out, size_t len,
                    rd_work_item *first) {
  rd_work_item *it = NULL;
  size_t n = 99;
  ck_assert_msg(rd_work_claim(j, "rb", owner, 10, max, now, &it, &n) == 0, "%s",
                rd_journal_errmsg(j));
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(out);
    snprintf(out + l, len - l, "%s%s", i ? "," : "", it[i].host);
  }
  if (first && n)
    *first = it[0];
  free(it);
  return n;
}

START_TEST(sqlite_refuses) {
  rd_journal *j = open_j();
  rd_work_plan_req r = {.runbook = "rb", .hosts = six, .nhosts = 6, .owner = "o"};
  rd_work_item *it = NULL, one = {.host = "h1", .epoch = 1};
  rd_work_listener *l = (rd_work_listener *)1;
  size_t n;
  int planned, queued;
  ck_assert_int_eq(rd_work_supported(j), 0);
  ck_assert_int_eq(rd_work_plan(j, &r, &planned, &queued), RD_ENOTSUP);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "needs a PostgreSQL journal"), "%s",
                rd_journal_errmsg(j));
  ck_assert_int_eq(rd_work_claim(j, "rb", "o", 10, 5, T0, &it, &n), RD_ENOTSUP);
  ck_assert_int_eq(rd_work_renew(j, "o", 10, T0, NULL), RD_ENOTSUP);
  ck_assert_int_eq(rd_work_finish(j, "rb", &one, "o", -1, T0), RD_ENOTSUP);
  ck_assert_int_eq(rd_work_listen(uv_default_loop(), j, NULL, NULL, &l), RD_ENOTSUP);
  ck_assert_ptr_null(l);
  rd_journal_close(j);
}
END_TEST

/* Two connections claim in turn: disjoint sets that cover the plan; rows a
 * third connection holds locked are skipped at once, not waited for. */
START_TEST(claims_are_disjoint) {
  rd_journal *a = open_j(), *b = open_j();
  char got[256], all[512] = "";
  PGconn *locker = PQconnectdb(jtarget);
  PGresult *res;
  ck_assert_int_eq(rd_work_supported(a), 1);
  plan(a, six, 6, T0, 1, 6);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE state = 'queued'"), 6);
  /* another instance in the middle of its claim of h1 and h2 */
  ck_assert_int_eq(PQstatus(locker), CONNECTION_OK);
  PQclear(PQexec(locker, "BEGIN"));
  res = PQexec(locker, "SELECT host FROM work WHERE host IN ('h1', 'h2') FOR UPDATE");
  ck_assert_int_eq(PQntuples(res), 2);
  PQclear(res);
  ck_assert_int_eq(claim(a, "A", 2, T0, got, sizeof got, NULL), 2);
  ck_assert_str_eq(got, "h3,h4");
  ck_assert_int_eq(claim(b, "B", 10, T0, got, sizeof got, NULL), 2);
  ck_assert_str_eq(got, "h5,h6");
  ck_assert_int_eq(claim(a, "A", 10, T0, got, sizeof got, NULL), 0);
  PQclear(PQexec(locker, "COMMIT"));
  PQfinish(locker);
  ck_assert_int_eq(claim(b, "B", 1, T0, got, sizeof got, NULL), 1);
  strcat(all, got);
  ck_assert_int_eq(claim(a, "A", 5, T0, got, sizeof got, NULL), 1);
  strcat(all, got);
  ck_assert_str_eq(all, "h1h2");
  ck_assert_int_eq(claim(b, "B", 5, T0 + 5, got, sizeof got, NULL), 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE state = 'claimed'"
                                   " AND epoch = 1 AND expires = " "2000010"),
                   6);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE owner = 'A'"), 3);
  rd_journal_close(a);
  rd_journal_close(b);
}
END_TEST

/* A claim past its expiry is taken over with the next epoch (audited); its
 * former owner can neither renew nor end it, the new one can. */
START_TEST(expired_claim_taken_over) {
  rd_journal *a = open_j(), *b = open_j();
  rd_work_item ia, ib;
  char got[64];
  long renewed = -1;
  plan(a, six, 1, T0, 1, 1);
  ck_assert_int_eq(claim(a, "A", 5, T0, got, sizeof got, &ia), 1);
  ck_assert_int_eq(ia.epoch, 1);
  ck_assert_int_eq(ia.takeover, 0);
  /* the heartbeat keeps it: at T0 + 8 it expires at T0 + 18 */
  ck_assert_int_eq(rd_work_renew(a, "A", 10, T0 + 8, &renewed), 0);
  ck_assert_int_eq(renewed, 1);
  ck_assert_int_eq(claim(b, "B", 5, T0 + 17, got, sizeof got, NULL), 0);
  /* A stalls; at T0 + 18 the claim is B's, epoch 2 */
  ck_assert_int_eq(claim(b, "B", 5, T0 + 18, got, sizeof got, &ib), 1);
  ck_assert_str_eq(ib.host, "h1");
  ck_assert_int_eq(ib.epoch, 2);
  ck_assert_int_eq(ib.takeover, 1);
  ck_assert_str_eq(ib.previous, "A");
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit WHERE event = 'work.takeover'"
                                   " AND detail::jsonb #>> '{previous,owner}' = 'A'"
                                   " AND (detail::jsonb #>> '{epoch}')::bigint = 2"),
                   1);
  /* A resumes: fenced out */
  ck_assert_int_eq(rd_work_renew(a, "A", 10, T0 + 19, &renewed), 0);
  ck_assert_int_eq(renewed, 0);
  ck_assert_int_eq(rd_work_finish(a, "rb", &ia, "A", -1, T0), RD_ESTATE);
  ck_assert_msg(strstr(rd_journal_errmsg(a), "host h1: the claim of epoch 1 is no longer held"),
                "%s", rd_journal_errmsg(a));
  /* ...even with the new epoch: the owner is part of the fence */
  ck_assert_int_eq(rd_work_finish(a, "rb", &ib, "A", -1, T0), RD_ESTATE);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE state = 'claimed'"
                                   " AND owner = 'B' AND epoch = 2"),
                   1);
  ck_assert_int_eq(rd_work_finish(b, "rb", &ib, "B", -1, T0), 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE state = 'done'"), 1);
  ck_assert_int_eq(rd_work_finish(b, "rb", &ib, "B", -1, T0), RD_ESTATE);
  rd_journal_close(a);
  rd_journal_close(b);
}
END_TEST

/* One planner at a time: while another connection holds the runbook's
 * planner lock, a plan is refused with RD_EBUSY and queues nothing; then
 * one plan per interval, a claimed item left to its owner, a finished one
 * queued again, a host the runbook dropped removed. */
START_TEST(planner_lock_is_exclusive) {
  rd_journal *a = open_j(), *b = open_j();
  rd_work_plan_req r = {.runbook = "rb", .hosts = six, .nhosts = 3, .owner = "A",
                        .interval_s = 60, .now = T0};
  PGconn *other = PQconnectdb(jtarget);
  PGresult *res;
  rd_work_item it;
  char got[64];
  int planned = -1, queued = -1;
  ck_assert_int_eq(PQstatus(other), CONNECTION_OK);
  PQclear(PQexec(other, "BEGIN"));
  res = PQexec(other, "SELECT pg_try_advisory_xact_lock(1919699506, hashtext('rb'))");
  ck_assert_str_eq(PQgetvalue(res, 0, 0), "t");
  PQclear(res);
  ck_assert_int_eq(rd_work_plan(a, &r, &planned, &queued), RD_EBUSY);
  ck_assert_msg(strstr(rd_journal_errmsg(a), "runbook rb: another instance is planning"), "%s",
                rd_journal_errmsg(a));
  ck_assert_int_eq(planned, 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work"), 0);
  /* another runbook's planner lock is another lock */
  r.runbook = "other";
  ck_assert_int_eq(rd_work_plan(a, &r, &planned, &queued), 0);
  ck_assert_int_eq(planned, 1);
  r.runbook = "rb";
  PQclear(PQexec(other, "COMMIT"));
  PQfinish(other);
  plan(a, six, 3, T0, 1, 3);
  plan(b, six, 3, T0 + 59, 0, 0); /* planned already, by a */
  ck_assert_int_eq(sql_int(dbpath, "SELECT next_at FROM plans WHERE runbook = 'rb'"), T0 + 60);
  ck_assert_int_eq(claim(b, "B", 1, T0 + 1, got, sizeof got, &it), 1);
  ck_assert_int_eq(rd_work_finish(b, "rb", &it, "B", -1, T0), 0);
  ck_assert_int_eq(claim(b, "B", 1, T0 + 1, got, sizeof got, &it), 1);
  ck_assert_str_eq(got, "h2");
  /* the next plan: h1 (done) queued again, h2 (claimed) left to B, h3
   * (still queued) kept; h1..h2 only now: h3 leaves */
  plan(b, six, 2, T0 + 60, 1, 1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE runbook = 'rb'"), 2);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE host = 'h2' AND owner = 'B'"
                                   " AND state = 'claimed'"),
                   1);
  rd_journal_close(a);
  rd_journal_close(b);
}
END_TEST

/* An item given back for later (its host busy) is claimable again only
 * then, by anyone, with the next epoch; no take-over. */
START_TEST(requeue_later) {
  rd_journal *a = open_j();
  rd_work_item it;
  char got[64];
  plan(a, six, 1, T0, 1, 1);
  ck_assert_int_eq(claim(a, "A", 5, T0, got, sizeof got, &it), 1);
  ck_assert_int_eq(rd_work_finish(a, "rb", &it, "A", 5, T0 + 1), 0);
  ck_assert_int_eq(claim(a, "B", 5, T0 + 5, got, sizeof got, NULL), 0);
  ck_assert_int_eq(claim(a, "B", 5, T0 + 6, got, sizeof got, &it), 1);
  ck_assert_int_eq(it.epoch, 2);
  ck_assert_int_eq(it.takeover, 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit WHERE event = 'work.takeover'"), 0);
  rd_journal_close(a);
}
END_TEST

/* A database that does not answer at all (its backend stopped: no
 * statement_timeout can fire) costs a call a bounded wait, then
 * RD_ETIMEDOUT; the connection is dropped, every call fails at once until
 * the next one outside a transaction opens it again. */
START_TEST(stopped_backend_bounded) {
  rd_journal *j = open_j();
  rd_work_item *it = NULL;
  int64_t id = 0;
  int created;
  size_t n;
  long long pid = sql_int(dbpath, "SELECT pid FROM pg_stat_activity WHERE application_name ="
                                  " 'renewd'");
  ck_assert_int_gt(pid, 0);
  ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
  uint64_t t0 = rd_now_ms();
  int rc = rd_journal_job_open(j, "rb", "h1", "/c.pem", &id, &created);
  uint64_t took = rd_now_ms() - t0;
  /* a claim now fails at once: the connection is gone, and inside no
   * transaction it is opened again (a new backend) */
  kill((pid_t)pid, SIGCONT);
  ck_assert_msg(rc == RD_ETIMEDOUT, "%d after %llu ms: %s", rc, (unsigned long long)took,
                rd_journal_errmsg(j));
  ck_assert_msg(strstr(rd_journal_errmsg(j), "did not answer within 3000 ms"), "%s",
                rd_journal_errmsg(j));
  /* bounded: the 3 s bound, not forever (a loaded CI machine adds seconds) */
  ck_assert_msg(took >= 2900 && took < 15000, "the stall lasted %llu ms",
                (unsigned long long)took);
  fprintf(stderr, "journal call on a stopped backend: RD_ETIMEDOUT after %llu ms\n",
          (unsigned long long)took);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs"), 0);
  plan(j, six, 1, T0, 1, 1);
  ck_assert_int_eq(rd_work_claim(j, "rb", "A", 10, 1, T0, &it, &n), 0);
  ck_assert_int_eq(n, 1);
  free(it);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "/c.pem", &id, &created), 0);
  ck_assert_int_eq(created, 1);
  rd_journal_close(j);
}
END_TEST

/* ---- LISTEN/NOTIFY on the loop ---- */

START_TEST(notify_wakes_listener) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  rd_work_item it;
  char got[64];
  woke w;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  ck_assert_int_eq(rd_work_listener_check(l), 1);
  uv_timer_start(&w.timeout, gave_up, 5000, 0);
  /* another instance plans, then gives an item back */
  plan(b, six, 2, T0, 1, 2);
  ck_assert_int_eq(claim(b, "B", 1, T0, got, sizeof got, &it), 1);
  ck_assert_int_eq(rd_work_finish(b, "rb", &it, "B", 0, T0), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w.n, 2);
  ck_assert_str_eq(w.got[0], "rb");
  ck_assert_str_eq(w.got[1], "rb");
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE state = 'queued'"), 2);
  listen_end(&loop, l, &w, a, b);
}
END_TEST

/* The listener's connection dies (the server ends it): check notices and
 * listens again; notifications flow again. */
START_TEST(listener_reconnects) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  char msg[256];
  int rc = 1;
  woke w;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  PQclear(pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ="
                  " 'LISTEN renewd_work'",
                  msg, sizeof msg));
  /* check answers 1 until the poll saw the loss, then listens again: 0
   * (or -1 while the old poll is still closing, then 0) */
  for (int i = 0; i < 50 && (rc = rd_work_listener_check(l)) == 1; i++) {
    uv_timer_start(&w.timeout, gave_up, 100, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  if (rc == -1) {
    uv_timer_start(&w.timeout, gave_up, 100, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = rd_work_listener_check(l);
  }
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(rd_work_listener_check(l), 1);
  plan(b, six, 1, T0, 1, 1);
  plan(b, six, 1, T0 + 60, 1, 0);
  uv_timer_start(&w.timeout, gave_up, 5000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w.n, 2);
  listen_end(&loop, l, &w, a, b);
}
END_TEST

/* A host's lease released: the items of that host given back for later
 * (their job found it busy) are claimable at once, and the instances are
 * woken; other hosts' items keep waiting. */
START_TEST(lease_release_readies_busy_items) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  rd_lease_owner o = {.node = "elsewhere", .pid = 7, .start = 9};
  rd_lease_req lr = {.host = "h1", .owner = &o, .what = "another runbook", .ttl_s = 60};
  rd_work_item it[2];
  int64_t epoch = 0;
  char got[64];
  woke w;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  plan(b, six, 2, T0, 1, 2);
  ck_assert_int_eq(claim(b, "B", 1, T0, got, sizeof got, &it[0]), 1);
  ck_assert_int_eq(claim(b, "B", 1, T0, got, sizeof got, &it[1]), 1);
  ck_assert_int_eq(rd_journal_lease_claim(b, &lr, &epoch, NULL), 0);
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(rd_work_finish(b, "rb", &it[i], "B", 300, T0), 0);
  uv_timer_start(&w.timeout, gave_up, 300, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w.n, 1); /* the plan's */
  ck_assert_int_eq(rd_journal_lease_release(b, &lr, epoch), 0);
  uv_timer_start(&w.timeout, gave_up, 5000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w.n, 2);
  ck_assert_str_eq(w.got[1], "rb");
  ck_assert_int_eq(claim(b, "A", 5, T0 + 1, got, sizeof got, NULL), 1);
  ck_assert_str_eq(got, "h1");
  ck_assert_int_eq(claim(b, "A", 5, T0 + 5, got, sizeof got, NULL), 0); /* h2 waits */
  ck_assert_int_eq(sql_int(dbpath, "SELECT ready_at FROM work WHERE host = 'h2'"), T0 + 300);
  listen_end(&loop, l, &w, a, b);
}
END_TEST

/* The same release by a process that never divided work (a `renewd run`:
 * its connection never touched the work queue) readies the items all the
 * same: serve instances waiting for the host do not wait their 300 s. */
START_TEST(lease_release_by_a_run_readies_items) {
  rd_journal *b = open_j(), *run = open_j();
  rd_lease_owner o = {.node = "elsewhere", .pid = 7, .start = 9};
  rd_lease_req lr = {.host = "h1", .owner = &o, .what = "renewd run", .ttl_s = 60};
  rd_work_item it;
  int64_t epoch = 0;
  char got[64];
  rd_lease_req other = {.host = "h9", .owner = &o, .what = "renewd run", .ttl_s = 60};
  /* on a journal no instance divided work on, a release creates no queue */
  ck_assert_int_eq(rd_journal_lease_claim(run, &other, &epoch, NULL), 0);
  ck_assert_int_eq(rd_journal_lease_release(run, &other, epoch), 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT (to_regclass('work') IS NULL)::int"), 1);
  ck_assert_int_eq(rd_journal_lease_claim(run, &lr, &epoch, NULL), 0);
  plan(b, six, 1, T0, 1, 1);
  ck_assert_int_eq(claim(b, "B", 1, T0, got, sizeof got, &it), 1);
  ck_assert_int_eq(rd_work_finish(b, "rb", &it, "B", 300, T0), 0); /* BUSY: back later */
  ck_assert_int_eq(claim(b, "A", 5, T0 + 1, got, sizeof got, NULL), 0);
  ck_assert_int_eq(rd_journal_lease_release(run, &lr, epoch), 0);
  ck_assert_int_eq(claim(b, "A", 5, T0 + 1, got, sizeof got, NULL), 1);
  ck_assert_str_eq(got, "h1");
  rd_journal_close(b);
  rd_journal_close(run);
}
END_TEST

/* ---- the asynchronous claims ---- */

typedef struct {
  int n;              /* answers so far */
  int err[4];
  char hosts[4][64];  /* a claim's hosts, comma-joined */
  long renewed;
  uint64_t at;        /* when the last answer came (ms) */
  long ticks;         /* a 10 ms timer's runs meanwhile */
  uv_timer_t tick;
} answers;

static void claimed(int err, rd_work_item *items, size_t n, void *arg) {
  answers *a = arg;
  if (a->n < 4) {
    a->err[a->n] = err;
    for (size_t i = 0; i < n; i++) {
      size_t l = strlen(a->hosts[a->n]);
      snprintf(a->hosts[a->n] + l, sizeof a->hosts[0] - l, "%s%s", i ? "," : "", items[i].host);
    }
  }
  a->n++;
  a->at = rd_now_ms();
  free(items);
}

static void renewed(int err, long count, void *arg) {
  answers *a = arg;
  if (a->n < 4)
    a->err[a->n] = err;
  a->renewed = count;
  a->n++;
}

static void ticked(uv_timer_t *t) {
  answers *a = t->data;
  a->ticks++;
  if (a->n > 0 && a->ticks > 0 && rd_now_ms() > a->at + 50)
    uv_stop(t->loop);
}

/* answered: run the loop until got holds n answers (up to 10 s) */
static void answered(uv_loop_t *loop, woke *w, answers *got, int n) {
  uv_timer_start(&w->timeout, gave_up, 10000, 0);
  while (got->n < n && uv_run(loop, UV_RUN_ONCE))
    ;
  uv_timer_stop(&w->timeout);
  ck_assert_int_eq(got->n, n);
}

/* Claims and a renewal asked at once are answered in order, from the loop. */
START_TEST(async_claims_in_order) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  answers got;
  woke w;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  memset(&got, 0, sizeof got);
  plan(b, six, 3, T0, 1, 3);
  ck_assert_int_eq(rd_work_claim_async(l, "rb", "A", 10, 1, T0, claimed, &got), 0);
  ck_assert_int_eq(rd_work_claim_async(l, "rb", "B", 10, 5, T0, claimed, &got), 0);
  ck_assert_int_eq(rd_work_renew_async(l, "A", 30, T0 + 1, renewed, &got), 0);
  ck_assert_int_eq(got.n, 0); /* never inside the call */
  answered(&loop, &w, &got, 3);
  ck_assert_int_eq(got.err[0], 0);
  ck_assert_str_eq(got.hosts[0], "h1");
  ck_assert_int_eq(got.err[1], 0);
  ck_assert_str_eq(got.hosts[1], "h2,h3");
  ck_assert_int_eq(got.err[2], 0);
  ck_assert_int_eq(got.renewed, 1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT expires FROM work WHERE owner = 'A'"), T0 + 31);
  /* a call still asked at the close is answered RD_ECANCELED, once */
  ck_assert_int_eq(rd_work_claim_async(l, "rb", "C", 10, 5, T0, claimed, &got), 0);
  rd_work_listener_close(l);
  ck_assert_int_eq(got.n, 4);
  ck_assert_int_eq(got.err[3], RD_ECANCELED);
  ck_assert_int_eq(rd_work_claim_async(l, "rb", "C", 10, 5, T0, claimed, &got), RD_ENETWORK);
  uv_close((uv_handle_t *)&w.timeout, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(got.n, 4);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(a);
  rd_journal_close(b);
}
END_TEST

/* The work connection's server stops answering (its backend SIGSTOPped):
 * the loop runs on -- a 10 ms timer keeps ticking -- and the claim is
 * answered RD_ETIMEDOUT after its bound; the next check connects again and
 * claims go on. */
START_TEST(async_claim_never_blocks_the_loop) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  answers got;
  woke w;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  memset(&got, 0, sizeof got);
  plan(b, six, 2, T0, 1, 2);
  long long pid = listener_backend_stop();
  uint64_t t0 = rd_now_ms();
  ck_assert_int_eq(rd_work_claim_async(l, "rb", "A", 10, 1, T0, claimed, &got), 0);
  uv_timer_init(&loop, &got.tick);
  got.tick.data = &got;
  uv_timer_start(&got.tick, ticked, 10, 10);
  uv_run(&loop, UV_RUN_DEFAULT);
  kill((pid_t)pid, SIGCONT);
  ck_assert_int_eq(got.n, 1);
  ck_assert_int_eq(got.err[0], RD_ETIMEDOUT);
  assert_loop_ran("async claim", got.at - t0, got.ticks);
  /* resumed, the backend ran the claim it had been sent, for nobody to
   * hear: the item is A's until its claim expires (at T0 + 10) */
  {
    /* resumed, it runs when the scheduler lets it: wait for it (up to 10 s) */
    long long held = 0;
    for (int i = 0; i < 200 && held != 1; i++) {
      held = sql_int(dbpath, "SELECT count(*) FROM work WHERE state = 'claimed'"
                             " AND owner = 'A' AND expires = " "2000010");
      if (held != 1)
        usleep(50 * 1000);
    }
    ck_assert_int_eq(held, 1);
  }
  listener_reconnect(&loop, l);
  got.n = 0;
  got.hosts[0][0] = '\0';
  ck_assert_int_eq(rd_work_claim_async(l, "rb", "A", 10, 5, T0 + 10, claimed, &got), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(got.err[0], 0);
  ck_assert_str_eq(got.hosts[0], "h1,h2");
  uv_close((uv_handle_t *)&got.tick, NULL);
  listen_end(&loop, l, &w, a, b);
}
END_TEST

/* A claims' renewal that timed out on a stopped backend still runs there
 * once the backend is resumed -- after a later renewal committed on the
 * new connection: the claim keeps the later expiry (a renewal only
 * extends; a late one must not shorten a claim another instance would
 * then take over). */
START_TEST(async_late_renewal_only_extends) {
  uv_loop_t loop;
  rd_journal *a = open_j(), *b = open_j();
  answers got;
  woke w;
  rd_work_listener *l = listen_begin(&loop, a, &w);
  memset(&got, 0, sizeof got);
  char hosts[64];
  plan(b, six, 3, T0, 1, 3);
  ck_assert_int_eq(claim(b, "A", 1, T0, hosts, sizeof hosts, NULL), 1); /* A's until T0 + 10 */
  long long pid = listener_backend_stop();
  ck_assert_int_eq(rd_work_renew_async(l, "A", 20, T0, renewed, &got), 0);
  answered(&loop, &w, &got, 1);
  ck_assert_int_eq(got.err[0], RD_ETIMEDOUT);
  listener_reconnect(&loop, l);
  ck_assert_int_eq(rd_work_renew_async(l, "A", 40, T0, renewed, &got), 0);
  answered(&loop, &w, &got, 2);
  ck_assert_int_eq(got.err[1], 0);
  ck_assert_int_eq(got.renewed, 1);
  kill((pid_t)pid, SIGCONT); /* the late renewal (T0 + 20) runs now */
  backend_gone(pid);
  ck_assert_int_eq(sql_int(dbpath, "SELECT expires FROM work WHERE owner = 'A'"), T0 + 40);
  listen_end(&loop, l, &w, a, b);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_work (postgresql)" : "journal_work (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60); /* two tests wait out a 3 s bound */
  if (!pg) {
    tcase_add_test(tc, sqlite_refuses);
  } else {
    tcase_add_test(tc, claims_are_disjoint);
    tcase_add_test(tc, expired_claim_taken_over);
    tcase_add_test(tc, planner_lock_is_exclusive);
    tcase_add_test(tc, requeue_later);
    tcase_add_test(tc, stopped_backend_bounded);
    tcase_add_test(tc, notify_wakes_listener);
    tcase_add_test(tc, listener_reconnects);
    tcase_add_test(tc, lease_release_readies_busy_items);
    tcase_add_test(tc, lease_release_by_a_run_readies_items);
    tcase_add_test(tc, async_claims_in_order);
    tcase_add_test(tc, async_claim_never_blocks_the_loop);
    tcase_add_test(tc, async_late_renewal_only_extends);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
