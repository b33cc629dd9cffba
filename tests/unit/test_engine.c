/* test_engine.c — the job flow of the real engine with step kinds defined
 * here (no remote I/O): ordering of probe/apply/verify, journaled states,
 * rollback order, restart after rollback, re-check against the old
 * certificate, whatif running probes only, pending and operator outcomes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "core/engine.h"
#include "store/journal.h"
#include "host/registry.h"
#include "config/runbook.h"
#include "httpcatch.h"
#include "testutil.h"

static char trace[4096];
static int fail_check_verify;   /* check.verify fails while expecting the new cert */
static int issue_outcome;       /* 0 ok, else the status the issuer's apply returns */
static long days_left = 1;
static const char *fail_host;   /* the issuer fails for this host */
static int fail_inst_rollback;  /* the install step's rollback fails */
static int inv_status;          /* the inventory probe's status */
static const char *ask_state;   /* the issuer's apply asks for this state first */
static int block_check;         /* the check's next N probes say its apply cannot succeed */
static int early_outcome;       /* the issuer's apply fails so before any request */

static void note(const char *what) {
  if (trace[0])
    strncat(trace, " ", sizeof trace - strlen(trace) - 1);
  strncat(trace, what, sizeof trace - strlen(trace) - 1);
}

static int inv_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  note("inv.probe");
  if (inv_status) {
    h->done(s, inv_status, NULL,
            "t1: host key not trusted:\nSHA256:Zm9v is not in /nonexistent/known_hosts");
    return 0;
  }
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:I, s:I, s:s}", "sha256", "old", "not_before",
                                (json_int_t)(now - 29 * 86400), "not_after",
                                (json_int_t)(now + days_left * 86400), "serial", "01"));
  h->done(s, 0, NULL, NULL);
  return 0;
}

static int iss_probe(rd_step *s, const rd_host_api *h) {
  note("iss.probe");
  h->done(s, 0, json_pack("{s:[{s:s, s:s, s:s}]}", "changes", "what", "certificate", "old", "01",
                          "new", "(new certificate)"),
          NULL);
  return 0;
}
static int iss_apply(rd_step *s, const rd_host_api *h) {
  note("iss.apply");
  if (fail_host && !strcmp(h->host(s), fail_host)) {
    h->done(s, RD_EDENIED, NULL, "denied for this host");
    return 0;
  }
  if (early_outcome) { /* e.g. GetCACaps timed out: nothing was sent */
    h->done(s, early_outcome, NULL, "CA unreachable");
    return 0;
  }
  if (issue_outcome == RD_EOPERATOR) { /* decided before any request */
    h->done(s, issue_outcome, NULL, "expired: enrol by hand");
    return 0;
  }
  if (ask_state) /* only the engine moves a job there: refused */
    note(h->set_state(s, ask_state) == RD_ESTATE ? "state-refused" : "STATE-ALLOWED");
  h->set_state(s, "KEY_READY");
  h->set_state(s, "REQUESTED");
  if (issue_outcome) {
    h->done(s, issue_outcome, NULL, "issuer says no");
    return 0;
  }
  json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s, s:s}", "sha256", "new", "serial", "02"));
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int iss_rollback(rd_step *s, const rd_host_api *h) {
  note("iss.rollback");
  h->done(s, 0, NULL, NULL);
  return 0;
}

#define SIMPLE(fn, label)                                                      \
  static int fn(rd_step *s, const rd_host_api *h) {                            \
    note(label);                                                               \
    h->done(s, 0, NULL, NULL);                                                 \
    return 0;                                                                  \
  }
SIMPLE(inst_probe, "inst.probe")
SIMPLE(inst_apply, "inst.apply")
SIMPLE(inst_verify, "inst.verify")
static int inst_rollback(rd_step *s, const rd_host_api *h) {
  note("inst.rollback");
  h->done(s, fail_inst_rollback ? RD_EREMOTE : 0, NULL,
          fail_inst_rollback ? "t1: cannot restore the old certificate" : NULL);
  return 0;
}
SIMPLE(rs_probe, "rs.probe")
SIMPLE(rs_apply, "rs.apply")
SIMPLE(rs_rollback, "rs.rollback")
static int chk_probe(rd_step *s, const rd_host_api *h) {
  note("chk.probe");
  if (block_check > 0) {
    block_check--;
    h->donef(s, RD_ENOTFOUND, NULL,
             "config /etc/app.conf: does not contain the current certificate's sha256 old");
    return 0;
  }
  h->done(s, 0, NULL, NULL);
  return 0;
}
SIMPLE(chk_apply, "chk.apply")

