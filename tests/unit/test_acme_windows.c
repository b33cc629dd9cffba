/* test_acme_windows.c — acme.issue on a Windows target (acme_win.c)
 * against the fake CA of test_acme_ca.h. The target is simulated here at
 * the script boundary, as the windows plugin's tests simulate theirs: each
 * script renewd sends is built for real (remote.c's prelude, the windows
 * plugin's lib.ps1, the acme script) and answered as the machine would:
 *   acme.win.new     certreq -new: a key pair kept "in the machine store"
 *                    (the test's STAGED file, which the fake CA compares
 *                    the CSR with), a PKCS#10 request with the names;
 *   acme.win.http01  the key authorization under the web root (the fake
 *                    CA reads it from WEBROOT), removed after;
 *   acme.win.dns01   the hook's TXT record (T/zone), removed after;
 *   acme.win.accept  certreq -accept -machine: links the leaf to the
 *                    pending key (refused when it is another key's);
 *   acme.win.cleanup the pending request removed.
 * The scripts themselves run in PowerShell in tests/windows/pester/
 * Acme.Tests.ps1; the case ps_texts writes them for it (BUILD_DIR/ps-acme). */
#include "test_acme_ca.h"

#include <openssl/sha.h>

#include "acme_win.h"
#include "base/util.h"
#include "ps_text.h"

typedef struct wsim {
  json_t *calls;       /* [{script, params}] */
  char request[41];    /* the REQUEST store's pending entry ("" none) */
  char *csr;           /* its request file (base64 DER) */
  int seq;             /* requests made */
  int lose_request;    /* the pending request is gone before the next run */
  int other_names;     /* certreq names something else */
  int accept_fails;    /* certreq -accept cannot find the pending key */
  char nonce[17];      /* the work directory of the first certreq -new */
  char installed[41];  /* in LocalMachine\My with its key */
} wsim;

static wsim W;
static rd_host_api WAPI;

static rd_platform w_platform(rd_step *s) {
  (void)s;
  return RD_PLATFORM_WINDOWS;
}

static char *b64_der_csr(EVP_PKEY *k) {
  X509_REQ *r = X509_REQ_new();
  X509_NAME *n = X509_REQ_get_subject_name(r);
  STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
  char sans[256];
  unsigned char *der = NULL;
  char *b64 = NULL;
  int len;
  snprintf(sans, sizeof sans, "DNS:%s,DNS:%s", W.other_names ? "other.test" : NAMES[0], NAMES[1]);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)NAMES[0], -1, -1, 0);
  X509_REQ_set_pubkey(r, k);
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans));
  X509_REQ_add_extensions(r, exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_sign(r, k, EVP_sha256());
  if ((len = i2d_X509_REQ(r, &der)) > 0)
    b64 = rd_base64_encode_str(der, (size_t)len);
  OPENSSL_free(der);
  X509_REQ_free(r);
  return b64;
}

/* certreq -new (a new key pair and request), or the pending one again. */
static json_t *sim_new(const json_t *p) {
  const char *req = json_string_value(json_object_get(p, "request"));
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "names"), 0)), NAMES[0]);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "names"), 1)), NAMES[1]);
  ck_assert_str_eq(json_string_value(json_object_get(p, "key_type")), "ec");
  ck_assert_str_eq(json_string_value(json_object_get(p, "curve")), "P-256");
  if (!W.nonce[0])
    snprintf(W.nonce, sizeof W.nonce, "%s", json_string_value(json_object_get(p, "nonce")));
  ck_assert_str_eq(json_string_value(json_object_get(p, "nonce")), W.nonce);
  if (W.lose_request)
    W.request[0] = 0;
  if (req && *req && !strcmp(req, W.request))
    return json_pack("{s:s, s:s, s:b}", "csr", W.csr, "request", W.request, "reused", 1);
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  FILE *f = fopen(STAGED, "w");
  ck_assert_ptr_nonnull(f);
  PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  free(W.csr);
  W.csr = b64_der_csr(k);
  EVP_PKEY_free(k);
  snprintf(W.request, sizeof W.request, "%040X", ++W.seq);
  return json_pack("{s:s, s:s, s:b}", "csr", W.csr, "request", W.request, "reused", 0);
}

