/* test_engine_lease.c — the engine and the host lease (core/lease.c,
 * docs/JOURNAL.md "Host leases"), with asynchronous step kinds defined here
 * (every phase answers from host->work() after a short sleep, as a remote
 * script would): two runbooks on one host run one after the other and the
 * second probes the host again under the lease; a lease held by another
 * process ends the job BUSY with nothing changed; the lease is released
 * whatever the outcome; a lease taken over while the job runs stops it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "config/runbook.h"
#include "core/engine.h"
#include "host/registry.h"
#include "store/journal.h"
#include "async_kinds.h"
#include "engine_run.h"
#include "testutil.h"

static int host_serial;     /* /etc/pki/t1.crt live on t1: 1 until installed */
static int other_serial;    /* /etc/pki/other.crt, likewise */
static int fail_issue;      /* the issuer's apply fails */
static int steal_on_install; /* inst.apply hands the lease to another owner */
static long inst_apply_ms;  /* how long inst.apply takes */
static int remediate;       /* run as `renewd remediate` */
static int block_reload;    /* rs.probe: cannot succeed once the other job installed */
static int renewed_elsewhere; /* after the first probe, another instance renews t1 */
static char jdir[64], jpath[128];

static void sql(const char *q) {
  sqlite3 *db = NULL;
  ck_assert_int_eq(sqlite3_open_v2(jpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ck_assert_msg(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", q, sqlite3_errmsg(db));
  sqlite3_close(db);
}

/* The serial of the step's certificate on the host. */
static int *serial_of(rd_step *s, const rd_host_api *h) {
  const char *cert = json_string_value(json_object_get(h->section(s, "certificate"), "cert"));
  return cert && strstr(cert, "other") ? &other_serial : &host_serial;
}

static void answered(rd_step *s, int status, const tu_answer *a) {
  const rd_host_api *h = a->h;
  int st = 0;
  if (!status) {
    tu_note(a->name);
    if (!strcmp(a->name, "inv.probe")) {
      time_t now = time(NULL);
      int serial = *serial_of(s, h);
      long left = serial > 1 ? 60 : 1; /* days: renewed, or due */
      json_object_set_new(h->facts(s), "cert",
                          json_pack("{s:s, s:I, s:I, s:i}", "sha256", "old", "not_before",
                                    (json_int_t)(now - 29 * 86400), "not_after",
                                    (json_int_t)(now + left * 86400), "serial", serial));
      if (renewed_elsewhere) { /* it held the lease after our probe, and renewed */
        char q[400];
        renewed_elsewhere = 0;
        host_serial++;
        snprintf(q, sizeof q,
                 "INSERT INTO leases(host, held, owner, node, pid, start, what, since, expires,"
                 " epoch) VALUES ('t1', 0, 'other:2:2', 'other', 2, 2, 'runbook elsewhere',"
                 " %lld, %lld, 1)",
                 (long long)now, (long long)now);
        sql(q);
      }
    } else if (!strcmp(a->name, "iss.apply")) {
      if (fail_issue)
        st = RD_EDENIED;
      else {
        h->set_state(s, "KEY_READY");
        h->set_state(s, "REQUESTED");
        json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
      }
    } else if (!strcmp(a->name, "inst.apply")) {
      (*serial_of(s, h))++;
    } else if (!strcmp(a->name, "rs.probe") && block_reload && *serial_of(s, h) == 1 &&
               host_serial + other_serial > 2) {
      st = RD_ENOTFOUND; /* the other job's change took what this reload needs */
    }
  }
  h->done(s, status ? status : st, NULL,
          st == RD_ENOTFOUND ? "reload: cannot succeed now" : st ? "denied on purpose" : NULL);
}

static int start(rd_step *s, const rd_host_api *h, const char *name, long ms) {
  return tu_answer_later(s, &(tu_answer){.h = h, .name = name, .ms = ms, .fn = answered});
}

#define PHASE(fn, label)                                                       \
  static int fn(rd_step *s, const rd_host_api *h) { return start(s, h, label, 20); }
PHASE(inv_probe, "inv.probe")
PHASE(iss_probe, "iss.probe")
PHASE(iss_apply, "iss.apply")
PHASE(iss_rollback, "iss.rollback")
PHASE(inst_probe, "inst.probe")
PHASE(inst_verify, "inst.verify")
PHASE(inst_rollback, "inst.rollback")
PHASE(rs_probe, "rs.probe")
PHASE(rs_apply, "rs.apply")
PHASE(chk_probe, "chk.probe")
PHASE(chk_verify, "chk.verify")

static int inst_apply(rd_step *s, const rd_host_api *h) {
  if (steal_on_install) /* another process takes the host over meanwhile */
    sql("UPDATE leases SET owner = 'thief:1:1', node = 'thief', pid = 1, start = 1,"
        " epoch = epoch + 1");
  return start(s, h, "inst.apply", inst_apply_ms);
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER,
                                   .probe = iss_probe, .apply = iss_apply,
                                   .rollback = iss_rollback};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = inst_probe, .apply = inst_apply,
                                    .verify = inst_verify, .rollback = inst_rollback};
static const rd_step_kind k_rs = {.type = "test.restart", .flags = RD_KIND_RESTART,
                                  .probe = rs_probe, .apply = rs_apply};
static const rd_step_kind k_chk = {.type = "test.check", .flags = RD_KIND_CHECK,
                                   .probe = chk_probe, .verify = chk_verify};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

/* A runbook NAME for host t1 and certificate CERT, written to the test dir. */
static void write_runbook(const char *file, const char *name, const char *cert) {
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"%s\","
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\","
          " \"platform\": \"posix\"}]},"
          " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\","
          " \"known_hosts\": \"/nonexistent/kh\"},"
          " \"certificate\": {\"cert\": \"%s\", \"key\": \"/etc/pki/t1.key\"},"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\","
          " \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
          " \"policy\": {\"renew_before\": \"10d\"},"
          " \"steps\": [{\"type\": \"test.restart\", \"name\": \"restart\"},"
          " {\"type\": \"test.check\", \"name\": \"check\"}]}\n",
          name, cert);
  fclose(f);
}

typedef tu_engine_out run_out;

/* Run the runbook files (NULL-terminated) in one engine on the journal. */
static run_out run_files(const char *const *files) {
  run_out o = {0};
  rd_engine_opts eo = {.remediate = remediate};
  tu_trace[0] = 0;
  tu_engine_run(&plugin, files, &eo, jpath, &o);
  return o;
}

static void run_free(run_out *o) { tu_engine_out_free(o); }

static const char *job_str(const run_out *o, size_t i, const char *key) {
  return json_string_value(
      json_object_get(json_array_get(json_object_get(o->report, "jobs"), i), key));
}

/* The t1 lease as "held epoch owner", or "none". */
static void lease_of(char *buf, size_t len) {
  rd_journal *j = NULL;
  rd_lease_row row;
  char err[512];
  ck_assert_int_eq(rd_journal_open(jpath, &j, err, sizeof err), 0);
  if (rd_journal_lease_get(j, "t1", &row) == 0)
    snprintf(buf, len, "%d %lld %.80s", row.held, (long long)row.epoch, row.owner);
  else
    snprintf(buf, len, "none");
  rd_journal_close(j);
}

static char rb_a[160], rb_b[160], rb_c[160];

static void setup(void) {
  tu_tmpdir(jdir, jpath, "lease");
  snprintf(rb_a, sizeof rb_a, "%s/a.json", jdir);
  snprintf(rb_b, sizeof rb_b, "%s/b.json", jdir);
  snprintf(rb_c, sizeof rb_c, "%s/c.json", jdir);
  write_runbook(rb_a, "rb-a", "/etc/pki/t1.crt");
  write_runbook(rb_b, "rb-b", "/etc/pki/t1.crt"); /* the same certificate */
  write_runbook(rb_c, "rb-c", "/etc/pki/other.crt");
  host_serial = 1;
  other_serial = 1;
  fail_issue = 0;
  steal_on_install = 0;
  inst_apply_ms = 20;
  remediate = 0;
  block_reload = 0;
  renewed_elsewhere = 0;
  unsetenv("RENEWD_LEASE_TTL");
}

static void teardown(void) { tu_tmpdir_remove(jdir); }

#define RENEWAL "iss.probe iss.apply inst.probe inst.apply inst.verify rs.probe rs.apply " \
                "chk.probe chk.verify"
/* the pre-flight (every step's probe, read-only, before the lease) */
#define PREFLIGHT "iss.probe inst.probe rs.probe chk.probe"
/* two jobs' pre-flights, interleaved step by step */
#define PREFLIGHT2 "iss.probe iss.probe inst.probe inst.probe rs.probe rs.probe chk.probe chk.probe"

static int cmp_words(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}
/* The words of the first n characters of s, sorted, into out. */
static void sorted_words(const char *s, size_t n, char *out, size_t len) {
  char buf[4096], *w[256], *save = NULL;
  size_t k = 0;
  snprintf(buf, sizeof buf, "%.*s", (int)n, s);
  for (char *t = strtok_r(buf, " ", &save); t && k < 256; t = strtok_r(NULL, " ", &save))
    w[k++] = t;
  qsort(w, k, sizeof *w, cmp_words);
  out[0] = 0;
  for (size_t i = 0; i < k; i++)
    snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", w[i]);
}
/* The words of s that change something (an apply or a verify), in order. */
static void changes(const char *s, char *out, size_t len) {
  char buf[4096], *save = NULL;
  snprintf(buf, sizeof buf, "%s", s);
  out[0] = 0;
  for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
    if (!strstr(t, ".probe"))
      snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "", t);
}
/* Two jobs probe side by side, then one renews under the lease while the
 * other may still be probing: the order of the probes depends on the thread
 * pool (journal work) and the load, so the trace is checked for what the
 * lease promises: the same probes and changes as want = side_by_side + then,
 * the changes in exactly then's order (never interleaved), and the waiting
 * job's probe under the lease (then's first probe after its first change)
 * after the first job's last change. */
