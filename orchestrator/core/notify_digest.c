/* notify_digest.c — the daily digest of a runbook (notify.email.digest),
 * written here from what `renewd serve` knows (serve/digest.c gathers it):
 * the certificates by expiry, soonest first, and the jobs that need a
 * person. Values escaped as in every message (core/notify_mail.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/notify.h"

#define MAX_ROWS 500 /* per list; the rest is counted */

static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static void iso(char *buf, size_t len, json_int_t t) {
  time_t tt = (time_t)t;
  struct tm tm;
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
}

static void put_more(FILE *f, size_t n) {
  if (n > MAX_ROWS)
    fprintf(f, "  ... and %zu more\r\n", n - MAX_ROWS);
}

char *rd_notify_digest_compose(const json_t *digest, const char *from, const char *const *to,
                               const char *node, time_t now, size_t *len) {
  const json_t *certs = json_object_get(digest, "certificates");
  const json_t *att = json_object_get(digest, "attention"), *c, *last;
  size_t ncert = json_array_size(certs), natt = json_array_size(att), i, expired = 0, soon = 0;
  char subj[1024], line[256], when[32], *out = NULL, *rb = rd_mail_esc(str(digest, "runbook"));
  size_t n = 0;
  FILE *f;
  json_array_foreach(certs, i, c) {
    json_int_t na = json_integer_value(json_object_get(c, "not_after"));
    expired += na <= (json_int_t)now;
    soon += na > (json_int_t)now && na <= (json_int_t)now + 14 * 86400;
  }
  snprintf(subj, sizeof subj,
           "[renewd] digest %s (runbook %s): %zu certificates, %zu expired, %zu within 14 days, "
           "%zu jobs need attention",
           str(digest, "date") ? str(digest, "date") : "", rb ? rb : "", ncert, expired, soon,
           natt);
  free(rb);
  if (!(f = rd_mail_open(&out, &n, from, to, now, subj, "digest")))
    return NULL;
  fputs("The daily digest of a renewd runbook.\r\n\r\n", f);
  rd_mail_field(f, "Runbook:", str(digest, "runbook"));
  rd_mail_field(f, "Date:", str(digest, "date"));
  if ((last = json_object_get(digest, "last"))) {
    iso(when, sizeof when, json_integer_value(json_object_get(last, "time")));
    snprintf(line, sizeof line, "%s: %lld targets, %lld due, %lld renewed, %lld failed", when,
             (long long)json_integer_value(json_object_get(last, "targets")),
             (long long)json_integer_value(json_object_get(last, "due")),
             (long long)json_integer_value(json_object_get(last, "renewed")),
             (long long)json_integer_value(json_object_get(last, "failed")));
    rd_mail_field(f, "Last scan:", line);
  }
  rd_mail_field(f, "Sent by:", node);
  fprintf(f, "\r\nJobs that need attention (the newest job of each host): %zu\r\n", natt);
  json_array_foreach(att, i, c) {
    if (i >= MAX_ROWS)
      break;
    char *v = NULL;
    size_t vn = 0;
    FILE *vf = open_memstream(&v, &vn);
    iso(when, sizeof when, json_integer_value(json_object_get(c, "updated")));
    if (vf) { /* raw: rd_mail_field escapes the whole value once */
      fprintf(vf, "%s since %s%s%s", str(c, "state") ? str(c, "state") : "", when,
              str(c, "error") ? ": " : "", str(c, "error") ? str(c, "error") : "");
      fclose(vf);
    }
    fputs("  ", f);
    rd_mail_field(f, str(c, "host"), v ? v : "");
    free(v);
  }
  put_more(f, natt);
  fprintf(f, "\r\nCertificates, soonest expiry first: %zu\r\n", ncert);
  json_array_foreach(certs, i, c) {
    if (i >= MAX_ROWS)
      break;
    json_int_t na = json_integer_value(json_object_get(c, "not_after"));
    iso(when, sizeof when, na);
    if (na <= (json_int_t)now)
      snprintf(line, sizeof line, "%s  expired", when);
    else
      snprintf(line, sizeof line, "%s  %6.1f days", when, (double)(na - (json_int_t)now) / 86400.0);
    fputs("  ", f);
    rd_mail_field(f, str(c, "host"), line);
  }
  put_more(f, ncert);
  fputs("\r\n-- \r\nrenewd: one digest a day per runbook (notify.email.digest).\r\n", f);
  return rd_mail_close(f, &out, &n, len);
}
