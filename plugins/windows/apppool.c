/* apppool.c — see windows_apppool.h. */
#include "windows_apppool.h"

#include <stdio.h>
#include <strings.h>

#include "windows_util.h"

const rd_script win_key_acl_pool_script =
    WIN_SCRIPT("windows.key_acl.pool", 0, WIN_PS_KEY_ACL_POOL);

int win_apppool_check(const json_t *out, const char *account, const char *pool, char *msg,
                      size_t msglen) {
  const char *sid = win_str(out, "sid"), *asid = win_str(out, "account_sid");
  const char *who = win_str(out, "user") ? win_str(out, "user") : win_out(out, "identity_type");
  if (!win_bool(out, "exists")) {
    snprintf(msg, msglen, "IIS application pool '%s' does not exist on the target: name the pool "
             "NDES runs in (\"SCEP\" by default)", pool);
    return RD_ENOTFOUND;
  }
  if (!sid) {
    snprintf(msg, msglen, "IIS application pool '%s' runs as %s, which does not resolve to a SID "
             "on the target: fix the pool's identity", pool, who);
    return RD_ECONFIG;
  }
  if (!asid || strcasecmp(sid, asid)) {
    snprintf(msg, msglen, "IIS application pool '%s' runs as %s (%s), not as %s (%s): NDES would "
             "not read its RA key (0x80070057); set \"account\" to the pool's identity, or change "
             "the pool's identity", pool, who, sid, account, asid ? asid : "?");
    return RD_ECONFIG;
  }
  snprintf(msg, msglen, "IIS application pool '%s' runs as %s", pool, who);
  return 0;
}
