/*
 * scep_msg.c — SCEP (RFC 8894) message codec. See scep_msg.h.
 *
 * The PKIMessage of RFC 8894 3 is a CMS SignedData (PKCS#7 v1.5 is the
 * subset everybody implements) whose encapsulated content is id-data
 * holding a DER EnvelopedData, the "pkcsPKIEnvelope" (3.2.2). The
 * SignerInfo carries the SCEP transaction attributes as *signed*
 * attributes (3.2.1). OpenSSL's PKCS7 API is used rather than CMS: its
 * structures are public, which lets the signed attributes be encoded,
 * digested and handed out before the signature exists (the key is on the
 * target) — the recipe of FIELD-NOTES.md, measured against scepserver.
 */
#include "scep_msg.h"

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

/* ---- small helpers -------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One sentence into err; OpenSSL's own reason, if any, is appended. */
static void seterr(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  unsigned long e = ERR_peek_last_error();
  int n;
  if (!err || !errlen) {
    ERR_clear_error();
    return;
  }
  va_start(ap, fmt);
  n = vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  if (e && n >= 0 && (size_t)n < errlen) {
    const char *r = ERR_reason_error_string(e);
    if (r)
      snprintf(err + n, errlen - (size_t)n, " (%s)", r);
  }
  ERR_clear_error();
}

static void hexify(const unsigned char *b, size_t n, char *out) {
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hx[b[i] >> 4];
    out[2 * i + 1] = hx[b[i] & 15];
  }
  out[2 * n] = 0;
}

/* RFC 2253 text of a name; caller frees with free(). */
static char *name_text(const X509_NAME *name) {
  BIO *b = BIO_new(BIO_s_mem());
  char *out = NULL, *p;
  long n;
  if (!b)
    return NULL;
  if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
      (n = BIO_get_mem_data(b, &p)) >= 0 && (out = malloc((size_t)n + 1))) {
    memcpy(out, p, (size_t)n);
    out[n] = 0;
  }
  BIO_free(b);
  return out;
}

/* Short description of a cert for messages: its subject, or "?". */
static void cert_label(X509 *c, char *buf, size_t len) {
  char *s = c ? name_text(X509_get_subject_name(c)) : NULL;
  snprintf(buf, len, "%s", s && *s ? s : "?");
  free(s);
}

/* The SCEP attribute OIDs (RFC 8894 3.2.1): id-VeriSign pki(1)
 * attributes(9) = 2.16.840.1.113733.1.9, then: messageType(2),
 * pkiStatus(3), failInfo(4), senderNonce(5), recipientNonce(6),
 * transactionID(7). failInfoText is id-pkix 24.1 (RFC 8894 3.2.1.4).
 * OBJ_txt2obj with no_name=1 makes a private ASN1_OBJECT: the codec
 * never registers NIDs in OpenSSL's global table. */
#define OID_MESSAGE_TYPE "2.16.840.1.113733.1.9.2"
#define OID_PKI_STATUS "2.16.840.1.113733.1.9.3"
#define OID_FAIL_INFO "2.16.840.1.113733.1.9.4"
#define OID_SENDER_NONCE "2.16.840.1.113733.1.9.5"
#define OID_RECIPIENT_NONCE "2.16.840.1.113733.1.9.6"
#define OID_TRANSACTION_ID "2.16.840.1.113733.1.9.7"
#define OID_FAIL_INFO_TEXT "1.3.6.1.5.5.7.24.1"

/* Add a signed attribute of the given ASN.1 string type. The length is
 * always explicit: X509at_add1_attr_by_OBJ takes len -1 to mean "data is
 * an ASN1_STRING *", not "data is a C string". */
static int add_attr(STACK_OF(X509_ATTRIBUTE) **sk, const char *oid, int type,
                    const unsigned char *data, int len) {
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  if (len < 0)
    len = (int)strlen((const char *)data);
  int ok = obj && X509at_add1_attr_by_OBJ(sk, obj, type, data, len) != NULL;
  ASN1_OBJECT_free(obj);
  return ok;
}

