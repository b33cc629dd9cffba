/* runbook.c — see runbook.h; the format is described in docs/RUNBOOKS.md.
 * rd_runbook_load reads the file and runs the section loaders
 * (runbook_int.h lists the files), then the checks across sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "config/inventory.h"
#include "config/runbook_int.h"
#include "base/util.h"

#define RUNBOOK_MAX (4u << 20)

static void load_name(ld *l) {
  const char *name = rb_get_string(l, l->root, "", "name", 1);
  const char *desc;
  if (name) {
    if (!rd_target_name_ok(name) || strlen(name) > 64)
      rd_jctx_err(&l->j, "/name", 1,
                  "'name' must be 1 to 64 letters, digits, '.', '_' or '-' (it names the "
                  "runbook in reports and the journal), got '%s'",
                  name);
    else
      l->rb->name = rb_xstrdup(l, name);
  }
  desc = json_string_value(json_object_get(l->root, "description"));
  if (json_object_get(l->root, "description") && !desc)
    rb_is_type(l, json_object_get(l->root, "description"), "/description", JSON_STRING,
            "a string");
  if (json_object_get(l->root, "$schema") && !json_is_string(json_object_get(l->root, "$schema")))
    rb_is_type(l, json_object_get(l->root, "$schema"), "/$schema", JSON_STRING, "a string");
}

/* The engine puts <platform>.inventory, <issuer>.issue and <platform>.install
 * before the runbook's steps (docs/PLUGINS.md): a plugin must provide them,
 * or every job of the runbook would stop at run time (core/build.c). Every
 * known issuer type is checked (an unknown one has its own message). */
static void engine_kinds(ld *l) {
  const char *itype = json_string_value(json_object_get(json_object_get(l->root, "issuer"), "type"));
  char kind[64];
  int known = 0;
  if (!l->reg)
    return;
  for (size_t i = 0; itype && rb_issuer_types[i] && !known; i++)
    known = !strcmp(itype, rb_issuer_types[i]);
  if (known) {
    snprintf(kind, sizeof kind, "%s.issue", itype);
    if (!rd_registry_find(l->reg, kind))
      rd_jctx_err(&l->j, "/issuer/type", 1,
                  "issuer type '%s' needs step kind '%s', which no loaded plugin provides",
                  itype, kind);
  }
  for (rd_platform p = RD_PLATFORM_POSIX; l->targets_ok && p <= RD_PLATFORM_WINDOWS; p++) {
    const char *pn = p == RD_PLATFORM_POSIX ? "posix" : "windows";
    char inv[64], ins[64];
    int hi, hs;
    if (!(l->rb->platforms & (1u << p)))
      continue;
    snprintf(inv, sizeof inv, "%s.inventory", pn);
    snprintf(ins, sizeof ins, "%s.install", pn);
    hi = rd_registry_find(l->reg, inv) != NULL;
    hs = rd_registry_find(l->reg, ins) != NULL;
    if (!hi && !hs)
      rd_jctx_err(&l->j, "/targets", 0,
                  "%s targets need step kinds '%s' and '%s', which no loaded plugin provides",
                  p == RD_PLATFORM_POSIX ? "POSIX" : "Windows", inv, ins);
    else if (!hi || !hs)
      rd_jctx_err(&l->j, "/targets", 0,
                  "%s targets need step kind '%s', which no loaded plugin provides",
                  p == RD_PLATFORM_POSIX ? "POSIX" : "Windows", hi ? ins : inv);
  }
}

static void cross_checks(ld *l) {
  engine_kinds(l);
  if (l->rb->ssh.sudo && rb_platforms_only(l, RD_PLATFORM_WINDOWS))
    rd_jctx_err(&l->j, "/ssh/sudo", 0,
                "'ssh.sudo' applies to POSIX targets, but this runbook's targets are all "
                "Windows (the SSH user must be an administrator there)");
}

static char *runbook_dir(const char *path) {
  char *abs = NULL, *slash, cwd[4096];
  if (path[0] == '/') {
    abs = strdup(path);
  } else {
    if (!getcwd(cwd, sizeof cwd))
      return NULL;
    while (path[0] == '.' && path[1] == '/')
      path += 2;
    if (asprintf(&abs, "%s/%s", cwd, path) < 0)
      return NULL;
  }
  if (!abs)
    return NULL;
  slash = strrchr(abs, '/');
  if (slash == abs)
    slash[1] = '\0';
  else
    *slash = '\0';
  return abs;
}

