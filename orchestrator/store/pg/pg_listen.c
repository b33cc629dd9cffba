/* pg_listen.c — the work connection of an instance (store/work.h): a
 * PostgreSQL connection of its own, non-blocking, on the event loop (a
 * uv_poll on its socket; PQconsumeInput, PQisBusy, PQgetResult and
 * PQnotifies never block). It LISTENs for renewd_work and runs the claims
 * and the heartbeat asynchronously, one statement at a time in the order
 * asked, each bounded by a timer. The journal's own connection is not
 * used: its calls are synchronous and would consume the notifications out
 * of sight of the poll. While it is open, the journal knows it (pg_db's
 * async): the engine's lease heartbeat goes through it too
 * (rd_journal_lease_renew_async). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "store/pg/pg_int.h"
#include "store/work.h"

/* How much longer than statement_timeout an answer is waited for. */
#define ASYNC_MARGIN_MS 1000

typedef struct areq {
  jn_pg_call c;              /* v[] point into own[] */
  char *own[6];
  rd_work_claimed_fn claimed; /* a claim, or */
  rd_work_renewed_fn renewed; /* a renewal, or */
  rd_lease_renewed_fn leases; /* a lease heartbeat of nlease leases */
  size_t nlease;
  int answered;              /* its callback ran (a cancel): its result is not heard */
  void *arg;
  struct areq *next;
} areq;

struct rd_work_listener {
  uv_loop_t *loop;
  rd_journal *j;
  PGconn *conn;
  uv_poll_t poll;
  uv_timer_t timer;          /* the answer's deadline */
  int polling;               /* poll initialised on conn's socket */
  int closing;               /* the poll's uv_close has not called back yet */
  int pending;               /* handle closes not called back yet */
  int dead;                  /* rd_work_listener_close ran: free at the last close */
  rd_work_wake_fn wake;
  void *arg;
  areq *head, **tail;        /* asked, in order; head was sent when sent */
  int sent;
  PGresult *last;            /* the sent statement's result so far */
};

static void maybe_free(rd_work_listener *l) {
  if (l->dead && !l->pending)
    free(l);
}

static void poll_closed(uv_handle_t *h) {
  rd_work_listener *l = h->data;
  l->closing = 0;
  l->pending--;
  maybe_free(l);
}

static void timer_closed(uv_handle_t *h) {
  rd_work_listener *l = h->data;
  l->pending--;
  maybe_free(l);
}

static void req_free(areq *q) {
  for (int i = 0; i < 6; i++)
    free(q->own[i]);
  free(q);
}

/* A lease heartbeat's answer: the leases renewed, by the index each row
 * returns (LEASE_RENEW_SQL). */
static void answer_leases(areq *q, int err, const PGresult *res) {
  unsigned char *renewed = NULL;
  if (!err && !(renewed = calloc(q->nlease, 1)))
    err = RD_ENOMEM;
  for (int i = 0; !err && i < PQntuples(res); i++) {
    long k = atol(PQgetvalue(res, i, 0));
    if (k >= 0 && (size_t)k < q->nlease)
      renewed[k] = 1;
  }
  q->leases(err, err ? NULL : renewed, q->nlease, q->arg);
  free(renewed);
}

/* Call q's callback once: err, or the rows of res. */
static void respond(areq *q, int err, const PGresult *res) {
  if (q->answered) {
    /* answered RD_ECANCELED already (jn_pg_async_cancel) */
  } else if (q->leases) {
    answer_leases(q, err, res);
  } else if (q->claimed) {
    rd_work_item *items = NULL;
    size_t n = 0;
    if (!err)
      err = jn_pg_claim_rows(res, &items, &n);
    q->claimed(err, items, n, q->arg);
  } else {
    q->renewed(err, err ? 0 : atol(PQcmdTuples((PGresult *)res)), q->arg);
  }
  q->answered = 1;
}

/* Answer q and free it. */
static void answer(areq *q, int err, const PGresult *res) {
  respond(q, err, res);
  req_free(q);
}

/* Close the connection; every request asked is answered err (after the
 * connection is gone: a callback that asks again is refused). */
static void drop(rd_work_listener *l, int err) {
  areq *q = l->head;
  l->head = NULL;
  l->tail = &l->head;
  l->sent = 0;
  PQclear(l->last);
  l->last = NULL;
  uv_timer_stop(&l->timer);
  if (l->polling) {
    l->polling = 0;
    l->closing = 1; /* the poll leaves epoll now, before its socket closes */
    l->pending++;
    uv_close((uv_handle_t *)&l->poll, poll_closed);
  }
  if (l->conn) {
    PQfinish(l->conn);
    l->conn = NULL;
  }
  while (q) {
    areq *next = q->next;
    answer(q, err, NULL);
    q = next;
  }
}

static void on_poll(uv_poll_t *p, int status, int events);

/* Flush what libpq holds; poll for writing until it is all sent. */
static int flush(rd_work_listener *l) {
  int r = PQflush(l->conn);
  if (r < 0)
    return RD_ENETWORK;
  uv_poll_start(&l->poll, UV_READABLE | (r ? UV_WRITABLE : 0), on_poll);
  return 0;
}

