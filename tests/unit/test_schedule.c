/* test_schedule.c — scheduler arithmetic, checked exhaustively where the
 * domain allows: every minute of three weeks for maintenance windows
 * against a naive oracle, 10k draws for jitter. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "core/schedule.h"
#include "testutil.h"

#define DAY 86400
#define HOUR 3600

/* UTC time for a calendar date (2024-01-01 was a Monday). */
static time_t utc(int y, int mo, int d, int h, int mi) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                  .tm_min = mi};
  return timegm(&tm);
}

/* ---- rd_due ------------------------------------------------------------ */

START_TEST(due_renew_before) {
  time_t nb = utc(2024, 1, 1, 0, 0), na = nb + 90 * DAY;
  rd_due_why w;
  time_t now = na - (time_t)(12.3 * DAY);
  ck_assert_int_eq(rd_due(now, nb, na, 10 * DAY, 0, &w), 0);
  ck_assert_int_eq(w.due, 0);
  ck_assert_int_eq(w.expired, 0);
  ck_assert_int_eq(w.window, 10 * DAY);
  ck_assert_int_eq(w.opens, na - 10 * DAY);
  ck_assert_str_eq(w.text, "12.3 days left, window opens at 10.0 days");
  /* The boundary: due exactly when remaining <= renew_before. */
  ck_assert_int_eq(rd_due(na - 10 * DAY - 1, nb, na, 10 * DAY, 0, NULL), 0);
  ck_assert_int_eq(rd_due(na - 10 * DAY, nb, na, 10 * DAY, 0, NULL), 1);
  ck_assert_int_eq(rd_due(na - 8 * DAY, nb, na, 10 * DAY, 0.5, &w), 1);
  ck_assert_str_eq(w.text, "8.0 days left, window opened at 10.0 days");
  /* renew_before wins over the fraction. */
  ck_assert_int_eq(w.window, 10 * DAY);
  ck_assert_int_eq(rd_due(na - 5 * HOUR, nb, na, 10 * DAY, 0, &w), 1);
  ck_assert_str_eq(w.text, "5.0 hours left, window opened at 10.0 days");
}
END_TEST

START_TEST(due_fraction) {
  time_t nb = utc(2024, 3, 1, 12, 0), na = nb + 30 * DAY;
  rd_due_why w;
  ck_assert_int_eq(rd_due(nb + 15 * DAY, nb, na, 0, 1.0 / 3, &w), 0);
  ck_assert_int_eq(w.window, 10 * DAY);
  ck_assert_int_eq(w.lifetime, 30 * DAY);
  ck_assert_str_eq(w.text, "15.0 days left, window opens at 10.0 days (33.33% of the 30.0 "
                           "days lifetime)");
  ck_assert_int_eq(rd_due(na - 10 * DAY, nb, na, 0, 1.0 / 3, &w), 1);
  /* Exhaustive over the lifetime, in 1-hour steps plus both sides of the
   * boundary. */
  for (time_t now = nb - DAY; now <= na + DAY; now += HOUR) {
    int want = na - now <= 10 * DAY;
    ck_assert_int_eq(rd_due(now, nb, na, 0, 1.0 / 3, &w), want);
    ck_assert_int_eq(w.due, want);
    ck_assert_int_eq(w.expired, now >= na);
    ck_assert_int_eq(w.remaining, (int64_t)(na - now));
  }
}
END_TEST

