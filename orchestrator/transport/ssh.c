/* ssh.c — libssh2 sessions driven by the libuv loop (see ssh.h).
 *
 * Objects:
 *   rd_ssh   the manager: a hash of hosts, every live connection, the queue
 *            of connections waiting for a handshake slot, and one uv_idle
 *            handle that runs deferred work ("kicks") so that no user
 *            callback ever runs inside an API call.
 *   host     one target name: a FIFO of operations, the operation running
 *            now, and the connection it uses. Plain memory (no uv handles),
 *            freed from the idle callback once it has nothing left.
 *   conn     one TCP connection + libssh2 session with its uv_poll and two
 *            uv_timers (deadline, keepalive). Freed only in the close
 *            callbacks of those handles. A conn being closed or dropped is
 *            detached from its host first, so the host may open a new one.
 *   op       one exec / put / get / hostkey request and its progress.
 *
 * libssh2 is non-blocking throughout: every call is repeated until it stops
 * returning LIBSSH2_ERROR_EAGAIN, and between calls we wait on exactly the
 * directions libssh2_session_block_directions() names. Every libssh2
 * allocation goes through a per-connection arena, so a dropped session
 * (whose half-closed channels and SFTP handles libssh2 would otherwise leak)
 * is freed completely, and its size can be reported.
 */
#include "transport/ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "base/err.h"
#include "base/util.h"

#define DEF_CONNECT_MS 10000L
#define DEF_OP_MS 120000L
#define DEF_OUT_CAP ((size_t)16 << 20)
#define DEF_ERR_CAP ((size_t)64 << 10)
#define DEF_MAX_HANDSHAKES 16
#define DEF_KEEPALIVE_S 30L
#define CLOSE_MS 3000L   /* graceful disconnect before we drop */
#define IO_CHUNK 32768

static const char KEX_PREF[] =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group14-sha256,"
    "diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256";
static const char HOSTKEY_PREF[] =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "ssh-rsa";
/* Fallback for rename over an existing file (OpenSSH's SFTP v3 refuses it and
 * libssh2 1.10 lacks posix-rename@openssh.com): the paths travel on stdin,
 * never in the command text. */
static const char MV_CMD[] =
    "IFS= read -r rd_a && IFS= read -r rd_b && exec mv -f -- \"$rd_a\" \"$rd_b\"";

/* ------------------------------------------------------------------ types */

enum op_kind { OP_EXEC, OP_PUT, OP_GET, OP_HOSTKEY };

typedef struct tgt {
  char *name, *address, *user, *identity, *passphrase, *known_hosts;
  int port, agent;
} tgt;

typedef struct buf {
  char *p;
  size_t len, cap;
} buf;

enum step { ST_WAIT = 0, ST_DONE = 1, ST_FAIL = 2 };

/* Exec sub-machine state (also used by put's rename fallback). */
typedef struct xstate {
  int phase;
  LIBSSH2_CHANNEL *ch;
  const char *cmd;
  const unsigned char *in;
  size_t in_len, in_off;
  int eof_sent;
} xstate;

typedef struct op {
  struct op *next;
  enum op_kind kind;
  tgt t;
  rd_ssh_opts o;
  char *command; /* exec */
  char *path;    /* put/get */
  unsigned char *data;
  size_t len;
  int mode;
  rd_ssh_cb cb;
  rd_ssh_hostkey_cb hk_cb;
  void *arg;
  uint64_t t0; /* uv_hrtime at submit */
  int retried;
  /* progress */
  int phase;
  xstate x;
  buf out, err;
  int out_truncated;
  int exit_status;
  LIBSSH2_SFTP *sftp;
  LIBSSH2_SFTP_HANDLE *fh;
  char *tmp;
  unsigned char *mvin;
  size_t off;
  int fail_status; /* put/get: failure remembered while cleaning up */
  char fail_msg[512];
} op;

enum cstate {
  C_WAIT,       /* queued for a handshake slot */
  C_RESOLVING,  /* uv_getaddrinfo */
  C_CONNECTING, /* non-blocking connect */
  C_HANDSHAKE,
  C_AUTH,
  C_READY, /* authenticated, idle */
  C_BUSY,  /* running h->cur */
  C_CLOSING,
  C_DEAD
};

typedef struct ahdr {
  struct ahdr *prev, *next;
  size_t size;
} ahdr;
#define AHDR ((sizeof(ahdr) + 15) & ~(size_t)15)

struct host;

/* An identity parsed once per manager: libssh2's own key file path re-reads
 * and re-parses the file twice per login (and OpenSSL 3's decoder set-up is
 * the single largest CPU cost of a fan-out), so unencrypted OpenSSH-format
 * and PEM/PKCS#8 ed25519 and ECDSA keys are loaded here and signed for in a
 * libssh2 sign callback. Anything else falls back to libssh2's key file path. */
typedef struct idkey {
  struct idkey *next;
  char *path;
  unsigned char passdig[32]; /* SHA-256 of the passphrase: never kept in clear */
  EVP_PKEY *pk;              /* NULL: use libssh2's key file path */
  const EVP_MD *md;          /* ECDSA digest; NULL for ed25519 */
  unsigned char *pub;        /* SSH public key blob */
  size_t publen;
} idkey;

/* A known_hosts file parsed once and re-read when it changes (its size,
 * inode or mtime). The entries live in a network-less libssh2 session of
 * their own, so they do not depend on any connection's lifetime. */
typedef struct khfile {
  struct khfile *next;
  char *path;
  LIBSSH2_SESSION *holder;
  LIBSSH2_KNOWNHOSTS *kh;
  struct stat st;
  int present;
} khfile;

typedef struct conn {
  struct conn *prev, *next; /* m->conns */
  struct conn *wnext;       /* m->wait queue */
  rd_ssh *m;
  struct host *h; /* NULL once detached */
  op *hk;         /* standalone hostkey fetch */
  enum cstate st;
  tgt *t;         /* borrowed from the op that opened it (copied below) */
  tgt tcopy;
  long connect_ms;
  int fd;
  uv_poll_t poll;
  int poll_init;
  uv_timer_t timer; /* deadline */
  uv_timer_t ka;    /* keepalive */
  int refs;         /* open handles + pending getaddrinfo */
  uv_getaddrinfo_t gai;
  int gai_pending;
  struct sockaddr_storage sa;
  socklen_t salen;
  char where[300]; /* "127.10.0.4:22" */
  LIBSSH2_SESSION *s;
  ahdr arena; /* sentinel of the libssh2 allocation list */
  size_t mem, mem_peak;
  LIBSSH2_AGENT *agent;
  struct libssh2_agent_publickey *ident;
  void *key; /* idkey, for the sign callback */
  int auth_phase;
  char auth_err[256];
  int counted; /* holds a handshake slot */
  int reused;  /* completed an operation before */
  int close_phase;
  long deadline_ms; /* current deadline, for messages */
} conn;

typedef struct host {
  struct host *hnext; /* hash chain */
  struct host *knext; /* kick list */
  int kicked;
  rd_ssh *m;
  char *name;
  op *qhead, *qtail;
  op *cur;
  conn *c;
  int release;
} host;

struct rd_ssh {
  uv_loop_t *loop;
  rd_ssh_limits lim;
  host **bk;
  size_t nbk, nhosts;
  conn *conns;
  size_t nconns;
  conn *whead, *wtail;
  int inflight;
  host *khead, *ktail;
  uv_idle_t idle;
  int idle_on;
  int shutting, closing;
  void (*done)(void *);
  void *done_arg;
  size_t peak_session_mem;
  idkey *keys;
  khfile *khs;
};

/* ------------------------------------------------------------------ helpers */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static void tgt_free(tgt *t) {
  free(t->name);
  free(t->address);
  free(t->user);
  free(t->identity);
  if (t->passphrase) {
    explicit_bzero(t->passphrase, strlen(t->passphrase));
    free(t->passphrase);
  }
  free(t->known_hosts);
  memset(t, 0, sizeof *t);
}

static int tgt_copy(tgt *d, const rd_ssh_target *s) {
  memset(d, 0, sizeof *d);
  d->name = xstrdup(s->name);
  d->address = xstrdup(s->address);
  d->user = xstrdup(s->user);
  d->identity = xstrdup(s->identity);
  d->passphrase = xstrdup(s->passphrase);
  d->known_hosts = xstrdup(s->known_hosts);
  d->port = s->port > 0 ? s->port : 22;
  d->agent = s->agent;
  if (!d->name || !d->address || (s->user && !d->user) || (s->known_hosts && !d->known_hosts) ||
      (s->identity && !d->identity) || (s->passphrase && !d->passphrase)) {
    tgt_free(d);
    return RD_ENOMEM;
  }
  return 0;
}

static int tgt_clone(tgt *d, const tgt *s) {
  rd_ssh_target t = {s->name, s->address, s->port, s->user, s->identity,
                     s->passphrase, s->known_hosts, s->agent};
  return tgt_copy(d, &t);
}

static int buf_add(buf *b, const char *p, size_t n, size_t cap, int *trunc) {
  if (b->len + n > cap) {
    if (trunc)
      *trunc = 1;
    n = cap > b->len ? cap - b->len : 0;
  }
  if (!n)
    return 0;
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + n + 1)
      nc *= 2;
    if (nc > cap + 1)
      nc = cap + 1;
    char *q = realloc(b->p, nc);
    if (!q)
      return RD_ENOMEM;
    b->p = q;
    b->cap = nc;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

static double ms_since(uint64_t t0) { return (double)(uv_hrtime() - t0) / 1e6; }

static const char *kind_verb(const op *o) {
  switch (o->kind) {
  case OP_EXEC:
    return "ssh exec";
  case OP_PUT:
    return "sftp put";
  case OP_GET:
    return "sftp get";
  default:
    return "ssh hostkey";
  }
}

