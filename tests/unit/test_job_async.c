/* test_job_async.c — a job's transitions on PostgreSQL are committed off
 * the event loop (core/jobmove.c, rd_journal_job_advance_async) with a
 * per-job barrier: while the commit of one job's transition is held up
 * (the backend of the journal's second connection SIGSTOPped for a
 * second), that job's next step does not start, and the other job's steps
 * go on on the same loop. Both jobs end DONE once the backend runs again.
 * The host leases' heartbeat goes through the work connection when the
 * journal has one (core/lease.c, rd_journal_lease_renew_async): a lease
 * taken over while its job runs is found there and the job stops before
 * its next step. On SQLite both are synchronous (the other engine tests). */
#include <uv.h>

#include "async_kinds.h"
#include "engine_run.h"
#include "store/work.h"
#include "test_journal_fixture.h"
#include "test_job_stall.h"

static uint64_t t1_after;          /* when t1's step after INSTALLED answered */
static int t2_during;              /* t2's answers while the backend was stopped */
static int steal;                  /* the lease test: t1's lease is taken over */
static int t1_verified;            /* t1's install verify ran */
static rd_work_listener *listener;
static int stall_at_fu;            /* stall once t1's follow-up applied (a step record) */
static uint64_t t1_next;           /* when t1's follow-up verify started */
static long long beats_seen;       /* lease beats the work connection ran */

static void answered(rd_step *s, int status, const tu_answer *a) {
  const rd_host_api *h = a->h;
  int t1 = !strcmp(h->host(s), "t1");
  uint64_t now = rd_now_ms();
  if (!status) {
    tu_note(a->name);
    if (!strcmp(a->name, "inv.probe"))
      old_cert_found(s, h);
    else if (!strcmp(a->name, "iss.apply")) {
      h->set_state(s, "KEY_READY");
      h->set_state(s, "REQUESTED");
      json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
    }
    if (t1 && !strcmp(a->name, stall_at_fu ? "fu.apply" : "inst.apply") && !t_stop && !steal)
      stall_second_connection();
    if (t1 && !strcmp(a->name, "inst.verify"))
      t1_verified = 1;
    if (t1 && !strcmp(a->name, "chk.probe"))
      t1_after = now;
    if (!t1 && t_stop && !t_cont && now > t_stop)
      t2_during++;
  }
  h->done(s, status, NULL, NULL);
}

/* t1's phases take 20 ms, t2's 150 ms: t2 is still renewing when t1 stalls. */
static int start(rd_step *s, const rd_host_api *h, const char *name) {
  int t1 = !strcmp(h->host(s), "t1");
  long ms = t1 ? 20 : 150;
  if (t1 && !strcmp(name, "fu.verify") && !t1_next)
    t1_next = rd_now_ms();
  if (steal && t1 && !strcmp(name, "inst.apply")) {
    /* another process takes t1 over while the install runs past a beat */
    char msg[256];
    PQclear(pg_exec("UPDATE leases SET owner = 'thief:1:1', node = 'thief', pid = 1,"
                    " start = 1, epoch = epoch + 1 WHERE host = 't1'",
                    msg, sizeof msg));
    ms = 2500; /* two beats at least */
  }
  return tu_answer_later(s, &(tu_answer){.h = h, .name = name, .ms = ms, .fn = answered});
}

PHASE(chk_probe, "chk.probe")
PHASE(chk_verify, "chk.verify")
PHASE(fu_probe, "fu.probe")
PHASE(fu_apply, "fu.apply")
PHASE(fu_verify, "fu.verify")

static const rd_step_kind k_chk = {.type = "test.check", .flags = RD_KIND_CHECK,
                                   .probe = chk_probe, .verify = chk_verify};
static const rd_step_kind k_fu = {.type = "test.fu", .probe = fu_probe, .apply = fu_apply,
                                  .verify = fu_verify};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_chk, &k_fu, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

/* A fresh start (CK_FORK=no runs the tests in one process). */
static void reset(void) {
  stalled_pid = 0;
  t_stop = t_cont = t1_after = 0;
  t2_during = t1_verified = steal = stall_at_fu = 0;
  t1_next = 0;
  beats_seen = 0;
}

/* The runbook of t1 and t2 run once, the test's state fresh. */
static void run_rb(tu_engine_out *o) {
  char rb[600];
  const char *files[] = {rb, NULL};
  snprintf(rb, sizeof rb, "%s/rb.json", tmpdir);
  write_runbook(rb, stall_at_fu ? "{\"type\": \"test.fu\", \"name\": \"fu\"}, "
                                  "{\"type\": \"test.check\", \"name\": \"check\"}"
                                : "{\"type\": \"test.check\", \"name\": \"check\"}");
  tu_trace[0] = 0;
  tu_engine_run(&plugin, files, NULL, jtarget, o);
}

