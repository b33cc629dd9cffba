/* scep.c — the `scep.issue` step kind: a SCEP (RFC 8894) client issuer.
 *
 * probe  (read-only): GetCACaps + GetCACert (CA pinned by fingerprint),
 *        decides RenewalReq (old certificate valid and from this CA),
 *        PKCSReq (expired or foreign, with a challenge configured) or
 *        NEEDS_OPERATOR, and reports the request that would be sent.
 * apply: new key on the target (or the live one with rotate_key false) ->
 *        CSR built here around its public key, signed on the target by the
 *        new key -> PKIMessage built here, its signed attributes signed on
 *        the target by the old key (RenewalReq) or by a self-signed
 *        certificate of the new key (PKCSReq) -> POST -> CertRep verified
 *        against the CA -> envelope decrypted on the target -> the new
 *        certificate. The request (transaction id, nonce, signer, and the
 *        PKIMessage itself) is in the journal before it is sent: a PENDING
 *        or unanswered request is polled with CertPoll. A reply lost to a
 *        crash (journal "sent") whose CertPoll the CA cannot answer (HTTP
 *        error: scepserver says 500 "not implemented"; or a FAILURE) is
 *        recovered by sending the *identical* journaled message again (same
 *        transactionID and nonce: one transaction to the CA); the journal and
 *        the step's result say the CA may hold an orphan certificate.
 * rollback: removes a staged key that was never installed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/keyscripts.h"
#include "scep_csr.h"
#include "scep_msg.h"
#include "scep_op.h"
#include "scep_plugin.h"
#include "scep_scripts.h"


static void keygen_done(rd_step *s, int status, const rd_remote_result *r, void *arg);
static void csr_signed(rd_step *s, int status, const rd_remote_result *r, void *arg);
static void msg_signed(rd_step *s, int status, const rd_remote_result *r, void *arg);
static void build_and_sign_message(scep_op *op);
static int scep_run(scep_op *op, const rd_script *sc, json_t *params, rd_remote_cb cb) {
  int rc = op->h->remote(op->s, sc, params, cb, op);
  if (rc)
    scep_finish(op, rc, NULL, "script %s could not start: %s", sc->name, op->h->strerror(rc));
  return rc;
}

static void sign_on_target(scep_op *op, const char *keypath, const unsigned char *digest,
                           size_t dlen, const char *md, rd_remote_cb cb) {
  char *d64 = op->h->b64_encode(digest, dlen);
  if (!d64) {
    scep_finish(op, RD_ENOMEM, NULL, "out of memory");
    return;
  }
  scep_run(op, &rd_keyscript_sign, json_pack("{s:s, s:s, s:s}", "key", keypath, "digest", d64, "md", md),
      cb);
  free(d64);
}

static void set_issued(scep_op *op, X509 *issued) {
  json_t *facts = op->h->facts(op->s), *nf = NULL;
  char *pem = scep_x509_pem(issued), *capem = scep_x509_pem(op->ca);
  if (!pem || op->h->cert_facts((const unsigned char *)pem, strlen(pem), &nf)) {
    scep_finish(op, RD_EPROTO, NULL, "the issued certificate cannot be parsed");
    goto out;
  }
  json_object_set_new(facts, "new_cert", nf);
  if (capem)
    json_object_set_new(facts, "ca_pem", json_string(capem));
  json_object_set_new(facts, "staged", json_pack("{s:s, s:b}", "key", op->staged, "reused", op->reuse));
  json_t *rec = op->h->journal_get(op->s, "scep.request");
  if (!rec)
    rec = json_object();
  json_object_set_new(rec, "state", json_string("issued"));
  json_object_set_new(rec, "cert", json_string(pem));
  op->h->journal_put(op->s, "scep.request", rec);
  {
    char serial[128] = "", orphan[400] = "";
    const char *sv = json_string_value(json_object_get(nf, "serial"));
    json_t *res;
    snprintf(serial, sizeof serial, "%s", sv ? sv : "?");
    res = json_pack("{s:[{s:s, s:s?, s:s}]}", "changes", "what", "certificate", "old",
                    op->old ? "current certificate" : NULL, "new", serial);
    if (json_is_true(json_object_get(rec, "orphan_possible"))) {
      /* the report says so: the CA may hold a certificate nobody installed */
      snprintf(orphan, sizeof orphan,
               "; the reply to request %s was lost and the identical request resent: the CA may "
               "hold an orphan certificate from the first send",
               op->txid);
      json_array_append_new(json_object_get(res, "changes"),
                            json_pack("{s:s, s:n, s:s}", "what", "possible orphan certificate at the CA",
                                      "old", "new", "request resent after a lost reply"));
      json_object_set_new(res, "orphan",
                          json_pack("{s:b, s:s, s:O}", "possible", 1, "txid", op->txid, "resent",
                                    json_object_get(rec, "resent")));
    }
    scep_finish(op, 0, res, "issued serial %s by %s (%s)%s", serial, op->url,
                op->mode == MODE_RENEW ? "RenewalReq" : "PKCSReq", orphan);
  }
  json_decref(rec);
