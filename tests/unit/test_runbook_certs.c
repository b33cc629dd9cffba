/* test_runbook_certs.c — the runbook's certificates: 'certificate' (the
 * one-item form), 'certificates' (several, each with its selector, its own
 * policy and its steps), 'together', host-level steps bound to one
 * certificate, and the diagnostics (file:line:column) of their mistakes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "config/runbook.h"
#include "host/registry.h"
#include "testutil.h"

static int probe_stub(rd_step *s, const rd_host_api *h) {
  (void)s;
  (void)h;
  return RD_ENOTSUP;
}
#define KIND(var, name, fl)                                                                  \
  static const rd_step_kind var = {.type = name, .platform = RD_PLATFORM_POSIX, .flags = fl, \
                                   .probe = probe_stub}
KIND(k_inv, "posix.inventory", RD_KIND_INVENTORY);
KIND(k_ins, "posix.install", RD_KIND_INSTALL);
KIND(k_iss, "scep.issue", RD_KIND_ISSUER);
KIND(k_acl, "posix.key_acl", 0);
KIND(k_svc, "posix.service", RD_KIND_RESTART);
KIND(k_tls, "tls.verify", RD_KIND_CHECK);
static const rd_step_kind *const kinds[] = {&k_inv, &k_ins, &k_iss, &k_acl, &k_svc, &k_tls, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("fake", "1", kinds);

static char dir[] = "/tmp/renewd-test-rbcerts-XXXXXX";
static char path[300];
static rd_registry *reg;
static rd_diag diag;
static rd_runbook *rb;
static char *diag_text;

static void setup(void) {
  char err[256];
  ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/renewd-test-rbcerts-XXXXXX")));
  snprintf(path, sizeof path, "%s/rb.json", dir);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_msg(rd_registry_add(reg, &plugin, "test", err, sizeof err) == 0, "%s", err);
  memset(&diag, 0, sizeof diag);
  rb = NULL;
  diag_text = NULL;
}
static void teardown(void) {
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
  free(diag_text);
  unlink(path);
  rmdir(dir);
}

/* The runbook: the common head, then `rest` (the certificates and steps). */
static int load(const char *rest) {
  FILE *f = fopen(path, "w");
  size_t len = 0;
  FILE *m;
  ck_assert_ptr_nonnull(f);
  fprintf(f, "{\"name\": \"two\",\n"
             " \"targets\": {\"hosts\": [{\"name\": \"w1\", \"address\": \"192.0.2.1\", "
             "\"platform\": \"posix\"}]},\n"
             " \"ssh\": {\"user\": \"ops\", \"identity\": \"/k\", \"known_hosts\": \"/kh\"},\n"
             " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\", "
             "\"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123"
             "456789abcdef\"},\n"
             " \"policy\": {\"renew_before\": \"10d\", \"key\": {\"type\": \"rsa\", \"bits\": 3072}},\n"
             "%s}\n",
          rest);
  fclose(f);
  int rc = rd_runbook_load(path, reg, &rb, &diag);
  free(diag_text);
  diag_text = NULL;
  ck_assert_ptr_nonnull(m = open_memstream(&diag_text, &len));
  rd_diag_print(&diag, m);
  fclose(m);
  return rc;
}

/* The diagnostics name the place: "rb.json:LINE:COL: ...TEXT..." */
static void has_diag(int line, int col, const char *text) {
  char want[64];
  snprintf(want, sizeof want, "rb.json:%d:%d: ", line, col);
  const char *p = strstr(diag_text, want);
  ck_assert_msg(p && strstr(p, text) && (!strchr(p, '\n') || strstr(p, text) < strchr(p, '\n')),
                "want %s...%s in:\n%s", want, text, diag_text);
}

