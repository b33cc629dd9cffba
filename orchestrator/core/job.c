/* job.c — the job flow. See engine.h.
 *
 * A job's steps are: the platform's inventory kind (finds the live
 * certificate), the issuer kind, the platform's install kind, then the
 * runbook's follow-up steps in order. In whatif mode every step runs only
 * its probe. Otherwise the inventory probe decides whether the job is due;
 * a due job runs probe -> apply -> verify for each step, committing every
 * state change to the journal before the next remote action. A failure once
 * the new certificate exists rolls back the applied steps (last first),
 * re-applies restarts and re-runs the checks against the old certificate.
 * Only this unit moves a job between states, through core/jobmove.c
 * (rd_job_move, rd_job_move_then: on PostgreSQL the job waits for each
 * commit, off the loop). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/metrics.h"
#include "core/engine_int.h"
#include "core/policy.h"
#include "core/schedule.h"

/* --- the job flow --------------------------------------------------------- */

/* The journal's name for the job's certificates (certs.c). */
static void job_cert_id(const rd_job *j, char *buf, size_t len) { rd_certs_id(j, buf, len); }

/* The newest journal job of this (host, certificate) in jn: 0, or an error
 * (none there: RD_ENOTFOUND). */
static int last_row(rd_job *j, rd_journal *jn, rd_job_row *row) {
  char certid[512];
  job_cert_id(j, certid, sizeof certid);
  return rd_journal_job_last(jn, j->t->name, certid, row);
}

/* That job (row) failed or rolled back and its backoff has not passed
 * (--force skips): RD_EBUSY with the reason in j->error. */
static int row_backing_off(rd_job *j, const rd_job_row *row) {
  char when[32];
  struct tm tm;
  if (!rd_policy_backing_off(row->state, row->next_try, time(NULL), j->e->opts.force))
    return 0;
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&row->next_try, &tm));
  snprintf(j->error, sizeof j->error,
           "host %s: backing off until %s after job %lld ended %s (use --force to retry now): "
           "%.600s",
           j->t->name, when, (long long)row->id, rd_job_state_name(row->state), row->error);
  return RD_EBUSY;
}

/* A failed or rolled-back renewal of this (host, certificate) in jn waits
 * out its backoff: RD_EBUSY with the reason in j->error. */
static int backing_off(rd_job *j, rd_journal *jn) {
  rd_job_row row;
  return last_row(j, jn, &row) ? 0 : row_backing_off(j, &row);
}

/* --- a rollback that could not reach the host is owed -------------------- */

/* The rollback phase (or a restart re-applied by it) just failed with a
 * transient status (the host unreachable, a timeout): nothing says the host
 * is back to the old certificate, so the rollback is not finished. */
static void note_rollback_failure(rd_job *j, const rd_step *s) {
  json_object_set_new(j->report, "rollback_error", json_string(j->error));
  if (rd_policy_transient(s->status))
    j->rollback_owed = 1;
}

/* A rollback owed ends the run with the job still ROLLING_BACK (not
 * terminal, no backoff): the next run resumes it and finishes the rollback
 * (resume_rollback). The reason is journaled with the job. */
static void rollback_owed(rd_job *j) {
  static const char owed[] = "; rollback owed: the next run finishes it";
  size_t n = strnlen(j->error, sizeof j->error - sizeof owed);
  memcpy(j->error + n, owed, sizeof owed); /* the cause, cut if need be */
  json_object_set_new(j->report, "rollback_owed", json_true());
  if (rd_lease_lost(j)) {
    rd_job_finish_as(j, RD_OUT_LEASE_LOST);
    return;
  }
  if (j->id > 0)
    rd_journal_job_retry(j->e->journal, j->id, j->error, 0);
  rd_job_finish(j);
}

/* The issuer failed transiently (its step timer fired, the CA stopped
 * answering) after its request was journaled and sent (REQUESTED): the CA
 * may have it and may issue. Failing would clean up the staged key and drop
 * the journaled transaction, and the next run would send a new request (an
 * orphan nobody reports); the job waits at the CA instead, and the next run
 * polls it or resends it identically (the issuer's resume). */