static void put_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static json_t *sim_http01(const json_t *p) {
  const char *site = json_string_value(json_object_get(p, "site"));
  const char *token = json_string_value(json_object_get(p, "token"));
  const char *action = json_string_value(json_object_get(p, "action"));
  char path[600];
  if (*site)
    ck_assert_str_eq(site, "Default Web Site");
  else
    ck_assert_str_eq(json_string_value(json_object_get(p, "webroot")), "C:\\inetpub\\wwwroot");
  lh_sh("mkdir -p %s/.well-known/acme-challenge", WEBROOT);
  snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", WEBROOT, token);
  if (!strcmp(action, "put"))
    put_file(path, json_string_value(json_object_get(p, "keyauth")));
  else
    unlink(path);
  return json_pack("{s:s}", "path", path);
}

static json_t *sim_dns01(const json_t *p) {
  const char *action = json_string_value(json_object_get(p, "action"));
  const char *value = json_string_value(json_object_get(p, "value"));
  char path[600];
  ck_assert_str_eq(json_string_value(json_object_get(p, "hook")), "C:\\renewd\\dns-hook.ps1");
  lh_sh("mkdir -p %s/zone", T);
  snprintf(path, sizeof path, "%s/zone/%s", T, json_string_value(json_object_get(p, "name")));
  if (!strcmp(action, "add"))
    put_file(path, value);
  else {
    ck_assert_str_eq(value, "");
    unlink(path);
  }
  return json_pack("{s:b}", "ok", 1);
}

/* certreq -accept -machine: the leaf must be for the pending key. */
static json_t *sim_accept(const json_t *p) {
  size_t n = 0;
  unsigned char *der = NULL, md[SHA_DIGEST_LENGTH];
  const unsigned char *q;
  char thumb[41], *staged = tu_read_file(STAGED, NULL);
  BIO *b = BIO_new_mem_buf(staged, -1);
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  X509 *x;
  ck_assert_str_eq(json_string_value(json_object_get(p, "nonce")), W.nonce);
  ck_assert_str_eq(json_string_value(json_object_get(p, "store")), "LocalMachine\\My");
  ck_assert_int_eq(json_array_size(json_object_get(p, "chain")), 1);
  ck_assert_int_eq(rd_base64_decode_str(json_string_value(json_object_get(p, "leaf")), &der, &n), 0);
  q = der;
  ck_assert_ptr_nonnull(x = d2i_X509(NULL, &q, (long)n));
  SHA1(der, n, md);
  for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
    snprintf(thumb + 2 * i, 3, "%02X", md[i]);
  /* adcs_accept.ps1 runs certreq only when the certificate is not yet in
   * the store with its key (a re-run after a crash) */
  int linked = !strcmp(thumb, W.installed) ||
               (!W.accept_fails && W.request[0] && EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1);
  X509_free(x);
  EVP_PKEY_free(k);
  BIO_free(b);
  free(staged);
  free(der);
  if (linked) { /* the key moved from REQUEST to My */
    W.request[0] = 0;
    snprintf(W.installed, sizeof W.installed, "%s", thumb);
  }
  return json_pack("{s:s, s:b, s:i, s:s, s:b, s:{s:s, s:b}}", "thumbprint", thumb, "accepted", 1,
                   "exit", linked ? 0 : -2146885628, "text",
                   linked ? "" : "Cannot find object or property. 0x80092004 (-2146885628 "
                                 "CRYPT_E_NOT_FOUND)",
                   "found", linked, "cert", "thumbprint", thumb, "has_key", linked);
}

