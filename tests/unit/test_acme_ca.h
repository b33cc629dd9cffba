/* test_acme_ca.h — the fake ACME CA the flow tests share (test_acme_flow.c,
 * test_acme_dns.c), in this process: RFC 8555 as a CA checks it — every
 * request a JWS whose signature, url and single-use nonce are verified;
 * http-01 validated by reading the file the flow wrote into the target's
 * web root, dns-01 by reading the record the hook wrote into a test zone;
 * the CSR verified and compared with the key staged on the target — with
 * THIS machine as the target (localhost_api: the real scripts, journal,
 * facts). The step kind under test is the flow with the fake CA as its
 * transport. Static: each test program includes it once. */
#ifndef RENEWD_TEST_ACME_CA_H
#define RENEWD_TEST_ACME_CA_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme_flow.h"
#include "acme_jws.h"
#include "base/err.h"
#include "localhost_api.h"
#include "test_acme_fake.h"
#include "testutil.h"

#define CA_URL "https://ca.test"
#define NIDS 2
#define ARI_URL CA_URL "/renewal-info/"

static const char *const NAMES[NIDS] = {"web1.test", "www.web1.test"};

typedef struct fake_ca {
  int nonce_seq;
  char issued[64][24];
  int nissued;
  int bad_nonces;   /* answer this many POSTs with badNonce */
  int fail_finalize; /* answer this many finalizes with HTTP 500 */
  int wrong_keyauth; /* validate against another key authorization */
  int n_account, n_order, n_finalize, n_badnonce, n_requests;
  EVP_PKEY *acct;
  char thumb[44];
  int order_seq;
  int authz[NIDS]; /* 0 pending, 1 valid, 2 invalid */
  int order_dead, processing, valid;
  char *chain;
  char violation[512]; /* the first protocol violation seen */
  int saw_private;     /* a request carried private key material */
  int ari;             /* renewalInfo: 1 a future window, 2 a window already over */
  char ari_id[128];    /* the CertID it knows */
  char replaces[128];  /* newOrder's "replaces" */
  char profile[64];    /* newOrder's "profile" */
  int eab;             /* newAccount needs an external account binding */
  int hold;            /* keep the next callback instead of answering */
  int other_key;       /* issue the certificate for another key */
  int bad_location;    /* newOrder's Location is not a clean https:// URL */
  const char *alt_extra; /* an alternate chain: the default one and this PEM on top */
  int n_alt;           /* alternate chains downloaded */
  acme_reply_fn held;
} fake_ca;

static fake_ca CA;
static EVP_PKEY *CA_KEY;
static X509 *CA_CERT;
static char T[256], WEBROOT[300], KEY[300], STAGED[320], ACCT[300];
static lh_job *job;
static lh_outcome out;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...) {
  va_list ap;
  if (CA.violation[0])
    return;
  va_start(ap, fmt);
  vsnprintf(CA.violation, sizeof CA.violation, fmt, ap);
  va_end(ap);
}

static const char *new_nonce(void) {
  int i = CA.nissued++ % 64;
  snprintf(CA.issued[i], sizeof CA.issued[i], "nonce-%d", ++CA.nonce_seq);
  return CA.issued[i];
}

static int take_nonce(const char *n) {
  for (int i = 0; n && i < 64; i++)
    if (!strcmp(CA.issued[i], n)) {
      CA.issued[i][0] = 0;
      return 1;
    }
  return 0;
}

static json_t *order_json(void) {
  const char *st = CA.order_dead      ? "invalid"
                   : CA.valid         ? "valid"
                   : CA.processing    ? "processing"
                   : CA.authz[0] == 1 && CA.authz[1] == 1 ? "ready"
                                                          : "pending";
  json_t *o = json_pack("{s:s, s:[], s:[s, s], s:s}", "status", st, "identifiers",
                        "authorizations", CA_URL "/authz/0", CA_URL "/authz/1", "finalize",
                        CA_URL "/finalize/1");
  for (int i = 0; i < NIDS; i++)
    json_array_append_new(json_object_get(o, "identifiers"),
                          json_pack("{s:s, s:s}", "type", "dns", "value", NAMES[i]));
  if (CA.valid)
    json_object_set_new(o, "certificate", json_string(CA_URL "/cert/1"));
  return o;
}

