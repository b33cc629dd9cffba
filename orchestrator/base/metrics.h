/* metrics.h — the process's counters and histograms for Prometheus, fed
 * where things happen (a step phase ends: core/step.c; an SSH session is
 * ready: transport/ssh_conn.c; a job ends: core/job.c) and written by
 * serve's /metrics (serve/status.c) after its own per-runbook and
 * per-certificate series. Thread-safe. At most RD_METRICS_MAX_SERIES label
 * sets in all: observations of a new one past that are dropped (counted in
 * renewd_metrics_dropped_total), so a hostile or huge fleet cannot grow it
 * without bound. */
#ifndef RENEWD_BASE_METRICS_H
#define RENEWD_BASE_METRICS_H
#include <stdio.h>

#define RD_METRICS_MAX_SERIES 4096

/* renewd_step_duration_seconds{step="posix.key_acl", phase="apply", result="ok"|"error"} */
void rd_metrics_step(const char *step, const char *phase, int ok, double seconds);
/* renewd_ssh_connect_duration_seconds: TCP connect to an authenticated session */
void rd_metrics_ssh_connect(double seconds);
/* renewd_job_results_total{runbook, outcome="DONE"|"FAILED"|"NOT_DUE"|...} */
void rd_metrics_job_result(const char *runbook, const char *outcome);

/* Jobs ended so far, of every runbook and outcome (the progress line). */
unsigned long long rd_metrics_jobs_ended(void);

/* Every family above, as Prometheus text (HELP, TYPE, series; histograms
 * with cumulative _bucket{le}, _sum and _count). Label values escaped. */
void rd_metrics_write(FILE *f);
/* Forget everything (tests; the process never needs it). */
void rd_metrics_reset(void);

/* A Prometheus label value onto f: backslash, double quote and newline
 * escaped. */
void rd_metrics_label(FILE *f, const char *v);

#endif
