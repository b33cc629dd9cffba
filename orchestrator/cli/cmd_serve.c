/* cmd_serve.c — 'renewd serve': the daemon's options and wiring.
 *
 * One loop owns everything: the signals, the scan scheduler (serve/scan.c,
 * scans are engines started on this loop) and the optional listener
 * (serve/listener.c) answering /metrics, /healthz and /status. The first
 * SIGTERM/SIGINT closes the listener and every connection at once, stops
 * scheduling and lets a running scan end (each of its steps is bounded by
 * its timeout); a second signal exits at once, and the journal resumes the
 * interrupted jobs on the next start. SIGHUP re-reads every runbook
 * (rd_serve_reload: a broken one is refused with its file:line:column and
 * the loaded version keeps running; a good one is used from its next scan).
 * The loop closes with nothing left. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "cli/cli.h"
#include "config/runbook.h"
#include "host/registry.h"
#include "serve/listener.h"
#include "serve/serve.h"
#include "store/journal.h"

typedef struct daemon {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint, sighup;
  rd_serve sv;
  rd_listener *listener;
  int signals;
} daemon_t;

static void close_signals(daemon_t *d) {
  if (!uv_is_closing((uv_handle_t *)&d->sigterm))
    uv_close((uv_handle_t *)&d->sigterm, NULL);
  if (!uv_is_closing((uv_handle_t *)&d->sigint))
    uv_close((uv_handle_t *)&d->sigint, NULL);
  if (!uv_is_closing((uv_handle_t *)&d->sighup))
    uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void on_hup(uv_signal_t *h, int signum) {
  daemon_t *d = h->data;
  int refused;
  (void)signum;
  if (d->signals || d->sv.stopping)
    return;
  rd_log(RD_LV_NOTICE, "serve", "SIGHUP: reading %zu runbook(s) again", d->sv.nrbs);
  refused = rd_serve_reload(&d->sv);
  if (refused)
    rd_log(RD_LV_WARNING, "serve", "%d runbook(s) refused; their loaded versions keep running",
           refused);
}

/* The scheduler has stopped (after SIGTERM, or --once is done). */
static void on_stopped(rd_serve *sv, void *arg) {
  daemon_t *d = arg;
  (void)sv;
  rd_listener_stop(d->listener, NULL, NULL);
  d->listener = NULL;
  close_signals(d);
}

static void on_signal(uv_signal_t *h, int signum) {
  daemon_t *d = h->data;
  if (d->signals++) {
    rd_log(RD_LV_WARNING, "serve", "signal %d again: exiting now; the journal resumes the "
           "interrupted jobs on the next start", signum);
    exit(RD_EXIT_FAILED);
  }
  rd_log(RD_LV_NOTICE, "serve", "signal %d: stopping%s", signum,
         d->sv.running ? " after the running scan (a second signal exits at once)" : "");
  rd_listener_stop(d->listener, NULL, NULL);
  d->listener = NULL;
  rd_serve_stop(&d->sv);
}

static int parse_listen(const char *spec, char *host, size_t hostlen, int *port) {
  if (rd_cli_parse_hostport(spec, 0, host, hostlen, port) == 0)
    return 0;
  fprintf(stderr, "renewd serve: --listen '%s': expected ADDRESS:PORT with a port from 1 to "
                  "65535, e.g. 127.0.0.1:9464 or [::1]:9464\n", rd_cli_printable(spec));
  return RD_EXIT_USAGE;
}

static int load_all(char **paths, size_t n, rd_registry *reg, rd_runbook **rbs) {
  for (size_t i = 0; i < n; i++) {
    rd_diag diag = {0};
    int rc = rd_runbook_load(paths[i], reg, &rbs[i], &diag);
    rd_diag_print(&diag, stderr);
    rd_diag_free(&diag);
    if (rc)
      return rc;
  }
  return 0;
}

