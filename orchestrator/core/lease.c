/* lease.c — one job at a time changes a host (docs/JOURNAL.md, "Host
 * leases"). A due job claims its host's lease in the journal before its
 * first mutating step (rd_job_start_renewal) and releases it when it
 * finishes, whatever the outcome (rd_job_finish). Inside one engine a job
 * whose host is leased by another of its jobs waits for it (rd_engine_pump
 * skips it); a lease held by another process (a second `run`, `serve`)
 * makes the job end BUSY, nothing changed. While jobs hold leases, one
 * engine timer renews them every third of the TTL; a job of the engine that
 * probed a host while another job held its lease probes it again once it
 * holds the lease itself (rd_job_start_renewal), and so does a job whose
 * host's lease another process held since the engine was made (another
 * instance on a shared journal may have renewed it); a lease found taken over
 * (the process stalled past its expiry) stops its job before its next
 * remote action (rd_lease_lost). On PostgreSQL a beat renews every lease
 * of the engine without blocking the loop (rd_journal_lease_renew_async:
 * one statement on serve's work connection, else on the journal's second
 * connection off the loop); a beat still unanswered at the next tick lets
 * that tick pass. The claim and the release go to that second connection
 * too (rd_journal_lease_claim_async, _release_async): the job waits for
 * its claim's answer before its first change, and the run for the
 * release's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "core/engine_int.h"

/* $RENEWD_LEASE_TTL (seconds, 3 to 86400), else RD_LEASE_TTL_S. */
int rd_lease_ttl(void) {
  const char *v = getenv("RENEWD_LEASE_TTL");
  char *end;
  long n;
  if (!v || !*v)
    return RD_LEASE_TTL_S;
  n = strtol(v, &end, 10);
  return *end || n < 3 || n > 86400 ? RD_LEASE_TTL_S : (int)n;
}

static rd_lease_req lease_req(rd_job *j, const char *what) {
  rd_lease_req r = {.host = j->t->name, .owner = &j->e->lease_owner, .what = what,
                    .ttl_s = j->e->lease_ttl, .now = 0};
  return r;
}

/* "2024-05-01T11:05:00Z" */
static void iso(time_t t, char *buf, size_t len) {
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, len, "%lld", (long long)t);
}

int rd_lease_host_busy(const rd_engine *e, const rd_job *j) {
  for (const rd_job *q = e->jobs; q; q = q->next)
    if (q != j && (q->lease_epoch > 0 || q->lease_claiming) && !strcmp(q->t->name, j->t->name))
      return 1;
  return 0;
}

static int beating(const rd_job *j) { return j->lease_epoch > 0 && !j->lease_lost; }

/* A beat asked asynchronously: the jobs and the epochs it renews. */
typedef struct rd_lease_beat {
  rd_engine *e;
  size_t n;
  rd_job **jobs;
  int64_t *epochs;
  const char **hosts;
} rd_lease_beat;

static void beat_free(rd_lease_beat *b) {
  free(b->jobs);
  free(b->epochs);
  free(b->hosts);
  free(b);
}

/* As rd_journal_lease_renew words it. */
static void lost(rd_job *j, int64_t epoch) {
  char me[320], msg[1024];
  rd_lease_owner_id(&j->e->lease_owner, me, sizeof me);
  snprintf(msg, sizeof msg,
           "host %s: lease renewal: the lease of epoch %lld is no longer held by %s",
           j->t->name, (long long)epoch, me);
  j->lease_lost = 1;
  json_object_set_new(j->report, "lease_lost", json_string(msg));
}

/* A lease the beat did not renew was taken over or released: lost, unless
 * the job released it (or took another) meanwhile. An error: the next beat
 * retries (two more before the lease expires). The engine and its jobs are
 * still there: rd_lease_stop cancels a beat before they go, and a beat
 * cancelled by the connection's close (RD_ECANCELED) changes nothing. */
static void beat_answered(int err, const unsigned char *renewed, size_t n, void *arg) {
  rd_lease_beat *b = arg;
  if (b->e->beat == b)
    b->e->beat = NULL;
  for (size_t i = 0; !err && i < n; i++)
    if (!renewed[i] && b->jobs[i]->lease_epoch == b->epochs[i] && beating(b->jobs[i]))
      lost(b->jobs[i], b->epochs[i]);
  beat_free(b);
}

/* 0: asked (or nothing to renew); else the synchronous beat does it. */
static int beat_async(rd_engine *e) {
  rd_lease_beat *b;
  size_t n = 0;
  int rc;
  for (rd_job *j = e->jobs; j; j = j->next)
    n += beating(j);
  if (!n)
    return 0;
  if (!(b = calloc(1, sizeof *b)) || !(b->jobs = calloc(n, sizeof *b->jobs)) ||
      !(b->epochs = calloc(n, sizeof *b->epochs)) || !(b->hosts = calloc(n, sizeof *b->hosts))) {
    if (b)
      beat_free(b);
    return RD_ENOMEM;
  }
  b->e = e;
  for (rd_job *j = e->jobs; j; j = j->next)
    if (beating(j)) {
      b->jobs[b->n] = j;
      b->epochs[b->n] = j->lease_epoch;
      b->hosts[b->n++] = j->t->name;
    }
  rc = rd_journal_lease_renew_async(e->journal, e->loop, &e->lease_owner, e->lease_ttl, 0,
                                    b->hosts, b->epochs, b->n, beat_answered, b);
  if (rc) {
    beat_free(b);
    return rc;
  }
  e->beat = b;
  return 0;
}

