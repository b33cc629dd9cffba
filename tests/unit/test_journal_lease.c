/* test_journal_lease.c — host leases (journal.h, docs/JOURNAL.md "Host
 * leases"): claim, conflict, expiry, take-over, release, epoch growth and
 * recovery after a holder was killed, with two connections on one file and
 * forked holders. */
#include "test_journal_fixture.h"

#define T0 ((time_t)1000000)

/* An owner on another machine: its liveness is never checked here. */
static rd_lease_owner remote_owner(const char *node, long pid) {
  rd_lease_owner o;
  memset(&o, 0, sizeof o);
  snprintf(o.node, sizeof o.node, "%s", node);
  o.pid = pid;
  o.start = 42;
  return o;
}

static rd_lease_req req(const char *host, const rd_lease_owner *o, const char *what, int ttl,
                        time_t now) {
  rd_lease_req r = {.host = host, .owner = o, .what = what, .ttl_s = ttl, .now = now};
  return r;
}

static long long audit_count(const char *event) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM audit WHERE event = '%s'", event);
  return sql_int(dbpath, sql);
}

START_TEST(claim_free_host) {
  rd_journal *j = open_j();
  rd_lease_owner a = remote_owner("node-a", 10);
  rd_lease_req r = req("web1", &a, "runbook web, job 7", 60, T0);
  rd_lease_row row;
  int64_t epoch = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &epoch, NULL), 0);
  ck_assert_int_eq(epoch, 1);
  ck_assert_int_eq(rd_journal_lease_get(j, "web1", &row), 0);
  ck_assert_int_eq(row.held, 1);
  ck_assert_str_eq(row.owner, "node-a:10:42");
  ck_assert_str_eq(row.what, "runbook web, job 7");
  ck_assert_int_eq(row.since, T0);
  ck_assert_int_eq(row.expires, T0 + 60);
  ck_assert_int_eq(rd_journal_lease_get(j, "web2", &row), RD_ENOTFOUND);
  ck_assert_int_eq(audit_count("lease.claim"), 1);
  ck_assert_int_eq(sql_int(dbpath, jpg ? "SELECT count(*) FROM audit WHERE event = 'lease.claim'"
                                         " AND detail::jsonb #>> '{host}' = 'web1'"
                                         " AND (detail::jsonb #>> '{epoch}')::bigint = 1"
                                       : "SELECT count(*) FROM audit WHERE event = 'lease.claim'"
                                         " AND json_extract(detail, '$.host') = 'web1'"
                                         " AND json_extract(detail, '$.epoch') = 1"),
                   1);
  rd_journal_close(j);
}
END_TEST

/* Two connections on one file: the second owner is refused and told who
 * holds the host; nothing changes. The same owner cannot claim twice. */
START_TEST(conflict_names_the_holder) {
  rd_journal *j1 = open_j(), *j2 = open_j();
  rd_lease_owner a = remote_owner("node-a", 10), b = remote_owner("node-b", 20);
  rd_lease_req ra = req("web1", &a, "runbook A, job 1", 60, T0);
  rd_lease_req rb = req("web1", &b, "runbook B, job 2", 60, T0 + 30);
  rd_lease_row holder;
  int64_t ea = 0, eb = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j1, &ra, &ea, NULL), 0);
  memset(&holder, 0, sizeof holder);
  ck_assert_int_eq(rd_journal_lease_claim(j2, &rb, &eb, &holder), RD_EBUSY);
  ck_assert_int_eq(eb, 0);
  ck_assert_str_eq(holder.owner, "node-a:10:42");
  ck_assert_str_eq(holder.what, "runbook A, job 1");
  ck_assert_int_eq(holder.since, T0);
  ck_assert_int_eq(holder.expires, T0 + 60);
  ck_assert_msg(strstr(rd_journal_errmsg(j2), "host web1: leased by node-a:10:42"), "%s",
                rd_journal_errmsg(j2));
  /* the same owner again: refused too (one job per host) */
  ck_assert_int_eq(rd_journal_lease_claim(j1, &ra, &eb, NULL), RD_EBUSY);
  ck_assert_int_eq(sql_int(dbpath, "SELECT epoch FROM leases WHERE host = 'web1'"), 1);
  ck_assert_int_eq(audit_count("lease.claim"), 1);
  /* another host is independent */
  rb.host = "web2";
  ck_assert_int_eq(rd_journal_lease_claim(j2, &rb, &eb, NULL), 0);
  ck_assert_int_eq(eb, 1);
  rd_journal_close(j1);
  rd_journal_close(j2);
}
END_TEST

