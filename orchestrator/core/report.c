/* report.c — renders the engine's report for people (the JSON form is the
 * report itself, printed by the verbs with --json). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "core/engine_int.h"

/* fprintf for the report: values come from runbooks, targets and CAs, so
 * the line is escaped (base/util.h: rd_escape; a control character, ESC, a
 * C1 code or invalid UTF-8 prints as \xNN, a newline inside the line as a
 * space); only the line's own final newline stays. */
static void outf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(FILE *f, const char *fmt, ...) {
  char buf[8192], *esc;
  va_list ap;
  int n, nl;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  size_t len = strlen(buf);
  if ((nl = len > 0 && buf[len - 1] == '\n'))
    buf[len - 1] = '\0';
  if (!(esc = rd_escape_dup(buf, RD_ESC_ONE_LINE)))
    return;
  fputs(esc, f);
  if (nl)
    fputc('\n', f);
  free(esc);
}

static void print_value(FILE *f, const json_t *v) {
  if (!v || json_is_null(v))
    fputs("(none)", f);
  else if (json_is_string(v))
    outf(f, "%s", json_string_value(v));
  else {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    outf(f, "%s", s ? s : "?");
    free(s);
  }
}

static void print_changes(FILE *f, const json_t *result) {
  const json_t *changes = json_object_get(result, "changes");
  size_t i;
  const json_t *c;
  json_array_foreach(changes, i, c) {
    outf(f, "        %s: ", json_string_value(json_object_get(c, "what")));
    print_value(f, json_object_get(c, "old"));
    fputs(" -> ", f);
    print_value(f, json_object_get(c, "new"));
    fputc('\n', f);
  }
}

static const char *phase_order[] = {"probe", "apply", "verify", "rollback"};

/* The headline names the outcome and, for a job that failed somewhere, its
 * first real cause (the first phase that failed), not the due decision it
 * never got to act on; otherwise why it was (not) due. */
static void print_headline(FILE *f, const json_t *job, const json_t *cause) {
  const json_t *due = json_object_get(job, "due");
  const char *state = json_string_value(json_object_get(job, "state"));
  const char *host = json_string_value(json_object_get(job, "host"));
  outf(f, "host %s (%s): ", host, json_string_value(json_object_get(job, "platform")));
  if (json_is_true(json_object_get(job, "rollback_owed"))) {
    /* the host may serve the new certificate with its follow-ups undone:
     * what the operator must do comes before the cause (core/job.c) */
    outf(f, "ROLLBACK OWED (state %s) — the rollback could not reach the host; make it "
            "reachable, then run this runbook again (or let serve's next scan): that run "
            "finishes the rollback, no --force needed\n",
         state ? state : "?");
    if (cause)
      outf(f, "  cause: %s: %s: %s\n", json_string_value(json_object_get(cause, "step")),
           json_string_value(json_object_get(cause, "phase")),
           json_string_value(json_object_get(cause, "message")));
    return;
  }
  const char *err = json_string_value(json_object_get(job, "error"));
  int err_headline = !cause && err && *err && state && !strcmp(state, "FAILED");
  outf(f, "%s", state ? state : "?");
  if (cause)
    outf(f, " — %s: %s: %s", json_string_value(json_object_get(cause, "step")),
            json_string_value(json_object_get(cause, "phase")),
            json_string_value(json_object_get(cause, "message")));
  else if (err_headline) /* no step failed: the engine's own error (the journal) */
    outf(f, " — %s", err);
  else if (due)
    outf(f, " — %s", json_string_value(json_object_get(due, "why")));
  fputc('\n', f);
  if ((cause || err_headline) && due)
    outf(f, "  due: %s\n", json_string_value(json_object_get(due, "why")));
}

static void print_steps(FILE *f, const json_t *job, const json_t *cause, int whatif) {
  const json_t *steps = json_object_get(job, "steps"), *st;
  size_t k;
  json_array_foreach(steps, k, st) {
    const json_t *phases = json_object_get(st, "phases");
    const char *name = json_string_value(json_object_get(st, "name"));
    int is_cause = cause && name && !strcmp(name, json_string_value(json_object_get(cause, "step")));
    if (json_object_size(phases) == 0)
      continue;
    outf(f, "  %-22s", name);
    for (size_t p = 0; p < 4; p++) {
      const json_t *ph = json_object_get(phases, phase_order[p]);
      if (ph)
        outf(f, " %s:%s", phase_order[p], json_string_value(json_object_get(ph, "status")));
    }
    fputc('\n', f);
    for (size_t p = 0; p < 4; p++) {
      const json_t *ph = json_object_get(phases, phase_order[p]);
      const char *msg = json_string_value(json_object_get(ph, "message"));
      if (!ph)
        continue;
      /* the cause is in the headline already: once is enough */
      if (msg && !(is_cause && !strcmp(phase_order[p],
                                       json_string_value(json_object_get(cause, "phase")))))
        outf(f, "      %s: %s\n", phase_order[p], msg);
      if (p == 0 || json_object_get(ph, "status") != NULL)
        print_changes(f, json_object_get(ph, "result"));
      if (p == 0 && !whatif)
        break; /* after a real run the probe's diff is what matters */
    }
    /* what a real run must not hide: a CA that may hold an orphan
     * certificate (a lost reply resent), from whichever phase said so */
    for (size_t p = 0; p < 4; p++) {
      const json_t *ph = json_object_get(phases, phase_order[p]);
      const json_t *orphan = json_object_get(json_object_get(ph, "result"), "orphan");
      if (json_is_true(json_object_get(orphan, "possible")))
        outf(f, "      notice: %s: %s\n", phase_order[p],
             json_string_value(json_object_get(ph, "message")));
    }
  }
}