static const char *token_of(int i) { return i ? "tok_B-2" : "tok_A-1"; }

static json_t *authz_json(int i) {
  static const char *const st[] = {"pending", "valid", "invalid"};
  char url[64], durl[64];
  snprintf(url, sizeof url, CA_URL "/chal/%d", i);
  snprintf(durl, sizeof durl, CA_URL "/chal/dns/%d", i);
  json_t *a = json_pack("{s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]}",
                        "status", st[CA.authz[i]], "identifier", "type", "dns", "value",
                        NAMES[i], "challenges", "type", "dns-01", "url", durl, "token",
                        token_of(i), "type", "http-01", "url", url, "token", token_of(i),
                        "status", st[CA.authz[i]]);
  if (CA.authz[i] == 2)
    json_object_set_new(json_array_get(json_object_get(a, "challenges"), 1), "error",
                        json_pack("{s:s, s:s}", "type", "urn:ietf:params:acme:error:unauthorized",
                                  "detail", "key authorization\nmismatch"));
  return a;
}

/* http-01 as a CA does it: fetch /.well-known/acme-challenge/TOKEN (here:
 * read it from the web root on this machine) and compare; dns-01: look up
 * the TXT record _acme-challenge.NAME (here: the file the test's hook
 * wrote into T/zone) and compare with base64url(SHA-256(keyauth)). */
static void validate(int i, int dns) {
  char path[512], want[128], *got;
  snprintf(want, sizeof want, "%s.%s", token_of(i), CA.wrong_keyauth ? "x" : CA.thumb);
  if (dns) {
    unsigned char md[32];
    EVP_Digest(want, strlen(want), md, NULL, EVP_sha256(), NULL);
    char *v = acme_b64url(md, 32);
    snprintf(want, sizeof want, "%s", v);
    free(v);
    snprintf(path, sizeof path, "%s/zone/_acme-challenge.%s", T, NAMES[i]);
  } else {
    snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", WEBROOT, token_of(i));
  }
  got = tu_read_file(path, NULL);
  CA.authz[i] = got && !strcmp(got, want) ? 1 : 2;
  if (CA.authz[i] == 2)
    CA.order_dead = 1;
  free(got);
}

static char *issue(X509_REQ *req) {
  X509 *c = X509_new();
  STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
  EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
  BIO *b = BIO_new(BIO_s_mem());
  char *p, *r;
  ASN1_INTEGER_set(X509_get_serialNumber(c), 0x5eed + CA.order_seq);
  X509_set_version(c, 2);
  X509_set_issuer_name(c, X509_get_subject_name(CA_CERT));
  X509_set_subject_name(c, X509_REQ_get_subject_name(req));
  X509_set_pubkey(c, CA.other_key ? CA_KEY : pub);
  X509_gmtime_adj(X509_getm_notBefore(c), 0);
  X509_gmtime_adj(X509_getm_notAfter(c), 90L * 86400);
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
    X509_add_ext(c, sk_X509_EXTENSION_value(exts, i), -1);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_sign(c, CA_KEY, EVP_sha256());
  PEM_write_bio_X509(b, c);
  PEM_write_bio_X509(b, CA_CERT);
  long n = BIO_get_mem_data(b, &p);
  r = strndup(p, (size_t)n);
  BIO_free(b);
  X509_free(c);
  return r;
}

/* The CSR: signed by its key, that key is the one staged on the target, and
 * it names exactly the order's identifiers. */
