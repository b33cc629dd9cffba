/* ssh_sftp.c — SFTP put (atomic: temporary name, mode, fsync, rename; see
 * ssh.h for the replace fallback) and get (see ssh_int.h). */
#include "transport/ssh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/err.h"
#include "base/path.h"
#include "base/util.h"

/* Fallback for rename over an existing file (OpenSSH's SFTP v3 refuses it and
 * libssh2 1.10 lacks posix-rename@openssh.com): the paths travel on stdin,
 * never in the command text. */
static const char MV_CMD[] =
    "IFS= read -r rd_a && IFS= read -r rd_b && exec mv -f -- \"$rd_a\" \"$rd_b\"";

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
static void sftp_failed(conn *c, op *o, const char *what) {
  unsigned long fx = o->sftp ? libssh2_sftp_last_error(o->sftp) : 0;
  if (o->fail_status)
    return;
  o->fail_status = sftp_status(o, fx);
  rd_fmt(o->fail_msg, sizeof o->fail_msg, "host %s: %s %s: %s failed: %s", c->t->name,
           rdssh_kind_verb(o), o->path, what, fx ? fx_text(fx) : rdssh_sess_err(c->s));
}

static int random_suffix(char *out, size_t n) {
  unsigned char r[8];
  if (RAND_bytes(r, sizeof r) != 1)
    return RD_ECRYPTO;
  rd_fmt(out, n, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
           r[7]);
  return 0;
}

/* ---------------------------------------------------------------- steps
 *
 * One function per step, in the style of curl's state machines: each makes
 * one libssh2 call and returns ST_WAIT (EAGAIN: call again when the socket
 * is ready), ST_FAIL (a session-level failure in *rcp) or ST_NEXT after
 * setting o->phase. An SFTP-level failure is recorded (sftp_failed) and the
 * operation goes on with the steps that clean up, then reports it. */

#define ST_NEXT 3

/* The outcome of a libssh2 SFTP call that returned rc: done -> next; an
 * SFTP-level failure -> recorded (unless what is NULL: ignored) and on_err. */
static int outcome(conn *c, op *o, int rc, int *rcp, const char *what, int next, int on_err) {
  if (rc == LIBSSH2_ERROR_EAGAIN)
    return ST_WAIT;
  if (rc && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
    *rcp = rc;
    return ST_FAIL;
  }
  if (rc && what)
    sftp_failed(c, o, what);
  o->phase = rc ? on_err : next;
  return ST_NEXT;
}

/* A call whose failure changes nothing (clean-up): on to next. */
static int then(op *o, int rc, int next) {
  if (rc == LIBSSH2_ERROR_EAGAIN)
    return ST_WAIT;
  o->phase = next;
  return ST_NEXT;
}

/* The same as outcome for a call that returns a pointer (NULL: see the session). */
static int outcome_ptr(conn *c, op *o, const void *p, int *rcp, const char *what, int next,
                       int on_err) {
  int rc = p ? 0 : libssh2_session_last_errno(c->s);
  if (!p && !rc)
    rc = LIBSSH2_ERROR_CHANNEL_FAILURE;
  return outcome(c, o, rc, rcp, what, next, on_err);
}

/* the SFTP subsystem: without it there is nothing to clean up in */
static int step_init(conn *c, op *o, int *rcp) {
  if (!(o->sftp = libssh2_sftp_init(c->s))) {
    int rc = libssh2_session_last_errno(c->s);
    if (rc == LIBSSH2_ERROR_EAGAIN)
      return ST_WAIT;
    *rcp = rc ? rc : LIBSSH2_ERROR_CHANNEL_FAILURE;
    return ST_FAIL;
  }
  o->phase = o->kind == OP_PUT ? P_OPEN : G_OPEN;
  return ST_NEXT;
}

/* put: create "<dir>/.<name>.renewd-<16 hex>" exclusively, in the
 * destination's directory (a Windows destination's separators are '\' and
 * '/': "C:\Windows\Temp\x.ps1" -> "C:\Windows\Temp\.x.ps1.renewd-..."). */
