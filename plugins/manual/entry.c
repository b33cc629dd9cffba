/* entry.c — the module's ABI entry point (renewd/plugin.h RD_PLUGIN_SYMBOL).
 * Weak: the static library rdplug_manual links into unit tests next to
 * other plugins' libraries, each defining renewd_plugin_v1; weak
 * definitions do not clash there, and in renewd-manual.so it is the only
 * one. */
#include "manual_plugin.h"

const rd_plugin *renewd_plugin_v1(void) __attribute__((weak));
const rd_plugin *renewd_plugin_v1(void) { return manual_plugin(); }
