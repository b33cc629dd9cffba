/* ssh.c — libssh2 sessions driven by the libuv loop (see ssh.h): the
 * manager. Hosts and their FIFO of operations, scheduling from one uv_idle
 * handle, submission, cancel, shutdown and stats. The parts and the objects
 * they share are described in ssh_int.h. */
#include "transport/ssh_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

/* ------------------------------------------------------------------ helpers */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

void rdssh_tgt_free(tgt *t) {
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
    rdssh_tgt_free(d);
    return RD_ENOMEM;
  }
  return 0;
}

int rdssh_tgt_clone(tgt *d, const tgt *s) {
  rd_ssh_target t = {s->name, s->address, s->port, s->user, s->identity,
                     s->passphrase, s->known_hosts, s->agent};
  return tgt_copy(d, &t);
}

int rdssh_buf_add(buf *b, const char *p, size_t n, size_t cap, int *trunc) {
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

double rdssh_ms_since(uint64_t t0) { return (double)(uv_hrtime() - t0) / 1e6; }

const char *rdssh_kind_verb(const op *o) {
  switch (o->kind) {
  case OP_EXEC:
  case OP_SHELL:
    return "ssh exec";
  case OP_PUT:
    return "sftp put";
  case OP_GET:
    return "sftp get";
  default:
    return "ssh hostkey";
  }
}

const char *rdssh_sess_err(LIBSSH2_SESSION *s) {
  char *m = NULL;
  if (!s)
    return "no session";
  libssh2_session_last_error(s, &m, NULL, 0);
  return m && *m ? m : "unknown libssh2 error";
}

void rdssh_op_free(op *o) {
  if (!o)
    return;
  rdssh_tgt_free(&o->t);
  free(o->command);
  free(o->until);
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

void rdssh_kick(host *h) {
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

void rdssh_m_wake(rd_ssh *m) {
  if (!m->idle_on && !m->closing) {
    m->idle_on = 1;
    uv_idle_start(&m->idle, on_idle);
  }
}

/* ------------------------------------------------------------------ completion */

void rdssh_op_callback(op *o, int status, const char *msg) {
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
  r.ms = rdssh_ms_since(o->t0);
  r.channel = o->chan;
  o->cb(&r, o->arg);
}

/* Fail and free an op that is not running on a conn. */
void rdssh_op_fail_free(op *o, int status, const char *msg) {
  rdssh_op_callback(o, status, msg);
  rdssh_op_free(o);
}
/* ------------------------------------------------------------------ scheduling */

static void host_run(host *h) {
  rd_ssh *m = h->m;
  if (h->cur)
    return;
  if (!h->qhead) {
    if (h->c && h->c->st == C_READY && (h->release || m->shutting))
      rdssh_conn_close(h->c);
    if (!h->c && !h->cur && !h->qhead)
      host_unlink_free(h);
    return;
  }
  if (!h->c) {
    if (!(h->c = rdssh_conn_new(m, h, &h->qhead->t, h->qhead->o.connect_ms))) {
      op *q = h->qhead;
      h->qhead = h->qtail = NULL;
      while (q) {
        op *n = q->next;
        char msg[256];
        rd_fmt(msg, sizeof msg, "host %s: out of memory", h->name);
        rdssh_op_fail_free(q, RD_ENOMEM, msg);
        q = n;
      }
      rdssh_kick(h);
    }
    return;
  }
  if (h->c->st == C_READY) {
    op *o = h->qhead;
    h->qhead = o->next;
    if (!h->qhead)
      h->qtail = NULL;
    o->next = NULL;
    rdssh_op_start(h->c, o);
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
        rdssh_op_fail_free(q, RD_ECANCELED, msg);
        q = n;
      }
      if (h->c && h->c->st != C_READY) {
        rd_fmt(msg, sizeof msg, "host %s: canceled (shutting down)", h->name);
        rdssh_conn_fail(h->c, RD_ECANCELED, msg);
      } else if (h->c) {
        rdssh_conn_close(h->c);
      }
      rdssh_kick(h);
    }
  for (conn *c = m->conns; c; c = c->next)
    if (c->hk) {
      rd_fmt(msg, sizeof msg, "host %s: canceled (shutting down)", c->t->name);
      rdssh_conn_fail(c, RD_ECANCELED, msg);
    }
}

static void on_idle_closed(uv_handle_t *hd) {
  rd_ssh *m = hd->data;
  void (*done)(void *) = m->done;
  void *arg = m->done_arg;
  rdssh_keys_free(m);
  rdssh_khs_free(m);
  free(m->bk);
  free(m);
  if (done)
    done(arg);
}

/* The callbacks of canceled operations, from the loop. */
static void deliver_canceled(rd_ssh *m) {
  char msg[300];
  while (m->chead) {
    op *o = m->chead;
    m->chead = o->next;
    if (!m->chead)
      m->ctail = NULL;
    o->next = NULL;
    rd_fmt(msg, sizeof msg, "host %s: %s: canceled", o->t.name, rdssh_kind_verb(o));
    rdssh_op_fail_free(o, RD_ECANCELED, msg);
  }
}

static void on_idle(uv_idle_t *i) {
  rd_ssh *m = i->data;
  if (m->shutting == 1) {
    m->shutting = 2;
    shutdown_pass(m);
  }
  deliver_canceled(m);
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
    rdssh_conn_start(c);
  }
  if (!m->khead && !m->chead && (!m->whead || m->inflight >= max)) {
    uv_idle_stop(&m->idle);
    m->idle_on = 0;
  }
  if (m->shutting && !m->conns && !m->nhosts && !m->khead && !m->chead && !m->closing) {
    m->closing = 1;
    uv_idle_stop(&m->idle);
    m->idle_on = 0;
    uv_close((uv_handle_t *)&m->idle, on_idle_closed);
  }
}

/* ------------------------------------------------------------------ API */

int rd_ssh_new(uv_loop_t *loop, const rd_ssh_limits *lim, rd_ssh **out) {
  rd_ssh *m;
  if (!loop || !out)
    return RD_EINVAL;
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
    rdssh_op_free(o);
    return RD_ENOMEM;
  }
  if (h->qtail)
    h->qtail->next = o;
  else
    h->qhead = o;
  h->qtail = o;
  h->release = 0;
  if (o->o.id_out)
    *o->o.id_out = o->id;
  rdssh_kick(h);
  return 0;
}

