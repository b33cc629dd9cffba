/* inventory.c — `posix.inventory`: the live certificate of a POSIX target.
 *
 * probe (read-only, the only phase): reads the runbook's certificate
 * section {"cert", "key", "chain"}, fetches the certificate file, and on the
 * target reports the digest of the key's public half (one openssl; the
 * private key never leaves the target) and the plugin compares it with the
 * certificate's, stats both, lists <path>.renewd-* backups. Sets
 * facts.cert (cert_facts + path, key_path, chain_path, key_exists,
 * key_match, key_owner/group/mode, cert_owner/group/mode, backups) and its
 * findings in facts.problems. A combined file (certificate and key in one,
 * "cert" == "key") sends back only its certificate blocks: the key stays. A missing certificate is not an error: there
 * is no facts.cert, a problem is recorded, and the engine treats it as due.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.inventory"

static const rd_script posix_inventory_script =
    POSIX_SCRIPT("posix.inventory", 0, POSIX_SH_INVENTORY);

static int inventory_validate(const json_t *params, char *err, size_t errlen) {
  return rd_check_keys(params, TYPE, NULL, err, errlen);
}




/* "root root 0640" -> cert[prefix_owner], ... */
static void put_stat(json_t *cert, const char *prefix, const char *st) {
  char owner[256], group[256], mode[16], k[64];
  if (sscanf(st, "%255s %255s %15s", owner, group, mode) != 3)
    return;
  snprintf(k, sizeof k, "%s_owner", prefix);
  json_object_set_new(cert, k, json_string(owner));
  snprintf(k, sizeof k, "%s_group", prefix);
  json_object_set_new(cert, k, json_string(group));
  snprintf(k, sizeof k, "%s_mode", prefix);
  json_object_set_new(cert, k, json_string(mode));
}

/* Does the key whose public key digest the target reported belong to the
 * certificate (its facts' spki_sha256: the certificate is parsed once)?
 * "1", "0", or "unreadable" when the target could not read the key. */
static const char *key_match_word(const json_t *cert, const char *key_digest) {
  const char *spki = json_string_value(json_object_get(cert, "spki_sha256"));
  if (strlen(key_digest) != 64)
    return "unreadable";
  return spki && !strcmp(spki, key_digest) ? "1" : "0";
}

static void inventory_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *facts = h->facts(s), *problems = rd_problems_reset(facts, TYPE), *cert = NULL, *res;
  posix_paths p;
  char err[512], when[32] = "?";
  const char *pem = posix_out(out, "cert_pem");
  const char *match;
  int key_exists = posix_out_is(out, "key_exists", "1");
  time_t na;
  struct tm tm;

  posix_paths_get(s, h, &p, err, sizeof err);
  json_object_del(facts, "cert");
  if (!key_exists)
    rd_problem(problems, TYPE, "missing key", "the private key %s does not exist", p.key);
  if (!posix_out_is(out, "cert_exists", "1")) {
    rd_problem(problems, TYPE, "missing certificate", "the certificate %s does not exist", p.cert);
    res = rd_result_new();
    json_object_set_new(res, "detail", json_pack("{s:s, s:b}", "path", p.cert, "exists", 0));
    h->donef(s, 0, res, "%s: no certificate (a new one is needed)", p.cert);
    return;
  }
  if (h->cert_facts((const unsigned char *)pem, strlen(pem), &cert) < 0 || !cert) {
    rd_problem(problems, TYPE, "unreadable certificate", "%s does not hold a PEM or DER certificate", p.cert);
    res = rd_result_new();
    json_object_set_new(res, "detail", json_pack("{s:s, s:b}", "path", p.cert, "exists", 1));
    h->donef(s, 0, res, "%s: not a certificate (a new one is needed)", p.cert);
    return;
  }
  match = key_match_word(cert, posix_out(out, "key_pub_sha256"));
  json_object_set_new(cert, "path", json_string(p.cert));
  json_object_set_new(cert, "key_path", json_string(p.key));
  json_object_set_new(cert, "chain_path", p.chain ? json_string(p.chain) : json_null());
  json_object_set_new(cert, "key_exists", json_boolean(key_exists));
  json_object_set_new(cert, "key_match", json_boolean(!strcmp(match, "1")));
  /* certificate, chain and key in one file: only the certificates were read */
  json_object_set_new(cert, "combined", json_boolean(posix_out_is(out, "combined", "1")));
  put_stat(cert, "key", posix_out(out, "key_stat"));
  put_stat(cert, "cert", posix_out(out, "cert_stat"));
  json_object_set_new(cert, "backups", posix_out_lines(out, "backups"));
  if (p.chain)
    json_object_set_new(cert, "chain_exists", json_boolean(posix_out_is(out, "chain_exists", "1")));

  na = (time_t)json_integer_value(json_object_get(cert, "not_after"));
  if (gmtime_r(&na, &tm))
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  if (na <= time(NULL))
    rd_problem(problems, TYPE, "expired", "the certificate %s expired on %s", p.cert, when);
  if (key_exists && !strcmp(match, "0"))
    rd_problem(problems, TYPE, "key mismatch", "the private key %s does not belong to the certificate %s",
            p.key, p.cert);
  else if (key_exists && strcmp(match, "1"))
    rd_problem(problems, TYPE, "unreadable key", "the private key %s cannot be read (encrypted, or no sudo?)",
            p.key);

  res = rd_result_new();
  json_object_set_new(res, "detail",
                      json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "path", p.cert, "subject",
                                json_object_get(cert, "subject"), "serial",
                                json_object_get(cert, "serial"), "sha1",
                                json_object_get(cert, "sha1"), "not_after",
                                json_object_get(cert, "not_after"), "key_match",
                                json_object_get(cert, "key_match")));
  {
    char subj[512];
    snprintf(subj, sizeof subj, "%s", posix_str(cert, "subject") ? posix_str(cert, "subject") : "?");
    json_object_set_new(facts, "cert", cert);
    h->donef(s, 0, res, "%s: %s, serial %s, expires %s%s", p.cert, subj,
                 posix_fact(s, h, "cert.serial") ? posix_fact(s, h, "cert.serial") : "?", when,
                 !key_exists                ? "; key missing"
                 : !strcmp(match, "0")      ? "; KEY DOES NOT MATCH"
                 : strcmp(match, "1")       ? "; key unreadable"
                                            : "");
  }
}

static int inventory_probe(rd_step *s, const rd_host_api *h) {
  posix_paths p;
  char err[512];
  json_t *args;
  if (posix_paths_get(s, h, &p, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return 0;
  }
  args = posix_args();
  posix_arg(args, "cert", p.cert);
  posix_arg(args, "key", p.key);
  posix_arg(args, "chain", p.chain);
  return posix_run(s, h, &posix_inventory_script, args, inventory_probed);
}

const rd_step_kind posix_kind_inventory = {
    .type = TYPE,
    .summary = "find the live certificate and key on a POSIX target (facts.cert)",
    .platform = RD_PLATFORM_POSIX,
    .flags = RD_KIND_INVENTORY,
    .validate = inventory_validate,
    .probe = inventory_probe,
};
