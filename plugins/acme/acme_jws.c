/* acme_jws.c — see acme_jws.h. */
#include "acme_jws.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "renewd/plugin.h"

char *acme_b64url(const void *data, size_t len) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unsigned char *p = data;
  char *out = malloc(len / 3 * 4 + 5), *o = out;
  if (!out)
    return NULL;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                 (i + 2 < len ? p[i + 2] : 0);
    *o++ = al[v >> 18 & 63];
    *o++ = al[v >> 12 & 63];
    if (i + 1 < len)
      *o++ = al[v >> 6 & 63];
    if (i + 2 < len)
      *o++ = al[v & 63];
  }
  *o = 0;
  return out;
}

int acme_key_load(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errlen) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  char group[64] = "";
  size_t gl = 0;
  BIO_free(b);
  if (!k || !EVP_PKEY_is_a(k, "EC") ||
      !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &gl) ||
      strcmp(group, "prime256v1")) {
    snprintf(err, errlen, "account key: %s",
             !k ? "not a PEM private key"
                : "not a P-256 EC key (ES256 needs: openssl genpkey -algorithm EC -pkeyopt "
                  "ec_paramgen_curve:P-256)");
    EVP_PKEY_free(k);
    return RD_ECONFIG;
  }
  *out = k;
  return 0;
}

/* A big-number parameter as exactly n bytes, base64url. */
static char *b64_param(EVP_PKEY *key, const char *name, size_t n) {
  BIGNUM *bn = NULL;
  unsigned char buf[66];
  char *r = NULL;
  if (n <= sizeof buf && EVP_PKEY_get_bn_param(key, name, &bn) &&
      BN_bn2binpad(bn, buf, (int)n) == (int)n)
    r = acme_b64url(buf, n);
  BN_free(bn);
  return r;
}

json_t *acme_jwk(EVP_PKEY *key) {
  char *x = b64_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
  char *y = b64_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
  json_t *j = x && y ? json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC", "x", x,
                                 "y", y)
                     : NULL;
  free(x);
  free(y);
  return j;
}

int acme_jwk_thumbprint(const json_t *jwk, char out[44]) {
  const char *kty = json_string_value(json_object_get(jwk, "kty"));
  /* RFC 7638 3.2: the required members only, in lexicographic order, no
   * whitespace (jansson's JSON_SORT_KEYS | JSON_COMPACT). */
  static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
  static const char *const rsa[] = {"e", "kty", "n", NULL};
  const char *const *names = kty && !strcmp(kty, "EC")    ? ec
                             : kty && !strcmp(kty, "RSA") ? rsa
                                                          : NULL;
  unsigned char md[32];
  unsigned int mdlen = 0;
  json_t *req;
  char *text, *b;
  if (!names)
    return RD_EINVAL;
  req = json_object();
  for (; *names; names++) {
    json_t *v = json_object_get(jwk, *names);
    if (!json_is_string(v)) {
      json_decref(req);
      return RD_EINVAL;
    }
    json_object_set(req, *names, v);
  }
  text = json_dumps(req, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(req);
  if (!text || !EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL)) {
    free(text);
    return RD_ECRYPTO;
  }
  free(text);
  if (!(b = acme_b64url(md, mdlen)))
    return RD_ENOMEM;
  snprintf(out, 44, "%s", b);
  free(b);
  return 0;
}

char *acme_key_authorization(const char *token, const char *thumbprint) {
  size_t n = strlen(token) + strlen(thumbprint) + 2;
  char *r = malloc(n);
  if (r)
    snprintf(r, n, "%s.%s", token, thumbprint);
  return r;
}

/* ES256 (RFC 7518 3.4): the DER ECDSA signature as r || s, 32 bytes each. */
static char *es256_sign(const void *ctxp, const char *input) {
  EVP_PKEY *key = (EVP_PKEY *)ctxp;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char der[80], raw[64];
  const unsigned char *p = der;
  size_t dl = sizeof der;
  ECDSA_SIG *sig = NULL;
  char *r = NULL;
  if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
      EVP_DigestSign(ctx, der, &dl, (const unsigned char *)input, strlen(input)) == 1 &&
      (sig = d2i_ECDSA_SIG(NULL, &p, (long)dl)) &&
      BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 &&
      BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32)
    r = acme_b64url(raw, sizeof raw);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX_free(ctx);
  return r;
}

typedef struct mac_key {
  const unsigned char *key;
  size_t len;
} mac_key;

/* HS256 (RFC 7518 3.2). */
static char *hs256_sign(const void *ctxp, const char *input) {
  const mac_key *k = ctxp;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  if (!HMAC(EVP_sha256(), k->key, (int)k->len, (const unsigned char *)input, strlen(input), mac,
            &ml))
    return NULL;
  return acme_b64url(mac, ml);
}

/* {"protected", "payload", "signature"} of header hdr and payload text
 * ptext, the signature made by sign over "protected.payload". */
static json_t *flattened(const json_t *hdr, const char *ptext,
                         char *(*sign)(const void *ctx, const char *input), const void *ctx) {
  char *htext = hdr ? json_dumps(hdr, JSON_COMPACT) : NULL;
  char *h64 = NULL, *p64 = NULL, *input = NULL, *sig = NULL;
  json_t *out = NULL;
  if (htext && ptext && (h64 = acme_b64url(htext, strlen(htext))) &&
      (p64 = acme_b64url(ptext, strlen(ptext))) && asprintf(&input, "%s.%s", h64, p64) < 0)
    input = NULL;
  if (input && (sig = sign(ctx, input)))
    out = json_pack("{s:s, s:s, s:s}", "protected", h64, "payload", p64, "signature", sig);
  free(htext);
  free(h64);
  free(p64);
  free(input);
  free(sig);
  return out;
}

char *acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
               const json_t *payload) {
  json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url", url), *jws;
  char *ptext = payload ? json_dumps(payload, JSON_COMPACT) : strdup(""), *out;
  if (hdr && kid)
    json_object_set_new(hdr, "kid", json_string(kid));
  else if (hdr)
    json_object_set_new(hdr, "jwk", acme_jwk(key));
  jws = flattened(hdr, ptext, es256_sign, key);
  out = jws ? json_dumps(jws, JSON_COMPACT) : NULL;
  json_decref(jws);
  json_decref(hdr);
  free(ptext);
  return out;
}

json_t *acme_eab(const char *eab_kid, const unsigned char *mac, size_t mac_len,
                 const json_t *jwk, const char *url) {
  json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", eab_kid, "url", url), *out;
  char *ptext = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
  mac_key k = {mac, mac_len};
  out = flattened(hdr, ptext, hs256_sign, &k);
  json_decref(hdr);
  free(ptext);
  return out;
}
