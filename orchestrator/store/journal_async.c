/* journal_async.c — a job's state transition without blocking the event
 * loop (journal.h: rd_journal_job_advance_async; docs/SCALING.md,
 * "Asynchronous journal calls"). On PostgreSQL the journal keeps a second
 * connection to its target, the twin, used only from libuv's thread pool,
 * one call at a time in the order asked: rd_journal_job_advance itself
 * runs there (the write lock, the fence, the legal-transition check, the
 * history row: one code path for both), bounded as every call
 * (lock_timeout, statement_timeout, the client's deadline), and its answer
 * comes back on the loop; a step's record (rd_journal_step_async) takes
 * the same queue, so it commits before any transition asked after it. The twin is opened by the first call, on the
 * pool's thread (a connection that takes long is not waited for on the
 * loop either). The host leases' heartbeat goes there too when the journal
 * has no work connection (`renewd run`): one renewal per lease, their
 * outcomes answered together. SQLite refuses (RD_ENOTSUP): its calls stay
 * synchronous. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "store/journal_int.h"

typedef struct jn_areq {
  uv_work_t w;
  struct jn_async *as;
  int64_t job_id;
  rd_job_state to;
  char *error;               /* owned; NULL: "" */
  time_t next_try;
  char *host;                /* the fence's host (owned), or NULL: none */
  rd_lease_owner owner;
  int64_t epoch;
  rd_job_advanced_fn cb;     /* a transition, or */
  rd_lease_renewed_fn leases; /* a heartbeat of nlease leases: */
  char **hosts;              /* owned */
  int64_t *epochs;           /* owned */
  unsigned char *renewed;    /* owned: its answer */
  size_t nlease;
  int ttl_s;
  time_t now;
  char *sname, *sphase, *smsg; /* a step record (owned; sname set: this is one) */
  int sstatus;
  double sms;
  json_t *sresult;           /* owned (a deep copy: only the pool's thread touches it) */
  char *kkey;                /* a kv put (owned; set: this is one) */
  json_t *kval;              /* owned deep copy, or NULL: the key deleted */
  int skip;                  /* an earlier write of its job failed: this one is not made */
  int lease;                 /* a lease's claim (LEASE_CLAIM) or release (LEASE_RELEASE) */
  char *lwhat;               /* the claim's what (owned) */
  rd_lease_claimed_fn claimed; /* the claim's answer: */
  rd_lease_claim_answer ans;
  rd_job_opened_fn opened;   /* a journal job's opening (open, values, resume): */
  char *orb, *ocert;         /* owned; its host in host */
  char **okeys;              /* owned, nlease of them */
  json_t **ovals;            /* owned: their values */
  rd_job_opened oans;
  void *arg;
  int err;
  int answered;              /* cancelled: its callback ran already */
  char msg[sizeof ((rd_journal *)0)->msg];
  struct jn_areq *next;
} jn_areq;

struct jn_async {
  uv_loop_t *loop;
  char *target;
  int busy_ms;
  rd_journal *twin;          /* NULL until the first call opens it */
  jn_areq *head, **tail;     /* head is on the pool while running */
  int running;
  int orphan;                /* its journal closed: freed once head returns */
};

static void req_free(jn_areq *q) {
  free(q->error);
  free(q->host);
  for (size_t i = 0; q->hosts && i < q->nlease; i++)
    free(q->hosts[i]);
  free(q->hosts);
  free(q->epochs);
  free(q->renewed);
  free(q->sname);
  free(q->sphase);
  free(q->smsg);
  json_decref(q->sresult);
  free(q->kkey);
  json_decref(q->kval);
  free(q->lwhat);
  free(q->orb);
  free(q->ocert);
  for (size_t i = 0; q->okeys && i < q->nlease; i++) {
    free(q->okeys[i]);
    json_decref(q->ovals[i]);
  }
  free(q->okeys);
  free(q->ovals);
  free(q);
}

