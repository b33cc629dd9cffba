/* registry.c — see registry.h. */
#include "host/registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"

struct rd_registry {
  const rd_step_kind **kinds;
  size_t nkinds, capkinds;
  void **handles;
  size_t nhandles;
};

int rd_registry_new(rd_registry **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : RD_ENOMEM;
}

void rd_registry_free(rd_registry *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->nhandles; i++)
    dlclose(r->handles[i]);
  free(r->handles);
  free(r->kinds);
  free(r);
}

int rd_registry_add(rd_registry *r, const rd_plugin *p, const char *origin,
                    char *err, size_t errlen) {
  if (!p || p->magic != RD_PLUGIN_MAGIC) {
    rd_fmt(err, errlen, "plugin %s: not a renewd plugin (bad magic number)", origin);
    return RD_EABI;
  }
  if (p->abi != RD_PLUGIN_ABI || p->plugin_size != sizeof(rd_plugin) ||
      p->kind_size != sizeof(rd_step_kind)) {
    rd_fmt(err, errlen,
           "plugin %s: built for plugin ABI %u (sizes %zu/%zu), this renewd speaks "
           "ABI %u (sizes %zu/%zu); rebuild the plugin against this renewd's "
           "renewd/plugin.h",
           origin, p->abi, p->plugin_size, p->kind_size, RD_PLUGIN_ABI,
           sizeof(rd_plugin), sizeof(rd_step_kind));
    return RD_EABI;
  }
  if (p->host_api_min > sizeof(rd_host_api)) {
    rd_fmt(err, errlen,
           "plugin %s: needs a newer renewd (host API of %zu bytes, this one has "
           "%zu); upgrade renewd or use an older plugin build",
           origin, p->host_api_min, sizeof(rd_host_api));
    return RD_EABI;
  }
  if (!p->name || !p->kinds) {
    rd_fmt(err, errlen, "plugin %s: descriptor has no name or no step kinds", origin);
    return RD_EABI;
  }
  for (const rd_step_kind *const *k = p->kinds; *k; k++) {
    const rd_step_kind *kind = *k;
    if (!kind->type || !kind->probe) {
      rd_fmt(err, errlen, "plugin %s: a step kind has no type or no probe", origin);
      return RD_EABI;
    }
    if (rd_registry_find(r, kind->type)) {
      rd_fmt(err, errlen, "plugin %s: step kind '%s' is already registered by another "
                          "plugin; remove one of the two modules",
             origin, kind->type);
      return RD_EEXIST;
    }
  }
  /* all or nothing: room for every kind first, then register them */
  size_t n = 0;
  for (const rd_step_kind *const *k = p->kinds; *k; k++)
    n++;
  if (r->nkinds + n > r->capkinds) {
    size_t cap = r->capkinds ? r->capkinds : 16;
    while (cap < r->nkinds + n)
      cap *= 2;
    const rd_step_kind **nk = realloc(r->kinds, cap * sizeof *nk);
    if (!nk)
      return RD_ENOMEM;
    r->kinds = nk;
    r->capkinds = cap;
  }
  for (const rd_step_kind *const *k = p->kinds; *k; k++)
    r->kinds[r->nkinds++] = *k;
  return 0;
}

int rd_registry_load_file(rd_registry *r, const char *path, char *err, size_t errlen) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  rd_plugin_entry entry;
  void **nh;
  int rc;
  if (!h) {
    rd_fmt(err, errlen, "plugin %s: cannot load: %s", path, dlerror());
    return RD_EIO;
  }
  *(void **)&entry = dlsym(h, RD_PLUGIN_SYMBOL);
  if (!entry) {
    rd_fmt(err, errlen, "plugin %s: no symbol %s(); is it a renewd plugin built for "
                        "ABI %u?",
           path, RD_PLUGIN_SYMBOL, RD_PLUGIN_ABI);
    dlclose(h);
    return RD_EABI;
  }
  /* room for the handle before any kind from h is registered: once its
   * kinds are in, nothing may fail (a dlclose would leave them dangling) */
  if (!(nh = realloc(r->handles, (r->nhandles + 1) * sizeof *nh))) {
    rd_fmt(err, errlen, "plugin %s: out of memory", path);
    dlclose(h);
    return RD_ENOMEM;
  }
  r->handles = nh;
  if ((rc = rd_registry_add(r, entry(), path, err, errlen))) {
    dlclose(h); /* rd_registry_add registered nothing */
    return rc;
  }
  r->handles[r->nhandles++] = h;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int rd_registry_load_dir(rd_registry *r, const char *dir, char *err, size_t errlen) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;
  int rc = 0;
  if (!d) {
    rd_fmt(err, errlen, "plugins %s: cannot open the directory; pass --plugins DIR "
                        "or set RENEWD_PLUGINS",
           dir);
    return RD_ENOTFOUND;
  }
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    char **nn;
    if (strncmp(e->d_name, "renewd-", 7) || l < 4 || strcmp(e->d_name + l - 3, ".so"))
      continue;
    if (!(nn = realloc(names, (n + 1) * sizeof *nn)) || !(nn[n] = strdup(e->d_name))) {
      names = nn ? nn : names;
      rc = RD_ENOMEM;
      break;
    }
    names = nn;
    n++;
  }
  closedir(d);
  if (names)
    qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n && rc == 0; i++) {
    char path[4096];
    rd_fmt(path, sizeof path, "%s/%s", dir, names[i]);
    rc = rd_registry_load_file(r, path, err, errlen);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc;
}

int rd_registry_load_default(rd_registry *r, const char *dir_override, char *err,
                             size_t errlen) {
  const char *dir = dir_override;
  if (!dir || !*dir)
    dir = getenv("RENEWD_PLUGINS");
  /* an installed renewd uses its installed plugins; a renewd run from its
   * build tree (no install yet) uses the ones built beside it */
#ifdef RENEWD_PLUGIN_DIR
  if ((!dir || !*dir) && access(RENEWD_PLUGIN_DIR, R_OK) == 0)
    dir = RENEWD_PLUGIN_DIR;
#endif
#ifdef RENEWD_BUILD_PLUGIN_DIR
  if ((!dir || !*dir) && access(RENEWD_BUILD_PLUGIN_DIR, R_OK) == 0)
    dir = RENEWD_BUILD_PLUGIN_DIR;
#endif
#ifdef RENEWD_PLUGIN_DIR
  if (!dir || !*dir)
    dir = RENEWD_PLUGIN_DIR;
#endif
  if (!dir)
    dir = "/usr/local/lib/renewd/plugins";
  return rd_registry_load_dir(r, dir, err, errlen);
}

const rd_step_kind *rd_registry_find(const rd_registry *r, const char *type) {
  for (size_t i = 0; r && type && i < r->nkinds; i++)
    if (!strcmp(r->kinds[i]->type, type))
      return r->kinds[i];
  return NULL;
}

const rd_step_kind *rd_registry_kind_at(const rd_registry *r, size_t i) {
  return r && i < r->nkinds ? r->kinds[i] : NULL;
}

const char *rd_registry_suggest(const rd_registry *r, const char *type) {
  const char *best = NULL;
  size_t bestd = (size_t)-1;
  for (size_t i = 0; r && type && i < r->nkinds; i++) {
    size_t d = rd_edit_distance(type, r->kinds[i]->type);
    if (d < bestd) {
      bestd = d;
      best = r->kinds[i]->type;
    }
  }
  return best && bestd <= 3 + strlen(type) / 4 ? best : NULL;
}
