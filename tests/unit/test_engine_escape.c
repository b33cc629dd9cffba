/* test_engine_escape.c — values printed to a terminal are escaped: the one
 * helper (base/util.h: rd_escape) and the printers that use it, the
 * engine's report for people and the runbook diagnostics (validate, and
 * every verb that loads a runbook). A value from a runbook, a target or a
 * CA cannot move the cursor, retitle the window or hide text: control
 * characters, ESC, C1 codes, bidi overrides and invalid UTF-8 print as
 * \xNN; valid UTF-8 (smart quotes) and shell metacharacters as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "config/runbook.h"
#include "core/engine_int.h"
#include "testutil.h"

/* Hostile byte sequences: valid UTF-8 (A, C) and not (B), each with how it
 * prints. A JSON string (the report) can only hold valid UTF-8. */
#define HOSTILE_A                                                              \
  "a\x1b[31mred\x1b]0;title\x07"                                               \
  "b\rc\x7f"                                                                   \
  "d\xc2\x9b"                                                                  \
  "31m"                                                                        \
  "e\xe2\x80\xae"                                                              \
  "rev"
#define SHOWN_A "a\\x1b[31mred\\x1b]0;title\\x07b\\x0dc\\x7fd\\xc2\\x9b31me\\xe2\\x80\\xaerev"
#define HOSTILE_B "f\xff\xc3(g\xed\xa0\x80"
#define SHOWN_B "f\\xff\\xc3(g\\xed\\xa0\\x80"
#define HOSTILE_C "h$(id) `id` ;|& \xe2\x80\x9csmart\xe2\x80\x9d \xe2\x80\x98q\xe2\x80\x99"
#define HOSTILE HOSTILE_A HOSTILE_B HOSTILE_C
#define HOSTILE_SHOWN SHOWN_A SHOWN_B HOSTILE_C
#define HOSTILE_JSON HOSTILE_A HOSTILE_C
#define JSON_SHOWN SHOWN_A HOSTILE_C

/* Valid UTF-8 with nothing a terminal acts on: no C0 control but LF, no
 * DEL, no C1 (U+0080..U+009F). */
static int has_raw_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t n = *p < 0x80 ? 1 : *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3
             : *p >= 0xf0 && *p <= 0xf4                 ? 4
                                                         : 0;
    if (!n || (n == 1 && ((*p < 0x20 && *p != '\n') || *p == 0x7f)) ||
        (n == 2 && *p == 0xc2 && p[1] < 0xa0))
      return 1;
    for (size_t i = 1; i < n; i++)
      if ((p[i] & 0xc0) != 0x80)
        return 1;
    p += n;
  }
  return 0;
}

START_TEST(escape_shows_control_bytes_keeps_utf8) {
  char buf[512];
  size_t n = rd_escape(buf, sizeof buf, HOSTILE, 0);
  ck_assert_str_eq(buf, HOSTILE_SHOWN);
  ck_assert_uint_eq(n, strlen(HOSTILE_SHOWN));
  ck_assert(!has_raw_control(buf));
  /* a multi-line message on one line; without the flag LF is escaped */
  rd_escape(buf, sizeof buf, "one\ntwo\tthree", RD_ESC_ONE_LINE);
  ck_assert_str_eq(buf, "one two three");
  rd_escape(buf, sizeof buf, "one\ntwo", 0);
  ck_assert_str_eq(buf, "one\\x0atwo");
  /* truncation never splits an escape or a character */
  rd_escape(buf, 6, "ab\x1b", 0);
  ck_assert_str_eq(buf, "ab");
  rd_escape(buf, 4, "a\xe2\x80\x9c", 0);
  ck_assert_str_eq(buf, "a");
  ck_assert_uint_eq(rd_escape(buf, 1, "abc", 0), 0);
  ck_assert_str_eq(buf, "");
  /* NULL prints as nothing */
  ck_assert_uint_eq(rd_escape(buf, sizeof buf, NULL, 0), 0);
}
END_TEST

START_TEST(escape_dup_is_whole) {
  size_t big = 70 * 1024;
  char *in = malloc(big + 2), *out;
  ck_assert_ptr_nonnull(in);
  memset(in, '\x1b', big);
  in[big] = 'z';
  in[big + 1] = 0;
  ck_assert_ptr_nonnull(out = rd_escape_dup(in, 0));
  ck_assert_uint_eq(strlen(out), 4 * big + 1);
  ck_assert(!has_raw_control(out));
  ck_assert_int_eq(out[4 * big], 'z');
  free(out);
  free(in);
}
END_TEST

