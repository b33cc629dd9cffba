/* cmd_validate.c — 'renewd validate'. */
#include "cli.h"

int cmd_validate(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return rd_not_built("validate");
}
