/* inventory.c — see inventory.h. */
#include "config/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

#define INVENTORY_MAX (64u << 20)

const char *rd_platform_name(rd_platform p) {
  switch (p) {
  case RD_PLATFORM_POSIX: return "posix";
  case RD_PLATFORM_WINDOWS: return "windows";
  default: return "any";
  }
}

int rd_target_name_ok(const char *name) {
  size_t n = 0;
  if (!name || !*name)
    return 0;
  for (const char *p = name; *p; p++, n++) {
    char ch = *p;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '-'))
      return 0;
  }
  return n <= 253;
}

void rd_target_clear(rd_target *t) {
  if (!t)
    return;
  free(t->name);
  free(t->address);
  json_decref(t->vars);
  memset(t, 0, sizeof *t);
}

void rd_targets_free(rd_target *t, size_t n) {
  for (size_t i = 0; t && i < n; i++)
    rd_target_clear(&t[i]);
  free(t);
}

int rd_target_copy(rd_target *dst, const rd_target *src) {
  memset(dst, 0, sizeof *dst);
  dst->port = src->port;
  dst->platform = src->platform;
  if (!(dst->name = strdup(src->name)) || !(dst->address = strdup(src->address)) ||
      !(dst->vars = json_deep_copy(src->vars ? src->vars : json_object()))) {
    rd_target_clear(dst);
    return RD_ENOMEM;
  }
  return 0;
}

static int address_ok(const char *a) {
  if (!*a || *a == '-')
    return 0; /* never let an address look like an option */
  for (const char *p = a; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == '/' || *p == '\\' || *p == '@')
      return 0;
  return 1;
}

int rd_target_parse(rd_jctx *c, const json_t *obj, const char *ptr, const char *name,
                    int inline_entry, rd_target *t) {
  static const char *const keys_inv[] = {"address", "port", "platform", "vars", NULL};
  static const char *const keys_inline[] = {"name", "address", "port", "platform", "vars",
                                            NULL};
  char where[512], kp[1024];
  json_t *v;
  int before = c->errors;
  memset(t, 0, sizeof *t);
  rd_jctx_display(c, ptr, where, sizeof where);
  if (!json_is_object(obj)) {
    rd_jctx_err(c, ptr, 1,
                "'%s' must be an object like {\"address\": \"10.0.0.5\", \"port\": 22, "
                "\"platform\": \"posix\"}, got %s",
                where, rd_json_type_name(obj));
    return RD_ECONFIG;
  }
  rd_jctx_check_keys(c, obj, ptr, inline_entry ? keys_inline : keys_inv);
  if (inline_entry) {
    snprintf(kp, sizeof kp, "%s/name", ptr);
    v = json_object_get(obj, "name");
    if (!v) {
      rd_jctx_err(c, ptr, 1, "missing required key 'name' in '%s'", where);
    } else if (!json_is_string(v)) {
      rd_jctx_err(c, kp, 1, "'%s.name' must be a string, got %s", where,
                  rd_json_type_name(v));
    } else {
      name = json_string_value(v);
    }
  }
  if (name && !rd_target_name_ok(name)) {
    if (inline_entry)
      rd_jctx_err(c, kp, 1,
                  "target name '%s' must be letters, digits, '.', '_' or '-' (it names "
                  "the host in reports and the journal)",
                  name);
    else
      rd_jctx_err(c, ptr, 0,
                  "host name '%s' must be letters, digits, '.', '_' or '-' (it names the "
                  "host in reports and the journal)",
                  name);
  }
  t->platform = RD_PLATFORM_POSIX;
  if ((v = json_object_get(obj, "address"))) {
    snprintf(kp, sizeof kp, "%s/address", ptr);
    if (!json_is_string(v))
      rd_jctx_err(c, kp, 1, "'%s.address' must be a string (host name or IP address), got %s",
                  where, rd_json_type_name(v));
    else if (!address_ok(json_string_value(v)))
      rd_jctx_err(c, kp, 1,
                  "'%s.address' must be a host name or IP address, got '%s'", where,
                  json_string_value(v));
    else
      t->address = strdup(json_string_value(v));
  }
  if ((v = json_object_get(obj, "port"))) {
    snprintf(kp, sizeof kp, "%s/port", ptr);
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
      if (json_is_integer(v))
        rd_jctx_err(c, kp, 1, "'%s.port' must be an integer from 1 to 65535, got %lld",
                    where, (long long)json_integer_value(v));
      else
        rd_jctx_err(c, kp, 1, "'%s.port' must be an integer from 1 to 65535, got %s", where,
                    rd_json_type_name(v));
    } else {
      t->port = (int)json_integer_value(v);
    }
  }
  if ((v = json_object_get(obj, "platform"))) {
    const char *pl = json_string_value(v);
    snprintf(kp, sizeof kp, "%s/platform", ptr);
    if (pl && !strcmp(pl, "posix"))
      t->platform = RD_PLATFORM_POSIX;
    else if (pl && !strcmp(pl, "windows"))
      t->platform = RD_PLATFORM_WINDOWS;
    else if (pl)
      rd_jctx_err(c, kp, 1, "'%s.platform' must be \"posix\" or \"windows\", got '%s'", where,
                  pl);
    else
      rd_jctx_err(c, kp, 1, "'%s.platform' must be \"posix\" or \"windows\", got %s", where,
                  rd_json_type_name(v));
  }
  if ((v = json_object_get(obj, "vars"))) {
    snprintf(kp, sizeof kp, "%s/vars", ptr);
    if (!json_is_object(v))
      rd_jctx_err(c, kp, 1, "'%s.vars' must be an object, got %s", where,
                  rd_json_type_name(v));
    else
      t->vars = json_deep_copy(v);
  }
  if (c->errors != before || !name) {
    rd_target_clear(t);
    return RD_ECONFIG;
  }
  if (!(t->name = strdup(name)) || (!t->address && !(t->address = strdup(name))) ||
      (!t->vars && !(t->vars = json_object()))) {
    rd_target_clear(t);
    return RD_ENOMEM;
  }
  return 0;
}

