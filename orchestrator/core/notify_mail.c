/* notify_mail.c — the e-mail channel of notifications (runbook
 * "notify.email": smtp URL, from, to, optional user + password secret,
 * starttls, ca_bundle). core/notify.c decides the events and remembers them;
 * this file writes one message per event and hands it to transport/smtp.c.
 *
 * Every value in a message comes from a target, a CA or a runbook, so each
 * is escaped: control bytes, backslashes and invalid UTF-8 print as \xNN (a
 * host's error text cannot add a header or a line); the subject is RFC 2047
 * words when it is not ASCII; addresses with anything a header cannot hold
 * are refused (the validator refuses them first). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/err.h"
#include "base/util.h"
#include "config/mail.h"
#include "base/log.h"
#include "config/secret.h"
#include "core/engine_int.h"
#include "core/notify.h"
#include "transport/smtp.h"

#define WRAP 900 /* body line bytes before a continuation (SMTP allows 998) */

/* Length of the valid UTF-8 sequence at p (2..4), or 0: no lead byte past
 * 0xf4, no overlong form, no surrogate, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *p) {
  size_t n = *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3
           : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
      (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
    return 0;
  return n;
}

/* One value, escaped (see the top of the file). */
static void put_esc(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    size_t n = *p >= 0x80 ? utf8_len(p) : 0;
    if (n) {
      fwrite(p, 1, n, f);
      p += n;
      continue;
    }
    if (*p >= 0x20 && *p < 0x7f && *p != '\\')
      fputc(*p, f);
    else
      fprintf(f, "\\x%02x", *p);
    p++;
  }
}

char *rd_mail_esc(const char *s) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (!f)
    return NULL;
  put_esc(f, s);
  fclose(f);
  return out;
}

