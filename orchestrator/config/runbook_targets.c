/* runbook_targets.c — 'targets': inline hosts, or a group of an inventory
 * file narrowed by a host list; the platforms they run. */
#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "config/runbook_int.h"
#include "config/inventory.h"

static int push_target(ld *l, const rd_target *src, int copy, size_t *cap) {
  rd_runbook *rb = l->rb;
  if (rb->ntargets == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    rd_target *nt = realloc(rb->targets, nc * sizeof *nt);
    if (!nt) {
      l->nomem = 1;
      return RD_ENOMEM;
    }
    rb->targets = nt;
    *cap = nc;
  }
  if (copy) {
    if (rd_target_copy(&rb->targets[rb->ntargets], src)) {
      l->nomem = 1;
      return RD_ENOMEM;
    }
  } else {
    rb->targets[rb->ntargets] = *src;
  }
  rb->ntargets++;
  return 0;
}

/* "; did you mean 'X'?" when the name of one of n items (structs of size
 * bytes whose first member is their char *name: rd_inv_group, rd_target) is
 * close to word; "" otherwise. */
_Static_assert(offsetof(rd_inv_group, name) == 0 && offsetof(rd_target, name) == 0,
               "did_you_mean() reads the name first");
static const char *did_you_mean(const char *word, const void *items, size_t n, size_t size,
                                char *buf, size_t len) {
  const char **names = calloc(n + 1, sizeof *names);
  const char *s = NULL;
  buf[0] = '\0';
  if (!names)
    return buf;
  for (size_t i = 0; i < n; i++)
    memcpy(&names[i], (const char *)items + i * size, sizeof names[i]);
  if ((s = rd_suggest(word, names, n)))
    snprintf(buf, len, "; did you mean '%s'?", s);
  free(names);
  return buf;
}

static void targets_from_inventory(ld *l, const json_t *o, size_t *cap) {
  rd_runbook *rb = l->rb;
  json_t *filter = json_object_get(o, "hosts");
  const char *invs = rb_get_string(l, o, "/targets", "inventory", 0);
  const char *group = "all";
  rd_inventory *inv = NULL;
  const rd_inv_group *g;
  char err[1024], list[1024];
  int rc, bad_filter = 0;
  if (json_object_get(o, "group") && !(group = rb_get_string(l, o, "/targets", "group", 0)))
    return;
  if (filter && !json_is_array(filter)) {
    rd_jctx_err(&l->j, "/targets/hosts", 1,
                "'targets.hosts' with an inventory must be an array of host names that "
                "narrows the group, got %s",
                rd_json_type_name(filter));
    bad_filter = 1;
  } else if (filter) {
    size_t i;
    json_t *m;
    json_array_foreach(filter, i, m) {
      char p[PTR_MAX];
      rb_child_i(p, sizeof p, "/targets/hosts", i);
      if (!json_is_string(m)) {
        rd_jctx_err(&l->j, p, 1,
                    "'targets.hosts[%zu]' must be a host name of the inventory, got %s", i,
                    rd_json_type_name(m));
        bad_filter = 1;
      }
    }
  }
  if (!invs)
    return;
  rb->inventory = rb_resolve(l, invs);
  rb->group = rb_xstrdup(l, group);
  if (!rb->inventory)
    return;
  rc = rd_inventory_load(rb->inventory, &inv, l->j.diag, err, sizeof err);
  if (rc == RD_ENOMEM) {
    l->nomem = 1;
    return;
  }
  if (rc == RD_ECONFIG) {
    rd_jctx_err(&l->j, "/targets/inventory", 1, "inventory '%s' has errors (reported above)",
                rb->inventory);
    return;
  }
  if (rc) {
    rd_jctx_err(&l->j, "/targets/inventory", 1, "%s", err);
    return;
  }
  if (!(g = rd_inventory_group(inv, group))) {
    char dym[320];
    rd_jctx_err(&l->j, "/targets/group", 1, "unknown group '%s' in inventory '%s'%s; groups: %s",
                group, rb->inventory,
                did_you_mean(group, inv->groups, inv->ngroups, sizeof *inv->groups, dym,
                             sizeof dym),
                rd_inventory_group_list(inv, list, sizeof list));
    rd_inventory_free(inv);
    return;
  }
  if (filter && !bad_filter) {
    size_t i;
    json_t *m;
    json_array_foreach(filter, i, m) {
      const char *hn = json_string_value(m);
      char p[PTR_MAX];
      int in_group = 0;
      rb_child_i(p, sizeof p, "/targets/hosts", i);
      for (size_t j = 0; j < i; j++)
        if (!strcmp(json_string_value(json_array_get(filter, j)), hn)) {
          rd_jctx_err(&l->j, p, 1, "host '%s' is listed twice in 'targets.hosts'", hn);
          hn = NULL;
          break;
        }
      if (!hn)
        continue;
      for (size_t j = 0; j < g->n && !in_group; j++)
        in_group = !strcmp(g->members[j], hn);
      if (!rd_inventory_host(inv, hn)) {
        char dym[320];
        rd_jctx_err(&l->j, p, 1, "host '%s' is not in inventory '%s'%s", hn, rb->inventory,
                    did_you_mean(hn, inv->hosts, inv->nhosts, sizeof *inv->hosts, dym,
                                 sizeof dym));
      } else if (!in_group) {
        rd_jctx_err(&l->j, p, 1, "host '%s' is not in group '%s' of inventory '%s'", hn,
                    group, rb->inventory);
      } else if (push_target(l, rd_inventory_host(inv, hn), 1, cap)) {
        break;
      }
    }
  } else if (!filter) {
    for (size_t i = 0; i < g->n; i++)
      if (push_target(l, rd_inventory_host(inv, g->members[i]), 1, cap))
        break;
    if (!g->n)
      rd_jctx_err(&l->j, "/targets", 0,
                  "'targets' selects no hosts: group '%s' of inventory '%s' is empty", group,
                  rb->inventory);
  }
  rd_inventory_free(inv);
}

