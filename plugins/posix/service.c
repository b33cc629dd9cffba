/* service.c — `posix.service`: makes a service pick up the new certificate.
 *
 * params: {"command": "/srv/renewd-lab/bin/tlsctl reload"}
 *      or {"unit": "nginx", "action": "reload" (default) | "restart"}
 *      plus optional "check": a command whose exit 0 means healthy, and
 *      "timeout": seconds (timeout(1) on the target; the host's per-step
 *      deadline bounds the whole script anyway).
 * The command is the operator's configured command and runs as data:
 * sh -c "$P_command" — never pasted into the script.
 * probe: what would run (for a unit: whether it is active now).
 * apply: runs it; a non-zero exit fails with the exit code and stderr.
 * verify: runs "check"; without one, a unit must be active.
 * No rollback: the kind is RD_KIND_RESTART, so after a rollback the engine
 * runs apply again to load the restored certificate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.service"

static const rd_script posix_service_probe_script =
    POSIX_SCRIPT("posix.service.probe", 0, POSIX_SH_SERVICE_PROBE);
static const rd_script posix_service_run_script =
    POSIX_SCRIPT("posix.service.run", 1, POSIX_SH_SERVICE_RUN);
/* The same runner for the operator's health check: it is not meant to
 * change anything. */
static const rd_script posix_service_check_script =
    POSIX_SCRIPT("posix.service.check", 0, POSIX_SH_SERVICE_RUN);

static const char *const service_keys[] = {"command", "unit", "action", "check", "timeout", NULL};

static int service_unit_ok(const char *u) {
  size_t n = strlen(u);
  if (!n || n > 256 || u[0] == '-')
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!(u[i] >= 'a' && u[i] <= 'z') && !(u[i] >= 'A' && u[i] <= 'Z') &&
        !(u[i] >= '0' && u[i] <= '9') && !strchr("@._:-\\", u[i]))
      return 0;
  return 1;
}

