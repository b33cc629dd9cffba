/* test_job_writes.c — a plugin's journal_put and set_state on PostgreSQL
 * go off the event loop (core/jobwrite.c) with the ABI unchanged: they
 * answer 0 at once, journal_get reads the value still on its way, and the
 * step's next call outside renewd (here an HTTP request to a local
 * catcher) is held until every write before it has committed.
 *
 * t1's issuer apply, with the backend of the journal's second connection
 * SIGSTOPped for a second: put, get, set_state KEY_READY and REQUESTED,
 * then an HTTP GET. The catcher has received nothing when the backend is
 * resumed; a timer on the same loop ticked meanwhile and t2 went on; both
 * jobs end DONE with t1's value and states committed.
 * The same with the put failing in the database (a trigger says the disk
 * is full): the request is never sent, the set_state queued after the put
 * is not made, t1 stops as journal_behind where the journal had it, and
 * t2 renews. And with t1's lease taken over by another process before
 * the put: the put is refused in its commit (the fence), the request
 * never sent, t1 ends LEASE_LOST. On SQLite the writes stay synchronous
 * (the other tests). */
#include <uv.h>

#include "async_kinds.h"
#include "engine_run.h"
#include "httpcatch.h"
#include "test_journal_fixture.h"
#include "test_job_stall.h"

static hc_server catcher;
static char url[128];
static int fail_put;               /* the failing-write case */
static int steal;                  /* the fenced case: t1's lease taken over before its put */
static int slow_put;               /* the put commits 1.5 s later, the step's timeout is 1 s */
static uint64_t t_http;            /* when t1's request was answered */
static int sent_before_resume = -1; /* the catcher's requests when the backend resumed */
static int put_rc = -1, state_rc = -1, got_own, http_status = -1;
static uint64_t put_ms;
static int t2_during;

static void count_sent(void) { sent_before_resume = hc_count(&catcher); }

static void answered(rd_step *s, int status, const tu_answer *a) {
  const rd_host_api *h = a->h;
  if (!status && !strcmp(a->name, "inv.probe"))
    old_cert_found(s, h);
  if (!status && !strcmp(a->name, "iss.apply")) { /* t2's */
    h->set_state(s, "KEY_READY");
    h->set_state(s, "REQUESTED");
    json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  }
  if (strcmp(h->host(s), "t1") && t_stop && !t_cont)
    t2_during++;
  h->done(s, status, NULL, NULL);
}

static void t1_http_answered(rd_step *s, int status, const rd_http_response *r, void *arg) {
  const rd_host_api *h = arg;
  (void)r;
  t_http = rd_now_ms();
  http_status = status;
  if (!status)
    json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  h->done(s, status, NULL, status ? "request failed" : NULL);
}

/* t1's issuer apply (the slow case: its install's apply): its writes, a
 * read of them, then its request. */
static int t1_issue(rd_step *s, const rd_host_api *h) {
  rd_http_request req = {"GET", url, NULL, NULL, 0, 0};
  const char *key = fail_put ? "boom" : "txid";
  json_t *v = json_string("tx-1");
  uint64_t t0;
  char msg[256];
  if (slow_put)
    PQclear(pg_exec("CREATE FUNCTION kv_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    " IF NEW.key = 'txid' THEN PERFORM pg_sleep(1.5); END IF; RETURN NEW;"
                    " END $$;"
                    " CREATE TRIGGER kv_slow BEFORE INSERT ON kv FOR EACH ROW"
                    " EXECUTE FUNCTION kv_slow()",
                    msg, sizeof msg));
  else if (steal)
    PQclear(pg_exec("UPDATE leases SET owner = 'thief:1:1', node = 'thief', pid = 1,"
                    " start = 1, epoch = epoch + 1 WHERE host = 't1'",
                    msg, sizeof msg));
  else if (fail_put)
    PQclear(pg_exec("CREATE FUNCTION kv_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    " IF NEW.key = 'boom' THEN RAISE EXCEPTION 'could not extend file: No"
                    " space left on device'; END IF; RETURN NEW; END $$;"
                    " CREATE TRIGGER kv_full BEFORE INSERT OR UPDATE ON kv FOR EACH ROW"
                    " EXECUTE FUNCTION kv_full()",
                    msg, sizeof msg));
  else
    stall_second_connection();
  t0 = rd_now_ms();
  put_rc = h->journal_put(s, key, v);
  put_ms = rd_now_ms() - t0;
  json_decref(v);
  v = h->journal_get(s, key);
  got_own = v && !strcmp(json_string_value(v) ? json_string_value(v) : "", "tx-1");
  json_decref(v);
  state_rc = h->set_state(s, "KEY_READY") | h->set_state(s, "REQUESTED");
  return h->http(s, &req, t1_http_answered, (void *)h);
}

