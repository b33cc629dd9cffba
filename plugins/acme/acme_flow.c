/* acme_flow.c — see acme_flow.h: the flow's life, configuration, requests
 * (nonces, badNonce), the directory, the account and the new order. The
 * order's states are in acme_order.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "acme_ari.h"
#include "acme_int.h"
#include "acme_jws.h"
#include "acme_win.h"
#include "common/keyscripts.h"
#include "renewd/plugin_helpers.h"

acme_flow *acme_flow_new(rd_step *s, const rd_host_api *h, const acme_transport *t) {
  acme_flow *f = calloc(1, sizeof *f);
  if (f) {
    f->s = s;
    f->h = h;
    f->t = t;
  }
  return f;
}

void acme_flow_free(void *p) {
  acme_flow *f = p;
  if (!f)
    return;
  free(f->dir_url);
  free(f->webroot);
  free(f->dns_hook);
  free(f->profile);
  free(f->chal_name);
  free(f->keyauth);
  free(f->key_path);
  json_decref(f->contact);
  json_decref(f->identifiers);
  EVP_PKEY_free(f->acct);
  free(f->eab_kid);
  if (f->eab_key)
    OPENSSL_cleanse(f->eab_key, f->eab_len);
  free(f->eab_key);
  free(f->new_nonce);
  free(f->new_account);
  free(f->new_order);
  free(f->renewal_info);
  free(f->replaces);
  free(f->nonce);
  free(f->kid);
  free(f->order_url);
  free(f->finalize_url);
  free(f->cert_url);
  json_decref(f->authzs);
  free(f->authz_url);
  free(f->chal_url);
  free(f->token);
  free(f->staged);
  free(f->preferred_chain);
  json_decref(f->alternates);
  free(f->chain_default);
  free(f->iis_site);
  free(f->win_store);
  free(f->win_csr);
  EVP_PKEY_free(f->newpub);
  rd_csr_build_free(f->csrb);
  free(f->p_url);
  json_decref(f->p_payload);
  free(f);
}

rd_step *acme_flow_step(const acme_flow *f) { return f->s; }
const rd_host_api *acme_flow_host(const acme_flow *f) { return f->h; }
void acme_flow_cancel(acme_flow *f) { f->canceled = 1; }

void acme_set_str(char **dst, const char *v) {
  free(*dst);
  *dst = v ? strdup(v) : NULL;
}

const char *acme_url(const char *u) {
  size_t n = u ? strlen(u) : 0;
  if (n < 9 || n > 2048 || strncmp(u, "https://", 8))
    return NULL;
  for (const unsigned char *p = (const unsigned char *)u; *p; p++)
    if (*p <= 0x20 || *p == 0x7f)
      return NULL;
  return u;
}

static void vfinish(acme_flow *f, int status, json_t *result, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void vfinish(acme_flow *f, int status, json_t *result, const char *fmt, va_list ap) {
  char msg[1024];
  if (f->finished || f->canceled) {
    json_decref(result);
    return;
  }
  f->finished = 1;
  vsnprintf(msg, sizeof msg, fmt, ap);
  f->h->donef(f->s, status, result, "%s", msg);
}

void acme_finish(acme_flow *f, int status, json_t *result, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfinish(f, status, result, fmt, ap);
  va_end(ap);
}

/* A failure while a challenge file is in the web root: remove it, then
 * complete with the failure (whatever the removal says, it is logged). */
typedef struct fail_ctx {
  acme_flow *f;
  int status;
  char msg[1024];
} fail_ctx;

static void fail_removed(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  fail_ctx *c = arg;
  if (status != RD_ECANCELED && (status || !r || r->exit_status))
    c->f->h->log(s, RD_LOG_WARN, "acme: the answer to challenge %s could not be removed",
                 c->f->token ? c->f->token : "?");
  if (status != RD_ECANCELED)
    acme_finish(c->f, c->status, NULL, "%s", c->msg);
  free(c);
}

