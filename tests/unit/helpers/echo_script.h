/* echo_script.h — the POSIX echo script and its hostile parameters, shared
 * by the local run (test_remote) and the run over SSH (test_ssh). */
#ifndef RENEWD_ECHO_SCRIPT_H
#define RENEWD_ECHO_SCRIPT_H
#include <jansson.h>

/* Returns every parameter as a file (f_NAME) and as its variable (v_NAME),
 * prints a stray line, the binary parameter as rd_out_b64 binary_b64 and
 * its parameter directory as tmpdir. */
extern const char tu_echo_script[];
/* A file a broken quoting would create. */
#define TU_PWNED "/tmp/renewd-test-pwned"
/* Quotes, substitutions, newlines, binary, 64 KiB, numbers, booleans. */
json_t *tu_hostile_params(void);
/* Every parameter came back byte-exact as its file and as its variable. */
void tu_expect_echo(json_t *params, json_t *out);

#endif