/* The single value of attribute oid, or NULL when absent. */
static ASN1_TYPE *get_attr(STACK_OF(X509_ATTRIBUTE) *sk, const char *oid) {
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  int i = obj ? X509at_get_attr_by_OBJ(sk, obj, -1) : -1;
  ASN1_OBJECT_free(obj);
  if (i < 0)
    return NULL;
  return X509_ATTRIBUTE_get0_type(X509at_get_attr(sk, i), 0);
}

/* A string attribute as C text. SCEP says PrintableString (3.2.1); other
 * string types are accepted on input because some CAs send them. */
static int attr_text(STACK_OF(X509_ATTRIBUTE) *sk, const char *oid, char *out,
                     size_t outlen) {
  ASN1_TYPE *t = get_attr(sk, oid);
  const ASN1_STRING *s;
  int n;
  if (!t)
    return RD_ENOTFOUND;
  switch (t->type) {
  case V_ASN1_PRINTABLESTRING:
  case V_ASN1_UTF8STRING:
  case V_ASN1_IA5STRING:
  case V_ASN1_T61STRING:
  case V_ASN1_VISIBLESTRING:
    s = t->value.asn1_string;
    break;
  default:
    return RD_EPROTO;
  }
  n = ASN1_STRING_length(s);
  if (n < 0 || (size_t)n >= outlen || memchr(ASN1_STRING_get0_data(s), 0, (size_t)n))
    return RD_EPROTO;
  memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
  out[n] = 0;
  return 0;
}

/* A small decimal PrintableString ("0".."99") as an int. */
static int parse_small(const char *s, int *v) {
  if (!isdigit((unsigned char)s[0]) || (s[1] && (!isdigit((unsigned char)s[1]) || s[2])))
    return RD_EPROTO;
  *v = atoi(s);
  return 0;
}

const char *scep_fail_info_name(int f) {
  switch (f) {
  case SCEP_FAIL_NONE:
    return "unspecified";
  case SCEP_FAIL_BADALG:
    return "badAlg";
  case SCEP_FAIL_BADMESSAGECHECK:
    return "badMessageCheck";
  case SCEP_FAIL_BADREQUEST:
    return "badRequest";
  case SCEP_FAIL_BADTIME:
    return "badTime";
  case SCEP_FAIL_BADCERTID:
    return "badCertId";
  default:
    return "unknown";
  }
}

const char *scep_status_name(int s) {
  switch (s) {
  case SCEP_STATUS_SUCCESS:
    return "SUCCESS";
  case SCEP_STATUS_FAILURE:
    return "FAILURE";
  case SCEP_STATUS_PENDING:
    return "PENDING";
  default:
    return "unknown";
  }
}

const char *scep_msg_type_name(int t) {
  switch (t) {
  case SCEP_MSG_CERTREP:
    return "CertRep";
  case SCEP_MSG_RENEWALREQ:
    return "RenewalReq";
  case SCEP_MSG_PKCSREQ:
    return "PKCSReq";
  case SCEP_MSG_CERTPOLL:
    return "CertPoll";
  case SCEP_MSG_GETCERT:
    return "GetCert";
  case SCEP_MSG_GETCRL:
    return "GetCRL";
  default:
    return "unknown";
  }
}

/* ---- GetCACaps ------------------------------------------------------ */

unsigned scep_caps_parse(const char *text, size_t len) {
  /* RFC 8894 3.5.2: the reply is a list of keywords, one per line, to be
   * compared case-insensitively; unknown keywords MUST be ignored. */
  static const struct {
    const char *kw;
    unsigned flag;
  } kws[] = {{"AES", SCEP_CAP_AES},
             {"DES3", SCEP_CAP_DES3},
             {"GetNextCACert", SCEP_CAP_GETNEXTCACERT},
             {"POSTPKIOperation", SCEP_CAP_POSTPKIOPERATION},
             {"Renewal", SCEP_CAP_RENEWAL},
             {"SHA-1", SCEP_CAP_SHA1},
             {"SHA-256", SCEP_CAP_SHA256},
             {"SHA-512", SCEP_CAP_SHA512},
             {"SCEPStandard", SCEP_CAP_SCEPSTANDARD}};
  unsigned caps = 0;
  size_t i = 0;
  if (!text)
    return 0;
  while (i < len) {
    size_t s = i, e;
    while (i < len && text[i] != '\n')
      i++;
    e = i++;
    while (s < e && isspace((unsigned char)text[s]))
      s++;
    while (e > s && isspace((unsigned char)text[e - 1]))
      e--;
    for (size_t k = 0; k < sizeof kws / sizeof kws[0]; k++)
      if (strlen(kws[k].kw) == e - s && !strncasecmp(kws[k].kw, text + s, e - s))
        caps |= kws[k].flag;
  }
  /* "SCEPStandard": the CA implements the RFC 8894 baseline, which
   * includes AES, POSTPKIOperation and SHA-256 (3.5.2). */
  if (caps & SCEP_CAP_SCEPSTANDARD)
    caps |= SCEP_CAP_AES | SCEP_CAP_POSTPKIOPERATION | SCEP_CAP_SHA256;
  return caps;
}

