/* test_serve_listener.c — the serve listener with a real TCP client on
 * 127.0.0.1 (a thread with blocking sockets; the loop runs in the test's
 * main thread): routes, HEAD, 405/400/404/414/431, the query string, the
 * idle deadline, the connection cap, and a stop that closes idle clients at
 * once with everything freed (uv_loop_close() == 0). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <uv.h>

#include "base/util.h"
#include "serve/http_req.h"
#include "serve/listener.h"
#include "testutil.h"

/* ---- a blocking client ---------------------------------------------------- */

static int client_connect(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval tv = {10, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  return fd;
}

static void send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return; /* the server may close first (431) */
    p += w;
    n -= (size_t)w;
  }
}

/* Reads until EOF (or the 10 s receive timeout); returns the bytes read. */
static size_t read_all(int fd, char *out, size_t cap) {
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = recv(fd, out + n, cap - 1 - n, 0)) > 0)
    n += (size_t)r;
  out[n] = 0;
  return n;
}

static size_t exchange(int port, const char *req, size_t len, char *out, size_t cap) {
  int fd = client_connect(port);
  send_all(fd, req, len);
  size_t n = read_all(fd, out, cap);
  close(fd);
  return n;
}

/* ---- the loop side -------------------------------------------------------- */

typedef struct harness harness;
typedef void (*client_fn)(harness *h);
struct harness {
  uv_loop_t loop;
  uv_async_t stop;
  rd_listener *l;
  int port, closed, stop_sent;
  uint64_t stop_ms;
  client_fn client;
  size_t conns_at_stop;
};

static int route_calls;
static void route(const char *path, rd_listener_reply *res, void *arg) {
  (void)arg;
  route_calls++;
  if (!strcmp(path, "/metrics")) {
    res->code = 200;
    res->ctype = "text/plain";
    res->body = strdup("renewd_up 1\n");
    res->len = strlen(res->body);
  } else {
    res->code = 404;
  }
}

static void on_closed(void *arg) { ((harness *)arg)->closed++; }

static void stop_cb(uv_async_t *a) {
  harness *h = a->data;
  h->conns_at_stop = rd_listener_conns(h->l);
  rd_listener_stop(h->l, on_closed, h);
  uv_close((uv_handle_t *)a, NULL);
}

/* From the client thread: stop the listener (once). */
static void request_stop(harness *h) {
  if (h->stop_sent++)
    return;
  h->stop_ms = rd_now_ms();
  uv_async_send(&h->stop);
}

static void *client_main(void *arg) {
  harness *h = arg;
  h->client(h);
  request_stop(h);
  return NULL;
}

static void run_with(client_fn fn, const rd_listener_opts *o) {
  harness h;
  pthread_t th;
  char err[256];
  memset(&h, 0, sizeof h);
  h.client = fn;
  ck_assert_int_eq(uv_loop_init(&h.loop), 0);
  ck_assert_int_eq(rd_listener_start(&h.loop, "127.0.0.1", 0, o, route, NULL, &h.l, err, sizeof err), 0);
  h.port = rd_listener_port(h.l);
  ck_assert_int_gt(h.port, 0);
  uv_async_init(&h.loop, &h.stop, stop_cb);
  h.stop.data = &h;
  ck_assert_int_eq(pthread_create(&th, NULL, client_main, &h), 0);
  uv_run(&h.loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  ck_assert_int_eq(h.closed, 1);
  ck_assert_int_eq(uv_loop_close(&h.loop), 0);
}

/* ---- tests ------------------------------------------------------------------ */

static char buf[64 * 1024];

static void expect(harness *h, const char *req, const char *status_line, const char *body) {
  exchange(h->port, req, strlen(req), buf, sizeof buf);
  ck_assert_msg(!strncmp(buf, status_line, strlen(status_line)), "%s -> %s", req, buf);
  if (body) {
    const char *b = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b + 4, body);
  }
}

