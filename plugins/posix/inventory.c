/* inventory.c — `posix.inventory`: the live certificate of a POSIX target.
 *
 * probe (read-only, the only phase): reads the runbook's certificate
 * section {"cert", "key", "chain"}, fetches the certificate file as the
 * login user (no sudo; under sudo when the login user cannot see it), stats
 * it and the key, lists <path>.renewd-* backups and, only when facts.check_keys
 * (a due certificate, remediate, doctor, inventory --keys), reports under
 * sudo the digest of the key's public half (one openssl; the private key
 * never leaves the target), which the plugin compares with the
 * certificate's. Sets facts.cert (cert_facts + path, key_path, chain_path,
 * key_exists, key_match (null: not checked), key_checked,
 * key_owner/group/mode, cert_owner/group/mode, backups) and its
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

/* One text twice: the read as the login user (no sudo, no key digest), and
 * under sudo when the login user cannot see everything or the key match is
 * asked for from the start (docs/PLUGINS.md, "The inventory's two reads"). */
static const rd_script posix_inventory_script =
    POSIX_SCRIPT("posix.inventory", 0, POSIX_SH_INVENTORY);
static const rd_script posix_inventory_read_script = {
    "posix.inventory.read", RD_PLATFORM_POSIX, 0, 0, POSIX_SH_LIB POSIX_SH_INVENTORY};
/* A due certificate's second read: the key match alone, under sudo. */
static const rd_script posix_inventory_key_script =
    POSIX_SCRIPT("posix.inventory.key", 0, POSIX_SH_INVENTORY_KEY);

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
static const char *key_match_word(const json_t *cert, const char *key_digest, int checked) {
  const char *spki = json_string_value(json_object_get(cert, "spki_sha256"));
  if (!checked)
    return "not checked";
  if (strlen(key_digest) != 64)
    return "unreadable";
  return spki && !strcmp(spki, key_digest) ? "1" : "0";
}

static int inventory_send(rd_step *s, const rd_host_api *h, int sudo, int next);

/* The certificate's expiry as "YYYY-mm-dd HH:MM UTC" into when[32]. */
static time_t expiry(const json_t *cert, char *when) {
  time_t na = (time_t)json_integer_value(json_object_get(cert, "not_after"));
  struct tm tm;
  snprintf(when, 32, "?");
  if (gmtime_r(&na, &tm))
    strftime(when, 32, "%Y-%m-%d %H:%M UTC", &tm);
  return na;
}

/* The key match of the certificate in facts.cert (already there): its
 * facts, its findings, and the step's one completion. */
static void key_matched(rd_step *s, const rd_host_api *h, const posix_paths *p, const json_t *out,
                        json_t *problems) {
  json_t *cert = json_object_get(h->facts(s), "cert"), *res;
  int checked = posix_out_is(out, "keys", "1"), key_exists = posix_out_is(out, "key_exists", "1");
  const char *match = key_match_word(cert, posix_out(out, "key_pub_sha256"), checked);
  const char *subj = posix_str(cert, "subject"), *serial = posix_str(cert, "serial");
  char when[32];

  expiry(cert, when);
  json_object_set_new(cert, "key_exists", json_boolean(key_exists));
  /* null: not checked (a certificate that is not due: docs/PLUGINS.md) */
  json_object_set_new(cert, "key_match", !checked ? json_null() : json_boolean(!strcmp(match, "1")));
  json_object_set_new(cert, "key_checked", json_boolean(checked));
  if (key_exists && !strcmp(match, "0"))
    rd_problem(problems, TYPE, "key mismatch", "the private key %s does not belong to the certificate %s",
            p->key, p->cert);
  else if (key_exists && checked && strcmp(match, "1"))
    rd_problem(problems, TYPE, "unreadable key", "the private key %s cannot be read (encrypted, or no sudo?)",
            p->key);

  res = rd_result_new();
  json_object_set_new(res, "detail",
                      json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "path", p->cert, "subject",
                                json_object_get(cert, "subject"), "serial",
                                json_object_get(cert, "serial"), "sha1",
                                json_object_get(cert, "sha1"), "not_after",
                                json_object_get(cert, "not_after"), "key_match",
                                json_object_get(cert, "key_match")));
  h->donef(s, 0, res, "%s: %s, serial %s, expires %s%s", p->cert, subj ? subj : "?",
           serial ? serial : "?", when,
           !key_exists                ? "; key missing"
           : !strcmp(match, "0")      ? "; KEY DOES NOT MATCH"
           : !checked                 ? "; key match not checked"
           : strcmp(match, "1")       ? "; key unreadable"
                                      : "");
}

