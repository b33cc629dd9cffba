/* secret.h — references to secrets: {"file": PATH} (the file's content, its
 * trailing line breaks removed) or {"env": NAME} (an environment variable of
 * the renewd process). The one parser of them: the runbook validator checks
 * references with rd_secret_check(), the host API (plugins' secret()) and the
 * webhook token read them with rd_secret_read_json(). A secret's value never
 * appears in a message: errors name the source, the path or the variable. */
#ifndef RENEWD_SECRET_H
#define RENEWD_SECRET_H
#include <stddef.h>
#include <jansson.h>

typedef enum { RD_SECRET_NONE = 0, RD_SECRET_FILE, RD_SECRET_ENV } rd_secret_kind;
typedef struct rd_secret_ref {
  rd_secret_kind kind;
  char *name; /* path or variable name */
} rd_secret_ref;

/* The members a reference may have: {"file", "env", NULL}. */
extern const char *const rd_secret_keys[];
/* Largest secret file read (64 KiB). */
#define RD_SECRET_MAX (64u << 10)

/* What is wrong with a reference, ready for a file:line:column diagnostic:
 * member is the member at fault (NULL: the reference itself), msg follows
 * the display name of that member: "'issuer.challenge' " + msg. */
typedef struct rd_secret_problem {
  const char *member;  /* NULL, "file", "env" or an unknown key */
  int unknown_key;     /* an unknown member (validators that report unknown
                          keys themselves skip this one) */
  char msg[320];
} rd_secret_problem;

/* Check a reference. key names what it is for, as in the example in the
 * messages ({"file": "/etc/renewd/<key>"}); NULL: "secret". On success fills
 * *kind and *name (borrowed from v) and returns 0; else RD_EINVAL with the
 * first problem in *p (unknown members come last). p, kind, name may be NULL. */
int rd_secret_check(const json_t *v, const char *key, rd_secret_problem *p,
                    rd_secret_kind *kind, const char **name);
/* Read a secret: NUL-terminated in *out (free it with rd_secret_free), its
 * length in *len (may be NULL). A file must be a regular file of at most
 * RD_SECRET_MAX bytes; trailing "\n" and "\r\n" are removed (from a file and
 * a variable). An empty value and one holding a NUL byte are refused. err:
 * "secret file /etc/renewd/challenge: no such file", "environment variable
 * NAME: not set". */
int rd_secret_read(const rd_secret_ref *ref, char **out, size_t *len, char *err,
                   size_t errlen);
/* Check, then read, a JSON reference; err names the problem or the source. */
int rd_secret_read_json(const json_t *v, char **out, size_t *len, char *err, size_t errlen);
/* One header line: prefix + the secret ref names, e.g. "Authorization:
 * Bearer <token>". RD_EINVAL when the value holds a control character (a
 * line break would end the header and start another one). Free *out with
 * rd_secret_free. */
int rd_secret_header(const json_t *ref, const char *prefix, char **out, char *err,
                     size_t errlen);
/* Wipe and free a value from rd_secret_read (NULL ok). */
void rd_secret_free(char *s);

#endif
