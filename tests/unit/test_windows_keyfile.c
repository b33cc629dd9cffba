/* test_windows_keyfile.c — which file holds a certificate's private key
 * (plugins/windows/keyfile.c), decided from CRYPT_KEY_PROV_INFO as
 * documented (windows_keyfile.h cites the pages): dwProvType 0 is a CNG key
 * storage provider, anything else a CryptoAPI provider; machine keys only
 * (CRYPT_MACHINE_KEYSET). The inputs are what rdw_keyinfo reports for
 * documented provider names and types. Also: the records the orchestrator
 * makes of store_list.ps1's output, and the PowerShell text of rdw_keyinfo
 * itself (it reads the property, never the .NET wrapper type). */
#include "win_fixture.h"
#include "windows_keyfile.h"
#include "windows_ps.h"

#define CRYPTO "C:\\ProgramData\\Microsoft\\Crypto"
/* a CAPI machine key's unique container name: <hash>_<machine GUID> */
#define CAPI_UNIQ "c2319c42033a5ca7f44e731bfd3fa2b5_6f1b3c1e-7c3a-4a4b-9d55-2f1f0e2a9b10"
#define CNG_UNIQ "8d1a2f4b5c6e7f809a1b2c3d4e5f6071_6f1b3c1e-7c3a-4a4b-9d55-2f1f0e2a9b10"

static json_t *facts(int type, const char *prov, int flags, const char *uniq, const char *file) {
  return json_pack("{s:i, s:s, s:s, s:i, s:i, s:s?, s:s, s:[s?], s:n}", "prov_type", type,
                   "prov_name", prov, "container", "te-NDES-RA-1234", "flags", flags, "key_spec", 1,
                   "unique_name", uniq, "crypto_dir", CRYPTO, "files", file, "error");
}

static void decide(json_t *k, win_keyfile *kf) {
  win_keyfile_decide(k, kf);
  json_decref(k);
}

START_TEST(capi_rsa_machine_key) {
  win_keyfile kf;
  /* the NDES RA certificates of the v1 templates: Microsoft Enhanced
   * Cryptographic Provider v1.0, PROV_RSA_FULL (1) */
  decide(facts(1, "Microsoft Enhanced Cryptographic Provider v1.0", 0x20, CAPI_UNIQ,
               "RSA\\MachineKeys"),
         &kf);
  ck_assert_str_eq(kf.provider, "CAPI");
  ck_assert_str_eq(kf.path, CRYPTO "\\RSA\\MachineKeys\\" CAPI_UNIQ);
  ck_assert_int_eq(kf.exists, 1);
  ck_assert_str_eq(kf.note, "");
  /* PROV_RSA_AES (24), and PROV_RSA_SCHANNEL (12): still RSA\MachineKeys */
  decide(facts(24, "Microsoft Enhanced RSA and AES Cryptographic Provider", 0x20, CAPI_UNIQ,
               "RSA\\MachineKeys"),
         &kf);
  ck_assert_str_eq(kf.path, CRYPTO "\\RSA\\MachineKeys\\" CAPI_UNIQ);
  decide(facts(12, "Microsoft RSA SChannel Cryptographic Provider", 0x20, CAPI_UNIQ,
               "RSA\\MachineKeys"),
         &kf);
  ck_assert_str_eq(kf.provider, "CAPI");
  ck_assert_int_eq(kf.exists, 1);
}
END_TEST

START_TEST(capi_dss_machine_key) {
  win_keyfile kf;
  decide(facts(13, "Microsoft Enhanced DSS and Diffie-Hellman Cryptographic Provider", 0x20,
               CAPI_UNIQ, "DSS\\MachineKeys"),
         &kf);
  ck_assert_str_eq(kf.provider, "CAPI");
  ck_assert_str_eq(kf.path, CRYPTO "\\DSS\\MachineKeys\\" CAPI_UNIQ);
  ck_assert_int_eq(kf.exists, 1);
}
END_TEST

START_TEST(cng_machine_key) {
  win_keyfile kf;
  decide(facts(0, "Microsoft Software Key Storage Provider", 0x20, CNG_UNIQ, "Keys"), &kf);
  ck_assert_str_eq(kf.provider, "CNG");
  ck_assert_str_eq(kf.path, CRYPTO "\\Keys\\" CNG_UNIQ);
  ck_assert_int_eq(kf.exists, 1);
}
END_TEST