static int chk_verify(rd_step *s, const rd_host_api *h) {
  const char *expect = json_string_value(json_object_get(json_object_get(h->facts(s), "expect"), "sha256"));
  char buf[64];
  snprintf(buf, sizeof buf, "chk.verify(%s)", expect ? expect : "-");
  note(buf);
  if (fail_check_verify && expect && !strcmp(expect, "new")) {
    h->done(s, RD_EVERIFY, NULL, "served certificate is not the new one");
    return 0;
  }
  h->done(s, 0, NULL, NULL);
  return 0;
}

/* A probe must not change anything: a mutating script is refused in whatif. */
static const rd_script mutating = {"test.mutate", RD_PLATFORM_POSIX, 1, 0, "touch /tmp/x\n"};
static int whatif_probe(rd_step *s, const rd_host_api *h) {
  int rc = h->remote(s, &mutating, NULL, NULL, NULL);
  note(rc == RD_EWHATIF ? "refused" : "NOT-REFUSED");
  h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = iss_probe,
                                   .apply = iss_apply, .rollback = iss_rollback};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL, .probe = inst_probe,
                                    .apply = inst_apply, .verify = inst_verify, .rollback = inst_rollback};
static const rd_step_kind k_rs = {.type = "test.restart", .flags = RD_KIND_RESTART, .probe = rs_probe,
                                  .apply = rs_apply, .rollback = rs_rollback};
static const rd_step_kind k_chk = {.type = "test.check", .flags = RD_KIND_CHECK, .probe = chk_probe,
                                   .apply = chk_apply, .verify = chk_verify};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static const rd_step_kind k_chk_whatif = {.type = "test.check", .flags = RD_KIND_CHECK, .probe = whatif_probe};
static const rd_step_kind *const kinds_w[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk_whatif, NULL};
static const rd_plugin plugin_w = RD_PLUGIN_INIT("testw", "1", kinds_w);
/* The check as a pure check: nothing to apply, only probe and verify. */
static const rd_step_kind k_chk_pure = {.type = "test.check", .flags = RD_KIND_CHECK, .probe = chk_probe,
                                        .verify = chk_verify};
static const rd_step_kind *const kinds_c[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk_pure, NULL};
static const rd_plugin plugin_c = RD_PLUGIN_INIT("testc", "1", kinds_c);

typedef struct run_out {
  int code;
  char state[32];
  rd_engine_stats stats;
} run_out;

static json_t *last_report;
static char *last_text; /* the report for people */

static run_out run_file(const char *file, const rd_plugin *p, int whatif, const char *jpath) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_journal *j = NULL;
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[512];
  run_out o = {0};
  FILE *devnull = fopen("/dev/null", "w");
  /* whatif 2: a plan given the journal at jpath to read (opts.peek) */
  rd_engine_opts eo = {.whatif = whatif != 0, .out = devnull};
  trace[0] = 0;
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, p, "test", err, sizeof err), 0);
  ck_assert_msg(rd_runbook_load(file, reg, &rb, &diag) == 0, "runbook");
  if (!whatif)
    ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  if (whatif == 2)
    ck_assert_msg(rd_journal_open_ex(jpath, RD_JOURNAL_MUST_EXIST, &eo.peek, err, sizeof err) == 0,
                  "%s", err);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, j, &eo, &e), 0);
  ck_assert_int_eq(rd_engine_add_runbook(e, rb), 0);
  o.code = rd_engine_run(e, &o.stats);
  const json_t *job = json_array_get(json_object_get(rd_engine_report(e), "jobs"), 0);
  json_decref(last_report);
  last_report = json_deep_copy(rd_engine_report(e));
  {
    size_t tl = 0;
    FILE *tf;
    free(last_text);
    last_text = NULL;
    ck_assert_ptr_nonnull(tf = open_memstream(&last_text, &tl));
    rd_engine_print_report(e, tf);
    fclose(tf);
  }
  snprintf(o.state, sizeof o.state, "%s", json_string_value(json_object_get(job, "state")));
  if (j && json_object_get(job, "job_id")) { /* a journal job was opened */
    rd_job_row row;
    ck_assert_int_eq(rd_journal_job_last(j, "t1", strstr(file, "waves") ? "/etc/pki/t.crt" : "/etc/pki/t1.crt", &row), 0);
    ck_assert_str_eq(rd_job_state_name(row.state), o.state);
  }
  rd_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(j);
  rd_journal_close(eo.peek);
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
  return o;
}

