/* remote_win.c — a Windows batch (see remote.h): the scripts of several
 * steps in one powershell.exe.
 *
 * The command line is a constant loader (-EncodedCommand, like every
 * Windows script); stdin carries data only: base64 of one JSON document
 * {"t": [script texts], "r": [{"t": index of its text, "p": its parameters
 * as the JSON text a script alone gets on stdin}]}. The loader runs each
 * script as it runs alone — the same preferences, rd_fail, rd_out and $P
 * (ConvertFrom-Json of the same JSON) — in a nested pipeline of its own
 * ([PowerShell]::Create('CurrentRunspace'), a local scope): its variables,
 * functions and preferences end with it; `exit N` (rd_fail's exit 3) ends
 * that pipeline only and sets $LASTEXITCODE, which the loader clears
 * before each script, as it clears $Error. What a script writes to
 * [Console]::Out / Error goes to writers of its own; an error it throws
 * is reported as alone ("renewd: MESSAGE (line N)", exit 3: its text is
 * preceded by as many empty lines as the prelude has, so N is the same).
 * Output a script leaves in the pipeline (any stream) is appended to its
 * stdout, where alone it would have gone. The answers are the POSIX
 * batch's lines, "rd_batch I EXIT BASE64(stdout) BASE64(stderr)", read by
 * rd_remote_parse_batch. The loader's own variables are named $Rdb*, a
 * prefix no script uses (test_remote_win checks the shipped scripts). */
#include "transport/remote.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/remote_ps.h"

/* The loader's start: what every script alone has, and its own writers. */
#define PS_BATCH_HEAD                                                                      \
  PS_PREFS                                                                                 \
  PS_FUNCS                                                                                 \
  PS_UTF8_OUT                                                                              \
  "$RdbO = [Console]::Out\n"                                                               \
  "$RdbE = [Console]::Error\n"                                                             \
  "$RdbU = New-Object System.Text.UTF8Encoding $false\n"
/* Runs the scripts of one request, SRC (a PowerShell expression: the
 * base64 line of its JSON document), and prints their answers. */
#define PS_BATCH_RUN(src)                                                                  \
  "$RdbD = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String("      \
  src ")) | ConvertFrom-Json\n"                                                             \
  "$RdbI = 0\n"                                                                             \
  "foreach ($RdbR in @($RdbD.r)) {\n"                                                       \
  "  $RdbW = New-Object System.IO.StringWriter\n"                                           \
  "  $RdbX = New-Object System.IO.StringWriter\n"                                           \
  "  $RdbF = @{}\n"                                                                         \
  "  $RdbC = 3\n"                                                                           \
  "  Remove-Variable -Scope Global -Name LASTEXITCODE -ErrorAction Ignore\n"                \
  "  $global:Error.Clear()\n"                                                               \
  "  $RdbQ = [PowerShell]::Create('CurrentRunspace')\n"                                     \
  "  [Console]::SetOut($RdbW)\n"                                                            \
  "  [Console]::SetError($RdbX)\n"                                                          \
  "  try {\n"                                                                               \
  "    $RdbV = $RdbQ.AddScript('param($P) & ([scriptblock]::Create($args[0])) *>&1; $args[1].e = 1'," \
  " $true).AddArgument(($RdbR.p | ConvertFrom-Json)).AddArgument(@($RdbD.t)[$RdbR.t])."       \
  "AddArgument($RdbF).Invoke()\n"                                                           \
  "    if ($RdbV.Count) { $RdbW.Write(($RdbV | Out-String)) }\n"                             \
  "    $RdbC = Get-Variable -Scope Global -Name LASTEXITCODE -ValueOnly -ErrorAction Ignore\n" \
  "    if ($RdbF.ContainsKey('e')) { $RdbC = 0 } elseif ($null -eq $RdbC) { $RdbC = 1 }\n"   \
  "  } catch {\n"                                                                           \
  "    $RdbZ = $_.Exception.InnerException\n"                                               \
  "    if ($RdbZ -is [System.Management.Automation.RuntimeException]) { $RdbZ = $RdbZ.ErrorRecord }" \
  " else { $RdbZ = $_ }\n"                                                                  \
  "    " PS_CAUGHT("$RdbZ")                                                                 \
  "  }\n"                                                                                   \
  "  [Console]::SetOut($RdbO)\n"                                                            \
  "  [Console]::SetError($RdbE)\n"                                                          \
  "  $RdbQ.Dispose()\n"                                                                     \
  "  $RdbO.Write('rd_batch ' + $RdbI + ' ' + $RdbC + ' ' +"                                 \
  " [Convert]::ToBase64String($RdbU.GetBytes($RdbW.ToString())) + ' ' +"                    \
  " [Convert]::ToBase64String($RdbU.GetBytes($RdbX.ToString())) + \"`n\")\n"                \
  "  $RdbI++\n"                                                                             \
  "}\n"

static const char PS_BATCH_LOADER[] =
    PS_BATCH_HEAD PS_BATCH_RUN("[Console]::In.ReadToEnd().Trim()") "$RdbO.Flush()\n";

/* A session: requests one after the other on the same stdin, each its
 * JSON document's base64 line then "E TOKEN", read line by line (so each
 * is answered before EOF), each answered as a batch and then ended by
 * "rd_end TOKEN", flushed; EOF ends the session. */
