/* windows_store.h — the certificates of a Windows store as the orchestrator
 * sees them, and which of them a runbook means.
 *
 * store_list.ps1 only lists (DER, private key whereabouts, the formatted
 * v2 template extension); everything else is decided here, in C: each DER
 * is parsed with host->cert_facts (OpenSSL decodes the raw template
 * extensions: the v1 name in 1.3.6.1.4.1.311.20.2, the v2 OID in
 * 1.3.6.1.4.1.311.21.7), matched against the selector, and the best match
 * chosen. */
#ifndef RENEWD_WINDOWS_STORE_H
#define RENEWD_WINDOWS_STORE_H
#include <time.h>
#include <jansson.h>

#include "renewd/plugin.h"
#include "windows_util.h"

extern const rd_script win_store_list_script;

/* Arguments of store_list.ps1: the store, and the thumbprints to list
 * (NULL/0: all). */
json_t *win_store_args(const char *store, const char *const *thumbs, size_t n);

/* One record per listed certificate: cert_facts of its DER plus
 * "thumbprint", "has_private_key", "key_provider" ("CAPI"/"CNG"/null),
 * "key_container" (the unique name), "key_path", "key_exists" (decided by
 * win_keyfile_decide), "key_note" (why no key file, when it has a key),
 * "in_use" (what serves it: HTTP.sys bindings, the RDP listener),
 * "friendly_name" and
 * "template_hint". Entries that do not parse are counted in *bad (may be
 * NULL) and left out. A new array (never NULL unless out of memory). */
json_t *win_store_records(const rd_host_api *h, const json_t *out, int *bad);

/* The record with this (uppercase) thumbprint, or NULL. Borrowed. */
const json_t *win_store_find(const json_t *recs, const char *thumb);

/* Template name test: the v1 name in the DER; or, for a v2 template (only
 * an OID in the DER), the display name Windows formats in front of that
 * same OID in template_hint ("Template=Name(1.3.6...)"); compared without
 * case and spaces, so "ConfigMgrWebServerCertificates" also matches the
 * display name "ConfigMgr Web Server Certificates". */
int win_template_name_matches(const json_t *rec, const char *name);
/* Does a record match the selector (every key given must match)? */
int win_selector_matches(const win_selector *sel, const json_t *rec);
/* 1 when both carry the same template (v2 OID if the reference has one,
 * else v1 name), 0 when not, -1 when the reference carries none. */
int win_same_template(const json_t *ref, const json_t *rec);

/* The best of the matching records — valid at now, then with a private
 * key, then the newest not_before, then the latest not_after: its index in
 * recs, or -1 when none matches. *dups (a new array, when dups is not
 * NULL) gets the other matching records. */
int win_select(const win_selector *sel, const json_t *recs, time_t now, json_t **dups);

/* {"thumbprint","subject","serial","not_before","not_after",
 *  "has_private_key"} of a record, for facts and reports. New. */
json_t *win_record_brief(const json_t *rec);

#endif
