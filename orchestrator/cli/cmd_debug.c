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
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <uv.h>

#include "cli/cli.h"
#include "base/err.h"
#include "transport/http.h"
#include "transport/remote.h"
#include "transport/ssh.h"
#include "base/util.h"

/* The echo-back script of `debug script`: every parameter file comes back
 * with rd_out_file (byte-exact) and every P_ variable with rd_out. Only
 * parameter names (validated) ever reach eval. */
static const char ECHO_SCRIPT[] =
    "for rd_f in \"$RD_P\"/*; do\n"
    "  [ -e \"$rd_f\" ] || continue\n"
    "  rd_n=${rd_f##*/}\n"
    "  rd_out_file \"f_$rd_n\" \"$rd_f\"\n"
    "  eval \"rd_v=\\${P_$rd_n}\"\n"
    "  rd_out \"v_$rd_n\" \"$rd_v\"\n"
    "done\n"
    "rd_out whoami \"$(id -un)\"\n";

static const char DEBUG_USAGE[] =
    "usage: renewd debug exec    [SSH options] HOST... -- COMMAND\n"
    "       renewd debug script  [SSH options] --params-json FILE HOST...\n"
    "       renewd debug hostkey [--connect-ms N] HOST...\n"
    "       renewd debug http    URL [--n N] [--cacert F] [--insecure] [--timeout-ms N]\n"
    "                            [--max-body N] [--body]\n"
    "       renewd debug psbuild --script FILE --out FILE [--name N] [--params-json F]\n"
    "HOST: [NAME=]ADDRESS[:PORT], or --inventory FILE for all of an inventory's hosts\n"
    "SSH options: --known-hosts F --identity K [--passphrase-file F] [--agent] --user U\n"
    "             [--timeout-ms N] [--connect-ms N] [--out-cap N] [--err-cap N] [--sudo]\n"
    "             [--max-handshakes N] [--count N] [--stdin-file F] [--stats]\n";

typedef struct dhost {
  char name[128], addr[128];
  int port;
} dhost;

typedef struct dopts {
  const char *known_hosts, *identity, *user, *passphrase_file, *params_json, *stdin_file,
      *inventory;
  char *passphrase;
  int agent, sudo, count, stats, max_handshakes;
  long timeout_ms, connect_ms;
  size_t out_cap, err_cap;
  dhost *hosts;
  size_t nhosts;
  const char *command;
} dopts;

typedef struct run {
  dopts *d;
  uv_loop_t *loop;
  rd_ssh *ssh;
  int failed;
  size_t pending;
  json_t *params; /* script */
  rd_remote_cmd rc;
  unsigned char *in;
  size_t inlen;
  rd_ssh_stats st;
  char *sudo_cmd;
} run;

typedef struct job {
  run *r;
  dhost *h;
  int left;
  rd_ssh_target t;
} job;

static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_err(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "renewd debug: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n%s", DEBUG_USAGE);
  return RD_EXIT_USAGE;
}

static void sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int l = 0;
  EVP_Digest(p, n, md, &l, EVP_sha256(), NULL);
  for (unsigned i = 0; i < l; i++)
    sprintf(out + 2 * i, "%02x", md[i]);
  out[2 * l] = 0;
}

static void print_json(json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(7));
  if (s) {
    puts(s);
    fflush(stdout);
    free(s);
  }
  json_decref(o);
}

/* A JSON string of arbitrary bytes for printing: invalid UTF-8 becomes U+FFFD. */
static json_t *text_json(const char *p, size_t n) {
  json_t *v = json_stringn(p, n);
  if (v)
    return v;
  char *c = malloc(n * 3 + 1);
  size_t j = 0;
  if (!c)
    return json_null();
  for (size_t i = 0; i < n; i++) {
    unsigned char b = (unsigned char)p[i];
    if (b < 0x80 && b) {
      c[j++] = (char)b;
    } else {
      memcpy(c + j, "\xEF\xBF\xBD", 3);
      j += 3;
    }
  }
  v = json_stringn(c, j);
  free(c);
  return v ? v : json_null();
}

