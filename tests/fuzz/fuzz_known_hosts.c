/* fuzz_known_hosts.c — the known_hosts check (transport/known_hosts.h): the
 * input is the file, written to a private temporary directory; a fixed
 * ed25519 key is checked for a host on port 22 and on port 2222. When the
 * first byte is odd, the key is then stored with replace and must then be
 * trusted (if the file can be read at all). The input as one line also goes
 * through rd_known_hosts_parse_key. */
#include "base/err.h"
#include "transport/known_hosts.h"
#include "fuzz_util.h"

static const char key_line[] =
    "x ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFN1si3qTM7DBPEMHumNUrRsHhQr0ilI19vtVsdYIi67";

static int check(const char *path, const rd_kh_host *h, const rd_kh_key *k) {
  rd_kh_verdict v = RD_KH_TRUSTED;
  char fp[128], msg[512];
  int rc = rd_known_hosts_check(path, h, k, &v, fp, sizeof fp, msg, sizeof msg);
  if (rc == 0 && v != RD_KH_TRUSTED && v != RD_KH_UNKNOWN && v != RD_KH_CHANGED)
    abort();
  if (rc != 0 && !msg[0])
    abort(); /* refused without saying why */
  return rc == 0 ? (int)v : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char type[64];
  static unsigned char *blob;
  static size_t blen;
  char path[128], msg[512];
  if (!blob && rd_known_hosts_parse_key(key_line, type, sizeof type, &blob, &blen) != 0)
    abort();
  rd_kh_key k = {type, blob, blen};
  rd_kh_host h22 = {"10.0.0.7", "web17", 22}, h2222 = {"10.0.0.7", "web17", 2222};

  fz_write("known_hosts", data, size, path, sizeof path);
  check(path, &h22, &k);
  check(path, &h2222, &k);
  if (size && data[0] & 1) {
    if (rd_known_hosts_store(path, &h2222, &k, 1, msg, sizeof msg) == 0) {
      int v = check(path, &h2222, &k);
      if (v != -1 && v != RD_KH_TRUSTED)
        abort(); /* stored, readable, and still not trusted */
    } else if (!msg[0]) {
      abort();
    }
  }

  char *line = fz_strndup(data, size), t[64];
  unsigned char *b = NULL;
  size_t bl = 0;
  if (rd_known_hosts_parse_key(line, t, sizeof t, &b, &bl) == 0 &&
      (!memchr(t, '\0', sizeof t) || (bl && !b)))
    abort();
  free(b);
  free(line);
  return 0;
}
