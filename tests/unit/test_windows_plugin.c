/* test_windows_plugin.c — the windows plugin (windows.* and adcs.issue)
 * without Windows: the descriptor, the scripts as they travel, parameter
 * validation and the certreq/certutil parsers. test_windows_issue.c has
 * inventory and adcs.issue, test_windows_kinds.c the other step kinds; the
 * simulated target they share is in helpers/win_fixture.h.
 *
 * Windows cannot run here. What runs for real: every step kind's C code —
 * parameter validation, the certreq/certutil parsers (over the documented
 * outputs in tests/fixtures/windows), the store selection, the decisions,
 * the journal records — and orchestrator/transport/remote.c building the PowerShell
 * command of every script with its parameters (rd_remote_build) and parsing
 * the replies (rd_remote_parse_windows). What is simulated: the target. A
 * host API (helpers/win_host.c) answers remote() with the JSON document each
 * script returns on Windows (its contract is in plugins/windows/ps/NAME.ps1),
 * computed from a small model of the machine (certificate store, REQUEST
 * store, registry, key ACLs, services, event log, IIS binding, the CA).
 * The PowerShell itself is checked by the parser only: the test ps_texts
 * writes every built script to BUILD_DIR/ps/ for tests/e2e/windows_ps_parse.sh.
 * Certificates are made here with OpenSSL (CA-signed, with v1 template name
 * or v2 template OID extensions, chosen validity).
 */
#include "plugin_module.h"
#include "win_fixture.h"

/* ------------------------------------------------------------ plugin */

START_TEST(descriptor) {
  const rd_plugin *p = windows_plugin();
  rd_registry *r = NULL;
  char err[512];
  size_t n = 0;
  ck_assert_uint_eq(p->magic, RD_PLUGIN_MAGIC);
  ck_assert_str_eq(p->name, "windows");
  for (size_t i = 0; p->kinds[i]; i++, n++) {
    ck_assert(!strncmp(p->kinds[i]->type, "windows.", 8) || !strcmp(p->kinds[i]->type, "adcs.issue"));
    ck_assert_ptr_nonnull(p->kinds[i]->validate);
    ck_assert_ptr_nonnull(p->kinds[i]->probe);
    ck_assert_int_eq(p->kinds[i]->platform, RD_PLATFORM_WINDOWS);
  }
  ck_assert_uint_eq(n, 12); /* with windows.doctor */
  ck_assert_uint_eq(windows_kind_inventory.flags, RD_KIND_INVENTORY);
  ck_assert_uint_eq(adcs_kind_issue.flags, RD_KIND_ISSUER);
  ck_assert_uint_eq(windows_kind_install.flags, RD_KIND_INSTALL);
  ck_assert_uint_eq(windows_kind_service.flags, RD_KIND_RESTART);
  ck_assert_uint_eq(windows_kind_event_verify.flags, RD_KIND_CHECK);
  ck_assert_int_eq(rd_registry_new(&r), 0);
  ck_assert_msg(rd_registry_add(r, p, "static", err, sizeof err) == 0, "%s", err);
  ck_assert_ptr_eq(rd_registry_find(r, "adcs.issue"), &adcs_kind_issue);
  ck_assert_ptr_eq(rd_registry_find(r, "windows.registry_thumbprint"),
                   &windows_kind_registry_thumbprint);
  rd_registry_free(r);
}
END_TEST

START_TEST(module_entry) { pm_check_entry("windows", 9); }
END_TEST

/* windows_ps.h is generated at build time from plugins/windows/ps/NAME.ps1
 * (CMake, into BUILD_DIR/generated): the build's copy must be current, i.e.
 * the build knows every script it embeds, and none is committed. */
START_TEST(scripts_embedded_current) {
  char out[600], cmd[1600];
  snprintf(out, sizeof out, "%s/windows_ps.h.check", BUILD_DIR);
  snprintf(cmd, sizeof cmd, "sh '%s/plugins/windows/ps/embed.sh' '%s'", SOURCE_DIR, out);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s/generated/windows/windows_ps.h'", out, BUILD_DIR);
  ck_assert_msg(system(cmd) == 0, "the build's windows_ps.h is stale: rebuild");
  snprintf(cmd, sizeof cmd, "test ! -e '%s/plugins/windows/windows_ps.h'", SOURCE_DIR);
  ck_assert_msg(system(cmd) == 0, "plugins/windows/windows_ps.h: a committed copy shadows the build's");
  unlink(out);
}
END_TEST

