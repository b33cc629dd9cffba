/* phase.c — the same phase of several steps of one job at once, so that
 * their remote scripts reach the host as one execution (host/batch.h).
 *
 * Two places group steps:
 *
 * - the probes after the inventory (whatif, and a renewal's pre-flight):
 *   every probe is read-only and none needs another's answer, so all of
 *   them run together;
 * - the follow-ups after the install, up to the next RESTART step (a
 *   service reload must see the files the steps before it changed): their
 *   probes, then their applies (in step order, in one shell), then their
 *   verifies.
 *
 * Each step keeps its own phase call, timer, serial, result and message.
 * When a group ends, the first failure in step order is the job's cause,
 * exactly as if the steps had run one after another, and the job goes on
 * through rd_job_next as before: a failed probe ends the pre-flight or
 * rolls back; a failed apply or verify rolls back every step of the group
 * that was applied (last first) and every earlier applied step. */
#include <stdio.h>
#include <stdlib.h>

#include "core/engine_int.h"
#include "host/batch.h"

typedef struct rd_phase_group group;
typedef void (*group_end_fn)(group *g);

struct rd_phase_group {
  rd_job *j;
  size_t from, to;  /* steps [from, to) */
  size_t pending;   /* phase calls not completed, +1 while starting */
  group_end_fn end; /* runs the next phase on g, or frees g and goes on */
};

static void group_release(group *g) {
  rd_job *j = g->j;
  if (--g->pending)
    return;
  for (size_t k = g->from; k < g->to; k++)
    j->steps[k].group = NULL;
  if (j->finished || rd_lease_lost(j)) { /* rd_job_next says why and stops */
    free(g);
    if (!j->finished)
      rd_job_next(j);
    return;
  }
  g->end(g);
}

void rd_phase_member_done(rd_step *s) { group_release(s->group); }

static group *group_new(rd_job *j, size_t from, size_t to) {
  group *g = calloc(1, sizeof *g);
  if (g) {
    g->j = j;
    g->from = from;
    g->to = to;
  }
  return g;
}

/* Start phase on the group's steps together; end() once all completed. */
static void group_run(group *g, rd_phase phase, group_end_fn end) {
  rd_job *j = g->j;
  g->end = end;
  g->pending = 1;
  rd_host_cork(j);
  for (size_t k = g->from; k < g->to && !j->finished; k++) {
    rd_step *s = &j->steps[k];
    s->group = g;
    s->status = 0;
    g->pending++;
    rd_step_run(s, phase);
  }
  rd_host_uncork(j);
  group_release(g);
}

/* The first failed step of [from, to) in step order that counts, or NULL. */
static rd_step *first_failed(rd_job *j, size_t from, size_t to, int exempt_checks) {
  for (size_t k = from; k < to; k++) {
    rd_step *s = &j->steps[k];
    if (s->status && !(exempt_checks && !s->kind->apply))
      return s;
  }
  return NULL;
}

/* --- the probes after the inventory -------------------------------------- */

static void probes_end(group *g) {
  rd_job *j = g->j;
  size_t from = g->from, to = g->to;
  free(g);
  /* a pure check's failed pre-flight probe does not stop a renewal (its
   * verify after the install decides); in whatif every failure counts */
  rd_step *s = first_failed(j, from, to, !j->e->opts.whatif);
  if (s) {
    rd_step_blame(s);
    j->idx = s->index;
  } else {
    j->idx = to - 1; /* as if the last probe just completed */
  }
  rd_job_next(j);
}

void rd_phase_probes(rd_job *j) {
  group *g = j->idx + 1 < j->nsteps ? group_new(j, j->idx, j->nsteps) : NULL;
  if (!g) { /* one step left (or no memory): as ever */
    rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
    return;
  }
  group_run(g, RD_PHASE_PROBE, probes_end);
}

/* --- the follow-ups after the install ------------------------------------ */

static int followup(const rd_step *s) {
  return !(s->kind->flags &
           (RD_KIND_INVENTORY | RD_KIND_ISSUER | RD_KIND_INSTALL | RD_KIND_RESTART));
}

/* A failed apply or verify: every step of the group may be changed, so the
 * rollback walks down from the group's last step (job.c, ST_ROLLBACK). */
static void followups_roll_back(rd_job *j, rd_step *failed, size_t to) {
  rd_step_blame(failed);
  if (rd_job_move(j, RD_JOB_ROLLING_BACK, j->error)) {
    rd_job_end(j, RD_JOB_FAILED);
    return;
  }
  j->stage = ST_ROLLBACK;
  j->idx = to;
  rd_job_next(j);
}

static void followups_verified(group *g) {
  rd_job *j = g->j;
  size_t from = g->from, to = g->to;
  rd_step *s = first_failed(j, from, to, 0);
  free(g);
  if (s) {
    followups_roll_back(j, s, to);
    return;
  }
  j->idx = to - 1; /* as if the last step's verify just completed */
  rd_job_next(j);
}

static void followups_applied(group *g) {
  rd_job *j = g->j;
  rd_step *s = first_failed(j, g->from, g->to, 0);
  if (s) {
    size_t to = g->to;
    free(g);
    followups_roll_back(j, s, to);
    return;
  }
  group_run(g, RD_PHASE_VERIFY, followups_verified);
}

static void followups_probed(group *g) {
  rd_job *j = g->j;
  rd_step *s = first_failed(j, g->from, g->to, 0);
  if (s) { /* nothing of the group was applied: as a step's failed probe */
    free(g);
    rd_step_blame(s);
    j->idx = s->index;
    rd_job_next(j);
    return;
  }
  if (rd_job_state_behind(RD_JOB_FOLLOWUPS, j->state) && rd_job_move(j, RD_JOB_FOLLOWUPS, NULL)) {
    free(g);
    rd_job_end(j, RD_JOB_FAILED);
    return;
  }
  group_run(g, RD_PHASE_APPLY, followups_applied);
}

int rd_phase_followups(rd_job *j) {
  size_t from = j->idx, to = from;
  while (to < j->nsteps && followup(&j->steps[to]))
    to++;
  group *g = to - from >= 2 ? group_new(j, from, to) : NULL;
  if (!g)
    return 0; /* one step (or no memory): one after another, as ever */
  group_run(g, RD_PHASE_PROBE, followups_probed);
  return 1;
}
