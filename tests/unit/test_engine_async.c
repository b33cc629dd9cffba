/* test_engine_async.c — the engine with ASYNCHRONOUS step kinds: every
 * phase answers later, from host->work() after a sleep, the way a remote
 * script or an HTTP request does. A phase that answers after its step timed
 * out must never be credited to the step's next phase (a late apply must not
 * finish the rollback): each phase in turn is made slow once, and the trace
 * shows every answer as it arrives ("rs.apply" on time, "rs.apply:late" when
 * the host dropped it). Also rd_engine_start's contract: done never runs
 * inside the call, the engine may be freed inside done, an engine that never
 * ran leaves nothing on the loop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "config/runbook.h"
#include "core/engine.h"
#include "host/registry.h"
#include "store/journal.h"
#include "async_kinds.h"
#include "testutil.h"

enum { K_INV, K_ISS, K_INST, K_RS, K_CHK, NK };
static const char *const kname[NK] = {"inv", "iss", "inst", "rs", "chk"};
static const char *const pname[4] = {"probe", "apply", "verify", "rollback"};

static long delay_ms[NK][4];      /* every answer's delay */
static long first_ms[NK][4];      /* the renewal's first answer's delay, when > 0
                                     (a probe's second: the first is the pre-flight) */
static int fail_status[NK][4];    /* the status a phase answers with */
static int calls[NK][4];

/* What each kind's phase does when its answer arrives in time. */
static void effect(rd_step *s, const tu_answer *a) {
  const rd_host_api *h = a->h;
  time_t now = time(NULL);
  if (a->kind == K_INV && a->phase == RD_PHASE_PROBE)
    json_object_set_new(h->facts(s), "cert",
                        json_pack("{s:s, s:I, s:I, s:s}", "sha256", "old", "not_before",
                                  (json_int_t)(now - 29 * 86400), "not_after",
                                  (json_int_t)(now + 86400), "serial", "01"));
  if (a->kind == K_ISS && a->phase == RD_PHASE_APPLY) {
    h->set_state(s, "KEY_READY");
    h->set_state(s, "REQUESTED");
    json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  }
}

static void answered(rd_step *s, int status, const tu_answer *a) {
  char buf[64];
  int st = fail_status[a->kind][a->phase];
  if (a->kind == K_CHK && a->phase == RD_PHASE_VERIFY) {
    const char *exp = json_string_value(json_object_get(json_object_get(a->h->facts(s), "expect"), "sha256"));
    snprintf(buf, sizeof buf, "chk.verify(%s)%s", exp ? exp : "-", status ? ":late" : "");
    if (exp && !strcmp(exp, "old"))
      st = 0; /* the old certificate is served again */
  } else
    snprintf(buf, sizeof buf, "%s.%s%s", kname[a->kind], pname[a->phase], status ? ":late" : "");
  tu_note(buf);
  if (!status)
    effect(s, a);
  /* a late answer reports like any other: the host must not count it */
  a->h->done(s, status ? status : st, NULL, st && !status ? "failed on purpose" : NULL);
}

static int start(rd_step *s, const rd_host_api *h, int kind, rd_phase phase) {
  int first = phase == RD_PHASE_PROBE && kind != K_INV; /* after the pre-flight's */
  long ms = calls[kind][phase]++ == first && first_ms[kind][phase] ? first_ms[kind][phase]
                                                                   : delay_ms[kind][phase];
  return tu_answer_later(
      s, &(tu_answer){.h = h, .kind = kind, .phase = (int)phase, .ms = ms, .fn = answered});
}

/* --- a slow HTTP server: the first request is answered after slow_ms ----- */

typedef struct slow_http {
  int fd, port, stop, served;
  long slow_ms;
  pthread_t thread;
} slow_http;

