/* test_scep_msg.c — the SCEP codec against real OpenSSL objects: requests
 * built with the split signature (EVP and the real `openssl pkeyutl`),
 * checked with PKCS7_verify and CMS_verify and decrypted with the CA key;
 * CertReps made here with a test CA, parsed and refused when forged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "renewd/plugin.h"
#include "scep_msg.h"
#include "testutil.h"

/* Keys made once in main(): the forked tests inherit them. */
static EVP_PKEY *ca_key, *old_key, *new_key, *rogue_key, *ec_key;
static X509 *ca_crt, *old_crt, *rogue_crt;

static const unsigned char NONCE[SCEP_NONCE_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                    9, 10, 11, 12, 13, 14, 15, 16};

/* For helpers that also run in main(), outside any test: Check's asserts
 * report through the test's pipe, which does not exist there. */
#define REQUIRE(x)                                                             \
  do {                                                                         \
    if (!(x)) {                                                                \
      fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x);           \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static EVP_PKEY *gen_rsa(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); }

static X509_NAME *mkname(const char *cn) {
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"renewd test", -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  return n;
}

static void add_ext(X509 *c, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509_EXTENSION *e;
  X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
  e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  REQUIRE(e != NULL);
  X509_add_ext(c, e, -1);
  X509_EXTENSION_free(e);
}

/* A certificate for pub named cn, issued by issuer/ikey (self-signed when
 * issuer is NULL). ku: a keyUsage value or NULL. */
static X509 *mkcert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *ikey, long serial,
                    int ca, const char *ku) {
  X509 *c = X509_new();
  X509_NAME *n = mkname(cn);
  REQUIRE(c != NULL);
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_set_subject_name(c, n);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
  X509_NAME_free(n);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400L * 30);
  X509_set_pubkey(c, pub);
  add_ext(c, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ku)
    add_ext(c, issuer, NID_key_usage, ku);
  REQUIRE(X509_sign(c, ikey, EVP_sha256()) > 0);
  return c;
}

/* A DER CSR for key with an optional challengePassword. Caller frees. */
static unsigned char *mkcsr(const char *cn, EVP_PKEY *key, const char *challenge,
                            size_t *len) {
  X509_REQ *r = X509_REQ_new();
  X509_NAME *n = mkname(cn);
  unsigned char *der = NULL;
  int l;
  X509_REQ_set_version(r, 0);
  X509_REQ_set_subject_name(r, n);
  X509_NAME_free(n);
  X509_REQ_set_pubkey(r, key);
  if (challenge)
    X509_REQ_add1_attr_by_NID(r, NID_pkcs9_challengePassword, MBSTRING_ASC,
                              (const unsigned char *)challenge, -1);
  ck_assert_int_gt(X509_REQ_sign(r, key, EVP_sha256()), 0);
  l = i2d_X509_REQ(r, &der);
  ck_assert_int_gt(l, 0);
  X509_REQ_free(r);
  *len = (size_t)l;
  return der;
}

/* What the target does, in-process: EVP_PKEY_sign over the digest with a
 * signature md (= pkeyutl -pkeyopt digest:sha256). */
static unsigned char *evp_sign(EVP_PKEY *key, const char *mdname, const unsigned char *d,
                               size_t dlen, size_t *siglen) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
  unsigned char *sig;
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
  ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(mdname)), 1);
  ck_assert_int_eq(EVP_PKEY_sign(ctx, NULL, siglen, d, dlen), 1);
  sig = malloc(*siglen);
  ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, siglen, d, dlen), 1);
  EVP_PKEY_CTX_free(ctx);
  return sig;
}

