/* path.c — see path.h. */
#include "base/path.h"

#include <string.h>

static int drive_letter(const char *p) {
  return ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':';
}

int rd_path_is_windows(const char *p) {
  if (!p)
    return 0;
  return drive_letter(p) || (p[0] == '\\' && p[1] == '\\');
}

size_t rd_path_dir_len(const char *p) {
  const char *sep = NULL;
  if (!p)
    return 0;
  if (rd_path_is_windows(p)) {
    for (const char *q = p; *q; q++)
      if (*q == '/' || *q == '\\')
        sep = q;
    if (!sep)
      return drive_letter(p) ? 2 : 0;
  } else {
    sep = strrchr(p, '/');
  }
  return sep ? (size_t)(sep - p) + 1 : 0;
}
