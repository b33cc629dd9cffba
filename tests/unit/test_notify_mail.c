/* test_notify_mail.c — the e-mail channel: the message of an event (headers,
 * escaping, line lengths, RFC 2047 subject), the daily digest, and the
 * validation of notify.email in a runbook. Delivery through a real SMTP server is
 * tests/e2e/mail.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>

#include "base/util.h"
#include "config/runbook.h"
#include "base/err.h"
#include "core/notify.h"
#include "transport/global.h"
#include "transport/smtp.h"
#include "testutil.h"

static const char *const TWO[] = {"ops@example.test", "oncall@example.test", NULL};
#define NOW ((time_t)1795996800) /* Mon, 30 Nov 2026 00:00:00 +0000 */

static json_t *job_event(const char *host, const char *error) {
  return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:s}", "event", "job", "runbook", "lab-rb",
                   "host", host, "time", (json_int_t)NOW, "state", "ROLLED_BACK", "job_id",
                   (json_int_t)42, "error", error);
}

static char *compose(const json_t *ev, size_t *len) {
  char *m = rd_notify_mail_compose(ev, "renewd@example.test", TWO, "orch1", NOW, len);
  ck_assert_ptr_nonnull(m);
  ck_assert_uint_eq(strlen(m), *len);
  return m;
}

/* Every line ends in CRLF, none is longer than 998 bytes, no bare CR or LF. */
static void assert_lines(const char *m) {
  const char *p = m;
  while (*p) {
    const char *e = strstr(p, "\r\n");
    ck_assert_msg(e != NULL, "last line without CRLF: %s", p);
    ck_assert_int_le(e - p, 998);
    ck_assert_ptr_null(memchr(p, '\n', (size_t)(e - p)));
    ck_assert_ptr_null(memchr(p, '\r', (size_t)(e - p)));
    p = e + 2;
  }
}

/* The header block (up to the blank line), NUL-terminated; caller frees. */
static char *headers_of(const char *m) {
  const char *end = strstr(m, "\r\n\r\n");
  ck_assert_ptr_nonnull(end);
  return strndup(m, (size_t)(end - m) + 2);
}

START_TEST(job_message_headers_and_body) {
  json_t *ev = job_event("web17", "tls check: served certificate is not the new one");
  size_t len;
  char *m = compose(ev, &len), *h = headers_of(m);
  assert_lines(m);
  ck_assert_ptr_nonnull(strstr(h, "Date: Mon, 30 Nov 2026 00:00:00 +0000\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "From: <renewd@example.test>\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "To: <ops@example.test>,\r\n <oncall@example.test>\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "Subject: [renewd] web17: ROLLED_BACK (runbook lab-rb)\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "Content-Type: text/plain; charset=utf-8\r\n"));
  ck_assert_ptr_nonnull(strstr(h, "Auto-Submitted: auto-generated\r\n"));
  const char *id = strstr(h, "Message-ID: <");
  ck_assert_ptr_nonnull(id);
  ck_assert_ptr_nonnull(strstr(id, ".1795996800.renewd@example.test>\r\n"));
  ck_assert_int_eq(strspn(id + 13, "0123456789abcdef"), 24);
  ck_assert_ptr_nonnull(strstr(m, "\r\nHost:        web17\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nState:       ROLLED_BACK\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nJob:         42\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nError:       tls check: served certificate is not the new one\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nTime:        2026-11-30T00:00:00Z\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nSent by:     orch1\r\n"));
  /* two messages never share a Message-ID */
  size_t len2;
  char *m2 = compose(ev, &len2), *h2 = headers_of(m2);
  ck_assert_str_ne(strstr(h, "Message-ID:"), strstr(h2, "Message-ID:"));
  free(h2);
  free(m2);
  free(h);
  free(m);
  json_decref(ev);
}
END_TEST

/* A target's error text cannot add a header, a line or a terminal escape;
 * a long one is wrapped below SMTP's line limit. */
