/* test_windows_issue.c — windows.inventory and adcs.issue against the
 * simulated Windows target of helpers/win_fixture.h: the store selection,
 * issued / pending / denied / expired-basis requests, CA discovery, never
 * submitting twice, whatif. */
#include "win_fixture.h"

/* ------------------------------------------------------------ inventory */

START_TEST(inventory_picks_newest_and_lists_duplicates) {
  const json_t *c, *probs;
  ndes();
  inventory();
  c = json_object_get(W->facts, "cert");
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(P(c, "thumbprint"), OLD.thumb); /* newer than DUP */
  ck_assert_str_eq(P(c, "store"), "LocalMachine\\My");
  ck_assert_str_eq(P(c, "key_provider"), "CAPI");
  ck_assert_ptr_nonnull(strstr(P(c, "key_path"), "\\Crypto\\RSA\\MachineKeys\\"));
  ck_assert(json_is_true(json_object_get(c, "key_match")));
  ck_assert_str_eq(P(json_object_get(c, "template"), "name"), "CEPEncryption");
  ck_assert_uint_eq(json_array_size(json_object_get(c, "duplicates")), 1);
  ck_assert_str_eq(P(json_array_get(json_object_get(c, "duplicates"), 0), "thumbprint"), DUP.thumb);
  probs = json_object_get(W->facts, "problems");
  ck_assert_uint_eq(json_array_size(probs), 1);
  ck_assert_str_eq(P(json_array_get(probs, 0), "what"), "duplicates");
  ck_assert_ptr_nonnull(strstr(o_msg, "ndes01: LocalMachine\\My: CN=ndes01-MSCEP-RA"));
  /* one script, read-only */
  ck_assert_int_eq(W->scripts, 1);
  /* a valid certificate without its key loses to one with it */
  json_object_set_new(store_get(OLD.thumb), "has_key", json_false());
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), DUP.thumb);
}
END_TEST

START_TEST(inventory_template_oid_and_v2_name) {
  json_t *e;
  wt_new("{\"certificate\": {\"template_oid\": \"" V2_OID "\"}}");
  store_add(&OLD, 1, "CAPI");
  store_add(&WEB_OLD, 1, "CNG");
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), WEB_OLD.thumb);
  ck_assert_str_eq(fact("cert", "key_provider"), "CNG");
  wt_free();
  /* by name: the OID in the DER, its display name in the formatted
   * extension; spaces and case do not matter */
  wt_new("{\"certificate\": {\"template\": \"ConfigMgrWebServerCertificates\"}}");
  store_add(&WEB_OLD, 1, "CNG");
  e = store_get(WEB_OLD.thumb);
  json_object_set_new(e, "template_hint",
                      json_string("Template=ConfigMgr Web Server Certificates(" V2_OID
                                  "), Major Version Number=100, Minor Version Number=4"));
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), WEB_OLD.thumb);
  /* a display name next to another OID than the DER's does not count */
  json_object_set_new(e, "template_hint",
                      json_string("Template=ConfigMgr Web Server Certificates(1.3.6.1.4.1.311.21.8.9.9)"));
  inventory();
  ck_assert_ptr_null(json_object_get(W->facts, "cert"));
}
END_TEST

START_TEST(inventory_missing_and_expired) {
  wt_new("{\"certificate\": {\"template\": \"CEPEncryption\"}}");
  store_add(&PLAIN, 1, "CNG");
  inventory();
  ck_assert_ptr_null(json_object_get(W->facts, "cert"));
  ck_assert_str_eq(P(json_array_get(json_object_get(W->facts, "problems"), 0), "what"),
                   "missing certificate");
  ck_assert_ptr_nonnull(strstr(o_msg, "a new one is needed"));
  store_add(&EXPIRED, 1, "CAPI");
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), EXPIRED.thumb);
  ck_assert_str_eq(P(json_array_get(json_object_get(W->facts, "problems"), 0), "what"), "expired");
  /* a thumbprint selector lists only that certificate */
  json_object_set_new(json_object_get(W->sections, "certificate"), "thumbprint",
                      json_string(PLAIN.thumb));
  json_object_del(json_object_get(W->sections, "certificate"), "template");
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), PLAIN.thumb);
  {
    const json_t *p = NULL;
    ran("windows.store.list", &p);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "thumbprints"), 0)),
                     PLAIN.thumb);
  }
}
END_TEST