static run_out run(const rd_plugin *p, int whatif, const char *jpath) {
  return run_file(FIXTURES "/engine/flow.json", p, whatif, jpath);
}

static const char *job_field(size_t i, const char *key) {
  return json_string_value(json_object_get(json_array_get(json_object_get(last_report, "jobs"), i), key));
}
static json_int_t job_wave(size_t i) {
  return json_integer_value(json_object_get(json_array_get(json_object_get(last_report, "jobs"), i), "wave"));
}

static char jdir[] = "/tmp/renewd-test-engine-XXXXXX";
static char jpath[256];
static void setup(void) {
  ck_assert_ptr_nonnull(mkdtemp(strcpy(jdir, "/tmp/renewd-test-engine-XXXXXX")));
  snprintf(jpath, sizeof jpath, "%s/journal.db", jdir);
  fail_check_verify = 0;
  issue_outcome = 0;
  days_left = 1;
  fail_host = NULL;
  fail_inst_rollback = 0;
  inv_status = 0;
  ask_state = NULL;
  block_check = 0;
  early_outcome = 0;
}
static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
  ck_assert_int_eq(system(cmd), 0);
}

/* A renewal's pre-flight: every step's probe, before the CA is contacted. */
#define PREFLIGHT "inv.probe iss.probe inst.probe rs.probe chk.probe "

START_TEST(renews_in_order) {
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply inst.probe inst.apply inst.verify "
                                    "rs.probe rs.apply chk.probe chk.apply chk.verify(new)");
  ck_assert_str_eq(o.state, "DONE");
  ck_assert_int_eq(o.code, 10);
  ck_assert_int_eq(o.stats.renewed, 1);
}
END_TEST

START_TEST(not_due_does_nothing) {
  days_left = 60;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(trace, "inv.probe");
  ck_assert_int_eq(o.code, 0);
  ck_assert_int_eq(o.stats.due, 0);
}
END_TEST

START_TEST(verify_failure_rolls_back) {
  fail_check_verify = 1;
  run_out o = run(&plugin, 0, jpath);
  /* the failed check, then every applied step last-first, then the restart
   * again, then the check against the old certificate */
  ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply inst.probe inst.apply inst.verify "
                                    "rs.probe rs.apply chk.probe chk.apply chk.verify(new) "
                                    "rs.rollback inst.rollback iss.rollback rs.apply chk.verify(old)");
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_int_eq(o.code, 1);
  ck_assert_int_eq(o.stats.rolled_back, 1);
}
END_TEST

START_TEST(backoff_after_rollback) {
  fail_check_verify = 1;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  /* the next run waits: the backoff of a rolled-back renewal is hours */
  fail_check_verify = 0;
  o = run(&plugin, 0, jpath);
  ck_assert_str_eq(trace, "inv.probe");
  ck_assert_str_eq(o.state, "BACKOFF");
  ck_assert_int_eq(o.stats.skipped, 1);
}
END_TEST

/* The newest job of t1's certificate in the journal at jpath (its id). */
static int64_t last_job_id(void) {
  rd_journal *j = NULL;
  rd_job_row row;
  char err[512];
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_journal_job_last(j, "t1", "/etc/pki/t1.crt", &row), 0);
  rd_journal_close(j);
  return row.id;
}

/* A plan given the journal a run would use says what that run would do: a
 * host waiting out its backoff is BACKOFF (exit 1, as the run), not "would
 * renew"; the journal is only read. Without it, the plan cannot know. */