START_TEST(values_are_escaped) {
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  memcpy(big + 899, "\xc3\xa9", 2); /* straddles the wrap at 900: kept whole */
  json_t *ev = job_event("web\r\nBcc: evil@example.test", "");
  /* jansson itself refuses invalid UTF-8; the writer must not rely on it */
  json_object_set_new(ev, "error", json_string_nocheck("boom\r\nBcc: evil@example.test\x1b[31m\\\xff"));
  size_t len;
  char *m = compose(ev, &len), *h = headers_of(m);
  assert_lines(m);
  ck_assert_ptr_null(strstr(m, "\r\nBcc:"));
  ck_assert_ptr_nonnull(strstr(h, "Subject: [renewd] web\\x0d\\x0aBcc: evil@example.test: ROLLED_BACK"));
  ck_assert_ptr_nonnull(strstr(m, "Error:       boom\\x0d\\x0aBcc: evil@example.test\\x1b[31m\\x5c\\xff\r\n"));
  free(h);
  free(m);
  json_decref(ev);
  /* UTF-8 passes whole; what is not UTF-8 is escaped byte by byte: a lead
   * byte past 0xf4, an overlong form, a surrogate, a truncated sequence */
  ev = job_event("web17", "");
  json_object_set_new(ev, "error", json_string_nocheck("\xc3\xa9 \xf0\x9f\x94\x92 \xf8\x80\x80 "
                                                       "\xe0\x80\xaf \xed\xa0\x80 \xe2\x82"));
  m = compose(ev, &len);
  ck_assert_msg(strstr(m, "Error:       \xc3\xa9 \xf0\x9f\x94\x92 \\xf8\\x80\\x80 \\xe0\\x80\\xaf "
                          "\\xed\\xa0\\x80 \\xe2\\x82\r\n"), "%s", m);
  free(m);
  json_decref(ev);
  ev = job_event("web17", big);
  m = compose(ev, &len);
  assert_lines(m);
  ck_assert_ptr_nonnull(strstr(m, "\xc3\xa9"));
  free(m);
  json_decref(ev);
}
END_TEST

/* A subject that is not ASCII travels as RFC 2047 words that decode back. */
START_TEST(utf8_subject_is_encoded) {
  json_t *ev = job_event("h\xc3\xb4te-\xe2\x82\xac-tr\xc3\xa8s-long-nom-de-machine-pour-plier", "x");
  size_t len, n;
  char *m = compose(ev, &len), *h = headers_of(m), *s = strstr(h, "Subject: "), buf[512] = "";
  ck_assert_ptr_nonnull(s);
  assert_lines(m);
  s += 9;
  /* the words, folded onto continuation lines */
  for (char *w = s; (w = strstr(w, "=?UTF-8?B?")) && w < strstr(s, "\r\nMIME"); ) {
    char *end = strstr(w, "?=");
    unsigned char *dec;
    ck_assert_ptr_nonnull(end);
    ck_assert_int_le(end + 2 - w, 75);
    ck_assert_int_eq(rd_base64_decode(w + 10, (size_t)(end - w - 10), &dec, &n), 0);
    strncat(buf, (char *)dec, n);
    free(dec);
    w = end + 2;
  }
  ck_assert_str_eq(buf, "[renewd] h\xc3\xb4te-\xe2\x82\xac-tr\xc3\xa8s-long-nom-de-machine-pour-plier: "
                        "ROLLED_BACK (runbook lab-rb)");
  free(h);
  free(m);
  json_decref(ev);
  /* a subject longer than its cap is cut inside a character: still written */
  char longname[1600] = "x"; /* odd: the cap falls inside a character */
  for (int i = 0; i < 700; i++)
    strcat(longname, "\xc3\xa9");
  ev = job_event(longname, "x");
  m = compose(ev, &len);
  assert_lines(m);
  free(m);
  json_decref(ev);
}
END_TEST

