/* test_remote_frame.c — the POSIX batch and session loaders
 * (transport/remote_posix.c) and their framed answers (remote_answer.c),
 * run by a local /bin/sh as sshd would run them: every byte a script
 * prints comes back as it is (NUL, no final newline, lines that look like
 * the loader's own), nothing a script prints can forge a record or the
 * session's end line, values of any shape reach the script exactly, and
 * the loader starts no process per script text, parameter or answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/remote.h"
#include "localsh.h"
#include "testutil.h"

/* Prints hostile bytes on stdout and stderr: a NUL, the loader's own
 * words, a session end line, no final newline; results of every kind. */
static const char FORGER[] =
    "printf 'out\\000rd_raw 0123\\nrd_batch 0 0  \\nrd_end 7\\n'\n"
    "printf 'err\\nrd_end 7\\n' >&2\n"
    "printf 'a\\000b\\nc' >\"$RD_P/nul\"\n"
    "rd_out multi \"$P_multi\"\n"
    "rd_out_file multi_file \"$RD_P/multi\"\n"
    "rd_out_file nul \"$RD_P/nul\"\n"
    "rd_out_b64 zero \"$RD_P/zero\"\n"
    "rd_out plain 'just text'\n"
    "rd_out empty ''\n"
    "printf 'tail without newline' >&2\n"
    "exit 4\n";
static const char MULTI[] = "E 1\nS 0 00 1\nrd_raw x\r\n  lead\\n \\\\ 'q'\n\n\n";
static const char ZERO[] = "\0a\0\nz";

static json_t *forger_params(void) {
  json_t *p = json_object();
  json_object_set_new(p, "multi", json_string(MULTI));
  json_object_set_new(p, "zero", json_stringn_nocheck(ZERO, sizeof ZERO - 1));
  return p;
}

static json_t *posix_out(const rd_remote_answer *a) {
  json_t *o = NULL;
  char err[256];
  ck_assert_msg(rd_remote_parse_posix(a->out, a->out_len, &o, err, sizeof err) == 0, "%s: %s", err,
                a->out);
  return o;
}

static void expect_forger(const rd_remote_answer *a) {
  static const char want_err[] = "out\0rd_raw 0123\nrd_batch 0 0  \nrd_end 7\nerr\nrd_end 7\n"
                                 "tail without newline";
  ck_assert_int_eq(a->exit_status, 4);
  ck_assert_uint_eq(a->err_len, sizeof want_err - 1);
  ck_assert(!memcmp(a->err, want_err, sizeof want_err - 1));
  json_t *o = posix_out(a), *v;
  /* P_multi: the value less its final newlines, as $(cat) gives it */
  ck_assert_str_eq(json_string_value(json_object_get(o, "multi")),
                   "E 1\nS 0 00 1\nrd_raw x\r\n  lead\\n \\\\ 'q'");
  ck_assert_str_eq(json_string_value(json_object_get(o, "multi_file")), MULTI); /* byte-exact */
  v = json_object_get(o, "nul");
  ck_assert_uint_eq(json_string_length(v), 5);
  ck_assert(!memcmp(json_string_value(v), "a\0b\nc", 5));
  char *b64 = rd_base64_encode(ZERO, sizeof ZERO - 1, NULL);
  ck_assert_str_eq(json_string_value(json_object_get(o, "zero")), b64);
  free(b64);
  ck_assert_str_eq(json_string_value(json_object_get(o, "plain")), "just text");
  ck_assert_str_eq(json_string_value(json_object_get(o, "empty")), "");
  json_decref(o);
}

START_TEST(batch_bytes_exact_and_unforgeable) {
  rd_script forger = {"t.forger", RD_PLATFORM_POSIX, 0, 0, FORGER};
  rd_script quiet = {"t.quiet", RD_PLATFORM_POSIX, 0, 0, "exit 0"};
  json_t *p = forger_params();
  rd_remote_part parts[] = {{&forger, p}, {&quiet, NULL}, {&forger, p}};
  rd_remote_answer ans[3];
  rd_remote_cmd c;
  char err[256];
  lres r;
  ck_assert_int_eq(rd_remote_build_batch(parts, 3, 0, &c, err, sizeof err), 0);
  /* the multi-line value travels as lines; the NUL one as base64 */
  ck_assert_ptr_nonnull(strstr((const char *)c.stdin_data, "\nL 0 multi 7\nE 1\nS 0 00 1\n"));
  ck_assert_ptr_nonnull(strstr((const char *)c.stdin_data, "\nP 0 zero "));
  run_local(c.command, c.stdin_data, c.stdin_len, &r);
  ck_assert_msg(r.exit == 0, "exit %d, stderr: %s", r.exit, r.err);
  ck_assert_int_eq(rd_remote_parse_batch(r.out, r.out_len, 3, ans, err, sizeof err), 0);
  expect_forger(&ans[0]);
  ck_assert_int_eq(ans[1].exit_status, 0);
  ck_assert_uint_eq(ans[1].out_len + ans[1].err_len, 0);
  expect_forger(&ans[2]);
  rd_remote_answers_free(ans, 3);
  lres_free(&r);
  rd_remote_cmd_free(&c);
  json_decref(p);
}
END_TEST

