/* jobstate.h — the job state machine (ARCHITECTURE.md):
 *   DUE -> PROBED -> KEY_READY -> REQUESTED -> ISSUED -> INSTALLED ->
 *   FOLLOWUPS -> VERIFIED -> DONE
 * with FAILED, ROLLED_BACK, PENDING_CA and NEEDS_OPERATOR.
 * The transition table lives in jobstate.c and is drawn in docs/JOURNAL.md. */
#ifndef RENEWD_JOBSTATE_H
#define RENEWD_JOBSTATE_H

/* X(id, name, rank, terminal, failed):
 *   rank     position on the forward path DUE..VERIFIED (PENDING_CA shares
 *            REQUESTED's); -1 off that path (ROLLING_BACK and the ends). A
 *            resumed job never moves back to a lower rank.
 *   terminal a job in this state is over.
 *   failed   the renewal did not happen and was not merely waiting: the
 *            ends the retry policy backs off from (FAILED, ROLLED_BACK). */
#define RD_JOB_STATE_MAP(X)                                                    \
  X(DUE, "DUE", 0, 0, 0)                                                       \
  X(PROBED, "PROBED", 1, 0, 0)                                                 \
  X(KEY_READY, "KEY_READY", 2, 0, 0)                                           \
  X(REQUESTED, "REQUESTED", 3, 0, 0)                                           \
  X(PENDING_CA, "PENDING_CA", 3, 0, 0)                                         \
  X(ISSUED, "ISSUED", 4, 0, 0)                                                 \
  X(INSTALLED, "INSTALLED", 5, 0, 0)                                           \
  X(FOLLOWUPS, "FOLLOWUPS", 6, 0, 0)                                           \
  X(VERIFIED, "VERIFIED", 7, 0, 0)                                             \
  X(ROLLING_BACK, "ROLLING_BACK", -1, 0, 0)                                    \
  X(DONE, "DONE", -1, 1, 0)                                                    \
  X(FAILED, "FAILED", -1, 1, 1)                                                \
  X(ROLLED_BACK, "ROLLED_BACK", -1, 1, 1)                                      \
  X(NEEDS_OPERATOR, "NEEDS_OPERATOR", -1, 1, 0)

typedef enum rd_job_state {
#define RD_JS_GEN(id, name, rank, terminal, failed) RD_JOB_##id,
  RD_JOB_STATE_MAP(RD_JS_GEN)
#undef RD_JS_GEN
  RD_JOB_NSTATES
} rd_job_state;

/* "DUE"; "?" for a value outside the enum. */
const char *rd_job_state_name(rd_job_state s);
/* -1 when the name is unknown (case-insensitive). */
int rd_job_state_parse(const char *name);
int rd_job_state_terminal(rd_job_state s);
/* The failed flag of the map (0 outside the enum). */
int rd_job_state_failed(rd_job_state s);
/* The rank of the map; -1 off the forward path or outside the enum. */
int rd_job_state_rank(rd_job_state s);
/* Is `to` behind `from` on the forward path (both on it)? A resumed job
 * that is already further along ignores such a move. */
int rd_job_state_behind(rd_job_state from, rd_job_state to);
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
