/* test_acme_flow.c — the ACME order flow against the fake CA of
 * test_acme_ca.h: http-01, resume, failures, badNonce, probe, ARI, external
 * account binding, cancel, configuration. */
#include "test_acme_ca.h"

START_TEST(issues_through_http01) {
  CA.bad_nonces = 1; /* the first POST is refused: sent again with the fresh nonce */
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation);
  ck_assert_msg(strstr(out.msg, "issued serial"), "%s", out.msg);
  expect_issued();
  ck_assert_int_eq(CA.n_badnonce, 1);
  ck_assert_int_eq(CA.n_account, 1);
  ck_assert_int_eq(CA.n_order, 1);
  ck_assert_int_eq(CA.saw_private, 0);
  ck_assert_int_eq(challenge_files(), 0); /* removed after validation */
  ck_assert_str_eq(lh_state(job), "REQUESTED");
  /* no private key in the journal or the facts */
  char *j = json_dumps(lh_journal(job), 0), *fa = json_dumps(lh_facts(job), 0);
  ck_assert_ptr_null(strstr(j, "PRIVATE"));
  ck_assert_ptr_null(strstr(fa, "PRIVATE"));
  free(j);
  free(fa);
  /* the journal says issued: a second run asks the CA nothing */
  int before = CA.n_requests;
  json_object_del(lh_facts(job), "new_cert");
  st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_int_eq(CA.n_requests, before);
  expect_issued();
}
END_TEST

START_TEST(resumed_job_finishes_the_same_order) {
  CA.fail_finalize = 1;
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_int_eq(st, RD_EIO);
  ck_assert_msg(strstr(out.msg, "finalize: HTTP 500") && strstr(out.msg, "try again later"), "%s",
                out.msg);
  ck_assert_str_eq(journal_state(), "ordered");
  ck_assert_int_eq(challenge_files(), 0);
  char *pub1 = lh_sh_out("openssl pkey -in %s -pubout", STAGED);
  st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation);
  ck_assert_int_eq(CA.n_order, 1);   /* the same order */
  ck_assert_int_eq(CA.n_account, 1); /* the account URL came from the journal */
  ck_assert_int_eq(CA.n_finalize, 2);
  char *pub2 = lh_sh_out("openssl pkey -in %s -pubout", STAGED);
  ck_assert_str_eq(pub1, pub2); /* and the same staged key */
  free(pub1);
  free(pub2);
  expect_issued();
}
END_TEST

/* The staged key was lost while the order waited (before finalize): the
 * same order goes on with a new staged key. */
START_TEST(resumed_order_with_the_staged_key_lost_makes_it_again) {
  CA.fail_finalize = 1;
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_EIO);
  char *pub1 = lh_sh_out("openssl pkey -in %s -pubout", STAGED);
  ck_assert_int_eq(unlink(STAGED), 0);
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation); /* the CSR is the new staged key's */
  ck_assert_int_eq(CA.n_order, 1);
  char *pub2 = lh_sh_out("openssl pkey -in %s -pubout", STAGED);
  ck_assert_str_ne(pub1, pub2);
  ck_assert_ptr_nonnull(strstr(
      json_string_value(json_object_get(json_object_get(lh_journal(job), "acme.order"), "pub")),
      pub2));
  free(pub1);
  free(pub2);
  expect_issued();
}
END_TEST

START_TEST(certificate_for_another_key_is_refused) {
  CA.other_key = 1;
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_EVERIFY);
  ck_assert_msg(strstr(out.msg, "is not for the key staged on the target"), "%s", out.msg);
  ck_assert_ptr_null(json_object_get(lh_facts(job), "new_cert"));
  ck_assert_str_eq(journal_state(), "invalid");
}
END_TEST

START_TEST(failed_challenge_removes_the_file_and_orders_again_next_time) {
  CA.wrong_keyauth = 1;
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_int_eq(st, RD_EDENIED);
  ck_assert_msg(strstr(out.msg, "authorization of web1.test is invalid") &&
                    strstr(out.msg, "key authorization | mismatch"),
                "%s", out.msg);
  ck_assert_int_eq(challenge_files(), 0);
  ck_assert_str_eq(journal_state(), "invalid");
  CA.wrong_keyauth = 0;
  st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_int_eq(CA.n_order, 2);
  expect_issued();
}
END_TEST

/* A CA's URL goes into requests, the journal and messages: only a clean
 * https:// URL is taken. */
START_TEST(order_url_with_control_characters_is_refused) {
  CA.bad_location = 1;
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_EPROTO);
  ck_assert_msg(strstr(out.msg, "newOrder: no Location (https:// order URL)"), "%s", out.msg);
  ck_assert_ptr_null(strchr(out.msg, '\n'));
  ck_assert_ptr_null(json_object_get(lh_journal(job), "acme.order"));
}
END_TEST

