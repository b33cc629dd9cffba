/* test_log.c — the one logger (base/log.h): text and JSON lines, a job's
 * line naming host, runbook, certificate and job id, journald's "<N>"
 * prefix only when stderr is the journal, one line per message, and no
 * registered secret ever in a line — including the SMTP password that
 * notify_mail.c registers when it reads it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "core/notify.h"
#include "transport/global.h"
#include "testutil.h"

static char *buf;
static size_t len;
static FILE *mem;

static void capture(int journald) {
  rd_log_reset();
  buf = NULL;
  len = 0;
  mem = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(mem);
  rd_log_set_stream(mem, journald);
}

/* What was logged since capture(); the caller frees. */
static char *logged(void) {
  ck_assert_int_eq(fclose(mem), 0);
  rd_log_reset();
  return buf;
}

static const rd_log_job JOB = {"web17", "lab", "/etc/ssl/web.pem", 42};

START_TEST(text_lines) {
  capture(0);
  rd_log(RD_LV_WARNING, "notify", "webhook: %s (HTTP %d)", "refused", 500);
  rd_log_job_line(RD_LV_ERR, &JOB, "install: %s", "disk full");
  rd_log_job_line(RD_LV_INFO, &(rd_log_job){"h", "r", "c", 0}, "not due");
  char *t = logged();
  ck_assert_str_eq(t, "renewd: warning: notify: webhook: refused (HTTP 500)\n"
                      "renewd: error: host web17: runbook lab, certificate /etc/ssl/web.pem, "
                      "job 42: install: disk full\n"
                      "renewd: info: host h: runbook r, certificate c, no job: not due\n");
  free(t);
}
END_TEST

START_TEST(json_lines) {
  capture(0);
  ck_assert_int_eq(rd_log_set_format("json"), 0);
  rd_log(RD_LV_WARNING, "notify", "webhook: \"quoted\"");
  rd_log_job_line(RD_LV_ERR, &JOB, "install: failed");
  char *t = logged(), *nl = strchr(t, '\n');
  ck_assert_ptr_nonnull(nl);
  *nl = 0;
  json_error_t e;
  json_t *a = json_loads(t, 0, &e), *b = json_loads(nl + 1, 0, &e);
  ck_assert_msg(a && b, "not JSON: %s", e.text);
  ck_assert_str_eq(json_string_value(json_object_get(a, "level")), "warning");
  ck_assert_str_eq(json_string_value(json_object_get(a, "subject")), "notify");
  ck_assert_str_eq(json_string_value(json_object_get(a, "msg")), "webhook: \"quoted\"");
  ck_assert_int_eq(strlen(json_string_value(json_object_get(a, "time"))), 20);
  ck_assert_str_eq(json_string_value(json_object_get(b, "host")), "web17");
  ck_assert_str_eq(json_string_value(json_object_get(b, "runbook")), "lab");
  ck_assert_str_eq(json_string_value(json_object_get(b, "certificate")), "/etc/ssl/web.pem");
  ck_assert_int_eq(json_integer_value(json_object_get(b, "job_id")), 42);
  ck_assert_str_eq(json_string_value(json_object_get(b, "level")), "error");
  json_decref(a);
  json_decref(b);
  free(t);
  ck_assert_int_eq(rd_log_set_format("xml"), RD_EINVAL);
  ck_assert_int_eq(rd_log_set_format(NULL), RD_EINVAL);
}
END_TEST

/* One message is one line: a newline prints as a space (rd_escape's
 * one-line form, as every printed value), escapes are escaped; invalid
 * UTF-8 still makes a JSON line. */
START_TEST(one_line_per_message) {
  capture(0);
  rd_log(RD_LV_WARNING, "x", "a\nrenewd: error: forged\x1b[2J");
  char *t = logged();
  ck_assert_str_eq(t, "renewd: warning: x: a renewd: error: forged\\x1b[2J\n");
  free(t);
  capture(0);
  rd_log_set_format("json");
  rd_log_job_line(RD_LV_ERR, &(rd_log_job){"h\xff", "r", "c", 1}, "bad \xc3 byte\nnext");
  t = logged();
  ck_assert_ptr_eq(strchr(t, '\n'), t + strlen(t) - 1);
  json_t *o = json_loads(t, 0, NULL);
  ck_assert_ptr_nonnull(o);
  ck_assert_str_eq(json_string_value(json_object_get(o, "host")), "h\\xff");
  ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), "bad \\xc3 byte\\x0anext");
  json_decref(o);
  free(t);
}
END_TEST

