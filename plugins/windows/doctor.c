/* doctor.c — `windows.doctor`: the Windows preflight of `renewd doctor`.
 *
 * probe (read-only, the only phase): one script (ps/doctor.ps1) reports
 * what the target has; this file decides what passes and names the fix of
 * what does not. Its result carries "checks": [{"check", "ok", "message",
 * "fix"}] as posix.doctor's: powershell (5.1 or later), dotnet (.NET
 * Framework 4.6 or later), elevation (an administrator token), tools
 * (certreq.exe, certutil.exe), task-scheduler (adcs.issue submits as SYSTEM
 * through a scheduled task), event-log (the Application log, which the
 * event checks read), ca (with an adcs issuer: `certutil -config C -ping`,
 * judged by its exit code, the HRESULT; C is the runbook's issuer.config,
 * else NDES's MSCEP\CAInfo), and the services, IIS sites and application
 * pools the runbook's steps name. The engine adds this kind to a job only
 * in doctor mode (core/build.c). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "windows_hresult.h"
#include "windows_plugin.h"
#include "windows_util.h"

#define TYPE "windows.doctor"
#define NET46_RELEASE 393295 /* .NET Framework 4.6's Release value */

static const rd_script win_doctor_script = WIN_SCRIPT("windows.doctor", 0, WIN_PS_DOCTOR);
const rd_script *const windows_doctor_scripts[] = {&win_doctor_script, NULL};

/* Only `renewd doctor` runs it (core/build.c adds it to a doctor job
 * without validating): a runbook that lists it is told so. */
static int doctor_validate(const json_t *params, char *err, size_t errlen) {
  (void)params;
  return rd_doctor_refuse(TYPE, err, errlen);
}

static int is_adcs(rd_step *s, const rd_host_api *h) {
  const char *t = win_str(h->section(s, "issuer"), "type");
  return t && !strcmp(t, "adcs");
}

static void add_unique(json_t *list, const char *v) {
  const json_t *e;
  size_t i;
  if (!v || !*v)
    return;
  json_array_foreach(list, i, e) {
    if (!strcasecmp(json_string_value(e), v))
      return;
  }
  json_array_append_new(list, json_string(v));
}

/* The script's parameters: the CA configuration and what the runbook's
 * steps will touch (windows.service, windows.iis_binding, windows.key_acl). */
static json_t *doctor_args(rd_step *s, const rd_host_api *h) {
  json_t *svc = json_array(), *sites = json_array(), *pools = json_array();
  const json_t *st;
  const char *config = is_adcs(s, h) ? win_str(h->section(s, "issuer"), "config") : NULL;
  size_t i;
  json_array_foreach(h->section(s, "steps"), i, st) {
    const char *type = win_str(st, "type");
    const json_t *p = json_object_get(st, "params");
    const char *act = win_str(p, "action");
    if (!type)
      continue;
    if (!strcmp(type, "windows.service"))
      add_unique(svc, act && !strcmp(act, "iisreset") ? "W3SVC" : win_str(p, "service"));
    else if (!strcmp(type, "windows.iis_binding"))
      add_unique(sites, win_str(p, "site"));
    else if (!strcmp(type, "windows.key_acl"))
      add_unique(pools, win_str(p, "app_pool"));
  }
  return json_pack("{s:s, s:o, s:o, s:o}", "config", config ? config : "", "services", svc, "sites",
                   sites, "pools", pools);
}

