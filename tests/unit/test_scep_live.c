/* test_scep_live.c — the SCEP codec against a real SCEP server.
 *
 * tests/e2e/scep_codec.sh starts a scepserver in a private network
 * namespace and runs this with (run without SCEP_TEST_URL, this program
 * runs that script itself as root, and exits 77, a skip, without root):
 *   SCEP_TEST_URL        http://127.0.0.1:8080/scep
 *   SCEP_TEST_CHALLENGE  the server's challenge password
 *   SCEP_TEST_CA_FP      "sha256:<hex>" of the CA certificate (optional)
 *
 * Everything a target would do runs as the `openssl` command a target
 * runs: genpkey, req, pkeyutl -sign (the only use of a private key), and
 * cms -decrypt. The orchestrator side is the codec plus libcurl easy. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "renewd/plugin.h"
#include "scep_msg.h"
#include "testutil.h"

static const char *url, *challenge, *ca_fp;

/* ---- files and commands (the "target") ----------------------------- */

typedef struct work {
  char dir[64];
} work;

static void work_init(work *w) {
  snprintf(w->dir, sizeof w->dir, "/tmp/rd-scep-live-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(w->dir));
}

static void work_done(work *w) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
  ck_assert_int_eq(system(cmd), 0);
}

static const char *wpath(const work *w, const char *name) {
  static char buf[8][256];
  static int i;
  char *b = buf[i++ % 8];
  snprintf(b, 256, "%s/%s", w->dir, name);
  return b;
}

