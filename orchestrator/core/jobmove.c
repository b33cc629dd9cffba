/* jobmove.c — a job's state changes (engine_int.h): each is committed to
 * the journal before the job's next remote action (fenced by its host's
 * lease). rd_job_move commits synchronously; rd_job_move_then commits and
 * then runs the job's continuation -- at once on SQLite, while on
 * PostgreSQL the commit runs off the loop (rd_journal_job_advance_async)
 * and the job waits for it (j->moving, the per-job barrier) while the
 * other jobs' SSH and HTTP I/O go on (docs/SCALING.md, "Asynchronous
 * journal calls"). Only the engine moves a job; plugins ask through
 * set_state (rd_job_request_state): on PostgreSQL queued the same way,
 * answered at once, the step's next call held until it commits
 * (jobwrite.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "core/engine_int.h"
#include "core/policy.h"

/* 1: nothing to write (there already, or a resumed job is past it);
 * RD_ESTATE: not a legal edge (the journal refuses the same: memory keeps
 * in step); 0: to be written. */
static int move_needed(const rd_job *j, rd_job_state to) {
  if (j->state == to || rd_job_state_behind(j->state, to))
    return 1;
  return rd_job_transition_ok(j->state, to) ? 0 : RD_ESTATE;
}

static void moved(rd_job *j, rd_job_state to) {
  j->state = to;
  json_object_set_new(j->report, "state", json_string(rd_job_state_name(to)));
}

/* The journal refused: is the lease gone (a fenced write), and the error. */
static void refused(rd_job *j, rd_job_state to, const char *msg) {
  if (j->lease_epoch > 0)
    rd_lease_check(j);
  snprintf(j->error, sizeof j->error, "host %s: journal: cannot move job %lld from %s to %s: %s",
           j->t->name, (long long)j->id, rd_job_state_name(j->state), rd_job_state_name(to), msg);
}

static int job_advance(rd_job *j, rd_job_state to, const char *error, time_t next_try) {
  rd_lease_fence fence;
  /* fenced: once another job took the host over, this one writes nothing */
  rd_job_advance a = {.to = to, .error = error, .next_try = next_try,
                      .fence = rd_lease_fence_of(j, &fence)};
  int rc = move_needed(j, to);
  if (rc)
    return rc == 1 ? 0 : rc;
  if (j->id > 0 && (rc = rd_journal_job_advance(j->e->journal, j->id, &a))) {
    rd_job_journal_failed(j, rc);
    refused(j, to, rd_journal_errmsg(j->e->journal));
    return rc;
  }
  moved(j, to);
  return 0;
}

/* An illegal edge, said when nothing else was. */
static void cannot(rd_job *j, rd_job_state to) {
  if (!j->error[0])
    snprintf(j->error, sizeof j->error, "host %s: the job cannot move from %s to %s", j->t->name,
             rd_job_state_name(j->state), rd_job_state_name(to));
}

int rd_job_move(rd_job *j, rd_job_state to, const char *error) {
  int rc = job_advance(j, to, error, 0);
  if (rc == RD_ESTATE)
    cannot(j, to);
  return rc;
}

static void end_failed(rd_job *j) { rd_job_end(j, RD_JOB_FAILED); }

static void go_on(rd_job *j, int rc, rd_job_then_fn then, rd_job_then_fn fail) {
  if (!rc)
    then(j);
  else
    (fail ? fail : end_failed)(j);
}

/* The commit of j's transition, back on the loop. RD_ECANCELED: the engine
 * is being freed (rd_engine_free), the job is left alone. */
static void committed(int err, const char *msg, void *arg) {
  rd_job *j = arg;
  j->moving = 0;
  if (err == RD_ECANCELED)
    return;
  if (err) {
    rd_job_journal_failed(j, err);
    refused(j, j->moving_to, msg);
  }
  else
    moved(j, j->moving_to);
  go_on(j, err, j->then, j->fail);
}

/* rd_job_move_then; quiet: an illegal edge is not said (rd_job_end) */
static void move_then(rd_job *j, rd_job_state to, const char *error, time_t next_try,
                      rd_job_then_fn then, rd_job_then_fn fail, int quiet) {
  rd_lease_fence fence;
  rd_job_advance a = {.to = to, .error = error, .next_try = next_try,
                      .fence = rd_lease_fence_of(j, &fence)};
  int rc = move_needed(j, to);
  if (!rc && j->journal_failed && j->id > 0) { /* rd_job_journal_failed: nothing more */
    go_on(j, RD_EIO, then, fail);
    return;
  }
  if (rc == RD_ESTATE && !quiet)
    cannot(j, to);
  if (rc || j->id <= 0) {
    if (!rc)
      moved(j, to); /* no journal job (whatif): memory only */
    go_on(j, rc == 1 ? 0 : rc, then, fail);
    return;
  }
  j->moving_to = to;
  j->then = then;
  j->fail = fail;
  if (rd_journal_job_advance_async(j->e->journal, j->e->loop, j->id, &a, committed, j) == 0) {
    j->moving = 1; /* the job waits for the commit */
    return;
  }
  /* SQLite (or no memory for the call): synchronously */
  go_on(j, job_advance(j, to, error, next_try), then, fail);
}

