/* build.c — building the engine's jobs: one per (filtered) target of a
 * runbook, with its steps (each certificate's inventory; for each
 * certificate its issuer, install and own steps; then the runbook's
 * host-level follow-ups) and the facts the step kinds start from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/engine_int.h"

void rd_job_free(rd_job *j) {
  if (!j)
    return;
  for (size_t k = 0; j->steps && k < j->nsteps; k++) {
    rd_step *s = &j->steps[k];
    if (s->data_free)
      s->data_free(s->data);
    json_decref(s->report);
    free(s->owned_name);
  }
  free(j->steps);
  for (size_t c = 0; j->cfacts && c < j->ncerts; c++)
    json_decref(j->cfacts[c]);
  free(j->cfacts);
  free(j->csel);
  json_decref(j->facts);
  json_decref(j->kv);
  json_decref(j->kv_known);
  json_decref(j->report);
  free(j->waiting); /* a phase group whose commit was cancelled (plain memory) */
  if (j->passphrase) {
    memset(j->passphrase, 0, strlen(j->passphrase));
    free(j->passphrase);
  }
  free(j);
}


static const json_t *empty_object(void) {
  static json_t *empty;
  if (!empty)
    empty = json_object();
  return empty;
}

/* One step of j seeing certificate c (per_cert: one of its own steps). */
static int add_step(rd_job *j, const rd_step_kind *kind, const json_t *params, const char *name,
                    long timeout_ms, size_t c, int per_cert) {
  rd_step *s = &j->steps[j->nsteps];
  const char *cname = j->rb->certs[c].name;
  memset(s, 0, sizeof *s);
  s->j = j;
  s->index = j->nsteps++;
  s->kind = kind;
  s->params = params ? params : empty_object();
  s->name = name ? name : kind->type;
  s->timeout_ms = timeout_ms > 0 ? timeout_ms : 120000;
  s->cert = c;
  s->per_cert = per_cert;
  s->facts = j->cfacts[c];
  /* several certificates: their steps say whose they are, and keep their
   * journal values apart; a host-level step bound to one uses its values */
  s->jprefix = j->rb->multi && per_cert >= 0 ? j->rb->certs[c].name : NULL;
  if (j->rb->multi && per_cert > 0) {
    if (asprintf(&s->owned_name, "%s: %s", cname, s->name) < 0)
      return RD_ENOMEM;
    s->name = s->owned_name;
  }
  s->report = json_pack("{s:s, s:s, s:{}}", "name", s->name, "type", kind->type, "phases");
  if (!s->report)
    return RD_ENOMEM;
  if (j->rb->multi && per_cert >= 0)
    json_object_set_new(s->report, "certificate", json_string(cname));
  return 0;
}

/* The facts of each certificate of j: the host's, whatif, its name. */
static int cert_facts(rd_job *j) {
  const rd_runbook *rb = j->rb;
  if (!(j->cfacts = calloc(rb->ncerts, sizeof *j->cfacts)) ||
      !(j->csel = calloc(rb->ncerts, 1)))
    return RD_ENOMEM;
  j->ncerts = rb->ncerts;
  for (size_t c = 0; c < rb->ncerts; c++) {
    json_t *f = c == 0 ? json_incref(j->facts) : json_deep_copy(j->facts);
    if (!(j->cfacts[c] = f))
      return RD_ENOMEM;
    if (rb->multi)
      json_object_set_new(f, "certificate", json_string(rb->certs[c].name));
  }
  return 0;
}

static const char *platform_name(rd_platform p) {
  return p == RD_PLATFORM_WINDOWS ? "windows" : "posix";
}

/* The job's steps: every certificate's inventory; for each certificate its
 * issuer, install and own steps; then the runbook's host-level steps. */
