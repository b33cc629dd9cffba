/* test_runbook.c — runbook loading and validation: the bad fixtures (each
 * with its message and exact line:column), the good ones (loaded values,
 * defaults, inventory expansion, relative paths), the shipped runbooks,
 * inventory files and `renewd validate`. Secret references:
 * test_runbook_secret.c; the JSON position map, durations and the
 * diagnostics' format: test_runbook_text.c.
 *
 * Step kinds come from a fake plugin registered here, so the tests do not
 * depend on the real plugins: "test.echo" rejects params without "msg". */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/err.h"
#include "config/inventory.h"
#include "config/jsonpos.h"
#include "host/registry.h"
#include "config/runbook.h"
#include "testutil.h"

/* ------------------------------------------------------------ fake plugin */

static int probe_stub(rd_step *s, const rd_host_api *h) {
  (void)s;
  (void)h;
  return RD_ENOTSUP;
}

static int echo_validate(const json_t *params, char *err, size_t errlen) {
  json_t *m = json_object_get(params, "msg");
  if (!m) {
    snprintf(err, errlen, "needs 'msg', the text to echo");
    return RD_EINVAL;
  }
  if (!json_is_string(m)) {
    snprintf(err, errlen, "'msg' must be a string");
    return RD_EINVAL;
  }
  return 0;
}

static int mode_validate(const json_t *params, char *err, size_t errlen) {
  const char *m = json_string_value(json_object_get(params, "mode"));
  if (json_object_get(params, "mode") && (!m || strlen(m) != 4 || m[0] != '0')) {
    snprintf(err, errlen, "posix.key_acl: \"mode\" must be an octal string like \"0600\"");
    return RD_EINVAL;
  }
  return 0;
}

#define KIND(var, name, plat, fl, val)                                                   \
  static const rd_step_kind var = {.type = name, .summary = "fake " name, .platform = plat, \
                                   .flags = fl, .validate = val, .probe = probe_stub}
KIND(k_echo, "test.echo", RD_PLATFORM_ANY, 0, echo_validate);
KIND(k_win, "test.win", RD_PLATFORM_WINDOWS, 0, NULL);
KIND(k_pinv, "posix.inventory", RD_PLATFORM_POSIX, RD_KIND_INVENTORY, NULL);
KIND(k_pins, "posix.install", RD_PLATFORM_POSIX, RD_KIND_INSTALL, NULL);
KIND(k_scep, "scep.issue", RD_PLATFORM_POSIX, RD_KIND_ISSUER, NULL);
KIND(k_winv, "windows.inventory", RD_PLATFORM_WINDOWS, RD_KIND_INVENTORY, NULL);
KIND(k_wins, "windows.install", RD_PLATFORM_WINDOWS, RD_KIND_INSTALL, NULL);
KIND(k_adcs, "adcs.issue", RD_PLATFORM_WINDOWS, RD_KIND_ISSUER, NULL);
KIND(k_acme, "acme.issue", RD_PLATFORM_ANY, RD_KIND_ISSUER, NULL);
KIND(k_manual, "manual.issue", RD_PLATFORM_ANY, RD_KIND_ISSUER, NULL);
/* the follow-ups the shipped runbooks use */
KIND(k_acl, "posix.key_acl", RD_PLATFORM_POSIX, 0, mode_validate);
KIND(k_prune, "posix.prune", RD_PLATFORM_POSIX, 0, NULL);
KIND(k_conf, "posix.config_thumbprint", RD_PLATFORM_POSIX, 0, NULL);
KIND(k_svc, "posix.service", RD_PLATFORM_POSIX, RD_KIND_RESTART, NULL);
KIND(k_tls, "tls.verify", RD_PLATFORM_ANY, RD_KIND_CHECK, NULL);
KIND(k_wacl, "windows.key_acl", RD_PLATFORM_WINDOWS, 0, NULL);
KIND(k_wdup, "windows.prune_duplicates", RD_PLATFORM_WINDOWS, 0, NULL);
KIND(k_wreg, "windows.registry_thumbprint", RD_PLATFORM_WINDOWS, 0, NULL);
KIND(k_wsvc, "windows.service", RD_PLATFORM_WINDOWS, RD_KIND_RESTART, NULL);
KIND(k_wev, "windows.event_verify", RD_PLATFORM_WINDOWS, RD_KIND_CHECK, NULL);
KIND(k_wiis, "windows.iis_binding", RD_PLATFORM_WINDOWS, 0, NULL);
KIND(k_wgc, "windows.ndes_getcacaps", RD_PLATFORM_WINDOWS, RD_KIND_CHECK, NULL);
KIND(k_wlog, "windows.log_verify", RD_PLATFORM_WINDOWS, RD_KIND_CHECK, NULL);

static const rd_step_kind *const fake_kinds[] = {
    &k_echo, &k_win,  &k_pinv, &k_pins, &k_scep, &k_winv, &k_wins, &k_adcs, &k_acl, &k_prune,
    &k_conf, &k_svc,  &k_tls,  &k_wacl, &k_wdup, &k_wreg, &k_wsvc, &k_wev,  &k_wiis,
    &k_wgc,  &k_wlog, &k_acme, &k_manual, NULL};
static const rd_plugin fake_plugin = RD_PLUGIN_INIT("fake", "1.0", fake_kinds);
/* the platforms' kinds, no issuer: a build without the issuers' plugins */
static const rd_step_kind *const platform_kinds[] = {&k_pinv, &k_pins, &k_winv, &k_wins, NULL};
static const rd_plugin platform_plugin = RD_PLUGIN_INIT("platforms", "1.0", platform_kinds);

