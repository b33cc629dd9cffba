/* runbook_int.h — private to config/: the loader's context and the helpers
 * the runbook_*.c files share. Callers use runbook.h only.
 *
 * Loading (runbook.c) is one pass over the parsed document that checks every
 * section, reports every problem (not just the first) with the position
 * jsonpos found for it, and fills the immutable rd_runbook at the same time.
 * One file per seam:
 *   runbook.c           rd_runbook_load / free, the top level, cross-checks
 *   runbook_diag.c      rd_diag: collecting, sorting, printing diagnostics
 *   runbook_values.c    typed getters (string, bool, int, duration), paths
 *   runbook_secrets.c   secret references anywhere in the document
 *   runbook_targets.c   'targets': inline hosts or an inventory group
 *   runbook_certs.c     'certificate' or 'certificates', 'together'
 *   runbook_issuer.c    a certificate's selector, 'issuer'
 *   runbook_sections.c  'ssh', 'policy', 'notify'
 *   runbook_steps.c     'steps' and their plugin parameters
 *   runbook_schedule.c  'schedule': intervals, window, waves */
#ifndef RENEWD_RUNBOOK_INT_H
#define RENEWD_RUNBOOK_INT_H
#include <stddef.h>
#include <jansson.h>

#include "config/jsonpos.h"
#include "config/runbook.h"

#define PTR_MAX 1024 /* a JSON pointer's buffer */

typedef struct ld {
  rd_jctx j;
  const rd_registry *reg;
  rd_runbook *rb;
  json_t *root;
  int targets_ok; /* rb->platforms is known */
  int ssh_port;   /* default port for targets */
  int nomem;
} ld;

/* The display name of ptr ("steps[2].params") in buf. */
#define DISP(l, ptr, buf) rd_jctx_display(&(l)->j, (ptr), (buf), sizeof(buf))

/* ---- runbook_values.c ---- */
/* buf = parent + "/" + key (or + "/" + i). */
void rb_child(char *buf, size_t len, const char *parent, const char *key);
void rb_child_i(char *buf, size_t len, const char *parent, size_t i);
/* strdup that records running out of memory in l->nomem. */
char *rb_xstrdup(ld *l, const char *s);
/* obj's member key, reported when required and missing. */
json_t *rb_member(ld *l, const json_t *obj, const char *optr, const char *key, int required);
/* Type check; what is "an object", "a string", ... */
int rb_is_type(ld *l, const json_t *v, const char *ptr, json_type t, const char *what);
/* A non-empty string member, or NULL (reported unless absent and optional). */
const char *rb_get_string(ld *l, const json_t *obj, const char *optr, const char *key,
                          int required);
int rb_get_bool(ld *l, const json_t *obj, const char *optr, const char *key, int def);
long long rb_get_int(ld *l, const json_t *obj, const char *optr, const char *key,
                     long long min, long long max, long long def);
/* Seconds; def when absent, -1 after an error. allow_zero: 0 is valid. */
double rb_get_duration(ld *l, const json_t *obj, const char *optr, const char *key, double def,
                       int allow_zero, int *present);
/* "5m", "2h", "10d", "30s": the largest whole unit. */
void rb_fmt_duration(double s, char *buf, size_t len);
/* dir + "/" + p unless p is absolute; "./" prefixes dropped. */
char *rb_resolve(ld *l, const char *p);
/* s is exactly n hex digits. */
int rb_hex_ok(const char *s, size_t n);
/* u starts with one of schemes, has a host and no spaces or controls. */
int rb_url_ok(const char *u, const char *const *schemes);

/* ---- runbook_secrets.c ---- */
/* Check a {"file"}/{"env"} reference at ptr (reported when report); a
 * relative file is rewritten to an absolute path; ref filled when non-NULL.
 * 0 or -1. */
int rb_secret_ref(ld *l, json_t *v, const char *ptr, const char *key, rd_secret_ref *ref,
                  int report);
/* Every member named like a secret, anywhere under v, must be a reference. */
void rb_walk_secrets(ld *l, json_t *v, char *ptr, size_t cap);

/* ---- runbook_targets.c ---- */
void rb_load_targets(ld *l);
/* The targets are known and all of platform p. */
int rb_platforms_only(const ld *l, rd_platform p);
/* "Windows" or "POSIX": what all the targets are. */
const char *rb_platforms_word(const ld *l);

/* ---- the sections ---- */
void rb_load_certificates(ld *l); /* runbook_certs.c (after rb_load_policy) */
void rb_certs_free(rd_runbook *rb);
/* runbook_issuer.c: a certificate's selector o at ptr */
void rb_check_selector(ld *l, json_t *o, const char *ptr);
/* runbook_sections.c: the policy object o at ptr over p (p holds what
 * applies to the members o lacks) */
void rb_policy_at(ld *l, json_t *o, const char *ptr, rd_policy *p);
/* runbook_steps.c: the steps array a at ptr; cert < 0: the runbook's
 * host-level steps (each may name its "certificate"), else those of
 * certificates[cert]. rb_steps_free frees such a list. */
void rb_steps_at(ld *l, json_t *a, const char *ptr, int cert, rd_step_cfg **out, size_t *n);
void rb_steps_free(rd_step_cfg *steps, size_t n);
void rb_load_issuer(ld *l);      /* runbook_issuer.c */
/* runbook_issuer.c: the issuer types, NULL-terminated; each is renewed by
 * the step kind "<type>.issue" a plugin provides */
extern const char *const rb_issuer_types[];
void rb_load_ssh(ld *l);         /* runbook_sections.c */
void rb_load_policy(ld *l);      /* runbook_sections.c */
void rb_load_notify(ld *l);      /* runbook_sections.c */
void rb_load_steps(ld *l);       /* runbook_steps.c */
void rb_load_schedule(ld *l);    /* runbook_schedule.c */

#endif
