/* scan.c — the scan scheduler of `renewd serve` and its reload (see
 * serve.h). */
#include "serve/serve.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/err.h"
#include "base/log.h"
#include "cli/cli.h"
#include "core/schedule.h"

static void schedule_next(rd_serve_rb *r, int first);

static uint64_t rand64(void) {
  uint64_t v = 0;
  if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
    v = (uint64_t)time(NULL) * 6364136223846793005ULL;
  return v;
}

/* A line about runbook r through the one logger (base/log.h: escaped, text
 * or JSON, journald levels): "serve: runbook NAME: ..." */
void rd_serve_log(const rd_serve_rb *r, rd_lv lv, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  rd_log(lv, "serve", "runbook %s: %s", r->rb->name, msg);
}

static void log_scan(const rd_serve_rb *r, const rd_engine_stats *st, const json_t *report) {
  const json_t *job;
  size_t i;
  rd_serve_log(r, RD_LV_INFO,
         "%s%d targets, %d due, %d renewed, %d failed, %d rolled back, %d need an operator, "
         "%d held or backing off",
         r->last_whatif ? "outside the maintenance window, probe only: " : "", st->targets,
         st->due, st->renewed, st->failed, st->rolled_back, st->needs_operator, st->skipped);
  json_array_foreach(json_object_get(report, "jobs"), i, job) {
    const char *state = json_string_value(json_object_get(job, "state"));
    const char *err = json_string_value(json_object_get(job, "error"));
    if (!state || !strcmp(state, "NOT_DUE"))
      continue;
    rd_serve_log(r, err ? RD_LV_WARNING : RD_LV_INFO, "host %s: %s%s%s",
           json_string_value(json_object_get(job, "host")), state, err ? ": " : "",
           err ? err : "");
  }
}

static void maybe_stopped(rd_serve *sv) {
  if (!sv->stopping || sv->timers_open || sv->running || sv->mailing || !sv->stopped)
    return;
  rd_serve_stopped_fn fn = sv->stopped;
  sv->stopped = NULL;
  fn(sv, sv->stopped_arg);
}

void rd_serve_closed_one(rd_serve *sv) {
  sv->timers_open--;
  maybe_stopped(sv);
}

static void start_scan(rd_serve_rb *r);

static void digest_sent(void *arg) {
  rd_serve *sv = arg;
  sv->mailing--;
  maybe_stopped(sv);
}

/* The scan of r is over (or never started): the next one. */
static void scan_ended(rd_serve_rb *r) {
  rd_serve *sv = r->sv;
  sv->running = NULL;
  if (sv->o.once && sv->once_left && --sv->once_left == 0)
    rd_serve_stop(sv);
  if (sv->stopping) {
    maybe_stopped(sv);
    return;
  }
  /* (a divided round a wake-up started leaves the runbook's timer armed) */
  if (!sv->o.once && !uv_is_active((uv_handle_t *)&r->timer))
    schedule_next(r, 0);
  /* a waiting runbook, starting after r so that none waits forever */
  size_t at = (size_t)(r - sv->rbs);
  for (size_t k = 1; k <= sv->nrbs; k++) {
    rd_serve_rb *q = &sv->rbs[(at + k) % sv->nrbs];
    if (q->queued) {
      start_scan(q);
      return;
    }
  }
}

