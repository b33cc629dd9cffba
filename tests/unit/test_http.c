/* test_http.c — http.c against a small HTTP server that runs on the same
 * libuv loop (so each test is one process, one loop, and ends with
 * uv_loop_close() == 0).
 *
 * Server paths: /ok (200 "hello"), /echo (POST body and its Content-Type
 * back), /big (3 MB with Content-Length), /stream (3 MB, no length, closed
 * at the end), /slow (never answers), /headers (an interim 103 and the
 * headers ACME reads), /bighead (24 KiB of header lines, then X-Late).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "transport/global.h"
#include "transport/http.h"
#include "testutil.h"

/* ------------------------------------------------------------------ server */

typedef struct client {
  uv_tcp_t tcp;
  struct client *next;
  char buf[65536];
  size_t len;
  int answered, closing, slow;
} client;

typedef struct server {
  uv_tcp_t tcp;
  int port;
  client *clients;
  int requests;
  int slow_closed; /* connections of /slow requests closed */
} server;

static void on_client_closed(uv_handle_t *h) {
  client *c = h->data;
  server *s = c->tcp.loop->data;
  for (client **pp = &s->clients; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  s->slow_closed += c->slow;
  free(c);
}

static void client_close(client *c) {
  if (!c->closing) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
  }
}

static void on_written(uv_write_t *w, int status) {
  client *c = w->data;
  (void)status;
  free(((uv_buf_t *)(w + 1))->base);
  free(w);
  client_close(c);
}

static void respond(client *c, const char *head, const char *body, size_t blen) {
  size_t hl = strlen(head);
  uv_write_t *w = malloc(sizeof *w + sizeof(uv_buf_t));
  uv_buf_t *b = (uv_buf_t *)(w + 1);
  char *all = malloc(hl + blen);
  memcpy(all, head, hl);
  if (blen)
    memcpy(all + hl, body, blen);
  *b = uv_buf_init(all, (unsigned)(hl + blen));
  w->data = c;
  uv_write(w, (uv_stream_t *)&c->tcp, b, 1, on_written);
}

static void handle(client *c) {
  char *end = strstr(c->buf, "\r\n\r\n");
  char path[256] = "", head[512];
  server *s = c->tcp.loop->data;
  if (!end || c->answered)
    return;
  sscanf(c->buf, "%*s %255s", path);
  path[strcspn(path, "?")] = 0;
  const char *cl = strstr(c->buf, "Content-Length: ");
  size_t body_len = cl ? (size_t)atol(cl + 16) : 0;
  size_t have = c->len - (size_t)(end + 4 - c->buf);
  if (have < body_len)
    return;
  c->answered = 1;
  s->requests++;
  if (!strncmp(path, "/ok", 3)) {
    respond(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
               "Connection: close\r\n\r\n", "hello", 5);
  } else if (!strcmp(path, "/echo")) {
    char ct[128] = "none";
    const char *p = strstr(c->buf, "Content-Type: ");
    if (p)
      sscanf(p + 14, "%127[^\r]", ct);
    snprintf(head, sizeof head,
             "HTTP/1.1 201 Created\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n", ct, body_len);
    respond(c, head, end + 4, body_len);
  } else if (!strcmp(path, "/big") || !strcmp(path, "/stream")) {
    size_t n = 3u << 20;
    char *big = malloc(n);
    memset(big, 'x', n);
    if (!strcmp(path, "/big"))
      snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
    else
      snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    respond(c, head, big, n);
    free(big);
  } else if (!strcmp(path, "/headers")) {
    respond(c, "HTTP/1.1 103 Early Hints\r\nX-Interim: 1\r\n\r\n"
               "HTTP/1.1 201 Created\r\nReplay-Nonce:  nonce-1 \r\n"
               "Location: https://ca.example/order/7\r\nretry-after: 3\r\n"
               "Content-Length: 2\r\nConnection: close\r\n\r\n", "{}", 2);
  } else if (!strcmp(path, "/bighead")) {
    size_t n = 24u << 10, line = 100; /* 16 KiB is not a whole number of lines */
    char *h = malloc(n + 256), *p = h;
    p += sprintf(p, "HTTP/1.1 200 OK\r\n");
    for (size_t i = 0; i < n / line; i++)
      p += sprintf(p, "X-Fill-%05zu: %0*d\r\n", i, (int)(line - 16), 0);
    sprintf(p, "X-Late: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
    respond(c, h, "ok", 2);
    free(h);
  } else if (!strcmp(path, "/slow")) {
    c->slow = 1; /* never answer */
  } else {
    respond(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "", 0);
  }
}

static void on_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b) {
  client *c = h->data;
  (void)sug;
  *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  client *c = st->data;
  (void)b;
  if (n < 0) {
    client_close(c);
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = 0;
  handle(c);
}

static void on_conn(uv_stream_t *srv, int status) {
  server *s = srv->data;
  client *c = calloc(1, sizeof *c);
  (void)status;
  uv_tcp_init(srv->loop, &c->tcp);
  c->tcp.data = c;
  c->next = s->clients;
  s->clients = c;
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0)
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  else
    client_close(c);
}