static int request_may_be_at_ca(rd_job *j, const rd_step *s) {
  static const char waits[] = "; the request may have reached the CA: the next run polls it "
                              "(never a new request)";
  size_t n;
  if (!(s->kind->flags & RD_KIND_ISSUER) || !rd_policy_transient(s->status) ||
      j->state != RD_JOB_REQUESTED)
    return 0;
  n = strnlen(j->error, sizeof j->error - sizeof waits);
  memcpy(j->error + n, waits, sizeof waits);
  json_t *cause = json_object_get(j->report, "cause"); /* the report's headline */
  const char *m = json_string_value(json_object_get(cause, "message"));
  if (m)
    json_object_set_new(cause, "message", json_sprintf("%s%s", m, waits));
  return 1;
}

/* The steps whose apply ran in this job (any run), from its step records. */
static int mark_applied(const rd_step_row *row, void *arg) {
  rd_job *j = arg;
  if (strcmp(row->phase, "apply"))
    return 0;
  for (size_t i = 0; i < j->nsteps; i++)
    if (!strcmp(j->steps[i].name, row->step))
      j->steps[i].applied = 1;
  return 0;
}

/* A job resumed in ROLLING_BACK: the rollback of every step the journal
 * says was applied (last first), the restarts, the checks; never forward. */
static void resume_rollback(rd_job *j) {
  int rc = rd_journal_steps(j->e->journal, j->id, mark_applied, j);
  if (rc) {
    snprintf(j->error, sizeof j->error, "host %s: journal: cannot read job %lld's steps: %s",
             j->t->name, (long long)j->id, rd_strerror(rc));
    rd_job_end(j, RD_JOB_FAILED);
    return;
  }
  j->stage = ST_ROLLBACK;
  j->idx = j->nsteps;
  rd_job_next(j);
}

/* A plan given the journal a run would use (rd_engine_opts.peek) shows what
 * that run would do first: wait out a backoff (BACKOFF, as the run would
 * end), or go on from the unfinished job it finds ("resumes" in the report:
 * its id and state). 1 when the job ended here. Reads only. */
static int plan_from_journal(rd_job *j) {
  rd_job_row row;
  if (last_row(j, j->e->opts.peek, &row))
    return 0;
  if (row_backing_off(j, &row)) {
    j->fail_status = RD_EBUSY;
    rd_job_finish_as(j, RD_OUT_BACKOFF);
    return 1;
  }
  if (rd_job_state_terminal(row.state))
    return 0;
  const char *then = row.state == RD_JOB_ROLLING_BACK ? "finishes its rollback, never forward"
                     : !rd_job_state_behind(RD_JOB_REQUESTED, row.state)
                         ? "goes on with the request already sent to the CA (no new request)"
                         : "goes on from it";
  json_object_set_new(j->report, "resumes",
                      json_pack("{s:I, s:s, s:s}", "job", (json_int_t)row.id, "state",
                                rd_job_state_name(row.state), "then", then));
  return 0;
}

/* Is there a non-terminal journal job for this (host, certificate)? The
 * journal is asked once per job. */
static int interrupted_job(rd_job *j) {
  rd_job_row row;
  if (!j->e->journal || j->e->opts.whatif)
    return 0;
  if (j->resume_asked)
    return j->resume_id > 0;
  j->resume_asked = 1;
  if (last_row(j, j->e->journal, &row) || rd_job_state_terminal(row.state))
    return 0;
  j->resume_id = row.id;
  j->resume_state = row.state;
  return 1;
}

/* After the inventory probe: is the job due (set_due_facts), or is there an
 * interrupted journal job to continue? */
static int job_due(rd_job *j) {
  int due = json_is_true(json_object_get(json_object_get(j->report, "due"), "due"));
  /* always asked: the pre-flight skips a job that already contacted the CA
   * (ca_contacted reads the interrupted job's state) */
  int interrupted = interrupted_job(j);
  if (interrupted) /* it renews the certificates it set out to renew */
    rd_certs_selection_get(j, j->resume_id);
  if (interrupted && !due) {
    /* an interrupted job continues whatever the certificate looks like
     * now: its new certificate may be live with follow-ups still owed */
    json_t *d = json_object_get(j->report, "due");
    char why[300];
    snprintf(why, sizeof why, "resuming job %lld, interrupted in %s", (long long)j->resume_id,
             rd_job_state_name(j->resume_state));
    json_object_set_new(d, "due", json_true());
    json_object_set_new(d, "why", json_string(why));
    due = 1;
  }
  return due;
}

