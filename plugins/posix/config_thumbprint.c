/* config_thumbprint.c — `posix.config_thumbprint`: replaces the old
 * certificate's thumbprint, serial or path by the new one in a config file.
 *
 * params: {"file": absolute path, "format": "sha1"|"sha256"|"serial"|"path",
 *          "case": "preserve" (default)|"lower"|"upper"}
 * Old value: facts.cert; new value: facts.expect, else facts.new_cert (for
 * "path" the new certificate's path, which for posix.install is the same
 * file: nothing to do). A digest is looked for in every form configs pin
 * it in (ct_forms): hex in any case, colon pairs (AA:BB:..., as openssl
 * prints it), space pairs (AA BB ...) and base64 of the digest; a serial as
 * hex or colon pairs. Matching is literal, case-insensitive for the hex
 * forms, and a value must not touch another character of its alphabet; each
 * occurrence is replaced by the new value in the same form (and the case
 * style of what it replaces unless "case" forces one).
 * Guard: the old value must be in the file. When only the new one is, it was
 * already done (idempotent); when neither is, the step fails naming the file,
 * the value it expected and the forms it tried, and its probe's result says
 * {"blocked": reason}: the apply cannot succeed, so the job should stop
 * before a certificate is requested.
 * apply journals {"old","new"} first; rollback replaces new -> old from that
 * record, so it works after a crash (when facts.cert may already describe
 * the new certificate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.config_thumbprint"

static const rd_script posix_ct_check_script =
    POSIX_SCRIPT("posix.config_thumbprint.check", 0, POSIX_SH_CT_LIB POSIX_SH_CT_CHECK);
static const rd_script posix_ct_replace_script =
    POSIX_SCRIPT("posix.config_thumbprint.replace", 1, POSIX_SH_CT_LIB POSIX_SH_CT_REPLACE);

static const char *const ct_keys[] = {"file", "format", "case", NULL};
static const char *const ct_formats[] = {"sha1", "sha256", "serial", "path", NULL};
static const char *const ct_cases[] = {"preserve", "lower", "upper", NULL};

static int ct_one_of(const char *v, const char *const *list) {
  for (size_t i = 0; v && list[i]; i++)
    if (!strcmp(v, list[i]))
      return 1;
  return 0;
}

static int ct_validate(const json_t *params, char *err, size_t errlen) {
  int rc;
  if ((rc = rd_check_keys(params, TYPE, ct_keys, err, errlen)) ||
      (rc = posix_check_string(params, "file", 1, 1, TYPE, err, errlen)))
    return rc;
  if (!ct_one_of(posix_str(params, "format"), ct_formats)) {
    snprintf(err, errlen, "%s: \"format\" must be \"sha1\", \"sha256\", \"serial\" or \"path\"", TYPE);
    return RD_EINVAL;
  }
  if (json_object_get(params, "case") && !ct_one_of(posix_str(params, "case"), ct_cases)) {
    snprintf(err, errlen, "%s: \"case\" must be \"preserve\", \"lower\" or \"upper\"", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct ct_cfg {
  const char *file, *format, *kase;
  const char *old, *new_; /* new_ NULL before the issuer ran */
  char jkey[1100];
} ct_cfg;

static void ct_cfg_get(rd_step *s, const rd_host_api *h, ct_cfg *c) {
  const json_t *pa = h->params(s);
  const json_t *cur = json_object_get(h->facts(s), "cert");
  const json_t *nc = posix_new_cert(s, h);
  c->file = posix_str(pa, "file");
  c->format = posix_str(pa, "format");
  c->kase = posix_str(pa, "case") ? posix_str(pa, "case") : "preserve";
  c->old = posix_str(cur, c->format);
  c->new_ = posix_str(nc, c->format);
  if (!strcmp(c->format, "path") && nc && !c->new_)
    c->new_ = c->old; /* installed in place */
  snprintf(c->jkey, sizeof c->jkey, "config_thumbprint:%s:%s", c->file, c->format);
}

/* The forms a value is written in. hex first: the form named when nothing
 * matches, and the one facts hold. */
typedef struct ct_form {
  const char *name; /* for messages */
  char sep;         /* between hex pairs: 0, ':' or ' ' */
  int b64;          /* base64 of the bytes */
  const char *bound;
} ct_form;
static const ct_form ct_form_list[] = {
    {"hex", 0, 0, "hex"},
    {"colon pairs (AA:BB:...)", ':', 0, "hexsep"},
    {"space pairs (AA BB ...)", ' ', 0, "hex"},
    {"base64", 0, 1, "b64"},
};
#define CT_NFORMS (sizeof ct_form_list / sizeof *ct_form_list)

