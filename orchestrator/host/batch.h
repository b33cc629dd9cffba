/* batch.h — one remote execution for the scripts of several steps of one
 * host (host/batch.c), and what the host API shares with it.
 *
 * The engine corks a job (rd_host_cork) while it starts the same phase of
 * several steps; the POSIX (and Windows) scripts those steps submit
 * meanwhile wait, and rd_host_uncork sends them as one batch
 * (transport/remote.h: one channel, one sudo, one shell — on Windows one
 * powershell.exe; each script with its own parameters as data, its answer
 * framed). Each step still gets exactly its own answer, status and
 * error through its own callback, in the order the scripts were submitted,
 * and the phase serials work as ever: a step that timed out gets its late
 * answer with RD_ECANCELED. One script alone goes out as it always did,
 * or as a request of one in the session shell. */
#ifndef RENEWD_HOST_BATCH_H
#define RENEWD_HOST_BATCH_H
#include "core/engine_int.h"
#include "transport/remote.h"
#include "transport/ssh.h"

struct rd_batch;

/* One remote script a step asked for (hostapi.c). */
typedef struct rd_remote_call {
  rd_call call;           /* first: the step's list of calls */
  const rd_script *script;
  json_t *trace_params;   /* redacted copy, only when tracing */
  json_t *params;         /* kept while it waits in a cork */
  rd_remote_cmd cmd;      /* what it runs alone */
  int sudo;               /* under sudo -n */
  rd_remote_cb cb;
  void *arg;
  struct rd_batch *batch; /* sent in this batch, or NULL */
  unsigned long trip;     /* which round trip carried it (trace) */
  struct rd_remote_call *held_next;
} rd_remote_call;

/* The job's cork: calls held until rd_host_uncork -- or, when the job's
 * journal writes are still on their way then (deferred), until they are
 * committed (rd_host_uncork_deferred): the calls held for those writes
 * (core/jobwrite.c) join the same batch instead of a round trip of their
 * own. */
struct rd_cork {
  int depth;
  int deferred;
  rd_remote_call *head, **tail;
};

/* hostapi.c: send one call alone; its completion (trace, stale check,
 * parse, the plugin's callback, free). */
void rd_host_remote_send(rd_remote_call *c);
void rd_host_remote_done(const rd_exec_result *r, void *arg);
/* hostapi.c: c answered with err, never sent ("host H: not sent: WHY"). */
void rd_host_remote_unsent(rd_remote_call *c, int err, const char *why);
int rd_host_call_stale(const rd_call *c);
unsigned long rd_host_next_trip(void);

/* batch.c */
/* The session shell (on unless RENEWD_REMOTE_SESSION=0): every batch
 * and every POSIX script of a job goes to one long-lived shell on its host
 * (transport/ssh.h: rd_ssh_shell), one request per batch. */
int rd_batch_session_on(void);
/* Windows batches (transport/remote.h: rd_remote_build_win_batch, one
 * powershell.exe per batch) are on unless RENEWD_WINDOWS_BATCH=0. */
int rd_batch_windows_on(void);
int rd_batch_session_send(rd_job *j, rd_remote_call *c, int *rc);
void rd_host_cork(rd_job *j);
void rd_host_uncork(rd_job *j);
/* The job's journal writes committed (err 0: a cork whose uncork waited
 * for them goes now) or one failed (err: its calls are answered with err,
 * never sent) -- core/jobwrite.c. */
void rd_host_uncork_deferred(rd_job *j, int err);
/* 1: held by the job's cork (sent at uncork), 0: not corked. */
int rd_batch_hold(rd_job *j, rd_remote_call *c);
/* A batched call's phase timed out: the batch's channel is closed only when
 * no other step still waits for it; otherwise this answer is dropped as
 * late. 0 or RD_ENOTFOUND / the transport's error. */
int rd_batch_cancel(rd_remote_call *c);

#endif