void acme_fail(acme_flow *f, int status, const char *fmt, ...) {
  va_list ap;
  fail_ctx *c;
  va_start(ap, fmt);
  if (f->chal_written && !f->finished && !f->canceled && (c = calloc(1, sizeof *c))) {
    f->chal_written = 0;
    c->f = f;
    c->status = status;
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    if (acme_chal_script(f, 0, fail_removed, c) == 0)
      return;
    acme_finish(f, status, NULL, "%s", c->msg);
    free(c);
    return;
  }
  vfinish(f, status, NULL, fmt, ap);
  va_end(ap);
}

json_t *acme_reply_json(const acme_reply *r) {
  json_t *j = r && r->body_len ? json_loadb((const char *)r->body, r->body_len, 0, NULL) : NULL;
  if (j && !json_is_object(j)) {
    json_decref(j);
    j = NULL;
  }
  return j;
}

int acme_reply_failed(acme_flow *f, int status, const acme_reply *r, const char *what,
                      const long *want) {
  char detail[512] = "", type[160] = "";
  json_t *p;
  if (f->canceled || f->finished)
    return 1;
  if (status == RD_ECANCELED) /* a late answer: the phase is over */
    return 1;
  if (status) {
    acme_fail(f, status, "CA %s: %s: %s", f->dir_url, what, f->h->strerror(status));
    return 1;
  }
  for (const long *w = want; *w; w++)
    if (r->status == *w)
      return 0;
  p = acme_reply_json(r);
  rd_one_line(json_string_value(json_object_get(p, "detail")), detail, sizeof detail);
  rd_one_line(json_string_value(json_object_get(p, "type")), type, sizeof type);
  json_decref(p);
  acme_fail(f, r->status >= 500 ? RD_EIO : RD_EDENIED, "CA %s: %s: HTTP %ld%s%s%s%s%s",
            f->dir_url, what, r->status, type[0] ? " " : "", type, detail[0] ? " (" : "",
            detail, detail[0] ? ")" : "");
  return 1;
}

/* ------------------------------------------------------------ requests */

static void post_send(acme_flow *f);

static void keep_nonce(acme_flow *f, int status, const acme_reply *r) {
  if (!status && r && r->nonce && *r->nonce)
    acme_set_str(&f->nonce, r->nonce);
}

static int is_bad_nonce(const acme_reply *r) {
  json_t *p = r->status == 400 ? acme_reply_json(r) : NULL;
  const char *t = json_string_value(json_object_get(p, "type"));
  int bad = t && !strcmp(t, "urn:ietf:params:acme:error:badNonce");
  json_decref(p);
  return bad;
}

static void posted(acme_flow *f, int status, const acme_reply *r) {
  if (f->canceled || f->finished)
    return;
  keep_nonce(f, status, r);
  if (!status && is_bad_nonce(r) && f->nonce && ++f->p_tries < ACME_BAD_NONCE_TRIES) {
    f->h->log(f->s, RD_LOG_INFO, "acme: %s: badNonce, sending again with a fresh nonce",
              f->p_url);
    post_send(f);
    return;
  }
  f->p_cb(f, status, r);
}

static void nonce_got(acme_flow *f, int status, const acme_reply *r) {
  static const long ok[] = {200, 204, 0};
  if (f->canceled || f->finished || acme_reply_failed(f, status, r, "newNonce", ok))
    return;
  keep_nonce(f, status, r);
  if (!f->nonce) {
    acme_fail(f, RD_EPROTO, "CA %s: newNonce: no Replay-Nonce in the answer", f->dir_url);
    return;
  }
  post_send(f);
}

