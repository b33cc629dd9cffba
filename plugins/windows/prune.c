/* prune.c — `windows.prune_duplicates`: removes the certificates the new
 * one supersedes. NDES cannot tell two RA certificates of one template
 * apart and refuses to start (Event 10, then Event 2 with 0x80070057).
 *
 * params: {"match": "template" (default: same template as the new
 *          certificate — v2 OID, else v1 name) | "subject" (same subject)
 *          | "selector" (the runbook's certificate selector),
 *          "backup_dir": absolute path on the target (default
 *          C:\ProgramData\renewd\backup)}
 * Candidates are decided here from the store listing: they match, are not
 * the new certificate (facts.expect, else facts.new_cert), nothing serves
 * them (store_list's "uses": an HTTP.sys binding, the RDP listener), and
 * they are older: not_before and not_after no later than the new one's —
 * or expired, whenever issued. A match that expires after the new
 * certificate, or is in use, is kept and reported, never removed.
 * The target script checks again, per certificate, and refuses everything
 * unless the new certificate is in the store with its private key.
 * Each removed certificate's DER goes to <backup_dir>\<thumbprint>.cer
 * first (the certificate only, never the key). Remove-Item without
 * -DeleteKey leaves the private key in place, so the rollback re-imports
 * the .cer and re-links its key (certutil -repairstore); old keys stay on
 * disk (docs/WINDOWS.md).
 * Order: the runbook puts this step after the steps that prove the new
 * certificate works — but before a restart of a service that refuses
 * duplicates (NDES), whose check then runs with the duplicates gone.
 * probe: what would go. apply: journals the list, removes, journals the
 * backups. verify: none of them is left. rollback: restores them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "windows_plugin.h"
#include "windows_store.h"
#include "windows_util.h"

#define TYPE "windows.prune_duplicates"
#define DEFAULT_BACKUP "C:\\ProgramData\\renewd\\backup"

static const rd_script win_prune_apply_script =
    WIN_SCRIPT("windows.prune.apply", 1, WIN_PS_CERT_LIB WIN_PS_PRUNE_APPLY);
static const rd_script win_prune_restore_script =
    WIN_SCRIPT("windows.prune.restore", 1, WIN_PS_CERT_LIB WIN_PS_PRUNE_RESTORE);
const rd_script *const windows_prune_scripts[] = {&win_prune_apply_script,
                                                  &win_prune_restore_script, NULL};

static const char *const prune_keys[] = {"match", "backup_dir", NULL};
static const char *const prune_matches[] = {"template", "subject", "selector", NULL};

static int prune_validate(const json_t *params, char *err, size_t errlen) {
  int rc;
  if ((rc = rd_check_keys(params, TYPE, prune_keys, err, errlen)) ||
      (rc = win_check_enum(params, "match", 0, prune_matches, TYPE, err, errlen)) ||
      (rc = win_check_string(params, "backup_dir", 0, 200, TYPE, err, errlen)))
    return rc;
  if (json_object_get(params, "backup_dir") && !win_abs_path(win_str(params, "backup_dir"))) {
    snprintf(err, errlen, "%s: \"backup_dir\" must be an absolute local path such as "
             "\"C:\\\\ProgramData\\\\renewd\\\\backup\", without \"..\"", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct prune_cfg {
  const char *match, *backup_dir;
  win_selector sel;
  const json_t *ref; /* the new certificate, or NULL (whatif) */
  char ref_thumb[41];
  char jkey[300];
} prune_cfg;

