/* test_manual_issuer.c — issuer "manual" (plugins/manual): a certificate
 * renewd cannot renew itself is inventoried, alerted on at the runbook's
 * before_expiry_days with the manual action in the payload, and when due
 * the job stops in NEEDS_OPERATOR with that action as its reason: nothing
 * is applied, neither the install nor the follow-ups. A plan shows the
 * action. The real engine and the real manual.issue, with test inventory,
 * install and follow-up kinds (no remote I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/notify.h"
#include "engine_run.h"
#include "httpcatch.h"
#include "manual_plugin.h"
#include "testutil.h"

#define ACTION "Enrol a new Web Server certificate by hand in certlm.msc"
static long days_left;   /* the live certificate's */
static int applied;      /* install and follow-up applies (must stay 0) */

static int inv_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:s, s:s, s:I, s:I}", "sha256", "old", "serial", "01",
                                "subject", "CN=ndes01.corp.example", "not_before",
                                (json_int_t)(now - 300 * 86400), "not_after",
                                (json_int_t)(now + days_left * 86400)));
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int quiet(rd_step *s, const rd_host_api *h) {
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int counted(rd_step *s, const rd_host_api *h) {
  applied++;
  h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_inv = {.platform = RD_PLATFORM_POSIX, .type = "posix.inventory",
                                   .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_inst = {.platform = RD_PLATFORM_POSIX, .type = "posix.install",
                                    .flags = RD_KIND_INSTALL, .probe = quiet, .apply = counted};
static const rd_step_kind k_rs = {.platform = RD_PLATFORM_POSIX, .type = "test.restart",
                                  .flags = RD_KIND_RESTART, .probe = quiet, .apply = counted};
static const rd_step_kind *const kinds[] = {&k_inv, &manual_kind_issue, &k_inst, &k_rs, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static char jdir[] = "/tmp/renewd-test-manual-XXXXXX";
static char jpath[300], rbpath[300];
static tu_engine_out out;
static const json_t *job;

static void write_runbook(int hook_port) {
  FILE *f = fopen(rbpath, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"watch\",\n"
          " \"notify\": {\"webhook\": {\"url\": \"http://127.0.0.1:%d/hook\"},"
          " \"before_expiry_days\": [60, 30, 14]},\n"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\", "
          "\"platform\": \"posix\"}]},\n"
          " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\", \"known_hosts\": "
          "\"/nonexistent/kh\"},\n"
          " \"certificate\": {\"cert\": \"/etc/pki/t1.crt\", \"key\": \"/etc/pki/t1.key\"},\n"
          " \"issuer\": {\"type\": \"manual\", \"action\": \"" ACTION "\"},\n"
          " \"policy\": {\"renew_before\": \"30d\"},\n"
          " \"steps\": [{\"type\": \"test.restart\", \"name\": \"restart\"}]}\n",
          hook_port);
  fclose(f);
}

static const char *run(int whatif) {
  const char *files[] = {rbpath, NULL};
  rd_engine_opts opts = {.whatif = whatif};
  tu_engine_run(&plugin, files, &opts, jpath, &out);
  job = json_array_get(json_object_get(out.report, "jobs"), 0);
  return json_string_value(json_object_get(job, "state"));
}

/* the requests the webhook received that contain both needles */
static int hooked(hc_server *hc, const char *a, const char *b) {
  int n = 0;
  for (int i = 0; i < hc_count(hc); i++)
    n += strstr(hc->requests[i], a) && strstr(hc->requests[i], b);
  return n;
}

static hc_server hc;
static void setup(void) {
  ck_assert_ptr_nonnull(mkdtemp(strcpy(jdir, "/tmp/renewd-test-manual-XXXXXX")));
  snprintf(jpath, sizeof jpath, "%s/journal.db", jdir);
  snprintf(rbpath, sizeof rbpath, "%s/watch.json", jdir);
  applied = 0;
  ck_assert_int_eq(hc_start(&hc), 0);
  write_runbook(hc.port);
}
static void teardown(void) {
  char cmd[400];
  hc_stop(&hc);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
  ck_assert_int_eq(system(cmd), 0);
  tu_engine_out_free(&out);
  job = NULL;
}

/* 45 days left, renewal at 30: not due, but the 60-day alert goes out, with
 * the action. */
START_TEST(not_due_alerted_with_action) {
  days_left = 45;
  ck_assert_str_eq(run(0), "NOT_DUE");
  ck_assert_int_eq(applied, 0);
  ck_assert_msg(hc_count(&hc) == 1, "%d requests: %s", hc_count(&hc), hc.requests[0]);
  ck_assert_msg(hooked(&hc, "\"event\":\"expiring\"", "\"threshold_days\":60"), "%s",
                hc.requests[0]);
  ck_assert_msg(hooked(&hc, "\"event\":\"expiring\"", "\"action\":\"" ACTION "\""), "%s",
                hc.requests[0]);
}
END_TEST

/* 10 days left: due; the job stops in NEEDS_OPERATOR with the action as
 * its reason, nothing installed, no follow-up; the 14-day alert and the
 * job's event both carry the action. */
START_TEST(due_needs_operator) {
  days_left = 10;
  ck_assert_msg(!strcmp(run(0), "NEEDS_OPERATOR"), "%s", out.text);
  ck_assert_int_eq(applied, 0);
  const char *err = json_string_value(json_object_get(job, "error"));
  ck_assert_msg(err && strstr(err, "renewd cannot renew this certificate") &&
                    strstr(err, "CN=ndes01.corp.example") && strstr(err, ACTION),
                "%s", err ? err : "(no error)");
  ck_assert_msg(strstr(out.text, ACTION), "%s", out.text);
  ck_assert_int_eq(hc_count(&hc), 2);
  ck_assert_int_eq(hooked(&hc, "\"threshold_days\":14", "\"action\":\"" ACTION "\""), 1);
  ck_assert_int_eq(hooked(&hc, "\"state\":\"NEEDS_OPERATOR\"", ACTION), 1);
  /* the next run asks again, and still changes nothing */
  ck_assert_str_eq(run(0), "NEEDS_OPERATOR");
  ck_assert_int_eq(applied, 0);
}
END_TEST

/* A plan of a due certificate says what the run would: NEEDS_OPERATOR
 * (not WOULD_RENEW) with the action and the certificate, exit 1. */
START_TEST(plan_shows_action) {
  days_left = 10;
  ck_assert_msg(!strcmp(run(1), "NEEDS_OPERATOR"), "%s", out.text);
  ck_assert_int_eq(out.code, 1);
  ck_assert_int_eq(out.stats.needs_operator, 1);
  ck_assert_msg(!strncmp(out.text, "host t1 (posix): NEEDS_OPERATOR — issue: probe: t1: renewd cannot "
                                   "renew this certificate (CN=ndes01.corp.example, expires ",
                         strlen("host t1 (posix): NEEDS_OPERATOR — issue: probe: t1: renewd cannot "
                                "renew this certificate (CN=ndes01.corp.example, expires ")),
                "%s", out.text);
  ck_assert_int_eq(applied, 0);
  ck_assert_msg(strstr(out.text, "renewd cannot renew this certificate (CN=ndes01.corp.example, "
                                 "expires ") &&
                    strstr(out.text, ACTION),
                "%s", out.text);
  ck_assert_int_eq(hc_count(&hc), 0); /* a plan sends nothing */
}
END_TEST

/* remediate --whatif says the same of it: an operator renews it. */
START_TEST(remediate_whatif_needs_operator) {
  const char *files[] = {rbpath, NULL};
  rd_engine_opts opts = {.whatif = 1, .remediate = 1};
  days_left = 10;
  tu_engine_run(&plugin, files, &opts, jpath, &out);
  job = json_array_get(json_object_get(out.report, "jobs"), 0);
  ck_assert_msg(!strcmp(json_string_value(json_object_get(job, "state")), "NEEDS_OPERATOR"), "%s",
                out.text);
  ck_assert_msg(strstr(out.text, ACTION), "%s", out.text);
  ck_assert_str_eq(json_string_value(json_object_get(job, "remedy")), "operator");
  ck_assert_int_eq(applied, 0);
}
END_TEST

/* The e-mail of an expiry alert names the action (notify_mail.c). */
START_TEST(mail_names_action) {
  static const char *const to[] = {"ops@example.test", NULL};
  json_t *ev = json_pack("{s:s, s:s, s:s, s:I, s:f, s:I, s:I, s:s, s:s}", "event", "expiring",
                         "runbook", "watch", "host", "t1", "time", (json_int_t)1795996800,
                         "days_left", 45.0, "threshold_days", (json_int_t)60, "not_after",
                         (json_int_t)1799884800, "subject", "CN=ndes01", "action", ACTION);
  size_t len = 0;
  char *m = rd_notify_mail_compose(ev, "renewd@example.test", to, "orch1", 1795996800, &len);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strstr(m, "Manual action:") && strstr(m, ACTION), "%s", m);
  free(m);
  json_decref(ev);
}
END_TEST

int main(void) {
  Suite *s = suite_create("manual_issuer");
  TCase *tc = tcase_create("manual");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, not_due_alerted_with_action);
  tcase_add_test(tc, due_needs_operator);
  tcase_add_test(tc, plan_shows_action);
  tcase_add_test(tc, remediate_whatif_needs_operator);
  tcase_add_test(tc, mail_names_action);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
