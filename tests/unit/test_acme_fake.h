/* test_acme_fake.h — what the ACME tests share: base64url decoding and the
 * check of a flattened ES256 JWS (RFC 7515) made the way a CA checks it,
 * with OpenSSL, independently of acme_jws.c. Header-only (static): each
 * test program includes it once. */
#ifndef RENEWD_TEST_ACME_FAKE_H
#define RENEWD_TEST_ACME_FAKE_H
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

/* base64url (no padding) -> bytes, NUL-terminated; *len set; caller frees.
 * NULL when it is not base64url. */
static unsigned char *unb64url(const char *in, size_t *len) {
  size_t n = strlen(in), m = (n + 3) / 4 * 4;
  char *t = calloc(1, m + 1);
  unsigned char *out = calloc(1, m + 1);
  int r;
  for (size_t i = 0; i < m; i++)
    t[i] = i < n ? (in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i]) : '=';
  r = n % 4 == 1 || strcspn(in, "+/=") != n ? -1 : EVP_DecodeBlock(out, (unsigned char *)t, (int)m);
  free(t);
  if (r < 0) {
    free(out);
    return NULL;
  }
  *len = (size_t)r - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
  out[*len] = 0;
  return out;
}

/* 1 when sig64 (r||s, base64url) is k's ES256 signature of input. */
static int es256_verifies(EVP_PKEY *k, const char *input, const char *sig64) {
  size_t n = 0;
  unsigned char *raw = unb64url(sig64, &n), *der = NULL;
  ECDSA_SIG *sig = ECDSA_SIG_new();
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = 0, dl;
  if (raw && n == 64 && sig &&
      ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)) &&
      (dl = i2d_ECDSA_SIG(sig, &der)) > 0 &&
      EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1)
    ok = EVP_DigestVerify(ctx, der, (size_t)dl, (const unsigned char *)input, strlen(input)) == 1;
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX_free(ctx);
  free(raw);
  return ok;
}

/* The public key of a P-256 JWK, or NULL. */
static EVP_PKEY *jwk_pub(const json_t *jwk) {
  size_t xl = 0, yl = 0;
  unsigned char *x = unb64url(json_string_value(json_object_get(jwk, "x")) ?: "", &xl);
  unsigned char *y = unb64url(json_string_value(json_object_get(jwk, "y")) ?: "", &yl);
  unsigned char pt[65] = {4};
  EVP_PKEY *k = NULL;
  if (x && y && xl == 32 && yl == 32) {
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM prm[] = {OSSL_PARAM_utf8_string("group", "prime256v1", 0),
                        OSSL_PARAM_octet_string("pub", pt, sizeof pt), OSSL_PARAM_END};
    if (c && EVP_PKEY_fromdata_init(c) == 1)
      EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, prm);
    EVP_PKEY_CTX_free(c);
  }
  free(x);
  free(y);
  return k;
}

/* A JWS as a CA receives it: its protected header (new reference) and
 * payload text (*payload, caller frees), with the signature checked by k —
 * or, when k is NULL, by the header's own "jwk" (newAccount). NULL when
 * anything is wrong; why in err. */
static json_t *jws_open(const char *text, EVP_PKEY *k, char **payload, char *err, size_t errlen) {
  json_t *j = json_loads(text, 0, NULL), *hdr = NULL;
  const char *h64 = json_string_value(json_object_get(j, "protected"));
  const char *p64 = json_string_value(json_object_get(j, "payload"));
  const char *s64 = json_string_value(json_object_get(j, "signature"));
  unsigned char *h = NULL, *p = NULL;
  size_t n;
  char *input = NULL;
  EVP_PKEY *own = NULL;
  *payload = NULL;
  snprintf(err, errlen, "not a flattened JWS");
  if (!h64 || !p64 || !s64 || !(h = unb64url(h64, &n)) || !(p = unb64url(p64, &n)) ||
      !(hdr = json_loads((char *)h, 0, NULL)))
    goto out;
  if (!k)
    k = own = jwk_pub(json_object_get(hdr, "jwk"));
  if (asprintf(&input, "%s.%s", h64, p64) < 0)
    input = NULL;
  if (!k || !input || !es256_verifies(k, input, s64) ||
      strcmp(json_string_value(json_object_get(hdr, "alg")) ?: "", "ES256")) {
    snprintf(err, errlen, "the signature does not verify (or alg is not ES256)");
    json_decref(hdr);
    hdr = NULL;
    goto out;
  }
  *payload = (char *)p;
  p = NULL;
  err[0] = 0;
out:
  free(input);
  free(h);
  free(p);
  EVP_PKEY_free(own);
  json_decref(j);
  return hdr;
}

#endif
