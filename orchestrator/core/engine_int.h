/* engine_int.h — internals shared by the engine's units (core/engine.c the
 * run, job.c the job flow, step.c the step runner, build.c job building,
 * waves.c, remediate.c, notify.c, report.c) and host/hostapi.c (the host API
 * plugins call). Private to core/ and host/: the CLI uses core/engine.h. */
#ifndef RENEWD_ENGINE_INT_H
#define RENEWD_ENGINE_INT_H
#include <jansson.h>
#include <uv.h>
#include "core/engine.h"
#include "transport/http.h"
#include "transport/ssh.h"

typedef struct rd_job rd_job;
typedef struct rd_wave_set rd_wave_set;

/* How a job ended when its report names something other than its journal
 * state (outcome RD_OUT_STATE: the state itself). Only rd_job_finish turns
 * it into the report's "state" and into the stats. */
#define RD_OUTCOME_MAP(X)                                                      \
  X(STATE, NULL)                                                               \
  X(NOT_DUE, "NOT_DUE")                                                        \
  X(WOULD_RENEW, "WOULD_RENEW")                                                \
  X(INVENTORIED, "INVENTORIED")                                                \
  X(BACKOFF, "BACKOFF")                                                        \
  X(HELD, "HELD")                                                              \
  X(BUSY, "BUSY")                                                              \
  X(LEASE_LOST, "LEASE_LOST")                                                  \
  X(HEALTHY, "HEALTHY")                                                        \
  X(WOULD_REPAIR, "WOULD_REPAIR")                                              \
  X(REPAIRED, "REPAIRED")                                                      \
  X(REPAIR_FAILED, "REPAIR_FAILED")                                            \
  X(READY, "READY")                                                            \
  X(NOT_READY, "NOT_READY")
typedef enum rd_outcome {
#define RD_OUT_GEN(id, name) RD_OUT_##id,
  RD_OUTCOME_MAP(RD_OUT_GEN)
#undef RD_OUT_GEN
} rd_outcome;

/* An operation a step started through the host API (remote script, HTTP
 * request, off-loop work), linked in its step until its completion. The
 * completion is delivered only when serial and phase still match the step's
 * running phase (rd_call_stale). */
typedef enum rd_call_kind { RD_CALL_SSH, RD_CALL_HTTP, RD_CALL_WORK } rd_call_kind;
typedef struct rd_call {
  rd_step *s;
  unsigned serial;           /* the step's serial when the call started */
  rd_phase phase;
  rd_call_kind kind;
  uint64_t op_id;            /* transport operation id (rd_ssh/rd_http id_out) */
  struct rd_call *next, **pprev;
  /* held until the job's journal writes before it are committed (jobwrite.c):
   * then release(c, 0) sends it, release(c, err) answers it with err
   * (release is NULL while the call is not held) */
  struct rd_call *held_next;
  void (*release)(struct rd_call *c, int err);
} rd_call;

enum rd_stage {
  ST_PROBE,    /* inventory probe, then (whatif) every step's probe */
  ST_APPLY,    /* probe -> apply -> verify of each step in order */
  ST_ROLLBACK, /* rollback of applied steps, last first */
  ST_RESTART,  /* re-apply RD_KIND_RESTART steps after a rollback */
  ST_RECHECK,  /* verify RD_KIND_CHECK steps against the old certificate */
  ST_DIAGNOSE, /* remediation: check the follow-ups against the live certificate */
  ST_REPAIR,   /* remediation: fix what the diagnosis found, without renewing */
  ST_REPROBE,  /* the inventory probe again, under the host's lease (lease.c) */
  ST_WINDOW,   /* the issuer's probe asks the CA's renewal window (window.c) */
  ST_DOCTOR,   /* doctor: every step's probe, whatever failed before */
  ST_END
};

