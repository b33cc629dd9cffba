/* test_ssh.c — ssh*.c against a private sshd on 127.0.0.1 (see
 * helpers/sshd_harness.h; without root or sshd the program exits 77):
 * exec with stdin/stdout/stderr, caps, timeouts, keepalive and a dead
 * session, key formats, host key and login refusals, host key fetch, SFTP
 * put/get, a framed script, shutdown with queued work, the handshake cap.
 * Every test closes its loop with uv_loop_close() == 0. Cancel is in
 * test_ssh_cancel.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "base/err.h"
#include "echo_script.h"
#include "sshd_harness.h"
#include "transport/remote.h"
#include "transport/ssh.h"

START_TEST(ssh_exec_basics) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0}, b = {0}, c = {0};
  rd_ssh_target t = tu_target("t1");
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo hi; echo oops >&2; exit 7", NULL, 0, NULL, tu_on_res, &a), 0);
  ck_assert_int_eq(a.done, 0); /* never called back inside the call */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, tu_on_res, &b), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID; kill -9 $$", NULL, 0, NULL, tu_on_res, &c), 0);
  tu_run_until(&loop, &c.done);
  ck_assert_msg(a.status == 0, "%s", a.msg);
  ck_assert_int_eq(a.exit, 7);
  ck_assert_str_eq(a.out, "hi\n");
  ck_assert_str_eq(a.err, "oops\n");
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_eq(c.status, 0);
  ck_assert_int_eq(c.exit, -1); /* killed by a signal */
  ck_assert_str_eq(b.out, c.out); /* same session: same sshd child */
  tu_finish(&loop, m);
  tu_res_free(&a);
  tu_res_free(&b);
  tu_res_free(&c);
}
END_TEST

START_TEST(ssh_keepalive_and_dead_session) {
  uv_loop_t loop;
  rd_ssh *m;
  rd_ssh_limits lim = {0, 1};
  tu_res a = {0}, b = {0}, c = {0};
  rd_ssh_target t = tu_target("t8");
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, &lim, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, tu_on_res, &a), 0);
  tu_run_until(&loop, &a.done);
  ck_assert_int_eq(a.status, 0);
  tu_idle_for(&loop, 2500); /* two keepalives go out on the idle session */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, tu_on_res, &b), 0);
  tu_run_until(&loop, &b.done);
  ck_assert_msg(b.status == 0, "%s", b.msg);
  ck_assert_str_eq(a.out, b.out); /* still the same session */
  /* the server side of the idle session dies: the next op reconnects once */
  ck_assert_int_eq(kill(atoi(a.out), SIGKILL), 0);
  tu_idle_for(&loop, 200);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, tu_on_res, &c), 0);
  tu_run_until(&loop, &c.done);
  ck_assert_msg(c.status == 0, "%s", c.msg);
  ck_assert_str_ne(a.out, c.out);
  tu_finish(&loop, m);
  tu_res_free(&a);
  tu_res_free(&b);
  tu_res_free(&c);
}
END_TEST

START_TEST(ssh_key_formats) {
  static const char *keys[] = {"ec256", "ec384", "ec521", "p8.pem", "p8ec.pem", "enc", "enc"};
  static const char *pass[] = {NULL, NULL, NULL, NULL, NULL, "pass phrase", "s3cret-Xyz"};
  enum { K = 7 };
  uv_loop_t loop;
  rd_ssh *m;
  tu_res r[K];
  char path[K][400], names[K][16];
  memset(r, 0, sizeof r);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  for (int i = 0; i < K; i++) {
    snprintf(path[i], sizeof path[i], "%s/%s", tu_sshd_dir, keys[i]);
    snprintf(names[i], sizeof names[i], "k%d", i);
    rd_ssh_target t = tu_target(names[i]);
    t.identity = path[i];
    t.passphrase = pass[i];
    ck_assert_int_eq(rd_ssh_exec(m, &t, "echo in", NULL, 0, NULL, tu_on_res, &r[i]), 0);
  }
  for (int all = 0; all < K && uv_run(&loop, UV_RUN_ONCE);) {
    all = 0;
    for (int i = 0; i < K; i++)
      all += r[i].done;
  }
  for (int i = 0; i < K - 1; i++) {
    ck_assert_msg(r[i].status == 0, "%s: %s", keys[i], r[i].msg);
    ck_assert_str_eq(r[i].out, "in\n");
  }
  ck_assert_int_eq(r[K - 1].status, RD_ECONFIG); /* wrong passphrase */
  ck_assert_msg(strstr(r[K - 1].msg, "s3cret-Xyz") == NULL, "passphrase in message: %s", r[K - 1].msg);
  for (int i = 0; i < K; i++)
    tu_res_free(&r[i]);
  tu_finish(&loop, m);
}
END_TEST

