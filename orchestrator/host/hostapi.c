/* hostapi.c — the host API table (renewd/plugin.h) that step kinds call:
 * context, facts, logging, durable values, remote scripts over SSH, HTTP,
 * off-loop work, secrets and completion. The whatif guard lives here: a
 * mutating script is refused before anything is sent.
 *
 * Every operation a step starts is an rd_call linked in the step, stamped
 * with the step's serial and phase. Every callback runs exactly once (so a
 * plugin can free what it passed); while the step still runs that very
 * phase call it carries the answer. A late one (the phase timed out, the
 * job moved on or ended) runs with RD_ECANCELED and no answer, inside
 * late_begin/late_end: whatever it reports (done, set_state, journal_put,
 * a new request) is ignored or refused, so it can never finish the step's
 * next phase. On a timeout the engine cancels what is in flight
 * (rd_host_cancel_calls). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine_int.h"
#include "host/batch.h"
#include "host/hostapi.h"
#include "base/crashpoint.h"
#include "base/log.h"
#include "base/err.h"
#include "transport/remote.h"
#include "base/util.h"
#include "base/x509.h"

/* A step's line goes through the one logger (base/log.h) with its job's
 * host, runbook, certificate(s) and journal job id; the logger escapes
 * every value (plugin messages carry target output and runbook values). */
void rd_step_log(rd_step *s, rd_log_level level, const char *fmt, ...) {
  static const rd_lv lv[] = {RD_LV_ERR, RD_LV_WARNING, RD_LV_INFO, RD_LV_DEBUG};
  rd_job *j = s->j;
  char buf[2048], cert[512] = "-";
  va_list ap;
  if (level == RD_LOG_DEBUG && !j->e->opts.verbose)
    return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (j->rb)
    rd_certs_id(j, cert, sizeof cert);
  rd_log_job job = {j->t->name, j->rb ? j->rb->name : "-", cert, (long long)j->id};
  rd_log_job_line(lv[level <= RD_LOG_DEBUG ? level : RD_LOG_DEBUG], &job, "%s: %s", s->name, buf);
}

static const json_t *h_params(rd_step *s) { return s->params; }
static const char *h_host(rd_step *s) { return s->j->t->name; }
static rd_platform h_platform(rd_step *s) { return s->j->t->platform; }
static int h_whatif(rd_step *s) { return s->j->e->opts.whatif; }
/* a step sees its own certificate's facts, selector and policy (the job's
 * first for a host-level step that names none: docs/PLUGINS.md) */
static json_t *h_facts(rd_step *s) { return s->facts ? s->facts : s->j->facts; }

static const json_t *h_section(rd_step *s, const char *name) {
  const rd_runbook *rb = s->j->rb;
  if (!strcmp(name, "certificate"))
    return s->cert < rb->ncerts ? rb->certs[s->cert].selector : rb->certificate;
  if (!strcmp(name, "policy") && s->cert < rb->ncerts)
    return rb->certs[s->cert].policy_json;
  if (!strcmp(name, "issuer"))
    return rb->issuer;
  if (!strcmp(name, "policy") || !strcmp(name, "ssh") || !strcmp(name, "schedule") ||
      !strcmp(name, "steps"))
    return json_object_get(rb->root, name);
  return NULL;
}

static void h_log(rd_step *s, rd_log_level level, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  rd_step_log(s, level, "%s", buf);
}

static void h_set_data(rd_step *s, void *data, void (*free_fn)(void *)) {
  if (s->data_free && s->data && s->data != data)
    s->data_free(s->data);
  s->data = data;
  s->data_free = free_fn;
}

static void *h_data(rd_step *s) { return s->data; }

/* journal_put / journal_get: core/jobwrite.c (off the loop on PostgreSQL) */
static int h_journal_put(rd_step *s, const char *key, const json_t *value) {
  return rd_job_journal_put(s, key, value);
}

static json_t *h_journal_get(rd_step *s, const char *key) { return rd_job_journal_get(s, key); }

