/* debug_http.c — `renewd debug http`: N concurrent GETs through the HTTP layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/debug.h"
#include "transport/http.h"

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
  dbg_sha256_hex(res->body ? (const void *)res->body : "", res->body_len, sha);
  json_object_set_new(o, "i", json_integer(q->i));
  json_object_set_new(o, "status", json_string(res->status ? rd_errname(res->status) : "ok"));
  json_object_set_new(o, "error", res->status ? json_string(res->msg) : json_null());
  json_object_set_new(o, "code", json_integer(res->code));
  json_object_set_new(o, "content_type",
                      res->content_type ? json_string(res->content_type) : json_null());
  json_object_set_new(o, "body_len", json_integer((json_int_t)res->body_len));
  json_object_set_new(o, "body_sha256", json_string(sha));
  if (r->body)
    json_object_set_new(o, "body", dbg_text_json((const char *)res->body, res->body_len));
  json_object_set_new(o, "ms", json_real((double)(int64_t)(res->ms * 10) / 10));
  dbg_print_json(o);
  if (res->status || res->code < 200 || res->code > 299)
    r->failed = 1;
  free(q);
  if (--r->pending == 0)
    rd_http_shutdown(r->h, dbg_shutdown_done, NULL);
}

int dbg_http(int argc, char **argv) {
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
      int x;
      if (!v)
        return dbg_usage_err("%s needs a value", a);
      if (dbg_int_opt(a, v, &x))
        return RD_EXIT_USAGE;
      i++;
      if (!strcmp(a, "--n"))
        n = x;
      else if (!strcmp(a, "--timeout-ms"))
        o.timeout_ms = x;
      else
        o.max_body = (size_t)x;
    } else if (!strcmp(a, "--cacert")) {
      if (!v)
        return dbg_usage_err("%s needs a value", a);
      o.ca_bundle = v;
      i++;
    } else if (!strcmp(a, "--insecure")) {
      o.insecure = 1;
    } else if (!strcmp(a, "--body")) {
      r.body = 1;
    } else if (a[0] == '-' && a[1] == '-') {
      return dbg_usage_err("unknown option %s", rd_cli_printable(a));
    } else if (!url) {
      url = a;
    } else {
      return dbg_usage_err("one URL only (got also '%s')", rd_cli_printable(a));
    }
  }
  if (!url)
    return dbg_usage_err("%s", "no URL given");
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
    rd_http_shutdown(r.h, dbg_shutdown_done, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  int busy = uv_loop_close(&loop);
  return r.failed || busy ? RD_EXIT_FAILED : RD_EXIT_OK;
}