static void write_file(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* Run a shell command in the work dir; its output goes to cmd.log, shown
 * when it fails. Returns the exit status. */
static int sh(const work *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(const work *w, const char *fmt, ...) {
  char cmd[2048], full[2400];
  va_list ap;
  int rc;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  snprintf(full, sizeof full, "cd '%s' && (%s) >cmd.log 2>&1", w->dir, cmd);
  rc = system(full);
  if (rc) {
    size_t n;
    unsigned char *log = tu_must_read_file(wpath(w, "cmd.log"), &n);
    fprintf(stderr, "test_scep_live: `%s` failed:\n%s\n", cmd, (char *)log);
    free(log);
  }
  return rc;
}

/* A target-side key and CSR (subject O=renewd live test, CN=cn, two DNS
 * SANs), with the challenge in the CSR when chal is not NULL. */
static void target_key_csr(const work *w, const char *key, const char *csr, const char *cn,
                           const char *chal) {
  char cnf[1024];
  int n = snprintf(cnf, sizeof cnf,
                   "[req]\nprompt = no\ndistinguished_name = dn\nreq_extensions = ext\n%s"
                   "[dn]\nO = renewd live test\nCN = %s\n"
                   "[ext]\nsubjectAltName = DNS:%s,DNS:www.%s\n",
                   chal ? "attributes = attrs\n" : "", cn, cn, cn);
  if (chal)
    snprintf(cnf + n, sizeof cnf - (size_t)n, "[attrs]\nchallengePassword = %s\n", chal);
  write_file(wpath(w, "req.cnf"), cnf, strlen(cnf));
  ck_assert_int_eq(sh(w, "umask 077 && openssl genpkey -algorithm RSA -pkeyopt "
                         "rsa_keygen_bits:2048 -out %s",
                      key),
                   0);
  ck_assert_int_eq(sh(w, "openssl req -new -key %s -config req.cnf -outform DER -out %s", key,
                      csr),
                   0);
}

/* `openssl pkeyutl -sign -pkeyopt digest:<md>` over the digest. */
static unsigned char *target_sign(const work *w, const char *key, const char *md,
                                  const unsigned char *dg, size_t dlen, size_t *slen) {
  write_file(wpath(w, "tbs.bin"), dg, dlen);
  ck_assert_int_eq(sh(w, "openssl pkeyutl -sign -inkey %s -pkeyopt digest:%s -in tbs.bin "
                         "-out sig.bin",
                      key, md),
                   0);
  return tu_must_read_file(wpath(w, "sig.bin"), slen);
}

/* `openssl cms -decrypt` of the CertRep envelope, with the legacy
 * provider for scepserver's DES-CBC. Returns the decrypted bytes. */
static unsigned char *target_decrypt(const work *w, const char *key, const char *crt,
                                     const unsigned char *env, size_t elen, size_t *dlen) {
  write_file(wpath(w, "env.der"), env, elen);
  ck_assert_int_eq(sh(w, "openssl cms -decrypt -provider default -provider legacy "
                         "-inform DER -in env.der -recip %s -inkey %s -binary -out dec.der",
                      crt, key),
                   0);
  return tu_must_read_file(wpath(w, "dec.der"), dlen);
}

static X509 *load_cert(const char *path) {
  FILE *f = fopen(path, "r");
  X509 *c;
  ck_assert_ptr_nonnull(f);
  c = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  ck_assert_ptr_nonnull(c);
  return c;
}

static void save_cert(const char *path, X509 *c) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(PEM_write_X509(f, c), 1);
  fclose(f);
}

/* A target-side enrolment: key NAME.key and CSR NAME.csr (see
 * target_key_csr), parsed into csr, and a self-signed certificate of the
 * key with subject subj (RFC 8894 2.3: the PKCSReq signer), returned. */
static X509 *target_enrolment(const work *w, const char *name, const char *cn, const char *subj,
                              const char *chal, scep_csr *csr) {
  char key[64], req[64], self[64], err[512];
  unsigned char *b;
  size_t n;
  snprintf(key, sizeof key, "%s.key", name);
  snprintf(req, sizeof req, "%s.csr", name);
  snprintf(self, sizeof self, "%s-self.pem", name);
  target_key_csr(w, key, req, cn, chal);
  ck_assert_int_eq(sh(w, "openssl req -x509 -new -key %s -subj '%s' -days 1 -out %s", key, subj,
                      self),
                   0);
  b = tu_must_read_file(wpath(w, req), &n);
  ck_assert_msg(scep_csr_parse(b, n, csr, err, sizeof err) == 0, "%s", err);
  free(b);
  return load_cert(wpath(w, self));
}

/* ---- HTTP (the orchestrator's side, libcurl easy) ------------------- */

typedef struct resp {
  long status;
  char ctype[128];
  unsigned char *body;
  size_t len;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *arg) {
  resp *r = arg;
  unsigned char *nb = realloc(r->body, r->len + sz * n + 1);
  if (!nb)
    return 0;
  memcpy(nb + r->len, p, sz * n);
  r->body = nb;
  r->len += sz * n;
  r->body[r->len] = 0;
  return sz * n;
}

/* GET url?query, or POST body to url?operation=PKIOperation. */
static void http(const char *query, const unsigned char *body, size_t blen, resp *r) {
  CURL *c = curl_easy_init();
  struct curl_slist *h = NULL;
  char *u;
  char *ct = NULL;
  CURLcode cc;
  memset(r, 0, sizeof *r);
  ck_assert_ptr_nonnull(c);
  u = malloc(strlen(url) + strlen(query) + 2);
  sprintf(u, "%s?%s", url, query);
  curl_easy_setopt(c, CURLOPT_URL, u);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body) {
    h = curl_slist_append(h, "Content-Type: " SCEP_CT_PKI_MESSAGE);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
  }
  cc = curl_easy_perform(c);
  ck_assert_msg(cc == CURLE_OK, "%s: %s", u, curl_easy_strerror(cc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  snprintf(r->ctype, sizeof r->ctype, "%s", ct ? ct : "");
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  free(u);
}

static void resp_free(resp *r) { free(r->body); }

/* GetCACaps + GetCACert, pinned. */
static STACK_OF(X509) *fetch_ca(unsigned *caps) {
  resp r;
  STACK_OF(X509) *cas = NULL;
  char err[512];
  http("operation=GetCACaps", NULL, 0, &r);
  ck_assert_int_eq(r.status, 200);
  *caps = scep_caps_parse((const char *)r.body, r.len);
  resp_free(&r);
  http("operation=GetCACert", NULL, 0, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_msg(scep_cacert_parse(r.body, r.len, r.ctype, &cas, err, sizeof err) == 0, "%s",
                err);
  resp_free(&r);
  if (ca_fp)
    ck_assert_msg(scep_fingerprint_check(scep_pick_ca(cas), ca_fp, err, sizeof err) == 0, "%s",
                  err);
  return cas;
}

/* One SCEP transaction: build, sign on the "target", send, parse. */
static void transact(const work *w, int type, X509 *signer, const char *signkey,
                     const scep_csr *csr, STACK_OF(X509) *cas, unsigned caps, int use_get,
                     scep_rep *rep, unsigned char **raw, size_t *rawlen, scep_req **reqp) {
  scep_req_params p = {0};
  scep_req *req = NULL;
  unsigned char dg[EVP_MAX_MD_SIZE], *sig, *der = NULL;
  size_t dlen = 0, slen = 0, len = 0;
  char err[512];
  resp r;
  p.type = type;
  p.signer = signer;
  p.inner = csr->der;
  p.inner_len = csr->der_len;
  p.recipient = scep_pick_recipient(cas);
  p.caps = caps;
  ck_assert_msg(scep_req_build(&req, &p, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(scep_req_txid(req), csr->txid);
  ck_assert_int_eq(scep_req_tbs_digest(req, dg, &dlen), 0);
  sig = target_sign(w, signkey, scep_req_md_name(req), dg, dlen, &slen);
  ck_assert_msg(scep_req_set_signature(req, sig, slen, err, sizeof err) == 0, "%s", err);
  free(sig);
  ck_assert_int_eq(scep_req_der(req, &der, &len), 0);
  if (use_get) {
    char *q = NULL;
    ck_assert_int_eq(scep_get_query(der, len, &q), 0);
    http(q, NULL, 0, &r);
    free(q);
  } else {
    http("operation=PKIOperation", der, len, &r);
  }
  OPENSSL_free(der);
  ck_assert_msg(r.status == 200, "PKIOperation: HTTP %ld: %.200s", r.status, (char *)r.body);
  ck_assert_msg(scep_rep_parse(r.body, r.len, cas, scep_req_txid(req), scep_req_nonce(req), rep,
                               err, sizeof err) == 0,
                "%s", err);
  if (raw) {
    *raw = r.body;
    *rawlen = r.len;
  } else {
    resp_free(&r);
  }
  if (reqp)
    *reqp = req;
  else
    scep_req_free(req);
}

/* The issued certificate from a SUCCESS reply, decrypted on the "target"
 * with the key of the request's signer. */
static X509 *issued_cert(const work *w, const scep_rep *rep, const char *signer_crt,
                         const char *signer_key, const scep_csr *csr) {
  size_t dlen;
  unsigned char *dec;
  STACK_OF(X509) *got = NULL;
  char err[512];
  X509 *c;
  ck_assert_msg(rep->status == SCEP_STATUS_SUCCESS, "CertRep %s failInfo %s",
                scep_status_name(rep->status), scep_fail_info_name(rep->fail_info));
  /* scepserver 2.1.0 always encrypts its reply with single DES. */
  ck_assert_str_eq(rep->cipher, "DES-CBC");
  dec = target_decrypt(w, signer_key, signer_crt, rep->envelope, rep->envelope_len, &dlen);
  ck_assert_msg(scep_rep_certs_from_decrypted(dec, dlen, &got, err, sizeof err) == 0, "%s",
                err);
  free(dec);
  c = scep_pick_issued(got, csr->pubkey);
  ck_assert_ptr_nonnull(c);
  X509_up_ref(c);
  scep_certs_free(got);
  return c;
}

static void assert_issued_by(X509 *c, X509 *ca) {
  ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(ca)), 0);
  ck_assert_int_eq(X509_verify(c, X509_get0_pubkey(ca)), 1);
}

START_TEST(caps_and_cacert) {
  unsigned caps = 0;
  STACK_OF(X509) *cas = fetch_ca(&caps);
  resp r;
  ck_assert(caps & SCEP_CAP_RENEWAL);
  ck_assert(caps & SCEP_CAP_POSTPKIOPERATION);
  ck_assert(caps & SCEP_CAP_AES);
  ck_assert(caps & SCEP_CAP_SHA256);
  ck_assert_ptr_eq(scep_caps_cipher(caps), EVP_aes_128_cbc());
  /* No RA: one CA certificate, which is also the recipient. */
  ck_assert_int_eq(sk_X509_num(cas), 1);
  ck_assert_ptr_eq(scep_pick_recipient(cas), scep_pick_ca(cas));
  ck_assert_int_eq(X509_check_ca(scep_pick_ca(cas)), 1);
  http("operation=GetCACert", NULL, 0, &r);
  ck_assert_str_eq(r.ctype, SCEP_CT_CA_CERT);
  resp_free(&r);
  scep_certs_free(cas);
}
END_TEST

/* PKCSReq with the challenge, then RenewalReq signed by the first
 * certificate's key, for a new key. */
START_TEST(enrol_then_renew) {
  work w;
  unsigned caps = 0;
  STACK_OF(X509) *cas = fetch_ca(&caps);
  X509 *ca = scep_pick_ca(cas), *self, *c1, *c2;
  size_t n, rawlen = 0;
  unsigned char *b, *raw = NULL;
  scep_csr csr1, csr2;
  scep_rep rep, rep2;
  scep_req *req = NULL;
  char err[512];
  unsigned char wrong[SCEP_NONCE_LEN];

  work_init(&w);
  /* 1. Enrolment: key 1, CSR with challenge, a self-signed certificate of
   *    key 1 as the signer (RFC 8894 2.3). */
  self = target_enrolment(&w, "k1", "web17.example", "/O=renewd live test/CN=web17.example",
                          challenge, &csr1);
  ck_assert_int_eq(csr1.has_challenge, 1);
  transact(&w, SCEP_MSG_PKCSREQ, self, "k1.key", &csr1, cas, caps, 0, &rep, &raw, &rawlen,
           &req);
  c1 = issued_cert(&w, &rep, "k1-self.pem", "k1.key", &csr1);
  assert_issued_by(c1, ca);
  ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(c1), csr1.name), 0);
  ck_assert_int_eq(X509_check_host(c1, "www.web17.example", 0, 0, NULL), 1);
  save_cert(wpath(&w, "c1.pem"), c1);
  scep_rep_clear(&rep);

  /* The real reply is bound to our request: another nonce or txid fails. */
  memcpy(wrong, scep_req_nonce(req), SCEP_NONCE_LEN);
  wrong[0] ^= 1;
  ck_assert_int_eq(scep_rep_parse(raw, rawlen, cas, scep_req_txid(req), wrong, &rep, err,
                                  sizeof err),
                   RD_EVERIFY);
  ck_assert_int_eq(scep_rep_parse(raw, rawlen, cas, "another-transaction",
                                  scep_req_nonce(req), &rep, err, sizeof err),
                   RD_EVERIFY);
  free(raw);
  scep_req_free(req);

  /* 2. Renewal: key 2, CSR with the same subject (and the challenge, which
   *    scepserver checks on every request), signed by c1's key. */
  target_key_csr(&w, "k2.key", "k2.csr", "web17.example", challenge);
  b = tu_must_read_file(wpath(&w, "k2.csr"), &n);
  ck_assert_msg(scep_csr_parse(b, n, &csr2, err, sizeof err) == 0, "%s", err);
  free(b);
  ck_assert_str_ne(csr2.txid, csr1.txid);
  transact(&w, SCEP_MSG_RENEWALREQ, c1, "k1.key", &csr2, cas, caps, 0, &rep2, NULL, NULL,
           NULL);
  /* The reply is encrypted to c1: decrypted with the *old* key. */
  c2 = issued_cert(&w, &rep2, "c1.pem", "k1.key", &csr2);
  assert_issued_by(c2, ca);
  ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(c1), X509_get0_serialNumber(c2)),
                   0);
  ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(c2), csr2.pubkey), 1);
  ck_assert_int_ne(EVP_PKEY_eq(X509_get0_pubkey(c2), X509_get0_pubkey(c1)), 1);
  ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(c2), X509_get_subject_name(c1)), 0);
  ck_assert_int_eq(X509_check_host(c2, "www.web17.example", 0, 0, NULL), 1);
  scep_rep_clear(&rep2);

  X509_free(c2);
  X509_free(c1);
  X509_free(self);
  scep_csr_clear(&csr1);
  scep_csr_clear(&csr2);
  scep_certs_free(cas);
  work_done(&w);
}
END_TEST

