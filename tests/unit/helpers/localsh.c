/* localsh.c — see localsh.h. */
#include "localsh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "base/err.h"
#include "transport/remote.h"

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
void run_local(const char *command, const void *in, size_t inlen, lres *r) {
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

void lres_free(lres *r) {
  free(r->out);
  free(r->err);
}

void expect_batch_refused(const char *const *bad, size_t nbad) {
  rd_remote_answer a[2];
  char err[256];
  for (size_t i = 0; i < nbad; i++) {
    ck_assert_msg(rd_remote_parse_batch(bad[i], strlen(bad[i]), 2, a, err, sizeof err) ==
                      RD_EPROTO, "accepted %s", bad[i]);
    for (size_t k = 0; k < 2; k++) {
      ck_assert_int_eq(a[k].exit_status, RD_BATCH_NO_ANSWER);
      ck_assert_ptr_null(a[k].out);
    }
  }
}
