/* remote_answer.c — what a batch or a session request answered (see
 * remote.h): the framed "rd_batch I EXIT OUT ERR" lines, and the line that
 * ends a session request. */
#include "transport/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

int rd_remote_session_end(unsigned long token, char *line, size_t len) {
  int n = snprintf(line, len, "rd_end %lu\n", token);
  return n < 0 || (size_t)n >= len ? RD_EOVERFLOW : 0;
}

void rd_remote_answers_free(rd_remote_answer *a, size_t n) {
  for (size_t i = 0; a && i < n; i++) {
    free(a[i].out);
    free(a[i].err);
    memset(&a[i], 0, sizeof a[i]);
  }
}

/* One base64 field of a batch line, decoded into a NUL-terminated buffer. */
static int batch_field(const char *p, size_t n, char **out, size_t *len) {
  unsigned char *v = NULL;
  size_t vl = 0;
  if (n && rd_base64_decode(p, n, &v, &vl))
    return RD_EPROTO;
  char *t = malloc(vl + 1);
  if (!t) {
    free(v);
    return RD_ENOMEM;
  }
  if (vl)
    memcpy(t, v, vl);
  t[vl] = 0;
  free(v);
  *out = t;
  *len = vl;
  return 0;
}

int rd_remote_parse_batch(const char *out, size_t len, size_t n, rd_remote_answer *ans, char *err,
                          size_t errlen) {
  size_t i = 0, line = 0;
  if (err && errlen)
    *err = 0;
  for (size_t k = 0; k < n; k++) {
    memset(&ans[k], 0, sizeof ans[k]);
    ans[k].exit_status = RD_BATCH_NO_ANSWER;
  }
  while (i < len) {
    const char *l = out + i, *nl = memchr(l, '\n', len - i);
    const char *f[4] = {0};
    size_t fl[4] = {0}, end, k = 0;
    char *endp;
    line++;
    if (!nl) {
      rd_fmt(err, errlen, "batch output line %zu is incomplete (no newline): the output was cut off",
             line);
      goto bad;
    }
    end = (size_t)(nl - l);
    if (end < 9 || memcmp(l, "rd_batch ", 9)) {
      rd_fmt(err, errlen, "batch output line %zu is not \"rd_batch I EXIT OUT ERR\"", line);
      goto bad;
    }
    /* four fields split at single spaces; the last two may be empty */
    for (size_t p = 9; k < 4; k++) {
      const char *sp = k < 3 ? memchr(l + p, ' ', end - p) : NULL;
      f[k] = l + p;
      fl[k] = sp ? (size_t)(sp - (l + p)) : end - p;
      if (!sp) {
        k++;
        break;
      }
      p += fl[k] + 1;
    }
    if (k != 4 || !fl[0] || !fl[1]) {
      rd_fmt(err, errlen, "batch output line %zu is not \"rd_batch I EXIT OUT ERR\"", line);
      goto bad;
    }
    unsigned long idx = strtoul(f[0], &endp, 10);
    long ex = strtol(f[1], NULL, 10);
    if (endp != f[0] + fl[0] || idx >= n || ans[idx].exit_status != RD_BATCH_NO_ANSWER ||
        ex < 0 || ex > 255) {
      rd_fmt(err, errlen, "batch output line %zu: no such script, or answered twice", line);
      goto bad;
    }
    if (batch_field(f[2], fl[2], &ans[idx].out, &ans[idx].out_len) ||
        batch_field(f[3], fl[3], &ans[idx].err, &ans[idx].err_len)) {
      rd_fmt(err, errlen, "batch output line %zu: a value is not valid base64", line);
      goto bad;
    }
    ans[idx].exit_status = (int)ex;
    i += end + 1;
  }
  return 0;
bad:
  rd_remote_answers_free(ans, n);
  for (size_t k = 0; k < n; k++)
    ans[k].exit_status = RD_BATCH_NO_ANSWER;
  return RD_EPROTO;
}