static int cfg_get(rd_step *s, const rd_host_api *h, prune_cfg *c) {
  const json_t *pa = h->params(s);
  char err[512];
  memset(c, 0, sizeof *c);
  c->match = win_str(pa, "match") ? win_str(pa, "match") : "template";
  c->backup_dir = win_str(pa, "backup_dir") ? win_str(pa, "backup_dir") : DEFAULT_BACKUP;
  if (win_selector_get(s, h, &c->sel, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return -1;
  }
  c->ref = win_expected_cert(s, h);
  if (!c->ref || !win_cert_thumb(c->ref, c->ref_thumb))
    c->ref = NULL;
  snprintf(c->jkey, sizeof c->jkey, "prune_duplicates:%s", c->sel.store);
  return 0;
}

/* Does rec match the reference the way params.match says? */
static int matches(const prune_cfg *c, const json_t *ref, const json_t *rec) {
  if (!strcmp(c->match, "subject"))
    return win_str(ref, "subject") && win_str(rec, "subject") &&
           !strcmp(win_str(ref, "subject"), win_str(rec, "subject"));
  if (!strcmp(c->match, "selector"))
    return win_selector_matches(&c->sel, rec);
  return win_same_template(ref, rec) == 1;
}

/* Splits the listing into what goes and what stays (both new arrays of
 * briefs, with "reason" for kept ones). Without a new certificate the
 * reference is the live one and everything matching it would go. Returns
 * -1 after completing when the reference carries no template. */
static int plan(rd_step *s, const rd_host_api *h, const prune_cfg *c, const json_t *recs,
                json_t **remove, json_t **kept) {
  const json_t *ref = c->ref ? c->ref : win_live_cert(s, h), *r;
  char t[41];
  size_t i;
  *remove = json_array();
  *kept = json_array();
  if (!ref) {
    return 0;
  }
  if (!strcmp(c->match, "template") && win_same_template(ref, ref) < 0) {
    h->donef(s, RD_ECONFIG, NULL,
               "certificate %s carries no template extension: use \"match\": \"subject\" or "
               "\"selector\"",
               win_out(ref, "thumbprint"));
    json_decref(*remove);
    json_decref(*kept);
    return -1;
  }
  win_cert_thumb(ref, t);
  json_array_foreach(recs, i, r) {
    const char *rt = win_str(r, "thumbprint");
    if (!rt || !strcasecmp(rt, t) || !matches(c, ref, r))
      continue;
    if (!c->ref) { /* whatif: the new certificate supersedes all of them */
      json_array_append_new(*remove, win_record_brief(r));
      continue;
    }
    if (json_array_size(json_object_get(r, "in_use"))) {
      char why[600];
      json_t *b = win_record_brief(r);
      snprintf(why, sizeof why, "in use: %s", json_string_value(json_array_get(json_object_get(r, "in_use"), 0)));
      json_object_set_new(b, "reason", json_string(why));
      json_array_append_new(*kept, b);
      continue;
    }
    /* an expired one goes whenever it was issued */
    if (win_int(r, "not_after", 0) > win_int(ref, "not_after", 0) ||
        (win_int(r, "not_before", 0) > win_int(ref, "not_before", 0) &&
         win_int(r, "not_after", 0) > (long long)time(NULL))) {
      json_t *b = win_record_brief(r);
      json_object_set_new(b, "reason", json_string(win_int(r, "not_after", 0) > win_int(ref, "not_after", 0)
                                                       ? "expires after the new certificate"
                                                       : "issued after the new certificate"));
      json_array_append_new(*kept, b);
      continue;
    }
    json_array_append_new(*remove, win_record_brief(r));
  }
  if (!c->ref) /* the live certificate itself goes too, once replaced */
    json_array_insert_new(*remove, 0, win_record_brief(ref));
  return 0;
}

static json_t *changes_of(const prune_cfg *c, const json_t *list, const char *old, const char *new_) {
  json_t *res = rd_result_new();
  const json_t *b;
  size_t i;
  char what[900], when[40];
  json_array_foreach(list, i, b) {
    win_time(win_int(b, "not_after", 0), when, sizeof when);
    snprintf(what, sizeof what, "certificate %s in %s (%s, expires %s)", win_out(b, "thumbprint"),
             c->sel.store, win_out(b, "subject"), when);
    rd_result_change(res, what, old, new_);
  }
  return res;
}

static int list_store(rd_step *s, const rd_host_api *h, const prune_cfg *c, win_ok_fn ok) {
  return win_run(s, h, &win_store_list_script, win_store_args(c->sel.store, NULL, 0), ok);
}

/* --- probe ---------------------------------------------------------------------------- */

/* The configuration and the plan from a store listing; non-zero after
 * completing (a configuration error, nothing safe to remove). */
static int listed_plan(rd_step *s, const rd_host_api *h, const json_t *out, prune_cfg *c,
                       json_t **remove, json_t **kept) {
  json_t *recs;
  int rc;
  if (cfg_get(s, h, c))
    return -1;
  recs = win_store_records(h, out, NULL);
  rc = plan(s, h, c, recs, remove, kept);
  json_decref(recs);
  return rc;
}

static void prune_listed(rd_step *s, const rd_host_api *h, const json_t *out) {
  prune_cfg c;
  json_t *remove, *kept, *res;
  size_t n;
  if (listed_plan(s, h, out, &c, &remove, &kept))
    return;
  n = json_array_size(remove);
  res = changes_of(&c, remove, "present", "removed (backup .cer kept)");
  json_object_set_new(res, "detail", json_pack("{s:o, s:s}", "kept", kept, "backup_dir", c.backup_dir));
  if (!n)
    h->donef(s, 0, res, "%s: no superseded certificates to remove", c.sel.store);
  else if (!c.ref)
    h->donef(s, 0, res, "%s: would remove %zu certificate%s superseded by the new one, once "
               "it is in place", c.sel.store, n, n == 1 ? "" : "s");
  else
    h->donef(s, 0, res, "%s: would remove %zu superseded certificate%s%s", c.sel.store, n,
               n == 1 ? "" : "s", json_array_size(kept) ? " (some newer ones are kept)" : "");
  json_decref(remove);
}

/* The store listed for ok() (probe, verify), after the configuration. */
static int configured_list(rd_step *s, const rd_host_api *h, win_ok_fn ok) {
  prune_cfg c;
  if (cfg_get(s, h, &c))
    return 0;
  return list_store(s, h, &c, ok);
}

static int prune_probe(rd_step *s, const rd_host_api *h) {
  return configured_list(s, h, prune_listed);
}

/* --- apply ------------------------------------------------------------------------------ */

static void prune_removed(rd_step *s, const rd_host_api *h, const json_t *out) {
  prune_cfg c;
  json_t *rec, *removed = json_array(), *res;
  const json_t *r;
  size_t i;
  int rc;
  if (cfg_get(s, h, &c)) {
    json_decref(removed);
    return;
  }
  rec = h->journal_get(s, c.jkey);
  json_array_foreach(json_object_get(out, "results"), i, r) {
    if (!strcmp(win_out(r, "state"), "removed"))
      json_array_append_new(removed, json_pack("{s:s, s:s}", "thumbprint", win_out(r, "thumbprint"),
                                               "backup", win_out(r, "backup")));
  }
  json_object_set(rec, "removed", removed);
  json_object_set_new(rec, "done", json_true());
  if ((rc = h->journal_put(s, c.jkey, rec)) < 0) {
    h->donef(s, rc, NULL, "cannot journal the backups: %s", h->strerror(rc));
  } else {
    res = changes_of(&c, json_object_get(rec, "planned"), "present", "removed");
    json_object_set_new(res, "detail", json_pack("{s:O}", "removed", removed));
    h->donef(s, 0, res, "%s: removed %zu superseded certificate%s (backups in %s)", c.sel.store,
               json_array_size(removed), json_array_size(removed) == 1 ? "" : "s", c.backup_dir);
  }
  json_decref(removed);
  json_decref(rec);
}

static void prune_listed_for_apply(rd_step *s, const rd_host_api *h, const json_t *out) {
  prune_cfg c;
  json_t *remove, *kept, *rec, *thumbs;
  const json_t *b;
  size_t i;
  int rc;
  if (listed_plan(s, h, out, &c, &remove, &kept))
    return;
  json_decref(kept);
  if (!json_array_size(remove)) {
    json_decref(remove);
    h->donef(s, 0, rd_result_new(), "%s: no superseded certificates to remove", c.sel.store);
    return;
  }
  /* durable before anything is removed: a rollback after a crash knows
   * what may be gone and where its backup is */
  thumbs = json_array();
  json_array_foreach(remove, i, b) {
    json_array_append_new(thumbs, json_string(win_out(b, "thumbprint")));
  }
  rec = json_pack("{s:o, s:s, s:s, s:[]}", "planned", remove, "backup_dir", c.backup_dir, "new",
                  c.ref_thumb, "removed");
  rc = h->journal_put(s, c.jkey, rec);
  json_decref(rec);
  if (rc < 0) {
    json_decref(thumbs);
    h->donef(s, rc, NULL, "cannot journal the certificates to remove: %s", h->strerror(rc));
    return;
  }
  win_next(s, h, &win_prune_apply_script,
           json_pack("{s:s, s:s, s:o, s:s}", "store", c.sel.store, "new", c.ref_thumb, "remove",
                     thumbs, "backup_dir", c.backup_dir),
           prune_removed);
}

static int prune_apply(rd_step *s, const rd_host_api *h) {
  prune_cfg c;
  if (cfg_get(s, h, &c))
    return 0;
  if (h->whatif(s))
    return RD_EWHATIF;
  if (!c.ref) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new certificate yet (facts.new_cert): nothing is "
               "superseded", c.sel.store);
    return 0;
  }
  return list_store(s, h, &c, prune_listed_for_apply);
}

