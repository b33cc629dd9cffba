/* cmd_plan.c — 'renewd plan'. */
#include "cli.h"

int cmd_plan(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("plan");
}
