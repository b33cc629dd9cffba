/* key_acl.c — `posix.key_acl`: owner, group, mode and an optional read ACL
 * entry on the private key (or another file).
 *
 * params: {"path" (default: the certificate section's key), "owner",
 *          "group", "mode" (default "0640"), "acl_user" (setfacl u:NAME:r),
 *          "readable_by" (the service's user: verify reads the file as it)}
 * probe: reads the file's state, reports old -> new per attribute, and
 *   journals the old values ("key_acl.old:<path>", once per job: a re-probe
 *   after a crash must not record the new state as the old one).
 * apply: chown/chgrp, mode (through setfacl when the file has an extended
 *   ACL, so that group:: and not just the mask changes), setfacl -m.
 * verify: reads again and compares; with readable_by, that user must be
 *   able to read the file (owner, groups, mode and ACL decide), else the
 *   job rolls back before the service reloads a key it cannot load.
 * rollback: the journaled old values, the ACL entry removed when it was
 *   absent before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.key_acl"

static const rd_script posix_key_acl_read_script =
    POSIX_SCRIPT("posix.key_acl.read", 0, POSIX_SH_KEY_ACL_READ);
static const rd_script posix_key_acl_set_script =
    POSIX_SCRIPT("posix.key_acl.set", 1, POSIX_SH_KEY_ACL_SET);

static const char *const key_acl_keys[] = {"path",     "owner",       "group", "mode",
                                           "acl_user", "readable_by", NULL};

/* A user or group name (or numeric id) as chown accepts it. */
static int key_acl_name_ok(const char *v) {
  size_t n = strlen(v);
  if (!n || n > 64 || v[0] == '-')
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!(v[i] >= 'a' && v[i] <= 'z') && !(v[i] >= 'A' && v[i] <= 'Z') &&
        !(v[i] >= '0' && v[i] <= '9') && !strchr("_.-", v[i]))
      return 0;
  return 1;
}

/* "0640" or "640" -> "640"; NULL if not three octal digits (optionally
 * after a 0: no setuid/setgid/sticky on a key). */
static const char *key_acl_mode3(const char *m) {
  size_t n = m ? strlen(m) : 0;
  if (n == 4 && m[0] == '0')
    m++, n--;
  if (n != 3)
    return NULL;
  for (size_t i = 0; i < 3; i++)
    if (m[i] < '0' || m[i] > '7')
      return NULL;
  return m;
}

