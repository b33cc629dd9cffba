/* certs.c — the certificates of one job (a runbook's 'certificates', or its
 * one 'certificate'): which are due, which the job renews, the journal's
 * name for them and their journal values. docs/RUNBOOKS.md, "Several
 * certificates"; the flow is job.c's. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/engine_int.h"
#include "core/schedule.h"

/* Is certificate c due? Its facts.due says why (and whether it expired). */
static int cert_due(rd_job *j, size_t c, char *why, size_t len) {
  json_t *f = j->cfacts[c], *due = json_object();
  const json_t *cert = json_object_get(f, "cert");
  const rd_policy *p = &j->rb->certs[c].policy;
  int is_due, expired = 0;
  if (!cert || !json_is_object(cert)) {
    is_due = 1;
    snprintf(why, len, "no certificate found at the configured location");
  } else {
    time_t nb = (time_t)json_integer_value(json_object_get(cert, "not_before"));
    time_t na = (time_t)json_integer_value(json_object_get(cert, "not_after"));
    rd_due_why info;
    const json_t *win = json_object_get(f, "renew_window"); /* window.c */
    is_due = rd_due_decide(time(NULL), nb, na, (int64_t)(p->renew_before_days * 86400.0),
                           p->renew_fraction, win, &info);
    expired = info.expired;
    snprintf(why, len, "%s", info.text);
    json_object_set_new(due, "window", rd_due_window_json(&info, win));
  }
  json_object_set_new(due, "due", json_boolean(is_due));
  json_object_set_new(due, "expired", json_boolean(expired));
  json_object_set_new(due, "why", json_string(why));
  json_object_set_new(f, "due", due);
  return is_due;
}

/* Append "SEP A[: B]" to buf (SEP only after something; cut when full). */
static void add(char *buf, size_t len, const char *sep, const char *a, const char *b) {
  size_t n = strlen(buf);
  if (n + 1 < len)
    snprintf(buf + n, len - n, "%s%s%s%s", n ? sep : "", a, b ? ": " : "", b ? b : "");
}

int rd_certs_due(rd_job *j) {
  const rd_runbook *rb = j->rb;
  char why[1024] = "", one[300];
  int any = 0, expired = 0;
  json_t *due, *list = rb->multi ? json_array() : NULL;
  json_t *problems = json_object_get(j->facts, "problems");
  for (size_t c = 0; c < j->ncerts; c++) {
    int d = cert_due(j, c, one, sizeof one);
    j->csel[c] = (unsigned char)d;
    any |= d;
    expired |= json_is_true(json_object_get(json_object_get(j->cfacts[c], "due"), "expired"));
    if (!rb->multi) {
      snprintf(why, sizeof why, "%s", one);
      continue;
    }
    add(why, sizeof why, "; ", rb->certs[c].name, one);
    json_array_append_new(list, json_pack("{s:s, s:b, s:s}", "name", rb->certs[c].name, "due", d,
                                          "why", one));
  }
  if (j->e->opts.remediate && json_array_size(problems) > 0 && !any) {
    any = j->csel[0] = 1;
    snprintf(why + strlen(why), sizeof why - strlen(why), "; remediation: %zu problem(s) found",
             json_array_size(problems));
  }
  if (j->e->opts.force && !any) {
    any = 1;
    snprintf(why + strlen(why), sizeof why - strlen(why), "; forced");
  }
  /* --force renews every certificate; 'together', all once one is due */
  for (size_t c = 0; c < j->ncerts; c++)
    if (j->e->opts.force || (rb->together && any))
      j->csel[c] = 1;
  if (rb->multi) {
    due = json_pack("{s:b, s:b, s:s}", "due", any, "expired", expired, "why", why);
    json_object_set_new(j->report, "due", due);
    json_object_set_new(j->report, "certificates", list);
  } else {
    due = json_object_get(j->facts, "due");
    /* the one certificate: its facts and the report share the decision */
    json_object_set_new(due, "due", json_boolean(any));
    json_object_set_new(due, "why", json_string(why));
    json_object_set(j->report, "due", due);
  }
  return any;
}

/* The inventory reads a certificate without the key match (plugins'
 * cert.key_checked false: a probe as cheap as a bare read); a job that is
 * due reads again with facts.check_keys, once, before anything uses the
 * key (the issuer's renewal-or-enrollment choice, the problems). */