/* What the .NET wrapper type got wrong: a CAPI key (RSACng wrapper on .NET
 * 4.6+) whose file is in RSA\MachineKeys is not looked for in Keys; and a
 * file found in the other folder is not taken for the key. */
START_TEST(provider_type_decides_not_the_folder) {
  win_keyfile kf;
  decide(facts(24, "Microsoft Enhanced RSA and AES Cryptographic Provider", 0x20, CAPI_UNIQ,
               "Keys"),
         &kf);
  ck_assert_str_eq(kf.provider, "CAPI");
  ck_assert_str_eq(kf.path, CRYPTO "\\RSA\\MachineKeys\\" CAPI_UNIQ);
  ck_assert_int_eq(kf.exists, 0);
  ck_assert_str_eq(kf.note, "a CAPI key (provider type 24, Microsoft Enhanced RSA and AES "
                            "Cryptographic Provider) belongs in RSA\\MachineKeys, but its file is "
                            "in Keys");
  decide(facts(0, "Microsoft Software Key Storage Provider", 0x20, CNG_UNIQ, NULL), &kf);
  ck_assert_str_eq(kf.path, CRYPTO "\\Keys\\" CNG_UNIQ);
  ck_assert_int_eq(kf.exists, 0);
  ck_assert_str_eq(kf.note, "");
}
END_TEST

START_TEST(no_file_to_name) {
  win_keyfile kf;
  /* a user key: dwFlags without CRYPT_MACHINE_KEYSET */
  decide(facts(1, "Microsoft Enhanced Cryptographic Provider v1.0", 0, CAPI_UNIQ, NULL), &kf);
  ck_assert_str_eq(kf.provider, "CAPI");
  ck_assert_str_eq(kf.path, "");
  ck_assert_ptr_nonnull(strstr(kf.note, "a user key (CRYPT_MACHINE_KEYSET not set)"));
  /* a TPM or smart card key storage provider */
  decide(facts(0, "Microsoft Platform Crypto Provider", 0x20, CNG_UNIQ, NULL), &kf);
  ck_assert_str_eq(kf.provider, "CNG");
  ck_assert_str_eq(kf.path, "");
  ck_assert_str_eq(kf.note, "the key is held by Microsoft Platform Crypto Provider, not in a file");
  decide(facts(0, "Microsoft Smart Card Key Storage Provider", 0x20, CNG_UNIQ, NULL), &kf);
  ck_assert_str_eq(kf.path, "");
  /* the container could not be opened: no unique name */
  decide(json_pack("{s:i, s:s, s:s, s:i, s:s, s:[], s:s}", "prov_type", 0, "prov_name",
                   "Microsoft Software Key Storage Provider", "container", "te-x", "flags", 0x20,
                   "crypto_dir", CRYPTO, "files", "error", "Keyset does not exist"),
         &kf);
  ck_assert_str_eq(kf.path, "");
  ck_assert_str_eq(kf.note, "the unique name of CNG key container \"te-x\" is unknown: Keyset "
                            "does not exist");
  /* a unique name with a separator is not a file name */
  decide(facts(0, "Microsoft Software Key Storage Provider", 0x20, "..\\..\\x", "Keys"), &kf);
  ck_assert_str_eq(kf.path, "");
  /* no CERT_KEY_PROV_INFO at all */
  decide(json_pack("{s:n, s:s}", "prov_type", "error",
                   "the certificate has no CERT_KEY_PROV_INFO property"),
         &kf);
  ck_assert_ptr_null(kf.provider);
  ck_assert_str_eq(kf.path, "");
  ck_assert_str_eq(kf.note, "no key provider information (CERT_KEY_PROV_INFO): the certificate "
                            "has no CERT_KEY_PROV_INFO property");
  decide(NULL, &kf);
  ck_assert_ptr_null(kf.provider);
}
END_TEST

/* Through windows.inventory: the CAPI RA key (provider type 24) is found in
 * RSA\MachineKeys; a file only in Keys is a missing key, said why. */
