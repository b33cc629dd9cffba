/* test_report_html.c — the fleet report (core/report_html.h): the page's
 * escaping of hostile names, the timeline's order, bands and colours, a
 * self-contained page, and the model built from a real journal. The page
 * rendered by Chromium against the lab is tests/e2e/report_browser.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "base/err.h"
#include "core/report_html.h"
#include "store/journal.h"
#include "testutil.h"

#define NOW ((json_int_t)1795996800) /* Mon, 30 Nov 2026 00:00:00 +0000 */
#define DAY ((json_int_t)86400)

static json_t *cert(const char *host, const char *state, json_int_t na) {
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "host", host, "runbook", "rb",
                   "certificate", "/etc/ssl/c.pem", "state", state, "not_before", na - 90 * DAY,
                   "not_after", na, "window_opens", na - 30 * DAY);
}

static json_t *model(json_t *certs) {
  return json_pack("{s:I, s:o, s:[], s:[], s:[]}", "now", NOW, "certificates", certs, "unknown",
                   "attention", "history");
}

static char *page_of(json_t *m) {
  size_t len = 0;
  char *p = rd_report_html(m, &len);
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(strlen(p), len);
  json_decref(m);
  return p;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* The value of attribute attr in the n-th element starting with `open`. */
static double attr_of(const char *page, const char *open, size_t n, const char *attr) {
  const char *p = page;
  char key[64];
  for (size_t i = 0; i <= n; i++) {
    p = strstr(p, open);
    ck_assert_msg(p, "element %zu of %s missing", n, open);
    p += strlen(open);
  }
  snprintf(key, sizeof key, " %s=\"", attr);
  const char *end = strchr(p, '>'), *a = strstr(p, key);
  ck_assert_msg(a && a < end, "%s has no %s", open, attr);
  return strtod(a + strlen(key), NULL);
}

START_TEST(hostile_names_are_escaped) {
  json_t *c = cert("<script>alert(1)</script>", "failed", NOW + 3 * DAY);
  json_object_set_new(c, "runbook", json_string("\"onmouseover=\"x"));
  json_object_set_new(c, "certificate", json_string("a&b'c"));
  json_object_set_new(c, "reason", json_string("</title><img src=x onerror=alert(2)>\x01"));
  json_t *m = model(json_pack("[o]", c));
  json_array_append_new(json_object_get(m, "attention"),
                        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s}", "id",
                                  (json_int_t)7, "host", "<b>h</b>", "runbook", "r",
                                  "certificate", "c", "state", "FAILED", "chart_state", "failed",
                                  "attempts", 1, "updated", NOW, "error",
                                  "<iframe src=//evil.test>"));
  char *p = page_of(m);
  ck_assert_ptr_null(strstr(p, "<script"));
  ck_assert_ptr_null(strstr(p, "<img"));
  ck_assert_ptr_null(strstr(p, "<iframe"));
  ck_assert_ptr_null(strstr(p, "<b>h"));
  ck_assert_ptr_null(strchr(p, '\x01'));
  ck_assert_ptr_nonnull(strstr(p, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  ck_assert_ptr_nonnull(strstr(p, "data-runbook=\"&quot;onmouseover=&quot;x\""));
  ck_assert_ptr_nonnull(strstr(p, "a&amp;b&#39;c"));
  ck_assert_ptr_nonnull(strstr(p, "&lt;/title&gt;&lt;img src=x onerror=alert(2)&gt;&#xFFFD;"));
  ck_assert_ptr_nonnull(strstr(p, "&lt;iframe src=//evil.test&gt;"));
  free(p);
}
END_TEST

/* No script, no link, no reference to anything outside the page. */
START_TEST(page_is_self_contained) {
  char *p = page_of(model(json_pack("[o, o]", cert("a", "ok", NOW + 80 * DAY),
                                    cert("b", "due", NOW + 9 * DAY))));
  ck_assert_ptr_null(strstr(p, "<script"));
  ck_assert_ptr_null(strstr(p, "<link"));
  ck_assert_ptr_null(strstr(p, "src="));
  ck_assert_ptr_null(strstr(p, "href"));
  ck_assert_ptr_null(strstr(p, "url("));
  /* the one URL is the SVG namespace, which is a name, not a fetch */
  ck_assert_uint_eq(count(p, "http"), 1);
  ck_assert_ptr_nonnull(strstr(p, "xmlns=\"http://www.w3.org/2000/svg\""));
  ck_assert_ptr_nonnull(strstr(p, "<style>"));
  free(p);
}
END_TEST

START_TEST(marks_in_expiry_order) {
  json_int_t when[] = {NOW + 50 * DAY, NOW - 2 * DAY, NOW + 200 * DAY, NOW + 10 * DAY,
                       NOW + 10 * DAY};
  const char *hosts[] = {"h3", "h1", "h5", "h4", "h2"}; /* h2 before h4: same expiry, by name */
  json_t *a = json_array();
  for (size_t i = 0; i < 5; i++)
    json_array_append_new(a, cert(hosts[i], "ok", when[i]));
  char *p = page_of(model(a));
  ck_assert_uint_eq(count(p, "<circle class=\"mark\""), 5);
  double prev_cx = -1, prev_cy = -1;
  const char *order[] = {"h1", "h2", "h4", "h3", "h5"};
  const char *at = p;
  for (size_t i = 0; i < 5; i++) {
    char want[64];
    double cx = attr_of(p, "<circle class=\"mark\"", i, "cx");
    double cy = attr_of(p, "<circle class=\"mark\"", i, "cy");
    ck_assert_msg(cx >= prev_cx && cy > prev_cy, "mark %zu out of order", i);
    prev_cx = cx;
    prev_cy = cy;
    snprintf(want, sizeof want, "data-host=\"%s\"", order[i]);
    at = strstr(at, want);
    ck_assert_msg(at, "%s not in place %zu", order[i], i);
  }
  free(p);
}
END_TEST

START_TEST(bands_60_30_14_from_now) {
  char *p = page_of(model(json_pack("[o]", cert("a", "ok", NOW + 100 * DAY))));
  double now_x = attr_of(p, "<line class=\"now\"", 0, "x1");
  const int days[] = {60, 30, 14};
  double w60 = attr_of(p, "<rect class=\"band\"", 0, "width");
  ck_assert_uint_eq(count(p, "<rect class=\"band\""), 3);
  for (size_t i = 0; i < 3; i++) {
    ck_assert_double_eq_tol(attr_of(p, "<rect class=\"band\"", i, "x"), now_x, 0.05);
    ck_assert_double_eq_tol(attr_of(p, "<rect class=\"band\"", i, "data-days"), days[i], 0.5);
    ck_assert_double_eq_tol(attr_of(p, "<rect class=\"band\"", i, "width") / w60,
                            days[i] / 60.0, 0.01);
  }
  /* the renew window (30 days) is as wide as the 30-day band */
  ck_assert_double_eq_tol(attr_of(p, "<rect class=\"window\"", 0, "width"),
                          attr_of(p, "<rect class=\"band\"", 1, "width"), 0.2);
  free(p);
}
END_TEST

START_TEST(colours_by_state) {
  json_t *a = json_array();
  for (size_t i = 0; i < rd_report_nstates; i++)
    json_array_append_new(a, cert(rd_report_states[i].name, rd_report_states[i].name,
                                  NOW + (json_int_t)(i + 1) * DAY));
  char *p = page_of(model(a));
  for (size_t i = 0; i < rd_report_nstates; i++) {
    char want[160];
    snprintf(want, sizeof want, "fill=\"%s\" data-state=\"%s\"", rd_report_states[i].colour,
             rd_report_states[i].name);
    ck_assert_msg(strstr(p, want), "%s", want);
  }
  ck_assert_str_eq(rd_report_colour("failed"), "#d32f2f");
  ck_assert_ptr_null(rd_report_colour("nonsense"));
  free(p);
}
END_TEST

START_TEST(empty_model) {
  char *p = page_of(model(json_array()));
  ck_assert_ptr_nonnull(strstr(p, "No certificate with a known expiry."));
  ck_assert_ptr_nonnull(strstr(p, "No job in the journal."));
  ck_assert_ptr_null(strstr(p, "<svg"));
  free(p);
}
END_TEST

/* ---- the model from a journal ------------------------------------------ */

static char dir[64];
static char db[600];

static rd_journal *journal_with_jobs(void) {
  rd_journal *j;
  char err[512];
  int64_t id;
  int created;
  snprintf(dir, sizeof dir, "/tmp/test_report_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/j.db", dir);
  ck_assert_int_eq(rd_journal_open(db, &j, err, sizeof err), 0);
  time_t now = time(NULL);
  /* h1: expires in 5 days, its renewal failed; h2: 80 days left; h3: never seen */
  json_t *f1 = json_pack("{s:I, s:I}", "not_before", (json_int_t)now - 85 * DAY, "not_after",
                         (json_int_t)now + 5 * DAY);
  json_t *f2 = json_pack("{s:I, s:I}", "not_before", (json_int_t)now - 10 * DAY, "not_after",
                         (json_int_t)now + 80 * DAY);
  ck_assert_int_eq(rd_journal_inventory(j, "h1", f1), 0);
  ck_assert_int_eq(rd_journal_inventory(j, "h2", f2), 0);
  json_decref(f1);
  json_decref(f2);
  ck_assert_int_eq(rd_journal_job_open(j, "web", "h1", "/etc/c.pem", &id, &created), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_FAILED, "h1: <CA said no>"), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "web", "h2", "/etc/c.pem", &id, &created), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j, id, RD_JOB_PROBED, NULL), 0);
  return j;
}