static int parse_host(const char *spec, dhost *h) {
  const char *eq = strchr(spec, '='), *a = eq ? eq + 1 : spec, *colon;
  size_t al;
  memset(h, 0, sizeof *h);
  h->port = 22;
  if (*a == '[') {
    const char *rb = strchr(a, ']');
    if (!rb)
      return -1;
    al = (size_t)(rb - a - 1);
    if (al == 0 || al >= sizeof h->addr)
      return -1;
    memcpy(h->addr, a + 1, al);
    if (rb[1] == ':')
      h->port = atoi(rb + 2);
    else if (rb[1])
      return -1;
  } else {
    colon = strrchr(a, ':');
    al = colon ? (size_t)(colon - a) : strlen(a);
    if (al == 0 || al >= sizeof h->addr)
      return -1;
    memcpy(h->addr, a, al);
    if (colon)
      h->port = atoi(colon + 1);
  }
  if (h->port <= 0 || h->port > 65535)
    return -1;
  if (eq) {
    size_t nl = (size_t)(eq - spec);
    if (!nl || nl >= sizeof h->name)
      return -1;
    memcpy(h->name, spec, nl);
  } else {
    snprintf(h->name, sizeof h->name, "%s", h->addr);
  }
  return 0;
}

static int add_host(dopts *d, const char *spec) {
  dhost *n = realloc(d->hosts, (d->nhosts + 1) * sizeof *n);
  if (!n)
    return -1;
  d->hosts = n;
  if (parse_host(spec, &d->hosts[d->nhosts]))
    return -1;
  d->nhosts++;
  return 0;
}

static int load_inventory(dopts *d) {
  json_error_t je;
  json_t *inv = json_load_file(d->inventory, 0, &je), *hosts, *v;
  const char *name;
  if (!inv) {
    fprintf(stderr, "renewd debug: %s:%d:%d: %s\n", d->inventory, je.line, je.column, je.text);
    return -1;
  }
  hosts = json_object_get(inv, "hosts");
  json_object_foreach(hosts, name, v) {
    const char *addr = json_string_value(json_object_get(v, "address"));
    json_int_t port = json_integer_value(json_object_get(v, "port"));
    char spec[300];
    if (!addr)
      continue;
    snprintf(spec, sizeof spec, strchr(addr, ':') ? "%s=[%s]:%d" : "%s=%s:%d", name, addr,
             port > 0 ? (int)port : 22);
    if (add_host(d, spec)) {
      json_decref(inv);
      return -1;
    }
  }
  json_decref(inv);
  return 0;
}

static long num_arg(const char *s, long min) {
  char *e;
  errno = 0;
  long v = strtol(s, &e, 10);
  if (errno || *e || v < min)
    return -1;
  return v;
}

