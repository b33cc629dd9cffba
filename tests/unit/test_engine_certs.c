/* test_engine_certs.c — one job renewing several certificates of a host
 * (a runbook's 'certificates'), with the real engine and journal and step
 * kinds defined here: each certificate inventoried, issued, installed and
 * followed by its own steps, the host-level restart once, the checks of
 * every certificate; only the due ones (or all, 'together'); a failure
 * rolls every replaced certificate back, last first, and restarts once;
 * journal values per certificate, so that an interrupted job resumes
 * without a second request for a certificate already issued. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_run.h"
#include "httpcatch.h"
#include "testutil.h"

static char trace[4096];
static int requests;          /* certificate requests the "CA" received */
static const char *due_only;  /* only this certificate is due (NULL: both) */
static const char *fail_chk;  /* the check of this certificate fails against a new one */
static const char *pend_for;  /* the issuer of this certificate answers "pending" */

/* "what(a)", "what(a,b)", "what(a=b)" (sep), or "what" */
static void note(const char *what, const char *a, const char *sep, const char *b) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s%s%s%s%s%s", what, a ? "(" : "", a ? a : "", b ? sep : "",
           b ? b : "", a ? ")" : "");
  if (trace[0])
    strncat(trace, " ", sizeof trace - strlen(trace) - 1);
  strncat(trace, buf, sizeof trace - strlen(trace) - 1);
}
/* the certificate a step sees, as its facts and its section say */
static const char *cert_of(rd_step *s, const rd_host_api *h) {
  const char *f = json_string_value(json_object_get(h->facts(s), "certificate"));
  const char *path = json_string_value(json_object_get(h->section(s, "certificate"), "cert"));
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(path);
  ck_assert_msg(strstr(path, f), "step sees certificate %s but section %s", f, path);
  return f;
}

static int inv_probe(rd_step *s, const rd_host_api *h) {
  const char *c = cert_of(s, h);
  time_t now = time(NULL);
  long days = !due_only || !strcmp(due_only, c) ? 1 : 60;
  char sha[32];
  snprintf(sha, sizeof sha, "old-%s", c);
  note("inv", c, "", NULL);
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:I, s:I, s:s}", "sha256", sha, "not_before",
                                (json_int_t)(now - 29 * 86400), "not_after",
                                (json_int_t)(now + days * 86400), "serial", "01"));
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int iss_probe(rd_step *s, const rd_host_api *h) {
  cert_of(s, h);
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int iss_apply(rd_step *s, const rd_host_api *h) {
  const char *c = cert_of(s, h);
  const char *ktype = json_string_value(json_object_get(json_object_get(h->section(s, "policy"), "key"), "type"));
  json_t *req = h->journal_get(s, "req");
  char sha[32];
  if (req) { /* a request of this certificate was sent before: poll it */
    note("poll", c, "", NULL);
    json_decref(req);
  } else {
    requests++;
    note("request", c, ",", ktype ? ktype : "-");
    json_t *rec = json_pack("{s:s}", "for", c);
    h->journal_put(s, "req", rec);
    json_decref(rec);
    h->set_state(s, "REQUESTED");
  }
  if (pend_for && !strcmp(pend_for, c)) {
    h->done(s, RD_EPENDING, NULL, "pending at the CA");
    return 0;
  }
  snprintf(sha, sizeof sha, "new-%s", c);
  json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s, s:s}", "sha256", sha, "serial", "02"));
  h->done(s, 0, NULL, NULL);
  return 0;
}
#define NOTED(fn, label)                                                       \
  static int fn(rd_step *s, const rd_host_api *h) {                            \
    note(label, cert_of(s, h), "", NULL);                                   \
    h->done(s, 0, NULL, NULL);                                                 \
    return 0;                                                                  \
  }
#define QUIET(fn)                                                              \
  static int fn(rd_step *s, const rd_host_api *h) {                            \
    h->done(s, 0, NULL, NULL);                                                 \
    return 0;                                                                  \
  }
