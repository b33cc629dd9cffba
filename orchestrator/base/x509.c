/* x509.c — OpenSSL helpers used by the orchestrator and, through the host
 * API's cert_facts, by plugins. */
#include "base/x509.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/err.h"

int rd_x509_parse(const unsigned char *data, size_t len, X509 **out) {
  BIO *bio = NULL;
  X509 *crt = NULL;
  if (!data || !out || len == 0 || len > (size_t)1 << 24)
    return RD_EINVAL;
  *out = NULL;
  if (len > 10 && memmem(data, len, "-----BEGIN", 10)) {
    bio = BIO_new_mem_buf(data, (int)len);
    if (!bio)
      return RD_ENOMEM;
    crt = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
  } else {
    const unsigned char *p = data;
    crt = d2i_X509(NULL, &p, (long)len);
  }
  if (!crt)
    return RD_EPROTO;
  *out = crt;
  return 0;
}

static int hex_encode(const unsigned char *b, size_t n, int upper, char *hex,
                      size_t hexlen) {
  static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
  const char *digits = upper ? up : lo;
  if (hexlen < 2 * n + 1)
    return RD_EOVERFLOW;
  for (size_t i = 0; i < n; i++) {
    hex[2 * i] = digits[b[i] >> 4];
    hex[2 * i + 1] = digits[b[i] & 15];
  }
  hex[2 * n] = '\0';
  return 0;
}

int rd_x509_thumbprint(X509 *crt, const EVP_MD *md, char *hex, size_t hexlen) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!crt || !md || !hex)
    return RD_EINVAL;
  if (X509_digest(crt, md, buf, &n) != 1)
    return RD_ECRYPTO;
  return hex_encode(buf, n, 0, hex, hexlen);
}

/* The serial's bytes, big-endian. der != 0: the DER INTEGER's content
 * octets, with the leading 0x00 that keeps a high-bit serial positive (what
 * Windows stores, little-endian, in CERT_INFO.SerialNumber); der == 0: the
 * magnitude only (what `openssl x509 -serial` prints). Caller frees. */
static unsigned char *serial_bytes(X509 *crt, int der, size_t *n) {
  const ASN1_INTEGER *ai = X509_get0_serialNumber(crt);
  unsigned char *enc = NULL, *b = NULL;
  const unsigned char *p;
  long len;
  int tag, cls, total;
  if (!ai || (total = i2d_ASN1_INTEGER(ai, &enc)) <= 0)
    return NULL;
  p = enc;
  if (ASN1_get_object(&p, &len, &tag, &cls, total) & 0x80 || len <= 0)
    goto out;
  if (!der)
    while (len > 1 && p[0] == 0)
      p++, len--;
  if ((b = malloc((size_t)len))) {
    memcpy(b, p, (size_t)len);
    *n = (size_t)len;
  }
out:
  OPENSSL_free(enc);
  return b;
}

static int serial_hex(X509 *crt, int reversed, char *hex, size_t hexlen) {
  size_t n = 0;
  int rc;
  unsigned char *b;
  if (!crt || !hex)
    return RD_EINVAL;
  if (!(b = serial_bytes(crt, reversed, &n)))
    return RD_ENOMEM;
  if (reversed)
    for (size_t i = 0; i < n / 2; i++) {
      unsigned char t = b[i];
      b[i] = b[n - 1 - i];
      b[n - 1 - i] = t;
    }
  rc = hex_encode(b, n, 1, hex, hexlen);
  free(b);
  return rc;
}

int rd_x509_serial_hex(X509 *crt, char *hex, size_t hexlen) {
  return serial_hex(crt, 0, hex, hexlen);
}

int rd_x509_serial_reversed_hex(X509 *crt, char *hex, size_t hexlen) {
  return serial_hex(crt, 1, hex, hexlen);
}

static int asn1_time_to_epoch(const ASN1_TIME *t, time_t *out) {
  struct tm tm;
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
    return RD_EPROTO;
  *out = timegm(&tm);
  return 0;
}

int rd_x509_validity(X509 *crt, time_t *not_before, time_t *not_after) {
  int rc;
  if (!crt)
    return RD_EINVAL;
  if (not_before && (rc = asn1_time_to_epoch(X509_get0_notBefore(crt), not_before)))
    return rc;
  if (not_after && (rc = asn1_time_to_epoch(X509_get0_notAfter(crt), not_after)))
    return rc;
  return 0;
}

