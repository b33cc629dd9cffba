/* http.c — libcurl multi on the libuv loop (see http.h).
 *
 * The pattern of curl's docs/examples/multi-uv.c: curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); each socket gets one context with a uv_poll; the
 * timer is (re)started from curl's timer callback and fires later from the
 * loop, never inside that callback; after every curl_multi_socket_action the
 * finished transfers are drained with curl_multi_info_read.
 *
 * Memory behind uv handles (poll contexts, the timer inside rd_http) is freed
 * only in close callbacks. Shutdown is deferred to a loop turn, so that
 * rd_http_shutdown may be called from a completion callback.
 */
#include "transport/http.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/err.h"

#define DEF_TIMEOUT_MS 30000L
#define DEF_MAX_BODY ((size_t)8 << 20)

typedef struct sctx {
  struct sctx *prev, *next;
  rd_http *h;
  uv_poll_t poll;
  curl_socket_t fd;
  int closing;
} sctx;

typedef struct req {
  struct req *prev, *next;
  rd_http *h;
  CURL *easy;
  struct curl_slist *hdrs;
  unsigned char *post;
  unsigned char *body;
  size_t len, cap, max;
  char *hdr;    /* the response's header lines */
  size_t hlen;
  int hfull;    /* a line did not fit: the rest are dropped too */
  int overflow;
  int canceled; /* by rd_http_cancel (not by shutdown) */
  rd_http_done cb;
  void *arg;
  uint64_t id; /* for rd_http_cancel */
  uint64_t t0;
  char method[8];
  char *where; /* the URL without its query (it may carry secrets) */
  char errbuf[CURL_ERROR_SIZE];
} req;

struct rd_http {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  req *reqs;
  req *canceled; /* removed from the multi handle, callbacks still due */
  uv_timer_t cancel_timer; /* delivers them from the loop */
  uint64_t next_id;
  sctx *socks;
  int handles; /* open uv handles: the two timers + poll contexts */
  int shutting, cleaning, closed;
  void (*done)(void *);
  void *done_arg;
};

static void check_multi_info(rd_http *h);
static void maybe_free(rd_http *h);

/* ------------------------------------------------------------------ sockets */

static void on_sctx_closed(uv_handle_t *hd) {
  sctx *c = hd->data;
  rd_http *h = c->h;
  if (c->prev)
    c->prev->next = c->next;
  else
    h->socks = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c);
  h->handles--;
  maybe_free(h);
}

static void sctx_close(sctx *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_poll_stop(&c->poll);
  uv_close((uv_handle_t *)&c->poll, on_sctx_closed);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sctx *c = p->data;
  rd_http *h = c->h;
  int running = 0, flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(h->multi, c->fd, flags, &running);
  check_multi_info(h);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  rd_http *h = userp;
  sctx *c = socketp;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    if (c) {
      sctx_close(c);
      if (!h->cleaning)
        curl_multi_assign(h->multi, s, NULL);
    }
    return 0;
  }
  if (!c) {
    if (h->cleaning || !(c = calloc(1, sizeof *c)))
      return -1;
    c->h = h;
    c->fd = s;
    if (uv_poll_init_socket(h->loop, &c->poll, s)) {
      free(c);
      return -1;
    }
    c->poll.data = c;
    h->handles++;
    c->next = h->socks;
    if (h->socks)
      h->socks->prev = c;
    h->socks = c;
    curl_multi_assign(h->multi, s, c);
  }
  int ev = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    ev |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    ev |= UV_WRITABLE;
  uv_poll_start(&c->poll, ev, on_poll);
  return 0;
}

/* ------------------------------------------------------------------ timer */

static void on_timeout(uv_timer_t *t) {
  rd_http *h = t->data;
  int running = 0;
  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(h);
}

/* Called by curl: only (re)arm the uv timer; the action happens from the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  rd_http *h = userp;
  (void)multi;
  if (h->shutting)
    return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&h->timer);
  else
    uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ------------------------------------------------------------------ requests */

static size_t on_write(char *p, size_t sz, size_t n, void *arg) {
  req *r = arg;
  size_t len = sz * n;
  if (r->len + len > r->max) {
    r->overflow = 1;
    return 0; /* curl aborts with CURLE_WRITE_ERROR */
  }
  if (r->len + len + 1 > r->cap) {
    size_t nc = r->cap ? r->cap : 4096;
    while (nc < r->len + len + 1)
      nc *= 2;
    unsigned char *q = realloc(r->body, nc);
    if (!q)
      return 0;
    r->body = q;
    r->cap = nc;
  }
  memcpy(r->body + r->len, p, len);
  r->len += len;
  r->body[r->len] = 0;
  return len;
}

#define MAX_HEADERS (16u << 10)

