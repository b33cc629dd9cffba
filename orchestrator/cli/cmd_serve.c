/* cmd_serve.c — 'renewd serve': the daemon.
 *
 * The main loop owns signals, the scan timers and the optional /metrics
 * listener; each scan runs in a worker thread on a loop of its own (the
 * engine of `renewd run`), so /metrics answers while hosts are being
 * renewed. Per runbook: a scan every schedule.scan_interval plus a random
 * jitter up to schedule.jitter; outside the runbook's maintenance window a
 * scan only probes (whatif) and reports what is due; inside it renews, in
 * waves. Failed renewals wait out their backoff (journal). SIGTERM/SIGINT
 * stop after the running scan; the loop closes with nothing left open. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <uv.h>

#include "cli/cli.h"
#include "core/engine.h"
#include "base/err.h"
#include "store/journal.h"
#include "host/registry.h"
#include "config/runbook.h"
#include "core/schedule.h"

typedef struct serve_rb {
  rd_runbook *rb;
  uv_timer_t timer;
  time_t next_scan;
  /* last scan */
  time_t last_scan;
  int last_code, last_whatif;
  rd_engine_stats last;
  long scans, renewed_total, failed_total;
  json_t *expiry; /* {"host": not_after} */
} serve_rb;

typedef struct serve {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint;
  uv_tcp_t listener;
  int listening;
  rd_registry *reg;
  const char *journal_path;
  serve_rb *rbs;
  size_t nrbs;
  int busy;          /* a scan is running */
  int stopping;
  int once;          /* --once: one scan of every runbook, then exit */
  size_t once_left;
  int max_parallel;
  int verbose;
  int exit_code;
} serve;

typedef struct scan_job {
  uv_work_t req;
  serve *sv;
  serve_rb *r;
  int whatif;
  int code;
  rd_engine_stats stats;
  json_t *report;
  char err[512];
} scan_job;

static void schedule_next(serve *sv, serve_rb *r, int first);
static void maybe_stop(serve *sv);

static uint64_t rand64(void) {
  uint64_t v = 0;
  if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
    v = (uint64_t)time(NULL) * 6364136223846793005ULL;
  return v;
}

/* --- the scan, on a worker thread ------------------------------------------ */

static void scan_work(uv_work_t *req) {
  scan_job *sj = req->data;
  uv_loop_t loop;
  rd_journal *j = NULL;
  rd_engine *e = NULL;
  FILE *devnull = fopen("/dev/null", "w");
  rd_engine_opts eo = {.whatif = sj->whatif, .out = devnull ? devnull : stdout,
                       .max_parallel = sj->sv->max_parallel, .verbose = sj->sv->verbose};
  sj->code = RD_EXIT_FAILED;
  if (uv_loop_init(&loop)) {
    snprintf(sj->err, sizeof sj->err, "cannot create a loop");
    goto out_nofile;
  }
  if (!sj->whatif && rd_journal_open(sj->sv->journal_path, &j, sj->err, sizeof sj->err))
    goto out;
  if (rd_engine_new(&loop, sj->sv->reg, j, &eo, &e) || rd_engine_add_runbook(e, sj->r->rb)) {
    snprintf(sj->err, sizeof sj->err, "runbook %s: cannot queue its targets", sj->r->rb->path);
    goto out;
  }
  sj->code = rd_engine_run(e, &sj->stats);
  sj->report = json_deep_copy(rd_engine_report(e));
out:
  rd_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  rd_journal_close(j);
out_nofile:
  if (devnull)
    fclose(devnull);
}

