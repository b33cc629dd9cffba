/* test_windows_examples.c — the plan of every shipped Windows runbook
 * against the simulated target of helpers/win_fixture.h, with every script
 * it would send, printed as `renewd plan --show-scripts` prints them
 * (host/hostapi.c): the script's name, whether it is read-only, its text
 * and its parameters (JSON, keys sorted). This is what docs/examples/ holds.
 *
 * Each runbook is loaded by the real loader (its steps validated by the
 * windows and tls plugins); the steps run in the engine's order
 * (windows.inventory, adcs.issue, windows.install, the runbook's steps;
 * with 'certificates': every certificate's inventory, then for each its
 * issue, install and own steps, then the host-level steps once), probe
 * only, in whatif, each as a fresh step with the facts carried, and every
 * probe must succeed. The simulated store holds one live certificate of the
 * template fixture (CEPEncryption, or the v2 OID for the IIS runbook and
 * the second of several certificates) with its CNG key, one superseded
 * duplicate or another certificate, and what the runbook's registry
 * values, IIS binding and services need; several certificates get one
 * simulated store each.
 *
 * The certificates are made afresh each run, so their thumbprints, serials,
 * DER and dates are printed as <OLD thumbprint>, <OLD der> ... (with
 * several certificates <cep-encryption OLD thumbprint> ...): the text is
 * the same on every run. RENEWD_EXAMPLES_OUT=DIR writes DIR/<runbook>.txt
 * (contrib/examples.sh into docs/examples; tests/e2e/examples_current.sh
 * into a temp dir, then compares). */
#include "win_fixture.h"
#include "config/runbook.h"
#include "tls_plugin.h"

static const char *const runbooks[] = {
    "windows-ndes-ra",  "windows-ndes-ra-eea",      "windows-scom-channel",
    "windows-iis-site", "windows-configmgr-policy-module", "windows-sql-server",
    "windows-ndes-ra-pair", NULL};

static FILE *out;          /* the example being written */
static const char *host;   /* the runbook's first target */
static rd_host_api shown;  /* API with remote() printing first */

/* The simulated certificates of one certificate of a runbook: the live one,
 * a second one in the store (a superseded duplicate of its template, or
 * another certificate) and the one its CA would issue. */
typedef struct cert_set {
  const tcert *live, *other, *issued;
  const char *other_name;
} cert_set;
static const cert_set ndes_set = {&OLD, &DUP, &NEW, "DUP"};
static const cert_set web_set = {&WEB_OLD, &PLAIN, &WEB_NEW, "OTHER"};

/* The simulated certificates of the example being written, and their
 * names in it ("OLD", or "cep-encryption OLD" with several certificates). */
#define MAX_CERTS 2
typedef struct named {
  const tcert *c;
  const char *name;
} named;
static named certs[3 * MAX_CERTS + 1];
static char cert_names[3 * MAX_CERTS][128];

static void name_set(size_t c, const cert_set *cs, const char *prefix) {
  const tcert *which[] = {cs->live, cs->other, cs->issued};
  const char *what[] = {"OLD", cs->other_name, "NEW"};
  for (size_t k = 0; k < 3; k++) {
    snprintf(cert_names[3 * c + k], sizeof cert_names[0], "%s%s%s", prefix ? prefix : "",
             prefix ? " " : "", what[k]);
    certs[3 * c + k] = (named){which[k], cert_names[3 * c + k]};
  }
  certs[3 * c + 3] = (named){NULL, NULL};
}

static size_t cur; /* the certificate whose step is printed */

/* Every value that changes from run to run, as a placeholder; those of the
 * certificate whose step is printed first (two simulated certificates may
 * share a date). */
