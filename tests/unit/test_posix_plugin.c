/* test_posix_plugin.c — the posix step kinds against THIS machine through
 * localhost_api (the real remote.c prelude, /bin/sh, openssl, chmod, chown,
 * setfacl): real files in a temp dir, no mocks. Certificates come from a
 * throwaway CA made with the openssl command line once per run
 * (helpers/posix_fixture.c). This program: the descriptor, the embedded
 * scripts, posix.inventory, whatif; test_posix_install.c has install,
 * key_acl and prune; test_posix_config.c config_thumbprint, service, exec. */
#include "plugin_module.h"
#include "posix_fixture.h"

/* ------------------------------------------------------------ tests */

START_TEST(descriptor) {
  const rd_plugin *p = posix_plugin();
  rd_registry *r = NULL;
  char err[512];
  ck_assert_uint_eq(p->magic, RD_PLUGIN_MAGIC);
  ck_assert_str_eq(p->name, "posix");
  for (size_t i = 0; p->kinds[i]; i++) {
    ck_assert_int_eq(strncmp(p->kinds[i]->type, "posix.", 6), 0);
    ck_assert_ptr_nonnull(p->kinds[i]->validate);
    ck_assert_ptr_nonnull(p->kinds[i]->probe);
    ck_assert_int_eq(p->kinds[i]->platform, RD_PLATFORM_POSIX);
  }
  ck_assert_int_eq(rd_registry_new(&r), 0);
  ck_assert_msg(rd_registry_add(r, p, "static", err, sizeof err) == 0, "%s", err);
  ck_assert_ptr_eq(rd_registry_find(r, "posix.install"), &posix_kind_install);
  rd_registry_free(r);
}
END_TEST

/* The module exports the weak entry point, returning this descriptor. */
START_TEST(module_entry) { pm_check_entry("posix", 7); }
END_TEST

/* posix_sh.h is generated at build time from the scripts in plugins/posix/sh
 * (CMake, into BUILD_DIR/generated): the build's copy must be current, i.e.
 * the build knows every script it embeds, and none is committed. */
START_TEST(scripts_embedded_current) {
  char out[400];
  snprintf(out, sizeof out, "%s/posix_sh.h", px_T);
  ck_assert_int_eq(lh_sh("sh '%s/plugins/posix/sh/embed.sh' '%s'", SOURCE_DIR, out), 0);
  ck_assert_msg(lh_sh("cmp -s '%s' '%s/generated/posix/posix_sh.h'", out, BUILD_DIR) == 0,
                "the build's posix_sh.h is stale: rebuild");
  ck_assert_msg(lh_sh("test ! -e '%s/plugins/posix/posix_sh.h'", SOURCE_DIR) == 0,
                "plugins/posix/posix_sh.h: a committed copy shadows the build's");
}
END_TEST

/* --- posix.inventory --------------------------------------------------------- */

START_TEST(inventory_finds_cert) {
  char *fp = lh_sh_out("openssl x509 -in '%s' -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f", px_CERT);
  const json_t *c;
  char *mode;
  px_inventory();
  c = json_object_get(lh_facts(px_job), "cert");
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(json_string_value(json_object_get(c, "sha1")), fp);
  ck_assert_str_eq(json_string_value(json_object_get(c, "serial")), "1A2B3C");
  ck_assert_str_eq(json_string_value(json_object_get(c, "path")), px_CERT);
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_path")), px_KEY);
  ck_assert_str_eq(json_string_value(json_object_get(c, "chain_path")), px_CHAIN);
  ck_assert(json_is_true(json_object_get(c, "key_match")));
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_mode")), "0600");
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_owner")), px_me());
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_group")), px_mygroup());
  ck_assert_ptr_nonnull(json_string_value(json_object_get(c, "pem")));
  ck_assert_int_eq(json_array_size(json_object_get(c, "backups")), 0);
  ck_assert_int_eq(json_array_size(json_object_get(lh_facts(px_job), "problems")), 0);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "serial 1A2B3C"));
  /* the private key never travels: nothing of it in the facts or result */
  char *keyb64 = lh_sh_out("grep -v -- ----- '%s' | head -1", px_KEY);
  char *dump = json_dumps(lh_facts(px_job), 0), *rdump = json_dumps(px_o.result, 0);
  ck_assert_ptr_null(strstr(dump, keyb64));
  ck_assert_ptr_null(strstr(dump, "PRIVATE KEY"));
  ck_assert_ptr_null(strstr(rdump, "PRIVATE KEY"));
  free(dump);
  free(rdump);
  free(keyb64);
  /* backups are listed */
  ck_assert_int_eq(lh_sh("cp -p '%s' '%s.renewd-20240101T000000Z' && cp '%s' '%s.renewd-new.x'", px_CERT, px_CERT, px_CERT, px_CERT), 0);
  px_inventory();
  c = json_object_get(lh_facts(px_job), "cert");
  ck_assert_int_eq(json_array_size(json_object_get(c, "backups")), 1);
  mode = px_mode_of(px_KEY);
  ck_assert_str_eq(mode, "0600");
  free(mode);
  free(fp);
}
END_TEST

