/* pg_work.c — the work queue of several instances on one PostgreSQL
 * journal (store/work.h; docs/SCALING.md, "Divided scans"): plans, claims
 * with SKIP LOCKED, their heartbeat and end, the list for status. These
 * calls take no journal write lock: the planner's is an advisory lock of
 * its own, a claim locks only the rows it takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "store/pg/pg_int.h"
#include "store/work.h"

/* The planner lock's first key ("rdJ2"); the second is hashtext(runbook). */
#define PLAN_LOCK_KEY "1919699506"

/* The work queue's tables, created by the first instance that divides
 * work (a journal one process uses never has them), outside the journal's
 * versioned schema (pg_schema.c): `IF NOT EXISTS` under the journal's write
 * lock, so that instances starting together create them once. plans: a
 * runbook's next scan; work: one item per (runbook, host). */
static const char WORK_SCHEMA[] =
    "SELECT pg_advisory_xact_lock(" JN_PG_WRITE_LOCK_KEY ");"
    "CREATE TABLE IF NOT EXISTS plans("
    "  runbook TEXT COLLATE \"C\" PRIMARY KEY,"
    "  next_at BIGINT NOT NULL,"
    "  planner TEXT NOT NULL,"
    "  at BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS work("
    "  runbook TEXT COLLATE \"C\" NOT NULL,"
    "  host TEXT COLLATE \"C\" NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'done')),"
    "  queued BIGINT NOT NULL,"
    "  ready_at BIGINT NOT NULL DEFAULT 0,"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  expires BIGINT NOT NULL DEFAULT 0,"
    "  epoch BIGINT NOT NULL DEFAULT 0 CHECK (epoch >= 0),"
    "  PRIMARY KEY (runbook, host));"
    "CREATE INDEX IF NOT EXISTS work_claimable ON work(runbook, state, expires)";

int rd_work_supported(const rd_journal *j) { return j && j->drv == &jn_pg_driver; }

/* 0 when j can divide work (its tables there), else the RD_E code. */
static int ready(rd_journal *j) {
  pg_db *d;
  PGresult *res;
  int err;
  if (!j)
    return RD_EINVAL;
  if (!rd_work_supported(j))
    return jn_fail(j, RD_ENOTSUP,
                   "dividing the work among instances needs a PostgreSQL journal");
  d = j->db;
  if (d->work_ready)
    return 0;
  if ((err = jn_pg_begin_plain(j, "work queue")) < 0)
    return err;
  err = jn_pg_query(j, "work queue", WORK_SCHEMA, 0, NULL, &res);
  PQclear(res);
  if ((err = jn_pg_end_plain(j, err, "work queue")) < 0)
    return err;
  d->work_ready = 1;
  return 0;
}

static void num(char *buf, size_t len, long long v) { snprintf(buf, len, "%lld", v); }

/* A statement whose result is not read. */
static int run(rd_journal *j, const char *what, const char *sql, int n,
               const char *const *vals) {
  PGresult *res;
  int err = jn_pg_query(j, what, sql, n, vals, &res);
  PQclear(res);
  return err;
}

/* The hosts as a JSON array text (a parameter as data, never spliced). */
static char *hosts_json(const rd_work_plan_req *r) {
  json_t *a = json_array();
  char *t = NULL;
  for (size_t i = 0; a && i < r->nhosts; i++)
    if (json_array_append_new(a, json_string(r->hosts[i])))
      goto out;
  t = json_dumps(a, JSON_COMPACT);
out:
  json_decref(a);
  return t;
}