static int finalize(const char *payload) {
  json_t *pl = json_loads(payload, 0, NULL);
  size_t n = 0;
  unsigned char *der = unb64url(json_string_value(json_object_get(pl, "csr")) ?: "", &n);
  const unsigned char *q = der;
  X509_REQ *req = der ? d2i_X509_REQ(NULL, &q, (long)n) : NULL;
  char *staged = tu_read_file(STAGED, NULL);
  BIO *b = staged ? BIO_new_mem_buf(staged, -1) : NULL;
  EVP_PKEY *sk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  GENERAL_NAMES *sans = NULL;
  int ok = req && X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) == 1 && sk &&
           EVP_PKEY_eq(sk, X509_REQ_get0_pubkey(req)) == 1;
  if (ok) {
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    for (int i = 0; i < sk_X509_EXTENSION_num(exts) && !sans; i++)
      sans = X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts, i));
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ok = sans && sk_GENERAL_NAME_num(sans) == NIDS;
    for (int i = 0; ok && i < NIDS; i++) {
      GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
      ok = g->type == GEN_DNS && !strcmp((char *)ASN1_STRING_get0_data(g->d.dNSName), NAMES[i]);
    }
  }
  if (ok) {
    free(CA.chain);
    CA.chain = issue(req);
    CA.processing = 1;
  } else
    violation("finalize: the CSR does not verify, is not the staged key's or names other names");
  GENERAL_NAMES_free(sans);
  EVP_PKEY_free(sk);
  BIO_free(b);
  free(staged);
  X509_REQ_free(req);
  free(der);
  json_decref(pl);
  return ok;
}

typedef struct answer {
  long status, retry_after;
  const char *location;
  json_t *body; /* or text */
  char *text;
  json_t *alternates; /* Link rel="alternate" */
} answer;

/* The binding in newAccount's payload: HS256 by EAB_KEY for EAB_KID over
 * the account's own JWK, bound to the newAccount URL. */
static const unsigned char EAB_KEY[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0xfe, 0xff};
#define EAB_KEY_B64URL "3q2-7wAB_v8"
#define EAB_KID "kid-lab"

static int eab_ok(const char *payload, const json_t *jwk) {
  json_t *pl = json_loads(payload, 0, NULL);
  json_t *e = json_object_get(pl, "externalAccountBinding");
  const char *h64 = json_string_value(json_object_get(e, "protected"));
  const char *p64 = json_string_value(json_object_get(e, "payload"));
  const char *s64 = json_string_value(json_object_get(e, "signature"));
  unsigned char mac[32], *h = NULL, *p = NULL;
  size_t n;
  char input[2048], *want = NULL;
  json_t *hdr = NULL, *inner = NULL;
  int ok = 0;
  if (h64 && p64 && s64 && (h = unb64url(h64, &n)) && (p = unb64url(p64, &n)) &&
      (hdr = json_loads((char *)h, 0, NULL)) && (inner = json_loads((char *)p, 0, NULL))) {
    snprintf(input, sizeof input, "%s.%s", h64, p64);
    HMAC(EVP_sha256(), EAB_KEY, sizeof EAB_KEY, (unsigned char *)input, strlen(input), mac, NULL);
    want = acme_b64url(mac, 32);
    ok = !strcmp(want, s64) && json_equal(inner, jwk) &&
         !strcmp(json_string_value(json_object_get(hdr, "kid")) ?: "", EAB_KID) &&
         !strcmp(json_string_value(json_object_get(hdr, "url")) ?: "", CA_URL "/acct");
  }
  free(want);
  free(h);
  free(p);
  json_decref(hdr);
  json_decref(inner);
  json_decref(pl);
  return ok;
}

