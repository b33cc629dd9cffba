/* store.c — see windows_store.h. */
#include "windows_store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "windows_keyfile.h"
#include "windows_plugin.h"

const rd_script win_store_list_script =
    WIN_SCRIPT("windows.store.list", 0, WIN_PS_CERT_LIB WIN_PS_STORE_LIST);
const rd_script *const windows_store_scripts[] = {&win_store_list_script, NULL};

json_t *win_store_args(const char *store, const char *const *thumbs, size_t n) {
  json_t *a = json_pack("{s:s}", "store", store ? store : WIN_DEFAULT_STORE);
  if (a && thumbs && n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
      if (thumbs[i])
        json_array_append_new(arr, json_string(thumbs[i]));
    json_object_set_new(a, "thumbprints", arr);
  }
  return a;
}

json_t *win_store_records(const rd_host_api *h, const json_t *out, int *bad) {
  json_t *recs = json_array();
  const json_t *e;
  size_t i;
  if (bad)
    *bad = 0;
  json_array_foreach(json_object_get(out, "certs"), i, e) {
    json_t *f = NULL;
    const json_t *key = json_object_get(e, "key");
    win_keyfile kf;
    if (win_cert_from_b64(h, win_str(e, "raw"), &f) < 0) {
      if (bad)
        (*bad)++;
      continue;
    }
    json_object_set_new(f, "has_private_key", json_boolean(win_bool(e, "has_key")));
    win_keyfile_decide(key, &kf);
    json_object_set_new(f, "key_provider", kf.provider ? json_string(kf.provider) : json_null());
    json_object_set_new(f, "key_container", win_str(key, "unique_name")
                                                ? json_string(win_str(key, "unique_name"))
                                                : json_null());
    json_object_set_new(f, "key_path", kf.path[0] ? json_string(kf.path) : json_null());
    json_object_set_new(f, "key_exists", json_boolean(kf.exists));
    if (kf.note[0] && win_bool(e, "has_key"))
      json_object_set_new(f, "key_note", json_string(kf.note));
    json_object_set_new(f, "friendly_name", json_string(win_out(e, "friendly_name")));
    json_object_set_new(f, "in_use", json_is_array(json_object_get(e, "uses"))
                                         ? json_deep_copy(json_object_get(e, "uses"))
                                         : json_array());
    if (win_str(e, "template_hint"))
      json_object_set_new(f, "template_hint", json_string(win_str(e, "template_hint")));
    json_array_append_new(recs, f);
  }
  return recs;
}

const json_t *win_store_find(const json_t *recs, const char *thumb) {
  const json_t *r;
  size_t i;
  json_array_foreach(recs, i, r) {
    if (thumb && win_str(r, "thumbprint") && !strcasecmp(win_str(r, "thumbprint"), thumb))
      return r;
  }
  return NULL;
}

/* Equal without case and without whitespace. */
static int loose_eq(const char *a, const char *b, size_t blen) {
  const char *be = b + blen;
  for (;;) {
    while (*a && isspace((unsigned char)*a))
      a++;
    while (b < be && isspace((unsigned char)*b))
      b++;
    if (!*a || b == be)
      return !*a && b == be;
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return 0;
    a++;
    b++;
  }
}

int win_template_name_matches(const json_t *rec, const char *name) {
  const json_t *t = json_object_get(rec, "template");
  const char *v1 = win_str(t, "name"), *oid = win_str(t, "oid");
  const char *hint = win_str(rec, "template_hint");
  char pat[160];
  const char *at, *eq;
  if (!name || !*name)
    return 0;
  if (v1 && loose_eq(name, v1, strlen(v1)))
    return 1;
  if (!oid || !hint)
    return 0;
  /* the OID decoded from the DER must be the one the text names */
  snprintf(pat, sizeof pat, "(%s)", oid);
  if (!(at = strstr(hint, pat)))
    return 0;
  for (eq = at; eq > hint && eq[-1] != '='; eq--)
    ;
  if (eq == hint)
    return 0;
  return loose_eq(name, eq, (size_t)(at - eq));
}

/* "CN=a, O=b" -> "cn=a,o=b": no spaces around ',' and '=', lowercase. */
static void dn_norm(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  for (const char *p = in; *p && o + 1 < outlen; p++) {
    if (*p == ' ' && (o == 0 || out[o - 1] == ',' || out[o - 1] == '=' || p[1] == ',' ||
                      p[1] == '=' || p[1] == ' ' || !p[1]))
      continue;
    out[o++] = (char)tolower((unsigned char)*p);
  }
  out[o] = 0;
}

