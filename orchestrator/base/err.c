/* err.c — one list (RD_ERRNO_MAP) gives codes, names and messages. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *rd_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define RD_ERR_MSG(name, val, msg)                                             \
  case RD_##name:                                                              \
    return msg;
    RD_ERRNO_MAP(RD_ERR_MSG)
#undef RD_ERR_MSG
  default:
    return "unknown error";
  }
}

const char *rd_errname(int err) {
  switch (err) {
  case 0:
    return "RD_OK";
#define RD_ERR_NAME(name, val, msg)                                            \
  case RD_##name:                                                              \
    return "RD_" #name;
    RD_ERRNO_MAP(RD_ERR_NAME)
#undef RD_ERR_NAME
  default:
    return "RD_E?";
  }
}

char *rd_fmt(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  if (!buf || len == 0)
    return buf;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  return buf;
}