/* The answer of either read; "need_sudo" from the login user's read asks
 * again under sudo (and then with the key match, as it always did). */
static void inventory_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *facts = h->facts(s), *problems, *cert = NULL, *res;
  posix_paths p;
  char err[512], when[32];
  const char *pem = posix_out(out, "cert_pem");

  if (posix_out_is(out, "need_sudo", "1")) {
    inventory_send(s, h, 1, 1);
    return;
  }
  problems = rd_problems_reset(facts, TYPE);
  posix_paths_get(s, h, &p, err, sizeof err);
  json_object_del(facts, "cert");
  if (!posix_out_is(out, "key_exists", "1"))
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
  json_object_set_new(cert, "path", json_string(p.cert));
  json_object_set_new(cert, "key_path", json_string(p.key));
  json_object_set_new(cert, "chain_path", p.chain ? json_string(p.chain) : json_null());
  /* certificate, chain and key in one file: only the certificates were read */
  json_object_set_new(cert, "combined", json_boolean(posix_out_is(out, "combined", "1")));
  put_stat(cert, "key", posix_out(out, "key_stat"));
  put_stat(cert, "cert", posix_out(out, "cert_stat"));
  json_object_set_new(cert, "backups", posix_out_lines(out, "backups"));
  if (p.chain)
    json_object_set_new(cert, "chain_exists", json_boolean(posix_out_is(out, "chain_exists", "1")));
  json_object_set_new(facts, "cert", cert);

  if (expiry(cert, when) <= time(NULL))
    rd_problem(problems, TYPE, "expired", "the certificate %s expired on %s", p.cert, when);
  key_matched(s, h, &p, out, problems);
}

/* The answer of the key's read alone (a due certificate read before
 * without it): the findings of the first read stay. */
static void key_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *facts = h->facts(s), *problems = json_object_get(facts, "problems");
  posix_paths p;
  char err[512];
  posix_paths_get(s, h, &p, err, sizeof err);
  if (!json_is_array(problems))
    problems = rd_problems_reset(facts, TYPE);
  if (!posix_out_is(out, "key_exists", "1")) /* gone since the first read */
    rd_problem(problems, TYPE, "missing key", "the private key %s does not exist", p.key);
  key_matched(s, h, &p, out, problems);
}

/* The read as the login user (sudo 0) or under sudo (1, with the key
 * match); next: from inside a completion (posix_next). */
static int inventory_send(rd_step *s, const rd_host_api *h, int sudo, int next) {
  posix_paths p;
  char err[512];
  json_t *args;
  const rd_script *sc = sudo ? &posix_inventory_script : &posix_inventory_read_script;
  if (posix_paths_get(s, h, &p, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return 0;
  }
  args = posix_args();
  posix_arg(args, "cert", p.cert);
  posix_arg(args, "key", p.key);
  posix_arg(args, "chain", p.chain);
  posix_arg(args, "read", sudo ? "0" : "1");
  posix_arg(args, "keys", sudo ? "1" : "0");
  if (!next)
    return posix_run(s, h, sc, args, inventory_probed);
  posix_next(s, h, sc, args, inventory_probed);
  return 0;
}

/* The key match only when it matters: facts.check_keys (remediate, doctor,
 * --keys, or the engine's second read of a due certificate: core/certs.c
 * rd_certs_keys_owed), and then for a certificate just read without it
 * only the key (posix.inventory.key). */
static int inventory_probe(rd_step *s, const rd_host_api *h) {
  const json_t *facts = h->facts(s), *cert = json_object_get(facts, "cert");
  posix_paths p;
  char err[512];
  json_t *args;
  if (!json_is_true(json_object_get(facts, "check_keys")))
    return inventory_send(s, h, 0, 0);
  if (!json_is_false(json_object_get(cert, "key_checked")) ||
      posix_paths_get(s, h, &p, err, sizeof err) < 0 || !posix_str(cert, "key_path") ||
      strcmp(posix_str(cert, "key_path"), p.key))
    return inventory_send(s, h, 1, 0);
  args = posix_args();
  posix_arg(args, "key", p.key);
  return posix_run(s, h, &posix_inventory_key_script, args, key_probed);
}

const rd_step_kind posix_kind_inventory = {
    .type = TYPE,
    .summary = "find the live certificate and key on a POSIX target (facts.cert)",
    .platform = RD_PLATFORM_POSIX,
    .flags = RD_KIND_INVENTORY,
    .validate = inventory_validate,
    .probe = inventory_probe,
};
