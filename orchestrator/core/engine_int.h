/* engine_int.h — internals shared by engine.c (job flow), hostapi.c (the
 * host API plugins call) and report.c (rendering). Not a public header. */
#ifndef RENEWD_ENGINE_INT_H
#define RENEWD_ENGINE_INT_H
#include <jansson.h>
#include <uv.h>
#include "core/engine.h"
#include "transport/http.h"
#include "transport/ssh.h"

typedef struct rd_job rd_job;
typedef struct rd_wave_set rd_wave_set;

enum rd_stage {
  ST_PROBE,    /* inventory probe, then (whatif) every step's probe */
  ST_APPLY,    /* probe -> apply -> verify of each step in order */
  ST_ROLLBACK, /* rollback of applied steps, last first */
  ST_RESTART,  /* re-apply RD_KIND_RESTART steps after a rollback */
  ST_RECHECK,  /* verify RD_KIND_CHECK steps against the old certificate */
  ST_DIAGNOSE, /* remediation: check the follow-ups against the live certificate */
  ST_REPAIR,   /* remediation: fix what the diagnosis found, without renewing */
  ST_END
};

struct rd_step {
  rd_job *j;
  size_t index;
  const rd_step_kind *kind;
  const json_t *params;      /* borrowed: the runbook's params or {} */
  const char *name;
  long timeout_ms;
  rd_phase phase;
  int busy;                  /* a phase is running */
  unsigned serial;           /* bumps per phase; stale completions ignored */
  int applied;               /* apply started: rollback needed on failure */
  int status;                /* last phase's status */
  int finding;               /* remediation: the diagnosis found something here */
  void *data;
  void (*data_free)(void *);
  uv_timer_t timer;
  int timer_ready;
  uint64_t t0;
  json_t *report;            /* {"name","type","phases":{probe:{...},...}} */
};

struct rd_job {
  rd_engine *e;
  const rd_runbook *rb;
  const rd_target *t;
  rd_ssh_target st;
  char *passphrase;
  json_t *facts;
  rd_step *steps;
  size_t nsteps;
  size_t idx;
  enum rd_stage stage;
  int64_t id;                /* journal job id, 0 in whatif / not due */
  rd_job_state state;
  int started, finished, queued;
  int cleanup;               /* issuer staging being cleaned after a failure */
  int repair_phase;          /* remediation: 0 drifted steps, 1 restarts, 2 checks */
  rd_wave_set *waves;        /* its runbook's waves */
  int holds_slot;            /* counted in rd_engine.running */
  int counted_probe;         /* its inventory decision reached the waves */
  int wave_ready;            /* admitted by its wave, waiting for a slot */
  int wave_started;          /* its renewal started */
  int64_t resume_id;         /* an interrupted journal job to continue */
  rd_job_state resume_state;
  json_t *kv;                /* whatif: in-memory journal values */
  json_t *report;
  char error[1024];
  int fail_status;
  rd_job *next;
};

struct rd_engine {
  uv_loop_t *loop;
  rd_registry *reg;
  rd_journal *journal;
  rd_engine_opts opts;
  rd_ssh *ssh;
  rd_http *http;
  rd_job *jobs, **tail;
  size_t running, max_parallel;
  rd_engine_stats stats;
  json_t *report;            /* {"whatif":..,"jobs":[...]} */
  rd_wave_set *waves;        /* one per runbook */
  int notifying;             /* webhook posts in flight */
  int shutting_down;
  int closing;               /* ssh/http managers still closing */
  rd_engine_done_fn done;    /* rd_engine_start's callback, or NULL */
  void *done_arg;
};

extern const rd_host_api rd_host_api_v1;

/* engine.c: a step's phase finished (called by the host API's done). */
void rd_engine_step_done(rd_step *s, int status, json_t *result, const char *msg);
/* engine.c: run one phase of a step (its completion comes back through
 * rd_engine_step_done), start the renewal of a due job, end a job. */
void rd_step_run(rd_step *s, rd_phase phase);
void rd_job_start_renewal(rd_job *j);
void rd_job_finish(rd_job *j);
/* engine.c: start what may start (renewals admitted by their wave first,
 * then probes), shut the transports down when nothing is left. */
void rd_engine_pump(rd_engine *e);
/* waves.c */
rd_wave_set *rd_waves_for(rd_engine *e, const rd_runbook *rb);
void rd_waves_free(rd_wave_set *w);
void rd_waves_add_target(rd_wave_set *w);
/* per-runbook concurrency: jobs of the runbook holding a slot */
size_t rd_waves_running(const rd_wave_set *w);
void rd_waves_running_add(rd_wave_set *w, int delta);
/* engine.c: give back a job's slot (no-op when it holds none) */
void rd_slot_give(rd_job *j);
void rd_waves_probed(rd_job *j, int due); /* once per job */
void rd_waves_ended(rd_job *j);           /* a job whose renewal started ended */
/* notify.c: webhook events (once each, remembered in the journal) */
void rd_notify_job_end(rd_job *j);
void rd_notify_expiry(rd_job *j);
/* remediate.c: after the inventory probe in remediation mode; then each
 * completion in ST_DIAGNOSE / ST_REPAIR. */
void rd_remediate_begin(rd_job *j);
void rd_remediate_next(rd_job *j);
/* engine.c: commit a state change (skips states a resumed job is past). */
int rd_job_move(rd_job *j, rd_job_state to, const char *error);
/* hostapi.c */
void rd_step_log(rd_step *s, rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* report.c */
void rd_report_print_text(FILE *f, json_t *report, int whatif);

#endif
