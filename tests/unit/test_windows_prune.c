/* test_windows_prune.c — windows.prune_duplicates never removes a
 * certificate something serves (store_list reports HTTP.sys bindings and the
 * RDP listener as "uses"; the target script refuses them again), and removes
 * an expired duplicate even when it was issued after the new certificate —
 * against the simulated target of helpers/win_fixture.h. */
#include "win_fixture.h"

#define PRUNE "{\"match\": \"template\"}"

static int kept_with(const char *thumb, const char *reason) {
  const json_t *k;
  size_t i;
  json_array_foreach(json_object_get(json_object_get(o_result, "detail"), "kept"), i, k) {
    if (!strcmp(P(k, "thumbprint"), thumb) && strstr(P(k, "reason"), reason))
      return 1;
  }
  return 0;
}

START_TEST(prune_keeps_what_is_in_use) {
  const json_t *p = NULL;
  ndes();
  /* OLD is still bound to an https binding and the RDP listener */
  json_object_set_new(store_get(OLD.thumb), "uses",
                      json_pack("[s,s]", "HTTP.sys binding 0.0.0.0:443", "the RDP listener (RDP-Tcp)"));
  store_add(&NEW, 1, "CNG");
  inventory();
  issued(&NEW);
  OK(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE);
  ck_assert_uint_eq(nchanges(), 1); /* DUP only */
  ck_assert(kept_with(OLD.thumb, "in use: HTTP.sys binding 0.0.0.0:443"));
  OK(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE);
  ran("windows.prune.apply", &p);
  ck_assert_uint_eq(json_array_size(json_object_get(p, "remove")), 1);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "remove"), 0)), DUP.thumb);
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  ck_assert_ptr_null(store_get(DUP.thumb));
}
END_TEST

START_TEST(prune_removes_an_expired_later_one) {
  ndes();
  store_add(&NEW, 1, "CNG");
  store_add(&LATE_EXPIRED, 1, "CNG"); /* issued after NEW, expired */
  store_add(&NEWER, 1, "CNG");        /* issued after NEW, valid longer: kept */
  inventory();
  issued(&NEW);
  OK(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE);
  ck_assert(kept_with(NEWER.thumb, "expires after the new certificate"));
  ck_assert(!kept_with(LATE_EXPIRED.thumb, ""));
  OK(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE);
  ck_assert_ptr_null(store_get(LATE_EXPIRED.thumb));
  ck_assert_ptr_null(store_get(OLD.thumb));
  ck_assert_ptr_null(store_get(DUP.thumb));
  ck_assert_ptr_nonnull(store_get(NEWER.thumb));
  ck_assert_ptr_nonnull(store_get(NEW.thumb));
}
END_TEST

/* The PowerShell itself: store_list reports uses, prune_apply refuses them. */
START_TEST(prune_scripts_check_usage) {
  const char *lib = WIN_PS_CERT_LIB;
  ck_assert_ptr_nonnull(strstr(lib, "'SslBindingInfo', 'SslSniBindingInfo'"));
  ck_assert_ptr_nonnull(strstr(lib, "GetValue('SslCertHash')"));
  ck_assert_ptr_nonnull(strstr(lib, "WinStations\\RDP-Tcp')"));
  ck_assert_ptr_nonnull(strstr(lib, "GetValue('SSLCertificateSHA1Hash')"));
  ck_assert_ptr_nonnull(strstr(WIN_PS_STORE_LIST, "rdw_certinfo $c $usage"));
  ck_assert_ptr_nonnull(strstr(WIN_PS_PRUNE_APPLY, "if ($usage.ContainsKey($t)) { rd_fail"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("windows_prune");
  TCase *tc = wt_tcase("prune");
  tcase_add_test(tc, prune_keeps_what_is_in_use);
  tcase_add_test(tc, prune_removes_an_expired_later_one);
  tcase_add_test(tc, prune_scripts_check_usage);
  suite_add_tcase(s, tc);
  return wt_main(s);
}
