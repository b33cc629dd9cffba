/* window.c — the CA's renewal window before the due decision (ACME renewal
 * information, RFC 9773). An issuer kind flagged RD_KIND_WINDOW runs its
 * probe between the inventory probe and the due decision; the probe sets
 * facts "renew_window" (core/schedule.h), which rd_due_decide prefers to
 * the policy. The CA unreachable or without a window for the certificate:
 * the policy decides, and the window says why. */
#include <string.h>

#include "core/engine_int.h"

static rd_step *window_issuer(rd_job *j) {
  for (size_t i = 1; i < j->nsteps; i++)
    if ((j->steps[i].kind->flags & (RD_KIND_ISSUER | RD_KIND_WINDOW)) ==
        (RD_KIND_ISSUER | RD_KIND_WINDOW))
      return &j->steps[i];
  return NULL;
}

int rd_window_ask(rd_job *j) {
  rd_step *s = window_issuer(j);
  /* asked once per probe of the live certificate; no certificate, nothing
   * to ask about; an inventory contacts no CA */
  if (!s || j->e->opts.inventory || json_object_get(j->facts, "renew_window") ||
      !json_is_object(json_object_get(j->facts, "cert")))
    return 0;
  j->stage = ST_WINDOW;
  j->idx = s->index;
  rd_step_run(s, RD_PHASE_PROBE);
  return 1;
}

void rd_window_asked(rd_job *j) {
  rd_step *s = &j->steps[j->idx];
  if (s->status) { /* the policy decides; the pre-flight runs the probe again */
    const char *why =
        json_string_value(json_object_get(json_object_get(j->report, "cause"), "message"));
    rd_step_log(s, RD_LOG_WARN, "no renewal window from the CA (above): the policy decides");
    json_object_set_new(j->facts, "renew_window",
                        json_pack("{s:s, s:s}", "source", "policy", "note", why ? why : j->error));
    rd_job_clear_error(j);
    s->status = 0;
  } else if (!json_object_get(j->facts, "renew_window")) {
    json_object_set_new(j->facts, "renew_window",
                        json_pack("{s:s, s:s}", "source", "policy", "note",
                                  "the CA suggested no window for this certificate"));
  }
  /* the decision reports the window: a probe "would order" is not the plan's */
  json_object_clear(json_object_get(s->report, "phases"));
  j->stage = ST_PROBE;
  j->idx = 0;
  rd_job_next(j);
}
