/* report_html_model.c — the fleet report's model (report_html.h) from the
 * journal (newest inventory snapshot of each host, newest job of each host
 * and certificate, the job history) and the runbooks (which certificates
 * exist, their renew window). */
#include "core/report_html.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/notices.h"
#include "core/schedule.h"

#define HISTORY_SCAN 5000 /* newest jobs read for the history */

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *jstr(const char *s) {
  json_t *v = json_string(s ? s : "");
  if (v)
    return v;
  char *c = strdup(s);
  for (char *p = c; p && *p; p++)
    if ((unsigned char)*p >= 0x80)
      *p = '?';
  v = json_string(c ? c : "");
  free(c);
  return v;
}

static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* The chart's state of a job's state. */
static const char *job_chart_state(rd_job_state s) {
  switch (s) {
  case RD_JOB_DONE: return "ok";
  case RD_JOB_FAILED:
  case RD_JOB_ROLLED_BACK: return "failed";
  case RD_JOB_NEEDS_OPERATOR: return "operator";
  default: return "waiting";
  }
}

static json_t *job_json(const rd_job_row *r) {
  json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:s, s:s, s:i, s:I, s:I}", "id", (json_int_t)r->id,
                        "host", jstr(r->host), "runbook", jstr(r->runbook), "certificate",
                        jstr(r->cert), "state", rd_job_state_name(r->state), "chart_state",
                        job_chart_state(r->state), "attempts", r->attempts, "created",
                        (json_int_t)r->created, "updated", (json_int_t)r->updated);
  if (o && r->next_try)
    json_object_set_new(o, "next_try", json_integer((json_int_t)r->next_try));
  if (o && r->error[0])
    json_object_set_new(o, "error", jstr(r->error));
  return o;
}

typedef struct {
  rd_journal *journal;
  json_t *latest;    /* "host\ncert" -> job */
  json_t *by_host;   /* host -> newest job (any certificate) */
  json_t *inventory; /* host -> cert facts */
  json_t *history;   /* host -> [jobs] */
  json_t *notices;   /* job id -> notice (rd_job_notices: one query) */
  size_t per_host;
  time_t now;
} gather;

static void key_of(char *buf, size_t len, const char *host, const char *cert) {
  snprintf(buf, len, "%s\n%s", host, cert);
}

static int on_latest(const rd_job_row *r, void *arg) {
  gather *g = arg;
  char k[1024];
  json_t *j = job_json(r), *notice;
  if (!j)
    return RD_ENOMEM;
  /* what the run that did it may not have lived to print */
  snprintf(k, sizeof k, "%lld", (long long)r->id);
  if ((notice = json_object_get(g->notices, k)))
    json_object_set(j, "notice", notice);
  key_of(k, sizeof k, r->host, r->cert);
  json_object_set(g->latest, k, j);
  json_t *prev = json_object_get(g->by_host, r->host);
  if (!prev || json_integer_value(json_object_get(prev, "updated")) < (json_int_t)r->updated)
    json_object_set(g->by_host, r->host, j);
  json_decref(j);
  return 0;
}

static int on_inventory(const rd_inventory_row *r, void *arg) {
  gather *g = arg;
  if (json_is_object(r->facts))
    json_object_set_new(g->inventory, r->host, json_deep_copy(r->facts));
  return 0;
}

static int on_job(const rd_job_row *r, void *arg) {
  gather *g = arg;
  json_t *a = json_object_get(g->history, r->host);
  if (!a) {
    a = json_array();
    json_object_set_new(g->history, r->host, a);
  }
  if (json_array_size(a) < g->per_host)
    json_array_append_new(a, job_json(r));
  return 0;
}

