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
 * Only this unit moves a job between states (rd_job_move). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/metrics.h"
#include "core/engine_int.h"
#include "core/policy.h"
#include "core/schedule.h"

/* --- state changes: committed before the next remote action ------------ */

static int job_advance(rd_job *j, rd_job_state to, const char *error, time_t next_try) {
  rd_lease_fence fence;
  /* fenced: once another job took the host over, this one writes nothing */
  rd_job_advance a = {.to = to, .error = error, .next_try = next_try,
                      .fence = rd_lease_fence_of(j, &fence)};
  int rc = 0;
  if (j->state == to)
    return 0;
  if (rd_job_state_behind(j->state, to))
    return 0; /* resumed job already past this point */
  if (!rd_job_transition_ok(j->state, to))
    return RD_ESTATE; /* the journal refuses the same; keep memory in step */
  if (j->id > 0 && (rc = rd_journal_job_advance(j->e->journal, j->id, &a))) {
    if (a.fence)
      rd_lease_check(j);
    snprintf(j->error, sizeof j->error, "host %s: journal: cannot move job %lld from %s to %s: %s",
             j->t->name, (long long)j->id, rd_job_state_name(j->state), rd_job_state_name(to),
             rd_journal_errmsg(j->e->journal));
    return rc;
  }
  j->state = to;
  json_object_set_new(j->report, "state", json_string(rd_job_state_name(to)));
  return 0;
}

int rd_job_move(rd_job *j, rd_job_state to, const char *error) {
  int rc = job_advance(j, to, error, 0);
  if (rc == RD_ESTATE && !j->error[0])
    snprintf(j->error, sizeof j->error, "host %s: the job cannot move from %s to %s", j->t->name,
             rd_job_state_name(j->state), rd_job_state_name(to));
  return rc;
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
  if ((rc = job_advance(j, to, NULL, 0)) == RD_ESTATE)
    rd_step_log(s, RD_LOG_ERROR, "set_state %s refused: the job is %s", rd_job_state_name(to),
                rd_job_state_name(j->state));
  return rc;
}

/* --- the job flow --------------------------------------------------------- */

static void set_due_facts(rd_job *j) {
  const json_t *cert = json_object_get(j->facts, "cert");
  json_t *due = json_object();
  char why[256] = "";
  time_t now = time(NULL);
  int is_due = 0, expired = 0;
  if (!cert || !json_is_object(cert)) {
    is_due = 1;
    snprintf(why, sizeof why, "no certificate found at the configured location");
  } else {
    time_t nb = (time_t)json_integer_value(json_object_get(cert, "not_before"));
    time_t na = (time_t)json_integer_value(json_object_get(cert, "not_after"));
    rd_due_why info;
    is_due = rd_due(now, nb, na, (int64_t)(j->rb->policy.renew_before_days * 86400.0),
                    j->rb->policy.renew_fraction, &info);
    expired = info.expired;
    snprintf(why, sizeof why, "%s", info.text);
  }
  json_t *problems = json_object_get(j->facts, "problems");
  if (j->e->opts.remediate && json_array_size(problems) > 0 && !is_due) {
    is_due = 1;
    snprintf(why + strlen(why), sizeof why - strlen(why), "; remediation: %zu problem(s) found",
             json_array_size(problems));
  }
  if (j->e->opts.force && !is_due) {
    is_due = 1;
    snprintf(why + strlen(why), sizeof why - strlen(why), "; forced");
  }
  json_object_set_new(due, "due", json_boolean(is_due));
  json_object_set_new(due, "expired", json_boolean(expired));
  json_object_set_new(due, "why", json_string(why));
  json_object_set_new(j->facts, "due", due);
  json_object_set(j->report, "due", due);
}

/* The journal's name for the job's certificate: its path (POSIX), else the
 * Windows selector, else the runbook's name. */
static void job_cert_id(const rd_job *j, char *buf, size_t len) {
  const char *cert = json_string_value(json_object_get(j->rb->certificate, "cert"));
  if (!cert)
    cert = json_string_value(json_object_get(j->rb->certificate, "thumbprint"));
  if (!cert)
    cert = json_string_value(json_object_get(j->rb->certificate, "template"));
  snprintf(buf, len, "%s", cert ? cert : j->rb->name);
}

/* A failed or rolled-back renewal of this (host, certificate) waits out its
 * backoff (--force skips): RD_EBUSY with the reason in j->error. */