static void deadline(uv_timer_t *t) { drop(t->data, RD_ETIMEDOUT); }

static void send_next(rd_work_listener *l) {
  areq *q = l->head;
  if (!q || l->sent || !l->conn)
    return;
  if (!PQsendQueryParams(l->conn, q->c.sql, q->c.n, NULL, q->c.v, NULL, NULL, 0) || flush(l)) {
    drop(l, RD_ENETWORK);
    return;
  }
  l->sent = 1;
  uv_update_time(l->loop); /* the deadline from now, not from the loop's last turn */
  uv_timer_start(&l->timer, deadline, RD_JOURNAL_PG_STATEMENT_MS + ASYNC_MARGIN_MS, 0);
}

static int result_err(const PGresult *res) {
  ExecStatusType st = PQresultStatus(res);
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
    return 0;
  if (!state)
    return RD_ENETWORK;
  if (!strcmp(state, "57014"))
    return RD_ETIMEDOUT;
  if (!strcmp(state, "55P03") || !strcmp(state, "40001") || !strcmp(state, "40P01"))
    return RD_EBUSY;
  return !strncmp(state, "08", 2) ? RD_ENETWORK : RD_EIO;
}

/* The sent statement's results, as far as they came. */
static void read_results(rd_work_listener *l) {
  while (l->conn && l->sent && !PQisBusy(l->conn)) {
    PGresult *r = PQgetResult(l->conn);
    if (r) {
      if (l->last && PQresultStatus(l->last) == PGRES_FATAL_ERROR)
        PQclear(r); /* the first error stands */
      else {
        PQclear(l->last);
        l->last = r;
      }
      continue;
    }
    /* the statement is over */
    areq *q = l->head;
    PGresult *res = l->last;
    l->last = NULL;
    l->head = q->next;
    if (!l->head)
      l->tail = &l->head;
    l->sent = 0;
    uv_timer_stop(&l->timer);
    answer(q, res ? result_err(res) : RD_ENETWORK, res);
    PQclear(res);
    send_next(l);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  rd_work_listener *l = p->data;
  PGnotify *n;
  if (status < 0 || ((events & UV_WRITABLE) && flush(l)) ||
      ((events & UV_READABLE) && !PQconsumeInput(l->conn))) {
    drop(l, RD_ENETWORK); /* lost: rd_work_listener_check opens it again */
    return;
  }
  read_results(l);
  while (l->conn && (n = PQnotifies(l->conn))) {
    l->wake(n->extra ? n->extra : "", l->arg);
    PQfreemem(n);
  }
  if (l->conn && PQstatus(l->conn) != CONNECTION_OK)
    drop(l, RD_ENETWORK);
}

/* The server's messages outside a query (its "terminating connection"):
 * the loss is noticed by the poll, not printed. */
static void quiet(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

/* Connect, LISTEN, poll: 0 or the RD_E code. */
static int start(rd_work_listener *l) {
  PGresult *res;
  int err;
  if ((err = jn_pg_connect(l->j, "2", &l->conn)) < 0) {
    PQfinish(l->conn);
    l->conn = NULL;
    return err;
  }
  PQsetNoticeProcessor(l->conn, quiet, NULL);
  res = PQexec(l->conn, "LISTEN renewd_work");
  err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : RD_EIO;
  PQclear(res);
  if (!err && (PQsetnonblocking(l->conn, 1) != 0 ||
               uv_poll_init(l->loop, &l->poll, PQsocket(l->conn)) != 0))
    err = RD_EIO;
  if (err) {
    PQfinish(l->conn);
    l->conn = NULL;
    return jn_fail(l->j, err, "LISTEN renewd_work failed");
  }
  l->poll.data = l;
  l->polling = 1;
  uv_poll_start(&l->poll, UV_READABLE, on_poll);
  return 0;
}

int rd_work_listen(uv_loop_t *loop, rd_journal *j, rd_work_wake_fn wake, void *arg,
                   rd_work_listener **out) {
  rd_work_listener *l;
  int err;
  *out = NULL;
  if (!rd_work_supported(j) || !wake)
    return RD_ENOTSUP;
  if (!(l = calloc(1, sizeof *l)))
    return RD_ENOMEM;
  l->loop = loop;
  l->j = j;
  l->wake = wake;
  l->arg = arg;
  l->tail = &l->head;
  if ((err = start(l)) < 0) {
    free(l);
    return err;
  }
  uv_timer_init(loop, &l->timer);
  l->timer.data = l;
  ((pg_db *)j->db)->async = l;
  *out = l;
  return 0;
}

int rd_work_listener_check(rd_work_listener *l) {
  if (l->conn && l->polling)
    return 1;
  if (l->closing)
    return -1;
  drop(l, RD_ENETWORK);
  return start(l) == 0 ? 0 : -1;
}

void rd_work_listener_close(rd_work_listener *l) {
  if (!l)
    return;
  l->dead = 1;
  if (((pg_db *)l->j->db)->async == l)
    ((pg_db *)l->j->db)->async = NULL;
  drop(l, RD_ECANCELED);
  l->pending++;
  uv_close((uv_handle_t *)&l->timer, timer_closed);
}

/* Queue q (its values copied): 0, or RD_ENETWORK / RD_ENOMEM (q freed). */
static int ask(rd_work_listener *l, areq *q) {
  for (int i = 0; i < q->c.n; i++)
    if (!(q->own[i] = strdup(q->c.v[i]))) {
      req_free(q);
      return RD_ENOMEM;
    }
  for (int i = 0; i < q->c.n; i++)
    q->c.v[i] = q->own[i];
  if (l->dead || !l->conn || !l->polling) {
    req_free(q);
    return RD_ENETWORK;
  }
  *l->tail = q;
  l->tail = &q->next;
  send_next(l);
  return 0;
}

int rd_work_claim_async(rd_work_listener *l, const char *runbook, const char *owner, int ttl_s,
                        int max, time_t now, rd_work_claimed_fn cb, void *arg) {
  areq *q;
  if (!l || !cb)
    return RD_EINVAL;
  if (!(q = calloc(1, sizeof *q)))
    return RD_ENOMEM;
  if (jn_pg_claim_call(&q->c, runbook, owner, ttl_s, max, now) < 0) {
    free(q);
    return RD_EINVAL;
  }
  q->claimed = cb;
  q->arg = arg;
  return ask(l, q);
}

int rd_work_renew_async(rd_work_listener *l, const char *owner, int ttl_s, time_t now,
                        rd_work_renewed_fn cb, void *arg) {
  areq *q;
  if (!l || !cb)
    return RD_EINVAL;
  if (!(q = calloc(1, sizeof *q)))
    return RD_ENOMEM;
  if (jn_pg_renew_call(&q->c, owner, ttl_s, now) < 0) {
    free(q);
    return RD_EINVAL;
  }
  q->renewed = cb;
  q->arg = arg;
  return ask(l, q);
}

/* Several leases renewed in one statement: x holds (i, host, epoch) per
 * lease, as data; each row renewed returns its i. One conditional UPDATE,
 * atomic on its rows (a claim's INSERT ... ON CONFLICT waits for them). A
 * renewal only extends: a beat that timed out here may still run on the
 * server after a later one (its backend was stopped, then resumed), and
 * must not shorten what the later one set. */
static const char LEASE_RENEW_SQL[] =
    "UPDATE leases l SET expires = GREATEST(l.expires, $2)"
    " FROM json_to_recordset($3::json) AS x(i int, host text, epoch bigint)"
    " WHERE l.host = x.host AND l.epoch = x.epoch AND l.held = 1 AND l.owner = $1"
    " RETURNING x.i";

/* [{"i":0,"host":...,"epoch":...}, ...] (free()), or NULL. */
static char *leases_json(const char *const *hosts, const int64_t *epochs, size_t n) {
  json_t *a = json_array();
  char *t = NULL;
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_pack("{s:I, s:s, s:I}", "i", (json_int_t)i, "host",
                                           hosts[i], "epoch", (json_int_t)epochs[i])))
      goto out;
  t = json_dumps(a, JSON_COMPACT);
out:
  json_decref(a);
  return t;
}