START_TEST(stalled_commit_holds_its_job_only) {
  tu_engine_out o = {0};
  reset();
  run_rb(&o);
  ck_assert_int_eq(pthread_join(resumer, NULL), 0);
  ck_assert_msg(t_stop && t_cont, "the second connection was never stopped: %s", tu_trace);
  ck_assert_msg(!strcmp(state_of(&o, 0), "DONE") && !strcmp(state_of(&o, 1), "DONE"),
                "t1 %s, t2 %s: %s", state_of(&o, 0), state_of(&o, 1), o.text);
  /* t1's next step waited for its INSTALLED to be committed */
  ck_assert_msg(t1_after >= t_cont, "t1's check probe answered %lld ms before the commit could",
                (long long)(t_cont - t1_after));
  /* t2's steps went on meanwhile (2 phases here, 1 under valgrind; with
   * the commit made on the loop, none: the loop stood for the second) */
  ck_assert_msg(t2_during >= 1, "t2 answered %d phases while t1's commit was held", t2_during);
  fprintf(stderr, "a transition held %llu ms: its job's next step %llu ms after the resume; the "
                  "other job answered %d phases meanwhile\n",
          (unsigned long long)(t_cont - t_stop), (unsigned long long)(t1_after - t_cont),
          t2_during);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs WHERE state = 'DONE'"), 2);
  tu_engine_out_free(&o);
}
END_TEST

/* The same with the second connection stopped once t1's follow-up step
 * (test.fu, before the check) has applied: what is committed next is that
 * apply's record (a step record; between a follow-up's apply and its verify
 * the job moves nowhere), and t1's follow-up verify starts only after it. */
START_TEST(stalled_step_record_holds_its_job) {
  tu_engine_out o = {0};
  reset();
  stall_at_fu = 1;
  run_rb(&o);
  ck_assert_int_eq(pthread_join(resumer, NULL), 0);
  ck_assert_msg(t_stop && t_cont, "the second connection was never stopped: %s", tu_trace);
  ck_assert_msg(!strcmp(state_of(&o, 0), "DONE") && !strcmp(state_of(&o, 1), "DONE"),
                "t1 %s, t2 %s: %s", state_of(&o, 0), state_of(&o, 1), o.text);
  ck_assert_msg(t1_next >= t_cont, "t1's follow-up verify started %lld ms before its apply's "
                                   "record could be committed",
                (long long)(t_cont - t1_next));
  fprintf(stderr, "a step record held %llu ms: its job's next phase %llu ms after the resume; "
                  "the other job answered %d phases meanwhile\n",
          (unsigned long long)(t_cont - t_stop), (unsigned long long)(t1_next - t_cont),
          t2_during);
  /* the follow-up's phases of both jobs recorded */
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM steps WHERE step = 'fu' AND"
                                   " phase IN ('apply', 'verify')"),
                   4);
  tu_engine_out_free(&o);
}
END_TEST

static void no_wake(const char *runbook, void *arg) {
  (void)runbook;
  (void)arg;
}

static void unref(uv_handle_t *h, void *arg) {
  (void)arg;
  uv_unref(h);
}

/* The work connection on the run's loop; its handles (the only ones there
 * yet) do not keep the loop running once the engine is done. */
static void listen_on(uv_loop_t *loop, rd_journal *j) {
  ck_assert_int_eq(rd_work_listen(loop, j, no_wake, NULL, &listener), 0);
  uv_walk(loop, unref, NULL);
}

static void listen_off(rd_journal *j) {
  (void)j;
  beats_seen = sql_int(dbpath, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE"
                               " 'UPDATE leases l SET expires%'");
  rd_work_listener_close(listener);
  listener = NULL;
}

/* Lease TTL 3 s (a beat each second), t1's install applying for 2.5 s
 * while another process takes its lease over: the beat -- on the work
 * connection when the journal has one, else on its second connection --
 * finds the lease lost and t1 ends LEASE_LOST before its install's
 * verify; t2 renews. */
static void lease_lost_case(int work_connection) {
  tu_engine_out o = {0};
  reset();
  steal = 1;
  setenv("RENEWD_LEASE_TTL", "3", 1);
  tu_engine_journal_open = work_connection ? listen_on : NULL;
  tu_engine_journal_close = work_connection ? listen_off : NULL;
  run_rb(&o);
  tu_engine_journal_open = NULL;
  tu_engine_journal_close = NULL;
  unsetenv("RENEWD_LEASE_TTL");
  ck_assert_msg(!strcmp(state_of(&o, 0), "LEASE_LOST") && !strcmp(state_of(&o, 1), "DONE"),
                "t1 %s, t2 %s: %s", state_of(&o, 0), state_of(&o, 1), o.text);
  ck_assert_msg(t1_verified == 0, "t1 verified its install: %s", o.text);
  ck_assert_msg(strstr(o.text, "lease renewal: the lease of epoch 1 is no longer held by"), "%s",
                o.text);
  if (work_connection)
    ck_assert_int_eq(beats_seen, 1); /* the work connection's last statement */
  tu_engine_out_free(&o);
}

START_TEST(async_beat_finds_the_lease_lost) { lease_lost_case(1); }
END_TEST

START_TEST(beat_of_a_run_finds_the_lease_lost) { lease_lost_case(0); }
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "job_async (postgresql)" : "job_async (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  if (pg) {
    tcase_add_test(tc, stalled_commit_holds_its_job_only);
    tcase_add_test(tc, stalled_step_record_holds_its_job);
    tcase_add_test(tc, async_beat_finds_the_lease_lost);
    tcase_add_test(tc, beat_of_a_run_finds_the_lease_lost);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
