/* test_remote_win.c — the Windows batch and session (transport/remote_win.c): what their
 * builders send and how its answers are read back. The loader itself runs
 * for real in tests/windows/pester/Batch.Tests.ps1 (run by
 * tests/e2e/windows_pester.sh): the case ps_texts writes it, decoded from
 * the command line, to BUILD_DIR/ps/renewd.batch.ps1 (and the session
 * loader to renewd.session.ps1) for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/err.h"
#include "base/util.h"
#include "transport/remote.h"
#include "transport/remote_ps.h"
#include "testutil.h"
#include "windows_plugin.h"

#define PS_PRE "powershell.exe -NoProfile -NonInteractive -EncodedCommand "

static const rd_script S_A = {"windows.a", RD_PLATFORM_WINDOWS, 0, 0, "rd_out @{ a = $P.a }"};
static const rd_script S_B = {"windows.b", RD_PLATFORM_WINDOWS, 1, 0, "rd_fail 'b'"};
static const rd_script S_POSIX = {"posix.x", RD_PLATFORM_POSIX, 0, 0, "rd_out x y"};

/* The text a command line encodes (-EncodedCommand). */
static char *decoded(const char *command) {
  unsigned char *u = NULL;
  size_t ul = 0;
  ck_assert(!strncmp(command, PS_PRE, strlen(PS_PRE)));
  ck_assert_int_eq(rd_base64_decode_str(command + strlen(PS_PRE), &u, &ul), 0);
  char *t = rd_utf16le_to_utf8(u, ul, NULL);
  free(u);
  ck_assert_ptr_nonnull(t);
  return t;
}

/* The JSON document on a batch's stdin (its first line: a session's
 * request then has its "E TOKEN" line). */
static json_t *stdin_doc(const rd_remote_cmd *c) {
  unsigned char *j = NULL;
  const unsigned char *nl = memchr(c->stdin_data, '\n', c->stdin_len);
  size_t jl = 0, sl;
  json_error_t je;
  ck_assert_ptr_nonnull(nl);
  sl = (size_t)(nl - c->stdin_data) + 1;
  ck_assert_uint_gt(sl, 1);
  ck_assert_int_eq(rd_base64_decode((const char *)c->stdin_data, sl - 1, &j, &jl), 0);
  json_t *d = json_loadb((const char *)j, jl, 0, &je);
  free(j);
  ck_assert_msg(d != NULL, "stdin is not JSON: %s", je.text);
  return d;
}

/* Three scripts, two of them the same text: the command is the constant
 * loader, within cmd.exe's limit; stdin carries each text once (after the
 * prelude's number of lines) and each script's parameters as the JSON a
 * script alone gets — hostile values stay data. */
START_TEST(builder_shape) {
  const char *hostile = "'; Remove-Item C:\\ -Recurse; $(calc) `n \"x\" \xe2\x80\x9c";
  json_t *pa = json_pack("{s:s}", "a", hostile), *pb = json_pack("{s:i, s:[s]}", "n", 7, "l", "z");
  rd_remote_part parts[3] = {{&S_A, pa}, {&S_B, pb}, {&S_A, NULL}};
  rd_remote_cmd c;
  char err[256];
  size_t pad = rd_remote_ps_script_line();
  ck_assert_msg(rd_remote_build_win_batch(parts, 3, &c, err, sizeof err) == 0, "%s", err);
  ck_assert_ptr_null(c.upload_path);
  ck_assert_uint_le(strlen(c.command), RD_WIN_CMDLINE_MAX);
  ck_assert_ptr_null(strstr(c.command, "calc"));
  char *loader = decoded(c.command);
  ck_assert_str_eq(loader, rd_remote_win_loader());
  ck_assert_ptr_null(strstr(loader, "Remove-Item C:"));
  free(loader);
  ck_assert_uint_gt(pad, 5);
  json_t *d = stdin_doc(&c), *t = json_object_get(d, "t"), *r = json_object_get(d, "r");
  ck_assert_uint_eq(json_array_size(t), 2);
  ck_assert_uint_eq(json_array_size(r), 3);
  const rd_script *want[2] = {&S_A, &S_B};
  for (size_t k = 0; k < 2; k++) {
    const char *s = json_string_value(json_array_get(t, k));
    ck_assert_uint_eq(strspn(s, "\n"), pad);
    ck_assert_str_eq(s + pad, want[k]->text);
  }
  json_int_t idx[3] = {0, 1, 0};
  const json_t *par[3] = {pa, pb, NULL};
  for (size_t i = 0; i < 3; i++) {
    json_t *e = json_array_get(r, i), *p;
    json_error_t je;
    ck_assert_int_eq(json_integer_value(json_object_get(e, "t")), idx[i]);
    ck_assert_ptr_nonnull(p = json_loads(json_string_value(json_object_get(e, "p")), 0, &je));
    if (par[i])
      ck_assert(json_equal(p, par[i]));
    else
      ck_assert_uint_eq(json_object_size(p), 0);
    json_decref(p);
  }
  json_decref(d);
  rd_remote_cmd_free(&c);
  json_decref(pa);
  json_decref(pb);
}
END_TEST

