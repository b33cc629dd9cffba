/* notices.c — the notices a job leaves in the journal.
 *
 * A run prints what an operator must know about its jobs in its report
 * (core/report.c: "notice: ... the CA may hold an orphan certificate").
 * A run killed after the job went on but before it printed would lose
 * that line; the step's result is in the journal all the same, so
 * `renewd status` and the fleet report (`renewd report`, serve's /report)
 * find it here, whichever run did the work. */
#include "core/notices.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* The notice step r carries, or NULL (*err RD_ENOMEM when it could not be made). */
static json_t *notice_of(const rd_step_row *r, int *err) {
  const json_t *orphan = json_object_get(r->result, "orphan");
  json_t *n;
  *err = 0;
  if (!json_is_true(json_object_get(orphan, "possible")))
    return NULL;
  json_int_t resent = json_integer_value(json_object_get(orphan, "resent"));
  n = json_pack("{s:s, s:s, s:s, s:s, s:I}", "what", "possible orphan certificate at the CA",
                "step", r->step, "phase", r->phase, "message", r->message, "resent",
                resent > 0 ? resent : (json_int_t)1);
  if (!n)
    *err = RD_ENOMEM;
  return n;
}

/* Steps come ordered by job then id: a later one of a job replaces its
 * notice (the newest resend says the most). */
static int on_marked(const rd_step_row *r, void *arg) {
  char key[32];
  int err;
  json_t *n = notice_of(r, &err);
  snprintf(key, sizeof key, "%lld", (long long)r->job_id);
  if (n && json_object_set_new(arg, key, n))
    err = RD_ENOMEM;
  return err;
}

int rd_job_notices(rd_journal *j, json_t **out) {
  int rc;
  if (!(*out = json_object()))
    return RD_ENOMEM;
  if ((rc = rd_journal_steps_marked(j, "orphan", on_marked, *out)) < 0) {
    json_decref(*out);
    *out = NULL;
  }
  return rc < 0 ? rc : 0;
}