static int add_steps(rd_engine *e, rd_job *j, const rd_step_kind *inv, const rd_step_kind *iss,
                     const rd_step_kind *inst) {
  const rd_runbook *rb = j->rb;
  long tmo = rb->ssh.command_timeout_ms;
  int rc = 0;
  if (e->opts.doctor) { /* the platform's own preflight runs first (core/doctor.c) */
    char kname[128];
    snprintf(kname, sizeof kname, "%s.doctor", platform_name(j->t->platform));
    const rd_step_kind *dk = rd_registry_find(e->reg, kname);
    if (dk)
      rc = add_step(j, dk, NULL, "doctor", tmo, 0, -1);
  }
  for (size_t c = 0; !rc && c < rb->ncerts; c++)
    rc = add_step(j, inv, NULL, "inventory", tmo, c, 1);
  j->ninv = j->nsteps;
  for (size_t c = 0; !rc && c < rb->ncerts; c++) {
    const rd_cert_cfg *cc = &rb->certs[c];
    if ((rc = add_step(j, iss, NULL, "issue", tmo * 3, c, 1)) ||
        (rc = add_step(j, inst, NULL, "install", tmo, c, 1)))
      break;
    for (size_t k = 0; !rc && k < cc->nsteps; k++) {
      const rd_step_kind *kind =
          cc->steps[k].kind ? cc->steps[k].kind : rd_registry_find(e->reg, cc->steps[k].type);
      if (!kind) {
        fprintf(stderr, "runbook %s: certificate %s: step '%s' has no loaded kind; check --plugins\n",
                rb->path, cc->name, cc->steps[k].type);
        return RD_ECONFIG;
      }
      rc = add_step(j, kind, cc->steps[k].params, cc->steps[k].name, cc->steps[k].timeout_ms, c, 1);
    }
  }
  for (size_t k = 0; !rc && k < rb->nsteps; k++) {
    const rd_step_cfg *sc = &rb->steps[k];
    const rd_step_kind *kind = sc->kind ? sc->kind : rd_registry_find(e->reg, sc->type);
    if (!kind) {
      fprintf(stderr, "runbook %s: step '%s' has no loaded kind; check --plugins\n", rb->path,
              sc->type);
      return RD_ECONFIG;
    }
    rc = add_step(j, kind, sc->params, sc->name, sc->timeout_ms,
                  sc->cert < 0 ? 0 : (size_t)sc->cert, sc->cert < 0 ? -1 : 0);
  }
  return rc;
}

static int host_selected(const rd_engine *e, const char *name) {
  if (!e->opts.hosts)
    return 1;
  for (const char **h = e->opts.hosts; *h; h++)
    if (!strcmp(*h, name))
      return 1;
  return 0;
}

int rd_engine_add_runbook(rd_engine *e, const rd_runbook *rb) {
  const char *issuer_type = json_string_value(json_object_get(rb->issuer, "type"));
  for (size_t i = 0; i < rb->ntargets; i++) {
    const rd_target *t = &rb->targets[i];
    char kname[128];
    const rd_step_kind *inv, *iss, *inst;
    rd_job *j = NULL;
    if (!host_selected(e, t->name))
      continue;
    snprintf(kname, sizeof kname, "%s.inventory", platform_name(t->platform));
    inv = rd_registry_find(e->reg, kname);
    snprintf(kname, sizeof kname, "%s.issue", issuer_type ? issuer_type : "?");
    iss = rd_registry_find(e->reg, kname);
    snprintf(kname, sizeof kname, "%s.install", platform_name(t->platform));
    inst = rd_registry_find(e->reg, kname);
    if (!inv || !iss || !inst) {
      fprintf(stderr,
              "runbook %s: host %s: no %s step kind is loaded (inventory %s, issuer '%s.issue' %s, "
              "install %s); check --plugins\n",
              rb->path, t->name, !inv ? "inventory" : !iss ? "issuer" : "install",
              inv ? "ok" : "missing", issuer_type ? issuer_type : "?", iss ? "ok" : "missing",
              inst ? "ok" : "missing");
      return RD_ECONFIG;
    }
    rd_wave_set *ws = rd_waves_for(e, rb);
    size_t nsteps = rb->nsteps + 1; /* + doctor's own */
    for (size_t c = 0; c < rb->ncerts; c++)
      nsteps += 3 + rb->certs[c].nsteps;
    if (!ws || !(j = calloc(1, sizeof *j)) || !(j->steps = calloc(nsteps, sizeof *j->steps))) {
      rd_job_free(j);
      return RD_ENOMEM;
    }
    j->e = e;
    j->rb = rb;
    j->t = t;
    j->state = RD_JOB_DUE;
    j->facts = json_object();
    j->kv = json_object();
    j->report = json_pack("{s:s, s:s, s:s, s:[]}", "runbook", rb->name, "host", t->name, "platform",
                          platform_name(t->platform), "steps");
    json_object_set_new(j->facts, "host",
                        json_pack("{s:s, s:s, s:i, s:s, s:O}", "name", t->name, "address",
                                  t->address, "port", t->port, "platform",
                                  platform_name(t->platform), "vars", t->vars));
    json_object_set_new(j->facts, "whatif", json_boolean(e->opts.whatif));
    /* the key match up front where the problems decide (core/certs.c) */
    json_object_set_new(j->facts, "check_keys", json_boolean(e->opts.remediate || e->opts.doctor ||
                                                        e->opts.keys));
    j->st.name = t->name;
    j->st.address = t->address;
    j->st.port = t->port ? t->port : 22;
    j->st.user = rb->ssh.user;
    j->st.identity = rb->ssh.identity;
    j->st.known_hosts = rb->ssh.known_hosts;
    j->st.agent = rb->ssh.agent;
    if (rb->ssh.passphrase.kind != RD_SECRET_NONE) {
      size_t len;
      char err[256];
      /* the job fails when its turn comes, naming where the secret was to
       * come from (never its value); the other hosts go on */
      if (rd_secret_read(&rb->ssh.passphrase, &j->passphrase, &len, err, sizeof err) == 0)
        j->st.passphrase = j->passphrase;
      else {
        j->setup_failed = 1;
        snprintf(j->error, sizeof j->error, "host %s: ssh.passphrase: %s", t->name, err);
      }
    }
    int rc = cert_facts(j);
    if (!rc)
      rc = add_steps(e, j, inv, iss, inst);
    if (rc) {
      rd_job_free(j);
      return rc;
    }
    for (size_t k = 0; k < j->nsteps; k++)
      json_array_append(json_object_get(j->report, "steps"), j->steps[k].report);
    j->waves = ws;
    rd_waves_add_target(ws);
    *e->tail = j;
    e->tail = &j->next;
    j->queued = 1;
    e->stats.targets++;
  }

  return 0;
}


