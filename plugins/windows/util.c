/* util.c — see windows_util.h. */
#include "windows_util.h"
#include "common/winpath.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ------------------------------------------------------------ running */

int win_run(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args, win_ok_fn ok) {
  return rd_remote_ok(s, h, sc, args, ok);
}

void win_next(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args, win_ok_fn ok) {
  rd_remote_next(s, h, sc, args, ok);
}

/* ------------------------------------------------------------ JSON */

const char *win_str(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

const char *win_out(const json_t *o, const char *key) {
  const char *v = win_str(o, key);
  return v ? v : "";
}

int win_bool(const json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

long long win_int(const json_t *o, const char *key, long long def) {
  const json_t *v = json_object_get(o, key);
  if (json_is_integer(v))
    return (long long)json_integer_value(v);
  if (json_is_real(v))
    return (long long)json_real_value(v);
  if (json_is_string(v) && *json_string_value(v)) {
    char *end;
    long long n = strtoll(json_string_value(v), &end, 10);
    if (!*end)
      return n;
  }
  return def;
}

void win_line(const char *in, char *out, size_t outlen, size_t max) {
  size_t o = 0, n;
  const char *p, *end;
  int space = 0;
  if (!outlen)
    return;
  n = in ? strlen(in) : 0;
  while (n && isspace((unsigned char)in[n - 1]))
    n--;
  p = in ? in : "";
  end = p + n;
  while (p < end && isspace((unsigned char)*p))
    p++;
  for (; p < end && o + 4 < outlen && o < max; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '\n') {
      while (o && out[o - 1] == ' ')
        o--;
      if (o) {
        memcpy(out + o, " | ", 3);
        o += 3;
      }
      while (p + 1 < end && isspace((unsigned char)p[1]))
        p++;
      space = 0;
      continue;
    }
    if (c < 0x20 || c == 0x7f || c == ' ') {
      if (!space && o)
        out[o++] = ' ';
      space = 1;
      continue;
    }
    space = 0;
    out[o++] = (char)c;
  }
  out[o] = 0;
}

/* ------------------------------------------------------------ validation */


int win_check_string(const json_t *params, const char *key, int required, size_t maxlen,
                     const char *type, char *err, size_t errlen) {
  const json_t *v = json_object_get(params, key);
  const char *s;
  if (!v) {
    if (!required)
      return 0;
    snprintf(err, errlen, "%s: \"%s\" is required", type, key);
    return RD_EINVAL;
  }
  if (!json_is_string(v) || !*(s = json_string_value(v))) {
    snprintf(err, errlen, "%s: \"%s\" must be a non-empty string", type, key);
    return RD_EINVAL;
  }
  if (strlen(s) > maxlen) {
    snprintf(err, errlen, "%s: \"%s\" is longer than %zu characters", type, key, maxlen);
    return RD_EINVAL;
  }
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) {
      snprintf(err, errlen, "%s: \"%s\" must not contain control characters", type, key);
      return RD_EINVAL;
    }
  return 0;
}

int win_check_enum(const json_t *params, const char *key, int required, const char *const *list,
                   const char *type, char *err, size_t errlen) {
  const json_t *v = json_object_get(params, key);
  char names[256] = "";
  size_t i;
  if (!v && !required)
    return 0;
  for (i = 0; list[i]; i++)
    if (json_is_string(v) && !strcmp(json_string_value(v), list[i]))
      return 0;
  for (i = 0; list[i]; i++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s\"%s\"",
             !i ? "" : list[i + 1] ? ", " : " or ", list[i]);
  snprintf(err, errlen, "%s: \"%s\" must be %s%s", type, key, i > 1 ? "one of " : "", names);
  return RD_EINVAL;
}

int win_check_int(const json_t *params, const char *key, int required, long long min, long long max,
                  const char *type, char *err, size_t errlen) {
  const json_t *v = json_object_get(params, key);
  if (!v && !required)
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
    snprintf(err, errlen, "%s: \"%s\" must be a whole number from %lld to %lld", type, key, min, max);
    return RD_EINVAL;
  }
  return 0;
}

long win_duration(const char *s) {
  char *end;
  long n;
  if (!s || !isdigit((unsigned char)*s))
    return -1;
  n = strtol(s, &end, 10);
  if (n < 0 || n > 86400L * 366)
    return -1;
  if (!*end || !strcmp(end, "s"))
    return n;
  if (!strcmp(end, "m"))
    return n * 60;
  if (!strcmp(end, "h"))
    return n * 3600;
  return -1;
}

int win_is_hex(const char *s, size_t len) {
  size_t i;
  if (!s || strlen(s) != len)
    return 0;
  for (i = 0; i < len; i++)
    if (!isxdigit((unsigned char)s[i]))
      return 0;
  return 1;
}

int win_thumb(const char *in, char out[41]) {
  if (!win_is_hex(in, 40))
    return -1;
  for (size_t i = 0; i < 40; i++)
    out[i] = (char)toupper((unsigned char)in[i]);
  out[40] = 0;
  return 0;
}

