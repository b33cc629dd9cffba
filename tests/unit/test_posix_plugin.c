/* test_posix_plugin.c — the posix step kinds against THIS machine through
 * localhost_api (the real remote.c prelude, /bin/sh, openssl, chmod, chown,
 * setfacl): real files in a temp dir, no mocks. Certificates come from a
 * throwaway CA made with the openssl command line once per run. */
#include <dlfcn.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/err.h"
#include "localhost_api.h"
#include "posix_plugin.h"
#include "host/registry.h"
#include "testutil.h"
#include "base/x509.h"

static char M[256]; /* material: CA, old/new/other keys and certificates */
static char T[256]; /* this test's target directory */
static char CERT[300], KEY[300], CHAIN[300];
static lh_job *job;
static lh_outcome o;

/* ------------------------------------------------------------ material */

/* Runs outside any test (no ck_assert here: Check reports progress only
 * from inside tests). */
static int make_material(void) {
  snprintf(M, sizeof M, "/tmp/rd-posix-mat-XXXXXX");
  if (!mkdtemp(M))
    return -1;
  return lh_sh(
      "set -e; cd %s; exec 2>/dev/null\n"
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext\n"
      "for k in ca ca2 old new other; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key; done\n"
      "openssl req -x509 -new -key ca.key -subj /CN=renewd-test-ca -days 30 -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt\n"
      "openssl req -x509 -new -key ca2.key -subj /CN=renewd-other-ca -days 30 -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign -out ca2.crt\n"
      "for k in old new; do openssl req -new -key $k.key -subj /CN=localhost -out $k.csr; done\n"
      "openssl x509 -req -in old.csr -CA ca.crt -CAkey ca.key -set_serial 0x1A2B3C -days 10 -extfile ext -out old.crt\n"
      "openssl x509 -req -in new.csr -CA ca.crt -CAkey ca.key -set_serial 0x4D5E6F -days 30 -extfile ext -out new.crt\n",
      M);
}

static json_t *facts_of(const char *path) {
  size_t n = 0;
  char *b = tu_read_file(path, &n);
  json_t *f = NULL;
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(rd_x509_facts_from_bytes((unsigned char *)b, n, &f), 0);
  free(b);
  return f;
}

static int same_file(const char *a, const char *b) { return lh_sh("cmp -s '%s' '%s'", a, b) == 0; }

static int exists(const char *p) { return access(p, F_OK) == 0; }

static char *mode_of(const char *p) { return lh_sh_out("stat -c %%04a '%s'", p); }

/* Everything about the target dir: names, modes, owners, sizes, contents. */
static char *tree_sum(void) {
  return lh_sh_out("cd '%s' && { find . -printf '%%p %%m %%u %%g %%s %%T@\\n' | LC_ALL=C sort; "
                   "find . -type f -exec sha256sum {} + | LC_ALL=C sort; getfacl -R -p . 2>/dev/null; }",
                   T);
}

static const char *me(void) {
  struct passwd *pw = getpwuid(getuid());
  return pw ? pw->pw_name : "root";
}

static const char *mygroup(void) {
  struct group *gr = getgrgid(getgid());
  return gr ? gr->gr_name : "root";
}

static void setup(void) {
  char sections[1200];
  snprintf(T, sizeof T, "/tmp/rd-posix-t-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(T));
  snprintf(CERT, sizeof CERT, "%s/etc/server.crt", T);
  snprintf(KEY, sizeof KEY, "%s/etc/server.key", T);
  snprintf(CHAIN, sizeof CHAIN, "%s/etc/chain.pem", T);
  ck_assert_int_eq(lh_sh("mkdir -p '%s/etc' && cp %s/old.crt '%s' && cp %s/old.key '%s' && "
                         "cp %s/ca.crt '%s' && chmod 0644 '%s' '%s' && chmod 0600 '%s'",
                         T, M, CERT, M, KEY, M, CHAIN, CERT, CHAIN, KEY),
                   0);
  snprintf(sections, sizeof sections,
           "{\"certificate\": {\"cert\": \"%s\", \"key\": \"%s\", \"chain\": \"%s\"}}", CERT, KEY,
           CHAIN);
  job = lh_job_new("web17", sections);
  memset(&o, 0, sizeof o);
}

static void teardown(void) {
  lh_outcome_clear(&o);
  lh_job_free(job);
  job = NULL;
  lh_sh("rm -rf '%s'", T);
}

static int run(const rd_step_kind *k, rd_phase ph, const char *params) {
  int st = lh_phase(job, k, ph, params, &o);
  ck_assert_msg(o.rc < 0 ? o.done_calls == 0 : o.done_calls == 1, "%s: rc %d, %d completions",
                k->type, o.rc, o.done_calls);
  return st;
}

#define RUN_OK(k, ph, params)                                                                      \
  do {                                                                                             \
    int st_ = run((k), (ph), (params));                                                            \
    ck_assert_msg(st_ == 0, "%s phase %d: %s (%s)", (k)->type, (int)(ph), rd_errname(st_), o.msg); \
  } while (0)

static size_t nchanges(void) {
  return json_array_size(json_object_get(o.result, "changes"));
}

static const json_t *problem(const char *what) {
  const json_t *p = json_object_get(lh_facts(job), "problems"), *v;
  size_t i;
  json_array_foreach(p, i, v) if (!strcmp(json_string_value(json_object_get(v, "what")), what)) return v;
  return NULL;
}

/* The issuer's outcome: new_cert, the staged key next to the live one, the
 * CA (chain). */
static char STAGED[320];
static void issue(void) {
  char path[300];
  json_t *f = lh_facts(job);
  snprintf(STAGED, sizeof STAGED, "%s.renewd-new", KEY);
  ck_assert_int_eq(lh_sh("cp %s/new.key '%s' && chmod 0600 '%s'", M, STAGED, STAGED), 0);
  snprintf(path, sizeof path, "%s/new.crt", M);
  json_object_set_new(f, "new_cert", facts_of(path));
  json_object_set_new(f, "staged", json_pack("{s:s, s:b}", "key", STAGED, "reused", 0));
  snprintf(path, sizeof path, "%s/ca.crt", M);
  char *ca = tu_read_file(path, NULL);
  json_object_set_new(f, "ca_pem", json_string(ca));
  free(ca);
}

static void inventory(void) { RUN_OK(&posix_kind_inventory, RD_PHASE_PROBE, NULL); }

static char *mpath(const char *name) {
  static char buf[4][300];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", M, name);
  return buf[i];
}

/* ------------------------------------------------------------ tests */

START_TEST(descriptor) {
  const rd_plugin *p = posix_plugin();
  rd_registry *r = NULL;
  char err[512];
  ck_assert_uint_eq(p->magic, RD_PLUGIN_MAGIC);
  ck_assert_str_eq(p->name, "posix");
  for (size_t i = 0; p->kinds[i]; i++) {
    ck_assert_int_eq(strncmp(p->kinds[i]->type, "posix.", 6), 0);
    ck_assert_ptr_nonnull(p->kinds[i]->validate);
    ck_assert_ptr_nonnull(p->kinds[i]->probe);
    ck_assert_int_eq(p->kinds[i]->platform, RD_PLATFORM_POSIX);
  }
  ck_assert_int_eq(rd_registry_new(&r), 0);
  ck_assert_msg(rd_registry_add(r, p, "static", err, sizeof err) == 0, "%s", err);
  ck_assert_ptr_eq(rd_registry_find(r, "posix.install"), &posix_kind_install);
  rd_registry_free(r);
}
END_TEST

/* The module exports the weak entry point, returning this descriptor. */
START_TEST(module_entry) {
  char path[1024];
  void *h;
  rd_plugin_entry e;
  snprintf(path, sizeof path, "%s/plugins/renewd-posix.so", BUILD_DIR);
  if (!exists(path))
    return; /* plugins not built in this tree */
  h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(h != NULL, "%s", dlerror());
  *(void **)&e = dlsym(h, RD_PLUGIN_SYMBOL);
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e()->name, "posix");
  ck_assert_ptr_nonnull(e()->kinds[6]);
  dlclose(h);
}
END_TEST

