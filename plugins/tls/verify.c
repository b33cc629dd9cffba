/* verify.c — `tls.verify`: handshakes with the service the way its clients
 * do and checks the certificate it serves. Runs on the orchestrator
 * (RD_PLATFORM_ANY).
 *
 * params: {"port" (default facts.host.vars.tls_port, else 443), "address"
 *          (default facts.host.address), "servername" (SNI; default the
 *          address when it is a name), "ca_file" (PEM on the orchestrator;
 *          default facts.ca_pem), "timeout" (seconds for connect and for the
 *          handshake, default 10)}
 * The blocking part (resolve, non-blocking connect + poll, TLS handshake
 * with a deadline, chain verification) runs in host->work()'s worker thread.
 * probe: the served certificate (sha256, serial, notAfter) vs facts.cert /
 *   the certificate that should be live.
 * verify: passes only if the served leaf's sha256 == facts.expect.sha256
 *   (facts.new_cert before the engine sets expect) AND the served chain
 *   (as untrusted intermediates) verifies against the CA with
 *   X509_verify_cert. A failure names host:port and both fingerprints.
 * RD_KIND_CHECK: after a rollback the engine runs verify again with
 * facts.expect = the old certificate.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tls_plugin.h"

#define TYPE "tls.verify"
#define TLS_DEFAULT_TIMEOUT_S 10

static const char *const tls_keys[] = {"port", "address", "servername", "ca_file", "timeout",
                                       "purpose", NULL};

static int tls_validate(const json_t *params, char *err, size_t errlen) {
  const char *k;
  const json_t *v;
  if (params && !json_is_object(params)) {
    snprintf(err, errlen, "%s: params must be an object", TYPE);
    return RD_EINVAL;
  }
  json_object_foreach((json_t *)params, k, v) {
    size_t i;
    for (i = 0; tls_keys[i] && strcmp(tls_keys[i], k); i++)
      ;
    if (!tls_keys[i]) {
      snprintf(err, errlen,
               "%s: unknown parameter \"%s\" (expected \"port\", \"address\", \"servername\", "
               "\"ca_file\", \"timeout\", \"purpose\")",
               TYPE, k);
      return RD_EINVAL;
    }
    if (!strcmp(k, "port") &&
        (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)) {
      snprintf(err, errlen, "%s: \"port\" must be a TCP port number (1-65535)", TYPE);
      return RD_EINVAL;
    }
    if (!strcmp(k, "timeout") &&
        (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 600)) {
      snprintf(err, errlen, "%s: \"timeout\" must be a number of seconds from 1 to 600", TYPE);
      return RD_EINVAL;
    }
    if ((!strcmp(k, "address") || !strcmp(k, "servername") || !strcmp(k, "ca_file")) &&
        (!json_is_string(v) || !*json_string_value(v))) {
      snprintf(err, errlen, "%s: \"%s\" must be a non-empty string", TYPE, k);
      return RD_EINVAL;
    }
    if (!strcmp(k, "purpose") && (!json_is_string(v) || (strcmp(json_string_value(v), "server") &&
                                                          strcmp(json_string_value(v), "any")))) {
      snprintf(err, errlen,
               "%s: \"purpose\" must be \"server\" (the default: the chain must allow TLS server "
               "authentication) or \"any\" (chain only, e.g. for a CA that issues client "
               "certificates)",
               TYPE);
      return RD_EINVAL;
    }
    if (!strcmp(k, "ca_file") && json_string_value(v)[0] != '/') {
      snprintf(err, errlen, "%s: \"ca_file\" must be an absolute path", TYPE);
      return RD_EINVAL;
    }
  }
  return 0;
}

/* One handshake: inputs copied in, results filled by the worker. */
typedef struct tls_probe {
  const rd_host_api *h;
  rd_phase phase;
  char address[256], port[16], sni[256], where[300];
  char *ca_pem;  /* CA certificates (PEM) or NULL */
  char *ca_file; /* or a file to read them from */
  int timeout_ms;
  int any_purpose; /* "purpose": "any": chain only, no serverAuth requirement */
  /* results */
  int status;        /* 0 or RD_E* (connect/handshake) */
  char err[512];
  unsigned char *leaf;
  size_t leaf_len;
  int have_ca;       /* CA certificates were loaded */
  int chain_ok;
  char chain_err[300];
} tls_probe;

