/* issue.c — manual.issue: the issuer of a certificate renewd cannot renew
 * itself (runbook "issuer": {"type": "manual", "action": "..."}).
 *
 * The certificate is inventoried like any other, so the expiry alerts
 * (notify.before_expiry_days) fire for it. The probe names the manual
 * procedure (the plan shows it with the certificate); the apply contacts
 * nothing: it ends the job in NEEDS_OPERATOR with the procedure as the
 * reason, so the install and the follow-up steps never run. */
#include <stdio.h>
#include <time.h>

#include "manual_plugin.h"

/* The runbook's procedure (checked non-empty at load time). */
static const char *action_of(rd_step *s, const rd_host_api *h) {
  const char *a = json_string_value(json_object_get(h->section(s, "issuer"), "action"));
  return a && *a ? a : "(no action in the runbook's issuer)";
}

/* "CN=..., expires 2027-01-31" or "no live certificate", into buf. */
static const char *cert_words(rd_step *s, const rd_host_api *h, char *buf, size_t len) {
  const json_t *cert = json_object_get(h->facts(s), "cert");
  const char *subj = json_string_value(json_object_get(cert, "subject"));
  time_t na = (time_t)json_integer_value(json_object_get(cert, "not_after"));
  char day[16] = "";
  struct tm tm;
  if (!json_is_object(cert))
    return "no live certificate";
  if (na && gmtime_r(&na, &tm))
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
  snprintf(buf, len, "%s%s%s", subj ? subj : "the certificate", day[0] ? ", expires " : "", day);
  return buf;
}

/* The result both phases report: the action, machine-readable. */
static json_t *result_of(rd_step *s, const rd_host_api *h) {
  json_t *res = rd_result_new();
  const char *subj =
      json_string_value(json_object_get(json_object_get(h->facts(s), "cert"), "subject"));
  rd_result_change(res, "certificate", subj, "(renewed by hand)");
  json_object_set_new(res, "detail",
                      json_pack("{s:s, s:s}", "mode", "manual", "action", action_of(s, h)));
  return res;
}

static void nothing(void *arg) { (void)arg; }

static void probed(rd_step *s, int status, void *arg) {
  const rd_host_api *h = arg;
  char buf[512];
  if (status)
    return; /* canceled: nothing counts any more */
  h->donef(s, 0, result_of(s, h), "renewd cannot renew this certificate (%s): %s",
           cert_words(s, h, buf, sizeof buf), action_of(s, h));
}

static void applied(rd_step *s, int status, void *arg) {
  const rd_host_api *h = arg;
  char buf[512];
  if (status)
    return;
  h->donef(s, RD_EOPERATOR, result_of(s, h),
           "needs an operator: renewd cannot renew this certificate (%s): %s; then run renewd "
           "again",
           cert_words(s, h, buf, sizeof buf), action_of(s, h));
}

/* Both phases complete from a work's after(), never from inside the phase
 * function (renewd/plugin.h, the asynchrony contract). */
static int probe(rd_step *s, const rd_host_api *h) {
  return h->work(s, nothing, probed, (void *)h);
}

static int apply(rd_step *s, const rd_host_api *h) {
  return h->work(s, nothing, applied, (void *)h);
}

const rd_step_kind manual_kind_issue = {
    .type = "manual.issue",
    .summary = "a certificate renewd cannot renew itself: report the runbook's manual action "
               "(NEEDS_OPERATOR) and contact nothing",
    .platform = RD_PLATFORM_ANY,
    .flags = RD_KIND_ISSUER,
    .probe = probe,
    .apply = apply,
};