op *rdssh_op_new(rd_ssh *m, enum op_kind kind, const rd_ssh_target *t, const rd_ssh_opts *o) {
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
  p->id = ++m->next_id;
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

static int exec_submit(rd_ssh *m, enum op_kind kind, const rd_ssh_target *t, const char *command,
                       const char *until, const void *in, size_t inlen, const rd_ssh_opts *o,
                       rd_ssh_cb cb, void *arg) {
  int e = bad_args(m, t);
  op *p;
  if (e)
    return e;
  if (!command || !cb || (inlen && !in) || (kind == OP_SHELL && (!until || !*until)))
    return RD_EINVAL;
  if (!(p = rdssh_op_new(m, kind, t, o)))
    return RD_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  if (!(p->command = strdup(command)) || (until && !(p->until = strdup(until))) ||
      (inlen && !(p->data = malloc(inlen)))) {
    rdssh_op_free(p);
    return RD_ENOMEM;
  }
  if (inlen)
    memcpy(p->data, in, inlen);
  p->len = inlen;
  return submit(m, p);
}

int rd_ssh_exec(rd_ssh *m, const rd_ssh_target *t, const char *command, const void *in,
                size_t inlen, const rd_ssh_opts *o, rd_ssh_cb cb, void *arg) {
  return exec_submit(m, OP_EXEC, t, command, NULL, in, inlen, o, cb, arg);
}

int rd_ssh_shell(rd_ssh *m, const rd_ssh_target *t, const char *command, const char *until,
                 const void *in, size_t inlen, const rd_ssh_opts *o, rd_ssh_cb cb, void *arg) {
  return exec_submit(m, OP_SHELL, t, command, until, in, inlen, o, cb, arg);
}

int rd_ssh_put(rd_ssh *m, const rd_ssh_target *t, const char *remote_path, const void *data,
               size_t len, int mode, const rd_ssh_opts *o, rd_ssh_cb cb, void *arg) {
  int e = bad_args(m, t);
  op *p;
  if (e)
    return e;
  if (!remote_path || !*remote_path || !cb || (len && !data) || mode < 0 || mode > 07777)
    return RD_EINVAL;
  if (!(p = rdssh_op_new(m, OP_PUT, t, o)))
    return RD_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  p->mode = mode;
  if (!(p->path = strdup(remote_path)) || !(p->data = malloc(len ? len : 1))) {
    rdssh_op_free(p);
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
  if (!(p = rdssh_op_new(m, OP_GET, t, o)))
    return RD_ENOMEM;
  p->cb = cb;
  p->arg = arg;
  if (!(p->path = strdup(remote_path))) {
    rdssh_op_free(p);
    return RD_ENOMEM;
  }
  return submit(m, p);
}

void rd_ssh_release(rd_ssh *m, const char *name) {
  host *h;
  if (!m || !name || !(h = host_find(m, name)))
    return;
  h->release = 1;
  rdssh_kick(h);
}

void rd_ssh_shutdown(rd_ssh *m, void (*done)(void *arg), void *arg) {
  if (!m || m->shutting)
    return;
  m->shutting = 1;
  m->done = done;
  m->done_arg = arg;
  rdssh_m_wake(m);
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

/* ------------------------------------------------------------------ cancel */

/* Unlink the op with this id from a FIFO; NULL when it is not there. */
static op *fifo_take(op **head, op **tail, uint64_t id) {
  op *prev = NULL;
  for (op *o = *head; o; prev = o, o = o->next) {
    if (o->id != id)
      continue;
    if (prev)
      prev->next = o->next;
    else
      *head = o->next;
    if (*tail == o)
      *tail = prev;
    o->next = NULL;
    return o;
  }
  return NULL;
}

static int fifo_has(const op *o, uint64_t id) {
  for (; o; o = o->next)
    if (o->id == id)
      return 1;
  return 0;
}

/* Find the op: queued (taken out of its host's FIFO), running on a host's
 * connection (aborted there: see rdssh_op_abort), or a host key fetch (its
 * connection dropped). */
static op *cancel_take(rd_ssh *m, uint64_t id) {
  for (size_t i = 0; i < m->nbk; i++)
    for (host *h = m->bk[i]; h; h = h->hnext) {
      op *o = fifo_take(&h->qhead, &h->qtail, id);
      if (o) {
        rdssh_kick(h); /* it may have nothing left to do */
        return o;
      }
      if (h->cur && h->cur->id == id && h->c)
        return rdssh_op_abort(h->c);
    }
  for (conn *c = m->conns; c; c = c->next)
    if (c->hk && c->hk->id == id) {
      op *o = c->hk;
      c->hk = NULL;
      rdssh_conn_drop(c);
      return o;
    }
  return NULL;
}

int rd_ssh_cancel(rd_ssh *m, uint64_t id) {
  op *o;
  if (!m || !id)
    return RD_EINVAL;
  if (fifo_has(m->chead, id))
    return 0; /* already canceled, its callback is due */
  if (!(o = cancel_take(m, id)))
    return RD_ENOTFOUND;
  if (m->ctail)
    m->ctail->next = o;
  else
    m->chead = o;
  m->ctail = o;
  rdssh_m_wake(m);
  return 0;
}
