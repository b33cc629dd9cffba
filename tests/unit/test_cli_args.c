/* test_cli_args.c — the command line's one number and ADDRESS:PORT parser:
 * what atoi accepted silently ("x" as 0, "80x" as 80) is refused, with a
 * message naming the option and the range, and every verb exits 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/err.h"
#include "cli/cli.h"
#include "testutil.h"

START_TEST(int_accepts_whole_numbers_in_range) {
  int v = -7;
  ck_assert_int_eq(rd_cli_parse_int("1", 1, 10, &v), 0);
  ck_assert_int_eq(v, 1);
  ck_assert_int_eq(rd_cli_parse_int("10", 1, 10, &v), 0);
  ck_assert_int_eq(v, 10);
  ck_assert_int_eq(rd_cli_parse_int("-3", -5, 5, &v), 0);
  ck_assert_int_eq(v, -3);
  ck_assert_int_eq(rd_cli_parse_int("0", 0, 0, &v), 0);
  ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(int_refuses_what_atoi_took) {
  static const char *const bad[] = {"x", "", "80x", "1.5", " 5", "5 ", "+5", "0x10", "1e3",
                                    "99999999999999999999", "-", "4097", "0", "-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int v = 42;
    ck_assert_msg(rd_cli_parse_int(bad[i], 1, 4096, &v) == RD_EINVAL, "'%s' accepted", bad[i]);
    ck_assert_int_eq(v, 42); /* untouched */
  }
  int v = 0;
  ck_assert_int_eq(rd_cli_parse_int(NULL, 1, 2, &v), RD_EINVAL);
}
END_TEST

START_TEST(hostport_forms) {
  char h[64];
  int p = 0;
  ck_assert_int_eq(rd_cli_parse_hostport("127.0.0.1:9464", 0, h, sizeof h, &p), 0);
  ck_assert_str_eq(h, "127.0.0.1");
  ck_assert_int_eq(p, 9464);
  ck_assert_int_eq(rd_cli_parse_hostport("[::1]:80", 0, h, sizeof h, &p), 0);
  ck_assert_str_eq(h, "::1");
  ck_assert_int_eq(p, 80);
  ck_assert_int_eq(rd_cli_parse_hostport("web17", 22, h, sizeof h, &p), 0);
  ck_assert_str_eq(h, "web17");
  ck_assert_int_eq(p, 22);
  ck_assert_int_eq(rd_cli_parse_hostport("[fe80::1]", 22, h, sizeof h, &p), 0);
  ck_assert_str_eq(h, "fe80::1");
  ck_assert_int_eq(p, 22);
  ck_assert_int_eq(rd_cli_parse_hostport("h:65535", 0, h, sizeof h, &p), 0);
  ck_assert_int_eq(p, 65535);
}
END_TEST

START_TEST(hostport_refused) {
  static const char *const bad[] = {"h:80x", "h:", ":80", "h:0", "h:65536", "h:-1", "h",
                                    "::1:80", "[::1", "[::1]80", "[]:80", "h: 80", "h:+80",
                                    "a b:80"};
  char h[64];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int p = 0;
    ck_assert_msg(rd_cli_parse_hostport(bad[i], 0, h, sizeof h, &p) == RD_EINVAL,
                  "'%s' accepted", bad[i]);
  }
  char tiny[4];
  int p;
  ck_assert_int_eq(rd_cli_parse_hostport("longname:80", 0, tiny, sizeof tiny, &p), RD_EINVAL);
}
END_TEST

START_TEST(printable_escapes) {
  ck_assert_str_eq(rd_cli_printable("ok:80"), "ok:80");
  ck_assert_str_eq(rd_cli_printable("a\nb'\\"), "a\\x0ab\\x27\\x5c");
}
END_TEST

/* The verbs: exit 2 and a message that names the option and the range. */
static int run_renewd(const char *args, char *out, size_t outlen) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s/renewd %s 2>&1", BUILD_DIR, args);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t n = fread(out, 1, outlen - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(verbs_refuse_bad_numbers) {
  static const struct {
    const char *args, *want;
  } cases[] = {
      {"serve --max-parallel x rb.json", "--max-parallel 'x': expected a whole number from 1 to 4096"},
      {"serve --listen h:80x rb.json", "--listen 'h:80x': expected ADDRESS:PORT"},
      {"run --max-parallel 0 rb.json", "--max-parallel '0': expected a whole number from 1 to 4096"},
      {"plan --max-parallel 8x rb.json", "--max-parallel '8x'"},
      {"debug http --n x http://127.0.0.1/", "--n 'x': expected a whole number from 1 to"},
      {"debug exec --timeout-ms 5s --user u --identity k --known-hosts k h -- true",
       "--timeout-ms '5s': expected a whole number"},
      {"debug hostkey h:22x", "'h:22x' is not [NAME=]ADDRESS[:PORT]"},
  };
  char out[4096];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int code = run_renewd(cases[i].args, out, sizeof out);
    ck_assert_msg(code == 2, "renewd %s: exit %d, want 2; said: %s", cases[i].args, code, out);
    ck_assert_msg(strstr(out, cases[i].want), "renewd %s said: %s", cases[i].args, out);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("cli_args");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, int_accepts_whole_numbers_in_range);
  tcase_add_test(tc, int_refuses_what_atoi_took);
  tcase_add_test(tc, hostport_forms);
  tcase_add_test(tc, hostport_refused);
  tcase_add_test(tc, printable_escapes);
  tcase_add_test(tc, verbs_refuse_bad_numbers);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
