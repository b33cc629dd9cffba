/* test_remediate.c — `renewd remediate` (core/remediate.c) on the real
 * engine with step kinds defined here: duplicates alone (NDES refuses to
 * start with two valid RA certificates) are pruned, never answered with a
 * renewal of the healthy certificate; without a step that prunes they are
 * listed and the job is REPAIR_FAILED; an expired certificate with
 * duplicates is still renewed. With several certificates each is
 * diagnosed and renewed on its own ('together' renews them all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "config/runbook.h"
#include "core/engine.h"
#include "host/registry.h"
#include "store/journal.h"
#include "testutil.h"

static char trace[1024];
static long days_left; /* of the live certificate */
static int restart_fails;
static int dup_left;   /* the duplicate the prune step would remove */
static int two_certs;  /* the runbook has 'certificates' a and b, not 'certificate':
                          days_left is a's (b has 200), the duplicate b's */
static int together;   /* and 'together' */
static const char *dup_cert; /* the certificate with the duplicate ("b") */

static void note(const char *what) {
  if (trace[0])
    strncat(trace, " ", sizeof trace - strlen(trace) - 1);
  strncat(trace, what, sizeof trace - strlen(trace) - 1);
}

/* The certificate a step sees in the two-certificate runbook ("a", "b"),
 * else NULL; what it did noted with its name. */
static const char *cert_of(rd_step *s, const rd_host_api *h) {
  return json_string_value(json_object_get(h->facts(s), "certificate"));
}
static void note_cert(rd_step *s, const rd_host_api *h, const char *what) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s%s%s", what, cert_of(s, h) ? " " : "",
           cert_of(s, h) ? cert_of(s, h) : "");
  note(buf);
}
/* Does s see the certificate with the duplicate? */
static int has_dup(rd_step *s, const rd_host_api *h) {
  return dup_left && (!two_certs || !strcmp(cert_of(s, h), dup_cert));
}

static int inv_probe(rd_step *s, const rd_host_api *h) {
  time_t now = time(NULL);
  json_t *facts = h->facts(s), *problems = json_array();
  long days = two_certs && !strcmp(cert_of(s, h), "b") ? 200 : days_left;
  note_cert(s, h, "inv.probe");
  json_object_set_new(facts, "cert",
                      json_pack("{s:s, s:I, s:I}", "sha256", "live", "not_before",
                                (json_int_t)(now - 30 * 86400),
                                "not_after", (json_int_t)(now + days * 86400)));
  if (days <= 0)
    json_array_append_new(problems, json_pack("{s:s, s:s}", "what", "expired", "detail", "expired"));
  if (has_dup(s, h))
    json_array_append_new(problems, json_pack("{s:s, s:s}", "what", "duplicates", "detail",
                                              "2 valid certificates of CEPEncryption"));
  json_object_set_new(facts, "problems", problems);
  h->done(s, 0, NULL, NULL);
  return 0;
}

static int iss_probe(rd_step *s, const rd_host_api *h) {
  note_cert(s, h, "iss.probe");
  h->done(s, 0, NULL, NULL);
  return 0;
}
static int iss_apply(rd_step *s, const rd_host_api *h) {
  note_cert(s, h, "iss.apply");
  h->set_state(s, "REQUESTED"); /* as an issuer does, before its request */
  json_object_set_new(h->facts(s), "new_cert", json_pack("{s:s}", "sha256", "new"));
  h->done(s, 0, NULL, NULL);
  return 0;
}

#define SIMPLE(fn, label)                                                      \
  static int fn(rd_step *s, const rd_host_api *h) {                            \
    note(label);                                                               \
    h->done(s, 0, NULL, NULL);                                                 \
    return 0;                                                                  \
  }