static void write_file(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* What the target does, for real: `openssl pkeyutl -sign -inkey K
 * -pkeyopt digest:<md>` on a file holding the digest. */
static unsigned char *pkeyutl_sign(EVP_PKEY *key, const char *mdname, const unsigned char *d,
                                   size_t dlen, size_t *siglen) {
  char dir[] = "/tmp/rd-scep-XXXXXX", kp[64], dp[64], sp[64], cmd[512];
  FILE *f;
  unsigned char *sig;
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(kp, sizeof kp, "%s/old.key", dir);
  snprintf(dp, sizeof dp, "%s/tbs.bin", dir);
  snprintf(sp, sizeof sp, "%s/sig.bin", dir);
  f = fopen(kp, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  write_file(dp, d, dlen);
  snprintf(cmd, sizeof cmd,
           "openssl pkeyutl -sign -inkey %s -pkeyopt digest:%s -in %s -out %s 2>&1", kp,
           mdname, dp, sp);
  ck_assert_int_eq(system(cmd), 0);
  sig = tu_must_read_file(sp, siglen);
  unlink(kp);
  unlink(dp);
  unlink(sp);
  rmdir(dir);
  return sig;
}

typedef unsigned char *(*signer_fn)(EVP_PKEY *, const char *, const unsigned char *, size_t,
                                    size_t *);

/* Build a request and sign it through the split path. */
static scep_req *build_signed(int type, X509 *signer, EVP_PKEY *signkey,
                              const unsigned char *inner, size_t inner_len,
                              const EVP_CIPHER *cipher, const char *txid, signer_fn sign) {
  scep_req_params p = {0};
  scep_req *r = NULL;
  unsigned char dg[EVP_MAX_MD_SIZE], *sig;
  size_t dlen = 0, slen = 0;
  char err[256] = "";
  p.type = type;
  p.signer = signer;
  p.inner = inner;
  p.inner_len = inner_len;
  p.recipient = ca_crt;
  p.cipher = cipher;
  p.caps = scep_caps_parse("Renewal\nSHA-256\nAES\nPOSTPKIOperation", 34);
  p.txid = txid;
  p.nonce = NONCE;
  ck_assert_msg(scep_req_build(&r, &p, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(scep_req_md_name(r), "sha256");
  ck_assert_int_eq(scep_req_tbs_digest(r, dg, &dlen), 0);
  ck_assert_uint_eq(dlen, 32);
  sig = sign(signkey, scep_req_md_name(r), dg, dlen, &slen);
  ck_assert_msg(scep_req_set_signature(r, sig, slen, err, sizeof err) == 0, "%s", err);
  free(sig);
  return r;
}

static ASN1_TYPE *attr(PKCS7_SIGNER_INFO *si, const char *oid) {
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  STACK_OF(X509_ATTRIBUTE) *sk = PKCS7_get_signed_attributes(si);
  int i = X509at_get_attr_by_OBJ(sk, o, -1);
  ASN1_OBJECT_free(o);
  return i < 0 ? NULL : X509_ATTRIBUTE_get0_type(X509at_get_attr(sk, i), 0);
}

static void assert_printable(PKCS7_SIGNER_INFO *si, const char *oid, const char *want) {
  ASN1_TYPE *t = attr(si, oid);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(t->type, V_ASN1_PRINTABLESTRING);
  ck_assert_int_eq(ASN1_STRING_length(t->value.asn1_string), (int)strlen(want));
  ck_assert(!memcmp(ASN1_STRING_get0_data(t->value.asn1_string), want, strlen(want)));
}

/* Check a finished request the way a CA does: the signature with the
 * signer certificate carried in the message (PKCS7_verify and CMS_verify),
 * the SCEP attributes, then decrypt the envelope with the CA key. Returns
 * the decrypted messageData. */
static unsigned char *check_request(scep_req *r, int type, X509 *signer, const char *txid,
                                    int cipher_nid, size_t *inner_len) {
  unsigned char *der = NULL, *out;
  const unsigned char *p;
  size_t len = 0;
  PKCS7 *p7, *env;
  CMS_ContentInfo *cms;
  BIO *content = BIO_new(BIO_s_mem()), *plain = BIO_new(BIO_s_mem());
  PKCS7_SIGNER_INFO *si;
  ASN1_TYPE *t;
  char mt[4];
  char *bp;
  long n;

  ck_assert_int_eq(scep_req_der(r, &der, &len), 0);
  p = der;
  p7 = d2i_PKCS7(NULL, &p, (long)len);
  ck_assert_ptr_nonnull(p7);
  ck_assert_ptr_eq(p, der + len);
  ck_assert(PKCS7_type_is_signed(p7));
  /* The signer certificate is in the message, and it is the signer. */
  ck_assert_int_eq(sk_X509_num(p7->d.sign->cert), 1);
  ck_assert_int_eq(X509_cmp(sk_X509_value(p7->d.sign->cert, 0), signer), 0);
  ck_assert_msg(PKCS7_verify(p7, NULL, NULL, NULL, content, PKCS7_NOVERIFY | PKCS7_BINARY) ==
                    1,
                "PKCS7_verify: %s", ERR_reason_error_string(ERR_peek_last_error()));
  /* The same bytes through the CMS verifier. */
  p = der;
  cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
  ck_assert_ptr_nonnull(cms);
  ck_assert_int_eq(CMS_verify(cms, NULL, NULL, NULL, NULL,
                              CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY),
                   1);
  CMS_ContentInfo_free(cms);

  si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
  snprintf(mt, sizeof mt, "%d", type);
  assert_printable(si, "2.16.840.1.113733.1.9.2", mt);
  assert_printable(si, "2.16.840.1.113733.1.9.7", txid);
  t = attr(si, "2.16.840.1.113733.1.9.5");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(t->type, V_ASN1_OCTET_STRING);
  ck_assert_int_eq(ASN1_STRING_length(t->value.octet_string), SCEP_NONCE_LEN);
  ck_assert(!memcmp(ASN1_STRING_get0_data(t->value.octet_string), scep_req_nonce(r),
                    SCEP_NONCE_LEN));
  ck_assert_ptr_null(PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime));
  ck_assert_ptr_nonnull(PKCS7_get_signed_attribute(si, NID_pkcs9_contentType));

  /* The content is the pkcsPKIEnvelope: decrypt it as the CA. */
  n = BIO_get_mem_data(content, &bp);
  p = (const unsigned char *)bp;
  env = d2i_PKCS7(NULL, &p, n);
  ck_assert_ptr_nonnull(env);
  ck_assert(PKCS7_type_is_enveloped(env));
  ck_assert_int_eq(OBJ_obj2nid(env->d.enveloped->enc_data->algorithm->algorithm), cipher_nid);
  ck_assert_int_eq(PKCS7_decrypt(env, ca_key, ca_crt, plain, PKCS7_BINARY), 1);
  n = BIO_get_mem_data(plain, &bp);
  out = malloc((size_t)n);
  memcpy(out, bp, (size_t)n);
  *inner_len = (size_t)n;
  PKCS7_free(env);
  PKCS7_free(p7);
  BIO_free(content);
  BIO_free(plain);
  OPENSSL_free(der);
  return out;
}

START_TEST(caps) {
  const char *txt = "Renewal\r\nSHA-1\r\nSHA-256\r\nAES\r\nDES3\r\nSCEPStandard\r\n"
                    "POSTPKIOperation\r\nX-Unknown\r\n";
  unsigned c = scep_caps_parse(txt, strlen(txt));
  ck_assert_uint_eq(c, SCEP_CAP_RENEWAL | SCEP_CAP_SHA1 | SCEP_CAP_SHA256 | SCEP_CAP_AES |
                           SCEP_CAP_DES3 | SCEP_CAP_SCEPSTANDARD |
                           SCEP_CAP_POSTPKIOPERATION);
  ck_assert_ptr_eq(scep_caps_cipher(c), EVP_aes_128_cbc());
  ck_assert_ptr_eq(scep_caps_md(c), EVP_sha256());
  /* Case-insensitive, surrounding blanks, no final newline. */
  c = scep_caps_parse("  renewal \ngetnextcacert\ndes3", 29);
  ck_assert_uint_eq(c, SCEP_CAP_RENEWAL | SCEP_CAP_GETNEXTCACERT | SCEP_CAP_DES3);
  ck_assert_ptr_eq(scep_caps_cipher(c), EVP_des_ede3_cbc());
  ck_assert_ptr_eq(scep_caps_md(c), EVP_sha1());
  /* SCEPStandard implies AES, POSTPKIOperation and SHA-256. */
  c = scep_caps_parse("SCEPStandard", 12);
  ck_assert(c & SCEP_CAP_AES && c & SCEP_CAP_POSTPKIOPERATION && c & SCEP_CAP_SHA256);
  /* Prefixes are not keywords; an empty reply has no capabilities. */
  ck_assert_uint_eq(scep_caps_parse("SHA-2560\nAESX\n", 14), 0);
  ck_assert_uint_eq(scep_caps_parse("", 0), 0);
  ck_assert_ptr_eq(scep_caps_cipher(0), EVP_des_ede3_cbc());
}
END_TEST

/* A degenerate certs-only SignedData holding certs. */
static unsigned char *degenerate(X509 **certs, int n, size_t *len) {
  PKCS7 *p7 = PKCS7_new();
  unsigned char *der = NULL;
  int l;
  ck_assert_int_eq(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
  ck_assert_int_eq(PKCS7_content_new(p7, NID_pkcs7_data), 1);
  for (int i = 0; i < n; i++)
    ck_assert_int_eq(PKCS7_add_certificate(p7, certs[i]), 1);
  l = i2d_PKCS7(p7, &der);
  ck_assert_int_gt(l, 0);
  PKCS7_free(p7);
  *len = (size_t)l;
  return der;
}

START_TEST(cacert) {
  unsigned char *der = NULL, *deg;
  size_t dlen;
  int l = i2d_X509(ca_crt, &der);
  STACK_OF(X509) *certs = NULL;
  char err[256];
  X509 *ra_sign = mkcert("RA sign", old_key, ca_crt, ca_key, 10, 0, "digitalSignature");
  X509 *ra_enc = mkcert("RA enc", new_key, ca_crt, ca_key, 11, 0, "keyEncipherment");
  X509 *set[3] = {ra_sign, ra_enc, ca_crt};

  /* application/x-x509-ca-cert: one DER certificate. */
  ck_assert_int_eq(scep_cacert_parse(der, (size_t)l, "application/x-x509-ca-cert", &certs,
                                     err, sizeof err),
                   0);
  ck_assert_int_eq(sk_X509_num(certs), 1);
  ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 0), ca_crt), 0);
  ck_assert_ptr_eq(scep_pick_recipient(certs), sk_X509_value(certs, 0));
  ck_assert_ptr_eq(scep_pick_ca(certs), sk_X509_value(certs, 0));
  scep_certs_free(certs);
  /* With content-type parameters, and without a content type at all. */
  ck_assert_int_eq(scep_cacert_parse(der, (size_t)l, "application/x-x509-ca-cert; charset=x",
                                     &certs, err, sizeof err),
                   0);
  scep_certs_free(certs);
  ck_assert_int_eq(scep_cacert_parse(der, (size_t)l, NULL, &certs, err, sizeof err), 0);
  scep_certs_free(certs);
  /* The wrong content type for the bytes. */
  ck_assert_int_eq(scep_cacert_parse(der, (size_t)l, "application/x-x509-ca-ra-cert", &certs,
                                     err, sizeof err),
                   RD_EPROTO);
  ck_assert_ptr_null(certs);
  ck_assert_int_eq(scep_cacert_parse(der, (size_t)l, "text/html", &certs, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "GetCACert: unexpected content type 'text/html'") == err, "%s",
                err);
  ck_assert_int_eq(scep_cacert_parse((const unsigned char *)"<html>", 6,
                                     "application/x-x509-ca-cert", &certs, err, sizeof err),
                   RD_EPROTO);
  OPENSSL_free(der);

  /* application/x-x509-ca-ra-cert: NDES-style RA signing + encryption certs. */
  deg = degenerate(set, 3, &dlen);
  ck_assert_int_eq(scep_cacert_parse(deg, dlen, "application/x-x509-ca-ra-cert", &certs, err,
                                     sizeof err),
                   0);
  ck_assert_int_eq(sk_X509_num(certs), 3);
  ck_assert_int_eq(X509_cmp(scep_pick_recipient(certs), ra_enc), 0);
  ck_assert_int_eq(X509_cmp(scep_pick_ca(certs), ca_crt), 0);
  scep_certs_free(certs);
  ck_assert_int_eq(scep_cacert_parse(deg, dlen, NULL, &certs, err, sizeof err), 0);
  ck_assert_int_eq(sk_X509_num(certs), 3);
  scep_certs_free(certs);
  free(deg);
  deg = degenerate(set, 0, &dlen);
  ck_assert_int_eq(scep_cacert_parse(deg, dlen, "application/x-x509-ca-ra-cert", &certs, err,
                                     sizeof err),
                   RD_EPROTO);
  OPENSSL_free(deg);
  X509_free(ra_sign);
  X509_free(ra_enc);
}
END_TEST

START_TEST(fingerprint) {
  unsigned char md[32];
  unsigned int n = 0;
  char hex[3 * 32 + 16], *w, err[512];
  X509_digest(ca_crt, EVP_sha256(), md, &n);
  w = hex + sprintf(hex, "SHA256:");
  for (unsigned i = 0; i < n; i++)
    w += sprintf(w, i ? ":%02X" : "%02X", md[i]);
  ck_assert_int_eq(scep_fingerprint_check(ca_crt, hex, err, sizeof err), 0);
  /* Lowercase, no colons. */
  w = hex + sprintf(hex, "sha256:");
  for (unsigned i = 0; i < n; i++)
    w += sprintf(w, "%02x", md[i]);
  ck_assert_int_eq(scep_fingerprint_check(ca_crt, hex, err, sizeof err), 0);
  ck_assert_int_eq(scep_fingerprint_check(rogue_crt, hex, err, sizeof err), RD_EVERIFY);
  ck_assert_msg(strstr(err, "CA certificate ") == err && strstr(err, "does not match"), "%s",
                err);
  X509_digest(ca_crt, EVP_sha1(), md, &n);
  w = hex + sprintf(hex, "sha1:");
  for (unsigned i = 0; i < n; i++)
    w += sprintf(w, "%02x", md[i]);
  ck_assert_int_eq(scep_fingerprint_check(ca_crt, hex, err, sizeof err), 0);
  ck_assert_int_eq(scep_fingerprint_check(ca_crt, "md5:00", err, sizeof err), RD_EINVAL);
  ck_assert_int_eq(scep_fingerprint_check(ca_crt, "sha256:zz", err, sizeof err), RD_EINVAL);
  ck_assert_int_eq(scep_fingerprint_check(ca_crt, "sha256:0011", err, sizeof err), RD_EINVAL);
}
END_TEST

START_TEST(csr_parse) {
  size_t len = 0;
  unsigned char *der = mkcsr("web17.example", new_key, "s3cret", &len), *spki = NULL;
  unsigned char md[32];
  unsigned int mdlen = 0;
  char hex[65], err[256];
  scep_csr c;
  BIO *b;
  char *pem;
  long pl;
  X509_REQ *req;
  const unsigned char *p = der;
  int n;

  ck_assert_msg(scep_csr_parse(der, len, &c, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(c.subject, "CN=web17.example,O=renewd test");
  ck_assert_int_eq(c.has_challenge, 1);
  ck_assert_int_eq(EVP_PKEY_eq(c.pubkey, new_key), 1);
  ck_assert_uint_eq(c.der_len, len);
  ck_assert(!memcmp(c.der, der, len));
  /* txid = hex SHA-256 of the SubjectPublicKeyInfo, computed independently. */
  n = i2d_PUBKEY(new_key, &spki);
  EVP_Digest(spki, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++)
    sprintf(hex + 2 * i, "%02x", md[i]);
  ck_assert_str_eq(c.txid, hex);
  OPENSSL_free(spki);
  scep_csr_clear(&c);

  /* PEM too, and without a challenge. */
  req = d2i_X509_REQ(NULL, &p, (long)len);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(b, req);
  pl = BIO_get_mem_data(b, &pem);
  ck_assert_int_eq(scep_csr_parse((unsigned char *)pem, (size_t)pl, &c, err, sizeof err), 0);
  ck_assert_str_eq(c.txid, hex);
  scep_csr_clear(&c);
  BIO_free(b);
  X509_REQ_free(req);
  free(der);
  der = mkcsr("x", old_key, NULL, &len);
  ck_assert_int_eq(scep_csr_parse(der, len, &c, err, sizeof err), 0);
  ck_assert_int_eq(c.has_challenge, 0);
  scep_csr_clear(&c);

  /* A broken self-signature, and garbage. */
  der[len - 5] ^= 0x40;
  ck_assert_int_eq(scep_csr_parse(der, len, &c, err, sizeof err), RD_EVERIFY);
  ck_assert_msg(strstr(err, "CSR: ") == err, "%s", err);
  ck_assert_ptr_null(c.pubkey);
  ck_assert_int_eq(scep_csr_parse((const unsigned char *)"hello", 5, &c, err, sizeof err),
                   RD_EPROTO);
  free(der);
}
END_TEST

/* The main path: RenewalReq signed by the old key via the digest. */
static void renewal_with(signer_fn sign) {
  size_t len = 0, ilen = 0;
  unsigned char *csr = mkcsr("web17.example", new_key, "s3cret", &len), *inner;
  scep_csr c;
  scep_req *r;
  ck_assert_int_eq(scep_csr_parse(csr, len, &c, NULL, 0), 0);
  r = build_signed(SCEP_MSG_RENEWALREQ, old_crt, old_key, csr, len, NULL, NULL, sign);
  ck_assert_str_eq(scep_req_txid(r), c.txid);
  ck_assert(!memcmp(scep_req_nonce(r), NONCE, SCEP_NONCE_LEN));
  inner = check_request(r, SCEP_MSG_RENEWALREQ, old_crt, c.txid, NID_aes_128_cbc, &ilen);
  ck_assert_uint_eq(ilen, len);
  ck_assert(!memcmp(inner, csr, len));
  free(inner);
  scep_req_free(r);
  scep_csr_clear(&c);
  free(csr);
}

START_TEST(renewal_evp) { renewal_with(evp_sign); }
END_TEST

START_TEST(renewal_pkeyutl) { renewal_with(pkeyutl_sign); }
END_TEST

START_TEST(pkcsreq_selfsigned_des3) {
  /* PKCSReq: signed by a self-signed certificate of the new key
   * (RFC 8894 2.3), envelope with triple DES, fresh random nonce. */
  size_t len = 0, ilen = 0;
  unsigned char *csr = mkcsr("new.example", new_key, "s3cret", &len), *inner, dg[64];
  X509 *self = mkcert("new.example", new_key, NULL, new_key, 99, 0, NULL);
  scep_req_params p = {0};
  scep_req *r = NULL, *r2 = NULL;
  size_t dlen;
  r = build_signed(SCEP_MSG_PKCSREQ, self, new_key, csr, len, EVP_des_ede3_cbc(), "my-tx",
                   evp_sign);
  ck_assert_str_eq(scep_req_txid(r), "my-tx");
  inner = check_request(r, SCEP_MSG_PKCSREQ, self, "my-tx", NID_des_ede3_cbc, &ilen);
  ck_assert(ilen == len && !memcmp(inner, csr, len));
  free(inner);
  /* Random nonces differ between builds. */
  p.type = SCEP_MSG_PKCSREQ;
  p.signer = self;
  p.inner = csr;
  p.inner_len = len;
  p.recipient = ca_crt;
  ck_assert_int_eq(scep_req_build(&r2, &p, NULL, 0), 0);
  ck_assert(memcmp(scep_req_nonce(r2), NONCE, SCEP_NONCE_LEN));
  /* caps 0: SHA-1 digest and triple DES are the fallbacks. */
  ck_assert_str_eq(scep_req_md_name(r2), "sha1");
  ck_assert_int_eq(scep_req_tbs_digest(r2, dg, &dlen), 0);
  ck_assert_uint_eq(dlen, 20);
  scep_req_free(r2);
  scep_req_free(r);
  X509_free(self);
  free(csr);
}
END_TEST

START_TEST(ec_signer) {
  /* An EC old key: ECDSA over the same digest (the codec supports it even
   * though scepserver cannot encrypt its reply to EC). */
  size_t len = 0, ilen = 0;
  unsigned char *csr = mkcsr("ec.example", new_key, NULL, &len), *inner;
  X509 *ec_crt = mkcert("ec.example", ec_key, ca_crt, ca_key, 7, 0, NULL);
  scep_req *r = build_signed(SCEP_MSG_RENEWALREQ, ec_crt, ec_key, csr, len, NULL, NULL,
                             pkeyutl_sign);
  scep_csr c;
  ck_assert_int_eq(scep_csr_parse(csr, len, &c, NULL, 0), 0);
  inner = check_request(r, SCEP_MSG_RENEWALREQ, ec_crt, c.txid, NID_aes_128_cbc, &ilen);
  ck_assert(ilen == len && !memcmp(inner, csr, len));
  free(inner);
  scep_csr_clear(&c);
  scep_req_free(r);
  X509_free(ec_crt);
  free(csr);
}
END_TEST

START_TEST(certpoll) {
  /* CertPoll: IssuerAndSubject as messageData, the polled request's txid. */
  unsigned char *ias = NULL, *inner;
  size_t ilen = 0, len = 0;
  X509_NAME *subj = mkname("web17.example"), *n1, *n2;
  const unsigned char *p;
  long plen;
  int tag, cls;
  scep_req *r;
  ck_assert_int_eq(scep_issuer_and_subject(X509_get_subject_name(ca_crt), subj, &ias, &len), 0);
  p = ias;
  ck_assert_int_eq(ASN1_get_object(&p, &plen, &tag, &cls, (long)len), V_ASN1_CONSTRUCTED);
  ck_assert_int_eq(tag, V_ASN1_SEQUENCE);
  n1 = d2i_X509_NAME(NULL, &p, plen);
  n2 = d2i_X509_NAME(NULL, &p, (long)(ias + len - p));
  ck_assert_ptr_eq(p, ias + len);
  ck_assert_int_eq(X509_NAME_cmp(n1, X509_get_subject_name(ca_crt)), 0);
  ck_assert_int_eq(X509_NAME_cmp(n2, subj), 0);
  r = build_signed(SCEP_MSG_CERTPOLL, old_crt, old_key, ias, len, NULL, "abc123", evp_sign);
  inner = check_request(r, SCEP_MSG_CERTPOLL, old_crt, "abc123", NID_aes_128_cbc, &ilen);
  ck_assert(ilen == len && !memcmp(inner, ias, len));
  free(inner);
  scep_req_free(r);
  X509_NAME_free(n1);
  X509_NAME_free(n2);
  X509_NAME_free(subj);
  OPENSSL_free(ias);
}
END_TEST

START_TEST(request_errors) {
  size_t len = 0, slen = 0, dlen = 0, dl = 0;
  unsigned char *csr = mkcsr("web17.example", new_key, NULL, &len), *sig, dg[64], *der;
  X509 *ec_ca = mkcert("EC CA", ec_key, NULL, ec_key, 5, 1, NULL);
  scep_req_params p = {0};
  scep_req *r = NULL;
  char err[512];
  p.type = SCEP_MSG_RENEWALREQ;
  p.signer = old_crt;
  p.inner = csr;
  p.inner_len = len;
  p.recipient = ca_crt;
  p.caps = SCEP_CAP_SHA256 | SCEP_CAP_AES;
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), 0);
  /* No signature yet: nothing to send. */
  ck_assert_int_eq(scep_req_der(r, &der, &dl), RD_ESTATE);
  /* A signature by the wrong key (the target signed with the new key). */
  scep_req_tbs_digest(r, dg, &dlen);
  sig = evp_sign(new_key, "sha256", dg, dlen, &slen);
  ck_assert_int_eq(scep_req_set_signature(r, sig, slen, err, sizeof err), RD_EVERIFY);
  ck_assert_msg(strstr(err, "RenewalReq signature: does not verify") == err, "%s", err);
  free(sig);
  /* The right key with the wrong digest semantics (no DigestInfo). */
  {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(old_key, NULL);
    EVP_PKEY_sign_init(ctx);
    EVP_PKEY_sign(ctx, NULL, &slen, dg, dlen);
    sig = malloc(slen);
    ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &slen, dg, dlen), 1);
    EVP_PKEY_CTX_free(ctx);
    ck_assert_int_eq(scep_req_set_signature(r, sig, slen, err, sizeof err), RD_EVERIFY);
    free(sig);
  }
  ck_assert_int_eq(scep_req_der(r, &der, &dl), RD_ESTATE);
  scep_req_free(r);
  /* CertPoll needs the polled txid; txids are PrintableStrings. */
  p.type = SCEP_MSG_CERTPOLL;
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), RD_EINVAL);
  ck_assert_msg(strstr(err, "CertPoll: ") == err, "%s", err);
  p.type = SCEP_MSG_RENEWALREQ;
  p.txid = "bad\"txid";
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), RD_EINVAL);
  p.txid = NULL;
  /* Not a CSR, with no txid to fall back on. */
  p.inner = (const unsigned char *)"junk";
  p.inner_len = 4;
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), RD_EPROTO);
  ck_assert_msg(strstr(err, "RenewalReq: ") == err, "%s", err);
  p.inner = csr;
  p.inner_len = len;
  /* Key transport needs an RSA recipient. */
  p.recipient = ec_ca;
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), RD_ENOTSUP);
  ck_assert_msg(strstr(err, "SCEP recipient CN=EC CA") == err, "%s", err);
  /* A digest the target's pkeyutl has no portable name for; a fetched
   * SHA-384 is fine. */
  p.recipient = ca_crt;
  p.md = EVP_md5();
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), RD_EINVAL);
  ck_assert_msg(strstr(err, "RenewalReq: digest MD5") == err, "%s", err);
  {
    EVP_MD *sha384 = EVP_MD_fetch(NULL, "SHA2-384", NULL);
    p.md = sha384;
    ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), 0);
    ck_assert_str_eq(scep_req_md_name(r), "sha384");
    scep_req_tbs_digest(r, dg, &dlen);
    ck_assert_uint_eq(dlen, 48);
    sig = pkeyutl_sign(old_key, "sha384", dg, dlen, &slen);
    ck_assert_int_eq(scep_req_set_signature(r, sig, slen, err, sizeof err), 0);
    free(sig);
    scep_req_free(r);
    r = NULL;
    p.md = NULL;
    EVP_MD_free(sha384);
  }
  /* Unsupported type. */
  p.recipient = ca_crt;
  p.type = SCEP_MSG_GETCRL;
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_null(r);
  X509_free(ec_ca);
  free(csr);
}
END_TEST

