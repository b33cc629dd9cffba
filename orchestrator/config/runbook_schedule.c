/* runbook_schedule.c — 'schedule': scan interval and jitter, the maintenance
 * window (schedule.h parses it) and rollout waves. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "config/runbook_int.h"

/* "10%", "12.5%": the schema's ^[0-9]+(\.[0-9]+)?%$ */
static int pct_ok(const char *s) {
  const char *p = s;
  while (*p >= '0' && *p <= '9')
    p++;
  if (p == s)
    return 0;
  if (*p == '.') {
    if (!(p[1] >= '0' && p[1] <= '9'))
      return 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  }
  return !strcmp(p, "%");
}

/* Per item, with positions; the rules are rd_waves()'s (schedule.h), except
 * that a wave must add hosts (strictly larger than the one before). */
static void load_waves(ld *l, json_t *w) {
  size_t i, n;
  json_t *m;
  double last_abs = 0, last_pct = 0;
  size_t last_abs_i = 0, last_pct_i = 0;
  int before = l->j.errors;
  if (!rb_is_type(l, w, "/schedule/waves", JSON_ARRAY, "an array like [1, \"10%\", \"100%\"]"))
    return;
  if (!(n = json_array_size(w))) {
    rd_jctx_err(&l->j, "/schedule/waves", 1,
                "'schedule.waves' is empty; leave it out to renew every target in one wave");
    return;
  }
  json_array_foreach(w, i, m) {
    char p[PTR_MAX];
    int percent = 0;
    double value;
    rb_child_i(p, sizeof p, "/schedule/waves", i);
    if (json_is_integer(m) && json_integer_value(m) >= 1) {
      value = (double)json_integer_value(m);
    } else if (json_is_string(m)) {
      const char *s = json_string_value(m);
      char *end;
      value = strtod(s, &end);
      if (!pct_ok(s) || strcmp(end, "%") || !isfinite(value) || value <= 0) {
        rd_jctx_err(&l->j, p, 1,
                    "wave %zu must be a number of hosts (≥ 1) or a percentage like \"10%%\", "
                    "got '%s'",
                    i + 1, s);
        continue;
      }
      if (value > 100) {
        rd_jctx_err(&l->j, p, 1, "wave %zu is '%s': more than 100%% of the targets", i + 1, s);
        continue;
      }
      percent = 1;
    } else {
      if (json_is_integer(m))
        rd_jctx_err(&l->j, p, 1,
                    "wave %zu must be a number of hosts (≥ 1) or a percentage like \"10%%\", "
                    "got %lld",
                    i + 1, (long long)json_integer_value(m));
      else
        rd_jctx_err(&l->j, p, 1,
                    "wave %zu must be a number of hosts (≥ 1) or a percentage like \"10%%\", "
                    "got %s",
                    i + 1, rd_json_type_name(m));
      continue;
    }
    if (percent && last_pct_i && value <= last_pct)
      rd_jctx_err(&l->j, p, 1,
                  "'schedule.waves' must grow: wave %zu (%g%%) is not larger than wave %zu "
                  "(%g%%)",
                  i + 1, value, last_pct_i, last_pct);
    else if (!percent && last_abs_i && value <= last_abs)
      rd_jctx_err(&l->j, p, 1,
                  "'schedule.waves' must grow: wave %zu (%g hosts) is not larger than wave "
                  "%zu (%g hosts)",
                  i + 1, value, last_abs_i, last_abs);
    else if (i + 1 == n && !(percent && value == 100))
      rd_jctx_err(&l->j, p, 1,
                  "the last wave must be \"100%%\" so that every target gets its turn");
    if (percent) {
      last_pct = value;
      last_pct_i = i + 1;
    } else {
      last_abs = value;
      last_abs_i = i + 1;
    }
  }
  if (l->j.errors == before) {
    size_t counts[64], nw = 0;
    char err[512];
    size_t hosts = l->rb->ntargets ? l->rb->ntargets : 1;
    if (rd_waves(w, hosts, counts, 64, &nw, err, sizeof err) == RD_EINVAL)
      rd_jctx_err(&l->j, "/schedule/waves", 1, "'schedule.waves': %s", err);
  }
  l->rb->schedule.waves = json_incref(w);
}

void rb_load_schedule(ld *l) {
  static const char *const keys[] = {"scan_interval", "jitter", "window", "max_parallel",
                                     "waves", NULL};
  rd_schedule *sc = &l->rb->schedule;
  json_t *o = rb_member(l, l->root, "", "schedule", 0);
  double scan, jitter;
  int has_jitter = 0;
  const char *win;
  sc->win.always = 1;
  sc->scan_interval_s = 3600;
  sc->jitter_s = 360;
  sc->max_parallel = 16;
  if (!o || !rb_is_type(l, o, "/schedule", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/schedule", keys);
  scan = rb_get_duration(l, o, "/schedule", "scan_interval", 3600, 0, NULL);
  if (scan > 0 && scan < 1) {
    rd_jctx_err(&l->j, "/schedule/scan_interval", 1,
                "'schedule.scan_interval' must be at least 1s");
    scan = -1;
  }
  jitter = rb_get_duration(l, o, "/schedule", "jitter", scan > 0 ? scan / 10 : 0, 1, &has_jitter);
  if (scan > 0)
    sc->scan_interval_s = (long)scan;
  if (jitter >= 0)
    sc->jitter_s = (long)jitter;
  if (scan > 0 && has_jitter && jitter >= scan) {
    char a[32], b[32];
    rb_fmt_duration(jitter, a, sizeof a);
    rb_fmt_duration(scan, b, sizeof b);
    rd_jctx_err(&l->j, "/schedule/jitter", 1,
                "'schedule.jitter' (%s) must be shorter than 'schedule.scan_interval' (%s): "
                "scans would overlap",
                a, b);
  }
  if ((win = rb_get_string(l, o, "/schedule", "window", 0))) {
    char err[512] = "";
    int rc = rd_window_parse(win, &sc->win, err, sizeof err);
    if (rc == RD_ENOMEM)
      l->nomem = 1;
    else if (rc)
      rd_jctx_err(&l->j, "/schedule/window", 1,
                  "%s; write e.g. \"Mon-Fri 01:00-05:00\", \"Sat,Sun 22:00-02:00\" or "
                  "\"always\"",
                  err);
    else
      sc->window = rb_xstrdup(l, win);
    if (rc)
      sc->win.always = 1;
  }
  sc->max_parallel = (int)rb_get_int(l, o, "/schedule", "max_parallel", 1, INT_MAX, 16);
  if (json_object_get(o, "waves"))
    load_waves(l, json_object_get(o, "waves"));
}
