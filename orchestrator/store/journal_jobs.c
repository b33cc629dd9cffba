/* journal_jobs.c — jobs: opening, transitions (checked against jobstate.h),
 * retries, resume after a restart, reads and listings, and each job's
 * history. See journal.h and docs/JOURNAL.md. */
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>

#include "base/err.h"
#include "store/journal_int.h"

/* Job id's state from a lookup's answer: rc JN_ROW with the state's name,
 * JN_DONE (no such job), or a native error (what names the lookup). */
static int state_answer(rd_journal *j, int64_t id, int rc, const char *name, const char *what,
                        rd_job_state *st) {
  int v;
  if (rc == JN_DONE)
    return jn_fail(j, RD_ENOTFOUND, "job %lld: not found", (long long)id);
  if (rc != JN_ROW)
    return jn_dberr(j, rc, what);
  if ((v = rd_job_state_parse(name)) < 0)
    return jn_fail(j, RD_EPROTO, "job %lld: unknown state '%s'", (long long)id, name ? name : "");
  *st = (rd_job_state)v;
  return 0;
}

int jn_job_state(rd_journal *j, int64_t id, rd_job_state *st) {
  int rc, err;
  jn_q *s = jn_stmt(j, S_JOB_STATE, &rc);
  if (!s)
    return jn_dberr(j, rc, "job state");
  jn_bind_int(s, 1, id);
  rc = jn_next(j, s);
  err = state_answer(j, id, rc, rc == JN_ROW ? jn_col_text(s, 0) : NULL, "job state", st);
  jn_done(s);
  return err;
}

static int add_transition(rd_journal *j, int64_t id, int from, rd_job_state to,
                          const char *kind, time_t now, const char *error) {
  int rc;
  jn_q *s = jn_stmt(j, S_TR_INSERT, &rc);
  if (!s)
    return jn_dberr(j, rc, "job history");
  jn_bind_int(s, 1, id);
  jn_bind_text(s, 2, from < 0 ? NULL : rd_job_state_name((rd_job_state)from));
  jn_bind_text(s, 3, rd_job_state_name(to));
  jn_bind_text(s, 4, kind);
  jn_bind_int(s, 5, now);
  jn_bind_text(s, 6, error ? error : "");
  return jn_step(j, s, "job history");
}

int jn_tx_begin_job(rd_journal *j, int64_t id, const char *what, rd_job_state *st) {
  char w[128];
  int err;
  snprintf(w, sizeof w, "job %lld: %s", (long long)id, what);
  if (j->drv->begin_job) { /* one round trip where the backend can */
    char name[32] = "";
    int rc = j->drv->begin_job(j, id, name, sizeof name);
    if (rc != JN_ROW && rc != JN_DONE)
      return jn_dberr(j, rc, w); /* no transaction was left open */
    if ((err = state_answer(j, id, rc, name, w, st)) < 0)
      return jn_tx_end(j, err);
    return 0;
  }
  err = jn_tx_begin(j, w);
  if (err < 0)
    return err;
  if ((err = jn_job_state(j, id, st)) < 0)
    return jn_tx_end(j, err);
  return 0;
}