/* A plan's (or remediate --whatif's) verdict on a due job, as the run would
 * end it: WOULD_RENEW, or, for a certificate renewd cannot renew itself
 * (issuer "manual": its apply ends the job NEEDS_OPERATOR), NEEDS_OPERATOR
 * with the issuer probe's sentence (the certificate and the runbook's manual
 * action) as the cause, remedy "operator". Whatif: no journal job, so the
 * state is the report's only. */
void rd_job_plan_end(rd_job *j) {
  const char *type = json_string_value(json_object_get(j->rb->issuer, "type"));
  const rd_step *iss = NULL;
  if (!type || strcmp(type, "manual")) {
    rd_job_finish_as(j, RD_OUT_WOULD_RENEW);
    return;
  }
  for (size_t i = 0; i < j->nsteps && !iss; i++)
    if ((j->steps[i].kind->flags & RD_KIND_ISSUER) && !j->steps[i].skip)
      iss = &j->steps[i];
  const json_t *probe = iss ? json_object_get(json_object_get(iss->report, "phases"), "probe") : NULL;
  const char *msg = json_string_value(json_object_get(probe, "message"));
  if (!msg)
    msg = "renewd cannot renew this certificate (issuer 'manual'): see the runbook's issuer.action";
  snprintf(j->error, sizeof j->error, "host %s: %s: probe: %s", j->t->name,
           iss ? iss->name : "issue", msg);
  json_object_set_new(j->report, "cause",
                      json_pack("{s:s, s:s, s:s, s:s}", "step", iss ? iss->name : "issue", "phase",
                                "probe", "status", rd_errname(RD_EOPERATOR), "message", msg));
  if (json_object_get(j->report, "remedy")) /* remediate --whatif */
    json_object_set_new(j->report, "remedy", json_string("operator"));
  j->state = RD_JOB_NEEDS_OPERATOR;
  rd_job_finish_as(j, RD_OUT_STATE);
}

void rd_job_inventoried(rd_job *j) {
  json_t *list = json_object_get(j->report, "certificates"); /* several (certs.c) */
  for (size_t c = 0; c < j->ncerts; c++) {
    const json_t *cert = json_object_get(j->cfacts[c], "cert");
    const json_t *problems = json_object_get(j->cfacts[c], "problems");
    /* the first is the job's "cert" too, as with one certificate */
    json_t *into[2] = {c == 0 ? j->report : NULL, json_array_get(list, c)};
    for (size_t k = 0; k < 2; k++) {
      if (into[k] && cert)
        json_object_set(into[k], "cert", (json_t *)cert);
      if (into[k] && problems)
        json_object_set(into[k], "problems", (json_t *)problems);
    }
    if (j->e->journal && cert)
      rd_journal_inventory(j->e->journal, j->t->name, cert);
  }
  rd_job_finish_as(j, RD_OUT_INVENTORIED);
}
