/* testutil.c — see testutil.h. */
#include "testutil.h"

#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>

char *tu_read_file(const char *path, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  if (rd_read_file(path, (size_t)64 << 20, &buf, &n))
    return NULL;
  if (len)
    *len = n;
  return buf;
}

unsigned char *tu_must_read_file(const char *path, size_t *len) {
  char *b = tu_read_file(path, len);
  ck_assert_msg(b != NULL, "%s: cannot read", path);
  return (unsigned char *)b;
}

unsigned char *tu_read_fixture(const char *rel, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", FIXTURES, rel);
  return (unsigned char *)tu_read_file(path, len);
}

int tu_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
