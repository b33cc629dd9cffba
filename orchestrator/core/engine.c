/* engine.c — the run: creating and freeing the engine, starting it on the
 * caller's loop, admitting jobs into the concurrency slots, and ending the
 * run once every job, transport, timer and off-loop work is over. See
 * engine.h; the job flow is job.c, the step runner step.c, job building
 * build.c. */
#include "core/engine.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/engine_int.h"

/* Stats into the report, and the exit code. */
static int engine_finish(rd_engine *e) {
  json_t *jobs = json_object_get(e->report, "jobs");
  json_array_clear(jobs);
  for (rd_job *j = e->jobs; j; j = j->next)
    json_array_append(jobs, j->report);
  json_object_set_new(e->report, "stats",
                      json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "targets",
                                e->stats.targets, "due", e->stats.due, "renewed", e->stats.renewed,
                                "failed", e->stats.failed, "rolled_back", e->stats.rolled_back,
                                "needs_operator", e->stats.needs_operator, "pending",
                                e->stats.pending, "skipped", e->stats.skipped));
  /* a job waiting out the backoff of an earlier failure is still a
   * certificate that is due and not renewed: report it as a failure */
  if (e->stats.failed || e->stats.rolled_back || e->stats.needs_operator || e->stats.skipped)
    return 1;
  if (e->opts.whatif)
    return e->stats.due ? 10 : 0;
  return e->stats.renewed ? 10 : 0;
}

/* The run is over once the transports are closed and no timer, work or
 * kick is left: done runs last (it may free the engine). */
static void maybe_done(rd_engine *e) {
  if (!e->shutting_down || e->closing > 0 || e->handles > 0 || e->done_called)
    return;
  e->done_called = 1;
  int code = engine_finish(e);
  e->done(e, code, &e->stats, e->done_arg);
}

void rd_engine_handle_closed(rd_engine *e) {
  e->handles--;
  maybe_done(e);
}

static void transport_closed(void *arg) {
  rd_engine *e = arg;
  e->closing--;
  maybe_done(e);
}

static void closed_nowhere(void *arg) { (void)arg; }

