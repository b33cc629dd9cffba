/*
 * scep_msg.h — SCEP (RFC 8894) message codec. OpenSSL only, no I/O.
 *
 * The codec is built for renewd's rule that a private key never leaves its
 * target: a request is built in two halves. The orchestrator builds the
 * whole PKIMessage around the signer's *public* key, hands the digest of
 * the signed attributes to the target, which signs it with
 *
 *     openssl pkeyutl -sign -inkey old.key -pkeyopt digest:sha256
 *
 * and the signature is put back into the SignerInfo. The CA's reply is
 * encrypted to the signer's certificate, so its envelope goes back to the
 * target for `openssl cms -decrypt`; the decrypted certs-only PKCS#7 is
 * parsed here again.
 *
 *   caps   = scep_caps_parse(GetCACaps body)
 *   scep_cacert_parse(GetCACert body, content type) -> CA (+ RA) certs
 *   scep_fingerprint_check(CA, pinned "sha256:...")
 *   scep_csr_parse(CSR from the target)            -> subject, key, txid
 *   scep_req_build(params)                         -> req
 *   scep_req_tbs_digest(req)                       -> digest for the target
 *   scep_req_set_signature(req, signature from the target)
 *   scep_req_der(req)                              -> POST body
 *   scep_rep_parse(reply, CA certs, txid, nonce)   -> status / failInfo / envelope
 *   scep_rep_certs_from_decrypted(target's output) -> certs
 *   scep_pick_issued(certs, new public key)        -> the new certificate
 *
 * Every fallible function returns 0 or a negative RD_E* code
 * (renewd/plugin.h) and, when err is not NULL, writes one sentence into
 * err that names its subject first ("CertRep: ..."). Objects returned
 * through pointers are owned by the caller unless marked "borrowed".
 */
#ifndef RENEWD_SCEP_MSG_H
#define RENEWD_SCEP_MSG_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* HTTP content types (RFC 8894 4.2, 4.3). */
#define SCEP_CT_CA_CERT "application/x-x509-ca-cert"       /* one DER cert */
#define SCEP_CT_CA_RA_CERT "application/x-x509-ca-ra-cert" /* certs-only PKCS#7 */
#define SCEP_CT_PKI_MESSAGE "application/x-pki-message"    /* PKIOperation */

/* senderNonce / recipientNonce are 16 random bytes (RFC 8894 3.2.1.5). */
#define SCEP_NONCE_LEN 16
/* Longest transactionID the codec makes or accepts (hex SHA-256 is 64). */
#define SCEP_TXID_MAX 128

/* messageType (RFC 8894 3.2.1.2), carried as a decimal PrintableString. */
enum scep_msg_type {
  SCEP_MSG_CERTREP = 3,
  SCEP_MSG_RENEWALREQ = 17,
  SCEP_MSG_PKCSREQ = 19,
  SCEP_MSG_CERTPOLL = 20, /* GetCertInitial in older drafts */
  SCEP_MSG_GETCERT = 21,
  SCEP_MSG_GETCRL = 22
};

/* pkiStatus (RFC 8894 3.2.1.3). */
enum scep_status {
  SCEP_STATUS_SUCCESS = 0,
  SCEP_STATUS_FAILURE = 2,
  SCEP_STATUS_PENDING = 3
};

/* failInfo (RFC 8894 3.2.1.4); SCEP_FAIL_NONE when absent. */
enum scep_fail_info {
  SCEP_FAIL_NONE = -1,
  SCEP_FAIL_BADALG = 0,
  SCEP_FAIL_BADMESSAGECHECK = 1,
  SCEP_FAIL_BADREQUEST = 2,
  SCEP_FAIL_BADTIME = 3,
  SCEP_FAIL_BADCERTID = 4
};

/* "badRequest", "unspecified" for SCEP_FAIL_NONE, "unknown" otherwise. */
const char *scep_fail_info_name(int fail_info);
/* "SUCCESS", "FAILURE", "PENDING", "unknown". */
const char *scep_status_name(int status);
/* "PKCSReq", "RenewalReq", "CertPoll", "CertRep", ..., "unknown". */
const char *scep_msg_type_name(int type);

/* ---- GetCACaps (RFC 8894 3.5.2) ------------------------------------- */

