/* scep_op.h — one scep.issue invocation (scep_op) and what the files of the
 * step kind share: scep_op.c (lifetime, completion, small codecs),
 * scep_ca.c (configuration, GetCACaps/GetCACert, the probe's report),
 * scep_gate.c (one PKIOperation at a time per CA, cancel), scep.c (the
 * apply flow, rollback, the kind). Private to plugins/scep. */
#ifndef RENEWD_SCEP_OP_H
#define RENEWD_SCEP_OP_H
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "renewd/plugin.h"
#include "scep_csr.h"
#include "scep_msg.h"

#define STAGED_SUFFIX ".renewd-new"

typedef enum { MODE_RENEW, MODE_ENROLL, MODE_OPERATOR } scep_mode;

typedef struct scep_op scep_op;
struct scep_op {
  rd_step *s;
  const rd_host_api *h;
  int probe;
  char url[1024];
  char msg[1024];
  unsigned caps;
  STACK_OF(X509) *ca_certs;
  X509 *ca, *recipient;         /* borrowed from ca_certs */
  X509 *old;                    /* the live certificate, or NULL */
  char *old_key_path;
  scep_mode mode;
  char why[1800];
  char *challenge;
  char *staged;                 /* new key path on the target */
  int reuse;
  EVP_PKEY *newpub;
  X509 *signer;                 /* old cert or self-signed of the new key */
  const char *signer_key;       /* path on the target */
  scep_csr_build *csrb;
  unsigned char *csr_der;
  size_t csr_len;
  X509_NAME *subject;           /* requested subject */
  scep_req *req;
  int poll;                     /* CertPoll of an earlier request */
  int poll_unanswered;          /* ... that the CA never answered (journal "sent") */
  int resent;                   /* the journaled request sent again (lost reply) */
  unsigned char nonce[SCEP_NONCE_LEN]; /* senderNonce of the resent request */
  unsigned char *der;           /* the PKIMessage waiting to be sent */
  size_t der_len;
  int gated;                    /* holds a place in its CA's gate */
  scep_op *next_wait;           /* queued behind other requests to its CA */
  int canceled;                 /* the engine abandoned the step: act no more */
  char txid[SCEP_TXID_MAX + 1];
};

/* scep_op.c */
void scep_op_free(void *p); /* the step data's free_fn: leaves the CA gate */
/* Completes the phase (donef with the message, or done without one);
 * nothing once the step was canceled. */
void scep_finish(scep_op *op, int status, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A base64 value from a script's result; NULL when absent or bad. */
unsigned char *scep_unb64(scep_op *op, const char *text, size_t *n);
char *scep_x509_pem(X509 *c);          /* caller frees */
X509 *scep_pem_x509(const char *pem);
EVP_PKEY *scep_pem_pub(const char *pem);
const char *scep_remote_value(const rd_remote_result *r, const char *key);
/* Non-zero (and the phase completed) when the script failed, or when the
 * step was canceled meanwhile (nothing completed: the engine moved on). */
int scep_remote_failed(scep_op *op, int status, const rd_remote_result *r, const char *what);

/* scep_ca.c */
int scep_issuer_config(scep_op *op);   /* url, challenge; completes on error */
int scep_ca_start(scep_op *op);        /* GetCACaps, GetCACert, then scep_after_ca */
/* RenewalReq, PKCSReq or an operator (op->mode, op->why), from the live
 * certificate (facts.cert), the CA and its caps, the challenge. */
void scep_decide_mode(scep_op *op);
void scep_probe_report(scep_op *op);

/* scep.c */
void scep_after_ca(scep_op *op);
void scep_send_request(scep_op *op);   /* the PKIOperation, op->der */

/* scep_gate.c */
void scep_gate_enter(scep_op *op);     /* sends now, or queues behind its CA */
void scep_gate_leave(scep_op *op);     /* frees its place; the next may go */
void scep_gate_drop(scep_op *op);      /* out of the queue, and the place left */
/* scep.issue's cancel hook: the step no longer acts (a queued request is
 * never sent) and gives back its place in the CA gate. */
void scep_cancel(rd_step *s, const rd_host_api *h);

#endif
