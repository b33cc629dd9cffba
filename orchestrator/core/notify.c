/* notify.c — notifications: which events happen, once each per channel,
 * and the webhook channel (runbook "notify.webhook"; the e-mail channel,
 * "notify.email", is core/notify_mail.c).
 *
 * Two kinds of events, each delivered once per channel: POSTed as JSON to
 * notify.webhook.url, with "Authorization: Bearer <token>" when
 * notify.webhook.token names a secret, and mailed to notify.email.to:
 *   {"event": "job", ...}      a job ended FAILED, ROLLED_BACK,
 *                               NEEDS_OPERATOR, HELD or PENDING_CA
 *   {"event": "expiring", ...} an inventoried certificate crossed one of
 *                               notify.before_expiry_days; with "action"
 *                               when renewd cannot renew it (issuer manual)
 * "Once" is kept in the journal's alerts table (keys "job:<id>:<host>:<state>"
 * and "expiring:<host>:<sha256>:<days>" for the webhook, the same with
 * "mail:" in front for e-mail), so reruns and restarts do not repeat them,
 * and a channel added later still gets the events it has not had. A run
 * without a journal (plan) sends nothing. Neither the token nor the SMTP
 * password reaches a log line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine_int.h"
#include "core/notify.h"
#include "base/err.h"
#include "base/log.h"

typedef struct notify_call {
  rd_engine *e;
  char *token_header;
} notify_call;

static void posted(const rd_http_result *r, void *arg) {
  notify_call *c = arg;
  if (r->status || r->code < 200 || r->code > 299)
    rd_log(RD_LV_WARNING, "notify", "webhook: %s (HTTP %ld)", r->status ? r->msg : "refused",
           r->code);
  if (c->token_header) {
    memset(c->token_header, 0, strlen(c->token_header));
    free(c->token_header);
  }
  c->e->notifying--;
  rd_engine_pump(c->e);
  free(c);
}

static void post(rd_job *j, const json_t *wh, const json_t *payload) {
  rd_engine *e = j->e;
  const char *url = json_string_value(json_object_get(wh, "url"));
  const json_t *tok = json_object_get(wh, "token");
  notify_call *c;
  char *body;
  const char *headers[2] = {NULL, NULL};
  if (!url || !e->http || !(c = calloc(1, sizeof *c)))
    return;
  c->e = e;
  if (tok) {
    char err[768];
    if (rd_secret_header(tok, "Authorization: Bearer ", &c->token_header, err,
                         sizeof err) == 0) {
      headers[0] = c->token_header;
      rd_log_secret(c->token_header + strlen("Authorization: Bearer "));
    } else {
      rd_log(RD_LV_WARNING, "notify", "webhook token: %s", err);
    }
  }
  body = json_dumps(payload, JSON_COMPACT);
  rd_http_opts o = {.timeout_ms = 10000, .headers = headers};
  o.ca_bundle = json_string_value(json_object_get(wh, "ca_bundle"));
  e->notifying++;
  if (!body || rd_http_submit(e->http, "POST", url, "application/json", body, strlen(body), &o,
                              posted, c)) {
    rd_http_result fail = {.status = RD_EIO};
    snprintf(fail.msg, sizeof fail.msg, "cannot send to %s", url);
    posted(&fail, c);
  }
  free(body);
}

/* The channels: the runbook's notify member, the prefix of its alert keys,
 * and how it delivers an event. */
typedef struct channel {
  const char *member, *prefix;
  void (*send)(rd_job *j, const json_t *cfg, const json_t *event);
} channel;
static const channel channels[] = {{"webhook", "", post},
                                   {"email", "mail:", rd_notify_mail_send}};
#define NCHANNELS (sizeof channels / sizeof channels[0])

static int any_channel(const rd_job *j) {
  for (size_t c = 0; c < NCHANNELS; c++)
    if (json_object_get(j->rb->notify, channels[c].member))
      return 1;
  return 0;
}

/* Claims the alert key (prefix + key) of a configured channel: 1 when it is
 * new (deliver), 0 when sent before or the journal cannot say (do not spam). */
