/* test_windows_hresult.c — plugins/windows/hresult.c: the sentence for
 * each HRESULT admins meet, and certreq's outcome decided from what does
 * not depend on the display language (the certificate file, the HRESULT as
 * a number or as the exit code, the RequestId), with English text only as a
 * hint. The non-English texts below are constructed in the shape of a
 * German Windows's certreq output (labels translated, numbers and the
 * "RequestId:" property name as they are); none was captured from a CA. */
#include "win_fixture.h"
#include "windows_hresult.h"

START_TEST(hresult_sentences) {
  const struct {
    unsigned long hr;
    const char *name, *fix;
  } want[] = {
      {0x80094800UL, "CERTSRV_E_UNSUPPORTED_CERT_TYPE", "Certificate Template to Issue"},
      {0x80094801UL, "CERTSRV_E_NO_CERT_TYPE", "CertificateTemplate=<name>"},
      {0x80094012UL, "CERTSRV_E_TEMPLATE_DENIED", "grant Read and Enroll on the template"},
      {0x80070057UL, "E_INVALIDARG", "two valid RA certificates of the same template"},
      {0x8007000dUL, "ERROR_INVALID_DATA", "user-context template"},
      {0x800706baUL, "RPC_S_SERVER_UNAVAILABLE", "TCP 135"},
      {0x80092004UL, "CRYPT_E_NOT_FOUND", "RenewalCert"},
      {0x800b0101UL, "CERT_E_EXPIRED", "fresh request"},
  };
  char t[900];
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    ck_assert_str_eq(win_hresult_name(want[i].hr), want[i].name);
    ck_assert_msg(strstr(win_hresult_advice(want[i].hr), want[i].fix), "%s", want[i].name);
    ck_assert_ptr_nonnull(strchr(win_hresult_advice(want[i].hr), ':')); /* meaning: fix */
    win_hresult_text(want[i].hr, t, sizeof t);
    ck_assert_msg(!strncmp(t + 11, want[i].name, strlen(want[i].name)), "%s", t);
  }
  win_hresult_text(0x80004005UL, t, sizeof t);
  ck_assert_str_eq(t, "0x80004005");
  ck_assert_ptr_null(win_hresult_advice(0x80004005UL));
  win_hresult_text(0, t, sizeof t);
  ck_assert_str_eq(t, "");
  ck_assert_uint_eq(win_hresult_parse("0x80094012"), 0x80094012UL);
  ck_assert_uint_eq(win_hresult_parse("0X8007000D"), 0x8007000dUL);
  ck_assert_uint_eq(win_hresult_parse("0x8007000"), 0);
  ck_assert_uint_eq(win_hresult_parse("0x800700001"), 0);
  ck_assert_uint_eq(win_hresult_parse("-2146875374"), 0);
  ck_assert_uint_eq(win_hresult_parse(NULL), 0);
}
END_TEST

static adcs_outcome decided(int exit_code, int cer, const char *text) {
  adcs_outcome o;
  adcs_decide(exit_code, cer, text, &o);
  return o;
}

START_TEST(localised_outcomes) {
  adcs_outcome o;
  char line[1400];
  /* issued: the certificate file was written, whatever the words */
  o = decided(0, 1, "RequestId: 42\r\nRequestId: \"42\"\r\nZertifikat abgerufen(Ausgestellt) Ausgestellt\r\n");
  ck_assert_int_eq(o.status, ADCS_ISSUED);
  ck_assert_int_eq(o.request_id, 42);
  /* pending: exit 0, a RequestId, no file, no HRESULT */
  o = decided(0, 0, "RequestId: 43\r\nRequestId: \"43\"\r\nDie Zertifikatanforderung steht aus: "
                    "Wird bearbeitet (0)\r\n");
  ck_assert_int_eq(o.status, ADCS_PENDING);
  ck_assert_int_eq(o.request_id, 43);
  /* denied: a CERTSRV_E_* code in the text */
  o = decided(0, 0, "RequestId: 44\r\nZertifikat nicht ausgestellt (Verweigert) Verweigert vom "
                    "Richtlinienmodul 0x80094012 (-2146877422 CERTSRV_E_TEMPLATE_DENIED)\r\n");
  ck_assert_int_eq(o.status, ADCS_DENIED);
  ck_assert_str_eq(o.hresult, "0x80094012");
  ck_assert_int_eq(o.expired_basis, 0);
  adcs_outcome_line(&o, "-", line, sizeof line);
  ck_assert_ptr_nonnull(strstr(line, "(0x80094012 CERTSRV_E_TEMPLATE_DENIED: the template's "
                                     "permissions do not let the requester enroll"));
  /* denied, the HRESULT only as the exit code */
  o = decided((int)0x80094800U, 0, "Zertifikat nicht ausgestellt\r\n");
  ck_assert_int_eq(o.status, ADCS_DENIED);
  ck_assert_str_eq(o.hresult, "0x80094800");
  /* an expired RenewalCert basis, in any language */
  o = decided(0, 0, "RequestId: 45\r\nVerweigert vom Richtlinienmodul 0x800b0101 (-2146762495 "
                    "CERT_E_EXPIRED)\r\n");
  ck_assert_int_eq(o.status, ADCS_DENIED);
  ck_assert_int_eq(o.expired_basis, 1);
  /* the CA unreachable: a failure, never a denial */
  o = decided((int)0x800706baU, 0, "Zertifikatanforderungsprozessor: Der RPC-Server ist nicht "
                                   "verfügbar. 0x800706ba (WIN32: 1722 RPC_S_SERVER_UNAVAILABLE)\r\n");
  ck_assert_int_eq(o.status, ADCS_FAILED);
  adcs_outcome_line(&o, "-", line, sizeof line);
  ck_assert_ptr_nonnull(strstr(line, "RPC_S_SERVER_UNAVAILABLE: the CA cannot be reached over RPC"));
  /* a RequestId and exit 0 but a certificate file: issued (not pending) */
  o = decided(0, 1, "RequestId: 46\r\n");
  ck_assert_int_eq(o.status, ADCS_ISSUED);
  /* English "issued" without a file stays ISSUED (the caller refuses it
   * and never resubmits) */
  o = decided(0, 0, "RequestId: 47\r\nCertificate retrieved(Issued) Issued\r\n");
  ck_assert_int_eq(o.status, ADCS_ISSUED);
  /* a non-zero exit with nothing to recognise: failed */
  o = decided(1, 0, "Etwas ist schiefgegangen.\r\n");
  ck_assert_int_eq(o.status, ADCS_FAILED);
  /* -1 (no exit code) is not an HRESULT */
  o = decided(-1, 0, "");
  ck_assert_str_eq(o.hresult, "");
}
END_TEST