static void scan_done(rd_engine *e, int code, const rd_engine_stats *st, void *arg) {
  rd_serve_rb *r = arg;
  rd_serve *sv = r->sv;
  const json_t *report = rd_engine_report(e), *job;
  size_t i;
  r->scans++;
  r->last_scan = time(NULL);
  r->last_code = code;
  r->last_whatif = r->scan_whatif;
  r->last = *st;
  r->renewed_total += st->renewed;
  r->failed_total += st->failed + st->rolled_back + st->needs_operator;
  json_array_foreach(json_object_get(report, "jobs"), i, job) {
    const char *host = json_string_value(json_object_get(job, "host"));
    json_int_t na = json_integer_value(
        json_object_get(json_object_get(job, "live_cert"), "not_after"));
    if (host && na)
      json_object_set_new(r->expiry, host, json_integer(na));
  }
  if (code == RD_EXIT_FAILED)
    sv->exit_code = RD_EXIT_FAILED;
  else if (code == RD_EXIT_RENEWED && sv->exit_code == RD_EXIT_OK)
    sv->exit_code = RD_EXIT_RENEWED;
  log_scan(r, st, report);
  if (r->nitems)
    rd_serve_work_finish(r, report);
  rd_engine_free(e);
  r->engine = NULL;
  if (rd_serve_digest(r, digest_sent, sv) == 0)
    sv->mailing++;
  if (r->last.targets && sv->divided && !r->scan_whatif) {
    /* a divided round: the next one, until a round claims nothing */
    if (!sv->stopping) {
      start_scan(r);
      return;
    }
  }
  scan_ended(r);
}

/* A reloaded version waiting: it replaces the loaded one now, before the
 * scan starts; hosts it no longer lists leave the expiry map. */
static void adopt_next(rd_serve_rb *r) {
  const char *host;
  json_t *v;
  void *tmp;
  if (!r->next)
    return;
  rd_runbook_free(r->owned); /* the previous reload's (never the caller's) */
  r->rb = r->owned = r->next;
  r->next = NULL;
  r->reloaded = time(NULL);
  json_object_foreach_safe(r->expiry, tmp, host, v) {
    if (!json_object_get(r->rb->target_index, host))
      json_object_del(r->expiry, host);
  }
  rd_serve_log(r, RD_LV_NOTICE, "scanning with the reloaded runbook");
}

/* The engine of r's scan (divided: on the hosts claimed). */
static void run_engine(rd_serve_rb *r) {
  rd_serve *sv = r->sv;
  rd_engine_opts eo = {.whatif = r->scan_whatif, .out = sv->devnull,
                       .max_parallel = sv->o.max_parallel, .verbose = sv->o.verbose,
                       .hosts = r->nitems ? r->item_hosts : NULL};
  rd_engine *e = NULL;
  char why[128];
  int rc;
  if ((rc = rd_engine_new(sv->loop, sv->reg, r->scan_whatif ? NULL : sv->journal, &eo, &e)) ||
      (rc = rd_engine_add_runbook(e, r->rb)) || (rc = rd_engine_start(e, scan_done, r))) {
    snprintf(why, sizeof why, "cannot start the engine: %s", rd_strerror(rc));
    rd_serve_log(r, RD_LV_ERR, "scan failed: %s", why);
    rd_engine_free(e);
    rd_serve_work_finish(r, NULL); /* claimed for nothing: back to the queue */
    if (sv->o.once)
      sv->exit_code = RD_EXIT_FAILED;
    scan_ended(r);
    return;
  }
  r->engine = e;
}

static void start_scan(rd_serve_rb *r) {
  rd_serve *sv = r->sv;
  time_t now = time(NULL);
  adopt_next(r);
  int whatif = !sv->journal ||
               !rd_window_is_open(&r->rb->schedule.win, now, rd_local_offset(now));
  r->queued = 0;
  if (!uv_is_active((uv_handle_t *)&r->timer))
    r->next_scan = 0;
  r->scan_whatif = whatif;
  r->scan_started = now;
  sv->running = r;
  if (sv->divided && !whatif) {
    /* divided: the hosts this instance claims (rd_serve_claimed follows) */
    if (rd_serve_work_claim(r) < 0)
      scan_ended(r);
    return;
  }
  run_engine(r);
}

void rd_serve_claimed(rd_serve_rb *r) {
  if (!r->nitems || r->sv->stopping) {
    rd_serve_work_finish(r, NULL); /* (stopping: back to the queue) */
    scan_ended(r);
    return;
  }
  run_engine(r);
}

