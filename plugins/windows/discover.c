/* discover.c — see windows_discover.h. */
#include "windows_discover.h"

#include <stdio.h>
#include <string.h>

#include "windows_certreq.h"
#include "windows_util.h"

/* "host\CA name": one backslash, neither side empty, no quotes or controls. */
static int config_shape(const char *c) {
  const char *bs = c ? strchr(c, '\\') : NULL;
  if (!bs || bs == c || !bs[1] || strchr(bs + 1, '\\') || strlen(c) >= 500)
    return 0;
  for (; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == '"')
      return 0;
  return 1;
}

static json_t *from_ad(const json_t *ad) {
  json_t *a = json_array(), *x;
  const json_t *v;
  size_t i, j;
  json_array_foreach(ad, i, v) {
    int dup = 0;
    if (!config_shape(json_string_value(v)))
      continue;
    json_array_foreach(a, j, x) dup |= json_equal(x, v);
    if (!dup)
      json_array_append(a, (json_t *)v);
  }
  return a;
}

void adcs_discover(const json_t *out, const char *dump, adcs_found *f) {
  const char *cainfo = win_str(out, "cainfo");
  memset(f, 0, sizeof *f);
  if (config_shape(cainfo)) {
    f->configs = json_pack("[s]", cainfo);
    f->source = "NDES's MSCEP\\CAInfo";
  } else if (json_array_size(f->configs = from_ad(json_object_get(out, "ad")))) {
    f->source = "AD enrollment services";
  } else {
    json_decref(f->configs);
    f->configs = adcs_parse_configs(dump);
    f->source = "certutil -dump";
  }
  f->n = json_array_size(f->configs);
  if (f->n == 1)
    snprintf(f->config, sizeof f->config, "%s", json_string_value(json_array_get(f->configs, 0)));
}