/* posix_sh.h is generated from the scripts in plugins/posix/sh: it must be current. */
START_TEST(scripts_embedded_current) {
  char out[400];
  snprintf(out, sizeof out, "%s/posix_sh.h", T);
  ck_assert_int_eq(lh_sh("sh '%s/plugins/posix/sh/embed.sh' '%s'", SOURCE_DIR, out), 0);
  ck_assert_msg(lh_sh("cmp -s '%s' '%s/plugins/posix/posix_sh.h'", out, SOURCE_DIR) == 0,
                "plugins/posix/posix_sh.h is stale: run sh plugins/posix/sh/embed.sh");
}
END_TEST

/* --- posix.inventory --------------------------------------------------------- */

START_TEST(inventory_finds_cert) {
  char *fp = lh_sh_out("openssl x509 -in '%s' -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f", CERT);
  const json_t *c;
  char *mode;
  inventory();
  c = json_object_get(lh_facts(job), "cert");
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(json_string_value(json_object_get(c, "sha1")), fp);
  ck_assert_str_eq(json_string_value(json_object_get(c, "serial")), "1A2B3C");
  ck_assert_str_eq(json_string_value(json_object_get(c, "path")), CERT);
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_path")), KEY);
  ck_assert_str_eq(json_string_value(json_object_get(c, "chain_path")), CHAIN);
  ck_assert(json_is_true(json_object_get(c, "key_match")));
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_mode")), "0600");
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_owner")), me());
  ck_assert_str_eq(json_string_value(json_object_get(c, "key_group")), mygroup());
  ck_assert_ptr_nonnull(json_string_value(json_object_get(c, "pem")));
  ck_assert_int_eq(json_array_size(json_object_get(c, "backups")), 0);
  ck_assert_int_eq(json_array_size(json_object_get(lh_facts(job), "problems")), 0);
  ck_assert_ptr_nonnull(strstr(o.msg, "serial 1A2B3C"));
  /* the private key never travels: nothing of it in the facts or result */
  char *keyb64 = lh_sh_out("grep -v -- ----- '%s' | head -1", KEY);
  char *dump = json_dumps(lh_facts(job), 0), *rdump = json_dumps(o.result, 0);
  ck_assert_ptr_null(strstr(dump, keyb64));
  ck_assert_ptr_null(strstr(dump, "PRIVATE KEY"));
  ck_assert_ptr_null(strstr(rdump, "PRIVATE KEY"));
  free(dump);
  free(rdump);
  free(keyb64);
  /* backups are listed */
  ck_assert_int_eq(lh_sh("cp -p '%s' '%s.renewd-20240101T000000Z' && cp '%s' '%s.renewd-new.x'", CERT, CERT, CERT, CERT), 0);
  inventory();
  c = json_object_get(lh_facts(job), "cert");
  ck_assert_int_eq(json_array_size(json_object_get(c, "backups")), 1);
  mode = mode_of(KEY);
  ck_assert_str_eq(mode, "0600");
  free(mode);
  free(fp);
}
END_TEST

START_TEST(inventory_key_mismatch) {
  ck_assert_int_eq(lh_sh("cp %s '%s'", mpath("other.key"), KEY), 0);
  inventory();
  ck_assert(json_is_false(json_object_get(json_object_get(lh_facts(job), "cert"), "key_match")));
  ck_assert_ptr_nonnull(problem("key mismatch"));
  ck_assert_ptr_nonnull(strstr(o.msg, "DOES NOT MATCH"));
  /* fixed: the re-probe drops the old finding */
  ck_assert_int_eq(lh_sh("cp %s '%s'", mpath("old.key"), KEY), 0);
  inventory();
  ck_assert(json_is_true(json_object_get(json_object_get(lh_facts(job), "cert"), "key_match")));
  ck_assert_ptr_null(problem("key mismatch"));
}
END_TEST

