/* registry.c — `windows.registry_thumbprint`: a registry value that names
 * the certificate a service uses moves from the old certificate to the new.
 *
 * params: {"key": "HKLM\\SOFTWARE\\...", "value": "NDESCertThumbprint",
 *          "format": "sha1" | "serial" | "serial_reversed",
 *          "kind": "REG_SZ" | "REG_BINARY"}
 *   sha1             the thumbprint (NDESCertThumbprint, SCOM
 *                    ChannelCertificateHash); REG_SZ by default, REG_BINARY
 *                    writes its 20 bytes
 *   serial           the serial number as hex text (REG_SZ by default)
 *   serial_reversed  the serial's bytes in reverse order, the way
 *                    MOMCertImport writes SCOM's ChannelCertificateSerialNumber
 *                    (REG_BINARY by default): facts.*.serial_reversed from the
 *                    orchestrator's x509 helpers, which keep the DER sign
 *                    byte as Windows does (serial 00FF01 -> bytes 01 FF 00)
 * Old value: facts.cert; new: facts.expect, else facts.new_cert. REG_SZ
 * values compare without case and spaces, and the new one is written
 * uppercase unless the old one was lowercase.
 * Guard: the value must hold the old certificate's (or already the new
 * one's); anything else fails naming both, unless old and new are the same
 * certificate (remediate): then whatever is there is repaired.
 * apply journals {found, new, kind} first; rollback writes the found value
 * back (guarded by the new one), so it works after a crash too.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.registry_thumbprint"

static const rd_script win_reg_read_script =
    WIN_SCRIPT("windows.registry.read", 0, WIN_PS_REG_LIB WIN_PS_REG_READ);
static const rd_script win_reg_set_script =
    WIN_SCRIPT("windows.registry.set", 1, WIN_PS_REG_LIB WIN_PS_REG_SET);
const rd_script *const windows_registry_scripts[] = {&win_reg_read_script, &win_reg_set_script,
                                                     NULL};

static const char *const reg_keys[] = {"key", "value", "format", "kind", NULL};
static const char *const reg_formats[] = {"sha1", "serial", "serial_reversed", NULL};
static const char *const reg_kinds[] = {"REG_SZ", "REG_BINARY", NULL};

static int reg_validate(const json_t *params, char *err, size_t errlen) {
  const char *v;
  int rc;
  if ((rc = rd_check_keys(params, TYPE, reg_keys, err, errlen)) ||
      (rc = win_check_string(params, "key", 1, 1024, TYPE, err, errlen)) ||
      (rc = win_check_string(params, "value", 1, 255, TYPE, err, errlen)) ||
      (rc = win_check_enum(params, "format", 1, reg_formats, TYPE, err, errlen)) ||
      (rc = win_check_enum(params, "kind", 0, reg_kinds, TYPE, err, errlen)))
    return rc;
  if (!win_hklm_ok(win_str(params, "key"))) {
    snprintf(err, errlen, "%s: \"key\" must be a path under HKLM such as "
             "\"HKLM\\\\SOFTWARE\\\\Microsoft\\\\Cryptography\\\\MSCEP\\\\Modules\\\\NDESPolicy\", "
             "not \"%s\"", TYPE, win_str(params, "key"));
    return RD_EINVAL;
  }
  v = win_str(params, "value");
  if (strchr(v, '\\')) {
    snprintf(err, errlen, "%s: \"value\" is a value name, not a path (put the path in \"key\")", TYPE);
    return RD_EINVAL;
  }
  return 0;
}

typedef struct reg_cfg {
  const char *key, *value, *format, *kind;
  int binary;
  char old[130], new_[130]; /* hex / text values; "" when unknown */
  int repair;               /* old and new are the same certificate */
  char jkey[1400];
} reg_cfg;

/* The value a certificate gives for format (uppercase hex), or "". */
static void cert_value(const json_t *cert, const char *format, char *out, size_t outlen) {
  const char *v = NULL;
  char t[41];
  out[0] = 0;
  if (!cert)
    return;
  if (!strcmp(format, "sha1"))
    v = win_cert_thumb(cert, t);
  else
    v = win_str(cert, format);
  if (!v || strlen(v) >= outlen || !*v)
    return;
  for (size_t i = 0; v[i]; i++)
    out[i] = (char)toupper((unsigned char)v[i]);
  out[strlen(v)] = 0;
  for (size_t i = 0; out[i]; i++)
    if (!isxdigit((unsigned char)out[i])) {
      out[0] = 0;
      return;
    }
}