static int h_set_state(rd_step *s, const char *state) {
  int st = rd_job_state_parse(state);
  if (st < 0)
    return RD_EINVAL;
  return rd_job_request_state(s, (rd_job_state)st);
}

/* --- operations in flight ---------------------------------------------------- */

static void call_link(rd_step *s, rd_call *c, rd_call_kind kind) {
  c->s = s;
  c->serial = s->serial;
  c->phase = s->phase;
  c->kind = kind;
  c->next = s->calls;
  if (s->calls)
    s->calls->pprev = &c->next;
  c->pprev = &s->calls;
  s->calls = c;
}

static void call_unlink(rd_call *c) {
  if (!c->pprev)
    return;
  *c->pprev = c->next;
  if (c->next)
    c->next->pprev = c->pprev;
  c->pprev = NULL;
  c->next = NULL;
}

/* Is this completion late: its phase call is no longer the one running? */
int rd_host_call_stale(const rd_call *c) {
  const rd_step *s = c->s;
  return s->j->finished || !s->busy || s->ignoring || c->serial != s->serial ||
         c->phase != s->phase;
}

/* A late callback runs between these: nothing it reports counts. */
static void late_begin(rd_step *s) { s->ignoring++; }
static void late_end(rd_step *s) { s->ignoring--; }

/* May a step start an operation now? Only from a running phase call. */
static int call_allowed(const rd_step *s) {
  return s->busy && !s->ignoring && !s->j->finished;
}

/* --- remote scripts -------------------------------------------------------- */

typedef rd_remote_call remote_call;

/* Round trips of this process, numbered for the trace (the scripts of one
 * batch share one) and as the requests' tokens in a session shell. */
static unsigned long trip_count;
unsigned long rd_host_next_trip(void) { return ++trip_count; }

static void remote_call_free(remote_call *c) {
  call_unlink(&c->call);
  rd_remote_cmd_free(&c->cmd);
  json_decref(c->trace_params);
  json_decref(c->params);
  free(c);
}

/* RENEWD_TRACE_REMOTE=FILE appends one JSON line per remote script: host,
 * script, "exec" (the number of the remote execution, an SSH channel with
 * its shell, that carried it: the scripts of one batch, and every request
 * of one session shell, share it; 0 when none was opened), "trip" (its
 * round trip: the scripts of one batch share it), "batched", "sudo", parameters
 * (secret* redacted),
 * exit status, stdout and stderr —
 * exactly what crossed the wire in plaintext, for debugging and for the
 * tests that prove private keys never leave a target. */
static void trace_remote(const remote_call *c, const rd_exec_result *r) {
  const char *path = getenv("RENEWD_TRACE_REMOTE");
  FILE *f;
  if (!path || !*path || !(f = fopen(path, "a")))
    return;
  json_t *line = json_pack("{s:s, s:s, s:I, s:I, s:b, s:b, s:O?, s:i, s:i, s:s#, s:s#}", "host",
                           c->call.s->j->t->name, "script", c->script->name, "exec",
                           (json_int_t)r->channel, "trip", (json_int_t)c->trip, "batched",
                           c->batch != NULL, "sudo", c->sudo, "params",
                           c->trace_params, "status",
                           r->status, "exit", r->exit_status, "stdout", r->out ? r->out : "",
                           (int)(r->out ? r->out_len : 0), "stderr", r->err ? r->err : "",
                           (int)(r->err ? r->err_len : 0));
  char *txt = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  if (txt)
    fprintf(f, "%s\n", txt);
  free(txt);
  json_decref(line);
  fclose(f);
}

/* msg after a leading "host NAME: ", or msg itself. */
static const char *without_host(const char *msg, const char *name) {
  size_t n = strlen(name);
  if (!strncmp(msg, "host ", 5) && !strncmp(msg + 5, name, n) && !strncmp(msg + 5 + n, ": ", 2))
    return msg + 5 + n + 2;
  return msg;
}

