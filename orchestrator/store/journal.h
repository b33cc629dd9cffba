/* journal.h — the journal: jobs and their states, step results, durable
 * per-job values, inventory snapshots, an append-only audit log, alerts
 * already sent and host leases. Every call that changes something is
 * committed before it returns. Two backends behind the same calls: SQLite
 * (a file; WAL, synchronous=FULL; the default) and PostgreSQL (a
 * postgresql:// URI; several renewd instances share one). Schema is
 * versioned with forward migrations in both (docs/JOURNAL.md). */
#ifndef RENEWD_JOURNAL_H
#define RENEWD_JOURNAL_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include "core/jobstate.h"

struct uv_loop_s; /* uv_loop_t: the asynchronous calls answer on it */

typedef struct rd_journal rd_journal;

typedef struct rd_job_row {
  int64_t id;
  char runbook[256];
  char host[256];
  char cert[512];      /* certificate selector id, e.g. the cert path */
  rd_job_state state;
  int attempts;
  time_t created, updated;
  time_t next_try;     /* backoff: not before this time (0: any time) */
  char error[1024];    /* last error, "" if none */
} rd_job_row;

/* Default path: $RENEWD_JOURNAL, else /var/lib/renewd/journal.db. */
const char *rd_journal_default_path(void);
/* 1 when target names a PostgreSQL journal (postgresql:// or postgres://). */
int rd_journal_is_pg(const char *target);
/* "sqlite" or "postgresql". */
const char *rd_journal_backend(const rd_journal *j);
/* path NULL: the default path. A postgresql:// URI opens the PostgreSQL
 * backend (docs/JOURNAL.md, "PostgreSQL"): it must not hold a password; the
 * password comes from $RENEWD_JOURNAL_PASSWORD_FILE or
 * $RENEWD_JOURNAL_PASSWORD (config/secret.c reads it), or libpq's own
 * sources (~/.pgpass, peer authentication on a unix socket). Creates the file (0600) and its missing parent
 * directories (0700), migrates the schema. err gets "journal PATH: ...". */
int rd_journal_open(const char *path, rd_journal **out, char *err, size_t errlen);
/* Flags for rd_journal_open_ex. */
enum {
  RD_JOURNAL_MUST_EXIST = 1 /* RD_ENOTFOUND instead of creating a new journal */
};
int rd_journal_open_ex(const char *path, int flags, rd_journal **out, char *err,
                       size_t errlen);
void rd_journal_close(rd_journal *j); /* NULL ok */
/* The message of the last failed call on j: "journal PATH: job 7: ...". */
const char *rd_journal_errmsg(const rd_journal *j);
const char *rd_journal_path(const rd_journal *j);
/* How long a call waits for another connection's write lock before it
 * fails with RD_EBUSY (changing nothing; rd_journal_errmsg() says who held
 * the lock). Short, because the journal is called from the event loop: see
 * docs/JOURNAL.md, "Locking". */
#define RD_JOURNAL_BUSY_MS 250
/* PostgreSQL: the longest any one statement may take (statement_timeout);
 * then the call fails with RD_ETIMEDOUT, changing nothing. */
#define RD_JOURNAL_PG_STATEMENT_MS 2000
/* PostgreSQL: a connection idle inside a transaction this long (its process
 * paused) is ended by the server, freeing the write lock it held. */
#define RD_JOURNAL_PG_IDLE_TX_MS 5000
/* Change that bound for j (0: fail at once). A one-shot command off the
 * event loop may wait longer. */
int rd_journal_set_busy_timeout(rd_journal *j, int ms);
/* The schema version this build writes (PRAGMA user_version). */
#define RD_JOURNAL_SCHEMA_VERSION 2

/* The active (non-terminal) job for (host, cert), or a new one in DUE.
 * *created tells which. One active job per (host, cert), enforced by a
 * unique partial index. */
int rd_journal_job_open(rd_journal *j, const char *runbook, const char *host,
                        const char *cert, int64_t *job_id, int *created);
/* Transition; refuses illegal transitions with RD_ESTATE. error may be NULL.
 * The job's error becomes `error` ("" when NULL). next_try is cleared when
 * the job moves on, kept when it ends (a backoff set just before FAILED
 * stays: it means "no new job for this (host, cert) before then").
 * Staying in the same state is refused too (RD_ESTATE): after a crash, read
 * the committed state back instead of replaying. Every transition also
 * appends a row to the job's transition history. */
