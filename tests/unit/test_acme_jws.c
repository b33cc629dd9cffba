/* test_acme_jws.c — the ACME account side: base64url, the RFC 7638
 * thumbprint (its own example, section 3.1), the account key's JWK, ES256
 * JWS requests checked with OpenSSL (header, payload, r||s signature) and
 * http-01 key authorizations. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "acme_jws.h"
#include "test_acme_fake.h"
#include "renewd/plugin.h"
#include "testutil.h"

static EVP_PKEY *p256(void) {
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  ck_assert_ptr_nonnull(k);
  return k;
}

static char *pem_of(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());
  char *p;
  ck_assert_int_eq(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
  long n = BIO_get_mem_data(b, &p);
  char *r = strndup(p, (size_t)n);
  BIO_free(b);
  return r;
}

START_TEST(b64url_vectors) {
  static const struct {
    const char *in;
    size_t len;
    const char *out;
  } v[] = {{"", 0, ""},       {"f", 1, "Zg"},           {"fo", 2, "Zm8"},
           {"foo", 3, "Zm9v"}, {"foob", 4, "Zm9vYg"},    {"\xfb\xff", 2, "-_8"},
           {"\xff\xfe\xfd", 3, "__79"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char *o = acme_b64url(v[i].in, v[i].len);
    ck_assert_str_eq(o, v[i].out);
    free(o);
  }
}
END_TEST

/* RFC 7638 section 3.1: the RSA key of its example and its thumbprint. */
START_TEST(rfc7638_example) {
  json_t *jwk = json_pack(
      "{s:s, s:s, s:s, s:s}", "kty", "RSA", "n",
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
      "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
      "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
      "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-"
      "csFCur-kEgU8awapJzKnqDKgw",
      "e", "AQAB", "alg", "RS256", "kid", "2011-04-29");
  char tp[44];
  ck_assert_int_eq(acme_jwk_thumbprint(jwk, tp), 0);
  ck_assert_str_eq(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  /* the optional members ("alg", "kid") do not count; a missing one does */
  json_object_del(jwk, "e");
  ck_assert_int_eq(acme_jwk_thumbprint(jwk, tp), RD_EINVAL);
  json_decref(jwk);
  jwk = json_pack("{s:s}", "kty", "oct");
  ck_assert_int_eq(acme_jwk_thumbprint(jwk, tp), RD_EINVAL);
  json_decref(jwk);
}
END_TEST

/* The EC JWK carries the key's own coordinates (32 bytes each, padded) and
 * its thumbprint is the SHA-256 of {"crv","kty","x","y"} in that order. */
START_TEST(ec_jwk_and_thumbprint) {
  EVP_PKEY *k = p256();
  json_t *jwk = acme_jwk(k);
  BIGNUM *x = NULL;
  unsigned char xb[32], md[32];
  size_t n;
  char tp[44], canon[300];
  ck_assert_ptr_nonnull(jwk);
  ck_assert_str_eq(json_string_value(json_object_get(jwk, "kty")), "EC");
  ck_assert_str_eq(json_string_value(json_object_get(jwk, "crv")), "P-256");
  unsigned char *xd = unb64url(json_string_value(json_object_get(jwk, "x")), &n);
  ck_assert_uint_eq(n, 32);
  ck_assert(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x));
  BN_bn2binpad(x, xb, 32);
  ck_assert_int_eq(memcmp(xd, xb, 32), 0);
  ck_assert_int_eq(acme_jwk_thumbprint(jwk, tp), 0);
  snprintf(canon, sizeof canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
           json_string_value(json_object_get(jwk, "x")),
           json_string_value(json_object_get(jwk, "y")));
  EVP_Digest(canon, strlen(canon), md, NULL, EVP_sha256(), NULL);
  char *want = acme_b64url(md, 32);
  ck_assert_str_eq(tp, want);
  ck_assert_uint_eq(strlen(tp), 43);
  char *ka = acme_key_authorization("tok-EN_1", tp);
  char expect[64];
  snprintf(expect, sizeof expect, "tok-EN_1.%s", tp);
  ck_assert_str_eq(ka, expect);
  free(ka);
  free(want);
  free(xd);
  BN_free(x);
  json_decref(jwk);
  EVP_PKEY_free(k);
}
END_TEST

START_TEST(account_key_load) {
  EVP_PKEY *k = p256(), *got = NULL;
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
  char *pem = pem_of(k), *rpem = pem_of(rsa), *ppem = pem_of(p384), err[256];
  ck_assert_int_eq(acme_key_load(pem, strlen(pem), &got, err, sizeof err), 0);
  ck_assert_int_eq(EVP_PKEY_eq(got, k), 1);
  EVP_PKEY_free(got);
  got = NULL;
  ck_assert_int_eq(acme_key_load(rpem, strlen(rpem), &got, err, sizeof err), RD_ECONFIG);
  ck_assert_msg(strstr(err, "P-256"), "%s", err);
  ck_assert_int_eq(acme_key_load(ppem, strlen(ppem), &got, err, sizeof err), RD_ECONFIG);
  ck_assert_int_eq(acme_key_load("hello", 5, &got, err, sizeof err), RD_ECONFIG);
  ck_assert_msg(strstr(err, "not a PEM private key"), "%s", err);
  ck_assert_ptr_null(got);
  free(pem);
  free(rpem);
  free(ppem);
  EVP_PKEY_free(k);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(p384);
}
END_TEST

