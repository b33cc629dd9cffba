/* localhost_api.c — see localhost_api.h. */
#include "localhost_api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "config/secret.h"
#include "host/hostapi.h"
#include "transport/remote.h"
#include "base/util.h"
#include "base/x509.h"

#define LH_SCRIPT_TIMEOUT_MS 120000
#define LH_OUT_CAP (16u << 20)
#define LH_ERR_CAP (64u << 10)

struct lh_job {
  char *host;
  json_t *facts, *sections, *journal;
  int whatif;
  int scripts_run;
  char state[64];
};

/* One step invocation (opaque to plugins). */
struct rd_step {
  lh_job *job;
  json_t *params;
  void *data;
  void (*free_fn)(void *);
  lh_outcome *out;
};

lh_job *lh_job_new(const char *host, const char *sections_json) {
  lh_job *j = calloc(1, sizeof *j);
  json_error_t je;
  if (!j)
    return NULL;
  j->host = strdup(host ? host : "localhost");
  j->sections = sections_json ? json_loads(sections_json, 0, &je) : json_object();
  if (!j->sections) {
    fprintf(stderr, "lh_job_new: sections: %s (line %d)\n", je.text, je.line);
    j->sections = json_object();
  }
  j->journal = json_object();
  j->facts = json_pack("{s:{s:s, s:s, s:i, s:s, s:{}}, s:b}", "host", "name", j->host, "address",
                       "127.0.0.1", "port", 22, "platform", "posix", "vars", "whatif", 0);
  return j;
}

void lh_job_free(lh_job *j) {
  if (!j)
    return;
  free(j->host);
  json_decref(j->facts);
  json_decref(j->sections);
  json_decref(j->journal);
  free(j);
}

json_t *lh_facts(lh_job *j) { return j->facts; }
json_t *lh_journal(lh_job *j) { return j->journal; }
void lh_set_whatif(lh_job *j, int on) {
  j->whatif = on;
  json_object_set_new(j->facts, "whatif", json_boolean(on));
}
int lh_scripts_run(const lh_job *j) { return j->scripts_run; }
const char *lh_state(const lh_job *j) { return j->state; }

/* ------------------------------------------------------------ host API */

static const json_t *lh_params(rd_step *s) { return s->params; }
static const char *lh_host(rd_step *s) { return s->job->host; }
static rd_platform lh_platform(rd_step *s) { return RD_PLATFORM_POSIX; }
static int lh_whatif(rd_step *s) { return s->job->whatif; }
static json_t *lh_facts_cb(rd_step *s) { return s->job->facts; }
static const json_t *lh_section(rd_step *s, const char *name) {
  return json_object_get(s->job->sections, name);
}

static void lh_log(rd_step *s, rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lh_log(rd_step *s, rd_log_level level, const char *fmt, ...) {
  if (getenv("LH_VERBOSE")) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s %d] ", s->job->host, (int)level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
}

static void lh_set_data(rd_step *s, void *data, void (*free_fn)(void *)) {
  if (s->data && s->free_fn && s->data != data)
    s->free_fn(s->data);
  s->data = data;
  s->free_fn = free_fn;
}
static void *lh_data(rd_step *s) { return s->data; }

static int lh_journal_put(rd_step *s, const char *key, const json_t *value) {
  if (!value) {
    json_object_del(s->job->journal, key);
    return 0;
  }
  return json_object_set_new(s->job->journal, key, json_deep_copy(value)) ? RD_ENOMEM : 0;
}
static json_t *lh_journal_get(rd_step *s, const char *key) {
  const json_t *v = json_object_get(s->job->journal, key);
  return v ? json_deep_copy(v) : NULL;
}
static int lh_set_state(rd_step *s, const char *state) {
  snprintf(s->job->state, sizeof s->job->state, "%s", state);
  return 0;
}

/* Append up to cap bytes read from fd to buf. 0 on EOF, 1 more to come. */
static int lh_drain(int fd, char **buf, size_t *len, size_t cap) {
  char tmp[65536];
  ssize_t n = read(fd, tmp, sizeof tmp);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 1 : 0;
  if (n == 0)
    return 0;
  if (*len < cap) {
    size_t take = (size_t)n > cap - *len ? cap - *len : (size_t)n;
    char *nb = realloc(*buf, *len + take + 1);
    if (nb) {
      memcpy(nb + *len, tmp, take);
      *len += take;
      nb[*len] = 0;
      *buf = nb;
    }
  }
  return 1;
}

