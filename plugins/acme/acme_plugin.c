/* acme_plugin.c — the ACME plugin's descriptor. The order flow (acme_flow.h)
 * is complete and tested; its step kind, acme.issue, is registered once the
 * host API hands plugins the HTTP response headers ACME needs (Replay-Nonce,
 * Location, Retry-After): see docs/ACME.md. Until then the plugin offers no
 * step kind, and a runbook cannot name it. */
#include "renewd/plugin.h"

extern const rd_step_kind acme_kind_issue;
static const rd_step_kind *const kinds[] = {&acme_kind_issue, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("acme", "0.1.0", kinds);

const rd_plugin *acme_plugin(void);
const rd_plugin *acme_plugin(void) { return &plugin; }

/* The ABI entry point (weak: unit tests link several plugins' libraries). */
__attribute__((weak)) const rd_plugin *renewd_plugin_v1(void);
__attribute__((weak)) const rd_plugin *renewd_plugin_v1(void) { return acme_plugin(); }