static void tls_probe_free(tls_probe *p) {
  if (!p)
    return;
  free(p->ca_pem);
  free(p->ca_file);
  OPENSSL_free(p->leaf);
  free(p);
}

static void tls_seterr(tls_probe *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tls_seterr(tls_probe *p, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
  p->status = status;
}

static long tls_ms_left(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long ms = (deadline->tv_sec - now.tv_sec) * 1000L + (deadline->tv_nsec - now.tv_nsec) / 1000000L;
  return ms > 0 ? ms : 0;
}

static void tls_deadline(struct timespec *d, int ms) {
  clock_gettime(CLOCK_MONOTONIC, d);
  d->tv_sec += ms / 1000;
  d->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (d->tv_nsec >= 1000000000L) {
    d->tv_sec++;
    d->tv_nsec -= 1000000000L;
  }
}

/* Wait for fd to become ready; 1 ready, 0 timed out, -1 error. */
static int tls_wait(int fd, short events, const struct timespec *deadline) {
  for (;;) {
    struct pollfd pfd = {fd, events, 0};
    long left = tls_ms_left(deadline);
    int r;
    if (left <= 0)
      return 0;
    r = poll(&pfd, 1, (int)left);
    if (r > 0)
      return 1;
    if (r == 0)
      return 0;
    if (errno != EINTR)
      return -1;
  }
}

/* Non-blocking connect to each address in turn, within the deadline. */
static int tls_connect(tls_probe *p) {
  struct addrinfo hints, *res = NULL, *ai;
  struct timespec deadline;
  int fd = -1, gai, last = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if ((gai = getaddrinfo(p->address, p->port, &hints, &res)) != 0) {
    tls_seterr(p, RD_ENETWORK, "%s: cannot resolve: %s", p->where, gai_strerror(gai));
    return -1;
  }
  tls_deadline(&deadline, p->timeout_ms);
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    if (errno == EINPROGRESS) {
      int w = tls_wait(fd, POLLOUT, &deadline), so = 0;
      socklen_t sl = sizeof so;
      if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
        break;
      last = w == 0 ? ETIMEDOUT : so ? so : errno;
    } else {
      last = errno;
    }
    close(fd);
    fd = -1;
    if (last == ETIMEDOUT)
      break;
  }
  freeaddrinfo(res);
  if (fd < 0)
    tls_seterr(p,
               last == ETIMEDOUT      ? RD_ETIMEDOUT
               : last == ECONNREFUSED ? RD_ECONNREFUSED
                                      : RD_ENETWORK,
               "%s: connect: %s", p->where,
               last == ETIMEDOUT ? "timed out" : strerror(last));
  return fd;
}

static void tls_openssl_err(char *buf, size_t len) {
  unsigned long e = ERR_get_error();
  if (e)
    ERR_error_string_n(e, buf, len);
  else
    snprintf(buf, len, "the connection was closed");
  ERR_clear_error();
}

/* CA certificates from PEM text or a file into a store; count in *n. */
static X509_STORE *tls_ca_store(tls_probe *p, int *n) {
  X509_STORE *st = X509_STORE_new();
  BIO *b = p->ca_pem ? BIO_new_mem_buf(p->ca_pem, -1) : BIO_new_file(p->ca_file, "r");
  X509 *c;
  *n = 0;
  if (st && b)
    while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
      if (X509_STORE_add_cert(st, c) == 1)
        (*n)++;
      X509_free(c);
    }
  ERR_clear_error();
  BIO_free(b);
  return st;
}