static long lh_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Run `/bin/sh -c command` with in on stdin; collect stdout/stderr. */
static int lh_exec(const char *command, const unsigned char *in, size_t inlen, char **out,
                   size_t *outlen, char **err, size_t *errlen, int *exit_status) {
  int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, st = 0, rc = 0;
  size_t off = 0;
  long deadline = lh_now_ms() + LH_SCRIPT_TIMEOUT_MS;
  pid_t pid;
  signal(SIGPIPE, SIG_IGN); /* a script may exit before reading all of stdin */
  *out = calloc(1, 1);
  *err = calloc(1, 1);
  *outlen = *errlen = 0;
  if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
    return RD_EIO;
  if ((pid = fork()) < 0)
    return RD_EIO;
  if (pid == 0) {
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  fcntl(pin[1], F_SETFL, O_NONBLOCK);
  if (!inlen) {
    close(pin[1]);
    pin[1] = -1;
  }
  {
    int open_out = 1, open_err = 1;
    while (open_out || open_err) {
      struct pollfd p[3];
      int np = 0, r;
      long left = deadline - lh_now_ms();
      if (left <= 0) {
        kill(pid, SIGKILL);
        rc = RD_ETIMEDOUT;
        break;
      }
      if (open_out)
        p[np++] = (struct pollfd){pout[0], POLLIN, 0};
      if (open_err)
        p[np++] = (struct pollfd){perr[0], POLLIN, 0};
      if (pin[1] >= 0)
        p[np++] = (struct pollfd){pin[1], POLLOUT, 0};
      r = poll(p, (nfds_t)np, (int)left);
      if (r < 0 && errno != EINTR)
        break;
      for (int i = 0; r > 0 && i < np; i++) {
        if (!p[i].revents)
          continue;
        if (p[i].fd == pout[0])
          open_out = lh_drain(pout[0], out, outlen, LH_OUT_CAP);
        else if (p[i].fd == perr[0])
          open_err = lh_drain(perr[0], err, errlen, LH_ERR_CAP);
        else {
          ssize_t w = write(pin[1], in + off, inlen - off);
          if (w > 0)
            off += (size_t)w;
          if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == inlen) {
            close(pin[1]);
            pin[1] = -1;
          }
        }
      }
    }
  }
  if (pin[1] >= 0)
    close(pin[1]);
  close(pout[0]);
  close(perr[0]);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return rc;
}

static int lh_remote(rd_step *s, const rd_script *sc, json_t *params, rd_remote_cb cb, void *arg) {
  rd_remote_cmd cmd;
  rd_remote_result r;
  char err[512], *out = NULL, *serr = NULL;
  size_t outlen = 0, errlen = 0;
  int rc, status, exit_status = -1;
  json_t *obj = NULL;
  if (sc->platform == RD_PLATFORM_WINDOWS) {
    json_decref(params);
    return RD_ENOTSUP;
  }
  /* Refused before anything is sent, as the real host does. */
  if (sc->mutating && s->job->whatif) {
    json_decref(params);
    return RD_EWHATIF;
  }
  rc = rd_remote_build(sc, params, 0, &cmd, err, sizeof err);
  json_decref(params);
  if (rc < 0) {
    fprintf(stderr, "localhost_api: %s\n", err);
    return rc;
  }
  s->job->scripts_run++;
  status = lh_exec(cmd.command, cmd.stdin_data, cmd.stdin_len, &out, &outlen, &serr, &errlen,
                   &exit_status);
  rd_remote_cmd_free(&cmd);
  if (getenv("LH_VERBOSE"))
    fprintf(stderr, "[%s] %s: exit %d\n--- stderr ---\n%s\n", s->job->host, sc->name, exit_status,
            serr ? serr : "");
  if (status == 0 && exit_status == 0 &&
      rd_remote_parse_posix(out, outlen, &obj, err, sizeof err) < 0) {
    status = RD_EPROTO;
    fprintf(stderr, "localhost_api: %s: %s\n", sc->name, err);
  }
  memset(&r, 0, sizeof r);
  r.exit_status = exit_status;
  r.json = obj;
  r.out = out ? out : "";
  r.out_len = outlen;
  r.err = serr ? serr : "";
  cb(s, status, &r, arg);
  json_decref(obj);
  free(out);
  free(serr);
  return 0;
}

static int lh_http(rd_step *s, const rd_http_request *req, rd_http_cb cb, void *arg) {
  return RD_ENOTSUP;
}

static int lh_work(rd_step *s, rd_work_fn fn, rd_after_fn after, void *arg) {
  fn(arg);
  after(s, 0, arg);
  return 0;
}

/* The engine's own reader (config/secret.c), as h_secret uses it. */
static int lh_secret(rd_step *s, const json_t *ref, char **out, size_t *len) {
  char err[768];
  (void)s;
  return rd_secret_read_json(ref, out, len, err, sizeof err);
}

