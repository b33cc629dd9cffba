/* test_batch_session.c — the session shell (rd_ssh_shell, transport/
 * ssh_shell.c) running the real session loader (transport/remote.c:
 * rd_remote_build_session) on the private sshd (helpers/sshd_harness.h;
 * without root or sshd the program exits 77):
 *
 * - requests share one channel and one loader process; each gets exactly
 *   its own scripts' answers, and a script's failure stays its own; a
 *   script's text is decoded once per session;
 * - a request that times out closes the shell: the next opens a new one;
 * - a request cancelled while its script hangs: the same;
 * - the loader, or its sshd session process (the connection is lost),
 *   killed while idle: the next request opens a new shell (on a new
 *   connection) and succeeds (nothing of it had been sent);
 * - the loader killed in the middle of a request: that request ends like
 *   an execution that died (the scripts before answered, the others not),
 *   the next one opens a new shell. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "base/err.h"
#include "sshd_harness.h"
#include "transport/remote.h"
#include "transport/ssh.h"

static const rd_script sc_tag = {"t.tag", RD_PLATFORM_POSIX, 0, 0,
                                 "[ -z \"$P_sleep\" ] || sleep \"$P_sleep\"\n"
                                 "[ -z \"$P_fail\" ] || rd_fail \"$P_tag broke\"\n"
                                 "rd_out tag \"$P_tag\"\nrd_out loader \"$$\"\n"
                                 "rd_out parent \"$PPID\"\n"};
/* How many script texts the loader holds; and every other one is
 * replaced by one that answers "tag:cached" (so a text decoded again
 * would show) */
static const rd_script sc_peek = {"t.peek", RD_PLATFORM_POSIX, 0, 0,
                                  "for rd_x in \"$RD_C\"/s*; do\n"
                                  "  [ \"$rd_x\" = \"$rd_f\" ] || echo 'rd_out tag cached' >\"$rd_x\"\n"
                                  "done\n"
                                  "rd_out cached \"$(cd \"$RD_C\" && ls -d s* | wc -l)\"\n"};
/* in the script's subshell $$ is the loader's process */
static const rd_script sc_kill = {"t.kill", RD_PLATFORM_POSIX, 0, 0, "kill -9 $$\nsleep 2\n"};

typedef struct sres {
  tu_res r;
  uint64_t chan;
  rd_remote_answer ans[4];
  size_t n;
  int parsed;
} sres;

static void on_sres(const rd_exec_result *r, void *arg) {
  sres *s = arg;
  s->chan = r->channel;
  tu_on_res(r, &s->r);
}

static unsigned long token;

/* One request of n scripts (params: JSON texts), answered into *s. */
static void request(uv_loop_t *loop, rd_ssh *m, const rd_script *const *sc, const char *const *params,
                    size_t n, long op_ms, uint64_t *id, sres *s) {
  rd_remote_part parts[4];
  json_t *p[4];
  rd_remote_cmd cmd;
  rd_ssh_target t = tu_target("s1");
  rd_ssh_opts o = {.op_ms = op_ms, .id_out = id};
  char err[256], until[64];
  memset(s, 0, sizeof *s);
  s->n = n;
  for (size_t i = 0; i < n; i++) {
    ck_assert_ptr_nonnull(p[i] = json_loads(params[i], 0, NULL));
    parts[i] = (rd_remote_part){sc[i], p[i]};
  }
  ++token;
  ck_assert_int_eq(rd_remote_build_session(parts, n, 0, token, &cmd, err, sizeof err), 0);
  ck_assert_int_eq(rd_remote_posix_session_end(token, until, sizeof until), 0);
  ck_assert_int_eq(rd_ssh_shell(m, &t, cmd.command, until, cmd.stdin_data, cmd.stdin_len, &o,
                                on_sres, s),
                   0);
  for (size_t i = 0; i < n; i++)
    json_decref(p[i]);
  rd_remote_cmd_free(&cmd);
  if (!id) {
    tu_run_until(loop, &s->r.done);
    s->parsed = s->r.status == 0 &&
                rd_remote_parse_batch(s->r.out, s->r.out_len, n, s->ans, err, sizeof err) == 0;
  }
}

static void sres_free(sres *s) {
  rd_remote_answers_free(s->ans, s->n);
  tu_res_free(&s->r);
}

