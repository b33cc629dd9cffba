/* schedule.c — scheduler arithmetic (schedule.h). No I/O, no clock, no libuv. */
#include "core/schedule.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

#define DAY 86400

/* ---- due --------------------------------------------------------------- */

/* "12.3 days", "5.2 hours", "45 minutes", "30 seconds" */
static void fmt_dur(char *buf, size_t len, int64_t s) {
  if (s < 0)
    s = -s;
  if (s >= 2 * DAY)
    snprintf(buf, len, "%.1f days", (double)s / DAY);
  else if (s >= 2 * 3600)
    snprintf(buf, len, "%.1f hours", (double)s / 3600);
  else if (s >= 120)
    snprintf(buf, len, "%lld minutes", (long long)(s / 60));
  else
    snprintf(buf, len, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

int rd_due(time_t now, time_t not_before, time_t not_after, int64_t renew_before_s,
           double renew_fraction, rd_due_why *why) {
  rd_due_why w;
  char left[32], win[32], life[32];
  size_t n;
  memset(&w, 0, sizeof w);
  if (not_after <= not_before)
    return RD_EINVAL;
  w.lifetime = (int64_t)not_after - (int64_t)not_before;
  /* a duration not shorter than the lifetime still decides (an operator's
   * explicit choice, and what a lab of short-lived certificates renewed to
   * longer ones relies on); the reason says that a certificate of this
   * lifetime is due again as soon as it is issued */
  w.overlong = renew_before_s > 0 && renew_before_s >= w.lifetime;
  if (renew_before_s > 0)
    w.window = renew_before_s;
  else if (isfinite(renew_fraction) && renew_fraction > 0 && renew_fraction < 1)
    w.window = (int64_t)llround(renew_fraction * (double)w.lifetime);
  else
    return RD_EINVAL;
  w.remaining = (int64_t)not_after - (int64_t)now;
  w.expired = w.remaining <= 0;
  w.due = w.remaining <= w.window;
  w.opens = (time_t)((int64_t)not_after - w.window);
  if (why) {
    fmt_dur(left, sizeof left, w.remaining);
    fmt_dur(win, sizeof win, w.window);
    fmt_dur(life, sizeof life, w.lifetime);
    if (w.expired)
      n = (size_t)snprintf(w.text, sizeof w.text, "expired %s ago", left);
    else
      n = (size_t)snprintf(w.text, sizeof w.text, "%s left, window %s at %s", left,
                           w.due ? "opened" : "opens", win);
    if (n < sizeof w.text && renew_before_s <= 0)
      n += (size_t)snprintf(w.text + n, sizeof w.text - n, " (%.4g%% of the %s lifetime)",
                            renew_fraction * 100, life);
    if (n < sizeof w.text && w.overlong) {
      fmt_dur(win, sizeof win, renew_before_s);
      snprintf(w.text + n, sizeof w.text - n,
               " (renew_before %s is not shorter than the %s lifetime: a certificate like "
               "this one is due again as soon as it is issued)",
               win, life);
    }
    *why = w;
  }
  return w.due;
}

/* ---- the CA's renewal window ------------------------------------------ */

/* "2026-12-01T04:05:06Z" (iso) or "2026-12-01 04:05" */
static void fmt_utc(char *buf, size_t len, time_t t, int iso) {
  struct tm tm;
  if (!gmtime_r(&t, &tm) ||
      !(iso ? strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) : strftime(buf, len, "%Y-%m-%d %H:%M", &tm)))
    snprintf(buf, len, "?");
}

/* facts "renew_window" from ARI -> start, end, renew_at, next_check; 0 or
 * RD_ENOTFOUND (none, or not from ARI, or malformed: the policy decides) */
static int ari_window(const json_t *o, rd_due_why *w) {
  const char *src = json_string_value(json_object_get(o, "source"));
  const json_t *st = json_object_get(o, "start"), *en = json_object_get(o, "end");
  const json_t *at = json_object_get(o, "renew_at"), *nc = json_object_get(o, "next_check");
  if (!src || strcmp(src, "ARI") || !json_is_integer(st) || !json_is_integer(en) ||
      json_integer_value(en) <= json_integer_value(st))
    return RD_ENOTFOUND;
  w->ari_start = (time_t)json_integer_value(st);
  w->ari_end = (time_t)json_integer_value(en);
  w->renew_at = json_is_integer(at) ? (time_t)json_integer_value(at) : w->ari_start;
  if (w->renew_at < w->ari_start || w->renew_at >= w->ari_end)
    w->renew_at = w->ari_start; /* not in the window: its start */
  w->next_check = json_is_integer(nc) ? (time_t)json_integer_value(nc) : 0;
  return 0;
}

int rd_due_decide(time_t now, time_t not_before, time_t not_after, int64_t renew_before_s,
                  double renew_fraction, const json_t *window, rd_due_why *why) {
  rd_due_why w;
  char s1[32], s2[32], s3[32];
  int policy = rd_due(now, not_before, not_after, renew_before_s, renew_fraction, &w);
  size_t n;
  if (ari_window(window, &w)) {
    if (policy < 0)
      return policy;
    n = strlen(w.text);
    if (window && n < sizeof w.text)
      snprintf(w.text + n, sizeof w.text - n, "; window from the policy");
    if (why)
      *why = w;
    return w.due;
  }
  w.ari = 1;
  w.expired = not_after <= now;
  fmt_utc(s1, sizeof s1, w.ari_start, 0);
  fmt_utc(s2, sizeof s2, w.ari_end, 0);
  fmt_utc(s3, sizeof s3, w.renew_at, 0);
  if (w.ari_end <= now)
    snprintf(w.text, sizeof w.text,
             "the CA's window (ARI) %s .. %s UTC is over: renew at once, the CA wants the "
             "certificate replaced", s1, s2);
  else
    snprintf(w.text, sizeof w.text, "window %s .. %s UTC from the CA (ARI): renewal %s %s UTC%s", s1,
             s2, w.renew_at <= now ? "time" : "at", s3, w.renew_at <= now ? " passed" : "");
  if (w.expired) {
    char left[32];
    fmt_dur(left, sizeof left, now - not_after);
    snprintf(w.text, sizeof w.text, "expired %s ago (the CA's window (ARI) %s .. %s UTC)", left,
             s1, s2);
  }
  w.due = w.expired || w.ari_end <= now || w.renew_at <= now;
  if (why)
    *why = w;
  return w.due;
}

json_t *rd_due_window_json(const rd_due_why *w, const json_t *window) {
  char a[32], b[32], c[32], d[32];
  if (!w->ari) {
    fmt_utc(a, sizeof a, w->opens, 1);
    return json_pack("{s:s, s:s, s:O*}", "source", "policy", "opens", a, "note",
                     json_object_get(window, "note"));
  }
  fmt_utc(a, sizeof a, w->ari_start, 1);
  fmt_utc(b, sizeof b, w->ari_end, 1);
  fmt_utc(c, sizeof c, w->renew_at, 1);
  fmt_utc(d, sizeof d, w->next_check, 1);
  return json_pack("{s:s, s:s, s:s, s:s, s:s*}", "source", "ARI", "start", a, "end", b,
                   "renew_at", c, "next_check", w->next_check ? d : NULL);
}

/* ---- jitter ------------------------------------------------ */

int64_t rd_jitter(int64_t base_s, int64_t jitter_s, uint64_t rnd) {
  uint64_t span, add;
  if (jitter_s <= 0)
    return base_s;
  span = (uint64_t)jitter_s + 1; /* values 0..jitter */
  /* Multiply-high maps rnd onto [0, span) without the bias of a modulo. */
  add = (uint64_t)(((unsigned __int128)rnd * span) >> 64);
  if (base_s > 0 && add > (uint64_t)(INT64_MAX - base_s))
    return INT64_MAX;
  return base_s + (int64_t)add;
}

/* ---- maintenance windows ----------------------------------------------- */

static const char *const day_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                         "thursday", "friday", "saturday"};

