/* jsonpos.h — where things are in a JSON text. jansson keeps no positions for
 * values, so this small scanner maps every JSON pointer (RFC 6901, e.g.
 * "/steps/2/params/mode") to the line and column of its key (for object
 * members) and of its value. Lines and columns are 1-based; columns count
 * characters (UTF-8 sequences), like jansson's own error columns.
 *
 * The scanner is tolerant: on malformed text it keeps what it saw before the
 * error (jansson reports the syntax error itself). */
#ifndef RENEWD_JSONPOS_H
#define RENEWD_JSONPOS_H
#include <stddef.h>
#include <jansson.h>

typedef struct rd_jsonpos rd_jsonpos;

/* Scan text. Returns 0 (even for malformed JSON) or RD_ENOMEM. */
int rd_jsonpos_scan(const char *text, size_t len, rd_jsonpos **out);
void rd_jsonpos_free(rd_jsonpos *p); /* NULL ok */

/* Position of the member's key ("/ssh/port" -> the "port" key); for array
 * elements and the root, the value's position. 0 or RD_ENOTFOUND. */
int rd_jsonpos_key(const rd_jsonpos *p, const char *ptr, int *line, int *column);
/* Position of the value's first character. 0 or RD_ENOTFOUND. */
int rd_jsonpos_value(const rd_jsonpos *p, const char *ptr, int *line, int *column);
/* Like rd_jsonpos_key/value, but when ptr is not in the map (a default that
 * was never written), fall back to its nearest ancestor's key position. */
void rd_jsonpos_near(const rd_jsonpos *p, const char *ptr, int value, int *line,
                     int *column);

/* The first NUL byte of text, as a 1-based line and column (columns count
 * UTF-8 characters, as everywhere here): 1 when there is one, else 0. A
 * JSON text holds none; jansson's own error for it names something else
 * ("end of file expected", "string or '}' expected"), so the loaders check
 * this first and say what it is. */
int rd_text_nul_at(const char *text, size_t len, int *line, int *column);
/* The same, reported to d as FILE:LINE:COL ("a NUL byte (0x00): WHAT is
 * JSON text ..."; what: "a runbook"): 1 when there is one. */
struct rd_diag;
int rd_diag_text_nul(struct rd_diag *d, const char *file, const char *text, size_t len,
                     const char *what);

/* Append "/" + token to buf (escaping '~' as "~0" and '/' as "~1"); returns buf,
 * truncated (still terminated) when it does not fit. */
char *rd_jsonptr_push(char *buf, size_t len, const char *token);
/* Append "/<index>". */
char *rd_jsonptr_push_index(char *buf, size_t len, size_t index);

/* --- diagnostics while checking a parsed document (runbook, inventory) --- */
struct rd_diag;

typedef struct rd_jctx {
  const char *file;        /* as printed in diagnostics */
  const rd_jsonpos *pos;   /* positions of file's text */
  struct rd_diag *diag;
  const json_t *root;      /* for display names ("steps[2].params") */
  int errors;              /* how many were reported through this context */
} rd_jctx;

/* Report at ptr's key (at_value = 0) or value (at_value = 1) position. */
void rd_jctx_err(rd_jctx *c, const char *ptr, int at_value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "steps[2].params.mode" for "/steps/2/params/mode"; "the top level" for "". */
char *rd_jctx_display(const rd_jctx *c, const char *ptr, char *buf, size_t len);
/* "string", "integer", "number", "object", "array", "boolean", "null". */
const char *rd_json_type_name(const json_t *v);
/* The closest candidate to word (edit distance, case-insensitive equality
 * wins), or NULL when none is close enough to be a likely typo. */
const char *rd_suggest(const char *word, const char *const *candidates, size_t n);
/* Report every key of obj (at ptr) that is not in allowed (NULL-terminated):
 * "unknown key 'scheduel' in the top level; did you mean 'schedule'?". */
void rd_jctx_check_keys(rd_jctx *c, const json_t *obj, const char *ptr,
                        const char *const *allowed);

#endif
