/* lease_status.c — who holds what, in serve's /status and /metrics
 * (docs/SCALING.md): the host leases of the journal and, when the scans
 * are divided (work.c), the work claims, each with its owner instance,
 * epoch and expiry, and whether it is this instance's. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "serve/serve.h"
#include "store/work.h"

typedef struct {
  json_t *list;
  const char *me;
  time_t now;
} lease_ctx;

static json_t *held(const char *owner, int64_t epoch, time_t expires, const lease_ctx *c) {
  json_t *o = json_pack("{s:s, s:I, s:b, s:b}", "owner", owner, "epoch", (json_int_t)epoch,
                        "expired", expires <= c->now, "here", !strcmp(owner, c->me));
  rd_serve_put_time(o, "expires", expires);
  return o;
}

static int add_lease(const rd_lease_row *r, void *arg) {
  lease_ctx *c = arg;
  json_t *o = held(r->owner, r->epoch, r->expires, c);
  json_object_set_new(o, "host", json_string(r->host));
  json_object_set_new(o, "what", json_string(r->what));
  rd_serve_put_time(o, "since", r->since);
  json_array_append_new(c->list, o);
  return 0;
}

static int add_claim(const rd_work_claim_row *r, void *arg) {
  lease_ctx *c = arg;
  json_t *o = held(r->owner, r->epoch, r->expires, c);
  json_object_set_new(o, "runbook", json_string(r->runbook));
  json_object_set_new(o, "host", json_string(r->host));
  json_array_append_new(c->list, o);
  return 0;
}

/* The owner id of this instance (that of its engines' leases). */
static void me(char *id, size_t len) {
  rd_lease_owner o;
  rd_lease_owner_self(&o);
  rd_lease_owner_id(&o, id, len);
}

json_t *rd_serve_lease_status(const rd_serve *sv, time_t now) {
  char id[320];
  lease_ctx c = {.now = now, .me = id};
  json_t *o;
  if (!sv->journal)
    return json_null();
  me(id, sizeof id);
  o = json_pack("{s:s, s:s, s:b}", "instance", id, "backend",
                rd_journal_backend(sv->journal), "divided", sv->divided);
  c.list = json_array();
  if (rd_journal_leases(sv->journal, 1, add_lease, &c) < 0)
    json_object_set_new(o, "error", json_string(rd_journal_errmsg(sv->journal)));
  json_object_set_new(o, "leases", c.list);
  if (!sv->divided)
    return o;
  c.list = json_array();
  if (rd_work_claims(sv->journal, add_claim, &c) < 0)
    json_object_set_new(o, "error", json_string(rd_journal_errmsg(sv->journal)));
  json_object_set_new(o, "claims", c.list);
  return o;
}

typedef struct {
  long long held, here, expired;
  const char *me;
  time_t now;
} claim_counts;

static int count_claim(const rd_work_claim_row *r, void *arg) {
  claim_counts *c = arg;
  c->held++;
  c->here += !strcmp(r->owner, c->me);
  c->expired += r->expires <= c->now;
  return 0;
}

void rd_serve_work_metrics(FILE *f, const rd_serve *sv) {
  char id[320];
  claim_counts c = {.me = id, .now = time(NULL)};
  long long claimed = 0, takeovers = 0;
  if (!sv->divided)
    return;
  me(id, sizeof id);
  for (size_t i = 0; i < sv->nrbs; i++) {
    claimed += sv->rbs[i].claimed_total;
    takeovers += sv->rbs[i].takeovers_total;
  }
  fprintf(f,
          "# HELP renewd_work_claimed_total Hosts this instance claimed from divided scans.\n"
          "# TYPE renewd_work_claimed_total counter\nrenewd_work_claimed_total %lld\n"
          "# HELP renewd_work_takeovers_total Claims this instance took over from a stalled or "
          "dead instance.\n"
          "# TYPE renewd_work_takeovers_total counter\nrenewd_work_takeovers_total %lld\n",
          claimed, takeovers);
  if (rd_work_claims(sv->journal, count_claim, &c) < 0)
    return; /* the journal away: this scrape goes without them */
  fprintf(f,
          "# HELP renewd_work_claims_held Work claims held in the journal, by any instance.\n"
          "# TYPE renewd_work_claims_held gauge\nrenewd_work_claims_held %lld\n"
          "# HELP renewd_work_claims_held_here Work claims held by this instance.\n"
          "# TYPE renewd_work_claims_held_here gauge\nrenewd_work_claims_held_here %lld\n"
          "# HELP renewd_work_claims_expired Held work claims past their expiry (taken over "
          "at the next claim).\n"
          "# TYPE renewd_work_claims_expired gauge\nrenewd_work_claims_expired %lld\n",
          c.held, c.here, c.expired);
}