#define SCEP_CAP_AES 0x001u
#define SCEP_CAP_DES3 0x002u
#define SCEP_CAP_GETNEXTCACERT 0x004u
#define SCEP_CAP_POSTPKIOPERATION 0x008u
#define SCEP_CAP_RENEWAL 0x010u
#define SCEP_CAP_SHA1 0x020u
#define SCEP_CAP_SHA256 0x040u
#define SCEP_CAP_SHA512 0x080u
#define SCEP_CAP_SCEPSTANDARD 0x100u

/* One keyword a line (LF or CRLF), case-insensitive; unknown keywords are
 * ignored. SCEPStandard implies AES, POSTPKIOperation and SHA-256. */
unsigned scep_caps_parse(const char *text, size_t len);
/* The content-encryption cipher for requests: AES-128-CBC when the CA
 * says AES, else triple DES (single DES is never chosen). */
const EVP_CIPHER *scep_caps_cipher(unsigned caps);
/* The request digest: SHA-256 when the CA says SHA-256 or SHA-512, else
 * SHA-1 (the RFC's fallback for CAs that advertise nothing). */
const EVP_MD *scep_caps_md(unsigned caps);

/* ---- GetCACert (RFC 8894 4.2) ---------------------------------------- */

/* content_type SCEP_CT_CA_CERT: one DER (or PEM) certificate;
 * SCEP_CT_CA_RA_CERT: a degenerate certs-only PKCS#7 (DER). Parameters
 * after ';' in content_type are ignored; NULL means "guess from bytes".
 * *certs is a new stack; free with scep_certs_free(). */
int scep_cacert_parse(const unsigned char *body, size_t len, const char *content_type,
                      STACK_OF(X509) **certs, char *err, size_t errlen);
void scep_certs_free(STACK_OF(X509) *certs);
/* The CA in a GetCACert set: the cert with basicConstraints CA:TRUE that
 * issued the others (a self-signed one when there is a chain). Borrowed. */
X509 *scep_pick_ca(STACK_OF(X509) *certs);
/* The cert to encrypt requests to: an RA certificate allowing
 * keyEncipherment when there is one, else the CA. Borrowed. */
X509 *scep_pick_recipient(STACK_OF(X509) *certs);
/* fp: "sha256:<hex>" or "sha1:<hex>", case-insensitive, ':' between the
 * hex bytes allowed. 0 when it matches, RD_EVERIFY when it does not,
 * RD_EINVAL for a malformed fp. */
int scep_fingerprint_check(X509 *cert, const char *fp, char *err, size_t errlen);

/* ---- PKCS#10 from the target ----------------------------------------- */

typedef struct scep_csr {
  unsigned char *der;  /* the CSR as DER: the PKCSReq/RenewalReq messageData */
  size_t der_len;
  X509_NAME *name;     /* subject */
  char *subject;       /* subject as RFC 2253 text */
  EVP_PKEY *pubkey;    /* the new public key */
  int has_challenge;   /* a challengePassword attribute is present */
  /* The default transactionID: hex SHA-256 of the DER SubjectPublicKeyInfo. */
  char txid[2 * 32 + 1];
} scep_csr;

/* PEM or DER. The CSR's self-signature is verified (RD_EVERIFY). */
int scep_csr_parse(const unsigned char *data, size_t len, scep_csr *out, char *err,
                   size_t errlen);
void scep_csr_clear(scep_csr *csr);

/* CertPoll messageData (RFC 8894 3.3.3):
 *   IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }
 * issuer is the CA's subject name, subject the requested subject. */
int scep_issuer_and_subject(const X509_NAME *issuer, const X509_NAME *subject,
                            unsigned char **der, size_t *len);

/* ---- Requests: PKCSReq, RenewalReq, CertPoll ------------------------- */