START_TEST(inventory_key_mismatch) {
  ck_assert_int_eq(lh_sh("cp %s '%s'", px_mpath("other.key"), px_KEY), 0);
  px_inventory();
  ck_assert(json_is_false(json_object_get(json_object_get(lh_facts(px_job), "cert"), "key_match")));
  ck_assert_ptr_nonnull(px_problem("key mismatch"));
  ck_assert_ptr_nonnull(strstr(px_o.msg, "DOES NOT MATCH"));
  /* fixed: the re-probe drops the old finding */
  ck_assert_int_eq(lh_sh("cp %s '%s'", px_mpath("old.key"), px_KEY), 0);
  px_inventory();
  ck_assert(json_is_true(json_object_get(json_object_get(lh_facts(px_job), "cert"), "key_match")));
  ck_assert_ptr_null(px_problem("key mismatch"));
}
END_TEST

/* A certificate that is not due: the bare read (one script, no key digest)
 * reports the key match as not checked, and no key finding, even for a
 * key that does not match; the due certificate's read finds it. */
START_TEST(inventory_read_skips_key) {
  const json_t *c;
  int before;
  ck_assert_int_eq(lh_sh("cp %s '%s'", px_mpath("other.key"), px_KEY), 0);
  before = lh_scripts_run(px_job);
  px_inventory_read();
  ck_assert_int_eq(lh_scripts_run(px_job), before + 1);
  c = json_object_get(lh_facts(px_job), "cert");
  ck_assert(json_is_null(json_object_get(c, "key_match")));
  ck_assert(json_is_false(json_object_get(c, "key_checked")));
  ck_assert(json_is_true(json_object_get(c, "key_exists")));
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_mode")), "0600");
  ck_assert_str_eq(json_string_value(json_object_get(c, "serial")), "1A2B3C");
  ck_assert_ptr_null(px_problem("key mismatch"));
  ck_assert_ptr_null(px_problem("unreadable key"));
  ck_assert_ptr_nonnull(strstr(px_o.msg, "key match not checked"));
  /* due: the second read is the key alone (one script), the facts stay */
  json_object_set_new(json_object_get(lh_facts(px_job), "cert"), "marker", json_true());
  px_inventory();
  ck_assert_int_eq(lh_scripts_run(px_job), before + 2);
  c = json_object_get(lh_facts(px_job), "cert");
  ck_assert(json_is_true(json_object_get(c, "marker")));
  ck_assert_ptr_nonnull(strstr(px_o.msg, "KEY DOES NOT MATCH"));
  ck_assert_ptr_nonnull(strstr(px_o.msg, "serial 1A2B3C"));
  ck_assert(json_is_false(json_object_get(c, "key_match")));
  ck_assert(json_is_true(json_object_get(c, "key_checked")));
  ck_assert_ptr_nonnull(px_problem("key mismatch"));
  /* a full read again (as a lease's re-probe does) drops the marker */
  px_inventory();
  ck_assert_int_eq(lh_scripts_run(px_job), before + 3);
  ck_assert_ptr_null(json_object_get(json_object_get(lh_facts(px_job), "cert"), "marker"));
  ck_assert_ptr_nonnull(px_problem("key mismatch"));
}
END_TEST

