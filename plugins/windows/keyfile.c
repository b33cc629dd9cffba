/* keyfile.c — see windows_keyfile.h. */
#include "windows_keyfile.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "windows_util.h"

/* Does rdw_keyinfo's "files" list the folder dir? */
static int listed(const json_t *key, const char *dir) {
  const json_t *f;
  size_t i;
  json_array_foreach(json_object_get(key, "files"), i, f) {
    if (json_is_string(f) && !strcasecmp(json_string_value(f), dir))
      return 1;
  }
  return 0;
}

static int fileless_ksp(const char *prov) {
  return prov && (!strcasecmp(prov, "Microsoft Smart Card Key Storage Provider") ||
                  !strcasecmp(prov, "Microsoft Platform Crypto Provider"));
}

void win_keyfile_decide(const json_t *key, win_keyfile *out) {
  const json_t *pt = json_object_get(key, "prov_type");
  const char *prov = win_str(key, "prov_name"), *uniq = win_str(key, "unique_name");
  const char *base = win_str(key, "crypto_dir");
  long long type = win_int(key, "prov_type", -1), flags = win_int(key, "flags", 0);
  memset(out, 0, sizeof *out);
  if (!json_is_integer(pt) || type < 0) {
    snprintf(out->note, sizeof out->note, "no key provider information (CERT_KEY_PROV_INFO)%s%s",
             win_str(key, "error") ? ": " : "", win_out(key, "error"));
    return;
  }
  out->provider = type == 0 ? "CNG" : "CAPI";
  if (type == 0)
    out->dir = "Keys";
  else
    out->dir = (type == 3 || type == 13) ? "DSS\\MachineKeys" : "RSA\\MachineKeys";
  if (type == 0 && fileless_ksp(prov)) {
    snprintf(out->note, sizeof out->note, "the key is held by %s, not in a file", prov);
    out->dir = NULL;
    return;
  }
  if (!(flags & WIN_KEY_MACHINE_KEYSET)) {
    snprintf(out->note, sizeof out->note,
             "a user key (CRYPT_MACHINE_KEYSET not set): it lives in a user profile, not in "
             "the machine key folders");
    out->dir = NULL;
    return;
  }
  if (!uniq || !*uniq || strpbrk(uniq, "\\/") || !base || !*base) {
    snprintf(out->note, sizeof out->note, "the unique name of %s key container \"%s\" is unknown%s%s",
             out->provider, win_out(key, "container"), win_str(key, "error") ? ": " : "",
             win_out(key, "error"));
    return;
  }
  snprintf(out->path, sizeof out->path, "%s\\%s\\%s", base, out->dir, uniq);
  out->exists = listed(key, out->dir);
  if (!out->exists) {
    static const char *const dirs[] = {"Keys", "RSA\\MachineKeys", "DSS\\MachineKeys"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
      if (strcmp(dirs[i], out->dir) && listed(key, dirs[i])) {
        snprintf(out->note, sizeof out->note,
                 "a %s key (provider type %lld, %s) belongs in %s, but its file is in %s",
                 out->provider, type, prov ? prov : "no provider name", out->dir, dirs[i]);
        return;
      }
  }
}
