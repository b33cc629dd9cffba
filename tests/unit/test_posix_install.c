/* test_posix_install.c — posix.install, posix.key_acl and
 * posix.prune_backups against THIS machine (helpers/posix_fixture.h):
 * probe -> apply -> verify -> rollback on real files. */
#include "posix_fixture.h"

static size_t count_backups(const char *live) {
  char *n = lh_sh_out("ls -1 '%s'.renewd-2* 2>/dev/null | wc -l", live);
  size_t v = (size_t)strtoul(n, NULL, 10);
  free(n);
  return v;
}

START_TEST(install_cycle) {
  char *m0, *m1, *g0 = NULL;
  const json_t *b;
  const char *grp = getuid() == 0 ? "daemon" : px_mygroup();
  /* the old key has a service group and 0640: the new one must inherit it */
  ck_assert_int_eq(lh_sh("chgrp %s '%s' && chmod 0640 '%s'", grp, px_KEY, px_KEY), 0);
  g0 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", px_KEY);
  px_inventory();
  px_issue();

  PX_RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_uint_ge(px_nchanges(), 2);
  {
    const json_t *ch = json_array_get(json_object_get(px_o.result, "changes"), 0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ch, "old")), "serial 1A2B3C"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ch, "new")), "serial 4D5E6F"));
  }
  ck_assert(px_same_file(px_CERT, px_mpath("old.crt"))); /* probe changed nothing */

  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert(px_same_file(px_CERT, px_mpath("new.crt")));
  ck_assert(px_same_file(px_KEY, px_mpath("new.key")));
  ck_assert(px_same_file(px_CHAIN, px_mpath("ca.crt")));
  ck_assert(!px_exists(px_STAGED));
  m1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", px_KEY);
  ck_assert_str_eq(m1, g0); /* owner, group, mode of the old key */
  free(m1);
  b = json_object_get(lh_journal(px_job), "install.backups");
  ck_assert_ptr_nonnull(b);
  ck_assert(px_same_file(json_string_value(json_object_get(b, "cert")), px_mpath("old.crt")));
  ck_assert(px_same_file(json_string_value(json_object_get(b, "key")), px_mpath("old.key")));
  ck_assert_ptr_nonnull(json_string_value(json_object_get(b, "chain")));
  ck_assert(json_equal((json_t *)b, json_object_get(json_object_get(lh_facts(px_job), "installed"), "backups")));
  m0 = px_mode_of(json_string_value(json_object_get(b, "key")));
  ck_assert_str_eq(m0, "0640"); /* cp -p */
  free(m0);
  ck_assert_uint_eq(count_backups(px_CERT), 1);
  ck_assert_uint_eq(count_backups(px_KEY), 1);
  ck_assert_int_eq(lh_sh("ls -a '%s/etc' | grep -q renewd-tmp", px_T), 1); /* no temp left */

  /* idempotent: nothing new, no second backup */
  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "already installed"));
  ck_assert_uint_eq(count_backups(px_CERT), 1);
  PX_RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_uint_eq(px_nchanges(), 0);

  PX_RUN_OK(&posix_kind_install, RD_PHASE_VERIFY, NULL);

  /* rollback from the journal alone (facts rebuilt after a crash) */
  json_object_del(lh_facts(px_job), "installed");
  PX_RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(px_same_file(px_CERT, px_mpath("old.crt")));
  ck_assert(px_same_file(px_KEY, px_mpath("old.key")));
  m1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", px_KEY);
  ck_assert_str_eq(m1, g0);
  free(m1);
  free(g0);
  ck_assert_int_eq(px_run(&posix_kind_install, RD_PHASE_VERIFY, NULL), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "expected"));
  /* rollback again: nothing left to do, still fine */
  PX_RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(px_same_file(px_CERT, px_mpath("old.crt")));
}
END_TEST

START_TEST(install_refuses_wrong_staged_key) {
  px_inventory();
  px_issue();
  ck_assert_int_eq(lh_sh("cp %s '%s'", px_mpath("other.key"), px_STAGED), 0);
  ck_assert_int_eq(px_run(&posix_kind_install, RD_PHASE_APPLY, NULL), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "does not match the new certificate"));
  ck_assert(px_same_file(px_CERT, px_mpath("old.crt")));
  ck_assert(px_same_file(px_KEY, px_mpath("old.key")));
}
END_TEST

START_TEST(install_without_issuer) {
  px_inventory();
  PX_RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL); /* whatif-style placeholders */
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
                                   json_array_get(json_object_get(px_o.result, "changes"), 0), "new")),
                               "(new certificate)"));
  ck_assert_int_eq(px_run(&posix_kind_install, RD_PHASE_APPLY, NULL), RD_ESTATE);
}
END_TEST

