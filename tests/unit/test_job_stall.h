/* test_job_stall.h — what the PostgreSQL tests of a job's asynchronous
 * journal calls share (test_job_async.c, test_job_writes.c): the backend
 * of the journal's second connection SIGSTOPped for STALL_MS and resumed
 * by a thread, the runbook of t1 and t2 they run, the inventory's old
 * certificate and a job's state in the report. Included after
 * test_journal_fixture.h and engine_run.h. */
#ifndef RENEWD_TEST_JOB_STALL_H
#define RENEWD_TEST_JOB_STALL_H
#include <pthread.h>
#include <uv.h>

#define STALL_MS 1000

static long long stalled_pid;      /* the second connection's backend, while stopped */
static uint64_t t_stop, t_cont;    /* when it was stopped and resumed (ms) */
static pthread_t resumer;
static void (*stall_before_resume)(void); /* run by the resumer just before SIGCONT */

static inline void *resume_later(void *arg) {
  (void)arg;
  usleep(STALL_MS * 1000);
  if (stall_before_resume)
    stall_before_resume();
  t_cont = rd_now_ms();
  kill((pid_t)stalled_pid, SIGCONT);
  return NULL;
}

/* The newest 'renewd' backend is the second connection (opened for the
 * run's first asynchronous call, after the first): stopped now, resumed
 * STALL_MS later (join resumer). */
static inline void stall_second_connection(void) {
  stalled_pid = sql_int(dbpath, "SELECT pid FROM pg_stat_activity WHERE application_name ="
                                " 'renewd' ORDER BY backend_start DESC LIMIT 1");
  ck_assert_int_gt(stalled_pid, 0);
  ck_assert_int_eq(kill((pid_t)stalled_pid, SIGSTOP), 0);
  t_stop = rd_now_ms();
  ck_assert_int_eq(pthread_create(&resumer, NULL, resume_later, NULL), 0);
}

/* A timer on the run's loop every TICK_MS, counting its ticks between
 * t_stop and t_cont (unreferenced: the run ends without it); as
 * tu_engine_journal_open / _close. */
#define TICK_MS 10
static int ticks_during;
static uv_timer_t tick;

static inline void ticked(uv_timer_t *t) {
  (void)t;
  if (t_stop && !t_cont)
    ticks_during++;
}

static inline void timer_on(uv_loop_t *loop, rd_journal *j) {
  (void)j;
  ck_assert_int_eq(uv_timer_init(loop, &tick), 0);
  ck_assert_int_eq(uv_timer_start(&tick, ticked, TICK_MS, TICK_MS), 0);
  uv_unref((uv_handle_t *)&tick);
}

static inline void timer_off(rd_journal *j) {
  (void)j;
  uv_close((uv_handle_t *)&tick, NULL);
}

/* The inventory found an old certificate due in a day. */
static inline void old_cert_found(rd_step *s, const rd_host_api *h) {
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:I, s:I, s:i}", "sha256", "old", "not_before",
                                (json_int_t)(time(NULL) - 29 * 86400), "not_after",
                                (json_int_t)(time(NULL) + 86400), "serial", 1));
}

static inline const char *state_of(const tu_engine_out *o, size_t i) {
  return json_string_value(
      json_object_get(json_array_get(json_object_get(o->report, "jobs"), i), "state"));
}

/* t1 and t2 (unreachable addresses: the test's kinds never connect) with
 * a SCEP issuer, then steps (JSON array items, "" none); ssh_more: more
 * members of its "ssh" section ("" none). */
static inline void write_runbook_ssh(const char *file, const char *steps, const char *ssh_more) {
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"rb\", \"targets\": {\"hosts\": ["
          " {\"name\": \"t1\", \"address\": \"192.0.2.1\", \"platform\": \"posix\"},"
          " {\"name\": \"t2\", \"address\": \"192.0.2.2\", \"platform\": \"posix\"}]},"
          " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\","
          " \"known_hosts\": \"/nonexistent/kh\"%s},"
          " \"certificate\": {\"cert\": \"/etc/pki/t.crt\", \"key\": \"/etc/pki/t.key\"},"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\","
          " \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
          " \"policy\": {\"renew_before\": \"10d\"},"
          " \"steps\": [%s]}\n",
          ssh_more, steps);
  fclose(f);
}

static inline void write_runbook(const char *file, const char *steps) {
  write_runbook_ssh(file, steps, "");
}

/* The kinds of a renewal (inventory, SCEP issue, install), each phase
 * started by the test's start() with its label ("iss.apply"). */
static int start(rd_step *s, const rd_host_api *h, const char *name);
#define PHASE(fn, label)                                                       \
  static int fn(rd_step *s, const rd_host_api *h) { return start(s, h, label); }
PHASE(inv_probe, "inv.probe")
PHASE(iss_probe, "iss.probe")
PHASE(iss_apply, "iss.apply")
PHASE(inst_probe, "inst.probe")
PHASE(inst_apply, "inst.apply")
PHASE(inst_verify, "inst.verify")
static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER,
                                   .probe = iss_probe, .apply = iss_apply};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = inst_probe, .apply = inst_apply,
                                    .verify = inst_verify};

#endif
