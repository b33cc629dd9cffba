/* test_acme_pebble.c — the ACME flow against a real, independent ACME
 * server: Debian's `pebble` (the Let's Encrypt test CA) with
 * `pebble-challtestsrv` as its DNS (every name resolves to 127.0.0.1, TXT
 * records set through its management API), all on 127.0.0.1 with free
 * ports. The transport is libcurl (response headers included: what the
 * host API still lacks, docs/ACME.md); the target is this machine
 * (localhost_api: the real scripts, journal, facts). http-01 is answered
 * from the target's web root, served here by a small HTTP server that
 * pebble's validation reaches; dns-01 through a hook that sets the TXT
 * record in pebble-challtestsrv. Without pebble this exits 77 (a skip);
 * contrib/deps.sh installs it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "acme_flow.h"
#include "acme_int.h"
#include "base/err.h"
#include "localhost_api.h"
#include "testutil.h"

static char RUN[256], WEBROOT[300], CACERT[300], DIR_URL[128], MGMT[64];
static int PEBBLE_MGMT; /* pebble's management port: /roots/N */
static pid_t pebble_pid, cts_pid, web_pid;
static int web_fd = -1;

/* ------------------------------------------------- the web server (http-01) */

/* Serves GET /.well-known/acme-challenge/TOKEN from WEBROOT; 404 else. */
static void web_answer(int c) {
  char req[2048] = "", path[600], *body = NULL, head[160];
  size_t len = 0, n = 0;
  struct pollfd p = {c, POLLIN, 0};
  while (len < sizeof req - 1 && !strstr(req, "\r\n\r\n") && poll(&p, 1, 2000) > 0) {
    ssize_t r = read(c, req + len, sizeof req - 1 - len);
    if (r <= 0)
      break;
    len += (size_t)r;
    req[len] = 0;
  }
  char tok[256] = "";
  if (sscanf(req, "GET /.well-known/acme-challenge/%255[A-Za-z0-9_-] ", tok) == 1) {
    snprintf(path, sizeof path, "%s/.well-known/acme-challenge/%s", WEBROOT, tok);
    body = tu_read_file(path, &n);
  }
  snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
           body ? "200 OK" : "404 Not Found", body ? n : 0);
  if (write(c, head, strlen(head)) < 0 || (body && write(c, body, n) < 0))
    perror("web: write");
  free(body);
  close(c);
}

/* A process of its own (the Check tests run in forked children). */
static void web_run(void) {
  for (;;) {
    int c = accept(web_fd, NULL, NULL);
    if (c >= 0)
      web_answer(c);
    else if (errno != EINTR)
      _exit(0);
  }
}

static int listen_port(int *fd_out) {
  struct sockaddr_in a = {0};
  socklen_t al = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
      getsockname(fd, (struct sockaddr *)&a, &al))
    return -1;
  if (fd_out)
    *fd_out = fd;
  else
    close(fd);
  return ntohs(a.sin_port);
}

/* ------------------------------------------------------- pebble, its DNS */

