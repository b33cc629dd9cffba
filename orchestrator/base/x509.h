/* x509.h — OpenSSL helpers: parse, thumbprints, serial (and reversed), facts. */
#ifndef RENEWD_X509_H
#define RENEWD_X509_H
#include <stddef.h>
#include <time.h>
#include <jansson.h>
#include <openssl/x509.h>

/* Parse one certificate from PEM or DER bytes. Returns 0 or RD_EPROTO. */
int rd_x509_parse(const unsigned char *data, size_t len, X509 **out);
/* Lowercase hex thumbprint of the DER: md is EVP_sha1() or EVP_sha256().
 * hex must hold 2*EVP_MAX_MD_SIZE+1 bytes. */
int rd_x509_thumbprint(X509 *crt, const EVP_MD *md, char *hex, size_t hexlen);
/* Serial as uppercase hex of its magnitude, as `openssl x509 -serial` prints
 * it ("FF01"), and reversed: the DER content octets (sign byte included, as
 * Windows keeps them: "00FF01") in reverse order ("01FF00") — the bytes that
 * MOMCertImport writes to SCOM's ChannelCertificateSerialNumber. */
int rd_x509_serial_hex(X509 *crt, char *hex, size_t hexlen);
int rd_x509_serial_reversed_hex(X509 *crt, char *hex, size_t hexlen);
/* notBefore / notAfter as epoch seconds. */
int rd_x509_validity(X509 *crt, time_t *not_before, time_t *not_after);
/* Subject / issuer as an RFC 2253 string; caller frees. */
char *rd_x509_name(const X509_NAME *name);
/* Windows certificate template: v1 name (1.3.6.1.4.1.311.20.2) and/or v2+
 * OID (1.3.6.1.4.1.311.21.7). Returns a new object or NULL when absent. */
json_t *rd_x509_template(X509 *crt);
/* Does the private key in key_pem belong to crt? 1 yes, 0 no, <0 error. */
int rd_x509_key_matches(X509 *crt, const unsigned char *key_pem, size_t len);
/* All facts as one JSON object (see renewd/plugin.h cert_facts). */
int rd_x509_facts(X509 *crt, json_t **out);
int rd_x509_facts_from_bytes(const unsigned char *data, size_t len, json_t **out);

#endif