int rd_runbook_load(const char *path, const rd_registry *reg, rd_runbook **out, rd_diag *diag) {
  static const char *const top_keys[] = {"$schema",  "name",     "description", "targets",
                                         "ssh",      "certificate", "certificates", "together",
                                         "issuer",   "policy",   "steps",    "schedule",
                                         "notify",   NULL};
  char *text = NULL;
  size_t len = 0, first = diag ? diag->n : 0;
  json_error_t jerr;
  rd_jsonpos *pos = NULL;
  ld l;
  int rc;
  rd_runbook *rb;
  *out = NULL;
  memset(&l, 0, sizeof l);
  if (!(rb = calloc(1, sizeof *rb)))
    return RD_ENOMEM;
  l.rb = rb;
  l.reg = reg;
  if (!(rb->path = strdup(path)) || !(rb->dir = runbook_dir(path))) {
    rc = RD_ENOMEM;
    goto out;
  }
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/')
      pl--;
    rd_diag_add(diag, path, 0, 0, "is a directory; name the runbook files in it (e.g. "
                                  "%.*s/*.json)", (int)pl, path);
    rc = RD_ECONFIG;
    goto out;
  }
  if ((rc = rd_read_file(path, RUNBOOK_MAX, &text, &len))) {
    rd_diag_add(diag, path, 0, 0, "cannot read the runbook: %s",
                rc == RD_ENOTFOUND     ? "no such file"
                : rc == RD_EOVERFLOW   ? "file too large (over 4 MiB)"
                : access(path, R_OK)   ? "permission denied (renewd runs as this user; the file "
                                         "must be readable by it)"
                                       : "cannot open or read it");
    rc = RD_ECONFIG;
    goto out;
  }
  if (rd_diag_text_nul(diag, path, text, len, "a runbook")) {
    rc = RD_ECONFIG;
    goto out;
  }
  if (!(l.root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
    rd_diag_add(diag, path, jerr.line > 0 ? jerr.line : 0, jerr.column > 0 ? jerr.column : 0,
                "invalid JSON: %s", jerr.text);
    rc = RD_ECONFIG;
    goto out;
  }
  rb->root = l.root;
  if ((rc = rd_jsonpos_scan(text, len, &pos)))
    goto out;
  l.j.file = path;
  l.j.pos = pos;
  l.j.diag = diag;
  l.j.root = l.root;
  if (!json_is_object(l.root)) {
    rd_jctx_err(&l.j, "", 1, "a runbook must be a JSON object, got %s",
                rd_json_type_name(l.root));
  } else {
    char ptr[PTR_MAX] = "";
    rd_jctx_check_keys(&l.j, l.root, "", top_keys);
    load_name(&l);
    rb_load_ssh(&l);
    rb_load_targets(&l);
    rb_load_policy(&l);
    rb_load_certificates(&l);
    rb_load_issuer(&l);
    rb_load_steps(&l);
    rb_load_schedule(&l);
    rb_load_notify(&l);
    cross_checks(&l);
    rb_walk_secrets(&l, l.root, ptr, sizeof ptr);
    rb->certificate = rb->ncerts ? json_incref(rb->certs[0].selector) : NULL;
    rb->issuer = json_incref(json_object_get(l.root, "issuer"));
    rb->notify = json_incref(json_object_get(l.root, "notify"));
  }
  if (l.nomem) {
    rc = RD_ENOMEM;
    goto out;
  }
  if (l.j.errors) {
    rc = RD_ECONFIG;
    goto out;
  }
  *out = rb;
  rb = NULL;
  rc = 0;
out:
  if (diag)
    rd_diag_sort(diag, first);
  if (rb && !rb->root)
    json_decref(l.root);
  rd_runbook_free(rb);
  rd_jsonpos_free(pos);
  free(text);
  return rc;
}

void rd_runbook_free(rd_runbook *rb) {
  if (!rb)
    return;
  free(rb->path);
  free(rb->name);
  rd_targets_free(rb->targets, rb->ntargets);
  free(rb->ssh.user);
  free(rb->ssh.identity);
  free(rb->ssh.passphrase.name);
  free(rb->ssh.known_hosts);
  json_decref(rb->certificate);
  json_decref(rb->issuer);
  free(rb->policy.key_type);
  free(rb->policy.curve);
  rb_steps_free(rb->steps, rb->nsteps);
  rb_certs_free(rb);
  free(rb->schedule.window);
  json_decref(rb->schedule.waves);
  json_decref(rb->notify);
  json_decref(rb->root);
  free(rb->dir);
  free(rb->inventory);
  free(rb->group);
  json_decref(rb->target_index);
  free(rb);
}

const rd_target *rd_runbook_target(const rd_runbook *rb, const char *name) {
  json_t *i = rb && name ? json_object_get(rb->target_index, name) : NULL;
  return i ? &rb->targets[json_integer_value(i)] : NULL;
}
