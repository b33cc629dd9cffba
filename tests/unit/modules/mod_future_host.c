/* mod_future_host.c — needs a host API larger than this renewd offers. */
#include "renewd/plugin.h"

static int probe(rd_step *s, const rd_host_api *h) {
  (void)s;
  (void)h;
  return 0;
}
static const rd_step_kind k = {.type = "fut.step", .probe = probe};
static const rd_step_kind *const kinds[] = {&k, NULL};
static const rd_plugin p = {RD_PLUGIN_MAGIC, RD_PLUGIN_ABI, sizeof(rd_plugin),
                            sizeof(rd_step_kind), sizeof(rd_host_api) + 64, "fut", "1", kinds};
const rd_plugin *renewd_plugin_v1(void) { return &p; }
