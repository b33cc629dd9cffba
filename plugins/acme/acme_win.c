/* acme_win.c — acme.issue on a Windows target: the key made in the
 * machine store, the certificate installed there (docs/ACME.md, "Windows
 * targets"). The flow is the POSIX one (acme_flow.c, acme_order.c) with
 * four differences, each a script of plugins/acme/ps/ behind the windows
 * plugin's lib.ps1 (WIN_PS_LIB, not copied) and run by the windows
 * prelude of orchestrator/transport/remote.c:
 *   - the new key: `certreq -new` with a machine-key INF (acme.win.new)
 *     makes the key pair, the pending request in LocalMachine\REQUEST and
 *     the PKCS#10 request; that CSR (checked here: its signature, its
 *     names) is what finalize sends, so no key.sign is needed;
 *   - http-01 under the IIS site's physical path, dns-01 through the
 *     operator's hook with PowerShell (acme.win.http01, acme.win.dns01);
 *   - the issued chain: `certreq -accept -machine` (adcs_accept.ps1, reused
 *     after acme_win's accept.ps1 put the files in place), the CA
 *     certificates into LocalMachine\CA; facts.new_cert with its thumbprint
 *     for windows.install and the Windows follow-ups;
 *   - rollback: the pending request and its key removed (adcs_cleanup.ps1).
 * The journaled "staged" value is "<work dir id>:<request thumbprint>". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "acme_jws.h"
#include "acme_ps.h"
#include "acme_win.h"
#include "common/winpath.h"
#include "renewd/plugin_helpers.h"
#include "windows_ps.h"

#include "acme_int.h"

#define ACME_WIN_SCRIPT(name_, text_) {(name_), RD_PLATFORM_WINDOWS, 1, 0, WIN_PS_LIB text_}

const rd_script acme_win_script_new =
    ACME_WIN_SCRIPT("acme.win.new", WIN_PS_ADCS_LIB ACME_PS_NEW);
const rd_script acme_win_script_accept = ACME_WIN_SCRIPT(
    "acme.win.accept", WIN_PS_CERT_LIB WIN_PS_ADCS_LIB ACME_PS_ACCEPT WIN_PS_ADCS_ACCEPT);
const rd_script acme_win_script_http01 = ACME_WIN_SCRIPT("acme.win.http01", ACME_PS_HTTP01);
const rd_script acme_win_script_dns01 = ACME_WIN_SCRIPT("acme.win.dns01", ACME_PS_DNS01);
const rd_script acme_win_script_cleanup = ACME_WIN_SCRIPT("acme.win.cleanup", WIN_PS_ADCS_CLEANUP);
const rd_script *const acme_win_scripts[] = {&acme_win_script_new, &acme_win_script_accept,
                                             &acme_win_script_http01, &acme_win_script_dns01,
                                             &acme_win_script_cleanup, NULL};

int acme_win_path_ok(const char *p) { return rd_win_abs_path(p); }

int acme_win_staged_split(const char *staged, char nonce[17], char thumb[41]) {
  const char *c = staged ? strchr(staged, ':') : NULL;
  if (!c || c - staged != 16 || strlen(c + 1) != 40)
    return -1;
  memcpy(nonce, staged, 16);
  nonce[16] = 0;
  memcpy(thumb, c + 1, 41);
  for (int i = 0; i < 16; i++)
    if (!isxdigit((unsigned char)nonce[i]) || isupper((unsigned char)nonce[i]))
      return -1;
  for (int i = 0; i < 40; i++)
    if (!isxdigit((unsigned char)thumb[i]))
      return -1;
  return 0;
}

/* ------------------------------------------------------------ the new key */

