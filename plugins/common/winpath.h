/* winpath.h — what the plugins that write on Windows targets (windows,
 * acme) accept as a path there: "C:\dir\sub", absolute, without "..",
 * quotes, wildcards, '/' or control characters. */
#ifndef RENEWD_COMMON_WINPATH_H
#define RENEWD_COMMON_WINPATH_H
#include <ctype.h>
#include <string.h>

static inline int rd_win_abs_path(const char *p) {
  if (!p || !isalpha((unsigned char)p[0]) || p[1] != ':' || p[2] != '\\' || strstr(p, ".."))
    return 0;
  for (; *p; p++)
    if ((unsigned char)*p < 0x20 || strchr("\"*?<>|/", *p))
      return 0;
  return 1;
}

#endif