static rd_registry *fake_registry(void) {
  rd_registry *r = NULL;
  char err[256];
  ck_assert_int_eq(rd_registry_new(&r), 0);
  ck_assert_msg(rd_registry_add(r, &fake_plugin, "test", err, sizeof err) == 0, "%s", err);
  return r;
}

static char *fixture(const char *rel) {
  static char path[2048];
  snprintf(path, sizeof path, "%s/runbooks/%s", FIXTURES, rel);
  return path;
}

static void dump(const rd_diag *d, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < d->n && n < len; i++) {
    int w = snprintf(buf + n, len - n, "\n  %s:%d:%d: %s", d->items[i].file, d->items[i].line,
                     d->items[i].column, d->items[i].msg);
    if (w < 0)
      break;
    n += (size_t)w;
  }
}

/* ------------------------------------------------------------ bad runbooks */

typedef struct bad_case {
  const char *name;  /* bad/<name>.json */
  const char *file;  /* where the message is, when not in the runbook (suffix) */
  int line, column;
  const char *msg;   /* substring */
} bad_case;

/* Positions come from tests/fixtures/runbooks/gen.py, which finds them by
 * plain text search; the syntax errors carry jansson's own positions (the
 * last character of the offending token). */
static const bad_case bad[] = {
    {"syntax-comma", "", 3, 11, "invalid JSON: '}' expected near '\"targets\"'"},
    {"syntax-trailing", "", 17, 73, "invalid JSON: string or '}' expected near '}'"},
    {"duplicate-key", "", 2, 27, "invalid JSON: duplicate object key near '\"name\"'"},
    {"not-object", "", 1, 1, "a runbook must be a JSON object, got array"},
    {"nul-byte", "", 2, 15, "a NUL byte (0x00): a runbook is JSON text, which holds none"},
    {"unknown-top-key", "", 17, 3, "unknown key 'scheduel' in the top level; did you mean 'schedule'?"},
    {"unknown-ssh-key", "", 8, 53, "unknown key 'prot' in 'ssh'; did you mean 'port'?"},
    {"unknown-key-no-guess", "", 13, 37, "unknown key 'colour' in 'policy'; expected one of: renew_before, renew_fraction, key, rotate_key"},
    {"max-parallel-string", "", 17, 71, "'schedule.max_parallel' must be an integer ≥ 1, got string"},
    {"max-parallel-zero", "", 17, 71, "'schedule.max_parallel' must be an integer ≥ 1, got 0"},
    {"missing-issuer", "", 1, 1, "missing required key 'issuer' in the top level"},
    {"missing-user", "", 7, 3, "missing required key 'user' in 'ssh'"},
    {"missing-known-hosts", "", 7, 3, "missing required key 'known_hosts' in 'ssh'"},
    {"ssh-not-object", "", 7, 10, "'ssh' must be an object, got string"},
    {"ssh-port-range", "", 8, 61, "'ssh.port' must be an integer from 1 to 65535, got 70000"},
    {"unknown-step-kind", "", 15, 14, "unknown step kind 'test.ecko'; did you mean 'test.echo'?"},
    {"step-params-missing", "", 15, 42, "steps[0] (say): needs 'msg', the text to echo"},
    {"step-params-named", "", 15, 53, "steps[0] (say): 'msg' must be a string"},
    {"step-params-dquote", "", 15, 74, "steps[0] (acl): posix.key_acl: \"mode\" must be an octal string"},
    {"step-no-type", "", 15, 5, "missing required key 'type' in 'steps[0]'"},
    {"step-duplicate-name", "", 16, 35, "two steps are named 'say' (the other at line 15)"},
    {"step-wrong-platform", "", 15, 14, "step kind 'test.win' runs on Windows targets, but this runbook's targets are all POSIX"},
    {"step-engine-kind", "", 15, 14, "step kind 'scep.issue' does not belong in 'steps'"},
    {"step-timeout", "", 15, 78, "'steps[0].timeout' must be longer than 0"},
    {"inline-challenge", "", 12, 27, "inline secret in 'issuer.challenge': put it in a file or environment variable: {\"file\": \"/etc/renewd/challenge\"} or {\"env\": \"NAME\"}"},
    {"inline-step-password", "", 15, 83, "inline secret in 'steps[0].params.bind_password'"},
    {"secret-both", "", 12, 27, "'issuer.challenge' must name either 'file' or 'env', not both"},
    {"secret-bad-env", "", 12, 35, "'issuer.challenge.env' must be an environment variable name"},
    {"secret-neither", "", 12, 27, "'issuer.challenge' must be {\"file\": \"/etc/renewd/challenge\"} or {\"env\": \"NAME\"}"},
    {"secret-unknown-key", "", 12, 53, "unknown key 'fiel' in 'issuer.challenge'; did you mean 'file'?"},
    {"secret-empty-file", "", 12, 36, "'issuer.challenge.file' must be a file name (a non-empty string), got \"\""},
    {"jitter-too-long", "", 17, 49, "'schedule.jitter' (1h) must be shorter than 'schedule.scan_interval' (1h)"},
    {"bad-duration", "", 17, 33, "'schedule.scan_interval' is not a duration: '5 minutes'"},
    {"window-never-opens", "", 17, 84, "'01:00-01:00' is empty"},
    {"window-bad-day", "", 17, 84, "unknown day"},
    {"waves-not-growing", "", 18, 29, "'schedule.waves' must grow: wave 2 (3 hosts) is not larger than wave 1 (5 hosts)"},
    {"waves-over-100", "", 17, 87, "wave 2 is '150%': more than 100% of the targets"},
    {"waves-last-not-all", "", 17, 87, "the last wave must be \"100%\""},
    {"renew-fraction", "", 13, 32, "'policy.renew_fraction' must be between 0 and 1"},
    {"key-bits", "", 13, 68, "'policy.key.bits' must be 2048, 3072 or 4096"},
    {"bad-platform", "", 5, 71, "'targets.hosts[1].platform' must be \"posix\" or \"windows\", got 'linux'"},
    {"duplicate-target", "", 5, 14, "duplicate target name 'web1' (first defined at line 4)"},
    {"empty-targets", "", 3, 24, "'targets.hosts' is empty: a runbook needs at least one target"},
    {"targets-neither", "", 3, 3, "'targets' needs 'inventory'"},
    {"target-bad-name", "", 4, 14, "target name 'web 1' must be letters, digits"},
    {"issuer-unknown", "", 10, 22, "unknown issuer type 'vault'; known: scep, adcs, acme"},
    {"acme-typo", "", 10, 22, "unknown issuer type 'acne'; did you mean 'acme'?"},
    {"acme-unknown-key", "", 12, 14, "unknown key 'web_root' in 'issuer'; did you mean 'webroot'?"},
    {"acme-no-directory", "", 10, 3, "missing required key 'directory' in 'issuer'"},
    {"acme-http-directory", "", 10, 43, "'issuer.directory' must be the https:// URL of the ACME directory, got 'http://acme.example/dir'"},
    {"acme-no-account-key", "", 10, 3, "missing required key 'account_key' in 'issuer'"},
    {"acme-challenge-type", "", 12, 32, "'issuer.challenge_type' must be \"http-01\" (the default) or \"dns-01\", got 'tls-alpn-01'"},
    {"acme-no-webroot", "", 10, 13, "http-01 needs 'issuer.webroot', the directory the target's web server serves"},
    {"acme-dns-no-hook", "", 10, 13, "dns-01 needs 'issuer.dns_hook', the executable run on the target"},
    {"acme-eab-inline", "", 12, 46, "'issuer.eab.hmac_key' must be {\"file\": \"/etc/renewd/hmac_key\"} or {\"env\": \"NAME\"}, got string"},
    {"acme-relative-webroot", "", 12, 25, "'issuer.webroot' must be an absolute path on the target, got 'www'"},
    {"issuer-typo", "", 10, 22, "unknown issuer type 'secp'; did you mean 'scep'?"},
    {"scep-no-url", "", 10, 3, "missing required key 'url' in 'issuer'"},
    {"scep-bad-url", "", 10, 37, "'issuer.url' must be an http:// or https:// URL"},
    {"scep-no-fingerprint", "", 10, 3, "missing required key 'ca_fingerprint' in 'issuer'"},
    {"scep-bad-fingerprint", "", 11, 32, "'issuer.ca_fingerprint' must be \"sha256:\" and 64 hex digits"},
    {"adcs-on-posix", "", 10, 22, "issuer 'adcs' renews Windows targets"},
    {"posix-no-key", "", 9, 3, "missing required key 'key' in 'certificate'"},
    {"cert-relative", "", 9, 27, "'certificate.cert' must be an absolute path on the target, got 'web.crt'"},
    {"name-bad", "", 2, 11, "'name' must be 1 to 64 letters, digits"},
    {"notify-url", "", 18, 33, "'notify.webhook.url' must be an http:// or https:// URL"},
    {"notify-days", "", 18, 45, "'notify.before_expiry_days' lists 30 twice"},
    {"win-no-selector", "", 6, 3, "'certificate' needs a selector for Windows targets"},
    {"win-posix-key", "", 6, 77, "'certificate.cert' is a file path for POSIX targets"},
    {"win-scep", "", 7, 22, "issuer 'scep' renews POSIX targets"},
    {"win-acme", "", 7, 132, "'issuer.dns_hook' must be an absolute path on the target, got '/x'"},
    {"win-bad-config", "", 7, 40, "'issuer.config' must be \"<CA host>\\\\<CA name>\""},
    {"win-thumbprint", "", 6, 62, "'certificate.thumbprint' must be a SHA-1 thumbprint"},
    {"inventory-missing", "", 3, 28, "/runbooks/bad/../inv/nonexistent.json': no such file"},
    {"inventory-unknown-group", "", 3, 62, "unknown group 'tsl' in inventory '"},
    {"inventory-not-in-group", "", 4, 34, "host 'h0003' is not in group 'tls' of inventory"},
    {"inventory-unknown-host", "", 3, 72, "host 'h001' is not in inventory"},
    {"inventory-empty-group", "", 3, 3, "'targets' selects no hosts: group 'empty' of inventory"},
    {"inventory-group-without-file", "", 3, 15, "'targets.group' selects hosts of an inventory"},
    {"inventory-broken", "inv/broken.json", 5, 30, "group 'tls' lists 'h0009', which is not in 'hosts'; did you mean 'h0001'?"},
};
#define NBAD (sizeof bad / sizeof bad[0])

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