static const char PS_SESSION_LOADER[] =
    PS_BATCH_HEAD
    "while ($null -ne ($RdbL = [Console]::In.ReadLine())) {\n"
    "  $RdbK = [Console]::In.ReadLine()\n"
    "  if ($null -eq $RdbK) { break }\n"
    "  if ($RdbK -notmatch '^E [0-9]+$') {"
    " $RdbE.WriteLine('renewd: bad session line on stdin'); exit 3 }\n"
    PS_BATCH_RUN("$RdbL.Trim()")
    "  $RdbO.Write('rd_end ' + $RdbK.Substring(2) + \"`n\")\n"
    "  $RdbO.Flush()\n"
    "}\n";

const char *rd_remote_win_loader(void) { return PS_BATCH_LOADER; }
const char *rd_remote_win_session_loader(void) { return PS_SESSION_LOADER; }

/* The script texts of a batch, each once, after the prelude's line count
 * of empty lines: the index of parts[i]'s text in t. */
static int add_text(json_t *t, const rd_script *s, size_t pad, size_t *idx) {
  for (size_t k = 0; k < json_array_size(t); k++) {
    const char *have = json_string_value(json_array_get(t, k));
    if (!strcmp(have + pad, s->text)) {
      *idx = k;
      return 0;
    }
  }
  size_t n = strlen(s->text);
  char *p = malloc(pad + n + 1);
  if (!p)
    return RD_ENOMEM;
  memset(p, '\n', pad);
  memcpy(p + pad, s->text, n + 1);
  json_t *v = json_stringn(p, pad + n);
  free(p);
  if (!v)
    return RD_EINVAL; /* not UTF-8 */
  *idx = json_array_size(t);
  return json_array_append_new(t, v) ? RD_ENOMEM : 0;
}

/* The request's "E TOKEN" line after its document on stdin. */
static int add_end(unsigned long token, rd_remote_cmd *out) {
  char line[32];
  int l = snprintf(line, sizeof line, "E %lu\n", token);
  unsigned char *p = realloc(out->stdin_data, out->stdin_len + (size_t)l);
  if (!p)
    return RD_ENOMEM;
  memcpy(p + out->stdin_len, line, (size_t)l);
  out->stdin_data = p;
  out->stdin_len += (size_t)l;
  return 0;
}

/* token 0: a batch alone (EOF ends it); else one request of a session. */
static int build_win(const rd_remote_part *parts, size_t n, unsigned long token,
                     rd_remote_cmd *out, char *err, size_t errlen) {
  const char *loader = token ? PS_SESSION_LOADER : PS_BATCH_LOADER;
  json_t *doc = NULL, *t, *r;
  char *json = NULL;
  size_t pad = rd_remote_ps_script_line();
  int rc = rd_remote_batch_start(parts, n, out, err, errlen);
  if (rc)
    return rc;
  if (!(doc = json_pack("{s:[], s:[]}", "t", "r")))
    goto oom;
  t = json_object_get(doc, "t");
  r = json_object_get(doc, "r");
  for (size_t i = 0; i < n; i++) {
    const rd_script *s = parts[i].script;
    const char *name = s && s->name ? s->name : "?";
    size_t idx;
    char *p;
    if (!s || !s->text || s->platform != RD_PLATFORM_WINDOWS) {
      rd_fmt(err, errlen, "script %s: only Windows scripts run in a Windows batch", name);
      rc = RD_EINVAL;
      goto out;
    }
    if (parts[i].params && !json_is_object(parts[i].params)) {
      rd_fmt(err, errlen, "script %s: parameters must be a JSON object", name);
      rc = RD_EINVAL;
      goto out;
    }
    if ((rc = add_text(t, s, pad, &idx))) {
      if (rc == RD_ENOMEM)
        goto oom;
      rd_fmt(err, errlen, "script %s: the script text is not valid UTF-8", name);
      goto out;
    }
    /* the parameters exactly as a script alone gets them */
    if (!(p = rd_remote_ps_params(parts[i].params))) {
      rd_fmt(err, errlen, "script %s: parameters cannot be encoded as JSON (strings must be UTF-8)",
             name);
      rc = RD_EINVAL;
      goto out;
    }
    rc = json_array_append_new(r, json_pack("{s:I, s:s}", "t", (json_int_t)idx, "p", p));
    free(p);
    if (rc)
      goto oom;
  }
  if (!(json = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII)) ||
      rd_remote_ps_stdin(json, out) || (token && add_end(token, out)))
    goto oom;
  if ((rc = rd_remote_ps_command(token ? "session" : "batch", loader, strlen(loader), out, err,
                                 errlen)))
    goto out;
  if (out->upload_path) { /* a constant: test_remote_win proves it fits */
    rd_fmt(err, errlen, "remote: the Windows %s loader does not fit a command line",
           token ? "session" : "batch");
    rc = RD_EOVERFLOW;
  }
  goto out;
oom:
  rd_fmt(err, errlen, "a Windows batch of %zu scripts: out of memory", n);
  rc = RD_ENOMEM;
out:
  if (rc)
    rd_remote_cmd_free(out);
  json_decref(doc);
  free(json);
  return rc;
}

int rd_remote_build_win_batch(const rd_remote_part *parts, size_t n, rd_remote_cmd *out,
                              char *err, size_t errlen) {
  return build_win(parts, n, 0, out, err, errlen);
}

int rd_remote_build_win_session(const rd_remote_part *parts, size_t n, unsigned long token,
                                rd_remote_cmd *out, char *err, size_t errlen) {
  if (!token) {
    rd_fmt(err, errlen, "remote: a session request needs a token");
    return RD_EINVAL;
  }
  return build_win(parts, n, token, out, err, errlen);
}
