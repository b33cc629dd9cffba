/* ssh.h — libssh2 sessions driven by the libuv loop.
 *
 * One rd_ssh manager per loop owns every session. A session belongs to one
 * target (one at a time per host) and runs one operation at a time; further
 * operations queue. Sockets are opened here (non-blocking connect,
 * TCP_NODELAY), polled with uv_poll on libssh2_session_block_directions(),
 * and every operation has its own uv_timer deadline, after which the session
 * is dropped and the failure classified. Host keys are checked against the
 * target's known_hosts file: unknown -> RD_EHOSTKEY, changed -> RD_EHOSTKEY
 * with both fingerprints in the message. A global cap limits handshakes in
 * flight (sshd's MaxStartups). libssh2_init is the caller's, once, before
 * any thread: rd_transport_global_init() (transport/global.h). The code is
 * in ssh*.c, its map in ssh_int.h.
 */
#ifndef RENEWD_SSH_H
#define RENEWD_SSH_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct rd_ssh rd_ssh;

typedef struct rd_ssh_limits {
  int max_handshakes;     /* in-flight connect+handshake+auth; default 16 */
  long keepalive_s;       /* after auth; default 30, 0 = off */
} rd_ssh_limits;

/* Where and how to log in. Strings are copied. */
typedef struct rd_ssh_target {
  const char *name;        /* for messages: "host web17: ..." */
  const char *address;
  int port;                /* default 22 */
  const char *user;
  const char *identity;    /* private key file, or NULL with agent */
  const char *passphrase;  /* or NULL; never logged */
  const char *known_hosts; /* required */
  int agent;               /* try ssh-agent */
} rd_ssh_target;

typedef struct rd_ssh_opts {
  long connect_ms;         /* TCP connect + handshake + auth; default 10000 */
  long op_ms;              /* this exec/transfer; default 120000 */
  size_t out_cap;          /* stdout cap in bytes; default 16 MiB; beyond: truncated */
  size_t err_cap;          /* stderr cap; default 64 KiB (always drained) */
  uint64_t *id_out;        /* if set: receives the operation's id for rd_ssh_cancel */
} rd_ssh_opts;

typedef struct rd_exec_result {
  int status;              /* 0 when the command ran, else RD_E* (ETIMEDOUT,
                              ECONNREFUSED, EAUTH, EHOSTKEY, ENETWORK, EIO) */
  int exit_status;         /* remote exit status; -1 when killed by a signal
                              (and when status != 0: nothing ran to the end) */
  char *out;               /* stdout, NUL-terminated (owned by the result) */
  size_t out_len;
  int out_truncated;       /* stdout exceeded out_cap */
  char *err;               /* stderr, NUL-terminated, capped */
  size_t err_len;
  char msg[512];           /* on failure: "host web17: ssh connect 10.0.0.7:22: connection refused" */
  double ms;               /* wall time from submission to completion (includes
                              queueing and, for the first op, the login) */
  uint64_t channel;        /* exec, shell: the number of the channel that ran it
                              (per manager, from 1; the requests of one session
                              shell share it); 0 when none was opened */
} rd_exec_result;

/* The callback owns nothing: the result is freed after it returns. Callbacks
 * never run inside an rd_ssh_* call; they may submit new operations. */
typedef void (*rd_ssh_cb)(const rd_exec_result *r, void *arg);

int rd_ssh_new(uv_loop_t *loop, const rd_ssh_limits *lim, rd_ssh **out);
/* Run command; in (may be NULL) is written to its stdin, then EOF. */
int rd_ssh_exec(rd_ssh *m, const rd_ssh_target *t, const char *command,
                const void *in, size_t inlen, const rd_ssh_opts *o, rd_ssh_cb cb,
                void *arg);