static void assert_trace(const char *side_by_side, const char *then) {
  char want[4096], got[4096], all[4096], gc[4096], wc[4096];
  snprintf(all, sizeof all, "%s%s", side_by_side, then);
  sorted_words(tu_trace, strlen(tu_trace), got, sizeof got);
  sorted_words(all, strlen(all), want, sizeof want);
  ck_assert_msg(!strcmp(got, want), "trace: %s, want (any order) %s", tu_trace, all);
  changes(tu_trace, gc, sizeof gc);
  changes(then, wc, sizeof wc);
  ck_assert_msg(!strcmp(gc, wc), "changes: %s, want %s (trace %s)", gc, wc, tu_trace);
  /* the first renewal ends with " chk.verify"; the reprobe comes after it */
  const char *end = strstr(tu_trace, "chk.verify"), *re = strstr(then, "chk.verify");
  if (re && strstr(re, "inv.probe")) {
    ck_assert_msg(end && strstr(end, "inv.probe"), "no probe under the lease after the first renewal: %s",
                  tu_trace);
  }
}

/* Two runbooks, one host, one certificate: both probe (in parallel), the
 * first renews alone, the second waits for the host, probes it again under
 * the lease and finds the certificate renewed: NOT_DUE, nothing changed. */
START_TEST(same_host_serialized_and_reprobed) {
  const char *files[] = {rb_a, rb_b, NULL};
  char lease[128];
  run_out o = run_files(files);
  assert_trace("inv.probe inv.probe " PREFLIGHT2, " " RENEWAL " inv.probe");
  ck_assert_int_eq(o.code, 10);
  ck_assert_int_eq(o.stats.renewed, 1);
  ck_assert_int_eq(o.stats.due, 1);
  /* whichever probe answered first renews */
  size_t done = !strcmp(job_str(&o, 0, "state"), "DONE") ? 0 : 1;
  ck_assert_str_eq(job_str(&o, done, "state"), "DONE");
  ck_assert_str_eq(job_str(&o, 1 - done, "state"), "NOT_DUE");
  ck_assert(json_is_true(json_object_get(
      json_array_get(json_object_get(o.report, "jobs"), 1 - done), "reprobed")));
  lease_of(lease, sizeof lease);
  ck_assert_msg(!strncmp(lease, "0 2 ", 4), "lease: %s", lease); /* claimed twice, free */
  run_free(&o);
}
END_TEST