/* An expired lease is taken over (epoch + 1); the old holder can then
 * neither renew nor release it. */
START_TEST(expired_lease_taken_over) {
  rd_journal *j1 = open_j(), *j2 = open_j();
  rd_lease_owner a = remote_owner("node-a", 10), b = remote_owner("node-b", 20);
  rd_lease_req ra = req("web1", &a, "A", 60, T0), rb = req("web1", &b, "B", 60, T0 + 59);
  rd_lease_row row;
  int64_t ea = 0, eb = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j1, &ra, &ea, NULL), 0);
  ck_assert_int_eq(rd_journal_lease_claim(j2, &rb, &eb, NULL), RD_EBUSY);
  rb.now = T0 + 60;
  ck_assert_int_eq(rd_journal_lease_claim(j2, &rb, &eb, NULL), 0);
  ck_assert_int_eq(eb, ea + 1);
  ck_assert_int_eq(audit_count("lease.takeover"), 1);
  ck_assert_int_eq(
      sql_int(dbpath, jpg ? "SELECT count(*) FROM audit WHERE event = 'lease.takeover'"
                            " AND detail::jsonb #>> '{previous,owner}' = 'node-a:10:42'"
                            " AND (detail::jsonb #>> '{previous,epoch}')::bigint = 1"
                          : "SELECT count(*) FROM audit WHERE event = 'lease.takeover'"
                            " AND json_extract(detail, '$.previous.owner') = 'node-a:10:42'"
                            " AND json_extract(detail, '$.previous.epoch') = 1"),
      1);
  ra.now = T0 + 61;
  ck_assert_int_eq(rd_journal_lease_renew(j1, &ra, ea), RD_ESTATE);
  ck_assert_int_eq(rd_journal_lease_release(j1, &ra, ea), RD_ESTATE);
  ck_assert_int_eq(rd_journal_lease_get(j1, "web1", &row), 0);
  ck_assert_int_eq(row.held, 1);
  ck_assert_str_eq(row.owner, "node-b:20:42");
  ck_assert_int_eq(row.epoch, 2);
  ck_assert_int_eq(row.expires, T0 + 120);
  rd_journal_close(j1);
  rd_journal_close(j2);
}
END_TEST

/* The heartbeat moves the expiry: a lease renewed in time is not taken. */
START_TEST(renewal_extends) {
  rd_journal *j1 = open_j(), *j2 = open_j();
  rd_lease_owner a = remote_owner("node-a", 10), b = remote_owner("node-b", 20);
  rd_lease_req ra = req("web1", &a, "A", 60, T0), rb = req("web1", &b, "B", 60, T0 + 100);
  int64_t ea = 0, eb = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j1, &ra, &ea, NULL), 0);
  ra.now = T0 + 50;
  ck_assert_int_eq(rd_journal_lease_renew(j1, &ra, ea), 0);
  ck_assert_int_eq(sql_int(dbpath, "SELECT expires FROM leases"), T0 + 110);
  ck_assert_int_eq(rd_journal_lease_claim(j2, &rb, &eb, NULL), RD_EBUSY);
  /* a renewal naming another epoch is not the holder's */
  ck_assert_int_eq(rd_journal_lease_renew(j1, &ra, ea + 1), RD_ESTATE);
  rb.now = T0 + 110;
  ck_assert_int_eq(rd_journal_lease_claim(j2, &rb, &eb, NULL), 0);
  rd_journal_close(j1);
  rd_journal_close(j2);
}
END_TEST

