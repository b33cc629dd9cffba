/* test_metrics.c — the process's counters and histograms (base/metrics.h):
 * Prometheus text with cumulative buckets, _sum and _count, escaped label
 * values, one HELP/TYPE per family, and the bound on label sets. serve's
 * per-certificate series are in test_serve_scan.c and tests/e2e/monitoring.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "base/metrics.h"
#include "testutil.h"

static char *text(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  rd_metrics_write(f);
  ck_assert_int_eq(fclose(f), 0);
  return buf;
}

static void has(const char *t, const char *line) {
  ck_assert_msg(strstr(t, line), "missing: %s\n--- in:\n%s", line, t);
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

START_TEST(histogram_buckets_are_cumulative) {
  rd_metrics_reset();
  rd_metrics_step("posix.key_acl", "apply", 1, 0.07);
  rd_metrics_step("posix.key_acl", "apply", 1, 0.3);
  rd_metrics_step("posix.key_acl", "apply", 1, 400);
  rd_metrics_step("posix.key_acl", "apply", 0, 2);
  char *t = text();
  const char *s = "renewd_step_duration_seconds_bucket{step=\"posix.key_acl\",phase=\"apply\","
                  "result=\"ok\",le=";
  char want[256];
  struct {
    const char *le;
    int n;
  } b[] = {{"0.05", 0}, {"0.1", 1}, {"0.25", 1}, {"0.5", 2}, {"300", 2}, {"+Inf", 3}};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
    snprintf(want, sizeof want, "%s\"%s\"} %d\n", s, b[i].le, b[i].n);
    has(t, want);
  }
  has(t, "renewd_step_duration_seconds_count{step=\"posix.key_acl\",phase=\"apply\","
         "result=\"ok\"} 3\n");
  has(t, "renewd_step_duration_seconds_sum{step=\"posix.key_acl\",phase=\"apply\","
         "result=\"ok\"} 400.370000\n");
  has(t, "renewd_step_duration_seconds_count{step=\"posix.key_acl\",phase=\"apply\","
         "result=\"error\"} 1\n");
  ck_assert_uint_eq(count(t, "# TYPE renewd_step_duration_seconds histogram\n"), 1);
  free(t);
}
END_TEST

START_TEST(connect_histogram_has_no_labels) {
  rd_metrics_reset();
  rd_metrics_ssh_connect(0.02);
  rd_metrics_ssh_connect(0.2);
  char *t = text();
  has(t, "renewd_ssh_connect_duration_seconds_bucket{le=\"0.01\"} 0\n");
  has(t, "renewd_ssh_connect_duration_seconds_bucket{le=\"0.025\"} 1\n");
  has(t, "renewd_ssh_connect_duration_seconds_bucket{le=\"+Inf\"} 2\n");
  has(t, "renewd_ssh_connect_duration_seconds_count 2\n");
  has(t, "renewd_ssh_connect_duration_seconds_sum 0.220000\n");
  free(t);
}
END_TEST

START_TEST(job_results_by_outcome_and_escaping) {
  rd_metrics_reset();
  rd_metrics_job_result("web", "DONE");
  rd_metrics_job_result("web", "DONE");
  rd_metrics_job_result("web", "FAILED");
  rd_metrics_job_result("we\"b\\\n", "DONE");
  char *t = text();
  has(t, "# TYPE renewd_job_results_total counter\n");
  has(t, "renewd_job_results_total{runbook=\"web\",outcome=\"DONE\"} 2\n");
  has(t, "renewd_job_results_total{runbook=\"web\",outcome=\"FAILED\"} 1\n");
  has(t, "renewd_job_results_total{runbook=\"we\\\"b\\\\\\n\",outcome=\"DONE\"} 1\n");
  free(t);
}
END_TEST

START_TEST(label_sets_are_bounded) {
  char name[32];
  rd_metrics_reset();
  for (int i = 0; i < RD_METRICS_MAX_SERIES + 10; i++) {
    snprintf(name, sizeof name, "rb%d", i);
    rd_metrics_job_result(name, "DONE");
  }
  rd_metrics_job_result("rb0", "DONE"); /* a known one still counts */
  char *t = text();
  ck_assert_uint_eq(count(t, "renewd_job_results_total{"), RD_METRICS_MAX_SERIES);
  has(t, "renewd_job_results_total{runbook=\"rb0\",outcome=\"DONE\"} 2\n");
  has(t, "renewd_metrics_dropped_total 10\n");
  free(t);
  rd_metrics_reset();
}
END_TEST

int main(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("metrics");
  tcase_add_test(tc, histogram_buckets_are_cumulative);
  tcase_add_test(tc, connect_histogram_has_no_labels);
  tcase_add_test(tc, job_results_by_outcome_and_escaping);
  tcase_add_test(tc, label_sets_are_bounded);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
