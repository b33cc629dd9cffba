/* tests/e2e/lib/scepdouble.c — the CertReps of a CA double that can pend
 * (for tests/e2e/lib/caproxy.pl; not a test itself). The lab's scepserver
 * answers at once and cannot poll; the proxy keeps its real answer and
 * sends these instead, signed with the lab CA's key as a CA's would be.
 * Built by the test that needs it (cc ... -lcrypto).
 *
 *   scepdouble info REQ                  prints "MESSAGETYPE TRANSACTIONID"
 *   scepdouble pending REQ CACERT CAKEY  a PENDING CertRep answering REQ
 *   scepdouble answer REQ REP CACERT CAKEY
 *                                        REP (the CA's real CertRep to the
 *                                        first request) re-signed as the
 *                                        answer to REQ (a CertPoll): its
 *                                        status and pkcsPKIEnvelope, REQ's
 *                                        transactionID and senderNonce
 * REQ and REP are DER PKIMessages (files); the CertRep goes to stdout.
 * Exit 0, or 1 with the reason on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#define OID_MESSAGE_TYPE "2.16.840.1.113733.1.9.2"
#define OID_PKI_STATUS "2.16.840.1.113733.1.9.3"
#define OID_SENDER_NONCE "2.16.840.1.113733.1.9.5"
#define OID_RECIPIENT_NONCE "2.16.840.1.113733.1.9.6"
#define OID_TRANSACTION_ID "2.16.840.1.113733.1.9.7"

static void die(const char *what) {
  fprintf(stderr, "scepdouble: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

/* The lab CA's key is encrypted with an empty passphrase (scepserver's
 * depot; the lab signs with -passin pass:). */
static int empty_pass(char *buf, int size, int rw, void *u) {
  (void)buf, (void)size, (void)rw, (void)u;
  return 0;
}

static PKCS7 *read_p7(const char *path) {
  FILE *f = fopen(path, "rb");
  PKCS7 *p7 = f ? d2i_PKCS7_fp(f, NULL) : NULL;
  if (f)
    fclose(f);
  if (!p7 || !PKCS7_type_is_signed(p7) || sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) != 1)
    die("not a SignedData with one signer");
  return p7;
}

static ASN1_TYPE *attr(PKCS7 *p7, const char *oid) {
  PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  int i = X509at_get_attr_by_OBJ(PKCS7_get_signed_attributes(si), o, -1);
  ASN1_OBJECT_free(o);
  X509_ATTRIBUTE *a = i < 0 ? NULL : X509at_get_attr(PKCS7_get_signed_attributes(si), i);
  return a ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
}

/* a printable-string attribute as text (static buffer) */
static const char *text(PKCS7 *p7, const char *oid) {
  static char buf[256];
  ASN1_TYPE *t = attr(p7, oid);
  if (!t || t->type != V_ASN1_PRINTABLESTRING || t->value.asn1_string->length >= (int)sizeof buf)
    die("a signed attribute is missing");
  memcpy(buf, t->value.asn1_string->data, (size_t)t->value.asn1_string->length);
  buf[t->value.asn1_string->length] = 0;
  return buf;
}

static void add(PKCS7_SIGNER_INFO *si, const char *oid, int type, const void *v, int len) {
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  if (!X509at_add1_attr_by_OBJ(&si->auth_attr, o, type, v, len < 0 ? (int)strlen(v) : len))
    die("cannot add an attribute");
  ASN1_OBJECT_free(o);
}

/* A CertRep to req with this status and content (NULL: none), signed by
 * the CA with SHA-256, to stdout. */
static void certrep(PKCS7 *req, const char *status, const ASN1_OCTET_STRING *content,
                    const char *cacert, const char *cakey) {
  int flags = PKCS7_BINARY | PKCS7_NOSMIMECAP | PKCS7_PARTIAL;
  FILE *f;
  X509 *ca = NULL;
  EVP_PKEY *key = NULL;
  unsigned char snonce[16];
  char txid[256];
  ASN1_TYPE *rn = attr(req, OID_SENDER_NONCE);
  if (!rn || rn->type != V_ASN1_OCTET_STRING)
    die("the request has no senderNonce");
  snprintf(txid, sizeof txid, "%s", text(req, OID_TRANSACTION_ID));
  if (!(f = fopen(cacert, "r")) || !(ca = PEM_read_X509(f, NULL, NULL, NULL)))
    die("cannot read the CA certificate");
  fclose(f);
  if (!(f = fopen(cakey, "r")) || !(key = PEM_read_PrivateKey(f, NULL, empty_pass, NULL)))
    die("cannot read the CA key");
  fclose(f);
  PKCS7 *p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags);
  PKCS7_SIGNER_INFO *si = p7 ? PKCS7_sign_add_signer(p7, ca, key, EVP_sha256(), flags) : NULL;
  if (!si || RAND_bytes(snonce, sizeof snonce) != 1)
    die("cannot start the CertRep");
  add(si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "3", -1);
  add(si, OID_TRANSACTION_ID, V_ASN1_PRINTABLESTRING, txid, -1);
  add(si, OID_PKI_STATUS, V_ASN1_PRINTABLESTRING, status, -1);
  add(si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING, snonce, sizeof snonce);
  add(si, OID_RECIPIENT_NONCE, V_ASN1_OCTET_STRING, rn->value.octet_string->data,
      rn->value.octet_string->length);
  BIO *in = BIO_new_mem_buf(content ? content->data : (const unsigned char *)"",
                            content ? content->length : 0);
  if (!in || PKCS7_final(p7, in, flags) != 1 || i2d_PKCS7_fp(stdout, p7) <= 0)
    die("cannot sign the CertRep");
  BIO_free(in);
  PKCS7_free(p7);
  X509_free(ca);
  EVP_PKEY_free(key);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "info")) {
    PKCS7 *req = read_p7(argv[2]);
    printf("%s ", text(req, OID_MESSAGE_TYPE));
    printf("%s\n", text(req, OID_TRANSACTION_ID));
    PKCS7_free(req);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "pending")) {
    PKCS7 *req = read_p7(argv[2]);
    certrep(req, "3", NULL, argv[3], argv[4]);
    PKCS7_free(req);
    return 0;
  }
  if (argc == 6 && !strcmp(argv[1], "answer")) {
    PKCS7 *req = read_p7(argv[2]), *rep = read_p7(argv[3]);
    const ASN1_OCTET_STRING *content = NULL;
    char status[16];
    snprintf(status, sizeof status, "%s", text(rep, OID_PKI_STATUS));
    if (rep->d.sign->contents && PKCS7_type_is_data(rep->d.sign->contents))
      content = rep->d.sign->contents->d.data;
    certrep(req, status, content, argv[4], argv[5]);
    PKCS7_free(req);
    PKCS7_free(rep);
    return 0;
  }
  fprintf(stderr, "usage: scepdouble info REQ | pending REQ CACERT CAKEY | answer REQ REP CACERT CAKEY\n");
  return 2;
}
