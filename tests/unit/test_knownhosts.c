/* test_knownhosts.c — transport/known_hosts.h: the known_hosts reading that
 * `renewd hosts trust` shares with the connect-time check (libssh2's), and
 * the atomic rewrite. Keys come from ssh-keygen, hashed entries from
 * `ssh-keygen -H`; without ssh-keygen the program exits 77. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "testutil.h"
#include "transport/global.h"
#include "transport/known_hosts.h"

static char dir[256];

typedef struct tkey {
  char type[64];
  unsigned char *blob;
  size_t len;
  char b64[256]; /* as in a .pub file */
  char fp[128];
} tkey;

static tkey ka, kb, kc; /* three ed25519 keys */

/* Run "PREFIX PATH SUFFIX" through the shell; it must succeed. */
static void sh(const char *prefix, const char *path, const char *suffix) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s%s%s", prefix, path, suffix);
  ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static void load_key(tkey *k, const char *name) {
  char path[400], line[1024], cmd[600];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s.pub", dir, name);
  f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(fgets(line + 2, sizeof line - 2, f));
  fclose(f);
  line[0] = 'x'; /* the parser wants "HOSTS TYPE BASE64" */
  line[1] = ' ';
  ck_assert_int_eq(rd_known_hosts_parse_key(line, k->type, sizeof k->type, &k->blob, &k->len), 0);
  ck_assert_int_eq(sscanf(line + 2, "%*s %255s", k->b64), 1);
  snprintf(cmd, sizeof cmd, "ssh-keygen -lf %s | cut -d' ' -f2", path);
  f = popen(cmd, "r");
  ck_assert_ptr_nonnull(fgets(k->fp, sizeof k->fp, f));
  pclose(f);
  k->fp[strcspn(k->fp, "\n")] = 0;
}

static void setup(void) {
  snprintf(dir, sizeof dir, "%s/kh-test-XXXXXX", BUILD_DIR);
  ck_assert_ptr_nonnull(mkdtemp(dir));
  sh("cd ", dir, " && ssh-keygen -q -t ed25519 -N '' -f a && ssh-keygen -q -t ed25519 -N '' -f b"
              " && ssh-keygen -q -t ed25519 -N '' -f c");
  load_key(&ka, "a");
  load_key(&kb, "b");
  load_key(&kc, "c");
}

static void teardown(void) {
  sh("rm -rf ", dir, "");
  free(ka.blob);
  free(kb.blob);
  free(kc.blob);
}

