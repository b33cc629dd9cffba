/* scep_scripts.c — the constant POSIX scripts the SCEP issuer runs on the
 * target besides the shared key scripts (common/keyscripts.h: the new key,
 * a signature with it, removing a staged key). Parameters arrive as files
 * in "$RD_P" (see orchestrator/transport/remote.h); nothing here ever prints
 * a private key. */
#include "scep_scripts.h"

/* Make a throwaway self-signed certificate of the new key: the signer of a
 * PKCSReq (RFC 8894 2.3). Its subject is a constant. */
const rd_script scep_script_selfsign = {
    "scep.selfsign", RD_PLATFORM_POSIX, 0, 1,
    "key=$P_key\n"
    "openssl req -new -x509 -key \"$key\" -subj /CN=renewd-enrolment -days 2 -sha256 -out \"$RD_P/crt\" 2>\"$RD_P/err\" || rd_fail \"key $key: self-signed certificate: $(cat \"$RD_P/err\")\"\n"
    "rd_out_file cert \"$RD_P/crt\"\n"};

/* Decrypt the CA's pkcsPKIEnvelope with the key it was encrypted to.
 * scepserver encrypts with DES-CBC, which OpenSSL 3 keeps in the legacy
 * provider; load it when it exists. The plaintext is a certs-only PKCS#7:
 * public data. */
const rd_script scep_script_decrypt = {
    "scep.decrypt", RD_PLATFORM_POSIX, 0, 1,
    "key=$P_key\n"
    "base64 -d \"$RD_P/envelope\" > \"$RD_P/env\" || rd_fail \"envelope: not base64\"\n"
    "if openssl list -providers -provider legacy >/dev/null 2>&1; then prov='-provider default -provider legacy'; else prov=; fi\n"
    "openssl cms -decrypt $prov -inform DER -in \"$RD_P/env\" -recip \"$RD_P/cert\" -inkey \"$key\" -binary -out \"$RD_P/p7\" 2>\"$RD_P/err\" || rd_fail \"key $key: cannot decrypt the CA's reply: $(cat \"$RD_P/err\")\"\n"
    "rd_out_b64 p7 \"$RD_P/p7\"\n"};
