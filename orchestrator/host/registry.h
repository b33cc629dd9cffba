/* registry.h — plugin loader (dlopen, magic/ABI/size checks) and the
 * step-kind registry (type name -> rd_step_kind). */
#ifndef RENEWD_REGISTRY_H
#define RENEWD_REGISTRY_H
#include <stddef.h>
#include "renewd/plugin.h"

typedef struct rd_registry rd_registry;

int rd_registry_new(rd_registry **out);
void rd_registry_free(rd_registry *r); /* NULL ok; dlcloses modules */
/* Register a plugin descriptor (from a module or linked statically). Refuses a
 * wrong magic/ABI/size or a duplicate step type with a sentence in err. */
int rd_registry_add(rd_registry *r, const rd_plugin *p, const char *origin,
                    char *err, size_t errlen);
/* dlopen one module and register it. */
int rd_registry_load_file(rd_registry *r, const char *path, char *err, size_t errlen);
/* Load every renewd-*.so in dir (sorted). Missing dir is an error. */
int rd_registry_load_dir(rd_registry *r, const char *dir, char *err, size_t errlen);
/* Load from $RENEWD_PLUGINS, else the build tree, else the install dir. */
int rd_registry_load_default(rd_registry *r, const char *dir_override, char *err,
                             size_t errlen);
const rd_step_kind *rd_registry_find(const rd_registry *r, const char *type);
/* Iterate kinds: i from 0 until NULL. */
const rd_step_kind *rd_registry_kind_at(const rd_registry *r, size_t i);
/* The closest registered type name (for "did you mean"), or NULL. */
const char *rd_registry_suggest(const rd_registry *r, const char *type);

#endif
