/* win_certs.c — see win_fixture.h: the test certificates. */
#include "win_fixture.h"
/* ------------------------------------------------------------ certificates */



EVP_PKEY *ca_key;
X509 *ca_crt;
char *ca_b64;
/* CEPEncryption (v1 name): the live one, an older duplicate, the renewed
 * one, one newer than that, an expired one; v2 templates; no template. */
tcert OLD, DUP, NEW, NEWER, EXPIRED, LATE_EXPIRED, WEB_OLD, WEB_NEW, PLAIN;

static char *b64_of(const unsigned char *p, size_t n) {
  char *o = malloc(4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)o, p, (int)n);
  return o;
}

static char *der_b64(X509 *x) {
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  char *b = b64_of(der, (size_t)n);
  OPENSSL_free(der);
  return b;
}

static void add_ext(X509 *x, const char *oid, const unsigned char *der, int n) {
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
  X509_EXTENSION *e;
  ASN1_OCTET_STRING_set(os, der, n);
  e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  ASN1_OCTET_STRING_free(os);
  ASN1_OBJECT_free(o);
}

/* v1: BMPString name; v2: SEQUENCE { OID, major 100, minor 4 }. */
static void add_template(X509 *x, const char *name, const char *oid) {
  unsigned char buf[300];
  int n = 0;
  if (name) {
    size_t l = strlen(name);
    buf[n++] = 0x1E;
    buf[n++] = (unsigned char)(2 * l);
    for (size_t i = 0; i < l; i++) {
      buf[n++] = 0;
      buf[n++] = (unsigned char)name[i];
    }
    add_ext(x, "1.3.6.1.4.1.311.20.2", buf, n);
  }
  if (oid) {
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    unsigned char *od = NULL;
    int ol = i2d_ASN1_OBJECT(o, &od);
    n = 0;
    buf[n++] = 0x30;
    buf[n++] = (unsigned char)(ol + 6);
    memcpy(buf + n, od, (size_t)ol);
    n += ol;
    memcpy(buf + n, "\x02\x01\x64\x02\x01\x04", 6);
    n += 6;
    add_ext(x, "1.3.6.1.4.1.311.21.7", buf, n);
    OPENSSL_free(od);
    ASN1_OBJECT_free(o);
  }
}

static void mkcert(tcert *t, const char *cn, long serial, long nb, long na, const char *tname,
                   const char *toid) {
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *x = X509_new();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdl = 0;
  size_t len = 0;
  unsigned char *raw = NULL;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_time_adj_ex(X509_getm_notBefore(x), 0, nb, NULL);
  X509_time_adj_ex(X509_getm_notAfter(x), 0, na, NULL);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(ca_crt));
  X509_set_pubkey(x, k);
  add_template(x, tname, toid);
  X509_sign(x, ca_key, EVP_sha256());
  t->b64 = der_b64(x);
  X509_digest(x, EVP_sha1(), md, &mdl);
  for (unsigned i = 0; i < mdl; i++)
    snprintf(t->thumb + 2 * i, 3, "%02X", md[i]);
  if (rd_base64_decode_str(t->b64, &raw, &len) < 0 || rd_x509_facts_from_bytes(raw, len, &t->facts)) { /* outside any test: no ck_assert */
    fprintf(stderr, "windows tests: cannot make the test certificate %s\n", cn);
    abort();
  }
  json_object_set_new(t->facts, "thumbprint", json_string(t->thumb));
  free(raw);
  X509_free(x);
  EVP_PKEY_free(k);
}

void make_material(void) {
  ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  ca_crt = X509_new();
  X509_set_version(ca_crt, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ca_crt), 1);
  X509_time_adj_ex(X509_getm_notBefore(ca_crt), -1000, 0, NULL);
  X509_time_adj_ex(X509_getm_notAfter(ca_crt), 3650, 0, NULL);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(ca_crt), "CN", MBSTRING_ASC,
                             (const unsigned char *)"Corp Issuing CA", -1, -1, 0);
  X509_set_issuer_name(ca_crt, X509_get_subject_name(ca_crt));
  X509_set_pubkey(ca_crt, ca_key);
  X509_sign(ca_crt, ca_key, EVP_sha256());
  ca_b64 = der_b64(ca_crt);
  mkcert(&DUP, "ndes01-MSCEP-RA", 0x1001, -300 * DAY, 20 * DAY, "CEPEncryption", NULL);
  mkcert(&OLD, "ndes01-MSCEP-RA", 0x1002, -200 * DAY, 30 * DAY, "CEPEncryption", NULL);
  mkcert(&NEW, "ndes01-MSCEP-RA", 0x1003, -60, 730 * DAY, "CEPEncryption", NULL);
  mkcert(&NEWER, "ndes01-MSCEP-RA", 0x1004, -30, 900 * DAY, "CEPEncryption", NULL);
  mkcert(&EXPIRED, "ndes01-MSCEP-RA", 0x1005, -800 * DAY, -2 * DAY, "CEPEncryption", NULL);
  /* issued after NEW (a short test certificate) and already expired */
  mkcert(&LATE_EXPIRED, "ndes01-MSCEP-RA", 0x1006, -30, -10, "CEPEncryption", NULL);
  mkcert(&WEB_OLD, "web01.corp.example", 0x00FF01, -300 * DAY, 20 * DAY, NULL, V2_OID);
  mkcert(&WEB_NEW, "web01.corp.example", 0x2002, -60, 365 * DAY, NULL, V2_OID);
  mkcert(&PLAIN, "other.corp.example", 0x3003, -10 * DAY, 100 * DAY, NULL, NULL);
}

void free_material(void) {
  tcert *all[] = {&OLD, &DUP, &NEW, &NEWER, &EXPIRED, &LATE_EXPIRED, &WEB_OLD, &WEB_NEW, &PLAIN};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    free(all[i]->b64);
    json_decref(all[i]->facts);
  }
  free(ca_b64);
  X509_free(ca_crt);
  EVP_PKEY_free(ca_key);
}

char *fixture_text(const char *name) {
  char rel[256];
  size_t n = 0;
  unsigned char *b;
  snprintf(rel, sizeof rel, "windows/%s", name);
  b = tu_read_fixture(rel, &n);
  ck_assert_msg(b != NULL, "fixture %s", rel);
  return (char *)b;
}

