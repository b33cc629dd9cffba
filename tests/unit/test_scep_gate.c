/* test_scep_gate.c — scep.issue's per-CA gate (one PKIOperation at a time)
 * and its cancel hook, with a host API that holds HTTP requests until the
 * test answers them: a step the engine abandons (timeout) must not act
 * later. A request still queued behind its CA is never sent, a place it
 * held goes to the next request, an answer that arrives after the cancel
 * completes nothing and journals nothing, and freeing a queued step's data
 * leaves nothing behind in the gate (ASan: no use after free). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

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
} sent;

static sent SENT[8];
static int nsent, ndone, nput, nstate;
static json_t *ISSUER;

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
  return 0;
}
static json_t *h_journal_get(rd_step *s, const char *key) { return NULL; }
static int h_set_state(rd_step *s, const char *state) {
  nstate++;
  return 0;
}
static int h_http(rd_step *s, const rd_http_request *req, rd_http_cb cb, void *arg) {
  ck_assert_int_lt(nsent, 8);
  ck_assert_str_eq(req->method, "POST");
  SENT[nsent++] = (sent){s, cb, arg};
  return 0;
}
static void h_done(rd_step *s, int status, json_t *result, const char *msg) {
  ndone++;
  json_decref(result);
}
static void h_donef(rd_step *s, int status, json_t *result, const char *fmt, ...) {
  ndone++;
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
  nsent = ndone = nput = nstate = 0;
  ISSUER = json_object(); /* max_in_flight: 1 */
}

/* The engine drops each step's data at the end of its job. */
static void teardown(void) {
  for (int i = 0; i < 3; i++)
    API.set_data(&STEPS[i], NULL, NULL);
  json_decref(ISSUER);
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

int main(void) {
  Suite *s = suite_create("scep_gate");
  TCase *t = tcase_create("gate");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, one_at_a_time);
  tcase_add_test(t, canceled_while_queued_is_never_sent);
  tcase_add_test(t, canceled_in_flight_gives_its_place_back);
  tcase_add_test(t, late_answer_after_cancel_does_nothing);
  tcase_add_test(t, freed_while_queued_leaves_the_gate);
  suite_add_tcase(s, t);
  return tu_run(s);
}