/* How many forms apply to c->format: digests all, a serial hex and colon
 * pairs, a path itself only. */
static size_t ct_nforms(const ct_cfg *c) {
  if (!strcmp(c->format, "path"))
    return 1;
  return strcmp(c->format, "serial") ? CT_NFORMS : 2;
}

static int ct_hexval(char ch) {
  return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* hex (facts: "e03b..." or "1A2B3C") in form f; NULL when it is not hex
 * (then only the hex form, i.e. the literal value, is looked for). Caller
 * frees. */
static char *ct_in_form(const rd_host_api *h, const ct_form *f, const char *hex) {
  size_t n = strlen(hex), odd = n % 2, nb = (n + odd) / 2;
  unsigned char *bytes;
  char *out;
  if (!f->sep && !f->b64)
    return strdup(hex);
  if (!n || !(bytes = malloc(nb)))
    return NULL;
  for (size_t i = 0; i < nb; i++) {
    int hi = i == 0 && odd ? 0 : ct_hexval(hex[2 * i - odd]);
    int lo = ct_hexval(hex[2 * i + 1 - odd]);
    if (hi < 0 || lo < 0) {
      free(bytes);
      return NULL;
    }
    bytes[i] = (unsigned char)(hi << 4 | lo);
  }
  if (f->b64) {
    out = h->b64_encode(bytes, nb);
  } else if ((out = malloc(nb * 3 + 1))) {
    for (size_t i = 0; i < nb; i++)
      snprintf(out + 3 * i, 4, "%02X%c", bytes[i], i + 1 < nb ? f->sep : 0);
  }
  free(bytes);
  return out;
}

/* Forms joined for messages: "hex, colon pairs (AA:BB:...), ..." */
static void ct_form_names(const ct_cfg *c, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (size_t i = 0; i < ct_nforms(c) && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", ct_form_list[i].name);
}

/* The forms old (and new_, when known) can be written in, as indices into
 * ct_form_list, in the order the scripts number them (from 1). */
static size_t ct_included(const rd_host_api *h, const ct_cfg *c, const char *old,
                          const char *new_, size_t idx[CT_NFORMS], char *vo[CT_NFORMS],
                          char *vn[CT_NFORMS]) {
  size_t n = 0;
  for (size_t i = 0; i < ct_nforms(c); i++) {
    char *o = ct_in_form(h, &ct_form_list[i], old ? old : "");
    char *nw = new_ ? ct_in_form(h, &ct_form_list[i], new_) : NULL;
    if (o && (!new_ || nw)) {
      idx[n] = i;
      vo[n] = o;
      vn[n++] = nw;
    } else {
      free(o);
      free(nw);
    }
  }
  return n;
}

static void ct_free_values(size_t n, char **vo, char **vn) {
  for (size_t i = 0; i < n; i++) {
    free(vo[i]);
    free(vn[i]);
  }
}

static json_t *ct_args(const rd_host_api *h, const ct_cfg *c, const char *old, const char *new_) {
  json_t *a = posix_args();
  char k[32], names[300], *vo[CT_NFORMS], *vn[CT_NFORMS];
  size_t idx[CT_NFORMS], n = ct_included(h, c, old, new_, idx, vo, vn);
  posix_arg(a, "file", c->file);
  posix_arg(a, "case", c->kase);
  for (size_t i = 0; i < n; i++) {
    const ct_form *f = &ct_form_list[idx[i]];
    snprintf(k, sizeof k, "old_%zu", i + 1);
    posix_arg(a, k, vo[i]);
    snprintf(k, sizeof k, "new_%zu", i + 1);
    posix_arg(a, k, vn[i]);
    snprintf(k, sizeof k, "bound_%zu", i + 1);
    posix_arg(a, k, strcmp(c->format, "path") ? f->bound : "");
    snprintf(k, sizeof k, "ci_%zu", i + 1);
    posix_arg(a, k, f->b64 ? "0" : "1");
  }
  ct_free_values(n, vo, vn);
  snprintf(k, sizeof k, "%zu", n);
  posix_arg(a, "n", k);
  ct_form_names(c, names, sizeof names);
  posix_arg(a, "forms", names);
  return a;
}

/* One change per form found in the file (out: a count's output), each in
 * the form it was written in: "sha1 (colon pairs (AA:BB:...)) in F (1
 * occurrence)". Returns the result; *total the occurrences. */
static json_t *ct_changes(const rd_host_api *h, const ct_cfg *c, const json_t *out,
                          const char *old, const char *new_, long *total) {
  json_t *res = rd_result_new();
  char k[32], what[1400], *vo[CT_NFORMS], *vn[CT_NFORMS];
  size_t idx[CT_NFORMS], n = ct_included(h, c, old, new_, idx, vo, vn);
  *total = 0;
  for (size_t i = 0; i < n; i++) {
    long cnt;
    snprintf(k, sizeof k, "old_count_%zu", i + 1);
    if ((cnt = strtol(posix_out(out, k), NULL, 10)) <= 0)
      continue;
    *total += cnt;
    if (idx[i] == 0)
      snprintf(what, sizeof what, "%s in %s (%ld occurrence%s)", c->format, c->file, cnt,
               cnt == 1 ? "" : "s");
    else
      snprintf(what, sizeof what, "%s as %s in %s (%ld occurrence%s)", c->format,
               ct_form_list[idx[i]].name, c->file, cnt, cnt == 1 ? "" : "s");
    rd_result_change(res, what, vo[i], vn[i] ? vn[i] : "(new certificate)");
  }
  ct_free_values(n, vo, vn);
  return res;
}

static void ct_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  ct_cfg c;
  json_t *res;
  long oc, nc;
  char names[300], why[1600];
  ct_cfg_get(s, h, &c);
  if (!posix_out_is(out, "exists", "1")) {
    snprintf(why, sizeof why, "config %s: not found", c.file);
    h->donef(s, RD_ENOTFOUND, json_pack("{s:s}", "blocked", why), "%s", why);
    return;
  }
  res = ct_changes(h, &c, out, c.old, c.new_, &oc);
  nc = strtol(posix_out(out, "new_count"), NULL, 10);
  if (oc > 0) {
    h->donef(s, 0, res, "config %s: %s %s -> %s", c.file, c.format, c.old,
                 c.new_ ? c.new_ : "(new certificate)");
    return;
  }
  json_decref(res);
  if (nc > 0) {
    h->donef(s, 0, rd_result_new(), "config %s: already has the new %s %s", c.file,
                 c.format, c.new_);
    return;
  }
  /* the apply cannot succeed: say so before a certificate is requested */
  ct_form_names(&c, names, sizeof names);
  snprintf(why, sizeof why,
           "config %s: does not contain the current certificate's %s %s%s%s in any supported "
           "format (%s)",
           c.file, c.format, c.old, c.new_ ? " nor the new one " : "", c.new_ ? c.new_ : "",
           names);
  h->donef(s, RD_ENOTFOUND, json_pack("{s:s}", "blocked", why), "%s", why);
}

/* The old value must be known; for "path" an unchanged path means no-op. */
static int ct_values_or_finish(rd_step *s, const rd_host_api *h, const ct_cfg *c, int need_new) {
  if (!c->old) {
    h->donef(s, RD_ESTATE, NULL,
                 "config %s: the current certificate's %s is unknown (no facts.cert)", c->file,
                 c->format);
    return -1;
  }
  if (need_new && !c->new_) {
    h->donef(s, RD_ESTATE, NULL, "config %s: no new certificate yet (facts.new_cert)",
                 c->file);
    return -1;
  }
  if (c->new_ && !strcmp(c->old, c->new_)) {
    h->donef(s, 0, rd_result_new(), "config %s: %s unchanged (%s)", c->file, c->format,
                 c->old);
    return -1;
  }
  return 0;
}

static int ct_probe(rd_step *s, const rd_host_api *h) {
  ct_cfg c;
  ct_cfg_get(s, h, &c);
  if (ct_values_or_finish(s, h, &c, 0))
    return 0;
  return posix_run(s, h, &posix_ct_check_script, ct_args(h, &c, c.old, c.new_), ct_probed);
}

static void ct_replaced(rd_step *s, const rd_host_api *h, const json_t *out) {
  ct_cfg c;
  json_t *rec, *res;
  long total;
  ct_cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  if (posix_out_is(out, "already", "1")) {
    h->donef(s, 0, rd_result_new(), "config %s: already has %s", c.file,
                 posix_str(rec, "new") ? posix_str(rec, "new") : "the new value");
  } else {
    /* each form found, replaced in that form */
    res = ct_changes(h, &c, out, posix_str(rec, "old"), posix_str(rec, "new"), &total);
    h->donef(s, 0, res, "config %s: %s replaced", c.file, c.format);
  }
  json_decref(rec);
}

/* The record of the replacement, journaled before it (rd_swap_apply; no
 * read: the values come from the facts). NULL after completing. */
static json_t *ct_record(rd_step *s, const rd_host_api *h, const json_t *out) {
  ct_cfg c;
  ct_cfg_get(s, h, &c);
  if (ct_values_or_finish(s, h, &c, 1))
    return NULL;
  return json_pack("{s:s, s:s}", "old", c.old, "new", c.new_);
}

static void ct_names(rd_step *s, const rd_host_api *h, char *jkey, size_t jlen, char *subject,
                     size_t slen) {
  ct_cfg c;
  ct_cfg_get(s, h, &c);
  snprintf(jkey, jlen, "%s", c.jkey);
  snprintf(subject, slen, "config %s", c.file);
}

/* old -> new forward, new -> old backward: the same guarded replace. */
static json_t *ct_set_args(rd_step *s, const rd_host_api *h, const json_t *rec, int backward) {
  ct_cfg c;
  ct_cfg_get(s, h, &c);
  return ct_args(h, &c, posix_str(rec, backward ? "new" : "old"),
                 posix_str(rec, backward ? "old" : "new"));
}

static void ct_restored(rd_step *s, const rd_host_api *h, const json_t *out);

static const rd_swap_ops ct_swap = {ct_names,    NULL,        NULL,       ct_record,
                                    &posix_ct_replace_script, ct_set_args, ct_replaced,
                                    ct_restored};

static int ct_apply(rd_step *s, const rd_host_api *h) {
  if (h->whatif(s))
    return RD_EWHATIF;
  return rd_swap_apply(s, h, &ct_swap);
}

static void ct_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  ct_cfg c;
  json_t *rec;
  ct_cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  const char *old = rec ? posix_str(rec, "old") : c.old, *nw = rec ? posix_str(rec, "new") : c.new_;
  if (!posix_out_is(out, "exists", "1"))
    h->donef(s, RD_EVERIFY, NULL, "config %s: not found", c.file);
  else if (!posix_out_is(out, "old_count", "0"))
    h->donef(s, RD_EVERIFY, NULL, "config %s: still contains the old %s %s", c.file,
                 c.format, old);
  else if (posix_out_is(out, "new_count", "0"))
    h->donef(s, RD_EVERIFY, NULL, "config %s: does not contain the new %s %s", c.file,
                 c.format, nw);
  else
    h->donef(s, 0, NULL, "config %s: has the new %s %s", c.file, c.format, nw);
  json_decref(rec);
}

