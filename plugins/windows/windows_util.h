/* windows_util.h — helpers shared by the windows step kinds: running a
 * constant PowerShell script with one completion path for every failure,
 * results, parameter validation, the certificate section and the facts.
 *
 * Every script is WIN_PS_LIB (plugins/windows/ps/lib.ps1) followed by the
 * kind's own text, all from windows_ps.h, generated at build time from the
 * .ps1 files by plugins/windows/ps/embed.sh (CMake, into the build tree).
 * Scripts return one JSON object (rd_out). */
#ifndef RENEWD_WINDOWS_UTIL_H
#define RENEWD_WINDOWS_UTIL_H
#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "renewd/plugin.h"
#include "renewd/plugin_helpers.h"
#include "windows_ps.h"

/* An rd_script for a Windows target: name, mutating, text (lib prepended). */
#define WIN_SCRIPT(name_, mutating_, text_)                                    \
  { (name_), RD_PLATFORM_WINDOWS, (mutating_), 0, WIN_PS_LIB text_ }

#define WIN_DEFAULT_STORE "LocalMachine\\My"

/* --- running scripts ------------------------------------------------------ */

/* ok() gets the script's JSON object only when it ran and exited 0; every
 * other outcome completes the phase with one sentence naming the script
 * (transport error, "exit N: <stderr>", output that is not an object).
 * args (stolen) may be NULL. A mutating script is refused in whatif here
 * already. Returns 0 (a completion follows) or a negative RD_E* (none). */
typedef void (*win_ok_fn)(rd_step *s, const rd_host_api *h, const json_t *out);
int win_run(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args, win_ok_fn ok);
/* win_run from inside a completion chain: an immediate error completes. */
void win_next(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args, win_ok_fn ok);

/* Completion: h->donef() (prefixes the target's name); results:
 * rd_result_new() / rd_result_change() (renewd/plugin.h). */

/* --- JSON ----------------------------------------------------------------- */

const char *win_str(const json_t *o, const char *key); /* string member or NULL */
const char *win_out(const json_t *o, const char *key); /* "" when absent */
int win_bool(const json_t *o, const char *key);        /* JSON true */
long long win_int(const json_t *o, const char *key, long long def);
/* Text as one printable line of at most max bytes (newlines -> " | ",
 * other control characters -> spaces, whitespace runs collapsed). */
void win_line(const char *in, char *out, size_t outlen, size_t max);

/* --- validation (one sentence into err; RD_EINVAL; unknown keys:
 * rd_check_keys in renewd/plugin_helpers.h) --------------------------------- */

/* A non-empty string without control characters, at most maxlen bytes. */
int win_check_string(const json_t *params, const char *key, int required, size_t maxlen,
                     const char *type, char *err, size_t errlen);
/* One of list (exact); absent is fine unless required. */
int win_check_enum(const json_t *params, const char *key, int required, const char *const *list,
                   const char *type, char *err, size_t errlen);
int win_check_int(const json_t *params, const char *key, int required, long long min, long long max,
                  const char *type, char *err, size_t errlen);
/* "90s", "5m", "1h", "45" (seconds) -> seconds; -1 when malformed. */
long win_duration(const char *s);
int win_is_hex(const char *s, size_t len); /* exactly len hex digits */
/* A thumbprint: 40 hex digits, returned uppercase in out[41]; -1 if not. */
int win_thumb(const char *in, char out[41]);
/* "C:\dir\sub" without "..", quotes or wildcards. */
int win_abs_path(const char *p);
/* "DOMAIN\name", "NT AUTHORITY\SYSTEM", "name" or "name@domain". */
int win_account_ok(const char *a);
/* "HKLM\..." or "HKLM:\...". */
int win_hklm_ok(const char *k);

/* --- the certificate section ---------------------------------------------- */

typedef struct win_selector {
  const char *store;        /* "LocalMachine\\My" by default */
  const char *template_;    /* template name (v1 name, or v2 display/short name) */
  const char *template_oid; /* v2 template OID */
  const char *subject;      /* subject DN as cert_facts spells it, or CN= value */
  const char *thumbprint;   /* one certificate */
  const char *issued_by;    /* issuer DN as cert_facts spells it, or its CN value */
} win_selector;

/* On error writes a sentence into err and returns RD_ECONFIG. */
int win_selector_get(rd_step *s, const rd_host_api *h, win_selector *sel, char *err, size_t errlen);
/* "template CEPEncryption" etc., for messages. */
void win_selector_describe(const win_selector *sel, char *out, size_t outlen);

/* --- facts ---------------------------------------------------------------- */

/* The certificate that should be live after this job: facts.expect, else
 * facts.new_cert; NULL before the issuer ran (whatif). Borrowed. */
const json_t *win_expected_cert(rd_step *s, const rd_host_api *h);
/* facts.cert, or NULL. Borrowed. */
const json_t *win_live_cert(rd_step *s, const rd_host_api *h);
/* The uppercase thumbprint of a facts object ("thumbprint", else "sha1"),
 * into out[41]; NULL when it has none. */
const char *win_cert_thumb(const json_t *cert, char out[41]);
/* Certificate facts (host->cert_facts) of base64 DER or PEM, plus
 * "thumbprint" (uppercase SHA-1). */
int win_cert_from_b64(const rd_host_api *h, const char *b64, json_t **out);
/* "2027-05-01 12:00 UTC" */
void win_time(long long epoch, char *out, size_t outlen);

#endif