static int w_remote(rd_step *s, const rd_script *sc, json_t *params, rd_remote_cb cb, void *arg) {
  char err[256], *text = ps_text_of(sc, params, err, sizeof err);
  json_t *ans = NULL;
  ck_assert_msg(text, "%s", err);
  ck_assert_int_eq(sc->platform, RD_PLATFORM_WINDOWS);
  ck_assert_ptr_nonnull(strstr(text, "function rdw_thumb")); /* lib.ps1 is in front */
  free(text);
  json_array_append_new(W.calls, json_pack("{s:s, s:O}", "script", sc->name, "params", params));
  if (!strcmp(sc->name, "acme.win.new"))
    ans = sim_new(params);
  else if (!strcmp(sc->name, "acme.win.http01"))
    ans = sim_http01(params);
  else if (!strcmp(sc->name, "acme.win.dns01"))
    ans = sim_dns01(params);
  else if (!strcmp(sc->name, "acme.win.accept"))
    ans = sim_accept(params);
  else if (!strcmp(sc->name, "acme.win.cleanup"))
    ans = json_pack("{s:O, s:b}", "removed", json_object_get(params, "request_thumbprints"),
                       "dir_removed", 1);
  ck_assert_msg(ans, "unexpected script %s", sc->name);
  json_decref(params);
  rd_remote_result r = {0, ans, "", 0, ""};
  cb(s, 0, &r, arg);
  json_decref(ans);
  return 0;
}

static int w_apply(rd_step *s, const rd_host_api *h) {
  (void)h;
  return acme_flow_begin(s, &WAPI, &fake_transport, 0);
}
static int w_rollback(rd_step *s, const rd_host_api *h) {
  (void)h;
  return acme_win_rollback(s, &WAPI);
}
static const rd_step_kind wkind = {.type = "acme.wintest", .platform = RD_PLATFORM_WINDOWS,
                                   .apply = w_apply, .rollback = w_rollback};

/* A job on a Windows host web1; issuer_extra replaces the challenge part. */
static void make_wjob(const char *challenge) {
  char sec[4096];
  snprintf(sec, sizeof sec,
           "{\"certificate\": {\"subject\": \"CN=web1.test\"},"
           " \"issuer\": {\"type\": \"acme\", \"directory\": \"%s/dir\", \"account_key\": "
           "{\"file\": \"%s\"}, \"poll_ms\": 1, %s},"
           " \"policy\": {\"key\": {\"type\": \"ec\", \"curve\": \"P-256\"}}}",
           CA_URL, ACCT, challenge);
  lh_job_free(job);
  job = lh_job_new("web1", sec);
  ck_assert_ptr_nonnull(job);
  json_object_set_new(lh_facts(job), "cert",
                      json_pack("{s:[s, s]}", "sans", "DNS:web1.test", "DNS:www.web1.test"));
}

static void wsetup(void) {
  setup();
  memset(&W, 0, sizeof W);
  W.calls = json_array();
  WAPI = *lh_api();
  WAPI.platform = w_platform;
  WAPI.remote = w_remote;
  make_wjob("\"webroot\": \"C:\\\\inetpub\\\\wwwroot\"");
}

static void wteardown(void) {
  json_decref(W.calls);
  free(W.csr);
  teardown();
}

/* The scripts called, space-separated, with put/remove/add for challenges. */
static const char *called(void) {
  static char buf[1024];
  size_t i;
  json_t *c;
  buf[0] = 0;
  json_array_foreach(W.calls, i, c) {
    const char *a = json_string_value(json_object_get(json_object_get(c, "params"), "action"));
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s%s%s", i ? " " : "",
             json_string_value(json_object_get(c, "script")) + 9, a ? ":" : "", a ? a : "");
  }
  return buf;
}

