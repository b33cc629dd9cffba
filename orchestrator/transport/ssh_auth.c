/* ssh_auth.c — identities and login (see ssh_int.h). */
#include "transport/ssh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "base/err.h"
#include "base/util.h"

/* ------------------------------------------------------------------ identities */

typedef struct rd_sshbuf {
  const unsigned char *p;
  size_t n;
} rd_sshbuf;

static int sb_u32(rd_sshbuf *b, uint32_t *v) {
  if (b->n < 4)
    return -1;
  *v = (uint32_t)b->p[0] << 24 | (uint32_t)b->p[1] << 16 | (uint32_t)b->p[2] << 8 | b->p[3];
  b->p += 4;
  b->n -= 4;
  return 0;
}

static int sb_str(rd_sshbuf *b, const unsigned char **s, size_t *len) {
  uint32_t l;
  if (sb_u32(b, &l) || l > b->n)
    return -1;
  *s = b->p;
  *len = l;
  b->p += l;
  b->n -= l;
  return 0;
}

static int sb_is(const unsigned char *s, size_t n, const char *lit) {
  return n == strlen(lit) && !memcmp(s, lit, n);
}

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* string a || string b [|| string c] as one malloc'd blob */
static unsigned char *blob3(const void *a, size_t al, const void *b, size_t bl, const void *c,
                            size_t cl, size_t *outlen) {
  size_t n = 8 + al + bl + (c ? 4 + cl : 0);
  unsigned char *o = malloc(n), *q = o;
  if (!o)
    return NULL;
  put_u32(q, (uint32_t)al);
  memcpy(q + 4, a, al);
  q += 4 + al;
  put_u32(q, (uint32_t)bl);
  memcpy(q + 4, b, bl);
  q += 4 + bl;
  if (c) {
    put_u32(q, (uint32_t)cl);
    memcpy(q + 4, c, cl);
  }
  *outlen = n;
  return o;
}

static const char *ssh_curve(const char *group, const EVP_MD **md) {
  if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256")) {
    *md = EVP_sha256();
    return "nistp256";
  }
  if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384")) {
    *md = EVP_sha384();
    return "nistp384";
  }
  if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521")) {
    *md = EVP_sha512();
    return "nistp521";
  }
  return NULL;
}

/* Public blob (and digest) for an ed25519 or ECDSA EVP_PKEY; 0 on success. */
static int key_public(idkey *k) {
  if (EVP_PKEY_get_id(k->pk) == EVP_PKEY_ED25519) {
    unsigned char raw[32];
    size_t rl = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(k->pk, raw, &rl) != 1)
      return -1;
    k->pub = blob3("ssh-ed25519", 11, raw, rl, NULL, 0, &k->publen);
    return k->pub ? 0 : -1;
  }
  if (EVP_PKEY_get_base_id(k->pk) == EVP_PKEY_EC) {
    char group[64], type[64];
    unsigned char q[160];
    size_t gl = 0, ql = 0;
    const char *curve;
    if (EVP_PKEY_get_utf8_string_param(k->pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &gl) != 1 ||
        !(curve = ssh_curve(group, &k->md)) ||
        EVP_PKEY_get_octet_string_param(k->pk, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof q, &ql) != 1)
      return -1;
    snprintf(type, sizeof type, "ecdsa-sha2-%s", curve);
    k->pub = blob3(type, strlen(type), curve, strlen(curve), q, ql, &k->publen);
    return k->pub ? 0 : -1;
  }
  return -1;
}

