/* certreq.c — see windows_certreq.h. */
#include "windows_certreq.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "windows_hresult.h"
#include "windows_util.h"

const char *adcs_status_name(adcs_status s) {
  switch (s) {
  case ADCS_ISSUED: return "issued";
  case ADCS_PENDING: return "pending";
  case ADCS_DENIED: return "denied";
  case ADCS_FAILED: return "failed";
  default: return "unknown";
  }
}

/* strcasestr for a fixed needle. */
static const char *ci_find(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; hay && *hay; hay++)
    if (!strncasecmp(hay, needle, n))
      return hay;
  return NULL;
}

static const char *line_end(const char *p) {
  const char *e = strchr(p, '\n');
  return e ? e : p + strlen(p);
}

static int blank_line(const char *p, const char *e) {
  for (; p < e; p++)
    if (!isspace((unsigned char)*p))
      return 0;
  return 1;
}

/* Copy [p, e) as one line (win_line) into o->message. */
static void set_message(adcs_outcome *o, const char *p, const char *e) {
  size_t n = (size_t)(e - p);
  char *tmp = malloc(n + 1);
  if (!tmp)
    return;
  memcpy(tmp, p, n);
  tmp[n] = 0;
  win_line(tmp, o->message, sizeof o->message, sizeof o->message - 8);
  free(tmp);
  /* wrapped text joined with " | ": a wrap is not a new line of meaning */
  for (char *q; (q = strstr(o->message, " | "));)
    memmove(q + 1, q + 3, strlen(q + 3) + 1);
}

/* A paragraph: from p to the first blank line, or a line that starts
 * another record ("RequestId:", "CertReq:"), or the end. */
static const char *paragraph_end(const char *p) {
  const char *e = line_end(p);
  while (*e) {
    const char *n = e + 1, *ne = line_end(n);
    const char *s = n;
    while (s < ne && isspace((unsigned char)*s))
      s++;
    if (blank_line(n, ne) || !strncasecmp(s, "RequestId:", 10) || !strncasecmp(s, "CertReq:", 8))
      break;
    e = ne;
  }
  return e;
}

static void find_hresult(adcs_outcome *o, const char *text) {
  for (const char *p = text; p && (p = ci_find(p, "0x")); p += 2) {
    size_t n = 0;
    while (isxdigit((unsigned char)p[2 + n]))
      n++;
    if (n == 8) {
      snprintf(o->hresult, sizeof o->hresult, "0x%.8s", p + 2);
      for (char *q = o->hresult + 2; *q; q++)
        *q = (char)tolower((unsigned char)*q);
      return;
    }
  }
}

void adcs_parse_certreq(const char *text, adcs_outcome *o) {
  const char *p, *id;
  memset(o, 0, sizeof *o);
  o->request_id = -1;
  if (!text)
    text = "";
  /* RequestId: 42  /  RequestId: "42" */
  for (id = text; (id = ci_find(id, "RequestId:")); id += 10) {
    const char *q = id + 10;
    while (*q == ' ' || *q == '\t' || *q == '"')
      q++;
    if (isdigit((unsigned char)*q)) {
      o->request_id = strtoll(q, NULL, 10);
      break;
    }
  }
  if ((p = ci_find(text, "Certificate retrieved(Issued)"))) {
    o->status = ADCS_ISSUED;
    set_message(o, p + strlen("Certificate retrieved("), line_end(p));
    o->message[strcspn(o->message, ")")] = 0; /* "Issued" */
  } else if ((p = ci_find(text, "Taken Under Submission")) ||
             (p = ci_find(text, "Certificate request is pending"))) {
    const char *ls = p;
    while (ls > text && ls[-1] != '\n')
      ls--;
    const char *colon = ci_find(ls, "pending:");
    o->status = ADCS_PENDING;
    if (colon && colon < line_end(ls))
      set_message(o, colon + 8, line_end(ls));
    else
      set_message(o, p, line_end(p));
  } else if ((p = ci_find(text, "(Denied)"))) {
    o->status = ADCS_DENIED;
    set_message(o, p + 8, paragraph_end(p));
  } else if ((p = ci_find(text, "Certificate not issued"))) {
    o->status = ADCS_FAILED;
    set_message(o, p, paragraph_end(p));
  } else {
    /* an error: the first line with an HRESULT, else the last line */
    const char *best = NULL, *last = NULL;
    for (const char *l = text; *l;) {
      const char *e = line_end(l);
      if (!blank_line(l, e)) {
        last = l;
        if (!best) {
          for (const char *q = l; q + 2 < e; q++)
            if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X') && isxdigit((unsigned char)q[2])) {
              best = l;
              break;
            }
        }
      }
      l = *e ? e + 1 : e;
    }
    if (best || last) {
      o->status = best ? ADCS_FAILED : ADCS_UNKNOWN;
      set_message(o, best ? best : last, paragraph_end(best ? best : last));
    }
  }
  find_hresult(o, o->message[0] ? o->message : text);
  if (o->status == ADCS_DENIED || o->status == ADCS_FAILED)
    o->expired_basis = ci_find(o->message, "not within its validity period") ||
                       ci_find(o->message, "CERT_E_EXPIRED") ||
                       !strcasecmp(o->hresult, "0x800b0101");
}

