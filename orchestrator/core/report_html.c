/* report_html.c — the fleet report page from its model (report_html.h):
 * a summary with the legend, the expiry timeline (SVG: the 60/30/14-day
 * bands, each certificate's lifetime and renew window, one mark per
 * certificate in expiry order, coloured by state), the jobs that need
 * attention and the per-host history. Inline CSS, no script: the page is
 * one file that can be mailed or archived. Every value is escaped. */
#include "core/report_html.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

const rd_report_state rd_report_states[] = {
    {"expired", "#7f0000", "expired"},
    {"operator", "#8e24aa", "needs an operator"},
    {"failed", "#d32f2f", "last renewal failed or rolled back"},
    {"waiting", "#1e88e5", "renewal under way, pending at the CA or backing off"},
    {"due", "#fb8c00", "inside its renew window"},
    {"ok", "#2e7d32", "valid, outside its renew window"},
    {"unknown", "#757575", "never inventoried"},
};
const size_t rd_report_nstates = sizeof rd_report_states / sizeof rd_report_states[0];

const char *rd_report_colour(const char *state) {
  for (size_t i = 0; state && i < rd_report_nstates; i++)
    if (!strcmp(state, rd_report_states[i].name))
      return rd_report_states[i].colour;
  return NULL;
}

void rd_html_esc(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        fprintf(f, "&#x%X;", *p == '\n' || *p == '\t' ? *p : 0xFFFD);
      else
        fputc(*p, f);
    }
  }
}

static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}
static long long num(const json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

/* "2026-11-30 07:00 UTC"; "-" for 0. */
static void put_time(FILE *f, long long t) {
  char buf[32];
  time_t tt = (time_t)t;
  struct tm tm;
  if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm))
    fputs("-", f);
  else
    fputs(buf, f);
}

/* A table cell with an escaped value. */
static void td(FILE *f, const char *v) {
  fputs("<td>", f);
  rd_html_esc(f, v && *v ? v : "-");
  fputs("</td>", f);
}
static void td_time(FILE *f, long long t) {
  fputs("<td class=\"t\">", f);
  put_time(f, t);
  fputs("</td>", f);
}

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121;background:#fff}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
    "h3{font-size:15px;margin:16px 0 4px}.sub{color:#616161}"
    "table{border-collapse:collapse;margin:4px 0}td,th{border-bottom:1px solid #e0e0e0;"
    "padding:3px 10px 3px 0;text-align:left;vertical-align:top}th{font-weight:600}"
    ".t,td:first-child{white-space:nowrap}"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:6px;vertical-align:-1px;margin-right:4px}.legend span{margin-right:16px;white-space:nowrap}"
    ".err{color:#b71c1c;max-width:520px;word-break:break-word}svg text{font:12px system-ui,"
    "sans-serif;fill:#212121}.none{color:#616161}";

static void swatch(FILE *f, const char *state) {
  const char *c = rd_report_colour(state);
  fprintf(f, "<span class=\"sw\" style=\"background:%s\"></span>", c ? c : "#757575");
}

static void summary(FILE *f, const json_t *m) {
  size_t counts[16] = {0}, i;
  const json_t *c;
  const json_t *lists[2] = {json_object_get(m, "certificates"), json_object_get(m, "unknown")};
  for (int l = 0; l < 2; l++)
    json_array_foreach(lists[l], i, c) {
      for (size_t s = 0; s < rd_report_nstates; s++)
        if (str(c, "state") && !strcmp(str(c, "state"), rd_report_states[s].name))
          counts[s]++;
    }
  fputs("<p class=\"legend\" id=\"legend\">", f);
  for (size_t s = 0; s < rd_report_nstates; s++) {
    fprintf(f, "<span data-state=\"%s\" data-colour=\"%s\">", rd_report_states[s].name,
            rd_report_states[s].colour);
    swatch(f, rd_report_states[s].name);
    fprintf(f, "%s: <b>%zu</b> <span class=\"sub\">(%s)</span></span>", rd_report_states[s].name,
            counts[s], rd_report_states[s].meaning);
  }
  fputs("</p>\n", f);
}

/* ---- the timeline ---------------------------------------------------- */

enum { LABEL_W = 320, CHART_W = 760, ROW_H = 22, TOP = 34, MARGIN = 10 };
#define DAY 86400LL

typedef struct {
  long long t0, t1; /* the time axis */
} axis;

static double xpos(const axis *a, long long t) {
  if (t < a->t0)
    t = a->t0;
  if (t > a->t1)
    t = a->t1;
  return LABEL_W + (double)(t - a->t0) * CHART_W / (double)(a->t1 - a->t0);
}

static int by_expiry(const void *pa, const void *pb) {
  const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
  long long x = num(a, "not_after"), y = num(b, "not_after");
  if (x != y)
    return x < y ? -1 : 1;
  int c = strcmp(str(a, "host") ? str(a, "host") : "", str(b, "host") ? str(b, "host") : "");
  return c ? c : strcmp(str(a, "certificate") ? str(a, "certificate") : "",
                        str(b, "certificate") ? str(b, "certificate") : "");
}

