/* acme_plugin.c — the ACME plugin's descriptor: one step kind, acme.issue
 * (acme_kind.c), whose order flow is acme_flow.c and acme_order.c
 * (docs/ACME.md). */
#include "renewd/plugin.h"

extern const rd_step_kind acme_kind_issue;
static const rd_step_kind *const kinds[] = {&acme_kind_issue, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("acme", "0.1.0", kinds);

const rd_plugin *acme_plugin(void);
const rd_plugin *acme_plugin(void) { return &plugin; }

/* The ABI entry point (weak: unit tests link several plugins' libraries). */
__attribute__((weak)) const rd_plugin *renewd_plugin_v1(void);
__attribute__((weak)) const rd_plugin *renewd_plugin_v1(void) { return acme_plugin(); }