START_TEST(plan_with_journal_shows_backoff) {
  fail_check_verify = 1;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  int64_t id = last_job_id();
  fail_check_verify = 0;
  o = run(&plugin, 2, jpath);
  ck_assert_str_eq(trace, "inv.probe");
  ck_assert_str_eq(o.state, "BACKOFF");
  ck_assert_int_eq(o.code, 1);
  ck_assert_int_eq(o.stats.skipped, 1);
  ck_assert_msg(strstr(last_text, "backing off until") && strstr(last_text, "ended ROLLED_BACK"),
                "%s", last_text);
  ck_assert_int_eq(last_job_id(), id); /* nothing written */
  o = run(&plugin, 1, jpath);
  ck_assert_str_eq(o.state, "WOULD_RENEW");
  ck_assert_int_eq(o.code, 10);
}
END_TEST

/* A plan names the unfinished job the run would resume, and what the run
 * does with it: a request already at the CA is polled, never sent again. */
START_TEST(plan_with_journal_names_the_job_resumed) {
  issue_outcome = RD_EPENDING;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(o.state, "PENDING_CA");
  int64_t id = last_job_id();
  issue_outcome = 0;
  o = run(&plugin, 2, jpath);
  ck_assert_str_eq(o.state, "WOULD_RENEW");
  const json_t *res = json_object_get(json_array_get(json_object_get(last_report, "jobs"), 0), "resumes");
  ck_assert_ptr_nonnull(res);
  ck_assert_int_eq(json_integer_value(json_object_get(res, "job")), id);
  ck_assert_str_eq(json_string_value(json_object_get(res, "state")), "PENDING_CA");
  ck_assert_msg(strstr(last_text, "resumes: job") && strstr(last_text, "no new request"), "%s",
                last_text);
  ck_assert_int_eq(last_job_id(), id);
}
END_TEST

START_TEST(issuer_failure_cleans_up_and_fails) {
  issue_outcome = RD_EDENIED;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply iss.rollback");
  ck_assert_str_eq(o.state, "FAILED");
  ck_assert_int_eq(o.code, 1);
}
END_TEST

START_TEST(pending_and_operator) {
  issue_outcome = RD_EPENDING;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(o.state, "PENDING_CA");
  ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply");
  teardown();
  setup();
  issue_outcome = RD_EOPERATOR;
  o = run(&plugin, 0, jpath);
  ck_assert_str_eq(o.state, "NEEDS_OPERATOR");
  ck_assert_int_eq(o.code, 1);
}
END_TEST

/* The issuer fails transiently after its request went out (its step timer
 * fired while the CA held the request, or the CA stopped answering a poll):
 * the CA may issue, so the job waits at the CA with its journaled
 * transaction instead of failing — no cleanup of the issuer's staging (no
 * iss.rollback), PENDING_CA — and the next run resumes it. The same failure
 * before anything was sent still cleans up and fails. */
START_TEST(transient_issuer_failure_after_request_waits_at_ca) {
  static const int transient[] = {RD_ETIMEDOUT, RD_ENETWORK, RD_ECONNREFUSED};
  for (size_t i = 0; i < sizeof transient / sizeof *transient; i++) {
    teardown();
    setup();
    issue_outcome = transient[i];
    run_out o = run(&plugin, 0, jpath);
    ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply");
    ck_assert_str_eq(o.state, "PENDING_CA");
    ck_assert_int_eq(o.code, 0);
    ck_assert_int_eq(o.stats.pending, 1);
    ck_assert_msg(strstr(last_text, "issuer says no; the request may have reached the CA: the "
                                    "next run polls it (never a new request)"),
                  "%s", last_text);
    issue_outcome = 0;
    o = run(&plugin, 0, jpath);
    ck_assert_str_eq(o.state, "DONE");
    ck_assert_str_eq(job_field(0, "resumed_from"), "PENDING_CA");
  }
  teardown();
  setup();
  early_outcome = RD_ETIMEDOUT;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply iss.rollback");
  ck_assert_str_eq(o.state, "FAILED");
}
END_TEST

START_TEST(whatif_runs_probes_only) {
  run_out o = run(&plugin_w, 1, NULL);
  ck_assert_str_eq(trace, "inv.probe iss.probe inst.probe rs.probe refused");
  ck_assert_str_eq(o.state, "WOULD_RENEW");
  ck_assert_int_eq(o.code, 10);
}
END_TEST

