/* service.c — `windows.service`: makes a service load the new certificate.
 *
 * params: {"service": "HealthService", "action": "restart" (default)}
 *      or {"action": "iisreset"} (iisreset /restart: IIS and NDES),
 *      plus "timeout": seconds to wait for the service (1-3600, default 90).
 * probe: the service's state (W3SVC for iisreset) and that it exists.
 * apply: Restart-Service -Force and a wait for Running, or `iisreset
 *   /restart /timeout:N`; records the target's clock before the restart in
 *   facts.windows_restart {"at", "what"}, the moment windows.event_verify
 *   waits for events after.
 * verify: the service (W3SVC) is Running.
 * No rollback: the kind is RD_KIND_RESTART, so after a rollback the engine
 * runs apply again to load the restored certificate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.service"

static const rd_script win_service_probe_script =
    WIN_SCRIPT("windows.service.probe", 0, WIN_PS_SERVICE_LIB WIN_PS_SERVICE_PROBE);
static const rd_script win_service_run_script =
    WIN_SCRIPT("windows.service.run", 1, WIN_PS_SERVICE_LIB WIN_PS_SERVICE_RUN);
const rd_script *const windows_service_scripts[] = {&win_service_probe_script,
                                                    &win_service_run_script, NULL};

static const char *const svc_keys[] = {"service", "action", "timeout", NULL};
static const char *const svc_actions[] = {"restart", "iisreset", NULL};

static int service_name_ok(const char *n) {
  size_t len = strlen(n);
  if (!len || len > 256)
    return 0;
  for (; *n; n++)
    if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
          strchr("_.$ -", *n)))
      return 0;
  return 1;
}

static int svc_validate(const json_t *params, char *err, size_t errlen) {
  const char *act = win_str(params, "action"), *svc = win_str(params, "service");
  int rc;
  if ((rc = rd_check_keys(params, TYPE, svc_keys, err, errlen)) ||
      (rc = win_check_enum(params, "action", 0, svc_actions, TYPE, err, errlen)) ||
      (rc = win_check_string(params, "service", 0, 256, TYPE, err, errlen)) ||
      (rc = win_check_int(params, "timeout", 0, 1, 3600, TYPE, err, errlen)))
    return rc;
  if (act && !strcmp(act, "iisreset")) {
    if (svc) {
      snprintf(err, errlen, "%s: \"action\": \"iisreset\" restarts IIS and takes no \"service\"",
               TYPE);
      return RD_EINVAL;
    }
    return 0;
  }
  if (!svc) {
    snprintf(err, errlen, "%s: give \"service\" (a service name such as \"HealthService\") or "
             "\"action\": \"iisreset\"", TYPE);
    return RD_EINVAL;
  }
  if (!service_name_ok(svc)) {
    snprintf(err, errlen, "%s: \"service\" must be a service name such as \"HealthService\", not "
             "\"%s\"", TYPE, svc);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct svc_cfg {
  const char *service, *action;
  long long timeout;
  char what[300];
} svc_cfg;

static void cfg_get(rd_step *s, const rd_host_api *h, svc_cfg *c) {
  const json_t *pa = h->params(s);
  c->action = win_str(pa, "action") ? win_str(pa, "action") : "restart";
  c->service = !strcmp(c->action, "iisreset") ? "W3SVC" : win_str(pa, "service");
  c->timeout = win_int(pa, "timeout", 90);
  if (!strcmp(c->action, "iisreset"))
    snprintf(c->what, sizeof c->what, "iisreset /restart");
  else
    snprintf(c->what, sizeof c->what, "Restart-Service %s", c->service ? c->service : "?");
}

static json_t *args(const svc_cfg *c) {
  return json_pack("{s:s, s:s, s:I}", "service", c->service ? c->service : "", "action", c->action,
                   "timeout", (json_int_t)c->timeout);
}

static void svc_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  svc_cfg c;
  json_t *res;
  char what[400];
  cfg_get(s, h, &c);
  if (!win_bool(out, "exists")) {
    h->donef(s, RD_ENOTFOUND, NULL, "service %s does not exist%s", c.service,
               !strcmp(c.action, "iisreset") ? " (is IIS installed?)" : "");
    return;
  }
  if (!strcmp(c.action, "iisreset") && !win_bool(out, "iisreset")) {
    h->donef(s, RD_ENOTFOUND, NULL, "iisreset.exe is not in System32");
    return;
  }
  res = rd_result_new();
  snprintf(what, sizeof what, "service %s", c.service);
  rd_result_change(res, what, win_out(out, "status"), "restarted");
  h->donef(s, 0, res, "would run %s (the service is %s)", c.what, win_out(out, "status"));
}

static int svc_probe(rd_step *s, const rd_host_api *h) {
  svc_cfg c;
  cfg_get(s, h, &c);
  return win_run(s, h, &win_service_probe_script, args(&c), svc_probed);
}

static void svc_ran(rd_step *s, const rd_host_api *h, const json_t *out) {
  svc_cfg c;
  json_t *res;
  char line[500], what[400];
  long long rc = win_int(out, "exit", -1);
  cfg_get(s, h, &c);
  /* the restart happened (or was tried): checks wait for what follows it */
  json_object_set_new(h->facts(s), "windows_restart",
                      json_pack("{s:I, s:s}", "at", (json_int_t)win_int(out, "started_at", 0),
                                "what", c.what));
  win_line(win_out(out, "text"), line, sizeof line, 400);
  if (rc != 0) {
    int timed_out = strstr(line, "timed out") || strstr(line, "Time-out") || strstr(line, "timeout");
    h->donef(s, timed_out ? RD_ETIMEDOUT : RD_EREMOTE, NULL, "`%s` failed (exit %lld): %s; "
               "the service is %s", c.what, rc, *line ? line : "no output",
               *win_out(out, "status") ? win_out(out, "status") : "unknown");
    return;
  }
  res = rd_result_new();
  snprintf(what, sizeof what, "service %s", c.service);
  rd_result_change(res, what, NULL, "restarted");
  json_object_set_new(res, "detail", json_pack("{s:s, s:s}", "status", win_out(out, "status"),
                                               "output", line));
  h->donef(s, 0, res, "ran %s; %s is %s", c.what, c.service, win_out(out, "status"));
}

static int svc_apply(rd_step *s, const rd_host_api *h) {
  svc_cfg c;
  cfg_get(s, h, &c);
  return win_run(s, h, &win_service_run_script, args(&c), svc_ran);
}

static void svc_checked(rd_step *s, const rd_host_api *h, const json_t *out) {
  svc_cfg c;
  cfg_get(s, h, &c);
  if (!strcmp(win_out(out, "status"), "Running"))
    h->donef(s, 0, NULL, "service %s is running", c.service);
  else
    h->donef(s, RD_EVERIFY, NULL, "service %s is %s after %s", c.service,
               *win_out(out, "status") ? win_out(out, "status") : "missing", c.what);
}

static int svc_verify(rd_step *s, const rd_host_api *h) {
  svc_cfg c;
  cfg_get(s, h, &c);
  return win_run(s, h, &win_service_probe_script, args(&c), svc_checked);
}

const rd_step_kind windows_kind_service = {
    .type = TYPE,
    .summary = "restart a Windows service (Restart-Service) or IIS (iisreset /restart)",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = RD_KIND_RESTART,
    .validate = svc_validate,
    .probe = svc_probe,
    .apply = svc_apply,
    .verify = svc_verify,
    .rollback = NULL, /* RESTART: the engine re-applies it after a rollback */
};