static pid_t spawn(const char *log, char *const argv[], int nosleep) {
  pid_t p = fork();
  if (p == 0) {
    FILE *f = freopen(log, "w", stdout);
    (void)f;
    dup2(1, 2);
    if (nosleep) { /* pebble: no validation delay; one alternate chain (another root) */
      setenv("PEBBLE_VA_NOSLEEP", "1", 1);
      setenv("PEBBLE_ALTERNATE_ROOTS", "1", 1);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  return p;
}

static void stop_servers(void) {
  if (web_pid > 0)
    kill(web_pid, SIGTERM), waitpid(web_pid, NULL, 0);
  web_pid = 0;
  if (pebble_pid > 0)
    kill(pebble_pid, SIGTERM), waitpid(pebble_pid, NULL, 0);
  if (cts_pid > 0)
    kill(cts_pid, SIGTERM), waitpid(cts_pid, NULL, 0);
  pebble_pid = cts_pid = 0;
}

static int start_servers(void) {
  int web = listen_port(&web_fd), lp = listen_port(NULL), mp = listen_port(NULL);
  int dp = listen_port(NULL), cp = listen_port(NULL);
  char cfg[300], dns[64], cmg[64], logp[300], logc[300];
  if (web < 0 || lp < 0 || mp < 0 || dp < 0 || cp < 0)
    return -1;
  snprintf(CACERT, sizeof CACERT, "%s/pebble.crt", RUN);
  if (lh_sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
            "-keyout pebble.key -out pebble.crt -days 2 -subj /CN=localhost -addext "
            "subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null",
            RUN))
    return -1;
  snprintf(cfg, sizeof cfg, "%s/pebble.json", RUN);
  FILE *f = fopen(cfg, "w");
  if (!f)
    return -1;
  fprintf(f,
          "{\"pebble\": {\"listenAddress\": \"127.0.0.1:%d\", \"managementListenAddress\": "
          "\"127.0.0.1:%d\", \"certificate\": \"%s/pebble.crt\", \"privateKey\": "
          "\"%s/pebble.key\", \"httpPort\": %d, \"tlsPort\": %d, \"ocspResponderURL\": \"\", "
          "\"externalAccountBindingRequired\": false}}\n",
          lp, mp, RUN, RUN, web, listen_port(NULL));
  fclose(f);
  snprintf(dns, sizeof dns, "127.0.0.1:%d", dp);
  snprintf(cmg, sizeof cmg, "127.0.0.1:%d", cp);
  snprintf(MGMT, sizeof MGMT, "http://127.0.0.1:%d", cp);
  PEBBLE_MGMT = mp;
  snprintf(DIR_URL, sizeof DIR_URL, "https://127.0.0.1:%d/dir", lp);
  snprintf(logc, sizeof logc, "%s/challtestsrv.log", RUN);
  snprintf(logp, sizeof logp, "%s/pebble.log", RUN);
  char *cts[] = {"pebble-challtestsrv", "-http01", "", "-https01", "", "-tlsalpn01", "",
                 "-dns01", dns, "-management", cmg, "-defaultIPv6", "", NULL};
  char *peb[] = {"pebble", "-config", cfg, "-dnsserver", dns, NULL};
  cts_pid = spawn(logc, cts, 0);
  pebble_pid = spawn(logp, peb, 1);
  if ((web_pid = fork()) == 0)
    web_run();
  /* up when the directory answers (at most 15 s) */
  for (int i = 0; i < 150; i++) {
    if (lh_sh("curl -fs --cacert %s %s >/dev/null && curl -s %s >/dev/null", CACERT, DIR_URL,
              MGMT) == 0)
      return 0;
    usleep(100000);
  }
  fprintf(stderr, "pebble did not come up; see %s and %s\n", logp, logc);
  return -1;
}

/* ------------------------------------------------ the transport: libcurl */

typedef struct hdrs {
  char nonce[128], location[512];
  long retry_after;
  json_t *alts; /* Link rel="alternate" */
} hdrs;

static size_t on_header(char *b, size_t size, size_t n, void *arg) {
  hdrs *h = arg;
  size_t len = size * n;
  char line[600];
  snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), b);
  line[strcspn(line, "\r\n")] = 0;
  if (!strncasecmp(line, "replay-nonce: ", 14))
    snprintf(h->nonce, sizeof h->nonce, "%.*s", (int)sizeof h->nonce - 1, line + 14);
  else if (!strncasecmp(line, "location: ", 10))
    snprintf(h->location, sizeof h->location, "%.*s", (int)sizeof h->location - 1, line + 10);
  else if (!strncasecmp(line, "retry-after: ", 13))
    h->retry_after = atol(line + 13);
  else if (!strncasecmp(line, "link: ", 6))
    acme_link_alternates(line + 6, h->alts);
  return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *arg) {
  FILE *f = arg;
  return fwrite(b, size, n, f);
}

static int fail_finalize; /* fail this many finalize requests before sending */
static int n_new_order; /* orders pebble created */