static void begin_renewal(rd_job *j);

/* The host's lease taken (rc 0) or not: BUSY (another process holds it)
 * or FAILED. When another job of this engine changed the host since this
 * job's probe, the inventory probe runs again (job_reprobed) before
 * anything changes. */
static int lease_failed(rd_job *j, int rc) {
  if (!rc)
    return 0;
  j->fail_status = rc;
  if (rc == RD_EBUSY)
    rd_job_finish_as(j, RD_OUT_BUSY);
  else
    rd_job_end(j, RD_JOB_FAILED); /* no journal job yet: nothing recorded */
  return 1;
}

static void leased(rd_job *j, int rc) {
  if (lease_failed(j, rc))
    return;
  if (j->lease_reprobe) {
    j->lease_reprobe = 0;
    j->stage = ST_REPROBE;
    j->idx = 0;
    json_object_set_new(j->report, "reprobed", json_true());
    rd_step_run(&j->steps[0], RD_PHASE_PROBE);
    return;
  }
  begin_renewal(j);
}

/* A due job leaves the read-only phase: it takes its host's lease before
 * its first change (on PostgreSQL the claim commits off the loop), then
 * goes on (leased). */
static void job_lease(rd_job *j, void (*then)(rd_job *j, int rc)) {
  char what[800], certid[512];
  job_cert_id(j, certid, sizeof certid);
  snprintf(what, sizeof what, "runbook %s, certificate %s", j->rb->name, certid);
  rd_lease_take(j, what, then);
}

void rd_job_start_renewal(rd_job *j) { job_lease(j, leased); }

/* A remediation's lease (none in whatif): its diagnosis begins. */
static void remedy_leased(rd_job *j, int rc) {
  if (!lease_failed(j, rc))
    rd_remediate_begin(j);
}

/* The inventory probes ran again under the lease: still due? 0 when the
 * job is finished (the other job renewed it). */
static int job_reprobed(rd_job *j) {
  rd_certs_due(j);
  if (!job_due(j)) {
    j->e->stats.due--;
    rd_job_finish_as(j, RD_OUT_NOT_DUE);
    return 0;
  }
  rd_certs_select(j);
  return 1;
}

/* The journal job opened or resumed (rc 0, jobopen.c), or not: run the
 * issuer, install and follow-ups -- or the owed rollback. */
static void renewal_opened(rd_job *j, int rc) {
  if (rc == RD_EBUSY) {
    j->fail_status = RD_EBUSY;
    rd_job_finish_as(j, RD_OUT_BACKOFF);
    return;
  }
  if (rc) {
    if (!j->error[0])
      snprintf(j->error, sizeof j->error, "host %s: journal: cannot open or resume the job: %s",
               j->t->name, rd_strerror(rc));
    rd_job_end(j, RD_JOB_FAILED);
    return;
  }
  if (j->state == RD_JOB_ROLLING_BACK) {
    resume_rollback(j);
    return;
  }
  j->stage = ST_APPLY;
  j->idx = rd_certs_next_live(j, j->ninv);
  if (j->idx < j->nsteps)
    rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
  else
    rd_job_end(j, RD_JOB_DONE);
}

/* Open (or resume) the journal job unless the (host, certificate) waits
 * out a backoff, then go on (renewal_opened). */
static void begin_renewal(rd_job *j) {
  int rc = backing_off(j, j->e->journal);
  if (rc)
    renewal_opened(j, rc);
  else
    rd_job_open_journal(j, renewal_opened);
}

/* Did the interrupted job this run resumes already send its request (the
 * CA may have answered)? Then there is no pre-flight: the job goes on. */
static int ca_contacted(const rd_job *j) {
  return j->resume_id && !rd_job_state_behind(RD_JOB_REQUESTED, j->resume_state);
}

/* Resuming an owed rollback: every step's probe still runs first (read-only;
 * the checks need what they learn, e.g. the issuer's CA), but no probe stops
 * it: a rollback is finished, never abandoned. */
