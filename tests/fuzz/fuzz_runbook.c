/* fuzz_runbook.c — rd_runbook_load() on any text: the loader reads a path,
 * so the input is written to rb/runbook.json in a private temporary
 * directory (relative identity and known_hosts paths resolve there), next to
 * a copy of tests/fixtures/runbooks/inv/inventory.json in inv/, so that
 * "../inv/inventory.json" is found as in the fixtures. No registry: step
 * types go unchecked. Every outcome is fine but a crash, a
 * leak, undefined behaviour, or a failure without a diagnostic. */
#include <jansson.h>
#include "base/err.h"
#include "base/util.h"
#include "config/runbook.h"
#include <sys/stat.h>
#include "fuzz_util.h"

static void setup(void) {
  char path[128], *text = NULL;
  size_t len = 0;
  if (mkdir(fz_path("rb", path, sizeof path), 0700) ||
      mkdir(fz_path("inv", path, sizeof path), 0700) ||
      rd_read_file(FIXTURES "/runbooks/inv/inventory.json", 1 << 20, &text, &len))
    abort();
  fz_write("inv/inventory.json", (const uint8_t *)text, len, path, sizeof path);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  char path[128];
  rd_runbook *rb = NULL;
  rd_diag d = {0};
  if (!ready) {
    setup();
    ready = 1;
  }
  fz_write("rb/runbook.json", data, size, path, sizeof path);
  int rc = rd_runbook_load(path, NULL, &rb, &d);
  if (rc == 0 && !rb)
    abort(); /* success without a runbook */
  if (rc == RD_ECONFIG && d.n == 0)
    abort(); /* refused without saying why */
  if (rb) {
    for (size_t i = 0; i < rb->ntargets; i++)
      if (rd_runbook_target(rb, rb->targets[i].name) == NULL)
        abort(); /* a target its own index does not find */
  }
  rd_runbook_free(rb);
  rd_diag_free(&d);
  return 0;
}
