/* test_serve_scan.c — the serve scheduler with the listener, as the daemon
 * wires them, with step kinds defined here that do their work on the
 * thread pool. The process runs with UV_THREADPOOL_SIZE=1: a scan that ran
 * inside uv_queue_work (as serve did) held the pool's only thread while its
 * own work items waited for it, and never ended. Here the scan ends, and
 * /metrics, /healthz and /status answer while it runs (a real TCP client
 * on 127.0.0.1, in a thread). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "base/log.h"
#include "base/util.h"
#include "host/registry.h"
#include "serve/listener.h"
#include "serve/serve.h"
#include "store/journal.h"
#include "transport/global.h"
#include "testutil.h"

/* ---- step kinds: each phase sleeps on the thread pool, then finishes ---- */

static int work_ms = 150;
static void sleep_work(void *arg) {
  (void)arg;
  usleep((useconds_t)work_ms * 1000);
}

static json_t *cert(const char *sha, long days) {
  time_t now = time(NULL);
  return json_pack("{s:s, s:I, s:I, s:s}", "sha256", sha, "not_before", (json_int_t)(now - 29 * 86400),
                   "not_after", (json_int_t)(now + days * 86400), "serial", sha);
}

static void inv_after(rd_step *s, int status, void *arg) {
  const rd_host_api *h = arg;
  json_object_set_new(h->facts(s), "cert", cert("old", 1));
  h->done(s, status, NULL, NULL);
}
static int inv_probe(rd_step *s, const rd_host_api *h) {
  return h->work(s, sleep_work, inv_after, (void *)h);
}

static void iss_after(rd_step *s, int status, void *arg) {
  const rd_host_api *h = arg;
  json_object_set_new(h->facts(s), "new_cert", cert("new", 30));
  h->done(s, status, NULL, NULL);
}
static int iss_apply(rd_step *s, const rd_host_api *h) {
  h->set_state(s, "KEY_READY");
  h->set_state(s, "REQUESTED");
  return h->work(s, sleep_work, iss_after, (void *)h);
}

static void plain_after(rd_step *s, int status, void *arg) {
  ((const rd_host_api *)arg)->done(s, status, NULL, NULL);
}
static int plain(rd_step *s, const rd_host_api *h) {
  return h->work(s, sleep_work, plain_after, (void *)h);
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = plain,
                                   .apply = iss_apply, .rollback = plain};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL, .probe = plain,
                                    .apply = plain, .verify = plain, .rollback = plain};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("servetest", "1", kinds);

static const char RUNBOOK[] =
    "{\"name\": \"serve-test\",\n"
    " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\", \"platform\": \"posix\"},\n"
    "                         {\"name\": \"t2\", \"address\": \"192.0.2.2\", \"platform\": \"posix\"}]},\n"
    " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\", \"known_hosts\": \"/nonexistent/kh\"},\n"
    " \"certificate\": {\"cert\": \"/etc/pki/t.crt\", \"key\": \"/etc/pki/t.key\"},\n"
    " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
    "   \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
    " \"policy\": {\"renew_before\": \"10d\"},\n"
    " \"schedule\": {\"scan_interval\": \"1h\", \"jitter\": \"0s\"}}\n";

/* ---- the client thread ---------------------------------------------------- */

typedef struct seen {
  int port;
  int metrics_during, healthz_during, status_during; /* answered while scanning */
  long max_ms;                                       /* slowest answer */
  char status_body[16384];
} seen;

static int get(int port, const char *path, char *out, size_t cap) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval tv = {5, 0};
  char req[256];
  size_t n = 0;
  ssize_t r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    close(fd);
    return -1;
  }
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
  if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
    close(fd);
    return -1;
  }
  while (n + 1 < cap && (r = recv(fd, out + n, cap - 1 - n, 0)) > 0)
    n += (size_t)r;
  out[n] = 0;
  close(fd);
  return strncmp(out, "HTTP/1.1 200 OK\r\n", 17) ? -1 : 0;
}

