/* journal_steps.c — the step record of each phase a job ran (journal.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/journal_int.h"

int jn_put_step(rd_journal *j, int64_t id, const rd_step_record *r, time_t now) {
  int rc;
  jn_q *s;
  char *text = NULL;
  if (!r->step || !*r->step || !r->phase || !*r->phase)
    return jn_fail(j, RD_EINVAL, "job %lld: step record without step or phase", (long long)id);
  if (r->result && !(text = jn_json_text(r->result)))
    return jn_fail(j, RD_ENOMEM, "job %lld: step %s: cannot encode result", (long long)id, r->step);
  if (!(s = jn_stmt(j, S_STEP_INSERT, &rc))) {
    free(text);
    return jn_dberr(j, rc, "step");
  }
  jn_bind_int(s, 1, id);
  jn_bind_text(s, 2, r->step);
  jn_bind_text(s, 3, r->phase);
  jn_bind_int(s, 4, r->status);
  jn_bind_double(s, 5, r->ms);
  jn_bind_text(s, 6, text);
  jn_bind_text(s, 7, r->message ? r->message : "");
  jn_bind_int(s, 8, now);
  rc = jn_step(j, s, "step");
  free(text);
  return rc;
}

int rd_journal_step(rd_journal *j, int64_t job_id, const rd_step_record *rec) {
  rd_job_state st;
  int err;
  if (!j || !rec)
    return RD_EINVAL;
  if ((err = jn_tx_begin_job(j, job_id, "step", &st)) < 0)
    return err;
  return jn_tx_end(j, jn_put_step(j, job_id, rec, time(NULL)));
}

static int read_step(rd_journal *j, jn_q *s, void *row, int64_t ctx) {
  rd_step_row *r = row;
  const char *text = jn_col_text(s, 5);
  int64_t job_id = jn_col_int(s, 8);
  (void)ctx;
  r->id = jn_col_int(s, 0);
  r->job_id = job_id;
  jn_copy_col(r->step, sizeof r->step, s, 1);
  jn_copy_col(r->phase, sizeof r->phase, s, 2);
  r->status = (int)jn_col_int(s, 3);
  r->ms = jn_col_double(s, 4);
  if (text) {
    json_error_t jerr;
    if (!(r->result = json_loads(text, JSON_DECODE_ANY, &jerr)))
      return jn_fail(j, RD_EPROTO, "job %lld: step row %lld: result is not JSON: %s",
                     (long long)job_id, (long long)r->id, jerr.text);
  }
  jn_copy_col(r->message, sizeof r->message, s, 6);
  r->at = (time_t)jn_col_int(s, 7);
  return 0;
}

/* Collect the rows of the bound statement s, visit them, free them. */
static int visit_steps(rd_journal *j, jn_q *s, rd_step_visit fn, void *arg) {
  jn_rows r = {.size = sizeof(rd_step_row)};
  const rd_step_row *rows;
  int err = jn_collect(j, s, "steps", &r, read_step, 0);
  rows = r.rows;
  for (size_t i = 0; !err && i < r.n; i++)
    err = fn(&rows[i], arg);
  jn_rows_free(&r, offsetof(rd_step_row, result));
  return err;
}

int rd_journal_steps(rd_journal *j, int64_t job_id, rd_step_visit fn, void *arg) {
  int rc;
  jn_q *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_STEP_LIST, &rc)))
    return jn_dberr(j, rc, "steps");
  jn_bind_int(s, 1, job_id);
  return visit_steps(j, s, fn, arg);
}

int rd_journal_steps_marked(rd_journal *j, const char *key, rd_step_visit fn, void *arg) {
  char pattern[300];
  int rc, err;
  jn_q *s;
  if (!j || !fn)
    return RD_EINVAL;
  if ((err = jn_check_text(j, "step result key", key, 256, 0)) < 0)
    return err;
  if (strpbrk(key, "%_\\\""))
    return jn_fail(j, RD_EINVAL, "step result key: only plain names are searched");
  /* the result's text is compact JSON (jn_json_text): "key": somewhere in it */
  snprintf(pattern, sizeof pattern, "%%\"%s\":%%", key);
  if (!(s = jn_stmt(j, S_STEP_MARKED, &rc)))
    return jn_dberr(j, rc, "steps");
  jn_bind_text(s, 1, pattern);
  return visit_steps(j, s, fn, arg);
}
