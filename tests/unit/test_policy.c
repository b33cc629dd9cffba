/* test_policy.c — the retry policy (core/policy.c): which failures are
 * transient, the backoff arithmetic and its jitter, and when a failed job
 * holds the next one back. */
#include <stdint.h>

#include "base/err.h"
#include "core/policy.h"
#include "testutil.h"

#define DAY 86400
#define HOUR 3600

START_TEST(classification) {
  ck_assert_int_eq(rd_policy_transient(RD_ETIMEDOUT), 1);
  ck_assert_int_eq(rd_policy_transient(RD_ECONNREFUSED), 1);
  ck_assert_int_eq(rd_policy_transient(RD_ENETWORK), 1);
  ck_assert_int_eq(rd_policy_transient(RD_EBUSY), 1);
  static const int terminal[] = {0, RD_EAUTH, RD_EHOSTKEY, RD_EDENIED, RD_EVERIFY, RD_EREMOTE,
                                 RD_EPROTO, RD_ECONFIG, RD_ECANCELED, RD_EOPERATOR};
  for (size_t i = 0; i < sizeof terminal / sizeof *terminal; i++)
    ck_assert_int_eq(rd_policy_transient(terminal[i]), 0);
}
END_TEST

START_TEST(backoff_transient) {
  static const int64_t want[] = {30, 30, 60, 120, 240, 480, 600, 600, 600};
  for (int n = 0; n < 9; n++)
    ck_assert_int_eq(rd_backoff_transient(n), want[n]);
  ck_assert_int_eq(rd_backoff_transient(-3), 30);
  ck_assert_int_eq(rd_backoff_transient(1000), 600);
  ck_assert_int_eq(rd_backoff_transient(0x7fffffff), 600);
  for (int n = 1; n < 100; n++)
    ck_assert(rd_backoff_transient(n + 1) >= rd_backoff_transient(n));
}
END_TEST

START_TEST(backoff_terminal) {
  int64_t far = 365LL * DAY;
  static const int64_t want[] = {3600, 3600, 7200, 14400, 28800, 57600, 86400, 86400};
  for (int n = 0; n < 8; n++)
    ck_assert_int_eq(rd_backoff_terminal(n, far), want[n]);
  ck_assert_int_eq(rd_backoff_terminal(1000, far), 86400);
  ck_assert_int_eq(rd_backoff_terminal(0x7fffffff, far), 86400);
  /* Never later than half the remaining validity... */
  ck_assert_int_eq(rd_backoff_terminal(1, 10 * HOUR), 3600);
  ck_assert_int_eq(rd_backoff_terminal(3, 10 * HOUR), 14400);
  ck_assert_int_eq(rd_backoff_terminal(4, 10 * HOUR), 5 * HOUR);
  ck_assert_int_eq(rd_backoff_terminal(9, 30 * HOUR), 15 * HOUR);
  for (int n = 1; n < 40; n++)
    for (int64_t rem = 61; rem < 40 * DAY; rem = rem * 3 / 2 + 7) {
      int64_t d = rd_backoff_terminal(n, rem);
      ck_assert(d <= rem / 2 && d >= 30 && d <= 86400);
    }
  /* ...but not a busy loop either, and expired means no validity limit. */
  ck_assert_int_eq(rd_backoff_terminal(5, 40), 30);
  ck_assert_int_eq(rd_backoff_terminal(2, 0), 7200);
  ck_assert_int_eq(rd_backoff_terminal(2, -DAY), 7200);
  /* A renewal failing from 3 days before expiry keeps trying: count the
   * tries that still happen before expiry with a half-hour to spare. */
  int64_t t = 0, expiry = 3 * DAY;
  int tries = 0;
  for (int n = 1; t < expiry - 1800; n++) {
    t += rd_backoff_terminal(n, expiry - t);
    if (t < expiry - 1800)
      tries++;
  }
  ck_assert_int_ge(tries, 6);
}
END_TEST

/* next_try is now + the backoff d with +-20 % jitter: in [0.8 d, 1.2 d]. */
#define ck_next_try(got, now, d)                                               \
  do {                                                                         \
    int64_t got_ = (int64_t)(got) - (int64_t)(now), d_ = (d);                  \
    ck_assert_msg(got_ >= d_ - d_ / 5 && got_ <= d_ + d_ / 5,                  \
                  "next_try now+%lld, want now+%lld +-20%%", (long long)got_,  \
                  (long long)d_);                                              \
  } while (0)

