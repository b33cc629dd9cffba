/* test_scep_gate.c — scep.issue's per-CA gate (one PKIOperation at a time)
 * and its cancel hook, with a host API that holds HTTP requests until the
 * test answers them: a step the engine abandons (timeout) must not act
 * later. A request still queued behind its CA is never sent, a place it
 * held goes to the next request, an answer that arrives after the cancel
 * completes nothing and journals nothing, and freeing a queued step's data
 * leaves nothing behind in the gate (ASan: no use after free).
 * The lost reply: a resumed request that was sent but never answered, whose
 * CertPoll the CA cannot answer, is sent again byte for byte from the
 * journal (and the journal says the CA may hold an orphan); an unreachable
 * CA, or a request the CA had answered PENDING, is never resent. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/util.h"
#include "renewd/plugin.h"
#include "scep_op.h"
#include "testutil.h"

struct rd_step {
  int id;
  void *data;
  void (*free_fn)(void *);
};

typedef struct sent {
  rd_step *s;
  rd_http_cb cb;
  void *arg;
  char body[64]; /* what was POSTed (short test bodies) */
} sent;

static sent SENT[8];
static int nsent, ndone, nput, nstate, last_status;
static json_t *ISSUER, *JREC; /* JREC: the journal's "scep.request" */

static const json_t *h_section(rd_step *s, const char *name) {
  return !strcmp(name, "issuer") ? ISSUER : NULL;
}
static int h_whatif(rd_step *s) { return 0; }
static void h_set_data(rd_step *s, void *data, void (*free_fn)(void *)) {
  if (s->data && s->free_fn)
    s->free_fn(s->data);
  s->data = data;
  s->free_fn = free_fn;
}
static void *h_data(rd_step *s) { return s->data; }
static int h_journal_put(rd_step *s, const char *key, const json_t *value) {
  nput++;
  if (!strcmp(key, "scep.request")) {
    json_decref(JREC);
    JREC = json_deep_copy(value);
  }
  return 0;
}
static json_t *h_journal_get(rd_step *s, const char *key) {
  return JREC && !strcmp(key, "scep.request") ? json_deep_copy(JREC) : NULL;
}
static void h_log(rd_step *s, rd_log_level level, const char *fmt, ...) {}
static int h_set_state(rd_step *s, const char *state) {
  nstate++;
  return 0;
}
static int h_http(rd_step *s, const rd_http_request *req, rd_http_cb cb, void *arg) {
  ck_assert_int_lt(nsent, 8);
  ck_assert_str_eq(req->method, "POST");
  SENT[nsent] = (sent){s, cb, arg, ""};
  snprintf(SENT[nsent++].body, sizeof SENT[0].body, "%.*s", (int)req->body_len,
           (const char *)req->body);
  return 0;
}
static void h_done(rd_step *s, int status, json_t *result, const char *msg) {
  ndone++;
  last_status = status;
  json_decref(result);
}
static void h_donef(rd_step *s, int status, json_t *result, const char *fmt, ...) {
  ndone++;
  last_status = status;
  json_decref(result);
}
static const char *h_strerror(int err) { return "error"; }

static const rd_host_api API = {
    .size = sizeof(rd_host_api),
    .abi = RD_PLUGIN_ABI,
    .whatif = h_whatif,
    .section = h_section,
    .set_data = h_set_data,
    .data = h_data,
    .journal_put = h_journal_put,
    .journal_get = h_journal_get,
    .set_state = h_set_state,
    .log = h_log,
    .b64_encode = rd_base64_encode_str,
    .b64_decode = rd_base64_decode_str,
    .http = h_http,
    .done = h_done,
    .donef = h_donef,
    .strerror = h_strerror,
};

static rd_step STEPS[3];

/* A request to ca.example ready to go, as post_request leaves it. */
static scep_op *op_new(int i) {
  scep_op *op = calloc(1, sizeof *op);
  ck_assert_ptr_nonnull(op);
  STEPS[i].id = i;
  op->s = &STEPS[i];
  op->h = &API;
  op->caps = SCEP_CAP_POSTPKIOPERATION;
  snprintf(op->url, sizeof op->url, "http://ca.example/scep");
  op->der = OPENSSL_memdup("msg", 3);
  op->der_len = 3;
  API.set_data(op->s, op, scep_op_free); /* as begin() does */
  return op;
}

