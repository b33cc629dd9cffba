/* journal.c — opening a journal (journal.h, docs/JOURNAL.md): the target
 * picks the backend -- a postgresql:// or postgres:// URI the PostgreSQL one
 * (store/pg/), anything else is the path of an SQLite file (store/sqlite/)
 * -- and every later call goes through that backend's table (journal_int.h).
 * The rest is in journal_*.c. */
#include "store/journal.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/journal_int.h"

const char *rd_journal_default_path(void) {
  const char *e = getenv("RENEWD_JOURNAL");
  return e && *e ? e : "/var/lib/renewd/journal.db";
}

const char *rd_journal_errmsg(const rd_journal *j) { return j ? j->msg : ""; }
const char *rd_journal_path(const rd_journal *j) { return j ? j->path : ""; }

int rd_journal_is_pg(const char *target) {
  return target && (!strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11));
}

const char *rd_journal_backend(const rd_journal *j) { return j ? j->drv->name : ""; }

/* A libpq keyword/value string ("host=db1 dbname=renewd ..."): not a file
 * name, and it may hold a password, so it is refused without being shown. */
static int looks_like_conninfo(const char *t) {
  static const char *const kw[] = {"host=", "hostaddr=", "port=", "dbname=", "user=",
                                   "password=", "sslmode=", "service=", NULL};
  for (const char *p = t; *p; p++) {
    if (p != t && p[-1] != ' ')
      continue;
    for (int i = 0; kw[i]; i++)
      if (!strncmp(p, kw[i], strlen(kw[i])))
        return 1;
  }
  return 0;
}

int rd_journal_open_ex(const char *path, int flags, rd_journal **out, char *err,
                       size_t errlen) {
  rd_journal *j;
  int e;
  if (!out)
    return RD_EINVAL;
  *out = NULL;
  if (!path)
    path = rd_journal_default_path();
  if (!*path) {
    rd_fmt(err, errlen, "journal: empty path");
    return RD_EINVAL;
  }
  if (!rd_journal_is_pg(path) && looks_like_conninfo(path)) {
    rd_fmt(err, errlen, "journal: a libpq keyword/value string is not accepted (it is not shown: "
                        "it may hold a password): give a postgresql://HOST/DB URI, the password in "
                        "a file named by RENEWD_JOURNAL_PASSWORD_FILE (or RENEWD_JOURNAL_PASSWORD, "
                        "or ~/.pgpass)");
    return RD_ECONFIG;
  }
  /* j->path is the name shown in messages: the file, or for PostgreSQL
   * "postgresql" until the backend has a name without the password */
  if (!(j = calloc(1, sizeof *j)) || !(j->target = strdup(path)) ||
      !(j->path = strdup(rd_journal_is_pg(path) ? "postgresql" : path))) {
    if (j)
      free(j->target);
    free(j);
    rd_fmt(err, errlen, "journal: out of memory");
    return RD_ENOMEM;
  }
  j->drv = rd_journal_is_pg(path) ? &jn_pg_driver : &jn_sqlite_driver;
  j->busy_ms = RD_JOURNAL_BUSY_MS;
  if ((e = j->drv->open(j, flags)) < 0) {
    rd_fmt(err, errlen, "%s", j->msg);
    rd_journal_close(j);
    return e;
  }
  *out = j;
  return 0;
}

int rd_journal_open(const char *path, rd_journal **out, char *err, size_t errlen) {
  return rd_journal_open_ex(path, 0, out, err, errlen);
}

int rd_journal_set_busy_timeout(rd_journal *j, int ms) {
  if (!j || ms < 0)
    return RD_EINVAL;
  j->busy_ms = ms;
  return j->drv->set_busy(j, ms);
}

void rd_journal_close(rd_journal *j) {
  if (!j)
    return;
  jn_async_close(j);
  if (j->db)
    j->drv->close(j);
  free(j->path);
  free(j->target);
  free(j);
}
