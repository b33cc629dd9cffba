/* sshd_harness.c — see sshd_harness.h. */
#include "sshd_harness.h"

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

#include "testutil.h"
#include "transport/global.h"

char tu_sshd_dir[256];
int tu_sshd_port;
char tu_sshd_key[300], tu_sshd_kh[300], tu_sshd_kh_wrong[300], tu_sshd_kh_empty[300];
char tu_sshd_host_fp[128];
static pid_t tu_sshd_pid;
static const char *sshd_setup_error; /* root and sshd present, but setup failed */

int tu_free_port(void) {
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
  /* sshd refuses to start without its privilege separation directory; a
   * fresh machine without systemd's tmpfiles has none */
  if (mkdir("/run/sshd", 0755) && errno != EEXIST) {
    sshd_setup_error = "cannot create /run/sshd";
    return;
  }
  snprintf(tu_sshd_dir, sizeof tu_sshd_dir, "%s/sshd-test-XXXXXX", BUILD_DIR);
  if (!mkdtemp(tu_sshd_dir)) {
    sshd_setup_error = "cannot create a directory under the build directory";
    tu_sshd_dir[0] = 0;
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
           tu_sshd_dir);
  if (system(buf)) {
    sshd_setup_error = "generating the test keys failed";
    tu_sshd_dir[0] = 0;
    return;
  }
  tu_sshd_port = tu_free_port();
  snprintf(cfg, sizeof cfg, "%s/sshd_config", tu_sshd_dir);
  f = fopen(cfg, "w");
  fprintf(f,
          "ListenAddress 127.0.0.1:%d\nHostKey %s/host\nPidFile %s/sshd.pid\n"
          "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
          "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
          "KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\n"
          "MaxStartups 100:30:200\nMaxSessions 64\nLogLevel ERROR\nUseDNS no\n",
          tu_sshd_port, tu_sshd_dir, tu_sshd_dir, tu_sshd_dir);
  fclose(f);
  snprintf(tu_sshd_key, sizeof tu_sshd_key, "%s/user", tu_sshd_dir);
  snprintf(tu_sshd_kh, sizeof tu_sshd_kh, "%s/known_hosts", tu_sshd_dir);
  snprintf(tu_sshd_kh_wrong, sizeof tu_sshd_kh_wrong, "%s/known_hosts.wrong", tu_sshd_dir);
  snprintf(tu_sshd_kh_empty, sizeof tu_sshd_kh_empty, "%s/known_hosts.empty", tu_sshd_dir);
  /* known_hosts lines for [127.0.0.1]:port: the real key, and another one */
  snprintf(buf, sizeof buf,
           "printf '[127.0.0.1]:%d %%s\\n' \"$(cut -d' ' -f1,2 %s/host.pub)\" > %s && "
           "printf '[127.0.0.1]:%d %%s\\n' \"$(cut -d' ' -f1,2 %s/other.pub)\" > %s && : > %s",
           tu_sshd_port, tu_sshd_dir, tu_sshd_kh, tu_sshd_port, tu_sshd_dir, tu_sshd_kh_wrong, tu_sshd_kh_empty);
  if (system(buf)) {
    sshd_setup_error = "writing the known_hosts files failed";
    return;
  }
  snprintf(buf, sizeof buf, "ssh-keygen -lf %s/host.pub | cut -d' ' -f2", tu_sshd_dir);
  f = popen(buf, "r");
  if (!f || !fgets(tu_sshd_host_fp, sizeof tu_sshd_host_fp, f))
    tu_sshd_host_fp[0] = 0;
  if (f)
    pclose(f);
  tu_sshd_host_fp[strcspn(tu_sshd_host_fp, "\n")] = 0;
  tu_sshd_pid = fork();
  if (tu_sshd_pid == 0) {
    char log[400];
    snprintf(log, sizeof log, "%s/sshd.log", tu_sshd_dir);
    int null = open("/dev/null", O_RDWR), lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(null, 0);
    dup2(null, 1);
    dup2(lf >= 0 ? lf : null, 2);
    execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", cfg, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200 && !port_open(tu_sshd_port); i++)
    usleep(20000);
  if (!port_open(tu_sshd_port)) {
    sshd_setup_error = "the test sshd did not start (see its sshd.log)";
    kill(tu_sshd_pid, SIGTERM);
    tu_sshd_pid = 0;
    tu_sshd_dir[0] = 0;
  }
}

static void sshd_down(void) {
  if (tu_sshd_pid > 0) {
    kill(tu_sshd_pid, SIGTERM);
    waitpid(tu_sshd_pid, NULL, 0);
    tu_sshd_pid = 0;
  }
  if (*tu_sshd_dir) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tu_sshd_dir);
    if (system(cmd))
      fprintf(stderr, "could not remove %s\n", tu_sshd_dir);
  }
}