static char *stable(const char *text) {
  char *s = strdup(text);
  size_t count = 0;
  while (certs[count].c)
    count++;
  for (size_t m = 0; s && m < count; m++) {
    size_t i = (m + 3 * cur) % count;
    char thumb_lc[41], what[160], nb[32], na[32];
    const char *pairs[][2] = {{certs[i].c->thumb, "thumbprint"}, {thumb_lc, "thumbprint"},
                              {certs[i].c->b64, "der"}, {na, "not_after"}, {nb, "not_before"}};
    time_t tna = (time_t)json_integer_value(json_object_get(certs[i].c->facts, "not_after"));
    time_t tnb = (time_t)json_integer_value(json_object_get(certs[i].c->facts, "not_before"));
    struct tm tm;
    /* as the plugins print dates: "2026-12-30 10:40 UTC" */
    strftime(na, sizeof na, "%Y-%m-%d %H:%M UTC", gmtime_r(&tna, &tm));
    strftime(nb, sizeof nb, "%Y-%m-%d %H:%M UTC", gmtime_r(&tnb, &tm));
    snprintf(thumb_lc, sizeof thumb_lc, "%s", certs[i].c->thumb);
    for (char *p = thumb_lc; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
      char *hit;
      snprintf(what, sizeof what, "<%s %s>", certs[i].name, pairs[k][1]);
      while ((hit = strstr(s, pairs[k][0]))) {
        size_t n = strlen(s) - strlen(pairs[k][0]) + strlen(what) + 1;
        char *t = malloc(n);
        ck_assert_ptr_nonnull(t);
        snprintf(t, n, "%.*s%s%s", (int)(hit - s), s, what, hit + strlen(pairs[k][0]));
        free(s);
        s = t;
      }
    }
  }
  ck_assert_ptr_nonnull(s);
  return s;
}

static const char *show_host(rd_step *s) { return host; }
static void show_donef(rd_step *s, int status, json_t *result, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rd_host_vdonef(&shown, s, status, result, fmt, ap);
  va_end(ap);
}

static int show_remote(rd_step *s, const rd_script *sc, json_t *params, rd_remote_cb cb,
                       void *arg) {
  char *ptxt = json_dumps(params ? params : json_object(), JSON_INDENT(2) | JSON_SORT_KEYS);
  char *p = stable(ptxt ? ptxt : "{}");
  fprintf(out, "--- host %s: script %s%s ---\n%s\n--- parameters ---\n%s\n---\n", host, sc->name,
          sc->mutating ? " (mutating)" : " (read-only)", sc->text, p);
  free(p);
  free(ptxt);
  return API.remote(s, sc, params, cb, arg);
}

/* One probe as the engine runs it in a plan, with the API that prints. */
static void probe(const rd_step_kind *k, const char *name, const json_t *params) {
  rd_step s;
  char *msg;
  memset(&s, 0, sizeof s);
  s.params = params ? json_deep_copy(params) : json_object();
  fprintf(out, "=== step %s (%s): probe\n", name, k->type);
  ck_assert_int_eq(k->probe(&s, &shown), 0);
  ck_assert_int_eq(s.done_calls, 1);
  msg = stable(s.msg);
  fprintf(out, "=== step %s: probe %s: %s\n\n", name, s.status ? "FAILED" : "ok", msg);
  ck_assert_msg(s.status == 0, "%s: %s: %s", host, name, s.msg);
  free(msg);
  json_decref(s.result);
  if (s.data && s.free_fn)
    s.free_fn(s.data);
  json_decref(s.params);
}

static const rd_step_kind *kind_of(const char *type) {
  const rd_plugin *p = windows_plugin();
  for (size_t i = 0; p->kinds[i]; i++)
    if (!strcmp(p->kinds[i]->type, type))
      return p->kinds[i];
  return NULL;
}

/* Does step st concern certificate c? Its own steps, a host-level step
 * bound to it, and for the first certificate the unbound host-level ones
 * (they see its facts, core/build.c). */
static int concerns(const rd_step_cfg *st, size_t c, int host_level) {
  return !host_level || st->cert == (int)c || (st->cert < 0 && c == 0);
}

/* The simulated server certificate c of the runbook expects: its live
 * certificate and a second one (of its template, or another), the registry
 * values its steps move. Several certificates get one simulated server
 * each (the engine keeps each one's facts apart); W is the last. */