int jn_pg_lease_renew_async(rd_journal *j, const char *owner, int ttl_s, time_t now,
                            const char *const *hosts, const int64_t *epochs, size_t n,
                            rd_lease_renewed_fn cb, void *arg) {
  rd_work_listener *l = ((pg_db *)j->db)->async;
  areq *q;
  char *set;
  int err;
  if (!l)
    return RD_ENOTSUP;
  if (!(q = calloc(1, sizeof *q)))
    return RD_ENOMEM;
  if (!(set = leases_json(hosts, epochs, n))) {
    free(q);
    return RD_ENOMEM;
  }
  snprintf(q->c.num[0], sizeof q->c.num[0], "%lld", (long long)(now + ttl_s));
  q->c.what = "lease renewal";
  q->c.sql = LEASE_RENEW_SQL;
  q->c.n = 3;
  q->c.v[0] = owner;
  q->c.v[1] = q->c.num[0];
  q->c.v[2] = set;
  q->leases = cb;
  q->nlease = n;
  q->arg = arg;
  err = ask(l, q); /* copies set */
  free(set);
  return err;
}

void jn_pg_async_cancel(rd_journal *j, const void *arg) {
  rd_work_listener *l = ((pg_db *)j->db)->async;
  areq **pp;
  if (!l)
    return;
  for (pp = &l->head; *pp;) {
    areq *q = *pp;
    if (q->arg != arg || q->answered) {
      pp = &q->next;
      continue;
    }
    if (q == l->head && l->sent) {
      /* on the wire: its result is read and dropped when it comes */
      respond(q, RD_ECANCELED, NULL);
      pp = &q->next;
      continue;
    }
    *pp = q->next;
    if (l->tail == &q->next)
      l->tail = pp;
    answer(q, RD_ECANCELED, NULL);
  }
}