char *rd_x509_name(const X509_NAME *name) {
  BIO *bio = BIO_new(BIO_s_mem());
  char *s = NULL, *p;
  long n;
  if (!bio)
    return NULL;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
      (n = BIO_get_mem_data(bio, &p)) >= 0 && (s = malloc((size_t)n + 1))) {
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
  }
  BIO_free(bio);
  return s;
}

/* Extension value by dotted OID; NULL when absent. */
static const ASN1_OCTET_STRING *ext_by_oid(X509 *crt, const char *oid) {
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  int idx = obj ? X509_get_ext_by_OBJ(crt, obj, -1) : -1;
  ASN1_OBJECT_free(obj);
  if (idx < 0)
    return NULL;
  return X509_EXTENSION_get_data(X509_get_ext(crt, idx));
}

json_t *rd_x509_template(X509 *crt) {
  json_t *t = NULL;
  const ASN1_OCTET_STRING *v1 = ext_by_oid(crt, "1.3.6.1.4.1.311.20.2");
  const ASN1_OCTET_STRING *v2 = ext_by_oid(crt, "1.3.6.1.4.1.311.21.7");
  if (v1) {
    /* certificateTemplateName: a BMPString (sometimes UTF8String). */
    const unsigned char *p = ASN1_STRING_get0_data(v1);
    ASN1_STRING *str = d2i_ASN1_PRINTABLE(NULL, &p, ASN1_STRING_length(v1));
    unsigned char *utf8 = NULL;
    if (str && ASN1_STRING_to_UTF8(&utf8, str) >= 0) {
      t = json_object();
      json_object_set_new(t, "name", json_string((char *)utf8));
      json_object_set_new(t, "version", json_integer(1));
      OPENSSL_free(utf8);
    }
    ASN1_STRING_free(str);
  }
  if (v2) {
    /* CertificateTemplate ::= SEQUENCE { templateID OID, major INT, minor INT OPTIONAL } */
    const unsigned char *p = ASN1_STRING_get0_data(v2), *end = p + ASN1_STRING_length(v2);
    long len;
    int tag, cls;
    if (!(ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) && tag == V_ASN1_SEQUENCE) {
      ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, end - p);
      if (oid) {
        char buf[128];
        OBJ_obj2txt(buf, sizeof buf, oid, 1);
        if (!t)
          t = json_object();
        json_object_set_new(t, "oid", json_string(buf));
        ASN1_INTEGER *major = d2i_ASN1_INTEGER(NULL, &p, end - p);
        if (major) {
          json_object_set_new(t, "major", json_integer(ASN1_INTEGER_get(major)));
          ASN1_INTEGER_free(major);
        }
        if (!json_object_get(t, "version"))
          json_object_set_new(t, "version", json_integer(2));
        ASN1_OBJECT_free(oid);
      }
    }
  }
  return t;
}

int rd_x509_key_matches(X509 *crt, const unsigned char *key_pem, size_t len) {
  BIO *bio;
  EVP_PKEY *key;
  int rc;
  if (!crt || !key_pem)
    return RD_EINVAL;
  if (!(bio = BIO_new_mem_buf(key_pem, (int)len)))
    return RD_ENOMEM;
  key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (!key)
    return RD_EPROTO;
  rc = X509_check_private_key(crt, key) == 1 ? 1 : 0;
  EVP_PKEY_free(key);
  return rc;
}

static json_t *sans_json(X509 *crt) {
  json_t *arr = json_array();
  GENERAL_NAMES *gens = X509_get_ext_d2i(crt, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    char buf[300];
    if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
      const ASN1_IA5STRING *s = g->d.ia5;
      snprintf(buf, sizeof buf, "%s:%.*s",
               g->type == GEN_DNS ? "DNS" : g->type == GEN_EMAIL ? "email" : "URI",
               ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
    } else if (g->type == GEN_IPADD) {
      const unsigned char *ip = ASN1_STRING_get0_data(g->d.ip);
      int n = ASN1_STRING_length(g->d.ip);
      if (n == 4)
        snprintf(buf, sizeof buf, "IP:%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
      else {
        size_t o = (size_t)snprintf(buf, sizeof buf, "IP:");
        for (int k = 0; k + 1 < n && o < sizeof buf - 6; k += 2)
          o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%x", k ? ":" : "",
                                (unsigned)(ip[k] << 8 | ip[k + 1]));
      }
    } else
      continue;
    json_array_append_new(arr, json_string(buf));
  }
  GENERAL_NAMES_free(gens);
  return arr;
}

