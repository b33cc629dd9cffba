/* global.c — see global.h. */
#include "transport/global.h"

#include <curl/curl.h>
#include <libssh2.h>

#include "base/err.h"

int rd_transport_global_init(void) {
  if (libssh2_init(0))
    return RD_ECRYPTO;
  if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
    libssh2_exit();
    return RD_ENOMEM;
  }
  return 0;
}

void rd_transport_global_cleanup(void) {
  curl_global_cleanup();
  libssh2_exit();
}