void rd_host_remote_done(const rd_exec_result *r, void *arg) {
  remote_call *c = arg;
  rd_step *s = c->call.s;
  rd_remote_result rr = {0};
  json_t *doc = NULL;
  char err[256] = "";
  int status = r->status;
  trace_remote(c, r);
  rd_crashpoint("remote.%s/%s", c->script->mutating ? "changed" : "read", c->script->name);
  if (rd_host_call_stale(&c->call)) { /* timed out, or the job moved on */
    rd_step_log(s, RD_LOG_DEBUG, "script %s: late answer dropped (%s)", c->script->name,
                status ? r->msg : "ran to the end");
    rr.exit_status = -1;
    rr.out = rr.err = "";
    call_unlink(&c->call);
    late_begin(s);
    c->cb(s, RD_ECANCELED, &rr, c->arg);
    late_end(s);
    remote_call_free(c);
    return;
  }
  if (status == 0 && r->out_len > 0) {
    int prc = s->j->t->platform == RD_PLATFORM_WINDOWS
                  ? rd_remote_parse_windows(r->out, r->out_len, &doc, err, sizeof err)
                  : rd_remote_parse_posix(r->out, r->out_len, &doc, err, sizeof err);
    if (prc)
      rd_step_log(s, RD_LOG_DEBUG, "script %s: output is not a result document: %s",
                  c->script->name, err);
  }
  rr.exit_status = r->exit_status;
  rr.json = doc;
  rr.out = r->out ? r->out : "";
  rr.out_len = r->out_len;
  /* a transport failure: its message (e.g. both fingerprints of a changed
   * host key) is what the plugin reports, with any stderr that came before
   * it — without the transport's own "host NAME: " prefix, which donef
   * adds again */
  char cause[1024];
  if (status && r->err && *r->err) /* e.g. a timeout after some stderr */
    snprintf(cause, sizeof cause, "%s (stderr: %s)", without_host(r->msg, s->j->t->name), r->err);
  else
    snprintf(cause, sizeof cause, "%s", status ? without_host(r->msg, s->j->t->name) : "");
  rr.err = !status && r->err ? r->err : cause;
  if (status)
    rd_step_log(s, RD_LOG_DEBUG, "script %s: %s", c->script->name, r->msg);
  call_unlink(&c->call);
  c->cb(s, status, &rr, c->arg);
  json_decref(doc);
  remote_call_free(c);
}

static void remote_upload_done(const rd_exec_result *r, void *arg) {
  remote_call *c = arg;
  rd_step *s = c->call.s;
  rd_engine *e = s->j->e;
  rd_ssh_opts o = {.connect_ms = s->j->rb->ssh.connect_timeout_ms, .op_ms = s->timeout_ms,
                   .id_out = &c->call.op_id};
  c->call.op_id = 0;
  if (r->status || !e->ssh || rd_host_call_stale(&c->call)) {
    rd_exec_result fail = *r;
    if (!fail.status)
      fail.status = RD_ECANCELED;
    rd_host_remote_done(&fail, c);
    return;
  }
  if (rd_ssh_exec(e->ssh, &s->j->st, c->cmd.command, c->cmd.stdin_data, c->cmd.stdin_len, &o,
                  rd_host_remote_done, c)) {
    rd_exec_result fail = {.status = RD_EIO};
    snprintf(fail.msg, sizeof fail.msg, "host %s: cannot queue the command", s->j->t->name);
    rd_host_remote_done(&fail, c);
  }
}

/* Redact parameters whose name marks them secret before printing. */
static json_t *redacted(const json_t *params) {
  json_t *copy = json_deep_copy(params);
  const char *k;
  json_t *v;
  json_object_foreach(copy, k, v) {
    if (!strncmp(k, "secret", 6))
      json_object_set_new(copy, k, json_string("<redacted>"));
  }
  return copy;
}

static int send_alone(remote_call *c);

