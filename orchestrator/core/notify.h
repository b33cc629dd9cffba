/* notify.h — the notification channels of core/notify.c (private to core/).
 *
 * An event is one JSON object, the webhook's payload: {"event": "job" |
 * "expiring", "runbook", "host", "time", ...}. notify.c decides which events
 * happen and remembers each per channel in the journal's alerts table; each
 * channel only delivers. */
#ifndef RENEWD_NOTIFY_H
#define RENEWD_NOTIFY_H
#include <stddef.h>
#include <time.h>
#include <jansson.h>

struct rd_job;

/* notify_mail.c: deliver one event as an e-mail to notify.email (cfg).
 * Counted in the engine's notifying; failures are warnings on stderr. */
void rd_notify_mail_send(struct rd_job *j, const json_t *cfg, const json_t *event);

/* notify_mail.c: the whole message of one event: Date, Message-ID, From,
 * To, Subject (naming the host and the event), MIME headers, a blank line
 * and the body; CRLF lines, none longer than 998 bytes; every value escaped
 * (control bytes and invalid UTF-8 as \xNN; a non-ASCII subject as RFC 2047
 * words). node: the name of the machine renewd runs on. NULL when an address
 * holds a character that cannot be in a header (or no memory). */
char *rd_notify_mail_compose(const json_t *event, const char *from, const char *const *to,
                             const char *node, time_t now, size_t *len);

#endif