int rd_journal_job_set_state(rd_journal *j, int64_t job_id, rd_job_state to,
                             const char *error);
/* Allowed on any job: on a FAILED job it means "no new job before then". */
int rd_journal_job_set_next_try(rd_journal *j, int64_t job_id, time_t next_try);

/* One transition and what must become durable with it, in ONE transaction:
 * e.g. REQUESTED together with the CA transaction id, ISSUED together with
 * the certificate, FAILED together with its next_try. */
typedef struct rd_step_record rd_step_record;
/* A fence (see "host leases" below): the write is refused with RD_ESTATE,
 * changing nothing, unless owner still holds host's lease at epoch. */
struct rd_lease_owner;
typedef struct rd_lease_fence {
  const char *host;
  const struct rd_lease_owner *owner;
  int64_t epoch;
} rd_lease_fence;
typedef struct rd_job_advance {
  rd_job_state to;
  const char *error;           /* NULL: "" */
  time_t next_try;             /* 0: as set_state (cleared, kept on an end) */
  const json_t *kv;            /* object: key -> value to put (null value deletes), or NULL */
  const rd_step_record *step;  /* a step result to record, or NULL */
  const rd_lease_fence *fence; /* NULL, or only while that lease is held */
} rd_job_advance;
int rd_journal_job_advance(rd_journal *j, int64_t job_id, const rd_job_advance *a);
/* rd_journal_job_advance without blocking loop (journal_async.c): on
 * PostgreSQL it runs on a second connection of the journal, in libuv's
 * thread pool, one call at a time in the order asked (a->kv and a->step
 * must be NULL; a is copied). 0, and cb runs once, from loop: 0, or the
 * call's RD_E code and its message; RD_ECANCELED at rd_journal_async_cancel
 * (j, arg) or rd_journal_close. RD_ENOTSUP on SQLite (cb never runs: the
 * caller makes the synchronous call). */
typedef void (*rd_job_advanced_fn)(int err, const char *msg, void *arg);
int rd_journal_job_advance_async(rd_journal *j, struct uv_loop_s *loop, int64_t job_id,
                                 const rd_job_advance *a, rd_job_advanced_fn cb, void *arg);
/* rd_journal_job_open and, for an active job found (created 0), the
 * values of keys (n of them) and rd_journal_job_resume, in one call
 * without blocking loop: on PostgreSQL on the journal's second connection,
 * in the order of the other asynchronous calls. 0, and cb runs once, from
 * loop: the call's RD_E code and message, and (but on RD_ECANCELED) the
 * job's id, created, and on a resumed job its state and values[i] (NULL:
 * none; borrowed for the callback). RD_ENOTSUP on SQLite: cb never runs. */
typedef struct rd_job_opened {
  int64_t id;
  int created;
  rd_job_state state;          /* resumed: the state to continue from */
  json_t *const *values;
} rd_job_opened;
typedef void (*rd_job_opened_fn)(int err, const char *msg, const rd_job_opened *o, void *arg);
int rd_journal_job_open_async(rd_journal *j, struct uv_loop_s *loop, const char *runbook,
                              const char *host, const char *cert, const char *const *keys,
                              size_t n, rd_job_opened_fn cb, void *arg);
/* A transient failure inside a state: attempts += 1, error and next_try set,
 * state unchanged. RD_ESTATE on a terminal job. */
int rd_journal_job_retry(rd_journal *j, int64_t job_id, const char *error, time_t next_try);
/* After a restart: moves the job to rd_job_resume_state() of its state
 * (recorded in its history as a "resume" row when that differs) and returns
 * the state to continue from in *state. Terminal jobs are left alone. */
int rd_journal_job_resume(rd_journal *j, int64_t job_id, rd_job_state *state);
/* Consecutive renewal failures of (host, cert): terminal jobs that ended
 * FAILED or ROLLED_BACK, newest first, up to the newest DONE (or
 * NEEDS_OPERATOR). Feeds rd_policy_next_try() (core/policy.c). */
