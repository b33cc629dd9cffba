/*
 * renewd/plugin.h — the plugin ABI (version 1). The only public header.
 *
 * A plugin is a shared object exporting one symbol:
 *
 *     const rd_plugin *renewd_plugin_v1(void);
 *
 * The returned descriptor carries a magic number, the ABI version and the
 * sizeof() of the structures it was built with; the loader refuses any
 * mismatch with a sentence that says what to rebuild. A plugin contributes
 * step kinds: named units of work (the runbook's "type" key) with a
 * read-only probe half and mutating apply / verify / rollback halves.
 *
 * Plugins never touch libuv, libcurl or libssh2: they ask the host API to run
 * a remote script, make an HTTP request or do CPU work off the loop. Values
 * travel as jansson json_t (jansson keeps a stable ABI: libjansson4).
 *
 * Asynchrony contract: every phase function either returns a negative error
 * (and the host will not expect a completion) or returns 0 and later calls
 * host->done() exactly once — possibly from inside a host callback, never
 * synchronously from within the phase function itself.
 *
 * Timeouts and late answers: each phase call runs under the step's timeout.
 * When it expires the host (1) calls the kind's cancel hook, if any, (2)
 * cancels the phase's operations in flight (an SSH channel is closed, a
 * curl transfer removed, queued work dropped), (3) completes the phase with
 * RD_ETIMEDOUT and moves on (often to the step's rollback). From then on
 * nothing of that phase call counts, but every callback still runs exactly
 * once, so the plugin can free what it passed: a remote or HTTP callback
 * that comes later runs with RD_ECANCELED and no answer (r->json NULL,
 * empty output), a work's after() with RD_ECANCELED; a done(), set_state(),
 * journal_put() or new request made from such a late callback is ignored
 * or refused (RD_ECANCELED). So a late answer can never complete
 * the next phase of the same step.
 *
 * Errors: functions return 0 or a negative RD_E* code (list below).
 */
#ifndef RENEWD_PLUGIN_H
#define RENEWD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RD_PLUGIN_MAGIC 0x72644b31u /* "rdK1" */
#define RD_PLUGIN_ABI 1u
#define RD_PLUGIN_SYMBOL "renewd_plugin_v1"

/* One list generates the codes, their names and their messages. */
#define RD_ERRNO_MAP(X)                                                        \
  X(EINVAL, -1, "invalid argument")                                            \
  X(ENOMEM, -2, "out of memory")                                               \
  X(EIO, -3, "input/output error")                                             \
  X(ETIMEDOUT, -4, "timed out")                                                \
  X(ECONNREFUSED, -5, "connection refused")                                    \
  X(EAUTH, -6, "authentication failed")                                        \
  X(EHOSTKEY, -7, "host key not trusted")                                      \
  X(EREMOTE, -8, "remote command failed")                                      \
  X(EPROTO, -9, "malformed reply")                                             \
  X(EWHATIF, -10, "change refused in whatif mode")                             \
  X(ENOTFOUND, -11, "not found")                                               \
  X(ECANCELED, -12, "canceled")                                                \
  X(EPENDING, -13, "pending at the certificate authority")                     \
  X(EDENIED, -14, "denied by the certificate authority")                       \
  X(ECONFIG, -15, "configuration error")                                       \
  X(EABI, -16, "plugin ABI mismatch")                                          \
  X(EEXIST, -17, "already exists")                                             \
  X(ENOTSUP, -18, "not supported")                                             \
  X(EBUSY, -19, "busy")                                                        \
  X(EOVERFLOW, -20, "output too large")                                        \
  X(EVERIFY, -21, "verification failed")                                       \
  X(ENETWORK, -22, "network error")                                            \
  X(ECRYPTO, -23, "cryptographic operation failed")                            \
  X(ESTATE, -24, "unexpected state")                                           \
  X(EOPERATOR, -25, "needs an operator")

enum rd_errno {
#define RD_ERRNO_GEN(name, val, msg) RD_##name = (val),
  RD_ERRNO_MAP(RD_ERRNO_GEN)
#undef RD_ERRNO_GEN
  RD_ERRNO_MIN = -25
};

