/* test_windows_doctor.c — windows.doctor (renewd doctor's Windows
 * preflight) against the simulated target of helpers/win_fixture.h: a
 * runbook may not list it; the parameters doctor.ps1 gets from the runbook
 * (the adcs CA configuration, the services, IIS sites and application pools
 * its steps name); and what each answer of doctor.ps1 (a report of facts,
 * run for real in tests/windows/pester/Doctor.Tests.ps1) becomes: the
 * checks, each failure with its fix, the CA judged by certutil's exit code
 * (the HRESULT), never by its localised text. */
#include "win_fixture.h"
#include "windows_hresult.h"

#define HEALTHY                                                                                    \
  "{\"ps_version\": \"5.1.17763.5830\", \"ps_edition\": \"Desktop\", \"clr_version\": "            \
  "\"4.0.30319.42000\", \"net_release\": 528049, \"admin\": true, \"user\": \"svc_renewd\", "      \
  "\"certreq\": \"C:\\\\Windows\\\\system32\\\\certreq.exe\", \"certutil\": "                      \
  "\"C:\\\\Windows\\\\system32\\\\certutil.exe\", \"schedule\": {\"service\": \"Running\", "       \
  "\"ok\": true, \"error\": null}, \"eventlog\": {\"ok\": true, \"error\": null}, \"config\": "    \
  "\"ca01.corp.example\\\\Corp Issuing CA\", \"config_source\": \"runbook\", \"ping\": "           \
  "{\"exit\": 0, \"text\": \"CertUtil: -ping command completed successfully.\"}, \"services\": "   \
  "[{\"name\": \"W3SVC\", \"exists\": true, \"status\": \"Running\"}], \"webadmin\": true, "       \
  "\"sites\": [], \"pools\": [{\"name\": \"SCEP\", \"exists\": true, \"identity\": "               \
  "\"CORP\\\\svc_ndes\"}]}"

/* The i-th check named name in the last result, or NULL. */
static const json_t *check_of(const char *name, int nth) {
  const json_t *c;
  size_t i;
  json_array_foreach(json_object_get(o_result, "checks"), i, c) {
    if (!strcmp(P(c, "check"), name) && nth-- == 0)
      return c;
  }
  return NULL;
}

static int failed(void) {
  const json_t *c;
  size_t i;
  int n = 0;
  json_array_foreach(json_object_get(o_result, "checks"), i, c) {
    if (!json_is_true(json_object_get(c, "ok"))) {
      ck_assert_msg(*P(c, "fix"), "%s failed without a fix", P(c, "check"));
      n++;
    } else
      ck_assert(!json_is_string(json_object_get(c, "fix")));
  }
  return n;
}

static void answer(const char *text) {
  json_error_t je;
  json_decref(W->doctor);
  W->doctor = json_loads(text, 0, &je);
  ck_assert_msg(W->doctor != NULL, "%s", je.text);
}

START_TEST(not_a_runbook_step) {
  char err[512] = "";
  json_t *p = json_object();
  ck_assert_int_eq(windows_kind_doctor.validate(p, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "renewd doctor's own check"));
  json_decref(p);
  ck_assert_ptr_null(windows_kind_doctor.apply);
  ck_assert_int_eq(windows_kind_doctor.flags, 0);
  /* renewd finds it by name for a windows host (core/build.c) */
  for (size_t i = 0;; i++) {
    const rd_step_kind *k = windows_plugin()->kinds[i];
    ck_assert_msg(k != NULL, "windows.doctor is not registered");
    if (!strcmp(k->type, "windows.doctor"))
      break;
  }
}
END_TEST