/* "Mon" / "monday" (any case) -> 0..6, else -1 */
static int parse_day(const char *s, size_t len) {
  for (int d = 0; d < 7; d++) {
    size_t full = strlen(day_names[d]);
    if ((len == 3 || len == full) && !strncasecmp(s, day_names[d], len))
      return d;
  }
  return -1;
}

static int werr(char *err, size_t errlen, const char *text, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int werr(char *err, size_t errlen, const char *text, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  rd_fmt(err, errlen, "window '%s': %s", text, what);
  return RD_EINVAL;
}

/* Days part (spaces already removed): "daily", "weekdays", "weekends", or a
 * comma list of days and ranges. */
static int parse_days(const char *s, uint8_t *mask, const char *text, char *err,
                      size_t errlen) {
  uint8_t m = 0;
  if (!strcasecmp(s, "daily") || !strcasecmp(s, "everyday")) {
    *mask = 0x7f;
    return 0;
  }
  if (!strcasecmp(s, "weekdays")) {
    *mask = 0x3e;
    return 0;
  }
  if (!strcasecmp(s, "weekends")) {
    *mask = 0x41;
    return 0;
  }
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    const char *dash = memchr(s, '-', len);
    int a, b;
    if (len == 0)
      return werr(err, errlen, text, "empty day in the list");
    if (dash) {
      a = parse_day(s, (size_t)(dash - s));
      b = parse_day(dash + 1, len - (size_t)(dash - s) - 1);
    } else {
      a = b = parse_day(s, len);
    }
    if (a < 0 || b < 0)
      return werr(err, errlen, text,
                  "unknown day '%.*s' (use Mon..Sun, a range like Mon-Fri, or daily)",
                  (int)len, s);
    for (int d = a;; d = (d + 1) % 7) { /* Fri-Mon wraps over the weekend */
      m |= (uint8_t)(1u << d);
      if (d == b)
        break;
    }
    s += len;
    if (*s == ',') {
      s++;
      if (!*s)
        return werr(err, errlen, text, "empty day in the list");
    }
  }
  *mask = m;
  return 0;
}