static void *slow_http_main(void *arg) {
  slow_http *h = arg;
  while (!__atomic_load_n(&h->stop, __ATOMIC_SEQ_CST)) {
    struct pollfd pfd = {h->fd, POLLIN, 0};
    char buf[4096];
    size_t got = 0;
    ssize_t n;
    if (poll(&pfd, 1, 20) <= 0)
      continue;
    int c = accept(h->fd, NULL, NULL);
    if (c < 0)
      continue;
    while (got < sizeof buf - 1 && (n = recv(c, buf + got, sizeof buf - 1 - got, 0)) > 0) {
      got += (size_t)n;
      buf[got] = 0;
      if (strstr(buf, "\r\n\r\n"))
        break;
    }
    if (h->served++ == 0)
      usleep((useconds_t)h->slow_ms * 1000);
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    if (send(c, reply, sizeof reply - 1, MSG_NOSIGNAL) < 0)
      (void)0; /* the client may be gone: it timed out */
    close(c);
  }
  return NULL;
}

static void slow_http_start(slow_http *h, long slow_ms) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  memset(h, 0, sizeof *h);
  h->slow_ms = slow_ms;
  ck_assert_int_ge(h->fd = socket(AF_INET, SOCK_STREAM, 0), 0);
  ck_assert_int_eq(bind(h->fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(h->fd, 8), 0);
  ck_assert_int_eq(getsockname(h->fd, (struct sockaddr *)&a, &al), 0);
  h->port = ntohs(a.sin_port);
  ck_assert_int_eq(pthread_create(&h->thread, NULL, slow_http_main, h), 0);
}

static void slow_http_stop(slow_http *h) {
  __atomic_store_n(&h->stop, 1, __ATOMIC_SEQ_CST);
  pthread_join(h->thread, NULL);
  close(h->fd);
}

static char http_url[128]; /* set: the restart step's apply is an HTTP GET */

static void http_answered(rd_step *s, int status, const rd_http_response *r, void *arg) {
  const rd_host_api *h = arg;
  tu_note(status == RD_ECANCELED ? "rs.apply:http-canceled"
                              : status ? "rs.apply:http-failed" : "rs.apply:http");
  h->done(s, status, NULL, status ? "request failed" : NULL);
  (void)r;
}

static int rs_apply_http(rd_step *s, const rd_host_api *h) {
  rd_http_request req = {"GET", http_url, NULL, NULL, 0, 0};
  return h->http(s, &req, http_answered, (void *)h);
}

#define PHASE(k, ph, fn)                                                       \
  static int fn(rd_step *s, const rd_host_api *h) { return start(s, h, k, ph); }
PHASE(K_INV, RD_PHASE_PROBE, inv_probe)
PHASE(K_ISS, RD_PHASE_PROBE, iss_probe)
PHASE(K_ISS, RD_PHASE_APPLY, iss_apply)
PHASE(K_ISS, RD_PHASE_ROLLBACK, iss_rollback)
PHASE(K_INST, RD_PHASE_PROBE, inst_probe)
PHASE(K_INST, RD_PHASE_APPLY, inst_apply)
PHASE(K_INST, RD_PHASE_VERIFY, inst_verify)
PHASE(K_INST, RD_PHASE_ROLLBACK, inst_rollback)
PHASE(K_RS, RD_PHASE_PROBE, rs_probe)
PHASE(K_RS, RD_PHASE_APPLY, rs_apply_work)
static int rs_apply(rd_step *s, const rd_host_api *h) {
  return http_url[0] ? rs_apply_http(s, h) : rs_apply_work(s, h);
}
PHASE(K_RS, RD_PHASE_ROLLBACK, rs_rollback)
PHASE(K_CHK, RD_PHASE_PROBE, chk_probe)
PHASE(K_CHK, RD_PHASE_VERIFY, chk_verify)

static int cancels;
static void rs_cancel(rd_step *s, const rd_host_api *h) {
  cancels++;
  /* nothing reported from the hook counts either */
  h->done(s, 0, NULL, "from the cancel hook");
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = iss_probe,
                                   .apply = iss_apply, .rollback = iss_rollback};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL, .probe = inst_probe,
                                    .apply = inst_apply, .verify = inst_verify, .rollback = inst_rollback};
static const rd_step_kind k_rs = {.type = "test.restart", .flags = RD_KIND_RESTART, .probe = rs_probe,
                                  .apply = rs_apply, .rollback = rs_rollback, .cancel = rs_cancel};
static const rd_step_kind k_chk = {.type = "test.check", .flags = RD_KIND_CHECK, .probe = chk_probe,
                                   .verify = chk_verify};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

