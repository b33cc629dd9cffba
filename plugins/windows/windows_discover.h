/* windows_discover.h — which CA adcs.issue submits to when the runbook
 * names none (issuer.config), from what the target reports, in this order:
 *  1. NDES's own CA: HKLM\SOFTWARE\Microsoft\Cryptography\MSCEP\CAInfo,
 *     value Configuration ("cainfo"; on an NDES server, the CA it uses);
 *  2. Active Directory: the pKIEnrollmentService objects under
 *     CN=Enrollment Services,CN=Public Key Services,CN=Services,<configuration
 *     naming context>, each as dNSHostName\cn ("ad"; read by the SYSTEM task,
 *     since an SSH key logon has no network credentials);
 *  3. the Config values certutil -dump prints (adcs_parse_configs).
 * The first source that names any CA decides; more than one there is
 * ambiguous (the operator sets issuer.config). */
#ifndef RENEWD_WINDOWS_DISCOVER_H
#define RENEWD_WINDOWS_DISCOVER_H
#include <stddef.h>
#include <jansson.h>

typedef struct adcs_found {
  size_t n;           /* CAs the deciding source names (0: none anywhere) */
  char config[512];   /* the one CA when n == 1 */
  const char *source; /* "NDES's MSCEP\\CAInfo", "AD enrollment services", "certutil -dump" */
  json_t *configs;    /* the deciding source's CAs (new; the caller frees) */
} adcs_found;

/* out: {"cainfo": "...", "ad": [...]} from the target; dump: certutil
 * -dump's text (may be NULL). */
void adcs_discover(const json_t *out, const char *dump, adcs_found *f);

#endif
