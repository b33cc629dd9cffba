/* key_acl.c — `windows.key_acl`: lets a service account read the new
 * certificate's private key (NDES app pool identity, SCOM Health Service).
 *
 * params: {"account": "CORP\\svc_ndes" (required; resolved to a SID on the
 *          target), "rights": "read" (default: Read, Synchronize) | "full"
 *          (FullControl)} — case-insensitive; "app_pool": "SCEP" (optional):
 *          the IIS application pool that reads the key — probe and apply
 *          first check that it runs as "account" (windows_apppool.h).
 * The key file is found on the target from the certificate (facts.expect,
 * else facts.new_cert): CAPI keys under %ProgramData%\Microsoft\Crypto\RSA\
 * MachineKeys\<UniqueKeyContainerName>, CNG keys under ...\Crypto\Keys\
 * <unique name>. Only allow rules naming that SID count (explicit or
 * inherited; rights through a group do not).
 * probe: whether the account has the rights already (old -> new).
 * apply: journals {path, account, rights, added} first, then adds an allow
 *   rule through the file's DACL only (Get-Item .GetAccessControl('Access')
 *   / .SetAccessControl: the owner is never rewritten).
 * verify: the account has the rights.
 * rollback: removes the rule, only if apply added it (from the journal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "windows_apppool.h"
#include "windows_keyfile.h"
#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.key_acl"
#define READ_MASK 0x120089LL /* Read (ReadData|ReadEA|ReadAttributes|ReadPermissions) | Synchronize */
#define FULL_MASK 0x1F01FFLL /* FullControl */

static const rd_script win_key_acl_read_script =
    WIN_SCRIPT("windows.key_acl.read", 0, WIN_PS_CERT_LIB WIN_PS_ACL_LIB WIN_PS_KEY_ACL_READ);
static const rd_script win_key_acl_set_script =
    WIN_SCRIPT("windows.key_acl.set", 1, WIN_PS_ACL_LIB WIN_PS_KEY_ACL_SET);
const rd_script *const windows_key_acl_scripts[] = {
    &win_key_acl_read_script, &win_key_acl_set_script, &win_key_acl_pool_script, NULL};

static const char *const acl_keys[] = {"account", "rights", "app_pool", NULL};

static int pool_name_ok(const char *p) {
  size_t n = strlen(p);
  if (!n || n > 64)
    return 0;
  for (; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          strchr(" ._-", *p)))
      return 0;
  return 1;
}

