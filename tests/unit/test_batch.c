/* test_batch.c — the real engine against the private sshd (see
 * helpers/sshd_harness.h; without root or sshd the program exits 77): the
 * steps of one host share one remote execution per phase (core/phase.c,
 * host/batch.c), and nothing else changes.
 *
 * Four follow-up steps (test.step a, b, c, d) run scripts that append
 * "<tag>:<phase>" to a log on the target and answer their own tag; each
 * step's callback checks that the answer is its own. Counted from
 * RENEWD_TRACE_REMOTE (the scripts of one execution share its number):
 *
 * - a renewal: the pre-flight probes in one execution, then the follow-ups'
 *   probes, applies and verifies in one each (4 in all); the applies ran in
 *   step order; every step has its own result;
 * - a plan: every probe in one execution; nothing mutating ran;
 * - b's apply fails in its batch: b alone fails, with its own message (the
 *   job's cause); a, c and d applied fine; the rollback undoes d, c, b, a
 *   (last first) and the job is ROLLED_BACK;
 * - c's verify outlives c's timeout: c alone times out (RD_ETIMEDOUT), the
 *   whole batch is stopped (a and d say so), and the job rolls back.
 *
 * Every test runs twice: with the session shell off (RENEWD_REMOTE_SESSION=0:
 * one execution per batch) and on (one shell for the job: one execution,
 * the same round trips; a timeout closes it and the rollback opens another),
 * and the per-step results are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "config/runbook.h"
#include "engine_fixture.h"
#include "core/engine.h"
#include "host/registry.h"
#include "sshd_harness.h"
#include "store/journal.h"
#include "testutil.h"

static char wdir[400], logpath[480], tracepath[480];
static int session; /* this run: the session shell on (the loop index) */


/* --- the follow-ups --------------------------------------------------------- */

#define LOG_LINE "printf '%s:%s\\n' \"$P_tag\" \"$P_phase\" >>\"$P_log\"\n"
static const rd_script sc_read = {"test.step.read", RD_PLATFORM_POSIX, 0, 0,
                                  "[ -z \"$P_sleep\" ] || sleep \"$P_sleep\"\n" LOG_LINE
                                  "[ \"$P_fail\" != \"$P_phase\" ] || rd_fail \"$P_tag broke\"\n"
                                  "rd_out tag \"$P_tag\"\n"};
static const rd_script sc_write = {"test.step.write", RD_PLATFORM_POSIX, 1, 0,
                                   LOG_LINE
                                   "[ \"$P_fail\" != \"$P_phase\" ] || rd_fail \"$P_tag broke\"\n"
                                   "rd_out tag \"$P_tag\"\n"};

static const char *param(rd_step *s, const rd_host_api *h, const char *k) {
  const char *v = json_string_value(json_object_get(h->params(s), k));
  return v ? v : "";
}

static void step_answered(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  const rd_host_api *h = arg;
  const char *tag = json_string_value(json_object_get(r->json, "tag"));
  if (status)
    h->donef(s, status, NULL, "%s", r->err);
  else if (r->exit_status)
    h->donef(s, RD_EREMOTE, NULL, "exit %d: %s", r->exit_status, r->err);
  else if (!tag || strcmp(tag, param(s, h, "tag")))
    h->donef(s, RD_EPROTO, NULL, "got the answer of %s", tag ? tag : "(none)");
  else
    h->done(s, 0, NULL, NULL);
}

static int step_phase(rd_step *s, const rd_host_api *h, const rd_script *sc, const char *phase,
                      int sleeps) {
  json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s}", "tag", param(s, h, "tag"), "phase", phase,
                        "log", logpath, "fail", param(s, h, "fail"), "sleep",
                        sleeps ? param(s, h, "sleep") : "");
  return h->remote(s, sc, a, step_answered, (void *)h);
}

