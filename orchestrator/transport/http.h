/* http.h — libcurl multi driven by the same libuv loop (socket and timer
 * callbacks, one poll context per socket, curl_multi_info_read drained after
 * every action). TLS verification is on by default. curl_global_init is the
 * caller's, once, before any thread: rd_transport_global_init()
 * (transport/global.h). */
#ifndef RENEWD_HTTP_H
#define RENEWD_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct rd_http rd_http;

typedef struct rd_http_opts {
  const char *ca_bundle;   /* NULL: system default */
  long timeout_ms;         /* whole request; default 30000 */
  size_t max_body;         /* response cap; default 8 MiB */
  int insecure;            /* never set by default */
  const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
  uint64_t *id_out;        /* if set: receives the request's id for rd_http_cancel */
} rd_http_opts;

typedef struct rd_http_result {
  int status;              /* 0 or RD_E* (ETIMEDOUT, ENETWORK, EOVERFLOW...) */
  long code;               /* HTTP status */
  char *content_type;
  unsigned char *body;
  size_t body_len;
  /* the final response's header lines ("Name: value\r\n"...), NUL-ended,
   * at most 16 KiB (NULL when none came) */
  const char *headers;
  char msg[512];           /* curl's error buffer on failure, with the URL */
  double ms;
} rd_http_result;

typedef void (*rd_http_done)(const rd_http_result *r, void *arg);

int rd_http_new(uv_loop_t *loop, rd_http **out);
/* method "GET" or "POST"; body copied. (Named _submit: renewd/plugin.h
 * already has a type called rd_http_request.) The callback never runs
 * inside this call; it may submit further requests or shut down. */
int rd_http_submit(rd_http *h, const char *method, const char *url,
                    const char *content_type, const void *body, size_t len,
                    const rd_http_opts *o, rd_http_done cb, void *arg);
/* Cancel one request (id from rd_http_opts.id_out): the transfer is removed
 * from the multi handle; its callback runs once with RD_ECANCELED, never
 * inside this call. Returns 0 (also when it is canceled already and its
 * callback still due), or RD_ENOTFOUND when it already completed. Ids start
 * at 1. */
int rd_http_cancel(rd_http *h, uint64_t id);
/* Cancel everything (callbacks get RD_ECANCELED), free when closed. */
void rd_http_shutdown(rd_http *h, void (*done)(void *arg), void *arg);

#endif