/* Inside the planner's transaction, holding its lock. */
static int plan_locked(rd_journal *j, const rd_work_plan_req *r, const char *hosts, time_t now,
                       int *planned, int *queued) {
  char snow[32], snext[32];
  const char *v[3];
  PGresult *res;
  int err;
  num(snow, sizeof snow, now);
  num(snext, sizeof snext, now + (r->interval_s > 0 ? r->interval_s : 1));
  v[0] = r->runbook;
  v[1] = snow;
  if ((err = jn_pg_query(j, "work plan",
                         "SELECT count(*) FROM plans WHERE runbook = $1 AND next_at > $2", 2, v,
                         &res)) < 0)
    return err;
  if (strcmp(PQgetvalue(res, 0, 0), "0")) {
    PQclear(res);
    return 0; /* planned already, by this instance or another */
  }
  PQclear(res);
  v[2] = hosts;
  if ((err = jn_pg_query(j, "work plan",
                         "INSERT INTO work(runbook, host, state, queued)"
                         " SELECT $1, h, 'queued', $2 FROM json_array_elements_text($3::json) h"
                         " ON CONFLICT (runbook, host) DO UPDATE SET state = 'queued',"
                         " queued = excluded.queued, ready_at = 0, owner = '', expires = 0"
                         " WHERE work.state = 'done'",
                         3, v, &res)) < 0)
    return err;
  *queued = atoi(PQcmdTuples(res));
  PQclear(res);
  {
    const char *del[2] = {r->runbook, hosts};
    const char *plan[4] = {r->runbook, snext, r->owner, snow};
    if ((err = run(j, "work plan",
                   "DELETE FROM work WHERE runbook = $1 AND state <> 'claimed' AND host NOT IN"
                   " (SELECT h FROM json_array_elements_text($2::json) h)",
                   2, del)) < 0 ||
        (err = run(j, "work plan",
                   "INSERT INTO plans(runbook, next_at, planner, at) VALUES ($1, $2, $3, $4)"
                   " ON CONFLICT (runbook) DO UPDATE SET next_at = excluded.next_at,"
                   " planner = excluded.planner, at = excluded.at",
                   4, plan)) < 0 ||
        (err = run(j, "work plan", "SELECT pg_notify('renewd_work', $1)", 1, plan)) < 0)
      return err;
  }
  *planned = 1;
  return 0;
}

int rd_work_plan(rd_journal *j, const rd_work_plan_req *r, int *planned, int *queued) {
  time_t now;
  char *hosts;
  PGresult *res;
  int err;
  if ((err = ready(j)) < 0)
    return err;
  if (!r || !r->runbook || !r->owner || (r->nhosts && !r->hosts) || !planned || !queued)
    return jn_fail(j, RD_EINVAL, "work plan: missing runbook, owner or hosts");
  *planned = *queued = 0;
  now = r->now ? r->now : time(NULL);
  if (!(hosts = hosts_json(r)))
    return jn_fail(j, RD_ENOMEM, "work plan: out of memory");
  if ((err = jn_pg_begin_plain(j, "work plan")) < 0) {
    free(hosts);
    return err;
  }
  {
    const char *v[1] = {r->runbook};
    err = jn_pg_query(j, "work plan",
                      "SELECT pg_try_advisory_xact_lock(" PLAN_LOCK_KEY ", hashtext($1))", 1, v,
                      &res);
  }
  if (!err && strcmp(PQgetvalue(res, 0, 0), "t"))
    err = jn_fail(j, RD_EBUSY, "runbook %s: another instance is planning its scan",
                  r->runbook);
  PQclear(res);
  if (!err)
    err = plan_locked(j, r, hosts, now, planned, queued);
  free(hosts);
  err = jn_pg_end_plain(j, err, "work plan");
  if (err < 0)
    *planned = *queued = 0;
  return err;
}

static void copy(char *dst, size_t len, const char *src) { snprintf(dst, len, "%s", src); }

/* old: the claimable rows no other connection holds locked; c: claimed,
 * epoch + 1; a: the audit of each take-over */
static const char CLAIM_SQL[] =
    "WITH old AS (SELECT runbook, host, state, owner, expires, epoch FROM work"
    "  WHERE runbook = $1 AND ((state = 'queued' AND ready_at <= $3)"
    "   OR (state = 'claimed' AND expires <= $3))"
    "  ORDER BY queued, host LIMIT $5 FOR UPDATE SKIP LOCKED),"
    " c AS (UPDATE work w SET state = 'claimed', owner = $2, expires = $4,"
    "  epoch = w.epoch + 1 FROM old WHERE w.runbook = old.runbook AND w.host = old.host"
    "  RETURNING w.host, w.epoch, old.state AS was, old.owner AS prev,"
    "  old.expires AS prev_expires),"
    " a AS (INSERT INTO audit(at, actor, event, detail)"
    "  SELECT $3, 'renewd', 'work.takeover', json_build_object('runbook', $1::text,"
    "  'host', host, 'owner', $2::text, 'epoch', epoch, 'expires', $4::bigint,"
    "  'previous', json_build_object('owner', prev, 'expires', prev_expires))::text"
    "  FROM c WHERE was = 'claimed')"
    " SELECT host, epoch, was, prev FROM c ORDER BY host";

