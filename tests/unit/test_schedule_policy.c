/* test_schedule_policy.c — the runbook's renewal window (policy section):
 * renew_before as a duration or as a share of the lifetime ("33%", as
 * cert-manager's renewBeforePercentage), renew_fraction, and the
 * diagnostics with their file:line:column. */
#include <math.h>
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
static const rd_step_kind k_inv = {.type = "posix.inventory", .platform = RD_PLATFORM_POSIX,
                                   .flags = RD_KIND_INVENTORY, .probe = probe_stub};
static const rd_step_kind k_ins = {.type = "posix.install", .platform = RD_PLATFORM_POSIX,
                                   .flags = RD_KIND_INSTALL, .probe = probe_stub};
static const rd_step_kind k_iss = {.type = "scep.issue", .platform = RD_PLATFORM_POSIX,
                                   .flags = RD_KIND_ISSUER, .probe = probe_stub};
static const rd_step_kind *const kinds[] = {&k_inv, &k_ins, &k_iss, NULL};
static const rd_plugin plugin = RD_PLUGIN_INIT("fake", "1.0", kinds);

/* Line 7 holds the policy object: it opens at column 13, its first value
 * (after "{\"renew_before\": ") at column 30. */
#define FP64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEAD \
    "{\n" \
    "  \"name\": \"p\",\n" \
    "  \"targets\": {\"hosts\": [{\"name\": \"web1\"}]},\n" \
    "  \"ssh\": {\"user\": \"renewd\", \"identity\": \"id\", \"known_hosts\": \"kh\"},\n" \
    "  \"certificate\": {\"cert\": \"/etc/ssl/web.crt\", \"key\": \"/etc/ssl/web.key\"},\n" \
    "  \"issuer\": {\"type\": \"scep\", \"url\": \"https://ca.example/scep\", \"ca_fingerprint\": " \
    "\"sha256:" FP64 "\", \"challenge\": {\"env\": \"CH\"}},\n" \
    "  \"policy\": %s\n"                                                              \
    "}\n"

typedef struct loaded {
  int rc;
  rd_runbook *rb;
  rd_diag d;
  char all[4096];
} loaded;

static void load(const char *policy, loaded *out) {
  char path[] = "/tmp/test_schedule_policy.XXXXXX";
  rd_registry *reg = NULL;
  char err[256];
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  ck_assert_ptr_nonnull(f);
  fprintf(f, HEAD, policy);
  fclose(f);
  memset(out, 0, sizeof *out);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_msg(rd_registry_add(reg, &plugin, "test", err, sizeof err) == 0, "%s", err);
  out->rc = rd_runbook_load(path, reg, &out->rb, &out->d);
  for (size_t i = 0, n = 0; i < out->d.n && n < sizeof out->all; i++) {
    int w = snprintf(out->all + n, sizeof out->all - n, "\n  %d:%d: %s", out->d.items[i].line,
                     out->d.items[i].column, out->d.items[i].msg);
    if (w > 0)
      n += (size_t)w;
  }
  unlink(path);
  rd_registry_free(reg);
}

static void unload(loaded *l) {
  rd_runbook_free(l->rb);
  rd_diag_free(&l->d);
}

START_TEST(renew_before_percent) {
  static const struct {
    const char *policy;
    double days, fraction;
  } ok[] = {
      {"{\"renew_before\": \"33%\"}", 0, 0.33},
      {"{\"renew_before\": \"12.5%\"}", 0, 0.125},
      {"{\"renew_before\": \"99.9%\"}", 0, 0.999},
      {"{\"renew_before\": \"30d\"}", 30, 0},
      {"{\"renew_fraction\": 0.25}", 0, 0.25},
      {"{}", 0, 1.0 / 3},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    loaded l;
    load(ok[i].policy, &l);
    ck_assert_msg(l.rc == 0, "%s: %s", ok[i].policy, l.all);
    ck_assert_msg(fabs(l.rb->policy.renew_before_days - ok[i].days) < 1e-9, "%s", ok[i].policy);
    ck_assert_msg(fabs(l.rb->policy.renew_fraction - ok[i].fraction) < 1e-9, "%s: %g",
                  ok[i].policy, l.rb->policy.renew_fraction);
    unload(&l);
  }
}
END_TEST

START_TEST(renew_before_percent_errors) {
  static const struct {
    const char *policy;
    int column;
    const char *msg;
  } bad[] = {
      {"{\"renew_before\": \"0%\"}", 30, "percentage above 0 and below 100, e.g. \"33%\""},
      {"{\"renew_before\": \"100%\"}", 30, "got '100%'"},
      {"{\"renew_before\": \"-5%\"}", 30, "got '-5%'"},
      {"{\"renew_before\": \"3x%\"}", 30, "got '3x%'"},
      {"{\"renew_before\": \"%\"}", 30, "got '%'"},
      {"{\"renew_before\": \"33 %\"}", 30, "got '33 %'"},
      {"{\"renew_before\": \"1e1%\"}", 30, "got '1e1%'"},
      {"{\"renew_before\": \"5.%\"}", 30, "got '5.%'"},
      {"{\"renew_before\": \"33%\", \"renew_fraction\": 0.5}", 37,
       "'policy.renew_fraction' and a percentage in 'policy.renew_before' both give the share"},
      {"{\"renew_before\": \"33\"}", 30, "'policy.renew_before' is not a duration: '33'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    loaded l;
    int found = 0;
    load(bad[i].policy, &l);
    ck_assert_msg(l.rc == RD_ECONFIG, "%s: loaded (%d)", bad[i].policy, l.rc);
    for (size_t k = 0; k < l.d.n; k++)
      found |= l.d.items[k].line == 7 && l.d.items[k].column == bad[i].column &&
               strstr(l.d.items[k].msg, bad[i].msg) != NULL;
    ck_assert_msg(found, "%s: expected 7:%d: ...%s...; got:%s", bad[i].policy, bad[i].column,
                  bad[i].msg, l.all);
    unload(&l);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("schedule_policy");
  TCase *tc = tcase_create("policy");
  tcase_add_test(tc, renew_before_percent);
  tcase_add_test(tc, renew_before_percent_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