/* Call q's callback: err, or (0) its outcome. */
static void respond(jn_areq *q, int err) {
  if (q->opened)
    q->opened(err, err ? q->msg : "", err == RD_ECANCELED ? NULL : &q->oans, q->arg);
  else if (q->claimed)
    q->claimed(err, err ? q->msg : "", err == RD_ECANCELED ? NULL : &q->ans, q->arg);
  else if (q->leases)
    q->leases(err, err ? NULL : q->renewed, q->nlease, q->arg);
  else
    q->cb(err, err ? q->msg : "", q->arg);
}

/* On the pool's thread: each lease renewed on the twin; RD_ESTATE (taken
 * over or released) is its answer, another error the whole beat's. */
static void renew_leases(rd_journal *twin, jn_areq *q) {
  for (size_t i = 0; !q->err && i < q->nlease; i++) {
    rd_lease_req r = {.host = q->hosts[i], .owner = &q->owner, .ttl_s = q->ttl_s, .now = q->now};
    int rc = rd_journal_lease_renew(twin, &r, q->epochs[i]);
    q->renewed[i] = rc == 0;
    if (rc && rc != RD_ESTATE)
      q->err = rc;
  }
}

enum { LEASE_CLAIM = 1, LEASE_RELEASE };

/* On the pool's thread: a lease claimed (with the row before) or released. */
static void lease_call(rd_journal *twin, jn_areq *q) {
  rd_lease_req r = {.host = q->host, .owner = &q->owner, .what = q->lwhat, .ttl_s = q->ttl_s,
                    .now = q->now};
  if (q->lease == LEASE_RELEASE) {
    q->err = rd_journal_lease_release(twin, &r, q->epoch);
  } else {
    q->ans.have_prev = rd_journal_lease_get(twin, q->host, &q->ans.prev) == 0;
    q->err = rd_journal_lease_claim(twin, &r, &q->ans.epoch, &q->ans.holder);
  }
  if (q->err)
    snprintf(q->msg, sizeof q->msg, "%s", rd_journal_errmsg(twin));
}

/* On the pool's thread: a journal job opened; an active one's values
 * read (one not found: NULL) and the job resumed. */
static void job_open(rd_journal *twin, jn_areq *q) {
  q->err = rd_journal_job_open(twin, q->orb, q->host, q->ocert, &q->oans.id, &q->oans.created);
  for (size_t i = 0; !q->err && !q->oans.created && i < q->nlease; i++) {
    int rc = rd_journal_kv_get(twin, q->oans.id, q->okeys[i], &q->ovals[i]);
    if (rc && rc != RD_ENOTFOUND)
      q->err = rc;
  }
  if (!q->err && !q->oans.created)
    q->err = rd_journal_job_resume(twin, q->oans.id, &q->oans.state);
  q->oans.values = q->ovals;
  if (q->err)
    snprintf(q->msg, sizeof q->msg, "%s", rd_journal_errmsg(twin));
}

static void as_free(struct jn_async *as) {
  rd_journal_close(as->twin);
  free(as->target);
  free(as);
}

/* On the pool's thread: only q and the twin are touched. */
static void run(uv_work_t *w) {
  jn_areq *q = w->data;
  struct jn_async *as = q->as;
  rd_lease_fence f = {.host = q->host, .owner = &q->owner, .epoch = q->epoch};
  rd_job_advance a = {.to = q->to, .error = q->error, .next_try = q->next_try,
                      .fence = q->host ? &f : NULL};
  if (!as->twin) {
    q->err = rd_journal_open_ex(as->target, RD_JOURNAL_MUST_EXIST, &as->twin, q->msg,
                                sizeof q->msg);
    if (!q->err)
      q->err = rd_journal_set_busy_timeout(as->twin, as->busy_ms);
    if (q->err) {
      if (as->twin)
        snprintf(q->msg, sizeof q->msg, "%s", rd_journal_errmsg(as->twin));
      rd_journal_close(as->twin);
      as->twin = NULL;
      return;
    }
  }
  if (q->leases) {
    renew_leases(as->twin, q);
    return;
  }
  if (q->lease) {
    lease_call(as->twin, q);
    return;
  }
  if (q->opened) {
    job_open(as->twin, q);
    return;
  }
  if (q->skip) { /* answered with the failure before it (ran) */
    q->err = q->skip;
    return;
  }
  if (q->kkey) {
    if ((q->err = rd_journal_kv_put_fenced(as->twin, q->job_id, q->kkey, q->kval,
                                           q->host ? &f : NULL)) < 0)
      snprintf(q->msg, sizeof q->msg, "%s", rd_journal_errmsg(as->twin));
    return;
  }
  if (q->sname) {
    rd_step_record rec = {q->sname, q->sphase, q->sstatus, q->sms, q->sresult, q->smsg};
    if ((q->err = rd_journal_step(as->twin, q->job_id, &rec)) < 0)
      snprintf(q->msg, sizeof q->msg, "%s", rd_journal_errmsg(as->twin));
    return;
  }
  if ((q->err = rd_journal_job_advance(as->twin, q->job_id, &a)) < 0)
    snprintf(q->msg, sizeof q->msg, "%s", rd_journal_errmsg(as->twin));
}

