/* runbook.c — see runbook.h; the format is described in docs/RUNBOOKS.md.
 *
 * Loading is one pass over the parsed document that checks every section,
 * reports every problem (not just the first) with the position jsonpos found
 * for it, and fills the immutable rd_runbook at the same time. */
#include "config/runbook.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/err.h"
#include "config/inventory.h"
#include "config/jsonpos.h"
#include "base/util.h"

#define RUNBOOK_MAX (4u << 20)
#define PTR_MAX 1024

/* ------------------------------------------------------------ diagnostics */

void rd_diag_add(rd_diag *d, const char *file, int line, int column, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  rd_diag_item *it;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (!d)
    return;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 16;
    rd_diag_item *ni = realloc(d->items, cap * sizeof *ni);
    if (!ni)
      return;
    d->items = ni;
    d->cap = cap;
  }
  it = &d->items[d->n];
  it->file = strdup(file ? file : "-");
  it->msg = strdup(buf);
  it->line = line;
  it->column = column;
  if (!it->file || !it->msg) {
    free(it->file);
    free(it->msg);
    return;
  }
  d->n++;
}

void rd_diag_print(const rd_diag *d, FILE *f) {
  for (size_t i = 0; d && i < d->n; i++) {
    const rd_diag_item *it = &d->items[i];
    if (it->line > 0)
      fprintf(f, "%s:%d:%d: %s\n", it->file, it->line, it->column, it->msg);
    else
      fprintf(f, "%s: %s\n", it->file, it->msg);
  }
}

void rd_diag_free(rd_diag *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->n; i++) {
    free(d->items[i].file);
    free(d->items[i].msg);
  }
  free(d->items);
  memset(d, 0, sizeof *d);
}

/* Files keep the order of their first diagnostic; within a file, by position. */
void rd_diag_sort(rd_diag *d, size_t from) {
  size_t n;
  int *rank;
  if (!d || from >= d->n)
    return;
  n = d->n - from;
  if (!(rank = malloc(n * sizeof *rank)))
    return;
  for (size_t i = 0; i < n; i++) {
    rank[i] = (int)i;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(d->items[from + j].file, d->items[from + i].file)) {
        rank[i] = rank[j];
        break;
      }
  }
  for (size_t i = 1; i < n; i++) { /* insertion sort: stable, n is small */
    rd_diag_item it = d->items[from + i];
    int r = rank[i];
    size_t j = i;
    while (j > 0) {
      const rd_diag_item *p = &d->items[from + j - 1];
      int pr = rank[j - 1];
      if (pr < r || (pr == r && (p->line < it.line ||
                                 (p->line == it.line && p->column <= it.column))))
        break;
      d->items[from + j] = *p;
      rank[j] = pr;
      j--;
    }
    d->items[from + j] = it;
    rank[j] = r;
  }
  free(rank);
}

/* ------------------------------------------------------------ durations, windows */

int rd_duration_parse(const char *s, double *seconds) {
  const char *p = s;
  char *end;
  double v, mul;
  /* digits, optionally '.' and more digits, then the unit: the schema's
   * ^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$ */
  if (!s || !(*p >= '0' && *p <= '9'))
    return RD_EINVAL;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p == '.') {
    if (!(p[1] >= '0' && p[1] <= '9'))
      return RD_EINVAL;
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  }
  errno = 0;
  v = strtod(s, &end);
  if (end != p || errno || !isfinite(v))
    return RD_EINVAL;
  if (!strcmp(p, "ms"))
    mul = 0.001;
  else if (!strcmp(p, "s"))
    mul = 1;
  else if (!strcmp(p, "m"))
    mul = 60;
  else if (!strcmp(p, "h"))
    mul = 3600;
  else if (!strcmp(p, "d"))
    mul = 86400;
  else
    return RD_EINVAL;
  *seconds = v * mul;
  return 0;
}

/* ------------------------------------------------------------ loader context */

typedef struct ld {
  rd_jctx j;
  const rd_registry *reg;
  rd_runbook *rb;
  json_t *root;
  int targets_ok; /* rb->platforms is known */
  int ssh_port;   /* default port for targets */
  int nomem;
} ld;

#define DISP(l, ptr, buf) rd_jctx_display(&(l)->j, (ptr), (buf), sizeof(buf))

static void child(char *buf, size_t len, const char *parent, const char *key) {
  snprintf(buf, len, "%s", parent);
  rd_jsonptr_push(buf, len, key);
}

static void child_i(char *buf, size_t len, const char *parent, size_t i) {
  snprintf(buf, len, "%s", parent);
  rd_jsonptr_push_index(buf, len, i);
}

static char *xstrdup(ld *l, const char *s) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d)
    l->nomem = 1;
  return d;
}

/* A member, reporting it when required and missing. */
static json_t *member(ld *l, const json_t *obj, const char *optr, const char *key,
                      int required) {
  json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
  if (!v && required && json_is_object(obj)) {
    char where[512];
    if (!*optr)
      rd_jctx_err(&l->j, optr, 1, "missing required key '%s' in the top level", key);
    else
      rd_jctx_err(&l->j, optr, 0, "missing required key '%s' in '%s'", key,
                  DISP(l, optr, where));
  }
  return v;
}

/* Type check; what is "an object", "a string", ... */
static int is_type(ld *l, const json_t *v, const char *ptr, json_type t, const char *what) {
  char d[512];
  if (json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v)))
    return 1;
  rd_jctx_err(&l->j, ptr, 1, "'%s' must be %s, got %s", DISP(l, ptr, d), what,
              rd_json_type_name(v));
  return 0;
}

static const char *get_string(ld *l, const json_t *obj, const char *optr, const char *key,
                              int required) {
  char p[PTR_MAX], d[512];
  json_t *v = member(l, obj, optr, key, required);
  if (!v)
    return NULL;
  child(p, sizeof p, optr, key);
  if (!is_type(l, v, p, JSON_STRING, "a string"))
    return NULL;
  if (!*json_string_value(v)) {
    rd_jctx_err(&l->j, p, 1, "'%s' must not be empty", DISP(l, p, d));
    return NULL;
  }
  return json_string_value(v);
}

static int get_bool(ld *l, const json_t *obj, const char *optr, const char *key, int def) {
  char p[PTR_MAX];
  json_t *v = member(l, obj, optr, key, 0);
  if (!v)
    return def;
  child(p, sizeof p, optr, key);
  if (!is_type(l, v, p, JSON_TRUE, "true or false"))
    return def;
  return json_is_true(v);
}

static long long get_int(ld *l, const json_t *obj, const char *optr, const char *key,
                         long long min, long long max, long long def) {
  char p[PTR_MAX], d[512], range[96];
  json_t *v = member(l, obj, optr, key, 0);
  if (!v)
    return def;
  child(p, sizeof p, optr, key);
  if (max == LLONG_MAX || max == INT_MAX)
    snprintf(range, sizeof range, "an integer ≥ %lld", min);
  else
    snprintf(range, sizeof range, "an integer from %lld to %lld", min, max);
  if (!json_is_integer(v)) {
    rd_jctx_err(&l->j, p, 1, "'%s' must be %s, got %s", DISP(l, p, d), range,
                rd_json_type_name(v));
    return def;
  }
  if (json_integer_value(v) < min || json_integer_value(v) > max) {
    rd_jctx_err(&l->j, p, 1, "'%s' must be %s, got %lld", DISP(l, p, d), range,
                (long long)json_integer_value(v));
    return def;
  }
  return json_integer_value(v);
}