NOTED(iss_rollback, "iss.rollback")
QUIET(quiet_probe)
NOTED(inst_apply, "install")
NOTED(inst_rollback, "uninstall")
NOTED(acl_apply, "acl")
NOTED(acl_rollback, "acl.rollback")
static int rs_apply(rd_step *s, const rd_host_api *h) {
  note("restart", NULL, "", NULL);
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int chk_verify(rd_step *s, const rd_host_api *h) {
  const char *c = cert_of(s, h);
  const char *want = json_string_value(json_object_get(json_object_get(h->facts(s), "expect"), "sha256"));
  note("check", c, "=", want ? want : "-");
  if (fail_chk && !strcmp(fail_chk, c) && want && !strncmp(want, "new", 3)) {
    h->done(s, RD_EVERIFY, NULL, "serves the old certificate");
    return 0;
  }
  h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_inv = {.platform = RD_PLATFORM_POSIX, .type = "posix.inventory", .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.platform = RD_PLATFORM_POSIX, .type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = iss_probe,
                                   .apply = iss_apply, .rollback = iss_rollback};
static const rd_step_kind k_inst = {.platform = RD_PLATFORM_POSIX, .type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = quiet_probe, .apply = inst_apply, .rollback = inst_rollback};
static const rd_step_kind k_acl = {.platform = RD_PLATFORM_POSIX, .type = "test.acl", .probe = quiet_probe, .apply = acl_apply,
                                   .rollback = acl_rollback};
static const rd_step_kind k_rs = {.platform = RD_PLATFORM_POSIX, .type = "test.restart", .flags = RD_KIND_RESTART,
                                  .probe = quiet_probe, .apply = rs_apply};
static const rd_step_kind k_chk = {.platform = RD_PLATFORM_POSIX, .type = "test.check", .flags = RD_KIND_CHECK, .probe = quiet_probe,
                                   .verify = chk_verify};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_acl, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static char jdir[] = "/tmp/renewd-test-certs-XXXXXX";
static char jpath[300], rbpath[300];

/* The runbook: certificates a (RSA) and b (EC), each with its key ACL; the
 * host-level restart, then a check of each certificate (a's unbound: the
 * job's first certificate). */
static void write_runbook(int together, int hook_port) {
  char notify[200] = "";
  FILE *f = fopen(rbpath, "w");
  ck_assert_ptr_nonnull(f);
  if (hook_port) /* expiry warnings to a webhook */
    snprintf(notify, sizeof notify,
             " \"notify\": {\"webhook\": {\"url\": \"http://127.0.0.1:%d/hook\"},"
             " \"before_expiry_days\": [7]},\n",
             hook_port);
  fprintf(f,
          "{\"name\": \"pair\", \"together\": %s,\n%s"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\", \"platform\": \"posix\"}]},\n"
          " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\", \"known_hosts\": \"/nonexistent/kh\"},\n"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\", \"ca_fingerprint\":"
          " \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
          " \"policy\": {\"renew_before\": \"10d\", \"key\": {\"type\": \"rsa\"}},\n"
          " \"certificates\": [\n"
          "  {\"name\": \"a\", \"certificate\": {\"cert\": \"/etc/pki/a.crt\", \"key\": \"/etc/pki/a.key\"},\n"
          "   \"steps\": [{\"type\": \"test.acl\", \"name\": \"acl\"}]},\n"
          "  {\"name\": \"b\", \"certificate\": {\"cert\": \"/etc/pki/b.crt\", \"key\": \"/etc/pki/b.key\"},\n"
          "   \"policy\": {\"key\": {\"type\": \"ec\"}},\n"
          "   \"steps\": [{\"type\": \"test.acl\", \"name\": \"acl\"}]}],\n"
          " \"steps\": [{\"type\": \"test.restart\", \"name\": \"restart\"},\n"
          "   {\"type\": \"test.check\", \"name\": \"check a\"},\n"
          "   {\"type\": \"test.check\", \"name\": \"check b\", \"certificate\": \"b\"}]}\n",
          together ? "true" : "false", notify);
  fclose(f);
}

static tu_engine_out out;
static json_t *report; /* the job's */
static const char *text;

static int run(int whatif, rd_engine_stats *st) {
  const char *files[] = {rbpath, NULL};
  rd_engine_opts opts = {.whatif = whatif};
  trace[0] = 0;
  tu_engine_run(&plugin, files, &opts, jpath, &out);
  *st = out.stats;
  report = json_array_get(json_object_get(out.report, "jobs"), 0);
  text = out.text;
  return out.code;
}

static const char *state(void) { return json_string_value(json_object_get(report, "state")); }

static void setup(void) {
  ck_assert_ptr_nonnull(mkdtemp(strcpy(jdir, "/tmp/renewd-test-certs-XXXXXX")));
  snprintf(jpath, sizeof jpath, "%s/journal.db", jdir);
  snprintf(rbpath, sizeof rbpath, "%s/pair.json", jdir);
  requests = 0;
  due_only = fail_chk = pend_for = NULL;
  write_runbook(0, 0);
}
static void teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
  ck_assert_int_eq(system(cmd), 0);
  tu_engine_out_free(&out);
  report = NULL;
  text = NULL;
}

/* each certificate in turn, then the host's restart once, then every check */
#define RENEW_A "request(a,rsa) install(a) acl(a)"
#define RENEW_B "request(b,ec) install(b) acl(b)"

START_TEST(both_due_one_restart) {
  rd_engine_stats st;
  ck_assert_int_eq(run(0, &st), 10);
  ck_assert_str_eq(trace, "inv(a) inv(b) " RENEW_A " " RENEW_B
                          " restart check(a=new-a) check(b=new-b)");
  ck_assert_str_eq(state(), "DONE");
  ck_assert_int_eq(st.renewed, 1);
  ck_assert_int_eq(requests, 2);
  /* the report: both certificates, and which step is whose */
  json_t *certs = json_object_get(report, "certificates");
  ck_assert_uint_eq(json_array_size(certs), 2);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(certs, 1), "name")), "b");
  ck_assert(json_is_true(json_object_get(json_array_get(certs, 1), "renew")));
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(json_array_get(certs, 1), "live_cert"), "sha256")),
                   "new-b");
  json_t *steps = json_object_get(report, "steps");
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(steps, 4), "name")), "a: acl");
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(steps, 4), "certificate")), "a");
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(steps, 8), "name")), "restart");
  ck_assert_ptr_null(json_object_get(json_array_get(steps, 8), "certificate"));
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(steps, 10), "certificate")), "b");
}
END_TEST

