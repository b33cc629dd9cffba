/* common/csr.h — a PKCS#10 request built on the orchestrator around a
 * public key that lives on the target, signed there: the orchestrator
 * computes the digest of the CertificationRequestInfo, the target signs it
 * with `openssl pkeyutl -sign -pkeyopt digest:sha256`, and the signature is
 * put back. Subject, SANs and the challenge never have to be quoted into a
 * command line on the target. Shared by the issuers that keep the key on
 * the target (scep, acme): plugins/common is linked into each plugin. */
#ifndef RENEWD_COMMON_CSR_H
#define RENEWD_COMMON_CSR_H
#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

typedef struct rd_csr_build rd_csr_build;

/* subject: copied; sans: a subjectAltName extension value (may be NULL);
 * challenge: a challengePassword attribute (may be NULL). */
int rd_csr_build_new(rd_csr_build **out, const X509_NAME *subject, const GENERAL_NAMES *sans,
                     EVP_PKEY *pubkey, const char *challenge, char *err, size_t errlen);
void rd_csr_build_free(rd_csr_build *b);
/* SHA-256 of the DER CertificationRequestInfo (out: 32 bytes). */
int rd_csr_build_digest(rd_csr_build *b, unsigned char *out, size_t *outlen);
/* Put the target's signature in and check it against the public key;
 * on success *der is the finished CSR (freed with OPENSSL_free). */
int rd_csr_build_finish(rd_csr_build *b, const unsigned char *sig, size_t siglen,
                        unsigned char **der, size_t *derlen, char *err, size_t errlen);

#endif
