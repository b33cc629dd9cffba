/* cli.h — the verbs of the renewd command line. Each lives in cmd_<verb>.c
 * and returns a process exit code (see docs/CLI.md):
 *   0 nothing due / success, 10 renewed (or would renew, in whatif),
 *   1 failures, 2 usage or configuration errors. */
#ifndef RENEWD_CLI_H
#define RENEWD_CLI_H

enum {
  RD_EXIT_OK = 0,
  RD_EXIT_FAILED = 1,
  RD_EXIT_USAGE = 2,
  RD_EXIT_RENEWED = 10
};

typedef struct rd_verb {
  const char *name;
  const char *summary;
  const char *help; /* full --help text for the verb, with an example */
  int (*fn)(int argc, char **argv);
} rd_verb;

int cmd_serve(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_inventory(int argc, char **argv);
int cmd_remediate(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_debug(int argc, char **argv);

/* The verb table (cli.c) and its lookup. */
extern const rd_verb rd_verbs[];
const rd_verb *rd_verb_find(const char *name);
/* True when argv holds -h or --help (before a lone "--"). */
int rd_wants_help(int argc, char **argv);
/* Print a verb's help to stdout. */
void rd_verb_help(const rd_verb *v);
/* Shared message for verbs that a later release fills in. */
int rd_not_built(const char *verb);

#endif