START_TEST(bad_runbook) {
  const bad_case *b = &bad[_i];
  char rel[256], all[8192];
  const char *path;
  rd_registry *reg = fake_registry();
  rd_diag d = {0};
  rd_runbook *rb = NULL;
  int found = 0, rc;
  snprintf(rel, sizeof rel, "bad/%s.json", b->name);
  path = fixture(rel);
  rc = rd_runbook_load(path, reg, &rb, &d);
  dump(&d, all, sizeof all);
  ck_assert_msg(rc == RD_ECONFIG, "%s: loaded (rc %d), expected an error%s", b->name, rc, all);
  ck_assert_ptr_null(rb);
  for (size_t i = 0; i < d.n && !found; i++) {
    const rd_diag_item *it = &d.items[i];
    int file_ok = b->file[0] ? ends_with(it->file, b->file) : !strcmp(it->file, path);
    found = file_ok && it->line == b->line && it->column == b->column && strstr(it->msg, b->msg);
  }
  ck_assert_msg(found, "%s: expected %s:%d:%d: ...%s...; got:%s", b->name,
                b->file[0] ? b->file : "(runbook)", b->line, b->column, b->msg, all);
  /* the message names the problem once, not once per pass */
  for (size_t i = 0; i + 1 < d.n; i++)
    ck_assert_msg(strcmp(d.items[i].msg, d.items[i + 1].msg) || d.items[i].line != d.items[i + 1].line,
                  "%s: repeated diagnostic%s", b->name, all);
  rd_diag_free(&d);
  rd_registry_free(reg);
}
END_TEST