static int rollback_resumed(const rd_job *j) {
  return j->resume_id && j->resume_state == RD_JOB_ROLLING_BACK;
}

/* A due job whose probes all passed: it renews when its wave is admitted.
 * A resumed job already past issuance (its follow-ups owed) finishes
 * whatever the waves say: it is ready now and takes no wave's place. The
 * slot goes back meanwhile, so that the other probes can run. */
static void queue_renewal(rd_job *j) {
  int owed = j->resume_id && !rd_job_state_behind(RD_JOB_ISSUED, j->resume_state);
  rd_waves_probed(j, !owed);
  if (owed) {
    j->wave_ready = 1;
    json_object_set_new(j->report, "outside_waves", json_true());
  }
  rd_slot_give(j);
  rd_engine_pump(j->e);
}

/* A probe of the inventory or the pre-flight completed: 1 when it failed
 * and the job is over. */
static int probe_failed(rd_job *j, rd_step *s) {
  rd_engine *e = j->e;
  if (!s || !s->status)
    return 0;
  if (j->idx >= j->ninv && !e->opts.whatif && (!s->kind->apply || rollback_resumed(j))) {
    /* the pre-flight probe of a pure check (nothing to apply) failed: a
     * service down now may be what the renewal fixes; its verify after
     * the install decides (and rolls back). Resuming an owed rollback, no
     * probe stops it. The warning was logged. */
    rd_job_clear_error(j);
    return 0;
  }
  /* inventory: nothing is known, not even whether the certificate is due;
   * else a step's apply cannot succeed */
  if (j->idx >= j->ninv && !e->opts.whatif && e->journal) /* the pre-flight stopped it: */
    rd_journal_audit(e->journal, "renewd", "job.preflight_failed", j->report); /* no job */
  rd_job_end(j, RD_JOB_FAILED);
  return 1;
}

/* --- the renewal's transitions: each committed before the step after it
 * (rd_job_move_then; on PostgreSQL the job waits for the commit) ------- */

static void step_apply(rd_job *j) { rd_step_run(&j->steps[j->idx], RD_PHASE_APPLY); }

static void job_done(rd_job *j) { rd_job_end(j, RD_JOB_DONE); }

static void all_verified(rd_job *j) {
  rd_job_move_then(j, RD_JOB_VERIFIED, NULL, 0, job_done, NULL);
}

/* The next live step's probe (follow-ups up to a restart together), or,
 * after the last one, FOLLOWUPS and VERIFIED before DONE. */
static void next_step(rd_job *j) {
  if ((j->idx = rd_certs_next_live(j, j->idx + 1)) < j->nsteps) {
    if (!rd_phase_followups(j))
      rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
    return;
  }
  rd_job_move_then(j, RD_JOB_FOLLOWUPS, NULL, 0, all_verified, NULL);
}

/* Step idx verified (the issuer's ISSUED committed): an install's
 * INSTALLED, then the next step. */
static void step_verified(rd_job *j) {
  if (j->steps[j->idx].kind->flags & RD_KIND_INSTALL) {
    rd_job_move_then(j, RD_JOB_INSTALLED, NULL, 0, next_step, NULL);
    return;
  }
  next_step(j);
}

static void issued(rd_job *j) {
  rd_step *s = &j->steps[j->idx];
  json_object_set(s->facts, "expect", json_object_get(s->facts, "new_cert"));
  step_verified(j);
}

/* ROLLING_BACK committed: the failed step's own rollback first (it may be
 * half applied), then every earlier one. */
static void rollback_begin(rd_job *j) {
  rd_step *s = &j->steps[j->idx];
  j->stage = ST_ROLLBACK;
  if (s->applied && s->kind->rollback) {
    s->status = 0;
    rd_step_run(s, RD_PHASE_ROLLBACK);
    return;
  }
  rd_job_next(j); /* ST_ROLLBACK walks down from idx - 1 */
}