static void target_for(const rd_runbook *rb, size_t c, const cert_set *cs) {
  const tcert *live = cs->live;
  json_t *sections = json_pack("{s:O, s:O}", "certificate", rb->certs[c].selector, "issuer",
                               rb->issuer);
  json_t *cert = json_object_get(sections, "certificate");
  char *t;
  /* the fixture's certificates carry CEPEncryption (v1) or V2_OID */
  json_object_del(cert, "template");
  if (live == &WEB_OLD)
    json_object_set_new(cert, "template_oid", json_string(V2_OID));
  else
    json_object_set_new(cert, "template", json_string("CEPEncryption"));
  t = json_dumps(sections, JSON_COMPACT);
  wt_new(t);
  free(t);
  json_decref(sections);
  W->whatif = 1;
  json_object_set_new(W->facts, "whatif", json_true());
  json_object_set_new(W->facts, "host", json_pack("{s:s, s:s}", "name", host, "platform", "windows"));
  store_add(live, 1, "CNG");
  store_add(cs->other, 1, "CAPI");
  if (live == &OLD)
    W->cainfo = CONFIG; /* NDES names its CA */
  else                  /* a web server: certutil -dump in the session */
    W->dump_text = fixture_text("certutil-dump-one.txt");
  snprintf(W->iis_hash, sizeof W->iis_hash, "%s", live->thumb);
  W->plugin_log = strdup("NDES thumbprint is ");
  for (int host_level = 0; host_level < 2; host_level++) {
    const rd_step_cfg *steps = host_level ? rb->steps : rb->certs[c].steps;
    size_t n = host_level ? rb->nsteps : rb->certs[c].nsteps;
    for (size_t k = 0; k < n; k++) {
      const json_t *p = steps[k].params;
      const char *key = json_string_value(json_object_get(p, "key"));
      const char *val = json_string_value(json_object_get(p, "value"));
      const char *fmt = json_string_value(json_object_get(p, "format"));
      const char *svc = json_string_value(json_object_get(p, "service"));
      char full[1300];
      if (!concerns(&steps[k], c, host_level))
        continue;
      if (svc && !json_object_get(W->svc, svc)) /* a service the runbook restarts */
        json_object_set_new(W->svc, svc, json_string("Running"));
      if (!key || !val)
        continue;
      snprintf(full, sizeof full, "%s\\%s", key, val);
      if (fmt && !strcmp(fmt, "serial_reversed"))
        json_object_set_new(W->reg, full,
                            json_pack("{s:s, s:s}", "kind", "Binary", "hex",
                                      P(live->facts, "serial_reversed")));
      else
        json_object_set_new(W->reg, full,
                            json_pack("{s:s, s:s}", "kind", "String", "text", live->thumb));
    }
  }
}

/* The probe of a runbook's step (no script for tls.verify: the orchestrator
 * connects). */
static void step_probe(const rd_step_cfg *st, const char *name) {
  const rd_step_kind *kind = kind_of(st->type);
  if (!kind)
    fprintf(out, "=== step %s (%s): runs on the orchestrator, no script\n\n", name, st->type);
  else
    probe(kind, name, st->params);
}

/* A certificate's step as the engine names it: "cep-encryption: install"
 * with several certificates (core/build.c), else as it is. */
static const char *cert_step(const rd_runbook *rb, size_t c, const char *name, char *buf,
                             size_t len) {
  if (!rb->multi)
    return name;
  snprintf(buf, len, "%s: %s", rb->certs[c].name, name);
  return buf;
}

/* The engine's order: every certificate's inventory; for each certificate
 * its issuer, install and own steps; then the host-level steps once (each
 * on the simulated server of its certificate, the first when unbound). */
