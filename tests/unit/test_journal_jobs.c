/* test_journal_jobs.c — jobs in the journal: one active job per (host,
 * cert), checked transitions and their history, resume, failures, kv, atomic
 * advances, listings. */
#include "test_journal_fixture.h"

/* ---- jobs -------------------------------------------------------------- */

START_TEST(job_open_active_then_new) {
  rd_journal *j = open_j();
  int64_t a, b, c, d;
  int created = -1;
  rd_job_row row;
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/web.pem", &a, &created), 0);
  ck_assert_int_eq(created, 1);
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/web.pem", &b, &created), 0);
  ck_assert_int_eq(created, 0);
  ck_assert_int_eq(a, b);
  /* Another cert or host: another job. */
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/api.pem", &c, &created), 0);
  ck_assert_int_eq(created, 1);
  ck_assert_int_ne(c, a);
  ck_assert_int_eq(rd_journal_job_get(j, a, &row), 0);
  ck_assert_int_eq(row.id, a);
  ck_assert_str_eq(row.runbook, "nginx");
  ck_assert_str_eq(row.host, "web1");
  ck_assert_str_eq(row.cert, "/etc/ssl/web.pem");
  ck_assert_int_eq(row.state, RD_JOB_DUE);
  ck_assert_int_eq(row.attempts, 0);
  ck_assert_int_eq(row.next_try, 0);
  ck_assert_str_eq(row.error, "");
  ck_assert(row.created > 0 && row.updated >= row.created);
  /* After a terminal state: a new job. */
  ck_assert_int_eq(rd_journal_job_set_state(j, a, RD_JOB_FAILED, "web1: ssh: timed out"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "nginx", "web1", "/etc/ssl/web.pem", &d, &created), 0);
  ck_assert_int_eq(created, 1);
  ck_assert(d > a);
  ck_assert_int_eq(rd_journal_job_last(j, "web1", "/etc/ssl/web.pem", &row), 0);
  ck_assert_int_eq(row.id, d);
  ck_assert_int_eq(rd_journal_job_last(j, "web9", "/x", &row), RD_ENOTFOUND);
  ck_assert_int_eq(rd_journal_job_get(j, 9999, &row), RD_ENOTFOUND);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "job 9999: not found"), "%s", rd_journal_errmsg(j));
  /* The partial unique index refuses a second active row, even from raw SQL. */
  rd_journal_close(j);
  char msg[256];
  ck_assert_int_eq(sql_exec(dbpath,
                            "INSERT INTO jobs(runbook, host, cert, state, terminal, created,"
                            " updated) VALUES ('x', 'web1', '/etc/ssl/web.pem', 'DUE', 0, 1, 1)",
                            msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  /* ...but any number of ended ones. */
  ck_assert_int_eq(sql_exec(dbpath,
                            "INSERT INTO jobs(runbook, host, cert, state, terminal, created,"
                            " updated) VALUES ('x', 'web1', '/etc/ssl/web.pem', 'DONE', 1, 1, 1)",
                            msg, sizeof msg),
                   SQLITE_OK);
  j = open_j();
  /* Bad input. */
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "", "/c", &a, &created), RD_EINVAL);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", NULL, &a, &created), RD_EINVAL);
  char longhost[400];
  memset(longhost, 'h', sizeof longhost - 1);
  longhost[sizeof longhost - 1] = '\0';
  ck_assert_int_eq(rd_journal_job_open(j, "rb", longhost, "/c", &a, &created), RD_EOVERFLOW);
  rd_journal_close(j);
}
END_TEST

