/* acme_scripts.c — the constant POSIX scripts of the challenges, without an
 * agent. http-01: the key authorization written into the target's web root
 * (served by its own web server at /.well-known/acme-challenge/TOKEN) and
 * removed after; the token is checked here and on the target (base64url
 * only, so it cannot leave the directory). dns-01: the operator's hook run
 * on the target as `HOOK add|remove NAME VALUE` (docs/ACME.md has examples
 * for nsupdate and a provider API). Parameters arrive as files in "$RD_P". */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "acme_jws.h"

#include "acme_int.h"
#include "acme_win.h"

int acme_token_ok(const char *token) {
  size_t n = token ? strlen(token) : 0;
  return n > 0 && n <= 256 &&
         strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

#define ACME_SH_TOKEN                                                                       \
  "root=$P_webroot\n"                                                                       \
  "token=$P_token\n"                                                                        \
  "case $token in ''|*[!A-Za-z0-9_-]*) rd_fail \"token $token: not base64url\" ;; esac\n" \
  "dir=\"$root/.well-known/acme-challenge\"\n"

const rd_script acme_script_http01_put = {
    "acme.http01.put", RD_PLATFORM_POSIX, 1, 1,
    ACME_SH_TOKEN
    "[ -d \"$root\" ] || rd_fail \"web root $root: not a directory\"\n"
    "mkdir -p \"$dir\" && chmod 755 \"$root/.well-known\" \"$dir\" || rd_fail \"directory $dir: cannot create\"\n"
    "tmp=$(mktemp \"$dir/.renewd.XXXXXX\") || rd_fail \"directory $dir: cannot create a file\"\n"
    "cat \"$RD_P/keyauth\" > \"$tmp\" && chmod 644 \"$tmp\" && mv -f \"$tmp\" \"$dir/$token\" || { rm -f \"$tmp\"; rd_fail \"file $dir/$token: cannot write\"; }\n"
    "rd_out path \"$dir/$token\"\n"};

const rd_script acme_script_http01_remove = {
    "acme.http01.remove", RD_PLATFORM_POSIX, 1, 1,
    ACME_SH_TOKEN
    "rm -f \"$dir/$token\" || rd_fail \"file $dir/$token: cannot remove\"\n"
    "rd_out removed \"$dir/$token\"\n"};

const rd_script acme_script_dns01_hook = {
    "acme.dns01.hook", RD_PLATFORM_POSIX, 1, 1,
    "hook=$P_hook\n"
    "case $hook in /*) ;; *) rd_fail \"dns hook $hook: not an absolute path\" ;; esac\n"
    "[ -x \"$hook\" ] || rd_fail \"dns hook $hook: not an executable file\"\n"
    "action=$P_action name=$P_name\n"
    "\"$hook\" \"$action\" \"$name\" \"$P_value\" </dev/null >\"$RD_P/out\" 2>&1 || "
    "rd_fail \"dns hook $hook $action $name: exit $?: $(tail -c 300 \"$RD_P/out\")\"\n"
    "rd_out ok 1\n"};

/* dns-01 (RFC 8555 8.4): base64url(SHA-256(key authorization)). */
static char *dns01_value(const char *keyauth) {
  unsigned char md[32];
  unsigned int n = 0;
  return EVP_Digest(keyauth, strlen(keyauth), md, &n, EVP_sha256(), NULL)
             ? acme_b64url(md, n)
             : NULL;
}

int acme_chal_script(acme_flow *f, int add, rd_remote_cb cb, void *arg) {
  json_t *params;
  if (f->dns01) {
    char *value = add ? dns01_value(f->keyauth) : NULL;
    if (add && !value)
      return RD_ECRYPTO;
    if (f->win) {
      int rc = acme_win_chal(f, add, value, cb, arg);
      free(value);
      return rc;
    }
    params = json_pack("{s:s, s:s, s:s, s:s}", "hook", f->dns_hook, "action",
                       add ? "add" : "remove", "name", f->chal_name, "value",
                       value ? value : "");
    free(value);
    return f->h->remote(f->s, &acme_script_dns01_hook, params, cb, arg);
  }
  if (f->win)
    return acme_win_chal(f, add, NULL, cb, arg);
  if (add)
    params = json_pack("{s:s, s:s, s:s}", "webroot", f->webroot, "token", f->token, "keyauth",
                       f->keyauth);
  else
    params = json_pack("{s:s, s:s}", "webroot", f->webroot, "token", f->token);
  return f->h->remote(f->s, add ? &acme_script_http01_put : &acme_script_http01_remove, params,
                      cb, arg);
}