static const char *sess_err(LIBSSH2_SESSION *s) {
  char *m = NULL;
  if (!s)
    return "no session";
  libssh2_session_last_error(s, &m, NULL, 0);
  return m && *m ? m : "unknown libssh2 error";
}

static void op_free(op *o) {
  if (!o)
    return;
  tgt_free(&o->t);
  free(o->command);
  free(o->path);
  free(o->data);
  free(o->out.p);
  free(o->err.p);
  free(o->tmp);
  free(o->mvin);
  free(o);
}

static void opts_fill(rd_ssh_opts *d, const rd_ssh_opts *s) {
  memset(d, 0, sizeof *d);
  if (s)
    *d = *s;
  if (d->connect_ms <= 0)
    d->connect_ms = DEF_CONNECT_MS;
  if (d->op_ms <= 0)
    d->op_ms = DEF_OP_MS;
  if (!d->out_cap)
    d->out_cap = DEF_OUT_CAP;
  if (!d->err_cap)
    d->err_cap = DEF_ERR_CAP;
}

/* ------------------------------------------------------------------ libssh2 arena */

static LIBSSH2_ALLOC_FUNC(a_alloc) {
  conn *c = *abstract;
  ahdr *h = malloc(AHDR + count);
  if (!h)
    return NULL;
  h->size = count;
  h->next = c->arena.next;
  h->prev = &c->arena;
  c->arena.next->prev = h;
  c->arena.next = h;
  c->mem += count;
  if (c->mem > c->mem_peak)
    c->mem_peak = c->mem;
  return (char *)h + AHDR;
}

static void a_unlink(conn *c, ahdr *h) {
  h->prev->next = h->next;
  h->next->prev = h->prev;
  c->mem -= h->size;
}

static LIBSSH2_FREE_FUNC(a_free) {
  if (!ptr)
    return;
  ahdr *h = (ahdr *)((char *)ptr - AHDR);
  a_unlink(*abstract, h);
  free(h);
}

static LIBSSH2_REALLOC_FUNC(a_realloc) {
  conn *c = *abstract;
  if (!ptr)
    return a_alloc(count, abstract);
  ahdr *h = (ahdr *)((char *)ptr - AHDR);
  size_t old = h->size;
  ahdr *n = realloc(h, AHDR + count);
  if (!n)
    return NULL; /* the old block is untouched and still listed */
  n->prev->next = n;
  n->next->prev = n;
  n->size = count;
  c->mem = c->mem - old + count;
  if (c->mem > c->mem_peak)
    c->mem_peak = c->mem;
  return (char *)n + AHDR;
}

static void arena_release(conn *c) {
  while (c->arena.next != &c->arena) {
    ahdr *h = c->arena.next;
    a_unlink(c, h);
    free(h);
  }
}

/* ------------------------------------------------------------------ hosts */

static size_t hhash(const char *s) {
  size_t h = 1469598103934665603ull;
  while (*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

static host *host_find(rd_ssh *m, const char *name) {
  if (!m->nbk)
    return NULL;
  for (host *h = m->bk[hhash(name) & (m->nbk - 1)]; h; h = h->hnext)
    if (!strcmp(h->name, name))
      return h;
  return NULL;
}

static host *host_get(rd_ssh *m, const char *name) {
  host *h = host_find(m, name);
  if (h)
    return h;
  if (m->nhosts + 1 > m->nbk) {
    size_t nn = m->nbk ? m->nbk * 2 : 64;
    host **nb = calloc(nn, sizeof *nb);
    if (!nb)
      return NULL;
    for (size_t i = 0; i < m->nbk; i++)
      for (host *x = m->bk[i], *nx; x; x = nx) {
        nx = x->hnext;
        size_t j = hhash(x->name) & (nn - 1);
        x->hnext = nb[j];
        nb[j] = x;
      }
    free(m->bk);
    m->bk = nb;
    m->nbk = nn;
  }
  if (!(h = calloc(1, sizeof *h)) || !(h->name = strdup(name))) {
    free(h);
    return NULL;
  }
  h->m = m;
  size_t j = hhash(name) & (m->nbk - 1);
  h->hnext = m->bk[j];
  m->bk[j] = h;
  m->nhosts++;
  return h;
}

static void host_unlink_free(host *h) {
  rd_ssh *m = h->m;
  host **pp = &m->bk[hhash(h->name) & (m->nbk - 1)];
  while (*pp != h)
    pp = &(*pp)->hnext;
  *pp = h->hnext;
  m->nhosts--;
  free(h->name);
  free(h);
}

static void on_idle(uv_idle_t *i);

static void kick(host *h) {
  rd_ssh *m = h->m;
  if (!h->kicked) {
    h->kicked = 1;
    h->knext = NULL;
    if (m->ktail)
      m->ktail->knext = h;
    else
      m->khead = h;
    m->ktail = h;
  }
  if (!m->idle_on && !m->closing) {
    m->idle_on = 1;
    uv_idle_start(&m->idle, on_idle);
  }
}

static void m_wake(rd_ssh *m) {
  if (!m->idle_on && !m->closing) {
    m->idle_on = 1;
    uv_idle_start(&m->idle, on_idle);
  }
}

/* ------------------------------------------------------------------ completion */

static void op_callback(op *o, int status, const char *msg) {
  if (o->kind == OP_HOSTKEY) {
    o->hk_cb(status, NULL, NULL, msg, o->arg);
    return;
  }
  rd_exec_result r;
  memset(&r, 0, sizeof r);
  r.status = status;
  r.exit_status = o->exit_status;
  r.out = o->out.p ? o->out.p : "";
  r.out_len = o->out.len;
  r.out_truncated = o->out_truncated;
  r.err = o->err.p ? o->err.p : "";
  r.err_len = o->err.len;
  if (msg)
    rd_fmt(r.msg, sizeof r.msg, "%s", msg);
  r.ms = ms_since(o->t0);
  o->cb(&r, o->arg);
}

/* Fail and free an op that is not running on a conn. */
static void op_fail_free(op *o, int status, const char *msg) {
  op_callback(o, status, msg);
  op_free(o);
}

/* ------------------------------------------------------------------ conn lifecycle */

static void conn_step(conn *c);
static void conn_close(conn *c);

static void conn_unref(conn *c) {
  if (--c->refs > 0)
    return;
  rd_ssh *m = c->m;
  if (c->prev)
    c->prev->next = c->next;
  else
    m->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  m->nconns--;
  if (c->mem_peak > m->peak_session_mem)
    m->peak_session_mem = c->mem_peak;
  arena_release(c);
  tgt_free(&c->tcopy);
  free(c);
  if (m->shutting)
    m_wake(m);
}

static void on_handle_closed(uv_handle_t *hd) { conn_unref(hd->data); }

static conn *conn_new(rd_ssh *m, host *h, const tgt *t, long connect_ms) {
  conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  if (tgt_clone(&c->tcopy, t)) {
    free(c);
    return NULL;
  }
  c->t = &c->tcopy;
  c->m = m;
  c->h = h;
  c->fd = -1;
  c->st = C_WAIT;
  c->connect_ms = connect_ms;
  c->arena.next = c->arena.prev = &c->arena;
  uv_timer_init(m->loop, &c->timer);
  uv_timer_init(m->loop, &c->ka);
  c->timer.data = c->ka.data = c;
  c->refs = 2;
  c->next = m->conns;
  if (m->conns)
    m->conns->prev = c;
  m->conns = c;
  m->nconns++;
  if (strchr(t->address, ':'))
    rd_fmt(c->where, sizeof c->where, "[%s]:%d", t->address, t->port);
  else
    rd_fmt(c->where, sizeof c->where, "%s:%d", t->address, t->port);
  /* append to the handshake queue */
  if (m->wtail)
    m->wtail->wnext = c;
  else
    m->whead = c;
  m->wtail = c;
  m_wake(m);
  return c;
}

static void wait_remove(rd_ssh *m, conn *c) {
  conn **pp = &m->whead, *prev = NULL;
  while (*pp && *pp != c) {
    prev = *pp;
    pp = &(*pp)->wnext;
  }
  if (!*pp)
    return;
  *pp = c->wnext;
  if (m->wtail == c)
    m->wtail = prev;
  c->wnext = NULL;
}

static void slot_release(conn *c) {
  if (c->counted) {
    c->counted = 0;
    c->m->inflight--;
    m_wake(c->m);
  }
}

static void detach(conn *c) {
  if (c->h && c->h->c == c)
    c->h->c = NULL;
  c->h = NULL;
}

/* Close the fd and the uv handles; memory goes in the close callbacks. */
static void conn_teardown(conn *c) {
  if (c->st == C_DEAD)
    return;
  c->st = C_DEAD;
  if (c->agent) {
    libssh2_agent_disconnect(c->agent);
    libssh2_agent_free(c->agent);
    c->agent = NULL;
  }
  if (c->poll_init) {
    uv_poll_stop(&c->poll);
    c->refs++;
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
  }
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->ka, on_handle_closed);
  if (c->gai_pending)
    uv_cancel((uv_req_t *)&c->gai);
}

/* Drop at once: no more I/O is attempted on the session. */
static void conn_drop(conn *c) {
  if (c->st == C_DEAD)
    return;
  wait_remove(c->m, c);
  slot_release(c);
  detach(c);
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->ka);
  if (c->poll_init)
    uv_poll_stop(&c->poll);
  if (c->s) {
    if (c->fd >= 0)
      shutdown(c->fd, SHUT_RDWR); /* every send/recv now fails: no EAGAIN */
    for (int i = 0; i < 16 && libssh2_session_free(c->s) == LIBSSH2_ERROR_EAGAIN; i++)
      ;
    c->s = NULL; /* leftovers, if any, go with the arena */
  }
  conn_teardown(c);
}

static void on_poll(uv_poll_t *p, int status, int events);

