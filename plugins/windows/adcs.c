/* adcs.c — `adcs.issue`: renews a certificate from an AD CS enterprise CA
 * with certreq on the Windows target.
 *
 * The request is the five-line RenewalCert INF (RenewalCert="<thumbprint
 * of the live certificate>", MachineKeySet=TRUE): certreq signs it with the
 * live certificate's key and the CA issues against that certificate's
 * identity. The thumbprint is checked here (40 hex digits) and again by the
 * script, which writes the INF itself from $P.
 *
 * probe (read-only): the basis (facts.cert present, valid, with its private
 *   key), certreq.exe and the Task Scheduler on the target, the chain of
 *   the live certificate (facts.ca_pem, for checks such as tls.verify),
 *   the CA configuration (issuer.config, else `certutil -dump` when it can
 *   run in the SSH session). A pending request in the journal is reported
 *   as the retrieval a run would do.
 * apply: adcs_new.ps1 (certreq -new -q) in a work directory that only
 *   SYSTEM and Administrators can touch -> adcs_task.ps1 runs
 *   `certreq -submit -q -config "<config>"` in a one-off scheduled task as
 *   SYSTEM (an SSH key logon has no network credentials: the double hop),
 *   waits for it and unregisters it -> the output is parsed here
 *   (windows_certreq.h): issued -> adcs_accept.ps1 (certreq -accept
 *   -machine -q) -> facts.new_cert; pending -> journal "adcs.request"
 *   {request_id, config} and RD_EPENDING (a later run retrieves it with
 *   certreq -retrieve, never submits again); denied -> RD_EDENIED with the
 *   CA's text; an expired basis (before, or the CA's "not within its
 *   validity period") -> RD_EOPERATOR with what to run: a fresh machine
 *   request, or for the NDES RA user templates NDES configured again
 *   (adcs_ra_procedure: their machine request fails with 0x8007000d).
 *   Without issuer.config the CA is discovered first with `certutil -dump`
 *   in the same SYSTEM task: exactly one CA, else RD_ECONFIG.
 *   Every stage is journaled before it acts ("adcs.request".state: new,
 *   requested, submitted, pending, accepting, issued, denied): a resumed job
 *   continues where it stopped, and a submission whose result file exists
 *   is read again, never repeated.
 * verify: none (apply checks the certificate is in the store with its key).
 * rollback: removes what certreq -new left (the REQUEST store entry and its
 *   key, the work directory) unless the request may still be at the CA.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "windows_certreq.h"
#include "windows_discover.h"
#include "windows_hresult.h"
#include "windows_plugin.h"
#include "windows_store.h"
#include "windows_util.h"

#define TYPE "adcs.issue"
#define JKEY "adcs.request"
#define TASK_WAIT_S 120

static const rd_script adcs_probe_script = WIN_SCRIPT("adcs.probe", 0, WIN_PS_ADCS_PROBE);
static const rd_script adcs_new_script =
    WIN_SCRIPT("adcs.new", 1, WIN_PS_ADCS_LIB WIN_PS_ADCS_NEW);
static const rd_script adcs_task_script =
    WIN_SCRIPT("adcs.task", 1,
               WIN_PS_ADCS_LIB "$RdwInner = @'\n" WIN_PS_TASK_INNER "'@\n" WIN_PS_ADCS_TASK);
static const rd_script adcs_accept_script =
    WIN_SCRIPT("adcs.accept", 1, WIN_PS_CERT_LIB WIN_PS_ADCS_LIB WIN_PS_ADCS_ACCEPT);
static const rd_script adcs_cleanup_script =
    WIN_SCRIPT("adcs.cleanup", 1, WIN_PS_ADCS_CLEANUP);

const char windows_task_inner_ps[] = WIN_PS_TASK_INNER;

const rd_script *const windows_adcs_scripts[] = {&adcs_probe_script,  &adcs_new_script,
                                                 &adcs_task_script,   &adcs_accept_script,
                                                 &adcs_cleanup_script, NULL};

typedef struct adcs_op {
  rd_step *s;
  const rd_host_api *h;
  char config[512];   /* "" until known */
  char store[128];
  char old_thumb[41]; /* "" without a usable basis */
  json_t *rec;        /* the journal record (owned) */
  int canceled;       /* the engine abandoned the step: act no more */
} adcs_op;