/* A session shell: one exec channel per host and command whose stdin stays
 * open, so that several requests reach one long-lived program (one channel,
 * one sudo, one shell). Each request writes in (the whole request: no EOF)
 * and completes when stdout ends with the line until (e.g. "end 42\n",
 * unique per request; taken off the answer); exit_status is then 0 and the
 * channel waits on the session for the next request with the same command
 * (another command closes it first). When the program ends before the line
 * (killed, exited, the session lost), the request completes as rd_ssh_exec
 * would (its exit status, the output so far) and the next one opens a new
 * channel; a timeout or rd_ssh_cancel closes it the same way.
 * rd_ssh_release and the session's close end it (stdin's EOF). */
int rd_ssh_shell(rd_ssh *m, const rd_ssh_target *t, const char *command, const char *until,
                 const void *in, size_t inlen, const rd_ssh_opts *o, rd_ssh_cb cb, void *arg);
/* SFTP put: atomic on the target (temp name in the same dir, written, mode
 * set, fsync'd, then renamed). OpenSSH's SFTP v3 will not rename over an
 * existing file (and libssh2 1.10 has no posix-rename@openssh.com), so the
 * replace then runs `mv -f` (rename(2)) over an exec channel with both paths
 * on stdin; a target without /bin/sh (Windows) gets unlink + rename. */
int rd_ssh_put(rd_ssh *m, const rd_ssh_target *t, const char *remote_path,
               const void *data, size_t len, int mode, const rd_ssh_opts *o,
               rd_ssh_cb cb, void *arg);
/* SFTP get: the file's bytes arrive in result->out. A file larger than
 * out_cap fails with RD_EOVERFLOW (out holds the first out_cap bytes). */
int rd_ssh_get(rd_ssh *m, const rd_ssh_target *t, const char *remote_path,
               const rd_ssh_opts *o, rd_ssh_cb cb, void *arg);
/* Cancel one operation (id from rd_ssh_opts.id_out). A queued operation is
 * removed; a running one has its channel closed (the session is dropped when
 * the channel cannot be closed at once), so the host's next operation starts
 * without waiting for the hung command (sshd answers a channel close only
 * once the command exits, so a hung one costs its session; a canceled SFTP
 * transfer or host key fetch drops its session too, and a put's temporary
 * file may stay behind). Its callback then runs once with
 * RD_ECANCELED, never inside this call. Returns 0 (also when it is canceled
 * already and its callback still due), or RD_ENOTFOUND when the operation
 * already completed. Ids start at 1. */
int rd_ssh_cancel(rd_ssh *m, uint64_t id);
/* Done with a host for now: close its session gracefully once idle. */
void rd_ssh_release(rd_ssh *m, const char *name);
/* Close every session (gracefully), cancel queued operations with
 * RD_ECANCELED; the manager frees itself, then calls done. After this the
 * loop can be closed with uv_loop_close() == 0. */
void rd_ssh_shutdown(rd_ssh *m, void (*done)(void *arg), void *arg);
/* Host key fingerprint (SHA256:base64) of a host, for `renewd hosts trust`:
 * connects, reads the key, does not authenticate (user, identity and
 * known_hosts may be NULL). key_line is a known_hosts line for the address:
 * "ADDR TYPE BASE64" (or "[ADDR]:PORT TYPE BASE64" when the port is not 22). */
typedef void (*rd_ssh_hostkey_cb)(int status, const char *key_line,
                                  const char *fingerprint, const char *msg, void *arg);
int rd_ssh_fetch_hostkey(rd_ssh *m, const rd_ssh_target *t, const rd_ssh_opts *o,
                         rd_ssh_hostkey_cb cb, void *arg);
/* For benchmarks and `renewd debug`: every libssh2 allocation goes through a
 * per-session arena, so the library's heap per session is known exactly. */
typedef struct rd_ssh_stats {
  size_t sessions;           /* open sessions now */
  size_t ready;              /* of which logged in and idle */
  size_t heap_bytes;         /* libssh2 heap of all open sessions now */
  size_t peak_session_bytes; /* largest footprint one session ever had */
} rd_ssh_stats;
void rd_ssh_get_stats(const rd_ssh *m, rd_ssh_stats *st);

#endif
