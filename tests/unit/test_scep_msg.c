/* test_scep_msg.c — the SCEP codec against real OpenSSL objects: GetCACaps,
 * GetCACert, fingerprints, CSRs, and requests built with the split
 * signature (EVP and the real `openssl pkeyutl`), checked with PKCS7_verify
 * and CMS_verify and decrypted with the CA key. test_scep_rep.c has the
 * replies; the keys and helpers they share are in helpers/scep_fixture.c. */
#include "scep_fixture.h"

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


START_TEST(cacert) {
  unsigned char *der = NULL, *deg;
  size_t dlen;
  int l = i2d_X509(sf_ca_crt, &der);
  STACK_OF(X509) *certs = NULL;
  char err[256];
  X509 *ra_sign = sf_mkcert("RA sign", sf_old_key, sf_ca_crt, sf_ca_key, 10, 0, "digitalSignature");
  X509 *ra_enc = sf_mkcert("RA enc", sf_new_key, sf_ca_crt, sf_ca_key, 11, 0, "keyEncipherment");
  X509 *set[3] = {ra_sign, ra_enc, sf_ca_crt};

  /* application/x-x509-ca-cert: one DER certificate. */
  ck_assert_int_eq(scep_cacert_parse(der, (size_t)l, "application/x-x509-ca-cert", &certs,
                                     err, sizeof err),
                   0);
  ck_assert_int_eq(sk_X509_num(certs), 1);
  ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 0), sf_ca_crt), 0);
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
  deg = sf_degenerate(set, 3, &dlen);
  ck_assert_int_eq(scep_cacert_parse(deg, dlen, "application/x-x509-ca-ra-cert", &certs, err,
                                     sizeof err),
                   0);
  ck_assert_int_eq(sk_X509_num(certs), 3);
  ck_assert_int_eq(X509_cmp(scep_pick_recipient(certs), ra_enc), 0);
  ck_assert_int_eq(X509_cmp(scep_pick_ca(certs), sf_ca_crt), 0);
  scep_certs_free(certs);
  ck_assert_int_eq(scep_cacert_parse(deg, dlen, NULL, &certs, err, sizeof err), 0);
  ck_assert_int_eq(sk_X509_num(certs), 3);
  scep_certs_free(certs);
  free(deg);
  deg = sf_degenerate(set, 0, &dlen);
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
  X509_digest(sf_ca_crt, EVP_sha256(), md, &n);
  w = hex + sprintf(hex, "SHA256:");
  for (unsigned i = 0; i < n; i++)
    w += sprintf(w, i ? ":%02X" : "%02X", md[i]);
  ck_assert_int_eq(scep_fingerprint_check(sf_ca_crt, hex, err, sizeof err), 0);
  /* Lowercase, no colons. */
  w = hex + sprintf(hex, "sha256:");
  for (unsigned i = 0; i < n; i++)
    w += sprintf(w, "%02x", md[i]);
  ck_assert_int_eq(scep_fingerprint_check(sf_ca_crt, hex, err, sizeof err), 0);
  ck_assert_int_eq(scep_fingerprint_check(sf_rogue_crt, hex, err, sizeof err), RD_EVERIFY);
  ck_assert_msg(strstr(err, "CA certificate ") == err && strstr(err, "does not match"), "%s",
                err);
  X509_digest(sf_ca_crt, EVP_sha1(), md, &n);
  w = hex + sprintf(hex, "sha1:");
  for (unsigned i = 0; i < n; i++)
    w += sprintf(w, "%02x", md[i]);
  ck_assert_int_eq(scep_fingerprint_check(sf_ca_crt, hex, err, sizeof err), 0);
  ck_assert_int_eq(scep_fingerprint_check(sf_ca_crt, "md5:00", err, sizeof err), RD_EINVAL);
  ck_assert_int_eq(scep_fingerprint_check(sf_ca_crt, "sha256:zz", err, sizeof err), RD_EINVAL);
  ck_assert_int_eq(scep_fingerprint_check(sf_ca_crt, "sha256:0011", err, sizeof err), RD_EINVAL);
}
END_TEST

START_TEST(csr_parse) {
  size_t len = 0;
  unsigned char *der = sf_mkcsr("web17.example", sf_new_key, "s3cret", &len), *spki = NULL;
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
  ck_assert_int_eq(EVP_PKEY_eq(c.pubkey, sf_new_key), 1);
  ck_assert_uint_eq(c.der_len, len);
  ck_assert(!memcmp(c.der, der, len));
  /* txid = hex SHA-256 of the SubjectPublicKeyInfo, computed independently. */
  n = i2d_PUBKEY(sf_new_key, &spki);
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
  der = sf_mkcsr("x", sf_old_key, NULL, &len);
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
  unsigned char *csr = sf_mkcsr("web17.example", sf_new_key, "s3cret", &len), *inner;
  scep_csr c;
  scep_req *r;
  ck_assert_int_eq(scep_csr_parse(csr, len, &c, NULL, 0), 0);
  r = sf_build_signed(SCEP_MSG_RENEWALREQ, sf_old_crt, sf_old_key, csr, len, NULL, NULL, sign);
  ck_assert_str_eq(scep_req_txid(r), c.txid);
  ck_assert(!memcmp(scep_req_nonce(r), sf_NONCE, SCEP_NONCE_LEN));
  inner = sf_check_request(r, SCEP_MSG_RENEWALREQ, sf_old_crt, c.txid, NID_aes_128_cbc, &ilen);
  ck_assert_uint_eq(ilen, len);
  ck_assert(!memcmp(inner, csr, len));
  free(inner);
  scep_req_free(r);
  scep_csr_clear(&c);
  free(csr);
}