/* Header lines of the final response: a new status line (after a 100
 * Continue) starts again; past the cap the rest is dropped. */
static size_t on_header(char *p, size_t sz, size_t n, void *arg) {
  req *r = arg;
  size_t len = sz * n;
  if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
    r->hlen = 0;
    r->hfull = 0;
    if (r->hdr)
      r->hdr[0] = 0;
    return len;
  }
  if (!r->hdr && !(r->hdr = malloc(MAX_HEADERS + 1)))
    return 0;
  if (r->hfull || r->hlen + len > MAX_HEADERS) {
    r->hfull = 1;
  } else {
    memcpy(r->hdr + r->hlen, p, len);
    r->hlen += len;
  }
  r->hdr[r->hlen] = 0;
  return len;
}

static void req_free(req *r) {
  if (!r)
    return;
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->hdrs);
  free(r->post);
  free(r->body);
  free(r->hdr);
  free(r->where);
  free(r);
}

static void req_unlink(req *r) {
  rd_http *h = r->h;
  if (r->prev)
    r->prev->next = r->next;
  else
    h->reqs = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static int classify(req *r, CURLcode rc) {
  long oserr = 0;
  switch (rc) {
  case CURLE_OK:
    return 0;
  case CURLE_OPERATION_TIMEDOUT:
    return RD_ETIMEDOUT;
  case CURLE_COULDNT_CONNECT:
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
    return oserr == ECONNREFUSED ? RD_ECONNREFUSED : RD_ENETWORK;
  case CURLE_WRITE_ERROR:
    return r->overflow ? RD_EOVERFLOW : RD_ENOMEM;
  case CURLE_FILESIZE_EXCEEDED:
    return RD_EOVERFLOW;
  case CURLE_PEER_FAILED_VERIFICATION:
    return RD_EVERIFY;
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
    return RD_ECONFIG;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    return RD_EINVAL;
  case CURLE_OUT_OF_MEMORY:
    return RD_ENOMEM;
  default:
    return RD_ENETWORK;
  }
}

static void req_complete(req *r, int status, CURLcode rc) {
  rd_http_result res;
  char *ct = NULL;
  memset(&res, 0, sizeof res);
  res.status = status;
  if (r->easy) {
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.code);
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
  }
  res.content_type = ct;
  res.body = r->body;
  res.body_len = r->len;
  res.headers = r->hdr && r->hlen ? r->hdr : NULL;
  res.ms = (double)(uv_hrtime() - r->t0) / 1e6;
  if (status == RD_ECANCELED) {
    rd_fmt(res.msg, sizeof res.msg, "%s %s: canceled%s", r->method, r->where,
           r->canceled ? "" : " (shutting down)");
  } else if (status == RD_EOVERFLOW) {
    rd_fmt(res.msg, sizeof res.msg, "%s %s: the response is larger than the %zu-byte cap",
           r->method, r->where, r->max);
  } else if (status) {
    rd_fmt(res.msg, sizeof res.msg, "%s %s: %s", r->method, r->where,
           *r->errbuf ? r->errbuf : curl_easy_strerror(rc));
    size_t n = strlen(res.msg); /* curl's buffer may end in a newline */
    while (n && (res.msg[n - 1] == '\n' || res.msg[n - 1] == '\r'))
      res.msg[--n] = 0;
  }
  r->cb(&res, r->arg);
}

static void check_multi_info(rd_http *h) {
  CURLMsg *msg;
  int left;
  while (!h->shutting && (msg = curl_multi_info_read(h->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *e = msg->easy_handle;
    CURLcode rc = msg->data.result;
    req *r = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_multi_remove_handle(h->multi, e);
    req_unlink(r);
    req_complete(r, classify(r, rc), rc);
    req_free(r);
  }
}

static char *strip_query(const char *url) {
  size_t n = strcspn(url, "?#");
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, url, n);
    s[n] = 0;
  }
  return s;
}

