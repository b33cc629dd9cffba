/* async_kinds.c — see async_kinds.h. */
#include "async_kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "testutil.h"

char tu_trace[4096];

void tu_note(const char *what) {
  if (tu_trace[0])
    strncat(tu_trace, " ", sizeof tu_trace - strlen(tu_trace) - 1);
  strncat(tu_trace, what, sizeof tu_trace - strlen(tu_trace) - 1);
}

static void remote_takes(void *arg) { usleep((useconds_t)((tu_answer *)arg)->ms * 1000); }

static void answered(rd_step *s, int status, void *arg) {
  tu_answer *a = arg;
  a->fn(s, status, a);
  free(a);
}

int tu_answer_later(rd_step *s, const tu_answer *a) {
  tu_answer *c = malloc(sizeof *c);
  int rc;
  if (!c)
    return RD_ENOMEM;
  *c = *a;
  if ((rc = a->h->work(s, remote_takes, answered, c)) < 0)
    free(c);
  return rc;
}

void tu_tmpdir(char dir[64], char jpath[128], const char *name) {
  snprintf(dir, 64, "/tmp/renewd-test-%.24s-XXXXXX", name);
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(jpath, 128, "%s/journal.db", dir);
}

void tu_tmpdir_remove(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
