/* acme_jws.h — the account side of ACME (RFC 8555 6.2): the account key
 * (ES256, P-256, read from a PEM file or secret on the orchestrator), its
 * JWK (RFC 7517) and thumbprint (RFC 7638), flattened JWS requests
 * (RFC 7515) and http-01 key authorizations (RFC 8555 8.1). The account key
 * is the only private key renewd holds; certificate keys stay on targets. */
#ifndef RENEWD_ACME_JWS_H
#define RENEWD_ACME_JWS_H
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

/* base64url without padding; returns a malloc'd string (NULL: out of memory). */
char *acme_b64url(const void *data, size_t len);

/* An ES256 account key from PEM text (PKCS#8 or SEC1). RD_ECONFIG with a
 * sentence in err when it is not a P-256 EC private key. */
int acme_key_load(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errlen);
/* The public JWK of a P-256 key: {"crv","kty","x","y"} (new reference). */
json_t *acme_jwk(EVP_PKEY *key);
/* RFC 7638 thumbprint of a public JWK (EC or RSA), base64url of its SHA-256
 * (43 characters + NUL into out). RD_EINVAL: a member is missing. */
int acme_jwk_thumbprint(const json_t *jwk, char out[44]);
/* token "." thumbprint, malloc'd. */
char *acme_key_authorization(const char *token, const char *thumbprint);

/* A flattened JWS of payload (NULL: the empty payload of a POST-as-GET)
 * signed with ES256: the protected header carries "jwk" when kid is NULL
 * (newAccount), else "kid", and always "nonce" and "url". Returns the
 * malloc'd JSON text, NULL on failure. */
char *acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
               const json_t *payload);

/* External account binding (RFC 8555 7.3.4): the account's JWK signed
 * with HS256 by the MAC key the CA issued for eab_kid, bound to url (the
 * newAccount URL). A new reference, NULL on failure. */
json_t *acme_eab(const char *eab_kid, const unsigned char *mac_key, size_t mac_len,
                 const json_t *jwk, const char *url);

#endif