/* ------------------------------------------------------------ adcs.issue */

START_TEST(adcs_issued) {
  const json_t *p = NULL, *rec;
  ndes();
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "would renew"));
  ck_assert_ptr_nonnull(json_object_get(W->facts, "ca_pem")); /* the chain, for checks */
  ck_assert_int_eq(W->submits, 0);
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  /* the INF names the live certificate */
  ck_assert_int_eq(ran("adcs.new", &p), 1);
  ck_assert_str_eq(P(p, "thumbprint"), OLD.thumb);
  ck_assert_ptr_nonnull(strstr(W->inf, "RenewalCert=\""));
  ck_assert_ptr_nonnull(strstr(W->inf, OLD.thumb));
  ck_assert_ptr_nonnull(strstr(W->inf, "MachineKeySet=TRUE"));
  /* submitted once, as SYSTEM, with the runbook's CA */
  ck_assert_int_eq(ran("adcs.task", &p), 1);
  ck_assert_str_eq(P(p, "action"), "submit");
  ck_assert_str_eq(P(p, "config"), CONFIG);
  ck_assert_int_eq(W->submits, 1);
  ck_assert_int_eq(ran("adcs.accept", NULL), 1);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
  ck_assert(json_is_true(json_object_get(json_object_get(W->facts, "new_cert"), "has_private_key")));
  ck_assert_str_eq(W->states, "KEY_READY REQUESTED");
  rec = json_object_get(W->journal, "adcs.request");
  ck_assert_str_eq(P(rec, "state"), "issued");
  ck_assert_str_eq(P(rec, "request_id"), "42");
  ck_assert_str_eq(P(rec, "config"), CONFIG);
  ck_assert_str_eq(P(rec, "thumbprint"), NEW.thumb);
  ck_assert_ptr_nonnull(strstr(o_msg, "request 42"));
  /* a re-run after a crash accepts nothing new and submits nothing */
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->submits, 1);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

/* The engine abandons apply (a timeout) while adcs.new runs and cancels
 * the step; the script's answer arrives anyway. Nothing may follow from it:
 * no submission, no state, no journal change, no completion. The journal
 * keeps the "new" record, so the next run resumes from there. */
START_TEST(adcs_canceled_acts_no_more) {
  rd_step s;
  char *before;
  int calls;
  ndes();
  inventory();
  memset(&s, 0, sizeof s);
  s.params = json_object();
  wt_hold(1);
  ck_assert_int_eq(adcs_kind_issue.apply(&s, &API), 0);
  ck_assert_int_eq(ran("adcs.new", NULL), 1); /* its answer is held */
  ck_assert_int_eq(s.done_calls, 0);
  ck_assert_ptr_nonnull(adcs_kind_issue.cancel);
  adcs_kind_issue.cancel(&s, &API);
  before = json_dumps(W->journal, JSON_SORT_KEYS);
  calls = (int)json_array_size(W->calls);
  wt_hold(0);
  ck_assert_int_eq(wt_deliver(), 1); /* the late answer */
  ck_assert_int_eq((int)json_array_size(W->calls), calls); /* no adcs.task submit */
  ck_assert_int_eq(W->submits, 0);
  ck_assert_str_eq(W->states, "");
  ck_assert_int_eq(s.done_calls, 0);
  char *after = json_dumps(W->journal, JSON_SORT_KEYS);
  ck_assert_str_eq(after, before);
  free(before);
  free(after);
  s.free_fn(s.data);
  json_decref(s.params);
  json_decref(s.result);
}
END_TEST

