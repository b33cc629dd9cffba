/* sshd_harness.h — a private sshd on 127.0.0.1 for the SSH unit tests, and
 * the small client-side helpers they share.
 *
 * tu_sshd_main() is the whole main() of such a test program: when the
 * process is not root, or /usr/sbin/sshd or ssh-keygen is missing, it prints
 * one line saying why and returns 77 (CTest's SKIP_RETURN_CODE) without
 * running anything; when they are there but the sshd cannot be set up, that
 * is a failure. Otherwise it creates throwaway keys (host key "host", another
 * "other", user keys "user", ec256, ec384 (PEM), ec521, "enc" (passphrase
 * "pass phrase"), PKCS#8 p8.pem and p8ec.pem), three known_hosts files (the
 * real key, a wrong key, empty), starts sshd -D (creating /run/sshd, which
 * sshd needs and a machine without systemd lacks), runs the suite, and
 * stops the sshd and removes the keys. */
#ifndef RENEWD_SSHD_HARNESS_H
#define RENEWD_SSHD_HARNESS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>
#include <uv.h>

#include "transport/ssh.h"

extern char tu_sshd_dir[256];
extern int tu_sshd_port;
extern char tu_sshd_key[300];      /* the user key (ed25519) in authorized_keys */
extern char tu_sshd_kh[300];       /* known_hosts with the host key */
extern char tu_sshd_kh_wrong[300]; /* known_hosts with another key for it */
extern char tu_sshd_kh_empty[300]; /* empty known_hosts */
extern char tu_sshd_host_fp[128];  /* "SHA256:..." of the host key */

int tu_sshd_main(const char *prog, Suite *s);
/* A free TCP port on 127.0.0.1 (nobody listens there). */
int tu_free_port(void);

/* One operation's result, copied out of the callback. */
typedef struct tu_res {
  int done, status, exit, trunc;
  char *out, *err, msg[512];
  size_t out_len, err_len;
  double ms;
} tu_res;
void tu_on_res(const rd_exec_result *r, void *arg); /* arg: tu_res */
void tu_res_free(tu_res *x);
/* root@127.0.0.1:port with the user key and tu_sshd_kh, named name. */
rd_ssh_target tu_target(const char *name);
/* rd_ssh_shutdown, run the loop out, and check uv_loop_close() == 0. */
extern int tu_shut_done;
void tu_on_shut(void *arg);
void tu_finish(uv_loop_t *loop, rd_ssh *m);
void tu_run_until(uv_loop_t *loop, int *flag);
/* Run the loop for ms (sessions stay idle meanwhile). */
void tu_idle_for(uv_loop_t *loop, uint64_t ms);

#endif