/* c into its batch, its session shell or alone. */
static int remote_go(remote_call *c) {
  rd_job *j = c->call.s->j;
  int rc;
  if (rd_batch_hold(j, c))
    return 0;
  return rd_batch_session_send(j, c, &rc) ? rc : send_alone(c);
}

void rd_host_remote_unsent(remote_call *c, int err, const char *why) {
  rd_exec_result fail = {.status = err, .exit_status = -1};
  snprintf(fail.msg, sizeof fail.msg, "host %s: not sent: %s", c->call.s->j->t->name, why);
  rd_host_remote_done(&fail, c);
}

/* A call held for the step's journal writes (rd_job_hold_call): sent, or
 * answered with err (a write failed) -- or as a late one, its phase over. */
static void remote_release(rd_call *call, int err) {
  remote_call *c = (remote_call *)call;
  if (!err && rd_host_call_stale(call))
    rd_host_remote_unsent(c, RD_ECANCELED, "its phase is over");
  else if (err)
    rd_host_remote_unsent(c, err, "the job's journal write failed");
  else if ((err = remote_go(c)))
    rd_host_remote_unsent(c, err, "cannot queue the command");
}

static int h_remote(rd_step *s, const rd_script *script, json_t *params, rd_remote_cb cb,
                    void *arg) {
  rd_job *j = s->j;
  rd_engine *e = j->e;
  remote_call *c;
  char err[256];
  int rc;
  if (!params)
    params = json_object();
  if (script && script->mutating && e->opts.whatif) {
    rd_step_log(s, RD_LOG_ERROR, "refused to run mutating script %s in whatif mode", script->name);
    json_decref(params);
    return RD_EWHATIF;
  }
  if (!script || !cb) {
    json_decref(params);
    return RD_EINVAL;
  }
  if (!e->ssh || !call_allowed(s)) {
    json_decref(params);
    return RD_ECANCELED;
  }
  if (script->platform != RD_PLATFORM_ANY && script->platform != j->t->platform) {
    rd_step_log(s, RD_LOG_ERROR, "script %s is for another platform", script->name);
    json_decref(params);
    return RD_ENOTSUP;
  }
  if (e->opts.show_scripts) {
    json_t *shown = redacted(params);
    char *ptxt = json_dumps(shown, JSON_INDENT(2) | JSON_SORT_KEYS);
    fprintf(e->opts.out, "--- host %s: script %s%s ---\n%s\n--- parameters ---\n%s\n---\n",
            j->t->name, script->name, script->mutating ? " (mutating)" : " (read-only)",
            script->text, ptxt ? ptxt : "{}");
    free(ptxt);
    json_decref(shown);
  }
  if (!(c = calloc(1, sizeof *c))) {
    json_decref(params);
    return RD_ENOMEM;
  }
  c->script = script;
  if (getenv("RENEWD_TRACE_REMOTE"))
    c->trace_params = redacted(params);
  c->cb = cb;
  c->arg = arg;
  c->sudo = j->rb->ssh.sudo && script->sudo;
  rc = rd_remote_build(script, params, c->sudo, &c->cmd, err, sizeof err);
  if (rc) {
    rd_step_log(s, RD_LOG_ERROR, "script %s: %s", script->name, err);
    json_decref(params);
    remote_call_free(c);
    return rc;
  }
  call_link(s, &c->call, RD_CALL_SSH);
  c->params = params; /* kept for a batch, dropped when sent alone */
  /* after the step's journal writes are committed (core/jobwrite.c) */
  if ((rc = rd_job_hold_call(j, &c->call, remote_release)) != 0) {
    if (rc < 0) /* one failed: nothing more is sent */
      remote_call_free(c);
    return rc < 0 ? rc : 0;
  }
  if ((rc = remote_go(c)))
    remote_call_free(c);
  return rc;
}

