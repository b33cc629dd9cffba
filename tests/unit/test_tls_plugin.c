/* test_tls_plugin.c — tls.verify against a real TLS server running in this
 * process (a thread doing SSL_accept on 127.0.0.1, ephemeral port), with
 * certificates from a throwaway root + intermediate CA made with openssl. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/err.h"
#include "localhost_api.h"
#include "testutil.h"
#include "tls_plugin.h"
#include "base/x509.h"

static char M[256]; /* material */

static int make_material(void) {
  snprintf(M, sizeof M, "/tmp/rd-tls-mat-XXXXXX");
  if (!mkdtemp(M))
    return -1;
  return lh_sh(
      "set -e; cd %s; exec 2>/dev/null\n"
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext\n"
      "printf 'basicConstraints=critical,CA:true\\nkeyUsage=critical,keyCertSign,cRLSign\\n' > caext\n"
      "for k in ca int ca2 leaf other; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key; done\n"
      "openssl req -x509 -new -key ca.key -subj /CN=renewd-root -days 30 -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt\n"
      "openssl req -x509 -new -key ca2.key -subj /CN=renewd-other-root -days 30 -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign -out ca2.crt\n"
      "for k in int leaf other; do openssl req -new -key $k.key -subj /CN=localhost -out $k.csr; done\n"
      "openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 30 -extfile caext -out int.crt\n"
      "openssl x509 -req -in leaf.csr -CA int.crt -CAkey int.key -set_serial 0x51 -days 30 -extfile ext -out leaf.crt\n"
      "openssl x509 -req -in other.csr -CA ca.crt -CAkey ca.key -set_serial 0x52 -days 30 -extfile ext -out other.crt\n"
      "cat leaf.crt int.crt > fullchain.pem\n",
      M);
}

static char *mpath(const char *name) {
  static char buf[4][300];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", M, name);
  return buf[i];
}

static json_t *facts_of(const char *path) {
  char *b = tu_read_file(path, NULL);
  json_t *f = NULL;
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(rd_x509_facts_from_bytes((unsigned char *)b, strlen(b), &f), 0);
  free(b);
  return f;
}

/* ------------------------------------------------------------ the server */

typedef struct tls_server {
  int lfd, port, silent;
  SSL_CTX *ctx;
  volatile int stop;
  pthread_t th;
  char sni[256];
} tls_server;

static tls_server srv;

static int srv_sni(SSL *ssl, int *al, void *arg) {
  const char *n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  snprintf(srv.sni, sizeof srv.sni, "%s", n ? n : "");
  return SSL_TLSEXT_ERR_OK;
}

static void *srv_main(void *arg) {
  while (!srv.stop) {
    struct pollfd p = {srv.lfd, POLLIN, 0};
    int fd;
    if (poll(&p, 1, 50) <= 0)
      continue;
    if ((fd = accept(srv.lfd, NULL, NULL)) < 0)
      continue;
    if (srv.silent) { /* accept, never answer: the client must time out */
      for (int i = 0; i < 100 && !srv.stop; i++)
        usleep(30000);
    } else {
      struct timeval tv = {5, 0};
      SSL *ssl = SSL_new(srv.ctx);
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1)
        SSL_shutdown(ssl);
      SSL_free(ssl);
      ERR_clear_error();
    }
    close(fd);
  }
  return NULL;
}

static int srv_start(const char *chain, const char *key, int silent) {
  struct sockaddr_in a;
  socklen_t al = sizeof a;
  int one = 1;
  memset(&srv, 0, sizeof srv);
  srv.silent = silent;
  ck_assert_ptr_nonnull(srv.ctx = SSL_CTX_new(TLS_server_method()));
  ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(srv.ctx, chain), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(srv.ctx, key, SSL_FILETYPE_PEM), 1);
  SSL_CTX_set_tlsext_servername_callback(srv.ctx, srv_sni);
  srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(srv.lfd, 8), 0);
  ck_assert_int_eq(getsockname(srv.lfd, (struct sockaddr *)&a, &al), 0);
  srv.port = ntohs(a.sin_port);
  ck_assert_int_eq(pthread_create(&srv.th, NULL, srv_main, NULL), 0);
  return srv.port;
}

static void srv_stop(void) {
  srv.stop = 1;
  pthread_join(srv.th, NULL);
  close(srv.lfd);
  SSL_CTX_free(srv.ctx);
  srv.ctx = NULL;
}

/* ------------------------------------------------------------ fixture */

static lh_job *job;
static lh_outcome o;
static char params[512];

