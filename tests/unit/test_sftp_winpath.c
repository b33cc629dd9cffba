/* test_sftp_winpath.c — Windows destinations (C:\Windows\Temp\renewd-….ps1):
 * base/path.c splits POSIX and Windows paths (runs everywhere), and an SFTP
 * put through the private sshd (helpers/sshd_harness.h: root and sshd, or the
 * sshd part exits 77) creates its temporary file in the destination's
 * Windows directory, "C:\dir\.name.renewd-<hex>", never ".C:\dir\name…"
 * (what a split at the last '/' made of it: a name Windows' sftp-server
 * cannot open). The sshd is a Linux one, so the destination is a relative
 * path: one file name in the login's home directory, whose creations an
 * inotify watch reports by name. */
#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "base/err.h"
#include "base/path.h"
#include "sshd_harness.h"
#include "transport/ssh.h"

/* ------------------------------------------------------------ path.c */

START_TEST(path_posix) {
  ck_assert_int_eq(rd_path_is_windows("/etc/ssl/x.pem"), 0);
  ck_assert_int_eq(rd_path_is_windows("x.pem"), 0);
  ck_assert_int_eq(rd_path_is_windows(""), 0);
  ck_assert_int_eq(rd_path_is_windows(NULL), 0);
  ck_assert_uint_eq(rd_path_dir_len("/etc/ssl/x.pem"), 9);
  ck_assert_uint_eq(rd_path_dir_len("/x"), 1);
  ck_assert_uint_eq(rd_path_dir_len("x.pem"), 0);
  ck_assert_uint_eq(rd_path_dir_len(""), 0);
  /* '\' is an ordinary character in a POSIX path */
  ck_assert_uint_eq(rd_path_dir_len("/srv/a\\b.pem"), 5);
  ck_assert_uint_eq(rd_path_dir_len("/srv/C:\\x\\y.ps1"), 5);
}
END_TEST

START_TEST(path_windows) {
  const char *p = "C:\\Windows\\Temp\\renewd-inv-0011.ps1";
  ck_assert_int_eq(rd_path_is_windows(p), 1);
  ck_assert_int_eq(rd_path_is_windows("c:/x/y"), 1);
  ck_assert_int_eq(rd_path_is_windows("\\\\srv\\share\\x"), 1);
  ck_assert_int_eq(rd_path_is_windows("C:x"), 1);
  ck_assert_int_eq(rd_path_is_windows("1:\\x"), 0);
  ck_assert_str_eq(p + rd_path_dir_len(p), "renewd-inv-0011.ps1");
  ck_assert_uint_eq(rd_path_dir_len("C:/Windows/Temp/x.ps1"), 16);
  ck_assert_uint_eq(rd_path_dir_len("C:/Windows\\Temp/x.ps1"), 16);
  ck_assert_uint_eq(rd_path_dir_len("C:\\Windows/Temp\\x.ps1"), 16);
  ck_assert_uint_eq(rd_path_dir_len("C:\\x.ps1"), 3);
  ck_assert_uint_eq(rd_path_dir_len("C:x.ps1"), 2);
  ck_assert_uint_eq(rd_path_dir_len("\\\\srv\\share\\x.ps1"), 12);
  ck_assert_uint_eq(rd_path_dir_len("C:\\dir\\"), 7);
}
END_TEST

/* ------------------------------------------------------------ through sshd */

/* Every name created or moved into dir (inotify, read after the fact). */
static size_t read_names(int fd, char names[][300], size_t max) {
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
  size_t n = 0;
  ssize_t len;
  while ((len = read(fd, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + len;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      if (ev->len && n < max)
        snprintf(names[n++], 300, "%s", ev->name);
      p += sizeof *ev + ev->len;
    }
  return n;
}

/* Entries of dir that are a temporary file of this test (either form). */
static int leftovers(const char *dir, const char *tmp_prefix, const char *tail) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d)
    return -1;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, tmp_prefix, strlen(tmp_prefix)) ||
        (e->d_name[0] == '.' && strstr(e->d_name, tail)))
      n++;
  closedir(d);
  return n;
}

