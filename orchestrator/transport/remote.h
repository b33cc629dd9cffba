/* remote.h — turns a constant script plus parameters into what travels over
 * SSH. Values never go into code:
 *
 * POSIX: the command line is a constant (`/bin/sh -c '<prelude+script>'`,
 * optionally under `sudo -n`); parameters travel on stdin as lines
 * "NAME BASE64VALUE" (NAME is [a-z_][a-z0-9_]*). The constant prelude decodes
 * each into the file "$RD_P/NAME" and the shell variable P_NAME (trailing
 * newlines of the variable are lost; the file is byte-exact). A script reports
 * results with `rd_out NAME VALUE` / `rd_out_file NAME PATH`, which print
 * "NAME BASE64" lines; rd_remote_parse_posix() turns them into a JSON object
 * of strings (the decoded text; it must be UTF-8 without NUL, else the parse
 * fails). Binary results use `rd_out_b64 NAME PATH`, which prints
 * "NAME:b64 BASE64": the JSON value under NAME is then the base64 text
 * itself, for the plugin to decode. Anything else on stdout is an error.
 *
 * Windows: `powershell.exe -NoProfile -NonInteractive -EncodedCommand <b64>`
 * where the encoded text is a constant prelude + the script. Parameters
 * travel on stdin as base64(JSON); the prelude reads [Console]::In and
 * decodes them into $P. The
 * script prints one JSON document (`rd_out $value` does ConvertTo-Json
 * -Compress -Depth 6) or gives up with `rd_fail MESSAGE` (exit 3); errors
 * thrown by the script are reported on stderr with exit 3. When the command
 * line would exceed 8191 characters (cmd.exe's limit), upload_path/upload_data
 * are set (C:\Windows\Temp\renewd-<name>-<16 hex>.ps1, UTF-8 with BOM; over
 * SFTP on Win32-OpenSSH write it as "/C:/Windows/Temp/...") and the command
 * runs it with -File; the script deletes itself when it ends.
 * The prelude sets $ErrorActionPreference = 'Stop': in Windows PowerShell
 * 5.1 a native command's stderr merged with 2>&1 then throws, so scripts run
 * such commands with a local preference or through `cmd /c ... 2>&1`.
 */
#ifndef RENEWD_REMOTE_H
#define RENEWD_REMOTE_H
#include <stddef.h>
#include <jansson.h>
#include "renewd/plugin.h"

#define RD_WIN_CMDLINE_MAX 8191

typedef struct rd_remote_cmd {
  char *command;          /* what ssh exec runs */
  unsigned char *stdin_data;
  size_t stdin_len;
  char *upload_path;      /* Windows fallback: upload script here first, else NULL */
  char *upload_data;
  size_t upload_len;
} rd_remote_cmd;

/* params: JSON object whose values are strings (POSIX), or any JSON (Windows). */
int rd_remote_build(const rd_script *s, const json_t *params, int use_sudo,
                    rd_remote_cmd *out, char *err, size_t errlen);
void rd_remote_cmd_free(rd_remote_cmd *c);
/* Parse a POSIX script's "NAME BASE64" output into an object of strings. */
int rd_remote_parse_posix(const char *out, size_t len, json_t **obj, char *err, size_t errlen);
/* Parse a Windows script's single JSON document. */
int rd_remote_parse_windows(const char *out, size_t len, json_t **obj, char *err, size_t errlen);

/* A batch (POSIX): several constant scripts in one shell, over one channel,
 * under one sudo. The command is a constant loader; stdin carries each
 * script's constant text and its parameters as data, read by the shell
 * itself (remote_posix.c: "S I SHA256 COUNT" and the text's lines, stored
 * once per loader; "T I NAME TEXT", "L I NAME COUNT" and the value's lines,
 * "P I NAME BASE64" for a value with a NUL byte). Each script runs in a
 * subshell of its own, in order, exactly as it would alone (same
 * functions, $RD_P, P_NAME, rd_out...), and its answer comes back framed by
 * a random frame nothing on the target knows: "rd_raw FRAME", then per
 * script "FRAME b I", its results, "FRAME e", its stdout and stderr as they
 * are, "FRAME x I EXIT" (rd_remote_parse_batch). */