START_TEST(ssh_stdin_and_both_streams) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0};
  rd_ssh_target t = tu_target("t2");
  rd_ssh_opts o = {.op_ms = 60000, .err_cap = 4096};
  size_t n = 3u << 20;
  unsigned char *in = malloc(n);
  RAND_bytes(in, (int)n);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  /* the command writes stdout and stderr while we are still writing stdin */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "tee /dev/stderr", in, n, &o, tu_on_res, &a), 0);
  tu_run_until(&loop, &a.done);
  ck_assert_msg(a.status == 0, "%s", a.msg);
  ck_assert_int_eq(a.exit, 0);
  ck_assert_uint_eq(a.out_len, n);
  ck_assert(!memcmp(a.out, in, n));
  ck_assert_uint_eq(a.err_len, 4096); /* capped, and drained past the cap */
  ck_assert(!memcmp(a.err, in, 4096));
  tu_res_free(&a);
  /* stdout over the cap: truncated, flagged, drained to the end */
  rd_ssh_opts cap = {.op_ms = 60000, .out_cap = 100000};
  ck_assert_int_eq(rd_ssh_exec(m, &t, "head -c 5000000 /dev/zero; echo done >&2", NULL, 0, &cap,
                               tu_on_res, &a), 0);
  tu_run_until(&loop, &a.done);
  ck_assert_int_eq(a.status, 0);
  ck_assert_int_eq(a.trunc, 1);
  ck_assert_uint_eq(a.out_len, 100000);
  ck_assert_str_eq(a.err, "done\n");
  tu_finish(&loop, m);
  tu_res_free(&a);
  free(in);
}
END_TEST

START_TEST(ssh_timeout_then_recover) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0}, b = {0};
  rd_ssh_target t = tu_target("t3");
  rd_ssh_opts o = {.op_ms = 400};
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "sleep 20", NULL, 0, &o, tu_on_res, &a), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo after", NULL, 0, NULL, tu_on_res, &b), 0);
  tu_run_until(&loop, &b.done);
  ck_assert_int_eq(a.status, RD_ETIMEDOUT);
  ck_assert_msg(strstr(a.msg, "host t3: ssh exec: timed out after 400 ms") == a.msg, "%s", a.msg);
  ck_assert_msg(a.ms < 3000, "%f", a.ms);
  ck_assert_msg(b.status == 0, "%s", b.msg);
  ck_assert_str_eq(b.out, "after\n");
  tu_finish(&loop, m);
  tu_res_free(&a);
  tu_res_free(&b);
}
END_TEST