const EVP_CIPHER *scep_caps_cipher(unsigned caps) {
  /* RFC 8894 3.5.2 / 2.9: AES when offered (AES-128-CBC is the one every
   * server decrypts); otherwise triple DES. Single DES, the original
   * default, is never offered by this client. */
  return (caps & SCEP_CAP_AES) ? EVP_aes_128_cbc() : EVP_des_ede3_cbc();
}

const EVP_MD *scep_caps_md(unsigned caps) {
  return (caps & (SCEP_CAP_SHA256 | SCEP_CAP_SHA512)) ? EVP_sha256() : EVP_sha1();
}

/* ---- GetCACert ------------------------------------------------------ */

void scep_certs_free(STACK_OF(X509) *certs) {
  sk_X509_pop_free(certs, X509_free);
}

/* The certificates of a degenerate certs-only SignedData (RFC 8894 3.4),
 * up-referenced into a new stack. */
static int certs_of_p7(PKCS7 *p7, STACK_OF(X509) **out) {
  STACK_OF(X509) *src, *dst;
  if (!PKCS7_type_is_signed(p7) || !p7->d.sign || !(src = p7->d.sign->cert) ||
      sk_X509_num(src) < 1)
    return RD_EPROTO;
  if (!(dst = sk_X509_new_null()))
    return RD_ENOMEM;
  for (int i = 0; i < sk_X509_num(src); i++) {
    X509 *c = sk_X509_value(src, i);
    if (!sk_X509_push(dst, c)) {
      scep_certs_free(dst);
      return RD_ENOMEM;
    }
    X509_up_ref(c);
  }
  *out = dst;
  return 0;
}

static PKCS7 *p7_from_bytes(const unsigned char *data, size_t len) {
  const unsigned char *p = data;
  PKCS7 *p7;
  if (len > 10 && !memcmp(data, "-----BEGIN", 10)) {
    BIO *b = BIO_new_mem_buf(data, (int)len);
    p7 = b ? PEM_read_bio_PKCS7(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return p7;
  }
  return d2i_PKCS7(NULL, &p, (long)len);
}

static X509 *x509_from_bytes(const unsigned char *data, size_t len) {
  const unsigned char *p = data;
  if (len > 10 && !memcmp(data, "-----BEGIN", 10)) {
    BIO *b = BIO_new_mem_buf(data, (int)len);
    X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return c;
  }
  return d2i_X509(NULL, &p, (long)len);
}

static int ct_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  return ct && !strncasecmp(ct, want, n) &&
         (ct[n] == 0 || ct[n] == ';' || isspace((unsigned char)ct[n]));
}