static void poll_wait(conn *c) {
  int ev = 0;
  if (c->st == C_CONNECTING) {
    ev = UV_WRITABLE;
  } else {
    int d = libssh2_session_block_directions(c->s);
    if (d & LIBSSH2_SESSION_BLOCK_INBOUND)
      ev |= UV_READABLE;
    if (d & LIBSSH2_SESSION_BLOCK_OUTBOUND)
      ev |= UV_WRITABLE;
    if (!ev)
      ev = UV_READABLE;
  }
  uv_poll_start(&c->poll, ev, on_poll);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  conn *c = p->data;
  (void)status;
  (void)events;
  conn_step(c);
}

static void arm(conn *c, long ms, uv_timer_cb cb) {
  c->deadline_ms = ms;
  uv_timer_start(&c->timer, cb, (uint64_t)ms, 0);
}

/* ---- failures */

static int is_connect_state(enum cstate s) {
  return s == C_WAIT || s == C_RESOLVING || s == C_CONNECTING || s == C_HANDSHAKE ||
         s == C_AUTH;
}

/* The connection failed: drop it, fail what depended on it. Before login,
 * every queued op of the host fails with it (they would fail the same way);
 * during an op, only that op fails and the host reconnects for the rest. */
static void conn_fail(conn *c, int status, const char *msg) {
  host *h = c->h;
  op *hk = c->hk;
  int connecting = is_connect_state(c->st);
  op *cur = h ? h->cur : NULL;
  c->hk = NULL;
  conn_drop(c);
  if (hk) {
    op_fail_free(hk, status, msg);
    return;
  }
  if (!h)
    return;
  if (cur) {
    h->cur = NULL;
    op_fail_free(cur, status, msg);
  }
  if (connecting) {
    op *q = h->qhead;
    h->qhead = h->qtail = NULL;
    while (q) {
      op *n = q->next;
      op_fail_free(q, status, msg);
      q = n;
    }
  }
  kick(h);
}

static void fail_connect(conn *c, int status, const char *what) {
  char msg[512];
  rd_fmt(msg, sizeof msg, "host %s: ssh connect %s: %s", c->t->name, c->where, what);
  conn_fail(c, status, msg);
}

static void on_connect_deadline(uv_timer_t *t) {
  conn *c = t->data;
  char what[128];
  const char *during = c->st == C_RESOLVING    ? "resolving the address"
                       : c->st == C_CONNECTING ? "TCP connect"
                       : c->st == C_HANDSHAKE  ? "SSH handshake"
                                               : "login";
  rd_fmt(what, sizeof what, "timed out after %ld ms (during %s)", c->deadline_ms, during);
  fail_connect(c, RD_ETIMEDOUT, what);
}

static void on_op_deadline(uv_timer_t *t) {
  conn *c = t->data;
  host *h = c->h;
  char msg[512];
  op *o = h ? h->cur : NULL;
  rd_fmt(msg, sizeof msg, "host %s: %s: timed out after %ld ms", c->t->name,
           o ? kind_verb(o) : "ssh", c->deadline_ms);
  conn_fail(c, RD_ETIMEDOUT, msg);
}

static void on_close_deadline(uv_timer_t *t) { conn_drop(t->data); }

/* ------------------------------------------------------------------ connect */

static void conn_socket(conn *c);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  conn *c = req->data;
  c->gai_pending = 0;
  if (c->st != C_RESOLVING) { /* dropped meanwhile */
    uv_freeaddrinfo(res);
    conn_unref(c);
    return;
  }
  conn_unref(c); /* refs >= 2 still: timers */
  if (status || !res) {
    char what[256];
    rd_fmt(what, sizeof what, "cannot resolve %s: %s", c->t->address, uv_strerror(status));
    uv_freeaddrinfo(res);
    fail_connect(c, RD_ENETWORK, what);
    return;
  }
  memcpy(&c->sa, res->ai_addr, res->ai_addrlen);
  c->salen = res->ai_addrlen;
  uv_freeaddrinfo(res);
  conn_socket(c);
}

static void conn_start(conn *c) {
  rd_ssh *m = c->m;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&c->sa;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->sa;
  c->counted = 1;
  m->inflight++;
  arm(c, c->connect_ms, on_connect_deadline);
  memset(&c->sa, 0, sizeof c->sa);
  if (inet_pton(AF_INET, c->t->address, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)c->t->port);
    c->salen = sizeof *s4;
  } else if (inet_pton(AF_INET6, c->t->address, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)c->t->port);
    c->salen = sizeof *s6;
  } else {
    struct addrinfo hints;
    char port[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rd_fmt(port, sizeof port, "%d", c->t->port);
    c->st = C_RESOLVING;
    c->gai.data = c;
    if (uv_getaddrinfo(m->loop, &c->gai, on_resolved, c->t->address, port, &hints)) {
      fail_connect(c, RD_ENETWORK, "cannot start name resolution");
      return;
    }
    c->gai_pending = 1;
    c->refs++;
    return;
  }
  conn_socket(c);
}

static void conn_socket(conn *c) {
  int one = 1, r;
  c->fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    fail_connect(c, RD_ENETWORK, strerror(errno));
    return;
  }
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (uv_poll_init_socket(c->m->loop, &c->poll, c->fd)) {
    fail_connect(c, RD_ENETWORK, "cannot poll the socket");
    return;
  }
  c->poll.data = c;
  c->poll_init = 1;
  c->st = C_CONNECTING;
  do
    r = connect(c->fd, (struct sockaddr *)&c->sa, c->salen);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    int e = errno;
    fail_connect(c, e == ECONNREFUSED ? RD_ECONNREFUSED : e == ETIMEDOUT ? RD_ETIMEDOUT : RD_ENETWORK,
                 e == ECONNREFUSED ? "connection refused" : strerror(e));
    return;
  }
  uv_poll_start(&c->poll, UV_WRITABLE, on_poll);
  if (r == 0)
    conn_step(c);
}

/* ------------------------------------------------------------------ host keys */

static int fingerprint(const unsigned char *blob, size_t len, char *out, size_t outlen) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL))
    return RD_ECRYPTO;
  char *b = rd_base64_encode(md, mdlen, NULL);
  if (!b)
    return RD_ENOMEM;
  size_t n = strlen(b);
  while (n && b[n - 1] == '=')
    b[--n] = 0;
  rd_fmt(out, outlen, "SHA256:%s", b);
  free(b);
  return 0;
}

static const char *key_type_name(int t) {
  switch (t) {
  case LIBSSH2_HOSTKEY_TYPE_RSA:
    return "ssh-rsa";
  case LIBSSH2_HOSTKEY_TYPE_DSS:
    return "ssh-dss";
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
    return "ecdsa-sha2-nistp256";
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
    return "ecdsa-sha2-nistp384";
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
    return "ecdsa-sha2-nistp521";
  case LIBSSH2_HOSTKEY_TYPE_ED25519:
    return "ssh-ed25519";
  default:
    return NULL;
  }
}

static int key_type_mask(int t) {
  switch (t) {
  case LIBSSH2_HOSTKEY_TYPE_RSA:
    return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
  case LIBSSH2_HOSTKEY_TYPE_DSS:
    return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
    return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
    return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
    return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
  case LIBSSH2_HOSTKEY_TYPE_ED25519:
    return LIBSSH2_KNOWNHOST_KEY_ED25519;
  default:
    return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
  }
}

static void kh_drop(khfile *f) {
  if (f->kh)
    libssh2_knownhost_free(f->kh);
  f->kh = NULL;
}

static void khs_free(rd_ssh *m) {
  while (m->khs) {
    khfile *f = m->khs;
    m->khs = f->next;
    kh_drop(f);
    if (f->holder)
      libssh2_session_free(f->holder);
    free(f->path);
    free(f);
  }
}

/* The parsed known_hosts for path (re-read if the file changed); NULL with
 * msg set when it cannot be read. */
static LIBSSH2_KNOWNHOSTS *kh_get(rd_ssh *m, const char *path, char *msg, size_t msglen) {
  khfile *f;
  struct stat st;
  int present = stat(path, &st) == 0;
  if (!present && errno != ENOENT) {
    rd_fmt(msg, msglen, "cannot read known_hosts %s: %s", path, strerror(errno));
    return NULL;
  }
  for (f = m->khs; f; f = f->next)
    if (!strcmp(f->path, path))
      break;
  if (!f) {
    if (!(f = calloc(1, sizeof *f)) || !(f->path = strdup(path)) ||
        !(f->holder = libssh2_session_init())) {
      if (f)
        free(f->path);
      free(f);
      rd_fmt(msg, msglen, "out of memory");
      return NULL;
    }
    f->next = m->khs;
    m->khs = f;
  }
  if (f->kh && f->present == present &&
      (!present || (f->st.st_ino == st.st_ino && f->st.st_size == st.st_size &&
                    f->st.st_mtim.tv_sec == st.st_mtim.tv_sec &&
                    f->st.st_mtim.tv_nsec == st.st_mtim.tv_nsec)))
    return f->kh;
  kh_drop(f);
  if (!(f->kh = libssh2_knownhost_init(f->holder))) {
    rd_fmt(msg, msglen, "out of memory");
    return NULL;
  }
  if (present && libssh2_knownhost_readfile(f->kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    rd_fmt(msg, msglen, "cannot read known_hosts %s: %s", path, sess_err(f->holder));
    kh_drop(f);
    return NULL;
  }
  f->present = present;
  if (present)
    f->st = st;
  return f->kh;
}

/* 0 when the presented key is the one known_hosts has for the target. */
static int hostkey_check(conn *c, char *msg, size_t msglen) {
  size_t klen = 0;
  int ktype = 0, r, port = c->t->port == 22 ? -1 : c->t->port;
  const char *key = libssh2_session_hostkey(c->s, &klen, &ktype);
  char fp[128], efp[128] = "", why[400];
  struct libssh2_knownhost *found = NULL;
  LIBSSH2_KNOWNHOSTS *kh;
  if (!key || fingerprint((const unsigned char *)key, klen, fp, sizeof fp)) {
    rd_fmt(msg, msglen, "host %s: ssh connect %s: the server sent no usable host key", c->t->name,
           c->where);
    return RD_EHOSTKEY;
  }
  if (!(kh = kh_get(c->m, c->t->known_hosts, why, sizeof why))) {
    rd_fmt(msg, msglen, "host %s: %s", c->t->name, why);
    return RD_ECONFIG;
  }
  int mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | key_type_mask(ktype);
  r = libssh2_knownhost_checkp(kh, c->t->address, port, key, klen, mask, &found);
  if (r == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND && strcmp(c->t->name, c->t->address))
    r = libssh2_knownhost_checkp(kh, c->t->name, port, key, klen, mask, &found);
  if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH)
    return 0;
  if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && found && found->key) {
    unsigned char *blob = NULL;
    size_t blen = 0;
    if (rd_base64_decode(found->key, strlen(found->key), &blob, &blen) == 0) {
      fingerprint(blob, blen, efp, sizeof efp);
      free(blob);
    }
    rd_fmt(msg, msglen,
           "host %s: host key for %s has CHANGED: %s expects %s, the server presented %s; "
           "if the change is expected, run `renewd hosts trust %s` after checking the "
           "fingerprint",
           c->t->name, c->where, c->t->known_hosts, *efp ? efp : "(unreadable key)", fp,
           c->t->name);
  } else {
    rd_fmt(msg, msglen,
           "host %s: host key %s is not in %s; run `renewd hosts trust %s` after checking "
           "the fingerprint",
           c->t->name, fp, c->t->known_hosts, c->t->name);
  }
  return RD_EHOSTKEY;
}

