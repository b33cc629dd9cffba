/* test_acme_chain.c — alternate chains (RFC 8555 7.4.2) and the runbook's
 * preferred_chain (acme_chain.c) against the fake CA of test_acme_ca.h: its
 * certificate download names one alternate (Link rel="alternate"): the same
 * chain with the CA cross-signed by "fake ACME alt root" on top. And the
 * Link header parsing itself. */
#include "test_acme_ca.h"

#include "acme_int.h"

static char *CROSS_PEM; /* "fake ACME CA" issued by "fake ACME alt root" */

static int make_cross(void) {
  EVP_PKEY *root = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *c = X509_new();
  X509_NAME *n = X509_NAME_new();
  BIO *b = BIO_new(BIO_s_mem());
  char *p;
  long len;
  int ok = root && c && n && b;
  if (ok) {
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 2);
    X509_set_subject_name(c, X509_get_subject_name(CA_CERT));
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"fake ACME alt root",
                               -1, -1, 0);
    X509_set_issuer_name(c, n);
    X509_set_pubkey(c, CA_KEY);
    X509_gmtime_adj(X509_getm_notBefore(c), 0);
    X509_gmtime_adj(X509_getm_notAfter(c), 365L * 86400);
    ok = X509_sign(c, root, EVP_sha256()) > 0 && PEM_write_bio_X509(b, c) == 1 &&
         (len = BIO_get_mem_data(b, &p)) > 0 && (CROSS_PEM = strndup(p, (size_t)len));
  }
  BIO_free(b);
  X509_NAME_free(n);
  X509_free(c);
  EVP_PKEY_free(root);
  return ok ? 0 : -1;
}

/* The issuer CN at the top of what the job keeps: facts.ca_pem and the
 * journal's chain. */
static void expect_top(const char *cn) {
  const char *ca = json_string_value(json_object_get(lh_facts(job), "ca_pem"));
  const char *kept =
      json_string_value(json_object_get(json_object_get(lh_journal(job), "acme.order"), "cert"));
  char *a = ca ? acme_chain_top_issuer(ca) : NULL, *b = kept ? acme_chain_top_issuer(kept) : NULL;
  ck_assert_str_eq(a ? a : "(none)", cn);
  ck_assert_str_eq(b ? b : "(none)", cn);
  free(a);
  free(b);
}

static int issue_with(const char *preferred) {
  char extra[256] = "";
  if (preferred)
    snprintf(extra, sizeof extra, "\"preferred_chain\": \"%s\"", preferred);
  make_job(CA_URL "/dir", ACCT, extra);
  CA.alt_extra = CROSS_PEM;
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation);
  ck_assert_str_eq(journal_state(), "issued");
  return st;
}

START_TEST(the_preferred_alternate_is_taken) {
  issue_with("fake ACME alt root");
  ck_assert_int_eq(CA.n_alt, 1);
  expect_top("fake ACME alt root");
  expect_issued(); /* the same leaf, for the staged key */
}
END_TEST

START_TEST(the_default_chain_when_it_is_the_preferred_one) {
  issue_with("fake ACME CA");
  ck_assert_int_eq(CA.n_alt, 0); /* no alternate fetched */
  expect_top("fake ACME CA");
}
END_TEST

START_TEST(the_default_chain_when_no_alternate_matches) {
  issue_with("nobody's root");
  ck_assert_int_eq(CA.n_alt, 1);
  expect_top("fake ACME CA");
}
END_TEST

START_TEST(no_preference_no_alternate_fetched) {
  issue_with(NULL);
  ck_assert_int_eq(CA.n_alt, 0);
  expect_top("fake ACME CA");
}
END_TEST

START_TEST(link_header_values) {
  json_t *u = json_array();
  ck_assert_int_eq(acme_link_alternates("<https://ca.test/cert/1/1>;rel=\"alternate\", "
                                        "<https://ca.test/dir>;rel=\"index\", "
                                        "<https://ca.test/cert/1/2>; title=\"a, b\"; rel=alternate",
                                        u),
                   2);
  ck_assert_int_eq(acme_link_alternates("<https://ca.test/up>;rel=\"up\"", u), 0);
  ck_assert_int_eq(acme_link_alternates("<http://ca.test/plain>;rel=\"alternate\"", u), 0);
  ck_assert_int_eq(acme_link_alternates("<https://ca.test/a\tb>;rel=\"alternate\"", u), 0);
  ck_assert_int_eq(acme_link_alternates("<https://ca.test/x;rel=\"alternate\"", u), 0);
  ck_assert_int_eq(acme_link_alternates("", u), 0);
  ck_assert_int_eq(acme_link_alternates("<https://ca.test/cert/1/3>;rel=\"alternates\"", u), 0);
  ck_assert_uint_eq(json_array_size(u), 2);
  ck_assert_str_eq(json_string_value(json_array_get(u, 0)), "https://ca.test/cert/1/1");
  ck_assert_str_eq(json_string_value(json_array_get(u, 1)), "https://ca.test/cert/1/2");
  json_decref(u);
}
END_TEST

int main(void) {
  Suite *s = suite_create("acme_chain");
  TCase *t = tcase_create("chain");
  int rc;
  if (make_ca() || make_cross())
    return 1;
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, the_preferred_alternate_is_taken);
  tcase_add_test(t, the_default_chain_when_it_is_the_preferred_one);
  tcase_add_test(t, the_default_chain_when_no_alternate_matches);
  tcase_add_test(t, no_preference_no_alternate_fetched);
  tcase_add_test(t, link_header_values);
  suite_add_tcase(s, t);
  rc = tu_run(s);
  free(CROSS_PEM);
  X509_free(CA_CERT);
  EVP_PKEY_free(CA_KEY);
  return rc;
}