/* Every fixture in bad/ has a row in the table (and vice versa). */
START_TEST(bad_table_complete) {
  DIR *dir = opendir(fixture("bad"));
  struct dirent *e;
  size_t nfiles = 0;
  ck_assert_ptr_nonnull(dir);
  while ((e = readdir(dir))) {
    size_t l = strlen(e->d_name);
    int known = 0;
    if (l < 6 || strcmp(e->d_name + l - 5, ".json") || !strcmp(e->d_name, "many.json"))
      continue;
    nfiles++;
    for (size_t i = 0; i < NBAD && !known; i++)
      known = strlen(bad[i].name) == l - 5 && !strncmp(bad[i].name, e->d_name, l - 5);
    ck_assert_msg(known, "bad/%s has no expectation in test_runbook.c", e->d_name);
  }
  closedir(dir);
  ck_assert_uint_eq(nfiles, NBAD);
  ck_assert_uint_ge(NBAD, 30);
}
END_TEST

/* All problems are reported, sorted by position. */
START_TEST(bad_many) {
  rd_registry *reg = fake_registry();
  rd_diag d = {0};
  rd_runbook *rb = NULL;
  char all[4096];
  ck_assert_int_eq(rd_runbook_load(fixture("bad/many.json"), reg, &rb, &d), RD_ECONFIG);
  dump(&d, all, sizeof all);
  ck_assert_msg(d.n == 4, "expected 4 problems:%s", all);
  ck_assert_int_eq(d.items[0].line, 2); /* name */
  ck_assert_ptr_nonnull(strstr(d.items[0].msg, "'name' must be"));
  ck_assert_int_eq(d.items[1].line, 4); /* sudo */
  ck_assert_ptr_nonnull(strstr(d.items[1].msg, "'ssh.sudo' must be true or false, got string"));
  ck_assert_int_eq(d.items[2].line, 6);
  ck_assert_ptr_nonnull(strstr(d.items[2].msg, "ca_fingerprint"));
  ck_assert_int_eq(d.items[3].line, 6);
  ck_assert_ptr_nonnull(strstr(d.items[3].msg, "inline secret in 'issuer.challenge'"));
  ck_assert_int_lt(d.items[2].column, d.items[3].column);
  rd_diag_free(&d);
  rd_registry_free(reg);
}
END_TEST

/* Without a registry, step kinds are not checked (validate without plugins). */
START_TEST(no_registry_skips_kinds) {
  rd_diag d = {0};
  rd_runbook *rb = NULL;
  ck_assert_int_eq(rd_runbook_load(fixture("bad/unknown-step-kind.json"), NULL, &rb, &d), 0);
  ck_assert_uint_eq(d.n, 0);
  ck_assert_uint_eq(rb->nsteps, 1);
  ck_assert_str_eq(rb->steps[0].type, "test.ecko");
  ck_assert_ptr_null(rb->steps[0].kind);
  rd_runbook_free(rb);
}
END_TEST

/* Every issuer type needs its "<type>.issue" kind loaded, or each job would
 * stop at run time: validate says so (acme and manual were not checked). */
START_TEST(issuer_kind_not_loaded) {
  static const struct { const char *file, *type; } c[] = {
      {"good/acme.json", "acme"},
      {SOURCE_DIR "/runbooks/windows-ndes-ssl-watch.json", "manual"},
      {"good/full.json", "scep"},
      {"good/windows.json", "adcs"}};
  rd_registry *reg = NULL;
  char err[256], path[2048], want[160], all[4096];
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_msg(rd_registry_add(reg, &platform_plugin, "test", err, sizeof err) == 0, "%s", err);
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    rd_diag d = {0};
    rd_runbook *rb = NULL;
    int found = 0;
    snprintf(path, sizeof path, "%s", c[i].file[0] == '/' ? c[i].file : fixture(c[i].file));
    snprintf(want, sizeof want, "issuer type '%s' needs step kind '%s.issue', which no loaded plugin provides",
             c[i].type, c[i].type);
    ck_assert_int_eq(rd_runbook_load(path, reg, &rb, &d), RD_ECONFIG);
    dump(&d, all, sizeof all);
    for (size_t k = 0; k < d.n; k++)
      found |= !strcmp(d.items[k].msg, want);
    ck_assert_msg(found, "%s: no '%s' in:%s", c[i].file, want, all);
    rd_diag_free(&d);
  }
  rd_registry_free(reg);
}
END_TEST

/* ------------------------------------------------------------ good runbooks */

static rd_runbook *load_good(const char *rel, const rd_registry *reg) {
  rd_diag d = {0};
  rd_runbook *rb = NULL;
  char all[4096];
  int rc = rd_runbook_load(fixture(rel), reg, &rb, &d);
  dump(&d, all, sizeof all);
  ck_assert_msg(rc == 0, "%s: rc %d:%s", rel, rc, all);
  ck_assert_uint_eq(d.n, 0);
  rd_diag_free(&d);
  return rb;
}

