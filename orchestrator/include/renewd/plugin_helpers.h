/*
 * renewd/plugin_helpers.h — header-only helpers every plugin shares, so that
 * step kinds check parameters and report findings the same way without
 * copying code between plugins. Only renewd/plugin.h (and jansson) needed.
 * (validate() runs at load time with no host API, hence a header, not the
 * host API table.)
 */
#ifndef RENEWD_PLUGIN_HELPERS_H
#define RENEWD_PLUGIN_HELPERS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "renewd/plugin.h"

/* params must be an object whose keys are all in allowed (NULL-terminated;
 * NULL: the kind takes no parameters). On error one sentence in err:
 * `type: unknown parameter "x" (expected "a", "b")`. */
static inline int rd_check_keys(const json_t *params, const char *type,
                                const char *const *allowed, char *err, size_t errlen) {
  const char *k;
  const json_t *v;
  if (params && !json_is_object(params)) {
    snprintf(err, errlen, "%s: params must be an object", type);
    return RD_EINVAL;
  }
  json_object_foreach((json_t *)params, k, v) {
    size_t i;
    (void)v;
    for (i = 0; allowed && allowed[i] && strcmp(allowed[i], k); i++)
      ;
    if (!allowed || !allowed[i]) {
      char list[256] = "";
      for (i = 0; allowed && allowed[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                 allowed[i]);
      if (*list)
        snprintf(err, errlen, "%s: unknown parameter \"%s\" (expected %s)", type, k, list);
      else
        snprintf(err, errlen, "%s: takes no parameters, but \"%s\" was given", type, k);
      return RD_EINVAL;
    }
  }
  return 0;
}

/* facts.problems (an array, created if missing) without the findings an
 * earlier run of step kind `type` left there: a re-probe replaces them. */
static inline json_t *rd_problems_reset(json_t *facts, const char *type) {
  json_t *p = json_object_get(facts, "problems");
  size_t i;
  if (!json_is_array(p)) {
    p = json_array();
    json_object_set_new(facts, "problems", p);
  }
  for (i = json_array_size(p); i-- > 0;) {
    const char *step = json_string_value(json_object_get(json_array_get(p, i), "step"));
    if (step && !strcmp(step, type))
      json_array_remove(p, i);
  }
  return p;
}

/* Append one finding {"what", "detail", "step"} to problems. */
static inline void rd_problem(json_t *problems, const char *type, const char *what,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline void rd_problem(json_t *problems, const char *type, const char *what,
                              const char *fmt, ...) {
  char detail[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  json_array_append_new(problems,
                        json_pack("{s:s, s:s, s:s}", "what", what, "detail", detail, "step", type));
}

/* The tail of a command's stderr as one line: newlines -> " | ", other
 * control characters -> spaces, at most the last 400 bytes. */
static inline void rd_one_line(const char *in, char *out, size_t outlen) {
  size_t n = in ? strlen(in) : 0, o = 0;
  while (n && (in[n - 1] == '\n' || in[n - 1] == '\r' || in[n - 1] == ' '))
    n--;
  const char *p = in ? in + (n > 400 ? n - 400 : 0) : "";
  const char *end = in ? in + n : p;
  for (; p < end && o + 4 < outlen; p++) {
    if (*p == '\n') {
      memcpy(out + o, " | ", 3);
      o += 3;
    } else {
      out[o++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
    }
  }
  out[o] = 0;
}

/* Run a script and hand its output object to ok(); every other outcome
 * (transport error, non-zero exit, no object) completes the phase with one
 * sentence naming the script: "posix.key_acl.apply: chown: ... (exit 1)".
 * params is stolen. Returns 0 (a completion follows) or a negative RD_E*
 * (none follows), e.g. RD_EWHATIF for a mutating script in whatif. */
typedef void (*rd_remote_ok_fn)(rd_step *s, const rd_host_api *h, const json_t *out);
/* The same with an argument of the caller's (rd_remote_ok_arg). */
typedef void (*rd_remote_ok_arg_fn)(rd_step *s, const rd_host_api *h, const json_t *out,
                                    const void *arg);

typedef struct rd_remote_ok_ctx {
  const rd_host_api *h;
  const rd_script *sc;
  rd_remote_ok_fn ok;
  rd_remote_ok_arg_fn ok_arg; /* instead of ok, with arg */
  const void *arg;
} rd_remote_ok_ctx;

static inline void rd_remote_ok_cb(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  rd_remote_ok_ctx t = *(rd_remote_ok_ctx *)arg;
  char line[512];
  free(arg);
  if (status < 0) {
    /* the transport's sentence names the cause ("ssh connect ADDR:
     * connection refused"); without one, the code's name */
    rd_one_line(r ? r->err : NULL, line, sizeof line);
    t.h->donef(s, status, NULL, "%s: %s", t.sc->name, *line ? line : t.h->strerror(status));
  } else if (!r) {
    t.h->donef(s, RD_EPROTO, NULL, "%s: no result", t.sc->name);
  } else if (r->exit_status != 0) {
    rd_one_line(r->err, line, sizeof line);
    t.h->donef(s, RD_EREMOTE, NULL, "%s: %s (exit %d)", t.sc->name, *line ? line : "failed",
               r->exit_status);
  } else if (!json_is_object(r->json)) {
    t.h->donef(s, RD_EPROTO, NULL, "%s: the target's output is not a result object",
               t.sc->name);
  } else if (t.ok_arg) {
    t.ok_arg(s, t.h, r->json, t.arg);
  } else {
    t.ok(s, t.h, r->json);
  }
}

static inline int rd_remote_ok_start(rd_step *s, const rd_host_api *h, const rd_script *sc,
                                     json_t *params, rd_remote_ok_fn ok,
                                     rd_remote_ok_arg_fn ok_arg, const void *arg) {
  rd_remote_ok_ctx *t;
  int rc;
  if (sc->mutating && h->whatif(s)) {
    json_decref(params);
    return RD_EWHATIF;
  }
  if (!(t = (rd_remote_ok_ctx *)malloc(sizeof *t))) {
    json_decref(params);
    return RD_ENOMEM;
  }
  t->h = h;
  t->sc = sc;
  t->ok = ok;
  t->ok_arg = ok_arg;
  t->arg = arg;
  /* the callback may run (and free t) before remote() returns */
  rc = h->remote(s, sc, params ? params : json_object(), rd_remote_ok_cb, t);
  if (rc < 0)
    free(t);
  return rc < 0 ? rc : 0;
}

static inline int rd_remote_ok(rd_step *s, const rd_host_api *h, const rd_script *sc,
                               json_t *params, rd_remote_ok_fn ok) {
  return rd_remote_ok_start(s, h, sc, params, ok, NULL, NULL);
}

/* rd_remote_ok with an argument of the caller's for ok (it must outlive the
 * call: a static table, say). */
static inline int rd_remote_ok_arg(rd_step *s, const rd_host_api *h, const rd_script *sc,
                                   json_t *params, rd_remote_ok_arg_fn ok, const void *arg) {
  return rd_remote_ok_start(s, h, sc, params, NULL, ok, arg);
}

/* rd_remote_ok from inside a completion chain: an immediate error (e.g. a
 * mutating script in whatif) completes the phase. */
static inline void rd_remote_next(rd_step *s, const rd_host_api *h, const rd_script *sc,
                                  json_t *params, rd_remote_ok_fn ok) {
  int rc = rd_remote_ok(s, h, sc, params, ok);
  if (rc < 0)
    h->donef(s, rc, NULL, "%s: %s", sc->name, h->strerror(rc));
}

/* --- record old -> apply -> verify -> roll back ----------------------------
 * The skeleton of a step kind that replaces one value on the target (a
 * registry value, a binding, a config file's thumbprint) and can put the
 * old one back:
 *   apply:    a record from an earlier run is in the journal: write it again
 *             (idempotent: the run crashed or timed out after journaling).
 *             Else read the current state (ops->read, optional), make the
 *             record from it (ops->record: {"old"/"found", "new", ...}, or
 *             NULL after completing: already done, refused), journal it
 *             BEFORE the write, then write (ops->set, forward).
 *   verify:   the kind's own (it reads and compares).
 *   rollback: no record: never changed, nothing to restore. Else the same
 *             guarded write backward (new -> old).
 * The kind keeps its own preconditions (whatif, "no new certificate yet")
 * before calling rd_swap_apply, and its own result messages (ops->applied,
 * ops->restored get the write's output). Every callback re-derives the
 * step's configuration from (s, h): ops is a static table. */
typedef struct rd_swap_ops {
  /* The journal key of the record and the subject that opens messages
   * ("config /etc/app.conf", "IIS 'Default Web Site' https/443"). */
  void (*names)(rd_step *s, const rd_host_api *h, char *jkey, size_t jlen, char *subject,
                size_t slen);
  const rd_script *read;                                   /* NULL: no read */
  json_t *(*read_args)(rd_step *s, const rd_host_api *h);  /* new reference */
  /* out: the read's output (NULL without a read). NULL: completed. */
  json_t *(*record)(rd_step *s, const rd_host_api *h, const json_t *out);
  const rd_script *set;
  /* The write's arguments from the record: forward (old -> new) or
   * backward (new -> old). New reference. */
  json_t *(*set_args)(rd_step *s, const rd_host_api *h, const json_t *rec, int backward);
  rd_remote_ok_fn applied, restored;
} rd_swap_ops;

/* Journal rec (stolen) and start the forward write. Returns 0 (a
 * completion follows, or came already) or a negative RD_E* (none). */
static inline int rd_swap_record_write(rd_step *s, const rd_host_api *h, const rd_swap_ops *o,
                                       json_t *rec) {
  char jkey[1500], subject[1500];
  json_t *args;
  int rc;
  o->names(s, h, jkey, sizeof jkey, subject, sizeof subject);
  /* durable before the write: the rollback restores exactly what was found */
  rc = h->journal_put(s, jkey, rec);
  if (rc < 0) {
    json_decref(rec);
    h->donef(s, rc, NULL, "%s: cannot journal the old value: %s", subject, h->strerror(rc));
    return 0;
  }
  args = o->set_args(s, h, rec, 0);
  json_decref(rec);
  return rd_remote_ok(s, h, o->set, args, o->applied);
}

static inline void rd_swap_read_done(rd_step *s, const rd_host_api *h, const json_t *out,
                                     const void *arg) {
  const rd_swap_ops *o = (const rd_swap_ops *)arg;
  json_t *rec = o->record(s, h, out);
  int rc;
  if (rec && (rc = rd_swap_record_write(s, h, o, rec)) < 0)
    h->donef(s, rc, NULL, "%s: %s", o->set->name, h->strerror(rc));
}

static inline int rd_swap_apply(rd_step *s, const rd_host_api *h, const rd_swap_ops *o) {
  char jkey[1500], subject[1500];
  json_t *rec, *args;
  o->names(s, h, jkey, sizeof jkey, subject, sizeof subject);
  if ((rec = h->journal_get(s, jkey))) { /* a re-run: finish the journaled write */
    args = o->set_args(s, h, rec, 0);
    json_decref(rec);
    return rd_remote_ok(s, h, o->set, args, o->applied);
  }
  if (!o->read)
    return (rec = o->record(s, h, NULL)) ? rd_swap_record_write(s, h, o, rec) : 0;
  return rd_remote_ok_arg(s, h, o->read, o->read_args(s, h), rd_swap_read_done, o);
}

static inline int rd_swap_rollback(rd_step *s, const rd_host_api *h, const rd_swap_ops *o) {
  char jkey[1500], subject[1500];
  json_t *rec, *args;
  o->names(s, h, jkey, sizeof jkey, subject, sizeof subject);
  if (!(rec = h->journal_get(s, jkey))) {
    h->donef(s, 0, NULL, "%s: never changed, nothing to restore", subject);
    return 0;
  }
  /* new -> old: the same guarded write, the other way round */
  args = o->set_args(s, h, rec, 1);
  json_decref(rec);
  return rd_remote_ok(s, h, o->set, args, o->restored);
}

/* `<platform>.doctor` kinds (docs/PLUGINS.md): validate() refuses every
 * runbook that lists one (renewd doctor adds it itself), and each finding is
 * one {"check", "ok", "message", "fix"} of the result's "checks" (fix only
 * for a failed one). */
static inline int rd_doctor_refuse(const char *type, char *err, size_t errlen) {
  snprintf(err, errlen,
           "%s is renewd doctor's own check, not a runbook step: run 'renewd doctor RUNBOOK'",
           type);
  return RD_EINVAL;
}
static inline void rd_doctor_check(json_t *checks, const char *name, int ok, const char *msg,
                                   const char *fix) {
  json_array_append_new(checks, json_pack("{s:s, s:b, s:s, s:s?}", "check", name, "ok", ok,
                                          "message", msg, "fix", ok ? NULL : fix));
}

#endif /* RENEWD_PLUGIN_HELPERS_H */