static void post_send(acme_flow *f) {
  char *jose, *nonce = f->nonce;
  int rc;
  if (!nonce) {
    if ((rc = f->t->send(f, f->new_nonce, NULL, nonce_got)))
      acme_fail(f, rc, "CA %s: newNonce: %s", f->dir_url, f->h->strerror(rc));
    return;
  }
  f->nonce = NULL; /* a nonce is used once */
  jose = acme_jws(f->acct, f->p_jwk ? NULL : f->kid, nonce, f->p_url, f->p_payload);
  free(nonce);
  if (!jose) {
    acme_fail(f, RD_ECRYPTO, "account key: cannot sign the request to %s", f->p_url);
    return;
  }
  rc = f->t->send(f, f->p_url, jose, posted);
  free(jose);
  if (rc)
    acme_fail(f, rc, "CA %s: %s: %s", f->dir_url, f->p_url, f->h->strerror(rc));
}

void acme_post(acme_flow *f, const char *url, json_t *payload, int use_jwk, acme_reply_fn cb) {
  acme_set_str(&f->p_url, url);
  json_decref(f->p_payload);
  f->p_payload = payload;
  f->p_jwk = use_jwk;
  f->p_tries = 0;
  f->p_cb = cb;
  post_send(f);
}

static void delay_sleep(void *arg) {
  acme_flow *f = arg;
  usleep((useconds_t)f->delay_ms * 1000);
}

static void delay_after(rd_step *s, int status, void *arg) {
  acme_flow *f = arg;
  (void)s;
  if (status == RD_ECANCELED || f->canceled || f->finished)
    return;
  f->after_delay(f);
}

void acme_later(acme_flow *f, long delay_ms, void (*fn)(acme_flow *f)) {
  int rc;
  f->after_delay = fn;
  f->delay_ms = delay_ms < 0 ? 0 : delay_ms > 60000 ? 60000 : delay_ms;
  if (!f->delay_ms) {
    fn(f);
    return;
  }
  if ((rc = f->h->work(f->s, delay_sleep, delay_after, f)))
    acme_fail(f, rc, "cannot wait before polling the CA: %s", f->h->strerror(rc));
}

int acme_remote(acme_flow *f, const rd_script *sc, json_t *params, rd_remote_cb cb) {
  int rc = f->h->remote(f->s, sc, params, cb, f);
  if (rc)
    acme_fail(f, rc, "script %s could not start: %s", sc->name, f->h->strerror(rc));
  return rc;
}

const char *acme_remote_value(const rd_remote_result *r, const char *name) {
  return r ? json_string_value(json_object_get(r->json, name)) : NULL;
}

int acme_remote_failed(acme_flow *f, int status, const rd_remote_result *r, const char *what) {
  char err[512];
  if (status == RD_ECANCELED || f->canceled || f->finished)
    return 1;
  if (status || !r || r->exit_status || !r->json) {
    rd_one_line(r ? r->err : NULL, err, sizeof err);
    acme_fail(f, status ? status : RD_EREMOTE, "%s: %s", what,
              status ? f->h->strerror(status) : err[0] ? err : "no answer");
    return 1;
  }
  return 0;
}

int acme_journal_order(acme_flow *f, const char *state, const char *cert_pem) {
  json_t *rec = json_pack("{s:s, s:s?, s:s?, s:s?}", "state", state, "account", f->kid, "order",
                          f->order_url, "staged", f->staged);
  char *pub = NULL;
  BIO *b = BIO_new(BIO_s_mem());
  char *p;
  long n;
  int rc;
  if (f->newpub && b && PEM_write_bio_PUBKEY(b, f->newpub) == 1 &&
      (n = BIO_get_mem_data(b, &p)) > 0)
    pub = strndup(p, (size_t)n);
  BIO_free(b);
  if (pub)
    json_object_set_new(rec, "pub", json_string(pub));
  if (cert_pem)
    json_object_set_new(rec, "cert", json_string(cert_pem));
  free(pub);
  rc = rec ? f->h->journal_put(f->s, ACME_JOURNAL_KEY, rec) : RD_ENOMEM;
  json_decref(rec);
  return rc;
}