static int curl_send(acme_flow *f, const char *url, const char *jose, acme_reply_fn cb) {
  CURL *c;
  hdrs h = {"", "", -1, NULL};
  char *body = NULL;
  size_t blen = 0;
  long code = 0;
  struct curl_slist *hl = NULL;
  if (jose && strstr(url, "/finalize-order/") && fail_finalize > 0) {
    fail_finalize--;
    cb(f, RD_ENETWORK, NULL); /* as if the connection broke */
    return 0;
  }
  h.alts = json_array();
  FILE *mem = open_memstream(&body, &blen);
  c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CAINFO, CACERT);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  if (jose) {
    hl = curl_slist_append(hl, "Content-Type: application/jose+json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, jose);
  }
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (jose && strstr(url, "/order-plz") && code == 201)
    n_new_order++; /* an order created (a badNonce answer is not one) */
  curl_easy_cleanup(c);
  curl_slist_free_all(hl);
  fclose(mem);
  acme_reply r = {code, h.nonce[0] ? h.nonce : NULL, h.location[0] ? h.location : NULL,
                  h.retry_after, (const unsigned char *)body, blen, h.alts};
  cb(f, rc == CURLE_OK ? 0 : RD_ENETWORK, rc == CURLE_OK ? &r : NULL);
  json_decref(h.alts);
  free(body);
  return 0;
}

static const acme_transport curl_transport = {curl_send};

static int k_probe(rd_step *s, const rd_host_api *h) {
  return acme_flow_begin(s, h, &curl_transport, 1);
}
static int k_apply(rd_step *s, const rd_host_api *h) {
  return acme_flow_begin(s, h, &curl_transport, 0);
}
static const rd_step_kind kind = {.type = "acme.pebble", .platform = RD_PLATFORM_POSIX,
                                  .probe = k_probe, .apply = k_apply};

/* ------------------------------------------------------------- the tests */

static char T[300], KEY[320];
static lh_job *job;
static lh_outcome out;

static void new_job(const char *issuer_extra) {
  char sec[2048];
  snprintf(sec, sizeof sec,
           "{\"certificate\": {\"key\": \"%s\"}, \"issuer\": {\"type\": \"acme\", "
           "\"directory\": \"%s\", \"account_key\": {\"file\": \"%s/account.key\"}, "
           "\"webroot\": \"%s\", \"poll_ms\": 100%s%s}, \"policy\": {\"key\": {\"type\": "
           "\"ec\"}}}",
           KEY, DIR_URL, T, WEBROOT, issuer_extra[0] ? ", " : "", issuer_extra);
  lh_job_free(job);
  job = lh_job_new("web1", sec);
  json_object_set_new(lh_facts(job), "cert",
                      json_pack("{s:[s, s]}", "sans", "DNS:web1.test", "DNS:www.web1.test"));
}

static void setup(void) {
  snprintf(T, sizeof T, "%s/t-XXXXXX", RUN);
  ck_assert_ptr_nonnull(mkdtemp(T));
  snprintf(KEY, sizeof KEY, "%s/server.key", T);
  ck_assert_int_eq(lh_sh("umask 077; openssl genpkey -algorithm EC -pkeyopt "
                         "ec_paramgen_curve:P-256 -out %s/account.key 2>/dev/null",
                         T),
                   0);
  fail_finalize = n_new_order = 0;
  new_job("");
}

static void teardown(void) {
  lh_outcome_clear(&out);
  lh_job_free(job);
  job = NULL;
}

/* The issued certificate holds the key staged on the target, names both
 * identifiers, and came with pebble's chain. */
static void expect_issued(void) {
  json_t *facts = lh_facts(job), *nc = json_object_get(facts, "new_cert");
  const char *pem = json_string_value(json_object_get(nc, "pem"));
  ck_assert_ptr_nonnull(pem);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(nc, "sans"), 0)),
                   "DNS:web1.test");
  ck_assert_ptr_nonnull(json_string_value(json_object_get(facts, "ca_pem")));
  char crt[340];
  snprintf(crt, sizeof crt, "%s/issued.crt", T);
  FILE *f = fopen(crt, "w");
  fputs(pem, f);
  fclose(f);
  ck_assert_int_eq(lh_sh("[ \"$(openssl x509 -in %s -noout -pubkey)\" = \"$(openssl pkey -in "
                         "%s.renewd-new -pubout)\" ]",
                         crt, KEY),
                   0);
}

START_TEST(pebble_issues_through_http01) {
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  expect_issued();
  ck_assert_int_eq(n_new_order, 1);
  ck_assert_int_eq(lh_sh("[ -z \"$(ls -A %s/.well-known/acme-challenge)\" ]", WEBROOT), 0);
}
END_TEST