int scep_cacert_parse(const unsigned char *body, size_t len, const char *content_type,
                      STACK_OF(X509) **certs, char *err, size_t errlen) {
  int rc;
  *certs = NULL;
  if (!body || !len || len > 0x7fffffff) {
    seterr(err, errlen, "GetCACert: the reply is empty");
    return RD_EPROTO;
  }
  /* RFC 8894 4.2.1.1: a CA without RA answers application/x-x509-ca-cert
   * with the DER of its certificate. Without a content type, whichever
   * of the two forms parses wins. */
  if (ct_is(content_type, SCEP_CT_CA_CERT) || !content_type) {
    X509 *c = x509_from_bytes(body, len);
    if (!c && !content_type) {
      ERR_clear_error();
      goto ra_cert;
    }
    if (!c) {
      seterr(err, errlen, "GetCACert: the %s reply is not a certificate", SCEP_CT_CA_CERT);
      return RD_EPROTO;
    }
    if (!(*certs = sk_X509_new_null()) || !sk_X509_push(*certs, c)) {
      X509_free(c);
      scep_certs_free(*certs);
      *certs = NULL;
      return RD_ENOMEM;
    }
    return 0;
  }
  /* RFC 8894 4.2.1.2: with an RA (or a chain), application/x-x509-ca-ra-cert
   * carries a degenerate certs-only SignedData holding the RA
   * certificate(s) and the CA certificate (and intermediates). */
ra_cert:
  if (ct_is(content_type, SCEP_CT_CA_RA_CERT) || !content_type) {
    PKCS7 *p7 = p7_from_bytes(body, len);
    if (!p7) {
      seterr(err, errlen, "GetCACert: the %s reply is not a PKCS#7 certs-only message",
             SCEP_CT_CA_RA_CERT);
      return RD_EPROTO;
    }
    rc = certs_of_p7(p7, certs);
    PKCS7_free(p7);
    if (rc)
      seterr(err, errlen, "GetCACert: the %s reply holds no certificates", SCEP_CT_CA_RA_CERT);
    return rc;
  }
  seterr(err, errlen, "GetCACert: unexpected content type '%s' (want %s or %s)",
         content_type, SCEP_CT_CA_CERT, SCEP_CT_CA_RA_CERT);
  return RD_EPROTO;
}

static int issued_by(X509 *c, X509 *ca) {
  return X509_check_issued(ca, c) == X509_V_OK;
}

X509 *scep_pick_ca(STACK_OF(X509) *certs) {
  int n = sk_X509_num(certs);
  X509 *best = NULL;
  if (n == 1)
    return sk_X509_value(certs, 0);
  /* The issuing CA is the CA certificate that issued the RA certificate
   * (an end-entity); failing that, the CA certificate that issued no other
   * CA in the set (the bottom of the chain); failing that, the first. */
  for (int i = 0; i < n; i++) {
    X509 *ca = sk_X509_value(certs, i);
    if (X509_check_ca(ca) < 1)
      continue;
    for (int j = 0; j < n; j++) {
      X509 *ee = sk_X509_value(certs, j);
      if (j != i && X509_check_ca(ee) < 1 && issued_by(ee, ca))
        return ca;
    }
  }
  for (int i = 0; i < n && !best; i++) {
    X509 *ca = sk_X509_value(certs, i);
    int issues_ca = 0;
    if (X509_check_ca(ca) < 1)
      continue;
    for (int j = 0; j < n; j++)
      if (j != i && X509_check_ca(sk_X509_value(certs, j)) >= 1 &&
          issued_by(sk_X509_value(certs, j), ca))
        issues_ca = 1;
    if (!issues_ca)
      best = ca;
  }
  return best ? best : sk_X509_value(certs, 0);
}

X509 *scep_pick_recipient(STACK_OF(X509) *certs) {
  /* RFC 8894 2.2 / 4.2.1.2: when an RA is present, its certificate is the
   * one to encrypt to. An RA may hold separate signing (digitalSignature)
   * and encryption (keyEncipherment) certificates, as NDES does: pick the
   * one that allows keyEncipherment (or has no keyUsage at all). */
  int n = sk_X509_num(certs);
  if (n < 1)
    return NULL;
  for (int i = 0; i < n; i++) {
    X509 *c = sk_X509_value(certs, i);
    uint32_t ku = X509_get_key_usage(c);
    if (X509_check_ca(c) < 1 && (ku == UINT32_MAX || (ku & KU_KEY_ENCIPHERMENT)))
      return c;
  }
  return scep_pick_ca(certs);
}