static void journal_gone(rd_journal *j) {
  char p[700];
  rd_journal_close(j);
  for (const char *s = "\0-wal\0-shm\0"; ; s += strlen(s) + 1) {
    snprintf(p, sizeof p, "%s%s", db, s);
    unlink(p);
    if (!strcmp(s, "-shm"))
      break;
  }
  rmdir(dir);
}

static const json_t *find(const json_t *a, const char *host) {
  size_t i;
  const json_t *c;
  json_array_foreach(a, i, c) if (!strcmp(json_string_value(json_object_get(c, "host")), host))
      return c;
  return NULL;
}

static const char *state_of(const json_t *a, const char *host) {
  const json_t *c = find(a, host);
  ck_assert_msg(c, "%s missing", host);
  return json_string_value(json_object_get(c, "state"));
}

START_TEST(model_from_journal_and_runbook) {
  rd_journal *j = journal_with_jobs();
  rd_target t[3] = {{.name = "h1"}, {.name = "h2"}, {.name = "h3"}};
  rd_runbook rb = {.name = "web", .targets = t, .ntargets = 3};
  rb.certificate = json_pack("{s:s}", "cert", "/etc/c.pem");
  rb.policy.renew_fraction = 1.0 / 3;
  rd_runbook *rbs[] = {&rb};
  char err[256] = "";
  rd_report_src src = {j, rbs, 1, NULL, time(NULL), 0, 0};
  json_t *m = rd_report_model(&src, err, sizeof err);
  ck_assert_msg(m, "%s", err);
  const json_t *certs = json_object_get(m, "certificates");
  ck_assert_uint_eq(json_array_size(certs), 2);
  ck_assert_str_eq(state_of(certs, "h1"), "failed");
  ck_assert_str_eq(json_string_value(json_object_get(find(certs, "h1"), "reason")),
                   "h1: <CA said no>");
  ck_assert_str_eq(state_of(certs, "h2"), "waiting"); /* a job runs */
  ck_assert_str_eq(state_of(json_object_get(m, "unknown"), "h3"), "unknown");
  /* the window: a third of h1's 90-day lifetime before its expiry */
  const json_t *h1 = find(certs, "h1");
  ck_assert_int_eq(json_integer_value(json_object_get(h1, "not_after")) -
                       json_integer_value(json_object_get(h1, "window_opens")),
                   30 * DAY);
  ck_assert_uint_eq(json_array_size(json_object_get(m, "attention")), 2);
  ck_assert_uint_eq(json_array_size(json_object_get(m, "history")), 2);
  /* serve's newer expiry wins over the journal's snapshot */
  json_t *seen = json_pack("{s:I}", "h3", (json_int_t)time(NULL) + 200 * DAY);
  const json_t *seen_by_rb[] = {seen};
  src.seen = seen_by_rb;
  json_t *m2 = rd_report_model(&src, err, sizeof err);
  ck_assert_str_eq(state_of(json_object_get(m2, "certificates"), "h3"), "ok");
  json_decref(m2);
  json_decref(seen);
  json_decref(m);
  json_decref(rb.certificate);
  journal_gone(j);
}
END_TEST