static void setup(void) {
  memset(SENT, 0, sizeof SENT);
  memset(STEPS, 0, sizeof STEPS);
  nsent = ndone = nput = nstate = last_status = 0;
  ISSUER = json_object(); /* max_in_flight: 1 */
  JREC = NULL;
}

/* The engine drops each step's data at the end of its job. */
static void teardown(void) {
  for (int i = 0; i < 3; i++)
    API.set_data(&STEPS[i], NULL, NULL);
  json_decref(ISSUER);
  json_decref(JREC);
}

/* n requests to the same CA, in order: the first is sent, the rest wait. */
static void requests(int n) {
  for (int i = 0; i < n; i++)
    op_new(i);
  for (int i = 0; i < n; i++)
    scep_gate_enter(STEPS[i].data);
  ck_assert_int_eq(nsent, 1);
}

/* The CA's answer to request i (HTTP 500: the op finishes with an error). */
static void answer(int i) {
  rd_http_response r = {500, "text/plain", (const unsigned char *)"no", 2};
  SENT[i].cb(SENT[i].s, 0, &r, SENT[i].arg);
}

START_TEST(one_at_a_time) {
  requests(2);
  ck_assert_int_eq(nsent, 1); /* the second waits for the first */
  answer(0);
  ck_assert_int_eq(nsent, 2);
  ck_assert_ptr_eq(SENT[1].s, &STEPS[1]);
  ck_assert_int_eq(ndone, 1);
  answer(1);
  ck_assert_int_eq(ndone, 2);
}
END_TEST

START_TEST(canceled_while_queued_is_never_sent) {
  requests(3);
  scep_cancel(&STEPS[1], &API); /* the engine gave up on step 1 */
  answer(0);
  ck_assert_int_eq(nsent, 2);
  ck_assert_ptr_eq(SENT[1].s, &STEPS[2]); /* step 1 is skipped */
  answer(1);
  ck_assert_int_eq(nsent, 2);
  ck_assert_int_eq(ndone, 2); /* steps 0 and 2; nothing for step 1 */
}
END_TEST

START_TEST(canceled_in_flight_gives_its_place_back) {
  requests(2);
  scep_cancel(&STEPS[0], &API); /* its transfer is canceled: no answer comes */
  ck_assert_int_eq(nsent, 2);
  ck_assert_ptr_eq(SENT[1].s, &STEPS[1]);
  answer(1);
  ck_assert_int_eq(ndone, 1);
}
END_TEST

START_TEST(late_answer_after_cancel_does_nothing) {
  rd_http_response r = {200, SCEP_CT_PKI_MESSAGE, (const unsigned char *)"garbage", 7};
  requests(2);
  scep_cancel(&STEPS[0], &API);
  ck_assert_int_eq(nsent, 2);
  SENT[0].cb(SENT[0].s, 0, &r, SENT[0].arg); /* the answer comes anyway */
  ck_assert_int_eq(ndone, 0);
  ck_assert_int_eq(nput, 0);
  ck_assert_int_eq(nstate, 0);
  ck_assert_int_eq(nsent, 2); /* and frees no second place */
  answer(1);
  ck_assert_int_eq(ndone, 1);
}
END_TEST

START_TEST(freed_while_queued_leaves_the_gate) {
  requests(3);
  API.set_data(&STEPS[1], NULL, NULL); /* the host drops step 1's data */
  answer(0);
  ck_assert_int_eq(nsent, 2);
  ck_assert_ptr_eq(SENT[1].s, &STEPS[2]);
  API.set_data(&STEPS[2], NULL, NULL); /* freed while holding the place */
  op_new(1);
  scep_gate_enter(STEPS[1].data);
  ck_assert_int_eq(nsent, 3); /* the place came back */
}
END_TEST

/* --- the lost reply ---------------------------------------------------------- */

static const unsigned char NONCE[SCEP_NONCE_LEN] = "0123456789abcdef";

/* A resumed request: the journal holds it as "sent" (or "pending") with its
 * message; the op polls it (CertPoll "poll-msg"). with_copy: the journal
 * has the original message. */