/* Where to go after the current step's phase completed. */
void rd_job_next(rd_job *j) {
  rd_step *s = j->idx < j->nsteps ? &j->steps[j->idx] : NULL;
  rd_engine *e = j->e;

  if (rd_lease_lost(j)) { /* another job owns the host now: touch nothing */
    rd_job_finish_as(j, RD_OUT_LEASE_LOST);
    return;
  }
  if (j->journal_failed && !j->finished) { /* rd_job_journal_failed */
    rd_job_end(j, RD_JOB_FAILED);
    return;
  }

  if (e->opts.doctor) { /* read-only preflight: doctor.c walks the steps */
    rd_doctor_next(j);
    return;
  }
  switch (j->stage) {
  case ST_PROBE:
    if (probe_failed(j, s))
      return;
    if (j->idx + 1 == j->ninv && rd_window_ask(j))
      return; /* the CA's renewal windows first: rd_window_asked comes back here */
    if (j->idx + 1 == j->ninv) { /* every certificate inventoried */
      /* due, or an interrupted job to resume: the key match (certs.c) */
      if ((rd_certs_due(j) || interrupted_job(j)) && rd_certs_keys_owed(j)) {
        rd_step_run(&j->steps[j->idx = 0], RD_PHASE_PROBE);
        return;
      }
      for (size_t c = 0; e->journal && !e->opts.inventory && c < j->ncerts; c++)
        if (json_object_get(j->cfacts[c], "cert")) {
          rd_journal_inventory(e->journal, j->t->name, json_object_get(j->cfacts[c], "cert"));
          rd_notify_expiry(j, json_object_get(j->cfacts[c], "cert"));
        }
      if (e->opts.inventory) {
        rd_job_inventoried(j); /* build.c: every certificate, report and journal */
        return;
      }
      if (e->opts.remediate) {
        /* a repair changes the host too: the lease covers the diagnosis,
         * the repair or the renewal */
        job_lease(j, remedy_leased);
        return;
      }
      int due = job_due(j);
      if (!due) {
        rd_job_finish_as(j, RD_OUT_NOT_DUE);
        return;
      }
      rd_certs_select(j);
      e->stats.due++;
      if (e->opts.whatif && e->opts.peek && plan_from_journal(j))
        return;
      if (!e->opts.whatif && e->journal && backing_off(j, e->journal)) {
        /* decided here, before the waves: a host waiting out its backoff
         * does not take a wave's place, nor fail it */
        j->fail_status = RD_EBUSY;
        rd_job_finish_as(j, RD_OUT_BACKOFF);
        return;
      }
      if (!e->opts.whatif && ca_contacted(j) && !rollback_resumed(j)) {
        queue_renewal(j);
        return;
      }
      /* whatif, and the pre-flight of a renewal: every step's probe, before
       * the CA is contacted (a probe that fails stops the job here) */
    }
    if ((j->idx = rd_certs_next_live(j, j->idx + 1)) < j->nsteps) {
      rd_phase_probes(j); /* the rest together (phase.c) */
      return;
    }
    if (!e->opts.whatif) {
      queue_renewal(j);
      return;
    }
    rd_job_plan_end(j); /* WOULD_RENEW, or what the manual issuer would do */
    return;

  case ST_APPLY:
    if (j->cleanup) { /* the issuer's staging was cleaned up after a failure */
      rd_job_end(j, RD_JOB_FAILED);
      return;
    }
    if (s->status) {
      if (s->status == RD_EPENDING || request_may_be_at_ca(j, s)) {
        if (rd_job_state_behind(RD_JOB_ISSUED, j->state)) {
          rd_job_move_then(j, RD_JOB_PENDING_CA, j->error, 0, rd_job_finish, rd_job_finish);
          return;
        }
        /* a later certificate of the job: the earlier ones are in place;
         * the job stays open and the next run resumes it, polling this
         * request (certs.c keeps the values apart) */
        json_object_set_new(j->report, "pending", json_string(s->name));
        rd_job_finish(j);
        return;
      }
      if (s->status == RD_EOPERATOR) {
        rd_job_end(j, RD_JOB_NEEDS_OPERATOR);
        return;
      }
      if (!rd_job_state_behind(RD_JOB_ISSUED, j->state) || (s->kind->flags & RD_KIND_INSTALL)) {
        /* the new certificate exists: roll back, starting with the failed
         * step itself (it may be half applied), then every earlier one */
        rd_job_move_then(j, RD_JOB_ROLLING_BACK, j->error, 0, rollback_begin, NULL);
        return;
      }
      /* before the new certificate exists: clean up the issuer's staging */
      if (s->applied && s->kind->rollback) {
        j->cleanup = 1;
        rd_step_run(s, RD_PHASE_ROLLBACK);
        return;
      }
      rd_job_end(j, RD_JOB_FAILED);
      return;
    }
    if (s->phase == RD_PHASE_PROBE) {
      if (!(s->kind->flags & (RD_KIND_ISSUER | RD_KIND_INSTALL)) &&
          rd_job_state_behind(RD_JOB_FOLLOWUPS, j->state)) {
        rd_job_move_then(j, RD_JOB_FOLLOWUPS, NULL, 0, step_apply, NULL);
        return;
      }
      step_apply(j);
      return;
    }
    if (s->phase == RD_PHASE_APPLY) {
      if (!rd_phase_after_install(j)) /* with the follow-ups' probes */
        rd_step_run(s, RD_PHASE_VERIFY);
      return;
    }
    /* verify done */
    if (s->kind->flags & RD_KIND_ISSUER) {
      if (!json_object_get(s->facts, "new_cert")) {
        snprintf(j->error, sizeof j->error, "host %s: %s: no new certificate was produced",
                 j->t->name, s->name);
        rd_job_end(j, RD_JOB_FAILED);
        return;
      }
      rd_job_move_then(j, RD_JOB_ISSUED, NULL, 0, issued, NULL);
      return;
    }
    step_verified(j);
    return;

  case ST_ROLLBACK:
    if (s && s->status && s->phase == RD_PHASE_ROLLBACK)
      note_rollback_failure(j, s);
    /* j->idx is the step whose rollback just ran (or one past the failed
     * step when it had nothing to undo): continue with the ones before */
    while (j->idx > 0) {
      rd_step *p = &j->steps[--j->idx];
      if (p->applied && p->kind->rollback) {
        p->status = 0;
        rd_step_run(p, RD_PHASE_ROLLBACK);
        return;
      }
    }
    j->stage = ST_RESTART;
    j->idx = 0;
    /* fall through */
  case ST_RESTART:
    if (j->stage == ST_RESTART) {
      /* the restart that just ran is the one before idx (s is the next) */
      rd_step *ran = j->idx > 0 ? &j->steps[j->idx - 1] : NULL;
      if (ran && ran->status && ran->phase == RD_PHASE_APPLY)
        note_rollback_failure(j, ran);
      while (j->idx < j->nsteps) {
        rd_step *p = &j->steps[j->idx++];
        if (p->applied && (p->kind->flags & RD_KIND_RESTART) && p->kind->apply) {
          p->status = 0;
          rd_step_run(p, RD_PHASE_APPLY);
          return;
        }
      }
      j->stage = ST_RECHECK;
      j->idx = 0;
      for (size_t c = 0; c < j->ncerts; c++) /* every certificate is the old one again */
        json_object_set(j->cfacts[c], "expect", json_object_get(j->cfacts[c], "cert"));
    }
    /* fall through */
  case ST_RECHECK:
    /* the check that just ran is the one before idx: s, a later check, may
     * still carry the failure that started the rollback */
    if (j->idx > 0 && j->steps[j->idx - 1].status &&
        j->steps[j->idx - 1].phase == RD_PHASE_VERIFY)
      json_object_set_new(j->report, "rollback_error", json_string(j->error));
    while (j->idx < j->nsteps) {
      rd_step *p = &j->steps[j->idx++];
      if ((p->kind->flags & RD_KIND_CHECK) && p->kind->verify && !p->skip) {
        p->status = 0;
        rd_step_run(p, RD_PHASE_VERIFY);
        return;
      }
    }
    if (j->rollback_owed) {
      rollback_owed(j);
      return;
    }
    /* one failed rollback is one failed job: rd_job_finish counts it */
    rd_job_end(j, json_object_get(j->report, "rollback_error") ? RD_JOB_FAILED
                                                                : RD_JOB_ROLLED_BACK);
    return;
  case ST_DIAGNOSE:
  case ST_REPAIR:
    rd_remediate_next(j);
    return;
  case ST_REPROBE: /* the pre-flight again, under the lease (lease.c) */
    if (probe_failed(j, s))
      return;
    if (j->idx + 1 == j->ninv && (!job_reprobed(j) || ca_contacted(j))) {
      if (!j->finished)
        begin_renewal(j); /* resumed past its request: no pre-flight */
      return;
    }
    if ((j->idx = rd_certs_next_live(j, j->idx + 1)) < j->nsteps) {
      rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
      return;
    }
    begin_renewal(j);
    return;
  case ST_WINDOW:
    rd_window_asked(j);
    return;
  case ST_DOCTOR:
  case ST_END:
    return;
  }
}

