/* jobopen.c — a renewal's journal job opened, or an interrupted one
 * resumed, once its host's lease is held and before its first change.
 *
 * A new job (DUE) keeps the certificates it started from ("job.cert", even
 * after a crash that left the new one live) and its selection; an active
 * one found is resumed from its last committed state, its steps' probes
 * recognising what already took effect. Then PROBED (a job resumed in
 * ROLLING_BACK goes straight to its owed rollback). On PostgreSQL the
 * opening, the values' reads and the resume are one call off the loop
 * (rd_journal_job_open_async), the "job.cert" values are queued after it
 * (as a plugin's journal_put, core/jobwrite.c) and PROBED after them
 * (rd_job_move_then): the job waits, the other jobs go on. On SQLite the
 * same calls are synchronous. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/engine_int.h"

#define KEY_LEN 300

static void probed(rd_job *j) { j->opened(j, 0); }

static void not_probed(rd_job *j) { j->opened(j, RD_EIO); }

/* The opening's answer, the same from either path. */
static void job_opened(rd_job *j, int rc, const char *msg, const rd_job_opened *o) {
  if (rc) {
    snprintf(j->error, sizeof j->error, "host %s: journal: cannot open or resume a job: %s",
             j->t->name, msg);
    j->opened(j, rc);
    return;
  }
  j->id = o->id;
  json_object_set_new(j->report, "job_id", json_integer(j->id));
  if (o->created) {
    j->state = RD_JOB_DUE;
    j->kv_complete = 1; /* journal_get needs not ask (jobwrite.c) */
    for (size_t c = 0; c < j->ncerts; c++) {
      char key[KEY_LEN];
      rd_certs_kv_key(j, c, "job.cert", key, sizeof key);
      if (json_object_get(j->cfacts[c], "cert") &&
          (rc = rd_job_write_kv(j, key, json_object_get(j->cfacts[c], "cert")))) {
        j->opened(j, rc);
        return;
      }
    }
    if ((rc = rd_certs_selection_put(j))) {
      j->opened(j, rc);
      return;
    }
  } else {
    for (size_t c = 0; c < j->ncerts; c++)
      if (o->values[c]) {
        json_object_set(j->cfacts[c], "live_cert", json_object_get(j->cfacts[c], "cert"));
        json_object_set(j->cfacts[c], "cert", o->values[c]);
      }
    j->state = o->state;
    json_object_set_new(j->report, "resumed_from", json_string(rd_job_state_name(o->state)));
    rd_journal_audit(j->e->journal, "renewd", "job.resume", j->report);
    if (o->state == RD_JOB_ROLLING_BACK) { /* its rollback is owed */
      j->opened(j, 0);
      return;
    }
  }
  rd_job_move_then(j, RD_JOB_PROBED, NULL, 0, probed, not_probed);
}

static void opened_async(int err, const char *msg, const rd_job_opened *o, void *arg) {
  rd_job *j = arg;
  j->opening = 0;
  if (err == RD_ECANCELED) /* rd_engine_free: the job is left alone */
    return;
  job_opened(j, err, msg, o);
}

/* The same calls, synchronously (SQLite). */
static void open_sync(rd_job *j, const char *certid, char (*keys)[KEY_LEN]) {
  rd_journal *jn = j->e->journal;
  json_t **vals = calloc(j->ncerts ? j->ncerts : 1, sizeof *vals);
  rd_job_opened o = {.values = vals};
  int rc = vals ? 0 : RD_ENOMEM;
  if (!rc)
    rc = rd_journal_job_open(jn, j->rb->name, j->t->name, certid, &o.id, &o.created);
  for (size_t c = 0; !rc && !o.created && c < j->ncerts; c++)
    if (rd_journal_kv_get(jn, o.id, keys[c], &vals[c]))
      vals[c] = NULL;
  if (!rc && !o.created)
    rc = rd_journal_job_resume(jn, o.id, &o.state);
  job_opened(j, rc, rc == RD_ENOMEM ? rd_strerror(rc) : rd_journal_errmsg(jn), &o);
  for (size_t c = 0; vals && c < j->ncerts; c++)
    json_decref(vals[c]);
  free(vals);
}

void rd_job_open_journal(rd_job *j, void (*then)(rd_job *j, int rc)) {
  char certid[512];
  char (*keys)[KEY_LEN] = calloc(j->ncerts ? j->ncerts : 1, sizeof *keys);
  const char **kp = calloc(j->ncerts ? j->ncerts : 1, sizeof *kp);
  int rc = keys && kp ? RD_ENOTSUP : RD_ENOMEM;
  j->opened = then;
  rd_certs_id(j, certid, sizeof certid);
  for (size_t c = 0; keys && kp && c < j->ncerts; c++) {
    rd_certs_kv_key(j, c, "job.cert", keys[c], sizeof keys[c]);
    kp[c] = keys[c];
  }
  if (rc == RD_ENOTSUP && j->e->loop)
    rc = rd_journal_job_open_async(j->e->journal, j->e->loop, j->rb->name, j->t->name, certid,
                                   kp, j->ncerts, opened_async, j);
  if (rc == 0)
    j->opening = 1; /* the job waits for the answer */
  else if (rc == RD_ENOMEM)
    then(j, rc);
  else
    open_sync(j, certid, keys);
  free(keys);
  free(kp);
}
