/* journal.c — the SQLite journal (journal.h, docs/JOURNAL.md): opening,
 * the schema and its migrations, and how long a call waits for a lock. The
 * rest is in journal_*.c (journal_int.h lists them).
 *
 * One connection per rd_journal, WAL, synchronous=FULL: a commit that has
 * returned survives a crash of the process and of the machine. Every
 * mutating call is one BEGIN IMMEDIATE ... COMMIT, so concurrent renewd
 * processes (serve and a manual run) serialise on the write lock instead of
 * failing half-way. The journal is called from the event loop, so a call
 * waits for the lock at most busy_ms (RD_JOURNAL_BUSY_MS by default) and then
 * fails with RD_EBUSY, having changed nothing. */
#include "store/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "store/journal_int.h"

#define RD_JOURNAL_APP_ID 0x72644a31 /* "rdJ1": PRAGMA application_id */

/* ---- schema ------------------------------------------------------------ */

/* migrations[i] takes the schema from version i to i + 1. Append only: never
 * edit a shipped entry, add the next one. Each runs in the same transaction
 * as its user_version bump. */
static const char *const migrations[] = {
    /* v1: initial schema */
    "CREATE TABLE jobs("
    "  id INTEGER PRIMARY KEY,"
    "  runbook TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  cert TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  terminal INTEGER NOT NULL DEFAULT 0 CHECK (terminal IN (0, 1)),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  next_try INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT NOT NULL DEFAULT '');"
    /* at most one active job per (host, cert) */
    "CREATE UNIQUE INDEX jobs_active ON jobs(host, cert) WHERE terminal = 0;"
    "CREATE INDEX jobs_host_cert ON jobs(host, cert, id);"
    "CREATE TABLE transitions("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  from_state TEXT,"
    "  to_state TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('create', 'transition', 'resume')),"
    "  at INTEGER NOT NULL,"
    "  error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX transitions_job ON transitions(job_id, id);"
    "CREATE TABLE steps("
    "  id INTEGER PRIMARY KEY,"
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  step TEXT NOT NULL,"
    "  phase TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  ms REAL NOT NULL DEFAULT 0,"
    "  result TEXT,"
    "  message TEXT NOT NULL DEFAULT '',"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX steps_job ON steps(job_id, id);"
    "CREATE TABLE kv("
    "  job_id INTEGER NOT NULL REFERENCES jobs(id),"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  PRIMARY KEY (job_id, key)) WITHOUT ROWID;"
    "CREATE TABLE inventory("
    "  id INTEGER PRIMARY KEY,"
    "  host TEXT NOT NULL,"
    "  taken_at INTEGER NOT NULL,"
    "  facts TEXT NOT NULL);"
    "CREATE INDEX inventory_host ON inventory(host, taken_at);"
    "CREATE TABLE audit("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  detail TEXT);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TABLE alerts("
    "  key TEXT PRIMARY KEY,"
    "  at INTEGER NOT NULL) WITHOUT ROWID;",
    /* v2: host leases (journal_lease.c). A released lease keeps its row
     * (held = 0) so that the fencing epoch never goes back. */
    "CREATE TABLE leases("
    "  host TEXT PRIMARY KEY,"
    "  held INTEGER NOT NULL CHECK (held IN (0, 1)),"
    "  owner TEXT NOT NULL,"
    "  node TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  start INTEGER NOT NULL,"
    "  what TEXT NOT NULL DEFAULT '',"
    "  since INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL CHECK (epoch > 0)) WITHOUT ROWID;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(NMIGRATIONS == RD_JOURNAL_SCHEMA_VERSION,
               "RD_JOURNAL_SCHEMA_VERSION must equal the number of migrations");

/* ---- open / close ------------------------------------------------------ */

const char *rd_journal_default_path(void) {
  const char *e = getenv("RENEWD_JOURNAL");
  return e && *e ? e : "/var/lib/renewd/journal.db";
}

const char *rd_journal_errmsg(const rd_journal *j) { return j ? j->msg : ""; }
const char *rd_journal_path(const rd_journal *j) { return j ? j->path : ""; }

/* mkdir -p of path's parent; the directories it creates get mode 0700. */
static int make_parent(const char *path, char *why, size_t whylen) {
  char *dir = strdup(path), *slash;
  int err = 0;
  if (!dir)
    return RD_ENOMEM;
  slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    free(dir);
    return 0;
  }
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot create directory %s: %s", dir, strerror(errno));
        err = RD_EIO;
        break;
      }
      *p = c;
      if (c == '\0')
        break;
    }
  }
  if (!err) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(why, whylen, "%s is not a directory", dir);
      err = RD_EIO;
    }
  }
  free(dir);
  return err;
}

static int pragma_int(rd_journal *j, const char *sql, int *out) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(j->db, sql, -1, &s, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(s, 0);
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK)
    rc = jn_dberr(j, rc, sql);
  sqlite3_finalize(s);
  return rc;
}

static int exec(rd_journal *j, const char *sql, const char *what) {
  int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : jn_dberr(j, rc, what);
}