START_TEST(waves_in_order) {
  run_out o = run_file(FIXTURES "/engine/waves.json", &plugin, 0, jpath);
  ck_assert_int_eq(o.code, 10);
  ck_assert_int_eq(o.stats.renewed, 4);
  /* every target is probed (pre-flight included) before the first
   * renewal; then 1, 1, 2 */
#define WAVES_PREFLIGHT "inv.probe iss.probe inst.probe chk.probe "
  ck_assert_msg(!strncmp(trace, WAVES_PREFLIGHT WAVES_PREFLIGHT WAVES_PREFLIGHT WAVES_PREFLIGHT "iss.probe iss.apply",
                         strlen(WAVES_PREFLIGHT) * 4 + strlen("iss.probe iss.apply")),
                "%s", trace);
  ck_assert_int_eq(job_wave(0), 1);
  ck_assert_int_eq(job_wave(1), 2);
  ck_assert_int_eq(job_wave(2), 3);
  ck_assert_int_eq(job_wave(3), 3);
  for (size_t i = 0; i < 4; i++)
    ck_assert_str_eq(job_field(i, "state"), "DONE");
}
END_TEST

START_TEST(failed_canary_holds_the_rest) {
  fail_host = "t1";
  run_out o = run_file(FIXTURES "/engine/waves.json", &plugin, 0, jpath);
  ck_assert_int_eq(o.code, 1);
  ck_assert_str_eq(job_field(0, "state"), "FAILED");
  for (size_t i = 1; i < 4; i++) {
    ck_assert_str_eq(job_field(i, "state"), "HELD");
    ck_assert_ptr_nonnull(strstr(job_field(i, "error"), "wave 1 of runbook engine-waves had a failure"));
  }
  /* only t1 ever reached its issuer */
  ck_assert_ptr_null(strstr(strstr(trace, "iss.apply") + 1, "iss.apply"));
}
END_TEST

/* A runbook like flow.json whose notify.webhook points at a local catcher. */
static void write_notify_runbook(const char *path, int port) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"engine-notify\",\n"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\"}]},\n"
          " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/k\", \"known_hosts\": \"/nonexistent/kh\"},\n"
          " \"certificate\": {\"cert\": \"/etc/pki/t1.crt\", \"key\": \"/etc/pki/t1.key\"},\n"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
          "   \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
          " \"policy\": {\"renew_before\": \"10d\"},\n"
          " \"steps\": [{\"type\": \"test.check\", \"name\": \"check\"}],\n"
          " \"notify\": {\"webhook\": {\"url\": \"http://127.0.0.1:%d/hook\",\n"
          "   \"token\": {\"env\": \"RENEWD_TEST_WEBHOOK_TOKEN\"}}, \"before_expiry_days\": [30, 14, 7]}}\n",
          port);
  fclose(f);
}

START_TEST(webhook_once_per_event) {
  hc_server hc;
  char rb[300];
  ck_assert_int_eq(hc_start(&hc), 0);
  snprintf(rb, sizeof rb, "%s/notify.json", jdir);
  write_notify_runbook(rb, hc.port);
  setenv("RENEWD_TEST_WEBHOOK_TOKEN", "s3cret-token", 1);
  fail_check_verify = 1; /* the renewal rolls back: one "job" event */
  run_out o = run_file(rb, &plugin, 0, jpath);
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_int_eq(hc_count(&hc), 2);
  /* 1 day left crosses 30, 14 and 7: one event, for 7 */
  const char *exp = strstr(hc.requests[0], "\"event\":\"expiring\"") ? hc.requests[0] : hc.requests[1];
  const char *job = exp == hc.requests[0] ? hc.requests[1] : hc.requests[0];
  ck_assert_ptr_nonnull(strstr(exp, "POST /hook "));
  ck_assert_ptr_nonnull(strstr(exp, "Authorization: Bearer s3cret-token"));
  ck_assert_ptr_nonnull(strstr(exp, "\"threshold_days\":7"));
  ck_assert_ptr_nonnull(strstr(job, "\"event\":\"job\""));
  ck_assert_ptr_nonnull(strstr(job, "\"state\":\"ROLLED_BACK\""));
  ck_assert_ptr_nonnull(strstr(job, "served certificate is not the new one"));
  /* the next run is in backoff: no new job event, and the expiry was sent */
  fail_check_verify = 0;
  o = run_file(rb, &plugin, 0, jpath);
  ck_assert_str_eq(o.state, "BACKOFF");
  ck_assert_int_eq(hc_count(&hc), 2);
  hc_stop(&hc);
  unsetenv("RENEWD_TEST_WEBHOOK_TOKEN");
}
END_TEST