static int acl_validate(const json_t *params, char *err, size_t errlen) {
  const char *r = win_str(params, "rights");
  int rc;
  if ((rc = rd_check_keys(params, TYPE, acl_keys, err, errlen)) ||
      (rc = win_check_string(params, "account", 1, 256, TYPE, err, errlen)) ||
      (rc = win_check_string(params, "app_pool", 0, 64, TYPE, err, errlen)))
    return rc;
  if (json_object_get(params, "app_pool") && !pool_name_ok(win_str(params, "app_pool"))) {
    snprintf(err, errlen, "%s: \"app_pool\" must be an IIS application pool name such as "
             "\"SCEP\" (letters, digits, space . _ -)", TYPE);
    return RD_EINVAL;
  }
  if (!win_account_ok(win_str(params, "account"))) {
    snprintf(err, errlen, "%s: \"account\" must be an account name such as \"CORP\\\\svc_ndes\", or a "
             "SID such as \"S-1-5-18\" (SYSTEM, whose name is localised), not \"%s\"", TYPE,
             win_str(params, "account"));
    return RD_EINVAL;
  }
  if (json_object_get(params, "rights") && (!r || (strcasecmp(r, "read") && strcasecmp(r, "full")))) {
    snprintf(err, errlen, "%s: \"rights\" must be \"read\" (Read, Synchronize) or \"full\" "
             "(FullControl)", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct acl_cfg {
  const char *account, *rights; /* rights: "read" | "full" */
  const char *pool;             /* NULL: no application pool check */
  long long mask;
  const char *store;
  char thumb[41]; /* "" before the issuer ran */
  char jkey[400];
} acl_cfg;

static void cfg_get(rd_step *s, const rd_host_api *h, acl_cfg *c) {
  const json_t *pa = h->params(s);
  const char *r = win_str(pa, "rights");
  win_selector sel;
  char err[256];
  memset(c, 0, sizeof *c);
  c->account = win_str(pa, "account");
  c->pool = win_str(pa, "app_pool");
  c->rights = r && !strcasecmp(r, "full") ? "full" : "read";
  c->mask = !strcmp(c->rights, "full") ? FULL_MASK : READ_MASK;
  c->store = win_selector_get(s, h, &sel, err, sizeof err) < 0 ? WIN_DEFAULT_STORE : sel.store;
  if (!win_cert_thumb(win_expected_cert(s, h), c->thumb))
    c->thumb[0] = 0;
  /* not the thumbprint: facts.expect changes during a rollback */
  snprintf(c->jkey, sizeof c->jkey, "key_acl:%s:%s", c->account ? c->account : "", c->rights);
}

static const char *rights_text(const acl_cfg *c) {
  return !strcmp(c->rights, "full") ? "FullControl" : "Read, Synchronize";
}

static int has_rights(const acl_cfg *c, const json_t *out) {
  return (win_int(out, "rights", 0) & c->mask) == c->mask;
}

static json_t *read_args(const acl_cfg *c) {
  return json_pack("{s:s, s:s, s:s}", "store", c->store, "thumbprint", c->thumb, "account",
                   c->account);
}

static int read_acl(rd_step *s, const rd_host_api *h, const acl_cfg *c, win_ok_fn ok) {
  return win_run(s, h, &win_key_acl_read_script, read_args(c), ok);
}

/* The key file of a read (into *kf, decided by win_keyfile_decide) and the
 * account's rights on it (*acl: {rights, text}, NULL: none): 1; or 0 after
 * completing with why there is no key file. */
static int key_acl_or_finish(rd_step *s, const rd_host_api *h, const acl_cfg *c,
                             const json_t *out, win_keyfile *kf, const json_t **acl) {
  if (!win_bool(out, "found")) {
    h->donef(s, RD_ESTATE, NULL, "%s: certificate %s is not in the store", c->store, c->thumb);
    return 0;
  }
  win_keyfile_decide(json_object_get(out, "key"), kf);
  if (!win_bool(out, "has_key") || !kf->path[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s: certificate %s has no private key file renewd can find%s%s",
             c->store, c->thumb, kf->note[0] ? ": " : "", kf->note);
    return 0;
  }
  if (!kf->exists) {
    h->donef(s, RD_ESTATE, NULL, "key file %s of certificate %s does not exist%s%s", kf->path,
             c->thumb, kf->note[0] ? ": " : "", kf->note);
    return 0;
  }
  *acl = json_object_get(json_object_get(out, "acl"), kf->dir);
  return 1;
}

static void acl_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  acl_cfg c;
  const char *path;
  const json_t *acl;
  win_keyfile kf;
  char what[1200];
  json_t *res;
  cfg_get(s, h, &c);
  if (!key_acl_or_finish(s, h, &c, out, &kf, &acl))
    return;
  path = kf.path;
  res = rd_result_new();
  if (has_rights(&c, acl)) {
    h->donef(s, 0, res, "key %s: %s already has %s", path, c.account, win_out(acl, "text"));
    return;
  }
  snprintf(what, sizeof what, "rights of %s on key %s", c.account, path);
  rd_result_change(res, what, *win_out(acl, "text") ? win_out(acl, "text") : "none", rights_text(&c));
  h->donef(s, 0, res, "key %s: would grant %s %s", path, c.account, rights_text(&c));
}

/* The probe once the pool (if any) runs as the account. */
static void probe_key(rd_step *s, const rd_host_api *h, const char *pool_msg) {
  acl_cfg c;
  json_t *res;
  char what[600];
  cfg_get(s, h, &c);
  if (!c.thumb[0]) {
    res = rd_result_new();
    snprintf(what, sizeof what, "rights of %s on the new private key", c.account);
    rd_result_change(res, what, "(new key)", rights_text(&c));
    h->donef(s, 0, res, "would grant %s %s on the new certificate's private key%s%s", c.account,
             rights_text(&c), pool_msg ? "; " : "", pool_msg ? pool_msg : "");
    return;
  }
  win_next(s, h, &win_key_acl_read_script, read_args(&c), acl_probed);
}

/* The pool's identity against the account: on, or done with why not. */
static int pool_ok(rd_step *s, const rd_host_api *h, const json_t *out, char *msg, size_t n) {
  acl_cfg c;
  int rc;
  cfg_get(s, h, &c);
  if ((rc = win_apppool_check(out, c.account, c.pool, msg, n)))
    h->donef(s, rc, NULL, "%s", msg);
  return rc == 0;
}

static void pool_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  char msg[900];
  if (pool_ok(s, h, out, msg, sizeof msg))
    probe_key(s, h, msg);
}

static json_t *pool_args(const acl_cfg *c) {
  return json_pack("{s:s, s:s}", "app_pool", c->pool, "account", c->account);
}

static int acl_probe(rd_step *s, const rd_host_api *h) {
  acl_cfg c;
  cfg_get(s, h, &c);
  if (c.pool)
    return win_run(s, h, &win_key_acl_pool_script, pool_args(&c), pool_probed);
  probe_key(s, h, NULL);
  return 0;
}

static json_t *set_args(const acl_cfg *c, const char *path, const char *op) {
  return json_pack("{s:s, s:s, s:s, s:s}", "path", path, "account", c->account, "rights", c->rights,
                   "op", op);
}

static void acl_granted(rd_step *s, const rd_host_api *h, const json_t *out) {
  acl_cfg c;
  json_t *rec, *res;
  char what[1200];
  cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  if (!has_rights(&c, out)) {
    h->donef(s, RD_EREMOTE, NULL, "key %s: %s still has only %s after the grant",
               win_out(rec, "path"), c.account, *win_out(out, "text") ? win_out(out, "text") : "nothing");
  } else {
    res = rd_result_new();
    snprintf(what, sizeof what, "rights of %s on key %s", c.account, win_out(rec, "path"));
    rd_result_change(res, what, win_out(rec, "before"), win_out(out, "text"));
    h->donef(s, 0, res, "key %s: granted %s %s", win_out(rec, "path"), c.account,
               rights_text(&c));
  }
  json_decref(rec);
}

static void acl_read_for_apply(rd_step *s, const rd_host_api *h, const json_t *out) {
  acl_cfg c;
  const char *path;
  const json_t *acl;
  win_keyfile kf;
  json_t *rec;
  int have, rc;
  cfg_get(s, h, &c);
  if (!key_acl_or_finish(s, h, &c, out, &kf, &acl))
    return;
  path = kf.path;
  have = has_rights(&c, acl);
  /* durable before the change: a rollback after a crash removes only
   * what renewd added */
  rec = json_pack("{s:s, s:s, s:s, s:b, s:s}", "path", path, "account", c.account, "rights",
                  c.rights, "added", !have, "before",
                  *win_out(acl, "text") ? win_out(acl, "text") : "none");
  rc = h->journal_put(s, c.jkey, rec);
  json_decref(rec);
  if (rc < 0) {
    h->donef(s, rc, NULL, "cannot journal the key ACL change: %s", h->strerror(rc));
    return;
  }
  if (have) {
    h->donef(s, 0, rd_result_new(), "key %s: %s already has %s", path, c.account,
               win_out(acl, "text"));
    return;
  }
  win_next(s, h, &win_key_acl_set_script, set_args(&c, path, "grant"), acl_granted);
}

static void pool_applied(rd_step *s, const rd_host_api *h, const json_t *out) {
  acl_cfg c;
  char msg[900];
  if (!pool_ok(s, h, out, msg, sizeof msg))
    return;
  cfg_get(s, h, &c);
  win_next(s, h, &win_key_acl_read_script, read_args(&c), acl_read_for_apply);
}

static int acl_apply(rd_step *s, const rd_host_api *h) {
  acl_cfg c;
  cfg_get(s, h, &c);
  if (h->whatif(s))
    return RD_EWHATIF;
  if (!c.thumb[0]) {
    h->donef(s, RD_ESTATE, NULL, "no new certificate yet (facts.new_cert)");
    return 0;
  }
  if (c.pool)
    return win_run(s, h, &win_key_acl_pool_script, pool_args(&c), pool_applied);
  return read_acl(s, h, &c, acl_read_for_apply);
}

static void acl_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  acl_cfg c;
  const char *path;
  const json_t *acl;
  win_keyfile kf;
  cfg_get(s, h, &c);
  if (!key_acl_or_finish(s, h, &c, out, &kf, &acl))
    return;
  path = kf.path;
  if (has_rights(&c, acl))
    h->donef(s, 0, NULL, "key %s: %s has %s", path, c.account, win_out(acl, "text"));
  else
    h->donef(s, RD_EVERIFY, NULL, "key %s: %s has %s, not %s", path, c.account,
               *win_out(acl, "text") ? win_out(acl, "text") : "no rights", rights_text(&c));
}