START_TEST(inventory_missing) {
  inventory();
  ck_assert_ptr_nonnull(json_object_get(lh_facts(job), "cert"));
  unlink(CERT);
  unlink(KEY);
  inventory(); /* status 0: the engine treats it as due */
  ck_assert_ptr_null(json_object_get(lh_facts(job), "cert"));
  ck_assert_ptr_nonnull(problem("missing certificate"));
  ck_assert_ptr_nonnull(problem("missing key"));
}
END_TEST

/* An expired certificate (made with the OpenSSL API: notAfter an hour ago). */
START_TEST(inventory_expired) {
  FILE *f = fopen(mpath("old.key"), "r");
  EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  X509 *x = X509_new();
  X509_NAME *n = X509_NAME_new();
  if (f)
    fclose(f);
  ck_assert_ptr_nonnull(k);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"expired", -1, -1, 0);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
  X509_set_subject_name(x, n);
  X509_set_issuer_name(x, n);
  X509_gmtime_adj(X509_getm_notBefore(x), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x), -3600);
  X509_set_pubkey(x, k);
  ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
  ck_assert_ptr_nonnull(f = fopen(CERT, "w"));
  PEM_write_X509(f, x);
  fclose(f);
  X509_free(x);
  X509_NAME_free(n);
  EVP_PKEY_free(k);
  inventory();
  ck_assert_ptr_nonnull(problem("expired"));
  ck_assert(json_is_true(json_object_get(json_object_get(lh_facts(job), "cert"), "key_match")));
}
END_TEST

START_TEST(inventory_validate) {
  char err[256] = "";
  json_t *p = json_object();
  ck_assert_int_eq(posix_kind_inventory.validate(p, err, sizeof err), 0);
  ck_assert_int_eq(posix_kind_inventory.validate(NULL, err, sizeof err), 0);
  json_decref(p);
  p = json_pack("{s:i}", "x", 1);
  ck_assert_int_eq(posix_kind_inventory.validate(p, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "\"x\""));
  json_decref(p);
}
END_TEST

/* --- posix.install ----------------------------------------------------------- */

static size_t count_backups(const char *live) {
  char *n = lh_sh_out("ls -1 '%s'.renewd-2* 2>/dev/null | wc -l", live);
  size_t v = (size_t)strtoul(n, NULL, 10);
  free(n);
  return v;
}

START_TEST(install_cycle) {
  char *m0, *m1, *g0 = NULL;
  const json_t *b;
  const char *grp = getuid() == 0 ? "daemon" : mygroup();
  /* the old key has a service group and 0640: the new one must inherit it */
  ck_assert_int_eq(lh_sh("chgrp %s '%s' && chmod 0640 '%s'", grp, KEY, KEY), 0);
  g0 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", KEY);
  inventory();
  issue();

  RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_uint_ge(nchanges(), 2);
  {
    const json_t *ch = json_array_get(json_object_get(o.result, "changes"), 0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ch, "old")), "serial 1A2B3C"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(ch, "new")), "serial 4D5E6F"));
  }
  ck_assert(same_file(CERT, mpath("old.crt"))); /* probe changed nothing */

  RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert(same_file(CERT, mpath("new.crt")));
  ck_assert(same_file(KEY, mpath("new.key")));
  ck_assert(same_file(CHAIN, mpath("ca.crt")));
  ck_assert(!exists(STAGED));
  m1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", KEY);
  ck_assert_str_eq(m1, g0); /* owner, group, mode of the old key */
  free(m1);
  b = json_object_get(lh_journal(job), "install.backups");
  ck_assert_ptr_nonnull(b);
  ck_assert(same_file(json_string_value(json_object_get(b, "cert")), mpath("old.crt")));
  ck_assert(same_file(json_string_value(json_object_get(b, "key")), mpath("old.key")));
  ck_assert_ptr_nonnull(json_string_value(json_object_get(b, "chain")));
  ck_assert(json_equal((json_t *)b, json_object_get(json_object_get(lh_facts(job), "installed"), "backups")));
  m0 = mode_of(json_string_value(json_object_get(b, "key")));
  ck_assert_str_eq(m0, "0640"); /* cp -p */
  free(m0);
  ck_assert_uint_eq(count_backups(CERT), 1);
  ck_assert_uint_eq(count_backups(KEY), 1);
  ck_assert_int_eq(lh_sh("ls -a '%s/etc' | grep -q renewd-tmp", T), 1); /* no temp left */

  /* idempotent: nothing new, no second backup */
  RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_ptr_nonnull(strstr(o.msg, "already installed"));
  ck_assert_uint_eq(count_backups(CERT), 1);
  RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_uint_eq(nchanges(), 0);

  RUN_OK(&posix_kind_install, RD_PHASE_VERIFY, NULL);

  /* rollback from the journal alone (facts rebuilt after a crash) */
  json_object_del(lh_facts(job), "installed");
  RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(same_file(CERT, mpath("old.crt")));
  ck_assert(same_file(KEY, mpath("old.key")));
  m1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", KEY);
  ck_assert_str_eq(m1, g0);
  free(m1);
  free(g0);
  ck_assert_int_eq(run(&posix_kind_install, RD_PHASE_VERIFY, NULL), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o.msg, "expected"));
  /* rollback again: nothing left to do, still fine */
  RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(same_file(CERT, mpath("old.crt")));
}
END_TEST

START_TEST(install_refuses_wrong_staged_key) {
  inventory();
  issue();
  ck_assert_int_eq(lh_sh("cp %s '%s'", mpath("other.key"), STAGED), 0);
  ck_assert_int_eq(run(&posix_kind_install, RD_PHASE_APPLY, NULL), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o.msg, "does not match the new certificate"));
  ck_assert(same_file(CERT, mpath("old.crt")));
  ck_assert(same_file(KEY, mpath("old.key")));
}
END_TEST