/* "H:MM" or "HH:MM" -> minutes; 24:00 only when allow24. */
static int parse_hhmm(const char *s, size_t len, int allow24) {
  int h = 0, m = 0, i = 0, nd = 0;
  while (i < (int)len && isdigit((unsigned char)s[i]) && nd < 2)
    h = h * 10 + (s[i++] - '0'), nd++;
  if (nd == 0 || i >= (int)len || s[i] != ':')
    return -1;
  i++;
  if (len - (size_t)i != 2 || !isdigit((unsigned char)s[i]) ||
      !isdigit((unsigned char)s[i + 1]))
    return -1;
  m = (s[i] - '0') * 10 + (s[i + 1] - '0');
  if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow24)))
    return -1;
  return h * 60 + m;
}

static int parse_span(char *s, rd_window_span *sp, const char *text, char *err,
                      size_t errlen) {
  char *end = s + strlen(s), *times, *dash, days[128];
  size_t dn = 0;
  int a, b;
  /* The time range is the last blank-separated word; the rest names days. */
  while (end > s && isspace((unsigned char)end[-1]))
    *--end = '\0';
  times = end;
  while (times > s && !isspace((unsigned char)times[-1]))
    times--;
  if (!*times)
    return werr(err, errlen, text, "empty span (expected e.g. 'Mon-Fri 01:00-05:00')");
  for (char *p = s; p < times; p++)
    if (!isspace((unsigned char)*p)) {
      if (dn + 1 >= sizeof days)
        return werr(err, errlen, text, "day list too long");
      days[dn++] = *p;
    }
  days[dn] = '\0';
  if (!(dash = strchr(times, '-')) || !strchr(times, ':'))
    return werr(err, errlen, text, "expected a time range like 01:00-05:00, got '%s'", times);
  if ((a = parse_hhmm(times, (size_t)(dash - times), 0)) < 0)
    return werr(err, errlen, text, "bad start time '%.*s' (expected HH:MM, 00:00..23:59)",
                (int)(dash - times), times);
  if ((b = parse_hhmm(dash + 1, strlen(dash + 1), 1)) < 0)
    return werr(err, errlen, text, "bad end time '%s' (expected HH:MM, 00:00..24:00)",
                dash + 1);
  if (a == b)
    return werr(err, errlen, text,
                "'%s' is empty (a whole day is 00:00-24:00)", times);
  sp->start = a;
  sp->length = b > a ? b - a : b + 24 * 60 - a;
  if (!dn) {
    sp->days = 0x7f; /* a bare time range: every day */
    return 0;
  }
  return parse_days(days, &sp->days, text, err, errlen);
}