static void ticks(FILE *f, const axis *a, long long now, int height) {
  long long span = a->t1 - a->t0, step = span > 200 * DAY ? 60 * DAY
                                         : span > 80 * DAY ? 30 * DAY
                                         : span > 20 * DAY ? 7 * DAY
                                                           : DAY;
  for (long long t = now + step; t < a->t1; t += step) {
    char buf[16];
    time_t tt = (time_t)t;
    struct tm tm;
    strftime(buf, sizeof buf, "%b %d", gmtime_r(&tt, &tm));
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e0e0e0\"/>"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
            xpos(a, t), xpos(a, t), TOP - 6, height - MARGIN, xpos(a, t), TOP - 10, buf);
  }
}

static void bands(FILE *f, const axis *a, long long now, int height) {
  static const int days[] = RD_REPORT_BANDS;
  static const char *fill[] = {"#fff8e1", "#ffe0b2", "#ffcdd2"};
  for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
    double x0 = xpos(a, now), x1 = xpos(a, now + days[i] * DAY);
    fprintf(f,
            "<rect class=\"band\" data-days=\"%d\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
            "height=\"%d\" fill=\"%s\"><title>expires within %d days</title></rect>"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" fill=\"#9e9e9e\">%dd</text>\n",
            days[i], x0, TOP - 6, x1 - x0, height - TOP + 6 - MARGIN, fill[i], days[i], x1 - 2,
            height - MARGIN - 2, days[i]);
  }
  fprintf(f,
          "<line class=\"now\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#424242\" "
          "stroke-dasharray=\"3 3\"/><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">now</text>\n",
          xpos(a, now), xpos(a, now), TOP - 6, height - MARGIN, xpos(a, now), TOP - 22);
}

static void row(FILE *f, const axis *a, const json_t *c, size_t idx) {
  long long nb = num(c, "not_before"), na = num(c, "not_after"), wo = num(c, "window_opens");
  int y = TOP + (int)idx * ROW_H + ROW_H / 2;
  const char *state = str(c, "state"), *colour = rd_report_colour(state);
  fputs("<g class=\"row\">", f);
  fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">", MARGIN, y);
  rd_html_esc(f, str(c, "host"));
  fputs(" <tspan fill=\"#757575\">", f);
  rd_html_esc(f, str(c, "certificate"));
  fputs("</tspan></text>", f);
  if (nb && nb < na)
    fprintf(f, "<rect class=\"life\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"6\" "
               "fill=\"#cfd8dc\"/>",
            xpos(a, nb), y - 3, xpos(a, na) - xpos(a, nb));
  if (wo && wo < na)
    fprintf(f, "<rect class=\"window\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"6\" "
               "fill=\"#90a4ae\"><title>renew window</title></rect>",
            xpos(a, wo), y - 3, xpos(a, na) - xpos(a, wo));
  fprintf(f, "<circle class=\"mark\" cx=\"%.1f\" cy=\"%d\" r=\"6\" fill=\"%s\" data-state=\"",
          xpos(a, na), y, colour ? colour : "#757575");
  rd_html_esc(f, state);
  fputs("\" data-host=\"", f);
  rd_html_esc(f, str(c, "host"));
  fputs("\" data-runbook=\"", f);
  rd_html_esc(f, str(c, "runbook"));
  fputs("\" data-certificate=\"", f);
  rd_html_esc(f, str(c, "certificate"));
  fprintf(f, "\" data-not-after=\"%lld\"%s><title>", na, na > a->t1 ? " data-clipped=\"1\"" : "");
  rd_html_esc(f, str(c, "host"));
  fputs(": expires ", f);
  put_time(f, na);
  fputs(" (", f);
  rd_html_esc(f, state);
  if (str(c, "reason")) {
    fputs(": ", f);
    rd_html_esc(f, str(c, "reason"));
  }
  fputs(")</title></circle></g>\n", f);
}

static void timeline(FILE *f, const json_t *m) {
  const json_t *certs = json_object_get(m, "certificates");
  size_t n = json_array_size(certs), i;
  long long now = num(m, "now");
  axis a = {now - 7 * DAY, now + 90 * DAY};
  json_t **v = n ? calloc(n, sizeof *v) : NULL;
  if (!n || !v) {
    fputs("<p class=\"none\">No certificate with a known expiry.</p>\n", f);
    free(v);
    return;
  }
  for (i = 0; i < n; i++) {
    v[i] = json_array_get(certs, i);
    if (num(v[i], "not_after") + 7 * DAY > a.t1)
      a.t1 = num(v[i], "not_after") + 7 * DAY;
    if (num(v[i], "not_after") - 7 * DAY < a.t0)
      a.t0 = num(v[i], "not_after") - 7 * DAY;
  }
  if (a.t1 > now + 400 * DAY) /* far expiries stay at the right edge */
    a.t1 = now + 400 * DAY;
  if (a.t0 < now - 60 * DAY)
    a.t0 = now - 60 * DAY;
  qsort(v, n, sizeof *v, by_expiry);
  int height = TOP + (int)n * ROW_H + 2 * MARGIN;
  fprintf(f,
          "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"Expiry timeline of %zu "
          "certificates\">\n<title>Expiry timeline</title>\n",
          LABEL_W + CHART_W + MARGIN, height, LABEL_W + CHART_W + MARGIN, height, n);
  bands(f, &a, now, height);
  ticks(f, &a, now, height);
  for (i = 0; i < n; i++)
    row(f, &a, v[i], i);
  fputs("</svg>\n", f);
  free(v);
}