/* A job of several certificates: which it renews (or would), which it
 * keeps, and why; the runbook when the report holds more than one. */
static void print_certificates(FILE *f, const json_t *job, int runbooks) {
  const json_t *certs = json_object_get(job, "certificates"), *c;
  size_t i;
  if (runbooks > 1)
    outf(f, "  runbook: %s\n", json_string_value(json_object_get(job, "runbook")));
  json_array_foreach(certs, i, c) {
    const json_t *renew = json_object_get(c, "renew");
    const char *why = json_string_value(json_object_get(c, "why"));
    outf(f, "  certificate %s: %s%s%s\n", json_string_value(json_object_get(c, "name")),
         !renew ? "-" : json_is_true(renew) ? "renew" : "keep", why ? " — " : "", why ? why : "");
  }
}

/* How many runbooks the report's jobs come from (1 or more). */
static int count_runbooks(const json_t *jobs) {
  const json_t *first = json_object_get(json_array_get(jobs, 0), "runbook"), *job;
  size_t i;
  json_array_foreach(jobs, i, job) {
    if (!json_equal(json_object_get(job, "runbook"), (json_t *)first))
      return 2;
  }
  return 1;
}

static void print_job(FILE *f, const json_t *job, int whatif, int runbooks);
static void print_stats(FILE *f, const json_t *report, int whatif);

/* Jobs grouped by host (in the order the hosts first appear): every change
 * of one host reads together, whatever runbooks they come from. */
void rd_report_print_text(FILE *f, json_t *report, int whatif) {
  const json_t *jobs = json_object_get(report, "jobs"), *job, *other;
  int runbooks = count_runbooks(jobs);
  size_t i, k;
  json_array_foreach(jobs, i, job) {
    const json_t *host = json_object_get(job, "host");
    int seen = 0;
    for (k = 0; k < i && !seen; k++)
      seen = json_equal(json_object_get(json_array_get(jobs, k), "host"), (json_t *)host);
    if (seen)
      continue;
    json_array_foreach(jobs, k, other) {
      if (k >= i && json_equal(json_object_get(other, "host"), (json_t *)host))
        print_job(f, other, whatif, runbooks);
    }
  }
  print_stats(f, report, whatif);
}

/* A host that did not answer (its first probe could not connect or log in):
 * doctor is the tool that says why and prints the fix. */
static void print_hint(FILE *f, const json_t *job, const json_t *cause) {
  static const char *const unreachable[] = {"RD_ECONNREFUSED", "RD_ETIMEDOUT", "RD_ENETWORK",
                                            "RD_EAUTH"};
  const char *status = json_string_value(json_object_get(cause, "status"));
  const char *phase = json_string_value(json_object_get(cause, "phase"));
  for (size_t i = 0; status && phase && !strcmp(phase, "probe") &&
                     i < sizeof unreachable / sizeof *unreachable; i++)
    if (!strcmp(status, unreachable[i])) {
      outf(f, "  hint: 'renewd doctor RUNBOOK --host %s' checks the address, SSH login, sudo "
              "and the CA, and prints the fix for each\n",
           json_string_value(json_object_get(job, "host")));
      return;
    }
}