static int put_open(conn *c, op *o, int *rcp) {
  if (!o->tmp) {
    size_t dl = rd_path_dir_len(o->path);
    char sfx[20];
    size_t tl = strlen(o->path) + 40;
    if (random_suffix(sfx, sizeof sfx) || !(o->tmp = malloc(tl))) {
      *rcp = LIBSSH2_ERROR_ALLOC;
      return ST_FAIL;
    }
    rd_fmt(o->tmp, tl, "%.*s.%s.renewd-%s", (int)dl, o->path, o->path + dl, sfx);
  }
  o->fh = libssh2_sftp_open_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp),
                               LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, o->mode,
                               LIBSSH2_SFTP_OPENFILE);
  o->off = 0;
  return outcome_ptr(c, o, o->fh, rcp, "create temporary file", P_WRITE, P_SHUTDOWN);
}

static int put_write(conn *c, op *o, int *rcp) {
  while (o->off < o->len) {
    ssize_t n = libssh2_sftp_write(o->fh, (const char *)o->data + o->off, o->len - o->off);
    if (n < 0)
      return outcome(c, o, (int)n, rcp, "write", P_WRITE, P_CLEAN_CLOSE);
    o->off += (size_t)n;
  }
  o->phase = P_SETSTAT;
  return ST_NEXT;
}

static int put_setstat(conn *c, op *o, int *rcp) {
  LIBSSH2_SFTP_ATTRIBUTES a;
  memset(&a, 0, sizeof a);
  a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
  a.permissions = (unsigned long)(o->mode & 07777);
  return outcome(c, o, libssh2_sftp_fsetstat(o->fh, &a), rcp, "set mode", P_FSYNC, P_CLEAN_CLOSE);
}

/* a server without fsync@openssh.com: the rename still orders it */
static int put_fsync(conn *c, op *o, int *rcp) {
  return outcome(c, o, libssh2_sftp_fsync(o->fh), rcp, NULL, P_CLOSE, P_CLOSE);
}

static int put_close(conn *c, op *o, int *rcp) {
  int rc = libssh2_sftp_close_handle(o->fh);
  if (rc != LIBSSH2_ERROR_EAGAIN)
    o->fh = NULL;
  return outcome(c, o, rc, rcp, "close", P_RENAME, P_CLEAN_UNLINK);
}

/* SFTP v3 will not replace: set up rename(2) on the target via mv -f, the
 * paths on stdin; a Windows destination (no POSIX shell there), a path with
 * a newline, or no memory: unlink + rename. */
static void mv_setup(op *o) {
  size_t l1 = strlen(o->tmp), l2 = strlen(o->path);
  free(o->mvin);
  o->mvin = NULL;
  if (rd_path_is_windows(o->path) || strchr(o->tmp, '\n') || strchr(o->path, '\n') || !(o->mvin = malloc(l1 + l2 + 2))) {
    o->phase = P_UNLINK_DEST;
    return;
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
  o->phase = P_MV;
}

static int put_rename(conn *c, op *o, int *rcp) {
  int rc = libssh2_sftp_rename_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp), o->path,
                                  (unsigned)strlen(o->path),
                                  LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
                                      LIBSSH2_SFTP_RENAME_NATIVE);
  if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
    unsigned long fx = libssh2_sftp_last_error(o->sftp);
    if (fx == LIBSSH2_FX_FAILURE || fx == LIBSSH2_FX_FILE_ALREADY_EXISTS) {
      mv_setup(o);
      return ST_NEXT;
    }
  }
  return outcome(c, o, rc, rcp, "rename into place", P_SHUTDOWN, P_CLEAN_UNLINK);
}

static int put_mv(conn *c, op *o, int *rcp) {
  int rc = rdssh_exec_step(c, o, &o->x, rcp);
  if (rc != ST_DONE)
    return rc;
  o->phase = o->exit_status == 0 ? P_SHUTDOWN : P_UNLINK_DEST;
  o->exit_status = 0;
  o->out.len = o->err.len = 0;
  return ST_NEXT;
}