START_TEST(transitions_checked) {
  rd_journal *j = open_j();
  int64_t id;
  rd_job_row row;
  history h = {0};
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  /* Illegal: nothing changes, RD_ESTATE with a sentence. */
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_INSTALLED, NULL), RD_ESTATE);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "DUE -> INSTALLED is not a legal transition"),
                "%s", rd_journal_errmsg(j));
  ck_assert_msg(!strncmp(rd_journal_errmsg(j), "journal ", 8), "%s", rd_journal_errmsg(j));
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_DUE, NULL), RD_ESTATE);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, (rd_job_state)99, NULL), RD_EINVAL);
  ck_assert_int_eq(rd_journal_job_set_state(j, 4242, RD_JOB_PROBED, NULL), RD_ENOTFOUND);
  /* The whole forward path, with a transient retry on the way. */
  static const rd_job_state path[] = {RD_JOB_PROBED,    RD_JOB_KEY_READY, RD_JOB_REQUESTED,
                                      RD_JOB_PENDING_CA, RD_JOB_REQUESTED, RD_JOB_ISSUED,
                                      RD_JOB_INSTALLED, RD_JOB_FOLLOWUPS, RD_JOB_VERIFIED,
                                      RD_JOB_DONE};
  for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
    ck_assert_int_eq(rd_journal_job_set_state(j, id, path[i], NULL), 0);
    if (path[i] == RD_JOB_PENDING_CA) {
      ck_assert_int_eq(rd_journal_job_retry(j, id, "ca: pending", 1700000000), 0);
      ck_assert_int_eq(rd_journal_job_retry(j, id, "ca: still pending", 1700000600), 0);
      ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
      ck_assert_int_eq(row.attempts, 2);
      ck_assert_int_eq(row.next_try, 1700000600);
      ck_assert_str_eq(row.error, "ca: still pending");
      ck_assert_int_eq(row.state, RD_JOB_PENDING_CA);
    }
  }
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_DONE);
  ck_assert_str_eq(row.error, ""); /* a transition without error clears it */
  ck_assert_int_eq(row.next_try, 0);
  ck_assert_int_eq(row.attempts, 2);
  /* Ended: nothing moves it any more. */
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_FAILED, "late"), RD_ESTATE);
  ck_assert_msg(strstr(rd_journal_errmsg(j), "(the job has ended)"), "%s", rd_journal_errmsg(j));
  ck_assert_int_eq(rd_journal_job_retry(j, id, "x", 0), RD_ESTATE);
  /* next_try is allowed on ended jobs (backoff before the next job). */
  ck_assert_int_eq(rd_journal_job_set_next_try(j, id, 1800000000), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.next_try, 1800000000);
  /* A backoff set before a transition: cleared when the job moves on,
   * kept when it ends (the engine's "set next_try, then FAILED"). */
  int64_t id2;
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id2, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_next_try(j, id2, 1700000000), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id2, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id2, &row), 0);
  ck_assert_int_eq(row.next_try, 0);
  ck_assert_int_eq(rd_journal_job_set_next_try(j, id2, 1700000001), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id2, RD_JOB_FAILED, "ssh: timed out"), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id2, &row), 0);
  ck_assert_int_eq(row.next_try, 1700000001);
  ck_assert_int_eq(rd_journal_job_set_next_try(j, 4242, 1), RD_ENOTFOUND);
  /* The history. */
  ck_assert_int_eq(rd_journal_transitions(j, id, collect_tr, &h), 0);
  ck_assert_int_eq(h.n, 11);
  ck_assert_int_eq(h.rows[0].from, -1);
  ck_assert_int_eq(h.rows[0].to, RD_JOB_DUE);
  ck_assert_str_eq(h.rows[0].kind, "create");
  for (int i = 1; i < h.n; i++) {
    ck_assert_int_eq(h.rows[i].from, h.rows[i - 1].to);
    ck_assert_int_eq(h.rows[i].to, path[i - 1]);
    ck_assert_str_eq(h.rows[i].kind, "transition");
  }
  history_free(&h);
  rd_journal_close(j);
}
END_TEST

START_TEST(resume_and_failures) {
  rd_journal *j = open_j();
  int64_t id;
  rd_job_state st;
  history h = {0};
  int n = -1;
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_KEY_READY, NULL), 0);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0);
  ck_assert_int_eq(st, RD_JOB_PROBED);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0); /* idempotent */
  ck_assert_int_eq(st, RD_JOB_PROBED);
  ck_assert_int_eq(rd_journal_transitions(j, id, collect_tr, &h), 0);
  ck_assert_int_eq(h.n, 4);
  ck_assert_str_eq(h.rows[3].kind, "resume");
  ck_assert_int_eq(h.rows[3].from, RD_JOB_KEY_READY);
  ck_assert_int_eq(h.rows[3].to, RD_JOB_PROBED);
  history_free(&h);
  /* PROBED -> REQUESTED: the key found again is reused. */
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_REQUESTED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0);
  ck_assert_int_eq(st, RD_JOB_REQUESTED);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_FAILED, "ca: denied"), 0);
  ck_assert_int_eq(rd_journal_job_resume(j, id, &st), 0);
  ck_assert_int_eq(st, RD_JOB_FAILED);
  ck_assert_int_eq(rd_journal_job_resume(j, 31337, &st), RD_ENOTFOUND);
  /* Failure streaks: FAILED, ROLLED_BACK count; DONE ends the streak. */
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_REQUESTED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_ISSUED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_ROLLING_BACK, "install failed"), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_ROLLED_BACK, NULL), 0);
  /* An active job does not interrupt the count. */
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_DONE, NULL), 0);
  ck_assert_int_eq(rd_journal_failures(j, "h", "c", &n), 0);
  ck_assert_int_eq(n, 0);
  rd_journal_close(j);
}
END_TEST