/* Seconds; def when absent, -1 after an error. allow_zero: 0 is valid. */
static double get_duration(ld *l, const json_t *obj, const char *optr, const char *key,
                           double def, int allow_zero, int *present) {
  char p[PTR_MAX], d[512];
  json_t *v = member(l, obj, optr, key, 0);
  double s = 0;
  if (present)
    *present = v != NULL;
  if (!v)
    return def;
  child(p, sizeof p, optr, key);
  if (json_is_number(v)) {
    s = json_number_value(v);
  } else if (json_is_string(v)) {
    if (rd_duration_parse(json_string_value(v), &s)) {
      rd_jctx_err(&l->j, p, 1,
                  "'%s' is not a duration: '%s'; write one number and a unit, e.g. \"30s\", "
                  "\"5m\", \"2h\", \"10d\", or a number of seconds",
                  DISP(l, p, d), json_string_value(v));
      return -1;
    }
  } else {
    rd_jctx_err(&l->j, p, 1,
                "'%s' must be a duration (\"30s\", \"5m\", \"2h\", \"10d\") or a number of "
                "seconds, got %s",
                DISP(l, p, d), rd_json_type_name(v));
    return -1;
  }
  if (s < 0 || !isfinite(s)) {
    rd_jctx_err(&l->j, p, 1, "'%s' must not be negative", DISP(l, p, d));
    return -1;
  }
  if (s == 0 && !allow_zero) {
    rd_jctx_err(&l->j, p, 1, "'%s' must be longer than 0", DISP(l, p, d));
    return -1;
  }
  if (s > 366.0 * 86400 * 10) {
    rd_jctx_err(&l->j, p, 1, "'%s' is longer than ten years", DISP(l, p, d));
    return -1;
  }
  return s;
}

static void fmt_duration(double s, char *buf, size_t len) {
  if (s >= 86400 && fmod(s, 86400) == 0)
    snprintf(buf, len, "%gd", s / 86400);
  else if (s >= 3600 && fmod(s, 3600) == 0)
    snprintf(buf, len, "%gh", s / 3600);
  else if (s >= 60 && fmod(s, 60) == 0)
    snprintf(buf, len, "%gm", s / 60);
  else
    snprintf(buf, len, "%gs", s);
}

/* dir + "/" + p unless p is absolute; "./" prefixes dropped. */
static char *resolve(ld *l, const char *p) {
  char *out;
  if (!p)
    return NULL;
  if (p[0] == '/' || !l->rb->dir)
    return xstrdup(l, p);
  while (p[0] == '.' && p[1] == '/')
    p += 2;
  if (asprintf(&out, "%s/%s", l->rb->dir, p) < 0) {
    l->nomem = 1;
    return NULL;
  }
  return out;
}

static int hex_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
      return 0;
  }
  return s[n] == '\0';
}

