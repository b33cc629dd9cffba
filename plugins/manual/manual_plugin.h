/* manual_plugin.h — the manual plugin: the issuer of certificates renewd
 * cannot renew itself (an IIS SSL certificate enrolled by hand, the Intune
 * Certificate Connector's identity certificate). */
#ifndef RENEWD_MANUAL_PLUGIN_H
#define RENEWD_MANUAL_PLUGIN_H
#include "renewd/plugin.h"

extern const rd_step_kind manual_kind_issue;

/* The descriptor (also what renewd_plugin_v1 returns, see entry.c). */
const rd_plugin *manual_plugin(void);

#endif
