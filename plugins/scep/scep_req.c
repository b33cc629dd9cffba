/* scep_req.c — SCEP requests (PKCSReq, RenewalReq, CertPoll): build the
 * SignedData, hand out the digest the target signs, take its signature,
 * encode for POST or GET. See scep_msg.h; the PKIMessage layout is
 * described in scep_msg.c. */
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
/* ---- requests ------------------------------------------------------- */

struct scep_req {
  int type;
  PKCS7 *p7;               /* the SignedData being built */
  PKCS7_SIGNER_INFO *si;   /* borrowed from p7 */
  X509 *signer;            /* up-referenced */
  const EVP_MD *md;
  unsigned char tbs[EVP_MAX_MD_SIZE]; /* digest of the signed attributes */
  unsigned int tbs_len;
  int signed_;
  char txid[SCEP_TXID_MAX + 1];
  unsigned char nonce[SCEP_NONCE_LEN];
};

void scep_req_free(scep_req *r) {
  if (!r)
    return;
  PKCS7_free(r->p7);
  X509_free(r->signer);
  free(r);
}

const char *scep_req_txid(const scep_req *r) { return r->txid; }
const unsigned char *scep_req_nonce(const scep_req *r) { return r->nonce; }
/* The names `openssl pkeyutl -pkeyopt digest:` knows in 1.1 and 3.x alike;
 * NULL for digests a request may not use. */
static const char *md_short_name(const EVP_MD *md) {
  switch (EVP_MD_get_type(md)) {
  case NID_sha1:
    return "sha1";
  case NID_sha256:
    return "sha256";
  case NID_sha384:
    return "sha384";
  case NID_sha512:
    return "sha512";
  default:
    return NULL;
  }
}

const char *scep_req_md_name(const scep_req *r) { return md_short_name(r->md); }

/* transactionID is a PrintableString (RFC 8894 3.2.1.1). */
static int printable(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr(" '()+,-./:=?", *s))
      return 0;
  return 1;
}

/* The pkcsPKIEnvelope (RFC 8894 3.2.2): the messageData as the content
 * of an EnvelopedData encrypted to the CA/RA, with key transport by RSA
 * (PKCS#1 v1.5) and the recipient named by issuerAndSerialNumber. */
static int make_envelope(const unsigned char *inner, size_t inner_len, X509 *recipient,
                         const EVP_CIPHER *cipher, unsigned char **der, int *derlen,
                         char *err, size_t errlen) {
  STACK_OF(X509) *rcpts = sk_X509_new_null();
  BIO *in = BIO_new_mem_buf(inner, (int)inner_len);
  PKCS7 *env = NULL;
  int rc = RD_ENOMEM;
  char label[256];
  *der = NULL;
  if (!rcpts || !in || !sk_X509_push(rcpts, recipient))
    goto out;
  if (EVP_PKEY_get_base_id(X509_get0_pubkey(recipient)) != EVP_PKEY_RSA) {
    scep_cert_label(recipient, label, sizeof label);
    scep_seterr(err, errlen, "SCEP recipient %s: not an RSA key; SCEP key transport needs RSA",
           label);
    rc = RD_ENOTSUP;
    goto out;
  }
  /* PKCS7_BINARY: the CSR is bytes, no MIME canonicalisation. */
  if (!(env = PKCS7_encrypt(rcpts, in, cipher, PKCS7_BINARY))) {
    scep_seterr(err, errlen, "pkcsPKIEnvelope: encryption with %s failed",
           EVP_CIPHER_get0_name(cipher));
    rc = RD_ECRYPTO;
    goto out;
  }
  if ((*derlen = i2d_PKCS7(env, der)) <= 0) {
    rc = RD_ECRYPTO;
    goto out;
  }
  rc = 0;
out:
  PKCS7_free(env);
  BIO_free(in);
  sk_X509_free(rcpts);
  return rc;
}