/* One request of a session, run alone: its answer then its end line,
 * which no script output can end early. */
START_TEST(session_end_line) {
  rd_script forger = {"t.forger", RD_PLATFORM_POSIX, 0, 0, FORGER};
  json_t *p = forger_params();
  rd_remote_part parts[] = {{&forger, p}};
  rd_remote_answer ans[1];
  rd_remote_cmd c;
  char err[256], until[96], again[96], other[96];
  lres r;
  ck_assert_int_eq(rd_remote_build_session(parts, 1, 0, 7, &c, err, sizeof err), 0);
  ck_assert_int_eq(rd_remote_posix_session_end(7, until, sizeof until), 0);
  ck_assert_int_eq(rd_remote_posix_session_end(7, again, sizeof again), 0);
  ck_assert_int_eq(rd_remote_posix_session_end(8, other, sizeof other), 0);
  ck_assert_str_eq(until, again);        /* the same for the same token */
  ck_assert_str_ne(until, other);        /* another for another */
  ck_assert_uint_eq(strlen(until), strlen("rd_end 7 ") + 32 + 1);
  ck_assert_int_eq(rd_remote_posix_session_end(7, again, 20), RD_EOVERFLOW);
  run_local(c.command, c.stdin_data, c.stdin_len, &r);
  ck_assert_msg(r.exit == 0, "exit %d, stderr: %s", r.exit, r.err);
  size_t u = strlen(until);
  ck_assert_uint_gt(r.out_len, u);
  ck_assert_msg(!memcmp(r.out + r.out_len - u, until, u), "%s", r.out);
  for (size_t k = 0; k + u < r.out_len; k++) /* once, at the end */
    ck_assert(memcmp(r.out + k, until, u));
  ck_assert_int_eq(rd_remote_parse_batch(r.out, r.out_len - u, 1, ans, err, sizeof err), 0);
  expect_forger(&ans[0]);
  rd_remote_answers_free(ans, 1);
  lres_free(&r);
  rd_remote_cmd_free(&c);
  json_decref(p);
}
END_TEST

/* cmd run by a local sh with wrappers first on PATH that log the tools the
 * loader may start: the log ("mktemp\nmkdir\n..."), which the caller frees. */
static char *tools_run(const char *cmd, const void *in, size_t inlen, lres *r) {
  static const char *const tools[] = {"base64", "cat", "mkdir", "mktemp", "rm"};
  char dir[] = "/tmp/rdtest-path-XXXXXX", log[256], path[4096], f[512];
  const char *old = getenv("PATH");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(log, sizeof log, "%s/log", dir);
  for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
    snprintf(f, sizeof f, "%s/%s", dir, tools[i]);
    FILE *w = fopen(f, "w");
    ck_assert_ptr_nonnull(w);
    fprintf(w, "#!/bin/sh\necho %s >>'%s'\nPATH='%s' exec %s \"$@\"\n", tools[i], log, old,
            tools[i]);
    fclose(w);
    chmod(f, 0755);
  }
  snprintf(path, sizeof path, "%s:%s", dir, old);
  char *keep = strdup(old);
  setenv("PATH", path, 1);
  run_local(cmd, in, inlen, r);
  setenv("PATH", keep, 1);
  free(keep);
  size_t n = 0;
  char *l = NULL;
  ck_assert_int_eq(rd_read_file(log, 4096, &l, &n), 0);
  unlink(log);
  for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
    snprintf(f, sizeof f, "%s/%s", dir, tools[i]);
    unlink(f);
  }
  rmdir(dir);
  return l;
}