/* rotate_key false: the staged key is the live key; only the cert changes. */
START_TEST(install_reused_key) {
  ck_assert_int_eq(lh_sh("cd %s && openssl x509 -req -in old.csr -CA ca.crt -CAkey ca.key "
                         "-set_serial 0x99 -days 5 -out '%s/reissued.crt' 2>/dev/null", px_M, px_T), 0);
  char path[300];
  px_inventory();
  snprintf(path, sizeof path, "%s/reissued.crt", px_T);
  json_object_set_new(lh_facts(px_job), "new_cert", px_facts_of(path));
  json_object_set_new(lh_facts(px_job), "staged", json_pack("{s:s, s:b}", "key", px_KEY, "reused", 1));
  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert(px_same_file(px_CERT, path));
  ck_assert(px_same_file(px_KEY, px_mpath("old.key")));
  PX_RUN_OK(&posix_kind_install, RD_PHASE_VERIFY, NULL);
}
END_TEST

/* A crash after the backups were journaled, before anything was replaced:
 * apply resumes without backing up again (that could copy new files), and
 * rollback uses the journaled paths. */
START_TEST(install_resumes_after_crash) {
  char bc[400], bk[400];
  px_inventory();
  px_issue();
  snprintf(bc, sizeof bc, "%s.renewd-20240101T000000Z", px_CERT);
  snprintf(bk, sizeof bk, "%s.renewd-20240101T000000Z", px_KEY);
  ck_assert_int_eq(lh_sh("cp -p '%s' '%s' && cp -p '%s' '%s'", px_CERT, bc, px_KEY, bk), 0);
  json_object_set_new(lh_journal(px_job), "install.backups",
                      json_pack("{s:s, s:s, s:n, s:s}", "cert", bc, "key", bk, "chain", "ts",
                                "20240101T000000Z"));
  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_uint_eq(count_backups(px_CERT), 1);
  ck_assert_uint_eq(count_backups(px_KEY), 1);
  ck_assert(px_same_file(px_CERT, px_mpath("new.crt")));
  PX_RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(px_same_file(px_CERT, px_mpath("old.crt")));
  ck_assert(px_same_file(px_KEY, px_mpath("old.key")));
  /* a journaled path that is not a backup of the live file is refused */
  json_object_set_new(lh_journal(px_job), "install.backups",
                      json_pack("{s:s, s:n, s:n}", "cert", px_mpath("other.key"), "key", "chain"));
  ck_assert_int_eq(px_run(&posix_kind_install, RD_PHASE_ROLLBACK, NULL), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "not one of its backups"));
  ck_assert(px_same_file(px_CERT, px_mpath("old.crt")));
}
END_TEST

/* --- posix.key_acl ----------------------------------------------------------- */

static char *acl_entry(const char *path, const char *user) {
  return lh_sh_out("getfacl -c -E -p '%s' 2>/dev/null | grep '^user:%s:' || true", path, user);
}

START_TEST(key_acl_cycle) {
  const char *grp = getuid() == 0 ? "daemon" : px_mygroup();
  char params[300], jkey[400], *s0, *s1, *a;
  snprintf(params, sizeof params,
           "{\"owner\": \"%s\", \"group\": \"%s\", \"mode\": \"0640\", \"acl_user\": \"nobody\"}",
           px_me(), grp);
  snprintf(jkey, sizeof jkey, "key_acl.old:%s", px_KEY);
  s0 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", px_KEY);

  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(px_nchanges(), getuid() == 0 ? 3 : 2); /* group (as root), mode, ACL */
  ck_assert_ptr_nonnull(strstr(px_o.msg, px_KEY));
  ck_assert_ptr_nonnull(json_object_get(lh_journal(px_job), jkey));
  s1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", px_KEY);
  ck_assert_str_eq(s0, s1); /* probe changed nothing */
  free(s1);

  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params);
  s1 = lh_sh_out("stat -c %%G '%s'", px_KEY);
  ck_assert_str_eq(s1, grp);
  free(s1);
  a = acl_entry(px_KEY, "nobody");
  ck_assert_str_eq(a, "user:nobody:r--");
  free(a);
  /* group:: is r-- (0640), not just the mask */
  a = lh_sh_out("getfacl -c -E -p '%s' | grep '^group::'", px_KEY);
  ck_assert_str_eq(a, "group::r--");
  free(a);
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_VERIFY, params);
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params); /* idempotent */
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_PROBE, params); /* a re-probe: nothing to do ... */
  ck_assert_uint_eq(px_nchanges(), 0);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "already as configured"));

  /* ... and it did not overwrite the recorded old state */
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_ROLLBACK, params);
  s1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", px_KEY);
  ck_assert_str_eq(s1, s0);
  free(s1);
  a = acl_entry(px_KEY, "nobody");
  ck_assert_str_eq(a, "");
  free(a);
  ck_assert_int_eq(px_run(&posix_kind_key_acl, RD_PHASE_VERIFY, params), RD_EVERIFY);
  free(s0);
}
END_TEST

