/* status.c — what the listener of `renewd serve` answers: /metrics
 * (Prometheus text), /healthz and /status (JSON). Read-only views of the
 * scheduler's state and of the journal. */
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "core/jobstate.h"
#include "core/report_html.h"
#include "core/schedule.h"
#include "serve/listener.h"

typedef enum {
  M_SCANS, M_RENEWED, M_FAILED, M_DUE, M_LAST, M_NEXT, M_RUNNING, M_RELOAD_OK
} metric_id;

static const struct {
  const char *name, *type, *help;
} metrics[] = {
    {"renewd_scans_total", "counter", "Scans of the runbook since start."},
    {"renewd_renewed_total", "counter", "Certificates renewed since start."},
    {"renewd_failed_total", "counter", "Renewals that failed, rolled back or need an operator."},
    {"renewd_due", "gauge", "Certificates due at the last scan."},
    {"renewd_last_scan_timestamp_seconds", "gauge", "End of the last scan."},
    {"renewd_next_scan_timestamp_seconds", "gauge",
     "When the next scan starts (0 while one runs or waits its turn)."},
    {"renewd_scan_running", "gauge", "1 while a scan of the runbook runs."},
    {"renewd_runbook_last_reload_successful", "gauge",
     "0 when the last reload (SIGHUP) refused the runbook's file: the loaded version runs on."},
};

static long long metric_value(const rd_serve_rb *r, metric_id m) {
  switch (m) {
  case M_SCANS: return r->scans;
  case M_RENEWED: return r->renewed_total;
  case M_FAILED: return r->failed_total;
  case M_DUE: return r->last.due;
  case M_LAST: return (long long)r->last_scan;
  case M_NEXT: return (long long)r->next_scan;
  case M_RUNNING: return r->engine != NULL;
  case M_RELOAD_OK: return !r->reload_refused;
  }
  return 0;
}

/* The model of the fleet report (core/report_html.h): the journal, with the
 * expiry each scan saw (a probing scan does not write the journal). */
static json_t *fleet_model(const rd_serve *sv, int no_history) {
  rd_runbook **rbs = calloc(sv->nrbs ? sv->nrbs : 1, sizeof *rbs);
  const json_t **seen = calloc(sv->nrbs ? sv->nrbs : 1, sizeof *seen);
  char err[1024];
  json_t *model = NULL;
  if (rbs && seen) {
    for (size_t i = 0; i < sv->nrbs; i++) {
      rbs[i] = sv->rbs[i].rb;
      seen[i] = sv->rbs[i].expiry;
    }
    rd_report_src src = {sv->journal, rbs, sv->nrbs, seen, time(NULL), 0, no_history};
    if (!(model = rd_report_model(&src, err, sizeof err)))
      rd_log(RD_LV_ERR, "serve", "fleet report: %s", err);
  }
  free(rbs);
  free(seen);
  return model;
}

/* Per certificate, as cert-manager names them: its expiry and when its
 * renewal is due (the renew window opens). */
static void certificate_metrics(FILE *f, const rd_serve *sv) {
  static const struct {
    const char *name, *key, *help;
  } fam[] = {
      {"renewd_certificate_expiration_timestamp_seconds", "not_after",
       "Expiry (notAfter) of the live certificate, as last inventoried."},
      {"renewd_certificate_renewal_timestamp_seconds", "window_opens",
       "When the certificate's renew window opens: from then on a scan renews it."},
  };
  json_t *model = fleet_model(sv, 1), *c;
  size_t i;
  for (size_t m = 0; m < sizeof fam / sizeof fam[0]; m++) {
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", fam[m].name, fam[m].help, fam[m].name);
    json_array_foreach(json_object_get(model, "certificates"), i, c) {
      const json_t *v = json_object_get(c, fam[m].key);
      if (!v)
        continue;
      fprintf(f, "%s{host=\"", fam[m].name);
      rd_metrics_label(f, json_string_value(json_object_get(c, "host")));
      fputs("\",runbook=\"", f);
      rd_metrics_label(f, json_string_value(json_object_get(c, "runbook")));
      fputs("\",certificate=\"", f);
      rd_metrics_label(f, json_string_value(json_object_get(c, "certificate")));
      fprintf(f, "\"} %lld\n", (long long)json_integer_value(v));
    }
  }
  json_decref(model);
}

char *rd_serve_metrics(const rd_serve *sv) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", metrics[m].name, metrics[m].help, metrics[m].name,
            metrics[m].type);
    for (size_t i = 0; i < sv->nrbs; i++) {
      fprintf(f, "%s{runbook=\"", metrics[m].name);
      rd_metrics_label(f, sv->rbs[i].rb->name);
      fprintf(f, "\"} %lld\n", metric_value(&sv->rbs[i], (metric_id)m));
    }
  }
  certificate_metrics(f, sv);
  rd_metrics_write(f);
  rd_serve_lease_metrics(f, sv->journal);
  rd_serve_work_metrics(f, sv);
  if (fclose(f)) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* t as an integer and as "2026-11-30T07:00:00Z" under key and key_utc;
 * null for 0. */
static void put_time(json_t *o, const char *key, time_t t) {
  char k[64], when[32];
  struct tm tm;
  snprintf(k, sizeof k, "%s_utc", key);
  if (!t) {
    json_object_set_new(o, key, json_null());
    json_object_set_new(o, k, json_null());
    return;
  }
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  json_object_set_new(o, key, json_integer((json_int_t)t));
  json_object_set_new(o, k, json_string(when));
}

void rd_serve_put_time(json_t *o, const char *key, time_t t) { put_time(o, key, t); }

