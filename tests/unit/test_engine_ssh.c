/* test_engine_ssh.c — the real engine against the private sshd (see
 * helpers/sshd_harness.h; without root or sshd the program exits 77): on a
 * step timeout the engine cancels the step's hung SSH command, so that the
 * rollback's script runs at once on the same host instead of queueing
 * behind it.
 *
 * The engine also gives each remote command the step's timeout as its SSH
 * deadline (hostapi.c: op_ms), counted from when the command STARTS, not
 * from when the phase started; that deadline alone would free the host only
 * as late after the step's timeout as the command started after the phase
 * (a `sleep 60` started with the phase under a 300 ms timeout rolls back in
 * time with or without the cancel: it proves nothing).
 * So the follow-up step logs in from its probe (a read-only script), and its
 * apply runs a first script (PREP_S) and then the hung command (`sleep 60`,
 * which writes its pid first): that starts PREP_S into the phase and, left
 * alone, would hold the host's queue until PREP_S after the step timed out.
 * The rollback's script (RB_S of work, then a marker file and `rd_out ran
 * yes`) fits its window only when it starts at once. With the cancel the
 * job ends ROLLED_BACK, the rollback's script seen over SSH, about RB_S plus
 * a login after the timeout; without it (rd_ssh_cancel answering
 * RD_ENOTSUP) the rollback times out and the job is FAILED. */
#include <signal.h>
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

/* Without the cancel the rollback could start at PREP + STEP at the
 * earliest and would end at PREP + STEP + RB > 2 STEP, past its deadline;
 * with it, it has STEP - RB for a fresh login (the cancel costs the
 * session). The follow-up step's timeout, the apply's first script (the
 * hung one starts after it) and the rollback script's work before its
 * marker: */
#define STEP_S "1.5"
#define STEP_MS 1500.0
#define PREP_S "0.9"
#define RB_S "0.7"
#define RB_MS 700.0

static char wdir[400], pidfile[480], marker[480];
static uint64_t t_apply, t_hang, t_rb, t_rb_done;
static int hang_answers, hang_status, probe_status = 99, undo_status = 99, undo_exit = 99;
static char undo_ran[16];

static double ms_since(uint64_t t0, uint64_t t) { return t0 && t ? (double)(t - t0) / 1e6 : -1; }


/* --- the follow-up: its apply hangs over SSH, its rollback runs a script ------ */

static const rd_script hello = {"test.hello", RD_PLATFORM_POSIX, 0, 0, "rd_out hello yes\n"};
static const rd_script prep = {"test.prep", RD_PLATFORM_POSIX, 1, 0, "sleep " PREP_S "\n"};
static const rd_script hang = {"test.hang", RD_PLATFORM_POSIX, 1, 0,
                               "echo $$ > \"$P_pidfile\"\nexec sleep 60\n"};
static const rd_script undo = {"test.undo", RD_PLATFORM_POSIX, 1, 0,
                               "sleep " RB_S "\necho rolled-back > \"$P_marker\"\nrd_out ran yes\n"};

/* The hung command's answer comes after the timeout, if at all: then it is
 * late, runs once with RD_ECANCELED (or, with hosts that drop late answers,
 * never), and the done() from it is ignored (the apply stays RD_ETIMEDOUT). */
static void hang_done(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  const rd_host_api *h = arg;
  (void)r;
  hang_answers++;
  hang_status = status;
  h->done(s, status ? status : RD_EREMOTE, NULL, "the hung command answered");
}

static void prep_done(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  const rd_host_api *h = arg;
  int rc;
  t_hang = uv_hrtime();
  if (status || r->exit_status) {
    h->donef(s, status ? status : RD_EREMOTE, NULL, "prep: %s", r->err);
    return;
  }
  rc = h->remote(s, &hang, json_pack("{s:s}", "pidfile", pidfile), hang_done, (void *)h);
  if (rc)
    h->donef(s, rc, NULL, "cannot start the hung command");
}

/* The probe logs in (read-only), so the apply's scripts start at once. */
static void hello_done(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  const rd_host_api *h = arg;
  probe_status = status ? status : r->exit_status;
  h->done(s, probe_status ? RD_EREMOTE : 0, NULL, probe_status ? "hello failed" : NULL);
}

