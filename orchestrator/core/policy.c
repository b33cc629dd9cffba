/* policy.c — the retry policy. See policy.h. */
#include "core/policy.h"

#include <openssl/rand.h>

#include "base/err.h"
#include "core/schedule.h"

int rd_policy_transient(int status) {
  return status == RD_ETIMEDOUT || status == RD_ECONNREFUSED || status == RD_ENETWORK ||
         status == RD_EBUSY;
}

int64_t rd_backoff_transient(int attempt) {
  if (attempt < 1)
    attempt = 1;
  if (attempt > 16)
    return RD_BACKOFF_TRANSIENT_CAP;
  int64_t d = (int64_t)RD_BACKOFF_TRANSIENT_BASE << (attempt - 1);
  return d < RD_BACKOFF_TRANSIENT_CAP ? d : RD_BACKOFF_TRANSIENT_CAP;
}

int64_t rd_backoff_terminal(int failures, int64_t remaining_s) {
  int64_t d;
  if (failures < 1)
    failures = 1;
  if (failures > 16)
    d = RD_BACKOFF_TERMINAL_CAP;
  else
    d = (int64_t)RD_BACKOFF_TERMINAL_BASE << (failures - 1);
  if (d > RD_BACKOFF_TERMINAL_CAP)
    d = RD_BACKOFF_TERMINAL_CAP;
  if (remaining_s > 0 && d > remaining_s / 2)
    d = remaining_s / 2;
  if (d < RD_BACKOFF_TRANSIENT_BASE)
    d = RD_BACKOFF_TRANSIENT_BASE;
  return d;
}

int64_t rd_policy_jitter(int64_t d, uint64_t r) {
  if (d <= 0)
    return d;
  return rd_jitter(d - d / 5, 2 * (d / 5), r); /* [0.8 d, 1.2 d] */
}

/* A uniform 64-bit draw; the clock's nanoseconds when OpenSSL has none. */
static uint64_t draw(void) {
  uint64_t r;
  struct timespec ts;
  if (RAND_bytes((unsigned char *)&r, sizeof r) == 1)
    return r;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u;
}

time_t rd_policy_next_try(time_t now, rd_job_state final, int fail_status, int failures_before,
                          time_t not_after) {
  int n;
  int64_t d, left = not_after ? (int64_t)(not_after - now) : 0;
  if (!rd_job_state_failed(final))
    return 0;
  n = (failures_before > 0 ? failures_before : 0) + 1; /* this job counts */
  d = rd_policy_transient(fail_status) ? rd_backoff_transient(n) : rd_backoff_terminal(n, left);
  int64_t j = rd_policy_jitter(d, draw());
  /* the jitter never pushes a retry past half the remaining validity */
  if (left > 0 && d <= left / 2 && j > left / 2)
    j = left / 2;
  return now + (time_t)j;
}

int rd_policy_backing_off(rd_job_state last, time_t next_try, time_t now, int force) {
  return !force && rd_job_state_failed(last) && next_try > now;
}
