/* test_acme_ari.c — ACME Renewal Information (RFC 9773): the CertID of its
 * own example (section 4.1), RFC 3339 times, and the choice of the moment
 * in the CA's suggested window (a window already over renews at once). */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "acme_ari.h"
#include "renewd/plugin.h"
#include "testutil.h"

static X509 *cert_with(const unsigned char *kid, int kidlen, long serial) {
  X509 *c = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  if (kid) {
    AUTHORITY_KEYID *ak = AUTHORITY_KEYID_new();
    ak->keyid = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(ak->keyid, kid, kidlen);
    ck_assert_int_eq(X509_add1_ext_i2d(c, NID_authority_key_identifier, ak, 0, 0), 1);
    AUTHORITY_KEYID_free(ak);
  }
  return c;
}

/* RFC 9773 4.1: keyIdentifier 69:88:5B:...:D4, serial 00:87:65:43:21. */
START_TEST(rfc9773_cert_id_example) {
  static const unsigned char kid[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                      0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
  X509 *c = cert_with(kid, sizeof kid, 0x87654321L);
  char *id = acme_ari_cert_id(c);
  ck_assert_str_eq(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  free(id);
  X509_free(c);
  /* no Authority Key Identifier: no CertID */
  c = cert_with(NULL, 0, 5);
  ck_assert_ptr_null(acme_ari_cert_id(c));
  X509_free(c);
}
END_TEST

START_TEST(rfc3339_times) {
  ck_assert_int_eq(acme_rfc3339("1970-01-01T00:00:00Z"), 0);
  ck_assert_int_eq(acme_rfc3339("2025-01-02T04:00:00Z"), 1735790400);
  ck_assert_int_eq(acme_rfc3339("2025-01-02T04:00:00.123456Z"), 1735790400);
  ck_assert_int_eq(acme_rfc3339("2025-01-02T04:00:00+00:00"), 1735790400);
  ck_assert_int_eq(acme_rfc3339("2025-01-02T04:00:00+02:00"), -1);
  ck_assert_int_eq(acme_rfc3339("2025-01-02 04:00:00Z"), -1);
  ck_assert_int_eq(acme_rfc3339("2025-13-02T04:00:00Z"), -1);
  ck_assert_int_eq(acme_rfc3339(NULL), -1);
}
END_TEST

#define WIN(s, e)                                                                                  \
  "{\"suggestedWindow\": {\"start\": \"" s "\", \"end\": \"" e "\"}, "                             \
  "\"explanationURL\": \"https://ca.test/why\\nnext\"}"

START_TEST(window_choice) {
  const char *future = WIN("2025-01-02T04:00:00Z", "2025-01-03T04:00:00Z");
  time_t start = 1735790400, end = start + 86400, before = start - 1000;
  acme_ari_window w;
  ck_assert_int_eq(acme_ari_parse(future, strlen(future), before, 0.0, &w), 0);
  ck_assert_int_eq(w.start, start);
  ck_assert_int_eq(w.end, end);
  ck_assert_int_eq(w.renew_at, start);
  ck_assert_int_eq(w.now, 0);
  ck_assert_str_eq(w.explanation, "https://ca.test/why | next");
  ck_assert_int_eq(acme_ari_parse(future, strlen(future), before, 0.5, &w), 0);
  ck_assert_int_eq(w.renew_at, start + 43200);
  /* inside the window, a moment already passed: at once */
  ck_assert_int_eq(acme_ari_parse(future, strlen(future), start + 60000, 0.25, &w), 0);
  ck_assert_int_eq(w.now, 1);
  /* the window is over (a mass revocation moves it to the past): at once */
  ck_assert_int_eq(acme_ari_parse(future, strlen(future), end + 5, 0.9, &w), 0);
  ck_assert_int_eq(w.now, 1);
  ck_assert_int_eq(w.renew_at, end + 5);
  /* malformed: no window, end before start */
  const char *bad = WIN("2025-01-03T04:00:00Z", "2025-01-02T04:00:00Z");
  ck_assert_int_eq(acme_ari_parse(bad, strlen(bad), before, 0, &w), RD_EPROTO);
  ck_assert_int_eq(acme_ari_parse("{}", 2, before, 0, &w), RD_EPROTO);
  ck_assert_int_eq(acme_ari_parse("nope", 4, before, 0, &w), RD_EPROTO);
}
END_TEST

int main(void) {
  Suite *s = suite_create("acme_ari");
  TCase *t = tcase_create("ari");
  tcase_add_test(t, rfc9773_cert_id_example);
  tcase_add_test(t, rfc3339_times);
  tcase_add_test(t, window_choice);
  suite_add_tcase(s, t);
  return tu_run(s);
}