START_TEST(due_expired_and_invalid) {
  time_t nb = utc(2024, 1, 1, 0, 0), na = nb + 90 * DAY;
  rd_due_why w;
  ck_assert_int_eq(rd_due(na, nb, na, 10 * DAY, 0, &w), 1);
  ck_assert_int_eq(w.expired, 1);
  ck_assert_int_eq(rd_due(na + 2 * DAY, nb, na, 10 * DAY, 0, &w), 1);
  ck_assert_int_eq(w.expired, 1);
  ck_assert_int_eq(w.remaining, -2 * DAY);
  ck_assert_str_eq(w.text, "expired 2.0 days ago");
  ck_assert_int_eq(rd_due(na + 90, nb, na, 10 * DAY, 0, &w), 1);
  ck_assert_str_eq(w.text, "expired 90 seconds ago");
  ck_assert_int_eq(rd_due(na - 1, nb, na, 10 * DAY, 0, &w), 1);
  ck_assert_str_eq(w.text, "1 second left, window opened at 10.0 days");
  ck_assert_int_eq(w.expired, 0);
  /* Not a policy, or not a certificate. */
  ck_assert_int_eq(rd_due(nb, nb, na, 0, 0, &w), RD_EINVAL);
  ck_assert_int_eq(rd_due(nb, nb, na, 0, 1.0, &w), RD_EINVAL);
  ck_assert_int_eq(rd_due(nb, nb, na, -5, -0.5, &w), RD_EINVAL);
  ck_assert_int_eq(rd_due(nb, nb, na, 0, NAN, &w), RD_EINVAL);
  ck_assert_int_eq(rd_due(nb, na, na, 10 * DAY, 0, &w), RD_EINVAL);
  ck_assert_int_eq(rd_due(nb, na, nb, 10 * DAY, 0, &w), RD_EINVAL);
  /* renew_before not shorter than the lifetime (the CA shortened it): the
   * duration still decides, and the reason warns that such a certificate is
   * due again as soon as it is issued */
  ck_assert_int_eq(rd_due(nb, nb, nb + 6 * DAY, 10 * DAY, 0, &w), 1);
  ck_assert_int_eq(w.overlong, 1);
  ck_assert_int_eq(w.window, 10 * DAY);
  ck_assert_str_eq(w.text, "6.0 days left, window opened at 10.0 days (renew_before 10.0 days is "
                           "not shorter than the 6.0 days lifetime: a certificate like this one is "
                           "due again as soon as it is issued)");
  ck_assert_int_eq(rd_due(nb, nb, nb + 7 * DAY, 7 * DAY, 0, &w), 1); /* as long: too */
  ck_assert_int_eq(w.overlong, 1);
  ck_assert_int_eq(rd_due(nb + 1, nb, nb + 7 * DAY, 7 * DAY - 1, 0, &w), 1); /* shorter: as set */
  ck_assert_int_eq(w.overlong, 0);
  ck_assert_int_eq(rd_due(nb, nb, na, 10 * DAY, 0, &w), 0);
  ck_assert_int_eq(w.overlong, 0);
}
END_TEST

/* ---- jitter ------------------------------------------------------------ */

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

START_TEST(jitter_bounds) {
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  double sum = 0;
  for (int i = 0; i < 10000; i++) {
    int64_t v = rd_jitter(3600, 360, xorshift(&seed));
    ck_assert(v >= 3600 && v <= 3960);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    sum += (double)(v - 3600);
  }
  /* 10k draws over 361 values: both ends are hit and the mean is central. */
  ck_assert_int_eq(lo, 3600);
  ck_assert_int_eq(hi, 3960);
  ck_assert(sum / 10000 > 170 && sum / 10000 < 190);
  /* Small spans hit every value. */
  int seen[4] = {0};
  for (int i = 0; i < 10000; i++) {
    int64_t v = rd_jitter(10, 3, xorshift(&seed));
    ck_assert(v >= 10 && v <= 13);
    seen[v - 10]++;
  }
  for (int k = 0; k < 4; k++)
    ck_assert(seen[k] > 2000 && seen[k] < 3000);
  ck_assert_int_eq(rd_jitter(100, 50, 0), 100);
  ck_assert_int_eq(rd_jitter(100, 50, UINT64_MAX), 150);
  ck_assert_int_eq(rd_jitter(100, 0, UINT64_MAX), 100);
  ck_assert_int_eq(rd_jitter(100, -7, UINT64_MAX), 100);
  ck_assert_int_eq(rd_jitter(INT64_MAX - 1, 10, UINT64_MAX), INT64_MAX);
  ck_assert_int_eq(rd_jitter(0, INT64_MAX, UINT64_MAX), INT64_MAX);
}
END_TEST

/* ---- maintenance windows ----------------------------------------------- */

