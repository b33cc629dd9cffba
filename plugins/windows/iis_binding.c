/* iis_binding.c — `windows.iis_binding`: an IIS site's https binding
 * serves the new certificate.
 *
 * params: {"site": "Default Web Site" (required), "protocol": "https"
 *          (default; the only one with a certificate), "port": 443
 *          (default), "host": host header of an SNI binding (optional)}
 * Exactly one binding must match. Through the WebAdministration module:
 * the binding's certificateHash is read; it is replaced with
 * RemoveSslCertificate + AddSslCertificate(<thumbprint>, "My"), and if
 * adding fails the previous certificate is bound again.
 * probe: the bound certificate vs facts.cert (old) and the new one.
 * apply: guard — the binding holds the old certificate (or already the
 *   new one); journals {found, new} first, then binds.
 * verify: the binding holds the new certificate.
 * rollback: binds the journaled certificate again (guarded by the new).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.iis_binding"

static const rd_script win_iis_read_script =
    WIN_SCRIPT("windows.iis.read", 0, WIN_PS_IIS_LIB WIN_PS_IIS_READ);
static const rd_script win_iis_set_script =
    WIN_SCRIPT("windows.iis.set", 1, WIN_PS_IIS_LIB WIN_PS_IIS_SET);
const rd_script *const windows_iis_scripts[] = {&win_iis_read_script, &win_iis_set_script, NULL};

static const char *const iis_keys[] = {"site", "protocol", "port", "host", NULL};
static const char *const iis_protocols[] = {"https", NULL};

static int iis_validate(const json_t *params, char *err, size_t errlen) {
  const char *host = win_str(params, "host");
  int rc;
  if ((rc = rd_check_keys(params, TYPE, iis_keys, err, errlen)) ||
      (rc = win_check_string(params, "site", 1, 256, TYPE, err, errlen)) ||
      (rc = win_check_enum(params, "protocol", 0, iis_protocols, TYPE, err, errlen)) ||
      (rc = win_check_int(params, "port", 0, 1, 65535, TYPE, err, errlen)) ||
      (rc = win_check_string(params, "host", 0, 255, TYPE, err, errlen)))
    return rc;
  if (strpbrk(win_str(params, "site"), "\"[]*?")) {
    snprintf(err, errlen, "%s: \"site\" must be an IIS site name such as \"Default Web Site\"", TYPE);
    return RD_EINVAL;
  }
  if (host && strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") !=
                  strlen(host)) {
    snprintf(err, errlen, "%s: \"host\" must be a host name such as \"www.corp.example\"", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct iis_cfg {
  const char *site, *protocol, *host;
  long long port;
  char old[41], new_[41]; /* "" when unknown */
  char jkey[700], what[600];
} iis_cfg;

static void cfg_get(rd_step *s, const rd_host_api *h, iis_cfg *c) {
  const json_t *pa = h->params(s);
  memset(c, 0, sizeof *c);
  c->site = win_str(pa, "site");
  c->protocol = win_str(pa, "protocol") ? win_str(pa, "protocol") : "https";
  c->host = win_str(pa, "host");
  c->port = win_int(pa, "port", 443);
  if (!win_cert_thumb(win_live_cert(s, h), c->old))
    c->old[0] = 0;
  if (!win_cert_thumb(win_expected_cert(s, h), c->new_))
    c->new_[0] = 0;
  snprintf(c->jkey, sizeof c->jkey, "iis_binding:%s:%s:%lld:%s", c->site, c->protocol, c->port,
           c->host ? c->host : "");
  snprintf(c->what, sizeof c->what, "IIS '%s' %s/%lld%s%s", c->site, c->protocol, c->port,
           c->host ? " host " : "", c->host ? c->host : "");
}

static json_t *args(const iis_cfg *c) {
  return json_pack("{s:s, s:s, s:I, s:s}", "site", c->site, "protocol", c->protocol, "port",
                   (json_int_t)c->port, "host", c->host ? c->host : "");
}

/* Completes and returns -1 unless exactly one binding matched. */
static int one_binding(rd_step *s, const rd_host_api *h, const iis_cfg *c, const json_t *out) {
  long long n = win_int(out, "count", 0);
  if (n == 1)
    return 0;
  if (n == 0)
    h->donef(s, RD_ENOTFOUND, NULL, "%s: no such binding", c->what);
  else
    h->donef(s, RD_ECONFIG, NULL, "%s: %lld bindings match; add \"host\" to pick one", c->what,
               n);
  return -1;
}

static void iis_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  iis_cfg c;
  const char *cur;
  json_t *res;
  cfg_get(s, h, &c);
  if (one_binding(s, h, &c, out))
    return;
  cur = win_out(out, "hash");
  if (c.new_[0] && !strcasecmp(cur, c.new_)) {
    h->donef(s, 0, rd_result_new(), "%s: already bound to %s", c.what, cur);
    return;
  }
  if (strcasecmp(cur, c.old) && strcmp(c.old, c.new_)) {
    h->donef(s, RD_ESTATE, NULL, "%s is bound to %s, not to the current certificate %s",
               c.what, *cur ? cur : "no certificate", c.old[0] ? c.old : "(none)");
    return;
  }
  res = rd_result_new();
  rd_result_change(res, c.what, *cur ? cur : "(none)", c.new_[0] ? c.new_ : "(new certificate)");
  h->donef(s, 0, res, "%s: would bind %s instead of %s", c.what,
             c.new_[0] ? c.new_ : "(new certificate)", *cur ? cur : "nothing");
}

static int iis_probe(rd_step *s, const rd_host_api *h) {
  iis_cfg c;
  cfg_get(s, h, &c);
  return win_run(s, h, &win_iis_read_script, args(&c), iis_probed);
}