/* ---- kv, steps, advance ------------------------------------------------ */

START_TEST(kv_roundtrip) {
  rd_journal *j = open_j();
  int64_t id;
  json_t *v = NULL, *obj = json_pack("{s:s, s:i, s:[b, n]}", "tid", "A1B2", "n", 7, "l", 1);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.tid", &v), RD_ENOTFOUND);
  ck_assert_ptr_null(v);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "scep.tid", obj), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.tid", &v), 0);
  ck_assert(json_equal(v, obj));
  json_decref(v);
  /* Scalars, overwrite, unicode. */
  json_t *s = json_string("Zertifikat für ÄÖÜ \"quoted\" \\ back");
  ck_assert_int_eq(rd_journal_kv_put(j, id, "scep.tid", s), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "scep.tid", &v), 0);
  ck_assert(json_equal(v, s));
  json_decref(v);
  json_decref(s);
  s = json_integer(-123456789012LL);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "n", s), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "n", &v), 0);
  ck_assert_int_eq(json_integer_value(v), -123456789012LL);
  json_decref(v);
  json_decref(s);
  /* Survives reopening. */
  rd_journal_close(j);
  j = open_j();
  ck_assert_int_eq(rd_journal_kv_get(j, id, "n", &v), 0);
  json_decref(v);
  /* Delete. */
  ck_assert_int_eq(rd_journal_kv_put(j, id, "n", NULL), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "n", &v), RD_ENOTFOUND);
  /* No such job, no key. */
  ck_assert_int_eq(rd_journal_kv_put(j, 777, "k", obj), RD_ENOTFOUND);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "", obj), RD_EINVAL);
  json_decref(obj);
  rd_journal_close(j);
}
END_TEST

START_TEST(advance_is_atomic) {
  rd_journal *j = open_j();
  int64_t id;
  json_t *v = NULL, *kv = json_pack("{s:s, s:n}", "tid", "T-1", "gone", 0);
  json_t *res = json_pack("{s:s}", "to", "PROBED");
  rd_step_record step = {.step = "posix.inventory", .phase = "probe", .status = 0, .ms = 12.5,
                         .result = res, .message = "found 1 certificate"};
  rd_job_advance a = {.to = RD_JOB_PROBED, .kv = kv, .step = &step};
  steps_seen seen = {0};
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h", "c", &id, NULL), 0);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "gone", json_true()), 0);
  ck_assert_int_eq(rd_journal_job_advance(j, id, &a), 0);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "tid", &v), 0);
  ck_assert_str_eq(json_string_value(v), "T-1");
  json_decref(v);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "gone", &v), RD_ENOTFOUND); /* null deletes */
  ck_assert_int_eq(rd_journal_steps(j, id, collect_step, &seen), 0);
  ck_assert_int_eq(seen.n, 1);
  ck_assert_str_eq(seen.v[0].step, "posix.inventory/probe");
  ck_assert_str_eq(seen.v[0].to, "PROBED");
  /* An illegal advance writes none of its parts. */
  json_t *kv2 = json_pack("{s:s}", "tid", "T-2");
  rd_job_advance bad = {.to = RD_JOB_DONE + 0, .kv = kv2, .step = &step};
  bad.to = RD_JOB_ISSUED; /* PROBED -> ISSUED is illegal */
  ck_assert_int_eq(rd_journal_job_advance(j, id, &bad), RD_ESTATE);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "tid", &v), 0);
  ck_assert_str_eq(json_string_value(v), "T-1");
  json_decref(v);
  seen.n = 0;
  ck_assert_int_eq(rd_journal_steps(j, id, collect_step, &seen), 0);
  ck_assert_int_eq(seen.n, 1);
  /* A step record that fails validation rolls the transition back. */
  rd_step_record nostep = {.step = "", .phase = "apply"};
  rd_job_advance bad2 = {.to = RD_JOB_KEY_READY, .kv = kv2, .step = &nostep};
  ck_assert_int_eq(rd_journal_job_advance(j, id, &bad2), RD_EINVAL);
  rd_job_row row;
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_PROBED);
  ck_assert_int_eq(rd_journal_kv_get(j, id, "tid", &v), 0);
  ck_assert_str_eq(json_string_value(v), "T-1");
  json_decref(v);
  /* kv must be an object. */
  rd_job_advance bad3 = {.to = RD_JOB_KEY_READY, .kv = res};
  json_t *arr = json_array();
  bad3.kv = arr;
  ck_assert_int_eq(rd_journal_job_advance(j, id, &bad3), RD_EINVAL);
  json_decref(arr);
  /* FAILED with its backoff, in one go. */
  rd_job_advance fail = {.to = RD_JOB_FAILED, .error = "ca: denied", .next_try = 1900000000};
  ck_assert_int_eq(rd_journal_job_advance(j, id, &fail), 0);
  ck_assert_int_eq(rd_journal_job_get(j, id, &row), 0);
  ck_assert_int_eq(row.state, RD_JOB_FAILED);
  ck_assert_int_eq(row.next_try, 1900000000);
  ck_assert_str_eq(row.error, "ca: denied");
  /* Plain step records. */
  rd_step_record r2 = {.step = "posix.install", .phase = "rollback", .status = RD_EREMOTE};
  ck_assert_int_eq(rd_journal_step(j, id, &r2), 0);
  ck_assert_int_eq(rd_journal_step(j, 5555, &r2), RD_ENOTFOUND);
  seen.n = 0;
  ck_assert_int_eq(rd_journal_steps(j, id, collect_step, &seen), 0);
  ck_assert_int_eq(seen.n, 2);
  ck_assert_str_eq(seen.v[1].step, "posix.install/rollback");
  ck_assert_str_eq(seen.v[1].to, "-");
  ck_assert_int_eq(seen.v[1].status, RD_EREMOTE);
  free(seen.v);
  json_decref(kv);
  json_decref(kv2);
  json_decref(res);
  rd_journal_close(j);
}
END_TEST

