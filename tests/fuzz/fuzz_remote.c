/* fuzz_remote.c — the parsers of what a target's script printed
 * (transport/remote.h): the first byte picks rd_remote_parse_posix (even)
 * or rd_remote_parse_windows (odd), the rest is the output. Success must
 * give a JSON value (an object for POSIX); a failure must say why and leave
 * no value. */
#include <jansson.h>
#include "transport/remote.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *obj = NULL;
  char err[256] = "";
  if (size < 1)
    return 0;
  const char *out = (const char *)data + 1;
  int rc = data[0] & 1 ? rd_remote_parse_windows(out, size - 1, &obj, err, sizeof err)
                       : rd_remote_parse_posix(out, size - 1, &obj, err, sizeof err);
  if (rc == 0 && (!obj || (!(data[0] & 1) && !json_is_object(obj))))
    abort();
  if (rc != 0 && (obj || !err[0] || !memchr(err, '\0', sizeof err)))
    abort();
  json_decref(obj);
  return 0;
}
