/* engine_run.h — run the real engine on runbook files with a test plugin's
 * step kinds (no remote I/O), for the engine's unit tests. */
#ifndef RENEWD_TEST_ENGINE_RUN_H
#define RENEWD_TEST_ENGINE_RUN_H
#include <jansson.h>
#include "core/engine.h"
#include "renewd/plugin.h"
#include "store/journal.h"

typedef struct tu_engine_out {
  int code;              /* rd_engine_run's */
  rd_engine_stats stats;
  json_t *report;        /* a copy of the engine's report */
  char *text;            /* the report for people */
} tu_engine_out;

/* Load files (NULL-terminated; a failing runbook fails the test, printing
 * its diagnostics) with p's kinds and run them with opts (NULL: none; its
 * out is /dev/null): whatif without a journal, else with the journal at
 * jpath. The loop closes cleanly or the test fails. o's previous contents
 * are freed (o starts zeroed). */
/* When set, called with the run's loop and journal before the run (open)
 * and after the engine is freed, before the loop's last run (close). */
struct uv_loop_s;
extern void (*tu_engine_journal_open)(struct uv_loop_s *loop, rd_journal *j);
extern void (*tu_engine_journal_close)(rd_journal *j);
void tu_engine_run(const rd_plugin *p, const char *const *files, const rd_engine_opts *opts,
                   const char *jpath, tu_engine_out *o);
void tu_engine_out_free(tu_engine_out *o);

#endif