/* Release frees the host at once; the row stays and every claim grows the
 * epoch, whoever makes it. */
START_TEST(release_and_epoch_growth) {
  rd_journal *j = open_j();
  rd_lease_owner a = remote_owner("node-a", 10), b = remote_owner("node-b", 20);
  rd_lease_req ra = req("web1", &a, "A", 600, T0), rb = req("web1", &b, "B", 600, T0);
  rd_lease_row row;
  int64_t e = 0, last = 0;
  for (int i = 0; i < 6; i++) {
    rd_lease_req *r = i % 2 ? &rb : &ra;
    ck_assert_int_eq(rd_journal_lease_claim(j, r, &e, NULL), 0);
    ck_assert_int_eq(e, last + 1);
    ck_assert_int_eq(rd_journal_lease_release(j, r, e), 0);
    ck_assert_int_eq(rd_journal_lease_release(j, r, e), RD_ESTATE); /* once */
    last = e;
  }
  ck_assert_int_eq(rd_journal_lease_get(j, "web1", &row), 0);
  ck_assert_int_eq(row.held, 0);
  ck_assert_int_eq(row.epoch, 6);
  ck_assert_int_eq(audit_count("lease.claim"), 6);
  ck_assert_int_eq(audit_count("lease.release"), 6);
  rd_journal_close(j);
}
END_TEST

static int count_held(const rd_lease_row *r, void *arg) {
  int *n = arg;
  ck_assert_int_eq(r->held, 1);
  (*n)++;
  return 0;
}

static int count_all(const rd_lease_row *r, void *arg) {
  (void)r;
  (*(int *)arg)++;
  return 0;
}

START_TEST(listing) {
  rd_journal *j = open_j();
  rd_lease_owner a = remote_owner("node-a", 10);
  rd_lease_req r = req("web1", &a, "A", 600, T0);
  int64_t e1 = 0, e2 = 0;
  int held = 0, all = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e1, NULL), 0);
  r.host = "web2";
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e2, NULL), 0);
  ck_assert_int_eq(rd_journal_lease_release(j, &r, e2), 0);
  ck_assert_int_eq(rd_journal_leases(j, 1, count_held, &held), 0);
  ck_assert_int_eq(rd_journal_leases(j, 0, count_all, &all), 0);
  ck_assert_int_eq(held, 1);
  ck_assert_int_eq(all, 2);
  rd_journal_close(j);
}
END_TEST

/* A holder killed with SIGKILL on this machine: its lease (far from
 * expired) is taken over at once; while it lived, it was refused. */
START_TEST(killed_holder_recovered) {
  int ready[2];
  char c;
  ck_assert_int_eq(pipe(ready), 0);
  rd_journal *j0 = open_j(); /* the schema exists before the child starts */
  rd_journal_close(j0);
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    rd_journal *cj = NULL;
    rd_lease_owner me;
    char err[512];
    int64_t e = 0;
    close(ready[0]);
    rd_lease_owner_self(&me);
    rd_lease_req r = req("web1", &me, "child", 3600, 0);
    if (rd_journal_open(jtarget, &cj, err, sizeof err) < 0 ||
        rd_journal_lease_claim(cj, &r, &e, NULL) < 0)
      _exit(1);
    if (write(ready[1], "r", 1) != 1)
      _exit(1);
    for (;;)
      pause();
  }
  close(ready[1]);
  ck_assert_int_eq(read(ready[0], &c, 1), 1);
  close(ready[0]);
  rd_journal *j = open_j();
  rd_lease_owner me;
  rd_lease_row holder, row;
  int64_t e = 0;
  rd_lease_owner_self(&me);
  rd_lease_req r = req("web1", &me, "parent", 3600, 0);
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e, &holder), RD_EBUSY);
  ck_assert_int_eq(holder.by.pid, child);
  ck_assert_int_eq(rd_lease_owner_dead(&holder.by), 0);
  ck_assert_int_eq(kill(child, SIGKILL), 0);
  int st = 0;
  ck_assert_int_eq(waitpid(child, &st, 0), child);
  ck_assert(WIFSIGNALED(st));
  ck_assert_int_eq(rd_lease_owner_dead(&holder.by), 1);
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e, NULL), 0);
  ck_assert_int_eq(e, 2);
  ck_assert_int_eq(rd_journal_lease_get(j, "web1", &row), 0);
  ck_assert_int_eq(row.by.pid, (long)getpid());
  ck_assert_int_eq(audit_count("lease.takeover"), 1);
  rd_journal_close(j);
}
END_TEST

