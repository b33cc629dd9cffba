/* notices.h — what the journal tells an operator about a job after the run
 * that did it is gone. */
#ifndef RENEWD_CORE_NOTICES_H
#define RENEWD_CORE_NOTICES_H

#include <stdint.h>

#include <jansson.h>

#include "store/journal.h"

/* The notices of every job that has one, in one journal query: today a
 * possible orphan certificate at the CA (a reply lost to a crash or a
 * timeout, the identical request resent: scep.c's result "orphan"). *out: a
 * new object, the job id in decimal -> {"what", "step", "phase", "message",
 * "resent"}. Returns 0 or a negative RD_E* code (the journal's). */
int rd_job_notices(rd_journal *j, json_t **out);

#endif