/* Parses SSH options and hosts; stops at "--" (returns its index + 1). */
static int parse_ssh_args(int argc, char **argv, int first, dopts *d, int want_command) {
  int i;
  for (i = first; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
#define NEEDV()                                                                \
  do {                                                                         \
    if (!v)                                                                    \
      return usage_err("%s needs a value", a), -1;                             \
    i++;                                                                       \
  } while (0)
    if (!strcmp(a, "--known-hosts")) {
      NEEDV();
      d->known_hosts = v;
    } else if (!strcmp(a, "--identity")) {
      NEEDV();
      d->identity = v;
    } else if (!strcmp(a, "--user")) {
      NEEDV();
      d->user = v;
    } else if (!strcmp(a, "--passphrase-file")) {
      NEEDV();
      d->passphrase_file = v;
    } else if (!strcmp(a, "--params-json")) {
      NEEDV();
      d->params_json = v;
    } else if (!strcmp(a, "--stdin-file")) {
      NEEDV();
      d->stdin_file = v;
    } else if (!strcmp(a, "--inventory")) {
      NEEDV();
      d->inventory = v;
    } else if (!strcmp(a, "--agent")) {
      d->agent = 1;
    } else if (!strcmp(a, "--sudo")) {
      d->sudo = 1;
    } else if (!strcmp(a, "--stats")) {
      d->stats = 1;
    } else if (!strcmp(a, "--timeout-ms") || !strcmp(a, "--connect-ms") ||
               !strcmp(a, "--out-cap") || !strcmp(a, "--err-cap") || !strcmp(a, "--count") ||
               !strcmp(a, "--max-handshakes")) {
      NEEDV();
      if ((n = num_arg(v, 1)) < 0)
        return usage_err("%s needs a positive number", a), -1;
      if (!strcmp(a, "--timeout-ms"))
        d->timeout_ms = n;
      else if (!strcmp(a, "--connect-ms"))
        d->connect_ms = n;
      else if (!strcmp(a, "--out-cap"))
        d->out_cap = (size_t)n;
      else if (!strcmp(a, "--err-cap"))
        d->err_cap = (size_t)n;
      else if (!strcmp(a, "--count"))
        d->count = (int)n;
      else
        d->max_handshakes = (int)n;
    } else if (a[0] == '-' && a[1] == '-') {
      return usage_err("unknown option %s", a), -1;
    } else if (add_host(d, a)) {
      return usage_err("'%s' is not [NAME=]ADDRESS[:PORT]", a), -1;
    }
#undef NEEDV
  }
  if (want_command) {
    if (i >= argc)
      return usage_err("%s", "no COMMAND after --"), -1;
    d->command = argv[i];
    if (i + 1 != argc)
      return usage_err("%s", "put COMMAND in one argument after --"), -1;
  }
  if (d->inventory && load_inventory(d))
    return -1;
  if (!d->nhosts)
    return usage_err("%s", "no HOST given"), -1;
  return 0;
}

static int need_login(dopts *d) {
  if (!d->known_hosts || !d->user || (!d->identity && !d->agent))
    return usage_err("%s", "--known-hosts, --user and --identity (or --agent) are required"), -1;
  if (d->passphrase_file) {
    size_t n = 0;
    if (rd_read_file(d->passphrase_file, 4096, &d->passphrase, &n)) {
      fprintf(stderr, "renewd debug: cannot read %s\n", d->passphrase_file);
      return -1;
    }
    while (n && (d->passphrase[n - 1] == '\n' || d->passphrase[n - 1] == '\r'))
      d->passphrase[--n] = 0;
  }
  return 0;
}

static void fill_target(job *j, dopts *d) {
  j->t.name = j->h->name;
  j->t.address = j->h->addr;
  j->t.port = j->h->port;
  j->t.user = d->user;
  j->t.identity = d->identity;
  j->t.passphrase = d->passphrase;
  j->t.known_hosts = d->known_hosts;
  j->t.agent = d->agent;
}

static rd_ssh_opts ssh_opts(const dopts *d) {
  rd_ssh_opts o;
  memset(&o, 0, sizeof o);
  o.connect_ms = d->connect_ms;
  o.op_ms = d->timeout_ms;
  o.out_cap = d->out_cap;
  o.err_cap = d->err_cap;
  return o;
}

static json_t *base_line(const char *host, const rd_exec_result *r) {
  json_t *o = json_object();
  json_object_set_new(o, "host", json_string(host));
  json_object_set_new(o, "status", json_string(r->status ? rd_errname(r->status) : "ok"));
  json_object_set_new(o, "error", r->status || *r->msg ? json_string(r->msg) : json_null());
  json_object_set_new(o, "exit", r->status ? json_null() : json_integer(r->exit_status));
  return o;
}

static void shutdown_done(void *arg) { (void)arg; }

/* With --stats every session is held until all hosts are done, so that the
 * snapshot shows the idle sessions; otherwise each is released at once. */
static void job_done(job *j) {
  run *r = j->r;
  if (!r->d->stats)
    rd_ssh_release(r->ssh, j->h->name);
  free(j);
  if (--r->pending == 0) {
    rd_ssh_get_stats(r->ssh, &r->st);
    rd_ssh_shutdown(r->ssh, shutdown_done, NULL);
  }
}

/* ------------------------------------------------------------------ exec */

static int exec_submit(job *j);