out:
  free(pem);
  free(capem);
}

static void decrypted(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  scep_op *op = arg;
  STACK_OF(X509) *certs = NULL;
  unsigned char *p7;
  size_t n = 0;
  char err[512];
  (void)s;
  if (scep_remote_failed(op, status, r, "decrypting the CA's reply"))
    return;
  if (!(p7 = scep_unb64(op, scep_remote_value(r, "p7"), &n))) {
    scep_finish(op, RD_EPROTO, NULL, "decrypting the CA's reply: no output");
    return;
  }
  if (scep_rep_certs_from_decrypted(p7, n, &certs, err, sizeof err)) {
    free(p7);
    scep_finish(op, RD_EPROTO, NULL, "CA %s: %s", op->url, err);
    return;
  }
  free(p7);
  X509 *issued = scep_pick_issued(certs, op->newpub);
  if (!issued)
    scep_finish(op, RD_EPROTO, NULL, "CA %s: the reply has no certificate for the new key", op->url);
  else
    set_issued(op, issued);
  scep_certs_free(certs);
}

/* A lost reply (journal "sent") whose CertPoll the CA cannot answer: send
 * the identical journaled PKIMessage again — same transactionID, senderNonce
 * and signature: the same transaction, asked for once more — after
 * journaling that the CA may now hold two certificates for it (the first an
 * orphan). The reply is checked against the journaled nonce. */
static void scep_resend_lost(scep_op *op, const char *why) {
  json_t *rec = op->h->journal_get(op->s, "scep.request");
  unsigned char *der = NULL, *nonce = NULL;
  size_t dlen = 0, nlen = 0;
  int rc;
  der = scep_unb64(op, json_string_value(json_object_get(rec, "der")), &dlen);
  nonce = scep_unb64(op, json_string_value(json_object_get(rec, "nonce")), &nlen);
  if (!der || !nonce || nlen != SCEP_NONCE_LEN) {
    free(der);
    free(nonce);
    json_decref(rec);
    scep_finish(op, RD_EPROTO, NULL,
                "CA %s: %s, and the journal holds no copy of request %s to send again: check the "
                "CA and clear the job",
                op->url, why, op->txid);
    return;
  }
  memcpy(op->nonce, nonce, SCEP_NONCE_LEN);
  free(nonce);
  json_object_set_new(rec, "resent",
                      json_integer(json_integer_value(json_object_get(rec, "resent")) + 1));
  json_object_set_new(rec, "orphan_possible", json_true());
  json_object_set_new(rec, "resend_why", json_string(why));
  rc = op->h->journal_put(op->s, "scep.request", rec);
  json_decref(rec);
  OPENSSL_free(op->der);
  op->der = rc ? NULL : OPENSSL_memdup(der, dlen);
  op->der_len = dlen;
  free(der);
  if (rc || !op->der) {
    scep_finish(op, rc ? rc : RD_ENOMEM, NULL, "journal: cannot record the resend of request %s",
                op->txid);
    return;
  }
  op->poll = op->poll_unanswered = 0;
  op->resent = 1;
  op->h->log(op->s, RD_LOG_WARN, "CA %s: %s; resending the identical request %s (lost reply)",
             op->url, why, op->txid);
  scep_gate_enter(op);
}