void rd_inventory_free(rd_inventory *inv) {
  if (!inv)
    return;
  rd_targets_free(inv->hosts, inv->nhosts);
  for (size_t i = 0; i < inv->ngroups; i++) {
    for (size_t j = 0; j < inv->groups[i].n; j++)
      free(inv->groups[i].members[j]);
    free(inv->groups[i].members);
    free(inv->groups[i].name);
  }
  free(inv->groups);
  json_decref(inv->index);
  free(inv->path);
  free(inv);
}

const rd_inv_group *rd_inventory_group(const rd_inventory *inv, const char *name) {
  for (size_t i = 0; inv && name && i < inv->ngroups; i++)
    if (!strcmp(inv->groups[i].name, name))
      return &inv->groups[i];
  return NULL;
}

const rd_target *rd_inventory_host(const rd_inventory *inv, const char *name) {
  json_t *i;
  if (!inv || !name)
    return NULL;
  if (inv->index) {
    i = json_object_get(inv->index, name);
    return i ? &inv->hosts[json_integer_value(i)] : NULL;
  }
  for (size_t k = 0; k < inv->nhosts; k++)
    if (!strcmp(inv->hosts[k].name, name))
      return &inv->hosts[k];
  return NULL;
}

char *rd_inventory_group_list(const rd_inventory *inv, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; inv && i < inv->ngroups; i++) {
    int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", inv->groups[i].name);
    if (w < 0 || (size_t)w >= len - n)
      break;
    n += (size_t)w;
  }
  return buf;
}

static int add_group(rd_inventory *inv, const char *name, rd_inv_group **out) {
  rd_inv_group *ng = realloc(inv->groups, (inv->ngroups + 1) * sizeof *ng);
  if (!ng)
    return RD_ENOMEM;
  inv->groups = ng;
  memset(&ng[inv->ngroups], 0, sizeof *ng);
  if (!(ng[inv->ngroups].name = strdup(name)))
    return RD_ENOMEM;
  *out = &ng[inv->ngroups++];
  return 0;
}

static int group_push(rd_inv_group *g, const char *member) {
  char **nm = realloc(g->members, (g->n + 1) * sizeof *nm);
  if (!nm)
    return RD_ENOMEM;
  g->members = nm;
  if (!(nm[g->n] = strdup(member)))
    return RD_ENOMEM;
  g->n++;
  return 0;
}

static int parse_hosts(rd_jctx *c, rd_inventory *inv, const json_t *hosts) {
  const char *name;
  json_t *h;
  size_t n = json_object_size(hosts);
  if (!(inv->hosts = calloc(n ? n : 1, sizeof *inv->hosts)) || !(inv->index = json_object()))
    return RD_ENOMEM;
  json_object_foreach((json_t *)hosts, name, h) {
    char ptr[1024] = "/hosts";
    int rc;
    rd_jsonptr_push(ptr, sizeof ptr, name);
    rc = rd_target_parse(c, h, ptr, name, 0, &inv->hosts[inv->nhosts]);
    if (rc == RD_ENOMEM)
      return rc;
    if (rc == 0) {
      if (json_object_set_new(inv->index, name, json_integer((json_int_t)inv->nhosts)))
        return RD_ENOMEM;
      inv->nhosts++;
    }
  }
  return 0;
}

