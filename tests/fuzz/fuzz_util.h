/* fuzz_util.h — what the libFuzzer targets in tests/fuzz share: a private
 * temporary directory (removed at exit) to write an input into when the code
 * under test reads a file, and a NUL-terminated copy of an input. */
#ifndef RENEWD_FUZZ_UTIL_H
#define RENEWD_FUZZ_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_dir[64];

static inline void fz_cleanup(void) {
  char cmd[128];
  if (!fz_dir[0])
    return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "fuzz: cannot remove %s\n", fz_dir);
}

/* The path of name inside the private directory (made on first use). */
static inline const char *fz_path(const char *name, char *buf, size_t len) {
  if (!fz_dir[0]) {
    snprintf(fz_dir, sizeof fz_dir, "%s", "/tmp/renewd-fuzz.XXXXXX");
    if (!mkdtemp(fz_dir)) {
      perror("fuzz: mkdtemp");
      abort();
    }
    atexit(fz_cleanup);
  }
  snprintf(buf, len, "%s/%s", fz_dir, name);
  return buf;
}

/* Write data to name in the private directory; returns the path in buf. */
static inline const char *fz_write(const char *name, const uint8_t *data, size_t size,
                                   char *buf, size_t len) {
  FILE *f = fopen(fz_path(name, buf, len), "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror("fuzz: write");
    abort();
  }
  return buf;
}

/* A NUL-terminated copy (free() it). */
static inline char *fz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    abort();
  if (size)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif
