/* plugin_module.h — a plugin as renewd loads it: the built module
 * BUILD_DIR/plugins/renewd-NAME.so, opened with dlopen. */
#ifndef RENEWD_PLUGIN_MODULE_H
#define RENEWD_PLUGIN_MODULE_H
#include <stddef.h>

/* Fails the test unless renewd-NAME.so exists, loads, exports
 * RD_PLUGIN_SYMBOL, and that returns the descriptor of plugin NAME with at
 * least min_kinds step kinds. (Every test program depends on the modules:
 * a missing one is a failure, not a skip.) */
void pm_check_entry(const char *name, size_t min_kinds);

#endif