int scep_fingerprint_check(X509 *cert, const char *fp, char *err, size_t errlen) {
  const EVP_MD *md;
  const char *hex;
  unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
  unsigned int gotlen = 0;
  size_t n = 0;
  char label[256], gothex[2 * EVP_MAX_MD_SIZE + 1];
  if (!fp || !cert) {
    seterr(err, errlen, "CA fingerprint: none given");
    return RD_EINVAL;
  }
  if (!strncasecmp(fp, "sha256:", 7)) {
    md = EVP_sha256();
    hex = fp + 7;
  } else if (!strncasecmp(fp, "sha1:", 5)) {
    md = EVP_sha1();
    hex = fp + 5;
  } else {
    seterr(err, errlen, "CA fingerprint '%s': expected sha256:<hex> or sha1:<hex>", fp);
    return RD_EINVAL;
  }
  while (*hex) {
    int hi, lo;
    if (*hex == ':' || *hex == ' ') {
      hex++;
      continue;
    }
    hi = OPENSSL_hexchar2int((unsigned char)hex[0]);
    lo = hex[1] ? OPENSSL_hexchar2int((unsigned char)hex[1]) : -1;
    if (hi < 0 || lo < 0 || n >= sizeof want) {
      seterr(err, errlen, "CA fingerprint '%s': not a hex digest", fp);
      return RD_EINVAL;
    }
    want[n++] = (unsigned char)(hi << 4 | lo);
    hex += 2;
  }
  if (n != (size_t)EVP_MD_get_size(md)) {
    seterr(err, errlen, "CA fingerprint '%s': %zu bytes, a %s digest has %d", fp, n,
           EVP_MD_get0_name(md), EVP_MD_get_size(md));
    return RD_EINVAL;
  }
  if (!X509_digest(cert, md, got, &gotlen))
    return RD_ECRYPTO;
  if (gotlen == n && !CRYPTO_memcmp(got, want, n))
    return 0;
  cert_label(cert, label, sizeof label);
  hexify(got, gotlen, gothex);
  seterr(err, errlen, "CA certificate %s: fingerprint %s:%s does not match the pinned %s",
         label, md == EVP_sha1() ? "sha1" : "sha256", gothex, fp);
  return RD_EVERIFY;
}

/* ---- CSR ------------------------------------------------------------ */

void scep_csr_clear(scep_csr *c) {
  if (!c)
    return;
  OPENSSL_free(c->der);
  X509_NAME_free(c->name);
  free(c->subject);
  EVP_PKEY_free(c->pubkey);
  memset(c, 0, sizeof *c);
}

/* hex SHA-256 of the DER SubjectPublicKeyInfo of req. */
static int spki_txid(X509_REQ *req, char out[65]) {
  unsigned char *der = NULL, md[32];
  unsigned int mdlen = 0;
  int n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &der);
  int ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) && mdlen == 32;
  OPENSSL_free(der);
  if (!ok)
    return RD_ECRYPTO;
  hexify(md, 32, out);
  return 0;
}

static X509_REQ *req_from_bytes(const unsigned char *data, size_t len) {
  const unsigned char *p = data;
  if (len > 10 && !memcmp(data, "-----BEGIN", 10)) {
    BIO *b = BIO_new_mem_buf(data, (int)len);
    X509_REQ *r = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return r;
  }
  return d2i_X509_REQ(NULL, &p, (long)len);
}

int scep_csr_parse(const unsigned char *data, size_t len, scep_csr *out, char *err,
                   size_t errlen) {
  X509_REQ *req = NULL;
  EVP_PKEY *pk;
  int rc = RD_ENOMEM, n;
  memset(out, 0, sizeof *out);
  if (!data || !len || len > 0x7fffffff || !(req = req_from_bytes(data, len))) {
    seterr(err, errlen, "CSR: not a PKCS#10 request (PEM or DER)");
    return RD_EPROTO;
  }
  if (!(pk = X509_REQ_get0_pubkey(req))) {
    seterr(err, errlen, "CSR: unsupported public key");
    rc = RD_EPROTO;
    goto out;
  }
  /* The self-signature is the proof of possession the CA checks. */
  if (X509_REQ_verify(req, pk) != 1) {
    seterr(err, errlen, "CSR: its self-signature does not verify");
    rc = RD_EVERIFY;
    goto out;
  }
  if ((n = i2d_X509_REQ(req, &out->der)) <= 0)
    goto out;
  out->der_len = (size_t)n;
  if (!(out->name = X509_NAME_dup(X509_REQ_get_subject_name(req))) ||
      !(out->subject = name_text(out->name)))
    goto out;
  EVP_PKEY_up_ref(pk);
  out->pubkey = pk;
  out->has_challenge = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1) >= 0;
  rc = spki_txid(req, out->txid);
