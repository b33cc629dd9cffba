/* test_remote.c — remote.c's builders and parsers run for real, and ssh.c
 * against a private sshd.
 *
 * POSIX: the built command runs through a local /bin/sh exactly as sshd
 * would run it (`sh -c COMMAND`, parameters on stdin), and every hostile
 * value must come back byte-for-byte through rd_out_file.
 * Windows: the -EncodedCommand payload is decoded back and compared; the
 * texts are also written to BUILD_DIR/ps-texts/ for the PowerShell parser
 * check of tests/e2e/powershell_parse.sh.
 * SSH: when running as root with /usr/sbin/sshd, an sshd on 127.0.0.1 with
 * throwaway keys serves exec, stdin/stdout/stderr, timeouts, host key
 * refusals, SFTP put/get and shutdown with queued work; every test closes
 * its loop with uv_loop_close() == 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "base/err.h"
#include "transport/remote.h"
#include "transport/ssh.h"
#include "testutil.h"
#include "base/util.h"

/* ------------------------------------------------------------------ local sh */

typedef struct lres {
  char *out, *err;
  size_t out_len, err_len;
  int exit;
} lres;

static char *slurp_fd(int fd, size_t *len) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  ssize_t r;
  for (;;) {
    if (n + 4096 + 1 > cap)
      b = realloc(b, cap *= 2);
    r = read(fd, b + n, cap - n - 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  b[n] = 0;
  *len = n;
  return b;
}

/* sh -c COMMAND < in, like sshd runs an exec request. */
static void run_local(const char *command, const void *in, size_t inlen, lres *r) {
  char inpath[] = "/tmp/rdtest-in-XXXXXX", errpath[] = "/tmp/rdtest-err-XXXXXX";
  int infd = mkstemp(inpath), errfd = mkstemp(errpath), p[2];
  ck_assert_int_ge(infd, 0);
  ck_assert_int_ge(errfd, 0);
  ck_assert_int_eq((int)write(infd, in, inlen), (int)inlen);
  lseek(infd, 0, SEEK_SET);
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(infd, 0);
    dup2(p[1], 1);
    dup2(errfd, 2);
    close(p[0]);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  r->out = slurp_fd(p[0], &r->out_len);
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  r->exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  lseek(errfd, 0, SEEK_SET);
  r->err = slurp_fd(errfd, &r->err_len);
  close(infd);
  close(errfd);
  unlink(inpath);
  unlink(errpath);
}

static void lres_free(lres *r) {
  free(r->out);
  free(r->err);
}

/* Returns every parameter as a file (f_NAME) and as its variable (v_NAME). */
static const char ECHO_SCRIPT[] =
    "for rd_f in \"$RD_P\"/*; do\n"
    "  [ -e \"$rd_f\" ] || continue\n"
    "  rd_n=${rd_f##*/}\n"
    "  rd_out_file \"f_$rd_n\" \"$rd_f\"\n"
    "  eval \"rd_v=\\${P_$rd_n}\"\n"
    "  rd_out \"v_$rd_n\" \"$rd_v\"\n"
    "done\n"
    "echo 'stray output goes to stderr'\n"
    "rd_out_b64 binary_b64 \"$RD_P/binary\"\n"
    "rd_out tmpdir \"$RD_P\"\n";

#define PWNED "/tmp/renewd-test-pwned"

static json_t *hostile_params(void) {
  json_t *p = json_object();
  unsigned char bin[255], *big = malloc(65536);
  for (int i = 0; i < 255; i++)
    bin[i] = (unsigned char)(i + 1);
  for (int i = 0; i < 65536; i++)
    big[i] = (unsigned char)(1 + (i * 7919) % 255); /* NUL-free, every byte */
  json_object_set_new(p, "squote", json_string("it's a 'quoted' value'"));
  json_object_set_new(p, "dquote", json_string("\"double\" \"\"quotes\""));
  json_object_set_new(p, "backtick", json_string("`touch " PWNED "`"));
  json_object_set_new(p, "subst", json_string("$(touch " PWNED ") ${HOME} $HOME $((1+1))"));
  json_object_set_new(p, "semi", json_string("a; touch " PWNED "; b && c || d | e & f"));
  json_object_set_new(p, "breakout", json_string("x'; touch " PWNED "; echo '"));
  json_object_set_new(p, "newlines", json_string("line1\nline2\n\nline4"));
  json_object_set_new(p, "trailing_nl", json_string("value\n\n\n"));
  json_object_set_new(p, "smart", json_string("\xE2\x80\x9C" "smart" "\xE2\x80\x9D \xE2\x80\x98quotes\xE2\x80\x99"));
  json_object_set_new(p, "binary", json_stringn_nocheck((const char *)bin, sizeof bin));
  json_object_set_new(p, "big", json_stringn_nocheck((const char *)big, 65536));
  json_object_set_new(p, "empty", json_string(""));
  json_object_set_new(p, "dash", json_string("-n -e --help"));
  json_object_set_new(p, "glob", json_string("* ? [a-z] ~"));
  json_object_set_new(p, "backslash", json_string("\\n \\\\ \\' \\x41 %s %n"));
  json_object_set_new(p, "spaces", json_string("  lead and trail  \t"));
  json_object_set_new(p, "_under_9", json_string("name with digits"));
  json_object_set_new(p, "number", json_integer(-42));
  json_object_set_new(p, "flag", json_true());
  free(big);
  return p;
}

static void expect_echo(json_t *params, json_t *out) {
  const char *k;
  json_t *v;
  json_object_foreach(params, k, v) {
    char fk[80], vk[80], num[64];
    const char *want;
    size_t wl;
    if (json_is_string(v)) {
      want = json_string_value(v);
      wl = json_string_length(v);
    } else if (json_is_integer(v)) {
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      want = num;
      wl = strlen(num);
    } else {
      want = json_is_true(v) ? "true" : "false";
      wl = strlen(want);
    }
    snprintf(fk, sizeof fk, "f_%s", k);
    snprintf(vk, sizeof vk, "v_%s", k);
    json_t *f = json_object_get(out, fk), *var = json_object_get(out, vk);
    ck_assert_msg(f != NULL, "parameter %s did not come back as a file", k);
    ck_assert_msg(json_string_length(f) == wl && !memcmp(json_string_value(f), want, wl),
                  "parameter %s: file bytes differ (%zu vs %zu bytes)", k,
                  json_string_length(f), wl);
    size_t vl = wl;
    while (vl && want[vl - 1] == '\n')
      vl--;
    ck_assert_msg(var != NULL, "parameter %s: no variable", k);
    ck_assert_msg(json_string_length(var) == vl && !memcmp(json_string_value(var), want, vl),
                  "parameter %s: variable differs", k);
  }
}

START_TEST(posix_roundtrip_local) {
  rd_script s = {"test.echo", RD_PLATFORM_POSIX, 0, 0, ECHO_SCRIPT};
  json_t *params = hostile_params(), *out = NULL;
  rd_remote_cmd c;
  char err[512];
  lres r;
  unlink(PWNED);
  ck_assert_int_eq(rd_remote_build(&s, params, 0, &c, err, sizeof err), 0);
  ck_assert_ptr_null(c.upload_path);
  /* values are data: none of them is in the command line */
  ck_assert_ptr_null(strstr(c.command, PWNED));
  ck_assert_ptr_null(strstr(c.command, "smart"));
  run_local(c.command, c.stdin_data, c.stdin_len, &r);
  ck_assert_msg(r.exit == 0, "exit %d, stderr: %s", r.exit, r.err);
  ck_assert_ptr_nonnull(strstr(r.err, "stray output goes to stderr"));
  ck_assert_int_eq(rd_remote_parse_posix(r.out, r.out_len, &out, err, sizeof err), 0);
  expect_echo(params, out);
  ck_assert_int_eq(access(PWNED, F_OK), -1); /* nothing ran */
  /* rd_out_b64: binary results stay base64 (a dumpable JSON string) */
  json_t *bin = json_object_get(params, "binary");
  char *b64 = rd_base64_encode(json_string_value(bin), json_string_length(bin), NULL);
  ck_assert_str_eq(json_string_value(json_object_get(out, "binary_b64")), b64);
  free(b64);
  /* the parameter directory is gone after exit */
  const char *tmp = json_string_value(json_object_get(out, "tmpdir"));
  ck_assert_ptr_nonnull(tmp);
  ck_assert_int_eq(access(tmp, F_OK), -1);
  json_decref(out);
  json_decref(params);
  lres_free(&r);
  rd_remote_cmd_free(&c);
}
END_TEST

START_TEST(posix_command_shape) {
  rd_script s = {"posix.key_acl.apply", RD_PLATFORM_POSIX, 1, 1, "echo 'it''s' \"$P_x\""};
  rd_script odd = {"bad name;rm -rf /", RD_PLATFORM_POSIX, 0, 1, "true"};
  rd_remote_cmd c;
  char err[256];
  ck_assert_int_eq(rd_remote_build(&s, NULL, 0, &c, err, sizeof err), 0);
  ck_assert_msg(!strncmp(c.command, "exec /bin/sh -c '", 17), "%s", c.command);
  ck_assert_msg(strstr(c.command, "' renewd-posix.key_acl.apply") ==
                    c.command + strlen(c.command) - strlen("' renewd-posix.key_acl.apply"),
                "%s", c.command);
  ck_assert_ptr_nonnull(strstr(c.command, "echo '\\''it'\\'''\\''s'\\'' \"$P_x\""));
  ck_assert_int_eq((int)c.stdin_len, 0);
  rd_remote_cmd_free(&c);
  ck_assert_int_eq(rd_remote_build(&s, NULL, 1, &c, err, sizeof err), 0);
  ck_assert(!strncmp(c.command, "exec sudo -n /bin/sh -c '", 25));
  rd_remote_cmd_free(&c);
  s.sudo = 0; /* the runbook allows sudo, the script does not need it */
  ck_assert_int_eq(rd_remote_build(&s, NULL, 1, &c, err, sizeof err), 0);
  ck_assert(!strncmp(c.command, "exec /bin/sh -c '", 17));
  rd_remote_cmd_free(&c);
  ck_assert_int_eq(rd_remote_build(&odd, NULL, 0, &c, err, sizeof err), 0);
  ck_assert_msg(strstr(c.command, "' renewd-bad_name_rm_-rf__") != NULL, "%s", c.command);
  rd_remote_cmd_free(&c);
}
END_TEST

START_TEST(posix_bad_names) {
  static const char *bad[] = {"Bad", "1abc", "a-b", "a b", "", "p\xC3\xA4", "a.b", "a$b",
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  rd_script s = {"t", RD_PLATFORM_POSIX, 0, 0, "true"};
  rd_remote_cmd c;
  char err[256];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *p = json_object();
    json_object_set_new(p, bad[i], json_string("v"));
    ck_assert_int_eq(rd_remote_build(&s, p, 0, &c, err, sizeof err), RD_EINVAL);
    ck_assert_msg(strstr(err, "is not valid") != NULL, "%s", err);
    ck_assert_ptr_null(c.command);
    json_decref(p);
  }
  json_t *p = json_pack("{s:[i]}", "list", 1);
  ck_assert_int_eq(rd_remote_build(&s, p, 0, &c, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "'list'"));
  json_decref(p);
  p = json_pack("{s:n}", "nothing");
  ck_assert_int_eq(rd_remote_build(&s, p, 0, &c, err, sizeof err), RD_EINVAL);
  json_decref(p);
  p = json_array();
  ck_assert_int_eq(rd_remote_build(&s, p, 0, &c, err, sizeof err), RD_EINVAL);
  json_decref(p);
}
END_TEST

START_TEST(posix_fail_and_exit) {
  rd_script s = {"t.fail", RD_PLATFORM_POSIX, 0, 0,
                 "rd_out a \"$P_x\"\nrd_fail \"cannot do it: $P_x\"\nrd_out b never\n"};
  json_t *p = json_pack("{s:s}", "x", "$(reboot)"), *out = NULL;
  rd_remote_cmd c;
  char err[256];
  lres r;
  ck_assert_int_eq(rd_remote_build(&s, p, 0, &c, err, sizeof err), 0);
  run_local(c.command, c.stdin_data, c.stdin_len, &r);
  ck_assert_int_eq(r.exit, 3);
  ck_assert_str_eq(r.err, "cannot do it: $(reboot)\n");
  ck_assert_int_eq(rd_remote_parse_posix(r.out, r.out_len, &out, err, sizeof err), 0);
  ck_assert_str_eq(json_string_value(json_object_get(out, "a")), "$(reboot)");
  ck_assert_ptr_null(json_object_get(out, "b"));
  json_decref(out);
  json_decref(p);
  lres_free(&r);
  rd_remote_cmd_free(&c);
  /* rd_out refuses a bad name instead of printing a bad line */
  rd_script s2 = {"t.badout", RD_PLATFORM_POSIX, 0, 0, "rd_out 'Bad Name' x\n"};
  ck_assert_int_eq(rd_remote_build(&s2, NULL, 0, &c, err, sizeof err), 0);
  run_local(c.command, NULL, 0, &r);
  ck_assert_int_eq(r.exit, 3);
  ck_assert_int_eq((int)r.out_len, 0);
  lres_free(&r);
  rd_remote_cmd_free(&c);
}
END_TEST

START_TEST(posix_parse_errors) {
  json_t *o = NULL;
  char err[256];
  const char ok[] = "a aGk=\nb \n";
  ck_assert_int_eq(rd_remote_parse_posix(ok, strlen(ok), &o, err, sizeof err), 0);
  ck_assert_str_eq(json_string_value(json_object_get(o, "a")), "hi");
  ck_assert_str_eq(json_string_value(json_object_get(o, "b")), "");
  json_decref(o);
  ck_assert_int_eq(rd_remote_parse_posix("", 0, &o, err, sizeof err), 0);
  ck_assert_int_eq((int)json_object_size(o), 0);
  json_decref(o);
  static const char *bad[] = {"hello world\n", "a aGk=", "a !!!!\n", "a aGk=\na aGk=\n",
                              "Upper aGk=\n", "noSpace\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ck_assert_msg(rd_remote_parse_posix(bad[i], strlen(bad[i]), &o, err, sizeof err) == RD_EPROTO,
                  "accepted %s", bad[i]);
    ck_assert(*err);
  }
}
END_TEST