static int start(rd_step *s, const rd_host_api *h, const char *name) {
  /* the slow case in the install (its timeout is command_timeout, the
   * issuer's three times that) */
  if (!strcmp(name, slow_put ? "inst.apply" : "iss.apply") && !strcmp(h->host(s), "t1"))
    return t1_issue(s, h);
  return tu_answer_later(s, &(tu_answer){.h = h, .name = name, .ms = 150, .fn = answered});
}

static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

/* t1 and t2 renewed once, the test's state fresh. */
static void run_rb(tu_engine_out *o, int failing, int stolen, int slow) {
  char rb[600];
  const char *files[] = {rb, NULL};
  stalled_pid = 0;
  stall_before_resume = count_sent;
  t_stop = t_cont = t_http = put_ms = 0;
  sent_before_resume = put_rc = state_rc = http_status = -1;
  got_own = t2_during = ticks_during = 0;
  fail_put = failing;
  steal = stolen;
  slow_put = slow;
  ck_assert_int_eq(hc_start(&catcher), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/ca", catcher.port);
  snprintf(rb, sizeof rb, "%s/rb.json", tmpdir);
  write_runbook_ssh(rb, "", slow ? ", \"command_timeout\": 1" : "");
  tu_engine_journal_open = timer_on;
  tu_engine_journal_close = timer_off;
  tu_engine_run(&plugin, files, NULL, jtarget, o);
  tu_engine_journal_open = NULL;
  tu_engine_journal_close = NULL;
  if (!failing && !stolen && !slow)
    ck_assert_int_eq(pthread_join(resumer, NULL), 0);
}

START_TEST(held_write_holds_the_next_request) {
  tu_engine_out o = {0};
  run_rb(&o, 0, 0, 0);
  ck_assert_msg(t_stop && t_cont, "the second connection was never stopped: %s", o.text);
  ck_assert_int_eq(put_rc, 0);
  ck_assert_int_eq(state_rc, 0);
  ck_assert_msg(put_ms < STALL_MS / 2, "journal_put took %llu ms: it waited for the commit",
                (unsigned long long)put_ms);
  ck_assert_msg(got_own, "journal_get did not read the value still on its way");
  ck_assert_msg(sent_before_resume == 0,
                "the request went out before the write before it was committed (%d sent)",
                sent_before_resume);
  ck_assert_msg(t_http >= t_cont, "the request was answered %lld ms before the commit could",
                (long long)(t_cont - t_http));
  ck_assert_msg(ticks_during >= 10, "the loop's timer ticked %d times in the second held",
                ticks_during);
  ck_assert_msg(!strcmp(state_of(&o, 0), "DONE") && !strcmp(state_of(&o, 1), "DONE"),
                "t1 %s, t2 %s: %s", state_of(&o, 0), state_of(&o, 1), o.text);
  ck_assert_int_eq(hc_count(&catcher), 1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM kv WHERE key = 'txid' AND"
                                   " value = '\"tx-1\"'"),
                   1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM transitions h JOIN jobs j ON"
                                   " j.id = h.job_id WHERE j.host = 't1' AND h.to_state IN"
                                   " ('KEY_READY', 'REQUESTED')"),
                   2);
  fprintf(stderr, "a plugin's write held %llu ms: journal_put answered in %llu ms, its request "
                  "sent %llu ms after the resume; the loop's timer ticked %d times, the other "
                  "job answered %d phases meanwhile\n",
          (unsigned long long)(t_cont - t_stop), (unsigned long long)put_ms,
          (unsigned long long)(t_http - t_cont), ticks_during, t2_during);
  hc_stop(&catcher);
  tu_engine_out_free(&o);
}
END_TEST

