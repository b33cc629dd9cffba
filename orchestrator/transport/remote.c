/* remote.c — constant scripts + parameters as data (see remote.h).
 *
 * Only our own constant text is ever quoted: the POSIX prelude and the
 * script, wrapped in single quotes for `sh -c`, and the same text encoded as
 * UTF-16LE base64 for PowerShell. Parameter values never appear in any
 * command line or in any text that a shell or PowerShell parses; they arrive
 * on stdin as base64 and are decoded into files (POSIX) or a JSON object
 * (Windows) by the constant prelude.
 */
#include "transport/remote.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/remote_ps.h"

/* The POSIX prelude. Reads "NAME BASE64" lines from stdin until EOF; each
 * value is decoded by base64 -d into "$RD_P/NAME" (byte-exact) and then read
 * into P_NAME by command substitution. The only text eval sees is
 * `P_NAME=$(cat "$RD_P/NAME")` with a NAME checked against [a-z_][a-z0-9_]*
 * here as well as in the orchestrator: values are never parsed as code.
 * The script's stdout goes to stderr (fd 1 -> 2) so that stray output of the
 * commands it runs cannot corrupt the result; rd_out / rd_out_file write the
 * "NAME BASE64" result lines to the saved stdout (fd 3). */
/* The shell functions every POSIX script sees: rd_fail, rd_name_ok, and the
 * result writers rd_out / rd_out_file / rd_out_b64 (to fd 3). */
#define POSIX_FUNCS_FAIL                                                                  \
  "rd_fail() { printf '%s\\n' \"$*\" >&2; exit 3; }\n"                                   \
  "rd_name_ok() { case $1 in ''|[!a-z_]*|*[!a-z0-9_]*) return 1 ;; esac; return 0; }\n"
#define POSIX_FUNCS_OUT                                                                   \
  "rd_out() {\n"                                                                          \
  "  rd_name_ok \"$1\" || rd_fail \"renewd: bad output name: $1\"\n"                       \
  "  case $2 in\n"                                                                        \
  "  ''|' '*|*' '|*[![:print:]]*)\n"                                                      \
  "    rd_b=$(printf '%s' \"$2\" | base64 -w0) || rd_fail \"renewd: cannot encode $1\"\n"   \
  "    printf '%s %s\\n' \"$1\" \"$rd_b\" >&3 ;;\n"                                          \
  "  *) printf '%s:t %s\\n' \"$1\" \"$2\" >&3 ;;\n"                                          \
  "  esac\n"                                                                              \
  "}\n"                                                                                   \
  "rd_out_file() {\n"                                                                     \
  "  rd_name_ok \"$1\" || rd_fail \"renewd: bad output name: $1\"\n"                       \
  "  rd_b=$(base64 -w0 <\"$2\") || rd_fail \"renewd: cannot read $2\"\n"                   \
  "  printf '%s %s\\n' \"$1\" \"$rd_b\" >&3\n"                                             \
  "}\n"                                                                                   \
  "rd_out_b64() {\n"                                                                      \
  "  rd_name_ok \"$1\" || rd_fail \"renewd: bad output name: $1\"\n"                       \
  "  rd_b=$(base64 -w0 <\"$2\") || rd_fail \"renewd: cannot read $2\"\n"                   \
  "  printf '%s:b64 %s\\n' \"$1\" \"$rd_b\" >&3\n"                                         \
  "}\n"

