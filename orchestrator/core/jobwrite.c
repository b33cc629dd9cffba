/* jobwrite.c — a plugin's journal writes (the host API's journal_put and
 * set_state) without blocking the event loop, their ABI unchanged.
 *
 * On PostgreSQL each write is queued on the journal's ordered asynchronous
 * calls (store/journal_async.c: the second connection, one call at a time
 * in the order asked, with the job's transitions and step records) and the
 * plugin gets 0 at once. Until every write asked before has committed,
 * the job holds what the step does outside renewd after it: its next
 * remote script and its next HTTP request wait here (rd_job_hold_call),
 * and its completion and the job's next transition, queued behind the
 * writes, commit after them. journal_get answers from the values still on
 * their way (j->pending_kv). A write that fails stops the job as a crash
 * at that write would (rd_job_journal_failed): the job's later writes in
 * the queue are not made, the held calls are answered with the failure,
 * never sent, and so is every call asked after. On SQLite the writes stay
 * synchronous (the queue refuses them: RD_ENOTSUP). */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "core/engine_int.h"
#include "host/batch.h"

/* key under s's certificate's name (several certificates in one job) */
static const char *key_of(const rd_step *s, const char *key, char *buf, size_t len) {
  if (!s->jprefix)
    return key;
  snprintf(buf, len, "%s/%s", s->jprefix, key);
  return buf;
}

/* The held calls go, in the order asked, while nothing is pending (err 0),
 * or all are answered with err. */
static void release_held(rd_job *j, int err) {
  rd_call *c;
  while ((c = j->held_head) && (err || !j->writes)) {
    if (!(j->held_head = c->held_next))
      j->held_tail = NULL;
    c->held_next = NULL;
    void (*release)(rd_call *c, int err) = c->release;
    c->release = NULL; /* held no more */
    if (err == RD_ECANCELED) /* the engine is being freed: nothing it reports counts */
      c->s->ignoring++;
    release(c, err);
    if (err == RD_ECANCELED)
      c->s->ignoring--;
  }
  if (err || !j->writes) /* with what the cork kept for them: one batch */
    rd_host_uncork_deferred(j, err);
}

/* One write committed, or failed (back on the loop). */
static void written(int err, const char *msg, void *arg) {
  rd_job *j = arg;
  /* RD_ECANCELED: rd_engine_free, every write of the job answered so */
  j->writes = err == RD_ECANCELED ? 0 : j->writes - 1;
  if (err && !j->writes_err) {
    j->writes_err = err;
    if (err != RD_ECANCELED) {
      rd_job_journal_failed(j, err); /* it then stops as a crash there would */
      if (err == RD_ESTATE && j->lease_epoch > 0)
        rd_lease_check(j); /* a fenced write: is the lease gone */
      if (!j->error[0])
        snprintf(j->error, sizeof j->error,
                 "host %s: journal: cannot record the job's progress: %s", j->t->name, msg);
    }
  }
  if (!j->writes) {
    json_decref(j->pending_kv);
    j->pending_kv = NULL;
  }
  release_held(j, j->writes_err);
}

/* One more write on its way: put's value (NULL: deleted) for journal_get. */
static void pending(rd_job *j, const char *key, const json_t *value) {
  j->writes++;
  if (!key)
    return;
  if (!j->pending_kv)
    j->pending_kv = json_object();
  json_object_set_new(j->pending_kv, key,
                      value && !json_is_null(value) ? json_deep_copy(value) : json_null());
}

/* What journal_get will answer for key: value (NULL or null: none). */
static void known(rd_job *j, const char *key, const json_t *value) {
  if (!j->kv_known && !(j->kv_known = json_object()))
    return;
  json_object_set_new(j->kv_known, key,
                      value && !json_is_null(value) ? json_deep_copy(value) : json_null());
}

/* key = value on the queue (0), or synchronously (*sync set: SQLite, or
 * the queue could not take it with nothing of the job before it). */
static int put_kv(rd_job *j, const char *key, const json_t *value, const rd_lease_fence *f,
                  int *sync) {
  int rc;
  *sync = 0;
  if (j->writes_err) /* nothing more once a write failed */
    return j->writes_err;
  rc = j->e->loop ? rd_journal_kv_put_async(j->e->journal, j->e->loop, j->id, key, value, f,
                                            written, j)
                  : RD_ENOTSUP;
  if (rc == 0) {
    pending(j, key, value);
    known(j, key, value);
    return 0;
  }
  if (j->writes)
    return rc;
  *sync = 1;
  if ((rc = rd_journal_kv_put_fenced(j->e->journal, j->id, key, value, f)) == 0)
    known(j, key, value);
  return rc;
}

int rd_job_write_kv(rd_job *j, const char *key, const json_t *value) {
  int sync;
  return put_kv(j, key, value, NULL, &sync);
}

int rd_job_journal_put(rd_step *s, const char *key, const json_t *value) {
  rd_job *j = s->j;
  rd_lease_fence fence;
  char k[512];
  int rc, sync;
  if (s->ignoring) /* a late callback records nothing */
    return RD_ECANCELED;
  key = key_of(s, key, k, sizeof k);
  if (j->id <= 0) /* whatif: memory only */
    return json_object_set_new(j->kv, key, json_deep_copy(value)) ? RD_ENOMEM : 0;
  /* fenced: nothing once another job took the host over */
  rc = put_kv(j, key, value, rd_lease_fence_of(j, &fence), &sync);
  if (sync)
    rd_job_journal_failed(j, rc); /* the job stops as a crash there would */
  return rc;
}

json_t *rd_job_journal_get(rd_step *s, const char *key) {
  rd_job *j = s->j;
  json_t *v = NULL;
  char k[512];
  key = key_of(s, key, k, sizeof k);
  if (j->id <= 0) {
    v = json_object_get(j->kv, key);
    return v ? json_incref(v) : NULL;
  }
  if ((v = json_object_get(j->pending_kv, key))) /* its own write, on its way */
    return json_is_null(v) ? NULL : json_incref(v);
  if ((v = json_object_get(j->kv_known, key))) /* learnt: the journal is not asked */
    return json_is_null(v) ? NULL : json_incref(v);
  if (j->kv_complete)
    return NULL;
  int rc = rd_journal_kv_get(j->e->journal, j->id, key, &v);
  if (rc && rc != RD_ENOTFOUND)
    return NULL; /* an error is not learnt: asked again next time */
  known(j, key, v); /* v NULL: there is none */
  return v;
}

int rd_job_write_state(rd_job *j, rd_job_state to) {
  rd_lease_fence fence;
  rd_job_advance a = {.to = to, .fence = rd_lease_fence_of(j, &fence)};
  int rc;
  if (j->writes_err)
    return j->writes_err;
  if (!j->e->loop)
    return RD_ENOTSUP;
  if ((rc = rd_journal_job_advance_async(j->e->journal, j->e->loop, j->id, &a, written, j)))
    return j->writes ? rc : RD_ENOTSUP; /* nothing before it: the caller commits */
  pending(j, NULL, NULL);
  return 0;
}

int rd_job_hold_call(rd_job *j, rd_call *c, void (*release)(rd_call *c, int err)) {
  if (j->writes_err)
    return j->writes_err;
  if (!j->writes)
    return 0;
  c->release = release;
  c->held_next = NULL;
  if (j->held_tail)
    j->held_tail->held_next = c;
  else
    j->held_head = c;
  j->held_tail = c;
  return 1;
}
