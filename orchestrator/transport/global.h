/* global.h — the process-wide set-up of the transport libraries.
 *
 * libssh2_init and curl_global_init are not thread-safe and must run once,
 * before any thread exists: the program's main (and each unit test's main)
 * calls rd_transport_global_init() first and rd_transport_global_cleanup()
 * last. rd_ssh_new and rd_http_new no longer do it. */
#ifndef RENEWD_TRANSPORT_GLOBAL_H
#define RENEWD_TRANSPORT_GLOBAL_H

/* 0, or RD_ECRYPTO (libssh2) / RD_ENOMEM (libcurl); nothing is left
 * initialised on failure. */
int rd_transport_global_init(void);
void rd_transport_global_cleanup(void);

#endif
