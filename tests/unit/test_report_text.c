/* test_report_text.c — what the text report (core/report.c) tells an
 * operator beyond the states: a host that could not be reached or logged
 * into points at `renewd doctor`; a refused host key does not (its message
 * has the command already); a failure of the CA does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine_int.h"
#include "testutil.h"

/* The text report of one failed job whose cause is step/phase/status. */
static char *report_of(const char *step, const char *phase, const char *status) {
  json_t *r = json_pack("{s:b, s:[{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}], s:{}}", "whatif", 1,
                        "jobs", "host", "web1", "platform", "posix", "state", "FAILED", "cause",
                        "step", step, "phase", phase, "status", status, "message", "it failed",
                        "stats");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ck_assert_ptr_nonnull(f);
  rd_report_print_text(f, r, 1);
  fclose(f);
  json_decref(r);
  return text;
}

#define HINT "  hint: 'renewd doctor RUNBOOK --host web1' checks the address, SSH login, sudo " \
             "and the CA, and prints the fix for each\n"

START_TEST(unreachable_points_at_doctor) {
  static const char *const st[] = {"RD_ECONNREFUSED", "RD_ETIMEDOUT", "RD_ENETWORK", "RD_EAUTH"};
  for (size_t i = 0; i < sizeof st / sizeof *st; i++) {
    char *t = report_of("inventory", "probe", st[i]);
    ck_assert_msg(strstr(t, "host web1 (posix): FAILED — inventory: probe: it failed\n" HINT), "%s: %s",
                  st[i], t);
    free(t);
  }
}
END_TEST

START_TEST(other_failures_have_no_hint) {
  char *t = report_of("inventory", "probe", "RD_EHOSTKEY"); /* names `renewd hosts trust` */
  ck_assert_msg(!strstr(t, "hint:"), "%s", t);
  free(t);
  t = report_of("issue", "apply", "RD_ETIMEDOUT"); /* the CA, not the host */
  ck_assert_msg(!strstr(t, "hint:"), "%s", t);
  free(t);
  t = report_of("install", "probe", "RD_ENOTFOUND");
  ck_assert_msg(!strstr(t, "hint:"), "%s", t);
  free(t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("report_text");
  TCase *tc = tcase_create("hints");
  tcase_add_test(tc, unreachable_points_at_doctor);
  tcase_add_test(tc, other_failures_have_no_hint);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
