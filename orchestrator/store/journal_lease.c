/* journal_lease.c — host leases (journal.h; docs/JOURNAL.md, "Host
 * leases"): one job at a time changes a host, across runbooks, renewd
 * processes and serve. A lease row per host: who holds it (node, pid, the
 * process's start time), until when, and a fencing epoch that grows at
 * every claim. Every change is one BEGIN IMMEDIATE transaction, so two
 * processes claiming the same host at once serialise on the write lock and
 * exactly one wins. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "store/journal_int.h"

/* ---- owners ------------------------------------------------------------ */

/* Field 22 of /proc/PID/stat (starttime, clock ticks after boot); 0 when it
 * cannot be read. The command name (field 2) may hold spaces and ')', so
 * the fields are counted after its last ')'. */
static long long proc_start(long pid) {
  char path[64], buf[1024];
  FILE *f;
  size_t n;
  long long start = 0;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (!(f = fopen(path, "re")))
    return 0;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p)
    return 0;
  /* p: the space before field `field` (3 is the first after ") ") */
  for (int field = 3; p && field <= 22; field++)
    p = strchr(p + 1, ' ');
  if (p)
    start = strtoll(p + 1, NULL, 10);
  return start;
}

void rd_lease_owner_self(rd_lease_owner *o) {
  memset(o, 0, sizeof *o);
  if (gethostname(o->node, sizeof o->node - 1) != 0 || !o->node[0])
    snprintf(o->node, sizeof o->node, "localhost");
  o->pid = (long)getpid();
  o->start = proc_start(o->pid);
}

void rd_lease_owner_id(const rd_lease_owner *o, char *buf, size_t len) {
  snprintf(buf, len, "%s:%ld:%lld", o->node, o->pid, o->start);
}

int rd_lease_owner_dead(const rd_lease_owner *o) {
  rd_lease_owner me;
  rd_lease_owner_self(&me);
  if (strcmp(o->node, me.node) || o->pid <= 0)
    return 0; /* another machine's process: only its expiry tells */
  if (kill((pid_t)o->pid, 0) != 0 && errno == ESRCH)
    return 1;
  /* the pid runs, but is it still the holder? (a pid reused after a crash) */
  return o->start != 0 && proc_start(o->pid) != o->start;
}

/* ---- rows -------------------------------------------------------------- */

static int read_lease(rd_journal *j, jn_q *s, void *row, int64_t ctx) {
  rd_lease_row *r = row;
  (void)j;
  (void)ctx;
  jn_copy_col(r->host, sizeof r->host, s, 0);
  r->held = (int)jn_col_int(s, 1);
  jn_copy_col(r->owner, sizeof r->owner, s, 2);
  jn_copy_col(r->by.node, sizeof r->by.node, s, 3);
  r->by.pid = (long)jn_col_int(s, 4);
  r->by.start = (long long)jn_col_int(s, 5);
  jn_copy_col(r->what, sizeof r->what, s, 6);
  r->since = (time_t)jn_col_int(s, 7);
  r->expires = (time_t)jn_col_int(s, 8);
  r->epoch = (int64_t)jn_col_int(s, 9);
  return 0;
}

/* The row of host into *out: 0, RD_ENOTFOUND, or an error. */
static int lease_row(rd_journal *j, const char *host, rd_lease_row *out) {
  int rc, err;
  jn_q *s = jn_stmt(j, S_LEASE_GET, &rc);
  if (!s)
    return jn_dberr(j, rc, "lease");
  jn_bind_text(s, 1, host);
  memset(out, 0, sizeof *out);
  rc = jn_next(j, s);
  if (rc == JN_ROW)
    err = read_lease(j, s, out, 0);
  else if (rc == JN_DONE)
    err = RD_ENOTFOUND;
  else
    err = jn_dberr(j, rc, "lease");
  jn_done(s);
  return err;
}

static int check_req(rd_journal *j, const rd_lease_req *r) {
  int err;
  if (!r || !r->owner || r->ttl_s <= 0)
    return jn_fail(j, RD_EINVAL, "lease: missing owner or ttl");
  if ((err = jn_check_text(j, "lease host", r->host, sizeof ((rd_lease_row *)0)->host, 0)) < 0 ||
      (err = jn_check_text(j, "lease holder", r->what ? r->what : "",
                           sizeof ((rd_lease_row *)0)->what, 1)) < 0 ||
      (err = jn_check_text(j, "lease owner node", r->owner->node, sizeof r->owner->node, 0)) < 0)
    return err;
  return 0;
}

static time_t req_now(const rd_lease_req *r) { return r->now ? r->now : time(NULL); }

