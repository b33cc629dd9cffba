/* install.c — `windows.install`: the new certificate is in place.
 *
 * On Windows there is nothing to copy: `certreq -accept -machine` (run by
 * adcs.issue) already put the new certificate into LocalMachine\My, bound
 * to the private key certreq -new made. What this kind does:
 * probe (read-only): whether the new certificate (facts.new_cert) is in the
 *   store with its private key; before the issuer ran (whatif) it says so.
 * apply: the same check, and records {new, old, store} in the journal
 *   ("windows.install") and facts.installed — what a rollback needs.
 * verify: the new certificate is in the store, has its private key, and
 *   the key file exists.
 * rollback: removes the new certificate and its key (Remove-Item
 *   -DeleteKey), but only while the old certificate is still in the store;
 *   otherwise the new one stays (RD_ESTATE: removing it would leave the
 *   service without any certificate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windows_plugin.h"
#include "windows_store.h"
#include "windows_util.h"

#define TYPE "windows.install"
#define JKEY "windows.install"

static const rd_script win_install_remove_script =
    WIN_SCRIPT("windows.install.remove", 1, WIN_PS_INSTALL_REMOVE);
const rd_script *const windows_install_scripts[] = {&win_install_remove_script, NULL};

typedef struct install_cfg {
  win_selector sel;
  char new_[41], old[41];
} install_cfg;

static int install_validate(const json_t *params, char *err, size_t errlen) {
  return rd_check_keys(params, TYPE, NULL, err, errlen);
}

/* The store and the two thumbprints ("" when unknown); on a bad
 * certificate section completes the phase and returns -1. */
static int cfg_get(rd_step *s, const rd_host_api *h, install_cfg *c) {
  char err[512];
  memset(c, 0, sizeof *c);
  if (win_selector_get(s, h, &c->sel, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return -1;
  }
  if (!win_cert_thumb(json_object_get(h->facts(s), "new_cert"), c->new_))
    c->new_[0] = 0;
  if (!win_cert_thumb(win_live_cert(s, h), c->old))
    c->old[0] = 0;
  return 0;
}

static int list(rd_step *s, const rd_host_api *h, const install_cfg *c, win_ok_fn ok) {
  const char *t[2] = {c->new_, c->old[0] ? c->old : NULL};
  return win_run(s, h, &win_store_list_script, win_store_args(c->sel.store, t, t[1] ? 2 : 1), ok);
}

/* The new certificate's record from store_list output, or NULL; *recs
 * (new) holds it. */
static const json_t *new_record(const rd_host_api *h, const json_t *out, const char *thumb,
                                json_t **recs) {
  *recs = win_store_records(h, out, NULL);
  return win_store_find(*recs, thumb);
}

/* --- probe -------------------------------------------------------------------- */

static void install_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  install_cfg c;
  json_t *recs, *res;
  const json_t *r;
  char what[300];
  if (cfg_get(s, h, &c))
    return;
  r = new_record(h, out, c.new_, &recs);
  res = rd_result_new();
  snprintf(what, sizeof what, "certificate in %s", c.sel.store);
  if (r && win_bool(r, "has_private_key")) {
    h->donef(s, 0, res, "%s: the new certificate %s is in place with its private key (%s)",
               c.sel.store, c.new_, win_out(r, "key_provider"));
  } else {
    rd_result_change(res, what, c.old[0] ? c.old : "(none)", c.new_);
    h->donef(s, 0, res, "%s: the new certificate %s is %s", c.sel.store, c.new_,
               r ? "there WITHOUT its private key" : "not there yet");
  }
  json_decref(recs);
}

static int install_probe(rd_step *s, const rd_host_api *h) {
  install_cfg c;
  json_t *res;
  char what[300];
  if (cfg_get(s, h, &c))
    return 0;
  if (!c.new_[0]) {
    res = rd_result_new();
    snprintf(what, sizeof what, "certificate in %s", c.sel.store);
    rd_result_change(res, what, c.old[0] ? c.old : "(none)", "(new certificate)");
    h->donef(s, 0, res,
               "%s: certreq -accept -machine puts the new certificate here; install checks it "
               "and its private key",
               c.sel.store);
    return 0;
  }
  return list(s, h, &c, install_probed);
}

/* --- apply / verify ------------------------------------------------------------- */

/* 0 when the new certificate is there with its key (file); else completes. */
static int check_new(rd_step *s, const rd_host_api *h, const install_cfg *c, const json_t *r,
                     int fail) {
  if (!r) {
    h->donef(s, fail, NULL, "%s: the new certificate %s is not in the store", c->sel.store,
               c->new_);
    return -1;
  }
  if (!win_bool(r, "has_private_key")) {
    h->donef(s, fail, NULL, "%s: the new certificate %s has no private key", c->sel.store,
               c->new_);
    return -1;
  }
  if (win_str(r, "key_path") && !win_bool(r, "key_exists")) {
    h->donef(s, fail, NULL, "%s: the private key file %s of %s does not exist", c->sel.store,
               win_str(r, "key_path"), c->new_);
    return -1;
  }
  return 0;
}