START_TEST(bad_nonce_is_retried_a_bounded_number_of_times) {
  CA.bad_nonces = 100;
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_int_eq(st, RD_EDENIED);
  ck_assert_msg(strstr(out.msg, "badNonce"), "%s", out.msg);
  ck_assert_int_eq(CA.n_badnonce, 5); /* ACME_BAD_NONCE_TRIES */
  ck_assert_int_eq(CA.n_account, 0);
}
END_TEST

START_TEST(probe_reports_and_changes_nothing) {
  lh_set_whatif(job, 1);
  int st = lh_phase(job, &kind, RD_PHASE_PROBE, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_msg(strstr(out.msg, "would order web1.test, www.web1.test from " CA_URL "/dir"), "%s",
                out.msg);
  ck_assert_int_eq(lh_scripts_run(job), 0);
  ck_assert_int_eq(CA.n_order + CA.n_account, 0);
}
END_TEST

/* A live certificate from the fake CA with an Authority Key Identifier:
 * its CertID (RFC 9773 4.1) goes into CA.ari_id and facts.cert.pem. */
static void live_cert_with_aki(void) {
  static const unsigned char aki[] = "fake-aki-0123456789";
  static const unsigned char serial[] = {0x12, 0x34};
  X509 *c = X509_new();
  AUTHORITY_KEYID *ak = AUTHORITY_KEYID_new();
  BIO *b = BIO_new(BIO_s_mem());
  char *p, *a64 = acme_b64url(aki, sizeof aki - 1), *s64 = acme_b64url(serial, 2);
  ak->keyid = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(ak->keyid, aki, (int)sizeof aki - 1);
  X509_add1_ext_i2d(c, NID_authority_key_identifier, ak, 0, 0);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 0x1234);
  X509_set_issuer_name(c, X509_get_subject_name(CA_CERT));
  X509_set_subject_name(c, X509_get_subject_name(CA_CERT));
  X509_set_pubkey(c, CA_KEY);
  X509_gmtime_adj(X509_getm_notBefore(c), 0);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  ck_assert_int_gt(X509_sign(c, CA_KEY, EVP_sha256()), 0);
  PEM_write_bio_X509(b, c);
  long n = BIO_get_mem_data(b, &p);
  json_object_set_new(json_object_get(lh_facts(job), "cert"), "pem", json_stringn(p, (size_t)n));
  snprintf(CA.ari_id, sizeof CA.ari_id, "%s.%s", a64, s64);
  free(a64);
  free(s64);
  BIO_free(b);
  AUTHORITY_KEYID_free(ak);
  X509_free(c);
}

START_TEST(ari_window_in_the_probe_and_replaces_in_the_order) {
  CA.ari = 1;
  live_cert_with_aki();
  lh_set_whatif(job, 1);
  int st = lh_phase(job, &kind, RD_PHASE_PROBE, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_msg(strstr(out.msg, "replacing ") && strstr(out.msg, CA.ari_id) &&
                    strstr(out.msg, "renewal window 2999-01-01T00:00:00Z .. 2999-01-02T00:00:00Z "
                                    "from the CA's renewalInfo: renew at 2999-01-01"),
                "%s", out.msg);
  json_t *ari = json_object_get(out.result, "ari");
  ck_assert_str_eq(json_string_value(json_object_get(ari, "source")), "CA renewalInfo");
  ck_assert_int_eq(json_integer_value(json_object_get(ari, "retry_after")), 21600);
  ck_assert(json_is_false(json_object_get(ari, "now")));
  /* the window for the due decision (core/schedule.h), Retry-After as the
   * next check */
  json_t *w = json_object_get(lh_facts(job), "renew_window");
  time_t t0 = time(NULL);
  ck_assert_str_eq(json_string_value(json_object_get(w, "source")), "ARI");
  ck_assert_int_eq(json_integer_value(json_object_get(w, "start")), 32472144000);
  ck_assert_int_eq(json_integer_value(json_object_get(w, "end")), 32472144000 + 86400);
  ck_assert(json_integer_value(json_object_get(w, "renew_at")) >= 32472144000 &&
            json_integer_value(json_object_get(w, "renew_at")) < 32472144000 + 86400);
  ck_assert(llabs(json_integer_value(json_object_get(w, "next_check")) - (t0 + 21600)) <= 5);
  /* a window in the past: renew at once */
  CA.ari = 2;
  st = lh_phase(job, &kind, RD_PHASE_PROBE, NULL, &out);
  ck_assert_msg(strstr(out.msg, "renew at once (the window is over"), "%s", out.msg);
  ck_assert(json_is_true(json_object_get(json_object_get(out.result, "ari"), "now")));
  /* the new order names the certificate it replaces */
  lh_set_whatif(job, 0);
  st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_str_eq(CA.replaces, CA.ari_id);
}
END_TEST

START_TEST(no_renewal_info_no_replaces) {
  live_cert_with_aki(); /* the CA offers no renewalInfo */
  int st = lh_phase(job, &kind, RD_PHASE_PROBE, NULL, &out);
  ck_assert_msg(st == 0 && strstr(out.msg, "the CA offers no renewal information"), "%s", out.msg);
  json_t *w = json_object_get(lh_facts(job), "renew_window");
  ck_assert_str_eq(json_string_value(json_object_get(w, "source")), "policy");
  ck_assert_str_eq(json_string_value(json_object_get(w, "note")),
                   "the CA offers no renewal information");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), 0);
  ck_assert_str_eq(CA.replaces, "");
}
END_TEST