static void posted(rd_step *s, int status, const rd_http_response *r, void *arg) {
  scep_op *op = arg;
  scep_rep rep = {0};
  char err[512];
  (void)s;
  scep_gate_leave(op); /* the next request to this CA may go */
  if (op->canceled)
    return;
  if (status || r->status != 200) {
    char body[200] = "";
    if (r && r->body_len)
      snprintf(body, sizeof body, ": %.*s", (int)(r->body_len < 150 ? r->body_len : 150), r->body);
    body[strcspn(body, "\r\n")] = 0;
    /* the CA answered, but cannot poll: the lost reply is asked for again */
    if (!status && op->poll && op->poll_unanswered) {
      char why[260];
      snprintf(why, sizeof why, "CertPoll answered HTTP %ld%s", r->status, body);
      scep_resend_lost(op, why);
      return;
    }
    /* no answer at all to the first send: the CA may have issued. The job
     * waits at the CA (PENDING_CA keeps the journaled request and its
     * staged key); the next run polls it, or resends it identically */
    if (status && status != RD_ECANCELED && !op->poll && !op->h->set_state(op->s, "PENDING_CA")) {
      scep_finish(op, RD_EPENDING, NULL, "CA %s: PKIOperation: %s, no answer: the request may "
                  "have reached the CA; the next run polls it (never a new request)",
                  op->url, op->h->strerror(status));
      return;
    }
    /* the request may have reached the CA: keep it, poll next time */
    char http[32];
    snprintf(http, sizeof http, "HTTP %ld", r ? r->status : 0L);
    scep_finish(op, status ? status : RD_EPROTO, NULL, "CA %s: PKIOperation failed: %s%s", op->url,
           status ? op->h->strerror(status) : http, body);
    return;
  }
  if (scep_rep_parse(r->body, r->body_len, op->ca_certs, op->txid,
                     op->resent ? op->nonce : scep_req_nonce(op->req), &rep, err, sizeof err)) {
    scep_finish(op, RD_EVERIFY, NULL, "CA %s: %s", op->url, err);
    return;
  }
  json_t *rec = op->h->journal_get(op->s, "scep.request");
  if (rep.status == SCEP_STATUS_PENDING) {
    if (rec) {
      json_object_set_new(rec, "state", json_string("pending"));
      op->h->journal_put(op->s, "scep.request", rec);
    }
    op->h->set_state(op->s, "PENDING_CA");
    scep_finish(op, RD_EPENDING, NULL, "CA %s: request %s is pending approval; renewd will poll it "
                                  "(never resubmit)",
           op->url, op->txid);
  } else if (rep.status == SCEP_STATUS_FAILURE && op->poll && op->poll_unanswered) {
    /* the CA does not know the transaction: the request may never have
     * reached it, or it keeps no state for polls; ask again */
    char why[260];
    snprintf(why, sizeof why, "CertPoll refused: failInfo %s", scep_fail_info_name(rep.fail_info));
    scep_resend_lost(op, why);
  } else if (rep.status == SCEP_STATUS_FAILURE) {
    if (rec) {
      json_object_set_new(rec, "state", json_string("failed"));
      op->h->journal_put(op->s, "scep.request", rec);
    }
    scep_finish(op, RD_EDENIED, NULL, "CA %s: request refused: failInfo %s%s%s", op->url,
           scep_fail_info_name(rep.fail_info), rep.fail_text ? ": " : "",
           rep.fail_text ? rep.fail_text : "");
  } else {
    char *env = op->h->b64_encode(rep.envelope, rep.envelope_len), *signer = scep_x509_pem(op->signer);
    if (env && signer)
      scep_run(op, &scep_script_decrypt,
          json_pack("{s:s, s:s, s:s}", "key", op->signer_key, "envelope", env, "cert", signer),
          decrypted);
    else
      scep_finish(op, RD_ENOMEM, NULL, "out of memory");
    free(env);
    free(signer);
  }
  json_decref(rec);
  scep_rep_clear(&rep);
}