int rd_journal_job_open(rd_journal *j, const char *runbook, const char *host,
                        const char *cert, int64_t *job_id, int *created) {
  int rc, err;
  jn_q *s;
  time_t now = time(NULL);
  if (!j || !job_id)
    return RD_EINVAL;
  if (!runbook)
    runbook = "";
  if ((err = jn_check_text(j, "runbook", runbook, sizeof ((rd_job_row *)0)->runbook, 1)) < 0 ||
      (err = jn_check_text(j, "host", host, sizeof ((rd_job_row *)0)->host, 0)) < 0 ||
      (err = jn_check_text(j, "cert", cert, sizeof ((rd_job_row *)0)->cert, 0)) < 0)
    return err;
  if ((err = jn_tx_begin(j, "job open")) < 0)
    return err;
  if (!(s = jn_stmt(j, S_JOB_ACTIVE, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, "job open"));
  jn_bind_text(s, 1, host);
  jn_bind_text(s, 2, cert);
  rc = jn_next(j, s);
  if (rc == JN_ROW) {
    *job_id = jn_col_int(s, 0);
    jn_done(s);
    if (created)
      *created = 0;
    return jn_tx_end(j, 0);
  }
  jn_done(s);
  if (rc != JN_DONE)
    return jn_tx_end(j, jn_dberr(j, rc, "job open"));
  if (!(s = jn_stmt(j, S_JOB_INSERT, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, "job open"));
  jn_bind_text(s, 1, runbook);
  jn_bind_text(s, 2, host);
  jn_bind_text(s, 3, cert);
  jn_bind_int(s, 4, now);
  int64_t id = 0;
  if ((rc = jn_next(j, s)) == JN_ROW)
    id = jn_col_int(s, 0);
  jn_done(s);
  if (rc != JN_ROW)
    return jn_tx_end(j, jn_dberr(j, rc, "job open"));
  if ((err = add_transition(j, id, -1, RD_JOB_DUE, "create", now, NULL)) < 0)
    return jn_tx_end(j, err);
  if ((err = jn_tx_end(j, 0)) < 0)
    return err;
  *job_id = id;
  if (created)
    *created = 1;
  return 0;
}

int rd_journal_job_advance(rd_journal *j, int64_t job_id, const rd_job_advance *a) {
  char what[64];
  rd_job_state from;
  int rc, err;
  jn_q *s;
  time_t now = time(NULL);
  if (!j || !a)
    return RD_EINVAL;
  if ((int)a->to < 0 || a->to >= RD_JOB_NSTATES)
    return jn_fail(j, RD_EINVAL, "job %lld: no such state %d", (long long)job_id, (int)a->to);
  if (a->kv && !json_is_object(a->kv))
    return jn_fail(j, RD_EINVAL, "job %lld: kv must be a JSON object", (long long)job_id);
  snprintf(what, sizeof what, "move to %s", rd_job_state_name(a->to));
  if ((err = jn_tx_begin_job(j, job_id, what, &from)) < 0)
    return err;
  if (a->fence && (err = jn_lease_fenced(j, a->fence)) < 0)
    return jn_tx_end(j, err);
  if (!rd_job_transition_ok(from, a->to))
    return jn_tx_end(j, jn_fail(j, RD_ESTATE, "job %lld: %s -> %s is not a legal transition%s",
                          (long long)job_id, rd_job_state_name(from),
                          rd_job_state_name(a->to),
                          rd_job_state_terminal(from) ? " (the job has ended)" : ""));
  if (!(s = jn_stmt(j, S_JOB_SET_STATE, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, "job state"));
  jn_bind_int(s, 1, job_id);
  jn_bind_text(s, 2, rd_job_state_name(a->to));
  jn_bind_int(s, 3, rd_job_state_terminal(a->to));
  jn_bind_int(s, 4, now);
  jn_bind_text(s, 5, a->error ? a->error : "");
  jn_bind_int(s, 6, a->next_try);
  if ((err = jn_step(j, s, "job state")) < 0)
    return jn_tx_end(j, err);
  if ((err = add_transition(j, job_id, (int)from, a->to, "transition", now, a->error)) < 0)
    return jn_tx_end(j, err);
  if (a->kv) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a->kv, key, v) {
      if ((err = jn_put_kv(j, job_id, key, v, now)) < 0)
        return jn_tx_end(j, err);
    }
  }
  if (a->step && (err = jn_put_step(j, job_id, a->step, now)) < 0)
    return jn_tx_end(j, err);
  return jn_tx_end(j, 0);
}

int rd_journal_job_set_state(rd_journal *j, int64_t job_id, rd_job_state to,
                             const char *error) {
  rd_job_advance a = {.to = to, .error = error};
  return rd_journal_job_advance(j, job_id, &a);
}

int rd_journal_job_set_next_try(rd_journal *j, int64_t job_id, time_t next_try) {
  rd_job_state st;
  int rc, err;
  jn_q *s;
  if (!j)
    return RD_EINVAL;
  if ((err = jn_tx_begin_job(j, job_id, "next try", &st)) < 0)
    return err;
  if (!(s = jn_stmt(j, S_JOB_NEXT_TRY, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, "next try"));
  jn_bind_int(s, 1, job_id);
  jn_bind_int(s, 2, next_try);
  jn_bind_int(s, 3, time(NULL));
  return jn_tx_end(j, jn_step(j, s, "next try"));
}

int rd_journal_job_retry(rd_journal *j, int64_t job_id, const char *error, time_t next_try) {
  rd_job_state st;
  int rc, err;
  jn_q *s;
  if (!j)
    return RD_EINVAL;
  if ((err = jn_tx_begin_job(j, job_id, "retry", &st)) < 0)
    return err;
  if (rd_job_state_terminal(st))
    return jn_tx_end(j, jn_fail(j, RD_ESTATE, "job %lld: cannot retry, it has ended in %s",
                          (long long)job_id, rd_job_state_name(st)));
  if (!(s = jn_stmt(j, S_JOB_RETRY, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, "retry"));
  jn_bind_int(s, 1, job_id);
  jn_bind_text(s, 2, error ? error : "");
  jn_bind_int(s, 3, next_try);
  jn_bind_int(s, 4, time(NULL));
  return jn_tx_end(j, jn_step(j, s, "retry"));
}

int rd_journal_job_resume(rd_journal *j, int64_t job_id, rd_job_state *state) {
  rd_job_state st, to;
  int rc, err;
  jn_q *s;
  time_t now = time(NULL);
  if (!j)
    return RD_EINVAL;
  if ((err = jn_tx_begin_job(j, job_id, "resume", &st)) < 0)
    return err;
  to = rd_job_resume_state(st);
  if (to != st) {
    if (!(s = jn_stmt(j, S_JOB_REWIND, &rc)))
      return jn_tx_end(j, jn_dberr(j, rc, "resume"));
    jn_bind_int(s, 1, job_id);
    jn_bind_text(s, 2, rd_job_state_name(to));
    jn_bind_int(s, 3, now);
    if ((err = jn_step(j, s, "resume")) < 0)
      return jn_tx_end(j, err);
    if ((err = add_transition(j, job_id, (int)st, to, "resume", now, NULL)) < 0)
      return jn_tx_end(j, err);
  }
  if ((err = jn_tx_end(j, 0)) < 0)
    return err;
  if (state)
    *state = to;
  return 0;
}

static int read_job(rd_journal *j, jn_q *s, void *row, int64_t unused) {
  rd_job_row *r = row;
  (void)unused;
  const char *state;
  int v;
  memset(r, 0, sizeof *r);
  r->id = jn_col_int(s, 0);
  jn_copy_col(r->runbook, sizeof r->runbook, s, 1);
  jn_copy_col(r->host, sizeof r->host, s, 2);
  jn_copy_col(r->cert, sizeof r->cert, s, 3);
  state = jn_col_text(s, 4);
  if ((v = rd_job_state_parse(state)) < 0)
    return jn_fail(j, RD_EPROTO, "job %lld: unknown state '%s'", (long long)r->id,
                state ? state : "");
  r->state = (rd_job_state)v;
  r->attempts = (int)jn_col_int(s, 5);
  r->created = (time_t)jn_col_int(s, 6);
  r->updated = (time_t)jn_col_int(s, 7);
  r->next_try = (time_t)jn_col_int(s, 8);
  jn_copy_col(r->error, sizeof r->error, s, 9);
  return 0;
}

/* The one row s selects, or RD_ENOTFOUND with message notfound. */
static int one_job(rd_journal *j, jn_q *s, rd_job_row *out, const char *what,
                   const char *notfound) {
  int err, rc = jn_next(j, s);
  if (rc == JN_ROW)
    err = read_job(j, s, out, 0);
  else if (rc == JN_DONE)
    err = jn_fail(j, RD_ENOTFOUND, "%s", notfound);
  else
    err = jn_dberr(j, rc, what);
  jn_done(s);
  return err;
}

int rd_journal_job_get(rd_journal *j, int64_t job_id, rd_job_row *out) {
  char nf[64];
  int rc;
  jn_q *s;
  if (!j || !out)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_JOB_GET, &rc)))
    return jn_dberr(j, rc, "job");
  jn_bind_int(s, 1, job_id);
  snprintf(nf, sizeof nf, "job %lld: not found", (long long)job_id);
  return one_job(j, s, out, "job", nf);
}