static json_t *set_args(const iis_cfg *c, const char *expect, const char *new_) {
  json_t *a = args(c);
  json_object_set_new(a, "expect", json_string(expect));
  json_object_set_new(a, "new", json_string(new_));
  return a;
}

static void iis_set_done(rd_step *s, const rd_host_api *h, const json_t *out) {
  iis_cfg c;
  json_t *rec, *res;
  const char *st = win_out(out, "state");
  cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  if (!strcmp(st, "mismatch")) {
    h->donef(s, RD_ESTATE, NULL, "%s changed under renewd's feet: it is bound to %s", c.what,
               *win_out(out, "found") ? win_out(out, "found") : "nothing");
  } else if (strcasecmp(win_out(out, "hash"), win_out(rec, "new"))) {
    h->donef(s, RD_EREMOTE, NULL, "%s: bound to %s after binding %s", c.what,
               win_out(out, "hash"), win_out(rec, "new"));
  } else {
    res = rd_result_new();
    if (!strcmp(st, "set"))
      rd_result_change(res, c.what, *win_out(rec, "found") ? win_out(rec, "found") : "(none)",
                 win_out(rec, "new"));
    h->donef(s, 0, res, "%s: %s %s", c.what, !strcmp(st, "set") ? "now bound to" : "already bound to",
               win_out(rec, "new"));
  }
  json_decref(rec);
}

/* The record of the binding, journaled before the change (rd_swap_apply):
 * NULL after completing when it is bound already or to another certificate. */
static json_t *iis_record(rd_step *s, const rd_host_api *h, const json_t *out) {
  iis_cfg c;
  const char *cur;
  cfg_get(s, h, &c);
  if (one_binding(s, h, &c, out))
    return NULL;
  cur = win_out(out, "hash");
  if (strcasecmp(cur, c.new_) && strcasecmp(cur, c.old) && strcmp(c.old, c.new_)) {
    h->donef(s, RD_ESTATE, NULL, "%s is bound to %s, not to the current certificate %s",
               c.what, *cur ? cur : "no certificate", c.old[0] ? c.old : "(none)");
    return NULL;
  }
  if (!strcasecmp(cur, c.new_)) {
    h->donef(s, 0, rd_result_new(), "%s: already bound to %s", c.what, cur);
    return NULL;
  }
  return json_pack("{s:s, s:s}", "found", cur, "new", c.new_);
}

static void iis_names(rd_step *s, const rd_host_api *h, char *jkey, size_t jlen, char *subject,
                      size_t slen) {
  iis_cfg c;
  cfg_get(s, h, &c);
  snprintf(jkey, jlen, "%s", c.jkey);
  snprintf(subject, slen, "%s", c.what);
}

static json_t *iis_read_args(rd_step *s, const rd_host_api *h) {
  iis_cfg c;
  cfg_get(s, h, &c);
  return args(&c);
}

/* found -> new forward, new -> found backward: the same guarded write. */
static json_t *iis_set_args(rd_step *s, const rd_host_api *h, const json_t *rec, int backward) {
  iis_cfg c;
  cfg_get(s, h, &c);
  return set_args(&c, win_out(rec, backward ? "new" : "found"),
                  win_out(rec, backward ? "found" : "new"));
}

static void iis_restored(rd_step *s, const rd_host_api *h, const json_t *out);

static const rd_swap_ops iis_swap = {iis_names,    &win_iis_read_script, iis_read_args,
                                     iis_record,   &win_iis_set_script,  iis_set_args,
                                     iis_set_done, iis_restored};

static int iis_apply(rd_step *s, const rd_host_api *h) {
  iis_cfg c;
  cfg_get(s, h, &c);
  if (h->whatif(s))
    return RD_EWHATIF;
  if (!c.new_[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new certificate yet (facts.new_cert)", c.what);
    return 0;
  }
  return rd_swap_apply(s, h, &iis_swap);
}

static void iis_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  iis_cfg c;
  cfg_get(s, h, &c);
  if (one_binding(s, h, &c, out))
    return;
  if (!strcasecmp(win_out(out, "hash"), c.new_))
    h->donef(s, 0, NULL, "%s is bound to %s", c.what, c.new_);
  else
    h->donef(s, RD_EVERIFY, NULL, "%s is bound to %s, expected %s", c.what,
               *win_out(out, "hash") ? win_out(out, "hash") : "nothing", c.new_);
}

static int iis_verify(rd_step *s, const rd_host_api *h) {
  iis_cfg c;
  cfg_get(s, h, &c);
  if (!c.new_[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new certificate to check for", c.what);
    return 0;
  }
  return win_run(s, h, &win_iis_read_script, args(&c), iis_verified);
}

static void iis_restored(rd_step *s, const rd_host_api *h, const json_t *out) {
  iis_cfg c;
  cfg_get(s, h, &c);
  if (!strcmp(win_out(out, "state"), "mismatch"))
    h->donef(s, RD_ESTATE, NULL, "%s is bound to %s, not renewd's: not restored", c.what,
               win_out(out, "found"));
  else
    h->donef(s, 0, NULL, "%s: bound to %s again", c.what,
               *win_out(out, "hash") ? win_out(out, "hash") : "nothing");
}

static int iis_rollback(rd_step *s, const rd_host_api *h) {
  return rd_swap_rollback(s, h, &iis_swap);
}

const rd_step_kind windows_kind_iis_binding = {
    .type = TYPE,
    .summary = "bind the new certificate to an IIS site's https binding",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = 0,
    .validate = iis_validate,
    .probe = iis_probe,
    .apply = iis_apply,
    .verify = iis_verify,
    .rollback = iis_rollback,
};
