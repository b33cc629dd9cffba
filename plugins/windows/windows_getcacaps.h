/* windows_getcacaps.h — the windows.ndes_getcacaps step's decisions, for
 * the unit tests. */
#ifndef RENEWD_WINDOWS_GETCACAPS_H
#define RENEWD_WINDOWS_GETCACAPS_H
#include <stddef.h>
#include <jansson.h>

/* 1 when u is http(s)://<host[:port]>/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps */
int win_getcacaps_url_ok(const char *u);
/* ndes_getcacaps.ps1's answer -> *status (0 or RD_EVERIFY) and one sentence. */
void win_getcacaps_judge(const json_t *out, int *status, char *msg, size_t msglen);

#endif