START_TEST(adcs_pending_then_retrieved) {
  const json_t *p = NULL, *rec;
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-pending.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  rec = json_object_get(W->journal, "adcs.request");
  ck_assert_str_eq(P(rec, "state"), "pending");
  ck_assert_str_eq(P(rec, "request_id"), "43");
  ck_assert_str_eq(P(rec, "config"), CONFIG);
  ck_assert_ptr_null(json_object_get(W->facts, "new_cert"));
  ck_assert_ptr_nonnull(strstr(o_msg, "request 43 is pending"));
  ck_assert_ptr_nonnull(strstr(W->states, "PENDING_CA"));
  /* the plan of the next run: a retrieval */
  W->whatif = 1;
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "would retrieve pending request 43"));
  W->whatif = 0;
  /* still pending */
  W->retrieve_text = fixture_text("certreq-retrieve-pending.txt");
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  /* issued by a CA manager meanwhile */
  free(W->retrieve_text);
  W->retrieve_text = fixture_text("certreq-retrieve-issued.txt");
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ran("adcs.task", &p);
  ck_assert_str_eq(P(p, "action"), "retrieve");
  ck_assert_str_eq(P(p, "request_id"), "43");
  ck_assert_str_eq(P(p, "config"), CONFIG);
  ck_assert_int_eq(W->submits, 1); /* never resubmitted */
  ck_assert_int_eq(W->retrieves, 2);
  ck_assert_int_eq(ran("adcs.new", NULL), 1);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

START_TEST(adcs_denied) {
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-denied.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EDENIED);
  ck_assert_ptr_nonnull(strstr(o_msg, "denied request 4: Denied by Policy Module The EMail name"));
  ck_assert_str_eq(P(json_object_get(o_result, "detail"), "hresult"), "0x80094812");
  ck_assert_ptr_null(json_object_get(W->facts, "new_cert"));
  /* the failed request's key pair and work directory are cleaned up */
  ck_assert_uint_eq(json_array_size(W->reqstore), 1);
  OK(&adcs_kind_issue, RD_PHASE_ROLLBACK, NULL);
  ck_assert_uint_eq(json_array_size(W->reqstore), 0);
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "state"), "cleaned");
}
END_TEST

START_TEST(adcs_expired_basis) {
  /* an NDES RA certificate is a user template: not the fresh machine
   * request (0x8007000d), but NDES configured again */
  const char *cmds[] = {"0x8007000d", "reg export HKLM\\SOFTWARE\\Microsoft\\Cryptography\\MSCEP",
                        "Uninstall-AdcsNetworkDeviceEnrollmentService -Force",
                        "Install-AdcsNetworkDeviceEnrollmentService -ServiceAccountName <NDES service "
                        "account> -ServiceAccountPassword (Read-Host -AsSecureString) -RAName "
                        "\"ndes01-MSCEP-RA\" -CAConfig \"" CONFIG "\" -Force",
                        "reg import mscep-backup.reg; iisreset"};
  /* (a) the live certificate expired: nothing is sent */
  wt_new(NDES_SECTIONS);
  store_add(&EXPIRED, 1, "CAPI");
  inventory();
  W->scripts = 0;
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_int_eq(W->scripts, 0);
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
    ck_assert_msg(strstr(o_msg, cmds[i]) != NULL, "'%s' not in: %s", cmds[i], o_msg);
  ck_assert_ptr_nonnull(strstr(o_msg, "expired on"));
  ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(json_object_get(o_result, "detail"),
                                                                    "fresh_request"), "commands")), 5);
  ck_assert_ptr_null(strstr(o_msg, "MachineKeySet=TRUE")); /* the recipe that fails */
  /* the plan says so too, without failing, with the same procedure */
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "needs an operator"));
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
    ck_assert_msg(strstr(o_msg, cmds[i]) != NULL, "plan: '%s' not in: %s", cmds[i], o_msg);
  wt_free();
  /* (b) the CA says the basis expired */
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-denied-expired.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_ptr_nonnull(strstr(o_msg, "denied request 45 because the RenewalCert basis"));
  ck_assert_ptr_nonnull(strstr(o_msg, "Install-AdcsNetworkDeviceEnrollmentService"));
  wt_free();
  /* (c) no current certificate at all */
  wt_new(NDES_SECTIONS);
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_ptr_nonnull(strstr(o_msg, "no current certificate"));
}
END_TEST

