/* scep_scripts.c — the constant POSIX scripts the SCEP issuer runs on the
 * target. Parameters arrive as files in "$RD_P" (see orchestrator/transport/remote.h);
 * nothing here ever prints a private key. */
#include "scep_scripts.h"

/* Generate the new key next to the live one (mode 0600, umask 077), or keep
 * the staged key of an interrupted run; print its public key. With
 * reuse=1, print the public key of the live key instead. */
const rd_script scep_script_keygen = {
    "scep.keygen", RD_PLATFORM_POSIX, 1, 1,
    "umask 077\n"
    "key=$(cat \"$RD_P/key\")\n"
    "if [ \"$(cat \"$RD_P/reuse\")\" = 1 ]; then\n"
    "  [ -f \"$key\" ] || rd_fail \"key $key: not found (rotate_key is false)\"\n"
    "  openssl pkey -in \"$key\" -pubout -out \"$RD_P/pub\" 2>\"$RD_P/err\" || rd_fail \"key $key: $(cat \"$RD_P/err\")\"\n"
    "  rd_out_file pub \"$RD_P/pub\"\n"
    "  rd_out staged \"$key\"\n"
    "  exit 0\n"
    "fi\n"
    "new=$(cat \"$RD_P/staged\")\n"
    "if ! [ -s \"$new\" ] || ! openssl pkey -in \"$new\" -noout 2>/dev/null; then\n"
    "  dir=$(dirname \"$new\")\n"
    "  [ -d \"$dir\" ] || rd_fail \"directory $dir: not found\"\n"
    "  tmp=$(mktemp \"$new.XXXXXX\") || rd_fail \"directory $dir: cannot create a file\"\n"
    "  case $(cat \"$RD_P/type\") in\n"
    "    ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:\"$(cat \"$RD_P/curve\")\" -out \"$tmp\" 2>\"$RD_P/err\" ;;\n"
    "    *) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:\"$(cat \"$RD_P/bits\")\" -out \"$tmp\" 2>\"$RD_P/err\" ;;\n"
    "  esac || { rm -f \"$tmp\"; rd_fail \"key generation: $(cat \"$RD_P/err\")\"; }\n"
    "  chmod 600 \"$tmp\" && sync \"$tmp\" 2>/dev/null; mv -f \"$tmp\" \"$new\" || rd_fail \"key $new: cannot move into place\"\n"
    "  rd_out generated 1\n"
    "fi\n"
    "openssl pkey -in \"$new\" -pubout -out \"$RD_P/pub\" 2>\"$RD_P/err\" || rd_fail \"key $new: $(cat \"$RD_P/err\")\"\n"
    "rd_out_file pub \"$RD_P/pub\"\n"
    "rd_out staged \"$new\"\n"};

/* Sign a digest with a key on the target: the only private-key operation.
 * digest:<md> makes pkeyutl wrap it in a DigestInfo (PKCS#1 v1.5). */
const rd_script scep_script_sign = {
    "scep.sign", RD_PLATFORM_POSIX, 0, 1,
    "key=$(cat \"$RD_P/key\")\n"
    "base64 -d \"$RD_P/digest\" > \"$RD_P/d\" || rd_fail \"digest: not base64\"\n"
    "openssl pkeyutl -sign -inkey \"$key\" -pkeyopt digest:\"$(cat \"$RD_P/md\")\" -in \"$RD_P/d\" -out \"$RD_P/sig\" 2>\"$RD_P/err\" || rd_fail \"key $key: signing failed: $(cat \"$RD_P/err\")\"\n"
    "rd_out_b64 sig \"$RD_P/sig\"\n"};

/* Make a throwaway self-signed certificate of the new key: the signer of a
 * PKCSReq (RFC 8894 2.3). Its subject is a constant. */
const rd_script scep_script_selfsign = {
    "scep.selfsign", RD_PLATFORM_POSIX, 0, 1,
    "key=$(cat \"$RD_P/key\")\n"
    "openssl req -new -x509 -key \"$key\" -subj /CN=renewd-enrolment -days 2 -sha256 -out \"$RD_P/crt\" 2>\"$RD_P/err\" || rd_fail \"key $key: self-signed certificate: $(cat \"$RD_P/err\")\"\n"
    "rd_out_file cert \"$RD_P/crt\"\n"};

/* Decrypt the CA's pkcsPKIEnvelope with the key it was encrypted to.
 * scepserver encrypts with DES-CBC, which OpenSSL 3 keeps in the legacy
 * provider; load it when it exists. The plaintext is a certs-only PKCS#7:
 * public data. */
const rd_script scep_script_decrypt = {
    "scep.decrypt", RD_PLATFORM_POSIX, 0, 1,
    "key=$(cat \"$RD_P/key\")\n"
    "base64 -d \"$RD_P/envelope\" > \"$RD_P/env\" || rd_fail \"envelope: not base64\"\n"
    "if openssl list -providers -provider legacy >/dev/null 2>&1; then prov='-provider default -provider legacy'; else prov=; fi\n"
    "openssl cms -decrypt $prov -inform DER -in \"$RD_P/env\" -recip \"$RD_P/cert\" -inkey \"$key\" -binary -out \"$RD_P/p7\" 2>\"$RD_P/err\" || rd_fail \"key $key: cannot decrypt the CA's reply: $(cat \"$RD_P/err\")\"\n"
    "rd_out_b64 p7 \"$RD_P/p7\"\n"};

/* Remove a staged key that was never installed (after a failure). Refuses
 * anything that is not the staged name. */
const rd_script scep_script_cleanup = {
    "scep.cleanup", RD_PLATFORM_POSIX, 1, 1,
    "new=$(cat \"$RD_P/staged\")\n"
    "case $new in *.renewd-new) ;; *) rd_fail \"refusing to remove $new: not a staged key\" ;; esac\n"
    "if [ -e \"$new\" ]; then rm -f \"$new\" && rd_out removed \"$new\"; fi\n"
    "rd_out ok 1\n"};