/* The PowerShell each script becomes (remote.c's prelude + lib + script),
 * decoded back from -EncodedCommand (or the upload), into BUILD_DIR/ps/
 * for tests/e2e/windows_ps_parse.sh; the task script too (it runs as a
 * file of its own, without the prelude). */
static void write_text(const char *dir, const char *name, const char *text, size_t len) {
  char path[1200];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s.ps1", dir, name);
  ck_assert_ptr_nonnull(f = fopen(path, "wb"));
  ck_assert_uint_eq(fwrite(text, 1, len, f), len);
  fclose(f);
}

START_TEST(ps_texts) {
  char dir[1024], err[256];
  size_t n = 0;
  json_t *params = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s, s:i, s:b}", "store", "LocalMachine\\My",
                             "thumbprint", OLD.thumb, "thumbprints", OLD.thumb, "nonce",
                             "0123456789abcdef", "config", CONFIG, "account", "CORP\\svc'\"$(x)",
                             "wait", 120, "fresh", 1);
  snprintf(dir, sizeof dir, "%s/ps", BUILD_DIR);
  mkdir(dir, 0755);
  for (size_t i = 0; windows_script_sets[i]; i++)
    for (size_t j = 0; windows_script_sets[i][j]; j++, n++) {
      const rd_script *sc = windows_script_sets[i][j];
      rd_remote_cmd c;
      const char *pre = "powershell.exe -NoProfile -NonInteractive -EncodedCommand ";
      ck_assert_int_eq(sc->platform, RD_PLATFORM_WINDOWS);
      ck_assert_msg(rd_remote_build(sc, params, 0, &c, err, sizeof err) == 0, "%s: %s", sc->name, err);
      if (c.upload_path) {
        ck_assert_uint_gt(c.upload_len, 3);
        write_text(dir, sc->name, c.upload_data + 3, c.upload_len - 3); /* after the BOM */
      } else {
        size_t blen = 0;
        unsigned char *u16;
        char *t;
        ck_assert(!strncmp(c.command, pre, strlen(pre)));
        ck_assert_int_eq(rd_base64_decode_str(c.command + strlen(pre), &u16, &blen), 0);
        ck_assert_uint_eq(blen % 2, 0);
        t = malloc(blen / 2 + 1);
        for (size_t k = 0; k < blen / 2; k++) {
          ck_assert_msg(u16[2 * k + 1] == 0, "%s: non-ASCII text", sc->name);
          t[k] = (char)u16[2 * k];
        }
        t[blen / 2] = 0;
        ck_assert_ptr_nonnull(strstr(t, "function rdw_thumb"));
        write_text(dir, sc->name, t, blen / 2);
        free(t);
        free(u16);
      }
      rd_remote_cmd_free(&c);
    }
  write_text(dir, "adcs.task_inner", windows_task_inner_ps, strlen(windows_task_inner_ps));
  json_decref(params);
  ck_assert_uint_ge(n, 18);
}
END_TEST

/* ------------------------------------------------------------ validation */

typedef struct vcase {
  const rd_step_kind *kind;
  const char *params;
  const char *error; /* NULL: valid; else a piece of the sentence */
} vcase;

