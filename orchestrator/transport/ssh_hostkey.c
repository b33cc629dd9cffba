/* ssh_hostkey.c — fetch a host's key for `renewd hosts trust`: connect,
 * handshake, report the key, close; no login. */
#include "transport/ssh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

/* The hostkey fetch op completes after the handshake. */
void rdssh_hostkey_report(conn *c) {
  op *o = c->hk;
  size_t klen = 0;
  int ktype = 0;
  const char *key = libssh2_session_hostkey(c->s, &klen, &ktype);
  char fp[128] = "", *line = NULL, msg[512] = "";
  int status = 0;
  c->hk = NULL;
  rdssh_slot_release(c);
  if (!key || !rdssh_key_type_name(ktype) || rdssh_fingerprint((const unsigned char *)key, klen, fp, sizeof fp)) {
    status = RD_EHOSTKEY;
    rd_fmt(msg, sizeof msg, "host %s: ssh connect %s: the server sent no usable host key",
             c->t->name, c->where);
  } else {
    char *b64 = rd_base64_encode(key, klen, NULL);
    size_t n = (b64 ? strlen(b64) : 0) + strlen(c->t->address) + 64;
    if (b64 && (line = malloc(n))) {
      if (c->t->port == 22)
        rd_fmt(line, n, "%s %s %s", c->t->address, rdssh_key_type_name(ktype), b64);
      else
        rd_fmt(line, n, "[%s]:%d %s %s", c->t->address, c->t->port, rdssh_key_type_name(ktype), b64);
    } else {
      status = RD_ENOMEM;
    }
    free(b64);
  }
  rdssh_conn_close(c); /* goes on in the background */
  o->hk_cb(status, status ? NULL : line, status ? NULL : fp, status ? msg : NULL, o->arg);
  free(line);
  rdssh_op_free(o);
}
int rd_ssh_fetch_hostkey(rd_ssh *m, const rd_ssh_target *t, const rd_ssh_opts *o,
                         rd_ssh_hostkey_cb cb, void *arg) {
  op *p;
  if (m && m->shutting)
    return RD_ECANCELED;
  if (!m || !cb || !t || !t->name || !*t->name || !t->address || !*t->address || t->port < 0 ||
      t->port > 65535)
    return RD_EINVAL;
  if (!(p = rdssh_op_new(m, OP_HOSTKEY, t, o)))
    return RD_ENOMEM;
  p->hk_cb = cb;
  p->arg = arg;
  conn *c = rdssh_conn_new(m, NULL, &p->t, p->o.connect_ms);
  if (!c) {
    rdssh_op_free(p);
    return RD_ENOMEM;
  }
  c->hk = p;
  if (p->o.id_out)
    *p->o.id_out = p->id;
  return 0;
}

