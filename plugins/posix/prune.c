/* prune.c — `posix.prune`: removes old backups left by posix.install.
 *
 * params: {"keep": N >= 1 (default 2)}
 * Backups are <path>.renewd-YYYYmmddTHHMMSSZ[-N] of the certificate section's
 * cert, key and chain; everything beyond the newest N of each goes. The
 * script only ever lists names of that pattern and checks each again right
 * before rm: the live files, the issuer's staged key (.renewd-new) and temp
 * files are never touched. The backups journaled by this job's install are
 * protected as well.
 * probe: lists what would go. apply: removes it. verify: nothing is left
 * beyond N.
 * No rollback: nothing removed can be put back, and none is needed — keep
 * >= 1 guarantees that the newest backup, the one install made in this job
 * and a rollback restores from, survives (and it is protected explicitly).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.prune"

static const rd_script posix_prune_list_script =
    POSIX_SCRIPT("posix.prune.list", 0, POSIX_SH_PRUNE_LIB POSIX_SH_PRUNE_LIST);
static const rd_script posix_prune_apply_script =
    POSIX_SCRIPT("posix.prune.apply", 1, POSIX_SH_PRUNE_LIB POSIX_SH_PRUNE_APPLY);

static const char *const prune_keys[] = {"keep", NULL};

static int prune_validate(const json_t *params, char *err, size_t errlen) {
  const json_t *k = json_object_get(params, "keep");
  int rc;
  if ((rc = rd_check_keys(params, TYPE, prune_keys, err, errlen)))
    return rc;
  if (k && (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > 1000)) {
    snprintf(err, errlen,
             "%s: \"keep\" must be a whole number from 1 to 1000 (the newest backup is what a "
             "rollback restores)",
             TYPE);
    return RD_EINVAL;
  }
  return 0;
}

/* The script's arguments: paths, keep, and the protected backups. */
static json_t *prune_args(rd_step *s, const rd_host_api *h, const posix_paths *p) {
  const json_t *k = json_object_get(h->params(s), "keep");
  json_t *a = posix_args(), *b = h->journal_get(s, "install.backups");
  const json_t *fb = json_object_get(json_object_get(h->facts(s), "installed"), "backups");
  const char *names[] = {"cert", "key", "chain"};
  char keep[32], protect[8192] = "";
  snprintf(keep, sizeof keep, "%lld", k ? (long long)json_integer_value(k) : 2LL);
  for (size_t i = 0; i < 3; i++) {
    const char *v[2] = {posix_str(b, names[i]), posix_str(fb, names[i])};
    for (size_t j = 0; j < 2; j++)
      if (v[j] && strlen(protect) + strlen(v[j]) + 2 < sizeof protect)
        snprintf(protect + strlen(protect), sizeof protect - strlen(protect), "%s\n", v[j]);
  }
  json_decref(b);
  posix_arg(a, "cert", p->cert);
  /* a combined file (key, or chain, in the certificate file) is one file
   * with one series of backups: listed once */
  posix_arg(a, "key", posix_combined(p) ? NULL : p->key);
  posix_arg(a, "chain", p->chain && !strcmp(p->chain, p->cert) ? NULL : p->chain);
  posix_arg(a, "keep", keep);
  posix_arg(a, "protect", protect);
  return a;
}

static json_t *prune_changes(const json_t *files) {
  json_t *res = rd_result_new(), *f;
  size_t i;
  char what[1100];
  json_array_foreach(files, i, f) {
    snprintf(what, sizeof what, "backup %s", json_string_value(f));
    rd_result_change(res, what, "present", "removed");
  }
  return res;
}

static void prune_listed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *files = posix_out_lines(out, "remove");
  size_t n = json_array_size(files);
  json_t *res = prune_changes(files);
  json_object_set_new(res, "detail", json_pack("{s:o}", "kept", posix_out_lines(out, "backups")));
  json_decref(files);
  if (n)
    h->donef(s, 0, res, "would remove %zu old backup%s", n, n == 1 ? "" : "s");
  else
    h->donef(s, 0, res, "no old backups beyond the newest to remove");
}

static void prune_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *files = posix_out_lines(out, "remove");
  size_t n = json_array_size(files);
  if (n)
    h->donef(s, RD_EVERIFY, NULL, "%zu old backup%s still present, e.g. %s", n,
                 n == 1 ? "" : "s", json_string_value(json_array_get(files, 0)));
  else
    h->donef(s, 0, NULL, "no old backups beyond the newest");
  json_decref(files);
}

static void prune_removed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *files = posix_out_lines(out, "removed");
  size_t n = json_array_size(files);
  h->donef(s, 0, prune_changes(files), "removed %zu old backup%s", n, n == 1 ? "" : "s");
  json_decref(files);
}

static int prune_run(rd_step *s, const rd_host_api *h, const rd_script *sc, posix_ok_fn ok) {
  posix_paths p;
  char err[512];
  if (posix_paths_get(s, h, &p, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return 0;
  }
  return posix_run(s, h, sc, prune_args(s, h, &p), ok);
}

static int prune_probe(rd_step *s, const rd_host_api *h) {
  return prune_run(s, h, &posix_prune_list_script, prune_listed);
}
static int prune_apply(rd_step *s, const rd_host_api *h) {
  return prune_run(s, h, &posix_prune_apply_script, prune_removed);
}
static int prune_verify(rd_step *s, const rd_host_api *h) {
  return prune_run(s, h, &posix_prune_list_script, prune_verified);
}

const rd_step_kind posix_kind_prune = {
    .type = TYPE,
    .summary = "remove old <path>.renewd-* backups beyond the newest N (never live files)",
    .platform = RD_PLATFORM_POSIX,
    .flags = 0,
    .validate = prune_validate,
    .probe = prune_probe,
    .apply = prune_apply,
    .verify = prune_verify,
    .rollback = NULL, /* see the comment at the top */
};