/* What the login user cannot see (here: a directory that is not there)
 * is asked again at once the way it always was (posix.inventory, under
 * sudo on a target, with the key match): the same findings, one more
 * script. */
START_TEST(inventory_read_falls_back) {
  int before = lh_scripts_run(px_job);
  char *d = lh_sh_out("dirname '%s'", px_CERT);
  ck_assert_int_eq(lh_sh("mv '%s' '%s.gone'", d, d), 0);
  px_inventory_read();
  ck_assert_int_eq(lh_scripts_run(px_job), before + 2);
  ck_assert_ptr_null(json_object_get(lh_facts(px_job), "cert"));
  ck_assert_ptr_nonnull(px_problem("missing certificate"));
  ck_assert_ptr_nonnull(px_problem("missing key"));
  ck_assert_int_eq(lh_sh("mv '%s.gone' '%s'", d, d), 0);
  free(d);
}
END_TEST

START_TEST(inventory_missing) {
  px_inventory();
  ck_assert_ptr_nonnull(json_object_get(lh_facts(px_job), "cert"));
  unlink(px_CERT);
  unlink(px_KEY);
  px_inventory(); /* status 0: the engine treats it as due */
  ck_assert_ptr_null(json_object_get(lh_facts(px_job), "cert"));
  ck_assert_ptr_nonnull(px_problem("missing certificate"));
  ck_assert_ptr_nonnull(px_problem("missing key"));
}
END_TEST

/* An expired certificate (made with the OpenSSL API: notAfter an hour ago). */
START_TEST(inventory_expired) {
  FILE *f = fopen(px_mpath("old.key"), "r");
  EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  X509 *x = X509_new();
  X509_NAME *n = X509_NAME_new();
  if (f)
    fclose(f);
  ck_assert_ptr_nonnull(k);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"expired", -1, -1, 0);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
  X509_set_subject_name(x, n);
  X509_set_issuer_name(x, n);
  X509_gmtime_adj(X509_getm_notBefore(x), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x), -3600);
  X509_set_pubkey(x, k);
  ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
  ck_assert_ptr_nonnull(f = fopen(px_CERT, "w"));
  PEM_write_X509(f, x);
  fclose(f);
  X509_free(x);
  X509_NAME_free(n);
  EVP_PKEY_free(k);
  px_inventory();
  ck_assert_ptr_nonnull(px_problem("expired"));
  ck_assert(json_is_true(json_object_get(json_object_get(lh_facts(px_job), "cert"), "key_match")));
}
END_TEST

START_TEST(inventory_validate) {
  char err[256] = "";
  json_t *p = json_object();
  ck_assert_int_eq(posix_kind_inventory.validate(p, err, sizeof err), 0);
  ck_assert_int_eq(posix_kind_inventory.validate(NULL, err, sizeof err), 0);
  json_decref(p);
  p = json_pack("{s:i}", "x", 1);
  ck_assert_int_eq(posix_kind_inventory.validate(p, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "\"x\""));
  json_decref(p);
}
END_TEST

/* --- whatif ----------------------------------------------------------------- */