START_TEST(window_parse_ok) {
  rd_window w;
  char err[256];
  ck_assert_int_eq(rd_window_parse("always", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.always, 1);
  ck_assert_int_eq(rd_window_parse("  Always ", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.always, 1);
  ck_assert_int_eq(rd_window_parse("Mon-Fri 01:00-05:00", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.always, 0);
  ck_assert_int_eq(w.nspans, 1);
  ck_assert_int_eq(w.spans[0].days, 0x3e);
  ck_assert_int_eq(w.spans[0].start, 60);
  ck_assert_int_eq(w.spans[0].length, 240);
  ck_assert_int_eq(rd_window_parse("Sat,Sun 00:00-06:00", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.spans[0].days, 0x41);
  ck_assert_int_eq(w.spans[0].length, 360);
  ck_assert_int_eq(rd_window_parse("daily 22:00-02:00", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.spans[0].days, 0x7f);
  ck_assert_int_eq(w.spans[0].start, 22 * 60);
  ck_assert_int_eq(w.spans[0].length, 240);
  ck_assert_int_eq(rd_window_parse("fri-MON 10:00-11:30", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.spans[0].days, (1 << 5) | (1 << 6) | (1 << 0) | (1 << 1));
  ck_assert_int_eq(w.spans[0].length, 90);
  ck_assert_int_eq(rd_window_parse("Monday 00:00-24:00", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.spans[0].days, 0x02);
  ck_assert_int_eq(w.spans[0].length, 1440);
  ck_assert_int_eq(rd_window_parse("Mon - Wed, Fri 1:00-2:00", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.spans[0].days, 0x2e);
  ck_assert_int_eq(w.spans[0].start, 60);
  ck_assert_int_eq(rd_window_parse("03:00-04:00", &w, err, sizeof err), 0);
  ck_assert_int_eq(w.spans[0].days, 0x7f);
  ck_assert_int_eq(rd_window_parse("weekdays 01:00-05:00; weekends 00:00-24:00", &w, err,
                                   sizeof err),
                   0);
  ck_assert_int_eq(w.nspans, 2);
  ck_assert_int_eq(w.spans[1].days, 0x41);
}
END_TEST

START_TEST(window_parse_errors) {
  static const struct {
    const char *text, *msg;
  } bad[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"Mon-Fry 01:00-05:00", "unknown day 'Mon-Fry'"},
      {"Mon 25:00-05:00", "bad start time '25:00'"},
      {"Mon 01:60-05:00", "bad start time"},
      {"Mon 24:00-02:00", "bad start time"},
      {"Mon 01:00-24:01", "bad end time"},
      {"Mon 01:00-01:00", "is empty"},
      {"Mon 01:00", "expected a time range"},
      {"Mon-Fri 1-5", "expected a time range"},
      {"Mon-Fri", "expected a time range"},
      {";", "no span"},
      {"Mon,,Tue 01:00-02:00", "empty day"},
      {"Mon, 01:00-02:00", "empty day"},
      {"Mon 1:0-2:00", "bad start time"},
      {"Mon 01:00-05:00;Tue 01:00-05:00;Wed 01:00-05:00;Thu 01:00-05:00;"
       "Fri 01:00-05:00;Sat 01:00-05:00;Sun 01:00-05:00;Mon 06:00-07:00;Tue 06:00-07:00",
       "more than 8 spans"},
      {"always never", "expected a time range"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rd_window w;
    char err[512] = "";
    ck_assert_msg(rd_window_parse(bad[i].text, &w, err, sizeof err) == RD_EINVAL, "%s",
                  bad[i].text);
    ck_assert_msg(strncmp(err, "window '", 8) == 0, "%s", err);
    ck_assert_msg(strstr(err, bad[i].msg), "'%s': message '%s' lacks '%s'", bad[i].text,
                  err, bad[i].msg);
    ck_assert_int_eq(w.nspans, 0);
  }
  rd_window w;
  ck_assert_int_eq(rd_window_parse(NULL, &w, NULL, 0), RD_EINVAL);
  ck_assert_int_eq(rd_window_parse("Mon 01:00", &w, NULL, 0), RD_EINVAL);
}
END_TEST

/* The naive oracle: is local minute m (from an epoch Monday 00:00) open? */
static int oracle_open(const rd_window *w, int64_t local_s) {
  time_t t = (time_t)local_s;
  struct tm tm;
  gmtime_r(&t, &tm);
  int minute = tm.tm_hour * 60 + tm.tm_min;
  if (w->always)
    return 1;
  for (int i = 0; i < w->nspans; i++) {
    const rd_window_span *sp = &w->spans[i];
    int today = (sp->days >> tm.tm_wday) & 1;
    int yesterday = (sp->days >> ((tm.tm_wday + 6) % 7)) & 1;
    if (today && minute >= sp->start && minute < sp->start + sp->length)
      return 1;
    if (yesterday && minute + 1440 < sp->start + sp->length)
      return 1;
  }
  return 0;
}

/* Every minute of three weeks (two for next_open/closes, whose answers may
 * lie a week ahead), at several UTC offsets, against the oracle. Mismatches
 * are collected and asserted once: a Check assertion per minute would cost
 * a pipe write each. */
static void exhaustive(const char *text) {
  enum { N = 4 * 7 * 1440 };
  static const long offsets[] = {0, 3600, -5 * 3600, 5 * 3600 + 1800, 14 * 3600, -12 * 3600};
  rd_window w;
  char err[256], first[512] = "";
  long bad = 0, checked = 0;
  static unsigned char open[N];
  static int nextopen[N], close[N];
  ck_assert_msg(rd_window_parse(text, &w, err, sizeof err) == 0, "%s", err);
#define MISMATCH(...)                                                          \
  do {                                                                         \
    if (!bad++)                                                                \
      snprintf(first, sizeof first, __VA_ARGS__);                              \
  } while (0)
  for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
    long off = offsets[o];
    /* Local Sunday 2023-12-31 00:00, so that Sunday spans crossing into
     * Monday and the new year are covered too. */
    int64_t local0 = (int64_t)utc(2023, 12, 31, 0, 0);
    for (int m = 0; m < N; m++)
      open[m] = (unsigned char)oracle_open(&w, local0 + (int64_t)m * 60);
    int nx = -1, cl = -1;
    for (int m = N - 1; m >= 0; m--) {
      if (open[m])
        nx = m;
      else
        cl = m;
      nextopen[m] = nx;
      close[m] = cl;
    }
    for (int m = 0; m < 3 * 7 * 1440; m++) {
      time_t now = (time_t)(local0 + (int64_t)m * 60 - off);
      int got = rd_window_is_open(&w, now, off);
      checked++;
      if (got != open[m] || rd_window_is_open(&w, now + 59, off) != open[m])
        MISMATCH("minute %d (offset %ld): is_open %d, oracle %d", m, off, got, open[m]);
      if (m >= 2 * 7 * 1440)
        continue;
      time_t want = nextopen[m] < 0 ? 0 : (time_t)(local0 + (int64_t)nextopen[m] * 60 - off);
      time_t nx_got = rd_window_next_open(&w, now, off);
      if (nx_got != want)
        MISMATCH("minute %d (offset %ld): next_open %lld, want %lld", m, off,
                 (long long)nx_got, (long long)want);
      /* From inside a closed minute: the same answer. */
      if (!open[m] && rd_window_next_open(&w, now + 30, off) != want)
        MISMATCH("minute %d (offset %ld) + 30 s: next_open differs", m, off);
      if (!w.always) {
        time_t wc = open[m] && close[m] >= 0 ? (time_t)(local0 + (int64_t)close[m] * 60 - off)
                                             : 0;
        time_t c_got = rd_window_closes(&w, now, off);
        if (c_got != wc)
          MISMATCH("minute %d (offset %ld): closes %lld, want %lld", m, off,
                   (long long)c_got, (long long)wc);
      }
    }
  }
#undef MISMATCH
  ck_assert_msg(bad == 0, "%s: %ld of %ld minutes wrong; first: %s", text, bad, checked, first);
  ck_assert_int_eq(checked, 6L * 3 * 7 * 1440);
}

START_TEST(window_exhaustive) {
  exhaustive("Mon-Fri 01:00-05:00");
  exhaustive("Sat,Sun 00:00-06:00");
  exhaustive("daily 22:00-02:00");
  exhaustive("Sat 23:00-01:00");   /* crosses Saturday -> Sunday (the bit wrap) */
  exhaustive("Sun 23:30-00:15");   /* crosses Sunday -> Monday */
  exhaustive("Fri-Mon 12:00-11:59"); /* nearly a day, over the weekend */
  exhaustive("Mon 20:00-24:00; Tue 00:00-02:00; Wed 00:00-24:00; Thu 00:00-03:00");
  exhaustive("Tue 00:00-24:00");
  exhaustive("always");
}
END_TEST

START_TEST(window_examples) {
  rd_window w;
  ck_assert_int_eq(rd_window_parse("daily 22:00-02:00", &w, NULL, 0), 0);
  /* Monday 2024-01-01, UTC. */
  ck_assert(rd_window_is_open(&w, utc(2024, 1, 1, 23, 59), 0));
  ck_assert(rd_window_is_open(&w, utc(2024, 1, 2, 1, 59), 0));
  ck_assert(!rd_window_is_open(&w, utc(2024, 1, 2, 2, 0), 0));
  ck_assert(!rd_window_is_open(&w, utc(2024, 1, 2, 21, 59), 0));
  ck_assert_int_eq(rd_window_next_open(&w, utc(2024, 1, 2, 21, 0), 0), utc(2024, 1, 2, 22, 0));
  ck_assert_int_eq(rd_window_closes(&w, utc(2024, 1, 1, 23, 0), 0), utc(2024, 1, 2, 2, 0));
  /* New Year's Eve (Sunday) into Monday, and into a new year. */
  ck_assert(rd_window_is_open(&w, utc(2024, 1, 1, 0, 30), 0));
  ck_assert(rd_window_is_open(&w, utc(2023, 12, 31, 23, 0), 0));

  ck_assert_int_eq(rd_window_parse("Sat,Sun 00:00-06:00", &w, NULL, 0), 0);
  /* From Monday 06:00: Saturday 00:00; from Sunday 06:00: next Saturday. */
  ck_assert_int_eq(rd_window_next_open(&w, utc(2024, 1, 1, 6, 0), 0), utc(2024, 1, 6, 0, 0));
  ck_assert_int_eq(rd_window_next_open(&w, utc(2024, 1, 7, 6, 0), 0), utc(2024, 1, 13, 0, 0));

  ck_assert_int_eq(rd_window_parse("Mon 01:00-05:00", &w, NULL, 0), 0);
  /* Just closed: a week minus four hours ahead. */
  ck_assert_int_eq(rd_window_next_open(&w, utc(2024, 1, 1, 5, 0), 0), utc(2024, 1, 8, 1, 0));

  ck_assert_int_eq(rd_window_parse("Mon-Fri 01:00-05:00", &w, NULL, 0), 0);
  /* CET (+1): 00:30 UTC Monday is 01:30 local. EST (-5): 06:30 UTC. */
  ck_assert(rd_window_is_open(&w, utc(2024, 1, 1, 0, 30), 3600));
  ck_assert(!rd_window_is_open(&w, utc(2024, 1, 1, 0, 30), 0));
  ck_assert(rd_window_is_open(&w, utc(2024, 1, 1, 6, 30), -5 * 3600));
  ck_assert(!rd_window_is_open(&w, utc(2024, 1, 1, 6, 30), 0));
  /* Friday 23:00 EST is Saturday 04:00 UTC: closed in New York. */
  ck_assert_int_eq(rd_window_next_open(&w, utc(2024, 1, 6, 4, 0), -5 * 3600),
                   utc(2024, 1, 8, 6, 0));
  /* Before 1970 (negative time_t) the weekday arithmetic still holds:
   * 1969-12-29 was a Monday. */
  ck_assert(rd_window_is_open(&w, utc(1969, 12, 29, 2, 0), 0));
  ck_assert(!rd_window_is_open(&w, utc(1969, 12, 28, 2, 0), 0));

  ck_assert_int_eq(rd_window_parse("always", &w, NULL, 0), 0);
  ck_assert_int_eq(rd_window_next_open(&w, 12345, 0), 12345);
  ck_assert_int_eq(rd_window_closes(&w, 12345, 0), 0);
}
END_TEST

/* ---- waves ------------------------------------------------------------- */

static size_t waves(const char *spec, size_t n, size_t *out, size_t max, int *rc, char *err,
                    size_t errlen) {
  json_error_t jerr;
  json_t *v = spec ? json_loads(spec, JSON_DECODE_ANY, &jerr) : NULL;
  size_t nw = 99;
  ck_assert_msg(!spec || v, "%s: %s", spec, jerr.text);
  *rc = rd_waves(v, n, out, max, &nw, err, errlen);
  json_decref(v);
  return nw;
}

START_TEST(waves_arithmetic) {
  static const struct {
    size_t n, nw, want[3];
  } cases[] = {
      {1, 1, {1}},
      {7, 2, {1, 7}},          /* 10% of 7 rounds up to 1: no new host, dropped */
      {50, 3, {1, 5, 50}},
      {1000, 3, {1, 100, 1000}},
      {0, 0, {0}},
      {2, 2, {1, 2}},
      {11, 3, {1, 2, 11}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t out[8];
    char err[256] = "";
    int rc;
    size_t nw = waves("[1, \"10%\", \"100%\"]", cases[i].n, out, 8, &rc, err, sizeof err);
    ck_assert_msg(rc == 0, "N=%zu: %s", cases[i].n, err);
    ck_assert_msg(nw == cases[i].nw, "N=%zu: %zu waves", cases[i].n, nw);
    for (size_t k = 0; k < nw; k++)
      ck_assert_msg(out[k] == cases[i].want[k], "N=%zu wave %zu: %zu", cases[i].n, k, out[k]);
  }
  size_t out[8];
  int rc;
  char err[256];
  ck_assert_int_eq(waves("[\"12.5%\", \"100%\"]", 8, out, 8, &rc, err, sizeof err), 2);
  ck_assert_int_eq(out[0], 1);
  ck_assert_int_eq(waves("[\"33%\", \"66%\", \"100%\"]", 100, out, 8, &rc, err, sizeof err), 3);
  ck_assert(out[0] == 33 && out[1] == 66 && out[2] == 100);
  /* A count larger than a later percentage absorbs it; counts clamp at N. */
  ck_assert_int_eq(waves("[10, \"5%\", \"100%\"]", 100, out, 8, &rc, err, sizeof err), 2);
  ck_assert(out[0] == 10 && out[1] == 100);
  ck_assert_int_eq(waves("[5, 20, \"100%\"]", 3, out, 8, &rc, err, sizeof err), 1);
  ck_assert_int_eq(out[0], 3);
  ck_assert_int_eq(waves("[\"100%\"]", 42, out, 8, &rc, err, sizeof err), 1);
  ck_assert_int_eq(out[0], 42);
  /* No spec: one wave of everything. */
  ck_assert_int_eq(waves(NULL, 9, out, 8, &rc, err, sizeof err), 1);
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(out[0], 9);
  ck_assert_int_eq(waves(NULL, 0, out, 8, &rc, err, sizeof err), 0);
  /* Not enough room. */
  ck_assert_int_eq(waves("[1, \"10%\", \"100%\"]", 50, out, 2, &rc, err, sizeof err), 0);
  ck_assert_int_eq(rc, RD_EOVERFLOW);
}
END_TEST

START_TEST(waves_rejected) {
  static const struct {
    const char *spec, *msg;
  } bad[] = {
      {"[]", "non-empty array"},
      {"{}", "non-empty array"},
      {"\"100%\"", "non-empty array"},
      {"[0, \"100%\"]", "waves[0]: 0 hosts"},
      {"[-1, \"100%\"]", "waves[0]: -1 hosts"},
      {"[5, 2, \"100%\"]", "waves[1]: 2 is smaller"},
      {"[\"50%\", \"10%\", \"100%\"]", "waves[1]: 10% is smaller"},
      {"[\"0%\", \"100%\"]", "outside"},
      {"[\"150%\"]", "waves[0]: 150% is outside"},
      {"[1, \"100.5%\"]", "outside"},
      {"[1, \"10%\"]", "last wave must be \"100%\""},
      {"[1, 5]", "last wave must be \"100%\""},
      {"[\"abc\", \"100%\"]", "'abc' is not a host count"},
      {"[\"10 %\", \"100%\"]", "not a host count"},
      {"[\"10%%\", \"100%\"]", "not a host count"},
      {"[\"%\", \"100%\"]", "not a host count"},
      {"[1.5, \"100%\"]", "waves[0]: expected"},
      {"[true, \"100%\"]", "waves[0]: expected"},
      {"[null]", "waves[0]: expected"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t out[8];
    char err[256] = "";
    int rc;
    size_t nw = waves(bad[i].spec, 50, out, 8, &rc, err, sizeof err);
    ck_assert_msg(rc == RD_EINVAL, "%s: rc %d", bad[i].spec, rc);
    ck_assert_int_eq(nw, 0);
    ck_assert_msg(strstr(err, bad[i].msg), "%s: message '%s' lacks '%s'", bad[i].spec, err,
                  bad[i].msg);
  }
}
END_TEST

/* ---- slots ------------------------------------------------------------- */

START_TEST(slots_caps) {
  rd_slots g, a, b, c;
  rd_slots_init(&g, 2);
  rd_slots_init(&a, 1);
  rd_slots_init(&b, 0); /* unlimited */
  rd_slots_init(&c, 3);
  ck_assert_int_eq(rd_slots_try_acquire(&g, &a), 1);
  ck_assert_int_eq(rd_slots_try_acquire(&g, &a), 0); /* runbook a is full */
  ck_assert_int_eq(g.used, 1);                       /* ...and nothing was taken */
  ck_assert_int_eq(rd_slots_try_acquire(&g, &b), 1);
  ck_assert_int_eq(rd_slots_try_acquire(&g, &c), 0); /* global cap */
  ck_assert_int_eq(c.used, 0);
  ck_assert_int_eq(rd_slots_release(&g, &a), 0);
  ck_assert_int_eq(rd_slots_try_acquire(&g, &c), 1);
  ck_assert_int_eq(rd_slots_release(&g, &a), RD_ESTATE); /* a holds none */
  ck_assert_int_eq(g.used, 2);
  ck_assert_int_eq(rd_slots_release(&g, &b), 0);
  ck_assert_int_eq(rd_slots_release(&g, &c), 0);
  ck_assert_int_eq(g.used, 0);
  ck_assert_int_eq(rd_slots_release(&g, NULL), RD_ESTATE);
  /* Unlimited global, no runbook counter. */
  rd_slots_init(&g, 0);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq(rd_slots_try_acquire(&g, NULL), 1);
  ck_assert_int_eq(g.used, 1000);
  /* n counters: all or none. */
  rd_slots x, y, z;
  rd_slots_init(&x, 5);
  rd_slots_init(&y, 1);
  rd_slots_init(&z, 2);
  rd_slots *v[] = {&x, NULL, &y, &z};
  ck_assert_int_eq(rd_slots_try_acquire_n(v, 4), 1);
  ck_assert_int_eq(rd_slots_try_acquire_n(v, 4), 0);
  ck_assert(x.used == 1 && y.used == 1 && z.used == 1);
  ck_assert_int_eq(rd_slots_release_n(v, 4), 0);
  ck_assert(x.used == 0 && y.used == 0 && z.used == 0);
  rd_slots_init(&x, -4);
  ck_assert_int_eq(x.cap, 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("schedule");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, due_renew_before);
  tcase_add_test(tc, due_fraction);
  tcase_add_test(tc, due_expired_and_invalid);
  tcase_add_test(tc, jitter_bounds);
  tcase_add_test(tc, window_parse_ok);
  tcase_add_test(tc, window_parse_errors);
  tcase_add_test(tc, window_examples);
  tcase_add_test(tc, waves_arithmetic);
  tcase_add_test(tc, waves_rejected);
  tcase_add_test(tc, slots_caps);
  suite_add_tcase(s, tc);
  TCase *slow = tcase_create("exhaustive");
  tcase_set_timeout(slow, 120);
  tcase_add_test(slow, window_exhaustive);
  suite_add_tcase(s, slow);
  return s;
}

int main(void) { return tu_run(suite()); }