void rd_serve_wake(rd_serve_rb *r) {
  rd_serve *sv = r->sv;
  if (sv->stopping || r->engine || r->queued || sv->running == r)
    return;
  if (sv->running) {
    r->queued = 1;
    return;
  }
  start_scan(r);
}

static void timer_fired(uv_timer_t *t) {
  rd_serve_rb *r = t->data;
  if (r->sv->stopping)
    return;
  if (r->sv->running) { /* one scan at a time: this one waits its turn */
    r->queued = 1;
    r->next_scan = 0;
    return;
  }
  start_scan(r);
}

static void schedule_next(rd_serve_rb *r, int first) {
  const rd_schedule *sc = &r->rb->schedule;
  int64_t base = first ? 0 : sc->scan_interval_s;
  int64_t delay = rd_jitter(base, sc->jitter_s > 0 ? sc->jitter_s : 0, rand64());
  time_t now = time(NULL);
  if (!first && !sc->win.always) {
    /* be there when the window opens, if that is sooner */
    time_t open = rd_window_next_open(&sc->win, now, rd_local_offset(now));
    if (open > now && open - now < delay)
      delay = (int64_t)(open - now);
  }
  if (first && r->sv->o.once)
    delay = 0;
  r->next_scan = now + (time_t)delay;
  uv_timer_start(&r->timer, timer_fired, (uint64_t)delay * 1000u, 0);
}

int rd_serve_init(rd_serve *sv, uv_loop_t *loop, rd_registry *reg, rd_journal *journal,
                  rd_runbook *const *rbs, size_t n, const rd_serve_opts *o,
                  rd_serve_stopped_fn stopped, void *arg) {
  memset(sv, 0, sizeof *sv);
  if (!n)
    return RD_EINVAL;
  sv->loop = loop;
  sv->reg = reg;
  sv->journal = journal;
  sv->o = *o;
  sv->stopped = stopped;
  sv->stopped_arg = arg;
  if (!(sv->devnull = fopen("/dev/null", "w")) || !(sv->rbs = calloc(n, sizeof *sv->rbs))) {
    if (sv->devnull)
      fclose(sv->devnull);
    return RD_ENOMEM;
  }
  sv->nrbs = sv->once_left = n;
  for (size_t i = 0; i < n; i++) {
    rd_serve_rb *r = &sv->rbs[i];
    r->rb = rbs[i];
    r->sv = sv;
    r->expiry = json_object();
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    sv->timers_open++;
  }
  return 0;
}

/* Seed each runbook's expiry map from the journal's newest inventory snapshot
 * of its hosts, so /metrics and /status know the fleet before the first scan
 * after a restart. */
static int seed_expiry(const rd_inventory_row *row, void *arg) {
  rd_serve *sv = arg;
  json_int_t na = json_integer_value(json_object_get(row->facts, "not_after"));
  for (size_t i = 0; na && i < sv->nrbs; i++)
    if (json_object_get(sv->rbs[i].rb->target_index, row->host))
      json_object_set_new(sv->rbs[i].expiry, row->host, json_integer(na));
  return 0;
}

void rd_serve_start(rd_serve *sv) {
  if (sv->journal && rd_serve_work_init(sv))
    fprintf(stderr, "renewd serve: cannot divide the scans (no timer): every instance "
                    "scans every host\n");
  if (sv->journal && rd_journal_inventory_latest(sv->journal, seed_expiry, sv))
    rd_log(RD_LV_WARNING, "serve", "journal: %s (expiry known after the first scan)",
           rd_journal_errmsg(sv->journal));
  for (size_t i = 0; i < sv->nrbs && !sv->stopping; i++)
    schedule_next(&sv->rbs[i], 1);
}

static void timer_closed(uv_handle_t *h) {
  rd_serve *sv = ((rd_serve_rb *)h->data)->sv;
  sv->timers_open--;
  maybe_stopped(sv);
}

