/* tls_plugin.h — the tls plugin's step kinds and descriptor. */
#ifndef RENEWD_TLS_PLUGIN_H
#define RENEWD_TLS_PLUGIN_H
#include "renewd/plugin.h"

extern const rd_step_kind tls_kind_verify;

/* The descriptor (also what renewd_plugin_v1 returns, see entry.c). */
const rd_plugin *tls_plugin(void);

#endif