static size_t check_session(json_t *checks, const json_t *out) {
  const char *ver = win_out(out, "ps_version");
  long long rel = win_int(out, "net_release", -1);
  char msg[512];
  int major = 0, minor = 0, ps_ok;
  size_t bad = 0;
  sscanf(ver, "%d.%d", &major, &minor);
  ps_ok = major > 5 || (major == 5 && minor >= 1);
  snprintf(msg, sizeof msg, "PowerShell %s (%s)", ver, win_out(out, "ps_edition"));
  rd_doctor_check(
      checks, "powershell", ps_ok, msg,
      "install Windows Management Framework 5.1 (renewd's scripts need Windows PowerShell "
      "5.1, which powershell.exe must start)");
  bad += !ps_ok;
  if (rel >= NET46_RELEASE)
    snprintf(msg, sizeof msg, ".NET Framework 4.6 or later (Release %lld; CLR %s)", rel,
             win_out(out, "clr_version"));
  else if (rel >= 0)
    snprintf(msg, sizeof msg, ".NET Framework older than 4.6 (Release %lld)", rel);
  else
    snprintf(msg, sizeof msg, "no .NET Framework 4 in the registry (NDP\\v4\\Full has no Release)");
  rd_doctor_check(
      checks, "dotnet", rel >= NET46_RELEASE, msg,
      "install .NET Framework 4.8 (Windows PowerShell 5.1 runs on it; renewd's key handling "
      "needs 4.6 or later)");
  bad += rel < NET46_RELEASE;
  if (win_bool(out, "admin"))
    snprintf(msg, sizeof msg, "%s holds an administrator token", win_out(out, "user"));
  else
    snprintf(msg, sizeof msg, "%s runs without an administrator token", win_out(out, "user"));
  rd_doctor_check(
      checks, "elevation", win_bool(out, "admin"), msg,
      "make renewd's SSH account a member of the local Administrators group (an OpenSSH "
      "session of an administrator is elevated): the machine store and key files need it");
  bad += !win_bool(out, "admin");
  for (int t = 0; t < 2; t++) {
    const char *name = t ? "certutil.exe" : "certreq.exe",
               *path = win_out(out, t ? "certutil" : "certreq");
    if (*path)
      snprintf(msg, sizeof msg, "%s at %s", name, path);
    else
      snprintf(msg, sizeof msg, "%s is not on the PATH", name);
    rd_doctor_check(
        checks, "tools", *path != 0, msg,
        "both ship with Windows Server in System32: check that %SystemRoot%\\System32 is on "
        "the PATH of renewd's SSH session");
    bad += !*path;
  }
  return bad;
}

static size_t check_services(json_t *checks, const json_t *out) {
  const json_t *sch = json_object_get(out, "schedule"), *ev = json_object_get(out, "eventlog"), *e;
  char msg[900], hint[300];
  size_t i, bad = 0;
  int ok = win_bool(sch, "ok") && !strcmp(win_out(sch, "service"), "Running");
  win_line(win_out(sch, "error"), hint, sizeof hint, 200);
  snprintf(msg, sizeof msg, "the Task Scheduler (service Schedule: %s) %s%s%s",
           *win_out(sch, "service") ? win_out(sch, "service") : "missing",
           ok ? "answers" : "cannot be used", *hint ? ": " : "", hint);
  rd_doctor_check(
      checks, "task-scheduler", ok, msg,
      "Start-Service Schedule (and set it to start automatically): adcs.issue submits the "
      "request as SYSTEM (S-1-5-18) through a scheduled task");
  bad += !ok;
  win_line(win_out(ev, "error"), hint, sizeof hint, 200);
  snprintf(msg, sizeof msg, "the Application log %s%s%s",
           win_bool(ev, "ok") ? "can be read" : "cannot be read", *hint ? ": " : "", hint);
  rd_doctor_check(
      checks, "event-log", win_bool(ev, "ok"), msg,
      "run renewd's account as an administrator (or add it to Event Log Readers): the event "
      "checks read the Application log");
  bad += !win_bool(ev, "ok");
  json_array_foreach(json_object_get(out, "services"), i, e) {
    int there = win_bool(e, "exists");
    snprintf(msg, sizeof msg, "service %s %s%s", win_out(e, "name"),
             there ? "is " : "does not exist", there ? win_out(e, "status") : "");
    rd_doctor_check(checks, "service", there, msg,
                    "install it, or correct the service name in the runbook's windows.service step "
                    "(Get-Service lists the names)");
    bad += !there;
  }
  return bad;
}

