/* window.c — the CA's renewal window before the due decision (ACME renewal
 * information, RFC 9773). An issuer kind flagged RD_KIND_WINDOW runs its
 * probe between the inventory probe and the due decision; the probe sets
 * facts "renew_window" (core/schedule.h), which rd_due_decide prefers to
 * the policy. The CA unreachable or without a window for the certificate:
 * the policy decides, and the window says why.
 *
 * The CA's Retry-After holds across runs: a window from the CA is kept in
 * the journal's per-job values ("ari.window") of the newest job of the
 * host and certificate, with the live certificate's serial; until its
 * next_check a later run uses it instead of asking the CA again (RFC 9773
 * 4.3). There is no job before the first renewal of a certificate (a job
 * is opened only when one is due): until then the CA is asked every run;
 * see docs/ACME.md. A plan (whatif) reads what is kept and keeps nothing. */
#include <string.h>
#include <time.h>

#include "core/engine_int.h"
#include "store/journal.h"

#define WINDOW_KV "ari.window"

static rd_step *window_issuer(rd_job *j) {
  for (size_t i = 1; i < j->nsteps; i++)
    if ((j->steps[i].kind->flags & (RD_KIND_ISSUER | RD_KIND_WINDOW)) ==
        (RD_KIND_ISSUER | RD_KIND_WINDOW))
      return &j->steps[i];
  return NULL;
}

/* The newest job of this host and certificate (0: none) and the live
 * certificate's serial (NULL: none known). */
static int64_t last_job(rd_job *j, const char **serial) {
  char certid[512];
  rd_job_row row;
  *serial = json_string_value(json_object_get(json_object_get(j->facts, "cert"), "serial"));
  if (!j->e->journal || !*serial)
    return 0;
  job_cert_id(j, certid, sizeof certid);
  return rd_journal_job_last(j->e->journal, j->t->name, certid, &row) ? 0 : row.id;
}

/* The window an earlier run kept for this certificate, while its next
 * check has not come (a new reference), else NULL. */
static json_t *kept_window(rd_job *j) {
  const char *serial;
  int64_t id = last_job(j, &serial);
  json_t *w = NULL;
  if (!id || rd_journal_kv_get(j->e->journal, id, WINDOW_KV, &w))
    return NULL;
  const char *ks = json_string_value(json_object_get(w, "serial"));
  if (!json_is_object(w) || !ks || strcmp(ks, serial) ||
      json_integer_value(json_object_get(w, "next_check")) <= (json_int_t)time(NULL)) {
    json_decref(w);
    return NULL;
  }
  json_object_del(w, "serial");
  return w;
}

/* Keep the CA's window until its next check (not in a plan). */
static void keep_window(rd_job *j) {
  const json_t *w = json_object_get(j->facts, "renew_window");
  const char *serial, *src = json_string_value(json_object_get(w, "source"));
  int64_t id;
  json_t *v;
  if (j->e->opts.whatif || !src || strcmp(src, "ARI") ||
      !json_integer_value(json_object_get(w, "next_check")) || !(id = last_job(j, &serial)))
    return;
  v = json_deep_copy(w);
  json_object_set_new(v, "serial", json_string(serial));
  if (rd_journal_kv_put(j->e->journal, id, WINDOW_KV, v))
    rd_step_log(&j->steps[j->idx], RD_LOG_WARN, "journal: cannot keep the CA's window");
  json_decref(v);
}

int rd_window_ask(rd_job *j) {
  rd_step *s = window_issuer(j);
  json_t *w;
  /* asked once per probe of the live certificate; no certificate, nothing
   * to ask about; an inventory contacts no CA */
  if (!s || j->e->opts.inventory || json_object_get(j->facts, "renew_window") ||
      !json_is_object(json_object_get(j->facts, "cert")))
    return 0;
  if ((w = kept_window(j))) { /* the CA said when to ask again: not yet */
    json_object_set_new(w, "kept", json_true());
    json_object_set_new(j->facts, "renew_window", w);
    return 0;
  }
  j->stage = ST_WINDOW;
  j->idx = s->index;
  rd_step_run(s, RD_PHASE_PROBE);
  return 1;
}

void rd_window_asked(rd_job *j) {
  rd_step *s = &j->steps[j->idx];
  if (s->status) { /* the policy decides; the pre-flight runs the probe again */
    const char *why =
        json_string_value(json_object_get(json_object_get(j->report, "cause"), "message"));
    rd_step_log(s, RD_LOG_WARN, "no renewal window from the CA (above): the policy decides");
    json_object_set_new(j->facts, "renew_window",
                        json_pack("{s:s, s:s}", "source", "policy", "note", why ? why : j->error));
    rd_job_clear_error(j);
    s->status = 0;
  } else if (!json_object_get(j->facts, "renew_window")) {
    json_object_set_new(j->facts, "renew_window",
                        json_pack("{s:s, s:s}", "source", "policy", "note",
                                  "the CA suggested no window for this certificate"));
  } else {
    keep_window(j);
  }
  /* the decision reports the window: a probe "would order" is not the plan's */
  json_object_clear(json_object_get(s->report, "phases"));
  j->stage = ST_PROBE;
  j->idx = 0;
  rd_job_next(j);
}
