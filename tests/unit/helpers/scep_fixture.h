/* scep_fixture.h — what the SCEP codec tests (test_scep_msg.c,
 * test_scep_rep.c) share: a test CA, keys and certificates made once in
 * main() (the forked tests inherit them), requests signed through the split
 * path (EVP or the real `openssl pkeyutl`) and their checks. */
#ifndef RENEWD_SCEP_FIXTURE_H
#define RENEWD_SCEP_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "renewd/plugin.h"
#include "scep_msg.h"
#include "testutil.h"

/* For helpers that also run in main(), outside any test: Check's asserts
 * report through the test's pipe, which does not exist there. */
#define REQUIRE(x)                                                             \
  do {                                                                         \
    if (!(x)) {                                                                \
      fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x);           \
      abort();                                                                 \
    }                                                                          \
  } while (0)

typedef unsigned char *(*signer_fn)(EVP_PKEY *, const char *, const unsigned char *, size_t,
                                    size_t *);

extern EVP_PKEY *sf_ca_key, *sf_old_key, *sf_new_key, *sf_rogue_key, *sf_ec_key;
extern X509 *sf_ca_crt, *sf_old_crt, *sf_rogue_crt;
extern const unsigned char sf_NONCE[SCEP_NONCE_LEN];
EVP_PKEY *sf_gen_rsa(void);
X509_NAME *sf_mkname(const char *cn);
void sf_add_ext(X509 *c, X509 *issuer, int nid, const char *value);
X509 *sf_mkcert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *ikey, long serial,
                    int ca, const char *ku);
unsigned char *sf_mkcsr(const char *cn, EVP_PKEY *key, const char *challenge,
                            size_t *len);
unsigned char *sf_evp_sign(EVP_PKEY *key, const char *mdname, const unsigned char *d,
                               size_t dlen, size_t *siglen);
void sf_write_file(const char *path, const unsigned char *b, size_t n);
unsigned char *sf_pkeyutl_sign(EVP_PKEY *key, const char *mdname, const unsigned char *d,
                                   size_t dlen, size_t *siglen);
scep_req *sf_build_signed(int type, X509 *signer, EVP_PKEY *signkey,
                              const unsigned char *inner, size_t inner_len,
                              const EVP_CIPHER *cipher, const char *txid, signer_fn sign);
ASN1_TYPE *sf_attr(PKCS7_SIGNER_INFO *si, const char *oid);
void sf_assert_printable(PKCS7_SIGNER_INFO *si, const char *oid, const char *want);
unsigned char *sf_check_request(scep_req *r, int type, X509 *signer, const char *txid,
                                    int cipher_nid, size_t *inner_len);
/* A certs-only PKCS#7 (DER) of n certificates. */
unsigned char *sf_degenerate(X509 **certs, int n, size_t *len);

/* main() of a SCEP codec test program: the keys and certificates, the
 * suite, cleanup. */
int sf_main(Suite *s, const char *prog);

#endif
