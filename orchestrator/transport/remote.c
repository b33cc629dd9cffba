/* remote.c — constant scripts + parameters as data (see remote.h): the
 * shared helpers, a Windows script alone, the API and the parsers of a
 * script's results. The POSIX builders are in remote_posix.c, the framed
 * answers of a batch in remote_answer.c, the Windows batch and session
 * loaders in remote_win.c.
 *
 * Only our own constant text is ever quoted: the POSIX prelude and the
 * script, wrapped in single quotes for `sh -c`, and the same text encoded as
 * UTF-16LE base64 for PowerShell. Parameter values never appear in any
 * command line or in any text that a shell or PowerShell parses; they arrive
 * on stdin as data and are read into files (POSIX) or a JSON object
 * (Windows) by the constant prelude.
 */
#include "transport/remote.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/remote_int.h"
#include "transport/remote_ps.h"

/* The PowerShell prelude (Windows PowerShell 5.1 and later). Reads all of
 * stdin (base64 of the JSON parameters) into $P. rd_out prints the one JSON
 * document a script returns; rd_fail writes to stderr and exits 3. An
 * uploaded copy (-File) deletes itself when it ends. */
static const char PS_PRELUDE_HEAD[] =
    PS_PREFS
    PS_FUNCS
    "try {\n"
    "  " PS_UTF8_OUT
    "  $RdIn = [Console]::In.ReadToEnd().Trim()\n"
    "  if ($RdIn.Length -gt 0) {\n"
    "    $P = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($RdIn)) | "
    "ConvertFrom-Json\n"
    "  } else {\n"
    "    $P = New-Object PSObject\n"
    "  }\n"
    "  Remove-Variable RdIn\n"
    "  # ---- script ----\n";
static const char PS_PRELUDE_TAIL[] =
    "\n  # ---- end of script ----\n"
    "} catch {\n"
    "  " PS_CAUGHT("$_")
    "  exit 3\n"
    "} finally {\n"
    "  if ($PSCommandPath -and ((Split-Path -Leaf $PSCommandPath) -like 'renewd-*.ps1')) {\n"
    "    Remove-Item -LiteralPath $PSCommandPath -Force -ErrorAction SilentlyContinue\n"
    "  }\n"
    "}\n";

#define PS_CMD "powershell.exe -NoProfile -NonInteractive -EncodedCommand "
#define PS_FILE_CMD "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "
#define PS_UPLOAD_DIR "C:\\Windows\\Temp\\"


/* ------------------------------------------------------------------ helpers */

void rd_sb_add(sbuf *b, const void *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + n + 1)
      nc *= 2;
    char *q = realloc(b->p, nc);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = nc;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

void rd_sb_str(sbuf *b, const char *s) { rd_sb_add(b, s, strlen(s)); }

