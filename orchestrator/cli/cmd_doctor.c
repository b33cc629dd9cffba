/* cmd_doctor.c — 'renewd doctor': the read-only preflight of a runbook's
 * targets (core/doctor.c runs it; cmd_run.c loads the runbooks and runs the
 * engine as for plan). Prints one line per check, "host H: CHECK: ...",
 * with the fix of every failed one, and a verdict per host. */
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "cli/cli.h"

/* One escaped line: every value comes from a runbook, a target or a CA. */
static void line(FILE *f, const char *host, const char *check, const char *text,
                 const char *fix) {
  char *h = rd_escape_dup(host ? host : "?", RD_ESC_ONE_LINE);
  char *c = rd_escape_dup(check ? check : "?", RD_ESC_ONE_LINE);
  char *t = rd_escape_dup(text ? text : "", RD_ESC_ONE_LINE);
  char *x = fix ? rd_escape_dup(fix, RD_ESC_ONE_LINE) : NULL;
  if (h && c && t)
    fprintf(f, "host %s: %s: %s%s%s\n", h, c, t, x ? "; fix: " : "", x ? x : "");
  free(h);
  free(c);
  free(t);
  free(x);
}

void rd_doctor_print(const json_t *report, FILE *f) {
  const json_t *jobs = json_object_get(report, "jobs"), *job, *c;
  size_t i, k, ready = 0, n = 0;
  char text[2048];
  json_array_foreach(jobs, i, job) {
    const char *host = json_string_value(json_object_get(job, "host"));
    const json_t *checks = json_object_get(job, "checks");
    size_t bad = 0;
    n++;
    if (!json_array_size(checks)) { /* never probed: its set-up failed */
      const char *err = json_string_value(json_object_get(job, "error"));
      line(f, host, "setup", err ? err : "not checked", "see the message");
      continue;
    }
    json_array_foreach(checks, k, c) {
      int ok = json_is_true(json_object_get(c, "ok"));
      snprintf(text, sizeof text, "%s%s", ok ? "ok: " : "",
               json_string_value(json_object_get(c, "message")));
      line(f, host, json_string_value(json_object_get(c, "check")), text,
           ok ? NULL : json_string_value(json_object_get(c, "fix")));
      bad += !ok;
    }
    if (bad) {
      snprintf(text, sizeof text, "%zu thing%s to fix before a renewal", bad, bad == 1 ? "" : "s");
      line(f, host, "verdict", text, NULL);
    } else {
      line(f, host, "verdict", "all good: nothing would stop a renewal", NULL);
      ready++;
    }
  }
  fprintf(f, "doctor: %zu host%s, %zu ready, %zu with something to fix\n", n, n == 1 ? "" : "s",
          ready, n - ready);
}

int cmd_doctor(int argc, char **argv) { return rd_cli_run("doctor", argc, argv); }