/* 1 when the CSR's DNS SANs are exactly the order's identifiers. */
static int csr_names_ok(acme_flow *f, X509_REQ *req) {
  STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
  GENERAL_NAMES *gens = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
  size_t i, want = json_array_size(f->identifiers), got = 0;
  int ok = gens != NULL;
  json_t *v;
  for (int k = 0; ok && k < sk_GENERAL_NAME_num(gens); k++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
    const unsigned char *d = g->type == GEN_DNS ? ASN1_STRING_get0_data(g->d.dNSName) : NULL;
    int n = d ? ASN1_STRING_length(g->d.dNSName) : 0, found = 0;
    json_array_foreach(f->identifiers, i, v) {
      const char *name = json_string_value(json_object_get(v, "value"));
      if (name && (int)strlen(name) == n && !strncasecmp(name, (const char *)d, (size_t)n))
        found = 1;
    }
    ok = found;
    got++;
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  GENERAL_NAMES_free(gens);
  return ok && got == want;
}

static void staged_done(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  acme_flow *f = arg;
  const char *csr = acme_remote_value(r, "csr"), *req = acme_remote_value(r, "request");
  unsigned char *der = NULL;
  const unsigned char *p;
  size_t n = 0;
  X509_REQ *x = NULL;
  char nonce[17], thumb[41], staged[64];
  (void)s;
  if (acme_remote_failed(f, status, r, "certreq -new (the new key in the machine store)"))
    return;
  if (csr && !f->h->b64_decode(csr, &der, &n) && n) {
    p = der;
    x = d2i_X509_REQ(NULL, &p, (long)n);
  }
  EVP_PKEY_free(f->newpub);
  f->newpub = x ? X509_REQ_get_pubkey(x) : NULL;
  if (!x || !f->newpub || X509_REQ_verify(x, f->newpub) != 1 || !csr_names_ok(f, x)) {
    X509_REQ_free(x);
    free(der);
    acme_fail(f, RD_EPROTO, "certreq -new: the request does not verify or names other names "
                            "than the order's");
    return;
  }
  X509_REQ_free(x);
  free(f->win_csr);
  f->win_csr = acme_b64url(der, n);
  free(der);
  snprintf(staged, sizeof staged, "%.16s:%s", f->win_nonce, req ? req : "");
  if (!f->win_csr || acme_win_staged_split(staged, nonce, thumb)) {
    acme_fail(f, RD_EPROTO, "certreq -new: no request thumbprint returned");
    return;
  }
  acme_set_str(&f->staged, staged);
  acme_key_ready(f);
}

void acme_win_stage(acme_flow *f, int resumed) {
  char nonce[17] = "", thumb[41] = "", bits[32];
  unsigned char rnd[8];
  const json_t *k = json_object_get(f->h->section(f->s, "policy"), "key");
  const char *type = json_string_value(json_object_get(k, "type"));
  const char *curve = json_string_value(json_object_get(k, "curve"));
  json_int_t nbits = json_integer_value(json_object_get(k, "bits"));
  json_t *names = json_array(), *v;
  size_t i;
  if (!resumed || acme_win_staged_split(f->staged, nonce, thumb)) {
    thumb[0] = 0;
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
      json_decref(names);
      acme_fail(f, RD_ECRYPTO, "no random work directory id");
      return;
    }
    for (i = 0; i < sizeof rnd; i++)
      snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
  }
  memcpy(f->win_nonce, nonce, sizeof nonce);
  json_array_foreach(f->identifiers, i, v) json_array_append(names, json_object_get(v, "value"));
  snprintf(bits, sizeof bits, "%lld", nbits ? (long long)nbits : 2048LL);
  acme_remote(f, &acme_win_script_new,
              json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "nonce", nonce, "request", thumb,
                        "names", names, "key_type", type && !strcmp(type, "ec") ? "ec" : "rsa",
                        "bits", bits, "curve", curve ? curve : "P-256"),
              staged_done);
}

const char *acme_win_csr(const acme_flow *f) { return f->win_csr; }

/* -------------------------------------------------------- challenges */

int acme_win_chal(acme_flow *f, int add, const char *dns_value, rd_remote_cb cb, void *arg) {
  json_t *p;
  if (f->dns01)
    return f->h->remote(f->s, &acme_win_script_dns01,
                        json_pack("{s:s, s:s, s:s, s:s}", "hook", f->dns_hook, "action",
                                  add ? "add" : "remove", "name", f->chal_name, "value",
                                  dns_value ? dns_value : ""),
                        cb, arg);
  p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "action", add ? "put" : "remove", "token", f->token,
                "keyauth", add ? f->keyauth : "", "site", f->iis_site ? f->iis_site : "",
                "webroot", f->iis_site || !f->webroot ? "" : f->webroot);
  return f->h->remote(f->s, &acme_win_script_http01, p, cb, arg);
}

/* ------------------------------------------------------------ the chain */

typedef struct install_ctx {
  acme_flow *f;
  char *leaf_pem;
  char *rest;
} install_ctx;

