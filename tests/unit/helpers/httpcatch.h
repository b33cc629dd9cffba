/* httpcatch.h — a one-thread HTTP server for tests: listens on 127.0.0.1
 * (ephemeral port), answers every request with 204 and keeps their raw
 * text (headers + body) until stopped. */
#ifndef RENEWD_HTTPCATCH_H
#define RENEWD_HTTPCATCH_H
#include <pthread.h>
#include <stddef.h>

typedef struct hc_server {
  int fd, port, stop;
  pthread_t thread;
  pthread_mutex_t mu;
  char requests[8][8192];
  int nrequests;
} hc_server;

int hc_start(hc_server *s);          /* 0 or -1 */
void hc_stop(hc_server *s);          /* joins the thread */
int hc_count(hc_server *s);

#endif
