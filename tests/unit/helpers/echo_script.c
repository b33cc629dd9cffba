/* echo_script.c — see echo_script.h. */
#include "echo_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

const char tu_echo_script[] =
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

json_t *tu_hostile_params(void) {
  json_t *p = json_object();
  unsigned char bin[255], *big = malloc(65536);
  for (int i = 0; i < 255; i++)
    bin[i] = (unsigned char)(i + 1);
  for (int i = 0; i < 65536; i++)
    big[i] = (unsigned char)(1 + (i * 7919) % 255); /* NUL-free, every byte */
  json_object_set_new(p, "squote", json_string("it's a 'quoted' value'"));
  json_object_set_new(p, "dquote", json_string("\"double\" \"\"quotes\""));
  json_object_set_new(p, "backtick", json_string("`touch " TU_PWNED "`"));
  json_object_set_new(p, "subst", json_string("$(touch " TU_PWNED ") ${HOME} $HOME $((1+1))"));
  json_object_set_new(p, "semi", json_string("a; touch " TU_PWNED "; b && c || d | e & f"));
  json_object_set_new(p, "breakout", json_string("x'; touch " TU_PWNED "; echo '"));
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

void tu_expect_echo(json_t *params, json_t *out) {
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