static void setup(void) {
  char *ca;
  int port = srv_start(mpath("fullchain.pem"), mpath("leaf.key"), 0);
  job = lh_job_new("web17", NULL);
  memset(&o, 0, sizeof o);
  json_object_set_new(lh_facts(job), "cert", facts_of(mpath("other.crt")));
  json_object_set_new(lh_facts(job), "expect", facts_of(mpath("leaf.crt")));
  ca = tu_read_file(mpath("ca.crt"), NULL);
  json_object_set_new(lh_facts(job), "ca_pem", json_string(ca));
  free(ca);
  snprintf(params, sizeof params, "{\"port\": %d, \"address\": \"127.0.0.1\"}", port);
}

static void teardown(void) {
  srv_stop();
  lh_outcome_clear(&o);
  lh_job_free(job);
}

static int run(rd_phase ph, const char *p) {
  int st = lh_phase(job, &tls_kind_verify, ph, p, &o);
  ck_assert_msg(o.rc < 0 ? o.done_calls == 0 : o.done_calls == 1, "rc %d, %d completions", o.rc,
                o.done_calls);
  return st;
}

static const char *sha256_of(const char *key) {
  return json_string_value(json_object_get(json_object_get(lh_facts(job), key), "sha256"));
}

/* ------------------------------------------------------------ tests */

START_TEST(verify_passes) {
  ck_assert_msg(run(RD_PHASE_VERIFY, params) == 0, "%s", o.msg);
  ck_assert_ptr_nonnull(strstr(o.msg, "chain verified"));
  ck_assert(json_is_true(json_object_get(json_object_get(o.result, "detail"), "chain_ok")));
  ck_assert_str_eq(srv.sni, ""); /* an IP address: no SNI */
}
END_TEST

START_TEST(verify_fails_on_other_certificate) {
  char where[64];
  json_object_set_new(lh_facts(job), "expect", facts_of(mpath("other.crt")));
  ck_assert_int_eq(run(RD_PHASE_VERIFY, params), RD_EVERIFY);
  snprintf(where, sizeof where, "127.0.0.1:%d", srv.port);
  ck_assert_ptr_nonnull(strstr(o.msg, where));
  ck_assert_ptr_nonnull(strstr(o.msg, sha256_of("expect")));                  /* expected */
  json_t *leaf = facts_of(mpath("leaf.crt"));
  ck_assert_ptr_nonnull(strstr(o.msg, json_string_value(json_object_get(leaf, "sha256")))); /* served */
  json_decref(leaf);
}
END_TEST

START_TEST(verify_fails_on_ca_mismatch) {
  char *ca2 = tu_read_file(mpath("ca2.crt"), NULL);
  json_object_set_new(lh_facts(job), "ca_pem", json_string(ca2));
  free(ca2);
  ck_assert_int_eq(run(RD_PHASE_VERIFY, params), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o.msg, "does not verify against the CA"));
  ck_assert_ptr_nonnull(strstr(o.msg, "unable to get"));
  /* no CA at all is a failure too, never a silent pass */
  json_object_del(lh_facts(job), "ca_pem");
  ck_assert_int_eq(run(RD_PHASE_VERIFY, params), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o.msg, "no CA"));
}
END_TEST

/* The intermediate comes from the server (untrusted); only the root is trusted. */
START_TEST(verify_with_ca_file_and_sni) {
  char p[600];
  json_object_del(lh_facts(job), "ca_pem");
  snprintf(p, sizeof p,
           "{\"port\": %d, \"address\": \"127.0.0.1\", \"servername\": \"localhost\", "
           "\"ca_file\": \"%s\"}",
           srv.port, mpath("ca.crt"));
  ck_assert_msg(run(RD_PHASE_VERIFY, p) == 0, "%s", o.msg);
  ck_assert_str_eq(srv.sni, "localhost");
  snprintf(p, sizeof p, "{\"port\": %d, \"address\": \"127.0.0.1\", \"ca_file\": \"%s\"}", srv.port,
           mpath("int.crt.missing"));
  ck_assert_int_eq(run(RD_PHASE_VERIFY, p), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o.msg, "int.crt.missing"));
}
END_TEST

/* Defaults: address from facts.host.address, port from its tls_port var. */
START_TEST(defaults_from_host_facts) {
  json_t *vars = json_object_get(json_object_get(lh_facts(job), "host"), "vars");
  json_object_set_new(vars, "tls_port", json_integer(srv.port));
  ck_assert_msg(run(RD_PHASE_VERIFY, NULL) == 0, "%s", o.msg);
}
END_TEST

