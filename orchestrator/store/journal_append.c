/* journal_append.c — rows that are only ever added: inventory snapshots (and
 * the reader of each host's newest), the audit log (the schema refuses UPDATE
 * and DELETE on it; its reader by event) and alerts already sent (journal.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/journal_int.h"

/* One INSERT in its own transaction. */
static int insert1(rd_journal *j, int id, const char *what, const char *t1, const char *t2) {
  int rc, err;
  jn_q *s;
  int64_t now = time(NULL);
  if ((err = jn_tx_begin(j, what)) < 0)
    return err;
  if (!(s = jn_stmt(j, id, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, what));
  switch (id) {
  case S_INV_INSERT: /* host, taken_at, facts */
    jn_bind_text(s, 1, t1);
    jn_bind_int(s, 2, now);
    jn_bind_text(s, 3, t2);
    break;
  case S_ALERT_INSERT: /* key, at */
    jn_bind_text(s, 1, t1);
    jn_bind_int(s, 2, now);
    break;
  }
  if ((err = jn_step(j, s, what)) < 0)
    return jn_tx_end(j, err);
  int changed = jn_changes(j);
  if ((err = jn_tx_end(j, 0)) < 0)
    return err;
  return changed;
}

int rd_journal_inventory(rd_journal *j, const char *host, const json_t *facts) {
  char *text;
  int err;
  if (!j || !facts)
    return RD_EINVAL;
  if ((err = jn_check_text(j, "inventory host", host, 4096, 0)) < 0)
    return err;
  if (!(text = jn_json_text(facts)))
    return jn_fail(j, RD_ENOMEM, "inventory %s: cannot encode facts", host);
  err = insert1(j, S_INV_INSERT, "inventory", host, text);
  free(text);
  return err < 0 ? err : 0;
}

static int read_inventory(rd_journal *j, jn_q *s, void *row, int64_t ctx) {
  rd_inventory_row *r = row;
  const char *text = jn_col_text(s, 2);
  json_error_t jerr;
  (void)ctx;
  jn_copy_col(r->host, sizeof r->host, s, 0);
  r->taken_at = (time_t)jn_col_int(s, 1);
  if (!(r->facts = json_loads(text ? text : "", JSON_DECODE_ANY, &jerr)))
    return jn_fail(j, RD_EPROTO, "inventory %s: facts are not JSON: %s", r->host, jerr.text);
  return 0;
}

int rd_journal_inventory_latest(rd_journal *j, rd_inventory_visit fn, void *arg) {
  jn_rows r = {.size = sizeof(rd_inventory_row)};
  const rd_inventory_row *rows;
  int rc, err;
  jn_q *s;
  if (!j || !fn)
    return RD_EINVAL;
  if (!(s = jn_stmt(j, S_INV_LATEST, &rc)))
    return jn_dberr(j, rc, "inventory");
  err = jn_collect(j, s, "inventory", &r, read_inventory, 0);
  rows = r.rows;
  for (size_t i = 0; !err && i < r.n; i++)
    err = fn(&rows[i], arg);
  jn_rows_free(&r, offsetof(rd_inventory_row, facts));
  return err;
}

int jn_put_audit(rd_journal *j, const char *actor, const char *event, const json_t *detail,
                 time_t now) {
  char *text = NULL;
  int rc, err;
  jn_q *s;
  if ((err = jn_check_text(j, "audit actor", actor, 4096, 0)) < 0 ||
      (err = jn_check_text(j, "audit event", event, 4096, 0)) < 0)
    return err;
  if (detail && !(text = jn_json_text(detail)))
    return jn_fail(j, RD_ENOMEM, "audit %s: cannot encode detail", event);
  if (!(s = jn_stmt(j, S_AUDIT_INSERT, &rc))) {
    free(text);
    return jn_dberr(j, rc, "audit");
  }
  jn_bind_int(s, 1, now);
  jn_bind_text(s, 2, actor);
  jn_bind_text(s, 3, event);
  jn_bind_text(s, 4, text);
  err = jn_step(j, s, "audit");
  free(text);
  return err;
}

int rd_journal_audit(rd_journal *j, const char *actor, const char *event,
                     const json_t *detail) {
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = jn_tx_begin(j, "audit")) < 0)
    return err;
  return jn_tx_end(j, jn_put_audit(j, actor, event, detail, time(NULL)));
}

static int read_audit(rd_journal *j, jn_q *s, void *row, int64_t ctx) {
  rd_audit_row *r = row;
  const char *text = jn_col_text(s, 4);
  json_error_t jerr;
  (void)ctx;
  r->id = jn_col_int(s, 0);
  r->at = (time_t)jn_col_int(s, 1);
  jn_copy_col(r->actor, sizeof r->actor, s, 2);
  jn_copy_col(r->event, sizeof r->event, s, 3);
  if (text && !(r->detail = json_loads(text, JSON_DECODE_ANY, &jerr)))
    return jn_fail(j, RD_EPROTO, "audit row %lld: detail is not JSON: %s", (long long)r->id,
                   jerr.text);
  return 0;
}

int rd_journal_audit_list(rd_journal *j, const char *event, rd_audit_visit fn, void *arg) {
  jn_rows r = {.size = sizeof(rd_audit_row)};
  const rd_audit_row *rows;
  int rc, err;
  jn_q *s;
  if (!j || !fn)
    return RD_EINVAL;
  if ((err = jn_check_text(j, "audit event", event, 4096, 0)) < 0)
    return err;
  if (!(s = jn_stmt(j, S_AUDIT_LIST, &rc)))
    return jn_dberr(j, rc, "audit");
  jn_bind_text(s, 1, event);
  err = jn_collect(j, s, "audit", &r, read_audit, 0);
  rows = r.rows;
  for (size_t i = 0; !err && i < r.n; i++)
    err = fn(&rows[i], arg);
  jn_rows_free(&r, offsetof(rd_audit_row, detail));
  return err;
}

int rd_journal_alert_once(rd_journal *j, const char *key) {
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = jn_check_text(j, "alert key", key, 4096, 0)) < 0)
    return err;
  err = insert1(j, S_ALERT_INSERT, "alert", key, NULL);
  if (err < 0)
    return err;
  return err == 0 ? 1 : 0;
}
