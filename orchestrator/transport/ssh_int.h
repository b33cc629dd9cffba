/* ssh_int.h — private to transport/ssh*.c: the objects of the SSH manager
 * and the functions its parts call in each other.
 *
 *   ssh.c             the manager: hosts and their queues, scheduling on the
 *                     idle handle, submission, cancel, shutdown, stats
 *   ssh_conn.c        one connection: socket, connect, handshake, login,
 *                     uv_poll driving, deadlines, keepalive, close
 *   ssh_auth.c        identities (parsed once) and the login steps
 *   ssh_knownhosts.c  the host key check (libssh2's knownhost API), cached
 *                     per file at connect time; known_hosts.c uses the same
 *                     matching for the file API of known_hosts.h
 *   ssh_hostkey.c     fetching a host key for `renewd hosts trust`
 *   ssh_exec.c        the exec operation; starting, finishing, aborting ops
 *   ssh_shell.c       the session shell: one exec channel kept open per host
 *                     and command, a request written to it at a time
 *   ssh_sftp.c        the SFTP put and get operations
 *
 * Objects:
 *   rd_ssh   the manager: a hash of hosts, every live connection, the queue
 *            of connections waiting for a handshake slot, and one uv_idle
 *            handle that runs deferred work ("kicks", the callbacks of
 *            canceled operations) so that no user callback ever runs inside
 *            an API call.
 *   host     one target name: a FIFO of operations, the operation running
 *            now, and the connection it uses. Plain memory (no uv handles),
 *            freed from the idle callback once it has nothing left.
 *   conn     one TCP connection + libssh2 session with its uv_poll and two
 *            uv_timers (deadline, keepalive). Freed only in the close
 *            callbacks of those handles. A conn being closed or dropped is
 *            detached from its host first, so the host may open a new one.
 *   op       one exec / put / get / hostkey request and its progress.
 *
 * libssh2 is non-blocking throughout: every call is repeated until it stops
 * returning LIBSSH2_ERROR_EAGAIN, and between calls we wait on exactly the
 * directions libssh2_session_block_directions() names. Every libssh2
 * allocation goes through a per-connection arena, so a dropped session
 * (whose half-closed channels and SFTP handles libssh2 would otherwise leak)
 * is freed completely, and its size can be reported.
 */
#ifndef RENEWD_SSH_INT_H
#define RENEWD_SSH_INT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/evp.h>
#include <uv.h>

#include "transport/known_hosts.h"
#include "transport/ssh.h"


#define DEF_CONNECT_MS 10000L
#define DEF_OP_MS 120000L
#define DEF_OUT_CAP ((size_t)16 << 20)
#define DEF_ERR_CAP ((size_t)64 << 10)
#define DEF_MAX_HANDSHAKES 16
#define DEF_KEEPALIVE_S 30L
#define CLOSE_MS 3000L   /* graceful disconnect before we drop */
#define IO_CHUNK 32768
/* ------------------------------------------------------------------ types */

enum op_kind { OP_EXEC, OP_PUT, OP_GET, OP_HOSTKEY, OP_SHELL };

typedef struct tgt {
  char *name, *address, *user, *identity, *passphrase, *known_hosts;
  int port, agent;
} tgt;

typedef struct buf {
  char *p;
  size_t len, cap;
} buf;

enum step { ST_WAIT = 0, ST_DONE = 1, ST_FAIL = 2 };

/* Exec sub-machine state (also used by put's rename fallback). */
typedef struct xstate {
  int phase;
  LIBSSH2_CHANNEL *ch;
  const char *cmd;
  const unsigned char *in;
  size_t in_len, in_off;
  int eof_sent;
  int held; /* H_*: the call whose packet is half sent (must be repeated first) */
  const char *until; /* a shell's request: done when stdout ends with this line */
  size_t until_len;  /* (its channel then stays open, stdin too) */
} xstate;

typedef struct op {
  struct op *next;
  enum op_kind kind;
  tgt t;
  rd_ssh_opts o;
  char *command; /* exec, shell */
  char *until;   /* shell: the line that ends this request's answer */
  uint64_t chan; /* the channel that carried it (numbered per manager), 0: none */
  char *path;    /* put/get */
  unsigned char *data;
  size_t len;
  int mode;
  rd_ssh_cb cb;
  rd_ssh_hostkey_cb hk_cb;
  void *arg;
  uint64_t id; /* for rd_ssh_cancel */
  uint64_t t0; /* uv_hrtime at submit */
  int retried;
  /* progress */
  int phase;
  xstate x;
  buf out, err;
  int out_truncated;
  int exit_status;
  LIBSSH2_SFTP *sftp;
  LIBSSH2_SFTP_HANDLE *fh;
  char *tmp;
  unsigned char *mvin;
  size_t off;
  int fail_status; /* put/get: failure remembered while cleaning up */
  char fail_msg[512];
} op;