static void routes_client(harness *h) {
  expect(h, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n", "renewd_up 1\n");
  expect(h, "GET /metrics?x HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n", "renewd_up 1\n");
  expect(h, "GET /metrics?name[]=a&b HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\n", "renewd_up 1\n");
  expect(h, "GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", "404 Not Found\n");
  expect(h, "hello\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", NULL);
  expect(h, "GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 ", NULL);
  /* HEAD: the headers of the GET, no body */
  expect(h, "HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n", "");
  ck_assert_ptr_nonnull(strstr(buf, "Content-Length: 12\r\n"));
  /* other methods: 405 naming the allowed ones, without calling the route */
  int before = route_calls;
  expect(h, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n", NULL);
  ck_assert_ptr_nonnull(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));
  expect(h, "DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 ", NULL);
  ck_assert_int_eq(route_calls, before);
  /* a client that half-closes after its request still gets the answer */
  int fd = client_connect(h->port);
  send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
  shutdown(fd, SHUT_WR);
  read_all(fd, buf, sizeof buf);
  close(fd);
  ck_assert_msg(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "%s", buf);
  /* a request sent one byte at a time */
  fd = client_connect(h->port);
  for (const char *p = "GET /metrics HTTP/1.1\r\n\r\n"; *p; p++) {
    send_all(fd, p, 1);
    usleep(1000);
  }
  read_all(fd, buf, sizeof buf);
  close(fd);
  ck_assert_msg(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "%s", buf);
}

START_TEST(routes_methods_and_errors) {
  route_calls = 0;
  run_with(routes_client, NULL);
}
END_TEST

static void bounds_client(harness *h) {
  static char big[RD_HTTP_MAX_HEAD * 2];
  size_t n = (size_t)sprintf(big, "GET /");
  memset(big + n, 'a', RD_HTTP_MAX_LINE + 10);
  n += RD_HTTP_MAX_LINE + 10;
  n += (size_t)sprintf(big + n, " HTTP/1.1\r\n\r\n");
  exchange(h->port, big, n, buf, sizeof buf);
  ck_assert_msg(!strncmp(buf, "HTTP/1.1 414 URI Too Long\r\n", 27), "%s", buf);
  n = (size_t)sprintf(big, "GET /metrics HTTP/1.1\r\n");
  while (n < RD_HTTP_MAX_HEAD + 200)
    n += (size_t)sprintf(big + n, "X-Pad: %060d\r\n", 0);
  n += (size_t)sprintf(big + n, "\r\n");
  exchange(h->port, big, n, buf, sizeof buf);
  ck_assert_msg(!strncmp(buf, "HTTP/1.1 431 ", 13), "%s", buf);
}

START_TEST(size_bounds_over_tcp) { run_with(bounds_client, NULL); }
END_TEST

/* An idle client and a client that stops mid-request are both closed at
 * the deadline; the listener keeps serving. */
static void idle_client(harness *h) {
  int idle = client_connect(h->port), partial = client_connect(h->port);
  uint64_t t0 = rd_now_ms();
  send_all(partial, "GET /metr", 9);
  ck_assert_uint_eq(read_all(idle, buf, sizeof buf), 0);
  uint64_t waited = rd_now_ms() - t0;
  ck_assert_uint_eq(read_all(partial, buf, sizeof buf), 0);
  close(idle);
  close(partial);
  ck_assert_msg(waited >= 250 && waited < 2000, "idle client closed after %llu ms",
                (unsigned long long)waited);
  expect(h, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n", NULL);
}

START_TEST(idle_deadline) {
  rd_listener_opts o = {.timeout_ms = 300};
  run_with(idle_client, &o);
}
END_TEST

/* Beyond max_conns a connection is closed at once, without an answer. */
static void cap_client(harness *h) {
  int a = client_connect(h->port), b = client_connect(h->port);
  uint64_t t0 = rd_now_ms();
  int c = client_connect(h->port);
  send_all(c, "GET /metrics HTTP/1.1\r\n\r\n", 25);
  ck_assert_uint_eq(read_all(c, buf, sizeof buf), 0);
  ck_assert_uint_lt(rd_now_ms() - t0, 2000); /* not the 30 s deadline */
  close(c);
  close(a);
  close(b);
  /* once the server has seen a and b go, there is room again */
  int answered = 0;
  for (int i = 0; i < 100 && !answered; i++) {
    const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
    exchange(h->port, req, strlen(req), buf, sizeof buf);
    answered = !strncmp(buf, "HTTP/1.1 200 OK\r\n", 17);
    if (!answered)
      usleep(20 * 1000);
  }
  ck_assert_msg(answered, "no room after the capped clients left");
}

START_TEST(connection_cap) {
  rd_listener_opts o = {.max_conns = 2, .timeout_ms = 30000};
  run_with(cap_client, &o);
}
END_TEST

/* Stop with idle clients connected (deadline 60 s): every one of them is
 * closed at once and the loop ends with nothing open. */
static void stop_client(harness *h) {
  int fds[5];
  for (int i = 0; i < 5; i++)
    fds[i] = client_connect(h->port);
  send_all(fds[0], "GET /met", 8);
  usleep(100 * 1000); /* all accepted */
  request_stop(h);
  for (int i = 0; i < 5; i++) {
    ck_assert_uint_eq(read_all(fds[i], buf, sizeof buf), 0);
    close(fds[i]);
  }
  uint64_t took = rd_now_ms() - h->stop_ms;
  ck_assert_msg(took < 1000, "stop took %llu ms with idle clients", (unsigned long long)took);
}

START_TEST(stop_closes_idle_clients) {
  rd_listener_opts o = {.timeout_ms = 60000};
  run_with(stop_client, &o);
}
END_TEST

START_TEST(bind_errors_are_named) {
  uv_loop_t loop;
  rd_listener *l = NULL, *l2 = NULL;
  char err[256];
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_ne(rd_listener_start(&loop, "not-an-ip", 9464, NULL, route, NULL, &l, err, sizeof err), 0);
  ck_assert_str_eq(err, "not-an-ip:9464: not an IP address");
  ck_assert_int_eq(rd_listener_start(&loop, "127.0.0.1", 0, NULL, route, NULL, &l, err, sizeof err), 0);
  ck_assert_int_ne(rd_listener_start(&loop, "127.0.0.1", rd_listener_port(l), NULL, route, NULL, &l2,
                                     err, sizeof err), 0);
  ck_assert_msg(strstr(err, "address already in use"), "%s", err);
  rd_listener_stop(l, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("serve_listener");
  TCase *tc = tcase_create("tcp");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, routes_methods_and_errors);
  tcase_add_test(tc, size_bounds_over_tcp);
  tcase_add_test(tc, idle_deadline);
  tcase_add_test(tc, connection_cap);
  tcase_add_test(tc, stop_closes_idle_clients);
  tcase_add_test(tc, bind_errors_are_named);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