static int st_probe(rd_step *s, const rd_host_api *h) {
  return step_phase(s, h, &sc_read, "probe", 0);
}
static int st_apply(rd_step *s, const rd_host_api *h) {
  return step_phase(s, h, &sc_write, "apply", 0);
}
static int st_verify(rd_step *s, const rd_host_api *h) {
  return step_phase(s, h, &sc_read, "verify", 1);
}
static int st_rollback(rd_step *s, const rd_host_api *h) {
  return step_phase(s, h, &sc_write, "rollback", 0);
}

static int st_validate(const json_t *p, char *err, size_t errlen) {
  (void)p;
  (void)err;
  (void)errlen;
  return 0;
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = tu_due_inventory_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = tu_done_ok,
                                   .apply = tu_issue_apply, .rollback = tu_done_ok};
/* The install verifies over SSH (with the follow-ups' probes), failing
 * when inst_fail is set. */
static int inst_fail;
static void inst_answered(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  const rd_host_api *h = arg;
  if (status || r->exit_status)
    h->donef(s, status ? status : RD_EVERIFY, NULL, "install: %s", r->err);
  else
    h->done(s, 0, NULL, NULL);
}
static int inst_verify(rd_step *s, const rd_host_api *h) {
  json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "tag", "inst", "phase", "verify", "log", logpath,
                        "fail", inst_fail ? "verify" : "");
  return h->remote(s, &sc_read, a, inst_answered, (void *)h);
}
static const rd_step_kind k_inst = {.type = "posix.install", .platform = RD_PLATFORM_POSIX,
                                    .flags = RD_KIND_INSTALL, .probe = tu_done_ok,
                                    .apply = tu_done_ok, .verify = inst_verify, .rollback = tu_done_ok};
static const rd_step_kind k_step = {.type = "test.step", .platform = RD_PLATFORM_POSIX,
                                    .validate = st_validate, .probe = st_probe,
                                    .apply = st_apply, .verify = st_verify,
                                    .rollback = st_rollback};
/* a restart: probe and apply, no verify (as posix.service) */
static const rd_step_kind k_restart = {.type = "test.restart", .platform = RD_PLATFORM_POSIX,
                                       .flags = RD_KIND_RESTART, .validate = st_validate,
                                       .probe = st_probe, .apply = st_apply,
                                       .rollback = st_rollback};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_step, &k_restart, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

/* --- one run -------------------------------------------------------------- */

typedef struct run_out {
  json_t *report;
  rd_engine_stats stats;
  int code;
  size_t execs, trips, scripts; /* from the trace */
  char state[64], log[4096];
} run_out;

/* How many distinct values of field the trace's lines have; *lines: how
 * many lines. */
static size_t distinct(const char *path, const char *field, size_t *lines) {
  json_int_t seen[256];
  size_t nseen = 0;
  char line[65536];
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  while (fgets(line, sizeof line, f)) {
    json_t *l = json_loads(line, 0, NULL);
    ck_assert_ptr_nonnull(l);
    json_int_t no = json_integer_value(json_object_get(l, field));
    size_t k = 0;
    if (lines)
      ++*lines;
    while (k < nseen && seen[k] != no)
      k++;
    if (k == nseen && nseen < 256)
      seen[nseen++] = no;
    json_decref(l);
  }
  fclose(f);
  return nseen;
}