static void ran(uv_work_t *w, int status);

static void send_next(struct jn_async *as) {
  if (as->running || !as->head)
    return;
  as->running = 1;
  as->head->w.data = as->head;
  if (uv_queue_work(as->loop, &as->head->w, run, ran)) {
    /* never (uv_queue_work refuses only a NULL work_cb): answered at once */
    as->head->err = RD_EIO;
    snprintf(as->head->msg, sizeof as->head->msg, "cannot queue the journal call");
    ran(&as->head->w, 0);
  }
}

/* q failed (the journal, not a refusal: RD_ESTATE is the state machine's
 * or the fence's, which check each call on its own): the later writes of
 * its job are not made (as after a crash at q), each answered with q's
 * failure. */
static void skip_after(jn_areq *q) {
  if (!q->err || q->err == RD_ECANCELED || q->err == RD_ESTATE || q->leases || q->job_id <= 0)
    return;
  for (jn_areq *p = q->next; p; p = p->next)
    if (!p->leases && p->job_id == q->job_id && p->arg == q->arg && !p->skip) {
      p->skip = q->err;
      snprintf(p->msg, sizeof p->msg, "not written after an earlier write failed: %.900s",
               q->msg);
    }
}

/* Back on the loop. */
static void ran(uv_work_t *w, int status) {
  jn_areq *q = w->data;
  struct jn_async *as = q->as;
  skip_after(q);
  as->running = 0;
  as->head = q->next;
  if (!as->head)
    as->tail = &as->head;
  if (status == UV_ECANCELED)
    q->err = RD_ECANCELED;
  if (!q->answered)
    respond(q, q->err);
  req_free(q);
  if (as->orphan && !as->head)
    as_free(as);
  else
    send_next(as);
}

/* j's twin queue, on loop (made at its first call): NULL with *err. */
static struct jn_async *queue_of(rd_journal *j, uv_loop_t *loop, int *err) {
  struct jn_async *as = j->async;
  *err = 0;
  if (j->drv != &jn_pg_driver) {
    *err = RD_ENOTSUP;
    return NULL;
  }
  if (!as) {
    if (!(as = calloc(1, sizeof *as)) || !(as->target = strdup(j->target))) {
      free(as);
      *err = RD_ENOMEM;
      return NULL;
    }
    as->tail = &as->head;
    j->async = as;
  }
  if (as->head && as->loop != loop) {
    *err = RD_EINVAL; /* one loop at a time */
    return NULL;
  }
  as->loop = loop;
  as->busy_ms = j->busy_ms;
  return as;
}

static void enqueue(struct jn_async *as, jn_areq *q) {
  q->as = as;
  *as->tail = q;
  as->tail = &q->next;
  send_next(as);
}