START_TEST(one_certificate) {
  ck_assert_int_eq(load(" \"certificate\": {\"cert\": \"/etc/w.crt\", \"key\": \"/etc/w.key\"},\n"
                        " \"steps\": [{\"type\": \"posix.service\", \"params\": {}}]\n"),
                   0);
  ck_assert_uint_eq(rb->ncerts, 1);
  ck_assert_int_eq(rb->multi, 0);
  ck_assert_int_eq(rb->together, 0);
  ck_assert_ptr_null(rb->certs[0].name);
  ck_assert_ptr_eq(rb->certs[0].selector, rb->certificate);
  ck_assert_int_eq(rb->certs[0].policy.key_bits, 3072);
  ck_assert(rb->certs[0].policy.renew_before_days == 10);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rb->certs[0].policy_json, "key"),
                                                     "type")),
                   "rsa");
  ck_assert_uint_eq(rb->nsteps, 1);
  ck_assert_int_eq(rb->steps[0].cert, -1);
}
END_TEST

START_TEST(several_certificates) {
  ck_assert_int_eq(
      load(" \"certificates\": [\n"
           "  {\"name\": \"rsa\", \"certificate\": {\"cert\": \"/etc/r.crt\", \"key\": \"/etc/r.key\"},\n"
           "   \"steps\": [{\"type\": \"posix.key_acl\", \"name\": \"acl\"}]},\n"
           "  {\"name\": \"ecdsa\", \"certificate\": {\"cert\": \"/etc/e.crt\", \"key\": \"/etc/e.key\"},\n"
           "   \"policy\": {\"key\": {\"type\": \"ec\", \"curve\": \"P-384\"}, \"rotate_key\": false},\n"
           "   \"steps\": [{\"type\": \"posix.key_acl\", \"name\": \"acl\"}]}],\n"
           " \"steps\": [{\"type\": \"posix.service\", \"name\": \"reload\"},\n"
           "   {\"type\": \"tls.verify\", \"name\": \"tls ecdsa\", \"certificate\": \"ecdsa\"}]\n"),
      0);
  ck_assert_uint_eq(rb->ncerts, 2);
  ck_assert_int_eq(rb->multi, 1);
  ck_assert_int_eq(rb->together, 0); /* the default: only the due ones change */
  ck_assert_str_eq(rb->certs[0].name, "rsa");
  ck_assert_str_eq(rb->certs[1].name, "ecdsa");
  ck_assert_ptr_eq(rb->certificate, rb->certs[0].selector);
  ck_assert_str_eq(json_string_value(json_object_get(rb->certs[1].selector, "cert")), "/etc/e.crt");
  ck_assert_int_eq(rb->certs[1].line, 9);
  /* each its own key policy over the runbook's */
  ck_assert_str_eq(rb->certs[0].policy.key_type, "rsa");
  ck_assert_int_eq(rb->certs[0].policy.key_bits, 3072);
  ck_assert_int_eq(rb->certs[0].policy.rotate_key, 1);
  ck_assert_str_eq(rb->certs[1].policy.key_type, "ec");
  ck_assert_str_eq(rb->certs[1].policy.curve, "P-384");
  ck_assert_int_eq(rb->certs[1].policy.rotate_key, 0);
  ck_assert(rb->certs[1].policy.renew_before_days == 10); /* the runbook's */
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rb->certs[1].policy_json, "key"),
                                                     "curve")),
                   "P-384");
  ck_assert_str_eq(json_string_value(json_object_get(rb->certs[1].policy_json, "renew_before")),
                   "10d");
  /* per-certificate steps (the same name in each is fine), host-level ones */
  ck_assert_uint_eq(rb->certs[0].nsteps, 1);
  ck_assert_uint_eq(rb->certs[1].nsteps, 1);
  ck_assert_int_eq(rb->certs[1].steps[0].cert, 1);
  ck_assert_ptr_eq(rb->certs[1].steps[0].kind, &k_acl);
  ck_assert_uint_eq(rb->nsteps, 2);
  ck_assert_int_eq(rb->steps[0].cert, -1);
  ck_assert_int_eq(rb->steps[1].cert, 1);
}
END_TEST