/* The hostkey fetch op completes after the handshake. */
static void hostkey_report(conn *c) {
  op *o = c->hk;
  size_t klen = 0;
  int ktype = 0;
  const char *key = libssh2_session_hostkey(c->s, &klen, &ktype);
  char fp[128] = "", *line = NULL, msg[512] = "";
  int status = 0;
  c->hk = NULL;
  slot_release(c);
  if (!key || !key_type_name(ktype) || fingerprint((const unsigned char *)key, klen, fp, sizeof fp)) {
    status = RD_EHOSTKEY;
    rd_fmt(msg, sizeof msg, "host %s: ssh connect %s: the server sent no usable host key",
             c->t->name, c->where);
  } else {
    char *b64 = rd_base64_encode(key, klen, NULL);
    size_t n = (b64 ? strlen(b64) : 0) + strlen(c->t->address) + 64;
    if (b64 && (line = malloc(n))) {
      if (c->t->port == 22)
        rd_fmt(line, n, "%s %s %s", c->t->address, key_type_name(ktype), b64);
      else
        rd_fmt(line, n, "[%s]:%d %s %s", c->t->address, c->t->port, key_type_name(ktype), b64);
    } else {
      status = RD_ENOMEM;
    }
    free(b64);
  }
  conn_close(c); /* goes on in the background */
  o->hk_cb(status, status ? NULL : line, status ? NULL : fp, status ? msg : NULL, o->arg);
  free(line);
  op_free(o);
}

/* ------------------------------------------------------------------ identities */

typedef struct rd_sshbuf {
  const unsigned char *p;
  size_t n;
} rd_sshbuf;

static int sb_u32(rd_sshbuf *b, uint32_t *v) {
  if (b->n < 4)
    return -1;
  *v = (uint32_t)b->p[0] << 24 | (uint32_t)b->p[1] << 16 | (uint32_t)b->p[2] << 8 | b->p[3];
  b->p += 4;
  b->n -= 4;
  return 0;
}

static int sb_str(rd_sshbuf *b, const unsigned char **s, size_t *len) {
  uint32_t l;
  if (sb_u32(b, &l) || l > b->n)
    return -1;
  *s = b->p;
  *len = l;
  b->p += l;
  b->n -= l;
  return 0;
}

static int sb_is(const unsigned char *s, size_t n, const char *lit) {
  return n == strlen(lit) && !memcmp(s, lit, n);
}

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* string a || string b [|| string c] as one malloc'd blob */
static unsigned char *blob3(const void *a, size_t al, const void *b, size_t bl, const void *c,
                            size_t cl, size_t *outlen) {
  size_t n = 8 + al + bl + (c ? 4 + cl : 0);
  unsigned char *o = malloc(n), *q = o;
  if (!o)
    return NULL;
  put_u32(q, (uint32_t)al);
  memcpy(q + 4, a, al);
  q += 4 + al;
  put_u32(q, (uint32_t)bl);
  memcpy(q + 4, b, bl);
  q += 4 + bl;
  if (c) {
    put_u32(q, (uint32_t)cl);
    memcpy(q + 4, c, cl);
  }
  *outlen = n;
  return o;
}

static const char *ssh_curve(const char *group, const EVP_MD **md) {
  if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256")) {
    *md = EVP_sha256();
    return "nistp256";
  }
  if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384")) {
    *md = EVP_sha384();
    return "nistp384";
  }
  if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521")) {
    *md = EVP_sha512();
    return "nistp521";
  }
  return NULL;
}

/* Public blob (and digest) for an ed25519 or ECDSA EVP_PKEY; 0 on success. */
static int key_public(idkey *k) {
  if (EVP_PKEY_get_id(k->pk) == EVP_PKEY_ED25519) {
    unsigned char raw[32];
    size_t rl = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(k->pk, raw, &rl) != 1)
      return -1;
    k->pub = blob3("ssh-ed25519", 11, raw, rl, NULL, 0, &k->publen);
    return k->pub ? 0 : -1;
  }
  if (EVP_PKEY_get_base_id(k->pk) == EVP_PKEY_EC) {
    char group[64], type[64];
    unsigned char q[160];
    size_t gl = 0, ql = 0;
    const char *curve;
    if (EVP_PKEY_get_utf8_string_param(k->pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &gl) != 1 ||
        !(curve = ssh_curve(group, &k->md)) ||
        EVP_PKEY_get_octet_string_param(k->pk, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof q, &ql) != 1)
      return -1;
    snprintf(type, sizeof type, "ecdsa-sha2-%s", curve);
    k->pub = blob3(type, strlen(type), curve, strlen(curve), q, ql, &k->publen);
    return k->pub ? 0 : -1;
  }
  return -1;
}

/* Unencrypted "openssh-key-v1" ed25519 / ECDSA key -> EVP_PKEY. */
static EVP_PKEY *openssh_key(const char *pem) {
  const char *b = strstr(pem, "-----BEGIN OPENSSH PRIVATE KEY-----"), *e;
  char *b64 = NULL;
  unsigned char *raw = NULL;
  size_t n = 0, rl = 0;
  EVP_PKEY *pk = NULL;
  if (!b || !(e = strstr(b, "-----END OPENSSH PRIVATE KEY-----")))
    return NULL;
  b += strlen("-----BEGIN OPENSSH PRIVATE KEY-----");
  if (!(b64 = malloc((size_t)(e - b) + 1)))
    return NULL;
  for (const char *p = b; p < e; p++)
    if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
      b64[n++] = *p;
  if (rd_base64_decode(b64, n, &raw, &rl))
    goto out;
  rd_sshbuf sb = {raw, rl};
  const unsigned char *s, *t;
  size_t sl, tl;
  uint32_t nkeys, c1, c2;
  if (rl < 15 || memcmp(raw, "openssh-key-v1", 15))
    goto out;
  sb.p += 15;
  sb.n -= 15;
  if (sb_str(&sb, &s, &sl) || !sb_is(s, sl, "none") || /* cipher */
      sb_str(&sb, &s, &sl) || !sb_is(s, sl, "none") || /* kdf */
      sb_str(&sb, &s, &sl) || sb_u32(&sb, &nkeys) || nkeys != 1 ||
      sb_str(&sb, &s, &sl) || /* public blob */
      sb_str(&sb, &s, &sl))   /* private section */
    goto out;
  rd_sshbuf pv = {s, sl};
  if (sb_u32(&pv, &c1) || sb_u32(&pv, &c2) || c1 != c2 || sb_str(&pv, &t, &tl))
    goto out;
  if (sb_is(t, tl, "ssh-ed25519")) {
    const unsigned char *pubk, *sec;
    size_t pl, secl;
    if (sb_str(&pv, &pubk, &pl) || sb_str(&pv, &sec, &secl) || pl != 32 || secl != 64)
      goto out;
    pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, 32);
  } else if (tl > 11 && !memcmp(t, "ecdsa-sha2-", 11)) {
    const unsigned char *curve, *q, *d;
    size_t cl, ql, dl;
    const char *group = NULL;
    if (sb_str(&pv, &curve, &cl) || sb_str(&pv, &q, &ql) || sb_str(&pv, &d, &dl))
      goto out;
    if (sb_is(curve, cl, "nistp256"))
      group = "P-256";
    else if (sb_is(curve, cl, "nistp384"))
      group = "P-384";
    else if (sb_is(curve, cl, "nistp521"))
      group = "P-521";
    if (!group)
      goto out;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(d, (int)dl, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld && bn && ctx &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, ql) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1)
      EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bn);
    EVP_PKEY_CTX_free(ctx);
  }
out:
  if (raw) {
    OPENSSL_cleanse(raw, rl);
    free(raw);
  }
  if (b64) {
    OPENSSL_cleanse(b64, n);
    free(b64);
  }
  return pk;
}

