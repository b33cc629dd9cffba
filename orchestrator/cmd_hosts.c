/* cmd_hosts.c — 'renewd hosts'. */
#include "cli.h"

int cmd_hosts(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("hosts");
}