/* steps: the JSON of the runbook's steps array */
static void run(const char *name, const char *steps, int whatif, run_out *o) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_journal *j = NULL;
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[512], rbpath[600], jpath[600];
  FILE *devnull = fopen("/dev/null", "w"), *f;
  rd_engine_opts eo = {.out = devnull, .whatif = whatif};
  snprintf(rbpath, sizeof rbpath, "%s/%s.json", wdir, name);
  snprintf(jpath, sizeof jpath, "%s/%s.db", wdir, name);
  snprintf(tracepath, sizeof tracepath, "%s/%s.trace", wdir, name);
  unlink(logpath);
  ck_assert_ptr_nonnull(f = fopen(rbpath, "w"));
  fprintf(f,
          "{\"name\": \"batch\",\n"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"127.0.0.1\", \"port\": %d,\n"
          "   \"platform\": \"posix\"}]},\n"
          " \"ssh\": {\"user\": \"root\", \"identity\": \"%s\", \"known_hosts\": \"%s\",\n"
          "   \"command_timeout\": 60},\n"
          " \"certificate\": {\"cert\": \"/etc/pki/t1.crt\", \"key\": \"/etc/pki/t1.key\"},\n"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
          "   \"ca_fingerprint\": "
          "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
          " \"policy\": {\"renew_before\": \"10d\"},\n"
          " \"steps\": %s}\n",
          tu_sshd_port, tu_sshd_key, tu_sshd_kh, steps);
  fclose(f);
  setenv("RENEWD_TRACE_REMOTE", tracepath, 1);
  setenv("RENEWD_REMOTE_SESSION", session ? "1" : "0", 1);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, &plugin, "test", err, sizeof err), 0);
  ck_assert_msg(rd_runbook_load(rbpath, reg, &rb, &diag) == 0, "runbook %s", name);
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, j, &eo, &e), 0);
  ck_assert_int_eq(rd_engine_add_runbook(e, rb), 0);
  o->code = rd_engine_run(e, &o->stats);
  o->report = json_deep_copy(rd_engine_report(e));
  rd_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  unsetenv("RENEWD_TRACE_REMOTE");
  unsetenv("RENEWD_REMOTE_SESSION");
  rd_journal_close(j);
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
  snprintf(o->state, sizeof o->state, "%s",
           json_string_value(json_object_get(
               json_array_get(json_object_get(o->report, "jobs"), 0), "state")));
  char *lg = tu_read_file(logpath, NULL);
  snprintf(o->log, sizeof o->log, "%s", lg ? lg : "");
  free(lg);
  /* executions and round trips: distinct "exec" and "trip" numbers */
  o->scripts = 0;
  o->execs = distinct(tracepath, "exec", &o->scripts);
  o->trips = distinct(tracepath, "trip", NULL);
}


static const char *message_of(const json_t *report, const char *step, const char *phase) {
  const char *v = json_string_value(json_object_get(tu_phase_of(report, step, phase), "message"));
  return v ? v : "";
}

#define STEP(tag, extra)                                                                        \
  "{\"type\": \"test.step\", \"name\": \"" tag "\", \"params\": {\"tag\": \"" tag "\"" extra "}}"
#define STEP_T(tag, extra, timeout)                                                             \
  "{\"type\": \"test.step\", \"name\": \"" tag "\", \"timeout\": " timeout                     \
  ", \"params\": {\"tag\": \"" tag "\"" extra "}}"

static void setup_dir(const char *name) {
  snprintf(wdir, sizeof wdir, "%s/%s%s", tu_sshd_dir, name, session ? "-session" : "");
  ck_assert_int_eq(mkdir(wdir, 0700), 0);
  snprintf(logpath, sizeof logpath, "%s/steps.log", wdir);
}

#define RESTART(tag)                                                                            \
  "{\"type\": \"test.restart\", \"name\": \"" tag "\", \"params\": {\"tag\": \"" tag "\"}}"