START_TEST(get_query) {
  const unsigned char der[] = {0xfb, 0xff, 0xfe, 0x00, 0x01};
  char *q = NULL;
  ck_assert_int_eq(scep_get_query(der, sizeof der, &q), 0);
  /* base64 "+//+AAE=" with '+', '/' and '=' escaped. */
  ck_assert_str_eq(q, "operation=PKIOperation&message=%2B%2F%2F%2BAAE%3D");
  free(q);
}
END_TEST

/* ---- CertRep made here, as a CA would ------------------------------- */

typedef struct rep_spec {
  X509 *signer;
  EVP_PKEY *key;
  const char *msg_type;
  const char *txid;
  const unsigned char *rnonce;
  const char *status;
  const char *fail_info;
  const char *fail_text;
  const unsigned char *content; /* the envelope, or NULL */
  size_t content_len;
  int detached;
} rep_spec;

static void add_str(PKCS7_SIGNER_INFO *si, const char *oid, int type, const void *v, int len) {
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  if (len < 0)
    len = (int)strlen(v);
  ck_assert_ptr_nonnull(X509at_add1_attr_by_OBJ(&si->auth_attr, o, type, v, len));
  ASN1_OBJECT_free(o);
}

static unsigned char *certrep(const rep_spec *s, size_t *len) {
  int flags = PKCS7_BINARY | PKCS7_NOSMIMECAP | (s->detached ? PKCS7_DETACHED : 0);
  PKCS7 *p7 = PKCS7_sign(NULL, NULL, NULL, NULL, PKCS7_PARTIAL | flags);
  PKCS7_SIGNER_INFO *si;
  BIO *in = BIO_new_mem_buf(s->content ? (const void *)s->content : "",
                            s->content ? (int)s->content_len : 0);
  unsigned char *der = NULL;
  unsigned char snonce[SCEP_NONCE_LEN] = {0xee};
  int l;
  ck_assert_ptr_nonnull(p7);
  /* SHA-1, as scepserver signs its CertReps. */
  si = PKCS7_sign_add_signer(p7, s->signer, s->key, EVP_sha1(), flags);
  ck_assert_ptr_nonnull(si);
  add_str(si, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING,
          s->msg_type ? s->msg_type : "3", -1);
  add_str(si, "2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING, s->txid, -1);
  add_str(si, "2.16.840.1.113733.1.9.3", V_ASN1_PRINTABLESTRING, s->status, -1);
  if (s->fail_info)
    add_str(si, "2.16.840.1.113733.1.9.4", V_ASN1_PRINTABLESTRING, s->fail_info, -1);
  if (s->fail_text)
    add_str(si, "1.3.6.1.5.5.7.24.1", V_ASN1_UTF8STRING, s->fail_text, -1);
  add_str(si, "2.16.840.1.113733.1.9.5", V_ASN1_OCTET_STRING, snonce, SCEP_NONCE_LEN);
  add_str(si, "2.16.840.1.113733.1.9.6", V_ASN1_OCTET_STRING, s->rnonce, SCEP_NONCE_LEN);
  ck_assert_int_eq(PKCS7_final(p7, in, flags), 1);
  l = i2d_PKCS7(p7, &der);
  ck_assert_int_gt(l, 0);
  PKCS7_free(p7);
  BIO_free(in);
  *len = (size_t)l;
  return der;
}

/* The SUCCESS envelope: the issued certificate in a degenerate PKCS#7,
 * encrypted to the request's signer (the old certificate). */
static unsigned char *success_envelope(X509 *issued, size_t *len) {
  X509 *one[1] = {issued};
  size_t dl;
  unsigned char *deg = degenerate(one, 1, &dl), *der = NULL;
  STACK_OF(X509) *to = sk_X509_new_null();
  BIO *in = BIO_new_mem_buf(deg, (int)dl);
  PKCS7 *env;
  int l;
  sk_X509_push(to, old_crt);
  env = PKCS7_encrypt(to, in, EVP_aes_256_cbc(), PKCS7_BINARY);
  ck_assert_ptr_nonnull(env);
  l = i2d_PKCS7(env, &der);
  PKCS7_free(env);
  BIO_free(in);
  sk_X509_free(to);
  OPENSSL_free(deg);
  *len = (size_t)l;
  return der;
}

static STACK_OF(X509) *ca_set(void) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  sk_X509_push(sk, ca_crt);
  X509_up_ref(ca_crt);
  return sk;
}