static void install_checked(rd_step *s, const rd_host_api *h, const json_t *out) {
  install_cfg c;
  json_t *recs, *rec, *res;
  const json_t *r;
  char what[300];
  int rc;
  if (cfg_get(s, h, &c))
    return;
  r = new_record(h, out, c.new_, &recs);
  if (check_new(s, h, &c, r, RD_ESTATE)) {
    json_decref(recs);
    return;
  }
  rec = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "new", c.new_, "old", c.old, "store", c.sel.store,
                  "key_provider", win_str(r, "key_provider"), "key_path", win_str(r, "key_path"));
  json_decref(recs);
  if ((rc = h->journal_put(s, JKEY, rec)) < 0) {
    json_decref(rec);
    h->donef(s, rc, NULL, "cannot journal the installation: %s", h->strerror(rc));
    return;
  }
  json_object_set_new(h->facts(s), "installed", rec);
  res = rd_result_new();
  snprintf(what, sizeof what, "certificate in %s", c.sel.store);
  rd_result_change(res, what, c.old[0] ? c.old : "(none)", c.new_);
  h->donef(s, 0, res, "%s: new certificate %s in place with its private key", c.sel.store,
             c.new_);
}

static int install_apply(rd_step *s, const rd_host_api *h) {
  install_cfg c;
  if (cfg_get(s, h, &c))
    return 0;
  if (h->whatif(s))
    return RD_EWHATIF;
  if (!c.new_[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new certificate to install (facts.new_cert)",
               c.sel.store);
    return 0;
  }
  return list(s, h, &c, install_checked);
}

static void install_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  install_cfg c;
  json_t *recs;
  const json_t *r;
  if (cfg_get(s, h, &c))
    return;
  r = new_record(h, out, c.new_, &recs);
  if (!check_new(s, h, &c, r, RD_EVERIFY))
    h->donef(s, 0, NULL, "%s: new certificate %s present with its private key (%s %s)",
               c.sel.store, c.new_, win_out(r, "key_provider"), win_out(r, "key_container"));
  json_decref(recs);
}

static int install_verify(rd_step *s, const rd_host_api *h) {
  install_cfg c;
  if (cfg_get(s, h, &c))
    return 0;
  if (!c.new_[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new certificate to verify (facts.new_cert)",
               c.sel.store);
    return 0;
  }
  return list(s, h, &c, install_verified);
}

/* --- rollback ------------------------------------------------------------------- */

static void install_removed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *rec = h->journal_get(s, JKEY), *res;
  const char *st = win_out(out, "state");
  char what[300];
  snprintf(what, sizeof what, "certificate in %s", win_out(rec, "store"));
  if (!strcmp(st, "removed")) {
    res = rd_result_new();
    rd_result_change(res, what, win_out(rec, "new"), win_out(rec, "old"));
    h->donef(s, 0, res, "%s: new certificate %s and its key removed; %s is live again",
               win_out(rec, "store"), win_out(rec, "new"), win_out(rec, "old"));
  } else if (!strcmp(st, "absent")) {
    h->donef(s, 0, NULL, "%s: the new certificate %s was already gone", win_out(rec, "store"),
               win_out(rec, "new"));
  } else {
    h->donef(s, RD_ESTATE, NULL,
               "%s: the old certificate %s is no longer in the store, so the new one %s stays",
               win_out(rec, "store"), win_out(rec, "old"), win_out(rec, "new"));
  }
  json_decref(rec);
}

static int install_rollback(rd_step *s, const rd_host_api *h) {
  json_t *rec = h->journal_get(s, JKEY), *a;
  if (!rec) {
    const json_t *f = json_object_get(h->facts(s), "installed");
    rec = f ? json_deep_copy(f) : NULL;
  }
  if (!rec || !win_is_hex(win_str(rec, "new"), 40)) {
    json_decref(rec);
    h->donef(s, 0, NULL, "nothing was installed, nothing to remove");
    return 0;
  }
  if (!win_is_hex(win_str(rec, "old"), 40)) {
    h->donef(s, RD_ESTATE, NULL,
               "%s: there was no old certificate, so the new one %s stays", win_out(rec, "store"),
               win_out(rec, "new"));
    json_decref(rec);
    return 0;
  }
  a = json_pack("{s:s, s:s, s:s}", "store", win_out(rec, "store"), "new", win_out(rec, "new"), "old",
                win_out(rec, "old"));
  json_decref(rec);
  return win_run(s, h, &win_install_remove_script, a, install_removed);
}

const rd_step_kind windows_kind_install = {
    .type = TYPE,
    .summary = "check the accepted certificate and its private key are in the store; rollback "
               "removes it",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = RD_KIND_INSTALL,
    .validate = install_validate,
    .probe = install_probe,
    .apply = install_apply,
    .verify = install_verify,
    .rollback = install_rollback,
};
