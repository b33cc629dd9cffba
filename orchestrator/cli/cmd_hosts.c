/* cmd_hosts.c — 'renewd hosts trust HOST... --runbook R [--yes] [--replace]':
 * the explicit enrolment of SSH host keys. renewd itself never trusts an
 * unknown or changed key; this verb shows each key's fingerprint and, once
 * confirmed, appends it to the runbook's known_hosts file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "base/err.h"
#include "config/runbook.h"
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

/* What known_hosts says of the key in key_line ("HOSTS TYPE BASE64"):
 * 1 the same key is there, 2 the host is there with another key, 0 the
 * host is not there (hashed entries are not recognised: add plain ones). */
static int kh_lookup(const char *path, const char *key_line) {
  FILE *f = fopen(path, "r");
  char line[8192];
  size_t hl = strcspn(key_line, " ");
  int res = 0;
  if (!f)
    return 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == '#' || !line[0])
      continue;
    size_t fl = strcspn(line, " \t");
    /* is our host token one of the comma-separated names of this entry? */
    int match = 0;
    for (char *p = line; p < line + fl;) {
      size_t n = strcspn(p, ",");
      if (n > fl - (size_t)(p - line))
        n = fl - (size_t)(p - line);
      if (n == hl && !strncmp(p, key_line, hl))
        match = 1;
      p += n + 1;
    }
    if (!match)
      continue;
    if (!strcmp(line + fl + strspn(line + fl, " \t"), key_line + hl + 1)) {
      res = 1;
      break;
    }
    res = 2;
  }
  fclose(f);
  return res;
}

/* Rewrite known_hosts without the entries for key_line's host, plus
 * key_line: temp file in the same directory, fsync, rename. */
static int kh_replace(const char *path, const char *key_line) {
  char tmp[4096], line[8192];
  size_t hl = strcspn(key_line, " ");
  FILE *in = fopen(path, "r"), *out;
  int fd, rc = 0;
  snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
  if ((fd = mkstemp(tmp)) < 0 || !(out = fdopen(fd, "w"))) {
    if (in)
      fclose(in);
    return RD_EIO;
  }
  while (in && fgets(line, sizeof line, in)) {
    size_t fl = strcspn(line, " \t");
    int ours = 0;
    for (char *p = line; p < line + fl;) {
      size_t n = strcspn(p, ",");
      if (n > fl - (size_t)(p - line))
        n = fl - (size_t)(p - line);
      if (n == hl && !strncmp(p, key_line, hl))
        ours = 1;
      p += n + 1;
    }
    if (!ours && fputs(line, out) < 0)
      rc = RD_EIO;
  }
  if (in)
    fclose(in);
  if (fprintf(out, "%s\n", key_line) < 0 || fflush(out) || fsync(fileno(out)))
    rc = RD_EIO;
  fchmod(fileno(out), 0644);
  if (fclose(out) || rc || rename(tmp, path)) {
    unlink(tmp);
    return RD_EIO;
  }
  return 0;
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
  while ((c = getopt_long(argc, argv, "r:y", opts, NULL)) != -1) {
    if (c == 'r')
      rbpath = optarg;
    else if (c == 'y')
      yes = 1;
    else if (c == 'R')
      replace = 1;
    else {
      fprintf(stderr, "renewd hosts: unknown option '%s'; see 'renewd hosts --help'\n",
              argv[optind - 1]);
      return RD_EXIT_USAGE;
    }
  }
  if (optind >= argc || strcmp(argv[optind], "trust") || optind + 1 >= argc || !rbpath) {
    fprintf(stderr, "usage: renewd hosts trust HOST... --runbook R [--yes] [--replace]\n");
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
    uv_loop_t loop;
    rd_ssh *ssh = NULL;
    rd_ssh_limits lim = {4, 0};
    rd_ssh_opts o = {.connect_ms = rb->ssh.connect_timeout_ms, .op_ms = rb->ssh.connect_timeout_ms};
    trust_ctx ctx = {rb, t, RD_EIO, "", "", ""};
    if (!t) {
      fprintf(stderr, "renewd hosts trust: host %s: not a target of %s\n", argv[i], rbpath);
      code = RD_EXIT_USAGE;
      continue;
    }
    rd_ssh_target st = {t->name, t->address, t->port ? t->port : 22, rb->ssh.user, NULL, NULL,
                        rb->ssh.known_hosts, 0};
    uv_loop_init(&loop);
    if (rd_ssh_new(&loop, &lim, &ssh) == 0 &&
        rd_ssh_fetch_hostkey(ssh, &st, &o, got_key, &ctx) == 0)
      uv_run(&loop, UV_RUN_DEFAULT);
    if (ssh)
      rd_ssh_shutdown(ssh, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (!ctx.line[0] || ctx.status) {
      fprintf(stderr, "renewd hosts trust: host %s: %s\n", t->name,
              ctx.msg[0] ? ctx.msg : rd_strerror(ctx.status));
      code = RD_EXIT_FAILED;
      continue;
    }
    int known = kh_lookup(rb->ssh.known_hosts, ctx.line);
    if (known == 1) {
      printf("host %s: key %s is already trusted\n", t->name, ctx.fp);
      continue;
    }
    if (known == 2 && !replace) {
      fprintf(stderr,
              "renewd hosts trust: host %s: %s has a DIFFERENT key for it; the server now "
              "presents %s. Find out why it changed; then pass --replace to replace the "
              "recorded key\n",
              t->name, rb->ssh.known_hosts, ctx.fp);
      code = RD_EXIT_FAILED;
      continue;
    }
    printf("host %s (%s port %d): %s%s\n", t->name, t->address, st.port, ctx.fp,
           known == 2 ? " (replaces the recorded key)" : "");
    if (!yes && !confirm(t->name, ctx.fp)) {
      code = RD_EXIT_FAILED;
      continue;
    }
    if (known == 2) {
      if (kh_replace(rb->ssh.known_hosts, ctx.line)) {
        fprintf(stderr, "renewd hosts trust: known_hosts %s: cannot rewrite it: %s\n",
                rb->ssh.known_hosts, strerror(errno));
        code = RD_EXIT_FAILED;
        continue;
      }
      printf("host %s: key replaced in %s\n", t->name, rb->ssh.known_hosts);
      continue;
    }
    FILE *f = fopen(rb->ssh.known_hosts, "a");
    int bad = !f || fprintf(f, "%s\n", ctx.line) < 0;
    if (f && fclose(f))
      bad = 1;
    if (bad) {
      fprintf(stderr, "renewd hosts trust: known_hosts %s: cannot append: %s\n",
              rb->ssh.known_hosts, strerror(errno));
      code = RD_EXIT_FAILED;
      continue;
    }
    printf("host %s: added to %s\n", t->name, rb->ssh.known_hosts);
  }
  rd_runbook_free(rb);
  return code;
}
