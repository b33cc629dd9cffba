/* cmd_debug.c — `renewd debug`: the transport layer by hand, for tests and
 * for operators who want to see what renewd's SSH/HTTP code sees.
 *
 *   renewd debug exec    [SSH options] HOST... -- COMMAND
 *        run COMMAND on every HOST at once (one loop); one JSON line per run:
 *        {host, status, error, exit, stdout_len, stdout_sha256,
 *         stdout_truncated, stderr, ms}
 *   renewd debug script  [SSH options] --params-json FILE HOST...
 *        run a constant echo-back script through remote.c (parameters travel
 *        as data) and compare what comes back with what was sent
 *   renewd debug hostkey [--connect-ms N] HOST...
 *        print each host's key fingerprint and known_hosts line
 *   renewd debug http    URL [--n N] [--cacert F] [--insecure] [--timeout-ms N]
 *                        [--max-body N] [--body]
 *        N concurrent GETs on one loop; one JSON line per request
 *   renewd debug psbuild --script FILE --out FILE [--name N] [--params-json F]
 *        build a Windows command with remote.c and write the PowerShell text
 *        it carries (decoded from -EncodedCommand, or the upload) to FILE
 *
 * HOST is [NAME=]ADDRESS[:PORT] ([v6addr]:PORT for IPv6), or every host of
 * an inventory with --inventory FILE ({"hosts": {NAME: {address, port}}}).
 * SSH options: --known-hosts F --identity K [--passphrase-file F] [--agent]
 *   --user U [--timeout-ms N (per op)] [--connect-ms N] [--out-cap N]
 *   [--err-cap N] [--sudo] [--max-handshakes N] [--count N (runs per host,
 *   one after another on the same session)] [--stdin-file F] [--stats (keep
 *   every session until all hosts are done, then print throughput, CPU per
 *   op, max RSS and libssh2 heap per idle session on stderr)]
 * Params JSON (script, psbuild): an object of strings; {"b64": "..."} stands
 * for arbitrary bytes.
 * Exit: 0 all succeeded, 1 something failed, 2 usage.
 *
 * Files: debug_args.c (usage, HOST and SSH options, output helpers),
 * debug_ssh.c (exec, script, hostkey), debug_http.c (http), this file
 * (psbuild and the dispatch).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/debug.h"
#include "transport/remote.h"

/* ------------------------------------------------------------------ psbuild */

/* The PowerShell text of a built command: from the upload, or decoded from
 * -EncodedCommand (base64 of UTF-16LE; BMP + surrogate pairs to UTF-8). */
static int ps_text(const rd_remote_cmd *c, char **out, size_t *outlen) {
  if (c->upload_path) {
    size_t skip = c->upload_len >= 3 && !memcmp(c->upload_data, "\xEF\xBB\xBF", 3) ? 3 : 0;
    *out = malloc(c->upload_len - skip + 1);
    if (!*out)
      return RD_ENOMEM;
    memcpy(*out, c->upload_data + skip, c->upload_len - skip);
    (*out)[c->upload_len - skip] = 0;
    *outlen = c->upload_len - skip;
    return 0;
  }
  const char *b = strstr(c->command, "-EncodedCommand ");
  unsigned char *u = NULL;
  size_t ul = 0, j = 0;
  if (!b || rd_base64_decode(b + 16, strlen(b + 16), &u, &ul) || ul % 2) {
    free(u);
    return RD_EPROTO;
  }
  char *t = rd_utf16le_to_utf8(u, ul, &j);
  free(u);
  if (!t)
    return RD_ENOMEM;
  *out = t;
  *outlen = j;
  return 0;
}

static int cmd_psbuild(int argc, char **argv) {
  const char *script = NULL, *outp = NULL, *name = "debug.psbuild", *pj = NULL;
  char *text = NULL, *ps = NULL, err[512];
  size_t tl = 0, pl = 0;
  json_t *params = NULL;
  rd_remote_cmd c;
  int rc = RD_EXIT_FAILED;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      return dbg_usage_err("%s needs a value", a);
    if (!strcmp(a, "--script"))
      script = v;
    else if (!strcmp(a, "--out"))
      outp = v;
    else if (!strcmp(a, "--name"))
      name = v;
    else if (!strcmp(a, "--params-json"))
      pj = v;
    else
      return dbg_usage_err("unknown option %s", rd_cli_printable(a));
    i++;
  }
  if (!script || !outp)
    return dbg_usage_err("%s", "--script FILE and --out FILE are required");
  if (rd_read_file(script, (size_t)16 << 20, &text, &tl)) {
    fprintf(stderr, "renewd debug: cannot read %s\n", script);
    return RD_EXIT_USAGE;
  }
  if (pj && !(params = dbg_load_params(pj))) {
    free(text);
    return RD_EXIT_USAGE;
  }
  rd_script s = {name, RD_PLATFORM_WINDOWS, 0, 0, text};
  if (rd_remote_build(&s, params, 0, &c, err, sizeof err)) {
    fprintf(stderr, "renewd debug: %s\n", err);
    goto out;
  }
  if (ps_text(&c, &ps, &pl)) {
    fprintf(stderr, "renewd debug: cannot decode the built command\n");
    rd_remote_cmd_free(&c);
    goto out;
  }
  FILE *f = fopen(outp, "wb");
  if (!f || fwrite(ps, 1, pl, f) != pl || fclose(f)) {
    fprintf(stderr, "renewd debug: cannot write %s: %s\n", outp, strerror(errno));
  } else {
    json_t *o = json_object();
    json_object_set_new(o, "mode", json_string(c.upload_path ? "upload" : "encoded"));
    json_object_set_new(o, "command_len", json_integer((json_int_t)strlen(c.command)));
    json_object_set_new(o, "upload_path", c.upload_path ? json_string(c.upload_path) : json_null());
    json_object_set_new(o, "stdin_len", json_integer((json_int_t)c.stdin_len));
    json_object_set_new(o, "out", json_string(outp));
    dbg_print_json(o);
    rc = RD_EXIT_OK;
  }
  rd_remote_cmd_free(&c);
out:
  free(ps);
  free(text);
  json_decref(params);
  return rc;
}

/* ------------------------------------------------------------------ entry */

int cmd_debug(int argc, char **argv) {
  dopts d;
  int rc;
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    fputs(dbg_usage, stderr);
    return RD_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "http"))
    return dbg_http(argc, argv);
  if (!strcmp(argv[1], "hostkey"))
    return dbg_hostkey(argc, argv);
  if (!strcmp(argv[1], "psbuild"))
    return cmd_psbuild(argc, argv);
  if (strcmp(argv[1], "exec") && strcmp(argv[1], "script"))
    return dbg_usage_err("unknown debug command '%s'", rd_cli_printable(argv[1]));
  memset(&d, 0, sizeof d);
  int script = !strcmp(argv[1], "script");
  if (dbg_parse_ssh_args(argc, argv, 2, &d, !script) || dbg_need_login(&d)) {
    free(d.hosts);
    return RD_EXIT_USAGE;
  }
  rc = dbg_run_ssh(&d, script);
  if (d.passphrase) {
    explicit_bzero(d.passphrase, strlen(d.passphrase));
    free(d.passphrase);
  }
  free(d.hosts);
  return rc;
}