static int key_acl_validate(const json_t *params, char *err, size_t errlen) {
  const char *names[] = {"owner", "group", "acl_user", "readable_by"};
  int rc;
  if ((rc = rd_check_keys(params, TYPE, key_acl_keys, err, errlen)) ||
      (rc = posix_check_string(params, "path", 0, 1, TYPE, err, errlen)))
    return rc;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const json_t *v = json_object_get(params, names[i]);
    if (v && (!json_is_string(v) || !key_acl_name_ok(json_string_value(v)))) {
      snprintf(err, errlen,
               "%s: \"%s\" must be a user or group name (letters, digits, '_', '.', '-'; not "
               "starting with '-')",
               TYPE, names[i]);
      return RD_EINVAL;
    }
  }
  if (json_object_get(params, "mode") && !key_acl_mode3(posix_str(params, "mode"))) {
    snprintf(err, errlen, "%s: \"mode\" must be an octal string such as \"0640\" or \"0600\"", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct key_acl_cfg {
  const char *path, *owner, *group, *mode3, *acl_user, *readable_by;
  char jkey[1100];
} key_acl_cfg;

static int key_acl_cfg_get(rd_step *s, const rd_host_api *h, key_acl_cfg *c) {
  const json_t *pa = h->params(s);
  c->path = posix_str(pa, "path");
  if (!c->path)
    c->path = posix_str(h->section(s, "certificate"), "key");
  if (!c->path) {
    h->donef(s, RD_ECONFIG, NULL,
                 "%s: no \"path\" and no key in the runbook's certificate section", TYPE);
    return -1;
  }
  c->owner = posix_str(pa, "owner");
  c->group = posix_str(pa, "group");
  c->mode3 = key_acl_mode3(posix_str(pa, "mode") ? posix_str(pa, "mode") : "0640");
  c->acl_user = posix_str(pa, "acl_user");
  c->readable_by = posix_str(pa, "readable_by");
  snprintf(c->jkey, sizeof c->jkey, "key_acl.old:%s", c->path);
  return 0;
}

static json_t *key_acl_read_args(const key_acl_cfg *c) {
  json_t *a = posix_args();
  posix_arg(a, "path", c->path);
  posix_arg(a, "acl_user", c->acl_user);
  posix_arg(a, "readable_by", c->readable_by);
  return a;
}

static int key_acl_same_id(const json_t *out, const char *want, const char *name_key,
                           const char *id_key) {
  return !want || posix_out_is(out, name_key, want) || posix_out_is(out, id_key, want);
}

/* The differences between the file's state (out) and the configuration. */
static json_t *key_acl_diff(const key_acl_cfg *c, const json_t *out) {
  json_t *res = rd_result_new();
  char what[1200], mode4[8];
  snprintf(mode4, sizeof mode4, "0%s", c->mode3);
  if (!key_acl_same_id(out, c->owner, "owner", "owner_id")) {
    snprintf(what, sizeof what, "owner of %s", c->path);
    rd_result_change(res, what, posix_out(out, "owner"), c->owner);
  }
  if (!key_acl_same_id(out, c->group, "group", "group_id")) {
    snprintf(what, sizeof what, "group of %s", c->path);
    rd_result_change(res, what, posix_out(out, "group"), c->group);
  }
  if (strtol(posix_out(out, "mode"), NULL, 8) != strtol(c->mode3, NULL, 8)) {
    snprintf(what, sizeof what, "mode of %s", c->path);
    rd_result_change(res, what, posix_out(out, "mode"), mode4);
  }
  if (c->acl_user && !posix_out_is(out, "acl", "r--")) {
    snprintf(what, sizeof what, "ACL entry u:%s of %s", c->acl_user, c->path);
    rd_result_change(res, what, *posix_out(out, "acl") ? posix_out(out, "acl") : "(none)", "r--");
  }
  return res;
}

static void key_acl_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  key_acl_cfg c;
  json_t *res, *old = NULL;
  size_t n;
  if (key_acl_cfg_get(s, h, &c))
    return;
  if (!posix_out_is(out, "exists", "1")) {
    if (h->whatif(s)) {
      res = rd_result_new();
      rd_result_change(res, c.path, "(missing)", "(set after install)");
      h->donef(s, 0, res, "%s: does not exist yet", c.path);
    } else {
      h->donef(s, RD_ENOTFOUND, NULL, "%s: does not exist", c.path);
    }
    return;
  }
  /* The state before this job touched it, recorded once for rollback. */
  if (!h->whatif(s) && !(old = h->journal_get(s, c.jkey))) {
    int rc;
    old = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "owner", posix_out(out, "owner"),
                    "owner_id", posix_out(out, "owner_id"), "group", posix_out(out, "group"),
                    "group_id", posix_out(out, "group_id"), "mode", posix_out(out, "mode"),
                    "acl_user", c.acl_user ? c.acl_user : "", "acl", posix_out(out, "acl"));
    rc = h->journal_put(s, c.jkey, old);
    json_decref(old);
    if (rc < 0) {
      h->donef(s, rc, NULL, "%s: cannot journal the old owner and mode: %s", c.path,
                   h->strerror(rc));
      return;
    }
  } else {
    json_decref(old);
  }
  res = key_acl_diff(&c, out);
  n = json_array_size(json_object_get(res, "changes"));
  if (n)
    h->donef(s, 0, res, "%s: %zu change%s", c.path, n, n == 1 ? "" : "s");
  else
    h->donef(s, 0, res, "%s: already as configured", c.path);
}

static int key_acl_probe(rd_step *s, const rd_host_api *h) {
  key_acl_cfg c;
  if (key_acl_cfg_get(s, h, &c))
    return 0;
  return posix_run(s, h, &posix_key_acl_read_script, key_acl_read_args(&c), key_acl_probed);
}

static void key_acl_set_done(rd_step *s, const rd_host_api *h, const json_t *out) {
  key_acl_cfg c;
  if (key_acl_cfg_get(s, h, &c))
    return;
  h->donef(s, 0, NULL, "%s: owner, group and mode set", c.path);
}

