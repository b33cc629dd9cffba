/* debug.h — what the files of `renewd debug` share (see cmd_debug.c for the
 * commands): the usage text, output helpers, HOST and SSH option parsing. */
#ifndef RENEWD_CLI_DEBUG_H
#define RENEWD_CLI_DEBUG_H
#include <stddef.h>

#include <jansson.h>

typedef struct dhost {
  char name[128], addr[128];
  int port;
} dhost;

typedef struct dopts {
  const char *known_hosts, *identity, *user, *passphrase_file, *params_json, *stdin_file,
      *inventory;
  char *passphrase;
  int agent, sudo, count, stats, max_handshakes;
  long timeout_ms, connect_ms;
  size_t out_cap, err_cap;
  dhost *hosts;
  size_t nhosts;
  const char *command;
} dopts;

extern const char dbg_usage[];
/* "renewd debug: <message>" and the usage on stderr; returns RD_EXIT_USAGE. */
int dbg_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dbg_sha256_hex(const void *p, size_t n, char out[65]);
/* Print o as one compact JSON line and release it. */
void dbg_print_json(json_t *o);
/* A JSON string of arbitrary bytes for printing: invalid UTF-8 becomes U+FFFD. */
json_t *dbg_text_json(const char *p, size_t n);
/* Parses SSH options and hosts from argv[first]; with want_command, the one
 * argument after "--" is the command. 0, or -1 after a message. */
int dbg_parse_ssh_args(int argc, char **argv, int first, dopts *d, int want_command);
/* A whole number 1..INT_MAX for option opt; -1 after the message. */
int dbg_int_opt(const char *opt, const char *text, int *out);
/* Checks the login options and reads --passphrase-file. */
int dbg_need_login(dopts *d);
/* {"name": "text" | {"b64": "..."}} -> object of byte strings, or NULL. */
json_t *dbg_load_params(const char *path);

/* debug_ssh.c: exec / script on every host; hostkey. */
int dbg_run_ssh(dopts *d, int script);
int dbg_hostkey(int argc, char **argv);
/* debug_http.c */
int dbg_http(int argc, char **argv);
/* A transport manager's shutdown callback with nothing to do. */
void dbg_shutdown_done(void *arg);

#endif
