/* test_engine_rollback.c — a rollback that could not reach the host
 * (core/job.c, docs/JOURNAL.md "Resuming after a restart"), with
 * asynchronous step kinds defined here (every phase answers from
 * host->work(), as a remote script would). The host goes away while a
 * follow-up runs (the new certificate installed): the follow-up fails
 * RD_ENETWORK and every rollback that needs the host fails RD_ECONNREFUSED.
 * The job must stay ROLLING_BACK (owed, not terminal); the next run, with
 * the host back, runs every probe (the check needs the issuer's CA) and
 * finishes the rollback from the journal's step records (old certificate
 * and pin back, no second request), and the run after that renews. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/runbook.h"
#include "core/engine.h"
#include "store/journal.h"
#include "async_kinds.h"
#include "engine_run.h"
#include "testutil.h"

static int installed, pinned; /* on the host: 1 the old certificate, 2 the new */
static int host_down;         /* set by the follow-up's apply (sshd killed) */
static int drop_host;         /* run 1: the follow-up's apply takes the host down */
static int refuse;            /* the follow-up's apply and rollback fail RD_EREMOTE */
static char jdir[64], jpath[128], rb[160];

/* What each phase does to the host model; its status. */
static int act(rd_step *s, const rd_host_api *h, const char *name) {
  int remote = strncmp(name, "iss.", 4) != 0; /* the issuer talks to the CA */
  if (remote && host_down)
    return RD_ECONNREFUSED;
  if (!strcmp(name, "inv.probe")) {
    time_t now = time(NULL);
    long left = installed > 1 ? 60 : 1; /* days: renewed, or due */
    json_object_set_new(h->facts(s), "cert",
                        json_pack("{s:s, s:I, s:I, s:i}", "sha256", installed > 1 ? "new" : "old",
                                  "not_before", (json_int_t)(now - 29 * 86400), "not_after",
                                  (json_int_t)(now + left * 86400), "serial", installed));
  } else if (!strcmp(name, "iss.probe")) { /* the CA, for the checks */
    json_object_set_new(h->facts(s), "ca_pem", json_string("CA"));
  } else if (!strcmp(name, "iss.apply")) {
    h->set_state(s, "KEY_READY");
    h->set_state(s, "REQUESTED");
    json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  } else if (!strcmp(name, "inst.apply")) {
    installed = 2;
  } else if (!strcmp(name, "inst.rollback")) {
    installed = 1;
  } else if (!strcmp(name, "pin.apply")) {
    pinned = 2; /* half applied when the link drops */
    if (refuse)
      return RD_EREMOTE;
    if (drop_host) {
      host_down = 1;
      return RD_ENETWORK;
    }
  } else if (!strcmp(name, "pin.rollback")) {
    if (refuse)
      return RD_EREMOTE;
    pinned = 1;
  } else if (!strcmp(name, "chk.verify") &&
             (pinned != installed || !json_object_get(h->facts(s), "ca_pem"))) {
    return RD_EVERIFY;
  }
  return 0;
}

static void answered(rd_step *s, int status, const tu_answer *a) {
  int st = status ? status : act(s, a->h, a->name);
  tu_note(a->name);
  a->h->done(s, st, NULL, st == RD_ECONNREFUSED ? "ssh: connection refused" : NULL);
}

static int start(rd_step *s, const rd_host_api *h, const char *name) {
  return tu_answer_later(s, &(tu_answer){.h = h, .name = name, .ms = 5, .fn = answered});
}

#define PHASE(fn, label)                                                       \
  static int fn(rd_step *s, const rd_host_api *h) { return start(s, h, label); }
PHASE(inv_probe, "inv.probe")
PHASE(iss_probe, "iss.probe")
PHASE(iss_apply, "iss.apply")
PHASE(iss_rollback, "iss.rollback")
PHASE(inst_probe, "inst.probe")
PHASE(inst_apply, "inst.apply")
PHASE(inst_verify, "inst.verify")
PHASE(inst_rollback, "inst.rollback")
PHASE(pin_probe, "pin.probe")
PHASE(pin_apply, "pin.apply")
PHASE(pin_rollback, "pin.rollback")
PHASE(chk_probe, "chk.probe")
PHASE(chk_verify, "chk.verify")

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER,
                                   .probe = iss_probe, .apply = iss_apply,
                                   .rollback = iss_rollback};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = inst_probe, .apply = inst_apply,
                                    .verify = inst_verify, .rollback = inst_rollback};
static const rd_step_kind k_pin = {.type = "test.pin", .probe = pin_probe, .apply = pin_apply,
                                   .rollback = pin_rollback};
static const rd_step_kind k_chk = {.type = "test.check", .flags = RD_KIND_CHECK,
                                   .probe = chk_probe, .verify = chk_verify};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_pin, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static void setup(void) {
  FILE *f;
  tu_tmpdir(jdir, jpath, "rollback");
  snprintf(rb, sizeof rb, "%s/rb.json", jdir);
  ck_assert_ptr_nonnull(f = fopen(rb, "w"));
  fputs("{\"name\": \"rb\","
        " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\","
        " \"platform\": \"posix\"}]},"
        " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\","
        " \"known_hosts\": \"/nonexistent/kh\"},"
        " \"certificate\": {\"cert\": \"/etc/pki/t1.crt\", \"key\": \"/etc/pki/t1.key\"},"
        " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\","
        " \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
        " \"policy\": {\"renew_before\": \"10d\"},"
        " \"steps\": [{\"type\": \"test.pin\", \"name\": \"pin\"},"
        " {\"type\": \"test.check\", \"name\": \"check\"}]}\n",
        f);
  fclose(f);
  installed = pinned = 1;
  host_down = drop_host = refuse = 0;
}