/* The processes the loader starts. */
START_TEST(batch_processes) {
  rd_script says = {"t.says", RD_PLATFORM_POSIX, 0, 0, "rd_out v \"$P_v\"\n"};
  rd_script quiet = {"t.quiet", RD_PLATFORM_POSIX, 0, 0, "[ -n \"$P_v\" ]\n"};
  json_t *p = json_pack("{s:s,s:s,s:i}", "v", " two \\\\ 'q'\r\n\tlines \n", "w", "plain", "n", 3);
  rd_script file = {"t.file", RD_PLATFORM_POSIX, 0, 0, "rd_out_file v \"$RD_P/v\"\n"};
  rd_remote_part parts[] = {{&says, p}, {&quiet, p}, {&quiet, p}, {&says, p}, {&file, p}};
  rd_remote_answer ans[5];
  rd_remote_cmd c;
  char err[256];
  lres r;
  ck_assert_int_eq(rd_remote_build_batch(parts, 5, 1, &c, err, sizeof err), 0);
  char *l = tools_run(c.command + strlen("exec sudo -n "), c.stdin_data, c.stdin_len, &r);
  ck_assert_msg(r.exit == 0, "exit %d, stderr: %s", r.exit, r.err);
  ck_assert_int_eq(rd_remote_parse_batch(r.out, r.out_len, 5, ans, err, sizeof err), 0);
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(ans[i].exit_status, 0);
  json_t *o = posix_out(&ans[3]);
  ck_assert_str_eq(json_string_value(json_object_get(o, "v")), " two \\\\ 'q'\r\n\tlines ");
  json_decref(o);
  o = posix_out(&ans[4]);
  ck_assert_str_eq(json_string_value(json_object_get(o, "v")), " two \\\\ 'q'\r\n\tlines \n");
  json_decref(o);
  rd_remote_answers_free(ans, 5);
  /* one mktemp, one mkdir, one rm for the batch; rd_out's values copied by
   * the shell; one cat in rd_out_file and one to print its answer; no
   * base64 */
  ck_assert_str_eq(l, "mktemp\nmkdir\ncat\ncat\nrm\n"); /* the file script's two */
  free(l);
  lres_free(&r);
  rd_remote_cmd_free(&c);
  json_decref(p);
}
END_TEST

/* Requests of one session: one mkdir for the first's scripts and the next
 * ones' (15 spare), another only when they run out. */
START_TEST(session_processes) {
  rd_script says = {"t.says", RD_PLATFORM_POSIX, 0, 0, "[ ! -e \"$RD_P/f\" ] || exit 9\necho x >\"$RD_P/f\"\nrd_out v \"$P_v\"\n"};
  json_t *p = json_pack("{s:s}", "v", "a\nb");
  rd_remote_part parts[20];
  rd_remote_cmd c[2];
  rd_remote_answer ans[20];
  char err[256], until[96];
  lres r;
  for (int i = 0; i < 20; i++)
    parts[i] = (rd_remote_part){&says, p};
  ck_assert_int_eq(rd_remote_build_session(parts, 20, 0, 1, &c[0], err, sizeof err), 0);
  ck_assert_int_eq(rd_remote_build_session(parts, 20, 0, 2, &c[1], err, sizeof err), 0);
  size_t n0 = c[0].stdin_len, n1 = c[1].stdin_len;
  unsigned char *in = malloc(n0 + n1);
  memcpy(in, c[0].stdin_data, n0);
  memcpy(in + n0, c[1].stdin_data, n1);
  char *l = tools_run(c[0].command, in, n0 + n1, &r);
  ck_assert_msg(r.exit == 0, "exit %d, stderr: %s", r.exit, r.err);
  /* the first request makes its 20 directories and 15 spare; the second
   * request's last 5 scripts need another mkdir */
  ck_assert_str_eq(l, "mktemp\nmkdir\nmkdir\nrm\n");
  ck_assert_int_eq(rd_remote_posix_session_end(1, until, sizeof until), 0);
  char *second = strstr(r.out, until);
  ck_assert_ptr_nonnull(second);
  ck_assert_int_eq(rd_remote_parse_batch(r.out, (size_t)(second - r.out), 20, ans, err, sizeof err), 0);
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(ans[i].exit_status, 0);
  rd_remote_answers_free(ans, 20);
  second += strlen(until);
  ck_assert_int_eq(rd_remote_posix_session_end(2, until, sizeof until), 0);
  size_t left = r.out_len - (size_t)(second - r.out), u = strlen(until);
  ck_assert(left > u && !memcmp(second + left - u, until, u));
  ck_assert_int_eq(rd_remote_parse_batch(second, left - u, 20, ans, err, sizeof err), 0);
  for (int i = 0; i < 20; i++) { /* each script had a fresh directory */
    ck_assert_int_eq(ans[i].exit_status, 0);
    json_t *o = posix_out(&ans[i]);
    ck_assert_str_eq(json_string_value(json_object_get(o, "v")), "a\nb");
    json_decref(o);
  }
  rd_remote_answers_free(ans, 20);
  free(l);
  free(in);
  lres_free(&r);
  rd_remote_cmd_free(&c[0]);
  rd_remote_cmd_free(&c[1]);
  json_decref(p);
}
END_TEST

#define F "0123456789abcdef0123456789abcdef"