/* Runs the loop until the scheduler stopped and every handle closed. */
static int run_daemon(daemon_t *d, rd_registry *reg, rd_journal *j, rd_runbook **rbs, size_t n,
                      const rd_serve_opts *so, const char *listen) {
  char host[256], err[512];
  int port = 0, rc;
  if (uv_loop_init(&d->loop))
    return RD_EXIT_FAILED;
  if (rd_serve_init(&d->sv, &d->loop, reg, j, rbs, n, so, on_stopped, d)) {
    uv_loop_close(&d->loop);
    return RD_EXIT_FAILED;
  }
  uv_signal_init(&d->loop, &d->sigterm);
  uv_signal_init(&d->loop, &d->sigint);
  uv_signal_init(&d->loop, &d->sighup);
  d->sigterm.data = d->sigint.data = d->sighup.data = d;
  uv_signal_start(&d->sigterm, on_signal, SIGTERM);
  uv_signal_start(&d->sigint, on_signal, SIGINT);
  uv_signal_start(&d->sighup, on_hup, SIGHUP);
  rc = listen ? parse_listen(listen, host, sizeof host, &port) : 0;
  if (!rc && listen &&
      rd_listener_start(&d->loop, host, port, NULL, rd_serve_route, &d->sv, &d->listener, err,
                        sizeof err)) {
    fprintf(stderr, "renewd serve: --listen %s\n", err);
    rc = RD_EXIT_USAGE;
  }
  if (rc) {
    d->signals = 1;
    rd_serve_stop(&d->sv);
  } else {
    rd_serve_start(&d->sv);
    rd_log(RD_LV_NOTICE, "serve", "started: %zu runbook(s), journal %s%s%s", n,
           rd_journal_path(j), listen ? ", /metrics /healthz /status on http://" : "",
           listen ? listen : "");
  }
  uv_run(&d->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&d->loop)) {
    rd_log(RD_LV_ERR, "serve", "internal: handles left open at exit");
    rc = RD_EXIT_FAILED;
  }
  rd_log(RD_LV_NOTICE, "serve", "stopped");
  if (!rc)
    rc = so->once ? d->sv.exit_code : RD_EXIT_OK;
  rd_serve_free(&d->sv);
  return rc;
}

int cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {{"journal", required_argument, NULL, 'J'},
                                       {"plugins", required_argument, NULL, 'P'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"once", no_argument, NULL, '1'},
                                       {"max-parallel", required_argument, NULL, 'm'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"log-format", required_argument, NULL, 'F'},
                                       {NULL, 0, NULL, 0}};
  const char *plugins = NULL, *listen = NULL, *journal_path = NULL;
  rd_serve_opts so = {0};
  rd_registry *reg = NULL;
  rd_journal *j = NULL;
  rd_runbook **rbs = NULL;
  daemon_t *d = NULL;
  char err[1024], host[256];
  int c, port, code = RD_EXIT_USAGE;
  size_t n = 0;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":v", opts, NULL)) != -1) {
    switch (c) {
    case 'J': journal_path = optarg; break;
    case 'P': plugins = optarg; break;
    case 'l':
      if (parse_listen(optarg, host, sizeof host, &port))
        return RD_EXIT_USAGE;
      listen = optarg;
      break;
    case '1': so.once = 1; break;
    case 'm':
      if (rd_cli_int_opt("serve", "--max-parallel", optarg, 1, RD_CLI_MAX_PARALLEL,
                         &so.max_parallel))
        return RD_EXIT_USAGE;
      break;
    case 'v': so.verbose = 1; break;
    case 'F':
      if (rd_log_set_format(optarg)) {
        fprintf(stderr, "renewd serve: --log-format '%s': expected text or json\n",
                rd_cli_printable(optarg));
        return RD_EXIT_USAGE;
      }
      break;
    default:
      return rd_cli_bad_option("serve", opts, argv, c);
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "renewd serve: no runbook given; usage: renewd serve RUNBOOK... (see --help)\n");
    return RD_EXIT_USAGE;
  }
  n = (size_t)(argc - optind);
  if (!(rbs = calloc(n, sizeof *rbs)) || !(d = calloc(1, sizeof *d))) {
    code = RD_EXIT_FAILED;
    goto out;
  }
  if (rd_registry_new(&reg) || rd_registry_load_default(reg, plugins, err, sizeof err)) {
    fprintf(stderr, "renewd serve: %s\n", err);
    goto out;
  }
  if (load_all(argv + optind, n, reg, rbs))
    goto out;
  /* one journal for the daemon's life: renewing scans write to it, /status reads it */
  if (rd_journal_open(journal_path, &j, err, sizeof err)) {
    fprintf(stderr, "renewd serve: %s\n", err);
    goto out;
  }
  rd_journal_audit(j, "renewd", "serve.start", NULL);
  code = run_daemon(d, reg, j, rbs, n, &so, listen);
out:
  rd_journal_close(j);
  for (size_t i = 0; rbs && i < n; i++)
    rd_runbook_free(rbs[i]);
  free(rbs);
  free(d);
  rd_registry_free(reg);
  return code;
}
