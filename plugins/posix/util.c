/* util.c — see posix_util.h. */
#include "posix_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int posix_paths_get(rd_step *s, const rd_host_api *h, posix_paths *p, char *err,
                    size_t errlen) {
  const json_t *sec = h->section(s, "certificate");
  p->cert = posix_str(sec, "cert");
  p->key = posix_str(sec, "key");
  p->chain = posix_str(sec, "chain");
  if (p->chain && !*p->chain)
    p->chain = NULL;
  if (!p->cert || !*p->cert || !p->key || !*p->key) {
    snprintf(err, errlen,
             "the runbook's certificate section needs \"cert\" and \"key\" paths for a POSIX target");
    return RD_ECONFIG;
  }
  return 0;
}

int posix_combined(const posix_paths *p) { return p->cert && p->key && !strcmp(p->cert, p->key); }

const char *posix_str(const json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

const char *posix_fact(rd_step *s, const rd_host_api *h, const char *path) {
  const json_t *v = h->facts(s);
  char part[128];
  while (v && *path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof part)
      return NULL;
    memcpy(part, path, n);
    part[n] = 0;
    v = json_object_get(v, part);
    path += n + (path[n] == '.');
  }
  return json_string_value(v);
}

const json_t *posix_new_cert(rd_step *s, const rd_host_api *h) {
  const json_t *f = h->facts(s);
  const json_t *c = json_object_get(f, "expect");
  if (!json_is_object(c))
    c = json_object_get(f, "new_cert");
  return json_is_object(c) ? c : NULL;
}

json_t *posix_args(void) { return json_object(); }

void posix_arg(json_t *args, const char *name, const char *value) {
  json_object_set_new(args, name, json_string(value ? value : ""));
}

int posix_run(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args,
              posix_ok_fn ok) {
  return rd_remote_ok(s, h, sc, args, ok);
}

void posix_next(rd_step *s, const rd_host_api *h, const rd_script *sc, json_t *args,
                posix_ok_fn ok) {
  rd_remote_next(s, h, sc, args, ok);
}

const char *posix_out(const json_t *out, const char *key) {
  const char *v = json_string_value(json_object_get(out, key));
  return v ? v : "";
}

int posix_out_is(const json_t *out, const char *key, const char *value) {
  return strcmp(posix_out(out, key), value) == 0;
}

char *posix_out_text(const rd_host_api *h, const json_t *out, const char *key, size_t max) {
  unsigned char *raw = NULL;
  size_t n = 0, skip;
  char *txt;
  if (h->b64_decode(posix_out(out, key), &raw, &n) < 0) {
    raw = NULL; /* malformed: as if empty */
    n = 0;
  }
  while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
    n--;
  skip = n > max ? n - max : 0;
  if ((txt = malloc(n - skip + 1))) {
    for (size_t i = skip; i < n; i++)
      txt[i - skip] = (raw[i] < 0x20 || raw[i] == 0x7f) ? ' ' : (char)raw[i];
    txt[n - skip] = 0;
  }
  free(raw);
  return txt;
}

json_t *posix_out_lines(const json_t *out, const char *key) {
  const char *v = posix_out(out, key);
  json_t *a = json_array();
  while (*v) {
    size_t n = strcspn(v, "\n");
    if (n)
      json_array_append_new(a, json_stringn(v, n));
    v += n + (v[n] == '\n');
  }
  return a;
}


int posix_check_string(const json_t *params, const char *key, int required, int absolute,
                       const char *type, char *err, size_t errlen) {
  const json_t *v = json_object_get(params, key);
  if (!v) {
    if (!required)
      return 0;
    snprintf(err, errlen, "%s: \"%s\" is required", type, key);
    return RD_EINVAL;
  }
  if (!json_is_string(v) || !*json_string_value(v)) {
    snprintf(err, errlen, "%s: \"%s\" must be a non-empty string", type, key);
    return RD_EINVAL;
  }
  if (absolute && json_string_value(v)[0] != '/') {
    snprintf(err, errlen, "%s: \"%s\" must be an absolute path, not \"%s\"", type, key,
             json_string_value(v));
    return RD_EINVAL;
  }
  return 0;
}

int posix_read_local(const char *path, size_t max, char **out) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  *out = NULL;
  if (!f)
    return RD_ENOTFOUND;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      char *nb;
      cap = cap ? cap * 2 : 8192;
      if (!(nb = realloc(buf, cap))) {
        rc = RD_ENOMEM;
        break;
      }
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (n > max) {
      rc = RD_EOVERFLOW;
      break;
    }
    if (r == 0) {
      if (ferror(f))
        rc = RD_EIO;
      break;
    }
  }
  fclose(f);
  if (rc) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *out = buf;
  return 0;
}