/* What a Windows batch cannot carry is refused, nothing built. */
START_TEST(builder_refusals) {
  rd_script bad_utf8 = {"windows.bad", RD_PLATFORM_WINDOWS, 0, 0, "rd_out '\xff'"};
  json_t *arr = json_array();
  rd_remote_part posix[2] = {{&S_A, NULL}, {&S_POSIX, NULL}};
  rd_remote_part notobj[1] = {{&S_A, arr}};
  rd_remote_part badtext[1] = {{&bad_utf8, NULL}};
  rd_remote_cmd c;
  char err[256];
  ck_assert_int_eq(rd_remote_build_win_batch(posix, 2, &c, err, sizeof err), RD_EINVAL);
  ck_assert_str_eq(err, "script posix.x: only Windows scripts run in a Windows batch");
  ck_assert_ptr_null(c.command);
  ck_assert_int_eq(rd_remote_build_win_batch(notobj, 1, &c, err, sizeof err), RD_EINVAL);
  ck_assert_str_eq(err, "script windows.a: parameters must be a JSON object");
  ck_assert_int_eq(rd_remote_build_win_batch(badtext, 1, &c, err, sizeof err), RD_EINVAL);
  ck_assert_str_eq(err, "script windows.bad: the script text is not valid UTF-8");
  ck_assert_int_eq(rd_remote_build_win_batch(posix, 0, &c, err, sizeof err), RD_EINVAL);
  /* and a POSIX batch takes no Windows script */
  rd_remote_part win[1] = {{&S_A, NULL}};
  ck_assert_int_eq(rd_remote_build_batch(win, 1, 0, &c, err, sizeof err), RD_EINVAL);
  json_decref(arr);
}
END_TEST

/* The loader's answer (its lines as the Pester test sees them): each
 * script gets exactly its own exit, stdout and stderr; the failing one in
 * the middle fails alone; a batch cut short leaves the rest unanswered. */