static int url_ok(const char *u, const char *const *schemes) {
  for (; *schemes; schemes++) {
    size_t n = strlen(*schemes);
    if (!strncasecmp(u, *schemes, n)) {
      const char *host = u + n;
      if (!*host || *host == '/' || *host == ':')
        return 0;
      for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ')
          return 0;
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ secrets */

static int secret_key(const char *key) {
  static const char *const names[] = {"challenge", "password", "passphrase", "token",
                                      "secret",    "api_key",  NULL};
  size_t kl = strlen(key);
  for (const char *const *n = names; *n; n++) {
    size_t nl = strlen(*n);
    if (!strcasecmp(key, *n))
      return 1;
    if (kl > nl + 1 && key[kl - nl - 1] == '_' && !strcasecmp(key + kl - nl, *n))
      return 1; /* "bind_password", "api_token" */
  }
  return 0;
}

/* {"file": PATH} or {"env": NAME} (rd_secret_check): report what is wrong
 * (when report); on success rewrite a relative file to an absolute path and
 * fill ref (when non-NULL). */
static int secret_ref(ld *l, json_t *v, const char *ptr, const char *key, rd_secret_ref *ref,
                      int report) {
  rd_secret_problem pb;
  rd_secret_kind kind;
  const char *name;
  char d[512], p[PTR_MAX];
  if (report && json_is_object(v))
    rd_jctx_check_keys(&l->j, v, ptr, rd_secret_keys);
  if (rd_secret_check(v, key, &pb, &kind, &name)) {
    if (report && !pb.unknown_key) {
      snprintf(p, sizeof p, "%s", ptr);
      if (pb.member)
        rd_jsonptr_push(p, sizeof p, pb.member);
      rd_jctx_err(&l->j, p, 1, "'%s' %s", DISP(l, p, d), pb.msg);
    }
    return -1;
  }
  if (kind == RD_SECRET_FILE && name[0] != '/') {
    char *abs = resolve(l, name);
    if (abs)
      json_object_set_new(v, "file", json_string(abs));
    free(abs);
    name = json_string_value(json_object_get(v, "file"));
  }
  if (ref) {
    ref->kind = kind;
    ref->name = xstrdup(l, name);
  }
  return 0;
}

/* Every member named like a secret, anywhere in the document, must be a
 * reference, never the secret itself. */
static void walk_secrets(ld *l, json_t *v, char *ptr, size_t cap) {
  size_t base = strlen(ptr);
  if (json_is_object(v)) {
    const char *key;
    json_t *m;
    json_object_foreach(v, key, m) {
      rd_jsonptr_push(ptr, cap, key);
      if (secret_key(key) && json_is_string(m)) {
        char d[512];
        rd_jctx_err(&l->j, ptr, 1,
                    "inline secret in '%s': put it in a file or environment variable: "
                    "{\"file\": \"/etc/renewd/%s\"} or {\"env\": \"NAME\"}",
                    DISP(l, ptr, d), key);
      } else if (secret_key(key)) {
        secret_ref(l, m, ptr, key, NULL, 1);
      } else {
        walk_secrets(l, m, ptr, cap);
      }
      ptr[base] = '\0';
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
      rd_jsonptr_push_index(ptr, cap, i);
      walk_secrets(l, m, ptr, cap);
      ptr[base] = '\0';
    }
  }
}

/* ------------------------------------------------------------ sections */

static void load_name(ld *l) {
  const char *name = get_string(l, l->root, "", "name", 1);
  const char *desc;
  if (name) {
    if (!rd_target_name_ok(name) || strlen(name) > 64)
      rd_jctx_err(&l->j, "/name", 1,
                  "'name' must be 1 to 64 letters, digits, '.', '_' or '-' (it names the "
                  "runbook in reports and the journal), got '%s'",
                  name);
    else
      l->rb->name = xstrdup(l, name);
  }
  desc = json_string_value(json_object_get(l->root, "description"));
  if (json_object_get(l->root, "description") && !desc)
    is_type(l, json_object_get(l->root, "description"), "/description", JSON_STRING,
            "a string");
  if (json_object_get(l->root, "$schema") && !json_is_string(json_object_get(l->root, "$schema")))
    is_type(l, json_object_get(l->root, "$schema"), "/$schema", JSON_STRING, "a string");
}

static int user_ok(const char *u) {
  for (const char *p = u; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr("._-\\@$", *p)))
      return 0;
  return *u && *u != '-';
}

static void load_ssh(ld *l) {
  static const char *const keys[] = {"user",    "identity",        "known_hosts",
                                     "port",    "sudo",            "agent",
                                     "passphrase", "connect_timeout", "command_timeout",
                                     NULL};
  rd_ssh_cfg *s = &l->rb->ssh;
  json_t *o = member(l, l->root, "", "ssh", 1);
  const char *v;
  double t;
  s->connect_timeout_ms = 10000;
  s->command_timeout_ms = 120000;
  if (!o || !is_type(l, o, "/ssh", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/ssh", keys);
  if ((v = get_string(l, o, "/ssh", "user", 1))) {
    if (!user_ok(v))
      rd_jctx_err(&l->j, "/ssh/user", 1,
                  "'ssh.user' must be a login name (letters, digits, '.', '_', '-', '\\', "
                  "'@', '$'), got '%s'",
                  v);
    else
      s->user = xstrdup(l, v);
  }
  s->agent = get_bool(l, o, "/ssh", "agent", 0);
  s->sudo = get_bool(l, o, "/ssh", "sudo", 0);
  if ((v = get_string(l, o, "/ssh", "identity", 0)))
    s->identity = resolve(l, v);
  else if (!json_object_get(o, "identity") && !s->agent)
    rd_jctx_err(&l->j, "/ssh", 0,
                "'ssh' needs 'identity' (a private key file, ed25519 or ecdsa) or "
                "\"agent\": true");
  if ((v = get_string(l, o, "/ssh", "known_hosts", 0)))
    s->known_hosts = resolve(l, v);
  else if (!json_object_get(o, "known_hosts"))
    rd_jctx_err(&l->j, "/ssh", 0,
                "missing required key 'known_hosts' in 'ssh': renewd always checks host keys "
                "(enrol them with 'renewd hosts trust')");
  l->ssh_port = (int)get_int(l, o, "/ssh", "port", 1, 65535, 22);
  if (json_object_get(o, "passphrase"))
    secret_ref(l, json_object_get(o, "passphrase"), "/ssh/passphrase", "passphrase",
               &s->passphrase, 0);
  if ((t = get_duration(l, o, "/ssh", "connect_timeout", 10, 0, NULL)) > 0)
    s->connect_timeout_ms = (long)(t * 1000);
  if ((t = get_duration(l, o, "/ssh", "command_timeout", 120, 0, NULL)) > 0)
    s->command_timeout_ms = (long)(t * 1000);
}

static int push_target(ld *l, const rd_target *src, int copy, size_t *cap) {
  rd_runbook *rb = l->rb;
  if (rb->ntargets == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    rd_target *nt = realloc(rb->targets, nc * sizeof *nt);
    if (!nt) {
      l->nomem = 1;
      return RD_ENOMEM;
    }
    rb->targets = nt;
    *cap = nc;
  }
  if (copy) {
    if (rd_target_copy(&rb->targets[rb->ntargets], src)) {
      l->nomem = 1;
      return RD_ENOMEM;
    }
  } else {
    rb->targets[rb->ntargets] = *src;
  }
  rb->ntargets++;
  return 0;
}

static void targets_from_inventory(ld *l, const json_t *o, size_t *cap) {
  rd_runbook *rb = l->rb;
  json_t *filter = json_object_get(o, "hosts");
  const char *invs = get_string(l, o, "/targets", "inventory", 0);
  const char *group = "all";
  rd_inventory *inv = NULL;
  const rd_inv_group *g;
  char err[1024], list[1024];
  int rc, bad_filter = 0;
  if (json_object_get(o, "group") && !(group = get_string(l, o, "/targets", "group", 0)))
    return;
  if (filter && !json_is_array(filter)) {
    rd_jctx_err(&l->j, "/targets/hosts", 1,
                "'targets.hosts' with an inventory must be an array of host names that "
                "narrows the group, got %s",
                rd_json_type_name(filter));
    bad_filter = 1;
  } else if (filter) {
    size_t i;
    json_t *m;
    json_array_foreach(filter, i, m) {
      char p[PTR_MAX];
      child_i(p, sizeof p, "/targets/hosts", i);
      if (!json_is_string(m)) {
        rd_jctx_err(&l->j, p, 1,
                    "'targets.hosts[%zu]' must be a host name of the inventory, got %s", i,
                    rd_json_type_name(m));
        bad_filter = 1;
      }
    }
  }
  if (!invs)
    return;
  rb->inventory = resolve(l, invs);
  rb->group = xstrdup(l, group);
  if (!rb->inventory)
    return;
  rc = rd_inventory_load(rb->inventory, &inv, l->j.diag, err, sizeof err);
  if (rc == RD_ENOMEM) {
    l->nomem = 1;
    return;
  }
  if (rc == RD_ECONFIG) {
    rd_jctx_err(&l->j, "/targets/inventory", 1, "inventory '%s' has errors (reported above)",
                rb->inventory);
    return;
  }
  if (rc) {
    rd_jctx_err(&l->j, "/targets/inventory", 1, "%s", err);
    return;
  }
  if (!(g = rd_inventory_group(inv, group))) {
    const char **names = calloc(inv->ngroups + 1, sizeof *names);
    const char *s = NULL;
    if (names) {
      for (size_t i = 0; i < inv->ngroups; i++)
        names[i] = inv->groups[i].name;
      s = rd_suggest(group, names, inv->ngroups);
    }
    rd_jctx_err(&l->j, "/targets/group", 1,
                "unknown group '%s' in inventory '%s'%s%s%s; groups: %s", group,
                rb->inventory, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "",
                rd_inventory_group_list(inv, list, sizeof list));
    free(names);
    rd_inventory_free(inv);
    return;
  }
  if (filter && !bad_filter) {
    size_t i;
    json_t *m;
    json_array_foreach(filter, i, m) {
      const char *hn = json_string_value(m);
      char p[PTR_MAX];
      int in_group = 0;
      child_i(p, sizeof p, "/targets/hosts", i);
      for (size_t j = 0; j < i; j++)
        if (!strcmp(json_string_value(json_array_get(filter, j)), hn)) {
          rd_jctx_err(&l->j, p, 1, "host '%s' is listed twice in 'targets.hosts'", hn);
          hn = NULL;
          break;
        }
      if (!hn)
        continue;
      for (size_t j = 0; j < g->n && !in_group; j++)
        in_group = !strcmp(g->members[j], hn);
      if (!rd_inventory_host(inv, hn)) {
        const char **names = calloc(inv->nhosts + 1, sizeof *names);
        const char *s = NULL;
        if (names) {
          for (size_t j = 0; j < inv->nhosts; j++)
            names[j] = inv->hosts[j].name;
          s = rd_suggest(hn, names, inv->nhosts);
        }
        rd_jctx_err(&l->j, p, 1, "host '%s' is not in inventory '%s'%s%s%s", hn,
                    rb->inventory, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
        free(names);
      } else if (!in_group) {
        rd_jctx_err(&l->j, p, 1, "host '%s' is not in group '%s' of inventory '%s'", hn,
                    group, rb->inventory);
      } else if (push_target(l, rd_inventory_host(inv, hn), 1, cap)) {
        break;
      }
    }
  } else if (!filter) {
    for (size_t i = 0; i < g->n; i++)
      if (push_target(l, rd_inventory_host(inv, g->members[i]), 1, cap))
        break;
    if (!g->n)
      rd_jctx_err(&l->j, "/targets", 0,
                  "'targets' selects no hosts: group '%s' of inventory '%s' is empty", group,
                  rb->inventory);
  }
  rd_inventory_free(inv);
}

static void targets_inline(ld *l, const json_t *hosts, size_t *cap) {
  size_t i;
  json_t *h;
  if (!json_is_array(hosts)) {
    rd_jctx_err(&l->j, "/targets/hosts", 1,
                "'targets.hosts' must be an array of hosts like {\"name\": \"web1\", "
                "\"address\": \"10.0.0.5\"}, got %s",
                rd_json_type_name(hosts));
    return;
  }
  if (!json_array_size(hosts)) {
    rd_jctx_err(&l->j, "/targets/hosts", 1,
                "'targets.hosts' is empty: a runbook needs at least one target");
    return;
  }
  json_array_foreach(hosts, i, h) {
    char p[PTR_MAX], np[PTR_MAX];
    rd_target t;
    int rc;
    child_i(p, sizeof p, "/targets/hosts", i);
    rc = rd_target_parse(&l->j, h, p, NULL, 1, &t);
    if (rc == RD_ENOMEM) {
      l->nomem = 1;
      return;
    }
    if (rc)
      continue;
    for (size_t j = 0; j < i; j++) {
      const char *other = json_string_value(json_object_get(json_array_get(hosts, j), "name"));
      if (other && !strcmp(other, t.name)) {
        char op[PTR_MAX];
        int line = 0, col = 0;
        child_i(op, sizeof op, "/targets/hosts", j);
        rd_jsonptr_push(op, sizeof op, "name");
        rd_jsonpos_value(l->j.pos, op, &line, &col);
        child(np, sizeof np, p, "name");
        rd_jctx_err(&l->j, np, 1, "duplicate target name '%s' (first defined at line %d)",
                    t.name, line);
        rd_target_clear(&t);
        break;
      }
    }
    if (t.name && push_target(l, &t, 0, cap)) {
      rd_target_clear(&t);
      return;
    }
  }
}

static void load_targets(ld *l) {
  static const char *const keys[] = {"inventory", "group", "hosts", NULL};
  rd_runbook *rb = l->rb;
  json_t *o = member(l, l->root, "", "targets", 1);
  size_t cap = 0;
  int before = l->j.errors;
  if (!o)
    return;
  if (!json_is_object(o)) {
    rd_jctx_err(&l->j, "/targets", 1,
                "'targets' must be an object: {\"inventory\": FILE, \"group\": NAME} or "
                "{\"hosts\": [...]}, got %s",
                rd_json_type_name(o));
    return;
  }
  rd_jctx_check_keys(&l->j, o, "/targets", keys);
  if (json_object_get(o, "inventory")) {
    targets_from_inventory(l, o, &cap);
  } else if (json_object_get(o, "hosts")) {
    if (json_object_get(o, "group"))
      rd_jctx_err(&l->j, "/targets/group", 0,
                  "'targets.group' selects hosts of an inventory: add 'targets.inventory' or "
                  "remove 'group'");
    targets_inline(l, json_object_get(o, "hosts"), &cap);
  } else {
    rd_jctx_err(&l->j, "/targets", 0,
                "'targets' needs 'inventory' (an inventory file, with an optional 'group') or "
                "'hosts' (a list of hosts)");
    return;
  }
  if (!(rb->target_index = json_object())) {
    l->nomem = 1;
    return;
  }
  for (size_t i = 0; i < rb->ntargets; i++) {
    if (!rb->targets[i].port)
      rb->targets[i].port = l->ssh_port ? l->ssh_port : 22;
    rb->platforms |= 1u << rb->targets[i].platform;
    if (json_object_set_new(rb->target_index, rb->targets[i].name, json_integer((json_int_t)i)))
      l->nomem = 1;
  }
  l->targets_ok = l->j.errors == before && rb->ntargets > 0;
}

static int platforms_only(const ld *l, rd_platform p) {
  return l->targets_ok && l->rb->platforms == (1u << p);
}

static const char *platforms_word(const ld *l) {
  return l->rb->platforms == (1u << RD_PLATFORM_WINDOWS) ? "Windows" : "POSIX";
}

static void load_certificate(ld *l) {
  static const char *const keys[] = {"cert",    "key",        "chain",    "subject_cn",
                                     "store",   "template",   "template_oid",
                                     "subject", "thumbprint", NULL};
  static const char *const posix_keys[] = {"cert", "key", "chain", NULL};
  static const char *const win_keys[] = {"store", "template", "template_oid", "subject",
                                         "thumbprint", NULL};
  json_t *o = member(l, l->root, "", "certificate", 1);
  const char *v;
  int have_win_selector = 0;
  if (!o || !is_type(l, o, "/certificate", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/certificate", keys);
  for (const char *const *k = posix_keys; *k; k++) {
    char p[PTR_MAX];
    child(p, sizeof p, "/certificate", *k);
    if ((v = get_string(l, o, "/certificate", *k, 0)) && v[0] != '/')
      rd_jctx_err(&l->j, p, 1,
                  "'certificate.%s' must be an absolute path on the target, got '%s'", *k, v);
    else if (v && platforms_only(l, RD_PLATFORM_WINDOWS))
      rd_jctx_err(&l->j, p, 0,
                  "'certificate.%s' is a file path for POSIX targets, but this runbook's "
                  "targets are all Windows; select the certificate with 'store' and "
                  "'template', 'template_oid', 'subject' or 'thumbprint'",
                  *k);
  }
  for (const char *const *k = win_keys; *k; k++) {
    char p[PTR_MAX];
    child(p, sizeof p, "/certificate", *k);
    if (!(v = get_string(l, o, "/certificate", *k, 0)))
      continue;
    if (strcmp(*k, "store"))
      have_win_selector = 1;
    if (!strcmp(*k, "store") && strncasecmp(v, "LocalMachine\\", 13) &&
        strncasecmp(v, "CurrentUser\\", 12))
      rd_jctx_err(&l->j, p, 1,
                  "'certificate.store' must be LocalMachine\\NAME or CurrentUser\\NAME "
                  "(e.g. \"LocalMachine\\\\My\"), got '%s'",
                  v);
    if (!strcmp(*k, "template_oid")) {
      int ok = v[0] >= '0' && v[0] <= '2' && v[1] == '.';
      for (const char *q = v; ok && *q; q++)
        ok = (*q >= '0' && *q <= '9') || (*q == '.' && q[1] && q[1] != '.');
      if (!ok)
        rd_jctx_err(&l->j, p, 1,
                    "'certificate.template_oid' must be a dotted OID like "
                    "\"1.3.6.1.4.1.311.21.8.1234.5678\", got '%s'",
                    v);
    }
    if (!strcmp(*k, "thumbprint") && (strlen(v) != 40 || !hex_ok(v, 40)))
      rd_jctx_err(&l->j, p, 1,
                  "'certificate.thumbprint' must be a SHA-1 thumbprint (40 hex digits, no "
                  "spaces), got '%s'",
                  v);
    if (platforms_only(l, RD_PLATFORM_POSIX))
      rd_jctx_err(&l->j, p, 0,
                  "'certificate.%s' selects a certificate in a Windows store, but this "
                  "runbook's targets are all POSIX; use 'cert' and 'key' file paths",
                  *k);
  }
  if ((v = get_string(l, o, "/certificate", "subject_cn", 0)) &&
      platforms_only(l, RD_PLATFORM_WINDOWS))
    rd_jctx_err(&l->j, "/certificate/subject_cn", 0,
                "'certificate.subject_cn' names the subject of a first enrolment on POSIX "
                "targets, but this runbook's targets are all Windows");
  if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_POSIX))) {
    if (!json_object_get(o, "cert"))
      rd_jctx_err(&l->j, "/certificate", 0,
                  "missing required key 'cert' in 'certificate': POSIX targets need the "
                  "certificate's path (and 'key')");
    if (!json_object_get(o, "key"))
      rd_jctx_err(&l->j, "/certificate", 0,
                  "missing required key 'key' in 'certificate': POSIX targets need the "
                  "private key's path");
  }
  if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_WINDOWS)) && !have_win_selector)
    rd_jctx_err(&l->j, "/certificate", 0,
                "'certificate' needs a selector for Windows targets: one of 'template', "
                "'template_oid', 'subject', 'thumbprint' (and optionally 'store', default "
                "LocalMachine\\My)");
}

static void load_issuer(ld *l) {
  static const char *const scep_keys[] = {"type",     "url",           "ca_fingerprint",
                                          "ca_bundle", "challenge",     "ca_ident",
                                          "poll_interval", "max_in_flight", NULL};
  static const char *const adcs_keys[] = {"type", "config", "poll_interval", NULL};
  static const char *const types[] = {"scep", "adcs", NULL};
  json_t *o = member(l, l->root, "", "issuer", 1);
  const char *type, *v;
  json_t *fp;
  if (!o || !is_type(l, o, "/issuer", JSON_OBJECT, "an object"))
    return;
  if (!(type = get_string(l, o, "/issuer", "type", 1)))
    return;
  if (!strcmp(type, "scep")) {
    static const char *const schemes[] = {"http://", "https://", NULL};
    rd_jctx_check_keys(&l->j, o, "/issuer", scep_keys);
    if ((v = get_string(l, o, "/issuer", "url", 1)) && !url_ok(v, schemes))
      rd_jctx_err(&l->j, "/issuer/url", 1,
                  "'issuer.url' must be an http:// or https:// URL of the SCEP service, got "
                  "'%s'",
                  v);
    fp = member(l, o, "/issuer", "ca_fingerprint", 1);
    if (json_is_string(fp)) {
      v = json_string_value(fp);
      if (strncmp(v, "sha256:", 7) || strlen(v) != 71 || !hex_ok(v + 7, 64))
        rd_jctx_err(&l->j, "/issuer/ca_fingerprint", 1,
                    "'issuer.ca_fingerprint' must be \"sha256:\" and 64 hex digits (the CA "
                    "certificate's DER: openssl x509 -outform DER | sha256sum), or {\"file\": "
                    "PATH} holding that, got '%s'",
                    v);
    } else if (fp) {
      if (!json_is_object(fp) || json_object_get(fp, "env"))
        rd_jctx_err(&l->j, "/issuer/ca_fingerprint", 1,
                    "'issuer.ca_fingerprint' must be \"sha256:<64 hex digits>\" or {\"file\": "
                    "PATH}, got %s",
                    json_is_object(fp) ? "{\"env\": ...}" : rd_json_type_name(fp));
      else
        secret_ref(l, fp, "/issuer/ca_fingerprint", "ca_fingerprint", NULL, 1);
    }
    get_string(l, o, "/issuer", "ca_ident", 0);
    if ((v = get_string(l, o, "/issuer", "ca_bundle", 0)) && v[0] != '/') {
      char *abs = resolve(l, v); /* a file on the admin host */
      if (abs)
        json_object_set_new(o, "ca_bundle", json_string(abs));
      free(abs);
    }
    if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_WINDOWS)))
      rd_jctx_err(&l->j, "/issuer/type", 1,
                  "issuer 'scep' renews POSIX targets (the request is signed with openssl on "
                  "the target); Windows targets use {\"type\": \"adcs\"}");
  } else if (!strcmp(type, "adcs")) {
    rd_jctx_check_keys(&l->j, o, "/issuer", adcs_keys);
    if ((v = get_string(l, o, "/issuer", "config", 0))) {
      const char *bs = strchr(v, '\\');
      if (!bs || bs == v || !bs[1])
        rd_jctx_err(&l->j, "/issuer/config", 1,
                    "'issuer.config' must be \"<CA host>\\\\<CA name>\" as certutil -config - "
                    "-ping shows it, got '%s'",
                    v);
    }
    if (l->targets_ok && (l->rb->platforms & (1u << RD_PLATFORM_POSIX)))
      rd_jctx_err(&l->j, "/issuer/type", 1,
                  "issuer 'adcs' renews Windows targets (certreq on the target); POSIX "
                  "targets use {\"type\": \"scep\", ...}");
  } else {
    const char *s = rd_suggest(type, types, 2);
    rd_jctx_err(&l->j, "/issuer/type", 1, "unknown issuer type '%s'%s%s%s; known: scep, adcs",
                type, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
    return;
  }
  get_duration(l, o, "/issuer", "poll_interval", 60, 0, NULL);
  json_t *mif = json_object_get(o, "max_in_flight");
  if (mif && (!json_is_integer(mif) || json_integer_value(mif) < 1 || json_integer_value(mif) > 64))
    rd_jctx_err(&l->j, "/issuer/max_in_flight", 1,
                "'issuer.max_in_flight' must be an integer from 1 to 64 (requests sent to the CA "
                "at once; default 1)");
}