START_TEST(renewal_evp) { renewal_with(sf_evp_sign); }
END_TEST

START_TEST(renewal_pkeyutl) { renewal_with(sf_pkeyutl_sign); }
END_TEST

START_TEST(pkcsreq_selfsigned_des3) {
  /* PKCSReq: signed by a self-signed certificate of the new key
   * (RFC 8894 2.3), envelope with triple DES, fresh random nonce. */
  size_t len = 0, ilen = 0;
  unsigned char *csr = sf_mkcsr("new.example", sf_new_key, "s3cret", &len), *inner, dg[64];
  X509 *self = sf_mkcert("new.example", sf_new_key, NULL, sf_new_key, 99, 0, NULL);
  scep_req_params p = {0};
  scep_req *r = NULL, *r2 = NULL;
  size_t dlen;
  r = sf_build_signed(SCEP_MSG_PKCSREQ, self, sf_new_key, csr, len, EVP_des_ede3_cbc(), "my-tx",
                   sf_evp_sign);
  ck_assert_str_eq(scep_req_txid(r), "my-tx");
  inner = sf_check_request(r, SCEP_MSG_PKCSREQ, self, "my-tx", NID_des_ede3_cbc, &ilen);
  ck_assert(ilen == len && !memcmp(inner, csr, len));
  free(inner);
  /* Random nonces differ between builds. */
  p.type = SCEP_MSG_PKCSREQ;
  p.signer = self;
  p.inner = csr;
  p.inner_len = len;
  p.recipient = sf_ca_crt;
  ck_assert_int_eq(scep_req_build(&r2, &p, NULL, 0), 0);
  ck_assert(memcmp(scep_req_nonce(r2), sf_NONCE, SCEP_NONCE_LEN));
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
  unsigned char *csr = sf_mkcsr("ec.example", sf_new_key, NULL, &len), *inner;
  X509 *ec_crt = sf_mkcert("ec.example", sf_ec_key, sf_ca_crt, sf_ca_key, 7, 0, NULL);
  scep_req *r = sf_build_signed(SCEP_MSG_RENEWALREQ, ec_crt, sf_ec_key, csr, len, NULL, NULL,
                             sf_pkeyutl_sign);
  scep_csr c;
  ck_assert_int_eq(scep_csr_parse(csr, len, &c, NULL, 0), 0);
  inner = sf_check_request(r, SCEP_MSG_RENEWALREQ, ec_crt, c.txid, NID_aes_128_cbc, &ilen);
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
  X509_NAME *subj = sf_mkname("web17.example"), *n1, *n2;
  const unsigned char *p;
  long plen;
  int tag, cls;
  scep_req *r;
  ck_assert_int_eq(scep_issuer_and_subject(X509_get_subject_name(sf_ca_crt), subj, &ias, &len), 0);
  p = ias;
  ck_assert_int_eq(ASN1_get_object(&p, &plen, &tag, &cls, (long)len), V_ASN1_CONSTRUCTED);
  ck_assert_int_eq(tag, V_ASN1_SEQUENCE);
  n1 = d2i_X509_NAME(NULL, &p, plen);
  n2 = d2i_X509_NAME(NULL, &p, (long)(ias + len - p));
  ck_assert_ptr_eq(p, ias + len);
  ck_assert_int_eq(X509_NAME_cmp(n1, X509_get_subject_name(sf_ca_crt)), 0);
  ck_assert_int_eq(X509_NAME_cmp(n2, subj), 0);
  r = sf_build_signed(SCEP_MSG_CERTPOLL, sf_old_crt, sf_old_key, ias, len, NULL, "abc123", sf_evp_sign);
  inner = sf_check_request(r, SCEP_MSG_CERTPOLL, sf_old_crt, "abc123", NID_aes_128_cbc, &ilen);
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
  unsigned char *csr = sf_mkcsr("web17.example", sf_new_key, NULL, &len), *sig, dg[64], *der;
  X509 *ec_ca = sf_mkcert("EC CA", sf_ec_key, NULL, sf_ec_key, 5, 1, NULL);
  scep_req_params p = {0};
  scep_req *r = NULL;
  char err[512];
  p.type = SCEP_MSG_RENEWALREQ;
  p.signer = sf_old_crt;
  p.inner = csr;
  p.inner_len = len;
  p.recipient = sf_ca_crt;
  p.caps = SCEP_CAP_SHA256 | SCEP_CAP_AES;
  ck_assert_int_eq(scep_req_build(&r, &p, err, sizeof err), 0);
  /* No signature yet: nothing to send. */
  ck_assert_int_eq(scep_req_der(r, &der, &dl), RD_ESTATE);
  /* A signature by the wrong key (the target signed with the new key). */
  scep_req_tbs_digest(r, dg, &dlen);
  sig = sf_evp_sign(sf_new_key, "sha256", dg, dlen, &slen);
  ck_assert_int_eq(scep_req_set_signature(r, sig, slen, err, sizeof err), RD_EVERIFY);
  ck_assert_msg(strstr(err, "RenewalReq signature: does not verify") == err, "%s", err);
  free(sig);
  /* The right key with the wrong digest semantics (no DigestInfo). */
  {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(sf_old_key, NULL);
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
  p.recipient = sf_ca_crt;
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
    sig = sf_pkeyutl_sign(sf_old_key, "sha384", dg, dlen, &slen);
    ck_assert_int_eq(scep_req_set_signature(r, sig, slen, err, sizeof err), 0);
    free(sig);
    scep_req_free(r);
    r = NULL;
    p.md = NULL;
    EVP_MD_free(sha384);
  }
  /* Unsupported type. */
  p.recipient = sf_ca_crt;
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
  tcase_add_test(tc, names);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return sf_main(suite(), "test_scep_msg"); }
