/* engine_fixture.h — what the tests of the real engine with test step kinds
 * share: quick inventory / issuer / install halves without remote I/O, and
 * lookups in the engine's report. */
#ifndef RENEWD_ENGINE_FIXTURE_H
#define RENEWD_ENGINE_FIXTURE_H
#include <jansson.h>
#include "renewd/plugin.h"

/* An inventory probe: facts.cert with one day left of 30 (due). */
int tu_due_inventory_probe(rd_step *s, const rd_host_api *h);
/* An issuer's apply: KEY_READY, REQUESTED, facts.new_cert. */
int tu_issue_apply(rd_step *s, const rd_host_api *h);
/* A phase that completes at once, with status 0. */
int tu_done_ok(rd_step *s, const rd_host_api *h);

/* The first job's step named step: its phase's report object, or NULL. */
const json_t *tu_phase_of(const json_t *report, const char *step, const char *phase);
/* ... its "status" ("(none)" when the phase did not run). */
const char *tu_phase_status(const json_t *report, const char *step, const char *phase);

#endif
