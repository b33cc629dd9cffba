/* log.h — the one logger of the process's own messages (serve, notify; the
 * engine's job lines move here next). One line per message on stderr:
 *
 *   text: "renewd: warning: notify: webhook: HTTP 500"
 *         "renewd: warning: host web17: runbook web, certificate /etc/c.pem,
 *          job 7: install: ..."      (a job's line always names all four)
 *   json: {"time":"2026-11-30T07:00:00Z","level":"warning","subject":"notify",
 *          "msg":"webhook: HTTP 500"} (+ "host","runbook","certificate",
 *          "job_id" on a job's line)
 *
 * When stderr is the systemd journal (JOURNAL_STREAM names its device and
 * inode) every line starts with the syslog level, "<4>", which journald
 * reads as the priority and strips. Control bytes in a value are escaped
 * (\xNN in text; JSON escapes its own), so one message is one line. Values
 * registered with rd_log_secret never appear: they are written as "***".
 * Thread-safe. */
#ifndef RENEWD_BASE_LOG_H
#define RENEWD_BASE_LOG_H
#include <stdio.h>

/* syslog's numbers, which journald's "<N>" prefix uses */
typedef enum rd_lv {
  RD_LV_ERR = 3,
  RD_LV_WARNING = 4,
  RD_LV_NOTICE = 5,
  RD_LV_INFO = 6,
  RD_LV_DEBUG = 7
} rd_lv;

/* "text" or "json": 0, else RD_EINVAL (and nothing changes). */
int rd_log_set_format(const char *name);
/* Where lines go (default stderr) and whether to prefix "<N>": -1 decides
 * from JOURNAL_STREAM and the stream's file. For tests and daemons. */
void rd_log_set_stream(FILE *f, int journald);
/* Mask value (at least 4 bytes; shorter ones are refused with RD_EINVAL)
 * in every later line. The logger keeps a copy until rd_log_reset. */
int rd_log_secret(const char *value);
/* Back to text on stderr, no secrets (their copies wiped). */
void rd_log_reset(void);

/* A line about subject ("notify", "serve", "digest"). */
void rd_log(rd_lv lv, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line about one job: host, runbook, certificate and job id (0: no
 * journal job yet) are always on it. */
typedef struct rd_log_job {
  const char *host, *runbook, *certificate;
  long long job_id;
} rd_log_job;
void rd_log_job_line(rd_lv lv, const rd_log_job *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
