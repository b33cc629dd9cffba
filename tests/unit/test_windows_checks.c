/* test_windows_checks.c — the check kinds against the simulated target of
 * helpers/win_fixture.h: windows.ndes_getcacaps (the request that makes IIS
 * load NDES before the Event 1 wait: its parameters, what each answer
 * means, the probe sends nothing) and windows.event_verify's failure events
 * (SCOM 20049/20050/20052/20066/20069/20077 fail the check at once), and
 * windows.key_acl's application pool identity check, windows.log_verify
 * (the ConfigMgr policy module's NDESPlugin.log). */
#include "win_fixture.h"
#include "windows_getcacaps.h"

#define URL "http://localhost/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps"

START_TEST(getcacaps_params) {
  char err[512];
  json_t *p;
  const struct {
    const char *params, *error;
  } cases[] = {
      {"{}", NULL},
      {"{\"url\": \"https://ndes01.corp.example:8443/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps\", "
       "\"timeout\": 120}", NULL},
      {"{\"url\": \"https://ndes01/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACert\"}",
       "windows.ndes_getcacaps: \"url\" must be http(s)://<host>/certsrv/mscep/mscep.dll/"
       "pkiclient.exe?operation=GetCACaps, such as \"" URL "\""},
      {"{\"url\": \"ftp://ndes01/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps\"}", "\"url\" must be"},
      {"{\"url\": \"http://a b/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps\"}", "\"url\" must be"},
      {"{\"url\": \"http:///certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps\"}", "\"url\" must be"},
      {"{\"timeout\": 0}", "\"timeout\" must be a whole number from 1 to 600"},
      {"{\"uri\": \"x\"}", "unknown parameter \"uri\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int rc;
    p = json_loads(cases[i].params, 0, NULL);
    err[0] = 0;
    rc = windows_kind_ndes_getcacaps.validate(p, err, sizeof err);
    json_decref(p);
    if (!cases[i].error)
      ck_assert_msg(rc == 0, "case %zu: %s", i, err);
    else
      ck_assert_msg(rc == RD_EINVAL && strstr(err, cases[i].error), "case %zu: %d %s", i, rc, err);
  }
}
END_TEST

static int judge(const char *answer, char *msg, size_t n) {
  json_t *o = json_loads(answer, 0, NULL);
  int st = -1;
  ck_assert_ptr_nonnull(o);
  win_getcacaps_judge(o, &st, msg, n);
  json_decref(o);
  return st;
}

START_TEST(getcacaps_answers) {
  char m[900];
  ck_assert_int_eq(judge("{\"status\": 200, \"caps\": [\"POSTPKIOperation\", \"Renewal\", \"SHA-256\"]}",
                         m, sizeof m), 0);
  ck_assert_str_eq(m, "NDES answered GetCACaps: POSTPKIOperation, Renewal, SHA-256");
  ck_assert_int_eq(judge("{\"status\": 200, \"caps\": []}", m, sizeof m), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(m, "HTTP 200 but no capabilities"));
  ck_assert_int_eq(judge("{\"status\": 500, \"caps\": [], \"web_status\": \"ProtocolError\", "
                         "\"error\": \"Der Remoteserver hat einen Fehler zurückgegeben: (500)\"}",
                         m, sizeof m), RD_EVERIFY);
  ck_assert_msg(strstr(m, "GetCACaps: HTTP 500: NDES is installed but failed to load") == m, "%s", m);
  ck_assert_ptr_nonnull(strstr(m, "duplicate RA certificate"));
  ck_assert_ptr_nonnull(strstr(m, "(Der Remoteserver")); /* the localised text: a hint only */
  ck_assert_int_eq(judge("{\"status\": 503, \"caps\": []}", m, sizeof m), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(m, "SCEP application pool is stopped"));
  ck_assert_int_eq(judge("{\"status\": 404}", m, sizeof m), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(m, "no NDES at this URL"));
  ck_assert_int_eq(judge("{\"status\": 0, \"web_status\": \"ConnectFailure\", \"error\": \"x\"}", m,
                         sizeof m), RD_EVERIFY);
  ck_assert_str_eq(m, "GetCACaps: no HTTP answer (ConnectFailure): nothing answered: check that IIS "
                      "(W3SVC) runs and the URL's host and port; x");
  ck_assert_int_eq(judge("{\"status\": 0, \"web_status\": \"Timeout\"}", m, sizeof m), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(m, "no answer in time"));
}
END_TEST

START_TEST(getcacaps_on_the_target) {
  const json_t *p = NULL;
  ndes();
  W->scripts = 0;
  OK(&windows_kind_ndes_getcacaps, RD_PHASE_PROBE, "{}");
  ck_assert_int_eq(W->scripts, 0); /* the probe sends nothing */
  ck_assert_ptr_nonnull(strstr(o_msg, "would send GET " URL));
  OK(&windows_kind_ndes_getcacaps, RD_PHASE_VERIFY, "{}");
  ck_assert_int_eq(ran("windows.ndes.getcacaps", &p), 1);
  ck_assert_str_eq(P(p, "url"), URL);
  ck_assert_ptr_nonnull(strstr(o_msg, "NDES answered GetCACaps: POSTPKIOperation"));
  W->cacaps = json_pack("{s:i, s:s, s:[], s:s}", "status", 500, "web_status", "ProtocolError",
                        "caps", "error", "(500) Internal Server Error");
  EXPECT(&windows_kind_ndes_getcacaps, RD_PHASE_VERIFY, "{}", RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o_msg, URL ": GetCACaps: HTTP 500: NDES is installed but failed"));
}
END_TEST