START_TEST(probe_reports_served) {
  const json_t *ch;
  ck_assert_int_eq(run(RD_PHASE_PROBE, params), 0);
  ck_assert_int_eq(json_array_size(json_object_get(o.result, "changes")), 0); /* = expect */
  json_object_del(lh_facts(job), "expect");
  ck_assert_int_eq(run(RD_PHASE_PROBE, params), 0);
  ch = json_array_get(json_object_get(o.result, "changes"), 0);
  ck_assert_ptr_nonnull(ch);
  json_t *leaf = facts_of(mpath("leaf.crt"));
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ch, "old")),
                               json_string_value(json_object_get(leaf, "sha256"))));
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ch, "old")), "serial 51"));
  ck_assert_str_eq(json_string_value(json_object_get(ch, "new")), "(new certificate)");
  ck_assert_ptr_nonnull(strstr(o.msg, "not the certificate inventoried"));
  json_decref(leaf);
  /* verify without anything to expect is a state error, not a pass */
  ck_assert_int_eq(run(RD_PHASE_VERIFY, params), RD_ESTATE);
}
END_TEST

START_TEST(connection_refused) {
  char p[200];
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  struct sockaddr_in a;
  socklen_t al = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  getsockname(fd, (struct sockaddr *)&a, &al);
  port = ntohs(a.sin_port);
  close(fd); /* bound, never listened: nothing there now */
  snprintf(p, sizeof p, "{\"port\": %d, \"address\": \"127.0.0.1\"}", port);
  ck_assert_int_eq(run(RD_PHASE_VERIFY, p), RD_ECONNREFUSED);
  ck_assert_ptr_nonnull(strstr(o.msg, "connect"));
}
END_TEST

START_TEST(handshake_timeout) {
  char p[200];
  struct timespec t0, t1;
  srv.silent = 1;
  snprintf(p, sizeof p, "{\"port\": %d, \"address\": \"127.0.0.1\", \"timeout\": 1}", srv.port);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_int_eq(run(RD_PHASE_VERIFY, p), RD_ETIMEDOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 4);
  ck_assert_ptr_nonnull(strstr(o.msg, "timed out"));
}
END_TEST

START_TEST(validate) {
  char err[256];
  const char *bad[] = {"{\"port\": 0}", "{\"port\": \"443\"}", "{\"port\": 70000}",
                       "{\"address\": \"\"}", "{\"ca_file\": \"ca.pem\"}", "{\"timeout\": 0}",
                       "{\"host\": \"x\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *p = json_loads(bad[i], 0, NULL);
    ck_assert_msg(tls_kind_verify.validate(p, err, sizeof err) == RD_EINVAL, "%s", bad[i]);
    json_decref(p);
  }
  json_t *ok = json_loads("{\"port\": 8443, \"address\": \"web17.example\", \"servername\": "
                          "\"www.example\", \"ca_file\": \"/etc/ssl/ca.pem\", \"timeout\": 5}",
                          0, NULL);
  ck_assert_int_eq(tls_kind_verify.validate(ok, err, sizeof err), 0);
  json_decref(ok);
  ck_assert_int_eq(tls_kind_verify.platform, RD_PLATFORM_ANY);
  ck_assert_uint_eq(tls_kind_verify.flags, RD_KIND_CHECK);
}
END_TEST

START_TEST(descriptor_and_module) {
  char path[1024];
  const rd_plugin *p = tls_plugin();
  ck_assert_uint_eq(p->magic, RD_PLUGIN_MAGIC);
  ck_assert_str_eq(p->name, "tls");
  ck_assert_ptr_eq(p->kinds[0], &tls_kind_verify);
  snprintf(path, sizeof path, "%s/plugins/renewd-tls.so", BUILD_DIR);
  if (access(path, F_OK) == 0) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    rd_plugin_entry e;
    ck_assert_msg(h != NULL, "%s", dlerror());
    *(void **)&e = dlsym(h, RD_PLUGIN_SYMBOL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e()->name, "tls");
    dlclose(h);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("tls_plugin");
  TCase *t = tcase_create("verify");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, verify_passes);
  tcase_add_test(t, verify_fails_on_other_certificate);
  tcase_add_test(t, verify_fails_on_ca_mismatch);
  tcase_add_test(t, verify_with_ca_file_and_sni);
  tcase_add_test(t, defaults_from_host_facts);
  tcase_add_test(t, probe_reports_served);
  tcase_add_test(t, connection_refused);
  tcase_add_test(t, handshake_timeout);
  tcase_add_test(t, validate);
  tcase_add_test(t, descriptor_and_module);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  int rc;
  signal(SIGPIPE, SIG_IGN); /* the server thread writes to clients that left */
  if (make_material() != 0) {
    fprintf(stderr, "test_tls_plugin: cannot make test certificates with openssl in %s\n", M);
    return 1;
  }
  rc = tu_run(suite());
  lh_sh("rm -rf '%s'", M);
  return rc;
}