START_TEST(params_from_the_runbook) {
  const json_t *p = NULL;
  wt_new(
      "{\"certificate\": {\"template\": \"CEPEncryption\"}, \"issuer\": {\"type\": \"adcs\", "
      "\"config\": \"ca01.corp.example\\\\Corp Issuing CA\"}, \"steps\": ["
      "{\"type\": \"windows.key_acl\", \"params\": {\"account\": \"CORP\\\\svc_ndes\", "
      "\"app_pool\": \"SCEP\"}},"
      "{\"type\": \"windows.key_acl\", \"params\": {\"account\": \"NT SERVICE\\\\MSSQLSERVER\"}},"
      "{\"type\": \"windows.service\", \"params\": {\"action\": \"iisreset\"}},"
      "{\"type\": \"windows.service\", \"params\": {\"service\": \"NDESConnectorSvc\"}},"
      "{\"type\": \"windows.service\", \"params\": {\"service\": \"w3svc\"}},"
      "{\"type\": \"windows.iis_binding\", \"params\": {\"site\": \"Default Web Site\"}},"
      "{\"type\": \"windows.event_verify\", \"params\": {\"event_id\": 1}}]}");
  answer(HEALTHY);
  W->whatif = 1; /* doctor runs as a whatif run: the script is read-only */
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_int_eq(ran("windows.doctor", &p), 1);
  ck_assert_str_eq(P(p, "config"), CONFIG);
  ck_assert_int_eq(json_array_size(json_object_get(p, "services")), 2); /* w3svc is W3SVC */
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "services"), 0)), "W3SVC");
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "services"), 1)),
                   "NDESConnectorSvc");
  ck_assert_int_eq(json_array_size(json_object_get(p, "sites")), 1);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "sites"), 0)),
                   "Default Web Site");
  ck_assert_int_eq(json_array_size(json_object_get(p, "pools")), 1);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "pools"), 0)), "SCEP");
  wt_free();

  /* not AD CS: no CA to ping from the target, and no steps */
  wt_new("{\"certificate\": {\"template\": \"WebServer\"}, \"issuer\": {\"type\": \"acme\", "
         "\"config\": \"x\\\\y\"}}");
  answer(HEALTHY);
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_int_eq(ran("windows.doctor", &p), 1);
  ck_assert_str_eq(P(p, "config"), "");
  ck_assert_int_eq(json_array_size(json_object_get(p, "services")), 0);
  ck_assert_ptr_null(check_of("ca", 0));
}
END_TEST

START_TEST(a_ready_server) {
  wt_new(NDES_SECTIONS);
  answer(HEALTHY);
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_int_eq(failed(), 0);
  ck_assert_ptr_nonnull(strstr(o_msg, "logged in as svc_renewd; 0 check(s) failed"));
  ck_assert_str_eq(P(check_of("powershell", 0), "message"), "PowerShell 5.1.17763.5830 (Desktop)");
  ck_assert_ptr_nonnull(strstr(P(check_of("dotnet", 0), "message"), "Release 528049"));
  ck_assert_str_eq(P(check_of("tools", 1), "message"),
                   "certutil.exe at C:\\Windows\\system32\\certutil.exe");
  ck_assert_str_eq(P(check_of("ca", 0), "message"),
                   CONFIG " (the runbook's) answers certutil -ping");
  ck_assert_str_eq(P(check_of("service", 0), "message"), "service W3SVC is Running");
  ck_assert_str_eq(P(check_of("iis", 0), "message"),
                   "IIS application pool SCEP runs as CORP\\svc_ndes");
  ck_assert_int_eq(json_array_size(json_object_get(o_result, "checks")), 10);
}
END_TEST

