/* metrics.c — see metrics.h. One table of families; series found by a
 * linear search (a fleet has a few dozen step kinds, phases and runbooks). */
#include "base/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const double step_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
static const double connect_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

enum { F_STEP, F_CONNECT, F_JOBS, F_NFAM };
#define MAX_LABELS 3
#define MAX_BUCKETS 12

static const struct family {
  const char *name, *help;
  const double *buckets; /* NULL: a counter */
  size_t nb;
  const char *labels[MAX_LABELS]; /* NULL-terminated when fewer */
} fams[F_NFAM] = {
    [F_STEP] = {"renewd_step_duration_seconds",
                "Duration of one phase (probe, apply, verify, rollback) of a step.", step_buckets,
                sizeof step_buckets / sizeof step_buckets[0], {"step", "phase", "result"}},
    [F_CONNECT] = {"renewd_ssh_connect_duration_seconds",
                   "From TCP connect to an authenticated SSH session.", connect_buckets,
                   sizeof connect_buckets / sizeof connect_buckets[0], {NULL}},
    [F_JOBS] = {"renewd_job_results_total", "Jobs ended, by runbook and outcome.", NULL, 0,
                {"runbook", "outcome", NULL}},
};

typedef struct series {
  int fam;
  char *lv[MAX_LABELS];
  double sum;
  unsigned long long count, bucket[MAX_BUCKETS];
} series;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static series *all;
static size_t n, cap;
static unsigned long long dropped;

static int same(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* The series of fam with labels lv (found or added); NULL past the bound. */
static series *find(int fam, const char *const *lv) {
  for (size_t i = 0; i < n; i++) {
    int k = 0;
    if (all[i].fam != fam)
      continue;
    while (k < MAX_LABELS && same(all[i].lv[k], lv[k]))
      k++;
    if (k == MAX_LABELS)
      return &all[i];
  }
  if (n >= RD_METRICS_MAX_SERIES)
    return NULL;
  if (n == cap) {
    size_t nc = cap ? 2 * cap : 32;
    series *na = realloc(all, nc * sizeof *na);
    if (!na)
      return NULL;
    all = na;
    cap = nc;
  }
  series *s = &all[n];
  memset(s, 0, sizeof *s);
  s->fam = fam;
  for (int k = 0; k < MAX_LABELS; k++)
    if (lv[k] && !(s->lv[k] = strdup(lv[k]))) {
      while (k-- > 0)
        free(s->lv[k]);
      return NULL;
    }
  n++;
  return s;
}

static void observe(int fam, const char *const *lv, double v) {
  pthread_mutex_lock(&mu);
  series *s = find(fam, lv);
  if (!s) {
    dropped++;
  } else {
    s->count++;
    s->sum += v;
    for (size_t b = 0; b < fams[fam].nb; b++)
      if (v <= fams[fam].buckets[b])
        s->bucket[b]++;
  }
  pthread_mutex_unlock(&mu);
}

void rd_metrics_step(const char *step, const char *phase, int ok, double seconds) {
  const char *lv[MAX_LABELS] = {step, phase, ok ? "ok" : "error"};
  observe(F_STEP, lv, seconds);
}

void rd_metrics_ssh_connect(double seconds) {
  const char *lv[MAX_LABELS] = {NULL};
  observe(F_CONNECT, lv, seconds);
}

void rd_metrics_job_result(const char *runbook, const char *outcome) {
  const char *lv[MAX_LABELS] = {runbook, outcome, NULL};
  observe(F_JOBS, lv, 1);
}

unsigned long long rd_metrics_jobs_ended(void) {
  unsigned long long total = 0;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < n; i++)
    if (all[i].fam == F_JOBS)
      total += all[i].count;
  pthread_mutex_unlock(&mu);
  return total;
}

void rd_metrics_label(FILE *f, const char *v) {
  for (const char *p = v ? v : ""; *p; p++) {
    if (*p == '\\' || *p == '"')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else
      fputc(*p, f);
  }
}

/* name{l1="v1",...,extra} with extra (le="...") last, or no braces at all. */
static void put_series(FILE *f, const char *name, const char *suffix, const series *s,
                       const char *le) {
  const struct family *fm = &fams[s->fam];
  int first = 1;
  fprintf(f, "%s%s", name, suffix);
  for (int k = 0; k < MAX_LABELS && fm->labels[k]; k++) {
    fprintf(f, "%s%s=\"", first ? "{" : ",", fm->labels[k]);
    rd_metrics_label(f, s->lv[k]);
    fputc('"', f);
    first = 0;
  }
  if (le)
    fprintf(f, "%sle=\"%s\"", first ? "{" : ",", le), first = 0;
  fputs(first ? " " : "} ", f);
}

void rd_metrics_write(FILE *f) {
  pthread_mutex_lock(&mu);
  for (int fam = 0; fam < F_NFAM; fam++) {
    const struct family *fm = &fams[fam];
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fm->name, fm->help, fm->name,
            fm->buckets ? "histogram" : "counter");
    for (size_t i = 0; i < n; i++) {
      const series *s = &all[i];
      if (s->fam != fam)
        continue;
      if (!fm->buckets) {
        put_series(f, fm->name, "", s, NULL);
        fprintf(f, "%llu\n", s->count);
        continue;
      }
      for (size_t b = 0; b < fm->nb; b++) {
        char le[32];
        snprintf(le, sizeof le, "%g", fm->buckets[b]);
        put_series(f, fm->name, "_bucket", s, le);
        fprintf(f, "%llu\n", s->bucket[b]);
      }
      put_series(f, fm->name, "_bucket", s, "+Inf");
      fprintf(f, "%llu\n", s->count);
      put_series(f, fm->name, "_sum", s, NULL);
      fprintf(f, "%.6f\n", s->sum);
      put_series(f, fm->name, "_count", s, NULL);
      fprintf(f, "%llu\n", s->count);
    }
  }
  fprintf(f, "# HELP renewd_metrics_dropped_total Observations dropped: too many label sets.\n"
             "# TYPE renewd_metrics_dropped_total counter\nrenewd_metrics_dropped_total %llu\n",
          dropped);
  pthread_mutex_unlock(&mu);
}

void rd_metrics_reset(void) {
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < MAX_LABELS; k++)
      free(all[i].lv[k]);
  free(all);
  all = NULL;
  n = cap = 0;
  dropped = 0;
  pthread_mutex_unlock(&mu);
}