START_TEST(whatif_changes_nothing) {
  char p_acl[300], p_ct[400], p_svc[400], p_exec[400], *sum0, *sum1;
  const char *grp = getuid() == 0 ? "daemon" : px_mygroup();
  struct {
    const rd_step_kind *k;
    const char *params;
  } steps[6];
  px_config_setup("thumbprint=@UP@ @LO@\n");
  px_make_backups();
  snprintf(p_acl, sizeof p_acl, "{\"group\": \"%s\", \"mode\": \"0640\", \"acl_user\": \"nobody\"}", grp);
  snprintf(p_ct, sizeof p_ct, "{\"file\": \"%s\", \"format\": \"sha1\"}", px_CFGFILE);
  snprintf(p_svc, sizeof p_svc, "{\"command\": \"touch %s/svc\"}", px_T);
  snprintf(p_exec, sizeof p_exec, "{\"script\": \"[ \\\"$RENEWD_WHATIF\\\" = 1 ] || touch %s/exec\"}", px_T);
  steps[0].k = &posix_kind_install, steps[0].params = NULL;
  steps[1].k = &posix_kind_key_acl, steps[1].params = p_acl;
  steps[2].k = &posix_kind_prune, steps[2].params = "{\"keep\": 1}";
  steps[3].k = &posix_kind_config_thumbprint, steps[3].params = p_ct;
  steps[4].k = &posix_kind_service, steps[4].params = p_svc;
  steps[5].k = &posix_kind_exec, steps[5].params = p_exec;
  lh_set_whatif(px_job, 1);
  sum0 = px_tree_sum();
  for (size_t i = 0; i < 6; i++) {
    int before;
    PX_RUN_OK(steps[i].k, RD_PHASE_PROBE, steps[i].params);
    ck_assert_msg(px_nchanges() > 0, "%s: the probe shows no change", steps[i].k->type);
    before = lh_scripts_run(px_job);
    ck_assert_msg(px_run(steps[i].k, RD_PHASE_APPLY, steps[i].params) == RD_EWHATIF, "%s apply: %s",
                  steps[i].k->type, px_o.msg);
    ck_assert_int_eq(lh_scripts_run(px_job), before); /* refused before anything ran */
    if (steps[i].k->rollback) { /* nothing recorded to undo, or refused */
      int st = px_run(steps[i].k, RD_PHASE_ROLLBACK, steps[i].params);
      ck_assert_msg(st == 0 || st == RD_EWHATIF, "%s rollback: %s", steps[i].k->type, px_o.msg);
    }
  }
  sum1 = px_tree_sum();
  ck_assert_str_eq(sum0, sum1);
  ck_assert_int_eq(json_object_size(lh_journal(px_job)), 0);
  free(sum0);
  free(sum1);
}
END_TEST

/* The host refuses a mutating script in whatif even if a plugin tried: a
 * test kind that calls host->remote directly. */
static const rd_script raw_touch = {"test.touch", RD_PLATFORM_POSIX, 1, 0, "touch \"$P_f\"\n"};
static void raw_cb(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  lh_api()->done(s, status ? status : r->exit_status ? RD_EREMOTE : 0, NULL, "ran");
}
static int raw_probe(rd_step *s, const rd_host_api *h) {
  return h->remote(s, &raw_touch, json_pack("{s:s}", "f", json_string_value(json_object_get(h->params(s), "f"))), raw_cb, NULL);
}
static const rd_step_kind raw_kind = {.type = "test.raw", .probe = raw_probe};

START_TEST(host_refuses_mutating_in_whatif) {
  char params[400], f[300];
  snprintf(f, sizeof f, "%s/touched", px_T);
  snprintf(params, sizeof params, "{\"f\": \"%s\"}", f);
  lh_set_whatif(px_job, 1);
  ck_assert_int_eq(px_run(&raw_kind, RD_PHASE_PROBE, params), RD_EWHATIF);
  ck_assert(!px_exists(f));
  ck_assert_int_eq(lh_scripts_run(px_job), 0);
  lh_set_whatif(px_job, 0);
  PX_RUN_OK(&raw_kind, RD_PHASE_PROBE, params);
  ck_assert(px_exists(f));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("posix_plugin");
  TCase *t = tcase_create("kinds");
  tcase_add_checked_fixture(t, px_setup, px_teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, descriptor);
  tcase_add_test(t, module_entry);
  tcase_add_test(t, scripts_embedded_current);
  tcase_add_test(t, inventory_finds_cert);
  tcase_add_test(t, inventory_key_mismatch);
  tcase_add_test(t, inventory_read_skips_key);
  tcase_add_test(t, inventory_read_falls_back);
  tcase_add_test(t, inventory_missing);
  tcase_add_test(t, inventory_expired);
  tcase_add_test(t, inventory_validate);
  tcase_add_test(t, whatif_changes_nothing);
  tcase_add_test(t, host_refuses_mutating_in_whatif);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return px_main(suite(), "test_posix_plugin"); }