int rd_journal_failures(rd_journal *j, const char *host, const char *cert, int *count);
int rd_journal_job_get(rd_journal *j, int64_t job_id, rd_job_row *out);
/* The newest job (any state) for (host, cert); RD_ENOTFOUND if none. */
int rd_journal_job_last(rd_journal *j, const char *host, const char *cert, rd_job_row *out);
/* Visit jobs: active only, or all (newest first, up to limit; 0 = no limit). */
typedef int (*rd_job_visit)(const rd_job_row *row, void *arg);
int rd_journal_jobs(rd_journal *j, int active_only, size_t limit, rd_job_visit fn, void *arg);
/* Visit the newest job of every (host, cert), ordered by host then cert.
 * Visitors run after the query has finished: they may call the journal. A
 * visitor returning non-zero stops the walk and that value is returned. */
int rd_journal_jobs_latest(rd_journal *j, rd_job_visit fn, void *arg);

/* A job's history, oldest first: creation (from = -1), transitions and
 * resume rewinds. */
typedef struct rd_transition_row {
  int64_t id, job_id;
  int from;            /* rd_job_state, or -1 for the creation row */
  rd_job_state to;
  time_t at;
  char kind[16];       /* "create" "transition" "resume" */
  char error[1024];
} rd_transition_row;
typedef int (*rd_transition_visit)(const rd_transition_row *row, void *arg);
int rd_journal_transitions(rd_journal *j, int64_t job_id, rd_transition_visit fn, void *arg);

/* One step phase's result. result is a JSON value (may be NULL). */
struct rd_step_record {
  const char *step;    /* step type or name */
  const char *phase;   /* "probe" "apply" "verify" "rollback" */
  int status;          /* 0 or RD_E* */
  double ms;
  const json_t *result;/* the step's result object (changes, detail) */
  const char *message;
};
int rd_journal_step(rd_journal *j, int64_t job_id, const rd_step_record *rec);
/* rd_journal_step without blocking loop: on PostgreSQL on the journal's
 * second connection, in the order of the transitions asked (journal_async.c;
 * rec is copied), cb as rd_journal_job_advance_async's; RD_ENOTSUP on
 * SQLite (the caller records synchronously). */
int rd_journal_step_async(rd_journal *j, struct uv_loop_s *loop, int64_t job_id,
                          const rd_step_record *rec, rd_job_advanced_fn cb, void *arg);
/* A job's step records, oldest first. result is borrowed for the call. */
typedef struct rd_step_row {
  int64_t id, job_id;
  char step[256];
  char phase[16];
  int status;
  double ms;
  const json_t *result; /* or NULL */
  char message[1024];
  time_t at;
} rd_step_row;
typedef int (*rd_step_visit)(const rd_step_row *row, void *arg);
int rd_journal_steps(rd_journal *j, int64_t job_id, rd_step_visit fn, void *arg);
/* The step records of every job whose result has the top-level key key (a
 * plain name, e.g. "orphan"), ordered by job then step, in ONE query: what
 * a listing of many jobs reads instead of rd_journal_steps per job. The
 * search is on the result's text ("key": anywhere in it): a visitor checks
 * the key is where it expects it. */
int rd_journal_steps_marked(rd_journal *j, const char *key, rd_step_visit fn, void *arg);

/* Durable per-job key/value (e.g. the SCEP transaction id). Any JSON value;
 * put with value NULL deletes the key. get: a new reference in *out, or
 * RD_ENOTFOUND (and *out = NULL). */
int rd_journal_kv_put(rd_journal *j, int64_t job_id, const char *key, const json_t *value);
int rd_journal_kv_get(rd_journal *j, int64_t job_id, const char *key, json_t **out);
/* rd_journal_kv_put, only while fence's lease is held (RD_ESTATE, nothing
 * written, once it was taken over); fence NULL: unfenced. The struct is
 * declared with the host leases below. */
struct rd_lease_fence;
int rd_journal_kv_put_fenced(rd_journal *j, int64_t job_id, const char *key,
                             const json_t *value, const struct rd_lease_fence *fence);
/* rd_journal_kv_put_fenced without blocking loop: on PostgreSQL on the
 * journal's second connection, in the order of the other asynchronous
 * calls (key, value and fence copied), cb as rd_journal_job_advance_async's;
 * RD_ENOTSUP on SQLite (the caller writes synchronously). A call of the
 * queue that fails (the journal failed: not RD_ESTATE, a refusal, nor
 * RD_ECANCELED) is the last of its job there: the job's calls queued
 * after it with the same arg are not made, each answered with that error. */
