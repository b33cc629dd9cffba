/* ssh_conn.c — one connection (see ssh_int.h): the libssh2 arena, socket,
 * non-blocking connect, handshake, login, uv_poll driving, deadlines,
 * keepalive and the graceful close. */
#include "transport/ssh_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/metrics.h"
#include "base/util.h"

static const char KEX_PREF[] =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group14-sha256,"
    "diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256";
static const char HOSTKEY_PREF[] =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "ssh-rsa";
/* ------------------------------------------------------------------ libssh2 arena */

LIBSSH2_ALLOC_FUNC(rdssh_a_alloc) {
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
    return rdssh_a_alloc(count, abstract);
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
/* ------------------------------------------------------------------ conn lifecycle */


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
  rdssh_tgt_free(&c->tcopy);
  free(c->shell_cmd);
  free(c);
  if (m->shutting)
    rdssh_m_wake(m);
}

static void on_handle_closed(uv_handle_t *hd) { conn_unref(hd->data); }

conn *rdssh_conn_new(rd_ssh *m, host *h, const tgt *t, long connect_ms) {
  conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  if (rdssh_tgt_clone(&c->tcopy, t)) {
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
  rdssh_m_wake(m);
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

void rdssh_slot_release(conn *c) {
  if (c->counted) {
    c->counted = 0;
    c->m->inflight--;
    rdssh_m_wake(c->m);
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
void rdssh_conn_drop(conn *c) {
  if (c->st == C_DEAD)
    return;
  wait_remove(c->m, c);
  rdssh_slot_release(c);
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

void rdssh_poll_wait(conn *c) {
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
  rdssh_conn_step(c);
}

void rdssh_arm(conn *c, long ms, uv_timer_cb cb) {
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
void rdssh_conn_fail(conn *c, int status, const char *msg) {
  host *h = c->h;
  op *hk = c->hk;
  int connecting = is_connect_state(c->st);
  op *cur = h ? h->cur : NULL;
  c->hk = NULL;
  rdssh_conn_drop(c);
  if (hk) {
    rdssh_op_fail_free(hk, status, msg);
    return;
  }
  if (!h)
    return;
  if (cur) {
    h->cur = NULL;
    rdssh_op_fail_free(cur, status, msg);
  }
  if (connecting) {
    op *q = h->qhead;
    h->qhead = h->qtail = NULL;
    while (q) {
      op *n = q->next;
      rdssh_op_fail_free(q, status, msg);
      q = n;
    }
  }
  rdssh_kick(h);
}

static void fail_connect(conn *c, int status, const char *what) {
  char msg[512];
  rd_fmt(msg, sizeof msg, "host %s: ssh connect %s: %s", c->t->name, c->where, what);
  rdssh_conn_fail(c, status, msg);
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

void rdssh_on_op_deadline(uv_timer_t *t) {
  conn *c = t->data;
  host *h = c->h;
  char msg[512];
  op *o = h ? h->cur : NULL;
  rd_fmt(msg, sizeof msg, "host %s: %s: timed out after %ld ms", c->t->name,
           o ? rdssh_kind_verb(o) : "ssh", c->deadline_ms);
  rdssh_conn_fail(c, RD_ETIMEDOUT, msg);
}

static void on_close_deadline(uv_timer_t *t) { rdssh_conn_drop(t->data); }

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

void rdssh_conn_start(conn *c) {
  rd_ssh *m = c->m;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&c->sa;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->sa;
  c->counted = 1;
  m->inflight++;
  rdssh_arm(c, c->connect_ms, on_connect_deadline);
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
  c->t_connect = uv_hrtime();
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
    rdssh_conn_step(c);
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
    rdssh_conn_drop(c);
    if (h)
      rdssh_kick(h);
  }
}

void rdssh_become_ready(conn *c) {
  c->st = C_READY;
  if (c->t_connect)
    rd_metrics_ssh_connect(rdssh_ms_since(c->t_connect) / 1000.0), c->t_connect = 0;
  uv_timer_stop(&c->timer);
  if (c->poll_init)
    uv_poll_stop(&c->poll);
  long ka = c->m->lim.keepalive_s;
  if (ka > 0) {
    libssh2_keepalive_config(c->s, 0, (unsigned)ka);
    uv_timer_start(&c->ka, on_keepalive, (uint64_t)ka * 1000u, (uint64_t)ka * 1000u);
  }
  if (c->h)
    rdssh_kick(c->h);
}
/* ------------------------------------------------------------------ graceful close */

static void close_step(conn *c) {
  int rc;
  if (c->close_phase == 0) {
    rc = libssh2_session_disconnect(c->s, "renewd: done");
    if (rc == LIBSSH2_ERROR_EAGAIN) {
      rdssh_poll_wait(c);
      return;
    }
    c->close_phase = 1;
  }
  rc = libssh2_session_free(c->s);
  if (rc == LIBSSH2_ERROR_EAGAIN) {
    rdssh_poll_wait(c);
    return;
  }
  c->s = NULL;
  uv_timer_stop(&c->timer);
  conn_teardown(c);
}

void rdssh_conn_close(conn *c) {
  if (c->st == C_DEAD || c->st == C_CLOSING)
    return;
  detach(c);
  rdssh_slot_release(c);
  uv_timer_stop(&c->ka);
  if (!c->s) {
    rdssh_conn_drop(c);
    return;
  }
  c->st = C_CLOSING;
  c->close_phase = 0;
  rdssh_arm(c, CLOSE_MS, on_close_deadline);
  close_step(c);
}

/* ------------------------------------------------------------------ the state machine */

void rdssh_conn_step(conn *c) {
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
    c->s = libssh2_session_init_ex(rdssh_a_alloc, a_free, a_realloc, c);
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
      rdssh_poll_wait(c);
      return;
    }
    if (rc) {
      char what[300];
      rd_fmt(what, sizeof what, "SSH handshake failed: %s", rdssh_sess_err(c->s));
      fail_connect(c, RD_ENETWORK, what);
      return;
    }
    if (c->hk) {
      rdssh_hostkey_report(c);
      return;
    }
    if ((status = rdssh_hostkey_check(c, msg, sizeof msg))) {
      rdssh_conn_fail(c, status, msg);
      return;
    }
    c->st = C_AUTH;
    /* fall through */
  case C_AUTH:
    rc = rdssh_auth_step(c, &status, msg, sizeof msg);
    if (rc == ST_WAIT) {
      rdssh_poll_wait(c);
      return;
    }
    if (rc == ST_FAIL) {
      rdssh_conn_fail(c, status, msg);
      return;
    }
    rdssh_slot_release(c);
    rdssh_become_ready(c);
    return;
  case C_BUSY:
    rdssh_op_step(c);
    return;
  case C_CLOSING:
    close_step(c);
    return;
  default:
    return;
  }
}