START_TEST(certrep_success) {
  X509 *issued = mkcert("web17.example", new_key, ca_crt, ca_key, 4242, 0, NULL);
  size_t elen, len, dlen;
  unsigned char *env = success_envelope(issued, &elen), *der;
  rep_spec s = {.signer = ca_crt, .key = ca_key, .txid = "tx-1", .rnonce = NONCE,
                .status = "0", .content = env, .content_len = elen};
  STACK_OF(X509) *cas = ca_set(), *got = NULL;
  scep_rep rep;
  char err[256];
  PKCS7 *e7;
  BIO *plain = BIO_new(BIO_s_mem());
  const unsigned char *p;
  char *bp;

  der = certrep(&s, &len);
  ck_assert_msg(scep_rep_parse(der, len, cas, "tx-1", NONCE, &rep, err, sizeof err) == 0, "%s",
                err);
  ck_assert_int_eq(rep.status, SCEP_STATUS_SUCCESS);
  ck_assert_int_eq(rep.fail_info, SCEP_FAIL_NONE);
  ck_assert_uint_eq(rep.envelope_len, elen);
  ck_assert(!memcmp(rep.envelope, env, elen));
  ck_assert_str_eq(rep.cipher, "AES-256-CBC");
  /* What the target does: decrypt with the old key; then parse here. */
  p = rep.envelope;
  e7 = d2i_PKCS7(NULL, &p, (long)rep.envelope_len);
  ck_assert_int_eq(PKCS7_decrypt(e7, old_key, old_crt, plain, PKCS7_BINARY), 1);
  dlen = (size_t)BIO_get_mem_data(plain, &bp);
  ck_assert_int_eq(
      scep_rep_certs_from_decrypted((unsigned char *)bp, dlen, &got, err, sizeof err), 0);
  ck_assert_int_eq(X509_cmp(scep_pick_issued(got, new_key), issued), 0);
  ck_assert_ptr_null(scep_pick_issued(got, old_key));
  scep_certs_free(got);
  ck_assert_int_eq(scep_rep_certs_from_decrypted((const unsigned char *)"x", 1, &got, err,
                                                 sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "decrypted CertRep: ") == err, "%s", err);
  scep_rep_clear(&rep);

  /* A SUCCESS whose content is not an envelope. */
  free(der);
  s.content = (const unsigned char *)"not an envelope";
  s.content_len = 15;
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-1", NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "CertRep: the pkcsPKIEnvelope") == err, "%s", err);
  OPENSSL_free(der);
  PKCS7_free(e7);
  BIO_free(plain);
  OPENSSL_free(env);
  X509_free(issued);
  scep_certs_free(cas);
}
END_TEST

