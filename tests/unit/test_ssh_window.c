/* test_ssh_window.c — every remote call ends (with its answer, an error or
 * its timeout), whatever the peer does with its stdin and stdout; against
 * the private sshd (helpers/sshd_harness.h; without root or sshd the
 * program exits 77). Two faults are made wide enough to hit every time by
 * wrapping calls of transport/ssh*.c (the link's -Wl,--wrap, CMakeLists.txt):
 * a read of stderr that takes 200 ms, and sockets with 4 KB buffers.
 *
 * - an answer that arrives while stderr is read (libssh2 takes it off the
 *   socket into its packet list, so no poll would ever tell) is read at
 *   once, not at the call's timeout: exec and shell;
 * - megabytes through one long-lived shell both ways at once, on sockets
 *   that make most writes stop half way through a packet: the window
 *   adjusts of the reads in between wait for the half-sent packet (libssh2
 *   1.10 sends one packet at a time) instead of failing the session;
 * - a peer that stops reading (its window full, our write waits): the
 *   call ends with its timeout, exec and shell alike, and the host's next
 *   call works;
 * - a peer that exits half way through its answer, most of its stdin
 *   unread: the call ends at once with the exit status and the output so
 *   far, exec and shell alike;
 * - a shell's answer longer than out_cap (its end line past the cap, the
 *   shell blocked on its full window): the call fails at once with
 *   RD_EOVERFLOW, not at its timeout, and the host's next call works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "sshd_harness.h"
#include "transport/ssh.h"

#include <libssh2.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the faults, off unless a test sets them */
static useconds_t stderr_read_us; /* every read of stderr takes this long first */
static int small_buffers;         /* sockets get 4 KB send and receive buffers */

ssize_t __real_libssh2_channel_read_ex(LIBSSH2_CHANNEL *ch, int stream, char *buf, size_t len);
ssize_t __wrap_libssh2_channel_read_ex(LIBSSH2_CHANNEL *ch, int stream, char *buf, size_t len);
ssize_t __wrap_libssh2_channel_read_ex(LIBSSH2_CHANNEL *ch, int stream, char *buf, size_t len) {
  if (stream == 1 && stderr_read_us)
    usleep(stderr_read_us);
  return __real_libssh2_channel_read_ex(ch, stream, buf, len);
}

int __real_socket(int domain, int type, int protocol);
int __wrap_socket(int domain, int type, int protocol);
int __wrap_socket(int domain, int type, int protocol) {
  int fd = __real_socket(domain, type, protocol), v = 4096;
  if (fd >= 0 && small_buffers) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
  return fd;
}

#define BIG ((size_t)6 << 20)

typedef struct wres {
  tu_res r;
  uint64_t channel;
} wres;

static void on_wres(const rd_exec_result *x, void *arg) {
  wres *w = arg;
  w->channel = x->channel;
  tu_on_res(x, &w->r);
}

/* One call (shell when until is set, else exec), run to its end. */
static void call(uv_loop_t *loop, rd_ssh *m, const char *command, const char *until,
                 const void *in, size_t len, long op_ms, wres *w) {
  rd_ssh_target t = tu_target("w1");
  rd_ssh_opts o = {.op_ms = op_ms};
  memset(w, 0, sizeof *w);
  if (until)
    ck_assert_int_eq(rd_ssh_shell(m, &t, command, until, in, len, &o, on_wres, w), 0);
  else
    ck_assert_int_eq(rd_ssh_exec(m, &t, command, in, len, &o, on_wres, w), 0);
  tu_run_until(loop, &w->r.done);
}

/* _i == 0: exec; 1: shell. The answer comes while the stderr read of a
 * pass that found no stdout waits (the 1st pass sends EOF and waits 200 ms,
 * the 2nd reads stdout, then waits 200 ms for stderr: the answer comes
 * 300 ms after the start); nothing comes after it (a shell's answer, or an
 * exec's output with its EOF, exit and close at once). Then with the delay
 * off, the next call on the same session. */
START_TEST(answer_during_stderr_read) {
  uv_loop_t loop;
  rd_ssh *m;
  wres w;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  call(&loop, m, "echo up", _i ? "up\n" : NULL, NULL, 0, 10000, &w); /* logged in */
  ck_assert_msg(w.r.status == 0, "%s", w.r.msg);
  tu_res_free(&w.r);
  for (int k = 0; k < 3; k++) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%ssleep 0.%d; echo a", _i ? "read -r l; " : "", 25 + 5 * k);
    stderr_read_us = 200000;
    call(&loop, m, cmd, _i ? "a\n" : NULL, _i ? "go\n" : NULL, _i ? 3 : 0, 4000, &w);
    stderr_read_us = 0;
    ck_assert_msg(w.r.status == 0, "call %d: %s (%.0f ms)", k, w.r.msg, w.r.ms);
    ck_assert_str_eq(w.r.out, _i ? "" : "a\n");
    tu_res_free(&w.r);
  }
  tu_finish(&loop, m);
}
END_TEST

/* Megabytes in and out of one shell, four times: its stdin echoed. Without
 * the waits for a half-sent packet (H_*), ten rounds failed in one run of
 * four ("Unable to send channel data": a read's window adjust had met a
 * full socket); before that, such a write was taken for a command that
 * stopped reading and the shell waited for the rest of its stdin until the
 * timeout (this test's first run). */