static void answer_post(const char *url, const char *jose, answer *a) {
  char err[256], *payload = NULL;
  int is_acct = !strcmp(url, CA_URL "/acct");
  json_t *hdr = jws_open(jose, is_acct ? NULL : CA.acct, &payload, err, sizeof err);
  const char *kid = json_string_value(json_object_get(hdr, "kid"));
  int i = -1;
  if (!hdr) {
    violation("%s: %s", url, err);
    a->status = 400;
    a->body = json_pack("{s:s}", "type", "urn:ietf:params:acme:error:malformed");
    return;
  }
  if (strstr(payload, "PRIVATE"))
    CA.saw_private = 1;
  if (strcmp(json_string_value(json_object_get(hdr, "url")) ?: "", url))
    violation("%s: the header's url is not the request's", url);
  if (!is_acct && (!kid || strcmp(kid, CA_URL "/acct/1")))
    violation("%s: not signed with the account's kid", url);
  if (!take_nonce(json_string_value(json_object_get(hdr, "nonce"))) || CA.bad_nonces > 0) {
    if (CA.bad_nonces > 0)
      CA.bad_nonces--;
    CA.n_badnonce++;
    a->status = 400;
    a->body = json_pack("{s:s, s:s}", "type", "urn:ietf:params:acme:error:badNonce", "detail",
                        "stale nonce");
  } else if (is_acct && CA.eab && !eab_ok(payload, json_object_get(hdr, "jwk"))) {
    a->status = 403;
    a->body = json_pack("{s:s, s:s}", "type", "urn:ietf:params:acme:error:externalAccountRequired",
                        "detail", "no valid binding");
  } else if (is_acct) {
    CA.n_account++;
    json_t *jwk = json_object_get(hdr, "jwk");
    acme_jwk_thumbprint(jwk, CA.thumb);
    EVP_PKEY_free(CA.acct);
    CA.acct = jwk_pub(jwk); /* the account's key from now on */
    a->status = CA.n_account > 1 ? 200 : 201;
    a->location = CA_URL "/acct/1";
    a->body = json_pack("{s:s}", "status", "valid");
  } else if (!strcmp(url, CA_URL "/new-order")) {
    json_t *pl = json_loads(payload, 0, NULL);
    snprintf(CA.replaces, sizeof CA.replaces, "%s",
             json_string_value(json_object_get(pl, "replaces")) ?: "");
    snprintf(CA.profile, sizeof CA.profile, "%s",
             json_string_value(json_object_get(pl, "profile")) ?: "");
    json_decref(pl);
    CA.n_order++;
    CA.order_seq++;
    memset(CA.authz, 0, sizeof CA.authz);
    CA.order_dead = CA.processing = CA.valid = 0;
    a->status = 201;
    a->location = CA.bad_location ? CA_URL "/order/1\r\nX-Injected: 1" : CA_URL "/order/1";
    a->body = order_json();
  } else if (!strcmp(url, CA_URL "/order/1")) {
    if (CA.processing && !CA.valid)
      CA.valid = 1; /* one poll later */
    a->status = 200;
    a->body = order_json();
  } else if (sscanf(url, CA_URL "/authz/%d", &i) == 1 && i >= 0 && i < NIDS) {
    a->status = 200;
    a->body = authz_json(i);
  } else if ((sscanf(url, CA_URL "/chal/%d", &i) == 1 ||
              sscanf(url, CA_URL "/chal/dns/%d", &i) == 1) &&
             i >= 0 && i < NIDS) {
    if (strcmp(payload, "{}"))
      violation("%s: the payload must be {}", url);
    validate(i, strstr(url, "/dns/") != NULL);
    a->status = 200;
    a->body = json_pack("{s:s, s:s}", "type", "http-01", "status", "processing");
  } else if (!strcmp(url, CA_URL "/finalize/1")) {
    CA.n_finalize++;
    if (CA.fail_finalize > 0) {
      CA.fail_finalize--;
      a->status = 500;
      a->body = json_pack("{s:s, s:s}", "type", "urn:ietf:params:acme:error:serverInternal",
                          "detail", "try again later");
    } else if (!(CA.authz[0] == 1 && CA.authz[1] == 1)) {
      violation("finalize before the order is ready");
      a->status = 403;
      a->body = json_pack("{s:s}", "type", "urn:ietf:params:acme:error:orderNotReady");
    } else {
      a->status = finalize(payload) ? 200 : 400;
      a->body = order_json();
    }
  } else if (!strcmp(url, CA_URL "/cert/1") && CA.chain) {
    a->status = 200;
    a->text = strdup(CA.chain);
    if (CA.alt_extra)
      a->alternates = json_pack("[s]", CA_URL "/cert/1/alt");
  } else if (!strcmp(url, CA_URL "/cert/1/alt") && CA.chain && CA.alt_extra) {
    CA.n_alt++; /* the same certificate, its chain ending in a cross-signed CA */
    a->status = 200;
    if (asprintf(&a->text, "%s%s", CA.chain, CA.alt_extra) < 0)
      a->text = NULL;
  } else {
    violation("%s: unexpected request", url);
    a->status = 404;
  }
  free(payload);
  json_decref(hdr);
}

