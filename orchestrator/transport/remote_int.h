/* remote_int.h — what the builders of remote.h share inside transport/:
 * a growing buffer, the parameter-name check, the safe script name, and the
 * POSIX builder of a script alone (remote_posix.c). */
#ifndef RENEWD_REMOTE_INT_H
#define RENEWD_REMOTE_INT_H
#include <stddef.h>
#include <jansson.h>
#include "transport/remote.h"

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;
/* Appends n bytes (NUL-terminated after); on failure sets oom and stops. */
void rd_sb_add(sbuf *b, const void *s, size_t n);
void rd_sb_str(sbuf *b, const char *s);
/* A parameter or result name: [a-z_][a-z0-9_]*, at most 64 characters. */
int rd_remote_name_ok(const char *s, size_t n);
/* A script's name as [A-Za-z0-9._-] (others become '_'; "script" if empty). */
void rd_remote_safe_name(const char *in, char *out, size_t n);
/* A POSIX script alone: its prelude and text under `sh -c`, parameters on stdin. */
int rd_remote_build_posix(const rd_script *s, const json_t *params, int use_sudo,
                          rd_remote_cmd *out, char *err, size_t errlen);

#endif