START_TEST(install_without_issuer) {
  inventory();
  RUN_OK(&posix_kind_install, RD_PHASE_PROBE, NULL); /* whatif-style placeholders */
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
                                   json_array_get(json_object_get(o.result, "changes"), 0), "new")),
                               "(new certificate)"));
  ck_assert_int_eq(run(&posix_kind_install, RD_PHASE_APPLY, NULL), RD_ESTATE);
}
END_TEST

/* rotate_key false: the staged key is the live key; only the cert changes. */
START_TEST(install_reused_key) {
  ck_assert_int_eq(lh_sh("cd %s && openssl x509 -req -in old.csr -CA ca.crt -CAkey ca.key "
                         "-set_serial 0x99 -days 5 -out '%s/reissued.crt' 2>/dev/null", M, T), 0);
  char path[300];
  inventory();
  snprintf(path, sizeof path, "%s/reissued.crt", T);
  json_object_set_new(lh_facts(job), "new_cert", facts_of(path));
  json_object_set_new(lh_facts(job), "staged", json_pack("{s:s, s:b}", "key", KEY, "reused", 1));
  RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert(same_file(CERT, path));
  ck_assert(same_file(KEY, mpath("old.key")));
  RUN_OK(&posix_kind_install, RD_PHASE_VERIFY, NULL);
}
END_TEST

/* A crash after the backups were journaled, before anything was replaced:
 * apply resumes without backing up again (that could copy new files), and
 * rollback uses the journaled paths. */
START_TEST(install_resumes_after_crash) {
  char bc[400], bk[400];
  inventory();
  issue();
  snprintf(bc, sizeof bc, "%s.renewd-20240101T000000Z", CERT);
  snprintf(bk, sizeof bk, "%s.renewd-20240101T000000Z", KEY);
  ck_assert_int_eq(lh_sh("cp -p '%s' '%s' && cp -p '%s' '%s'", CERT, bc, KEY, bk), 0);
  json_object_set_new(lh_journal(job), "install.backups",
                      json_pack("{s:s, s:s, s:n, s:s}", "cert", bc, "key", bk, "chain", "ts",
                                "20240101T000000Z"));
  RUN_OK(&posix_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_uint_eq(count_backups(CERT), 1);
  ck_assert_uint_eq(count_backups(KEY), 1);
  ck_assert(same_file(CERT, mpath("new.crt")));
  RUN_OK(&posix_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert(same_file(CERT, mpath("old.crt")));
  ck_assert(same_file(KEY, mpath("old.key")));
  /* a journaled path that is not a backup of the live file is refused */
  json_object_set_new(lh_journal(job), "install.backups",
                      json_pack("{s:s, s:n, s:n}", "cert", mpath("other.key"), "key", "chain"));
  ck_assert_int_eq(run(&posix_kind_install, RD_PHASE_ROLLBACK, NULL), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o.msg, "not one of its backups"));
  ck_assert(same_file(CERT, mpath("old.crt")));
}
END_TEST

/* --- posix.key_acl ----------------------------------------------------------- */

static char *acl_entry(const char *path, const char *user) {
  return lh_sh_out("getfacl -c -E -p '%s' 2>/dev/null | grep '^user:%s:' || true", path, user);
}

START_TEST(key_acl_cycle) {
  const char *grp = getuid() == 0 ? "daemon" : mygroup();
  char params[300], jkey[400], *s0, *s1, *a;
  snprintf(params, sizeof params,
           "{\"owner\": \"%s\", \"group\": \"%s\", \"mode\": \"0640\", \"acl_user\": \"nobody\"}",
           me(), grp);
  snprintf(jkey, sizeof jkey, "key_acl.old:%s", KEY);
  s0 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", KEY);

  RUN_OK(&posix_kind_key_acl, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(nchanges(), getuid() == 0 ? 3 : 2); /* group (as root), mode, ACL */
  ck_assert_ptr_nonnull(strstr(o.msg, KEY));
  ck_assert_ptr_nonnull(json_object_get(lh_journal(job), jkey));
  s1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", KEY);
  ck_assert_str_eq(s0, s1); /* probe changed nothing */
  free(s1);

  RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params);
  s1 = lh_sh_out("stat -c %%G '%s'", KEY);
  ck_assert_str_eq(s1, grp);
  free(s1);
  a = acl_entry(KEY, "nobody");
  ck_assert_str_eq(a, "user:nobody:r--");
  free(a);
  /* group:: is r-- (0640), not just the mask */
  a = lh_sh_out("getfacl -c -E -p '%s' | grep '^group::'", KEY);
  ck_assert_str_eq(a, "group::r--");
  free(a);
  RUN_OK(&posix_kind_key_acl, RD_PHASE_VERIFY, params);
  RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params); /* idempotent */
  RUN_OK(&posix_kind_key_acl, RD_PHASE_PROBE, params); /* a re-probe: nothing to do ... */
  ck_assert_uint_eq(nchanges(), 0);
  ck_assert_ptr_nonnull(strstr(o.msg, "already as configured"));

  /* ... and it did not overwrite the recorded old state */
  RUN_OK(&posix_kind_key_acl, RD_PHASE_ROLLBACK, params);
  s1 = lh_sh_out("stat -c %%U:%%G:%%a '%s'", KEY);
  ck_assert_str_eq(s1, s0);
  free(s1);
  a = acl_entry(KEY, "nobody");
  ck_assert_str_eq(a, "");
  free(a);
  ck_assert_int_eq(run(&posix_kind_key_acl, RD_PHASE_VERIFY, params), RD_EVERIFY);
  free(s0);
}
END_TEST