static void log_scan(serve_rb *r, const scan_job *sj) {
  char when[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  if (sj->err[0]) {
    printf("%s serve: runbook %s: scan failed: %s\n", when, r->rb->name, sj->err);
    fflush(stdout);
    return;
  }
  printf("%s serve: runbook %s: %s%d targets, %d due, %d renewed, %d failed, %d rolled back, "
         "%d need an operator, %d held or backing off\n",
         when, r->rb->name, sj->whatif ? "outside the maintenance window, probe only: " : "",
         sj->stats.targets, sj->stats.due, sj->stats.renewed, sj->stats.failed,
         sj->stats.rolled_back, sj->stats.needs_operator, sj->stats.skipped);
  const json_t *jobs = json_object_get(sj->report, "jobs"), *job;
  size_t i;
  json_array_foreach(jobs, i, job) {
    const char *st = json_string_value(json_object_get(job, "state"));
    const char *err = json_string_value(json_object_get(job, "error"));
    if (st && strcmp(st, "NOT_DUE"))
      printf("%s serve:   host %s: %s%s%s\n", when, json_string_value(json_object_get(job, "host")),
             st, err ? ": " : "", err ? err : "");
  }
  fflush(stdout);
}

static void scan_after(uv_work_t *req, int status) {
  scan_job *sj = req->data;
  serve *sv = sj->sv;
  serve_rb *r = sj->r;
  (void)status;
  sv->busy = 0;
  r->scans++;
  r->last_scan = time(NULL);
  r->last_code = sj->code;
  r->last_whatif = sj->whatif;
  r->last = sj->stats;
  r->renewed_total += sj->stats.renewed;
  r->failed_total += sj->stats.failed + sj->stats.rolled_back + sj->stats.needs_operator;
  if (sj->report) {
    const json_t *jobs = json_object_get(sj->report, "jobs"), *job;
    size_t i;
    json_array_foreach(jobs, i, job) {
      const json_t *c = json_object_get(job, "live_cert");
      json_int_t na = c ? json_integer_value(json_object_get(c, "not_after")) : 0;
      if (na)
        json_object_set_new(r->expiry, json_string_value(json_object_get(job, "host")),
                            json_integer(na));
    }
  }
  if (sv->once && sj->code == RD_EXIT_FAILED)
    sv->exit_code = RD_EXIT_FAILED;
  else if (sv->once && sj->code == RD_EXIT_RENEWED && sv->exit_code == RD_EXIT_OK)
    sv->exit_code = RD_EXIT_RENEWED;
  log_scan(r, sj);
  json_decref(sj->report);
  free(sj);
  if (sv->once && --sv->once_left == 0)
    sv->stopping = 1;
  if (sv->stopping) {
    maybe_stop(sv);
    return;
  }
  schedule_next(sv, r, 0);
}

static void start_scan(serve *sv, serve_rb *r) {
  scan_job *sj = calloc(1, sizeof *sj);
  time_t now = time(NULL);
  if (!sj)
    return;
  sj->sv = sv;
  sj->r = r;
  sj->whatif = !rd_window_is_open(&r->rb->schedule.win, now, rd_local_offset(now));
  sj->req.data = sj;
  sv->busy = 1;
  if (uv_queue_work(&sv->loop, &sj->req, scan_work, scan_after)) {
    sv->busy = 0;
    free(sj);
  }
}

/* --- timers ------------------------------------------------------------------ */

static void timer_fired(uv_timer_t *t) {
  serve_rb *r = t->data;
  serve *sv = (serve *)r->timer.loop->data;
  if (sv->stopping)
    return;
  if (sv->busy) { /* one scan at a time: try again shortly */
    uv_timer_start(&r->timer, timer_fired, 1000, 0);
    return;
  }
  start_scan(sv, r);
}

static void schedule_next(serve *sv, serve_rb *r, int first) {
  const rd_schedule *sc = &r->rb->schedule;
  int64_t base = first ? 0 : sc->scan_interval_s;
  int64_t delay = rd_jitter(base, sc->jitter_s > 0 ? sc->jitter_s : 0, rand64());
  time_t now = time(NULL);
  if (!first && !sc->win.always) {
    /* be there when the window opens, if that is sooner */
    time_t open = rd_window_next_open(&sc->win, now, rd_local_offset(now));
    if (open > now && open - now < delay)
      delay = (int64_t)(open - now);
  }
  if (first && sv->once)
    delay = 0;
  r->next_scan = now + (time_t)delay;
  uv_timer_start(&r->timer, timer_fired, (uint64_t)delay * 1000u, 0);
}

/* --- /metrics ------------------------------------------------------------------- */

typedef struct conn {
  uv_tcp_t tcp;
  uv_write_t wr;
  char in[2048];
  size_t inlen;
  char *out;
  int responded;
} conn;

static void conn_closed(uv_handle_t *h) {
  conn *c = (conn *)h;
  free(c->out);
  free(c);
}

static void conn_written(uv_write_t *w, int status) {
  (void)status;
  uv_close((uv_handle_t *)w->data, conn_closed);
}

static char *metrics_text(serve *sv) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  fprintf(f, "# HELP renewd_scans_total Scans of the runbook since start.\n"
             "# TYPE renewd_scans_total counter\n");
  for (size_t i = 0; i < sv->nrbs; i++)
    fprintf(f, "renewd_scans_total{runbook=\"%s\"} %ld\n", sv->rbs[i].rb->name, sv->rbs[i].scans);
  fprintf(f, "# HELP renewd_renewed_total Certificates renewed since start.\n"
             "# TYPE renewd_renewed_total counter\n");
  for (size_t i = 0; i < sv->nrbs; i++)
    fprintf(f, "renewd_renewed_total{runbook=\"%s\"} %ld\n", sv->rbs[i].rb->name,
            sv->rbs[i].renewed_total);
  fprintf(f, "# HELP renewd_failed_total Renewals that failed, rolled back or need an operator.\n"
             "# TYPE renewd_failed_total counter\n");
  for (size_t i = 0; i < sv->nrbs; i++)
    fprintf(f, "renewd_failed_total{runbook=\"%s\"} %ld\n", sv->rbs[i].rb->name,
            sv->rbs[i].failed_total);
  fprintf(f, "# HELP renewd_due Certificates due at the last scan.\n# TYPE renewd_due gauge\n");
  for (size_t i = 0; i < sv->nrbs; i++)
    fprintf(f, "renewd_due{runbook=\"%s\"} %d\n", sv->rbs[i].rb->name, sv->rbs[i].last.due);
  fprintf(f, "# HELP renewd_last_scan_timestamp_seconds End of the last scan.\n"
             "# TYPE renewd_last_scan_timestamp_seconds gauge\n");
  for (size_t i = 0; i < sv->nrbs; i++)
    fprintf(f, "renewd_last_scan_timestamp_seconds{runbook=\"%s\"} %ld\n", sv->rbs[i].rb->name,
            (long)sv->rbs[i].last_scan);
  fprintf(f, "# HELP renewd_next_scan_timestamp_seconds When the next scan starts.\n"
             "# TYPE renewd_next_scan_timestamp_seconds gauge\n");
  for (size_t i = 0; i < sv->nrbs; i++)
    fprintf(f, "renewd_next_scan_timestamp_seconds{runbook=\"%s\"} %ld\n", sv->rbs[i].rb->name,
            (long)sv->rbs[i].next_scan);
  fprintf(f, "# HELP renewd_certificate_not_after_seconds Expiry of the live certificate, as "
             "last inventoried.\n# TYPE renewd_certificate_not_after_seconds gauge\n");
  for (size_t i = 0; i < sv->nrbs; i++) {
    const char *host;
    json_t *v;
    json_object_foreach(sv->rbs[i].expiry, host, v)
      fprintf(f, "renewd_certificate_not_after_seconds{runbook=\"%s\",host=\"%s\"} %lld\n",
              sv->rbs[i].rb->name, host, (long long)json_integer_value(v));
  }
  fclose(f);
  return buf;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  conn *c = (conn *)h;
  (void)suggested;
  *b = uv_buf_init(c->in + c->inlen, (unsigned)(sizeof c->in - 1 - c->inlen));
}