START_TEST(good_inline_defaults) {
  rd_registry *reg = fake_registry();
  rd_runbook *rb = load_good("good/inline.json", reg);
  char want[2048];
  ck_assert_str_eq(rb->name, "inline-defaults");
  ck_assert_uint_eq(rb->ntargets, 3);
  ck_assert_str_eq(rb->targets[0].name, "web1");
  ck_assert_str_eq(rb->targets[0].address, "10.0.0.5");
  ck_assert_int_eq(rb->targets[0].port, 22);
  ck_assert_int_eq(rb->targets[0].platform, RD_PLATFORM_POSIX);
  ck_assert(json_is_object(rb->targets[0].vars) && json_object_size(rb->targets[0].vars) == 0);
  ck_assert_int_eq(rb->targets[1].port, 2222);
  ck_assert_int_eq(json_integer_value(json_object_get(rb->targets[1].vars, "tls_port")), 8443);
  ck_assert_str_eq(rb->targets[2].address, "web3.example.org"); /* address defaults to name */
  ck_assert_ptr_nonnull(rd_runbook_target(rb, "web2"));
  ck_assert_ptr_null(rd_runbook_target(rb, "web4"));
  ck_assert_uint_eq(rb->platforms, 1u << RD_PLATFORM_POSIX);
  /* relative paths resolve against the runbook's directory */
  snprintf(want, sizeof want, "%s/runbooks/good", FIXTURES);
  ck_assert_str_eq(rb->dir, want);
  snprintf(want, sizeof want, "%s/runbooks/good/keys/id_ed25519", FIXTURES);
  ck_assert_str_eq(rb->ssh.identity, want);
  snprintf(want, sizeof want, "%s/runbooks/good/known_hosts", FIXTURES);
  ck_assert_str_eq(rb->ssh.known_hosts, want);
  snprintf(want, sizeof want, "%s/runbooks/good/keys/challenge", FIXTURES);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rb->issuer, "challenge"), "file")),
                   want);
  snprintf(want, sizeof want, "%s/runbooks/good/keys/ca.fingerprint", FIXTURES);
  ck_assert_str_eq(
      json_string_value(json_object_get(json_object_get(rb->issuer, "ca_fingerprint"), "file")), want);
  snprintf(want, sizeof want, "%s/runbooks/good/keys/ca-bundle.pem", FIXTURES);
  ck_assert_str_eq(json_string_value(json_object_get(rb->issuer, "ca_bundle")), want);
  /* defaults */
  ck_assert_str_eq(rb->ssh.user, "renewd");
  ck_assert_int_eq(rb->ssh.sudo, 0);
  ck_assert_int_eq(rb->ssh.agent, 0);
  ck_assert_int_eq(rb->ssh.passphrase.kind, RD_SECRET_NONE);
  ck_assert_int_eq(rb->ssh.connect_timeout_ms, 10000);
  ck_assert_int_eq(rb->ssh.command_timeout_ms, 120000);
  ck_assert(fabs(rb->policy.renew_fraction - 1.0 / 3) < 1e-9);
  ck_assert(rb->policy.renew_before_days == 0);
  ck_assert_str_eq(rb->policy.key_type, "rsa");
  ck_assert_int_eq(rb->policy.key_bits, 2048);
  ck_assert_ptr_null(rb->policy.curve);
  ck_assert_int_eq(rb->policy.rotate_key, 1);
  ck_assert_int_eq(rb->schedule.scan_interval_s, 3600);
  ck_assert_int_eq(rb->schedule.jitter_s, 360);
  ck_assert_int_eq(rb->schedule.max_parallel, 16);
  ck_assert_ptr_null(rb->schedule.window);
  ck_assert_int_eq(rb->schedule.win.always, 1);
  ck_assert_ptr_null(rb->schedule.waves);
  ck_assert_ptr_null(rb->notify);
  ck_assert_uint_eq(rb->nsteps, 1);
  ck_assert_str_eq(rb->steps[0].type, "test.echo");
  ck_assert_str_eq(rb->steps[0].name, "test.echo"); /* name defaults to type */
  ck_assert_ptr_eq(rb->steps[0].kind, &k_echo);
  ck_assert_int_eq(rb->steps[0].timeout_ms, 120000);
  ck_assert_str_eq(json_string_value(json_object_get(rb->steps[0].params, "msg")), "hello");
  ck_assert_int_eq(rb->steps[0].line, 14);
  ck_assert_int_eq(rb->steps[0].column, 5);
  ck_assert_ptr_null(rb->inventory);
  ck_assert_str_eq(json_string_value(json_object_get(rb->certificate, "cert")), "/etc/ssl/web.crt");
  ck_assert_str_eq(json_string_value(json_object_get(rb->issuer, "type")), "scep");
  rd_runbook_free(rb);
  rd_registry_free(reg);
}
END_TEST