/* ------------------------------------------------------------------ Windows */

static void write_ps(const char *name, const char *text, size_t len) {
  char dir[1024], path[1200];
  snprintf(dir, sizeof dir, "%s/ps-texts", BUILD_DIR);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq((int)fwrite(text, 1, len, f), (int)len);
  fclose(f);
}

static const char PS_SCRIPT[] =
    "$thumb = $P.thumbprint\n"
    "$cert = Get-ChildItem -Path Cert:\\LocalMachine\\My | Where-Object { $_.Thumbprint -eq $thumb }\n"
    "if (-not $cert) { rd_fail \"certificate $thumb not found\" }\n"
    "# a comment with “smart quotes” and an emoji \xF0\x9F\x94\x91\n"
    "rd_out @{ subject = $cert.Subject; quote = 'it''s'; n = $P.n }\n";

START_TEST(windows_encoded) {
  rd_script s = {"windows.probe", RD_PLATFORM_WINDOWS, 0, 0, PS_SCRIPT};
  json_t *p = json_pack("{s:s, s:s, s:i, s:[s,s]}", "thumbprint", "AB'CD\"$(x)`n",
                        "subject", "CN=“x”, O='; rm -rf / #", "n", 7, "list", "a", "b");
  rd_remote_cmd c;
  char err[256];
  const char pre[] = "powershell.exe -NoProfile -NonInteractive -EncodedCommand ";
  ck_assert_int_eq(rd_remote_build(&s, p, 0, &c, err, sizeof err), 0);
  ck_assert_ptr_null(c.upload_path);
  ck_assert(strlen(c.command) <= RD_WIN_CMDLINE_MAX);
  ck_assert(!strncmp(c.command, pre, strlen(pre)));
  const char *b64 = c.command + strlen(pre);
  ck_assert_uint_eq(strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
                    strlen(b64));
  unsigned char *u = NULL;
  size_t ul = 0;
  ck_assert_int_eq(rd_base64_decode(b64, strlen(b64), &u, &ul), 0);
  ck_assert_int_eq((int)(ul % 2), 0);
  char *text = rd_utf16le_to_utf8(u, ul, NULL);
  ck_assert_msg(strstr(text, PS_SCRIPT) != NULL, "script not carried unchanged");
  ck_assert_ptr_nonnull(strstr(text, "[Console]::In.ReadToEnd()"));
  ck_assert_ptr_nonnull(strstr(text, "ConvertFrom-Json"));
  ck_assert_ptr_null(strstr(text, "rm -rf")); /* values are not in the text */
  write_ps("unit-encoded.ps1", text, strlen(text));
  /* stdin: base64 of the parameters as JSON */
  unsigned char *j = NULL;
  size_t jl = 0, sl = c.stdin_len;
  while (sl && (c.stdin_data[sl - 1] == '\n' || c.stdin_data[sl - 1] == '\r'))
    sl--;
  ck_assert_int_eq(rd_base64_decode((const char *)c.stdin_data, sl, &j, &jl), 0);
  json_error_t je;
  json_t *back = json_loadb((const char *)j, jl, 0, &je);
  ck_assert_ptr_nonnull(back);
  ck_assert(json_equal(back, p));
  json_decref(back);
  free(j);
  free(u);
  free(text);
  json_decref(p);
  rd_remote_cmd_free(&c);
}
END_TEST

