/* test_inventory_keys.c — the key match only when it matters (core/certs.c
 * rd_certs_keys_owed, docs/PLUGINS.md "The inventory's two reads"): with the
 * real engine and step kinds defined here, an inventory that read a
 * certificate without its key match (cert.key_checked false) is read again
 * with facts.check_keys when the job is due, once, before the issuer sees
 * cert.key_match; a job that is not due is read once; remediate asks for the
 * key match up front; a certificate whose key is missing is not read again;
 * an interrupted journal job resumed while the certificate is not due reads
 * the key too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_run.h"
#include "store/journal.h"
#include "testutil.h"

static char trace[1024];
static long days;        /* the live certificate's days left */
static int key_exists;   /* the inventory finds the key */

static void note(const char *what, const char *a) {
  size_t n = strlen(trace);
  snprintf(trace + n, sizeof trace - n, "%s%s(%s)", n ? " " : "", what, a);
}

/* As posix.inventory: the key match only with facts.check_keys. */
static int inv_probe(rd_step *s, const rd_host_api *h) {
  int keys = json_is_true(json_object_get(h->facts(s), "check_keys"));
  time_t now = time(NULL);
  note("inv", keys ? "keys" : "read");
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:I, s:I, s:s, s:b, s:b, s:o}", "sha256", "old",
                                "not_before", (json_int_t)(now - 29 * 86400), "not_after",
                                (json_int_t)(now + days * 86400), "serial", "01", "key_exists",
                                key_exists, "key_checked", keys, "key_match",
                                keys ? json_true() : json_null()));
  h->done(s, 0, NULL, NULL);
  return 0;
}
/* The issuer's probe: what it sees of the key match. */
static int iss_probe(rd_step *s, const rd_host_api *h) {
  const json_t *km = json_object_get(json_object_get(h->facts(s), "cert"), "key_match");
  note("issuer", json_is_true(km) ? "key_match=1" : json_is_null(km) ? "key_match=null" : "key_match=?");
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int quiet_probe(rd_step *s, const rd_host_api *h) {
  h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_inv = {.platform = RD_PLATFORM_POSIX, .type = "posix.inventory",
                                   .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.platform = RD_PLATFORM_POSIX, .type = "scep.issue",
                                   .flags = RD_KIND_ISSUER, .probe = iss_probe};
static const rd_step_kind k_inst = {.platform = RD_PLATFORM_POSIX, .type = "posix.install",
                                    .flags = RD_KIND_INSTALL, .probe = quiet_probe};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static char jdir[] = "/tmp/renewd-test-invkeys-XXXXXX";
static char rbpath[300];
static tu_engine_out out;

/* One host; certs 1: 'certificate', 2: 'certificates' a and b. */
static void write_runbook(int certs) {
  FILE *f = fopen(rbpath, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"keys\",\n"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\", \"platform\": \"posix\"}]},\n"
          " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\", \"known_hosts\": \"/nonexistent/kh\"},\n"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\", \"ca_fingerprint\":"
          " \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
          " \"policy\": {\"renew_before\": \"10d\"},\n%s}\n",
          certs == 1 ? " \"certificate\": {\"cert\": \"/etc/pki/a.crt\", \"key\": \"/etc/pki/a.key\"}"
                     : " \"certificates\": [\n"
                       "  {\"name\": \"a\", \"certificate\": {\"cert\": \"/etc/pki/a.crt\", \"key\": \"/etc/pki/a.key\"}},\n"
                       "  {\"name\": \"b\", \"certificate\": {\"cert\": \"/etc/pki/b.crt\", \"key\": \"/etc/pki/b.key\"}}]");
  fclose(f);
}

static const char *plan(int remediate) {
  const char *files[] = {rbpath, NULL};
  rd_engine_opts opts = {.whatif = 1, .remediate = remediate};
  trace[0] = 0;
  tu_engine_run(&plugin, files, &opts, NULL, &out);
  return trace;
}

static void setup(void) {
  ck_assert_ptr_nonnull(mkdtemp(strcpy(jdir, "/tmp/renewd-test-invkeys-XXXXXX")));
  snprintf(rbpath, sizeof rbpath, "%s/keys.json", jdir);
  days = 60;
  key_exists = 1;
  write_runbook(1);
}
static void teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
  ck_assert_int_eq(system(cmd), 0);
  tu_engine_out_free(&out);
}

START_TEST(not_due_reads_once) {
  ck_assert_str_eq(plan(0), "inv(read)");
  ck_assert_int_eq(out.stats.due, 0);
}
END_TEST

START_TEST(due_reads_keys_before_the_issuer) {
  days = 1;
  ck_assert_str_eq(plan(0), "inv(read) inv(keys) issuer(key_match=1)");
  ck_assert_int_eq(out.stats.due, 1);
}
END_TEST

START_TEST(remediate_asks_up_front) {
  ck_assert_str_eq(plan(1), "inv(keys) issuer(key_match=1)");
}
END_TEST

START_TEST(missing_key_is_not_read_again) {
  days = 1;
  key_exists = 0;
  ck_assert_str_eq(plan(0), "inv(read) issuer(key_match=null)");
}
END_TEST

/* Several certificates: one due reads every one again (the job renews
 * them together or not, the issuer of each may look at its key). */
START_TEST(several_certificates) {
  write_runbook(2);
  ck_assert_str_eq(plan(0), "inv(read) inv(read)");
  days = 1;
  ck_assert_str_eq(plan(0), "inv(read) inv(read) inv(keys) inv(keys) issuer(key_match=1) "
                            "issuer(key_match=1)");
}
END_TEST

/* An interrupted journal job resumed while its certificate is not due (the
 * run that began it was forced, or the window moved since): its issuer
 * still sees the key match (SCEP chooses a renewal signed by the old key
 * by it, not an enrollment). */
START_TEST(interrupted_job_reads_keys) {
  char jpath[320], err[256];
  const char *files[] = {rbpath, NULL};
  rd_engine_opts opts = {0};
  rd_journal *j = NULL;
  int64_t id = 0;
  int created = 0;
  snprintf(jpath, sizeof jpath, "%s/j.db", jdir);
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_journal_job_open(j, "keys", "t1", "/etc/pki/a.crt", &id, &created), 0);
  ck_assert_int_eq(created, 1);
  rd_journal_close(j);
  trace[0] = 0;
  tu_engine_run(&plugin, files, &opts, jpath, &out);
  ck_assert_msg(!strncmp(trace, "inv(read) inv(keys) issuer(key_match=1)", 39), "%s", trace);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("inventory_keys");
  TCase *t = tcase_create("keys");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, not_due_reads_once);
  tcase_add_test(t, due_reads_keys_before_the_issuer);
  tcase_add_test(t, remediate_asks_up_front);
  tcase_add_test(t, missing_key_is_not_read_again);
  tcase_add_test(t, several_certificates);
  tcase_add_test(t, interrupted_job_reads_keys);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run(suite()); }
