/* test_windows_kinds.c — the windows step kinds that change the target
 * (install, registry_thumbprint, key_acl, prune_duplicates, service,
 * event_verify, iis_binding) through probe -> apply -> verify -> rollback,
 * and a whole NDES renewal with its rollback, against the simulated target
 * of helpers/win_fixture.h. */
#include "win_fixture.h"

/* ------------------------------------------------------------ install */

START_TEST(install_cycle) {
  ndes();
  inventory();
  W->whatif = 1;
  OK(&windows_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_str_eq(change_field(0, "new"), "(new certificate)");
  W->whatif = 0;
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  json_object_set(W->facts, "expect", json_object_get(W->facts, "new_cert"));
  OK(&windows_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "in place with its private key"));
  OK(&windows_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_str_eq(P(json_object_get(W->journal, "windows.install"), "new"), NEW.thumb);
  ck_assert_str_eq(P(json_object_get(W->journal, "windows.install"), "old"), OLD.thumb);
  OK(&windows_kind_install, RD_PHASE_VERIFY, NULL);
  OK(&windows_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert_ptr_null(store_get(NEW.thumb));
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  EXPECT(&windows_kind_install, RD_PHASE_VERIFY, NULL, RD_EVERIFY);
  /* without the old one the new one stays */
  store_add(&NEW, 1, "CNG");
  store_del(OLD.thumb);
  EXPECT(&windows_kind_install, RD_PHASE_ROLLBACK, NULL, RD_ESTATE);
  ck_assert_ptr_nonnull(store_get(NEW.thumb));
  /* a new certificate without its key is not installed */
  json_object_set_new(store_get(NEW.thumb), "has_key", json_false());
  EXPECT(&windows_kind_install, RD_PHASE_APPLY, NULL, RD_ESTATE);
  ck_assert_ptr_nonnull(strstr(o_msg, "has no private key"));
}
END_TEST

/* ------------------------------------------------------------ registry */

#define REG_SHA1 "{\"key\": \"" "HKLM\\\\SOFTWARE\\\\Microsoft\\\\Cryptography\\\\MSCEP\\\\Modules\\\\NDESPolicy" \
  "\", \"value\": \"NDESCertThumbprint\", \"format\": \"sha1\", \"kind\": \"REG_SZ\"}"
#define REG_SERIAL "{\"key\": \"" "HKLM\\\\SOFTWARE\\\\Microsoft\\\\Microsoft Operations Manager\\\\3.0\\\\Machine Settings" \
  "\", \"value\": \"ChannelCertificateSerialNumber\", \"format\": \"serial_reversed\", \"kind\": \"REG_BINARY\"}"

static void lower(const char *in, char *out) {
  size_t i;
  for (i = 0; in[i]; i++)
    out[i] = (char)tolower((unsigned char)in[i]);
  out[i] = 0;
}

START_TEST(registry_thumbprint_cycle) {
  char old_l[41], new_l[41];
  const json_t *p = NULL;
  ndes();
  lower(OLD.thumb, old_l);
  lower(NEW.thumb, new_l);
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "String", "text", old_l));
  inventory();
  /* whatif, before the issuer */
  W->whatif = 1;
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1);
  ck_assert_uint_eq(nchanges(), 1);
  ck_assert_str_eq(change_field(0, "old"), old_l);
  ck_assert_str_eq(change_field(0, "new"), "(new certificate)");
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1, RD_EWHATIF);
  W->whatif = 0;
  issued(&NEW);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1);
  ck_assert_str_eq(change_field(0, "new"), new_l); /* the old value's case */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), new_l);
  ck_assert_str_eq(P(json_object_get(W->journal, "registry:" NDES_KEY "\\NDESCertThumbprint"), "found"),
                   old_l);
  ran("windows.registry.set", &p);
  ck_assert_str_eq(P(p, "expect"), old_l); /* the write is guarded */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_VERIFY, REG_SHA1);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1); /* idempotent */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_ROLLBACK, REG_SHA1);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), old_l);
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_VERIFY, REG_SHA1, RD_EVERIFY);
}
END_TEST

