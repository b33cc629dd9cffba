/* test_posix_layouts.c — posix.inventory and posix.install on a combined PEM
 * file (haproxy layout: "cert" and "key" the same path; certificate, chain
 * and key in one file) against THIS machine (helpers/posix_fixture.h). */
#include "posix_fixture.h"

static char comb[300], orig[320];

/* The target holds <T>/etc/haproxy.pem = old cert + CA + old key, mode
 * 0640, and the job's certificate section names it as cert and key. */
static void combined_setup(void) {
  char sections[800];
  px_setup();
  snprintf(comb, sizeof comb, "%s/etc/haproxy.pem", px_T);
  snprintf(orig, sizeof orig, "%s/orig.pem", px_T);
  ck_assert_int_eq(lh_sh("cat %s/old.crt %s/ca.crt %s/old.key > '%s' && chmod 0640 '%s' && "
                         "cp -p '%s' '%s'",
                         px_M, px_M, px_M, comb, comb, comb, orig),
                   0);
  snprintf(sections, sizeof sections, "{\"certificate\": {\"cert\": \"%s\", \"key\": \"%s\"}}",
           comb, comb);
  lh_job_free(px_job);
  px_job = lh_job_new("lb1", sections);
}

/* The issuer's outcome for the combined file: new_cert, ca_pem, and the
 * staged key (<file>.renewd-new) or, reused, the file itself. */
static void combined_issue(const char *cert, int reuse) {
  json_t *f = lh_facts(px_job);
  char *ca = tu_read_file(px_mpath("ca.crt"), NULL);
  snprintf(px_STAGED, sizeof px_STAGED, "%s.renewd-new", comb);
  if (!reuse)
    ck_assert_int_eq(lh_sh("cp %s/new.key '%s' && chmod 0600 '%s'", px_M, px_STAGED, px_STAGED), 0);
  json_object_set_new(f, "new_cert", px_facts_of(cert));
  json_object_set_new(f, "staged",
                      json_pack("{s:s, s:b}", "key", reuse ? comb : px_STAGED, "reused", reuse));
  json_object_set_new(f, "ca_pem", json_string(ca));
  free(ca);
}

/* Does the combined file hold exactly CERT + CA + KEY, byte for byte? */
static int holds(const char *cert, const char *key) {
  return lh_sh("cat '%s' %s/ca.crt '%s' | cmp -s - '%s'", cert, px_M, key, comb) == 0;
}

START_TEST(combined_inventory_reads_the_certificate_not_the_key) {
  const json_t *c;
  px_inventory();
  c = json_object_get(lh_facts(px_job), "cert");
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(json_string_value(json_object_get(c, "serial")), "1A2B3C");
  ck_assert(json_is_true(json_object_get(c, "key_match")));
  ck_assert(json_is_true(json_object_get(c, "combined")));
  ck_assert_ptr_null(px_problem("key mismatch"));
  /* the private key never left the target: not in the facts, not in the log */
  char *dump = json_dumps(lh_facts(px_job), 0);
  ck_assert_ptr_null(strstr(dump, "PRIVATE KEY"));
  free(dump);
}
END_TEST