static int service_validate(const json_t *params, char *err, size_t errlen) {
  const json_t *cmd = json_object_get(params, "command"), *unit = json_object_get(params, "unit");
  const json_t *act = json_object_get(params, "action"), *to = json_object_get(params, "timeout");
  int rc;
  if ((rc = rd_check_keys(params, TYPE, service_keys, err, errlen)))
    return rc;
  if (!cmd == !unit) {
    snprintf(err, errlen, "%s: give either \"command\" (a shell command) or \"unit\" (a systemd unit)",
             TYPE);
    return RD_EINVAL;
  }
  if ((rc = posix_check_string(params, "command", 0, 0, TYPE, err, errlen)) ||
      (rc = posix_check_string(params, "check", 0, 0, TYPE, err, errlen)))
    return rc;
  if (unit && (!json_is_string(unit) || !service_unit_ok(json_string_value(unit)))) {
    snprintf(err, errlen, "%s: \"unit\" must be a systemd unit name such as \"nginx\" or \"nginx.service\"",
             TYPE);
    return RD_EINVAL;
  }
  if (act && (!unit || !json_is_string(act) ||
              (strcmp(json_string_value(act), "reload") && strcmp(json_string_value(act), "restart")))) {
    snprintf(err, errlen, "%s: \"action\" goes with \"unit\" and must be \"reload\" or \"restart\"", TYPE);
    return RD_EINVAL;
  }
  if (to && (!json_is_integer(to) || json_integer_value(to) < 1 || json_integer_value(to) > 86400)) {
    snprintf(err, errlen, "%s: \"timeout\" must be a number of seconds from 1 to 86400", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct service_cfg {
  const char *command, *unit, *action, *check;
  char timeout[32];
  char what[600]; /* "systemctl reload nginx" or the command */
} service_cfg;

static void service_cfg_get(rd_step *s, const rd_host_api *h, service_cfg *c) {
  const json_t *pa = h->params(s), *to = json_object_get(pa, "timeout");
  c->command = posix_str(pa, "command");
  c->unit = posix_str(pa, "unit");
  c->action = posix_str(pa, "action") ? posix_str(pa, "action") : "reload";
  c->check = posix_str(pa, "check");
  c->timeout[0] = 0;
  if (to)
    snprintf(c->timeout, sizeof c->timeout, "%lld", (long long)json_integer_value(to));
  if (c->unit)
    snprintf(c->what, sizeof c->what, "systemctl %s %s", c->action, c->unit);
  else
    snprintf(c->what, sizeof c->what, "%s", c->command ? c->command : "");
}

/* Either a command or a unit (the check is always a command). */
static json_t *service_args(const service_cfg *c, const char *command, const char *unit) {
  json_t *a = posix_args();
  posix_arg(a, "command", command);
  posix_arg(a, "unit", unit);
  posix_arg(a, "action", c->action);
  posix_arg(a, "timeout", c->timeout);
  return a;
}

static void service_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  service_cfg c;
  json_t *res = rd_result_new();
  char what[700];
  service_cfg_get(s, h, &c);
  if (c.unit) {
    const char *st = *posix_out(out, "state") ? posix_out(out, "state") : "unknown";
    snprintf(what, sizeof what, "unit %s", c.unit);
    rd_result_change(res, what, st, c.action);
    h->donef(s, 0, res, "would run: %s (the unit is %s)", c.what, st);
  } else {
    int found = posix_out_is(out, "found", "1");
    rd_result_change(res, "run", NULL, c.command);
    json_object_set_new(res, "detail", json_pack("{s:b}", "program_found", found));
    h->donef(s, 0, res, "would run: %s%s", c.command,
                 found ? "" : " (its program was not found on the target)");
  }
}

static int service_probe(rd_step *s, const rd_host_api *h) {
  service_cfg c;
  service_cfg_get(s, h, &c);
  return posix_run(s, h, &posix_service_probe_script, service_args(&c, c.command, c.unit), service_probed);
}

/* The exit status and output of a command run by service_run.sh. */
static void service_report(rd_step *s, const rd_host_api *h, const json_t *out, const char *what,
                           int fail_status, const char *done_msg) {
  service_cfg c;
  long rc = strtol(posix_out(out, "rc"), NULL, 10);
  char *err = posix_out_text(h, out, "stderr", 400), *sout = posix_out_text(h, out, "stdout", 400);
  json_t *res = rd_result_new();
  service_cfg_get(s, h, &c);
  json_object_set_new(res, "detail", json_pack("{s:s, s:i, s:s, s:s}", "command", what, "exit",
                                               (int)rc, "stdout", sout ? sout : "", "stderr",
                                               err ? err : ""));
  if (rc == 124 && c.timeout[0])
    h->donef(s, RD_ETIMEDOUT, res, "`%s` timed out after %s s", what, c.timeout);
  else if (rc != 0)
    h->donef(s, fail_status, res, "`%s` exited %ld: %s", what, rc,
                 err && *err ? err : sout && *sout ? sout : "(no output)");
  else
    h->donef(s, 0, res, "%s: `%s`", done_msg, what);
  free(err);
  free(sout);
}

static void service_ran(rd_step *s, const rd_host_api *h, const json_t *out) {
  service_cfg c;
  service_cfg_get(s, h, &c);
  service_report(s, h, out, c.what, RD_EREMOTE, "ran");
}

static int service_apply(rd_step *s, const rd_host_api *h) {
  service_cfg c;
  service_cfg_get(s, h, &c);
  return posix_run(s, h, &posix_service_run_script, service_args(&c, c.command, c.unit), service_ran);
}

static void service_checked(rd_step *s, const rd_host_api *h, const json_t *out) {
  service_cfg c;
  service_cfg_get(s, h, &c);
  service_report(s, h, out, c.check, RD_EVERIFY, "check passed");
}

static void service_active(rd_step *s, const rd_host_api *h, const json_t *out) {
  service_cfg c;
  service_cfg_get(s, h, &c);
  if (posix_out_is(out, "state", "active"))
    h->donef(s, 0, NULL, "unit %s is active", c.unit);
  else
    h->donef(s, RD_EVERIFY, NULL, "unit %s is %s after `%s`", c.unit,
                 *posix_out(out, "state") ? posix_out(out, "state") : "not active", c.what);
}

static int service_verify(rd_step *s, const rd_host_api *h) {
  service_cfg c;
  service_cfg_get(s, h, &c);
  if (c.check)
    return posix_run(s, h, &posix_service_check_script, service_args(&c, c.check, NULL), service_checked);
  if (c.unit)
    return posix_run(s, h, &posix_service_probe_script, service_args(&c, NULL, c.unit), service_active);
  h->donef(s, 0, NULL, "no check configured for `%s`", c.what);
  return 0;
}

const rd_step_kind posix_kind_service = {
    .type = TYPE,
    .summary = "reload or restart a service (a command or a systemd unit), then check it",
    .platform = RD_PLATFORM_POSIX,
    .flags = RD_KIND_RESTART,
    .validate = service_validate,
    .probe = service_probe,
    .apply = service_apply,
    .verify = service_verify,
    .rollback = NULL, /* RESTART: the engine re-applies it after a rollback */
};
