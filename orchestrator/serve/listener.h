/* listener.h — the bounded HTTP/1.1 listener of `renewd serve`: GET and
 * HEAD of a few read-only routes, one request per connection.
 *
 * Bounds: at most max_conns connections (more are accepted and closed at
 * once), a request head of at most RD_HTTP_MAX_HEAD bytes, and one deadline
 * per connection (timeout_ms from accept: request, response and the close
 * handshake), so an idle or slow client costs a slot for a few seconds and
 * never delays a stop. Every connection is on a list; stop closes them all
 * and frees everything in the close callbacks. */
#ifndef RENEWD_SERVE_LISTENER_H
#define RENEWD_SERVE_LISTENER_H
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct rd_listener rd_listener;

typedef struct rd_listener_reply {
  int code;          /* 200, or 404 for an unknown path */
  const char *ctype; /* Content-Type (static string) */
  char *body;        /* malloc'ed; the listener frees it (NULL: empty) */
  size_t len;
} rd_listener_reply;

/* Answers a GET of path (query already cut off). HEAD is a GET without the
 * body, done by the listener. The route must not block. */
typedef void (*rd_listener_route_fn)(const char *path, rd_listener_reply *res, void *arg);

typedef struct rd_listener_opts {
  size_t max_conns;    /* 0: 64 */
  uint64_t timeout_ms; /* 0: 5000 */
} rd_listener_opts;

/* Binds addr:port (an IPv4 or IPv6 literal; port 0 picks one, see
 * rd_listener_port) and listens. err gets "ADDR:PORT: address in use". */
int rd_listener_start(uv_loop_t *loop, const char *addr, int port, const rd_listener_opts *o,
                      rd_listener_route_fn route, void *arg, rd_listener **out, char *err,
                      size_t errlen);
/* Closes the listening socket and every connection now. l is freed after
 * the last close callback; then closed(arg) runs (closed may be NULL). */
void rd_listener_stop(rd_listener *l, void (*closed)(void *arg), void *arg);
int rd_listener_port(const rd_listener *l);
/* Connections open (or closing) now. */
size_t rd_listener_conns(const rd_listener *l);

#endif