START_TEST(failed_write_stops_the_job_before_its_request) {
  tu_engine_out o = {0};
  const json_t *t1;
  run_rb(&o, 1, 0, 0);
  t1 = json_array_get(json_object_get(o.report, "jobs"), 0);
  ck_assert_msg(hc_count(&catcher) == 0, "t1's request went out after its write failed");
  ck_assert_int_eq(put_rc, 0); /* queued: the failure comes with the commit */
  ck_assert_msg(http_status != 0 && http_status != -1, "t1's request answered %d", http_status);
  ck_assert_msg(json_is_true(json_object_get(t1, "journal_behind")),
                "t1 not stopped as journal_behind: %s", o.text);
  ck_assert_msg(strstr(o.text, "No space left on device"), "%s", o.text);
  ck_assert_str_eq(state_of(&o, 1), "DONE");
  /* nothing after the failed write was made: neither the value nor the
   * set_state queued after it */
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM kv WHERE key = 'boom'"), 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM transitions h JOIN jobs j ON"
                                   " j.id = h.job_id WHERE j.host = 't1' AND h.to_state IN"
                                   " ('KEY_READY', 'REQUESTED')"),
                   0);
  hc_stop(&catcher);
  tu_engine_out_free(&o);
}
END_TEST

/* t1's lease taken over by another process just before its put: the put
 * is refused in its commit's transaction (the fence), the request after
 * it never sent, t1 ends LEASE_LOST; t2 renews. */
START_TEST(fenced_write_stops_the_job_before_its_request) {
  tu_engine_out o = {0};
  run_rb(&o, 0, 1, 0);
  ck_assert_msg(hc_count(&catcher) == 0, "t1's request went out after its lease was lost");
  ck_assert_int_eq(put_rc, 0);
  ck_assert_int_eq(http_status, RD_ESTATE);
  ck_assert_msg(!strcmp(state_of(&o, 0), "LEASE_LOST") && !strcmp(state_of(&o, 1), "DONE"),
                "t1 %s, t2 %s: %s", state_of(&o, 0), state_of(&o, 1), o.text);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM kv WHERE key = 'txid'"), 0);
  hc_stop(&catcher);
  tu_engine_out_free(&o);
}
END_TEST

/* t1's put (in its install's apply) takes 1.5 s to commit, the step's
 * timeout is 1 s: the step times out with its request still held; once
 * the put committed, the request is answered as a late one
 * (RD_ECANCELED), never sent. */
START_TEST(timed_out_step_never_sends_its_held_request) {
  tu_engine_out o = {0};
  run_rb(&o, 0, 0, 1);
  ck_assert_msg(hc_count(&catcher) == 0, "t1's request went out after its step timed out: %s",
                o.text);
  ck_assert_int_eq(put_rc, 0);
  ck_assert_int_eq(http_status, RD_ECANCELED);
  ck_assert_msg(strstr(o.text, "apply timed out after 1000 ms"), "%s", o.text);
  ck_assert_msg(strcmp(state_of(&o, 0), "DONE") && !strcmp(state_of(&o, 1), "DONE"),
                "t1 %s, t2 %s: %s", state_of(&o, 0), state_of(&o, 1), o.text);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM kv WHERE key = 'txid'"), 1);
  hc_stop(&catcher);
  tu_engine_out_free(&o);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "job_writes (postgresql)" : "job_writes (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  if (pg) {
    tcase_add_test(tc, held_write_holds_the_next_request);
    tcase_add_test(tc, failed_write_stops_the_job_before_its_request);
    tcase_add_test(tc, fenced_write_stops_the_job_before_its_request);
    tcase_add_test(tc, timed_out_step_never_sends_its_held_request);
  }
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
