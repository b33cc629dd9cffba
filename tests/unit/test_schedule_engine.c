/* test_schedule_engine.c — the CA's renewal window in the real engine: an
 * issuer kind flagged RD_KIND_WINDOW probes before the due decision and its
 * facts "renew_window" decides (core/window.c, rd_due_decide); a CA that
 * cannot be asked leaves the policy to decide. Step kinds are defined here
 * (no remote I/O), with tests/fixtures/engine/flow.json (renew_before 10d). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_run.h"
#include "testutil.h"

#define DAY 86400
static char trace[1024];
static long days_left;        /* the live certificate's */
static const char *window;    /* "inside", "later", "over", "none", "fail" */

static void note(const char *what) {
  if (trace[0])
    strncat(trace, " ", sizeof trace - strlen(trace) - 1);
  strncat(trace, what, sizeof trace - strlen(trace) - 1);
}

static int inv_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  note("inv.probe");
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:I, s:I}", "sha256", "old", "not_before",
                                (json_int_t)(now - 29 * DAY), "not_after",
                                (json_int_t)(now + days_left * DAY)));
  h->done(s, 0, NULL, NULL);
  return 0;
}

static int iss_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL), st = now - DAY, en = now + DAY, at = now - 60;
  note("iss.probe");
  if (!strcmp(window, "fail")) {
    h->donef(s, RD_ETIMEDOUT, NULL, "CA https://ca.invalid/dir: directory: timed out");
    return 0;
  }
  if (!strcmp(window, "later"))
    st = now + 20 * DAY, en = now + 22 * DAY, at = now + 21 * DAY;
  else if (!strcmp(window, "over"))
    st = now - 3 * DAY, en = now - DAY, at = now - 2 * DAY;
  json_object_set_new(h->facts(s), "renew_window",
                      strcmp(window, "none")
                          ? json_pack("{s:s, s:I, s:I, s:I, s:I}", "source", "ARI", "start",
                                      (json_int_t)st, "end", (json_int_t)en, "renew_at",
                                      (json_int_t)at, "next_check", (json_int_t)(now + 3600))
                          : json_pack("{s:s, s:s}", "source", "policy", "note",
                                      "the CA offers no renewal information"));
  h->done(s, 0, NULL, "would order");
  return 0;
}
static int iss_apply(rd_step *s, const rd_host_api *h) {
  note("iss.apply");
  h->set_state(s, "KEY_READY");
  h->set_state(s, "REQUESTED");
  json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  h->done(s, 0, NULL, NULL);
  return 0;
}
#define SIMPLE(fn, label)                                                                         \
  static int fn(rd_step *s, const rd_host_api *h) {                                              \
    note(label);                                                                                  \
    h->done(s, 0, NULL, NULL);                                                                    \
    return 0;                                                                                     \
  }
SIMPLE(inst_probe, "inst.probe")
SIMPLE(inst_apply, "inst.apply")
SIMPLE(other_probe, "x.probe")

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER | RD_KIND_WINDOW,
                                   .probe = iss_probe, .apply = iss_apply};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = inst_probe, .apply = inst_apply};
static const rd_step_kind k_rs = {.type = "test.restart", .probe = other_probe};
static const rd_step_kind k_chk = {.type = "test.check", .probe = other_probe};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

typedef struct run_out {
  tu_engine_out r;
  const json_t *job; /* the report's job */
  const char *state, *text;
  rd_engine_stats stats;
} run_out;

static char jdir[64], jpath[128];

static run_out run(int whatif) {
  run_out o = {0};
  const char *files[] = {FIXTURES "/engine/flow.json", NULL};
  rd_engine_opts opts = {.whatif = whatif};
  trace[0] = 0;
  tu_engine_run(&plugin, files, &opts, whatif ? NULL : jpath, &o.r);
  o.job = json_array_get(json_object_get(o.r.report, "jobs"), 0);
  o.state = json_string_value(json_object_get(o.job, "state"));
  o.text = o.r.text;
  o.stats = o.r.stats;
  return o;
}

static void done(run_out *o) { tu_engine_out_free(&o->r); }

static const char *due_window(const run_out *o, const char *key) {
  return json_string_value(
      json_object_get(json_object_get(json_object_get(o->job, "due"), "window"), key));
}