static void load_policy(ld *l) {
  static const char *const keys[] = {"renew_before", "renew_fraction", "key", "rotate_key",
                                     NULL};
  static const char *const key_keys[] = {"type", "bits", "curve", NULL};
  rd_policy *p = &l->rb->policy;
  json_t *o = member(l, l->root, "", "policy", 0), *k, *f;
  int has_before = 0;
  double before;
  p->renew_fraction = 1.0 / 3;
  p->key_type = xstrdup(l, "rsa");
  p->key_bits = 2048;
  p->rotate_key = 1;
  if (!o || !is_type(l, o, "/policy", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/policy", keys);
  before = get_duration(l, o, "/policy", "renew_before", 0, 0, &has_before);
  if (before > 0) {
    p->renew_before_days = before / 86400;
    p->renew_fraction = 0;
  }
  if ((f = json_object_get(o, "renew_fraction"))) {
    if (!json_is_number(f))
      rd_jctx_err(&l->j, "/policy/renew_fraction", 1,
                  "'policy.renew_fraction' must be a number between 0 and 1 (exclusive), "
                  "got %s",
                  rd_json_type_name(f));
    else if (json_number_value(f) <= 0 || json_number_value(f) >= 1)
      rd_jctx_err(&l->j, "/policy/renew_fraction", 1,
                  "'policy.renew_fraction' must be between 0 and 1 (exclusive): the share of "
                  "the lifetime left when renewal starts, e.g. 0.33; got %g",
                  json_number_value(f));
    else
      p->renew_fraction = json_number_value(f);
  }
  p->rotate_key = get_bool(l, o, "/policy", "rotate_key", 1);
  if (!(k = json_object_get(o, "key")) || !is_type(l, k, "/policy/key", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, k, "/policy/key", key_keys);
  {
    const char *t = get_string(l, k, "/policy/key", "type", 0);
    const char *curve = get_string(l, k, "/policy/key", "curve", 0);
    json_t *bits = json_object_get(k, "bits");
    if (!t || !strcmp(t, "rsa")) {
      if (curve)
        rd_jctx_err(&l->j, "/policy/key/curve", 0,
                    "'policy.key.curve' applies to EC keys; RSA keys take 'bits'");
      if (bits) {
        if (!json_is_integer(bits) || (json_integer_value(bits) != 2048 &&
                                       json_integer_value(bits) != 3072 &&
                                       json_integer_value(bits) != 4096))
          rd_jctx_err(&l->j, "/policy/key/bits", 1,
                      "'policy.key.bits' must be 2048, 3072 or 4096");
        else
          p->key_bits = (int)json_integer_value(bits);
      }
    } else if (!strcmp(t, "ec")) {
      free(p->key_type);
      p->key_type = xstrdup(l, "ec");
      p->key_bits = 0;
      if (bits)
        rd_jctx_err(&l->j, "/policy/key/bits", 0,
                    "'policy.key.bits' applies to RSA keys; EC keys take 'curve'");
      if (curve && strcmp(curve, "P-256") && strcmp(curve, "P-384") && strcmp(curve, "P-521"))
        rd_jctx_err(&l->j, "/policy/key/curve", 1,
                    "'policy.key.curve' must be \"P-256\", \"P-384\" or \"P-521\", got '%s'",
                    curve);
      else
        p->curve = xstrdup(l, curve ? curve : "P-256");
    } else {
      rd_jctx_err(&l->j, "/policy/key/type", 1,
                  "'policy.key.type' must be \"rsa\" or \"ec\", got '%s'", t);
    }
  }
}

/* Point at the params member a plugin's message names ('mode' or "mode"),
 * if any; else at "params" itself. */
static void step_error_ptr(const json_t *params, const char *msg, const char *pptr,
                           char *out, size_t len) {
  snprintf(out, len, "%s", pptr);
  for (const char *q = msg; *q; q++) {
    const char *e;
    char word[128];
    if (*q != '\'' && *q != '"')
      continue;
    if (!(e = strchr(q + 1, *q)))
      break;
    if ((size_t)(e - q - 1) < sizeof word) {
      snprintf(word, sizeof word, "%.*s", (int)(e - q - 1), q + 1);
      if (json_object_get(params, word)) {
        rd_jsonptr_push(out, len, word);
        return;
      }
    }
    q = e;
  }
}

static void load_steps(ld *l) {
  static const char *const keys[] = {"type", "name", "params", "timeout", NULL};
  rd_runbook *rb = l->rb;
  json_t *a = member(l, l->root, "", "steps", 0), *s;
  size_t i;
  if (!a || !is_type(l, a, "/steps", JSON_ARRAY, "an array of steps"))
    return;
  if (!(rb->steps = calloc(json_array_size(a) + 1, sizeof *rb->steps))) {
    l->nomem = 1;
    return;
  }
  json_array_foreach(a, i, s) {
    char p[PTR_MAX], tp[PTR_MAX], pp[PTR_MAX], d[512];
    rd_step_cfg *st = &rb->steps[rb->nsteps];
    const char *type, *name;
    json_t *params;
    double t;
    child_i(p, sizeof p, "/steps", i);
    child(tp, sizeof tp, p, "type");
    child(pp, sizeof pp, p, "params");
    if (!is_type(l, s, p, JSON_OBJECT, "an object like {\"type\": \"posix.key_acl\", \"params\": {...}}"))
      continue;
    rd_jctx_check_keys(&l->j, s, p, keys);
    rd_jsonpos_value(l->j.pos, p, &st->line, &st->column);
    type = get_string(l, s, p, "type", 1);
    name = get_string(l, s, p, "name", 0);
    params = json_object_get(s, "params");
    if (params && !is_type(l, params, pp, JSON_OBJECT, "an object"))
      params = NULL;
    t = get_duration(l, s, p, "timeout", 120, 0, NULL);
    st->timeout_ms = t > 0 ? (long)(t * 1000) : 120000;
    if (!type)
      continue;
    st->type = xstrdup(l, type);
    st->name = xstrdup(l, name ? name : type);
    st->params = params ? json_incref(params) : json_object();
    rb->nsteps++;
    for (size_t j = 0; st->name && j + 1 < rb->nsteps; j++)
      if (rb->steps[j].name && !strcmp(rb->steps[j].name, st->name)) {
        char np[PTR_MAX];
        child(np, sizeof np, p, name ? "name" : "type");
        rd_jctx_err(&l->j, np, 1,
                    "two steps are named '%s' (the other at line %d); give each step its own "
                    "\"name\"",
                    st->name, rb->steps[j].line);
        break;
      }
    if (!l->reg)
      continue;
    if (!(st->kind = rd_registry_find(l->reg, type))) {
      const char *sugg = rd_registry_suggest(l->reg, type);
      if (sugg)
        rd_jctx_err(&l->j, tp, 1, "unknown step kind '%s'; did you mean '%s'?", type, sugg);
      else
        rd_jctx_err(&l->j, tp, 1,
                    "unknown step kind '%s'; 'renewd validate --list-steps' lists the "
                    "registered kinds",
                    type);
      continue;
    }
    if (st->kind->flags & (RD_KIND_INVENTORY | RD_KIND_ISSUER | RD_KIND_INSTALL)) {
      rd_jctx_err(&l->j, tp, 1,
                  "step kind '%s' does not belong in 'steps': renewd runs the inventory, "
                  "issuer and install steps itself (from 'targets', 'issuer' and "
                  "'certificate'); 'steps' lists the follow-ups",
                  type);
      continue;
    }
    if (st->kind->platform != RD_PLATFORM_ANY && l->targets_ok &&
        !(rb->platforms & (1u << st->kind->platform)))
      rd_jctx_err(&l->j, tp, 1, "step kind '%s' runs on %s targets, but this runbook's targets "
                                "are all %s",
                  type, st->kind->platform == RD_PLATFORM_WINDOWS ? "Windows" : "POSIX",
                  platforms_word(l));
    if (st->kind->validate) {
      char err[1024] = "";
      if (st->kind->validate(st->params, err, sizeof err)) {
        char ep[PTR_MAX];
        if (!err[0])
          snprintf(err, sizeof err, "parameters rejected by the step kind");
        if (params)
          step_error_ptr(params, err, pp, ep, sizeof ep);
        else
          snprintf(ep, sizeof ep, "%s", tp);
        rd_jctx_err(&l->j, ep, 0, "%s (%s): %s", DISP(l, p, d), st->name, err);
      }
    }
  }
}

/* "10%", "12.5%": the schema's ^[0-9]+(\.[0-9]+)?%$ */
static int pct_ok(const char *s) {
  const char *p = s;
  while (*p >= '0' && *p <= '9')
    p++;
  if (p == s)
    return 0;
  if (*p == '.') {
    if (!(p[1] >= '0' && p[1] <= '9'))
      return 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  }
  return !strcmp(p, "%");
}

/* Per item, with positions; the rules are rd_waves()'s (schedule.h), except
 * that a wave must add hosts (strictly larger than the one before). */
static void load_waves(ld *l, json_t *w) {
  size_t i, n;
  json_t *m;
  double last_abs = 0, last_pct = 0;
  size_t last_abs_i = 0, last_pct_i = 0;
  int before = l->j.errors;
  if (!is_type(l, w, "/schedule/waves", JSON_ARRAY, "an array like [1, \"10%\", \"100%\"]"))
    return;
  if (!(n = json_array_size(w))) {
    rd_jctx_err(&l->j, "/schedule/waves", 1,
                "'schedule.waves' is empty; leave it out to renew every target in one wave");
    return;
  }
  json_array_foreach(w, i, m) {
    char p[PTR_MAX];
    int percent = 0;
    double value;
    child_i(p, sizeof p, "/schedule/waves", i);
    if (json_is_integer(m) && json_integer_value(m) >= 1) {
      value = (double)json_integer_value(m);
    } else if (json_is_string(m)) {
      const char *s = json_string_value(m);
      char *end;
      value = strtod(s, &end);
      if (!pct_ok(s) || strcmp(end, "%") || !isfinite(value) || value <= 0) {
        rd_jctx_err(&l->j, p, 1,
                    "wave %zu must be a number of hosts (≥ 1) or a percentage like \"10%%\", "
                    "got '%s'",
                    i + 1, s);
        continue;
      }
      if (value > 100) {
        rd_jctx_err(&l->j, p, 1, "wave %zu is '%s': more than 100%% of the targets", i + 1, s);
        continue;
      }
      percent = 1;
    } else {
      if (json_is_integer(m))
        rd_jctx_err(&l->j, p, 1,
                    "wave %zu must be a number of hosts (≥ 1) or a percentage like \"10%%\", "
                    "got %lld",
                    i + 1, (long long)json_integer_value(m));
      else
        rd_jctx_err(&l->j, p, 1,
                    "wave %zu must be a number of hosts (≥ 1) or a percentage like \"10%%\", "
                    "got %s",
                    i + 1, rd_json_type_name(m));
      continue;
    }
    if (percent && last_pct_i && value <= last_pct)
      rd_jctx_err(&l->j, p, 1,
                  "'schedule.waves' must grow: wave %zu (%g%%) is not larger than wave %zu "
                  "(%g%%)",
                  i + 1, value, last_pct_i, last_pct);
    else if (!percent && last_abs_i && value <= last_abs)
      rd_jctx_err(&l->j, p, 1,
                  "'schedule.waves' must grow: wave %zu (%g hosts) is not larger than wave "
                  "%zu (%g hosts)",
                  i + 1, value, last_abs_i, last_abs);
    else if (i + 1 == n && !(percent && value == 100))
      rd_jctx_err(&l->j, p, 1,
                  "the last wave must be \"100%%\" so that every target gets its turn");
    if (percent) {
      last_pct = value;
      last_pct_i = i + 1;
    } else {
      last_abs = value;
      last_abs_i = i + 1;
    }
  }
  if (l->j.errors == before) {
    size_t counts[64], nw = 0;
    char err[512];
    size_t hosts = l->rb->ntargets ? l->rb->ntargets : 1;
    if (rd_waves(w, hosts, counts, 64, &nw, err, sizeof err) == RD_EINVAL)
      rd_jctx_err(&l->j, "/schedule/waves", 1, "'schedule.waves': %s", err);
  }
  l->rb->schedule.waves = json_incref(w);
}

static void load_schedule(ld *l) {
  static const char *const keys[] = {"scan_interval", "jitter", "window", "max_parallel",
                                     "waves", NULL};
  rd_schedule *sc = &l->rb->schedule;
  json_t *o = member(l, l->root, "", "schedule", 0);
  double scan, jitter;
  int has_jitter = 0;
  const char *win;
  sc->win.always = 1;
  sc->scan_interval_s = 3600;
  sc->jitter_s = 360;
  sc->max_parallel = 16;
  if (!o || !is_type(l, o, "/schedule", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/schedule", keys);
  scan = get_duration(l, o, "/schedule", "scan_interval", 3600, 0, NULL);
  if (scan > 0 && scan < 1) {
    rd_jctx_err(&l->j, "/schedule/scan_interval", 1,
                "'schedule.scan_interval' must be at least 1s");
    scan = -1;
  }
  jitter = get_duration(l, o, "/schedule", "jitter", scan > 0 ? scan / 10 : 0, 1, &has_jitter);
  if (scan > 0)
    sc->scan_interval_s = (long)scan;
  if (jitter >= 0)
    sc->jitter_s = (long)jitter;
  if (scan > 0 && has_jitter && jitter >= scan) {
    char a[32], b[32];
    fmt_duration(jitter, a, sizeof a);
    fmt_duration(scan, b, sizeof b);
    rd_jctx_err(&l->j, "/schedule/jitter", 1,
                "'schedule.jitter' (%s) must be shorter than 'schedule.scan_interval' (%s): "
                "scans would overlap",
                a, b);
  }
  if ((win = get_string(l, o, "/schedule", "window", 0))) {
    char err[512] = "";
    int rc = rd_window_parse(win, &sc->win, err, sizeof err);
    if (rc == RD_ENOMEM)
      l->nomem = 1;
    else if (rc)
      rd_jctx_err(&l->j, "/schedule/window", 1,
                  "%s; write e.g. \"Mon-Fri 01:00-05:00\", \"Sat,Sun 22:00-02:00\" or "
                  "\"always\"",
                  err);
    else
      sc->window = xstrdup(l, win);
    if (rc)
      sc->win.always = 1;
  }
  sc->max_parallel = (int)get_int(l, o, "/schedule", "max_parallel", 1, INT_MAX, 16);
  if (json_object_get(o, "waves"))
    load_waves(l, json_object_get(o, "waves"));
}

static void load_notify(ld *l) {
  static const char *const keys[] = {"webhook", "email", "before_expiry_days", NULL};
  static const char *const wh_keys[] = {"url", "token", NULL};
  static const char *const mail_keys[] = {"smtp", "from", "to", "user", "password", NULL};
  static const char *const http_schemes[] = {"http://", "https://", NULL};
  static const char *const smtp_schemes[] = {"smtp://", "smtps://", NULL};
  json_t *o = member(l, l->root, "", "notify", 0), *x;
  const char *v;
  if (!o || !is_type(l, o, "/notify", JSON_OBJECT, "an object"))
    return;
  rd_jctx_check_keys(&l->j, o, "/notify", keys);
  if ((x = json_object_get(o, "webhook")) &&
      is_type(l, x, "/notify/webhook", JSON_OBJECT, "an object")) {
    rd_jctx_check_keys(&l->j, x, "/notify/webhook", wh_keys);
    if ((v = get_string(l, x, "/notify/webhook", "url", 1)) && !url_ok(v, http_schemes))
      rd_jctx_err(&l->j, "/notify/webhook/url", 1,
                  "'notify.webhook.url' must be an http:// or https:// URL, got '%s'", v);
  }
  if ((x = json_object_get(o, "email")) &&
      is_type(l, x, "/notify/email", JSON_OBJECT, "an object")) {
    json_t *to;
    rd_jctx_check_keys(&l->j, x, "/notify/email", mail_keys);
    if ((v = get_string(l, x, "/notify/email", "smtp", 1)) && !url_ok(v, smtp_schemes))
      rd_jctx_err(&l->j, "/notify/email/smtp", 1,
                  "'notify.email.smtp' must be an smtp:// or smtps:// URL, got '%s'", v);
    if ((v = get_string(l, x, "/notify/email", "from", 1)) && !strchr(v, '@'))
      rd_jctx_err(&l->j, "/notify/email/from", 1,
                  "'notify.email.from' must be a mail address, got '%s'", v);
    get_string(l, x, "/notify/email", "user", 0);
    if ((to = member(l, x, "/notify/email", "to", 1)) &&
        is_type(l, to, "/notify/email/to", JSON_ARRAY, "an array of mail addresses")) {
      size_t i;
      json_t *m;
      if (!json_array_size(to))
        rd_jctx_err(&l->j, "/notify/email/to", 1, "'notify.email.to' is empty");
      json_array_foreach(to, i, m) {
        char p[PTR_MAX];
        child_i(p, sizeof p, "/notify/email/to", i);
        if (!json_is_string(m) || !strchr(json_string_value(m), '@'))
          rd_jctx_err(&l->j, p, 1, "'notify.email.to[%zu]' must be a mail address", i);
      }
    }
  }
  if ((x = json_object_get(o, "before_expiry_days")) &&
      is_type(l, x, "/notify/before_expiry_days", JSON_ARRAY,
              "an array of day counts like [60, 30, 14]")) {
    size_t i;
    json_t *m;
    json_array_foreach(x, i, m) {
      char p[PTR_MAX];
      child_i(p, sizeof p, "/notify/before_expiry_days", i);
      if (!json_is_integer(m) || json_integer_value(m) < 1) {
        rd_jctx_err(&l->j, p, 1,
                    "'notify.before_expiry_days[%zu]' must be a whole number of days ≥ 1", i);
        continue;
      }
      for (size_t j = 0; j < i; j++)
        if (json_equal(json_array_get(x, j), m)) {
          rd_jctx_err(&l->j, p, 1, "'notify.before_expiry_days' lists %lld twice",
                      (long long)json_integer_value(m));
          break;
        }
    }
  }
}

/* The engine puts <platform>.inventory, <issuer>.issue and <platform>.install
 * before the runbook's steps (docs/PLUGINS.md): a plugin must provide them. */
static void engine_kinds(ld *l) {
  const char *itype = json_string_value(json_object_get(json_object_get(l->root, "issuer"), "type"));
  char kind[64];
  if (!l->reg)
    return;
  if (itype && (!strcmp(itype, "scep") || !strcmp(itype, "adcs"))) {
    snprintf(kind, sizeof kind, "%s.issue", itype);
    if (!rd_registry_find(l->reg, kind))
      rd_jctx_err(&l->j, "/issuer/type", 1,
                  "issuer type '%s' needs step kind '%s', which no loaded plugin provides",
                  itype, kind);
  }
  for (rd_platform p = RD_PLATFORM_POSIX; l->targets_ok && p <= RD_PLATFORM_WINDOWS; p++) {
    const char *pn = p == RD_PLATFORM_POSIX ? "posix" : "windows";
    char inv[64], ins[64];
    int hi, hs;
    if (!(l->rb->platforms & (1u << p)))
      continue;
    snprintf(inv, sizeof inv, "%s.inventory", pn);
    snprintf(ins, sizeof ins, "%s.install", pn);
    hi = rd_registry_find(l->reg, inv) != NULL;
    hs = rd_registry_find(l->reg, ins) != NULL;
    if (!hi && !hs)
      rd_jctx_err(&l->j, "/targets", 0,
                  "%s targets need step kinds '%s' and '%s', which no loaded plugin provides",
                  p == RD_PLATFORM_POSIX ? "POSIX" : "Windows", inv, ins);
    else if (!hi || !hs)
      rd_jctx_err(&l->j, "/targets", 0,
                  "%s targets need step kind '%s', which no loaded plugin provides",
                  p == RD_PLATFORM_POSIX ? "POSIX" : "Windows", hi ? ins : inv);
  }
}

static void cross_checks(ld *l) {
  engine_kinds(l);
  if (l->rb->ssh.sudo && platforms_only(l, RD_PLATFORM_WINDOWS))
    rd_jctx_err(&l->j, "/ssh/sudo", 0,
                "'ssh.sudo' applies to POSIX targets, but this runbook's targets are all "
                "Windows (the SSH user must be an administrator there)");
}

/* ------------------------------------------------------------ load */

static char *runbook_dir(const char *path) {
  char *abs = NULL, *slash, cwd[4096];
  if (path[0] == '/') {
    abs = strdup(path);
  } else {
    if (!getcwd(cwd, sizeof cwd))
      return NULL;
    while (path[0] == '.' && path[1] == '/')
      path += 2;
    if (asprintf(&abs, "%s/%s", cwd, path) < 0)
      return NULL;
  }
  if (!abs)
    return NULL;
  slash = strrchr(abs, '/');
  if (slash == abs)
    slash[1] = '\0';
  else
    *slash = '\0';
  return abs;
}

int rd_runbook_load(const char *path, const rd_registry *reg, rd_runbook **out, rd_diag *diag) {
  static const char *const top_keys[] = {"$schema",  "name",     "description", "targets",
                                         "ssh",      "certificate", "issuer",    "policy",
                                         "steps",    "schedule", "notify",      NULL};
  char *text = NULL;
  size_t len = 0, first = diag ? diag->n : 0;
  json_error_t jerr;
  rd_jsonpos *pos = NULL;
  ld l;
  int rc;
  rd_runbook *rb;
  *out = NULL;
  memset(&l, 0, sizeof l);
  if (!(rb = calloc(1, sizeof *rb)))
    return RD_ENOMEM;
  l.rb = rb;
  l.reg = reg;
  if (!(rb->path = strdup(path)) || !(rb->dir = runbook_dir(path))) {
    rc = RD_ENOMEM;
    goto out;
  }
  if ((rc = rd_read_file(path, RUNBOOK_MAX, &text, &len))) {
    rd_diag_add(diag, path, 0, 0, "cannot read the runbook: %s",
                rc == RD_ENOTFOUND ? "no such file" : rc == RD_EOVERFLOW ? "file too large (over 4 MiB)"
                                                                         : "cannot open or read it");
    rc = RD_ECONFIG;
    goto out;
  }
  if (!(l.root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
    rd_diag_add(diag, path, jerr.line > 0 ? jerr.line : 0, jerr.column > 0 ? jerr.column : 0,
                "invalid JSON: %s", jerr.text);
    rc = RD_ECONFIG;
    goto out;
  }
  rb->root = l.root;
  if ((rc = rd_jsonpos_scan(text, len, &pos)))
    goto out;
  l.j.file = path;
  l.j.pos = pos;
  l.j.diag = diag;
  l.j.root = l.root;
  if (!json_is_object(l.root)) {
    rd_jctx_err(&l.j, "", 1, "a runbook must be a JSON object, got %s",
                rd_json_type_name(l.root));
  } else {
    char ptr[PTR_MAX] = "";
    rd_jctx_check_keys(&l.j, l.root, "", top_keys);
    load_name(&l);
    load_ssh(&l);
    load_targets(&l);
    load_certificate(&l);
    load_issuer(&l);
    load_policy(&l);
    load_steps(&l);
    load_schedule(&l);
    load_notify(&l);
    cross_checks(&l);
    walk_secrets(&l, l.root, ptr, sizeof ptr);
    rb->certificate = json_incref(json_object_get(l.root, "certificate"));
    rb->issuer = json_incref(json_object_get(l.root, "issuer"));
    rb->notify = json_incref(json_object_get(l.root, "notify"));
  }
  if (l.nomem) {
    rc = RD_ENOMEM;
    goto out;
  }
  if (l.j.errors) {
    rc = RD_ECONFIG;
    goto out;
  }
  *out = rb;
  rb = NULL;
  rc = 0;
out:
  if (diag)
    rd_diag_sort(diag, first);
  if (rb && !rb->root)
    json_decref(l.root);
  rd_runbook_free(rb);
  rd_jsonpos_free(pos);
  free(text);
  return rc;
}

void rd_runbook_free(rd_runbook *rb) {
  if (!rb)
    return;
  free(rb->path);
  free(rb->name);
  rd_targets_free(rb->targets, rb->ntargets);
  free(rb->ssh.user);
  free(rb->ssh.identity);
  free(rb->ssh.passphrase.name);
  free(rb->ssh.known_hosts);
  json_decref(rb->certificate);
  json_decref(rb->issuer);
  free(rb->policy.key_type);
  free(rb->policy.curve);
  for (size_t i = 0; rb->steps && i < rb->nsteps; i++) {
    free(rb->steps[i].type);
    free(rb->steps[i].name);
    json_decref(rb->steps[i].params);
  }
  free(rb->steps);
  free(rb->schedule.window);
  json_decref(rb->schedule.waves);
  json_decref(rb->notify);
  json_decref(rb->root);
  free(rb->dir);
  free(rb->inventory);
  free(rb->group);
  json_decref(rb->target_index);
  free(rb);
}

const rd_target *rd_runbook_target(const rd_runbook *rb, const char *name) {
  json_t *i = rb && name ? json_object_get(rb->target_index, name) : NULL;
  return i ? &rb->targets[json_integer_value(i)] : NULL;
}