struct rd_step {
  rd_job *j;
  size_t index;
  const rd_step_kind *kind;
  const json_t *params;      /* borrowed: the runbook's params or {} */
  const char *name;
  size_t cert;               /* the certificate whose facts and sections it sees
                                (certs.c); host-level steps: their bound one, else 0 */
  int per_cert;              /* inventory, issuer, install or a certificate's own step */
  int skip;                  /* its certificate is not renewed by this job */
  json_t *facts;             /* borrowed: j->cfacts[cert] */
  const char *jprefix;       /* journal values: "NAME/" (several certificates) or "" */
  char *owned_name;          /* "rsa: issue" (several certificates), freed with the job */
  long timeout_ms;
  rd_phase phase;
  int busy;                  /* a phase is running */
  unsigned serial;           /* bumps per phase; stale completions dropped */
  rd_call *calls;            /* operations in flight (host API) */
  int ignoring;              /* > 0: done() and new calls are ignored (cancel
                                hook, a stale work's after()) */
  int applied;               /* apply started: rollback needed on failure */
  int status;                /* last phase's status */
  int finding;               /* remediation: the diagnosis found something here */
  void *data;
  void (*data_free)(void *);
  uv_timer_t timer;
  int timer_ready;
  uint64_t t0;
  json_t *report;            /* {"name","type","phases":{probe:{...},...}} */
  struct rd_phase_group *group; /* runs this phase with other steps (phase.c) */
  rd_step *rec_next;         /* the job's steps whose records are being committed (step.c) */
};

struct rd_job {
  rd_engine *e;
  const rd_runbook *rb;
  const rd_target *t;
  rd_ssh_target st;
  char *passphrase;
  json_t *facts;             /* host-level facts: those of its first certificate */
  json_t **cfacts;           /* each certificate's facts (cfacts[0] == facts) */
  unsigned char *csel;       /* the certificates this job renews (certs.c) */
  size_t ncerts, ninv;       /* steps[0 .. ninv-1]: one inventory per certificate */
  rd_step *steps;
  size_t nsteps;
  size_t idx;
  enum rd_stage stage;
  int64_t id;                /* journal job id, 0 in whatif / not due */
  rd_job_state state;
  rd_outcome outcome;
  int started, finished, queued;
  int setup_failed;          /* could not be prepared (error says why): fails
                                when its turn comes, before any connection */
  int cleanup;               /* issuer staging being cleaned after a failure */
  int journal_failed;        /* a write of this job to the journal failed: it stops as a
                              * crash would, the next run resumes (rd_job_journal_failed) */
  int rollback_owed;         /* a rollback failed transiently: job.c keeps it ROLLING_BACK */
  int repair_phase;          /* remediation: 0 drifted steps, 1 restarts, 2 checks */
  rd_wave_set *waves;        /* its runbook's waves */
  int holds_slot;            /* counted in rd_engine.running */
  int counted_probe;         /* its inventory decision reached the waves */
  int wave_ready;            /* admitted by its wave, waiting for a slot */
  int wave_started;          /* its renewal started */
  int64_t resume_id;         /* an interrupted journal job to continue */
  int resume_asked;          /* the journal was asked for it (interrupted_job) */
  rd_job_state resume_state;
  int64_t lease_epoch;       /* > 0: holds its host's lease (lease.c) */
  int lease_lost;            /* the heartbeat found it taken over */
  int lease_reprobe;         /* another job changed the host since its probe */
  int lease_claiming;        /* its claim is being committed (lease.c): the job waits */
  void (*leased)(rd_job *j, int rc); /* ... then goes on here */
  int lease_releasing;       /* its releases being committed (the run waits for them) */
  int opening;               /* its journal job being opened (jobopen.c): the job waits */
  void (*opened)(rd_job *j, int rc); /* ... then goes on here */
  json_t *kv;                /* whatif: in-memory journal values */
  json_t *report;
  char error[1024];
  int fail_status;
  struct rd_cork *cork;      /* remote calls held for one batch (host/batch.h) */
  int moving;                /* a transition is being committed: the job waits (jobmove.c) */
  rd_job_state moving_to;
  void (*then)(rd_job *j);   /* ... then goes on here, */
  void (*fail)(rd_job *j);   /* ... or here when the journal refused */
  time_t end_next_try;       /* rd_job_end's retry policy, for its fallback */
  rd_step *rec_head, *rec_tail; /* steps waiting for their phase's record (step.c) */
  int writes;                /* a plugin's journal writes not yet committed (jobwrite.c) */
  int writes_err;            /* one failed: the job stops there (nothing more is sent) */
  json_t *pending_kv;        /* the values of those writes, for journal_get (or NULL) */
  /* The job's values journal_get learnt (its own writes, what the journal
   * answered; null: none), so it asks the journal once per key at most --
   * every value is the job's own: its host's lease keeps other writers
   * out. kv_complete: a job created by this run has no value it did not
   * write. */
  json_t *kv_known;
  int kv_complete;
  rd_call *held_head, *held_tail; /* calls held until those writes are committed */
  struct rd_phase_group *waiting; /* a group of steps waiting for a transition's commit
                              * (phase.c): freed with the job if the engine goes first */
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
  int notifying;             /* webhook posts and mails in flight */
  int shutting_down;
  int closing;               /* ssh/http managers still closing */
  int handles;               /* step timers closing, work in flight, the kick */
  int started;               /* rd_engine_start ran */
  int done_called;
  uv_timer_t kick;           /* starts the run on the loop, never inside start */
  rd_lease_owner lease_owner; /* this process, in the host leases */
  int lease_ttl;             /* seconds (lease.c) */
  time_t lease_t0;           /* when the engine was made: its probes came after */
  uv_timer_t lease_timer;    /* the leases' heartbeat, while any is held */
  int lease_timer_on;
  struct rd_lease_beat *beat; /* the heartbeat asked asynchronously, unanswered */
  rd_engine_done_fn done;    /* rd_engine_start's callback */
  void *done_arg;
};