START_TEST(registry_guard) {
  ndes();
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "String", "text", PLAIN.thumb));
  inventory();
  issued(&NEW);
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1, RD_ESTATE);
  ck_assert_ptr_nonnull(strstr(o_msg, "renewd does not overwrite a value it cannot account for"));
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1, RD_ESTATE);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), PLAIN.thumb);
  ck_assert_int_eq(ran("windows.registry.set", NULL), 0);
  /* wrong type, missing value */
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "Binary", "hex", OLD.thumb));
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1, RD_ESTATE);
  ck_assert_ptr_nonnull(strstr(o_msg, "is Binary, not REG_SZ"));
  json_object_clear(W->reg);
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1, RD_ENOTFOUND);
  /* remediate: old and new are the live certificate; a drifted value is repaired */
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "String", "text", PLAIN.thumb));
  json_object_set(W->facts, "expect", json_object_get(W->facts, "cert"));
  json_object_set(W->facts, "new_cert", json_object_get(W->facts, "cert"));
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1);
  ck_assert_str_eq(change_field(0, "new"), OLD.thumb);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), OLD.thumb);
}
END_TEST

/* SCOM: ChannelCertificateSerialNumber holds the serial's bytes reversed,
 * sign byte included. Serial 00FF01 (tests/fixtures/x509/v2.crt) is
 * written as the bytes 01 FF 00. */
START_TEST(registry_serial_reversed) {
  size_t n = 0;
  unsigned char *der = tu_read_fixture("x509/v2.crt", &n);
  json_t *v2 = NULL;
  const json_t *p = NULL;
  ck_assert_ptr_nonnull(der);
  ck_assert_int_eq(rd_x509_facts_from_bytes(der, n, &v2), 0);
  free(der);
  ck_assert_str_eq(P(v2, "serial"), "FF01");
  ck_assert_str_eq(P(v2, "serial_reversed"), "01FF00");
  wt_new("{\"certificate\": {\"template_oid\": \"" V2_OID "\"}}");
  store_add(&WEB_OLD, 1, "CNG"); /* serial 0x00FF01 as well */
  ck_assert_str_eq(P(WEB_OLD.facts, "serial_reversed"), "01FF00");
  json_object_set_new(W->reg, SCOM_KEY "\\ChannelCertificateSerialNumber",
                      json_pack("{s:s, s:s}", "kind", "Binary", "hex", "01FF00"));
  inventory();
  json_object_set_new(W->facts, "new_cert", v2); /* fixture v2 plays the renewed one here */
  json_object_set(W->facts, "expect", v2);
  json_object_set_new(v2, "serial_reversed", json_string("0220AB")); /* renewed serial AB2002 */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SERIAL);
  ck_assert_str_eq(change_field(0, "old"), "01 FF 00");
  ck_assert_str_eq(change_field(0, "new"), "02 20 AB");
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SERIAL);
  ran("windows.registry.set", &p);
  ck_assert_str_eq(P(p, "kind"), "REG_BINARY");
  ck_assert_str_eq(P(p, "expect"), "01FF00");
  ck_assert_str_eq(P(p, "new"), "0220AB");
  OK(&windows_kind_registry_thumbprint, RD_PHASE_VERIFY, REG_SERIAL);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_ROLLBACK, REG_SERIAL);
  ck_assert_str_eq(P(json_object_get(W->reg, SCOM_KEY "\\ChannelCertificateSerialNumber"), "hex"),
                   "01FF00");
  /* the real x509 value of the fixture goes through unchanged */
  json_object_set_new(v2, "serial_reversed", json_string("01FF00"));
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SERIAL);
  ck_assert_ptr_nonnull(strstr(o_msg, "already 01 FF 00"));
}
END_TEST

/* ------------------------------------------------------------ key ACL */

#define ACL "{\"account\": \"CORP\\\\svc_ndes\", \"rights\": \"read\"}"