/* The journal's name of a runbook's certificate (as core/job.c names it). */
static const char *cert_id(const rd_runbook *rb) {
  static const char *keys[] = {"cert", "thumbprint", "template"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (str(rb->certificate, keys[i]))
      return str(rb->certificate, keys[i]);
  return rb->name;
}

/* One certificate of the chart: state, window and reason. rb may be NULL
 * (then the default window, a third of the lifetime). */
static void add_cert(json_t *m, const gather *g, const rd_runbook *rb, const char *runbook,
                     const char *host, const char *cert, json_int_t seen_na) {
  const json_t *facts = json_object_get(g->inventory, host);
  char k[1024];
  key_of(k, sizeof k, host, cert);
  const json_t *job = json_object_get(g->latest, k);
  json_t *c = json_pack("{s:o, s:o, s:o}", "host", jstr(host), "runbook", jstr(runbook),
                        "certificate", jstr(cert));
  json_int_t na = json_integer_value(json_object_get(facts, "not_after"));
  json_int_t nb = json_integer_value(json_object_get(facts, "not_before"));
  if (seen_na && seen_na != na) /* a newer certificate: its start is unknown */
    na = seen_na, nb = 0;
  const char *state = "unknown", *reason = NULL;
  if (!na) {
    json_object_set_new(c, "state", json_string(state));
    json_array_append_new(json_object_get(m, "unknown"), c);
    return;
  }
  rd_due_why why;
  int64_t before = rb ? (int64_t)(rb->policy.renew_before_days * 86400.0) : 0;
  /* without its start, only a fixed renew_before places the window */
  int due = nb || before > 0 ? rd_due(g->now, (time_t)nb, (time_t)na, before,
                                      rb ? rb->policy.renew_fraction : 1.0 / 3, &why)
                             : RD_EINVAL;
  /* a job counts for the certificate live since it began, or while it runs */
  const char *jstate = str(job, "chart_state");
  int current = job && (json_integer_value(json_object_get(job, "updated")) >= nb ||
                        !strcmp(jstate, "waiting"));
  if (na <= (json_int_t)g->now)
    state = "expired";
  else if (current && strcmp(jstate, "ok"))
    state = jstate, reason = str(job, "error");
  else
    state = due == 1 ? "due" : "ok";
  if (!reason && due >= 0)
    reason = why.text;
  json_object_set_new(c, "state", json_string(state));
  json_object_set_new(c, "not_after", json_integer(na));
  if (nb && nb < na)
    json_object_set_new(c, "not_before", json_integer(nb));
  if (due >= 0)
    json_object_set_new(c, "window_opens", json_integer((json_int_t)why.opens));
  if (reason && *reason)
    json_object_set_new(c, "reason", jstr(reason));
  json_array_append_new(json_object_get(m, "certificates"), c);
}

static int by_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* host -> [jobs] as [{"host", "jobs"}] sorted by host. */
static json_t *history_list(json_t *h) {
  size_t n = json_object_size(h), i = 0;
  const char **keys = calloc(n ? n : 1, sizeof *keys), *k;
  json_t *v, *out = json_array();
  if (!keys)
    return out;
  json_object_foreach(h, k, v) keys[i++] = k;
  qsort(keys, n, sizeof *keys, by_key);
  for (i = 0; i < n; i++)
    json_array_append_new(out, json_pack("{s:o, s:O}", "host", jstr(keys[i]), "jobs",
                                         json_object_get(h, keys[i])));
  free(keys);
  return out;
}

static int attention_job(const json_t *j, time_t now) {
  return strcmp(str(j, "chart_state"), "ok") || json_object_get(j, "notice") ||
         json_integer_value(json_object_get(j, "next_try")) > (json_int_t)now;
}

json_t *rd_report_model(const rd_report_src *s, char *err, size_t errlen) {
  gather g = {s->journal, json_object(), json_object(), json_object(), json_object(), NULL,
              s->history_per_host ? s->history_per_host : 10, s->now};
  json_t *m = json_pack("{s:I, s:[], s:[], s:[]}", "now", (json_int_t)s->now, "certificates",
                        "unknown", "attention");
  int rc = 0;
  if (s->journal && ((rc = rd_job_notices(s->journal, &g.notices)) ||
                     (rc = rd_journal_jobs_latest(s->journal, on_latest, &g)) ||
                     (rc = rd_journal_inventory_latest(s->journal, on_inventory, &g)) ||
                     (!s->no_history &&
                      (rc = rd_journal_jobs(s->journal, 0, HISTORY_SCAN, on_job, &g)))))
    snprintf(err, errlen, "%s", rd_journal_errmsg(s->journal));
  if (!rc && s->nrbs) {
    for (size_t i = 0; i < s->nrbs; i++) {
      const rd_runbook *rb = s->rbs[i];
      for (size_t t = 0; t < rb->ntargets; t++) {
        const char *h = rb->targets[t].name;
        json_int_t seen = s->seen && s->seen[i]
                              ? json_integer_value(json_object_get(s->seen[i], h))
                              : 0;
        add_cert(m, &g, rb, rb->name, h, cert_id(rb), seen);
      }
    }
  } else if (!rc) { /* no runbook: every host the journal inventoried */
    const char *h;
    json_t *facts;
    json_object_foreach(g.inventory, h, facts) {
      const json_t *job = json_object_get(g.by_host, h);
      add_cert(m, &g, NULL, job ? str(job, "runbook") : "", h,
               job ? str(job, "certificate") : "", 0);
    }
  }
  const char *k;
  json_t *j;
  json_object_foreach(g.latest, k, j) {
    if (attention_job(j, s->now))
      json_array_append(json_object_get(m, "attention"), j);
  }
  json_object_set_new(m, "history", history_list(g.history));
  json_decref(g.latest);
  json_decref(g.by_host);
  json_decref(g.inventory);
  json_decref(g.history);
  json_decref(g.notices);
  if (rc) {
    json_decref(m);
    return NULL;
  }
  return m;
}
