/* cmd_inventory.c — 'renewd inventory'. */
#include "cli.h"

int cmd_inventory(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("inventory");
}
