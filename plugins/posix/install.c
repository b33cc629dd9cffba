/* install.c — `posix.install`: puts facts.new_cert and the staged key in
 * place on a POSIX target.
 *
 * probe (read-only): old serial/sha1 -> new for the certificate path, the
 *   key, the chain; "already installed" when the live certificate is the new
 *   one and the live key matches it.
 * apply: (1) backups of the live cert, key and chain to
 *   <path>.renewd-<UTC timestamp> (cp -p, temp + rename), whose paths go to
 *   the journal ("install.backups") BEFORE anything is replaced; (2) the new
 *   certificate (and facts.ca_pem as the chain) via temp + fsync + rename;
 *   the staged key (facts.staged.key, checked against the new certificate on
 *   the target) gets the old key's owner, group and mode and is renamed over
 *   the live key. Re-running after a crash finishes what is left.
 * verify: live certificate SHA-256 == the new one, and the key matches it.
 * rollback: the journaled backups are copied back (temp + rename), so it
 *   works after a crash too; the old files return byte for byte.
 * Combined layout ("cert" and "key" the same path, as haproxy wants it): the
 *   file is rebuilt as new certificate + facts.ca_pem + the key's PEM block
 *   and replaced once (temp + fsync + rename, owner and mode kept); one
 *   backup serves as the cert's and the key's, and rollback restores it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.install"
#define JKEY "install.backups"

static const rd_script posix_install_probe_script =
    POSIX_SCRIPT("posix.install.probe", 0, POSIX_SH_INSTALL_PROBE);
static const rd_script posix_install_verify_script =
    POSIX_SCRIPT("posix.install.verify", 0, POSIX_SH_INSTALL_PROBE);
static const rd_script posix_install_backup_script =
    POSIX_SCRIPT("posix.install.backup", 1, POSIX_SH_INSTALL_BACKUP);
static const rd_script posix_install_apply_script =
    POSIX_SCRIPT("posix.install.apply", 1, POSIX_SH_INSTALL_APPLY);
static const rd_script posix_install_rollback_script =
    POSIX_SCRIPT("posix.install.rollback", 1, POSIX_SH_INSTALL_ROLLBACK);

static int install_validate(const json_t *params, char *err, size_t errlen) {
  return rd_check_keys(params, TYPE, NULL, err, errlen);
}

/* "serial 1A2B, sha1 e03b…" of a facts object, or the placeholder. */
static void describe(const json_t *c, const char *none, char *buf, size_t len) {
  if (!c || !posix_str(c, "sha1"))
    snprintf(buf, len, "%s", none);
  else
    snprintf(buf, len, "serial %s, sha1 %s", posix_str(c, "serial") ? posix_str(c, "serial") : "?",
             posix_str(c, "sha1"));
}

static const json_t *new_cert(rd_step *s, const rd_host_api *h) {
  const json_t *c = json_object_get(h->facts(s), "new_cert");
  return json_is_object(c) ? c : NULL;
}

static const char *staged_key(rd_step *s, const rd_host_api *h) {
  return posix_fact(s, h, "staged.key");
}

/* Common arguments: the paths. */
static json_t *path_args(const posix_paths *p) {
  json_t *a = posix_args();
  posix_arg(a, "cert", p->cert);
  posix_arg(a, "key", p->key);
  posix_arg(a, "chain", p->chain);
  return a;
}