#define SCOM_EV                                                                                    \
  "{\"log\": \"Operations Manager\", \"event_id\": 20053, \"provider\": \"OpsMgr Connector\", "       \
  "\"within\": \"10m\", \"failure_ids\": [20049, 20050, 20052, 20066, 20069, 20077]}"

START_TEST(scom_failure_events) {
  char err[512];
  json_t *p;
  wt_new("{\"certificate\": {\"template\": \"CEPEncryption\"}}");
  p = json_loads(SCOM_EV, 0, NULL);
  ck_assert_int_eq(windows_kind_event_verify.validate(p, err, sizeof err), 0);
  json_decref(p);
  p = json_pack("{s:s, s:i, s:s, s:[i]}", "log", "Operations Manager", "event_id", 20053, "provider",
                "OpsMgr Connector", "failure_ids", 20053);
  ck_assert_int_eq(windows_kind_event_verify.validate(p, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "other than \"event_id\""));
  json_decref(p);
  p = json_pack("{s:s, s:i, s:s, s:[]}", "log", "Operations Manager", "event_id", 20053, "provider",
                "OpsMgr Connector", "failure_ids");
  ck_assert_int_eq(windows_kind_event_verify.validate(p, err, sizeof err), RD_EINVAL);
  json_decref(p);
  /* after the restart HealthService logs 20066, not 20053 */
  W->restart_event = "scom_cert_failed";
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"service\": \"HealthService\", \"action\": \"restart\"}");
  EXPECT(&windows_kind_event_verify, RD_PHASE_VERIFY, SCOM_EV, RD_EVERIFY);
  ck_assert_msg(strstr(o_msg, "OpsMgr Connector logged failure event 20066 in Operations Manager at ") &&
                    strstr(o_msg, "instead of event 20053: (test text) The OpsMgr Connector could not"),
                "%s", o_msg);
  /* the next restart loads it: 20053 is newer than the failure */
  W->clock += 60;
  W->restart_event = "scom_cert_loaded";
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"service\": \"HealthService\", \"action\": \"restart\"}");
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY, SCOM_EV);
}
END_TEST

#define ACL_POOL "{\"account\": \"CORP\\\\svc_ndes\", \"rights\": \"read\", \"app_pool\": \"SCEP\"}"

/* windows.key_acl's "app_pool": the account must be the one the SCEP pool
 * runs as (seed 004: a key ACLed for a previous account -> 0x80070057). */