typedef enum rd_platform {
  RD_PLATFORM_ANY = 0,
  RD_PLATFORM_POSIX = 1,
  RD_PLATFORM_WINDOWS = 2
} rd_platform;

typedef enum rd_phase {
  RD_PHASE_PROBE = 0,   /* read-only: what would change (old -> new) */
  RD_PHASE_APPLY = 1,   /* mutating, idempotent */
  RD_PHASE_VERIFY = 2,  /* read-only check that apply took effect */
  RD_PHASE_ROLLBACK = 3 /* mutating: restore the state probe recorded */
} rd_phase;

typedef enum rd_log_level {
  RD_LOG_ERROR = 0,
  RD_LOG_WARN = 1,
  RD_LOG_INFO = 2,
  RD_LOG_DEBUG = 3
} rd_log_level;

/* One invocation of one step kind on one job. Opaque; owned by the host. */
typedef struct rd_step rd_step;

/*
 * A remote script: a constant. Parameters never go into the text; they
 * travel as data (base64 JSON) and the script decodes them on the target.
 * A script marked mutating is refused (RD_EWHATIF) in whatif mode.
 */
typedef struct rd_script {
  const char *name;     /* for logs and --show-scripts, e.g. "posix.key_acl.apply" */
  rd_platform platform; /* RD_PLATFORM_POSIX: /bin/sh; WINDOWS: PowerShell */
  int mutating;         /* non-zero: changes the target */
  int sudo;             /* POSIX: run under `sudo -n` when the runbook allows */
  const char *text;     /* the script itself */
} rd_script;

typedef struct rd_remote_result {
  int exit_status;      /* remote exit status (or -1 if killed by a signal) */
  json_t *json;         /* stdout parsed as one JSON document, or NULL */
  const char *out;      /* raw stdout (NUL-terminated, may be truncated) */
  size_t out_len;
  const char *err;      /* stderr, capped */
} rd_remote_result;

/* status: 0 when the script ran (even with a non-zero exit), else RD_E*. */
typedef void (*rd_remote_cb)(rd_step *s, int status, const rd_remote_result *r,
                             void *arg);

typedef struct rd_http_request {
  const char *method;        /* "GET" or "POST" */
  const char *url;
  const char *content_type;  /* POST only */
  const unsigned char *body; /* copied by the host */
  size_t body_len;
  long timeout_ms;           /* 0: the step's timeout */
} rd_http_request;

typedef struct rd_http_response {
  long status;               /* HTTP status code */
  const char *content_type;
  const unsigned char *body;
  size_t body_len;
} rd_http_response;

typedef void (*rd_http_cb)(rd_step *s, int status, const rd_http_response *r,
                           void *arg);

/* Off-loop work: fn runs on a worker thread, after() on the loop. */
typedef void (*rd_work_fn)(void *arg);
typedef void (*rd_after_fn)(rd_step *s, int status, void *arg);

/*
 * The host API. Append-only: new members go at the end and `size` grows. A
 * plugin that needs a newer member checks size before calling it.
 */
