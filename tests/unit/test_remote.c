/* test_remote.c — remote.c's builders and parsers run for real (the SSH
 * transport itself is tested in test_ssh.c and test_ssh_cancel.c).
 *
 * POSIX: the built command runs through a local /bin/sh exactly as sshd
 * would run it (`sh -c COMMAND`, parameters on stdin), and every hostile
 * value must come back byte-for-byte through rd_out_file.
 * Windows: the -EncodedCommand payload is decoded back and compared; the
 * texts are also written to BUILD_DIR/ps-texts/ for the PowerShell parser
 * check of tests/e2e/powershell_parse.sh.
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
#include "echo_script.h"
#include "localsh.h"
#include "testutil.h"
#include "base/util.h"

START_TEST(posix_roundtrip_local) {
  rd_script s = {"test.echo", RD_PLATFORM_POSIX, 0, 0, tu_echo_script};
  json_t *params = tu_hostile_params(), *out = NULL;
  rd_remote_cmd c;
  char err[512];
  lres r;
  unlink(TU_PWNED);
  ck_assert_int_eq(rd_remote_build(&s, params, 0, &c, err, sizeof err), 0);
  ck_assert_ptr_null(c.upload_path);
  /* values are data: none of them is in the command line */
  ck_assert_ptr_null(strstr(c.command, TU_PWNED));
  ck_assert_ptr_null(strstr(c.command, "smart"));
  /* printable one-line text travels as it is (no base64 process on the
   * target), everything else as base64; both ways for the results too */
  ck_assert_ptr_nonnull(strstr((const char *)c.stdin_data, "\nbreakout:t x'; touch " TU_PWNED
                                                           "; echo '\n"));
  ck_assert_ptr_null(strstr((const char *)c.stdin_data, "spaces:t"));
  ck_assert_ptr_null(strstr((const char *)c.stdin_data, "newlines:t"));
  run_local(c.command, c.stdin_data, c.stdin_len, &r);
  ck_assert_msg(r.exit == 0, "exit %d, stderr: %s", r.exit, r.err);
  ck_assert_ptr_nonnull(strstr(r.err, "stray output goes to stderr"));
  ck_assert_ptr_nonnull(strstr(r.out, "\nv_semi:t a; touch " TU_PWNED "; b && c || d | e & f\n"));
  ck_assert_ptr_null(strstr(r.out, "v_spaces:t"));
  ck_assert_int_eq(rd_remote_parse_posix(r.out, r.out_len, &out, err, sizeof err), 0);
  tu_expect_echo(params, out);
  ck_assert_int_eq(access(TU_PWNED, F_OK), -1); /* nothing ran */
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
  {
    char e2[256];
    const char txt[] = "a:t hello  world $(x)\nb:t \nc aGk=\n";
    ck_assert_int_eq(rd_remote_parse_posix(txt, strlen(txt), &o, e2, sizeof e2), 0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "a")), "hello  world $(x)");
    ck_assert_str_eq(json_string_value(json_object_get(o, "b")), "");
    ck_assert_str_eq(json_string_value(json_object_get(o, "c")), "hi");
    json_decref(o);
    o = NULL;
    const char dup[] = "a:t x\na y\n";
    ck_assert_int_eq(rd_remote_parse_posix(dup, strlen(dup), &o, e2, sizeof e2), RD_EPROTO);
  }
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


/* ------------------------------------------------------------------ batches */

/* One answer of a batch, parsed as the script's own result lines. */
static json_t *batch_out(const rd_remote_answer *a) {
  json_t *o = NULL;
  char err[256];
  ck_assert_msg(rd_remote_parse_posix(a->out, a->out_len, &o, err, sizeof err) == 0, "%s", err);
  return o;
}

