/* runbook_values.c — typed reads of runbook members with their diagnostics
 * (strings, booleans, integers, durations), paths resolved against the
 * runbook's directory, and the shared syntax checks (hex, URLs). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "config/runbook_int.h"

int rd_duration_parse(const char *s, double *seconds) {
  const char *p = s;
  char *end;
  double v, mul;
  /* digits, optionally '.' and more digits, then the unit: the schema's
   * ^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$ */
  if (!s || !(*p >= '0' && *p <= '9'))
    return RD_EINVAL;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p == '.') {
    if (!(p[1] >= '0' && p[1] <= '9'))
      return RD_EINVAL;
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  }
  errno = 0;
  v = strtod(s, &end);
  if (end != p || errno || !isfinite(v))
    return RD_EINVAL;
  if (!strcmp(p, "ms"))
    mul = 0.001;
  else if (!strcmp(p, "s"))
    mul = 1;
  else if (!strcmp(p, "m"))
    mul = 60;
  else if (!strcmp(p, "h"))
    mul = 3600;
  else if (!strcmp(p, "d"))
    mul = 86400;
  else
    return RD_EINVAL;
  *seconds = v * mul;
  return 0;
}

void rb_child(char *buf, size_t len, const char *parent, const char *key) {
  snprintf(buf, len, "%s", parent);
  rd_jsonptr_push(buf, len, key);
}

void rb_child_i(char *buf, size_t len, const char *parent, size_t i) {
  snprintf(buf, len, "%s", parent);
  rd_jsonptr_push_index(buf, len, i);
}

char *rb_xstrdup(ld *l, const char *s) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d)
    l->nomem = 1;
  return d;
}

/* What a missing top-level key is for, with an example (docs/RUNBOOKS.md). */
static const char *top_hint(const char *key) {
  static const char *const hints[][2] = {
      {"name", "a short name unique among the runbooks, e.g. \"web-tls\" (jobs, metrics and "
               "the journal carry it)"},
      {"targets", "the hosts, e.g. {\"hosts\": [{\"name\": \"web1\", \"address\": "
                  "\"10.0.0.5\"}]} or {\"inventory\": \"inventory.json\"}"},
      {"ssh", "how renewd logs in, e.g. {\"user\": \"renewd\", \"identity\": "
              "\"/etc/renewd/id_ed25519\", \"known_hosts\": \"/etc/renewd/known_hosts\"}"},
      {"issuer", "who issues the new certificate: {\"type\": \"scep\", ...}, \"adcs\", "
                 "\"acme\" or \"manual\""}};
  for (size_t i = 0; i < sizeof hints / sizeof *hints; i++)
    if (!strcmp(key, hints[i][0]))
      return hints[i][1];
  return NULL;
}

/* A member, reporting it when required and missing. */
json_t *rb_member(ld *l, const json_t *obj, const char *optr, const char *key,
                      int required) {
  json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
  if (!v && required && json_is_object(obj)) {
    char where[512];
    const char *hint = *optr ? NULL : top_hint(key);
    if (!*optr)
      rd_jctx_err(&l->j, optr, 1, "missing required key '%s' in the top level%s%s", key,
                  hint ? ": " : "", hint ? hint : "");
    else
      rd_jctx_err(&l->j, optr, 0, "missing required key '%s' in '%s'", key,
                  DISP(l, optr, where));
  }
  return v;
}

/* Type check; what is "an object", "a string", ... */
int rb_is_type(ld *l, const json_t *v, const char *ptr, json_type t, const char *what) {
  char d[512];
  if (json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v)))
    return 1;
  rd_jctx_err(&l->j, ptr, 1, "'%s' must be %s, got %s", DISP(l, ptr, d), what,
              rd_json_type_name(v));
  return 0;
}

const char *rb_get_string(ld *l, const json_t *obj, const char *optr, const char *key,
                              int required) {
  char p[PTR_MAX], d[512];
  json_t *v = rb_member(l, obj, optr, key, required);
  if (!v)
    return NULL;
  rb_child(p, sizeof p, optr, key);
  if (!rb_is_type(l, v, p, JSON_STRING, "a string"))
    return NULL;
  if (!*json_string_value(v)) {
    rd_jctx_err(&l->j, p, 1, "'%s' must not be empty", DISP(l, p, d));
    return NULL;
  }
  return json_string_value(v);
}

