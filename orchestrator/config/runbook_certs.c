/* runbook_certs.c — the runbook's certificates: 'certificate' (the one-item
 * form) or 'certificates' (several, each with its selector, its own key
 * policy and its steps), and 'together'. docs/RUNBOOKS.md, "Several
 * certificates". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/inventory.h"
#include "config/runbook_int.h"

/* c's policy: the runbook's, with the certificate's own members over it. */
static void cert_policy(ld *l, rd_cert_cfg *c, json_t *own, const char *ptr) {
  const rd_policy *top = &l->rb->policy;
  json_t *base = json_object_get(l->root, "policy");
  c->policy = *top;
  c->policy.key_type = rb_xstrdup(l, top->key_type ? top->key_type : "rsa");
  c->policy.curve = top->curve ? rb_xstrdup(l, top->curve) : NULL;
  c->policy_json = json_is_object(base) ? json_deep_copy(base) : json_object();
  if (!c->policy_json) {
    l->nomem = 1;
    return;
  }
  if (!own)
    return;
  rb_policy_at(l, own, ptr, &c->policy);
  if (json_is_object(own))
    json_object_update(c->policy_json, own);
}

/* One item of 'certificates' at ptr. */
static void load_item(ld *l, json_t *o, const char *ptr, rd_cert_cfg *c) {
  static const char *const keys[] = {"name", "certificate", "policy", "steps", NULL};
  char p[PTR_MAX];
  const char *name;
  json_t *sel, *steps;
  rd_jsonpos_value(l->j.pos, ptr, &c->line, &c->column);
  if (!rb_is_type(l, o, ptr, JSON_OBJECT,
                  "an object like {\"name\": \"rsa\", \"certificate\": {...}, \"steps\": [...]}"))
    return;
  rd_jctx_check_keys(&l->j, o, ptr, keys);
  rb_child(p, sizeof p, ptr, "name");
  if ((name = rb_get_string(l, o, ptr, "name", 1))) {
    if (!rd_target_name_ok(name) || strlen(name) > 64)
      rd_jctx_err(&l->j, p, 1,
                  "a certificate's 'name' must be 1 to 64 letters, digits, '.', '_' or '-' (it "
                  "names the certificate in reports and the journal), got '%s'",
                  name);
    else
      c->name = rb_xstrdup(l, name);
  }
  rb_child(p, sizeof p, ptr, "certificate");
  if ((sel = rb_member(l, o, ptr, "certificate", 1))) {
    rb_check_selector(l, sel, p);
    c->selector = json_incref(sel);
  }
  rb_child(p, sizeof p, ptr, "policy");
  cert_policy(l, c, json_object_get(o, "policy"), p);
  rb_child(p, sizeof p, ptr, "steps");
  if ((steps = json_object_get(o, "steps")))
    rb_steps_at(l, steps, p, (int)(c - l->rb->certs), &c->steps, &c->nsteps);
}

void rb_load_certificates(ld *l) {
  rd_runbook *rb = l->rb;
  json_t *one = json_object_get(l->root, "certificate");
  json_t *many = json_object_get(l->root, "certificates"), *o;
  size_t i;
  rb->together = rb_get_bool(l, l->root, "", "together", 0);
  if (one && many) {
    rd_jctx_err(&l->j, "/certificates", 0,
                "a runbook has 'certificate' (one) or 'certificates' (several), not both; move "
                "the one into the list");
    return;
  }
  if (!one && !many) {
    rd_jctx_err(&l->j, "", 0,
                "missing required key 'certificate' (or 'certificates', a list of them): "
                "which certificate does this runbook renew?");
    return;
  }
  if (json_object_get(l->root, "together") && !many)
    rd_jctx_err(&l->j, "/together", 0,
                "'together' says whether the certificates of 'certificates' renew together; "
                "this runbook has the one 'certificate'");
  if (one) {
    if (!(rb->certs = calloc(1, sizeof *rb->certs))) {
      l->nomem = 1;
      return;
    }
    rb->ncerts = 1;
    rb_check_selector(l, one, "/certificate");
    rb->certs[0].selector = json_incref(one);
    rd_jsonpos_value(l->j.pos, "/certificate", &rb->certs[0].line, &rb->certs[0].column);
    cert_policy(l, &rb->certs[0], NULL, "/policy");
    return;
  }
  if (!rb_is_type(l, many, "/certificates", JSON_ARRAY, "an array of certificates"))
    return;
  if (json_array_size(many) == 0) {
    rd_jctx_err(&l->j, "/certificates", 1,
                "'certificates' is empty: list at least one {\"name\", \"certificate\"}");
    return;
  }
  if (!(rb->certs = calloc(json_array_size(many), sizeof *rb->certs))) {
    l->nomem = 1;
    return;
  }
  rb->multi = 1;
  json_array_foreach(many, i, o) {
    char p[PTR_MAX];
    rd_cert_cfg *c = &rb->certs[rb->ncerts++];
    rb_child_i(p, sizeof p, "/certificates", i);
    load_item(l, o, p, c);
    for (size_t k = 0; c->name && k < i; k++)
      if (rb->certs[k].name && !strcmp(rb->certs[k].name, c->name)) {
        char np[PTR_MAX];
        rb_child(np, sizeof np, p, "name");
        rd_jctx_err(&l->j, np, 1,
                    "two certificates are named '%s' (the other at line %d); give each its own "
                    "\"name\"",
                    c->name, rb->certs[k].line);
        break;
      }
  }
}

void rb_certs_free(rd_runbook *rb) {
  for (size_t i = 0; rb->certs && i < rb->ncerts; i++) {
    rd_cert_cfg *c = &rb->certs[i];
    free(c->name);
    json_decref(c->selector);
    json_decref(c->policy_json);
    free(c->policy.key_type);
    free(c->policy.curve);
    rb_steps_free(c->steps, c->nsteps);
  }
  free(rb->certs);
}