static void respond(conn *c, const char *status, const char *ctype, const char *body) {
  size_t n = strlen(body) + 256;
  if (c->responded || !(c->out = malloc(n)))
    return;
  c->responded = 1;
  snprintf(c->out, n,
           "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
           status, ctype, strlen(body), body);
  uv_buf_t b = uv_buf_init(c->out, (unsigned)strlen(c->out));
  c->wr.data = c;
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, conn_written))
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  conn *c = (conn *)s;
  serve *sv = s->loop->data;
  (void)b;
  if (n < 0) {
    if (!c->responded)
      uv_close((uv_handle_t *)s, conn_closed);
    return;
  }
  c->inlen += (size_t)n;
  c->in[c->inlen] = 0;
  if (!strstr(c->in, "\r\n\r\n") && c->inlen < sizeof c->in - 1)
    return;
  if (!strncmp(c->in, "GET /metrics ", 13)) {
    char *m = metrics_text(sv);
    respond(c, "200 OK", "text/plain; version=0.0.4", m ? m : "");
    free(m);
  } else if (!strncmp(c->in, "GET /healthz ", 13)) {
    respond(c, "200 OK", "text/plain", "ok\n");
  } else {
    respond(c, "404 Not Found", "text/plain", "renewd serves /metrics and /healthz\n");
  }
}

