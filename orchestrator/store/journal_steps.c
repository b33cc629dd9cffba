/* journal_steps.c — the step record of each phase a job ran (journal.h). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/journal_int.h"

int jn_put_step(rd_journal *j, int64_t id, const rd_step_record *r, time_t now) {
  int rc;
  sqlite3_stmt *s;
  char *text = NULL;
  if (!r->step || !*r->step || !r->phase || !*r->phase)
    return jn_fail(j, RD_EINVAL, "job %lld: step record without step or phase", (long long)id);
  if (r->result && !(text = jn_json_text(r->result)))
    return jn_fail(j, RD_ENOMEM, "job %lld: step %s: cannot encode result", (long long)id, r->step);
  if (!(s = jn_stmt(j, S_STEP_INSERT, &rc))) {
    free(text);
    return jn_dberr(j, rc, "step");
  }
  sqlite3_bind_int64(s, 1, id);
  jn_bind_text(s, 2, r->step);
  jn_bind_text(s, 3, r->phase);
  sqlite3_bind_int(s, 4, r->status);
  sqlite3_bind_double(s, 5, r->ms);
  jn_bind_text(s, 6, text);
  jn_bind_text(s, 7, r->message ? r->message : "");
  sqlite3_bind_int64(s, 8, (sqlite3_int64)now);
  rc = jn_step(j, s, "step");
  free(text);
  return rc;
}

int rd_journal_step(rd_journal *j, int64_t job_id, const rd_step_record *rec) {
  rd_job_state st;
  int err;
  if (!j || !rec)
    return RD_EINVAL;
  if ((err = jn_tx_begin_job(j, job_id, &st)) < 0)
    return err;
  return jn_tx_end(j, jn_put_step(j, job_id, rec, time(NULL)));
}

int rd_journal_steps(rd_journal *j, int64_t job_id, rd_step_visit fn, void *arg) {
  int rc, err = 0;
  size_t n = 0, cap = 0;
  rd_step_row *rows = NULL;
  sqlite3_stmt *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_STEP_LIST, &rc)))
    return jn_dberr(j, rc, "steps");
  sqlite3_bind_int64(s, 1, job_id);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rd_step_row *r;
    const char *text;
    if (jn_grow(&rows, n, &cap, sizeof *rows)) {
      err = jn_fail(j, RD_ENOMEM, "steps: out of memory");
      break;
    }
    r = &rows[n];
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    r->job_id = job_id;
    jn_copy_col(r->step, sizeof r->step, s, 1);
    jn_copy_col(r->phase, sizeof r->phase, s, 2);
    r->status = sqlite3_column_int(s, 3);
    r->ms = sqlite3_column_double(s, 4);
    if ((text = (const char *)sqlite3_column_text(s, 5))) {
      json_error_t jerr;
      if (!(r->result = json_loads(text, JSON_DECODE_ANY, &jerr))) {
        err = jn_fail(j, RD_EPROTO, "job %lld: step row %lld: result is not JSON: %s",
                   (long long)job_id, (long long)r->id, jerr.text);
        break;
      }
    }
    jn_copy_col(r->message, sizeof r->message, s, 6);
    r->at = (time_t)sqlite3_column_int64(s, 7);
    n++;
  }
  jn_done(s);
  if (!err && rc != SQLITE_DONE)
    err = jn_dberr(j, rc, "steps");
  for (size_t i = 0; !err && i < n; i++)
    err = fn(&rows[i], arg);
  for (size_t i = 0; i < n; i++)
    json_decref((json_t *)rows[i].result);
  free(rows);
  return err;
}