static int hang_probe(rd_step *s, const rd_host_api *h) {
  return h->remote(s, &hello, NULL, hello_done, (void *)h);
}

static int hang_apply(rd_step *s, const rd_host_api *h) {
  t_apply = uv_hrtime();
  return h->remote(s, &prep, NULL, prep_done, (void *)h);
}

static void undo_done(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  const rd_host_api *h = arg;
  const char *ran = json_string_value(json_object_get(r->json, "ran"));
  t_rb_done = uv_hrtime();
  undo_status = status;
  undo_exit = r->exit_status;
  snprintf(undo_ran, sizeof undo_ran, "%s", ran ? ran : "");
  if (status || r->exit_status)
    h->donef(s, status ? status : RD_EREMOTE, NULL, "undo: %s", r->err);
  else
    h->done(s, 0, NULL, NULL);
}

static int hang_rollback(rd_step *s, const rd_host_api *h) {
  t_rb = uv_hrtime();
  return h->remote(s, &undo, json_pack("{s:s}", "marker", marker), undo_done, (void *)h);
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = tu_due_inventory_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = tu_done_ok,
                                   .apply = tu_issue_apply, .rollback = tu_done_ok};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL, .probe = tu_done_ok,
                                    .apply = tu_done_ok, .verify = tu_done_ok, .rollback = tu_done_ok};
/* no flags: not re-applied after the rollback (a restart kind would be) */
static const rd_step_kind k_hang = {.type = "test.hang", .platform = RD_PLATFORM_POSIX,
                                    .probe = hang_probe, .apply = hang_apply,
                                    .rollback = hang_rollback};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_hang, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static void write_runbook(const char *path) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"engine-ssh\",\n"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"127.0.0.1\", \"port\": %d,\n"
          "   \"platform\": \"posix\"}]},\n"
          " \"ssh\": {\"user\": \"root\", \"identity\": \"%s\", \"known_hosts\": \"%s\",\n"
          "   \"command_timeout\": 20},\n"
          " \"certificate\": {\"cert\": \"/etc/pki/t1.crt\", \"key\": \"/etc/pki/t1.key\"},\n"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
          "   \"ca_fingerprint\": "
          "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
          " \"policy\": {\"renew_before\": \"10d\"},\n"
          " \"steps\": [{\"type\": \"test.hang\", \"name\": \"hang\", \"timeout\": " STEP_S "}]}\n",
          tu_sshd_port, tu_sshd_key, tu_sshd_kh);
  fclose(f);
}


/* The pid the hung command wrote, or 0. */
static long read_pid(void) {
  char *txt = tu_read_file(pidfile, NULL);
  long pid = txt ? strtol(txt, NULL, 10) : 0;
  free(txt);
  return pid;
}

/* sshd does not end a command when its session drops (no tty, no SIGHUP):
 * the hung `sleep 60` lives on. It is ours: end it (by the pid it wrote). */
static void end_hung_command(long pid) {
  char comm[64], name[32] = "";
  FILE *cf;
  snprintf(comm, sizeof comm, "/proc/%ld/comm", pid);
  if (pid <= 0 || !(cf = fopen(comm, "r")))
    return;
  if (!fgets(name, sizeof name, cf))
    name[0] = 0;
  fclose(cf);
  if (!strcmp(name, "sleep\n")) {
    printf("the remote sleep 60 (pid %ld) outlived its session; ended here\n", pid);
    kill((pid_t)pid, SIGTERM);
  }
}

