/* test_journal_status.c — renewd status reading the journal (both backends). */
#include "test_journal_fixture.h"
#include "store/work.h"

/* ---- the statements the journal runs ------------------------------------
 * This program is linked with --wrap for sqlite3_step and PQsendQueryParams
 * (CMakeLists.txt): each execution of a statement that reads the steps
 * table is counted, on either backend. */
static int steps_queries;

static void count_sql(const char *sql) {
  if (sql && strstr(sql, "FROM steps"))
    steps_queries++;
}

int __real_sqlite3_step(sqlite3_stmt *s);
int __wrap_sqlite3_step(sqlite3_stmt *s);
int __wrap_sqlite3_step(sqlite3_stmt *s) {
  if (!sqlite3_stmt_busy(s)) /* its first step: one execution */
    count_sql(sqlite3_sql(s));
  return __real_sqlite3_step(s);
}

int __real_PQsendQueryParams(PGconn *c, const char *sql, int n, const Oid *types,
                             const char *const *vals, const int *lens, const int *fmts,
                             int rfmt);
int __wrap_PQsendQueryParams(PGconn *c, const char *sql, int n, const Oid *types,
                             const char *const *vals, const int *lens, const int *fmts,
                             int rfmt);
int __wrap_PQsendQueryParams(PGconn *c, const char *sql, int n, const Oid *types,
                             const char *const *vals, const int *lens, const int *fmts,
                             int rfmt) {
  count_sql(sql);
  return __real_PQsendQueryParams(c, sql, n, types, vals, lens, fmts, rfmt);
}

/* ---- renewd status ------------------------------------------------------ */

/* Run cmd_status with stdout and stderr captured (caller frees both). */
static int run_status(char **argv, int argc, char **out, char **errout) {
  char po[600], pe[600];
  int so = dup(1), se = dup(2), rc;
  snprintf(po, sizeof po, "%s/out", tmpdir);
  snprintf(pe, sizeof pe, "%s/err", tmpdir);
  fflush(stdout);
  fflush(stderr);
  int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert(fo >= 0 && fe >= 0 && so >= 0 && se >= 0);
  dup2(fo, 1);
  dup2(fe, 2);
  rc = cmd_status(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so);
  close(se);
  close(fo);
  close(fe);
  size_t n;
  ck_assert_int_eq(rd_read_file(po, 1 << 20, out, &n), 0);
  ck_assert_int_eq(rd_read_file(pe, 1 << 20, errout, &n), 0);
  unlink(po);
  unlink(pe);
  return rc;
}

