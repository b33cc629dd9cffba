/* args.c — the one parser of numbers and ADDRESS:PORT on the command line.
 * Every verb uses these, so `--max-parallel x` or `--listen h:80x` is an
 * error that names the option and what it accepts, never a silent 0. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "config/jsonpos.h"

int rd_cli_parse_int(const char *text, int min, int max, int *out) {
  char *end;
  long v;
  if (!text || !*text || *text == ' ' || *text == '\t' || *text == '+')
    return RD_EINVAL;
  errno = 0;
  v = strtol(text, &end, 10);
  if (*end)
    return RD_EINVAL;
  if (errno == ERANGE || v < min || v > max)
    return RD_EINVAL;
  *out = (int)v;
  return 0;
}

int rd_cli_int_opt(const char *verb, const char *opt, const char *text, int min, int max,
                   int *out) {
  if (rd_cli_parse_int(text, min, max, out) == 0)
    return 0;
  fprintf(stderr, "renewd %s: %s '%s': expected a whole number from %d to %d\n", verb, opt,
          rd_cli_printable(text), min, max);
  return RD_EXIT_USAGE;
}

int rd_cli_parse_hostport(const char *text, int default_port, char *host, size_t hostlen,
                          int *port) {
  const char *end, *colon;
  size_t hl;
  if (!text || !hostlen)
    return RD_EINVAL;
  if (*text == '[') { /* [v6addr] or [v6addr]:PORT */
    if (!(end = strchr(text, ']')))
      return RD_EINVAL;
    hl = (size_t)(end - text - 1);
    colon = end[1] == ':' ? end + 1 : NULL;
    if (end[1] && !colon)
      return RD_EINVAL;
    text++;
  } else {
    colon = strrchr(text, ':');
    if (colon && strchr(text, ':') != colon)
      return RD_EINVAL; /* a bare IPv6 address needs brackets */
    hl = colon ? (size_t)(colon - text) : strlen(text);
  }
  if (hl == 0 || hl >= hostlen || memchr(text, ' ', hl))
    return RD_EINVAL;
  if (colon) {
    if (rd_cli_parse_int(colon + 1, 1, 65535, port))
      return RD_EINVAL;
  } else if (default_port > 0) {
    *port = default_port;
  } else {
    return RD_EINVAL;
  }
  memcpy(host, text, hl);
  host[hl] = 0;
  return 0;
}

const char *rd_cli_printable(const char *text) {
  static char buf[128];
  size_t o = 0;
  if (!text)
    return "(null)";
  for (const unsigned char *p = (const unsigned char *)text; *p && o + 5 < sizeof buf; p++) {
    if (*p >= 0x20 && *p < 0x7f && *p != '\\' && *p != '\'')
      buf[o++] = (char)*p;
    else
      o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", *p);
  }
  buf[o] = 0;
  return buf;
}

int rd_cli_bad_option(const char *verb, const struct option *opts, char **argv, int c) {
  const char *arg = argv[optind - 1];
  const char *names[64];
  size_t n = 0;
  char word[64];
  if (c == ':') { /* a known option without its value */
    fprintf(stderr, "renewd %s: option '%s' needs a value; see 'renewd %s --help'\n", verb,
            rd_cli_printable(arg), verb);
    return RD_EXIT_USAGE;
  }
  if (arg[0] == '-' && arg[1] == '-') { /* --name or --name=value */
    snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    for (; opts[n].name && n < sizeof names / sizeof *names; n++)
      names[n] = opts[n].name;
    const char *s = rd_suggest(word, names, n);
    if (s && !strcmp(s, word) && strchr(arg, '=')) { /* --once=3 */
      fprintf(stderr, "renewd %s: option '--%s' takes no value; see 'renewd %s --help'\n", verb,
              s, verb);
      return RD_EXIT_USAGE;
    }
    if (s) {
      fprintf(stderr, "renewd %s: unknown option '%s'; did you mean '--%s'? (see 'renewd %s --help')\n",
              verb, rd_cli_printable(arg), s, verb);
      return RD_EXIT_USAGE;
    }
  } else if (optopt) { /* -x, perhaps inside a cluster such as -nx */
    fprintf(stderr, "renewd %s: unknown option '-%c'; see 'renewd %s --help'\n", verb, optopt,
            verb);
    return RD_EXIT_USAGE;
  }
  fprintf(stderr, "renewd %s: unknown option '%s'; see 'renewd %s --help'\n", verb,
          rd_cli_printable(arg), verb);
  return RD_EXIT_USAGE;
}