START_TEST(answers_each_its_own) {
  char *o1 = rd_base64_encode_str("{\"a\":\"x\"}", 9), *e2 = rd_base64_encode_str("b\n", 2),
       *o3 = rd_base64_encode_str("\"c\"", 3), line[512], err[256];
  rd_remote_answer a[3];
  int n = snprintf(line, sizeof line, "rd_batch 0 0 %s \nrd_batch 1 3  %s\nrd_batch 2 0 %s \n", o1,
                   e2, o3);
  ck_assert_int_eq(rd_remote_parse_batch(line, (size_t)n, 3, a, err, sizeof err), 0);
  ck_assert_int_eq(a[0].exit_status, 0);
  ck_assert_str_eq(a[0].out, "{\"a\":\"x\"}");
  ck_assert_uint_eq(a[0].err_len, 0);
  ck_assert_int_eq(a[1].exit_status, 3);
  ck_assert_uint_eq(a[1].out_len, 0);
  ck_assert_str_eq(a[1].err, "b\n");
  ck_assert_int_eq(a[2].exit_status, 0);
  ck_assert_str_eq(a[2].out, "\"c\"");
  json_t *doc = NULL;
  ck_assert_int_eq(rd_remote_parse_windows(a[0].out, a[0].out_len, &doc, err, sizeof err), 0);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "a")), "x");
  json_decref(doc);
  rd_remote_answers_free(a, 3);
  /* cut short after the first: the others have no answer */
  n = snprintf(line, sizeof line, "rd_batch 0 0 %s \n", o1);
  ck_assert_int_eq(rd_remote_parse_batch(line, (size_t)n, 3, a, err, sizeof err), 0);
  ck_assert_int_eq(a[1].exit_status, RD_BATCH_NO_ANSWER);
  ck_assert_int_eq(a[2].exit_status, RD_BATCH_NO_ANSWER);
  rd_remote_answers_free(a, 3);
  /* a stray line (a script's output that escaped its writer): refused */
  n = snprintf(line, sizeof line, "WARNING: x\nrd_batch 0 0 %s \n", o1);
  ck_assert_int_eq(rd_remote_parse_batch(line, (size_t)n, 1, a, err, sizeof err), RD_EPROTO);
  free(o1);
  free(e2);
  free(o3);
}
END_TEST

/* The loader's variables ($Rdb*) are visible to the scripts it runs: no
 * shipped Windows script may use that prefix (PowerShell names are not
 * case-sensitive). */
START_TEST(scripts_leave_the_loader_prefix) {
  size_t n = 0;
  for (size_t i = 0; windows_script_sets[i]; i++)
    for (size_t j = 0; windows_script_sets[i][j]; j++, n++) {
      const char *t = windows_script_sets[i][j]->text;
      for (const char *p = t; (p = strchr(p, '$')); p++)
        ck_assert_msg(strncasecmp(p + 1, "rdb", 3), "%s uses the loader's prefix $Rdb",
                      windows_script_sets[i][j]->name);
    }
  ck_assert_uint_gt(n, 20);
  /* and the loader defines what a script alone has */
  const char *l = rd_remote_win_loader();
  ck_assert_ptr_nonnull(strstr(l, PS_PREFS PS_FUNCS));
}
END_TEST

/* A session's request: the command is the constant session loader, the
 * same for every request (the shell is kept while it is), within
 * cmd.exe's limit; stdin is the batch's document line then "E TOKEN"; the
 * answer ends with rd_remote_session_end's line. The loader runs each
 * request with the batch loader's own text. */
