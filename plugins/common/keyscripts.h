/* common/keyscripts.h — the constant POSIX scripts of the issuers that keep
 * the key on the target (common/csr.h): make the new key next to the live
 * one, sign a digest with it, remove a staged key never installed. Nothing
 * here ever prints a private key. */
#ifndef RENEWD_COMMON_KEYSCRIPTS_H
#define RENEWD_COMMON_KEYSCRIPTS_H
#include "renewd/plugin.h"

/* The suffix of a new key waiting next to the live one. */
#define RD_STAGED_SUFFIX ".renewd-new"

/* params key, staged, reuse ("1": print the live key's public key instead),
 * type ("ec" | "rsa"), bits, curve; outputs pub (PEM), staged, generated. */
extern const rd_script rd_keyscript_keygen;
/* params key, digest (base64), md; output sig (base64). */
extern const rd_script rd_keyscript_sign;
/* param staged (must end in RD_STAGED_SUFFIX); output removed, ok. */
extern const rd_script rd_keyscript_cleanup;

#endif