int jn_pg_claim_call(jn_pg_call *c, const char *runbook, const char *owner, int ttl_s,
                     int max, time_t now) {
  if (!runbook || !owner || ttl_s <= 0 || max <= 0)
    return RD_EINVAL;
  if (!now)
    now = time(NULL);
  num(c->num[0], sizeof c->num[0], now);
  num(c->num[1], sizeof c->num[1], now + ttl_s);
  num(c->num[2], sizeof c->num[2], max);
  c->what = "work claim";
  c->sql = CLAIM_SQL;
  c->n = 5;
  c->v[0] = runbook;
  c->v[1] = owner;
  c->v[2] = c->num[0];
  c->v[3] = c->num[1];
  c->v[4] = c->num[2];
  return 0;
}

int jn_pg_claim_rows(const PGresult *res, rd_work_item **items, size_t *n) {
  int rows = PQntuples(res);
  *items = NULL;
  *n = 0;
  if (rows > 0 && !(*items = calloc((size_t)rows, sizeof **items)))
    return RD_ENOMEM;
  for (int i = 0; i < rows; i++) {
    rd_work_item *it = &(*items)[i];
    copy(it->host, sizeof it->host, PQgetvalue(res, i, 0));
    it->epoch = strtoll(PQgetvalue(res, i, 1), NULL, 10);
    it->takeover = !strcmp(PQgetvalue(res, i, 2), "claimed");
    if (it->takeover)
      copy(it->previous, sizeof it->previous, PQgetvalue(res, i, 3));
  }
  *n = (size_t)rows;
  return 0;
}

int jn_pg_renew_call(jn_pg_call *c, const char *owner, int ttl_s, time_t now) {
  if (!owner || ttl_s <= 0)
    return RD_EINVAL;
  num(c->num[0], sizeof c->num[0], (now ? now : time(NULL)) + ttl_s);
  c->what = "work renewal";
  /* only extends: a late beat (timed out here, run after a later one) keeps
   * the later one's expiry */
  c->sql = "UPDATE work SET expires = GREATEST(expires, $2) WHERE owner = $1 AND state = 'claimed'";
  c->n = 2;
  c->v[0] = owner;
  c->v[1] = c->num[0];
  return 0;
}

int rd_work_claim(rd_journal *j, const char *runbook, const char *owner, int ttl_s, int max,
                  time_t now, rd_work_item **items, size_t *n) {
  jn_pg_call c;
  PGresult *res;
  int err;
  if ((err = ready(j)) < 0)
    return err;
  if (!items || !n || jn_pg_claim_call(&c, runbook, owner, ttl_s, max, now) < 0)
    return jn_fail(j, RD_EINVAL, "work claim: missing runbook, owner, ttl or count");
  *items = NULL;
  *n = 0;
  if ((err = jn_pg_query(j, c.what, c.sql, c.n, c.v, &res)) < 0)
    return err;
  err = jn_pg_claim_rows(res, items, n);
  PQclear(res);
  return err < 0 ? jn_fail(j, err, "work claim: out of memory") : 0;
}

int rd_work_renew(rd_journal *j, const char *owner, int ttl_s, time_t now, long *renewed) {
  jn_pg_call c;
  PGresult *res;
  int err;
  if ((err = ready(j)) < 0)
    return err;
  if (jn_pg_renew_call(&c, owner, ttl_s, now) < 0)
    return jn_fail(j, RD_EINVAL, "work renewal: missing owner or ttl");
  if ((err = jn_pg_query(j, c.what, c.sql, c.n, c.v, &res)) < 0)
    return err;
  if (renewed)
    *renewed = atol(PQcmdTuples(res));
  PQclear(res);
  return 0;
}