START_TEST(only_the_due_one) {
  rd_engine_stats st;
  due_only = "b";
  ck_assert_int_eq(run(0, &st), 10);
  /* a is not due: not issued, not installed, its check expects the live one */
  ck_assert_str_eq(trace, "inv(a) inv(b) " RENEW_B " restart check(a=old-a) check(b=new-b)");
  ck_assert_int_eq(requests, 1);
  json_t *a = json_array_get(json_object_get(report, "certificates"), 0);
  ck_assert(json_is_false(json_object_get(a, "due")));
  ck_assert(json_is_false(json_object_get(a, "renew")));
  ck_assert_msg(strstr(json_string_value(json_object_get(json_object_get(report, "due"), "why")),
                       "a: "),
                "%s", text);
}
END_TEST

START_TEST(together_renews_both) {
  rd_engine_stats st;
  write_runbook(1, 0);
  due_only = "b";
  ck_assert_int_eq(run(0, &st), 10);
  ck_assert_str_eq(trace, "inv(a) inv(b) " RENEW_A " " RENEW_B
                          " restart check(a=new-a) check(b=new-b)");
  ck_assert_int_eq(requests, 2);
  /* nothing due: nothing happens, together or not */
  due_only = "none";
  ck_assert_int_eq(run(0, &st), 0);
  ck_assert_str_eq(trace, "inv(a) inv(b)");
}
END_TEST

START_TEST(failure_restores_both) {
  rd_engine_stats st;
  fail_chk = "b";
  ck_assert_int_eq(run(0, &st), 1);
  /* every replaced certificate rolled back, last first; one restart; the
   * checks against the old certificates */
  ck_assert_str_eq(trace, "inv(a) inv(b) " RENEW_A " " RENEW_B
                          " restart check(a=new-a) check(b=new-b)"
                          " acl.rollback(b) uninstall(b) iss.rollback(b)"
                          " acl.rollback(a) uninstall(a) iss.rollback(a)"
                          " restart check(a=old-a) check(b=old-b)");
  ck_assert_msg(!strcmp(state(), "ROLLED_BACK"), "%s", json_dumps(report, 0));
  ck_assert_int_eq(st.rolled_back, 1);
}
END_TEST

/* The job stops between the two issuances (here: b's request is pending;
 * a crash leaves the journal the same): the next run resumes it, a's issuer
 * finds its request in the journal (no second request), b's polls. */