int rb_get_bool(ld *l, const json_t *obj, const char *optr, const char *key, int def) {
  char p[PTR_MAX];
  json_t *v = rb_member(l, obj, optr, key, 0);
  if (!v)
    return def;
  rb_child(p, sizeof p, optr, key);
  if (!rb_is_type(l, v, p, JSON_TRUE, "true or false"))
    return def;
  return json_is_true(v);
}

long long rb_get_int(ld *l, const json_t *obj, const char *optr, const char *key,
                         long long min, long long max, long long def) {
  char p[PTR_MAX], d[512], range[96];
  json_t *v = rb_member(l, obj, optr, key, 0);
  if (!v)
    return def;
  rb_child(p, sizeof p, optr, key);
  if (max == LLONG_MAX || max == INT_MAX)
    snprintf(range, sizeof range, "an integer ≥ %lld", min);
  else
    snprintf(range, sizeof range, "an integer from %lld to %lld", min, max);
  if (!json_is_integer(v)) {
    rd_jctx_err(&l->j, p, 1, "'%s' must be %s, got %s", DISP(l, p, d), range,
                rd_json_type_name(v));
    return def;
  }
  if (json_integer_value(v) < min || json_integer_value(v) > max) {
    rd_jctx_err(&l->j, p, 1, "'%s' must be %s, got %lld", DISP(l, p, d), range,
                (long long)json_integer_value(v));
    return def;
  }
  return json_integer_value(v);
}

/* Seconds; def when absent, -1 after an error. allow_zero: 0 is valid. */
double rb_get_duration(ld *l, const json_t *obj, const char *optr, const char *key,
                           double def, int allow_zero, int *present) {
  char p[PTR_MAX], d[512];
  json_t *v = rb_member(l, obj, optr, key, 0);
  double s = 0;
  if (present)
    *present = v != NULL;
  if (!v)
    return def;
  rb_child(p, sizeof p, optr, key);
  if (json_is_number(v)) {
    s = json_number_value(v);
  } else if (json_is_string(v)) {
    if (rd_duration_parse(json_string_value(v), &s)) {
      rd_jctx_err(&l->j, p, 1,
                  "'%s' is not a duration: '%s'; write one number and a unit, e.g. \"30s\", "
                  "\"5m\", \"2h\", \"10d\", or a number of seconds",
                  DISP(l, p, d), json_string_value(v));
      return -1;
    }
  } else {
    rd_jctx_err(&l->j, p, 1,
                "'%s' must be a duration (\"30s\", \"5m\", \"2h\", \"10d\") or a number of "
                "seconds, got %s",
                DISP(l, p, d), rd_json_type_name(v));
    return -1;
  }
  if (s < 0 || !isfinite(s)) {
    rd_jctx_err(&l->j, p, 1, "'%s' must not be negative", DISP(l, p, d));
    return -1;
  }
  if (s == 0 && !allow_zero) {
    rd_jctx_err(&l->j, p, 1, "'%s' must be longer than 0", DISP(l, p, d));
    return -1;
  }
  if (s > 366.0 * 86400 * 10) {
    rd_jctx_err(&l->j, p, 1, "'%s' is longer than ten years", DISP(l, p, d));
    return -1;
  }
  return s;
}

void rb_fmt_duration(double s, char *buf, size_t len) {
  if (s >= 86400 && fmod(s, 86400) == 0)
    snprintf(buf, len, "%gd", s / 86400);
  else if (s >= 3600 && fmod(s, 3600) == 0)
    snprintf(buf, len, "%gh", s / 3600);
  else if (s >= 60 && fmod(s, 60) == 0)
    snprintf(buf, len, "%gm", s / 60);
  else
    snprintf(buf, len, "%gs", s);
}

/* dir + "/" + p unless p is absolute; "./" prefixes dropped. */
char *rb_resolve(ld *l, const char *p) {
  char *out;
  if (!p)
    return NULL;
  if (p[0] == '/' || !l->rb->dir)
    return rb_xstrdup(l, p);
  while (p[0] == '.' && p[1] == '/')
    p += 2;
  if (asprintf(&out, "%s/%s", l->rb->dir, p) < 0) {
    l->nomem = 1;
    return NULL;
  }
  return out;
}

int rb_hex_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
      return 0;
  }
  return s[n] == '\0';
}

int rb_url_ok(const char *u, const char *const *schemes) {
  for (; *schemes; schemes++) {
    size_t n = strlen(*schemes);
    if (!strncasecmp(u, *schemes, n)) {
      const char *host = u + n;
      if (!*host || *host == '/' || *host == ':')
        return 0;
      for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ')
          return 0;
      return 1;
    }
  }
  return 0;
}
