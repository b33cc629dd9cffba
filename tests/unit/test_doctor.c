/* test_doctor.c — `renewd doctor`'s walk (core/doctor.c) on the real engine
 * with step kinds defined here (no remote I/O): every probe runs, in order,
 * past failures; the platform's doctor kind runs first and its checks come
 * first; a host SSH cannot reach is not probed further; probes only (a
 * mutating script is refused); READY / NOT_READY and the exit code; the
 * printed lines with their fixes, escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "cli/cli.h"
#include "config/runbook.h"
#include "core/engine.h"
#include "host/registry.h"
#include "posix_plugin.h"
#include "testutil.h"

static char trace[1024];
static int conn_status;  /* the first remote step's transport status */
static int sudo_ok = 1;  /* what the doctor kind finds */
static int key_readable = 1;
static int ca_status;    /* the issuer's probe */
static int check_status; /* the follow-up's probe */
static int inv_status;   /* the inventory's probe */

static void note(const char *what) {
  if (trace[0])
    strncat(trace, " ", sizeof trace - strlen(trace) - 1);
  strncat(trace, what, sizeof trace - strlen(trace) - 1);
}

static const rd_script mutating = {"test.mutate", RD_PLATFORM_POSIX, 1, 0, "touch /tmp/x\n"};

static int doc_probe(rd_step *s, const rd_host_api *h) {
  note("doc.probe");
  if (conn_status) {
    h->donef(s, conn_status, NULL, "host key not trusted: SHA256:Zm9v is not in known_hosts");
    return 0;
  }
  h->done(s, 0,
          json_pack("{s:[{s:s, s:b, s:s, s:s?}]}", "checks", "check", "sudo", "ok", sudo_ok,
                    "message", sudo_ok ? "ops may run /bin/sh" : "ops may not\x1b[31m run /bin/sh",
                    "fix", sudo_ok ? NULL : "ops ALL=(root) NOPASSWD: /bin/sh"),
          "t1: logged in as ops");
  return 0;
}

static int inv_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  json_t *facts = h->facts(s);
  note("inv.probe");
  if (inv_status) {
    h->donef(s, inv_status, NULL, "posix.inventory: sudo: a password is required (exit 1)");
    return 0;
  }
  json_object_set_new(facts, "cert",
                      json_pack("{s:s, s:I, s:I}", "sha256", "old", "not_before",
                                (json_int_t)(now - 9 * 86400), "not_after",
                                (json_int_t)(now - 86400)));
  json_object_set_new(
      facts, "problems",
      json_pack("[{s:s, s:s}]", "what", "expired", "detail", "/etc/pki/t1.crt expired yesterday"));
  if (!key_readable)
    json_array_append_new(json_object_get(facts, "problems"),
                          json_pack("{s:s, s:s}", "what", "unreadable key", "detail",
                                    "the private key /etc/pki/t1.key cannot be read"));
  h->donef(s, 0, NULL, "/etc/pki/t1.crt: CN=t1, expires yesterday");
  return 0;
}

static int iss_probe(rd_step *s, const rd_host_api *h) {
  const json_t *due = json_object_get(h->facts(s), "due");
  note(json_is_true(json_object_get(due, "expired")) ? "iss.probe(expired)" : "iss.probe");
  if (ca_status)
    h->donef(s, ca_status, NULL, "http://ca.invalid/scep: GetCACaps: connection refused");
  else
    h->donef(s, 0, NULL, "CA pinned");
  return 0;
}

static int inst_probe(rd_step *s, const rd_host_api *h) {
  note(h->remote(s, &mutating, NULL, NULL, NULL) == RD_EWHATIF ? "inst.probe(refused)"
                                                                : "inst.probe(NOT-REFUSED)");
  h->done(s, 0, NULL, NULL);
  return 0;
}

static int never(rd_step *s, const rd_host_api *h) {
  note("APPLY");
  h->done(s, 0, NULL, NULL);
  return 0;
}

static int chk_probe(rd_step *s, const rd_host_api *h) {
  note("chk.probe");
  if (check_status)
    h->donef(s, check_status, NULL, "config /etc/app.conf: does not contain sha256 old");
  else
    h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_doc = {.type = "posix.doctor", .probe = doc_probe};
static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = iss_probe,
                                   .apply = never};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = inst_probe, .apply = never};
static const rd_step_kind k_rs = {.type = "test.restart", .flags = RD_KIND_RESTART,
                                  .probe = chk_probe, .apply = never};
