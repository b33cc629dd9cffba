/* batch.c — the scripts several steps of one host submit in one phase,
 * sent as one remote execution (see batch.h and transport/remote.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "host/batch.h"

/* What the stderr of one script may hold, as for a script alone. */
#define BATCH_ERR_CAP ((size_t)64 << 10)

typedef struct rd_batch {
  rd_job *j;
  rd_remote_call **m;
  size_t n;
  uint64_t op_id;
  rd_remote_cmd cmd;
  char stopped_by[128]; /* the step whose timeout stopped this execution */
} rd_batch;

/* The session shell is on unless RENEWD_REMOTE_SESSION=0. */
int rd_batch_session_on(void) {
  const char *v = getenv("RENEWD_REMOTE_SESSION");
  return !v || strcmp(v, "0");
}

/* Windows batches are on unless RENEWD_WINDOWS_BATCH=0 (then every
 * Windows script is a powershell.exe of its own, as before). */
int rd_batch_windows_on(void) {
  const char *v = getenv("RENEWD_WINDOWS_BATCH");
  return !v || strcmp(v, "0");
}

static int is_windows(const rd_remote_call *c) {
  return c->script && c->script->platform == RD_PLATFORM_WINDOWS;
}

/* A call a batch can carry: a POSIX script that does not have to be
 * uploaded first, or a Windows script (its text travels on stdin). */
static int batchable(const rd_remote_call *c) {
  if (is_windows(c))
    return rd_batch_windows_on();
  return c->script && c->script->platform == RD_PLATFORM_POSIX && !c->cmd.upload_path;
}

/* A call the session shell can carry: one a batch can (a Windows
 * session runs its requests as Windows batches, in one powershell.exe). */
static int session_ok(const rd_remote_call *c) {
  return rd_batch_session_on() && batchable(c);
}

void rd_host_cork(rd_job *j) {
  if (!j->cork && !(j->cork = calloc(1, sizeof *j->cork)))
    return; /* out of memory: every call goes out alone */
  if (!j->cork->depth++)
    j->cork->tail = &j->cork->head;
}

int rd_batch_hold(rd_job *j, rd_remote_call *c) {
  if (!j->cork || !j->cork->depth || !batchable(c))
    return 0;
  c->held_next = NULL;
  *j->cork->tail = c;
  j->cork->tail = &c->held_next;
  return 1;
}

static void batch_free(rd_batch *b) {
  rd_remote_cmd_free(&b->cmd);
  free(b->m);
  free(b);
}

/* Every member completes with the same failure. */
static void batch_fail_all(rd_batch *b, const rd_exec_result *r) {
  for (size_t i = 0; i < b->n; i++) {
    rd_exec_result x = *r;
    x.out = NULL;
    x.out_len = 0;
    rd_remote_call *c = b->m[i];
    b->m[i] = NULL; /* delivered: freed by its completion */
    rd_host_remote_done(&x, c);
  }
  batch_free(b);
}

