/* plugin.c — the windows plugin's descriptor: its step kinds. */
#include "windows_plugin.h"

static const rd_step_kind *const windows_kinds[] = {
    &windows_kind_inventory,     &adcs_kind_issue,
    &windows_kind_install,       &windows_kind_key_acl,
    &windows_kind_prune_duplicates, &windows_kind_registry_thumbprint,
    &windows_kind_service,       &windows_kind_event_verify,
    &windows_kind_iis_binding,   &windows_kind_ndes_getcacaps,
    &windows_kind_log_verify,    &windows_kind_doctor,
    NULL};

static const rd_plugin windows_descriptor = RD_PLUGIN_INIT("windows", "0.1.0", windows_kinds);

const rd_plugin *windows_plugin(void) { return &windows_descriptor; }

const rd_script *const *const windows_script_sets[] = {
    windows_store_scripts,   windows_adcs_scripts,    windows_install_scripts,
    windows_key_acl_scripts, windows_prune_scripts,   windows_registry_scripts,
    windows_service_scripts, windows_event_scripts,   windows_iis_scripts,
    windows_getcacaps_scripts, windows_log_scripts, windows_doctor_scripts, NULL};
