/* cmd_serve.c — 'renewd serve'. */
#include "cli.h"

int cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("serve");
}
