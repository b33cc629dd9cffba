/* secret.c — see secret.h. */
#include "config/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "config/jsonpos.h"

const char *const rd_secret_keys[] = {"file", "env", NULL};

static int env_name_ok(const char *s) {
  if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
    return 0;
  for (s++; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return 0;
  return 1;
}

static int problem(rd_secret_problem *p, const char *member, int unknown, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int problem(rd_secret_problem *p, const char *member, int unknown, const char *fmt, ...) {
  va_list ap;
  if (p) {
    p->member = member;
    p->unknown_key = unknown;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
  }
  return RD_EINVAL;
}

int rd_secret_check(const json_t *v, const char *key, rd_secret_problem *p,
                    rd_secret_kind *kind, const char **name) {
  const json_t *file, *env;
  const char *k;
  json_t *m;
  if (!key)
    key = "secret";
  if (!json_is_object(v))
    return problem(p, NULL, 0,
                   "must be {\"file\": \"/etc/renewd/%s\"} or {\"env\": \"NAME\"}, got %s", key,
                   rd_json_type_name(v));
  file = json_object_get(v, "file");
  env = json_object_get(v, "env");
  if (file && env)
    return problem(p, NULL, 0, "must name either 'file' or 'env', not both");
  if (!file && !env)
    return problem(p, NULL, 0, "must be {\"file\": \"/etc/renewd/%s\"} or {\"env\": \"NAME\"}",
                   key);
  if (file && (!json_is_string(file) || !*json_string_value(file)))
    return problem(p, "file", 0, "must be a file name (a non-empty string), got %s",
                   json_is_string(file) ? "\"\"" : rd_json_type_name(file));
  if (env && !json_is_string(env))
    return problem(p, "env", 0,
                   "must be an environment variable name (letters, digits, '_'), got %s",
                   rd_json_type_name(env));
  if (env && !env_name_ok(json_string_value(env))) /* not shown: it may be the secret */
    return problem(p, "env", 0,
                   "must be an environment variable name (letters, digits, '_', not starting "
                   "with a digit), not the secret itself");
  json_object_foreach((json_t *)v, k, m) {
    if (strcmp(k, "file") && strcmp(k, "env"))
      return problem(p, k, 1, "is not part of a secret reference: it has 'file' or 'env' only");
  }
  if (kind)
    *kind = file ? RD_SECRET_FILE : RD_SECRET_ENV;
  if (name)
    *name = json_string_value(file ? file : env);
  return 0;
}

/* The source's name for a message: printable ASCII kept, the rest \xNN. */
static const char *shown(const char *s, char *buf, size_t len) {
  size_t n = 0;
  for (; *s && n + 5 < len; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c < 0x7f && c != '\\')
      buf[n++] = (char)c;
    else
      n += (size_t)snprintf(buf + n, len - n, "\\x%02x", c);
  }
  buf[n] = '\0';
  return buf;
}

static void wipe_free(char *s, size_t n) {
  if (s) {
    explicit_bzero(s, n);
    free(s);
  }
}

/* The whole regular file, at most RD_SECRET_MAX bytes, in one buffer (no
 * reallocation leaves copies of it behind). */
static int read_file(const char *path, char **out, size_t *n, char *err, size_t errlen) {
  char nm[512];
  struct stat st;
  char *buf;
  size_t got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    rd_fmt(err, errlen, "secret file %s: %s", shown(path, nm, sizeof nm),
           e == ENOENT ? "no such file" : strerror(e));
    return e == ENOENT ? RD_ENOTFOUND : RD_EIO;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rd_fmt(err, errlen, "secret file %s: not a regular file", shown(path, nm, sizeof nm));
    close(fd);
    return RD_EINVAL;
  }
  if ((size_t)st.st_size > RD_SECRET_MAX) {
    rd_fmt(err, errlen, "secret file %s: larger than %u bytes", shown(path, nm, sizeof nm),
           RD_SECRET_MAX);
    close(fd);
    return RD_EOVERFLOW;
  }
  if (!(buf = malloc(RD_SECRET_MAX + 1))) {
    close(fd);
    return RD_ENOMEM;
  }
  for (;;) {
    ssize_t r = read(fd, buf + got, RD_SECRET_MAX + 1 - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      rd_fmt(err, errlen, "secret file %s: %s", shown(path, nm, sizeof nm), strerror(e));
      close(fd);
      wipe_free(buf, got);
      return RD_EIO;
    }
    if (r == 0)
      break;
    got += (size_t)r;
    if (got > RD_SECRET_MAX) {
      rd_fmt(err, errlen, "secret file %s: larger than %u bytes", shown(path, nm, sizeof nm),
             RD_SECRET_MAX);
      close(fd);
      wipe_free(buf, got);
      return RD_EOVERFLOW;
    }
  }
  close(fd);
  buf[got] = '\0';
  *out = buf;
  *n = got;
  return 0;
}

