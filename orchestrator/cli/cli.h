/* cli.h — the verbs of the renewd command line. Each lives in cmd_<verb>.c
 * and returns a process exit code (see docs/CLI.md):
 *   0 nothing due / success, 10 renewed (or would renew, in whatif),
 *   1 failures, 2 usage or configuration errors. */
#ifndef RENEWD_CLI_H
#define RENEWD_CLI_H
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

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
int cmd_report(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_debug(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* cmd_run.c: load the runbooks, run the engine read-only (whatif) for
 * verb, print its report; doctor's printer is cmd_doctor.c's. */
int rd_cli_run(const char *verb, int argc, char **argv);
void rd_doctor_print(const json_t *report, FILE *f);

/* The verb table (cli.c) and its lookup. */
extern const rd_verb rd_verbs[];
const rd_verb *rd_verb_find(const char *name);
/* True when argv holds -h or --help (before a lone "--"). */
int rd_wants_help(int argc, char **argv);
/* Print a verb's help to stdout. */
void rd_verb_help(const rd_verb *v);
/* Shared message for verbs that a later release fills in. */
int rd_not_built(const char *verb);

/* args.c: the one parser of numbers and addresses on the command line.
 * A whole decimal number in [min, max] (no sign "+", no spaces, no suffix):
 * 0 and *out set, else RD_EINVAL and *out untouched. */
/* The largest --max-parallel any verb accepts. */
#define RD_CLI_MAX_PARALLEL 4096
int rd_cli_parse_int(const char *text, int min, int max, int *out);
/* The same for option opt of verb, with the message on failure:
 * "renewd serve: --max-parallel 'x': expected a whole number from 1 to 4096";
 * returns 0 or RD_EXIT_USAGE (the caller returns it). */
int rd_cli_int_opt(const char *verb, const char *opt, const char *text, int min, int max,
                   int *out);
/* ADDRESS:PORT, [IPv6]:PORT, or ADDRESS / [IPv6] alone when default_port > 0.
 * The port must be a whole number 1..65535; a bare IPv6 address needs its
 * brackets. Copies the address (without brackets) to host. RD_EINVAL. */
int rd_cli_parse_hostport(const char *text, int default_port, char *host, size_t hostlen,
                          int *port);
/* What getopt_long (optstring starting with ':') returned for a bad option
 * c ('?' unknown, ':' its value missing), as a sentence on stderr that names
 * the option and, for a misspelt long one, the option meant: "renewd run:
 * unknown option '--hosts'; did you mean '--host'?". RD_EXIT_USAGE. */
struct option;
int rd_cli_bad_option(const char *verb, const struct option *opts, char **argv, int c);
/* The verb nearest a misspelt name, or NULL (cli.c). */
const char *rd_verb_suggest(const char *name);
/* text with bytes outside printable ASCII, quotes and backslashes as \xNN,
 * cut at ~120 bytes, for error messages (a static buffer: one use per call). */
const char *rd_cli_printable(const char *text);

#endif
