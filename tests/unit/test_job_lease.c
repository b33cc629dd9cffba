/* test_job_lease.c — on PostgreSQL a job's first journal calls before
 * its first change commit off the event loop, the job waiting for them:
 * its claim of its host's lease (core/lease.c,
 * rd_journal_lease_claim_async; its release at the end goes the same way,
 * the run ending only once it is committed) and its journal job's opening
 * (core/jobopen.c, rd_journal_job_open_async).
 *
 * Another connection holds the leases table locked (EXCLUSIVE) for
 * HOLD_MS, less than the journal's lock_timeout, from the moment t1's
 * pre-flight (its steps' probes) answered: t1's claim waits for the lock,
 * a timer on the same loop keeps ticking meanwhile (a claim made on the
 * loop would stand it still), t1's issuer apply (its first change) starts
 * only after the lock is gone, and both jobs end DONE with their leases
 * released. The same with the jobs table locked: the claim goes through,
 * the opening waits. On SQLite both stay synchronous (test_engine_lease.c,
 * test_engine.c). */
#include <uv.h>

#include "async_kinds.h"
#include "engine_run.h"
#include "test_journal_fixture.h"
#include "test_job_stall.h"

#define HOLD_MS 150

static PGconn *locker;
static const char *locked;  /* the table locked: "leases" or "jobs" */
static pthread_t unlocker;
static uint64_t t1_issue; /* when t1's issuer apply started */

static void *unlock_later(void *arg) {
  (void)arg;
  usleep(HOLD_MS * 1000);
  t_cont = rd_now_ms();
  PQclear(PQexec(locker, "COMMIT"));
  return NULL;
}

/* The table locked now, unlocked HOLD_MS later (join unlocker). */
static void lock_leases(void) {
  PGresult *r;
  locker = PQconnectdb(jtarget);
  ck_assert_int_eq(PQstatus(locker), CONNECTION_OK);
  char sql[128];
  snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE %s IN EXCLUSIVE MODE", locked);
  r = PQexec(locker, sql);
  ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
  t_stop = rd_now_ms();
  ck_assert_int_eq(pthread_create(&unlocker, NULL, unlock_later, NULL), 0);
}

static void answered(rd_step *s, int status, const tu_answer *a) {
  const rd_host_api *h = a->h;
  if (!status && !strcmp(a->name, "inv.probe"))
    old_cert_found(s, h);
  if (!status && !strcmp(a->name, "inst.probe") && !strcmp(h->host(s), "t1") && !t_stop)
    lock_leases(); /* the pre-flight's last probe: the claim comes next */
  if (!status && !strcmp(a->name, "iss.apply")) {
    h->set_state(s, "KEY_READY");
    h->set_state(s, "REQUESTED");
    json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  }
  h->done(s, status, NULL, NULL);
}

static int start(rd_step *s, const rd_host_api *h, const char *name) {
  int t1 = !strcmp(h->host(s), "t1");
  if (t1 && !strcmp(name, "iss.apply") && !t1_issue)
    t1_issue = rd_now_ms();
  return tu_answer_later(s, &(tu_answer){.h = h, .name = name, .ms = 20, .fn = answered});
}

static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static void first_calls_wait(const char *table) {
  tu_engine_out o = {0};
  char rb[600];
  const char *files[] = {rb, NULL};
  t_stop = t_cont = t1_issue = 0;
  ticks_during = 0;
  locked = table;
  snprintf(rb, sizeof rb, "%s/rb.json", tmpdir);
  write_runbook(rb, "");
  tu_engine_journal_open = timer_on;
  tu_engine_journal_close = timer_off;
  tu_engine_run(&plugin, files, NULL, jtarget, &o);
  tu_engine_journal_open = NULL;
  tu_engine_journal_close = NULL;
  ck_assert_int_eq(pthread_join(unlocker, NULL), 0);
  PQfinish(locker);
  ck_assert_msg(t_stop && t_cont, "%s was never locked: %s", table, o.text);
  ck_assert_msg(!strcmp(state_of(&o, 0), "DONE") && !strcmp(state_of(&o, 1), "DONE"),
                "t1 %s, t2 %s: %s", state_of(&o, 0), state_of(&o, 1), o.text);
  ck_assert_msg(t1_issue >= t_cont, "t1's issuer apply started %lld ms before %s was unlocked",
                (long long)(t_cont - t1_issue), table);
  ck_assert_msg(ticks_during >= 5, "the loop's timer ticked %d times while %s was locked",
                ticks_during, table);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM leases WHERE held = 0 AND epoch = 1"),
                   2);
  fprintf(stderr, "%s locked %llu ms: the job's first change %llu ms after, the loop's "
                  "timer ticked %d times meanwhile\n",
          table, (unsigned long long)(t_cont - t_stop), (unsigned long long)(t1_issue - t_cont),
          ticks_during);
  tu_engine_out_free(&o);
}

/* The claim waits for the leases' lock. */
START_TEST(claim_waits_off_the_loop) { first_calls_wait("leases"); }
END_TEST

/* The claim goes through, the journal job's opening waits for the jobs'
 * lock. */
START_TEST(opening_waits_off_the_loop) { first_calls_wait("jobs"); }
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "job_lease (postgresql)" : "job_lease (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  if (pg) {
    tcase_add_test(tc, claim_waits_off_the_loop);
    tcase_add_test(tc, opening_waits_off_the_loop);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
