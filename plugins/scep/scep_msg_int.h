/* scep_msg_int.h — what the codec's files (scep_msg.c: helpers, names,
 * GetCACaps, GetCACert, CSR; scep_req.c: requests; scep_rep.c: replies)
 * share. Private to plugins/scep: not part of scep_msg.h's interface. */
#ifndef RENEWD_SCEP_MSG_INT_H
#define RENEWD_SCEP_MSG_INT_H
#include <stddef.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

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

/* One sentence into err; OpenSSL's own reason, if any, is appended. */
void scep_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Short description of a cert for messages: its subject, or "?". */
void scep_cert_label(X509 *c, char *buf, size_t len);
/* Add a signed attribute of the given ASN.1 string type (len -1: strlen). */
int scep_add_attr(STACK_OF(X509_ATTRIBUTE) **sk, const char *oid, int type,
                  const unsigned char *data, int len);
/* The single value of attribute oid, or NULL when absent. */
ASN1_TYPE *scep_get_attr(STACK_OF(X509_ATTRIBUTE) *sk, const char *oid);
/* A string attribute as C text: 0, RD_ENOTFOUND or RD_EPROTO. */
int scep_attr_text(STACK_OF(X509_ATTRIBUTE) *sk, const char *oid, char *out, size_t outlen);
/* A small decimal PrintableString ("0".."99") as an int. */
int scep_parse_small(const char *s, int *v);
/* The transactionID of a CSR: hex SHA-256 of its public key (out[65]). */
int scep_spki_txid(X509_REQ *req, char out[65]);
/* PKCS#7 (DER or PEM) and its certificates. */
PKCS7 *scep_p7_from_bytes(const unsigned char *data, size_t len);
int scep_certs_of_p7(PKCS7 *p7, STACK_OF(X509) **out);

#endif
