/* scep_gate.c — scep.issue: one PKIOperation at a time per CA, and the
 * cancel hook. See scep_op.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "scep_csr.h"
#include "scep_msg.h"
#include "scep_op.h"
#include "scep_plugin.h"
#include "scep_scripts.h"

/* --- one request at a time per CA -------------------------------------------
 * scepserver 2.1.0 hands out duplicate serial numbers when it serves
 * requests in parallel (measured in the lab: 150 of 1000 certificates with 8
 * at a time, 10 of 60 with 2), and an NDES under load is no better off. So
 * PKIOperations to one CA go one at a time by default; the issuer's
 * "max_in_flight" raises that. Everything runs on the loop thread. */
typedef struct ca_gate {
  char url[1024];
  int inflight;
  scep_op *head, *tail;
} ca_gate;
static ca_gate gates[32];

static int gate_limit(scep_op *op) {
  json_int_t n =
      json_integer_value(json_object_get(op->h->section(op->s, "issuer"), "max_in_flight"));
  return n > 0 ? (int)n : 1;
}

static ca_gate *gate_for(const char *url) {
  ca_gate *free_slot = NULL;
  for (size_t i = 0; i < sizeof gates / sizeof *gates; i++) {
    if (gates[i].url[0] && !strcmp(gates[i].url, url))
      return &gates[i];
    if (!gates[i].url[0] && !free_slot)
      free_slot = &gates[i];
  }
  if (free_slot)
    snprintf(free_slot->url, sizeof free_slot->url, "%s", url);
  return free_slot; /* NULL: more CAs than slots, no gating */
}

void scep_gate_enter(scep_op *op) {
  ca_gate *g = gate_for(op->url);
  if (g && g->inflight >= gate_limit(op)) {
    op->next_wait = NULL;
    if (g->tail)
      g->tail->next_wait = op;
    else
      g->head = op;
    g->tail = op;
    return;
  }
  if (g) {
    g->inflight++;
    op->gated = 1;
  }
  scep_send_request(op);
}

void scep_gate_leave(scep_op *op) {
  ca_gate *g;
  if (!op->gated || !(g = gate_for(op->url)))
    return;
  op->gated = 0;
  g->inflight--;
  while (g->head && g->inflight < gate_limit(g->head)) {
    scep_op *next = g->head;
    g->head = next->next_wait;
    if (!g->head)
      g->tail = NULL;
    g->inflight++;
    next->gated = 1;
    scep_send_request(next);
  }
}

/* Takes op out of its CA's queue, if it waits there. */
static void gate_unqueue(scep_op *op) {
  ca_gate *g = gate_for(op->url);
  scep_op **pp, *prev = NULL;
  if (!g)
    return;
  for (pp = &g->head; *pp; prev = *pp, pp = &(*pp)->next_wait) {
    if (*pp != op)
      continue;
    *pp = op->next_wait;
    if (g->tail == op)
      g->tail = prev;
    op->next_wait = NULL;
    return;
  }
}

void scep_gate_drop(scep_op *op) {
  if (!op->url[0])
    return;
  gate_unqueue(op);
  scep_gate_leave(op);
}

/* The engine abandoned the step (a timeout): whatever answers later (a
 * script, the CA) finds op->canceled and stops there; a request still
 * queued behind its CA is never sent, and a place it held goes to the next
 * request. The journal keeps a request that may have reached the CA, so
 * the next run polls it instead of sending another. */
void scep_cancel(rd_step *s, const rd_host_api *h) {
  scep_op *op = h->data(s);
  if (!op)
    return;
  op->canceled = 1;
  scep_gate_drop(op);
}