START_TEST(inventory_of_a_capi_key) {
  const json_t *probs;
  json_t *key;
  ndes();
  inventory();
  ck_assert_str_eq(fact("cert", "key_provider"), "CAPI");
  ck_assert_ptr_nonnull(strstr(fact("cert", "key_path"), CRYPTO "\\RSA\\MachineKeys\\"));
  ck_assert(json_is_true(json_object_get(json_object_get(W->facts, "cert"), "key_match")));
  key = json_object_get(store_get(OLD.thumb), "key");
  json_object_set_new(key, "files", json_pack("[s]", "Keys"));
  inventory();
  ck_assert(json_is_false(json_object_get(json_object_get(W->facts, "cert"), "key_match")));
  probs = json_object_get(W->facts, "problems");
  ck_assert_uint_eq(json_array_size(probs), 2); /* and the duplicate */
  ck_assert_str_eq(P(json_array_get(probs, 0), "what"), "missing key");
  ck_assert_msg(strstr(P(json_array_get(probs, 0), "detail"),
                       "does not exist: a CAPI key (provider type 24, Microsoft Enhanced RSA and "
                       "AES Cryptographic Provider) belongs in RSA\\MachineKeys, but its file is "
                       "in Keys"),
                "%s", P(json_array_get(probs, 0), "detail"));
}
END_TEST

/* The function text between "function rdw_keyinfo" and the next function. */
/* the text of cert_lib.ps1's function NAME */
static char *keyinfo_text(const char *name) {
  const char *lib = WIN_PS_CERT_LIB, *a = strstr(lib, name), *b;
  ck_assert_ptr_nonnull(a);
  b = strstr(a + 1, "\nfunction ");
  return strndup(a, b ? (size_t)(b - a) : strlen(a));
}

START_TEST(ps_reads_the_property) {
  char *t = keyinfo_text("function rdw_keyinfo("), *u = keyinfo_text("function rdw_key_unique_name_of(");
  const char *order[] = {"string pwszContainerName", "string pwszProvName", "uint dwProvType",
                         "uint dwFlags", "uint cProvParam", "IntPtr rgProvParam", "uint dwKeySpec"};
  const char *at = t;
  /* never the wrapper type */
  ck_assert_ptr_null(strstr(t, "GetRSAPrivateKey"));
  ck_assert_ptr_null(strstr(t, "GetECDsaPrivateKey"));
  ck_assert_ptr_null(strstr(t, "PrivateKey."));
  /* CERT_KEY_PROV_INFO_PROP_ID is 2; the struct in its documented order */
  ck_assert_ptr_nonnull(strstr(t, "CertGetCertificateContextProperty(ctx, 2, "));
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    const char *p = strstr(at, order[i]);
    ck_assert_msg(p != NULL, "CRYPT_KEY_PROV_INFO member %s missing or out of order", order[i]);
    at = p;
  }
  ck_assert_ptr_nonnull(strstr(t, "CharSet = CharSet.Unicode"));
  /* the unique name by provider kind, and the three machine folders */
  ck_assert_ptr_nonnull(strstr(t, "rdw_key_unique_name_of $k.prov_type"));
  ck_assert_ptr_nonnull(strstr(u, "if ($ProvType -ne 0) {"));
  ck_assert_ptr_nonnull(strstr(u, "UniqueKeyContainerName"));
  ck_assert_ptr_nonnull(strstr(u, "$ck.UniqueName"));
  ck_assert_ptr_nonnull(strstr(t, "'Keys', 'RSA\\MachineKeys', 'DSS\\MachineKeys'"));
  ck_assert_ptr_nonnull(strstr(t, "($k.flags -band 0x20)"));
  free(t);
  free(u);
}
END_TEST

int main(void) {
  Suite *s = suite_create("windows_keyfile");
  TCase *tc = wt_tcase("decide");
  tcase_add_test(tc, capi_rsa_machine_key);
  tcase_add_test(tc, capi_dss_machine_key);
  tcase_add_test(tc, cng_machine_key);
  tcase_add_test(tc, provider_type_decides_not_the_folder);
  tcase_add_test(tc, no_file_to_name);
  tcase_add_test(tc, inventory_of_a_capi_key);
  tcase_add_test(tc, ps_reads_the_property);
  suite_add_tcase(s, tc);
  return wt_main(s);
}
