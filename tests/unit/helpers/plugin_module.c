/* plugin_module.c — see plugin_module.h. */
#include "plugin_module.h"

#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

#include <check.h>

#include "renewd/plugin.h"

void pm_check_entry(const char *name, size_t min_kinds) {
  char path[1024];
  void *h;
  rd_plugin_entry e;
  size_t n = 0;
  snprintf(path, sizeof path, "%s/plugins/renewd-%s.so", BUILD_DIR, name);
  ck_assert_msg(access(path, F_OK) == 0, "%s: not built", path);
  h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(h != NULL, "%s", dlerror());
  *(void **)&e = dlsym(h, RD_PLUGIN_SYMBOL);
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e()->name, name);
  while (e()->kinds[n])
    n++;
  ck_assert_uint_ge(n, min_kinds);
  dlclose(h);
}