static void server_start(uv_loop_t *loop, server *s) {
  struct sockaddr_in a;
  struct sockaddr_storage got;
  int len = sizeof got;
  memset(s, 0, sizeof *s);
  loop->data = s;
  uv_tcp_init(loop, &s->tcp);
  s->tcp.data = s;
  uv_ip4_addr("127.0.0.1", 0, &a);
  ck_assert_int_eq(uv_tcp_bind(&s->tcp, (struct sockaddr *)&a, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&s->tcp, 128, on_conn), 0);
  uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&got, &len);
  s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void server_stop(server *s) {
  for (client *c = s->clients; c; c = c->next)
    client_close(c);
  uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* ------------------------------------------------------------------ client side */

typedef struct hres {
  int done, status;
  long code;
  char ct[128], msg[512];
  unsigned char *body;
  size_t len;
  double ms;
  char *headers; /* a copy of r->headers, or NULL */
} hres;

static int pending, shut;
static rd_http *the_http;

static void on_shut(void *arg) { (void)arg; shut++; }

static void on_done(const rd_http_result *r, void *arg) {
  hres *x = arg;
  x->done++;
  x->status = r->status;
  x->code = r->code;
  snprintf(x->ct, sizeof x->ct, "%s", r->content_type ? r->content_type : "");
  snprintf(x->msg, sizeof x->msg, "%s", r->msg);
  x->body = malloc(r->body_len + 1);
  if (r->body_len)
    memcpy(x->body, r->body, r->body_len);
  x->body[r->body_len] = 0;
  x->len = r->body_len;
  x->ms = r->ms;
  x->headers = r->headers ? strdup(r->headers) : NULL;
  if (--pending == 0)
    rd_http_shutdown(the_http, on_shut, NULL); /* from inside a callback */
}

static void hres_free(hres *x) {
  free(x->body);
  free(x->headers);
}

static void url(char *buf, size_t n, const server *s, const char *path) {
  snprintf(buf, n, "http://127.0.0.1:%d%s", s->port, path);
}

static void run_all(uv_loop_t *loop, server *s) {
  while (!shut && uv_run(loop, UV_RUN_ONCE))
    ;
  server_stop(s);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(shut, 1);
  ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(concurrent_gets) {
  uv_loop_t loop;
  server s;
  enum { N = 50 };
  hres r[N];
  char u[128];
  memset(r, 0, sizeof r);
  uv_loop_init(&loop);
  server_start(&loop, &s);
  ck_assert_int_eq(rd_http_new(&loop, &the_http), 0);
  shut = 0;
  pending = N;
  url(u, sizeof u, &s, "/ok");
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, NULL, on_done, &r[i]), 0);
  ck_assert_int_eq(r[0].done, 0);
  run_all(&loop, &s);
  for (int i = 0; i < N; i++) {
    ck_assert_msg(r[i].status == 0, "%s", r[i].msg);
    ck_assert_int_eq(r[i].code, 200);
    ck_assert_str_eq((char *)r[i].body, "hello");
    ck_assert_str_eq(r[i].ct, "text/plain");
    hres_free(&r[i]);
  }
  ck_assert_int_eq(s.requests, N);
}
END_TEST