START_TEST(adcs_discovers_the_ca) {
  const json_t *p = NULL;
  ndes();
  json_object_del(json_object_get(W->sections, "issuer"), "config");
  W->dump_text = fixture_text("certutil-dump-one.txt");
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, CONFIG " (found in certutil -dump)"));
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->dumps, 1);
  ran("adcs.task", &p);
  ck_assert_str_eq(P(p, "action"), "submit");
  ck_assert_str_eq(P(p, "config"), CONFIG);
  wt_free();
  /* two CAs: the operator picks one */
  ndes();
  json_object_del(json_object_get(W->sections, "issuer"), "config");
  W->dump_text = fixture_text("certutil-dump-two.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_PROBE, NULL, RD_ECONFIG);
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(o_msg, "certutil -dump (as SYSTEM) lists 2 CAs"));
  ck_assert_int_eq(W->submits, 0);
  ck_assert_int_eq(ran("adcs.new", NULL), 0);
  wt_free();
  /* AD's enrollment services decide before certutil's text */
  ndes();
  json_object_del(json_object_get(W->sections, "issuer"), "config");
  W->dump_text = fixture_text("certutil-dump-two.txt");
  W->ad_cas = json_pack("[s]", CONFIG);
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ran("adcs.task", &p);
  ck_assert_str_eq(P(p, "config"), CONFIG);
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "config_source"),
                   "AD enrollment services");
  wt_free();
  /* on an NDES server, the CA NDES uses (MSCEP\CAInfo), shown in the plan */
  ndes();
  json_object_del(json_object_get(W->sections, "issuer"), "config");
  W->cainfo = "ca02.corp.example\\Corp Policy CA";
  W->ad_cas = json_pack("[s,s]", CONFIG, "ca02.corp.example\\Corp Policy CA");
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_msg(strstr(o_msg, "ca02.corp.example\\Corp Policy CA (found in NDES's MSCEP\\CAInfo)"),
                "%s", o_msg);
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ran("adcs.task", &p);
  ck_assert_str_eq(P(p, "config"), "ca02.corp.example\\Corp Policy CA");
  wt_free();
  /* two CAs in AD and no NDES: the operator picks */
  ndes();
  json_object_del(json_object_get(W->sections, "issuer"), "config");
  W->ad_cas = json_pack("[s,s]", CONFIG, "ca02.corp.example\\Corp Policy CA");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(o_msg, "AD enrollment services (as SYSTEM) lists 2 CAs"));
}
END_TEST

START_TEST(adcs_never_submits_twice) {
  ndes();
  inventory();
  /* the task outlived its wait: the job waits (PENDING_CA keeps the
   * journal) and the next run reads its result */
  W->task_timeout = 1;
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  ck_assert_ptr_nonnull(strstr(o_msg, "never submits twice"));
  ck_assert_ptr_nonnull(strstr(W->states, "PENDING_CA"));
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "state"), "submitted");
  /* it started and left nothing: unknown, an operator checks the CA */
  W->task_timeout = 0;
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_ptr_nonnull(strstr(o_msg, "may or may not have reached the CA"));
  ck_assert_int_eq(W->submits, 0);
  /* its result file exists (the task finished late): reused, not resent */
  json_object_set_new(W->dir, "out-submit",
                      json_pack("{s:i, s:s, s:s, s:n}", "exit", 0, "text",
                                "RequestId: 42\r\nCertificate retrieved(Issued) Issued\r\n", "cer",
                                NEW.b64, "error"));
  json_object_set_new(W->dir, "cer", json_string(NEW.b64));
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->submits, 0);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

