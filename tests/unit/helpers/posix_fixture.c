/* posix_fixture.c — see posix_fixture.h. */
#include "posix_fixture.h"

char px_M[256]; /* material: CA, old/new/other keys and certificates */
char px_T[256]; /* this test's target directory */
char px_CERT[300], px_KEY[300], px_CHAIN[300];
lh_job *px_job;
lh_outcome px_o;

/* ------------------------------------------------------------ material */

/* Runs outside any test (no ck_assert here: Check reports progress only
 * from inside tests). */
int px_make_material(void) {
  snprintf(px_M, sizeof px_M, "/tmp/rd-posix-mat-XXXXXX");
  if (!mkdtemp(px_M))
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
      px_M);
}

json_t *px_facts_of(const char *path) {
  size_t n = 0;
  char *b = tu_read_file(path, &n);
  json_t *f = NULL;
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(rd_x509_facts_from_bytes((unsigned char *)b, n, &f), 0);
  free(b);
  return f;
}

int px_same_file(const char *a, const char *b) { return lh_sh("cmp -s '%s' '%s'", a, b) == 0; }

int px_exists(const char *p) { return access(p, F_OK) == 0; }

char *px_mode_of(const char *p) { return lh_sh_out("stat -c %%04a '%s'", p); }

/* Everything about the target dir: names, modes, owners, sizes, contents. */
char *px_tree_sum(void) {
  return lh_sh_out("cd '%s' && { find . -printf '%%p %%m %%u %%g %%s %%T@\\n' | LC_ALL=C sort; "
                   "find . -type f -exec sha256sum {} + | LC_ALL=C sort; getfacl -R -p . 2>/dev/null; }",
                   px_T);
}

const char *px_me(void) {
  struct passwd *pw = getpwuid(getuid());
  return pw ? pw->pw_name : "root";
}

const char *px_mygroup(void) {
  struct group *gr = getgrgid(getgid());
  return gr ? gr->gr_name : "root";
}