static void teardown(void) { tu_tmpdir_remove(jdir); }

static tu_engine_out run(int force) {
  const char *files[] = {rb, NULL};
  tu_engine_out o = {0};
  rd_engine_opts eo = {.force = force};
  tu_trace[0] = 0;
  tu_engine_run(&plugin, files, &eo, jpath, &o);
  return o;
}

static json_t *job0(const tu_engine_out *o) {
  return json_array_get(json_object_get(o->report, "jobs"), 0);
}

/* The newest journal job of t1. */
static rd_job_row last_job(void) {
  rd_journal *j = NULL;
  rd_job_row row;
  char err[512];
  ck_assert_int_eq(rd_journal_open(jpath, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_job_last(j, "t1", "/etc/pki/t1.crt", &row), 0);
  rd_journal_close(j);
  return row;
}

START_TEST(unreachable_rollback_is_owed_then_finished) {
  rd_job_row row;
  int64_t id;
  /* run 1: the link drops during the follow-up, the rollback cannot reach
   * the host: nothing is finished, the job stays ROLLING_BACK */
  drop_host = 1;
  tu_engine_out o = run(0);
  drop_host = 0;
  ck_assert_msg(strstr(tu_trace, "pin.apply pin.rollback inst.rollback"), "%s", tu_trace);
  ck_assert_int_eq(o.code, 1);
  ck_assert_int_eq(o.stats.failed, 1);
  ck_assert_str_eq(json_string_value(json_object_get(job0(&o), "state")), "ROLLING_BACK");
  ck_assert(json_is_true(json_object_get(job0(&o), "rollback_owed")));
  ck_assert_msg(strstr(json_string_value(json_object_get(job0(&o), "error")), "rollback owed"),
                "%s", o.text);
  /* the report says so first, with what to do, then the cause */
  ck_assert_msg(!strncmp(o.text, "host t1 (posix): ROLLBACK OWED (state ROLLING_BACK) — the "
                                 "rollback could not reach the host; make it reachable, then "
                                 "run this runbook again",
                         strlen("host t1 (posix): ROLLBACK OWED (state ROLLING_BACK) — the "
                                "rollback could not reach the host; make it reachable, then "
                                "run this runbook again")),
                "%s", o.text);
  ck_assert_msg(strstr(o.text, "\n  cause: pin: apply: "), "%s", o.text);
  ck_assert_int_eq(installed, 2); /* the new certificate live, the old pin */
  ck_assert_int_eq(pinned, 2);
  row = last_job();
  id = row.id;
  ck_assert_str_eq(rd_job_state_name(row.state), "ROLLING_BACK");
  ck_assert_msg(strstr(row.error, "rollback owed"), "%s", row.error);

  /* run 2, the host back: the same job finishes its rollback, no request,
   * no backoff in the way (no --force) */
  host_down = 0;
  tu_engine_out_free(&o);
  o = run(0);
  ck_assert_msg(!strstr(tu_trace, "iss.apply") && !strstr(tu_trace, ".apply"), "%s", tu_trace);
  ck_assert_msg(strstr(tu_trace, "pin.rollback inst.rollback iss.rollback chk.verify"), "%s", tu_trace);
  ck_assert_str_eq(json_string_value(json_object_get(job0(&o), "resumed_from")), "ROLLING_BACK");
  ck_assert_str_eq(json_string_value(json_object_get(job0(&o), "state")), "ROLLED_BACK");
  ck_assert_int_eq(o.stats.rolled_back, 1);
  ck_assert_int_eq(installed, 1);
  ck_assert_int_eq(pinned, 1);
  row = last_job();
  ck_assert_int_eq(row.id, id);
  ck_assert_str_eq(rd_job_state_name(row.state), "ROLLED_BACK");

  /* run 3 (past the rolled-back job's backoff): a new job renews */
  tu_engine_out_free(&o);
  o = run(1);
  ck_assert_int_eq(o.code, 10);
  ck_assert_str_eq(json_string_value(json_object_get(job0(&o), "state")), "DONE");
  ck_assert_int_eq(installed, 2);
  ck_assert_int_eq(pinned, 2);
  ck_assert_int_gt(last_job().id, id);
  tu_engine_out_free(&o);
}
END_TEST

/* A rollback that fails for good (not a transport failure) still ends the
 * job FAILED: only an unreachable host makes it owed. */
START_TEST(rollback_refused_fails_the_job) {
  refuse = 1;
  tu_engine_out o = run(0);
  ck_assert_msg(strstr(tu_trace, "pin.apply pin.rollback inst.rollback"), "%s", tu_trace);
  ck_assert_str_eq(json_string_value(json_object_get(job0(&o), "state")), "FAILED");
  ck_assert_ptr_null(json_object_get(job0(&o), "rollback_owed"));
  ck_assert_str_eq(rd_job_state_name(last_job().state), "FAILED");
  tu_engine_out_free(&o);
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine_rollback");
  TCase *tc = tcase_create("owed");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, unreachable_rollback_is_owed_then_finished);
  tcase_add_test(tc, rollback_refused_fails_the_job);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
