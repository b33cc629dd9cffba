/* ssh_shell.c — the session shell (rd_ssh_shell, see ssh.h): one exec
 * channel per host and command whose stdin stays open. A request writes its
 * data and reads until stdout ends with its own end line; the channel then
 * waits on its connection (conn->shell) for the next request. Anything that
 * ends it (the command exited or was killed, the session was lost, a
 * timeout or a cancel dropped the channel) makes the next request open a
 * new one; the request it happened under completes as an exec would. */
#include "transport/ssh_int.h"

#include <stdlib.h>
#include <string.h>

void rdssh_shell_start(conn *c, op *o) {
  xstate *x = &o->x;
  x->cmd = o->command;
  x->in = o->data;
  x->in_len = o->len;
  x->until = o->until;
  x->until_len = strlen(o->until);
  x->phase = X_OPEN;
  if (c->shell) { /* ownership moves to the request until it is answered */
    x->ch = c->shell;
    x->phase = c->shell_cmd && !strcmp(c->shell_cmd, o->command) ? X_REUSE : X_STALE;
    o->chan = c->shell_no;
    c->shell = NULL;
  }
  o->phase = x->phase;
}

/* X_REUSE: an idle shell says nothing, so pending output or its end means
 * it is gone (X_STALE); a lost session fails before anything was written
 * (X_OPEN, so a reused session is retried on a fresh one). X_STALE: free
 * it, then open a new one. ST_DONE when x->phase moved on. */
int rdssh_shell_step(conn *c, xstate *x, int *rcp) {
  char chunk[512];
  if (x->phase == X_REUSE) {
    for (int stream = 0; stream < 2 && x->phase == X_REUSE; stream++) {
      ssize_t r = libssh2_channel_read_ex(x->ch, stream, chunk, sizeof chunk);
      if (r == LIBSSH2_ERROR_EAGAIN) { /* its window adjust may wait to be sent */
        if (libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
          x->held = H_READ;
        continue;
      }
      if (r < 0 && r != LIBSSH2_ERROR_CHANNEL_CLOSED) {
        x->ch = NULL; /* goes with the session's arena */
        x->phase = X_OPEN;
        *rcp = (int)r;
        return ST_FAIL;
      }
      x->phase = X_STALE;
    }
    if (x->phase == X_REUSE && libssh2_channel_eof(x->ch))
      x->phase = X_STALE;
    if (x->phase == X_REUSE) {
      x->phase = X_IO;
      return ST_DONE;
    }
  }
  if (libssh2_channel_free(x->ch) == LIBSSH2_ERROR_EAGAIN)
    return ST_WAIT;
  x->ch = NULL;
  x->phase = X_OPEN;
  return ST_DONE;
}

/* The request's answer is complete: stdout ends with its end line (which
 * is taken off). */
int rdssh_shell_answered(op *o, xstate *x) {
  buf *b = &o->out;
  size_t u = x->until_len;
  if (b->len < u || memcmp(b->p + b->len - u, x->until, u) ||
      (b->len > u && b->p[b->len - u - 1] != '\n'))
    return 0;
  b->len -= u;
  b->p[b->len] = 0;
  return 1;
}

/* An answered request leaves its channel open on the connection. */
void rdssh_shell_keep(conn *c, op *o) {
  if (!o->x.ch)
    return; /* it ended: the next request opens another */
  c->shell = o->x.ch;
  o->x.ch = NULL;
  c->shell_no = o->chan;
  free(c->shell_cmd);
  c->shell_cmd = o->command;
  o->command = NULL;
  o->exit_status = 0;
}
