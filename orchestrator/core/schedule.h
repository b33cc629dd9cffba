/* schedule.h — scheduler arithmetic: renewal windows, jitter,
 * maintenance windows, waves and concurrency caps. Pure functions: no I/O,
 * no clock, no libuv; callers pass "now" (and the local UTC offset), so
 * every rule is testable exhaustively. The uv-timer loop that uses them
 * lives elsewhere. */
#ifndef RENEWD_SCHEDULE_H
#define RENEWD_SCHEDULE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

/* ---- is a certificate due? --------------------------------------------- */

typedef struct rd_due_why {
  int due;             /* the renewal window is open (or the certificate expired) */
  int expired;         /* now >= not_after */
  int overlong;        /* renew_before is not shorter than the lifetime (the CA
                          shortened it): a third of the lifetime is used instead */
  int64_t remaining;   /* not_after - now, seconds (negative once expired) */
  int64_t lifetime;    /* not_after - not_before */
  int64_t window;      /* the window opens this many seconds before not_after */
  time_t opens;        /* not_after - window */
  int ari;             /* the CA's window (RFC 9773) decided, not the policy */
  time_t ari_start, ari_end, renew_at, next_check; /* with ari: the CA's window */
  char text[256];      /* "12.3 days left, window opens at 10.0 days" */
} rd_due_why;

/* Due when the remaining validity is at most renew_before_s (when > 0), else
 * at most renew_fraction x lifetime (0 < fraction < 1). A renew_before_s not
 * shorter than the lifetime would renew a fresh certificate at every scan:
 * a third of the lifetime is used instead (overlong set). An expired
 * certificate is due, with expired set. Returns 1 due, 0 not due, RD_EINVAL
 * (not_after <= not_before, or no usable policy). why may be NULL. */
int rd_due(time_t now, time_t not_before, time_t not_after, int64_t renew_before_s,
           double renew_fraction, rd_due_why *why);

/* ---- the CA's renewal window (ACME renewal information, RFC 9773) -------
 * An issuer whose CA suggests a window (RD_KIND_WINDOW) sets the job's facts
 * "renew_window" in its probe: {"source": "ARI", "start", "end",
 * "renew_at" (the moment chosen uniformly in the window), "next_check" (the
 * CA's Retry-After, 0 when it said none): epoch seconds}. When the CA has
 * no window for the certificate, or could not be asked, the object says
 * {"source": "policy", "note": why}. */

/* The due decision of a job: by the CA's window when window (facts
 * "renew_window", may be NULL) holds one from ARI, else by the policy
 * (rd_due). With the CA's window: due from renew_at on; a window already
 * over (end <= now: the CA wants the certificate replaced, e.g. a mass
 * revocation) renews at once; an expired certificate is due whatever the
 * window says. why->ari tells which decided; why->text names the window and
 * its source ("...; window from the policy" when the issuer asked the CA
 * and got none). Returns 1, 0 or RD_EINVAL (no usable window: see rd_due). */
int rd_due_decide(time_t now, time_t not_before, time_t not_after, int64_t renew_before_s,
                  double renew_fraction, const json_t *window, rd_due_why *why);

/* The window that decided, for the report: {"source": "ARI", "start",
 * "end", "renew_at", "next_check"?} or {"source": "policy", "opens",
 * "note"?} (RFC 3339 UTC times). New reference; window as for rd_due_decide. */
json_t *rd_due_window_json(const rd_due_why *why, const json_t *window);

/* ---- jitter ------------------------------------------------ */

/* base + a share of jitter chosen by rnd (any 64-bit random value): always in
 * [base, base + jitter]. jitter <= 0 gives base. */
int64_t rd_jitter(int64_t base_s, int64_t jitter_s, uint64_t rnd);

/* Backoff after failures: core/policy.h. */

/* ---- maintenance windows ----------------------------------------------- */

