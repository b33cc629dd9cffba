/* remediate.c — `renewd remediate`: diagnose one host now, whatever the
 * schedule says, then fix what is wrong.
 *
 * Diagnosis runs against the *live* certificate (facts "new_cert" and
 * "expect" are set to it): each follow-up step's probe shows drift from it
 * (wrong owner or mode, duplicates, a config pinning another thumbprint),
 * each check step's verify shows whether the service serves it. Restart
 * steps are not diagnosed (they always have something to do).
 *
 * Remedy: a certificate that is due, expired, missing or does not match its
 * key is renewed (the whole renewal flow, which runs every follow-up too);
 * otherwise the drifted steps are applied and verified, then the restart
 * steps, then the checks. Duplicates alone (two valid certificates of one
 * template: NDES refuses to start) are not a reason to renew — a renewal
 * would add a third — but drift the prune step repairs; a runbook without
 * one gets them listed, REPAIR_FAILED. With --whatif only the findings and
 * the remedy are reported.
 *
 * Several certificates ('certificates'): each is diagnosed against its own
 * live one (its inventory's problems, its issuer and own steps; the
 * host-level ones see the first certificate's facts, as in a renewal). The
 * ones due for more than duplicates renew (all of them with 'together'),
 * the others keep their certificate and the checks expect it; when none
 * renews, the drifted steps of every certificate are repaired. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/engine_int.h"
#include "core/schedule.h"
#include "base/err.h"

static int is_followup(const rd_step *s) {
  return !(s->kind->flags & (RD_KIND_INVENTORY | RD_KIND_ISSUER | RD_KIND_INSTALL));
}

static void add_finding(rd_job *j, const char *step, const char *what) {
  json_t *f = json_object_get(j->report, "findings");
  if (!f) {
    f = json_array();
    json_object_set_new(j->report, "findings", f);
  }
  json_array_append_new(f, json_pack("{s:s, s:s}", "step", step, "finding", what));
}

/* The next follow-up to diagnose, from j->idx on; runs it and returns 1. */
static int diagnose_from(rd_job *j) {
  for (; j->idx < j->nsteps; j->idx++) {
    rd_step *s = &j->steps[j->idx];
    if (!json_object_get(s->facts, "cert"))
      continue; /* no live certificate to diagnose against: it renews */
    if (s->kind->flags & RD_KIND_ISSUER) {
      /* its probe is read-only and pins the CA the checks verify against;
       * what it reports is not a finding */
      s->status = 0;
      rd_step_run(s, RD_PHASE_PROBE);
      return 1;
    }
    if (!is_followup(s) || (s->kind->flags & RD_KIND_RESTART))
      continue;
    s->status = 0;
    rd_step_run(s, (s->kind->flags & RD_KIND_CHECK) && s->kind->verify ? RD_PHASE_VERIFY
                                                                          : RD_PHASE_PROBE);
    return 1;
  }
  return 0;
}

void rd_remediate_begin(rd_job *j) {
  for (size_t c = 0; c < j->ncerts; c++) {
    const json_t *problems = json_object_get(j->cfacts[c], "problems");
    const json_t *cert = json_object_get(j->cfacts[c], "cert");
    char step[300];
    size_t i;
    const json_t *p;
    /* several certificates: "rsa: inventory", as the step is named */
    snprintf(step, sizeof step, "%s%sinventory", j->rb->multi ? j->rb->certs[c].name : "",
             j->rb->multi ? ": " : "");
    json_array_foreach(problems, i, p) {
      char buf[512];
      snprintf(buf, sizeof buf, "%s: %s", json_string_value(json_object_get(p, "what")),
               json_string_value(json_object_get(p, "detail")));
      add_finding(j, step, buf);
    }
    if (cert) {
      json_object_set(j->cfacts[c], "new_cert", (json_t *)cert);
      json_object_set(j->cfacts[c], "expect", (json_t *)cert);
    }
  }
  j->stage = ST_DIAGNOSE;
  j->idx = j->ninv;
  if (!diagnose_from(j))
    rd_remediate_next(j);
}

static int changes_in(const rd_step *s) {
  const json_t *ph = json_object_get(json_object_get(s->report, "phases"), "probe");
  return json_array_size(json_object_get(json_object_get(ph, "result"), "changes")) > 0;
}

/* Is certificate c due only because the inventory found duplicates (the
 * schedule and every other finding say the live certificate is fine)? */
static int only_duplicates(const rd_job *j, size_t c) {
  const json_t *cert = json_object_get(j->cfacts[c], "cert"), *p;
  const json_t *problems = json_object_get(j->cfacts[c], "problems");
  const rd_policy *pol = &j->rb->certs[c].policy;
  rd_due_why why;
  size_t i, dups = 0;
  if (!cert)
    return 0;
  if (rd_due(time(NULL), (time_t)json_integer_value(json_object_get(cert, "not_before")),
             (time_t)json_integer_value(json_object_get(cert, "not_after")),
             (int64_t)(pol->renew_before_days * 86400.0), pol->renew_fraction, &why))
    return 0;
  json_array_foreach(problems, i, p) {
    const char *what = json_string_value(json_object_get(p, "what"));
    if (!what || strcmp(what, "duplicates"))
      return 0;
    dups++;
  }
  return dups > 0;
}

/* Which certificates renew: each that is due (the schedule, or a problem
 * the inventory found) for more than duplicates; with 'together' all of
 * them once one does. Sets j->csel; 1 when any renews, *dups when one is
 * due only for its duplicates. Each certificate's own decision is its
 * facts' due, not j->csel: rd_certs_due marks the job due for any problem
 * and 'together' spreads that to every certificate. */