static json_t *runbook_status(const rd_serve_rb *r, time_t now) {
  const rd_engine_stats *s = &r->last;
  int open = rd_window_is_open(&r->rb->schedule.win, now, rd_local_offset(now));
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "name", r->rb->name, "path",
                        r->rb->path, "state", r->engine ? "scanning" : r->queued ? "waiting" : "idle",
                        "window", open ? "open: scans renew" : "closed: scans only probe", "scans",
                        (json_int_t)r->scans, "renewed_total", (json_int_t)r->renewed_total,
                        "failed_total", (json_int_t)r->failed_total);
  put_time(o, "next_scan", r->next_scan);
  put_time(o, "scan_started", r->engine ? r->scan_started : 0);
  put_time(o, "last_scan", r->last_scan);
  json_t *rl = json_pack("{s:b, s:s?}", "pending", r->next != NULL, "refused", r->reload_error);
  put_time(rl, "reloaded", r->reloaded);
  json_object_set_new(o, "reload", rl);
  if (r->last_scan)
    json_object_set_new(
        o, "last",
        json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "mode",
                  r->last_whatif ? "probe" : "renew", "exit_code", r->last_code, "targets",
                  s->targets, "due", s->due, "renewed", s->renewed, "failed", s->failed,
                  "rolled_back", s->rolled_back, "needs_operator", s->needs_operator,
                  "held_or_backing_off", s->skipped));
  return o;
}

static int count_job(const rd_job_row *row, void *arg) {
  json_t *by = json_object_get(arg, "by_state");
  const char *name = rd_job_state_name(row->state);
  json_object_set_new(by, name, json_integer(json_integer_value(json_object_get(by, name)) + 1));
  if (!rd_job_state_terminal(row->state))
    json_object_set_new(arg, "active",
                        json_integer(json_integer_value(json_object_get(arg, "active")) + 1));
  return 0;
}

/* The newest job of every (host, certificate) in the journal, by state. */
static json_t *jobs_status(rd_journal *j) {
  json_t *o = json_pack("{s:s, s:{}, s:i}", "of", "the newest job of each host and certificate",
                        "by_state", "active", 0);
  if (!j)
    return json_pack("{s:s}", "error", "no journal");
  if (rd_journal_jobs_latest(j, count_job, o)) {
    json_decref(o);
    return json_pack("{s:s}", "error", rd_journal_errmsg(j));
  }
  return o;
}

/* Expiry of every host's live certificate: the journal's newest inventory
 * snapshot at start, then what each scan saw. */
static json_t *fleet_status(const rd_serve *sv, time_t now) {
  json_int_t hosts = 0, expired = 0, d7 = 0, d30 = 0, soonest = 0;
  const char *shost = NULL, *srb = NULL;
  for (size_t i = 0; i < sv->nrbs; i++) {
    const char *host;
    json_t *v;
    json_object_foreach(sv->rbs[i].expiry, host, v) {
      json_int_t na = json_integer_value(v);
      hosts++;
      expired += na <= now;
      d7 += na > now && na <= now + 7 * 86400;
      d30 += na > now && na <= now + 30 * 86400;
      if (!shost || na < soonest) {
        soonest = na;
        shost = host;
        srb = sv->rbs[i].rb->name;
      }
    }
  }
  json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "of", "live certificates, as last inventoried",
                        "hosts", hosts, "expired", expired, "expiring_within_7d", d7,
                        "expiring_within_30d", d30);
  if (shost) {
    json_t *s = json_pack("{s:s, s:s}", "host", shost, "runbook", srb);
    put_time(s, "not_after", (time_t)soonest);
    json_object_set_new(o, "soonest", s);
  } else {
    json_object_set_new(o, "soonest", json_null());
  }
  return o;
}

json_t *rd_serve_status(const rd_serve *sv, time_t now) {
  json_t *o = json_object(), *rbs = json_array();
  put_time(o, "now", now);
  json_object_set_new(o, "stopping", json_boolean(sv->stopping));
  for (size_t i = 0; i < sv->nrbs; i++)
    json_array_append_new(rbs, runbook_status(&sv->rbs[i], now));
  json_object_set_new(o, "runbooks", rbs);
  json_object_set_new(o, "jobs", jobs_status(sv->journal));
  json_object_set_new(o, "fleet", fleet_status(sv, now));
  json_object_set_new(o, "leases", rd_serve_lease_status(sv, now));
  return o;
}

static char *report_page(const rd_serve *sv) {
  json_t *model = fleet_model(sv, 0);
  char *page = model ? rd_report_html(model, NULL) : NULL;
  json_decref(model);
  return page;
}

void rd_serve_route(const char *path, rd_listener_reply *res, void *arg) {
  const rd_serve *sv = arg;
  if (!strcmp(path, "/metrics")) {
    res->ctype = "text/plain; version=0.0.4; charset=utf-8";
    res->body = rd_serve_metrics(sv);
  } else if (!strcmp(path, "/healthz")) {
    res->ctype = "text/plain; charset=utf-8";
    res->body = strdup("ok\n");
  } else if (!strcmp(path, "/report")) {
    res->ctype = "text/html; charset=utf-8";
    res->body = report_page(sv);
  } else if (!strcmp(path, "/status")) {
    json_t *st = rd_serve_status(sv, time(NULL));
    res->ctype = "application/json";
    res->body = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(st);
  } else {
    res->code = 404;
    return;
  }
  res->code = res->body ? 200 : 500;
  res->len = res->body ? strlen(res->body) : 0;
}
