/* ssh_knownhosts.c — the one host key check (libssh2's knownhost API):
 * at connect time against a cached parse of the file, and for `renewd hosts
 * trust` through known_hosts.h. */
#include "transport/ssh_int.h"

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

const char *rdssh_key_type_name(int t) {
  switch (t) {
  case LIBSSH2_HOSTKEY_TYPE_RSA:
    return "ssh-rsa";
  case LIBSSH2_HOSTKEY_TYPE_DSS:
    return "ssh-dss";
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
    return "ecdsa-sha2-nistp256";
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
    return "ecdsa-sha2-nistp384";
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
    return "ecdsa-sha2-nistp521";
  case LIBSSH2_HOSTKEY_TYPE_ED25519:
    return "ssh-ed25519";
  default:
    return NULL;
  }
}

static int key_type_mask(int t) {
  switch (t) {
  case LIBSSH2_HOSTKEY_TYPE_RSA:
    return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
  case LIBSSH2_HOSTKEY_TYPE_DSS:
    return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
    return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
    return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
  case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
    return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
  case LIBSSH2_HOSTKEY_TYPE_ED25519:
    return LIBSSH2_KNOWNHOST_KEY_ED25519;
  default:
    return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
  }
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
  if (!(f->kh = libssh2_knownhost_init(f->holder))) {
    rd_fmt(msg, msglen, "out of memory");
    return NULL;
  }
  if (present && libssh2_knownhost_readfile(f->kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    rd_fmt(msg, msglen, "cannot read known_hosts %s: %s", path, rdssh_sess_err(f->holder));
    kh_drop(f);
    return NULL;
  }
  f->present = present;
  if (present)
    f->st = st;
  return f->kh;
}

/* 0 when the presented key is the one known_hosts has for the target. */
int rdssh_hostkey_check(conn *c, char *msg, size_t msglen) {
  size_t klen = 0;
  int ktype = 0, r, port = c->t->port == 22 ? -1 : c->t->port;
  const char *key = libssh2_session_hostkey(c->s, &klen, &ktype);
  char fp[128], efp[128] = "", why[400];
  struct libssh2_knownhost *found = NULL;
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
  int mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | key_type_mask(ktype);
  r = libssh2_knownhost_checkp(kh, c->t->address, port, key, klen, mask, &found);
  if (r == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND && strcmp(c->t->name, c->t->address))
    r = libssh2_knownhost_checkp(kh, c->t->name, port, key, klen, mask, &found);
  if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH)
    return 0;
  if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && found && found->key) {
    unsigned char *blob = NULL;
    size_t blen = 0;
    if (rd_base64_decode(found->key, strlen(found->key), &blob, &blen) == 0) {
      rdssh_fingerprint(blob, blen, efp, sizeof efp);
      free(blob);
    }
    rd_fmt(msg, msglen,
           "host %s: host key for %s has CHANGED: %s expects %s, the server presented %s; "
           "if the change is expected, run `renewd hosts trust %s` after checking the "
           "fingerprint",
           c->t->name, c->where, c->t->known_hosts, *efp ? efp : "(unreadable key)", fp,
           c->t->name);
  } else {
    rd_fmt(msg, msglen,
           "host %s: host key %s is not in %s; run `renewd hosts trust %s` after checking "
           "the fingerprint",
           c->t->name, fp, c->t->known_hosts, c->t->name);
  }
  return RD_EHOSTKEY;
}