static void key_load(idkey *k, const char *pass) {
  char *text = NULL;
  size_t len = 0;
  if (rd_read_file(k->path, 1 << 16, &text, &len))
    return; /* libssh2's path reports the error */
  if (strstr(text, "-----BEGIN OPENSSH PRIVATE KEY-----")) {
    k->pk = openssh_key(text);
  } else {
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    if (bio)
      k->pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)(pass ? pass : ""));
    BIO_free(bio);
  }
  OPENSSL_cleanse(text, len);
  free(text);
  if (k->pk && key_public(k)) {
    EVP_PKEY_free(k->pk);
    k->pk = NULL;
  }
}

static idkey *key_get(rd_ssh *m, const char *path, const char *pass) {
  unsigned char dig[32];
  unsigned int dl = 0;
  EVP_Digest(pass ? pass : "", pass ? strlen(pass) : 0, dig, &dl, EVP_sha256(), NULL);
  for (idkey *k = m->keys; k; k = k->next)
    if (!strcmp(k->path, path) && !memcmp(k->passdig, dig, sizeof dig))
      return k;
  idkey *k = calloc(1, sizeof *k);
  if (!k || !(k->path = strdup(path))) {
    free(k);
    return NULL;
  }
  memcpy(k->passdig, dig, sizeof dig);
  key_load(k, pass);
  k->next = m->keys;
  m->keys = k;
  return k;
}

static void keys_free(rd_ssh *m) {
  while (m->keys) {
    idkey *k = m->keys;
    m->keys = k->next;
    EVP_PKEY_free(k->pk);
    free(k->pub);
    free(k->path);
    free(k);
  }
}

static unsigned char *mpint(unsigned char *p, const BIGNUM *bn) {
  int n = BN_num_bytes(bn), lead = n > 0 && BN_is_bit_set(bn, n * 8 - 1);
  put_u32(p, (uint32_t)(n + lead));
  p += 4;
  if (lead)
    *p++ = 0;
  BN_bn2bin(bn, p);
  return p + n;
}

/* libssh2 wants the raw signature (ed25519: 64 bytes; ECDSA: mpint r, mpint
 * s), allocated with the session's allocator. */
static LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(key_sign) {
  idkey *k = *abstract;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char der[256], *out = NULL;
  size_t dl = sizeof der;
  int rc = -1;
  if (!ctx || EVP_DigestSignInit(ctx, NULL, k->md, NULL, k->pk) != 1 ||
      EVP_DigestSign(ctx, der, &dl, data, data_len) != 1)
    goto out;
  if (!k->md) { /* ed25519 */
    if (!(out = a_alloc(dl, libssh2_session_abstract(session))))
      goto out;
    memcpy(out, der, dl);
    *sig = out;
    *sig_len = dl;
    rc = 0;
    goto out;
  }
  const unsigned char *q = der;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dl);
  const BIGNUM *r = NULL, *s = NULL;
  if (!es)
    goto out;
  ECDSA_SIG_get0(es, &r, &s);
  if ((out = a_alloc(8 + 2 + (size_t)BN_num_bytes(r) + (size_t)BN_num_bytes(s),
                     libssh2_session_abstract(session)))) {
    unsigned char *e = mpint(mpint(out, r), s);
    *sig = out;
    *sig_len = (size_t)(e - out);
    rc = 0;
  }
  ECDSA_SIG_free(es);
out:
  EVP_MD_CTX_free(ctx);
  return rc;
}

/* ------------------------------------------------------------------ auth */

/* ST_DONE: logged in; ST_WAIT: EAGAIN; ST_FAIL: msg/status set. */
static int auth_step(conn *c, int *status, char *msg, size_t msglen) {
  int rc;
  const tgt *t = c->t;
  for (;;) {
    switch (c->auth_phase) {
    case 0: /* key file */
      if (!t->identity) {
        c->auth_phase = 1;
        continue;
      }
      if (!c->key)
        c->key = key_get(c->m, t->identity, t->passphrase);
      if (c->key && ((idkey *)c->key)->pk)
        rc = libssh2_userauth_publickey(c->s, t->user, ((idkey *)c->key)->pub,
                                        ((idkey *)c->key)->publen, key_sign, &c->key);
      else
        rc = libssh2_userauth_publickey_fromfile_ex(c->s, t->user, (unsigned)strlen(t->user),
                                                    NULL, t->identity,
                                                    t->passphrase ? t->passphrase : "");
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc == 0)
        return ST_DONE;
      if (rc == LIBSSH2_ERROR_FILE)
        rd_fmt(c->auth_err, sizeof c->auth_err, "cannot use the key %s (unreadable, wrong "
                 "passphrase or unsupported format; use ed25519 or ecdsa keys)", t->identity);
      else if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
               rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
        rd_fmt(c->auth_err, sizeof c->auth_err, "the server refused the key %s", t->identity);
      else if (rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
               rc == LIBSSH2_ERROR_SOCKET_DISCONNECT) {
        *status = RD_ENETWORK;
        rd_fmt(msg, msglen, "host %s: ssh login as %s at %s: %s", t->name, t->user, c->where,
                 sess_err(c->s));
        return ST_FAIL;
      } else
        rd_fmt(c->auth_err, sizeof c->auth_err, "key %s: %s", t->identity, sess_err(c->s));
      if (rc == LIBSSH2_ERROR_FILE && !t->agent) {
        *status = RD_ECONFIG;
        rd_fmt(msg, msglen, "host %s: ssh login as %s: %s", t->name, t->user, c->auth_err);
        return ST_FAIL;
      }
      c->auth_phase = 1;
      continue;
    case 1: /* agent: local socket, quick blocking calls */
      if (!t->agent)
        goto failed;
      if (!(c->agent = libssh2_agent_init(c->s)) || libssh2_agent_connect(c->agent) ||
          libssh2_agent_list_identities(c->agent)) {
        rd_fmt(c->auth_err + strlen(c->auth_err), sizeof c->auth_err - strlen(c->auth_err),
                 "%sssh-agent not usable", *c->auth_err ? "; " : "");
        goto failed;
      }
      c->ident = NULL;
      c->auth_phase = 2;
      /* fall through */
    case 2:
      if (libssh2_agent_get_identity(c->agent, &c->ident, c->ident) != 0) {
        rd_fmt(c->auth_err + strlen(c->auth_err), sizeof c->auth_err - strlen(c->auth_err),
                 "%sno ssh-agent key was accepted", *c->auth_err ? "; " : "");
        goto failed;
      }
      c->auth_phase = 3;
      /* fall through */
    case 3:
      rc = libssh2_agent_userauth(c->agent, t->user, c->ident);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc == 0) {
        libssh2_agent_disconnect(c->agent);
        libssh2_agent_free(c->agent);
        c->agent = NULL;
        return ST_DONE;
      }
      c->auth_phase = 2;
      continue;
    }
  }
failed:
  *status = RD_EAUTH;
  rd_fmt(msg, msglen, "host %s: ssh login as %s at %s failed: %s", t->name, t->user, c->where,
           *c->auth_err ? c->auth_err : "no identity file and no ssh-agent configured");
  return ST_FAIL;
}

/* ------------------------------------------------------------------ keepalive */

static void on_keepalive(uv_timer_t *tm) {
  conn *c = tm->data;
  int next = 0;
  if (c->st != C_READY)
    return;
  int rc = libssh2_keepalive_send(c->s, &next);
  /* An idle session whose keepalive cannot go out at once is not worth
   * keeping: drop it; the next operation opens a fresh one. */
  if (rc) {
    host *h = c->h;
    conn_drop(c);
    if (h)
      kick(h);
  }
}

static void become_ready(conn *c) {
  c->st = C_READY;
  uv_timer_stop(&c->timer);
  if (c->poll_init)
    uv_poll_stop(&c->poll);
  long ka = c->m->lim.keepalive_s;
  if (ka > 0) {
    libssh2_keepalive_config(c->s, 0, (unsigned)ka);
    uv_timer_start(&c->ka, on_keepalive, (uint64_t)ka * 1000u, (uint64_t)ka * 1000u);
  }
  if (c->h)
    kick(c->h);
}

/* ------------------------------------------------------------------ ops */

/* Errors after which the session cannot be trusted any more. */
static int fatal_rc(int rc) {
  return rc != LIBSSH2_ERROR_SFTP_PROTOCOL && rc != LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED &&
         rc != LIBSSH2_ERROR_CHANNEL_FAILURE;
}

static int sock_rc(int rc) {
  return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
         rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
         rc == LIBSSH2_ERROR_CHANNEL_UNKNOWN;
}

enum { X_OPEN, X_START, X_IO, X_CLOSE, X_WAITCLOSED, X_FREE, X_END };

/* Runs x->cmd with x->in on stdin; stdout into o->out (capped), stderr into
 * o->err (capped). Both are always drained in the same loop. Returns
 * ST_WAIT/ST_DONE, or ST_FAIL with *rcp the libssh2 error. */