SIMPLE(inst_probe, "inst.probe")
SIMPLE(inst_apply, "inst.apply")
SIMPLE(rs_probe, "rs.probe")
static int rs_apply(rd_step *s, const rd_host_api *h) {
  note("rs.apply");
  h->done(s, restart_fails ? RD_EREMOTE : 0, NULL, restart_fails ? "t1: restart failed" : NULL);
  return 0;
}
SIMPLE(chk_probe, "chk.probe")
SIMPLE(chk_verify, "chk.verify")

/* the prune: a change while the duplicate is there */
static int prune_probe(rd_step *s, const rd_host_api *h) {
  json_t *r = rd_result_new();
  note_cert(s, h, "prune.probe");
  if (has_dup(s, h))
    rd_result_change(r, "duplicate dup", "present", "removed");
  h->done(s, 0, r, NULL);
  return 0;
}
static int prune_apply(rd_step *s, const rd_host_api *h) {
  note_cert(s, h, "prune.apply");
  if (has_dup(s, h))
    dup_left = 0;
  h->done(s, 0, NULL, NULL);
  return 0;
}

static const rd_step_kind k_inv = {.type = "posix.inventory", .flags = RD_KIND_INVENTORY, .probe = inv_probe};
static const rd_step_kind k_iss = {.type = "scep.issue", .flags = RD_KIND_ISSUER, .probe = iss_probe,
                                   .apply = iss_apply};
static const rd_step_kind k_inst = {.type = "posix.install", .flags = RD_KIND_INSTALL,
                                    .probe = inst_probe, .apply = inst_apply};
static const rd_step_kind k_prune = {.type = "test.prune", .probe = prune_probe, .apply = prune_apply};
static const rd_step_kind k_rs = {.type = "test.restart", .flags = RD_KIND_RESTART, .probe = rs_probe,
                                  .apply = rs_apply};
static const rd_step_kind k_chk = {.type = "test.check", .flags = RD_KIND_CHECK, .probe = chk_probe,
                                   .verify = chk_verify};
static const rd_step_kind *const kinds[] = {&k_inv, &k_iss, &k_inst, &k_prune, &k_rs, &k_chk, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("test", "1", kinds);

static char dir[] = "/tmp/renewd-test-remediate-XXXXXX";
static json_t *report;
static int code;

/* remediate with the runbook FIXTURES/engine/<name>.json plus a prune step
 * (or without one) */
static void remediate(int with_prune, int whatif) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  rd_journal *jn = NULL;
  rd_engine *e = NULL;
  uv_loop_t loop;
  char err[512], path[300], jpath[300];
  FILE *devnull = fopen("/dev/null", "w"), *f;
  const char *hosts[] = {"t1", NULL};
  rd_engine_opts eo = {.remediate = 1, .whatif = whatif, .hosts = hosts, .out = devnull};
  char certs[600];
  /* two certificates: the prune is each one's own step */
  const char *prune = with_prune ? ", \"steps\": [{\"type\": \"test.prune\", \"name\": \"prune\"}]" : "";
  if (two_certs)
    snprintf(certs, sizeof certs,
             "\"together\": %s, \"certificates\": [{\"name\": \"a\", \"certificate\": {\"cert\": "
             "\"/etc/pki/a.crt\", \"key\": \"/etc/pki/a.key\"}%s}, {\"name\": \"b\", "
             "\"certificate\": {\"cert\": \"/etc/pki/b.crt\", \"key\": \"/etc/pki/b.key\"}%s}]",
             together ? "true" : "false", prune, prune);
  else
    snprintf(certs, sizeof certs,
             "\"certificate\": {\"cert\": \"/etc/pki/t1.crt\", \"key\": \"/etc/pki/t1.key\"}");
  trace[0] = 0;
  snprintf(path, sizeof path, "%s/rb.json", dir);
  snprintf(jpath, sizeof jpath, "%s/journal.db", dir);
  ck_assert_ptr_nonnull(f = fopen(path, "w"));
  fprintf(f,
          "{\"name\": \"rem\", \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": "
          "\"192.0.2.1\", \"platform\": \"posix\"}]}, \"ssh\": {\"user\": \"ops\", \"identity\": "
          "\"/nonexistent/id\", \"known_hosts\": \"/nonexistent/kh\"}, %s, \"issuer\": {\"type\": \"scep\", "
          "\"url\": \"http://ca.invalid/scep\", \"ca_fingerprint\": \"sha256:"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}, \"policy\": "
          "{\"renew_before\": \"10d\"}, \"steps\": [%s{\"type\": \"test.restart\", \"name\": "
          "\"restart\"}, {\"type\": \"test.check\", \"name\": \"check\"}]}\n",
          certs, two_certs || !with_prune ? "" : "{\"type\": \"test.prune\", \"name\": \"prune\"}, ");
  fclose(f);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, &plugin, "test", err, sizeof err), 0);
  ck_assert_msg(rd_runbook_load(path, reg, &rb, &diag) == 0, "runbook");
  ck_assert_msg(rd_journal_open(jpath, &jn, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_engine_new(&loop, reg, jn, &eo, &e), 0);
  ck_assert_int_eq(rd_engine_add_runbook(e, rb), 0);
  code = rd_engine_run(e, NULL);
  json_decref(report);
  report = json_deep_copy(json_array_get(json_object_get(rd_engine_report(e), "jobs"), 0));
  rd_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  rd_journal_close(jn);
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  fclose(devnull);
  unlink(jpath);
}

