/* test_windows_plugin.c — the windows plugin (windows.* and adcs.issue)
 * without Windows.
 *
 * Windows cannot run here. What runs for real: every step kind's C code —
 * parameter validation, the certreq/certutil parsers (over the documented
 * outputs in tests/fixtures/windows), the store selection, the decisions,
 * the journal records — and orchestrator/transport/remote.c building the PowerShell
 * command of every script with its parameters (rd_remote_build) and parsing
 * the replies (rd_remote_parse_windows). What is simulated: the target. A
 * host API in this file answers remote() with the JSON document each
 * script returns on Windows (its contract is in plugins/windows/ps/NAME.ps1),
 * computed from a small model of the machine (certificate store, REQUEST
 * store, registry, key ACLs, services, event log, IIS binding, the CA).
 * The PowerShell itself is checked by the parser only: the test ps_texts
 * writes every built script to BUILD_DIR/ps/ for tests/e2e/windows_ps_parse.sh.
 * Certificates are made here with OpenSSL (CA-signed, with v1 template name
 * or v2 template OID extensions, chosen validity).
 */
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

/* ------------------------------------------------------------ certificates */

typedef struct tcert {
  char *b64; /* DER, base64 */
  char thumb[41];
  json_t *facts;
} tcert;

static EVP_PKEY *ca_key;
static X509 *ca_crt;
static char *ca_b64;
/* CEPEncryption (v1 name): the live one, an older duplicate, the renewed
 * one, one newer than that, an expired one; v2 templates; no template. */
static tcert OLD, DUP, NEW, NEWER, EXPIRED, WEB_OLD, WEB_NEW, PLAIN;

static char *b64_of(const unsigned char *p, size_t n) {
  char *o = malloc(4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)o, p, (int)n);
  return o;
}

static char *der_b64(X509 *x) {
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  char *b = b64_of(der, (size_t)n);
  OPENSSL_free(der);
  return b;
}

static void add_ext(X509 *x, const char *oid, const unsigned char *der, int n) {
  ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
  ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
  X509_EXTENSION *e;
  ASN1_OCTET_STRING_set(os, der, n);
  e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  ASN1_OCTET_STRING_free(os);
  ASN1_OBJECT_free(o);
}

/* v1: BMPString name; v2: SEQUENCE { OID, major 100, minor 4 }. */
static void add_template(X509 *x, const char *name, const char *oid) {
  unsigned char buf[300];
  int n = 0;
  if (name) {
    size_t l = strlen(name);
    buf[n++] = 0x1E;
    buf[n++] = (unsigned char)(2 * l);
    for (size_t i = 0; i < l; i++) {
      buf[n++] = 0;
      buf[n++] = (unsigned char)name[i];
    }
    add_ext(x, "1.3.6.1.4.1.311.20.2", buf, n);
  }
  if (oid) {
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    unsigned char *od = NULL;
    int ol = i2d_ASN1_OBJECT(o, &od);
    n = 0;
    buf[n++] = 0x30;
    buf[n++] = (unsigned char)(ol + 6);
    memcpy(buf + n, od, (size_t)ol);
    n += ol;
    memcpy(buf + n, "\x02\x01\x64\x02\x01\x04", 6);
    n += 6;
    add_ext(x, "1.3.6.1.4.1.311.21.7", buf, n);
    OPENSSL_free(od);
    ASN1_OBJECT_free(o);
  }
}

static void mkcert(tcert *t, const char *cn, long serial, long nb, long na, const char *tname,
                   const char *toid) {
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *x = X509_new();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdl = 0;
  size_t len = 0;
  unsigned char *raw;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_time_adj_ex(X509_getm_notBefore(x), 0, nb, NULL);
  X509_time_adj_ex(X509_getm_notAfter(x), 0, na, NULL);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(ca_crt));
  X509_set_pubkey(x, k);
  add_template(x, tname, toid);
  X509_sign(x, ca_key, EVP_sha256());
  t->b64 = der_b64(x);
  X509_digest(x, EVP_sha1(), md, &mdl);
  for (unsigned i = 0; i < mdl; i++)
    snprintf(t->thumb + 2 * i, 3, "%02X", md[i]);
  raw = win_unb64(t->b64, &len);
  if (!raw || rd_x509_facts_from_bytes(raw, len, &t->facts)) { /* outside any test: no ck_assert */
    fprintf(stderr, "test_windows_plugin: cannot make the test certificate %s\n", cn);
    abort();
  }
  json_object_set_new(t->facts, "thumbprint", json_string(t->thumb));
  free(raw);
  X509_free(x);
  EVP_PKEY_free(k);
}

static void make_material(void) {
  ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  ca_crt = X509_new();
  X509_set_version(ca_crt, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ca_crt), 1);
  X509_time_adj_ex(X509_getm_notBefore(ca_crt), -1000, 0, NULL);
  X509_time_adj_ex(X509_getm_notAfter(ca_crt), 3650, 0, NULL);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(ca_crt), "CN", MBSTRING_ASC,
                             (const unsigned char *)"Corp Issuing CA", -1, -1, 0);
  X509_set_issuer_name(ca_crt, X509_get_subject_name(ca_crt));
  X509_set_pubkey(ca_crt, ca_key);
  X509_sign(ca_crt, ca_key, EVP_sha256());
  ca_b64 = der_b64(ca_crt);
  mkcert(&DUP, "ndes01-MSCEP-RA", 0x1001, -300 * DAY, 20 * DAY, "CEPEncryption", NULL);
  mkcert(&OLD, "ndes01-MSCEP-RA", 0x1002, -200 * DAY, 30 * DAY, "CEPEncryption", NULL);
  mkcert(&NEW, "ndes01-MSCEP-RA", 0x1003, -60, 730 * DAY, "CEPEncryption", NULL);
  mkcert(&NEWER, "ndes01-MSCEP-RA", 0x1004, -30, 900 * DAY, "CEPEncryption", NULL);
  mkcert(&EXPIRED, "ndes01-MSCEP-RA", 0x1005, -800 * DAY, -2 * DAY, "CEPEncryption", NULL);
  mkcert(&WEB_OLD, "web01.corp.example", 0x00FF01, -300 * DAY, 20 * DAY, NULL, V2_OID);
  mkcert(&WEB_NEW, "web01.corp.example", 0x2002, -60, 365 * DAY, NULL, V2_OID);
  mkcert(&PLAIN, "other.corp.example", 0x3003, -10 * DAY, 100 * DAY, NULL, NULL);
}

static void free_material(void) {
  tcert *all[] = {&OLD, &DUP, &NEW, &NEWER, &EXPIRED, &WEB_OLD, &WEB_NEW, &PLAIN};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    free(all[i]->b64);
    json_decref(all[i]->facts);
  }
  free(ca_b64);
  X509_free(ca_crt);
  EVP_PKEY_free(ca_key);
}

static char *fixture_text(const char *name) {
  char rel[256];
  size_t n = 0;
  unsigned char *b;
  snprintf(rel, sizeof rel, "windows/%s", name);
  b = tu_read_fixture(rel, &n);
  ck_assert_msg(b != NULL, "fixture %s", rel);
  return (char *)b;
}

/* ------------------------------------------------------------ the target */

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
  json_t *backups;     /* path -> store entry */
  json_t *dir;         /* the adcs work directory: out-submit, submit.started, cer */
  char iis_hash[41];
  int iis_count;
  char inf[512];       /* the INF adcs_new.ps1 would write */
  char *submit_text, *retrieve_text, *dump_text; /* the CA's answers */
  const tcert *issues; /* what the CA issues */
  const char *restart_event; /* events.json key the service logs after a restart */
  int submits, retrieves, dumps, task_timeout;
  int scripts;
  json_t *calls;       /* [{script, params}] */
  long long clock;
} wt;

static wt *W;

struct rd_step {
  json_t *params;
  void *data;
  void (*free_fn)(void *);
  int done_calls, status;
  json_t *result;
  char msg[4096];
};

/* the outcome of the last phase */
static int o_rc, o_status;
static json_t *o_result;
static char o_msg[4096];

static json_t *entry_of(const tcert *c, int has_key, const char *provider) {
  char container[64], path[300];
  snprintf(container, sizeof container, "%.8s_machine", c->thumb);
  snprintf(path, sizeof path, "C:\\ProgramData\\Microsoft\\Crypto\\%s\\%s",
           !strcmp(provider, "CAPI") ? "RSA\\MachineKeys" : "Keys", container);
  return json_pack("{s:s, s:s, s:b, s:{s:s?, s:s?, s:s?, s:b}, s:s, s:o}", "thumbprint", c->thumb,
                   "raw", c->b64, "has_key", has_key, "key", "provider", has_key ? provider : NULL,
                   "container", has_key ? container : NULL, "path", has_key ? path : NULL, "exists",
                   has_key, "friendly_name", "", "template_hint", json_null());
}

static void store_add(const tcert *c, int has_key, const char *provider) {
  json_array_append_new(W->store, entry_of(c, has_key, provider));
}

static json_t *store_get(const char *thumb) {
  json_t *e;
  size_t i;
  json_array_foreach(W->store, i, e) {
    if (!strcasecmp(json_string_value(json_object_get(e, "thumbprint")), thumb))
      return e;
  }
  return NULL;
}

static void store_del(const char *thumb) {
  json_t *e;
  size_t i;
  json_array_foreach(W->store, i, e) {
    if (!strcasecmp(json_string_value(json_object_get(e, "thumbprint")), thumb)) {
      json_array_remove(W->store, i);
      return;
    }
  }
}

static void wt_new(const char *sections) {
  json_error_t je;
  W = calloc(1, sizeof *W);
  W->sections = json_loads(sections ? sections : "{}", 0, &je);
  ck_assert_msg(W->sections != NULL, "%s", je.text);
  W->journal = json_object();
  W->facts = json_pack("{s:{s:s, s:s}, s:b}", "host", "name", "ndes01", "platform", "windows",
                       "whatif", 0);
  W->store = json_array();
  W->reqstore = json_array();
  W->reg = json_object();
  W->acl = json_object();
  W->svc = json_pack("{s:s, s:s, s:s}", "W3SVC", "Running", "HealthService", "Running", "Schedule",
                     "Running");
  W->events = json_array();
  W->backups = json_object();
  W->dir = json_object();
  W->calls = json_array();
  W->clock = (long long)time(NULL);
  W->iis_count = 1;
}

static void wt_free(void) {
  if (!W)
    return;
  json_decref(W->facts);
  json_decref(W->sections);
  json_decref(W->journal);
  json_decref(W->store);
  json_decref(W->reqstore);
  json_decref(W->reg);
  json_decref(W->acl);
  json_decref(W->svc);
  json_decref(W->events);
  json_decref(W->backups);
  json_decref(W->dir);
  json_decref(W->calls);
  free(W->submit_text);
  free(W->retrieve_text);
  free(W->dump_text);
  free(W);
  W = NULL;
  json_decref(o_result);
  o_result = NULL;
}

static int hex_ok(const char *s, size_t n) { return win_is_hex(s, n); }

/* Like PowerShell's -contains / rdw_norm: no whitespace, uppercase. */
static void norm(const char *in, char *out, size_t n) {
  size_t o = 0;
  for (; in && *in && o + 1 < n; in++)
    if (*in != ' ')
      out[o++] = (char)toupper((unsigned char)*in);
  out[o] = 0;
}

static const char *P(const json_t *p, const char *k) {
  const char *v = json_string_value(json_object_get(p, k));
  return v ? v : "";
}

static const char *rights_text(long long r) {
  if ((r & 0x1F01FF) == 0x1F01FF)
    return "FullControl";
  if ((r & 0x120089) == 0x120089)
    return "Read, Synchronize";
  return r ? "Synchronize" : "";
}

static json_t *chain(void) { return json_pack("[s]", ca_b64); }

/* --- the scripts, as the Windows target would answer them ------------------- */

