/* engine.c — the job flow. See engine.h.
 *
 * A job's steps are: the platform's inventory kind (finds the live
 * certificate), the issuer kind, the platform's install kind, then the
 * runbook's follow-up steps in order. In whatif mode every step runs only
 * its probe. Otherwise the inventory probe decides whether the job is due;
 * a due job runs probe -> apply -> verify for each step, committing every
 * state change to the journal before the next remote action. A failure once
 * the new certificate exists rolls back the applied steps (last first),
 * re-applies restarts and re-runs the checks against the old certificate. */
#include "core/engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine_int.h"
#include "base/err.h"
#include "core/policy.h"
#include "core/schedule.h"
#include "base/util.h"

static void job_next(rd_job *j);
void rd_job_finish(rd_job *j);

static const char *phase_name(rd_phase p) {
  static const char *names[] = {"probe", "apply", "verify", "rollback"};
  return p <= RD_PHASE_ROLLBACK ? names[p] : "?";
}

/* --- state changes: committed before the next remote action ------------ */

/* Forward order of the normal path, for resumed jobs that are already
 * further along than the step that asks. */
static int forward_rank(rd_job_state s) {
  switch (s) {
  case RD_JOB_DUE: return 0;
  case RD_JOB_PROBED: return 1;
  case RD_JOB_KEY_READY: return 2;
  case RD_JOB_REQUESTED: return 3;
  case RD_JOB_PENDING_CA: return 3;
  case RD_JOB_ISSUED: return 4;
  case RD_JOB_INSTALLED: return 5;
  case RD_JOB_FOLLOWUPS: return 6;
  case RD_JOB_VERIFIED: return 7;
  default: return 100;
  }
}

int rd_job_move(rd_job *j, rd_job_state to, const char *error) {
  int rc = 0;
  if (j->state == to)
    return 0;
  if (forward_rank(to) < 100 && forward_rank(j->state) < 100 &&
      forward_rank(to) < forward_rank(j->state))
    return 0; /* resumed job already past this point */
  if (j->id > 0 && (rc = rd_journal_job_set_state(j->e->journal, j->id, to, error))) {
    snprintf(j->error, sizeof j->error, "host %s: journal: cannot move job %lld from %s to %s",
             j->t->name, (long long)j->id, rd_job_state_name(j->state), rd_job_state_name(to));
    return rc;
  }
  j->state = to;
  json_object_set_new(j->report, "state", json_string(rd_job_state_name(to)));
  return 0;
}

/* --- running one phase of one step -------------------------------------- */

static void step_timer_fired(uv_timer_t *t) {
  rd_step *s = t->data;
  if (!s->busy)
    return;
  if (s->kind->cancel)
    s->kind->cancel(s, &rd_host_api_v1);
  char msg[256];
  snprintf(msg, sizeof msg, "%s timed out after %ld ms", phase_name(s->phase), s->timeout_ms);
  rd_engine_step_done(s, RD_ETIMEDOUT, NULL, msg);
}

void rd_step_run(rd_step *s, rd_phase phase) {
  rd_phase_fn fn = NULL;
  int rc;
  switch (phase) {
  case RD_PHASE_PROBE: fn = s->kind->probe; break;
  case RD_PHASE_APPLY: fn = s->kind->apply; break;
  case RD_PHASE_VERIFY: fn = s->kind->verify; break;
  case RD_PHASE_ROLLBACK: fn = s->kind->rollback; break;
  }
  s->phase = phase;
  s->serial++;
  if (!fn) { /* nothing to do in this phase */
    s->busy = 1;
    rd_engine_step_done(s, 0, NULL, NULL);
    return;
  }
  if (phase == RD_PHASE_APPLY)
    s->applied = 1;
  s->busy = 1;
  s->t0 = rd_now_ms();
  if (!s->timer_ready) {
    uv_timer_init(s->j->e->loop, &s->timer);
    s->timer.data = s;
    s->timer_ready = 1;
  }
  uv_timer_start(&s->timer, step_timer_fired, (uint64_t)s->timeout_ms, 0);
  rc = fn(s, &rd_host_api_v1);
  if (rc < 0 && s->busy) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s could not start: %s", phase_name(phase), rd_strerror(rc));
    rd_engine_step_done(s, rc, NULL, msg);
  }
}