static void on_connection(uv_stream_t *server, int status) {
  conn *c;
  if (status < 0 || !(c = calloc(1, sizeof *c)))
    return;
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) ||
      uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read))
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static int listen_on(serve *sv, const char *spec) {
  char host[256];
  const char *colon = strrchr(spec, ':');
  struct sockaddr_storage ss;
  int port, rc;
  if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host ||
      (port = atoi(colon + 1)) <= 0 || port > 65535) {
    fprintf(stderr, "renewd serve: --listen %s: expected ADDRESS:PORT, e.g. 127.0.0.1:9464\n", spec);
    return RD_EINVAL;
  }
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = 0;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)) {
    fprintf(stderr, "renewd serve: --listen %s: '%s' is not an IP address\n", spec, host);
    return RD_EINVAL;
  }
  uv_tcp_init(&sv->loop, &sv->listener);
  sv->listening = 1;
  if ((rc = uv_tcp_bind(&sv->listener, (struct sockaddr *)&ss, 0)) ||
      (rc = uv_listen((uv_stream_t *)&sv->listener, 64, on_connection))) {
    fprintf(stderr, "renewd serve: --listen %s: %s\n", spec, uv_strerror(rc));
    return RD_EIO;
  }
  return 0;
}

/* --- lifecycle ---------------------------------------------------------------------- */