START_TEST(key_acl_checks_the_app_pool) {
  char err[512], k[1300], kp[600];
  json_t *p;
  ndes();
  inventory();
  OK(&windows_kind_key_acl, RD_PHASE_PROBE, ACL_POOL); /* before the issuer: the plan */
  ck_assert_msg(strstr(o_msg, "IIS application pool 'SCEP' runs as CORP\\svc_ndes"), "%s", o_msg);
  issued(&NEW);
  store_add(&NEW, 1, "CNG");
  /* the pool was moved to another account: refused before any change */
  W->pool_user = "CORP\\svc_other";
  EXPECT(&windows_kind_key_acl, RD_PHASE_PROBE, ACL_POOL, RD_ECONFIG);
  ck_assert_msg(strstr(o_msg, "IIS application pool 'SCEP' runs as CORP\\svc_other "
                              "(S-1-5-21-1-2-3-1999), not as CORP\\svc_ndes (S-1-5-21-1-2-3-1105): "
                              "NDES would not read its RA key (0x80070057)"),
                "%s", o_msg);
  EXPECT(&windows_kind_key_acl, RD_PHASE_APPLY, ACL_POOL, RD_ECONFIG);
  snprintf(k, sizeof k, "%s|%s", store_key_path(NEW.thumb, kp, sizeof kp), ACCOUNT);
  ck_assert_ptr_null(json_object_get(W->acl, k));
  ck_assert_uint_eq(json_object_size(W->journal), 0);
  /* back to the account: granted */
  W->pool_user = NULL;
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, ACL_POOL);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x120089);
  /* a pool that does not exist */
  EXPECT(&windows_kind_key_acl, RD_PHASE_PROBE,
         "{\"account\": \"CORP\\\\svc_ndes\", \"app_pool\": \"Nope\"}", RD_ENOTFOUND);
  p = json_pack("{s:s, s:s}", "account", ACCOUNT, "app_pool", "a;b");
  ck_assert_int_eq(windows_kind_key_acl.validate(p, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "\"app_pool\" must be an IIS application pool name"));
  json_decref(p);
}
END_TEST

/* windows.log_verify with the shipped ConfigMgr runbook's params: after
 * iisreset NDESPlugin.log must name the new thumbprint (seed 000). */
START_TEST(configmgr_plugin_log) {
  json_error_t je;
  json_t *rb = json_load_file(SOURCE_DIR "/runbooks/windows-configmgr-policy-module.json", 0, &je);
  const json_t *st;
  size_t i;
  char *params = NULL, err[512], line[300];
  ck_assert_msg(rb != NULL, "%s", je.text);
  json_array_foreach(json_object_get(rb, "steps"), i, st) {
    if (!strcmp(P(st, "type"), "windows.log_verify"))
      params = json_dumps(json_object_get(st, "params"), JSON_COMPACT);
  }
  json_decref(rb);
  ck_assert_ptr_nonnull(params);
  ndes();
  inventory();
  EXPECT(&windows_kind_log_verify, RD_PHASE_PROBE, params, RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(o_msg, "NDESPlugin.log does not exist on the target"));
  /* before: the old thumbprint, then the expired certificate's error */
  snprintf(line, sizeof line, "INFO(\"NDES thumbprint is %s.\", wszBuffer);\n", OLD.thumb);
  W->plugin_log = strdup(line);
  OK(&windows_kind_log_verify, RD_PHASE_PROBE, params);
  ck_assert_ptr_nonnull(strstr(o_msg, "(the current one's is there)"));
  issued(&NEW);
  free(W->plugin_log);
  if (asprintf(&W->plugin_log, "%sERROR(\"Failed to send http request %s. Error 12037\", x);\n",
               line, OLD.thumb) < 0)
    ck_abort();
  EXPECT(&windows_kind_log_verify, RD_PHASE_VERIFY, params, RD_EVERIFY);
  ck_assert_msg(strstr(o_msg, "no line with the new certificate's thumbprint within 300 s; last "
                              "errors: ERROR(\"Failed to send http request"),
                "%s", o_msg);
  /* after iisreset with the new value */
  free(W->plugin_log);
  if (asprintf(&W->plugin_log, "%sINFO(\"NDES thumbprint is %s.\", wszBuffer);\n", line,
               NEW.thumb) < 0)
    ck_abort();
  OK(&windows_kind_log_verify, RD_PHASE_VERIFY, params);
  ck_assert_ptr_nonnull(strstr(o_msg, NEW.thumb));
  free(params);
  /* validation */
  {
    json_t *p = json_pack("{s:s, s:s}", "path", "NDESPlugin.log", "contains", "x");
    ck_assert_int_eq(windows_kind_log_verify.validate(p, err, sizeof err), RD_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"path\" must be an absolute path"));
    json_decref(p);
    p = json_pack("{s:s}", "path", "C:\\x.log");
    ck_assert_int_eq(windows_kind_log_verify.validate(p, err, sizeof err), RD_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"contains\" is required"));
    json_decref(p);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("windows_checks");
  TCase *tc = wt_tcase("getcacaps");
  tcase_add_test(tc, getcacaps_params);
  tcase_add_test(tc, getcacaps_answers);
  tcase_add_test(tc, getcacaps_on_the_target);
  tcase_add_test(tc, scom_failure_events);
  tcase_add_test(tc, key_acl_checks_the_app_pool);
  tcase_add_test(tc, configmgr_plugin_log);
  suite_add_tcase(s, tc);
  return wt_main(s);
}
