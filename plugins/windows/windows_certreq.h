/* windows_certreq.h — what certreq and certutil print, parsed in C (pure
 * functions, unit-tested against documented outputs in
 * tests/fixtures/windows/).
 *
 * certreq -submit / -retrieve (FIELD-NOTES, "Windows over OpenSSH"):
 *   issued   "Certificate retrieved(Issued) Issued"
 *   pending  "Certificate request is pending: Taken Under Submission (0)"
 *            with a "RequestId: N" (or RequestId: "N") line
 *   denied   "Certificate not issued (Denied) Denied by Policy Module ..."
 *            (the CA's text may wrap over several lines)
 * An expired RenewalCert basis is denied with "...not within its validity
 * period..." (CERT_E_EXPIRED, 0x800b0101): it needs a fresh request.
 * Anything else with an error ("... 0x800706ba (WIN32: 1722
 * RPC_S_SERVER_UNAVAILABLE)") is a failure. */
#ifndef RENEWD_WINDOWS_CERTREQ_H
#define RENEWD_WINDOWS_CERTREQ_H
#include <stddef.h>
#include <jansson.h>

typedef enum adcs_status {
  ADCS_UNKNOWN = 0, /* nothing recognisable */
  ADCS_ISSUED,
  ADCS_PENDING,
  ADCS_DENIED,
  ADCS_FAILED       /* an error before or instead of a disposition */
} adcs_status;

typedef struct adcs_outcome {
  adcs_status status;
  long long request_id; /* -1 when the text names none */
  int expired_basis;    /* the CA refused an expired RenewalCert */
  char message[600];    /* the disposition or error, one line */
  char hresult[16];     /* "0x800b0101" when the text has one, else "" */
} adcs_outcome;

/* Parses certreq's output (CRLF or LF, possibly wrapped). Never fails:
 * unrecognised text gives ADCS_UNKNOWN with its last line as message. */
void adcs_parse_certreq(const char *text, adcs_outcome *o);
const char *adcs_status_name(adcs_status s);

/* The CA configurations ("host\CA name") in `certutil -dump` output — the
 * values of its "Config:" lines, in order, without duplicates. New array. */
json_t *adcs_parse_configs(const char *text);

/* certreq -new's verdict: 0 when the request was written, else the error
 * line (one line) into msg. */
int adcs_parse_new(int exit_code, int req_written, const char *text, char *msg, size_t msglen);

/* The fresh request an operator runs when a RenewalCert request cannot
 * work (expired or missing basis): the INF lines and the three commands,
 * as {"inf": [...], "commands": [...]}. template_ is a name or OID (NULL:
 * a placeholder), subject an X.500 name (NULL: a placeholder), config the
 * CA ("host\CA"; NULL: a placeholder). New object. */
json_t *adcs_fresh_request(const char *template_, const char *subject, const char *config);
/* 1 for the NDES RA templates, user templates held in the machine store
 * (CEPEncryption, EnrollmentAgentOffline, or their display names). */
int adcs_user_template(const char *template_);
/* What an operator runs when an NDES RA certificate (a user template) can
 * no longer be renewed with RenewalCert: the fresh machine request above
 * fails for it with 0x8007000d, so NDES is configured again, which enrols
 * both RA certificates: {"procedure": "ndes-reconfigure", "why",
 * "commands": [...]}; the RA name is the CN of subject. New object. */
json_t *adcs_ra_procedure(const char *subject, const char *config);
/* Either as one line for a report: "write fresh.inf with the lines L1 | L2
 * ...; then run C1; C2; C3", or "<why>; run C1; C2 ...". Caller frees. */
char *adcs_fresh_request_text(const json_t *fresh);

#endif