void px_setup(void) {
  char sections[1200];
  snprintf(px_T, sizeof px_T, "/tmp/rd-posix-t-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(px_T));
  snprintf(px_CERT, sizeof px_CERT, "%s/etc/server.crt", px_T);
  snprintf(px_KEY, sizeof px_KEY, "%s/etc/server.key", px_T);
  snprintf(px_CHAIN, sizeof px_CHAIN, "%s/etc/chain.pem", px_T);
  ck_assert_int_eq(lh_sh("mkdir -p '%s/etc' && cp %s/old.crt '%s' && cp %s/old.key '%s' && "
                         "cp %s/ca.crt '%s' && chmod 0644 '%s' '%s' && chmod 0600 '%s'",
                         px_T, px_M, px_CERT, px_M, px_KEY, px_M, px_CHAIN, px_CERT, px_CHAIN, px_KEY),
                   0);
  snprintf(sections, sizeof sections,
           "{\"certificate\": {\"cert\": \"%s\", \"key\": \"%s\", \"chain\": \"%s\"}}", px_CERT, px_KEY,
           px_CHAIN);
  px_job = lh_job_new("web17", sections);
  memset(&px_o, 0, sizeof px_o);
}

void px_teardown(void) {
  lh_outcome_clear(&px_o);
  lh_job_free(px_job);
  px_job = NULL;
  lh_sh("rm -rf '%s'", px_T);
}

int px_run(const rd_step_kind *k, rd_phase ph, const char *params) {
  int st = lh_phase(px_job, k, ph, params, &px_o);
  ck_assert_msg(px_o.rc < 0 ? px_o.done_calls == 0 : px_o.done_calls == 1, "%s: rc %d, %d completions",
                k->type, px_o.rc, px_o.done_calls);
  return st;
}



size_t px_nchanges(void) {
  return json_array_size(json_object_get(px_o.result, "changes"));
}

const json_t *px_problem(const char *what) {
  const json_t *p = json_object_get(lh_facts(px_job), "problems"), *v;
  size_t i;
  json_array_foreach(p, i, v) if (!strcmp(json_string_value(json_object_get(v, "what")), what)) return v;
  return NULL;
}

/* The issuer's outcome: new_cert, the staged key next to the live one, the
 * CA (chain). */
char px_STAGED[320];
void px_issue(void) {
  char path[300];
  json_t *f = lh_facts(px_job);
  snprintf(px_STAGED, sizeof px_STAGED, "%s.renewd-new", px_KEY);
  ck_assert_int_eq(lh_sh("cp %s/new.key '%s' && chmod 0600 '%s'", px_M, px_STAGED, px_STAGED), 0);
  snprintf(path, sizeof path, "%s/new.crt", px_M);
  json_object_set_new(f, "new_cert", px_facts_of(path));
  json_object_set_new(f, "staged", json_pack("{s:s, s:b}", "key", px_STAGED, "reused", 0));
  snprintf(path, sizeof path, "%s/ca.crt", px_M);
  char *ca = tu_read_file(path, NULL);
  json_object_set_new(f, "ca_pem", json_string(ca));
  free(ca);
}

/* The inventory of a due certificate (with the key match: facts.check_keys,
 * as core/certs.c asks for it), or the bare read of one that is not. */
void px_inventory(void) {
  json_object_set_new(lh_facts(px_job), "check_keys", json_true());
  PX_RUN_OK(&posix_kind_inventory, RD_PHASE_PROBE, NULL);
}
void px_inventory_read(void) {
  json_object_set_new(lh_facts(px_job), "check_keys", json_false());
  PX_RUN_OK(&posix_kind_inventory, RD_PHASE_PROBE, NULL);
}

char *px_mpath(const char *name) {
  static char buf[4][300];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", px_M, name);
  return buf[i];
}


/* A config file with the live certificate's sha1 (px_config_setup),
 * and timestamped backups next to the live files (px_make_backups). */
char px_CFGFILE[300];
char px_OLD_SHA1[64], px_NEW_SHA1[64];

/* in with every @UP@ / @LO@ replaced; caller frees. */
char *px_fill(const char *in, const char *up, const char *lo) {
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

void px_config_setup(const char *body_tmpl) {
  FILE *f;
  char up_old[64], *body;
  px_inventory();
  px_issue();
  snprintf(px_OLD_SHA1, sizeof px_OLD_SHA1, "%s", json_string_value(json_object_get(json_object_get(lh_facts(px_job), "cert"), "sha1")));
  snprintf(px_NEW_SHA1, sizeof px_NEW_SHA1, "%s", json_string_value(json_object_get(json_object_get(lh_facts(px_job), "new_cert"), "sha1")));
  for (size_t i = 0; i <= strlen(px_OLD_SHA1); i++)
    up_old[i] = (char)((px_OLD_SHA1[i] >= 'a' && px_OLD_SHA1[i] <= 'f') ? px_OLD_SHA1[i] - 32 : px_OLD_SHA1[i]);
  snprintf(px_CFGFILE, sizeof px_CFGFILE, "%s/etc/app.conf", px_T);
  /* @UP@: the old sha1 in upper case, @LO@: in lower case */
  body = px_fill(body_tmpl, up_old, px_OLD_SHA1);
  ck_assert_ptr_nonnull(f = fopen(px_CFGFILE, "w"));
  fputs(body, f);
  fclose(f);
  free(body);
  ck_assert_int_eq(lh_sh("chmod 0640 '%s' && cp -p '%s' '%s.orig'", px_CFGFILE, px_CFGFILE, px_CFGFILE), 0);
}

int px_conf_has(const char *s) {
  char *b = tu_read_file(px_CFGFILE, NULL);
  int r = b && strstr(b, s);
  free(b);
  return r;
}

void px_make_backups(void) {
  const char *ts[] = {"20240101T000000Z", "20240201T000000Z", "20240301T000000Z",
                      "20240401T000000Z"};
  for (size_t i = 0; i < 4; i++)
    ck_assert_int_eq(lh_sh("cp '%s' '%s.renewd-%s' && cp '%s' '%s.renewd-%s'", px_CERT, px_CERT, ts[i],
                           px_KEY, px_KEY, ts[i]),
                     0);
  /* look-alikes that are not backups */
  ck_assert_int_eq(lh_sh("cd '%s/etc' && touch server.key.renewd-new server.crt.renewd-notes "
                         ".server.crt.renewd-tmp.abc123 server.crt.renewd-2024 "
                         "server.crt.renewd-20240501T000000Z.bak",
                         px_T),
                   0);
}


int px_main(Suite *s, const char *prog) {
  int rc;
  if (px_make_material() != 0) {
    fprintf(stderr, "%s: cannot make test certificates with openssl in %s\n", prog, px_M);
    return 1;
  }
  rc = tu_run(s);
  lh_sh("rm -rf '%s'", px_M);
  return rc;
}

