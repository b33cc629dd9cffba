/* remote_answer.c — what a batch or a session request answered (see
 * remote.h): a POSIX loader's framed answer ("rd_raw FRAME", each script's
 * results and stderr as they are, between FRAME records), a Windows
 * loader's "rd_batch I EXIT OUT ERR" lines, and the line that ends a
 * Windows session request. */
#include "transport/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/remote_int.h"

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

/* ------------------------------------------------------------------ POSIX */

#define FRAME_LEN 32

/* The next FRAME at or after p, or NULL. */
static const char *find_frame(const char *p, const char *end, const char *f) {
  while ((size_t)(end - p) >= FRAME_LEN) {
    const char *q = memchr(p, f[0], (size_t)(end - p) - FRAME_LEN + 1);
    if (!q)
      return NULL;
    if (!memcmp(q, f, FRAME_LEN))
      return q;
    p = q + 1;
  }
  return NULL;
}

/* Printable ASCII on one line, not empty, no space at either end: a
 * result that rd_remote_parse_posix reads as it is ("NAME:t TEXT"). */
static int plain_result(const char *v, size_t n) {
  if (!n || v[0] == ' ' || v[n - 1] == ' ')
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
      return 0;
  return 1;
}

/* A result as the line rd_remote_parse_posix reads: "NAME:t TEXT\n" or
 * "NAME BASE64\n" (v), "NAME:b64 BASE64\n" (r: the plugin decodes it). */
static int result_line(sbuf *o, char kind, const char *name, size_t nlen, const char *v, size_t vl) {
  int plain = kind == 'v' && plain_result(v, vl);
  size_t bl = 0;
  char *b = vl && !plain ? rd_base64_encode(v, vl, &bl) : NULL;
  if (vl && !plain && !b)
    return RD_ENOMEM;
  rd_sb_add(o, name, nlen);
  rd_sb_str(o, plain ? ":t " : kind == 'r' ? ":b64 " : " ");
  if (plain)
    rd_sb_add(o, v, vl);
  else if (b)
    rd_sb_add(o, b, bl);
  rd_sb_add(o, "\n", 1);
  free(b);
  return o->oom ? RD_ENOMEM : 0;
}

/* One script's record "b I", results up to "e", output up to "x I EXIT";
 * p is just past "FRAME b " of an answer whose frame is f. 0 with *next
 * past the script (ans[i] set), 1 when the answer was cut off inside it
 * (ans[i] untouched), RD_EPROTO, RD_ENOMEM. */
static int raw_script(const char *p, const char *end, const char *f, size_t n,
                      rd_remote_answer *ans, const char **next) {
  sbuf o = {0}, e = {0};
  char *endp;
  const char *nl = memchr(p, '\n', (size_t)(end - p)), *q;
  unsigned long i;
  int rc = RD_EPROTO;
  if (!nl) /* strtoul stops at the newline: it never reads past the answer */
    return 1;
  if (*p < '0' || *p > '9' || (i = strtoul(p, &endp, 10), endp != nl) || i >= n ||
      ans[i].exit_status != RD_BATCH_NO_ANSWER)
    return RD_EPROTO;
  p = nl + 1;
  rd_sb_add(&o, "", 0);
  rd_sb_add(&e, "", 0);
  for (;;) { /* its results: "FRAME v NAME\n" or "FRAME r NAME\n" and the bytes */
    if (!(q = find_frame(p, end, f)) || (size_t)(end - q) < FRAME_LEN + 3)
      goto cut;
    if (q != p)
      goto out; /* something else than a result where its results are */
    char kind = q[FRAME_LEN + 1];
    if (q[FRAME_LEN] != ' ')
      goto out;
    if (kind == 'e' && q[FRAME_LEN + 2] == '\n') {
      p = q + FRAME_LEN + 3;
      break;
    }
    if ((kind != 'v' && kind != 'r') || q[FRAME_LEN + 2] != ' ')
      goto out;
    const char *name = q + FRAME_LEN + 3, *nle = memchr(name, '\n', (size_t)(end - name));
    if (!nle)
      goto cut;
    if (!rd_remote_name_ok(name, (size_t)(nle - name)))
      goto out;
    const char *v = nle + 1, *ve = find_frame(v, end, f);
    if (!ve)
      goto cut;
    if ((rc = result_line(&o, kind, name, (size_t)(nle - name), v, (size_t)(ve - v))))
      goto out;
    rc = RD_EPROTO;
    p = ve;
  }
  if (!(q = find_frame(p, end, f))) /* its stdout and stderr, up to "x I EXIT" */
    goto cut;
  rd_sb_add(&e, p, (size_t)(q - p));
  p = q + FRAME_LEN;
  if (!(nl = memchr(p, '\n', (size_t)(end - p))))
    goto cut;
  char want[48];
  snprintf(want, sizeof want, " x %lu ", i);
  size_t wl = strlen(want);
  if ((size_t)(nl - p) <= wl || memcmp(p, want, wl))
    goto out;
  long ex = p[wl] >= '0' && p[wl] <= '9' ? strtol(p + wl, &endp, 10) : -1;
  if (ex < 0 || endp != nl || ex > 255)
    goto out;
  if (o.oom || e.oom) {
    rc = RD_ENOMEM;
    goto out;
  }
  ans[i].exit_status = (int)ex;
  ans[i].out = o.p;
  ans[i].out_len = o.len;
  ans[i].err = e.p;
  ans[i].err_len = e.len;
  *next = nl + 1;
  return 0;
cut:
  rc = 1;
out:
  free(o.p);
  free(e.p);
  return rc;
}

