/* acme_flow.h — one ACME (RFC 8555) certificate order, driven from a step
 * of the issuer: directory, nonces (a badNonce answer is retried with the
 * fresh nonce), account (newAccount, found or created), newOrder,
 * authorizations with http-01 answered from the target's web root over SSH,
 * finalize with a CSR built here around the new public key and signed on the
 * target by the new key (common/csr.h), certificate download.
 *
 * The order is journaled ("acme.order": account, order URL, staged key and
 * its public key) as soon as the CA has created it, before anything else is
 * asked: a resumed job (a crash, a timeout, a restart) fetches that order
 * and goes on from its status — it never creates a second one.
 *
 * ACME needs the Replay-Nonce and Location response headers, so the flow
 * speaks HTTP through an acme_transport, not through host->http directly
 * (see docs/ACME.md). Scripts, journal, facts and completion go through the
 * host API. */
#ifndef RENEWD_ACME_FLOW_H
#define RENEWD_ACME_FLOW_H
#include <stddef.h>

#include <jansson.h>

#include "renewd/plugin.h"

#define ACME_JOURNAL_KEY "acme.order"

typedef struct acme_flow acme_flow;

typedef struct acme_reply {
  long status;               /* HTTP status */
  const char *nonce;         /* Replay-Nonce, or NULL */
  const char *location;      /* Location, or NULL */
  long retry_after;          /* Retry-After in seconds, -1: none */
  const unsigned char *body;
  size_t body_len;
  json_t *alternates;        /* Link rel="alternate" URLs (borrowed array), or NULL */
} acme_reply;

/* status: 0 when an answer came (any HTTP status), else RD_E* (r NULL). */
typedef void (*acme_reply_fn)(acme_flow *f, int status, const acme_reply *r);

typedef struct acme_transport {
  /* jose NULL: GET url; else POST jose (application/jose+json). Returns 0
   * and calls cb exactly once later (or from inside), or a negative RD_E*
   * and never calls it. */
  int (*send)(acme_flow *f, const char *url, const char *jose, acme_reply_fn cb);
} acme_transport;

/* A flow for step s; the step owns it (host->set_data). */
acme_flow *acme_flow_new(rd_step *s, const rd_host_api *h, const acme_transport *t);
void acme_flow_free(void *f);
rd_step *acme_flow_step(const acme_flow *f);
const rd_host_api *acme_flow_host(const acme_flow *f);
/* The phase timed out: later answers stop where they arrive. */
void acme_flow_cancel(acme_flow *f);

/* The issuer section's configuration and the account key; on an error the
 * phase is completed (with the sentence) and the code returned. */
int acme_flow_config(acme_flow *f);
/* probe: the directory answers; reports what would be ordered. */
void acme_flow_probe(acme_flow *f);
/* apply: the order, resumed from the journal or new; completes the phase. */
void acme_flow_apply(acme_flow *f);
/* A phase function's body: a flow over transport t owned by step s, its
 * configuration, then the probe (probe != 0) or the apply. Returns what the
 * phase function returns (0: a completion follows). */
int acme_flow_begin(rd_step *s, const rd_host_api *h, const acme_transport *t, int probe);

#endif