static const char POSIX_PRELUDE[] =
    "RD_P=$(mktemp -d) || { echo 'renewd: mktemp -d failed' >&2; exit 3; }\n"
    "trap 'rm -rf \"$RD_P\"' EXIT\n"
    "trap 'exit 129' HUP\n"
    "trap 'exit 130' INT\n"
    "trap 'exit 143' TERM\n"
    POSIX_FUNCS_FAIL
    "while IFS=' ' read -r rd_n rd_v || [ -n \"$rd_n\" ]; do\n"
    "  rd_t=${rd_n%:t}\n"
    "  rd_name_ok \"$rd_t\" || rd_fail 'renewd: bad parameter name on stdin'\n"
    "  if [ \"$rd_t\" != \"$rd_n\" ]; then\n"
    "    printf '%s' \"$rd_v\" >\"$RD_P/$rd_t\" || rd_fail \"renewd: cannot store parameter $rd_t\"\n"
    "    eval \"P_$rd_t=\\$rd_v\"\n"
    "    continue\n"
    "  fi\n"
    "  printf '%s' \"$rd_v\" | base64 -d >\"$RD_P/$rd_n\" ||"
    " rd_fail \"renewd: cannot decode parameter $rd_n\"\n"
    "  eval \"P_$rd_n=\\$(cat \\\"\\$RD_P/$rd_n\\\")\"\n"
    "done\n"
    "unset rd_n rd_v rd_t\n"
    "exec 3>&1 1>&2\n"
    POSIX_FUNCS_OUT;

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

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_add(sbuf *b, const void *s, size_t n) {
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

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static int name_ok(const char *s, size_t n) {
  if (!n || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
    return 0;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

/* Script names end up in the command line ($0) and a file name. */
static void safe_name(const char *in, char *out, size_t n) {
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

/* ------------------------------------------------------------------ POSIX */

/* A parameter's bytes: strings as they are (may hold any byte), numbers and
 * booleans in their JSON spelling. */
static int value_bytes(const json_t *v, char *tmp, size_t tmplen, const char **p, size_t *n) {
  switch (json_typeof(v)) {
  case JSON_STRING:
    *p = json_string_value(v);
    *n = json_string_length(v);
    return 0;
  case JSON_INTEGER:
    snprintf(tmp, tmplen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    break;
  case JSON_REAL:
    snprintf(tmp, tmplen, "%.17g", json_real_value(v));
    break;
  case JSON_TRUE:
    snprintf(tmp, tmplen, "true");
    break;
  case JSON_FALSE:
    snprintf(tmp, tmplen, "false");
    break;
  default:
    return RD_EINVAL;
  }
  *p = tmp;
  *n = strlen(tmp);
  return 0;
}

/* A value that travels as it is: printable ASCII on one line, not empty,
 * no space at either end (read strips those), not too long. */
static int plain_text(const char *p, size_t n) {
  if (!n || n > 4096 || p[0] == ' ' || p[n - 1] == ' ')
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
      return 0;
  return 1;
}

/* Parameters as stdin lines: "<prefix>NAME BASE64\n", or for plain text
 * "<raw_prefix>NAME VALUE\n" (a batch) / "NAME:t VALUE\n" (alone). */
static int encode_params(const char *name, const json_t *params, const char *prefix,
                         const char *raw_prefix, sbuf *in, char *err, size_t errlen) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)params, key, v) {
    char tmp[64];
    const char *p;
    size_t n, bl;
    if (!name_ok(key, strlen(key))) {
      rd_fmt(err, errlen, "script %s: parameter name '%s' is not valid (expected [a-z_][a-z0-9_]*, "
             "at most 64 characters)", name, key);
      return RD_EINVAL;
    }
    if (value_bytes(v, tmp, sizeof tmp, &p, &n)) {
      rd_fmt(err, errlen, "script %s: parameter '%s' must be a string, number or boolean", name,
             key);
      return RD_EINVAL;
    }
    if (plain_text(p, n)) { /* as it is: no decoding process on the target */
      sb_str(in, raw_prefix);
      sb_str(in, key);
      sb_str(in, raw_prefix[0] ? " " : ":t ");
      sb_add(in, p, n);
      sb_add(in, "\n", 1);
      continue;
    }
    char *b = rd_base64_encode(p, n, &bl);
    if (!b)
      return RD_ENOMEM;
    sb_str(in, prefix);
    sb_str(in, key);
    sb_add(in, " ", 1);
    sb_add(in, b, bl);
    sb_add(in, "\n", 1);
    free(b);
  }
  return in->oom ? RD_ENOMEM : 0;
}

/* "exec [sudo -n] /bin/sh -c '<text>' renewd-<name>": only our constant
 * text is quoted. */
static void sh_command(sbuf *cmd, const char *text, size_t len, int sudo, const char *name) {
  sb_str(cmd, sudo ? "exec sudo -n /bin/sh -c '" : "exec /bin/sh -c '");
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '\'')
      sb_str(cmd, "'\\''");
    else
      sb_add(cmd, &text[i], 1);
  }
  sb_str(cmd, "' renewd-");
  sb_str(cmd, name);
}