static json_t *key_acl_set_args(const char *path, const char *owner, const char *group,
                                const char *mode3, const char *acl_user, const char *acl_op,
                                const char *acl_perm) {
  json_t *a = posix_args();
  posix_arg(a, "path", path);
  posix_arg(a, "owner", owner);
  posix_arg(a, "group", group);
  posix_arg(a, "mode", mode3);
  posix_arg(a, "acl_user", acl_user);
  posix_arg(a, "acl_op", acl_op);
  posix_arg(a, "acl_perm", acl_perm);
  return a;
}

static int key_acl_apply(rd_step *s, const rd_host_api *h) {
  key_acl_cfg c;
  if (key_acl_cfg_get(s, h, &c))
    return 0;
  return posix_run(s, h, &posix_key_acl_set_script,
                   key_acl_set_args(c.path, c.owner, c.group, c.mode3, c.acl_user,
                                    c.acl_user ? "set" : "", "r"),
                   key_acl_set_done);
}

static void key_acl_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  key_acl_cfg c;
  json_t *res;
  if (key_acl_cfg_get(s, h, &c))
    return;
  if (!posix_out_is(out, "exists", "1")) {
    h->donef(s, RD_EVERIFY, NULL, "%s: does not exist", c.path);
    return;
  }
  res = key_acl_diff(&c, out);
  if (json_array_size(json_object_get(res, "changes"))) {
    json_t *ch = json_array_get(json_object_get(res, "changes"), 0);
    h->donef(s, RD_EVERIFY, res, "%s: still %s for %s (wanted %s)", c.path,
                 posix_str(ch, "old"), posix_str(ch, "what"), posix_str(ch, "new"));
    return;
  }
  json_decref(res);
  if (c.readable_by && !posix_out_is(out, "readable", "1")) {
    h->donef(s, RD_EVERIFY, NULL,
             "%s: user %s (readable_by) cannot read it (owner %s, group %s, mode %s%s): the "
             "service would not load the key",
             c.path, c.readable_by, posix_out(out, "owner"), posix_out(out, "group"),
             posix_out(out, "mode"), posix_out_is(out, "ext_acl", "1") ? ", an ACL" : ", no ACL");
    return;
  }
  h->donef(s, 0, NULL, "%s: owner, group, mode%s as configured%s%s", c.path,
               c.acl_user ? " and ACL" : "", c.readable_by ? ", readable by " : "",
               c.readable_by ? c.readable_by : "");
}

static int key_acl_verify(rd_step *s, const rd_host_api *h) {
  key_acl_cfg c;
  if (key_acl_cfg_get(s, h, &c))
    return 0;
  return posix_run(s, h, &posix_key_acl_read_script, key_acl_read_args(&c), key_acl_verified);
}

static void key_acl_restored(rd_step *s, const rd_host_api *h, const json_t *out) {
  key_acl_cfg c;
  if (key_acl_cfg_get(s, h, &c))
    return;
  h->donef(s, 0, NULL, "%s: old owner, group and mode restored", c.path);
}

static int key_acl_rollback(rd_step *s, const rd_host_api *h) {
  key_acl_cfg c;
  json_t *old;
  const char *acl_user, *acl, *mode3;
  int rc;
  if (key_acl_cfg_get(s, h, &c))
    return 0;
  if (!(old = h->journal_get(s, c.jkey))) {
    h->donef(s, 0, NULL, "%s: no old state recorded, nothing to restore", c.path);
    return 0;
  }
  acl_user = posix_str(old, "acl_user");
  acl = posix_str(old, "acl");
  mode3 = key_acl_mode3(posix_str(old, "mode"));
  if (acl_user && !*acl_user)
    acl_user = NULL;
  rc = posix_run(s, h, &posix_key_acl_set_script,
                 /* numeric ids: a name may not resolve (stat prints UNKNOWN) */
                 key_acl_set_args(c.path, posix_str(old, "owner_id"), posix_str(old, "group_id"),
                                  mode3, acl_user,
                                  !acl_user ? "" : acl && *acl ? "set" : "remove", acl),
                 key_acl_restored);
  json_decref(old);
  return rc;
}

const rd_step_kind posix_kind_key_acl = {
    .type = TYPE,
    .summary = "owner, group, mode and a read ACL entry on the private key",
    .platform = RD_PLATFORM_POSIX,
    .flags = 0,
    .validate = key_acl_validate,
    .probe = key_acl_probe,
    .apply = key_acl_apply,
    .verify = key_acl_verify,
    .rollback = key_acl_rollback,
};