START_TEST(session_framing) {
  json_t *pa = json_pack("{s:s}", "a", "x y");
  rd_remote_part parts[2] = {{&S_A, pa}, {&S_B, NULL}}, one[1] = {{&S_B, NULL}};
  rd_remote_cmd c, c2, b;
  char err[256], line[64];
  ck_assert_int_eq(rd_remote_build_win_session(parts, 2, 0, &c, err, sizeof err), RD_EINVAL);
  ck_assert_str_eq(err, "remote: a session request needs a token");
  ck_assert_msg(rd_remote_build_win_session(parts, 2, 7, &c, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(rd_remote_build_win_session(one, 1, 8, &c2, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd_remote_build_win_batch(parts, 2, &b, err, sizeof err), 0);
  ck_assert_ptr_null(c.upload_path);
  ck_assert_uint_le(strlen(c.command), RD_WIN_CMDLINE_MAX);
  ck_assert_str_eq(c.command, c2.command);
  ck_assert_str_ne(c.command, b.command);
  char *loader = decoded(c.command);
  ck_assert_str_eq(loader, rd_remote_win_session_loader());
  ck_assert_ptr_nonnull(strstr(loader, PS_PREFS PS_FUNCS));
  ck_assert_ptr_nonnull(strstr(loader, "[Console]::In.ReadLine()"));
  ck_assert_ptr_null(strstr(loader, "ReadToEnd"));
  /* the batch loader's run, minus where it reads its document from */
  const char *bl_text = rd_remote_win_loader(), *run = strstr(bl_text, "$RdbI = 0\n");
  const char *tail = "$RdbO.Flush()\n";
  ck_assert_ptr_nonnull(run);
  ck_assert_str_eq(bl_text + strlen(bl_text) - strlen(tail), tail);
  char *mid = strndup(run, strlen(run) - strlen(tail));
  ck_assert_uint_gt(strlen(mid), 500);
  ck_assert_ptr_nonnull(strstr(loader, mid));
  free(mid);
  free(loader);
  /* stdin: the batch's line, then the end of the request */
  size_t bl = b.stdin_len;
  ck_assert_uint_eq(c.stdin_len, bl + strlen("E 7\n"));
  ck_assert(!memcmp(c.stdin_data, b.stdin_data, bl));
  ck_assert(!memcmp(c.stdin_data + bl, "E 7\n", 4));
  ck_assert(!memcmp(c2.stdin_data + c2.stdin_len - 4, "E 8\n", 4));
  json_t *d = stdin_doc(&c);
  ck_assert_uint_eq(json_array_size(json_object_get(d, "r")), 2);
  json_decref(d);
  ck_assert_int_eq(rd_remote_session_end(7, line, sizeof line), 0);
  ck_assert_str_eq(line, "rd_end 7\n");
  ck_assert_ptr_nonnull(strstr(rd_remote_win_session_loader(), "'rd_end ' + "));
  /* what a Windows batch refuses, a session request refuses too */
  rd_remote_part posix[1] = {{&S_POSIX, NULL}};
  rd_remote_cmd_free(&c2);
  ck_assert_int_eq(rd_remote_build_win_session(posix, 1, 9, &c2, err, sizeof err), RD_EINVAL);
  ck_assert_ptr_null(c2.command);
  rd_remote_cmd_free(&c);
  rd_remote_cmd_free(&b);
  json_decref(pa);
}
END_TEST

/* The text command c runs, decoded, to BUILD_DIR/ps/NAME; frees c. */
static void write_loader(rd_remote_cmd *c, const char *name) {
  char path[1200];
  FILE *f;
  char *t = decoded(c->command);
  snprintf(path, sizeof path, "%s/ps", BUILD_DIR);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/ps/%s", BUILD_DIR, name);
  ck_assert_ptr_nonnull(f = fopen(path, "wb"));
  ck_assert_uint_eq(fwrite(t, 1, strlen(t), f), strlen(t));
  fclose(f);
  free(t);
  rd_remote_cmd_free(c);
}

/* The loaders' texts for the Pester suite (tests/e2e/windows_pester.sh). */
START_TEST(ps_texts) {
  rd_remote_part one[1] = {{&S_A, NULL}};
  rd_remote_cmd c;
  char err[256];
  ck_assert_int_eq(rd_remote_build_win_batch(one, 1, &c, err, sizeof err), 0);
  write_loader(&c, "renewd.batch.ps1");
  ck_assert_int_eq(rd_remote_build_win_session(one, 1, 1, &c, err, sizeof err), 0);
  write_loader(&c, "renewd.session.ps1");
}
END_TEST

int main(void) {
  Suite *s = suite_create("remote_win");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, builder_shape);
  tcase_add_test(tc, builder_refusals);
  tcase_add_test(tc, answers_each_its_own);
  tcase_add_test(tc, scripts_leave_the_loader_prefix);
  tcase_add_test(tc, session_framing);
  suite_add_tcase(s, tc);
  tc = tcase_create("ps_texts"); /* CK_RUN_CASE=ps_texts: windows_pester.sh */
  tcase_add_test(tc, ps_texts);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
