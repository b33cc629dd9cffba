/* ssh_knownhosts.c — the one host key check (libssh2's knownhost API):
 * at connect time against a cached parse of the file, and for `renewd hosts
 * trust` through known_hosts.h. */
#include "transport/ssh_int.h"
#include "transport/known_hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"

/* ------------------------------------------------------------------ host keys */

int rdssh_fingerprint(const unsigned char *blob, size_t len, char *out, size_t outlen) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL))
    return RD_ECRYPTO;
  char *b = rd_base64_encode(md, mdlen, NULL);
  if (!b)
    return RD_ENOMEM;
  size_t n = strlen(b);
  while (n && b[n - 1] == '=')
    b[--n] = 0;
  rd_fmt(out, outlen, "SHA256:%s", b);
  free(b);
  return 0;
}

/* The key types libssh2 knows: its host key type, the SSH name, its
 * knownhost type bits. */
static const struct keytype {
  int hostkey;
  const char *name;
  int mask;
} KEYTYPES[] = {
    {LIBSSH2_HOSTKEY_TYPE_RSA, "ssh-rsa", LIBSSH2_KNOWNHOST_KEY_SSHRSA},
    {LIBSSH2_HOSTKEY_TYPE_DSS, "ssh-dss", LIBSSH2_KNOWNHOST_KEY_SSHDSS},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, "ecdsa-sha2-nistp256", LIBSSH2_KNOWNHOST_KEY_ECDSA_256},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, "ecdsa-sha2-nistp384", LIBSSH2_KNOWNHOST_KEY_ECDSA_384},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, "ecdsa-sha2-nistp521", LIBSSH2_KNOWNHOST_KEY_ECDSA_521},
    {LIBSSH2_HOSTKEY_TYPE_ED25519, "ssh-ed25519", LIBSSH2_KNOWNHOST_KEY_ED25519},
};
#define NKEYTYPES (sizeof KEYTYPES / sizeof *KEYTYPES)

const char *rdssh_key_type_name(int t) {
  for (size_t i = 0; i < NKEYTYPES; i++)
    if (KEYTYPES[i].hostkey == t)
      return KEYTYPES[i].name;
  return NULL;
}

static int key_type_mask(const char *name) {
  for (size_t i = 0; name && i < NKEYTYPES; i++)
    if (!strcmp(KEYTYPES[i].name, name))
      return KEYTYPES[i].mask;
  return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/* One name as OpenSSH writes it in known_hosts: "[name]:port" for a port
 * other than 22. (libssh2_knownhost_checkp with a port would also accept a
 * plain "name" entry, one for port 22, for any port: not what ssh does.) */
static int check_name(LIBSSH2_KNOWNHOSTS *kh, const char *name, int port, const rd_kh_key *k,
                      int mask, struct libssh2_knownhost **found) {
  char hp[512];
  if (port > 0 && port != 22) {
    rd_fmt(hp, sizeof hp, "[%s]:%d", name, port);
    name = hp;
  }
  return libssh2_knownhost_checkp(kh, name, -1, (const char *)k->blob, k->len, mask, found);
}

/* The one check (see known_hosts.h): the address, then the name. */
rd_kh_verdict rdssh_kh_match(LIBSSH2_KNOWNHOSTS *kh, const rd_kh_host *h, const rd_kh_key *k,
                             char *expected_fp, size_t fplen) {
  struct libssh2_knownhost *found = NULL;
  int mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | key_type_mask(k->type);
  int r = check_name(kh, h->address, h->port, k, mask, &found);
  if (r == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND && h->name && strcmp(h->name, h->address))
    r = check_name(kh, h->name, h->port, k, mask, &found);
  if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH)
    return RD_KH_TRUSTED;
  if (r != LIBSSH2_KNOWNHOST_CHECK_MISMATCH || !found)
    return RD_KH_UNKNOWN;
  if (expected_fp && fplen) {
    unsigned char *blob = NULL;
    size_t blen = 0;
    rd_fmt(expected_fp, fplen, "(unreadable key)");
    if (found->key && rd_base64_decode(found->key, strlen(found->key), &blob, &blen) == 0) {
      rdssh_fingerprint(blob, blen, expected_fp, fplen);
      free(blob);
    }
  }
  return RD_KH_CHANGED;
}

/* Whether any entry of kh is for the host, whatever its key. */
int rdssh_kh_has_host(LIBSSH2_KNOWNHOSTS *kh, const rd_kh_host *h) {
  static const unsigned char probe[1] = {0};
  for (size_t i = 0; i < NKEYTYPES; i++) {
    rd_kh_key k = {KEYTYPES[i].name, probe, sizeof probe};
    if (rdssh_kh_match(kh, h, &k, NULL, 0) != RD_KH_UNKNOWN)
      return 1;
  }
  return 0;
}