static void print_job(FILE *f, const json_t *job, int whatif, int runbooks) {
  {
    const char *state = json_string_value(json_object_get(job, "state"));
    const json_t *cause = json_object_get(job, "cause");
    const char *err = json_string_value(json_object_get(job, "error"));
    print_headline(f, job, cause);
    print_hint(f, job, cause);
    print_certificates(f, job, runbooks);
    const json_t *findings = json_object_get(job, "findings"), *fd;
    size_t fi;
    json_array_foreach(findings, fi, fd)
      outf(f, "  finding: %s: %s\n", json_string_value(json_object_get(fd, "step")),
              json_string_value(json_object_get(fd, "finding")));
    if (json_object_get(job, "remedy"))
      outf(f, "  remedy: %s\n", json_string_value(json_object_get(job, "remedy")));
    const json_t *busy = json_object_get(job, "busy");
    if (busy) { /* another job holds the host's lease: its error says the same */
      outf(f, "  busy: host leased by %s (%s) since %s, until %s; nothing was changed\n",
           json_string_value(json_object_get(busy, "holder")),
           json_string_value(json_object_get(busy, "what")),
           json_string_value(json_object_get(busy, "since")),
           json_string_value(json_object_get(busy, "until")));
      return;
    }
    if (state && (!strcmp(state, "NOT_DUE") || !strcmp(state, "HEALTHY")))
      return;
    print_steps(f, job, cause, whatif);
    const json_t *res = json_object_get(job, "resumes"); /* a plan read the journal */
    if (res)
      outf(f, "  resumes: job %lld (%s): the run %s\n",
           (long long)json_integer_value(json_object_get(res, "job")),
           json_string_value(json_object_get(res, "state")),
           json_string_value(json_object_get(res, "then")));
    if (json_object_get(job, "pending"))
      outf(f, "  pending: %s: the job resumes at the next run, polling the same request\n",
           json_string_value(json_object_get(job, "pending")));
    /* an error that is not the headline's cause (journal, held, backoff) */
    if (err && !(cause && strstr(err, json_string_value(json_object_get(cause, "message")))) &&
        !(!cause && state && !strcmp(state, "FAILED"))) /* else it is the headline */
      outf(f, "  error: %s\n", err);
  }
}

static void print_stats(FILE *f, const json_t *report, int whatif) {
  const json_t *stats = json_object_get(report, "stats");
  outf(f, "%s: %lld targets, %lld due, %lld renewed, %lld failed, %lld rolled back, "
             "%lld need an operator, %lld pending at the CA\n",
          json_object_get(report, "verb") ? json_string_value(json_object_get(report, "verb"))
          : whatif                         ? "plan"
                                           : "run",
          (long long)json_integer_value(json_object_get(stats, "targets")),
          (long long)json_integer_value(json_object_get(stats, "due")),
          (long long)json_integer_value(json_object_get(stats, "renewed")),
          (long long)json_integer_value(json_object_get(stats, "failed")),
          (long long)json_integer_value(json_object_get(stats, "rolled_back")),
          (long long)json_integer_value(json_object_get(stats, "needs_operator")),
          (long long)json_integer_value(json_object_get(stats, "pending")));
  if (json_integer_value(json_object_get(stats, "skipped")))
    outf(f, "  (%lld not attempted: backing off, held or busy)\n",
            (long long)json_integer_value(json_object_get(stats, "skipped")));
}

/* One row of `renewd inventory`: what o ("cert", "problems") holds, under
 * label (the host, or "host (certificate)"). */
static void print_inventory_row(FILE *f, const char *label, const json_t *o, const char *err,
                                time_t now) {
  const json_t *c = json_object_get(o, "cert"), *pr = json_object_get(o, "problems"), *p;
  size_t k;
  if (!c) {
    outf(f, "%-16s %s\n", label, err ? err : "(no certificate found)");
  } else {
    time_t na = (time_t)json_integer_value(json_object_get(c, "not_after"));
    char when[32];
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime_r(&na, &tm));
    const json_t *km = json_object_get(c, "key_match"); /* null: not checked */
    outf(f, "%-16s %-40.40s %-20.20s %-17s %6.1f %-5s %s\n", label,
         json_string_value(json_object_get(c, "subject")),
         json_string_value(json_object_get(c, "serial")), when, (double)(na - now) / 86400.0,
         json_is_true(km)                                    ? "ok"
         : json_is_false(km)                                 ? "WRONG"
         : json_is_false(json_object_get(c, "key_checked")) ? "-"
                                                             : "?",
         json_string_value(json_object_get(c, "sha1")));
  }
  json_array_foreach(pr, k, p)
    outf(f, "%-16s   problem: %s: %s\n", "", json_string_value(json_object_get(p, "what")),
         json_string_value(json_object_get(p, "detail")));
}

/* `renewd inventory`: one line per target, or per certificate of a runbook
 * of several ("host (name)"), every value escaped. */
void rd_report_print_inventory(FILE *f, const json_t *report) {
  const json_t *jobs = json_object_get(report, "jobs"), *job, *item;
  size_t i, k;
  time_t now = time(NULL);
  outf(f, "%-16s %-40s %-20s %-17s %6s %-5s %s\n", "HOST", "SUBJECT", "SERIAL", "EXPIRES (UTC)",
       "DAYS", "KEY", "SHA-1");
  json_array_foreach(jobs, i, job) {
    const char *host = json_string_value(json_object_get(job, "host"));
    const char *err = json_string_value(json_object_get(job, "error"));
    const json_t *certs = json_object_get(job, "certificates");
    if (!json_array_size(certs)) {
      print_inventory_row(f, host, job, err, now);
      continue;
    }
    json_array_foreach(certs, k, item) {
      char label[256];
      snprintf(label, sizeof label, "%s (%s)", host,
               json_string_value(json_object_get(item, "name")));
      print_inventory_row(f, label, item, err, now);
    }
  }
}
