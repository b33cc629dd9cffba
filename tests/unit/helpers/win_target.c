/* win_target.c — see win_fixture.h: the simulated Windows target. */
#include "win_fixture.h"
/* ------------------------------------------------------------ the target */



wt *W;



/* the outcome of the last phase */
int o_rc, o_status;
json_t *o_result;
char o_msg[4096];

/* rdw_keyinfo's facts as Windows reports them: a CAPI key of the Microsoft
 * Enhanced RSA and AES provider (PROV_RSA_AES, 24), a CNG key of the
 * software KSP (provider type 0); machine keys (CRYPT_MACHINE_KEYSET). */
static json_t *entry_of(const tcert *c, int has_key, const char *provider) {
  int capi = !strcmp(provider, "CAPI");
  char container[64], uniq[64];
  json_t *key;
  snprintf(container, sizeof container, "te-%.8s", c->thumb);
  snprintf(uniq, sizeof uniq, "%.8s_machine", c->thumb);
  if (has_key)
    key = json_pack("{s:i, s:s, s:s, s:i, s:i, s:s, s:s, s:[s], s:n}", "prov_type", capi ? 24 : 0,
                    "prov_name",
                    capi ? "Microsoft Enhanced RSA and AES Cryptographic Provider"
                         : "Microsoft Software Key Storage Provider",
                    "container", container, "flags", 0x20, "key_spec", capi ? 1 : 0,
                    "unique_name", uniq, "crypto_dir", "C:\\ProgramData\\Microsoft\\Crypto",
                    "files", capi ? "RSA\\MachineKeys" : "Keys", "error");
  else
    key = json_pack("{s:n, s:s, s:[]}", "prov_type", "crypto_dir",
                    "C:\\ProgramData\\Microsoft\\Crypto", "files");
  return json_pack("{s:s, s:s, s:b, s:o, s:s, s:o, s:[]}", "thumbprint", c->thumb, "raw", c->b64,
                   "has_key", has_key, "key", key, "friendly_name", "", "template_hint",
                   json_null(), "uses");
}

/* The key file of a stored certificate, as windows/keyfile.c names it. */
const char *store_key_path(const char *thumb, char *buf, size_t n) {
  const json_t *key = json_object_get(store_get(thumb), "key");
  const json_t *files = json_object_get(key, "files");
  snprintf(buf, n, "%s\\%s\\%s", P(key, "crypto_dir"),
           json_string_value(json_array_get(files, 0)), P(key, "unique_name"));
  return buf;
}

void store_add(const tcert *c, int has_key, const char *provider) {
  json_array_append_new(W->store, entry_of(c, has_key, provider));
}

json_t *store_get(const char *thumb) {
  json_t *e;
  size_t i;
  json_array_foreach(W->store, i, e) {
    if (!strcasecmp(json_string_value(json_object_get(e, "thumbprint")), thumb))
      return e;
  }
  return NULL;
}

void store_del(const char *thumb) {
  json_t *e;
  size_t i;
  json_array_foreach(W->store, i, e) {
    if (!strcasecmp(json_string_value(json_object_get(e, "thumbprint")), thumb)) {
      json_array_remove(W->store, i);
      return;
    }
  }
}

void wt_new(const char *sections) {
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
  W->svc = json_pack("{s:s, s:s, s:s, s:s}", "W3SVC", "Running", "HealthService", "Running",
                     "Schedule", "Running", "MSSQLSERVER", "Running");
  W->events = json_array();
  W->backups = json_object();
  W->dir = json_object();
  W->calls = json_array();
  W->clock = (long long)time(NULL);
  W->iis_count = 1;
}