START_TEST(certrep_pending_failure) {
  rep_spec s = {.signer = ca_crt, .key = ca_key, .txid = "tx-2", .rnonce = NONCE,
                .status = "3", .detached = 1};
  STACK_OF(X509) *cas = ca_set();
  size_t len;
  unsigned char *der = certrep(&s, &len);
  scep_rep rep;
  char err[256];
  /* PENDING, from a server that omits the content entirely. */
  ck_assert_msg(scep_rep_parse(der, len, cas, "tx-2", NONCE, &rep, err, sizeof err) == 0, "%s",
                err);
  ck_assert_int_eq(rep.status, SCEP_STATUS_PENDING);
  ck_assert_ptr_null(rep.envelope);
  ck_assert_str_eq(scep_status_name(rep.status), "PENDING");
  scep_rep_clear(&rep);
  OPENSSL_free(der);
  /* FAILURE badRequest with a failInfoText, empty id-data content. */
  s.detached = 0;
  s.status = "2";
  s.fail_info = "2";
  s.fail_text = "challenge\npassword rejected";
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", NONCE, &rep, err, sizeof err), 0);
  ck_assert_int_eq(rep.status, SCEP_STATUS_FAILURE);
  ck_assert_int_eq(rep.fail_info, SCEP_FAIL_BADREQUEST);
  ck_assert_str_eq(scep_fail_info_name(rep.fail_info), "badRequest");
  ck_assert_str_eq(rep.fail_text, "challenge password rejected");
  scep_rep_clear(&rep);
  OPENSSL_free(der);
  /* FAILURE without failInfo: still a denial, "unspecified". */
  s.fail_info = NULL;
  s.fail_text = NULL;
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", NONCE, &rep, err, sizeof err), 0);
  ck_assert_int_eq(rep.fail_info, SCEP_FAIL_NONE);
  ck_assert_str_eq(scep_fail_info_name(rep.fail_info), "unspecified");
  scep_rep_clear(&rep);
  OPENSSL_free(der);
  /* An unknown failInfo and an unknown pkiStatus are malformed. */
  s.fail_info = "9";
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  OPENSSL_free(der);
  s.status = "1";
  s.fail_info = NULL;
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "CertRep: missing or unknown pkiStatus") == err, "%s", err);
  OPENSSL_free(der);
  scep_certs_free(cas);
}
END_TEST