static void maybe_stop(serve *sv) {
  if (sv->busy)
    return; /* scan_after comes back here */
  for (size_t i = 0; i < sv->nrbs; i++)
    if (!uv_is_closing((uv_handle_t *)&sv->rbs[i].timer))
      uv_close((uv_handle_t *)&sv->rbs[i].timer, NULL);
  if (sv->listening && !uv_is_closing((uv_handle_t *)&sv->listener))
    uv_close((uv_handle_t *)&sv->listener, NULL);
  if (!uv_is_closing((uv_handle_t *)&sv->sigterm))
    uv_close((uv_handle_t *)&sv->sigterm, NULL);
  if (!uv_is_closing((uv_handle_t *)&sv->sigint))
    uv_close((uv_handle_t *)&sv->sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
  serve *sv = h->loop->data;
  fprintf(stderr, "renewd serve: signal %d: stopping%s\n", signum,
          sv->busy ? " after the running scan" : "");
  sv->stopping = 1;
  maybe_stop(sv);
}

int cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {{"journal", required_argument, NULL, 'J'},
                                       {"plugins", required_argument, NULL, 'P'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"once", no_argument, NULL, '1'},
                                       {"max-parallel", required_argument, NULL, 'm'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {NULL, 0, NULL, 0}};
  serve sv;
  const char *plugins = NULL, *listen = NULL;
  char err[1024];
  int c, code = RD_EXIT_USAGE;
  memset(&sv, 0, sizeof sv);
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
    switch (c) {
    case 'J': sv.journal_path = optarg; break;
    case 'P': plugins = optarg; break;
    case 'l': listen = optarg; break;
    case '1': sv.once = 1; break;
    case 'm': sv.max_parallel = atoi(optarg); break;
    case 'v': sv.verbose = 1; break;
    default:
      fprintf(stderr, "renewd serve: unknown or incomplete option '%s'; see 'renewd serve --help'\n",
              argv[optind - 1]);
      return RD_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "renewd serve: no runbook given; usage: renewd serve RUNBOOK... (see --help)\n");
    return RD_EXIT_USAGE;
  }
  if (!sv.journal_path)
    sv.journal_path = rd_journal_default_path();
  sv.nrbs = (size_t)(argc - optind);
  if (!(sv.rbs = calloc(sv.nrbs, sizeof *sv.rbs)))
    return RD_EXIT_FAILED;
  if (rd_registry_new(&sv.reg) || rd_registry_load_default(sv.reg, plugins, err, sizeof err)) {
    fprintf(stderr, "renewd serve: %s\n", err);
    goto out;
  }
  for (size_t i = 0; i < sv.nrbs; i++) {
    rd_diag diag = {0};
    int rc = rd_runbook_load(argv[optind + (int)i], sv.reg, &sv.rbs[i].rb, &diag);
    rd_diag_print(&diag, stderr);
    rd_diag_free(&diag);
    if (rc)
      goto out;
    sv.rbs[i].expiry = json_object();
  }
  { /* the journal must be usable before the first scan needs it */
    rd_journal *j = NULL;
    if (rd_journal_open(sv.journal_path, &j, err, sizeof err)) {
      fprintf(stderr, "renewd serve: %s\n", err);
      goto out;
    }
    rd_journal_audit(j, "renewd", "serve.start", NULL);
    rd_journal_close(j);
  }
  if (uv_loop_init(&sv.loop))
    goto out;
  sv.loop.data = &sv;
  uv_signal_init(&sv.loop, &sv.sigterm);
  uv_signal_init(&sv.loop, &sv.sigint);
  uv_signal_start(&sv.sigterm, on_signal, SIGTERM);
  uv_signal_start(&sv.sigint, on_signal, SIGINT);
  for (size_t i = 0; i < sv.nrbs; i++) {
    uv_timer_init(&sv.loop, &sv.rbs[i].timer);
    sv.rbs[i].timer.data = &sv.rbs[i];
  }
  if (listen && listen_on(&sv, listen)) {
    sv.stopping = 1;
    maybe_stop(&sv);
    uv_run(&sv.loop, UV_RUN_DEFAULT);
    uv_loop_close(&sv.loop);
    goto out;
  }
  sv.once_left = sv.nrbs;
  for (size_t i = 0; i < sv.nrbs; i++)
    schedule_next(&sv, &sv.rbs[i], 1);
  fprintf(stderr, "renewd serve: %zu runbook(s), journal %s%s%s\n", sv.nrbs, sv.journal_path,
          listen ? ", metrics on http://" : "", listen ? listen : "");
  uv_run(&sv.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&sv.loop))
    fprintf(stderr, "renewd serve: internal: handles left open at exit\n");
  code = sv.once ? sv.exit_code : RD_EXIT_OK;
out:
  for (size_t i = 0; i < sv.nrbs; i++) {
    rd_runbook_free(sv.rbs[i].rb);
    json_decref(sv.rbs[i].expiry);
  }
  free(sv.rbs);
  rd_registry_free(sv.reg);
  return code;
}