static const rd_step_kind k_chk = {.type = "test.check", .flags = RD_KIND_CHECK, .probe = chk_probe,
                                   .apply = never, .verify = never};
static const rd_step_kind *const kinds[] = {&k_doc, &k_inv, &k_iss, &k_inst, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);
/* a platform without a doctor kind */
static const rd_step_kind *const kinds_nodoc[] = {&k_inv, &k_iss, &k_inst, &k_rs, &k_chk, NULL};
static const rd_plugin plugin_nodoc = RD_PLUGIN_INIT("test", "1", kinds_nodoc);

static json_t *report;
static char *text;
static int code;

static void doctor(const rd_plugin *p) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[512];
  size_t tl = 0;
  FILE *devnull = fopen("/dev/null", "w"), *tf;
  rd_engine_opts eo = {.whatif = 1, .doctor = 1, .out = devnull};
  trace[0] = 0;
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, p, "test", err, sizeof err), 0);
  ck_assert_msg(rd_runbook_load(FIXTURES "/engine/flow.json", reg, &rb, &diag) == 0, "runbook");
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, NULL, &eo, &e), 0);
  ck_assert_int_eq(rd_engine_add_runbook(e, rb), 0);
  code = rd_engine_run(e, NULL);
  json_decref(report);
  report = json_deep_copy(rd_engine_report(e));
  free(text);
  ck_assert_ptr_nonnull(tf = open_memstream(&text, &tl));
  rd_doctor_print(report, tf);
  fclose(tf);
  rd_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
}

static const json_t *job0(void) { return json_array_get(json_object_get(report, "jobs"), 0); }

/* "check:ok" or "check:FIX" for each check, in order */
static const char *checks(void) {
  static char buf[1024];
  const json_t *c;
  size_t i;
  buf[0] = 0;
  json_array_foreach(json_object_get(job0(), "checks"), i, c) {
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s:%s", i ? " " : "",
             json_string_value(json_object_get(c, "check")),
             json_is_true(json_object_get(c, "ok")) ? "ok" : "FIX");
  }
  return buf;
}

static void setup(void) {
  conn_status = ca_status = check_status = inv_status = 0;
  sudo_ok = key_readable = 1;
}

START_TEST(healthy_host_is_ready) {
  doctor(&plugin);
  ck_assert_str_eq(trace, "doc.probe inv.probe iss.probe(expired) inst.probe(refused) chk.probe "
                          "chk.probe");
  ck_assert_str_eq(checks(), "ssh:ok sudo:ok certificate:ok CA:ok install:ok step restart:ok "
                             "step check:ok");
  ck_assert_str_eq(json_string_value(json_object_get(job0(), "state")), "READY");
  ck_assert_int_eq(code, 0);
  ck_assert_ptr_nonnull(strstr(text, "host t1: verdict: all good"));
  ck_assert_ptr_nonnull(strstr(text, "host t1: certificate: ok: /etc/pki/t1.crt expired yesterday\n"));
  ck_assert_ptr_null(strstr(text, "; fix: "));
  ck_assert_ptr_nonnull(strstr(text, "doctor: 1 host, 1 ready, 0 with something to fix\n"));
}
END_TEST

START_TEST(every_finding_with_its_fix) {
  sudo_ok = key_readable = 0;
  ca_status = RD_ECONNREFUSED;
  check_status = RD_ENOTFOUND;
  doctor(&plugin);
  /* the walk goes on past each failure */
  ck_assert_str_eq(trace, "doc.probe inv.probe iss.probe(expired) inst.probe(refused) chk.probe "
                          "chk.probe");
  ck_assert_str_eq(checks(), "ssh:ok sudo:FIX certificate:ok certificate:FIX CA:FIX install:ok "
                             "step restart:FIX step check:FIX");
  ck_assert_str_eq(json_string_value(json_object_get(job0(), "state")), "NOT_READY");
  ck_assert_ptr_null(json_object_get(job0(), "error"));
  ck_assert_int_eq(code, 1);
  /* the kind's fix, escaped (the ESC of the message too) */
  ck_assert_ptr_nonnull(strstr(text, "host t1: sudo: ops may not\\x1b[31m run /bin/sh; fix: ops "
                                     "ALL=(root) NOPASSWD: /bin/sh\n"));
  /* the runbook has no ssh.sudo: sudo, or an ACL for the login user */
  ck_assert_ptr_nonnull(strstr(text, "host t1: certificate: the private key /etc/pki/t1.key cannot "
                                     "be read; fix: set \"sudo\": true in the runbook's ssh "
                                     "section (and give ops the sudo rule doctor prints), or let "
                                     "ops read it: setfacl -m u:ops:r KEY\n"));
  ck_assert_ptr_nonnull(strstr(text, "host t1: CA: http://ca.invalid/scep: GetCACaps: connection "
                                     "refused; fix: the CA must answer http://ca.invalid/scep"));
  ck_assert_ptr_nonnull(strstr(text, "host t1: step check: config /etc/app.conf: does not contain "
                                     "sha256 old; fix: "));
  ck_assert_ptr_nonnull(strstr(text, "host t1: verdict: 5 things to fix before a renewal\n"));
  ck_assert_ptr_nonnull(strstr(text, "doctor: 1 host, 0 ready, 1 with something to fix\n"));
}
END_TEST