int rd_secret_read(const rd_secret_ref *ref, char **out, size_t *len, char *err,
                   size_t errlen) {
  char *buf = NULL, nm[512], what[600];
  size_t n = 0;
  int rc;
  if (out)
    *out = NULL;
  if (len)
    *len = 0;
  if (!out || !ref || ref->kind == RD_SECRET_NONE || !ref->name) {
    rd_fmt(err, errlen, "no secret configured");
    return RD_EINVAL;
  }
  if (ref->kind == RD_SECRET_ENV) {
    const char *v = getenv(ref->name);
    snprintf(what, sizeof what, "environment variable %s", shown(ref->name, nm, sizeof nm));
    if (!v) {
      rd_fmt(err, errlen, "%s: not set", what);
      return RD_ENOTFOUND;
    }
    n = strlen(v);
    if (!(buf = malloc(n + 1)))
      return RD_ENOMEM;
    memcpy(buf, v, n + 1);
  } else {
    snprintf(what, sizeof what, "secret file %s", shown(ref->name, nm, sizeof nm));
    if ((rc = read_file(ref->name, &buf, &n, err, errlen)))
      return rc;
  }
  if (memchr(buf, '\0', n)) {
    wipe_free(buf, n);
    rd_fmt(err, errlen, "%s: holds a NUL byte (a secret is text)", what);
    return RD_EINVAL;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  if (!n) {
    wipe_free(buf, 1);
    rd_fmt(err, errlen, "%s: empty", what);
    return RD_EINVAL;
  }
  *out = buf;
  if (len)
    *len = n;
  return 0;
}

int rd_secret_read_json(const json_t *v, char **out, size_t *len, char *err, size_t errlen) {
  rd_secret_problem p;
  rd_secret_ref ref = {RD_SECRET_NONE, NULL};
  const char *name = NULL;
  if (out)
    *out = NULL;
  if (len)
    *len = 0;
  if (rd_secret_check(v, NULL, &p, &ref.kind, &name)) {
    char nm[128];
    if (p.member)
      rd_fmt(err, errlen, "secret reference: '%s' %s", shown(p.member, nm, sizeof nm), p.msg);
    else
      rd_fmt(err, errlen, "secret reference %s", p.msg);
    return RD_EINVAL;
  }
  ref.name = (char *)name;
  return rd_secret_read(&ref, out, len, err, errlen);
}

int rd_secret_header(const json_t *ref, const char *prefix, char **out, char *err,
                     size_t errlen) {
  char *v = NULL;
  size_t n = 0, pl = strlen(prefix);
  int rc = rd_secret_read_json(ref, &v, &n, err, errlen);
  *out = NULL;
  if (rc)
    return rc;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
      rd_secret_free(v);
      rd_fmt(err, errlen, "the secret holds a control character (it must fit on one header "
                          "line)");
      return RD_EINVAL;
    }
  if (!(*out = malloc(pl + n + 1))) {
    rd_secret_free(v);
    return RD_ENOMEM;
  }
  memcpy(*out, prefix, pl);
  memcpy(*out + pl, v, n + 1);
  rd_secret_free(v);
  return 0;
}

void rd_secret_free(char *s) {
  if (s)
    wipe_free(s, strlen(s) + 1);
}