/* The English fixtures decide as before. */
START_TEST(english_fixtures) {
  const struct {
    const char *file;
    int cer;
    adcs_status st;
  } f[] = {
      {"certreq-submit-issued.txt", 1, ADCS_ISSUED},
      {"certreq-submit-pending.txt", 0, ADCS_PENDING},
      {"certreq-submit-denied.txt", 0, ADCS_DENIED},
      {"certreq-submit-denied-expired.txt", 0, ADCS_DENIED},
      {"certreq-submit-rpc-unavailable.txt", 0, ADCS_FAILED},
      {"certreq-retrieve-issued.txt", 1, ADCS_ISSUED},
      {"certreq-retrieve-pending.txt", 0, ADCS_PENDING},
  };
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    char *t = fixture_text(f[i].file);
    adcs_outcome o;
    adcs_decide(0, f[i].cer, t, &o);
    ck_assert_msg(o.status == f[i].st, "%s: %s", f[i].file, adcs_status_name(o.status));
    free(t);
  }
}
END_TEST

/* certreq -new failing for a missing RenewalCert: the exit code's HRESULT
 * gets its sentence. */
START_TEST(new_failure_sentence) {
  char msg[1400], *t = fixture_text("certreq-new-renewalcert-missing.txt");
  ck_assert_int_eq(adcs_parse_new((int)0x80092004U, 0, t, msg, sizeof msg), -1);
  ck_assert_msg(strstr(msg, "Cannot find object or property. 0x80092004") &&
                    strstr(msg, "(0x80092004 CRYPT_E_NOT_FOUND: the object or property was not "
                                "found: the certificate named by RenewalCert"),
                "%s", msg);
  free(t);
}
END_TEST

/* CA discovery's certutil -dump with translated labels */
START_TEST(certutil_configs_localised) {
  char *t = fixture_text("certutil-dump-de.txt");
  json_t *a = adcs_parse_configs(t);
  ck_assert_uint_eq(json_array_size(a), 1);
  ck_assert_str_eq(json_string_value(json_array_get(a, 0)), CONFIG);
  json_decref(a);
  free(t);
}
END_TEST

/* Through adcs.issue: a German denial, decided from its HRESULT. */
START_TEST(adcs_localised_denial) {
  ndes();
  free(W->submit_text);
  W->submit_text = strdup("RequestId: 9\r\nZertifikat nicht ausgestellt (Verweigert) Verweigert "
                          "vom Richtlinienmodul 0x80094012 (-2146877422 "
                          "CERTSRV_E_TEMPLATE_DENIED)\r\n");
  W->certreq_exit = (int)0x80094012U;
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EDENIED);
  ck_assert_ptr_nonnull(strstr(o_msg, "denied request 9:"));
  ck_assert_ptr_nonnull(strstr(o_msg, "grant Read and Enroll on the template"));
  ck_assert_str_eq(P(json_object_get(o_result, "detail"), "hresult"), "0x80094012");
}
END_TEST

/* Through adcs.issue: a German "issued" is accepted (the file decides). */
START_TEST(adcs_localised_issue) {
  ndes();
  free(W->submit_text);
  W->submit_text = strdup("RequestId: 10\r\nZertifikat abgerufen(Ausgestellt) Ausgestellt\r\n");
  W->issue_always = 1;
  W->issues = &NEW;
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

int main(void) {
  Suite *s = suite_create("windows_hresult");
  TCase *tc = wt_tcase("hresult");
  tcase_add_test(tc, hresult_sentences);
  tcase_add_test(tc, localised_outcomes);
  tcase_add_test(tc, english_fixtures);
  tcase_add_test(tc, new_failure_sentence);
  tcase_add_test(tc, certutil_configs_localised);
  tcase_add_test(tc, adcs_localised_denial);
  tcase_add_test(tc, adcs_localised_issue);
  suite_add_tcase(s, tc);
  return wt_main(s);
}
