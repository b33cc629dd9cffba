/* engine.h — runs renewal jobs: for each runbook target, the inventory
 * probe decides whether the certificate is due; a due job then goes through
 * the issuer, install, follow-up and verification steps, each committed to
 * the journal before the next remote action, with rollback on failure.
 * Implements the host API (renewd/plugin.h) that step kinds call. */
#ifndef RENEWD_ENGINE_H
#define RENEWD_ENGINE_H
#include <stdio.h>
#include <jansson.h>
#include <uv.h>
#include "store/journal.h"
#include "host/registry.h"
#include "config/runbook.h"

typedef struct rd_engine rd_engine;

typedef struct rd_engine_opts {
  int whatif;              /* probes only; mutating scripts refused */
  int force;               /* ignore renewal window and backoff */
  int remediate;           /* remediation: due when anything is wrong */
  int inventory;           /* inventory probes only */
  int keys;                /* every key matched against its certificate,
                              not only the due ones' (core/certs.c) */
  int doctor;              /* with whatif: every probe, past failures, into
                              the report's per-host "checks" (core/doctor.c) */
  const char **hosts;      /* NULL-terminated filter, or NULL for all */
  int json;                /* machine-readable report */
  int show_scripts;        /* print remote scripts with their parameters */
  int verbose;
  FILE *out;               /* report stream (stdout) */
  int max_parallel;        /* global cap on jobs at once (0: 64); each runbook's
                              schedule.max_parallel caps its own (default 16) */
  rd_journal *peek;        /* with whatif (plan): the journal a run would use,
                              only read — a host backing off ends BACKOFF, an
                              unfinished job is named ("resumes") — or NULL */
} rd_engine_opts;

/* Each job counts once, from how it ended: renewed (DONE, REPAIRED),
 * failed (FAILED, REPAIR_FAILED), rolled_back, needs_operator, pending
 * (PENDING_CA), skipped (BACKOFF, HELD). */
typedef struct rd_engine_stats {
  int targets, due, renewed, failed, rolled_back, needs_operator, pending, skipped;
} rd_engine_stats;

/* The host leases' TTL in seconds: $RENEWD_LEASE_TTL (3 to 86400), else
 * RD_LEASE_TTL_S (core/lease.c); serve's work claims last as long. */
int rd_lease_ttl(void);

int rd_engine_new(uv_loop_t *loop, rd_registry *reg, rd_journal *journal,
                  const rd_engine_opts *opts, rd_engine **out);
/* Queue every (filtered) target of the runbook. The runbook must outlive the
 * engine run. */
int rd_engine_add_runbook(rd_engine *e, const rd_runbook *rb);
/* Start the queued jobs on the engine's loop and return at once (the loop is
 * the caller's: `renewd serve` runs scans this way beside its listener and
 * timers). done (required) runs once, never inside this call (not even with
 * zero jobs: the run begins on the loop's next turn), after every job ended
 * and the engine's SSH and HTTP handles, step timers and off-loop work are
 * over; stats and the report are then final. The engine may be freed inside
 * done, and must not be freed between a successful start and done. An
 * engine runs once: RD_EBUSY on a second start. An engine freed without a
 * run leaves nothing on the loop. */
typedef void (*rd_engine_done_fn)(rd_engine *e, int exit_code, const rd_engine_stats *stats,
                                  void *arg);
int rd_engine_start(rd_engine *e, rd_engine_done_fn done, void *arg);
/* rd_engine_start, then run the loop until done; fills stats; returns the
 * CLI exit code (0 nothing due, 10 renewed / would renew, 1 failures). */
int rd_engine_run(rd_engine *e, rd_engine_stats *stats);
/* The report as JSON (borrowed). */
json_t *rd_engine_report(rd_engine *e);
/* The stats so far (targets is known once the runbooks are added). */
void rd_engine_get_stats(const rd_engine *e, rd_engine_stats *out);
/* The report for people: per host a headline naming the outcome and its
 * first cause, the steps, then the summary line. */
void rd_engine_print_report(rd_engine *e, FILE *f);
void rd_engine_free(rd_engine *e);

#endif
