/* test_acme_choices.c — what a runbook chooses for the ACME issuer, against
 * the fake CA of test_acme_ca.h: dns-01 through the operator's hook on the
 * target (record added, validated, removed — also after a failure), the
 * CA's certificate profile, and their configuration errors. */
#include "test_acme_ca.h"

static char HOOK[300], ZONE[300], DNSLOG[300];

/* The operator's hook, as docs/ACME.md describes it: HOOK add|remove NAME
 * VALUE. This one keeps the zone as files and logs every call; with
 * T/hook-fails present it fails. */
static void write_hook(void) {
  snprintf(HOOK, sizeof HOOK, "%s/hook.sh", T);
  snprintf(ZONE, sizeof ZONE, "%s/zone", T);
  snprintf(DNSLOG, sizeof DNSLOG, "%s/dns.log", T);
  ck_assert_int_eq(mkdir(ZONE, 0755), 0);
  FILE *fp = fopen(HOOK, "w");
  ck_assert_ptr_nonnull(fp);
  fprintf(fp,
          "#!/bin/sh\n"
          "[ -e '%s/hook-fails' ] && { echo 'update failed: REFUSED'; exit 4; }\n"
          "echo \"$1 $2 $3\" >> '%s'\n"
          "case $1 in\n"
          "  add) printf %%s \"$3\" > '%s'/\"$2\" ;;\n"
          "  remove) rm -f '%s'/\"$2\" ;;\n"
          "  *) exit 2 ;;\n"
          "esac\n",
          T, DNSLOG, ZONE, ZONE);
  fclose(fp);
  ck_assert_int_eq(chmod(HOOK, 0755), 0);
}

static void dns_job(const char *more) {
  char extra[1024];
  snprintf(extra, sizeof extra, "\"challenge_type\": \"dns-01\", \"dns_hook\": \"%s\"%s%s", HOOK,
           more[0] ? ", " : "", more);
  make_job(CA_URL "/dir", ACCT, extra);
}

static int zone_records(void) {
  char *n = lh_sh_out("ls -A %s | wc -l", ZONE);
  int r = n ? atoi(n) : -1;
  free(n);
  return r;
}

START_TEST(issues_through_dns01_hook) {
  write_hook();
  dns_job("\"dns_wait_ms\": 1");
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation);
  expect_issued();
  ck_assert_int_eq(zone_records(), 0); /* removed after validation */
  ck_assert_int_eq(challenge_files(), 0); /* nothing in the web root */
  char *log = tu_read_file(DNSLOG, NULL);
  ck_assert_ptr_nonnull(log);
  ck_assert_msg(strstr(log, "add _acme-challenge.web1.test ") &&
                    strstr(log, "remove _acme-challenge.web1.test") &&
                    strstr(log, "add _acme-challenge.www.web1.test ") &&
                    strstr(log, "remove _acme-challenge.www.web1.test"),
                "%s", log);
  free(log);
}
END_TEST

START_TEST(dns01_failed_validation_removes_the_record) {
  write_hook();
  dns_job("");
  CA.wrong_keyauth = 1;
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_EDENIED);
  ck_assert_msg(strstr(out.msg, "authorization of web1.test is invalid"), "%s", out.msg);
  ck_assert_int_eq(zone_records(), 0);
}
END_TEST

START_TEST(dns01_hook_failure_is_reported) {
  write_hook();
  dns_job("");
  ck_assert_int_eq(lh_sh("touch %s/hook-fails", T), 0);
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_EREMOTE);
  ck_assert_msg(strstr(out.msg, "adding the dns-01 record") &&
                    strstr(out.msg,
                           "add _acme-challenge.web1.test: exit 4: update failed: REFUSED"),
                "%s", out.msg);
  ck_assert_int_eq(CA.n_finalize, 0);
}
END_TEST

START_TEST(profile_goes_into_the_order) {
  make_job(CA_URL "/dir", ACCT, "\"profile\": \"shortlived\"");
  lh_set_whatif(job, 1);
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_PROBE, NULL, &out), 0);
  ck_assert_msg(strstr(out.msg, "http-01 in ") && strstr(out.msg, ", profile shortlived"), "%s",
                out.msg);
  lh_set_whatif(job, 0);
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_str_eq(CA.profile, "shortlived");
  /* none configured: none sent */
  make_job(CA_URL "/dir", ACCT, "");
  json_object_del(lh_journal(job), "acme.order");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), 0);
  ck_assert_str_eq(CA.profile, "");
}
END_TEST

START_TEST(challenge_configuration_errors) {
  make_job(CA_URL "/dir", ACCT, "\"challenge_type\": \"tls-alpn-01\"");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_ECONFIG);
  ck_assert_msg(strstr(out.msg, "'challenge_type' must be"), "%s", out.msg);
  make_job(CA_URL "/dir", ACCT, "\"challenge_type\": \"dns-01\"");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_ECONFIG);
  ck_assert_msg(strstr(out.msg, "dns-01 needs 'dns_hook'"), "%s", out.msg);
  make_job(CA_URL "/dir", ACCT, "\"challenge_type\": \"dns-01\", \"dns_hook\": \"hook.sh\"");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_ECONFIG);
  ck_assert_int_eq(CA.n_requests, 0);
  /* a hook that is not there fails on the target, naming it */
  make_job(CA_URL "/dir", ACCT,
           "\"challenge_type\": \"dns-01\", \"dns_hook\": \"/nonexistent/hook\"");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_EREMOTE);
  ck_assert_msg(strstr(out.msg, "dns hook /nonexistent/hook: not an executable file"), "%s",
                out.msg);
}
END_TEST

int main(void) {
  Suite *s = suite_create("acme_choices");
  TCase *t = tcase_create("choices");
  int rc;
  if (make_ca())
    return 1;
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, issues_through_dns01_hook);
  tcase_add_test(t, dns01_failed_validation_removes_the_record);
  tcase_add_test(t, dns01_hook_failure_is_reported);
  tcase_add_test(t, profile_goes_into_the_order);
  tcase_add_test(t, challenge_configuration_errors);
  suite_add_tcase(s, t);
  rc = tu_run(s);
  X509_free(CA_CERT);
  EVP_PKEY_free(CA_KEY);
  return rc;
}