/* --------------------------------------------------------- configuration */

/* Identifiers: the live certificate's DNS names, else certificate.subject_cn,
 * else the host's name. */
static json_t *identifiers_of(acme_flow *f) {
  json_t *ids = json_array();
  const json_t *sans = json_object_get(json_object_get(f->h->facts(f->s), "cert"), "sans");
  size_t i;
  json_t *v;
  json_array_foreach(sans, i, v) {
    const char *n = json_string_value(v);
    if (n && !strncmp(n, "DNS:", 4) && n[4])
      json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value", n + 4));
  }
  if (!json_array_size(ids)) {
    const char *cn =
        json_string_value(json_object_get(f->h->section(f->s, "certificate"), "subject_cn"));
    json_array_append_new(
        ids, json_pack("{s:s, s:s}", "type", "dns", "value", cn ? cn : f->h->host(f->s)));
  }
  return ids;
}

/* issuer.eab: {"kid": ..., "hmac_key": {"file"|"env": ...}} holding the
 * MAC key as the CA gives it (base64url). */
static int eab_config(acme_flow *f, const json_t *eab) {
  const char *kid = json_string_value(json_object_get(eab, "kid"));
  char *text = NULL, *b64;
  size_t len = 0, n;
  int rc;
  if (!eab)
    return 0;
  if (!kid || (rc = f->h->secret(f->s, json_object_get(eab, "hmac_key"), &text, &len))) {
    acme_finish(f, RD_ECONFIG, NULL,
                "issuer: 'eab' needs \"kid\" and \"hmac_key\" ({\"file\": ...} or "
                "{\"env\": ...} holding the CA's base64url MAC key)");
    return RD_ECONFIG;
  }
  n = strcspn(text, " \r\n\t");
  b64 = calloc(1, n + 4);
  for (size_t i = 0; b64 && i < n; i++)
    b64[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
  for (size_t i = n; b64 && i % 4; i++)
    b64[i] = '=';
  OPENSSL_cleanse(text, len);
  free(text);
  rc = b64 ? f->h->b64_decode(b64, &f->eab_key, &f->eab_len) : RD_ENOMEM;
  if (b64)
    OPENSSL_cleanse(b64, n);
  free(b64);
  if (rc || !f->eab_len) {
    acme_finish(f, RD_ECONFIG, NULL, "issuer: eab.hmac_key is not a base64url MAC key");
    return RD_ECONFIG;
  }
  acme_set_str(&f->eab_kid, kid);
  return 0;
}

int acme_flow_config(acme_flow *f) {
  const json_t *iss = f->h->section(f->s, "issuer");
  const json_t *cert = f->h->section(f->s, "certificate");
  const char *dir = json_string_value(json_object_get(iss, "directory"));
  const char *root = json_string_value(json_object_get(iss, "webroot"));
  const char *key = json_string_value(json_object_get(cert, "key"));
  json_t *ref = json_object_get(iss, "account_key");
  json_int_t poll = json_integer_value(json_object_get(iss, "poll_ms"));
  char *pem = NULL, err[512];
  size_t len = 0;
  int rc;
  if (!dir || strncmp(dir, "https://", 8)) {
    acme_finish(f, RD_ECONFIG, NULL, "issuer: 'directory' must be the CA's https:// directory URL");
    return RD_ECONFIG;
  }
  const char *chal = json_string_value(json_object_get(iss, "challenge_type"));
  const char *hook = json_string_value(json_object_get(iss, "dns_hook"));
  f->win = f->h->platform && f->h->platform(f->s) == RD_PLATFORM_WINDOWS;
  const char *site = f->win ? json_string_value(json_object_get(iss, "iis_site")) : NULL;
  const char *store = json_string_value(json_object_get(cert, "store"));
  f->dns01 = chal && !strcmp(chal, "dns-01");
  if (chal && !f->dns01 && strcmp(chal, "http-01")) {
    acme_finish(f, RD_ECONFIG, NULL, "issuer: 'challenge_type' must be \"http-01\" or \"dns-01\"");
    return RD_ECONFIG;
  }
  if (f->dns01 && !(f->win ? acme_win_path_ok(hook) : hook && hook[0] == '/')) {
    acme_finish(f, RD_ECONFIG, NULL,
                "issuer: dns-01 needs 'dns_hook', the absolute path of an executable on the "
                "target run as HOOK add|remove NAME VALUE");
    return RD_ECONFIG;
  }
  if (!f->dns01 && !site && !(f->win ? acme_win_path_ok(root) : root && root[0] == '/')) {
    acme_finish(f, RD_ECONFIG, NULL,
                "issuer: 'webroot' must be the absolute path the target's web server serves "
                "/.well-known/acme-challenge/ from (http-01)%s",
                f->win ? ", or 'iis_site' the IIS site whose physical path does" : "");
    return RD_ECONFIG;
  }
  acme_set_str(&f->dns_hook, hook);
  acme_set_str(&f->profile, json_string_value(json_object_get(iss, "profile")));
  f->dns_wait_ms = (long)json_integer_value(json_object_get(iss, "dns_wait_ms"));
  acme_set_str(&f->iis_site, site);
  acme_set_str(&f->preferred_chain, json_string_value(json_object_get(iss, "preferred_chain")));
  acme_set_str(&f->win_store, store ? store : "LocalMachine\\My");
  if (!key && !f->win) {
    acme_finish(f, RD_ECONFIG, NULL, "certificate: no key path to stage the new key next to");
    return RD_ECONFIG;
  }
  if ((rc = f->h->secret(f->s, ref, &pem, &len))) {
    acme_finish(f, RD_ECONFIG, NULL, "issuer: 'account_key' cannot be read: %s",
                f->h->strerror(rc));
    return RD_ECONFIG;
  }
  rc = acme_key_load(pem, len, &f->acct, err, sizeof err);
  free(pem);
  if (rc) {
    acme_finish(f, rc, NULL, "issuer: %s", err);
    return rc;
  }
  json_t *jwk = acme_jwk(f->acct);
  rc = jwk ? acme_jwk_thumbprint(jwk, f->thumb) : RD_ECRYPTO;
  json_decref(jwk);
  if (rc) {
    acme_finish(f, rc, NULL, "issuer: account key: cannot make its JWK thumbprint");
    return rc;
  }
  if ((rc = eab_config(f, json_object_get(iss, "eab"))))
    return rc;
  acme_set_str(&f->dir_url, dir);
  acme_set_str(&f->webroot, root);
  acme_set_str(&f->key_path, key);
  if (json_is_array(json_object_get(iss, "contact")))
    f->contact = json_incref(json_object_get(iss, "contact"));
  f->poll_ms = poll > 0 ? (long)poll : 2000;
  f->max_polls = 30;
  f->identifiers = identifiers_of(f);
  return 0;
}

/* ------------------------------------------------------ directory, account */

static void account_got(acme_flow *f, int status, const acme_reply *r) {
  static const long ok[] = {200, 201, 0};
  if (acme_reply_failed(f, status, r, "newAccount", ok))
    return;
  if (!acme_url(r->location)) {
    acme_fail(f, RD_EPROTO, "CA %s: newAccount: no Location (https:// account URL) in the answer",
              f->dir_url);
    return;
  }
  acme_set_str(&f->kid, r->location);
  /* RFC 9773 5: the order names the certificate it replaces */
  acme_post(f, f->new_order,
            json_pack("{s:O, s:s*, s:s*}", "identifiers", f->identifiers, "replaces",
                      f->replaces, "profile", f->profile),
            0,
            acme_order_got);
}

static void keygen_done(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  acme_flow *f = arg;
  const char *pub = acme_remote_value(r, "pub");
  BIO *b;
  (void)s;
  if (acme_remote_failed(f, status, r, "generating the new key"))
    return;
  b = pub ? BIO_new_mem_buf(pub, -1) : NULL;
  f->newpub = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  if (!f->newpub) {
    acme_fail(f, RD_EPROTO, "the new public key cannot be parsed");
    return;
  }
  acme_key_ready(f);
}

void acme_key_ready(acme_flow *f) {
  if (f->order_url) {
    /* resuming: the order goes on with the key staged now (an order is
     * bound to a key only at finalize; a lost staged key is made again) */
    int rc = acme_journal_order(f, "ordered", NULL);
    if (rc)
      acme_fail(f, rc, "journal: cannot record the order %s", f->order_url);
    else
      acme_order_fetch(f);
    return;
  }
  f->h->set_state(f->s, "KEY_READY");
  json_t *acct = json_pack("{s:b}", "termsOfServiceAgreed", 1);
  if (f->contact)
    json_object_set(acct, "contact", f->contact);
  if (f->eab_kid) {
    json_t *jwk = acme_jwk(f->acct);
    json_t *eab = jwk ? acme_eab(f->eab_kid, f->eab_key, f->eab_len, jwk, f->new_account) : NULL;
    json_decref(jwk);
    if (!eab) {
      json_decref(acct);
      acme_fail(f, RD_ECRYPTO, "account key: cannot make the external account binding");
      return;
    }
    json_object_set_new(acct, "externalAccountBinding", eab);
  }
  acme_post(f, f->new_account, acct, 1, account_got);
}

/* The order record of an earlier run, if it names an order to go on with. */
static int resume(acme_flow *f, json_t *rec) {
  const char *state = json_string_value(json_object_get(rec, "state"));
  if (!state || strcmp(state, "ordered") || !json_string_value(json_object_get(rec, "order")) ||
      !json_string_value(json_object_get(rec, "account")) ||
      !json_string_value(json_object_get(rec, "staged")))
    return 0;
  acme_set_str(&f->kid, json_string_value(json_object_get(rec, "account")));
  acme_set_str(&f->order_url, json_string_value(json_object_get(rec, "order")));
  acme_set_str(&f->staged, json_string_value(json_object_get(rec, "staged")));
  f->h->log(f->s, RD_LOG_INFO, "acme: resuming order %s", f->order_url);
  return 1;
}

/* The ARI CertID of the live certificate (facts.cert.pem), or NULL. */
static char *live_cert_id(acme_flow *f) {
  const char *pem =
      json_string_value(json_object_get(json_object_get(f->h->facts(f->s), "cert"), "pem"));
  BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
  X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  char *id = c ? acme_ari_cert_id(c) : NULL;
  X509_free(c);
  BIO_free(b);
  return id;
}

static int dir_parse(acme_flow *f, int status, const acme_reply *r) {
  static const long ok[] = {200, 0};
  json_t *d;
  if (acme_reply_failed(f, status, r, "directory", ok))
    return -1;
  d = acme_reply_json(r);
  acme_set_str(&f->new_nonce, acme_url(json_string_value(json_object_get(d, "newNonce"))));
  acme_set_str(&f->new_account, acme_url(json_string_value(json_object_get(d, "newAccount"))));
  acme_set_str(&f->new_order, acme_url(json_string_value(json_object_get(d, "newOrder"))));
  acme_set_str(&f->renewal_info, acme_url(json_string_value(json_object_get(d, "renewalInfo"))));
  json_decref(d);
  if (f->renewal_info)
    f->replaces = live_cert_id(f);
  if (!f->new_nonce || !f->new_account || !f->new_order) {
    acme_fail(f, RD_EPROTO, "CA %s: the directory lacks newNonce, newAccount or newOrder",
              f->dir_url);
    return -1;
  }
  return 0;
}

static void dir_got_apply(acme_flow *f, int status, const acme_reply *r) {
  json_t *rec;
  char bits[32];
  if (f->canceled || f->finished || dir_parse(f, status, r))
    return;
  const json_t *k = json_object_get(f->h->section(f->s, "policy"), "key");
  const char *type = json_string_value(json_object_get(k, "type"));
  const char *curve = json_string_value(json_object_get(k, "curve"));
  json_int_t nbits = json_integer_value(json_object_get(k, "bits"));
  keep_nonce(f, status, r);
  rec = f->h->journal_get(f->s, ACME_JOURNAL_KEY);
  int resumed = rec && resume(f, rec);
  json_decref(rec);
  if (f->win) {
    acme_win_stage(f, resumed);
    return;
  }
  /* new or resumed: the staged key (kept when it is there, else made) */
  if (!resumed && asprintf(&f->staged, "%s%s", f->key_path, RD_STAGED_SUFFIX) < 0) {
    f->staged = NULL;
    acme_fail(f, RD_ENOMEM, "out of memory");
    return;
  }
  snprintf(bits, sizeof bits, "%lld", nbits ? (long long)nbits : 2048LL);
  acme_remote(f, &rd_keyscript_keygen,
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "key", f->key_path, "staged", f->staged,
                        "reuse", "0", "type", type && !strcmp(type, "ec") ? "ec" : "rsa", "bits",
                        bits, "curve", curve ? curve : "P-256"),
              keygen_done);
}

