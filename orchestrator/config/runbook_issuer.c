/* runbook_issuer.c — a certificate's selector (file paths on POSIX, a store selector on
 * Windows) and 'issuer' (scep, adcs, acme, manual), checked against the targets' platforms. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "config/runbook_int.h"

/* A certificate's selector o at ptr: file paths on POSIX, a store selector
 * on Windows. The messages name it as the runbook does ("certificate",
 * "certificates[1].certificate"). */
void rb_check_selector(ld *l, json_t *o, const char *ptr) {
  static const char *const keys[] = {"cert",    "key",        "chain",     "subject_cn",
                                     "store",   "template",   "template_oid",
                                     "subject", "issued_by", "thumbprint", NULL};
  static const char *const posix_keys[] = {"cert", "key", "chain", NULL};
  static const char *const win_keys[] = {"store",     "template",   "template_oid", "subject",
                                         "issued_by", "thumbprint", NULL};
  const char *v;
  char w[PTR_MAX];
  int have_win_selector = 0;
  DISP(l, ptr, w);
  if (!rb_is_type(l, o, ptr, JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, ptr, keys);
  for (const char *const *k = posix_keys; *k; k++) {
    char p[PTR_MAX];
    rb_child(p, sizeof p, ptr, *k);
    if ((v = rb_get_string(l, o, ptr, *k, 0)) && v[0] != '/')
      rd_jctx_err(&l->j, p, 1, "'%s.%s' must be an absolute path on the target, got '%s'", w,
                  *k, v);
    else if (v && rb_platforms_only(l, RD_PLATFORM_WINDOWS))
      rd_jctx_err(&l->j, p, 0,
                  "'%s.%s' is a file path for POSIX targets, but this runbook's "
                  "targets are all Windows; select the certificate with 'store' and "
                  "'template', 'template_oid', 'subject', 'issued_by' or 'thumbprint'",
                  w, *k);
  }
  for (const char *const *k = win_keys; *k; k++) {
    char p[PTR_MAX];
    rb_child(p, sizeof p, ptr, *k);
    if (!(v = rb_get_string(l, o, ptr, *k, 0)))
      continue;
    if (strcmp(*k, "store"))
      have_win_selector = 1;
    if (!strcmp(*k, "store") && strncasecmp(v, "LocalMachine\\", 13) &&
        strncasecmp(v, "CurrentUser\\", 12))
      rd_jctx_err(&l->j, p, 1,
                  "'%s.store' must be LocalMachine\\NAME or CurrentUser\\NAME "
                  "(e.g. \"LocalMachine\\\\My\"), got '%s'",
                  w, v);
    if (!strcmp(*k, "template_oid")) {
      int ok = v[0] >= '0' && v[0] <= '2' && v[1] == '.';
      for (const char *q = v; ok && *q; q++)
        ok = (*q >= '0' && *q <= '9') || (*q == '.' && q[1] && q[1] != '.');
      if (!ok)
        rd_jctx_err(&l->j, p, 1,
                    "'%s.template_oid' must be a dotted OID like "
                    "\"1.3.6.1.4.1.311.21.8.1234.5678\", got '%s'",
                    w, v);
    }
    if (!strcmp(*k, "thumbprint") && (strlen(v) != 40 || !rb_hex_ok(v, 40)))
      rd_jctx_err(&l->j, p, 1,
                  "'%s.thumbprint' must be a SHA-1 thumbprint (40 hex digits, no "
                  "spaces), got '%s'",
                  w, v);
    if (rb_platforms_only(l, RD_PLATFORM_POSIX))
      rd_jctx_err(&l->j, p, 0,
                  "'%s.%s' selects a certificate in a Windows store, but this "
                  "runbook's targets are all POSIX; use 'cert' and 'key' file paths",
                  w, *k);
  }
  if ((v = rb_get_string(l, o, ptr, "subject_cn", 0)) &&
      rb_platforms_only(l, RD_PLATFORM_WINDOWS)) {
    char p[PTR_MAX];
    rb_child(p, sizeof p, ptr, "subject_cn");
    rd_jctx_err(&l->j, p, 0,
                "'%s.subject_cn' names the subject of a first enrolment on POSIX "
                "targets, but this runbook's targets are all Windows",
                w);
  }
  if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_POSIX))) {
    if (!json_object_get(o, "cert"))
      rd_jctx_err(&l->j, ptr, 0,
                  "missing required key 'cert' in '%s': POSIX targets need the "
                  "certificate's path (and 'key')",
                  w);
    if (!json_object_get(o, "key"))
      rd_jctx_err(&l->j, ptr, 0,
                  "missing required key 'key' in '%s': POSIX targets need the "
                  "private key's path",
                  w);
  }
  if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_WINDOWS)) && !have_win_selector)
    rd_jctx_err(&l->j, ptr, 0,
                "'%s' needs a selector for Windows targets: one of 'template', "
                "'template_oid', 'subject', 'issued_by', 'thumbprint' (and optionally 'store', "
                "default LocalMachine\\My)",
                w);
}

