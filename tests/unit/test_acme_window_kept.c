/* test_acme_window_kept.c — the CA's Retry-After across runs
 * (core/window.c): a window from the CA (ARI) is kept in the journal's
 * per-job values of the newest job of the host and certificate until its
 * next_check; a later run uses it without asking the CA. Asked again: after
 * the next check, for another live certificate, while no job exists yet; a
 * plan keeps nothing. The real engine with test step kinds (no remote I/O)
 * and tests/fixtures/engine/flow.json (renew_before 10d). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_run.h"
#include "store/journal.h"
#include "testutil.h"

#define DAY 86400
static int asked;            /* the CA's renewalInfo asked (issuer probes before the decision) */
static const char *serial;   /* the live certificate's */
static const char *window;   /* "over" (renew at once) or "later" */
static long next_check;      /* seconds from now */
static char jdir[64], jpath[128];

static int inv_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:s, s:I, s:I}", "sha256", serial, "serial", serial,
                                "not_before", (json_int_t)(now - 29 * DAY), "not_after",
                                (json_int_t)(now + 60 * DAY)));
  h->done(s, 0, NULL, NULL);
  return 0;
}

static int iss_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL), st = now + 20 * DAY, en = now + 22 * DAY, at = now + 21 * DAY;
  if (json_object_get(h->facts(s), "due")) /* the pre-flight of a renewal */
    return h->done(s, 0, NULL, NULL), 0;
  asked++;
  if (!strcmp(window, "over"))
    st = now - 3 * DAY, en = now - DAY, at = now - 2 * DAY;
  json_object_set_new(h->facts(s), "renew_window",
                      json_pack("{s:s, s:I, s:I, s:I, s:I}", "source", "ARI", "start",
                                (json_int_t)st, "end", (json_int_t)en, "renew_at", (json_int_t)at,
                                "next_check", (json_int_t)(now + next_check)));
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int iss_apply(rd_step *s, const rd_host_api *h) {
  h->set_state(s, "KEY_READY");
  h->set_state(s, "REQUESTED");
  json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int ok(rd_step *s, const rd_host_api *h) {
  h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER | RD_KIND_WINDOW,
                                   .probe = iss_probe, .apply = iss_apply};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = ok, .apply = ok};
static const rd_step_kind k_rs = {.type = "test.restart", .probe = ok};
static const rd_step_kind k_chk = {.type = "test.check", .probe = ok};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

/* One run (whatif: a plan); the job's state. Its window is the CA's,
 * asked now or kept (the count of probes tells which). */
static const char *run(int whatif) {
  static char state[32];
  tu_engine_out r = {0};
  const char *files[] = {FIXTURES "/engine/flow.json", NULL};
  rd_engine_opts opts = {.whatif = whatif};
  tu_engine_run(&plugin, files, &opts, whatif ? NULL : jpath, &r);
  const json_t *job = json_array_get(json_object_get(r.report, "jobs"), 0);
  const json_t *w = json_object_get(json_object_get(job, "due"), "window");
  snprintf(state, sizeof state, "%s", json_string_value(json_object_get(job, "state")));
  if (strcmp(json_string_value(json_object_get(w, "source")) ?: "", "ARI"))
    ck_abort_msg("window not from the CA: %s", r.text);
  tu_engine_out_free(&r);
  return state;
}

/* A renewal (its window over) makes the job the next runs keep windows on. */
static void renewed_once(void) {
  window = "over";
  ck_assert_str_eq(run(0), "DONE");
  ck_assert_int_eq(asked, 1);
  window = "later";
  asked = 0;
}

static void setup(void) {
  snprintf(jdir, sizeof jdir, "/tmp/renewd-test-kept-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(jdir));
  snprintf(jpath, sizeof jpath, "%s/journal.db", jdir);
  asked = 0;
  serial = "01AB";
  window = "later";
  next_check = 6 * 3600;
}
static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
  ck_assert_int_eq(system(cmd), 0);
}

START_TEST(retry_after_holds_across_runs) {
  renewed_once();
  ck_assert_str_eq(run(0), "NOT_DUE"); /* asked, kept on the last job */
  ck_assert_int_eq(asked, 1);
  ck_assert_str_eq(run(0), "NOT_DUE"); /* Retry-After not over: not asked */
  ck_assert_int_eq(asked, 1);
  ck_assert_str_eq(run(1), "NOT_DUE"); /* a plan opens no journal: it asks */
  ck_assert_int_eq(asked, 2);
  ck_assert_str_eq(run(0), "NOT_DUE"); /* and kept nothing: the run still waits */
  ck_assert_int_eq(asked, 2);
}
END_TEST

START_TEST(asked_again_after_the_next_check) {
  renewed_once();
  next_check = -60; /* the CA's Retry-After is already over */
  run(0);
  run(0);
  ck_assert_int_eq(asked, 2);
}
END_TEST

START_TEST(asked_again_for_another_certificate) {
  renewed_once();
  run(0);
  serial = "02CD"; /* e.g. replaced by hand meanwhile */
  run(0);
  ck_assert_int_eq(asked, 2);
  run(0);
  ck_assert_int_eq(asked, 2);
}
END_TEST

START_TEST(no_job_yet_asks_every_run_and_a_plan_keeps_nothing) {
  run(0); /* not due: no job, nowhere to keep the window */
  run(0);
  ck_assert_int_eq(asked, 2);
  asked = 0;
  renewed_once();
  run(1); /* a plan asks but keeps nothing */
  run(1);
  ck_assert_int_eq(asked, 2);
}
END_TEST

int main(void) {
  Suite *s = suite_create("acme_window_kept");
  TCase *t = tcase_create("kept");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, retry_after_holds_across_runs);
  tcase_add_test(t, asked_again_after_the_next_check);
  tcase_add_test(t, asked_again_for_another_certificate);
  tcase_add_test(t, no_job_yet_asks_every_run_and_a_plan_keeps_nothing);
  suite_add_tcase(s, t);
  return tu_run(s);
}
