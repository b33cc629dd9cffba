/* cmd_report.c — 'renewd report --html FILE [--journal J] [RUNBOOK...]':
 * the fleet report (core/report_html.h) written to FILE ("-": stdout).
 * Only reads: the journal must exist, no target is contacted. With
 * runbooks, every target of theirs is on the page (never inventoried ones
 * too) with the runbook's renew window; without, every host the journal
 * has inventoried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "cli/cli.h"
#include "config/runbook.h"
#include "core/report_html.h"
#include "store/journal.h"

#define USAGE "usage: renewd report --html FILE [--journal FILE] [RUNBOOK...]\n"

/* The value of option name at argv[*i] ("--x V" or "--x=V"), or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *bad) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n))
    return NULL;
  if (argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (argv[*i][n])
    return NULL;
  if (*i + 1 >= argc) {
    fprintf(stderr, "renewd report: %s needs a FILE\n" USAGE, name);
    *bad = 1;
    return NULL;
  }
  return argv[++*i];
}

static int write_page(const char *out, const json_t *model) {
  FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
  int rc;
  if (!f) {
    fprintf(stderr, "renewd report: %s: cannot write: %m\n", rd_cli_printable(out));
    return RD_EXIT_FAILED;
  }
  rc = rd_report_html_write(f, model);
  if ((f != stdout ? fclose(f) : fflush(f)) || rc) {
    fprintf(stderr, "renewd report: %s: write failed\n", rd_cli_printable(out));
    return RD_EXIT_FAILED;
  }
  return RD_EXIT_OK;
}

int cmd_report(int argc, char **argv) {
  const char *html = NULL, *path = NULL, *v;
  rd_runbook **rbs = calloc((size_t)argc, sizeof *rbs);
  size_t n = 0;
  int bad = !rbs, rc = RD_EXIT_FAILED;
  rd_journal *j = NULL;
  json_t *model = NULL;
  char err[1600];
  for (int i = 1; i < argc && !bad; i++) {
    if ((v = opt_value(argc, argv, &i, "--html", &bad)))
      html = v;
    else if ((v = opt_value(argc, argv, &i, "--journal", &bad)))
      path = v;
    else if (bad)
      break;
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "renewd report: unknown argument '%s'\n" USAGE, rd_cli_printable(argv[i]));
      bad = 1;
    } else {
      rd_diag d = {0};
      if (rd_runbook_load(argv[i], NULL, &rbs[n], &d)) {
        rd_diag_print(&d, stderr);
        rd_diag_free(&d);
        bad = 1;
        break;
      }
      rd_diag_free(&d);
      n++;
    }
  }
  if (!bad && !html) {
    fprintf(stderr, "renewd report: --html FILE is required\n" USAGE);
    bad = 1;
  }
  if (bad) {
    rc = RD_EXIT_USAGE;
    goto out;
  }
  if (!path)
    path = rd_journal_default_path();
  if ((rc = rd_journal_open_ex(path, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err)) < 0) {
    fprintf(stderr, "renewd report: %s%s\n", err,
            rc == RD_ENOTFOUND ? " (no job has run yet, or use --journal FILE)" : "");
    rc = RD_EXIT_FAILED;
    goto out;
  }
  rd_journal_set_busy_timeout(j, 5000); /* one-shot, off any event loop */
  rd_report_src src = {j, rbs, n, NULL, time(NULL), 0, 0};
  if (!(model = rd_report_model(&src, err, sizeof err))) {
    fprintf(stderr, "renewd report: %s\n", err);
    rc = RD_EXIT_FAILED;
    goto out;
  }
  rc = write_page(html, model);
out:
  json_decref(model);
  rd_journal_close(j);
  for (size_t i = 0; i < n; i++)
    rd_runbook_free(rbs[i]);
  free(rbs);
  return rc;
}