/* ---- listing ----------------------------------------------------------- */

typedef struct {
  rd_journal *j;
  int n;
  int64_t ids[32];
  int stop_at;
} listing;

static int collect_job(const rd_job_row *r, void *arg) {
  listing *l = arg;
  rd_job_row again;
  /* Re-entrant use of the journal from inside the walk. */
  ck_assert_int_eq(rd_journal_job_get(l->j, r->id, &again), 0);
  ck_assert_int_eq(again.state, r->state);
  if (l->n < 32)
    l->ids[l->n] = r->id;
  l->n++;
  return l->stop_at && l->n == l->stop_at ? 42 : 0;
}

START_TEST(listing_jobs) {
  rd_journal *j = open_j();
  int64_t a, b, c, d;
  listing l = {.j = j};
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h2", "c", &a, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, a, RD_JOB_FAILED, "x"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h2", "c", &b, NULL), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "c", &c, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, c, RD_JOB_NEEDS_OPERATOR, "expired"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h3", "c", &d, NULL), 0);
  ck_assert_int_eq(rd_journal_jobs(j, 0, 0, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 4);
  ck_assert(l.ids[0] == d && l.ids[1] == c && l.ids[2] == b && l.ids[3] == a);
  l.n = 0;
  ck_assert_int_eq(rd_journal_jobs(j, 1, 0, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 2);
  ck_assert(l.ids[0] == d && l.ids[1] == b);
  l.n = 0;
  ck_assert_int_eq(rd_journal_jobs(j, 0, 3, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 3);
  l.n = 0;
  ck_assert_int_eq(rd_journal_jobs_latest(j, collect_job, &l), 0);
  ck_assert_int_eq(l.n, 3); /* h1, h2 (newest only), h3 */
  ck_assert(l.ids[0] == c && l.ids[1] == b && l.ids[2] == d);
  l.n = 0;
  l.stop_at = 2;
  ck_assert_int_eq(rd_journal_jobs(j, 0, 0, collect_job, &l), 42);
  ck_assert_int_eq(l.n, 2);
  rd_journal_close(j);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_jobs (postgresql)" : "journal_jobs (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, job_open_active_then_new);
  tcase_add_test(tc, transitions_checked);
  tcase_add_test(tc, resume_and_failures);
  tcase_add_test(tc, kv_roundtrip);
  tcase_add_test(tc, advance_is_atomic);
  tcase_add_test(tc, listing_jobs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