/* 0600 with a reader ACL: the group gets nothing even though the mask is r. */
START_TEST(key_acl_private_with_reader) {
  const char *params = "{\"mode\": \"0600\", \"acl_user\": \"nobody\"}";
  char *a;
  RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, params);
  a = lh_sh_out("getfacl -c -E -p '%s' | grep '^group::'", KEY);
  ck_assert_str_eq(a, "group::---");
  free(a);
  RUN_OK(&posix_kind_key_acl, RD_PHASE_VERIFY, params);
  RUN_OK(&posix_kind_key_acl, RD_PHASE_PROBE, "{\"mode\": \"0640\"}");
  ck_assert_uint_eq(nchanges(), 1);
  RUN_OK(&posix_kind_key_acl, RD_PHASE_APPLY, "{\"mode\": \"0640\"}");
  a = lh_sh_out("getfacl -c -E -p '%s' | grep '^group::'", KEY);
  ck_assert_str_eq(a, "group::r--");
  free(a);
}
END_TEST

START_TEST(key_acl_validate) {
  const char *bad[] = {"{\"mode\": \"0999\"}", "{\"mode\": \"4755\"}", "{\"owner\": \"-rf\"}",
                       "{\"group\": \"a b\"}", "{\"acl_user\": \"x;y\"}", "{\"path\": \"rel\"}",
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

static void make_backups(void) {
  const char *ts[] = {"20240101T000000Z", "20240201T000000Z", "20240301T000000Z",
                      "20240401T000000Z"};
  for (size_t i = 0; i < 4; i++)
    ck_assert_int_eq(lh_sh("cp '%s' '%s.renewd-%s' && cp '%s' '%s.renewd-%s'", CERT, CERT, ts[i],
                           KEY, KEY, ts[i]),
                     0);
  /* look-alikes that are not backups */
  ck_assert_int_eq(lh_sh("cd '%s/etc' && touch server.key.renewd-new server.crt.renewd-notes "
                         ".server.crt.renewd-tmp.abc123 server.crt.renewd-2024 "
                         "server.crt.renewd-20240501T000000Z.bak",
                         T),
                   0);
}

/* Does <live>.renewd-<ts> exist? */
static int present(const char *live, const char *ts) {
  char p[400];
  snprintf(p, sizeof p, "%s.renewd-%s", live, ts);
  return exists(p);
}

START_TEST(prune_keeps_newest) {
  make_backups();
  RUN_OK(&posix_kind_prune, RD_PHASE_PROBE, "{\"keep\": 2}");
  ck_assert_uint_eq(nchanges(), 4); /* 2 cert + 2 key backups */
  ck_assert(present(CERT, "20240101T000000Z")); /* probe: nothing gone */
  RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 2}");
  ck_assert_uint_eq(nchanges(), 4);
  ck_assert(!present(CERT, "20240101T000000Z"));
  ck_assert(!present(CERT, "20240201T000000Z"));
  ck_assert(present(CERT, "20240301T000000Z"));
  ck_assert(present(CERT, "20240401T000000Z"));
  ck_assert(!present(KEY, "20240201T000000Z"));
  ck_assert(present(KEY, "20240301T000000Z"));
  RUN_OK(&posix_kind_prune, RD_PHASE_VERIFY, "{\"keep\": 2}");
  RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 2}"); /* idempotent */
  ck_assert_uint_eq(nchanges(), 0);
}
END_TEST

START_TEST(prune_never_touches_live_files) {
  char *sum0, *sum1;
  make_backups();
  /* the backup this job's install made is protected even when it is older */
  char oldest[400];
  snprintf(oldest, sizeof oldest, "%s.renewd-20240101T000000Z", CERT);
  json_object_set_new(lh_journal(job), "install.backups",
                      json_pack("{s:s, s:n, s:n}", "cert", oldest, "key", "chain"));
  RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 1}");
  ck_assert(present(CERT, "20240401T000000Z"));
  ck_assert(present(CERT, "20240101T000000Z")); /* protected */
  ck_assert(!present(CERT, "20240201T000000Z"));
  ck_assert(!present(CERT, "20240301T000000Z"));
  ck_assert(present(KEY, "20240401T000000Z"));
  ck_assert(!present(KEY, "20240101T000000Z"));
  ck_assert(same_file(CERT, mpath("old.crt")));
  ck_assert(same_file(KEY, mpath("old.key")));
  ck_assert(same_file(CHAIN, mpath("ca.crt")));
  ck_assert_int_eq(lh_sh("cd '%s/etc' && test -e server.key.renewd-new && test -e "
                         "server.crt.renewd-notes && test -e .server.crt.renewd-tmp.abc123 && "
                         "test -e server.crt.renewd-2024 && test -e "
                         "server.crt.renewd-20240501T000000Z.bak",
                         T),
                   0);
  /* and again: only the kept ones are left, nothing else is ever listed */
  sum0 = tree_sum();
  RUN_OK(&posix_kind_prune, RD_PHASE_APPLY, "{\"keep\": 1}");
  sum1 = tree_sum();
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

static char CFGFILE[300];
static char OLD_SHA1[64], NEW_SHA1[64];

/* in with every @UP@ / @LO@ replaced; caller frees. */
static char *fill(const char *in, const char *up, const char *lo) {
  char *out = malloc(strlen(in) * 2 + 256), *w = out;
  while (*in) {
    if (!strncmp(in, "@UP@", 4) || !strncmp(in, "@LO@", 4)) {
      const char *v = in[1] == 'U' ? up : lo;
      memcpy(w, v, strlen(v));
      w += strlen(v);
      in += 4;
    } else {
      *w++ = *in++;
    }
  }
  *w = 0;
  return out;
}

