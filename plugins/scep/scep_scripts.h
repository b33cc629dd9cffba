/* scep_scripts.h — constant target-side scripts of the SCEP issuer. */
#ifndef RENEWD_SCEP_SCRIPTS_H
#define RENEWD_SCEP_SCRIPTS_H
#include "renewd/plugin.h"

extern const rd_script scep_script_selfsign;
extern const rd_script scep_script_decrypt;

#endif
