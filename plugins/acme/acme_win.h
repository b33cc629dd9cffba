/* acme_win.h — acme.issue on a Windows target (acme_win.c): the scripts
 * and the steps that differ from POSIX. Private to plugins/acme. */
#ifndef RENEWD_ACME_WIN_H
#define RENEWD_ACME_WIN_H
#include "acme_flow.h"

extern const rd_script acme_win_script_new, acme_win_script_accept, acme_win_script_http01,
    acme_win_script_dns01, acme_win_script_cleanup;
/* Every Windows script of the plugin, NULL-terminated (tests, --show-scripts). */
extern const rd_script *const acme_win_scripts[];

/* "C:\dir\sub" without "..", quotes, wildcards or control characters. */
int acme_win_path_ok(const char *p);
/* The journaled "staged" value "<16 hex>:<40 hex>" split; 0 or -1. */
int acme_win_staged_split(const char *staged, char nonce[17], char thumb[41]);
/* The new key and CSR by certreq -new (resumed: the journaled request
 * again while it is there); then the flow goes on (acme_key_ready). */
void acme_win_stage(acme_flow *f, int resumed);
/* The CSR certreq made, base64url DER, for finalize. */
const char *acme_win_csr(const acme_flow *f);
/* The challenge's answer in place (add) or away on the Windows target. */
int acme_win_chal(acme_flow *f, int add, const char *dns_value, rd_remote_cb cb, void *arg);
/* The issued chain accepted into the machine store, facts.new_cert; the
 * phase completes from the script's answer. 0 or RD_E* (no completion). */
int acme_win_install(acme_flow *f, const char *chain_pem);
/* rollback: the pending request's key and the work directory removed. */
int acme_win_rollback(rd_step *s, const rd_host_api *h);

#endif
