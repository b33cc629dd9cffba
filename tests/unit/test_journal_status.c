/* test_journal_status.c — renewd status reading the journal (both backends). */
#include "test_journal_fixture.h"

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

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_status (postgresql)" : "journal_status (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, status_command);
  tcase_add_test(tc, status_orphan_notice);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