static int claim(rd_job *j, const channel *ch, const char *key) {
  char full[400];
  if (!json_object_get(j->rb->notify, ch->member))
    return 0;
  snprintf(full, sizeof full, "%s%s", ch->prefix, key);
  return rd_journal_alert_once(j->e->journal, full) == 0;
}

static void deliver(rd_job *j, const channel *ch, const json_t *event) {
  ch->send(j, json_object_get(j->rb->notify, ch->member), event);
}

static json_t *base(const rd_job *j, const char *event) {
  return json_pack("{s:s, s:s, s:s, s:I}", "event", event, "runbook", j->rb->name, "host",
                   j->t->name, "time", (json_int_t)time(NULL));
}

void rd_notify_job_end(rd_job *j) {
  const char *st = rd_job_outcome_name(j);
  char key[128];
  int notable = j->outcome == RD_OUT_HELD ||
                (j->outcome == RD_OUT_STATE &&
                 (rd_job_state_failed(j->state) || j->state == RD_JOB_NEEDS_OPERATOR ||
                  j->state == RD_JOB_PENDING_CA));
  if (!notable || !j->e->journal || !any_channel(j))
    return;
  snprintf(key, sizeof key, "job:%lld:%s:%s", (long long)j->id, j->t->name, st);
  json_t *p = base(j, "job");
  json_object_set_new(p, "state", json_string(st));
  if (j->id > 0)
    json_object_set_new(p, "job_id", json_integer(j->id));
  if (j->error[0])
    json_object_set_new(p, "error", json_string(j->error));
  for (size_t c = 0; c < NCHANNELS; c++)
    if (claim(j, &channels[c], key))
      deliver(j, &channels[c], p);
  json_decref(p);
}

void rd_notify_expiry(rd_job *j, const json_t *cert) {
  const json_t *days = json_object_get(j->rb->notify, "before_expiry_days");
  json_int_t na = json_integer_value(json_object_get(cert, "not_after"));
  const char *fp = json_string_value(json_object_get(cert, "sha256"));
  double left;
  size_t i;
  const json_t *d;
  json_int_t crossed = -1;
  if (!j->e->journal || !any_channel(j) || !cert || !na || !fp)
    return;
  left = (double)(na - (json_int_t)time(NULL)) / 86400.0;
  /* the smallest threshold crossed is the one to report; the larger ones
   * crossed at the same time are marked sent so they never come late */
  json_array_foreach(days, i, d) {
    json_int_t t = json_integer_value(d);
    if (left <= (double)t && (crossed < 0 || t < crossed))
      crossed = t;
  }
  if (crossed < 0)
    return;
  int fresh[NCHANNELS] = {0}, any = 0;
  json_array_foreach(days, i, d) {
    json_int_t t = json_integer_value(d);
    char key[300];
    if (left > (double)t)
      continue;
    snprintf(key, sizeof key, "expiring:%s:%s:%lld", j->t->name, fp, (long long)t);
    for (size_t c = 0; c < NCHANNELS; c++)
      if (claim(j, &channels[c], key) && t == crossed)
        any = fresh[c] = 1;
  }
  if (!any)
    return;
  json_t *p = base(j, "expiring");
  json_object_set_new(p, "days_left", json_real(left));
  json_object_set_new(p, "threshold_days", json_integer(crossed));
  json_object_set_new(p, "not_after", json_integer(na));
  json_object_set_new(p, "subject", json_deep_copy(json_object_get(cert, "subject")));
  json_object_set_new(p, "sha256", json_string(fp));
  json_object_set_new(p, "sha1", json_deep_copy(json_object_get(cert, "sha1")));
  const char *itype = json_string_value(json_object_get(j->rb->issuer, "type"));
  if (itype && !strcmp(itype, "manual"))
    json_object_set_new(p, "action", json_deep_copy(json_object_get(j->rb->issuer, "action")));
  for (size_t c = 0; c < NCHANNELS; c++)
    if (fresh[c])
      deliver(j, &channels[c], p);
  json_decref(p);
}
