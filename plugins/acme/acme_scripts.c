/* acme_scripts.c — the constant POSIX scripts of http-01 without an agent:
 * the key authorization written into the target's web root (served by its
 * own web server at /.well-known/acme-challenge/TOKEN) and removed after.
 * Parameters arrive as files in "$RD_P"; the token is checked here and on
 * the target (base64url only, so it cannot leave the directory). */
#include <string.h>

#include "acme_int.h"

int acme_token_ok(const char *token) {
  size_t n = token ? strlen(token) : 0;
  return n > 0 && n <= 256 &&
         strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

#define ACME_SH_TOKEN                                                                       \
  "root=$(cat \"$RD_P/webroot\")\n"                                                         \
  "token=$(cat \"$RD_P/token\")\n"                                                          \
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
