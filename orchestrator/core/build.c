/* build.c — building the engine's jobs: one per (filtered) target of a
 * runbook, with its steps (inventory, issuer, install, then the runbook's
 * follow-ups) and the facts the step kinds start from. */
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
  }
  free(j->steps);
  json_decref(j->facts);
  json_decref(j->kv);
  json_decref(j->report);
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

static int add_step(rd_job *j, const rd_step_kind *kind, const json_t *params, const char *name,
                    long timeout_ms) {
  rd_step *s = &j->steps[j->nsteps];
  memset(s, 0, sizeof *s);
  s->j = j;
  s->index = j->nsteps++;
  s->kind = kind;
  s->params = params ? params : empty_object();
  s->name = name ? name : kind->type;
  s->timeout_ms = timeout_ms > 0 ? timeout_ms : 120000;
  s->report = json_pack("{s:s, s:s, s:{}}", "name", s->name, "type", kind->type, "phases");
  return 0;
}

static int host_selected(const rd_engine *e, const char *name) {
  if (!e->opts.hosts)
    return 1;
  for (const char **h = e->opts.hosts; *h; h++)
    if (!strcmp(*h, name))
      return 1;
  return 0;
}

static const char *platform_name(rd_platform p) {
  return p == RD_PLATFORM_WINDOWS ? "windows" : "posix";
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
    if (!ws || !(j = calloc(1, sizeof *j)) || !(j->steps = calloc(rb->nsteps + 4, sizeof *j->steps))) {
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
    if (e->opts.doctor) { /* the platform's own preflight runs first (core/doctor.c) */
      snprintf(kname, sizeof kname, "%s.doctor", platform_name(t->platform));
      const rd_step_kind *dk = rd_registry_find(e->reg, kname);
      if (dk)
        add_step(j, dk, NULL, "doctor", rb->ssh.command_timeout_ms);
    }
    add_step(j, inv, NULL, "inventory", rb->ssh.command_timeout_ms);
    add_step(j, iss, NULL, "issue", rb->ssh.command_timeout_ms * 3);
    add_step(j, inst, NULL, "install", rb->ssh.command_timeout_ms);
    for (size_t k = 0; k < rb->nsteps; k++) {
      const rd_step_cfg *c = &rb->steps[k];
      const rd_step_kind *kind = c->kind ? c->kind : rd_registry_find(e->reg, c->type);
      if (!kind) {
        fprintf(stderr, "runbook %s: step '%s' has no loaded kind; check --plugins\n", rb->path,
                c->type);
        rd_job_free(j);
        return RD_ECONFIG;
      }
      add_step(j, kind, c->params, c->name, c->timeout_ms);
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