START_TEST(status_command) {
  rd_journal *j = open_j();
  int64_t a, b, c;
  char *out = NULL, *err = NULL;
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web01", "/etc/ssl/web.pem", &a, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, a, RD_JOB_FAILED, "web01: ssh:\nrefused"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web01", "/etc/ssl/web.pem", &b, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, b, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "iis", "win02", "LocalMachine\\My\\3F2A", &c, NULL),
                   0);
  ck_assert_int_eq(rd_journal_job_set_state(j, c, RD_JOB_NEEDS_OPERATOR, "expired"), 0);
  /* two instances' leases: one current, one past its expiry */
  rd_lease_owner oa = {.node = "node-a", .pid = 11, .start = 7};
  rd_lease_owner ob = {.node = "node-b", .pid = 12, .start = 8};
  rd_lease_req ra = {.host = "web01", .owner = &oa, .what = "runbook nginx, job 2", .ttl_s = 3600};
  rd_lease_req rb = {.host = "win02", .owner = &ob, .what = "runbook iis, job 3", .ttl_s = 60,
                     .now = time(NULL) - 120};
  int64_t ea, eb;
  ck_assert_int_eq(rd_journal_lease_claim(j, &ra, &ea, NULL), 0);
  ck_assert_int_eq(rd_journal_lease_claim(j, &rb, &eb, NULL), 0);
  rd_journal_close(j);

  char *argv1[] = {"status", "--journal", jtarget, NULL};
  ck_assert_int_eq(run_status(argv1, 3, &out, &err), RD_EXIT_OK);
  ck_assert_msg(!strncmp(out, "ID  HOST ", 9), "%s", out);
  ck_assert_msg(strstr(out, "PROBED") && strstr(out, "NEEDS_OPERATOR"), "%s", out);
  ck_assert_msg(!strstr(out, "FAILED"), "newest job per certificate only:\n%s", out);
  ck_assert_msg(strstr(out, "2 certificates: 1 active, 0 failed, 1 needs an operator"), "%s",
                out);
  {
    const char *la = strstr(out, "lease web01: held by node-a:11:7 (runbook nginx, job 2) since ");
    const char *lb = strstr(out, "lease win02: held by node-b:12:8 (runbook iis, job 3) since ");
    ck_assert_msg(la && lb, "%s", out);
    ck_assert_msg(!strstr(la, "expired") || strstr(la, "expired") > lb, "%s", out);
    ck_assert_msg(strstr(lb, "epoch 1 (expired: the next claim of the host takes it over)\n"),
                  "%s", out);
  }
  free(out);
  free(err);

  char *argv2[] = {"status", "--all", "--journal=", jtarget, NULL};
  char opt[700];
  snprintf(opt, sizeof opt, "--journal=%s", jtarget);
  argv2[2] = opt;
  ck_assert_int_eq(run_status(argv2, 3, &out, &err), RD_EXIT_OK);
  ck_assert_msg(strstr(out, "FAILED") && strstr(out, "web01: ssh: refused"), "%s", out);
  ck_assert_msg(strstr(out, "3 jobs: 1 active, 1 failed, 1 needs an operator"), "%s", out);
  free(out);
  free(err);

  char *argv3[] = {"status", "--json", "--all", "--journal", jtarget, NULL};
  ck_assert_int_eq(run_status(argv3, 5, &out, &err), RD_EXIT_OK);
  json_error_t jerr;
  json_t *doc = json_loads(out, 0, &jerr);
  ck_assert_msg(doc != NULL, "%s: %s", jerr.text, out);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "backend")),
                   jpg ? "postgresql" : "sqlite");
  json_t *leases = json_object_get(doc, "leases");
  ck_assert_int_eq(json_array_size(leases), 2);
  ck_assert(json_is_false(json_object_get(json_array_get(leases, 0), "expired")));
  ck_assert(json_is_true(json_object_get(json_array_get(leases, 1), "expired")));
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(leases, 1), "owner")),
                   "node-b:12:8");
  json_t *jobs = json_object_get(doc, "jobs");
  ck_assert_int_eq(json_array_size(jobs), 3);
  json_t *first = json_array_get(jobs, 0);
  ck_assert_str_eq(json_string_value(json_object_get(first, "state")), "NEEDS_OPERATOR");
  ck_assert_str_eq(json_string_value(json_object_get(first, "cert")), "LocalMachine\\My\\3F2A");
  ck_assert(json_is_true(json_object_get(first, "terminal")));
  ck_assert(json_is_null(json_object_get(first, "next_try")));
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(jobs, 2), "error")),
                   "web01: ssh:\nrefused");
  json_decref(doc);
  free(out);
  free(err);

  /* Usage errors and a missing journal (which status never creates). */
  char *argv4[] = {"status", "--bogus", NULL};
  ck_assert_int_eq(run_status(argv4, 2, &out, &err), RD_EXIT_USAGE);
  ck_assert_msg(strstr(err, "unknown argument '--bogus'"), "%s", err);
  free(out);
  free(err);
  char *argv5[] = {"status", "--journal", NULL};
  ck_assert_int_eq(run_status(argv5, 2, &out, &err), RD_EXIT_USAGE);
  free(out);
  free(err);
  char missing[600];
  snprintf(missing, sizeof missing, "%s/none.db", tmpdir);
  char *argv6[] = {"status", "--journal", missing, NULL};
  ck_assert_int_eq(run_status(argv6, 3, &out, &err), RD_EXIT_FAILED);
  ck_assert_msg(strstr(err, "journal ") && strstr(err, "none.db: not found"), "%s", err);
  ck_assert_int_ne(access(missing, F_OK), 0);
  free(out);
  free(err);
}
END_TEST