START_TEST(validate_params) {
  static const vcase cases[] = {
      {&windows_kind_inventory, "{}", NULL},
      {&windows_kind_inventory, "{\"store\": \"My\"}", "takes no parameters"},
      {&adcs_kind_issue, "{}", NULL},
      {&adcs_kind_issue, "{\"config\": \"x\"}", "takes no parameters"},
      {&windows_kind_install, "{}", NULL},
      {&windows_kind_install, "[]", "params must be an object"},
      {&windows_kind_key_acl, "{\"account\": \"CORP\\\\svc_ndes\", \"rights\": \"read\"}", NULL},
      {&windows_kind_key_acl, "{\"account\": \"NT AUTHORITY\\\\SYSTEM\", \"rights\": \"Read\"}", NULL},
      {&windows_kind_key_acl, "{\"account\": \"CORP\\\\gmsa_ndes$\", \"rights\": \"full\"}", NULL},
      {&windows_kind_key_acl, "{\"rights\": \"read\"}", "\"account\" is required"},
      {&windows_kind_key_acl, "{\"account\": \"CORP\\\\a\\\\b\"}", "must be an account name"},
      {&windows_kind_key_acl, "{\"account\": \"x\", \"rights\": \"write\"}", "\"rights\" must be"},
      {&windows_kind_key_acl, "{\"account\": \"x\", \"mode\": \"0600\"}", "unknown parameter \"mode\""},
      {&windows_kind_prune_duplicates, "{\"match\": \"template\"}", NULL},
      {&windows_kind_prune_duplicates, "{\"match\": \"subject\", \"backup_dir\": \"D:\\\\bak\"}", NULL},
      {&windows_kind_prune_duplicates, "{\"match\": \"issuer\"}", "\"match\" must be one of"},
      {&windows_kind_prune_duplicates, "{\"backup_dir\": \"bak\"}", "absolute local path"},
      {&windows_kind_prune_duplicates, "{\"backup_dir\": \"C:\\\\a\\\\..\\\\Windows\"}", "absolute local path"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"" "HKLM\\\\SOFTWARE\\\\X" "\", \"value\": \"NDESCertThumbprint\", \"format\": \"sha1\", \"kind\": \"REG_SZ\"}", NULL},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM:\\\\SOFTWARE\\\\X\", \"value\": \"ChannelCertificateSerialNumber\", \"format\": \"serial_reversed\"}", NULL},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKCU\\\\X\", \"value\": \"v\", \"format\": \"sha1\"}", "must be a path under HKLM"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM\\\\X\", \"value\": \"v\", \"format\": \"md5\"}", "\"format\" must be one of"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM\\\\X\", \"value\": \"v\", \"format\": \"sha1\", \"kind\": \"REG_DWORD\"}",
       "\"kind\" must be"},
      {&windows_kind_registry_thumbprint, "{\"key\": \"HKLM\\\\X\", \"format\": \"sha1\"}",
       "\"value\" is required"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM\\\\X\", \"value\": \"a\\\\b\", \"format\": \"sha1\"}", "value name, not a path"},
      {&windows_kind_service, "{\"action\": \"iisreset\"}", NULL},
      {&windows_kind_service, "{\"service\": \"HealthService\", \"action\": \"restart\", \"timeout\": 300}", NULL},
      {&windows_kind_service, "{\"service\": \"HealthService\"}", NULL},
      {&windows_kind_service, "{}", "give \"service\""},
      {&windows_kind_service, "{\"action\": \"iisreset\", \"service\": \"W3SVC\"}", "takes no \"service\""},
      {&windows_kind_service, "{\"service\": \"a;b\"}", "must be a service name"},
      {&windows_kind_service, "{\"service\": \"x\", \"action\": \"reload\"}", "\"action\" must be"},
      {&windows_kind_service, "{\"service\": \"x\", \"timeout\": 0}", "\"timeout\" must be"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 1, \"within\": \"10m\", "
       "\"provider\": \"Microsoft-Windows-NetworkDeviceEnrollmentService\"}", NULL},
      {&windows_kind_event_verify,
       "{\"log\": \"Operations Manager\", \"event_id\": 20053, \"provider\": \"OpsMgr Connector\"}", NULL},
      /* an event ID without its provider: any application's Event 1 would count */
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 1, \"within\": \"10m\"}",
       "windows.event_verify: \"provider\" is required: name the provider that logs event 1 (NDES "
       "Event 1: \"Microsoft-Windows-NetworkDeviceEnrollmentService\"; SCOM 20053: \"OpsMgr "
       "Connector\"), or an event with that ID from any other application would count"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 1, \"provider\": \"Microsoft-*\"}",
       "without the wildcards"},
      {&windows_kind_event_verify, "{\"event_id\": 1, \"provider\": \"x\"}", "\"log\" is required"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 70000, \"provider\": \"x\"}",
       "\"event_id\" must be"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 1, \"within\": \"2d\", "
       "\"provider\": \"x\"}", "\"within\" must be"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"id\": 1}", "unknown parameter \"id\""},
      {&windows_kind_iis_binding, "{\"site\": \"Default Web Site\", \"protocol\": \"https\", \"port\": 443}", NULL},
      {&windows_kind_iis_binding, "{\"site\": \"Default Web Site\", \"host\": \"www.corp.example\"}", NULL},
      {&windows_kind_iis_binding, "{\"port\": 443}", "\"site\" is required"},
      {&windows_kind_iis_binding, "{\"site\": \"x\", \"protocol\": \"http\"}", "\"protocol\" must be"},
      {&windows_kind_iis_binding, "{\"site\": \"x\", \"port\": 70000}", "\"port\" must be"},
      {&windows_kind_iis_binding, "{\"site\": \"x\", \"host\": \"a b\"}", "\"host\" must be"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char err[512] = "";
    json_error_t je;
    json_t *p = json_loads(cases[i].params, JSON_DECODE_ANY, &je);
    int rc;
    ck_assert_msg(p != NULL, "case %zu: %s", i, je.text);
    rc = cases[i].kind->validate(p, err, sizeof err);
    if (!cases[i].error) {
      ck_assert_msg(rc == 0, "case %zu (%s %s): %s", i, cases[i].kind->type, cases[i].params, err);
    } else {
      ck_assert_msg(rc == RD_EINVAL, "case %zu (%s %s) passed", i, cases[i].kind->type, cases[i].params);
      ck_assert_msg(strstr(err, cases[i].error) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                    cases[i].error);
      ck_assert_msg(!strncmp(err, cases[i].kind->type, strlen(cases[i].kind->type)),
                    "case %zu: '%s' does not name the kind", i, err);
      ck_assert_msg(!strchr(err, '\n'), "case %zu: not one line", i);
    }
    json_decref(p);
  }
}
END_TEST