START_TEST(renewal_one_execution_per_phase) {
  session = _i;
  run_out o;
  setup_dir("renewal");
  run("renewal",
      "[" STEP("a", "") "," STEP("b", "") "," STEP("c", "") "," STEP("d", "") "," RESTART("r")
      "," STEP("e", "") "]",
      0, &o);
  printf("renewal of 5 follow-ups and a restart: %zu executions, %zu scripts; job %s\n", o.execs,
         o.scripts, o.state);
  ck_assert_str_eq(o.state, "DONE");
  ck_assert_int_eq(o.stats.renewed, 1);
  /* the pre-flight probes; the install's verify with the probes up to the
   * restart; applies; verifies; the restart's apply; e alone */
  ck_assert_str_eq(o.log, "a:probe\nb:probe\nc:probe\nd:probe\nr:probe\ne:probe\n"
                          "inst:verify\na:probe\nb:probe\nc:probe\nd:probe\nr:probe\n"
                          "a:apply\nb:apply\nc:apply\nd:apply\n"
                          "a:verify\nb:verify\nc:verify\nd:verify\n"
                          "r:apply\n"
                          "e:probe\ne:apply\ne:verify\n");
  ck_assert_int_eq((int)o.scripts, 24);
  ck_assert_int_eq((int)o.trips, 5 + 3);
  ck_assert_int_eq((int)o.execs, session ? 1 : 5 + 3);
  const char *tags[] = {"a", "b", "c", "d", "e"};
  for (size_t i = 0; i < 5; i++)
    for (size_t p = 0; p < 3; p++) {
      const char *ph = (const char *[]){"probe", "apply", "verify"}[p];
      ck_assert_msg(!strcmp(tu_phase_status(o.report, tags[i], ph), "ok"), "%s %s: %s %s", tags[i], ph,
                    tu_phase_status(o.report, tags[i], ph), message_of(o.report, tags[i], ph));
    }
  json_decref(o.report);
}
END_TEST

START_TEST(plan_one_execution) {
  session = _i;
  run_out o;
  setup_dir("plan");
  run("plan", "[" STEP("a", "") "," STEP("b", "") "," STEP("c", "") "]", 1, &o);
  ck_assert_str_eq(o.state, "WOULD_RENEW");
  ck_assert_int_eq((int)o.execs, 1);
  ck_assert_int_eq((int)o.trips, 1);
  ck_assert_int_eq((int)o.scripts, 3);
  ck_assert_str_eq(o.log, "a:probe\nb:probe\nc:probe\n");
  json_decref(o.report);
}
END_TEST

START_TEST(failing_apply_fails_alone_and_rolls_back) {
  session = _i;
  run_out o;
  setup_dir("fail");
  run("fail",
      "[" STEP("a", "") "," STEP("b", ", \"fail\": \"apply\"") "," STEP("c", "") "," STEP("d", "")
      "]",
      0, &o);
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_int_eq(o.stats.rolled_back, 1);
  ck_assert_str_eq(tu_phase_status(o.report, "b", "apply"), "RD_EREMOTE");
  ck_assert_msg(strstr(message_of(o.report, "b", "apply"), "b broke") != NULL, "%s",
                message_of(o.report, "b", "apply"));
  ck_assert_str_eq(tu_phase_status(o.report, "a", "apply"), "ok");
  ck_assert_str_eq(tu_phase_status(o.report, "c", "apply"), "ok");
  ck_assert_str_eq(tu_phase_status(o.report, "d", "apply"), "ok");
  /* the job's cause is b's, whatever order the answers came in */
  const json_t *cause = json_object_get(json_array_get(json_object_get(o.report, "jobs"), 0),
                                        "cause");
  ck_assert_str_eq(json_string_value(json_object_get(cause, "step")), "b");
  ck_assert_str_eq(json_string_value(json_object_get(cause, "phase")), "apply");
  /* applies in step order; the rollback of every applied step, last first */
  ck_assert_msg(strstr(o.log, "a:apply\nb:apply\nc:apply\nd:apply\n"
                              "d:rollback\nc:rollback\nb:rollback\na:rollback\n") != NULL,
                "%s", o.log);
  ck_assert_ptr_null(strstr(o.log, "a:verify"));
  for (size_t i = 0; i < 4; i++)
    ck_assert_str_eq(tu_phase_status(o.report, (const char *[]){"a", "b", "c", "d"}[i], "rollback"),
                     "ok");
  json_decref(o.report);
}
END_TEST