/* Liveness: this process is alive; the same pid with another start time
 * is a reused pid (dead holder); another machine's owner is never judged
 * dead here. */
START_TEST(owner_liveness) {
  rd_lease_owner me, o;
  rd_lease_owner_self(&me);
  ck_assert_int_gt(me.start, 0);
  ck_assert_int_eq(rd_lease_owner_dead(&me), 0);
  o = me;
  o.start = me.start + 1;
  ck_assert_int_eq(rd_lease_owner_dead(&o), 1);
  o = remote_owner("surely-not-this-node.invalid", 999999);
  ck_assert_int_eq(rd_lease_owner_dead(&o), 0);
}
END_TEST

/* Forked claimers racing for one host: exactly one wins. */
START_TEST(racing_claims_one_winner) {
  enum { N = 4 };
  pid_t kids[N];
  int wins = 0;
  rd_journal *j0 = open_j();
  rd_journal_close(j0);
  for (int i = 0; i < N; i++) {
    kids[i] = fork();
    ck_assert_int_ge(kids[i], 0);
    if (kids[i] == 0) {
      rd_journal *cj = NULL;
      char err[512], node[32];
      int64_t e = 0;
      snprintf(node, sizeof node, "racer-%d", i);
      rd_lease_owner o = remote_owner(node, 100 + i);
      rd_lease_req r = req("web1", &o, node, 600, 0);
      if (rd_journal_open(jtarget, &cj, err, sizeof err) < 0 ||
          rd_journal_set_busy_timeout(cj, 10000) < 0)
        _exit(3);
      int rc = rd_journal_lease_claim(cj, &r, &e, NULL);
      rd_journal_close(cj);
      _exit(rc == 0 ? 0 : rc == RD_EBUSY ? 1 : 2);
    }
  }
  for (int i = 0; i < N; i++) {
    int st = 0;
    ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
    wins += WEXITSTATUS(st) == 0;
  }
  ck_assert_int_eq(wins, 1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT epoch FROM leases"), 1);
}
END_TEST

/* A version 1 journal gains the leases table when opened. */
START_TEST(migrates_v1) {
  rd_journal *j = open_j();
  rd_journal_close(j);
  ck_assert_int_eq(sql_exec(dbpath,
                            jpg ? "DROP TABLE leases; DELETE FROM schema_version WHERE version = 2"
                                : "DROP TABLE leases; PRAGMA user_version = 1",
                            NULL, 0),
                   SQLITE_OK);
  j = open_j();
  ck_assert_int_eq(
      sql_int(dbpath, jpg ? "SELECT max(version) FROM schema_version" : "PRAGMA user_version"), 2);
  rd_lease_owner a = remote_owner("node-a", 10);
  rd_lease_req r = req("web1", &a, "A", 60, T0);
  int64_t e = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e, NULL), 0);
  rd_journal_close(j);
}
END_TEST

/* A fenced state change: done while the owner holds the lease at its
 * epoch; refused, changing nothing, once the lease was taken over. */