/* --- a run through rd_engine_start, the engine freed inside done ------------ */

typedef struct run_out {
  int code, done_calls, done_inside_start;
  char state[32];
  rd_engine_stats stats;
  json_t *report;
} run_out;

static int in_start;

static void run_done(rd_engine *e, int code, const rd_engine_stats *stats, void *arg) {
  run_out *o = arg;
  const json_t *job = json_array_get(json_object_get(rd_engine_report(e), "jobs"), 0);
  o->done_calls++;
  o->done_inside_start |= in_start;
  o->code = code;
  o->stats = *stats;
  o->report = json_deep_copy(rd_engine_report(e));
  snprintf(o->state, sizeof o->state, "%s", job ? json_string_value(json_object_get(job, "state")) : "");
  rd_engine_free(e); /* allowed inside done */
}

static char jdir[64], jpath[128];

static void setup(void) {
  tu_tmpdir(jdir, jpath, "async");
  memset(delay_ms, 0, sizeof delay_ms);
  memset(first_ms, 0, sizeof first_ms);
  memset(fail_status, 0, sizeof fail_status);
  memset(calls, 0, sizeof calls);
  for (int k = 0; k < NK; k++)
    for (int p = 0; p < 4; p++)
      delay_ms[k][p] = 5;
  tu_trace[0] = 0;
  cancels = 0;
  http_url[0] = 0;
}

static void teardown(void) { tu_tmpdir_remove(jdir); }

static run_out run_async(const char *file) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_journal *j = NULL;
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[512];
  FILE *devnull = fopen("/dev/null", "w");
  rd_engine_opts eo = {.out = devnull};
  run_out o = {0};
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, &plugin, "test", err, sizeof err), 0);
  ck_assert_msg(rd_runbook_load(file, reg, &rb, &diag) == 0, "runbook");
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, j, &eo, &e), 0);
  ck_assert_int_eq(rd_engine_add_runbook(e, rb), 0);
  in_start = 1;
  ck_assert_int_eq(rd_engine_start(e, run_done, &o), 0);
  in_start = 0;
  ck_assert_int_eq(o.done_calls, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(o.done_calls, 1);
  ck_assert_int_eq(o.done_inside_start, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0); /* nothing left: not a timer, not a work */
  if (strcmp(o.state, "BACKOFF")) {
    rd_job_row row;
    ck_assert_int_eq(rd_journal_job_last(j, "t1", "/etc/pki/t1.crt", &row), 0);
    ck_assert_str_eq(rd_job_state_name(row.state), o.state);
  }
  rd_journal_close(j);
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
  return o;
}

static const json_t *phase_of(const run_out *o, const char *step, const char *phase) {
  const json_t *steps = json_object_get(json_array_get(json_object_get(o->report, "jobs"), 0), "steps");
  size_t i;
  const json_t *st;
  json_array_foreach(steps, i, st)
    if (!strcmp(json_string_value(json_object_get(st, "name")), step))
      return json_object_get(json_object_get(st, "phases"), phase);
  return NULL;
}

static const char *status_of(const run_out *o, const char *step, const char *phase) {
  return json_string_value(json_object_get(phase_of(o, step, phase), "status"));
}

/* the pre-flight (every step's probe), then the renewal */
#define PREFLIGHT "inv.probe iss.probe inst.probe rs.probe chk.probe "
#define RENEW_PREFIX PREFLIGHT "iss.probe iss.apply inst.probe inst.apply inst.verify "

/* The reproduction (timeouts of 1 s here, margins wide enough for a loaded machine): the restart step's apply
 * times out, then answers at 1.5 s while its rollback (0.7 s) is still
 * running. The late apply is
 * dropped; the rollback completes on its own answer, then the rest. */
