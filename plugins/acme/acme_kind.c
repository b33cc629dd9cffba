/* acme_kind.c — the `acme.issue` step kind: the order flow (acme_flow.h)
 * with the host's HTTP as its transport (the response headers through
 * host->http_header). */
#include <stdlib.h>
#include <string.h>

#include "acme_flow.h"
#include "acme_int.h"
#include "acme_win.h"
#include "common/keyscripts.h"
#include "renewd/plugin_helpers.h"

typedef struct send_ctx {
  acme_flow *f;
  acme_reply_fn cb;
} send_ctx;

static void host_answer(rd_step *s, int status, const rd_http_response *r, void *arg) {
  send_ctx *c = arg;
  const rd_host_api *h = acme_flow_host(c->f);
  char nonce[256], location[2048], retry[32], link[2100];
  acme_reply rep = {0};
  (void)s;
  if (!status && r) {
    rep.status = r->status;
    rep.nonce = h->http_header(r, "Replay-Nonce", nonce, sizeof nonce) ? NULL : nonce;
    rep.location = h->http_header(r, "Location", location, sizeof location) ? NULL : location;
    rep.retry_after = h->http_header(r, "Retry-After", retry, sizeof retry) ? -1 : atol(retry);
    rep.body = r->body;
    rep.body_len = r->body_len;
    rep.alternates = json_array();
    for (size_t i = 0; i < 16 && !h->http_header_at(r, "Link", i, link, sizeof link); i++)
      acme_link_alternates(link, rep.alternates);
  }
  c->cb(c->f, status, status ? NULL : &rep);
  json_decref(rep.alternates);
  free(c);
}

static int host_send(acme_flow *f, const char *url, const char *jose, acme_reply_fn cb) {
  const rd_host_api *h = acme_flow_host(f);
  send_ctx *c = malloc(sizeof *c);
  rd_http_request req = {jose ? "POST" : "GET", url, jose ? "application/jose+json" : NULL,
                         (const unsigned char *)jose, jose ? strlen(jose) : 0, 0};
  int rc;
  if (!c)
    return RD_ENOMEM;
  c->f = f;
  c->cb = cb;
  if ((rc = h->http(acme_flow_step(f), &req, host_answer, c)))
    free(c);
  return rc;
}

static const acme_transport host_transport = {host_send};

static int acme_probe(rd_step *s, const rd_host_api *h) {
  return acme_flow_begin(s, h, &host_transport, 1);
}
static int acme_apply(rd_step *s, const rd_host_api *h) {
  return acme_flow_begin(s, h, &host_transport, 0);
}

static void acme_cancel(rd_step *s, const rd_host_api *h) {
  acme_flow *f = h->data(s);
  if (f)
    acme_flow_cancel(f);
}

static void cleaned(rd_step *s, const rd_host_api *h, const json_t *out) {
  (void)out;
  h->donef(s, 0, NULL, "staged key removed");
}

/* Remove a staged key that was never installed. */
static int acme_rollback(rd_step *s, const rd_host_api *h) {
  const char *path =
      json_string_value(json_object_get(json_object_get(h->facts(s), "staged"), "key"));
  if (h->platform(s) == RD_PLATFORM_WINDOWS)
    return acme_win_rollback(s, h);
  if (!path) {
    h->done(s, 0, NULL, NULL);
    return 0;
  }
  return rd_remote_ok(s, h, &rd_keyscript_cleanup, json_pack("{s:s}", "staged", path), cleaned);
}

const rd_step_kind acme_kind_issue = {
    .type = "acme.issue",
    .summary = "ACME (RFC 8555) issuer: http-01 or dns-01 without an agent, the CSR signed on "
               "the target",
    .platform = RD_PLATFORM_ANY, /* POSIX (sh + openssl) and Windows (acme_win.c) */
    .flags = RD_KIND_ISSUER | RD_KIND_WINDOW,
    .probe = acme_probe,
    .apply = acme_apply,
    .rollback = acme_rollback,
    .cancel = acme_cancel,
};