int rd_journal_job_last(rd_journal *j, const char *host, const char *cert, rd_job_row *out) {
  char nf[1024];
  int rc;
  jn_q *s;
  if (!j || !out || !host || !cert)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_JOB_LAST, &rc)))
    return jn_dberr(j, rc, "last job");
  jn_bind_text(s, 1, host);
  jn_bind_text(s, 2, cert);
  snprintf(nf, sizeof nf, "host %s cert %s: no job", host, cert);
  return one_job(j, s, out, "last job", nf);
}

int rd_journal_failures(rd_journal *j, const char *host, const char *cert, int *count) {
  int rc, n = 0;
  jn_q *s;
  if (!j || !host || !cert || !count)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_JOB_HISTORY, &rc)))
    return jn_dberr(j, rc, "failures");
  jn_bind_text(s, 1, host);
  jn_bind_text(s, 2, cert);
  while ((rc = jn_next(j, s)) == JN_ROW) {
    int st = rd_job_state_parse(jn_col_text(s, 0));
    if (st != RD_JOB_FAILED && st != RD_JOB_ROLLED_BACK)
      break;
    n++;
  }
  jn_done(s);
  if (rc != JN_ROW && rc != JN_DONE)
    return jn_dberr(j, rc, "failures");
  *count = n;
  return 0;
}

