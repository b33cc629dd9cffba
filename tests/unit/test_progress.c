/* test_progress.c — the live line of run/plan/inventory (cli/progress.h):
 * its text, nothing at all on a pipe or a file, on a terminal (a pty) a
 * redrawn line erased at the end, and a timer that never keeps the run's
 * loop alive. */
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <uv.h>

#include "base/metrics.h"
#include "cli/progress.h"
#include "host/registry.h"
#include "testutil.h"

START_TEST(text) {
  char buf[128];
  rd_engine_stats s = {.targets = 40, .due = 3, .failed = 1, .rolled_back = 1, .needs_operator = 1};
  rd_progress_text(buf, sizeof buf, "run", 12, &s, 125);
  ck_assert_str_eq(buf, "renewd run: 12/40 hosts done, 3 due, 3 failed, 2:05");
}
END_TEST

static uv_loop_t loop;
static rd_registry *reg;
static rd_engine *eng;

static void engine_up(void) {
  rd_engine_opts o = {0};
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, NULL, &o, &eng), 0);
}

static void engine_down(void) {
  rd_engine_free(eng);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_registry_free(reg);
}

START_TEST(never_on_a_pipe_or_a_file) {
  int fds[2];
  engine_up();
  ck_assert_int_eq(pipe(fds), 0);
  FILE *w = fdopen(fds[1], "w"), *t = tmpfile();
  ck_assert_ptr_null(rd_progress_start(&loop, w, "run", eng));
  ck_assert_ptr_null(rd_progress_start(&loop, t, "run", eng));
  fclose(w);
  char c;
  ck_assert_int_eq(read(fds[0], &c, 1), 0); /* nothing was written */
  close(fds[0]);
  ck_assert_int_eq(ftell(t), 0);
  fclose(t);
  rd_progress_stop(NULL);
  engine_down();
}
END_TEST

static void stop_progress(uv_timer_t *t) {
  rd_progress_stop(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

START_TEST(redrawn_on_a_terminal_and_erased) {
  int master, slave;
  uv_timer_t stop;
  ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
  FILE *tty = fdopen(slave, "w");
  engine_up();
  rd_metrics_job_result("before", "DONE"); /* a job of an earlier run does not count */
  rd_progress *p = rd_progress_start(&loop, tty, "plan", eng);
  ck_assert_ptr_nonnull(p);
  /* alone, the line's timer does not keep the loop running */
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  uv_timer_init(&loop, &stop);
  stop.data = p;
  uv_timer_start(&stop, stop_progress, 600, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  fclose(tty);
  engine_down();
  char out[4096];
  ssize_t n = 0, r;
  fcntl(master, F_SETFL, O_NONBLOCK);
  while ((r = read(master, out + n, sizeof out - 1 - (size_t)n)) > 0)
    n += r;
  close(master);
  out[n > 0 ? n : 0] = 0;
  ck_assert_msg(strstr(out, "\rrenewd plan: 0/0 hosts done, 0 due, 0 failed, 0:00\033[K\r"), "%s",
                out);
  ck_assert_msg(n >= 4 && !strcmp(out + n - 4, "\r\033[K"), "not erased at the end: %s", out);
}
END_TEST

int main(void) {
  Suite *s = suite_create("progress");
  TCase *tc = tcase_create("progress");
  tcase_add_test(tc, text);
  tcase_add_test(tc, never_on_a_pipe_or_a_file);
  tcase_add_test(tc, redrawn_on_a_terminal_and_erased);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