START_TEST(resume_without_second_request) {
  rd_engine_stats st;
  pend_for = "b";
  ck_assert_int_eq(run(0, &st), 0);
  ck_assert_str_eq(trace, "inv(a) inv(b) " RENEW_A " request(b,ec)");
  ck_assert_int_eq(st.pending, 1);
  ck_assert_msg(strstr(text, "  pending: b: issue: the job resumes at the next run"), "%s", text);
  ck_assert_int_eq(requests, 2);
  ck_assert_msg(strstr(json_string_value(json_object_get(report, "error")), "b"), "%s", text);
  pend_for = NULL;
  due_only = "none"; /* a is renewed and b's old one looks fine now: resumed anyway */
  ck_assert_int_eq(run(0, &st), 10);
  ck_assert_str_eq(trace, "inv(a) inv(b) poll(a) install(a) acl(a) poll(b) install(b) acl(b)"
                          " restart check(a=new-a) check(b=new-b)");
  /* the report says what the resumed job renews, not what is due now */
  ck_assert_msg(strstr(text, "  certificate a: renew — ") && strstr(text, "  certificate b: renew — "),
                "%s", text);
  ck_assert_int_eq(requests, 2);
  ck_assert_str_eq(state(), "DONE");
}
END_TEST

/* The expiry warning is per certificate: each of the job's is announced. */
START_TEST(expiry_warning_for_each) {
  rd_engine_stats st;
  hc_server hc;
  ck_assert_int_eq(hc_start(&hc), 0);
  write_runbook(0, hc.port);
  ck_assert_int_eq(run(0, &st), 10);
  ck_assert_msg(hc_count(&hc) == 2, "%s\n---\n%s", hc.requests[0], hc.requests[1]); /* two certificates expiring */
  int a = 0, b = 0;
  for (int i = 0; i < 2; i++) {
    a += strstr(hc.requests[i], "\"event\":\"expiring\"") && strstr(hc.requests[i], "\"old-a\"");
    b += strstr(hc.requests[i], "\"event\":\"expiring\"") && strstr(hc.requests[i], "\"old-b\"");
  }
  ck_assert_int_eq(a, 1);
  ck_assert_int_eq(b, 1);
  hc_stop(&hc);
}
END_TEST

START_TEST(plan_shows_every_certificate) {
  rd_engine_stats st;
  due_only = "a";
  ck_assert_int_eq(run(1, &st), 10);
  ck_assert_str_eq(trace, "inv(a) inv(b)");
  ck_assert_msg(strstr(text, "  certificate a: renew — "), "%s", text);
  ck_assert_msg(strstr(text, "  certificate b: keep — "), "%s", text);
  ck_assert_msg(strstr(text, "  a: install "), "%s", text);
  ck_assert_msg(!strstr(text, "  b: install "), "%s", text);
  ck_assert_msg(strstr(text, "  restart "), "%s", text);
}
END_TEST

/* `renewd inventory` of a runbook of several certificates: each one's
 * live certificate in the report, a table row each ("t1 (a)", "t1 (b)"),
 * nothing more than the inventories run. */
START_TEST(inventory_lists_every_certificate) {
  const char *files[] = {rbpath, NULL};
  rd_engine_opts opts = {.whatif = 1, .inventory = 1};
  trace[0] = 0;
  tu_engine_run(&plugin, files, &opts, jpath, &out);
  report = json_array_get(json_object_get(out.report, "jobs"), 0);
  ck_assert_str_eq(trace, "inv(a) inv(b)");
  ck_assert_str_eq(state(), "INVENTORIED");
  const json_t *certs = json_object_get(report, "certificates");
  ck_assert_uint_eq(json_array_size(certs), 2);
  for (size_t c = 0; c < 2; c++) {
    const char *want = c ? "old-b" : "old-a";
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(certs, c), "cert"), "sha256")),
                     want);
  }
  ck_assert_msg(strstr(out.text, "\nt1 (a) ") && strstr(out.text, "\nt1 (b) "), "%s", out.text);
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine_certs");
  TCase *tc = tcase_create("certs");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, both_due_one_restart);
  tcase_add_test(tc, only_the_due_one);
  tcase_add_test(tc, together_renews_both);
  tcase_add_test(tc, failure_restores_both);
  tcase_add_test(tc, resume_without_second_request);
  tcase_add_test(tc, plan_shows_every_certificate);
  tcase_add_test(tc, expiry_warning_for_each);
  tcase_add_test(tc, inventory_lists_every_certificate);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
