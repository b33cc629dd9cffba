/* serve.h — the scan scheduler of `renewd serve`, on the caller's loop.
 *
 * Per runbook: a scan every schedule.scan_interval plus a random jitter up
 * to schedule.jitter (the first one after the jitter alone). Inside the
 * runbook's maintenance window a scan renews what is due; outside it only
 * probes (whatif, no journal writes). A scan is an engine started with
 * rd_engine_start on this loop: no worker thread and no nested loop, so the
 * scan's own name lookups and work items have the whole thread pool, and
 * the listener answers during it.
 *
 * One scan at a time in the process: a runbook whose timer fires while
 * another scan runs waits in a queue (two engines on one journal could both
 * hold the (host, cert) that two runbooks share). Stop: no scan starts any
 * more, the timers close, a running scan runs to its end (every step is
 * bounded by its own timeout), then stopped() runs.
 *
 * Reload (SIGHUP): rd_serve_reload reads every runbook's file again. A file
 * that does not load (or would take another runbook's name) is refused with
 * its file:line:column diagnostics and the loaded version keeps running; a
 * good one waits in `next` and replaces the loaded one when the runbook's
 * next scan starts (a scan in progress finishes on the version it began
 * with). */
#ifndef RENEWD_SERVE_H
#define RENEWD_SERVE_H
#include <stdio.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "base/log.h"
#include "config/runbook.h"
#include "core/engine.h"
#include "host/registry.h"
#include "store/journal.h"

typedef struct rd_serve rd_serve;

typedef struct rd_serve_rb {
  rd_runbook *rb;
  rd_serve *sv;
  uv_timer_t timer;
  rd_engine *engine;   /* the running scan, or NULL */
  int queued;          /* its timer fired while another scan ran */
  int scan_whatif;     /* of the running scan */
  time_t scan_started; /* of the running scan */
  time_t next_scan;    /* 0 while scanning or queued */
  time_t last_scan;    /* end of the last scan, 0: none yet */
  int last_code, last_whatif;
  rd_engine_stats last;
  long scans, renewed_total, failed_total;
  json_t *expiry;      /* {"host": not_after} from the scans so far */
  rd_runbook *next;    /* reloaded, in use from the next scan (serve's) */
  rd_runbook *owned;   /* rb when a reload loaded it (serve's), else NULL */
  int reload_refused;  /* the last reload found the file broken */
  char *reload_error;  /* then its first problem: "file:line:column: msg" */
  time_t reloaded;     /* when the version in use replaced another, 0: never */
  struct rd_work_item *items; /* divided scans: the hosts this round claimed */
  size_t nitems;
  const char **item_hosts;    /* their names, NULL-terminated: the engine's filter */
  long claimed_total, takeovers_total;
} rd_serve_rb;

typedef void (*rd_serve_stopped_fn)(rd_serve *sv, void *arg);

typedef struct rd_serve_opts {
  int max_parallel; /* the engine's global cap (0: its default) */
  int verbose;
  int once;         /* scan every runbook once, at once, then stop */
} rd_serve_opts;

struct rd_serve {
  uv_loop_t *loop;
  rd_registry *reg;
  rd_journal *journal; /* renewing scans write here; /status reads it */
  rd_serve_rb *rbs;
  size_t nrbs;
  rd_serve_opts o;
  FILE *devnull;       /* the engines' report stream */
  rd_serve_rb *running;
  size_t once_left, timers_open;
  int mailing;         /* digests being sent; stopped() waits for them */
  int stopping, exit_code; /* exit_code: with once, as `renewd run` */
  rd_serve_stopped_fn stopped;
  void *stopped_arg;
  /* divided scans (work.c): on a PostgreSQL journal */
  int divided;
  char owner[320];     /* this instance: rd_lease_owner_id */
  int work_ttl;        /* seconds a claim lasts without a heartbeat */
  uv_timer_t work_timer; /* the claims' heartbeat and the poll for work */
  int work_timer_on;
  struct rd_work_listener *listener; /* NOTIFY renewd_work, or NULL */
};

/* rbs: n loaded runbooks, owned by the caller and outliving sv (the ones a
 * reload loads are sv's). The journal
 * may be NULL (then every scan only probes and /status has no jobs). */
int rd_serve_init(rd_serve *sv, uv_loop_t *loop, rd_registry *reg, rd_journal *journal,
                  rd_runbook *const *rbs, size_t n, const rd_serve_opts *o,
                  rd_serve_stopped_fn stopped, void *arg);