static void config_setup(const char *body_tmpl) {
  FILE *f;
  char up_old[64], *body;
  inventory();
  issue();
  snprintf(OLD_SHA1, sizeof OLD_SHA1, "%s", json_string_value(json_object_get(json_object_get(lh_facts(job), "cert"), "sha1")));
  snprintf(NEW_SHA1, sizeof NEW_SHA1, "%s", json_string_value(json_object_get(json_object_get(lh_facts(job), "new_cert"), "sha1")));
  for (size_t i = 0; i <= strlen(OLD_SHA1); i++)
    up_old[i] = (char)((OLD_SHA1[i] >= 'a' && OLD_SHA1[i] <= 'f') ? OLD_SHA1[i] - 32 : OLD_SHA1[i]);
  snprintf(CFGFILE, sizeof CFGFILE, "%s/etc/app.conf", T);
  /* @UP@: the old sha1 in upper case, @LO@: in lower case */
  body = fill(body_tmpl, up_old, OLD_SHA1);
  ck_assert_ptr_nonnull(f = fopen(CFGFILE, "w"));
  fputs(body, f);
  fclose(f);
  free(body);
  ck_assert_int_eq(lh_sh("chmod 0640 '%s' && cp -p '%s' '%s.orig'", CFGFILE, CFGFILE, CFGFILE), 0);
}

static int conf_has(const char *s) {
  char *b = tu_read_file(CFGFILE, NULL);
  int r = b && strstr(b, s);
  free(b);
  return r;
}

START_TEST(config_thumbprint_cycle) {
  char params[400], up_new[64], *m;
  config_setup("# app\nthumbprint=@UP@\nlower @LO@ here\nother=1234\n");
  for (size_t i = 0; i <= strlen(NEW_SHA1); i++)
    up_new[i] = (char)((NEW_SHA1[i] >= 'a' && NEW_SHA1[i] <= 'f') ? NEW_SHA1[i] - 32 : NEW_SHA1[i]);
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"sha1\"}", CFGFILE);

  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(nchanges(), 1);
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(json_object_get(o.result, "changes"), 0), "what")), "2 occurrences"));

  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
  ck_assert(conf_has(up_new));   /* upper stays upper */
  ck_assert(conf_has(NEW_SHA1)); /* lower stays lower */
  ck_assert(!conf_has(OLD_SHA1));
  ck_assert(conf_has("other=1234"));
  m = mode_of(CFGFILE);
  ck_assert_str_eq(m, "0640");
  free(m);
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_VERIFY, params);
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params); /* idempotent */
  ck_assert_ptr_nonnull(strstr(o.msg, "already"));
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(nchanges(), 0);

  /* rollback from the journal even if facts.cert now describes the new cert */
  json_object_set(lh_facts(job), "cert", json_object_get(lh_facts(job), "new_cert"));
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_ROLLBACK, params);
  {
    char orig[400];
    snprintf(orig, sizeof orig, "%s.orig", CFGFILE);
    ck_assert(same_file(CFGFILE, orig));
  }
}
END_TEST

START_TEST(config_thumbprint_refuses_missing_old) {
  char params[400], *sum0, *sum1;
  config_setup("thumbprint=0000000000000000000000000000000000000000\n");
  ck_assert_int_eq(lh_sh("printf 'thumbprint=none\\n' > '%s'", CFGFILE), 0);
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"sha1\"}", CFGFILE);
  ck_assert_int_eq(run(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params), RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(o.msg, CFGFILE));
  ck_assert_ptr_nonnull(strstr(o.msg, OLD_SHA1));
  sum0 = tree_sum();
  ck_assert_int_eq(run(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o.msg, CFGFILE));
  ck_assert_ptr_nonnull(strstr(o.msg, OLD_SHA1));
  sum1 = tree_sum();
  ck_assert_str_eq(sum0, sum1);
  free(sum0);
  free(sum1);
  /* a missing file is named too */
  snprintf(params, sizeof params, "{\"file\": \"%s/nope.conf\", \"format\": \"sha1\"}", T);
  ck_assert_int_eq(run(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params), RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(o.msg, "nope.conf"));
}
END_TEST

/* A serial is matched as a whole hex token only; case forced to upper. */
START_TEST(config_thumbprint_serial_and_case) {
  char params[400];
  config_setup("serial=1a2b3c\nlonger=11A2B3C4\n");
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"serial\", \"case\": \"upper\"}",
           CFGFILE);
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(json_object_get(o.result, "changes"), 0), "what")), "(1 occurrence)"));
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
  ck_assert(conf_has("serial=4D5E6F\n"));
  ck_assert(conf_has("longer=11A2B3C4\n"));
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_VERIFY, params);
  /* values are data: an awk- or shell-looking value is just text to find */
  {
    char evil[1200], pwned[300];
    snprintf(pwned, sizeof pwned, "%s/pwned", T);
    snprintf(evil, sizeof evil, "1A\"); system(\"touch %s\"); x=(\"$(touch %s)'", pwned, pwned);
    json_object_set_new(json_object_get(lh_facts(job), "cert"), "serial", json_string(evil));
    RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params); /* new one present */
    ck_assert_ptr_nonnull(strstr(o.msg, "already"));
    json_object_del(lh_facts(job), "new_cert");
    ck_assert_int_eq(run(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params), RD_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(o.msg, "system("));
    ck_assert(!exists(pwned));
  }
}
END_TEST

/* "path": posix.install writes in place, so the path does not change. */
START_TEST(config_thumbprint_path_unchanged) {
  char params[400];
  config_setup("cert=@LO@\n");
  snprintf(params, sizeof params, "{\"file\": \"%s\", \"format\": \"path\"}", CFGFILE);
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_PROBE, params);
  ck_assert_uint_eq(nchanges(), 0);
  ck_assert_ptr_nonnull(strstr(o.msg, "unchanged"));
  RUN_OK(&posix_kind_config_thumbprint, RD_PHASE_APPLY, params);
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

/* --- posix.service ----------------------------------------------------------- */

