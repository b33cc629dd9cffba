/* exec.c — `posix.exec`: the operator's own hook script, certbot/uacme style.
 *
 * params: {"script": "inline sh"} or {"file": "/local/path/hook.sh"} (read
 *          on the orchestrator when the phase runs), "mutating": true
 *          (default; false lets apply run where only read-only scripts may),
 *          "timeout": seconds (optional, timeout(1) on the target).
 * The script text travels as a parameter (data) and runs as
 * `sh "$RD_P/script" <phase>` with the job's facts in its environment:
 * RENEWD_HOST, RENEWD_PHASE, RENEWD_CERT_PATH, RENEWD_OLD_SHA1,
 * RENEWD_NEW_SHA1, RENEWD_OLD_SERIAL, RENEWD_NEW_SERIAL, RENEWD_WHATIF.
 * Phases: probe (always RENEWD_WHATIF=1, read-only: the hook must only
 * report), apply, verify, rollback. A non-zero exit fails the phase with
 * the exit code and the tail of stderr; stdout's tail goes to the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.exec"
#define EXEC_MAX_SCRIPT (256 * 1024)

static const rd_script posix_exec_ro_script = POSIX_SCRIPT("posix.exec", 0, POSIX_SH_EXEC_RUN);
static const rd_script posix_exec_rw_script = POSIX_SCRIPT("posix.exec", 1, POSIX_SH_EXEC_RUN);

static const char *const exec_keys[] = {"script", "file", "mutating", "timeout", NULL};

static int exec_validate(const json_t *params, char *err, size_t errlen) {
  const json_t *m = json_object_get(params, "mutating"), *to = json_object_get(params, "timeout");
  int rc;
  if ((rc = rd_check_keys(params, TYPE, exec_keys, err, errlen)))
    return rc;
  if (!json_object_get(params, "script") == !json_object_get(params, "file")) {
    snprintf(err, errlen, "%s: give either \"script\" (inline sh) or \"file\" (a local script path)",
             TYPE);
    return RD_EINVAL;
  }
  if ((rc = posix_check_string(params, "script", 0, 0, TYPE, err, errlen)) ||
      (rc = posix_check_string(params, "file", 0, 1, TYPE, err, errlen)))
    return rc;
  if (m && !json_is_boolean(m)) {
    snprintf(err, errlen, "%s: \"mutating\" must be true or false", TYPE);
    return RD_EINVAL;
  }
  if (to && (!json_is_integer(to) || json_integer_value(to) < 1 || json_integer_value(to) > 86400)) {
    snprintf(err, errlen, "%s: \"timeout\" must be a number of seconds from 1 to 86400", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

static const char *exec_phase_name(rd_phase ph) {
  switch (ph) {
  case RD_PHASE_PROBE:
    return "probe";
  case RD_PHASE_APPLY:
    return "apply";
  case RD_PHASE_VERIFY:
    return "verify";
  default:
    return "rollback";
  }
}

static const char *exec_label(const json_t *pa) {
  return posix_str(pa, "file") ? posix_str(pa, "file") : "inline script";
}

static void exec_report(rd_step *s, const rd_host_api *h, const json_t *out, int fail_status,
                        int probe) {
  const json_t *pa = h->params(s);
  long rc = strtol(posix_out(out, "rc"), NULL, 10);
  char *err = posix_out_text(h, out, "stderr", 400), *sout = posix_out_text(h, out, "stdout", 1000);
  json_t *res = rd_result_new();
  json_object_set_new(res, "detail", json_pack("{s:s, s:i, s:s, s:s}", "script", exec_label(pa),
                                               "exit", (int)rc, "stdout", sout ? sout : "",
                                               "stderr", err ? err : ""));
  /* What the hook says it would do (its stdout in whatif) is the change. */
  if (probe && rc == 0) {
    char what[1200];
    snprintf(what, sizeof what, "hook %s (apply)", exec_label(pa));
    rd_result_change(res, what, NULL, sout && *sout ? sout : "would run");
  }
  if (rc != 0)
    h->donef(s, rc == 124 && json_object_get(pa, "timeout") ? RD_ETIMEDOUT : fail_status,
                 res, "%s exited %ld: %s", exec_label(pa), rc,
                 err && *err ? err : "(no error output)");
  else
    h->donef(s, 0, res, "%s: %s", exec_label(pa), sout && *sout ? sout : "ok");
  free(err);
  free(sout);
}

static void exec_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  exec_report(s, h, out, RD_EREMOTE, 1);
}
static void exec_ran(rd_step *s, const rd_host_api *h, const json_t *out) {
  exec_report(s, h, out, RD_EREMOTE, 0);
}
static void exec_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  exec_report(s, h, out, RD_EVERIFY, 0);
}

static int exec_run(rd_step *s, const rd_host_api *h, rd_phase ph, posix_ok_fn ok) {
  const json_t *pa = h->params(s), *to = json_object_get(pa, "timeout");
  const json_t *m = json_object_get(pa, "mutating");
  const json_t *nc = posix_new_cert(s, h);
  char *text = NULL, tbuf[32] = "";
  const char *cert_path = posix_fact(s, h, "cert.path");
  json_t *args;
  int rc, mutating = ph != RD_PHASE_PROBE && ph != RD_PHASE_VERIFY && !json_is_false(m);
  if (posix_str(pa, "file") &&
      (rc = posix_read_local(posix_str(pa, "file"), EXEC_MAX_SCRIPT, &text)) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s: cannot read the script on the orchestrator: %s",
                 posix_str(pa, "file"), h->strerror(rc));
    return 0;
  }
  if (!cert_path)
    cert_path = posix_str(h->section(s, "certificate"), "cert");
  if (to)
    snprintf(tbuf, sizeof tbuf, "%lld", (long long)json_integer_value(to));
  args = posix_args();
  posix_arg(args, "script", text ? text : posix_str(pa, "script"));
  free(text);
  posix_arg(args, "phase", exec_phase_name(ph));
  posix_arg(args, "host", h->host(s));
  posix_arg(args, "cert_path", cert_path);
  posix_arg(args, "old_sha1", posix_fact(s, h, "cert.sha1"));
  posix_arg(args, "new_sha1", posix_str(nc, "sha1"));
  posix_arg(args, "old_serial", posix_fact(s, h, "cert.serial"));
  posix_arg(args, "new_serial", posix_str(nc, "serial"));
  posix_arg(args, "whatif", ph == RD_PHASE_PROBE || h->whatif(s) ? "1" : "0");
  posix_arg(args, "timeout", tbuf);
  return posix_run(s, h, mutating ? &posix_exec_rw_script : &posix_exec_ro_script, args, ok);
}

static int exec_probe(rd_step *s, const rd_host_api *h) {
  return exec_run(s, h, RD_PHASE_PROBE, exec_probed);
}
static int exec_apply(rd_step *s, const rd_host_api *h) {
  return exec_run(s, h, RD_PHASE_APPLY, exec_ran);
}
static int exec_verify(rd_step *s, const rd_host_api *h) {
  return exec_run(s, h, RD_PHASE_VERIFY, exec_verified);
}
static int exec_rollback(rd_step *s, const rd_host_api *h) {
  return exec_run(s, h, RD_PHASE_ROLLBACK, exec_ran);
}

const rd_step_kind posix_kind_exec = {
    .type = TYPE,
    .summary = "run an operator's hook script with the phase and RENEWD_* facts",
    .platform = RD_PLATFORM_POSIX,
    .flags = 0,
    .validate = exec_validate,
    .probe = exec_probe,
    .apply = exec_apply,
    .verify = exec_verify,
    .rollback = exec_rollback,
};