void acme_flow_apply(acme_flow *f) {
  json_t *rec = f->h->journal_get(f->s, ACME_JOURNAL_KEY);
  const char *state = json_string_value(json_object_get(rec, "state"));
  const char *pem = json_string_value(json_object_get(rec, "cert"));
  int rc;
  if (state && !strcmp(state, "issued") && pem) {
    acme_set_str(&f->staged, json_string_value(json_object_get(rec, "staged")));
    rc = acme_set_issued(f, pem);
    json_decref(rec);
    if (rc)
      acme_fail(f, rc, "journal: the issued certificate cannot be parsed");
    return;
  }
  json_decref(rec);
  if ((rc = f->t->send(f, f->dir_url, NULL, dir_got_apply)))
    acme_fail(f, rc, "CA %s: directory: %s", f->dir_url, f->h->strerror(rc));
}

/* facts "renew_window" for the due decision (core/schedule.h): the CA's
 * window, its Retry-After as the next check (RFC 9773 4.3: at least a
 * minute, at most a day), or why there is none. */
static void set_window_fact(acme_flow *f, const acme_ari_window *w, long retry_after,
                            const char *note) {
  json_t *v;
  if (w) {
    time_t now = time(NULL);
    long ra = retry_after < 60 ? 60 : retry_after > 86400 ? 86400 : retry_after;
    v = json_pack("{s:s, s:I, s:I, s:I, s:I}", "source", "ARI", "start", (json_int_t)w->start,
                  "end", (json_int_t)w->end, "renew_at", (json_int_t)w->renew_at, "next_check",
                  (json_int_t)(retry_after >= 0 ? now + ra : 0));
  } else {
    v = json_pack("{s:s, s:s}", "source", "policy", "note",
                  note ? note : "the CA has no renewal window for this certificate");
  }
  json_object_set_new(f->h->facts(f->s), "renew_window", v);
}