/* "<DNS host name>\\<CA name>": what only certutil's Config value looks like */
static int config_shaped(const char *v, size_t n) {
  const char *bs = memchr(v, '\\', n);
  if (!bs || bs == v || bs + 1 == v + n || memchr(bs + 1, '\\', (size_t)(v + n - bs - 1)))
    return 0;
  for (const char *p = v; p < bs; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
      return 0;
  return 1;
}

json_t *adcs_parse_configs(const char *text) {
  json_t *a = json_array();
  /* every quoted "host\CA" value, whatever its label says in the display
   * language ("Config:", "Konfiguration:" ...) */
  for (const char *l = text ? text : ""; *l;) {
    const char *e = line_end(l);
    const char *q1 = memchr(l, '"', (size_t)(e - l)), *q2;
    if (q1 && (q2 = memchr(q1 + 1, '"', (size_t)(e - q1 - 1))) &&
        config_shaped(q1 + 1, (size_t)(q2 - q1 - 1))) {
      json_t *v = json_stringn(q1 + 1, (size_t)(q2 - q1 - 1)), *x;
      int dup = 0;
      size_t i;
      json_array_foreach(a, i, x) dup |= json_equal(x, v);
      if (v && !dup)
        json_array_append(a, v);
      json_decref(v);
    }
    l = *e ? e + 1 : e;
  }
  return a;
}

int adcs_parse_new(int exit_code, int req_written, const char *text, char *msg, size_t msglen) {
  adcs_outcome o;
  if (exit_code == 0 && req_written)
    return 0;
  adcs_parse_certreq(text, &o);
  if (!o.hresult[0] && exit_code < -1) /* certreq exits with the HRESULT */
    snprintf(o.hresult, sizeof o.hresult, "0x%08x", (unsigned int)exit_code);
  if (o.message[0])
    adcs_outcome_line(&o, "", msg, msglen);
  else if (!req_written && exit_code == 0)
    snprintf(msg, msglen, "certreq -new wrote no request file");
  else
    snprintf(msg, msglen, "certreq -new exited %d without a message", exit_code);
  return -1;
}

json_t *adcs_fresh_request(const char *template_, const char *subject, const char *config) {
  char subj[1100], tmpl[300], cfg[600], submit[800];
  snprintf(subj, sizeof subj, "Subject=\"%s\"", subject && *subject ? subject : "CN=<host FQDN>");
  snprintf(tmpl, sizeof tmpl, "CertificateTemplate=%s",
           template_ && *template_ ? template_ : "<template name>");
  snprintf(cfg, sizeof cfg, "%s", config && *config ? config : "<CA host>\\<CA name>");
  snprintf(submit, sizeof submit, "certreq -submit -q -config \"%s\" fresh.req fresh.cer", cfg);
  return json_pack("{s:[s,s,s,s,s,s,s,s,s,s], s:[s,s,s]}", "inf", "[Version]",
                   "Signature=\"$Windows NT$\"", "[NewRequest]", subj, "KeySpec=1",
                   "KeyLength=2048", "MachineKeySet=TRUE", "RequestType=PKCS10",
                   "[RequestAttributes]", tmpl, "commands", "certreq -new -q fresh.inf fresh.req",
                   submit, "certreq -accept -machine -q fresh.cer");
}

int adcs_user_template(const char *t) {
  static const char *const names[] = {"CEPEncryption", "CEP Encryption", "EnrollmentAgentOffline",
                                      "Exchange Enrollment Agent (Offline request)", NULL};
  for (size_t i = 0; t && names[i]; i++)
    if (!strcasecmp(t, names[i]))
      return 1;
  return 0;
}

/* The CN of an X.500 subject ("CN=ndes01-MSCEP-RA, O=Corp" -> "ndes01-MSCEP-RA"), or "". */
static void subject_cn(const char *subject, char *out, size_t n) {
  const char *p = subject ? ci_find(subject, "CN=") : NULL;
  size_t l = 0;
  out[0] = 0;
  if (!p)
    return;
  p += 3;
  while (p[l] && p[l] != ',' && p[l] != '/' && p[l] != '+')
    l++;
  while (l && p[l - 1] == ' ')
    l--;
  if (!memchr(p, '"', l))
    snprintf(out, n, "%.*s", (int)l, p);
}

json_t *adcs_ra_procedure(const char *subject, const char *config) {
  char ra[300], install[900];
  subject_cn(subject, ra, sizeof ra);
  snprintf(install, sizeof install,
           "Install-AdcsNetworkDeviceEnrollmentService -ServiceAccountName <NDES service account> "
           "-ServiceAccountPassword (Read-Host -AsSecureString) -RAName \"%s\" -CAConfig \"%s\" "
           "-Force",
           *ra ? ra : "<RA name>", config && *config ? config : "<CA host>\\<CA name>");
  return json_pack(
      "{s:s, s:s, s:[s,s,s,s,s]}", "procedure", "ndes-reconfigure", "why",
      "CEPEncryption and EnrollmentAgentOffline are user templates held in the machine store: "
      "RenewalCert needs the valid certificate, and a fresh machine-context request for them "
      "fails with 0x8007000d (\"Machine context template conflicts with user context\"); "
      "configuring NDES again enrols both RA certificates the supported way "
      "(Install-AdcsNetworkDeviceEnrollmentService), as an account that may enroll for both "
      "templates (an Enterprise Admin, or Read and Enroll on both), in an elevated PowerShell on "
      "the NDES server; the MSCEP registry settings (template names, policy module) are kept "
      "by exporting them first",
      "commands", "reg export HKLM\\SOFTWARE\\Microsoft\\Cryptography\\MSCEP mscep-backup.reg /y",
      "Uninstall-AdcsNetworkDeviceEnrollmentService -Force", install,
      "reg import mscep-backup.reg", "iisreset");
}

char *adcs_fresh_request_text(const json_t *fresh) {
  size_t cap = 4096, o = 0, i;
  char *t = malloc(cap);
  const json_t *v;
  if (!t)
    return NULL;
  if (!json_object_get(fresh, "inf")) {
    o += (size_t)snprintf(t, cap, "%s; run ", json_string_value(json_object_get(fresh, "why")));
    json_array_foreach(json_object_get(fresh, "commands"), i, v) {
      if (o < cap)
        o += (size_t)snprintf(t + o, cap - o, "%s%s", i ? "; " : "", json_string_value(v));
    }
    return t;
  }
  o += (size_t)snprintf(t, cap, "write fresh.inf with the lines ");
  json_array_foreach(json_object_get(fresh, "inf"), i, v) {
    if (o < cap)
      o += (size_t)snprintf(t + o, cap - o, "%s%s", i ? " | " : "", json_string_value(v));
  }
  if (o < cap)
    o += (size_t)snprintf(t + o, cap - o, "; then run ");
  json_array_foreach(json_object_get(fresh, "commands"), i, v) {
    if (o < cap)
      o += (size_t)snprintf(t + o, cap - o, "%s%s", i ? "; " : "", json_string_value(v));
  }
  return t;
}