/* The host changed while the second job waited for it (the first job's
 * change took what the second's reload needs): the second runs its
 * pre-flight again under the lease, and that probe stops it before the CA
 * is asked for anything. */
START_TEST(preflight_again_after_the_wait) {
  const char *files[] = {rb_a, rb_c, NULL};
  block_reload = 1;
  run_out o = run_files(files);
  assert_trace("inv.probe inv.probe " PREFLIGHT2,
               " " RENEWAL " inv.probe iss.probe inst.probe rs.probe");
  ck_assert_int_eq(o.stats.renewed, 1);
  ck_assert_int_eq(o.stats.failed, 1);
  size_t failed = !strcmp(job_str(&o, 0, "state"), "FAILED") ? 0 : 1;
  ck_assert_str_eq(job_str(&o, failed, "state"), "FAILED");
  ck_assert_msg(strstr(job_str(&o, failed, "error"), "reload: cannot succeed now"), "%s", o.text);
  run_free(&o);
}
END_TEST

/* Another renewd instance (a shared journal) held the host's lease after
 * this engine's probe and renewed the certificate: the job probes again
 * under its lease and ends NOT_DUE instead of signing for a stale one. */
START_TEST(held_elsewhere_since_probe_reprobed) {
  const char *files[] = {rb_a, NULL};
  char lease[128];
  renewed_elsewhere = 1;
  run_out o = run_files(files);
  ck_assert_str_eq(tu_trace, "inv.probe " PREFLIGHT " inv.probe");
  ck_assert_int_eq(o.stats.renewed, 0);
  ck_assert_str_eq(job_str(&o, 0, "state"), "NOT_DUE");
  ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(o.report, "jobs"), 0),
                                         "reprobed")));
  lease_of(lease, sizeof lease);
  ck_assert_msg(!strncmp(lease, "0 2 ", 4), "lease: %s", lease);
  run_free(&o);
}
END_TEST

