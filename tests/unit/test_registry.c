/* test_registry.c — the plugin loader: good modules load, modules built for
 * another ABI or a newer host are refused with a sentence that says what to
 * rebuild, duplicate step kinds are refused, suggestions work. */
#include <stdio.h>
#include <string.h>

#include "host/registry.h"
#include "testutil.h"

#define MOD(name) BUILD_DIR "/testmodules/" name ".so"

START_TEST(loads_good_module) {
  rd_registry *r = NULL;
  char err[512] = "";
  ck_assert_int_eq(rd_registry_new(&r), 0);
  ck_assert_int_eq(rd_registry_load_file(r, MOD("mod_good"), err, sizeof err), 0);
  const rd_step_kind *k = rd_registry_find(r, "good.step");
  ck_assert_ptr_nonnull(k);
  ck_assert_str_eq(k->summary, "test");
  ck_assert_ptr_eq(rd_registry_kind_at(r, 0), k);
  ck_assert_ptr_null(rd_registry_kind_at(r, 1));
  ck_assert_str_eq(rd_registry_suggest(r, "good.stpe"), "good.step");
  ck_assert_ptr_null(rd_registry_suggest(r, "completely.different.thing"));
  /* the same module again: its kind is a duplicate */
  ck_assert_int_eq(rd_registry_load_file(r, MOD("mod_good"), err, sizeof err), RD_EEXIST);
  ck_assert_ptr_nonnull(strstr(err, "'good.step' is already registered"));
  rd_registry_free(r);
}
END_TEST

START_TEST(refuses_wrong_abi) {
  rd_registry *r = NULL;
  char err[512] = "";
  rd_registry_new(&r);
  ck_assert_int_eq(rd_registry_load_file(r, MOD("mod_badabi"), err, sizeof err), RD_EABI);
  ck_assert_ptr_nonnull(strstr(err, "built for plugin ABI 2"));
  ck_assert_ptr_nonnull(strstr(err, "rebuild the plugin"));
  ck_assert_ptr_null(rd_registry_find(r, "future.step"));
  ck_assert_int_eq(rd_registry_load_file(r, MOD("mod_future_host"), err, sizeof err), RD_EABI);
  ck_assert_ptr_nonnull(strstr(err, "needs a newer renewd"));
  ck_assert_int_eq(rd_registry_load_file(r, MOD("mod_nosym"), err, sizeof err), RD_EABI);
  ck_assert_ptr_nonnull(strstr(err, "no symbol renewd_plugin_v1"));
  ck_assert_int_eq(rd_registry_load_file(r, "/nonexistent/renewd-x.so", err, sizeof err), RD_EIO);
  ck_assert_ptr_nonnull(strstr(err, "plugin /nonexistent/renewd-x.so: cannot load"));
  ck_assert_int_eq(rd_registry_load_dir(r, "/nonexistent-dir", err, sizeof err), RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(err, "--plugins"));
  rd_registry_free(r);
}
END_TEST

START_TEST(static_descriptor_checks) {
  rd_registry *r = NULL;
  char err[512] = "";
  rd_plugin bad = {0x12345678u, RD_PLUGIN_ABI, sizeof(rd_plugin), sizeof(rd_step_kind),
                   sizeof(rd_host_api), "x", "1", NULL};
  rd_registry_new(&r);
  ck_assert_int_eq(rd_registry_add(r, &bad, "static", err, sizeof err), RD_EABI);
  ck_assert_ptr_nonnull(strstr(err, "bad magic"));
  bad.magic = RD_PLUGIN_MAGIC;
  ck_assert_int_eq(rd_registry_add(r, &bad, "static", err, sizeof err), RD_EABI);
  ck_assert_ptr_nonnull(strstr(err, "no step kinds"));
  ck_assert_int_eq(rd_registry_add(r, NULL, "static", err, sizeof err), RD_EABI);
  rd_registry_free(r);
  rd_registry_free(NULL);
}
END_TEST

START_TEST(loads_build_plugins_dir) {
  rd_registry *r = NULL;
  char err[512] = "";
  rd_registry_new(&r);
  ck_assert_msg(rd_registry_load_dir(r, BUILD_DIR "/plugins", err, sizeof err) == 0, "%s", err);
  ck_assert_ptr_nonnull(rd_registry_find(r, "scep.issue"));
  ck_assert_int_eq(rd_registry_find(r, "scep.issue")->flags & RD_KIND_ISSUER, RD_KIND_ISSUER);
  rd_registry_free(r);
}
END_TEST

/* A plugin registers all its kinds or none: a refused one leaves nothing
 * behind (its module is dlclosed at once), and many kinds grow the table
 * in one step. */
static int probe_stub(rd_step *s, const rd_host_api *h) {
  (void)s;
  (void)h;
  return 0;
}

START_TEST(all_or_nothing) {
  rd_registry *r = NULL;
  char err[512] = "";
  static char names[40][16];
  static rd_step_kind many[40];
  static const rd_step_kind *list[41];
  for (int i = 0; i < 40; i++) {
    snprintf(names[i], sizeof names[i], "many.k%d", i);
    many[i] = (rd_step_kind){.type = names[i], .probe = probe_stub};
    list[i] = &many[i];
  }
  list[40] = NULL;
  rd_plugin p = RD_PLUGIN_INIT("many", "1", list);
  ck_assert_int_eq(rd_registry_new(&r), 0);
  ck_assert_int_eq(rd_registry_add(r, &p, "static", err, sizeof err), 0);
  for (int i = 0; i < 40; i++)
    ck_assert_ptr_eq(rd_registry_find(r, names[i]), &many[i]);
  ck_assert_ptr_null(rd_registry_kind_at(r, 40));
  /* a second plugin: one new kind, then one without a probe: nothing of it */
  static const rd_step_kind fresh = {.type = "other.fresh", .probe = probe_stub};
  static const rd_step_kind noprobe = {.type = "other.noprobe"};
  static const rd_step_kind *const bad[] = {&fresh, &noprobe, NULL};
  rd_plugin q = RD_PLUGIN_INIT("other", "1", bad);
  ck_assert_int_eq(rd_registry_add(r, &q, "static", err, sizeof err), RD_EABI);
  ck_assert_ptr_null(rd_registry_find(r, "other.fresh"));
  ck_assert_ptr_null(rd_registry_kind_at(r, 40));
  rd_registry_free(r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("registry");
  TCase *tc = tcase_create("loader");
  tcase_add_test(tc, loads_good_module);
  tcase_add_test(tc, refuses_wrong_abi);
  tcase_add_test(tc, static_descriptor_checks);
  tcase_add_test(tc, loads_build_plugins_dir);
  tcase_add_test(tc, all_or_nothing);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