START_TEST(windows_upload_when_long) {
  size_t n = 9000;
  char *big = malloc(n + 200);
  size_t k = (size_t)snprintf(big, n + 200, "%s", PS_SCRIPT);
  while (k < n)
    k += (size_t)snprintf(big + k, n + 200 - k, "# padding line to pass cmd.exe's limit\n");
  rd_script s = {"windows.big script", RD_PLATFORM_WINDOWS, 1, 0, big};
  json_t *p = json_pack("{s:s}", "thumbprint", "00");
  rd_remote_cmd c;
  char err[256];
  ck_assert_int_eq(rd_remote_build(&s, p, 0, &c, err, sizeof err), 0);
  ck_assert_ptr_nonnull(c.upload_path);
  ck_assert_msg(!strncmp(c.upload_path, "C:\\Windows\\Temp\\renewd-windows.big_script-", 42), "%s",
                c.upload_path);
  size_t pl = strlen(c.upload_path);
  ck_assert_uint_eq(pl, 42 + 16 + 4);
  ck_assert_uint_eq(strspn(c.upload_path + 42, "0123456789abcdef"), 16);
  ck_assert_str_eq(c.upload_path + pl - 4, ".ps1");
  char want[512];
  snprintf(want, sizeof want,
           "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File %s",
           c.upload_path);
  ck_assert_str_eq(c.command, want);
  ck_assert(!memcmp(c.upload_data, "\xEF\xBB\xBF", 3));
  char *text = strndup(c.upload_data + 3, c.upload_len - 3);
  ck_assert_ptr_nonnull(strstr(text, big));
  ck_assert_ptr_nonnull(strstr(text, "Remove-Item -LiteralPath $PSCommandPath"));
  write_ps("unit-upload.ps1", text, strlen(text));
  free(text);
  /* a second build gets another name */
  rd_remote_cmd c2;
  ck_assert_int_eq(rd_remote_build(&s, p, 0, &c2, err, sizeof err), 0);
  ck_assert_str_ne(c.upload_path, c2.upload_path);
  rd_remote_cmd_free(&c2);
  rd_remote_cmd_free(&c);
  json_decref(p);
  free(big);
}
END_TEST