static void plan(const rd_runbook *rb, wt *const *tw) {
  char buf[512];
  for (size_t c = 0; c < rb->ncerts; c++) {
    W = tw[cur = c];
    probe(&windows_kind_inventory, cert_step(rb, c, "inventory", buf, sizeof buf), NULL);
  }
  for (size_t c = 0; c < rb->ncerts; c++) {
    W = tw[cur = c];
    json_object_set_new(W->facts, "due",
                        json_pack("{s:b, s:b, s:s}", "due", 1, "expired", 0, "why", "plan"));
    probe(&adcs_kind_issue, cert_step(rb, c, "issue", buf, sizeof buf), NULL);
    probe(&windows_kind_install, cert_step(rb, c, "install", buf, sizeof buf), NULL);
    for (size_t k = 0; k < rb->certs[c].nsteps; k++)
      step_probe(&rb->certs[c].steps[k], cert_step(rb, c, rb->certs[c].steps[k].name, buf,
                                                   sizeof buf));
  }
  for (size_t k = 0; k < rb->nsteps; k++) {
    W = tw[cur = rb->steps[k].cert < 0 ? 0 : (size_t)rb->steps[k].cert];
    step_probe(&rb->steps[k], rb->steps[k].name);
  }
}

static void example(const char *name, const char *dir) {
  rd_registry *reg = NULL;
  rd_runbook *rb = NULL;
  rd_diag diag = {0};
  wt *tw[MAX_CERTS];
  char path[1024], err[512];
  snprintf(path, sizeof path, "%s/runbooks/%s.json", SOURCE_DIR, name);
  ck_assert_int_eq(rd_registry_new(&reg), 0);
  ck_assert_int_eq(rd_registry_add(reg, windows_plugin(), "windows", err, sizeof err), 0);
  ck_assert_int_eq(rd_registry_add(reg, tls_plugin(), "tls", err, sizeof err), 0);
  ck_assert_msg(rd_runbook_load(path, reg, &rb, &diag) == 0, "%s does not load", path);
  snprintf(path, sizeof path, "%s/%s.txt", dir, name);
  ck_assert_msg((out = fopen(path, "w")) != NULL, "%s", path);
  host = rb->targets[0].name;
  fprintf(out,
          "# renewd plan --show-scripts: runbooks/%s.json, host %s, against the unit tests'\n"
          "# simulated Windows target (tests/unit/helpers/win_fixture.h); generated by\n"
          "# contrib/examples.sh from tests/unit/test_windows_examples.c. Probes only: nothing\n"
          "# here changes the target. <OLD thumbprint>, <OLD der> ... stand for the simulated\n"
          "# certificates, made afresh on every run.%s\n\n",
          name, host,
          rb->multi ? "\n# Each certificate of the runbook on a simulated store of its own, the\n"
                      "# second with the simulated certificates of a version-2 template."
                    : "");
  ck_assert_msg(rb->ncerts <= MAX_CERTS, "%s: the fixture simulates %d certificates", name,
                MAX_CERTS);
  for (size_t c = 0; c < rb->ncerts; c++) {
    /* one certificate: the IIS runbook's is a web server's; several: each
     * its own simulated certificates, so that the text tells them apart */
    const cert_set *cs = (rb->multi ? c == 1 : strstr(rb->name, "iis") != NULL) ? &web_set
                                                                                  : &ndes_set;
    name_set(c, cs, rb->multi ? rb->certs[c].name : NULL);
    target_for(rb, c, cs);
    tw[c] = W;
  }
  plan(rb, tw);
  fclose(out);
  out = NULL;
  for (size_t c = 0; c < rb->ncerts; c++) {
    W = tw[c];
    wt_free();
  }
  rd_runbook_free(rb);
  rd_diag_free(&diag);
  rd_registry_free(reg);
}

START_TEST(every_shipped_windows_runbook) {
  const char *dir = getenv("RENEWD_EXAMPLES_OUT");
  char tmp[] = "/tmp/renewd-examples-XXXXXX", cmd[128];
  shown = API;
  shown.remote = show_remote;
  shown.host = show_host;
  shown.donef = show_donef;
  if (!dir || !*dir)
    ck_assert_ptr_nonnull(dir = mkdtemp(tmp));
  for (size_t i = 0; runbooks[i]; i++)
    example(runbooks[i], dir);
  if (dir == tmp) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("windows_examples");
  TCase *tc = tcase_create("examples");
  tcase_add_test(tc, every_shipped_windows_runbook);
  suite_add_tcase(s, tc);
  return wt_main(s);
}
