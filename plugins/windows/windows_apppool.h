/* windows_apppool.h — windows.key_acl's "app_pool" check: the account that
 * is to read the key must be the one the IIS application pool runs as
 * (NDES: the SCEP pool; a key readable by another account makes NDES fail
 * with 0x80070057, seed 004). key_acl_pool.ps1 reports the pool's identity
 * and both SIDs; the comparison is here. */
#ifndef RENEWD_WINDOWS_APPPOOL_H
#define RENEWD_WINDOWS_APPPOOL_H
#include <stddef.h>
#include <jansson.h>

#include "renewd/plugin.h"

extern const rd_script win_key_acl_pool_script;

/* key_acl_pool.ps1's answer for account and pool: 0 when the pool runs as
 * that account, else RD_ECONFIG (or RD_ENOTFOUND: no such pool) with one
 * sentence in msg. */
int win_apppool_check(const json_t *out, const char *account, const char *pool, char *msg,
                      size_t msglen);

#endif
