/* fuzz_http_req.c — the status listener's request-head parser
 * (serve/http_req.h) on any bytes. Checks its promises: one of the listed
 * codes; for 200 a head within the input and within RD_HTTP_MAX_HEAD, a
 * method and an origin-form path, both terminated. */
#include "serve/http_req.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rd_http_req req;
  memset(&req, 0xa5, sizeof req); /* the parser must not rely on zeroes */
  int rc = rd_http_req_parse((const char *)data, size, &req);
  switch (rc) {
  case 0: case 400: case 414: case 431: case 501: case 505:
    break;
  case 200:
    if (req.head_len == 0 || req.head_len > size || req.head_len > RD_HTTP_MAX_HEAD)
      abort();
    if (!memchr(req.method, '\0', sizeof req.method) || !req.method[0])
      abort();
    if (!memchr(req.path, '\0', sizeof req.path) || req.path[0] != '/')
      abort();
    break;
  default:
    abort();
  }
  if (rd_http_reason(rc == 0 ? 200 : rc) == NULL)
    abort();
  return 0;
}