static void *client_main(void *arg) {
  seen *w = arg;
  static char buf[65536];
  uint64_t until = rd_now_ms() + 20000;
  /* until the scan has been seen running and every route answered during it */
  while (rd_now_ms() < until && !(w->metrics_during && w->healthz_during && w->status_during)) {
    uint64_t t0 = rd_now_ms();
    if (get(w->port, "/metrics", buf, sizeof buf) == 0 &&
        strstr(buf, "\nrenewd_scan_running{runbook=\"serve-test\"} 1\n")) {
      w->metrics_during = 1;
      if (get(w->port, "/healthz", buf, sizeof buf) == 0 && strstr(buf, "\r\n\r\nok\n"))
        w->healthz_during = 1;
      if (get(w->port, "/status", buf, sizeof buf) == 0 && strstr(buf, "\"state\": \"scanning\"")) {
        w->status_during = 1;
        snprintf(w->status_body, sizeof w->status_body, "%s", strstr(buf, "\r\n\r\n") + 4);
      }
    }
    long ms = (long)(rd_now_ms() - t0);
    if (ms > w->max_ms)
      w->max_ms = ms;
    usleep(20 * 1000);
  }
  return NULL;
}

/* ---- the daemon side ------------------------------------------------------ */

typedef struct daemon {
  rd_serve sv;
  rd_listener *l;
} daemon_t;

static void on_stopped(rd_serve *sv, void *arg) {
  daemon_t *d = arg;
  (void)sv;
  rd_listener_stop(d->l, NULL, NULL);
}

/* A temporary directory with the runbook, a registry with the kinds above,
 * nrb copies of the runbook loaded, a loop, a log. */
typedef struct fixture {
  char dir[64], path[300];
  rd_registry *reg;
  rd_runbook *rb[2];
  rd_diag diag;
  uv_loop_t loop;
  FILE *log;
} fixture;

static void fx_setup(fixture *fx, size_t nrb) {
  char err[512];
  memset(fx, 0, sizeof *fx);
  ck_assert_ptr_nonnull(mkdtemp(strcpy(fx->dir, "/tmp/renewd-test-serve-XXXXXX")));
  snprintf(fx->path, sizeof fx->path, "%s/rb.json", fx->dir);
  FILE *f = fopen(fx->path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(RUNBOOK, f);
  fclose(f);
  ck_assert_int_eq(rd_registry_new(&fx->reg), 0);
  ck_assert_int_eq(rd_registry_add(fx->reg, &plugin, "servetest", err, sizeof err), 0);
  for (size_t i = 0; i < nrb; i++)
    ck_assert_msg(rd_runbook_load(fx->path, fx->reg, &fx->rb[i], &fx->diag) == 0, "runbook");
  ck_assert_int_eq(uv_loop_init(&fx->loop), 0);
  ck_assert_ptr_nonnull(fx->log = fopen("/dev/null", "w"));
  rd_log_set_stream(fx->log, 0); /* serve's lines go through the one logger */
}

/* After the loop ran: nothing open, everything freed, the directory gone. */
static void fx_teardown(fixture *fx, rd_serve *sv) {
  char cmd[128];
  ck_assert_int_eq(uv_loop_close(&fx->loop), 0);
  rd_serve_free(sv);
  for (size_t i = 0; i < 2; i++)
    rd_runbook_free(fx->rb[i]);
  rd_diag_free(&fx->diag);
  rd_registry_free(fx->reg);
  rd_log_reset();
  fclose(fx->log);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
  ck_assert_int_eq(system(cmd), 0);
}

START_TEST(scan_on_the_loop_while_the_listener_answers) {
  char jpath[300], err[512];
  rd_journal *j = NULL;
  fixture fx;
  daemon_t d;
  seen w;
  pthread_t th;
  memset(&w, 0, sizeof w);
  memset(&d, 0, sizeof d);
  fx_setup(&fx, 1);
  rd_serve_opts so = {.once = 1};
  snprintf(jpath, sizeof jpath, "%s/journal.db", fx.dir);
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_serve_init(&d.sv, &fx.loop, fx.reg, j, fx.rb, 1, &so, on_stopped, &d), 0);
  ck_assert_int_eq(rd_listener_start(&fx.loop, "127.0.0.1", 0, NULL, rd_serve_route, &d.sv, &d.l, err,
                                     sizeof err), 0);
  w.port = rd_listener_port(d.l);
  rd_serve_start(&d.sv);
  ck_assert_int_eq(pthread_create(&th, NULL, client_main, &w), 0);
  uint64_t t0 = rd_now_ms();
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  uint64_t took = rd_now_ms() - t0;
  pthread_join(th, NULL);

  /* the scan ended (with one pool thread) and renewed both hosts */
  ck_assert_msg(took < 15000, "scan took %llu ms", (unsigned long long)took);
  ck_assert_int_eq(d.sv.rbs[0].scans, 1);
  ck_assert_int_eq(d.sv.rbs[0].renewed_total, 2);
  ck_assert_int_eq(d.sv.exit_code, 10);
  /* the listener answered during the scan, and fast */
  ck_assert_msg(w.metrics_during, "/metrics never showed the scan running");
  ck_assert(w.healthz_during);
  ck_assert_msg(w.status_during, "/status never showed the scan running");
  ck_assert_msg(w.max_ms < 1000, "slowest answer %ld ms", w.max_ms);
  json_error_t je;
  json_t *st = json_loads(w.status_body, 0, &je);
  ck_assert_msg(st != NULL, "/status is not JSON: %s", je.text);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(st, "runbooks"), 0), "name")),
                   "serve-test");
  json_decref(st);
  /* after the scan: jobs by state from the journal, the fleet from the scan */
  st = rd_serve_status(&d.sv, time(NULL));
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(st, "jobs"), "by_state"), "DONE")), 2);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "jobs"), "active")), 0);
  json_t *fleet = json_object_get(st, "fleet");
  ck_assert_int_eq(json_integer_value(json_object_get(fleet, "hosts")), 2);
  ck_assert_int_eq(json_integer_value(json_object_get(fleet, "expiring_within_7d")), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(fleet, "expiring_within_30d")), 2);
  ck_assert_ptr_nonnull(json_object_get(json_object_get(fleet, "soonest"), "host"));
  json_decref(st);
  char *m = rd_serve_metrics(&d.sv);
  ck_assert_ptr_nonnull(strstr(m, "renewd_renewed_total{runbook=\"serve-test\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(m, "renewd_scan_running{runbook=\"serve-test\"} 0\n"));
  ck_assert_ptr_nonnull(strstr(m, "renewd_certificate_expiration_timestamp_seconds{host=\"t1\","
                                  "runbook=\"serve-test\",certificate=\"/etc/pki/t.crt\"}"));
  /* the scan's steps and jobs, counted where they happen */
  ck_assert_ptr_nonnull(strstr(m, "renewd_job_results_total{runbook=\"serve-test\",outcome=\"DONE\"} "));
  ck_assert_ptr_nonnull(strstr(m, "renewd_step_duration_seconds_count{step=\""));
  ck_assert_ptr_nonnull(strstr(m, "\nrenewd_leases_held 0\n"));
  ck_assert_ptr_nonnull(strstr(m, "\nrenewd_leases_held_here 0\n"));
  ck_assert_ptr_nonnull(strstr(m, "\nrenewd_lease_takeovers_total 0\n"));
  free(m);

  rd_journal_close(j);
  fx_teardown(&fx, &d.sv);
}
END_TEST

