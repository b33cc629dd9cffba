/* test_windows_sql.c — the shipped runbooks/windows-sql-server.json, its
 * Windows steps with their own params in the engine's order against the
 * simulated target of helpers/win_fixture.h: the thumbprint in the
 * instance's SuperSocketNetLib\Certificate (SQL Server writes it in
 * lowercase, and renewd keeps that), the key ACL for the SQL Server
 * service account, the restart, the prune; then the rollback. tls.verify
 * runs on the orchestrator and has its own tests (test_tls_plugin). */
#include "win_fixture.h"

#define SQL_KEY                                                                                    \
  "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib"

static json_t *runbook;

/* The params of the shipped runbook's step of this type, as JSON text. */
static char *params_of(const char *type) {
  const json_t *st;
  size_t i;
  json_array_foreach(json_object_get(runbook, "steps"), i, st) {
    if (!strcmp(P(st, "type"), type))
      return json_dumps(json_object_get(st, "params"), JSON_COMPACT);
  }
  ck_abort_msg("the SQL runbook has no %s step", type);
  return NULL;
}

static void lower(char *s) {
  for (; *s; s++)
    *s = (char)tolower((unsigned char)*s);
}

START_TEST(sql_server_renewal_and_rollback) {
  json_error_t je;
  char *acl, *reg, *svc, *prune, old_lc[41], new_lc[41], k[1300], kp[600];
  json_t *sections;
  runbook = json_load_file(SOURCE_DIR "/runbooks/windows-sql-server.json", 0, &je);
  ck_assert_msg(runbook != NULL, "%s", je.text);
  /* the runbook's own certificate and issuer sections, its template
   * renamed to the one the test certificates carry */
  sections = json_pack("{s:O, s:O}", "certificate", json_object_get(runbook, "certificate"),
                       "issuer", json_object_get(runbook, "issuer"));
  json_object_set_new(json_object_get(sections, "certificate"), "template",
                      json_string("CEPEncryption"));
  {
    char *t = json_dumps(sections, JSON_COMPACT);
    wt_new(t);
    free(t);
  }
  json_decref(sections);
  store_add(&OLD, 1, "CNG");
  W->issues = &NEW;
  W->submit_text = fixture_text("certreq-submit-issued.txt");
  acl = params_of("windows.key_acl");
  reg = params_of("windows.registry_thumbprint");
  svc = params_of("windows.service");
  prune = params_of("windows.prune_duplicates");
  ck_assert_ptr_nonnull(strstr(reg, "MSSQL16.MSSQLSERVER"));
  snprintf(old_lc, sizeof old_lc, "%s", OLD.thumb);
  lower(old_lc);
  snprintf(new_lc, sizeof new_lc, "%s", NEW.thumb);
  lower(new_lc);
  json_object_set_new(W->reg, SQL_KEY "\\Certificate", json_pack("{s:s, s:s}", "kind", "String", "text", old_lc));
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  json_object_set(W->facts, "expect", json_object_get(W->facts, "new_cert"));
  OK(&windows_kind_install, RD_PHASE_APPLY, NULL);
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, acl);
  OK(&windows_kind_key_acl, RD_PHASE_VERIFY, acl);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, reg);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_VERIFY, reg);
  OK(&windows_kind_service, RD_PHASE_APPLY, svc);
  OK(&windows_kind_service, RD_PHASE_VERIFY, svc);
  OK(&windows_kind_prune_duplicates, RD_PHASE_APPLY, prune);
  /* the instance now names the new certificate, in SQL Server's lowercase */
  ck_assert_str_eq(P(json_object_get(W->reg, SQL_KEY "\\Certificate"), "text"), new_lc);
  snprintf(k, sizeof k, "%s|NT Service\\MSSQLSERVER", store_key_path(NEW.thumb, kp, sizeof kp));
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x120089);
  ck_assert_ptr_null(store_get(OLD.thumb));
  /* roll back, last first */
  OK(&windows_kind_prune_duplicates, RD_PHASE_ROLLBACK, prune);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_ROLLBACK, reg);
  OK(&windows_kind_key_acl, RD_PHASE_ROLLBACK, acl);
  OK(&windows_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert_str_eq(P(json_object_get(W->reg, SQL_KEY "\\Certificate"), "text"), old_lc);
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  ck_assert_ptr_null(store_get(NEW.thumb));
  free(acl);
  free(reg);
  free(svc);
  free(prune);
  json_decref(runbook);
}
END_TEST

int main(void) {
  Suite *s = suite_create("windows_sql");
  TCase *tc = wt_tcase("sql");
  tcase_add_test(tc, sql_server_renewal_and_rollback);
  suite_add_tcase(s, tc);
  return wt_main(s);
}
