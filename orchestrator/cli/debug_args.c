/* debug_args.c — `renewd debug`: usage, output helpers, HOST and SSH option
 * parsing (numbers and ADDRESS:PORT through the CLI's one parser). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "base/err.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/debug.h"

const char dbg_usage[] =
    "usage: renewd debug exec    [SSH options] HOST... -- COMMAND\n"
    "       renewd debug script  [SSH options] --params-json FILE HOST...\n"
    "       renewd debug hostkey [--connect-ms N] HOST...\n"
    "       renewd debug http    URL [--n N] [--cacert F] [--insecure] [--timeout-ms N]\n"
    "                            [--max-body N] [--body]\n"
    "       renewd debug psbuild --script FILE --out FILE [--name N] [--params-json F]\n"
    "HOST: [NAME=]ADDRESS[:PORT], or --inventory FILE for all of an inventory's hosts\n"
    "SSH options: --known-hosts F --identity K [--passphrase-file F] [--agent] --user U\n"
    "             [--timeout-ms N] [--connect-ms N] [--out-cap N] [--err-cap N] [--sudo]\n"
    "             [--max-handshakes N] [--count N] [--stdin-file F] [--stats]\n"
    "exit: 0 all succeeded, 1 something failed, 2 usage\n"
    "example: renewd debug hostkey 127.0.0.1:22\n";

int dbg_usage_err(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "renewd debug: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n%s", dbg_usage);
  return RD_EXIT_USAGE;
}

void dbg_sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int l = 0;
  EVP_Digest(p, n, md, &l, EVP_sha256(), NULL);
  for (unsigned i = 0; i < l; i++)
    sprintf(out + 2 * i, "%02x", md[i]);
  out[2 * l] = 0;
}

void dbg_print_json(json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(7));
  if (s) {
    puts(s);
    fflush(stdout);
    free(s);
  }
  json_decref(o);
}

/* A JSON string of arbitrary bytes for printing: invalid UTF-8 becomes U+FFFD. */
json_t *dbg_text_json(const char *p, size_t n) {
  json_t *v = json_stringn(p, n);
  if (v)
    return v;
  char *c = malloc(n * 3 + 1);
  size_t j = 0;
  if (!c)
    return json_null();
  for (size_t i = 0; i < n; i++) {
    unsigned char b = (unsigned char)p[i];
    if (b < 0x80 && b) {
      c[j++] = (char)b;
    } else {
      memcpy(c + j, "\xEF\xBF\xBD", 3);
      j += 3;
    }
  }
  v = json_stringn(c, j);
  free(c);
  return v ? v : json_null();
}

static int parse_host(const char *spec, dhost *h) {
  const char *eq = strchr(spec, '='), *a = eq ? eq + 1 : spec;
  memset(h, 0, sizeof *h);
  if (rd_cli_parse_hostport(a, 22, h->addr, sizeof h->addr, &h->port))
    return -1;
  if (eq) {
    size_t nl = (size_t)(eq - spec);
    if (!nl || nl >= sizeof h->name)
      return -1;
    memcpy(h->name, spec, nl);
  } else {
    snprintf(h->name, sizeof h->name, "%s", h->addr);
  }
  return 0;
}

static int add_host(dopts *d, const char *spec) {
  dhost *n = realloc(d->hosts, (d->nhosts + 1) * sizeof *n);
  if (!n)
    return -1;
  d->hosts = n;
  if (parse_host(spec, &d->hosts[d->nhosts]))
    return -1;
  d->nhosts++;
  return 0;
}

static int load_inventory(dopts *d) {
  json_error_t je;
  json_t *inv = json_load_file(d->inventory, 0, &je), *hosts, *v;
  const char *name;
  if (!inv) {
    fprintf(stderr, "renewd debug: %s:%d:%d: %s\n", d->inventory, je.line, je.column, je.text);
    return -1;
  }
  hosts = json_object_get(inv, "hosts");
  json_object_foreach(hosts, name, v) {
    const char *addr = json_string_value(json_object_get(v, "address"));
    json_int_t port = json_integer_value(json_object_get(v, "port"));
    char spec[300];
    if (!addr)
      continue;
    snprintf(spec, sizeof spec, strchr(addr, ':') ? "%s=[%s]:%d" : "%s=%s:%d", name, addr,
             port > 0 ? (int)port : 22);
    if (add_host(d, spec)) {
      json_decref(inv);
      return -1;
    }
  }
  json_decref(inv);
  return 0;
}

int dbg_int_opt(const char *opt, const char *text, int *out) {
  return rd_cli_int_opt("debug", opt, text, 1, INT_MAX, out) ? -1 : 0;
}

