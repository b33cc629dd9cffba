/* windows_hresult.h — the HRESULTs admins meet when renewing Windows
 * certificates: what each means and what to fix, in one sentence; and the
 * outcome of certreq -submit / -retrieve decided without its (localised)
 * English text: from the certificate file it wrote, the HRESULT (a number
 * in any language: in the text, or certreq's exit code) and the RequestId,
 * the English phrases only as a hint when those say nothing. */
#ifndef RENEWD_WINDOWS_HRESULT_H
#define RENEWD_WINDOWS_HRESULT_H
#include <stddef.h>

#include "windows_certreq.h"

/* "0x80094012" (any case) -> 0x80094012; 0 when s is not 0x + 8 hex digits. */
unsigned long win_hresult_parse(const char *s);
/* The symbolic name and the sentence for a known HRESULT ("what it means:
 * what to fix"), or NULL. */
const char *win_hresult_name(unsigned long hr);
const char *win_hresult_advice(unsigned long hr);
/* "0x80094012 CERTSRV_E_TEMPLATE_DENIED: <advice>" for a known HRESULT,
 * "0x........" for another one, "" for 0. */
void win_hresult_text(unsigned long hr, char *out, size_t outlen);

/* certreq -submit / -retrieve's outcome from what does not depend on the
 * display language: cer_written (the certificate file exists: issued), the
 * HRESULT in the text or as the exit code (a CERTSRV_E_* code 0x80094xxx or
 * CERT_E_EXPIRED: denied; any other: failed), a RequestId with exit 0 and
 * no HRESULT: pending. Only when none of these decides is the English text
 * (adcs_parse_certreq) used. o->message is the text's line when there is
 * one; o->hresult the HRESULT found. */
void adcs_decide(int exit_code, int cer_written, const char *text, adcs_outcome *o);
/* o's message (fallback when it has none), and for a known HRESULT its name
 * and what to fix: "<message> (0x80094012 CERTSRV_E_TEMPLATE_DENIED: ...)". */
void adcs_outcome_line(const adcs_outcome *o, const char *fallback, char *out, size_t outlen);

#endif