START_TEST(certrep_rejected) {
  rep_spec s = {.signer = ca_crt, .key = ca_key, .txid = "tx-3", .rnonce = NONCE,
                .status = "3"};
  STACK_OF(X509) *cas = ca_set();
  unsigned char other[SCEP_NONCE_LEN] = {0};
  size_t len;
  unsigned char *der = certrep(&s, &len), *hit;
  scep_rep rep;
  char err[256];

  /* Wrong nonce: a reply to someone else's (or an earlier) message. */
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", other, &rep, err, sizeof err),
                   RD_EVERIFY);
  ck_assert_msg(strstr(err, "CertRep: recipientNonce") == err, "%s", err);
  /* Wrong transactionID. */
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-4", NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  ck_assert_str_eq(err, "CertRep: transactionID 'tx-3' is not the request's 'tx-4'");
  /* A signed attribute altered in transit ("tx-3" -> "tx-4"). */
  hit = memmem(der, len, "tx-3", 4);
  ck_assert_ptr_nonnull(hit);
  hit[3] = '4';
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-4", NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  ck_assert_msg(strstr(err, "CertRep: the signature does not verify") == err, "%s", err);
  hit[3] = '3';
  /* The signature itself damaged (it is the last thing in the DER). */
  der[len - 1] ^= 1;
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  der[len - 1] ^= 1;
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", NONCE, &rep, err, sizeof err), 0);
  scep_rep_clear(&rep);
  OPENSSL_free(der);
  /* Signed by a rogue CA with the same name and serial as ours. */
  s.signer = rogue_crt;
  s.key = rogue_key;
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  OPENSSL_free(der);
  /* Signed by a certificate we do not know at all, which it carries. */
  {
    X509 *stranger = mkcert("stranger", rogue_key, NULL, rogue_key, 77, 1, NULL);
    s.signer = stranger;
    der = certrep(&s, &len);
    ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", NONCE, &rep, err, sizeof err),
                     RD_EVERIFY);
    OPENSSL_free(der);
    X509_free(stranger);
  }
  /* Not a CertRep: a messageType other than 3. */
  s.signer = ca_crt;
  s.key = ca_key;
  s.msg_type = "19";
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "CertRep: messageType") == err, "%s", err);
  OPENSSL_free(der);
  /* Not even PKCS#7. */
  ck_assert_int_eq(scep_rep_parse((const unsigned char *)"<html>500</html>", 16, cas, "tx-3",
                                  NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "CertRep: not a PKCS#7 SignedData") == err, "%s", err);
  scep_certs_free(cas);
}
END_TEST

