/* policy.h — the retry policy, in one place: which failures are transient
 * (worth a quick retry) and which are terminal, and how long a (host,
 * certificate) waits after a failed job before the next one may start.
 * Pure functions but for the jitter's random draw: callers pass "now" and
 * what the journal says (rd_journal_job_last, rd_journal_failures). */
#ifndef RENEWD_POLICY_H
#define RENEWD_POLICY_H
#include <stdint.h>
#include <time.h>

#include "core/jobstate.h"

/* 1 for a failure that says nothing about the target or the CA, only about
 * the way there: RD_ETIMEDOUT, RD_ECONNREFUSED, RD_ENETWORK, and RD_EBUSY
 * (the journal was locked by another process past its bound). 0 otherwise
 * (0 itself included). */
int rd_policy_transient(int status);

/* Delay before retry n (n >= 1; n < 1 counts as 1) of a transient failure
 * (timeout, connection refused): 30 s, 60 s, 120 s ... capped at 600 s. */
#define RD_BACKOFF_TRANSIENT_BASE 30
#define RD_BACKOFF_TRANSIENT_CAP 600
int64_t rd_backoff_transient(int attempt);

/* Delay before a new job after the n-th consecutive failed job (n >= 1):
 * 1 h, 2 h, 4 h ... capped at 24 h, but never more than half the remaining
 * validity, so a failing renewal still gets several tries before expiry;
 * never less than RD_BACKOFF_TRANSIENT_BASE. remaining_s <= 0 (expired):
 * no validity limit. */
#define RD_BACKOFF_TERMINAL_BASE 3600
#define RD_BACKOFF_TERMINAL_CAP 86400
int64_t rd_backoff_terminal(int failures, int64_t remaining_s);

/* A delay d with +-20 % jitter, so that hosts failing together (a CA
 * outage) do not all retry in the same second: rd_jitter(0.8 d, 0.4 d, r)
 * for a uniform r, i.e. within [0.8 d, 1.2 d]. d <= 0 is returned as is. */
int64_t rd_policy_jitter(int64_t d, uint64_t r);

/* When the next job may start after a job that ended `final` with
 * fail_status (its first failure), given the consecutive failed jobs before
 * it (rd_journal_failures) and the live certificate's not_after (0:
 * unknown): the backoff above (transient or terminal) with
 * rd_policy_jitter (a random r), but never past half the remaining
 * validity when the backoff itself was not. 0 when `final` is not a
 * failure (rd_job_state_failed): no backoff. */
time_t rd_policy_next_try(time_t now, rd_job_state final, int fail_status, int failures_before,
                          time_t not_after);

/* Does the last job of a (host, certificate) hold a new one back? Yes when
 * it ended in a failed state and its next_try is still ahead (force: never). */
int rd_policy_backing_off(rd_job_state last, time_t next_try, time_t now, int force);

#endif
