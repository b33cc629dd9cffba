/* cmd_run.c — 'renewd run', 'renewd plan' (= run --whatif) and
 * 'renewd remediate': load runbooks, run the engine, print the report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "core/engine.h"
#include "base/err.h"

enum { OPT_JOURNAL = 1000, OPT_PLUGINS, OPT_SHOW_SCRIPTS, OPT_RUNBOOK, OPT_MAX_PARALLEL, OPT_KEYS };

typedef struct run_args {
  rd_engine_opts eo;
  const char *journal, *plugins;
  const char **hosts;
  size_t nhosts;
  const char **runbooks;
  size_t nrunbooks;
} run_args;

static int push(const char ***arr, size_t *n, const char *v) {
  const char **a = realloc(*arr, (*n + 2) * sizeof *a);
  if (!a)
    return RD_ENOMEM;
  a[(*n)++] = v;
  a[*n] = NULL;
  *arr = a;
  return 0;
}

static int parse_args(const char *verb, int argc, char **argv, run_args *a) {
  static const struct option opts[] = {
      {"whatif", no_argument, NULL, 'n'},      {"host", required_argument, NULL, 'H'},
      {"force", no_argument, NULL, 'f'},       {"json", no_argument, NULL, 'j'},
      {"verbose", no_argument, NULL, 'v'},     {"journal", required_argument, NULL, OPT_JOURNAL},
      {"plugins", required_argument, NULL, OPT_PLUGINS},
      {"show-scripts", no_argument, NULL, OPT_SHOW_SCRIPTS},
      {"runbook", required_argument, NULL, OPT_RUNBOOK},
      {"max-parallel", required_argument, NULL, OPT_MAX_PARALLEL},
      {"keys", no_argument, NULL, OPT_KEYS},
      {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":nH:fjv", opts, NULL)) != -1) {
    switch (c) {
    case 'n': a->eo.whatif = 1; break;
    case 'H': push(&a->hosts, &a->nhosts, optarg); break;
    case 'f': a->eo.force = 1; break;
    case 'j': a->eo.json = 1; break;
    case 'v': a->eo.verbose = 1; break;
    case OPT_JOURNAL: a->journal = optarg; break;
    case OPT_PLUGINS: a->plugins = optarg; break;
    case OPT_SHOW_SCRIPTS: a->eo.show_scripts = 1; break;
    case OPT_KEYS: a->eo.keys = 1; break;
    case OPT_RUNBOOK: push(&a->runbooks, &a->nrunbooks, optarg); break;
    case OPT_MAX_PARALLEL:
      if (rd_cli_int_opt(verb, "--max-parallel", optarg, 1, RD_CLI_MAX_PARALLEL, &a->eo.max_parallel))
        return RD_EXIT_USAGE;
      break;
    default:
      return rd_cli_bad_option(verb, opts, argv, c);
    }
  }
  for (int i = optind; i < argc; i++)
    push(&a->runbooks, &a->nrunbooks, argv[i]);
  if (!a->nrunbooks) {
    fprintf(stderr, "renewd %s: no runbook given; usage: renewd %s RUNBOOK... (see --help)\n",
            verb, verb);
    return RD_EXIT_USAGE;
  }
  a->eo.hosts = a->hosts;
  return 0;
}

static int run_common(const char *verb, int argc, char **argv, int whatif, int remediate) {
  run_args a;
  rd_registry *reg = NULL;
  rd_journal *journal = NULL;
  rd_runbook **rbs = NULL;
  rd_engine *e = NULL;
  uv_loop_t loop;
  int loop_ok = 0, code = RD_EXIT_USAGE, rc;
  char err[1024];

  memset(&a, 0, sizeof a);
  if ((rc = parse_args(verb, argc, argv, &a)))
    goto out;
  a.eo.whatif |= whatif;
  a.eo.remediate = remediate;
  a.eo.inventory = !strcmp(verb, "inventory");
  a.eo.doctor = !strcmp(verb, "doctor");
  if (remediate && !a.nhosts) {
    fprintf(stderr, "renewd remediate: name the host with --host H (remediation is one host at "
                    "a time)\n");
    goto out;
  }
  if (rd_registry_new(&reg) || rd_registry_load_default(reg, a.plugins, err, sizeof err)) {
    fprintf(stderr, "renewd %s: %s\n", verb, err);
    goto out;
  }
  if (!(rbs = calloc(a.nrunbooks, sizeof *rbs)))
    goto out;
  for (size_t i = 0; i < a.nrunbooks; i++) {
    rd_diag diag = {0};
    if (rd_runbook_load(a.runbooks[i], reg, &rbs[i], &diag)) {
      rd_diag_print(&diag, stderr);
      rd_diag_free(&diag);
      goto out;
    }
    rd_diag_free(&diag);
  }
  /* run and remediate keep their jobs in the journal; an inventory records
   * what it found there (what status, report and serve's fleet read) when
   * one is named, and is a read-only look without (docs/CLI.md) */
  const char *env_journal = getenv("RENEWD_JOURNAL");
  if (a.eo.inventory && !a.journal && env_journal && *env_journal)
    a.journal = env_journal;
  if ((!a.eo.whatif || remediate) || (a.eo.inventory && a.journal)) {
    const char *path = a.journal ? a.journal : rd_journal_default_path();
    if (rd_journal_open(path, &journal, err, sizeof err)) {
      fprintf(stderr, "renewd %s: %s\n", verb, err);
      goto out;
    }
  } else if (!a.eo.inventory && !a.eo.doctor && (a.journal || (env_journal && *env_journal))) {
    /* a plan reads the journal it is given (never creates or writes it):
     * the hosts a run would leave to their backoff, the jobs it resumes */
    rc = rd_journal_open_ex(a.journal ? a.journal : env_journal, RD_JOURNAL_MUST_EXIST, &journal,
                            err, sizeof err);
    if (rc == RD_ENOTFOUND) /* no run has made it yet: nothing to show */
      fprintf(stderr, "renewd %s: %s (no job has run yet): planned without it\n", verb, err);
    else if (rc) {
      fprintf(stderr, "renewd %s: %s\n", verb, err);
      goto out;
    }
    a.eo.peek = journal;
    journal = NULL;
  }
  if (uv_loop_init(&loop))
    goto out;
  loop_ok = 1;
  if ((rc = rd_engine_new(&loop, reg, journal, &a.eo, &e)))
    goto out;
  for (size_t i = 0; i < a.nrunbooks; i++)
    if (rd_engine_add_runbook(e, rbs[i]))
      goto out;
  rd_engine_stats added;
  rd_engine_get_stats(e, &added);
  if (a.nhosts && added.targets == 0) {
    fprintf(stderr, "renewd %s: none of the --host names is a target of the runbooks\n", verb);
    goto out;
  }
  json_object_set_new(rd_engine_report(e), "verb", json_string(verb));
  rd_progress *progress = a.eo.json ? NULL : rd_progress_start(&loop, stderr, verb, e);
  code = rd_engine_run(e, NULL);
  rd_progress_stop(progress);
  if (a.eo.json) {
    char *s = json_dumps(rd_engine_report(e), JSON_INDENT(2));
    if (s)
      puts(s);
    free(s);
  } else if (a.eo.doctor)
    rd_doctor_print(rd_engine_report(e), stdout);
  else
    rd_engine_print_report(e, stdout);
out:
  rd_engine_free(e);
  if (loop_ok) {
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop))
      fprintf(stderr, "renewd %s: internal: handles left open at exit\n", verb);
  }
  for (size_t i = 0; rbs && i < a.nrunbooks; i++)
    rd_runbook_free(rbs[i]);
  free(rbs);
  rd_journal_close(journal);
  rd_journal_close(a.eo.peek);
  rd_registry_free(reg);
  free(a.hosts);
  free(a.runbooks);
  return code;
}

int cmd_run(int argc, char **argv) { return run_common("run", argc, argv, 0, 0); }
int cmd_plan(int argc, char **argv) { return run_common("plan", argc, argv, 1, 0); }
int cmd_remediate(int argc, char **argv) { return run_common("remediate", argc, argv, 0, 1); }
int rd_cli_run(const char *verb, int argc, char **argv) { /* doctor: a whatif run */
  return run_common(verb, argc, argv, 1, 0);
}
int cmd_inventory(int argc, char **argv) {
  int code = run_common("inventory", argc, argv, 1, 0);
  return code == RD_EXIT_RENEWED ? RD_EXIT_OK : code;
}