START_TEST(key_acl_cycle) {
  char k[1300], kp[600];
  ndes();
  store_add(&NEW, 1, "CNG");
  inventory();
  W->whatif = 1;
  OK(&windows_kind_key_acl, RD_PHASE_PROBE, ACL); /* before the issuer */
  ck_assert_str_eq(change_field(0, "new"), "Read, Synchronize");
  W->whatif = 0;
  issued(&NEW);
  OK(&windows_kind_key_acl, RD_PHASE_PROBE, ACL);
  ck_assert_str_eq(change_field(0, "old"), "none");
  ck_assert_ptr_nonnull(strstr(change_field(0, "what"), "\\Crypto\\Keys\\"));
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, ACL);
  snprintf(k, sizeof k, "%s|%s", store_key_path(NEW.thumb, kp, sizeof kp), ACCOUNT);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x120089);
  OK(&windows_kind_key_acl, RD_PHASE_VERIFY, ACL);
  OK(&windows_kind_key_acl, RD_PHASE_ROLLBACK, ACL);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0);
  EXPECT(&windows_kind_key_acl, RD_PHASE_VERIFY, ACL, RD_EVERIFY);
  /* rights that were there before renewd stay after a rollback */
  json_object_set_new(W->acl, k, json_integer(0x1F01FF));
  json_object_clear(W->journal);
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, ACL);
  ck_assert_int_eq(ran("windows.key_acl.set", NULL), 2); /* grant, revoke: none now */
  OK(&windows_kind_key_acl, RD_PHASE_ROLLBACK, ACL);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x1F01FF);
  /* an account the target cannot resolve */
  EXPECT(&windows_kind_key_acl, RD_PHASE_PROBE, "{\"account\": \"CORP\\\\nobody\"}", RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o_msg, "cannot be resolved"));
}
END_TEST

/* ------------------------------------------------------------ prune */

#define PRUNE "{\"match\": \"template\", \"backup_dir\": \"C:\\\\ProgramData\\\\renewd\\\\backup\"}"

START_TEST(prune_cycle) {
  const json_t *p = NULL;
  ndes();
  store_add(&NEWER, 1, "CNG"); /* expires after the new one: kept */
  inventory();
  W->whatif = 1;
  OK(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE);
  ck_assert_ptr_nonnull(strstr(o_msg, "once it is in place"));
  W->whatif = 0;
  store_add(&NEW, 1, "CNG");
  issued(&NEW);
  OK(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE);
  ck_assert_uint_eq(nchanges(), 2); /* OLD and DUP, not PLAIN, NEW or NEWER */
  ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(o_result, "detail"), "kept")), 1);
  OK(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE);
  ran("windows.prune.apply", &p);
  ck_assert_str_eq(P(p, "new"), NEW.thumb);
  ck_assert_uint_eq(json_array_size(json_object_get(p, "remove")), 2);
  ck_assert_ptr_null(store_get(OLD.thumb));
  ck_assert_ptr_null(store_get(DUP.thumb));
  ck_assert_ptr_nonnull(store_get(NEW.thumb));
  ck_assert_ptr_nonnull(store_get(NEWER.thumb));
  ck_assert_ptr_nonnull(store_get(PLAIN.thumb));
  ck_assert_uint_eq(json_object_size(W->backups), 2);
  OK(&windows_kind_prune_duplicates, RD_PHASE_VERIFY, PRUNE);
  OK(&windows_kind_prune_duplicates, RD_PHASE_ROLLBACK, PRUNE);
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  ck_assert_ptr_nonnull(store_get(DUP.thumb));
  ck_assert(json_is_true(json_object_get(store_get(OLD.thumb), "has_key")));
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_VERIFY, PRUNE, RD_EVERIFY);
}
END_TEST

