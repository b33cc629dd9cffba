/* jobstate.h — the job state machine (ARCHITECTURE.md):
 *   DUE -> PROBED -> KEY_READY -> REQUESTED -> ISSUED -> INSTALLED ->
 *   FOLLOWUPS -> VERIFIED -> DONE
 * with FAILED, ROLLED_BACK, PENDING_CA and NEEDS_OPERATOR.
 * The transition table lives in jobstate.c and is drawn in docs/JOURNAL.md. */
#ifndef RENEWD_JOBSTATE_H
#define RENEWD_JOBSTATE_H

#define RD_JOB_STATE_MAP(X)                                                    \
  X(DUE, "DUE", 0)                                                             \
  X(PROBED, "PROBED", 0)                                                       \
  X(KEY_READY, "KEY_READY", 0)                                                 \
  X(REQUESTED, "REQUESTED", 0)                                                 \
  X(PENDING_CA, "PENDING_CA", 0)                                               \
  X(ISSUED, "ISSUED", 0)                                                       \
  X(INSTALLED, "INSTALLED", 0)                                                 \
  X(FOLLOWUPS, "FOLLOWUPS", 0)                                                 \
  X(VERIFIED, "VERIFIED", 0)                                                   \
  X(ROLLING_BACK, "ROLLING_BACK", 0)                                           \
  X(DONE, "DONE", 1)                                                           \
  X(FAILED, "FAILED", 1)                                                       \
  X(ROLLED_BACK, "ROLLED_BACK", 1)                                             \
  X(NEEDS_OPERATOR, "NEEDS_OPERATOR", 1)

typedef enum rd_job_state {
#define RD_JS_GEN(id, name, terminal) RD_JOB_##id,
  RD_JOB_STATE_MAP(RD_JS_GEN)
#undef RD_JS_GEN
  RD_JOB_NSTATES
} rd_job_state;

/* "DUE"; "?" for a value outside the enum. */
const char *rd_job_state_name(rd_job_state s);
/* -1 when the name is unknown (case-insensitive). */
int rd_job_state_parse(const char *name);
int rd_job_state_terminal(rd_job_state s);
/* Is from -> to a legal transition? (Staying in a state is not a transition.) */
int rd_job_transition_ok(rd_job_state from, rd_job_state to);
/* Where a job interrupted in state s resumes after a restart: it re-probes
 * and continues from the last committed state; a job interrupted while
 * mutating the target (INSTALLED..VERIFIED) resumes there, its steps'
 * probes recognising what already took effect.
 * Identity for every state but KEY_READY -> PROBED (the new key is re-checked
 * on the target); REQUESTED and PENDING_CA keep their CA transaction, so a
 * resumed job polls and never submits a second request. Terminal states
 * map to themselves. */
rd_job_state rd_job_resume_state(rd_job_state s);

#endif