/* A job that resent a request after a lost reply and went on to DONE in a
 * run that was then killed before printing its report: status still says
 * the CA may hold an orphan (from the journaled step result), escaped, in
 * text and JSON; a job without one has no notice. */
START_TEST(status_orphan_notice) {
  rd_journal *j = open_j();
  int64_t a, b;
  char *out = NULL, *err = NULL;
  ck_assert_int_eq(rd_journal_job_open(j, "lab", "h0002", "/srv/tls/server.crt", &a, NULL), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "lab", "h0003", "/srv/tls/server.crt", &b, NULL), 0);
  json_t *res = json_pack("{s:{s:b, s:s, s:i}}", "orphan", "possible", 1, "txid", "e6ca", "resent",
                          2);
  rd_step_record rec = {.step = "issue", .phase = "apply", .result = res,
                        .message = "h0002: issued serial 17; the reply to request e6ca was lost "
                                   "and the identical request resent: the CA may hold an orphan "
                                   "certificate\x1b[2J"};
  rd_step_record plain = {.step = "issue", .phase = "apply", .message = "h0003: issued serial 18"};
  ck_assert_int_eq(rd_journal_step(j, a, &rec), 0);
  ck_assert_int_eq(rd_journal_step(j, b, &plain), 0);
  json_decref(res);
  rd_journal_close(j);

  char *argv1[] = {"status", "--journal", jtarget, NULL};
  ck_assert_int_eq(run_status(argv1, 3, &out, &err), RD_EXIT_OK);
  ck_assert_msg(strstr(out, "notice: job 1 (h0002 /srv/tls/server.crt): issue: h0002: issued "
                            "serial 17; the reply to request e6ca was lost and the identical "
                            "request resent: the CA may hold an orphan certificate\\x1b[2J\n"),
                "%s", out);
  ck_assert_msg(!strstr(out, "notice: job 2"), "%s", out);
  ck_assert_msg(!strchr(out, 0x1b), "raw ESC on the terminal: %s", out);
  free(out);
  free(err);

  char *argv2[] = {"status", "--json", "--journal", jtarget, NULL};
  ck_assert_int_eq(run_status(argv2, 4, &out, &err), RD_EXIT_OK);
  json_error_t jerr;
  json_t *doc = json_loads(out, 0, &jerr), *jb;
  size_t i, seen = 0;
  ck_assert_msg(doc != NULL, "%s: %s", jerr.text, out);
  json_array_foreach(json_object_get(doc, "jobs"), i, jb) {
    const json_t *nt = json_object_get(jb, "notice");
    if (json_integer_value(json_object_get(jb, "id")) == a) {
      ck_assert_str_eq(json_string_value(json_object_get(nt, "what")),
                       "possible orphan certificate at the CA");
      ck_assert_int_eq(json_integer_value(json_object_get(nt, "resent")), 2);
      seen++;
    } else {
      ck_assert_ptr_null(nt);
    }
  }
  ck_assert_int_eq(seen, 1);
  json_decref(doc);
  free(out);
  free(err);
}
END_TEST

static int count_step(const rd_step_row *r, void *arg) {
  ck_assert_str_eq(r->message, "resent");
  (*(int *)arg)++;
  return 0;
}

/* status --all over 40 jobs, each with steps, one of them with a notice:
 * the steps are read in one query, not one per job, and the notice is
 * still where it belongs. */