void rd_job_move_then(rd_job *j, rd_job_state to, const char *error, time_t next_try,
                      rd_job_then_fn then, rd_job_then_fn fail) {
  move_then(j, to, error, next_try, then, fail, 0);
}

/* A journal write of j failed with rc (its disk full, its server gone; not
 * a refusal: RD_ESTATE is the state machine's or the fence's). From then on
 * the journal no longer says where the job is, so the job changes nothing
 * more — no cleanup, no rollback, no end state written: it stops as a crash
 * at that write would, and the next run resumes it from what the journal
 * holds (crash_points.sh proves those resumes). This run reports it FAILED
 * (end_unrecorded). */
void rd_job_journal_failed(rd_job *j, int rc) {
  if (rc && rc != RD_ESTATE && rc != RD_ECANCELED)
    j->journal_failed = 1;
}

static void end_unrecorded(rd_job *j) {
  if (!j->error[0])
    snprintf(j->error, sizeof j->error, "host %s: cannot record the job's progress: %s",
             j->t->name, rd_journal_errmsg(j->e->journal));
  moved(j, RD_JOB_FAILED); /* in this run's report; the journal keeps where it was */
  json_object_set_new(j->report, "journal_behind", json_true());
  rd_job_finish(j);
}

/* The end could not be written: a journal that failed leaves the job as
 * it stood (end_unrecorded), a refusal finishes it as it is. */
static void end_unwritten(rd_job *j) {
  if (j->journal_failed && !rd_job_state_terminal(j->state))
    end_unrecorded(j);
  else
    rd_job_finish(j);
}

/* rd_job_end's end state could not be journaled: FAILED instead (a journal
 * that failed writes nothing more: move_then answers end_unwritten). */
static void end_instead(rd_job *j) {
  move_then(j, RD_JOB_FAILED, j->error[0] ? j->error : NULL, j->end_next_try, rd_job_finish,
            end_unwritten, 1);
}

/* The job's end state: journaled together with the retry policy's next_try
 * (a failed end), then the job is finished -- its lease released only
 * after that commit (the end state is fenced by it). */
void rd_job_end(rd_job *j, rd_job_state final) {
  time_t next_try = 0;
  const char *err = j->error[0] ? j->error : NULL;
  if (rd_lease_lost(j)) { /* the journal job is the new holder's now */
    rd_job_finish_as(j, RD_OUT_LEASE_LOST);
    return;
  }
  if (j->journal_failed) { /* rd_job_journal_failed: nothing more written */
    end_unrecorded(j);
    return;
  }
  if (j->id > 0 && rd_job_state_failed(final)) {
    char certid[512];
    int failures = 0;
    const json_t *cert = json_object_get(j->facts, "cert");
    time_t na = cert ? (time_t)json_integer_value(json_object_get(cert, "not_after")) : 0;
    rd_certs_id(j, certid, sizeof certid);
    rd_journal_failures(j->e->journal, j->t->name, certid, &failures);
    next_try = rd_policy_next_try(time(NULL), final, j->fail_status, failures, na);
  }
  j->end_next_try = next_try;
  move_then(j, final, err, next_try, rd_job_finish,
            final != RD_JOB_FAILED ? end_instead : end_unwritten, 1);
}

/* A step kind asks for one of the issuer's states (its CA transaction):
 * the engine decides. Anything else is the engine's own to set. */
int rd_job_request_state(rd_step *s, rd_job_state to) {
  rd_job *j = s->j;
  int rc;
  if (to != RD_JOB_KEY_READY && to != RD_JOB_REQUESTED && to != RD_JOB_PENDING_CA) {
    rd_step_log(s, RD_LOG_ERROR, "set_state %s refused: only the engine moves a job there",
                rd_job_state_name(to));
    return RD_ESTATE;
  }
  if (!s->busy || s->ignoring || j->finished)
    return RD_ECANCELED;
  if (j->e->opts.whatif)
    return 0;
  /* PostgreSQL: queued after the step's writes, answered at once; the
   * step's next call waits for the commit (jobwrite.c) */
  if (j->id > 0 && !move_needed(j, to) && (rc = rd_job_write_state(j, to)) != RD_ENOTSUP) {
    if (!rc)
      moved(j, to);
    return rc;
  }
  if ((rc = job_advance(j, to, NULL, 0)) == RD_ESTATE)
    rd_step_log(s, RD_LOG_ERROR, "set_state %s refused: the job is %s", rd_job_state_name(to),
                rd_job_state_name(j->state));
  return rc;
}
