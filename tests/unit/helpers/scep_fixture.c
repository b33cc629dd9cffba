/* scep_fixture.c — see scep_fixture.h. */
#include "scep_fixture.h"

/* Keys made once in main(): the forked tests inherit them. */
EVP_PKEY *sf_ca_key, *sf_old_key, *sf_new_key, *sf_rogue_key, *sf_ec_key;
X509 *sf_ca_crt, *sf_old_crt, *sf_rogue_crt;

const unsigned char sf_NONCE[SCEP_NONCE_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                    9, 10, 11, 12, 13, 14, 15, 16};



EVP_PKEY *sf_gen_rsa(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); }

X509_NAME *sf_mkname(const char *cn) {
  X509_NAME *n = X509_NAME_new();
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"renewd test", -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  return n;
}

void sf_add_ext(X509 *c, X509 *issuer, int nid, const char *value) {
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
X509 *sf_mkcert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *ikey, long serial,
                    int ca, const char *ku) {
  X509 *c = X509_new();
  X509_NAME *n = sf_mkname(cn);
  REQUIRE(c != NULL);
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_set_subject_name(c, n);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
  X509_NAME_free(n);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400L * 30);
  X509_set_pubkey(c, pub);
  sf_add_ext(c, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ku)
    sf_add_ext(c, issuer, NID_key_usage, ku);
  REQUIRE(X509_sign(c, ikey, EVP_sha256()) > 0);
  return c;
}

/* A DER CSR for key with an optional challengePassword. Caller frees. */
unsigned char *sf_mkcsr(const char *cn, EVP_PKEY *key, const char *challenge,
                            size_t *len) {
  X509_REQ *r = X509_REQ_new();
  X509_NAME *n = sf_mkname(cn);
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
unsigned char *sf_evp_sign(EVP_PKEY *key, const char *mdname, const unsigned char *d,
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

void sf_write_file(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* What the target does, for real: `openssl pkeyutl -sign -inkey K
 * -pkeyopt digest:<md>` on a file holding the digest. */
unsigned char *sf_pkeyutl_sign(EVP_PKEY *key, const char *mdname, const unsigned char *d,
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
  sf_write_file(dp, d, dlen);
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



/* Build a request and sign it through the split path. */
scep_req *sf_build_signed(int type, X509 *signer, EVP_PKEY *signkey,
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
  p.recipient = sf_ca_crt;
  p.cipher = cipher;
  p.caps = scep_caps_parse("Renewal\nSHA-256\nAES\nPOSTPKIOperation", 34);
  p.txid = txid;
  p.nonce = sf_NONCE;
  ck_assert_msg(scep_req_build(&r, &p, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(scep_req_md_name(r), "sha256");
  ck_assert_int_eq(scep_req_tbs_digest(r, dg, &dlen), 0);
  ck_assert_uint_eq(dlen, 32);
  sig = sign(signkey, scep_req_md_name(r), dg, dlen, &slen);
  ck_assert_msg(scep_req_set_signature(r, sig, slen, err, sizeof err) == 0, "%s", err);
  free(sig);
  return r;
}

ASN1_TYPE *sf_attr(PKCS7_SIGNER_INFO *si, const char *oid) {
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  STACK_OF(X509_ATTRIBUTE) *sk = PKCS7_get_signed_attributes(si);
  int i = X509at_get_attr_by_OBJ(sk, o, -1);
  ASN1_OBJECT_free(o);
  return i < 0 ? NULL : X509_ATTRIBUTE_get0_type(X509at_get_attr(sk, i), 0);
}

void sf_assert_printable(PKCS7_SIGNER_INFO *si, const char *oid, const char *want) {
  ASN1_TYPE *t = sf_attr(si, oid);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(t->type, V_ASN1_PRINTABLESTRING);
  ck_assert_int_eq(ASN1_STRING_length(t->value.asn1_string), (int)strlen(want));
  ck_assert(!memcmp(ASN1_STRING_get0_data(t->value.asn1_string), want, strlen(want)));
}

/* Check a finished request the way a CA does: the signature with the
 * signer certificate carried in the message (PKCS7_verify and CMS_verify),
 * the SCEP attributes, then decrypt the envelope with the CA key. Returns
 * the decrypted messageData. */
unsigned char *sf_check_request(scep_req *r, int type, X509 *signer, const char *txid,
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
  sf_assert_printable(si, "2.16.840.1.113733.1.9.2", mt);
  sf_assert_printable(si, "2.16.840.1.113733.1.9.7", txid);
  t = sf_attr(si, "2.16.840.1.113733.1.9.5");
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
  ck_assert_int_eq(PKCS7_decrypt(env, sf_ca_key, sf_ca_crt, plain, PKCS7_BINARY), 1);
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


/* A degenerate certs-only SignedData holding certs. */
unsigned char *sf_degenerate(X509 **certs, int n, size_t *len) {
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

int sf_main(Suite *s, const char *prog) {
  int rc;
  sf_ca_key = sf_gen_rsa();
  sf_old_key = sf_gen_rsa();
  sf_new_key = sf_gen_rsa();
  sf_rogue_key = sf_gen_rsa();
  sf_ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  if (!sf_ca_key || !sf_old_key || !sf_new_key || !sf_rogue_key || !sf_ec_key) {
    fprintf(stderr, "%s: key generation failed\n", prog);
    return EXIT_FAILURE;
  }
  sf_ca_crt = sf_mkcert("renewd test CA", sf_ca_key, NULL, sf_ca_key, 1, 1, "keyCertSign,cRLSign");
  /* Same subject and serial as the real CA, different key. */
  sf_rogue_crt = sf_mkcert("renewd test CA", sf_rogue_key, NULL, sf_rogue_key, 1, 1, "keyCertSign,cRLSign");
  sf_old_crt = sf_mkcert("web17.example", sf_old_key, sf_ca_crt, sf_ca_key, 1001, 0,
                         "digitalSignature,keyEncipherment");
  rc = tu_run(s);
  X509_free(sf_ca_crt);
  X509_free(sf_rogue_crt);
  X509_free(sf_old_crt);
  EVP_PKEY_free(sf_ca_key);
  EVP_PKEY_free(sf_old_key);
  EVP_PKEY_free(sf_new_key);
  EVP_PKEY_free(sf_rogue_key);
  EVP_PKEY_free(sf_ec_key);
  return rc;
}
