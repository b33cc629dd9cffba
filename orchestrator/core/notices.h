/* notices.h — what the journal tells an operator about a job after the run
 * that did it is gone. */
#ifndef RENEWD_CORE_NOTICES_H
#define RENEWD_CORE_NOTICES_H

#include <stdint.h>

#include <jansson.h>

#include "store/journal.h"

/* The notice a job's step results carry, if any: today a possible orphan
 * certificate at the CA (a reply lost to a crash or a timeout, the identical
 * request resent: scep.c's result "orphan"). *out: a new object
 * {"what", "step", "phase", "message", "resent"} or NULL when the job has
 * none. Returns 0 or a negative RD_E* code (the journal's). */
int rd_job_notice(rd_journal *j, int64_t job_id, json_t **out);
/* The notices of every job that has one, in one journal query (a listing
 * of many jobs calls this once, not rd_job_notice per job): *out a new
 * object, the job id in decimal -> its notice as rd_job_notice's. */
int rd_job_notices(rd_journal *j, json_t **out);

#endif
