/* cmd_hosts.c — 'renewd hosts trust HOST... --runbook R [--yes] [--replace]':
 * the explicit enrolment of SSH host keys. renewd itself never trusts an
 * unknown or changed key; this verb shows each key's fingerprint and, once
 * confirmed, records it in the runbook's known_hosts file. Whether a key is
 * already trusted is decided by the same libssh2 check as at connect time
 * (transport/known_hosts.h), and the file is rewritten atomically. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "base/err.h"
#include "config/runbook.h"
#include "transport/known_hosts.h"
#include "transport/ssh.h"

typedef struct trust_ctx {
  const rd_runbook *rb;
  const rd_target *t;
  int status;
  char line[4096];
  char fp[256];
  char msg[512];
} trust_ctx;

static void got_key(int status, const char *key_line, const char *fingerprint, const char *msg,
                    void *arg) {
  trust_ctx *c = arg;
  c->status = status;
  if (key_line)
    snprintf(c->line, sizeof c->line, "%s", key_line);
  if (fingerprint)
    snprintf(c->fp, sizeof c->fp, "%s", fingerprint);
  if (msg)
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

static int confirm(const char *host, const char *fp) {
  char buf[16];
  if (!isatty(STDIN_FILENO)) {
    fprintf(stderr, "renewd hosts trust: host %s: not a terminal, cannot ask; check the "
                    "fingerprint %s out of band and pass --yes\n",
            host, fp);
    return 0;
  }
  fprintf(stderr, "host %s: trust key %s? [y/N] ", host, fp);
  if (!fgets(buf, sizeof buf, stdin))
    return 0;
  return buf[0] == 'y' || buf[0] == 'Y';
}

/* Connect to t and read its host key (no login): 0 with ctx->line and
 * ctx->fp, or the failure printed. */
