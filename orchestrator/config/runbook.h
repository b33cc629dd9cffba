/* runbook.h — declarative JSON runbooks, parsed with jansson into immutable
 * structs and validated with file:line:column diagnostics. Format:
 * docs/RUNBOOKS.md; JSON Schema: runbooks/schema.json. */
#ifndef RENEWD_RUNBOOK_H
#define RENEWD_RUNBOOK_H
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>
#include "config/secret.h" /* rd_secret_ref, rd_secret_read */
#include "host/registry.h"
#include "core/schedule.h"
#include "renewd/plugin.h"

/* Diagnostics collected while loading: every error, not just the first. */
typedef struct rd_diag_item {
  char *file;
  int line, column; /* 1-based; 0 when unknown */
  char *msg;        /* "what is wrong, what is expected" */
} rd_diag_item;

typedef struct rd_diag {
  rd_diag_item *items;
  size_t n, cap;
} rd_diag;

void rd_diag_add(rd_diag *d, const char *file, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Print as "file:line:column: msg" lines. */
void rd_diag_print(const rd_diag *d, FILE *f);
void rd_diag_free(rd_diag *d);

typedef struct rd_target {
  char *name;        /* "web17" */
  char *address;     /* host name or IP */
  int port;          /* ssh port, default 22 */
  rd_platform platform;
  json_t *vars;      /* per-host variables (object, never NULL) */
} rd_target;

typedef struct rd_ssh_cfg {
  char *user;
  char *identity;            /* private key file (ed25519/ecdsa) */
  rd_secret_ref passphrase;  /* optional */
  char *known_hosts;         /* required: host keys are always checked */
  int agent;                 /* try ssh-agent ($SSH_AUTH_SOCK) */
  int sudo;                  /* POSIX: run mutating scripts under sudo -n */
  long connect_timeout_ms;   /* default 10000 */
  long command_timeout_ms;   /* default 120000 */
} rd_ssh_cfg;

/* When a certificate is due (rd_due() in schedule.h): renew_before_days
 * when it is set (> 0), else renew_fraction of the lifetime. With neither
 * key in the runbook: renew_fraction = 1/3; with only renew_before:
 * renew_fraction = 0; with both, renew_before decides. */
typedef struct rd_policy {
  double renew_before_days;  /* 0: not used */
  double renew_fraction;     /* remaining fraction of lifetime; 0: not used */
  char *key_type;            /* "rsa" (default) or "ec" */
  int key_bits;              /* rsa: 2048 default */
  char *curve;               /* ec: "P-256" default */
  int rotate_key;            /* default 1 */
} rd_policy;

typedef struct rd_step_cfg {
  char *type;                /* "posix.key_acl" */
  char *name;                /* display name; defaults to type */
  json_t *params;            /* object, never NULL */
  long timeout_ms;           /* default 120000 */
  const rd_step_kind *kind;  /* resolved from the registry */
  int line, column;          /* where the step was declared */
  int cert;                  /* host-level step bound to certificates[cert] by its
                                "certificate" member; -1 unbound (a per-certificate
                                step: the index of its certificate) */
} rd_step_cfg;

/* One certificate of a runbook: 'certificate' (the one-item form) or an
 * item of 'certificates'. Its steps run right after its install; the
 * runbook's 'steps' run once after every certificate of the job. */
typedef struct rd_cert_cfg {
  char *name;                /* "rsa"; NULL in the one-item form */
  json_t *selector;          /* POSIX {"cert", "key", "chain"}; Windows {...} */
  json_t *policy_json;       /* the 'policy' its steps see: the runbook's with this
                                certificate's own members over it */
  rd_policy policy;
  rd_step_cfg *steps;        /* per-certificate steps, in order */
  size_t nsteps;
  int line, column;          /* where the certificate was declared */
} rd_cert_cfg;

typedef struct rd_schedule {
  long scan_interval_s;      /* default 3600 */
  long jitter_s;             /* default scan_interval/10 */
  char *window;              /* maintenance window, e.g. "Mon-Fri 01:00-05:00"; NULL: always */
  int max_parallel;          /* default 16 */
  json_t *waves;             /* array of int or "N%" strings, or NULL; checked
                                with rd_waves() (schedule.h): cumulative, last "100%" */
  rd_window win;             /* window parsed by rd_window_parse (schedule.h);
                                win.always when no window is set */
} rd_schedule;

typedef struct rd_runbook {
  char *path;
  char *name;
  rd_target *targets;
  size_t ntargets;
  rd_ssh_cfg ssh;
  json_t *certificate;       /* the first certificate's selector (certs[0].selector) */
  rd_cert_cfg *certs;        /* 'certificate' (one) or 'certificates' (several) */
  size_t ncerts;
  int multi;                 /* the 'certificates' form: journal values and
                                reports carry each certificate's name */
  int together;              /* 'together': one due certificate renews them all */
  json_t *issuer;            /* {"type": "scep", ...} */
  rd_policy policy;
  rd_step_cfg *steps;        /* host-level follow-ups and verification, in order,
                                once per job after every certificate */
  size_t nsteps;
  rd_schedule schedule;
  json_t *notify;            /* or NULL */
  json_t *root;              /* the whole document; relative {"file": ...} paths
                                rewritten to absolute ones */
  char *dir;                 /* absolute directory of the runbook: relative paths
                                (inventory, identity, known_hosts, {"file": ...})
                                resolve against it */
  char *inventory;           /* absolute inventory path, or NULL (inline hosts) */
  char *group;               /* inventory group ("all" by default), or NULL */
  unsigned platforms;        /* bit (1 << RD_PLATFORM_*) for each target platform */
  json_t *target_index;      /* target name -> index into targets */
} rd_runbook;

/* Load and validate. reg may be NULL (step types then go unchecked). On
 * failure returns RD_ECONFIG with every problem in diag. */
int rd_runbook_load(const char *path, const rd_registry *reg, rd_runbook **out, rd_diag *diag);
void rd_runbook_free(rd_runbook *rb);
const rd_target *rd_runbook_target(const rd_runbook *rb, const char *name);

/* Durations: "500ms", "30s", "5m", "2h", "10d" (one number, one unit; the
 * number may have a fraction) or a JSON number of seconds. */
int rd_duration_parse(const char *s, double *seconds);
/* Sort the items from index `from` on by file, line, column (stable). */
void rd_diag_sort(rd_diag *d, size_t from);

#endif
