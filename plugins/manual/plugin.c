/* plugin.c — the manual plugin's descriptor. */
#include "manual_plugin.h"

static const rd_step_kind *const manual_kinds[] = {&manual_kind_issue, NULL};

static const rd_plugin manual_descriptor = RD_PLUGIN_INIT("manual", "0.1.0", manual_kinds);

const rd_plugin *manual_plugin(void) { return &manual_descriptor; }
