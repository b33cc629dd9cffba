/* http_req.h — the request head of the status listener: request line
 * (method, target, version) and header lines, with hard bounds. Pure: no
 * I/O, so every rule is tested on byte strings. */
#ifndef RENEWD_SERVE_HTTP_REQ_H
#define RENEWD_SERVE_HTTP_REQ_H
#include <stddef.h>

enum {
  RD_HTTP_MAX_LINE = 1024, /* request line; longer is 414 */
  RD_HTTP_MAX_HEAD = 8192  /* request line and headers; longer is 431 */
};

typedef struct rd_http_req {
  char method[16];
  char path[RD_HTTP_MAX_LINE]; /* the target's path: query and fragment cut off */
  int minor;                   /* HTTP/1.minor */
  size_t head_len;             /* bytes of the head, blank line included */
} rd_http_req;

/* Parses the head at the start of buf[0, len). Returns
 *   0    incomplete: read more (len is still within the bounds)
 *   200  a complete, well-formed head; req is filled
 *   400  malformed request line or header line (also: NUL bytes, bare CR,
 *        a target that is not origin-form "/..." nor absolute "http://h/...")
 *   414  the request line is longer than RD_HTTP_MAX_LINE
 *   431  the head is longer than RD_HTTP_MAX_HEAD
 *   501  a method name longer than the longest this server knows (15)
 *   505  a version other than HTTP/1.x
 * Line ends are CRLF or a bare LF. A body, if any, is not looked at. */
int rd_http_req_parse(const char *buf, size_t len, rd_http_req *req);

/* The reason phrase of a status code ("Not Found"); "Error" if unknown. */
const char *rd_http_reason(int code);

#endif
