/* httpcatch.c — see httpcatch.h. */
#include "httpcatch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve_one(hc_server *s, int c) {
  char buf[8192];
  size_t len = 0;
  struct pollfd p = {c, POLLIN, 0};
  while (len < sizeof buf - 1 && poll(&p, 1, 2000) > 0) {
    ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    const char *cl = strcasestr(buf, "Content-Length: ");
    if (end && (!cl || (size_t)(buf + len - (end + 4)) >= (size_t)atol(cl + 16)))
      break;
  }
  buf[len] = 0;
  pthread_mutex_lock(&s->mu);
  if (s->nrequests < 8)
    memcpy(s->requests[s->nrequests++], buf, len + 1);
  pthread_mutex_unlock(&s->mu);
  static const char ans[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
  if (write(c, ans, sizeof ans - 1) < 0)
    perror("httpcatch: write");
  close(c);
}

static void *run(void *arg) {
  hc_server *s = arg;
  while (!s->stop) {
    struct pollfd p = {s->fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    int c = accept(s->fd, NULL, NULL);
    if (c >= 0)
      serve_one(s, c);
  }
  return NULL;
}

int hc_start(hc_server *s) {
  struct sockaddr_in a = {0};
  socklen_t al = sizeof a;
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) ||
      listen(s->fd, 8) || getsockname(s->fd, (struct sockaddr *)&a, &al))
    return -1;
  s->port = ntohs(a.sin_port);
  return pthread_create(&s->thread, NULL, run, s) ? -1 : 0;
}

void hc_stop(hc_server *s) {
  s->stop = 1;
  pthread_join(s->thread, NULL);
  close(s->fd);
  pthread_mutex_destroy(&s->mu);
}

int hc_count(hc_server *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->nrequests;
  pthread_mutex_unlock(&s->mu);
  return n;
}
