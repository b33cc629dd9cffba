/* ssh_sftp.c — SFTP put (atomic: temporary name, mode, fsync, rename; see
 * ssh.h for the replace fallback) and get (see ssh_int.h). */
#include "transport/ssh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/err.h"
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
static void sftp_failed(conn *c, op *o, const char *what, const char *path) {
  unsigned long fx = o->sftp ? libssh2_sftp_last_error(o->sftp) : 0;
  if (o->fail_status)
    return;
  o->fail_status = sftp_status(o, fx);
  rd_fmt(o->fail_msg, sizeof o->fail_msg, "host %s: %s %s: %s failed: %s", c->t->name,
           rdssh_kind_verb(o), o->path, what, fx ? fx_text(fx) : rdssh_sess_err(c->s));
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
int rdssh_sftp_step(conn *c, op *o, int *rcp) {
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
      rc = rdssh_exec_step(c, o, &o->x, rcp);
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