/* "tag:T loader:PID" of answer i, from its result lines */
static const char *answer_of(const sres *s, size_t i, char *buf, size_t len) {
  json_t *o = NULL;
  char err[256];
  if (!s->parsed || s->ans[i].exit_status ||
      rd_remote_parse_posix(s->ans[i].out, s->ans[i].out_len, &o, err, sizeof err))
    return snprintf(buf, len, "(no answer: exit %d)", s->parsed ? s->ans[i].exit_status : -1000),
           buf;
  snprintf(buf, len, "tag:%s loader:%s", json_string_value(json_object_get(o, "tag")),
           json_string_value(json_object_get(o, "loader")));
  json_decref(o);
  return buf;
}

static long loader_of(const sres *s, size_t i) {
  char b[128];
  const char *a = strstr(answer_of(s, i, b, sizeof b), "loader:");
  return a ? atol(a + 7) : -1;
}

/* the loader's parent: sshd's process for the session */
static long parent_of(const sres *s) {
  json_t *o = NULL;
  char err[256];
  long p = -1;
  if (s->parsed && !s->ans[0].exit_status &&
      !rd_remote_parse_posix(s->ans[0].out, s->ans[0].out_len, &o, err, sizeof err))
  {
    const char *v = json_string_value(json_object_get(o, "parent"));
    p = v ? atol(v) : -1;
  }
  json_decref(o);
  return p;
}

static const rd_script *const ONE[] = {&sc_tag};

START_TEST(requests_share_one_shell) {
  uv_loop_t loop;
  rd_ssh *m;
  sres a, b, c, d;
  char x[128], y[128];
  const rd_script *const three[] = {&sc_tag, &sc_tag, &sc_tag};
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"a\"}"}, 1, 0, NULL, &a);
  request(&loop, m, three,
          (const char *[]){"{\"tag\": \"b0\"}", "{\"tag\": \"b1\", \"fail\": \"1\"}",
                           "{\"tag\": \"b2 with spaces\"}"},
          3, 0, NULL, &b);
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"c\"}"}, 1, 0, NULL, &c);
  ck_assert_msg(a.parsed && b.parsed && c.parsed, "%s / %s / %s", a.r.msg, b.r.msg, c.r.msg);
  ck_assert_uint_ne(a.chan, 0);
  ck_assert_uint_eq(b.chan, a.chan);
  ck_assert_uint_eq(c.chan, a.chan);
  ck_assert_int_eq(a.r.exit, 0);
  snprintf(y, sizeof y, "tag:a loader:%ld", loader_of(&a, 0));
  ck_assert_str_eq(answer_of(&a, 0, x, sizeof x), y);
  ck_assert_int_gt(loader_of(&a, 0), 1);
  ck_assert_int_eq(loader_of(&b, 0), loader_of(&a, 0));
  ck_assert_int_eq(loader_of(&c, 0), loader_of(&a, 0));
  ck_assert_ptr_nonnull(strstr(answer_of(&b, 0, x, sizeof x), "tag:b0 "));
  ck_assert_int_eq(b.ans[1].exit_status, 3);
  ck_assert_str_eq(b.ans[1].err, "b1 broke\n");
  ck_assert_ptr_nonnull(strstr(answer_of(&b, 2, x, sizeof x), "tag:b2 with spaces "));
  ck_assert_ptr_nonnull(strstr(answer_of(&c, 0, x, sizeof x), "tag:c "));
  /* five runs of t.tag, one of t.peek: two texts kept */
  request(&loop, m, (const rd_script *const[]){&sc_peek}, (const char *[]){"{}"}, 1, 0, NULL, &d);
  ck_assert_msg(d.parsed && d.ans[0].exit_status == 0, "%s", d.r.msg);
  ck_assert_str_eq(d.ans[0].out, "cached:t 2\n");
  sres_free(&d);
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"e\"}"}, 1, 0, NULL, &d);
  ck_assert_msg(d.parsed && d.ans[0].exit_status == 0, "%s", d.r.msg);
  ck_assert_str_eq(d.ans[0].out, "tag:t cached\n"); /* the kept text ran */
  /* the libssh2 heap of the session with its idle shell (the target's
   * figure: at most 96 KB per open session) */
  rd_ssh_stats st;
  rd_ssh_get_stats(m, &st);
  printf("one session with an idle session shell: %zu bytes of libssh2 heap\n", st.heap_bytes);
  ck_assert_uint_eq(st.sessions, 1);
  ck_assert_uint_le(st.heap_bytes, 96 * 1024);
  sres_free(&a);
  sres_free(&b);
  sres_free(&c);
  sres_free(&d);
  tu_finish(&loop, m);
}
END_TEST

/* A request that fails (timeout: _i == 0, cancel: _i == 1) while its
 * script hangs closes the shell; the next request opens a new one. */
