/* cmd_remediate.c — 'renewd remediate'. */
#include "cli.h"

int cmd_remediate(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("remediate");
}