static int parse_groups(rd_jctx *c, rd_inventory *inv, const json_t *groups) {
  const char *gname;
  json_t *members;
  const char **hostnames = calloc(json_object_size(json_object_get(c->root, "hosts")) + 1,
                                  sizeof *hostnames);
  size_t nnames = 0;
  int rc = 0;
  const char *hk;
  json_t *hv;
  if (!hostnames)
    return RD_ENOMEM;
  json_object_foreach(json_object_get(c->root, "hosts"), hk, hv) hostnames[nnames++] = hk;
  json_object_foreach((json_t *)groups, gname, members) {
    char ptr[1024] = "/groups";
    rd_inv_group *g;
    size_t i;
    json_t *m;
    rd_jsonptr_push(ptr, sizeof ptr, gname);
    if (!json_is_array(members)) {
      rd_jctx_err(c, ptr, 1, "group '%s' must be an array of host names, got %s", gname,
                  rd_json_type_name(members));
      continue;
    }
    json_t *seen;
    if ((rc = add_group(inv, gname, &g)))
      break;
    if (!(seen = json_object())) {
      rc = RD_ENOMEM;
      break;
    }
    json_array_foreach(members, i, m) {
      char mp[1100];
      const char *hn = json_string_value(m);
      snprintf(mp, sizeof mp, "%s", ptr);
      rd_jsonptr_push_index(mp, sizeof mp, i);
      if (!hn) {
        rd_jctx_err(c, mp, 1, "group '%s' must list host names (strings), got %s", gname,
                    rd_json_type_name(m));
        continue;
      }
      if (!json_object_get(json_object_get(c->root, "hosts"), hn)) {
        const char *s = rd_suggest(hn, hostnames, nnames);
        rd_jctx_err(c, mp, 1, "group '%s' lists '%s', which is not in 'hosts'%s%s%s", gname,
                    hn, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
        continue;
      }
      if (json_object_get(seen, hn)) {
        rd_jctx_err(c, mp, 1, "group '%s' lists '%s' twice", gname, hn);
        continue;
      }
      if (json_object_set_new(seen, hn, json_true()) || (rc = group_push(g, hn))) {
        rc = rc ? rc : RD_ENOMEM;
        json_decref(seen);
        goto out;
      }
    }
    json_decref(seen);
  }
out:
  free(hostnames);
  return rc;
}

int rd_inventory_load(const char *path, rd_inventory **out, rd_diag *diag, char *err,
                      size_t errlen) {
  static const char *const top_keys[] = {"hosts", "groups", NULL};
  char *text = NULL;
  size_t len = 0;
  json_error_t jerr;
  json_t *root = NULL, *hosts, *groups;
  rd_jsonpos *pos = NULL;
  rd_inventory *inv = NULL;
  rd_jctx c = {0};
  int rc;
  *out = NULL;
  if ((rc = rd_read_file(path, INVENTORY_MAX, &text, &len))) {
    rd_fmt(err, errlen, "cannot read inventory '%s': %s", path,
           rc == RD_ENOTFOUND ? "no such file" : rc == RD_EOVERFLOW ? "file too large"
                                                                   : "cannot open or read it");
    return rc == RD_ENOTFOUND ? RD_ENOTFOUND : RD_EIO;
  }
  if (!(inv = calloc(1, sizeof *inv)) || !(inv->path = strdup(path))) {
    rc = RD_ENOMEM;
    goto out;
  }
  if (rd_diag_text_nul(diag, path, text, len, "an inventory")) {
    rc = RD_ECONFIG;
    goto out;
  }
  if (!(root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
    rd_diag_add(diag, path, jerr.line > 0 ? jerr.line : 0, jerr.column > 0 ? jerr.column : 0,
                "invalid JSON in inventory: %s", jerr.text);
    rc = RD_ECONFIG;
    goto out;
  }
  if ((rc = rd_jsonpos_scan(text, len, &pos)))
    goto out;
  c.file = path;
  c.pos = pos;
  c.diag = diag;
  c.root = root;
  if (!json_is_object(root)) {
    rd_jctx_err(&c, "", 1,
                "an inventory must be an object {\"hosts\": {...}, \"groups\": {...}}, got %s",
                rd_json_type_name(root));
    rc = RD_ECONFIG;
    goto out;
  }
  rd_jctx_check_keys(&c, root, "", top_keys);
  hosts = json_object_get(root, "hosts");
  groups = json_object_get(root, "groups");
  if (!json_is_object(hosts)) {
    if (hosts)
      rd_jctx_err(&c, "/hosts", 1,
                  "'hosts' must be an object that maps host names to {\"address\": ...}, "
                  "got %s",
                  rd_json_type_name(hosts));
    else
      rd_jctx_err(&c, "", 1, "missing required key 'hosts' in the top level");
  } else if ((rc = parse_hosts(&c, inv, hosts))) {
    goto out;
  }
  if (groups && !json_is_object(groups)) {
    rd_jctx_err(&c, "/groups", 1,
                "'groups' must be an object that maps group names to arrays of host names, "
                "got %s",
                rd_json_type_name(groups));
  } else if (groups && json_is_object(hosts) && (rc = parse_groups(&c, inv, groups))) {
    goto out;
  }
  if (c.errors) {
    rc = RD_ECONFIG;
    goto out;
  }
  if (!rd_inventory_group(inv, "all")) {
    rd_inv_group *g;
    if ((rc = add_group(inv, "all", &g)))
      goto out;
    for (size_t i = 0; i < inv->nhosts; i++)
      if ((rc = group_push(g, inv->hosts[i].name)))
        goto out;
  }
  *out = inv;
  inv = NULL;
  rc = 0;
out:
  rd_inventory_free(inv);
  rd_jsonpos_free(pos);
  json_decref(root);
  free(text);
  return rc;
}
