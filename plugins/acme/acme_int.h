/* acme_int.h — what the files of the ACME flow share: acme_flow.c (life,
 * configuration, requests, nonces, directory, account, new order),
 * acme_order.c (the order's states: authorizations, http-01, finalize,
 * certificate). Private to plugins/acme. */
#ifndef RENEWD_ACME_INT_H
#define RENEWD_ACME_INT_H
#include <openssl/evp.h>

#include "acme_flow.h"
#include "common/csr.h"

#define ACME_JOSE "application/jose+json"
#define ACME_BAD_NONCE_TRIES 5 /* pebble rejects 5% of good nonces: 5 tries fail 3e-7 */

struct acme_flow {
  rd_step *s;
  const rd_host_api *h;
  const acme_transport *t;
  int canceled, finished;
  /* configuration */
  char *dir_url, *webroot, *key_path;
  int dns01;             /* the challenge answered: dns-01 (hook) or http-01 */
  char *dns_hook;        /* dns-01: the hook's absolute path on the target */
  long dns_wait_ms;      /* dns-01: wait after adding the record */
  char *profile;         /* the CA's certificate profile, or NULL */
  json_t *contact;     /* array of "mailto:..." or NULL */
  json_t *identifiers; /* [{"type":"dns","value":...}] */
  EVP_PKEY *acct;
  char thumb[44];
  char *eab_kid; /* external account binding, when the CA needs one */
  unsigned char *eab_key;
  size_t eab_len;
  long poll_ms;
  int max_polls;
  /* the CA's directory and the account */
  char *new_nonce, *new_account, *new_order, *renewal_info;
  char *replaces; /* ARI CertID of the live certificate (directory with renewalInfo) */
  char *nonce, *kid;
  /* the order */
  char *order_url, *finalize_url, *cert_url;
  json_t *authzs;
  size_t authz_i;
  char *authz_url, *chal_url, *token; /* the challenge being answered */
  char *chal_name;                    /* dns-01: the record's name */
  char *keyauth;                      /* its key authorization */
  int chal_written; /* the file is in the web root / the record in DNS */
  int polls;
  char *staged;
  EVP_PKEY *newpub;
  rd_csr_build *csrb;
  /* the POST in flight, rebuilt with a fresh nonce after badNonce */
  char *p_url;
  json_t *p_payload;
  int p_jwk, p_tries;
  acme_reply_fn p_cb;
  /* alternate chains (acme_chain.c) */
  char *preferred_chain; /* the issuer CN of the chain's top, or NULL */
  json_t *alternates;    /* the download's Link rel="alternate" URLs */
  size_t alt_i;
  char *chain_default;   /* kept while the alternates are fetched */
  void (*chain_use)(acme_flow *f, char *pem);
  /* a Windows target (acme_win.c): the key and CSR made by certreq */
  int win;
  char *iis_site;     /* http-01: the IIS site whose physical path serves the answer */
  char *win_store;    /* where certreq -accept puts the certificate */
  char *win_csr;      /* certreq's request, base64url DER */
  char win_nonce[17]; /* the work directory's id */
  /* what runs after a delay (host->work) */
  void (*after_delay)(acme_flow *f);
  long delay_ms;
};

/* acme_flow.c */
/* *dst = a copy of v (NULL: none), the old value freed. */
void acme_set_str(char **dst, const char *v);
/* u when it is an https:// URL without spaces or control characters (a CA's
 * URLs end up in messages and requests), else NULL. */
const char *acme_url(const char *u);
void acme_finish(acme_flow *f, int status, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Completion after a failure: removes a challenge file still in the web
 * root first. */
void acme_fail(acme_flow *f, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 (and the phase failed with a sentence naming the CA's problem) unless
 * the answer came with an HTTP status in want (0-terminated list). */
int acme_reply_failed(acme_flow *f, int status, const acme_reply *r, const char *what,
                      const long *want);
/* POST a JWS of payload (stolen; NULL: POST-as-GET) to url, signed with
 * the account's kid (or its jwk: newAccount). */
void acme_post(acme_flow *f, const char *url, json_t *payload, int use_jwk, acme_reply_fn cb);
/* The answer's body as a JSON object, or NULL. */
json_t *acme_reply_json(const acme_reply *r);
/* Run fn after delay_ms (off the loop: host->work). */
void acme_later(acme_flow *f, long delay_ms, void (*fn)(acme_flow *f));
/* Save the order record (state, URLs, staged key) in the journal. */
int acme_journal_order(acme_flow *f, const char *state, const char *cert_pem);
/* A script on the target; completion on failure. params stolen. */
int acme_remote(acme_flow *f, const rd_script *sc, json_t *params, rd_remote_cb cb);
/* 1 (and failed) unless the script ran and exited 0 with an object. */
int acme_remote_failed(acme_flow *f, int status, const rd_remote_result *r, const char *what);
const char *acme_remote_value(const rd_remote_result *r, const char *name);

/* The new key is staged and f->newpub set: record a resumed order and
 * fetch it, else newAccount and newOrder. */
void acme_key_ready(acme_flow *f);

/* acme_chain.c */
/* The alternate URLs in one Link header value appended to urls (at most 8
 * in all, https only); how many. */
int acme_link_alternates(const char *value, json_t *urls);
/* The issuer CN of a PEM chain's last certificate (malloc'd), or NULL. */
char *acme_chain_top_issuer(const char *pem);
/* The chain to use: pem (stolen) or, with preferred_chain, the first
 * alternate of r whose top matches; use(f, pem) gets it (pem stolen). */
void acme_chain_choose(acme_flow *f, const acme_reply *r, char *pem,
                       void (*use)(acme_flow *f, char *pem));

/* acme_order.c */
/* An order object arrived (new, fetched, finalized or polled). */
void acme_order_got(acme_flow *f, int status, const acme_reply *r);
/* Fetch the journaled order. */
void acme_order_fetch(acme_flow *f);
/* The journal says issued: the facts again from the stored chain. */
int acme_set_issued(acme_flow *f, const char *chain_pem);

/* acme_scripts.c: http-01 in the target's web root, dns-01 by a hook */
extern const rd_script acme_script_http01_put;
extern const rd_script acme_script_http01_remove;
extern const rd_script acme_script_dns01_hook;
/* Put the challenge's answer in place (add) or take it away (remove): the
 * file in the web root, or the TXT record through the hook. 0 or RD_E*
 * (then cb is not called). */
int acme_chal_script(acme_flow *f, int add, rd_remote_cb cb, void *arg);
/* A token is base64url (RFC 8555 8.3): the only characters let near a path. */
int acme_token_ok(const char *token);

#endif
