/* win_host.c — see win_fixture.h: the host API over the simulated target. */
#include "win_fixture.h"
/* ------------------------------------------------------------ host API */

static const json_t *h_params(rd_step *s) { return s->params; }
static const char *h_host(rd_step *s) { return "ndes01"; }
static rd_platform h_platform(rd_step *s) { return RD_PLATFORM_WINDOWS; }
static int h_whatif(rd_step *s) { return W->whatif; }
static json_t *h_facts(rd_step *s) { return W->facts; }
static const json_t *h_section(rd_step *s, const char *name) {
  return json_object_get(W->sections, name);
}
static void h_log(rd_step *s, rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void h_log(rd_step *s, rd_log_level level, const char *fmt, ...) {}
static void h_set_data(rd_step *s, void *data, void (*free_fn)(void *)) {
  if (s->data && s->free_fn && s->data != data)
    s->free_fn(s->data);
  s->data = data;
  s->free_fn = free_fn;
}
static void *h_data(rd_step *s) { return s->data; }
static int h_journal_put(rd_step *s, const char *key, const json_t *value) {
  if (!value)
    return json_object_del(W->journal, key), 0;
  return json_object_set_new(W->journal, key, json_deep_copy(value)) ? RD_ENOMEM : 0;
}
static json_t *h_journal_get(rd_step *s, const char *key) {
  const json_t *v = json_object_get(W->journal, key);
  return v ? json_deep_copy(v) : NULL;
}
static int h_set_state(rd_step *s, const char *state) {
  snprintf(W->states + strlen(W->states), sizeof W->states - strlen(W->states), "%s%s",
           *W->states ? " " : "", state);
  return 0;
}

/* An answer held back (wt_hold): the script ran, its reply comes later. */
typedef struct held_answer {
  int hold;
  rd_step *s;
  rd_remote_cb cb;
  void *arg;
  int exit_status;
  json_t *doc;
  char *txt;
  char err[4096];
} held_answer;
static held_answer HELD;

/* Hands the reply to the plugin and frees it. */
static void answer(rd_step *s, rd_remote_cb cb, void *arg, int exit_status, json_t *doc,
                   char *txt, const char *serr) {
  rd_remote_result r;
  memset(&r, 0, sizeof r);
  r.exit_status = exit_status;
  r.json = doc;
  r.out = txt;
  r.out_len = strlen(txt);
  r.err = serr;
  cb(s, 0, &r, arg);
  json_decref(doc);
  free(txt);
}

/* Windows scripts only: built by remote.c, answered by sim(), the answer
 * parsed by remote.c as the host does. */
static int h_remote(rd_step *s, const rd_script *sc, json_t *params, rd_remote_cb cb, void *arg) {
  rd_remote_cmd cmd;
  char err[512] = "", serr[4096] = "";
  int exit_status = 0;
  json_t *out, *doc = NULL;
  char *txt;
  if (sc->platform != RD_PLATFORM_WINDOWS) {
    json_decref(params);
    return RD_ENOTSUP;
  }
  if (sc->mutating && W->whatif) { /* refused before anything is sent */
    json_decref(params);
    return RD_EWHATIF;
  }
  ck_assert_msg(rd_remote_build(sc, params, 0, &cmd, err, sizeof err) == 0, "%s", err);
  ck_assert(cmd.command && cmd.stdin_len > 0);
  rd_remote_cmd_free(&cmd);
  W->scripts++;
  json_array_append_new(W->calls, json_pack("{s:s, s:O}", "script", sc->name, "params", params));
  out = sim(sc->name, params, &exit_status, serr, sizeof serr);
  txt = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("");
  if (!exit_status)
    ck_assert_msg(rd_remote_parse_windows(txt, strlen(txt), &doc, err, sizeof err) == 0, "%s", err);
  json_decref(out);
  json_decref(params);
  if (HELD.hold) { /* answered later, by wt_deliver() */
    ck_assert_msg(!HELD.cb, "a second script while one answer is held");
    HELD = (held_answer){1, s, cb, arg, exit_status, doc, txt, ""};
    snprintf(HELD.err, sizeof HELD.err, "%s", serr);
    return 0;
  }
  answer(s, cb, arg, exit_status, doc, txt, serr);
  return 0;
}

void wt_hold(int on) { HELD.hold = on; }

int wt_deliver(void) {
  held_answer a = HELD;
  if (!a.cb)
    return 0;
  HELD = (held_answer){0};
  answer(a.s, a.cb, a.arg, a.exit_status, a.doc, a.txt, a.err);
  return 1;
}

static int h_http(rd_step *s, const rd_http_request *req, rd_http_cb cb, void *arg) {
  return RD_ENOTSUP;
}
static int h_work(rd_step *s, rd_work_fn fn, rd_after_fn after, void *arg) {
  fn(arg);
  after(s, 0, arg);
  return 0;
}
static int h_secret(rd_step *s, const json_t *ref, char **out, size_t *len) { return RD_ENOTFOUND; }
static void h_done(rd_step *s, int status, json_t *result, const char *msg) {
  if (s->done_calls++) {
    json_decref(result);
    ck_abort_msg("done() called twice: %s", msg ? msg : "");
  }
  s->status = status;
  s->result = result;
  snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "");
}