static void on_exec(const rd_exec_result *res, void *arg) {
  job *j = arg;
  char sha[65];
  json_t *o = base_line(j->h->name, res);
  sha256_hex(res->out, res->out_len, sha);
  json_object_set_new(o, "stdout_len", json_integer((json_int_t)res->out_len));
  json_object_set_new(o, "stdout_sha256", json_string(sha));
  json_object_set_new(o, "stdout_truncated", json_boolean(res->out_truncated));
  json_object_set_new(o, "stderr", text_json(res->err, res->err_len));
  json_object_set_new(o, "ms", json_real((double)(int64_t)(res->ms * 10) / 10));
  json_t *txt = res->out_len <= 256 ? json_stringn(res->out, res->out_len) : NULL;
  if (txt) /* short UTF-8 output is shown as it is */
    json_object_set_new(o, "stdout", txt);
  print_json(o);
  if (res->status)
    j->r->failed = 1;
  if (--j->left > 0 && !res->status && exec_submit(j) == 0)
    return;
  job_done(j);
}

static int exec_submit(job *j) {
  run *r = j->r;
  rd_ssh_opts o = ssh_opts(r->d);
  return rd_ssh_exec(r->ssh, &j->t, r->d->command, r->in, r->inlen, &o, on_exec, j);
}

/* ------------------------------------------------------------------ script */

static int script_submit(job *j);

static void on_script(const rd_exec_result *res, void *arg) {
  job *j = arg;
  run *r = j->r;
  json_t *o = base_line(j->h->name, res), *out = NULL, *mism = json_array(), *sums = json_object();
  char err[256] = "";
  size_t matched = 0;
  json_object_set_new(o, "stderr", text_json(res->err, res->err_len));
  if (!res->status && res->exit_status == 0 &&
      rd_remote_parse_posix(res->out, res->out_len, &out, err, sizeof err) == 0) {
    const char *k;
    json_t *v;
    json_object_foreach(r->params, k, v) {
      char fk[96], vk[96], sha[65];
      snprintf(fk, sizeof fk, "f_%s", k);
      snprintf(vk, sizeof vk, "v_%s", k);
      json_t *f = json_object_get(out, fk), *var = json_object_get(out, vk);
      const char *want = json_string_value(v);
      size_t wl = json_string_length(v), vl = wl;
      while (vl && want[vl - 1] == '\n') /* $(...) drops trailing newlines */
        vl--;
      int ok = f && json_string_length(f) == wl && !memcmp(json_string_value(f), want, wl) && var &&
               json_string_length(var) == vl && !memcmp(json_string_value(var), want, vl);
      if (f) {
        sha256_hex(json_string_value(f), json_string_length(f), sha);
        json_object_set_new(sums, k, json_string(sha));
      }
      if (ok)
        matched++;
      else
        json_array_append_new(mism, json_string(k));
    }
    json_object_set_new(o, "whoami", json_incref(json_object_get(out, "whoami")));
    json_decref(out);
  } else if (!res->status) {
    json_object_set_new(o, "parse_error", json_string(*err ? err : "non-zero exit"));
  }
  json_object_set_new(o, "params", json_integer((json_int_t)json_object_size(r->params)));
  json_object_set_new(o, "matched", json_integer((json_int_t)matched));
  json_object_set_new(o, "mismatches", mism);
  json_object_set_new(o, "sha256", sums);
  json_object_set_new(o, "ms", json_real((double)(int64_t)(res->ms * 10) / 10));
  if (res->status || res->exit_status || matched != json_object_size(r->params))
    r->failed = 1;
  print_json(o);
  if (--j->left > 0 && !res->status && script_submit(j) == 0)
    return;
  job_done(j);
}

static int script_submit(job *j) {
  run *r = j->r;
  rd_ssh_opts o = ssh_opts(r->d);
  return rd_ssh_exec(r->ssh, &j->t, r->rc.command, r->rc.stdin_data, r->rc.stdin_len, &o,
                     on_script, j);
}

