/* engine_run.h — one run of the real engine over a runbook file with a
 * plugin of test step kinds (no remote I/O), for the engine's unit tests. */
#ifndef RENEWD_TEST_ENGINE_RUN_H
#define RENEWD_TEST_ENGINE_RUN_H
#include <jansson.h>

#include "core/engine.h"
#include "renewd/plugin.h"

typedef struct tu_engine_run {
  int code;              /* rd_engine_run's exit code */
  rd_engine_stats stats;
  json_t *report;        /* the engine's report (a copy) */
  char *text;            /* the report for people */
} tu_engine_run;

/* Load file with p's kinds, open the journal at jpath (NULL: none), run the
 * engine until it is done (whatif: plan), check uv_loop_close() == 0.
 * Fails the test on a setup error. Free with tu_engine_run_free. */
void tu_engine_run_file(const char *file, const rd_plugin *p, int whatif, const char *jpath,
                        tu_engine_run *out);
/* Job i of the report (borrowed), NULL past the last. */
const json_t *tu_engine_job(const tu_engine_run *r, size_t i);
void tu_engine_run_free(tu_engine_run *r);

#endif