/* Two certificates of one host in two runbooks: both renew, never
 * interleaved (every phase of the first before any of the second). */
START_TEST(two_certificates_one_after_the_other) {
  const char *files[] = {rb_a, rb_c, NULL};
  run_out o = run_files(files);
  /* the second's certificate is not the one the first renewed: still due;
   * the host may have changed under the first job, so the second runs its
   * pre-flight again (every probe) before it changes anything */
  assert_trace("inv.probe inv.probe " PREFLIGHT2, " " RENEWAL " inv.probe " PREFLIGHT " " RENEWAL);
  ck_assert_int_eq(o.code, 10);
  ck_assert_int_eq(o.stats.renewed, 2);
  run_free(&o);
}
END_TEST

/* Another process holds the host: BUSY, exit 1, no journal job, nothing
 * past the read-only probes (inventory, the pre-flight), the holder named. */
START_TEST(held_elsewhere_is_busy) {
  rd_journal *j = NULL;
  char err[512], lease[128];
  rd_lease_owner other = {.node = "elsewhere", .pid = 1, .start = 42};
  rd_lease_req r = {.host = "t1", .owner = &other, .what = "runbook web, certificate x",
                    .ttl_s = 600};
  int64_t epoch = 0;
  rd_job_row row;
  ck_assert_int_eq(rd_journal_open(jpath, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_lease_claim(j, &r, &epoch, NULL), 0);
  const char *files[] = {rb_a, NULL};
  run_out o = run_files(files);
  ck_assert_str_eq(tu_trace, "inv.probe " PREFLIGHT); /* read-only, then BUSY */
  ck_assert_int_eq(o.code, 1);
  ck_assert_int_eq(o.stats.skipped, 1);
  ck_assert_str_eq(job_str(&o, 0, "state"), "BUSY");
  ck_assert_msg(strstr(o.text, "host t1 (posix): BUSY"), "%s", o.text);
  ck_assert_msg(strstr(o.text, "  busy: host leased by elsewhere:1:42 (runbook web, certificate x)"
                               " since 20"),
                "%s", o.text);
  ck_assert_int_eq(rd_journal_job_last(j, "t1", "/etc/pki/t1.crt", &row), RD_ENOTFOUND);
  lease_of(lease, sizeof lease);
  ck_assert_str_eq(lease, "1 1 elsewhere:1:42");
  run_free(&o);
  /* a remediation (it may repair without renewing) waits for it too */
  remediate = 1;
  o = run_files(files);
  ck_assert_str_eq(tu_trace, "inv.probe");
  ck_assert_str_eq(job_str(&o, 0, "state"), "BUSY");
  ck_assert_int_eq(o.code, 1);
  rd_journal_close(j);
  run_free(&o);
}
END_TEST

/* A remediation that renews takes the lease once (diagnosis, then the
 * renewal under the same lease) and frees it. */
START_TEST(remediation_renews_under_one_lease) {
  const char *files[] = {rb_a, NULL};
  char lease[128];
  remediate = 1;
  run_out o = run_files(files);
  ck_assert_str_eq(job_str(&o, 0, "state"), "DONE");
  lease_of(lease, sizeof lease);
  ck_assert_msg(!strncmp(lease, "0 1 ", 4), "lease: %s", lease);
  run_free(&o);
}
END_TEST

/* Whatever the outcome, the lease is released: a failed issuance, then a
 * renewal; a certificate that is not due takes no lease. */
START_TEST(released_at_every_end) {
  const char *files[] = {rb_a, NULL};
  char lease[128];
  run_out o;
  host_serial = 2; /* not due */
  o = run_files(files);
  ck_assert_int_eq(o.code, 0);
  lease_of(lease, sizeof lease);
  ck_assert_str_eq(lease, "none");
  run_free(&o);
  host_serial = 1;
  fail_issue = 1;
  o = run_files(files);
  ck_assert_str_eq(job_str(&o, 0, "state"), "FAILED");
  lease_of(lease, sizeof lease);
  ck_assert_msg(!strncmp(lease, "0 1 ", 4), "lease: %s", lease);
  run_free(&o);
}
END_TEST

/* The journal job's state, by the runbooks' certificate. */
static const char *journal_state(void) {
  static char st[32];
  rd_journal *j = NULL;
  rd_job_row row;
  char err[512];
  ck_assert_int_eq(rd_journal_open(jpath, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_job_last(j, "t1", "/etc/pki/t1.crt", &row), 0);
  snprintf(st, sizeof st, "%s", rd_job_state_name(row.state));
  rd_journal_close(j);
  return st;
}

/* The lease is taken over while the install runs. With a heartbeat every
 * second (TTL 3 s) it notices before the install answers; without one, the
 * fence on the next state change does. Either way the job stops before its
 * next step, writes nothing more to the journal job (the new holder's now)
 * and does not free the new holder's lease. */
static void lease_lost_case(const char *ttl, const char *trace_want) {
  const char *files[] = {rb_a, NULL};
  char lease[128];
  if (ttl)
    setenv("RENEWD_LEASE_TTL", ttl, 1);
  steal_on_install = 1;
  inst_apply_ms = ttl ? 1500 : 20;
  run_out o = run_files(files);
  ck_assert_str_eq(tu_trace, trace_want);
  ck_assert_str_eq(job_str(&o, 0, "state"), "LEASE_LOST");
  ck_assert_msg(strstr(job_str(&o, 0, "error"), "lease was taken over while the job ran"), "%s",
                job_str(&o, 0, "error"));
  ck_assert_int_eq(o.code, 1);
  ck_assert_int_eq(o.stats.failed, 1);
  ck_assert_str_eq(journal_state(), "ISSUED");
  lease_of(lease, sizeof lease);
  ck_assert_str_eq(lease, "1 2 thief:1:1");
  run_free(&o);
}

START_TEST(lease_lost_heartbeat) {
  lease_lost_case("3", "inv.probe " PREFLIGHT " iss.probe iss.apply inst.probe inst.apply");
}
END_TEST

START_TEST(lease_lost_fence) {
  lease_lost_case(NULL, "inv.probe " PREFLIGHT " iss.probe iss.apply inst.probe inst.apply "
                        "inst.verify");
}
END_TEST

/* A certificate selector longer than the lease's "what" column: the job
 * still takes the lease (its "what" cut on a UTF-8 boundary) and renews. */
START_TEST(long_selector_still_leased) {
  char cert[512] = "/etc/pki/", file[200];
  const char *files[] = {file, NULL};
  rd_journal *j = NULL;
  rd_lease_row row;
  char err[512];
  for (int i = 0; i < 150; i++)
    strcat(cert, "\xc3\xa9"); /* é */
  strcat(cert, ".crt");
  snprintf(file, sizeof file, "%s/long.json", jdir);
  write_runbook(file, "rb-long", cert);
  run_out o = run_files(files);
  ck_assert_str_eq(job_str(&o, 0, "state"), "DONE");
  ck_assert_int_eq(rd_journal_open(jpath, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_lease_get(j, "t1", &row), 0);
  ck_assert_int_eq(row.epoch, 1);
  ck_assert_int_ge(strlen(row.what), sizeof row.what - 2);
  json_t *valid = json_string(row.what); /* NULL when not UTF-8 */
  ck_assert_ptr_nonnull(valid);
  json_decref(valid);
  rd_journal_close(j);
  run_free(&o);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("engine_lease");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, same_host_serialized_and_reprobed);
  tcase_add_test(tc, two_certificates_one_after_the_other);
  tcase_add_test(tc, preflight_again_after_the_wait);
  tcase_add_test(tc, held_elsewhere_since_probe_reprobed);
  tcase_add_test(tc, held_elsewhere_is_busy);
  tcase_add_test(tc, remediation_renews_under_one_lease);
  tcase_add_test(tc, released_at_every_end);
  tcase_add_test(tc, lease_lost_heartbeat);
  tcase_add_test(tc, lease_lost_fence);
  tcase_add_test(tc, long_selector_still_leased);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
