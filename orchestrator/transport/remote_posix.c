/* remote_posix.c — the POSIX side of remote.h: a script alone under its
 * prelude, and the batch and session loaders. Only our own constant text is
 * quoted into the command line; parameters travel on stdin as data.
 */
#include "transport/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/remote_int.h"
#include "transport/remote_ps.h" /* rd_remote_batch_start */

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

/* The lines of a value that holds no NUL byte: "<head> COUNT\n" then the
 * value and a newline, which is COUNT lines (a batch's "L I NAME COUNT"). */
static void add_lines(sbuf *in, const char *head, const char *p, size_t n) {
  char count[32];
  size_t lines = 1;
  for (size_t i = 0; i < n; i++)
    lines += p[i] == '\n';
  snprintf(count, sizeof count, " %zu\n", lines);
  rd_sb_str(in, head);
  rd_sb_str(in, count);
  rd_sb_add(in, p, n);
  rd_sb_add(in, "\n", 1);
}

/* Parameters as stdin lines. Alone (batch < 0): "NAME:t VALUE" for plain
 * text, else "NAME BASE64". Script `batch` of a batch: "T I NAME VALUE" for
 * plain text, "L I NAME COUNT" and the value's lines when it holds no NUL
 * byte (read by the shell itself: no decoding process on the target), else
 * "P I NAME BASE64". */
static int encode_params(const char *name, const json_t *params, long batch, sbuf *in, char *err,
                         size_t errlen) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)params, key, v) {
    char tmp[64], head[128];
    const char *p;
    size_t n, bl;
    if (!rd_remote_name_ok(key, strlen(key))) {
      rd_fmt(err, errlen, "script %s: parameter name '%s' is not valid (expected [a-z_][a-z0-9_]*, "
             "at most 64 characters)", name, key);
      return RD_EINVAL;
    }
    if (value_bytes(v, tmp, sizeof tmp, &p, &n)) {
      rd_fmt(err, errlen, "script %s: parameter '%s' must be a string, number or boolean", name,
             key);
      return RD_EINVAL;
    }
    int plain = plain_text(p, n);
    if (batch < 0)
      snprintf(head, sizeof head, plain ? "%s:t " : "%s ", key);
    else if (plain || !memchr(p, 0, n))
      snprintf(head, sizeof head, "%c %ld %s%s", plain ? 'T' : 'L', batch, key, plain ? " " : "");
    else
      snprintf(head, sizeof head, "P %ld %s ", batch, key);
    if (batch >= 0 && !plain && head[0] == 'L') {
      add_lines(in, head, p, n);
      continue;
    }
    rd_sb_str(in, head);
    if (plain) { /* as it is: no decoding process on the target */
      rd_sb_add(in, p, n);
      rd_sb_add(in, "\n", 1);
      continue;
    }
    char *b = rd_base64_encode(p, n, &bl);
    if (!b)
      return RD_ENOMEM;
    rd_sb_add(in, b, bl);
    rd_sb_add(in, "\n", 1);
    free(b);
  }
  return in->oom ? RD_ENOMEM : 0;
}

/* "exec [sudo -n] /bin/sh -c '<text>' renewd-<name>": only our constant
 * text is quoted. */
static void sh_command(sbuf *cmd, const char *text, size_t len, int sudo, const char *name) {
  rd_sb_str(cmd, sudo ? "exec sudo -n /bin/sh -c '" : "exec /bin/sh -c '");
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '\'')
      rd_sb_str(cmd, "'\\''");
    else
      rd_sb_add(cmd, &text[i], 1);
  }
  rd_sb_str(cmd, "' renewd-");
  rd_sb_str(cmd, name);
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