static void tls_check_chain(tls_probe *p, X509 *leaf, STACK_OF(X509) *untrusted) {
  int n = 0;
  X509_STORE *st;
  X509_STORE_CTX *ctx;
  if (!p->ca_pem && !p->ca_file) {
    snprintf(p->chain_err, sizeof p->chain_err,
             "no CA to verify against (set \"ca_file\", or the issuer's facts.ca_pem)");
    return;
  }
  st = tls_ca_store(p, &n);
  if (!n) {
    snprintf(p->chain_err, sizeof p->chain_err, "no CA certificate could be read from %s",
             p->ca_file ? p->ca_file : "facts.ca_pem");
    X509_STORE_free(st);
    return;
  }
  p->have_ca = 1;
  ctx = X509_STORE_CTX_new();
  if (ctx && X509_STORE_CTX_init(ctx, st, leaf, untrusted) == 1) {
    if (!p->any_purpose)
      X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(ctx) == 1)
      p->chain_ok = 1;
    else
      snprintf(p->chain_err, sizeof p->chain_err, "%s",
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
  } else {
    snprintf(p->chain_err, sizeof p->chain_err, "cannot set up the verification");
  }
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(st);
}

/* A write to a socket the server already closed raises SIGPIPE, which
 * would kill the whole orchestrator unless it ignores the signal. Block it
 * in this worker thread for the operation and swallow a pending one. */
typedef struct tls_sigpipe {
  sigset_t old;
  int blocked, pending_before;
} tls_sigpipe;

static void tls_sigpipe_block(tls_sigpipe *sp) {
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigemptyset(&pend);
  sigpending(&pend);
  sp->pending_before = sigismember(&pend, SIGPIPE) == 1;
  sp->blocked = pthread_sigmask(SIG_BLOCK, &set, &sp->old) == 0;
}

static void tls_sigpipe_restore(tls_sigpipe *sp) {
  sigset_t set, pend;
  struct timespec zero = {0, 0};
  if (!sp->blocked)
    return;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigemptyset(&pend);
  if (!sp->pending_before && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1)
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
      ;
  pthread_sigmask(SIG_SETMASK, &sp->old, NULL);
}

static void tls_handshake(tls_probe *p);

/* The worker: connect, handshake, keep the leaf, verify the chain. */
static void tls_work(void *arg) {
  tls_sigpipe sp;
  tls_sigpipe_block(&sp);
  tls_handshake(arg);
  tls_sigpipe_restore(&sp);
}

static void tls_handshake(tls_probe *p) {
  SSL_CTX *ctx = NULL;
  SSL *ssl = NULL;
  X509 *leaf = NULL;
  STACK_OF(X509) *chain = NULL;
  struct timespec deadline;
  int fd, der_len;
  char e[256];

  if ((fd = tls_connect(p)) < 0)
    return;
  if (!(ctx = SSL_CTX_new(TLS_client_method())) || !(ssl = SSL_new(ctx)) ||
      SSL_set_fd(ssl, fd) != 1) {
    tls_seterr(p, RD_ENOMEM, "%s: cannot set up TLS", p->where);
    goto out;
  }
  /* Verification is ours, after the handshake, against the runbook's CA. */
  SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
  if (*p->sni)
    SSL_set_tlsext_host_name(ssl, p->sni);
  tls_deadline(&deadline, p->timeout_ms);
  for (;;) {
    int r = SSL_connect(ssl), w;
    if (r == 1)
      break;
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
      w = tls_wait(fd, POLLIN, &deadline);
      break;
    case SSL_ERROR_WANT_WRITE:
      w = tls_wait(fd, POLLOUT, &deadline);
      break;
    default:
      tls_openssl_err(e, sizeof e);
      tls_seterr(p, RD_ENETWORK, "%s: TLS handshake failed: %s", p->where, e);
      goto out;
    }
    if (w <= 0) {
      tls_seterr(p, w == 0 ? RD_ETIMEDOUT : RD_ENETWORK, "%s: TLS handshake %s", p->where,
                 w == 0 ? "timed out" : "failed (poll)");
      goto out;
    }
  }
  if (!(leaf = SSL_get1_peer_certificate(ssl))) {
    tls_seterr(p, RD_EPROTO, "%s: the server sent no certificate", p->where);
    goto out;
  }
  chain = X509_chain_up_ref(SSL_get_peer_cert_chain(ssl));
  p->leaf = NULL;
  if ((der_len = i2d_X509(leaf, &p->leaf)) <= 0) {
    tls_seterr(p, RD_ECRYPTO, "%s: cannot encode the served certificate", p->where);
    goto out;
  }
  p->leaf_len = (size_t)der_len;
  tls_check_chain(p, leaf, chain);
  (void)SSL_shutdown(ssl);
