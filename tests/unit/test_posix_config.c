/* test_posix_config.c — posix.config_thumbprint, posix.service and
 * posix.exec against THIS machine (helpers/posix_fixture.h). */
#include "posix_fixture.h"


START_TEST(config_thumbprint_cycle) {
  char params[400], up_new[64], *m;
  px_config_setup("# app\nthumbprint=@UP@\nlower @LO@ here\nother=1234\n");
  for (size_t i = 0; i <= strlen(px_NEW_SHA1); i++)
    up_new[i] = (char)((px_NEW_SHA1[i] >= 'a' && px_NEW_SHA1[i] <= 'f') ? px_NEW_SHA1[i] - 32 : px_NEW_SHA1[i]);
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"sha1\"}", px_CFGFILE);

  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(px_nchanges(), 1);
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(json_object_get(px_o.result, "changes"), 0), "what")), "2 occurrences"));

  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
  ck_assert(px_conf_has(up_new));   /* upper stays upper */
  ck_assert(px_conf_has(px_NEW_SHA1)); /* lower stays lower */
  ck_assert(!px_conf_has(px_OLD_SHA1));
  ck_assert(px_conf_has("other=1234"));
  m = px_mode_of(px_CFGFILE);
  ck_assert_str_eq(m, "0640");
  free(m);
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_VERIFY, params);
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params); /* idempotent */
  ck_assert_ptr_nonnull(strstr(px_o.msg, "already"));
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(px_nchanges(), 0);

  /* rollback from the journal even if facts.cert now describes the new cert */
  json_object_set(lh_facts(px_job), "cert", json_object_get(lh_facts(px_job), "new_cert"));
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_ROLLBACK, params);
  {
    char orig[400];
    snprintf(orig, sizeof orig, "%s.orig", px_CFGFILE);
    ck_assert(px_same_file(px_CFGFILE, orig));
  }
}
END_TEST

START_TEST(config_thumbprint_refuses_missing_old) {
  char params[400], *sum0, *sum1;
  px_config_setup("thumbprint=0000000000000000000000000000000000000000\n");
  ck_assert_int_eq(lh_sh("printf 'thumbprint=none\\n' > '%s'", px_CFGFILE), 0);
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"sha1\"}", px_CFGFILE);
  ck_assert_int_eq(px_run(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params), RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(px_o.msg, px_CFGFILE));
  ck_assert_ptr_nonnull(strstr(px_o.msg, px_OLD_SHA1));
  sum0 = px_tree_sum();
  ck_assert_int_eq(px_run(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(px_o.msg, px_CFGFILE));
  ck_assert_ptr_nonnull(strstr(px_o.msg, px_OLD_SHA1));
  sum1 = px_tree_sum();
  ck_assert_str_eq(sum0, sum1);
  free(sum0);
  free(sum1);
  /* a missing file is named too */
  snprintf(params, sizeof params, "{\"file\": \"%s/nope.conf\", \"format\": \"sha1\"}", px_T);
  ck_assert_int_eq(px_run(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params), RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "nope.conf"));
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(px_o.result, "blocked")), "nope.conf"));
}
END_TEST

/* A serial is matched as a whole hex token only; case forced to upper. */
START_TEST(config_thumbprint_serial_and_case) {
  char params[400];
  px_config_setup("serial=1a2b3c\nlonger=11A2B3C4\n");
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"serial\", \"case\": \"upper\"}",
           px_CFGFILE);
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(json_object_get(px_o.result, "changes"), 0), "what")), "(1 occurrence)"));
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
  ck_assert(px_conf_has("serial=4D5E6F\n"));
  ck_assert(px_conf_has("longer=11A2B3C4\n"));
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_VERIFY, params);
  /* values are data: an awk- or shell-looking value is just text to find */
  {
    char evil[1200], pwned[300];
    snprintf(pwned, sizeof pwned, "%s/pwned", px_T);
    snprintf(evil, sizeof evil, "1A\"); system(\"touch %s\"); x=(\"$(touch %s)'", pwned, pwned);
    json_object_set_new(json_object_get(lh_facts(px_job), "cert"), "serial", json_string(evil));
    PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params); /* new one present */
    ck_assert_ptr_nonnull(strstr(px_o.msg, "already"));
    json_object_del(lh_facts(px_job), "new_cert");
    ck_assert_int_eq(px_run(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params), RD_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(px_o.msg, "system("));
    ck_assert(!px_exists(pwned));
  }
}
END_TEST

/* A serial as colon pairs (as `openssl x509 -text` and some
 * appliances print it): found and replaced as colon pairs, case kept. */