int rd_remote_build_posix(const rd_script *s, const json_t *params, int use_sudo, rd_remote_cmd *out,
                       char *err, size_t errlen) {
  sbuf text = {0}, in = {0};
  char name[128];
  int rc;
  rd_remote_safe_name(s->name, name, sizeof name);
  if (params && (rc = encode_params(name, params, -1, &in, err, errlen)))
    goto out;
  rd_sb_str(&text, POSIX_PRELUDE);
  rd_sb_str(&text, s->text);
  rd_sb_str(&text, "\n");
  rc = sh_finish(out, &text, &in, use_sudo && s->sudo, name);
out:
  if (rc == RD_ENOMEM)
    rd_fmt(err, errlen, "script %s: out of memory", name);
  free(text.p);
  free(in.p);
  return rc;
}

/* ------------------------------------------------------------------ batches */

/* A batch's loader: several constant scripts in one shell, each in a
 * subshell of its own (its exit, rd_fail and variables stay there) with its
 * own parameters, result file and stderr file. stdin carries data only,
 * read by the shell itself (no process per line): "F 0 FRAME" (the frame of
 * this request's answer, 32 hex digits nobody on the target can guess),
 * "S I HASH COUNT" and COUNT lines (script I's constant text, kept in $RD_C
 * under its hash: a session stores each script once), "T I NAME VALUE"
 * (printable one-line text), "L I NAME COUNT" and COUNT lines (a value
 * without NUL), "P I NAME BASE64" (a value with a NUL byte: the one case
 * that runs base64 -d) and, in a session, "E TOKEN" (the request is
 * complete). One mkdir makes the scripts' directories. The answer goes to
 * fd 4 (the channel's stdout; the loader's own stdout and fd 3 go to
 * stderr): "rd_raw FRAME\n", then per script, once it ended, "FRAME b I\n",
 * its results ("FRAME v NAME\n" or "FRAME r NAME\n" and the value's bytes
 * as they are), "FRAME e\n", its stdout and stderr as they are, and
 * "FRAME x I EXIT\n" (remote_answer.c reads it). The results of rd_out
 * (shell values: no NUL byte) are copied by the shell itself; a cat runs
 * only for a script that reported a file (rd_out_file, rd_out_b64: any
 * bytes) or printed on stdout or stderr. The script's
 * results and output go to files, never to the channel itself, so that a
 * daemon a script starts cannot hold the channel open. */
#define POSIX_BATCH_OUT                                                                    \
  "rd_out() {\n"                                                                           \
  "  rd_name_ok \"$1\" || rd_fail \"renewd: bad output name: $1\"\n"                        \
  "  printf '%s v %s\\n%s' \"$RD_F\" \"$1\" \"$2\" >&3\n"                                    \
  "}\n"                                                                                    \
  "rd_out_raw() {\n"                                                                       \
  "  rd_name_ok \"$2\" || rd_fail \"renewd: bad output name: $2\"\n"                        \
  "  rd_oc=1\n"                                                                            \
  "  : >\"$RD_P.raw\"\n"                                                                    \
  "  { printf '%s %s %s\\n' \"$RD_F\" \"$1\" \"$2\"; cat 2>/dev/null && rd_oc=0; } <\"$3\" >&3\n" \
  "  [ \"$rd_oc\" = 0 ] || rd_fail \"renewd: cannot read $3\"\n"                              \
  "}\n"                                                                                    \
  "rd_out_file() { rd_out_raw v \"$@\"; }\n"                                                \
  "rd_out_b64() { rd_out_raw r \"$@\"; }\n"