static void expect_win_issued(void) {
  json_t *nc = json_object_get(lh_facts(job), "new_cert");
  const json_t *last = json_array_get(W.calls, json_array_size(W.calls) - 1);
  ck_assert_ptr_nonnull(nc);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(nc, "sans"), 0)),
                   "DNS:web1.test");
  ck_assert_str_eq(json_string_value(json_object_get(nc, "store")), "LocalMachine\\My");
  ck_assert_uint_eq(strlen(json_string_value(json_object_get(nc, "thumbprint"))), 40);
  ck_assert_str_eq(json_string_value(json_object_get(last, "script")), "acme.win.accept");
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(lh_facts(job), "ca_pem")),
                               "BEGIN CERTIFICATE"));
  ck_assert_str_eq(journal_state(), "issued");
  ck_assert_int_eq(challenge_files(), 0);
  char *j = json_dumps(lh_journal(job), 0), *fa = json_dumps(lh_facts(job), 0),
       *c = json_dumps(W.calls, 0);
  ck_assert_ptr_null(strstr(j, "PRIVATE"));
  ck_assert_ptr_null(strstr(fa, "PRIVATE"));
  ck_assert_ptr_null(strstr(c, "PRIVATE"));
  free(j);
  free(fa);
  free(c);
}

START_TEST(issues_into_the_machine_store_through_http01) {
  int st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation); /* the CSR is the pending key's */
  ck_assert_str_eq(called(), "new http01:put http01:remove http01:put http01:remove accept");
  ck_assert_msg(strstr(out.msg, "installed into LocalMachine\\My as "), "%s", out.msg);
  expect_win_issued();
  ck_assert_int_eq(CA.saw_private, 0);
  char staged[64];
  snprintf(staged, sizeof staged, "%s:%040X", W.nonce, 1);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(lh_journal(job),
                                                                     "acme.order"), "staged")),
                   staged);
  /* the journal says issued: the CA is not asked again, the accept runs
   * again (idempotent on the target: the certificate is there) */
  int before = CA.n_requests;
  json_object_del(lh_facts(job), "new_cert");
  st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  ck_assert_int_eq(CA.n_requests, before);
  ck_assert_ptr_nonnull(json_object_get(lh_facts(job), "new_cert"));
}
END_TEST

START_TEST(resumed_order_finishes_with_the_same_pending_request) {
  CA.fail_finalize = 1;
  int st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_int_eq(st, RD_EIO);
  ck_assert_str_eq(journal_state(), "ordered");
  st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation);
  ck_assert_int_eq(CA.n_order, 1);
  ck_assert_int_eq(CA.n_finalize, 2);
  ck_assert_int_eq(W.seq, 1); /* certreq -new ran once */
  const json_t *second = json_array_get(W.calls, 5);
  ck_assert_str_eq(json_string_value(json_object_get(second, "script")), "acme.win.new");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(second, "params"),
                                                     "request")),
                   "0000000000000000000000000000000000000001");
  expect_win_issued();
}
END_TEST

START_TEST(resumed_order_with_the_pending_request_lost_makes_a_new_one) {
  CA.fail_finalize = 1;
  ck_assert_int_eq(lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out), RD_EIO);
  W.lose_request = 1;
  int st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation);
  ck_assert_int_eq(CA.n_order, 1); /* the same order, a new key */
  ck_assert_int_eq(W.seq, 2);
  expect_win_issued();
}
END_TEST

START_TEST(request_with_other_names_is_refused) {
  W.other_names = 1;
  int st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_int_eq(st, RD_EPROTO);
  ck_assert_msg(strstr(out.msg, "names other names"), "%s", out.msg);
  ck_assert_int_eq(CA.n_order, 0);
  ck_assert_int_eq(CA.n_finalize, 0);
}
END_TEST

START_TEST(accept_that_finds_no_key_is_reported) {
  W.accept_fails = 1;
  int st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_int_eq(st, RD_EREMOTE);
  ck_assert_msg(strstr(out.msg, "certreq -accept -machine") && strstr(out.msg, "LocalMachine\\My") &&
                    strstr(out.msg, "CRYPT_E_NOT_FOUND"),
                "%s", out.msg);
  ck_assert_ptr_null(json_object_get(lh_facts(job), "new_cert"));
  /* rollback: the pending request's key and the work directory go */
  st = lh_phase(job, &wkind, RD_PHASE_ROLLBACK, NULL, &out);
  ck_assert_msg(st == 0, "%s", out.msg);
  const json_t *last = json_array_get(W.calls, json_array_size(W.calls) - 1);
  ck_assert_str_eq(json_string_value(json_object_get(last, "script")), "acme.win.cleanup");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(last, "params"), "nonce")),
                   W.nonce);
  ck_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(json_object_get(last, "params"), "request_thumbprints"), 0)),
                   "0000000000000000000000000000000000000001");
  ck_assert_msg(strstr(out.msg, "removed 1 pending request key and the work directory"), "%s",
                out.msg);
}
END_TEST

