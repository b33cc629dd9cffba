/* scep_plugin.c — the SCEP plugin's descriptor. */
#include "scep_plugin.h"

static const rd_step_kind *const kinds[] = {&scep_kind_issue, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("scep", "0.1.0", kinds);

const rd_plugin *scep_plugin(void) { return &plugin; }

/* The ABI entry point. Weak, so that unit tests can link several plugins'
 * static libraries into one binary; in the module it is the only one. */
__attribute__((weak)) const rd_plugin *renewd_plugin_v1(void);
__attribute__((weak)) const rd_plugin *renewd_plugin_v1(void) { return scep_plugin(); }
