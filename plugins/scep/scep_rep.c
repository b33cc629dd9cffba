/* scep_rep.c — SCEP replies (CertRep): verify, read the attributes, and
 * the certificates from the decrypted envelope. See scep_msg.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "renewd/plugin.h"
#include "scep_msg.h"
#include "scep_msg_int.h"
/* ---- replies -------------------------------------------------------- */

void scep_rep_clear(scep_rep *rep) {
  if (!rep)
    return;
  free(rep->fail_text);
  OPENSSL_free(rep->envelope);
  memset(rep, 0, sizeof *rep);
  rep->fail_info = SCEP_FAIL_NONE;
}

int scep_rep_parse(const unsigned char *der, size_t len, STACK_OF(X509) *ca_certs,
                   const char *txid, const unsigned char *nonce, scep_rep *rep,
                   char *err, size_t errlen) {
  PKCS7 *p7 = NULL;
  PKCS7_SIGNER_INFO *si;
  STACK_OF(X509_ATTRIBUTE) *attrs;
  ASN1_TYPE *t;
  ASN1_OCTET_STRING *content = NULL;
  BIO *indata = NULL;
  char buf[SCEP_TXID_MAX + 1];
  int rc = RD_EPROTO, v;
  const unsigned char *p = der;

  memset(rep, 0, sizeof *rep);
  rep->fail_info = SCEP_FAIL_NONE;
  if (!der || !len || len > 0x7fffffff || !ca_certs || !txid || !nonce)
    return RD_EINVAL;
  if (!(p7 = d2i_PKCS7(NULL, &p, (long)len)) || !PKCS7_type_is_signed(p7) ||
      !p7->d.sign) {
    scep_seterr(err, errlen, "CertRep: not a PKCS#7 SignedData");
    goto out;
  }
  /* Exactly one SignerInfo: the CA's or its RA's (RFC 8894 3.3.2). */
  if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) != 1) {
    scep_seterr(err, errlen, "CertRep: %d signers, expected one",
           sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)));
    goto out;
  }
  if (p7->d.sign->contents && PKCS7_type_is_data(p7->d.sign->contents))
    content = p7->d.sign->contents->d.data;
  else if (p7->d.sign->contents && p7->d.sign->contents->d.ptr) {
    scep_seterr(err, errlen, "CertRep: encapsulated content is not id-data");
    goto out;
  }
  /* FAILURE and PENDING replies have no pkcsPKIEnvelope (RFC 8894 3.3.2);
   * some servers then omit the content (a "detached" SignedData): verify
   * the signature over empty content then. */
  if (!content && !(indata = BIO_new_mem_buf("", 0))) {
    rc = RD_ENOMEM;
    goto out;
  }
  /* The signature. PKCS7_NOINTERN: the signer must be one of ca_certs,
   * the GetCACert set the caller pinned — certificates shipped inside the
   * reply (scepserver includes the issued one) are never trusted as
   * signers. PKCS7_NOVERIFY: no chain building; the pin is the trust.
   * CAs still sign CertReps with SHA-1 (scepserver does); OpenSSL accepts
   * that here. This also checks messageDigest against the content. */
  v = PKCS7_verify(p7, ca_certs, NULL, indata, NULL,
                   PKCS7_NOINTERN | PKCS7_NOVERIFY | PKCS7_NOCHAIN | PKCS7_BINARY);
  if (v != 1) {
    scep_seterr(err, errlen, "CertRep: the signature does not verify with the CA certificates");
    rc = RD_EVERIFY;
    goto out;
  }
  si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
  attrs = PKCS7_get_signed_attributes(si);

  /* messageType MUST be CertRep (3). */
  if (scep_attr_text(attrs, OID_MESSAGE_TYPE, buf, sizeof buf) || scep_parse_small(buf, &v) ||
      v != SCEP_MSG_CERTREP) {
    scep_seterr(err, errlen, "CertRep: messageType is not CertRep (3)");
    goto out;
  }
  /* transactionID MUST be the request's (RFC 8894 3.2.1.1). */
  if (scep_attr_text(attrs, OID_TRANSACTION_ID, buf, sizeof buf)) {
    scep_seterr(err, errlen, "CertRep: no transactionID");
    goto out;
  }
  if (strcmp(buf, txid)) {
    scep_seterr(err, errlen, "CertRep: transactionID '%s' is not the request's '%s'", buf, txid);
    rc = RD_EVERIFY;
    goto out;
  }
  /* recipientNonce MUST be a copy of the request's senderNonce
   * (RFC 8894 3.2.1.5): this binds the reply to our message and defeats
   * replays of an earlier reply for the same transaction. */
  if (!(t = scep_get_attr(attrs, OID_RECIPIENT_NONCE)) || t->type != V_ASN1_OCTET_STRING) {
    scep_seterr(err, errlen, "CertRep: no recipientNonce");
    goto out;
  }
  if (ASN1_STRING_length(t->value.octet_string) != SCEP_NONCE_LEN ||
      CRYPTO_memcmp(ASN1_STRING_get0_data(t->value.octet_string), nonce, SCEP_NONCE_LEN)) {
    scep_seterr(err, errlen, "CertRep: recipientNonce is not the request's senderNonce");
    rc = RD_EVERIFY;
    goto out;
  }
  /* pkiStatus (RFC 8894 3.2.1.3): 0 SUCCESS, 2 FAILURE, 3 PENDING. */
  if (scep_attr_text(attrs, OID_PKI_STATUS, buf, sizeof buf) || scep_parse_small(buf, &v) ||
      (v != SCEP_STATUS_SUCCESS && v != SCEP_STATUS_FAILURE && v != SCEP_STATUS_PENDING)) {
    scep_seterr(err, errlen, "CertRep: missing or unknown pkiStatus");
    goto out;
  }
  rep->status = v;
  if (v == SCEP_STATUS_FAILURE) {
    /* failInfo MUST accompany FAILURE (3.2.1.4); tolerate its absence
     * (the status already says "denied") but not a malformed one. */
    int r2 = scep_attr_text(attrs, OID_FAIL_INFO, buf, sizeof buf);
    if (r2 == 0) {
      if (scep_parse_small(buf, &v) || v > SCEP_FAIL_BADCERTID) {
        scep_seterr(err, errlen, "CertRep: unknown failInfo '%s'", buf);
        goto out;
      }
      rep->fail_info = v;
    } else if (r2 != RD_ENOTFOUND) {
      scep_seterr(err, errlen, "CertRep: malformed failInfo");
      goto out;
    }
    if ((t = scep_get_attr(attrs, OID_FAIL_INFO_TEXT)) && t->type == V_ASN1_UTF8STRING) {
      int n = ASN1_STRING_length(t->value.asn1_string);
      if (n > 0 && (rep->fail_text = malloc((size_t)n + 1))) {
        memcpy(rep->fail_text, ASN1_STRING_get0_data(t->value.asn1_string), (size_t)n);
        rep->fail_text[n] = 0;
        for (int i = 0; i < n; i++)
          if ((unsigned char)rep->fail_text[i] < 0x20)
            rep->fail_text[i] = ' ';
      }
    }
  }
  if (rep->status == SCEP_STATUS_SUCCESS) {
    /* SUCCESS carries the issued certificate inside a pkcsPKIEnvelope
     * encrypted to the request's signer (RFC 8894 3.3.2): a DER
     * EnvelopedData in the id-data content. Checked, then handed out. */
    const unsigned char *q;
    PKCS7 *env;
    int n = content ? ASN1_STRING_length(content) : 0;
    if (n <= 0) {
      scep_seterr(err, errlen, "CertRep: SUCCESS without a pkcsPKIEnvelope");
      goto out;
    }
    q = ASN1_STRING_get0_data(content);
    if (!(env = d2i_PKCS7(NULL, &q, n)) || !PKCS7_type_is_enveloped(env)) {
      PKCS7_free(env);
      scep_seterr(err, errlen, "CertRep: the pkcsPKIEnvelope is not an EnvelopedData");
      goto out;
    }
    snprintf(rep->cipher, sizeof rep->cipher, "%s",
             OBJ_nid2sn(OBJ_obj2nid(env->d.enveloped->enc_data->algorithm->algorithm)));
    PKCS7_free(env);
    if (!(rep->envelope = OPENSSL_memdup(ASN1_STRING_get0_data(content), (size_t)n))) {
      rc = RD_ENOMEM;
      goto out;
    }
    rep->envelope_len = (size_t)n;
  }
  rc = 0;