/* A value escaped as x509.c renders a name (RFC 2253, X509_NAME_print_ex):
 * "\" before , + " \ < > ; and before a leading # or space or a trailing space. */
static void dn_escape(const char *in, char *out, size_t outlen) {
  size_t o = 0, n = strlen(in);
  for (size_t i = 0; i < n && o + 3 < outlen; i++) {
    if (strchr(",+\"\\<>;", in[i]) || (!i && (in[i] == '#' || in[i] == ' ')) ||
        (i + 1 == n && in[i] == ' '))
      out[o++] = '\\';
    out[o++] = in[i];
  }
  out[o] = 0;
}

static int subject_matches(const char *want, const char *subject) {
  char a[1024], b[1024];
  if (!subject)
    return 0;
  if (!strchr(want, '=')) { /* a bare name: the CN, as written (unescaped) */
    memcpy(a, "CN=", 3);
    dn_escape(want, a + 3, sizeof a - 3);
    dn_norm(a, b, sizeof b);
    dn_norm(subject, a, sizeof a);
    size_t n = strlen(b);
    return !strncmp(a, b, n) && (a[n] == 0 || a[n] == ',' || a[n] == '+');
  }
  dn_norm(want, a, sizeof a);
  dn_norm(subject, b, sizeof b);
  return !strcmp(a, b);
}

int win_selector_matches(const win_selector *sel, const json_t *rec) {
  const char *oid = win_str(json_object_get(rec, "template"), "oid");
  if (sel->thumbprint &&
      (!win_str(rec, "thumbprint") || strcasecmp(sel->thumbprint, win_str(rec, "thumbprint"))))
    return 0;
  if (sel->template_oid && (!oid || strcmp(sel->template_oid, oid)))
    return 0;
  if (sel->template_ && !win_template_name_matches(rec, sel->template_))
    return 0;
  if (sel->subject && !subject_matches(sel->subject, win_str(rec, "subject")))
    return 0;
  if (sel->issued_by && !subject_matches(sel->issued_by, win_str(rec, "issuer")))
    return 0;
  return 1;
}

int win_same_template(const json_t *ref, const json_t *rec) {
  const json_t *a = json_object_get(ref, "template"), *b = json_object_get(rec, "template");
  const char *oid = win_str(a, "oid"), *name = win_str(a, "name");
  if (oid)
    return win_str(b, "oid") && !strcmp(oid, win_str(b, "oid"));
  if (name)
    return win_str(b, "name") && !strcasecmp(name, win_str(b, "name"));
  return -1;
}

/* Is a better than b? */
static int better(const json_t *a, const json_t *b, time_t now) {
  long long anb = win_int(a, "not_before", 0), ana = win_int(a, "not_after", 0);
  long long bnb = win_int(b, "not_before", 0), bna = win_int(b, "not_after", 0);
  int av = anb <= (long long)now && (long long)now < ana, bv = bnb <= (long long)now && (long long)now < bna;
  int ak = win_bool(a, "has_private_key"), bk = win_bool(b, "has_private_key");
  if (av != bv)
    return av > bv;
  if (ak != bk)
    return ak > bk;
  if (anb != bnb)
    return anb > bnb;
  return ana > bna;
}

int win_select(const win_selector *sel, const json_t *recs, time_t now, json_t **dups) {
  const json_t *r;
  size_t i;
  int best = -1;
  json_array_foreach(recs, i, r) {
    if (win_selector_matches(sel, r) &&
        (best < 0 || better(r, json_array_get(recs, (size_t)best), now)))
      best = (int)i;
  }
  if (dups) {
    *dups = json_array();
    json_array_foreach(recs, i, r) {
      if ((int)i != best && win_selector_matches(sel, r))
        json_array_append_new(*dups, win_record_brief(r));
    }
  }
  return best;
}

json_t *win_record_brief(const json_t *rec) {
  return json_pack("{s:s?, s:s?, s:s?, s:I, s:I, s:b}", "thumbprint", win_str(rec, "thumbprint"),
                   "subject", win_str(rec, "subject"), "serial", win_str(rec, "serial"),
                   "not_before", (json_int_t)win_int(rec, "not_before", 0), "not_after",
                   (json_int_t)win_int(rec, "not_after", 0), "has_private_key",
                   win_bool(rec, "has_private_key"));
}
