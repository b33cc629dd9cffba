/* inventory.c — `windows.inventory`: the live certificate of a Windows
 * target, from a LocalMachine store.
 *
 * probe (read-only, the only phase): store_list.ps1 lists the store (or,
 * for a thumbprint selector, that one certificate) with each DER, whether
 * it has a private key and where that key lives (CAPI: UniqueKeyContainerName
 * under Crypto\RSA\MachineKeys; CNG: the key's unique name under
 * Crypto\Keys). Selection is done here (windows_store.h): the best match of
 * the runbook's selector is facts.cert (cert_facts + "thumbprint", "store",
 * "has_private_key", "key_provider", "key_container", "key_path",
 * "key_exists", "key_match", "duplicates": the other matches); findings go
 * to facts.problems (missing certificate, no private key, key file
 * missing, expired, duplicates). No match is not an error: there is no
 * facts.cert and the engine treats the job as due.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "windows_plugin.h"
#include "windows_store.h"
#include "windows_util.h"

#define TYPE "windows.inventory"

static int inventory_validate(const json_t *params, char *err, size_t errlen) {
  return rd_check_keys(params, TYPE, NULL, err, errlen);
}




static void inventory_listed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *facts = h->facts(s), *problems = rd_problems_reset(facts, TYPE), *recs, *dups = NULL, *cert, *res;
  win_selector sel;
  char err[512], sdesc[600], when[40], thumb[41];
  int bad = 0, idx;
  long long na;

  if (win_selector_get(s, h, &sel, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return;
  }
  win_selector_describe(&sel, sdesc, sizeof sdesc);
  json_object_del(facts, "cert");
  if (!(recs = win_store_records(h, out, &bad))) {
    h->donef(s, RD_ENOMEM, NULL, "%s: out of memory", sel.store);
    return;
  }
  idx = win_select(&sel, recs, time(NULL), &dups);
  if (idx < 0) {
    rd_problem(problems, TYPE, "missing certificate", "no certificate in %s matches %s", sel.store, sdesc);
    res = rd_result_new();
    json_object_set_new(res, "detail", json_pack("{s:s, s:s, s:I, s:i}", "store", sel.store,
                                                 "selector", sdesc, "listed",
                                                 (json_int_t)json_array_size(recs), "unreadable",
                                                 bad));
    h->donef(s, 0, res, "%s: no certificate matches %s (a new one is needed)", sel.store,
               sdesc);
    json_decref(recs);
    json_decref(dups);
    return;
  }
  cert = json_deep_copy(json_array_get(recs, (size_t)idx));
  json_decref(recs);
  json_object_set_new(cert, "store", json_string(sel.store));
  json_object_set_new(cert, "key_match",
                      json_boolean(win_bool(cert, "has_private_key") &&
                                   (!win_str(cert, "key_path") || win_bool(cert, "key_exists"))));
  json_object_set_new(cert, "duplicates", dups);
  snprintf(thumb, sizeof thumb, "%s", win_out(cert, "thumbprint"));

  na = win_int(cert, "not_after", 0);
  win_time(na, when, sizeof when);
  if (na <= (long long)time(NULL))
    rd_problem(problems, TYPE, "expired", "the certificate %s in %s expired on %s", thumb, sel.store, when);
  if (!win_bool(cert, "has_private_key"))
    rd_problem(problems, TYPE, "missing key", "the certificate %s in %s has no private key", thumb,
            sel.store);
  else if (win_str(cert, "key_path") && !win_bool(cert, "key_exists"))
    rd_problem(problems, TYPE, "missing key", "the private key file %s of %s does not exist%s%s",
            win_str(cert, "key_path"), thumb, win_str(cert, "key_note") ? ": " : "",
            win_out(cert, "key_note"));
  if (json_array_size(dups)) {
    char list[600] = "";
    size_t i;
    const json_t *d;
    json_array_foreach(dups, i, d) {
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
               win_out(d, "thumbprint"));
    }
    rd_problem(problems, TYPE, "duplicates",
            "%zu other certificate%s in %s match%s %s (%s); services such as NDES refuse to "
            "start with more than one",
            json_array_size(dups), json_array_size(dups) == 1 ? "" : "s", sel.store,
            json_array_size(dups) == 1 ? "es" : "", sdesc, list);
  }

  res = rd_result_new();
  json_object_set_new(
      res, "detail",
      json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:I}", "store", sel.store, "thumbprint", thumb,
                "subject", json_object_get(cert, "subject"), "serial",
                json_object_get(cert, "serial"), "not_after", json_object_get(cert, "not_after"),
                "key_provider", json_object_get(cert, "key_provider"), "key_match",
                json_object_get(cert, "key_match"), "duplicates",
                (json_int_t)json_array_size(dups)));
  {
    char subj[512];
    size_t nd = json_array_size(dups);
    int has_key = win_bool(cert, "has_private_key");
    snprintf(subj, sizeof subj, "%s", win_str(cert, "subject") ? win_str(cert, "subject") : "?");
    json_object_set_new(facts, "cert", cert);
    h->donef(s, 0, res, "%s: %s, thumbprint %s, expires %s%s%s", sel.store, subj, thumb, when,
               has_key ? "" : "; NO PRIVATE KEY",
               nd == 0 ? "" : nd == 1 ? "; 1 duplicate" : "; duplicates");
  }
}

static int inventory_probe(rd_step *s, const rd_host_api *h) {
  win_selector sel;
  char err[512], t[41];
  const char *one[1];
  if (win_selector_get(s, h, &sel, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return 0;
  }
  one[0] = sel.thumbprint && !win_thumb(sel.thumbprint, t) ? t : NULL;
  return win_run(s, h, &win_store_list_script, win_store_args(sel.store, one, one[0] ? 1 : 0),
                 inventory_listed);
}

const rd_step_kind windows_kind_inventory = {
    .type = TYPE,
    .summary = "find the live certificate in a LocalMachine store (facts.cert, duplicates, key)",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = RD_KIND_INVENTORY,
    .validate = inventory_validate,
    .probe = inventory_probe,
};