START_TEST(ssh_refusals) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
  rd_ssh_target wrong = tu_target("h0003"), unknown = tu_target("h0004"), closed = tu_target("h0005"),
                nokey = tu_target("h0006"), baduser = tu_target("h0007");
  wrong.known_hosts = tu_sshd_kh_wrong;
  unknown.known_hosts = tu_sshd_kh_empty;
  closed.port = tu_free_port();
  nokey.identity = "/nonexistent/key";
  baduser.user = "nobody";
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &wrong, "true", NULL, 0, NULL, tu_on_res, &a), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &unknown, "true", NULL, 0, NULL, tu_on_res, &b), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &closed, "true", NULL, 0, NULL, tu_on_res, &c), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &nokey, "true", NULL, 0, NULL, tu_on_res, &d), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &baduser, "true", NULL, 0, NULL, tu_on_res, &e), 0);
  while (!(a.done && b.done && c.done && d.done && e.done) && uv_run(&loop, UV_RUN_ONCE))
    ;
  ck_assert_int_eq(a.status, RD_EHOSTKEY);
  ck_assert_msg(strstr(a.msg, "host h0003: host key for 127.0.0.1:") == a.msg, "%s", a.msg);
  ck_assert_msg(strstr(a.msg, tu_sshd_host_fp) != NULL, "%s lacks %s", a.msg, tu_sshd_host_fp);
  ck_assert_msg(strstr(a.msg, "expects SHA256:") != NULL, "%s", a.msg);
  ck_assert_int_eq(b.status, RD_EHOSTKEY);
  char want[600];
  snprintf(want, sizeof want,
           "host h0004: host key %s is not in %s; run `renewd hosts trust h0004` after checking "
           "the fingerprint",
           tu_sshd_host_fp, tu_sshd_kh_empty);
  ck_assert_str_eq(b.msg, want);
  ck_assert_int_eq(c.status, RD_ECONNREFUSED);
  snprintf(want, sizeof want, "host h0005: ssh connect 127.0.0.1:%d: connection refused",
           closed.port);
  ck_assert_str_eq(c.msg, want);
  ck_assert_int_eq(d.status, RD_ECONFIG);
  ck_assert_msg(strstr(d.msg, "/nonexistent/key") != NULL, "%s", d.msg);
  ck_assert_int_eq(e.status, RD_EAUTH);
  ck_assert_msg(strstr(e.msg, "host h0007: ssh login as nobody") == e.msg, "%s", e.msg);
  tu_finish(&loop, m);
  tu_res_free(&a);
  tu_res_free(&b);
  tu_res_free(&c);
  tu_res_free(&d);
  tu_res_free(&e);
}
END_TEST

static void on_hk(int status, const char *line, const char *fp, const char *msg, void *arg) {
  tu_res *x = arg;
  x->done++;
  x->status = status;
  snprintf(x->msg, sizeof x->msg, "%s|%s", fp ? fp : "", line ? line : (msg ? msg : ""));
}

START_TEST(ssh_fetch_hostkey) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0};
  rd_ssh_target t;
  char want[256];
  memset(&t, 0, sizeof t);
  t.name = "new";
  t.address = "127.0.0.1";
  t.port = tu_sshd_port;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_fetch_hostkey(m, &t, NULL, on_hk, &a), 0);
  tu_run_until(&loop, &a.done);
  ck_assert_int_eq(a.status, 0);
  snprintf(want, sizeof want, "%s|[127.0.0.1]:%d ssh-ed25519 AAAA", tu_sshd_host_fp, tu_sshd_port);
  ck_assert_msg(!strncmp(a.msg, want, strlen(want)), "%s vs %s", a.msg, want);
  tu_finish(&loop, m);
}
END_TEST

