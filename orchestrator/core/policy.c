/* policy.c — the retry policy. See policy.h. */
#include "core/policy.h"

#include "base/err.h"

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

time_t rd_policy_next_try(time_t now, rd_job_state final, int fail_status, int failures_before,
                          time_t not_after) {
  int n;
  if (!rd_job_state_failed(final))
    return 0;
  n = (failures_before > 0 ? failures_before : 0) + 1; /* this job counts */
  if (rd_policy_transient(fail_status))
    return now + (time_t)rd_backoff_transient(n);
  return now + (time_t)rd_backoff_terminal(n, not_after ? (int64_t)(not_after - now) : 0);
}

int rd_policy_backing_off(rd_job_state last, time_t next_try, time_t now, int force) {
  return !force && rd_job_state_failed(last) && next_try > now;
}