/* Unencrypted "openssh-key-v1" ed25519 / ECDSA key -> EVP_PKEY. */
static EVP_PKEY *openssh_key(const char *pem) {
  const char *b = strstr(pem, "-----BEGIN OPENSSH PRIVATE KEY-----"), *e;
  char *b64 = NULL;
  unsigned char *raw = NULL;
  size_t n = 0, rl = 0;
  EVP_PKEY *pk = NULL;
  if (!b || !(e = strstr(b, "-----END OPENSSH PRIVATE KEY-----")))
    return NULL;
  b += strlen("-----BEGIN OPENSSH PRIVATE KEY-----");
  if (!(b64 = malloc((size_t)(e - b) + 1)))
    return NULL;
  for (const char *p = b; p < e; p++)
    if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
      b64[n++] = *p;
  if (rd_base64_decode(b64, n, &raw, &rl))
    goto out;
  rd_sshbuf sb = {raw, rl};
  const unsigned char *s, *t;
  size_t sl, tl;
  uint32_t nkeys, c1, c2;
  if (rl < 15 || memcmp(raw, "openssh-key-v1", 15))
    goto out;
  sb.p += 15;
  sb.n -= 15;
  if (sb_str(&sb, &s, &sl) || !sb_is(s, sl, "none") || /* cipher */
      sb_str(&sb, &s, &sl) || !sb_is(s, sl, "none") || /* kdf */
      sb_str(&sb, &s, &sl) || sb_u32(&sb, &nkeys) || nkeys != 1 ||
      sb_str(&sb, &s, &sl) || /* public blob */
      sb_str(&sb, &s, &sl))   /* private section */
    goto out;
  rd_sshbuf pv = {s, sl};
  if (sb_u32(&pv, &c1) || sb_u32(&pv, &c2) || c1 != c2 || sb_str(&pv, &t, &tl))
    goto out;
  if (sb_is(t, tl, "ssh-ed25519")) {
    const unsigned char *pubk, *sec;
    size_t pl, secl;
    if (sb_str(&pv, &pubk, &pl) || sb_str(&pv, &sec, &secl) || pl != 32 || secl != 64)
      goto out;
    pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, 32);
  } else if (tl > 11 && !memcmp(t, "ecdsa-sha2-", 11)) {
    const unsigned char *curve, *q, *d;
    size_t cl, ql, dl;
    const char *group = NULL;
    if (sb_str(&pv, &curve, &cl) || sb_str(&pv, &q, &ql) || sb_str(&pv, &d, &dl))
      goto out;
    if (sb_is(curve, cl, "nistp256"))
      group = "P-256";
    else if (sb_is(curve, cl, "nistp384"))
      group = "P-384";
    else if (sb_is(curve, cl, "nistp521"))
      group = "P-521";
    if (!group)
      goto out;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(d, (int)dl, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld && bn && ctx &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, ql) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1)
      EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bn);
    EVP_PKEY_CTX_free(ctx);
  }
out:
  if (raw) {
    OPENSSL_cleanse(raw, rl);
    free(raw);
  }
  if (b64) {
    OPENSSL_cleanse(b64, n);
    free(b64);
  }
  return pk;
}

static void key_load(idkey *k, const char *pass) {
  char *text = NULL;
  size_t len = 0;
  if (rd_read_file(k->path, 1 << 16, &text, &len))
    return; /* libssh2's path reports the error */
  if (strstr(text, "-----BEGIN OPENSSH PRIVATE KEY-----")) {
    k->pk = openssh_key(text);
  } else {
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    if (bio)
      k->pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)(pass ? pass : ""));
    BIO_free(bio);
  }
  OPENSSL_cleanse(text, len);
  free(text);
  if (k->pk && key_public(k)) {
    EVP_PKEY_free(k->pk);
    k->pk = NULL;
  }
}

static idkey *key_get(rd_ssh *m, const char *path, const char *pass) {
  unsigned char dig[32];
  unsigned int dl = 0;
  EVP_Digest(pass ? pass : "", pass ? strlen(pass) : 0, dig, &dl, EVP_sha256(), NULL);
  for (idkey *k = m->keys; k; k = k->next)
    if (!strcmp(k->path, path) && !memcmp(k->passdig, dig, sizeof dig))
      return k;
  idkey *k = calloc(1, sizeof *k);
  if (!k || !(k->path = strdup(path))) {
    free(k);
    return NULL;
  }
  memcpy(k->passdig, dig, sizeof dig);
  key_load(k, pass);
  k->next = m->keys;
  m->keys = k;
  return k;
}

void rdssh_keys_free(rd_ssh *m) {
  while (m->keys) {
    idkey *k = m->keys;
    m->keys = k->next;
    EVP_PKEY_free(k->pk);
    free(k->pub);
    free(k->path);
    free(k);
  }
}

static unsigned char *mpint(unsigned char *p, const BIGNUM *bn) {
  int n = BN_num_bytes(bn), lead = n > 0 && BN_is_bit_set(bn, n * 8 - 1);
  put_u32(p, (uint32_t)(n + lead));
  p += 4;
  if (lead)
    *p++ = 0;
  BN_bn2bin(bn, p);
  return p + n;
}

/* libssh2 wants the raw signature (ed25519: 64 bytes; ECDSA: mpint r, mpint
 * s), allocated with the session's allocator. */
static LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(key_sign) {
  idkey *k = *abstract;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char der[256], *out = NULL;
  size_t dl = sizeof der;
  int rc = -1;
  if (!ctx || EVP_DigestSignInit(ctx, NULL, k->md, NULL, k->pk) != 1 ||
      EVP_DigestSign(ctx, der, &dl, data, data_len) != 1)
    goto out;
  if (!k->md) { /* ed25519 */
    if (!(out = rdssh_a_alloc(dl, libssh2_session_abstract(session))))
      goto out;
    memcpy(out, der, dl);
    *sig = out;
    *sig_len = dl;
    rc = 0;
    goto out;
  }
  const unsigned char *q = der;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dl);
  const BIGNUM *r = NULL, *s = NULL;
  if (!es)
    goto out;
  ECDSA_SIG_get0(es, &r, &s);
  if ((out = rdssh_a_alloc(8 + 2 + (size_t)BN_num_bytes(r) + (size_t)BN_num_bytes(s),
                     libssh2_session_abstract(session)))) {
    unsigned char *e = mpint(mpint(out, r), s);
    *sig = out;
    *sig_len = (size_t)(e - out);
    rc = 0;
  }
  ECDSA_SIG_free(es);
out:
  EVP_MD_CTX_free(ctx);
  return rc;
}

/* ------------------------------------------------------------------ auth */

/* ST_DONE: logged in; ST_WAIT: EAGAIN; ST_FAIL: msg/status set. */
int rdssh_auth_step(conn *c, int *status, char *msg, size_t msglen) {
  int rc;
  const tgt *t = c->t;
  for (;;) {
    switch (c->auth_phase) {
    case 0: /* key file */
      if (!t->identity) {
        c->auth_phase = 1;
        continue;
      }
      if (!c->key)
        c->key = key_get(c->m, t->identity, t->passphrase);
      if (c->key && ((idkey *)c->key)->pk)
        rc = libssh2_userauth_publickey(c->s, t->user, ((idkey *)c->key)->pub,
                                        ((idkey *)c->key)->publen, key_sign, &c->key);
      else
        rc = libssh2_userauth_publickey_fromfile_ex(c->s, t->user, (unsigned)strlen(t->user),
                                                    NULL, t->identity,
                                                    t->passphrase ? t->passphrase : "");
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc == 0)
        return ST_DONE;
      if (rc == LIBSSH2_ERROR_FILE)
        rd_fmt(c->auth_err, sizeof c->auth_err, "cannot use the key %s (unreadable, wrong "
                 "passphrase or unsupported format; use ed25519 or ecdsa keys)", t->identity);
      else if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
               rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
        rd_fmt(c->auth_err, sizeof c->auth_err, "the server refused the key %s", t->identity);
      else if (rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
               rc == LIBSSH2_ERROR_SOCKET_DISCONNECT) {
        *status = RD_ENETWORK;
        rd_fmt(msg, msglen, "host %s: ssh login as %s at %s: %s", t->name, t->user, c->where,
                 rdssh_sess_err(c->s));
        return ST_FAIL;
      } else
        rd_fmt(c->auth_err, sizeof c->auth_err, "key %s: %s", t->identity, rdssh_sess_err(c->s));
      if (rc == LIBSSH2_ERROR_FILE && !t->agent) {
        *status = RD_ECONFIG;
        rd_fmt(msg, msglen, "host %s: ssh login as %s: %s", t->name, t->user, c->auth_err);
        return ST_FAIL;
      }
      c->auth_phase = 1;
      continue;
    case 1: /* agent: local socket, quick blocking calls */
      if (!t->agent)
        goto failed;
      if (!(c->agent = libssh2_agent_init(c->s)) || libssh2_agent_connect(c->agent) ||
          libssh2_agent_list_identities(c->agent)) {
        rd_fmt(c->auth_err + strlen(c->auth_err), sizeof c->auth_err - strlen(c->auth_err),
                 "%sssh-agent not usable", *c->auth_err ? "; " : "");
        goto failed;
      }
      c->ident = NULL;
      c->auth_phase = 2;
      /* fall through */
    case 2:
      if (libssh2_agent_get_identity(c->agent, &c->ident, c->ident) != 0) {
        rd_fmt(c->auth_err + strlen(c->auth_err), sizeof c->auth_err - strlen(c->auth_err),
                 "%sno ssh-agent key was accepted", *c->auth_err ? "; " : "");
        goto failed;
      }
      c->auth_phase = 3;
      /* fall through */
    case 3:
      rc = libssh2_agent_userauth(c->agent, t->user, c->ident);
      if (rc == LIBSSH2_ERROR_EAGAIN)
        return ST_WAIT;
      if (rc == 0) {
        libssh2_agent_disconnect(c->agent);
        libssh2_agent_free(c->agent);
        c->agent = NULL;
        return ST_DONE;
      }
      c->auth_phase = 2;
      continue;
    }
  }
failed:
  *status = RD_EAUTH;
  rd_fmt(msg, msglen, "host %s: ssh login as %s at %s failed: %s", t->name, t->user, c->where,
           *c->auth_err ? c->auth_err : "no identity file and no ssh-agent configured");
  return ST_FAIL;
}
