/* posix_plugin.h — the posix plugin's step kinds and descriptor. */
#ifndef RENEWD_POSIX_PLUGIN_H
#define RENEWD_POSIX_PLUGIN_H
#include "renewd/plugin.h"

extern const rd_step_kind posix_kind_inventory;
extern const rd_step_kind posix_kind_install;
extern const rd_step_kind posix_kind_key_acl;
extern const rd_step_kind posix_kind_prune;
extern const rd_step_kind posix_kind_config_thumbprint;
extern const rd_step_kind posix_kind_service;
extern const rd_step_kind posix_kind_exec;
extern const rd_step_kind posix_kind_doctor; /* renewd doctor only */

/* The descriptor (also what renewd_plugin_v1 returns, see entry.c). */
const rd_plugin *posix_plugin(void);

#endif