START_TEST(ssh_sftp_put_get) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, f = {0};
  rd_ssh_target t = tu_target("t4");
  char path[400], missing[400], dirpath[400];
  struct stat st;
  size_t n = 300000;
  unsigned char *data = malloc(n);
  RAND_bytes(data, (int)n);
  snprintf(path, sizeof path, "%s/put/target.pem", tu_sshd_dir);
  snprintf(dirpath, sizeof dirpath, "%s/put", tu_sshd_dir);
  snprintf(missing, sizeof missing, "%s/nope/x", tu_sshd_dir);
  mkdir(dirpath, 0755);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_put(m, &t, path, "first\n", 6, 0640, NULL, tu_on_res, &a), 0);
  /* the second put replaces an existing file */
  ck_assert_int_eq(rd_ssh_put(m, &t, path, data, n, 0600, NULL, tu_on_res, &b), 0);
  ck_assert_int_eq(rd_ssh_get(m, &t, path, NULL, tu_on_res, &c), 0);
  ck_assert_int_eq(rd_ssh_get(m, &t, missing, NULL, tu_on_res, &d), 0);
  ck_assert_int_eq(rd_ssh_put(m, &t, missing, "x", 1, 0644, NULL, tu_on_res, &e), 0);
  rd_ssh_opts small = {.out_cap = 1000};
  ck_assert_int_eq(rd_ssh_get(m, &t, path, &small, tu_on_res, &f), 0);
  tu_run_until(&loop, &f.done);
  ck_assert_msg(a.status == 0, "%s", a.msg);
  ck_assert_msg(b.status == 0, "%s", b.msg);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq((int)(st.st_mode & 07777), 0600);
  ck_assert_int_eq((int)st.st_size, (int)n);
  ck_assert_msg(c.status == 0, "%s", c.msg);
  ck_assert_uint_eq(c.out_len, n);
  ck_assert(!memcmp(c.out, data, n));
  ck_assert_int_eq(d.status, RD_ENOTFOUND);
  ck_assert_msg(strstr(d.msg, "host t4: sftp get ") == d.msg, "%s", d.msg);
  ck_assert_int_eq(e.status, RD_ENOTFOUND);
  ck_assert_int_eq(f.status, RD_EOVERFLOW);
  ck_assert_uint_eq(f.out_len, 1000);
  /* no temporary files are left behind */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dirpath);
  ck_assert_int_eq(system(cmd), 0);
  tu_finish(&loop, m);
  tu_res_free(&a);
  tu_res_free(&b);
  tu_res_free(&c);
  tu_res_free(&d);
  tu_res_free(&e);
  tu_res_free(&f);
  free(data);
}
END_TEST

START_TEST(ssh_script_roundtrip) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0};
  rd_ssh_target t = tu_target("t5");
  rd_script s = {"test.echo", RD_PLATFORM_POSIX, 0, 0, tu_echo_script};
  json_t *params = tu_hostile_params(), *out = NULL;
  rd_remote_cmd c;
  char err[512];
  unlink(TU_PWNED);
  ck_assert_int_eq(rd_remote_build(&s, params, 0, &c, err, sizeof err), 0);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, c.command, c.stdin_data, c.stdin_len, NULL, tu_on_res, &a), 0);
  tu_run_until(&loop, &a.done);
  ck_assert_msg(a.status == 0 && a.exit == 0, "%s %s", a.msg, a.err);
  ck_assert_int_eq(rd_remote_parse_posix(a.out, a.out_len, &out, err, sizeof err), 0);
  tu_expect_echo(params, out);
  ck_assert_int_eq(access(TU_PWNED, F_OK), -1);
  tu_finish(&loop, m);
  json_decref(out);
  json_decref(params);
  rd_remote_cmd_free(&c);
  tu_res_free(&a);
}
END_TEST

