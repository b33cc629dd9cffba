/* testutil.h — small helpers shared by the Check unit tests. */
#ifndef RENEWD_TESTUTIL_H
#define RENEWD_TESTUTIL_H
#include <stddef.h>
#include <check.h>

/* Read a whole file, NUL-terminated (len may be NULL); NULL when it cannot
 * be read. Caller frees. */
char *tu_read_file(const char *path, size_t *len);
/* The same, failing the test (naming the path) when it cannot be read. */
unsigned char *tu_must_read_file(const char *path, size_t *len);
/* Read a whole file (fixture path relative to FIXTURES). Caller frees. */
unsigned char *tu_read_fixture(const char *rel, size_t *len);
/* Run a suite with CK_NORMAL output; returns the process exit code. */
int tu_run(Suite *s);

#endif
