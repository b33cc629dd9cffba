/* test_runbook_secret.c — secret references (config/secret.h): checking
 * {"file": PATH} / {"env": NAME} objects, reading them (files, variables,
 * trailing line breaks, refusals), and that no message ever holds the value. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "base/err.h"
#include "config/runbook.h"
#include "config/secret.h"
#include "testutil.h"

#define VALUE "Tr0ub4dor-s3cret"

static char dir[64];
static char path[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/rd-secret-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/secret", dir);
  unsetenv("RD_TEST_SECRET");
}

static void teardown(void) {
  chmod(path, 0600);
  unlink(path);
  rmdir(dir);
}

static void put(const char *data, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
  close(fd);
}

/* Read ref; on success the value, else NULL with err checked for the value. */
static char *read_ref(rd_secret_kind kind, const char *name, int want, char *err, size_t len) {
  rd_secret_ref ref = {kind, (char *)name};
  char *v = (char *)"unset";
  size_t n = 99;
  int rc;
  err[0] = '\0';
  rc = rd_secret_read(&ref, &v, &n, err, len);
  ck_assert_msg(rc == want, "%s: %d (%s), want %d", name, rc, err, want);
  if (rc) {
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(!strstr(err, VALUE), "message holds the secret: %s", err);
    ck_assert_msg(strstr(err, name), "message does not name %s: %s", name, err);
    return NULL;
  }
  ck_assert_uint_eq(n, strlen(v));
  return v;
}

START_TEST(file_trailing_newline) {
  char err[512], *v;
  put(VALUE "\r\n", strlen(VALUE) + 2);
  v = read_ref(RD_SECRET_FILE, path, 0, err, sizeof err);
  ck_assert_str_eq(v, VALUE);
  rd_secret_free(v);
  put(VALUE "\n\n", strlen(VALUE) + 2);
  v = read_ref(RD_SECRET_FILE, path, 0, err, sizeof err);
  ck_assert_str_eq(v, VALUE);
  rd_secret_free(v);
  put("a\nb\n", 4); /* only the trailing ones go */
  v = read_ref(RD_SECRET_FILE, path, 0, err, sizeof err);
  ck_assert_str_eq(v, "a\nb");
  rd_secret_free(v);
  put(VALUE, strlen(VALUE));
  v = read_ref(RD_SECRET_FILE, path, 0, err, sizeof err);
  ck_assert_str_eq(v, VALUE);
  rd_secret_free(v);
}
END_TEST

START_TEST(file_missing) {
  char err[512];
  read_ref(RD_SECRET_FILE, path, RD_ENOTFOUND, err, sizeof err);
  ck_assert_ptr_nonnull(strstr(err, "no such file"));
  ck_assert_ptr_nonnull(strstr(err, "secret file "));
}
END_TEST

START_TEST(file_unreadable) {
  char err[512];
  /* A regular file that read() refuses, even for root. */
  read_ref(RD_SECRET_FILE, "/proc/self/mem", RD_EIO, err, sizeof err);
  /* A directory, a FIFO: not a regular file (and a FIFO must not block). */
  read_ref(RD_SECRET_FILE, dir, RD_EINVAL, err, sizeof err);
  ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
  ck_assert_int_eq(mkfifo(path, 0600), 0);
  read_ref(RD_SECRET_FILE, path, RD_EINVAL, err, sizeof err);
  unlink(path);
  if (geteuid() != 0) { /* root reads mode 000 files */
    put(VALUE, strlen(VALUE));
    chmod(path, 0);
    read_ref(RD_SECRET_FILE, path, RD_EIO, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "ermission denied"));
  }
}
END_TEST

START_TEST(file_refused_contents) {
  char err[512], big[RD_SECRET_MAX + 2];
  put("", 0);
  read_ref(RD_SECRET_FILE, path, RD_EINVAL, err, sizeof err);
  ck_assert_ptr_nonnull(strstr(err, "empty"));
  put("\r\n", 2);
  read_ref(RD_SECRET_FILE, path, RD_EINVAL, err, sizeof err);
  put(VALUE "\0" VALUE, 2 * strlen(VALUE) + 1);
  read_ref(RD_SECRET_FILE, path, RD_EINVAL, err, sizeof err);
  ck_assert_ptr_nonnull(strstr(err, "NUL byte"));
  memset(big, 'x', sizeof big);
  memcpy(big, VALUE, strlen(VALUE));
  put(big, RD_SECRET_MAX + 1);
  read_ref(RD_SECRET_FILE, path, RD_EOVERFLOW, err, sizeof err);
  put(big, RD_SECRET_MAX);
  rd_secret_free(read_ref(RD_SECRET_FILE, path, 0, err, sizeof err));
}
END_TEST