START_TEST(late_apply_does_not_finish_the_rollback) {
  first_ms[K_RS][RD_PHASE_APPLY] = 1500;
  delay_ms[K_RS][RD_PHASE_ROLLBACK] = 700;
  run_out o = run_async(FIXTURES "/engine/async.json");
  ck_assert_str_eq(tu_trace, RENEW_PREFIX "rs.probe rs.apply:late rs.rollback inst.rollback "
                                       "iss.rollback rs.apply chk.verify(old)");
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_str_eq(status_of(&o, "restart", "rollback"), "ok");
  /* the rollback took its own time, not the late apply's */
  ck_assert_double_ge(json_real_value(json_object_get(phase_of(&o, "restart", "rollback"), "ms")), 240);
  ck_assert_int_eq(cancels, 1); /* the kind's cancel hook heard of the timeout */
  ck_assert_int_eq(o.stats.rolled_back, 1);
  ck_assert_int_eq(o.stats.failed, 0);
  ck_assert_int_eq(o.code, 1);
  json_decref(o.report);
}
END_TEST

/* A late probe: the step never applied, so only the earlier steps roll
 * back; the probe's answer is dropped, not delivered as a success. */
START_TEST(late_probe_is_dropped) {
  first_ms[K_RS][RD_PHASE_PROBE] = 1500;
  delay_ms[K_INST][RD_PHASE_ROLLBACK] = 700;
  run_out o = run_async(FIXTURES "/engine/async.json");
  ck_assert_str_eq(tu_trace, RENEW_PREFIX "rs.probe:late inst.rollback iss.rollback chk.verify(old)");
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_str_eq(status_of(&o, "restart", "probe"), "RD_ETIMEDOUT");
  ck_assert_ptr_null(phase_of(&o, "restart", "rollback"));
  json_decref(o.report);
}
END_TEST

/* A late verify of the install step must not finish its rollback. */
START_TEST(late_verify_does_not_finish_the_rollback) {
  first_ms[K_INST][RD_PHASE_VERIFY] = 1500;
  delay_ms[K_INST][RD_PHASE_ROLLBACK] = 700;
  run_out o = run_async(FIXTURES "/engine/async.json");
  ck_assert_str_eq(tu_trace, PREFLIGHT "iss.probe iss.apply inst.probe inst.apply inst.verify:late "
                                    "inst.rollback iss.rollback chk.verify(old)");
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_str_eq(status_of(&o, "install", "verify"), "RD_ETIMEDOUT");
  ck_assert_double_ge(json_real_value(json_object_get(phase_of(&o, "install", "rollback"), "ms")), 240);
  json_decref(o.report);
}
END_TEST

/* A late rollback must not finish the restart's re-apply; a rollback that
 * timed out is not known to be done: the job stays ROLLING_BACK (owed to
 * the next run, test_engine_rollback.c), counted once as failed. */
START_TEST(late_rollback_does_not_finish_the_reapply) {
  fail_status[K_CHK][RD_PHASE_VERIFY] = RD_EVERIFY; /* the new certificate is not served */
  first_ms[K_RS][RD_PHASE_ROLLBACK] = 1500;
  delay_ms[K_RS][RD_PHASE_APPLY] = 700;
  run_out o = run_async(FIXTURES "/engine/async.json");
  ck_assert_str_eq(tu_trace, RENEW_PREFIX "rs.probe rs.apply chk.probe chk.verify(new) inst.rollback "
                                       "iss.rollback rs.rollback:late rs.apply chk.verify(old)");
  ck_assert_str_eq(o.state, "ROLLING_BACK");
  ck_assert_str_eq(status_of(&o, "restart", "rollback"), "RD_ETIMEDOUT");
  ck_assert_str_eq(status_of(&o, "restart", "apply"), "ok");
  ck_assert_double_ge(json_real_value(json_object_get(phase_of(&o, "restart", "apply"), "ms")), 240);
  ck_assert_int_eq(o.stats.failed, 1);
  ck_assert_int_eq(o.stats.rolled_back, 0);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o.report, "stats"), "failed")), 1);
  ck_assert_int_eq(o.code, 1);
  json_decref(o.report);
}
END_TEST

/* The same through HTTP: the request still open at the timeout is canceled
 * (rd_http_cancel); its callback runs once, at once, with RD_ECANCELED and
 * no answer, and the done() it calls is ignored; the rollback runs its own
 * course and the re-apply's request is answered in time. */
