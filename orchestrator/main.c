/* main.c — renewd's entry point: global options, then one verb. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "transport/global.h"

#ifndef RENEWD_VERSION
#define RENEWD_VERSION "0.0.0"
#endif

static void usage(FILE *f) {
  fprintf(f,
          "renewd %s — certificate renewal orchestrator\n"
          "\n"
          "Finds certificates on a fleet over SSH, renews the ones that are due with a\n"
          "request signed by the certificate being replaced (the private key never\n"
          "leaves the target), then runs the follow-ups: key ACLs, duplicate cleanup,\n"
          "thumbprint updates, service restarts and verification, with rollback.\n"
          "\n"
          "usage: renewd VERB [options] [args]\n"
          "       renewd VERB --help\n"
          "\n"
          "verbs:\n",
          RENEWD_VERSION);
  for (const rd_verb *v = rd_verbs; v->name; v++)
    fprintf(f, "  %-10s %s\n", v->name, v->summary);
  fprintf(f, "\n"
             "exit codes: 0 nothing due, 10 renewed (or would renew, with --whatif),\n"
             "            1 a job failed, 2 usage or configuration error\n"
             "\n"
             "example: renewd plan runbooks/lab-posix-scep.json\n");
}

static int dispatch(int argc, char **argv) {
  /* A peer that hangs up must surface as an error code, not kill renewd. */
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return RD_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    if (argc > 2 && rd_verb_find(argv[2])) {
      rd_verb_help(rd_verb_find(argv[2]));
      return RD_EXIT_OK;
    }
    usage(stdout);
    return RD_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
    printf("renewd %s\n", RENEWD_VERSION);
    return RD_EXIT_OK;
  }
  const rd_verb *v = rd_verb_find(argv[1]);
  if (!v) {
    const char *s = rd_verb_suggest(argv[1]);
    if (s)
      fprintf(stderr, "renewd: unknown verb '%s'; did you mean '%s'? ('renewd --help' lists the "
                      "verbs)\n", rd_cli_printable(argv[1]), s);
    else
      fprintf(stderr, "renewd: unknown verb '%s'; run 'renewd --help' for the list\n",
              rd_cli_printable(argv[1]));
    return RD_EXIT_USAGE;
  }
  if (rd_wants_help(argc - 1, argv + 1)) {
    rd_verb_help(v);
    return RD_EXIT_OK;
  }
  return v->fn(argc - 1, argv + 1);
}

int main(int argc, char **argv) {
  /* The transports' global state, once for the process and before any
   * thread exists (neither libssh2's nor curl's init is thread-safe). */
  if (rd_transport_global_init()) {
    fprintf(stderr, "renewd: cannot initialise libssh2 and libcurl\n");
    return RD_EXIT_FAILED;
  }
  int code = dispatch(argc, argv);
  rd_transport_global_cleanup();
  return code;
}