static void iso_time(char *buf, size_t len, time_t t) {
  struct tm tm;
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* RFC 5322 date, independent of the locale. */
static void mail_date(char *buf, size_t len, time_t t) {
  static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
           mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* "Subject: " + s (already escaped): as it is when ASCII, else RFC 2047
 * B-words of at most 45 bytes each (whole UTF-8 characters), folded. */
static void put_subject(FILE *f, const char *s) {
  size_t n = strlen(s), i = 0;
  int ascii = 1;
  for (size_t k = 0; k < n; k++)
    ascii &= (unsigned char)s[k] < 0x80;
  fputs("Subject: ", f);
  if (ascii) {
    fprintf(f, "%s\r\n", s);
    return;
  }
  while (i < n) {
    size_t end = i;
    while (end < n) {
      size_t c = (unsigned char)s[end] < 0x80 ? 1 : utf8_len((const unsigned char *)s + end);
      if (!c) /* a character cut by the subject's length cap: its bytes alone */
        c = 1;
      if (end > i && end + c - i > 45)
        break;
      end += c;
    }
    char *b = rd_base64_encode_str(s + i, end - i);
    fprintf(f, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", b ? b : "");
    free(b);
    i = end;
  }
  fputs("\r\n", f);
}

/* "Label: value" in the body, both escaped, the value wrapped (whole UTF-8
 * characters) with an indented continuation. */
void rd_mail_field(FILE *f, const char *label, const char *value) {
  char *v = rd_mail_esc(value), *l = rd_mail_esc(label);
  const char *p = v ? v : "";
  size_t n = strlen(p), i = 0;
  fprintf(f, "%-12s ", l ? l : "");
  free(l);
  do {
    size_t end = i;
    while (end < n && end - i < WRAP) {
      size_t c = (unsigned char)p[end] < 0x80 ? 1 : utf8_len((const unsigned char *)p + end);
      end += c ? c : 1;
    }
    fprintf(f, "%s%.*s\r\n", i ? "             " : "", (int)(end - i), p + i);
    i = end;
  } while (i < n);
  free(v);
}

static const char *str(const json_t *ev, const char *k) {
  return json_string_value(json_object_get(ev, k));
}

static void put_time_field(FILE *f, const char *label, const json_t *v) {
  char when[32];
  if (!json_is_integer(v))
    return;
  iso_time(when, sizeof when, (time_t)json_integer_value(v));
  rd_mail_field(f, label, when);
}

static void put_body(FILE *f, const json_t *ev, const char *node, int job) {
  char num[64];
  const json_t *v;
  fputs(job ? "A certificate renewal needs attention.\r\n\r\n"
            : "A certificate is close to its expiry.\r\n\r\n", f);
  rd_mail_field(f, "Host:", str(ev, "host"));
  rd_mail_field(f, "Runbook:", str(ev, "runbook"));
  if (job) {
    rd_mail_field(f, "State:", str(ev, "state"));
    if ((v = json_object_get(ev, "job_id"))) {
      snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
      rd_mail_field(f, "Job:", num);
    }
    if (str(ev, "error"))
      rd_mail_field(f, "Error:", str(ev, "error"));
  } else {
    if (str(ev, "subject"))
      rd_mail_field(f, "Certificate:", str(ev, "subject"));
    put_time_field(f, "Expires:", json_object_get(ev, "not_after"));
    snprintf(num, sizeof num, "%.1f", json_number_value(json_object_get(ev, "days_left")));
    rd_mail_field(f, "Days left:", num);
    snprintf(num, sizeof num, "%lld days",
             (long long)json_integer_value(json_object_get(ev, "threshold_days")));
    rd_mail_field(f, "Threshold:", num);
    if (str(ev, "sha256"))
      rd_mail_field(f, "SHA-256:", str(ev, "sha256"));
    if (str(ev, "action")) /* issuer manual: renewd cannot renew it */
      rd_mail_field(f, "Manual action:", str(ev, "action"));
  }
  put_time_field(f, "Time:", json_object_get(ev, "time"));
  rd_mail_field(f, "Sent by:", node);
  fputs("\r\n-- \r\nrenewd: each event is sent once; the journal's alerts table remembers "
        "it.\r\n", f);
}

FILE *rd_mail_open(char **buf, size_t *n, const char *from, const char *const *to, time_t now,
                   const char *subject, const char *kind) {
  char date[64];
  unsigned char rnd[12];
  FILE *f;
  if (!rd_mail_addr_ok(from) || !to || !to[0])
    return NULL;
  for (const char *const *t = to; *t; t++)
    if (!rd_mail_addr_ok(*t))
      return NULL;
  if (RAND_bytes(rnd, sizeof rnd) != 1 || !(f = open_memstream(buf, n)))
    return NULL;
  mail_date(date, sizeof date, now);
  fprintf(f, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, from);
  for (const char *const *t = to; *t; t++)
    fprintf(f, "%s<%s>", t == to ? "" : ",\r\n ", *t);
  fputs("\r\nMessage-ID: <", f);
  for (size_t i = 0; i < sizeof rnd; i++)
    fprintf(f, "%02x", rnd[i]);
  fprintf(f, ".%lld.renewd%s>\r\n", (long long)now, strchr(from, '@'));
  put_subject(f, subject);
  fprintf(f, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
             "X-Renewd-Event: %s\r\n\r\n", kind);
  return f;
}

char *rd_mail_close(FILE *f, char **buf, const size_t *n, size_t *len) {
  /* the stream's buffer moves until it is closed: read *buf only now */
  if (fclose(f)) {
    free(*buf);
    return NULL;
  }
  if (len)
    *len = *n;
  return *buf;
}

char *rd_notify_mail_compose(const json_t *event, const char *from, const char *const *to,
                             const char *node, time_t now, size_t *len) {
  int job = !strcmp(str(event, "event") ? str(event, "event") : "", "job");
  char subj[1024], *out = NULL, *host, *what, *rb;
  size_t n = 0;
  FILE *f;
  host = rd_mail_esc(str(event, "host"));
  rb = rd_mail_esc(str(event, "runbook"));
  if (job) {
    what = rd_mail_esc(str(event, "state"));
  } else {
    char t[64];
    snprintf(t, sizeof t, "certificate expires within %lld days",
             (long long)json_integer_value(json_object_get(event, "threshold_days")));
    what = strdup(t);
  }
  snprintf(subj, sizeof subj, "[renewd] %s: %s (runbook %s)", host ? host : "",
           what ? what : "", rb ? rb : "");
  free(host);
  free(what);
  free(rb);
  if (!(f = rd_mail_open(&out, &n, from, to, now, subj, job ? "job" : "expiring")))
    return NULL;
  put_body(f, event, node, job);
  return rd_mail_close(f, &out, &n, len);
}

/* ------------------------------------------------------------------ sending */

const char **rd_mail_recipients(const json_t *cfg) {
  const json_t *toj = json_object_get(cfg, "to");
  size_t n = json_array_size(toj);
  const char **to = calloc(n + 1, sizeof *to);
  for (size_t i = 0; to && i < n; i++)
    to[i] = json_string_value(json_array_get(toj, i));
  return to;
}

void rd_mail_node(char *buf, size_t len) {
  if (gethostname(buf, len - 1))
    snprintf(buf, len, "localhost");
  buf[len - 1] = 0;
}

typedef struct deliver_call {
  char *what;
  void (*done)(void *);
  void *arg;
} deliver_call;

static void delivered(int status, const char *msg, void *arg) {
  deliver_call *c = arg;
  if (status)
    rd_log(RD_LV_WARNING, "notify", "e-mail about %s: %s", c->what, msg);
  c->done(c->arg);
  free(c->what);
  free(c);
}

int rd_mail_deliver(uv_loop_t *loop, const json_t *cfg, const char *msg, size_t len,
                    const char *what, void (*done)(void *), void *arg) {
  const json_t *pw = json_object_get(cfg, "password"), *st = json_object_get(cfg, "starttls");
  const char **to = rd_mail_recipients(cfg);
  char *password = NULL, err[768];
  deliver_call *c = calloc(1, sizeof *c);
  int rc = RD_ENOMEM;
  snprintf(err, sizeof err, "%s", rd_strerror(rc));
  if (!to || !c || !(c->what = strdup(what)))
    goto fail;
  if (pw && rd_secret_read_json(pw, &password, NULL, err, sizeof err)) {
    rc = RD_ECONFIG; /* err names the source of the password, never its value */
    goto fail;
  }
  if (password && *password)
    rd_log_secret(password); /* never in a line, whatever the server answers */
  rd_smtp_mail m = {.url = json_string_value(json_object_get(cfg, "smtp")),
                    .from = json_string_value(json_object_get(cfg, "from")), .to = to,
                    .user = json_string_value(json_object_get(cfg, "user")),
                    .password = password ? password : "",
                    .ca_bundle = json_string_value(json_object_get(cfg, "ca_bundle")),
                    .starttls = st ? json_is_true(st) : 1, .timeout_ms = 30000, .data = msg,
                    .len = len};
  c->done = done;
  c->arg = arg;
  if ((rc = rd_smtp_send(loop, &m, delivered, c))) {
    snprintf(err, sizeof err, "cannot send: %s", rd_strerror(rc));
    goto fail;
  }
  rd_secret_free(password);
  free(to);
  return 0;
fail:
  rd_log(RD_LV_WARNING, "notify", "e-mail about %s: %s", what, err);
  rd_secret_free(password);
  if (c)
    free(c->what);
  free(c);
  free(to);
  return rc;
}

static void engine_mail_done(void *arg) {
  rd_engine *e = arg;
  e->notifying--;
  rd_engine_pump(e);
}

void rd_notify_mail_send(rd_job *j, const json_t *cfg, const json_t *event) {
  const char **to = rd_mail_recipients(cfg);
  char node[256], what[600], *h = rd_mail_esc(j->t->name), *msg = NULL;
  size_t len = 0;
  snprintf(what, sizeof what, "host %s: %s", h ? h : "?",
           str(event, "state") ? str(event, "state") : "expiry");
  free(h);
  rd_mail_node(node, sizeof node);
  if (!to || !(msg = rd_notify_mail_compose(event, str(cfg, "from"), to, node, time(NULL), &len)))
    rd_log(RD_LV_WARNING, "notify",
           "e-mail about %s: cannot write the message (an address holds a character a mail "
           "header cannot carry)",
           what);
  else if (rd_mail_deliver(j->e->loop, cfg, msg, len, what, engine_mail_done, j->e) == 0)
    j->e->notifying++;
  free(msg);
  free(to);
}