START_TEST(parse_framed) {
  static const char good[] = "rd_raw " F "\n" F " b 0\n" F " v a\nhello" F " r b\n\x01\x02" F
                             " e\nerr\0x" F " x 0 3\n" F " b 1\n" F " e\npartial";
  rd_remote_answer a[2];
  char err[256];
  ck_assert_int_eq(rd_remote_parse_batch(good, sizeof good - 1, 2, a, err, sizeof err), 0);
  ck_assert_int_eq(a[0].exit_status, 3);
  ck_assert_str_eq(a[0].out, "a:t hello\nb:b64 AQI=\n");
  ck_assert_uint_eq(a[0].err_len, 5);
  ck_assert(!memcmp(a[0].err, "err\0x", 5));
  ck_assert_int_eq(a[1].exit_status, RD_BATCH_NO_ANSWER); /* cut off inside it */
  rd_remote_answers_free(a, 2);
  static const char *const bad[] = {
      "rd_raw 0123\n",                                           /* not a frame */
      "rd_raw " F "\nstray",                                     /* outside a record */
      "rd_raw " F "\n" F " b 2\n" F " e\n" F " x 2 0\n",         /* no such script */
      "rd_raw " F "\n" F " b 0\n" F " e\n" F " x 0 0\n" F " b 0\n" F " e\n" F " x 0 0\n", /* twice */
      "rd_raw " F "\n" F " b 0\n" F " q\n" F " e\n" F " x 0 0\n", /* no such record */
      "rd_raw " F "\n" F " b 0\n" F " v Bad\nv" F " e\n" F " x 0 0\n", /* bad name */
      "rd_raw " F "\n" F " b 0\nstray" F " e\n" F " x 0 0\n",    /* stray result bytes */
      "rd_raw " F "\n" F " b 0\n" F " e\n" F " x 1 0\n",         /* another script's end */
      "rd_raw " F "\n" F " b 0\n" F " e\n" F " x 0 256\n",       /* no such status */
      "rd_raw " F "\n" F " b  0\n" F " e\n" F " x 0 0\n",        /* not a number */
      "rd_raw " F "\n" F " b 0\n" F " e\n" F " x 0 -0\n",       /* nor this */
  };
  expect_batch_refused(bad, sizeof bad / sizeof *bad);
}
END_TEST

/* Every prefix of an answer (an execution cut off anywhere) and every byte
 * of it changed: the parse never reads outside it (ASan), answers only
 * what was complete, and a refusal leaves every answer missing. */
START_TEST(parse_cut_and_mangled) {
  static const char good[] = "rd_raw " F "\n" F " b 0\n" F " v a\nhello" F " r b\n\x01\x02" F
                             " e\nerr\0x" F " x 0 3\n" F " b 1\n" F " e\n" F " x 1 0\n";
  static const char x0[] = F " x 0 3\n";
  const size_t len = sizeof good - 1;
  size_t first_end = 0; /* just past script 0's "x" record */
  while (memcmp(good + first_end, x0, sizeof x0 - 1))
    first_end++;
  first_end += sizeof x0 - 1;
  char *buf = malloc(len);
  rd_remote_answer a[2];
  char err[256];
  for (size_t cut = 0; cut <= len; cut++) {
    memcpy(buf, good, cut); /* exactly cut bytes: ASan sees a read past them */
    int rc = rd_remote_parse_batch(buf, cut, 2, a, err, sizeof err);
    ck_assert_msg(rc == 0 || (rc == RD_EPROTO && cut < 7 + 33), "cut %zu: %d %s", cut, rc, err);
    if (!rc) {
      ck_assert_int_eq(a[0].exit_status, cut >= first_end ? 3 : RD_BATCH_NO_ANSWER);
      ck_assert_int_eq(a[1].exit_status, cut == len ? 0 : RD_BATCH_NO_ANSWER);
    }
    rd_remote_answers_free(a, 2);
  }
  for (size_t at = 0; at < len; at++)
    for (int v = 0; v < 256; v += 51) {
      memcpy(buf, good, len);
      buf[at] = (char)v;
      int rc = rd_remote_parse_batch(buf, len, 2, a, err, sizeof err);
      ck_assert(rc == 0 || rc == RD_EPROTO);
      for (int k = 0; k < 2; k++)
        ck_assert(rc == 0 || (a[k].exit_status == RD_BATCH_NO_ANSWER && !a[k].out));
      rd_remote_answers_free(a, 2);
    }
  free(buf);
}
END_TEST

int main(void) {
  Suite *s = suite_create("remote_frame");
  TCase *tc = tcase_create("frame");
  tcase_add_test(tc, batch_bytes_exact_and_unforgeable);
  tcase_add_test(tc, session_end_line);
  tcase_add_test(tc, batch_processes);
  tcase_add_test(tc, session_processes);
  tcase_add_test(tc, parse_framed);
  tcase_add_test(tc, parse_cut_and_mangled);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