/* The shipped runbooks' params, through the real validators. */
START_TEST(shipped_runbook_params) {
  const char *names[] = {"windows-configmgr-policy-module.json", "windows-iis-site.json",
                         "windows-ndes-ra.json", "windows-ndes-ra-eea.json",
                         "windows-scom-channel.json"};
  const rd_plugin *pl = windows_plugin();
  size_t checked = 0;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char path[1024];
    json_error_t je;
    json_t *rb, *st;
    size_t j;
    snprintf(path, sizeof path, "%s/runbooks/%s", SOURCE_DIR, names[i]);
    ck_assert_msg((rb = json_load_file(path, 0, &je)) != NULL, "%s: %s", path, je.text);
    json_array_foreach(json_object_get(rb, "steps"), j, st) {
      const char *type = P(st, "type");
      for (size_t k = 0; pl->kinds[k]; k++) {
        char err[512] = "";
        if (strcmp(pl->kinds[k]->type, type))
          continue;
        ck_assert_msg(pl->kinds[k]->validate(json_object_get(st, "params"), err, sizeof err) == 0,
                      "%s steps[%zu]: %s", names[i], j, err);
        checked++;
      }
    }
    json_decref(rb);
  }
  ck_assert_uint_ge(checked, 15);
}
END_TEST

/* ------------------------------------------------------------ parsers */

static void parse_fixture(const char *name, adcs_outcome *o) {
  char *t = fixture_text(name);
  adcs_parse_certreq(t, o);
  free(t);
}

START_TEST(certreq_issued) {
  adcs_outcome o;
  parse_fixture("certreq-submit-issued.txt", &o);
  ck_assert_int_eq(o.status, ADCS_ISSUED);
  ck_assert_int_eq(o.request_id, 42);
  ck_assert_str_eq(o.message, "Issued");
  ck_assert_int_eq(o.expired_basis, 0);
  parse_fixture("certreq-retrieve-issued.txt", &o);
  ck_assert_int_eq(o.status, ADCS_ISSUED);
  ck_assert_int_eq(o.request_id, -1);
}
END_TEST