START_TEST(status_steps_one_query) {
  rd_journal *j = open_j();
  char *out = NULL, *err = NULL, host[32];
  int64_t id, marked = 0;
  json_t *res = json_pack("{s:{s:b, s:i}}", "orphan", "possible", 1, "resent", 1);
  for (int i = 0; i < 40; i++) {
    snprintf(host, sizeof host, "h%04d", i);
    ck_assert_int_eq(rd_journal_job_open(j, "lab", host, "/srv/tls/server.crt", &id, NULL), 0);
    rd_step_record rec = {.step = "issue", .phase = "apply", .result = i == 17 ? res : NULL,
                          .message = i == 17 ? "resent" : "issued"};
    ck_assert_int_eq(rd_journal_step(j, id, &rec), 0);
    if (i == 17)
      marked = id;
  }
  json_decref(res);
  /* the journal's call: the one marked step, a key that is not a plain name refused */
  int seen = 0;
  ck_assert_int_eq(rd_journal_steps_marked(j, "orphan", count_step, &seen), 0);
  ck_assert_int_eq(seen, 1);
  ck_assert_int_eq(rd_journal_steps_marked(j, "or%", count_step, &seen), RD_EINVAL);
  rd_journal_close(j);

  char *argv[] = {"status", "--all", "--journal", jtarget, NULL};
  steps_queries = 0;
  ck_assert_int_eq(run_status(argv, 4, &out, &err), RD_EXIT_OK);
  ck_assert_msg(steps_queries == 1, "status --all read the steps with %d queries for 40 jobs",
                steps_queries);
  char want[64];
  snprintf(want, sizeof want, "notice: job %lld (h0017 ", (long long)marked);
  ck_assert_msg(strstr(out, want) && !strstr(strstr(out, want) + 1, "notice: "), "%s", out);
  ck_assert_msg(strstr(out, "40 jobs: 40 active"), "%s", out);
  free(out);
  free(err);
}
END_TEST

/* Two instances of one PostgreSQL journal: a host lease and a claim of a
 * divided scan taken over from node-a by node-b after they expired. status
 * shows who holds what (claims on PostgreSQL only), --all the take-overs
 * (on both backends: a lease is taken over on SQLite too), escaped. */
