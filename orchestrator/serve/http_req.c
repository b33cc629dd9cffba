/* http_req.c — request-head parser of the status listener (RFC 9112 §3,
 * the subset a metrics endpoint needs, strict about everything else). */
#include "serve/http_req.h"

#include <string.h>

/* tchar of RFC 9110 §5.6.2 */
static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the line starting at p (the '\n'), or NULL; *eol_len gets the
 * length of the terminator (1 or 2). A CR not followed by LF is an error
 * (-1 in *eol_len). */
static const char *line_end(const char *p, const char *end, size_t *eol_len) {
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *cr = memchr(p, '\r', (size_t)((nl ? nl : end) - p));
  *eol_len = 0;
  if (cr && (cr + 1 < end || nl) && cr + 1 != nl) {
    *eol_len = (size_t)-1;
    return NULL;
  }
  if (!nl)
    return NULL;
  *eol_len = nl > p && nl[-1] == '\r' ? 2 : 1;
  return nl;
}

static int parse_target(const char *t, size_t n, rd_http_req *req) {
  if (n >= 7 && !strncmp(t, "http://", 7)) { /* absolute-form: drop scheme and authority */
    const char *slash = memchr(t + 7, '/', n - 7);
    if (!slash)
      return 400;
    n -= (size_t)(slash - t);
    t = slash;
  }
  if (!n || t[0] != '/')
    return 400;
  size_t k = 0;
  for (; k < n && t[k] != '?' && t[k] != '#'; k++)
    if ((unsigned char)t[k] <= 0x20 || (unsigned char)t[k] >= 0x7f)
      return 400;
  for (size_t i = k; i < n; i++) /* the query must be printable too */
    if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
      return 400;
  memcpy(req->path, t, k);
  req->path[k] = 0;
  return 200;
}

static int parse_request_line(const char *p, size_t n, rd_http_req *req) {
  const char *sp1 = memchr(p, ' ', n), *sp2, *v;
  size_t ml, tl, vl;
  if (!sp1 || sp1 == p)
    return 400;
  ml = (size_t)(sp1 - p);
  for (size_t i = 0; i < ml; i++)
    if (!is_tchar((unsigned char)p[i]))
      return 400;
  sp2 = memchr(sp1 + 1, ' ', n - ml - 1);
  if (!sp2 || sp2 == sp1 + 1)
    return 400;
  tl = (size_t)(sp2 - sp1 - 1);
  v = sp2 + 1;
  vl = n - (size_t)(v - p);
  if (vl != 8 || strncmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
      v[7] < '0' || v[7] > '9')
    return 400;
  if (v[5] != '1')
    return 505;
  if (ml >= sizeof req->method)
    return 501;
  memcpy(req->method, p, ml);
  req->method[ml] = 0;
  req->minor = v[7] - '0';
  return parse_target(sp1 + 1, tl, req);
}

static int check_header_line(const char *p, size_t n) {
  const char *colon = memchr(p, ':', n);
  if (!colon || colon == p)
    return 400; /* also obs-fold: a line starting with a space has no name */
  for (const char *q = p; q < colon; q++)
    if (!is_tchar((unsigned char)*q))
      return 400;
  for (const char *q = colon + 1; q < p + n; q++)
    if ((unsigned char)*q < 0x20 && *q != '\t')
      return 400;
  return 200;
}

int rd_http_req_parse(const char *buf, size_t len, rd_http_req *req) {
  const char *p = buf, *end = buf + len, *nl;
  size_t eol;
  int rc;
  memset(req, 0, sizeof *req);
  if (memchr(buf, 0, len))
    return 400;
  if (!(nl = line_end(p, end, &eol))) {
    if (eol == (size_t)-1)
      return 400;
    return len > RD_HTTP_MAX_LINE ? 414 : 0;
  }
  if ((size_t)(nl + 1 - p) - eol > RD_HTTP_MAX_LINE)
    return 414;
  if ((rc = parse_request_line(p, (size_t)(nl + 1 - p) - eol, req)) != 200)
    return rc;
  for (p = nl + 1;;) {
    if (!(nl = line_end(p, end, &eol))) {
      if (eol == (size_t)-1)
        return 400;
      return len > RD_HTTP_MAX_HEAD ? 431 : 0;
    }
    if ((size_t)(nl + 1 - buf) > RD_HTTP_MAX_HEAD)
      return 431;
    size_t n = (size_t)(nl + 1 - p) - eol;
    if (n == 0) {
      req->head_len = (size_t)(nl + 1 - buf);
      return 200;
    }
    if ((rc = check_header_line(p, n)) != 200)
      return rc;
    p = nl + 1;
  }
}

const char *rd_http_reason(int code) {
  switch (code) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}