static void batch_done(const rd_exec_result *r, void *arg) {
  rd_batch *b = arg;
  rd_remote_answer *ans;
  char err[256] = "";
  int prc;
  b->op_id = 0; /* ended: nothing left to cancel */
  if (r->status && b->stopped_by[0]) { /* cancelled: the others say why */
    rd_exec_result x = *r;
    snprintf(x.msg, sizeof x.msg,
             "host %s: not answered: the batch it ran in was stopped when step '%s' timed out",
             b->j->t->name, b->stopped_by);
    batch_fail_all(b, &x);
    return;
  }
  if (r->status) { /* the transport failed: every step learns it */
    batch_fail_all(b, r);
    return;
  }
  if (!(ans = calloc(b->n, sizeof *ans))) {
    rd_exec_result x = {.status = RD_ENOMEM, .exit_status = -1};
    snprintf(x.msg, sizeof x.msg, "host %s: a batch's answers: out of memory", b->j->t->name);
    batch_fail_all(b, &x);
    return;
  }
  prc = rd_remote_parse_batch(r->out ? r->out : "", r->out ? r->out_len : 0, b->n, ans, err,
                              sizeof err);
  for (size_t i = 0; i < b->n; i++) {
    rd_exec_result x = {.exit_status = -1, .ms = r->ms, .channel = r->channel};
    if (prc || ans[i].exit_status == RD_BATCH_NO_ANSWER) {
      x.status = RD_EPROTO;
      x.err = r->err;
      x.err_len = r->err_len;
      if (prc)
        snprintf(x.msg, sizeof x.msg, "host %s: a batch of %zu scripts: %s", b->j->t->name, b->n,
                 err);
      else
        snprintf(x.msg, sizeof x.msg,
                 "host %s: a batch of %zu scripts ended (exit %d) before this one answered",
                 b->j->t->name, b->n, r->exit_status);
    } else {
      x.exit_status = ans[i].exit_status;
      x.out = ans[i].out;
      x.out_len = ans[i].out_len;
      x.out_truncated = r->out_truncated;
      if (ans[i].err_len > BATCH_ERR_CAP) {
        ans[i].err_len = BATCH_ERR_CAP;
        ans[i].err[BATCH_ERR_CAP] = 0;
      }
      x.err = ans[i].err;
      x.err_len = ans[i].err_len;
    }
    rd_remote_call *c = b->m[i];
    b->m[i] = NULL;
    rd_host_remote_done(&x, c);
  }
  rd_remote_answers_free(ans, b->n);
  free(ans);
  batch_free(b);
}

/* n calls (same sudo) as one batch: one remote execution, or one request
 * of the job's session shell on its host. 0, or the error (then no member
 * was touched and no callback ran; err says why). */
static int batch_queue(rd_job *j, rd_remote_call **m, size_t n, char *err, size_t errlen) {
  rd_engine *e = j->e;
  rd_batch *b = calloc(1, sizeof *b);
  rd_remote_part *parts = calloc(n, sizeof *parts);
  rd_ssh_opts o = {.connect_ms = j->rb->ssh.connect_timeout_ms};
  unsigned long trip = rd_host_next_trip();
  int win = is_windows(m[0]), session = rd_batch_session_on();
  char until[64];
  int rc = RD_ENOMEM;
  snprintf(err, errlen, "out of memory");
  if (!b || !parts || !(b->m = malloc(n * sizeof *b->m)))
    goto out;
  b->j = j;
  b->n = n;
  memcpy(b->m, m, n * sizeof *m);
  for (size_t i = 0; i < n; i++) {
    parts[i].script = m[i]->script;
    parts[i].params = m[i]->params;
    if (m[i]->call.s->timeout_ms > o.op_ms)
      o.op_ms = m[i]->call.s->timeout_ms;
  }
  if (win)
    rc = session ? rd_remote_build_win_session(parts, n, trip, &b->cmd, err, errlen)
                 : rd_remote_build_win_batch(parts, n, &b->cmd, err, errlen);
  else
    rc = session ? rd_remote_build_session(parts, n, m[0]->sudo, trip, &b->cmd, err, errlen)
                 : rd_remote_build_batch(parts, n, m[0]->sudo, &b->cmd, err, errlen);
  if (!rc && session)
    rc = (win ? rd_remote_session_end : rd_remote_posix_session_end)(trip, until, sizeof until);
  if (rc)
    goto out;
  o.id_out = &b->op_id;
  rc = RD_ECANCELED;
  snprintf(err, errlen, "the run is ending");
  if (e->ssh) {
    rc = session ? rd_ssh_shell(e->ssh, &j->st, b->cmd.command, until, b->cmd.stdin_data,
                                b->cmd.stdin_len, &o, batch_done, b)
                 : rd_ssh_exec(e->ssh, &j->st, b->cmd.command, b->cmd.stdin_data,
                               b->cmd.stdin_len, &o, batch_done, b);
    if (rc && rc != RD_ECANCELED)
      snprintf(err, errlen, "cannot queue the command");
  }
  if (!rc)
    for (size_t i = 0; i < n; i++) {
      m[i]->batch = b;
      m[i]->trip = trip;
      m[i]->call.op_id = 0;
    }
out:
  free(parts);
  if (rc && b)
    batch_free(b);
  return rc;
}

