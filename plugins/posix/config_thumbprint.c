/* config_thumbprint.c — `posix.config_thumbprint`: replaces the old
 * certificate's thumbprint, serial or path by the new one in a config file.
 *
 * params: {"file": absolute path, "format": "sha1"|"sha256"|"serial"|"path",
 *          "case": "preserve" (default)|"lower"|"upper"}
 * Old value: facts.cert; new value: facts.expect, else facts.new_cert (for
 * "path" the new certificate's path, which for posix.install is the same
 * file: nothing to do). Matching is literal and case-insensitive, and a hex
 * value must not touch another hex digit; each replacement keeps the case
 * style of what it replaces unless "case" forces one.
 * Guard: the old value must be in the file. When only the new one is, it was
 * already done (idempotent); when neither is, the step fails naming the file
 * and the value it expected.
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

static json_t *ct_args(const ct_cfg *c, const char *old, const char *new_) {
  json_t *a = posix_args();
  posix_arg(a, "file", c->file);
  posix_arg(a, "old", old);
  posix_arg(a, "new", new_);
  posix_arg(a, "case", c->kase);
  posix_arg(a, "bound", strcmp(c->format, "path") ? "hex" : "");
  return a;
}

static void ct_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  ct_cfg c;
  json_t *res;
  char what[1200];
  long oc, nc;
  ct_cfg_get(s, h, &c);
  if (!posix_out_is(out, "exists", "1")) {
    h->donef(s, RD_ENOTFOUND, NULL, "config %s: not found", c.file);
    return;
  }
  oc = strtol(posix_out(out, "old_count"), NULL, 10);
  nc = strtol(posix_out(out, "new_count"), NULL, 10);
  if (oc > 0) {
    res = rd_result_new();
    snprintf(what, sizeof what, "%s in %s (%ld occurrence%s)", c.format, c.file, oc,
             oc == 1 ? "" : "s");
    rd_result_change(res, what, c.old, c.new_ ? c.new_ : "(new certificate)");
    h->donef(s, 0, res, "config %s: %s %s -> %s", c.file, c.format, c.old,
                 c.new_ ? c.new_ : "(new certificate)");
  } else if (nc > 0) {
    h->donef(s, 0, rd_result_new(), "config %s: already has the new %s %s", c.file,
                 c.format, c.new_);
  } else {
    h->donef(s, RD_ENOTFOUND, NULL,
                 "config %s: does not contain the current certificate's %s %s%s%s", c.file,
                 c.format, c.old, c.new_ ? " nor the new one " : "", c.new_ ? c.new_ : "");
  }
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
  return posix_run(s, h, &posix_ct_check_script, ct_args(&c, c.old, c.new_), ct_probed);
}

static void ct_replaced(rd_step *s, const rd_host_api *h, const json_t *out) {
  ct_cfg c;
  json_t *rec, *res;
  char what[1200];
  ct_cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  if (posix_out_is(out, "already", "1")) {
    h->donef(s, 0, rd_result_new(), "config %s: already has %s", c.file,
                 posix_str(rec, "new") ? posix_str(rec, "new") : "the new value");
  } else {
    res = rd_result_new();
    snprintf(what, sizeof what, "%s in %s (%s occurrence%s)", c.format, c.file,
             posix_out(out, "replaced"), posix_out_is(out, "replaced", "1") ? "" : "s");
    rd_result_change(res, what, posix_str(rec, "old"), posix_str(rec, "new"));
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
  return ct_args(&c, posix_str(rec, backward ? "new" : "old"),
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
                 ct_args(&c, posix_str(rec, "old"), posix_str(rec, "new")), ct_verified);
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