START_TEST(timeout_cancels_the_hung_command_rollback_runs_at_once) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_journal *j = NULL;
  rd_engine *e = NULL;
  rd_engine_stats stats;
  rd_job_row row;
  uv_loop_t loop;
  char err[512], rbpath[480], jpath[480];
  FILE *devnull = fopen("/dev/null", "w");
  rd_engine_opts eo = {.out = devnull};
  int code;
  uint64_t t_end;
  snprintf(wdir, sizeof wdir, "%s/engine-ssh", tu_sshd_dir);
  ck_assert_int_eq(mkdir(wdir, 0700), 0);
  snprintf(pidfile, sizeof pidfile, "%s/hang.pid", wdir);
  snprintf(marker, sizeof marker, "%s/rolled-back", wdir);
  snprintf(rbpath, sizeof rbpath, "%s/runbook.json", wdir);
  snprintf(jpath, sizeof jpath, "%s/journal.db", wdir);
  write_runbook(rbpath);

  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, &plugin, "test", err, sizeof err), 0);
  ck_assert_msg(rd_runbook_load(rbpath, reg, &rb, &diag) == 0, "runbook");
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, j, &eo, &e), 0);
  ck_assert_int_eq(rd_engine_add_runbook(e, rb), 0);
  code = rd_engine_run(e, &stats);
  t_end = uv_hrtime();
  json_t *report = json_deep_copy(rd_engine_report(e));
  const char *state = json_string_value(
      json_object_get(json_array_get(json_object_get(report, "jobs"), 0), "state"));
  /* from the apply's start: the hung command's start, the rollback's start
   * (the step timed out), its script's answer, the end of the run */
  double at_hang = ms_since(t_apply, t_hang), at_rb = ms_since(t_apply, t_rb),
         at_undo = ms_since(t_apply, t_rb_done), at_end = ms_since(t_apply, t_end);
  long pid = read_pid();
  printf("engine over ssh (step timeout %.0f ms), ms from the apply's start: hung command "
         "started %.0f, step timed out and rollback started %.0f, rollback's script answered "
         "%.0f (status %d, exit %d, ran=%s), run ended %.0f; job %s; late answers of the hung "
         "command: %d\n",
         STEP_MS, at_hang, at_rb, at_undo, undo_status, undo_exit, undo_ran, at_end,
         state ? state : "?", hang_answers);
  end_hung_command(pid);
  fflush(stdout); /* seen even when an assertion below ends the test */
  rd_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);

  ck_assert_int_eq(probe_status, 0);
  /* the hung command really ran (it was not merely queued) when the step timed out */
  ck_assert_msg(pid > 0, "the hung command never started");
  ck_assert_double_lt(at_hang, at_rb);
  ck_assert_str_eq(tu_phase_status(report, "hang", "apply"), "RD_ETIMEDOUT");
  /* its answer, if it came, came late and counted for nothing */
  ck_assert_int_le(hang_answers, 1);
  if (hang_answers)
    ck_assert_int_eq(hang_status, RD_ECANCELED);
  /* the rollback's script ran over SSH within the rollback's window */
  ck_assert_msg(undo_status == 0 && undo_exit == 0, "undo: status %d exit %d (rollback %s)",
                undo_status, undo_exit, tu_phase_status(report, "hang", "rollback"));
  ck_assert_str_eq(undo_ran, "yes");
  char *mk = tu_read_file(marker, NULL);
  ck_assert_msg(mk && !strcmp(mk, "rolled-back\n"), "marker: %s", mk ? mk : "(missing)");
  free(mk);
  ck_assert_str_eq(tu_phase_status(report, "hang", "rollback"), "ok");
  /* ... at once: its script began (at the latest RB before it answered)
   * before the hung command's own SSH deadline (at_hang + the step's
   * timeout) would have freed the host; the run over within 3 s of the
   * timeout */
  ck_assert_msg(at_undo - RB_MS < at_hang + STEP_MS, "the rollback waited for the hung command");
  ck_assert_double_lt(at_end - at_rb, 3000);
  ck_assert_str_eq(state, "ROLLED_BACK");
  ck_assert_int_eq(stats.rolled_back, 1);
  ck_assert_int_eq(stats.failed, 0);
  ck_assert_int_eq(code, 1);
  ck_assert_int_eq(rd_journal_job_last(j, "t1", "/etc/pki/t1.crt", &row), 0);
  ck_assert_str_eq(rd_job_state_name(row.state), "ROLLED_BACK");

  json_decref(report);
  rd_journal_close(j);
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine_ssh");
  TCase *tc = tcase_create("sshd");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, timeout_cancels_the_hung_command_rollback_runs_at_once);
  suite_add_tcase(s, tc);
  return tu_sshd_main("test_engine_ssh", s); /* rd_transport_global_init inside */
}
