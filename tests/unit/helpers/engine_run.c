/* engine_run.c — see engine_run.h. */
#include "engine_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "config/runbook.h"
#include "host/registry.h"
#include "store/journal.h"
#include "testutil.h"

void tu_engine_run_file(const char *file, const rd_plugin *p, int whatif, const char *jpath,
                        tu_engine_run *out) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_journal *j = NULL;
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[512];
  size_t tl = 0;
  FILE *devnull = fopen("/dev/null", "w"), *tf;
  rd_engine_opts eo = {.whatif = whatif, .out = devnull};
  memset(out, 0, sizeof *out);
  ck_assert_ptr_nonnull(devnull);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_msg(rd_registry_add(reg, p, "test", err, sizeof err) == 0, "%s", err);
  ck_assert_msg(rd_runbook_load(file, reg, &rb, &diag) == 0, "runbook %s", file);
  if (jpath)
    ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, j, &eo, &e), 0);
  ck_assert_int_eq(rd_engine_add_runbook(e, rb), 0);
  out->code = rd_engine_run(e, &out->stats);
  out->report = json_deep_copy(rd_engine_report(e));
  ck_assert_ptr_nonnull(tf = open_memstream(&out->text, &tl));
  rd_engine_print_report(e, tf);
  fclose(tf);
  rd_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(j);
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
}

const json_t *tu_engine_job(const tu_engine_run *r, size_t i) {
  return json_array_get(json_object_get(r->report, "jobs"), i);
}

void tu_engine_run_free(tu_engine_run *r) {
  json_decref(r->report);
  free(r->text);
  memset(r, 0, sizeof *r);
}