static json_t *phase_report(rd_step *s) {
  json_t *phases = json_object_get(s->report, "phases");
  json_t *p = json_object();
  json_object_set_new(phases, phase_name(s->phase), p);
  return p;
}

void rd_engine_step_done(rd_step *s, int status, json_t *result, const char *msg) {
  rd_job *j = s->j;
  json_t *p;
  double ms;
  if (!s->busy) { /* late completion after a timeout: ignore */
    json_decref(result);
    return;
  }
  s->busy = 0;
  if (s->timer_ready)
    uv_timer_stop(&s->timer);
  ms = s->t0 ? (double)(rd_now_ms() - s->t0) : 0;
  s->t0 = 0;
  s->status = status;
  p = phase_report(s);
  json_object_set_new(p, "status", json_string(status ? rd_errname(status) : "ok"));
  json_object_set_new(p, "ms", json_real(ms));
  if (msg && *msg)
    json_object_set_new(p, "message", json_string(msg));
  if (result)
    json_object_set(p, "result", result);
  if (j->id > 0) {
    rd_step_record rec = {s->name, phase_name(s->phase), status, ms, result, msg};
    rd_journal_step(j->e->journal, j->id, &rec);
  }
  if (status && !j->error[0])
    snprintf(j->error, sizeof j->error, "host %s: %s: %s: %s", j->t->name, s->name,
             phase_name(s->phase), msg && *msg ? msg : rd_strerror(status));
  if (status)
    rd_step_log(s, RD_LOG_WARN, "%s: %s", phase_name(s->phase),
                msg && *msg ? msg : rd_strerror(status));
  else if (j->e->opts.verbose)
    rd_step_log(s, RD_LOG_INFO, "%s: ok (%.0f ms)%s%s", phase_name(s->phase), ms,
                msg ? ": " : "", msg ? msg : "");
  json_decref(result);
  if (status && !j->fail_status)
    j->fail_status = status;
  job_next(j);
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

static int open_journal_job(rd_job *j) {
  char certid[512];
  int created = 0, rc;
  rd_job_row row;
  rd_job_state st;
  time_t now = time(NULL);
  job_cert_id(j, certid, sizeof certid);
  /* a failed or rolled-back renewal waits out its backoff (--force skips) */
  if (!j->e->opts.force && rd_journal_job_last(j->e->journal, j->t->name, certid, &row) == 0 &&
      (row.state == RD_JOB_FAILED || row.state == RD_JOB_ROLLED_BACK) && row.next_try > now) {
    char when[32];
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&row.next_try, &tm));
    snprintf(j->error, sizeof j->error,
             "host %s: backing off until %s after job %lld ended %s (use --force to retry now): "
             "%.600s",
             j->t->name, when, (long long)row.id, rd_job_state_name(row.state), row.error);
    return RD_EBUSY;
  }
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

