/* cmd_validate.c — 'renewd validate RUNBOOK... [--plugins DIR] [--list-steps]':
 * load every runbook with every check, print all problems as
 * file:line:column: message, exit 0 when all are valid, 2 otherwise. */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli.h"
#include "config/inventory.h"
#include "host/registry.h"
#include "config/runbook.h"

/* A file name or a plugin's text for the terminal (base/util.h). */
static const char *shown(const char *text, char *buf, size_t len) {
  rd_escape(buf, len, text, RD_ESC_ONE_LINE);
  return buf;
}

static void list_steps(const rd_registry *reg) {
  const rd_step_kind *k;
  char type[256], summary[1024];
  for (size_t i = 0; (k = rd_registry_kind_at(reg, i)); i++)
    printf("%-32s %-8s %s\n", shown(k->type, type, sizeof type), rd_platform_name(k->platform),
           shown(k->summary ? k->summary : "", summary, sizeof summary));
}

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

/* "  WHAT: N steps: a, b [for ecdsa]": the steps of one certificate or the
 * host-level ones (rb->steps), by name; a host-level step bound to a
 * certificate (its "certificate" member) with that certificate's name. */
static void print_steps(const char *what, const rd_runbook *rb, const rd_step_cfg *steps,
                        size_t n) {
  char buf[1024];
  printf("  %s: %zu step%s%s", what, n, plural(n), n ? ":" : "");
  for (size_t k = 0; k < n; k++) {
    printf("%s %s", k ? "," : "", shown(steps[k].name, buf, sizeof buf));
    if (steps == rb->steps && steps[k].cert >= 0 && (size_t)steps[k].cert < rb->ncerts &&
        rb->certs[steps[k].cert].name)
      printf(" [for %s]", shown(rb->certs[steps[k].cert].name, buf, sizeof buf));
  }
  printf("\n");
}

/* The ok line: targets, certificates and every step (the certificates' own
 * and the host-level ones). A runbook of several certificates ('certificates')
 * then lists each certificate with its steps, and the host-level steps that
 * run once after them. */
static void print_ok(const char *file, const rd_runbook *rb) {
  size_t nsteps = rb->nsteps;
  char buf[1024], what[1100];
  for (size_t c = 0; c < rb->ncerts; c++)
    nsteps += rb->certs[c].nsteps;
  printf("%s: ok (%zu target%s, %zu certificate%s%s, %zu step%s)\n", file, rb->ntargets,
         plural(rb->ntargets), rb->ncerts, plural(rb->ncerts),
         rb->multi && rb->ncerts > 1 ? (rb->together ? ", renewed together" : ", each when due")
                                     : "",
         nsteps, plural(nsteps));
  if (!rb->multi)
    return;
  for (size_t c = 0; c < rb->ncerts; c++) {
    snprintf(what, sizeof what, "certificate %s",
             shown(rb->certs[c].name ? rb->certs[c].name : "", buf, sizeof buf));
    print_steps(what, rb, rb->certs[c].steps, rb->certs[c].nsteps);
  }
  print_steps("host-level, once after them", rb, rb->steps, rb->nsteps);
}

/* `renewd validate runbooks/<all>.json` also meets runbooks/schema.json: a JSON
 * Schema document is skipped, not reported as a runbook missing every key. */
static int is_json_schema(const char *path) {
  json_t *root = json_load_file(path, 0, NULL);
  const char *s = json_string_value(json_object_get(root, "$schema"));
  int yes = s && (!strncmp(s, "https://json-schema.org/", 24) ||
                  !strncmp(s, "http://json-schema.org/", 23));
  json_decref(root);
  return yes;
}

int cmd_validate(int argc, char **argv) {
  const char *plugins = NULL;
  int list = 0, nfiles = 0, bad = 0, explicit_dir = 0;
  rd_registry *reg = NULL;
  char err[1024];
  int rc;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--plugins") && i + 1 < argc) {
      plugins = argv[++i];
      explicit_dir = 1;
    } else if (!strncmp(argv[i], "--plugins=", 10)) {
      plugins = argv[i] + 10;
      explicit_dir = 1;
    } else if (!strcmp(argv[i], "--list-steps") || !strcmp(argv[i], "--list")) {
      list = 1;
    } else if (!strcmp(argv[i], "--")) {
      nfiles += argc - i - 1;
      break;
    } else if (!strcmp(argv[i], "--plugins")) { /* the last argument */
      fprintf(stderr, "renewd validate: option '--plugins' needs a value (DIR); see 'renewd "
                      "validate --help'\n");
      return RD_EXIT_USAGE;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr,
              "renewd validate: unknown option '%s'\n"
              "usage: renewd validate RUNBOOK... [--plugins DIR] [--list-steps]\n",
              shown(argv[i], err, sizeof err));
      return RD_EXIT_USAGE;
    } else {
      nfiles++;
    }
  }
  if (!nfiles && !list) {
    fprintf(stderr, "renewd validate: no runbook given\n"
                    "usage: renewd validate RUNBOOK... [--plugins DIR] [--list-steps]\n"
                    "example: renewd validate runbooks/*.json\n");
    return RD_EXIT_USAGE;
  }

  if ((rc = rd_registry_new(&reg))) {
    fprintf(stderr, "renewd validate: out of memory\n");
    return RD_EXIT_USAGE;
  }
  err[0] = '\0';
  rc = rd_registry_load_default(reg, plugins, err, sizeof err);
  if (rc && (explicit_dir || rc != RD_ENOTFOUND)) {
    /* a broken or mismatched plugin, or a directory the user named */
    fprintf(stderr, "renewd validate: %s\n", err);
    rd_registry_free(reg);
    return RD_EXIT_USAGE;
  }
  if (rc || !rd_registry_kind_at(reg, 0)) {
    if (list) {
      fprintf(stderr, "renewd validate: no plugins found (%s); build them or pass "
                      "--plugins DIR\n",
              rc ? err : "the plugin directory has no renewd-*.so");
      rd_registry_free(reg);
      return RD_EXIT_USAGE;
    }
    fprintf(stderr,
            "renewd validate: warning: no plugins loaded (%s): step kinds and their "
            "parameters are not checked\n",
            rc ? err : "the plugin directory has no renewd-*.so");
    rd_registry_free(reg);
    reg = NULL;
  }
  if (list)
    list_steps(reg);

  for (int i = 1, files = 1; i < argc; i++) {
    rd_diag diag = {0};
    rd_runbook *rb = NULL;
    char name[4096];
    if (files && !strcmp(argv[i], "--")) {
      files = 0;
      continue;
    }
    if (files && !strcmp(argv[i], "--plugins")) {
      i++;
      continue;
    }
    if (files && argv[i][0] == '-' && argv[i][1])
      continue;
    if (is_json_schema(argv[i])) {
      printf("%s: skipped (a JSON Schema document, not a runbook)\n",
             shown(argv[i], name, sizeof name));
      continue;
    }
    rc = rd_runbook_load(argv[i], reg, &rb, &diag);
    if (rc == 0) {
      print_ok(shown(argv[i], name, sizeof name), rb);
    } else {
      bad = 1;
      if (diag.n)
        rd_diag_print(&diag, stderr);
      else
        fprintf(stderr, "%s: cannot load: %s\n", shown(argv[i], name, sizeof name),
                rc == RD_ENOMEM ? "out of memory" : "error");
    }
    rd_runbook_free(rb);
    rd_diag_free(&diag);
  }
  rd_registry_free(reg);
  return bad ? RD_EXIT_USAGE : RD_EXIT_OK;
}
