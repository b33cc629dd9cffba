/* async_kinds.h — what the engine tests with asynchronous step kinds share
 * (test_engine_async.c, test_engine_lease.c, test_engine_rollback.c): the
 * trace of the phases' answers, a phase that answers later from
 * host->work() after a sleep (as a remote script or an HTTP request does),
 * and the test's temporary directory with its journal. */
#ifndef RENEWD_TEST_ASYNC_KINDS_H
#define RENEWD_TEST_ASYNC_KINDS_H
#include "renewd/plugin.h"

/* The answers as they arrived, space-separated; tu_note appends one. */
extern char tu_trace[4096];
void tu_note(const char *what);

typedef struct tu_answer tu_answer;
/* Called on the loop with the phase's answer (status: RD_ECANCELED or
 * RD_ETIMEDOUT when the host dropped it, else 0); a is freed after. */
typedef void (*tu_answer_fn)(rd_step *s, int status, const tu_answer *a);
struct tu_answer {
  const rd_host_api *h;
  const char *name; /* "inst.apply" */
  int kind, phase;  /* the test's own numbering, where a name is not enough */
  long ms;          /* how long the "remote" takes */
  tu_answer_fn fn;
};
/* Start a phase: a copy of *a answers through a->fn after a->ms
 * milliseconds, off the loop. h->work's status (the copy is freed when it
 * fails). */
int tu_answer_later(rd_step *s, const tu_answer *a);

/* A fresh /tmp/renewd-test-NAME-XXXXXX in dir and its journal.db path in
 * jpath (the test fails when it cannot be made); tu_tmpdir_remove removes
 * it with everything in it. */
void tu_tmpdir(char dir[64], char jpath[128], const char *name);
void tu_tmpdir_remove(const char *dir);

#endif