/* 'issuer.ca_bundle': a file on the admin host, relative to the runbook. */
static void resolve_ca_bundle(ld *l, json_t *o) {
  const char *v = rb_get_string(l, o, "/issuer", "ca_bundle", 0);
  if (v && v[0] != '/') {
    char *abs = rb_resolve(l, v);
    if (abs)
      json_object_set_new(o, "ca_bundle", json_string(abs));
    free(abs);
  }
}

/* An absolute path on the target, required (or refused) by the challenge. */
static void acme_target_path(ld *l, json_t *o, const char *key, int needed, const char *chal,
                             const char *what) {
  char ptr[64];
  const char *v = rb_get_string(l, o, "/issuer", key, 0);
  snprintf(ptr, sizeof ptr, "/issuer/%s", key);
  if (needed && !v && !json_object_get(o, key))
    rd_jctx_err(&l->j, "/issuer", 1, "%s needs 'issuer.%s', %s", chal, key, what);
  else if (v && (((l->rb->platforms & (1u << RD_PLATFORM_POSIX)) && v[0] != '/') ||
                 ((l->rb->platforms & (1u << RD_PLATFORM_WINDOWS)) &&
                  !(isalpha((unsigned char)v[0]) && v[1] == ':' && v[2] == '\\'))))
    rd_jctx_err(&l->j, ptr, 1, "'issuer.%s' must be an absolute path on the target, got '%s'",
                key, v);
}

static void load_acme(ld *l, json_t *o) {
  static const char *const keys[] = {"type", "directory", "account_key", "contact",
                                     "webroot", "challenge_type", "dns_hook", "dns_wait_ms",
                                     "eab", "profile", "ca_bundle", "poll_ms", "iis_site",
                                     "preferred_chain", NULL};
  static const char *const schemes[] = {"https://", NULL};
  const char *v, *chal;
  int dns01;
  rd_jctx_check_keys(&l->j, o, "/issuer", keys);
  if ((v = rb_get_string(l, o, "/issuer", "directory", 1)) && !rb_url_ok(v, schemes))
    rd_jctx_err(&l->j, "/issuer/directory", 1,
                "'issuer.directory' must be the https:// URL of the ACME directory, got '%s'", v);
  rb_secret_ref(l, rb_member(l, o, "/issuer", "account_key", 1), "/issuer/account_key",
                "account_key", NULL, 1);
  chal = rb_get_string(l, o, "/issuer", "challenge_type", 0);
  dns01 = chal && !strcmp(chal, "dns-01");
  if (chal && !dns01 && strcmp(chal, "http-01"))
    rd_jctx_err(&l->j, "/issuer/challenge_type", 1,
                "'issuer.challenge_type' must be \"http-01\" (the default) or \"dns-01\", got '%s'",
                chal);
  else if (!json_object_get(o, "challenge_type") || chal)
    acme_target_path(l, o, dns01 ? "dns_hook" : "webroot",
                     dns01 || !rb_get_string(l, o, "/issuer", "iis_site", 0), dns01 ? "dns-01" : "http-01",
                     dns01 ? "the executable run on the target as HOOK add|remove NAME VALUE"
                           : "the directory the target's web server serves "
                             "/.well-known/acme-challenge/ from");
  json_t *eab = rb_member(l, o, "/issuer", "eab", 0);
  if (eab && rb_is_type(l, eab, "/issuer/eab", JSON_OBJECT, "an object")) {
    static const char *const eab_keys[] = {"kid", "hmac_key", NULL};
    rd_jctx_check_keys(&l->j, eab, "/issuer/eab", eab_keys);
    rb_get_string(l, eab, "/issuer/eab", "kid", 1);
    rb_secret_ref(l, rb_member(l, eab, "/issuer/eab", "hmac_key", 1), "/issuer/eab/hmac_key",
                  "hmac_key", NULL, 1);
  }
  json_t *contact = rb_member(l, o, "/issuer", "contact", 0);
  if (contact)
    rb_is_type(l, contact, "/issuer/contact", JSON_ARRAY, "an array of URLs (\"mailto:...\")");
  rb_get_int(l, o, "/issuer", "dns_wait_ms", 0, 600000, 0);
  rb_get_int(l, o, "/issuer", "poll_ms", 50, 600000, 2000);
  rb_get_string(l, o, "/issuer", "profile", 0);
  rb_get_string(l, o, "/issuer", "preferred_chain", 0);
  resolve_ca_bundle(l, o);
  if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_POSIX)) &&
      json_object_get(o, "iis_site"))
    rd_jctx_err(&l->j, "/issuer/iis_site", 1, "'issuer.iis_site' is for Windows targets");
}

/* 'manual': a certificate renewd cannot renew itself (plugins/manual): the
 * procedure an operator follows, one non-empty paragraph. */