static const char *field(const char *k) { return json_string_value(json_object_get(report, k)); }

static void setup(void) {
  ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/renewd-test-remediate-XXXXXX")));
  days_left = 200;
  dup_left = 1;
  restart_fails = 0;
  two_certs = 0;
  together = 0;
  dup_cert = "b";
}
static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

START_TEST(duplicates_are_pruned_not_renewed) {
  remediate(1, 0);
  ck_assert_str_eq(field("remedy"), "repair");
  ck_assert_str_eq(field("state"), "REPAIRED");
  ck_assert_ptr_null(strstr(trace, "iss.apply"));
  ck_assert_str_eq(trace, "inv.probe iss.probe prune.probe chk.verify prune.apply rs.apply "
                          "chk.verify");
  ck_assert_int_eq(dup_left, 0);
  ck_assert_int_eq(code, 10);
}
END_TEST

/* the repair's restart fails: the job says so (every phase here completes
 * inside its phase function, as the plugin contract allows) */
START_TEST(failed_restart_fails_the_repair) {
  restart_fails = 1;
  remediate(1, 0);
  ck_assert_str_eq(field("state"), "REPAIR_FAILED");
  ck_assert_str_eq(trace, "inv.probe iss.probe prune.probe chk.verify prune.apply rs.apply");
  ck_assert_int_eq(code, 1);
}
END_TEST

START_TEST(duplicates_whatif_would_prune) {
  remediate(1, 1);
  ck_assert_str_eq(field("remedy"), "repair");
  ck_assert_str_eq(field("state"), "WOULD_REPAIR");
  ck_assert_int_eq(dup_left, 1);
  ck_assert_int_eq(code, 10);
}
END_TEST

START_TEST(duplicates_without_a_prune_step_are_listed) {
  remediate(0, 0);
  ck_assert_str_eq(field("remedy"), "list");
  ck_assert_str_eq(field("state"), "REPAIR_FAILED");
  ck_assert_ptr_nonnull(strstr(field("error"), "duplicates: the runbook has no step that removes"));
  ck_assert_ptr_null(strstr(trace, "iss.apply"));
  ck_assert_int_eq(code, 1);
}
END_TEST

START_TEST(expired_with_duplicates_is_renewed) {
  days_left = -1;
  remediate(1, 0);
  ck_assert_str_eq(field("remedy"), "renew");
  ck_assert_ptr_nonnull(strstr(trace, "iss.apply"));
  ck_assert_str_eq(field("state"), "DONE");
}
END_TEST