/* Read path into a new collection of holder ("missing" is empty). */
LIBSSH2_KNOWNHOSTS *rdssh_kh_read(LIBSSH2_SESSION *holder, const char *path, int present,
                                  char *msg, size_t msglen) {
  LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(holder);
  if (!kh) {
    rd_fmt(msg, msglen, "out of memory");
    return NULL;
  }
  if (present && libssh2_knownhost_readfile(kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    rd_fmt(msg, msglen, "cannot read known_hosts %s: %s", path, rdssh_sess_err(holder));
    libssh2_knownhost_free(kh);
    return NULL;
  }
  return kh;
}

static void kh_drop(khfile *f) {
  if (f->kh)
    libssh2_knownhost_free(f->kh);
  f->kh = NULL;
}

void rdssh_khs_free(rd_ssh *m) {
  while (m->khs) {
    khfile *f = m->khs;
    m->khs = f->next;
    kh_drop(f);
    if (f->holder)
      libssh2_session_free(f->holder);
    free(f->path);
    free(f);
  }
}

/* The parsed known_hosts for path (re-read if the file changed); NULL with
 * msg set when it cannot be read. */
static LIBSSH2_KNOWNHOSTS *kh_get(rd_ssh *m, const char *path, char *msg, size_t msglen) {
  khfile *f;
  struct stat st;
  int present = stat(path, &st) == 0;
  if (!present && errno != ENOENT) {
    rd_fmt(msg, msglen, "cannot read known_hosts %s: %s", path, strerror(errno));
    return NULL;
  }
  for (f = m->khs; f; f = f->next)
    if (!strcmp(f->path, path))
      break;
  if (!f) {
    if (!(f = calloc(1, sizeof *f)) || !(f->path = strdup(path)) ||
        !(f->holder = libssh2_session_init())) {
      if (f)
        free(f->path);
      free(f);
      rd_fmt(msg, msglen, "out of memory");
      return NULL;
    }
    f->next = m->khs;
    m->khs = f;
  }
  if (f->kh && f->present == present &&
      (!present || (f->st.st_ino == st.st_ino && f->st.st_size == st.st_size &&
                    f->st.st_mtim.tv_sec == st.st_mtim.tv_sec &&
                    f->st.st_mtim.tv_nsec == st.st_mtim.tv_nsec)))
    return f->kh;
  kh_drop(f);
  if (!(f->kh = rdssh_kh_read(f->holder, path, present, msg, msglen)))
    return NULL;
  f->present = present;
  if (present)
    f->st = st;
  return f->kh;
}

/* 0 when the presented key is the one known_hosts has for the target. */
int rdssh_hostkey_check(conn *c, char *msg, size_t msglen) {
  size_t klen = 0;
  int ktype = 0;
  const char *key = libssh2_session_hostkey(c->s, &klen, &ktype);
  char fp[128], efp[128] = "", why[400];
  LIBSSH2_KNOWNHOSTS *kh;
  if (!key || rdssh_fingerprint((const unsigned char *)key, klen, fp, sizeof fp)) {
    rd_fmt(msg, msglen, "host %s: ssh connect %s: the server sent no usable host key", c->t->name,
           c->where);
    return RD_EHOSTKEY;
  }
  if (!(kh = kh_get(c->m, c->t->known_hosts, why, sizeof why))) {
    rd_fmt(msg, msglen, "host %s: %s", c->t->name, why);
    return RD_ECONFIG;
  }
  rd_kh_host h = {c->t->address, c->t->name, c->t->port};
  rd_kh_key k = {rdssh_key_type_name(ktype), (const unsigned char *)key, klen};
  switch (rdssh_kh_match(kh, &h, &k, efp, sizeof efp)) {
  case RD_KH_TRUSTED:
    return 0;
  case RD_KH_CHANGED:
    rd_fmt(msg, msglen,
           "host %s: host key for %s has CHANGED: %s expects %s, the server presented %s; "
           "if the change is expected, run `renewd hosts trust %s` after checking the "
           "fingerprint",
           c->t->name, c->where, c->t->known_hosts, efp, fp, c->t->name);
    return RD_EHOSTKEY;
  default:
    rd_fmt(msg, msglen,
           "host %s: host key %s is not in %s; run `renewd hosts trust %s` after checking "
           "the fingerprint",
           c->t->name, fp, c->t->known_hosts, c->t->name);
    return RD_EHOSTKEY;
  }
}