void rd_host_remote_send(remote_call *c) {
  int rc = send_alone(c);
  if (rc) { /* held, so its step already expects the callback */
    rd_exec_result fail = {.status = rc, .exit_status = -1};
    snprintf(fail.msg, sizeof fail.msg, "host %s: cannot queue the command", c->call.s->j->t->name);
    rd_host_remote_done(&fail, c);
  }
}

/* One call alone: its own channel and shell. */
static int send_alone(remote_call *c) {
  rd_step *s = c->call.s;
  rd_job *j = s->j;
  rd_engine *e = j->e;
  rd_ssh_opts o = {.connect_ms = j->rb->ssh.connect_timeout_ms, .op_ms = s->timeout_ms,
                   .id_out = &c->call.op_id};
  int rc;
  json_decref(c->params);
  c->params = NULL;
  c->trip = rd_host_next_trip();
  if (!e->ssh)
    rc = RD_ECANCELED;
  else if (c->cmd.upload_path)
    rc = rd_ssh_put(e->ssh, &j->st, c->cmd.upload_path, c->cmd.upload_data, c->cmd.upload_len,
                    0600, &o, remote_upload_done, c);
  else
    rc = rd_ssh_exec(e->ssh, &j->st, c->cmd.command, c->cmd.stdin_data, c->cmd.stdin_len, &o,
                     rd_host_remote_done, c);
  return rc;
}

/* --- HTTP ------------------------------------------------------------------- */

typedef struct http_call {
  rd_call call;         /* first: the step's list of calls */
  rd_http_cb cb;
  void *arg;
  char method[8];       /* for the crash point of its reply */
  char *url, *content_type; /* the request, copied: it may wait for the */
  unsigned char *body;  /* step's journal writes (rd_job_hold_call) */
  size_t body_len;
  long timeout_ms;
} http_call;

static void http_call_free(http_call *c) {
  free(c->url);
  free(c->content_type);
  free(c->body);
  free(c);
}

/* What a plugin's rd_http_cb receives: the response and, behind it, its
 * header lines for h_http_header. */
typedef struct h_response {
  rd_http_response pub; /* first */
  const char *headers;
} h_response;

static int h_http_header_at(const rd_http_response *r, const char *name, size_t index, char *out,
                            size_t outlen) {
  const char *p = r ? ((const h_response *)r)->headers : NULL;
  size_t nl = name ? strlen(name) : 0;
  if (!nl || !out || !outlen)
    return RD_EINVAL;
  for (; p && *p; p += strcspn(p, "\n"), p += *p == '\n') {
    if (strncasecmp(p, name, nl) || p[nl] != ':' || index-- > 0)
      continue;
    const char *v = p + nl + 1, *end;
    v += strspn(v, " \t");
    end = v + strcspn(v, "\r\n");
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    if ((size_t)(end - v) + 1 > outlen)
      return RD_EOVERFLOW;
    memcpy(out, v, (size_t)(end - v));
    out[end - v] = 0;
    return 0;
  }
  return RD_ENOTFOUND;
}

static int h_http_header(const rd_http_response *r, const char *name, char *out, size_t outlen) {
  return h_http_header_at(r, name, 0, out, outlen);
}

static void http_done(const rd_http_result *r, void *arg) {
  http_call *c = arg;
  rd_step *s = c->call.s;
  h_response hr = {{r->code, r->content_type, r->body, r->body_len}, r->headers};
  int stale = rd_host_call_stale(&c->call);
  rd_crashpoint("http.reply/%s/%ld", c->method, r->code); /* counted per method */
  if (r->status)
    rd_step_log(s, RD_LOG_DEBUG, "http: %s%s", r->msg, stale ? " (late answer dropped)" : "");
  call_unlink(&c->call);
  if (stale) { /* a late answer: the callback runs without it */
    h_response none = {{0, NULL, NULL, 0}, NULL};
    late_begin(s);
    c->cb(s, RD_ECANCELED, &none.pub, c->arg);
    late_end(s);
  } else {
    c->cb(s, r->status, &hr.pub, c->arg);
  }
  http_call_free(c);
}