const char *rd_job_outcome_name(const rd_job *j) {
  static const char *const names[] = {
#define RD_OUT_NAME(id, name) name,
      RD_OUTCOME_MAP(RD_OUT_NAME)
#undef RD_OUT_NAME
  };
  return j->outcome != RD_OUT_STATE ? names[j->outcome] : rd_job_state_name(j->state);
}

/* The stats count each job once, from its outcome or its state. */
static void count(rd_engine_stats *st, const rd_job *j) {
  switch (j->outcome) {
  case RD_OUT_STATE: break;
  case RD_OUT_REPAIRED: st->renewed++; return;     /* "fixed": something changed */
  case RD_OUT_REPAIR_FAILED:
  case RD_OUT_NOT_READY:
  case RD_OUT_LEASE_LOST: st->failed++; return;
  case RD_OUT_BACKOFF:
  case RD_OUT_BUSY:
  case RD_OUT_HELD: st->skipped++; return;
  default: return;
  }
  if (json_object_get(j->report, "pending")) { /* a later certificate of the job */
    st->pending++;
    return;
  }
  switch (j->state) {
  case RD_JOB_DONE: st->renewed++; break;
  case RD_JOB_FAILED:
  case RD_JOB_ROLLING_BACK: st->failed++; break; /* a rollback owed */
  case RD_JOB_ROLLED_BACK: st->rolled_back++; break;
  case RD_JOB_NEEDS_OPERATOR: st->needs_operator++; break;
  case RD_JOB_PENDING_CA: st->pending++; break;
  default: break;
  }
}