extern const rd_host_api rd_host_api_v1;

/* step.c: a step's phase finished (called by the host API's done); ignored
 * when the step is not running a phase or while s->ignoring. */
void rd_engine_step_done(rd_step *s, int status, json_t *result, const char *msg);
/* step.c: run one phase of a step (its completion comes back through
 * rd_engine_step_done, or as a timeout after s->timeout_ms). */
void rd_step_run(rd_step *s, rd_phase phase);
/* The step's failed phase is the job's cause (its first), as a step that
 * runs alone makes it. */
void rd_step_blame(rd_step *s);
/* phase.c: the same phase of several steps at once, their scripts in one
 * remote execution. rd_phase_probes: the probes of steps idx.. (whatif, the
 * pre-flight); rd_phase_followups: 1 when it started the follow-ups from idx
 * up to the next RESTART step as a group, 0 when one step runs alone. */
void rd_phase_probes(rd_job *j);
int rd_phase_followups(rd_job *j);
/* 1 when it started the install's verify (step idx) together with the
 * probes of the follow-ups after it (up to and with the next restart). */
int rd_phase_after_install(rd_job *j);
void rd_phase_member_done(rd_step *s);
const char *rd_phase_name(rd_phase p);
/* step.c: close a finished job's step timers (counted in e->handles). */
void rd_steps_close(rd_job *j);
/* job.c: where to go after a step's phase completed; start the renewal of a
 * due job; end a job (jobmove.c: journal state + backoff), finish it (report, stats,
 * slot, stats, notification); rd_job_finish_as with an outcome other than
 * the journal state (NOT_DUE, HELD...). */