/* 0600 with a reader ACL: the group gets nothing even though the mask is r. */
START_TEST(key_acl_private_with_reader) {
  const char *params = "{\"mode\": \"0600\", \"acl_user\": \"nobody\"}";
  char *a;
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params);
  a = lh_sh_out("getfacl -c -E -p '%s' | grep '^group::'", px_KEY);
  ck_assert_str_eq(a, "group::---");
  free(a);
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_VERIFY, params);
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_PROBE, "{\"mode\": \"0640\"}");
  ck_assert_uint_eq(px_nchanges(), 1);
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, "{\"mode\": \"0640\"}");
  a = lh_sh_out("getfacl -c -E -p '%s' | grep '^group::'", px_KEY);
  ck_assert_str_eq(a, "group::r--");
  free(a);
}
END_TEST

/* The live key's ACL (a service user's read entry, u:nobody:r--) goes to
 * the new key on install and comes back with the old key on rollback:
 * chmod --reference copies no ACL, so the service could no longer read its
 * key after a renewal or a rollback. */
START_TEST(install_keeps_the_key_acl) {
  char *a;
  ck_assert_int_eq(lh_sh("chmod 0600 '%s' && setfacl -m u:nobody:r '%s'", px_KEY, px_KEY), 0);
  px_inventory();
  px_issue();
  PX_RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL);
  PX_RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert(px_same_file(px_KEY, px_mpath("new.key")));
  a = acl_entry(px_KEY, "nobody");
  ck_assert_str_eq(a, "user:nobody:r--");
  free(a);
  PX_RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(px_same_file(px_KEY, px_mpath("old.key")));
  a = acl_entry(px_KEY, "nobody");
  ck_assert_str_eq(a, "user:nobody:r--");
  free(a);
  a = lh_sh_out("getfacl -c -E -p '%s' | grep '^group::'", px_KEY); /* 0600 as before */
  ck_assert_str_eq(a, "group::---");
  free(a);
}
END_TEST

/* readable_by: verify reads the key as the service's user. 0600 root's:
 * refused, naming the user, owner, group and mode; with that user's ACL
 * entry: fine. (runuser needs root.) */
START_TEST(key_acl_readable_by) {
  const char *params = "{\"mode\": \"0600\", \"readable_by\": \"nobody\"}";
  if (getuid() != 0)
    return;
  ck_assert_int_eq(lh_sh("chown root:root '%s' && chmod 0711 '%s' '%s/etc'", px_KEY, px_T, px_T), 0);
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params);
  ck_assert_int_eq(px_run(&posix_kind_key_acl, RD_PHASE_VERIFY, params), RD_EVERIFY);
  ck_assert_msg(strstr(px_o.msg, "server.key: user nobody (readable_by) cannot read it (owner root, "
                                 "group root, mode 0600, no ACL): the service would not load the key"),
                "%s", px_o.msg);
  params = "{\"mode\": \"0600\", \"acl_user\": \"nobody\", \"readable_by\": \"nobody\"}";
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params);
  PX_RUN_OK(&posix_kind_key_acl, RD_PHASE_VERIFY, params);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "readable by nobody"));
  /* a user that does not exist is named */
  ck_assert_int_ne(px_run(&posix_kind_key_acl, RD_PHASE_VERIFY, "{\"readable_by\": \"no-such-user-rd\"}"), 0);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "user no-such-user-rd (readable_by) does not exist"));
}
END_TEST

START_TEST(key_acl_validate) {
  const char *bad[] = {"{\"mode\": \"0999\"}", "{\"mode\": \"4755\"}", "{\"owner\": \"-rf\"}",
                       "{\"group\": \"a b\"}", "{\"acl_user\": \"x;y\"}", "{\"readable_by\": \"$(id)\"}", "{\"path\": \"rel\"}",
                       "{\"colour\": 1}", "{\"mode\": 640}"};
  char err[256];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *p = json_loads(bad[i], 0, NULL);
    err[0] = 0;
    ck_assert_msg(posix_kind_key_acl.validate(p, err, sizeof err) == RD_EINVAL, "%s", bad[i]);
    ck_assert_msg(strlen(err) > 10, "%s: no message", bad[i]);
    json_decref(p);
  }
  json_t *ok = json_loads("{\"owner\": \"root\", \"group\": \"ssl-cert\", \"mode\": \"640\", "
                          "\"acl_user\": \"www-data\", \"path\": \"/etc/ssl/k.pem\"}", 0, NULL);
  ck_assert_int_eq(posix_kind_key_acl.validate(ok, err, sizeof err), 0);
  json_decref(ok);
}
END_TEST