/* Parses SSH options and hosts; stops at "--" (returns its index + 1). */
int dbg_parse_ssh_args(int argc, char **argv, int first, dopts *d, int want_command) {
  int i;
  for (i = first; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int n;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
#define NEEDV()                                                                \
  do {                                                                         \
    if (!v)                                                                    \
      return dbg_usage_err("%s needs a value", a), -1;                             \
    i++;                                                                       \
  } while (0)
    if (!strcmp(a, "--known-hosts")) {
      NEEDV();
      d->known_hosts = v;
    } else if (!strcmp(a, "--identity")) {
      NEEDV();
      d->identity = v;
    } else if (!strcmp(a, "--user")) {
      NEEDV();
      d->user = v;
    } else if (!strcmp(a, "--passphrase-file")) {
      NEEDV();
      d->passphrase_file = v;
    } else if (!strcmp(a, "--params-json")) {
      NEEDV();
      d->params_json = v;
    } else if (!strcmp(a, "--stdin-file")) {
      NEEDV();
      d->stdin_file = v;
    } else if (!strcmp(a, "--inventory")) {
      NEEDV();
      d->inventory = v;
    } else if (!strcmp(a, "--agent")) {
      d->agent = 1;
    } else if (!strcmp(a, "--sudo")) {
      d->sudo = 1;
    } else if (!strcmp(a, "--stats")) {
      d->stats = 1;
    } else if (!strcmp(a, "--timeout-ms") || !strcmp(a, "--connect-ms") ||
               !strcmp(a, "--out-cap") || !strcmp(a, "--err-cap") || !strcmp(a, "--count") ||
               !strcmp(a, "--max-handshakes")) {
      NEEDV();
      if (dbg_int_opt(a, v, &n))
        return -1;
      if (!strcmp(a, "--timeout-ms"))
        d->timeout_ms = n;
      else if (!strcmp(a, "--connect-ms"))
        d->connect_ms = n;
      else if (!strcmp(a, "--out-cap"))
        d->out_cap = (size_t)n;
      else if (!strcmp(a, "--err-cap"))
        d->err_cap = (size_t)n;
      else if (!strcmp(a, "--count"))
        d->count = (int)n;
      else
        d->max_handshakes = (int)n;
    } else if (a[0] == '-' && a[1] == '-') {
      return dbg_usage_err("unknown option %s", rd_cli_printable(a)), -1;
    } else if (add_host(d, a)) {
      return dbg_usage_err("'%s' is not [NAME=]ADDRESS[:PORT]", rd_cli_printable(a)), -1;
    }
#undef NEEDV
  }
  if (want_command) {
    if (i >= argc)
      return dbg_usage_err("%s", "no COMMAND after --"), -1;
    d->command = argv[i];
    if (i + 1 != argc)
      return dbg_usage_err("%s", "put COMMAND in one argument after --"), -1;
  }
  if (d->inventory && load_inventory(d))
    return -1;
  if (!d->nhosts)
    return dbg_usage_err("%s", "no HOST given"), -1;
  return 0;
}

int dbg_need_login(dopts *d) {
  if (!d->known_hosts || !d->user || (!d->identity && !d->agent))
    return dbg_usage_err("%s", "--known-hosts, --user and --identity (or --agent) are required"), -1;
  if (d->passphrase_file) {
    size_t n = 0;
    if (rd_read_file(d->passphrase_file, 4096, &d->passphrase, &n)) {
      fprintf(stderr, "renewd debug: cannot read %s\n", d->passphrase_file);
      return -1;
    }
    while (n && (d->passphrase[n - 1] == '\n' || d->passphrase[n - 1] == '\r'))
      d->passphrase[--n] = 0;
  }
  return 0;
}

/* {"name": "text" | {"b64": "..."}} -> object of byte strings */
json_t *dbg_load_params(const char *path) {
  json_error_t je;
  json_t *in = json_load_file(path, 0, &je), *out, *v;
  const char *k;
  if (!in || !json_is_object(in)) {
    fprintf(stderr, "renewd debug: %s:%d:%d: %s\n", path, je.line, je.column,
                in ? "expected an object" : je.text);
    json_decref(in);
    return NULL;
  }
  out = json_object();
  json_object_foreach(in, k, v) {
    if (json_is_object(v)) {
      const char *b = json_string_value(json_object_get(v, "b64"));
      unsigned char *raw = NULL;
      size_t rl = 0;
      if (!b || rd_base64_decode(b, strlen(b), &raw, &rl)) {
        fprintf(stderr, "renewd debug: %s: parameter %s: bad {\"b64\": ...}\n", path, k);
        json_decref(in);
        json_decref(out);
        return NULL;
      }
      json_t *s = json_stringn((const char *)raw, rl);
      json_object_set_new(out, k, s ? s : json_stringn_nocheck((const char *)raw, rl));
      free(raw);
    } else {
      json_object_set(out, k, v);
    }
  }
  json_decref(in);
  return out;
}
