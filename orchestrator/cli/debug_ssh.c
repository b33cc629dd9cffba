/* debug_ssh.c — `renewd debug exec|script|hostkey`: the SSH layer by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/debug.h"
#include "transport/remote.h"
#include "transport/ssh.h"

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

void dbg_shutdown_done(void *arg) { (void)arg; }

/* With --stats every session is held until all hosts are done, so that the
 * snapshot shows the idle sessions; otherwise each is released at once. */
static void job_done(job *j) {
  run *r = j->r;
  if (!r->d->stats)
    rd_ssh_release(r->ssh, j->h->name);
  free(j);
  if (--r->pending == 0) {
    rd_ssh_get_stats(r->ssh, &r->st);
    rd_ssh_shutdown(r->ssh, dbg_shutdown_done, NULL);
  }
}


/* ------------------------------------------------------------------ exec */

static int exec_submit(job *j);

static void on_exec(const rd_exec_result *res, void *arg) {
  job *j = arg;
  char sha[65];
  json_t *o = base_line(j->h->name, res);
  dbg_sha256_hex(res->out, res->out_len, sha);
  json_object_set_new(o, "stdout_len", json_integer((json_int_t)res->out_len));
  json_object_set_new(o, "stdout_sha256", json_string(sha));
  json_object_set_new(o, "stdout_truncated", json_boolean(res->out_truncated));
  json_object_set_new(o, "stderr", dbg_text_json(res->err, res->err_len));
  json_object_set_new(o, "ms", json_real((double)(int64_t)(res->ms * 10) / 10));
  json_t *txt = res->out_len <= 256 ? json_stringn(res->out, res->out_len) : NULL;
  if (txt) /* short UTF-8 output is shown as it is */
    json_object_set_new(o, "stdout", txt);
  dbg_print_json(o);
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
  json_object_set_new(o, "stderr", dbg_text_json(res->err, res->err_len));
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
        dbg_sha256_hex(json_string_value(f), json_string_length(f), sha);
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
  dbg_print_json(o);
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

int dbg_run_ssh(dopts *d, int script) {
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
      return dbg_usage_err("%s", "--params-json FILE is required");
    if (!(r.params = dbg_load_params(d->params_json)))
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
    rd_ssh_shutdown(r.ssh, dbg_shutdown_done, NULL);
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
  dbg_print_json(o);
  if (status)
    j->r->failed = 1;
  if (--j->r->pending == 0)
    rd_ssh_shutdown(j->r->m, dbg_shutdown_done, NULL);
  free(j);
}

int dbg_hostkey(int argc, char **argv) {
  dopts d;
  uv_loop_t loop;
  hkrun r;
  memset(&d, 0, sizeof d);
  memset(&r, 0, sizeof r);
  if (dbg_parse_ssh_args(argc, argv, 2, &d, 0)) {
    free(d.hosts);
    return RD_EXIT_USAGE;
  }
  uv_loop_init(&loop);
  if (rd_ssh_new(&loop, NULL, &r.m)) {
    free(d.hosts);
    return RD_EXIT_FAILED;
  }
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
    rd_ssh_shutdown(r.m, dbg_shutdown_done, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  int busy = uv_loop_close(&loop);
  free(d.hosts);
  return r.failed || busy ? RD_EXIT_FAILED : RD_EXIT_OK;
}
