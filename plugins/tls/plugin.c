/* plugin.c — the tls plugin's descriptor. */
#include "tls_plugin.h"

static const rd_step_kind *const tls_kinds[] = {&tls_kind_verify, NULL};

static const rd_plugin tls_descriptor = RD_PLUGIN_INIT("tls", "0.1.0", tls_kinds);

const rd_plugin *tls_plugin(void) { return &tls_descriptor; }