int rd_window_parse(const char *text, rd_window *w, char *err, size_t errlen) {
  char *copy, *save = NULL, *tok;
  const char *p;
  int e = 0;
  if (!w)
    return RD_EINVAL;
  memset(w, 0, sizeof *w);
  if (!text)
    return werr(err, errlen, "", "missing");
  for (p = text; isspace((unsigned char)*p); p++)
    ;
  if (!strncasecmp(p, "always", 6)) {
    const char *q = p + 6;
    while (isspace((unsigned char)*q))
      q++;
    if (!*q) {
      w->always = 1;
      return 0;
    }
  }
  if (!*p)
    return werr(err, errlen, text, "empty (use 'always' for no maintenance window)");
  if (!(copy = strdup(text)))
    return RD_ENOMEM;
  for (tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
    if (w->nspans == RD_WINDOW_MAX_SPANS) {
      e = werr(err, errlen, text, "more than %d spans", RD_WINDOW_MAX_SPANS);
      break;
    }
    if ((e = parse_span(tok, &w->spans[w->nspans], text, err, errlen)) < 0)
      break;
    w->nspans++;
  }
  if (!e && w->nspans == 0)
    e = werr(err, errlen, text, "no span (expected e.g. 'Mon-Fri 01:00-05:00')");
  free(copy);
  if (e < 0)
    memset(w, 0, sizeof *w);
  return e;
}

/* Local midnight (as local seconds) and weekday of a local time. */
static void local_day(int64_t local, int64_t *midnight, int *wday) {
  int64_t day = local / DAY;
  if (local % DAY < 0)
    day--;
  *midnight = day * DAY;
  *wday = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
}

/* The latest end (local seconds) of the spans open at local time t, or
 * INT64_MIN when none is. */
static int64_t open_until(const rd_window *w, int64_t t) {
  int64_t mid, best = INT64_MIN;
  int wday;
  local_day(t, &mid, &wday);
  for (int i = 0; i < w->nspans; i++) {
    const rd_window_span *sp = &w->spans[i];
    for (int back = 0; back <= 1; back++) { /* opened today, or yesterday */
      int d = (wday - back + 7) % 7;
      int64_t start = mid - (int64_t)back * DAY + (int64_t)sp->start * 60;
      int64_t end = start + (int64_t)sp->length * 60;
      if (((sp->days >> d) & 1) && start <= t && t < end && end > best)
        best = end;
    }
  }
  return best;
}

int rd_window_is_open(const rd_window *w, time_t now, long tz_offset_s) {
  if (!w)
    return 0;
  if (w->always)
    return 1;
  return open_until(w, (int64_t)now + tz_offset_s) != INT64_MIN;
}

time_t rd_window_next_open(const rd_window *w, time_t now, long tz_offset_s) {
  int64_t local = (int64_t)now + tz_offset_s, mid, best = INT64_MAX;
  int wday;
  if (!w)
    return 0;
  if (rd_window_is_open(w, now, tz_offset_s))
    return now;
  local_day(local, &mid, &wday);
  for (int ahead = 0; ahead <= 7; ahead++)
    for (int i = 0; i < w->nspans; i++) {
      const rd_window_span *sp = &w->spans[i];
      int64_t start = mid + (int64_t)ahead * DAY + (int64_t)sp->start * 60;
      if (((sp->days >> ((wday + ahead) % 7)) & 1) && start > local && start < best)
        best = start;
    }
  return best == INT64_MAX ? 0 : (time_t)(best - tz_offset_s);
}

time_t rd_window_closes(const rd_window *w, time_t now, long tz_offset_s) {
  int64_t t, end;
  if (!w || w->always)
    return 0;
  t = (int64_t)now + tz_offset_s;
  if ((end = open_until(w, t)) == INT64_MIN)
    return 0;
  /* Follow spans that begin exactly where the previous one ends. */
  for (int i = 0; i < 16; i++) {
    int64_t next = open_until(w, end);
    if (next == INT64_MIN || next <= end)
      break;
    end = next;
  }
  return (time_t)(end - tz_offset_s);
}

long rd_local_offset(time_t t) {
  struct tm tm;
  if (!localtime_r(&t, &tm))
    return 0;
  return tm.tm_gmtoff;
}

/* ---- waves ------------------------------------------------------------- */

