/* runbook_steps.c — 'steps': each a step kind from the plugin registry with
 * its parameters, checked by the kind's own validate(). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "config/runbook_int.h"

/* Point at the params member a plugin's message names ('mode' or "mode"),
 * if any; else at "params" itself. */
static void step_error_ptr(const json_t *params, const char *msg, const char *pptr,
                           char *out, size_t len) {
  snprintf(out, len, "%s", pptr);
  for (const char *q = msg; *q; q++) {
    const char *e;
    char word[128];
    if (*q != '\'' && *q != '"')
      continue;
    if (!(e = strchr(q + 1, *q)))
      break;
    if ((size_t)(e - q - 1) < sizeof word) {
      snprintf(word, sizeof word, "%.*s", (int)(e - q - 1), q + 1);
      if (json_object_get(params, word)) {
        rd_jsonptr_push(out, len, word);
        return;
      }
    }
    q = e;
  }
}

/* A host-level step's "certificate": the name of one of the runbook's
 * certificates, whose facts and sections the step then sees. */
static int bound_cert(ld *l, const json_t *s, const char *p) {
  const char *name = rb_get_string(l, s, p, "certificate", 0);
  char cp[PTR_MAX];
  if (!name)
    return -1;
  rb_child(cp, sizeof cp, p, "certificate");
  for (size_t c = 0; l->rb->multi && c < l->rb->ncerts; c++)
    if (l->rb->certs[c].name && !strcmp(l->rb->certs[c].name, name))
      return (int)c;
  if (!l->rb->multi)
    rd_jctx_err(&l->j, cp, 1,
                "a step's 'certificate' names one of 'certificates', but this runbook has the "
                "one 'certificate' (every step sees it)");
  else
    rd_jctx_err(&l->j, cp, 1, "no certificate is named '%s' in 'certificates'", name);
  return -1;
}

/* The steps array a at ptr into *out: host-level (cert < 0: the runbook's
 * 'steps', each may name its certificate) or those of certificates[cert]. */
void rb_steps_at(ld *l, json_t *a, const char *ptr, int cert, rd_step_cfg **out, size_t *n) {
  static const char *const keys[] = {"type", "name", "params", "timeout", NULL};
  static const char *const host_keys[] = {"type", "name", "params", "timeout", "certificate",
                                          NULL};
  rd_runbook *rb = l->rb;
  json_t *s;
  size_t i;
  if (!rb_is_type(l, a, ptr, JSON_ARRAY, "an array of steps"))
    return;
  if (!(*out = calloc(json_array_size(a) + 1, sizeof **out))) {
    l->nomem = 1;
    return;
  }
  json_array_foreach(a, i, s) {
    char p[PTR_MAX], tp[PTR_MAX], pp[PTR_MAX], d[512];
    rd_step_cfg *st = &(*out)[*n];
    const char *type, *name;
    json_t *params;
    double t;
    rb_child_i(p, sizeof p, ptr, i);
    rb_child(tp, sizeof tp, p, "type");
    rb_child(pp, sizeof pp, p, "params");
    if (!rb_is_type(l, s, p, JSON_OBJECT, "an object like {\"type\": \"posix.key_acl\", \"params\": {...}}"))
      continue;
    rd_jctx_check_keys(&l->j, s, p, cert < 0 ? host_keys : keys);
    rd_jsonpos_value(l->j.pos, p, &st->line, &st->column);
    st->cert = cert < 0 ? bound_cert(l, s, p) : cert;
    type = rb_get_string(l, s, p, "type", 1);
    name = rb_get_string(l, s, p, "name", 0);
    params = json_object_get(s, "params");
    if (params && !rb_is_type(l, params, pp, JSON_OBJECT, "an object"))
      params = NULL;
    t = rb_get_duration(l, s, p, "timeout", 120, 0, NULL);
    st->timeout_ms = t > 0 ? (long)(t * 1000) : 120000;
    if (!type)
      continue;
    st->type = rb_xstrdup(l, type);
    st->name = rb_xstrdup(l, name ? name : type);
    st->params = params ? json_incref(params) : json_object();
    (*n)++;
    for (size_t j = 0; st->name && j + 1 < *n; j++)
      if ((*out)[j].name && !strcmp((*out)[j].name, st->name)) {
        char np[PTR_MAX];
        rb_child(np, sizeof np, p, name ? "name" : "type");
        rd_jctx_err(&l->j, np, 1,
                    "two steps are named '%s' (the other at line %d); give each step its own "
                    "\"name\"",
                    st->name, (*out)[j].line);
        break;
      }
    if (!l->reg)
      continue;
    if (!(st->kind = rd_registry_find(l->reg, type))) {
      const char *sugg = rd_registry_suggest(l->reg, type);
      if (sugg)
        rd_jctx_err(&l->j, tp, 1, "unknown step kind '%s'; did you mean '%s'?", type, sugg);
      else
        rd_jctx_err(&l->j, tp, 1,
                    "unknown step kind '%s'; 'renewd validate --list-steps' lists the "
                    "registered kinds",
                    type);
      continue;
    }
    if (st->kind->flags & (RD_KIND_INVENTORY | RD_KIND_ISSUER | RD_KIND_INSTALL)) {
      rd_jctx_err(&l->j, tp, 1,
                  "step kind '%s' does not belong in 'steps': renewd runs the inventory, "
                  "issuer and install steps itself (from 'targets', 'issuer' and "
                  "'certificate'); 'steps' lists the follow-ups",
                  type);
      continue;
    }
    if (st->kind->platform != RD_PLATFORM_ANY && l->targets_ok &&
        !(rb->platforms & (1u << st->kind->platform)))
      rd_jctx_err(&l->j, tp, 1, "step kind '%s' runs on %s targets, but this runbook's targets "
                                "are all %s",
                  type, st->kind->platform == RD_PLATFORM_WINDOWS ? "Windows" : "POSIX",
                  rb_platforms_word(l));
    if (st->kind->validate) {
      char err[1024] = "";
      if (st->kind->validate(st->params, err, sizeof err)) {
        char ep[PTR_MAX];
        if (!err[0])
          snprintf(err, sizeof err, "parameters rejected by the step kind");
        if (params)
          step_error_ptr(params, err, pp, ep, sizeof ep);
        else
          snprintf(ep, sizeof ep, "%s", tp);
        rd_jctx_err(&l->j, ep, 0, "%s (%s): %s", DISP(l, p, d), st->name, err);
      }
    }
  }
}

void rb_load_steps(ld *l) {
  json_t *a = rb_member(l, l->root, "", "steps", 0);
  if (a)
    rb_steps_at(l, a, "/steps", -1, &l->rb->steps, &l->rb->nsteps);
}

void rb_steps_free(rd_step_cfg *steps, size_t n) {
  for (size_t i = 0; steps && i < n; i++) {
    free(steps[i].type);
    free(steps[i].name);
    json_decref(steps[i].params);
  }
  free(steps);
}
