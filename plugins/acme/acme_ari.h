/* acme_ari.h — ACME Renewal Information (RFC 9773): the CertID naming a
 * certificate to the CA, and the CA's suggested renewal window. */
#ifndef RENEWD_ACME_ARI_H
#define RENEWD_ACME_ARI_H
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

/* base64url(AKI keyIdentifier) "." base64url(serial's DER value octets),
 * malloc'd; NULL when the certificate has no Authority Key Identifier. */
char *acme_ari_cert_id(X509 *cert);

typedef struct acme_ari_window {
  time_t start, end;   /* the suggested window */
  time_t renew_at;     /* the moment chosen in it (RFC 9773 4.2) */
  int now;             /* renew_at is not in the future: renew at once */
  char explanation[512]; /* explanationURL, or "" (one line) */
} acme_ari_window;

/* Parse a renewalInfo answer and choose the moment: uniformly at random in
 * [start, end) using rnd in [0, 1); a window already over (e.g. the CA
 * revokes early) means renew at once. RD_EPROTO on a malformed answer. */
int acme_ari_parse(const char *body, size_t len, time_t now, double rnd, acme_ari_window *w);

/* An RFC 3339 UTC time ("2025-01-02T04:00:00Z", fractions allowed) ->
 * epoch seconds; -1 if malformed. */
time_t acme_rfc3339(const char *s);

#endif