#define FAIL(...)                                                                                  \
  do {                                                                                             \
    snprintf(err, errlen, __VA_ARGS__);                                                            \
    *exit_status = 3;                                                                              \
    return NULL;                                                                                   \
  } while (0)

static json_t *sim_task(const json_t *p, int *exit_status, char *err, size_t errlen) {
  const char *action = P(p, "action");
  int fresh = json_is_true(json_object_get(p, "fresh"));
  json_t *res = json_pack("{s:s, s:b, s:n, s:s, s:n, s:n, s:i}", "state", "done", "reused", 0,
                          "exit", "text", "", "cer", "error", "task_result", 0);
  const char *text = NULL;
  if (!hex_ok(P(p, "nonce"), 16))
    FAIL("work directory id '%s' is not 16 hex digits", P(p, "nonce"));
  if (strcmp(action, "dump") && (!strchr(P(p, "config"), '\\') || strchr(P(p, "config"), '"')))
    FAIL("CA configuration '%s' is not <CA host>\\<CA name>", P(p, "config"));
  if (!strcmp(action, "retrieve") && !*P(p, "request_id"))
    FAIL("request id '' is not a number");
  if (!strcmp(action, "submit") && !fresh && json_object_get(W->dir, "out-submit")) {
    json_object_update(res, json_object_get(W->dir, "out-submit"));
    json_object_set_new(res, "reused", json_true());
    return res;
  }
  if (!strcmp(action, "submit") && !fresh && json_object_get(W->dir, "submit.started")) {
    json_object_set_new(res, "state", json_string("unknown"));
    return res;
  }
  json_object_del(W->dir, "out-submit");
  json_object_set_new(W->dir, "submit.started", json_true());
  if (W->task_timeout) {
    json_object_set_new(res, "state", json_string("timeout"));
    return res;
  }
  if (!strcmp(action, "submit")) {
    W->submits++;
    text = W->submit_text;
  } else if (!strcmp(action, "retrieve")) {
    W->retrieves++;
    text = W->retrieve_text;
    json_object_del(W->dir, "submit.started");
  } else {
    W->dumps++;
    text = W->dump_text;
    json_object_del(W->dir, "submit.started");
  }
  json_object_set_new(res, "exit", json_integer(0));
  json_object_set_new(res, "text", json_string(text ? text : ""));
  if (strcmp(action, "dump") && text && strstr(text, "(Issued)") && W->issues) {
    json_object_set_new(res, "cer", json_string(W->issues->b64));
    json_object_set_new(W->dir, "cer", json_string(W->issues->b64));
  }
  if (!strcmp(action, "submit")) {
    json_t *o = json_deep_copy(res);
    json_object_del(o, "state");
    json_object_del(o, "reused");
    json_object_set_new(W->dir, "out-submit", o);
  }
  return res;
}

static json_t *sim(const char *name, const json_t *p, int *exit_status, char *err, size_t errlen) {
  *exit_status = 0;
  if (!strcmp(name, "windows.store.list")) {
    const json_t *want = json_object_get(p, "thumbprints"), *e, *t;
    json_t *certs = json_array();
    size_t i, j;
    if (strcmp(P(p, "store"), "LocalMachine\\My")) {
      json_decref(certs);
      FAIL("certificate store '%s' is not LocalMachine\\<name>", P(p, "store"));
    }
    json_array_foreach(want, j, t) {
      if (!hex_ok(json_string_value(t), 40)) {
        json_decref(certs);
        FAIL("thumbprint '%s' is not a 40-digit hex thumbprint", json_string_value(t));
      }
    }
    json_array_foreach(W->store, i, e) {
      int ok = !json_array_size(want);
      json_array_foreach(want, j, t) {
        ok |= !strcasecmp(json_string_value(t), P(e, "thumbprint"));
      }
      if (ok)
        json_array_append_new(certs, json_deep_copy(e));
    }
    return json_pack("{s:s, s:o}", "store", P(p, "store"), "certs", certs);
  }
  if (!strcmp(name, "adcs.probe")) {
    json_t *e = *P(p, "thumbprint") ? store_get(P(p, "thumbprint")) : NULL;
    int disc = json_is_true(json_object_get(p, "discover"));
    return json_pack("{s:b, s:s, s:b, s:b, s:o, s:s?, s:o}", "certreq", 1, "scheduler", "Running",
                     "found", e != NULL, "has_key", e && json_is_true(json_object_get(e, "has_key")),
                     "chain", e ? chain() : json_array(), "dump", disc ? W->dump_text : NULL,
                     "dump_exit", disc ? json_integer(0) : json_null());
  }
  if (!strcmp(name, "adcs.new")) {
    const char *t = P(p, "thumbprint");
    json_t *e;
    char rq[41];
    if (!hex_ok(t, 40))
      FAIL("RenewalCert '%s' is not a 40-digit hex thumbprint", t);
    if (!hex_ok(P(p, "nonce"), 16))
      FAIL("work directory id '%s' is not 16 hex digits", P(p, "nonce"));
    if (!(e = store_get(t)))
      FAIL("certificate %s is not in LocalMachine\\My", t);
    if (!json_is_true(json_object_get(e, "has_key")))
      FAIL("certificate %s has no private key", t);
    snprintf(W->inf, sizeof W->inf,
             "[Version]\nSignature=\"$Windows NT$\"\n[NewRequest]\nRenewalCert=\"%s\"\nMachineKeySet=TRUE\n",
             t);
    snprintf(rq, sizeof rq, "%038zuAA", json_array_size(W->reqstore) + 1);
    json_array_append_new(W->reqstore, json_string(rq));
    char *created = fixture_text("certreq-new-created.txt");
    json_t *r = json_pack("{s:i, s:s, s:b, s:[s]}", "exit", 0, "text", created, "req", 1,
                          "request_thumbprints", rq);
    free(created);
    return r;
  }
  if (!strcmp(name, "adcs.task"))
    return sim_task(p, exit_status, err, errlen);
  if (!strcmp(name, "adcs.accept")) {
    json_t *e;
    if (!json_object_get(W->dir, "cer") || !W->issues)
      FAIL("the issued certificate renewal.cer is missing");
    if (!(e = store_get(W->issues->thumb))) {
      store_add(W->issues, 1, "CNG");
      json_array_clear(W->reqstore); /* -accept consumes the pending request */
      e = store_get(W->issues->thumb);
    }
    json_object_clear(W->dir);
    return json_pack("{s:s, s:b, s:i, s:s, s:b, s:O, s:o}", "thumbprint", W->issues->thumb,
                     "accepted", 1, "exit", 0, "text", "Installed Certificate:", "found", 1, "cert",
                     e, "chain", chain());
  }
  if (!strcmp(name, "adcs.cleanup")) {
    json_t *removed = json_array(), *t;
    size_t i, j;
    json_array_foreach(json_object_get(p, "request_thumbprints"), i, t) {
      json_t *r;
      json_array_foreach(W->reqstore, j, r) {
        if (json_equal(r, t)) {
          json_array_append(removed, t);
          json_array_remove(W->reqstore, j);
          break;
        }
      }
    }
    json_object_clear(W->dir);
    return json_pack("{s:o, s:b}", "removed", removed, "dir_removed", 1);
  }
  if (!strcmp(name, "windows.install.remove")) {
    const char *st = "removed";
    if (!hex_ok(P(p, "new"), 40) || !hex_ok(P(p, "old"), 40))
      FAIL("bad thumbprint");
    if (!store_get(P(p, "new")))
      st = "absent";
    else if (!store_get(P(p, "old")))
      st = "old_missing";
    else
      store_del(P(p, "new"));
    return json_pack("{s:s}", "state", st);
  }
  if (!strcmp(name, "windows.key_acl.read") || !strcmp(name, "windows.key_acl.set")) {
    const char *acct = P(p, "account");
    char k[600];
    if (strcmp(acct, ACCOUNT) && strcmp(acct, "NT AUTHORITY\\SYSTEM"))
      FAIL("account '%s' cannot be resolved on this host", acct);
    if (!strcmp(name, "windows.key_acl.read")) {
      json_t *e = store_get(P(p, "thumbprint")), *key = json_object_get(e, "key");
      long long r;
      if (!hex_ok(P(p, "thumbprint"), 40))
        FAIL("certificate '%s' is not a 40-digit hex thumbprint", P(p, "thumbprint"));
      snprintf(k, sizeof k, "%s|%s", P(key, "path"), acct);
      r = json_integer_value(json_object_get(W->acl, k));
      return json_pack("{s:b, s:b, s:O?, s:s, s:I, s:s}", "found", e != NULL, "has_key",
                       json_is_true(json_object_get(e, "has_key")), "key", key, "sid",
                       "S-1-5-21-1-2-3-1105", "rights", (json_int_t)r, "text", rights_text(r));
    } else {
      long long r, mask = !strcmp(P(p, "rights"), "full") ? 0x1F01FF : 0x120089;
      if (strncmp(P(p, "path"), "C:\\ProgramData\\Microsoft\\Crypto\\", 31))
        FAIL("key file '%s' is not under C:\\ProgramData\\Microsoft\\Crypto\\", P(p, "path"));
      snprintf(k, sizeof k, "%s|%s", P(p, "path"), acct);
      r = json_integer_value(json_object_get(W->acl, k));
      if (!strcmp(P(p, "op"), "grant"))
        r |= mask;
      else if (!strcmp(P(p, "op"), "revoke"))
        r &= ~mask;
      else
        FAIL("operation '%s' is not grant or revoke", P(p, "op"));
      json_object_set_new(W->acl, k, json_integer(r));
      return json_pack("{s:I, s:s}", "rights", (json_int_t)r, "text", rights_text(r));
    }
  }
  if (!strcmp(name, "windows.registry.read") || !strcmp(name, "windows.registry.set")) {
    char k[1400], pre[1400], a[600], b[600], c[600];
    const char *key, *kk;
    json_t *v, *x;
    int key_exists = 0;
    if (strncmp(P(p, "key"), "HKLM", 4))
      FAIL("registry key '%s' is not HKLM\\<path>", P(p, "key"));
    snprintf(k, sizeof k, "%s\\%s", P(p, "key"), P(p, "value"));
    snprintf(pre, sizeof pre, "%s\\", P(p, "key"));
    json_object_foreach(W->reg, kk, x) { key_exists |= !strncmp(kk, pre, strlen(pre)); }
    v = json_object_get(W->reg, k);
    key = json_is_string(json_object_get(v, "hex")) ? "hex" : "text";
    if (!strcmp(name, "windows.registry.read"))
      return json_pack("{s:b, s:b, s:O?, s:O?, s:O?}", "key_exists", key_exists, "exists", v != NULL,
                       "kind", json_object_get(v, "kind"), "text", json_object_get(v, "text"), "hex",
                       json_object_get(v, "hex"));
    if (!v)
      FAIL("%s does not exist", k);
    if (strcmp(P(v, "kind"), !strcmp(P(p, "kind"), "REG_BINARY") ? "Binary" : "String"))
      FAIL("%s is %s, not %s", k, P(v, "kind"), P(p, "kind"));
    {
      char found[600];
      const char *st = "set";
      snprintf(found, sizeof found, "%s", P(v, key));
      norm(found, a, sizeof a);
      norm(P(p, "new"), b, sizeof b);
      norm(P(p, "expect"), c, sizeof c);
      if (!strcmp(a, b))
        st = "already";
      else if (strcmp(a, c))
        st = "mismatch";
      else
        json_object_set_new(v, key, json_string(P(p, "new")));
      return json_pack("{s:s, s:s}", "state", st, "found", found);
    }
  }
  if (!strcmp(name, "windows.service.probe") || !strcmp(name, "windows.service.run")) {
    const char *sv = !strcmp(P(p, "action"), "iisreset") ? "W3SVC" : P(p, "service");
    const char *st = P(W->svc, sv);
    if (!strcmp(name, "windows.service.probe"))
      return json_pack("{s:s, s:b, s:s?, s:b, s:I}", "name", sv, "exists", *st != 0, "status",
                       *st ? st : NULL, "iisreset", 1, "now", (json_int_t)W->clock);
    if (!*st)
      FAIL("Cannot find any service with service name '%s'.", sv);
    {
      long long at = W->clock;
      W->clock += 5;
      json_object_set_new(W->svc, sv, json_string("Running"));
      if (W->restart_event) {
        char *ev = fixture_text("events.json");
        json_t *all = json_loads(ev, 0, NULL), *one = json_object_get(all, W->restart_event);
        json_t *e = json_deep_copy(one);
        json_object_set_new(e, "time", json_integer(W->clock - 2));
        json_array_append_new(W->events, e);
        json_decref(all);
        free(ev);
      }
      return json_pack("{s:I, s:i, s:s, s:s}", "started_at", (json_int_t)at, "exit", 0, "text",
                       !strcmp(sv, "W3SVC") ? "Attempting stop...\r\nInternet services successfully "
                                              "stopped\r\nAttempting start...\r\nInternet services "
                                              "successfully restarted"
                                            : "",
                       "status", "Running");
    }
  }
  if (!strcmp(name, "windows.event.query")) {
    const json_t *e, *best = NULL;
    size_t i;
    const char *log = P(p, "log");
    long long since = json_integer_value(json_object_get(p, "since"));
    int exists = !strcmp(log, "Application") || !strcmp(log, "Operations Manager");
    json_array_foreach(W->events, i, e) {
      if (strcmp(P(e, "log"), log) ||
          json_integer_value(json_object_get(e, "id")) != json_integer_value(json_object_get(p, "id")))
        continue;
      if (*P(p, "source") && strcmp(P(p, "source"), P(e, "provider")))
        continue;
      if (since > 0 && json_integer_value(json_object_get(e, "time")) < since)
        continue;
      if (!best ||
          json_integer_value(json_object_get(e, "time")) > json_integer_value(json_object_get(best, "time")))
        best = e;
    }
    return json_pack("{s:b, s:b, s:O?, s:I, s:O?, s:O?, s:I}", "log_exists", exists, "found",
                     best != NULL, "time", json_object_get(best, "time"), "record_id", (json_int_t)7,
                     "provider", json_object_get(best, "provider"), "message",
                     json_object_get(best, "message"), "now", (json_int_t)W->clock);
  }
  if (!strcmp(name, "windows.iis.read") || !strcmp(name, "windows.iis.set")) {
    if (strcmp(P(p, "site"), "Default Web Site"))
      FAIL("IIS site '%s' does not exist", P(p, "site"));
    if (!strcmp(name, "windows.iis.read"))
      return json_pack("{s:i, s:s, s:s, s:s, s:s}", "count", W->iis_count, "binding", "*:443:",
                       "hash", W->iis_hash, "store", "My", "sslflags", "0");
    {
      const char *st = "set", *nw = P(p, "new");
      char found[41];
      snprintf(found, sizeof found, "%s", W->iis_hash);
      if (!strcasecmp(found, nw))
        st = "already";
      else if (strcasecmp(found, P(p, "expect")))
        st = "mismatch";
      else {
        if (*nw && !store_get(nw))
          FAIL("certificate %s is not in LocalMachine\\My", nw);
        snprintf(W->iis_hash, sizeof W->iis_hash, "%s", nw);
      }
      return json_pack("{s:s, s:s, s:s}", "state", st, "found", found, "hash", W->iis_hash);
    }
  }
  if (!strcmp(name, "windows.prune.apply")) {
    json_t *n = store_get(P(p, "new")), *t, *done = json_array();
    size_t i;
    if (!n || !json_is_true(json_object_get(n, "has_key"))) {
      json_decref(done);
      FAIL("the new certificate %s is not in LocalMachine\\My with its private key: nothing was "
           "removed", P(p, "new"));
    }
    json_array_foreach(json_object_get(p, "remove"), i, t) {
      json_t *e = store_get(json_string_value(t));
      if (!strcasecmp(json_string_value(t), P(p, "new"))) {
        json_decref(done);
        FAIL("refusing to remove the new certificate %s", P(p, "new"));
      }
      if (e) { /* NotAfter of the DER, as the script compares them */
        size_t l1 = 0, l2 = 0;
        unsigned char *d1 = win_unb64(P(e, "raw"), &l1), *d2 = win_unb64(P(n, "raw"), &l2);
        json_t *f1 = NULL, *f2 = NULL;
        rd_x509_facts_from_bytes(d1, l1, &f1);
        rd_x509_facts_from_bytes(d2, l2, &f2);
        int later = json_integer_value(json_object_get(f1, "not_after")) >
                    json_integer_value(json_object_get(f2, "not_after"));
        free(d1);
        free(d2);
        json_decref(f1);
        json_decref(f2);
        if (later) {
          json_decref(done);
          FAIL("refusing to remove %s: it expires after the new certificate", json_string_value(t));
        }
      }
    }
    json_array_foreach(json_object_get(p, "remove"), i, t) {
      char b[600];
      json_t *e = store_get(json_string_value(t));
      if (!e) {
        json_array_append_new(done, json_pack("{s:O, s:s, s:n}", "thumbprint", t, "state", "absent",
                                              "backup"));
        continue;
      }
      snprintf(b, sizeof b, "%s\\%s.cer", P(p, "backup_dir"), json_string_value(t));
      json_object_set(W->backups, b, e);
      store_del(json_string_value(t));
      json_array_append_new(done, json_pack("{s:O, s:s, s:s}", "thumbprint", t, "state", "removed",
                                            "backup", b));
    }
    return json_pack("{s:o}", "results", done);
  }
  if (!strcmp(name, "windows.prune.restore")) {
    json_t *it, *done = json_array();
    size_t i;
    json_array_foreach(json_object_get(p, "items"), i, it) {
      json_t *b = json_object_get(W->backups, P(it, "backup"));
      if (store_get(P(it, "thumbprint")))
        json_array_append_new(done, json_pack("{s:s, s:s, s:b}", "thumbprint", P(it, "thumbprint"),
                                              "state", "present", "has_key", 1));
      else if (!b)
        json_array_append_new(done, json_pack("{s:s, s:s, s:b}", "thumbprint", P(it, "thumbprint"),
                                              "state", "no_backup", "has_key", 0));
      else {
        /* the key stayed on disk: certutil -repairstore links it again */
        json_array_append(W->store, b);
        json_array_append_new(done, json_pack("{s:s, s:s, s:b, s:i}", "thumbprint",
                                              P(it, "thumbprint"), "state", "restored", "has_key",
                                              json_is_true(json_object_get(b, "has_key")),
                                              "repair_exit", 0));
      }
    }
    return json_pack("{s:o}", "results", done);
  }
  FAIL("no simulation for script %s", name);
}