static void op_free(void *p) {
  adcs_op *op = p;
  if (!op)
    return;
  json_decref(op->rec);
  free(op);
}

/* The invocation a script's answer belongs to; NULL once the step was
 * canceled: a late answer must not journal, run the next script or
 * complete (the journal keeps what was known; the next run resumes). */
static adcs_op *live_op(rd_step *s, const rd_host_api *h) {
  adcs_op *op = h->data(s);
  return op && !op->canceled ? op : NULL;
}

static void adcs_cancel(rd_step *s, const rd_host_api *h) {
  adcs_op *op = h->data(s);
  if (op)
    op->canceled = 1;
}

static int adcs_validate(const json_t *params, char *err, size_t errlen) {
  return rd_check_keys(params, TYPE, NULL, err, errlen);
}

/* "host\CA name": what certreq -config takes; no quotes or line breaks. */
static int config_ok(const char *c) {
  const char *bs = c ? strchr(c, '\\') : NULL;
  if (!bs || bs == c || !bs[1] || strchr(bs + 1, '\\') || strlen(c) >= 500)
    return 0;
  for (; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == '"')
      return 0;
  return 1;
}

static const char *rec_state(const adcs_op *op) { return win_out(op->rec, "state"); }

/* Journal the record (durable before the next remote action). */
static int rec_put(adcs_op *op, const char *state) {
  if (state)
    json_object_set_new(op->rec, "state", json_string(state));
  return op->h->journal_put(op->s, JKEY, op->rec);
}

/* rec_put that completes the phase when the journal fails. */
static int rec_save(adcs_op *op, const char *state) {
  int rc = rec_put(op, state);
  if (rc < 0)
    op->h->donef(op->s, rc, NULL, "cannot journal the request: %s", op->h->strerror(rc));
  return rc;
}

/* --- the basis ------------------------------------------------------------- */

/* Why a RenewalCert request cannot work (into why), or 0 when it can. */
static int basis_problem(adcs_op *op, char *why, size_t len) {
  const json_t *cert = win_live_cert(op->s, op->h);
  char when[40];
  long long na = win_int(cert, "not_after", 0);
  op->old_thumb[0] = 0;
  if (!cert) {
    snprintf(why, len, "there is no current certificate to renew (nothing in %s matches the "
             "runbook's selector)", op->store);
    return 1;
  }
  if (!win_cert_thumb(cert, op->old_thumb)) {
    snprintf(why, len, "the current certificate has no valid thumbprint");
    return 1;
  }
  win_time(na, when, sizeof when);
  if (na <= (long long)time(NULL) ||
      json_is_true(json_object_get(json_object_get(op->h->facts(op->s), "due"), "expired"))) {
    snprintf(why, len,
             "the current certificate %s expired on %s, and the CA denies a RenewalCert request "
             "signed with an expired certificate",
             op->old_thumb, when);
    return 1;
  }
  if (!win_bool(cert, "has_private_key")) {
    snprintf(why, len,
             "the current certificate %s has no private key, so certreq cannot sign a "
             "RenewalCert request with it",
             op->old_thumb);
    return 1;
  }
  return 0;
}

/* The fresh request an operator has to run, as detail and one line. */
static json_t *operator_detail(adcs_op *op, char **text) {
  const json_t *sec = op->h->section(op->s, "certificate");
  const json_t *cert = win_live_cert(op->s, op->h);
  const json_t *tm = json_object_get(cert, "template");
  const char *tmpl = win_str(sec, "template");
  if (!tmpl)
    tmpl = win_str(sec, "template_oid");
  if (!tmpl)
    tmpl = win_str(tm, "name") ? win_str(tm, "name") : win_str(tm, "oid");
  json_t *fresh = adcs_user_template(tmpl)
                     ? adcs_ra_procedure(win_str(cert, "subject"), op->config[0] ? op->config : NULL)
                     : adcs_fresh_request(tmpl, win_str(cert, "subject"),
                                          op->config[0] ? op->config : NULL);
  *text = adcs_fresh_request_text(fresh);
  return fresh;
}

