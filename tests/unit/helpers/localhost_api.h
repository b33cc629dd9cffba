/* localhost_api.h — a real rd_host_api for plugin tests, with THIS machine
 * as the target. Scripts go through orchestrator/transport/remote.c exactly as they
 * would over SSH (rd_remote_build: the constant prelude + script as the
 * command, parameters as base64 lines on stdin), run under /bin/sh -c here,
 * and their output is parsed with rd_remote_parse_posix. Everything else is
 * real too: facts, a per-job journal (values deep-copied, as if stored),
 * cert_facts (orchestrator/base/x509.c), work() (run synchronously), secrets.
 * In whatif mode a mutating script is refused with RD_EWHATIF before
 * anything runs, like the real host.
 *
 * A job holds facts, sections and the journal; each lh_phase() call is a
 * fresh step (as after a restart), so nothing but facts and the journal
 * carries over between phases. */
#ifndef RENEWD_LOCALHOST_API_H
#define RENEWD_LOCALHOST_API_H
#include <jansson.h>

#include "renewd/plugin.h"

typedef struct lh_job lh_job;

typedef struct lh_outcome {
  int rc;         /* what the phase function returned */
  int status;     /* rc when negative, else done()'s status */
  int done_calls; /* must be 0 when rc < 0, else exactly 1 */
  json_t *result; /* done()'s result (owned; NULL if none) */
  char msg[2048]; /* done()'s message */
} lh_outcome;

/* sections_json: {"certificate": {...}, "issuer": {...}} or NULL. */
lh_job *lh_job_new(const char *host, const char *sections_json);
void lh_job_free(lh_job *job); /* NULL ok */
json_t *lh_facts(lh_job *job);   /* borrowed, mutable */
json_t *lh_journal(lh_job *job); /* borrowed, mutable: key -> value */
void lh_set_whatif(lh_job *job, int on);
/* Scripts actually started on this machine (refused ones do not count). */
int lh_scripts_run(const lh_job *job);
/* The last state passed to set_state(), or "". */
const char *lh_state(const lh_job *job);
const rd_host_api *lh_api(void);

/* Run one phase of kind with params (JSON text; NULL = {}). The outcome's
 * result is freed by lh_outcome_clear (and by the next lh_phase on it).
 * Returns out->status. */
int lh_phase(lh_job *job, const rd_step_kind *kind, rd_phase phase, const char *params_json,
             lh_outcome *out);
void lh_outcome_clear(lh_outcome *out);

/* Run a shell command line (printf-style) on this machine; its exit status. */
int lh_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Its stdout (trailing newlines removed); caller frees. NULL on failure. */
char *lh_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