static void end_job(rd_job *j, rd_job_state final) {
  if (j->id > 0 && (final == RD_JOB_FAILED || final == RD_JOB_ROLLED_BACK)) {
    char certid[512];
    int failures = 0;
    const json_t *cert = json_object_get(j->facts, "cert");
    time_t na = cert ? (time_t)json_integer_value(json_object_get(cert, "not_after")) : 0;
    int transient = j->fail_status == RD_ETIMEDOUT || j->fail_status == RD_ECONNREFUSED ||
                    j->fail_status == RD_ENETWORK;
    time_t now = time(NULL);
    job_cert_id(j, certid, sizeof certid);
    rd_journal_failures(j->e->journal, j->t->name, certid, &failures);
    failures++; /* this one is not terminal yet */
    time_t next = now + (transient ? rd_backoff_transient(failures)
                                   : rd_backoff_terminal(failures, (int64_t)(na - now)));
    rd_journal_job_set_next_try(j->e->journal, j->id, next);
  }
  if (rd_job_move(j, final, j->error[0] ? j->error : NULL) && final != RD_JOB_FAILED)
    rd_job_move(j, RD_JOB_FAILED, j->error[0] ? j->error : NULL);
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

/* A due job leaves the read-only phase: open (or resume) its journal job,
 * then run the issuer, install and follow-ups. */
void rd_job_start_renewal(rd_job *j) {
  if (open_journal_job(j)) {
    j->fail_status = RD_EBUSY;
    json_object_set_new(j->report, "state", json_string("BACKOFF"));
    rd_job_finish(j);
    return;
  }
  j->stage = ST_APPLY;
  j->idx = 1;
  if (j->idx < j->nsteps)
    rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
  else
    end_job(j, RD_JOB_DONE);
}

/* Where to go after the current step's phase completed. */
static void job_next(rd_job *j) {
  rd_step *s = j->idx < j->nsteps ? &j->steps[j->idx] : NULL;
  rd_engine *e = j->e;

  switch (j->stage) {
  case ST_PROBE:
    if (s && s->status) { /* a probe failed */
      if (s->kind->flags & RD_KIND_INVENTORY)
        set_due_facts(j);
      end_job(j, RD_JOB_FAILED);
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
        json_object_set_new(j->report, "state", json_string("INVENTORIED"));
        rd_job_finish(j);
        return;
      }
      if (e->opts.remediate) {
        rd_remediate_begin(j);
        return;
      }
      int due = json_is_true(json_object_get(json_object_get(j->facts, "due"), "due"));
      if (!due && interrupted_job(j)) {
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
      if (!due) {
        json_object_set_new(j->report, "state", json_string("NOT_DUE"));
        rd_job_finish(j);
        return;
      }
      e->stats.due++;
      if (!e->opts.whatif) {
        /* renewals start in waves once the whole runbook is probed; the
         * slot goes back meanwhile so that the other probes can run */
        rd_waves_probed(j, 1);
        rd_slot_give(j);
        rd_engine_pump(e);
        return;
      }
    }
    if (++j->idx < j->nsteps) {
      rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
      return;
    }
    json_object_set_new(j->report, "state", json_string("WOULD_RENEW"));
    rd_job_finish(j);
    return;

  case ST_APPLY:
    if (j->cleanup) { /* the issuer's staging was cleaned up after a failure */
      end_job(j, RD_JOB_FAILED);
      return;
    }
    if (s->status) {
      if (s->status == RD_EPENDING) {
        rd_job_move(j, RD_JOB_PENDING_CA, j->error);
        rd_job_finish(j);
        return;
      }
      if (s->status == RD_EOPERATOR) {
        end_job(j, RD_JOB_NEEDS_OPERATOR);
        return;
      }
      if (forward_rank(j->state) >= forward_rank(RD_JOB_ISSUED) || (s->kind->flags & RD_KIND_INSTALL)) {
        /* the new certificate exists: roll back, starting with the failed
         * step itself (it may be half applied), then every earlier one */
        if (rd_job_move(j, RD_JOB_ROLLING_BACK, j->error)) {
          end_job(j, RD_JOB_FAILED);
          return;
        }
        j->stage = ST_ROLLBACK;
        if (s->applied && s->kind->rollback) {
          s->status = 0;
          rd_step_run(s, RD_PHASE_ROLLBACK);
          return;
        }
        job_next(j); /* ST_ROLLBACK walks down from idx - 1 */
        return;
      }
      /* before the new certificate exists: clean up the issuer's staging */
      if (s->applied && s->kind->rollback) {
        j->cleanup = 1;
        rd_step_run(s, RD_PHASE_ROLLBACK);
        return;
      }
      end_job(j, RD_JOB_FAILED);
      return;
    }
    if (s->phase == RD_PHASE_PROBE) {
      if (!(s->kind->flags & (RD_KIND_ISSUER | RD_KIND_INSTALL)) &&
          forward_rank(j->state) < forward_rank(RD_JOB_FOLLOWUPS)) {
        if (rd_job_move(j, RD_JOB_FOLLOWUPS, NULL)) {
          end_job(j, RD_JOB_FAILED);
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
        end_job(j, RD_JOB_FAILED);
        return;
      }
      if (rd_job_move(j, RD_JOB_ISSUED, NULL)) {
        end_job(j, RD_JOB_FAILED);
        return;
      }
      json_object_set(j->facts, "expect", json_object_get(j->facts, "new_cert"));
    }
    if ((s->kind->flags & RD_KIND_INSTALL) && rd_job_move(j, RD_JOB_INSTALLED, NULL)) {
      end_job(j, RD_JOB_FAILED);
      return;
    }
    if (++j->idx < j->nsteps) {
      rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
      return;
    }
    if (rd_job_move(j, RD_JOB_FOLLOWUPS, NULL) || rd_job_move(j, RD_JOB_VERIFIED, NULL)) {
      end_job(j, RD_JOB_FAILED);
      return;
    }
    e->stats.renewed++;
    end_job(j, RD_JOB_DONE);
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
    if (json_object_get(j->report, "rollback_error")) {
      e->stats.failed++;
      end_job(j, RD_JOB_FAILED);
    } else {
      e->stats.rolled_back++;
      end_job(j, RD_JOB_ROLLED_BACK);
    }
    return;
  case ST_DIAGNOSE:
  case ST_REPAIR:
    rd_remediate_next(j);
    return;
  case ST_END:
    return;
  }
}

void rd_job_finish(rd_job *j) {
  rd_engine *e = j->e;
  const char *st;
  if (j->finished)
    return;
  j->finished = 1;
  j->stage = ST_END;
  if (j->error[0])
    json_object_set_new(j->report, "error", json_string(j->error));
  st = json_string_value(json_object_get(j->report, "state"));
  {
    /* the certificate live at the end: the new one after a renewal */
    const json_t *c = json_object_get(j->facts, st && !strcmp(st, "DONE") ? "new_cert" : "cert");
    if (c && !json_object_get(j->report, "cert"))
      json_object_set_new(j->report, "live_cert",
                          json_pack("{s:O?, s:O?, s:O?, s:O?}", "serial", json_object_get(c, "serial"),
                                    "sha1", json_object_get(c, "sha1"), "sha256",
                                    json_object_get(c, "sha256"), "not_after",
                                    json_object_get(c, "not_after")));
  }
  if (st && !strcmp(st, "FAILED"))
    e->stats.failed++;
  else if (st && !strcmp(st, "NEEDS_OPERATOR"))
    e->stats.needs_operator++;
  else if (st && !strcmp(st, "PENDING_CA"))
    e->stats.pending++;
  else if (st && (!strcmp(st, "BACKOFF") || !strcmp(st, "HELD")))
    e->stats.skipped++;
  for (size_t k = 0; k < j->nsteps; k++)
    if (j->steps[k].timer_ready && !uv_is_closing((uv_handle_t *)&j->steps[k].timer))
      uv_close((uv_handle_t *)&j->steps[k].timer, NULL);
  rd_notify_job_end(j);
  if (e->ssh)
    rd_ssh_release(e->ssh, j->t->name);
  rd_slot_give(j);
  rd_waves_probed(j, 0); /* ended before its inventory decision: not due */
  rd_waves_ended(j);
  rd_engine_pump(e);
}

/* Concurrency: a job holds one slot of the engine (the global cap: --max-
 * parallel, default 64) and one of its runbook (schedule.max_parallel,
 * default 16) while it probes or renews. */
static int slot_free(const rd_engine *e, const rd_job *j) {
  size_t cap = j->rb->schedule.max_parallel > 0 ? (size_t)j->rb->schedule.max_parallel : 16;
  return e->running < e->max_parallel && rd_waves_running(j->waves) < cap;
}

static void slot_take(rd_job *j) {
  j->holds_slot = 1;
  j->e->running++;
  rd_waves_running_add(j->waves, 1);
}

void rd_slot_give(rd_job *j) {
  if (!j->holds_slot)
    return;
  j->holds_slot = 0;
  j->e->running--;
  rd_waves_running_add(j->waves, -1);
}

static int engine_finish(rd_engine *e);

/* Both transport managers are closed: the run is over. */
static void engine_closed(void *arg) {
  rd_engine *e = arg;
  if (--e->closing > 0 || !e->done)
    return;
  int code = engine_finish(e);
  e->done(e, code, &e->stats, e->done_arg);
}

void rd_engine_pump(rd_engine *e) {
  int waiting = 0;
  for (rd_job *q = e->jobs; q && e->running < e->max_parallel; q = q->next)
    if (q->wave_ready && !q->wave_started && !q->finished && slot_free(e, q)) {
      q->wave_started = 1;
      slot_take(q);
      rd_job_start_renewal(q);
    }
  for (rd_job *q = e->jobs; q && e->running < e->max_parallel; q = q->next)
    if (q->queued && !q->started && slot_free(e, q)) {
      q->started = 1;
      slot_take(q);
      rd_step_run(&q->steps[0], RD_PHASE_PROBE);
    }
  for (rd_job *q = e->jobs; q; q = q->next)
    if (!q->finished && (q->holds_slot || q->wave_ready || !q->started))
      waiting = 1;
  if (!waiting && e->running == 0 && e->notifying == 0 && !e->shutting_down) {
    e->shutting_down = 1;
    e->closing = 2;
    rd_ssh_shutdown(e->ssh, engine_closed, e);
    rd_http_shutdown(e->http, engine_closed, e);
    e->ssh = NULL;
    e->http = NULL;
  }
}

/* --- building jobs -------------------------------------------------------- */

static const json_t *empty_object(void) {
  static json_t *empty;
  if (!empty)
    empty = json_object();
  return empty;
}

static int add_step(rd_job *j, const rd_step_kind *kind, const json_t *params, const char *name,
                    long timeout_ms) {
  rd_step *s = &j->steps[j->nsteps];
  memset(s, 0, sizeof *s);
  s->j = j;
  s->index = j->nsteps++;
  s->kind = kind;
  s->params = params ? params : empty_object();
  s->name = name ? name : kind->type;
  s->timeout_ms = timeout_ms > 0 ? timeout_ms : 120000;
  s->report = json_pack("{s:s, s:s, s:{}}", "name", s->name, "type", kind->type, "phases");
  return 0;
}

static int host_selected(const rd_engine *e, const char *name) {
  if (!e->opts.hosts)
    return 1;
  for (const char **h = e->opts.hosts; *h; h++)
    if (!strcmp(*h, name))
      return 1;
  return 0;
}

static const char *platform_name(rd_platform p) {
  return p == RD_PLATFORM_WINDOWS ? "windows" : "posix";
}

int rd_engine_add_runbook(rd_engine *e, const rd_runbook *rb) {
  const char *issuer_type = json_string_value(json_object_get(rb->issuer, "type"));
  for (size_t i = 0; i < rb->ntargets; i++) {
    const rd_target *t = &rb->targets[i];
    char kname[128];
    const rd_step_kind *inv, *iss, *inst;
    rd_job *j = NULL;
    if (!host_selected(e, t->name))
      continue;
    snprintf(kname, sizeof kname, "%s.inventory", platform_name(t->platform));
    inv = rd_registry_find(e->reg, kname);
    snprintf(kname, sizeof kname, "%s.issue", issuer_type ? issuer_type : "?");
    iss = rd_registry_find(e->reg, kname);
    snprintf(kname, sizeof kname, "%s.install", platform_name(t->platform));
    inst = rd_registry_find(e->reg, kname);
    if (!inv || !iss || !inst) {
      fprintf(stderr,
              "runbook %s: host %s: no %s step kind is loaded (inventory %s, issuer '%s.issue' %s, "
              "install %s); check --plugins\n",
              rb->path, t->name, !inv ? "inventory" : !iss ? "issuer" : "install",
              inv ? "ok" : "missing", issuer_type ? issuer_type : "?", iss ? "ok" : "missing",
              inst ? "ok" : "missing");
      return RD_ECONFIG;
    }
    rd_wave_set *ws = rd_waves_for(e, rb);
    if (!ws || !(j = calloc(1, sizeof *j)) || !(j->steps = calloc(rb->nsteps + 3, sizeof *j->steps))) {
      free(j);
      return RD_ENOMEM;
    }
    j->e = e;
    j->rb = rb;
    j->t = t;
    j->state = RD_JOB_DUE;
    j->facts = json_object();
    j->kv = json_object();
    j->report = json_pack("{s:s, s:s, s:s, s:[]}", "runbook", rb->name, "host", t->name, "platform",
                          platform_name(t->platform), "steps");
    json_object_set_new(j->facts, "host",
                        json_pack("{s:s, s:s, s:i, s:s, s:O}", "name", t->name, "address",
                                  t->address, "port", t->port, "platform",
                                  platform_name(t->platform), "vars", t->vars));
    json_object_set_new(j->facts, "whatif", json_boolean(e->opts.whatif));
    j->st.name = t->name;
    j->st.address = t->address;
    j->st.port = t->port ? t->port : 22;
    j->st.user = rb->ssh.user;
    j->st.identity = rb->ssh.identity;
    j->st.known_hosts = rb->ssh.known_hosts;
    j->st.agent = rb->ssh.agent;
    if (rb->ssh.passphrase.kind != RD_SECRET_NONE) {
      size_t len;
      char err[256];
      if (rd_secret_read(&rb->ssh.passphrase, &j->passphrase, &len, err, sizeof err) == 0)
        j->st.passphrase = j->passphrase;
    }
    add_step(j, inv, NULL, "inventory", rb->ssh.command_timeout_ms);
    add_step(j, iss, NULL, "issue", rb->ssh.command_timeout_ms * 3);
    add_step(j, inst, NULL, "install", rb->ssh.command_timeout_ms);
    for (size_t k = 0; k < rb->nsteps; k++) {
      const rd_step_cfg *c = &rb->steps[k];
      const rd_step_kind *kind = c->kind ? c->kind : rd_registry_find(e->reg, c->type);
      if (!kind) {
        fprintf(stderr, "runbook %s: step '%s' has no loaded kind; check --plugins\n", rb->path,
                c->type);
        return RD_ECONFIG;
      }
      add_step(j, kind, c->params, c->name, c->timeout_ms);
    }
    for (size_t k = 0; k < j->nsteps; k++)
      json_array_append(json_object_get(j->report, "steps"), j->steps[k].report);
    j->waves = ws;
    rd_waves_add_target(ws);
    *e->tail = j;
    e->tail = &j->next;
    j->queued = 1;
    e->stats.targets++;
  }

  return 0;
}

int rd_engine_new(uv_loop_t *loop, rd_registry *reg, rd_journal *journal,
                  const rd_engine_opts *opts, rd_engine **out) {
  rd_engine *e = calloc(1, sizeof *e);
  rd_ssh_limits lim = {16, 30};
  int rc;
  if (!e)
    return RD_ENOMEM;
  e->loop = loop;
  e->reg = reg;
  e->journal = journal;
  e->opts = *opts;
  if (!e->opts.out)
    e->opts.out = stdout;
  e->tail = &e->jobs;
  e->max_parallel = opts->max_parallel > 0 ? (size_t)opts->max_parallel : 0;
  e->report = json_pack("{s:b, s:[]}", "whatif", opts->whatif, "jobs");
  if ((rc = rd_ssh_new(loop, &lim, &e->ssh)) || (rc = rd_http_new(loop, &e->http))) {
    rd_engine_free(e);
    return rc;
  }
  *out = e;
  return 0;
}

/* Stats into the report, and the exit code. */
static int engine_finish(rd_engine *e) {
  for (rd_job *j = e->jobs; j; j = j->next)
    json_array_append(json_object_get(e->report, "jobs"), j->report);
  json_object_set_new(e->report, "stats",
                      json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "targets", e->stats.targets,
                                "due", e->stats.due, "renewed", e->stats.renewed, "failed",
                                e->stats.failed, "rolled_back", e->stats.rolled_back,
                                "needs_operator", e->stats.needs_operator, "pending",
                                e->stats.pending));
  /* a job waiting out the backoff of an earlier failure is still a
   * certificate that is due and not renewed: report it as a failure */
  if (e->stats.failed || e->stats.rolled_back || e->stats.needs_operator || e->stats.skipped)
    return 1;
  if (e->opts.whatif)
    return e->stats.due ? 10 : 0;
  return e->stats.renewed ? 10 : 0;
}

int rd_engine_start(rd_engine *e, rd_engine_done_fn done, void *arg) {
  if (e->done || e->shutting_down)
    return RD_EBUSY;
  if (!e->max_parallel)
    e->max_parallel = 64;
  e->done = done;
  e->done_arg = arg;
  rd_engine_pump(e);
  return 0;
}

int rd_engine_run(rd_engine *e, rd_engine_stats *stats) {
  if (!e->max_parallel)
    e->max_parallel = 64;
  rd_engine_pump(e);
  uv_run(e->loop, UV_RUN_DEFAULT);
  int code = engine_finish(e);
  if (stats)
    *stats = e->stats;
  return code;
}

json_t *rd_engine_report(rd_engine *e) { return e->report; }

void rd_engine_free(rd_engine *e) {
  rd_job *j, *n;
  if (!e)
    return;
  for (j = e->jobs; j; j = n) {
    n = j->next;
    for (size_t k = 0; k < j->nsteps; k++) {
      rd_step *s = &j->steps[k];
      if (s->data_free)
        s->data_free(s->data);
      json_decref(s->report);
    }
    free(j->steps);
    json_decref(j->facts);
    json_decref(j->kv);
    json_decref(j->report);
    if (j->passphrase) {
      memset(j->passphrase, 0, strlen(j->passphrase));
      free(j->passphrase);
    }
    free(j);
  }
  json_decref(e->report);
  rd_waves_free(e->waves);
  free(e);
}
