/* fuzz_scep.c — the SCEP codec's parsers of what a CA or a target sends
 * (plugins/scep/scep_msg.h). The first byte picks the parser (modulo 7):
 *   0 GetCACaps      1 GetCACert, one certificate   2 GetCACert, CA + RA
 *   3 GetCACert, content type guessed (then the CA, recipient, fingerprint)
 *   4 CSR from the target   5 CertRep (against tests/fixtures/x509/v1.crt)
 *   6 the decrypted envelope (then the issued certificate for v1's key)
 * the rest is the body. A failure must say why (err, subject first), but
 * for an empty body, refused as the caller's error (RD_EINVAL) unexplained. */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "base/err.h"
#include "scep_msg.h"
#include "fuzz_util.h"

static STACK_OF(X509) *ca_certs; /* the fixture, loaded once */

static STACK_OF(X509) *fixture_ca(void) {
  if (ca_certs)
    return ca_certs;
  FILE *f = fopen(FIXTURES "/x509/v1.crt", "r");
  X509 *c = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
  if (f)
    fclose(f);
  if (!c || !(ca_certs = sk_X509_new_null()) || !sk_X509_push(ca_certs, c))
    abort();
  return ca_certs;
}

static void expect_err(int rc, size_t n, const char *err) {
  if (rc != 0 && !err[0] && !(n == 0 && rc == RD_EINVAL))
    abort(); /* refused without saying why */
}

static void cacert(const unsigned char *b, size_t n, const char *ct) {
  STACK_OF(X509) *certs = NULL;
  char err[256] = "";
  int rc = scep_cacert_parse(b, n, ct, &certs, err, sizeof err);
  expect_err(rc, n, err);
  if (rc == 0) {
    X509 *ca = scep_pick_ca(certs);
    scep_pick_recipient(certs);
    if (ca)
      scep_fingerprint_check(ca, "sha256:00:11", err, sizeof err);
    scep_certs_free(certs);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256] = "";
  unsigned char nonce[SCEP_NONCE_LEN] = {0};
  int rc = 0;
  if (size < 1)
    return 0;
  const unsigned char *b = data + 1;
  size_t n = size - 1;
  switch (data[0] % 7) {
  case 0: {
    unsigned caps = scep_caps_parse((const char *)b, n);
    if (!scep_caps_cipher(caps) || !scep_caps_md(caps))
      abort();
    return 0;
  }
  case 1:
    cacert(b, n, SCEP_CT_CA_CERT "; charset=binary");
    return 0;
  case 2:
    cacert(b, n, SCEP_CT_CA_RA_CERT);
    return 0;
  case 3:
    cacert(b, n, NULL);
    return 0;
  case 4: {
    scep_csr csr;
    memset(&csr, 0, sizeof csr);
    rc = scep_csr_parse(b, n, &csr, err, sizeof err);
    if (rc == 0 && (!csr.der || !csr.pubkey || strlen(csr.txid) != 64))
      abort();
    scep_csr_clear(&csr);
    break;
  }
  case 5: {
    scep_rep rep;
    memset(&rep, 0, sizeof rep);
    rc = scep_rep_parse(b, n, fixture_ca(), "4A6F62", nonce, &rep, err, sizeof err);
    scep_rep_clear(&rep);
    break;
  }
  case 6: {
    STACK_OF(X509) *certs = NULL;
    rc = scep_rep_certs_from_decrypted(b, n, &certs, err, sizeof err);
    if (rc == 0) {
      X509 *ca = sk_X509_value(fixture_ca(), 0);
      scep_pick_issued(certs, X509_get0_pubkey(ca));
      scep_certs_free(certs);
    }
    break;
  }
  }
  expect_err(rc, n, err);
  return 0;
}
