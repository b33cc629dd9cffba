/* util.h — small shared helpers: edit distance, base64, hex, files, time. */
#ifndef RENEWD_UTIL_H
#define RENEWD_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* Levenshtein distance (for "did you mean"). */
size_t rd_edit_distance(const char *a, const char *b);
/* Base64 (standard alphabet, padded, no newlines). Caller frees. */
char *rd_base64_encode(const void *data, size_t len, size_t *outlen);
int rd_base64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen);
/* The same for NUL-terminated text, with the host API's signatures
 * (b64_encode / b64_decode in renewd/plugin.h). */
char *rd_base64_encode_str(const void *data, size_t len);
int rd_base64_decode_str(const char *text, unsigned char **out, size_t *outlen);
/* UTF-16LE (BMP and surrogate pairs) to NUL-terminated UTF-8; the
 * inverse of what remote.c encodes for -EncodedCommand. NULL: out of memory.
 * Caller frees. */
char *rd_utf16le_to_utf8(const unsigned char *u, size_t n, size_t *outlen);
/* Read a whole file (up to max bytes). Caller frees; result NUL-terminated. */
int rd_read_file(const char *path, size_t max, char **out, size_t *len);
/* Monotonic milliseconds. */
uint64_t rd_now_ms(void);

#endif
