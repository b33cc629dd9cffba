/* ndes_getcacaps.c — `windows.ndes_getcacaps`: one SCEP GetCACaps request
 * to NDES, sent from the target itself, which loads the NDES application
 * (IIS loads it on the first request; only then does NDES log Event 1, so
 * the NDES runbooks run this between the restart and windows.event_verify)
 * and proves it answers. Usable alone as a health check.
 *
 * params: {"url": "http://localhost/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps"
 *          (the default; another host name or https when IIS requires it),
 *          "timeout": seconds for the request (1-600, default 60)}
 * probe (read-only, sends nothing): says which URL verify will ask.
 * verify: the request; HTTP 200 with at least one capability line passes
 *   (RFC 8894 section 3.5.2: e.g. "POSTPKIOperation", "SHA-256",
 *   "Renewal"); anything else fails with what it means and what to check.
 * RD_KIND_CHECK: after a rollback it runs again, before the event check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windows_getcacaps.h"
#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.ndes_getcacaps"
#define DEFAULT_URL "http://localhost/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps"
#define URL_TAIL "/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps"

static const rd_script win_getcacaps_script =
    WIN_SCRIPT("windows.ndes.getcacaps", 0, WIN_PS_NDES_GETCACAPS);
const rd_script *const windows_getcacaps_scripts[] = {&win_getcacaps_script, NULL};

static const char *const gc_keys[] = {"url", "timeout", NULL};

/* http(s)://<host[:port]>/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps */
int win_getcacaps_url_ok(const char *u) {
  const char *h, *tail;
  size_t hl;
  if (!u)
    return 0;
  if (!strncmp(u, "http://", 7))
    h = u + 7;
  else if (!strncmp(u, "https://", 8))
    h = u + 8;
  else
    return 0;
  if (!(tail = strchr(h, '/')) || strcmp(tail, URL_TAIL) || !(hl = (size_t)(tail - h)) || hl > 255)
    return 0;
  for (const char *p = h; p < tail; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          strchr(".:-[]", *p)))
      return 0;
  return 1;
}

static int gc_validate(const json_t *params, char *err, size_t errlen) {
  int rc;
  if ((rc = rd_check_keys(params, TYPE, gc_keys, err, errlen)) ||
      (rc = win_check_string(params, "url", 0, 400, TYPE, err, errlen)) ||
      (rc = win_check_int(params, "timeout", 0, 1, 600, TYPE, err, errlen)))
    return rc;
  if (json_object_get(params, "url") && !win_getcacaps_url_ok(win_str(params, "url"))) {
    snprintf(err, errlen,
             "%s: \"url\" must be http(s)://<host>%s, such as \"%s\"", TYPE, URL_TAIL, DEFAULT_URL);
    return RD_EINVAL;
  }
  return 0;
}

static const char *url_of(rd_step *s, const rd_host_api *h) {
  const char *u = win_str(h->params(s), "url");
  return u ? u : DEFAULT_URL;
}

/* What an HTTP status (0: none) or a WebExceptionStatus means for NDES. */
static const char *status_hint(long long status, const char *web) {
  if (status == 500)
    return "NDES is installed but failed to load: see the Application log for errors from "
           "Microsoft-Windows-NetworkDeviceEnrollmentService (a missing, expired or duplicate RA "
           "certificate, or an NDES service account that cannot read its private key)";
  if (status == 503)
    return "IIS refused the request: the SCEP application pool is stopped (it stops after "
           "repeated failures); start it and look for NDES errors in the Application log";
  if (status == 404)
    return "there is no NDES at this URL: check the host name, and that the mscep application "
           "exists under certsrv in IIS";
  if (status == 401 || status == 403)
    return "IIS refused the request: GetCACaps is anonymous, so check the authentication and "
           "SSL settings of the mscep application (or use the https URL IIS requires)";
  if (status >= 300 && status < 400)
    return "IIS redirected the request (often to https): give that URL in \"url\"";
  if (status)
    return "NDES did not answer GetCACaps as expected";
  if (web && !strcmp(web, "Timeout"))
    return "no answer in time: NDES may still be loading, or the SCEP application pool hangs; "
           "raise \"timeout\" or check the pool";
  if (web && !strcmp(web, "TrustFailure"))
    return "the server's TLS certificate is not trusted for this host name: use the name the "
           "NDES SSL certificate was issued for, or plain http on localhost";
  return "nothing answered: check that IIS (W3SVC) runs and the URL's host and port";
}

void win_getcacaps_judge(const json_t *out, int *status, char *msg, size_t msglen) {
  long long http = win_int(out, "status", 0);
  const json_t *caps = json_object_get(out, "caps");
  char list[300] = "", hint[300];
  const json_t *c;
  size_t i;
  json_array_foreach(caps, i, c) {
    char one[80];
    win_line(json_string_value(c), one, sizeof one, 60);
    if (*one)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", *list ? ", " : "", one);
  }
  if (http == 200 && *list) {
    *status = 0;
    snprintf(msg, msglen, "NDES answered GetCACaps: %s", list);
    return;
  }
  *status = RD_EVERIFY;
  win_line(win_out(out, "error"), hint, sizeof hint, 200);
  if (http == 200)
    snprintf(msg, msglen, "NDES answered GetCACaps with HTTP 200 but no capabilities: %s",
             status_hint(0, "empty"));
  else if (http)
    snprintf(msg, msglen, "GetCACaps: HTTP %lld: %s%s%s%s", http, status_hint(http, NULL),
             *hint ? " (" : "", hint, *hint ? ")" : "");
  else
    snprintf(msg, msglen, "GetCACaps: no HTTP answer%s%s%s: %s%s%s",
             win_str(out, "web_status") ? " (" : "", win_str(out, "web_status") ? win_out(out, "web_status") : "",
             win_str(out, "web_status") ? ")" : "", status_hint(0, win_str(out, "web_status")),
             *hint ? "; " : "", hint);
}

static int gc_probe(rd_step *s, const rd_host_api *h) {
  h->donef(s, 0, rd_result_new(), "would send GET %s from the target (it loads NDES) and expect "
           "its capabilities", url_of(s, h));
  return 0;
}

static void gc_checked(rd_step *s, const rd_host_api *h, const json_t *out) {
  int status;
  char msg[900];
  win_getcacaps_judge(out, &status, msg, sizeof msg);
  h->donef(s, status, NULL, "%s: %s", url_of(s, h), msg);
}

static int gc_verify(rd_step *s, const rd_host_api *h) {
  return win_run(s, h, &win_getcacaps_script,
                 json_pack("{s:s, s:I}", "url", url_of(s, h), "timeout",
                           (json_int_t)win_int(h->params(s), "timeout", 60)),
                 gc_checked);
}

const rd_step_kind windows_kind_ndes_getcacaps = {
    .type = TYPE,
    .summary = "send NDES a GetCACaps request from the target (loads NDES; checks it answers)",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = RD_KIND_CHECK,
    .validate = gc_validate,
    .probe = gc_probe,
    .apply = NULL,
    .verify = gc_verify,
    .rollback = NULL,
};