START_TEST(good_full_values) {
  rd_registry *reg = fake_registry();
  rd_runbook *rb = load_good("good/full.json", reg);
  time_t t;
  ck_assert_str_eq(rb->name, "full.values-1");
  ck_assert_int_eq(rb->targets[0].port, 2200); /* from ssh.port */
  ck_assert_int_eq(rb->ssh.sudo, 1);
  ck_assert_int_eq(rb->ssh.agent, 1);
  ck_assert_int_eq(rb->ssh.passphrase.kind, RD_SECRET_ENV);
  ck_assert_str_eq(rb->ssh.passphrase.name, "RENEWD_KEY_PASS");
  ck_assert_int_eq(rb->ssh.connect_timeout_ms, 5000);       /* a number of seconds */
  ck_assert_int_eq(rb->ssh.command_timeout_ms, 5400000);    /* "1.5h" */
  ck_assert(rb->policy.renew_before_days == 14);
  ck_assert(rb->policy.renew_fraction == 0.25); /* kept, but renew_before decides */
  ck_assert_str_eq(rb->policy.key_type, "ec");
  ck_assert_str_eq(rb->policy.curve, "P-384");
  ck_assert_int_eq(rb->policy.key_bits, 0);
  ck_assert_int_eq(rb->policy.rotate_key, 0);
  ck_assert_uint_eq(rb->nsteps, 2);
  ck_assert_int_eq(rb->steps[0].timeout_ms, 500);           /* "500ms" */
  ck_assert_int_eq(rb->steps[1].timeout_ms, 30000);
  ck_assert_str_eq(rb->steps[1].name, "second");
  ck_assert_int_eq(rb->schedule.scan_interval_s, 1800);
  ck_assert_int_eq(rb->schedule.jitter_s, 90);
  ck_assert_int_eq(rb->schedule.max_parallel, 3);
  ck_assert_str_eq(rb->schedule.window, "Mon-Fri 01:00-05:00");
  ck_assert_int_eq(rb->schedule.win.always, 0);
  t = 1700000000 - 1700000000 % 86400 + 6 * 86400 + 2 * 3600; /* Monday 2023-11-20, 02:00 UTC */
  ck_assert_int_eq(rd_window_is_open(&rb->schedule.win, t, 0), 1);
  ck_assert_int_eq(rd_window_is_open(&rb->schedule.win, t + 4 * 3600, 0), 0);
  ck_assert_int_eq(json_array_size(rb->schedule.waves), 3);
  ck_assert_ptr_nonnull(rb->notify);
  ck_assert_int_eq(json_array_size(json_object_get(rb->notify, "before_expiry_days")), 3);
  ck_assert_str_eq(json_string_value(json_object_get(rb->certificate, "subject_cn")), "db1.example.org");
  rd_runbook_free(rb);
  rd_registry_free(reg);
}
END_TEST

START_TEST(good_inventory_group) {
  rd_registry *reg = fake_registry();
  rd_runbook *rb = load_good("good/inventory-tls.json", reg);
  char want[2048];
  snprintf(want, sizeof want, "%s/runbooks/good/../inv/inventory.json", FIXTURES);
  ck_assert_str_eq(rb->inventory, want);
  ck_assert_str_eq(rb->group, "tls");
  ck_assert_uint_eq(rb->ntargets, 2);
  ck_assert_str_eq(rb->targets[0].name, "h0001");
  ck_assert_str_eq(rb->targets[0].address, "127.10.0.2");
  ck_assert_int_eq(rb->targets[0].port, 22);
  ck_assert_int_eq(json_integer_value(json_object_get(rb->targets[0].vars, "tls_port")), 443);
  ck_assert(json_is_true(json_object_get(rb->targets[0].vars, "tls")));
  ck_assert_str_eq(rb->targets[1].name, "h0002");
  ck_assert_int_eq(rb->targets[1].port, 2201);
  ck_assert_int_eq(rb->ssh.sudo, 1);
  rd_runbook_free(rb);
  rd_registry_free(reg);
}
END_TEST

START_TEST(good_inventory_all_and_filter) {
  rd_registry *reg = fake_registry();
  rd_runbook *rb = load_good("good/inventory-all.json", reg);
  ck_assert_str_eq(rb->group, "all");
  ck_assert_uint_eq(rb->ntargets, 4);
  ck_assert_int_eq(rb->targets[0].port, 22);   /* the inventory's port wins */
  ck_assert_int_eq(rb->targets[2].port, 2200); /* else ssh.port */
  ck_assert_str_eq(rb->targets[3].name, "h0004");
  ck_assert_str_eq(rb->targets[3].address, "h0004");
  ck_assert_ptr_null(rb->ssh.identity); /* agent only */
  rd_runbook_free(rb);
  rb = load_good("good/inventory-filter.json", reg);
  ck_assert_uint_eq(rb->ntargets, 2); /* in the filter's order */
  ck_assert_str_eq(rb->targets[0].name, "h0004");
  ck_assert_str_eq(rb->targets[1].name, "h0002");
  rd_runbook_free(rb);
  rd_registry_free(reg);
}
END_TEST

START_TEST(good_windows) {
  rd_registry *reg = fake_registry();
  rd_runbook *rb = load_good("good/windows.json", reg);
  ck_assert_int_eq(rb->targets[0].platform, RD_PLATFORM_WINDOWS);
  ck_assert_uint_eq(rb->platforms, 1u << RD_PLATFORM_WINDOWS);
  ck_assert_str_eq(rb->ssh.user, "CORP\\svc_renewd");
  ck_assert_ptr_eq(rb->steps[0].kind, &k_win);
  ck_assert_int_eq(rb->schedule.win.always, 0);
  rd_runbook_free(rb);
  rd_registry_free(reg);
}
END_TEST

/* A relative runbook path resolves against the working directory. */
/* An acme issuer: its keys kept, admin-host paths resolved. */
START_TEST(good_acme) {
  rd_registry *reg = fake_registry();
  rd_runbook *rb = load_good("good/acme.json", reg);
  char want[2048];
  ck_assert_str_eq(json_string_value(json_object_get(rb->issuer, "type")), "acme");
  ck_assert_str_eq(json_string_value(json_object_get(rb->issuer, "challenge_type")), "dns-01");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rb->issuer, "eab"), "kid")),
                   "kid-1");
  snprintf(want, sizeof want, "%s/runbooks/good/keys/acme.key", FIXTURES);
  ck_assert_str_eq(
      json_string_value(json_object_get(json_object_get(rb->issuer, "account_key"), "file")), want);
  snprintf(want, sizeof want, "%s/runbooks/good/keys/ca-bundle.pem", FIXTURES);
  ck_assert_str_eq(json_string_value(json_object_get(rb->issuer, "ca_bundle")), want);
  rd_runbook_free(rb);
  rd_registry_free(reg);
}
END_TEST