static void load_manual(ld *l, json_t *o) {
  static const char *const keys[] = {"type", "action", NULL};
  const char *v;
  rd_jctx_check_keys(&l->j, o, "/issuer", keys);
  if ((v = rb_get_string(l, o, "/issuer", "action", 1)) && !v[strspn(v, " \t\r\n")])
    rd_jctx_err(&l->j, "/issuer/action", 1,
                "'issuer.action' must say what an operator does to renew this certificate "
                "(one paragraph), got an empty string");
}

const char *const rb_issuer_types[] = {"scep", "adcs", "acme", "manual", NULL};

void rb_load_issuer(ld *l) {
  static const char *const scep_keys[] = {"type",     "url",           "ca_fingerprint",
                                          "ca_bundle", "challenge",     "ca_ident",
                                          "poll_interval", "max_in_flight", NULL};
  static const char *const adcs_keys[] = {"type", "config", "poll_interval", NULL};
  json_t *o = rb_member(l, l->root, "", "issuer", 1);
  const char *type, *v;
  json_t *fp;
  if (!o || !rb_is_type(l, o, "/issuer", JSON_OBJECT, "an object"))
    return;
  if (!(type = rb_get_string(l, o, "/issuer", "type", 1)))
    return;
  if (!strcmp(type, "scep")) {
    static const char *const schemes[] = {"http://", "https://", NULL};
    rd_jctx_check_keys(&l->j, o, "/issuer", scep_keys);
    if ((v = rb_get_string(l, o, "/issuer", "url", 1)) && !rb_url_ok(v, schemes))
      rd_jctx_err(&l->j, "/issuer/url", 1,
                  "'issuer.url' must be an http:// or https:// URL of the SCEP service, got "
                  "'%s'",
                  v);
    fp = rb_member(l, o, "/issuer", "ca_fingerprint", 1);
    if (json_is_string(fp)) {
      v = json_string_value(fp);
      if (strncmp(v, "sha256:", 7) || strlen(v) != 71 || !rb_hex_ok(v + 7, 64))
        rd_jctx_err(&l->j, "/issuer/ca_fingerprint", 1,
                    "'issuer.ca_fingerprint' must be \"sha256:\" and 64 hex digits (the CA "
                    "certificate's DER: openssl x509 -outform DER | sha256sum), or {\"file\": "
                    "PATH} holding that, got '%s'",
                    v);
    } else if (fp) {
      if (!json_is_object(fp) || json_object_get(fp, "env"))
        rd_jctx_err(&l->j, "/issuer/ca_fingerprint", 1,
                    "'issuer.ca_fingerprint' must be \"sha256:<64 hex digits>\" or {\"file\": "
                    "PATH}, got %s",
                    json_is_object(fp) ? "{\"env\": ...}" : rd_json_type_name(fp));
      else
        rb_secret_ref(l, fp, "/issuer/ca_fingerprint", "ca_fingerprint", NULL, 1);
    }
    rb_get_string(l, o, "/issuer", "ca_ident", 0);
    resolve_ca_bundle(l, o);
    if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_WINDOWS)))
      rd_jctx_err(&l->j, "/issuer/type", 1,
                  "issuer 'scep' renews POSIX targets (the request is signed with openssl on "
                  "the target); Windows targets use {\"type\": \"adcs\"}");
  } else if (!strcmp(type, "acme")) {
    load_acme(l, o);
    return;
  } else if (!strcmp(type, "manual")) {
    load_manual(l, o);
    return;
  } else if (!strcmp(type, "adcs")) {
    rd_jctx_check_keys(&l->j, o, "/issuer", adcs_keys);
    if ((v = rb_get_string(l, o, "/issuer", "config", 0))) {
      const char *bs = strchr(v, '\\');
      if (!bs || bs == v || !bs[1])
        rd_jctx_err(&l->j, "/issuer/config", 1,
                    "'issuer.config' must be \"<CA host>\\\\<CA name>\" as certutil -config - "
                    "-ping shows it, got '%s'",
                    v);
    }
    if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_POSIX)))
      rd_jctx_err(&l->j, "/issuer/type", 1,
                  "issuer 'adcs' renews Windows targets (certreq on the target); POSIX "
                  "targets use {\"type\": \"scep\", ...}");
  } else {
    size_t ntypes = 0;
    while (rb_issuer_types[ntypes])
      ntypes++;
    const char *s = rd_suggest(type, rb_issuer_types, ntypes);
    rd_jctx_err(&l->j, "/issuer/type", 1,
                "unknown issuer type '%s'%s%s%s; known: scep, adcs, acme, manual", type, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
    return;
  }
  rb_get_duration(l, o, "/issuer", "poll_interval", 60, 0, NULL);
  json_t *mif = json_object_get(o, "max_in_flight");
  if (mif && (!json_is_integer(mif) || json_integer_value(mif) < 1 || json_integer_value(mif) > 64))
    rd_jctx_err(&l->j, "/issuer/max_in_flight", 1,
                "'issuer.max_in_flight' must be an integer from 1 to 64 (requests sent to the CA "
                "at once; default 1)");
}
