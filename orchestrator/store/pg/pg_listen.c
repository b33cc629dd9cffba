/* pg_listen.c — LISTEN renewd_work on a connection of its own, on the
 * event loop (store/work.h): a uv_poll on the connection's socket, then
 * PQconsumeInput and PQnotifies, which never block. The journal's own
 * connection is not used: its calls are synchronous and would consume the
 * notifications out of sight of the poll. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/pg/pg_int.h"
#include "store/work.h"

struct rd_work_listener {
  uv_loop_t *loop;
  rd_journal *j;
  PGconn *conn;
  uv_poll_t poll;
  int polling;           /* poll initialised on conn's socket */
  int closing;           /* its uv_close has not called back yet */
  int dead;              /* rd_work_listener_close ran: free at the close */
  rd_work_wake_fn wake;
  void *arg;
};

static void poll_closed(uv_handle_t *h) {
  rd_work_listener *l = h->data;
  l->closing = 0;
  if (l->dead)
    free(l);
}

static void drop(rd_work_listener *l) {
  if (l->polling) {
    l->polling = 0;
    l->closing = 1; /* the poll leaves epoll now, before its socket closes */
    uv_close((uv_handle_t *)&l->poll, poll_closed);
  }
  if (l->conn) {
    PQfinish(l->conn);
    l->conn = NULL;
  }
}

static void readable(uv_poll_t *p, int status, int events) {
  rd_work_listener *l = p->data;
  PGnotify *n;
  (void)events;
  if (status < 0 || !PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK) {
    drop(l); /* lost: rd_work_listener_check opens it again */
    return;
  }
  while (l->conn && (n = PQnotifies(l->conn))) {
    l->wake(n->extra ? n->extra : "", l->arg);
    PQfreemem(n);
  }
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
  uv_poll_start(&l->poll, UV_READABLE, readable);
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
  if ((err = start(l)) < 0) {
    free(l);
    return err;
  }
  *out = l;
  return 0;
}

int rd_work_listener_check(rd_work_listener *l) {
  if (l->conn && l->polling)
    return 1;
  if (l->closing)
    return -1;
  drop(l);
  return start(l) == 0 ? 0 : -1;
}

void rd_work_listener_close(rd_work_listener *l) {
  if (!l)
    return;
  l->dead = 1;
  drop(l);
  if (!l->closing)
    free(l);
}