static scep_op *resumed(const char *state, int with_copy) {
  scep_op *op = op_new(0);
  char *der = rd_base64_encode_str("the-original-request", 20);
  char *nonce = rd_base64_encode_str(NONCE, SCEP_NONCE_LEN);
  JREC = json_pack("{s:s, s:s, s:s, s:s}", "state", state, "txid", "TX1", "type", "RenewalReq",
                   "nonce", nonce);
  if (with_copy)
    json_object_set_new(JREC, "der", json_string(der));
  free(der);
  free(nonce);
  snprintf(op->txid, sizeof op->txid, "TX1");
  op->poll = 1;
  op->poll_unanswered = !strcmp(state, "sent");
  OPENSSL_free(op->der);
  op->der = OPENSSL_memdup("poll-msg", 8);
  op->der_len = 8;
  scep_gate_enter(op);
  ck_assert_int_eq(nsent, 1);
  ck_assert_str_eq(SENT[0].body, "poll-msg");
  return op;
}

static void answer_not_implemented(int i) {
  rd_http_response r = {500, "text/plain", (const unsigned char *)"not implemented\n", 16};
  SENT[i].cb(SENT[i].s, 0, &r, SENT[i].arg);
}

START_TEST(lost_reply_resends_the_identical_message) {
  scep_op *op = resumed("sent", 1);
  answer_not_implemented(0); /* scepserver has no CertPoll */
  ck_assert_int_eq(ndone, 0);
  ck_assert_int_eq(nsent, 2);
  ck_assert_str_eq(SENT[1].body, "the-original-request"); /* byte for byte */
  ck_assert_int_eq(memcmp(op->nonce, NONCE, SCEP_NONCE_LEN), 0); /* the reply is checked against it */
  ck_assert(op->resent);
  /* journaled before it left: a possible orphan, and why */
  ck_assert_int_eq(json_integer_value(json_object_get(JREC, "resent")), 1);
  ck_assert(json_is_true(json_object_get(JREC, "orphan_possible")));
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(JREC, "resend_why")), "HTTP 500"));
  ck_assert_str_eq(json_string_value(json_object_get(JREC, "state")), "sent");
  answer(1); /* the resend fails too: kept for the next run */
  ck_assert_int_eq(ndone, 1);
  ck_assert_int_eq(nsent, 2);
  ck_assert_str_eq(json_string_value(json_object_get(JREC, "der")),
                   "dGhlLW9yaWdpbmFsLXJlcXVlc3Q="); /* still there */
}
END_TEST

START_TEST(unreachable_ca_is_not_a_lost_reply) {
  resumed("sent", 1);
  SENT[0].cb(SENT[0].s, RD_ENETWORK, NULL, SENT[0].arg); /* connection refused */
  ck_assert_int_eq(nsent, 1);
  ck_assert_int_eq(ndone, 1);
  ck_assert_int_eq(last_status, RD_ENETWORK);
  ck_assert_ptr_null(json_object_get(JREC, "resent"));
}
END_TEST

START_TEST(pending_request_is_only_polled) {
  resumed("pending", 1); /* the CA answered it: it knows the transaction */
  answer_not_implemented(0);
  ck_assert_int_eq(nsent, 1);
  ck_assert_int_eq(ndone, 1);
  ck_assert_ptr_null(json_object_get(JREC, "resent"));
}
END_TEST

START_TEST(lost_reply_without_a_copy_is_not_rebuilt) {
  resumed("sent", 0); /* a journal from before the message was kept */
  answer_not_implemented(0);
  ck_assert_int_eq(nsent, 1);
  ck_assert_int_eq(ndone, 1);
  ck_assert_int_eq(last_status, RD_EPROTO);
  ck_assert_ptr_null(json_object_get(JREC, "resent"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("scep_gate");
  TCase *t = tcase_create("gate");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, one_at_a_time);
  tcase_add_test(t, canceled_while_queued_is_never_sent);
  tcase_add_test(t, canceled_in_flight_gives_its_place_back);
  tcase_add_test(t, late_answer_after_cancel_does_nothing);
  tcase_add_test(t, freed_while_queued_leaves_the_gate);
  tcase_add_test(t, lost_reply_resends_the_identical_message);
  tcase_add_test(t, unreachable_ca_is_not_a_lost_reply);
  tcase_add_test(t, pending_request_is_only_polled);
  tcase_add_test(t, lost_reply_without_a_copy_is_not_rebuilt);
  suite_add_tcase(s, t);
  return tu_run(s);
}