/* Several certificates: each is diagnosed against its own live one (its
 * inventory's problems, its own steps); only b has a duplicate, so only b's
 * prune runs, then the host-level restart and check, and nothing renews. */
START_TEST(several_certificates_each_diagnosed) {
  two_certs = 1;
  remediate(1, 0);
  ck_assert_str_eq(field("remedy"), "repair");
  ck_assert_str_eq(field("state"), "REPAIRED");
  ck_assert_str_eq(trace, "inv.probe a inv.probe b iss.probe a prune.probe a iss.probe b "
                          "prune.probe b chk.verify prune.apply b rs.apply chk.verify");
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(report, "findings"), 0), "step")),
                   "b: inventory");
  ck_assert_int_eq(dup_left, 0);
  ck_assert_int_eq(code, 10);
}
END_TEST

/* 'together', the first certificate with a duplicate: the pair is
 * diagnosed, pruned and not renewed (the duplicate made the job look due,
 * and 'together' spread that to b: the NDES RA pair renewed for it) */
START_TEST(several_certificates_together_duplicates_pruned) {
  two_certs = 1;
  together = 1;
  dup_cert = "a";
  remediate(1, 0);
  ck_assert_msg(!strcmp(field("remedy"), "repair"), "remedy %s: %s", field("remedy"), trace);
  ck_assert_str_eq(field("state"), "REPAIRED");
  ck_assert_ptr_null(strstr(trace, "iss.apply"));
  ck_assert_ptr_nonnull(strstr(trace, "prune.apply a"));
  ck_assert_int_eq(dup_left, 0);
  ck_assert_int_eq(code, 10);
}
END_TEST

/* a expired, b healthy, with or without 'together': a renewal, done, with
 * a's request; whether b renews too says the report */
static void renew_a_expired(int tog) {
  two_certs = 1;
  together = tog;
  dup_left = 0;
  days_left = -1;
  remediate(1, 0);
  ck_assert_str_eq(field("remedy"), "renew");
  ck_assert_msg(!strcmp(field("state"), "DONE"), "%s: %s", field("error"), trace);
  ck_assert_ptr_nonnull(strstr(trace, "iss.apply a"));
  ck_assert(json_is_true(json_object_get(
      json_array_get(json_object_get(report, "certificates"), 0), "renew")));
  ck_assert_int_eq(code, 10);
}

/* only a renews: b's steps are skipped */
START_TEST(several_certificates_the_due_one_renews) {
  renew_a_expired(0);
  ck_assert_msg(!strstr(trace, "iss.apply b") && !strstr(trace, "prune.apply b") &&
                    strstr(trace, "prune.apply a"),
                "%s", trace);
  ck_assert(json_is_false(json_object_get(
      json_array_get(json_object_get(report, "certificates"), 1), "renew")));
}
END_TEST

START_TEST(several_certificates_together_renew) {
  renew_a_expired(1);
  ck_assert_ptr_nonnull(strstr(trace, "iss.apply b"));
  ck_assert(json_is_true(json_object_get(
      json_array_get(json_object_get(report, "certificates"), 1), "renew")));
}
END_TEST

int main(void) {
  Suite *s = suite_create("remediate");
  TCase *tc = tcase_create("duplicates");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, duplicates_are_pruned_not_renewed);
  tcase_add_test(tc, failed_restart_fails_the_repair);
  tcase_add_test(tc, duplicates_whatif_would_prune);
  tcase_add_test(tc, duplicates_without_a_prune_step_are_listed);
  tcase_add_test(tc, expired_with_duplicates_is_renewed);
  tcase_add_test(tc, several_certificates_each_diagnosed);
  tcase_add_test(tc, several_certificates_together_duplicates_pruned);
  tcase_add_test(tc, several_certificates_the_due_one_renews);
  tcase_add_test(tc, several_certificates_together_renew);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  json_decref(report);
  return rc;
}
