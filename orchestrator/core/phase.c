/* phase.c — the same phase of several steps of one job at once, so that
 * their remote scripts reach the host as one execution (host/batch.h).
 *
 * Only POSIX kinds are grouped (their scripts are what a batch can carry);
 * the others run one after another, as they always did. Three places
 * group steps:
 *
 * - the probes after the inventory (whatif, and a renewal's pre-flight):
 *   every probe is read-only and none needs another's answer, so all of
 *   them run together;
 * - after the install's apply: its verify together with the probes of the
 *   follow-ups up to and including the next RESTART step (all read-only,
 *   all after the new files are in place);
 * - the follow-ups up to the next RESTART step (a service reload must see
 *   the files the steps before it changed): their probes (with the
 *   restart's), then their applies (in step order, in one shell), then
 *   their verifies; then the restart's apply and verify as ever.
 *
 * Each step keeps its own phase call, timer, serial, result and message.
 * When a round ends, the first failure in step order is the job's cause,
 * exactly as if the steps had run one after another, and the job goes on
 * through rd_job_next as before: a failed probe ends the pre-flight or
 * rolls back; a failed apply or verify rolls back every step of the group
 * that was applied (last first) and every earlier applied step. */
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "core/engine_int.h"
#include "host/batch.h"

typedef struct rd_phase_group group;
typedef void (*group_end_fn)(group *g);

struct rd_phase_group {
  rd_job *j;
  size_t from, to;  /* this round's steps [from, to) */
  size_t fu_from, fu_to; /* the follow-ups (their applies and verifies) */
  int lead;         /* steps[from] is the install: it verifies meanwhile */
  int restart;      /* steps[fu_to] is a restart probed with the follow-ups */
  size_t pending;   /* phase calls not completed, +1 while starting */
  group_end_fn end; /* runs the next round on g, or frees g and goes on */
};