/* ------------------------------------------------------------ host API */

static const json_t *h_params(rd_step *s) { return s->params; }
static const char *h_host(rd_step *s) { return "ndes01"; }
static rd_platform h_platform(rd_step *s) { return RD_PLATFORM_WINDOWS; }
static int h_whatif(rd_step *s) { return W->whatif; }
static json_t *h_facts(rd_step *s) { return W->facts; }
static const json_t *h_section(rd_step *s, const char *name) {
  return json_object_get(W->sections, name);
}
static void h_log(rd_step *s, rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void h_log(rd_step *s, rd_log_level level, const char *fmt, ...) {}
static void h_set_data(rd_step *s, void *data, void (*free_fn)(void *)) {
  if (s->data && s->free_fn && s->data != data)
    s->free_fn(s->data);
  s->data = data;
  s->free_fn = free_fn;
}
static void *h_data(rd_step *s) { return s->data; }
static int h_journal_put(rd_step *s, const char *key, const json_t *value) {
  if (!value)
    return json_object_del(W->journal, key), 0;
  return json_object_set_new(W->journal, key, json_deep_copy(value)) ? RD_ENOMEM : 0;
}
static json_t *h_journal_get(rd_step *s, const char *key) {
  const json_t *v = json_object_get(W->journal, key);
  return v ? json_deep_copy(v) : NULL;
}
static int h_set_state(rd_step *s, const char *state) {
  snprintf(W->states + strlen(W->states), sizeof W->states - strlen(W->states), "%s%s",
           *W->states ? " " : "", state);
  return 0;
}

/* Windows scripts only: built by remote.c, answered by sim(), the answer
 * parsed by remote.c as the host does. */
static int h_remote(rd_step *s, const rd_script *sc, json_t *params, rd_remote_cb cb, void *arg) {
  rd_remote_cmd cmd;
  rd_remote_result r;
  char err[512] = "", serr[4096] = "";
  int exit_status = 0;
  json_t *out, *doc = NULL;
  char *txt;
  if (sc->platform != RD_PLATFORM_WINDOWS) {
    json_decref(params);
    return RD_ENOTSUP;
  }
  if (sc->mutating && W->whatif) { /* refused before anything is sent */
    json_decref(params);
    return RD_EWHATIF;
  }
  ck_assert_msg(rd_remote_build(sc, params, 0, &cmd, err, sizeof err) == 0, "%s", err);
  ck_assert(cmd.command && cmd.stdin_len > 0);
  rd_remote_cmd_free(&cmd);
  W->scripts++;
  json_array_append_new(W->calls, json_pack("{s:s, s:O}", "script", sc->name, "params", params));
  out = sim(sc->name, params, &exit_status, serr, sizeof serr);
  txt = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("");
  if (!exit_status)
    ck_assert_msg(rd_remote_parse_windows(txt, strlen(txt), &doc, err, sizeof err) == 0, "%s", err);
  memset(&r, 0, sizeof r);
  r.exit_status = exit_status;
  r.json = doc;
  r.out = txt;
  r.out_len = strlen(txt);
  r.err = serr;
  cb(s, 0, &r, arg);
  json_decref(doc);
  json_decref(out);
  json_decref(params);
  free(txt);
  return 0;
}

static int h_http(rd_step *s, const rd_http_request *req, rd_http_cb cb, void *arg) {
  return RD_ENOTSUP;
}
static int h_work(rd_step *s, rd_work_fn fn, rd_after_fn after, void *arg) {
  fn(arg);
  after(s, 0, arg);
  return 0;
}
static int h_secret(rd_step *s, const json_t *ref, char **out, size_t *len) { return RD_ENOTFOUND; }
static void h_done(rd_step *s, int status, json_t *result, const char *msg) {
  if (s->done_calls++) {
    json_decref(result);
    ck_abort_msg("done() called twice: %s", msg ? msg : "");
  }
  s->status = status;
  s->result = result;
  snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "");
}