/* A stop while a scan runs: no new scan starts, the running one ends, then
 * the scheduler reports stopped; nothing is left on the loop. */
static uv_timer_t stop_timer;
static void stop_now(uv_timer_t *t) {
  rd_serve_stop(t->data);
  uv_close((uv_handle_t *)t, NULL);
}
static int stopped_calls;
static void count_stopped(rd_serve *sv, void *arg) {
  (void)sv;
  (void)arg;
  stopped_calls++;
}

START_TEST(stop_lets_the_running_scan_end) {
  fixture fx;
  rd_serve sv;
  fx_setup(&fx, 2);
  rd_serve_opts so = {0};
  /* no journal: scans only probe */
  ck_assert_int_eq(rd_serve_init(&sv, &fx.loop, fx.reg, NULL, fx.rb, 2, &so, count_stopped, NULL), 0);
  rd_serve_start(&sv);
  uv_timer_init(&fx.loop, &stop_timer);
  stop_timer.data = &sv;
  uv_timer_start(&stop_timer, stop_now, 100, 0); /* during the first scan's probes */
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(stopped_calls, 1);
  /* with jitter 0 both runbooks were due at once: one scanned, the other
   * waited its turn and was dropped by the stop */
  ck_assert_int_eq(sv.rbs[0].scans + sv.rbs[1].scans, 1);
  ck_assert_int_eq(sv.rbs[0].last_whatif + sv.rbs[1].last_whatif, 1);
  fx_teardown(&fx, &sv);
}
END_TEST

/* ---- reload -------------------------------------------------------------- */

static const char TWO_HOSTS_1S[] =
    "{\"name\": \"reload-test\",\n"
    " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\", \"platform\": \"posix\"},\n"
    "                         {\"name\": \"t2\", \"address\": \"192.0.2.2\", \"platform\": \"posix\"}]},\n"
    " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\", \"known_hosts\": \"/nonexistent/kh\"},\n"
    " \"certificate\": {\"cert\": \"/etc/pki/t.crt\", \"key\": \"/etc/pki/t.key\"},\n"
    " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
    "   \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
    " \"schedule\": {\"scan_interval\": \"1s\", \"jitter\": \"0s\"}}\n";