/* "always", or spans separated by ';', each "DAYS HH:MM-HH:MM":
 *   DAYS  = "daily" | "weekdays" | "weekends" | a comma list of days and
 *           day ranges: "Mon-Fri", "Sat,Sun", "Fri-Mon" (wraps), "Mon,Wed-Thu";
 *           day names are Mon..Sun or Monday..Sunday, any case.
 *   times = local wall clock; end "24:00" allowed; end <= start crosses
 *           midnight: "Fri 22:00-02:00" opens Friday 22:00, closes Saturday
 *           02:00 (the day names the day the window opens).
 * Examples: "Mon-Fri 01:00-05:00", "Sat,Sun 00:00-06:00",
 * "daily 22:00-02:00", "Mon-Fri 01:00-05:00; Sat 00:00-24:00". */
#define RD_WINDOW_MAX_SPANS 8
typedef struct rd_window_span {
  uint8_t days;        /* bit d set: opens on weekday d (0 = Sunday, as tm_wday) */
  int start;           /* minutes after local midnight, 0..1439 */
  int length;          /* minutes, 1..1440 */
} rd_window_span;
typedef struct rd_window {
  int always;
  int nspans;
  rd_window_span spans[RD_WINDOW_MAX_SPANS];
} rd_window;

/* err (may be NULL) gets "window 'Mon-Fry 01:00-05:00': unknown day 'Fry'". */
int rd_window_parse(const char *text, rd_window *w, char *err, size_t errlen);
/* tz_offset_s: local time minus UTC at `now` (tm_gmtoff; +3600 for CET).
 * A fixed offset is used for the whole computation: across a DST change
 * next_open may be an hour off, so check is_open again when it fires. */
int rd_window_is_open(const rd_window *w, time_t now, long tz_offset_s);
/* now itself when open, else the next opening (within 8 days). */
time_t rd_window_next_open(const rd_window *w, time_t now, long tz_offset_s);
/* When the window open at `now` closes (spans that touch, like
 * "Mon 20:00-24:00; Tue 00:00-02:00", count as one); 0 when closed at `now`
 * or always open. */
time_t rd_window_closes(const rd_window *w, time_t now, long tz_offset_s);
/* The local offset at t from the process time zone (localtime_r). */
long rd_local_offset(time_t t);

/* ---- waves ------------------------------------------------------------- */

/* spec: a JSON array of positive integers (host counts) and "P%" strings
 * (0 < P <= 100, decimals allowed), cumulative, e.g. [1, "10%", "100%"]; the
 * last entry must be "100%" so that every host gets its turn. Resolved
 * against n_hosts: a percentage rounds up (at least 1 host), counts are
 * clamped to n_hosts, and waves that add no host are dropped. Integers must
 * not decrease, nor percentages; a mix is made monotonic (an integer wave
 * larger than a later percentage absorbs it). spec NULL: one wave of all.
 * Writes up to max cumulative counts to counts, their number to *nwaves
 * (0 when n_hosts == 0). RD_EINVAL with a message; RD_EOVERFLOW if > max. */
int rd_waves(const json_t *spec, size_t n_hosts, size_t *counts, size_t max, size_t *nwaves,
             char *err, size_t errlen);

/* ---- concurrency ------------------------------------------------------- */

/* A counter with a cap (0: unlimited). One for the process, one per runbook
 * (or per CA, per site): acquire takes a slot in each, or in none. */
typedef struct rd_slots {
  int cap;
  int used;
} rd_slots;
void rd_slots_init(rd_slots *s, int cap);
/* 1 acquired (in both), 0 one of them is full; runbook may be NULL. */
int rd_slots_try_acquire(rd_slots *global, rd_slots *runbook);
/* RD_ESTATE when releasing a slot that was not taken. */
int rd_slots_release(rd_slots *global, rd_slots *runbook);
/* The same over n counters (NULL entries skipped). */
int rd_slots_try_acquire_n(rd_slots *const *v, size_t n);
int rd_slots_release_n(rd_slots *const *v, size_t n);

#endif
