/* mod_badabi.c — a module built as if against a future ABI (version 2 and a
 * larger descriptor): the loader must refuse it with a sentence. */
#include "renewd/plugin.h"

static int probe(rd_step *s, const rd_host_api *h) {
  (void)s;
  (void)h;
  return 0;
}
static const rd_step_kind k = {.type = "future.step", .probe = probe};
static const rd_step_kind *const kinds[] = {&k, NULL};
static const rd_plugin p = {RD_PLUGIN_MAGIC, RD_PLUGIN_ABI + 1, sizeof(rd_plugin) + 16,
                            sizeof(rd_step_kind), sizeof(rd_host_api), "future", "9.9", kinds};
const rd_plugin *renewd_plugin_v1(void) { return &p; }
