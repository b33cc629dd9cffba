/* remote_ps.h — the PowerShell pieces a Windows script alone (remote.c)
 * and a Windows batch (remote_win.c) share: the same preferences, the same
 * rd_fail and rd_out, the same message for an error the script threw, and
 * the one way a PowerShell text becomes a command line (-EncodedCommand,
 * or the upload fallback past cmd.exe's 8191 characters). Internal to
 * transport/. */
#ifndef RENEWD_REMOTE_PS_H
#define RENEWD_REMOTE_PS_H
#include <stddef.h>
#include "transport/remote.h"

/* What every script starts with: errors stop it; rd_fail writes its
 * message to stderr and exits 3; rd_out prints the one JSON document. */
#define PS_PREFS                                                                           \
  "$ErrorActionPreference = 'Stop'\n"                                                      \
  "$ProgressPreference = 'SilentlyContinue'\n"
#define PS_FUNCS                                                                           \
  "function rd_fail([string]$Message) { [Console]::Error.WriteLine($Message); exit 3 }\n"  \
  "function rd_out($Value) { [Console]::Out.Write((ConvertTo-Json -InputObject $Value "    \
  "-Compress -Depth 6)) }\n"
#define PS_UTF8_OUT                                                                        \
  "try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }\n"
/* The stderr line of an error a script threw, from its ErrorRecord REC. */
#define PS_CAUGHT(rec)                                                                     \
  "[Console]::Error.WriteLine('renewd: ' + " rec ".Exception.Message + ' (line ' + " rec   \
  ".InvocationInfo.ScriptLineNumber + ')')\n"

/* TEXT (UTF-8, len bytes) as the command that runs it: `powershell.exe
 * ... -EncodedCommand <base64 of its UTF-16LE>`, or, past
 * RD_WIN_CMDLINE_MAX, -File of an upload (out->upload_path/upload_data).
 * Sets out->command (and the upload); the caller frees out. name: the
 * script's safe name (the upload's file name). */
int rd_remote_ps_command(const char *name, const char *text, size_t len, rd_remote_cmd *out,
                         char *err, size_t errlen);
/* A script's parameters as the JSON text it gets ("{}" for NULL), or
 * NULL (not UTF-8, or out of memory): the caller frees it. */
char *rd_remote_ps_params(const json_t *params);
/* base64 of the JSON text json and a newline, as out's stdin: what the
 * prelude (and the batch loader) reads. 0 or RD_ENOMEM. */
int rd_remote_ps_stdin(const char *json, rd_remote_cmd *out);
/* A batch builder's start: parts and out given, n > 0 (else RD_EINVAL,
 * err says why); out cleared. */
int rd_remote_batch_start(const rd_remote_part *parts, size_t n, rd_remote_cmd *out, char *err,
                          size_t errlen);
/* The number of lines before a script's first line in its text alone:
 * a batch puts as many empty lines before it, so that an error's line
 * number is the same in both. */
size_t rd_remote_ps_script_line(void);

#endif