START_TEST(install_verify_fails_in_its_batch) {
  session = _i;
  run_out o;
  setup_dir("install");
  inst_fail = 1;
  run("install", "[" STEP("a", "") "," STEP("b", "") "," RESTART("r") "]", 0, &o);
  inst_fail = 0;
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  const json_t *cause = json_object_get(json_array_get(json_object_get(o.report, "jobs"), 0),
                                        "cause");
  ck_assert_str_eq(json_string_value(json_object_get(cause, "step")), "install");
  ck_assert_str_eq(json_string_value(json_object_get(cause, "phase")), "verify");
  ck_assert_msg(strstr(json_string_value(json_object_get(cause, "message")), "inst broke") != NULL,
                "%s", json_string_value(json_object_get(cause, "message")));
  /* the follow-ups' probes ran with it, nothing of theirs was applied */
  ck_assert_str_eq(tu_phase_status(o.report, "a", "probe"), "ok");
  ck_assert_ptr_null(strstr(o.log, ":apply"));
  ck_assert_ptr_null(strstr(o.log, ":rollback"));
  ck_assert_str_eq(tu_phase_status(o.report, "install", "rollback"), "ok");
  json_decref(o.report);
}
END_TEST

/* A step's timeout inside a batch: the cause is that step's, and the batch
 * is stopped at once. */
START_TEST(timeout_in_a_batch_is_the_step_s_own) {
  session = _i;
  run_out o;
  setup_dir("timeout");
  run("timeout",
      "[" STEP("a", "") "," STEP_T("c", ", \"sleep\": \"6\"", "3") "," STEP_T("d", "", "20")
      "]",
      0, &o);
  ck_assert_str_eq(tu_phase_status(o.report, "c", "verify"), "RD_ETIMEDOUT");
  /* c's timeout stopped the whole execution (a hung script must not hold
   * the rollback's scripts behind its channel): a and d were not answered,
   * and say which step stopped them */
  for (size_t i = 0; i < 2; i++) {
    const char *name = i ? "d" : "a";
    ck_assert_msg(strcmp(tu_phase_status(o.report, name, "verify"), "ok") &&
                      strstr(message_of(o.report, name, "verify"),
                             "stopped when step 'c' timed out"),
                  "%s verify: %s %s", name, tu_phase_status(o.report, name, "verify"),
                  message_of(o.report, name, "verify"));
  }
  const json_t *cause = json_object_get(json_array_get(json_object_get(o.report, "jobs"), 0),
                                        "cause");
  ck_assert_str_eq(json_string_value(json_object_get(cause, "step")), "c");
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_msg(strstr(o.log, "d:rollback\nc:rollback\na:rollback\n") != NULL, "%s", o.log);
  printf("timeout in a batch (session %s): %zu executions, %zu round trips\n",
         session ? "on" : "off", o.execs, o.trips);
  if (session) /* the timeout closed the job's shell, the rollback opened another */
    ck_assert_int_eq((int)o.execs, 2);
  json_decref(o.report);
}
END_TEST

int main(void) {
  Suite *s = suite_create("batch");
  TCase *tc = tcase_create("sshd");
  tcase_set_timeout(tc, 120);
  /* _i: the session shell off (0) or on (1) */
  tcase_add_loop_test(tc, renewal_one_execution_per_phase, 0, 2);
  tcase_add_loop_test(tc, plan_one_execution, 0, 2);
  tcase_add_loop_test(tc, failing_apply_fails_alone_and_rolls_back, 0, 2);
  tcase_add_loop_test(tc, install_verify_fails_in_its_batch, 0, 2);
  tcase_add_loop_test(tc, timeout_in_a_batch_is_the_step_s_own, 0, 2);
  suite_add_tcase(s, tc);
  return tu_sshd_main("test_batch", s); /* rd_transport_global_init inside */
}