int scep_req_build(scep_req **out, const scep_req_params *p, char *err, size_t errlen) {
  scep_req *r = NULL;
  unsigned char *env = NULL, *abuf = NULL, md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int envlen = 0, alen, rc = RD_ENOMEM;
  const EVP_CIPHER *cipher;
  const char *tname;
  char mt[4];
  PKCS7 *p7;

  *out = NULL;
  if (err && errlen)
    *err = 0;
  if (!p || !p->signer || !p->recipient || !p->inner || !p->inner_len ||
      p->inner_len > 0x7fffffff ||
      (p->type != SCEP_MSG_PKCSREQ && p->type != SCEP_MSG_RENEWALREQ &&
       p->type != SCEP_MSG_CERTPOLL)) {
    scep_seterr(err, errlen, "SCEP request: missing signer, recipient or message data, or a "
                        "type other than PKCSReq, RenewalReq or CertPoll");
    return RD_EINVAL;
  }
  tname = scep_msg_type_name(p->type);
  if (!(r = calloc(1, sizeof *r)))
    return RD_ENOMEM;
  r->type = p->type;
  r->md = p->md ? p->md : scep_caps_md(p->caps);
  cipher = p->cipher ? p->cipher : scep_caps_cipher(p->caps);
  if (!md_short_name(r->md)) {
    scep_seterr(err, errlen, "%s: digest %s is not one of SHA-1, SHA-256, SHA-384, SHA-512", tname,
           EVP_MD_get0_name(r->md));
    rc = RD_EINVAL;
    goto fail;
  }
  X509_up_ref(p->signer);
  r->signer = p->signer;

  /* transactionID (RFC 8894 3.2.1.1): a unique PrintableString, the same
   * for every message of one enrolment (CertPoll repeats the request's).
   * The default derives it from the new public key, as many clients do,
   * so a retried build of the same CSR keeps its transaction. */
  if (p->txid) {
    if (strlen(p->txid) > SCEP_TXID_MAX || !printable(p->txid)) {
      scep_seterr(err, errlen, "%s: transactionID '%.*s' is not a PrintableString of at most %d "
                          "characters", tname, 40, p->txid, SCEP_TXID_MAX);
      rc = RD_EINVAL;
      goto fail;
    }
    snprintf(r->txid, sizeof r->txid, "%s", p->txid);
  } else if (p->type == SCEP_MSG_CERTPOLL) {
    scep_seterr(err, errlen, "CertPoll: the transactionID of the polled request is required");
    rc = RD_EINVAL;
    goto fail;
  } else {
    const unsigned char *q = p->inner;
    X509_REQ *req = d2i_X509_REQ(NULL, &q, (long)p->inner_len);
    if (!req) {
      scep_seterr(err, errlen, "%s: the message data is not a DER PKCS#10 request", tname);
      rc = RD_EPROTO;
      goto fail;
    }
    rc = scep_spki_txid(req, r->txid);
    X509_REQ_free(req);
    if (rc)
      goto fail;
  }
  /* senderNonce (RFC 8894 3.2.1.5): 16 fresh random bytes per message. */
  if (p->nonce)
    memcpy(r->nonce, p->nonce, SCEP_NONCE_LEN);
  else if (RAND_bytes(r->nonce, SCEP_NONCE_LEN) != 1) {
    rc = RD_ECRYPTO;
    goto fail;
  }

  if ((rc = make_envelope(p->inner, p->inner_len, p->recipient, cipher, &env, &envlen, err,
                          errlen)))
    goto fail;
  rc = RD_ECRYPTO;

  /* The SignedData (RFC 8894 3): version 1, one SignerInfo identified by
   * issuerAndSerialNumber, encapsulated content of type id-data whose
   * OCTET STRING is the DER EnvelopedData. */
  if (!(r->p7 = p7 = PKCS7_new()) || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
      !PKCS7_content_new(p7, NID_pkcs7_data) ||
      !ASN1_OCTET_STRING_set(p7->d.sign->contents->d.data, env, envlen))
    goto fail;
  /* The signer's *public* key is enough for PKCS7_add_signature: it only
   * picks the digest and signature AlgorithmIdentifiers (rsaEncryption or
   * ecdsa-with-SHA256) from it. Nothing is signed here. */
  if (!(r->si = PKCS7_add_signature(p7, p->signer, X509_get0_pubkey(p->signer), r->md))) {
    scep_seterr(err, errlen, "%s: cannot make a SignerInfo for this signer's key type", tname);
    goto fail;
  }
  /* The signer certificate MUST be in the SignedData (RFC 8894 2.3,
   * 3.3.1): the CA encrypts its reply to it, and scepserver answers
   * "No certificate for signer" without it. */
  if (!PKCS7_add_certificate(p7, p->signer))
    goto fail;

  /* Signed attributes. CMS requires contentType and messageDigest
   * (RFC 5652 5.3); SCEP adds messageType, transactionID and senderNonce
   * (RFC 8894 3.2.1). No signingTime: it is optional, and scepserver
   * then refuses a signer certificate outside its validity period, which
   * would make renewing a just-expired certificate impossible. */
  if (!EVP_Digest(env, (size_t)envlen, md, &mdlen, r->md, NULL) ||
      !PKCS7_add_attrib_content_type(r->si, NULL) ||
      !PKCS7_add1_attrib_digest(r->si, md, (int)mdlen))
    goto fail;
  snprintf(mt, sizeof mt, "%d", p->type);
  if (!scep_add_attr(&r->si->auth_attr, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING,
                (const unsigned char *)mt, -1) ||
      !scep_add_attr(&r->si->auth_attr, OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING,
                (const unsigned char *)r->txid, -1) ||
      !scep_add_attr(&r->si->auth_attr, OID_SENDER_NONCE, V_ASN1_OCTET_STRING, r->nonce,
                SCEP_NONCE_LEN))
    goto fail;

  /* What the signature covers (RFC 5652 5.4): the DER of the signed
   * attributes with an explicit SET OF tag. The PKCS7_ATTR_SIGN template
   * DER-sorts the SET and reorders the stack to match, so the SignerInfo
   * encoded later carries the attributes in exactly the signed order.
   * The attributes must not change after this point. */
  if ((alen = ASN1_item_i2d((ASN1_VALUE *)r->si->auth_attr, &abuf,
                            ASN1_ITEM_rptr(PKCS7_ATTR_SIGN))) <= 0 ||
      !EVP_Digest(abuf, (size_t)alen, r->tbs, &r->tbs_len, r->md, NULL))
    goto fail;
  OPENSSL_free(abuf);
  OPENSSL_free(env);
  *out = r;
  return 0;
fail:
  if (rc == RD_ECRYPTO && err && errlen && !*err)
    scep_seterr(err, errlen, "%s: building the SignedData failed", tname);
  OPENSSL_free(abuf);
  OPENSSL_free(env);
  scep_req_free(r);
  return rc;
}

