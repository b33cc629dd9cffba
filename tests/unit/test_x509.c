/* test_x509.c — x509 helpers against fixtures whose expected values were
 * read with `openssl x509 -fingerprint/-serial` (tests/fixtures/x509/gen.sh). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/err.h"
#include "testutil.h"
#include "base/x509.h"

static X509 *load(const char *rel) {
  size_t n = 0;
  unsigned char *b = tu_read_fixture(rel, &n);
  X509 *c = NULL;
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(rd_x509_parse(b, n, &c), 0);
  free(b);
  return c;
}

START_TEST(thumbprints) {
  X509 *c = load("x509/v1.crt");
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  ck_assert_int_eq(rd_x509_thumbprint(c, EVP_sha1(), hex, sizeof hex), 0);
  ck_assert_str_eq(hex, "e03bc18e84f38bc148eeb5f566d9d2cc37567b3c");
  ck_assert_int_eq(rd_x509_thumbprint(c, EVP_sha256(), hex, sizeof hex), 0);
  ck_assert_str_eq(hex, "a2e08b93ccad4fb53058c323762b2e1df89392c5f86fa26553ac20dfb474e6f4");
  ck_assert_int_eq(rd_x509_thumbprint(c, EVP_sha1(), hex, 10), RD_EOVERFLOW);
  X509_free(c);
}
END_TEST

START_TEST(serial_and_reversed) {
  X509 *c = load("x509/v1.crt");
  char hex[128];
  ck_assert_int_eq(rd_x509_serial_hex(c, hex, sizeof hex), 0);
  ck_assert_str_eq(hex, "1A2B3C4D5E6F708192");
  ck_assert_int_eq(rd_x509_serial_reversed_hex(c, hex, sizeof hex), 0);
  ck_assert_str_eq(hex, "9281706F5E4D3C2B1A");
  X509_free(c);
  /* 0xFF01 has its high bit set: DER keeps a 0x00 sign byte, and Windows
   * (hence SCOM's reversed serial) keeps it too. */
  c = load("x509/v2.crt");
  ck_assert_int_eq(rd_x509_serial_hex(c, hex, sizeof hex), 0);
  ck_assert_str_eq(hex, "FF01");
  ck_assert_int_eq(rd_x509_serial_reversed_hex(c, hex, sizeof hex), 0);
  ck_assert_str_eq(hex, "01FF00");
  X509_free(c);
}
END_TEST

START_TEST(templates) {
  X509 *c = load("x509/v1.crt");
  json_t *t = rd_x509_template(c);
  ck_assert_ptr_nonnull(t);
  ck_assert_str_eq(json_string_value(json_object_get(t, "name")), "CEPEncryption");
  ck_assert_int_eq(json_integer_value(json_object_get(t, "version")), 1);
  json_decref(t);
  X509_free(c);
  c = load("x509/v2.crt");
  t = rd_x509_template(c);
  ck_assert_ptr_nonnull(t);
  ck_assert_str_eq(json_string_value(json_object_get(t, "oid")),
                   "1.3.6.1.4.1.311.21.8.1234567.7654321.42");
  ck_assert_int_eq(json_integer_value(json_object_get(t, "major")), 100);
  json_decref(t);
  X509_free(c);
}
END_TEST

START_TEST(facts) {
  size_t n = 0;
  unsigned char *b = tu_read_fixture("x509/v1.crt", &n);
  json_t *f = NULL;
  ck_assert_int_eq(rd_x509_facts_from_bytes(b, n, &f), 0);
  ck_assert_str_eq(json_string_value(json_object_get(f, "subject")), "O=Example,CN=ndes01.corp.example");
  ck_assert_str_eq(json_string_value(json_object_get(f, "key_type")), "rsa");
  ck_assert_int_eq(json_integer_value(json_object_get(f, "key_bits")), 2048);
  json_t *sans = json_object_get(f, "sans");
  ck_assert_int_eq(json_array_size(sans), 2);
  ck_assert_str_eq(json_string_value(json_array_get(sans, 0)), "DNS:ndes01.corp.example");
  ck_assert_str_eq(json_string_value(json_array_get(sans, 1)), "IP:10.1.2.3");
  json_int_t nb = json_integer_value(json_object_get(f, "not_before"));
  json_int_t na = json_integer_value(json_object_get(f, "not_after"));
  ck_assert_int_eq(na - nb, 3650LL * 86400);
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(f, "pem")), "BEGIN CERTIFICATE"));
  /* `openssl pkey -in x509/v1.key -pubout -outform DER | sha256sum`: what
   * posix.inventory's target reports for the matching key (v2.key gives
   * 77b31421...) */
  ck_assert_str_eq(json_string_value(json_object_get(f, "spki_sha256")),
                   "a4f11f08cd013438468d30600fdd3ed895c1aa51e8953affbc6fb9fdd06d7d6f");
  json_decref(f);
  free(b);
}
END_TEST

START_TEST(key_match) {
  size_t n = 0;
  X509 *c = load("x509/v1.crt");
  unsigned char *k1 = tu_read_fixture("x509/v1.key", &n);
  ck_assert_int_eq(rd_x509_key_matches(c, k1, n), 1);
  free(k1);
  unsigned char *k2 = tu_read_fixture("x509/v2.key", &n);
  ck_assert_int_eq(rd_x509_key_matches(c, k2, n), 0);
  free(k2);
  ck_assert_int_eq(rd_x509_key_matches(c, (const unsigned char *)"junk", 4), RD_EPROTO);
  X509_free(c);
}
END_TEST

START_TEST(bad_input) {
  X509 *c = NULL;
  ck_assert_int_eq(rd_x509_parse((const unsigned char *)"-----BEGIN nonsense", 19, &c), RD_EPROTO);
  ck_assert_int_eq(rd_x509_parse((const unsigned char *)"\x30\x03\x02\x01", 4, &c), RD_EPROTO);
  ck_assert_int_eq(rd_x509_parse(NULL, 0, &c), RD_EINVAL);
  ck_assert_ptr_null(c);
  ck_assert_str_eq(rd_strerror(RD_ETIMEDOUT), "timed out");
  ck_assert_str_eq(rd_errname(RD_EHOSTKEY), "RD_EHOSTKEY");
  ck_assert_str_eq(rd_strerror(-999), "unknown error");
}
END_TEST

int main(void) {
  Suite *s = suite_create("x509");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, thumbprints);
  tcase_add_test(tc, serial_and_reversed);
  tcase_add_test(tc, templates);
  tcase_add_test(tc, facts);
  tcase_add_test(tc, key_match);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