/* --- verify / rollback ------------------------------------------------------------------ */

static void prune_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  prune_cfg c;
  json_t *recs, *rec;
  const json_t *b;
  size_t i, left = 0;
  char first[41] = "";
  if (cfg_get(s, h, &c))
    return;
  recs = win_store_records(h, out, NULL);
  rec = h->journal_get(s, c.jkey);
  json_array_foreach(json_object_get(rec, "planned"), i, b) {
    if (win_store_find(recs, win_str(b, "thumbprint"))) {
      if (!left++)
        snprintf(first, sizeof first, "%s", win_out(b, "thumbprint"));
    }
  }
  if (left)
    h->donef(s, RD_EVERIFY, NULL, "%s: %zu superseded certificate%s still there, e.g. %s",
               c.sel.store, left, left == 1 ? " is" : "s are", first);
  else
    h->donef(s, 0, NULL, "%s: no superseded certificate left (%zu removed)", c.sel.store,
               json_array_size(json_object_get(rec, "planned")));
  json_decref(rec);
  json_decref(recs);
}

static int prune_verify(rd_step *s, const rd_host_api *h) {
  return configured_list(s, h, prune_verified);
}

/* "strict" (the data pointer): the list is what apply reported removed,
 * so each must come back; otherwise it is the plan of an apply that did
 * not finish, and one without a backup was never removed. */