static void finish_operator(adcs_op *op, int status, const char *why) {
  char *text = NULL;
  json_t *fresh = operator_detail(op, &text);
  json_t *res = rd_result_new();
  json_object_set_new(res, "detail", json_pack("{s:s, s:o}", "mode", "operator", "fresh_request", fresh));
  op->h->donef(op->s, status, res,
             "needs an operator: %s. On %s: %s; then run renewd again",
             why, op->h->host(op->s), text ? text : "(out of memory)");
  free(text);
}

/* --- certificate helpers ---------------------------------------------------- */

/* DER (base64) certificates -> one PEM text. Caller frees; NULL if none. */
static char *chain_pem(const rd_host_api *h, const json_t *chain) {
  BIO *b = BIO_new(BIO_s_mem());
  const json_t *v;
  size_t i, n = 0;
  char *pem = NULL, *data;
  long len;
  if (!b)
    return NULL;
  json_array_foreach(chain, i, v) {
    size_t dl = 0;
    unsigned char *der = NULL;
    if (!json_is_string(v) || h->b64_decode(json_string_value(v), &der, &dl) < 0)
      continue;
    const unsigned char *p = der;
    X509 *x = der ? d2i_X509(NULL, &p, (long)dl) : NULL;
    if (x && PEM_write_bio_X509(b, x) == 1)
      n++;
    X509_free(x);
    free(der);
  }
  if (n && (len = BIO_get_mem_data(b, &data)) > 0 && (pem = malloc((size_t)len + 1))) {
    memcpy(pem, data, (size_t)len);
    pem[len] = 0;
  }
  BIO_free(b);
  return pem;
}

static void set_ca_pem(adcs_op *op, const json_t *chain) {
  char *pem = chain_pem(op->h, chain);
  if (pem)
    json_object_set_new(op->h->facts(op->s), "ca_pem", json_string(pem));
  free(pem);
}

/* --- probe ------------------------------------------------------------------ */

static void probe_done(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  if (!op)
    return;
  json_t *res, *configs = NULL;
  char cfg[1200], what[1400];
  if (!win_bool(out, "certreq")) {
    h->donef(s, RD_ENOTFOUND, NULL, "certreq.exe is not on the target (it ships with Windows "
                                         "Server: is this a Windows host?)");
    return;
  }
  if (strcmp(win_out(out, "scheduler"), "Running")) {
    h->donef(s, RD_ESTATE, NULL,
               "the Task Scheduler service (Schedule) is %s: renewd submits to the CA from a "
               "scheduled task running as SYSTEM",
               *win_out(out, "scheduler") ? win_out(out, "scheduler") : "missing");
    return;
  }
  if (!win_bool(out, "found") || !win_bool(out, "has_key")) {
    h->donef(s, RD_ESTATE, NULL, "%s: certificate %s %s", op->store, op->old_thumb,
               win_bool(out, "found") ? "has no private key" : "is no longer in the store");
    return;
  }
  set_ca_pem(op, json_object_get(out, "chain"));
  if (op->config[0]) {
    snprintf(cfg, sizeof cfg, "%s", op->config);
  } else {
    adcs_found f;
    adcs_discover(out, win_str(out, "dump"), &f);
    configs = f.configs;
    if (f.n == 1)
      snprintf(cfg, sizeof cfg, "%s (found in %s)", f.config, f.source);
    else if (f.n > 1)
      snprintf(cfg, sizeof cfg, "(%zu CAs in %s: set issuer.config)", f.n, f.source);
    else
      snprintf(cfg, sizeof cfg, "(to be found in AD as SYSTEM)");
  }
  res = rd_result_new();
  snprintf(what, sizeof what, "RenewalCert request for %s to %s, submitted as SYSTEM",
           op->old_thumb, cfg);
  rd_result_change(res, "request", NULL, what);
  rd_result_change(res, "key", "current key", "new key pair from certreq -new (machine key set)");
  snprintf(what, sizeof what, "thumbprint %s", op->old_thumb);
  rd_result_change(res, "certificate", what, "(new certificate from the CA)");
  json_object_set_new(res, "detail",
                      json_pack("{s:s, s:s, s:o}", "mode", "renewal", "ca", cfg, "configs",
                                configs ? configs : json_array()));
  if (json_array_size(configs) > 1)
    h->donef(s, RD_ECONFIG, res, "%s: set issuer.config to one of the CAs found: %s", op->store,
             cfg);
  else
    h->donef(s, 0, res, "would renew %s with a RenewalCert request to %s", op->old_thumb, cfg);
}

