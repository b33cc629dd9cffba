/* scep_op.c — scep.issue: an invocation's lifetime, its completion and
 * small codecs. See scep_op.h. */
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

void scep_op_free(void *p) {
  scep_op *op = p;
  if (!op)
    return;
  scep_gate_drop(op); /* never left queued or holding a place when freed */
  scep_certs_free(op->ca_certs);
  X509_free(op->old);
  free(op->old_key_path);
  if (op->challenge) {
    OPENSSL_cleanse(op->challenge, strlen(op->challenge));
    free(op->challenge);
  }
  free(op->staged);
  EVP_PKEY_free(op->newpub);
  X509_free(op->signer);
  scep_csr_build_free(op->csrb);
  OPENSSL_free(op->csr_der);
  X509_NAME_free(op->subject);
  scep_req_free(op->req);
  OPENSSL_free(op->der);
  free(op);
}

void scep_finish(scep_op *op, int status, json_t *result, const char *fmt, ...) {
  char msg[2048] = "";
  if (op->canceled) {
    json_decref(result);
    return;
  }
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
  }
  if (msg[0])
    op->h->donef(op->s, status, result, "%s", msg);
  else
    op->h->done(op->s, status, result, NULL);
}

/* --- small codecs ---------------------------------------------------------- */

/* Decode a base64 value from a script's result; NULL when absent or bad. */
unsigned char *scep_unb64(scep_op *op, const char *text, size_t *n) {
  unsigned char *out = NULL;
  return text && op->h->b64_decode(text, &out, n) == 0 ? out : NULL;
}

char *scep_x509_pem(X509 *c) {
  BIO *b = BIO_new(BIO_s_mem());
  char *p, *o = NULL;
  long n;
  if (b && PEM_write_bio_X509(b, c) == 1 && (n = BIO_get_mem_data(b, &p)) > 0 && (o = malloc((size_t)n + 1))) {
    memcpy(o, p, (size_t)n);
    o[n] = 0;
  }
  BIO_free(b);
  return o;
}

X509 *scep_pem_x509(const char *pem) {
  BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
  X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return c;
}

EVP_PKEY *scep_pem_pub(const char *pem) {
  BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
  EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return k;
}

const char *scep_remote_value(const rd_remote_result *r, const char *key) {
  return r && r->json ? json_string_value(json_object_get(r->json, key)) : NULL;
}

int scep_remote_failed(scep_op *op, int status, const rd_remote_result *r, const char *what) {
  if (op->canceled)
    return 1;
  if (status == 0 && r && r->exit_status == 0 && r->json)
    return 0;
  const char *err = r && r->err && *r->err ? r->err : op->h->strerror(status ? status : RD_EREMOTE);
  char line[600];
  snprintf(line, sizeof line, "%s", err);
  line[strcspn(line, "\n")] = 0;
  scep_finish(op, status ? status : RD_EREMOTE, NULL, "%s on the target: %s", what, line);
  return 1;
}
