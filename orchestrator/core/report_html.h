/* report_html.h — the fleet report: one self-contained HTML page (inline
 * CSS and SVG, no script, no external asset) for `renewd report --html` and
 * serve's GET /report.
 *
 * Two halves. report_html_model.c gathers a model (JSON) from the journal
 * and the runbooks; report_html.c writes the page from that model alone, so
 * the writer is tested on hand-made models (hostile names, order, bands).
 *
 * The model:
 *   {"now": T, "certificates": [C...], "unknown": [C...], "attention": [J...],
 *    "history": [{"host": H, "jobs": [J...]}...]}
 *   C = {"host", "runbook", "certificate", "state", "not_before"?,
 *        "not_after"?, "window_opens"?, "reason"?}
 *       state: one of rd_report_states (below); "certificates" holds the
 *       ones with a known expiry, "unknown" the rest (never inventoried).
 *   J = {"id", "host", "runbook", "certificate", "state", "attempts",
 *        "created", "updated", "next_try"?, "error"?}
 * Times are Unix seconds. Every string is escaped by the writer. */
#ifndef RENEWD_REPORT_HTML_H
#define RENEWD_REPORT_HTML_H
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "config/runbook.h"
#include "store/journal.h"

/* A certificate's state on the chart, worst first, and its colour. */
typedef struct rd_report_state {
  const char *name, *colour, *meaning;
} rd_report_state;
extern const rd_report_state rd_report_states[];
extern const size_t rd_report_nstates;
/* The colour of a state name; NULL for an unknown name. */
const char *rd_report_colour(const char *state);

/* The bands drawn behind the timeline: days before expiry. */
#define RD_REPORT_BANDS {60, 30, 14}

typedef struct rd_report_src {
  rd_journal *journal;         /* NULL: only the runbooks' targets, no jobs */
  rd_runbook *const *rbs;      /* may be empty: then the journal's hosts */
  size_t nrbs;
  const json_t *const *seen;   /* NULL, or per runbook {"host": not_after} that is
                                  newer than the journal's (serve's scans) */
  time_t now;
  size_t history_per_host;     /* 0: 10 */
  int no_history;              /* leave the history out (serve's /metrics) */
} rd_report_src;

/* The model of src (new reference) or NULL with err set ("journal PATH: ..."). */
json_t *rd_report_model(const rd_report_src *src, char *err, size_t errlen);

/* Write the page of model to f. 0, or RD_EIO when f fails. */
int rd_report_html_write(FILE *f, const json_t *model);
/* The same into a malloc'ed string (*len its length), or NULL. */
char *rd_report_html(const json_t *model, size_t *len);

/* s HTML-escaped (& < > " ' and control bytes as character references)
 * onto f; NULL writes nothing. */
void rd_html_esc(FILE *f, const char *s);

#endif