int rd_certs_keys_owed(rd_job *j) {
  int owed = 0;
  if (json_is_true(json_object_get(j->facts, "check_keys")))
    return 0;
  for (size_t c = 0; c < j->ncerts; c++) {
    const json_t *cert = json_object_get(j->cfacts[c], "cert");
    owed |= json_is_false(json_object_get(cert, "key_checked")) &&
            json_is_true(json_object_get(cert, "key_exists"));
  }
  for (size_t c = 0; owed && c < j->ncerts; c++)
    json_object_set_new(j->cfacts[c], "check_keys", json_true());
  return owed;
}

void rd_certs_select(rd_job *j) {
  json_t *list = json_object_get(j->report, "certificates");
  for (size_t c = 0; c < j->ncerts; c++) /* the report says what the job renews */
    if (json_array_get(list, c))
      json_object_set_new(json_array_get(list, c), "renew", json_boolean(j->csel[c]));
  for (size_t k = j->ninv; k < j->nsteps; k++) {
    rd_step *s = &j->steps[k];
    s->skip = s->per_cert > 0 && !j->csel[s->cert];
  }
  for (size_t c = 0; c < j->ncerts; c++)
    if (!j->csel[c] && json_object_get(j->cfacts[c], "cert")) /* stays: checks expect it */
      json_object_set(j->cfacts[c], "expect", json_object_get(j->cfacts[c], "cert"));
}

size_t rd_certs_next_live(const rd_job *j, size_t i) {
  while (i < j->nsteps && j->steps[i].skip)
    i++;
  return i;
}

/* The name of one certificate: its path (POSIX), else the Windows
 * selector, else def. */
static const char *sel_id(const json_t *sel, const char *def) {
  const char *id = json_string_value(json_object_get(sel, "cert"));
  if (!id)
    id = json_string_value(json_object_get(sel, "thumbprint"));
  if (!id)
    id = json_string_value(json_object_get(sel, "template"));
  return id ? id : def;
}

void rd_certs_id(const rd_job *j, char *buf, size_t len) {
  buf[0] = 0;
  if (!j->rb->multi) {
    snprintf(buf, len, "%s", sel_id(j->rb->certificate, j->rb->name));
    return;
  }
  for (size_t c = 0; c < j->rb->ncerts; c++)
    add(buf, len, " + ", sel_id(j->rb->certs[c].selector, j->rb->certs[c].name), NULL);
}

void rd_certs_kv_key(const rd_job *j, size_t c, const char *key, char *buf, size_t len) {
  if (j->rb->multi)
    snprintf(buf, len, "%s/%s", j->rb->certs[c].name, key);
  else
    snprintf(buf, len, "%s", key);
}

int rd_certs_selection_put(rd_job *j) {
  json_t *names;
  int rc;
  if (!j->rb->multi)
    return 0;
  names = json_array();
  for (size_t c = 0; c < j->ncerts; c++)
    if (j->csel[c])
      json_array_append_new(names, json_string(j->rb->certs[c].name));
  rc = rd_journal_kv_put(j->e->journal, j->id, "job.certificates", names);
  json_decref(names);
  return rc;
}

void rd_certs_selection_get(rd_job *j, int64_t id) {
  json_t *names = NULL, *n;
  size_t i;
  if (!j->rb->multi || rd_journal_kv_get(j->e->journal, id, "job.certificates", &names) ||
      !json_is_array(names)) { /* one certificate, or none recorded: all of them */
    memset(j->csel, 1, j->ncerts);
    json_decref(names);
    return;
  }
  for (size_t c = 0; c < j->ncerts; c++) {
    j->csel[c] = 0;
    json_array_foreach(names, i, n) {
      if (json_is_string(n) && !strcmp(json_string_value(n), j->rb->certs[c].name))
        j->csel[c] = 1;
    }
  }
  json_decref(names);
}

void rd_certs_report_live(rd_job *j) {
  json_t *list = json_object_get(j->report, "certificates");
  int done = j->outcome == RD_OUT_STATE && j->state == RD_JOB_DONE;
  if (!j->rb->multi)
    return;
  if (!list) /* ended before its due decision */
    json_object_set_new(j->report, "certificates", list = json_array());
  for (size_t c = 0; c < j->ncerts; c++) {
    json_t *item = json_array_get(list, c);
    const json_t *cert = json_object_get(j->cfacts[c], done && j->csel[c] ? "new_cert" : "cert");
    if (!item) {
      json_array_append_new(list, json_pack("{s:s}", "name", j->rb->certs[c].name));
      item = json_array_get(list, c);
    }
    if (cert)
      json_object_set_new(item, "live_cert",
                          json_pack("{s:O?, s:O?, s:O?}", "serial", json_object_get(cert, "serial"),
                                    "sha256", json_object_get(cert, "sha256"), "not_after",
                                    json_object_get(cert, "not_after")));
  }
}