START_TEST(everything_that_stops_a_renewal) {
  wt_new(NDES_SECTIONS);
  answer(HEALTHY);
  json_object_set_new(W->doctor, "ps_version", json_string("4.0"));
  json_object_set_new(W->doctor, "net_release", json_null());
  json_object_set_new(W->doctor, "admin", json_false());
  json_object_set_new(W->doctor, "certreq", json_string(""));
  json_object_set_new(W->doctor, "schedule",
                      json_pack("{s:s, s:b, s:s}", "service", "Stopped", "ok", 0, "error",
                                "Der Dienst wurde nicht gestartet.\r\n"));
  json_object_set_new(W->doctor, "eventlog",
                      json_pack("{s:b, s:s}", "ok", 0, "error", "Zugriff verweigert"));
  /* certutil's exit code is the HRESULT: 0x800706BA as a signed 32-bit int;
   * the text is German (a hint, never what decides) */
  json_object_set_new(W->doctor, "ping",
                      json_pack("{s:I, s:s}", "exit", (json_int_t)-2147023174LL, "text",
                                "CertUtil: Der RPC-Server ist nicht verfügbar."));
  json_object_set_new(
      W->doctor, "services",
      json_pack("[{s:s, s:b, s:s}]", "name", "NDESConnectorSvc", "exists", 0, "status", ""));
  json_object_set_new(W->doctor, "webadmin", json_false());
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}"); /* findings, not a failed probe */
  ck_assert_int_eq(failed(), 9);
  ck_assert_ptr_nonnull(strstr(o_msg, "9 check(s) failed"));
  ck_assert_ptr_nonnull(strstr(P(check_of("powershell", 0), "fix"), "Management Framework 5.1"));
  ck_assert_ptr_nonnull(strstr(P(check_of("dotnet", 0), "message"), "no .NET Framework 4"));
  ck_assert_ptr_nonnull(strstr(P(check_of("elevation", 0), "fix"), "Administrators group"));
  ck_assert_int_eq(json_is_true(json_object_get(check_of("tools", 0), "ok")), 0);
  ck_assert_int_eq(json_is_true(json_object_get(check_of("tools", 1), "ok")), 1);
  ck_assert_str_eq(P(check_of("task-scheduler", 0), "message"),
                   "the Task Scheduler (service Schedule: Stopped) cannot be used: Der Dienst "
                   "wurde nicht gestartet.");
  ck_assert_ptr_nonnull(strstr(P(check_of("task-scheduler", 0), "fix"), "S-1-5-18"));
  ck_assert_ptr_nonnull(strstr(P(check_of("event-log", 0), "message"), "Zugriff verweigert"));
  ck_assert_str_eq(P(check_of("ca", 0), "message"), CONFIG
                   " does not answer certutil -ping: exit 0x800706BA "
                   "RPC_S_SERVER_UNAVAILABLE (CertUtil: Der RPC-Server ist nicht verfügbar.)");
  ck_assert_str_eq(P(check_of("ca", 0), "fix"), win_hresult_advice(0x800706baUL));
  ck_assert_str_eq(P(check_of("service", 0), "message"), "service NDESConnectorSvc does not exist");
  ck_assert_str_eq(P(check_of("iis", 0), "message"),
                   "the WebAdministration module cannot be loaded");
  ck_assert_ptr_nonnull(strstr(P(check_of("iis", 0), "fix"), "Web-Scripting-Tools"));
}
END_TEST

START_TEST(the_ca) {
  wt_new(NDES_SECTIONS);
  answer(HEALTHY);
  /* an HRESULT renewd has no sentence for (0x80070422, ERROR_SERVICE_DISABLED): the generic fix */
  json_object_set_new(W->doctor, "ping",
                      json_pack("{s:I, s:s}", "exit", (json_int_t)-2147023838LL, "text", ""));
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_str_eq(P(check_of("ca", 0), "message"),
                   CONFIG " does not answer certutil -ping: exit 0x80070422");
  ck_assert_ptr_nonnull(strstr(P(check_of("ca", 0), "fix"), "RPC/DCOM"));
  /* the configuration NDES names (MSCEP\CAInfo) when the runbook has none */
  json_object_set_new(W->doctor, "ping", json_pack("{s:i, s:s}", "exit", 0, "text", ""));
  json_object_set_new(W->doctor, "config_source", json_string("cainfo"));
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_str_eq(P(check_of("ca", 0), "message"),
                   CONFIG " (from MSCEP\\CAInfo) answers certutil -ping");
  /* none at all: adcs.issue asks AD at run time; not a blocker */
  json_object_set_new(W->doctor, "config", json_string(""));
  json_object_set_new(W->doctor, "ping", json_null());
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_int_eq(failed(), 0);
  ck_assert_ptr_nonnull(strstr(P(check_of("ca", 0), "message"), "Active Directory"));
  /* a configuration but no certutil.exe */
  json_object_set_new(W->doctor, "config", json_string(CONFIG));
  json_object_set_new(W->doctor, "certutil", json_string(""));
  OK(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_int_eq(failed(), 2);
  ck_assert_str_eq(P(check_of("ca", 0), "message"), CONFIG ": not pinged (no certutil.exe)");
}
END_TEST

START_TEST(a_script_that_fails) {
  wt_new(NDES_SECTIONS);
  answer("[]"); /* not an object: the probe fails, naming the script */
  phase(&windows_kind_doctor, RD_PHASE_PROBE, "{}");
  ck_assert_int_ne(o_status, 0);
  ck_assert_ptr_nonnull(strstr(o_msg, "windows.doctor"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("windows_doctor");
  TCase *tc = wt_tcase("doctor");
  tcase_add_test(tc, not_a_runbook_step);
  tcase_add_test(tc, params_from_the_runbook);
  tcase_add_test(tc, a_ready_server);
  tcase_add_test(tc, everything_that_stops_a_renewal);
  tcase_add_test(tc, the_ca);
  tcase_add_test(tc, a_script_that_fails);
  suite_add_tcase(s, tc);
  return wt_main(s);
}