static void cfg_get(rd_step *s, const rd_host_api *h, reg_cfg *c) {
  const json_t *pa = h->params(s);
  memset(c, 0, sizeof *c);
  c->key = win_str(pa, "key");
  c->value = win_str(pa, "value");
  c->format = win_str(pa, "format");
  c->kind = win_str(pa, "kind");
  if (!c->kind)
    c->kind = !strcmp(c->format, "serial_reversed") ? "REG_BINARY" : "REG_SZ";
  c->binary = !strcmp(c->kind, "REG_BINARY");
  cert_value(win_live_cert(s, h), c->format, c->old, sizeof c->old);
  cert_value(win_expected_cert(s, h), c->format, c->new_, sizeof c->new_);
  c->repair = c->old[0] && c->new_[0] && !strcmp(c->old, c->new_);
  snprintf(c->jkey, sizeof c->jkey, "registry:%s\\%s", c->key, c->value);
}

/* Without whitespace, uppercase. */
static void norm(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  for (; in && *in && o + 1 < outlen; in++)
    if (!isspace((unsigned char)*in))
      out[o++] = (char)toupper((unsigned char)*in);
  out[o] = 0;
}

static int same(const char *a, const char *b) {
  char x[600], y[600];
  norm(a, x, sizeof x);
  norm(b, y, sizeof y);
  return *x && !strcmp(x, y);
}

/* "01FF00" -> "01 FF 00" for reports of binary values. */
static void show(const reg_cfg *c, const char *v, char *out, size_t outlen) {
  size_t o = 0, n;
  if (!v || !*v) {
    snprintf(out, outlen, "(empty)");
    return;
  }
  if (!c->binary) {
    snprintf(out, outlen, "%s", v);
    return;
  }
  n = strlen(v);
  for (size_t i = 0; i + 1 < n && o + 4 < outlen; i += 2) {
    if (o)
      out[o++] = ' ';
    out[o++] = v[i];
    out[o++] = v[i + 1];
  }
  out[o] = 0;
}

/* The new value as written: REG_SZ in the case style of the found one. */
static void styled(const reg_cfg *c, const char *found, char *out, size_t outlen) {
  int lower = 0;
  snprintf(out, outlen, "%s", c->new_);
  if (c->binary || !found)
    return;
  for (const char *p = found; *p; p++) {
    if (isupper((unsigned char)*p))
      return;
    if (islower((unsigned char)*p))
      lower = 1;
  }
  if (lower)
    for (char *p = out; *p; p++)
      *p = (char)tolower((unsigned char)*p);
}

/* The current value from reg_read/reg_set output ("text" or "hex"). */
static const char *found_value(const reg_cfg *c, const json_t *out) {
  return win_out(out, c->binary ? "hex" : "text");
}

/* Completes and returns -1 unless the value exists with the right kind. */
static int check_read(rd_step *s, const rd_host_api *h, const reg_cfg *c, const json_t *out) {
  const char *want = c->binary ? "Binary" : "String";
  if (!win_bool(out, "key_exists")) {
    h->donef(s, RD_ENOTFOUND, NULL, "%s: the registry key does not exist", c->key);
    return -1;
  }
  if (!win_bool(out, "exists")) {
    h->donef(s, RD_ENOTFOUND, NULL, "%s\\%s: the value does not exist", c->key, c->value);
    return -1;
  }
  if (strcmp(win_out(out, "kind"), want)) {
    h->donef(s, RD_ESTATE, NULL, "%s\\%s is %s, not %s", c->key, c->value,
               win_out(out, "kind"), c->kind);
    return -1;
  }
  return 0;
}

/* Completes with the mismatch unless found is the old (or new) value or
 * this is a repair; returns -1 after completing. */