/* --- apply: the stages -------------------------------------------------------- */

static void run_task(adcs_op *op, const char *action, int fresh, win_ok_fn ok);
static void run_new(adcs_op *op);
static void run_accept(adcs_op *op);
static void task_submitted(rd_step *s, const rd_host_api *h, const json_t *out);

static json_t *base_args(const adcs_op *op) {
  return json_pack("{s:s, s:s}", "nonce", win_out(op->rec, "nonce"), "store", op->store);
}

static void run_task(adcs_op *op, const char *action, int fresh, win_ok_fn ok) {
  json_t *a = base_args(op);
  json_object_set_new(a, "action", json_string(action));
  json_object_set_new(a, "config", json_string(op->config));
  json_object_set_new(a, "request_id", json_string(win_out(op->rec, "request_id")));
  json_object_set_new(a, "wait", json_integer(TASK_WAIT_S));
  json_object_set_new(a, "fresh", json_boolean(fresh));
  win_next(op->s, op->h, &adcs_task_script, a, ok);
}

/* The task ran (or did not): 0 when its output is there to parse. A
 * submission or retrieval that outlived the wait may have reached the CA:
 * the job waits in PENDING_CA (keeping its journal) and the next run reads
 * the task's result file instead of sending anything again. */
static int task_failed(adcs_op *op, const json_t *out, const char *what) {
  char line[600];
  const char *st = win_out(out, "state");
  if (!strcmp(st, "timeout") && strcmp(what, "CA discovery")) {
    op->h->set_state(op->s, "PENDING_CA");
    op->h->donef(op->s, RD_EPENDING, NULL,
               "%s: the SYSTEM task did not finish within %d s (last result %lld); the request "
               "may have reached CA %s, so the next run reads the task's result and never "
               "submits twice",
               what, TASK_WAIT_S, win_int(out, "task_result", 0), op->config);
    return 1;
  }
  if (!strcmp(st, "timeout")) {
    op->h->donef(op->s, RD_ETIMEDOUT, NULL, "%s: the SYSTEM task did not finish within %d s",
               what, TASK_WAIT_S);
    return 1;
  }
  if (strcmp(st, "done")) {
    op->h->donef(op->s, RD_ESTATE, NULL, "%s: unexpected task state '%s'", what, st);
    return 1;
  }
  if (*win_out(out, "error")) {
    win_line(win_out(out, "error"), line, sizeof line, 400);
    op->h->donef(op->s, RD_EREMOTE, NULL, "%s: the SYSTEM task failed: %s", what, line);
    return 1;
  }
  return 0;
}

/* facts.new_cert from a store entry (rdw_certinfo) that has its key. */
static void set_new_cert(adcs_op *op, const json_t *c, const json_t *chain) {
  rd_step *s = op->s;
  const rd_host_api *h = op->h;
  json_t *recs, *nf, *arr;
  char serial[128];
  arr = json_pack("{s:[O]}", "certs", (json_t *)c);
  recs = win_store_records(h, arr, NULL);
  json_decref(arr);
  if (json_array_size(recs) != 1) {
    json_decref(recs);
    h->donef(s, RD_EPROTO, NULL, "the installed certificate cannot be parsed");
    return;
  }
  nf = json_incref(json_array_get(recs, 0));
  json_decref(recs);
  json_object_set_new(nf, "store", json_string(op->store));
  json_object_set_new(nf, "key_match", json_boolean(win_bool(nf, "key_exists") || !win_str(nf, "key_path")));
  json_object_set_new(h->facts(s), "new_cert", nf);
  if (json_array_size(chain))
    set_ca_pem(op, chain);
  json_object_set_new(op->rec, "thumbprint", json_string(win_out(nf, "thumbprint")));
  if (rec_save(op, "issued") < 0)
    return;
  snprintf(serial, sizeof serial, "%s", win_out(nf, "serial"));
  {
    json_t *res = rd_result_new();
    char old[80];
    snprintf(old, sizeof old, "thumbprint %s", win_out(op->rec, "old_thumbprint"));
    rd_result_change(res, "certificate", old, win_out(nf, "thumbprint"));
    json_object_set_new(res, "detail",
                        json_pack("{s:s, s:s, s:s, s:s}", "ca", op->config, "request_id",
                                  win_out(op->rec, "request_id"), "thumbprint",
                                  win_out(nf, "thumbprint"), "serial", serial));
    h->donef(s, 0, res, "issued %s (serial %s) by %s, request %s", win_out(nf, "thumbprint"),
               serial, op->config, *win_out(op->rec, "request_id") ? win_out(op->rec, "request_id") : "?");
  }
}