out:
  if (rc) {
    int st = rep->status;
    scep_rep_clear(rep);
    rep->status = st;
  }
  ERR_clear_error();
  BIO_free(indata);
  PKCS7_free(p7);
  return rc;
}

int scep_rep_certs_from_decrypted(const unsigned char *data, size_t len,
                                  STACK_OF(X509) **certs, char *err, size_t errlen) {
  /* The decrypted pkcsPKIEnvelope of a SUCCESS CertRep is a degenerate
   * certs-only SignedData (RFC 8894 3.3.2, 3.4) with the issued
   * certificate (and maybe its chain). */
  PKCS7 *p7;
  int rc;
  *certs = NULL;
  if (!data || !len || len > 0x7fffffff || !(p7 = scep_p7_from_bytes(data, len))) {
    scep_seterr(err, errlen, "decrypted CertRep: not a PKCS#7 certs-only message");
    return RD_EPROTO;
  }
  rc = scep_certs_of_p7(p7, certs);
  PKCS7_free(p7);
  if (rc)
    scep_seterr(err, errlen, "decrypted CertRep: holds no certificates");
  return rc;
}

X509 *scep_pick_issued(STACK_OF(X509) *certs, const EVP_PKEY *pub) {
  for (int i = 0; pub && i < sk_X509_num(certs); i++) {
    X509 *c = sk_X509_value(certs, i);
    if (EVP_PKEY_eq(X509_get0_pubkey(c), pub) == 1)
      return c;
  }
  ERR_clear_error();
  return NULL;
}
