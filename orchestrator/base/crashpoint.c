/* crashpoint.c — RENEWD_CRASH_AT / RENEWD_CRASH_LOG (see crashpoint.h). */
#include "base/crashpoint.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CP_NAMES 64 /* distinct point names counted for the log */

static pthread_once_t cp_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t cp_lock = PTHREAD_MUTEX_INITIALIZER;
static int cp_armed;            /* either variable is set */
static long cp_commit_at;       /* commit:N, 0 when unset */
static char cp_point[256];      /* point:NAME, "" when unset */
static long cp_point_at;        /* its N */
static long cp_commits, cp_point_seen;
static int cp_log_fd = -1;
static struct { char name[192]; long n; } cp_names[CP_NAMES];

static void cp_init(void) {
  const char *at = getenv("RENEWD_CRASH_AT"), *log = getenv("RENEWD_CRASH_LOG");
  if (log && *log)
    cp_log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (at && !strncmp(at, "commit:", 7)) {
    cp_commit_at = strtol(at + 7, NULL, 10);
  } else if (at && !strncmp(at, "point:", 6)) {
    const char *name = at + 6, *colon = strrchr(name, ':');
    size_t n = colon ? (size_t)(colon - name) : strlen(name);
    if (n < sizeof cp_point) {
      memcpy(cp_point, name, n);
      cp_point[n] = 0;
      cp_point_at = colon ? strtol(colon + 1, NULL, 10) : 1;
    }
  }
  cp_armed = cp_log_fd >= 0 || cp_commit_at > 0 || (cp_point[0] && cp_point_at > 0);
}

/* Write a whole line to fd (unbuffered: it must survive the kill). */
static void cp_write(int fd, const char *line) {
  size_t len = strlen(line), off = 0;
  while (fd >= 0 && off < len) {
    ssize_t w = write(fd, line + off, len - off);
    if (w <= 0)
      return;
    off += (size_t)w;
  }
}

static void cp_die(const char *what) {
  char line[320];
  snprintf(line, sizeof line, "renewd: crash point: %.*s (RENEWD_CRASH_AT)\n",
           (int)strcspn(what, "\n"), what);
  cp_write(2, line);
  raise(SIGKILL);
  _exit(137); /* not reached */
}

/* How many times NAME has been reached, this time included. */
static long cp_count(const char *name) {
  for (int i = 0; i < CP_NAMES; i++) {
    if (!cp_names[i].name[0])
      snprintf(cp_names[i].name, sizeof cp_names[i].name, "%s", name);
    if (!strcmp(cp_names[i].name, name))
      return ++cp_names[i].n;
  }
  return 0; /* more names than the table holds: not counted */
}

void rd_crashpoint_commit(void) {
  char line[64];
  pthread_once(&cp_once, cp_init);
  if (!cp_armed)
    return;
  pthread_mutex_lock(&cp_lock);
  long n = ++cp_commits;
  snprintf(line, sizeof line, "commit %ld\n", n);
  cp_write(cp_log_fd, line);
  pthread_mutex_unlock(&cp_lock);
  if (n == cp_commit_at)
    cp_die(line);
}

void rd_crashpoint(const char *fmt, ...) {
  char name[192], line[256];
  va_list ap;
  pthread_once(&cp_once, cp_init);
  if (!cp_armed)
    return;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  for (char *p = name; *p; p++) /* one token per line in the log */
    if (*p == ' ' || *p == '\n' || *p == '\t')
      *p = '_';
  size_t pl = strlen(cp_point);
  int match = pl && !strncmp(name, cp_point, pl) && (name[pl] == 0 || name[pl] == '/');
  pthread_mutex_lock(&cp_lock);
  snprintf(line, sizeof line, "point %s %ld\n", name, cp_count(name));
  cp_write(cp_log_fd, line);
  long hit = match ? ++cp_point_seen : 0;
  pthread_mutex_unlock(&cp_lock);
  if (match && hit == cp_point_at)
    cp_die(line);
}