/* A DONE job whose issue step resent a request after a lost reply: the run
 * that did it may have died before its report, so the fleet report lists
 * the job among those needing attention, with the notice, escaped. */
START_TEST(orphan_notice_needs_attention) {
  rd_journal *j = journal_with_jobs();
  int64_t id;
  int created;
  static const rd_job_state path[] = {RD_JOB_PROBED,    RD_JOB_KEY_READY, RD_JOB_REQUESTED,
                                      RD_JOB_ISSUED,    RD_JOB_INSTALLED, RD_JOB_FOLLOWUPS,
                                      RD_JOB_VERIFIED,  RD_JOB_DONE};
  ck_assert_int_eq(rd_journal_job_open(j, "web", "h4", "/etc/c.pem", &id, &created), 0);
  json_t *res = json_pack("{s:{s:b, s:i}}", "orphan", "possible", 1, "resent", 1);
  rd_step_record rec = {.step = "issue", .phase = "apply", .result = res,
                        .message = "h4: the identical request resent: <orphan>"};
  ck_assert_int_eq(rd_journal_step(j, id, &rec), 0);
  json_decref(res);
  for (size_t i = 0; i < sizeof path / sizeof path[0]; i++)
    ck_assert_int_eq(rd_journal_job_set_state(j, id, path[i], NULL), 0);
  char err[256] = "";
  rd_report_src src = {j, NULL, 0, NULL, time(NULL), 0, 0};
  json_t *m = rd_report_model(&src, err, sizeof err);
  ck_assert_msg(m, "%s", err);
  const json_t *h4 = find(json_object_get(m, "attention"), "h4");
  ck_assert_msg(h4, "a DONE job with a notice needs attention");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(h4, "notice"), "what")),
                   "possible orphan certificate at the CA");
  size_t len = 0;
  char *html = rd_report_html(m, &len);
  ck_assert_ptr_nonnull(html);
  ck_assert_msg(strstr(html, "notice: h4: the identical request resent: &lt;orphan&gt;"), "%s",
                html);
  free(html);
  json_decref(m);
  journal_gone(j);
}
END_TEST