typedef struct scep_req_params {
  int type;                   /* SCEP_MSG_PKCSREQ, _RENEWALREQ or _CERTPOLL */
  /* The certificate whose key signs: the old certificate for RenewalReq,
   * a self-signed certificate of the new key for PKCSReq; for CertPoll
   * the same one as the request being polled. Included in the message. */
  X509 *signer;
  const unsigned char *inner; /* CSR DER, or IssuerAndSubject DER */
  size_t inner_len;
  X509 *recipient;            /* scep_pick_recipient(); must be RSA */
  const EVP_CIPHER *cipher;   /* NULL: scep_caps_cipher(caps) */
  const EVP_MD *md;           /* NULL: scep_caps_md(caps) */
  unsigned caps;              /* scep_caps_parse() of GetCACaps */
  /* NULL: hex SHA-256 of the CSR's SubjectPublicKeyInfo. Required for
   * CertPoll: the transactionID of the request being polled. Printable
   * characters only. */
  const char *txid;
  /* NULL: SCEP_NONCE_LEN fresh random bytes (tests pass a fixed one). */
  const unsigned char *nonce;
} scep_req_params;

typedef struct scep_req scep_req;

int scep_req_build(scep_req **out, const scep_req_params *p, char *err, size_t errlen);
void scep_req_free(scep_req *req);
const char *scep_req_txid(const scep_req *req);
const unsigned char *scep_req_nonce(const scep_req *req); /* SCEP_NONCE_LEN bytes */
/* The digest name for the target's `-pkeyopt digest:<name>` ("sha256"). */
const char *scep_req_md_name(const scep_req *req);
/* The digest of the DER-encoded signed attributes: what the target signs.
 * out must hold EVP_MAX_MD_SIZE bytes; *outlen gets the digest length. */
int scep_req_tbs_digest(const scep_req *req, unsigned char *out, size_t *outlen);
/* The target's signature over that digest (PKCS#1 v1.5 with DigestInfo for
 * RSA, DER ECDSA-Sig-Value for EC). It is verified against the signer's
 * public key first: RD_EVERIFY when the target used another key. */
int scep_req_set_signature(scep_req *req, const unsigned char *sig, size_t len,
                           char *err, size_t errlen);
/* The complete PKIMessage to POST; RD_ESTATE before a signature is set.
 * *der is freed with OPENSSL_free(). */
int scep_req_der(const scep_req *req, unsigned char **der, size_t *len);

/* For CAs without POSTPKIOperation: "operation=PKIOperation&message=<the
 * base64 of der, URL-escaped>", to append after '?'. Freed with free(). */
int scep_get_query(const unsigned char *der, size_t len, char **query);

/* ---- Replies: CertRep ------------------------------------------------ */

typedef struct scep_rep {
  int status;                /* SCEP_STATUS_* */
  int fail_info;             /* SCEP_FAIL_*; SCEP_FAIL_NONE unless FAILURE */
  char *fail_text;           /* failInfoText (RFC 8894 3.2.1.4), or NULL */
  /* SUCCESS: the pkcsPKIEnvelope (EnvelopedData, DER) encrypted to the
   * request's signer certificate, for the target to decrypt. */
  unsigned char *envelope;
  size_t envelope_len;
  /* Its content-encryption cipher as OpenSSL names it, e.g. "DES-CBC":
   * single DES needs `-provider legacy` on the target. */
  char cipher[32];
} scep_rep;

/* Verifies the CertRep's signature with one of ca_certs (the GetCACert set:
 * the CA or its RA; certificates inside the reply are not trusted), then
 * checks messageType CertRep, transactionID == txid and recipientNonce ==
 * nonce. Returns 0 for an authentic CertRep whatever its pkiStatus; the
 * caller reads rep->status. RD_EVERIFY: bad signature, unknown signer,
 * mismatched txid or nonce; RD_EPROTO: malformed. */
int scep_rep_parse(const unsigned char *der, size_t len, STACK_OF(X509) *ca_certs,
                   const char *txid, const unsigned char *nonce, scep_rep *rep,
                   char *err, size_t errlen);
void scep_rep_clear(scep_rep *rep);
/* The decrypted pkcsPKIEnvelope: a degenerate certs-only PKCS#7 (DER, or
 * PEM "PKCS7"). *certs is a new stack; free with scep_certs_free(). */
int scep_rep_certs_from_decrypted(const unsigned char *data, size_t len,
                                  STACK_OF(X509) **certs, char *err, size_t errlen);
/* The certificate whose public key is pub, or NULL. Borrowed. */
X509 *scep_pick_issued(STACK_OF(X509) *certs, const EVP_PKEY *pub);

#endif /* RENEWD_SCEP_MSG_H */
