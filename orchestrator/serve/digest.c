/* digest.c — the daily digest of `renewd serve` (notify.email.digest
 * "HH:MM", local time of the admin host, like maintenance windows): after
 * the first scan of a runbook that ends at or after that time (a probe-only
 * scan outside the maintenance window too), one e-mail a day with the
 * runbook's certificates by expiry (from the scans) and its jobs that need a
 * person (the journal's newest job of each host:
 * FAILED, ROLLED_BACK, NEEDS_OPERATOR, PENDING_CA). The journal's alerts
 * table ("digest:<runbook>:<date>") keeps it to one a day across restarts. */
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "core/jobstate.h"
#include "core/notify.h"
#include "core/schedule.h"

typedef struct cert_row {
  const char *host;
  json_int_t not_after;
} cert_row;

static int by_expiry(const void *a, const void *b) {
  const cert_row *x = a, *y = b;
  if (x->not_after != y->not_after)
    return x->not_after < y->not_after ? -1 : 1;
  return strcmp(x->host, y->host);
}

static json_t *certificates(const rd_serve_rb *r) {
  size_t n = json_object_size(r->expiry), i = 0;
  cert_row *rows = calloc(n ? n : 1, sizeof *rows);
  json_t *out = json_array(), *v;
  const char *host;
  if (!rows)
    return out;
  json_object_foreach(r->expiry, host, v) {
    rows[i].host = host;
    rows[i++].not_after = json_integer_value(v);
  }
  qsort(rows, n, sizeof *rows, by_expiry);
  for (i = 0; i < n; i++)
    json_array_append_new(out, json_pack("{s:s, s:I}", "host", rows[i].host, "not_after",
                                         rows[i].not_after));
  free(rows);
  return out;
}

typedef struct att_ctx {
  const char *runbook;
  json_t *out;
} att_ctx;

static int attention_row(const rd_job_row *row, void *arg) {
  att_ctx *a = arg;
  if (strcmp(row->runbook, a->runbook) ||
      !(rd_job_state_failed(row->state) || row->state == RD_JOB_NEEDS_OPERATOR ||
        row->state == RD_JOB_PENDING_CA))
    return 0;
  json_t *o = json_pack("{s:s, s:s, s:I}", "host", row->host, "state",
                        rd_job_state_name(row->state), "updated", (json_int_t)row->updated);
  if (o && row->error[0])
    json_object_set_new(o, "error", json_string(row->error));
  json_array_append_new(a->out, o);
  return 0;
}

/* The local date when the digest is due now, or 0. */
static int due_date(const char *at, time_t now, char *date, size_t len) {
  int hh, mm;
  time_t local = now + (time_t)rd_local_offset(now);
  struct tm tm;
  if (!at || sscanf(at, "%d:%d", &hh, &mm) != 2)
    return 0;
  gmtime_r(&local, &tm);
  if (tm.tm_hour * 60 + tm.tm_min < hh * 60 + mm)
    return 0;
  strftime(date, len, "%Y-%m-%d", &tm);
  return 1;
}

int rd_serve_digest(rd_serve_rb *r, void (*done)(void *), void *arg) {
  rd_serve *sv = r->sv;
  const json_t *cfg = json_object_get(r->rb->notify, "email");
  char date[16], key[400], node[256], what[400];
  time_t now = time(NULL);
  size_t len = 0;
  int rc = -1;
  if (!sv->journal ||
      !due_date(json_string_value(json_object_get(cfg, "digest")), now, date, sizeof date))
    return -1;
  snprintf(key, sizeof key, "digest:%s:%s", r->rb->name, date);
  if (rd_journal_alert_once(sv->journal, key) != 0)
    return -1; /* sent today (or the journal cannot say: do not spam) */
  att_ctx a = {r->rb->name, json_array()};
  if (rd_journal_jobs_latest(sv->journal, attention_row, &a))
    rd_log(RD_LV_WARNING, "serve", "digest of %s: journal: %s", r->rb->name,
           rd_journal_errmsg(sv->journal));
  json_t *d = json_pack("{s:s, s:s, s:o, s:o}", "runbook", r->rb->name, "date", date,
                        "certificates", certificates(r), "attention", a.out);
  if (d && r->last_scan)
    json_object_set_new(d, "last",
                        json_pack("{s:I, s:i, s:i, s:i, s:i}", "time", (json_int_t)r->last_scan,
                                  "targets", r->last.targets, "due", r->last.due, "renewed",
                                  r->last.renewed, "failed",
                                  r->last.failed + r->last.rolled_back + r->last.needs_operator));
  const char **to = rd_mail_recipients(cfg);
  char *rb = rd_mail_esc(r->rb->name), *msg = NULL;
  snprintf(what, sizeof what, "the digest of runbook %s", rb ? rb : "?");
  free(rb);
  rd_mail_node(node, sizeof node);
  if (!d || !to ||
      !(msg = rd_notify_digest_compose(d, json_string_value(json_object_get(cfg, "from")), to,
                                       node, now, &len)))
    rd_log(RD_LV_WARNING, "notify", "e-mail about %s: cannot write the message", what);
  else
    rc = rd_mail_deliver(sv->loop, cfg, msg, len, what, done, arg);
  free(msg);
  free(to);
  json_decref(d);
  return rc;
}