static void heartbeat(uv_timer_t *t) {
  rd_engine *e = t->data;
  if (e->beat || beat_async(e) == 0)
    return; /* the last beat still unanswered (bounded: 3 s), or this one asked */
  for (rd_job *j = e->jobs; j; j = j->next) {
    if (!beating(j))
      continue;
    rd_lease_req r = lease_req(j, NULL);
    /* RD_EBUSY (the journal locked past its bound): the next beat retries,
     * two more before the lease expires */
    if (rd_journal_lease_renew(e->journal, &r, j->lease_epoch) == RD_ESTATE) {
      j->lease_lost = 1;
      json_object_set_new(j->report, "lease_lost",
                          json_string(rd_journal_errmsg(e->journal)));
    }
  }
}

static int heartbeat_start(rd_engine *e) {
  uint64_t every = (uint64_t)e->lease_ttl * 1000 / 3;
  if (e->lease_timer_on)
    return 0;
  if (uv_timer_init(e->loop, &e->lease_timer))
    return RD_EIO;
  e->lease_timer.data = e;
  e->lease_timer_on = 1;
  e->handles++; /* closed by rd_lease_stop */
  uv_timer_start(&e->lease_timer, heartbeat, every, every);
  return 0;
}

static void timer_closed(uv_handle_t *h) { rd_engine_handle_closed(h->data); }

void rd_lease_stop(rd_engine *e) {
  if (e->beat)
    rd_journal_async_cancel(e->journal, e->beat); /* beat_answered frees it */
  if (!e->lease_timer_on)
    return;
  e->lease_timer_on = 0;
  uv_timer_stop(&e->lease_timer);
  uv_close((uv_handle_t *)&e->lease_timer, timer_closed);
}

/* The holder, in the report ("busy") and the job's error. */
static void report_busy(rd_job *j, const rd_lease_row *h) {
  char since[32], until[32];
  iso(h->since, since, sizeof since);
  iso(h->expires, until, sizeof until);
  json_object_set_new(j->report, "busy",
                      json_pack("{s:s, s:s, s:s, s:s, s:I}", "holder", h->owner, "what", h->what,
                                "since", since, "until", until, "epoch", (json_int_t)h->epoch));
  snprintf(j->error, sizeof j->error,
           "host %s: busy: another job is changing it (%s, lease held by %s since %s); nothing "
           "was changed, run again later",
           j->t->name, h->what[0] ? h->what : "?", h->owner, since);
}

/* what, cut to the journal's column on a UTF-8 character boundary (a long
 * certificate selector must not keep the job from its lease). */
static void fit_what(char *dst, size_t len, const char *what) {
  size_t n = strlen(what);
  if (n >= len) {
    n = len - 1;
    while (n > 0 && ((unsigned char)what[n] & 0xC0) == 0x80)
      n--; /* what[n] starts the character that did not fit */
  }
  memcpy(dst, what, n);
  dst[n] = '\0';
}

/* Did another process hold the host's lease since this engine was made,
 * i.e. possibly change the host after this job's probe saw it? prev: the
 * row before the claim (NULL: none, or unreadable: then assume so unless
 * this is the host's first claim); epoch: the one the claim got. Another
 * instance on a shared journal (docs/SCALING.md) may have renewed the
 * certificate meanwhile: the issuer must sign for the live one. */
static int changed_elsewhere(const rd_job *j, const rd_lease_row *prev, int64_t epoch) {
  char me[320];
  if (!prev)
    return epoch != 1;
  if (epoch != prev->epoch + 1)
    return 1; /* another claim came between our read and our claim */
  rd_lease_owner_id(&j->e->lease_owner, me, sizeof me);
  return strcmp(prev->owner, me) && prev->expires >= j->e->lease_t0;
}

/* The claim's answer, the same from either path: 0 (the lease held, the
 * heartbeat on), RD_EBUSY (another holder: reported) or an error. */
static int taken(rd_job *j, int rc, const char *msg, const rd_lease_claim_answer *a) {
  rd_engine *e = j->e;
  if (rc == RD_EBUSY && a->holder.held) {
    report_busy(j, &a->holder);
    return RD_EBUSY;
  }
  if (rc) {
    /* the journal itself is busy (its lock), or worse: not taken, and the
     * host is not touched without it */
    snprintf(j->error, sizeof j->error, "host %s: journal: cannot take the host's lease: %s",
             j->t->name, msg);
    return rc == RD_EBUSY ? RD_EIO : rc;
  }
  j->lease_epoch = a->epoch;
  if (changed_elsewhere(j, a->have_prev ? &a->prev : NULL, a->epoch))
    j->lease_reprobe = 1; /* the inventory probe runs again under the lease */
  json_object_set_new(j->report, "lease", json_pack("{s:I}", "epoch", (json_int_t)a->epoch));
  if ((rc = heartbeat_start(e))) {
    rd_lease_release(j);
    snprintf(j->error, sizeof j->error, "host %s: cannot start the lease heartbeat", j->t->name);
    return rc;
  }
  return 0;
}