static int exec_step(conn *c, op *o, xstate *x, int *rcp) {
  char chunk[IO_CHUNK];
  int rc;
  for (;;) {
    switch (x->phase) {
    case X_OPEN:
      x->ch = libssh2_channel_open_session(c->s);
      if (!x->ch) {
        rc = libssh2_session_last_errno(c->s);
        if (rc == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        *rcp = rc ? rc : LIBSSH2_ERROR_CHANNEL_FAILURE;
        return ST_FAIL;
      }
      x->phase = X_START;
      /* fall through */
    case X_START:
      rc = libssh2_channel_process_startup(x->ch, "exec", 4, x->cmd, (unsigned)strlen(x->cmd));
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc) {
        *rcp = rc;
        return ST_FAIL;
      }
      x->phase = X_IO;
      /* fall through */
    case X_IO:
      for (;;) {
        int progress = 0;
        if (x->in_off < x->in_len) {
          size_t n = x->in_len - x->in_off;
          ssize_t w = libssh2_channel_write(x->ch, (const char *)x->in + x->in_off,
                                            n > IO_CHUNK ? IO_CHUNK : n);
          if (w > 0) {
            x->in_off += (size_t)w;
            progress = 1;
          } else if (w != LIBSSH2_ERROR_EAGAIN && w != 0) {
            if (sock_rc((int)w)) {
              *rcp = (int)w;
              return ST_FAIL;
            }
            x->in_off = x->in_len; /* the command stopped reading: fine */
            x->eof_sent = 1;
          }
        } else if (!x->eof_sent) {
          rc = libssh2_channel_send_eof(x->ch);
          if (rc == 0) {
            x->eof_sent = 1;
            progress = 1;
          } else if (rc != LIBSSH2_ERROR_EAGAIN) {
            if (sock_rc(rc)) {
              *rcp = rc;
              return ST_FAIL;
            }
            x->eof_sent = 1;
          }
        }
        for (int stream = 0; stream < 2; stream++) {
          for (;;) {
            ssize_t r = libssh2_channel_read_ex(x->ch, stream, chunk, sizeof chunk);
            if (r > 0) {
              int e = stream == 0 ? buf_add(&o->out, chunk, (size_t)r, o->o.out_cap, &o->out_truncated)
                                  : buf_add(&o->err, chunk, (size_t)r, o->o.err_cap, NULL);
              if (e) {
                *rcp = LIBSSH2_ERROR_ALLOC;
                return ST_FAIL;
              }
              progress = 1;
              continue;
            }
            if (r < 0 && r != LIBSSH2_ERROR_EAGAIN) {
              *rcp = (int)r;
              return ST_FAIL;
            }
            break;
          }
        }
        if (libssh2_channel_eof(x->ch)) {
          x->phase = X_CLOSE;
          break;
        }
        if (!progress)
          return ST_WAIT;
      }
      /* fall through */
    case X_CLOSE:
      rc = libssh2_channel_close(x->ch);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      x->phase = X_WAITCLOSED;
      /* fall through */
    case X_WAITCLOSED:
      rc = libssh2_channel_wait_closed(x->ch);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      {
        char *sig = NULL;
        size_t siglen = 0;
        o->exit_status = libssh2_channel_get_exit_status(x->ch);
        if (libssh2_channel_get_exit_signal(x->ch, &sig, &siglen, NULL, NULL, NULL, NULL) == 0 &&
            sig) {
          o->exit_status = -1;
          libssh2_free(c->s, sig);
        }
      }
      x->phase = X_FREE;
      /* fall through */
    case X_FREE:
      rc = libssh2_channel_free(x->ch);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      x->ch = NULL;
      x->phase = X_END;
      return ST_DONE;
    default:
      return ST_DONE;
    }
  }
}

enum {
  P_INIT = 100, P_OPEN, P_WRITE, P_SETSTAT, P_FSYNC, P_CLOSE, P_RENAME, P_MV, P_UNLINK_DEST,
  P_RENAME2, P_CLEAN_CLOSE, P_CLEAN_UNLINK, P_SHUTDOWN, P_END,
  G_OPEN = 200, G_READ, G_CLOSE
};

static int sftp_status(op *o, unsigned long fx) {
  (void)o;
  if (fx == LIBSSH2_FX_NO_SUCH_FILE || fx == LIBSSH2_FX_NO_SUCH_PATH)
    return RD_ENOTFOUND;
  return RD_EREMOTE;
}

static const char *fx_text(unsigned long fx) {
  switch (fx) {
  case LIBSSH2_FX_NO_SUCH_FILE:
  case LIBSSH2_FX_NO_SUCH_PATH:
    return "no such file or directory";
  case LIBSSH2_FX_PERMISSION_DENIED:
    return "permission denied";
  case LIBSSH2_FX_FILE_ALREADY_EXISTS:
    return "file exists";
  case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
    return "no space left";
  case LIBSSH2_FX_QUOTA_EXCEEDED:
    return "quota exceeded";
  case LIBSSH2_FX_WRITE_PROTECT:
    return "read-only file system";
  case LIBSSH2_FX_OP_UNSUPPORTED:
    return "operation not supported";
  default:
    return "failure";
  }
}

/* Record an SFTP-level failure of what; later steps clean up, then report. */
static void sftp_failed(conn *c, op *o, const char *what, const char *path) {
  unsigned long fx = o->sftp ? libssh2_sftp_last_error(o->sftp) : 0;
  if (o->fail_status)
    return;
  o->fail_status = sftp_status(o, fx);
  rd_fmt(o->fail_msg, sizeof o->fail_msg, "host %s: %s %s: %s failed: %s", c->t->name,
           kind_verb(o), o->path, what, fx ? fx_text(fx) : sess_err(c->s));
  (void)path;
}

static int random_suffix(char *out, size_t n) {
  unsigned char r[8];
  if (RAND_bytes(r, sizeof r) != 1)
    return RD_ECRYPTO;
  rd_fmt(out, n, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
           r[7]);
  return 0;
}

/* The SFTP operations. ST_FAIL with *rcp: session-level failure. */
static int sftp_step(conn *c, op *o, int *rcp) {
  int rc;
  ssize_t n;
  for (;;) {
    switch (o->phase) {
    case P_INIT:
      o->sftp = libssh2_sftp_init(c->s);
      if (!o->sftp) {
        rc = libssh2_session_last_errno(c->s);
        if (rc == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        *rcp = rc ? rc : LIBSSH2_ERROR_CHANNEL_FAILURE;
        return ST_FAIL;
      }
      o->phase = o->kind == OP_PUT ? P_OPEN : G_OPEN;
      continue;
    case P_OPEN:
      if (!o->tmp) {
        const char *slash = strrchr(o->path, '/');
        size_t dl = slash ? (size_t)(slash - o->path) + 1 : 0;
        char sfx[20];
        size_t tl = strlen(o->path) + 40;
        if (random_suffix(sfx, sizeof sfx) || !(o->tmp = malloc(tl))) {
          *rcp = LIBSSH2_ERROR_ALLOC;
          return ST_FAIL;
        }
        rd_fmt(o->tmp, tl, "%.*s.%s.renewd-%s", (int)dl, o->path, o->path + dl, sfx);
      }
      o->fh = libssh2_sftp_open_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp),
                                   LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
                                   o->mode, LIBSSH2_SFTP_OPENFILE);
      if (!o->fh) {
        rc = libssh2_session_last_errno(c->s);
        if (rc == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
          *rcp = rc;
          return ST_FAIL;
        }
        sftp_failed(c, o, "create temporary file", o->tmp);
        o->phase = P_SHUTDOWN;
        continue;
      }
      o->off = 0;
      o->phase = P_WRITE;
      continue;
    case P_WRITE:
      while (o->off < o->len) {
        n = libssh2_sftp_write(o->fh, (const char *)o->data + o->off, o->len - o->off);
        if (n == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        if (n < 0) {
          if (n != LIBSSH2_ERROR_SFTP_PROTOCOL) {
            *rcp = (int)n;
            return ST_FAIL;
          }
          sftp_failed(c, o, "write", o->tmp);
          o->phase = P_CLEAN_CLOSE;
          break;
        }
        o->off += (size_t)n;
      }
      if (o->phase == P_WRITE)
        o->phase = P_SETSTAT;
      continue;
    case P_SETSTAT: {
      LIBSSH2_SFTP_ATTRIBUTES a;
      memset(&a, 0, sizeof a);
      a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
      a.permissions = (unsigned long)(o->mode & 07777);
      rc = libssh2_sftp_fsetstat(o->fh, &a);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
        *rcp = rc;
        return ST_FAIL;
      }
      if (rc) {
        sftp_failed(c, o, "set mode", o->tmp);
        o->phase = P_CLEAN_CLOSE;
        continue;
      }
      o->phase = P_FSYNC;
      continue;
    }
    case P_FSYNC:
      rc = libssh2_sftp_fsync(o->fh);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
        *rcp = rc;
        return ST_FAIL;
      }
      /* a server without fsync@openssh.com: the rename still orders it */
      o->phase = P_CLOSE;
      continue;
    case P_CLOSE:
      rc = libssh2_sftp_close_handle(o->fh);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      o->fh = NULL;
      if (rc && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
        *rcp = rc;
        return ST_FAIL;
      }
      if (rc) {
        sftp_failed(c, o, "close", o->tmp);
        o->phase = P_CLEAN_UNLINK;
        continue;
      }
      o->phase = P_RENAME;
      continue;
    case P_RENAME:
      rc = libssh2_sftp_rename_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp), o->path,
                                  (unsigned)strlen(o->path),
                                  LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
                                      LIBSSH2_SFTP_RENAME_NATIVE);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
        *rcp = rc;
        return ST_FAIL;
      }
      if (rc == 0) {
        o->phase = P_SHUTDOWN;
        continue;
      }
      {
        unsigned long fx = libssh2_sftp_last_error(o->sftp);
        if (fx != LIBSSH2_FX_FAILURE && fx != LIBSSH2_FX_FILE_ALREADY_EXISTS) {
          sftp_failed(c, o, "rename into place", o->path);
          o->phase = P_CLEAN_UNLINK;
          continue;
        }
      }
      /* SFTP v3 will not replace: rename(2) on the target via mv -f. */
      {
        size_t l1 = strlen(o->tmp), l2 = strlen(o->path);
        free(o->mvin);
        if (strchr(o->tmp, '\n') || strchr(o->path, '\n') || !(o->mvin = malloc(l1 + l2 + 2))) {
          o->phase = P_UNLINK_DEST;
          continue;
        }
        memcpy(o->mvin, o->tmp, l1);
        o->mvin[l1] = '\n';
        memcpy(o->mvin + l1 + 1, o->path, l2);
        o->mvin[l1 + l2 + 1] = '\n';
        memset(&o->x, 0, sizeof o->x);
        o->x.cmd = MV_CMD;
        o->x.in = o->mvin;
        o->x.in_len = l1 + l2 + 2;
        o->exit_status = -2;
      }
      o->phase = P_MV;
      /* fall through */
    case P_MV:
      rc = exec_step(c, o, &o->x, rcp);
      if (rc != ST_DONE)
        return rc;
      o->phase = o->exit_status == 0 ? P_SHUTDOWN : P_UNLINK_DEST;
      o->exit_status = 0;
      o->out.len = o->err.len = 0;
      continue;
    case P_UNLINK_DEST: /* no shell on the target (Windows): replace non-atomically */
      rc = libssh2_sftp_unlink_ex(o->sftp, o->path, (unsigned)strlen(o->path));
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
        *rcp = rc;
        return ST_FAIL;
      }
      o->phase = P_RENAME2;
      continue;
    case P_RENAME2:
      rc = libssh2_sftp_rename_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp), o->path,
                                  (unsigned)strlen(o->path), LIBSSH2_SFTP_RENAME_OVERWRITE);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
        *rcp = rc;
        return ST_FAIL;
      }
      if (rc) {
        sftp_failed(c, o, "rename into place", o->path);
        o->phase = P_CLEAN_UNLINK;
        continue;
      }
      o->phase = P_SHUTDOWN;
      continue;
    case P_CLEAN_CLOSE:
      if (o->fh) {
        rc = libssh2_sftp_close_handle(o->fh);
        if (rc == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        o->fh = NULL;
      }
      o->phase = P_CLEAN_UNLINK;
      /* fall through */
    case P_CLEAN_UNLINK:
      rc = libssh2_sftp_unlink_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp));
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      o->phase = P_SHUTDOWN;
      continue;
    case G_OPEN:
      o->fh = libssh2_sftp_open_ex(o->sftp, o->path, (unsigned)strlen(o->path), LIBSSH2_FXF_READ,
                                   0, LIBSSH2_SFTP_OPENFILE);
      if (!o->fh) {
        rc = libssh2_session_last_errno(c->s);
        if (rc == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
          *rcp = rc;
          return ST_FAIL;
        }
        sftp_failed(c, o, "open", o->path);
        o->phase = P_SHUTDOWN;
        continue;
      }
      o->phase = G_READ;
      /* fall through */
    case G_READ: {
      char chunk[IO_CHUNK];
      for (;;) {
        n = libssh2_sftp_read(o->fh, chunk, sizeof chunk);
        if (n == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        if (n < 0) {
          if (n != LIBSSH2_ERROR_SFTP_PROTOCOL) {
            *rcp = (int)n;
            return ST_FAIL;
          }
          sftp_failed(c, o, "read", o->path);
          break;
        }
        if (n == 0)
          break;
        if (buf_add(&o->out, chunk, (size_t)n, o->o.out_cap, &o->out_truncated)) {
          *rcp = LIBSSH2_ERROR_ALLOC;
          return ST_FAIL;
        }
        if (o->out_truncated) {
          o->fail_status = RD_EOVERFLOW;
          rd_fmt(o->fail_msg, sizeof o->fail_msg,
                   "host %s: sftp get %s: the file is larger than the %zu-byte cap", c->t->name,
                   o->path, o->o.out_cap);
          break;
        }
      }
      o->phase = G_CLOSE;
    }
      /* fall through */
    case G_CLOSE:
      rc = libssh2_sftp_close_handle(o->fh);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      o->fh = NULL;
      o->phase = P_SHUTDOWN;
      /* fall through */
    case P_SHUTDOWN:
      rc = libssh2_sftp_shutdown(o->sftp);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      o->sftp = NULL;
      o->phase = P_END;
      return ST_DONE;
    default:
      return ST_DONE;
    }
  }
}