out:
  ERR_clear_error();
  sk_X509_pop_free(chain, X509_free);
  X509_free(leaf);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

static const json_t *tls_expected(rd_step *s, const rd_host_api *h) {
  const json_t *f = h->facts(s), *e = json_object_get(f, "expect");
  if (!json_is_object(e))
    e = json_object_get(f, "new_cert");
  return json_is_object(e) && json_string_value(json_object_get(e, "sha256")) ? e : NULL;
}

static void tls_describe(const json_t *c, char *buf, size_t len) {
  char when[32] = "?";
  time_t na = (time_t)json_integer_value(json_object_get(c, "not_after"));
  struct tm tm;
  if (na && gmtime_r(&na, &tm))
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  snprintf(buf, len, "sha256 %s, serial %s, expires %s",
           json_string_value(json_object_get(c, "sha256")),
           json_string_value(json_object_get(c, "serial")) ? json_string_value(json_object_get(c, "serial"))
                                                          : "?",
           when);
}

static void tls_after(rd_step *s, int status, void *arg) {
  tls_probe *p = arg;
  const rd_host_api *h = p->h;
  json_t *served = NULL, *res;
  const json_t *want;
  char sdesc[400], wdesc[400], what[400];
  const char *ssha;

  if (status < 0) {
    h->donef(s, status, NULL, "%s: %s", p->where, h->strerror(status));
    goto out;
  }
  if (p->status < 0) {
    h->donef(s, p->status, NULL, "%s", p->err);
    goto out;
  }
  if (h->cert_facts(p->leaf, p->leaf_len, &served) < 0 || !served) {
    h->donef(s, RD_EPROTO, NULL, "%s: the served certificate cannot be parsed", p->where);
    goto out;
  }
  ssha = json_string_value(json_object_get(served, "sha256"));
  want = tls_expected(s, h);
  tls_describe(served, sdesc, sizeof sdesc);
  res = json_pack("{s:[], s:{s:s, s:O, s:O, s:O, s:O, s:b, s:s}}", "changes", "detail",
                  "endpoint", p->where, "sha256", json_object_get(served, "sha256"), "serial",
                  json_object_get(served, "serial"), "not_after",
                  json_object_get(served, "not_after"), "subject",
                  json_object_get(served, "subject"), "chain_ok", p->chain_ok, "chain",
                  p->chain_ok ? "verified" : p->chain_err);

  if (p->phase == RD_PHASE_PROBE) {
    const json_t *live = json_object_get(h->facts(s), "cert");
    const char *lsha = json_string_value(json_object_get(live, "sha256"));
    if (want && !strcmp(ssha, json_string_value(json_object_get(want, "sha256")))) {
      h->donef(s, 0, res, "%s: serves the expected certificate (%s)", p->where, sdesc);
    } else {
      if (want)
        tls_describe(want, wdesc, sizeof wdesc);
      snprintf(what, sizeof what, "certificate served on %s", p->where);
      json_array_append_new(json_object_get(res, "changes"),
                            json_pack("{s:s, s:s, s:s}", "what", what, "old", sdesc, "new",
                                      want ? wdesc : "(new certificate)"));
      h->donef(s, 0, res, "%s: serves %s%s", p->where, sdesc,
                 lsha && strcmp(lsha, ssha) ? " (not the certificate inventoried on disk)" : "");
    }
    goto out;
  }
  if (!want) {
    json_decref(res);
    h->donef(s, RD_ESTATE, NULL, "%s: no expected certificate (facts.expect) to compare with",
               p->where);
    goto out;
  }
  if (strcmp(ssha, json_string_value(json_object_get(want, "sha256")))) {
    h->donef(s, RD_EVERIFY, res, "%s serves sha256 %s, expected sha256 %s", p->where, ssha,
               json_string_value(json_object_get(want, "sha256")));
    goto out;
  }
  if (!p->chain_ok) {
    h->donef(s, RD_EVERIFY, res, "%s serves the expected certificate (sha256 %s) but its chain does not verify against the CA: %s",
               p->where, ssha, p->chain_err);
    goto out;
  }
  h->donef(s, 0, res, "%s serves the expected certificate (%s), chain verified", p->where,
             sdesc);
out:
  json_decref(served);
  tls_probe_free(p);
}

