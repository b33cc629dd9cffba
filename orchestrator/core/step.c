/* step.c — the step runner: one phase of one step at a time, under the
 * step's timeout.
 *
 * Every phase call bumps the step's serial; a completion counts only while
 * the step runs that phase (the host API drops stale ones, see hostapi.c).
 * On a timeout the kind's cancel hook runs, the operations in flight are
 * canceled (an SSH channel closed, a curl transfer removed), and the phase
 * completes with RD_ETIMEDOUT: whatever answers later is dropped and can
 * never be credited to the step's next phase (usually its rollback). */
#include <stdio.h>
#include <string.h>

#include "base/crashpoint.h"
#include "base/err.h"
#include "base/metrics.h"
#include "base/util.h"
#include "core/engine_int.h"

const char *rd_phase_name(rd_phase p) {
  static const char *names[] = {"probe", "apply", "verify", "rollback"};
  return p <= RD_PHASE_ROLLBACK ? names[p] : "?";
}

static void step_timer_fired(uv_timer_t *t) {
  rd_step *s = t->data;
  char msg[256];
  if (!s->busy)
    return;
  /* the plugin learns first; nothing it reports from its hook counts */
  if (s->kind->cancel) {
    s->ignoring++;
    s->kind->cancel(s, &rd_host_api_v1);
    s->ignoring--;
  }
  rd_host_cancel_calls(s);
  snprintf(msg, sizeof msg, "%s timed out after %ld ms", rd_phase_name(s->phase), s->timeout_ms);
  rd_engine_step_done(s, RD_ETIMEDOUT, NULL, msg);
}

static rd_phase_fn phase_fn(const rd_step_kind *k, rd_phase phase) {
  switch (phase) {
  case RD_PHASE_PROBE: return k->probe;
  case RD_PHASE_APPLY: return k->apply;
  case RD_PHASE_VERIFY: return k->verify;
  case RD_PHASE_ROLLBACK: return k->rollback;
  }
  return NULL;
}

void rd_step_run(rd_step *s, rd_phase phase) {
  rd_phase_fn fn = phase_fn(s->kind, phase);
  int rc;
  s->phase = phase;
  s->serial++;
  s->busy = 1;
  if (!fn) { /* nothing to do in this phase */
    rd_engine_step_done(s, 0, NULL, NULL);
    return;
  }
  if (phase == RD_PHASE_APPLY)
    s->applied = 1;
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
    snprintf(msg, sizeof msg, "%s could not start: %s", rd_phase_name(phase), rd_strerror(rc));
    rd_engine_step_done(s, rc, NULL, msg);
  }
}

static json_t *phase_report(rd_step *s) {
  json_t *phases = json_object_get(s->report, "phases");
  json_t *p = json_object();
  json_object_set_new(phases, rd_phase_name(s->phase), p);
  return p;
}

/* The job's first failure is its cause: the report's headline names it. */
static void note_cause(rd_job *j, rd_step *s, int status, const char *msg) {
  const char *text = msg && *msg ? msg : rd_strerror(status);
  if (j->error[0])
    return;
  snprintf(j->error, sizeof j->error, "host %s: %s: %s: %s", j->t->name, s->name,
           rd_phase_name(s->phase), text);
  json_object_set_new(j->report, "cause",
                      json_pack("{s:s, s:s, s:s, s:s}", "step", s->name, "phase",
                                rd_phase_name(s->phase), "status", rd_errname(status), "message",
                                text));
}

static void step_recorded(int err, const char *msg, void *arg);
static void step_went(rd_step *s, int status, const char *msg, double ms);

void rd_engine_step_done(rd_step *s, int status, json_t *result, const char *msg) {
  rd_job *j = s->j;
  json_t *p;
  double ms;
  if (!s->busy || s->ignoring) { /* not running a phase, or a late answer */
    json_decref(result);
    return;
  }
  s->busy = 0;
  rd_crashpoint("step.done/%s.%s", s->kind->type, rd_phase_name(s->phase));
  if (s->timer_ready)
    uv_timer_stop(&s->timer);
  ms = s->t0 ? (double)(rd_now_ms() - s->t0) : 0;
  rd_metrics_step(s->kind ? s->kind->type : s->name, rd_phase_name(s->phase), !status, ms / 1000);
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
    rd_step_record rec = {s->name, rd_phase_name(s->phase), status, ms, result, msg};
    if (j->e->loop &&
        rd_journal_step_async(j->e->journal, j->e->loop, j->id, &rec, step_recorded, j) == 0) {
      /* PostgreSQL: the job goes on once the record is committed (its
       * next remote action waits for it); other jobs go on meanwhile */
      s->rec_next = NULL;
      if (j->rec_tail)
        j->rec_tail->rec_next = s;
      else
        j->rec_head = s;
      j->rec_tail = s;
      json_decref(result); /* the report and the record hold their own */
      return;
    }
    rd_job_journal_failed(j, rd_journal_step(j->e->journal, j->id, &rec));
  }
  step_went(s, status, msg, ms);
  json_decref(result);
}

/* A step's record committed (on PostgreSQL, in the order asked): its job
 * goes on. RD_ECANCELED: the engine is being freed, the job is left alone. */
static void step_recorded(int err, const char *msg, void *arg) {
  rd_job *j = arg;
  rd_step *s = j->rec_head;
  const json_t *p;
  (void)msg;
  if (err == RD_ECANCELED || !s)
    return;
  if (!(j->rec_head = s->rec_next))
    j->rec_tail = NULL;
  s->rec_next = NULL;
  rd_job_journal_failed(j, err); /* it then stops as a crash there would */
  p = json_object_get(json_object_get(s->report, "phases"), rd_phase_name(s->phase));
  step_went(s, s->status, json_string_value(json_object_get(p, "message")),
            json_real_value(json_object_get(p, "ms")));
}

/* The rest of a phase's end, once it is recorded: the cause, the log, and
 * the job's (or the group's) next move. */
static void step_went(rd_step *s, int status, const char *msg, double ms) {
  rd_job *j = s->j;
  if (status) {
    if (!s->group) /* a group names its first failure in step order (phase.c) */
      note_cause(j, s, status, msg);
    rd_step_log(s, RD_LOG_WARN, "%s: %s", rd_phase_name(s->phase),
                msg && *msg ? msg : rd_strerror(status));
  } else if (j->e->opts.verbose)
    rd_step_log(s, RD_LOG_INFO, "%s: ok (%.0f ms)%s%s", rd_phase_name(s->phase), ms,
                msg ? ": " : "", msg ? msg : "");
  if (s->group) {
    rd_phase_member_done(s);
    return;
  }
  if (status && !j->fail_status)
    j->fail_status = status;
  rd_job_next(j);
}

void rd_step_blame(rd_step *s) {
  json_t *p = json_object_get(json_object_get(s->report, "phases"), rd_phase_name(s->phase));
  note_cause(s->j, s, s->status, json_string_value(json_object_get(p, "message")));
  if (!s->j->fail_status)
    s->j->fail_status = s->status;
}

static void step_timer_closed(uv_handle_t *h) {
  rd_step *s = h->data;
  rd_engine_handle_closed(s->j->e);
}

void rd_steps_close(rd_job *j) {
  for (size_t k = 0; k < j->nsteps; k++) {
    rd_step *s = &j->steps[k];
    if (s->timer_ready && !uv_is_closing((uv_handle_t *)&s->timer)) {
      j->e->handles++;
      uv_close((uv_handle_t *)&s->timer, step_timer_closed);
    }
  }
}