void tu_on_res(const rd_exec_result *r, void *arg) {
  tu_res *x = arg;
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

void tu_res_free(tu_res *x) {
  free(x->out);
  free(x->err);
  memset(x, 0, sizeof *x);
}

rd_ssh_target tu_target(const char *name) {
  rd_ssh_target t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.address = "127.0.0.1";
  t.port = tu_sshd_port;
  t.user = "root";
  t.identity = tu_sshd_key;
  t.known_hosts = tu_sshd_kh;
  return t;
}

int tu_shut_done;
void tu_on_shut(void *arg) { (void)arg; tu_shut_done++; }

void tu_finish(uv_loop_t *loop, rd_ssh *m) {
  tu_shut_done = 0;
  rd_ssh_shutdown(m, tu_on_shut, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(tu_shut_done, 1);
  ck_assert_int_eq(uv_loop_close(loop), 0);
}

void tu_run_until(uv_loop_t *loop, int *flag) {
  while (!*flag && uv_run(loop, UV_RUN_ONCE))
    ;
}

static int tick;
static void on_tick(uv_timer_t *t) {
  tick = 1;
  uv_close((uv_handle_t *)t, NULL);
}

void tu_idle_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t *t = malloc(sizeof *t);
  tick = 0;
  uv_timer_init(loop, t);
  uv_timer_start(t, on_tick, ms, 0);
  tu_run_until(loop, &tick);
  uv_run(loop, UV_RUN_NOWAIT); /* the timer's close callback */
  free(t);
}

int tu_sshd_main(const char *prog, Suite *s) {
  int rc;
  if (geteuid() != 0) {
    printf("%s: SKIP: the SSH tests need root (to run a private sshd and log in as root); "
           "uid is %d\n", prog, (int)geteuid());
    srunner_free(srunner_create(s)); /* frees the suite */
    return 77;
  }
  if (access("/usr/sbin/sshd", X_OK) || access("/usr/bin/ssh-keygen", X_OK)) {
    printf("%s: SKIP: the SSH tests need /usr/sbin/sshd and /usr/bin/ssh-keygen "
           "(Debian: openssh-server, openssh-client)\n", prog);
    srunner_free(srunner_create(s)); /* frees the suite */
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  if (rd_transport_global_init()) {
    fprintf(stderr, "%s: rd_transport_global_init failed\n", prog);
    srunner_free(srunner_create(s)); /* frees the suite */
    return EXIT_FAILURE;
  }
  sshd_up();
  if (!tu_sshd_pid) {
    fprintf(stderr, "%s: the test sshd could not be set up: %s\n", prog,
            sshd_setup_error ? sshd_setup_error : "unknown error");
    sshd_down();
    srunner_free(srunner_create(s)); /* frees the suite */
    rd_transport_global_cleanup();
    return EXIT_FAILURE;
  }
  rc = tu_run(s);
  sshd_down();
  rd_transport_global_cleanup();
  return rc;
}
