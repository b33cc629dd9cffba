/* test_job_kvcache.c — a plugin's journal_get asks the journal once per key
 * at most (core/jobwrite.c, j->kv_known): a job's values are its own (its
 * host's lease keeps other writers out), so what it wrote or once read is
 * answered from memory, and a job this run created asks for none. With the
 * real engine, an SQLite journal and a step kind defined here, whose apply
 * changes the journal behind the job's back (a second connection) and then
 * reads: it still sees what it knew -- the journal was not asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_run.h"
#include "store/journal.h"
#include "testutil.h"

static char jdir[] = "/tmp/renewd-test-kvcache-XXXXXX";
static char rbpath[300], jpath[320];
static char seen[512]; /* what apply read: "x=1 y=- ..." */
static tu_engine_out out;

/* The journal behind the job's back: key = value (an integer) for the
 * host's newest job. */
static void behind(const char *key, long value) {
  char err[256];
  rd_journal *j = NULL;
  rd_job_row row;
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_journal_job_last(j, "t1", "/etc/pki/a.crt", &row), 0);
  json_t *v = json_integer(value);
  ck_assert_int_eq(rd_journal_kv_put(j, row.id, key, v), 0);
  json_decref(v);
  rd_journal_close(j);
}

static void read_into_seen(rd_step *s, const rd_host_api *h, const char *key) {
  json_t *v = h->journal_get(s, key);
  size_t n = strlen(seen);
  if (v)
    snprintf(seen + n, sizeof seen - n, "%s%s=%lld", n ? " " : "", key,
             (long long)json_integer_value(v));
  else
    snprintf(seen + n, sizeof seen - n, "%s%s=-", n ? " " : "", key);
  json_decref(v);
}

/* x: written by the job, then changed behind it; y: first asked after it
 * was written behind the job; z (in the journal before a resumed job) and
 * w (absent): read, then written behind the job, then read again. */
static int iss_apply(rd_step *s, const rd_host_api *h) {
  json_t *one = json_integer(1);
  ck_assert_int_eq(h->journal_put(s, "x", one), 0);
  json_decref(one);
  read_into_seen(s, h, "z");
  read_into_seen(s, h, "w");
  behind("x", 2);
  behind("y", 3);
  behind("z", 4);
  behind("w", 5);
  read_into_seen(s, h, "x");
  read_into_seen(s, h, "y");
  read_into_seen(s, h, "z");
  read_into_seen(s, h, "w");
  h->done(s, 0, NULL, NULL);
  return 0;
}

static int quiet(rd_step *s, const rd_host_api *h) {
  h->done(s, 0, NULL, NULL);
  return 0;
}
/* The inventory: a certificate due tomorrow. */
static int inv_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:I, s:I, s:s, s:b, s:b, s:b}", "sha256", "old",
                                "not_before", (json_int_t)(now - 29 * 86400), "not_after",
                                (json_int_t)(now + 86400), "serial", "01", "key_exists", 1,
                                "key_checked", 1, "key_match", 1));
  h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_inv = {.platform = RD_PLATFORM_POSIX, .type = "posix.inventory",
                                   .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.platform = RD_PLATFORM_POSIX, .type = "scep.issue",
                                   .flags = RD_KIND_ISSUER, .probe = quiet, .apply = iss_apply};
static const rd_step_kind k_inst = {.platform = RD_PLATFORM_POSIX, .type = "posix.install",
                                    .flags = RD_KIND_INSTALL, .probe = quiet};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static void run(void) {
  const char *files[] = {rbpath, NULL};
  rd_engine_opts opts = {0};
  seen[0] = 0;
  tu_engine_run(&plugin, files, &opts, jpath, &out);
}

static void setup(void) {
  ck_assert_ptr_nonnull(mkdtemp(strcpy(jdir, "/tmp/renewd-test-kvcache-XXXXXX")));
  snprintf(rbpath, sizeof rbpath, "%s/kv.json", jdir);
  snprintf(jpath, sizeof jpath, "%s/j.db", jdir);
  FILE *f = fopen(rbpath, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "{\"name\": \"kv\",\n"
             " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\", \"platform\": \"posix\"}]},\n"
             " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\", \"known_hosts\": \"/nonexistent/kh\"},\n"
             " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\", \"ca_fingerprint\":"
             " \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
             " \"policy\": {\"renew_before\": \"10d\"},\n"
             " \"certificate\": {\"cert\": \"/etc/pki/a.crt\", \"key\": \"/etc/pki/a.key\"}}\n");
  fclose(f);
}
static void teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", jdir);
  ck_assert_int_eq(system(cmd), 0);
  tu_engine_out_free(&out);
}

/* A job this run created: its own write is answered as written, a key it
 * never wrote is none, whatever the journal holds meanwhile. */
START_TEST(created_job_asks_for_nothing) {
  run();
  ck_assert_str_eq(seen, "z=- w=- x=1 y=- z=- w=-");
}
END_TEST

/* A job resumed from the journal asks once per key: z, journaled before,
 * is read once (the 4 written behind it later is not seen), w, absent when
 * first asked, stays absent; y, first asked after it was written, is read
 * from the journal. */
START_TEST(resumed_job_asks_once_per_key) {
  char err[256];
  rd_journal *j = NULL;
  int64_t id = 0;
  int created = 0;
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_journal_job_open(j, "kv", "t1", "/etc/pki/a.crt", &id, &created), 0);
  json_t *v = json_integer(9);
  ck_assert_int_eq(rd_journal_kv_put(j, id, "z", v), 0);
  json_decref(v);
  rd_journal_close(j);
  run();
  ck_assert_str_eq(seen, "z=9 w=- x=1 y=3 z=9 w=-");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("job_kvcache");
  TCase *t = tcase_create("kv");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, created_job_asks_for_nothing);
  tcase_add_test(t, resumed_job_asks_once_per_key);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return tu_run(suite()); }