START_TEST(config_thumbprint_serial_colon) {
  char params[400];
  px_config_setup("serial 1a:2b:3c;\nnot 01:1a:2b:3c:44\n");
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"serial\"}", px_CFGFILE);
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(px_nchanges(), 1); /* the longer colon list is not it */
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
  ck_assert(px_conf_has("serial 4d:5e:6f;\n"));
  ck_assert(px_conf_has("not 01:1a:2b:3c:44\n"));
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_VERIFY, params);
}
END_TEST

/* "path": posix.install writes in place, so the path does not change. */
START_TEST(config_thumbprint_path_unchanged) {
  char params[400];
  px_config_setup("cert=@LO@\n");
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"path\"}", px_CFGFILE);
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(px_nchanges(), 0);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "unchanged"));
  PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
}
END_TEST

START_TEST(config_thumbprint_validate) {
  char err[256];
  const char *bad[] = {"{\"format\": \"sha1\"}", "{\"file\": \"/x\"}",
                       "{\"file\": \"/x\", \"format\": \"md5\"}",
                       "{\"file\": \"x\", \"format\": \"sha1\"}",
                       "{\"file\": \"/x\", \"format\": \"sha1\", \"case\": \"camel\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *p = json_loads(bad[i], 0, NULL);
    ck_assert_msg(posix_kind_config_thumbprint.validate(p, err, sizeof err) == RD_EINVAL, "%s", bad[i]);
    json_decref(p);
  }
}
END_TEST

/* A config with CERT's ALG digest in the forms configs pin it in (the
 * generator runs openssl, not the code under test) into OUT. */
static void write_forms(const char *cert, const char *alg, const char *out) {
  ck_assert_int_eq(
      lh_sh("c='%s'; fp=$(openssl x509 -in \"$c\" -noout -fingerprint -%s | cut -d= -f2) && "
            "b64=$(openssl x509 -in \"$c\" -outform DER | openssl dgst -%s -binary | base64) && "
            "printf 'colon=%%s\\nlower colon %%s;\\nspaced=\"%%s\"\\nb64: %%s\\nkeep=1\\n' \"$fp\" "
            "\"$(printf %%s \"$fp\" | tr A-F a-f)\" \"$(printf %%s \"$fp\" | tr : ' ' | tr A-F a-f)\" "
            "\"$b64\" > '%s'",
            cert, alg, alg, out),
      0);
}

/* sha1 and sha256 as AA:BB, aa:bb, spaced pairs and base64: each found,
 * each replaced by the new value in its own form, and rolled back. */
START_TEST(config_thumbprint_forms) {
  const char *algs[] = {"sha1", "sha256"};
  char params[400], expect[400], orig[400];
  snprintf(expect, sizeof expect, "%s/expect.conf", px_T);
  for (size_t a = 0; a < 2; a++) {
    px_config_setup("placeholder\n");
    snprintf(orig, sizeof orig, "%s.orig", px_CFGFILE);
    write_forms(px_mpath("old.crt"), algs[a], px_CFGFILE);
    write_forms(px_mpath("new.crt"), algs[a], expect);
    ck_assert_int_eq(lh_sh("cp -p '%s' '%s'", px_CFGFILE, orig), 0);
    json_object_clear(lh_journal(px_job));
    snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"%s\"}", px_CFGFILE, algs[a]);
    PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
    ck_assert_uint_eq(px_nchanges(), 3); /* colon (2), space pairs, base64 */
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
                                     json_array_get(json_object_get(px_o.result, "changes"), 0), "what")),
                                 "colon pairs (AA:BB:...) in"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
                                     json_array_get(json_object_get(px_o.result, "changes"), 0), "what")),
                                 "(2 occurrences)"));
    PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
    ck_assert_msg(px_same_file(px_CFGFILE, expect), "%s: the forms were not kept", algs[a]);
    ck_assert_uint_eq(px_nchanges(), 3);
    PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_VERIFY, params);
    PX_RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_ROLLBACK, params);
    ck_assert(px_same_file(px_CFGFILE, orig));
  }
}
END_TEST

/* A digest in no supported form: the probe says so, names the forms it
 * tried, and marks the step blocked (its apply cannot succeed). */
START_TEST(config_thumbprint_no_form_matches) {
  char params[400], *dashed;
  px_config_setup("thumbprint=@UP@\n");
  dashed = lh_sh_out("openssl x509 -in %s -noout -fingerprint -sha1 | cut -d= -f2 | tr : -",
                     px_mpath("old.crt"));
  ck_assert_int_eq(lh_sh("printf 'thumbprint=%%s\\n' '%s' > '%s'", dashed, px_CFGFILE), 0);
  free(dashed);
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"sha1\"}", px_CFGFILE);
  ck_assert_int_eq(px_run(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params), RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "in any supported format (hex, colon pairs (AA:BB:...), "
                                         "space pairs (AA BB ...), base64)"));
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(px_o.result, "blocked")), px_CFGFILE));
  ck_assert_int_eq(px_run(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "in any of the forms hex, colon pairs"));
}
END_TEST