/* The probe's report: what would be ordered and, when the CA offers
 * renewal information for the live certificate, its window. */
static void probe_report(acme_flow *f, const acme_ari_window *w, long retry_after,
                         const char *ari_note) {
  json_t *res = rd_result_new(), *v;
  char names[512] = "", ari[768] = "", s1[32], s2[32], s3[32];
  size_t i;
  json_array_foreach(f->identifiers, i, v) {
    size_t o = strlen(names);
    char one[256];
    rd_one_line(json_string_value(json_object_get(v, "value")), one, sizeof one);
    snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", one);
  }
  rd_result_change(res, "certificate", "current certificate", "(new certificate)");
  set_window_fact(f, w, retry_after, ari_note);
  if (w) {
    strftime(s1, sizeof s1, "%Y-%m-%dT%H:%M:%SZ", gmtime(&w->start));
    strftime(s2, sizeof s2, "%Y-%m-%dT%H:%M:%SZ", gmtime(&w->end));
    strftime(s3, sizeof s3, "%Y-%m-%dT%H:%M:%SZ", gmtime(&w->renew_at));
    json_object_set_new(res, "ari",
                        json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:s?}", "start", s1, "end", s2,
                                  "renew_at", s3, "now", w->now, "source", "CA renewalInfo",
                                  "retry_after", (json_int_t)retry_after, "explanation",
                                  w->explanation[0] ? w->explanation : NULL));
    snprintf(ari, sizeof ari, "; renewal window %s .. %s from the CA's renewalInfo: %s%s%s", s1,
             s2, w->now ? "renew at once" : "renew at ", w->now ? "" : s3,
             w->now && w->end <= time(NULL) ? " (the window is over: the CA wants it replaced)"
                                            : "");
  } else if (ari_note) {
    snprintf(ari, sizeof ari, "; %s", ari_note);
  }
  acme_finish(f, 0, res, "would order %s from %s (%s %s%s%s%s%s)%s", names, f->dir_url,
              f->dns01 ? "dns-01 through" : "http-01 in", f->dns01 ? f->dns_hook : f->webroot,
              f->profile ? ", profile " : "", f->profile ? f->profile : "",
              f->replaces ? ", replacing " : "", f->replaces ? f->replaces : "", ari);
}

