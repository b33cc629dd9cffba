/* test_serve_divided.c — `renewd serve` on a PostgreSQL journal divides a
 * runbook's scan (serve/work.c, docs/SCALING.md "Divided scans"): two
 * schedulers on one loop, each with its own journal connection, scan one
 * runbook of six hosts once (one claiming on its work connection, the
 * other, without one, on its journal's); one plans, both claim, every host
 * is probed and renewed once; /status lists the leases and claims, /metrics the
 * claims. On SQLite nothing is divided and /status lists the host leases
 * held. Test step kinds (engine_fixture.h): no remote I/O. */
#include <uv.h>

#include "engine_fixture.h"
#include "serve/serve.h"
#include "store/work.h"
#include "test_journal_fixture.h"

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY,
                                   .probe = tu_due_inventory_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER,
                                   .probe = tu_done_ok, .apply = tu_issue_apply,
                                   .rollback = tu_done_ok};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = tu_done_ok, .apply = tu_done_ok,
                                    .verify = tu_done_ok, .rollback = tu_done_ok};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("dividedtest", "1", kinds);

#define HOST(n) "{\"name\": \"d" #n "\", \"address\": \"192.0.2." #n "\", \"platform\": \"posix\"}"
static const char RUNBOOK[] =
    "{\"name\": \"divided\",\n"
    " \"targets\": {\"hosts\": [" HOST(1) ", " HOST(2) ", " HOST(3) ", " HOST(4) ", " HOST(5)
    ", " HOST(6) "]},\n"
    " \"ssh\": {\"user\": \"ops\", \"identity\": \"/nonexistent/id\","
    " \"known_hosts\": \"/nonexistent/kh\"},\n"
    " \"certificate\": {\"cert\": \"/etc/pki/t.crt\", \"key\": \"/etc/pki/t.key\"},\n"
    " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
    "   \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
    " \"policy\": {\"renew_before\": \"10d\"},\n"
    " \"schedule\": {\"scan_interval\": \"1h\", \"jitter\": \"0s\", \"max_parallel\": 2}}\n";

typedef struct inst {
  rd_serve sv;
  rd_journal *j;
  rd_runbook *rb;
  char logpath[600];
  FILE *log;
} inst;

static rd_registry *reg;
static int stopped;
static void on_stopped(rd_serve *sv, void *arg) {
  (void)sv;
  (void)arg;
  stopped++;
}

static void inst_init(inst *in, uv_loop_t *loop, int k) {
  char path[600];
  rd_diag d = {0};
  FILE *f;
  memset(in, 0, sizeof *in);
  snprintf(path, sizeof path, "%s/rb.json", tmpdir);
  ck_assert_ptr_nonnull(f = fopen(path, "w"));
  fputs(RUNBOOK, f);
  fclose(f);
  ck_assert_msg(rd_runbook_load(path, reg, &in->rb, &d) == 0, "runbook");
  rd_diag_free(&d);
  snprintf(in->logpath, sizeof in->logpath, "%s/serve%d.log", tmpdir, k);
  ck_assert_ptr_nonnull(in->log = fopen(in->logpath, "w+"));
  in->j = open_j();
  /* serve's lines go through the one logger: every instance of this
   * process writes the same stream, the newest instance's file */
  rd_log_set_stream(in->log, 0);
  rd_serve_opts so = {.once = 1};
  ck_assert_int_eq(rd_serve_init(&in->sv, loop, reg, in->j, &in->rb, 1, &so, on_stopped, NULL),
                   0);
}

static void inst_free(inst *in) {
  rd_serve_free(&in->sv);
  rd_runbook_free(in->rb);
  rd_journal_close(in->j);
  rd_log_reset();
  fclose(in->log);
  unlink(in->logpath);
}

/* How many lines of in's log hold what. */
static int log_count(inst *in, const char *what) {
  char line[2048];
  int n = 0;
  fflush(in->log);
  rewind(in->log);
  while (fgets(line, sizeof line, in->log))
    n += strstr(line, what) != NULL;
  return n;
}

static void reg_setup(void) {
  char err[256];
  setup();
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, &plugin, "dividedtest", err, sizeof err), 0);
}

static void reg_teardown(void) {
  char p[600];
  rd_registry_free(reg);
  snprintf(p, sizeof p, "%s/rb.json", tmpdir);
  unlink(p);
  teardown();
}