/* One batch for n held calls; a failure reaches every member. */
static void batch_send(rd_job *j, rd_remote_call **m, size_t n) {
  char err[256];
  int rc = batch_queue(j, m, n, err, sizeof err);
  if (!rc)
    return;
  rd_exec_result fail = {.status = rc, .exit_status = -1};
  snprintf(fail.msg, sizeof fail.msg, "host %s: a batch of %zu scripts: %s", j->t->name, n, err);
  for (size_t i = 0; i < n; i++)
    rd_host_remote_done(&fail, m[i]);
}

/* A call that is not corked, in the job's session shell when it is on:
 * 1 taken (0 or an error in *rc), 0 not for the session. */
int rd_batch_session_send(rd_job *j, rd_remote_call *c, int *rc) {
  char err[256];
  if (!session_ok(c))
    return 0;
  if ((*rc = batch_queue(j, &c, 1, err, sizeof err)))
    rd_step_log(c->call.s, RD_LOG_ERROR, "script %s: %s", c->script->name, err);
  return 1;
}

/* Held calls go out in the order they came: each run of calls of one
 * platform (POSIX: with the same sudo; Windows has none) as one batch (one
 * alone as it always did, unless the job's session carries it). */
void rd_host_uncork(rd_job *j) {
  rd_remote_call *c, *list[64];
  size_t n = 0;
  if (!j->cork || --j->cork->depth > 0)
    return;
  if (j->writes > 0 && !j->writes_err) { /* until they commit: one batch still */
    j->cork->depth = 1;
    j->cork->deferred = 1;
    return;
  }
  c = j->cork->head;
  free(j->cork);
  j->cork = NULL;
  while (c || n) {
    rd_remote_call *next = c ? c->held_next : NULL;
    if (c && (!n || (is_windows(list[0]) == is_windows(c) &&
                     (is_windows(c) || list[0]->sudo == c->sudo) &&
                     n < sizeof list / sizeof *list))) {
      list[n++] = c;
      c = next;
      continue;
    }
    if (n == 1 && !session_ok(list[0]))
      rd_host_remote_send(list[0]);
    else
      batch_send(j, list, n);
    n = 0;
  }
}

void rd_host_uncork_deferred(rd_job *j, int err) {
  rd_remote_call *c;
  if (!j->cork || !j->cork->deferred)
    return;
  j->cork->deferred = 0;
  if (!err) {
    rd_host_uncork(j);
    return;
  }
  /* a write failed (or the engine is going): as a crash at that write,
   * nothing kept for after it is sent */
  c = j->cork->head;
  free(j->cork);
  j->cork = NULL;
  while (c) {
    rd_remote_call *next = c->held_next;
    c->held_next = NULL;
    rd_host_remote_unsent(c, err,
                          err == RD_ECANCELED ? "the run is ending" : "the job's journal write failed");
    c = next;
  }
}

/* One member's phase ended (its timeout): the batch is one shell running
 * the scripts in turn, so the members after a hung script would wait behind
 * it and the rollback's scripts queue behind the channel — stop the whole
 * execution; the other members fail, naming the step that stopped it. */
int rd_batch_cancel(rd_remote_call *c) {
  rd_batch *b = c->batch;
  rd_engine *e = c->call.s->j->e;
  if (!e->ssh || !b->op_id)
    return RD_ENOTFOUND;
  if (!b->stopped_by[0])
    snprintf(b->stopped_by, sizeof b->stopped_by, "%s", c->call.s->name);
  return rd_ssh_cancel(e->ssh, b->op_id);
}
