/* acme_chain.c — alternate certificate chains (RFC 8555 7.4.2: the
 * certificate download's `Link: <URL>;rel="alternate"` headers, each URL a
 * POST-as-GET for the same certificate with another chain) and the
 * runbook's `preferred_chain`: the issuer CN of the topmost certificate of
 * the chain, as certbot and cert-manager match it. The default chain is
 * kept when no alternate matches (or cannot be fetched). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme_int.h"

int acme_link_alternates(const char *value, json_t *urls) {
  const char *p = value;
  int n = 0;
  while (p && *p) {
    const char *lt = strchr(p, '<'), *gt = lt ? strchr(lt, '>') : NULL, *end;
    if (!gt)
      break;
    end = gt + 1;
    /* the link's parameters run to the next ',' outside quotes */
    int quoted = 0, alt = 0;
    for (; *end && (quoted || *end != ','); end++)
      if (*end == '"')
        quoted = !quoted;
    for (const char *q = gt + 1; q < end; q++)
      if (!strncasecmp(q, "rel", 3)) {
        const char *v = q + 3;
        v += strspn(v, " \t");
        if (*v != '=')
          continue;
        v++;
        v += strspn(v, " \t\"");
        alt = !strncasecmp(v, "alternate", 9) && (v[9] == '"' || v[9] == ';' || v + 9 == end ||
                                                  isspace((unsigned char)v[9]));
      }
    if (alt) {
      char *u = strndup(lt + 1, (size_t)(gt - lt - 1));
      if (u && acme_url(u) && json_array_size(urls) < 8) {
        json_array_append_new(urls, json_string(u));
        n++;
      }
      free(u);
    }
    p = *end ? end + 1 : end;
  }
  return n;
}

char *acme_chain_top_issuer(const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509 *x, *top = NULL;
  char cn[256];
  int n = -1;
  while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
    X509_free(top);
    top = x;
  }
  ERR_clear_error();
  BIO_free(b);
  if (top)
    n = X509_NAME_get_text_by_NID(X509_get_issuer_name(top), NID_commonName, cn, sizeof cn);
  X509_free(top);
  return n >= 0 ? strdup(cn) : NULL;
}

static int chain_preferred(const acme_flow *f, const char *pem) {
  char *cn = acme_chain_top_issuer(pem);
  int ok = cn && !strcmp(cn, f->preferred_chain);
  free(cn);
  return ok;
}

static void next_alternate(acme_flow *f);

static void use_default(acme_flow *f) {
  char *pem = f->chain_default;
  f->chain_default = NULL;
  f->h->log(f->s, RD_LOG_INFO, "acme: no chain from \"%s\" among %zu alternate(s): the default",
            f->preferred_chain, json_array_size(f->alternates));
  f->chain_use(f, pem);
}

static void alternate_got(acme_flow *f, int status, const acme_reply *r) {
  char *pem;
  if (f->canceled || f->finished)
    return;
  if (status || !r || r->status != 200 ||
      !(pem = strndup((const char *)r->body, r->body_len))) {
    next_alternate(f);
    return;
  }
  if (!chain_preferred(f, pem)) {
    free(pem);
    next_alternate(f);
    return;
  }
  free(f->chain_default);
  f->chain_default = NULL;
  f->h->log(f->s, RD_LOG_INFO, "acme: the alternate chain from \"%s\"", f->preferred_chain);
  f->chain_use(f, pem);
}

static void next_alternate(acme_flow *f) {
  const char *url = json_string_value(json_array_get(f->alternates, f->alt_i++));
  if (!url)
    use_default(f);
  else
    acme_post(f, url, NULL, 0, alternate_got);
}

void acme_chain_choose(acme_flow *f, const acme_reply *r, char *pem,
                       void (*use)(acme_flow *f, char *pem)) {
  json_decref(f->alternates);
  f->alternates = r->alternates ? json_incref(r->alternates) : json_array();
  f->alt_i = 0;
  f->chain_use = use;
  if (!f->preferred_chain || !json_array_size(f->alternates) || chain_preferred(f, pem)) {
    use(f, pem);
    return;
  }
  free(f->chain_default);
  f->chain_default = pem;
  next_alternate(f);
}