START_TEST(env_values) {
  char err[512], *v;
  read_ref(RD_SECRET_ENV, "RD_TEST_SECRET", RD_ENOTFOUND, err, sizeof err);
  ck_assert_str_eq(err, "environment variable RD_TEST_SECRET: not set");
  setenv("RD_TEST_SECRET", "", 1);
  read_ref(RD_SECRET_ENV, "RD_TEST_SECRET", RD_EINVAL, err, sizeof err);
  ck_assert_str_eq(err, "environment variable RD_TEST_SECRET: empty");
  setenv("RD_TEST_SECRET", VALUE "\n", 1);
  v = read_ref(RD_SECRET_ENV, "RD_TEST_SECRET", 0, err, sizeof err);
  ck_assert_str_eq(v, VALUE);
  rd_secret_free(v);
  rd_secret_ref none = {RD_SECRET_NONE, NULL};
  v = NULL;
  ck_assert_int_eq(rd_secret_read(&none, &v, NULL, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_null(v);
}
END_TEST

/* One reference object: the check's verdict, the member it blames, and
 * what rd_secret_read_json makes of it. */
static void check_json(const char *text, int ok, const char *member, const char *msg) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
  rd_secret_problem p;
  rd_secret_kind kind = RD_SECRET_NONE;
  const char *name = NULL;
  char err[512] = "", *val = NULL;
  size_t n = 7;
  ck_assert_ptr_nonnull(v);
  int rc = rd_secret_check(v, "challenge", &p, &kind, &name);
  if (ok) {
    ck_assert_msg(rc == 0, "%s: %s", text, p.msg);
    ck_assert(kind == RD_SECRET_FILE || kind == RD_SECRET_ENV);
    ck_assert_ptr_nonnull(name);
  } else {
    ck_assert_msg(rc == RD_EINVAL, "%s accepted", text);
    if (member)
      ck_assert_str_eq(p.member, member);
    else
      ck_assert_ptr_null(p.member);
    ck_assert_msg(strstr(p.msg, msg), "%s: '%s' lacks '%s'", text, p.msg, msg);
    ck_assert_msg(!strstr(p.msg, VALUE), "message holds the secret: %s", p.msg);
    ck_assert_int_eq(rd_secret_read_json(v, &val, &n, err, sizeof err), RD_EINVAL);
    ck_assert_ptr_null(val);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(strstr(err, "secret reference"), "%s: %s", text, err);
    ck_assert_msg(!strstr(err, VALUE), "message holds the secret: %s", err);
  }
  json_decref(v);
}

START_TEST(references) {
  check_json("{\"file\": \"/etc/renewd/challenge\"}", 1, NULL, NULL);
  check_json("{\"env\": \"SCEP_CHALLENGE\"}", 1, NULL, NULL);
  check_json("{\"file\": \"/etc/c\", \"env\": \"X\"}", 0, NULL, "either 'file' or 'env', not both");
  check_json("{}", 0, NULL, "must be {\"file\": \"/etc/renewd/challenge\"} or {\"env\": \"NAME\"}");
  check_json("{\"fiel\": \"/etc/c\"}", 0, NULL, "must be {\"file\"");
  check_json("\"" VALUE "\"", 0, NULL, "got string");
  check_json("{\"file\": \"\"}", 0, "file", "non-empty string");
  check_json("{\"file\": 7}", 0, "file", "got integer");
  check_json("{\"env\": \"1-BAD\"}", 0, "env", "must be an environment variable name");
  check_json("{\"env\": \"" VALUE "\"}", 0, "env", "not the secret itself");
  check_json("{\"env\": [\"" VALUE "\"]}", 0, "env", "got array");
  check_json("{\"env\": \"X\", \"value\": \"" VALUE "\"}", 0, "value", "not part of a secret");
}
END_TEST

START_TEST(read_json) {
  json_t *ref = json_pack("{s:s}", "file", path);
  char err[512], *v = NULL;
  size_t n = 0;
  put(VALUE "\n", strlen(VALUE) + 1);
  ck_assert_int_eq(rd_secret_read_json(ref, &v, &n, err, sizeof err), 0);
  ck_assert_str_eq(v, VALUE);
  ck_assert_uint_eq(n, strlen(VALUE));
  rd_secret_free(v);
  unlink(path);
  ck_assert_int_eq(rd_secret_read_json(ref, &v, &n, err, sizeof err), RD_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(err, path));
  json_decref(ref);
  rd_secret_free(NULL);
}
END_TEST

/* A secret for a header line (the webhook token): a line break in it would
 * add headers of its own to the request. */
START_TEST(header_line) {
  json_t *ref = json_pack("{s:s}", "env", "RD_TEST_SECRET");
  char err[512], *h = (char *)"x";
  setenv("RD_TEST_SECRET", VALUE "\n", 1);
  ck_assert_int_eq(rd_secret_header(ref, "Authorization: Bearer ", &h, err, sizeof err), 0);
  ck_assert_str_eq(h, "Authorization: Bearer " VALUE);
  rd_secret_free(h);
  setenv("RD_TEST_SECRET", VALUE "\r\nX-Injected: 1", 1);
  ck_assert_int_eq(rd_secret_header(ref, "Authorization: Bearer ", &h, err, sizeof err),
                   RD_EINVAL);
  ck_assert_ptr_null(h);
  ck_assert_msg(strstr(err, "control character") && !strstr(err, VALUE), "%s", err);
  setenv("RD_TEST_SECRET", VALUE "\tx", 1);
  ck_assert_int_eq(rd_secret_header(ref, "A: ", &h, err, sizeof err), RD_EINVAL);
  unsetenv("RD_TEST_SECRET");
  ck_assert_int_eq(rd_secret_header(ref, "A: ", &h, err, sizeof err), RD_ENOTFOUND);
  ck_assert_str_eq(err, "environment variable RD_TEST_SECRET: not set");
  json_decref(ref);
}
END_TEST

/* The validator never repeats an inline secret back. */
START_TEST(validator_never_shows_inline_value) {
  static const char *const docs[] = {
      "{\"issuer\": {\"challenge\": \"" VALUE "\"}}",
      "{\"steps\": [{\"params\": {\"api_token\": \"" VALUE "\"}}]}",
      "{\"ssh\": {\"passphrase\": {\"file\": \"/x\", \"value\": \"" VALUE "\"}}}",
      "{\"notify\": {\"webhook\": {\"token\": {\"env\": \"" VALUE "\"}}}}",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    FILE *f = fopen(path, "w");
    rd_diag d = {0};
    rd_runbook *rb = NULL;
    char *buf = NULL;
    size_t len = 0;
    int found = 0;
    ck_assert_ptr_nonnull(f);
    fputs(docs[i], f);
    fclose(f);
    ck_assert_int_eq(rd_runbook_load(path, NULL, &rb, &d), RD_ECONFIG);
    FILE *m = open_memstream(&buf, &len);
    rd_diag_print(&d, m);
    fclose(m);
    ck_assert_msg(!strstr(buf, VALUE), "diagnostics hold the secret:\n%s", buf);
    found = strstr(buf, "inline secret") || strstr(buf, "unknown key 'value'") ||
            strstr(buf, "not the secret itself");
    ck_assert_msg(found, "no secret diagnostic:\n%s", buf);
    free(buf);
    rd_diag_free(&d);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("runbook_secret");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, file_trailing_newline);
  tcase_add_test(tc, file_missing);
  tcase_add_test(tc, file_unreadable);
  tcase_add_test(tc, file_refused_contents);
  tcase_add_test(tc, env_values);
  tcase_add_test(tc, references);
  tcase_add_test(tc, read_json);
  tcase_add_test(tc, header_line);
  tcase_add_test(tc, validator_never_shows_inline_value);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