typedef struct rd_remote_part {
  const rd_script *script;
  const json_t *params;   /* object of strings, numbers, booleans; may be NULL */
} rd_remote_part;
int rd_remote_build_batch(const rd_remote_part *parts, size_t n, int use_sudo, rd_remote_cmd *out,
                          char *err, size_t errlen);
/* The same as one request of a session shell (transport/ssh.h: rd_ssh_shell):
 * the command is a constant session loader (the same for every request
 * with the same sudo), stdin carries the request's lines then "E TOKEN";
 * the loader answers as a batch does, then prints the line
 * rd_remote_session_end(TOKEN) and reads the next request, until EOF.
 * token: a number (not 0) unique per request of a session. */
int rd_remote_build_session(const rd_remote_part *parts, size_t n, int use_sudo,
                            unsigned long token, rd_remote_cmd *out, char *err, size_t errlen);
/* Its Windows twin (remote_win.c): one request of a Windows session, a
 * constant loader that runs each request as a Windows batch does (below)
 * and reads the next, until EOF; stdin carries the request's document
 * line (as a Windows batch's) then "E TOKEN". */
int rd_remote_build_win_session(const rd_remote_part *parts, size_t n, unsigned long token,
                                rd_remote_cmd *out, char *err, size_t errlen);
/* The line that ends a Windows session request's answer: "rd_end TOKEN\n"
 * into line; RD_EOVERFLOW when it does not fit. */
int rd_remote_session_end(unsigned long token, char *line, size_t len);
/* The line that ends a POSIX session request's answer: "rd_end TOKEN
 * FRAME\n", FRAME the request's frame (see rd_remote_parse_batch), which
 * nothing a script prints can forge. RD_EOVERFLOW, RD_ECRYPTO. */
int rd_remote_posix_session_end(unsigned long token, char *line, size_t len);
/* What one script of a batch answered: its exit status, its result lines
 * (what rd_remote_parse_posix reads) and its stderr. A script without an
 * answer line (the batch was cut short) has exit_status RD_BATCH_NO_ANSWER. */
#define RD_BATCH_NO_ANSWER (-1000)
typedef struct rd_remote_answer {
  int exit_status;
  char *out, *err;        /* NUL-terminated, owned */
  size_t out_len, err_len;
} rd_remote_answer;
/* ans: n entries. RD_EPROTO (every answer missing, err says why). */
int rd_remote_parse_batch(const char *out, size_t len, size_t n, rd_remote_answer *ans, char *err,
                          size_t errlen);
void rd_remote_answers_free(rd_remote_answer *a, size_t n);

/* A Windows batch (remote_win.c): several constant Windows scripts in one
 * powershell.exe. The command is a constant loader (-EncodedCommand);
 * stdin carries each script's text and its parameters as data (base64 of
 * one JSON document). Each script runs in a nested pipeline of its own,
 * exactly as it would alone (the same $P, rd_out, rd_fail; `exit`,
 * rd_fail and a throw end that script only, with the exit status and
 * stderr it has alone; its variables, preferences and $LASTEXITCODE do
 * not reach the next), and the answers come back as a POSIX batch's
 * (rd_remote_parse_batch). A Windows session (rd_remote_build_win_session)
 * runs its requests so, one after the other, in one process. */
int rd_remote_build_win_batch(const rd_remote_part *parts, size_t n, rd_remote_cmd *out,
                              char *err, size_t errlen);
/* The loaders' PowerShell texts (what the command lines encode). */
const char *rd_remote_win_loader(void);
const char *rd_remote_win_session_loader(void);

#endif
