/* test_schedule_window.c — the due decision with the CA's renewal window
 * (ACME ARI, RFC 9773: rd_due_decide) and the window in the report. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "core/schedule.h"
#include "testutil.h"

#define DAY 86400
#define HOUR 3600

static time_t utc(int y, int mo, int d, int h, int mi) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                  .tm_min = mi};
  return timegm(&tm);
}

static const time_t nb = 1735689600; /* 2025-01-01 00:00 UTC */
#define NA (nb + 90 * DAY)

static json_t *ari(time_t start, time_t end, time_t at, time_t next) {
  return json_pack("{s:s, s:I, s:I, s:I, s:I}", "source", "ARI", "start", (json_int_t)start, "end",
                   (json_int_t)end, "renew_at", (json_int_t)at, "next_check", (json_int_t)next);
}

/* not due by days (40 left, policy 10d), but the CA's window says now */
START_TEST(ari_window_decides) {
  time_t now = NA - 40 * DAY, s = now - DAY, e = now + DAY;
  rd_due_why w;
  json_t *win = ari(s, e, now - HOUR, now + 6 * HOUR), *j;
  ck_assert_int_eq(rd_due(now, nb, NA, 10 * DAY, 0, NULL), 0);
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, win, &w), 1);
  ck_assert_int_eq(w.ari, 1);
  ck_assert_int_eq(w.expired, 0);
  ck_assert_str_eq(w.text, "window 2025-02-19 00:00 .. 2025-02-21 00:00 UTC from the CA (ARI): "
                           "renewal time 2025-02-19 23:00 UTC passed");
  j = rd_due_window_json(&w, win);
  ck_assert_str_eq(json_string_value(json_object_get(j, "source")), "ARI");
  ck_assert_str_eq(json_string_value(json_object_get(j, "start")), "2025-02-19T00:00:00Z");
  ck_assert_str_eq(json_string_value(json_object_get(j, "end")), "2025-02-21T00:00:00Z");
  ck_assert_str_eq(json_string_value(json_object_get(j, "renew_at")), "2025-02-19T23:00:00Z");
  ck_assert_str_eq(json_string_value(json_object_get(j, "next_check")), "2025-02-20T06:00:00Z");
  json_decref(j);
  /* inside the window, the chosen moment still ahead: not yet */
  json_decref(win);
  win = ari(s, e, now + HOUR, 0);
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, win, &w), 0);
  ck_assert_ptr_nonnull(strstr(w.text, "renewal at 2025-02-20 01:00 UTC"));
  j = rd_due_window_json(&w, win);
  ck_assert_ptr_null(json_object_get(j, "next_check")); /* the CA said none */
  json_decref(j);
  /* the moment itself is due */
  ck_assert_int_eq(rd_due_decide(now + HOUR, nb, NA, 10 * DAY, 0, win, NULL), 1);
  json_decref(win);
}
END_TEST

/* due by days, but the CA's window is later: the CA decides */
START_TEST(ari_window_later_than_policy) {
  time_t now = NA - 5 * DAY;
  rd_due_why w;
  json_t *win = ari(NA - 3 * DAY, NA - 2 * DAY, NA - 3 * DAY + HOUR, 0);
  ck_assert_int_eq(rd_due(now, nb, NA, 10 * DAY, 0, NULL), 1);
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, win, &w), 0);
  ck_assert_int_eq(w.ari, 1);
  /* expired: due whatever the window says */
  ck_assert_int_eq(rd_due_decide(NA + 60, nb, NA - 0, 10 * DAY, 0, NULL, NULL), 1);
  json_decref(win);
  win = ari(NA + DAY, NA + 2 * DAY, NA + DAY, 0);
  ck_assert_int_eq(rd_due_decide(NA + 120, nb, NA, 10 * DAY, 0, win, &w), 1);
  ck_assert_int_eq(w.expired, 1);
  ck_assert_ptr_nonnull(strstr(w.text, "expired 2 minutes ago (the CA's window (ARI)"));
  json_decref(win);
}
END_TEST

/* a window already over (mass revocation): renew at once */
START_TEST(ari_window_over) {
  time_t now = utc(2025, 1, 20, 12, 0);
  rd_due_why w;
  json_t *win = ari(now - 3 * DAY, now - 2 * DAY, now - 3 * DAY, 0);
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, win, &w), 1);
  ck_assert_str_eq(w.text, "the CA's window (ARI) 2025-01-17 12:00 .. 2025-01-18 12:00 UTC is "
                           "over: renew at once, the CA wants the certificate replaced");
  /* the end itself is over */
  json_decref(win);
  win = ari(now - DAY, now, now - 1, 0);
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, win, &w), 1);
  ck_assert_ptr_nonnull(strstr(w.text, "is over: renew at once"));
  json_decref(win);
}
END_TEST

/* no window from the CA: the policy decides and says so */
START_TEST(policy_window) {
  time_t now = NA - (time_t)(12.3 * DAY);
  rd_due_why w;
  json_t *none = json_pack("{s:s, s:s}", "source", "policy", "note", "the CA offers no renewal "
                                                                     "information"), *j;
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, NULL, &w), 0);
  ck_assert_str_eq(w.text, "12.3 days left, window opens at 10.0 days"); /* as rd_due */
  ck_assert_int_eq(w.ari, 0);
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, none, &w), 0);
  ck_assert_str_eq(w.text, "12.3 days left, window opens at 10.0 days; window from the policy");
  j = rd_due_window_json(&w, none);
  ck_assert_str_eq(json_string_value(json_object_get(j, "source")), "policy");
  ck_assert_str_eq(json_string_value(json_object_get(j, "opens")), "2025-03-22T00:00:00Z");
  ck_assert_str_eq(json_string_value(json_object_get(j, "note")),
                   "the CA offers no renewal information");
  json_decref(j);
  json_decref(none);
  /* no usable policy and no window */
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 0, 0, NULL, &w), RD_EINVAL);
}
END_TEST

/* a malformed window is no window: the policy decides */
START_TEST(malformed_windows) {
  time_t now = NA - 40 * DAY;
  rd_due_why w;
  json_t *bad[] = {
      json_pack("{s:s, s:I, s:I}", "source", "ARI", "start", (json_int_t)now, "end",
                (json_int_t)now), /* empty */
      json_pack("{s:s, s:s, s:I}", "source", "ARI", "start", "yesterday", "end",
                (json_int_t)now),
      json_pack("{s:s, s:I, s:I}", "source", "CA", "start", (json_int_t)(now - DAY), "end",
                (json_int_t)(now + DAY)),
      json_pack("[]"),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, bad[i], &w), 0);
    ck_assert_int_eq(w.ari, 0);
    json_decref(bad[i]);
  }
  /* renew_at outside the window: its start */
  json_t *out = ari(now - DAY, now + DAY, now + 5 * DAY, 0);
  ck_assert_int_eq(rd_due_decide(now, nb, NA, 10 * DAY, 0, out, &w), 1);
  ck_assert_int_eq(w.renew_at, now - DAY);
  json_decref(out);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("schedule_window");
  TCase *tc = tcase_create("ari");
  tcase_add_test(tc, ari_window_decides);
  tcase_add_test(tc, ari_window_later_than_policy);
  tcase_add_test(tc, ari_window_over);
  tcase_add_test(tc, policy_window);
  tcase_add_test(tc, malformed_windows);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