/* Opens one JWS as a CA does (test_acme_fake.h): its header; the payload
 * must be payload_want, and one changed byte of the signed input fails. */
static json_t *check_jws(const char *text, EVP_PKEY *k, const char *payload_want) {
  char err[128], *payload = NULL;
  json_t *hdr = jws_open(text, k, &payload, err, sizeof err);
  ck_assert_msg(hdr, "%s", err);
  ck_assert_str_eq(payload, payload_want);
  free(payload);
  json_t *j = json_loads(text, 0, NULL);
  char *input = NULL;
  ck_assert_int_gt(asprintf(&input, "%s.%s", json_string_value(json_object_get(j, "protected")),
                            json_string_value(json_object_get(j, "payload"))),
                   0);
  const char *sig = json_string_value(json_object_get(j, "signature"));
  ck_assert(es256_verifies(k, input, sig));
  input[3] ^= 1;
  ck_assert(!es256_verifies(k, input, sig));
  free(input);
  json_decref(j);
  return hdr;
}

START_TEST(jws_with_jwk_and_kid) {
  EVP_PKEY *k = p256();
  json_t *payload = json_pack("{s:b}", "termsOfServiceAgreed", 1);
  char *t = acme_jws(k, NULL, "n0nce", "https://ca.test/acct", payload);
  ck_assert_ptr_nonnull(t);
  json_t *hdr = check_jws(t, k, "{\"termsOfServiceAgreed\":true}");
  ck_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "ES256");
  ck_assert_str_eq(json_string_value(json_object_get(hdr, "nonce")), "n0nce");
  ck_assert_str_eq(json_string_value(json_object_get(hdr, "url")), "https://ca.test/acct");
  ck_assert_ptr_null(json_object_get(hdr, "kid"));
  json_t *jwk = acme_jwk(k);
  ck_assert(json_equal(json_object_get(hdr, "jwk"), jwk));
  json_decref(jwk);
  json_decref(hdr);
  free(t);
  /* POST-as-GET: the empty payload, and the account URL as kid */
  t = acme_jws(k, "https://ca.test/acct/7", "n1", "https://ca.test/order/1", NULL);
  hdr = check_jws(t, k, "");
  ck_assert_str_eq(json_string_value(json_object_get(hdr, "kid")), "https://ca.test/acct/7");
  ck_assert_ptr_null(json_object_get(hdr, "jwk"));
  json_decref(hdr);
  free(t);
  json_decref(payload);
  EVP_PKEY_free(k);
}
END_TEST

/* RFC 8555 7.3.4: {"protected": {alg HS256, kid, url}, "payload": the
 * account JWK, "signature": HMAC-SHA256 of "protected.payload"}. */
START_TEST(external_account_binding) {
  static const unsigned char key[] = "a 32-byte MAC key from the CA!!";
  EVP_PKEY *k = p256();
  json_t *jwk = acme_jwk(k);
  json_t *eab = acme_eab("kid-1", key, sizeof key - 1, jwk, "https://ca.test/acct");
  const char *h64 = json_string_value(json_object_get(eab, "protected"));
  const char *p64 = json_string_value(json_object_get(eab, "payload"));
  size_t n;
  unsigned char mac[32];
  char input[2048];
  ck_assert(h64 && p64);
  unsigned char *h = unb64url(h64, &n), *p = unb64url(p64, &n);
  json_t *hdr = json_loads((char *)h, 0, NULL), *pl = json_loads((char *)p, 0, NULL);
  ck_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "HS256");
  ck_assert_str_eq(json_string_value(json_object_get(hdr, "kid")), "kid-1");
  ck_assert_str_eq(json_string_value(json_object_get(hdr, "url")), "https://ca.test/acct");
  ck_assert_ptr_null(json_object_get(hdr, "nonce")); /* RFC 8555: no nonce in the inner JWS */
  ck_assert(json_equal(pl, jwk));
  snprintf(input, sizeof input, "%s.%s", h64, p64);
  HMAC(EVP_sha256(), key, (int)sizeof key - 1, (unsigned char *)input, strlen(input), mac, NULL);
  char *want = acme_b64url(mac, 32);
  ck_assert_str_eq(json_string_value(json_object_get(eab, "signature")), want);
  free(want);
  free(h);
  free(p);
  json_decref(hdr);
  json_decref(pl);
  json_decref(eab);
  json_decref(jwk);
  EVP_PKEY_free(k);
}
END_TEST

int main(void) {
  Suite *s = suite_create("acme_jws");
  TCase *t = tcase_create("jws");
  tcase_add_test(t, b64url_vectors);
  tcase_add_test(t, rfc7638_example);
  tcase_add_test(t, ec_jwk_and_thumbprint);
  tcase_add_test(t, account_key_load);
  tcase_add_test(t, jws_with_jwk_and_kid);
  tcase_add_test(t, external_account_binding);
  suite_add_tcase(s, t);
  return tu_run(s);
}