START_TEST(megabytes_both_ways) {
  uv_loop_t loop;
  rd_ssh *m;
  uv_loop_init(&loop);
  small_buffers = 1;
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  char *in = malloc(BIG + 16);
  ck_assert_ptr_nonnull(in);
  uint64_t chan = 0;
  for (int round = 0; round < 4; round++) {
    wres w;
    char until[16];
    snprintf(until, sizeof until, "end %d\n", round);
    for (size_t i = 0; i < BIG; i++)
      in[i] = (char)((i % 64 == 63) ? '\n' : 'a' + (i + (size_t)round) % 26);
    memcpy(in + BIG, until, strlen(until));
    call(&loop, m, "cat", until, in, BIG + strlen(until), 60000, &w);
    ck_assert_msg(w.r.status == 0, "round %d: %s", round, w.r.msg);
    ck_assert_uint_eq(w.r.out_len, BIG);
    ck_assert_int_eq(memcmp(w.r.out, in, BIG), 0);
    if (round)
      ck_assert_uint_eq(w.channel, chan);
    chan = w.channel;
    tu_res_free(&w.r);
  }
  free(in);
  small_buffers = 0;
  tu_finish(&loop, m);
}
END_TEST

/* command with BIG zero bytes on its stdin (a shell's request when until
 * is set) into *w (the caller frees it); then a call on the same manager,
 * which must work. Returns the first call's wall time in ms. */
static double big_then_next(const char *command, const char *until, long op_ms, wres *w) {
  uv_loop_t loop;
  rd_ssh *m;
  wres next;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  char *in = calloc(1, BIG);
  ck_assert_ptr_nonnull(in);
  uint64_t t0 = uv_hrtime();
  call(&loop, m, command, until, in, BIG, op_ms, w);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  free(in);
  call(&loop, m, "echo next", NULL, NULL, 0, 10000, &next);
  ck_assert_msg(next.r.status == 0, "%s", next.r.msg);
  ck_assert_str_eq(next.r.out, "next\n");
  tu_res_free(&next.r);
  tu_finish(&loop, m);
  return ms;
}

/* _i == 0: exec; 1: shell. The peer never reads its stdin. */
START_TEST(stopped_reader_times_out) {
  wres w;
  double ms = big_then_next("echo started; sleep 30", _i ? "never\n" : NULL, 1500, &w);
  ck_assert_msg(w.r.status == RD_ETIMEDOUT, "%d %s", w.r.status, w.r.msg);
  ck_assert_msg(ms >= 1400 && ms < 10000, "%.0f ms", ms);
  tu_res_free(&w.r);
}
END_TEST

/* _i == 0: exec; 1: shell. The peer reads a little, answers half and
 * exits. */
START_TEST(exit_mid_answer_ends_the_call) {
  wres w;
  double ms = big_then_next("head -c 100 >/dev/null; printf 'half an ans'; exit 3",
                            _i ? "end\n" : NULL, 20000, &w);
  ck_assert_msg(w.r.status == 0, "%s", w.r.msg);
  ck_assert_int_eq(w.r.exit, 3);
  ck_assert_str_eq(w.r.out, "half an ans");
  ck_assert_msg(ms < 10000, "%.0f ms", ms);
  tu_res_free(&w.r);
}
END_TEST

/* A shell that answers 200 KB and its end line, then stays (a session
 * shell waits for its next request), with out_cap 64 KB. */
START_TEST(answer_past_out_cap_ends_the_call) {
  uv_loop_t loop;
  rd_ssh *m;
  wres w, next;
  rd_ssh_target t = tu_target("w1");
  rd_ssh_opts o = {.op_ms = 20000, .out_cap = 65536};
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  memset(&w, 0, sizeof w);
  uint64_t t0 = uv_hrtime();
  ck_assert_int_eq(rd_ssh_shell(m, &t, "head -c 2000000 /dev/zero | tr '\\0' a; echo; echo end; sleep 30",
                                "end\n", NULL, 0, &o, on_wres, &w),
                   0);
  tu_run_until(&loop, &w.r.done);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  ck_assert_msg(w.r.status == RD_EOVERFLOW && ms < 10000, "%d %s after %.0f ms", w.r.status,
                w.r.msg, ms);
  ck_assert_msg(strstr(w.r.msg, "out_cap"), "%s", w.r.msg);
  tu_res_free(&w.r);
  call(&loop, m, "echo next", NULL, NULL, 0, 10000, &next);
  ck_assert_msg(next.r.status == 0, "%s", next.r.msg);
  ck_assert_str_eq(next.r.out, "next\n");
  tu_res_free(&next.r);
  tu_finish(&loop, m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ssh_window");
  TCase *tc = tcase_create("sshd");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, answer_during_stderr_read, 0, 2);
  tcase_add_test(tc, megabytes_both_ways);
  tcase_add_loop_test(tc, stopped_reader_times_out, 0, 2);
  tcase_add_loop_test(tc, exit_mid_answer_ends_the_call, 0, 2);
  tcase_add_test(tc, answer_past_out_cap_ends_the_call);
  suite_add_tcase(s, tc);
  return tu_sshd_main("test_ssh_window", s);
}