void rd_job_finish_as(rd_job *j, rd_outcome outcome) {
  if (!j->finished)
    j->outcome = outcome;
  rd_job_finish(j);
}

void rd_job_clear_error(rd_job *j) {
  j->error[0] = 0;
  j->fail_status = 0;
  json_object_del(j->report, "cause");
}

void rd_job_finish(rd_job *j) {
  rd_engine *e = j->e;
  if (j->finished)
    return;
  j->finished = 1;
  j->stage = ST_END;
  json_object_set_new(j->report, "state", json_string(rd_job_outcome_name(j)));
  if (j->error[0])
    json_object_set_new(j->report, "error", json_string(j->error));
  {
    /* the certificate live at the end: the new one after a renewal */
    const json_t *c = json_object_get(j->facts, j->outcome == RD_OUT_STATE && j->state == RD_JOB_DONE
                                                    ? "new_cert"
                                                    : "cert");
    rd_certs_report_live(j);
    if (c && !json_object_get(j->report, "cert"))
      json_object_set_new(j->report, "live_cert",
                          json_pack("{s:O?, s:O?, s:O?, s:O?}", "serial", json_object_get(c, "serial"),
                                    "sha1", json_object_get(c, "sha1"), "sha256",
                                    json_object_get(c, "sha256"), "not_after",
                                    json_object_get(c, "not_after")));
  }
  count(&e->stats, j);
  rd_metrics_job_result(j->rb->name, rd_job_outcome_name(j));
  rd_steps_close(j);
  rd_notify_job_end(j);
  if (e->ssh)
    rd_ssh_release(e->ssh, j->t->name);
  rd_lease_release(j); /* before the pump: a job waiting for the host starts */
  rd_slot_give(j);
  rd_waves_probed(j, 0); /* ended before its inventory decision: not due */
  rd_waves_ended(j);
  rd_engine_pump(e);
}
