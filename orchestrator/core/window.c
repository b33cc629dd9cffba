/* window.c — the CA's renewal window before the due decision (ACME renewal
 * information, RFC 9773). An issuer kind flagged RD_KIND_WINDOW runs its
 * probe between the inventory probe and the due decision; the probe sets
 * facts "renew_window" (core/schedule.h), which rd_due_decide prefers to
 * the policy. The CA unreachable or without a window for the certificate:
 * the policy decides, and the window says why.
 *
 * The CA's Retry-After holds across runs: a window from the CA is kept in
 * the journal's per-job values ("ari.window", per certificate in a job of
 * several) of the newest job of the host and certificate, with the live
 * certificate's serial; until its next_check a later run uses it instead of
 * asking the CA again (RFC 9773 4.3). There is no job before the first
 * renewal (a job is opened only when one is due): until then the CA is
 * asked every run; see docs/ACME.md. A plan opens no journal: it asks the
 * CA (read-only) and keeps nothing. */
#include <string.h>
#include <time.h>

#include "core/engine_int.h"
#include "store/journal.h"

#define WINDOW_KV "ari.window"

/* The newest job of this host and the job's certificates (0: none), the
 * live certificate's serial of s's certificate (NULL: none known), and the
 * journal key of its kept window. */
static int64_t last_job(rd_job *j, const rd_step *s, const char **serial, char *key,
                        size_t keylen) {
  char certid[512];
  rd_job_row row;
  *serial = json_string_value(json_object_get(json_object_get(s->facts, "cert"), "serial"));
  if (!j->e->journal || !*serial)
    return 0;
  rd_certs_id(j, certid, sizeof certid);
  rd_certs_kv_key(j, s->cert, WINDOW_KV, key, keylen);
  return rd_journal_job_last(j->e->journal, j->t->name, certid, &row) ? 0 : row.id;
}

/* The window an earlier run kept for s's certificate, while its next check
 * has not come (a new reference), else NULL. */
static json_t *kept_window(rd_job *j, const rd_step *s) {
  const char *serial;
  char key[300];
  int64_t id = last_job(j, s, &serial, key, sizeof key);
  json_t *w = NULL;
  if (!id || rd_journal_kv_get(j->e->journal, id, key, &w))
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

/* Keep the CA's window for s's certificate until its next check (not in a
 * plan). */
static void keep_window(rd_job *j, rd_step *s) {
  const json_t *w = json_object_get(s->facts, "renew_window");
  const char *serial, *src = json_string_value(json_object_get(w, "source"));
  char key[300];
  int64_t id;
  json_t *v;
  if (j->e->opts.whatif || !src || strcmp(src, "ARI") ||
      !json_integer_value(json_object_get(w, "next_check")) ||
      !(id = last_job(j, s, &serial, key, sizeof key)))
    return;
  v = json_deep_copy(w);
  json_object_set_new(v, "serial", json_string(serial));
  if (rd_journal_kv_put(j->e->journal, id, key, v))
    rd_step_log(s, RD_LOG_WARN, "journal: cannot keep the CA's window");
  json_decref(v);
}

/* The first certificate whose window is still to be asked: its issuer step
 * (flagged RD_KIND_WINDOW) when the certificate has a live one to ask about,
 * else NULL. Asked once per probe of the live certificates. */
static rd_step *window_issuer(rd_job *j) {
  for (size_t i = j->ninv; i < j->nsteps; i++) {
    rd_step *s = &j->steps[i];
    if ((s->kind->flags & (RD_KIND_ISSUER | RD_KIND_WINDOW)) != (RD_KIND_ISSUER | RD_KIND_WINDOW) ||
        s->per_cert <= 0)
      continue;
    if (!json_object_get(s->facts, "renew_window") &&
        json_is_object(json_object_get(s->facts, "cert")))
      return s;
  }
  return NULL;
}

int rd_window_ask(rd_job *j) {
  rd_step *s;
  json_t *w;
  if (j->e->opts.inventory) /* an inventory contacts no CA */
    return 0;
  while ((s = window_issuer(j)) && (w = kept_window(j, s))) { /* the CA said when */
    json_object_set_new(w, "kept", json_true());              /* to ask again: not yet */
    json_object_set_new(s->facts, "renew_window", w);
  }
  if (!s)
    return 0;
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
    json_object_set_new(s->facts, "renew_window",
                        json_pack("{s:s, s:s}", "source", "policy", "note", why ? why : j->error));
    rd_job_clear_error(j);
    s->status = 0;
  } else if (!json_object_get(s->facts, "renew_window")) {
    json_object_set_new(s->facts, "renew_window",
                        json_pack("{s:s, s:s}", "source", "policy", "note",
                                  "the CA suggested no window for this certificate"));
  } else {
    keep_window(j, s);
  }
  /* the decision reports the window: a probe "would order" is not the plan's */
  json_object_clear(json_object_get(s->report, "phases"));
  j->stage = ST_PROBE;
  j->idx = j->ninv - 1; /* back to the due decision, after the last inventory */
  rd_job_next(j);
}