START_TEST(certreq_pending) {
  adcs_outcome o;
  parse_fixture("certreq-submit-pending.txt", &o);
  ck_assert_int_eq(o.status, ADCS_PENDING);
  ck_assert_int_eq(o.request_id, 43);
  ck_assert_str_eq(o.message, "Taken Under Submission (0)");
  /* the quoted spelling alone */
  adcs_parse_certreq("RequestId: \"7\"\nCertificate request is pending: Taken Under Submission (0)\n", &o);
  ck_assert_int_eq(o.status, ADCS_PENDING);
  ck_assert_int_eq(o.request_id, 7);
  parse_fixture("certreq-retrieve-pending.txt", &o);
  ck_assert_int_eq(o.status, ADCS_PENDING);
}
END_TEST

START_TEST(certreq_denied) {
  adcs_outcome o;
  parse_fixture("certreq-submit-denied.txt", &o);
  ck_assert_int_eq(o.status, ADCS_DENIED);
  ck_assert_int_eq(o.request_id, 4);
  /* the wrapped lines are one message again */
  ck_assert_msg(strstr(o.message, "The EMail name is unavailable and cannot be added to the Subject") != NULL,
                "%s", o.message);
  ck_assert_msg(strstr(o.message, "CERTSRV_E_SUBJECT_EMAIL_REQUIRED") != NULL, "%s", o.message);
  ck_assert_str_eq(o.hresult, "0x80094812");
  ck_assert_int_eq(o.expired_basis, 0);
}
END_TEST

START_TEST(certreq_expired_basis) {
  adcs_outcome o;
  parse_fixture("certreq-submit-denied-expired.txt", &o);
  ck_assert_int_eq(o.status, ADCS_DENIED);
  ck_assert_int_eq(o.request_id, 45);
  ck_assert_int_eq(o.expired_basis, 1);
  ck_assert_str_eq(o.hresult, "0x800b0101");
  ck_assert_msg(strstr(o.message, "not within its validity period") != NULL, "%s", o.message);
}
END_TEST

START_TEST(certreq_errors) {
  adcs_outcome o;
  char msg[300];
  char *t;
  parse_fixture("certreq-submit-rpc-unavailable.txt", &o);
  ck_assert_int_eq(o.status, ADCS_FAILED);
  ck_assert_str_eq(o.hresult, "0x800706ba");
  ck_assert_msg(strstr(o.message, "RPC server is unavailable") != NULL, "%s", o.message);
  adcs_parse_certreq("", &o);
  ck_assert_int_eq(o.status, ADCS_UNKNOWN);
  adcs_parse_certreq("something else entirely\n", &o);
  ck_assert_int_eq(o.status, ADCS_UNKNOWN);
  ck_assert_str_eq(o.message, "something else entirely");
  /* certreq -new */
  t = fixture_text("certreq-new-created.txt");
  ck_assert_int_eq(adcs_parse_new(0, 1, t, msg, sizeof msg), 0);
  free(t);
  t = fixture_text("certreq-new-renewalcert-missing.txt");
  ck_assert_int_eq(adcs_parse_new(-2146885628, 0, t, msg, sizeof msg), -1);
  ck_assert_msg(strstr(msg, "CRYPT_E_NOT_FOUND") != NULL, "%s", msg);
  free(t);
}
END_TEST

START_TEST(certutil_configs) {
  char *t = fixture_text("certutil-dump-one.txt");
  json_t *a = adcs_parse_configs(t);
  ck_assert_uint_eq(json_array_size(a), 1);
  ck_assert_str_eq(json_string_value(json_array_get(a, 0)), CONFIG);
  json_decref(a);
  free(t);
  t = fixture_text("certutil-dump-two.txt");
  a = adcs_parse_configs(t);
  ck_assert_uint_eq(json_array_size(a), 2);
  ck_assert_str_eq(json_string_value(json_array_get(a, 1)), "ca02.corp.example\\Corp Policy CA");
  json_decref(a);
  free(t);
  a = adcs_parse_configs("CertUtil: No local Certification Authority; use -config option\n");
  ck_assert_uint_eq(json_array_size(a), 0);
  json_decref(a);
}
END_TEST

