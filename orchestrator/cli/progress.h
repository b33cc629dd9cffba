/* progress.h — the live line of a long run, plan or inventory on a
 * terminal: "renewd run: 12/40 hosts done, 3 due, 1 failed, 0:42", redrawn
 * every quarter second on the run's loop (the cursor left at its start)
 * and erased at the end. Never on a
 * pipe or a file: rd_progress_start returns NULL there and nothing is
 * written. The timer does not keep the loop alive. */
#ifndef RENEWD_CLI_PROGRESS_H
#define RENEWD_CLI_PROGRESS_H
#include <stddef.h>
#include <stdio.h>

#include <uv.h>

#include "core/engine.h"

typedef struct rd_progress rd_progress;

/* f: where the line goes (stderr); NULL unless f is a terminal. */
rd_progress *rd_progress_start(uv_loop_t *loop, FILE *f, const char *verb, const rd_engine *e);
/* Erase the line and close the timer (freed in its close callback, on the
 * loop's next turn). NULL does nothing. */
void rd_progress_stop(rd_progress *p);
/* The line's text (no "\r"): done of total hosts, due, failed, elapsed. */
void rd_progress_text(char *buf, size_t len, const char *verb, unsigned long long done,
                      const rd_engine_stats *s, unsigned long elapsed_s);

#endif