/* One failed rollback is one failure: in the stats, the exit code, the
 * report's stats and its summary line. */
START_TEST(failed_rollback_counts_once) {
  fail_check_verify = 1;
  fail_inst_rollback = 1;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply inst.probe inst.apply inst.verify "
                                    "rs.probe rs.apply chk.probe chk.apply chk.verify(new) "
                                    "rs.rollback inst.rollback iss.rollback rs.apply chk.verify(old)");
  ck_assert_str_eq(o.state, "FAILED");
  ck_assert_int_eq(o.stats.failed, 1);
  ck_assert_int_eq(o.stats.rolled_back, 0);
  ck_assert_int_eq(o.code, 1);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(last_report, "stats"), "failed")), 1);
  ck_assert_ptr_nonnull(strstr(last_text, "0 renewed, 1 failed, 0 rolled back"));
  ck_assert_ptr_nonnull(strstr(job_field(0, "rollback_error"), "served certificate is not the new one"));
}
END_TEST

static size_t count_in(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* A host whose key is not trusted: the headline says so, once, on one line
 * (the message's newline prints as a space), and does not claim that no
 * certificate was found (nothing was looked at). */
START_TEST(headline_names_the_cause) {
  inv_status = RD_EHOSTKEY;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(o.state, "FAILED");
  ck_assert_str_eq(trace, "inv.probe");
  ck_assert_msg(!strncmp(last_text,
                         "host t1 (posix): FAILED — inventory: probe: t1: host key not trusted: "
                         "SHA256:Zm9v is not in /nonexistent/known_hosts\n",
                         strlen("host t1 (posix): FAILED — inventory: probe: t1: host key not "
                                "trusted: SHA256:Zm9v is not in /nonexistent/known_hosts\n")),
                "%s", last_text);
  ck_assert_ptr_null(strstr(last_text, "no certificate found"));
  ck_assert_int_eq(count_in(last_text, "host key not trusted"), 1);
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(json_array_get(json_object_get(last_report, "jobs"), 0), "cause"),
                       "status")),
                   "RD_EHOSTKEY");
}
END_TEST

/* Plugins ask for a state; the engine decides: an end state is its own. */
START_TEST(set_state_is_a_request) {
  ask_state = "DONE";
  run_out o = run(&plugin, 0, jpath);
  ck_assert_ptr_nonnull(strstr(trace, "iss.apply state-refused"));
  ck_assert_str_eq(o.state, "DONE"); /* reached the normal way */
  teardown();
  setup();
  ask_state = "ISSUED"; /* the engine moves to ISSUED once the issuer verified */
  o = run(&plugin, 0, jpath);
  ck_assert_ptr_nonnull(strstr(trace, "iss.apply state-refused"));
  ck_assert_str_eq(o.state, "DONE");
}
END_TEST

/* A runbook like flow.json with a passphrase read from the environment. */
static void write_passphrase_runbook(const char *path) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "{\"name\": \"engine-pass\",\n"
             " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\"}]},\n"
             " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/k\", \"known_hosts\": "
             "\"/nonexistent/kh\",\n"
             "   \"passphrase\": {\"env\": \"RENEWD_TEST_NO_SUCH_PASSPHRASE\"}},\n"
             " \"certificate\": {\"cert\": \"/etc/pki/t1.crt\", \"key\": \"/etc/pki/t1.key\"},\n"
             " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
             "   \"ca_fingerprint\": "
             "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
             " \"steps\": [{\"type\": \"test.check\", \"name\": \"check\"}]}\n");
  fclose(f);
}

/* A passphrase that cannot be read fails the job before any connection,
 * naming the host and where the secret was to come from. */