#define POSIX_BATCH_HEAD                                                                   \
  "exec 4>&1 1>&2 3>&2\n"                                                                  \
  "RD_S=$(mktemp -d) || { echo 'renewd: mktemp -d failed' >&2; exit 3; }\n"                \
  "RD_C=$RD_S rd_seq=0 rd_made=0\n"                                                        \
  "trap 'rm -rf \"$RD_S\"' EXIT\n"                                                         \
  "trap 'exit 129' HUP\n"                                                                  \
  "trap 'exit 130' INT\n"                                                                  \
  "trap 'exit 143' TERM\n"                                                                 \
  "rd_nl='\n'\n"                                                                           \
  POSIX_FUNCS_FAIL                                                                         \
  POSIX_BATCH_OUT                                                                          \
  "rd_lines() {\n"                                                                         \
  "  case $1 in ''|*[!0-9]*) rd_fail 'renewd: bad batch line on stdin' ;; esac\n"          \
  "  rd_c=0 rd_x=\n"                                                                       \
  "  while [ \"$rd_c\" -lt \"$1\" ]; do\n"                                                 \
  "    IFS= read -r rd_ln || rd_fail 'renewd: stdin ended inside a value'\n"               \
  "    if [ \"$rd_c\" = 0 ]; then rd_x=$rd_ln; else rd_x=$rd_x$rd_nl$rd_ln; fi\n"            \
  "    rd_c=$((rd_c + 1))\n"                                                               \
  "  done\n"                                                                               \
  "}\n"
/* Reads one request's lines until EOF or its "E TOKEN" line. */
#define POSIX_BATCH_READ                                                                   \
  "rd_n=0 rd_k= RD_F=\n"                                                                   \
  "while IFS=' ' read -r rd_k rd_i rd_a rd_v || [ -n \"$rd_k\" ]; do\n"                     \
  "  case $rd_i in ''|*[!0-9]*) rd_fail 'renewd: bad batch line on stdin' ;; esac\n"       \
  "  case $rd_k in\n"                                                                      \
  "  F) case $rd_a in ''|*[!0-9a-f]*) rd_fail 'renewd: bad batch line on stdin' ;; esac\n"  \
  "     RD_F=$rd_a ;;\n"                                                                   \
  "  S) case $rd_a in ''|*[!0-9a-f]*) rd_fail 'renewd: bad batch line on stdin' ;; esac\n"  \
  "     rd_lines \"$rd_v\"\n"                                                               \
  "     [ -f \"$RD_C/s$rd_a\" ] || printf '%s' \"$rd_x\" >\"$RD_C/s$rd_a\" ||"                 \
  " rd_fail \"renewd: cannot store script $rd_i\"\n"                                       \
  "     eval \"rd_s$rd_i=\\$rd_a rd_p$rd_i=\"\n"                                              \
  "     [ \"$rd_i\" -lt \"$rd_n\" ] || rd_n=$((rd_i + 1)) ;;\n"                              \
  "  T|L|P) rd_name_ok \"$rd_a\" || rd_fail 'renewd: bad parameter name on stdin'\n"        \
  "     if [ \"$rd_k\" = L ]; then rd_lines \"$rd_v\"; else rd_x=$rd_v; fi\n"                 \
  "     eval \"rd_v${rd_i}_$rd_a=\\$rd_x rd_k${rd_i}_$rd_a=$rd_k"                           \
  " rd_p$rd_i=\\\"\\$rd_p$rd_i $rd_a\\\"\" ;;\n"                                             \
  "  E) break ;;\n"                                                                        \
  "  *) rd_fail 'renewd: bad batch line on stdin' ;;\n"                                    \
  "  esac\n"                                                                               \
  "done\n"