static int migrate(rd_journal *j) {
  int version = 0, appid = 0, ntables = 0, err;
  /* Up to date: no need for the write lock (status stays a reader). */
  if (pragma_int(j, "PRAGMA user_version", &version) == 0 &&
      pragma_int(j, "PRAGMA application_id", &appid) == 0 && version == NMIGRATIONS &&
      appid == RD_JOURNAL_APP_ID)
    return 0;
  if ((err = jn_tx_begin(j, "migration")) < 0)
    return err;
  /* Read inside the write transaction: another process may have migrated
   * between our open and now. */
  if ((err = pragma_int(j, "PRAGMA user_version", &version)) < 0 ||
      (err = pragma_int(j, "PRAGMA application_id", &appid)) < 0 ||
      (err = pragma_int(j, "SELECT count(*) FROM sqlite_schema", &ntables)) < 0)
    return jn_tx_end(j, err);
  if (appid != 0 && appid != RD_JOURNAL_APP_ID)
    return jn_tx_end(j, jn_fail(j, RD_EPROTO,
                          "not a renewd journal (application_id 0x%x); refusing to touch it",
                          (unsigned)appid));
  if (appid == 0 && ntables > 0)
    return jn_tx_end(j, jn_fail(j, RD_EPROTO,
                          "database holds %d objects but is not a renewd journal; "
                          "refusing to touch it",
                          ntables));
  if (version > NMIGRATIONS)
    return jn_tx_end(j, jn_fail(j, RD_EPROTO,
                          "schema version %d is newer than this renewd understands (%d); "
                          "upgrade renewd",
                          version, NMIGRATIONS));
  for (int v = version; v < NMIGRATIONS; v++) {
    char sql[96], what[64];
    snprintf(what, sizeof what, "migration to schema version %d", v + 1);
    if ((err = exec(j, migrations[v], what)) < 0)
      return jn_tx_end(j, err);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d", v + 1,
             RD_JOURNAL_APP_ID);
    if ((err = exec(j, sql, what)) < 0)
      return jn_tx_end(j, err);
  }
  return jn_tx_end(j, 0);
}

static int configure(rd_journal *j) {
  sqlite3_stmt *s = NULL;
  int rc, err = 0;
  sqlite3_extended_result_codes(j->db, 1);
  sqlite3_busy_timeout(j->db, j->busy_ms);
  /* journal_mode answers with the mode in effect: a filesystem without
   * shared memory support keeps the old one. */
  rc = sqlite3_prepare_v2(j->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    if (!mode || strcmp(mode, "wal"))
      err = jn_fail(j, RD_EIO, "cannot switch to WAL mode (journal_mode is %s)",
                 mode ? mode : "?");
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    err = jn_dberr(j, rc, "cannot open");
  sqlite3_finalize(s);
  if (err < 0)
    return err;
  if ((err = exec(j, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                     " PRAGMA trusted_schema = OFF",
                  "pragmas")) < 0)
    return err;
  return migrate(j);
}

int rd_journal_open_ex(const char *path, int flags, rd_journal **out, char *err,
                       size_t errlen) {
  rd_journal *j;
  char why[512] = "";
  int rc, e;
  struct stat st;
  if (!out)
    return RD_EINVAL;
  *out = NULL;
  if (!path)
    path = rd_journal_default_path();
  if (!*path) {
    rd_fmt(err, errlen, "journal: empty path");
    return RD_EINVAL;
  }
  if (!(j = calloc(1, sizeof *j)) || !(j->path = strdup(path))) {
    free(j);
    rd_fmt(err, errlen, "journal %s: out of memory", path);
    return RD_ENOMEM;
  }
  j->busy_ms = RD_JOURNAL_BUSY_MS;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT) {
      e = jn_fail(j, RD_EIO, "cannot access: %s", strerror(errno));
      goto out;
    }
    if (flags & RD_JOURNAL_MUST_EXIST) {
      e = jn_fail(j, RD_ENOTFOUND, "not found");
      goto out;
    }
    if ((e = make_parent(path, why, sizeof why)) < 0) {
      jn_fail(j, e, "%s", why);
      goto out;
    }
    /* Created here so that it is 0600 whatever the umask; sqlite gives the
     * -wal and -shm files the same mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      e = jn_fail(j, RD_EIO, "cannot create: %s", strerror(errno));
      goto out;
    }
    close(fd);
  } else if (!S_ISREG(st.st_mode)) {
    e = jn_fail(j, RD_EINVAL, "not a regular file");
    goto out;
  }
  int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
  oflags |= SQLITE_OPEN_EXRESCODE;
#endif
  rc = sqlite3_open_v2(path, &j->db, oflags, NULL);
  if (rc != SQLITE_OK) {
    e = j->db ? jn_dberr(j, rc, "cannot open") : jn_fail(j, RD_ENOMEM, "out of memory");
    goto out;
  }
  e = configure(j);
out:
  if (e < 0) {
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
  return sqlite3_busy_timeout(j->db, ms) == SQLITE_OK ? 0 : RD_EIO;
}

void rd_journal_close(rd_journal *j) {
  if (!j)
    return;
  if (j->db && !sqlite3_get_autocommit(j->db))
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
  for (int i = 0; i < S_COUNT; i++)
    sqlite3_finalize(j->stmt[i]);
  if (j->db) {
    sqlite3_exec(j->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close(j->db);
  }
  free(j->path);
  free(j);
}