/* Arms every runbook's first scan. */
void rd_serve_start(rd_serve *sv);
/* See above; stopped(sv, arg) runs once, from the loop, never inside this
 * call. Calling it again does nothing. */
void rd_serve_stop(rd_serve *sv);
/* After stopped (or when never started: after the loop ran the closes). */
void rd_serve_free(rd_serve *sv);
/* Re-read every runbook (see above), with the scheduler's registry; one log
 * line per runbook, the diagnostics of a refused file on stderr too.
 * Returns how many were refused. Does nothing once stopping. */
int rd_serve_reload(rd_serve *sv);

/* scan.c: a round of r now, or after the running scan (work.c's wake-ups). */
void rd_serve_wake(rd_serve_rb *r);
/* scan.c: r's claim is answered (r->items): the engine on them, or the
 * scan's end when nothing was claimed. */
void rd_serve_claimed(rd_serve_rb *r);

/* work.c: divided scans on a PostgreSQL journal (store/work.h,
 * docs/SCALING.md). A renewing scan of a runbook is then a series of
 * rounds: each plans the runbook's scan when this instance is the one to
 * (rd_work_plan), claims a few hosts (the runbook's max_parallel) on the
 * work connection without blocking the loop, runs the engine on them alone
 * and ends their claims; the scan ends when a round claims nothing. A
 * timer renews the claims every third of their TTL (asynchronously too)
 * and, when idle, looks for work (an expired claim of a dead instance); a
 * NOTIFY wakes the runbook it names. */
/* After rd_serve_init: divide when the journal can (0, or RD_E*). */
int rd_serve_work_init(rd_serve *sv);
/* The round's plan (on the journal's connection, when due) and claim: on
 * the work connection, asynchronously, or when that is down on the
 * journal's; then r->items, r->item_hosts are set and rd_serve_claimed(r)
 * runs (from the loop, or before this returns). 0, or < 0 (logged) when
 * nothing was asked and rd_serve_claimed will not run. */
int rd_serve_work_claim(rd_serve_rb *r);
/* End the round's claims: done, or back to the queue for a job that
 * ended BUSY (a little later) or, without a report, never ran (at once). */
void rd_serve_work_finish(rd_serve_rb *r, const json_t *report);
/* Stop the timer and the listener (the timer's close is counted in
 * sv->timers_open, its callback calls rd_serve_closed_one). */
void rd_serve_work_stop(rd_serve *sv);
/* scan.c: a handle counted in sv->timers_open closed (stopped() may run). */
void rd_serve_closed_one(rd_serve *sv);
/* A line about runbook r through the one logger (base/log.h: escaped, text
 * or JSON, journald levels): "serve: runbook NAME: ..." (scan.c). */
void rd_serve_log(const rd_serve_rb *r, rd_lv lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* digest.c: the runbook's daily digest when it is due (notify.email.digest,
 * once a day, after a scan): 0 when a mail is on its way (done(arg)
 * runs once, from the loop, when it is over), else nothing was sent. */
int rd_serve_digest(rd_serve_rb *r, void (*done)(void *), void *arg);

/* status.c: the three answers of the listener. */
/* Prometheus text exposition; caller frees. */
char *rd_serve_metrics(const rd_serve *sv);
/* The host-lease metrics of the journal (lease_metrics.c); nothing without one. */
void rd_serve_lease_metrics(FILE *f, rd_journal *journal);
/* /status: {"now", "runbooks": [...], "jobs": {...}, "fleet": {...}}. */
json_t *rd_serve_status(const rd_serve *sv, time_t now);
/* lease_status.c: /status's "leases": this instance's owner id, the held
 * host leases and (divided scans) the work claims, each with its owner,
 * epoch, expiry, "expired" and "here"; null without a journal. */
json_t *rd_serve_lease_status(const rd_serve *sv, time_t now);
/* The divided scans' figures in /metrics (nothing when not divided). */
void rd_serve_work_metrics(FILE *f, const rd_serve *sv);
/* status.c: o[key] = t (seconds) and o[key_utc] its ISO form; null for 0. */
void rd_serve_put_time(json_t *o, const char *key, time_t t);
/* The listener's route: /metrics, /healthz, /status. */
struct rd_listener_reply;
void rd_serve_route(const char *path, struct rd_listener_reply *res, void *arg);

#endif