static void accepted(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  if (!op)
    return;
  const json_t *c = json_object_get(out, "cert");
  char line[600];
  if (!win_bool(out, "found") || !win_bool(c, "has_key")) {
    win_line(win_out(out, "text"), line, sizeof line, 400);
    h->donef(s, RD_EREMOTE, NULL,
               "certreq -accept -machine: certificate %s is %s in %s (exit %lld: %s)",
               win_out(out, "thumbprint"),
               win_bool(out, "found") ? "without its private key" : "not", op->store,
               win_int(out, "exit", -1), *line ? line : "no output");
    return;
  }
  set_new_cert(op, c, json_object_get(out, "chain"));
}

/* Resumed after -accept: the certificate is looked up in the store (the
 * work directory with the .cer is gone by then). */
static void issued_listed(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  if (!op)
    return;
  const json_t *c = json_array_get(json_object_get(out, "certs"), 0);
  if (!c || !win_bool(c, "has_key")) {
    h->donef(s, RD_ESTATE, NULL, "%s: the issued certificate %s is %s", op->store,
               win_out(op->rec, "thumbprint"), c ? "there without its private key" : "gone");
    return;
  }
  set_new_cert(op, c, NULL);
}

static void run_accept(adcs_op *op) {
  win_next(op->s, op->h, &adcs_accept_script, base_args(op), accepted);
}

/* The CA's answer to -submit or -retrieve. */
static void ca_answered(adcs_op *op, const json_t *out, int retrieve) {
  adcs_outcome o;
  char rid[32] = "";
  const char *what = retrieve ? "certreq -retrieve" : "certreq -submit";
  char line[1400];
  adcs_decide((int)win_int(out, "exit", -1), *win_out(out, "cer") != 0, win_out(out, "text"), &o);
  if (o.request_id >= 0) {
    snprintf(rid, sizeof rid, "%lld", o.request_id);
    json_object_set_new(op->rec, "request_id", json_string(rid));
  }
  if (!rid[0] && *win_out(op->rec, "request_id"))
    snprintf(rid, sizeof rid, "%s", win_out(op->rec, "request_id"));
  switch (o.status) {
  case ADCS_ISSUED:
    if (!*win_out(out, "cer")) {
      op->h->donef(op->s, RD_EPROTO, NULL, "%s: CA %s issued request %s but no certificate "
                                                "file was written", what, op->config, rid);
      return;
    }
    if (rec_save(op, "accepting") < 0)
      return;
    run_accept(op);
    return;
  case ADCS_PENDING:
    if (!rid[0]) {
      rec_put(op, "pending");
      finish_operator(op, RD_EOPERATOR, "the CA took the request under submission but certreq "
                                        "printed no RequestId to retrieve it by");
      return;
    }
    if (rec_save(op, "pending") < 0)
      return;
    op->h->set_state(op->s, "PENDING_CA");
    {
      json_t *res = rd_result_new();
      json_object_set_new(res, "detail", json_pack("{s:s, s:s, s:s}", "ca", op->config,
                                                   "request_id", rid, "disposition", o.message));
      op->h->donef(op->s, RD_EPENDING, res,
                 "CA %s: request %s is pending (%s); a later run retrieves it with certreq "
                 "-retrieve (never resubmits)",
                 op->config, rid, o.message[0] ? o.message : "Taken Under Submission");
    }
    return;
  case ADCS_DENIED:
    json_object_set_new(op->rec, "disposition", json_string(o.message));
    rec_put(op, "denied");
    if (o.expired_basis) {
      char why[2048];
      snprintf(why, sizeof why, "CA %s denied request %s because the RenewalCert basis %s is "
               "expired (%s)", op->config, rid[0] ? rid : "?", win_out(op->rec, "old_thumbprint"),
               o.message);
      finish_operator(op, RD_EOPERATOR, why);
      return;
    }
    {
      json_t *res = rd_result_new();
      json_object_set_new(res, "detail", json_pack("{s:s, s:s, s:s, s:s}", "ca", op->config,
                                                   "request_id", rid, "disposition", o.message,
                                                   "hresult", o.hresult));
      adcs_outcome_line(&o, "(no reason given)", line, sizeof line);
      op->h->donef(op->s, RD_EDENIED, res, "CA %s denied request %s: %s", op->config,
                 rid[0] ? rid : "?", line);
    }
    return;
  default:
    /* the request did not reach a disposition: it may be sent again */
    if (!retrieve && rec_save(op, "requested") < 0)
      return;
    adcs_outcome_line(&o, "no output", line, sizeof line);
    op->h->donef(op->s, RD_EREMOTE, NULL, "%s to %s failed (exit %lld): %s", what, op->config,
               win_int(out, "exit", -1), line);
  }
}

