/* progress.c — see progress.h. Jobs ended come from base/metrics.c (every
 * job's end is counted there, whatever its outcome); due and failed from the
 * engine's stats. */
#include "cli/progress.h"

#include <stdlib.h>
#include <unistd.h>

#include "base/metrics.h"

#define TICK_MS 250

struct rd_progress {
  uv_timer_t timer;
  FILE *f;
  const char *verb;
  const rd_engine *e;
  unsigned long long base; /* jobs ended before this run */
  uint64_t t0;
  int width;               /* of the last line drawn, to erase it */
};

void rd_progress_text(char *buf, size_t len, const char *verb, unsigned long long done,
                      const rd_engine_stats *s, unsigned long elapsed_s) {
  snprintf(buf, len, "renewd %s: %llu/%d hosts done, %d due, %d failed, %lu:%02lu", verb, done,
           s->targets, s->due, s->failed + s->rolled_back + s->needs_operator, elapsed_s / 60,
           elapsed_s % 60);
}

static void draw(uv_timer_t *t) {
  rd_progress *p = t->data;
  rd_engine_stats s;
  char line[256];
  rd_engine_get_stats(p->e, &s);
  rd_progress_text(line, sizeof line, p->verb, rd_metrics_jobs_ended() - p->base, &s,
                   (unsigned long)((uv_now(t->loop) - p->t0) / 1000));
  /* the cursor goes back to the line's start: a warning printed meanwhile
   * overwrites the line instead of running on after it */
  int w = fprintf(p->f, "\r%s\033[K\r", line);
  p->width = w > 0 ? w : 0;
  fflush(p->f);
}

rd_progress *rd_progress_start(uv_loop_t *loop, FILE *f, const char *verb, const rd_engine *e) {
  rd_progress *p;
  if (!f || !isatty(fileno(f)) || !(p = calloc(1, sizeof *p)))
    return NULL;
  p->f = f;
  p->verb = verb;
  p->e = e;
  p->base = rd_metrics_jobs_ended();
  p->t0 = uv_now(loop);
  p->timer.data = p;
  uv_timer_init(loop, &p->timer);
  uv_unref((uv_handle_t *)&p->timer); /* the run ends when its jobs do */
  uv_timer_start(&p->timer, draw, TICK_MS, TICK_MS);
  return p;
}

static void closed(uv_handle_t *h) { free(h->data); }

void rd_progress_stop(rd_progress *p) {
  if (!p)
    return;
  if (p->width) {
    fputs("\r\033[K", p->f);
    fflush(p->f);
  }
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, closed);
}