void scep_send_request(scep_op *op) {
  int rc;
  char url[1200];
  if (op->caps & SCEP_CAP_POSTPKIOPERATION) {
    snprintf(url, sizeof url, "%s?operation=PKIOperation", op->url);
    rd_http_request req = {"POST", url, SCEP_CT_PKI_MESSAGE, op->der, op->der_len, 0};
    rc = op->h->http(op->s, &req, posted, op);
  } else {
    char *q = NULL, *full;
    if ((rc = scep_get_query(op->der, op->der_len, &q)) == 0 &&
        asprintf(&full, "%s?%s", op->url, q) > 0) {
      rd_http_request req = {"GET", full, NULL, NULL, 0, 0};
      rc = op->h->http(op->s, &req, posted, op);
      free(full);
    }
    free(q);
  }
  OPENSSL_free(op->der);
  op->der = NULL;
  if (rc) {
    scep_gate_leave(op);
    scep_finish(op, rc, NULL, "CA %s: cannot send the request", op->url);
  }
}

static void post_request(scep_op *op) {
  int rc;
  if ((rc = scep_req_der(op->req, &op->der, &op->der_len))) {
    scep_finish(op, rc, NULL, "SCEP message: cannot encode");
    return;
  }
  if (op->poll) {
    /* the journaled request stays as it is (its type, signer and message
     * are what a resume and a resend need); the poll is not recorded */
    if ((rc = op->h->set_state(op->s, "REQUESTED"))) {
      scep_finish(op, rc, NULL, "journal: cannot record the poll of request %s", op->txid);
      return;
    }
    scep_gate_enter(op);
    return;
  }
  /* The request is durable before it leaves: a crash after this point
   * polls it instead of sending a second one. */
  char *signer = scep_x509_pem(op->signer), *nonce = op->h->b64_encode(scep_req_nonce(op->req), SCEP_NONCE_LEN);
  char *subj = NULL;
  unsigned char *sd = NULL;
  int sl = i2d_X509_NAME(op->subject, &sd);
  if (sl > 0)
    subj = op->h->b64_encode(sd, (size_t)sl);
  OPENSSL_free(sd);
  int type = op->mode == MODE_RENEW ? SCEP_MSG_RENEWALREQ : SCEP_MSG_PKCSREQ;
  char *der64 = op->h->b64_encode(op->der, op->der_len);
  /* "der": the message itself, sent again unchanged after a lost reply */
  json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b, s:s?}", "state", "sent",
                          "txid", op->txid, "type", scep_msg_type_name(type), "signer_key",
                          op->signer_key, "signer", signer, "nonce", nonce, "subject", subj,
                          "reuse", op->reuse, "der", der64);
  free(der64);
  json_object_set_new(rec, "staged", json_string(op->staged));
  char *pubpem = NULL;
  {
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;
    if (b && PEM_write_bio_PUBKEY(b, op->newpub) == 1 && (n = BIO_get_mem_data(b, &p)) > 0)
      pubpem = strndup(p, (size_t)n);
    BIO_free(b);
  }
  if (pubpem)
    json_object_set_new(rec, "pub", json_string(pubpem));
  free(pubpem);
  free(signer);
  free(nonce);
  free(subj);
  if ((rc = op->h->journal_put(op->s, "scep.request", rec)) ||
      (rc = op->h->set_state(op->s, "REQUESTED"))) {
    json_decref(rec);
    scep_finish(op, rc, NULL, "journal: cannot record the request before sending it");
    return;
  }
  json_decref(rec);
  scep_gate_enter(op);
}

