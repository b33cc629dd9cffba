/* known_hosts.h — the one reading of an OpenSSH known_hosts file: libssh2's
 * knownhost API, the same check ssh*.c makes at connect time (hashed
 * entries, [host]:port, trailing comments and several names per line are
 * libssh2's to understand, not ours). `renewd hosts trust` uses it to say
 * whether a key is already trusted and to record a new one.
 *
 * Matching: the address is looked up first, then the target's name (when it
 * differs). As with ssh, a port other than 22 is looked up as "[addr]:port"
 * only (a plain "addr" entry is port 22's). Only an entry with the same key
 * type as the presented key can match or conflict. */
#ifndef RENEWD_KNOWN_HOSTS_H
#define RENEWD_KNOWN_HOSTS_H
#include <stddef.h>

typedef enum rd_kh_verdict {
  RD_KH_TRUSTED = 0, /* an entry for the host has this key */
  RD_KH_UNKNOWN,     /* no entry for the host (with this key type) */
  RD_KH_CHANGED      /* an entry for the host has another key of this type */
} rd_kh_verdict;

/* The host that presents a key: the address connected to, its port (0 or
 * 22: the default), and the target's name (NULL: only the address). */
typedef struct rd_kh_host {
  const char *address;
  const char *name;
  int port;
} rd_kh_host;

/* A key as the server presents it: its SSH type name and public key blob. */
typedef struct rd_kh_key {
  const char *type;          /* "ssh-ed25519", "ecdsa-sha2-nistp256", ... */
  const unsigned char *blob; /* the SSH wire-format public key */
  size_t len;
} rd_kh_key;

/* Check key against the file at path (a missing file knows no host).
 * Sets *v; on RD_KH_CHANGED, expected_fp (if not NULL) receives the
 * recorded key's "SHA256:..." fingerprint. Returns 0, or RD_ECONFIG with msg
 * ("cannot read known_hosts PATH: ...") when the file cannot be read or
 * parsed. */
int rd_known_hosts_check(const char *path, const rd_kh_host *h, const rd_kh_key *k,
                         rd_kh_verdict *v, char *expected_fp, size_t fplen, char *msg,
                         size_t msglen);

/* Record key for the host: with replace, every entry for the host (its
 * address or name, hashed or not, any key type) is removed first; every
 * other line (other hosts, comments, lines libssh2 cannot parse) is kept
 * byte for byte. The new entry is "ADDR TYPE BASE64" ("[ADDR]:PORT ..." for
 * a port other than 22). The file is rewritten atomically: a temporary file
 * in the same directory, fsync'd, renamed over it (mode and owner kept; a
 * new file gets 0644), then the directory fsync'd. Returns 0, or RD_EIO /
 * RD_ENOMEM with msg ("known_hosts PATH: cannot rewrite it: ..."). */
int rd_known_hosts_store(const char *path, const rd_kh_host *h, const rd_kh_key *k, int replace,
                         char *msg, size_t msglen);

/* Split a key line as rd_ssh_fetch_hostkey reports it ("HOSTS TYPE BASE64
 * [COMMENT]") into type (copied into type, typelen bytes) and a malloc'd
 * blob. Returns 0 or RD_EINVAL / RD_ENOMEM. */
int rd_known_hosts_parse_key(const char *key_line, char *type, size_t typelen,
                             unsigned char **blob, size_t *len);

#endif
