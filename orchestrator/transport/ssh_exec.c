/* ssh_exec.c — the exec operation, and starting, finishing and aborting
 * whatever operation runs on a connection (see ssh_int.h). */
#include "transport/ssh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

/* rc of a shell request whose answer passed out_cap (libssh2's are < 0) */
#define SHELL_OVERFLOW 1

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

/* After a call returned EAGAIN: who, when it left its packet half sent
 * (libssh2 waits to write), else H_NONE. */
static int held_by(conn *c, int who) {
  return libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND ? who : H_NONE;
}

/* stdin: the next piece of x->in, then its EOF (not a shell's: its stdin
 * stays open). Sets *progress; 0, or ST_FAIL with *rcp. */
static int io_in(conn *c, xstate *x, int *progress, int *rcp) {
  if (x->in_off < x->in_len) {
    size_t n = x->in_len - x->in_off;
    ssize_t w = libssh2_channel_write(x->ch, (const char *)x->in + x->in_off,
                                      n > IO_CHUNK ? IO_CHUNK : n);
    x->held = H_NONE;
    if (w > 0) {
      x->in_off += (size_t)w;
      *progress = 1;
    } else if (w == LIBSSH2_ERROR_EAGAIN) {
      x->held = held_by(c, H_WRITE);
    } else if (w == LIBSSH2_ERROR_CHANNEL_EOF_SENT || w == LIBSSH2_ERROR_CHANNEL_CLOSED) {
      x->in_off = x->in_len; /* the command stopped reading: fine */
      x->eof_sent = 1;
    } else if (w < 0) { /* a write lost would leave the command waiting for it */
      *rcp = (int)w;
      return ST_FAIL;
    }
  } else if (!x->eof_sent && !x->until) {
    int rc = libssh2_channel_send_eof(x->ch);
    x->held = H_NONE;
    if (rc == 0) {
      x->eof_sent = 1;
      *progress = 1;
    } else if (rc == LIBSSH2_ERROR_EAGAIN) {
      x->held = held_by(c, H_EOF);
    } else if (sock_rc(rc)) {
      *rcp = rc;
      return ST_FAIL;
    } else {
      x->eof_sent = 1;
    }
  }
  return 0;
}

/* stdout into o->out (capped), stderr into o->err (capped), each until it
 * has nothing more (a read may send a window adjust: one that waits to be
 * sent holds the reads, see H_READ). Sets *progress; 0, or ST_FAIL. */
static int io_out(conn *c, op *o, xstate *x, int *progress, int *rcp) {
  char chunk[IO_CHUNK];
  for (int stream = 0; stream < 2; stream++) {
    for (;;) {
      ssize_t r = libssh2_channel_read_ex(x->ch, stream, chunk, sizeof chunk);
      x->held = H_NONE;
      if (r > 0) {
        int e = stream == 0 ? rdssh_buf_add(&o->out, chunk, (size_t)r, o->o.out_cap, &o->out_truncated)
                            : rdssh_buf_add(&o->err, chunk, (size_t)r, o->o.err_cap, NULL);
        if (e) {
          *rcp = LIBSSH2_ERROR_ALLOC;
          return ST_FAIL;
        }
        *progress = 1;
        continue;
      }
      if (r == LIBSSH2_ERROR_EAGAIN && (x->held = held_by(c, H_READ)))
        return 0;
      if (r < 0 && r != LIBSSH2_ERROR_EAGAIN) {
        *rcp = (int)r;
        return ST_FAIL;
      }
      break;
    }
  }
  return 0;
}

/* Runs x->cmd with x->in on stdin; stdout into o->out (capped), stderr into
 * o->err (capped). Both are always drained in the same loop. Returns
 * ST_WAIT/ST_DONE, or ST_FAIL with *rcp the libssh2 error. A call that
 * left a packet half sent is the only one made until it is sent. Before
 * waiting on the socket, data that libssh2 already took off it (while the
 * other stream was read) is read: no poll would announce it. */