static void msg_signed(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  scep_op *op = arg;
  unsigned char *sig;
  size_t n = 0;
  char err[512];
  (void)s;
  if (scep_remote_failed(op, status, r, "signing the SCEP message"))
    return;
  if (!(sig = scep_unb64(op, scep_remote_value(r, "sig"), &n))) {
    scep_finish(op, RD_EPROTO, NULL, "signing the SCEP message: no signature returned");
    return;
  }
  int rc = scep_req_set_signature(op->req, sig, n, err, sizeof err);
  free(sig);
  if (rc == RD_EVERIFY && op->poll) {
    /* The key that signed the journaled request is no longer at its path
     * (an operator re-enrolled the host while the request waited at the
     * CA): the poll cannot be signed. Say so, and that the CA may still
     * issue; the rollback removes the staged key, the next run starts
     * from the certificate installed now. */
    scep_finish(op, rc, NULL,
                "request %s: the key at %s is no longer the one that signed it (replaced since "
                "the request was sent?), so it cannot be polled: the request is abandoned and "
                "its staged key removed; the CA may still issue it: reject it there. The next "
                "run starts from the certificate installed now (%s)",
                op->txid, op->signer_key, err);
    return;
  }
  if (rc) {
    scep_finish(op, rc, NULL, "%s", err);
    return;
  }
  post_request(op);
}

static void build_and_sign_message(scep_op *op) {
  unsigned char dg[EVP_MAX_MD_SIZE];
  size_t dlen = 0;
  char err[512];
  unsigned char *inner = op->csr_der;
  size_t inner_len = op->csr_len;
  unsigned char *ias = NULL;
  int rc;
  scep_req_params p = {0};
  if (op->poll) {
    if ((rc = scep_issuer_and_subject(X509_get_subject_name(op->ca), op->subject, &ias, &inner_len))) {
      scep_finish(op, rc, NULL, "CertPoll: cannot encode IssuerAndSubject");
      return;
    }
    inner = ias;
  }
  p.type = op->poll ? SCEP_MSG_CERTPOLL : op->mode == MODE_RENEW ? SCEP_MSG_RENEWALREQ : SCEP_MSG_PKCSREQ;
  p.signer = op->signer;
  p.inner = inner;
  p.inner_len = inner_len;
  p.recipient = op->recipient;
  p.caps = op->caps;
  p.txid = op->txid[0] ? op->txid : NULL;
  rc = scep_req_build(&op->req, &p, err, sizeof err);
  OPENSSL_free(ias);
  if (rc) {
    scep_finish(op, rc, NULL, "%s", err);
    return;
  }
  snprintf(op->txid, sizeof op->txid, "%s", scep_req_txid(op->req));
  if ((rc = scep_req_tbs_digest(op->req, dg, &dlen))) {
    scep_finish(op, rc, NULL, "SCEP message: cannot digest the signed attributes");
    return;
  }
  sign_on_target(op, op->signer_key, dg, dlen, scep_req_md_name(op->req), msg_signed);
}

static void csr_signed(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  scep_op *op = arg;
  unsigned char *sig;
  size_t n = 0;
  char err[512];
  (void)s;
  if (scep_remote_failed(op, status, r, "signing the CSR with the new key"))
    return;
  if (!(sig = scep_unb64(op, scep_remote_value(r, "sig"), &n))) {
    scep_finish(op, RD_EPROTO, NULL, "signing the CSR: no signature returned");
    return;
  }
  int rc = scep_csr_build_finish(op->csrb, sig, n, &op->csr_der, &op->csr_len, err, sizeof err);
  free(sig);
  if (rc) {
    scep_finish(op, rc, NULL, "%s", err);
    return;
  }
  build_and_sign_message(op);
}

static void make_csr(scep_op *op) {
  unsigned char dg[EVP_MAX_MD_SIZE];
  size_t dlen = 0;
  char err[512];
  GENERAL_NAMES *sans = op->old ? X509_get_ext_d2i(op->old, NID_subject_alt_name, NULL, NULL) : NULL;
  int rc = scep_csr_build_new(&op->csrb, op->subject, sans, op->newpub, op->challenge, err, sizeof err);
  GENERAL_NAMES_free(sans);
  if (rc || (rc = scep_csr_build_digest(op->csrb, dg, &dlen))) {
    scep_finish(op, rc, NULL, "%s", err);
    return;
  }
  sign_on_target(op, op->staged, dg, dlen, "sha256", csr_signed);
}