START_TEST(untrusted_host_stops_the_walk) {
  conn_status = RD_EHOSTKEY;
  doctor(&plugin);
  ck_assert_str_eq(trace, "doc.probe");
  ck_assert_str_eq(checks(), "ssh:FIX");
  ck_assert_int_eq(code, 1);
  ck_assert_ptr_nonnull(strstr(text, "host t1: ssh: 192.0.2.1:22: host key not trusted: "));
  ck_assert_ptr_nonnull(strstr(text, "; fix: compare the host's key fingerprint with what its "
                                     "console shows, then: renewd hosts trust t1 --runbook "));
}
END_TEST

/* the inventory fails (not SSH): the walk goes on, and a step that fails
 * for want of the live certificate says to fix that first */
START_TEST(failed_inventory_goes_on) {
  inv_status = RD_EREMOTE;
  check_status = RD_ENOTFOUND;
  doctor(&plugin);
  ck_assert_str_eq(trace, "doc.probe inv.probe iss.probe inst.probe(refused) chk.probe chk.probe");
  ck_assert_str_eq(checks(), "ssh:ok sudo:ok certificate:FIX CA:ok install:ok step restart:FIX "
                             "step check:FIX");
  ck_assert_ptr_nonnull(strstr(text, "host t1: certificate: posix.inventory: sudo: a password is "
                                     "required (exit 1); fix: the inventory must read"));
  ck_assert_ptr_nonnull(strstr(text, "host t1: step check: config /etc/app.conf: does not contain "
                                     "sha256 old; fix: it needs the live certificate: fix the "
                                     "certificate check (above) first"));
  ck_assert_int_eq(code, 1);
}
END_TEST

/* a host that does not answer: its first step times out, nothing else runs */
START_TEST(silent_host_stops_the_walk) {
  conn_status = RD_ETIMEDOUT;
  doctor(&plugin);
  ck_assert_str_eq(trace, "doc.probe");
  ck_assert_str_eq(checks(), "ssh:FIX");
  ck_assert_ptr_nonnull(strstr(text, "; fix: check the address, the route and the firewall "
                                     "between this machine and 192.0.2.1:22\n"));
}
END_TEST

START_TEST(platform_without_doctor_kind) {
  check_status = RD_ENOTFOUND;
  doctor(&plugin_nodoc);
  ck_assert_str_eq(trace, "inv.probe iss.probe(expired) inst.probe(refused) chk.probe chk.probe");
  ck_assert_str_eq(checks(), "ssh:ok certificate:ok CA:ok install:ok step restart:FIX "
                             "step check:FIX");
  ck_assert_int_eq(code, 1);
}
END_TEST

/* the real posix.doctor is doctor's own: a runbook that lists it is told so */
START_TEST(posix_doctor_is_not_a_runbook_step) {
  char err[256] = "";
  json_t *p = json_object();
  ck_assert_int_eq(posix_kind_doctor.validate(p, err, sizeof err), RD_EINVAL);
  ck_assert_str_eq(err, "posix.doctor is renewd doctor's own check, not a runbook step: run "
                        "'renewd doctor RUNBOOK'");
  ck_assert_ptr_null(posix_kind_doctor.apply);
  json_decref(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("doctor");
  TCase *tc = tcase_create("walk");
  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_add_test(tc, healthy_host_is_ready);
  tcase_add_test(tc, every_finding_with_its_fix);
  tcase_add_test(tc, untrusted_host_stops_the_walk);
  tcase_add_test(tc, failed_inventory_goes_on);
  tcase_add_test(tc, silent_host_stops_the_walk);
  tcase_add_test(tc, platform_without_doctor_kind);
  tcase_add_test(tc, posix_doctor_is_not_a_runbook_step);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  json_decref(report);
  free(text);
  return rc;
}