int rdssh_exec_step(conn *c, op *o, xstate *x, int *rcp) {
  int rc;
  for (;;) {
    switch (x->phase) {
    case X_REUSE:
    case X_STALE:
      rc = rdssh_shell_step(c, x, rcp);
      if (rc != ST_DONE)
        return rc;
      continue;
    case X_OPEN:
      x->ch = libssh2_channel_open_session(c->s);
      if (!x->ch) {
        rc = libssh2_session_last_errno(c->s);
        if (rc == LIBSSH2_ERROR_EAGAIN)
          return ST_WAIT;
        *rcp = rc ? rc : LIBSSH2_ERROR_CHANNEL_FAILURE;
        return ST_FAIL;
      }
      o->chan = ++c->m->next_chan;
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
      for (int looked = 0;;) {
        int progress = 0;
        if (x->held != H_READ && io_in(c, x, &progress, rcp))
          return ST_FAIL;
        if ((x->held == H_NONE || x->held == H_READ) && io_out(c, o, x, &progress, rcp))
          return ST_FAIL;
        if (x->held != H_NONE) {
          if (!progress)
            return ST_WAIT;
          continue;
        }
        if (x->until && rdssh_shell_answered(o, x)) {
          x->phase = X_END; /* the channel stays open for the next request */
          return ST_DONE;
        }
        if (x->until && o->out_truncated) {
          /* the end line lies past out_cap, where it can never be seen,
           * and the shell, its window full, would never close: the
           * request fails now, not at its timeout (rdssh_op_step) */
          *rcp = SHELL_OVERFLOW;
          return ST_FAIL;
        }
        if (libssh2_channel_eof(x->ch)) {
          x->phase = X_CLOSE;
          break;
        }
        if (progress) {
          looked = 0;
          continue;
        }
        if (looked || libssh2_poll_channel_read(x->ch, 1) <= 0)
          return ST_WAIT;
        looked = 1;
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

/* Operations that run a command on a channel of their own. */
int rdssh_exec_like(const op *o) { return o->kind == OP_EXEC || o->kind == OP_SHELL; }

static void op_finish(conn *c, int status, const char *msg) {
  host *h = c->h;
  op *o = h->cur;
  h->cur = NULL;
  c->reused = 1;
  if (!rdssh_exec_like(o))
    o->exit_status = status ? -1 : 0;
  rdssh_become_ready(c);
  rdssh_op_callback(o, status, msg);
  rdssh_op_free(o);
}

static void op_session_failed(conn *c, op *o, int rc) {
  host *h = c->h;
  char msg[512];
  /* A reused session that died while idle: retry once on a fresh one. */
  if (c->reused && !o->retried && (o->phase == X_OPEN || o->phase == P_INIT) &&
      o->x.phase == X_OPEN) {
    o->retried = 1;
    o->phase = rdssh_exec_like(o) ? X_OPEN : P_INIT;
    h->cur = NULL;
    o->next = h->qhead;
    h->qhead = o;
    if (!h->qtail)
      h->qtail = o;
    rdssh_conn_drop(c);
    rdssh_kick(h);
    return;
  }
  int status = rc == LIBSSH2_ERROR_ALLOC ? RD_ENOMEM
               : rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED || rc == LIBSSH2_ERROR_CHANNEL_FAILURE
                   ? RD_EREMOTE
                   : RD_ENETWORK;
  rd_fmt(msg, sizeof msg, "host %s: %s: %s", c->t->name, rdssh_kind_verb(o),
           rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED ? "the server refused the request"
                                                      : rdssh_sess_err(c->s));
  if (fatal_rc(rc)) {
    rdssh_conn_fail(c, status, msg);
    return;
  }
  op_finish(c, status, msg);
}

void rdssh_op_step(conn *c) {
  op *o = c->h->cur;
  int rc = 0, r;
  if (rdssh_exec_like(o)) {
    r = rdssh_exec_step(c, o, &o->x, &rc);
    o->phase = o->x.phase;
  } else {
    r = rdssh_sftp_step(c, o, &rc);
  }
  if (r == ST_WAIT) {
    rdssh_poll_wait(c);
    return;
  }
  if (r == ST_FAIL && rc == SHELL_OVERFLOW) {
    char msg[512];
    rd_fmt(msg, sizeof msg,
           "host %s: session shell: the answer is longer than %zu bytes (out_cap): the "
           "connection is dropped",
           c->t->name, o->o.out_cap);
    rdssh_conn_fail(c, RD_EOVERFLOW, msg);
    return;
  }
  if (r == ST_FAIL) {
    op_session_failed(c, o, rc);
    return;
  }
  if (o->kind == OP_SHELL)
    rdssh_shell_keep(c, o);
  op_finish(c, o->fail_status, o->fail_status ? o->fail_msg : NULL);
}

void rdssh_op_start(conn *c, op *o) {
  host *h = c->h;
  h->cur = o;
  c->st = C_BUSY;
  uv_timer_stop(&c->ka);
  rdssh_arm(c, o->o.op_ms, rdssh_on_op_deadline);
  memset(&o->x, 0, sizeof o->x);
  if (o->kind == OP_SHELL) {
    rdssh_shell_start(c, o);
  } else if (o->kind == OP_EXEC) {
    o->x.cmd = o->command;
    o->x.in = o->data;
    o->x.in_len = o->len;
    o->phase = X_OPEN;
  } else {
    o->phase = P_INIT;
  }
  rdssh_op_step(c);
}

/* ------------------------------------------------------------------ abort */

/* Take the running operation off c, at once; the caller owns it (and runs
 * its callback later). An exec whose channel is open has it closed and
 * freed if that completes at once (the server had closed its side: the
 * session goes on); otherwise the session is dropped: OpenSSH answers a
 * channel close only once the command has exited, so a hung command would
 * hold the channel, and a channel being opened or an SFTP session cannot be
 * abandoned half way on a session that goes on. Either way the host's next
 * operation starts at once, on this session or a fresh one. */
op *rdssh_op_abort(conn *c) {
  host *h = c->h;
  op *o = h->cur;
  h->cur = NULL;
  if (rdssh_exec_like(o) && o->x.ch && o->x.phase > X_OPEN && o->x.phase < X_END &&
      libssh2_channel_free(o->x.ch) == 0) {
    o->x.ch = NULL;
    c->reused = 1;
    rdssh_become_ready(c); /* kicks the host */
    return o;
  }
  o->x.ch = NULL; /* goes with the session's arena */
  rdssh_conn_drop(c);
  rdssh_kick(h);
  return o;
}