/* no shell on the target (Windows): replace non-atomically */
static int put_unlink_dest(conn *c, op *o, int *rcp) {
  int rc = libssh2_sftp_unlink_ex(o->sftp, o->path, (unsigned)strlen(o->path));
  return outcome(c, o, rc, rcp, NULL, P_RENAME2, P_RENAME2);
}

static int put_rename2(conn *c, op *o, int *rcp) {
  int rc = libssh2_sftp_rename_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp), o->path,
                                  (unsigned)strlen(o->path), LIBSSH2_SFTP_RENAME_OVERWRITE);
  return outcome(c, o, rc, rcp, "rename into place", P_SHUTDOWN, P_CLEAN_UNLINK);
}

/* after a failure: close and remove the temporary file, errors ignored */
static int put_clean_close(conn *c, op *o, int *rcp) {
  int rc = o->fh ? libssh2_sftp_close_handle(o->fh) : 0;
  (void)c;
  (void)rcp;
  if (rc != LIBSSH2_ERROR_EAGAIN)
    o->fh = NULL;
  return then(o, rc, P_CLEAN_UNLINK);
}

static int put_clean_unlink(conn *c, op *o, int *rcp) {
  (void)c;
  (void)rcp;
  return then(o, libssh2_sftp_unlink_ex(o->sftp, o->tmp, (unsigned)strlen(o->tmp)), P_SHUTDOWN);
}

static int get_open(conn *c, op *o, int *rcp) {
  o->fh = libssh2_sftp_open_ex(o->sftp, o->path, (unsigned)strlen(o->path), LIBSSH2_FXF_READ, 0,
                               LIBSSH2_SFTP_OPENFILE);
  return outcome_ptr(c, o, o->fh, rcp, "open", G_READ, P_SHUTDOWN);
}

/* read to the end, or to out_cap (RD_EOVERFLOW, with what was read) */
static int get_read(conn *c, op *o, int *rcp) {
  char chunk[IO_CHUNK];
  for (;;) {
    ssize_t n = libssh2_sftp_read(o->fh, chunk, sizeof chunk);
    if (n < 0)
      return outcome(c, o, (int)n, rcp, "read", G_CLOSE, G_CLOSE);
    if (n == 0)
      break;
    if (rdssh_buf_add(&o->out, chunk, (size_t)n, o->o.out_cap, &o->out_truncated)) {
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
  return ST_NEXT;
}

static int get_close(conn *c, op *o, int *rcp) {
  int rc = libssh2_sftp_close_handle(o->fh);
  (void)c;
  (void)rcp;
  if (rc != LIBSSH2_ERROR_EAGAIN)
    o->fh = NULL;
  return then(o, rc, P_SHUTDOWN);
}

static int step_shutdown(conn *c, op *o, int *rcp) {
  int rc = libssh2_sftp_shutdown(o->sftp);
  (void)c;
  (void)rcp;
  if (rc != LIBSSH2_ERROR_EAGAIN)
    o->sftp = NULL;
  return then(o, rc, P_END);
}

typedef int (*sftp_fn)(conn *c, op *o, int *rcp);

static sftp_fn step_of(int phase) {
  switch (phase) {
  case P_INIT: return step_init;
  case P_OPEN: return put_open;
  case P_WRITE: return put_write;
  case P_SETSTAT: return put_setstat;
  case P_FSYNC: return put_fsync;
  case P_CLOSE: return put_close;
  case P_RENAME: return put_rename;
  case P_MV: return put_mv;
  case P_UNLINK_DEST: return put_unlink_dest;
  case P_RENAME2: return put_rename2;
  case P_CLEAN_CLOSE: return put_clean_close;
  case P_CLEAN_UNLINK: return put_clean_unlink;
  case G_OPEN: return get_open;
  case G_READ: return get_read;
  case G_CLOSE: return get_close;
  case P_SHUTDOWN: return step_shutdown;
  default: return NULL;
  }
}

/* The SFTP operations: steps until one waits, fails or the op is done. */
int rdssh_sftp_step(conn *c, op *o, int *rcp) {
  for (;;) {
    sftp_fn fn = step_of(o->phase);
    int r = fn ? fn(c, o, rcp) : ST_DONE;
    if (r != ST_NEXT)
      return r;
  }
}