START_TEST(fenced_job_advance) {
  rd_journal *j = open_j();
  rd_lease_owner a = remote_owner("node-a", 10), b = remote_owner("node-b", 20);
  rd_lease_req ra = req("web1", &a, "A", 60, T0), rb = req("web1", &b, "B", 60, T0 + 60);
  int64_t ea = 0, eb = 0, id = 0;
  int created = 0;
  rd_job_row row;
  ck_assert_int_eq(rd_journal_lease_claim(j, &ra, &ea, NULL), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "web1", "/c", &id, &created), 0);
  rd_lease_fence f = {.host = "web1", .owner = &a, .epoch = ea};
  rd_job_advance adv = {.to = RD_JOB_PROBED, .fence = &f};
  ck_assert_int_eq(rd_journal_job_advance(j, id, &adv), 0);
  ck_assert_int_eq(rd_journal_lease_claim(j, &rb, &eb, NULL), 0); /* expired: taken over */
  adv.to = RD_JOB_KEY_READY;
  ck_assert_int_eq(rd_journal_job_advance(j, id, &adv), RD_ESTATE);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "host web1: the lease of epoch 1 is no longer held by "
                                             "node-a:10:42; now: node-b:20:42"),
                "%s", rd_journal_errmsg(j));
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_PROBED);
  /* nor can it write the job's values (a CA transaction id) */
  json_t *v = json_string("txid-of-a");
  ck_assert_int_eq(rd_journal_kv_put_fenced(j, id, "scep.txid", v, &f), RD_ESTATE);
  json_t *got = NULL;
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.txid", &got), RD_ENOTFOUND);
  /* the figures /metrics exports: one lease held (by b), one take-over */
  rd_lease_counts lc;
  char bid[320];
  rd_lease_owner_id(&b, bid, sizeof bid);
  ck_assert_int_eq(rd_journal_lease_counts(j, T0 + 61, bid, &lc), 0);
  ck_assert_int_eq(lc.held, 1);
  ck_assert_int_eq(lc.expired, 0);
  ck_assert_int_eq(lc.mine, 1);
  ck_assert_int_eq(lc.takeovers, 1);
  ck_assert_int_eq(rd_journal_lease_counts(j, T0 + 120, "node-a:10:42", &lc), 0);
  ck_assert(lc.held == 1 && lc.expired == 1 && lc.mine == 0 && lc.takeovers == 1);
  /* the new holder's fence passes */
  f.owner = &b;
  f.epoch = eb;
  ck_assert_int_eq(rd_journal_job_advance(j, id, &adv), 0);
  ck_assert_int_eq(rd_journal_kv_put_fenced(j, id, "scep.txid", v, &f), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.txid", &got), 0);
  ck_assert_str_eq(json_string_value(got), "txid-of-a");
  json_decref(got);
  json_decref(v);
  rd_journal_close(j);
}
END_TEST

START_TEST(bad_requests) {
  rd_journal *j = open_j();
  rd_lease_owner a = remote_owner("node-a", 10);
  rd_lease_req r = req("", &a, "A", 60, T0);
  int64_t e = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e, NULL), RD_EINVAL);
  r.host = "web1";
  r.ttl_s = 0;
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e, NULL), RD_EINVAL);
  r.ttl_s = 60;
  r.owner = NULL;
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &e, NULL), RD_EINVAL);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM leases"), 0);
  rd_journal_close(j);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_lease (postgresql)" : "journal_lease (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, claim_free_host);
  tcase_add_test(tc, conflict_names_the_holder);
  tcase_add_test(tc, expired_lease_taken_over);
  tcase_add_test(tc, renewal_extends);
  tcase_add_test(tc, release_and_epoch_growth);
  tcase_add_test(tc, listing);
  tcase_add_test(tc, killed_holder_recovered);
  tcase_add_test(tc, owner_liveness);
  tcase_add_test(tc, racing_claims_one_winner);
  tcase_add_test(tc, migrates_v1);
  tcase_add_test(tc, fenced_job_advance);
  tcase_add_test(tc, bad_requests);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