/* c's request submitted. */
static int http_go(http_call *c) {
  rd_step *s = c->call.s;
  rd_engine *e = s->j->e;
  rd_http_opts o = {.timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : s->timeout_ms,
                    .id_out = &c->call.op_id};
  int rc;
  if (!e->http)
    return RD_ECANCELED;
  o.ca_bundle = json_string_value(json_object_get(s->j->rb->issuer, "ca_bundle"));
  rc = rd_http_submit(e->http, c->method, c->url, c->content_type, c->body, c->body_len, &o,
                      http_done, c);
  rd_crashpoint("http.sent/%s", c->method);
  return rc;
}

/* A request held for the step's journal writes: submitted, or answered
 * with err (a write failed) -- or as a late one, its phase over. */
static void http_release(rd_call *call, int err) {
  http_call *c = (http_call *)call;
  rd_http_result fail = {.status = err ? err : RD_ECANCELED};
  const char *why = "the job's journal write failed";
  if (!err && rd_host_call_stale(call)) {
    why = "its phase is over";
  } else if (!err) {
    if (!(fail.status = http_go(c)))
      return;
    why = rd_strerror(fail.status);
  }
  snprintf(fail.msg, sizeof fail.msg, "%s %s: not sent: %s", c->method, c->url, why);
  http_done(&fail, c);
}

static int h_http(rd_step *s, const rd_http_request *req, rd_http_cb cb, void *arg) {
  http_call *c;
  int rc;
  if (!s->j->e->http || !call_allowed(s))
    return RD_ECANCELED;
  if (!req || !req->method || strlen(req->method) >= sizeof c->method || !req->url ||
      (req->body_len && !req->body))
    return RD_EINVAL;
  if (!(c = calloc(1, sizeof *c)) || !(c->url = strdup(req->url)) ||
      (req->content_type && !(c->content_type = strdup(req->content_type))) ||
      (req->body_len && !(c->body = malloc(req->body_len)))) {
    if (c)
      http_call_free(c);
    return RD_ENOMEM;
  }
  if (req->body_len)
    memcpy(c->body, req->body, req->body_len);
  c->body_len = req->body_len;
  c->timeout_ms = req->timeout_ms;
  c->cb = cb;
  c->arg = arg;
  snprintf(c->method, sizeof c->method, "%s", req->method);
  call_link(s, &c->call, RD_CALL_HTTP);
  /* after the step's journal writes are committed (core/jobwrite.c) */
  if ((rc = rd_job_hold_call(s->j, &c->call, http_release)) == 1)
    return 0;
  if (rc || (rc = http_go(c))) {
    call_unlink(&c->call);
    http_call_free(c);
  }
  return rc;
}

/* --- off-loop work ----------------------------------------------------------- */

typedef struct work_call {
  rd_call call;         /* first: the step's list of calls */
  uv_work_t req;
  rd_work_fn fn;
  rd_after_fn after;
  void *arg;
} work_call;

static void work_run(uv_work_t *req) {
  work_call *c = req->data;
  c->fn(c->arg);
}

/* after() always runs once: fn's argument may only be freed there. A late
 * one runs with RD_ECANCELED and nothing it reports counts. */
static void work_after(uv_work_t *req, int status) {
  work_call *c = req->data;
  rd_step *s = c->call.s;
  rd_engine *e = s->j->e;
  int stale = rd_host_call_stale(&c->call);
  call_unlink(&c->call);
  if (stale) {
    late_begin(s);
    c->after(s, RD_ECANCELED, c->arg);
    late_end(s);
  } else
    c->after(s, status ? RD_ECANCELED : 0, c->arg);
  free(c);
  rd_engine_handle_closed(e); /* last: may end the run and free the engine */
}