START_TEST(names) {
  ck_assert_str_eq(scep_fail_info_name(SCEP_FAIL_BADALG), "badAlg");
  ck_assert_str_eq(scep_fail_info_name(SCEP_FAIL_BADMESSAGECHECK), "badMessageCheck");
  ck_assert_str_eq(scep_fail_info_name(SCEP_FAIL_BADTIME), "badTime");
  ck_assert_str_eq(scep_fail_info_name(SCEP_FAIL_BADCERTID), "badCertId");
  ck_assert_str_eq(scep_fail_info_name(17), "unknown");
  ck_assert_str_eq(scep_msg_type_name(SCEP_MSG_RENEWALREQ), "RenewalReq");
  ck_assert_str_eq(scep_msg_type_name(SCEP_MSG_CERTPOLL), "CertPoll");
  ck_assert_str_eq(scep_status_name(SCEP_STATUS_FAILURE), "FAILURE");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("scep_msg");
  TCase *tc = tcase_create("codec");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, caps);
  tcase_add_test(tc, cacert);
  tcase_add_test(tc, fingerprint);
  tcase_add_test(tc, csr_parse);
  tcase_add_test(tc, renewal_evp);
  tcase_add_test(tc, renewal_pkeyutl);
  tcase_add_test(tc, pkcsreq_selfsigned_des3);
  tcase_add_test(tc, ec_signer);
  tcase_add_test(tc, certpoll);
  tcase_add_test(tc, request_errors);
  tcase_add_test(tc, get_query);
  tcase_add_test(tc, certrep_success);
  tcase_add_test(tc, certrep_pending_failure);
  tcase_add_test(tc, certrep_rejected);
  tcase_add_test(tc, names);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  int rc;
  ca_key = gen_rsa();
  old_key = gen_rsa();
  new_key = gen_rsa();
  rogue_key = gen_rsa();
  ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  if (!ca_key || !old_key || !new_key || !rogue_key || !ec_key) {
    fprintf(stderr, "test_scep_msg: key generation failed\n");
    return EXIT_FAILURE;
  }
  ca_crt = mkcert("renewd test CA", ca_key, NULL, ca_key, 1, 1, "keyCertSign,cRLSign");
  /* Same subject and serial as the real CA, different key. */
  rogue_crt = mkcert("renewd test CA", rogue_key, NULL, rogue_key, 1, 1, "keyCertSign,cRLSign");
  old_crt = mkcert("web17.example", old_key, ca_crt, ca_key, 1001, 0,
                   "digitalSignature,keyEncipherment");
  rc = tu_run(suite());
  X509_free(ca_crt);
  X509_free(rogue_crt);
  X509_free(old_crt);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(old_key);
  EVP_PKEY_free(new_key);
  EVP_PKEY_free(rogue_key);
  EVP_PKEY_free(ec_key);
  return rc;
}
