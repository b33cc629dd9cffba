/* notify.h — the notification channels of core/notify.c, and the mail
 * writer and sender they share with serve's daily digest.
 *
 * An event is one JSON object, the webhook's payload: {"event": "job" |
 * "expiring", "runbook", "host", "time", ...}. notify.c decides which events
 * happen and remembers each per channel in the journal's alerts table; each
 * channel only delivers. */
#ifndef RENEWD_NOTIFY_H
#define RENEWD_NOTIFY_H
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>
#include <uv.h>

struct rd_job;

/* notify_mail.c (core only): deliver one event as an e-mail to notify.email
 * (cfg). Counted in the engine's notifying; failures are warnings on stderr. */
void rd_notify_mail_send(struct rd_job *j, const json_t *cfg, const json_t *event);

/* notify_mail.c: the whole message of one event: Date, Message-ID, From,
 * To, Subject (naming the host and the event), MIME headers, a blank line
 * and the body; CRLF lines, none longer than 998 bytes; every value escaped
 * (control bytes and invalid UTF-8 as \xNN; a non-ASCII subject as RFC 2047
 * words). node: the name of the machine renewd runs on. NULL when an address
 * holds a character that cannot be in a header (or no memory). */
char *rd_notify_mail_compose(const json_t *event, const char *from, const char *const *to,
                             const char *node, time_t now, size_t *len);

/* notify_mail.c: the pieces of every message. rd_mail_open writes the
 * headers (subject: already escaped) into a memory stream over *buf / *n and
 * returns it, positioned at the body; NULL for an address a header cannot
 * carry. rd_mail_close closes it: the message (CRLF lines) and its length,
 * or NULL. kind goes to X-Renewd-Event. */
FILE *rd_mail_open(char **buf, size_t *n, const char *from, const char *const *to, time_t now,
                   const char *subject, const char *kind);
char *rd_mail_close(FILE *f, char **buf, const size_t *n, size_t *len);
/* "Label:" padded, the value escaped and wrapped below SMTP's line limit. */
void rd_mail_field(FILE *f, const char *label, const char *value);
/* A value escaped as in every message; caller frees. */
char *rd_mail_esc(const char *s);
/* notify.email.to as a NULL-terminated array (strings borrowed); free it. */
const char **rd_mail_recipients(const json_t *cfg);
/* The name of this machine, for "Sent by". */
void rd_mail_node(char *buf, size_t len);
/* Send msg through the server of notify.email cfg (the password read now,
 * wiped after). 0: done(arg) runs once, from the loop, when the transfer is
 * over (a failure is then a warning on stderr naming `what`, escaped);
 * else the warning is printed at once and done never runs. */
int rd_mail_deliver(uv_loop_t *loop, const json_t *cfg, const char *msg, size_t len,
                    const char *what, void (*done)(void *), void *arg);

/* notify_digest.c: the daily digest of one runbook. digest: {"runbook",
 * "date" ("2026-11-30"), "certificates": [{"host", "not_after"}] soonest
 * first, "attention": [{"host", "state", "error"?, "updated"}], "last":
 * {"time", "targets", "due", "renewed", "failed"} or absent}. */
char *rd_notify_digest_compose(const json_t *digest, const char *from, const char *const *to,
                               const char *node, time_t now, size_t *len);

#endif