static void setup(void) {
  snprintf(jdir, sizeof jdir, "/tmp/renewd-test-window-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(jdir));
  snprintf(jpath, sizeof jpath, "%s/journal.db", jdir);
  days_left = 60;
  window = "inside";
}
static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
  ck_assert_int_eq(system(cmd), 0);
}

#define RENEWAL "iss.probe inst.probe x.probe x.probe iss.probe iss.apply inst.probe inst.apply"

/* 60 days left (policy: 10d), but the CA's window is open: renewed */
START_TEST(window_open_renews) {
  run_out o = run(0);
  ck_assert_str_eq(trace, "inv.probe iss.probe " RENEWAL " x.probe x.probe");
  ck_assert_str_eq(o.state, "DONE");
  ck_assert_int_eq(o.stats.renewed, 1);
  ck_assert_str_eq(due_window(&o, "source"), "ARI");
  ck_assert_ptr_nonnull(strstr(o.text, "UTC from the CA (ARI): renewal time"));
  done(&o);
}
END_TEST

/* the CA's window is later: not due, its probe ran alone, and its "would
 * order" is not in the plan; a due-by-days certificate waits for it too */
START_TEST(window_later_waits) {
  window = "later";
  run_out o = run(1);
  ck_assert_str_eq(trace, "inv.probe iss.probe");
  ck_assert_int_eq(o.r.code, 0);
  ck_assert_int_eq(o.stats.due, 0);
  ck_assert_str_eq(due_window(&o, "source"), "ARI");
  ck_assert_ptr_nonnull(due_window(&o, "next_check"));
  ck_assert_ptr_null(strstr(o.text, "would order"));
  ck_assert_msg(strstr(o.text, "NOT_DUE — window ") && strstr(o.text, "(ARI): renewal at "), "%s",
                o.text);
  done(&o);
  days_left = 5;
  o = run(0);
  ck_assert_str_eq(trace, "inv.probe iss.probe");
  ck_assert_int_eq(o.stats.due, 0);
  done(&o);
}
END_TEST

/* a window over (mass revocation): renew at once */
START_TEST(window_over_renews_at_once) {
  window = "over";
  run_out o = run(0);
  ck_assert_str_eq(o.state, "DONE");
  ck_assert_ptr_nonnull(strstr(o.text, "is over: renew at once"));
  done(&o);
}
END_TEST

/* no window from the CA: the policy decides and the plan says so */
START_TEST(no_window_policy_decides) {
  window = "none";
  run_out o = run(1);
  ck_assert_int_eq(o.stats.due, 0);
  ck_assert_str_eq(due_window(&o, "source"), "policy");
  ck_assert_str_eq(due_window(&o, "note"), "the CA offers no renewal information");
  ck_assert_ptr_nonnull(strstr(o.text, "window opens at 10.0 days; window from the policy"));
  done(&o);
  days_left = 5;
  o = run(0);
  ck_assert_str_eq(o.state, "DONE");
  done(&o);
}
END_TEST

/* the CA cannot be asked: a certificate not due stays not due (no failure);
 * one due by days fails its pre-flight as before */
START_TEST(ca_unreachable) {
  window = "fail";
  run_out o = run(0);
  ck_assert_str_eq(trace, "inv.probe iss.probe");
  ck_assert_int_eq(o.r.code, 0);
  ck_assert_int_eq(o.stats.failed, 0);
  ck_assert_str_eq(due_window(&o, "source"), "policy");
  ck_assert_ptr_nonnull(strstr(due_window(&o, "note"), "directory: timed out"));
  ck_assert_ptr_null(json_object_get(o.job, "error"));
  done(&o);
  days_left = 5;
  o = run(0);
  ck_assert_str_eq(trace, "inv.probe iss.probe iss.probe");
  ck_assert_str_eq(o.state, "FAILED");
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o.job, "error")), "timed out"));
  done(&o);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("schedule_engine");
  TCase *tc = tcase_create("window");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, window_open_renews);
  tcase_add_test(tc, window_later_waits);
  tcase_add_test(tc, window_over_renews_at_once);
  tcase_add_test(tc, no_window_policy_decides);
  tcase_add_test(tc, ca_unreachable);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