START_TEST(service_runs_and_reports_failure) {
  char params[600], flag[400];
  snprintf(flag, sizeof flag, "%s/reloaded", T);
  snprintf(params, sizeof params, "{\"command\": \"touch %s && echo reloaded\"}", flag);
  RUN_OK(&posix_kind_service, RD_PHASE_PROBE, params);
  ck_assert_ptr_nonnull(strstr(o.msg, "would run"));
  ck_assert(!exists(flag));
  RUN_OK(&posix_kind_service, RD_PHASE_APPLY, params);
  ck_assert(exists(flag));
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o.result, "detail"), "stdout")), "reloaded");
  RUN_OK(&posix_kind_service, RD_PHASE_VERIFY, params); /* no check configured */

  snprintf(params, sizeof params, "{\"command\": \"echo partial; echo 'tlsctl: bad config' >&2; exit 3\"}");
  ck_assert_int_eq(run(&posix_kind_service, RD_PHASE_APPLY, params), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o.msg, "exited 3"));
  ck_assert_ptr_nonnull(strstr(o.msg, "tlsctl: bad config"));

  snprintf(params, sizeof params, "{\"command\": \"true\", \"check\": \"test -e %s/healthy\"}", T);
  ck_assert_int_eq(run(&posix_kind_service, RD_PHASE_VERIFY, params), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o.msg, "exited 1"));
  ck_assert_int_eq(lh_sh("touch '%s/healthy'", T), 0);
  RUN_OK(&posix_kind_service, RD_PHASE_VERIFY, params);

  ck_assert_int_eq(run(&posix_kind_service, RD_PHASE_APPLY, "{\"command\": \"sleep 5\", \"timeout\": 1}"), RD_ETIMEDOUT);
  ck_assert_ptr_nonnull(strstr(o.msg, "timed out"));
}
END_TEST

/* A systemd unit, with a stand-in systemctl first in PATH that logs its
 * arguments (the container has no systemd). */
START_TEST(service_unit) {
  char bin[400], log[400], *l, *path0 = getenv("PATH") ? strdup(getenv("PATH")) : strdup("/usr/bin:/bin"), *path1;
  snprintf(bin, sizeof bin, "%s/bin", T);
  snprintf(log, sizeof log, "%s/systemctl.log", T);
  ck_assert_int_eq(lh_sh("mkdir -p '%s' && printf '#!/bin/sh\\necho \"$*\" >> %s\\n"
                         "[ \"$1\" = is-active ] && echo ${FAKE_STATE:-active}\\nexit 0\\n' > '%s/systemctl' && chmod +x '%s/systemctl'",
                         bin, log, bin, bin),
                   0);
  ck_assert_int_ne(asprintf(&path1, "%s:%s", bin, path0), -1);
  setenv("PATH", path1, 1);
  RUN_OK(&posix_kind_service, RD_PHASE_PROBE, "{\"unit\": \"nginx\"}");
  ck_assert_ptr_nonnull(strstr(o.msg, "systemctl reload nginx (the unit is active)"));
  RUN_OK(&posix_kind_service, RD_PHASE_APPLY, "{\"unit\": \"nginx\", \"action\": \"restart\"}");
  RUN_OK(&posix_kind_service, RD_PHASE_VERIFY, "{\"unit\": \"nginx\"}");
  setenv("FAKE_STATE", "failed", 1);
  ck_assert_int_eq(run(&posix_kind_service, RD_PHASE_VERIFY, "{\"unit\": \"nginx\"}"), RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o.msg, "unit nginx is failed"));
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
  inventory();
  issue();
  c = json_object_get(lh_facts(job), "cert");
  n = json_object_get(lh_facts(job), "new_cert");
  snprintf(envf, sizeof envf, "%s/env.txt", T);
  snprintf(params, sizeof params,
           "{\"script\": \"printf '%%s|' \\\"$1\\\" \\\"$RENEWD_HOST\\\" \\\"$RENEWD_PHASE\\\" "
           "\\\"$RENEWD_CERT_PATH\\\" \\\"$RENEWD_OLD_SHA1\\\" \\\"$RENEWD_NEW_SHA1\\\" "
           "\\\"$RENEWD_OLD_SERIAL\\\" \\\"$RENEWD_NEW_SERIAL\\\" \\\"$RENEWD_WHATIF\\\" > %s; "
           "echo hook done\"}",
           envf);
  RUN_OK(&posix_kind_exec, RD_PHASE_APPLY, params);
  ck_assert_ptr_nonnull(strstr(o.msg, "hook done"));
  env = tu_read_file(envf, NULL);
  snprintf(expect, sizeof expect, "apply|web17|apply|%s|%s|%s|1A2B3C|4D5E6F|0|", CERT,
           json_string_value(json_object_get(c, "sha1")), json_string_value(json_object_get(n, "sha1")));
  ck_assert_str_eq(env, expect);
  free(env);
  RUN_OK(&posix_kind_exec, RD_PHASE_PROBE, params); /* probe runs in whatif */
  env = tu_read_file(envf, NULL);
  ck_assert_ptr_nonnull(strstr(env, "probe|web17|probe|"));
  ck_assert_ptr_nonnull(strstr(env, "|1|"));
  free(env);

  /* from a local file, failing with a message */
  snprintf(hook, sizeof hook, "%s/hook.sh", T);
  ck_assert_int_eq(lh_sh("printf 'echo \"cannot reload $RENEWD_HOST in $1\" >&2\\nexit 4\\n' > '%s'", hook), 0);
  snprintf(params, sizeof params, "{\"file\": \"%s\"}", hook);
  ck_assert_int_eq(run(&posix_kind_exec, RD_PHASE_APPLY, params), RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o.msg, "exited 4"));
  ck_assert_ptr_nonnull(strstr(o.msg, "cannot reload web17 in apply"));
  ck_assert_int_eq(run(&posix_kind_exec, RD_PHASE_VERIFY, params), RD_EVERIFY);
  snprintf(params, sizeof params, "{\"file\": \"%s/missing.sh\"}", T);
  ck_assert_int_eq(run(&posix_kind_exec, RD_PHASE_APPLY, params), RD_ECONFIG);
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