/* --- posix.service ----------------------------------------------------------- */

START_TEST(service_runs_and_reports_failure) {
  char params[600], flag[400];
  snprintf(flag, sizeof flag, "%s/reloaded", px_T);
  snprintf(params, sizeof params, "{\"command\": \"touch %s && echo reloaded\"}", flag);
  PX_RUN_OK(&posix_kind_service, RD_PHASE_PROBE, params);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "would run"));
  ck_assert(!px_exists(flag));
  PX_RUN_OK(&posix_kind_service, RD_PHASE_APPLY, params);
  ck_assert(px_exists(flag));
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(px_o.result, "detail"), "stdout")), "reloaded");
  PX_RUN_OK(&posix_kind_service, RD_PHASE_VERIFY, params); /* no check configured */

  snprintf(params, sizeof params, "{\"command\": \"echo partial; echo 'tlsctl: bad config' >&2; exit 3\"}");
  ck_assert_int_eq(px_run(&posix_kind_service, RD_PHASE_APPLY, params), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "exited 3"));
  ck_assert_ptr_nonnull(strstr(px_o.msg, "tlsctl: bad config"));

  snprintf(params, sizeof params, "{\"command\": \"true\", \"check\": \"test -e %s/healthy\"}", px_T);
  ck_assert_int_eq(px_run(&posix_kind_service, RD_PHASE_VERIFY, params), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "exited 1"));
  ck_assert_int_eq(lh_sh("touch '%s/healthy'", px_T), 0);
  PX_RUN_OK(&posix_kind_service, RD_PHASE_VERIFY, params);

  ck_assert_int_eq(px_run(&posix_kind_service, RD_PHASE_APPLY, "{\"command\": \"sleep 5\", \"timeout\": 1}"), RD_ETIMEDOUT);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "timed out"));
}
END_TEST

/* A systemd unit, with a stand-in systemctl first in PATH that logs its
 * arguments (the container has no systemd). */
START_TEST(service_unit) {
  char bin[400], log[400], *l, *path0 = getenv("PATH") ? strdup(getenv("PATH")) : strdup("/usr/bin:/bin"), *path1;
  snprintf(bin, sizeof bin, "%s/bin", px_T);
  snprintf(log, sizeof log, "%s/systemctl.log", px_T);
  ck_assert_int_eq(lh_sh("mkdir -p '%s' && printf '#!/bin/sh\\necho \"$*\" >> %s\\n"
                         "[ \"$1\" = is-active ] && echo ${FAKE_STATE:-active}\\nexit 0\\n' > '%s/systemctl' && chmod +x '%s/systemctl'",
                         bin, log, bin, bin),
                   0);
  ck_assert_int_ne(asprintf(&path1, "%s:%s", bin, path0), -1);
  setenv("PATH", path1, 1);
  PX_RUN_OK(&posix_kind_service, RD_PHASE_PROBE, "{\"unit\": \"nginx\"}");
  ck_assert_ptr_nonnull(strstr(px_o.msg, "systemctl reload nginx (the unit is active)"));
  PX_RUN_OK(&posix_kind_service, RD_PHASE_APPLY, "{\"unit\": \"nginx\", \"action\": \"restart\"}");
  PX_RUN_OK(&posix_kind_service, RD_PHASE_VERIFY, "{\"unit\": \"nginx\"}");
  setenv("FAKE_STATE", "failed", 1);
  ck_assert_int_eq(px_run(&posix_kind_service, RD_PHASE_VERIFY, "{\"unit\": \"nginx\"}"), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "unit nginx is failed"));
  unsetenv("FAKE_STATE");
  setenv("PATH", path0, 1);
  l = tu_read_file(log, NULL);
  ck_assert_str_eq(l, "is-active -- nginx\nrestart -- nginx\nis-active -- nginx\nis-active -- nginx\n");
  free(l);
  free(path0);
  free(path1);
}
END_TEST

START_TEST(service_validate) {
  char err[256];
  const char *bad[] = {"{}", "{\"command\": \"x\", \"unit\": \"nginx\"}",
                       "{\"unit\": \"-nginx\"}", "{\"unit\": \"nginx; rm\"}",
                       "{\"unit\": \"nginx\", \"action\": \"stop\"}",
                       "{\"command\": \"x\", \"action\": \"reload\"}",
                       "{\"command\": \"\"}", "{\"command\": \"x\", \"timeout\": 0}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *p = json_loads(bad[i], 0, NULL);
    ck_assert_msg(posix_kind_service.validate(p, err, sizeof err) == RD_EINVAL, "%s", bad[i]);
    json_decref(p);
  }
  json_t *ok = json_loads("{\"unit\": \"nginx.service\", \"action\": \"restart\", \"check\": \"curl -fsS localhost\"}", 0, NULL);
  ck_assert_int_eq(posix_kind_service.validate(ok, err, sizeof err), 0);
  json_decref(ok);
  ck_assert_uint_eq(posix_kind_service.flags & RD_KIND_RESTART, RD_KIND_RESTART);
}
END_TEST