START_TEST(late_http_answer_is_dropped) {
  slow_http srv;
  slow_http_start(&srv, 1500);
  snprintf(http_url, sizeof http_url, "http://127.0.0.1:%d/restart", srv.port);
  delay_ms[K_RS][RD_PHASE_ROLLBACK] = 700;
  run_out o = run_async(FIXTURES "/engine/async.json");
  slow_http_stop(&srv);
  ck_assert_str_eq(tu_trace, RENEW_PREFIX "rs.probe rs.apply:http-canceled rs.rollback "
                                       "inst.rollback iss.rollback rs.apply:http chk.verify(old)");
  ck_assert_str_eq(o.state, "ROLLED_BACK");
  ck_assert_str_eq(status_of(&o, "restart", "rollback"), "ok");
  ck_assert_double_ge(json_real_value(json_object_get(phase_of(&o, "restart", "rollback"), "ms")), 240);
  ck_assert_int_eq(cancels, 1);
  json_decref(o.report);
}
END_TEST

/* --- rd_engine_start's contract ------------------------------------------- */

static void count_done(rd_engine *e, int code, const rd_engine_stats *stats, void *arg) {
  run_out *o = arg;
  (void)stats;
  o->done_calls++;
  o->done_inside_start |= in_start;
  o->code = code;
  rd_engine_free(e);
}

START_TEST(start_with_zero_jobs) {
  uv_loop_t loop;
  rd_engine *e = NULL;
  rd_registry *reg = NULL;
  rd_engine_opts eo = {0};
  run_out o = {0};
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, NULL, &eo, &e), 0);
  in_start = 1;
  ck_assert_int_eq(rd_engine_start(e, count_done, &o), 0);
  in_start = 0;
  ck_assert_int_eq(o.done_calls, 0);
  ck_assert_int_eq(rd_engine_start(e, count_done, &o), RD_EBUSY); /* runs once */
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(o.done_calls, 1);
  ck_assert_int_eq(o.done_inside_start, 0);
  ck_assert_int_eq(o.code, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_registry_free(reg);
}
END_TEST

/* An engine made, given a runbook (loaded without a registry, so the engine
 * looks its step kinds up) and freed without a run: nothing may stay on the
 * loop, nor in memory (ASan / valgrind). want: rd_engine_add_runbook's. */
static void made_and_freed(const rd_plugin *p, const char *runbook, int want) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[256];
  rd_engine_opts eo = {.whatif = 1};
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, p, "test", err, sizeof err), 0);
  if (runbook)
    ck_assert_int_eq(rd_runbook_load(runbook, NULL, &rb, &diag), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, NULL, &eo, &e), 0);
  if (rb)
    ck_assert_int_eq(rd_engine_add_runbook(e, rb), want);
  rd_engine_free(e);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  if (rb)
    rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
}

/* `renewd plan --host nope` (no job), and an engine whose jobs never ran. */
START_TEST(never_run_leaves_nothing) {
  made_and_freed(&plugin, NULL, 0);
  made_and_freed(&plugin, FIXTURES "/engine/async.json", 0);
}
END_TEST

/* A follow-up whose kind is not loaded refuses the runbook without leaking
 * the job built so far. */
static const rd_step_kind *const kinds_nochk[] = {&k_inv, &k_iss, &k_inst, &k_rs, NULL};
static const rd_plugin plugin_nochk = RD_PLUGIN_INIT("testn", "1", kinds_nochk);
START_TEST(missing_kind_leaks_nothing) {
  made_and_freed(&plugin_nochk, FIXTURES "/engine/async.json", RD_ECONFIG);
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine_async");
  TCase *tc = tcase_create("late answers");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, late_apply_does_not_finish_the_rollback);
  tcase_add_test(tc, late_probe_is_dropped);
  tcase_add_test(tc, late_verify_does_not_finish_the_rollback);
  tcase_add_test(tc, late_rollback_does_not_finish_the_reapply);
  tcase_add_test(tc, late_http_answer_is_dropped);
  suite_add_tcase(s, tc);
  TCase *st = tcase_create("start");
  tcase_add_test(st, start_with_zero_jobs);
  tcase_add_test(st, never_run_leaves_nothing);
  tcase_add_test(st, missing_kind_leaks_nothing);
  suite_add_tcase(s, st);
  return tu_run(s);
}
