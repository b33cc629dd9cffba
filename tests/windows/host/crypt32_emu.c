/* crypt32_emu.c — the emulated host's crypt32.dll, for the one function
 * renewd's scripts call through P/Invoke: cert_lib.ps1's rdw_keyinfo reads
 * a certificate's CERT_KEY_PROV_INFO_PROP_ID (2) with
 * CertGetCertificateContextProperty
 * (https://learn.microsoft.com/windows/win32/api/wincrypt/nf-wincrypt-certgetcertificatecontextproperty),
 * a CRYPT_KEY_PROV_INFO
 * (https://learn.microsoft.com/windows/win32/api/wincrypt/ns-wincrypt-crypt_key_prov_info).
 *
 * Built by tests/windows/build.sh as libcrypt32.dll.so next to renewd-pshost
 * (the name .NET tries for DllImport("crypt32.dll") off Windows). The
 * context handle is what X509Certificate2.Handle is on Linux: OpenSSL's
 * X509 *. The property is the certificate's .keyprov file in the emulated
 * store ($RENEWD_WIN_ROOT/emu/cert/LocalMachine/<store>/<SHA-1>.keyprov,
 * see emu/RenewdWindows.psm1), found by the certificate's SHA-1. As on
 * Windows: a NULL buffer asks for the size; a short one fails with
 * ERROR_MORE_DATA; no property fails with CRYPT_E_NOT_FOUND (errno here:
 * .NET's SetLastError reads errno off Windows). Only property 2 exists. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint16_t *container;
  uint16_t *provider;
  uint32_t prov_type, flags, c_prov_param;
  void *prov_params;
  uint32_t key_spec;
} key_prov_info;

#define ERROR_MORE_DATA 234
#define CRYPT_E_NOT_FOUND 0x80092004u

typedef int (*i2d_fn)(void *, unsigned char **);
typedef unsigned char *(*sha1_fn)(const unsigned char *, size_t, unsigned char *);

/* the SHA-1 of the certificate, uppercase hex (the thumbprint) */
static int thumbprint(void *x509, char out[41]) {
  void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
  i2d_fn i2d = lib ? (i2d_fn)dlsym(lib, "i2d_X509") : NULL;
  sha1_fn sha1 = lib ? (sha1_fn)dlsym(lib, "SHA1") : NULL;
  unsigned char *der = NULL, md[20];
  int n = (i2d && sha1) ? i2d(x509, &der) : -1;
  if (n <= 0)
    return -1;
  sha1(der, (size_t)n, md);
  free(der); /* OPENSSL_malloc is malloc unless replaced */
  for (int i = 0; i < 20; i++)
    snprintf(out + 2 * i, 3, "%02X", md[i]);
  return 0;
}

/* the .keyprov file of THUMB in any LocalMachine store, read into lines */
static int read_keyprov(const char *thumb, char lines[5][512]) {
  const char *root = getenv("RENEWD_WIN_ROOT");
  char dir[4096], file[4608];
  if (!root)
    return -1;
  snprintf(dir, sizeof dir, "%s/emu/cert/LocalMachine", root);
  DIR *d = opendir(dir);
  FILE *f = NULL;
  for (struct dirent *e; d && !f && (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(file, sizeof file, "%s/%s/%s.keyprov", dir, e->d_name, thumb);
    f = fopen(file, "r");
  }
  if (d)
    closedir(d);
  if (!f)
    return -1;
  int i = 0;
  for (; i < 5 && fgets(lines[i], 512, f); i++)
    lines[i][strcspn(lines[i], "\r\n")] = 0;
  fclose(f);
  return i == 5 ? 0 : -1;
}

static size_t u16len(const char *s) { return (strlen(s) + 1) * 2; }

static uint16_t *put_u16(unsigned char *at, const char *s) {
  uint16_t *w = (uint16_t *)at;
  size_t i = 0;
  for (; s[i]; i++)
    w[i] = (unsigned char)s[i]; /* the emulator's names are ASCII */
  w[i] = 0;
  return w;
}

int CertGetCertificateContextProperty(void *ctx, uint32_t id, void *data, uint32_t *size) {
  char thumb[41], l[5][512];
  if (id != 2 || !ctx || !size || thumbprint(ctx, thumb) || read_keyprov(thumb, l)) {
    errno = (int)CRYPT_E_NOT_FOUND;
    return 0;
  }
  size_t need = sizeof(key_prov_info) + u16len(l[0]) + u16len(l[1]);
  if (!data) {
    *size = (uint32_t)need;
    return 1;
  }
  if (*size < need) {
    *size = (uint32_t)need;
    errno = ERROR_MORE_DATA;
    return 0;
  }
  key_prov_info *k = data;
  unsigned char *p = (unsigned char *)data + sizeof *k;
  memset(k, 0, sizeof *k);
  k->container = put_u16(p, l[0]);
  k->provider = put_u16(p + u16len(l[0]), l[1]);
  k->prov_type = (uint32_t)strtoul(l[2], NULL, 0);
  k->flags = (uint32_t)strtoul(l[3], NULL, 0);
  k->key_spec = (uint32_t)strtoul(l[4], NULL, 0);
  *size = (uint32_t)need;
  return 1;
}