typedef struct rd_host_api {
  size_t size;
  uint32_t abi;

  /* --- the step's context --- */
  const json_t *(*params)(rd_step *s);      /* the step's "params" object */
  const char *(*host)(rd_step *s);          /* target name, e.g. "web17" */
  rd_platform (*platform)(rd_step *s);
  int (*whatif)(rd_step *s);                /* non-zero in plan / --whatif */
  /* Job facts: one JSON object shared by the job's steps, e.g. "cert" (the
   * live certificate as inventoried), "new_cert", "paths". Borrowed. */
  json_t *(*facts)(rd_step *s);
  /* The runbook's "certificate" / "issuer" / "policy" / "ssh" / "schedule" sections and its
   * "steps" array (as written: type, name, params). Borrowed. */
  const json_t *(*section)(rd_step *s, const char *name);
  void (*log)(rd_step *s, rd_log_level level, const char *fmt, ...)
      __attribute__((format(printf, 3, 4)));

  /* --- per-step private state, freed by the host with free_fn --- */
  void (*set_data)(rd_step *s, void *data, void (*free_fn)(void *));
  void *(*data)(rd_step *s);

  /* --- durable per-job values (journal), survive a crash --- */
  int (*journal_put)(rd_step *s, const char *key, const json_t *value);
  json_t *(*journal_get)(rd_step *s, const char *key); /* new ref or NULL */
  /* Ask the engine to advance the job through the issuer's CA transaction:
   * "KEY_READY", "REQUESTED" or "PENDING_CA", committed to the journal
   * before this returns (0; also in whatif, where nothing is recorded).
   * The engine decides: any other state (ISSUED, DONE, FAILED...) is its
   * own, and an illegal move is refused (RD_ESTATE, logged); from a phase
   * that is over (timed out) RD_ECANCELED. RD_EINVAL: unknown name. */
  int (*set_state)(rd_step *s, const char *state);

  /* --- remote execution, HTTP, CPU work --- */
  /* params is stolen (may be NULL). */
  int (*remote)(rd_step *s, const rd_script *script, json_t *params,
                rd_remote_cb cb, void *arg);
  int (*http)(rd_step *s, const rd_http_request *req, rd_http_cb cb,
              void *arg);
  int (*work)(rd_step *s, rd_work_fn fn, rd_after_fn after, void *arg);
  /* Read a secret named by a {"file": ...} or {"env": ...} object. The
   * caller frees the result with free(); never log it. */
  int (*secret)(rd_step *s, const json_t *ref, char **out, size_t *len);

  /* --- completion: exactly once per phase call --- */
  /* result (stolen, may be NULL): {"changes": [{"what":..,"old":..,"new":..}],
   * "detail": ...}. msg: one line naming the subject, for the report. */
  void (*done)(rd_step *s, int status, json_t *result, const char *msg);

  const char *(*strerror)(int err);

  /* Parse a PEM (or DER) certificate into facts: {"subject", "issuer",
   * "serial", "serial_reversed", "sha1", "sha256", "spki_sha256" (of the
   * public key's DER: what `openssl pkey -pubout -outform DER | sha256sum`
   * gives for the matching key), "not_before", "not_after" (epoch seconds), "sans": [...], "key_type", "key_bits",
   * "template": {...}, "pem"}. *out is a new reference. */
  int (*cert_facts)(const unsigned char *data, size_t len, json_t **out);

  /* done() with a printf-style message, prefixed with the host's name
   * ("web17: ..."): the form every report line takes. */
  void (*donef)(rd_step *s, int status, json_t *result, const char *fmt, ...)
      __attribute__((format(printf, 4, 5)));
  /* Base64 (standard alphabet, padded, no newlines). encode returns a
   * malloc'd NUL-terminated string (NULL: out of memory); decode returns 0
   * or RD_EPROTO / RD_ENOMEM and a malloc'd buffer. */
  char *(*b64_encode)(const void *data, size_t len);
  int (*b64_decode)(const char *text, unsigned char **out, size_t *len);
  /* A response header of an HTTP answer (r as passed to an rd_http_cb,
   * during that callback): the first one named name (case-insensitive),
   * its value without surrounding blanks, into out. 0, RD_ENOTFOUND,
   * RD_EOVERFLOW (out too small) or RD_EINVAL (no name or no out). ACME
   * needs Replay-Nonce, Location and Retry-After. The header lines kept
   * are the final response's first 16 KiB. Appended after b64_decode: a
   * plugin built with this header asks for a host API this large
   * (host_api_min), so an older host refuses it rather than calling past
   * the table's end. */
  int (*http_header)(const rd_http_response *r, const char *name, char *out, size_t outlen);
  /* The same for the index-th (from 0) header named name, for headers that
   * come more than once (ACME's Link: rel="alternate"). Appended after
   * http_header, as above. */
  int (*http_header_at)(const rd_http_response *r, const char *name, size_t index, char *out,
                        size_t outlen);
} rd_host_api;

/* Results: {"changes": [{"what", "old", "new"}]}. Header-only helpers so
 * that every plugin builds its results the same way. */
static inline json_t *rd_result_new(void) { return json_pack("{s:[]}", "changes"); }
static inline void rd_result_change(json_t *result, const char *what, const char *old_value,
                                    const char *new_value) {
  json_array_append_new(json_object_get(result, "changes"),
                        json_pack("{s:s, s:o, s:o}", "what", what, "old",
                                  old_value ? json_string(old_value) : json_null(), "new",
                                  new_value ? json_string(new_value) : json_null()));
}