static void prune_restored(rd_step *s, const rd_host_api *h, const json_t *out) {
  prune_cfg c;
  const json_t *r;
  size_t i, restored = 0, nokey = 0, missing = 0;
  int strict = h->data(s) != NULL;
  if (cfg_get(s, h, &c))
    return;
  json_array_foreach(json_object_get(out, "results"), i, r) {
    const char *st = win_out(r, "state");
    if (!strcmp(st, "restored") || !strcmp(st, "present")) {
      restored++;
      nokey += !win_bool(r, "has_key");
    } else if (strict) {
      missing++;
    }
  }
  if (missing)
    h->donef(s, RD_ESTATE, NULL, "%s: %zu removed certificate%s could not be restored (no "
               "backup .cer in %s)", c.sel.store, missing, missing == 1 ? "" : "s", c.backup_dir);
  else
    h->donef(s, nokey ? RD_ESTATE : 0, NULL, "%s: %zu certificate%s restored%s", c.sel.store,
               restored, restored == 1 ? "" : "s",
               nokey ? ", but certutil -repairstore found no private key for some" : "");
}

static int prune_rollback(rd_step *s, const rd_host_api *h) {
  prune_cfg c;
  json_t *rec, *items;
  const json_t *b, *list;
  size_t i;
  int strict;
  if (cfg_get(s, h, &c))
    return 0;
  rec = h->journal_get(s, c.jkey);
  strict = win_bool(rec, "done");
  list = json_object_get(rec, strict ? "removed" : "planned");
  if (!rec || !json_array_size(list)) {
    json_decref(rec);
    h->donef(s, 0, NULL, "%s: nothing was removed, nothing to restore", c.sel.store);
    return 0;
  }
  /* backups are <backup_dir>\<thumbprint>.cer, written before each removal */
  items = json_array();
  json_array_foreach(list, i, b) {
    char path[600];
    snprintf(path, sizeof path, "%s\\%s.cer", win_out(rec, "backup_dir"), win_out(b, "thumbprint"));
    json_array_append_new(items, json_pack("{s:s, s:s}", "thumbprint", win_out(b, "thumbprint"),
                                           "backup", path));
  }
  json_decref(rec);
  h->set_data(s, strict ? (void *)1 : NULL, NULL);
  return win_run(s, h, &win_prune_restore_script,
                 json_pack("{s:s, s:o}", "store", c.sel.store, "items", items), prune_restored);
}

const rd_step_kind windows_kind_prune_duplicates = {
    .type = TYPE,
    .summary = "remove superseded certificates of the same template (backup .cer kept; never a "
               "newer one)",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = 0,
    .validate = prune_validate,
    .probe = prune_probe,
    .apply = prune_apply,
    .verify = prune_verify,
    .rollback = prune_rollback,
};