static int guard(rd_step *s, const rd_host_api *h, const reg_cfg *c, const char *found) {
  char f[300], o[300];
  if (c->repair || same(found, c->old) || (c->new_[0] && same(found, c->new_)))
    return 0;
  show(c, found, f, sizeof f);
  show(c, c->old, o, sizeof o);
  h->donef(s, RD_ESTATE, NULL,
             "%s\\%s holds %s, which is not the current certificate's %s (%s)%s%s: renewd does not "
             "overwrite a value it cannot account for",
             c->key, c->value, f, c->format, o, c->new_[0] ? " nor the new one's " : "",
             c->new_[0] ? c->new_ : "");
  return -1;
}

static json_t *read_args(const reg_cfg *c) {
  return json_pack("{s:s, s:s}", "key", c->key, "value", c->value);
}

static json_t *set_args(const reg_cfg *c, const char *expect, const char *new_) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "key", c->key, "value", c->value, "kind", c->kind,
                   "expect", expect, "new", new_);
}

static void change(json_t *res, const reg_cfg *c, const char *old, const char *new_) {
  char what[1400], o[300], n[300];
  snprintf(what, sizeof what, "%s\\%s (%s %s)", c->key, c->value, c->kind, c->format);
  show(c, old, o, sizeof o);
  if (new_)
    show(c, new_, n, sizeof n);
  rd_result_change(res, what, o, new_ ? n : "(new certificate)");
}

/* --- probe ------------------------------------------------------------------------ */

static void reg_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  reg_cfg c;
  const char *found;
  char f[300], w[130];
  json_t *res;
  cfg_get(s, h, &c);
  if (check_read(s, h, &c, out))
    return;
  found = found_value(&c, out);
  show(&c, found, f, sizeof f);
  if (c.new_[0] && same(found, c.new_)) {
    h->donef(s, 0, rd_result_new(), "%s\\%s: already %s", c.key, c.value, f);
    return;
  }
  if (guard(s, h, &c, found))
    return;
  res = rd_result_new();
  styled(&c, found, w, sizeof w);
  change(res, &c, found, c.new_[0] ? w : NULL);
  h->donef(s, 0, res, "%s\\%s: would change %s -> %s", c.key, c.value, f,
             c.new_[0] ? json_string_value(json_object_get(
                             json_array_get(json_object_get(res, "changes"), 0), "new"))
                       : "(new certificate)");
}

static int reg_probe(rd_step *s, const rd_host_api *h) {
  reg_cfg c;
  cfg_get(s, h, &c);
  if (!c.old[0] && !c.new_[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s\\%s: no certificate known yet (facts.cert)", c.key,
               c.value);
    return 0;
  }
  return win_run(s, h, &win_reg_read_script, read_args(&c), reg_probed);
}

/* --- apply -------------------------------------------------------------------------- */

static void reg_written(rd_step *s, const rd_host_api *h, const json_t *out) {
  reg_cfg c;
  json_t *rec, *res;
  const char *st = win_out(out, "state");
  cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  if (!strcmp(st, "mismatch")) {
    char f[300];
    show(&c, win_out(out, "found"), f, sizeof f);
    h->donef(s, RD_ESTATE, NULL, "%s\\%s changed under renewd's feet: it now holds %s",
               c.key, c.value, f);
  } else if (!strcmp(st, "already")) {
    h->donef(s, 0, rd_result_new(), "%s\\%s: already had the new value", c.key, c.value);
  } else {
    res = rd_result_new();
    change(res, &c, win_out(rec, "found"), win_out(rec, "new"));
    h->donef(s, 0, res, "%s\\%s: %s", c.key, c.value,
               json_string_value(json_object_get(json_array_get(json_object_get(res, "changes"), 0),
                                                 "new")));
  }
  json_decref(rec);
}

/* The record of the write, journaled before it (rd_swap_apply): NULL after
 * completing when there is nothing to write or the value is not renewd's. */
static json_t *reg_record(rd_step *s, const rd_host_api *h, const json_t *out) {
  reg_cfg c;
  const char *found;
  char w[130];
  cfg_get(s, h, &c);
  if (check_read(s, h, &c, out))
    return NULL;
  found = found_value(&c, out);
  if (same(found, c.new_)) {
    h->donef(s, 0, rd_result_new(), "%s\\%s: already has the new value", c.key, c.value);
    return NULL;
  }
  if (guard(s, h, &c, found))
    return NULL;
  styled(&c, found, w, sizeof w);
  return json_pack("{s:s, s:s, s:s}", "found", found, "new", w, "kind", c.kind);
}