/* PKIOperation by GET with the URL-encoded base64 message. */
START_TEST(enrol_by_get) {
  work w;
  unsigned caps = 0;
  STACK_OF(X509) *cas = fetch_ca(&caps);
  X509 *self, *c;
  scep_csr csr;
  scep_rep rep;
  work_init(&w);
  self = target_enrolment(&w, "k", "get.example", "/CN=get.example", challenge, &csr);
  transact(&w, SCEP_MSG_PKCSREQ, self, "k.key", &csr, cas, caps, 1, &rep, NULL, NULL, NULL);
  c = issued_cert(&w, &rep, "k-self.pem", "k.key", &csr);
  assert_issued_by(c, scep_pick_ca(cas));
  scep_rep_clear(&rep);
  X509_free(c);
  X509_free(self);
  scep_csr_clear(&csr);
  scep_certs_free(cas);
  work_done(&w);
}
END_TEST

/* A wrong challenge: an authentic FAILURE with failInfo badRequest. */
START_TEST(wrong_challenge) {
  work w;
  unsigned caps = 0;
  STACK_OF(X509) *cas = fetch_ca(&caps);
  X509 *self;
  scep_csr csr;
  scep_rep rep;
  work_init(&w);
  self = target_enrolment(&w, "k", "denied.example", "/CN=denied.example", "not-the-challenge",
                          &csr);
  transact(&w, SCEP_MSG_PKCSREQ, self, "k.key", &csr, cas, caps, 0, &rep, NULL, NULL, NULL);
  ck_assert_int_eq(rep.status, SCEP_STATUS_FAILURE);
  ck_assert_int_eq(rep.fail_info, SCEP_FAIL_BADREQUEST);
  ck_assert_str_eq(scep_fail_info_name(rep.fail_info), "badRequest");
  ck_assert_ptr_null(rep.fail_text); /* scepserver sends no failInfoText */
  ck_assert_ptr_null(rep.envelope);
  scep_rep_clear(&rep);
  X509_free(self);
  scep_csr_clear(&csr);
  scep_certs_free(cas);
  work_done(&w);
}
END_TEST