int win_abs_path(const char *p) { return rd_win_abs_path(p); }

int win_account_ok(const char *a) {
  const char *bs;
  size_t n = a ? strlen(a) : 0;
  if (!n || n > 256 || a[0] == '\\' || a[n - 1] == '\\')
    return 0;
  if ((bs = strchr(a, '\\')) && strchr(bs + 1, '\\'))
    return 0;
  for (; *a; a++)
    if ((unsigned char)*a < 0x20 || strchr("\"/[]:;|=,+*?<>", *a))
      return 0;
  return 1;
}

int win_hklm_ok(const char *k) {
  if (!k || strncasecmp(k, "HKLM", 4))
    return 0;
  k += 4;
  if (*k == ':')
    k++;
  if (*k != '\\' || !k[1] || strstr(k, "..") || strstr(k, "\\\\"))
    return 0;
  for (; *k; k++)
    if ((unsigned char)*k < 0x20)
      return 0;
  return 1;
}

/* ------------------------------------------------------------ certificate section */

static int store_ok(const char *s) {
  if (strncmp(s, "LocalMachine\\", 13) || !s[13])
    return 0;
  for (s += 13; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr(" _.-", *s))
      return 0;
  return 1;
}

int win_selector_get(rd_step *s, const rd_host_api *h, win_selector *sel, char *err, size_t errlen) {
  const json_t *sec = h->section(s, "certificate");
  memset(sel, 0, sizeof *sel);
  sel->store = win_str(sec, "store") ? win_str(sec, "store") : WIN_DEFAULT_STORE;
  sel->template_ = win_str(sec, "template");
  sel->template_oid = win_str(sec, "template_oid");
  sel->subject = win_str(sec, "subject");
  sel->thumbprint = win_str(sec, "thumbprint");
  sel->issued_by = win_str(sec, "issued_by");
  if (!store_ok(sel->store)) {
    snprintf(err, errlen,
             "certificate.store \"%s\" is not a LocalMachine store (renewd works in the machine "
             "context: \"LocalMachine\\My\")",
             sel->store);
    return RD_ECONFIG;
  }
  if (sel->thumbprint && !win_is_hex(sel->thumbprint, 40)) {
    snprintf(err, errlen, "certificate.thumbprint \"%s\" is not 40 hex digits", sel->thumbprint);
    return RD_ECONFIG;
  }
  if (!sel->template_ && !sel->template_oid && !sel->subject && !sel->thumbprint &&
      !sel->issued_by) {
    snprintf(err, errlen,
             "the runbook's certificate section needs a selector for a Windows target: "
             "\"template\", \"template_oid\", \"subject\", \"issued_by\" or \"thumbprint\"");
    return RD_ECONFIG;
  }
  return 0;
}

void win_selector_describe(const win_selector *sel, char *out, size_t outlen) {
  size_t o = 0;
  out[0] = 0;
#define ADD(label, v)                                                                              \
  if ((v) && o < outlen)                                                                           \
  o += (size_t)snprintf(out + o, outlen - o, "%s%s %s", o ? ", " : "", label, v)
  ADD("thumbprint", sel->thumbprint);
  ADD("template", sel->template_);
  ADD("template OID", sel->template_oid);
  ADD("subject", sel->subject);
  ADD("issued by", sel->issued_by);
#undef ADD
}

/* ------------------------------------------------------------ facts */

const json_t *win_expected_cert(rd_step *s, const rd_host_api *h) {
  const json_t *f = h->facts(s);
  const json_t *c = json_object_get(f, "expect");
  if (!json_is_object(c))
    c = json_object_get(f, "new_cert");
  return json_is_object(c) ? c : NULL;
}

const json_t *win_live_cert(rd_step *s, const rd_host_api *h) {
  const json_t *c = json_object_get(h->facts(s), "cert");
  return json_is_object(c) ? c : NULL;
}

const char *win_cert_thumb(const json_t *cert, char out[41]) {
  const char *t = win_str(cert, "thumbprint");
  if (!t)
    t = win_str(cert, "sha1");
  return t && !win_thumb(t, out) ? out : NULL;
}

int win_cert_from_b64(const rd_host_api *h, const char *b64, json_t **out) {
  size_t n = 0;
  unsigned char *raw = NULL;
  json_t *f = NULL;
  char t[41];
  int rc;
  *out = NULL;
  if (!b64 || h->b64_decode(b64, &raw, &n) < 0)
    return RD_EPROTO;
  rc = h->cert_facts(raw, n, &f);
  free(raw);
  if (rc < 0 || !f) {
    json_decref(f);
    return rc < 0 ? rc : RD_EPROTO;
  }
  if (win_cert_thumb(f, t))
    json_object_set_new(f, "thumbprint", json_string(t));
  *out = f;
  return 0;
}

void win_time(long long epoch, char *out, size_t outlen) {
  time_t t = (time_t)epoch;
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(out, outlen, "%Y-%m-%d %H:%M UTC", &tm))
    snprintf(out, outlen, "?");
}