START_TEST(expiry_message) {
  json_t *ev = json_pack("{s:s, s:s, s:s, s:I, s:f, s:I, s:I, s:s, s:s}", "event", "expiring",
                         "runbook", "lab-rb", "host", "web17", "time", (json_int_t)NOW,
                         "days_left", 1.96, "threshold_days", (json_int_t)7, "not_after",
                         (json_int_t)(NOW + 169344), "subject", "CN=web17.example.test",
                         "sha256", "ab:cd");
  size_t len;
  char *m = compose(ev, &len);
  assert_lines(m);
  ck_assert_ptr_nonnull(strstr(m, "Subject: [renewd] web17: certificate expires within 7 days (runbook lab-rb)\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nCertificate: CN=web17.example.test\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nExpires:     2026-12-01T23:02:24Z\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nDays left:   2.0\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nThreshold:   7 days\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "X-Renewd-Event: expiring\r\n"));
  free(m);
  json_decref(ev);
}
END_TEST

START_TEST(bad_addresses_refused) {
  json_t *ev = job_event("web17", "x");
  const char *const bad_to[] = {"ops@example.test", "evil@x\r\nBcc: y@z", NULL};
  const char *const none[] = {NULL};
  ck_assert_ptr_null(rd_notify_mail_compose(ev, "renewd@example.test", bad_to, "n", NOW, NULL));
  ck_assert_ptr_null(rd_notify_mail_compose(ev, "Renewd <renewd@example.test>", TWO, "n", NOW, NULL));
  ck_assert_ptr_null(rd_notify_mail_compose(ev, "renewd@example.test", none, "n", NOW, NULL));
  json_decref(ev);
}
END_TEST

/* The digest: counts in the subject, the jobs that need a person with their
 * reasons (escaped), the certificates soonest first. */
START_TEST(digest_message) {
  json_t *d = json_pack(
      "{s:s, s:s, s:[{s:s, s:I}, {s:s, s:I}, {s:s, s:I}], s:[{s:s, s:s, s:I, s:s}],"
      " s:{s:I, s:i, s:i, s:i, s:i}}",
      "runbook", "lab-rb", "date", "2026-11-30", "certificates", "host", "h-expired", "not_after",
      (json_int_t)(NOW - 60), "host", "h-soon", "not_after", (json_int_t)(NOW + 2 * 86400), "host",
      "h-later", "not_after", (json_int_t)(NOW + 40 * 86400), "attention", "host", "h-soon",
      "state", "ROLLED_BACK", "updated", (json_int_t)NOW, "error",
      "tls check failed\r\nX-Evil: 1", "last", "time", (json_int_t)NOW, "targets", 3, "due", 1,
      "renewed", 0, "failed", 1);
  size_t len;
  ck_assert_ptr_nonnull(d);
  char *m = rd_notify_digest_compose(d, "renewd@example.test", TWO, "orch1", NOW, &len);
  ck_assert_ptr_nonnull(m);
  assert_lines(m);
  ck_assert_ptr_nonnull(strstr(m, "\r\nSubject: [renewd] digest 2026-11-30 (runbook lab-rb): 3 "
                                  "certificates, 1 expired, 1 within 14 days, 1 jobs need attention\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "X-Renewd-Event: digest\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\nLast scan:   2026-11-30T00:00:00Z: 3 targets, 1 due, 0 renewed, 1 failed\r\n"));
  ck_assert_ptr_nonnull(strstr(m, "\r\n  h-soon       ROLLED_BACK since 2026-11-30T00:00:00Z: tls check failed\\x0d\\x0aX-Evil: 1\r\n"));
  ck_assert_ptr_null(strstr(m, "\r\nX-Evil"));
  const char *a = strstr(m, "\r\n  h-expired    2026-11-29T23:59:00Z  expired\r\n");
  const char *b = strstr(m, "\r\n  h-soon       2026-12-02T00:00:00Z     2.0 days\r\n");
  const char *c = strstr(m, "\r\n  h-later      2027-01-09T00:00:00Z    40.0 days\r\n");
  ck_assert_msg(a && b && c && a < b && b < c, "%s", m);
  free(m);
  json_decref(d);
}
END_TEST

/* ------------------------------------------------------------- validation */

static char dir[64];

/* Load a runbook whose notify.email is `email`; the first diagnostic (or
 * "" when it loads) in out. */
static void load_email(const char *email, char *out, size_t len) {
  char path[128];
  rd_runbook *rb = NULL;
  rd_diag d = {0};
  snprintf(path, sizeof path, "%s/rb.json", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"m\",\n"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"192.0.2.1\"}]},\n"
          " \"ssh\": {\"user\": \"ops\", \"identity\": \"/k\", \"known_hosts\": \"/kh\"},\n"
          " \"certificate\": {\"cert\": \"/etc/t1.crt\", \"key\": \"/etc/t1.key\"},\n"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.invalid/scep\",\n"
          "   \"ca_fingerprint\": \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
          " \"notify\": {\"email\": %s}}\n",
          email);
  fclose(f);
  int rc = rd_runbook_load(path, NULL, &rb, &d);
  snprintf(out, len, "%s", rc ? (d.n ? d.items[0].msg : "?") : "");
  if (!rc) {
    ck_assert_int_eq(d.n, 0);
    rd_runbook_free(rb);
  }
  rd_diag_free(&d);
  unlink(path);
}

#define GOOD_HEAD "{\"smtp\": \"smtp://mail.example.test:587\", \"from\": \"renewd@example.test\", "

START_TEST(email_validation) {
  char m[1024];
  snprintf(dir, sizeof dir, "/tmp/rd-mail-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  load_email(GOOD_HEAD "\"to\": [\"ops@example.test\"], \"user\": \"renewd\", "
                       "\"password\": {\"env\": \"SMTP_PW\"}, \"ca_bundle\": \"ca.pem\"}",
             m, sizeof m);
  ck_assert_str_eq(m, "");
  load_email(GOOD_HEAD "\"to\": [\"ops@example.test\"], \"starttls\": false}", m, sizeof m);
  ck_assert_str_eq(m, "");
  load_email("{\"smtp\": \"smtps://renewd:hunter2@mail.example.test\", \"from\": "
             "\"renewd@example.test\", \"to\": [\"ops@example.test\"]}", m, sizeof m);
  ck_assert_msg(strstr(m, "must not carry a login") && !strstr(m, "hunter2"), "%s", m);
  load_email(GOOD_HEAD "\"to\": [\"ops@example.test\", \"evil@x\\r\\nBcc: y@z\"]}", m, sizeof m);
  ck_assert_msg(strstr(m, "'notify.email.to[1]' must be a mail address"), "%s", m);
  load_email("{\"smtp\": \"smtp://m.test\", \"from\": \"Renewd <r@x.test>\", \"to\": [\"o@x.test\"]}",
             m, sizeof m);
  ck_assert_msg(strstr(m, "'notify.email.from' must be a mail address"), "%s", m);
  load_email(GOOD_HEAD "\"to\": [\"o@x.test\"], \"user\": \"u\", \"password\": {\"env\": \"P\"}, "
                       "\"starttls\": false}", m, sizeof m);
  ck_assert_msg(strstr(m, "would cross the network in clear"), "%s", m);
  load_email(GOOD_HEAD "\"to\": [\"o@x.test\"], \"password\": {\"env\": \"P\"}}", m, sizeof m);
  ck_assert_msg(strstr(m, "'notify.email.password' needs 'notify.email.user'"), "%s", m);
  load_email(GOOD_HEAD "\"to\": [\"o@x.test\"], \"user\": \"u\", \"password\": \"hunter2\"}", m,
             sizeof m);
  ck_assert_msg(strstr(m, "inline secret") && !strstr(m, "hunter2"), "%s", m);
  load_email(GOOD_HEAD "\"to\": [\"o@x.test\"], \"starttls\": \"yes\"}", m, sizeof m);
  ck_assert_msg(strstr(m, "true or false"), "%s", m);
  load_email(GOOD_HEAD "\"to\": [\"o@x.test\"], \"digest\": \"07:30\"}", m, sizeof m);
  ck_assert_str_eq(m, "");
  load_email(GOOD_HEAD "\"to\": [\"o@x.test\"], \"digest\": \"7:30\"}", m, sizeof m);
  ck_assert_msg(strstr(m, "'notify.email.digest' must be a local time of day HH:MM"), "%s", m);
  load_email(GOOD_HEAD "\"to\": [\"o@x.test\"], \"digest\": \"24:00\"}", m, sizeof m);
  ck_assert_msg(strstr(m, "'notify.email.digest' must be a local time of day HH:MM"), "%s", m);
  rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------- transport */

typedef struct smtp_seen {
  int calls, status, inside;
  char msg[512];
} smtp_seen;

static void smtp_cb(int status, const char *msg, void *arg) {
  smtp_seen *w = arg;
  w->calls++;
  w->status = status;
  snprintf(w->msg, sizeof w->msg, "%s", msg);
}

/* A port nobody listens on (bound, never listening, closed after). */
static int dead_port(int *fd) {
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t sl = sizeof sa;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  *fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(*fd, 0);
  ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&sa, &sl), 0);
  return ntohs(sa.sin_port);
}

/* Refused: the callback runs once, from the loop (never inside the call),
 * names the server and not the password; the loop closes clean. */
START_TEST(smtp_refused_once_on_the_loop) {
  uv_loop_t loop;
  smtp_seen w = {0};
  char url[64];
  int fd, port = dead_port(&fd);
  const char *const to[] = {"ops@example.test", NULL};
  snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
  rd_smtp_mail m = {.url = url, .from = "renewd@example.test", .to = to, .user = "renewd",
                    .password = "Sup3r-s3cret-pw", .starttls = 1, .timeout_ms = 5000,
                    .data = "Subject: x\r\n\r\nbody\r\n"};
  m.len = strlen(m.data);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_smtp_send(&loop, &m, smtp_cb, &w), 0);
  ck_assert_int_eq(w.calls, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  close(fd);
  ck_assert_int_eq(w.calls, 1);
  ck_assert_int_eq(w.status, RD_ECONNREFUSED);
  ck_assert_msg(strstr(w.msg, url) && !strstr(w.msg, "Sup3r"), "%s", w.msg);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(smtp_refuses_incomplete_mail) {
  uv_loop_t loop;
  smtp_seen w = {0};
  const char *const to[] = {"ops@example.test", NULL};
  const char *const none[] = {NULL};
  rd_smtp_mail ok = {.url = "smtp://127.0.0.1:1", .from = "r@example.test", .to = to,
                     .data = "x", .len = 1};
  rd_smtp_mail m = ok;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  m.to = none;
  ck_assert_int_eq(rd_smtp_send(&loop, &m, smtp_cb, &w), RD_EINVAL);
  m = ok;
  m.user = "u"; /* a login without a password */
  ck_assert_int_eq(rd_smtp_send(&loop, &m, smtp_cb, &w), RD_EINVAL);
  m = ok;
  m.from = NULL;
  ck_assert_int_eq(rd_smtp_send(&loop, &m, smtp_cb, &w), RD_EINVAL);
  ck_assert_int_eq(rd_smtp_send(&loop, &ok, NULL, &w), RD_EINVAL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w.calls, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("notify_mail");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, job_message_headers_and_body);
  tcase_add_test(tc, values_are_escaped);
  tcase_add_test(tc, utf8_subject_is_encoded);
  tcase_add_test(tc, expiry_message);
  tcase_add_test(tc, bad_addresses_refused);
  tcase_add_test(tc, digest_message);
  tcase_add_test(tc, email_validation);
  tcase_add_test(tc, smtp_refused_once_on_the_loop);
  tcase_add_test(tc, smtp_refuses_incomplete_mail);
  suite_add_tcase(s, tc);
  /* as main.c: curl and OpenSSL set up once, before any thread */
  if (rd_transport_global_init()) {
    fprintf(stderr, "test_notify_mail: rd_transport_global_init failed\n");
    return 1;
  }
  int rc = tu_run(s);
  rd_transport_global_cleanup();
  return rc;
}