START_TEST(unreadable_passphrase_fails_the_job) {
  char rb[300];
  snprintf(rb, sizeof rb, "%s/pass.json", jdir);
  write_passphrase_runbook(rb);
  unsetenv("RENEWD_TEST_NO_SUCH_PASSPHRASE");
  run_out o = run_file(rb, &plugin, 1, NULL);
  ck_assert_str_eq(trace, ""); /* nothing ran */
  ck_assert_str_eq(o.state, "FAILED");
  ck_assert_int_eq(o.stats.failed, 1);
  ck_assert_int_eq(o.code, 1);
  ck_assert_ptr_nonnull(strstr(job_field(0, "error"), "host t1: ssh.passphrase: "));
  ck_assert_ptr_nonnull(strstr(job_field(0, "error"), "RENEWD_TEST_NO_SUCH_PASSPHRASE"));
}
END_TEST


/* A host still waiting out the backoff of an earlier failure takes no
 * wave's place: the canary wave is the next host, and the fleet renews. */
START_TEST(backed_off_canary_holds_nothing) {
  fail_host = "t1";
  run_out o = run_file(FIXTURES "/engine/waves.json", &plugin, 0, jpath);
  ck_assert_str_eq(job_field(0, "state"), "FAILED");
  ck_assert_str_eq(job_field(1, "state"), "HELD");
  fail_host = NULL;
  o = run_file(FIXTURES "/engine/waves.json", &plugin, 0, jpath);
  ck_assert_str_eq(job_field(0, "state"), "BACKOFF");
  for (size_t i = 1; i < 4; i++)
    ck_assert_msg(!strcmp(job_field(i, "state"), "DONE"), "t%zu: %s: %s", i + 1,
                  job_field(i, "state"), job_field(i, "error"));
  ck_assert_int_eq(job_wave(1), 1); /* t2 is the canary now */
  ck_assert_int_eq(o.stats.renewed, 3);
  ck_assert_int_eq(o.stats.skipped, 1);
  ck_assert_int_eq(o.code, 1); /* t1 is still due */
}
END_TEST

/* A canary whose host is leased by another live process (BUSY) did not run:
 * it holds nobody; the next due host is the canary. */
