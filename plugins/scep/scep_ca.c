/* scep_ca.c — scep.issue: the issuer configuration, GetCACaps and
 * GetCACert (the CA pinned by fingerprint), the choice between RenewalReq,
 * PKCSReq and an operator, and the probe's report. See scep_op.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "scep_csr.h"
#include "scep_msg.h"
#include "scep_op.h"
#include "scep_plugin.h"
#include "scep_scripts.h"

/* --- configuration --------------------------------------------------------- */

int scep_issuer_config(scep_op *op) {
  const json_t *iss = op->h->section(op->s, "issuer");
  const char *url = json_string_value(json_object_get(iss, "url"));
  const json_t *ch = json_object_get(iss, "challenge");
  if (!url) {
    scep_finish(op, RD_ECONFIG, NULL, "issuer: no 'url'");
    return RD_ECONFIG;
  }
  snprintf(op->url, sizeof op->url, "%s", url);
  if (json_is_object(ch)) {
    size_t n;
    if (op->h->secret(op->s, ch, &op->challenge, &n)) {
      scep_finish(op, RD_ECONFIG, NULL, "issuer: cannot read the challenge secret");
      return RD_ECONFIG;
    }
  }
  return 0;
}

static int pinned_fingerprint(scep_op *op, char *out, size_t outlen) {
  const json_t *iss = op->h->section(op->s, "issuer");
  const json_t *fp = json_object_get(iss, "ca_fingerprint");
  if (json_is_string(fp)) {
    snprintf(out, outlen, "%s", json_string_value(fp));
    return 0;
  }
  if (json_is_object(fp)) {
    char *v = NULL;
    size_t n = 0;
    if (op->h->secret(op->s, fp, &v, &n) == 0) {
      snprintf(out, outlen, "%s%s", strncmp(v, "sha", 3) ? "sha256:" : "", v);
      out[strcspn(out, "\r\n \t")] = 0;
      free(v);
      return 0;
    }
  }
  return RD_ECONFIG;
}

void scep_decide_mode(scep_op *op) {
  const json_t *facts = op->h->facts(op->s);
  const json_t *cert = json_object_get(facts, "cert");
  int expired = json_is_true(json_object_get(json_object_get(facts, "due"), "expired"));
  time_t na = (time_t)json_integer_value(json_object_get(cert, "not_after"));
  if (cert && na && na <= time(NULL))
    expired = 1;
  op->old = cert ? scep_pem_x509(json_string_value(json_object_get(cert, "pem"))) : NULL;
  const char *kp = json_string_value(json_object_get(cert, "key_path"));
  if (!kp)
    kp = json_string_value(json_object_get(op->h->section(op->s, "certificate"), "key"));
  op->old_key_path = kp ? strdup(kp) : NULL;
  int from_ca = op->old && op->ca && X509_check_issued(op->ca, op->old) == X509_V_OK;
  int key_ok = !cert || json_is_true(json_object_get(cert, "key_match"));
  if (op->old && !expired && from_ca && key_ok && (op->caps & SCEP_CAP_RENEWAL)) {
    op->mode = MODE_RENEW;
    snprintf(op->why, sizeof op->why, "RenewalReq signed on the target by the current key");
    return;
  }
  const char *reason = !op->old ? "there is no current certificate"
                       : expired ? "the current certificate has expired"
                       : !from_ca ? "the current certificate was not issued by this CA"
                       : !key_ok ? "the current key does not match the certificate"
                                 : "the CA does not offer Renewal";
  if (op->challenge) {
    op->mode = MODE_ENROLL;
    snprintf(op->why, sizeof op->why, "PKCSReq with the challenge password: %s", reason);
  } else {
    op->mode = MODE_OPERATOR;
    snprintf(op->why, sizeof op->why,
             "%s, so a RenewalReq is impossible, and the runbook has no issuer.challenge for a "
             "new enrolment: add \"challenge\": {\"file\": \"/etc/renewd/scep-challenge\"} to the "
             "issuer, or enrol by hand (e.g. scepclient -server-url %s -challenge ... "
             "-private-key KEY -certificate CERT) and run renewd again",
             reason, op->url);
  }
}

/* --- HTTP: GetCACaps, GetCACert ---------------------------------------------- */

void scep_after_ca(scep_op *op);

static void got_cacert(rd_step *s, int status, const rd_http_response *r, void *arg) {
  scep_op *op = arg;
  char err[512], fp[256];
  (void)s;
  if (op->canceled)
    return;
  if (status || r->status != 200) {
    scep_finish(op, status ? status : RD_EPROTO, NULL, "CA %s: GetCACert failed: %s", op->url,
           status ? op->h->strerror(status) : "HTTP error");
    return;
  }
  if (scep_cacert_parse(r->body, r->body_len, r->content_type, &op->ca_certs, err, sizeof err)) {
    scep_finish(op, RD_EPROTO, NULL, "CA %s: %s", op->url, err);
    return;
  }
  op->ca = scep_pick_ca(op->ca_certs);
  op->recipient = scep_pick_recipient(op->ca_certs);
  if (!op->ca || !op->recipient) {
    scep_finish(op, RD_EPROTO, NULL, "CA %s: GetCACert has no CA certificate", op->url);
    return;
  }
  if (pinned_fingerprint(op, fp, sizeof fp)) {
    scep_finish(op, RD_ECONFIG, NULL, "issuer: ca_fingerprint is missing or unreadable");
    return;
  }
  if (scep_fingerprint_check(op->ca, fp, err, sizeof err)) {
    scep_finish(op, RD_EVERIFY, NULL, "CA %s: %s (refusing a CA that does not match the pinned "
                                 "ca_fingerprint)",
           op->url, err);
    return;
  }
  scep_after_ca(op);
}