static int paths_or_finish(rd_step *s, const rd_host_api *h, posix_paths *p) {
  char err[512];
  if (posix_paths_get(s, h, p, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return -1;
  }
  return 0;
}

/* The changes install makes, old -> new. */
static json_t *install_changes(rd_step *s, const rd_host_api *h, const posix_paths *p) {
  json_t *res = rd_result_new();
  char what[1200], o[300], n[300];
  const char *staged = staged_key(s, h);
  describe(json_object_get(h->facts(s), "cert"), "(none)", o, sizeof o);
  describe(new_cert(s, h), "(new certificate)", n, sizeof n);
  if (posix_combined(p)) {
    /* one file: certificate, chain and key replaced together */
    snprintf(what, sizeof what, "certificate, chain and key %s (one file)", p->cert);
    rd_result_change(res, what, o, n);
    return res;
  }
  snprintf(what, sizeof what, "certificate %s", p->cert);
  rd_result_change(res, what, o, n);
  snprintf(what, sizeof what, "private key %s", p->key);
  if (!staged || strcmp(staged, p->key))
    rd_result_change(res, what, "current key", staged ? staged : "(new key)");
  if (p->chain && (posix_fact(s, h, "ca_pem") || !new_cert(s, h))) {
    snprintf(what, sizeof what, "chain %s", p->chain);
    rd_result_change(res, what, "current chain", "the issuer's CA certificates");
  }
  return res;
}

/* --- probe ------------------------------------------------------------------ */

static void install_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  posix_paths p;
  const json_t *nc = new_cert(s, h);
  if (paths_or_finish(s, h, &p))
    return;
  if (nc && posix_str(nc, "sha256") && posix_out_is(out, "live_sha256", posix_str(nc, "sha256")) &&
      posix_out_is(out, "key_match", "1") && !posix_out_is(out, "staged_exists", "1")) {
    h->donef(s, 0, rd_result_new(), "%s: already installed (sha256 %s)", p.cert,
                 posix_str(nc, "sha256"));
    return;
  }
  json_t *res = install_changes(s, h, &p);
  json_object_set_new(res, "detail",
                      json_pack("{s:s, s:b}", "live_sha256", posix_out(out, "live_sha256"),
                                "staged_present", posix_out_is(out, "staged_exists", "1")));
  h->donef(s, 0, res, "%s: would install %s%s", p.cert,
               nc ? "the new certificate" : "(new certificate)",
               nc && !posix_out_is(out, "staged_exists", "1") &&
                       !(staged_key(s, h) && !strcmp(staged_key(s, h), p.key))
                   ? "; the staged key is not on the target"
                   : "");
}

static int install_probe(rd_step *s, const rd_host_api *h) {
  posix_paths p;
  json_t *args;
  if (paths_or_finish(s, h, &p))
    return 0;
  if (!new_cert(s, h)) {
    /* before the issuer ran (a plan): the inventory already read what the
     * target could tell, so no round trip is needed to describe the change */
    h->donef(s, 0, install_changes(s, h, &p), "%s: would install (new certificate)", p.cert);
    return 0;
  }
  args = path_args(&p);
  posix_arg(args, "staged_key", staged_key(s, h));
  return posix_run(s, h, &posix_install_probe_script, args, install_probed);
}

/* --- apply ------------------------------------------------------------------ */

static void install_applied(rd_step *s, const rd_host_api *h, const json_t *out) {
  posix_paths p;
  json_t *facts = h->facts(s), *b = h->journal_get(s, JKEY), *res;
  if (paths_or_finish(s, h, &p)) {
    json_decref(b);
    return;
  }
  json_object_set_new(facts, "installed",
                      json_pack("{s:o}", "backups", b ? json_deep_copy(b) : json_object()));
  json_decref(b);
  if (posix_out_is(out, "already", "1")) {
    h->donef(s, 0, rd_result_new(), "%s: already installed", p.cert);
    return;
  }
  res = install_changes(s, h, &p);
  h->donef(s, 0, res, "%s: new certificate installed (sha256 %s)", p.cert,
               posix_str(new_cert(s, h), "sha256"));
}

static void install_write(rd_step *s, const rd_host_api *h) {
  posix_paths p;
  const json_t *nc = new_cert(s, h);
  json_t *args;
  if (paths_or_finish(s, h, &p))
    return;
  args = path_args(&p);
  posix_arg(args, "new_cert", posix_str(nc, "pem"));
  posix_arg(args, "new_sha256", posix_str(nc, "sha256"));
  posix_arg(args, "staged_key", staged_key(s, h));
  posix_arg(args, "ca_pem", posix_fact(s, h, "ca_pem"));
  posix_next(s, h, &posix_install_apply_script, args, install_applied);
}

static void install_backed_up(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *b = json_object();
  const char *names[] = {"cert", "key", "chain"};
  int rc;
  for (size_t i = 0; i < 3; i++) {
    const char *v = posix_out(out, names[i]);
    json_object_set_new(b, names[i], *v ? json_string(v) : json_null());
  }
  json_object_set_new(b, "ts", json_string(posix_out(out, "ts")));
  /* Durable before anything is replaced: a rollback after a crash needs it. */
  rc = h->journal_put(s, JKEY, b);
  json_decref(b);
  if (rc < 0) {
    h->donef(s, rc, NULL, "cannot journal the backup paths: %s", h->strerror(rc));
    return;
  }
  install_write(s, h);
}