static void h_donef(rd_step *s, int status, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const rd_host_api API = {
    .size = sizeof(rd_host_api),
    .abi = RD_PLUGIN_ABI,
    .params = h_params,
    .host = h_host,
    .platform = h_platform,
    .whatif = h_whatif,
    .facts = h_facts,
    .section = h_section,
    .log = h_log,
    .set_data = h_set_data,
    .data = h_data,
    .journal_put = h_journal_put,
    .journal_get = h_journal_get,
    .set_state = h_set_state,
    .remote = h_remote,
    .http = h_http,
    .work = h_work,
    .secret = h_secret,
    .done = h_done,
    .strerror = rd_strerror,
    .cert_facts = rd_x509_facts_from_bytes,
    .donef = h_donef,
    .b64_encode = rd_base64_encode_str,
    .b64_decode = rd_base64_decode_str,
};

static void h_donef(rd_step *s, int status, json_t *result, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rd_host_vdonef(&API, s, status, result, fmt, ap);
  va_end(ap);
}

/* One phase as a fresh step (as after a restart): only facts and the
 * journal carry over. Returns the status; o_result / o_msg hold the rest. */
static int phase(const rd_step_kind *k, rd_phase ph, const char *params) {
  rd_step s;
  json_error_t je;
  rd_phase_fn fn = ph == RD_PHASE_PROBE    ? k->probe
                   : ph == RD_PHASE_APPLY  ? k->apply
                   : ph == RD_PHASE_VERIFY ? k->verify
                                           : k->rollback;
  memset(&s, 0, sizeof s);
  json_decref(o_result);
  o_result = NULL;
  o_msg[0] = 0;
  s.params = json_loads(params ? params : "{}", 0, &je);
  ck_assert_msg(s.params != NULL, "params: %s", je.text);
  ck_assert_msg(fn != NULL, "%s has no such phase", k->type);
  o_rc = fn(&s, &API);
  if (o_rc < 0) {
    ck_assert_int_eq(s.done_calls, 0);
    o_status = o_rc;
  } else {
    ck_assert_int_eq(s.done_calls, 1);
    o_status = s.status;
    o_result = s.result;
    snprintf(o_msg, sizeof o_msg, "%s", s.msg);
  }
  if (s.data && s.free_fn)
    s.free_fn(s.data);
  json_decref(s.params);
  return o_status;
}

#define OK(k, ph, params)                                                                          \
  ck_assert_msg(phase((k), (ph), (params)) == 0, "%s %d: %d %s", (k)->type, (int)(ph), o_status,  \
                o_msg)
#define EXPECT(k, ph, params, st)                                                                  \
  ck_assert_msg(phase((k), (ph), (params)) == (st), "%s %d: %d (wanted %d) %s", (k)->type,        \
                (int)(ph), o_status, (int)(st), o_msg)

static size_t nchanges(void) { return json_array_size(json_object_get(o_result, "changes")); }
static const char *change_field(size_t i, const char *f) {
  return json_string_value(json_object_get(json_array_get(json_object_get(o_result, "changes"), i), f));
}
/* How many times a script ran, and the params of its last run. */
static int ran(const char *script, const json_t **params) {
  const json_t *c;
  size_t i;
  int n = 0;
  json_array_foreach(W->calls, i, c) {
    if (!strcmp(P(c, "script"), script)) {
      n++;
      if (params)
        *params = json_object_get(c, "params");
    }
  }
  return n;
}
static const char *fact(const char *a, const char *b) {
  return json_string_value(json_object_get(json_object_get(W->facts, a), b));
}

static void teardown(void) { wt_free(); }

#define NDES_SECTIONS                                                                              \
  "{\"certificate\": {\"store\": \"LocalMachine\\\\My\", \"template\": \"CEPEncryption\"}, "      \
  "\"issuer\": {\"type\": \"adcs\", \"config\": \"ca01.corp.example\\\\Corp Issuing CA\"}}"

/* An NDES server: the live RA certificate, an older duplicate, another. */
static void ndes(void) {
  wt_new(NDES_SECTIONS);
  store_add(&DUP, 1, "CAPI");
  store_add(&OLD, 1, "CAPI");
  store_add(&PLAIN, 1, "CNG");
  W->issues = &NEW;
  W->submit_text = fixture_text("certreq-submit-issued.txt");
}

/* facts.cert as windows.inventory finds it. */
static void inventory(void) { OK(&windows_kind_inventory, RD_PHASE_PROBE, NULL); }

/* facts.new_cert as adcs.issue sets it (the engine then sets expect). */
static void issued(const tcert *c) {
  json_t *f = json_deep_copy(c->facts);
  json_object_set_new(f, "has_private_key", json_true());
  json_object_set_new(W->facts, "new_cert", f);
  json_object_set(W->facts, "expect", f);
}

/* ------------------------------------------------------------ plugin */

START_TEST(descriptor) {
  const rd_plugin *p = windows_plugin();
  rd_registry *r = NULL;
  char err[512];
  size_t n = 0;
  ck_assert_uint_eq(p->magic, RD_PLUGIN_MAGIC);
  ck_assert_str_eq(p->name, "windows");
  for (size_t i = 0; p->kinds[i]; i++, n++) {
    ck_assert(!strncmp(p->kinds[i]->type, "windows.", 8) || !strcmp(p->kinds[i]->type, "adcs.issue"));
    ck_assert_ptr_nonnull(p->kinds[i]->validate);
    ck_assert_ptr_nonnull(p->kinds[i]->probe);
    ck_assert_int_eq(p->kinds[i]->platform, RD_PLATFORM_WINDOWS);
  }
  ck_assert_uint_eq(n, 9);
  ck_assert_uint_eq(windows_kind_inventory.flags, RD_KIND_INVENTORY);
  ck_assert_uint_eq(adcs_kind_issue.flags, RD_KIND_ISSUER);
  ck_assert_uint_eq(windows_kind_install.flags, RD_KIND_INSTALL);
  ck_assert_uint_eq(windows_kind_service.flags, RD_KIND_RESTART);
  ck_assert_uint_eq(windows_kind_event_verify.flags, RD_KIND_CHECK);
  ck_assert_int_eq(rd_registry_new(&r), 0);
  ck_assert_msg(rd_registry_add(r, p, "static", err, sizeof err) == 0, "%s", err);
  ck_assert_ptr_eq(rd_registry_find(r, "adcs.issue"), &adcs_kind_issue);
  ck_assert_ptr_eq(rd_registry_find(r, "windows.registry_thumbprint"),
                   &windows_kind_registry_thumbprint);
  rd_registry_free(r);
}
END_TEST

START_TEST(module_entry) {
  char path[1024];
  void *h;
  rd_plugin_entry e;
  snprintf(path, sizeof path, "%s/plugins/renewd-windows.so", BUILD_DIR);
  if (access(path, F_OK))
    return; /* plugins not built in this tree */
  h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(h != NULL, "%s", dlerror());
  *(void **)&e = dlsym(h, RD_PLUGIN_SYMBOL);
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e()->name, "windows");
  dlclose(h);
}
END_TEST

/* windows_ps.h is generated from plugins/windows/ps/NAME.ps1: it must be current. */
START_TEST(scripts_embedded_current) {
  char out[600], cmd[1600];
  snprintf(out, sizeof out, "%s/windows_ps.h.check", BUILD_DIR);
  snprintf(cmd, sizeof cmd, "sh '%s/plugins/windows/ps/embed.sh' '%s'", SOURCE_DIR, out);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s/plugins/windows/windows_ps.h'", out, SOURCE_DIR);
  ck_assert_msg(system(cmd) == 0,
                "plugins/windows/windows_ps.h is stale: run sh plugins/windows/ps/embed.sh");
  unlink(out);
}
END_TEST

/* The PowerShell each script becomes (remote.c's prelude + lib + script),
 * decoded back from -EncodedCommand (or the upload), into BUILD_DIR/ps/
 * for tests/e2e/windows_ps_parse.sh; the task script too (it runs as a
 * file of its own, without the prelude). */
static void write_text(const char *dir, const char *name, const char *text, size_t len) {
  char path[1200];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s.ps1", dir, name);
  ck_assert_ptr_nonnull(f = fopen(path, "wb"));
  ck_assert_uint_eq(fwrite(text, 1, len, f), len);
  fclose(f);
}

START_TEST(ps_texts) {
  char dir[1024], err[256];
  size_t n = 0;
  json_t *params = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s, s:i, s:b}", "store", "LocalMachine\\My",
                             "thumbprint", OLD.thumb, "thumbprints", OLD.thumb, "nonce",
                             "0123456789abcdef", "config", CONFIG, "account", "CORP\\svc'\"$(x)",
                             "wait", 120, "fresh", 1);
  snprintf(dir, sizeof dir, "%s/ps", BUILD_DIR);
  mkdir(dir, 0755);
  for (size_t i = 0; windows_script_sets[i]; i++)
    for (size_t j = 0; windows_script_sets[i][j]; j++, n++) {
      const rd_script *sc = windows_script_sets[i][j];
      rd_remote_cmd c;
      const char *pre = "powershell.exe -NoProfile -NonInteractive -EncodedCommand ";
      ck_assert_int_eq(sc->platform, RD_PLATFORM_WINDOWS);
      ck_assert_msg(rd_remote_build(sc, params, 0, &c, err, sizeof err) == 0, "%s: %s", sc->name, err);
      if (c.upload_path) {
        ck_assert_uint_gt(c.upload_len, 3);
        write_text(dir, sc->name, c.upload_data + 3, c.upload_len - 3); /* after the BOM */
      } else {
        size_t blen = 0;
        unsigned char *u16;
        char *t;
        ck_assert(!strncmp(c.command, pre, strlen(pre)));
        ck_assert_ptr_nonnull(u16 = win_unb64(c.command + strlen(pre), &blen));
        ck_assert_uint_eq(blen % 2, 0);
        t = malloc(blen / 2 + 1);
        for (size_t k = 0; k < blen / 2; k++) {
          ck_assert_msg(u16[2 * k + 1] == 0, "%s: non-ASCII text", sc->name);
          t[k] = (char)u16[2 * k];
        }
        t[blen / 2] = 0;
        ck_assert_ptr_nonnull(strstr(t, "function rdw_thumb"));
        write_text(dir, sc->name, t, blen / 2);
        free(t);
        free(u16);
      }
      rd_remote_cmd_free(&c);
    }
  write_text(dir, "adcs.task_inner", windows_task_inner_ps, strlen(windows_task_inner_ps));
  json_decref(params);
  ck_assert_uint_ge(n, 18);
}
END_TEST

/* ------------------------------------------------------------ validation */

typedef struct vcase {
  const rd_step_kind *kind;
  const char *params;
  const char *error; /* NULL: valid; else a piece of the sentence */
} vcase;