static void task_submitted(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  if (!op)
    return;
  if (!strcmp(win_out(out, "state"), "unknown")) {
    char why[2048];
    snprintf(why, sizeof why,
             "the submission to CA %s started but left no result, so it may or may not have "
             "reached the CA (check its pending and issued requests from %s: if one was issued, "
             "run certreq -retrieve -config \"%s\" <RequestId> renewal.cer and certreq -accept "
             "-machine -q renewal.cer)",
             op->config, h->host(s), op->config);
    finish_operator(op, RD_EOPERATOR, why);
    return;
  }
  if (task_failed(op, out, "certreq -submit"))
    return;
  ca_answered(op, out, 0);
}

static void task_retrieved(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  if (!op)
    return;
  if (task_failed(op, out, "certreq -retrieve"))
    return;
  ca_answered(op, out, 1);
}

static void submit(adcs_op *op, int fresh) {
  op->h->set_state(op->s, "REQUESTED");
  if (rec_save(op, "submitted") < 0)
    return;
  run_task(op, "submit", fresh, task_submitted);
}

static void new_done(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  if (!op)
    return;
  char msg[600];
  json_t *prev = json_object_get(op->rec, "request_thumbprints"), *all = json_array();
  size_t i;
  const json_t *v;
  /* every REQUEST-store entry any attempt made, for the rollback */
  if (json_is_array(prev))
    json_array_extend(all, prev);
  json_array_foreach(json_object_get(out, "request_thumbprints"), i, v) {
    json_array_append(all, (json_t *)v);
  }
  json_object_set_new(op->rec, "request_thumbprints", all);
  if (adcs_parse_new((int)win_int(out, "exit", -1), win_bool(out, "req"), win_out(out, "text"), msg,
                     sizeof msg)) {
    rec_put(op, "new");
    h->donef(s, RD_EREMOTE, NULL, "certreq -new (RenewalCert %s): %s", op->old_thumb, msg);
    return;
  }
  if (rec_save(op, "requested") < 0)
    return;
  h->set_state(s, "KEY_READY");
  submit(op, 1);
}

static void run_new(adcs_op *op) {
  json_t *a = base_args(op);
  json_object_set_new(a, "thumbprint", json_string(win_out(op->rec, "old_thumbprint")));
  win_next(op->s, op->h, &adcs_new_script, a, new_done);
}

static void discovered(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  adcs_found f;
  if (!op || task_failed(op, out, "CA discovery"))
    return;
  adcs_discover(out, win_out(out, "text"), &f);
  if (f.n != 1) {
    char *list = json_dumps(f.configs, JSON_COMPACT);
    h->donef(s, RD_ECONFIG, NULL,
             "issuer.config is not set and %s (as SYSTEM) lists %zu CAs%s%s: set issuer.config "
             "to \"<CA host>\\\\<CA name>\"",
             f.n ? f.source : "CA discovery (NDES's MSCEP\\CAInfo, AD, certutil -dump)", f.n,
             f.n ? " " : "", f.n && list ? list : "");
    free(list);
    json_decref(f.configs);
    return;
  }
  json_decref(f.configs);
  snprintf(op->config, sizeof op->config, "%s", f.config);
  if (!config_ok(op->config)) {
    h->donef(s, RD_ECONFIG, NULL, "%s named CA \"%s\", which renewd cannot pass to certreq "
             "-config: set issuer.config", f.source, op->config);
    return;
  }
  json_object_set_new(op->rec, "config", json_string(op->config));
  json_object_set_new(op->rec, "config_source", json_string(f.source));
  if (rec_save(op, NULL) < 0)
    return;
  run_new(op);
}