START_TEST(dns01_through_the_hook_with_powershell) {
  make_wjob("\"challenge_type\": \"dns-01\", \"dns_hook\": \"C:\\\\renewd\\\\dns-hook.ps1\"");
  int st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_msg(!CA.violation[0], "%s", CA.violation);
  ck_assert_str_eq(called(), "new dns01:add dns01:remove dns01:add dns01:remove accept");
  expect_win_issued();
}
END_TEST

START_TEST(http01_under_the_iis_sites_physical_path) {
  make_wjob("\"iis_site\": \"Default Web Site\"");
  int st = lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_str_eq(called(), "new http01:put http01:remove http01:put http01:remove accept");
  expect_win_issued();
}
END_TEST

START_TEST(configuration_for_windows_paths) {
  static const char *const bad[] = {
      "\"webroot\": \"/var/www\"", "\"webroot\": \"C:\\\\www\\\\..\\\\x\"",
      "\"challenge_type\": \"dns-01\", \"dns_hook\": \"/usr/local/bin/hook\"", NULL};
  for (int i = 0; bad[i]; i++) {
    make_wjob(bad[i]);
    ck_assert_int_eq(lh_phase(job, &wkind, RD_PHASE_APPLY, NULL, &out), RD_ECONFIG);
    ck_assert_msg(strstr(out.msg, "absolute path"), "%s", out.msg);
  }
  ck_assert_int_eq(json_array_size(W.calls), 0);
  ck_assert_int_eq(CA.n_requests, 0);
}
END_TEST

/* Every Windows script as renewd sends it, into BUILD_DIR/ps-acme for
 * tests/windows/pester/Acme.Tests.ps1 (tests/e2e/windows_pester.sh). */
START_TEST(ps_texts) {
  char dir[1024], err[256];
  json_t *params = json_pack("{s:s}", "nonce", "0123456789abcdef");
  size_t n = 0;
  snprintf(dir, sizeof dir, "%s/ps-acme", BUILD_DIR);
  for (; acme_win_scripts[n]; n++) {
    ck_assert_msg(ps_text_write(dir, acme_win_scripts[n], params, err, sizeof err) == 0, "%s", err);
    char *t = ps_text_of(acme_win_scripts[n], params, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(t, "function rdw_thumb"));
    free(t);
  }
  ck_assert_uint_eq(n, 5);
  json_decref(params);
}
END_TEST

int main(void) {
  Suite *s = suite_create("acme_windows");
  TCase *t = tcase_create("windows");
  int rc;
  if (make_ca())
    return 1;
  tcase_add_checked_fixture(t, wsetup, wteardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, issues_into_the_machine_store_through_http01);
  tcase_add_test(t, resumed_order_finishes_with_the_same_pending_request);
  tcase_add_test(t, resumed_order_with_the_pending_request_lost_makes_a_new_one);
  tcase_add_test(t, request_with_other_names_is_refused);
  tcase_add_test(t, accept_that_finds_no_key_is_reported);
  tcase_add_test(t, dns01_through_the_hook_with_powershell);
  tcase_add_test(t, http01_under_the_iis_sites_physical_path);
  tcase_add_test(t, configuration_for_windows_paths);
  suite_add_tcase(s, t);
  /* its own case: CK_RUN_CASE=ps_texts (tests/e2e/windows_pester.sh) */
  t = tcase_create("ps_texts");
  tcase_add_checked_fixture(t, wsetup, wteardown);
  tcase_add_test(t, ps_texts);
  suite_add_tcase(s, t);
  rc = tu_run(s);
  X509_free(CA_CERT);
  EVP_PKEY_free(CA_KEY);
  return rc;
}