static void h_donef(rd_step *s, int status, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const rd_host_api API = {
    .size = sizeof(rd_host_api),
    .abi = RD_PLUGIN_ABI,
    .params = h_params,
    .host = h_host,
    .platform = h_platform,
    .whatif = h_whatif,
    .facts = h_facts,
    .section = h_section,
    .log = h_log,
    .set_data = h_set_data,
    .data = h_data,
    .journal_put = h_journal_put,
    .journal_get = h_journal_get,
    .set_state = h_set_state,
    .remote = h_remote,
    .http = h_http,
    .work = h_work,
    .secret = h_secret,
    .done = h_done,
    .strerror = rd_strerror,
    .cert_facts = rd_x509_facts_from_bytes,
    .donef = h_donef,
    .b64_encode = rd_base64_encode_str,
    .b64_decode = rd_base64_decode_str,
};

static void h_donef(rd_step *s, int status, json_t *result, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rd_host_vdonef(&API, s, status, result, fmt, ap);
  va_end(ap);
}

/* One phase as a fresh step (as after a restart): only facts and the
 * journal carry over. Returns the status; o_result / o_msg hold the rest. */
int phase(const rd_step_kind *k, rd_phase ph, const char *params) {
  rd_step s;
  json_error_t je;
  rd_phase_fn fn = ph == RD_PHASE_PROBE    ? k->probe
                   : ph == RD_PHASE_APPLY  ? k->apply
                   : ph == RD_PHASE_VERIFY ? k->verify
                                           : k->rollback;
  memset(&s, 0, sizeof s);
  json_decref(o_result);
  o_result = NULL;
  o_msg[0] = 0;
  s.params = json_loads(params ? params : "{}", 0, &je);
  ck_assert_msg(s.params != NULL, "params: %s", je.text);
  ck_assert_msg(fn != NULL, "%s has no such phase", k->type);
  o_rc = fn(&s, &API);
  if (o_rc < 0) {
    ck_assert_int_eq(s.done_calls, 0);
    o_status = o_rc;
  } else {
    ck_assert_int_eq(s.done_calls, 1);
    o_status = s.status;
    o_result = s.result;
    snprintf(o_msg, sizeof o_msg, "%s", s.msg);
  }
  if (s.data && s.free_fn)
    s.free_fn(s.data);
  json_decref(s.params);
  return o_status;
}


size_t nchanges(void) { return json_array_size(json_object_get(o_result, "changes")); }
const char *change_field(size_t i, const char *f) {
  return json_string_value(json_object_get(json_array_get(json_object_get(o_result, "changes"), i), f));
}
/* How many times a script ran, and the params of its last run. */
int ran(const char *script, const json_t **params) {
  const json_t *c;
  size_t i;
  int n = 0;
  json_array_foreach(W->calls, i, c) {
    if (!strcmp(P(c, "script"), script)) {
      n++;
      if (params)
        *params = json_object_get(c, "params");
    }
  }
  return n;
}
const char *fact(const char *a, const char *b) {
  return json_string_value(json_object_get(json_object_get(W->facts, a), b));
}

void teardown(void) { wt_free(); }


/* An NDES server: the live RA certificate, an older duplicate, another. */
void ndes(void) {
  wt_new(NDES_SECTIONS);
  store_add(&DUP, 1, "CAPI");
  store_add(&OLD, 1, "CAPI");
  store_add(&PLAIN, 1, "CNG");
  W->issues = &NEW;
  W->submit_text = fixture_text("certreq-submit-issued.txt");
}

/* facts.cert as windows.inventory finds it. */
void inventory(void) { OK(&windows_kind_inventory, RD_PHASE_PROBE, NULL); }

/* facts.new_cert as adcs.issue sets it (the engine then sets expect). */
void issued(const tcert *c) {
  json_t *f = json_deep_copy(c->facts);
  json_object_set_new(f, "has_private_key", json_true());
  json_object_set_new(W->facts, "new_cert", f);
  json_object_set(W->facts, "expect", f);
}


TCase *wt_tcase(const char *name) {
  TCase *t = tcase_create(name);
  tcase_add_checked_fixture(t, NULL, teardown);
  tcase_set_timeout(t, 60);
  return t;
}

int wt_main(Suite *s) {
  int rc;
  make_material();
  rc = tu_run(s);
  free_material();
  return rc;
}