START_TEST(two_instances_divide_one_scan) {
  uv_loop_t loop;
  inst a, b;
  json_t *st, *ls;
  char *m;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  inst_init(&a, &loop, 1);
  inst_init(&b, &loop, 2);
  stopped = 0;
  rd_serve_start(&a.sv);
  rd_serve_start(&b.sv);
  ck_assert_int_eq(a.sv.divided, 1);
  ck_assert_ptr_nonnull(a.sv.listener);
  /* b without its work connection: it claims on the journal's (blocking,
   * bounded), a on its work connection (asynchronous) */
  rd_work_listener_close(b.sv.listener);
  b.sv.listener = NULL;
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(stopped, 2);
  /* one plan; the six hosts claimed once each, by both instances */
  ck_assert_int_eq(log_count(&b, "planned the scan: 6 host(s) queued"), 1); /* both log here */
  ck_assert_int_eq(a.sv.rbs[0].claimed_total + b.sv.rbs[0].claimed_total, 6);
  ck_assert_msg(a.sv.rbs[0].claimed_total > 0 && b.sv.rbs[0].claimed_total > 0,
                "claimed: %ld and %ld", a.sv.rbs[0].claimed_total, b.sv.rbs[0].claimed_total);
  ck_assert_int_eq(a.sv.rbs[0].renewed_total + b.sv.rbs[0].renewed_total, 6);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs WHERE state = 'DONE'"), 6);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM inventory"), 6);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM work WHERE state = 'done' AND epoch = 1"),
                   6);
  /* /status: who holds what (nothing now), as which instance */
  st = rd_serve_status(&a.sv, time(NULL));
  ls = json_object_get(st, "leases");
  ck_assert_str_eq(json_string_value(json_object_get(ls, "backend")), "postgresql");
  ck_assert(json_is_true(json_object_get(ls, "divided")));
  ck_assert_ptr_nonnull(strchr(json_string_value(json_object_get(ls, "instance")), ':'));
  ck_assert_int_eq(json_array_size(json_object_get(ls, "leases")), 0);
  ck_assert_int_eq(json_array_size(json_object_get(ls, "claims")), 0);
  ck_assert_ptr_null(json_object_get(ls, "error"));
  json_decref(st);
  m = rd_serve_metrics(&b.sv);
  char want[96];
  snprintf(want, sizeof want, "\nrenewd_work_claimed_total %ld\n", b.sv.rbs[0].claimed_total);
  ck_assert_ptr_nonnull(strstr(m, want));
  ck_assert_ptr_nonnull(strstr(m, "\nrenewd_work_claims_held 0\n"));
  ck_assert_ptr_nonnull(strstr(m, "\nrenewd_work_takeovers_total 0\n"));
  free(m);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  inst_free(&a);
  inst_free(&b);
}
END_TEST

/* /status lists a held lease and a claim with owner, epoch and expiry. */
START_TEST(status_lists_leases_and_claims) {
  uv_loop_t loop;
  inst a;
  rd_lease_owner other = {.node = "elsewhere", .pid = 7, .start = 9};
  rd_lease_req r = {.host = "d1", .owner = &other, .what = "runbook divided", .ttl_s = 60};
  int64_t epoch = 0;
  json_t *st, *ls, *l;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  inst_init(&a, &loop, 1);
  ck_assert_int_eq(rd_journal_lease_claim(a.j, &r, &epoch, NULL), 0);
  if (jpg) {
    rd_work_plan_req q = {.runbook = "divided", .hosts = (const char *[]){"d2"}, .nhosts = 1,
                          .owner = "x", .interval_s = 60};
    rd_work_item *it = NULL;
    size_t n = 0;
    int planned, queued;
    ck_assert_int_eq(rd_work_plan(a.j, &q, &planned, &queued), 0);
    ck_assert_int_eq(rd_work_claim(a.j, "divided", "elsewhere:7:9", 30, 5, 0, &it, &n), 0);
    ck_assert_int_eq(n, 1);
    free(it);
  }
  rd_serve_start(&a.sv);
  ck_assert_int_eq(a.sv.divided, jpg);
  st = rd_serve_status(&a.sv, time(NULL));
  ls = json_object_get(st, "leases");
  ck_assert_str_eq(json_string_value(json_object_get(ls, "backend")),
                   jpg ? "postgresql" : "sqlite");
  l = json_array_get(json_object_get(ls, "leases"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(l, "host")), "d1");
  ck_assert_str_eq(json_string_value(json_object_get(l, "owner")), "elsewhere:7:9");
  ck_assert_str_eq(json_string_value(json_object_get(l, "what")), "runbook divided");
  ck_assert_int_eq(json_integer_value(json_object_get(l, "epoch")), 1);
  ck_assert(json_is_false(json_object_get(l, "expired")));
  ck_assert(json_is_false(json_object_get(l, "here")));
  ck_assert_ptr_nonnull(json_object_get(l, "expires_utc"));
  if (jpg) {
    l = json_array_get(json_object_get(ls, "claims"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(l, "runbook")), "divided");
    ck_assert_str_eq(json_string_value(json_object_get(l, "host")), "d2");
    ck_assert_str_eq(json_string_value(json_object_get(l, "owner")), "elsewhere:7:9");
    ck_assert_int_eq(json_integer_value(json_object_get(l, "epoch")), 1);
  } else {
    ck_assert_ptr_null(json_object_get(ls, "claims"));
  }
  json_decref(st);
  rd_serve_stop(&a.sv);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  inst_free(&a);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "serve_divided (postgresql)" : "serve_divided (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, reg_setup, reg_teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, status_lists_leases_and_claims);
  if (pg)
    tcase_add_test(tc, two_instances_divide_one_scan);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