static rd_ssh *stop_me;
static void on_stop_timer(uv_timer_t *t) {
  rd_ssh_shutdown(stop_me, tu_on_shut, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

START_TEST(ssh_shutdown_cancels) {
  uv_loop_t loop;
  uv_timer_t tm;
  rd_ssh *m;
  tu_res r[6];
  rd_ssh_target t = tu_target("t6"), u = tu_target("t7");
  memset(r, 0, sizeof r);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  /* immediately: nothing has started */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "true", NULL, 0, NULL, tu_on_res, &r[0]), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &u, "true", NULL, 0, NULL, tu_on_res, &r[1]), 0);
  tu_shut_done = 0;
  rd_ssh_shutdown(m, tu_on_shut, NULL);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "true", NULL, 0, NULL, tu_on_res, &r[2]), RD_ECANCELED);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(tu_shut_done, 1);
  ck_assert_int_eq(r[0].status, RD_ECANCELED);
  ck_assert_int_eq(r[1].status, RD_ECANCELED);
  ck_assert_int_eq(r[2].done, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  tu_res_free(&r[0]);
  tu_res_free(&r[1]);
  /* while a command runs, with more queued behind it, and an idle session */
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &u, "true", NULL, 0, NULL, tu_on_res, &r[5]), 0);
  tu_run_until(&loop, &r[5].done);
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(rd_ssh_exec(m, &t, "sleep 20", NULL, 0, NULL, tu_on_res, &r[i]), 0);
  stop_me = m;
  tu_shut_done = 0;
  uv_timer_init(&loop, &tm);
  uv_timer_start(&tm, on_stop_timer, 700, 0);
  uint64_t t0 = uv_now(&loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_msg(uv_now(&loop) - t0 < 5000, "shutdown took %llu ms",
                (unsigned long long)(uv_now(&loop) - t0));
  ck_assert_int_eq(tu_shut_done, 1);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(r[i].done, 1);
    ck_assert_int_eq(r[i].status, RD_ECANCELED);
    tu_res_free(&r[i]);
  }
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  tu_res_free(&r[5]);
}
END_TEST

START_TEST(ssh_many_hosts_capped) {
  uv_loop_t loop;
  rd_ssh *m;
  rd_ssh_limits lim = {2, 0};
  enum { N = 12 };
  tu_res r[N];
  char names[N][16];
  int all = 0;
  memset(r, 0, sizeof r);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, &lim, &m), 0);
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "h%04d", i + 1);
    rd_ssh_target t = tu_target(names[i]);
    ck_assert_int_eq(rd_ssh_exec(m, &t, "echo ok", NULL, 0, NULL, tu_on_res, &r[i]), 0);
  }
  while (all < N && uv_run(&loop, UV_RUN_ONCE)) {
    all = 0;
    for (int i = 0; i < N; i++)
      all += r[i].done;
  }
  rd_ssh_stats st;
  rd_ssh_get_stats(m, &st);
  ck_assert_uint_eq(st.ready, N); /* sessions stay open until released */
  ck_assert_msg(st.heap_bytes / st.ready < 200000, "%zu bytes per idle session",
                st.heap_bytes / st.ready);
  for (int i = 0; i < N; i++) {
    ck_assert_msg(r[i].status == 0, "%s", r[i].msg);
    ck_assert_str_eq(r[i].out, "ok\n");
    rd_ssh_release(m, names[i]);
    tu_res_free(&r[i]);
  }
  tu_finish(&loop, m);
}
END_TEST

/* A manager that never had an operation: shutdown frees it, nothing is
 * left on the loop. */
START_TEST(ssh_idle_manager_shutdown) {
  uv_loop_t loop;
  rd_ssh *m;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  tu_finish(&loop, m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ssh");
  TCase *ts = tcase_create("sshd");
  tcase_set_timeout(ts, 120);
  tcase_add_test(ts, ssh_exec_basics);
  tcase_add_test(ts, ssh_key_formats);
  tcase_add_test(ts, ssh_keepalive_and_dead_session);
  tcase_add_test(ts, ssh_stdin_and_both_streams);
  tcase_add_test(ts, ssh_timeout_then_recover);
  tcase_add_test(ts, ssh_refusals);
  tcase_add_test(ts, ssh_fetch_hostkey);
  tcase_add_test(ts, ssh_sftp_put_get);
  tcase_add_test(ts, ssh_script_roundtrip);
  tcase_add_test(ts, ssh_shutdown_cancels);
  tcase_add_test(ts, ssh_many_hosts_capped);
  tcase_add_test(ts, ssh_idle_manager_shutdown);
  suite_add_tcase(s, ts);
  return tu_sshd_main("test_ssh", s);
}
