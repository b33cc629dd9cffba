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
/* Text for a terminal or a log line, from values that come from runbooks,
 * targets and CAs: control characters (C0, DEL, C1 as U+0080..U+009F), the
 * bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069) and
 * bytes that are not valid UTF-8 print as \xNN, one per byte; printable
 * ASCII and valid UTF-8 (smart quotes, accents) print as they are. With
 * RD_ESC_ONE_LINE, LF and TAB print as a space (a multi-line message on one
 * report line). rd_escape writes at most outlen - 1 bytes and a NUL, never
 * part of an escape or of a character, and returns the bytes written;
 * rd_escape_dup returns a new string (NULL: out of memory). */
#define RD_ESC_ONE_LINE 0x1u
size_t rd_escape(char *out, size_t outlen, const char *in, unsigned flags);
char *rd_escape_dup(const char *in, unsigned flags);
/* Monotonic milliseconds. */
uint64_t rd_now_ms(void);

#endif