START_TEST(windows_errors_and_parse) {
  rd_script bad = {"w", RD_PLATFORM_WINDOWS, 0, 0, "Write-Output \"\xC3(\""};
  rd_script ok = {"w", RD_PLATFORM_WINDOWS, 0, 0, "rd_out 1"};
  rd_remote_cmd c;
  char err[256];
  json_t *o = NULL;
  ck_assert_int_eq(rd_remote_build(&bad, NULL, 0, &c, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "UTF-8"));
  json_t *p = json_object();
  json_object_set_new(p, "b", json_stringn_nocheck("\xFF\xFE", 2));
  ck_assert_int_eq(rd_remote_build(&ok, p, 0, &c, err, sizeof err), RD_EINVAL);
  json_decref(p);
  const char doc[] = "\xEF\xBB\xBF{\"subject\":\"CN=x\",\"n\":[1,2]}\r\n";
  ck_assert_int_eq(rd_remote_parse_windows(doc, strlen(doc), &o, err, sizeof err), 0);
  ck_assert_str_eq(json_string_value(json_object_get(o, "subject")), "CN=x");
  json_decref(o);
  ck_assert_int_eq(rd_remote_parse_windows("\r\n", 2, &o, err, sizeof err), RD_EPROTO);
  ck_assert_int_eq(rd_remote_parse_windows("{\"a\":1} junk", 12, &o, err, sizeof err), RD_EPROTO);
  ck_assert_int_eq(rd_remote_parse_windows("42", 2, &o, err, sizeof err), 0);
  json_decref(o);
}
END_TEST

/* ------------------------------------------------------------------ SSH */

static char sshdir[256];
static int sshd_port;
static pid_t sshd_pid;
static const char *sshd_setup_error; /* root and sshd present, but setup failed */
static char key_path[300], kh_path[300], kh_wrong[300], kh_empty[300], hostpub_fp[128];


static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7f000001);
  bind(s, (struct sockaddr *)&a, sizeof a);
  getsockname(s, (struct sockaddr *)&a, &l);
  close(s);
  return ntohs(a.sin_port);
}

static int port_open(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), r;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(0x7f000001);
  r = connect(s, (struct sockaddr *)&a, sizeof a);
  close(s);
  return r == 0;
}