START_TEST(validate_params) {
  static const vcase cases[] = {
      {&windows_kind_inventory, "{}", NULL},
      {&windows_kind_inventory, "{\"store\": \"My\"}", "takes no parameters"},
      {&adcs_kind_issue, "{}", NULL},
      {&adcs_kind_issue, "{\"config\": \"x\"}", "takes no parameters"},
      {&windows_kind_install, "{}", NULL},
      {&windows_kind_install, "[]", "params must be an object"},
      {&windows_kind_key_acl, "{\"account\": \"CORP\\\\svc_ndes\", \"rights\": \"read\"}", NULL},
      {&windows_kind_key_acl, "{\"account\": \"NT AUTHORITY\\\\SYSTEM\", \"rights\": \"Read\"}", NULL},
      {&windows_kind_key_acl, "{\"account\": \"CORP\\\\gmsa_ndes$\", \"rights\": \"full\"}", NULL},
      {&windows_kind_key_acl, "{\"rights\": \"read\"}", "\"account\" is required"},
      {&windows_kind_key_acl, "{\"account\": \"CORP\\\\a\\\\b\"}", "must be an account name"},
      {&windows_kind_key_acl, "{\"account\": \"x\", \"rights\": \"write\"}", "\"rights\" must be"},
      {&windows_kind_key_acl, "{\"account\": \"x\", \"mode\": \"0600\"}", "unknown parameter \"mode\""},
      {&windows_kind_prune_duplicates, "{\"match\": \"template\"}", NULL},
      {&windows_kind_prune_duplicates, "{\"match\": \"subject\", \"backup_dir\": \"D:\\\\bak\"}", NULL},
      {&windows_kind_prune_duplicates, "{\"match\": \"issuer\"}", "\"match\" must be one of"},
      {&windows_kind_prune_duplicates, "{\"backup_dir\": \"bak\"}", "absolute local path"},
      {&windows_kind_prune_duplicates, "{\"backup_dir\": \"C:\\\\a\\\\..\\\\Windows\"}", "absolute local path"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"" "HKLM\\\\SOFTWARE\\\\X" "\", \"value\": \"NDESCertThumbprint\", \"format\": \"sha1\", \"kind\": \"REG_SZ\"}", NULL},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM:\\\\SOFTWARE\\\\X\", \"value\": \"ChannelCertificateSerialNumber\", \"format\": \"serial_reversed\"}", NULL},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKCU\\\\X\", \"value\": \"v\", \"format\": \"sha1\"}", "must be a path under HKLM"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM\\\\X\", \"value\": \"v\", \"format\": \"md5\"}", "\"format\" must be one of"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM\\\\X\", \"value\": \"v\", \"format\": \"sha1\", \"kind\": \"REG_DWORD\"}",
       "\"kind\" must be"},
      {&windows_kind_registry_thumbprint, "{\"key\": \"HKLM\\\\X\", \"format\": \"sha1\"}",
       "\"value\" is required"},
      {&windows_kind_registry_thumbprint,
       "{\"key\": \"HKLM\\\\X\", \"value\": \"a\\\\b\", \"format\": \"sha1\"}", "value name, not a path"},
      {&windows_kind_service, "{\"action\": \"iisreset\"}", NULL},
      {&windows_kind_service, "{\"service\": \"HealthService\", \"action\": \"restart\", \"timeout\": 300}", NULL},
      {&windows_kind_service, "{\"service\": \"HealthService\"}", NULL},
      {&windows_kind_service, "{}", "give \"service\""},
      {&windows_kind_service, "{\"action\": \"iisreset\", \"service\": \"W3SVC\"}", "takes no \"service\""},
      {&windows_kind_service, "{\"service\": \"a;b\"}", "must be a service name"},
      {&windows_kind_service, "{\"service\": \"x\", \"action\": \"reload\"}", "\"action\" must be"},
      {&windows_kind_service, "{\"service\": \"x\", \"timeout\": 0}", "\"timeout\" must be"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 1, \"within\": \"10m\"}", NULL},
      {&windows_kind_event_verify,
       "{\"log\": \"Operations Manager\", \"event_id\": 20053, \"source\": \"OpsMgr Connector\"}", NULL},
      {&windows_kind_event_verify, "{\"event_id\": 1}", "\"log\" is required"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 70000}", "\"event_id\" must be"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"event_id\": 1, \"within\": \"2d\"}",
       "\"within\" must be"},
      {&windows_kind_event_verify, "{\"log\": \"Application\", \"id\": 1}", "unknown parameter \"id\""},
      {&windows_kind_iis_binding, "{\"site\": \"Default Web Site\", \"protocol\": \"https\", \"port\": 443}", NULL},
      {&windows_kind_iis_binding, "{\"site\": \"Default Web Site\", \"host\": \"www.corp.example\"}", NULL},
      {&windows_kind_iis_binding, "{\"port\": 443}", "\"site\" is required"},
      {&windows_kind_iis_binding, "{\"site\": \"x\", \"protocol\": \"http\"}", "\"protocol\" must be"},
      {&windows_kind_iis_binding, "{\"site\": \"x\", \"port\": 70000}", "\"port\" must be"},
      {&windows_kind_iis_binding, "{\"site\": \"x\", \"host\": \"a b\"}", "\"host\" must be"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char err[512] = "";
    json_error_t je;
    json_t *p = json_loads(cases[i].params, JSON_DECODE_ANY, &je);
    int rc;
    ck_assert_msg(p != NULL, "case %zu: %s", i, je.text);
    rc = cases[i].kind->validate(p, err, sizeof err);
    if (!cases[i].error) {
      ck_assert_msg(rc == 0, "case %zu (%s %s): %s", i, cases[i].kind->type, cases[i].params, err);
    } else {
      ck_assert_msg(rc == RD_EINVAL, "case %zu (%s %s) passed", i, cases[i].kind->type, cases[i].params);
      ck_assert_msg(strstr(err, cases[i].error) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                    cases[i].error);
      ck_assert_msg(!strncmp(err, cases[i].kind->type, strlen(cases[i].kind->type)),
                    "case %zu: '%s' does not name the kind", i, err);
      ck_assert_msg(!strchr(err, '\n'), "case %zu: not one line", i);
    }
    json_decref(p);
  }
}
END_TEST

/* The shipped runbooks' params, through the real validators. */
START_TEST(shipped_runbook_params) {
  const char *names[] = {"windows-configmgr-policy-module.json", "windows-iis-site.json",
                         "windows-ndes-ra.json", "windows-ndes-ra-eea.json",
                         "windows-scom-channel.json"};
  const rd_plugin *pl = windows_plugin();
  size_t checked = 0;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char path[1024];
    json_error_t je;
    json_t *rb, *st;
    size_t j;
    snprintf(path, sizeof path, "%s/runbooks/%s", SOURCE_DIR, names[i]);
    ck_assert_msg((rb = json_load_file(path, 0, &je)) != NULL, "%s: %s", path, je.text);
    json_array_foreach(json_object_get(rb, "steps"), j, st) {
      const char *type = P(st, "type");
      for (size_t k = 0; pl->kinds[k]; k++) {
        char err[512] = "";
        if (strcmp(pl->kinds[k]->type, type))
          continue;
        ck_assert_msg(pl->kinds[k]->validate(json_object_get(st, "params"), err, sizeof err) == 0,
                      "%s steps[%zu]: %s", names[i], j, err);
        checked++;
      }
    }
    json_decref(rb);
  }
  ck_assert_uint_ge(checked, 15);
}
END_TEST

/* ------------------------------------------------------------ parsers */

static void parse_fixture(const char *name, adcs_outcome *o) {
  char *t = fixture_text(name);
  adcs_parse_certreq(t, o);
  free(t);
}

START_TEST(certreq_issued) {
  adcs_outcome o;
  parse_fixture("certreq-submit-issued.txt", &o);
  ck_assert_int_eq(o.status, ADCS_ISSUED);
  ck_assert_int_eq(o.request_id, 42);
  ck_assert_str_eq(o.message, "Issued");
  ck_assert_int_eq(o.expired_basis, 0);
  parse_fixture("certreq-retrieve-issued.txt", &o);
  ck_assert_int_eq(o.status, ADCS_ISSUED);
  ck_assert_int_eq(o.request_id, -1);
}
END_TEST

START_TEST(certreq_pending) {
  adcs_outcome o;
  parse_fixture("certreq-submit-pending.txt", &o);
  ck_assert_int_eq(o.status, ADCS_PENDING);
  ck_assert_int_eq(o.request_id, 43);
  ck_assert_str_eq(o.message, "Taken Under Submission (0)");
  /* the quoted spelling alone */
  adcs_parse_certreq("RequestId: \"7\"\nCertificate request is pending: Taken Under Submission (0)\n", &o);
  ck_assert_int_eq(o.status, ADCS_PENDING);
  ck_assert_int_eq(o.request_id, 7);
  parse_fixture("certreq-retrieve-pending.txt", &o);
  ck_assert_int_eq(o.status, ADCS_PENDING);
}
END_TEST

START_TEST(certreq_denied) {
  adcs_outcome o;
  parse_fixture("certreq-submit-denied.txt", &o);
  ck_assert_int_eq(o.status, ADCS_DENIED);
  ck_assert_int_eq(o.request_id, 4);
  /* the wrapped lines are one message again */
  ck_assert_msg(strstr(o.message, "The EMail name is unavailable and cannot be added to the Subject") != NULL,
                "%s", o.message);
  ck_assert_msg(strstr(o.message, "CERTSRV_E_SUBJECT_EMAIL_REQUIRED") != NULL, "%s", o.message);
  ck_assert_str_eq(o.hresult, "0x80094812");
  ck_assert_int_eq(o.expired_basis, 0);
}
END_TEST

START_TEST(certreq_expired_basis) {
  adcs_outcome o;
  parse_fixture("certreq-submit-denied-expired.txt", &o);
  ck_assert_int_eq(o.status, ADCS_DENIED);
  ck_assert_int_eq(o.request_id, 45);
  ck_assert_int_eq(o.expired_basis, 1);
  ck_assert_str_eq(o.hresult, "0x800b0101");
  ck_assert_msg(strstr(o.message, "not within its validity period") != NULL, "%s", o.message);
}
END_TEST

START_TEST(certreq_errors) {
  adcs_outcome o;
  char msg[300];
  char *t;
  parse_fixture("certreq-submit-rpc-unavailable.txt", &o);
  ck_assert_int_eq(o.status, ADCS_FAILED);
  ck_assert_str_eq(o.hresult, "0x800706ba");
  ck_assert_msg(strstr(o.message, "RPC server is unavailable") != NULL, "%s", o.message);
  adcs_parse_certreq("", &o);
  ck_assert_int_eq(o.status, ADCS_UNKNOWN);
  adcs_parse_certreq("something else entirely\n", &o);
  ck_assert_int_eq(o.status, ADCS_UNKNOWN);
  ck_assert_str_eq(o.message, "something else entirely");
  /* certreq -new */
  t = fixture_text("certreq-new-created.txt");
  ck_assert_int_eq(adcs_parse_new(0, 1, t, msg, sizeof msg), 0);
  free(t);
  t = fixture_text("certreq-new-renewalcert-missing.txt");
  ck_assert_int_eq(adcs_parse_new(-2146885628, 0, t, msg, sizeof msg), -1);
  ck_assert_msg(strstr(msg, "CRYPT_E_NOT_FOUND") != NULL, "%s", msg);
  free(t);
}
END_TEST

START_TEST(certutil_configs) {
  char *t = fixture_text("certutil-dump-one.txt");
  json_t *a = adcs_parse_configs(t);
  ck_assert_uint_eq(json_array_size(a), 1);
  ck_assert_str_eq(json_string_value(json_array_get(a, 0)), CONFIG);
  json_decref(a);
  free(t);
  t = fixture_text("certutil-dump-two.txt");
  a = adcs_parse_configs(t);
  ck_assert_uint_eq(json_array_size(a), 2);
  ck_assert_str_eq(json_string_value(json_array_get(a, 1)), "ca02.corp.example\\Corp Policy CA");
  json_decref(a);
  free(t);
  a = adcs_parse_configs("CertUtil: No local Certification Authority; use -config option\n");
  ck_assert_uint_eq(json_array_size(a), 0);
  json_decref(a);
}
END_TEST

START_TEST(fresh_request_text) {
  json_t *f = adcs_fresh_request("CEPEncryption", "CN=ndes01-MSCEP-RA", CONFIG);
  char *t = adcs_fresh_request_text(f);
  ck_assert_uint_eq(json_array_size(json_object_get(f, "inf")), 10);
  ck_assert_ptr_nonnull(strstr(t, "Subject=\"CN=ndes01-MSCEP-RA\""));
  ck_assert_ptr_nonnull(strstr(t, "KeySpec=1"));
  ck_assert_ptr_nonnull(strstr(t, "MachineKeySet=TRUE"));
  ck_assert_ptr_nonnull(strstr(t, "[RequestAttributes] | CertificateTemplate=CEPEncryption"));
  ck_assert_ptr_nonnull(strstr(t, "certreq -submit -q -config \"" CONFIG "\" fresh.req fresh.cer"));
  ck_assert_ptr_nonnull(strstr(t, "certreq -accept -machine -q fresh.cer"));
  free(t);
  json_decref(f);
}
END_TEST

START_TEST(thumbprints_and_paths) {
  char t[41];
  ck_assert_int_eq(win_thumb("e03bc18e84f38bc148eeb5f566d9d2cc37567b3c", t), 0);
  ck_assert_str_eq(t, "E03BC18E84F38BC148EEB5F566D9D2CC37567B3C");
  ck_assert_int_eq(win_thumb("E03BC18E84F38BC148EEB5F566D9D2CC37567B3", t), -1);
  ck_assert_int_eq(win_thumb("E03BC18E84F38BC148EEB5F566D9D2CC37567B3\"", t), -1);
  ck_assert_int_eq(win_thumb("E03BC18E84F38BC148EEB5F566D9D2CC37567B3C\"\nX", t), -1);
  ck_assert(win_abs_path("C:\\ProgramData\\renewd\\backup"));
  ck_assert(!win_abs_path("C:\\ProgramData\\..\\Windows"));
  ck_assert(!win_abs_path("\\\\server\\share"));
  ck_assert(win_hklm_ok(SCOM_KEY));
  ck_assert(!win_hklm_ok("HKLM\\"));
  ck_assert_int_eq(win_duration("10m"), 600);
  ck_assert_int_eq(win_duration("45"), 45);
  ck_assert_int_eq(win_duration("1h"), 3600);
  ck_assert_int_eq(win_duration("m"), -1);
}
END_TEST

