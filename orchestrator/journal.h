/* journal.h — the SQLite journal (WAL, synchronous=FULL): jobs and their
 * states, step results, durable per-job values, inventory snapshots, an
 * append-only audit log and alerts already sent. Every call that changes
 * something is committed before it returns. Schema is versioned
 * (PRAGMA user_version) with forward migrations. */
#ifndef RENEWD_JOURNAL_H
#define RENEWD_JOURNAL_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include "jobstate.h"

typedef struct rd_journal rd_journal;

typedef struct rd_job_row {
  int64_t id;
  char runbook[256];
  char host[256];
  char cert[512];      /* certificate selector id, e.g. the cert path */
  rd_job_state state;
  int attempts;
  time_t created, updated;
  time_t next_try;     /* backoff: not before this time (0: any time) */
  char error[1024];    /* last error, "" if none */
} rd_job_row;

/* Default path: $RENEWD_JOURNAL, else /var/lib/renewd/journal.db. */
const char *rd_journal_default_path(void);
int rd_journal_open(const char *path, rd_journal **out, char *err, size_t errlen);
void rd_journal_close(rd_journal *j); /* NULL ok */

/* The active (non-terminal) job for (host, cert), or a new one in DUE.
 * *created tells which. One active job per (host, cert), enforced by a
 * unique partial index. */
int rd_journal_job_open(rd_journal *j, const char *runbook, const char *host,
                        const char *cert, int64_t *job_id, int *created);
/* Transition; refuses illegal transitions with RD_ESTATE. error may be NULL. */
int rd_journal_job_set_state(rd_journal *j, int64_t job_id, rd_job_state to,
                             const char *error);
int rd_journal_job_set_next_try(rd_journal *j, int64_t job_id, time_t next_try);
int rd_journal_job_get(rd_journal *j, int64_t job_id, rd_job_row *out);
/* The newest job (any state) for (host, cert); RD_ENOTFOUND if none. */
int rd_journal_job_last(rd_journal *j, const char *host, const char *cert, rd_job_row *out);
/* Visit jobs: active only, or all (newest first, up to limit; 0 = no limit). */
typedef int (*rd_job_visit)(const rd_job_row *row, void *arg);
int rd_journal_jobs(rd_journal *j, int active_only, size_t limit, rd_job_visit fn, void *arg);

/* One step phase's result. old/new are JSON values (may be NULL). */
typedef struct rd_step_record {
  const char *step;    /* step type or name */
  const char *phase;   /* "probe" "apply" "verify" "rollback" */
  int status;          /* 0 or RD_E* */
  double ms;
  const json_t *result;/* the step's result object (changes, detail) */
  const char *message;
} rd_step_record;
int rd_journal_step(rd_journal *j, int64_t job_id, const rd_step_record *rec);

/* Durable per-job key/value (e.g. the SCEP transaction id). */
int rd_journal_kv_put(rd_journal *j, int64_t job_id, const char *key, const json_t *value);
int rd_journal_kv_get(rd_journal *j, int64_t job_id, const char *key, json_t **out);

int rd_journal_inventory(rd_journal *j, const char *host, const json_t *facts);
int rd_journal_audit(rd_journal *j, const char *actor, const char *event,
                     const json_t *detail);
/* Alerts: returns 1 if key was already recorded, else records it and returns 0. */
int rd_journal_alert_once(rd_journal *j, const char *key);

#endif