/* Collect the rows of a job query first, then visit: visitors may call the
 * journal (even the same query) without disturbing the statement. */
static int visit_jobs(rd_journal *j, int id, int64_t limit, rd_job_visit fn, void *arg) {
  jn_rows r = {.size = sizeof(rd_job_row)};
  int rc, err;
  jn_q *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, id, &rc)))
    return jn_dberr(j, rc, "jobs");
  if (id != S_JOBS_LATEST)
    jn_bind_int(s, 1, limit);
  err = jn_collect(j, s, "jobs", &r, read_job, 0);
  for (size_t i = 0; !err && i < r.n; i++)
    err = fn((const rd_job_row *)r.rows + i, arg);
  free(r.rows);
  return err;
}

int rd_journal_jobs(rd_journal *j, int active_only, size_t limit, rd_job_visit fn, void *arg) {
  /* "no limit" as a number both engines take (PostgreSQL refuses -1) */
  int64_t lim = limit == 0 || limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
  return visit_jobs(j, active_only ? S_JOBS_ACTIVE : S_JOBS_ALL, lim, fn, arg);
}

int rd_journal_jobs_latest(rd_journal *j, rd_job_visit fn, void *arg) {
  return visit_jobs(j, S_JOBS_LATEST, INT64_MAX, fn, arg);
}

static int read_transition(rd_journal *j, jn_q *s, void *row, int64_t job_id) {
  rd_transition_row *r = row;
  const char *from = jn_col_text(s, 1);
  int to = rd_job_state_parse(jn_col_text(s, 2));
  r->id = jn_col_int(s, 0);
  r->job_id = job_id;
  r->from = from ? rd_job_state_parse(from) : -1;
  if ((from && r->from < 0) || to < 0)
    return jn_fail(j, RD_EPROTO, "job %lld: history row %lld names an unknown state",
                   (long long)job_id, (long long)r->id);
  r->to = (rd_job_state)to;
  jn_copy_col(r->kind, sizeof r->kind, s, 3);
  r->at = (time_t)jn_col_int(s, 4);
  jn_copy_col(r->error, sizeof r->error, s, 5);
  return 0;
}

int rd_journal_transitions(rd_journal *j, int64_t job_id, rd_transition_visit fn, void *arg) {
  jn_rows r = {.size = sizeof(rd_transition_row)};
  int rc, err;
  jn_q *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_TR_LIST, &rc)))
    return jn_dberr(j, rc, "job history");
  jn_bind_int(s, 1, job_id);
  err = jn_collect(j, s, "job history", &r, read_transition, job_id);
  for (size_t i = 0; !err && i < r.n; i++)
    err = fn((const rd_transition_row *)r.rows + i, arg);
  free(r.rows);
  return err;
}