static int h_work(rd_step *s, rd_work_fn fn, rd_after_fn after, void *arg) {
  work_call *c;
  if (!call_allowed(s))
    return RD_ECANCELED;
  if (!(c = calloc(1, sizeof *c)))
    return RD_ENOMEM;
  c->fn = fn;
  c->after = after;
  c->arg = arg;
  c->req.data = c;
  call_link(s, &c->call, RD_CALL_WORK);
  if (uv_queue_work(s->j->e->loop, &c->req, work_run, work_after)) {
    call_unlink(&c->call);
    free(c);
    return RD_EIO;
  }
  s->j->e->handles++; /* the run ends only after its after() */
  return 0;
}

/* Plugins free the value with free() (renewd/plugin.h), so it cannot be
 * wiped for them; the error names the source, never the value. */
static int h_secret(rd_step *s, const json_t *ref, char **out, size_t *len) {
  char err[768];
  int rc = rd_secret_read_json(ref, out, len, err, sizeof err);
  if (rc)
    rd_step_log(s, RD_LOG_ERROR, "%s", err);
  return rc;
}

/* rd_engine_step_done ignores a done() that is not the running phase's (a
 * second one, one from the cancel hook or from a late work's after()). */
static void h_done(rd_step *s, int status, json_t *result, const char *msg) {
  rd_engine_step_done(s, status, result, msg);
}

void rd_host_vdonef(const rd_host_api *h, rd_step *s, int status, json_t *result,
                    const char *fmt, va_list ap) {
  char body[3900], msg[4096];
  vsnprintf(body, sizeof body, fmt, ap);
  snprintf(msg, sizeof msg, "%s: %s", h->host(s), body);
  h->done(s, status, result, msg);
}

static void h_donef(rd_step *s, int status, json_t *result, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rd_host_vdonef(&rd_host_api_v1, s, status, result, fmt, ap);
  va_end(ap);
}

void rd_host_cancel_calls(rd_step *s) {
  rd_engine *e = s->j->e;
  for (rd_call *c = s->calls; c; c = c->next) {
    int rc = RD_ENOTSUP;
    if (c->serial != s->serial || c->release)
      continue; /* an older phase's: already canceled; or held (jobwrite.c): never sent, it
                 * is answered as a late one when released */
    if (c->kind == RD_CALL_SSH && ((remote_call *)c)->batch)
      rc = rd_batch_cancel((remote_call *)c);
    else if (c->kind == RD_CALL_SSH && e->ssh && c->op_id)
      rc = rd_ssh_cancel(e->ssh, c->op_id);
    else if (c->kind == RD_CALL_HTTP && e->http && c->op_id)
      rc = rd_http_cancel(e->http, c->op_id);
    else if (c->kind == RD_CALL_WORK) /* only while it waits for a thread */
      rc = uv_cancel((uv_req_t *)&((work_call *)c)->req) ? RD_EBUSY : 0;
    if (rc && rc != RD_ENOTFOUND)
      rd_step_log(s, RD_LOG_DEBUG, "%s: cannot cancel an operation in flight (%s); its answer "
                                   "will be dropped",
                  rd_phase_name(s->phase), rd_strerror(rc));
  }
}

const rd_host_api rd_host_api_v1 = {
    .size = sizeof(rd_host_api),
    .abi = RD_PLUGIN_ABI,
    .params = h_params,
    .host = h_host,
    .platform = h_platform,
    .whatif = h_whatif,
    .facts = h_facts,
    .section = h_section,
    .log = h_log,
    .set_data = h_set_data,
    .data = h_data,
    .journal_put = h_journal_put,
    .journal_get = h_journal_get,
    .set_state = h_set_state,
    .remote = h_remote,
    .http = h_http,
    .work = h_work,
    .secret = h_secret,
    .done = h_done,
    .strerror = rd_strerror,
    .cert_facts = rd_x509_facts_from_bytes,
    .donef = h_donef,
    .b64_encode = rd_base64_encode_str,
    .b64_decode = rd_base64_decode_str,
    .http_header = h_http_header,
    .http_header_at = h_http_header_at,
};
