/* ps_text.h — the PowerShell text renewd sends for a Windows script
 * (remote.c's prelude + lib + script), decoded back from -EncodedCommand
 * (or the -File upload), for the Pester tests of tests/windows/pester/
 * (they read $env:RENEWD_PS_BUILT/<name>.ps1). */
#ifndef RENEWD_PS_TEXT_H
#define RENEWD_PS_TEXT_H
#include <jansson.h>

#include "renewd/plugin.h"

/* The text of sc built with params: malloc'd, ASCII; NULL (and a sentence
 * in err) when it cannot be built or is not ASCII. */
char *ps_text_of(const rd_script *sc, const json_t *params, char *err, size_t errlen);
/* ps_text_of() written to DIR/<sc->name>.ps1 (DIR made when missing); 0 or -1. */
int ps_text_write(const char *dir, const rd_script *sc, const json_t *params, char *err,
                  size_t errlen);

#endif
