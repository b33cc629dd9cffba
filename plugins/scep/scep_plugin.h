/* scep_plugin.h — the SCEP plugin's step kinds and descriptor. */
#ifndef RENEWD_SCEP_PLUGIN_H
#define RENEWD_SCEP_PLUGIN_H
#include "renewd/plugin.h"

extern const rd_step_kind scep_kind_issue;
const rd_plugin *scep_plugin(void);

#endif
