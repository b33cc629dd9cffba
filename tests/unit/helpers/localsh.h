/* localsh.h — a built remote command run by a local /bin/sh exactly as
 * sshd runs an exec request (`sh -c COMMAND`, stdin from a file), for the
 * tests of transport/remote*.c. */
#ifndef RENEWD_TEST_LOCALSH_H
#define RENEWD_TEST_LOCALSH_H
#include <stddef.h>

typedef struct lres {
  char *out, *err;
  size_t out_len, err_len;
  int exit;
} lres;

/* sh -c COMMAND < in: stdout, stderr and the exit status into r (check
 * assertions on failure). */
void run_local(const char *command, const void *in, size_t inlen, lres *r);
void lres_free(lres *r);
/* rd_remote_parse_batch refuses each of the nbad answers (for 2 scripts)
 * with RD_EPROTO and leaves every answer missing. */
void expect_batch_refused(const char *const *bad, size_t nbad);

#endif
