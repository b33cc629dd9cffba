/* runbook_diag.c — diagnostics: every problem found while loading, with its
 * file:line:column, sorted and printed (runbook.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "config/runbook.h"

void rd_diag_add(rd_diag *d, const char *file, int line, int column, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  rd_diag_item *it;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (!d)
    return;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 16;
    rd_diag_item *ni = realloc(d->items, cap * sizeof *ni);
    if (!ni)
      return;
    d->items = ni;
    d->cap = cap;
  }
  it = &d->items[d->n];
  it->file = strdup(file ? file : "-");
  it->msg = strdup(buf);
  it->line = line;
  it->column = column;
  if (!it->file || !it->msg) {
    free(it->file);
    free(it->msg);
    return;
  }
  d->n++;
}

/* Messages quote the runbook's values (a name, a path, an unknown key):
 * escaped, like the file's name, so none reaches the terminal raw. */
void rd_diag_print(const rd_diag *d, FILE *f) {
  for (size_t i = 0; d && i < d->n; i++) {
    const rd_diag_item *it = &d->items[i];
    char *file = rd_escape_dup(it->file, RD_ESC_ONE_LINE);
    char *msg = rd_escape_dup(it->msg, RD_ESC_ONE_LINE);
    if (!file || !msg)
      fputs("renewd: out of memory printing a diagnostic\n", f);
    else if (it->line > 0)
      fprintf(f, "%s:%d:%d: %s\n", file, it->line, it->column, msg);
    else
      fprintf(f, "%s: %s\n", file, msg);
    free(file);
    free(msg);
  }
}

void rd_diag_free(rd_diag *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->n; i++) {
    free(d->items[i].file);
    free(d->items[i].msg);
  }
  free(d->items);
  memset(d, 0, sizeof *d);
}

/* Files keep the order of their first diagnostic; within a file, by position. */
void rd_diag_sort(rd_diag *d, size_t from) {
  size_t n;
  int *rank;
  if (!d || from >= d->n)
    return;
  n = d->n - from;
  if (!(rank = malloc(n * sizeof *rank)))
    return;
  for (size_t i = 0; i < n; i++) {
    rank[i] = (int)i;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(d->items[from + j].file, d->items[from + i].file)) {
        rank[i] = rank[j];
        break;
      }
  }
  for (size_t i = 1; i < n; i++) { /* insertion sort: stable, n is small */
    rd_diag_item it = d->items[from + i];
    int r = rank[i];
    size_t j = i;
    while (j > 0) {
      const rd_diag_item *p = &d->items[from + j - 1];
      int pr = rank[j - 1];
      if (pr < r || (pr == r && (p->line < it.line ||
                                 (p->line == it.line && p->column <= it.column))))
        break;
      d->items[from + j] = *p;
      rank[j] = pr;
      j--;
    }
    d->items[from + j] = it;
    rank[j] = r;
  }
  free(rank);
}
