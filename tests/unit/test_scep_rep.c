/* test_scep_rep.c — the SCEP codec's replies: CertReps made here with a
 * test CA (helpers/scep_fixture.c), parsed, and refused when forged. */
#include "scep_fixture.h"

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
  unsigned char *deg = sf_degenerate(one, 1, &dl), *der = NULL;
  STACK_OF(X509) *to = sk_X509_new_null();
  BIO *in = BIO_new_mem_buf(deg, (int)dl);
  PKCS7 *env;
  int l;
  sk_X509_push(to, sf_old_crt);
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
  sk_X509_push(sk, sf_ca_crt);
  X509_up_ref(sf_ca_crt);
  return sk;
}

START_TEST(certrep_success) {
  X509 *issued = sf_mkcert("web17.example", sf_new_key, sf_ca_crt, sf_ca_key, 4242, 0, NULL);
  size_t elen, len, dlen;
  unsigned char *env = success_envelope(issued, &elen), *der;
  rep_spec s = {.signer = sf_ca_crt, .key = sf_ca_key, .txid = "tx-1", .rnonce = sf_NONCE,
                .status = "0", .content = env, .content_len = elen};
  STACK_OF(X509) *cas = ca_set(), *got = NULL;
  scep_rep rep;
  char err[256];
  PKCS7 *e7;
  BIO *plain = BIO_new(BIO_s_mem());
  const unsigned char *p;
  char *bp;

  der = certrep(&s, &len);
  ck_assert_msg(scep_rep_parse(der, len, cas, "tx-1", sf_NONCE, &rep, err, sizeof err) == 0, "%s",
                err);
  ck_assert_int_eq(rep.status, SCEP_STATUS_SUCCESS);
  ck_assert_int_eq(rep.fail_info, SCEP_FAIL_NONE);
  ck_assert_uint_eq(rep.envelope_len, elen);
  ck_assert(!memcmp(rep.envelope, env, elen));
  ck_assert_str_eq(rep.cipher, "AES-256-CBC");
  /* What the target does: decrypt with the old key; then parse here. */
  p = rep.envelope;
  e7 = d2i_PKCS7(NULL, &p, (long)rep.envelope_len);
  ck_assert_int_eq(PKCS7_decrypt(e7, sf_old_key, sf_old_crt, plain, PKCS7_BINARY), 1);
  dlen = (size_t)BIO_get_mem_data(plain, &bp);
  ck_assert_int_eq(
      scep_rep_certs_from_decrypted((unsigned char *)bp, dlen, &got, err, sizeof err), 0);
  ck_assert_int_eq(X509_cmp(scep_pick_issued(got, sf_new_key), issued), 0);
  ck_assert_ptr_null(scep_pick_issued(got, sf_old_key));
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
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-1", sf_NONCE, &rep, err, sizeof err),
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
  rep_spec s = {.signer = sf_ca_crt, .key = sf_ca_key, .txid = "tx-2", .rnonce = sf_NONCE,
                .status = "3", .detached = 1};
  STACK_OF(X509) *cas = ca_set();
  size_t len;
  unsigned char *der = certrep(&s, &len);
  scep_rep rep;
  char err[256];
  /* PENDING, from a server that omits the content entirely. */
  ck_assert_msg(scep_rep_parse(der, len, cas, "tx-2", sf_NONCE, &rep, err, sizeof err) == 0, "%s",
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
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", sf_NONCE, &rep, err, sizeof err), 0);
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
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", sf_NONCE, &rep, err, sizeof err), 0);
  ck_assert_int_eq(rep.fail_info, SCEP_FAIL_NONE);
  ck_assert_str_eq(scep_fail_info_name(rep.fail_info), "unspecified");
  scep_rep_clear(&rep);
  OPENSSL_free(der);
  /* An unknown failInfo and an unknown pkiStatus are malformed. */
  s.fail_info = "9";
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", sf_NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  OPENSSL_free(der);
  s.status = "1";
  s.fail_info = NULL;
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-2", sf_NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "CertRep: missing or unknown pkiStatus") == err, "%s", err);
  OPENSSL_free(der);
  scep_certs_free(cas);
}
END_TEST

START_TEST(certrep_rejected) {
  rep_spec s = {.signer = sf_ca_crt, .key = sf_ca_key, .txid = "tx-3", .rnonce = sf_NONCE,
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
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-4", sf_NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  ck_assert_str_eq(err, "CertRep: transactionID 'tx-3' is not the request's 'tx-4'");
  /* A signed attribute altered in transit ("tx-3" -> "tx-4"). */
  hit = memmem(der, len, "tx-3", 4);
  ck_assert_ptr_nonnull(hit);
  hit[3] = '4';
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-4", sf_NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  ck_assert_msg(strstr(err, "CertRep: the signature does not verify") == err, "%s", err);
  hit[3] = '3';
  /* The signature itself damaged (it is the last thing in the DER). */
  der[len - 1] ^= 1;
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", sf_NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  der[len - 1] ^= 1;
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", sf_NONCE, &rep, err, sizeof err), 0);
  scep_rep_clear(&rep);
  OPENSSL_free(der);
  /* Signed by a rogue CA with the same name and serial as ours. */
  s.signer = sf_rogue_crt;
  s.key = sf_rogue_key;
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", sf_NONCE, &rep, err, sizeof err),
                   RD_EVERIFY);
  OPENSSL_free(der);
  /* Signed by a certificate we do not know at all, which it carries. */
  {
    X509 *stranger = sf_mkcert("stranger", sf_rogue_key, NULL, sf_rogue_key, 77, 1, NULL);
    s.signer = stranger;
    der = certrep(&s, &len);
    ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", sf_NONCE, &rep, err, sizeof err),
                     RD_EVERIFY);
    OPENSSL_free(der);
    X509_free(stranger);
  }
  /* Not a CertRep: a messageType other than 3. */
  s.signer = sf_ca_crt;
  s.key = sf_ca_key;
  s.msg_type = "19";
  der = certrep(&s, &len);
  ck_assert_int_eq(scep_rep_parse(der, len, cas, "tx-3", sf_NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "CertRep: messageType") == err, "%s", err);
  OPENSSL_free(der);
  /* Not even PKCS#7. */
  ck_assert_int_eq(scep_rep_parse((const unsigned char *)"<html>500</html>", 16, cas, "tx-3",
                                  sf_NONCE, &rep, err, sizeof err),
                   RD_EPROTO);
  ck_assert_msg(strstr(err, "CertRep: not a PKCS#7 SignedData") == err, "%s", err);
  scep_certs_free(cas);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("scep_rep");
  TCase *tc = tcase_create("codec");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, certrep_success);
  tcase_add_test(tc, certrep_pending_failure);
  tcase_add_test(tc, certrep_rejected);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return sf_main(suite(), "test_scep_rep"); }