START_TEST(stopped_request_closes_the_shell) {
  uv_loop_t loop;
  rd_ssh *m;
  sres a, hung, next;
  uint64_t id = 0;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"a\"}"}, 1, 0, NULL, &a);
  ck_assert_msg(a.parsed, "%s", a.r.msg);
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"h\", \"sleep\": \"30\"}"}, 1,
          _i ? 0 : 1000, &id, &hung);
  if (_i) {
    tu_idle_for(&loop, 500);
    ck_assert_int_eq(hung.r.done, 0);
    ck_assert_int_eq(rd_ssh_cancel(m, id), 0);
  }
  tu_run_until(&loop, &hung.r.done);
  ck_assert_int_eq(hung.r.status, _i ? RD_ECANCELED : RD_ETIMEDOUT);
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"n\"}"}, 1, 0, NULL, &next);
  ck_assert_msg(next.parsed, "%s", next.r.msg);
  ck_assert_uint_ne(next.chan, a.chan);
  ck_assert_int_ne(loader_of(&next, 0), loader_of(&a, 0));
  ck_assert_int_gt(loader_of(&next, 0), 1);
  sres_free(&a);
  sres_free(&hung);
  sres_free(&next);
  tu_finish(&loop, m);
}
END_TEST

/* _i == 0: the loader killed; 1: its sshd process (the session is lost) */
START_TEST(killed_while_idle_reopens) {
  uv_loop_t loop;
  rd_ssh *m;
  sres a, b;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"a\"}"}, 1, 0, NULL, &a);
  ck_assert_msg(a.parsed, "%s", a.r.msg);
  pid_t pid = (pid_t)(_i ? parent_of(&a) : loader_of(&a, 0));
  ck_assert_int_gt(pid, 1);
  ck_assert_int_eq(kill(pid, SIGKILL), 0);
  for (int k = 0; k < 100 && kill(pid, 0) == 0; k++)
    usleep(20000);
  tu_idle_for(&loop, 300); /* sshd's EOF and close reach the idle session */
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"b\"}"}, 1, 0, NULL, &b);
  ck_assert_msg(b.parsed && b.ans[0].exit_status == 0, "%s exit %d", b.r.msg, b.r.exit);
  ck_assert_uint_ne(b.chan, a.chan);
  ck_assert_int_ne(loader_of(&b, 0), loader_of(&a, 0));
  if (_i) /* a new connection, a new sshd process */
    ck_assert_int_ne(parent_of(&b), parent_of(&a));
  sres_free(&a);
  sres_free(&b);
  tu_finish(&loop, m);
}
END_TEST

START_TEST(killed_mid_request_fails_that_request) {
  uv_loop_t loop;
  rd_ssh *m;
  sres a, b;
  char x[128], err[256];
  const rd_script *const three[] = {&sc_tag, &sc_kill, &sc_tag};
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  request(&loop, m, three, (const char *[]){"{\"tag\": \"a0\"}", "{}", "{\"tag\": \"a2\"}"}, 3, 0,
          NULL, &a);
  /* as an execution that died: the transport succeeded, the loader was
   * killed, the first script had answered, the others not */
  ck_assert_msg(a.r.status == 0, "%s", a.r.msg);
  ck_assert_int_eq(a.r.exit, -1);
  ck_assert_msg(a.parsed, "%s", a.r.out);
  ck_assert_ptr_nonnull(strstr(answer_of(&a, 0, x, sizeof x), "tag:a0 "));
  ck_assert_int_eq(a.ans[1].exit_status, RD_BATCH_NO_ANSWER);
  ck_assert_int_eq(a.ans[2].exit_status, RD_BATCH_NO_ANSWER);
  (void)err;
  request(&loop, m, ONE, (const char *[]){"{\"tag\": \"b\"}"}, 1, 0, NULL, &b);
  ck_assert_msg(b.parsed, "%s", b.r.msg);
  ck_assert_ptr_nonnull(strstr(answer_of(&b, 0, x, sizeof x), "tag:b "));
  ck_assert_uint_ne(b.chan, a.chan);
  sres_free(&a);
  sres_free(&b);
  tu_finish(&loop, m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("batch_session");
  TCase *tc = tcase_create("sshd");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, requests_share_one_shell);
  tcase_add_loop_test(tc, stopped_request_closes_the_shell, 0, 2);
  tcase_add_loop_test(tc, killed_while_idle_reopens, 0, 2);
  tcase_add_test(tc, killed_mid_request_fails_that_request);
  suite_add_tcase(s, tc);
  return tu_sshd_main("test_batch_session", s);
}