/* out: the command running text under sh (and sudo), stdin taken from in
 * (in->p is then NULL). RD_ENOMEM when any buffer ran out. */
static int sh_finish(rd_remote_cmd *out, sbuf *text, sbuf *in, int sudo, const char *name) {
  sbuf cmd = {0};
  sh_command(&cmd, text->p ? text->p : "", text->len, sudo, name);
  if (text->oom || cmd.oom || in->oom) {
    free(cmd.p);
    return RD_ENOMEM;
  }
  out->command = cmd.p;
  out->stdin_data = (unsigned char *)in->p;
  out->stdin_len = in->len;
  in->p = NULL;
  return 0;
}

static int build_posix(const rd_script *s, const json_t *params, int use_sudo, rd_remote_cmd *out,
                       char *err, size_t errlen) {
  sbuf text = {0}, in = {0};
  char name[128];
  int rc;
  safe_name(s->name, name, sizeof name);
  if (params && (rc = encode_params(name, params, "", "", &in, err, errlen)))
    goto out;
  sb_str(&text, POSIX_PRELUDE);
  sb_str(&text, s->text);
  sb_str(&text, "\n");
  rc = sh_finish(out, &text, &in, use_sudo && s->sudo, name);
out:
  if (rc == RD_ENOMEM)
    rd_fmt(err, errlen, "script %s: out of memory", name);
  free(text.p);
  free(in.p);
  return rc;
}

/* ------------------------------------------------------------------ batches */

/* The loader of a batch: several constant scripts run one after the other
 * in one shell, each in a subshell of its own (its exit, rd_fail and
 * variables stay there) with its own parameters and its own result and
 * stderr files. stdin carries data only: "S I HASH BASE64" (script I's
 * constant text and its SHA-256, 32 hex digits: a text decoded once is
 * kept in $RD_C under its hash, so a session decodes each script once),
 * "P I NAME BASE64" (a parameter of script I) and, in a session, "E TOKEN"
 * (the request is complete). The loader prints one line per script,
 * in order: "rd_batch I EXIT BASE64(results) BASE64(stderr)", to fd 4 (the
 * channel's stdout; its own stdout and fd 3 go to stderr). */
#define POSIX_BATCH_HEAD(dir)                                                             \
  "exec 4>&1 1>&2 3>&2\n"                                                                 \
  dir "=$(mktemp -d) || { echo 'renewd: mktemp -d failed' >&2; exit 3; }\n"               \
  "RD_C=$" dir "\n"                                                                       \
  "trap 'rm -rf \"$" dir "\"' EXIT\n"                                                     \
  "trap 'exit 129' HUP\n"                                                                 \
  "trap 'exit 130' INT\n"                                                                 \
  "trap 'exit 143' TERM\n"                                                                \
  POSIX_FUNCS_FAIL                                                                        \
  POSIX_FUNCS_OUT