static void selfsigned(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  scep_op *op = arg;
  (void)s;
  if (scep_remote_failed(op, status, r, "making the enrolment signer certificate"))
    return;
  if (!(op->signer = scep_pem_x509(scep_remote_value(r, "cert")))) {
    scep_finish(op, RD_EPROTO, NULL, "the enrolment signer certificate cannot be parsed");
    return;
  }
  make_csr(op);
}

static void keygen_done(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  scep_op *op = arg;
  (void)s;
  if (scep_remote_failed(op, status, r, "generating the new key"))
    return;
  if (!(op->newpub = scep_pem_pub(scep_remote_value(r, "pub")))) {
    scep_finish(op, RD_EPROTO, NULL, "the new public key cannot be parsed");
    return;
  }
  op->h->set_state(op->s, "KEY_READY");
  if (op->mode == MODE_RENEW) {
    op->signer = X509_dup(op->old);
    op->signer_key = op->old_key_path;
    make_csr(op);
  } else {
    op->signer_key = op->staged;
    scep_run(op, &scep_script_selfsign, json_pack("{s:s}", "key", op->staged), selfsigned);
  }
}

/* A request from an earlier run is in the journal: never send it again. */
static int resume_request(scep_op *op, json_t *rec) {
  const char *state = json_string_value(json_object_get(rec, "state"));
  const char *pem = json_string_value(json_object_get(rec, "cert"));
  if (state && !strcmp(state, "issued") && pem) {
    X509 *c = scep_pem_x509(pem);
    free(op->staged);
    op->staged = strdup(json_string_value(json_object_get(rec, "staged")));
    op->reuse = json_is_true(json_object_get(rec, "reuse"));
    if (c)
      set_issued(op, c);
    X509_free(c);
    return c ? 1 : 0;
  }
  if (state && (!strcmp(state, "sent") || !strcmp(state, "pending"))) {
    size_t n = 0;
    unsigned char *sd = scep_unb64(op, json_string_value(json_object_get(rec, "subject")), &n);
    const unsigned char *p = sd;
    op->poll = 1;
    op->poll_unanswered = !strcmp(state, "sent");
    snprintf(op->txid, sizeof op->txid, "%s", json_string_value(json_object_get(rec, "txid")));
    op->signer = scep_pem_x509(json_string_value(json_object_get(rec, "signer")));
    op->newpub = scep_pem_pub(json_string_value(json_object_get(rec, "pub")));
    free(op->staged);
    op->staged = strdup(json_string_value(json_object_get(rec, "staged")));
    op->signer_key = strcmp(json_string_value(json_object_get(rec, "type")), "RenewalReq")
                         ? op->staged
                         : op->old_key_path;
    X509_NAME_free(op->subject);
    op->subject = sd ? d2i_X509_NAME(NULL, &p, (long)n) : NULL;
    free(sd);
    if (!op->signer || !op->newpub || !op->subject || !op->signer_key) {
      scep_finish(op, RD_ESTATE, NULL, "journal: the earlier request %s is incomplete; it will not be "
                                  "resent: check the CA and clear the job",
             op->txid);
      return 1;
    }
    build_and_sign_message(op);
    return 1;
  }
  return 0;
}

