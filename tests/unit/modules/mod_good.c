/* mod_good.c — a minimal well-formed module with one step kind. */
#include "renewd/plugin.h"

static int probe(rd_step *s, const rd_host_api *h) {
  h->done(s, 0, NULL, "probed");
  return 0;
}
static const rd_step_kind k = {.type = "good.step", .summary = "test", .probe = probe};
static const rd_step_kind *const kinds[] = {&k, NULL};
static const rd_plugin p = RD_PLUGIN_INIT("good", "1.0", kinds);
const rd_plugin *renewd_plugin_v1(void) { return &p; }