/* {"name": "text" | {"b64": "..."}} -> object of byte strings */
static json_t *load_params(const char *path) {
  json_error_t je;
  json_t *in = json_load_file(path, 0, &je), *out, *v;
  const char *k;
  if (!in || !json_is_object(in)) {
    fprintf(stderr, "renewd debug: %s:%d:%d: %s\n", path, je.line, je.column,
                in ? "expected an object" : je.text);
    json_decref(in);
    return NULL;
  }
  out = json_object();
  json_object_foreach(in, k, v) {
    if (json_is_object(v)) {
      const char *b = json_string_value(json_object_get(v, "b64"));
      unsigned char *raw = NULL;
      size_t rl = 0;
      if (!b || rd_base64_decode(b, strlen(b), &raw, &rl)) {
        fprintf(stderr, "renewd debug: %s: parameter %s: bad {\"b64\": ...}\n", path, k);
        json_decref(in);
        json_decref(out);
        return NULL;
      }
      json_t *s = json_stringn((const char *)raw, rl);
      json_object_set_new(out, k, s ? s : json_stringn_nocheck((const char *)raw, rl));
      free(raw);
    } else {
      json_object_set(out, k, v);
    }
  }
  json_decref(in);
  return out;
}

/* ------------------------------------------------------------------ ssh verbs */

static void print_stats(run *r, uint64_t t0, size_t ops) {
  struct rusage ru;
  double wall = (double)(uv_hrtime() - t0) / 1e9;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
               ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
  fprintf(stderr,
          "stats: %zu ops on %zu hosts in %.3f s = %.1f ops/s; cpu %.3f s = %.2f ms/op; "
          "max rss %ld KB; %zu idle sessions held %zu bytes of libssh2 heap (%zu per session), "
          "peak per session %zu bytes\n",
          ops, r->d->nhosts, wall, wall > 0 ? (double)ops / wall : 0.0, cpu,
          ops ? cpu * 1000 / (double)ops : 0.0, ru.ru_maxrss, r->st.ready, r->st.heap_bytes,
          r->st.sessions ? r->st.heap_bytes / r->st.sessions : (size_t)0,
          r->st.peak_session_bytes);
}