/* ------------------------------------------------------------ inventory */

START_TEST(inventory_picks_newest_and_lists_duplicates) {
  const json_t *c, *probs;
  ndes();
  inventory();
  c = json_object_get(W->facts, "cert");
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(P(c, "thumbprint"), OLD.thumb); /* newer than DUP */
  ck_assert_str_eq(P(c, "store"), "LocalMachine\\My");
  ck_assert_str_eq(P(c, "key_provider"), "CAPI");
  ck_assert_ptr_nonnull(strstr(P(c, "key_path"), "\\Crypto\\RSA\\MachineKeys\\"));
  ck_assert(json_is_true(json_object_get(c, "key_match")));
  ck_assert_str_eq(P(json_object_get(c, "template"), "name"), "CEPEncryption");
  ck_assert_uint_eq(json_array_size(json_object_get(c, "duplicates")), 1);
  ck_assert_str_eq(P(json_array_get(json_object_get(c, "duplicates"), 0), "thumbprint"), DUP.thumb);
  probs = json_object_get(W->facts, "problems");
  ck_assert_uint_eq(json_array_size(probs), 1);
  ck_assert_str_eq(P(json_array_get(probs, 0), "what"), "duplicates");
  ck_assert_ptr_nonnull(strstr(o_msg, "ndes01: LocalMachine\\My: CN=ndes01-MSCEP-RA"));
  /* one script, read-only */
  ck_assert_int_eq(W->scripts, 1);
  /* a valid certificate without its key loses to one with it */
  json_object_set_new(store_get(OLD.thumb), "has_key", json_false());
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), DUP.thumb);
}
END_TEST

START_TEST(inventory_template_oid_and_v2_name) {
  json_t *e;
  wt_new("{\"certificate\": {\"template_oid\": \"" V2_OID "\"}}");
  store_add(&OLD, 1, "CAPI");
  store_add(&WEB_OLD, 1, "CNG");
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), WEB_OLD.thumb);
  ck_assert_str_eq(fact("cert", "key_provider"), "CNG");
  wt_free();
  /* by name: the OID in the DER, its display name in the formatted
   * extension; spaces and case do not matter */
  wt_new("{\"certificate\": {\"template\": \"ConfigMgrWebServerCertificates\"}}");
  store_add(&WEB_OLD, 1, "CNG");
  e = store_get(WEB_OLD.thumb);
  json_object_set_new(e, "template_hint",
                      json_string("Template=ConfigMgr Web Server Certificates(" V2_OID
                                  "), Major Version Number=100, Minor Version Number=4"));
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), WEB_OLD.thumb);
  /* a display name next to another OID than the DER's does not count */
  json_object_set_new(e, "template_hint",
                      json_string("Template=ConfigMgr Web Server Certificates(1.3.6.1.4.1.311.21.8.9.9)"));
  inventory();
  ck_assert_ptr_null(json_object_get(W->facts, "cert"));
}
END_TEST

START_TEST(inventory_missing_and_expired) {
  wt_new("{\"certificate\": {\"template\": \"CEPEncryption\"}}");
  store_add(&PLAIN, 1, "CNG");
  inventory();
  ck_assert_ptr_null(json_object_get(W->facts, "cert"));
  ck_assert_str_eq(P(json_array_get(json_object_get(W->facts, "problems"), 0), "what"),
                   "missing certificate");
  ck_assert_ptr_nonnull(strstr(o_msg, "a new one is needed"));
  store_add(&EXPIRED, 1, "CAPI");
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), EXPIRED.thumb);
  ck_assert_str_eq(P(json_array_get(json_object_get(W->facts, "problems"), 0), "what"), "expired");
  /* a thumbprint selector lists only that certificate */
  json_object_set_new(json_object_get(W->sections, "certificate"), "thumbprint",
                      json_string(PLAIN.thumb));
  json_object_del(json_object_get(W->sections, "certificate"), "template");
  inventory();
  ck_assert_str_eq(fact("cert", "thumbprint"), PLAIN.thumb);
  {
    const json_t *p = NULL;
    ran("windows.store.list", &p);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "thumbprints"), 0)),
                     PLAIN.thumb);
  }
}
END_TEST

/* ------------------------------------------------------------ adcs.issue */

START_TEST(adcs_issued) {
  const json_t *p = NULL, *rec;
  ndes();
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "would renew"));
  ck_assert_ptr_nonnull(json_object_get(W->facts, "ca_pem")); /* the chain, for checks */
  ck_assert_int_eq(W->submits, 0);
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  /* the INF names the live certificate */
  ck_assert_int_eq(ran("adcs.new", &p), 1);
  ck_assert_str_eq(P(p, "thumbprint"), OLD.thumb);
  ck_assert_ptr_nonnull(strstr(W->inf, "RenewalCert=\""));
  ck_assert_ptr_nonnull(strstr(W->inf, OLD.thumb));
  ck_assert_ptr_nonnull(strstr(W->inf, "MachineKeySet=TRUE"));
  /* submitted once, as SYSTEM, with the runbook's CA */
  ck_assert_int_eq(ran("adcs.task", &p), 1);
  ck_assert_str_eq(P(p, "action"), "submit");
  ck_assert_str_eq(P(p, "config"), CONFIG);
  ck_assert_int_eq(W->submits, 1);
  ck_assert_int_eq(ran("adcs.accept", NULL), 1);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
  ck_assert(json_is_true(json_object_get(json_object_get(W->facts, "new_cert"), "has_private_key")));
  ck_assert_str_eq(W->states, "KEY_READY REQUESTED");
  rec = json_object_get(W->journal, "adcs.request");
  ck_assert_str_eq(P(rec, "state"), "issued");
  ck_assert_str_eq(P(rec, "request_id"), "42");
  ck_assert_str_eq(P(rec, "config"), CONFIG);
  ck_assert_str_eq(P(rec, "thumbprint"), NEW.thumb);
  ck_assert_ptr_nonnull(strstr(o_msg, "request 42"));
  /* a re-run after a crash accepts nothing new and submits nothing */
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->submits, 1);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

START_TEST(adcs_pending_then_retrieved) {
  const json_t *p = NULL, *rec;
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-pending.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  rec = json_object_get(W->journal, "adcs.request");
  ck_assert_str_eq(P(rec, "state"), "pending");
  ck_assert_str_eq(P(rec, "request_id"), "43");
  ck_assert_str_eq(P(rec, "config"), CONFIG);
  ck_assert_ptr_null(json_object_get(W->facts, "new_cert"));
  ck_assert_ptr_nonnull(strstr(o_msg, "request 43 is pending"));
  ck_assert_ptr_nonnull(strstr(W->states, "PENDING_CA"));
  /* the plan of the next run: a retrieval */
  W->whatif = 1;
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "would retrieve pending request 43"));
  W->whatif = 0;
  /* still pending */
  W->retrieve_text = fixture_text("certreq-retrieve-pending.txt");
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  /* issued by a CA manager meanwhile */
  free(W->retrieve_text);
  W->retrieve_text = fixture_text("certreq-retrieve-issued.txt");
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ran("adcs.task", &p);
  ck_assert_str_eq(P(p, "action"), "retrieve");
  ck_assert_str_eq(P(p, "request_id"), "43");
  ck_assert_str_eq(P(p, "config"), CONFIG);
  ck_assert_int_eq(W->submits, 1); /* never resubmitted */
  ck_assert_int_eq(W->retrieves, 2);
  ck_assert_int_eq(ran("adcs.new", NULL), 1);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

START_TEST(adcs_denied) {
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-denied.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EDENIED);
  ck_assert_ptr_nonnull(strstr(o_msg, "denied request 4: Denied by Policy Module The EMail name"));
  ck_assert_str_eq(P(json_object_get(o_result, "detail"), "hresult"), "0x80094812");
  ck_assert_ptr_null(json_object_get(W->facts, "new_cert"));
  /* the failed request's key pair and work directory are cleaned up */
  ck_assert_uint_eq(json_array_size(W->reqstore), 1);
  OK(&adcs_kind_issue, RD_PHASE_ROLLBACK, NULL);
  ck_assert_uint_eq(json_array_size(W->reqstore), 0);
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "state"), "cleaned");
}
END_TEST

START_TEST(adcs_expired_basis) {
  const char *cmds[] = {"CertificateTemplate=CEPEncryption", "MachineKeySet=TRUE", "KeySpec=1",
                        "Subject=\"CN=ndes01-MSCEP-RA\"", "certreq -new -q fresh.inf fresh.req",
                        "certreq -submit -q -config \"" CONFIG "\" fresh.req fresh.cer",
                        "certreq -accept -machine -q fresh.cer", "0x8007000d"};
  /* (a) the live certificate expired: nothing is sent */
  wt_new(NDES_SECTIONS);
  store_add(&EXPIRED, 1, "CAPI");
  inventory();
  W->scripts = 0;
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_int_eq(W->scripts, 0);
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
    ck_assert_msg(strstr(o_msg, cmds[i]) != NULL, "'%s' not in: %s", cmds[i], o_msg);
  ck_assert_ptr_nonnull(strstr(o_msg, "expired on"));
  ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(json_object_get(o_result, "detail"),
                                                                    "fresh_request"), "commands")), 3);
  /* the plan says so too, without failing */
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "needs an operator"));
  wt_free();
  /* (b) the CA says the basis expired */
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-denied-expired.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_ptr_nonnull(strstr(o_msg, "denied request 45 because the RenewalCert basis"));
  ck_assert_ptr_nonnull(strstr(o_msg, "CertificateTemplate=CEPEncryption"));
  wt_free();
  /* (c) no current certificate at all */
  wt_new(NDES_SECTIONS);
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_ptr_nonnull(strstr(o_msg, "no current certificate"));
}
END_TEST

START_TEST(adcs_discovers_the_ca) {
  const json_t *p = NULL;
  ndes();
  json_object_del(json_object_get(W->sections, "issuer"), "config");
  W->dump_text = fixture_text("certutil-dump-one.txt");
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, CONFIG " (found by certutil -dump)"));
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->dumps, 1);
  ran("adcs.task", &p);
  ck_assert_str_eq(P(p, "action"), "submit");
  ck_assert_str_eq(P(p, "config"), CONFIG);
  wt_free();
  /* two CAs: the operator picks one */
  ndes();
  json_object_del(json_object_get(W->sections, "issuer"), "config");
  W->dump_text = fixture_text("certutil-dump-two.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_PROBE, NULL, RD_ECONFIG);
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(o_msg, "lists 2 CAs"));
  ck_assert_int_eq(W->submits, 0);
  ck_assert_int_eq(ran("adcs.new", NULL), 0);
}
END_TEST

