/* windows_keyfile.h — which file holds a certificate's private key, decided
 * from the certificate's key provider information, not from the .NET
 * wrapper type (on .NET Framework 4.6+ GetRSAPrivateKey returns an RSACng
 * for a CAPI key too, which sent CAPI keys to Crypto\Keys).
 *
 * rdw_keyinfo (ps/cert_lib.ps1) only gathers facts: the certificate's
 * CERT_KEY_PROV_INFO_PROP_ID (a CRYPT_KEY_PROV_INFO: "prov_type",
 * "prov_name", "container", "flags", "key_spec"), the key's unique (file)
 * name, "crypto_dir" (%ProgramData%\Microsoft\Crypto) and "files": the
 * folders under it that hold a file of that name. The decision is here:
 *
 * - CRYPT_KEY_PROV_INFO.dwProvType is 0 for a CNG key storage provider,
 *   otherwise a CryptoAPI provider type
 *   (https://learn.microsoft.com/windows/win32/api/wincrypt/ns-wincrypt-crypt_key_prov_info);
 * - dwFlags without CRYPT_MACHINE_KEYSET (0x20) is a user key (same page):
 *   not in the machine folders;
 * - machine keys of the Microsoft software providers live in
 *   %ALLUSERSPROFILE%\Application Data\Microsoft\Crypto\RSA\MachineKeys
 *   (CryptoAPI RSA), ...\Crypto\DSS\MachineKeys (CryptoAPI DSS: PROV_DSS 3,
 *   PROV_DSS_DH 13) and ...\Crypto\Keys (CNG), named by the unique container
 *   name (https://learn.microsoft.com/windows/win32/seccng/key-storage-and-retrieval;
 *   %ALLUSERSPROFILE%\Application Data is %ProgramData% since Vista);
 * - the smart card and platform (TPM) key storage providers
 *   ("Microsoft Smart Card Key Storage Provider", "Microsoft Platform
 *   Crypto Provider", NCryptOpenStorageProvider's documented names) keep no
 *   file renewd could set an ACL on. */
#ifndef RENEWD_WINDOWS_KEYFILE_H
#define RENEWD_WINDOWS_KEYFILE_H
#include <stddef.h>
#include <jansson.h>

#define WIN_KEY_MACHINE_KEYSET 0x20 /* CRYPT_MACHINE_KEYSET, NCRYPT_MACHINE_KEY_FLAG */

typedef struct win_keyfile {
  const char *provider; /* "CAPI", "CNG", or NULL: unknown */
  const char *dir;      /* "RSA\\MachineKeys", "DSS\\MachineKeys", "Keys" or NULL */
  char path[700];       /* the key file, "" when there is none to name */
  int exists;           /* the file is where the provider keeps it */
  char note[400];       /* why there is no file (or where it was found instead) */
} win_keyfile;

/* Decide from rdw_keyinfo's object (NULL or without facts: no key info). */
void win_keyfile_decide(const json_t *key, win_keyfile *out);

#endif
