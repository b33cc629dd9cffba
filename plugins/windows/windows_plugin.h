/* windows_plugin.h — the windows plugin's step kinds and descriptor: the
 * windows.* follow-ups for Windows targets and the adcs.issue issuer (AD CS
 * through certreq on the target). See docs/WINDOWS.md. */
#ifndef RENEWD_WINDOWS_PLUGIN_H
#define RENEWD_WINDOWS_PLUGIN_H
#include "renewd/plugin.h"

extern const rd_step_kind windows_kind_inventory;
extern const rd_step_kind windows_kind_install;
extern const rd_step_kind windows_kind_key_acl;
extern const rd_step_kind windows_kind_prune_duplicates;
extern const rd_step_kind windows_kind_registry_thumbprint;
extern const rd_step_kind windows_kind_service;
extern const rd_step_kind windows_kind_event_verify;
extern const rd_step_kind windows_kind_iis_binding;
extern const rd_step_kind windows_kind_ndes_getcacaps;
extern const rd_step_kind windows_kind_log_verify;
extern const rd_step_kind windows_kind_doctor; /* renewd doctor's own, not a runbook step */
extern const rd_step_kind adcs_kind_issue;

/* The descriptor (also what renewd_plugin_v1 returns, see entry.c). */
const rd_plugin *windows_plugin(void);

/* Every PowerShell script the plugin sends, for the tests that build and
 * parse them all: one NULL-terminated list per source file, and the list
 * of those lists (NULL-terminated). */
extern const rd_script *const windows_store_scripts[];
extern const rd_script *const windows_adcs_scripts[];
extern const rd_script *const windows_install_scripts[];
extern const rd_script *const windows_key_acl_scripts[];
extern const rd_script *const windows_prune_scripts[];
extern const rd_script *const windows_registry_scripts[];
extern const rd_script *const windows_service_scripts[];
extern const rd_script *const windows_event_scripts[];
extern const rd_script *const windows_iis_scripts[];
extern const rd_script *const windows_getcacaps_scripts[];
extern const rd_script *const windows_log_scripts[];
extern const rd_script *const windows_doctor_scripts[];
extern const rd_script *const *const windows_script_sets[];
/* The script the adcs.issue scheduled task runs as SYSTEM: not sent as a
 * remote script but written to the target by adcs.task; no prelude. */
extern const char windows_task_inner_ps[];

#endif
