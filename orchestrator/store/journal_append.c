/* journal_append.c — rows that are only ever added: inventory snapshots, the
 * audit log (the schema refuses UPDATE and DELETE on it) and alerts already
 * sent (journal.h). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/journal_int.h"

/* One INSERT in its own transaction. */
static int insert1(rd_journal *j, int id, const char *what, const char *t1, const char *t2,
                   const char *t3) {
  int rc, err;
  sqlite3_stmt *s;
  sqlite3_int64 now = (sqlite3_int64)time(NULL);
  if ((err = jn_tx_begin(j, what)) < 0)
    return err;
  if (!(s = jn_stmt(j, id, &rc)))
    return jn_tx_end(j, jn_dberr(j, rc, what));
  switch (id) {
  case S_INV_INSERT: /* host, taken_at, facts */
    jn_bind_text(s, 1, t1);
    sqlite3_bind_int64(s, 2, now);
    jn_bind_text(s, 3, t2);
    break;
  case S_AUDIT_INSERT: /* at, actor, event, detail */
    sqlite3_bind_int64(s, 1, now);
    jn_bind_text(s, 2, t1);
    jn_bind_text(s, 3, t2);
    jn_bind_text(s, 4, t3);
    break;
  case S_ALERT_INSERT: /* key, at */
    jn_bind_text(s, 1, t1);
    sqlite3_bind_int64(s, 2, now);
    break;
  }
  if ((err = jn_step(j, s, what)) < 0)
    return jn_tx_end(j, err);
  int changed = sqlite3_changes(j->db);
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
  err = insert1(j, S_INV_INSERT, "inventory", host, text, NULL);
  free(text);
  return err < 0 ? err : 0;
}

int rd_journal_audit(rd_journal *j, const char *actor, const char *event,
                     const json_t *detail) {
  char *text = NULL;
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = jn_check_text(j, "audit actor", actor, 4096, 0)) < 0 ||
      (err = jn_check_text(j, "audit event", event, 4096, 0)) < 0)
    return err;
  if (detail && !(text = jn_json_text(detail)))
    return jn_fail(j, RD_ENOMEM, "audit %s: cannot encode detail", event);
  err = insert1(j, S_AUDIT_INSERT, "audit", actor, event, text);
  free(text);
  return err < 0 ? err : 0;
}

int rd_journal_alert_once(rd_journal *j, const char *key) {
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = jn_check_text(j, "alert key", key, 4096, 0)) < 0)
    return err;
  err = insert1(j, S_ALERT_INSERT, "alert", key, NULL, NULL);
  if (err < 0)
    return err;
  return err == 0 ? 1 : 0;
}