int rd_work_finish(rd_journal *j, const char *runbook, const rd_work_item *item,
                   const char *owner, int requeue_in_s, time_t now) {
  char sepoch[32], sready[32];
  const char *v[6] = {runbook, item ? item->host : NULL, owner, sepoch,
                      requeue_in_s < 0 ? "done" : "queued", sready};
  PGresult *res;
  int err, changed;
  if ((err = ready(j)) < 0)
    return err;
  if (!runbook || !item || !owner)
    return jn_fail(j, RD_EINVAL, "work finish: missing runbook, item or owner");
  num(sepoch, sizeof sepoch, item->epoch);
  num(sready, sizeof sready, requeue_in_s > 0 ? (now ? now : time(NULL)) + requeue_in_s : 0);
  if ((err = jn_pg_query(j, "work finish",
                         "UPDATE work SET state = $5, expires = 0, ready_at = $6"
                         " WHERE runbook = $1 AND host = $2 AND owner = $3 AND epoch = $4"
                         " AND state = 'claimed'",
                         6, v, &res)) < 0)
    return err;
  changed = atoi(PQcmdTuples(res));
  PQclear(res);
  /* an item given back for now wakes the others */
  if (changed == 1 && requeue_in_s == 0 &&
      (err = run(j, "work finish", "SELECT pg_notify('renewd_work', $1)", 1, v)) < 0)
    return err;
  if (changed != 1)
    return jn_fail(j, RD_ESTATE,
                   "runbook %s: host %s: the claim of epoch %lld is no longer held by %s",
                   runbook, item->host, (long long)item->epoch, owner);
  return 0;
}

static int ready_to_read(rd_journal *j, int *present);

/* Also from a process that never divided work (a `renewd run` beside
 * serve instances): the queue is looked for, never created. */
void jn_pg_lease_released(rd_journal *j, const char *host) {
  const char *v[1] = {host};
  pg_db *d = j->db;
  int present;
  if (d->tx || ready_to_read(j, &present) < 0 || !present)
    return;
  run(j, "work wake-up",
      "WITH u AS (UPDATE work SET ready_at = 0 WHERE host = $1 AND state = 'queued'"
      " AND ready_at > 0 RETURNING runbook)"
      " SELECT pg_notify('renewd_work', runbook) FROM (SELECT DISTINCT runbook FROM u) x",
      1, v);
}

/* A reader's ready(): *present 0, creating nothing, when no instance has
 * divided work on j yet (no queue: no claims). */
static int ready_to_read(rd_journal *j, int *present) {
  PGresult *res;
  int err;
  *present = 1;
  if (!rd_work_supported(j) || ((pg_db *)j->db)->work_ready)
    return ready(j); /* RD_ENOTSUP on SQLite */
  if ((err = jn_pg_query(j, "work claims", "SELECT to_regclass('work') IS NOT NULL", 0, NULL,
                         &res)) < 0)
    return err;
  *present = !strcmp(PQgetvalue(res, 0, 0), "t");
  PQclear(res);
  return 0;
}

int rd_work_claims(rd_journal *j, rd_work_visit fn, void *arg) {
  PGresult *res;
  int err, present;
  if ((err = ready_to_read(j, &present)) < 0 || !present)
    return err;
  if (!fn)
    return jn_fail(j, RD_EINVAL, "work claims: no visitor");
  if ((err = jn_pg_query(j, "work claims",
                         "SELECT runbook, host, owner, expires, epoch FROM work"
                         " WHERE state = 'claimed' ORDER BY runbook, host",
                         0, NULL, &res)) < 0)
    return err;
  for (int i = 0; !err && i < PQntuples(res); i++) {
    rd_work_claim_row row;
    memset(&row, 0, sizeof row);
    copy(row.runbook, sizeof row.runbook, PQgetvalue(res, i, 0));
    copy(row.host, sizeof row.host, PQgetvalue(res, i, 1));
    copy(row.owner, sizeof row.owner, PQgetvalue(res, i, 2));
    row.expires = (time_t)strtoll(PQgetvalue(res, i, 3), NULL, 10);
    row.epoch = strtoll(PQgetvalue(res, i, 4), NULL, 10);
    err = fn(&row, arg);
  }
  PQclear(res);
  return err;
}