enum cstate {
  C_WAIT,       /* queued for a handshake slot */
  C_RESOLVING,  /* uv_getaddrinfo */
  C_CONNECTING, /* non-blocking connect */
  C_HANDSHAKE,
  C_AUTH,
  C_READY, /* authenticated, idle */
  C_BUSY,  /* running h->cur */
  C_CLOSING,
  C_DEAD
};

typedef struct ahdr {
  struct ahdr *prev, *next;
  size_t size;
} ahdr;
#define AHDR ((sizeof(ahdr) + 15) & ~(size_t)15)

struct host;

/* An identity parsed once per manager: libssh2's own key file path re-reads
 * and re-parses the file twice per login (and OpenSSL 3's decoder set-up is
 * the single largest CPU cost of a fan-out), so unencrypted OpenSSH-format
 * and PEM/PKCS#8 ed25519 and ECDSA keys are loaded here and signed for in a
 * libssh2 sign callback. Anything else falls back to libssh2's key file path. */
typedef struct idkey {
  struct idkey *next;
  char *path;
  unsigned char passdig[32]; /* SHA-256 of the passphrase: never kept in clear */
  EVP_PKEY *pk;              /* NULL: use libssh2's key file path */
  const EVP_MD *md;          /* ECDSA digest; NULL for ed25519 */
  unsigned char *pub;        /* SSH public key blob */
  size_t publen;
} idkey;

/* A known_hosts file parsed once and re-read when it changes (its size,
 * inode or mtime). The entries live in a network-less libssh2 session of
 * their own, so they do not depend on any connection's lifetime. */
typedef struct khfile {
  struct khfile *next;
  char *path;
  LIBSSH2_SESSION *holder;
  LIBSSH2_KNOWNHOSTS *kh;
  struct stat st;
  int present;
} khfile;

typedef struct conn {
  struct conn *prev, *next; /* m->conns */
  struct conn *wnext;       /* m->wait queue */
  rd_ssh *m;
  struct host *h; /* NULL once detached */
  op *hk;         /* standalone hostkey fetch */
  enum cstate st;
  tgt *t;         /* borrowed from the op that opened it (copied below) */
  tgt tcopy;
  long connect_ms;
  uint64_t t_connect; /* uv_hrtime at the TCP connect, 0 once ready */
  int fd;
  uv_poll_t poll;
  int poll_init;
  uv_timer_t timer; /* deadline */
  uv_timer_t ka;    /* keepalive */
  int refs;         /* open handles + pending getaddrinfo */
  uv_getaddrinfo_t gai;
  int gai_pending;
  struct sockaddr_storage sa;
  socklen_t salen;
  char where[300]; /* "127.10.0.4:22" */
  LIBSSH2_SESSION *s;
  ahdr arena; /* sentinel of the libssh2 allocation list */
  size_t mem, mem_peak;
  LIBSSH2_AGENT *agent;
  struct libssh2_agent_publickey *ident;
  void *key; /* idkey, for the sign callback */
  int auth_phase;
  char auth_err[256];
  int counted; /* holds a handshake slot */
  int reused;  /* completed an operation before */
  int close_phase;
  long deadline_ms; /* current deadline, for messages */
  LIBSSH2_CHANNEL *shell; /* an idle session shell (rd_ssh_shell) */
  char *shell_cmd;        /* its command */
  uint64_t shell_no;      /* its channel number */
} conn;

typedef struct host {
  struct host *hnext; /* hash chain */
  struct host *knext; /* kick list */
  int kicked;
  rd_ssh *m;
  char *name;
  op *qhead, *qtail;
  op *cur;
  conn *c;
  int release;
} host;

struct rd_ssh {
  uv_loop_t *loop;
  rd_ssh_limits lim;
  host **bk;
  size_t nbk, nhosts;
  conn *conns;
  size_t nconns;
  conn *whead, *wtail;
  int inflight;
  host *khead, *ktail;
  uv_idle_t idle;
  int idle_on;
  int shutting, closing;
  void (*done)(void *);
  void *done_arg;
  size_t peak_session_mem;
  idkey *keys;
  khfile *khs;
  uint64_t next_id;
  uint64_t next_chan; /* channels opened for exec and shell operations */
  op *chead, *ctail; /* canceled ops whose callbacks are still due */
};
/* Operation phases: exec (also put's mv fallback), put, get. */
enum { X_OPEN, X_START, X_IO, X_CLOSE, X_WAITCLOSED, X_FREE, X_END,
       X_REUSE, /* a session shell kept from an earlier request: still alive? */
       X_STALE  /* it ended meanwhile (or runs another command): free it, open anew */ };
