/* work.c — divided scans of `renewd serve` on a PostgreSQL journal (see
 * serve.h and store/work.h): the round's plan and claims, their heartbeat,
 * the poll for work and the NOTIFY wake-ups. */
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/schedule.h"
#include "store/work.h"

static void log_line(const rd_serve_rb *r, const char *what, const char *detail) {
  rd_serve_log(r, RD_LV_INFO, "%s%s", what, detail);
}

/* "serve: journal: WHAT: DETAIL" through the one logger (escaped). */
static void log_journal(rd_serve *sv, const char *what, const char *detail) {
  (void)sv;
  rd_log(RD_LV_WARNING, "serve", "journal: %s: %s", what, detail);
}

/* The runbook's renewing scan may run now (its window is open). */
static int renewing(const rd_serve_rb *r, time_t now) {
  return rd_window_is_open(&r->rb->schedule.win, now, rd_local_offset(now));
}

static void on_notify(const char *runbook, void *arg) {
  rd_serve *sv = arg;
  time_t now = time(NULL);
  if (sv->o.once)
    return; /* a one-shot instance does its rounds and leaves */
  for (size_t i = 0; i < sv->nrbs; i++)
    if (!strcmp(sv->rbs[i].rb->name, runbook) && renewing(&sv->rbs[i], now))
      rd_serve_wake(&sv->rbs[i]);
}

/* Open the work connection (claims and heartbeat there, NOTIFY). */
static void listen_again(rd_serve *sv) {
  if (rd_work_listen(sv->loop, sv->journal, on_notify, sv, &sv->listener) < 0)
    log_journal(sv, "work connection (claims on the journal's, no wake-ups, work looked for "
                    "at each tick)",
                rd_journal_errmsg(sv->journal));
}

static void renewed(int err, long count, void *arg) {
  rd_serve *sv = arg;
  (void)count;
  if (err < 0 && err != RD_ECANCELED)
    log_journal(sv, "claims' heartbeat", rd_strerror(err));
}

/* Every third of the TTL: the claims' heartbeat; idle, a look for work (a
 * plan that fell due, an expired claim of a dead instance); a lost
 * listener listens again. */
static void tick(uv_timer_t *t) {
  rd_serve *sv = t->data;
  time_t now = time(NULL);
  long count = 0;
  int held = 0;
  for (size_t i = 0; i < sv->nrbs; i++)
    held |= sv->rbs[i].nitems > 0;
  if (held && !(sv->listener && rd_work_renew_async(sv->listener, sv->owner, sv->work_ttl, now,
                                                     renewed, sv) == 0) &&
      rd_work_renew(sv->journal, sv->owner, sv->work_ttl, now, &count) < 0)
    log_journal(sv, "claims' heartbeat", rd_journal_errmsg(sv->journal));
  if (sv->listener)
    rd_work_listener_check(sv->listener);
  else
    listen_again(sv);
  if (sv->o.once)
    return;
  for (size_t i = 0; i < sv->nrbs; i++)
    if (renewing(&sv->rbs[i], now))
      rd_serve_wake(&sv->rbs[i]);
}

static void timer_closed(uv_handle_t *h) { rd_serve_closed_one(h->data); }

int rd_serve_work_init(rd_serve *sv) {
  rd_lease_owner me;
  uint64_t every;
  if (!rd_work_supported(sv->journal))
    return 0;
  rd_lease_owner_self(&me);
  rd_lease_owner_id(&me, sv->owner, sizeof sv->owner);
  sv->work_ttl = rd_lease_ttl();
  every = (uint64_t)sv->work_ttl * 1000 / 3;
  if (uv_timer_init(sv->loop, &sv->work_timer))
    return RD_EIO;
  sv->work_timer.data = sv;
  sv->work_timer_on = 1;
  sv->timers_open++;
  uv_timer_start(&sv->work_timer, tick, every, every);
  sv->divided = 1;
  listen_again(sv);
  return 0;
}

void rd_serve_work_stop(rd_serve *sv) {
  rd_work_listener_close(sv->listener);
  sv->listener = NULL;
  if (sv->work_timer_on) {
    sv->work_timer_on = 0;
    uv_close((uv_handle_t *)&sv->work_timer, timer_closed);
  }
}

/* The round's plan: when it falls due, this instance queues every host of
 * the runbook (unless another instance plans it right now). */
