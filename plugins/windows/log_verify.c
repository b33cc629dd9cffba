/* log_verify.c — `windows.log_verify`: a service proves it loaded the new
 * certificate by writing a line naming it in its text log (the
 * Configuration Manager Policy Module: NDESPlugin.log says
 * `NDES thumbprint is <thumbprint>` after iisreset, seed 000; an expired
 * certificate shows there as error 12037).
 *
 * params: {"path": "C:\\Program Files\\...\\NDESPlugin.log" (required, an
 *          absolute path), "contains": "NDES thumbprint is {thumbprint}"
 *          (required; {thumbprint} becomes the expected certificate's),
 *          "within": "5m" (how long to wait, 1 s to 1 h; default "5m")}
 * The runbook step's "timeout" must be longer than "within".
 * probe (read-only, no wait): whether the log exists and already names the
 *   current certificate. verify: waits for the line for facts.expect (else
 *   facts.new_cert); not found -> RD_EVERIFY with the log's last ERROR lines.
 *   A line naming the new certificate can only appear once the service
 *   read the new value, so no restart time is needed. RD_KIND_CHECK: after
 *   a rollback it looks for the old certificate's line (already in the log
 *   from before: a weak check then).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.log_verify"
#define THUMB_MARK "{thumbprint}"

static const rd_script win_log_query_script = WIN_SCRIPT("windows.log.query", 0, WIN_PS_LOG_QUERY);
const rd_script *const windows_log_scripts[] = {&win_log_query_script, NULL};

static const char *const lv_keys[] = {"path", "contains", "within", NULL};

static int lv_validate(const json_t *params, char *err, size_t errlen) {
  const char *w = win_str(params, "within");
  long secs;
  int rc;
  if ((rc = rd_check_keys(params, TYPE, lv_keys, err, errlen)) ||
      (rc = win_check_string(params, "path", 1, 400, TYPE, err, errlen)) ||
      (rc = win_check_string(params, "contains", 1, 200, TYPE, err, errlen)))
    return rc;
  if (!win_abs_path(win_str(params, "path"))) {
    snprintf(err, errlen, "%s: \"path\" must be an absolute path such as \"C:\\\\Program "
             "Files\\\\Microsoft Configuration Manager Policy Module\\\\Logs\\\\NDESPlugin.log\" "
             "(no .., quotes or wildcards)", TYPE);
    return RD_EINVAL;
  }
  if (json_object_get(params, "within") && (!w || (secs = win_duration(w)) < 1 || secs > 3600)) {
    snprintf(err, errlen, "%s: \"within\" must be a duration from \"1s\" to \"1h\" such as \"5m\"",
             TYPE);
    return RD_EINVAL;
  }
  return 0;
}

/* "contains" with {thumbprint} replaced by thumb (may be ""). */
static void needle(rd_step *s, const rd_host_api *h, const char *thumb, char *out, size_t n) {
  const char *c = win_out(h->params(s), "contains"), *m = strstr(c, THUMB_MARK);
  if (m)
    snprintf(out, n, "%.*s%s%s", (int)(m - c), c, thumb, m + strlen(THUMB_MARK));
  else
    snprintf(out, n, "%s", c);
}

static json_t *args(rd_step *s, const rd_host_api *h, const char *want, long long wait) {
  return json_pack("{s:s, s:s, s:I}", "path", win_out(h->params(s), "path"), "contains", want,
                   "wait", (json_int_t)wait);
}

static long long within(rd_step *s, const rd_host_api *h) {
  const char *w = win_str(h->params(s), "within");
  return w ? win_duration(w) : 300;
}

static void lv_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  const char *path = win_out(h->params(s), "path");
  if (!win_bool(out, "exists")) {
    h->donef(s, RD_ENOTFOUND, NULL, "log file %s does not exist on the target", path);
    return;
  }
  h->donef(s, 0, rd_result_new(), "would wait up to %lld s for the new certificate's line in %s "
           "(the current one's is %s)", within(s, h), path,
           win_bool(out, "found") ? "there" : "not there");
}

static int lv_probe(rd_step *s, const rd_host_api *h) {
  char thumb[41] = "", want[300];
  if (!win_cert_thumb(win_live_cert(s, h), thumb))
    thumb[0] = 0;
  needle(s, h, thumb, want, sizeof want);
  return win_run(s, h, &win_log_query_script, args(s, h, want, 0), lv_probed);
}

static void lv_checked(rd_step *s, const rd_host_api *h, const json_t *out) {
  const char *path = win_out(h->params(s), "path");
  char line[500], errs[1000] = "";
  const json_t *e;
  size_t i;
  if (!win_bool(out, "exists")) {
    h->donef(s, RD_ENOTFOUND, NULL, "log file %s does not exist on the target", path);
    return;
  }
  if (win_bool(out, "found")) {
    win_line(win_out(out, "line"), line, sizeof line, 300);
    h->donef(s, 0, NULL, "%s: %s", path, line);
    return;
  }
  json_array_foreach(json_object_get(out, "errors"), i, e) {
    win_line(json_string_value(e), line, sizeof line, 300);
    snprintf(errs + strlen(errs), sizeof errs - strlen(errs), "%s%s", i ? " | " : "", line);
  }
  h->donef(s, RD_EVERIFY, NULL, "%s: no line with the new certificate's thumbprint within %lld s%s%s",
           path, within(s, h), *errs ? "; last errors: " : "", errs);
}

static int lv_verify(rd_step *s, const rd_host_api *h) {
  char thumb[41], want[300];
  if (!win_cert_thumb(win_expected_cert(s, h), thumb)) {
    h->donef(s, RD_ESTATE, NULL, "no certificate to look for (facts.new_cert)");
    return 0;
  }
  needle(s, h, thumb, want, sizeof want);
  return win_run(s, h, &win_log_query_script, args(s, h, want, within(s, h)), lv_checked);
}

const rd_step_kind windows_kind_log_verify = {
    .type = TYPE,
    .summary = "wait for a text log line naming the new certificate (ConfigMgr NDESPlugin.log)",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = RD_KIND_CHECK,
    .validate = lv_validate,
    .probe = lv_probe,
    .apply = NULL,
    .verify = lv_verify,
    .rollback = NULL,
};
