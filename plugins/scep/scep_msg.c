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
#include "scep_msg_int.h"

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

/* One sentence into err; OpenSSL's own reason, if any, is appended. */
void scep_seterr(char *err, size_t errlen, const char *fmt, ...) {
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
void scep_cert_label(X509 *c, char *buf, size_t len) {
  char *s = c ? name_text(X509_get_subject_name(c)) : NULL;
  snprintf(buf, len, "%s", s && *s ? s : "?");
  free(s);
}


/* Add a signed attribute of the given ASN.1 string type. The length is
 * always explicit: X509at_add1_attr_by_OBJ takes len -1 to mean "data is
 * an ASN1_STRING *", not "data is a C string". */
int scep_add_attr(STACK_OF(X509_ATTRIBUTE) **sk, const char *oid, int type,
                    const unsigned char *data, int len) {
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  if (len < 0)
    len = (int)strlen((const char *)data);
  int ok = obj && X509at_add1_attr_by_OBJ(sk, obj, type, data, len) != NULL;
  ASN1_OBJECT_free(obj);
  return ok;
}

/* The single value of attribute oid, or NULL when absent. */
ASN1_TYPE *scep_get_attr(STACK_OF(X509_ATTRIBUTE) *sk, const char *oid) {
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  int i = obj ? X509at_get_attr_by_OBJ(sk, obj, -1) : -1;
  ASN1_OBJECT_free(obj);
  if (i < 0)
    return NULL;
  return X509_ATTRIBUTE_get0_type(X509at_get_attr(sk, i), 0);
}

/* A string attribute as C text. SCEP says PrintableString (3.2.1); other
 * string types are accepted on input because some CAs send them. */
int scep_attr_text(STACK_OF(X509_ATTRIBUTE) *sk, const char *oid, char *out,
                     size_t outlen) {
  ASN1_TYPE *t = scep_get_attr(sk, oid);
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
int scep_parse_small(const char *s, int *v) {
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
int scep_certs_of_p7(PKCS7 *p7, STACK_OF(X509) **out) {
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

PKCS7 *scep_p7_from_bytes(const unsigned char *data, size_t len) {
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
    scep_seterr(err, errlen, "GetCACert: the reply is empty");
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
      scep_seterr(err, errlen, "GetCACert: the %s reply is not a certificate", SCEP_CT_CA_CERT);
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
    PKCS7 *p7 = scep_p7_from_bytes(body, len);
    if (!p7) {
      scep_seterr(err, errlen, "GetCACert: the %s reply is not a PKCS#7 certs-only message",
             SCEP_CT_CA_RA_CERT);
      return RD_EPROTO;
    }
    rc = scep_certs_of_p7(p7, certs);
    PKCS7_free(p7);
    if (rc)
      scep_seterr(err, errlen, "GetCACert: the %s reply holds no certificates", SCEP_CT_CA_RA_CERT);
    return rc;
  }
  scep_seterr(err, errlen, "GetCACert: unexpected content type '%s' (want %s or %s)",
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
    scep_seterr(err, errlen, "CA fingerprint: none given");
    return RD_EINVAL;
  }
  if (!strncasecmp(fp, "sha256:", 7)) {
    md = EVP_sha256();
    hex = fp + 7;
  } else if (!strncasecmp(fp, "sha1:", 5)) {
    md = EVP_sha1();
    hex = fp + 5;
  } else {
    scep_seterr(err, errlen, "CA fingerprint '%s': expected sha256:<hex> or sha1:<hex>", fp);
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
      scep_seterr(err, errlen, "CA fingerprint '%s': not a hex digest", fp);
      return RD_EINVAL;
    }
    want[n++] = (unsigned char)(hi << 4 | lo);
    hex += 2;
  }
  if (n != (size_t)EVP_MD_get_size(md)) {
    scep_seterr(err, errlen, "CA fingerprint '%s': %zu bytes, a %s digest has %d", fp, n,
           EVP_MD_get0_name(md), EVP_MD_get_size(md));
    return RD_EINVAL;
  }
  if (!X509_digest(cert, md, got, &gotlen))
    return RD_ECRYPTO;
  if (gotlen == n && !CRYPTO_memcmp(got, want, n))
    return 0;
  scep_cert_label(cert, label, sizeof label);
  hexify(got, gotlen, gothex);
  scep_seterr(err, errlen, "CA certificate %s: fingerprint %s:%s does not match the pinned %s",
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
int scep_spki_txid(X509_REQ *req, char out[65]) {
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
    scep_seterr(err, errlen, "CSR: not a PKCS#10 request (PEM or DER)");
    return RD_EPROTO;
  }
  if (!(pk = X509_REQ_get0_pubkey(req))) {
    scep_seterr(err, errlen, "CSR: unsupported public key");
    rc = RD_EPROTO;
    goto out;
  }
  /* The self-signature is the proof of possession the CA checks. */
  if (X509_REQ_verify(req, pk) != 1) {
    scep_seterr(err, errlen, "CSR: its self-signature does not verify");
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
  rc = scep_spki_txid(req, out->txid);
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