void wt_free(void) {
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
  json_decref(W->cacaps);
  json_decref(W->doctor);
  free(W->plugin_log);
  json_decref(W->ad_cas);
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
void norm(const char *in, char *out, size_t n) {
  size_t o = 0;
  for (; in && *in && o + 1 < n; in++)
    if (*in != ' ')
      out[o++] = (char)toupper((unsigned char)*in);
  out[o] = 0;
}

const char *P(const json_t *p, const char *k) {
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

json_t *chain(void) { return json_pack("[s]", ca_b64); }

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
    if (W->cainfo)
      json_object_set_new(res, "cainfo", json_string(W->cainfo));
    json_object_set_new(res, "ad", W->ad_cas ? json_deep_copy(W->ad_cas) : json_array());
    json_object_del(W->dir, "submit.started");
  }
  json_object_set_new(res, "exit", json_integer(strcmp(action, "dump") ? W->certreq_exit : 0));
  json_object_set_new(res, "text", json_string(text ? text : ""));
  if (strcmp(action, "dump") && text && (strstr(text, "(Issued)") || W->issue_always) && W->issues) {
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

json_t *sim(const char *name, const json_t *p, int *exit_status, char *err, size_t errlen) {
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
    return json_pack("{s:b, s:s, s:b, s:b, s:o, s:s?, s:o, s:s?}", "certreq", 1, "scheduler", "Running",
                     "found", e != NULL, "has_key", e && json_is_true(json_object_get(e, "has_key")),
                     "chain", e ? chain() : json_array(), "dump", disc ? W->dump_text : NULL,
                     "dump_exit", disc ? json_integer(0) : json_null(), "cainfo",
                     disc && W->cainfo ? W->cainfo : NULL);
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
  if (!strcmp(name, "windows.key_acl.pool")) {
    const char *user = W->pool_user ? W->pool_user : ACCOUNT;
    if (strcmp(P(p, "account"), ACCOUNT) && strcmp(P(p, "account"), "CORP\\svc_other"))
      FAIL("account '%s' cannot be resolved on this host", P(p, "account"));
    return json_pack("{s:b, s:s?, s:s?, s:s?, s:s}", "exists", !strcmp(P(p, "app_pool"), "SCEP"),
                     "identity_type", !strcmp(P(p, "app_pool"), "SCEP") ? "SpecificUser" : NULL,
                     "user", !strcmp(P(p, "app_pool"), "SCEP") ? user : NULL, "sid",
                     !strcmp(P(p, "app_pool"), "SCEP")
                         ? (!strcmp(user, ACCOUNT) ? "S-1-5-21-1-2-3-1105" : "S-1-5-21-1-2-3-1999")
                         : NULL,
                     "account_sid",
                     !strcmp(P(p, "account"), ACCOUNT) ? "S-1-5-21-1-2-3-1105" : "S-1-5-21-1-2-3-1999");
  }
  if (!strcmp(name, "windows.key_acl.read") || !strcmp(name, "windows.key_acl.set")) {
    const char *acct = P(p, "account");
    char k[600];
    if (strcmp(acct, ACCOUNT) && strcmp(acct, "NT AUTHORITY\\SYSTEM") && strcmp(acct, "S-1-5-18") &&
        strcmp(acct, "NT Service\\MSSQLSERVER"))
      FAIL("account '%s' cannot be resolved on this host", acct);
    if (!strcmp(name, "windows.key_acl.read")) {
      json_t *e = store_get(P(p, "thumbprint")), *key = json_object_get(e, "key"), *acl;
      const json_t *d;
      size_t i;
      if (!hex_ok(P(p, "thumbprint"), 40))
        FAIL("certificate '%s' is not a 40-digit hex thumbprint", P(p, "thumbprint"));
      acl = json_object();
      json_array_foreach(json_object_get(key, "files"), i, d) {
        long long r;
        snprintf(k, sizeof k, "%s\\%s\\%s|%s", P(key, "crypto_dir"), json_string_value(d),
                 P(key, "unique_name"), acct);
        r = json_integer_value(json_object_get(W->acl, k));
        json_object_set_new(acl, json_string_value(d),
                            json_pack("{s:I, s:s}", "rights", (json_int_t)r, "text", rights_text(r)));
      }
      return json_pack("{s:b, s:b, s:O?, s:s, s:o}", "found", e != NULL, "has_key",
                       json_is_true(json_object_get(e, "has_key")), "key", key, "sid",
                       "S-1-5-21-1-2-3-1105", "acl", acl);
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
  if (!strcmp(name, "windows.log.query")) {
    json_t *errors = json_array();
    const char *hit = NULL, *l = W->plugin_log;
    size_t hl = 0, nl = strlen(P(p, "contains"));
    if (!l)
      return json_pack("{s:b, s:b, s:n, s:o}", "exists", 0, "found", 0, "line", "errors", errors);
    while (*l) {
      size_t n = strcspn(l, "\n");
      for (size_t i = 0; i + nl <= n; i++)
        if (!strncasecmp(l + i, P(p, "contains"), nl)) {
          hit = l;
          hl = n;
          break;
        }
      if (memmem(l, n, "ERROR", 5))
        json_array_append_new(errors, json_stringn(l, n));
      l += n + (l[n] != 0);
    }
    while (json_array_size(errors) > 3)
      json_array_remove(errors, 0);
    if (hit)
      json_array_clear(errors);
    return json_pack("{s:b, s:b, s:s%, s:o}", "exists", 1, "found", hit != NULL, "line",
                     hit ? hit : "", hit ? hl : (size_t)0, "errors", errors);
  }
  if (!strcmp(name, "windows.ndes.getcacaps")) {
    const char *u = P(p, "url"), *t = strstr(u, "/certsrv/");
    if (strncmp(u, "http", 4) || !t || strcmp(t, "/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps"))
      FAIL("url '%s' is not an NDES GetCACaps URL", P(p, "url"));
    if (W->cacaps)
      return json_incref(W->cacaps);
    return json_pack("{s:i, s:n, s:[sss], s:n}", "status", 200, "web_status", "caps",
                     "POSTPKIOperation", "Renewal", "SHA-256", "error");
  }
  if (!strcmp(name, "windows.event.query")) {
    const json_t *e, *best = NULL, *bad = NULL, *f;
    size_t i, j;
    const char *log = P(p, "log");
    long long since = json_integer_value(json_object_get(p, "since"));
    int exists = !strcmp(log, "Application") || !strcmp(log, "Operations Manager");
    json_array_foreach(W->events, i, e) {
      long long id = json_integer_value(json_object_get(e, "id"));
      int failure = 0;
      if (strcmp(P(e, "log"), log) || strcasecmp(P(p, "provider"), P(e, "provider")))
        continue; /* FilterHashtable LogName, ProviderName */
      if (since > 0 && json_integer_value(json_object_get(e, "time")) < since)
        continue;
      json_array_foreach(json_object_get(p, "failure_ids"), j, f) failure |= json_integer_value(f) == id;
      if (failure) {
        if (!bad || json_integer_value(json_object_get(e, "time")) >
                        json_integer_value(json_object_get(bad, "time")))
          bad = e;
        continue;
      }
      if (id != json_integer_value(json_object_get(p, "id")))
        continue;
      if (!best ||
          json_integer_value(json_object_get(e, "time")) > json_integer_value(json_object_get(best, "time")))
        best = e;
    }
    return json_pack("{s:b, s:b, s:O?, s:I, s:O?, s:O?, s:I, s:o}", "log_exists", exists, "found",
                     best != NULL, "time", json_object_get(best, "time"), "record_id", (json_int_t)7,
                     "provider", json_object_get(best, "provider"), "message",
                     json_object_get(best, "message"), "now", (json_int_t)W->clock, "failure",
                     bad ? json_pack("{s:O, s:O, s:O}", "id", json_object_get(bad, "id"), "time",
                                     json_object_get(bad, "time"), "message",
                                     json_object_get(bad, "message"))
                         : json_null());
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
        unsigned char *d1 = NULL, *d2 = NULL;
        json_t *f1 = NULL, *f2 = NULL;
        ck_assert_int_eq(rd_base64_decode_str(P(e, "raw"), &d1, &l1), 0);
        ck_assert_int_eq(rd_base64_decode_str(P(n, "raw"), &d2, &l2), 0);
        rd_x509_facts_from_bytes(d1, l1, &f1);
        rd_x509_facts_from_bytes(d2, l2, &f2);
        int later = json_integer_value(json_object_get(f1, "not_after")) >
                    json_integer_value(json_object_get(f2, "not_after"));
        free(d1);
        free(d2);
        json_decref(f1);
        json_decref(f2);
        if (json_array_size(json_object_get(e, "uses"))) {
          json_decref(done);
          FAIL("refusing to remove %s: it is in use (%s): nothing was removed", json_string_value(t),
               json_string_value(json_array_get(json_object_get(e, "uses"), 0)));
        }
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
  if (!strcmp(name, "windows.doctor")) /* what the test set: doctor.ps1 only reports */
    return W->doctor ? json_incref(W->doctor) : json_object();
  FAIL("no simulation for script %s", name);
}