/* Reads one request's lines into $RD_B until EOF or its "E TOKEN" line. */
#define POSIX_BATCH_READ                                                                  \
  "rd_n=0 rd_k=\n"                                                                        \
  "while IFS=' ' read -r rd_k rd_i rd_a rd_v || [ -n \"$rd_k\" ]; do\n"                    \
  "  case $rd_i in ''|*[!0-9]*) rd_fail 'renewd: bad batch line on stdin' ;; esac\n"      \
  "  case $rd_k in\n"                                                                     \
  "  S) case $rd_a in ''|*[!0-9a-f]*) rd_fail 'renewd: bad batch line on stdin' ;; esac\n" \
  "     mkdir -p \"$RD_B/$rd_i/p\" \"$RD_B/$rd_i/t\" ||"                                     \
  " rd_fail 'renewd: cannot make a batch directory'\n"                                    \
  "     [ -f \"$RD_C/s$rd_a\" ] || printf '%s' \"$rd_v\" | base64 -d >\"$RD_C/s$rd_a\" ||"    \
  " rd_fail \"renewd: cannot decode script $rd_i\"\n"                                     \
  "     eval \"rd_s$rd_i=\\$rd_a\"\n"                                                        \
  "     [ \"$rd_i\" -lt \"$rd_n\" ] || rd_n=$((rd_i + 1)) ;;\n"                             \
  "  P) rd_name_ok \"$rd_a\" || rd_fail 'renewd: bad parameter name on stdin'\n"          \
  "     printf '%s' \"$rd_v\" | base64 -d >\"$RD_B/$rd_i/p/$rd_a\" ||"                      \
  " rd_fail \"renewd: cannot decode parameter $rd_a\" ;;\n"                               \
  "  T) rd_name_ok \"$rd_a\" || rd_fail 'renewd: bad parameter name on stdin'\n"          \
  "     : >\"$RD_B/$rd_i/t/$rd_a\" &&"                                                     \
  " printf '%s' \"$rd_v\" >\"$RD_B/$rd_i/p/$rd_a\" ||"                                      \
  " rd_fail \"renewd: cannot store parameter $rd_a\" ;;\n"                                \
  "  E) break ;;\n"                                                                       \
  "  *) rd_fail 'renewd: bad batch line on stdin' ;;\n"                                   \
  "  esac\n"                                                                              \
  "done\n"
/* Runs the request's scripts and prints their answers. */
#define POSIX_BATCH_RUN                                                                   \
  "rd_i=0\n"                                                                              \
  "while [ \"$rd_i\" -lt \"$rd_n\" ]; do\n"                                               \
  "  (\n"                                                                                 \
  "    RD_P=$RD_B/$rd_i/p\n"                                                              \
  "    for rd_f in \"$RD_P\"/*; do\n"                                                     \
  "      rd_a=${rd_f##*/}\n"                                                              \
  "      [ -f \"$rd_f\" ] && rd_name_ok \"$rd_a\" || continue\n"                           \
  "      if [ -e \"$RD_B/$rd_i/t/$rd_a\" ]; then IFS= read -r \"P_$rd_a\" <\"$rd_f\" || :\n" \
  "      else eval \"P_$rd_a=\\$(cat \\\"\\$rd_f\\\")\"; fi\n"                            \
  "    done\n"                                                                            \
  "    eval \"rd_a=\\$rd_s$rd_i\"\n"                                                        \
  "    rd_f=$RD_C/s$rd_a\n"                                                                \
  "    unset rd_a rd_k rd_v rd_n rd_tok\n"                                                 \
  "    . \"$rd_f\"\n"                                                                      \
  "  ) </dev/null 4>&- 3>\"$RD_B/$rd_i/out\" >\"$RD_B/$rd_i/err\" 2>&1\n"                   \
  "  rd_x=$?\n"                                                                           \
  "  rd_o= rd_e=\n"                                                                       \
  "  [ ! -s \"$RD_B/$rd_i/out\" ] || rd_o=$(base64 -w0 <\"$RD_B/$rd_i/out\")\n"            \
  "  [ ! -s \"$RD_B/$rd_i/err\" ] || rd_e=$(base64 -w0 <\"$RD_B/$rd_i/err\")\n"            \
  "  printf 'rd_batch %s %s %s %s\\n' \"$rd_i\" \"$rd_x\" \"$rd_o\" \"$rd_e\" >&4\n"        \
  "  rd_i=$((rd_i + 1))\n"                                                                \
  "done\n"

static const char POSIX_BATCH_LOADER[] =
    POSIX_BATCH_HEAD("RD_B") POSIX_BATCH_READ POSIX_BATCH_RUN;

/* A session: requests one after the other on the same stdin, each in a
 * directory of its own (kept, like the scripts, in the loader's private
 * directory until the session ends), each answered and then ended by
 * "rd_end TOKEN"; EOF ends the session. */
static const char POSIX_SESSION_LOADER[] =
    POSIX_BATCH_HEAD("RD_S")
    "rd_q=0\n"
    "while :; do\n"
    "  rd_q=$((rd_q + 1)) RD_B=$RD_S/$rd_q\n"
    POSIX_BATCH_READ
    "  [ \"$rd_k\" = E ] || exit 0\n"
    "  rd_tok=$rd_i\n"
    POSIX_BATCH_RUN
    "  printf 'rd_end %s\\n' \"$rd_tok\" >&4\n"
    "done\n";

