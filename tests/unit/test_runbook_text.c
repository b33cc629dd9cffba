/* test_runbook_text.c — the pieces under the runbook loader that read and
 * print text: the JSON position map (file:line:column of every value),
 * durations ("90s", "2h", "1d12h") and the diagnostics' print format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "config/jsonpos.h"
#include "config/runbook.h"
#include "testutil.h"

START_TEST(jsonpos_map) {
  const char *text = "{\"a\": {\"b/c\": [10, {\"d~e\": \"x\"}]},\n"
                     " \"\xc3\xa9\": true, \"z\": \"\xc3\xa9\", \"k\": 1, \"\\u0041\": null}";
  rd_jsonpos *p = NULL;
  int line, col;
  ck_assert_int_eq(rd_jsonpos_scan(text, strlen(text), &p), 0);
#define AT(fn, ptr, l, c)                                                                \
  do {                                                                                   \
    ck_assert_msg(fn(p, ptr, &line, &col) == 0, "%s not found", ptr);                    \
    ck_assert_msg(line == (l) && col == (c), "%s: %d:%d, want %d:%d", ptr, line, col, l, c); \
  } while (0)
  AT(rd_jsonpos_key, "", 1, 1);
  AT(rd_jsonpos_key, "/a", 1, 2);
  AT(rd_jsonpos_value, "/a", 1, 7);
  AT(rd_jsonpos_key, "/a/b~1c", 1, 8);
  AT(rd_jsonpos_value, "/a/b~1c", 1, 15);
  AT(rd_jsonpos_key, "/a/b~1c/0", 1, 16);
  AT(rd_jsonpos_value, "/a/b~1c/1", 1, 20);
  AT(rd_jsonpos_key, "/a/b~1c/1/d~0e", 1, 21);
  AT(rd_jsonpos_key, "/\xc3\xa9", 2, 2);
  AT(rd_jsonpos_key, "/z", 2, 13); /* "é" counts as one column */
  AT(rd_jsonpos_value, "/z", 2, 18);
  AT(rd_jsonpos_key, "/k", 2, 23);
  AT(rd_jsonpos_value, "/k", 2, 28);
  AT(rd_jsonpos_key, "/A", 2, 31);
  ck_assert_int_eq(rd_jsonpos_key(p, "/nope", &line, &col), RD_ENOTFOUND);
  rd_jsonpos_near(p, "/a/nope/deeper", 1, &line, &col);
  ck_assert(line == 1 && col == 2);
  rd_jsonpos_free(p);
  /* malformed text: what came before the error is kept */
  text = "{\"a\": 1,\n \"b\": [1, 2,, 3]}";
  ck_assert_int_eq(rd_jsonpos_scan(text, strlen(text), &p), 0);
  AT(rd_jsonpos_key, "/b", 2, 2);
  AT(rd_jsonpos_value, "/b/1", 2, 11);
  ck_assert_int_eq(rd_jsonpos_key(p, "/b/2", &line, &col), RD_ENOTFOUND);
  rd_jsonpos_free(p);
#undef AT
}
END_TEST

START_TEST(nul_position) {
  int line = 0, col = 0;
  static const char t1[] = "{\n \"a\": \"\xc3\xa9x\0y\"}";
  ck_assert_int_eq(rd_text_nul_at(t1, sizeof t1 - 1, &line, &col), 1);
  ck_assert_msg(line == 2 && col == 10, "%d:%d", line, col); /* "é" is one column */
  ck_assert_int_eq(rd_text_nul_at("{}", 2, &line, &col), 0);
  static const char t2[] = "\0";
  ck_assert_int_eq(rd_text_nul_at(t2, 1, &line, &col), 1);
  ck_assert(line == 1 && col == 1);
  static const char t3[] = "{}\n\0"; /* after the last line */
  ck_assert_int_eq(rd_text_nul_at(t3, sizeof t3 - 1, &line, &col), 1);
  ck_assert(line == 2 && col == 1);
}
END_TEST

START_TEST(durations) {
  double s;
  ck_assert(rd_duration_parse("30s", &s) == 0 && s == 30);
  ck_assert(rd_duration_parse("5m", &s) == 0 && s == 300);
  ck_assert(rd_duration_parse("2h", &s) == 0 && s == 7200);
  ck_assert(rd_duration_parse("10d", &s) == 0 && s == 864000);
  ck_assert(rd_duration_parse("1.5h", &s) == 0 && s == 5400);
  ck_assert(rd_duration_parse("500ms", &s) == 0 && s == 0.5);
  ck_assert(rd_duration_parse("0s", &s) == 0 && s == 0);
  ck_assert_int_eq(rd_duration_parse("", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("5", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("m", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("5 m", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("-5s", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("5w", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("1.2.3s", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("5.s", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("1e3s", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse("0x10s", &s), RD_EINVAL);
  ck_assert_int_eq(rd_duration_parse(NULL, &s), RD_EINVAL);
}
END_TEST

START_TEST(diag_print_format) {
  rd_diag d = {0};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  rd_diag_add(&d, "a.json", 3, 7, "bad %s", "thing");
  rd_diag_add(&d, "a.json", 0, 0, "cannot read");
  rd_diag_print(&d, f);
  fclose(f);
  ck_assert_str_eq(buf, "a.json:3:7: bad thing\na.json: cannot read\n");
  free(buf);
  rd_diag_free(&d);
  ck_assert_uint_eq(d.n, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("runbook_text");
  TCase *tc = tcase_create("text");
  tcase_add_test(tc, jsonpos_map);
  tcase_add_test(tc, nul_position);
  tcase_add_test(tc, durations);
  tcase_add_test(tc, diag_print_format);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