/* xstate.held: libssh2 1.10 sends one packet at a time per session, and a
 * call that returned EAGAIN with its packet half sent must be called again
 * before any other call sends (another packet fails with BAD_USE: a read's
 * window adjust as a SOCKET_SEND error, a write as a lost write). */
enum { H_NONE, H_WRITE, H_EOF, H_READ };
enum {
  P_INIT = 100, P_OPEN, P_WRITE, P_SETSTAT, P_FSYNC, P_CLOSE, P_RENAME, P_MV, P_UNLINK_DEST,
  P_RENAME2, P_CLEAN_CLOSE, P_CLEAN_UNLINK, P_SHUTDOWN, P_END,
  G_OPEN = 200, G_READ, G_CLOSE
};

/* ---- ssh.c: helpers and the manager */
int rdssh_tgt_clone(tgt *d, const tgt *s);
void rdssh_tgt_free(tgt *t);
int rdssh_buf_add(buf *b, const char *p, size_t n, size_t cap, int *trunc);
double rdssh_ms_since(uint64_t t0);
const char *rdssh_kind_verb(const op *o);
const char *rdssh_sess_err(LIBSSH2_SESSION *s);
op *rdssh_op_new(rd_ssh *m, enum op_kind kind, const rd_ssh_target *t, const rd_ssh_opts *o);
void rdssh_op_free(op *o);
void rdssh_op_callback(op *o, int status, const char *msg);
void rdssh_op_fail_free(op *o, int status, const char *msg);
void rdssh_kick(host *h);
void rdssh_m_wake(rd_ssh *m);

/* ---- ssh_conn.c */
LIBSSH2_ALLOC_FUNC(rdssh_a_alloc);
conn *rdssh_conn_new(rd_ssh *m, host *h, const tgt *t, long connect_ms);
void rdssh_conn_start(conn *c);
void rdssh_conn_close(conn *c);
void rdssh_conn_step(conn *c);
void rdssh_conn_drop(conn *c);
void rdssh_conn_fail(conn *c, int status, const char *msg);
void rdssh_slot_release(conn *c);
void rdssh_poll_wait(conn *c);
void rdssh_arm(conn *c, long ms, uv_timer_cb cb);
void rdssh_on_op_deadline(uv_timer_t *t);
void rdssh_become_ready(conn *c);

/* ---- ssh_auth.c: ST_DONE logged in, ST_WAIT, ST_FAIL with status/msg */
int rdssh_auth_step(conn *c, int *status, char *msg, size_t msglen);
void rdssh_keys_free(rd_ssh *m);

/* ---- ssh_knownhosts.c */
int rdssh_fingerprint(const unsigned char *blob, size_t len, char *out, size_t outlen);
const char *rdssh_key_type_name(int libssh2_hostkey_type);
int rdssh_hostkey_check(conn *c, char *msg, size_t msglen);
rd_kh_verdict rdssh_kh_match(LIBSSH2_KNOWNHOSTS *kh, const rd_kh_host *h, const rd_kh_key *k,
                             char *expected_fp, size_t fplen);
int rdssh_kh_has_host(LIBSSH2_KNOWNHOSTS *kh, const rd_kh_host *h);
int rdssh_kh_line_useless(const char *line, size_t len);
LIBSSH2_KNOWNHOSTS *rdssh_kh_read(LIBSSH2_SESSION *holder, const char *path, int present,
                                  char *msg, size_t msglen);
void rdssh_khs_free(rd_ssh *m);

/* ---- ssh_hostkey.c */
void rdssh_hostkey_report(conn *c);

/* ---- ssh_exec.c */
int rdssh_exec_step(conn *c, op *o, xstate *x, int *rcp);
void rdssh_op_start(conn *c, op *o);
void rdssh_op_step(conn *c);
int rdssh_exec_like(const op *o);

/* ---- ssh_shell.c */
void rdssh_shell_start(conn *c, op *o);
int rdssh_shell_answered(op *o, xstate *x);
void rdssh_shell_keep(conn *c, op *o);
int rdssh_shell_step(conn *c, xstate *x, int *rcp);
op *rdssh_op_abort(conn *c);

/* ---- ssh_sftp.c */
int rdssh_sftp_step(conn *c, op *o, int *rcp);

#endif