void rd_job_next(rd_job *j);
void rd_job_start_renewal(rd_job *j);
void rd_job_end(rd_job *j, rd_job_state final);
void rd_job_finish(rd_job *j);
void rd_job_finish_as(rd_job *j, rd_outcome outcome);
/* job.c: the report's name of how the job ended ("DONE", "HELD"...). */
const char *rd_job_outcome_name(const rd_job *j);
/* build.c: free one job (not linked, or the engine's list). */
void rd_job_free(rd_job *j);
/* build.c: a plan's verdict on a due job: WOULD_RENEW, or NEEDS_OPERATOR
 * for a certificate renewd cannot renew itself (issuer "manual"). */
void rd_job_plan_end(rd_job *j);
/* build.c: `renewd inventory`'s end of a job: what each certificate's
 * inventory found, in the report and (when one is open) the journal. */
void rd_job_inventoried(rd_job *j);
/* engine.c: start what may start (renewals admitted by their wave first,
 * then probes), shut the transports down when nothing is left. */
void rd_engine_pump(rd_engine *e);
/* engine.c: one engine-owned handle or request fewer (e->handles); may end
 * the run (rd_engine_start's done may free the engine: touch nothing after). */
void rd_engine_handle_closed(rd_engine *e);
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
void rd_notify_expiry(rd_job *j, const json_t *cert); /* each certificate of the job */
/* remediate.c: after the inventory probe in remediation mode; then each
 * completion in ST_DIAGNOSE / ST_REPAIR. */
void rd_remediate_begin(rd_job *j);
void rd_remediate_next(rd_job *j);
/* doctor.c: every completion of a doctor run (whatif + opts.doctor); the
 * job ends READY or NOT_READY with its "checks" in the report. */
void rd_doctor_next(rd_job *j);
/* jobmove.c: commit a state change (skips states a resumed job is past); the
 * only way a job changes state (plugins ask through set_state). */
int rd_job_move(rd_job *j, rd_job_state to, const char *error);
void rd_job_journal_failed(rd_job *j, int rc);
/* jobmove.c: rd_job_move, then then(j) -- or, refused (j->error says why),
 * fail(j) (NULL: rd_job_end FAILED). On PostgreSQL the commit runs off the
 * loop and the job waits for it (j->moving): then/fail run from the loop,
 * never before the transition is committed; else before this returns. */
typedef void (*rd_job_then_fn)(rd_job *j);
void rd_job_move_then(rd_job *j, rd_job_state to, const char *error, time_t next_try,
                      rd_job_then_fn then, rd_job_then_fn fail);
/* jobmove.c: a step kind's set_state: only the issuer's CA-transaction states
 * (KEY_READY, REQUESTED, PENDING_CA), only along a legal edge, only from a
 * running phase; RD_ESTATE (logged) when refused. */
int rd_job_request_state(rd_step *s, rd_job_state to);
/* jobwrite.c: a plugin's journal_put / journal_get (s's certificate's
 * values); on PostgreSQL a put is queued on the journal's ordered
 * asynchronous calls and answered 0 at once, and the step's next call
 * waits for it (rd_job_hold_call). */
int rd_job_journal_put(rd_step *s, const char *key, const json_t *value);
json_t *rd_job_journal_get(rd_step *s, const char *key);
/* set_state's transition to on that queue (the job's state moves at once
 * in memory): 0, RD_ENOTSUP (no asynchronous journal, or the queue could
 * not take it with nothing of the job before it: the caller commits
 * synchronously) or an error (an earlier write's failure). */
int rd_job_write_state(rd_job *j, rd_job_state to);
/* c (linked in its step) waits while j has writes pending: 1 held (c->
 * release runs later, once), 0 go now, or the error of a write that
 * failed (nothing more is sent: the caller refuses the call). */
int rd_job_hold_call(rd_job *j, rd_call *c, void (*release)(rd_call *c, int err));
/* key = value in j's journal job (unfenced), queued as a plugin's put
 * (0) or synchronously (SQLite): the journal's error as it is. */
int rd_job_write_kv(rd_job *j, const char *key, const json_t *value);
/* jobopen.c: j's journal job opened or resumed, then then(j, rc) once
 * (rc 0: j->id and j->state set, PROBED committed unless the job resumes
 * an owed rollback; else j->error says why). */