START_TEST(relative_runbook_path) {
  char cwd[4096], base[4096], want[8300];
  rd_diag d = {0};
  rd_runbook *rb = NULL;
  ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
  ck_assert_int_eq(chdir(fixture("")), 0);
  ck_assert_ptr_nonnull(getcwd(base, sizeof base));
  ck_assert_int_eq(rd_runbook_load("./good/inline.json", NULL, &rb, &d), 0);
  ck_assert_int_eq(chdir(cwd), 0);
  snprintf(want, sizeof want, "%s/good/keys/id_ed25519", base);
  ck_assert_str_eq(rb->ssh.identity, want);
  ck_assert_str_eq(rb->path, "./good/inline.json");
  rd_runbook_free(rb);
  rd_diag_free(&d);
}
END_TEST

/* ------------------------------------------------------------ shipped runbooks */

/* The lab runbook names the lab's inventory, which exists only where the lab
 * runs; load it with that path pointed at the fixture inventory. */
static int load_shipped(const char *name, const rd_registry *reg, rd_runbook **rb, rd_diag *d) {
  char path[2048], tmp[] = "/tmp/renewd-runbook-XXXXXX.json", *text;
  const char *lab_inv = "/var/lib/renewd-lab/inventory.json", *at;
  size_t len = 0;
  FILE *f;
  int fd, rc;
  snprintf(path, sizeof path, "%s/runbooks/%s", SOURCE_DIR, name);
  f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  text = calloc(1, 1 << 20);
  len = fread(text, 1, (1 << 20) - 1, f);
  fclose(f);
  if (!(at = strstr(text, lab_inv))) {
    free(text);
    return rd_runbook_load(path, reg, rb, d);
  }
  ck_assert_int_ge(fd = mkstemps(tmp, 5), 0);
  f = fdopen(fd, "w");
  fwrite(text, 1, (size_t)(at - text), f);
  fputs(fixture("inv/inventory.json"), f);
  fwrite(at + strlen(lab_inv), 1, len - (size_t)(at - text) - strlen(lab_inv), f);
  fclose(f);
  free(text);
  rc = rd_runbook_load(tmp, reg, rb, d);
  unlink(tmp);
  return rc;
}

START_TEST(shipped_runbooks_validate) {
  char dirpath[2048];
  DIR *dir;
  struct dirent *e;
  int n = 0;
  rd_registry *reg = fake_registry();
  snprintf(dirpath, sizeof dirpath, "%s/runbooks", SOURCE_DIR);
  ck_assert_ptr_nonnull(dir = opendir(dirpath));
  while ((e = readdir(dir))) {
    size_t l = strlen(e->d_name);
    rd_diag d = {0};
    rd_runbook *rb = NULL;
    char all[4096];
    int rc;
    if (l < 6 || strcmp(e->d_name + l - 5, ".json") || !strcmp(e->d_name, "schema.json"))
      continue;
    rc = load_shipped(e->d_name, reg, &rb, &d);
    dump(&d, all, sizeof all);
    ck_assert_msg(rc == 0, "runbooks/%s does not validate:%s", e->d_name, all);
    if (strcmp(json_string_value(json_object_get(rb->issuer, "type")), "manual"))
      ck_assert_uint_ge(rb->nsteps, 1); /* a manual issuer's runbook only watches */
    for (size_t i = 0; i < rb->nsteps; i++)
      ck_assert_ptr_nonnull(rb->steps[i].kind);
    rd_runbook_free(rb);
    rd_diag_free(&d);
    n++;
  }
  closedir(dir);
  ck_assert_int_ge(n, 4);
  rd_registry_free(reg);
}
END_TEST

START_TEST(shipped_lab_values) {
  rd_registry *reg = fake_registry();
  rd_diag d = {0};
  rd_runbook *rb = NULL;
  ck_assert_int_eq(load_shipped("lab-posix-scep.json", reg, &rb, &d), 0);
  ck_assert_str_eq(rb->name, "lab-posix-scep");
  ck_assert_str_eq(rb->group, "tls");
  ck_assert_uint_eq(rb->ntargets, 2);
  ck_assert_str_eq(rb->ssh.user, "labadm");
  ck_assert_str_eq(rb->ssh.identity, "/var/lib/renewd-lab/id_ed25519");
  ck_assert_str_eq(rb->ssh.known_hosts, "/var/lib/renewd-lab/known_hosts");
  ck_assert_int_eq(rb->ssh.sudo, 1);
  ck_assert(rb->policy.renew_before_days == 10);
  ck_assert(rb->policy.renew_fraction == 0);
  ck_assert_uint_eq(rb->nsteps, 6);
  ck_assert_str_eq(rb->steps[0].type, "posix.key_acl");
  ck_assert_str_eq(rb->steps[5].type, "tls.verify");
  ck_assert_int_eq(rb->steps[5].timeout_ms, 30000);
  ck_assert_str_eq(json_string_value(json_object_get(rb->issuer, "url")), "http://127.0.0.2:8080/scep");
  rd_runbook_free(rb);
  rd_diag_free(&d);
  rd_registry_free(reg);
}
END_TEST

/* ------------------------------------------------------------ pieces */

