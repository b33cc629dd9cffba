/* doctor.c — `renewd doctor`: a read-only preflight of every target.
 *
 * A doctor run is a whatif run (the host API refuses every mutating script
 * before anything is sent) in which job.c hands every completion here. The
 * job's steps are the platform's doctor kind when it has one (build.c puts
 * "<platform>.doctor" first: sudo, tools, paths), the inventory, the
 * issuer, the install and the runbook's steps; each runs its probe, and a
 * failure does not stop the walk (the admin wants every finding at once),
 * except that a host SSH cannot reach or log in to is not probed further.
 *
 * The job's report gets "checks": [{"check", "ok", "message", "fix"}] in the
 * order an admin fixes them (ssh, the platform's checks, the certificate,
 * the CA, the install, each step), and the job ends READY or NOT_READY. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "core/engine_int.h"

static void add_check(rd_job *j, const char *check, int ok, const char *msg, const char *fix) {
  json_t *c = json_object_get(j->report, "checks");
  if (!c) {
    c = json_array();
    json_object_set_new(j->report, "checks", c);
  }
  json_array_append_new(c, json_pack("{s:s, s:b, s:s, s:s?}", "check", check, "ok", ok,
                                     "message", msg ? msg : "", "fix", fix));
}

/* SSH could not connect, trust the host or log in: nothing else can run.
 * Only asked of a host's first step, whose time-out is (almost always) the
 * connection's: it would leave every later step to time out the same way. */
static int ssh_failure(int status) {
  return status == RD_EHOSTKEY || status == RD_EAUTH || status == RD_ECONNREFUSED ||
         status == RD_ENETWORK || status == RD_ETIMEDOUT;
}

static const json_t *probe_of(const rd_step *s) {
  return json_object_get(json_object_get(s->report, "phases"), "probe");
}

/* The probe's message without the "HOST: " every donef() puts first. */
static const char *probe_msg(const rd_step *s) {
  const char *m = json_string_value(json_object_get(probe_of(s), "message"));
  size_t n = strlen(s->j->t->name);
  if (!m)
    return rd_strerror(s->status);
  if (!strncmp(m, s->j->t->name, n) && !strncmp(m + n, ": ", 2))
    m += n + 2;
  return m;
}

static void check_ssh(rd_job *j, const rd_step *first) {
  const rd_ssh_target *t = &j->st;
  char msg[1024], fix[1024];
  if (!ssh_failure(first->status)) {
    snprintf(msg, sizeof msg, "%s:%d answers, its host key is in %s, %s logs in", t->address,
             t->port, t->known_hosts, t->user);
    add_check(j, "ssh", 1, msg, NULL);
    return;
  }
  snprintf(msg, sizeof msg, "%s:%d: %s", t->address, t->port, probe_msg(first));
  switch (first->status) {
  case RD_EHOSTKEY:
    snprintf(fix, sizeof fix,
             "compare the host's key fingerprint with what its console shows, then: renewd "
             "hosts trust %s --runbook %s",
             j->t->name, j->rb->path);
    break;
  case RD_EAUTH:
    snprintf(fix, sizeof fix,
             "put the public half of %s in ~%s/.ssh/authorized_keys on the host (and check "
             "sshd's AllowUsers)",
             t->identity ? t->identity : "the runbook's ssh.identity", t->user);
    break;
  case RD_ECONNREFUSED:
    snprintf(fix, sizeof fix,
             "start sshd on the host (Windows: Start-Service sshd), or correct the address "
             "and port in the inventory");
    break;
  default:
    snprintf(fix, sizeof fix,
             "check the address, the route and the firewall between this machine and "
             "%s:%d",
             t->address, t->port);
  }
  add_check(j, "ssh", 0, msg, fix);
}

/* One inventory finding: what stops a renewal and how to fix it. The
 * certificate section's paths are in the detail already. */
static void check_problem(rd_job *j, const char *what, const char *detail) {
  const char *user = j->st.user;
  char fix[1024];
  if (!strcmp(what, "expired")) { /* renewd renews it: a note, not a blocker */
    add_check(j, "certificate", 1, detail, NULL);
    return;
  }
  if (!strcmp(what, "unreadable key"))
    snprintf(fix, sizeof fix,
             j->rb->ssh.sudo
                 ? "root cannot use it either: an encrypted key? renewd needs one it can read "
                   "(openssl pkey -in KEY -out KEY.plain, then swap them)"
                 : "set \"sudo\": true in the runbook's ssh section (and give %s the sudo rule "
                   "doctor prints), or let %s read it: setfacl -m u:%s:r KEY",
             user, user, user);
  else if (!strcmp(what, "missing key"))
    snprintf(fix, sizeof fix, "correct the runbook's certificate.key, or put the key there");
  else if (!strcmp(what, "key mismatch"))
    snprintf(fix, sizeof fix,
             "find the key that belongs to the certificate and name it in certificate.key");
  else if (!strcmp(what, "missing certificate") || !strcmp(what, "unreadable certificate"))
    snprintf(fix, sizeof fix,
             "correct the runbook's certificate.cert; without a certificate the issuer must "
             "enrol anew (a SCEP challenge, or ACME)");
  else
    snprintf(fix, sizeof fix, "see the finding; 'renewd inventory' shows the certificate");
  add_check(j, "certificate", 0, detail, fix);
}