START_TEST(prune_refuses) {
  ndes();
  inventory();
  /* no new certificate: nothing is superseded */
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE, RD_ESTATE);
  /* the new certificate is not in the store with its key: the target refuses */
  store_add(&NEW, 0, "CNG");
  issued(&NEW);
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE, RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o_msg, "nothing was removed"));
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  /* the rollback of that restores nothing and fails on nothing */
  OK(&windows_kind_prune_duplicates, RD_PHASE_ROLLBACK, PRUNE);
  /* a certificate without a template cannot be matched by template */
  wt_free();
  ndes();
  store_add(&PLAIN, 1, "CNG");
  issued(&PLAIN);
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE, RD_ECONFIG);
}
END_TEST

/* ------------------------------------------------------------ service, events */

#define EV1                                                                                        \
  "{\"log\": \"Application\", \"event_id\": 1, \"within\": \"10m\", "                                 \
  "\"provider\": \"Microsoft-Windows-NetworkDeviceEnrollmentService\"}"

START_TEST(service_then_event) {
  char *ev = fixture_text("events.json");
  json_t *all = json_loads(ev, 0, NULL), *old_ev;
  free(ev);
  ndes();
  /* an Event 1 from before the restart must not count */
  old_ev = json_deep_copy(json_object_get(all, "ndes_started"));
  json_object_set_new(old_ev, "time", json_integer(W->clock - 3600));
  json_array_append_new(W->events, old_ev);
  OK(&windows_kind_event_verify, RD_PHASE_PROBE, EV1);
  ck_assert_ptr_nonnull(strstr(o_msg, "would wait up to 600 s"));
  OK(&windows_kind_service, RD_PHASE_PROBE, "{\"action\": \"iisreset\"}");
  ck_assert_str_eq(change_field(0, "old"), "Running");
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(W->facts, "windows_restart"), "at")),
                   W->clock - 5);
  EXPECT(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1, RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o_msg, "no event 1 from Microsoft-Windows-NetworkDeviceEnrollmentService "
                                      "in Application within 600 s after the restart"));
  /* another application's Event 1 after the restart does not count */
  W->restart_event = "foreign_event_1";
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  EXPECT(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1, RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o_msg, "no event 1 from Microsoft-Windows-NetworkDeviceEnrollmentService"));
  /* NDES logs Event 1 after the next restart */
  W->restart_event = "ndes_started";
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  OK(&windows_kind_service, RD_PHASE_VERIFY, "{\"action\": \"iisreset\"}");
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1);
  ck_assert_ptr_nonnull(strstr(o_msg, "started successfully"));
  /* SCOM: 20053 from its provider in Operations Manager */
  W->restart_event = "scom_cert_loaded";
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"service\": \"HealthService\", \"action\": \"restart\"}");
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY,
     "{\"log\": \"Operations Manager\", \"event_id\": 20053, \"provider\": \"OpsMgr Connector\"}");
  EXPECT(&windows_kind_event_verify, RD_PHASE_VERIFY,
         "{\"log\": \"Operations Manager\", \"event_id\": 20053, \"provider\": \"Other\"}", RD_EVERIFY);
  EXPECT(&windows_kind_event_verify, RD_PHASE_PROBE, "{\"log\": \"Nope\", \"event_id\": 1, \"provider\": \"x\"}",
         RD_ENOTFOUND);
  EXPECT(&windows_kind_service, RD_PHASE_PROBE, "{\"service\": \"Missing\"}", RD_ENOTFOUND);
  /* whatif: probes only */
  W->whatif = 1;
  EXPECT(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}", RD_EWHATIF);
  json_decref(all);
}
END_TEST

/* ------------------------------------------------------------ IIS */

#define IIS "{\"site\": \"Default Web Site\", \"protocol\": \"https\", \"port\": 443}"