/* "rd_raw FRAME\n" then each script's records. A script cut off (the
 * execution ended inside it) and those after it stay unanswered. */
static int parse_raw(const char *out, size_t len, size_t n, rd_remote_answer *ans, char *err,
                     size_t errlen) {
  const char *end = out + len, *p = out + 7, *f = p;
  int rc;
  if (len < 7 + FRAME_LEN + 1 || p[FRAME_LEN] != '\n' ||
      strspn(f, "0123456789abcdef") < FRAME_LEN) {
    rd_fmt(err, errlen, "batch output: the first line is not \"rd_raw FRAME\"");
    return RD_EPROTO;
  }
  for (p += FRAME_LEN + 1; p < end;) {
    size_t left = (size_t)(end - p), fl = left < FRAME_LEN ? left : FRAME_LEN;
    /* "FRAME b ", or the start of it when the answer was cut off there */
    if (memcmp(p, f, fl) || (left > FRAME_LEN && memcmp(p + FRAME_LEN, " b ", left - FRAME_LEN < 3
                                                                            ? left - FRAME_LEN
                                                                            : 3))) {
      rd_fmt(err, errlen, "batch output: bytes outside of a script's record");
      return RD_EPROTO;
    }
    if (left < FRAME_LEN + 3)
      return 0;
    if ((rc = raw_script(p + FRAME_LEN + 3, end, f, n, ans, &p)) == 1)
      return 0;
    if (rc) {
      rd_fmt(err, errlen, rc == RD_ENOMEM ? "batch output: out of memory"
                                          : "batch output: a script's record is malformed");
      return rc;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ both */

/* A field of decimal digits only (1 to 9 of them), read inside its length:
 * strtoul would skip blanks and newlines and read on past the field, and
 * past the answer when it is not NUL-terminated (fuzz_remote found it). */
static int field_number(const char *p, size_t n, unsigned long *out) {
  unsigned long v = 0;
  if (!n || n > 9)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    v = v * 10 + (unsigned long)(p[i] - '0');
  }
  *out = v;
  return 0;
}

int rd_remote_parse_batch(const char *out, size_t len, size_t n, rd_remote_answer *ans, char *err,
                          size_t errlen) {
  size_t i = 0, line = 0;
  int rc;
  if (err && errlen)
    *err = 0;
  for (size_t k = 0; k < n; k++) {
    memset(&ans[k], 0, sizeof ans[k]);
    ans[k].exit_status = RD_BATCH_NO_ANSWER;
  }
  if (len >= 7 && !memcmp(out, "rd_raw ", 7)) {
    rc = parse_raw(out, len, n, ans, err, errlen);
    if (rc)
      goto fail;
    return 0;
  }
  while (i < len) {
    const char *l = out + i, *nl = memchr(l, '\n', len - i);
    const char *f[4] = {0};
    size_t fl[4] = {0}, end, k = 0;
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
    unsigned long idx, ex;
    if (field_number(f[0], fl[0], &idx) || field_number(f[1], fl[1], &ex) || idx >= n ||
        ans[idx].exit_status != RD_BATCH_NO_ANSWER || ex > 255) {
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
  rc = RD_EPROTO;
fail:
  rd_remote_answers_free(ans, n);
  for (size_t k = 0; k < n; k++)
    ans[k].exit_status = RD_BATCH_NO_ANSWER;
  return rc;
}
