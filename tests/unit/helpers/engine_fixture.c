/* engine_fixture.c — see engine_fixture.h. */
#include "engine_fixture.h"

#include <string.h>
#include <time.h>

int tu_due_inventory_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  json_object_set_new(h->facts(s), "cert",
                      json_pack("{s:s, s:I, s:I, s:s}", "sha256", "old", "not_before",
                                (json_int_t)(now - 29 * 86400), "not_after",
                                (json_int_t)(now + 86400), "serial", "01"));
  h->done(s, 0, NULL, NULL);
  return 0;
}

int tu_issue_apply(rd_step *s, const rd_host_api *h) {
  h->set_state(s, "KEY_READY");
  h->set_state(s, "REQUESTED");
  json_object_set_new(h->facts(s), "new_cert",
                      json_pack("{s:s, s:s}", "sha256", "new", "serial", "02"));
  h->done(s, 0, NULL, NULL);
  return 0;
}

int tu_done_ok(rd_step *s, const rd_host_api *h) {
  h->done(s, 0, NULL, NULL);
  return 0;
}

const json_t *tu_phase_of(const json_t *report, const char *step, const char *phase) {
  const json_t *steps = json_object_get(json_array_get(json_object_get(report, "jobs"), 0), "steps");
  size_t i;
  const json_t *st;
  json_array_foreach(steps, i, st)
    if (!strcmp(json_string_value(json_object_get(st, "name")), step))
      return json_object_get(json_object_get(st, "phases"), phase);
  return NULL;
}

const char *tu_phase_status(const json_t *report, const char *step, const char *phase) {
  const char *v = json_string_value(json_object_get(tu_phase_of(report, step, phase), "status"));
  return v ? v : "(none)";
}