static int renewing(rd_job *j, int *dups) {
  int any = 0;
  *dups = 0;
  for (size_t c = 0; c < j->ncerts; c++) {
    const json_t *own = json_object_get(json_object_get(j->cfacts[c], "due"), "due");
    int due = json_is_true(own) || json_array_size(json_object_get(j->cfacts[c], "problems")) > 0;
    int only = due && only_duplicates(j, c);
    *dups |= only;
    j->csel[c] = (unsigned char)(due && !only);
    any |= j->csel[c];
  }
  for (size_t c = 0; any && j->rb->together && c < j->ncerts; c++)
    j->csel[c] = 1;
  return any;
}

static void decide(rd_job *j) {
  rd_engine *e = j->e;
  size_t nrepair = 0;
  int dups, due = renewing(j, &dups);
  for (size_t k = 0; k < j->nsteps; k++)
    nrepair += j->steps[k].finding;
  if (!due && dups && !nrepair) { /* pruned by a repair, never renewed */
    snprintf(j->error, sizeof j->error,
             "host %s: duplicates: the runbook has no step that removes them (add "
             "windows.prune_duplicates), so they are listed, not fixed: remove the superseded "
             "certificates by hand",
             j->t->name);
    json_object_set_new(j->report, "remedy", json_string("list"));
    rd_job_finish_as(j, RD_OUT_REPAIR_FAILED);
    return;
  }
  if (due) {
    /* the renewal runs every follow-up of a renewed certificate against
     * its new one; the others keep expecting their live one */
    for (size_t c = 0; c < j->ncerts; c++)
      if (j->csel[c]) {
        json_object_del(j->cfacts[c], "new_cert");
        json_object_del(j->cfacts[c], "expect");
      }
    rd_certs_select(j);
    json_object_set_new(j->report, "remedy", json_string("renew"));
    e->stats.due++;
    if (e->opts.whatif) {
      rd_job_plan_end(j); /* WOULD_RENEW, or NEEDS_OPERATOR (a manual issuer) */
      return;
    }
    j->e->opts.force = 1; /* an operator asked: no window, no backoff */
    rd_job_start_renewal(j);
    return;
  }
  if (!nrepair) {
    json_object_set_new(j->report, "remedy", json_string("none"));
    rd_job_finish_as(j, RD_OUT_HEALTHY);
    return;
  }
  json_object_set_new(j->report, "remedy", json_string("repair"));
  e->stats.due++;
  if (e->opts.whatif) {
    rd_job_finish_as(j, RD_OUT_WOULD_REPAIR);
    return;
  }
  if (j->e->journal)
    rd_journal_audit(j->e->journal, "renewd", "remediate.repair", j->report);
  j->stage = ST_REPAIR;
  j->repair_phase = 0;
  j->idx = 0;
  rd_remediate_next(j);
}

/* Repair walks the steps three times: 0 apply+verify the drifted
 * follow-ups, 1 apply the restart steps, 2 verify the checks. */
static void repair_next(rd_job *j) {
  while (j->repair_phase < 3) {
    for (; j->idx < j->nsteps; j->idx++) {
      rd_step *s = &j->steps[j->idx];
      if (!is_followup(s))
        continue;
      if (j->repair_phase == 0 && s->finding && !(s->kind->flags & RD_KIND_CHECK)) {
        if (!s->applied && s->kind->apply) {
          rd_step_run(s, RD_PHASE_APPLY);
          return;
        }
        if (s->phase == RD_PHASE_APPLY && s->kind->verify) {
          rd_step_run(s, RD_PHASE_VERIFY);
          return;
        }
      } else if (j->repair_phase == 1 && (s->kind->flags & RD_KIND_RESTART) && s->kind->apply &&
                 !s->applied) {
        j->idx++; /* first: a phase may complete inside rd_step_run */
        rd_step_run(s, RD_PHASE_APPLY);
        return;
      } else if (j->repair_phase == 2 && (s->kind->flags & RD_KIND_CHECK) && s->kind->verify) {
        j->idx++;
        rd_step_run(s, RD_PHASE_VERIFY);
        return;
      }
    }
    j->repair_phase++;
    j->idx = 0;
  }
  rd_job_finish_as(j, RD_OUT_REPAIRED); /* counted as renewed: something changed */
}

void rd_remediate_next(rd_job *j) {
  rd_step *s = j->idx < j->nsteps ? &j->steps[j->idx] : NULL;
  if (j->stage == ST_DIAGNOSE) {
    if (s && (s->kind->flags & RD_KIND_ISSUER)) {
      if (s->status) { /* no CA to verify against: the checks will say so */
        rd_job_clear_error(j);
        s->status = 0;
      }
    } else if (s) {
      if (s->status || ((s->phase == RD_PHASE_PROBE) && changes_in(s))) {
        const json_t *ph = json_object_get(json_object_get(s->report, "phases"),
                                           s->phase == RD_PHASE_VERIFY ? "verify" : "probe");
        const char *msg = json_string_value(json_object_get(ph, "message"));
        add_finding(j, s->name, msg ? msg : "differs from the live certificate");
        s->finding = 1;
        /* a finding is not a failure of the job */
        rd_job_clear_error(j);
        s->status = 0;
      }
    }
    if (s) {
      j->idx++;
      if (diagnose_from(j))
        return;
    }
    decide(j);
    return;
  }
  /* ST_REPAIR: the diagnosis left every status 0, so any other is the
   * repair phase that just failed (idx may already point past its step) */
  for (size_t k = 0; k < j->nsteps; k++)
    if (j->steps[k].status) {
      rd_job_finish_as(j, RD_OUT_REPAIR_FAILED);
      return;
    }
  repair_next(j);
}