static void sshd_up(void) {
  char cfg[600], buf[2048];
  FILE *f;
  if (geteuid() != 0 || access("/usr/sbin/sshd", X_OK) || access("/usr/bin/ssh-keygen", X_OK))
    return;
  /* sshd refuses to start without its privilege separation directory; a
   * fresh machine without systemd's tmpfiles has none */
  if (mkdir("/run/sshd", 0755) && errno != EEXIST) {
    sshd_setup_error = "cannot create /run/sshd";
    return;
  }
  snprintf(sshdir, sizeof sshdir, "%s/sshd-test-XXXXXX", BUILD_DIR);
  if (!mkdtemp(sshdir)) {
    sshdir[0] = 0;
    return;
  }
  snprintf(buf, sizeof buf,
           "cd %s && ssh-keygen -q -t ed25519 -N '' -f host >/dev/null && "
           "ssh-keygen -q -t ed25519 -N '' -f other >/dev/null && "
           "ssh-keygen -q -t ed25519 -N '' -f user >/dev/null && cp user.pub authorized_keys && "
           "ssh-keygen -q -t ecdsa -b 256 -N '' -f ec256 >/dev/null && "
           "ssh-keygen -q -t ecdsa -b 384 -N '' -m PEM -f ec384 >/dev/null && "
           "ssh-keygen -q -t ecdsa -b 521 -N '' -f ec521 >/dev/null && "
           "ssh-keygen -q -t ed25519 -N 'pass phrase' -f enc >/dev/null && "
           "openssl genpkey -algorithm ed25519 -out p8.pem 2>/dev/null && "
           "{ printf '\\000\\000\\000\\013ssh-ed25519\\000\\000\\000\\040'; "
           "openssl pkey -in p8.pem -pubout -outform DER | tail -c 32; } | base64 -w0 | "
           "sed 's/^/ssh-ed25519 /' > p8.pem.pub && echo >> p8.pem.pub && "
           "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p8ec.pem "
           "2>/dev/null && ssh-keygen -y -f p8ec.pem > p8ec.pem.pub && "
           "cat ec256.pub ec384.pub ec521.pub enc.pub p8.pem.pub p8ec.pem.pub >> authorized_keys",
           sshdir);
  if (system(buf)) {
    sshd_setup_error = "generating the test keys failed";
    sshdir[0] = 0;
    return;
  }
  sshd_port = free_port();
  snprintf(cfg, sizeof cfg, "%s/sshd_config", sshdir);
  f = fopen(cfg, "w");
  fprintf(f,
          "ListenAddress 127.0.0.1:%d\nHostKey %s/host\nPidFile %s/sshd.pid\n"
          "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
          "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
          "KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\n"
          "MaxStartups 100:30:200\nMaxSessions 64\nLogLevel ERROR\nUseDNS no\n",
          sshd_port, sshdir, sshdir, sshdir);
  fclose(f);
  snprintf(key_path, sizeof key_path, "%s/user", sshdir);
  snprintf(kh_path, sizeof kh_path, "%s/known_hosts", sshdir);
  snprintf(kh_wrong, sizeof kh_wrong, "%s/known_hosts.wrong", sshdir);
  snprintf(kh_empty, sizeof kh_empty, "%s/known_hosts.empty", sshdir);
  /* known_hosts lines for [127.0.0.1]:port: the real key, and another one */
  snprintf(buf, sizeof buf,
           "printf '[127.0.0.1]:%d %%s\\n' \"$(cut -d' ' -f1,2 %s/host.pub)\" > %s && "
           "printf '[127.0.0.1]:%d %%s\\n' \"$(cut -d' ' -f1,2 %s/other.pub)\" > %s && : > %s",
           sshd_port, sshdir, kh_path, sshd_port, sshdir, kh_wrong, kh_empty);
  if (system(buf)) {
    sshdir[0] = 0;
    return;
  }
  snprintf(buf, sizeof buf, "ssh-keygen -lf %s/host.pub | cut -d' ' -f2", sshdir);
  f = popen(buf, "r");
  if (!f || !fgets(hostpub_fp, sizeof hostpub_fp, f))
    hostpub_fp[0] = 0;
  if (f)
    pclose(f);
  hostpub_fp[strcspn(hostpub_fp, "\n")] = 0;
  sshd_pid = fork();
  if (sshd_pid == 0) {
    char log[400];
    snprintf(log, sizeof log, "%s/sshd.log", sshdir);
    int null = open("/dev/null", O_RDWR), lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(null, 0);
    dup2(null, 1);
    dup2(lf >= 0 ? lf : null, 2);
    execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", cfg, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200 && !port_open(sshd_port); i++)
    usleep(20000);
  if (!port_open(sshd_port)) {
    sshd_setup_error = "the test sshd did not start (see its sshd.log)";
    kill(sshd_pid, SIGTERM);
    sshd_pid = 0;
    sshdir[0] = 0;
  }
}

static void sshd_down(void) {
  if (sshd_pid > 0) {
    kill(sshd_pid, SIGTERM);
    waitpid(sshd_pid, NULL, 0);
    sshd_pid = 0;
  }
  if (*sshdir) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sshdir);
    if (system(cmd))
      fprintf(stderr, "could not remove %s\n", sshdir);
  }
}

#define NEED_SSHD()                                                            \
  do {                                                                         \
    ck_assert_msg(!sshd_setup_error, "%s", sshd_setup_error);                  \
    if (!sshd_pid) {                                                           \
      fprintf(stderr, "%s: skipped (needs root and /usr/sbin/sshd)\n", __func__); \
      return;                                                                  \
    }                                                                          \
  } while (0)

typedef struct res {
  int done, status, exit, trunc;
  char *out, *err, msg[512];
  size_t out_len, err_len;
  double ms;
} res;

static void on_res(const rd_exec_result *r, void *arg) {
  res *x = arg;
  x->done++;
  x->status = r->status;
  x->exit = r->exit_status;
  x->trunc = r->out_truncated;
  x->out = malloc(r->out_len + 1);
  memcpy(x->out, r->out, r->out_len + 1);
  x->out_len = r->out_len;
  x->err = malloc(r->err_len + 1);
  memcpy(x->err, r->err, r->err_len + 1);
  x->err_len = r->err_len;
  snprintf(x->msg, sizeof x->msg, "%s", r->msg);
  x->ms = r->ms;
}

static void res_free(res *x) {
  free(x->out);
  free(x->err);
  memset(x, 0, sizeof *x);
}

static rd_ssh_target target(const char *name) {
  rd_ssh_target t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.address = "127.0.0.1";
  t.port = sshd_port;
  t.user = "root";
  t.identity = key_path;
  t.known_hosts = kh_path;
  return t;
}

static int shut_done;
static void on_shut(void *arg) { (void)arg; shut_done++; }

static void finish(uv_loop_t *loop, rd_ssh *m) {
  shut_done = 0;
  rd_ssh_shutdown(m, on_shut, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(shut_done, 1);
  ck_assert_int_eq(uv_loop_close(loop), 0);
}

static void run_until(uv_loop_t *loop, int *flag) {
  while (!*flag && uv_run(loop, UV_RUN_ONCE))
    ;
}

START_TEST(ssh_exec_basics) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  res a = {0}, b = {0}, c = {0};
  rd_ssh_target t = target("t1");
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo hi; echo oops >&2; exit 7", NULL, 0, NULL, on_res, &a), 0);
  ck_assert_int_eq(a.done, 0); /* never called back inside the call */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, on_res, &b), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID; kill -9 $$", NULL, 0, NULL, on_res, &c), 0);
  run_until(&loop, &c.done);
  ck_assert_msg(a.status == 0, "%s", a.msg);
  ck_assert_int_eq(a.exit, 7);
  ck_assert_str_eq(a.out, "hi\n");
  ck_assert_str_eq(a.err, "oops\n");
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_eq(c.status, 0);
  ck_assert_int_eq(c.exit, -1); /* killed by a signal */
  ck_assert_str_eq(b.out, c.out); /* same session: same sshd child */
  finish(&loop, m);
  res_free(&a);
  res_free(&b);
  res_free(&c);
}
END_TEST