START_TEST(posix_batch_local) {
  rd_script echo = {"test.echo", RD_PLATFORM_POSIX, 0, 0, tu_echo_script};
  rd_script fail = {"t.fail", RD_PLATFORM_POSIX, 0, 0,
                    "rd_out a \"$P_x\"\nrd_fail \"cannot do it: $P_x\"\nrd_out b never\n"};
  rd_script leak = {"t.leak", RD_PLATFORM_POSIX, 0, 0,
                    "rd_out x \"${P_x-unset}\"\nrd_out y \"$P_y\"\nrd_out rdp \"$RD_P\"\nexit 0\n"
                    "rd_out never 1\n"};
  rd_script quiet = {"t.quiet", RD_PLATFORM_POSIX, 0, 0, "echo stray\nexit 5\n"};
  json_t *hostile = tu_hostile_params(), *px = json_pack("{s:s}", "x", "$(touch " TU_PWNED ")");
  json_t *py = json_pack("{s:s}", "y", "it's \"y\"\n");
  rd_remote_part parts[] = {{&echo, hostile}, {&fail, px}, {&leak, py}, {&quiet, NULL}};
  rd_remote_answer ans[4];
  rd_remote_cmd c;
  char err[512];
  lres r;
  unlink(TU_PWNED);
  ck_assert_int_eq(rd_remote_build_batch(parts, 4, 0, &c, err, sizeof err), 0);
  /* one constant loader: neither a value nor a script's text is in it */
  ck_assert_msg(!strncmp(c.command, "exec /bin/sh -c '", 17), "%s", c.command);
  ck_assert_ptr_null(strstr(c.command, TU_PWNED));
  ck_assert_ptr_null(strstr(c.command, "cannot do it"));
  ck_assert_ptr_nonnull(strstr(c.command, "' renewd-batch"));
  ck_assert_ptr_nonnull(strstr((const char *)c.stdin_data, "\nT 0 glob * ? [a-z] ~\n"));
  ck_assert_ptr_nonnull(strstr((const char *)c.stdin_data, "\nL 0 spaces "));
  run_local(c.command, c.stdin_data, c.stdin_len, &r);
  ck_assert_msg(r.exit == 0, "exit %d, stderr: %s", r.exit, r.err);
  ck_assert_int_eq(rd_remote_parse_batch(r.out, r.out_len, 4, ans, err, sizeof err), 0);
  /* each script got exactly its own parameters, status, results, stderr */
  ck_assert_int_eq(ans[0].exit_status, 0);
  json_t *o = batch_out(&ans[0]);
  tu_expect_echo(hostile, o);
  ck_assert_ptr_nonnull(strstr(ans[0].err, "stray output goes to stderr"));
  json_decref(o);
  ck_assert_int_eq(ans[1].exit_status, 3);
  ck_assert_str_eq(ans[1].err, "cannot do it: $(touch " TU_PWNED ")\n");
  o = batch_out(&ans[1]);
  ck_assert_str_eq(json_string_value(json_object_get(o, "a")), "$(touch " TU_PWNED ")");
  ck_assert_ptr_null(json_object_get(o, "b"));
  json_decref(o);
  ck_assert_int_eq(ans[2].exit_status, 0); /* an earlier failure does not stop it */
  o = batch_out(&ans[2]);
  ck_assert_str_eq(json_string_value(json_object_get(o, "x")), "unset"); /* no leak */
  ck_assert_str_eq(json_string_value(json_object_get(o, "y")), "it's \"y\"");
  ck_assert_ptr_null(json_object_get(o, "never"));
  ck_assert_int_eq(access(json_string_value(json_object_get(o, "rdp")), F_OK), -1); /* cleaned */
  json_decref(o);
  ck_assert_int_eq(ans[3].exit_status, 5);
  ck_assert_int_eq((int)ans[3].out_len, 0);
  ck_assert_str_eq(ans[3].err, "stray\n");
  ck_assert_int_eq(access(TU_PWNED, F_OK), -1); /* nothing ran */
  rd_remote_answers_free(ans, 4);
  lres_free(&r);
  rd_remote_cmd_free(&c);
  ck_assert_int_eq(rd_remote_build_batch(parts, 2, 1, &c, err, sizeof err), 0);
  ck_assert(!strncmp(c.command, "exec sudo -n /bin/sh -c '", 25));
  rd_remote_cmd_free(&c);
  json_decref(hostile);
  json_decref(px);
  json_decref(py);
}
END_TEST

START_TEST(posix_batch_refusals_and_parse) {
  rd_script win = {"w", RD_PLATFORM_WINDOWS, 0, 0, "rd_out 1"};
  rd_script ok = {"t", RD_PLATFORM_POSIX, 0, 0, "true"};
  json_t *bad = json_pack("{s:s}", "Bad", "v");
  rd_remote_part wp[] = {{&ok, NULL}, {&win, NULL}}, bp[] = {{&ok, bad}};
  rd_remote_answer a[2];
  rd_remote_cmd c;
  char err[256];
  ck_assert_int_eq(rd_remote_build_batch(wp, 2, 0, &c, err, sizeof err), RD_EINVAL);
  ck_assert_msg(strstr(err, "only POSIX") != NULL, "%s", err);
  ck_assert_int_eq(rd_remote_build_batch(bp, 1, 0, &c, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_null(c.command);
  ck_assert_int_eq(rd_remote_build_batch(wp, 0, 0, &c, err, sizeof err), RD_EINVAL);
  json_decref(bad);
  /* a missing answer stays missing; malformed lines are refused */
  const char one[] = "rd_batch 1 3 YSBZUT09Cg== b29wcwo=\n";
  ck_assert_int_eq(rd_remote_parse_batch(one, strlen(one), 2, a, err, sizeof err), 0);
  ck_assert_int_eq(a[0].exit_status, RD_BATCH_NO_ANSWER);
  ck_assert_int_eq(a[1].exit_status, 3);
  ck_assert_str_eq(a[1].err, "oops\n");
  rd_remote_answers_free(a, 2);
  static const char *const badout[] = {
      "rd_batch 0 0  \nrd_batch 0 0  \n", /* twice */
      "rd_batch 2 0  \n",                 /* no such script */
      "rd_batch 0 0 \n",                  /* a field missing */
      "rd_batch 0 0  ",                   /* cut off */
      "rd_batch 0 0 !!!! \n",             /* not base64 */
      "stray\n",
      "rd_batch x 0  \n",
      "rd_batch 0 \r  \n",               /* an exit status that is not digits (was read as 0) */
      "rd_batch 0 +1  \n",
      "rd_batch  0 0  \n",                /* a blank before the index */
      "rd_batch 0 256  \n",              /* not an exit status */
      "rd_batch 0 1234567890  \n",
  };
  expect_batch_refused(badout, sizeof badout / sizeof *badout);
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
  tcase_add_test(tc, posix_batch_local);
  tcase_add_test(tc, posix_batch_refusals_and_parse);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