static int acl_verify(rd_step *s, const rd_host_api *h) {
  acl_cfg c;
  cfg_get(s, h, &c);
  if (!c.thumb[0]) {
    h->donef(s, RD_ESTATE, NULL, "no new certificate to check (facts.new_cert)");
    return 0;
  }
  return read_acl(s, h, &c, acl_verified);
}

static void acl_revoked(rd_step *s, const rd_host_api *h, const json_t *out) {
  acl_cfg c;
  json_t *rec;
  cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  h->donef(s, 0, NULL, "key %s: the rule renewd added for %s is removed (now %s)",
             win_out(rec, "path"), c.account, *win_out(out, "text") ? win_out(out, "text") : "no rights");
  json_decref(rec);
}

static int acl_rollback(rd_step *s, const rd_host_api *h) {
  acl_cfg c;
  json_t *rec;
  int rc;
  cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  if (!rec || !win_bool(rec, "added") || !win_str(rec, "path")) {
    h->donef(s, 0, NULL, "%s", rec ? "the rights were there before renewd: left as they are"
                                        : "no key ACL was changed, nothing to undo");
    json_decref(rec);
    return 0;
  }
  rc = win_run(s, h, &win_key_acl_set_script, set_args(&c, win_str(rec, "path"), "revoke"),
               acl_revoked);
  json_decref(rec);
  return rc;
}

const rd_step_kind windows_kind_key_acl = {
    .type = TYPE,
    .summary = "grant a service account read (or full) access to the new private key file",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = 0,
    .validate = acl_validate,
    .probe = acl_probe,
    .apply = acl_apply,
    .verify = acl_verify,
    .rollback = acl_rollback,
};
