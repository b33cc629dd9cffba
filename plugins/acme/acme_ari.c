/* acme_ari.c — see acme_ari.h. */
#include "acme_ari.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509v3.h>

#include "acme_jws.h"
#include "renewd/plugin.h"
#include "renewd/plugin_helpers.h"

char *acme_ari_cert_id(X509 *cert) {
  AUTHORITY_KEYID *ak = X509_get_ext_d2i(cert, NID_authority_key_identifier, NULL, NULL);
  const ASN1_OCTET_STRING *kid = ak ? ak->keyid : NULL;
  const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
  unsigned char *der = NULL, *p;
  char *a = NULL, *b = NULL, *r = NULL;
  int n;
  if (!kid || !serial || (n = i2d_ASN1_INTEGER(serial, &der)) < 3)
    goto out;
  /* the INTEGER's value octets: skip tag and (short or long) length */
  p = der + 2;
  if (der[1] & 0x80)
    p += der[1] & 0x7f;
  if (p >= der + n)
    goto out;
  a = acme_b64url(ASN1_STRING_get0_data(kid), (size_t)ASN1_STRING_length(kid));
  b = acme_b64url(p, (size_t)(der + n - p));
  if (a && b && asprintf(&r, "%s.%s", a, b) < 0)
    r = NULL;
out:
  AUTHORITY_KEYID_free(ak);
  OPENSSL_free(der);
  free(a);
  free(b);
  return r;
}

time_t acme_rfc3339(const char *s) {
  struct tm tm;
  int used = 0;
  memset(&tm, 0, sizeof tm);
  if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
    return -1;
  s += used;
  if (*s == '.')
    for (s++; *s >= '0' && *s <= '9'; s++)
      ;
  if (strcmp(s, "Z") && strcmp(s, "z") && strcmp(s, "+00:00"))
    return -1;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

int acme_ari_parse(const char *body, size_t len, time_t now, double rnd, acme_ari_window *w) {
  json_t *j = json_loadb(body, len, 0, NULL);
  json_t *sw = json_object_get(j, "suggestedWindow");
  memset(w, 0, sizeof *w);
  w->start = acme_rfc3339(json_string_value(json_object_get(sw, "start")));
  w->end = acme_rfc3339(json_string_value(json_object_get(sw, "end")));
  rd_one_line(json_string_value(json_object_get(j, "explanationURL")), w->explanation,
              sizeof w->explanation);
  json_decref(j);
  if (w->start < 0 || w->end < 0 || w->end <= w->start)
    return RD_EPROTO;
  if (rnd < 0 || rnd >= 1)
    rnd = 0;
  w->renew_at = w->end <= now ? now : w->start + (time_t)(rnd * (double)(w->end - w->start));
  w->now = w->renew_at <= now;
  return 0;
}