int rd_journal_kv_put_async(rd_journal *j, struct uv_loop_s *loop, int64_t job_id,
                            const char *key, const json_t *value,
                            const struct rd_lease_fence *fence, rd_job_advanced_fn cb,
                            void *arg);

int rd_journal_inventory(rd_journal *j, const char *host, const json_t *facts);
/* The newest inventory snapshot of every host, by host name. The row (and its
 * facts) are borrowed for the visit only; a visitor's non-zero return stops
 * the walk and is returned. */
typedef struct rd_inventory_row {
  char host[256];
  time_t taken_at;
  const json_t *facts;
} rd_inventory_row;
typedef int (*rd_inventory_visit)(const rd_inventory_row *row, void *arg);
int rd_journal_inventory_latest(rd_journal *j, rd_inventory_visit fn, void *arg);
/* Append-only: the schema refuses UPDATE and DELETE on audit rows. */
int rd_journal_audit(rd_journal *j, const char *actor, const char *event,
                     const json_t *detail);
/* The audit rows whose event matches the SQL LIKE pattern event (e.g.
 * "%.takeover": the lease and work take-overs), oldest first. detail (NULL
 * when the row has none) is borrowed for the visit; a visitor's non-zero
 * return stops the walk and is returned. */
typedef struct rd_audit_row {
  int64_t id;
  time_t at;
  char actor[256];
  char event[256];
  const json_t *detail;
} rd_audit_row;
typedef int (*rd_audit_visit)(const rd_audit_row *row, void *arg);
int rd_journal_audit_list(rd_journal *j, const char *event, rd_audit_visit fn, void *arg);
/* Alerts: returns 1 if key was already recorded, else records it and returns 0. */
int rd_journal_alert_once(rd_journal *j, const char *key);

/* ---- host leases (journal_lease.c; docs/JOURNAL.md, "Host leases") ----
 * One job at a time changes a host, across runbooks, processes and serve:
 * a job claims the host's lease before its first mutating step, extends it
 * while it runs (a heartbeat) and releases it at its end. Each claim grows
 * the host's fencing epoch; renew and release name the epoch they hold, so
 * a holder whose lease was taken over can no longer extend or free it. */

/* Who holds a lease: this machine's name, a pid and that process's start
 * time (clock ticks since boot, from /proc; 0 if unknown), which tells a
 * live holder from a pid reused after a crash. */
typedef struct rd_lease_owner {
  char node[256];
  long pid;
  long long start;
} rd_lease_owner;
/* The owner for this process. */
void rd_lease_owner_self(rd_lease_owner *o);
/* "node:pid:start" */
void rd_lease_owner_id(const rd_lease_owner *o, char *buf, size_t len);
/* 1 when o is a process of this machine that no longer runs (or whose pid
 * now belongs to another process); 0 when alive or on another machine. */
int rd_lease_owner_dead(const rd_lease_owner *o);

typedef struct rd_lease_row {
  char host[256];
  int held;                 /* 0: released (the row keeps the epoch) */
  char owner[320];          /* rd_lease_owner_id of the holder */
  rd_lease_owner by;
  char what[256];           /* the holder's job: "runbook web, job 7" */
  time_t since, expires;
  int64_t epoch;
} rd_lease_row;

typedef struct rd_lease_req {
  const char *host;
  const rd_lease_owner *owner;
  const char *what;         /* shown to whoever finds the host busy; NULL: "" */
  int ttl_s;                /* > 0: the lease expires ttl_s after the claim/renewal */
  time_t now;               /* 0: time(NULL) */
} rd_lease_req;

/* Claim r->host for r->owner, in one BEGIN IMMEDIATE transaction: a free
 * host, an expired lease, or one whose holder is a dead process of this
 * machine is taken (epoch + 1, an audit row "lease.claim" or
 * "lease.takeover"), and *epoch receives the new epoch. A lease held by a
 * live owner -- this same owner included -- is refused with RD_EBUSY and
 * copied into *holder (may be NULL); nothing changes. */
int rd_journal_lease_claim(rd_journal *j, const rd_lease_req *r, int64_t *epoch,
                           rd_lease_row *holder);
/* Heartbeat: expires = now + ttl_s, only while r->owner still holds the
 * lease at epoch; RD_ESTATE (nothing changed) when it was taken over or
 * released. */
