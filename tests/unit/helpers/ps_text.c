/* ps_text.c — see ps_text.h. */
#include "ps_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "transport/remote.h"

#define PS_CMD "powershell.exe -NoProfile -NonInteractive -EncodedCommand "

char *ps_text_of(const rd_script *sc, const json_t *params, char *err, size_t errlen) {
  rd_remote_cmd c;
  unsigned char *u16 = NULL;
  size_t n = 0;
  char *t = NULL;
  if (rd_remote_build(sc, params, 0, &c, err, errlen))
    return NULL;
  if (c.upload_path && c.upload_len > 3) { /* after the BOM */
    t = strndup(c.upload_data + 3, c.upload_len - 3);
  } else if (!c.upload_path && !strncmp(c.command, PS_CMD, strlen(PS_CMD)) &&
             !rd_base64_decode_str(c.command + strlen(PS_CMD), &u16, &n) && n % 2 == 0 &&
             (t = malloc(n / 2 + 1))) {
    for (size_t k = 0; k < n / 2; k++) {
      if (u16[2 * k + 1]) {
        snprintf(err, errlen, "%s: non-ASCII text", sc->name);
        free(t);
        t = NULL;
        break;
      }
      t[k] = (char)u16[2 * k];
    }
    if (t)
      t[n / 2] = 0;
  } else {
    snprintf(err, errlen, "%s: not a PowerShell command", sc->name);
  }
  free(u16);
  rd_remote_cmd_free(&c);
  return t;
}

int ps_text_write(const char *dir, const rd_script *sc, const json_t *params, char *err,
                  size_t errlen) {
  char path[1200];
  char *t = ps_text_of(sc, params, err, errlen);
  FILE *f;
  int ok;
  if (!t)
    return -1;
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/%s.ps1", dir, sc->name);
  ok = (f = fopen(path, "wb")) && fwrite(t, 1, strlen(t), f) == strlen(t);
  if (f && fclose(f))
    ok = 0;
  if (!ok)
    snprintf(err, errlen, "%s: cannot write", path);
  free(t);
  return ok ? 0 : -1;
}