/* The audit row of a lease event, in the caller's transaction. */
static int lease_audit(rd_journal *j, const char *event, const rd_lease_req *r, int64_t epoch,
                       const rd_lease_row *prev, time_t now) {
  char owner[320];
  json_t *d;
  int err;
  rd_lease_owner_id(r->owner, owner, sizeof owner);
  d = json_pack("{s:s, s:s, s:s, s:I, s:I}", "host", r->host, "owner", owner, "what",
                r->what ? r->what : "", "epoch", (json_int_t)epoch, "expires",
                (json_int_t)(now + r->ttl_s));
  if (!d)
    return jn_fail(j, RD_ENOMEM, "lease %s: out of memory", r->host);
  if (prev)
    json_object_set_new(d, "previous",
                        json_pack("{s:s, s:s, s:I, s:I}", "owner", prev->owner, "what",
                                  prev->what, "epoch", (json_int_t)prev->epoch, "expires",
                                  (json_int_t)prev->expires));
  err = jn_put_audit(j, "renewd", event, d, now);
  json_decref(d);
  return err;
}

static int same_owner(const rd_lease_row *row, const rd_lease_owner *o) {
  return !strcmp(row->by.node, o->node) && row->by.pid == o->pid && row->by.start == o->start;
}

int rd_journal_lease_claim(rd_journal *j, const rd_lease_req *r, int64_t *epoch,
                           rd_lease_row *holder) {
  rd_lease_row cur, prev;
  int takeover = 0;
  char owner[320];
  jn_q *s;
  time_t now;
  int rc, err;
  if (!j || !epoch)
    return RD_EINVAL;
  if ((err = check_req(j, r)) < 0)
    return err;
  now = req_now(r);
  if ((err = jn_tx_begin(j, "lease claim")) < 0)
    return err;
  err = lease_row(j, r->host, &prev);
  cur = prev;
  if (err == RD_ENOTFOUND)
    err = 0;
  else if (err == 0 && cur.held) {
    /* a live holder (even this owner: one job per host) keeps the host */
    if (same_owner(&cur, r->owner) || (cur.expires > now && !rd_lease_owner_dead(&cur.by))) {
      if (holder)
        *holder = cur;
      jn_tx_rollback(j);
      return jn_fail(j, RD_EBUSY, "host %s: leased by %s (%s) since %lld, until %lld", r->host,
                     cur.owner, cur.what, (long long)cur.since, (long long)cur.expires);
    }
    takeover = 1; /* expired, or its holder died on this machine */
  }
  if (err < 0)
    return jn_tx_end(j, err);
  if (!(s = jn_stmt(j, S_LEASE_TAKE, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, "lease claim"));
  rd_lease_owner_id(r->owner, owner, sizeof owner);
  jn_bind_text(s, 1, r->host);
  jn_bind_text(s, 2, owner);
  jn_bind_text(s, 3, r->owner->node);
  jn_bind_int(s, 4, r->owner->pid);
  jn_bind_int(s, 5, r->owner->start);
  jn_bind_text(s, 6, r->what ? r->what : "");
  jn_bind_int(s, 7, now);
  jn_bind_int(s, 8, (now + r->ttl_s));
  if ((err = jn_step(j, s, "lease claim")) < 0 || (err = lease_row(j, r->host, &cur)) < 0 ||
      (err = lease_audit(j, takeover ? "lease.takeover" : "lease.claim", r, cur.epoch,
                         takeover ? &prev : NULL, now)) < 0)
    return jn_tx_end(j, err);
  *epoch = cur.epoch;
  return jn_tx_end(j, 0);
}

/* Renew or release: one conditional UPDATE on (host, owner, epoch). */
static int lease_update(rd_journal *j, int id, const rd_lease_req *r, int64_t epoch,
                        const char *what) {
  char owner[320];
  jn_q *s;
  time_t now;
  int rc, err;
  if (!j)
    return RD_EINVAL;
  if ((err = check_req(j, r)) < 0)
    return err;
  now = req_now(r);
  rd_lease_owner_id(r->owner, owner, sizeof owner);
  if ((err = jn_tx_begin(j, what)) < 0)
    return err;
  if (!(s = jn_stmt(j, id, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, what));
  jn_bind_text(s, 1, r->host);
  jn_bind_text(s, 2, owner);
  jn_bind_int(s, 3, epoch);
  jn_bind_int(s, 4, (id == S_LEASE_RENEW ? now + r->ttl_s : now));
  if ((err = jn_step(j, s, what)) < 0)
    return jn_tx_end(j, err);
  if (jn_changes(j) != 1)
    return jn_tx_end(j, jn_fail(j, RD_ESTATE,
                                "host %s: %s: the lease of epoch %lld is no longer held by %s",
                                r->host, what, (long long)epoch, owner));
  if (id == S_LEASE_FREE && (err = lease_audit(j, "lease.release", r, epoch, NULL, now)) < 0)
    return jn_tx_end(j, err);
  return jn_tx_end(j, 0);
}

int rd_journal_lease_renew(rd_journal *j, const rd_lease_req *r, int64_t epoch) {
  return lease_update(j, S_LEASE_RENEW, r, epoch, "lease renewal");
}

int rd_journal_lease_release(rd_journal *j, const rd_lease_req *r, int64_t epoch) {
  int err = lease_update(j, S_LEASE_FREE, r, epoch, "lease release");
  if (!err && j->drv->lease_released)
    j->drv->lease_released(j, r->host); /* the backend may wake who waits for it */
  return err;
}

int rd_journal_lease_renew_async(rd_journal *j, struct uv_loop_s *loop,
                                 const rd_lease_owner *owner, int ttl_s, time_t now,
                                 const char *const *hosts, const int64_t *epochs, size_t n,
                                 rd_lease_renewed_fn cb, void *arg) {
  char id[320];
  int rc;
  if (!j || !owner || ttl_s <= 0 || !n || !hosts || !epochs || !cb)
    return RD_EINVAL;
  if (!j->drv->lease_renew_async)
    return RD_ENOTSUP;
  now = now ? now : time(NULL);
  rd_lease_owner_id(owner, id, sizeof id);
  rc = j->drv->lease_renew_async(j, id, ttl_s, now, hosts, epochs, n, cb, arg);
  if (rc != RD_ENOTSUP && rc != RD_ENETWORK)
    return rc;
  /* no work connection (`renewd run`), or it is down: the second one */
  return jn_async_lease_renew(j, loop, owner, ttl_s, now, hosts, epochs, n, cb, arg);
}

int jn_lease_fenced(rd_journal *j, const rd_lease_fence *f) {
  rd_lease_row row;
  char owner[320];
  int err;
  if (!f->host || !f->owner)
    return jn_fail(j, RD_EINVAL, "lease fence: missing host or owner");
  rd_lease_owner_id(f->owner, owner, sizeof owner);
  err = lease_row(j, f->host, &row);
  if (err == 0 && row.held && row.epoch == f->epoch && same_owner(&row, f->owner))
    return 0;
  if (err < 0 && err != RD_ENOTFOUND)
    return err;
  return jn_fail(j, RD_ESTATE, "host %s: the lease of epoch %lld is no longer held by %s%s%s",
                 f->host, (long long)f->epoch, owner, err == 0 && row.held ? "; now: " : "",
                 err == 0 && row.held ? row.owner : "");
}

int rd_journal_lease_get(rd_journal *j, const char *host, rd_lease_row *out) {
  int err;
  if (!j || !out)
    return RD_EINVAL;
  if ((err = jn_check_text(j, "lease host", host, sizeof out->host, 0)) < 0)
    return err;
  err = lease_row(j, host, out);
  return err == RD_ENOTFOUND ? jn_fail(j, err, "host %s: no lease", host) : err;
}

int rd_journal_leases(rd_journal *j, int held_only, rd_lease_visit fn, void *arg) {
  jn_rows r = {.size = sizeof(rd_lease_row)};
  const rd_lease_row *rows;
  int rc, err;
  jn_q *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_LEASE_LIST, &rc)))
    return jn_dberr(j, rc, "leases");
  jn_bind_int(s, 1, held_only ? 1 : 0);
  err = jn_collect(j, s, "leases", &r, read_lease, 0);
  rows = r.rows;
  for (size_t i = 0; !err && i < r.n; i++)
    err = fn(&rows[i], arg);
  free(r.rows);
  return err;
}

int rd_journal_lease_counts(rd_journal *j, time_t now, const char *owner, rd_lease_counts *out) {
  int rc;
  jn_q *s;
  if (!j || !out)
    return RD_EINVAL;
  memset(out, 0, sizeof *out);
  if (!(s = jn_stmt(j, S_LEASE_COUNTS, &rc)))
    return jn_dberr(j, rc, "lease counts");
  jn_bind_int(s, 1, now);
  jn_bind_text(s, 2, owner ? owner : "");
  if ((rc = jn_next(j, s)) == JN_ROW) {
    out->held = jn_col_int(s, 0);
    out->expired = jn_col_int(s, 1);
    out->mine = jn_col_int(s, 2);
  }
  jn_done(s);
  if (rc != JN_ROW)
    return jn_dberr(j, rc, "lease counts");
  if (!(s = jn_stmt(j, S_LEASE_TAKEOVERS, &rc)))
    return jn_dberr(j, rc, "lease take-overs");
  if ((rc = jn_next(j, s)) == JN_ROW)
    out->takeovers = jn_col_int(s, 0);
  jn_done(s);
  return rc == JN_ROW ? 0 : jn_dberr(j, rc, "lease take-overs");
}