static int fake_send(acme_flow *f, const char *url, const char *jose, acme_reply_fn cb) {
  answer a = {0};
  acme_reply r = {0};
  CA.n_requests++;
  if (CA.hold) {
    CA.hold = 0;
    CA.held = cb;
    return 0;
  }
  if (!jose && !strcmp(url, CA_URL "/dir")) {
    a.status = 200;
    a.body = json_pack("{s:s, s:s, s:s}", "newNonce", CA_URL "/nonce", "newAccount",
                       CA_URL "/acct", "newOrder", CA_URL "/new-order");
    if (CA.ari)
      json_object_set_new(a.body, "renewalInfo", json_string(CA_URL "/renewal-info"));
  } else if (!jose && CA.ari && !strncmp(url, ARI_URL, strlen(ARI_URL))) {
    a.status = strcmp(url + strlen(ARI_URL), CA.ari_id) ? 404 : 200;
    a.retry_after = 21600;
    if (a.status == 200)
      a.body = json_pack("{s:{s:s, s:s}}", "suggestedWindow", "start",
                         CA.ari == 2 ? "2020-01-01T00:00:00Z" : "2999-01-01T00:00:00Z", "end",
                         CA.ari == 2 ? "2020-01-02T00:00:00Z" : "2999-01-02T00:00:00Z");
  } else if (!jose && !strcmp(url, CA_URL "/nonce")) {
    a.status = 204;
  } else if (jose) {
    answer_post(url, jose, &a);
  } else {
    violation("GET %s: only the directory and newNonce are GETs", url);
    a.status = 405;
  }
  if (a.body)
    a.text = json_dumps(a.body, JSON_COMPACT);
  r.status = a.status;
  r.nonce = new_nonce();
  r.location = a.location;
  r.retry_after = a.retry_after;
  r.body = (const unsigned char *)(a.text ? a.text : "");
  r.body_len = a.text ? strlen(a.text) : 0;
  r.alternates = a.alternates;
  cb(f, 0, &r);
  json_decref(a.alternates);
  json_decref(a.body);
  free(a.text);
  return 0;
}

static const acme_transport fake_transport = {fake_send};

/* The step kind under test: the flow, speaking to the fake CA. */
static int t_probe(rd_step *s, const rd_host_api *h) {
  return acme_flow_begin(s, h, &fake_transport, 1);
}
static int t_apply(rd_step *s, const rd_host_api *h) {
  return acme_flow_begin(s, h, &fake_transport, 0);
}
static const rd_step_kind kind = {.type = "acme.test", .platform = RD_PLATFORM_POSIX,
                                  .probe = t_probe, .apply = t_apply};

/* A job on web1 (two DNS names) with the issuer section's extra members
 * issuer_extra (JSON text after a comma, or ""). */