START_TEST(combined_install_cycle) {
  const json_t *b;
  char *m;
  px_inventory();
  combined_issue(px_mpath("new.crt"), 0);
  PX_RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_uint_eq(px_nchanges(), 1);
  ck_assert(px_same_file(comb, orig)); /* probe changed nothing */

  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_msg(holds(px_mpath("new.crt"), px_mpath("new.key")), "%s", px_o.msg);
  ck_assert(!px_exists(px_STAGED));
  m = px_mode_of(comb);
  ck_assert_str_eq(m, "0640"); /* the file's own mode, kept */
  free(m);
  b = json_object_get(lh_journal(px_job), "install.backups");
  ck_assert_ptr_nonnull(b);
  /* one backup, the certificate's and the key's */
  ck_assert_str_eq(json_string_value(json_object_get(b, "cert")),
                   json_string_value(json_object_get(b, "key")));
  ck_assert(px_same_file(json_string_value(json_object_get(b, "cert")), orig));
  ck_assert_int_eq(lh_sh("test $(ls -1 '%s'.renewd-2* | wc -l) = 1", comb), 0);
  ck_assert_int_eq(lh_sh("ls -a '%s/etc' | grep -q renewd-tmp", px_T), 1);
  PX_RUN_OK(&posix_kind_install, RD_PHASE_VERIFY, NULL);
  ck_assert_int_eq(lh_sh("openssl x509 -in '%s' -noout -serial | grep -q 4D5E6F", comb), 0);

  /* idempotent */
  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "already installed"));
  ck_assert(holds(px_mpath("new.crt"), px_mpath("new.key")));

  /* rollback from the journal: the old file, byte for byte */
  json_object_del(lh_facts(px_job), "installed");
  PX_RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(px_same_file(comb, orig));
  m = px_mode_of(comb);
  ck_assert_str_eq(m, "0640");
  free(m);
  ck_assert_int_eq(px_run(&posix_kind_install, RD_PHASE_VERIFY, NULL), RD_EVERIFY);
}
END_TEST

/* rotate_key false: the key block of the live file goes into the new one. */
START_TEST(combined_install_reused_key) {
  char path[300];
  snprintf(path, sizeof path, "%s/reissued.crt", px_T);
  ck_assert_int_eq(lh_sh("cd %s && openssl x509 -req -in old.csr -CA ca.crt -CAkey ca.key "
                         "-set_serial 0x99 -days 5 -out '%s' 2>/dev/null",
                         px_M, path),
                   0);
  px_inventory();
  combined_issue(path, 1);
  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert(holds(path, px_mpath("old.key")));
  PX_RUN_OK(&posix_kind_install, RD_PHASE_VERIFY, NULL);
}
END_TEST

/* A staged key of another certificate: nothing is written. */
START_TEST(combined_install_refuses_wrong_key) {
  px_inventory();
  combined_issue(px_mpath("new.crt"), 0);
  ck_assert_int_eq(lh_sh("cp %s '%s'", px_mpath("other.key"), px_STAGED), 0);
  ck_assert_int_eq(px_run(&posix_kind_install, RD_PHASE_APPLY, NULL), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "does not match the new certificate"));
  ck_assert(px_same_file(comb, orig));
}
END_TEST

/* One file, one series of backups: inventory lists each once, prune
 * counts and removes each once. */
START_TEST(combined_backups_listed_once) {
  const char *ts[] = {"20240101T000000Z", "20240201T000000Z", "20240301T000000Z"};
  for (size_t i = 0; i < 3; i++)
    ck_assert_int_eq(lh_sh("cp '%s' '%s.renewd-%s'", comb, comb, ts[i]), 0);
  px_inventory();
  ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(lh_facts(px_job), "cert"), "backups")), 3);
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_PROBE, "{\"keep\": 1}");
  ck_assert_uint_eq(px_nchanges(), 2);
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 1}");
  ck_assert_uint_eq(px_nchanges(), 2);
  ck_assert_int_eq(lh_sh("test -e '%s.renewd-20240301T000000Z' && ! test -e '%s.renewd-20240201T000000Z'", comb, comb), 0);
  ck_assert(px_same_file(comb, orig));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("posix_layouts");
  TCase *t = tcase_create("combined");
  tcase_add_checked_fixture(t, combined_setup, px_teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, combined_inventory_reads_the_certificate_not_the_key);
  tcase_add_test(t, combined_install_cycle);
  tcase_add_test(t, combined_install_reused_key);
  tcase_add_test(t, combined_install_refuses_wrong_key);
  tcase_add_test(t, combined_backups_listed_once);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return px_main(suite(), "test_posix_layouts"); }