static void targets_inline(ld *l, const json_t *hosts, size_t *cap) {
  size_t i;
  json_t *h;
  if (!json_is_array(hosts)) {
    rd_jctx_err(&l->j, "/targets/hosts", 1,
                "'targets.hosts' must be an array of hosts like {\"name\": \"web1\", "
                "\"address\": \"10.0.0.5\"}, got %s",
                rd_json_type_name(hosts));
    return;
  }
  if (!json_array_size(hosts)) {
    rd_jctx_err(&l->j, "/targets/hosts", 1,
                "'targets.hosts' is empty: a runbook needs at least one target");
    return;
  }
  json_array_foreach(hosts, i, h) {
    char p[PTR_MAX], np[PTR_MAX];
    rd_target t;
    int rc;
    rb_child_i(p, sizeof p, "/targets/hosts", i);
    rc = rd_target_parse(&l->j, h, p, NULL, 1, &t);
    if (rc == RD_ENOMEM) {
      l->nomem = 1;
      return;
    }
    if (rc)
      continue;
    for (size_t j = 0; j < i; j++) {
      const char *other = json_string_value(json_object_get(json_array_get(hosts, j), "name"));
      if (other && !strcmp(other, t.name)) {
        char op[PTR_MAX];
        int line = 0, col = 0;
        rb_child_i(op, sizeof op, "/targets/hosts", j);
        rd_jsonptr_push(op, sizeof op, "name");
        rd_jsonpos_value(l->j.pos, op, &line, &col);
        rb_child(np, sizeof np, p, "name");
        rd_jctx_err(&l->j, np, 1, "duplicate target name '%s' (first defined at line %d)",
                    t.name, line);
        rd_target_clear(&t);
        break;
      }
    }
    if (t.name && push_target(l, &t, 0, cap)) {
      rd_target_clear(&t);
      return;
    }
  }
}

void rb_load_targets(ld *l) {
  static const char *const keys[] = {"inventory", "group", "hosts", NULL};
  rd_runbook *rb = l->rb;
  json_t *o = rb_member(l, l->root, "", "targets", 1);
  size_t cap = 0;
  int before = l->j.errors;
  if (!o)
    return;
  if (!json_is_object(o)) {
    rd_jctx_err(&l->j, "/targets", 1,
                "'targets' must be an object: {\"inventory\": FILE, \"group\": NAME} or "
                "{\"hosts\": [...]}, got %s",
                rd_json_type_name(o));
    return;
  }
  rd_jctx_check_keys(&l->j, o, "/targets", keys);
  if (json_object_get(o, "inventory")) {
    targets_from_inventory(l, o, &cap);
  } else if (json_object_get(o, "hosts")) {
    if (json_object_get(o, "group"))
      rd_jctx_err(&l->j, "/targets/group", 0,
                  "'targets.group' selects hosts of an inventory: add 'targets.inventory' or "
                  "remove 'group'");
    targets_inline(l, json_object_get(o, "hosts"), &cap);
  } else {
    rd_jctx_err(&l->j, "/targets", 0,
                "'targets' needs 'inventory' (an inventory file, with an optional 'group') or "
                "'hosts' (a list of hosts)");
    return;
  }
  if (!(rb->target_index = json_object())) {
    l->nomem = 1;
    return;
  }
  for (size_t i = 0; i < rb->ntargets; i++) {
    if (!rb->targets[i].port)
      rb->targets[i].port = l->ssh_port ? l->ssh_port : 22;
    rb->platforms |= 1u << rb->targets[i].platform;
    if (json_object_set_new(rb->target_index, rb->targets[i].name, json_integer((json_int_t)i)))
      l->nomem = 1;
  }
  l->targets_ok = l->j.errors == before && rb->ntargets > 0;
}

int rb_platforms_only(const ld *l, rd_platform p) {
  return l->targets_ok && l->rb->platforms == (1u << p);
}

const char *rb_platforms_word(const ld *l) {
  return l->rb->platforms == (1u << RD_PLATFORM_WINDOWS) ? "Windows" : "POSIX";
}