static int tick;
static void on_tick(uv_timer_t *t) {
  tick = 1;
  uv_close((uv_handle_t *)t, NULL);
}

static void idle_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t *t = malloc(sizeof *t);
  tick = 0;
  uv_timer_init(loop, t);
  uv_timer_start(t, on_tick, ms, 0);
  run_until(loop, &tick);
  uv_run(loop, UV_RUN_NOWAIT); /* the timer's close callback */
  free(t);
}

START_TEST(ssh_keepalive_and_dead_session) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  rd_ssh_limits lim = {0, 1};
  res a = {0}, b = {0}, c = {0};
  rd_ssh_target t = target("t8");
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, &lim, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, on_res, &a), 0);
  run_until(&loop, &a.done);
  ck_assert_int_eq(a.status, 0);
  idle_for(&loop, 2500); /* two keepalives go out on the idle session */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, on_res, &b), 0);
  run_until(&loop, &b.done);
  ck_assert_msg(b.status == 0, "%s", b.msg);
  ck_assert_str_eq(a.out, b.out); /* still the same session */
  /* the server side of the idle session dies: the next op reconnects once */
  ck_assert_int_eq(kill(atoi(a.out), SIGKILL), 0);
  idle_for(&loop, 200);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo $PPID", NULL, 0, NULL, on_res, &c), 0);
  run_until(&loop, &c.done);
  ck_assert_msg(c.status == 0, "%s", c.msg);
  ck_assert_str_ne(a.out, c.out);
  finish(&loop, m);
  res_free(&a);
  res_free(&b);
  res_free(&c);
}
END_TEST

START_TEST(ssh_key_formats) {
  NEED_SSHD();
  static const char *keys[] = {"ec256", "ec384", "ec521", "p8.pem", "p8ec.pem", "enc", "enc"};
  static const char *pass[] = {NULL, NULL, NULL, NULL, NULL, "pass phrase", "s3cret-Xyz"};
  enum { K = 7 };
  uv_loop_t loop;
  rd_ssh *m;
  res r[K];
  char path[K][400], names[K][16];
  memset(r, 0, sizeof r);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  for (int i = 0; i < K; i++) {
    snprintf(path[i], sizeof path[i], "%s/%s", sshdir, keys[i]);
    snprintf(names[i], sizeof names[i], "k%d", i);
    rd_ssh_target t = target(names[i]);
    t.identity = path[i];
    t.passphrase = pass[i];
    ck_assert_int_eq(rd_ssh_exec(m, &t, "echo in", NULL, 0, NULL, on_res, &r[i]), 0);
  }
  for (int all = 0; all < K && uv_run(&loop, UV_RUN_ONCE);) {
    all = 0;
    for (int i = 0; i < K; i++)
      all += r[i].done;
  }
  for (int i = 0; i < K - 1; i++) {
    ck_assert_msg(r[i].status == 0, "%s: %s", keys[i], r[i].msg);
    ck_assert_str_eq(r[i].out, "in\n");
  }
  ck_assert_int_eq(r[K - 1].status, RD_ECONFIG); /* wrong passphrase */
  ck_assert_msg(strstr(r[K - 1].msg, "s3cret-Xyz") == NULL, "passphrase in message: %s", r[K - 1].msg);
  for (int i = 0; i < K; i++)
    res_free(&r[i]);
  finish(&loop, m);
}
END_TEST

START_TEST(ssh_stdin_and_both_streams) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  res a = {0};
  rd_ssh_target t = target("t2");
  rd_ssh_opts o = {.op_ms = 60000, .err_cap = 4096};
  size_t n = 3u << 20;
  unsigned char *in = malloc(n);
  RAND_bytes(in, (int)n);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  /* the command writes stdout and stderr while we are still writing stdin */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "tee /dev/stderr", in, n, &o, on_res, &a), 0);
  run_until(&loop, &a.done);
  ck_assert_msg(a.status == 0, "%s", a.msg);
  ck_assert_int_eq(a.exit, 0);
  ck_assert_uint_eq(a.out_len, n);
  ck_assert(!memcmp(a.out, in, n));
  ck_assert_uint_eq(a.err_len, 4096); /* capped, and drained past the cap */
  ck_assert(!memcmp(a.err, in, 4096));
  res_free(&a);
  /* stdout over the cap: truncated, flagged, drained to the end */
  rd_ssh_opts cap = {.op_ms = 60000, .out_cap = 100000};
  ck_assert_int_eq(rd_ssh_exec(m, &t, "head -c 5000000 /dev/zero; echo done >&2", NULL, 0, &cap,
                               on_res, &a), 0);
  run_until(&loop, &a.done);
  ck_assert_int_eq(a.status, 0);
  ck_assert_int_eq(a.trunc, 1);
  ck_assert_uint_eq(a.out_len, 100000);
  ck_assert_str_eq(a.err, "done\n");
  finish(&loop, m);
  res_free(&a);
  free(in);
}
END_TEST

START_TEST(ssh_timeout_then_recover) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  res a = {0}, b = {0};
  rd_ssh_target t = target("t3");
  rd_ssh_opts o = {.op_ms = 400};
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "sleep 20", NULL, 0, &o, on_res, &a), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "echo after", NULL, 0, NULL, on_res, &b), 0);
  run_until(&loop, &b.done);
  ck_assert_int_eq(a.status, RD_ETIMEDOUT);
  ck_assert_msg(strstr(a.msg, "host t3: ssh exec: timed out after 400 ms") == a.msg, "%s", a.msg);
  ck_assert_msg(a.ms < 3000, "%f", a.ms);
  ck_assert_msg(b.status == 0, "%s", b.msg);
  ck_assert_str_eq(b.out, "after\n");
  finish(&loop, m);
  res_free(&a);
  res_free(&b);
}
END_TEST

