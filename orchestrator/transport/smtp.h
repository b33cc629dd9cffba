/* smtp.h — one mail sent through libcurl's SMTP, off the loop.
 *
 * libcurl's SMTP transfer runs as a libuv work item (curl_easy_perform in
 * the loop's thread pool, bounded by timeout_ms); the completion runs on the
 * loop thread, exactly once. smtp:// requires STARTTLS unless starttls is 0;
 * smtps:// is TLS from the first byte. Certificates are verified (ca_bundle:
 * NULL for the system's). The login goes in CURLOPT_USERNAME/PASSWORD, never
 * in the URL; the password is copied, wiped and freed after the transfer,
 * and no message names it. curl_global_init is the caller's, once, before
 * any thread: rd_transport_global_init() (transport/global.h). */
#ifndef RENEWD_SMTP_H
#define RENEWD_SMTP_H
#include <stddef.h>
#include <uv.h>

typedef struct rd_smtp_mail {
  const char *url;          /* smtp://host[:port] or smtps://host[:port] */
  const char *from;         /* envelope sender (MAIL FROM) */
  const char *const *to;    /* envelope recipients (RCPT TO), NULL-terminated */
  const char *user;         /* login, or NULL: none */
  const char *password;     /* with user */
  const char *ca_bundle;    /* NULL: the system's */
  int starttls;             /* smtp://: 1 requires STARTTLS, 0 sends in clear */
  long timeout_ms;          /* whole transfer; default 30000 */
  const char *data;         /* the message: headers, blank line, body; CRLF lines */
  size_t len;
} rd_smtp_mail;

/* status: 0 or RD_E* (ETIMEDOUT, ECONNREFUSED, EAUTH, EVERIFY, ENETWORK...);
 * msg: empty, or what failed, naming the server (never the password). */
typedef void (*rd_smtp_done)(int status, const char *msg, void *arg);

/* Everything in m is copied. The callback never runs inside this call. */
int rd_smtp_send(uv_loop_t *loop, const rd_smtp_mail *m, rd_smtp_done cb, void *arg);

#endif
