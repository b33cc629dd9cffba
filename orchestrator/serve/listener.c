/* listener.c — see listener.h. One request per connection: read the head,
 * answer with "Connection: close", shut down the write side, drain what the
 * client still sends until it hangs up (so the kernel never resets a
 * response that is still in flight), close. */
#include "serve/listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "serve/http_req.h"

typedef struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wr;
  uv_shutdown_t sd;
  rd_listener *l;
  struct conn *prev, *next;
  char in[RD_HTTP_MAX_HEAD + 1];
  size_t inlen;
  char *out;
  int responded, writing, peer_eof, closing, refs;
} conn;

struct rd_listener {
  uv_tcp_t server;
  rd_listener_route_fn route;
  void *arg;
  size_t max_conns, nconns;
  uint64_t timeout_ms;
  conn *conns;
  int stopping, server_open;
  void (*closed)(void *);
  void *closed_arg;
};

static void maybe_freed(rd_listener *l) {
  if (!l->stopping || l->server_open || l->nconns)
    return;
  void (*closed)(void *) = l->closed;
  void *arg = l->closed_arg;
  free(l);
  if (closed)
    closed(arg);
}

static void conn_handle_closed(uv_handle_t *h) {
  conn *c = h->data;
  rd_listener *l = c->l;
  if (--c->refs > 0)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    l->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  l->nconns--;
  free(c->out);
  free(c);
  maybe_freed(l);
}

static void conn_close(conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  c->refs = 2;
  uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void conn_deadline(uv_timer_t *t) { conn_close(t->data); }

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  conn *c = h->data;
  (void)suggested;
  if (c->responded) /* draining: the head was read, the rest is dropped */
    c->inlen = 0;
  *b = uv_buf_init(c->in + c->inlen, (unsigned)(sizeof c->in - c->inlen));
}

static void conn_shut(uv_shutdown_t *req, int status) {
  conn *c = req->data;
  if (status && !c->closing)
    conn_close(c);
}

static void conn_written(uv_write_t *w, int status) {
  conn *c = w->data;
  c->writing = 0;
  if (c->closing)
    return;
  c->sd.data = c;
  /* a client that already hung up its side has nothing left to drain */
  if (status || c->peer_eof || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, conn_shut))
    conn_close(c);
}

static void respond(conn *c, int code, const char *ctype, const char *extra, const char *body,
                    size_t len, int head_only) {
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                    code, rd_http_reason(code), ctype, len, extra ? extra : "");
  size_t total = (size_t)hl + (head_only ? 0 : len);
  c->responded = 1;
  if (hl < 0 || (size_t)hl >= sizeof head || !(c->out = malloc(total ? total : 1))) {
    conn_close(c);
    return;
  }
  memcpy(c->out, head, (size_t)hl);
  if (!head_only && len)
    memcpy(c->out + hl, body, len);
  uv_buf_t b = uv_buf_init(c->out, (unsigned)total);
  c->wr.data = c;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, conn_written))
    conn_close(c);
  else
    c->writing = 1;
}

static void respond_error(conn *c, int code, int head_only) {
  char body[128];
  int n = snprintf(body, sizeof body, "%d %s\n", code, rd_http_reason(code));
  respond(c, code, "text/plain; charset=utf-8", code == 405 ? "Allow: GET, HEAD\r\n" : NULL,
          body, (size_t)n, head_only);
}

static void handle(conn *c, const rd_http_req *req) {
  int head = !strcmp(req->method, "HEAD");
  rd_listener_reply res = {404, "text/plain; charset=utf-8", NULL, 0};
  if (!head && strcmp(req->method, "GET")) {
    respond_error(c, 405, 0);
    return;
  }
  c->l->route(req->path, &res, c->l->arg);
  if (res.code == 200)
    respond(c, 200, res.ctype, NULL, res.body, res.len, head);
  else
    respond_error(c, res.code, head);
  free(res.body);
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  conn *c = s->data;
  rd_http_req req;
  int rc;
  (void)b;
  if (n < 0) {
    if (n == UV_EOF && c->writing) { /* half-closed after its request: answer first */
      c->peer_eof = 1;
      uv_read_stop(s);
    } else {
      conn_close(c);
    }
    return;
  }
  if (c->responded || n == 0)
    return;
  c->inlen += (size_t)n;
  if ((rc = rd_http_req_parse(c->in, c->inlen, &req)) == 0)
    return;
  if (rc == 200)
    handle(c, &req);
  else
    respond_error(c, rc, 0);
}

static void on_connection(uv_stream_t *server, int status) {
  rd_listener *l = server->data;
  conn *c;
  if (status < 0 || l->stopping || !(c = calloc(1, sizeof *c)))
    return;
  c->l = l;
  c->tcp.data = c->timer.data = c;
  uv_tcp_init(server->loop, &c->tcp);
  uv_timer_init(server->loop, &c->timer);
  c->next = l->conns;
  if (l->conns)
    l->conns->prev = c;
  l->conns = c;
  l->nconns++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) || l->nconns > l->max_conns ||
      uv_timer_start(&c->timer, conn_deadline, l->timeout_ms, 0) ||
      uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read))
    conn_close(c);
}

static void server_closed(uv_handle_t *h) {
  rd_listener *l = h->data;
  l->server_open = 0;
  maybe_freed(l);
}

int rd_listener_start(uv_loop_t *loop, const char *addr, int port, const rd_listener_opts *o,
                      rd_listener_route_fn route, void *arg, rd_listener **out, char *err,
                      size_t errlen) {
  struct sockaddr_storage ss;
  rd_listener *l;
  int rc;
  if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) &&
      uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss)) {
    snprintf(err, errlen, "%s:%d: not an IP address", addr, port);
    return RD_EINVAL;
  }
  if (!(l = calloc(1, sizeof *l)))
    return RD_ENOMEM;
  l->route = route;
  l->arg = arg;
  l->max_conns = o && o->max_conns ? o->max_conns : 64;
  l->timeout_ms = o && o->timeout_ms ? o->timeout_ms : 5000;
  l->server.data = l;
  uv_tcp_init(loop, &l->server);
  l->server_open = 1;
  if ((rc = uv_tcp_bind(&l->server, (struct sockaddr *)&ss, 0)) ||
      (rc = uv_listen((uv_stream_t *)&l->server, 128, on_connection))) {
    snprintf(err, errlen, "%s:%d: %s", addr, port, uv_strerror(rc));
    rd_listener_stop(l, NULL, NULL);
    return RD_EIO;
  }
  *out = l;
  return 0;
}

void rd_listener_stop(rd_listener *l, void (*closed)(void *arg), void *arg) {
  if (!l || l->stopping)
    return;
  l->stopping = 1;
  l->closed = closed;
  l->closed_arg = arg;
  for (conn *c = l->conns; c; c = c->next)
    conn_close(c);
  uv_close((uv_handle_t *)&l->server, server_closed);
}

int rd_listener_port(const rd_listener *l) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getsockname(&l->server, (struct sockaddr *)&ss, &len))
    return 0;
  return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                        : ((struct sockaddr_in *)&ss)->sin_port);
}

size_t rd_listener_conns(const rd_listener *l) { return l->nconns; }