/* ---- the tables ------------------------------------------------------ */

static void job_row(FILE *f, const json_t *j, int with_host) {
  char id[32];
  snprintf(id, sizeof id, "%lld", num(j, "id"));
  fputs("<tr>", f);
  fputs("<td>", f);
  swatch(f, str(j, "chart_state"));
  rd_html_esc(f, str(j, "state"));
  fputs("</td>", f);
  td(f, id);
  if (with_host)
    td(f, str(j, "host"));
  td(f, str(j, "runbook"));
  td(f, str(j, "certificate"));
  fprintf(f, "<td>%lld</td>", num(j, "attempts"));
  td_time(f, num(j, "updated"));
  td_time(f, num(j, "next_try"));
  fputs("<td class=\"err\">", f);
  rd_html_esc(f, str(j, "error") && *str(j, "error") ? str(j, "error") : "-");
  {
    const json_t *nt = json_object_get(j, "notice");
    if (nt) { /* a possible orphan certificate at the CA (core/notices.h) */
      fputs("<br><span class=\"notice\">notice: ", f);
      rd_html_esc(f, str(nt, "message"));
      fputs("</span>", f);
    }
  }
  fputs("</td></tr>\n", f);
}

static void job_head(FILE *f, int with_host) {
  fprintf(f, "<table><tr><th>State</th><th>Job</th>%s<th>Runbook</th><th>Certificate</th>"
             "<th>Attempts</th><th>Updated</th><th>Next try</th><th>Reason</th></tr>\n",
          with_host ? "<th>Host</th>" : "");
}

static void attention(FILE *f, const json_t *m) {
  const json_t *a = json_object_get(m, "attention"), *j;
  size_t i;
  fputs("<h2 id=\"attention\">Jobs that failed, wait, need an operator or carry a notice</h2>\n", f);
  if (!json_array_size(a)) {
    fputs("<p class=\"none\">None.</p>\n", f);
    return;
  }
  job_head(f, 1);
  json_array_foreach(a, i, j) job_row(f, j, 1);
  fputs("</table>\n", f);
}

static void unknown(FILE *f, const json_t *m) {
  const json_t *u = json_object_get(m, "unknown"), *c;
  size_t i;
  if (!json_array_size(u))
    return;
  fputs("<h2 id=\"unknown\">Never inventoried</h2>\n<table><tr><th>Host</th><th>Runbook</th>"
        "<th>Certificate</th></tr>\n",
        f);
  json_array_foreach(u, i, c) {
    fputs("<tr>", f);
    td(f, str(c, "host"));
    td(f, str(c, "runbook"));
    td(f, str(c, "certificate"));
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void history(FILE *f, const json_t *m) {
  const json_t *h = json_object_get(m, "history"), *e, *j;
  size_t i, k;
  fputs("<h2 id=\"history\">History by host</h2>\n", f);
  if (!json_array_size(h)) {
    fputs("<p class=\"none\">No job in the journal.</p>\n", f);
    return;
  }
  json_array_foreach(h, i, e) {
    fputs("<h3>", f);
    rd_html_esc(f, str(e, "host"));
    fputs("</h3>\n", f);
    job_head(f, 0);
    json_array_foreach(json_object_get(e, "jobs"), k, j) job_row(f, j, 0);
    fputs("</table>\n", f);
  }
}

int rd_report_html_write(FILE *f, const json_t *m) {
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>renewd fleet report</title><style>",
        f);
  fputs(css, f);
  fputs("</style></head><body>\n<h1>renewd fleet report</h1>\n<p class=\"sub\">Generated ", f);
  put_time(f, num(m, "now"));
  fprintf(f, ". Certificates with a known expiry: %zu; never inventoried: %zu; jobs needing "
             "attention: %zu.</p>\n",
          json_array_size(json_object_get(m, "certificates")),
          json_array_size(json_object_get(m, "unknown")),
          json_array_size(json_object_get(m, "attention")));
  summary(f, m);
  fputs("<h2 id=\"expiry\">Expiry timeline</h2>\n<p class=\"sub\">One mark per certificate at "
        "its expiry, soonest first; the bar is its lifetime, the darker part its renew window; "
        "the shaded bands are the next 60, 30 and 14 days.</p>\n",
        f);
  timeline(f, m);
  unknown(f, m);
  attention(f, m);
  history(f, m);
  fputs("</body></html>\n", f);
  return ferror(f) ? RD_EIO : 0;
}

char *rd_report_html(const json_t *model, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f)
    return NULL;
  int rc = rd_report_html_write(f, model);
  if (fclose(f) || rc) {
    free(buf);
    return NULL;
  }
  if (len)
    *len = n;
  return buf;
}