START_TEST(ssh_refusals) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  res a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
  rd_ssh_target wrong = target("h0003"), unknown = target("h0004"), closed = target("h0005"),
                nokey = target("h0006"), baduser = target("h0007");
  wrong.known_hosts = kh_wrong;
  unknown.known_hosts = kh_empty;
  closed.port = free_port();
  nokey.identity = "/nonexistent/key";
  baduser.user = "nobody";
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &wrong, "true", NULL, 0, NULL, on_res, &a), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &unknown, "true", NULL, 0, NULL, on_res, &b), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &closed, "true", NULL, 0, NULL, on_res, &c), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &nokey, "true", NULL, 0, NULL, on_res, &d), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &baduser, "true", NULL, 0, NULL, on_res, &e), 0);
  while (!(a.done && b.done && c.done && d.done && e.done) && uv_run(&loop, UV_RUN_ONCE))
    ;
  ck_assert_int_eq(a.status, RD_EHOSTKEY);
  ck_assert_msg(strstr(a.msg, "host h0003: host key for 127.0.0.1:") == a.msg, "%s", a.msg);
  ck_assert_msg(strstr(a.msg, hostpub_fp) != NULL, "%s lacks %s", a.msg, hostpub_fp);
  ck_assert_msg(strstr(a.msg, "expects SHA256:") != NULL, "%s", a.msg);
  ck_assert_int_eq(b.status, RD_EHOSTKEY);
  char want[600];
  snprintf(want, sizeof want,
           "host h0004: host key %s is not in %s; run `renewd hosts trust h0004` after checking "
           "the fingerprint",
           hostpub_fp, kh_empty);
  ck_assert_str_eq(b.msg, want);
  ck_assert_int_eq(c.status, RD_ECONNREFUSED);
  snprintf(want, sizeof want, "host h0005: ssh connect 127.0.0.1:%d: connection refused",
           closed.port);
  ck_assert_str_eq(c.msg, want);
  ck_assert_int_eq(d.status, RD_ECONFIG);
  ck_assert_msg(strstr(d.msg, "/nonexistent/key") != NULL, "%s", d.msg);
  ck_assert_int_eq(e.status, RD_EAUTH);
  ck_assert_msg(strstr(e.msg, "host h0007: ssh login as nobody") == e.msg, "%s", e.msg);
  finish(&loop, m);
  res_free(&a);
  res_free(&b);
  res_free(&c);
  res_free(&d);
  res_free(&e);
}
END_TEST

static void on_hk(int status, const char *line, const char *fp, const char *msg, void *arg) {
  res *x = arg;
  x->done++;
  x->status = status;
  snprintf(x->msg, sizeof x->msg, "%s|%s", fp ? fp : "", line ? line : (msg ? msg : ""));
}

START_TEST(ssh_fetch_hostkey) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  res a = {0};
  rd_ssh_target t;
  char want[256];
  memset(&t, 0, sizeof t);
  t.name = "new";
  t.address = "127.0.0.1";
  t.port = sshd_port;
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_fetch_hostkey(m, &t, NULL, on_hk, &a), 0);
  run_until(&loop, &a.done);
  ck_assert_int_eq(a.status, 0);
  snprintf(want, sizeof want, "%s|[127.0.0.1]:%d ssh-ed25519 AAAA", hostpub_fp, sshd_port);
  ck_assert_msg(!strncmp(a.msg, want, strlen(want)), "%s vs %s", a.msg, want);
  finish(&loop, m);
}
END_TEST

START_TEST(ssh_sftp_put_get) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  res a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, f = {0};
  rd_ssh_target t = target("t4");
  char path[400], missing[400], dirpath[400];
  struct stat st;
  size_t n = 300000;
  unsigned char *data = malloc(n);
  RAND_bytes(data, (int)n);
  snprintf(path, sizeof path, "%s/put/target.pem", sshdir);
  snprintf(dirpath, sizeof dirpath, "%s/put", sshdir);
  snprintf(missing, sizeof missing, "%s/nope/x", sshdir);
  mkdir(dirpath, 0755);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_put(m, &t, path, "first\n", 6, 0640, NULL, on_res, &a), 0);
  /* the second put replaces an existing file */
  ck_assert_int_eq(rd_ssh_put(m, &t, path, data, n, 0600, NULL, on_res, &b), 0);
  ck_assert_int_eq(rd_ssh_get(m, &t, path, NULL, on_res, &c), 0);
  ck_assert_int_eq(rd_ssh_get(m, &t, missing, NULL, on_res, &d), 0);
  ck_assert_int_eq(rd_ssh_put(m, &t, missing, "x", 1, 0644, NULL, on_res, &e), 0);
  rd_ssh_opts small = {.out_cap = 1000};
  ck_assert_int_eq(rd_ssh_get(m, &t, path, &small, on_res, &f), 0);
  run_until(&loop, &f.done);
  ck_assert_msg(a.status == 0, "%s", a.msg);
  ck_assert_msg(b.status == 0, "%s", b.msg);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq((int)(st.st_mode & 07777), 0600);
  ck_assert_int_eq((int)st.st_size, (int)n);
  ck_assert_msg(c.status == 0, "%s", c.msg);
  ck_assert_uint_eq(c.out_len, n);
  ck_assert(!memcmp(c.out, data, n));
  ck_assert_int_eq(d.status, RD_ENOTFOUND);
  ck_assert_msg(strstr(d.msg, "host t4: sftp get ") == d.msg, "%s", d.msg);
  ck_assert_int_eq(e.status, RD_ENOTFOUND);
  ck_assert_int_eq(f.status, RD_EOVERFLOW);
  ck_assert_uint_eq(f.out_len, 1000);
  /* no temporary files are left behind */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dirpath);
  ck_assert_int_eq(system(cmd), 0);
  finish(&loop, m);
  res_free(&a);
  res_free(&b);
  res_free(&c);
  res_free(&d);
  res_free(&e);
  res_free(&f);
  free(data);
}
END_TEST