static void lh_done(rd_step *s, int status, json_t *result, const char *msg) {
  lh_outcome *o = s->out;
  if (o->done_calls++) {
    fprintf(stderr, "localhost_api: done() called %d times (msg %s)\n", o->done_calls,
            msg ? msg : "");
    json_decref(result);
    return;
  }
  o->status = status;
  o->result = result;
  snprintf(o->msg, sizeof o->msg, "%s", msg ? msg : "");
  if (getenv("LH_VERBOSE"))
    fprintf(stderr, "[%s] done %d: %s\n", s->job->host, status, o->msg);
}





static void lh_donef(rd_step *s, int status, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const rd_host_api lh_host_api = {
    .size = sizeof(rd_host_api),
    .abi = RD_PLUGIN_ABI,
    .params = lh_params,
    .host = lh_host,
    .platform = lh_platform,
    .whatif = lh_whatif,
    .facts = lh_facts_cb,
    .section = lh_section,
    .log = lh_log,
    .set_data = lh_set_data,
    .data = lh_data,
    .journal_put = lh_journal_put,
    .journal_get = lh_journal_get,
    .set_state = lh_set_state,
    .remote = lh_remote,
    .http = lh_http,
    .work = lh_work,
    .secret = lh_secret,
    .done = lh_done,
    .strerror = rd_strerror,
    .cert_facts = rd_x509_facts_from_bytes,
    .donef = lh_donef,
    .b64_encode = rd_base64_encode_str,
    .b64_decode = rd_base64_decode_str,
};

static void lh_donef(rd_step *s, int status, json_t *result, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rd_host_vdonef(lh_api(), s, status, result, fmt, ap);
  va_end(ap);
}

const rd_host_api *lh_api(void) { return &lh_host_api; }

void lh_outcome_clear(lh_outcome *o) {
  json_decref(o->result);
  memset(o, 0, sizeof *o);
}

int lh_phase(lh_job *job, const rd_step_kind *kind, rd_phase phase, const char *params_json,
             lh_outcome *out) {
  rd_step s;
  json_error_t je;
  rd_phase_fn fn = phase == RD_PHASE_PROBE    ? kind->probe
                   : phase == RD_PHASE_APPLY  ? kind->apply
                   : phase == RD_PHASE_VERIFY ? kind->verify
                                              : kind->rollback;
  lh_outcome_clear(out);
  memset(&s, 0, sizeof s);
  s.job = job;
  s.out = out;
  s.params = params_json ? json_loads(params_json, 0, &je) : json_object();
  if (!s.params) {
    fprintf(stderr, "lh_phase: params: %s\n", je.text);
    out->rc = out->status = RD_EINVAL;
    return out->status;
  }
  if (!fn) {
    out->rc = out->status = RD_ENOTSUP;
  } else {
    out->rc = fn(&s, &lh_host_api);
    if (out->rc < 0) {
      out->status = out->rc;
      if (out->done_calls)
        fprintf(stderr, "lh_phase: %s returned %d but also completed\n", kind->type, out->rc);
    } else if (out->done_calls != 1) {
      fprintf(stderr, "lh_phase: %s completed %d times\n", kind->type, out->done_calls);
      out->status = RD_ESTATE;
    }
  }
  if (s.data && s.free_fn)
    s.free_fn(s.data);
  json_decref(s.params);
  return out->status;
}

static char *lh_vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *lh_vfmt(const char *fmt, va_list ap) {
  char *cmd = NULL;
  if (vasprintf(&cmd, fmt, ap) < 0)
    return NULL;
  return cmd;
}

int lh_sh(const char *fmt, ...) {
  va_list ap;
  char *cmd;
  int st;
  va_start(ap, fmt);
  cmd = lh_vfmt(fmt, ap);
  va_end(ap);
  if (!cmd)
    return -1;
  st = system(cmd);
  free(cmd);
  return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *lh_sh_out(const char *fmt, ...) {
  va_list ap;
  char *cmd, *buf = NULL;
  size_t len = 0;
  FILE *p;
  va_start(ap, fmt);
  cmd = lh_vfmt(fmt, ap);
  va_end(ap);
  if (!cmd)
    return NULL;
  if ((p = popen(cmd, "r"))) {
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0) {
      char *nb = realloc(buf, len + n + 1);
      if (!nb)
        break;
      buf = nb;
      memcpy(buf + len, tmp, n);
      len += n;
      buf[len] = 0;
    }
    pclose(p);
  }
  free(cmd);
  if (!buf)
    buf = calloc(1, 1);
  while (buf && len && buf[len - 1] == '\n')
    buf[--len] = 0;
  return buf;
}
