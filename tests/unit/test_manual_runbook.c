/* test_manual_runbook.c — the loader's diagnostics for issuer "manual"
 * (config/runbook_issuer.c): the action is required and must say something;
 * other keys are refused; each message points at file:line:column of the
 * mistake. Positions are found here by text search, not by the loader's own
 * position scanner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/runbook.h"
#include "testutil.h"

#define HEAD                                                                                  \
  "{\"name\": \"watch\",\n"                                                                   \
  " \"targets\": {\"hosts\": [{\"name\": \"w1\", \"address\": \"192.0.2.1\", \"platform\": "  \
  "\"windows\"}]},\n"                                                                         \
  " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\", \"known_hosts\": "        \
  "\"/nonexistent/kh\"},\n"                                                                   \
  " \"certificate\": {\"subject\": \"ndes01.corp.example\"},\n"
#define TAIL " \"policy\": {\"renew_before\": \"14d\"}}\n"

static char path[] = "/tmp/renewd-test-manual-rb-XXXXXX";
static const char *text;

/* line and column (1-based) of the first character of the nth (from 1)
 * occurrence of marker in text */
static void where(const char *marker, int nth, int *line, int *col) {
  const char *at = text;
  for (int i = 0; i < nth; i++, at++)
    ck_assert_ptr_nonnull(at = strstr(at, marker));
  at--;
  *line = 1;
  *col = 1;
  for (const char *p = text; p < at; p++) {
    if (*p == '\n')
      (*line)++, *col = 1;
    else
      (*col)++;
  }
}

/* Loads text; 0 when it is valid, else the diagnostics, one per line. */
static int load(const char *t, char *diags, size_t len) {
  int fd = mkstemp(strcpy(path, "/tmp/renewd-test-manual-rb-XXXXXX"));
  rd_runbook *rb = NULL;
  rd_diag d = {0};
  FILE *f, *m;
  int rc;
  ck_assert_int_ge(fd, 0);
  ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
  fputs(text = t, f);
  fclose(f);
  rc = rd_runbook_load(path, NULL, &rb, &d);
  ck_assert_ptr_nonnull(m = fmemopen(diags, len, "w"));
  rd_diag_print(&d, m);
  fclose(m);
  rd_diag_free(&d);
  rd_runbook_free(rb);
  unlink(path);
  return rc;
}

/* The one diagnostic names path:line:col and says msg. */
static void expect(const char *diags, const char *marker, int nth, const char *msg) {
  char want[600];
  int line, col;
  where(marker, nth, &line, &col);
  snprintf(want, sizeof want, "%s:%d:%d: %s", path, line, col, msg);
  ck_assert_msg(strstr(diags, want), "want\n  %s\ngot\n  %s", want, diags);
}

START_TEST(valid) {
  char diags[2048] = "";
  ck_assert_msg(load(HEAD " \"issuer\": {\"type\": \"manual\", \"action\": \"Renew by hand.\"},\n" TAIL,
                     diags, sizeof diags) == 0,
                "%s", diags);
}
END_TEST

/* The runbook with this issuer line is refused, the message at marker. */
static void refused(const char *issuer, const char *marker, const char *msg) {
  char t[2048], diags[2048] = "";
  snprintf(t, sizeof t, "%s \"issuer\": %s,\n%s", HEAD, issuer, TAIL);
  ck_assert_int_ne(load(t, diags, sizeof diags), 0);
  expect(diags, marker, 1, msg);
}

START_TEST(missing_action) {
  refused("{\"type\": \"manual\"}", "\"issuer\"", "missing required key 'action' in 'issuer'");
}
END_TEST

START_TEST(empty_action) {
  refused("{\"type\": \"manual\", \"action\": \" \\t \"}", "\" \\t \"",
          "'issuer.action' must say what an operator does to renew this certificate");
}
END_TEST

START_TEST(action_not_text) {
  refused("{\"type\": \"manual\", \"action\": 42}", "42", "'issuer.action'");
}
END_TEST

START_TEST(unknown_key) {
  refused("{\"type\": \"manual\", \"action\": \"By hand.\", \"config\": \"ca\\\\x\"}",
          "\"config\"", "unknown key 'config' in 'issuer'");
}
END_TEST

START_TEST(typo_suggests_manual) {
  refused("{\"type\": \"manuel\", \"action\": \"By hand.\"}", "\"manuel\"",
          "unknown issuer type 'manuel'; did you mean 'manual'?");
}
END_TEST

int main(void) {
  Suite *s = suite_create("manual_runbook");
  TCase *tc = tcase_create("diagnostics");
  tcase_add_test(tc, valid);
  tcase_add_test(tc, missing_action);
  tcase_add_test(tc, empty_action);
  tcase_add_test(tc, action_not_text);
  tcase_add_test(tc, unknown_key);
  tcase_add_test(tc, typo_suggests_manual);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