START_TEST(busy_canary_holds_nothing) {
  rd_journal *jr = NULL;
  char err[256];
  rd_lease_owner other = {.node = "elsewhere", .pid = 1, .start = 42};
  rd_lease_req r = {.host = "t1", .owner = &other, .what = "runbook other", .ttl_s = 600};
  int64_t epoch = 0;
  ck_assert_msg(rd_journal_open(jpath, &jr, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_journal_lease_claim(jr, &r, &epoch, NULL), 0);
  rd_journal_close(jr);
  run_out o = run_file(FIXTURES "/engine/waves.json", &plugin, 0, jpath);
  ck_assert_str_eq(job_field(0, "state"), "BUSY");
  for (size_t i = 1; i < 4; i++)
    ck_assert_msg(!strcmp(job_field(i, "state"), "DONE"), "t%zu: %s: %s", i + 1,
                  job_field(i, "state"), job_field(i, "error"));
  ck_assert_int_eq(o.stats.renewed, 3);
  ck_assert_int_eq(o.code, 1); /* t1 is still due */
}
END_TEST

/* A job resumed from the journal past issuance (follow-ups owed) finishes
 * even when the canary wave fails and holds the rest. */
START_TEST(resumed_job_finishes_whatever_the_waves_say) {
  rd_journal *jr = NULL;
  char err[256];
  int64_t id = 0;
  int created = 0;
  static const rd_job_state path[] = {RD_JOB_PROBED, RD_JOB_KEY_READY, RD_JOB_REQUESTED,
                                      RD_JOB_ISSUED, RD_JOB_INSTALLED};
  ck_assert_msg(rd_journal_open(jpath, &jr, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_journal_job_open(jr, "engine-waves", "t4", "/etc/pki/t.crt", &id, &created), 0);
  for (size_t i = 0; i < sizeof path / sizeof *path; i++) {
    rd_job_advance a = {.to = path[i]};
    ck_assert_int_eq(rd_journal_job_advance(jr, id, &a), 0);
  }
  rd_journal_close(jr);
  fail_host = "t1";
  run_file(FIXTURES "/engine/waves.json", &plugin, 0, jpath);
  ck_assert_str_eq(job_field(0, "state"), "FAILED");
  ck_assert_str_eq(job_field(1, "state"), "HELD");
  ck_assert_str_eq(job_field(2, "state"), "HELD");
  ck_assert_msg(!strcmp(job_field(3, "state"), "DONE"), "t4: %s: %s", job_field(3, "state"),
                job_field(3, "error"));
  ck_assert_str_eq(job_field(3, "resumed_from"), "INSTALLED");
}
END_TEST

/* A follow-up whose probe says its apply cannot succeed stops the job before
 * the CA is contacted, with that probe's message; no journal job, so no
 * backoff: once the cause is fixed the next run renews. */
START_TEST(blocked_probe_stops_before_the_request) {
  block_check = 1;
  run_out o = run(&plugin, 0, jpath);
  ck_assert_str_eq(trace, "inv.probe iss.probe inst.probe rs.probe chk.probe");
  ck_assert_str_eq(o.state, "FAILED");
  ck_assert_int_eq(o.code, 1);
  ck_assert_int_eq(o.stats.failed, 1);
  ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(last_report, "jobs"), 0), "job_id"));
  ck_assert_str_eq(job_field(0, "error"),
                   "host t1: check: probe: t1: config /etc/app.conf: does not contain the current "
                   "certificate's sha256 old");
  ck_assert_ptr_nonnull(strstr(last_text, "FAILED — check: probe: t1: config /etc/app.conf"));
  { /* the journal's audit log keeps the stop and its cause */
    sqlite3 *db;
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_open(jpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT detail FROM audit WHERE event = "
                                            "'job.preflight_failed'", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_ptr_nonnull(strstr((const char *)sqlite3_column_text(q, 0), "does not contain"));
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  block_check = 0;
  o = run(&plugin, 0, jpath);
  ck_assert_str_eq(o.state, "DONE");
}
END_TEST

/* A pure check (nothing to apply) whose probe fails in the pre-flight (the
 * service is down now) does not stop the job: its verify after the install
 * decides; here the service answers again by then. */
START_TEST(failed_check_probe_does_not_block) {
  block_check = 1;
  run_out o = run(&plugin_c, 0, jpath);
  ck_assert_str_eq(trace, PREFLIGHT "iss.probe iss.apply inst.probe inst.apply inst.verify "
                                    "rs.probe rs.apply chk.probe chk.verify(new)");
  ck_assert_str_eq(o.state, "DONE");
  ck_assert_ptr_null(job_field(0, "error"));
  ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(last_report, "jobs"), 0), "cause"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine");
  TCase *tc = tcase_create("flow");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, renews_in_order);
  tcase_add_test(tc, not_due_does_nothing);
  tcase_add_test(tc, verify_failure_rolls_back);
  tcase_add_test(tc, backoff_after_rollback);
  tcase_add_test(tc, plan_with_journal_shows_backoff);
  tcase_add_test(tc, plan_with_journal_names_the_job_resumed);
  tcase_add_test(tc, issuer_failure_cleans_up_and_fails);
  tcase_add_test(tc, pending_and_operator);
  tcase_add_test(tc, transient_issuer_failure_after_request_waits_at_ca);
  tcase_add_test(tc, whatif_runs_probes_only);
  tcase_add_test(tc, waves_in_order);
  tcase_add_test(tc, failed_canary_holds_the_rest);
  tcase_add_test(tc, webhook_once_per_event);
  tcase_add_test(tc, failed_rollback_counts_once);
  tcase_add_test(tc, headline_names_the_cause);
  tcase_add_test(tc, set_state_is_a_request);
  tcase_add_test(tc, unreadable_passphrase_fails_the_job);
  tcase_add_test(tc, backed_off_canary_holds_nothing);
  tcase_add_test(tc, busy_canary_holds_nothing);
  tcase_add_test(tc, resumed_job_finishes_whatever_the_waves_say);
  tcase_add_test(tc, blocked_probe_stops_before_the_request);
  tcase_add_test(tc, failed_check_probe_does_not_block);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  json_decref(last_report);
  free(last_text);
  return rc;
}