/* text with its first `from` replaced by `to` written to path */
static void put_file(const char *path, const char *text, const char *from, const char *to) {
  FILE *f = fopen(path, "w");
  const char *at = from ? strstr(text, from) : NULL;
  ck_assert_ptr_nonnull(f);
  if (at)
    fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  else
    fputs(text, f);
  fclose(f);
}

typedef struct reload_run {
  fixture *fx;
  rd_serve sv;
  uv_timer_t tick;
  int step;
  long targets_first;   /* of the first scan */
  char running_name[64];/* the runbook the first scan ran on, after the reload */
} reload_run;

/* Every 20 ms: during the first scan, a broken file (refused), then a good one
 * with one host and another name (pending); after the second scan, stop. */
static void reload_tick(uv_timer_t *t) {
  reload_run *rr = t->data;
  rd_serve_rb *r = &rr->sv.rbs[0];
  char *m;
  if (rr->step == 0 && r->engine) {
    /* line 8 breaks */
    put_file(rr->fx->path, TWO_HOSTS_1S, "\"scan_interval\": \"1s\"", "\"scan_interval\": \"soon\"");
    ck_assert_int_eq(rd_serve_reload(&rr->sv), 1);
    ck_assert(r->reload_refused);
    ck_assert_ptr_null(r->next);
    ck_assert_msg(r->reload_error && strstr(r->reload_error, "rb.json:8:") &&
                      strstr(r->reload_error, "scan_interval"),
                  "%s", r->reload_error ? r->reload_error : "(null)");
    ck_assert_ptr_nonnull(m = rd_serve_metrics(&rr->sv));
    ck_assert_ptr_nonnull(strstr(m, "renewd_runbook_last_reload_successful{runbook=\"reload-test\"} 0\n"));
    free(m);
    /* one host (t1) and another name */
    char one[sizeof TWO_HOSTS_1S];
    snprintf(one, sizeof one, "%s", TWO_HOSTS_1S);
    strcpy(strstr(one, ",\n                         {\"name\": \"t2\""),
           strstr(TWO_HOSTS_1S, "]},\n \"ssh\""));
    put_file(rr->fx->path, one, "reload-test", "reload-2nd");
    ck_assert_int_eq(rd_serve_reload(&rr->sv), 0);
    ck_assert(!r->reload_refused);
    ck_assert_ptr_null(r->reload_error);
    ck_assert_ptr_nonnull(r->next);
    /* the running scan keeps its version */
    snprintf(rr->running_name, sizeof rr->running_name, "%s", r->rb->name);
    ck_assert_ptr_eq(r->rb, rr->fx->rb[0]);
    rr->step = 1;
  } else if (rr->step == 1 && r->scans == 1) {
    rr->targets_first = r->last.targets;
    rr->step = 2;
  } else if (rr->step == 2 && r->scans == 2) {
    ck_assert_ptr_null(r->next);
    ck_assert_str_eq(r->rb->name, "reload-2nd");
    ck_assert_int_eq(r->last.targets, 1);
    ck_assert(r->reloaded > 0);
    /* a reload with nothing changed waits too, and is freed unused at the end */
    ck_assert_int_eq(rd_serve_reload(&rr->sv), 0);
    ck_assert_ptr_nonnull(r->next);
    rd_serve_stop(&rr->sv);
    uv_close((uv_handle_t *)t, NULL);
  }
}

START_TEST(reload_refuses_a_broken_runbook_and_adopts_a_good_one_at_the_next_scan) {
  fixture fx;
  reload_run rr;
  char *log = NULL;
  size_t loglen = 0;
  memset(&rr, 0, sizeof rr);
  fx_setup(&fx, 0);
  rr.fx = &fx;
  put_file(fx.path, TWO_HOSTS_1S, NULL, NULL);
  ck_assert_int_eq(rd_runbook_load(fx.path, fx.reg, &fx.rb[0], &fx.diag), 0);
  FILE *lf = open_memstream(&log, &loglen);
  rd_serve_opts so = {0};
  rd_log_set_stream(lf, 0);
  ck_assert_int_eq(rd_serve_init(&rr.sv, &fx.loop, fx.reg, NULL, fx.rb, 1, &so, count_stopped, NULL), 0);
  rd_serve_start(&rr.sv);
  uv_timer_init(&fx.loop, &rr.tick);
  rr.tick.data = &rr;
  uv_timer_start(&rr.tick, reload_tick, 20, 20);
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  rd_log_set_stream(fx.log, 0);
  fclose(lf);
  ck_assert_int_eq(rr.step, 2);
  ck_assert_str_eq(rr.running_name, "reload-test");
  ck_assert_int_eq(rr.targets_first, 2); /* the first scan ended on the old version */
  /* through the one logger: its level, the subject "serve", then the runbook */
  ck_assert_msg(strstr(log, "renewd: warning: serve: runbook reload-test: reload refused, the "
                            "loaded version keeps running: ") &&
                    strstr(log, "/rb.json:8:"),
                "%s", log);
  ck_assert_msg(strstr(log, "runbook reload-test: reloaded as reload-2nd: 1 target(s), in use from "
                            "the next scan (the running scan ends on the loaded version)\n"),
                "%s", log);
  ck_assert_msg(strstr(log, "renewd: notice: serve: runbook reload-2nd: scanning with the reloaded "
                            "runbook\n"),
                "%s", log);
  free(log);
  fx_teardown(&fx, &rr.sv);
}
END_TEST