static int install_apply(rd_step *s, const rd_host_api *h) {
  posix_paths p;
  const json_t *nc = new_cert(s, h);
  json_t *j, *args;
  if (paths_or_finish(s, h, &p))
    return 0;
  if (!nc || !posix_str(nc, "pem") || !posix_str(nc, "sha256")) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new certificate to install (facts.new_cert)", p.cert);
    return 0;
  }
  if (!staged_key(s, h)) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new key to install (facts.staged.key)", p.key);
    return 0;
  }
  if (h->whatif(s))
    return RD_EWHATIF;
  /* Backups already journaled (a re-run after a crash or a retry): they hold
   * the old files; backing up again could copy the new ones. */
  if ((j = h->journal_get(s, JKEY))) {
    json_decref(j);
    install_write(s, h);
    return 0;
  }
  args = path_args(&p);
  posix_arg(args, "new_sha256", posix_str(nc, "sha256"));
  return posix_run(s, h, &posix_install_backup_script, args, install_backed_up);
}

/* --- verify ----------------------------------------------------------------- */

static void install_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  posix_paths p;
  const char *want = posix_str(new_cert(s, h), "sha256");
  if (paths_or_finish(s, h, &p))
    return;
  if (!posix_out_is(out, "live_sha256", want))
    h->donef(s, RD_EVERIFY, NULL, "%s: live certificate sha256 %s, expected %s", p.cert,
                 *posix_out(out, "live_sha256") ? posix_out(out, "live_sha256") : "(none)", want);
  else if (!posix_out_is(out, "key_match", "1"))
    h->donef(s, RD_EVERIFY, NULL, "%s: the key does not match the new certificate %s (%s)",
                 p.key, p.cert, *posix_out(out, "key_match") ? posix_out(out, "key_match") : "missing");
  else
    h->donef(s, 0, NULL, "%s: new certificate live (sha256 %s), key matches", p.cert, want);
}

static int install_verify(rd_step *s, const rd_host_api *h) {
  posix_paths p;
  json_t *args;
  if (paths_or_finish(s, h, &p))
    return 0;
  if (!posix_str(new_cert(s, h), "sha256")) {
    h->donef(s, RD_ESTATE, NULL, "%s: no new certificate to verify (facts.new_cert)", p.cert);
    return 0;
  }
  args = path_args(&p);
  posix_arg(args, "staged_key", NULL);
  return posix_run(s, h, &posix_install_verify_script, args, install_verified);
}

/* --- rollback --------------------------------------------------------------- */

static void install_rolled_back(rd_step *s, const rd_host_api *h, const json_t *out) {
  posix_paths p;
  json_t *res = rd_result_new();
  char what[1100];
  const char *names[] = {"cert", "key", "chain"};
  int n = 0;
  if (paths_or_finish(s, h, &p)) {
    json_decref(res);
    return;
  }
  for (size_t i = 0; i < 3; i++) {
    char k[32];
    snprintf(k, sizeof k, "restored_%s", names[i]);
    if (*posix_out(out, k)) {
      snprintf(what, sizeof what, "%s %s", names[i],
               i == 0 ? p.cert : i == 1 ? p.key : p.chain ? p.chain : "");
      rd_result_change(res, what, "new", posix_out(out, k));
      n++;
    }
  }
  h->donef(s, 0, res, "%s: %s", p.cert,
               n ? "old certificate and key restored from the backups"
                 : "the old files were already in place");
}

static int install_rollback(rd_step *s, const rd_host_api *h) {
  posix_paths p;
  json_t *b, *args;
  if (paths_or_finish(s, h, &p))
    return 0;
  b = h->journal_get(s, JKEY);
  if (!b) {
    const json_t *fb = json_object_get(json_object_get(h->facts(s), "installed"), "backups");
    b = fb ? json_incref((json_t *)fb) : NULL;
  }
  if (!b || !json_is_object(b) ||
      (!posix_str(b, "cert") && !posix_str(b, "key") && !posix_str(b, "chain"))) {
    json_decref(b);
    h->donef(s, 0, NULL, "%s: no backups recorded, nothing to restore", p.cert);
    return 0;
  }
  args = path_args(&p);
  posix_arg(args, "backup_cert", posix_str(b, "cert"));
  posix_arg(args, "backup_key", posix_str(b, "key"));
  posix_arg(args, "backup_chain", posix_str(b, "chain"));
  json_decref(b);
  return posix_run(s, h, &posix_install_rollback_script, args, install_rolled_back);
}

const rd_step_kind posix_kind_install = {
    .type = TYPE,
    .summary = "install the new certificate and key atomically, old files kept as backups",
    .platform = RD_PLATFORM_POSIX,
    .flags = RD_KIND_INSTALL,
    .validate = install_validate,
    .probe = install_probe,
    .apply = install_apply,
    .verify = install_verify,
    .rollback = install_rollback,
};
