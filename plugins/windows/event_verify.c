/* event_verify.c — `windows.event_verify`: a service proves it loaded the
 * certificate by logging an event (NDES: Event 1 in Application, "The
 * Network Device Enrollment Service started successfully"; SCOM: Event
 * 20053 in Operations Manager, "the certificate was loaded").
 *
 * params: {"log": "Application" (required), "event_id": 1 (required,
 *          0-65535), "provider": the event's provider (required: an event
 *          ID means nothing without it — Event 1 in Application is logged
 *          by many applications; NDES's is
 *          "Microsoft-Windows-NetworkDeviceEnrollmentService"), "within":
 *          "10m" (how long to wait for it, 1 s to 1 h; default "5m"),
 *          "failure_ids": [20049, 20050, ...] (optional, at most 16: events
 *          of the same provider that mean the service failed to load the
 *          certificate — SCOM's seed lists 20049, 20050, 20052, 20066,
 *          20069, 20077; one of them after the restart fails the check at
 *          once, with its message, unless the wanted event is newer)}
 * The step's "timeout" in the runbook must be longer than "within".
 * probe (read-only): the log exists; the newest such event, for the report.
 * verify: waits on the target (Get-WinEvent every 5 s, at most "within")
 *   for the event written at or after facts.windows_restart.at — the
 *   target's clock when windows.service restarted the service in this job,
 *   so an event from before the restart never counts and clock skew between
 *   orchestrator and target does not matter. Without a restart in this job
 *   (remediate's diagnosis), the newest such event counts whenever it was.
 * RD_KIND_CHECK: after a rollback the engine restarts the service again
 * (windows.service is a RESTART kind, which updates facts.windows_restart)
 * and runs this verify again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.event_verify"

static const rd_script win_event_query_script =
    WIN_SCRIPT("windows.event.query", 0, WIN_PS_EVENT_QUERY);
const rd_script *const windows_event_scripts[] = {&win_event_query_script, NULL};

static const char *const ev_keys[] = {"log", "event_id", "provider", "within", "failure_ids", NULL};

static int check_failure_ids(const json_t *params, char *err, size_t errlen) {
  const json_t *a = json_object_get(params, "failure_ids"), *v;
  size_t i;
  if (!a)
    return 0;
  if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > 16) {
    snprintf(err, errlen, "%s: \"failure_ids\" must be a list of 1 to 16 event IDs", TYPE);
    return RD_EINVAL;
  }
  json_array_foreach(a, i, v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535 ||
        json_integer_value(v) == win_int(params, "event_id", -1)) {
      snprintf(err, errlen, "%s: \"failure_ids\" must hold event IDs from 0 to 65535 other than "
               "\"event_id\"", TYPE);
      return RD_EINVAL;
    }
  }
  return 0;
}

static int ev_validate(const json_t *params, char *err, size_t errlen) {
  const char *w = win_str(params, "within");
  long secs;
  int rc;
  if ((rc = rd_check_keys(params, TYPE, ev_keys, err, errlen)) ||
      (rc = win_check_string(params, "log", 1, 256, TYPE, err, errlen)) ||
      (rc = win_check_int(params, "event_id", 1, 0, 65535, TYPE, err, errlen)) ||
      (rc = win_check_string(params, "provider", 0, 256, TYPE, err, errlen)) ||
      (rc = check_failure_ids(params, err, errlen)))
    return rc;
  if (!json_object_get(params, "provider")) {
    snprintf(err, errlen,
             "%s: \"provider\" is required: name the provider that logs event %lld (NDES Event 1: "
             "\"Microsoft-Windows-NetworkDeviceEnrollmentService\"; SCOM 20053: \"OpsMgr "
             "Connector\"), or an event with that ID from any other application would count",
             TYPE, (long long)win_int(params, "event_id", 0));
    return RD_EINVAL;
  }
  if (strpbrk(win_str(params, "provider"), "*?[]")) {
    snprintf(err, errlen, "%s: \"provider\" must be one provider's exact name, without the "
             "wildcards * ? [ ] (Get-WinEvent would match other providers)", TYPE);
    return RD_EINVAL;
  }
  if (json_object_get(params, "within") &&
      (!w || (secs = win_duration(w)) < 1 || secs > 3600)) {
    snprintf(err, errlen, "%s: \"within\" must be a duration from \"1s\" to \"1h\" such as \"10m\"",
             TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct ev_cfg {
  const char *log, *provider;
  long long id, within, since;
  char what[600];
} ev_cfg;

static void cfg_get(rd_step *s, const rd_host_api *h, ev_cfg *c) {
  const json_t *pa = h->params(s);
  const json_t *rs = json_object_get(h->facts(s), "windows_restart");
  c->log = win_str(pa, "log");
  c->provider = win_str(pa, "provider");
  c->id = win_int(pa, "event_id", 0);
  c->within = win_str(pa, "within") ? win_duration(win_str(pa, "within")) : 300;
  c->since = win_int(rs, "at", 0);
  snprintf(c->what, sizeof c->what, "event %lld from %s in %s", c->id, c->provider ? c->provider : "?",
           c->log);
}

static json_t *args(rd_step *s, const rd_host_api *h, const ev_cfg *c, long long since,
                    long long wait) {
  const json_t *f = json_object_get(h->params(s), "failure_ids");
  return json_pack("{s:s, s:I, s:s, s:I, s:I, s:o}", "log", c->log, "id", (json_int_t)c->id,
                   "provider", c->provider ? c->provider : "", "since", (json_int_t)since, "wait",
                   (json_int_t)wait, "failure_ids", f ? json_deep_copy(f) : json_array());
}

static void ev_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  ev_cfg c;
  char when[40];
  cfg_get(s, h, &c);
  if (!win_bool(out, "log_exists")) {
    h->donef(s, RD_ENOTFOUND, NULL, "event log '%s' does not exist on the target", c.log);
    return;
  }
  if (win_bool(out, "found"))
    win_time(win_int(out, "time", 0), when, sizeof when);
  h->donef(s, 0, rd_result_new(), "would wait up to %lld s for %s after the restart (last seen %s)",
             c.within, c.what, win_bool(out, "found") ? when : "never");
}

static int ev_probe(rd_step *s, const rd_host_api *h) {
  ev_cfg c;
  cfg_get(s, h, &c);
  return win_run(s, h, &win_event_query_script, args(s, h, &c, 0, 0), ev_probed);
}

static void ev_checked(rd_step *s, const rd_host_api *h, const json_t *out) {
  ev_cfg c;
  char when[40], after[40];
  const json_t *failure;
  cfg_get(s, h, &c);
  win_time(c.since, after, sizeof after);
  if (!win_bool(out, "log_exists")) {
    h->donef(s, RD_ENOTFOUND, NULL, "event log '%s' does not exist on the target", c.log);
    return;
  }
  failure = json_object_get(out, "failure");
  if (json_is_object(failure) && (!c.since || win_int(failure, "time", 0) >= c.since) &&
      (!win_bool(out, "found") || win_int(failure, "time", 0) > win_int(out, "time", 0))) {
    char msg[400];
    win_time(win_int(failure, "time", 0), when, sizeof when);
    win_line(win_out(failure, "message"), msg, sizeof msg, 300);
    h->donef(s, RD_EVERIFY, NULL, "%s logged failure event %lld in %s at %s%s%s instead of event "
             "%lld: %s", c.provider, win_int(failure, "id", 0), c.log, when,
             c.since ? ", after the restart at " : "", c.since ? after : "", c.id, msg);
    return;
  }
  if (!win_bool(out, "found") || (c.since && win_int(out, "time", 0) < c.since)) {
    if (c.since)
      h->donef(s, RD_EVERIFY, NULL, "no %s within %lld s after the restart at %s", c.what,
                 c.within, after);
    else
      h->donef(s, RD_EVERIFY, NULL, "no %s at all", c.what);
    return;
  }
  win_time(win_int(out, "time", 0), when, sizeof when);
  {
    char msg[400];
    json_t *res = rd_result_new();
    win_line(win_out(out, "message"), msg, sizeof msg, 200);
    json_object_set_new(res, "detail",
                        json_pack("{s:I, s:I, s:s, s:s}", "time", (json_int_t)win_int(out, "time", 0),
                                  "record_id", (json_int_t)win_int(out, "record_id", 0), "provider",
                                  win_out(out, "provider"), "message", msg));
    if (c.since)
      h->donef(s, 0, res, "%s at %s, after the restart at %s: %s", c.what, when, after, msg);
    else
      h->donef(s, 0, res, "%s last logged at %s (no restart in this job): %s", c.what, when,
                 msg);
  }
}

static int ev_verify(rd_step *s, const rd_host_api *h) {
  ev_cfg c;
  cfg_get(s, h, &c);
  return win_run(s, h, &win_event_query_script, args(s, h, &c, c.since, c.since ? c.within : 0),
                 ev_checked);
}

const rd_step_kind windows_kind_event_verify = {
    .type = TYPE,
    .summary = "wait for an event (e.g. NDES Event 1, SCOM 20053) logged after the restart",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = RD_KIND_CHECK,
    .validate = ev_validate,
    .probe = ev_probe,
    .apply = NULL,
    .verify = ev_verify,
    .rollback = NULL,
};