START_TEST(fresh_request_text) {
  json_t *f = adcs_fresh_request("CEPEncryption", "CN=ndes01-MSCEP-RA", CONFIG);
  char *t = adcs_fresh_request_text(f);
  ck_assert_uint_eq(json_array_size(json_object_get(f, "inf")), 10);
  ck_assert_ptr_nonnull(strstr(t, "Subject=\"CN=ndes01-MSCEP-RA\""));
  ck_assert_ptr_nonnull(strstr(t, "KeySpec=1"));
  ck_assert_ptr_nonnull(strstr(t, "MachineKeySet=TRUE"));
  ck_assert_ptr_nonnull(strstr(t, "[RequestAttributes] | CertificateTemplate=CEPEncryption"));
  ck_assert_ptr_nonnull(strstr(t, "certreq -submit -q -config \"" CONFIG "\" fresh.req fresh.cer"));
  ck_assert_ptr_nonnull(strstr(t, "certreq -accept -machine -q fresh.cer"));
  free(t);
  json_decref(f);
  /* the NDES RA templates are user templates: NDES is configured again */
  ck_assert(adcs_user_template("CEPEncryption") && adcs_user_template("enrollmentagentoffline") &&
            adcs_user_template("Exchange Enrollment Agent (Offline request)"));
  ck_assert(!adcs_user_template("WebServer") && !adcs_user_template(NULL));
  f = adcs_ra_procedure("CN=ndes01-MSCEP-RA, O=Corp", NULL);
  t = adcs_fresh_request_text(f);
  ck_assert_ptr_nonnull(strstr(t, "-RAName \"ndes01-MSCEP-RA\" -CAConfig \"<CA host>\\<CA name>\""));
  ck_assert_ptr_nonnull(strstr(t, "; run reg export HKLM\\SOFTWARE\\Microsoft\\Cryptography\\MSCEP"));
  free(t);
  json_decref(f);
  f = adcs_ra_procedure("CN=evil\" -X, O=Corp", CONFIG); /* a quote: the placeholder */
  t = adcs_fresh_request_text(f);
  ck_assert_ptr_nonnull(strstr(t, "-RAName \"<RA name>\""));
  free(t);
  json_decref(f);
}
END_TEST

START_TEST(thumbprints_and_paths) {
  char t[41];
  ck_assert_int_eq(win_thumb("e03bc18e84f38bc148eeb5f566d9d2cc37567b3c", t), 0);
  ck_assert_str_eq(t, "E03BC18E84F38BC148EEB5F566D9D2CC37567B3C");
  ck_assert_int_eq(win_thumb("E03BC18E84F38BC148EEB5F566D9D2CC37567B3", t), -1);
  ck_assert_int_eq(win_thumb("E03BC18E84F38BC148EEB5F566D9D2CC37567B3\"", t), -1);
  ck_assert_int_eq(win_thumb("E03BC18E84F38BC148EEB5F566D9D2CC37567B3C\"\nX", t), -1);
  ck_assert(win_abs_path("C:\\ProgramData\\renewd\\backup"));
  ck_assert(!win_abs_path("C:\\ProgramData\\..\\Windows"));
  ck_assert(!win_abs_path("\\\\server\\share"));
  ck_assert(win_hklm_ok(SCOM_KEY));
  ck_assert(!win_hklm_ok("HKLM\\"));
  ck_assert_int_eq(win_duration("10m"), 600);
  ck_assert_int_eq(win_duration("45"), 45);
  ck_assert_int_eq(win_duration("1h"), 3600);
  ck_assert_int_eq(win_duration("m"), -1);
}
END_TEST

/* issued_by selects by the issuer (the Intune connector's identity, whose
 * subject is not documented): a bare name is the issuer's CN; the valid
 * one wins over an expired one left behind, which is a duplicate. */
