/* posix_util.h — helpers shared by the posix step kinds: the certificate
 * section, facts lookups, script arguments, results, and running a constant
 * script with one completion path for every failure.
 *
 * Every script is POSIX_SH_LIB (plugins/posix/sh/lib.sh) followed by the
 * kind's own text; both come from posix_sh.h, generated at build time from
 * the .sh files by plugins/posix/sh/embed.sh (CMake, into the build tree). */
#ifndef RENEWD_POSIX_UTIL_H
#define RENEWD_POSIX_UTIL_H
#include <stddef.h>
#include <jansson.h>

#include "posix_sh.h"
#include "renewd/plugin.h"
#include "renewd/plugin_helpers.h"

/* An rd_script for a POSIX target: name, mutating, text (lib prepended). */
#define POSIX_SCRIPT(name_, mutating_, text_)                                  \
  { (name_), RD_PLATFORM_POSIX, (mutating_), 1, POSIX_SH_LIB text_ }

/* The runbook's "certificate" section: {"cert", "key", "chain"}. Borrowed. */
typedef struct posix_paths {
  const char *cert, *key, *chain; /* chain may be NULL */
} posix_paths;

/* The combined layout: certificate, chain and key in one file (the paths
 * are equal as written; the target scripts also compare them resolved). */
int posix_combined(const posix_paths *p);

/* Reads the section; on error writes a sentence into err, returns RD_ECONFIG. */
int posix_paths_get(rd_step *s, const rd_host_api *h, posix_paths *p, char *err, size_t errlen);

/* String member of an object, or NULL. */
const char *posix_str(const json_t *obj, const char *key);
/* String at a dotted path below the job's facts ("cert.sha1"), or NULL. */
const char *posix_fact(rd_step *s, const rd_host_api *h, const char *path);
/* The certificate that should be live after this job: facts.expect, else
 * facts.new_cert; NULL before the issuer ran (whatif). Borrowed. */
const json_t *posix_new_cert(rd_step *s, const rd_host_api *h);

/* Script arguments: an object of strings; NULL values become "". */
json_t *posix_args(void);
void posix_arg(json_t *args, const char *name, const char *value);

/* Results: rd_result_new() / rd_result_change() (renewd/plugin.h); the one
 * completion: h->donef(), which prefixes the target's name. */

/* Runs a script; ok() gets its output object (strings) only when the
 * script ran and exited 0. Every other outcome completes the phase with
 * one sentence (transport error, "exit N: <stderr>", malformed reply).
 * args is stolen. A mutating script is refused here already in whatif.
 * Returns 0 (a completion follows) or a negative RD_E* (none follows). */
typedef void (*posix_ok_fn)(rd_step *s, const rd_host_api *h, const json_t *out);
int posix_run(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args,
              posix_ok_fn ok);
/* posix_run from inside a completion chain: an immediate error completes. */
void posix_next(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args,
                posix_ok_fn ok);

/* A script output value ("" when absent). */
const char *posix_out(const json_t *out, const char *key);
int posix_out_is(const json_t *out, const char *key, const char *value);
/* A base64 output value (rd_out_b64) as printable one-line text: control
 * characters become spaces, at most max bytes (the tail); decoded with the
 * host's base64. Caller frees. */
char *posix_out_text(const rd_host_api *h, const json_t *out, const char *key, size_t max);
/* Newline-separated output as a JSON array of the non-empty lines. */
json_t *posix_out_lines(const json_t *out, const char *key);

/* Validation helpers: one sentence into err, return RD_EINVAL (unknown keys:
 * rd_check_keys in renewd/plugin_helpers.h). */
int posix_check_string(const json_t *params, const char *key, int required, int absolute,
                       const char *type, char *err, size_t errlen);

/* Read a local file (the orchestrator's, e.g. posix.exec "file"). */
int posix_read_local(const char *path, size_t max, char **out);

#endif