int jn_async_lease_renew(rd_journal *j, struct uv_loop_s *loop, const rd_lease_owner *owner,
                         int ttl_s, time_t now, const char *const *hosts, const int64_t *epochs,
                         size_t n, rd_lease_renewed_fn cb, void *arg) {
  struct jn_async *as;
  jn_areq *q;
  int err;
  if (!loop)
    return RD_ENOTSUP;
  if (!(as = queue_of(j, loop, &err)))
    return err;
  if (!(q = calloc(1, sizeof *q)) || !(q->hosts = calloc(n, sizeof *q->hosts)) ||
      !(q->epochs = calloc(n, sizeof *q->epochs)) || !(q->renewed = calloc(n, 1))) {
    if (q)
      req_free(q);
    return RD_ENOMEM;
  }
  q->nlease = n;
  for (size_t i = 0; i < n; i++) {
    if (!(q->hosts[i] = strdup(hosts[i]))) {
      req_free(q);
      return RD_ENOMEM;
    }
    q->epochs[i] = epochs[i];
  }
  q->owner = *owner;
  q->ttl_s = ttl_s;
  q->now = now;
  q->leases = cb;
  q->arg = arg;
  enqueue(as, q);
  return 0;
}

/* A claim (cb: claimed) or a release (cb: released) of r's lease. */
static int lease_async(rd_journal *j, struct uv_loop_s *loop, const rd_lease_req *r, int kind,
                       int64_t epoch, rd_lease_claimed_fn claimed, rd_job_advanced_fn released,
                       void *arg) {
  struct jn_async *as;
  jn_areq *q;
  int err;
  if (!j || !loop || !r || !r->host || !r->owner || (!claimed && !released))
    return RD_EINVAL;
  if (!(as = queue_of(j, loop, &err)))
    return err;
  if (!(q = calloc(1, sizeof *q)) || !(q->host = strdup(r->host)) ||
      !(q->lwhat = strdup(r->what ? r->what : ""))) {
    if (q)
      req_free(q);
    return RD_ENOMEM;
  }
  q->lease = kind;
  q->owner = *r->owner;
  q->ttl_s = r->ttl_s;
  q->now = r->now;
  q->epoch = epoch;
  q->claimed = claimed;
  q->cb = released;
  q->arg = arg;
  enqueue(as, q);
  return 0;
}

int rd_journal_lease_claim_async(rd_journal *j, struct uv_loop_s *loop, const rd_lease_req *r,
                                 rd_lease_claimed_fn cb, void *arg) {
  return lease_async(j, loop, r, LEASE_CLAIM, 0, cb, NULL, arg);
}

int rd_journal_lease_release_async(rd_journal *j, struct uv_loop_s *loop, const rd_lease_req *r,
                                   int64_t epoch, rd_job_advanced_fn cb, void *arg) {
  return lease_async(j, loop, r, LEASE_RELEASE, epoch, NULL, cb, arg);
}

int rd_journal_job_open_async(rd_journal *j, struct uv_loop_s *loop, const char *runbook,
                              const char *host, const char *cert, const char *const *keys,
                              size_t n, rd_job_opened_fn cb, void *arg) {
  struct jn_async *as;
  jn_areq *q;
  int err;
  if (!j || !loop || !runbook || !host || !cert || (n && !keys) || !cb)
    return RD_EINVAL;
  if (!(as = queue_of(j, loop, &err)))
    return err;
  if (!(q = calloc(1, sizeof *q)) || !(q->orb = strdup(runbook)) || !(q->host = strdup(host)) ||
      !(q->ocert = strdup(cert)) || (n && !(q->okeys = calloc(n, sizeof *q->okeys))) ||
      (n && !(q->ovals = calloc(n, sizeof *q->ovals)))) {
    if (q)
      req_free(q);
    return RD_ENOMEM;
  }
  q->nlease = n;
  for (size_t i = 0; i < n; i++)
    if (!(q->okeys[i] = strdup(keys[i]))) {
      req_free(q);
      return RD_ENOMEM;
    }
  q->opened = cb;
  q->arg = arg;
  enqueue(as, q);
  return 0;
}

/* q takes a copy of fence (none: q->host stays NULL); RD_ENOMEM */
static int fence_copy(jn_areq *q, const rd_lease_fence *fence) {
  if (!fence)
    return 0;
  if (!(q->host = strdup(fence->host ? fence->host : "")))
    return RD_ENOMEM;
  q->owner = *fence->owner;
  q->epoch = fence->epoch;
  return 0;
}