START_TEST(together) {
  ck_assert_int_eq(
      load(" \"together\": true,\n"
           " \"certificates\": [\n"
           "  {\"name\": \"a\", \"certificate\": {\"cert\": \"/etc/a.crt\", \"key\": \"/etc/a.key\"}},\n"
           "  {\"name\": \"b\", \"certificate\": {\"cert\": \"/etc/b.crt\", \"key\": \"/etc/b.key\"}}]\n"),
      0);
  ck_assert_int_eq(rb->together, 1);
  ck_assert_uint_eq(rb->ncerts, 2);
  ck_assert_uint_eq(rb->nsteps, 0);
}
END_TEST

START_TEST(errors) {
  /* both forms */
  ck_assert_int_eq(load(" \"certificate\": {\"cert\": \"/a\", \"key\": \"/b\"},\n"
                        " \"certificates\": []\n"),
                   RD_ECONFIG);
  has_diag(7, 2, "'certificate' (one) or 'certificates' (several), not both");
  rd_diag_free(&diag);
  /* neither */
  ck_assert_int_eq(load(" \"steps\": []\n"), RD_ECONFIG);
  ck_assert_msg(strstr(diag_text, "missing required key 'certificate' (or 'certificates'"), "%s",
                diag_text);
  rd_diag_free(&diag);
  /* 'together' with the one certificate; a step naming a certificate there */
  ck_assert_int_eq(load(" \"together\": true,\n"
                        " \"certificate\": {\"cert\": \"/a\", \"key\": \"/b\"},\n"
                        " \"steps\": [{\"type\": \"posix.service\", \"certificate\": \"x\"}]\n"),
                   RD_ECONFIG);
  has_diag(6, 2, "this runbook has the one 'certificate'");
  has_diag(8, 53, "but this runbook has the one 'certificate'");
  rd_diag_free(&diag);
  /* an empty list */
  ck_assert_int_eq(load(" \"certificates\": []\n"), RD_ECONFIG);
  has_diag(6, 18, "'certificates' is empty");
  rd_diag_free(&diag);
  /* an item's mistakes, each at its place */
  ck_assert_int_eq(
      load(" \"certificates\": [\n"
           "  {\"name\": \"a\", \"certificate\": {\"cert\": \"a.crt\", \"key\": \"/a.key\"}},\n"
           "  {\"name\": \"a\", \"certificate\": {\"cert\": \"/b.crt\", \"key\": \"/b.key\"},\n"
           "   \"policy\": {\"key\": {\"type\": \"ec\", \"curve\": \"P-999\"}}, \"color\": 1},\n"
           "  {\"name\": \"bad name\", \"certificate\": {\"cert\": \"/c.crt\"}},\n"
           "  {\"name\": \"d\"}],\n"
           " \"steps\": [{\"type\": \"tls.verify\", \"certificate\": \"nope\"}]\n"),
      RD_ECONFIG);
  has_diag(7, 41, "'certificates[0].certificate.cert' must be an absolute path on the target");
  has_diag(8, 12, "two certificates are named 'a' (the other at line 7)");
  has_diag(9, 46, "'certificates[1].policy.key.curve' must be \"P-256\", \"P-384\" or \"P-521\"");
  has_diag(9, 57, "unknown key 'color'");
  has_diag(10, 12, "a certificate's 'name' must be 1 to 64 letters");
  has_diag(10, 24, "missing required key 'key' in 'certificates[2].certificate'");
  has_diag(11, 3, "missing required key 'certificate'");
  has_diag(12, 50, "no certificate is named 'nope' in 'certificates'");
}
END_TEST

int main(void) {
  Suite *s = suite_create("runbook_certs");
  TCase *tc = tcase_create("forms");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, one_certificate);
  tcase_add_test(tc, several_certificates);
  tcase_add_test(tc, together);
  tcase_add_test(tc, errors);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