START_TEST(adcs_never_submits_twice) {
  ndes();
  inventory();
  /* the task outlived its wait: the job waits (PENDING_CA keeps the
   * journal) and the next run reads its result */
  W->task_timeout = 1;
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EPENDING);
  ck_assert_ptr_nonnull(strstr(o_msg, "never submits twice"));
  ck_assert_ptr_nonnull(strstr(W->states, "PENDING_CA"));
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "state"), "submitted");
  /* it started and left nothing: unknown, an operator checks the CA */
  W->task_timeout = 0;
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EOPERATOR);
  ck_assert_ptr_nonnull(strstr(o_msg, "may or may not have reached the CA"));
  ck_assert_int_eq(W->submits, 0);
  /* its result file exists (the task finished late): reused, not resent */
  json_object_set_new(W->dir, "out-submit",
                      json_pack("{s:i, s:s, s:s, s:n}", "exit", 0, "text",
                                "RequestId: 42\r\nCertificate retrieved(Issued) Issued\r\n", "cer",
                                NEW.b64, "error"));
  json_object_set_new(W->dir, "cer", json_string(NEW.b64));
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->submits, 0);
  ck_assert_str_eq(fact("new_cert", "thumbprint"), NEW.thumb);
}
END_TEST

START_TEST(adcs_transient_failure_may_resubmit) {
  ndes();
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-rpc-unavailable.txt");
  inventory();
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o_msg, "RPC server is unavailable"));
  /* no disposition: it never reached the CA, so it may go again */
  ck_assert_str_eq(P(json_object_get(W->journal, "adcs.request"), "state"), "requested");
  free(W->submit_text);
  W->submit_text = fixture_text("certreq-submit-issued.txt");
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  ck_assert_int_eq(W->submits, 2);
  ck_assert_int_eq(ran("adcs.new", NULL), 1);
}
END_TEST

START_TEST(adcs_whatif) {
  ndes();
  W->whatif = 1;
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  EXPECT(&adcs_kind_issue, RD_PHASE_APPLY, NULL, RD_EWHATIF);
  ck_assert_int_eq(ran("adcs.new", NULL) + ran("adcs.task", NULL), 0);
  ck_assert_uint_eq(json_object_size(W->journal), 0);
}
END_TEST

/* ------------------------------------------------------------ install */

START_TEST(install_cycle) {
  ndes();
  inventory();
  W->whatif = 1;
  OK(&windows_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_str_eq(change_field(0, "new"), "(new certificate)");
  W->whatif = 0;
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  json_object_set(W->facts, "expect", json_object_get(W->facts, "new_cert"));
  OK(&windows_kind_install, RD_PHASE_PROBE, NULL);
  ck_assert_ptr_nonnull(strstr(o_msg, "in place with its private key"));
  OK(&windows_kind_install, RD_PHASE_APPLY, NULL);
  ck_assert_str_eq(P(json_object_get(W->journal, "windows.install"), "new"), NEW.thumb);
  ck_assert_str_eq(P(json_object_get(W->journal, "windows.install"), "old"), OLD.thumb);
  OK(&windows_kind_install, RD_PHASE_VERIFY, NULL);
  OK(&windows_kind_install, RD_PHASE_ROLLBACK, NULL);
  ck_assert_ptr_null(store_get(NEW.thumb));
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  EXPECT(&windows_kind_install, RD_PHASE_VERIFY, NULL, RD_EVERIFY);
  /* without the old one the new one stays */
  store_add(&NEW, 1, "CNG");
  store_del(OLD.thumb);
  EXPECT(&windows_kind_install, RD_PHASE_ROLLBACK, NULL, RD_ESTATE);
  ck_assert_ptr_nonnull(store_get(NEW.thumb));
  /* a new certificate without its key is not installed */
  json_object_set_new(store_get(NEW.thumb), "has_key", json_false());
  EXPECT(&windows_kind_install, RD_PHASE_APPLY, NULL, RD_ESTATE);
  ck_assert_ptr_nonnull(strstr(o_msg, "has no private key"));
}
END_TEST

/* ------------------------------------------------------------ registry */

#define REG_SHA1 "{\"key\": \"" "HKLM\\\\SOFTWARE\\\\Microsoft\\\\Cryptography\\\\MSCEP\\\\Modules\\\\NDESPolicy" \
  "\", \"value\": \"NDESCertThumbprint\", \"format\": \"sha1\", \"kind\": \"REG_SZ\"}"
#define REG_SERIAL "{\"key\": \"" "HKLM\\\\SOFTWARE\\\\Microsoft\\\\Microsoft Operations Manager\\\\3.0\\\\Machine Settings" \
  "\", \"value\": \"ChannelCertificateSerialNumber\", \"format\": \"serial_reversed\", \"kind\": \"REG_BINARY\"}"

static void lower(const char *in, char *out) {
  size_t i;
  for (i = 0; in[i]; i++)
    out[i] = (char)tolower((unsigned char)in[i]);
  out[i] = 0;
}

START_TEST(registry_thumbprint_cycle) {
  char old_l[41], new_l[41];
  const json_t *p = NULL;
  ndes();
  lower(OLD.thumb, old_l);
  lower(NEW.thumb, new_l);
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "String", "text", old_l));
  inventory();
  /* whatif, before the issuer */
  W->whatif = 1;
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1);
  ck_assert_uint_eq(nchanges(), 1);
  ck_assert_str_eq(change_field(0, "old"), old_l);
  ck_assert_str_eq(change_field(0, "new"), "(new certificate)");
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1, RD_EWHATIF);
  W->whatif = 0;
  issued(&NEW);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1);
  ck_assert_str_eq(change_field(0, "new"), new_l); /* the old value's case */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), new_l);
  ck_assert_str_eq(P(json_object_get(W->journal, "registry:" NDES_KEY "\\NDESCertThumbprint"), "found"),
                   old_l);
  ran("windows.registry.set", &p);
  ck_assert_str_eq(P(p, "expect"), old_l); /* the write is guarded */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_VERIFY, REG_SHA1);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1); /* idempotent */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_ROLLBACK, REG_SHA1);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), old_l);
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_VERIFY, REG_SHA1, RD_EVERIFY);
}
END_TEST

START_TEST(registry_guard) {
  ndes();
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "String", "text", PLAIN.thumb));
  inventory();
  issued(&NEW);
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1, RD_ESTATE);
  ck_assert_ptr_nonnull(strstr(o_msg, "renewd does not overwrite a value it cannot account for"));
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1, RD_ESTATE);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), PLAIN.thumb);
  ck_assert_int_eq(ran("windows.registry.set", NULL), 0);
  /* wrong type, missing value */
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "Binary", "hex", OLD.thumb));
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1, RD_ESTATE);
  ck_assert_ptr_nonnull(strstr(o_msg, "is Binary, not REG_SZ"));
  json_object_clear(W->reg);
  EXPECT(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1, RD_ENOTFOUND);
  /* remediate: old and new are the live certificate; a drifted value is repaired */
  json_object_set_new(W->reg, NDES_KEY "\\NDESCertThumbprint",
                      json_pack("{s:s, s:s}", "kind", "String", "text", PLAIN.thumb));
  json_object_set(W->facts, "expect", json_object_get(W->facts, "cert"));
  json_object_set(W->facts, "new_cert", json_object_get(W->facts, "cert"));
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SHA1);
  ck_assert_str_eq(change_field(0, "new"), OLD.thumb);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SHA1);
  ck_assert_str_eq(P(json_object_get(W->reg, NDES_KEY "\\NDESCertThumbprint"), "text"), OLD.thumb);
}
END_TEST

/* SCOM: ChannelCertificateSerialNumber holds the serial's bytes reversed,
 * sign byte included. Serial 00FF01 (tests/fixtures/x509/v2.crt) is
 * written as the bytes 01 FF 00. */
START_TEST(registry_serial_reversed) {
  size_t n = 0;
  unsigned char *der = tu_read_fixture("x509/v2.crt", &n);
  json_t *v2 = NULL;
  const json_t *p = NULL;
  ck_assert_ptr_nonnull(der);
  ck_assert_int_eq(rd_x509_facts_from_bytes(der, n, &v2), 0);
  free(der);
  ck_assert_str_eq(P(v2, "serial"), "FF01");
  ck_assert_str_eq(P(v2, "serial_reversed"), "01FF00");
  wt_new("{\"certificate\": {\"template_oid\": \"" V2_OID "\"}}");
  store_add(&WEB_OLD, 1, "CNG"); /* serial 0x00FF01 as well */
  ck_assert_str_eq(P(WEB_OLD.facts, "serial_reversed"), "01FF00");
  json_object_set_new(W->reg, SCOM_KEY "\\ChannelCertificateSerialNumber",
                      json_pack("{s:s, s:s}", "kind", "Binary", "hex", "01FF00"));
  inventory();
  json_object_set_new(W->facts, "new_cert", v2); /* fixture v2 plays the renewed one here */
  json_object_set(W->facts, "expect", v2);
  json_object_set_new(v2, "serial_reversed", json_string("0220AB")); /* renewed serial AB2002 */
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SERIAL);
  ck_assert_str_eq(change_field(0, "old"), "01 FF 00");
  ck_assert_str_eq(change_field(0, "new"), "02 20 AB");
  OK(&windows_kind_registry_thumbprint, RD_PHASE_APPLY, REG_SERIAL);
  ran("windows.registry.set", &p);
  ck_assert_str_eq(P(p, "kind"), "REG_BINARY");
  ck_assert_str_eq(P(p, "expect"), "01FF00");
  ck_assert_str_eq(P(p, "new"), "0220AB");
  OK(&windows_kind_registry_thumbprint, RD_PHASE_VERIFY, REG_SERIAL);
  OK(&windows_kind_registry_thumbprint, RD_PHASE_ROLLBACK, REG_SERIAL);
  ck_assert_str_eq(P(json_object_get(W->reg, SCOM_KEY "\\ChannelCertificateSerialNumber"), "hex"),
                   "01FF00");
  /* the real x509 value of the fixture goes through unchanged */
  json_object_set_new(v2, "serial_reversed", json_string("01FF00"));
  OK(&windows_kind_registry_thumbprint, RD_PHASE_PROBE, REG_SERIAL);
  ck_assert_ptr_nonnull(strstr(o_msg, "already 01 FF 00"));
}
END_TEST

/* ------------------------------------------------------------ key ACL */

#define ACL "{\"account\": \"CORP\\\\svc_ndes\", \"rights\": \"read\"}"

START_TEST(key_acl_cycle) {
  char k[600];
  ndes();
  store_add(&NEW, 1, "CNG");
  inventory();
  W->whatif = 1;
  OK(&windows_kind_key_acl, RD_PHASE_PROBE, ACL); /* before the issuer */
  ck_assert_str_eq(change_field(0, "new"), "Read, Synchronize");
  W->whatif = 0;
  issued(&NEW);
  OK(&windows_kind_key_acl, RD_PHASE_PROBE, ACL);
  ck_assert_str_eq(change_field(0, "old"), "none");
  ck_assert_ptr_nonnull(strstr(change_field(0, "what"), "\\Crypto\\Keys\\"));
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, ACL);
  snprintf(k, sizeof k, "%s|%s", P(json_object_get(store_get(NEW.thumb), "key"), "path"), ACCOUNT);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x120089);
  OK(&windows_kind_key_acl, RD_PHASE_VERIFY, ACL);
  OK(&windows_kind_key_acl, RD_PHASE_ROLLBACK, ACL);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0);
  EXPECT(&windows_kind_key_acl, RD_PHASE_VERIFY, ACL, RD_EVERIFY);
  /* rights that were there before renewd stay after a rollback */
  json_object_set_new(W->acl, k, json_integer(0x1F01FF));
  json_object_clear(W->journal);
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, ACL);
  ck_assert_int_eq(ran("windows.key_acl.set", NULL), 2); /* grant, revoke: none now */
  OK(&windows_kind_key_acl, RD_PHASE_ROLLBACK, ACL);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x1F01FF);
  /* an account the target cannot resolve */
  EXPECT(&windows_kind_key_acl, RD_PHASE_PROBE, "{\"account\": \"CORP\\\\nobody\"}", RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o_msg, "cannot be resolved"));
}
END_TEST

/* ------------------------------------------------------------ prune */

#define PRUNE "{\"match\": \"template\", \"backup_dir\": \"C:\\\\ProgramData\\\\renewd\\\\backup\"}"

