/* waves.c — renewals in waves (schedule.waves, e.g. [1, "10%", "100%"]).
 *
 * Every target of a runbook is probed first (read-only, in parallel up to
 * the concurrency cap). Then the due ones renew in waves of the cumulative
 * sizes rd_waves() computes over the number of due targets, in runbook
 * order: a wave starts only when every renewal of the previous one ended
 * DONE. A wave with any other outcome holds the rest, which end HELD (not
 * touched) — a canary that fails stops the fleet.
 *
 * Only renewals that can run take a wave's place (job.c decides before
 * calling rd_waves_probed): a host waiting out the backoff of an earlier
 * failure, or one whose pre-flight probe failed, has already ended; a job
 * resumed from the journal past issuance (follow-ups owed) runs at once,
 * outside the waves, and its outcome holds nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine_int.h"
#include "core/schedule.h"

#define MAX_WAVES 64

struct rd_wave_set {
  const rd_runbook *rb;
  size_t ntargets, nprobed;
  rd_job **due;
  size_t ndue, cap;
  size_t counts[MAX_WAVES];
  size_t nwaves, wave, admitted, ended;
  int planned, failed;
  size_t running;          /* jobs of this runbook holding a slot */
  rd_wave_set *next;
};

rd_wave_set *rd_waves_for(rd_engine *e, const rd_runbook *rb) {
  rd_wave_set *w;
  for (w = e->waves; w; w = w->next)
    if (w->rb == rb)
      return w;
  if (!(w = calloc(1, sizeof *w)))
    return NULL;
  w->rb = rb;
  w->next = e->waves;
  e->waves = w;
  return w;
}

void rd_waves_add_target(rd_wave_set *w) { w->ntargets++; }
size_t rd_waves_running(const rd_wave_set *w) { return w ? w->running : 0; }
void rd_waves_running_add(rd_wave_set *w, int d) {
  if (w)
    w->running = (size_t)((long)w->running + d);
}

void rd_waves_free(rd_wave_set *w) {
  while (w) {
    rd_wave_set *n = w->next;
    free(w->due);
    free(w);
    w = n;
  }
}

/* Admit the jobs of wave w->wave: they become ready for rd_engine_pump. */
static void admit_wave(rd_wave_set *w) {
  size_t upto = w->counts[w->wave];
  for (; w->admitted < upto && w->admitted < w->ndue; w->admitted++) {
    rd_job *j = w->due[w->admitted];
    j->wave_ready = 1;
    json_object_set_new(j->report, "wave", json_integer((json_int_t)w->wave + 1));
  }
}

static void plan(rd_wave_set *w) {
  char err[256];
  w->planned = 1;
  if (!w->ndue)
    return;
  if (rd_waves(w->rb->schedule.waves, w->ndue, w->counts, MAX_WAVES, &w->nwaves, err,
               sizeof err) ||
      !w->nwaves) {
    w->counts[0] = w->ndue; /* validated at load; be safe: one wave */
    w->nwaves = 1;
  }
  w->wave = 0;
  admit_wave(w);
}

void rd_waves_probed(rd_job *j, int due) {
  rd_wave_set *w = j->waves;
  if (j->counted_probe || !w)
    return;
  j->counted_probe = 1;
  if (due) {
    if (w->ndue == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 16;
      rd_job **nd = realloc(w->due, cap * sizeof *nd);
      if (!nd) { /* cannot queue it: renew it at once rather than lose it */
        j->wave_ready = 1;
        w->nprobed++;
        return;
      }
      w->due = nd;
      w->cap = cap;
    }
    w->due[w->ndue++] = j;
  }
  if (++w->nprobed == w->ntargets)
    plan(w);
}

/* Was j admitted by a wave? (A resumed job past issuance is not: it runs
 * outside the waves.) */
static int admitted(const rd_wave_set *w, const rd_job *j) {
  for (size_t i = 0; i < w->admitted; i++)
    if (w->due[i] == j)
      return 1;
  return 0;
}

void rd_waves_ended(rd_job *j) {
  rd_wave_set *w = j->waves;
  if (!w || !j->wave_started || !admitted(w, j))
    return;
  w->ended++;
  /* a wave is judged by the renewals that ran in it: one still backing off
   * (another run failed it meanwhile), one whose host another process holds
   * (BUSY), one no longer due after waiting for its host: none ran */
  int ran = j->outcome != RD_OUT_BACKOFF && j->outcome != RD_OUT_BUSY &&
            j->outcome != RD_OUT_NOT_DUE;
  if (ran && (j->outcome != RD_OUT_STATE || j->state != RD_JOB_DONE))
    w->failed = 1;
  if (w->ended < w->admitted)
    return;
  if (w->failed) {
    /* hold everything not yet admitted */
    for (size_t i = w->admitted; i < w->ndue; i++) {
      rd_job *h = w->due[i];
      snprintf(h->error, sizeof h->error,
               "host %s: held: wave %zu of runbook %s had a failure, so the %zu certificate(s) "
               "after it were not renewed; fix it, then run again (or renew this host with "
               "--host %s)",
               h->t->name, w->wave + 1, w->rb->name, w->ndue - w->admitted, h->t->name);
      rd_job_finish_as(h, RD_OUT_HELD);
    }
    w->admitted = w->ndue;
    return;
  }
  if (++w->wave < w->nwaves)
    admit_wave(w);
}
