/* acme_order.c — the order's states (RFC 8555 7.1.6): pending (answer each
 * authorization's http-01 challenge from the target's web root), ready
 * (finalize with the CSR signed on the target), processing (poll), valid
 * (download the certificate chain), invalid (the journal forgets it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme_int.h"
#include "acme_jws.h"
#include "common/keyscripts.h"
#include "acme_win.h"
#include "renewd/plugin_helpers.h"

static long poll_delay(acme_flow *f, const acme_reply *r) {
  return r && r->retry_after >= 0 ? r->retry_after * 1000 : f->poll_ms;
}

void acme_order_fetch(acme_flow *f) { acme_post(f, f->order_url, NULL, 0, acme_order_got); }

/* ------------------------------------------------------------ certificate */

int acme_set_issued(acme_flow *f, const char *chain_pem) {
  json_t *facts = f->h->facts(f->s), *nf = NULL;
  const char *end = strstr(chain_pem, "-----END CERTIFICATE-----");
  const char *rest;
  size_t leaf_len;
  if (f->win)
    return acme_win_install(f, chain_pem);
  if (!end || !f->staged)
    return RD_EPROTO;
  leaf_len = (size_t)(end - chain_pem) + strlen("-----END CERTIFICATE-----");
  if (f->h->cert_facts((const unsigned char *)chain_pem, leaf_len, &nf))
    return RD_EPROTO;
  json_object_set_new(facts, "new_cert", nf);
  rest = strstr(end, "-----BEGIN CERTIFICATE-----");
  if (rest)
    json_object_set_new(facts, "ca_pem", json_string(rest));
  json_object_set_new(facts, "staged", json_pack("{s:s, s:b}", "key", f->staged, "reused", 0));
  const char *serial = json_string_value(json_object_get(nf, "serial"));
  json_t *res = rd_result_new();
  rd_result_change(res, "certificate", "current certificate", serial ? serial : "?");
  acme_finish(f, 0, res, "issued serial %s by %s", serial ? serial : "?", f->dir_url);
  return 0;
}

/* 1 when the chain's first certificate holds pub. */
static int leaf_is_for(const char *pem, EVP_PKEY *pub) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  int ok = c && pub && EVP_PKEY_eq(X509_get0_pubkey(c), pub) == 1;
  X509_free(c);
  BIO_free(b);
  return ok;
}

static void cert_use(acme_flow *f, char *pem) {
  int rc;
  if (!leaf_is_for(pem, f->newpub)) {
    free(pem);
    /* issued for another key (the staged one was lost after finalize):
     * it cannot be installed; the next run orders again */
    acme_journal_order(f, "invalid", NULL);
    acme_fail(f, RD_EVERIFY, "CA %s: the certificate at %s is not for the key staged on the "
                             "target; it will be ordered again",
              f->dir_url, f->cert_url);
    return;
  }
  /* durable before it is used: a resumed job installs this one */
  if ((rc = acme_journal_order(f, "issued", pem)))
    acme_fail(f, rc, "journal: cannot record the issued certificate");
  else if ((rc = acme_set_issued(f, pem)))
    acme_fail(f, rc, "CA %s: the certificate at %s cannot be parsed", f->dir_url, f->cert_url);
  free(pem);
}

static void cert_got(acme_flow *f, int status, const acme_reply *r) {
  static const long ok[] = {200, 0};
  char *pem;
  if (acme_reply_failed(f, status, r, "certificate download", ok))
    return;
  if (!(pem = strndup((const char *)r->body, r->body_len))) {
    acme_fail(f, RD_ENOMEM, "out of memory");
    return;
  }
  acme_chain_choose(f, r, pem, cert_use);
}

/* --------------------------------------------------------------- finalize */