static char *print_to_string(void (*print)(FILE *, void *), void *arg) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_ptr_nonnull(f);
  print(f, arg);
  fclose(f);
  return text;
}

static void print_diag(FILE *f, void *arg) { rd_diag_print(arg, f); }
static void print_report(FILE *f, void *arg) { rd_report_print_text(f, arg, 1); }

START_TEST(diagnostics_are_escaped) {
  rd_diag d = {0};
  rd_diag_add(&d, "/tmp/run\x1b[2Jbook.json", 3, 7, "unknown key '%s' in the top level", HOSTILE);
  rd_diag_add(&d, "-", 0, 0, "name: got '%s'", "x\r\ny");
  char *text = print_to_string(print_diag, &d);
  ck_assert_msg(!has_raw_control(text), "%s", text);
  ck_assert_str_eq(text, "/tmp/run\\x1b[2Jbook.json:3:7: unknown key '" HOSTILE_SHOWN
                         "' in the top level\n"
                         "-: name: got 'x\\x0d y'\n");
  free(text);
  rd_diag_free(&d);
}
END_TEST

/* The report's every value: headline (host, cause), step names, phase
 * messages, changes, findings, remedy, error. */
START_TEST(report_is_escaped) {
  json_t *report = json_pack(
      "{s:b, s:[{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:{s:{s:s, s:s, s:{s:[{s:s, s:s, "
      "s:s}]}}}}], s:[{s:s, s:s}], s:s, s:s}], s:{}}",
      "whatif", 1, "jobs", "host", "h1", "platform", "posix", "state", "FAILED", "cause", "step",
      "svc" HOSTILE_JSON, "phase", "probe", "message", "h1: config /etc/" HOSTILE_JSON ": not found",
      "steps", "name", "svc" HOSTILE_JSON, "phases", "probe", "status", "RD_ENOTFOUND", "message",
      "h1: " HOSTILE_JSON, "result", "changes", "what", "command " HOSTILE_JSON, "old", HOSTILE_JSON "\nline2",
      "new", "(new certificate)", "findings", "step", HOSTILE_JSON, "finding", HOSTILE_JSON, "remedy",
      HOSTILE_JSON, "error", "host h1: held: " HOSTILE_JSON, "stats");
  ck_assert_ptr_nonnull(report);
  char *text = print_to_string(print_report, report);
  ck_assert_msg(!has_raw_control(text), "%s", text);
  ck_assert_ptr_nonnull(strstr(text, "FAILED — svc" JSON_SHOWN ": probe: h1: config /etc/" JSON_SHOWN));
  ck_assert_ptr_nonnull(strstr(text, "        command " JSON_SHOWN ": " JSON_SHOWN " line2 -> "));
  ck_assert_ptr_nonnull(strstr(text, "  remedy: " JSON_SHOWN "\n"));
  ck_assert_ptr_nonnull(strstr(text, "  error: host h1: held: " JSON_SHOWN "\n"));
  free(text);
  json_decref(report);
}
END_TEST

/* A step's log line (plugin messages carry target output and runbook
 * values) reaches stderr escaped, on one line. */
START_TEST(step_log_is_escaped) {
  rd_engine e = {0};
  rd_target t = {.name = "web\x1b]0;x\x07"};
  rd_job j = {0};
  rd_step st = {0};
  char path[] = "/tmp/renewd-steplog-XXXXXX", text[1024] = "";
  int fd = mkstemp(path), saved = dup(2);
  ck_assert_int_ge(fd, 0);
  j.e = &e;
  j.t = &t;
  st.j = &j;
  st.name = "svc";
  fflush(stderr);
  dup2(fd, 2);
  rd_step_log(&st, RD_LOG_WARN, "restart said: %s", HOSTILE "\nsecond line");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  ck_assert_int_ge(pread(fd, text, sizeof text - 1, 0), 1);
  close(fd);
  unlink(path);
  ck_assert_msg(!has_raw_control(text), "%s", text);
  ck_assert_str_eq(text, "renewd: warning: host web\\x1b]0;x\\x07: runbook -, certificate -, no job: "
                         "svc: restart said: " HOSTILE_SHOWN
                         " second line\n");
}
END_TEST

int main(void) {
  Suite *s = suite_create("escape");
  TCase *tc = tcase_create("escape");
  tcase_add_test(tc, escape_shows_control_bytes_keeps_utf8);
  tcase_add_test(tc, escape_dup_is_whole);
  tcase_add_test(tc, diagnostics_are_escaped);
  tcase_add_test(tc, report_is_escaped);
  tcase_add_test(tc, step_log_is_escaped);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