static void op_finish(conn *c, int status, const char *msg) {
  host *h = c->h;
  op *o = h->cur;
  h->cur = NULL;
  c->reused = 1;
  if (o->kind != OP_EXEC)
    o->exit_status = status ? -1 : 0;
  become_ready(c);
  op_callback(o, status, msg);
  op_free(o);
}

static void op_session_failed(conn *c, op *o, int rc) {
  host *h = c->h;
  char msg[512];
  /* A reused session that died while idle: retry once on a fresh one. */
  if (c->reused && !o->retried && (o->phase == X_OPEN || o->phase == P_INIT) &&
      o->x.phase == X_OPEN) {
    o->retried = 1;
    o->phase = o->kind == OP_EXEC ? X_OPEN : P_INIT;
    h->cur = NULL;
    o->next = h->qhead;
    h->qhead = o;
    if (!h->qtail)
      h->qtail = o;
    conn_drop(c);
    kick(h);
    return;
  }
  int status = rc == LIBSSH2_ERROR_ALLOC ? RD_ENOMEM
               : rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED || rc == LIBSSH2_ERROR_CHANNEL_FAILURE
                   ? RD_EREMOTE
                   : RD_ENETWORK;
  rd_fmt(msg, sizeof msg, "host %s: %s: %s", c->t->name, kind_verb(o),
           rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED ? "the server refused the request"
                                                      : sess_err(c->s));
  if (fatal_rc(rc)) {
    conn_fail(c, status, msg);
    return;
  }
  op_finish(c, status, msg);
}

static void op_step(conn *c) {
  op *o = c->h->cur;
  int rc = 0, r;
  if (o->kind == OP_EXEC) {
    r = exec_step(c, o, &o->x, &rc);
    o->phase = o->x.phase;
  } else {
    r = sftp_step(c, o, &rc);
  }
  if (r == ST_WAIT) {
    poll_wait(c);
    return;
  }
  if (r == ST_FAIL) {
    op_session_failed(c, o, rc);
    return;
  }
  op_finish(c, o->fail_status, o->fail_status ? o->fail_msg : NULL);
}

static void op_start(conn *c, op *o) {
  host *h = c->h;
  h->cur = o;
  c->st = C_BUSY;
  uv_timer_stop(&c->ka);
  arm(c, o->o.op_ms, on_op_deadline);
  memset(&o->x, 0, sizeof o->x);
  if (o->kind == OP_EXEC) {
    o->x.cmd = o->command;
    o->x.in = o->data;
    o->x.in_len = o->len;
    o->phase = X_OPEN;
  } else {
    o->phase = P_INIT;
  }
  op_step(c);
}

/* ------------------------------------------------------------------ graceful close */

static void close_step(conn *c) {
  int rc;
  if (c->close_phase == 0) {
    rc = libssh2_session_disconnect(c->s, "renewd: done");
    if (rc == LIBSSH2_ERROR_EAGAIN) {
      poll_wait(c);
      return;
    }
    c->close_phase = 1;
  }
  rc = libssh2_session_free(c->s);
  if (rc == LIBSSH2_ERROR_EAGAIN) {
    poll_wait(c);
    return;
  }
  c->s = NULL;
  uv_timer_stop(&c->timer);
  conn_teardown(c);
}

static void conn_close(conn *c) {
  if (c->st == C_DEAD || c->st == C_CLOSING)
    return;
  detach(c);
  slot_release(c);
  uv_timer_stop(&c->ka);
  if (!c->s) {
    conn_drop(c);
    return;
  }
  c->st = C_CLOSING;
  c->close_phase = 0;
  arm(c, CLOSE_MS, on_close_deadline);
  close_step(c);
}

/* ------------------------------------------------------------------ the state machine */

static void conn_step(conn *c) {
  int rc, status = 0;
  char msg[512];
  switch (c->st) {
  case C_CONNECTING: {
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
      err = errno;
    if (err == EINPROGRESS || err == EALREADY)
      return;
    if (err) {
      fail_connect(c, err == ECONNREFUSED ? RD_ECONNREFUSED : err == ETIMEDOUT ? RD_ETIMEDOUT : RD_ENETWORK,
                   err == ECONNREFUSED ? "connection refused" : strerror(err));
      return;
    }
    c->s = libssh2_session_init_ex(a_alloc, a_free, a_realloc, c);
    if (!c->s) {
      fail_connect(c, RD_ENOMEM, "cannot create an SSH session");
      return;
    }
    libssh2_session_set_blocking(c->s, 0);
    libssh2_session_banner_set(c->s, "SSH-2.0-renewd");
    libssh2_session_method_pref(c->s, LIBSSH2_METHOD_KEX, KEX_PREF);
    libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, HOSTKEY_PREF);
    c->st = C_HANDSHAKE;
  }
    /* fall through */
  case C_HANDSHAKE:
    rc = libssh2_session_handshake(c->s, c->fd);
    if (rc == LIBSSH2_ERROR_EAGAIN) {
      poll_wait(c);
      return;
    }
    if (rc) {
      char what[300];
      rd_fmt(what, sizeof what, "SSH handshake failed: %s", sess_err(c->s));
      fail_connect(c, RD_ENETWORK, what);
      return;
    }
    if (c->hk) {
      hostkey_report(c);
      return;
    }
    if ((status = hostkey_check(c, msg, sizeof msg))) {
      conn_fail(c, status, msg);
      return;
    }
    c->st = C_AUTH;
    /* fall through */
  case C_AUTH:
    rc = auth_step(c, &status, msg, sizeof msg);
    if (rc == ST_WAIT) {
      poll_wait(c);
      return;
    }
    if (rc == ST_FAIL) {
      conn_fail(c, status, msg);
      return;
    }
    slot_release(c);
    become_ready(c);
    return;
  case C_BUSY:
    op_step(c);
    return;
  case C_CLOSING:
    close_step(c);
    return;
  default:
    return;
  }
}

/* ------------------------------------------------------------------ scheduling */