/* A job resumed from the journal: continue where it stopped. */
static void resume(adcs_op *op) {
  const char *st = rec_state(op);
  if (!strcmp(st, "new")) {
    if (!op->config[0])
      run_task(op, "dump", 1, discovered);
    else
      run_new(op);
  } else if (!strcmp(st, "requested")) {
    submit(op, 1);
  } else if (!strcmp(st, "submitted")) {
    submit(op, 0);
  } else if (!strcmp(st, "pending")) {
    run_task(op, "retrieve", 1, task_retrieved);
  } else if (!strcmp(st, "accepting")) {
    run_accept(op);
  } else if (!strcmp(st, "issued") && win_is_hex(win_str(op->rec, "thumbprint"), 40)) {
    const char *t[1] = {win_str(op->rec, "thumbprint")};
    win_next(op->s, op->h, &win_store_list_script, win_store_args(op->store, t, 1), issued_listed);
  } else if (!strcmp(st, "denied")) {
    op->h->donef(op->s, RD_EDENIED, NULL, "CA %s denied request %s: %s", op->config,
               win_out(op->rec, "request_id"), win_out(op->rec, "disposition"));
  } else {
    op->h->donef(op->s, RD_ESTATE, NULL, "the journaled request is in an unknown state '%s'", st);
  }
}

/* --- entry points ------------------------------------------------------------- */

static adcs_op *op_new(rd_step *s, const rd_host_api *h) {
  adcs_op *op = calloc(1, sizeof *op);
  win_selector sel;
  char err[512];
  const char *cfg;
  if (!op)
    return NULL;
  op->s = s;
  op->h = h;
  h->set_data(s, op, op_free);
  if (win_selector_get(s, h, &sel, err, sizeof err) < 0) {
    h->donef(s, RD_ECONFIG, NULL, "%s", err);
    return NULL;
  }
  snprintf(op->store, sizeof op->store, "%s", sel.store);
  if (strcasecmp(op->store, WIN_DEFAULT_STORE)) {
    h->donef(s, RD_ECONFIG, NULL,
               "certreq -accept -machine installs into LocalMachine\\My, but certificate.store is "
               "\"%s\"",
               op->store);
    return NULL;
  }
  cfg = win_str(h->section(s, "issuer"), "config");
  if (cfg && !config_ok(cfg)) {
    h->donef(s, RD_ECONFIG, NULL,
               "issuer.config \"%s\" is not \"<CA host>\\\\<CA name>\" (no quotes or line breaks)",
               cfg);
    return NULL;
  }
  op->rec = h->journal_get(s, JKEY);
  if (op->rec && win_str(op->rec, "config"))
    cfg = win_str(op->rec, "config");
  snprintf(op->config, sizeof op->config, "%s", cfg ? cfg : "");
  return op;
}

static int adcs_probe(rd_step *s, const rd_host_api *h) {
  adcs_op *op = op_new(s, h);
  char why[900];
  json_t *res;
  if (!op)
    return 0;
  if (op->rec && !strcmp(rec_state(op), "pending")) {
    char what[700];
    res = rd_result_new();
    snprintf(what, sizeof what, "pending request %s at %s", win_out(op->rec, "request_id"), op->config);
    rd_result_change(res, "request", what, "certreq -retrieve (never resubmitted)");
    h->donef(s, 0, res, "would retrieve pending request %s from %s",
               win_out(op->rec, "request_id"), op->config);
    return 0;
  }
  if (basis_problem(op, why, sizeof why)) {
    char *text = NULL;
    json_t *fresh = operator_detail(op, &text);
    res = rd_result_new();
    rd_result_change(res, "certificate", op->old_thumb[0] ? op->old_thumb : "(none)",
               "(a fresh request run by an operator)");
    json_object_set_new(res, "detail", json_pack("{s:s, s:o}", "mode", "operator", "fresh_request", fresh));
    h->donef(s, 0, res, "needs an operator: %s; %s", why, text ? text : "");
    free(text);
    return 0;
  }
  return win_run(s, h, &adcs_probe_script,
                 json_pack("{s:s, s:s, s:b}", "store", op->store, "thumbprint", op->old_thumb,
                           "discover", !op->config[0]),
                 probe_done);
}