static int tls_start(rd_step *s, const rd_host_api *h, rd_phase phase) {
  const json_t *pa = h->params(s), *facts = h->facts(s);
  const json_t *hostf = json_object_get(facts, "host");
  const json_t *port = json_object_get(pa, "port"), *to = json_object_get(pa, "timeout");
  const char *addr = json_string_value(json_object_get(pa, "address"));
  const char *sni = json_string_value(json_object_get(pa, "servername"));
  const char *cafile = json_string_value(json_object_get(pa, "ca_file"));
  const char *capem = json_string_value(json_object_get(facts, "ca_pem"));
  const char *purpose;
  unsigned char tmp[16];
  tls_probe *p;
  int rc;

  if (!port)
    port = json_object_get(json_object_get(hostf, "vars"), "tls_port");
  if (!addr)
    addr = json_string_value(json_object_get(hostf, "address"));
  if (!addr) {
    h->donef(s, RD_ECONFIG, NULL, "%s: no \"address\" and no facts.host.address", TYPE);
    return 0;
  }
  if (!(p = calloc(1, sizeof *p)))
    return RD_ENOMEM;
  p->h = h;
  p->phase = phase;
  p->timeout_ms = (to ? (int)json_integer_value(to) : TLS_DEFAULT_TIMEOUT_S) * 1000;
  purpose = json_string_value(json_object_get(pa, "purpose"));
  p->any_purpose = purpose && !strcmp(purpose, "any");
  snprintf(p->address, sizeof p->address, "%s", addr);
  if (json_is_integer(port))
    snprintf(p->port, sizeof p->port, "%lld", (long long)json_integer_value(port));
  else if (json_is_string(port))
    snprintf(p->port, sizeof p->port, "%s", json_string_value(port));
  else
    snprintf(p->port, sizeof p->port, "443");
  /* SNI: the servername, else the address when it is a name (not an IP). */
  if (sni)
    snprintf(p->sni, sizeof p->sni, "%s", sni);
  else if (inet_pton(AF_INET, addr, tmp) != 1 && inet_pton(AF_INET6, addr, tmp) != 1)
    snprintf(p->sni, sizeof p->sni, "%s", addr);
  if (strchr(addr, ':'))
    snprintf(p->where, sizeof p->where, "[%s]:%s", addr, p->port);
  else
    snprintf(p->where, sizeof p->where, "%s:%s", addr, p->port);
  if (cafile)
    p->ca_file = strdup(cafile);
  else if (capem)
    p->ca_pem = strdup(capem);
  if ((cafile && !p->ca_file) || (!cafile && capem && !p->ca_pem)) {
    tls_probe_free(p);
    return RD_ENOMEM;
  }
  if ((rc = h->work(s, tls_work, tls_after, p)) < 0)
    tls_probe_free(p);
  return rc < 0 ? rc : 0;
}

static int tls_probe_phase(rd_step *s, const rd_host_api *h) {
  return tls_start(s, h, RD_PHASE_PROBE);
}
static int tls_verify_phase(rd_step *s, const rd_host_api *h) {
  return tls_start(s, h, RD_PHASE_VERIFY);
}

const rd_step_kind tls_kind_verify = {
    .type = TYPE,
    .summary = "handshake with the service and check the served certificate and its chain",
    .platform = RD_PLATFORM_ANY,
    .flags = RD_KIND_CHECK,
    .validate = tls_validate,
    .probe = tls_probe_phase,
    .apply = NULL,
    .verify = tls_verify_phase,
    .rollback = NULL,
};