/* path of a fresh known_hosts in dir with the given text */
static const char *kh_file(const char *name, const char *text) {
  static char path[400];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static rd_kh_verdict check(const char *path, const char *addr, const char *name, int port,
                           const tkey *k, char *efp) {
  rd_kh_host h = {addr, name, port};
  rd_kh_key key = {k->type, k->blob, k->len};
  rd_kh_verdict v = 99;
  char msg[512] = "";
  int rc = rd_known_hosts_check(path, &h, &key, &v, efp, efp ? 128 : 0, msg, sizeof msg);
  ck_assert_msg(rc == 0, "%s", msg);
  return v;
}

START_TEST(hashed_entry) {
  char text[1024], efp[128];
  snprintf(text, sizeof text, "10.0.0.7 ssh-ed25519 %s\n[10.0.0.8]:2222 ssh-ed25519 %s\n",
           ka.b64, kb.b64);
  const char *p = kh_file("hashed", text);
  sh("ssh-keygen -q -H -f ", p, " >/dev/null 2>&1");
  char *got = tu_read_file(p, NULL);
  ck_assert_ptr_null(strstr(got, "10.0.0.7")); /* really hashed */
  ck_assert_ptr_nonnull(strstr(got, "|1|"));
  free(got);
  ck_assert_int_eq(check(p, "10.0.0.7", NULL, 22, &ka, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "10.0.0.7", NULL, 22, &kc, efp), RD_KH_CHANGED);
  ck_assert_str_eq(efp, ka.fp);
  ck_assert_int_eq(check(p, "10.0.0.8", NULL, 2222, &kb, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "10.0.0.9", NULL, 22, &ka, NULL), RD_KH_UNKNOWN);
}
END_TEST

START_TEST(trailing_comment_and_names) {
  char text[1024];
  snprintf(text, sizeof text,
           "# a comment line\n\n"
           "10.0.0.7 ssh-ed25519 %s root@somewhere # and more\n"
           "web9,10.0.0.9 ssh-ed25519 %s\n",
           ka.b64, kb.b64);
  const char *p = kh_file("comment", text);
  /* a trailing comment is a comment, not a different key */
  ck_assert_int_eq(check(p, "10.0.0.7", "web7", 22, &ka, NULL), RD_KH_TRUSTED);
  /* several names on a line; the target's name is tried after its address */
  ck_assert_int_eq(check(p, "10.0.0.9", NULL, 22, &kb, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "192.0.2.1", "web9", 22, &kb, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "192.0.2.1", "web9", 22, &ka, NULL), RD_KH_CHANGED);
  ck_assert_int_eq(check(p, "192.0.2.1", NULL, 22, &kb, NULL), RD_KH_UNKNOWN);
}
END_TEST

START_TEST(port_form) {
  char text[1024], efp[128];
  snprintf(text, sizeof text, "[127.0.0.1]:2200 ssh-ed25519 %s\n", ka.b64);
  const char *p = kh_file("port", text);
  ck_assert_int_eq(check(p, "127.0.0.1", NULL, 2200, &ka, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "127.0.0.1", NULL, 2200, &kb, efp), RD_KH_CHANGED);
  ck_assert_str_eq(efp, ka.fp);
  /* the entry is for port 2200 only; a plain entry is port 22's (as for ssh) */
  ck_assert_int_eq(check(p, "127.0.0.1", NULL, 22, &ka, NULL), RD_KH_UNKNOWN);
  ck_assert_int_eq(check(p, "127.0.0.1", NULL, 2201, &ka, NULL), RD_KH_UNKNOWN);
  snprintf(text, sizeof text, "127.0.0.1 ssh-ed25519 %s\n", ka.b64);
  p = kh_file("port22", text);
  ck_assert_int_eq(check(p, "127.0.0.1", NULL, 22, &ka, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "127.0.0.1", NULL, 0, &ka, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "127.0.0.1", NULL, 2200, &kb, NULL), RD_KH_UNKNOWN);
}
END_TEST

START_TEST(missing_and_unreadable) {
  char path[400], msg[512];
  rd_kh_host h = {"10.0.0.7", NULL, 22};
  rd_kh_key k = {ka.type, ka.blob, ka.len};
  rd_kh_verdict v = 99;
  snprintf(path, sizeof path, "%s/none", dir);
  ck_assert_int_eq(rd_known_hosts_check(path, &h, &k, &v, NULL, 0, msg, sizeof msg), 0);
  ck_assert_int_eq(v, RD_KH_UNKNOWN);
  /* a line libssh2 cannot parse: the file cannot be used (as at connect time) */
  const char *p = kh_file("broken", "10.0.0.7\n");
  ck_assert_int_eq(rd_known_hosts_check(p, &h, &k, &v, NULL, 0, msg, sizeof msg), RD_ECONFIG);
  ck_assert_msg(strstr(msg, "cannot read known_hosts ") == msg, "%s", msg);
}
END_TEST

START_TEST(replace_keeps_other_lines) {
  char text[4096], want[4096], hashed_other[1024];
  struct stat st;
  /* a hashed entry of another host, kept byte for byte */
  snprintf(text, sizeof text, "10.0.0.99 ssh-ed25519 %s\n", kc.b64);
  const char *p = kh_file("other", text);
  sh("ssh-keygen -q -H -f ", p, " >/dev/null 2>&1");
  char *h = tu_read_file(p, NULL);
  snprintf(hashed_other, sizeof hashed_other, "%s", h);
  free(h);
  snprintf(text, sizeof text,
           "# managed by hand\n"
           "10.0.0.1 ssh-ed25519 %s\n"
           "[10.0.0.7]:2222 ssh-ed25519 %s old key # comment\n"
           "%s"
           "10.0.0.7 ssh-ed25519 %s\n" /* same address, port 22: another host */
           "[web7]:2222 ssh-ed25519 %s\n" /* the target's name, old key */
           "10.0.0.2 ssh-ed25519 %s",  /* no final newline */
           kb.b64, ka.b64, hashed_other, kc.b64, ka.b64, kc.b64);
  p = kh_file("replace", text);
  chmod(p, 0600);
  rd_kh_host host = {"10.0.0.7", "web7", 2222};
  rd_kh_key k = {kb.type, kb.blob, kb.len};
  char msg[512] = "";
  ck_assert_int_eq(check(p, "10.0.0.7", "web7", 2222, &kb, NULL), RD_KH_CHANGED);
  ck_assert_msg(rd_known_hosts_store(p, &host, &k, 1, msg, sizeof msg) == 0, "%s", msg);
  snprintf(want, sizeof want,
           "# managed by hand\n"
           "10.0.0.1 ssh-ed25519 %s\n"
           "%s"
           "10.0.0.7 ssh-ed25519 %s\n"
           "10.0.0.2 ssh-ed25519 %s\n"
           "[10.0.0.7]:2222 ssh-ed25519 %s\n",
           kb.b64, hashed_other, kc.b64, kc.b64, kb.b64);
  char *got = tu_read_file(p, NULL);
  ck_assert_str_eq(got, want);
  free(got);
  ck_assert_int_eq(stat(p, &st), 0);
  ck_assert_int_eq((int)(st.st_mode & 07777), 0600); /* the mode is kept */
  ck_assert_int_eq(check(p, "10.0.0.7", "web7", 2222, &kb, NULL), RD_KH_TRUSTED);
  ck_assert_int_eq(check(p, "10.0.0.99", NULL, 22, &kc, NULL), RD_KH_TRUSTED);
  /* no temporary file is left */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep renewd-)\"", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Found by tests/fuzz/fuzz_known_hosts: libssh2 1.10's readline looks one
 * byte past the length it is given; a line handed over without its newline
 * but followed by one ("host TYPE  <spaces>") made it count the key's
 * length below zero (malloc of SIZE_MAX: an abort under ASan). */
START_TEST(replace_keeps_odd_line) {
  char text[1024], want[1024], msg[512] = "";
  const char odd[] = "11% \xff\xff\xff\xff\xff\xff\xff\xff             \n";
  snprintf(text, sizeof text, "%s10.0.0.7 ssh-ed25519 %s\n", odd, ka.b64);
  const char *p = kh_file("odd", text);
  rd_kh_host host = {"10.0.0.7", NULL, 22};
  rd_kh_key k = {kb.type, kb.blob, kb.len};
  ck_assert_msg(rd_known_hosts_store(p, &host, &k, 1, msg, sizeof msg) == 0, "%s", msg);
  snprintf(want, sizeof want, "%s10.0.0.7 ssh-ed25519 %s\n", odd, kb.b64);
  char *got = tu_read_file(p, NULL);
  ck_assert_str_eq(got, want);
  free(got);
}
END_TEST

START_TEST(add_to_missing_and_existing) {
  char path[400], msg[512] = "", want[1024];
  struct stat st;
  rd_kh_host h = {"10.0.0.5", "web5", 22};
  rd_kh_key k = {ka.type, ka.blob, ka.len};
  snprintf(path, sizeof path, "%s/new_known_hosts", dir);
  ck_assert_msg(rd_known_hosts_store(path, &h, &k, 0, msg, sizeof msg) == 0, "%s", msg);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq((int)(st.st_mode & 07777), 0644);
  /* adding does not touch the other key types' or hosts' entries */
  rd_kh_host h2 = {"10.0.0.6", NULL, 22};
  rd_kh_key k2 = {kb.type, kb.blob, kb.len};
  ck_assert_msg(rd_known_hosts_store(path, &h2, &k2, 0, msg, sizeof msg) == 0, "%s", msg);
  snprintf(want, sizeof want, "10.0.0.5 ssh-ed25519 %s\n10.0.0.6 ssh-ed25519 %s\n", ka.b64,
           kb.b64);
  char *got = tu_read_file(path, NULL);
  ck_assert_str_eq(got, want);
  free(got);
  /* a directory that does not exist: the message names the file */
  snprintf(path, sizeof path, "%s/nope/known_hosts", dir);
  ck_assert_int_eq(rd_known_hosts_store(path, &h, &k, 0, msg, sizeof msg), RD_EIO);
  ck_assert_msg(strstr(msg, "known_hosts ") == msg && strstr(msg, "cannot rewrite it") != NULL,
                "%s", msg);
}
END_TEST

START_TEST(parse_key) {
  char type[64];
  unsigned char *blob = NULL;
  size_t len = 0;
  ck_assert_int_eq(rd_known_hosts_parse_key("h ssh-ed25519", type, sizeof type, &blob, &len),
                   RD_EINVAL);
  ck_assert_int_eq(rd_known_hosts_parse_key("h ssh-ed25519 !!!", type, sizeof type, &blob, &len),
                   RD_EINVAL);
  ck_assert_int_eq(rd_known_hosts_parse_key("[h]:2 ssh-ed25519 AAAA", type, sizeof type, &blob,
                                            &len), 0);
  ck_assert_str_eq(type, "ssh-ed25519");
  ck_assert_uint_eq(len, 3);
  free(blob);
}
END_TEST

int main(void) {
  if (access("/usr/bin/ssh-keygen", X_OK)) {
    printf("test_knownhosts: SKIP: needs /usr/bin/ssh-keygen (Debian: openssh-client) to make "
           "keys and hashed entries\n");
    return 77;
  }
  Suite *s = suite_create("known_hosts");
  TCase *tc = tcase_create("file");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, hashed_entry);
  tcase_add_test(tc, trailing_comment_and_names);
  tcase_add_test(tc, port_form);
  tcase_add_test(tc, missing_and_unreadable);
  tcase_add_test(tc, replace_keeps_other_lines);
  tcase_add_test(tc, replace_keeps_odd_line);
  tcase_add_test(tc, add_to_missing_and_existing);
  tcase_add_test(tc, parse_key);
  suite_add_tcase(s, tc);
  if (rd_transport_global_init())
    return EXIT_FAILURE;
  int rc = tu_run(s);
  rd_transport_global_cleanup();
  return rc;
}
