/* runbook_secrets.c — secrets never appear in a runbook: every member named
 * like one must be a {"file"}/{"env"} reference (config/secret.h checks
 * them). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "config/runbook_int.h"

static int secret_key(const char *key) {
  static const char *const names[] = {"challenge", "password", "passphrase", "token",
                                      "secret",    "api_key",  NULL};
  size_t kl = strlen(key);
  for (const char *const *n = names; *n; n++) {
    size_t nl = strlen(*n);
    if (!strcasecmp(key, *n))
      return 1;
    if (kl > nl + 1 && key[kl - nl - 1] == '_' && !strcasecmp(key + kl - nl, *n))
      return 1; /* "bind_password", "api_token" */
  }
  return 0;
}

/* {"file": PATH} or {"env": NAME} (rd_secret_check): report what is wrong
 * (when report); on success rewrite a relative file to an absolute path and
 * fill ref (when non-NULL). */
int rb_secret_ref(ld *l, json_t *v, const char *ptr, const char *key, rd_secret_ref *ref,
                      int report) {
  rd_secret_problem pb;
  rd_secret_kind kind;
  const char *name;
  char d[512], p[PTR_MAX];
  if (report && json_is_object(v))
    rd_jctx_check_keys(&l->j, v, ptr, rd_secret_keys);
  if (rd_secret_check(v, key, &pb, &kind, &name)) {
    if (report && !pb.unknown_key) {
      snprintf(p, sizeof p, "%s", ptr);
      if (pb.member)
        rd_jsonptr_push(p, sizeof p, pb.member);
      rd_jctx_err(&l->j, p, 1, "'%s' %s", DISP(l, p, d), pb.msg);
    }
    return -1;
  }
  if (kind == RD_SECRET_FILE && name[0] != '/') {
    char *abs = rb_resolve(l, name);
    if (abs)
      json_object_set_new(v, "file", json_string(abs));
    free(abs);
    name = json_string_value(json_object_get(v, "file"));
  }
  if (ref) {
    ref->kind = kind;
    ref->name = rb_xstrdup(l, name);
  }
  return 0;
}

/* Every member named like a secret, anywhere in the document, must be a
 * reference, never the secret itself. */
void rb_walk_secrets(ld *l, json_t *v, char *ptr, size_t cap) {
  size_t base = strlen(ptr);
  if (json_is_object(v)) {
    const char *key;
    json_t *m;
    json_object_foreach(v, key, m) {
      rd_jsonptr_push(ptr, cap, key);
      if (secret_key(key) && json_is_string(m)) {
        char d[512];
        rd_jctx_err(&l->j, ptr, 1,
                    "inline secret in '%s': put it in a file or environment variable: "
                    "{\"file\": \"/etc/renewd/%s\"} or {\"env\": \"NAME\"}",
                    DISP(l, ptr, d), key);
      } else if (secret_key(key)) {
        rb_secret_ref(l, m, ptr, key, NULL, 1);
      } else {
        rb_walk_secrets(l, m, ptr, cap);
      }
      ptr[base] = '\0';
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
      rd_jsonptr_push_index(ptr, cap, i);
      rb_walk_secrets(l, m, ptr, cap);
      ptr[base] = '\0';
    }
  }
}