START_TEST(pebble_resumed_job_finishes_the_same_order) {
  fail_finalize = 1;
  ck_assert_int_eq(lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out), RD_ENETWORK);
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(lh_journal(job), "acme.order"), "state")),
                   "ordered");
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  ck_assert_int_eq(n_new_order, 1); /* pebble saw one order */
  expect_issued();
}
END_TEST

/* PEBBLE_ALTERNATE_ROOTS=1: each certificate also comes with a chain to a
 * second root (Link rel="alternate"); preferred_chain names that root. */
START_TEST(pebble_takes_the_preferred_alternate_chain) {
  char *r0 = lh_sh_out("curl -fsk https://127.0.0.1:%d/roots/0", PEBBLE_MGMT);
  char *r1 = lh_sh_out("curl -fsk https://127.0.0.1:%d/roots/1", PEBBLE_MGMT);
  char *cn0 = r0 ? acme_chain_top_issuer(r0) : NULL, *cn1 = r1 ? acme_chain_top_issuer(r1) : NULL;
  char extra[300], *top;
  ck_assert_msg(cn0 && cn1 && strcmp(cn0, cn1), "pebble's roots: %s / %s", cn0, cn1);
  for (int i = 0; i < 2; i++) {
    snprintf(extra, sizeof extra, "\"preferred_chain\": \"%s\"", i ? cn0 : cn1);
    new_job(extra);
    int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
    ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
    expect_issued();
    top = acme_chain_top_issuer(json_string_value(json_object_get(lh_facts(job), "ca_pem")));
    ck_assert_str_eq(top ? top : "(none)", i ? cn0 : cn1);
    free(top);
  }
  free(r0);
  free(r1);
  free(cn0);
  free(cn1);
}
END_TEST

START_TEST(pebble_issues_through_dns01_hook) {
  char hook[340], extra[600];
  snprintf(hook, sizeof hook, "%s/dns-hook", T);
  FILE *f = fopen(hook, "w");
  ck_assert_ptr_nonnull(f);
  /* pebble-challtestsrv's management API: set-txt / clear-txt */
  fprintf(f,
          "#!/bin/sh\n"
          "case $1 in\n"
          "  add) curl -fsS -d \"{\\\"host\\\":\\\"$2.\\\",\\\"value\\\":\\\"$3\\\"}\" %s/set-txt ;;\n"
          "  remove) curl -fsS -d \"{\\\"host\\\":\\\"$2.\\\"}\" %s/clear-txt ;;\n"
          "  *) exit 2 ;;\n"
          "esac\n",
          MGMT, MGMT);
  fclose(f);
  ck_assert_int_eq(chmod(hook, 0755), 0);
  snprintf(extra, sizeof extra, "\"challenge_type\": \"dns-01\", \"dns_hook\": \"%s\"", hook);
  new_job(extra);
  int st = lh_phase(job, &kind, RD_PHASE_APPLY, NULL, &out);
  ck_assert_msg(st == 0, "%s: %s", rd_errname(st), out.msg);
  expect_issued();
}
END_TEST

int main(void) {
  Suite *s;
  TCase *t;
  int rc;
  if (lh_sh("{ command -v pebble && command -v pebble-challtestsrv && command -v curl; } "
            ">/dev/null 2>&1") != 0) {
    printf("test_acme_pebble: SKIP: pebble, pebble-challtestsrv or curl is missing "
           "(contrib/deps.sh installs them)\n");
    return 77;
  }
  snprintf(RUN, sizeof RUN, "/tmp/rd-pebble-XXXXXX");
  if (!mkdtemp(RUN))
    return 1;
  snprintf(WEBROOT, sizeof WEBROOT, "%s/www", RUN);
  mkdir(WEBROOT, 0755);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (start_servers()) {
    stop_servers();
    return 1;
  }
  s = suite_create("acme_pebble");
  t = tcase_create("pebble");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, pebble_issues_through_http01);
  tcase_add_test(t, pebble_resumed_job_finishes_the_same_order);
  tcase_add_test(t, pebble_issues_through_dns01_hook);
  tcase_add_test(t, pebble_takes_the_preferred_alternate_chain);
  suite_add_tcase(s, t);
  rc = tu_run(s);
  stop_servers();
  close(web_fd);
  curl_global_cleanup();
  lh_sh("rm -rf %s", RUN);
  return rc;
}