START_TEST(next_try) {
  time_t now = 1700000000, far = now + 365 * DAY;
  /* not a failure: no backoff */
  ck_assert_int_eq(rd_policy_next_try(now, RD_JOB_DONE, 0, 3, far), 0);
  ck_assert_int_eq(rd_policy_next_try(now, RD_JOB_NEEDS_OPERATOR, RD_EOPERATOR, 0, far), 0);
  ck_assert_int_eq(rd_policy_next_try(now, RD_JOB_PENDING_CA, RD_EPENDING, 0, far), 0);
  for (int i = 0; i < 50; i++) {
    /* transient: minutes, growing with the failures before */
    ck_next_try(rd_policy_next_try(now, RD_JOB_FAILED, RD_ETIMEDOUT, 0, far), now, 30);
    ck_next_try(rd_policy_next_try(now, RD_JOB_FAILED, RD_ENETWORK, 2, far), now, 120);
    /* terminal: hours, capped by half the remaining validity */
    ck_next_try(rd_policy_next_try(now, RD_JOB_ROLLED_BACK, RD_EVERIFY, 0, far), now, HOUR);
    ck_next_try(rd_policy_next_try(now, RD_JOB_FAILED, RD_EDENIED, 1, far), now, 2 * HOUR);
    /* unknown expiry: no validity limit */
    ck_next_try(rd_policy_next_try(now, RD_JOB_FAILED, RD_EDENIED, 1, 0), now, 2 * HOUR);
    /* the jitter never goes past half the remaining validity */
    time_t t = rd_policy_next_try(now, RD_JOB_FAILED, RD_EDENIED, 5, now + 10 * HOUR);
    ck_next_try(t, now, 5 * HOUR);
    ck_assert_int_le(t, now + 5 * HOUR);
  }
}
END_TEST

/* +-20 % jitter: the ends of the range exactly, every draw inside it, and
 * hosts failing together spread out (before the jitter every one of them
 * retried in the same second). */
START_TEST(jitter) {
  time_t now = 1700000000, seen[200];
  int distinct = 0;
  ck_assert_int_eq(rd_policy_jitter(3600, 0), 2880);
  ck_assert_int_eq(rd_policy_jitter(3600, UINT64_MAX), 4320);
  ck_assert_int_eq(rd_policy_jitter(3600, 1ull << 63), 3600);
  ck_assert_int_eq(rd_policy_jitter(0, 12345), 0);
  ck_assert_int_eq(rd_policy_jitter(-5, 12345), -5);
  for (uint64_t r = 0; r < UINT64_MAX - (UINT64_MAX / 41); r += UINT64_MAX / 41)
    for (int64_t d = 1; d <= 86400; d = d * 3 + 1) {
      int64_t j = rd_policy_jitter(d, r);
      ck_assert(j >= d - d / 5 && j <= d + d / 5);
    }
  for (int i = 0; i < 200; i++) {
    int k;
    seen[i] = rd_policy_next_try(now, RD_JOB_FAILED, RD_EDENIED, 0, 0);
    for (k = 0; k < i && seen[k] != seen[i]; k++)
      ;
    distinct += k == i;
  }
  ck_assert_int_ge(distinct, 100); /* 1441 values possible */
}
END_TEST

START_TEST(backing_off) {
  time_t now = 1700000000;
  ck_assert_int_eq(rd_policy_backing_off(RD_JOB_FAILED, now + 1, now, 0), 1);
  ck_assert_int_eq(rd_policy_backing_off(RD_JOB_ROLLED_BACK, now + 1, now, 0), 1);
  ck_assert_int_eq(rd_policy_backing_off(RD_JOB_ROLLED_BACK, now + 1, now, 1), 0);
  ck_assert_int_eq(rd_policy_backing_off(RD_JOB_FAILED, now, now, 0), 0);
  ck_assert_int_eq(rd_policy_backing_off(RD_JOB_DONE, now + 100, now, 0), 0);
  ck_assert_int_eq(rd_policy_backing_off(RD_JOB_NEEDS_OPERATOR, now + 100, now, 0), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("policy");
  TCase *tc = tcase_create("retry");
  tcase_add_test(tc, classification);
  tcase_add_test(tc, backoff_transient);
  tcase_add_test(tc, backoff_terminal);
  tcase_add_test(tc, next_try);
  tcase_add_test(tc, jitter);
  tcase_add_test(tc, backing_off);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