START_TEST(ssh_script_roundtrip) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  res a = {0};
  rd_ssh_target t = target("t5");
  rd_script s = {"test.echo", RD_PLATFORM_POSIX, 0, 0, ECHO_SCRIPT};
  json_t *params = hostile_params(), *out = NULL;
  rd_remote_cmd c;
  char err[512];
  unlink(PWNED);
  ck_assert_int_eq(rd_remote_build(&s, params, 0, &c, err, sizeof err), 0);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &t, c.command, c.stdin_data, c.stdin_len, NULL, on_res, &a), 0);
  run_until(&loop, &a.done);
  ck_assert_msg(a.status == 0 && a.exit == 0, "%s %s", a.msg, a.err);
  ck_assert_int_eq(rd_remote_parse_posix(a.out, a.out_len, &out, err, sizeof err), 0);
  expect_echo(params, out);
  ck_assert_int_eq(access(PWNED, F_OK), -1);
  finish(&loop, m);
  json_decref(out);
  json_decref(params);
  rd_remote_cmd_free(&c);
  res_free(&a);
}
END_TEST

static rd_ssh *stop_me;
static void on_stop_timer(uv_timer_t *t) {
  rd_ssh_shutdown(stop_me, on_shut, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

START_TEST(ssh_shutdown_cancels) {
  NEED_SSHD();
  uv_loop_t loop;
  uv_timer_t tm;
  rd_ssh *m;
  res r[6];
  rd_ssh_target t = target("t6"), u = target("t7");
  memset(r, 0, sizeof r);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  /* immediately: nothing has started */
  ck_assert_int_eq(rd_ssh_exec(m, &t, "true", NULL, 0, NULL, on_res, &r[0]), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &u, "true", NULL, 0, NULL, on_res, &r[1]), 0);
  shut_done = 0;
  rd_ssh_shutdown(m, on_shut, NULL);
  ck_assert_int_eq(rd_ssh_exec(m, &t, "true", NULL, 0, NULL, on_res, &r[2]), RD_ECANCELED);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(shut_done, 1);
  ck_assert_int_eq(r[0].status, RD_ECANCELED);
  ck_assert_int_eq(r[1].status, RD_ECANCELED);
  ck_assert_int_eq(r[2].done, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  res_free(&r[0]);
  res_free(&r[1]);
  /* while a command runs, with more queued behind it, and an idle session */
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, NULL, &m), 0);
  ck_assert_int_eq(rd_ssh_exec(m, &u, "true", NULL, 0, NULL, on_res, &r[5]), 0);
  run_until(&loop, &r[5].done);
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(rd_ssh_exec(m, &t, "sleep 20", NULL, 0, NULL, on_res, &r[i]), 0);
  stop_me = m;
  shut_done = 0;
  uv_timer_init(&loop, &tm);
  uv_timer_start(&tm, on_stop_timer, 700, 0);
  uint64_t t0 = uv_now(&loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_msg(uv_now(&loop) - t0 < 5000, "shutdown took %llu ms",
                (unsigned long long)(uv_now(&loop) - t0));
  ck_assert_int_eq(shut_done, 1);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(r[i].done, 1);
    ck_assert_int_eq(r[i].status, RD_ECANCELED);
    res_free(&r[i]);
  }
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  res_free(&r[5]);
}
END_TEST

START_TEST(ssh_many_hosts_capped) {
  NEED_SSHD();
  uv_loop_t loop;
  rd_ssh *m;
  rd_ssh_limits lim = {2, 0};
  enum { N = 12 };
  res r[N];
  char names[N][16];
  int all = 0;
  memset(r, 0, sizeof r);
  uv_loop_init(&loop);
  ck_assert_int_eq(rd_ssh_new(&loop, &lim, &m), 0);
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "h%04d", i + 1);
    rd_ssh_target t = target(names[i]);
    ck_assert_int_eq(rd_ssh_exec(m, &t, "echo ok", NULL, 0, NULL, on_res, &r[i]), 0);
  }
  while (all < N && uv_run(&loop, UV_RUN_ONCE)) {
    all = 0;
    for (int i = 0; i < N; i++)
      all += r[i].done;
  }
  rd_ssh_stats st;
  rd_ssh_get_stats(m, &st);
  ck_assert_uint_eq(st.ready, N); /* sessions stay open until released */
  ck_assert_msg(st.heap_bytes / st.ready < 200000, "%zu bytes per idle session",
                st.heap_bytes / st.ready);
  for (int i = 0; i < N; i++) {
    ck_assert_msg(r[i].status == 0, "%s", r[i].msg);
    ck_assert_str_eq(r[i].out, "ok\n");
    rd_ssh_release(m, names[i]);
    res_free(&r[i]);
  }
  finish(&loop, m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("remote");
  TCase *tc = tcase_create("builders");
  tcase_add_test(tc, posix_roundtrip_local);
  tcase_add_test(tc, posix_command_shape);
  tcase_add_test(tc, posix_bad_names);
  tcase_add_test(tc, posix_fail_and_exit);
  tcase_add_test(tc, posix_parse_errors);
  tcase_add_test(tc, windows_encoded);
  tcase_add_test(tc, windows_upload_when_long);
  tcase_add_test(tc, windows_errors_and_parse);
  suite_add_tcase(s, tc);
  TCase *ts = tcase_create("ssh");
  tcase_add_unchecked_fixture(ts, sshd_up, sshd_down);
  tcase_set_timeout(ts, 120);
  tcase_add_test(ts, ssh_exec_basics);
  tcase_add_test(ts, ssh_key_formats);
  tcase_add_test(ts, ssh_keepalive_and_dead_session);
  tcase_add_test(ts, ssh_stdin_and_both_streams);
  tcase_add_test(ts, ssh_timeout_then_recover);
  tcase_add_test(ts, ssh_refusals);
  tcase_add_test(ts, ssh_fetch_hostkey);
  tcase_add_test(ts, ssh_sftp_put_get);
  tcase_add_test(ts, ssh_script_roundtrip);
  tcase_add_test(ts, ssh_shutdown_cancels);
  tcase_add_test(ts, ssh_many_hosts_capped);
  suite_add_tcase(s, ts);
  signal(SIGPIPE, SIG_IGN);
  return tu_run(s);
}