/* Without SCEP_TEST_URL (as ctest runs it): tests/e2e/scep_codec.sh starts
 * a scepserver in a private network namespace and runs this program again
 * with the URL set. That needs root (ip netns); without it, or without the
 * script, this exits 77 (a skip, never a pass) and says why. */
static int run_through_driver(void) {
  char script[1024];
  snprintf(script, sizeof script, "%s/tests/e2e/scep_codec.sh", SOURCE_DIR);
  if (geteuid() != 0) {
    printf("test_scep_live: SKIP: SCEP_TEST_URL is not set and this is not root, so %s "
           "cannot start a scepserver in a network namespace\n",
           script);
    return 77;
  }
  if (access(script, R_OK) != 0) {
    printf("test_scep_live: SKIP: SCEP_TEST_URL is not set and %s is missing\n", script);
    return 77;
  }
  printf("test_scep_live: SCEP_TEST_URL is not set: running %s\n", script);
  fflush(stdout);
  setenv("SCEP_BUILD_DIR", BUILD_DIR, 1);
  execlp("bash", "bash", script, (char *)NULL);
  printf("test_scep_live: SKIP: cannot run bash %s\n", script);
  return 77;
}

int main(void) {
  Suite *s;
  SRunner *sr;
  TCase *tc;
  int rc;
  url = getenv("SCEP_TEST_URL");
  challenge = getenv("SCEP_TEST_CHALLENGE");
  ca_fp = getenv("SCEP_TEST_CA_FP");
  if (!url || !*url)
    return run_through_driver();
  if (!challenge) {
    fprintf(stderr, "test_scep_live: set SCEP_TEST_CHALLENGE to the server's challenge\n");
    return EXIT_FAILURE;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  s = suite_create("scep_live");
  tc = tcase_create("live");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, caps_and_cacert);
  tcase_add_test(tc, enrol_then_renew);
  tcase_add_test(tc, enrol_by_get);
  tcase_add_test(tc, wrong_challenge);
  suite_add_tcase(s, tc);
  /* Verbose: one result line per test, which scep_codec.sh counts. */
  sr = srunner_create(s);
  srunner_run_all(sr, CK_VERBOSE);
  rc = srunner_ntests_failed(sr) ? EXIT_FAILURE : EXIT_SUCCESS;
  srunner_free(sr);
  curl_global_cleanup();
  return rc;
}