int scep_req_tbs_digest(const scep_req *r, unsigned char *out, size_t *outlen) {
  if (!r || !r->tbs_len)
    return RD_EINVAL;
  memcpy(out, r->tbs, r->tbs_len);
  *outlen = r->tbs_len;
  return 0;
}

int scep_req_set_signature(scep_req *r, const unsigned char *sig, size_t len, char *err,
                           size_t errlen) {
  EVP_PKEY_CTX *ctx = NULL;
  int rc = RD_ECRYPTO, v;
  char label[256];
  if (!r || !sig || !len || len > 0x7fffffff)
    return RD_EINVAL;
  /* Check it before it goes out: the signature the target returned must
   * verify with the signer certificate's key over our digest. With RSA,
   * `pkeyutl -pkeyopt digest:sha256` makes PKCS#1 v1.5 over the DigestInfo,
   * which is what EVP_PKEY_verify with a signature md checks. */
  if (!(ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(r->signer), NULL)) ||
      EVP_PKEY_verify_init(ctx) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx, r->md) <= 0)
    goto out;
  v = EVP_PKEY_verify(ctx, sig, len, r->tbs, r->tbs_len);
  if (v != 1) {
    scep_cert_label(r->signer, label, sizeof label);
    scep_seterr(err, errlen, "%s signature: does not verify with the key of %s (was it made with "
                        "`-pkeyopt digest:%s` by that certificate's key?)",
           scep_msg_type_name(r->type), label, scep_req_md_name(r));
    rc = RD_EVERIFY;
    goto out;
  }
  if (!ASN1_STRING_set(r->si->enc_digest, sig, (int)len))
    goto out;
  r->signed_ = 1;
  rc = 0;
out:
  EVP_PKEY_CTX_free(ctx);
  return rc;
}

int scep_req_der(const scep_req *r, unsigned char **der, size_t *len) {
  int n;
  *der = NULL;
  *len = 0;
  if (!r)
    return RD_EINVAL;
  if (!r->signed_)
    return RD_ESTATE;
  if ((n = i2d_PKCS7(r->p7, der)) <= 0)
    return RD_ECRYPTO;
  *len = (size_t)n;
  return 0;
}

int scep_get_query(const unsigned char *der, size_t len, char **query) {
  /* RFC 8894 4.1: with GET, the message is base64 in the "message"
   * parameter, which must then be URL-encoded ('+', '/', '=' escaped). */
  static const char pre[] = "operation=PKIOperation&message=";
  size_t b64cap = 4 * ((len + 2) / 3) + 1;
  unsigned char *b64;
  char *q, *w;
  int n;
  *query = NULL;
  if (!der || !len || len > 0x3fffffff)
    return RD_EINVAL;
  if (!(b64 = malloc(b64cap)))
    return RD_ENOMEM;
  n = EVP_EncodeBlock(b64, der, (int)len);
  if (n < 0 || !(q = malloc(sizeof pre + 3 * (size_t)n))) {
    free(b64);
    return RD_ENOMEM;
  }
  memcpy(q, pre, sizeof pre);
  w = q + sizeof pre - 1;
  for (int i = 0; i < n; i++) {
    unsigned char c = b64[i];
    if (c == '+' || c == '/' || c == '=')
      w += sprintf(w, "%%%02X", c);
    else
      *w++ = (char)c;
  }
  *w = 0;
  free(b64);
  *query = q;
  return 0;
}

