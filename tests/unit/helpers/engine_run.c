/* engine_run.c — see engine_run.h. */
#include "engine_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "config/runbook.h"
#include "host/registry.h"
#include "store/journal.h"
#include "testutil.h"

void (*tu_engine_journal_open)(struct uv_loop_s *loop, rd_journal *j);
void (*tu_engine_journal_close)(rd_journal *j);

void tu_engine_out_free(tu_engine_out *o) {
  json_decref(o->report);
  free(o->text);
  o->report = NULL;
  o->text = NULL;
}

void tu_engine_run(const rd_plugin *p, const char *const *files, const rd_engine_opts *opts,
                   const char *jpath, tu_engine_out *o) {
  rd_registry *reg = NULL;
  rd_runbook *rbs[8] = {0};
  rd_diag diag = {0};
  rd_journal *j = NULL;
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[512];
  size_t n = 0, tl = 0;
  FILE *devnull = fopen("/dev/null", "w"), *tf;
  rd_engine_opts eo = {0};
  if (opts)
    eo = *opts;
  eo.out = devnull;
  tu_engine_out_free(o);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, p, "test", err, sizeof err), 0);
  if (!eo.whatif)
    ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  if (j && tu_engine_journal_open)
    tu_engine_journal_open(&loop, j);
  ck_assert_int_eq(rd_engine_new(&loop, reg, j, &eo, &e), 0);
  for (; files[n]; n++) {
    ck_assert_uint_lt(n, sizeof rbs / sizeof *rbs);
    if (rd_runbook_load(files[n], reg, &rbs[n], &diag)) {
      rd_diag_print(&diag, stderr);
      ck_abort_msg("runbook %s", files[n]);
    }
    ck_assert_int_eq(rd_engine_add_runbook(e, rbs[n]), 0);
  }
  o->code = rd_engine_run(e, &o->stats);
  o->report = json_deep_copy(rd_engine_report(e));
  ck_assert_ptr_nonnull(tf = open_memstream(&o->text, &tl));
  rd_engine_print_report(e, tf);
  fclose(tf);
  rd_engine_free(e);
  if (j && tu_engine_journal_close)
    tu_engine_journal_close(j);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(j);
  for (size_t i = 0; i < n; i++)
    rd_runbook_free(rbs[i]);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
}