int rd_remote_name_ok(const char *s, size_t n) {
  if (!n || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
    return 0;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

/* Script names end up in the command line ($0) and a file name. */
void rd_remote_safe_name(const char *in, char *out, size_t n) {
  size_t j = 0;
  for (const char *p = in ? in : "script"; *p && j + 1 < n; p++)
    out[j++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '.' || *p == '_' || *p == '-')
                   ? *p
                   : '_';
  out[j] = 0;
  if (!j)
    snprintf(out, n, "script");
}

void rd_remote_cmd_free(rd_remote_cmd *c) {
  if (!c)
    return;
  free(c->command);
  free(c->stdin_data);
  free(c->upload_path);
  free(c->upload_data);
  memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------ Windows */

/* UTF-8 -> UTF-16LE. */
static int utf16le(const char *s, size_t n, unsigned char **out, size_t *outlen) {
  unsigned char *o = malloc(n * 2 + 4);
  size_t j = 0;
  if (!o)
    return RD_ENOMEM;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    uint32_t cp;
    size_t k;
    if (c < 0x80) {
      cp = c;
      k = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      k = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      k = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      k = 4;
    } else {
      free(o);
      return RD_EINVAL;
    }
    if (i + k > n) {
      free(o);
      return RD_EINVAL;
    }
    for (size_t t = 1; t < k; t++) {
      unsigned char d = (unsigned char)s[i + t];
      if ((d & 0xC0) != 0x80) {
        free(o);
        return RD_EINVAL;
      }
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      free(o);
      return RD_EINVAL;
    }
    i += k;
    if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      uint16_t hi = (uint16_t)(0xD800 | (v >> 10)), lo = (uint16_t)(0xDC00 | (v & 0x3FF));
      o[j++] = (unsigned char)(hi & 0xFF);
      o[j++] = (unsigned char)(hi >> 8);
      o[j++] = (unsigned char)(lo & 0xFF);
      o[j++] = (unsigned char)(lo >> 8);
    } else {
      o[j++] = (unsigned char)(cp & 0xFF);
      o[j++] = (unsigned char)(cp >> 8);
    }
  }
  *out = o;
  *outlen = j;
  return 0;
}

size_t rd_remote_ps_script_line(void) {
  size_t n = 0;
  for (const char *p = PS_PRELUDE_HEAD; *p; p++)
    n += *p == '\n';
  return n;
}

int rd_remote_ps_command(const char *name, const char *text, size_t len, rd_remote_cmd *out,
                         char *err, size_t errlen) {
  sbuf cmd = {0};
  char *b64 = NULL;
  unsigned char *u16 = NULL;
  size_t u16len = 0, b64len = 0;
  int rc = RD_ENOMEM;
  if ((rc = utf16le(text, len, &u16, &u16len))) {
    if (rc == RD_EINVAL)
      rd_fmt(err, errlen, "script %s: the script text is not valid UTF-8", name);
    else
      rd_fmt(err, errlen, "script %s: out of memory", name);
    goto out;
  }
  if (!(b64 = rd_base64_encode(u16, u16len, &b64len)))
    goto oom;
  if (strlen(PS_CMD) + b64len <= RD_WIN_CMDLINE_MAX) {
    rd_sb_str(&cmd, PS_CMD);
    rd_sb_add(&cmd, b64, b64len);
    if (cmd.oom)
      goto oom;
  } else {
    unsigned char r[8];
    char path[256];
    if (RAND_bytes(r, sizeof r) != 1) {
      rd_fmt(err, errlen, "script %s: no random bytes for the upload name", name);
      rc = RD_ECRYPTO;
      goto out;
    }
    snprintf(path, sizeof path, PS_UPLOAD_DIR "renewd-%.64s-%02x%02x%02x%02x%02x%02x%02x%02x.ps1",
             name, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    rd_sb_str(&cmd, PS_FILE_CMD);
    rd_sb_str(&cmd, path);
    if (cmd.oom || !(out->upload_path = strdup(path)) || !(out->upload_data = malloc(len + 3)))
      goto oom;
    memcpy(out->upload_data, "\xEF\xBB\xBF", 3); /* UTF-8 BOM: PowerShell 5.1 needs it */
    memcpy(out->upload_data + 3, text, len);
    out->upload_len = len + 3;
  }
  out->command = cmd.p;
  cmd.p = NULL;
  rc = 0;
  goto out;
oom:
  rd_fmt(err, errlen, "script %s: out of memory", name);
  rc = RD_ENOMEM;
out:
  free(cmd.p);
  free(b64);
  free(u16);
  return rc;
}

char *rd_remote_ps_params(const json_t *params) {
  return params ? json_dumps(params, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)
                : strdup("{}");
}

int rd_remote_ps_stdin(const char *json, rd_remote_cmd *out) {
  size_t n = 0;
  char *b = rd_base64_encode(json, strlen(json), &n);
  if (!b || !(out->stdin_data = malloc(n + 1))) {
    free(b);
    return RD_ENOMEM;
  }
  memcpy(out->stdin_data, b, n);
  out->stdin_data[n] = '\n';
  out->stdin_len = n + 1;
  free(b);
  return 0;
}

int rd_remote_batch_start(const rd_remote_part *parts, size_t n, rd_remote_cmd *out, char *err,
                          size_t errlen) {
  if (err && errlen)
    *err = 0;
  if (!parts || !n || !out) {
    rd_fmt(err, errlen, "remote: an empty batch");
    return RD_EINVAL;
  }
  memset(out, 0, sizeof *out);
  return 0;
}

static int build_windows(const rd_script *s, const json_t *params, rd_remote_cmd *out, char *err,
                         size_t errlen) {
  sbuf text = {0};
  char name[128];
  char *json = NULL;
  int rc = RD_ENOMEM;
  rd_remote_safe_name(s->name, name, sizeof name);
  if (!(json = rd_remote_ps_params(params))) {
    rd_fmt(err, errlen, "script %s: parameters cannot be encoded as JSON (strings must be UTF-8)",
           name);
    rc = RD_EINVAL;
    goto out;
  }
  rd_sb_str(&text, PS_PRELUDE_HEAD);
  rd_sb_str(&text, s->text);
  rd_sb_str(&text, PS_PRELUDE_TAIL);
  if (text.oom)
    goto oom;
  if (!(rc = rd_remote_ps_command(name, text.p, text.len, out, err, errlen)) &&
      (rc = rd_remote_ps_stdin(json, out)))
    goto oom;
  goto out;
oom:
  rd_fmt(err, errlen, "script %s: out of memory", name);
  rc = RD_ENOMEM;
out:
  free(text.p);
  free(json);
  return rc;
}

/* ------------------------------------------------------------------ API */

int rd_remote_build(const rd_script *s, const json_t *params, int use_sudo, rd_remote_cmd *out,
                    char *err, size_t errlen) {
  int rc;
  if (err && errlen)
    *err = 0;
  if (!s || !s->text || !out) {
    rd_fmt(err, errlen, "remote: no script");
    return RD_EINVAL;
  }
  memset(out, 0, sizeof *out);
  if (params && !json_is_object(params)) {
    rd_fmt(err, errlen, "script %s: parameters must be a JSON object", s->name ? s->name : "?");
    return RD_EINVAL;
  }
  if (s->platform == RD_PLATFORM_WINDOWS)
    rc = build_windows(s, params, out, err, errlen);
  else
    rc = rd_remote_build_posix(s, params, use_sudo, out, err, errlen);
  if (rc)
    rd_remote_cmd_free(out);
  return rc;
}

/* A JSON string holding exactly these bytes (not necessarily UTF-8). */
static json_t *bytes_string(const unsigned char *p, size_t n) {
  json_t *v = json_stringn((const char *)p, n);
  return v ? v : json_stringn_nocheck((const char *)p, n);
}

int rd_remote_parse_posix(const char *out, size_t len, json_t **obj, char *err, size_t errlen) {
  json_t *o = json_object();
  size_t i = 0, line = 0;
  if (err && errlen)
    *err = 0;
  if (!o)
    return RD_ENOMEM;
  while (i < len) {
    const char *nl = memchr(out + i, '\n', len - i);
    const char *sp;
    size_t end, nlen;
    unsigned char *val = NULL;
    size_t vlen = 0;
    char name[80];
    line++;
    if (!nl) {
      rd_fmt(err, errlen, "output line %zu is incomplete (no newline): the output was cut off", line);
      goto bad;
    }
    end = (size_t)(nl - out);
    sp = memchr(out + i, ' ', end - i);
    nlen = sp ? (size_t)(sp - (out + i)) : 0;
    /* "NAME:b64 BASE64" (rd_out_b64): binary, the value stays base64;
     * "NAME:t TEXT" (rd_out of printable text): the value as it is */
    int raw = nlen > 4 && !memcmp(out + i + nlen - 4, ":b64", 4);
    int text = !raw && nlen > 2 && !memcmp(out + i + nlen - 2, ":t", 2);
    if (raw)
      nlen -= 4;
    if (text)
      nlen -= 2;
    if (!sp || !rd_remote_name_ok(out + i, nlen)) {
      rd_fmt(err, errlen, "output line %zu is not \"NAME BASE64\" (stray output on stdout?)", line);
      goto bad;
    }
    memcpy(name, out + i, nlen);
    name[nlen] = 0;
    if (json_object_get(o, name)) {
      rd_fmt(err, errlen, "output line %zu: '%s' was already reported", line, name);
      goto bad;
    }
    size_t b0 = (size_t)(sp - out) + 1, bl = end - b0;
    if (text) {
      json_t *t = bytes_string((const unsigned char *)out + b0, bl);
      if (!t || json_object_set_new(o, name, t)) {
        json_decref(o);
        return RD_ENOMEM;
      }
      i = end + 1;
      continue;
    }
    if (raw) {
      if (bl % 4 || strspn(out + b0, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") < bl) {
        rd_fmt(err, errlen, "output line %zu: the value of '%s' is not valid base64", line, name);
        goto bad;
      }
      if (json_object_set_new(o, name, json_stringn(out + b0, bl))) {
        json_decref(o);
        return RD_ENOMEM;
      }
      i = end + 1;
      continue;
    }
    if (bl && rd_base64_decode(out + b0, bl, &val, &vlen)) {
      rd_fmt(err, errlen, "output line %zu: the value of '%s' is not valid base64", line, name);
      goto bad;
    }
    json_t *s = bytes_string(val ? val : (const unsigned char *)"", vlen);
    free(val);
    if (!s || json_object_set_new(o, name, s)) {
      json_decref(o);
      return RD_ENOMEM;
    }
    i = end + 1;
  }
  *obj = o;
  return 0;
bad:
  json_decref(o);
  return RD_EPROTO;
}

int rd_remote_parse_windows(const char *out, size_t len, json_t **obj, char *err, size_t errlen) {
  json_error_t je;
  json_t *v;
  if (err && errlen)
    *err = 0;
  if (len >= 3 && !memcmp(out, "\xEF\xBB\xBF", 3)) {
    out += 3;
    len -= 3;
  }
  while (len && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' ' ||
                 out[len - 1] == '\t'))
    len--;
  while (len && (*out == '\n' || *out == '\r' || *out == ' ' || *out == '\t')) {
    out++;
    len--;
  }
  if (!len) {
    rd_fmt(err, errlen, "the script printed nothing (expected one JSON document)");
    return RD_EPROTO;
  }
  if (!(v = json_loadb(out, len, JSON_DECODE_ANY, &je))) {
    rd_fmt(err, errlen, "the script's output is not one JSON document: %s at line %d column %d",
           je.text, je.line, je.column);
    return RD_EPROTO;
  }
  *obj = v;
  return 0;
}