START_TEST(model_without_runbooks) {
  rd_journal *j = journal_with_jobs();
  char err[256] = "";
  rd_report_src src = {j, NULL, 0, NULL, time(NULL), 1, 0};
  json_t *m = rd_report_model(&src, err, sizeof err);
  ck_assert_msg(m, "%s", err);
  const json_t *certs = json_object_get(m, "certificates");
  ck_assert_uint_eq(json_array_size(certs), 2);
  ck_assert_str_eq(json_string_value(json_object_get(find(certs, "h1"), "runbook")), "web");
  ck_assert_str_eq(state_of(certs, "h1"), "failed");
  const json_t *h = json_array_get(json_object_get(m, "history"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(h, "host")), "h1");
  ck_assert_uint_eq(json_array_size(json_object_get(h, "jobs")), 1);
  json_decref(m);
  journal_gone(j);
}
END_TEST

int main(void) {
  Suite *s = suite_create("report_html");
  TCase *tc = tcase_create("page");
  tcase_add_test(tc, hostile_names_are_escaped);
  tcase_add_test(tc, page_is_self_contained);
  tcase_add_test(tc, marks_in_expiry_order);
  tcase_add_test(tc, bands_60_30_14_from_now);
  tcase_add_test(tc, colours_by_state);
  tcase_add_test(tc, empty_model);
  suite_add_tcase(s, tc);
  tc = tcase_create("model");
  tcase_add_test(tc, model_from_journal_and_runbook);
  tcase_add_test(tc, model_without_runbooks);
  tcase_add_test(tc, orphan_notice_needs_attention);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
