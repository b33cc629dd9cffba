/* test_serve_http.c — the request-head parser of the serve listener:
 * method, target with the query cut off, version, header lines, and the
 * bounds (414, 431), on byte strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/http_req.h"
#include "testutil.h"

static int parse(const char *s, rd_http_req *r) { return rd_http_req_parse(s, strlen(s), r); }

START_TEST(request_line_and_query) {
  rd_http_req r;
  ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
  ck_assert_str_eq(r.method, "GET");
  ck_assert_str_eq(r.path, "/metrics");
  ck_assert_int_eq(r.minor, 1);
  ck_assert_uint_eq(r.head_len, strlen("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  ck_assert_int_eq(parse("GET /metrics?x HTTP/1.1\r\n\r\n", &r), 200);
  ck_assert_str_eq(r.path, "/metrics");
  ck_assert_int_eq(parse("HEAD /status?a=1&b=2#frag HTTP/1.0\r\n\r\n", &r), 200);
  ck_assert_str_eq(r.method, "HEAD");
  ck_assert_str_eq(r.path, "/status");
  ck_assert_int_eq(r.minor, 0);
  ck_assert_int_eq(parse("GET http://127.0.0.1:9464/healthz?x HTTP/1.1\r\n\r\n", &r), 200);
  ck_assert_str_eq(r.path, "/healthz");
  /* bare LF line ends, and a body after the head that is not looked at */
  ck_assert_int_eq(parse("POST /x HTTP/1.1\nContent-Length: 3\n\nabc", &r), 200);
  ck_assert_str_eq(r.method, "POST");
  ck_assert_uint_eq(r.head_len, strlen("POST /x HTTP/1.1\nContent-Length: 3\n\n"));
}
END_TEST

START_TEST(incomplete_heads_wait) {
  rd_http_req r;
  static const char *const partial[] = {"", "G", "GET /metrics HTTP/1.1", "GET / HTTP/1.1\r",
                                        "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n",
                                        "GET / HTTP/1.1\r\nHost: x\r\n\r"};
  for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++)
    ck_assert_msg(parse(partial[i], &r) == 0, "'%s' is not incomplete", partial[i]);
}
END_TEST

START_TEST(garbage_is_400) {
  rd_http_req r;
  static const char *const bad[] = {
      "GET\r\n\r\n",
      "GET /\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 \r\n\r\n",
      "GET metrics HTTP/1.1\r\n\r\n",
      "GE(T / HTTP/1.1\r\n\r\n",
      "GET / http/1.1\r\n\r\n",
      "GET / HTTP/1\r\n\r\n",
      "GET /a b HTTP/1.1\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "GET /?\x7f HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\rX\r\n\r\n",
      "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
      "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",
      "GET http://host HTTP/1.1\r\n\r\n",
      "\x16\x03\x01\x02\x01\x01\xfc\x03\x03\r\n\r\n", /* a TLS ClientHello */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(parse(bad[i], &r) == 400, "bad[%zu] not refused", i);
  ck_assert_int_eq(rd_http_req_parse("GET /\0 HTTP/1.1\r\n\r\n", 19, &r), 400);
}
END_TEST

START_TEST(version_and_method_bounds) {
  rd_http_req r;
  ck_assert_int_eq(parse("GET / HTTP/2.0\r\n\r\n", &r), 505);
  ck_assert_int_eq(parse("GET / HTTP/0.9\r\n\r\n", &r), 505);
  ck_assert_int_eq(parse("AVERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", &r), 501);
  ck_assert_int_eq(parse("BREW / HTTP/1.1\r\n\r\n", &r), 200); /* 405 is the listener's call */
  ck_assert_str_eq(r.method, "BREW");
}
END_TEST

START_TEST(size_bounds) {
  rd_http_req r;
  size_t n = RD_HTTP_MAX_LINE + 64;
  char *buf = malloc(RD_HTTP_MAX_HEAD * 2);
  /* a request line too long, even before its end arrived */
  memcpy(buf, "GET /", 5);
  memset(buf + 5, 'a', n - 5);
  ck_assert_int_eq(rd_http_req_parse(buf, n, &r), 414);
  memcpy(buf + n, " HTTP/1.1\r\n\r\n", 13);
  ck_assert_int_eq(rd_http_req_parse(buf, n + 13, &r), 414);
  /* exactly at the bound is fine */
  size_t line = RD_HTTP_MAX_LINE - strlen(" HTTP/1.1");
  memset(buf + 5, 'a', line - 5);
  memcpy(buf + line, " HTTP/1.1\r\n\r\n", 13);
  ck_assert_int_eq(rd_http_req_parse(buf, line + 13, &r), 200);
  ck_assert_uint_eq(strlen(r.path), line - 4);
  /* headers past the head bound: 431, whether or not the end came */
  n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
  while (n < RD_HTTP_MAX_HEAD + 100)
    n += (size_t)sprintf(buf + n, "X-Pad: %040d\r\n", 0);
  ck_assert_int_eq(rd_http_req_parse(buf, n, &r), 431);
  memcpy(buf + n, "\r\n", 2);
  ck_assert_int_eq(rd_http_req_parse(buf, n + 2, &r), 431);
  free(buf);
}
END_TEST

START_TEST(reasons) {
  ck_assert_str_eq(rd_http_reason(405), "Method Not Allowed");
  ck_assert_str_eq(rd_http_reason(431), "Request Header Fields Too Large");
  ck_assert_str_eq(rd_http_reason(299), "Error");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("serve_http");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, request_line_and_query);
  tcase_add_test(tc, incomplete_heads_wait);
  tcase_add_test(tc, garbage_is_400);
  tcase_add_test(tc, version_and_method_bounds);
  tcase_add_test(tc, size_bounds);
  tcase_add_test(tc, reasons);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