static int backing_off(rd_job *j) {
  char certid[512], when[32];
  rd_job_row row;
  struct tm tm;
  job_cert_id(j, certid, sizeof certid);
  if (rd_journal_job_last(j->e->journal, j->t->name, certid, &row) ||
      !rd_policy_backing_off(row.state, row.next_try, time(NULL), j->e->opts.force))
    return 0;
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&row.next_try, &tm));
  snprintf(j->error, sizeof j->error,
           "host %s: backing off until %s after job %lld ended %s (use --force to retry now): "
           "%.600s",
           j->t->name, when, (long long)row.id, rd_job_state_name(row.state), row.error);
  return RD_EBUSY;
}

static int open_journal_job(rd_job *j) {
  char certid[512];
  int created = 0, rc;
  rd_job_state st;
  job_cert_id(j, certid, sizeof certid);
  if ((rc = backing_off(j)))
    return rc;
  if ((rc = rd_journal_job_open(j->e->journal, j->rb->name, j->t->name, certid, &j->id, &created))) {
    snprintf(j->error, sizeof j->error, "host %s: journal: cannot open a job: %s", j->t->name,
             rd_strerror(rc));
    return rc;
  }
  json_object_set_new(j->report, "job_id", json_integer(j->id));
  if (created) {
    j->state = RD_JOB_DUE;
    /* "old" means the certificate the job started from, even after a
     * crash that left the new one live: keep it with the job */
    if (json_object_get(j->facts, "cert") &&
        (rc = rd_journal_kv_put(j->e->journal, j->id, "job.cert", json_object_get(j->facts, "cert"))))
      return rc;
  } else {
    json_t *orig = NULL;
    if (rd_journal_kv_get(j->e->journal, j->id, "job.cert", &orig) == 0 && orig) {
      json_object_set(j->facts, "live_cert", json_object_get(j->facts, "cert"));
      json_object_set_new(j->facts, "cert", orig);
    }
    /* an interrupted job continues from its last committed state; its
     * steps' probes recognise what already took effect */
    if ((rc = rd_journal_job_resume(j->e->journal, j->id, &st)))
      return rc;
    j->state = st;
    json_object_set_new(j->report, "resumed_from", json_string(rd_job_state_name(st)));
    rd_journal_audit(j->e->journal, "renewd", "job.resume", j->report);
  }
  return rd_job_move(j, RD_JOB_PROBED, NULL);
}

/* The job's end state: journaled together with the retry policy's next_try
 * (a failed end), then the job is finished. */
void rd_job_end(rd_job *j, rd_job_state final) {
  time_t next_try = 0;
  const char *err = j->error[0] ? j->error : NULL;
  if (rd_lease_lost(j)) { /* the journal job is the new holder's now */
    rd_job_finish_as(j, RD_OUT_LEASE_LOST);
    return;
  }
  if (j->id > 0 && rd_job_state_failed(final)) {
    char certid[512];
    int failures = 0;
    const json_t *cert = json_object_get(j->facts, "cert");
    time_t na = cert ? (time_t)json_integer_value(json_object_get(cert, "not_after")) : 0;
    job_cert_id(j, certid, sizeof certid);
    rd_journal_failures(j->e->journal, j->t->name, certid, &failures);
    next_try = rd_policy_next_try(time(NULL), final, j->fail_status, failures, na);
  }
  if (job_advance(j, final, err, next_try) && final != RD_JOB_FAILED)
    job_advance(j, RD_JOB_FAILED, j->error[0] ? j->error : NULL, next_try);
  rd_job_finish(j);
}

/* Is there a non-terminal journal job for this (host, certificate)? */
static int interrupted_job(rd_job *j) {
  char certid[512];
  rd_job_row row;
  if (!j->e->journal || j->e->opts.whatif)
    return 0;
  job_cert_id(j, certid, sizeof certid);
  if (rd_journal_job_last(j->e->journal, j->t->name, certid, &row) || rd_job_state_terminal(row.state))
    return 0;
  j->resume_id = row.id;
  j->resume_state = row.state;
  return 1;
}

/* After the inventory probe: is the job due (set_due_facts), or is there an
 * interrupted journal job to continue? */
static int job_due(rd_job *j) {
  int due = json_is_true(json_object_get(json_object_get(j->facts, "due"), "due"));
  /* always asked: the pre-flight skips a job that already contacted the CA
   * (ca_contacted reads the interrupted job's state) */
  if (interrupted_job(j) && !due) {
    /* an interrupted job continues whatever the certificate looks like
     * now: its new certificate may be live with follow-ups still owed */
    json_t *d = json_object_get(j->facts, "due");
    char why[300];
    snprintf(why, sizeof why, "resuming job %lld, interrupted in %s", (long long)j->resume_id,
             rd_job_state_name(j->resume_state));
    json_object_set_new(d, "due", json_true());
    json_object_set_new(d, "why", json_string(why));
    json_object_set(j->report, "due", d);
    due = 1;
  }
  return due;
}

