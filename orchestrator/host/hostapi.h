/* hostapi.h — pieces of the host API that other host API tables (the test
 * doubles) share with the engine's. */
#ifndef RENEWD_HOSTAPI_H
#define RENEWD_HOSTAPI_H
#include <stdarg.h>
#include "renewd/plugin.h"

/* donef for any host API table: "<host>: <message>" through h->done. */
void rd_host_vdonef(const rd_host_api *h, rd_step *s, int status, json_t *result,
                    const char *fmt, va_list ap);

#endif
