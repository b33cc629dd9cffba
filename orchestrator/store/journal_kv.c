/* journal_kv.c — durable per-job key/values, e.g. a CA transaction id
 * (journal.h). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/journal_int.h"

int jn_put_kv(rd_journal *j, int64_t id, const char *key, const json_t *value, time_t now) {
  int rc;
  jn_q *s;
  char *text = NULL;
  if (!key || !*key)
    return jn_fail(j, RD_EINVAL, "job %lld: kv key missing", (long long)id);
  if (!value || json_is_null(value)) {
    if (!(s = jn_stmt(j, S_KV_DEL, &rc)))
      return jn_dberr(j, rc, "kv delete");
    jn_bind_int(s, 1, id);
    jn_bind_text(s, 2, key);
  } else {
    if (!(text = jn_json_text(value)))
      return jn_fail(j, RD_ENOMEM, "job %lld: kv %s: cannot encode value", (long long)id, key);
    if (!(s = jn_stmt(j, S_KV_PUT, &rc))) {
      free(text);
      return jn_dberr(j, rc, "kv put");
    }
    jn_bind_int(s, 1, id);
    jn_bind_text(s, 2, key);
    jn_bind_text(s, 3, text);
    jn_bind_int(s, 4, now);
  }
  rc = jn_step(j, s, "kv put");
  free(text);
  return rc;
}

int rd_journal_kv_put_fenced(rd_journal *j, int64_t job_id, const char *key,
                             const json_t *value, const rd_lease_fence *fence) {
  rd_job_state st;
  int err;
  if (!j)
    return RD_EINVAL;
  if ((err = jn_tx_begin_job(j, job_id, "kv put", &st)) < 0)
    return err;
  if (fence && (err = jn_lease_fenced(j, fence)) < 0)
    return jn_tx_end(j, err);
  return jn_tx_end(j, jn_put_kv(j, job_id, key, value, time(NULL)));
}

int rd_journal_kv_put(rd_journal *j, int64_t job_id, const char *key, const json_t *value) {
  return rd_journal_kv_put_fenced(j, job_id, key, value, NULL);
}

int rd_journal_kv_get(rd_journal *j, int64_t job_id, const char *key, json_t **out) {
  int rc, err = 0;
  jn_q *s;
  if (!j || !key || !out)
    return RD_EINVAL;
  *out = NULL;
  if (!(s = jn_stmt(j, S_KV_GET, &rc)))
    return jn_dberr(j, rc, "kv get");
  jn_bind_int(s, 1, job_id);
  jn_bind_text(s, 2, key);
  rc = jn_next(j, s);
  if (rc == JN_ROW) {
    json_error_t jerr;
    const char *text = jn_col_text(s, 0);
    if (!(*out = json_loads(text ? text : "", JSON_DECODE_ANY, &jerr)))
      err = jn_fail(j, RD_EPROTO, "job %lld: kv %s: not JSON: %s", (long long)job_id, key,
                 jerr.text);
  } else if (rc == JN_DONE) {
    err = jn_fail(j, RD_ENOTFOUND, "job %lld: kv %s: not found", (long long)job_id, key);
  } else {
    err = jn_dberr(j, rc, "kv get");
  }
  jn_done(s);
  return err;
}

