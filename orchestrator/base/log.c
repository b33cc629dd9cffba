/* log.c — see log.h. */
#include "base/log.h"
#include "base/util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "base/err.h"

#define MAX_SECRETS 64
#define MASK "***"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int json_lines;
static FILE *out;       /* NULL: stderr */
static int journald = -1; /* -1: decide from JOURNAL_STREAM on the first line */
static char *secrets[MAX_SECRETS];
static size_t nsecrets;

int rd_log_set_format(const char *name) {
  int j;
  if (name && !strcmp(name, "text"))
    j = 0;
  else if (name && !strcmp(name, "json"))
    j = 1;
  else
    return RD_EINVAL;
  pthread_mutex_lock(&mu);
  json_lines = j;
  pthread_mutex_unlock(&mu);
  return 0;
}

void rd_log_set_stream(FILE *f, int jd) {
  pthread_mutex_lock(&mu);
  out = f;
  journald = jd;
  pthread_mutex_unlock(&mu);
}

int rd_log_secret(const char *value) {
  int rc = 0;
  if (!value || strlen(value) < 4)
    return RD_EINVAL;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < nsecrets; i++)
    if (!strcmp(secrets[i], value))
      goto done;
  if (nsecrets == MAX_SECRETS)
    rc = RD_ENOMEM;
  else if (!(secrets[nsecrets] = strdup(value)))
    rc = RD_ENOMEM;
  else
    nsecrets++;
done:
  pthread_mutex_unlock(&mu);
  return rc;
}

void rd_log_reset(void) {
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < nsecrets; i++) {
    volatile char *p = secrets[i];
    while (*p)
      *p++ = 0;
    free(secrets[i]);
  }
  nsecrets = 0;
  json_lines = 0;
  out = NULL;
  journald = -1;
  pthread_mutex_unlock(&mu);
}

/* Is f the journal's stream (JOURNAL_STREAM="DEVICE:INODE")? */
static int is_journal(FILE *f) {
  const char *js = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;
  if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(fileno(f), &st))
    return 0;
  return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* s with every registered secret replaced by MASK; malloc'ed (NULL: no memory). */
static char *masked(const char *s) {
  char *r = strdup(s ? s : "");
  for (size_t i = 0; r && i < nsecrets; i++) {
    size_t sl = strlen(secrets[i]);
    char *hit;
    while (r && (hit = strstr(r, secrets[i]))) {
      size_t pre = (size_t)(hit - r), rest = strlen(hit + sl);
      char *n = malloc(pre + sizeof MASK + rest);
      if (n) {
        memcpy(n, r, pre);
        memcpy(n + pre, MASK, sizeof MASK - 1);
        memcpy(n + pre + sizeof MASK - 1, hit + sl, rest + 1);
      }
      free(r);
      r = n;
    }
  }
  return r;
}

/* Text: control bytes as \xNN (and bytes >= 0x80 too when ascii_only). */
/* s on f: in text, rd_escape's one-line form (the escaper every printed
 * value goes through: control bytes, C1, bidi controls, invalid UTF-8);
 * ascii_only (a JSON value that is not UTF-8): every byte outside
 * printable ASCII, and the backslash, as \xNN. */
static void put_esc(FILE *f, const char *s, int ascii_only) {
  if (!ascii_only) {
    char *e = rd_escape_dup(s, RD_ESC_ONE_LINE);
    fputs(e ? e : "(out of memory)", f);
    free(e);
    return;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x20 || *p >= 0x7f || *p == '\\')
      fprintf(f, "\\x%02x", *p);
    else
      fputc(*p, f);
  }
}

/* A JSON string of s; when s is not UTF-8, its \xNN-escaped ASCII form. */
static json_t *jstr(const char *s) {
  json_t *v = json_string(s);
  char *buf = NULL;
  size_t n = 0;
  FILE *m;
  if (v || !(m = open_memstream(&buf, &n)))
    return v ? v : json_string("");
  put_esc(m, s, 1);
  fclose(m);
  v = json_string(buf ? buf : "");
  free(buf);
  return v;
}

static const char *level_name(rd_lv lv) {
  switch (lv) {
  case RD_LV_ERR: return "error";
  case RD_LV_WARNING: return "warning";
  case RD_LV_NOTICE: return "notice";
  case RD_LV_INFO: return "info";
  case RD_LV_DEBUG: return "debug";
  }
  return "info";
}

static void emit(rd_lv lv, const char *subject, const rd_log_job *job, const char *fmt,
                 va_list ap) {
  char *raw = NULL;
  if (vasprintf(&raw, fmt, ap) < 0)
    return;
  pthread_mutex_lock(&mu);
  FILE *f = out ? out : stderr;
  if (journald < 0)
    journald = is_journal(f);
  char *msg = masked(raw), *host = NULL, *rb = NULL, *cert = NULL;
  if (job) {
    host = masked(job->host);
    rb = masked(job->runbook);
    cert = masked(job->certificate);
  }
  if (!msg || (job && (!host || !rb || !cert)))
    goto out;
  if (journald)
    fprintf(f, "<%d>", (int)lv);
  if (json_lines) {
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    json_t *o = json_pack("{s:s, s:s}", "time", when, "level", level_name(lv));
    if (job) {
      json_object_set_new(o, "host", jstr(host));
      json_object_set_new(o, "runbook", jstr(rb));
      json_object_set_new(o, "certificate", jstr(cert));
      json_object_set_new(o, "job_id", job->job_id ? json_integer(job->job_id) : json_null());
    } else {
      json_object_set_new(o, "subject", jstr(subject ? subject : "renewd"));
    }
    json_object_set_new(o, "msg", jstr(msg));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line)
      fprintf(f, "%s\n", line);
    free(line);
    json_decref(o);
  } else {
    fprintf(f, "renewd: %s: ", level_name(lv));
    if (job) {
      fputs("host ", f);
      put_esc(f, host, 0);
      fputs(": runbook ", f);
      put_esc(f, rb, 0);
      fputs(", certificate ", f);
      put_esc(f, cert, 0);
      if (job->job_id)
        fprintf(f, ", job %lld", job->job_id);
      else
        fputs(", no job", f);
    } else {
      put_esc(f, subject ? subject : "renewd", 0);
    }
    fputs(": ", f);
    put_esc(f, msg, 0);
    fputc('\n', f);
  }
  fflush(f);
out:
  pthread_mutex_unlock(&mu);
  free(msg);
  free(host);
  free(rb);
  free(cert);
  free(raw);
}

void rd_log(rd_lv lv, const char *subject, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(lv, subject, NULL, fmt, ap);
  va_end(ap);
}

void rd_log_job_line(rd_lv lv, const rd_log_job *job, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(lv, NULL, job, fmt, ap);
  va_end(ap);
}