START_TEST(inventory_files) {
  rd_inventory *inv = NULL;
  rd_diag d = {0};
  char err[512], list[256];
  const rd_inv_group *g;
  ck_assert_int_eq(rd_inventory_load(fixture("inv/inventory.json"), &inv, &d, err, sizeof err), 0);
  ck_assert_uint_eq(inv->nhosts, 4);
  ck_assert_str_eq(rd_inventory_group_list(inv, list, sizeof list), "all, tls, empty");
  ck_assert_ptr_nonnull(g = rd_inventory_group(inv, "tls"));
  ck_assert_uint_eq(g->n, 2);
  ck_assert_int_eq(rd_inventory_host(inv, "h0003")->port, 0); /* unset: the runbook decides */
  rd_inventory_free(inv);
  /* no "groups": an implicit "all" in file order */
  ck_assert_int_eq(rd_inventory_load(fixture("inv/nogroups.json"), &inv, &d, err, sizeof err), 0);
  ck_assert_ptr_nonnull(g = rd_inventory_group(inv, "all"));
  ck_assert_uint_eq(g->n, 2);
  ck_assert_str_eq(g->members[0], "b");
  ck_assert_int_eq(rd_inventory_host(inv, "b")->platform, RD_PLATFORM_WINDOWS);
  ck_assert_int_eq(rd_inventory_host(inv, "b")->port, 2222);
  rd_inventory_free(inv);
  ck_assert_uint_eq(d.n, 0);
  ck_assert_int_eq(rd_inventory_load(fixture("inv/nonexistent.json"), &inv, &d, err, sizeof err),
                   RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(err, "nonexistent.json"));
  ck_assert_uint_eq(d.n, 0);
  ck_assert_int_eq(rd_inventory_load(fixture("inv/broken.json"), &inv, &d, err, sizeof err),
                   RD_ECONFIG);
  ck_assert_ptr_null(inv);
  ck_assert_uint_eq(d.n, 1);
  rd_diag_free(&d);
  /* a NUL byte: said as such, at its line and column */
  char nulp[] = "/tmp/renewd-inv-nul-XXXXXX";
  int fd = mkstemp(nulp);
  static const char nul[] = "{\"hosts\": {\"a\":\0 {}}}";
  ck_assert(fd >= 0 && write(fd, nul, sizeof nul - 1) == (ssize_t)(sizeof nul - 1));
  close(fd);
  memset(&d, 0, sizeof d);
  ck_assert_int_eq(rd_inventory_load(nulp, &inv, &d, err, sizeof err), RD_ECONFIG);
  unlink(nulp);
  ck_assert_uint_eq(d.n, 1);
  ck_assert_int_eq(d.items[0].line, 1);
  ck_assert_int_eq(d.items[0].column, 16);
  ck_assert_ptr_nonnull(strstr(d.items[0].msg, "a NUL byte (0x00): an inventory is JSON text"));
  rd_diag_free(&d);
}
END_TEST

/* ------------------------------------------------------------ renewd validate */

static int run_validate(int argc, const char **argv) {
  int rc;
  fflush(stdout);
  fflush(stderr);
  rc = cmd_validate(argc, (char **)argv);
  fflush(stdout);
  fflush(stderr);
  return rc;
}

START_TEST(cmd_validate_exit_codes) {
  char empty[] = "/tmp/renewd-noplugins-XXXXXX";
  char good[2048], badp[2048], many[2048];
  ck_assert_ptr_nonnull(mkdtemp(empty));
  snprintf(good, sizeof good, "%s", fixture("good/inline.json"));
  snprintf(badp, sizeof badp, "%s", fixture("bad/inline-challenge.json"));
  snprintf(many, sizeof many, "%s", fixture("bad/many.json"));
  {
    const char *argv[] = {"validate", "--plugins", empty, good};
    ck_assert_int_eq(run_validate(4, argv), RD_EXIT_OK);
  }
  {
    const char *argv[] = {"validate", good, badp, "--plugins", empty};
    ck_assert_int_eq(run_validate(5, argv), RD_EXIT_USAGE);
  }
  {
    const char *argv[] = {"validate", "--plugins=/nonexistent/renewd-plugins", good};
    ck_assert_int_eq(run_validate(3, argv), RD_EXIT_USAGE);
  }
  {
    const char *argv[] = {"validate"};
    ck_assert_int_eq(run_validate(1, argv), RD_EXIT_USAGE);
  }
  {
    const char *argv[] = {"validate", "--bogus", good};
    ck_assert_int_eq(run_validate(3, argv), RD_EXIT_USAGE);
  }
  {
    const char *argv[] = {"validate", "--plugins", empty, "--list-steps"};
    ck_assert_int_eq(run_validate(4, argv), RD_EXIT_USAGE); /* nothing to list */
  }
  {
    const char *argv[] = {"validate", "--plugins", empty, "--", many};
    ck_assert_int_eq(run_validate(5, argv), RD_EXIT_USAGE);
  }
  {
    char schema[2048];
    const char *argv[] = {"validate", "--plugins", empty, schema, good};
    snprintf(schema, sizeof schema, "%s/runbooks/schema.json", SOURCE_DIR);
    ck_assert_int_eq(run_validate(5, argv), RD_EXIT_OK); /* the schema is skipped */
  }
  rmdir(empty);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("runbook");
  TCase *tc = tcase_create("bad");
  tcase_add_loop_test(tc, bad_runbook, 0, (int)NBAD);
  tcase_add_test(tc, bad_table_complete);
  tcase_add_test(tc, bad_many);
  tcase_add_test(tc, no_registry_skips_kinds);
  tcase_add_test(tc, issuer_kind_not_loaded);
  suite_add_tcase(s, tc);
  tc = tcase_create("good");
  tcase_add_test(tc, good_inline_defaults);
  tcase_add_test(tc, good_full_values);
  tcase_add_test(tc, good_inventory_group);
  tcase_add_test(tc, good_inventory_all_and_filter);
  tcase_add_test(tc, good_windows);
  tcase_add_test(tc, good_acme);
  tcase_add_test(tc, relative_runbook_path);
  tcase_add_test(tc, shipped_runbooks_validate);
  tcase_add_test(tc, shipped_lab_values);
  suite_add_tcase(s, tc);
  tc = tcase_create("pieces");
  tcase_add_test(tc, inventory_files);
  tcase_add_test(tc, cmd_validate_exit_codes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