START_TEST(sftp_put_windows_destination) {
  uv_loop_t loop;
  rd_ssh *m;
  tu_res a = {0}, b = {0}, c = {0};
  rd_ssh_target t = tu_target("win1");
  struct passwd *pw = getpwuid(0);
  unsigned char r[6];
  char dest[200], tmp_prefix[220], final[600], names[64][300];
  size_t n;
  int fd, left, tmp_seen = 0;
  ck_assert_ptr_nonnull(pw);
  RAND_bytes(r, sizeof r);
  /* a Windows destination as the plugins build it: drive, '\' separators */
  snprintf(dest, sizeof dest, "C:\\renewd-t%02x%02x%02x%02x%02x%02x\\Temp\\renewd-inv.ps1", r[0],
           r[1], r[2], r[3], r[4], r[5]);
  snprintf(tmp_prefix, sizeof tmp_prefix, "%.*s.renewd-inv.ps1.renewd-",
           (int)(strlen(dest) - strlen("renewd-inv.ps1")), dest);
  snprintf(final, sizeof final, "%s/%s", pw->pw_dir, dest);
  fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_ge(inotify_add_watch(fd, pw->pw_dir, IN_CREATE | IN_MOVED_TO), 0);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_put(m, &t, dest, "first\r\n", 7, 0600, NULL, tu_on_res, &a), 0);
  /* a second put replaces it (no POSIX shell on Windows: unlink + rename) */
  ck_assert_int_eq(rd_ssh_put(m, &t, dest, "second\r\n", 8, 0600, NULL, tu_on_res, &b), 0);
  ck_assert_int_eq(rd_ssh_get(m, &t, dest, NULL, tu_on_res, &c), 0);
  tu_run_until(&loop, &c.done);
  n = read_names(fd, names, 64);
  close(fd);
  left = leftovers(pw->pw_dir, tmp_prefix, dest + 3);
  ck_assert_int_eq(access(final, F_OK), 0);
  unlink(final);
  ck_assert_msg(!left, "a temporary file was left behind");
  ck_assert_msg(a.status == 0, "%s", a.msg);
  ck_assert_msg(b.status == 0, "%s", b.msg);
  ck_assert_msg(c.status == 0, "%s", c.msg);
  ck_assert_str_eq(c.out, "second\r\n");
  for (size_t i = 0; i < n; i++) {
    if (strstr(names[i], dest + 3) == NULL && strstr(names[i], "renewd-t") == NULL)
      continue; /* something else in the home directory */
    ck_assert_msg(names[i][0] != '.', "the temporary file was created as \"%s\"", names[i]);
    if (!strncmp(names[i], tmp_prefix, strlen(tmp_prefix)))
      tmp_seen++;
    else
      ck_assert_msg(!strcmp(names[i], dest), "unexpected file \"%s\"", names[i]);
  }
  ck_assert_int_eq(tmp_seen, 2);
  tu_finish(&loop, m);
  tu_res_free(&a);
  tu_res_free(&b);
  tu_res_free(&c);
}
END_TEST

int main(void) {
  Suite *p = suite_create("path");
  TCase *tp = tcase_create("split");
  SRunner *sr;
  int failed;
  tcase_add_test(tp, path_posix);
  tcase_add_test(tp, path_windows);
  suite_add_tcase(p, tp);
  sr = srunner_create(p);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  if (failed)
    return EXIT_FAILURE;

  Suite *s = suite_create("sftp_winpath");
  TCase *ts = tcase_create("sshd");
  tcase_set_timeout(ts, 60);
  tcase_add_test(ts, sftp_put_windows_destination);
  suite_add_tcase(s, ts);
  return tu_sshd_main("test_sftp_winpath", s);
}
