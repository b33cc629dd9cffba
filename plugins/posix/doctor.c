/* doctor.c — `posix.doctor`: the POSIX preflight of `renewd doctor`.
 *
 * probe (read-only, the only phase): one script run as the login user,
 * never under sudo (it checks sudo itself). Its result carries "checks":
 * [{"check", "ok", "message", "fix"}]: sudo (when the runbook's ssh.sudo is
 * set: `sudo -n` may run /bin/sh as root; the fix is the sudoers line),
 * openssl on the target, and the directories of the certificate section
 * (exist; writable by the login user when there is no sudo). The engine
 * adds this kind to a job only in doctor mode (core/build.c). */
#include <stdio.h>
#include <string.h>

#include "posix_plugin.h"
#include "posix_util.h"

#define TYPE "posix.doctor"

/* not POSIX_SCRIPT: this one must not run under sudo */
static const rd_script posix_doctor_script = {"posix.doctor", RD_PLATFORM_POSIX, 0, 0,
                                              POSIX_SH_LIB POSIX_SH_DOCTOR};

/* Only `renewd doctor` runs it (core/build.c adds it to a doctor job
 * without validating): a runbook that lists it is told so. */
static int doctor_validate(const json_t *params, char *err, size_t errlen) {
  (void)params;
  return rd_doctor_refuse(TYPE, err, errlen);
}


static int runbook_sudo(rd_step *s, const rd_host_api *h) {
  return json_is_true(json_object_get(h->section(s, "ssh"), "sudo"));
}

static void doctor_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *res = rd_result_new(), *checks = json_array(), *dirs = posix_out_lines(out, "dirs");
  const char *user = posix_out(out, "user"), *ossl = posix_out(out, "openssl");
  char msg[1024], fix[1024];
  size_t i, bad = 0;
  json_t *d;

  if (runbook_sudo(s, h)) {
    if (posix_out_is(out, "sudo", "ok")) {
      snprintf(msg, sizeof msg, "%s may run /bin/sh as root without a password (sudo -n)", user);
      rd_doctor_check(checks, "sudo", 1, msg, NULL);
    } else {
      snprintf(msg, sizeof msg,
               "%s may not run /bin/sh as root without a password, and the runbook's ssh.sudo "
               "needs it for every step (%s)",
               user, posix_out(out, "sudo_err"));
      snprintf(fix, sizeof fix,
               "as root on the host, 'visudo -f /etc/sudoers.d/renewd' and add the line: "
               "%s ALL=(root) NOPASSWD: /bin/sh",
               user);
      rd_doctor_check(checks, "sudo", 0, msg, fix);
      bad++;
    }
  }
  if (*ossl)
    rd_doctor_check(checks, "openssl", 1, ossl, NULL);
  else {
    rd_doctor_check(checks, "openssl", 0, "openssl is not on the login user's PATH",
          "install it (Debian: apt-get install openssl): the new key and its signatures are "
          "made on the host");
    bad++;
  }
  json_array_foreach(dirs, i, d) {
    snprintf(fix, sizeof fix,
             runbook_sudo(s, h) ? "create it, or correct the runbook's certificate section"
                                : "set \"sudo\": true in the runbook's ssh section (with the "
                                  "sudo rule), or give %s write access to the directory",
             user);
    rd_doctor_check(checks, "paths", 0, json_string_value(d), fix);
    bad++;
  }
  if (!json_array_size(dirs))
    rd_doctor_check(checks, "paths", 1, "the certificate's directories exist", NULL);
  json_decref(dirs);
  json_object_set_new(res, "checks", checks);
  h->donef(s, 0, res, "logged in as %s; %zu check(s) failed", user, bad);
}

static int doctor_probe(rd_step *s, const rd_host_api *h) {
  posix_paths p;
  char err[512];
  json_t *args;
  if (posix_paths_get(s, h, &p, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return 0;
  }
  args = posix_args();
  posix_arg(args, "sudo", runbook_sudo(s, h) ? "1" : "0");
  posix_arg(args, "cert", p.cert);
  posix_arg(args, "key", p.key);
  posix_arg(args, "chain", p.chain);
  return posix_run(s, h, &posix_doctor_script, args, doctor_probed);
}

const rd_step_kind posix_kind_doctor = {
    .type = TYPE,
    .summary = "renewd doctor's preflight: sudo -n for /bin/sh, openssl, certificate directories",
    .platform = RD_PLATFORM_POSIX,
    .flags = 0,
    .validate = doctor_validate,
    .probe = doctor_probe,
};