static void reg_names(rd_step *s, const rd_host_api *h, char *jkey, size_t jlen, char *subject,
                      size_t slen) {
  reg_cfg c;
  cfg_get(s, h, &c);
  snprintf(jkey, jlen, "%s", c.jkey);
  snprintf(subject, slen, "%s\\%s", c.key, c.value);
}

static json_t *reg_read_args(rd_step *s, const rd_host_api *h) {
  reg_cfg c;
  cfg_get(s, h, &c);
  return read_args(&c);
}

/* found -> new forward, new -> found backward: the same guarded write. */
static json_t *reg_set_args(rd_step *s, const rd_host_api *h, const json_t *rec, int backward) {
  reg_cfg c;
  cfg_get(s, h, &c);
  return set_args(&c, win_out(rec, backward ? "new" : "found"),
                  win_out(rec, backward ? "found" : "new"));
}

static void reg_restored(rd_step *s, const rd_host_api *h, const json_t *out);

static const rd_swap_ops reg_swap = {reg_names,    &win_reg_read_script, reg_read_args,
                                     reg_record,   &win_reg_set_script,  reg_set_args,
                                     reg_written,  reg_restored};

static int reg_apply(rd_step *s, const rd_host_api *h) {
  reg_cfg c;
  cfg_get(s, h, &c);
  if (h->whatif(s))
    return RD_EWHATIF;
  if (!c.new_[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s\\%s: no new certificate yet (facts.new_cert)", c.key,
               c.value);
    return 0;
  }
  return rd_swap_apply(s, h, &reg_swap);
}

/* --- verify / rollback ----------------------------------------------------------------- */

static void reg_verified(rd_step *s, const rd_host_api *h, const json_t *out) {
  reg_cfg c;
  char f[300], n[300];
  cfg_get(s, h, &c);
  if (check_read(s, h, &c, out))
    return;
  show(&c, found_value(&c, out), f, sizeof f);
  show(&c, c.new_, n, sizeof n);
  if (same(found_value(&c, out), c.new_))
    h->donef(s, 0, NULL, "%s\\%s holds %s", c.key, c.value, f);
  else
    h->donef(s, RD_EVERIFY, NULL, "%s\\%s holds %s, expected %s", c.key, c.value, f, n);
}

static int reg_verify(rd_step *s, const rd_host_api *h) {
  reg_cfg c;
  cfg_get(s, h, &c);
  if (!c.new_[0]) {
    h->donef(s, RD_ESTATE, NULL, "%s\\%s: no new certificate to check for", c.key, c.value);
    return 0;
  }
  return win_run(s, h, &win_reg_read_script, read_args(&c), reg_verified);
}

static void reg_restored(rd_step *s, const rd_host_api *h, const json_t *out) {
  reg_cfg c;
  json_t *rec;
  char f[300];
  cfg_get(s, h, &c);
  rec = h->journal_get(s, c.jkey);
  show(&c, win_out(rec, "found"), f, sizeof f);
  if (!strcmp(win_out(out, "state"), "mismatch")) {
    char now[300];
    show(&c, win_out(out, "found"), now, sizeof now);
    h->donef(s, RD_ESTATE, NULL,
               "%s\\%s holds %s, neither renewd's new value nor the old one: not restored", c.key,
               c.value, now);
  } else {
    h->donef(s, 0, NULL, "%s\\%s: %s %s", c.key, c.value,
               !strcmp(win_out(out, "state"), "already") ? "already had the old value" : "restored",
               f);
  }
  json_decref(rec);
}

static int reg_rollback(rd_step *s, const rd_host_api *h) {
  return rd_swap_rollback(s, h, &reg_swap);
}

const rd_step_kind windows_kind_registry_thumbprint = {
    .type = TYPE,
    .summary = "replace the old certificate's thumbprint/serial (or reversed serial) in a "
               "registry value",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = 0,
    .validate = reg_validate,
    .probe = reg_probe,
    .apply = reg_apply,
    .verify = reg_verify,
    .rollback = reg_rollback,
};