static void plan(rd_serve_rb *r, time_t now) {
  rd_serve *sv = r->sv;
  const char **hosts = calloc(r->rb->ntargets + 1, sizeof *hosts);
  int planned = 0, queued = 0, err;
  char line[96];
  if (!hosts) {
    log_line(r, "work plan: ", "out of memory");
    return;
  }
  for (size_t i = 0; i < r->rb->ntargets; i++)
    hosts[i] = r->rb->targets[i].name;
  rd_work_plan_req q = {.runbook = r->rb->name, .hosts = hosts, .nhosts = r->rb->ntargets,
                        .owner = sv->owner, .interval_s = r->rb->schedule.scan_interval_s,
                        .now = now};
  err = rd_work_plan(sv->journal, &q, &planned, &queued);
  free(hosts);
  if (err < 0 && err != RD_EBUSY)
    log_line(r, "", rd_journal_errmsg(sv->journal));
  else if (planned) {
    snprintf(line, sizeof line, "planned the scan: %d host(s) queued", queued);
    log_line(r, line, "");
  }
}

/* The answer of r's claim: r->items, logged. */
static void take(rd_serve_rb *r, int err, rd_work_item *items, size_t n) {
  r->items = items;
  r->nitems = n;
  if (err < 0 && err != RD_ECANCELED) {
    char why[160];
    snprintf(why, sizeof why, "work claim: %s", rd_strerror(err));
    log_line(r, "", err == RD_ETIMEDOUT ? "work claim: the database did not answer in time"
                                        : why);
  }
  if (!n)
    return;
  if (!(r->item_hosts = calloc(n + 1, sizeof *r->item_hosts))) {
    rd_serve_work_finish(r, NULL);
    return;
  }
  /* "claimed N host(s): h1 (epoch 3) h2 (epoch 1, taken over from X)" */
  char *line = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&line, &len);
  if (f)
    fprintf(f, "claimed %zu host(s):", n);
  for (size_t i = 0; i < n; i++) {
    r->item_hosts[i] = items[i].host;
    if (items[i].takeover)
      r->takeovers_total++;
    if (f)
      fprintf(f, " %s (epoch %lld%s%s)", items[i].host, (long long)items[i].epoch,
              items[i].takeover ? ", taken over from " : "",
              items[i].takeover ? items[i].previous : "");
  }
  if (f && !fclose(f))
    rd_serve_log(r, RD_LV_INFO, "%s", line);
  free(line);
  r->claimed_total += (long)n;
}

static void claimed(int err, rd_work_item *items, size_t n, void *arg) {
  rd_serve_rb *r = arg;
  take(r, err, items, n);
  rd_serve_claimed(r);
}

int rd_serve_work_claim(rd_serve_rb *r) {
  rd_serve *sv = r->sv;
  time_t now = time(NULL);
  int max = r->rb->schedule.max_parallel > 0 ? r->rb->schedule.max_parallel : 16;
  rd_work_item *items = NULL;
  size_t n = 0;
  int err;
  plan(r, now);
  if (sv->listener &&
      rd_work_claim_async(sv->listener, r->rb->name, sv->owner, sv->work_ttl, max, now,
                          claimed, r) == 0)
    return 0;
  /* the work connection is down (the tick opens it again): this claim
   * blocks, bounded, on the journal's */
  if ((err = rd_work_claim(sv->journal, r->rb->name, sv->owner, sv->work_ttl, max, now, &items,
                           &n)) < 0) {
    log_line(r, "", rd_journal_errmsg(sv->journal));
    return err;
  }
  take(r, 0, items, n);
  rd_serve_claimed(r);
  return 0;
}

/* How the engine's report says host's job ended ("" when it is not there). */
static const char *job_outcome(const json_t *report, const char *host) {
  const json_t *job;
  size_t i;
  json_array_foreach(json_object_get(report, "jobs"), i, job) {
    const char *h = json_string_value(json_object_get(job, "host"));
    const char *st = json_string_value(json_object_get(job, "state"));
    if (h && st && !strcmp(h, host))
      return st;
  }
  return "";
}

void rd_serve_work_finish(rd_serve_rb *r, const json_t *report) {
  rd_serve *sv = r->sv;
  time_t now = time(NULL);
  for (size_t i = 0; i < r->nitems; i++) {
    /* never ran: back at once; BUSY (its host leased elsewhere, a claim
     * taken over before the lease expired): back when a heartbeat of the
     * lease's holder would have come; else done until the next plan */
    int again = !report ? 0 : !strcmp(job_outcome(report, r->items[i].host), "BUSY")
                                  ? (sv->work_ttl / 3 > 0 ? sv->work_ttl / 3 : 1)
                                  : -1;
    if (rd_work_finish(sv->journal, r->rb->name, &r->items[i], sv->owner, again, now) < 0)
      log_line(r, "", rd_journal_errmsg(sv->journal));
  }
  free(r->items);
  free(r->item_hosts);
  r->items = NULL;
  r->item_hosts = NULL;
  r->nitems = 0;
}
