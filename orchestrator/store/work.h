/* work.h — the scans of a runbook divided among several renewd instances
 * that share one PostgreSQL journal (docs/SCALING.md, "Divided scans").
 *
 * One instance at a time plans a runbook's scan (a transaction-level
 * pg_try_advisory_xact_lock on the runbook's name): when the runbook's
 * next scan is due (table plans), it queues one work item per host (table
 * work) and wakes the other instances (NOTIFY renewd_work, the runbook's
 * name as payload). Every instance then claims a few items at a time
 * (UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)): an item carries
 * its owner (rd_lease_owner_id), an expiry its owner's heartbeat extends,
 * and a fencing epoch that grows at each claim. An item whose claim
 * expired (its instance died or stalled) is claimed again, epoch + 1, with
 * an audit row "work.takeover"; its former owner can no longer renew or
 * finish it. The host leases (journal.h) still fence every change a job
 * makes to a host; a claim decides who probes and renews it.
 *
 * On SQLite every call returns RD_ENOTSUP: one process scans everything. */
#ifndef RENEWD_WORK_H
#define RENEWD_WORK_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "store/journal.h"

/* 1 when j can divide work (PostgreSQL). */
int rd_work_supported(const rd_journal *j);

typedef struct rd_work_plan_req {
  const char *runbook;
  const char *const *hosts; /* the runbook's targets */
  size_t nhosts;
  const char *owner;        /* the planner: rd_lease_owner_id */
  long interval_s;          /* the next plan comes this long after this one */
  time_t now;               /* 0: time(NULL) */
} rd_work_plan_req;

/* Plan the runbook's scan when it is due: *planned 1 and *queued the items
 * (re)queued (an item still claimed is left to its owner; items of hosts
 * the runbook no longer lists are dropped), or *planned 0 when the next
 * plan is not due yet. RD_EBUSY: another instance is planning it now
 * (nothing changed). */
int rd_work_plan(rd_journal *j, const rd_work_plan_req *r, int *planned, int *queued);

typedef struct rd_work_item {
  char host[256];
  int64_t epoch;           /* the fencing token of this claim */
  int takeover;            /* it was claimed by another owner whose claim expired */
  char previous[320];      /* then that owner */
} rd_work_item;

/* Claim at most max items of runbook: queued ones (once ready) and those
 * whose claim expired, skipping rows another connection has locked (SKIP LOCKED: two
 * instances claiming at once get disjoint sets, neither waits). *items
 * (free()) receives *n items, ordered by host. */
int rd_work_claim(rd_journal *j, const char *runbook, const char *owner, int ttl_s, int max,
                  time_t now, rd_work_item **items, size_t *n);
/* The heartbeat: every item owner still holds gets expiry now + ttl_s;
 * *renewed (may be NULL) how many. */
int rd_work_renew(rd_journal *j, const char *owner, int ttl_s, time_t now, long *renewed);
/* End the claim of item (owner, epoch): done (requeue_in_s < 0), or back
 * to the queue, claimable again requeue_in_s seconds after now (0: at
 * once, waking the other instances). RD_ESTATE, nothing changed, when the
 * claim was taken over or ended meanwhile. */
int rd_work_finish(rd_journal *j, const char *runbook, const rd_work_item *item,
                   const char *owner, int requeue_in_s, time_t now);

/* The claims held now (expired ones too), ordered by runbook and host.
 * It creates nothing: on a journal no instance divided work on, none. */
typedef struct rd_work_claim_row {
  char runbook[256], host[256], owner[320];
  time_t expires;
  int64_t epoch;
} rd_work_claim_row;
typedef int (*rd_work_visit)(const rd_work_claim_row *row, void *arg);
int rd_work_claims(rd_journal *j, rd_work_visit fn, void *arg);

/* The work connection: a connection of its own, polled on loop (uv_poll
 * on its socket), that LISTENs for renewd_work -- wake(runbook, arg) for
 * each notification -- and runs claims and renewals asynchronously. A
 * lost connection is opened again at the next rd_work_listener_check. */
typedef struct rd_work_listener rd_work_listener;
typedef void (*rd_work_wake_fn)(const char *runbook, void *arg);
int rd_work_listen(uv_loop_t *loop, rd_journal *j, rd_work_wake_fn wake, void *arg,
                   rd_work_listener **out);
/* 1 while listening; else tries once to listen again (0 then 1 if it did). */
int rd_work_listener_check(rd_work_listener *l);
/* Stop and free it (in its close callbacks: run the loop after); every
 * call still asked is answered RD_ECANCELED, inside this call. */
void rd_work_listener_close(rd_work_listener *l);

/* rd_work_claim and rd_work_renew on the work connection, without blocking
 * the loop: one statement at a time, in the order asked. 0, and cb runs
 * once, from the loop: 0 with the items (free() them) or the renewal
 * count; RD_ETIMEDOUT when the server did not answer within
 * RD_JOURNAL_PG_STATEMENT_MS + 1 s (the connection is then dropped),
 * RD_ENETWORK when it was lost, RD_EBUSY / RD_EIO for a refused statement,
 * RD_ECANCELED at rd_work_listener_close. RD_ENETWORK, and cb never runs,
 * while the connection is down. The work queue must be ready (a call on
 * the journal, e.g. rd_work_plan, made it). */
typedef void (*rd_work_claimed_fn)(int err, rd_work_item *items, size_t n, void *arg);
typedef void (*rd_work_renewed_fn)(int err, long renewed, void *arg);
int rd_work_claim_async(rd_work_listener *l, const char *runbook, const char *owner, int ttl_s,
                        int max, time_t now, rd_work_claimed_fn cb, void *arg);
int rd_work_renew_async(rd_work_listener *l, const char *owner, int ttl_s, time_t now,
                        rd_work_renewed_fn cb, void *arg);

#endif