int rd_http_submit(rd_http *h, const char *method, const char *url, const char *content_type,
                    const void *body, size_t len, const rd_http_opts *o, rd_http_done cb,
                    void *arg) {
  req *r;
  int post;
  if (h && h->shutting)
    return RD_ECANCELED;
  if (!h || !method || !url || !cb || (len && !body))
    return RD_EINVAL;
  if (!strcmp(method, "GET"))
    post = 0;
  else if (!strcmp(method, "POST"))
    post = 1;
  else
    return RD_EINVAL;
  if (!(r = calloc(1, sizeof *r)))
    return RD_ENOMEM;
  r->h = h;
  r->cb = cb;
  r->arg = arg;
  r->t0 = uv_hrtime();
  r->max = o && o->max_body ? o->max_body : DEF_MAX_BODY;
  snprintf(r->method, sizeof r->method, "%s", method);
  if (!(r->where = strip_query(url)) || !(r->easy = curl_easy_init()))
    goto oom;
  CURL *e = r->easy;
  long tmo = o && o->timeout_ms > 0 ? o->timeout_ms : DEF_TIMEOUT_MS;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, tmo);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, tmo);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "renewd");
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max);
  if (o && o->ca_bundle)
    curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_bundle);
  if (o && o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (post) {
    char ctype[256];
    if (!(r->post = malloc(len ? len : 1)))
      goto oom;
    if (len)
      memcpy(r->post, body, len);
    rd_fmt(ctype, sizeof ctype, "Content-Type: %s",
           content_type ? content_type : "application/octet-stream");
    struct curl_slist *l = curl_slist_append(NULL, ctype);
    if (!l)
      goto oom;
    r->hdrs = l;
    if (!(l = curl_slist_append(r->hdrs, "Expect:")))
      goto oom;
    r->hdrs = l;
    for (const char *const *hd = o ? o->headers : NULL; hd && *hd; hd++) {
      if (!(l = curl_slist_append(r->hdrs, *hd)))
        goto oom;
      r->hdrs = l;
    }
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  r->next = h->reqs;
  if (h->reqs)
    h->reqs->prev = r;
  h->reqs = r;
  if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
    req_unlink(r);
    req_free(r);
    return RD_ENOMEM;
  }
  r->id = ++h->next_id;
  if (o && o->id_out)
    *o->id_out = r->id;
  return 0;
oom:
  req_free(r);
  return RD_ENOMEM;
}

/* ------------------------------------------------------------------ life cycle */

int rd_http_new(uv_loop_t *loop, rd_http **out) {
  rd_http *h;
  if (!loop || !out)
    return RD_EINVAL;
  if (!(h = calloc(1, sizeof *h)))
    return RD_ENOMEM;
  if (!(h->multi = curl_multi_init())) {
    free(h);
    return RD_ENOMEM;
  }
  h->loop = loop;
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
  uv_timer_init(loop, &h->cancel_timer);
  h->cancel_timer.data = h;
  h->handles = 2;
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  *out = h;
  return 0;
}

static void maybe_free(rd_http *h) {
  if (h->handles > 0 || !h->closed)
    return;
  void (*done)(void *) = h->done;
  void *arg = h->done_arg;
  free(h);
  if (done)
    done(arg);
}

static void on_timer_closed(uv_handle_t *hd) {
  rd_http *h = hd->data;
  h->handles--;
  maybe_free(h);
}

static void deliver_canceled(rd_http *h) {
  while (h->canceled) {
    req *r = h->canceled;
    h->canceled = r->next;
    r->next = NULL;
    req_complete(r, RD_ECANCELED, CURLE_OK);
    req_free(r);
  }
}

static void on_cancel_timer(uv_timer_t *t) { deliver_canceled(t->data); }

static void on_shutdown(uv_timer_t *t) {
  rd_http *h = t->data;
  deliver_canceled(h);
  while (h->reqs) {
    req *r = h->reqs;
    req_unlink(r);
    curl_multi_remove_handle(h->multi, r->easy);
    req_complete(r, RD_ECANCELED, CURLE_OK);
    req_free(r);
  }
  h->cleaning = 1;
  curl_multi_cleanup(h->multi); /* closes cached connections */
  h->multi = NULL;
  for (sctx *c = h->socks; c; c = c->next)
    sctx_close(c);
  h->closed = 1;
  uv_close((uv_handle_t *)&h->timer, on_timer_closed);
  uv_close((uv_handle_t *)&h->cancel_timer, on_timer_closed);
}

void rd_http_shutdown(rd_http *h, void (*done)(void *arg), void *arg) {
  if (!h || h->shutting)
    return;
  h->shutting = 1;
  h->done = done;
  h->done_arg = arg;
  uv_timer_stop(&h->timer);
  uv_timer_start(&h->timer, on_shutdown, 0, 0);
}

int rd_http_cancel(rd_http *h, uint64_t id) {
  req *r, **pp;
  if (!h || !id)
    return RD_EINVAL;
  for (r = h->canceled; r; r = r->next)
    if (r->id == id)
      return 0; /* already canceled, its callback is due */
  for (r = h->reqs; r && r->id != id; r = r->next)
    ;
  if (!r)
    return RD_ENOTFOUND;
  req_unlink(r);
  curl_multi_remove_handle(h->multi, r->easy);
  curl_easy_cleanup(r->easy); /* closes its connection now */
  r->easy = NULL;
  r->canceled = 1;
  for (pp = &h->canceled; *pp; pp = &(*pp)->next)
    ;
  *pp = r;
  if (!h->shutting)
    uv_timer_start(&h->cancel_timer, on_cancel_timer, 0, 0);
  return 0;
}
