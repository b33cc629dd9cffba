/* keyscripts.c — see keyscripts.h. Parameters arrive as files in "$RD_P"
 * (see orchestrator/transport/remote.h). */
#include "common/keyscripts.h"

/* Generate the new key next to the live one (mode 0600, umask 077), or keep
 * the staged key of an interrupted run; print its public key. With
 * reuse=1, print the public key of the live key instead. */
const rd_script rd_keyscript_keygen = {
    "key.generate", RD_PLATFORM_POSIX, 1, 1,
    "umask 077\n"
    "key=$P_key\n"
    "if [ \"$P_reuse\" = 1 ]; then\n"
    "  [ -f \"$key\" ] || rd_fail \"key $key: not found (rotate_key is false)\"\n"
    "  openssl pkey -in \"$key\" -pubout -out \"$RD_P/pub\" 2>\"$RD_P/err\" || rd_fail \"key $key: $(cat \"$RD_P/err\")\"\n"
    "  rd_out_file pub \"$RD_P/pub\"\n"
    "  rd_out staged \"$key\"\n"
    "  exit 0\n"
    "fi\n"
    "new=$P_staged\n"
    "if ! [ -s \"$new\" ] || ! openssl pkey -in \"$new\" -noout 2>/dev/null; then\n"
    "  dir=$(dirname \"$new\")\n"
    "  [ -d \"$dir\" ] || rd_fail \"directory $dir: not found\"\n"
    "  tmp=$(mktemp \"$new.XXXXXX\") || rd_fail \"directory $dir: cannot create a file\"\n"
    "  case $P_type in\n"
    "    ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:\"$P_curve\" -out \"$tmp\" 2>\"$RD_P/err\" ;;\n"
    "    *) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:\"$P_bits\" -out \"$tmp\" 2>\"$RD_P/err\" ;;\n"
    "  esac || { rm -f \"$tmp\"; rd_fail \"key generation: $(cat \"$RD_P/err\")\"; }\n"
    /* openssl may not notice a failed write (a full disk): check the key */
    "  openssl pkey -in \"$tmp\" -noout 2>/dev/null || { rm -f \"$tmp\"; rd_fail \"key generation: the key could not be written whole in $dir ($(df -P -- \"$dir\" | awk 'NR == 2 { print ($4 == 0 ? \"no space left on device\" : $4 \" KB free\") }'))\"; }\n"
    "  chmod 600 \"$tmp\" && sync \"$tmp\" 2>/dev/null; mv -f \"$tmp\" \"$new\" || rd_fail \"key $new: cannot move into place\"\n"
    "  rd_out generated 1\n"
    "fi\n"
    "openssl pkey -in \"$new\" -pubout -out \"$RD_P/pub\" 2>\"$RD_P/err\" || rd_fail \"key $new: $(cat \"$RD_P/err\")\"\n"
    "rd_out_file pub \"$RD_P/pub\"\n"
    "rd_out staged \"$new\"\n"};

/* Sign a digest with a key on the target: the only private-key operation.
 * digest:<md> makes pkeyutl wrap it in a DigestInfo (PKCS#1 v1.5). */
const rd_script rd_keyscript_sign = {
    "key.sign", RD_PLATFORM_POSIX, 0, 1,
    "key=$P_key\n"
    "base64 -d \"$RD_P/digest\" > \"$RD_P/d\" || rd_fail \"digest: not base64\"\n"
    "openssl pkeyutl -sign -inkey \"$key\" -pkeyopt digest:\"$P_md\" -in \"$RD_P/d\" -out \"$RD_P/sig\" 2>\"$RD_P/err\" || rd_fail \"key $key: signing failed: $(cat \"$RD_P/err\")\"\n"
    "rd_out_b64 sig \"$RD_P/sig\"\n"};

/* Remove a staged key that was never installed (after a failure). Refuses
 * anything that is not the staged name. */
const rd_script rd_keyscript_cleanup = {
    "key.cleanup", RD_PLATFORM_POSIX, 1, 1,
    "new=$P_staged\n"
    "case $new in *.renewd-new) ;; *) rd_fail \"refusing to remove $new: not a staged key\" ;; esac\n"
    "if [ -e \"$new\" ]; then rm -f \"$new\" && rd_out removed \"$new\"; fi\n"
    "rd_out ok 1\n"};