/* --- posix.prune ------------------------------------------------------------- */


/* Does <live>.renewd-<ts> exist? */
static int present(const char *live, const char *ts) {
  char p[400];
  snprintf(p, sizeof p, "%s.renewd-%s", live, ts);
  return px_exists(p);
}

START_TEST(prune_keeps_newest) {
  px_make_backups();
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_PROBE, "{\"keep\": 2}");
  ck_assert_uint_eq(px_nchanges(), 4); /* 2 cert + 2 key backups */
  ck_assert(present(px_CERT, "20240101T000000Z")); /* probe: nothing gone */
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 2}");
  ck_assert_uint_eq(px_nchanges(), 4);
  ck_assert(!present(px_CERT, "20240101T000000Z"));
  ck_assert(!present(px_CERT, "20240201T000000Z"));
  ck_assert(present(px_CERT, "20240301T000000Z"));
  ck_assert(present(px_CERT, "20240401T000000Z"));
  ck_assert(!present(px_KEY, "20240201T000000Z"));
  ck_assert(present(px_KEY, "20240301T000000Z"));
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_VERIFY, "{\"keep\": 2}");
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 2}"); /* idempotent */
  ck_assert_uint_eq(px_nchanges(), 0);
}
END_TEST

START_TEST(prune_never_touches_live_files) {
  char *sum0, *sum1;
  px_make_backups();
  /* the backup this job's install made is protected even when it is older */
  char oldest[400];
  snprintf(oldest, sizeof oldest, "%s.renewd-20240101T000000Z", px_CERT);
  json_object_set_new(lh_journal(px_job), "install.backups",
                      json_pack("{s:s, s:n, s:n}", "cert", oldest, "key", "chain"));
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 1}");
  ck_assert(present(px_CERT, "20240401T000000Z"));
  ck_assert(present(px_CERT, "20240101T000000Z")); /* protected */
  ck_assert(!present(px_CERT, "20240201T000000Z"));
  ck_assert(!present(px_CERT, "20240301T000000Z"));
  ck_assert(present(px_KEY, "20240401T000000Z"));
  ck_assert(!present(px_KEY, "20240101T000000Z"));
  ck_assert(px_same_file(px_CERT, px_mpath("old.crt")));
  ck_assert(px_same_file(px_KEY, px_mpath("old.key")));
  ck_assert(px_same_file(px_CHAIN, px_mpath("ca.crt")));
  ck_assert_int_eq(lh_sh("cd '%s/etc' && test -e server.key.renewd-new && test -e "
                         "server.crt.renewd-notes && test -e .server.crt.renewd-tmp.abc123 && "
                         "test -e server.crt.renewd-2024 && test -e "
                         "server.crt.renewd-20240501T000000Z.bak",
                         px_T),
                   0);
  /* and again: only the kept ones are left, nothing else is ever listed */
  sum0 = px_tree_sum();
  PX_RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 1}");
  sum1 = px_tree_sum();
  ck_assert_str_eq(sum0, sum1);
  free(sum0);
  free(sum1);
}
END_TEST

START_TEST(prune_validate) {
  char err[256];
  const char *bad[] = {"{\"keep\": 0}", "{\"keep\": -1}", "{\"keep\": \"2\"}", "{\"keep\": 1.5}",
                       "{\"path\": \"/etc\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *p = json_loads(bad[i], 0, NULL);
    ck_assert_msg(posix_kind_prune.validate(p, err, sizeof err) == RD_EINVAL, "%s", bad[i]);
    json_decref(p);
  }
  ck_assert_ptr_null(posix_kind_prune.rollback);
}
END_TEST

/* --- posix.config_thumbprint ------------------------------------------------- */

static Suite *suite(void) {
  Suite *s = suite_create("posix_install");
  TCase *t = tcase_create("kinds");
  tcase_add_checked_fixture(t, px_setup, px_teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, install_cycle);
  tcase_add_test(t, install_refuses_wrong_staged_key);
  tcase_add_test(t, install_without_issuer);
  tcase_add_test(t, install_reused_key);
  tcase_add_test(t, install_resumes_after_crash);
  tcase_add_test(t, key_acl_cycle);
  tcase_add_test(t, key_acl_private_with_reader);
  tcase_add_test(t, install_keeps_the_key_acl);
  tcase_add_test(t, key_acl_readable_by);
  tcase_add_test(t, key_acl_validate);
  tcase_add_test(t, prune_keeps_newest);
  tcase_add_test(t, prune_never_touches_live_files);
  tcase_add_test(t, prune_validate);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return px_main(suite(), "test_posix_install"); }