void rd_job_open_journal(rd_job *j, void (*then)(rd_job *j, int rc));
/* job.c: forget the job's error and cause (remediation: a finding is not a
 * failure). */
void rd_job_clear_error(rd_job *j);
/* window.c: before the due decision, the probe of an issuer that may get the
 * renewal window from its CA (RD_KIND_WINDOW): 1 when started (ST_WINDOW;
 * rd_window_asked continues), 0 when there is nothing to ask. */
int rd_window_ask(rd_job *j);
void rd_window_asked(rd_job *j);
/* hostapi.c */
void rd_step_log(rd_step *s, rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* hostapi.c: a phase timed out: ask the transports to cancel the step's
 * operations in flight (their completions are dropped either way). */
void rd_host_cancel_calls(rd_step *s);
/* lease.c: one job per host at a time (docs/JOURNAL.md, "Host leases").
 * rd_lease_host_busy: another job of this engine holds j's host. take:
 * before the first mutating step; RD_EBUSY (j->error and the report's
 * "busy" name the holder) when another process holds it. release: at the
 * job's end (no-op without a lease). lost: the heartbeat found the lease
 * taken over (j->error set): the job must stop. stop: close the heartbeat
 * at the engine's end. */
#define RD_LEASE_TTL_S 300
void rd_lease_init(rd_engine *e);
int rd_lease_host_busy(const rd_engine *e, const rd_job *j);
/* Claim j's host's lease, then then(j, rc) once: 0 held, RD_EBUSY
 * (another holder, reported), or an error (j->error says it). On
 * PostgreSQL the claim commits off the loop and the job waits. */
void rd_lease_take(rd_job *j, const char *what, void (*then)(rd_job *j, int rc));
void rd_lease_release(rd_job *j);
int rd_lease_lost(rd_job *j);
/* the fence of j's journal writes while it holds its lease; NULL without */
const rd_lease_fence *rd_lease_fence_of(rd_job *j, rd_lease_fence *f);
/* a fenced write was refused: is the lease gone? (sets lease_lost) */
void rd_lease_check(rd_job *j);
/* stop the heartbeat: its timer closes, a beat unanswered is cancelled (its
 * answer never touches the jobs) */
void rd_lease_stop(rd_engine *e);
/* certs.c: the job's certificates (docs/RUNBOOKS.md, "Several
 * certificates"). due: after the inventory, which certificates are due,
 * which this job renews (csel: 'together', --force), the due facts and
 * report; returns whether any is. select: mark the steps of certificates
 * not renewed as skipped, and their facts.expect = the live certificate.
 * next_live: the first step from i on that is not skipped. cert_id: the
 * journal's name for the job's certificates. kv_key: a journal value's
 * key for certificate c. selection_put / selection_get: the selection,
 * kept with the journal job (id) so that a resumed job renews the same
 * certificates (all of them when none was kept). */
int rd_certs_due(rd_job *j);
/* A due job whose inventory did not check a key (core/certs.c): 1 when
 * the inventory probes must run again with facts.check_keys (then set). */
int rd_certs_keys_owed(rd_job *j);
void rd_certs_select(rd_job *j);
size_t rd_certs_next_live(const rd_job *j, size_t i);
void rd_certs_id(const rd_job *j, char *buf, size_t len);
void rd_certs_kv_key(const rd_job *j, size_t c, const char *key, char *buf, size_t len);
int rd_certs_selection_put(rd_job *j);
void rd_certs_selection_get(rd_job *j, int64_t id);
/* the certificates' live (new after a renewal) certificates in the report */
void rd_certs_report_live(rd_job *j);
/* report.c */
void rd_report_print_text(FILE *f, json_t *report, int whatif);
/* report.c: `renewd inventory`'s table of the report. */
void rd_report_print_inventory(FILE *f, const json_t *report);

#endif