/* A lost reply: certreq -submit ran as SYSTEM and the CA took the request
 * under submission (RequestId 43), but renewd was killed when the task's
 * answer arrived, before it journaled "pending": the journal still says
 * "submitted" (the record as it was when the task started). The next run
 * reads the task's result file (never a second -submit), journals RequestId
 * 43 as pending, and the run after that retrieves exactly that request. */
START_TEST(adcs_lost_reply_retrieves_by_request_id) {
  const json_t *p = NULL;
  json_t *rec;
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-pending.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  ck_assert_int_eq(W->submits, 1); /* the CA has the request */
  ck_assert_int_eq(ran("adcs.task", &p), 1);
  ck_assert_str_eq(P(p, "action"), "submit");
  ck_assert(json_is_true(json_object_get(p, "fresh")));
  /* the kill: the answer's commit never happened */
  rec = json_object_get(W->journal, "adcs.request");
  json_object_set_new(rec, "state", json_string("submitted"));
  json_object_del(rec, "request_id");
  /* the next run: the result file, not a second submission */
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  ck_assert_int_eq(W->submits, 1);
  ck_assert_int_eq(ran("adcs.task", &p), 2);
  ck_assert(json_is_false(json_object_get(p, "fresh")));
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "state"), "pending");
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "request_id"), "43");
  ck_assert_ptr_nonnull(strstr(o_msg, "request 43 is pending"));
  /* issued meanwhile: retrieved by the journaled RequestId */
  W->retrieve_text = fixture_text("certreq-retrieve-issued.txt");
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(ran("adcs.task", &p), 3);
  ck_assert_str_eq(P(p, "action"), "retrieve");
  ck_assert_str_eq(P(p, "request_id"), "43");
  ck_assert_int_eq(W->submits, 1);
  ck_assert_int_eq(W->retrieves, 1);
  ck_assert_int_eq(ran("adcs.new", NULL), 1);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

START_TEST(adcs_transient_failure_may_resubmit) {
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-rpc-unavailable.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o_msg, "RPC server is unavailable"));
  /* no disposition: it never reached the CA, so it may go again */
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "state"), "requested");
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-issued.txt");
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->submits, 2);
  ck_assert_int_eq(ran("adcs.new", NULL), 1);
}
END_TEST

START_TEST(adcs_whatif) {
  ndes();
  W->whatif = 1;
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EWHATIF);
  ck_assert_int_eq(ran("adcs.new", NULL) + ran("adcs.task", NULL), 0);
  ck_assert_uint_eq(json_object_size(W->journal), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("windows_issue");
  TCase *t;
  t = wt_tcase("kinds");
  tcase_add_test(t, inventory_picks_newest_and_lists_duplicates);
  tcase_add_test(t, inventory_template_oid_and_v2_name);
  tcase_add_test(t, inventory_missing_and_expired);
  tcase_add_test(t, adcs_issued);
  tcase_add_test(t, adcs_canceled_acts_no_more);
  tcase_add_test(t, adcs_pending_then_retrieved);
  tcase_add_test(t, adcs_denied);
  tcase_add_test(t, adcs_expired_basis);
  tcase_add_test(t, adcs_discovers_the_ca);
  tcase_add_test(t, adcs_never_submits_twice);
  tcase_add_test(t, adcs_lost_reply_retrieves_by_request_id);
  tcase_add_test(t, adcs_transient_failure_may_resubmit);
  tcase_add_test(t, adcs_whatif);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return wt_main(suite()); }