static size_t check_iis(json_t *checks, const json_t *out) {
  const json_t *e;
  char msg[600];
  size_t i, bad = 0;
  int webadmin = win_bool(out, "webadmin");
  if (!webadmin && (json_array_size(json_object_get(out, "sites")) ||
                    json_array_size(json_object_get(out, "pools")))) {
    rd_doctor_check(
        checks, "iis", 0, "the WebAdministration module cannot be loaded",
        "Install-WindowsFeature Web-Scripting-Tools (IIS Management Scripts and Tools): the "
        "IIS steps read sites and application pools through it");
    return 1;
  }
  json_array_foreach(json_object_get(out, "sites"), i, e) {
    int there = win_bool(e, "exists");
    snprintf(msg, sizeof msg, "IIS site %s %s", win_out(e, "name"),
             there ? "exists" : "does not exist");
    rd_doctor_check(
        checks, "iis", there, msg,
        "correct the site in the runbook's windows.iis_binding step (Get-Website lists them)");
    bad += !there;
  }
  json_array_foreach(json_object_get(out, "pools"), i, e) {
    int there = win_bool(e, "exists");
    if (there)
      snprintf(msg, sizeof msg, "IIS application pool %s runs as %s", win_out(e, "name"),
               win_out(e, "identity"));
    else
      snprintf(msg, sizeof msg, "IIS application pool %s does not exist", win_out(e, "name"));
    rd_doctor_check(checks, "iis", there, msg,
                    "correct app_pool in the runbook's windows.key_acl step (NDES: SCEP; "
                    "Get-IISAppPool lists them)");
    bad += !there;
  }
  return bad;
}

static size_t check_ca(rd_step *s, const rd_host_api *h, json_t *checks, const json_t *out) {
  const json_t *ping = json_object_get(out, "ping");
  const char *config = win_out(out, "config"), *src = win_out(out, "config_source");
  char msg[1200], hr[100], hint[200];
  const char *name;
  unsigned long code;
  if (!is_adcs(s, h))
    return 0;
  if (!*config) {
    rd_doctor_check(
        checks, "ca", 1,
        "no CA configuration in the runbook or in MSCEP\\CAInfo: adcs.issue looks the CA up "
        "in Active Directory at run time (doctor did not ping one)",
        NULL);
    return 0;
  }
  if (!json_is_object(ping)) {
    snprintf(msg, sizeof msg, "%s: not pinged (no certutil.exe)", config);
    rd_doctor_check(checks, "ca", 0, msg, "see the tools check");
    return 1;
  }
  code = (unsigned long)win_int(ping, "exit", -1) & 0xffffffffUL;
  if (!code) {
    snprintf(msg, sizeof msg, "%s (%s) answers certutil -ping", config,
             !strcmp(src, "cainfo") ? "from MSCEP\\CAInfo" : "the runbook's");
    rd_doctor_check(checks, "ca", 1, msg, NULL);
    return 0;
  }
  name = win_hresult_name(code);
  snprintf(hr, sizeof hr, "0x%08lX%s%s", code, name ? " " : "", name ? name : "");
  win_line(win_out(ping, "text"), hint, sizeof hint, 160);
  snprintf(msg, sizeof msg, "%s does not answer certutil -ping: exit %s%s%s%s", config, hr,
           *hint ? " (" : "", hint, *hint ? ")" : "");
  rd_doctor_check(
      checks, "ca", 0, msg,
      win_hresult_advice(code)
          ? win_hresult_advice(code)
          : "check the CA host's name and the CA's name (certutil -dump on the CA shows the "
            "config), that CertSvc runs there, and that RPC/DCOM (TCP 135 and the dynamic "
            "ports) passes the firewall from this target");
  return 1;
}

static void doctor_probed(rd_step *s, const rd_host_api *h, const json_t *out) {
  json_t *res = rd_result_new(), *checks = json_array();
  size_t bad = check_session(checks, out);
  bad += check_services(checks, out);
  bad += check_ca(s, h, checks, out);
  bad += check_iis(checks, out);
  json_object_set_new(res, "checks", checks);
  h->donef(s, 0, res, "logged in as %s; %zu check(s) failed", win_out(out, "user"), bad);
}

static int doctor_probe(rd_step *s, const rd_host_api *h) {
  return win_run(s, h, &win_doctor_script, doctor_args(s, h), doctor_probed);
}

const rd_step_kind windows_kind_doctor = {
    .type = TYPE,
    .summary = "renewd doctor's preflight: PowerShell, .NET, elevation, certreq/certutil, "
               "Task Scheduler, Application log, CA ping, the runbook's services and IIS",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = 0,
    .validate = doctor_validate,
    .probe = doctor_probe,
};