static const char *key_type_name(int id) {
  switch (id) {
  case EVP_PKEY_RSA:
    return "rsa";
  case EVP_PKEY_EC:
    return "ec";
  case EVP_PKEY_ED25519:
    return "ed25519";
  default:
    return "other";
  }
}

/* SHA-256 of the certificate's SubjectPublicKeyInfo (DER), lower-case hex:
 * what a key's public half digests to (`openssl pkey -pubout -outform DER`),
 * so a key is matched without parsing the certificate again. */
static int spki_sha256(X509 *crt, char *hex, size_t hexlen) {
  unsigned char *der = NULL, md[32];
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(crt), &der);
  if (n <= 0)
    return RD_ECRYPTO;
  int ok = EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL);
  OPENSSL_free(der);
  return ok == 1 ? hex_encode(md, sizeof md, 0, hex, hexlen) : RD_ECRYPTO;
}

int rd_x509_facts(X509 *crt, json_t **out) {
  char hex[2 * EVP_MAX_MD_SIZE + 1], serial[256], rserial[256];
  time_t nb = 0, na = 0;
  char *subj = NULL, *iss = NULL;
  json_t *o = NULL, *tmpl;
  EVP_PKEY *pk;
  BIO *bio = NULL;
  char *pem;
  long pemlen;
  int rc = RD_ENOMEM;

  if (!crt || !out)
    return RD_EINVAL;
  *out = NULL;
  if ((rc = rd_x509_validity(crt, &nb, &na)) || (rc = rd_x509_serial_hex(crt, serial, sizeof serial)) ||
      (rc = rd_x509_serial_reversed_hex(crt, rserial, sizeof rserial)))
    return rc;
  rc = RD_ENOMEM;
  if (!(subj = rd_x509_name(X509_get_subject_name(crt))) ||
      !(iss = rd_x509_name(X509_get_issuer_name(crt))) || !(o = json_object()))
    goto out;
  json_object_set_new(o, "subject", json_string(subj));
  json_object_set_new(o, "issuer", json_string(iss));
  json_object_set_new(o, "serial", json_string(serial));
  json_object_set_new(o, "serial_reversed", json_string(rserial));
  if ((rc = rd_x509_thumbprint(crt, EVP_sha1(), hex, sizeof hex)))
    goto out;
  json_object_set_new(o, "sha1", json_string(hex));
  if ((rc = rd_x509_thumbprint(crt, EVP_sha256(), hex, sizeof hex)))
    goto out;
  json_object_set_new(o, "sha256", json_string(hex));
  if ((rc = spki_sha256(crt, hex, sizeof hex)))
    goto out;
  json_object_set_new(o, "spki_sha256", json_string(hex));
  json_object_set_new(o, "not_before", json_integer((json_int_t)nb));
  json_object_set_new(o, "not_after", json_integer((json_int_t)na));
  json_object_set_new(o, "sans", sans_json(crt));
  if ((pk = X509_get0_pubkey(crt))) {
    json_object_set_new(o, "key_type", json_string(key_type_name(EVP_PKEY_get_base_id(pk))));
    json_object_set_new(o, "key_bits", json_integer(EVP_PKEY_get_bits(pk)));
  }
  if ((tmpl = rd_x509_template(crt)))
    json_object_set_new(o, "template", tmpl);
  rc = RD_ENOMEM;
  if (!(bio = BIO_new(BIO_s_mem())) || PEM_write_bio_X509(bio, crt) != 1 ||
      (pemlen = BIO_get_mem_data(bio, &pem)) <= 0)
    goto out;
  json_object_set_new(o, "pem", json_stringn(pem, (size_t)pemlen));
  *out = o;
  o = NULL;
  rc = 0;
out:
  BIO_free(bio);
  json_decref(o);
  free(subj);
  free(iss);
  return rc;
}

int rd_x509_facts_from_bytes(const unsigned char *data, size_t len, json_t **out) {
  X509 *crt = NULL;
  int rc = rd_x509_parse(data, len, &crt);
  if (rc == 0)
    rc = rd_x509_facts(crt, out);
  X509_free(crt);
  return rc;
}