static int fetch_key(const rd_runbook *rb, const rd_target *t, trust_ctx *ctx) {
  uv_loop_t loop;
  rd_ssh *ssh = NULL;
  rd_ssh_limits lim = {4, 0};
  rd_ssh_opts o = {.connect_ms = rb->ssh.connect_timeout_ms, .op_ms = rb->ssh.connect_timeout_ms};
  rd_ssh_target st = {t->name, t->address, t->port ? t->port : 22, rb->ssh.user, NULL, NULL,
                      rb->ssh.known_hosts, 0};
  uv_loop_init(&loop);
  if (rd_ssh_new(&loop, &lim, &ssh) == 0 && rd_ssh_fetch_hostkey(ssh, &st, &o, got_key, ctx) == 0)
    uv_run(&loop, UV_RUN_DEFAULT);
  if (ssh)
    rd_ssh_shutdown(ssh, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (!ctx->line[0] || ctx->status) {
    fprintf(stderr, "renewd hosts trust: host %s: %s\n", t->name,
            ctx->msg[0] ? ctx->msg : rd_strerror(ctx->status));
    return RD_EXIT_FAILED;
  }
  return 0;
}

/* Show, check against known_hosts (as the connect-time check does), ask,
 * and record one host's key. An RD_EXIT_* code. */
static int trust_one(const rd_runbook *rb, const rd_target *t, int yes, int replace) {
  trust_ctx ctx = {rb, t, RD_EIO, "", "", ""};
  const char *path = rb->ssh.known_hosts;
  char type[64], why[600], efp[128] = "";
  unsigned char *blob = NULL;
  size_t blen = 0;
  rd_kh_verdict v = RD_KH_UNKNOWN;
  int code = RD_EXIT_FAILED;
  if (fetch_key(rb, t, &ctx))
    return RD_EXIT_FAILED;
  if (rd_known_hosts_parse_key(ctx.line, type, sizeof type, &blob, &blen)) {
    fprintf(stderr, "renewd hosts trust: host %s: the server's key cannot be read\n", t->name);
    return RD_EXIT_FAILED;
  }
  rd_kh_host kh = {t->address, t->name, t->port ? t->port : 22};
  rd_kh_key key = {type, blob, blen};
  if (rd_known_hosts_check(path, &kh, &key, &v, efp, sizeof efp, why, sizeof why)) {
    fprintf(stderr, "renewd hosts trust: host %s: %s\n", t->name, why);
  } else if (v == RD_KH_TRUSTED) {
    printf("host %s: key %s is already trusted\n", t->name, ctx.fp);
    code = RD_EXIT_OK;
  } else if (v == RD_KH_CHANGED && !replace) {
    fprintf(stderr,
            "renewd hosts trust: host %s: %s has a DIFFERENT key for it (%s); the server now "
            "presents %s. Find out why it changed; then pass --replace to replace the "
            "recorded key\n",
            t->name, path, efp, ctx.fp);
  } else {
    printf("host %s (%s port %d): %s%s\n", t->name, t->address, kh.port, ctx.fp,
           v == RD_KH_CHANGED ? " (replaces the recorded key)" : "");
    if (!yes && !confirm(t->name, ctx.fp)) {
      /* refused or not asked: nothing is written */
    } else if (rd_known_hosts_store(path, &kh, &key, v == RD_KH_CHANGED, why, sizeof why)) {
      fprintf(stderr, "renewd hosts trust: %s\n", why);
    } else {
      printf("host %s: %s %s\n", t->name, v == RD_KH_CHANGED ? "key replaced in" : "added to",
             path);
      code = RD_EXIT_OK;
    }
  }
  free(blob);
  return code;
}

int cmd_hosts(int argc, char **argv) {
  static const struct option opts[] = {{"runbook", required_argument, NULL, 'r'},
                                       {"yes", no_argument, NULL, 'y'},
                                       {"replace", no_argument, NULL, 'R'},
                                       {NULL, 0, NULL, 0}};
  const char *rbpath = NULL;
  int yes = 0, replace = 0, c, code = RD_EXIT_OK;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":r:y", opts, NULL)) != -1) {
    if (c == 'r')
      rbpath = optarg;
    else if (c == 'y')
      yes = 1;
    else if (c == 'R')
      replace = 1;
    else
      return rd_cli_bad_option("hosts", opts, argv, c);
  }
  if (optind >= argc || strcmp(argv[optind], "trust")) {
    fprintf(stderr, "renewd hosts: %s%s%s; the one subcommand is 'trust': renewd hosts trust "
                    "HOST... --runbook R [--yes] [--replace]\n",
            optind < argc ? "unknown subcommand '" : "name what to do",
            optind < argc ? rd_cli_printable(argv[optind]) : "", optind < argc ? "'" : "");
    return RD_EXIT_USAGE;
  }
  if (optind + 1 >= argc || !rbpath) {
    fprintf(stderr, "renewd hosts trust: %s; usage: renewd hosts trust HOST... --runbook R "
                    "[--yes] [--replace]\n",
            optind + 1 >= argc ? "name the hosts to trust (targets of the runbook)"
                               : "--runbook R is required (its ssh.known_hosts file is where "
                                 "the keys go, its targets name the hosts)");
    return RD_EXIT_USAGE;
  }
  if (rd_runbook_load(rbpath, NULL, &rb, &diag)) {
    rd_diag_print(&diag, stderr);
    rd_diag_free(&diag);
    return RD_EXIT_USAGE;
  }
  rd_diag_free(&diag);
  for (int i = optind + 1; i < argc; i++) {
    const rd_target *t = rd_runbook_target(rb, argv[i]);
    int rc;
    if (!t) {
      fprintf(stderr, "renewd hosts trust: host %s: not a target of %s\n", argv[i], rbpath);
      code = RD_EXIT_USAGE;
      continue;
    }
    if ((rc = trust_one(rb, t, yes, replace)) != RD_EXIT_OK)
      code = rc;
  }
  rd_runbook_free(rb);
  return code;
}