int rd_journal_job_advance_async(rd_journal *j, struct uv_loop_s *loop, int64_t job_id,
                                 const rd_job_advance *a, rd_job_advanced_fn cb, void *arg) {
  struct jn_async *as;
  jn_areq *q;
  int err;
  if (!j || !loop || !a || !cb || a->kv || a->step)
    return RD_EINVAL;
  if (!(as = queue_of(j, loop, &err)))
    return err;
  if (!(q = calloc(1, sizeof *q)) || (a->error && !(q->error = strdup(a->error))) ||
      fence_copy(q, a->fence)) {
    if (q)
      req_free(q);
    return RD_ENOMEM;
  }
  q->job_id = job_id;
  q->to = a->to;
  q->next_try = a->next_try;
  q->cb = cb;
  q->arg = arg;
  enqueue(as, q);
  return 0;
}

int rd_journal_kv_put_async(rd_journal *j, struct uv_loop_s *loop, int64_t job_id,
                            const char *key, const json_t *value, const rd_lease_fence *fence,
                            rd_job_advanced_fn cb, void *arg) {
  struct jn_async *as;
  jn_areq *q;
  int err;
  if (!j || !loop || !key || !*key || !cb)
    return RD_EINVAL;
  if (!(as = queue_of(j, loop, &err)))
    return err;
  if (!(q = calloc(1, sizeof *q)) || !(q->kkey = strdup(key)) ||
      (value && !json_is_null(value) && !(q->kval = json_deep_copy(value))) ||
      fence_copy(q, fence)) {
    if (q)
      req_free(q);
    return RD_ENOMEM;
  }
  q->job_id = job_id;
  q->cb = cb;
  q->arg = arg;
  enqueue(as, q);
  return 0;
}

int rd_journal_step_async(rd_journal *j, struct uv_loop_s *loop, int64_t job_id,
                          const rd_step_record *rec, rd_job_advanced_fn cb, void *arg) {
  struct jn_async *as;
  jn_areq *q;
  int err;
  if (!j || !loop || !rec || !rec->step || !rec->phase || !cb)
    return RD_EINVAL;
  if (!(as = queue_of(j, loop, &err)))
    return err;
  if (!(q = calloc(1, sizeof *q)) || !(q->sname = strdup(rec->step)) ||
      !(q->sphase = strdup(rec->phase)) || (rec->message && !(q->smsg = strdup(rec->message))) ||
      (rec->result && !(q->sresult = json_deep_copy(rec->result)))) {
    if (q)
      req_free(q);
    return RD_ENOMEM;
  }
  q->job_id = job_id;
  q->sstatus = rec->status;
  q->sms = rec->ms;
  q->cb = cb;
  q->arg = arg;
  enqueue(as, q);
  return 0;
}

/* Answer RD_ECANCELED every call of arg (all: every call) now; the one
 * running on the pool is answered, its answer dropped when it returns. */
static void cancel(struct jn_async *as, int all, const void *arg) {
  jn_areq **pp;
  for (pp = &as->head; *pp;) {
    jn_areq *q = *pp;
    int running = q == as->head && as->running;
    if ((!all && q->arg != arg) || (q->answered && running)) {
      pp = &q->next;
      continue;
    }
    if (!q->answered) {
      q->answered = 1;
      respond(q, RD_ECANCELED);
    }
    if (running) {
      pp = &q->next;
      continue;
    }
    *pp = q->next;
    req_free(q);
  }
  as->tail = pp;
}

void jn_async_cancel(rd_journal *j, const void *arg) {
  if (j->async)
    cancel(j->async, 0, arg);
}

/* The transitions here, the backend's calls (the lease heartbeat on
 * PostgreSQL's work connection) there. */
void rd_journal_async_cancel(rd_journal *j, const void *arg) {
  if (!j)
    return;
  jn_async_cancel(j, arg);
  if (j->drv->async_cancel)
    j->drv->async_cancel(j, arg);
}

void jn_async_close(rd_journal *j) {
  struct jn_async *as = j->async;
  if (!as)
    return;
  j->async = NULL;
  cancel(as, 1, NULL);
  if (as->running)
    as->orphan = 1; /* ran() frees it: the loop must run once more */
  else
    as_free(as);
}
