/* cmd_status.c — 'renewd status'. */
#include "cli.h"

int cmd_status(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("status");
}
