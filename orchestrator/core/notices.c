/* notices.c — the notices a job leaves in the journal.
 *
 * A run prints what an operator must know about its jobs in its report
 * (core/report.c: "notice: ... the CA may hold an orphan certificate").
 * A run killed after the job went on but before it printed would lose
 * that line; the step's result is in the journal all the same, so
 * `renewd status` and the fleet report (`renewd report`, serve's /report)
 * find it here, whichever run did the work. */
#include "core/notices.h"

#include <string.h>

#include "base/err.h"

static int on_step(const rd_step_row *r, void *arg) {
  json_t **out = arg;
  const json_t *orphan = json_object_get(r->result, "orphan");
  if (!json_is_true(json_object_get(orphan, "possible")))
    return 0;
  json_int_t resent = json_integer_value(json_object_get(orphan, "resent"));
  json_decref(*out); /* the newest resend says the most */
  *out = json_pack("{s:s, s:s, s:s, s:s, s:I}", "what", "possible orphan certificate at the CA",
                   "step", r->step, "phase", r->phase, "message", r->message, "resent",
                   resent > 0 ? resent : (json_int_t)1);
  return *out ? 0 : RD_ENOMEM;
}

int rd_job_notice(rd_journal *j, int64_t job_id, json_t **out) {
  int rc;
  *out = NULL;
  if ((rc = rd_journal_steps(j, job_id, on_step, out)) < 0) {
    json_decref(*out);
    *out = NULL;
  }
  return rc < 0 ? rc : 0;
}