static void close_transports(rd_engine *e) {
  rd_ssh *ssh = e->ssh;
  rd_http *http = e->http;
  e->ssh = NULL;
  e->http = NULL;
  e->closing += (ssh != NULL) + (http != NULL);
  if (ssh)
    rd_ssh_shutdown(ssh, e->done ? transport_closed : closed_nowhere, e);
  if (http)
    rd_http_shutdown(http, e->done ? transport_closed : closed_nowhere, e);
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

void rd_engine_pump(rd_engine *e) {
  int waiting = 0;
  if (!e->started || e->shutting_down)
    return;
  for (rd_job *q = e->jobs; q && e->running < e->max_parallel; q = q->next)
    if (q->wave_ready && !q->wave_started && !q->finished && slot_free(e, q) &&
        !rd_lease_host_busy(e, q)) { /* one job per host: the other waits */
      q->wave_started = 1;
      slot_take(q);
      rd_job_start_renewal(q);
    }
  for (rd_job *q = e->jobs; q && e->running < e->max_parallel; q = q->next)
    if (q->queued && !q->started && slot_free(e, q)) {
      q->started = 1;
      slot_take(q);
      if (q->setup_failed)
        rd_job_end(q, RD_JOB_FAILED); /* its error says why */
      else
        rd_step_run(&q->steps[0], RD_PHASE_PROBE);
    }
  for (rd_job *q = e->jobs; q; q = q->next)
    if (!q->finished && (q->holds_slot || q->wave_ready || !q->started))
      waiting = 1;
  if (!waiting && e->running == 0 && e->notifying == 0 && !e->shutting_down) {
    e->shutting_down = 1;
    rd_lease_stop(e);
    close_transports(e);
  }
}

int rd_engine_new(uv_loop_t *loop, rd_registry *reg, rd_journal *journal,
                  const rd_engine_opts *opts, rd_engine **out) {
  rd_engine *e = calloc(1, sizeof *e);
  if (!e)
    return RD_ENOMEM;
  e->loop = loop;
  e->reg = reg;
  e->journal = journal;
  e->opts = *opts;
  if (!e->opts.out)
    e->opts.out = stdout;
  e->tail = &e->jobs;
  rd_lease_init(e);
  e->max_parallel = opts->max_parallel > 0 ? (size_t)opts->max_parallel : 64;
  e->report = json_pack("{s:b, s:[]}", "whatif", opts->whatif, "jobs");
  if (!e->report) {
    free(e);
    return RD_ENOMEM;
  }
  *out = e;
  return 0;
}

static void kick_closed(uv_handle_t *h) { rd_engine_handle_closed(h->data); }

/* First turn of the loop after rd_engine_start: the run begins. */
static void kick_fired(uv_timer_t *t) {
  rd_engine *e = t->data;
  uv_close((uv_handle_t *)t, kick_closed); /* its count goes in kick_closed */
  rd_engine_pump(e);
}

int rd_engine_start(rd_engine *e, rd_engine_done_fn done, void *arg) {
  int rc;
  if (!done)
    return RD_EINVAL;
  if (e->started)
    return RD_EBUSY;
  /* the transports exist only while a run does: an engine that never ran
   * has nothing to close */
  rd_ssh_limits lim = {16, 30};
  if ((rc = rd_ssh_new(e->loop, &lim, &e->ssh)))
    return rc;
  if ((rc = rd_http_new(e->loop, &e->http))) {
    rd_ssh_shutdown(e->ssh, closed_nowhere, NULL);
    e->ssh = NULL;
    return rc;
  }
  if ((rc = uv_timer_init(e->loop, &e->kick))) {
    close_transports(e);
    return RD_EIO;
  }
  e->done = done;
  e->done_arg = arg;
  e->started = 1;
  e->kick.data = e;
  e->handles++;
  uv_timer_start(&e->kick, kick_fired, 0, 0);
  return 0;
}

typedef struct run_result {
  int code;
  rd_engine_stats stats;
} run_result;

static void run_done(rd_engine *e, int code, const rd_engine_stats *stats, void *arg) {
  run_result *r = arg;
  (void)e;
  r->code = code;
  r->stats = *stats;
}

int rd_engine_run(rd_engine *e, rd_engine_stats *stats) {
  run_result r = {0};
  int rc = rd_engine_start(e, run_done, &r);
  if (rc)
    return rc;
  uv_run(e->loop, UV_RUN_DEFAULT);
  if (!e->done_called) /* the loop was stopped under the run */
    return RD_ECANCELED;
  if (stats)
    *stats = r.stats;
  return r.code;
}

json_t *rd_engine_report(rd_engine *e) { return e->report; }

void rd_engine_get_stats(const rd_engine *e, rd_engine_stats *out) { *out = e->stats; }

void rd_engine_print_report(rd_engine *e, FILE *f) {
  if (e->opts.inventory)
    rd_report_print_inventory(f, e->report);
  else
    rd_report_print_text(f, e->report, e->opts.whatif);
}

void rd_engine_free(rd_engine *e) {
  rd_job *j, *n;
  if (!e)
    return;
  /* a run still going (not allowed by engine.h) at least leaves no
   * transport behind */
  if (e->ssh || e->http) {
    e->done = NULL;
    close_transports(e);
  }
  if (e->beat) /* a beat unanswered: cancelled before the jobs it names go */
    rd_journal_async_cancel(e->journal, e->beat);
  for (j = e->jobs; j; j = n) {
    n = j->next;
    /* the answers of its transition, writes, lease claim or release, or
     * its opening must not find it */
    if (j->moving || j->writes || j->lease_claiming || j->lease_releasing || j->opening)
      rd_journal_async_cancel(e->journal, j);
    rd_job_free(j);
  }
  json_decref(e->report);
  rd_waves_free(e->waves);
  free(e);
}
