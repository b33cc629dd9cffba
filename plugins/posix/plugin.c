/* plugin.c — the posix plugin's descriptor: its step kinds. */
#include "posix_plugin.h"

static const rd_step_kind *const posix_kinds[] = {
    &posix_kind_inventory, &posix_kind_install, &posix_kind_key_acl,
    &posix_kind_prune,     &posix_kind_config_thumbprint, &posix_kind_service,
    &posix_kind_exec,      &posix_kind_doctor, NULL};

static const rd_plugin posix_descriptor = RD_PLUGIN_INIT("posix", "0.1.0", posix_kinds);

const rd_plugin *posix_plugin(void) { return &posix_descriptor; }
