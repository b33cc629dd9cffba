/* posix_fixture.h — what the posix plugin tests (test_posix_*.c) share:
 * certificate material made once per run with the openssl command line
 * (px_M), a fresh target directory per test (px_T) with a live certificate,
 * key and chain, a localhost_api job over it, and phase runners. */
#ifndef RENEWD_POSIX_FIXTURE_H
#define RENEWD_POSIX_FIXTURE_H
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

extern char px_M[256]; /* material: CA, old/new/other keys and certificates */
extern char px_T[256]; /* this test's target directory */
extern char px_CERT[300], px_KEY[300], px_CHAIN[300];
extern lh_job *px_job;
extern lh_outcome px_o;
int px_make_material(void);
json_t *px_facts_of(const char *path);
int px_same_file(const char *a, const char *b);
int px_exists(const char *p);
char *px_mode_of(const char *p);
char *px_tree_sum(void);
const char *px_me(void);
const char *px_mygroup(void);
void px_setup(void);
void px_teardown(void);
int px_run(const rd_step_kind *k, rd_phase ph, const char *params);
size_t px_nchanges(void);
const json_t *px_problem(const char *what);
extern char px_STAGED[320];
void px_issue(void);
void px_inventory(void);      /* with the key match (a due certificate) */
void px_inventory_read(void); /* without (facts.check_keys false) */
char *px_mpath(const char *name);
extern char px_CFGFILE[300];
extern char px_OLD_SHA1[64], px_NEW_SHA1[64];
char *px_fill(const char *in, const char *up, const char *lo);
void px_config_setup(const char *body_tmpl);
int px_conf_has(const char *s);
void px_make_backups(void);

#define PX_RUN_OK(k, ph, params)                                                                      \
  do {                                                                                             \
    int st_ = px_run((k), (ph), (params));                                                            \
    ck_assert_msg(st_ == 0, "%s phase %d: %s (%s)", (k)->type, (int)(ph), rd_errname(st_), px_o.msg); \
  } while (0)

/* main() of every posix test program: material, the suite, cleanup. */
int px_main(Suite *s, const char *prog);

#endif
