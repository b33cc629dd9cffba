/* csr.c — see csr.h. */
#include "common/csr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "renewd/plugin.h"

struct rd_csr_build {
  X509_REQ *req;
  EVP_PKEY *pub;
};

int rd_csr_build_new(rd_csr_build **out, const X509_NAME *subject,
                       const GENERAL_NAMES *sans, EVP_PKEY *pubkey, const char *challenge,
                       char *err, size_t errlen) {
  rd_csr_build *b = calloc(1, sizeof *b);
  int rc = RD_ECRYPTO;
  if (!b)
    return RD_ENOMEM;
  if (!(b->req = X509_REQ_new()) || !X509_REQ_set_version(b->req, 0) ||
      !X509_REQ_set_subject_name(b->req, subject) || !X509_REQ_set_pubkey(b->req, pubkey)) {
    snprintf(err, errlen, "CSR: cannot set subject or public key");
    goto fail;
  }
  EVP_PKEY_up_ref(pubkey);
  b->pub = pubkey;
  if (sans && sk_GENERAL_NAME_num(sans) > 0) {
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, (void *)sans);
    int ok = exts && ext && sk_X509_EXTENSION_push(exts, ext) &&
             X509_REQ_add_extensions(b->req, exts);
    if (!ok)
      X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (!ok) {
      snprintf(err, errlen, "CSR: cannot add the subjectAltName extension");
      goto fail;
    }
  }
  if (challenge && *challenge &&
      !X509_REQ_add1_attr_by_NID(b->req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                 (const unsigned char *)challenge, (int)strlen(challenge))) {
    snprintf(err, errlen, "CSR: cannot add the challengePassword attribute");
    goto fail;
  }
  /* The signature algorithm goes into the TBS's outer structure only, but
   * set it now so the finished request is complete. */
  X509_ALGOR *alg = X509_ALGOR_new();
  int nid = EVP_PKEY_get_base_id(pubkey) == EVP_PKEY_EC ? NID_ecdsa_with_SHA256
                                                         : NID_sha256WithRSAEncryption;
  if (!alg || !X509_ALGOR_set0(alg, OBJ_nid2obj(nid),
                               nid == NID_sha256WithRSAEncryption ? V_ASN1_NULL : V_ASN1_UNDEF,
                               NULL) ||
      !X509_REQ_set1_signature_algo(b->req, alg)) {
    X509_ALGOR_free(alg);
    snprintf(err, errlen, "CSR: cannot set the signature algorithm");
    goto fail;
  }
  X509_ALGOR_free(alg);
  *out = b;
  return 0;
fail:
  rd_csr_build_free(b);
  return rc;
}

void rd_csr_build_free(rd_csr_build *b) {
  if (!b)
    return;
  X509_REQ_free(b->req);
  EVP_PKEY_free(b->pub);
  free(b);
}

int rd_csr_build_digest(rd_csr_build *b, unsigned char *out, size_t *outlen) {
  unsigned char *tbs = NULL;
  unsigned int n = 0;
  int len = i2d_re_X509_REQ_tbs(b->req, &tbs);
  int ok = len > 0 && EVP_Digest(tbs, (size_t)len, out, &n, EVP_sha256(), NULL);
  OPENSSL_free(tbs);
  if (!ok)
    return RD_ECRYPTO;
  *outlen = n;
  return 0;
}

int rd_csr_build_finish(rd_csr_build *b, const unsigned char *sig, size_t siglen,
                          unsigned char **der, size_t *derlen, char *err, size_t errlen) {
  ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
  int len;
  if (!bs || !ASN1_BIT_STRING_set(bs, (unsigned char *)sig, (int)siglen)) {
    ASN1_BIT_STRING_free(bs);
    return RD_ENOMEM;
  }
  bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  X509_REQ_set0_signature(b->req, bs);
  if (X509_REQ_verify(b->req, b->pub) != 1) {
    snprintf(err, errlen, "CSR: the target's signature does not verify with the new public "
                          "key (was the right key used?)");
    return RD_EVERIFY;
  }
  *der = NULL;
  if ((len = i2d_X509_REQ(b->req, der)) <= 0)
    return RD_ECRYPTO;
  *derlen = (size_t)len;
  return 0;
}