static void csr_signed(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  acme_flow *f = arg;
  unsigned char *sig = NULL, *der = NULL;
  size_t n = 0, dl = 0;
  char err[512], *csr64;
  (void)s;
  if (acme_remote_failed(f, status, r, "signing the CSR with the new key"))
    return;
  if (f->h->b64_decode(acme_remote_value(r, "sig") ? acme_remote_value(r, "sig") : "", &sig, &n) ||
      !n) {
    free(sig);
    acme_fail(f, RD_EPROTO, "signing the CSR: no signature returned");
    return;
  }
  int rc = rd_csr_build_finish(f->csrb, sig, n, &der, &dl, err, sizeof err);
  free(sig);
  if (rc) {
    acme_fail(f, rc, "%s", err);
    return;
  }
  csr64 = acme_b64url(der, dl);
  OPENSSL_free(der);
  if (!csr64) {
    acme_fail(f, RD_ENOMEM, "out of memory");
    return;
  }
  acme_post(f, f->finalize_url, json_pack("{s:s}", "csr", csr64), 0, acme_order_got);
  free(csr64);
}

/* The CSR: CN = the first identifier, every identifier a DNS SAN. */
static void finalize_posix(acme_flow *f) {
  X509_NAME *subj = X509_NAME_new();
  GENERAL_NAMES *sans = GENERAL_NAMES_new();
  unsigned char dg[EVP_MAX_MD_SIZE];
  size_t dl = 0, i;
  char err[512] = "CSR: cannot encode the names", *d64;
  json_t *v;
  int rc = subj && sans ? 0 : RD_ENOMEM;
  json_array_foreach(f->identifiers, i, v) {
    const char *name = json_string_value(json_object_get(v, "value"));
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    if (rc || !name || !g || !ia5 || !ASN1_STRING_set(ia5, name, -1) ||
        (i == 0 && !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
                                               (const unsigned char *)name, -1, -1, 0))) {
      GENERAL_NAME_free(g);
      ASN1_IA5STRING_free(ia5);
      rc = RD_ECRYPTO;
      break;
    }
    GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
    sk_GENERAL_NAME_push(sans, g);
  }
  rd_csr_build_free(f->csrb);
  f->csrb = NULL;
  if (!rc)
    rc = rd_csr_build_new(&f->csrb, subj, sans, f->newpub, NULL, err, sizeof err);
  X509_NAME_free(subj);
  GENERAL_NAMES_free(sans);
  if (rc || (rc = rd_csr_build_digest(f->csrb, dg, &dl))) {
    acme_fail(f, rc, "%s", err);
    return;
  }
  if (!(d64 = f->h->b64_encode(dg, dl))) {
    acme_fail(f, RD_ENOMEM, "out of memory");
    return;
  }
  acme_remote(f, &rd_keyscript_sign,
              json_pack("{s:s, s:s, s:s}", "key", f->staged, "digest", d64, "md", "sha256"),
              csr_signed);
  free(d64);
}

/* A Windows target's CSR was made and signed there by certreq -new. */
static void finalize(acme_flow *f) {
  if (f->win)
    acme_post(f, f->finalize_url, json_pack("{s:s}", "csr", acme_win_csr(f)), 0, acme_order_got);
  else
    finalize_posix(f);
}

/* ------------------------------------------------------- authorizations */

static void next_authz(acme_flow *f);
static void authz_got(acme_flow *f, int status, const acme_reply *r);

static void authz_fetch(acme_flow *f) { acme_post(f, f->authz_url, NULL, 0, authz_got); }

static void chal_removed(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  acme_flow *f = arg;
  (void)s;
  if (acme_remote_failed(f, status, r,
                         f->dns01 ? "removing the dns-01 record" : "removing the http-01 file"))
    return;
  f->authz_i++;
  next_authz(f);
}

static void chal_posted(acme_flow *f, int status, const acme_reply *r) {
  static const long ok[] = {200, 0};
  if (acme_reply_failed(f, status, r, "challenge", ok))
    return;
  f->polls = 0;
  acme_later(f, poll_delay(f, r), authz_fetch);
}