static void begin_renewal(rd_job *j);

/* Take the host's lease before the job's first change; 1 when the job
 * could not and is finished (BUSY: another process holds it). */
static int job_lease(rd_job *j) {
  char what[800], certid[512];
  int rc;
  job_cert_id(j, certid, sizeof certid);
  snprintf(what, sizeof what, "runbook %s, certificate %s", j->rb->name, certid);
  if (!(rc = rd_lease_take(j, what)))
    return 0;
  j->fail_status = rc;
  if (rc == RD_EBUSY)
    rd_job_finish_as(j, RD_OUT_BUSY);
  else
    rd_job_end(j, RD_JOB_FAILED); /* no journal job yet: nothing recorded */
  return 1;
}

/* A due job leaves the read-only phase: it takes its host's lease; when
 * another job of this engine changed the host since this job's probe, the
 * inventory probe runs again (job_reprobed) before anything changes. */
void rd_job_start_renewal(rd_job *j) {
  if (job_lease(j))
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

/* The inventory probe ran again under the lease: still due? */
static void job_reprobed(rd_job *j) {
  if (j->steps[0].status) {
    rd_job_end(j, RD_JOB_FAILED);
    return;
  }
  set_due_facts(j);
  if (!job_due(j)) { /* the other job renewed it */
    j->e->stats.due--;
    rd_job_finish_as(j, RD_OUT_NOT_DUE);
    return;
  }
  begin_renewal(j);
}

/* Open (or resume) the journal job, then run the issuer, install and
 * follow-ups. */
static void begin_renewal(rd_job *j) {
  int rc = open_journal_job(j);
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
  j->stage = ST_APPLY;
  j->idx = 1;
  if (j->idx < j->nsteps)
    rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
  else
    rd_job_end(j, RD_JOB_DONE);
}

/* Did the interrupted job this run resumes already send its request (the
 * CA may have answered)? Then there is no pre-flight: the job goes on. */
static int ca_contacted(const rd_job *j) {
  return j->resume_id && !rd_job_state_behind(RD_JOB_REQUESTED, j->resume_state);
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

/* Where to go after the current step's phase completed. */
void rd_job_next(rd_job *j) {
  rd_step *s = j->idx < j->nsteps ? &j->steps[j->idx] : NULL;
  rd_engine *e = j->e;

  if (rd_lease_lost(j)) { /* another job owns the host now: touch nothing */
    rd_job_finish_as(j, RD_OUT_LEASE_LOST);
    return;
  }

  switch (j->stage) {
  case ST_PROBE:
    if (s && s->status && j->idx > 0 && !e->opts.whatif && !s->kind->apply) {
      /* the pre-flight probe of a pure check (nothing to apply) failed: a
       * service down now may be what the renewal fixes; its verify after
       * the install decides (and rolls back). The warning was logged. */
      rd_job_clear_error(j);
    } else if (s && s->status) { /* inventory: nothing is known, not even
                                    whether the certificate is due; else a
                                    step's apply cannot succeed */
      if (j->idx > 0 && !e->opts.whatif && e->journal) /* the pre-flight stopped it: */
        rd_journal_audit(e->journal, "renewd", "job.preflight_failed", j->report); /* no job */
      rd_job_end(j, RD_JOB_FAILED);
      return;
    }
    if (j->idx == 0) {
      set_due_facts(j);
      if (e->journal && !e->opts.inventory && json_object_get(j->facts, "cert")) {
        rd_journal_inventory(e->journal, j->t->name, json_object_get(j->facts, "cert"));
        rd_notify_expiry(j);
      }
      if (e->opts.inventory) {
        const json_t *cert = json_object_get(j->facts, "cert");
        if (cert)
          json_object_set(j->report, "cert", (json_t *)cert);
        if (json_object_get(j->facts, "problems"))
          json_object_set(j->report, "problems", json_object_get(j->facts, "problems"));
        if (e->journal && cert)
          rd_journal_inventory(e->journal, j->t->name, cert);
        rd_job_finish_as(j, RD_OUT_INVENTORIED);
        return;
      }
      if (e->opts.remediate) {
        /* a repair changes the host too: the lease covers the diagnosis,
         * the repair or the renewal */
        if (!e->opts.whatif && job_lease(j))
          return;
        rd_remediate_begin(j);
        return;
      }
      int due = job_due(j);
      if (!due) {
        rd_job_finish_as(j, RD_OUT_NOT_DUE);
        return;
      }
      e->stats.due++;
      if (!e->opts.whatif && e->journal && backing_off(j)) {
        /* decided here, before the waves: a host waiting out its backoff
         * does not take a wave's place, nor fail it */
        j->fail_status = RD_EBUSY;
        rd_job_finish_as(j, RD_OUT_BACKOFF);
        return;
      }
      if (!e->opts.whatif && ca_contacted(j)) {
        queue_renewal(j);
        return;
      }
      /* whatif, and the pre-flight of a renewal: every step's probe, before
       * the CA is contacted (a probe that fails stops the job here) */
    }
    if (++j->idx < j->nsteps) {
      rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
      return;
    }
    if (!e->opts.whatif) {
      queue_renewal(j);
      return;
    }
    rd_job_finish_as(j, RD_OUT_WOULD_RENEW);
    return;

  case ST_APPLY:
    if (j->cleanup) { /* the issuer's staging was cleaned up after a failure */
      rd_job_end(j, RD_JOB_FAILED);
      return;
    }
    if (s->status) {
      if (s->status == RD_EPENDING) {
        rd_job_move(j, RD_JOB_PENDING_CA, j->error);
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
        if (rd_job_move(j, RD_JOB_ROLLING_BACK, j->error)) {
          rd_job_end(j, RD_JOB_FAILED);
          return;
        }
        j->stage = ST_ROLLBACK;
        if (s->applied && s->kind->rollback) {
          s->status = 0;
          rd_step_run(s, RD_PHASE_ROLLBACK);
          return;
        }
        rd_job_next(j); /* ST_ROLLBACK walks down from idx - 1 */
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
        if (rd_job_move(j, RD_JOB_FOLLOWUPS, NULL)) {
          rd_job_end(j, RD_JOB_FAILED);
          return;
        }
      }
      rd_step_run(s, RD_PHASE_APPLY);
      return;
    }
    if (s->phase == RD_PHASE_APPLY) {
      rd_step_run(s, RD_PHASE_VERIFY);
      return;
    }
    /* verify done */
    if (s->kind->flags & RD_KIND_ISSUER) {
      if (!json_object_get(j->facts, "new_cert")) {
        snprintf(j->error, sizeof j->error, "host %s: %s: no new certificate was produced",
                 j->t->name, s->name);
        rd_job_end(j, RD_JOB_FAILED);
        return;
      }
      if (rd_job_move(j, RD_JOB_ISSUED, NULL)) {
        rd_job_end(j, RD_JOB_FAILED);
        return;
      }
      json_object_set(j->facts, "expect", json_object_get(j->facts, "new_cert"));
    }
    if ((s->kind->flags & RD_KIND_INSTALL) && rd_job_move(j, RD_JOB_INSTALLED, NULL)) {
      rd_job_end(j, RD_JOB_FAILED);
      return;
    }
    if (++j->idx < j->nsteps) {
      rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
      return;
    }
    if (rd_job_move(j, RD_JOB_FOLLOWUPS, NULL) || rd_job_move(j, RD_JOB_VERIFIED, NULL)) {
      rd_job_end(j, RD_JOB_FAILED);
      return;
    }
    rd_job_end(j, RD_JOB_DONE);
    return;

  case ST_ROLLBACK:
    if (s && s->status && s->phase == RD_PHASE_ROLLBACK)
      json_object_set_new(j->report, "rollback_error", json_string(j->error));
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
      if (s && s->status && s->phase == RD_PHASE_APPLY && j->idx > 0)
        json_object_set_new(j->report, "rollback_error", json_string(j->error));
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
      json_object_set(j->facts, "expect", json_object_get(j->facts, "cert"));
    }
    /* fall through */
  case ST_RECHECK:
    if (s && s->status && j->idx > 0 && s->phase == RD_PHASE_VERIFY) {
      json_object_set_new(j->report, "rollback_error", json_string(j->error));
    }
    while (j->idx < j->nsteps) {
      rd_step *p = &j->steps[j->idx++];
      if ((p->kind->flags & RD_KIND_CHECK) && p->kind->verify) {
        p->status = 0;
        rd_step_run(p, RD_PHASE_VERIFY);
        return;
      }
    }
    /* one failed rollback is one failed job: rd_job_finish counts it */
    rd_job_end(j, json_object_get(j->report, "rollback_error") ? RD_JOB_FAILED
                                                                : RD_JOB_ROLLED_BACK);
    return;
  case ST_DIAGNOSE:
  case ST_REPAIR:
    rd_remediate_next(j);
    return;
  case ST_REPROBE:
    job_reprobed(j);
    return;
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
  case RD_OUT_LEASE_LOST: st->failed++; return;
  case RD_OUT_BACKOFF:
  case RD_OUT_BUSY:
  case RD_OUT_HELD: st->skipped++; return;
  default: return;
  }
  switch (j->state) {
  case RD_JOB_DONE: st->renewed++; break;
  case RD_JOB_FAILED: st->failed++; break;
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