/* Runs the request's scripts and prints their answers. */
#define POSIX_BATCH_RUN                                                                    \
  "[ -n \"$RD_F\" ] || rd_fail 'renewd: no frame on stdin'\n"                              \
  "printf '%s e\\n' \"$RD_F\" >\"$RD_S/e\"\n"                                                 \
  "printf 'rd_raw %s\\n' \"$RD_F\" >&4\n"                                                   \
  "rd_i=0\n"                                                                               \
  "while [ \"$rd_i\" -lt \"$rd_n\" ]; do\n"                                                \
  "  rd_seq=$((rd_seq + 1))\n"                                                             \
  "  if [ \"$rd_seq\" -gt \"$rd_made\" ]; then\n"                                            \
  "    set --\n"                                                                           \
  "    rd_to=$((rd_seq + rd_n - rd_i - 1 + rd_spare))\n"                                    \
  "    while [ \"$rd_made\" -lt \"$rd_to\" ]; do\n"                                          \
  "      rd_made=$((rd_made + 1))\n"                                                       \
  "      set -- \"$@\" \"$RD_S/$rd_made\"\n"                                                  \
  "    done\n"                                                                             \
  "    mkdir -- \"$@\" || rd_fail 'renewd: cannot make a script directory'\n"               \
  "  fi\n"                                                                                 \
  "  rd_o=$RD_S/$rd_seq\n"                                                                   \
  "  (\n"                                                                                  \
  "    RD_P=$rd_o\n"                                                                       \
  "    eval \"rd_l=\\$rd_p$rd_i\"\n"                                                        \
  "    for rd_a in $rd_l; do\n"                                                            \
  "      eval \"rd_k=\\$rd_k${rd_i}_$rd_a rd_x=\\$rd_v${rd_i}_$rd_a\"\n"                     \
  "      if [ \"$rd_k\" = P ]; then\n"                                                     \
  "        printf '%s' \"$rd_x\" | base64 -d >\"$RD_P/$rd_a\" ||"                             \
  " rd_fail \"renewd: cannot decode parameter $rd_a\"\n"                                   \
  "        eval \"P_$rd_a=\\$(cat \\\"\\$RD_P/$rd_a\\\")\"\n"                                 \
  "        continue\n"                                                                     \
  "      fi\n"                                                                             \
  "      printf '%s' \"$rd_x\" >\"$RD_P/$rd_a\" || rd_fail \"renewd: cannot store parameter $rd_a\"\n" \
  "      while :; do case $rd_x in *\"$rd_nl\") rd_x=${rd_x%\"$rd_nl\"} ;; *) break ;; esac; done\n" \
  "      eval \"P_$rd_a=\\$rd_x\"\n"                                                        \
  "    done\n"                                                                             \
  "    eval \"rd_a=\\$rd_s$rd_i\"\n"                                                        \
  "    rd_f=$RD_C/s$rd_a\n"                                                                \
  "    unset rd_a rd_c rd_i rd_k rd_l rd_ln rd_made rd_n rd_o rd_seq rd_spare rd_to rd_tok rd_v rd_x\n"              \
  "    . \"$rd_f\"\n"                                                                      \
  "  ) </dev/null 4>&- 3>\"$rd_o.o\" >\"$rd_o.e\" 2>&1\n"                                  \
  "  rd_x=$?\n"                                                                            \
  "  printf '%s b %s\\n' \"$RD_F\" \"$rd_i\" >&4\n"                                        \
  "  if [ -e \"$rd_o.raw\" ] || [ -s \"$rd_o.e\" ]; then\n"                                 \
  "    cat -- \"$rd_o.o\" \"$RD_S/e\" \"$rd_o.e\" >&4\n"                                     \
  "  else\n"                                                                               \
  "    rd_ln=\n"                                                                           \
  "    while IFS= read -r rd_ln; do printf '%s\\n' \"$rd_ln\"; done <\"$rd_o.o\" >&4\n"         \
  "    printf '%s%s e\\n' \"$rd_ln\" \"$RD_F\" >&4\n"                                        \
  "  fi\n"                                                                                 \
  "  printf '%s x %s %s\\n' \"$RD_F\" \"$rd_i\" \"$rd_x\" >&4\n"                           \
  "  rd_i=$((rd_i + 1))\n"                                                                 \
  "done\n"

static const char POSIX_BATCH_LOADER[] =
    POSIX_BATCH_HEAD "rd_spare=0\n" POSIX_BATCH_READ POSIX_BATCH_RUN;

/* A session: requests one after the other on the same stdin, each answered
 * and then ended by "rd_end TOKEN FRAME" (rd_remote_posix_session_end);
 * EOF ends the session. Every script of the session gets a fresh
 * directory of its own, numbered in the loader's private directory and
 * kept until the session ends; one mkdir makes the request's and 15 more,
 * so that most requests start none. */
