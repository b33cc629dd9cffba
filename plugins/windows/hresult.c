/* hresult.c — see windows_hresult.h. The meanings are those of winerror.h
 * (https://learn.microsoft.com/windows/win32/seccrypto/common-hresult-values,
 * https://learn.microsoft.com/windows/win32/com/com-error-codes-4 for the
 * CERTSRV_E_* codes); the fixes are the usual ones for an AD CS renewal. */
#include "windows_hresult.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
  unsigned long hr;
  const char *name, *advice;
} table[] = {
    {0x80094800UL, "CERTSRV_E_UNSUPPORTED_CERT_TYPE",
     "the CA does not issue the requested certificate template: add the template on that CA "
     "(Certification Authority console, Certificate Templates, New, Certificate Template to "
     "Issue) or name a CA that issues it in issuer.config"},
    {0x80094801UL, "CERTSRV_E_NO_CERT_TYPE",
     "the request carries no certificate template: renew a certificate that was made from a "
     "template (RenewalCert), or put CertificateTemplate=<name> under [RequestAttributes] in "
     "the INF"},
    {0x80094012UL, "CERTSRV_E_TEMPLATE_DENIED",
     "the template's permissions do not let the requester enroll: grant Read and Enroll on the "
     "template to the account that submits (renewd submits as SYSTEM, i.e. the computer "
     "account DOMAIN\\HOST$, or a group it is in)"},
    {0x80070057UL, "E_INVALIDARG",
     "a parameter is incorrect: for NDES this usually means two valid RA certificates of the "
     "same template in LocalMachine\\My (remove the superseded one: windows.prune_duplicates) "
     "or an RA private key the SCEP application pool's account cannot read (windows.key_acl)"},
    {0x8007000dUL, "ERROR_INVALID_DATA",
     "the data is invalid: most often a user-context template (such as EnrollmentAgentOffline) "
     "requested in the machine context (MachineKeySet=TRUE with CertificateTemplate=); renew "
     "with a RenewalCert request of the existing certificate instead, and for an expired one "
     "follow the operator procedure in the plan"},
    {0x800706baUL, "RPC_S_SERVER_UNAVAILABLE",
     "the CA cannot be reached over RPC: check the CA host name in issuer.config, that the "
     "CertSvc service runs, that TCP 135 and the dynamic RPC ports are open from this host, "
     "and that the request runs with network credentials (renewd submits from a SYSTEM task "
     "for this reason)"},
    {0x80092004UL, "CRYPT_E_NOT_FOUND",
     "the object or property was not found: the certificate named by RenewalCert, or its "
     "private key, is not in LocalMachine\\My: check the thumbprint and that the key is still "
     "there (certutil -store my <thumbprint>)"},
    {0x800b0101UL, "CERT_E_EXPIRED",
     "the certificate has expired: a RenewalCert request needs a valid basis, so an expired "
     "certificate is replaced by a fresh request (the operator procedure in the plan)"},
};

unsigned long win_hresult_parse(const char *s) {
  if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return 0;
  for (int i = 2; i < 10; i++)
    if (!isxdigit((unsigned char)s[i]))
      return 0;
  if (isxdigit((unsigned char)s[10]))
    return 0;
  return strtoul(s + 2, NULL, 16);
}

static int find(unsigned long hr) {
  for (size_t i = 0; i < sizeof table / sizeof *table; i++)
    if (table[i].hr == hr)
      return (int)i;
  return -1;
}

const char *win_hresult_name(unsigned long hr) {
  int i = find(hr);
  return i < 0 ? NULL : table[i].name;
}

const char *win_hresult_advice(unsigned long hr) {
  int i = find(hr);
  return i < 0 ? NULL : table[i].advice;
}

void win_hresult_text(unsigned long hr, char *out, size_t outlen) {
  int i = find(hr);
  if (!outlen)
    return;
  if (!hr)
    out[0] = 0;
  else if (i < 0)
    snprintf(out, outlen, "0x%08lx", hr);
  else
    snprintf(out, outlen, "0x%08lx %s: %s", hr, table[i].name, table[i].advice);
}

void adcs_decide(int exit_code, int cer_written, const char *text, adcs_outcome *o) {
  adcs_outcome hint;
  unsigned long hr;
  adcs_parse_certreq(text, &hint); /* request id, message, HRESULT in the text */
  *o = hint;
  hr = win_hresult_parse(hint.hresult);
  if (!hr && exit_code < -1) /* certreq exits with the HRESULT when it fails (-1: no exit code) */
    hr = (unsigned long)(unsigned int)exit_code;
  if (hr && !hint.hresult[0])
    snprintf(o->hresult, sizeof o->hresult, "0x%08x", (unsigned int)hr);
  if (cer_written) {
    o->status = ADCS_ISSUED;
    o->expired_basis = 0;
  } else if (hr && (hr & 0xFFFFF000UL) == 0x80094000UL) {
    o->status = ADCS_DENIED; /* a CERTSRV_E_* code: the CA's policy said no */
  } else if (hr == 0x800b0101UL) {
    o->status = ADCS_DENIED;
    o->expired_basis = 1;
  } else if (hr) {
    /* the English text may know better (a denial whose reason is another
     * code), never that it was issued: no certificate file was written */
    o->status = hint.status == ADCS_DENIED ? ADCS_DENIED : ADCS_FAILED;
  } else if (hint.status == ADCS_ISSUED) {
    o->status = ADCS_ISSUED; /* the caller sees no certificate file: never resubmitted */
  } else if (exit_code == 0 && hint.request_id >= 0) {
    o->status = hint.status == ADCS_DENIED || hint.status == ADCS_FAILED ? hint.status
                                                                          : ADCS_PENDING;
  } else if (exit_code != 0 && hint.status == ADCS_UNKNOWN) {
    o->status = ADCS_FAILED;
  }
  if ((o->status == ADCS_DENIED || o->status == ADCS_FAILED) && !o->message[0])
    snprintf(o->message, sizeof o->message, "certreq exited %d", exit_code);
}

void adcs_outcome_line(const adcs_outcome *o, const char *fallback, char *out, size_t outlen) {
  unsigned long hr = win_hresult_parse(o->hresult);
  const char *msg = o->message[0] ? o->message : fallback;
  if (win_hresult_advice(hr))
    snprintf(out, outlen, "%s (%s %s: %s)", msg, o->hresult, win_hresult_name(hr),
             win_hresult_advice(hr));
  else
    snprintf(out, outlen, "%s", msg);
}