static void host_run(host *h) {
  rd_ssh *m = h->m;
  if (h->cur)
    return;
  if (!h->qhead) {
    if (h->c && h->c->st == C_READY && (h->release || m->shutting))
      conn_close(h->c);
    if (!h->c && !h->cur && !h->qhead)
      host_unlink_free(h);
    return;
  }
  if (!h->c) {
    if (!(h->c = conn_new(m, h, &h->qhead->t, h->qhead->o.connect_ms))) {
      op *q = h->qhead;
      h->qhead = h->qtail = NULL;
      while (q) {
        op *n = q->next;
        char msg[256];
        rd_fmt(msg, sizeof msg, "host %s: out of memory", h->name);
        op_fail_free(q, RD_ENOMEM, msg);
        q = n;
      }
      kick(h);
    }
    return;
  }
  if (h->c->st == C_READY) {
    op *o = h->qhead;
    h->qhead = o->next;
    if (!h->qhead)
      h->qtail = NULL;
    o->next = NULL;
    op_start(h->c, o);
  }
}

static void shutdown_pass(rd_ssh *m) {
  char msg[256];
  /* cancel queued ops and what is running; close idle sessions */
  for (size_t i = 0; i < m->nbk; i++)
    for (host *h = m->bk[i]; h; h = h->hnext) {
      op *q = h->qhead;
      h->qhead = h->qtail = NULL;
      while (q) {
        op *n = q->next;
        rd_fmt(msg, sizeof msg, "host %s: canceled (shutting down)", h->name);
        op_fail_free(q, RD_ECANCELED, msg);
        q = n;
      }
      if (h->c && h->c->st != C_READY) {
        rd_fmt(msg, sizeof msg, "host %s: canceled (shutting down)", h->name);
        conn_fail(h->c, RD_ECANCELED, msg);
      } else if (h->c) {
        conn_close(h->c);
      }
      kick(h);
    }
  for (conn *c = m->conns; c; c = c->next)
    if (c->hk) {
      rd_fmt(msg, sizeof msg, "host %s: canceled (shutting down)", c->t->name);
      conn_fail(c, RD_ECANCELED, msg);
    }
}

static void on_idle_closed(uv_handle_t *hd) {
  rd_ssh *m = hd->data;
  void (*done)(void *) = m->done;
  void *arg = m->done_arg;
  keys_free(m);
  khs_free(m);
  free(m->bk);
  free(m);
  if (done)
    done(arg);
}

static void on_idle(uv_idle_t *i) {
  rd_ssh *m = i->data;
  if (m->shutting == 1) {
    m->shutting = 2;
    shutdown_pass(m);
  }
  while (m->khead) {
    host *h = m->khead;
    m->khead = h->knext;
    if (!m->khead)
      m->ktail = NULL;
    h->kicked = 0;
    host_run(h);
  }
  int max = m->lim.max_handshakes;
  while (m->whead && (m->inflight < max || m->shutting)) {
    conn *c = m->whead;
    m->whead = c->wnext;
    if (!m->whead)
      m->wtail = NULL;
    c->wnext = NULL;
    conn_start(c);
  }
  if (!m->khead && (!m->whead || m->inflight >= max)) {
    uv_idle_stop(&m->idle);
    m->idle_on = 0;
  }
  if (m->shutting && !m->conns && !m->nhosts && !m->khead && !m->closing) {
    m->closing = 1;
    uv_idle_stop(&m->idle);
    m->idle_on = 0;
    uv_close((uv_handle_t *)&m->idle, on_idle_closed);
  }
}

/* ------------------------------------------------------------------ API */

int rd_ssh_new(uv_loop_t *loop, const rd_ssh_limits *lim, rd_ssh **out) {
  static int inited;
  rd_ssh *m;
  if (!loop || !out)
    return RD_EINVAL;
  if (!inited) {
    if (libssh2_init(0))
      return RD_ECRYPTO;
    inited = 1;
  }
  if (!(m = calloc(1, sizeof *m)))
    return RD_ENOMEM;
  m->loop = loop;
  m->lim.max_handshakes = lim && lim->max_handshakes > 0 ? lim->max_handshakes : DEF_MAX_HANDSHAKES;
  m->lim.keepalive_s = lim ? lim->keepalive_s : DEF_KEEPALIVE_S;
  if (m->lim.keepalive_s < 0)
    m->lim.keepalive_s = 0;
  uv_idle_init(loop, &m->idle);
  m->idle.data = m;
  *out = m;
  return 0;
}

static int check_target(const rd_ssh_target *t) {
  return t && t->name && *t->name && t->address && *t->address && t->user && *t->user &&
         t->known_hosts && *t->known_hosts && t->port >= 0 && t->port <= 65535;
}

static int submit(rd_ssh *m, op *o) {
  host *h = host_get(m, o->t.name);
  if (!h) {
    op_free(o);
    return RD_ENOMEM;
  }
  if (h->qtail)
    h->qtail->next = o;
  else
    h->qhead = o;
  h->qtail = o;
  h->release = 0;
  kick(h);
  return 0;
}

static op *op_new(rd_ssh *m, enum op_kind kind, const rd_ssh_target *t, const rd_ssh_opts *o) {
  op *p;
  if (!m || m->shutting || !t || !t->name || !*t->name || !t->address || !*t->address)
    return NULL;
  if (!(p = calloc(1, sizeof *p)))
    return NULL;
  if (tgt_copy(&p->t, t)) {
    free(p);
    return NULL;
  }
  p->kind = kind;
  p->exit_status = -1;
  opts_fill(&p->o, o);
  p->t0 = uv_hrtime();
  return p;
}

static int bad_args(rd_ssh *m, const rd_ssh_target *t) {
  if (m && m->shutting)
    return RD_ECANCELED;
  if (!m || !check_target(t))
    return RD_EINVAL;
  if (!t->identity && !t->agent)
    return RD_EINVAL;
  return 0;
}

int rd_ssh_exec(rd_ssh *m, const rd_ssh_target *t, const char *command, const void *in,
                size_t inlen, const rd_ssh_opts *o, rd_ssh_cb cb, void *arg) {
  int e = bad_args(m, t);
  op *p;
  if (e)
    return e;
  if (!command || !cb || (inlen && !in))
    return RD_EINVAL;
  if (!(p = op_new(m, OP_EXEC, t, o)))
    return RD_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  if (!(p->command = strdup(command)) || (inlen && !(p->data = malloc(inlen)))) {
    op_free(p);
    return RD_ENOMEM;
  }
  if (inlen)
    memcpy(p->data, in, inlen);
  p->len = inlen;
  return submit(m, p);
}

int rd_ssh_put(rd_ssh *m, const rd_ssh_target *t, const char *remote_path, const void *data,
               size_t len, int mode, const rd_ssh_opts *o, rd_ssh_cb cb, void *arg) {
  int e = bad_args(m, t);
  op *p;
  if (e)
    return e;
  if (!remote_path || !*remote_path || !cb || (len && !data) || mode < 0 || mode > 07777)
    return RD_EINVAL;
  if (!(p = op_new(m, OP_PUT, t, o)))
    return RD_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  p->mode = mode;
  if (!(p->path = strdup(remote_path)) || !(p->data = malloc(len ? len : 1))) {
    op_free(p);
    return RD_ENOMEM;
  }
  if (len)
    memcpy(p->data, data, len);
  p->len = len;
  return submit(m, p);
}

int rd_ssh_get(rd_ssh *m, const rd_ssh_target *t, const char *remote_path, const rd_ssh_opts *o,
               rd_ssh_cb cb, void *arg) {
  int e = bad_args(m, t);
  op *p;
  if (e)
    return e;
  if (!remote_path || !*remote_path || !cb)
    return RD_EINVAL;
  if (!(p = op_new(m, OP_GET, t, o)))
    return RD_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  if (!(p->path = strdup(remote_path))) {
    op_free(p);
    return RD_ENOMEM;
  }
  return submit(m, p);
}

int rd_ssh_fetch_hostkey(rd_ssh *m, const rd_ssh_target *t, const rd_ssh_opts *o,
                         rd_ssh_hostkey_cb cb, void *arg) {
  op *p;
  if (m && m->shutting)
    return RD_ECANCELED;
  if (!m || !cb || !t || !t->name || !*t->name || !t->address || !*t->address || t->port < 0 ||
      t->port > 65535)
    return RD_EINVAL;
  if (!(p = op_new(m, OP_HOSTKEY, t, o)))
    return RD_ENOMEM;
  p->hk_cb = cb;
  p->arg = arg;
  conn *c = conn_new(m, NULL, &p->t, p->o.connect_ms);
  if (!c) {
    op_free(p);
    return RD_ENOMEM;
  }
  c->hk = p;
  return 0;
}

void rd_ssh_release(rd_ssh *m, const char *name) {
  host *h;
  if (!m || !name || !(h = host_find(m, name)))
    return;
  h->release = 1;
  kick(h);
}

void rd_ssh_shutdown(rd_ssh *m, void (*done)(void *arg), void *arg) {
  if (!m || m->shutting)
    return;
  m->shutting = 1;
  m->done = done;
  m->done_arg = arg;
  m_wake(m);
}

void rd_ssh_get_stats(const rd_ssh *m, rd_ssh_stats *st) {
  memset(st, 0, sizeof *st);
  if (!m)
    return;
  st->peak_session_bytes = m->peak_session_mem;
  for (const conn *c = m->conns; c; c = c->next) {
    if (c->st == C_DEAD)
      continue;
    st->sessions++;
    st->ready += c->st == C_READY;
    st->heap_bytes += c->mem;
    if (c->mem_peak > st->peak_session_bytes)
      st->peak_session_bytes = c->mem_peak;
  }
}

/* Placeholder until the per-operation cancel lands with the ssh.c split. */
int rd_ssh_cancel(rd_ssh *m, uint64_t id) {
  (void)m;
  (void)id;
  return RD_ENOTSUP;
}