START_TEST(post_and_errors) {
  uv_loop_t loop;
  server s;
  hres post = {0}, nf = {0}, big = {0}, stream = {0}, slow = {0}, refused = {0}, bad = {0};
  char u[256];
  rd_http_opts small = {.max_body = 1u << 20}, quick = {.timeout_ms = 300};
  const char body[] = "\x01\x02 binary \xff body";
  uv_loop_init(&loop);
  server_start(&loop, &s);
  ck_assert_int_eq(rd_http_new(&loop, &the_http), 0);
  shut = 0;
  pending = 7;
  url(u, sizeof u, &s, "/echo");
  ck_assert_int_eq(rd_http_submit(the_http, "POST", u, "application/x-pki-message", body,
                                  sizeof body - 1, NULL, on_done, &post), 0);
  url(u, sizeof u, &s, "/missing");
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, NULL, on_done, &nf), 0);
  url(u, sizeof u, &s, "/big");
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, &small, on_done, &big), 0);
  url(u, sizeof u, &s, "/stream");
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, &small, on_done, &stream), 0);
  url(u, sizeof u, &s, "/slow?challenge=s3cret");
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, &quick, on_done, &slow), 0);
  /* a port nobody listens on: the server's own port + 1 is very likely free */
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", s.port == 65535 ? 1 : s.port + 1);
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, NULL, on_done, &refused), 0);
  ck_assert_int_eq(rd_http_submit(the_http, "GET", "ftp://127.0.0.1/x", NULL, NULL, 0, NULL,
                                  on_done, &bad), 0);
  ck_assert_int_eq(rd_http_submit(the_http, "PUT", u, NULL, NULL, 0, NULL, on_done, &bad),
                   RD_EINVAL);
  run_all(&loop, &s);
  ck_assert_msg(post.status == 0, "%s", post.msg);
  ck_assert_int_eq(post.code, 201);
  ck_assert_str_eq(post.ct, "application/x-pki-message");
  ck_assert_uint_eq(post.len, sizeof body - 1);
  ck_assert(!memcmp(post.body, body, post.len));
  ck_assert_int_eq(nf.status, 0); /* HTTP errors are answers, not transport failures */
  ck_assert_int_eq(nf.code, 404);
  ck_assert_int_eq(big.status, RD_EOVERFLOW);
  ck_assert_int_eq(stream.status, RD_EOVERFLOW);
  ck_assert_msg(strstr(stream.msg, "larger than the 1048576-byte cap") != NULL, "%s", stream.msg);
  ck_assert_int_eq(slow.status, RD_ETIMEDOUT);
  ck_assert_msg(slow.ms < 3000, "%f", slow.ms);
  ck_assert_msg(strstr(slow.msg, "GET http://127.0.0.1:") == slow.msg, "%s", slow.msg);
  ck_assert_msg(strstr(slow.msg, "s3cret") == NULL, "query leaked: %s", slow.msg);
  ck_assert_int_eq(refused.status, RD_ECONNREFUSED);
  ck_assert_int_eq(bad.status, RD_EINVAL);
  hres *all[] = {&post, &nf, &big, &stream, &slow, &refused, &bad};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    hres_free(all[i]);
}
END_TEST