typedef int (*rd_phase_fn)(rd_step *s, const rd_host_api *host);

/* rd_step_kind.flags */
#define RD_KIND_INVENTORY 0x1u /* finds the live certificate: sets facts "cert" */
#define RD_KIND_ISSUER 0x2u    /* obtains the new certificate: sets "new_cert" */
#define RD_KIND_INSTALL 0x4u   /* puts the new certificate in place */
#define RD_KIND_RESTART 0x8u   /* re-applied after a rollback (service reloads) */
#define RD_KIND_CHECK 0x10u    /* verification: re-run after a rollback with
                                  facts "expect" = the old certificate */
#define RD_KIND_WINDOW 0x20u   /* an issuer whose CA may suggest the renewal
                                  window (ACME ARI): its probe runs before the
                                  due decision, also for a certificate not due,
                                  and sets facts "renew_window" (core/schedule.h) */

typedef struct rd_step_kind {
  const char *type;      /* runbook key, "<plugin>.<name>", e.g. "posix.key_acl" */
  const char *summary;   /* one line for `renewd validate --list-steps` */
  rd_platform platform;  /* where it runs; RD_PLATFORM_ANY for orchestrator-side */
  unsigned flags;        /* RD_KIND_* */
  /* Validate the step's params at load time (synchronous, no I/O). On error
   * write one sentence into err: what is wrong and what is expected. */
  int (*validate)(const json_t *params, char *err, size_t errlen);
  /* Required. Read-only. A probe that finds its apply cannot succeed (a
   * config file without the current certificate's thumbprint, a missing
   * service) completes with a non-zero status (RD_ENOTFOUND, RD_ECONFIG...)
   * and one sentence naming the cause: the engine runs every step's probe
   * before the issuer's apply (the pre-flight), so that failure stops the
   * job before the CA is contacted (not for a kind without apply: a pure
   * check's verify after the install decides). Probes also run before the
   * new certificate exists outside whatif: no facts.new_cert, facts.staged
   * or facts.installed yet is "not yet" (show "(new certificate)"), never
   * a failure. See docs/PLUGINS.md, "The pre-flight". */
  rd_phase_fn probe;
  rd_phase_fn apply;     /* NULL: nothing to apply */
  rd_phase_fn verify;    /* NULL: apply is its own verification */
  rd_phase_fn rollback;  /* NULL: nothing to undo */
  /* May be NULL. Called once when a phase call timed out, before its
   * operations are canceled and before the step's next phase starts: the
   * plugin's notice that the callbacks of that phase call will carry no
   * answer (see "Timeouts and late answers" above; they still run, with
   * RD_ECANCELED). Give back here what must not wait for them (a place in
   * a CA's queue); per-call arguments are freed in the callbacks.
   * Synchronous; a done() from it is ignored; it must not start requests. */
  void (*cancel)(rd_step *s, const rd_host_api *host);
} rd_step_kind;

typedef struct rd_plugin {
  uint32_t magic;        /* RD_PLUGIN_MAGIC */
  uint32_t abi;          /* RD_PLUGIN_ABI */
  size_t plugin_size;    /* sizeof(rd_plugin) */
  size_t kind_size;      /* sizeof(rd_step_kind) */
  size_t host_api_min;   /* smallest host API size this plugin needs */
  const char *name;      /* "posix" */
  const char *version;
  const rd_step_kind *const *kinds; /* NULL-terminated */
} rd_plugin;

/* Convenience for plugin authors: fills the fixed fields. */
#define RD_PLUGIN_INIT(name_, version_, kinds_)                                \
  { RD_PLUGIN_MAGIC, RD_PLUGIN_ABI, sizeof(rd_plugin), sizeof(rd_step_kind),   \
    sizeof(rd_host_api), (name_), (version_), (kinds_) }

typedef const rd_plugin *(*rd_plugin_entry)(void);

#ifdef __cplusplus
}
#endif
#endif /* RENEWD_PLUGIN_H */
