/* fuzz_remote.c — the parsers of what a target's script printed
 * (transport/remote.h): the first byte picks rd_remote_parse_posix (even)
 * or rd_remote_parse_windows (odd), or with its high bit set
 * rd_remote_parse_batch for (its low 3 bits + 1) scripts; the rest is the
 * output. Success must
 * give a JSON value (an object for POSIX); a failure must say why and leave
 * no value. */
#include <jansson.h>
#include <string.h>
#include "transport/remote.h"
#include "fuzz_util.h"

/* A batch's or a session request's answer (rd_remote_parse_batch: the
 * framed records of transport/remote_posix.c, or Windows' rd_batch lines)
 * for n scripts: every answer is either missing or NUL-terminated with its
 * lengths; a refusal says why and leaves every answer missing. */
static void batch(const char *out, size_t len, size_t n) {
  rd_remote_answer ans[8];
  char err[256] = "";
  memset(ans, 0, sizeof ans);
  int rc = rd_remote_parse_batch(out, len, n, ans, err, sizeof err);
  for (size_t i = 0; i < n; i++) {
    if (rc != 0 && ans[i].exit_status != RD_BATCH_NO_ANSWER)
      abort();
    if ((ans[i].out && ans[i].out[ans[i].out_len]) || (ans[i].err && ans[i].err[ans[i].err_len]))
      abort();
  }
  if (rc != 0 && (!err[0] || !memchr(err, '\0', sizeof err)))
    abort();
  rd_remote_answers_free(ans, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *obj = NULL;
  char err[256] = "";
  if (size < 1)
    return 0;
  const char *out = (const char *)data + 1;
  if (data[0] & 0x80) { /* the batch parser, for 1 to 8 scripts */
    batch(out, size - 1, (size_t)(data[0] & 7) + 1);
    return 0;
  }
  int rc = data[0] & 1 ? rd_remote_parse_windows(out, size - 1, &obj, err, sizeof err)
                       : rd_remote_parse_posix(out, size - 1, &obj, err, sizeof err);
  if (rc == 0 && (!obj || (!(data[0] & 1) && !json_is_object(obj))))
    abort();
  if (rc != 0 && (obj || !err[0] || !memchr(err, '\0', sizeof err)))
    abort();
  json_decref(obj);
  return 0;
}
