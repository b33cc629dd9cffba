/* test_ssh_trust.c — `renewd hosts trust` (cmd_hosts) against the private
 * sshd (see helpers/sshd_harness.h; without root or sshd the program exits
 * 77): it must agree with the connect-time check, both being libssh2's
 * reading of known_hosts. A hashed entry and an entry with a trailing
 * comment are already trusted (the file is left alone); a changed key needs
 * --replace, which keeps the other lines; an unknown host is added; a plain
 * entry is port 22's, not the test sshd's. After
 * each, an exec through rd_ssh with the same file agrees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "base/err.h"
#include "cli/cli.h"
#include "sshd_harness.h"
#include "testutil.h"
#include "transport/ssh.h"

static char rb_path[400], kh[400];

/* A runbook with one target, t1, at the test sshd, whose known_hosts is kh. */
static void write_runbook(void) {
  FILE *f;
  snprintf(kh, sizeof kh, "%s/trust_known_hosts", tu_sshd_dir);
  snprintf(rb_path, sizeof rb_path, "%s/trust.json", tu_sshd_dir);
  f = fopen(rb_path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"name\": \"trust\",\n"
          " \"targets\": {\"hosts\": [{\"name\": \"t1\", \"address\": \"127.0.0.1\", \"port\": %d}]},\n"
          " \"ssh\": {\"user\": \"root\", \"identity\": \"%s\", \"known_hosts\": \"%s\"},\n"
          " \"certificate\": {\"cert\": \"/etc/ssl/web.crt\", \"key\": \"/etc/ssl/web.key\"},\n"
          " \"issuer\": {\"type\": \"scep\", \"url\": \"http://ca.example:8080/scep\",\n"
          "   \"ca_fingerprint\": \"sha256:abababababababababababababababababababababababababababababababab\",\n"
          "   \"challenge\": {\"env\": \"SCEP_CHALLENGE\"}},\n"
          " \"steps\": [{\"type\": \"test.echo\", \"params\": {\"msg\": \"hi\"}}]}\n",
          tu_sshd_port, tu_sshd_key, kh);
  fclose(f);
}

static void put_kh(const char *text) {
  FILE *f = fopen(kh, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static char *kh_text(void) {
  char *t = tu_read_file(kh, NULL);
  ck_assert_ptr_nonnull(t);
  return t;
}

/* The real key's line, without its newline: "[127.0.0.1]:PORT ssh-ed25519 B64". */
static void real_line(char *out, size_t n) {
  char *t = tu_read_file(tu_sshd_kh, NULL);
  ck_assert_ptr_nonnull(t);
  t[strcspn(t, "\n")] = 0;
  snprintf(out, n, "%s", t);
  free(t);
}

static int trust(int replace) {
  char *argv[] = {"hosts", "trust", "t1", "--runbook", rb_path, "--yes",
                  replace ? "--replace" : NULL, NULL};
  return cmd_hosts(replace ? 7 : 6, argv);
}

/* What the connect-time check says of the same file. */
static int exec_status(void) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res r = {0};
  rd_ssh_target t = tu_target("t1");
  int st;
  t.known_hosts = kh;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "true", NULL, 0, NULL, tu_on_res, &r), 0);
  tu_run_until(&loop, &r.done);
  tu_finish(&loop, m);
  st = r.status;
  tu_res_free(&r);
  return st;
}

START_TEST(hashed_entry_is_trusted) {
  char cmd[1000];
  write_runbook();
  char *real = tu_read_file(tu_sshd_kh, NULL);
  put_kh(real);
  free(real);
  snprintf(cmd, sizeof cmd, "ssh-keygen -q -H -f %s >/dev/null 2>&1 && rm -f %s.old", kh, kh);
  ck_assert_int_eq(system(cmd), 0);
  char *before = kh_text();
  ck_assert_ptr_nonnull(strstr(before, "|1|"));
  ck_assert_int_eq(exec_status(), 0);
  ck_assert_int_eq(trust(0), RD_EXIT_OK);
  char *after = kh_text();
  ck_assert_str_eq(after, before); /* nothing added */
  free(before);
  free(after);
}
END_TEST

START_TEST(trailing_comment_is_trusted) {
  char line[1024], text[1200];
  write_runbook();
  real_line(line, sizeof line);
  snprintf(text, sizeof text, "%s root@lab # enrolled by hand\n", line);
  put_kh(text);
  ck_assert_int_eq(exec_status(), 0);
  ck_assert_int_eq(trust(0), RD_EXIT_OK);
  char *after = kh_text();
  ck_assert_str_eq(after, text);
  free(after);
}
END_TEST

START_TEST(changed_key_needs_replace) {
  char line[1024], text[4000], want[4000];
  write_runbook();
  real_line(line, sizeof line);
  char *wrong = tu_read_file(tu_sshd_kh_wrong, NULL);
  snprintf(text, sizeof text, "# ours\n10.9.9.9 %s%s", strchr(wrong, ' ') + 1, wrong);
  put_kh(text);
  ck_assert_int_eq(exec_status(), RD_EHOSTKEY);
  ck_assert_int_eq(trust(0), RD_EXIT_FAILED);
  char *same = kh_text();
  ck_assert_str_eq(same, text);
  free(same);
  ck_assert_int_eq(trust(1), RD_EXIT_OK);
  snprintf(want, sizeof want, "# ours\n10.9.9.9 %s%s\n", strchr(wrong, ' ') + 1, line);
  char *after = kh_text();
  ck_assert_str_eq(after, want); /* the other host's line and the comment stay */
  free(after);
  free(wrong);
  ck_assert_int_eq(exec_status(), 0);
  ck_assert_int_eq(trust(0), RD_EXIT_OK); /* now already trusted */
}
END_TEST

START_TEST(unknown_host_is_added) {
  char line[1024], want[1200];
  write_runbook();
  unlink(kh);
  ck_assert_int_eq(exec_status(), RD_EHOSTKEY);
  ck_assert_int_eq(trust(0), RD_EXIT_OK);
  real_line(line, sizeof line);
  snprintf(want, sizeof want, "%s\n", line);
  char *after = kh_text();
  ck_assert_str_eq(after, want);
  free(after);
  ck_assert_int_eq(exec_status(), 0);
}
END_TEST

/* The sshd listens on a port other than 22: a plain "127.0.0.1 KEY" entry is
 * port 22's, for the connect-time check as for ssh and for trust, which
 * adds the [127.0.0.1]:PORT entry and leaves the plain one alone. */
START_TEST(plain_entry_is_port_22s) {
  char line[1024], text[1200], want[2400];
  write_runbook();
  real_line(line, sizeof line);
  snprintf(text, sizeof text, "127.0.0.1 %s\n", strchr(line, ' ') + 1);
  put_kh(text);
  ck_assert_int_eq(exec_status(), RD_EHOSTKEY);
  ck_assert_int_eq(trust(0), RD_EXIT_OK);
  snprintf(want, sizeof want, "%s%s\n", text, line);
  char *after = kh_text();
  ck_assert_str_eq(after, want);
  free(after);
  ck_assert_int_eq(exec_status(), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ssh_trust");
  TCase *tc = tcase_create("sshd");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, hashed_entry_is_trusted);
  tcase_add_test(tc, trailing_comment_is_trusted);
  tcase_add_test(tc, changed_key_needs_replace);
  tcase_add_test(tc, unknown_host_is_added);
  tcase_add_test(tc, plain_entry_is_port_22s);
  suite_add_tcase(s, tc);
  return tu_sshd_main("test_ssh_trust", s);
}