static void ari_got(acme_flow *f, int status, const acme_reply *r) {
  acme_ari_window w;
  char note[256];
  if (f->canceled || f->finished)
    return;
  if (status || r->status != 200 ||
      acme_ari_parse((const char *)r->body, r->body_len, time(NULL),
                     (double)rand() / ((double)RAND_MAX + 1), &w)) {
    snprintf(note, sizeof note, "no renewal window: the CA's renewalInfo answered %s",
             status ? f->h->strerror(status) : r->status != 200 ? "an HTTP error" : "malformed");
    probe_report(f, NULL, -1, note);
    return;
  }
  probe_report(f, &w, r->retry_after, NULL);
}

static void dir_got_probe(acme_flow *f, int status, const acme_reply *r) {
  char *url = NULL;
  int rc;
  if (f->canceled || f->finished || dir_parse(f, status, r))
    return;
  if (!f->renewal_info || !f->replaces) {
    probe_report(f, NULL, -1, f->renewal_info ? NULL : "the CA offers no renewal information");
    return;
  }
  if (asprintf(&url, "%s%s%s", f->renewal_info,
               f->renewal_info[strlen(f->renewal_info) - 1] == '/' ? "" : "/", f->replaces) < 0) {
    acme_fail(f, RD_ENOMEM, "out of memory");
    return;
  }
  rc = f->t->send(f, url, NULL, ari_got);
  free(url);
  if (rc)
    probe_report(f, NULL, -1, "no renewal window: the CA's renewalInfo cannot be asked");
}

int acme_flow_begin(rd_step *s, const rd_host_api *h, const acme_transport *t, int probe) {
  acme_flow *f = acme_flow_new(s, h, t);
  if (!f)
    return RD_ENOMEM;
  h->set_data(s, f, acme_flow_free);
  if (acme_flow_config(f))
    return 0; /* completed with the sentence */
  if (probe)
    acme_flow_probe(f);
  else
    acme_flow_apply(f);
  return 0;
}

void acme_flow_probe(acme_flow *f) {
  int rc = f->t->send(f, f->dir_url, NULL, dir_got_probe);
  if (rc)
    acme_fail(f, rc, "CA %s: directory: %s", f->dir_url, f->h->strerror(rc));
}