void rd_serve_stop(rd_serve *sv) {
  if (sv->stopping)
    return;
  sv->stopping = 1;
  rd_serve_work_stop(sv);
  for (size_t i = 0; i < sv->nrbs; i++) {
    sv->rbs[i].queued = 0;
    sv->rbs[i].next_scan = 0;
    uv_close((uv_handle_t *)&sv->rbs[i].timer, timer_closed);
  }
}

/* Another runbook of the daemon (loaded or waiting) already named name. */
static const rd_serve_rb *name_taken(const rd_serve *sv, const rd_serve_rb *self,
                                     const char *name) {
  for (size_t i = 0; i < sv->nrbs; i++) {
    const rd_serve_rb *o = &sv->rbs[i];
    if (o != self && (!strcmp(o->rb->name, name) || (o->next && !strcmp(o->next->name, name))))
      return o;
  }
  return NULL;
}

static void reload_one(rd_serve_rb *r) {
  rd_serve *sv = r->sv;
  rd_runbook *nrb = NULL;
  rd_diag d = {0};
  const rd_serve_rb *clash;
  int rc = rd_runbook_load(r->rb->path, sv->reg, &nrb, &d);
  if (!rc && (clash = name_taken(sv, r, nrb->name))) {
    rd_diag_add(&d, r->rb->path, 0, 0, "'name' \"%s\" is the name of the runbook in %s already",
                nrb->name, clash->rb->path);
    rd_runbook_free(nrb);
    nrb = NULL;
    rc = RD_ECONFIG;
  }
  if (rc) {
    const rd_diag_item *it = d.n ? &d.items[0] : NULL;
    char first[1024];
    if (it && it->line > 0)
      snprintf(first, sizeof first, "%s:%d:%d: %s", it->file ? it->file : r->rb->path, it->line,
               it->column, it->msg);
    else if (it)
      snprintf(first, sizeof first, "%s: %s", it->file ? it->file : r->rb->path, it->msg);
    else
      snprintf(first, sizeof first, "%s: %s", r->rb->path, rd_strerror(rc));
    free(r->reload_error);
    r->reload_error = strdup(first);
    r->reload_refused = 1;
    char more[40] = "";
    if (d.n > 1)
      snprintf(more, sizeof more, " (and %zu more)", d.n - 1);
    rd_serve_log(r, RD_LV_WARNING, "reload refused, the loaded version keeps running: %s%s", first,
           more);
    rd_diag_print(&d, stderr);
  } else {
    rd_runbook_free(r->next); /* an earlier reload that never ran */
    r->next = nrb;
    r->reload_refused = 0;
    free(r->reload_error);
    r->reload_error = NULL;
    rd_serve_log(r, RD_LV_NOTICE, "reloaded%s%s: %zu target(s), in use from the next scan%s",
           strcmp(nrb->name, r->rb->name) ? " as " : "",
           strcmp(nrb->name, r->rb->name) ? nrb->name : "", nrb->ntargets,
           r->engine ? " (the running scan ends on the loaded version)" : "");
  }
  rd_diag_free(&d);
}

int rd_serve_reload(rd_serve *sv) {
  int refused = 0;
  for (size_t i = 0; i < sv->nrbs && !sv->stopping; i++) {
    reload_one(&sv->rbs[i]);
    refused += sv->rbs[i].reload_refused;
  }
  return refused;
}

void rd_serve_free(rd_serve *sv) {
  for (size_t i = 0; i < sv->nrbs; i++) {
    json_decref(sv->rbs[i].expiry);
    rd_runbook_free(sv->rbs[i].next);
    rd_runbook_free(sv->rbs[i].owned);
    free(sv->rbs[i].reload_error);
    free(sv->rbs[i].items);
    free(sv->rbs[i].item_hosts);
  }
  free(sv->rbs);
  if (sv->devnull)
    fclose(sv->devnull);
  memset(sv, 0, sizeof *sv);
}