/* --- posix.exec -------------------------------------------------------------- */

START_TEST(exec_gets_environment) {
  char params[1200], envf[400], hook[400], *env, expect[1200];
  const json_t *c, *n;
  px_inventory();
  px_issue();
  c = json_object_get(lh_facts(px_job), "cert");
  n = json_object_get(lh_facts(px_job), "new_cert");
  snprintf(envf, sizeof envf, "%s/env.txt", px_T);
  snprintf(params, sizeof params,
           "{\"script\": \"printf '%%s|' \\\"$1\\\" \\\"$RENEWD_HOST\\\" \\\"$RENEWD_PHASE\\\" "
           "\\\"$RENEWD_CERT_PATH\\\" \\\"$RENEWD_OLD_SHA1\\\" \\\"$RENEWD_NEW_SHA1\\\" "
           "\\\"$RENEWD_OLD_SERIAL\\\" \\\"$RENEWD_NEW_SERIAL\\\" \\\"$RENEWD_WHATIF\\\" > %s; "
           "echo hook done\"}",
           envf);
  PX_RUN_OK(&posix_kind_exec, RD_PHASE_APPLY, params);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "hook done"));
  env = tu_read_file(envf, NULL);
  snprintf(expect, sizeof expect, "apply|web17|apply|%s|%s|%s|1A2B3C|4D5E6F|0|", px_CERT,
           json_string_value(json_object_get(c, "sha1")), json_string_value(json_object_get(n, "sha1")));
  ck_assert_str_eq(env, expect);
  free(env);
  PX_RUN_OK(&posix_kind_exec, RD_PHASE_PROBE, params); /* probe runs in whatif */
  env = tu_read_file(envf, NULL);
  ck_assert_ptr_nonnull(strstr(env, "probe|web17|probe|"));
  ck_assert_ptr_nonnull(strstr(env, "|1|"));
  free(env);

  /* from a local file, failing with a message */
  snprintf(hook, sizeof hook, "%s/hook.sh", px_T);
  ck_assert_int_eq(lh_sh("printf 'echo \"cannot reload $RENEWD_HOST in $1\" >&2\\nexit 4\\n' > '%s'", hook), 0);
  snprintf(params, sizeof params, "{\"file\": \"%s\"}", hook);
  ck_assert_int_eq(px_run(&posix_kind_exec, RD_PHASE_APPLY, params), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(px_o.msg, "exited 4"));
  ck_assert_ptr_nonnull(strstr(px_o.msg, "cannot reload web17 in apply"));
  ck_assert_int_eq(px_run(&posix_kind_exec, RD_PHASE_VERIFY, params), RD_EVERIFY);
  snprintf(params, sizeof params, "{\"file\": \"%s/missing.sh\"}", px_T);
  ck_assert_int_eq(px_run(&posix_kind_exec, RD_PHASE_APPLY, params), RD_ECONFIG);
}
END_TEST

START_TEST(exec_validate) {
  char err[256];
  const char *bad[] = {"{}", "{\"script\": \"x\", \"file\": \"/x\"}", "{\"file\": \"rel.sh\"}",
                       "{\"script\": \"x\", \"mutating\": \"yes\"}", "{\"script\": 3}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *p = json_loads(bad[i], 0, NULL);
    ck_assert_msg(posix_kind_exec.validate(p, err, sizeof err) == RD_EINVAL, "%s", bad[i]);
    json_decref(p);
  }
}
END_TEST

/* --- whatif: probes run, applies are refused, nothing on disk changes --------- */

static Suite *suite(void) {
  Suite *s = suite_create("posix_config");
  TCase *t = tcase_create("kinds");
  tcase_add_checked_fixture(t, px_setup, px_teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, config_thumbprint_cycle);
  tcase_add_test(t, config_thumbprint_refuses_missing_old);
  tcase_add_test(t, config_thumbprint_serial_and_case);
  tcase_add_test(t, config_thumbprint_path_unchanged);
  tcase_add_test(t, config_thumbprint_validate);
  tcase_add_test(t, config_thumbprint_forms);
  tcase_add_test(t, config_thumbprint_serial_colon);
  tcase_add_test(t, config_thumbprint_no_form_matches);
  tcase_add_test(t, service_runs_and_reports_failure);
  tcase_add_test(t, service_unit);
  tcase_add_test(t, service_validate);
  tcase_add_test(t, exec_gets_environment);
  tcase_add_test(t, exec_validate);
  suite_add_tcase(s, t);
  return s;
}

int main(void) { return px_main(suite(), "test_posix_config"); }