START_TEST(external_account_binding_when_the_ca_needs_one) {
  char path[320], extra[512];
  CA.eab = 1;
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_EDENIED);
  ck_assert_msg(strstr(out.msg, "externalAccountRequired"), "%s", out.msg);
  snprintf(path, sizeof path, "%s/eab.key", T);
  ck_assert_int_eq(lh_sh("umask 077; printf '%%s\\n' '%s' > %s", EAB_KEY_B64URL, path), 0);
  snprintf(extra, sizeof extra, "\"eab\": {\"kid\": \"%s\", \"hmac_key\": {\"file\": \"%s\"}}",
           EAB_KID, path);
  make_job(CA_URL "/dir", ACCT, extra);
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_int_eq(CA.n_account, 1);
}
END_TEST

/* A phase that timed out: the flow is canceled, and an answer that comes
 * later (canceled, or even a real one) stops where it arrives. */
static acme_flow *kept;
static int t_apply_kept(rd_step *s, const rd_host_api *h) {
  kept = acme_flow_new(s, h, &fake_transport);
  if (acme_flow_config(kept))
    return 0;
  acme_flow_apply(kept);
  return 0;
}
static const rd_step_kind kind_kept = {.type = "acme.kept", .platform = RD_PLATFORM_POSIX,
                                       .probe = t_apply_kept, .apply = t_apply_kept};

START_TEST(late_answers_after_cancel_do_nothing) {
  CA.hold = 1;
  /* the directory request is held: the phase has not completed */
  ck_assert_int_eq(lh_phase(job, &kind_kept, RD_PHASE_APPLY, NULL, &out), RD_ESTATE);
  ck_assert_int_eq(out.done_calls, 0);
  ck_assert_ptr_nonnull(CA.held);
  acme_flow_cancel(kept);
  static const char dir[] = "{\"newNonce\":\"a\",\"newAccount\":\"b\",\"newOrder\":\"c\"}";
  acme_reply r = {200, "nonce-x", NULL, -1, (const unsigned char *)dir, sizeof dir - 1, NULL};
  int before = CA.n_requests;
  CA.held(kept, RD_ECANCELED, NULL);
  CA.held(kept, 0, &r);
  ck_assert_int_eq(CA.n_requests, before); /* nothing further was asked */
  ck_assert_int_eq(lh_scripts_run(job), 0); /* no key was made */
  ck_assert_ptr_null(json_object_get(lh_journal(job), "acme.order"));
  acme_flow_free(kept);
}
END_TEST

START_TEST(configuration_errors) {
  char rsa[320];
  make_job("http://ca.test/dir", ACCT, "");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_ECONFIG);
  ck_assert_msg(strstr(out.msg, "https:// directory"), "%s", out.msg);
  snprintf(rsa, sizeof rsa, "%s/rsa.key", T);
  ck_assert_int_eq(lh_sh("umask 077; openssl genpkey -algorithm RSA -out %s 2>/dev/null", rsa), 0);
  make_job(CA_URL "/dir", rsa, "");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_ECONFIG);
  ck_assert_msg(strstr(out.msg, "not a P-256 EC key"), "%s", out.msg);
  make_job(CA_URL "/dir", "/nonexistent/acct.key", "");
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_ECONFIG);
  ck_assert_msg(strstr(out.msg, "account_key"), "%s", out.msg);
  ck_assert_int_eq(CA.n_requests, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("acme_flow");
  TCase *t = tcase_create("flow");
  int rc;
  if (make_ca())
    return 1;
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, issues_through_http01);
  tcase_add_test(t, resumed_job_finishes_the_same_order);
  tcase_add_test(t, resumed_order_with_the_staged_key_lost_makes_it_again);
  tcase_add_test(t, failed_challenge_removes_the_file_and_orders_again_next_time);
  tcase_add_test(t, certificate_for_another_key_is_refused);
  tcase_add_test(t, bad_nonce_is_retried_a_bounded_number_of_times);
  tcase_add_test(t, order_url_with_control_characters_is_refused);
  tcase_add_test(t, probe_reports_and_changes_nothing);
  tcase_add_test(t, configuration_errors);
  tcase_add_test(t, ari_window_in_the_probe_and_replaces_in_the_order);
  tcase_add_test(t, no_renewal_info_no_replaces);
  tcase_add_test(t, external_account_binding_when_the_ca_needs_one);
  tcase_add_test(t, late_answers_after_cancel_do_nothing);
  suite_add_tcase(s, t);
  rc = tu_run(s);
  X509_free(CA_CERT);
  EVP_PKEY_free(CA_KEY);
  return rc;
}