int rd_waves(const json_t *spec, size_t n_hosts, size_t *counts, size_t max, size_t *nwaves,
             char *err, size_t errlen) {
  size_t n = 0, running = 0, nitems;
  double last_pct = 0;
  json_int_t last_int = 0;
  if (!nwaves || (max && !counts))
    return RD_EINVAL;
  *nwaves = 0;
  if (!spec) {
    if (n_hosts == 0)
      return 0;
    if (max < 1) {
      rd_fmt(err, errlen, "waves: more than %zu waves", max);
      return RD_EOVERFLOW;
    }
    counts[0] = n_hosts;
    *nwaves = 1;
    return 0;
  }
  if (!json_is_array(spec) || (nitems = json_array_size(spec)) == 0) {
    rd_fmt(err, errlen, "waves: expected a non-empty array such as [1, \"10%%\", \"100%%\"]");
    return RD_EINVAL;
  }
  for (size_t i = 0; i < nitems; i++) {
    const json_t *v = json_array_get(spec, i);
    size_t c;
    int is_last = i + 1 == nitems;
    if (json_is_integer(v)) {
      json_int_t k = json_integer_value(v);
      if (k < 1) {
        rd_fmt(err, errlen, "waves[%zu]: %lld hosts; a wave needs at least 1", i,
               (long long)k);
        return RD_EINVAL;
      }
      if (k < last_int) {
        rd_fmt(err, errlen, "waves[%zu]: %lld is smaller than the wave before (%lld); "
               "waves are cumulative", i, (long long)k, (long long)last_int);
        return RD_EINVAL;
      }
      if (is_last) {
        rd_fmt(err, errlen, "waves[%zu]: the last wave must be \"100%%\" so every host "
               "gets its turn", i);
        return RD_EINVAL;
      }
      last_int = k;
      c = (uint64_t)k > n_hosts ? n_hosts : (size_t)k;
    } else if (json_is_string(v)) {
      const char *s = json_string_value(v);
      char *end = NULL;
      double p = strtod(s, &end);
      if (end == s || *end != '%' || end[1] != '\0' || !isfinite(p)) {
        rd_fmt(err, errlen, "waves[%zu]: '%s' is not a host count or a percentage "
               "like \"10%%\"", i, s);
        return RD_EINVAL;
      }
      if (p <= 0 || p > 100) {
        rd_fmt(err, errlen, "waves[%zu]: %s is outside (0%%, 100%%]", i, s);
        return RD_EINVAL;
      }
      if (p < last_pct) {
        rd_fmt(err, errlen, "waves[%zu]: %s is smaller than the wave before (%g%%); "
               "waves are cumulative", i, s, last_pct);
        return RD_EINVAL;
      }
      if (is_last && p != 100) {
        rd_fmt(err, errlen, "waves[%zu]: the last wave must be \"100%%\" so every host "
               "gets its turn, not \"%s\"", i, s);
        return RD_EINVAL;
      }
      last_pct = p;
      double x = ceil(p * (double)n_hosts / 100.0 - 1e-9);
      c = x < 1 ? 1 : (size_t)x;
      if (c > n_hosts)
        c = n_hosts;
    } else {
      rd_fmt(err, errlen, "waves[%zu]: expected a host count or a percentage like \"10%%\"",
             i);
      return RD_EINVAL;
    }
    if (c <= running)
      continue; /* adds no host */
    running = c;
    if (n == max) {
      rd_fmt(err, errlen, "waves: more than %zu waves", max);
      return RD_EOVERFLOW;
    }
    counts[n++] = c;
  }
  *nwaves = n;
  return 0;
}

/* ---- concurrency ------------------------------------------------------- */

void rd_slots_init(rd_slots *s, int cap) {
  s->cap = cap < 0 ? 0 : cap;
  s->used = 0;
}

static int slot_free(const rd_slots *s) { return s->cap == 0 || s->used < s->cap; }

int rd_slots_try_acquire_n(rd_slots *const *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i] && !slot_free(v[i]))
      return 0;
  for (size_t i = 0; i < n; i++)
    if (v[i])
      v[i]->used++;
  return 1;
}

int rd_slots_release_n(rd_slots *const *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i] && v[i]->used <= 0)
      return RD_ESTATE;
  for (size_t i = 0; i < n; i++)
    if (v[i])
      v[i]->used--;
  return 0;
}

int rd_slots_try_acquire(rd_slots *global, rd_slots *runbook) {
  rd_slots *v[2] = {global, runbook};
  return rd_slots_try_acquire_n(v, 2);
}

int rd_slots_release(rd_slots *global, rd_slots *runbook) {
  rd_slots *v[2] = {global, runbook};
  return rd_slots_release_n(v, 2);
}