int rd_journal_lease_renew(rd_journal *j, const rd_lease_req *r, int64_t epoch);
/* The heartbeat of n leases at once (hosts[i] at epochs[i], all of owner),
 * without blocking loop, on PostgreSQL: one statement on the work
 * connection of `renewd serve` (store/work.h: rd_work_listen), which the
 * journal knows while it is open and up; else (`renewd run`) one renewal
 * per lease on the journal's second connection, off the loop (as
 * rd_journal_job_advance_async). 0, and cb runs once, from the loop: 0 and
 * renewed[i] (n flags, the callee's) 1 for each lease renewed (expires =
 * now + ttl_s), 0 for one taken over or released meanwhile; RD_ETIMEDOUT /
 * RD_ENETWORK / RD_EBUSY / RD_EIO (the next beat retries); RD_ECANCELED at
 * rd_journal_async_cancel(j, arg) or when the connection is closed.
 * RD_ENOTSUP on SQLite: cb never runs, rd_journal_lease_renew does it. */
typedef void (*rd_lease_renewed_fn)(int err, const unsigned char *renewed, size_t n,
                                    void *arg);
int rd_journal_lease_renew_async(rd_journal *j, struct uv_loop_s *loop,
                                 const rd_lease_owner *owner, int ttl_s, time_t now,
                                 const char *const *hosts, const int64_t *epochs, size_t n,
                                 rd_lease_renewed_fn cb, void *arg);
/* rd_journal_lease_claim (with the row as it was before, for the caller's
 * "changed elsewhere" check) and rd_journal_lease_release without
 * blocking loop: on PostgreSQL on the journal's second connection, in the
 * order of the other asynchronous calls (r copied). 0, and cb runs once,
 * from loop: the claim's RD_E code, its message and (but on RD_ECANCELED)
 * its answer: the epoch taken, the holder on RD_EBUSY, the row before it
 * (have_prev 0: none, or unreadable). RD_ENOTSUP on SQLite: cb never runs,
 * the caller makes the synchronous call. */
typedef struct rd_lease_claim_answer {
  int64_t epoch;
  rd_lease_row holder;
  int have_prev;
  rd_lease_row prev;
} rd_lease_claim_answer;
typedef void (*rd_lease_claimed_fn)(int err, const char *msg, const rd_lease_claim_answer *a,
                                    void *arg);
int rd_journal_lease_claim_async(rd_journal *j, struct uv_loop_s *loop, const rd_lease_req *r,
                                 rd_lease_claimed_fn cb, void *arg);
int rd_journal_lease_release_async(rd_journal *j, struct uv_loop_s *loop, const rd_lease_req *r,
                                   int64_t epoch, rd_job_advanced_fn cb, void *arg);
/* Answer every asynchronous call asked with arg (a lease heartbeat, a job's
 * transition) RD_ECANCELED, now, inside this call (a statement already
 * sent runs on, unheard): before what its callbacks use is freed. Nothing
 * on SQLite. */
void rd_journal_async_cancel(rd_journal *j, const void *arg);
/* Release (held = 0, audit "lease.release"): only by the owner of epoch;
 * RD_ESTATE otherwise, changing nothing. */
int rd_journal_lease_release(rd_journal *j, const rd_lease_req *r, int64_t epoch);
/* The lease row of host (held or not); RD_ENOTFOUND if never claimed. */
int rd_journal_lease_get(rd_journal *j, const char *host, rd_lease_row *out);
/* Visit the lease rows, ordered by host; held_only skips released ones.
 * Visitors run after the query has finished and may call the journal. */
typedef int (*rd_lease_visit)(const rd_lease_row *row, void *arg);
int rd_journal_leases(rd_journal *j, int held_only, rd_lease_visit fn, void *arg);
/* Lease figures (for /metrics): leases held now, of them those past their
 * expiry at now (the next claim takes them over) and those held by owner
 * (an rd_lease_owner_id; NULL: none), and take-overs ever (the audit's
 * lease.takeover rows). */
typedef struct rd_lease_counts {
  int64_t held, expired, mine, takeovers;
} rd_lease_counts;
int rd_journal_lease_counts(rd_journal *j, time_t now, const char *owner, rd_lease_counts *out);

#endif