static void accepted(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  install_ctx *c = arg;
  acme_flow *f = c->f;
  const char *thumb = acme_remote_value(r, "thumbprint");
  json_t *nf = NULL, *facts;
  char line[400];
  (void)s;
  if (acme_remote_failed(f, status, r, "certreq -accept (the certificate into the machine store)"))
    goto out;
  const json_t *cert = json_object_get(r->json, "cert");
  if (!json_is_true(json_object_get(r->json, "found")) ||
      !json_is_true(json_object_get(cert, "has_key"))) {
    rd_one_line(json_string_value(json_object_get(r->json, "text")), line, sizeof line);
    acme_fail(f, RD_EREMOTE, "certreq -accept -machine: certificate %s is not in %s with its key "
              "(exit %lld: %s)", thumb ? thumb : "?", f->win_store,
              (long long)json_integer_value(json_object_get(r->json, "exit")), line);
    goto out;
  }
  if (f->h->cert_facts((const unsigned char *)c->leaf_pem, strlen(c->leaf_pem), &nf)) {
    acme_fail(f, RD_EPROTO, "the issued certificate cannot be parsed");
    goto out;
  }
  facts = f->h->facts(f->s);
  json_object_set_new(nf, "thumbprint", json_string(thumb));
  json_object_set_new(nf, "store", json_string(f->win_store));
  json_object_set_new(nf, "key_match", json_true());
  json_object_set_new(facts, "new_cert", nf);
  if (c->rest)
    json_object_set_new(facts, "ca_pem", json_string(c->rest));
  const char *serial = json_string_value(json_object_get(nf, "serial"));
  json_t *res = rd_result_new();
  rd_result_change(res, "certificate", "current certificate", serial ? serial : "?");
  acme_finish(f, 0, res, "issued serial %s by %s, installed into %s as %s",
              serial ? serial : "?", f->dir_url, f->win_store, thumb);
out:
  free(c->leaf_pem);
  free(c->rest);
  free(c);
}

/* base64 DER of every certificate of a PEM chain, in order. */
static json_t *chain_b64(const rd_host_api *h, const char *pem) {
  json_t *a = json_array();
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509 *x;
  while (a && b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    char *s = n > 0 ? h->b64_encode(der, (size_t)n) : NULL;
    X509_free(x);
    OPENSSL_free(der);
    if (!s) {
      json_decref(a);
      a = NULL;
      break;
    }
    json_array_append_new(a, json_string(s));
    free(s);
  }
  ERR_clear_error();
  BIO_free(b);
  return a;
}

int acme_win_install(acme_flow *f, const char *chain_pem) {
  const char *end = strstr(chain_pem, "-----END CERTIFICATE-----");
  const char *rest = end ? strstr(end, "-----BEGIN CERTIFICATE-----") : NULL;
  char nonce[17], thumb[41];
  json_t *certs = NULL, *leaf;
  install_ctx *c;
  int rc;
  if (!end || acme_win_staged_split(f->staged, nonce, thumb) ||
      !(certs = chain_b64(f->h, chain_pem)) || !json_array_size(certs)) {
    json_decref(certs);
    return RD_EPROTO;
  }
  if (!(c = calloc(1, sizeof *c)) ||
      !(c->leaf_pem = strndup(chain_pem, (size_t)(end - chain_pem) + 25)) ||
      (rest && !(c->rest = strdup(rest)))) {
    if (c)
      free(c->leaf_pem);
    free(c);
    json_decref(certs);
    return RD_ENOMEM;
  }
  c->f = f;
  leaf = json_incref(json_array_get(certs, 0));
  json_array_remove(certs, 0);
  rc = f->h->remote(f->s, &acme_win_script_accept,
                    json_pack("{s:s, s:s, s:o, s:o}", "nonce", nonce, "store", f->win_store,
                              "leaf", leaf, "chain", certs),
                    accepted, c);
  if (rc) {
    free(c->leaf_pem);
    free(c->rest);
    free(c);
  }
  return rc;
}

/* ------------------------------------------------------------ rollback */

static void cleaned(rd_step *s, const rd_host_api *h, const json_t *out) {
  size_t n = json_array_size(json_object_get(out, "removed"));
  h->donef(s, 0, NULL, "removed %zu pending request key%s%s", n, n == 1 ? "" : "s",
           json_is_true(json_object_get(out, "dir_removed")) ? " and the work directory" : "");
}

int acme_win_rollback(rd_step *s, const rd_host_api *h) {
  json_t *rec = h->journal_get(s, ACME_JOURNAL_KEY);
  char nonce[17], thumb[41];
  int bad = acme_win_staged_split(json_string_value(json_object_get(rec, "staged")), nonce, thumb);
  json_decref(rec);
  if (bad) {
    h->done(s, 0, NULL, NULL);
    return 0;
  }
  return rd_remote_ok(s, h, &acme_win_script_cleanup,
                      json_pack("{s:s, s:[s]}", "nonce", nonce, "request_thumbprints", thumb),
                      cleaned);
}