START_TEST(iis_cycle) {
  wt_new("{\"certificate\": {\"template\": \"ConfigMgrWebServerCertificates\", \"template_oid\": \"" V2_OID "\"}}");
  store_add(&WEB_OLD, 1, "CNG");
  json_object_set_new(store_get(WEB_OLD.thumb), "template_hint",
                      json_string("Template=ConfigMgrWebServerCertificates(" V2_OID ")"));
  snprintf(W->iis_hash, sizeof W->iis_hash, "%s", WEB_OLD.thumb);
  inventory();
  OK(&windows_kind_iis_binding, RD_PHASE_PROBE, IIS);
  ck_assert_str_eq(change_field(0, "new"), "(new certificate)");
  store_add(&WEB_NEW, 1, "CNG");
  issued(&WEB_NEW);
  OK(&windows_kind_iis_binding, RD_PHASE_APPLY, IIS);
  ck_assert_str_eq(W->iis_hash, WEB_NEW.thumb);
  OK(&windows_kind_iis_binding, RD_PHASE_VERIFY, IIS);
  OK(&windows_kind_iis_binding, RD_PHASE_ROLLBACK, IIS);
  ck_assert_str_eq(W->iis_hash, WEB_OLD.thumb);
  /* bound to something else: left alone */
  snprintf(W->iis_hash, sizeof W->iis_hash, "%s", PLAIN.thumb);
  json_object_clear(W->journal);
  EXPECT(&windows_kind_iis_binding, RD_PHASE_APPLY, IIS, RD_ESTATE);
  ck_assert_str_eq(W->iis_hash, PLAIN.thumb);
  W->iis_count = 2;
  EXPECT(&windows_kind_iis_binding, RD_PHASE_PROBE, IIS, RD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(o_msg, "add \"host\""));
}
END_TEST

/* ------------------------------------------------------------ a renewal */

/* The NDES runbook's steps in the engine's order, against one target:
 * inventory, issue, install, key ACL, prune, iisreset, Event 1; then the
 * rollback of all of it, last first. */
START_TEST(ndes_renewal_and_rollback) {
  char k[1300], kp[600];
  ndes();
  W->restart_event = "ndes_started";
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  json_object_set(W->facts, "expect", json_object_get(W->facts, "new_cert"));
  OK(&windows_kind_install, RD_PHASE_APPLY, NULL);
  OK(&windows_kind_install, RD_PHASE_VERIFY, NULL);
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, ACL);
  OK(&windows_kind_key_acl, RD_PHASE_VERIFY, ACL);
  OK(&windows_kind_prune_duplicates, RD_PHASE_APPLY, "{\"match\": \"template\"}");
  OK(&windows_kind_prune_duplicates, RD_PHASE_VERIFY, "{\"match\": \"template\"}");
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1);
  ck_assert_uint_eq(json_array_size(W->store), 2); /* NEW and PLAIN */
  snprintf(k, sizeof k, "%s|%s", store_key_path(NEW.thumb, kp, sizeof kp), ACCOUNT);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x120089);
  /* roll back */
  OK(&windows_kind_prune_duplicates, RD_PHASE_ROLLBACK, "{\"match\": \"template\"}");
  OK(&windows_kind_key_acl, RD_PHASE_ROLLBACK, ACL);
  OK(&windows_kind_install, RD_PHASE_ROLLBACK, NULL);
  OK(&adcs_kind_issue, RD_PHASE_ROLLBACK, NULL);
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  json_object_set(W->facts, "expect", json_object_get(W->facts, "cert"));
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1);
  ck_assert_ptr_null(store_get(NEW.thumb));
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  ck_assert_ptr_nonnull(store_get(DUP.thumb));
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("windows_kinds");
  TCase *t;
  t = wt_tcase("kinds");
  tcase_add_test(t, install_cycle);
  tcase_add_test(t, registry_thumbprint_cycle);
  tcase_add_test(t, registry_guard);
  tcase_add_test(t, registry_serial_reversed);
  tcase_add_test(t, key_acl_cycle);
  tcase_add_test(t, prune_cycle);
  tcase_add_test(t, prune_refuses);
  tcase_add_test(t, service_then_event);
  tcase_add_test(t, iis_cycle);
  tcase_add_test(t, ndes_renewal_and_rollback);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return wt_main(suite()); }