static int run_ssh(dopts *d, int script) {
  uv_loop_t loop;
  run r;
  rd_ssh_limits lim = {d->max_handshakes, 30};
  uint64_t t0 = uv_hrtime();
  int rc = RD_EXIT_OK;
  memset(&r, 0, sizeof r);
  r.d = d;
  if (d->count <= 0)
    d->count = 1;
  if (d->stdin_file && rd_read_file(d->stdin_file, (size_t)1 << 30, (char **)&r.in, &r.inlen)) {
    fprintf(stderr, "renewd debug: cannot read %s\n", d->stdin_file);
    return RD_EXIT_USAGE;
  }
  if (script) {
    rd_script s = {"debug.echo", RD_PLATFORM_POSIX, 0, 1, ECHO_SCRIPT};
    char err[512];
    if (!d->params_json)
      return usage_err("%s", "--params-json FILE is required");
    if (!(r.params = load_params(d->params_json)))
      return RD_EXIT_USAGE;
    if (rd_remote_build(&s, r.params, d->sudo, &r.rc, err, sizeof err)) {
      fprintf(stderr, "renewd debug: %s\n", err);
      json_decref(r.params);
      return RD_EXIT_USAGE;
    }
  }
  if (!script && d->sudo) {
    size_t n = strlen(d->command) + 16;
    if (!(r.sudo_cmd = malloc(n)))
      return RD_EXIT_FAILED;
    snprintf(r.sudo_cmd, n, "sudo -n %s", d->command);
    d->command = r.sudo_cmd;
  }
  uv_loop_init(&loop);
  r.loop = &loop;
  if (rd_ssh_new(&loop, &lim, &r.ssh)) {
    fprintf(stderr, "renewd debug: cannot start the SSH layer\n");
    return RD_EXIT_FAILED;
  }
  for (size_t i = 0; i < d->nhosts; i++) {
    job *j = calloc(1, sizeof *j);
    if (!j)
      break;
    j->r = &r;
    j->h = &d->hosts[i];
    j->left = d->count;
    fill_target(j, d);
    int e;
    r.pending++;
    e = script ? script_submit(j) : exec_submit(j);
    if (e) {
      fprintf(stderr, "renewd debug: host %s: %s\n", j->h->name, rd_strerror(e));
      r.failed = 1;
      r.pending--;
      free(j);
    }
  }
  if (!r.pending)
    rd_ssh_shutdown(r.ssh, shutdown_done, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (d->stats)
    print_stats(&r, t0, d->nhosts * (size_t)d->count);
  if (uv_loop_close(&loop)) {
    fprintf(stderr, "renewd debug: handles left open at exit (bug)\n");
    rc = RD_EXIT_FAILED;
  }
  json_decref(r.params);
  rd_remote_cmd_free(&r.rc);
  free(r.in);
  free(r.sudo_cmd);
  return r.failed ? RD_EXIT_FAILED : rc;
}

/* ------------------------------------------------------------------ hostkey */

typedef struct hkrun {
  rd_ssh *m;
  int failed;
  size_t pending;
} hkrun;

typedef struct hkjob {
  dhost *h;
  hkrun *r;
} hkjob;

static void on_hostkey(int status, const char *key_line, const char *fp, const char *msg,
                       void *arg) {
  hkjob *j = arg;
  json_t *o = json_object();
  json_object_set_new(o, "host", json_string(j->h->name));
  json_object_set_new(o, "status", json_string(status ? rd_errname(status) : "ok"));
  json_object_set_new(o, "error", msg ? json_string(msg) : json_null());
  json_object_set_new(o, "fingerprint", fp ? json_string(fp) : json_null());
  json_object_set_new(o, "key_line", key_line ? json_string(key_line) : json_null());
  print_json(o);
  if (status)
    j->r->failed = 1;
  if (--j->r->pending == 0)
    rd_ssh_shutdown(j->r->m, shutdown_done, NULL);
  free(j);
}

static int cmd_hostkey(int argc, char **argv) {
  dopts d;
  uv_loop_t loop;
  hkrun r;
  memset(&d, 0, sizeof d);
  memset(&r, 0, sizeof r);
  if (parse_ssh_args(argc, argv, 2, &d, 0))
    return RD_EXIT_USAGE;
  uv_loop_init(&loop);
  if (rd_ssh_new(&loop, NULL, &r.m))
    return RD_EXIT_FAILED;
  rd_ssh_opts o = ssh_opts(&d);
  for (size_t i = 0; i < d.nhosts; i++) {
    hkjob *j = calloc(1, sizeof *j);
    rd_ssh_target t;
    memset(&t, 0, sizeof t);
    t.name = d.hosts[i].name;
    t.address = d.hosts[i].addr;
    t.port = d.hosts[i].port;
    j->h = &d.hosts[i];
    j->r = &r;
    r.pending++;
    if (rd_ssh_fetch_hostkey(r.m, &t, &o, on_hostkey, j)) {
      free(j);
      r.pending--;
      r.failed = 1;
    }
  }
  if (!r.pending)
    rd_ssh_shutdown(r.m, shutdown_done, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  int busy = uv_loop_close(&loop);
  free(d.hosts);
  return r.failed || busy ? RD_EXIT_FAILED : RD_EXIT_OK;
}

/* ------------------------------------------------------------------ http */

typedef struct hrun {
  rd_http *h;
  int pending, failed, body;
} hrun;

typedef struct hreq {
  hrun *r;
  int i;
} hreq;

static void on_http(const rd_http_result *res, void *arg) {
  hreq *q = arg;
  hrun *r = q->r;
  char sha[65];
  json_t *o = json_object();
  sha256_hex(res->body ? (const void *)res->body : "", res->body_len, sha);
  json_object_set_new(o, "i", json_integer(q->i));
  json_object_set_new(o, "status", json_string(res->status ? rd_errname(res->status) : "ok"));
  json_object_set_new(o, "error", res->status ? json_string(res->msg) : json_null());
  json_object_set_new(o, "code", json_integer(res->code));
  json_object_set_new(o, "content_type",
                      res->content_type ? json_string(res->content_type) : json_null());
  json_object_set_new(o, "body_len", json_integer((json_int_t)res->body_len));
  json_object_set_new(o, "body_sha256", json_string(sha));
  if (r->body)
    json_object_set_new(o, "body", text_json((const char *)res->body, res->body_len));
  json_object_set_new(o, "ms", json_real((double)(int64_t)(res->ms * 10) / 10));
  print_json(o);
  if (res->status || res->code < 200 || res->code > 299)
    r->failed = 1;
  free(q);
  if (--r->pending == 0)
    rd_http_shutdown(r->h, shutdown_done, NULL);
}

static int cmd_http(int argc, char **argv) {
  const char *url = NULL;
  long n = 1;
  rd_http_opts o;
  hrun r;
  uv_loop_t loop;
  memset(&o, 0, sizeof o);
  memset(&r, 0, sizeof r);
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--n") || !strcmp(a, "--timeout-ms") || !strcmp(a, "--max-body")) {
      long x;
      if (!v || (x = num_arg(v, 1)) < 0)
        return usage_err("%s needs a positive number", a);
      i++;
      if (!strcmp(a, "--n"))
        n = x;
      else if (!strcmp(a, "--timeout-ms"))
        o.timeout_ms = x;
      else
        o.max_body = (size_t)x;
    } else if (!strcmp(a, "--cacert")) {
      if (!v)
        return usage_err("%s needs a value", a);
      o.ca_bundle = v;
      i++;
    } else if (!strcmp(a, "--insecure")) {
      o.insecure = 1;
    } else if (!strcmp(a, "--body")) {
      r.body = 1;
    } else if (a[0] == '-' && a[1] == '-') {
      return usage_err("unknown option %s", a);
    } else if (!url) {
      url = a;
    } else {
      return usage_err("one URL only (got also '%s')", a);
    }
  }
  if (!url)
    return usage_err("%s", "no URL given");
  uv_loop_init(&loop);
  if (rd_http_new(&loop, &r.h))
    return RD_EXIT_FAILED;
  for (long i = 0; i < n; i++) {
    hreq *q = calloc(1, sizeof *q);
    q->r = &r;
    q->i = (int)i;
    r.pending++;
    int e = rd_http_submit(r.h, "GET", url, NULL, NULL, 0, &o, on_http, q);
    if (e) {
      fprintf(stderr, "renewd debug: %s: %s\n", url, rd_strerror(e));
      r.pending--;
      r.failed = 1;
      free(q);
    }
  }
  if (!r.pending)
    rd_http_shutdown(r.h, shutdown_done, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  int busy = uv_loop_close(&loop);
  return r.failed || busy ? RD_EXIT_FAILED : RD_EXIT_OK;
}

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
      return usage_err("%s needs a value", a);
    if (!strcmp(a, "--script"))
      script = v;
    else if (!strcmp(a, "--out"))
      outp = v;
    else if (!strcmp(a, "--name"))
      name = v;
    else if (!strcmp(a, "--params-json"))
      pj = v;
    else
      return usage_err("unknown option %s", a);
    i++;
  }
  if (!script || !outp)
    return usage_err("%s", "--script FILE and --out FILE are required");
  if (rd_read_file(script, (size_t)16 << 20, &text, &tl)) {
    fprintf(stderr, "renewd debug: cannot read %s\n", script);
    return RD_EXIT_USAGE;
  }
  if (pj && !(params = load_params(pj))) {
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
    print_json(o);
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
    fputs(DEBUG_USAGE, stderr);
    return RD_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "http"))
    return cmd_http(argc, argv);
  if (!strcmp(argv[1], "hostkey"))
    return cmd_hostkey(argc, argv);
  if (!strcmp(argv[1], "psbuild"))
    return cmd_psbuild(argc, argv);
  if (strcmp(argv[1], "exec") && strcmp(argv[1], "script"))
    return usage_err("unknown debug command '%s'", argv[1]);
  memset(&d, 0, sizeof d);
  int script = !strcmp(argv[1], "script");
  if (parse_ssh_args(argc, argv, 2, &d, !script) || need_login(&d)) {
    free(d.hosts);
    return RD_EXIT_USAGE;
  }
  rc = run_ssh(&d, script);
  if (d.passphrase) {
    explicit_bzero(d.passphrase, strlen(d.passphrase));
    free(d.passphrase);
  }
  free(d.hosts);
  return rc;
}
