/* cmd_run.c — 'renewd run'. */
#include "cli.h"

int cmd_run(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("run");
}