static void on_stop(uv_timer_t *t) {
  rd_http_shutdown(the_http, on_shut, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

static int canceled;
static void on_cancel(const rd_http_result *r, void *arg) {
  (void)arg;
  if (r->status == RD_ECANCELED)
    canceled++;
  /* new work after shutdown is refused */
  ck_assert_int_eq(rd_http_submit(the_http, "GET", "http://127.0.0.1:1/", NULL, NULL, 0, NULL,
                                  on_cancel, NULL), RD_ECANCELED);
}

START_TEST(shutdown_cancels) {
  uv_loop_t loop;
  uv_timer_t tm;
  server s;
  char u[128];
  uv_loop_init(&loop);
  server_start(&loop, &s);
  ck_assert_int_eq(rd_http_new(&loop, &the_http), 0);
  url(u, sizeof u, &s, "/slow");
  canceled = 0;
  shut = 0;
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, NULL, on_cancel, NULL), 0);
  uv_timer_init(&loop, &tm);
  uv_timer_start(&tm, on_stop, 200, 0);
  while (!shut && uv_run(&loop, UV_RUN_ONCE))
    ;
  ck_assert_int_eq(canceled, 5);
  server_stop(&s);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(shut, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* rd_http_cancel on a request the server never answers: the callback comes
 * once, from the loop, with RD_ECANCELED, at once (not after the 30 s
 * timeout); the connection is closed; the next request works; a cancel
 * after completion is RD_ENOTFOUND. */
static hres cx_slow, cx_ok;
static uint64_t cx_id;
static char cx_url[128];
static server *cx_srv;

static void on_cx_ok(const rd_http_result *r, void *arg) {
  ck_assert_int_eq(cx_srv->slow_closed, 1); /* the canceled transfer's connection */
  on_done(r, arg);
}

static void on_cx_slow(const rd_http_result *r, void *arg) {
  rd_http_opts o = {.id_out = NULL};
  pending++; /* keep the manager up for the next request */
  on_done(r, arg);
  ck_assert_int_eq(rd_http_cancel(the_http, cx_id), RD_ENOTFOUND);
  ck_assert_int_eq(rd_http_submit(the_http, "GET", cx_url, NULL, NULL, 0, &o, on_cx_ok, &cx_ok), 0);
}

static void on_cx_timer(uv_timer_t *t) {
  ck_assert_int_eq(cx_srv->requests, 1); /* the server has the request */
  ck_assert_int_eq(rd_http_cancel(the_http, cx_id), 0);
  ck_assert_int_eq(cx_slow.done, 0); /* never inside the call */
  ck_assert_int_eq(rd_http_cancel(the_http, cx_id), 0); /* still due: no second callback */
  ck_assert_int_eq(rd_http_cancel(the_http, cx_id + 1000), RD_ENOTFOUND);
  uv_close((uv_handle_t *)t, NULL);
}

START_TEST(cancel_unanswered) {
  uv_loop_t loop;
  uv_timer_t tm;
  server s;
  char u[128];
  rd_http_opts o = {.id_out = &cx_id};
  memset(&cx_slow, 0, sizeof cx_slow);
  memset(&cx_ok, 0, sizeof cx_ok);
  uv_loop_init(&loop);
  server_start(&loop, &s);
  cx_srv = &s;
  ck_assert_int_eq(rd_http_new(&loop, &the_http), 0);
  shut = 0;
  pending = 1;
  url(u, sizeof u, &s, "/slow");
  url(cx_url, sizeof cx_url, &s, "/ok");
  cx_id = 0;
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, &o, on_cx_slow, &cx_slow), 0);
  ck_assert_uint_ne(cx_id, 0);
  uv_timer_init(&loop, &tm);
  uv_timer_start(&tm, on_cx_timer, 200, 0);
  run_all(&loop, &s);
  ck_assert_int_eq(cx_slow.done, 1);
  ck_assert_int_eq(cx_slow.status, RD_ECANCELED);
  ck_assert_msg(cx_slow.ms < 1000, "the cancel took %.0f ms", cx_slow.ms);
  ck_assert_msg(strstr(cx_slow.msg, "/slow: canceled") != NULL, "%s", cx_slow.msg);
  ck_assert_int_eq(cx_ok.done, 1);
  ck_assert_msg(cx_ok.status == 0, "%s", cx_ok.msg);
  ck_assert_str_eq((char *)cx_ok.body, "hello");
  ck_assert_int_eq(s.requests, 2);
  hres_free(&cx_slow);
  hres_free(&cx_ok);
}
END_TEST