/* ---- digest ---------------------------------------------------------------- */

/* A digest due from 00:00 goes after a scan outside the maintenance window
 * too (a window of 01:00-05:00 and a digest at 07:00 would otherwise never
 * meet): the journal remembers today's digest after one probe-only scan.
 * The mail server is a dead port: the stop waits for the refused transfer. */
START_TEST(digest_after_a_probe_only_scan) {
  char jpath[300], err[512], text[4096], key[128], date[16], *at;
  rd_journal *j = NULL;
  fixture fx;
  rd_serve sv;
  time_t now = time(NULL);
  struct tm tm;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t sl = sizeof sa;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0); /* never listens */
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  localtime_r(&now, &tm);
  strftime(date, sizeof date, "%Y-%m-%d", &tm);
  fx_setup(&fx, 0);
  /* closed now: it opens two hours from now */
  snprintf(text, sizeof text, "%s", TWO_HOSTS_1S);
  at = strstr(text, "\"jitter\": \"0s\"}}");
  snprintf(at, sizeof text - (size_t)(at - text),
           "\"jitter\": \"0s\", \"window\": \"daily %02d:00-%02d:30\"},\n"
           " \"notify\": {\"email\": {\"smtp\": \"smtp://127.0.0.1:%d\", \"from\": \"r@x.test\",\n"
           "   \"to\": [\"o@x.test\"], \"starttls\": false, \"digest\": \"00:00\"}}}\n",
           (tm.tm_hour + 2) % 24, (tm.tm_hour + 2) % 24, ntohs(sa.sin_port));
  put_file(fx.path, text, NULL, NULL);
  ck_assert_msg(rd_runbook_load(fx.path, fx.reg, &fx.rb[0], &fx.diag) == 0, "runbook");
  snprintf(jpath, sizeof jpath, "%s/journal.db", fx.dir);
  ck_assert_msg(rd_journal_open(jpath, &j, err, sizeof err) == 0, "%s", err);
  rd_serve_opts so = {.once = 1};
  ck_assert_int_eq(rd_serve_init(&sv, &fx.loop, fx.reg, j, fx.rb, 1, &so, count_stopped, NULL), 0);
  stopped_calls = 0;
  rd_serve_start(&sv);
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  close(fd);
  ck_assert_int_eq(stopped_calls, 1);
  ck_assert_int_eq(sv.rbs[0].scans, 1);
  ck_assert_int_eq(sv.rbs[0].last_whatif, 1);
  ck_assert_int_eq(sv.mailing, 0);
  snprintf(key, sizeof key, "digest:reload-test:%s", date);
  ck_assert_int_eq(rd_journal_alert_once(j, key), 1); /* sent today already */
  rd_journal_close(j);
  fx_teardown(&fx, &sv);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("serve_scan");
  TCase *tc = tcase_create("loop");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, scan_on_the_loop_while_the_listener_answers);
  tcase_add_test(tc, stop_lets_the_running_scan_end);
  tcase_add_test(tc, reload_refuses_a_broken_runbook_and_adopts_a_good_one_at_the_next_scan);
  tcase_add_test(tc, digest_after_a_probe_only_scan);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  /* before the first loop: libuv reads it once, when the pool starts */
  setenv("UV_THREADPOOL_SIZE", "1", 1);
  /* as main.c: curl and OpenSSL set up once, before any thread (a digest
   * is mailed from the pool) */
  if (rd_transport_global_init())
    return 1;
  int rc = tu_run(suite());
  rd_transport_global_cleanup();
  return rc;
}
