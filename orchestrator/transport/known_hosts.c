/* known_hosts.c — the known_hosts file API (see known_hosts.h) on the same
 * libssh2 matching as the connect-time check (ssh_knownhosts.c). */
#include "transport/known_hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/ssh_int.h"

#define KH_MAX ((size_t)64 << 20)

int rd_known_hosts_check(const char *path, const rd_kh_host *h, const rd_kh_key *k,
                         rd_kh_verdict *v, char *expected_fp, size_t fplen, char *msg,
                         size_t msglen) {
  struct stat st;
  LIBSSH2_SESSION *holder;
  LIBSSH2_KNOWNHOSTS *kh;
  int present;
  if (!path || !h || !h->address || !k || !k->blob || !v)
    return RD_EINVAL;
  present = stat(path, &st) == 0;
  if (!present && errno != ENOENT) {
    rd_fmt(msg, msglen, "cannot read known_hosts %s: %s", path, strerror(errno));
    return RD_ECONFIG;
  }
  if (!(holder = libssh2_session_init())) {
    rd_fmt(msg, msglen, "out of memory");
    return RD_ENOMEM;
  }
  if (!(kh = rdssh_kh_read(holder, path, present, msg, msglen))) {
    libssh2_session_free(holder);
    return RD_ECONFIG;
  }
  *v = rdssh_kh_match(kh, h, k, expected_fp, fplen);
  libssh2_knownhost_free(kh);
  libssh2_session_free(holder);
  return 0;
}

/* Whether one line of the file is an entry for the host, as libssh2 reads
 * it; comments, blank lines and lines libssh2 cannot parse are not. The line
 * goes to libssh2 as a NUL-terminated copy: its readline looks at the byte
 * after the length it is given, and a '\n' there made it count a key's
 * length below zero (tests/fuzz/fuzz_known_hosts). */
static int line_is_host(LIBSSH2_SESSION *holder, const char *line, size_t len,
                        const rd_kh_host *h) {
  LIBSSH2_KNOWNHOSTS *one;
  char *copy;
  int hit = 0;
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (!len || rdssh_kh_line_useless(line, len) || !(copy = malloc(len + 1)))
    return 0;
  memcpy(copy, line, len); /* not strndup: the line may hold a NUL */
  copy[len] = '\0';
  if ((one = libssh2_knownhost_init(holder))) {
    if (libssh2_knownhost_readline(one, copy, len, LIBSSH2_KNOWNHOST_FILE_OPENSSH) == 0)
      hit = rdssh_kh_has_host(one, h);
    libssh2_knownhost_free(one);
  }
  free(copy);
  return hit;
}

/* The new entry: "ADDR TYPE BASE64\n" or "[ADDR]:PORT TYPE BASE64\n". */
static char *entry_line(const rd_kh_host *h, const rd_kh_key *k) {
  char *b64 = rd_base64_encode(k->blob, k->len, NULL), *line;
  size_t n;
  if (!b64)
    return NULL;
  n = strlen(h->address) + strlen(k->type) + strlen(b64) + 32;
  if ((line = malloc(n))) {
    if (h->port > 0 && h->port != 22)
      rd_fmt(line, n, "[%s]:%d %s %s\n", h->address, h->port, k->type, b64);
    else
      rd_fmt(line, n, "%s %s %s\n", h->address, k->type, b64);
  }
  free(b64);
  return line;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* old (len bytes) without the host's lines when drop_host, then entry. */
static int write_entries(int fd, const char *old, size_t len, int drop_host, const rd_kh_host *h,
                         const char *entry) {
  LIBSSH2_SESSION *holder = drop_host ? libssh2_session_init() : NULL;
  int rc = 0;
  if (drop_host && !holder)
    return RD_ENOMEM;
  for (size_t off = 0; off < len && !rc;) {
    const char *nl = memchr(old + off, '\n', len - off);
    size_t n = nl ? (size_t)(nl - (old + off)) + 1 : len - off;
    if (!(drop_host && line_is_host(holder, old + off, n, h)) &&
        (write_all(fd, old + off, n) || (!nl && write_all(fd, "\n", 1))))
      rc = RD_EIO;
    off += n;
  }
  if (holder)
    libssh2_session_free(holder);
  if (!rc && write_all(fd, entry, strlen(entry)))
    rc = RD_EIO;
  return rc;
}

static void fsync_dir(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  int fd;
  if (!slash)
    rd_fmt(dir, sizeof dir, ".");
  else
    rd_fmt(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
  if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    fsync(fd);
    close(fd);
  }
}

int rd_known_hosts_store(const char *path, const rd_kh_host *h, const rd_kh_key *k, int replace,
                         char *msg, size_t msglen) {
  char *old = NULL, *entry = NULL, tmp[4096];
  size_t len = 0;
  struct stat st;
  int present, fd = -1, rc, e = 0;
  if (!path || !h || !h->address || !k || !k->type || !k->blob)
    return RD_EINVAL;
  present = stat(path, &st) == 0;
  rc = present ? rd_read_file(path, KH_MAX, &old, &len) : errno == ENOENT ? 0 : RD_EIO;
  if (rc) {
    e = errno;
    goto out;
  }
  if (!(entry = entry_line(h, k))) {
    rc = RD_ENOMEM;
    goto out;
  }
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.renewd-XXXXXX", path) >= sizeof tmp ||
      (fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
    e = errno;
    rc = RD_EIO;
    goto out;
  }
  rc = write_entries(fd, old, len, replace, h, entry);
  e = errno;
  if (!rc && (fchmod(fd, present ? st.st_mode & 07777 : 0644) || fsync(fd)))
    rc = RD_EIO, e = errno;
  if (!rc && present && fchown(fd, st.st_uid, st.st_gid) && errno != EPERM)
    rc = RD_EIO, e = errno;
  if (close(fd) && !rc)
    rc = RD_EIO, e = errno;
  fd = -1;
  if (!rc && rename(tmp, path))
    rc = RD_EIO, e = errno;
  if (rc)
    unlink(tmp);
  else
    fsync_dir(path);
out:
  if (rc)
    rd_fmt(msg, msglen, "known_hosts %s: cannot rewrite it: %s", path,
           rc == RD_ENOMEM ? "out of memory" : e ? strerror(e) : rd_strerror(rc));
  free(old);
  free(entry);
  return rc;
}

int rd_known_hosts_parse_key(const char *key_line, char *type, size_t typelen,
                             unsigned char **blob, size_t *len) {
  const char *p = key_line, *t, *b;
  size_t tl, bl;
  if (!key_line || !type || !typelen || !blob || !len)
    return RD_EINVAL;
  p += strcspn(p, " \t"); /* the hosts */
  t = p + strspn(p, " \t");
  tl = strcspn(t, " \t\r\n");
  b = t + tl + strspn(t + tl, " \t");
  bl = strcspn(b, " \t\r\n");
  if (!tl || !bl || tl >= typelen)
    return RD_EINVAL;
  memcpy(type, t, tl);
  type[tl] = 0;
  return rd_base64_decode(b, bl, blob, len) ? RD_EINVAL : 0;
}