/* token 0: a batch alone (EOF ends it); else one request of a session. */
static int build_batch(const rd_remote_part *parts, size_t n, int use_sudo, unsigned long token,
                       rd_remote_cmd *out, char *err, size_t errlen) {
  sbuf in = {0}, text = {0};
  char name[128], prefix[32], raw[32];
  int rc = rd_remote_batch_start(parts, n, out, err, errlen);
  if (rc)
    return rc;
  rc = RD_EINVAL;
  for (size_t i = 0; i < n; i++) {
    const rd_script *s = parts[i].script;
    size_t bl;
    char *b;
    safe_name(s && s->name ? s->name : NULL, name, sizeof name);
    if (!s || !s->text || s->platform == RD_PLATFORM_WINDOWS) {
      rd_fmt(err, errlen, "script %s: only POSIX scripts run in a batch", name);
      goto out;
    }
    if (parts[i].params && !json_is_object(parts[i].params)) {
      rd_fmt(err, errlen, "script %s: parameters must be a JSON object", name);
      goto out;
    }
    text.len = 0;
    sb_str(&text, s->text);
    sb_str(&text, "\n");
    if (text.oom || !(b = rd_base64_encode(text.p, text.len, &bl))) {
      rc = RD_ENOMEM;
      goto out;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * 16 + 1];
    SHA256((const unsigned char *)text.p, text.len, md);
    for (size_t k = 0; k < 16; k++)
      snprintf(hex + 2 * k, 3, "%02x", md[k]);
    snprintf(prefix, sizeof prefix, "S %zu ", i);
    sb_str(&in, prefix);
    sb_str(&in, hex);
    sb_add(&in, " ", 1);
    sb_add(&in, b, bl);
    sb_add(&in, "\n", 1);
    free(b);
    snprintf(prefix, sizeof prefix, "P %zu ", i);
    snprintf(raw, sizeof raw, "T %zu ", i);
    if (parts[i].params &&
        (rc = encode_params(name, parts[i].params, prefix, raw, &in, err, errlen)))
      goto out;
  }
  if (token) {
    snprintf(prefix, sizeof prefix, "E %lu\n", token);
    sb_str(&in, prefix);
  }
  text.len = 0;
  sb_str(&text, token ? POSIX_SESSION_LOADER : POSIX_BATCH_LOADER);
  rc = sh_finish(out, &text, &in, use_sudo, token ? "session" : "batch");
out:
  if (rc == RD_ENOMEM)
    rd_fmt(err, errlen, "batch of %zu scripts: out of memory", n);
  free(in.p);
  free(text.p);
  return rc;
}

int rd_remote_build_batch(const rd_remote_part *parts, size_t n, int use_sudo, rd_remote_cmd *out,
                          char *err, size_t errlen) {
  return build_batch(parts, n, use_sudo, 0, out, err, errlen);
}

int rd_remote_build_session(const rd_remote_part *parts, size_t n, int use_sudo,
                            unsigned long token, rd_remote_cmd *out, char *err, size_t errlen) {
  if (!token) {
    rd_fmt(err, errlen, "remote: a session request needs a token");
    return RD_EINVAL;
  }
  return build_batch(parts, n, use_sudo, token, out, err, errlen);
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
    sb_str(&cmd, PS_CMD);
    sb_add(&cmd, b64, b64len);
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
    sb_str(&cmd, PS_FILE_CMD);
    sb_str(&cmd, path);
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
  safe_name(s->name, name, sizeof name);
  if (!(json = rd_remote_ps_params(params))) {
    rd_fmt(err, errlen, "script %s: parameters cannot be encoded as JSON (strings must be UTF-8)",
           name);
    rc = RD_EINVAL;
    goto out;
  }
  sb_str(&text, PS_PRELUDE_HEAD);
  sb_str(&text, s->text);
  sb_str(&text, PS_PRELUDE_TAIL);
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
    rc = build_posix(s, params, use_sudo, out, err, errlen);
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
    if (!sp || !name_ok(out + i, nlen)) {
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