static int ct_verify(rd_step *s, const rd_host_api *h) {
  ct_cfg c;
  json_t *rec;
  int rc;
  ct_cfg_get(s, h, &c);
  if (!(rec = h->journal_get(s, c.jkey))) {
    if (ct_values_or_finish(s, h, &c, 1))
      return 0;
    rec = json_pack("{s:s, s:s}", "old", c.old, "new", c.new_);
  }
  rc = posix_run(s, h, &posix_ct_check_script,
                 ct_args(h, &c, posix_str(rec, "old"), posix_str(rec, "new")), ct_verified);
  json_decref(rec);
  return rc;
}

static void ct_restored(rd_step *s, const rd_host_api *h, const json_t *out) {
  ct_cfg c;
  ct_cfg_get(s, h, &c);
  h->donef(s, 0, NULL, "config %s: %s", c.file,
               posix_out_is(out, "already", "1") ? "already had the old value"
                                                 : "old value restored");
}

static int ct_rollback(rd_step *s, const rd_host_api *h) {
  return rd_swap_rollback(s, h, &ct_swap);
}

const rd_step_kind posix_kind_config_thumbprint = {
    .type = TYPE,
    .summary = "replace the old certificate's thumbprint/serial/path in a config file",
    .platform = RD_PLATFORM_POSIX,
    .flags = 0,
    .validate = ct_validate,
    .probe = ct_probe,
    .apply = ct_apply,
    .verify = ct_verify,
    .rollback = ct_rollback,
};