START_TEST(whatif_changes_nothing) {
  char p_acl[300], p_ct[400], p_svc[400], p_exec[400], *sum0, *sum1;
  const char *grp = getuid() == 0 ? "daemon" : mygroup();
  struct {
    const rd_step_kind *k;
    const char *params;
  } steps[6];
  config_setup("thumbprint=@UP@ @LO@\n");
  make_backups();
  snprintf(p_acl, sizeof p_acl, "{\"group\": \"%s\", \"mode\": \"0640\", \"acl_user\": \"nobody\"}", grp);
  snprintf(p_ct, sizeof p_ct, "{\"file\": \"%s\", \"format\": \"sha1\"}", CFGFILE);
  snprintf(p_svc, sizeof p_svc, "{\"command\": \"touch %s/svc\"}", T);
  snprintf(p_exec, sizeof p_exec, "{\"script\": \"[ \\\"$RENEWD_WHATIF\\\" = 1 ] || touch %s/exec\"}", T);
  steps[0].k = &posix_kind_install, steps[0].params = NULL;
  steps[1].k = &posix_kind_key_acl, steps[1].params = p_acl;
  steps[2].k = &posix_kind_prune, steps[2].params = "{\"keep\": 1}";
  steps[3].k = &posix_kind_config_thumbprint, steps[3].params = p_ct;
  steps[4].k = &posix_kind_service, steps[4].params = p_svc;
  steps[5].k = &posix_kind_exec, steps[5].params = p_exec;
  lh_set_whatif(job, 1);
  sum0 = tree_sum();
  for (size_t i = 0; i < 6; i++) {
    int before;
    RUN_OK(steps[i].k, RD_PHASE_PROBE, steps[i].params);
    ck_assert_msg(nchanges() > 0, "%s: the probe shows no change", steps[i].k->type);
    before = lh_scripts_run(job);
    ck_assert_msg(run(steps[i].k, RD_PHASE_APPLY, steps[i].params) == RD_EWHATIF, "%s apply: %s",
                  steps[i].k->type, o.msg);
    ck_assert_int_eq(lh_scripts_run(job), before); /* refused before anything ran */
    if (steps[i].k->rollback) { /* nothing recorded to undo, or refused */
      int st = run(steps[i].k, RD_PHASE_ROLLBACK, steps[i].params);
      ck_assert_msg(st == 0 || st == RD_EWHATIF, "%s rollback: %s", steps[i].k->type, o.msg);
    }
  }
  sum1 = tree_sum();
  ck_assert_str_eq(sum0, sum1);
  ck_assert_int_eq(json_object_size(lh_journal(job)), 0);
  free(sum0);
  free(sum1);
}
END_TEST

/* The host refuses a mutating script in whatif even if a plugin tried: a
 * test kind that calls host->remote directly. */
static const rd_script raw_touch = {"test.touch", RD_PLATFORM_POSIX, 1, 0, "touch \"$P_f\"\n"};
static void raw_cb(rd_step *s, int status, const rd_remote_result *r, void *arg) {
  lh_api()->done(s, status ? status : r->exit_status ? RD_EREMOTE : 0, NULL, "ran");
}
static int raw_probe(rd_step *s, const rd_host_api *h) {
  return h->remote(s, &raw_touch, json_pack("{s:s}", "f", json_string_value(json_object_get(h->params(s), "f"))), raw_cb, NULL);
}
static const rd_step_kind raw_kind = {.type = "test.raw", .probe = raw_probe};

START_TEST(host_refuses_mutating_in_whatif) {
  char params[400], f[300];
  snprintf(f, sizeof f, "%s/touched", T);
  snprintf(params, sizeof params, "{\"f\": \"%s\"}", f);
  lh_set_whatif(job, 1);
  ck_assert_int_eq(run(&raw_kind, RD_PHASE_PROBE, params), RD_EWHATIF);
  ck_assert(!exists(f));
  ck_assert_int_eq(lh_scripts_run(job), 0);
  lh_set_whatif(job, 0);
  RUN_OK(&raw_kind, RD_PHASE_PROBE, params);
  ck_assert(exists(f));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("posix_plugin");
  TCase *t = tcase_create("kinds");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, descriptor);
  tcase_add_test(t, module_entry);
  tcase_add_test(t, scripts_embedded_current);
  tcase_add_test(t, inventory_finds_cert);
  tcase_add_test(t, inventory_key_mismatch);
  tcase_add_test(t, inventory_missing);
  tcase_add_test(t, inventory_expired);
  tcase_add_test(t, inventory_validate);
  tcase_add_test(t, install_cycle);
  tcase_add_test(t, install_refuses_wrong_staged_key);
  tcase_add_test(t, install_without_issuer);
  tcase_add_test(t, install_reused_key);
  tcase_add_test(t, install_resumes_after_crash);
  tcase_add_test(t, key_acl_cycle);
  tcase_add_test(t, key_acl_private_with_reader);
  tcase_add_test(t, key_acl_validate);
  tcase_add_test(t, prune_keeps_newest);
  tcase_add_test(t, prune_never_touches_live_files);
  tcase_add_test(t, prune_validate);
  tcase_add_test(t, config_thumbprint_cycle);
  tcase_add_test(t, config_thumbprint_refuses_missing_old);
  tcase_add_test(t, config_thumbprint_serial_and_case);
  tcase_add_test(t, config_thumbprint_path_unchanged);
  tcase_add_test(t, config_thumbprint_validate);
  tcase_add_test(t, service_runs_and_reports_failure);
  tcase_add_test(t, service_unit);
  tcase_add_test(t, service_validate);
  tcase_add_test(t, exec_gets_environment);
  tcase_add_test(t, exec_validate);
  tcase_add_test(t, whatif_changes_nothing);
  tcase_add_test(t, host_refuses_mutating_in_whatif);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  int rc;
  if (make_material() != 0) {
    fprintf(stderr, "test_posix_plugin: cannot make test certificates with openssl in %s\n", M);
    return 1;
  }
  rc = tu_run(suite());
  lh_sh("rm -rf '%s'", M);
  return rc;
}