START_TEST(select_by_issuer) {
  const long long now = 1800000000;
  json_t *recs = json_pack(
      "[{s:s, s:s, s:s, s:I, s:I}, {s:s, s:s, s:s, s:I, s:I}, {s:s, s:s, s:s, s:I, s:I}]",
      "thumbprint", "A1", "subject", "CN=1f0e-connector", "issuer",
      "CN=Microsoft Intune ImportPFX Connector CA", "not_before", now - 400 * DAY, "not_after",
      now - DAY, /* expired, left behind */
      "thumbprint", "B2", "subject", "CN=ndes01.corp.example", "issuer", "CN=Corp Issuing CA",
      "not_before", now - 10 * DAY, "not_after", now + 300 * DAY, /* another CA's */
      "thumbprint", "C3", "subject", "CN=2a7b-connector", "issuer",
      "CN=Microsoft Intune ImportPFX Connector CA", "not_before", now - 20 * DAY, "not_after",
      now + 345 * DAY);
  win_selector sel = {.store = "LocalMachine\\My", .issued_by = "Microsoft Intune ImportPFX Connector CA"};
  json_t *dups = NULL;
  char d[200];
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, &dups), 2);
  ck_assert_uint_eq(json_array_size(dups), 1);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(dups, 0), "thumbprint")), "A1");
  json_decref(dups);
  sel.issued_by = "CN=Microsoft Intune ImportPFX Connector CA"; /* the whole DN */
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, NULL), 2);
  sel.issued_by = "Microsoft Intune"; /* a CN is matched whole */
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, NULL), -1);
  sel.issued_by = "Corp Issuing CA";
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, NULL), 1);
  win_selector_describe(&sel, d, sizeof d);
  ck_assert_str_eq(d, "issued by Corp Issuing CA");
  json_decref(recs);
}
END_TEST

/* A bare subject name is the CN as written; the listing's subject is
 * rendered RFC 2253 (x509.c), which escapes " + , ; < > \ with a
 * backslash: a CN holding them still matches its plain name. */
START_TEST(select_by_subject_escaped) {
  const long long now = 1800000000;
  json_t *recs = json_pack("[{s:s, s:s, s:I, s:I}, {s:s, s:s, s:I, s:I}]", "thumbprint", "A1",
                           "subject", "CN=gw'\\\"\u2018\u2019\u201c\u201d$(ni x)`\\+y\\, z\\;\\<\\>\\\\@'\\\"@",
                           "not_before", now - DAY, "not_after", now + DAY, "thumbprint", "B2",
                           "subject", "CN=gw", "not_before", now - DAY, "not_after", now + DAY);
  win_selector sel = {.store = "LocalMachine\\My",
                      .subject = "gw'\"\u2018\u2019\u201c\u201d$(ni x)`+y, z;<>\\@'\"@"};
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, NULL), 0);
  sel.subject = "CN=gw'\\\"\u2018\u2019\u201c\u201d$(ni x)`\\+y\\, z\\;\\<\\>\\\\@'\\\"@"; /* the DN, escaped */
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, NULL), 0);
  sel.subject = "gw";
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, NULL), 1);
  sel.subject = "gw'";
  ck_assert_int_eq(win_select(&sel, recs, (time_t)now, NULL), -1);
  json_decref(recs);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("windows_plugin");
  TCase *t;
  t = wt_tcase("plugin");
  tcase_add_test(t, descriptor);
  tcase_add_test(t, module_entry);
  tcase_add_test(t, scripts_embedded_current);
  suite_add_tcase(s, t);
  t = tcase_create("ps_texts");
  tcase_add_test(t, ps_texts);
  suite_add_tcase(s, t);
  t = tcase_create("validate");
  tcase_add_test(t, validate_params);
  tcase_add_test(t, shipped_runbook_params);
  suite_add_tcase(s, t);
  t = tcase_create("parsers");
  tcase_add_test(t, certreq_issued);
  tcase_add_test(t, certreq_pending);
  tcase_add_test(t, certreq_denied);
  tcase_add_test(t, certreq_expired_basis);
  tcase_add_test(t, certreq_errors);
  tcase_add_test(t, certutil_configs);
  tcase_add_test(t, fresh_request_text);
  tcase_add_test(t, thumbprints_and_paths);
  tcase_add_test(t, select_by_issuer);
  tcase_add_test(t, select_by_subject_escaped);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return wt_main(suite()); }