static void got_caps(rd_step *s, int status, const rd_http_response *r, void *arg) {
  scep_op *op = arg;
  char url[1200];
  int rc;
  (void)s;
  if (op->canceled)
    return;
  if (status || r->status != 200) {
    scep_finish(op, status ? status : RD_EPROTO, NULL, "CA %s: GetCACaps failed: %s (HTTP %ld)", op->url,
           status ? op->h->strerror(status) : "bad status", r ? r->status : 0L);
    return;
  }
  op->caps = scep_caps_parse((const char *)r->body, r->body_len);
  snprintf(url, sizeof url, "%s?operation=GetCACert", op->url);
  rd_http_request req = {"GET", url, NULL, NULL, 0, 0};
  if ((rc = op->h->http(op->s, &req, got_cacert, op)))
    scep_finish(op, rc, NULL, "CA %s: cannot request GetCACert", op->url);
}

int scep_ca_start(scep_op *op) {
  char url[1200];
  snprintf(url, sizeof url, "%s?operation=GetCACaps", op->url);
  rd_http_request req = {"GET", url, NULL, NULL, 0, 0};
  return op->h->http(op->s, &req, got_caps, op);
}

/* --- probe ------------------------------------------------------------------- */

static json_t *change(const char *what, const char *old, const char *new) {
  return json_pack("{s:s, s:s?, s:s?}", "what", what, "old", old, "new", new);
}

/* A request of an earlier run in the journal: what apply will do with it
 * (poll it; resend it identically when its reply was lost and the CA cannot
 * poll), and a possible orphan at the CA once it was resent. Returns 1 when
 * it described the request. */
static int scep_probe_journaled(scep_op *op, json_t *changes) {
  json_t *rec = op->h->journal_get(op->s, "scep.request");
  const char *st = json_string_value(json_object_get(rec, "state"));
  const char *txid = json_string_value(json_object_get(rec, "txid"));
  const char *type = json_string_value(json_object_get(rec, "type"));
  char was[300], will[600];
  int sent = st && !strcmp(st, "sent"), described = 0;
  if (txid && (sent || (st && !strcmp(st, "pending")))) {
    snprintf(was, sizeof was, "%s %s %s", type ? type : "request", txid,
             sent ? "sent, its reply lost" : "pending at the CA");
    snprintf(will, sizeof will, "poll it (CertPoll)%s",
             sent && json_object_get(rec, "der")
                 ? "; if the CA cannot poll, send the identical request again (the CA may then "
                   "hold an orphan certificate)"
                 : "");
    json_array_append_new(changes, change("request", was, will));
    described = 1;
  }
  if (txid && json_is_true(json_object_get(rec, "orphan_possible")))
    json_array_append_new(changes, change("possible orphan certificate at the CA", NULL,
                                          "request resent after a lost reply"));
  json_decref(rec);
  return described;
}

void scep_probe_report(scep_op *op) {
  const json_t *facts = op->h->facts(op->s);
  const json_t *cert = json_object_get(facts, "cert");
  const json_t *pol = op->h->section(op->s, "policy");
  const json_t *key = json_object_get(pol, "key");
  const char *ktype = json_string_value(json_object_get(key, "type"));
  json_int_t bits = json_integer_value(json_object_get(key, "bits"));
  int rotate = !json_is_false(json_object_get(pol, "rotate_key"));
  char oldv[512], newv[1100], keyv[256];
  json_t *changes = json_array();
  snprintf(oldv, sizeof oldv, "%s, serial %s, sha1 %s",
           cert ? json_string_value(json_object_get(cert, "subject")) : "(none)",
           cert ? json_string_value(json_object_get(cert, "serial")) : "-",
           cert ? json_string_value(json_object_get(cert, "sha1")) : "-");
  snprintf(newv, sizeof newv, "%s to %s", op->mode == MODE_RENEW ? "RenewalReq" : "PKCSReq",
           op->url);
  if (op->mode != MODE_OPERATOR && !scep_probe_journaled(op, changes))
    json_array_append_new(changes, change("request", NULL, newv));
  if (rotate)
    snprintf(keyv, sizeof keyv, "new %s %lld-bit key generated on the target",
             ktype ? ktype : "rsa", bits ? (long long)bits : 2048LL);
  else
    snprintf(keyv, sizeof keyv, "the current key is reused (rotate_key false)");
  json_array_append_new(changes, change("key", "current key", keyv));
  json_array_append_new(changes, change("certificate", oldv, "(new certificate from the CA)"));
  json_t *res = json_pack("{s:o, s:s, s:s}", "changes", changes, "mode",
                          op->mode == MODE_RENEW    ? "renewal"
                          : op->mode == MODE_ENROLL ? "enrolment"
                                                    : "operator",
                          "ca", op->url);
  if (op->mode == MODE_OPERATOR)
    scep_finish(op, 0, res, "needs an operator: %s", op->why);
  else
    scep_finish(op, 0, res, "%s", op->why);
}

/* --- apply ------------------------------------------------------------------- */