/* The claim committed off the loop (rd_lease_take). RD_ECANCELED: the
 * engine is being freed, the job is left alone. */
static void claimed(int err, const char *msg, const rd_lease_claim_answer *a, void *arg) {
  rd_job *j = arg;
  j->lease_claiming = 0;
  if (err == RD_ECANCELED)
    return;
  j->leased(j, taken(j, err, msg, a));
}

void rd_lease_take(rd_job *j, const char *what, void (*then)(rd_job *j, int rc)) {
  rd_engine *e = j->e;
  rd_lease_claim_answer a;
  char fitted[sizeof a.holder.what];
  int rc;
  if (!e->journal || e->opts.whatif || j->lease_epoch > 0) {
    then(j, 0); /* a remediation holds it already when it renews */
    return;
  }
  fit_what(fitted, sizeof fitted, what);
  rd_lease_req r = lease_req(j, fitted);
  j->leased = then;
  if (e->loop && rd_journal_lease_claim_async(e->journal, e->loop, &r, claimed, j) == 0) {
    j->lease_claiming = 1; /* the job (and its host, rd_lease_host_busy) waits */
    return;
  }
  memset(&a, 0, sizeof a); /* SQLite: synchronously */
  a.have_prev = rd_journal_lease_get(e->journal, j->t->name, &a.prev) == 0;
  rc = rd_journal_lease_claim(e->journal, &r, &a.epoch, &a.holder);
  then(j, taken(j, rc, rd_journal_errmsg(e->journal), &a));
}

/* The release committed off the loop: the run ends only after it. */
static void released(int err, const char *msg, void *arg) {
  rd_job *j = arg;
  j->lease_releasing--;
  if (err && err != RD_ECANCELED)
    json_object_set_new(j->report, "lease_release_error", json_string(msg));
  if (err == RD_ECANCELED) /* rd_engine_free: nothing more to end */
    j->e->handles--;
  else
    rd_engine_handle_closed(j->e);
}

void rd_lease_release(rd_job *j) {
  rd_engine *e = j->e;
  if (j->lease_epoch <= 0)
    return;
  rd_lease_req r = lease_req(j, NULL);
  /* a lease lost to a take-over is not ours to free; any other failure
   * leaves it to expire (the next claim after that takes it over). On
   * PostgreSQL off the loop: a claim of the host asked after it (another
   * job's, below) is committed after it */
  if (!j->lease_lost && e->loop &&
      rd_journal_lease_release_async(e->journal, e->loop, &r, j->lease_epoch, released, j) == 0) {
    j->lease_releasing++;
    e->handles++;
  } else if (!j->lease_lost && rd_journal_lease_release(e->journal, &r, j->lease_epoch)) {
    json_object_set_new(j->report, "lease_release_error",
                        json_string(rd_journal_errmsg(e->journal)));
  }
  j->lease_epoch = 0;
  /* jobs of this engine that probed the host meanwhile decided on what
   * this job may have changed: their probe runs again under the lease */
  for (rd_job *q = e->jobs; q; q = q->next)
    if (q != j && q->started && !q->wave_started && !q->finished &&
        !strcmp(q->t->name, j->t->name))
      q->lease_reprobe = 1;
}

const rd_lease_fence *rd_lease_fence_of(rd_job *j, rd_lease_fence *f) {
  if (j->lease_epoch <= 0)
    return NULL;
  f->host = j->t->name;
  f->owner = &j->e->lease_owner;
  f->epoch = j->lease_epoch;
  return f;
}

void rd_lease_check(rd_job *j) {
  rd_lease_row row;
  char me[320];
  if (j->lease_epoch <= 0 || j->lease_lost)
    return;
  rd_lease_owner_id(&j->e->lease_owner, me, sizeof me);
  if (rd_journal_lease_get(j->e->journal, j->t->name, &row) == 0 && row.held &&
      row.epoch == j->lease_epoch && !strcmp(row.owner, me))
    return; /* still ours: the write failed for another reason */
  j->lease_lost = 1;
  json_object_set_new(j->report, "lease_lost",
                      json_string(row.held ? row.owner : "released"));
}

int rd_lease_lost(rd_job *j) {
  if (!j->lease_lost || j->finished)
    return 0;
  snprintf(j->error, sizeof j->error,
           "host %s: the host's lease was taken over while the job ran (%s); stopped before "
           "its next change",
           j->t->name, json_string_value(json_object_get(j->report, "lease_lost")));
  return 1;
}

void rd_lease_init(rd_engine *e) {
  rd_lease_owner_self(&e->lease_owner);
  e->lease_t0 = time(NULL);
  e->lease_ttl = rd_lease_ttl();
}