static const char POSIX_SESSION_LOADER[] =
    POSIX_BATCH_HEAD
    "rd_spare=15\n"
    "while :; do\n"
    POSIX_BATCH_READ
    "  [ \"$rd_k\" = E ] || exit 0\n"
    "  rd_tok=$rd_i\n"
    POSIX_BATCH_RUN
    "  printf 'rd_end %s %s\\n' \"$rd_tok\" \"$RD_F\" >&4\n"
    "done\n";

/* A request's frame, 32 hex digits: for a session request, a digest of the
 * token under a key drawn once per process (the end line can then be
 * rebuilt from the token alone); for a batch alone (token 0), random. */
static int frame_of(unsigned long token, char hex[33]) {
  static unsigned char key[32];
  static int have_key;
  unsigned char md[SHA256_DIGEST_LENGTH], in[sizeof key + sizeof token];
  if (!have_key && RAND_bytes(key, sizeof key) != 1)
    return RD_ECRYPTO;
  have_key = 1;
  if (!token) {
    if (RAND_bytes(md, 16) != 1)
      return RD_ECRYPTO;
  } else {
    memcpy(in, key, sizeof key);
    memcpy(in + sizeof key, &token, sizeof token);
    SHA256(in, sizeof in, md);
  }
  for (size_t k = 0; k < 16; k++)
    snprintf(hex + 2 * k, 3, "%02x", md[k]);
  return 0;
}

int rd_remote_posix_session_end(unsigned long token, char *line, size_t len) {
  char f[33];
  int n, rc = frame_of(token, f);
  if (rc)
    return rc;
  n = snprintf(line, len, "rd_end %lu %s\n", token, f);
  return n < 0 || (size_t)n >= len ? RD_EOVERFLOW : 0;
}

/* token 0: a batch alone (EOF ends it); else one request of a session. */
static int build_batch(const rd_remote_part *parts, size_t n, int use_sudo, unsigned long token,
                       rd_remote_cmd *out, char *err, size_t errlen) {
  sbuf in = {0}, text = {0};
  char name[128], line[96], frame[33];
  int rc = rd_remote_batch_start(parts, n, out, err, errlen);
  if (rc)
    return rc;
  if ((rc = frame_of(token, frame))) {
    rd_fmt(err, errlen, "batch of %zu scripts: no random bytes for its frame", n);
    return rc;
  }
  snprintf(line, sizeof line, "F 0 %s\n", frame);
  rd_sb_str(&in, line);
  rc = RD_EINVAL;
  for (size_t i = 0; i < n; i++) {
    const rd_script *s = parts[i].script;
    rd_remote_safe_name(s && s->name ? s->name : NULL, name, sizeof name);
    if (!s || !s->text || s->platform == RD_PLATFORM_WINDOWS) {
      rd_fmt(err, errlen, "script %s: only POSIX scripts run in a batch", name);
      goto out;
    }
    if (parts[i].params && !json_is_object(parts[i].params)) {
      rd_fmt(err, errlen, "script %s: parameters must be a JSON object", name);
      goto out;
    }
    text.len = 0;
    rd_sb_str(&text, s->text);
    rd_sb_str(&text, "\n");
    if (text.oom) {
      rc = RD_ENOMEM;
      goto out;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * 16 + 1];
    SHA256((const unsigned char *)text.p, text.len, md);
    for (size_t k = 0; k < 16; k++)
      snprintf(hex + 2 * k, 3, "%02x", md[k]);
    snprintf(line, sizeof line, "S %zu %s", i, hex);
    add_lines(&in, line, text.p, text.len);
    if (parts[i].params && (rc = encode_params(name, parts[i].params, (long)i, &in, err, errlen)))
      goto out;
  }
  if (token) {
    snprintf(line, sizeof line, "E %lu\n", token);
    rd_sb_str(&in, line);
  }
  text.len = 0;
  rd_sb_str(&text, token ? POSIX_SESSION_LOADER : POSIX_BATCH_LOADER);
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