static void chal_ready(acme_flow *f) { acme_post(f, f->chal_url, json_object(), 0, chal_posted); }

static void chal_written(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  acme_flow *f = arg;
  (void)s;
  if (acme_remote_failed(f, status, r,
                         f->dns01 ? "adding the dns-01 record" : "writing the http-01 file"))
    return;
  f->chal_written = 1;
  /* dns-01: give the record time to reach the authoritative servers */
  acme_later(f, f->dns01 ? f->dns_wait_ms : 0, chal_ready);
}

/* The authorization's challenge of the configured type: its URL, token,
 * key authorization and (dns-01) record name. */
static int pick_challenge(acme_flow *f, json_t *authz) {
  const char *want = f->dns01 ? "dns-01" : "http-01";
  const json_t *ident = json_object_get(authz, "identifier");
  const char *id = json_string_value(json_object_get(ident, "value"));
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(authz, "challenges"), i, c) {
    const char *type = json_string_value(json_object_get(c, "type"));
    if (!type || strcmp(type, want))
      continue;
    acme_set_str(&f->chal_url, acme_url(json_string_value(json_object_get(c, "url"))));
    acme_set_str(&f->token, json_string_value(json_object_get(c, "token")));
    if (!f->chal_url || !acme_token_ok(f->token) || !id)
      return RD_EPROTO;
    /* a wildcard's record is the base name's (RFC 8555 8.4) */
    if (!strncmp(id, "*.", 2))
      id += 2;
    if (strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
        strlen(id))
      return RD_EPROTO;
    free(f->chal_name);
    if (asprintf(&f->chal_name, "_acme-challenge.%s", id) < 0)
      f->chal_name = NULL;
    free(f->keyauth);
    f->keyauth = acme_key_authorization(f->token, f->thumb);
    return f->chal_name && f->keyauth ? 0 : RD_ENOMEM;
  }
  return RD_ENOTSUP;
}

static void authz_got(acme_flow *f, int status, const acme_reply *r) {
  static const long ok[] = {200, 0};
  json_t *a;
  const char *st;
  char name[256] = "", detail[512] = "", stbuf[32] = "";
  int rc;
  if (acme_reply_failed(f, status, r, "authorization", ok))
    return;
  a = acme_reply_json(r);
  rd_one_line(json_string_value(json_object_get(a, "status")), stbuf, sizeof stbuf);
  st = stbuf[0] ? stbuf : NULL;
  rd_one_line(json_string_value(json_object_get(json_object_get(a, "identifier"), "value")), name,
              sizeof name);
  if (st && !strcmp(st, "valid")) {
    json_decref(a);
    if (f->chal_written) {
      f->chal_written = 0;
      if ((rc = acme_chal_script(f, 0, chal_removed, f)))
        acme_fail(f, rc, "removing the answer to the challenge: %s", f->h->strerror(rc));
      return;
    }
    f->authz_i++;
    next_authz(f);
    return;
  }
  if (st && !strcmp(st, "pending") && f->chal_written) {
    json_decref(a);
    if (++f->polls > f->max_polls)
      acme_fail(f, RD_ETIMEDOUT, "CA %s: authorization of %s still pending after %d polls",
                f->dir_url, name, f->max_polls);
    else
      acme_later(f, poll_delay(f, r), authz_fetch);
    return;
  }
  if (!st || strcmp(st, "pending")) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(a, "challenges"), i, c) if (json_object_get(c, "error"))
        rd_one_line(json_string_value(json_object_get(json_object_get(c, "error"), "detail")),
                    detail, sizeof detail);
    json_decref(a);
    /* a failed authorization fails its order: the next run orders again */
    acme_journal_order(f, "invalid", NULL);
    acme_fail(f, RD_EDENIED, "CA %s: authorization of %s is %s%s%s%s", f->dir_url, name,
              st ? st : "(no status)", detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
    return;
  }
  rc = pick_challenge(f, a);
  json_decref(a);
  if (rc) {
    acme_fail(f, rc, "CA %s: authorization of %s: %s %s challenge", f->dir_url, name,
              rc == RD_ENOTSUP ? "no" : "malformed", f->dns01 ? "dns-01" : "http-01");
    return;
  }
  if ((rc = acme_chal_script(f, 1, chal_written, f)))
    acme_fail(f, rc, "answering the challenge of %s: %s", name, f->h->strerror(rc));
}