START_TEST(prune_cycle) {
  const json_t *p = NULL;
  ndes();
  store_add(&NEWER, 1, "CNG"); /* expires after the new one: kept */
  inventory();
  W->whatif = 1;
  OK(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE);
  ck_assert_ptr_nonnull(strstr(o_msg, "once it is in place"));
  W->whatif = 0;
  store_add(&NEW, 1, "CNG");
  issued(&NEW);
  OK(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE);
  ck_assert_uint_eq(nchanges(), 2); /* OLD and DUP, not PLAIN, NEW or NEWER */
  ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(o_result, "detail"), "kept")), 1);
  OK(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE);
  ran("windows.prune.apply", &p);
  ck_assert_str_eq(P(p, "new"), NEW.thumb);
  ck_assert_uint_eq(json_array_size(json_object_get(p, "remove")), 2);
  ck_assert_ptr_null(store_get(OLD.thumb));
  ck_assert_ptr_null(store_get(DUP.thumb));
  ck_assert_ptr_nonnull(store_get(NEW.thumb));
  ck_assert_ptr_nonnull(store_get(NEWER.thumb));
  ck_assert_ptr_nonnull(store_get(PLAIN.thumb));
  ck_assert_uint_eq(json_object_size(W->backups), 2);
  OK(&windows_kind_prune_duplicates, RD_PHASE_VERIFY, PRUNE);
  OK(&windows_kind_prune_duplicates, RD_PHASE_ROLLBACK, PRUNE);
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  ck_assert_ptr_nonnull(store_get(DUP.thumb));
  ck_assert(json_is_true(json_object_get(store_get(OLD.thumb), "has_key")));
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_VERIFY, PRUNE, RD_EVERIFY);
}
END_TEST

START_TEST(prune_refuses) {
  ndes();
  inventory();
  /* no new certificate: nothing is superseded */
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE, RD_ESTATE);
  /* the new certificate is not in the store with its key: the target refuses */
  store_add(&NEW, 0, "CNG");
  issued(&NEW);
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_APPLY, PRUNE, RD_EREMOTE);
  ck_assert_ptr_nonnull(strstr(o_msg, "nothing was removed"));
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  /* the rollback of that restores nothing and fails on nothing */
  OK(&windows_kind_prune_duplicates, RD_PHASE_ROLLBACK, PRUNE);
  /* a certificate without a template cannot be matched by template */
  wt_free();
  ndes();
  store_add(&PLAIN, 1, "CNG");
  issued(&PLAIN);
  EXPECT(&windows_kind_prune_duplicates, RD_PHASE_PROBE, PRUNE, RD_ECONFIG);
}
END_TEST

/* ------------------------------------------------------------ service, events */

#define EV1 "{\"log\": \"Application\", \"event_id\": 1, \"within\": \"10m\"}"

START_TEST(service_then_event) {
  char *ev = fixture_text("events.json");
  json_t *all = json_loads(ev, 0, NULL), *old_ev;
  free(ev);
  ndes();
  /* an Event 1 from before the restart must not count */
  old_ev = json_deep_copy(json_object_get(all, "ndes_started"));
  json_object_set_new(old_ev, "time", json_integer(W->clock - 3600));
  json_array_append_new(W->events, old_ev);
  OK(&windows_kind_event_verify, RD_PHASE_PROBE, EV1);
  ck_assert_ptr_nonnull(strstr(o_msg, "would wait up to 600 s"));
  OK(&windows_kind_service, RD_PHASE_PROBE, "{\"action\": \"iisreset\"}");
  ck_assert_str_eq(change_field(0, "old"), "Running");
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(W->facts, "windows_restart"), "at")),
                   W->clock - 5);
  EXPECT(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1, RD_EVERIFY);
  ck_assert_ptr_nonnull(strstr(o_msg, "no event 1 in Application within 600 s after the restart"));
  /* NDES logs Event 1 after the next restart */
  W->restart_event = "ndes_started";
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  OK(&windows_kind_service, RD_PHASE_VERIFY, "{\"action\": \"iisreset\"}");
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1);
  ck_assert_ptr_nonnull(strstr(o_msg, "started successfully"));
  /* SCOM: 20053 from its source in Operations Manager */
  W->restart_event = "scom_cert_loaded";
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"service\": \"HealthService\", \"action\": \"restart\"}");
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY,
     "{\"log\": \"Operations Manager\", \"event_id\": 20053, \"source\": \"OpsMgr Connector\"}");
  EXPECT(&windows_kind_event_verify, RD_PHASE_VERIFY,
         "{\"log\": \"Operations Manager\", \"event_id\": 20053, \"source\": \"Other\"}", RD_EVERIFY);
  EXPECT(&windows_kind_event_verify, RD_PHASE_PROBE, "{\"log\": \"Nope\", \"event_id\": 1}",
         RD_ENOTFOUND);
  EXPECT(&windows_kind_service, RD_PHASE_PROBE, "{\"service\": \"Missing\"}", RD_ENOTFOUND);
  /* whatif: probes only */
  W->whatif = 1;
  EXPECT(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}", RD_EWHATIF);
  json_decref(all);
}
END_TEST

/* ------------------------------------------------------------ IIS */

#define IIS "{\"site\": \"Default Web Site\", \"protocol\": \"https\", \"port\": 443}"

START_TEST(iis_cycle) {
  wt_new("{\"certificate\": {\"template\": \"ConfigMgrWebServerCertificates\", \"template_oid\": \"" V2_OID "\"}}");
  store_add(&WEB_OLD, 1, "CNG");
  json_object_set_new(store_get(WEB_OLD.thumb), "template_hint",
                      json_string("Template=ConfigMgrWebServerCertificates(" V2_OID ")"));
  snprintf(W->iis_hash, sizeof W->iis_hash, "%s", WEB_OLD.thumb);
  inventory();
  OK(&windows_kind_iis_binding, RD_PHASE_PROBE, IIS);
  ck_assert_str_eq(change_field(0, "new"), "(new certificate)");
  store_add(&WEB_NEW, 1, "CNG");
  issued(&WEB_NEW);
  OK(&windows_kind_iis_binding, RD_PHASE_APPLY, IIS);
  ck_assert_str_eq(W->iis_hash, WEB_NEW.thumb);
  OK(&windows_kind_iis_binding, RD_PHASE_VERIFY, IIS);
  OK(&windows_kind_iis_binding, RD_PHASE_ROLLBACK, IIS);
  ck_assert_str_eq(W->iis_hash, WEB_OLD.thumb);
  /* bound to something else: left alone */
  snprintf(W->iis_hash, sizeof W->iis_hash, "%s", PLAIN.thumb);
  json_object_clear(W->journal);
  EXPECT(&windows_kind_iis_binding, RD_PHASE_APPLY, IIS, RD_ESTATE);
  ck_assert_str_eq(W->iis_hash, PLAIN.thumb);
  W->iis_count = 2;
  EXPECT(&windows_kind_iis_binding, RD_PHASE_PROBE, IIS, RD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(o_msg, "add \"host\""));
}
END_TEST

/* ------------------------------------------------------------ a renewal */

/* The NDES runbook's steps in the engine's order, against one target:
 * inventory, issue, install, key ACL, prune, iisreset, Event 1; then the
 * rollback of all of it, last first. */
START_TEST(ndes_renewal_and_rollback) {
  char k[600];
  ndes();
  W->restart_event = "ndes_started";
  inventory();
  OK(&adcs_kind_issue, RD_PHASE_PROBE, NULL);
  OK(&adcs_kind_issue, RD_PHASE_APPLY, NULL);
  json_object_set(W->facts, "expect", json_object_get(W->facts, "new_cert"));
  OK(&windows_kind_install, RD_PHASE_APPLY, NULL);
  OK(&windows_kind_install, RD_PHASE_VERIFY, NULL);
  OK(&windows_kind_key_acl, RD_PHASE_APPLY, ACL);
  OK(&windows_kind_key_acl, RD_PHASE_VERIFY, ACL);
  OK(&windows_kind_prune_duplicates, RD_PHASE_APPLY, "{\"match\": \"template\"}");
  OK(&windows_kind_prune_duplicates, RD_PHASE_VERIFY, "{\"match\": \"template\"}");
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1);
  ck_assert_uint_eq(json_array_size(W->store), 2); /* NEW and PLAIN */
  snprintf(k, sizeof k, "%s|%s", P(json_object_get(store_get(NEW.thumb), "key"), "path"), ACCOUNT);
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0x120089);
  /* roll back */
  OK(&windows_kind_prune_duplicates, RD_PHASE_ROLLBACK, "{\"match\": \"template\"}");
  OK(&windows_kind_key_acl, RD_PHASE_ROLLBACK, ACL);
  OK(&windows_kind_install, RD_PHASE_ROLLBACK, NULL);
  OK(&adcs_kind_issue, RD_PHASE_ROLLBACK, NULL);
  OK(&windows_kind_service, RD_PHASE_APPLY, "{\"action\": \"iisreset\"}");
  json_object_set(W->facts, "expect", json_object_get(W->facts, "cert"));
  OK(&windows_kind_event_verify, RD_PHASE_VERIFY, EV1);
  ck_assert_ptr_null(store_get(NEW.thumb));
  ck_assert_ptr_nonnull(store_get(OLD.thumb));
  ck_assert_ptr_nonnull(store_get(DUP.thumb));
  ck_assert_int_eq(json_integer_value(json_object_get(W->acl, k)), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("windows_plugin");
  TCase *t = tcase_create("plugin");
  tcase_add_checked_fixture(t, NULL, teardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, descriptor);
  tcase_add_test(t, module_entry);
  tcase_add_test(t, scripts_embedded_current);
  suite_add_tcase(s, t);
  t = tcase_create("ps_texts");
  tcase_add_test(t, ps_texts);
  suite_add_tcase(s, t);
  t = tcase_create("validate");
  tcase_add_test(t, validate_params);
  tcase_add_test(t, shipped_runbook_params);
  suite_add_tcase(s, t);
  t = tcase_create("parsers");
  tcase_add_test(t, certreq_issued);
  tcase_add_test(t, certreq_pending);
  tcase_add_test(t, certreq_denied);
  tcase_add_test(t, certreq_expired_basis);
  tcase_add_test(t, certreq_errors);
  tcase_add_test(t, certutil_configs);
  tcase_add_test(t, fresh_request_text);
  tcase_add_test(t, thumbprints_and_paths);
  suite_add_tcase(s, t);
  t = tcase_create("kinds");
  tcase_add_checked_fixture(t, NULL, teardown);
  tcase_set_timeout(t, 60);
  tcase_add_test(t, inventory_picks_newest_and_lists_duplicates);
  tcase_add_test(t, inventory_template_oid_and_v2_name);
  tcase_add_test(t, inventory_missing_and_expired);
  tcase_add_test(t, adcs_issued);
  tcase_add_test(t, adcs_pending_then_retrieved);
  tcase_add_test(t, adcs_denied);
  tcase_add_test(t, adcs_expired_basis);
  tcase_add_test(t, adcs_discovers_the_ca);
  tcase_add_test(t, adcs_never_submits_twice);
  tcase_add_test(t, adcs_transient_failure_may_resubmit);
  tcase_add_test(t, adcs_whatif);
  tcase_add_test(t, install_cycle);
  tcase_add_test(t, registry_thumbprint_cycle);
  tcase_add_test(t, registry_guard);
  tcase_add_test(t, registry_serial_reversed);
  tcase_add_test(t, key_acl_cycle);
  tcase_add_test(t, prune_cycle);
  tcase_add_test(t, prune_refuses);
  tcase_add_test(t, service_then_event);
  tcase_add_test(t, iis_cycle);
  tcase_add_test(t, ndes_renewal_and_rollback);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  int rc;
  make_material();
  rc = tu_run(suite());
  free_material();
  return rc;
}