static void make_job(const char *directory, const char *acct, const char *issuer_extra) {
  char sec[4096];
  snprintf(sec, sizeof sec,
           "{\"certificate\": {\"cert\": \"%s/server.crt\", \"key\": \"%s\"},"
           " \"issuer\": {\"type\": \"acme\", \"directory\": \"%s\", \"account_key\": "
           "{\"file\": \"%s\"}, \"webroot\": \"%s\", \"poll_ms\": 1,"
           " \"contact\": [\"mailto:pki@example.test\"]%s%s},"
           " \"policy\": {\"key\": {\"type\": \"ec\", \"curve\": \"P-256\"}}}",
           T, KEY, directory, acct, WEBROOT, issuer_extra[0] ? ", " : "", issuer_extra);
  lh_job_free(job);
  job = lh_job_new("web1", sec);
  ck_assert_ptr_nonnull(job);
  json_object_set_new(lh_facts(job), "cert",
                      json_pack("{s:[s, s, s]}", "sans", "DNS:web1.test", "IP:127.0.0.1",
                                "DNS:www.web1.test"));
}

static void setup(void) {
  memset(&CA, 0, sizeof CA);
  snprintf(T, sizeof T, "/tmp/rd-acme-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(T));
  snprintf(WEBROOT, sizeof WEBROOT, "%s/www", T);
  snprintf(KEY, sizeof KEY, "%s/server.key", T);
  snprintf(STAGED, sizeof STAGED, "%s.renewd-new", KEY);
  snprintf(ACCT, sizeof ACCT, "%s/account.key", T);
  ck_assert_int_eq(mkdir(WEBROOT, 0755), 0);
  ck_assert_int_eq(lh_sh("umask 077; openssl genpkey -algorithm EC -pkeyopt "
                         "ec_paramgen_curve:P-256 -out %s 2>/dev/null && cp %s %s",
                         ACCT, ACCT, KEY),
                   0);
  make_job(CA_URL "/dir", ACCT, "");
}

static void teardown(void) {
  lh_outcome_clear(&out);
  lh_job_free(job);
  job = NULL;
  EVP_PKEY_free(CA.acct);
  free(CA.chain);
  lh_sh("rm -rf %s", T);
}

__attribute__((unused)) static int challenge_files(void) {
  char *n = lh_sh_out("ls -A %s/.well-known/acme-challenge 2>/dev/null | wc -l", WEBROOT);
  int r = n ? atoi(n) : -1;
  free(n);
  return r;
}

static const char *journal_state(void) {
  json_t *rec = json_object_get(lh_journal(job), "acme.order");
  return json_string_value(json_object_get(rec, "state"));
}

__attribute__((unused)) static void expect_issued(void) {
  json_t *nc = json_object_get(lh_facts(job), "new_cert");
  ck_assert_ptr_nonnull(nc);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(nc, "sans"), 0)),
                   "DNS:web1.test");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(lh_facts(job), "staged"),
                                                     "key")),
                   STAGED);
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(lh_facts(job), "ca_pem")),
                               "BEGIN CERTIFICATE"));
  ck_assert_str_eq(journal_state(), "issued");
}

static int make_ca(void) {
  X509_NAME *n;
  CA_KEY = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  CA_CERT = X509_new();
  if (!CA_KEY || !CA_CERT)
    return -1;
  X509_set_version(CA_CERT, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(CA_CERT), 1);
  n = X509_get_subject_name(CA_CERT);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"fake ACME CA", -1,
                             -1, 0);
  X509_set_issuer_name(CA_CERT, n);
  X509_set_pubkey(CA_CERT, CA_KEY);
  X509_gmtime_adj(X509_getm_notBefore(CA_CERT), 0);
  X509_gmtime_adj(X509_getm_notAfter(CA_CERT), 365L * 86400);
  return X509_sign(CA_CERT, CA_KEY, EVP_sha256()) > 0 ? 0 : -1;
}

#endif
