/* win_fixture.h — the windows plugin tests' simulated Windows target
 * (test_windows_*.c): certificates made with OpenSSL (win_certs.c), a small
 * model of the machine that answers every script as it would on Windows
 * (win_target.c), and a host API over it that runs one phase at a time
 * (win_host.c). See test_windows_plugin.c for what is real and what is
 * simulated. */
#ifndef RENEWD_WIN_FIXTURE_H
#define RENEWD_WIN_FIXTURE_H
#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/err.h"
#include "host/hostapi.h"
#include "host/registry.h"
#include "transport/remote.h"
#include "testutil.h"
#include "windows_certreq.h"
#include "windows_plugin.h"
#include "windows_store.h"
#include "windows_util.h"
#include "base/util.h"
#include "base/x509.h"

#define V2_OID "1.3.6.1.4.1.311.21.8.1234567.7654321.42"
#define CONFIG "ca01.corp.example\\Corp Issuing CA"
#define ACCOUNT "CORP\\svc_ndes"
#define NDES_KEY "HKLM\\SOFTWARE\\Microsoft\\Cryptography\\MSCEP\\Modules\\NDESPolicy"
#define SCOM_KEY "HKLM\\SOFTWARE\\Microsoft\\Microsoft Operations Manager\\3.0\\Machine Settings"
#define DAY 86400L

typedef struct tcert {
  char *b64; /* DER, base64 */
  char thumb[41];
  json_t *facts;
} tcert;

typedef struct wt {
  json_t *facts, *sections, *journal;
  int whatif;
  char states[512];    /* set_state() calls, space-separated */
  json_t *store;       /* LocalMachine\My: store_list.ps1 entries */
  json_t *reqstore;    /* LocalMachine\REQUEST thumbprints */
  json_t *reg;         /* "key\\value" -> {kind, text | hex} */
  json_t *acl;         /* "path|account" -> FileSystemRights */
  json_t *svc;         /* name -> status */
  json_t *events;      /* [{log, id, provider, time, message}] */
  json_t *cacaps;      /* ndes_getcacaps.ps1's answer (NULL: 200 with capabilities) */
  json_t *doctor;      /* doctor.ps1's answer (NULL: {}) */
  const char *pool_user; /* the SCEP pool's identity (NULL: ACCOUNT, SpecificUser) */
  char *plugin_log;    /* NDESPlugin.log's text (NULL: no such file) */
  const char *cainfo;  /* MSCEP\CAInfo Configuration (NULL: not an NDES server) */
  json_t *ad_cas;      /* AD's enrollment services, "host\CA" each (NULL: none) */
  json_t *backups;     /* path -> store entry */
  json_t *dir;         /* the adcs work directory: out-submit, submit.started, cer */
  char iis_hash[41];
  int iis_count;
  char inf[512];       /* the INF adcs_new.ps1 would write */
  char *submit_text, *retrieve_text, *dump_text; /* the CA's answers */
  const tcert *issues; /* what the CA issues */
  const char *restart_event; /* events.json key the service logs after a restart */
  int submits, retrieves, dumps, task_timeout;
  int issue_always;    /* the CA issues whatever language the text is in */
  int certreq_exit;    /* certreq's exit code for -submit / -retrieve */
  int scripts;
  json_t *calls;       /* [{script, params}] */
  long long clock;
} wt;

struct rd_step {
  json_t *params;
  void *data;
  void (*free_fn)(void *);
  int done_calls, status;
  json_t *result;
  char msg[4096];
};

/* win_certs.c */
extern EVP_PKEY *ca_key;
extern X509 *ca_crt;
extern char *ca_b64;
extern tcert OLD, DUP, NEW, NEWER, EXPIRED, LATE_EXPIRED, WEB_OLD, WEB_NEW, PLAIN;
void make_material(void);
void free_material(void);
char *fixture_text(const char *name);

/* win_target.c */
extern wt *W;
extern int o_rc, o_status;
extern json_t *o_result;
extern char o_msg[4096];
void store_add(const tcert *c, int has_key, const char *provider);
json_t *store_get(const char *thumb);
const char *store_key_path(const char *thumb, char *buf, size_t n);
void store_del(const char *thumb);
void wt_new(const char *sections);
void wt_free(void);
void norm(const char *in, char *out, size_t n);
const char *P(const json_t *p, const char *k);
json_t *chain(void);
json_t *sim(const char *name, const json_t *p, int *exit_status, char *err, size_t errlen);

/* win_host.c */
extern const rd_host_api API;
int phase(const rd_step_kind *k, rd_phase ph, const char *params);
size_t nchanges(void);
const char *change_field(size_t i, const char *f);
int ran(const char *script, const json_t **params);
const char *fact(const char *a, const char *b);
void teardown(void);
void ndes(void);
void inventory(void);
void issued(const tcert *c);
/* wt_hold(1): scripts still run on the simulated target, but each reply
 * is held until wt_deliver() hands it over (0: none was held), as a late
 * answer would arrive. */
void wt_hold(int on);
int wt_deliver(void);
/* A test case whose tests start from a fresh target (wt_free after each). */
TCase *wt_tcase(const char *name);
/* main() of a windows test program: the certificates, the suite, cleanup. */
int wt_main(Suite *s);

#define OK(k, ph, params)                                                                          \
  ck_assert_msg(phase((k), (ph), (params)) == 0, "%s %d: %d %s", (k)->type, (int)(ph), o_status,  \
                o_msg)

#define EXPECT(k, ph, params, st)                                                                  \
  ck_assert_msg(phase((k), (ph), (params)) == (st), "%s %d: %d (wanted %d) %s", (k)->type,        \
                (int)(ph), o_status, (int)(st), o_msg)

#define NDES_SECTIONS                                                                              \
  "{\"certificate\": {\"store\": \"LocalMachine\\\\My\", \"template\": \"CEPEncryption\"}, "      \
  "\"issuer\": {\"type\": \"adcs\", \"config\": \"ca01.corp.example\\\\Corp Issuing CA\"}}"

#endif