/* The final response's header lines reach the caller (an interim 1xx
 * response's do not); past 16 KiB the rest is dropped, the answer kept. */
START_TEST(response_headers) {
  uv_loop_t loop;
  server s;
  hres h = {0}, big = {0}, plain = {0};
  char u[128];
  uv_loop_init(&loop);
  server_start(&loop, &s);
  ck_assert_int_eq(rd_http_new(&loop, &the_http), 0);
  shut = 0;
  pending = 3;
  url(u, sizeof u, &s, "/headers");
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, NULL, on_done, &h), 0);
  url(u, sizeof u, &s, "/bighead");
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, NULL, on_done, &big), 0);
  url(u, sizeof u, &s, "/ok");
  ck_assert_int_eq(rd_http_submit(the_http, "GET", u, NULL, NULL, 0, NULL, on_done, &plain), 0);
  run_all(&loop, &s);
  ck_assert_msg(h.status == 0, "%s", h.msg);
  ck_assert_int_eq(h.code, 201);
  ck_assert_ptr_nonnull(h.headers);
  ck_assert_ptr_nonnull(strstr(h.headers, "Replay-Nonce:  nonce-1 \r\n"));
  ck_assert_ptr_nonnull(strstr(h.headers, "Location: https://ca.example/order/7\r\n"));
  ck_assert_ptr_nonnull(strstr(h.headers, "retry-after: 3\r\n"));
  ck_assert_msg(strstr(h.headers, "X-Interim") == NULL, "interim headers kept: %s", h.headers);
  ck_assert_msg(strstr(h.headers, "HTTP/1.1") == NULL, "status line kept: %s", h.headers);
  ck_assert_msg(big.status == 0, "%s", big.msg);
  ck_assert_str_eq((char *)big.body, "ok");
  ck_assert_ptr_nonnull(big.headers);
  ck_assert_uint_le(strlen(big.headers), 16u << 10);
  ck_assert_uint_ge(strlen(big.headers), (16u << 10) - 100);
  ck_assert_ptr_nonnull(strstr(big.headers, "X-Fill-00000: "));
  ck_assert_ptr_null(strstr(big.headers, "X-Late"));
  ck_assert_msg(plain.status == 0, "%s", plain.msg);
  ck_assert_ptr_nonnull(strstr(plain.headers, "Content-Type: text/plain\r\n"));
  hres *all[] = {&h, &big, &plain};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    hres_free(all[i]);
  }
}
END_TEST

/* A manager that never had a request: shutdown frees it, nothing is left
 * on the loop. */
START_TEST(idle_manager_shutdown) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_http_new(&loop, &the_http), 0);
  shut = 0;
  rd_http_shutdown(the_http, on_shut, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(shut, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("http");
  TCase *tc = tcase_create("multi");
  tcase_add_test(tc, concurrent_gets);
  tcase_add_test(tc, post_and_errors);
  tcase_add_test(tc, shutdown_cancels);
  tcase_add_test(tc, cancel_unanswered);
  tcase_add_test(tc, idle_manager_shutdown);
  tcase_add_test(tc, response_headers);
  suite_add_tcase(s, tc);
  if (rd_transport_global_init()) {
    fprintf(stderr, "test_http: rd_transport_global_init failed\n");
    return EXIT_FAILURE;
  }
  int rc = tu_run(s);
  rd_transport_global_cleanup();
  return rc;
}