START_TEST(status_claims_and_takeovers) {
  rd_journal *j = open_j();
  char *out = NULL, *err = NULL;
  time_t now = time(NULL);
  rd_lease_owner oa = {.node = "node-a", .pid = 11, .start = 7};
  rd_lease_owner ob = {.node = "node-b", .pid = 12, .start = 8};
  rd_lease_req ra = {.host = "web01", .owner = &oa, .what = "job 1", .ttl_s = 60, .now = now - 120};
  rd_lease_req rb = {.host = "web01", .owner = &ob, .what = "job 2", .ttl_s = 3600, .now = now};
  int64_t ea, eb;
  ck_assert_int_eq(rd_journal_lease_claim(j, &ra, &ea, NULL), 0);
  ck_assert_int_eq(rd_journal_lease_claim(j, &rb, &eb, NULL), 0);
  ck_assert_int_eq(eb, 2);
  if (jpg) {
    /* the status before any divided scan creates no work queue */
    rd_journal_close(j);
    char *argv0[] = {"status", "--journal", jtarget, NULL};
    ck_assert_int_eq(run_status(argv0, 3, &out, &err), RD_EXIT_OK);
    ck_assert_msg(!strstr(out, "claim "), "%s", out);
    ck_assert_int_eq(sql_int(NULL, "SELECT (to_regclass('work') IS NULL)::int"), 1);
    free(out);
    free(err);
    j = open_j();
    static const char *const hosts[] = {"h1", "h2\x1b[2J"};
    rd_work_plan_req pr = {.runbook = "lab", .hosts = hosts, .nhosts = 2, .owner = "node-a:11:7",
                           .interval_s = 3600, .now = now - 120};
    int planned, queued;
    rd_work_item *items = NULL;
    size_t n = 0;
    ck_assert_int_eq(rd_work_plan(j, &pr, &planned, &queued), 0);
    ck_assert_int_eq(queued, 2);
    ck_assert_int_eq(rd_work_claim(j, "lab", "node-a:11:7", 60, 2, now - 120, &items, &n), 0);
    ck_assert_int_eq(n, 2);
    free(items);
    ck_assert_int_eq(rd_work_claim(j, "lab", "node-b:12:8", 3600, 1, now, &items, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert(items[0].takeover);
    ck_assert_str_eq(items[0].host, "h1");
    free(items);
  }
  rd_journal_close(j);

  char *argv1[] = {"status", "--journal", jtarget, NULL};
  ck_assert_int_eq(run_status(argv1, 3, &out, &err), RD_EXIT_OK);
  ck_assert_msg(strstr(out, "lease web01: held by node-b:12:8 (job 2) since "), "%s", out);
  ck_assert_msg(!strstr(out, "takeover "), "take-overs are for --all:\n%s", out);
  if (jpg) {
    /* h1's line is not marked expired (the next, h2's, is) */
    const char *h1 =
        strstr(out, "\nclaim h1 (runbook lab): held by node-b:12:8, epoch 2, expires ");
    ck_assert_msg(h1 && strchr(h1 + 1, '\n') < strstr(h1, " (expired"), "%s", out);
    const char *h2 = strstr(out, "\nclaim h2\\x1b[2J (runbook lab): held by node-a:11:7, epoch 1, "
                                 "expires ");
    ck_assert_msg(h2 && strstr(h2, " (expired: the next claim of the runbook's work takes it "
                                   "over)\n"),
                  "%s", out);
  } else {
    ck_assert_msg(!strstr(out, "claim "), "%s", out);
  }
  ck_assert_msg(!strchr(out, 0x1b), "raw ESC on the terminal: %s", out);
  free(out);
  free(err);

  char *argv2[] = {"status", "--all", "--journal", jtarget, NULL};
  ck_assert_int_eq(run_status(argv2, 4, &out, &err), RD_EXIT_OK);
  {
    const char *t = strstr(out, "\ntakeover ");
    ck_assert_msg(t && strstr(t, ": lease web01 by node-b:12:8, epoch 2, from node-a:11:7 "
                                 "(expired "),
                  "%s", out);
    ck_assert_int_eq(!!strstr(out, ": claim h1 (runbook lab) by node-b:12:8, epoch 2, from "
                                   "node-a:11:7 (expired "),
                     jpg);
  }
  free(out);
  free(err);

  char *argv3[] = {"status", "--all", "--json", "--journal", jtarget, NULL};
  ck_assert_int_eq(run_status(argv3, 5, &out, &err), RD_EXIT_OK);
  json_error_t jerr;
  json_t *doc = json_loads(out, 0, &jerr);
  ck_assert_msg(doc != NULL, "%s: %s", jerr.text, out);
  json_t *claims = json_object_get(doc, "claims"), *tk = json_object_get(doc, "takeovers");
  ck_assert_int_eq(json_array_size(tk), jpg ? 2 : 1);
  json_t *t0 = json_array_get(tk, 0);
  ck_assert_str_eq(json_string_value(json_object_get(t0, "kind")), "lease");
  ck_assert_str_eq(json_string_value(json_object_get(t0, "host")), "web01");
  ck_assert_ptr_null(json_object_get(t0, "runbook"));
  ck_assert_int_eq(json_integer_value(json_object_get(t0, "epoch")), 2);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(t0, "previous"), "owner")),
                   "node-a:11:7");
  if (!jpg) {
    ck_assert_ptr_null(claims);
  } else {
    json_t *t1 = json_array_get(tk, 1), *c0 = json_array_get(claims, 0),
           *c1 = json_array_get(claims, 1);
    ck_assert_str_eq(json_string_value(json_object_get(t1, "kind")), "claim");
    ck_assert_str_eq(json_string_value(json_object_get(t1, "runbook")), "lab");
    ck_assert_str_eq(json_string_value(json_object_get(t1, "owner")), "node-b:12:8");
    ck_assert_int_eq(json_array_size(claims), 2);
    ck_assert_str_eq(json_string_value(json_object_get(c0, "owner")), "node-b:12:8");
    ck_assert_int_eq(json_integer_value(json_object_get(c0, "epoch")), 2);
    ck_assert(json_is_false(json_object_get(c0, "expired")));
    ck_assert_str_eq(json_string_value(json_object_get(c1, "host")), "h2\x1b[2J");
    ck_assert(json_is_true(json_object_get(c1, "expired")));
  }
  json_decref(doc);
  free(out);
  free(err);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_status (postgresql)" : "journal_status (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, status_command);
  tcase_add_test(tc, status_orphan_notice);
  tcase_add_test(tc, status_steps_one_query);
  tcase_add_test(tc, status_claims_and_takeovers);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
