/* jobstate.c — the job state machine: names, the transition table and the
 * resume rule. docs/JOURNAL.md shows the same table; keep them in step. */
#include "core/jobstate.h"

#include <string.h>
#include <strings.h>

static const struct {
  const char *name;
  signed char rank;
  unsigned char terminal, failed;
} info[RD_JOB_NSTATES] = {
#define RD_JS_INFO(id, name, rank, terminal, failed) {name, rank, terminal, failed},
    RD_JOB_STATE_MAP(RD_JS_INFO)
#undef RD_JS_INFO
};

#define B(s) (1u << RD_JOB_##s)
/* Non-terminal states that may be abandoned with FAILED. */
#define ANY_FAIL B(FAILED)

/* edges[from] = bit set of the states reachable in one transition. */
static const unsigned edges[RD_JOB_NSTATES] = {
    /* A job that has not probed yet can only learn something (PROBED), find
     * the target beyond automatic renewal (NEEDS_OPERATOR), or fail. */
    [RD_JOB_DUE] = B(PROBED) | B(NEEDS_OPERATOR) | ANY_FAIL,
    /* KEY_READY is skipped when the policy reuses the current key
     * (rotate_key = false): PROBED -> REQUESTED. PROBED -> DONE: the job's
     * own probe found nothing left to do (the certificate was renewed by
     * someone else after the scan that queued the job). */
    [RD_JOB_PROBED] = B(KEY_READY) | B(REQUESTED) | B(DONE) | B(NEEDS_OPERATOR) | ANY_FAIL,
    [RD_JOB_KEY_READY] = B(REQUESTED) | ANY_FAIL,
    [RD_JOB_REQUESTED] = B(ISSUED) | B(PENDING_CA) | ANY_FAIL,
    /* Polling with the stored transaction id / RequestId: issued, denied
     * (FAILED), or back to REQUESTED when the CA asks for the same request
     * again (SCEP GetCertInitial with the same transactionID). */
    [RD_JOB_PENDING_CA] = B(REQUESTED) | B(ISSUED) | ANY_FAIL,
    /* From ISSUED on, something may have changed on the target: every
     * state can roll back. */
    [RD_JOB_ISSUED] = B(INSTALLED) | B(ROLLING_BACK) | ANY_FAIL,
    /* INSTALLED -> VERIFIED: a runbook with no follow-up steps. */
    [RD_JOB_INSTALLED] = B(FOLLOWUPS) | B(VERIFIED) | B(ROLLING_BACK) | ANY_FAIL,
    [RD_JOB_FOLLOWUPS] = B(VERIFIED) | B(ROLLING_BACK) | ANY_FAIL,
    [RD_JOB_VERIFIED] = B(DONE) | B(ROLLING_BACK) | ANY_FAIL,
    [RD_JOB_ROLLING_BACK] = B(ROLLED_BACK) | ANY_FAIL,
    /* Terminal states have no way out. */
    [RD_JOB_DONE] = 0,
    [RD_JOB_FAILED] = 0,
    [RD_JOB_ROLLED_BACK] = 0,
    [RD_JOB_NEEDS_OPERATOR] = 0,
};
#undef B
#undef ANY_FAIL

static int valid(int s) { return s >= 0 && s < RD_JOB_NSTATES; }

const char *rd_job_state_name(rd_job_state s) {
  return valid((int)s) ? info[s].name : "?";
}

int rd_job_state_parse(const char *name) {
  if (!name)
    return -1;
  for (int i = 0; i < RD_JOB_NSTATES; i++)
    if (!strcasecmp(info[i].name, name))
      return i;
  return -1;
}

int rd_job_state_terminal(rd_job_state s) {
  return valid((int)s) ? info[s].terminal : 0;
}

int rd_job_state_failed(rd_job_state s) {
  return valid((int)s) ? info[s].failed : 0;
}

int rd_job_state_rank(rd_job_state s) {
  return valid((int)s) ? info[s].rank : -1;
}

int rd_job_state_behind(rd_job_state from, rd_job_state to) {
  int rf = rd_job_state_rank(from), rt = rd_job_state_rank(to);
  return rf >= 0 && rt >= 0 && rt < rf;
}

int rd_job_transition_ok(rd_job_state from, rd_job_state to) {
  if (!valid((int)from) || !valid((int)to) || from == to)
    return 0;
  return (edges[from] >> to) & 1u;
}

rd_job_state rd_job_resume_state(rd_job_state s) {
  switch (s) {
  /* The new key lives on the target and may not have survived the outage
   * (a reboot, a cleaned temp dir): redo key generation, whose probe finds
   * and keeps a key that is still there. */
  case RD_JOB_KEY_READY:
    return RD_JOB_PROBED;
  /* REQUESTED / PENDING_CA keep their CA transaction (journal kv): they
   * poll with it and never submit a second request. ISSUED keeps the
   * certificate (kv). INSTALLED..VERIFIED and ROLLING_BACK resume where they
   * were; each step's probe recognises what already took effect. */
  default:
    return s;
  }
}