out:
  X509_REQ_free(req);
  if (rc)
    scep_csr_clear(out);
  return rc;
}

int scep_issuer_and_subject(const X509_NAME *issuer, const X509_NAME *subject,
                            unsigned char **der, size_t *len) {
  /* RFC 8894 3.3.3: IssuerAndSubject ::= SEQUENCE { issuer Name,
   * subject Name }. Encoded by hand: two DER Names in a SEQUENCE. */
  unsigned char *a = NULL, *b = NULL, *buf, *p;
  int la = i2d_X509_NAME(issuer, &a), lb = i2d_X509_NAME(subject, &b), total;
  int rc = RD_ENOMEM;
  *der = NULL;
  *len = 0;
  if (la <= 0 || lb <= 0) {
    rc = RD_EINVAL;
    goto out;
  }
  total = ASN1_object_size(1, la + lb, V_ASN1_SEQUENCE);
  if (total <= 0 || !(buf = OPENSSL_malloc((size_t)total)))
    goto out;
  p = buf;
  ASN1_put_object(&p, 1, la + lb, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
  memcpy(p, a, (size_t)la);
  memcpy(p + la, b, (size_t)lb);
  *der = buf;
  *len = (size_t)total;
  rc = 0;
out:
  OPENSSL_free(a);
  OPENSSL_free(b);
  return rc;
}

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
    cert_label(recipient, label, sizeof label);
    seterr(err, errlen, "SCEP recipient %s: not an RSA key; SCEP key transport needs RSA",
           label);
    rc = RD_ENOTSUP;
    goto out;
  }
  /* PKCS7_BINARY: the CSR is bytes, no MIME canonicalisation. */
  if (!(env = PKCS7_encrypt(rcpts, in, cipher, PKCS7_BINARY))) {
    seterr(err, errlen, "pkcsPKIEnvelope: encryption with %s failed",
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
    seterr(err, errlen, "SCEP request: missing signer, recipient or message data, or a "
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
    seterr(err, errlen, "%s: digest %s is not one of SHA-1, SHA-256, SHA-384, SHA-512", tname,
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
      seterr(err, errlen, "%s: transactionID '%.*s' is not a PrintableString of at most %d "
                          "characters", tname, 40, p->txid, SCEP_TXID_MAX);
      rc = RD_EINVAL;
      goto fail;
    }
    snprintf(r->txid, sizeof r->txid, "%s", p->txid);
  } else if (p->type == SCEP_MSG_CERTPOLL) {
    seterr(err, errlen, "CertPoll: the transactionID of the polled request is required");
    rc = RD_EINVAL;
    goto fail;
  } else {
    const unsigned char *q = p->inner;
    X509_REQ *req = d2i_X509_REQ(NULL, &q, (long)p->inner_len);
    if (!req) {
      seterr(err, errlen, "%s: the message data is not a DER PKCS#10 request", tname);
      rc = RD_EPROTO;
      goto fail;
    }
    rc = spki_txid(req, r->txid);
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
    seterr(err, errlen, "%s: cannot make a SignerInfo for this signer's key type", tname);
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
  if (!add_attr(&r->si->auth_attr, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING,
                (const unsigned char *)mt, -1) ||
      !add_attr(&r->si->auth_attr, OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING,
                (const unsigned char *)r->txid, -1) ||
      !add_attr(&r->si->auth_attr, OID_SENDER_NONCE, V_ASN1_OCTET_STRING, r->nonce,
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
    seterr(err, errlen, "%s: building the SignedData failed", tname);
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
    cert_label(r->signer, label, sizeof label);
    seterr(err, errlen, "%s signature: does not verify with the key of %s (was it made with "
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
    seterr(err, errlen, "CertRep: not a PKCS#7 SignedData");
    goto out;
  }
  /* Exactly one SignerInfo: the CA's or its RA's (RFC 8894 3.3.2). */
  if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) != 1) {
    seterr(err, errlen, "CertRep: %d signers, expected one",
           sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)));
    goto out;
  }
  if (p7->d.sign->contents && PKCS7_type_is_data(p7->d.sign->contents))
    content = p7->d.sign->contents->d.data;
  else if (p7->d.sign->contents && p7->d.sign->contents->d.ptr) {
    seterr(err, errlen, "CertRep: encapsulated content is not id-data");
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
    seterr(err, errlen, "CertRep: the signature does not verify with the CA certificates");
    rc = RD_EVERIFY;
    goto out;
  }
  si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
  attrs = PKCS7_get_signed_attributes(si);

  /* messageType MUST be CertRep (3). */
  if (attr_text(attrs, OID_MESSAGE_TYPE, buf, sizeof buf) || parse_small(buf, &v) ||
      v != SCEP_MSG_CERTREP) {
    seterr(err, errlen, "CertRep: messageType is not CertRep (3)");
    goto out;
  }
  /* transactionID MUST be the request's (RFC 8894 3.2.1.1). */
  if (attr_text(attrs, OID_TRANSACTION_ID, buf, sizeof buf)) {
    seterr(err, errlen, "CertRep: no transactionID");
    goto out;
  }
  if (strcmp(buf, txid)) {
    seterr(err, errlen, "CertRep: transactionID '%s' is not the request's '%s'", buf, txid);
    rc = RD_EVERIFY;
    goto out;
  }
  /* recipientNonce MUST be a copy of the request's senderNonce
   * (RFC 8894 3.2.1.5): this binds the reply to our message and defeats
   * replays of an earlier reply for the same transaction. */
  if (!(t = get_attr(attrs, OID_RECIPIENT_NONCE)) || t->type != V_ASN1_OCTET_STRING) {
    seterr(err, errlen, "CertRep: no recipientNonce");
    goto out;
  }
  if (ASN1_STRING_length(t->value.octet_string) != SCEP_NONCE_LEN ||
      CRYPTO_memcmp(ASN1_STRING_get0_data(t->value.octet_string), nonce, SCEP_NONCE_LEN)) {
    seterr(err, errlen, "CertRep: recipientNonce is not the request's senderNonce");
    rc = RD_EVERIFY;
    goto out;
  }
  /* pkiStatus (RFC 8894 3.2.1.3): 0 SUCCESS, 2 FAILURE, 3 PENDING. */
  if (attr_text(attrs, OID_PKI_STATUS, buf, sizeof buf) || parse_small(buf, &v) ||
      (v != SCEP_STATUS_SUCCESS && v != SCEP_STATUS_FAILURE && v != SCEP_STATUS_PENDING)) {
    seterr(err, errlen, "CertRep: missing or unknown pkiStatus");
    goto out;
  }
  rep->status = v;
  if (v == SCEP_STATUS_FAILURE) {
    /* failInfo MUST accompany FAILURE (3.2.1.4); tolerate its absence
     * (the status already says "denied") but not a malformed one. */
    int r2 = attr_text(attrs, OID_FAIL_INFO, buf, sizeof buf);
    if (r2 == 0) {
      if (parse_small(buf, &v) || v > SCEP_FAIL_BADCERTID) {
        seterr(err, errlen, "CertRep: unknown failInfo '%s'", buf);
        goto out;
      }
      rep->fail_info = v;
    } else if (r2 != RD_ENOTFOUND) {
      seterr(err, errlen, "CertRep: malformed failInfo");
      goto out;
    }
    if ((t = get_attr(attrs, OID_FAIL_INFO_TEXT)) && t->type == V_ASN1_UTF8STRING) {
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
      seterr(err, errlen, "CertRep: SUCCESS without a pkcsPKIEnvelope");
      goto out;
    }
    q = ASN1_STRING_get0_data(content);
    if (!(env = d2i_PKCS7(NULL, &q, n)) || !PKCS7_type_is_enveloped(env)) {
      PKCS7_free(env);
      seterr(err, errlen, "CertRep: the pkcsPKIEnvelope is not an EnvelopedData");
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
  if (!data || !len || len > 0x7fffffff || !(p7 = p7_from_bytes(data, len))) {
    seterr(err, errlen, "decrypted CertRep: not a PKCS#7 certs-only message");
    return RD_EPROTO;
  }
  rc = certs_of_p7(p7, certs);
  PKCS7_free(p7);
  if (rc)
    seterr(err, errlen, "decrypted CertRep: holds no certificates");
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