START_TEST(journald_prefix_only_on_the_journal) {
  char path[] = "/tmp/test_log_XXXXXX", js[64];
  int fd = mkstemp(path);
  struct stat st;
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w+");
  ck_assert_int_eq(fstat(fd, &st), 0);
  snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
           (unsigned long long)st.st_ino);
  setenv("JOURNAL_STREAM", js, 1);
  rd_log_reset();
  rd_log_set_stream(f, -1);
  rd_log(RD_LV_WARNING, "a", "on the journal");
  rd_log(RD_LV_ERR, "a", "an error");
  rd_log_reset();
  setenv("JOURNAL_STREAM", "1:2", 1); /* another file: a pipe, a terminal */
  rd_log_set_stream(f, -1);
  rd_log(RD_LV_WARNING, "a", "elsewhere");
  rd_log_reset();
  unsetenv("JOURNAL_STREAM");
  fflush(f);
  char *t = tu_read_file(path, NULL);
  ck_assert_str_eq(t, "<4>renewd: warning: a: on the journal\n"
                      "<3>renewd: error: a: an error\n"
                      "renewd: warning: a: elsewhere\n");
  free(t);
  fclose(f);
  unlink(path);
}
END_TEST

START_TEST(secrets_are_masked) {
  capture(0);
  ck_assert_int_eq(rd_log_secret("abc"), RD_EINVAL); /* too short to mask safely */
  ck_assert_int_eq(rd_log_secret("Sup3r-s3cret"), 0);
  ck_assert_int_eq(rd_log_secret("Sup3r-s3cret"), 0); /* once is enough */
  rd_log(RD_LV_WARNING, "smtp", "login as renewd:Sup3r-s3cret failed (Sup3r-s3cret)");
  rd_log_job_line(RD_LV_ERR, &(rd_log_job){"Sup3r-s3cret.example", "r", "c", 3}, "x");
  rd_log_set_format("json");
  rd_log(RD_LV_WARNING, "smtp", "pw=Sup3r-s3cret");
  char *t = logged();
  ck_assert_msg(!strstr(t, "Sup3r-s3cret"), "%s", t);
  ck_assert_ptr_nonnull(strstr(t, "login as renewd:*** failed (***)"));
  ck_assert_ptr_nonnull(strstr(t, "host ***.example"));
  ck_assert_ptr_nonnull(strstr(t, "\"msg\":\"pw=***\""));
  free(t);
  /* reset forgets them */
  capture(0);
  rd_log(RD_LV_WARNING, "x", "Sup3r-s3cret");
  t = logged();
  ck_assert_str_eq(t, "renewd: warning: x: Sup3r-s3cret\n");
  free(t);
}
END_TEST

/* ---- notify_mail.c registers the SMTP password it reads --------------- */

static int dead_port(int *fd) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  *fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&sa, &sl), 0);
  return ntohs(sa.sin_port);
}

static void delivered(void *arg) { (*(int *)arg)++; }

START_TEST(smtp_password_never_logged) {
  uv_loop_t loop;
  int fd, port = dead_port(&fd), done = 0;
  char url[64];
  const char *pw = "Mail-pw-0f-renewd";
  snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
  setenv("RD_TEST_LOG_SMTP_PW", pw, 1);
  json_t *cfg = json_pack("{s:s, s:s, s:[s], s:s, s:{s:s}}", "smtp", url, "from",
                          "renewd@example.test", "to", "ops@example.test", "user", "renewd",
                          "password", "env", "RD_TEST_LOG_SMTP_PW");
  capture(0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(rd_mail_deliver(&loop, cfg, "Subject: x\r\n\r\nbody\r\n", 21, "host h1: FAILED",
                                   delivered, &done),
                   0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(fd);
  ck_assert_int_eq(done, 1);
  /* whatever is logged later (a server echoing it, a careless message) */
  rd_log(RD_LV_WARNING, "notify", "server said: 535 bad password '%s'", pw);
  char *t = logged();
  ck_assert_msg(strstr(t, "renewd: warning: notify: e-mail about host h1: FAILED: smtp://"), "%s",
                t);
  ck_assert_msg(!strstr(t, pw), "%s", t);
  ck_assert_ptr_nonnull(strstr(t, "bad password '***'"));
  free(t);
  json_decref(cfg);
  unsetenv("RD_TEST_LOG_SMTP_PW");
}
END_TEST

int main(void) {
  Suite *s = suite_create("log");
  TCase *tc = tcase_create("log");
  tcase_add_test(tc, text_lines);
  tcase_add_test(tc, json_lines);
  tcase_add_test(tc, one_line_per_message);
  tcase_add_test(tc, journald_prefix_only_on_the_journal);
  tcase_add_test(tc, secrets_are_masked);
  tcase_add_test(tc, smtp_password_never_logged);
  suite_add_tcase(s, tc);
  if (rd_transport_global_init()) {
    fprintf(stderr, "test_log: rd_transport_global_init failed\n");
    return 1;
  }
  int rc = tu_run(s);
  rd_transport_global_cleanup();
  return rc;
}
