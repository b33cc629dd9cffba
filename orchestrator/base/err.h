/* err.h — error names and messages for the RD_E* codes of renewd/plugin.h. */
#ifndef RENEWD_ERR_H
#define RENEWD_ERR_H
#include <stddef.h>
#include "renewd/plugin.h"

/* Message for an RD_E* code ("timed out"); "unknown error" otherwise. */
const char *rd_strerror(int err);
/* Symbolic name ("RD_ETIMEDOUT"); "RD_E?" for unknown codes. */
const char *rd_errname(int err);

/* snprintf into a fixed buffer, always terminated; returns buf. */
char *rd_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