void scep_after_ca(scep_op *op) {
  char *capem = scep_x509_pem(op->ca);
  /* the pinned CA, for checks that verify chains (tls.verify) */
  if (capem)
    json_object_set_new(op->h->facts(op->s), "ca_pem", json_string(capem));
  free(capem);
  scep_decide_mode(op);
  if (op->probe) {
    scep_probe_report(op);
    return;
  }
  if (op->mode == MODE_OPERATOR) {
    scep_finish(op, RD_EOPERATOR, NULL, "%s", op->why);
    return;
  }
  const json_t *pol = op->h->section(op->s, "policy");
  const json_t *key = json_object_get(pol, "key");
  const char *ktype = json_string_value(json_object_get(key, "type"));
  const char *curve = json_string_value(json_object_get(key, "curve"));
  json_int_t bits = json_integer_value(json_object_get(key, "bits"));
  char bitss[32];
  op->reuse = json_is_false(json_object_get(pol, "rotate_key")) && op->mode == MODE_RENEW;
  if (!op->old_key_path) {
    scep_finish(op, RD_ECONFIG, NULL, "certificate: no key path to stage the new key next to");
    return;
  }
  if (asprintf(&op->staged, "%s%s", op->old_key_path, STAGED_SUFFIX) < 0) {
    op->staged = NULL;
    scep_finish(op, RD_ENOMEM, NULL, "out of memory");
    return;
  }
  op->subject = op->old ? X509_NAME_dup(X509_get_subject_name(op->old)) : NULL;
  if (!op->subject) {
    const char *cn = json_string_value(json_object_get(op->h->section(op->s, "certificate"), "subject_cn"));
    op->subject = X509_NAME_new();
    X509_NAME_add_entry_by_txt(op->subject, "CN", MBSTRING_UTF8,
                               (const unsigned char *)(cn ? cn : op->h->host(op->s)), -1, -1, 0);
  }
  json_t *rec = op->h->journal_get(op->s, "scep.request");
  int resumed = rec && resume_request(op, rec);
  json_decref(rec);
  if (resumed)
    return;
  snprintf(bitss, sizeof bitss, "%lld", bits ? (long long)bits : 2048LL);
  scep_run(op, &rd_keyscript_keygen,
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "key", op->old_key_path, "staged", op->staged,
                "reuse", op->reuse ? "1" : "0", "type", ktype && !strcmp(ktype, "ec") ? "ec" : "rsa",
                "bits", bitss, "curve", curve ? curve : "P-256"),
      keygen_done);
}

static int begin(rd_step *s, const rd_host_api *h, int probe) {
  scep_op *op = calloc(1, sizeof *op);
  int rc;
  if (!op)
    return RD_ENOMEM;
  op->s = s;
  op->h = h;
  op->probe = probe;
  h->set_data(s, op, scep_op_free);
  if ((rc = scep_issuer_config(op)))
    return 0; /* scep_finish() already reported */
  if ((rc = scep_ca_start(op)))
    return rc;
  return 0;
}

static int scep_probe(rd_step *s, const rd_host_api *h) { return begin(s, h, 1); }
static int scep_apply(rd_step *s, const rd_host_api *h) { return begin(s, h, 0); }

static void cleaned(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  const rd_host_api *h = arg;
  if (status || !r || r->exit_status)
    h->done(s, status ? status : RD_EREMOTE, NULL, "could not remove the staged key");
  else
    h->done(s, 0, NULL, "staged key removed");
}

/* Remove a staged key that was never installed; keep a reused live key. */
static int scep_rollback(rd_step *s, const rd_host_api *h) {
  const json_t *staged = json_object_get(h->facts(s), "staged");
  json_t *rec = h->journal_get(s, "scep.request");
  const char *path = json_string_value(json_object_get(staged, "key"));
  int reused = json_is_true(json_object_get(staged, "reused"));
  char *p = NULL;
  if (!path && rec) {
    path = json_string_value(json_object_get(rec, "staged"));
    reused = json_is_true(json_object_get(rec, "reuse"));
  }
  if (!path) {
    const char *k = json_string_value(json_object_get(h->section(s, "certificate"), "key"));
    if (k && asprintf(&p, "%s%s", k, STAGED_SUFFIX) < 0)
      p = NULL;
    path = p;
  }
  json_t *params = reused || !path ? NULL : json_pack("{s:s}", "staged", path);
  free(p);
  json_decref(rec);
  if (!params) {
    h->done(s, 0, NULL, NULL);
    return 0;
  }
  return h->remote(s, &rd_keyscript_cleanup, params, cleaned, (void *)h);
}

static int scep_validate(const json_t *params, char *err, size_t errlen) {
  (void)params;
  (void)err;
  (void)errlen;
  return 0;
}

const rd_step_kind scep_kind_issue = {
    .type = "scep.issue",
    .summary = "SCEP (RFC 8894) issuer: RenewalReq signed on the target by the old key",
    .platform = RD_PLATFORM_POSIX,
    .flags = RD_KIND_ISSUER,
    .validate = scep_validate,
    .probe = scep_probe,
    .apply = scep_apply,
    .verify = NULL,
    .rollback = scep_rollback,
    .cancel = scep_cancel,
};

