/* mail.h — the one check of a mail address, shared by the runbook validator
 * (notify.email.from / to, config/runbook_sections.c) and the message writer
 * (core/notify_mail.c), which refuses what the validator would. */
#ifndef RENEWD_CONFIG_MAIL_H
#define RENEWD_CONFIG_MAIL_H

/* 1 when a is fit for a header and an SMTP envelope: printable ASCII, one
 * '@' with text on both sides, none of the characters that end or group
 * addresses (space, <>()[],;:"\). */
int rd_mail_addr_ok(const char *a);

#endif