static int adcs_apply(rd_step *s, const rd_host_api *h) {
  adcs_op *op;
  char why[900], nonce[17];
  unsigned char r[8];
  if (h->whatif(s))
    return RD_EWHATIF;
  if (!(op = op_new(s, h)))
    return 0;
  if (op->rec && *rec_state(op) && strcmp(rec_state(op), "cleaned")) {
    snprintf(op->old_thumb, sizeof op->old_thumb, "%s", win_out(op->rec, "old_thumbprint"));
    resume(op);
    return 0;
  }
  if (basis_problem(op, why, sizeof why)) {
    finish_operator(op, RD_EOPERATOR, why);
    return 0;
  }
  if (RAND_bytes(r, sizeof r) != 1) {
    h->donef(s, RD_ECRYPTO, NULL, "no random bytes for the work directory name");
    return 0;
  }
  for (size_t i = 0; i < sizeof r; i++)
    snprintf(nonce + 2 * i, 3, "%02x", r[i]);
  json_decref(op->rec);
  op->rec = json_pack("{s:s, s:s, s:s, s:s, s:[]}", "state", "new", "nonce", nonce,
                      "old_thumbprint", op->old_thumb, "config", op->config,
                      "request_thumbprints");
  if (rec_save(op, NULL) < 0)
    return 0;
  if (!op->config[0])
    run_task(op, "dump", 1, discovered);
  else
    run_new(op);
  return 0;
}

static void cleaned(rd_step *s, const rd_host_api *h, const json_t *out) {
  adcs_op *op = live_op(s, h);
  if (!op)
    return;
  size_t n = json_array_size(json_object_get(out, "removed"));
  if (rec_save(op, "cleaned") < 0)
    return;
  h->donef(s, 0, NULL, "removed %zu pending request key%s%s", n, n == 1 ? "" : "s",
             win_bool(out, "dir_removed") ? " and the work directory" : "");
}

static int adcs_rollback(rd_step *s, const rd_host_api *h) {
  adcs_op *op = op_new(s, h);
  const char *st;
  json_t *a;
  if (!op)
    return 0;
  st = rec_state(op);
  if (!op->rec || !*st || !strcmp(st, "cleaned")) {
    h->donef(s, 0, NULL, "no request was made, nothing to clean up");
    return 0;
  }
  if (!strcmp(st, "submitted") || !strcmp(st, "pending")) {
    h->donef(s, 0, NULL,
               "request %s may still be at CA %s: its key stays in the REQUEST store so that "
               "it can be accepted",
               *win_out(op->rec, "request_id") ? win_out(op->rec, "request_id") : "(unknown id)",
               op->config);
    return 0;
  }
  a = json_pack("{s:s, s:[]}", "nonce", win_out(op->rec, "nonce"), "request_thumbprints");
  /* after -accept the REQUEST entry is gone; only the directory is left */
  if (strcmp(st, "accepting") && strcmp(st, "issued") &&
      json_is_array(json_object_get(op->rec, "request_thumbprints")))
    json_array_extend(json_object_get(a, "request_thumbprints"),
                      json_object_get(op->rec, "request_thumbprints"));
  return win_run(s, h, &adcs_cleanup_script, a, cleaned);
}

const rd_step_kind adcs_kind_issue = {
    .type = TYPE,
    .summary = "renew from an AD CS CA with certreq: RenewalCert INF, submit as SYSTEM, accept",
    .platform = RD_PLATFORM_WINDOWS,
    .flags = RD_KIND_ISSUER,
    .validate = adcs_validate,
    .probe = adcs_probe,
    .apply = adcs_apply,
    .verify = NULL,
    .rollback = adcs_rollback,
    .cancel = adcs_cancel,
};