static void group_release(group *g) {
  rd_job *j = g->j;
  if (--g->pending)
    return;
  for (size_t k = g->from; k < g->to; k++)
    j->steps[k].group = NULL; /* skipped steps never had one */
  /* rd_job_next says why and stops (a lost lease, a journal that failed) */
  if (j->finished || rd_lease_lost(j) || j->journal_failed) {
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

/* Start phase on steps [from, to) together (the lead, if any, verifies);
 * end() once all completed. */
static void group_run(group *g, size_t from, size_t to, rd_phase phase, group_end_fn end) {
  rd_job *j = g->j;
  g->from = from;
  g->to = to;
  g->end = end;
  g->pending = 1;
  rd_host_cork(j);
  for (size_t k = g->from; k < g->to && !j->finished; k++) {
    rd_step *s = &j->steps[k];
    if (s->skip) /* a certificate this job does not renew (certs.c) */
      continue;
    s->group = g;
    s->status = 0;
    g->pending++;
    rd_step_run(s, g->lead && k == from ? RD_PHASE_VERIFY : phase);
  }
  rd_host_uncork(j);
  group_release(g);
}

/* The first failed step of [from, to) in step order that counts, or NULL;
 * a step that timed out first: its timeout stopped the batch, and the
 * others' failures only say so (host/batch.c). */
static rd_step *first_failed(rd_job *j, size_t from, size_t to, int exempt_checks) {
  rd_step *first = NULL;
  for (size_t k = from; k < to; k++) {
    rd_step *s = &j->steps[k];
    if (s->skip || !s->status || (exempt_checks && !s->kind->apply))
      continue;
    if (s->status == RD_ETIMEDOUT)
      return s;
    if (!first)
      first = s;
  }
  return first;
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

/* Steps whose scripts can share an execution: POSIX kinds, and Windows
 * kinds unless RENEWD_WINDOWS_BATCH=0 (host/batch.c; the others run one
 * after another, as ever). */
static int batchable(const rd_step *s) {
  return s->kind->platform == RD_PLATFORM_POSIX ||
         (s->kind->platform == RD_PLATFORM_WINDOWS && rd_batch_windows_on());
}

/* An inventory's answer decides what follows (the due decision waits for
 * every certificate's): it runs alone and ends a group. */
void rd_phase_probes(rd_job *j) {
  size_t to = j->idx;
  while (to < j->nsteps && batchable(&j->steps[to]) &&
         !(j->steps[to].kind->flags & RD_KIND_INVENTORY))
    to++;
  group *g = to > j->idx + 1 ? group_new(j, j->idx, to) : NULL;
  if (!g) { /* one step alone (or no memory): as ever */
    rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
    return;
  }
  group_run(g, g->from, g->to, RD_PHASE_PROBE, probes_end);
}

/* --- the follow-ups after the install ------------------------------------ */

static int followup(const rd_step *s) {
  return batchable(s) && !(s->kind->flags & (RD_KIND_INVENTORY | RD_KIND_ISSUER |
                                             RD_KIND_INSTALL | RD_KIND_RESTART));
}

/* The follow-ups from step `from` up to the next restart, and that restart
 * (its probe joins theirs): a group of at least min steps, or NULL. */
static group *followups_new(rd_job *j, size_t from, size_t min) {
  size_t to = from;
  while (to < j->nsteps && followup(&j->steps[to]))
    to++;
  size_t end = to + (to < j->nsteps && batchable(&j->steps[to]) &&
                     (j->steps[to].kind->flags & RD_KIND_RESTART));
  group *g = end - from >= min && end > from ? group_new(j, from, end) : NULL;
  if (g) {
    g->fu_from = from;
    g->fu_to = to;
    g->restart = end > to;
  }
  return g;
}

/* The transitions below go through rd_job_move_then (jobmove.c): on
 * PostgreSQL the job waits for the commit, the group in j->waiting, and
 * goes on in these continuations; refused, the job fails and the group
 * is freed. */
static group *unwait(rd_job *j) {
  group *g = (group *)j->waiting;
  j->waiting = NULL;
  return g;
}

static void wait_refused(rd_job *j) {
  free(unwait(j));
  rd_job_end(j, RD_JOB_FAILED);
}

static void rollback_committed(rd_job *j) {
  j->stage = ST_ROLLBACK; /* from j->idx down (job.c, ST_ROLLBACK) */
  rd_job_next(j);
}

/* A failed apply or verify: every follow-up of the group may be changed,
 * so the rollback walks down from the last one (job.c, ST_ROLLBACK). */
static void followups_roll_back(group *g, rd_step *failed) {
  rd_job *j = g->j;
  j->idx = g->fu_to;
  free(g);
  rd_step_blame(failed);
  rd_job_move_then(j, RD_JOB_ROLLING_BACK, j->error, 0, rollback_committed, NULL);
}

static void followups_committed(rd_job *j);
static void installed_committed(rd_job *j);

static void followups_verified(group *g) {
  rd_job *j = g->j;
  rd_step *s = first_failed(j, g->from, g->to, 0);
  if (s) {
    followups_roll_back(g, s);
    return;
  }
  /* the restart probed already: its apply next; else as if the last
   * follow-up's verify just completed */
  j->idx = g->restart ? g->fu_to : g->fu_to - 1;
  free(g);
  rd_job_next(j);
}

static void followups_applied(group *g) {
  rd_step *s = first_failed(g->j, g->from, g->to, 0);
  if (s) {
    followups_roll_back(g, s);
    return;
  }
  group_run(g, g->fu_from, g->fu_to, RD_PHASE_VERIFY, followups_verified);
}

static void followups_probed(group *g) {
  rd_job *j = g->j;
  rd_step *s = first_failed(j, g->from, g->to, 0);
  size_t restart = g->fu_to;
  if (s) { /* nothing of the group was applied: as a step's failed probe */
    free(g);
    rd_step_blame(s);
    j->idx = s->index;
    rd_job_next(j);
    return;
  }
  if (g->fu_from == g->fu_to) { /* only the restart was probed: its apply */
    free(g);
    j->idx = restart;
    rd_job_next(j);
    return;
  }
  if (rd_job_state_behind(RD_JOB_FOLLOWUPS, j->state)) {
    j->waiting = (struct rd_phase_group *)g;
    rd_job_move_then(j, RD_JOB_FOLLOWUPS, NULL, 0, followups_committed, wait_refused);
    return;
  }
  group_run(g, g->fu_from, g->fu_to, RD_PHASE_APPLY, followups_applied);
}

static void followups_committed(rd_job *j) {
  group *g = unwait(j);
  group_run(g, g->fu_from, g->fu_to, RD_PHASE_APPLY, followups_applied);
}

int rd_phase_followups(rd_job *j) {
  group *g = followups_new(j, j->idx, 2);
  if (!g)
    return 0; /* one step (or no memory): one after another, as ever */
  group_run(g, g->from, g->to, RD_PHASE_PROBE, followups_probed);
  return 1;
}

/* The install's verify and the follow-ups' probes ran: the install failed
 * (it rolls back as ever), or the job is INSTALLED and the follow-ups go on. */
static void install_verified(group *g) {
  rd_job *j = g->j;
  rd_step *inst = &j->steps[g->from];
  if (inst->status) {
    free(g);
    rd_step_blame(inst);
    j->idx = inst->index;
    rd_job_next(j);
    return;
  }
  j->waiting = (struct rd_phase_group *)g;
  rd_job_move_then(j, RD_JOB_INSTALLED, NULL, 0, installed_committed, wait_refused);
}

static void installed_committed(rd_job *j) {
  group *g = unwait(j);
  g->lead = 0;
  g->from = g->fu_from;
  followups_probed(g);
}

int rd_phase_after_install(rd_job *j) {
  rd_step *inst = &j->steps[j->idx];
  group *g;
  if (!(inst->kind->flags & RD_KIND_INSTALL) || !batchable(inst) || j->idx + 1 >= j->nsteps ||
      !(g = followups_new(j, j->idx + 1, 1)))
    return 0;
  g->lead = 1;
  group_run(g, j->idx, g->to, RD_PHASE_PROBE, install_verified);
  return 1;
}