static void check_inventory(rd_job *j, const rd_step *s, int sudo_broken) {
  const json_t *problems = json_object_get(j->facts, "problems"), *p;
  size_t i, shown = 0;
  if (s->status) {
    add_check(j, "certificate", 0, probe_msg(s),
              sudo_broken ? "fix sudo first (above), then run doctor again"
                          : "the inventory must read the certificate section's files: see "
                            "the message");
    return;
  }
  json_array_foreach(problems, i, p) {
    const char *what = json_string_value(json_object_get(p, "what"));
    const char *detail = json_string_value(json_object_get(p, "detail"));
    if (what && detail) {
      check_problem(j, what, detail);
      shown++;
    }
  }
  if (!shown)
    add_check(j, "certificate", 1, probe_msg(s), NULL);
}

static void check_step(rd_job *j, const rd_step *s, int sudo_broken, int inv_failed) {
  char name[300], fix[1024];
  const char *url = json_string_value(json_object_get(j->rb->issuer, "url"));
  if (s->kind->flags & RD_KIND_ISSUER)
    snprintf(name, sizeof name, "CA");
  else if (s->kind->flags & RD_KIND_INSTALL)
    snprintf(name, sizeof name, "install");
  else
    snprintf(name, sizeof name, "step %s", s->name);
  if (!s->status) {
    add_check(j, name, 1, probe_msg(s), NULL);
    return;
  }
  if (sudo_broken && strstr(probe_msg(s), "sudo"))
    snprintf(fix, sizeof fix, "fix sudo first (above), then run doctor again");
  else if (inv_failed && !(s->kind->flags & RD_KIND_ISSUER))
    snprintf(fix, sizeof fix,
             "it needs the live certificate: fix the certificate check (above) first, then run "
             "doctor again");
  else if (s->kind->flags & RD_KIND_ISSUER)
    snprintf(fix, sizeof fix,
             "the CA must answer %s (SCEP and ACME: from this machine; AD CS: from the "
             "target): check the runbook's issuer section, DNS, proxy and firewall",
             url ? url : "its issuer's probe");
  else
    snprintf(fix, sizeof fix,
             "its probe says its apply cannot succeed: fix what it names, then run doctor "
             "again");
  add_check(j, name, 0, probe_msg(s), fix);
}

/* Did the platform's doctor kind find sudo unusable? */
static int platform_checks(rd_job *j, const rd_step *s) {
  const json_t *checks = json_object_get(json_object_get(probe_of(s), "result"), "checks"), *c;
  size_t i;
  int sudo_broken = 0;
  if (s->status) {
    add_check(j, "host", 0, probe_msg(s), "see the message");
    return 0;
  }
  json_array_foreach(checks, i, c) {
    const char *name = json_string_value(json_object_get(c, "check"));
    int ok = json_is_true(json_object_get(c, "ok"));
    add_check(j, name ? name : "host", ok, json_string_value(json_object_get(c, "message")),
              json_string_value(json_object_get(c, "fix")));
    if (!ok && name && !strcmp(name, "sudo"))
      sudo_broken = 1;
  }
  return sudo_broken;
}

static int is_doctor_kind(const rd_step *s) {
  const char *dot = strrchr(s->kind->type, '.');
  return s->index == 0 && dot && !strcmp(dot, ".doctor");
}

/* Every probe ran (or SSH stopped the walk): the checks, the outcome. */
static void finish(rd_job *j) {
  int sudo_broken = 0, inv_failed = 0, ok = 1;
  size_t k = 0, i;
  const json_t *c;
  check_ssh(j, &j->steps[0]);
  if (!ssh_failure(j->steps[0].status)) {
    if (is_doctor_kind(&j->steps[0]))
      sudo_broken = platform_checks(j, &j->steps[k++]);
    for (; k < j->nsteps; k++) {
      const rd_step *s = &j->steps[k];
      if (s->kind->flags & RD_KIND_INVENTORY) {
        check_inventory(j, s, sudo_broken);
        inv_failed = s->status != 0;
      } else
        check_step(j, s, sudo_broken, inv_failed);
    }
  }
  json_array_foreach(json_object_get(j->report, "checks"), i, c)
    ok &= json_is_true(json_object_get(c, "ok"));
  rd_job_clear_error(j); /* the checks say it all */
  rd_job_finish_as(j, ok ? RD_OUT_READY : RD_OUT_NOT_READY);
}

void rd_doctor_next(rd_job *j) {
  const rd_step *s = &j->steps[j->idx];
  j->stage = ST_DOCTOR;
  /* a finding is not the job's failure: the walk goes on */
  rd_job_clear_error(j);
  if (j->idx == 0 && ssh_failure(s->status)) {
    finish(j);
    return;
  }
  if (s->kind->flags & RD_KIND_INVENTORY) { /* what the issuer's probe reads: as if due now */
    const json_t *cert = json_object_get(s->facts, "cert");
    json_int_t na = json_integer_value(json_object_get(cert, "not_after"));
    json_object_set_new(s->facts, "due",
                        json_pack("{s:b, s:b, s:s}", "due", 1, "expired",
                                  cert && na <= (json_int_t)time(NULL), "why", "doctor"));
  }
  if (++j->idx < j->nsteps) {
    rd_step_run(&j->steps[j->idx], RD_PHASE_PROBE);
    return;
  }
  finish(j);
}