static void next_authz(acme_flow *f) {
  json_t *u = json_array_get(f->authzs, f->authz_i);
  if (!u) {
    acme_order_fetch(f); /* every authorization done: the order is ready */
    return;
  }
  acme_set_str(&f->authz_url, acme_url(json_string_value(u)));
  if (!f->authz_url) {
    acme_fail(f, RD_EPROTO, "CA %s: order %s: an authorization is not a URL", f->dir_url,
              f->order_url);
    return;
  }
  f->polls = 0;
  authz_fetch(f);
}

/* ------------------------------------------------------------------ order */

static int order_created(acme_flow *f, const acme_reply *r) {
  int rc;
  if (!acme_url(r->location)) {
    acme_fail(f, RD_EPROTO, "CA %s: newOrder: no Location (https:// order URL) in the answer",
              f->dir_url);
    return -1;
  }
  acme_set_str(&f->order_url, r->location);
  /* durable before anything else is asked: a resumed job finishes it */
  if ((rc = acme_journal_order(f, "ordered", NULL)) ||
      (rc = f->h->set_state(f->s, "REQUESTED"))) {
    acme_fail(f, rc, "journal: cannot record the order %s", f->order_url);
    return -1;
  }
  return 0;
}

void acme_order_got(acme_flow *f, int status, const acme_reply *r) {
  static const long ok[] = {200, 201, 0};
  json_t *o;
  const char *st;
  char detail[512] = "", stbuf[32] = "";
  const char *what = !f->order_url ? "newOrder"
                     : f->finalize_url && f->p_url && !strcmp(f->p_url, f->finalize_url)
                         ? "finalize"
                         : "order";
  if (acme_reply_failed(f, status, r, what, ok))
    return;
  if (!f->order_url && order_created(f, r))
    return;
  o = acme_reply_json(r);
  rd_one_line(json_string_value(json_object_get(o, "status")), stbuf, sizeof stbuf);
  st = stbuf[0] ? stbuf : NULL;
  acme_set_str(&f->finalize_url, acme_url(json_string_value(json_object_get(o, "finalize"))));
  acme_set_str(&f->cert_url, acme_url(json_string_value(json_object_get(o, "certificate"))));
  json_decref(f->authzs);
  f->authzs = json_incref(json_object_get(o, "authorizations"));
  rd_one_line(json_string_value(json_object_get(json_object_get(o, "error"), "detail")), detail,
              sizeof detail);
  json_decref(o);
  if (st && !strcmp(st, "pending")) {
    f->authz_i = 0;
    next_authz(f);
  } else if (st && !strcmp(st, "ready") && f->finalize_url) {
    finalize(f);
  } else if (st && !strcmp(st, "processing")) {
    if (++f->polls > f->max_polls)
      acme_fail(f, RD_ETIMEDOUT, "CA %s: order %s still processing after %d polls", f->dir_url,
                f->order_url, f->max_polls);
    else
      acme_later(f, poll_delay(f, r), acme_order_fetch);
  } else if (st && !strcmp(st, "valid") && f->cert_url) {
    acme_post(f, f->cert_url, NULL, 0, cert_got);
  } else {
    /* a dead order: forget it, the next run orders again */
    acme_journal_order(f, "invalid", NULL);
    acme_fail(f, RD_EDENIED, "CA %s: order %s is %s%s%s%s", f->dir_url, f->order_url,
              st ? st : "(no status)", detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
  }
}
