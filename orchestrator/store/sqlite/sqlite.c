/* sqlite.c — the SQLite backend of the journal (journal_int.h, jn_driver;
 * docs/JOURNAL.md): opening, the schema and its migrations, the statement
 * cache, and how long a call waits for a lock.
 *
 * One connection per rd_journal, WAL, synchronous=FULL: a commit that has
 * returned survives a crash of the process and of the machine. Every
 * mutating call is one BEGIN IMMEDIATE ... COMMIT, so concurrent renewd
 * processes (serve and a manual run) serialise on the write lock instead of
 * failing half-way. The journal is called from the event loop, so a call
 * waits for the lock at most busy_ms (RD_JOURNAL_BUSY_MS by default) and then
 * fails with RD_EBUSY, having changed nothing.
 *
 * Prepared statements are cached per connection and always reset after use:
 * a SELECT left un-reset would pin a read snapshot (and the WAL) forever. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/err.h"
#include "base/path.h"
#include "store/journal_int.h"

/* A statement: the jn_q header, then sqlite's. */
typedef struct sq_q {
  jn_q q;
  sqlite3_stmt *st;
} sq_q;

/* The connection. */
typedef struct sq_db {
  sqlite3 *db;
  sq_q stmt[S_COUNT];
} sq_db;

#define DB(j) (((sq_db *)(j)->db)->db)
#define ST(s) (((sq_q *)(s))->st)

#define RD_JOURNAL_APP_ID 0x72644a31 /* "rdJ1": PRAGMA application_id */

/* ---- errors ------------------------------------------------------------ */

/* sqlite result code -> RD_E* (0 for OK, ROW and DONE). */
static int from_sqlite(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return 0;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return RD_EBUSY;
  case SQLITE_NOMEM:
    return RD_ENOMEM;
  case SQLITE_CONSTRAINT:
    return RD_EEXIST;
  case SQLITE_NOTFOUND:
    return RD_ENOTFOUND;
  case SQLITE_TOOBIG:
    return RD_EOVERFLOW;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
  case SQLITE_FORMAT:
  case SQLITE_SCHEMA:
    return RD_EPROTO;
  default:
    return RD_EIO;
  }
}

/* The process holding the WAL write lock of path, or 0 when it cannot be
 * told (no lock, or held by this process: POSIX locks do not conflict with
 * their own process). Best effort: SQLite's unix VFS takes the WAL write lock
 * as an fcntl() lock on byte 120 of the -shm file (os_unix.c UNIX_SHM_BASE). */
static long lock_holder(const char *path) {
  char shm[4096];
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 120, .l_len = 1};
  int fd;
  if (snprintf(shm, sizeof shm, "%s-shm", path) >= (int)sizeof shm)
    return 0;
  if ((fd = open(shm, O_RDONLY | O_CLOEXEC)) < 0)
    return 0;
  if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK || fl.l_pid <= 0)
    fl.l_pid = 0;
  close(fd);
  return (long)fl.l_pid;
}

/* A failed sqlite call: the RD_E code, with sqlite's own message. A lock wait
 * that ran out says who held the lock and what that means for the caller: the
 * wait is bounded (busy_ms) so that the event loop calling us never stalls
 * behind a long transaction of another connection. */
static int sq_dberr(rd_journal *j, int rc, const char *what) {
  int code = from_sqlite(rc) ? from_sqlite(rc) : RD_EIO;
  if (code == RD_EBUSY) {
    char who[64] = "another connection";
    long pid = lock_holder(j->path);
    if (pid > 0)
      snprintf(who, sizeof who, "another process (pid %ld)", pid);
    return jn_fail(j, code,
                   "%s: busy: %s held the write lock for longer than %d ms; nothing was "
                   "changed, try again (while a transaction elsewhere keeps this file "
                   "locked, e.g. an open sqlite3 shell, every renewd write fails like this)",
                   what, who, j->busy_ms);
  }
  if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN ||
      (rc & 0xff) == SQLITE_READONLY) {
    /* SQLite says "disk I/O error" when a write fails for want of space
     * (a new WAL, a grown page), "unable to open database file" on a
     * read-only file system: say what the operator must look at */
    char dir[4096];
    struct statvfs v;
    size_t dl = rd_path_dir_len(j->path); /* its last '/' included: "/" for the root */
    snprintf(dir, sizeof dir, "%.*s", dl ? (int)dl : 1, dl ? j->path : ".");
    int full = (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR;
    const char *says = DB(j) ? sqlite3_errmsg(DB(j)) : sqlite3_errstr(rc);
    if (statvfs(dir, &v) == 0 && (v.f_flag & ST_RDONLY))
      return jn_fail(j, code,
                     "%s: %s: the file system holding it is read-only (renewd writes the "
                     "journal, and its -wal and -shm files beside it, even to read it)",
                     what, says);
    if (full && statvfs(dir, &v) == 0 &&
        (unsigned long long)v.f_bavail * v.f_frsize < 1024ull * 1024)
      return jn_fail(j, code,
                     "%s: %s: the file system holding it has %llu KB free: make room there "
                     "(nothing after this write was done; the next run resumes from the "
                     "journal)",
                     what, says, (unsigned long long)v.f_bavail * v.f_frsize / 1024);
  }
  return jn_fail(j, code, "%s: %s", what, DB(j) ? sqlite3_errmsg(DB(j)) : sqlite3_errstr(rc));
}

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
  int rc = sqlite3_prepare_v2(DB(j), sql, -1, &s, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(s, 0);
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK)
    rc = sq_dberr(j, rc, sql);
  sqlite3_finalize(s);
  return rc;
}

static int exec(rd_journal *j, const char *sql, const char *what) {
  int rc = sqlite3_exec(DB(j), sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : sq_dberr(j, rc, what);
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
  sqlite3_extended_result_codes(DB(j), 1);
  sqlite3_busy_timeout(DB(j), j->busy_ms);
  /* journal_mode answers with the mode in effect: a filesystem without
   * shared memory support keeps the old one. */
  rc = sqlite3_prepare_v2(DB(j), "PRAGMA journal_mode = WAL", -1, &s, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    if (!mode || strcmp(mode, "wal"))
      err = jn_fail(j, RD_EIO, "cannot switch to WAL mode (journal_mode is %s)",
                 mode ? mode : "?");
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    err = sq_dberr(j, rc, "cannot open");
  sqlite3_finalize(s);
  if (err < 0)
    return err;
  if ((err = exec(j, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                     " PRAGMA trusted_schema = OFF",
                  "pragmas")) < 0)
    return err;
  return migrate(j);
}

static int sq_open(rd_journal *j, int flags) {
  const char *path = j->target;
  char why[512] = "";
  int rc, e;
  struct stat st;
  sq_db *d;
  if (!(d = calloc(1, sizeof *d)))
    return jn_fail(j, RD_ENOMEM, "out of memory");
  j->db = d;
  for (int i = 0; i < S_COUNT; i++)
    d->stmt[i].q.drv = &jn_sqlite_driver;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT)
      return jn_fail(j, RD_EIO, "cannot access: %s", strerror(errno));
    if (flags & RD_JOURNAL_MUST_EXIST)
      return jn_fail(j, RD_ENOTFOUND, "not found");
    if ((e = make_parent(path, why, sizeof why)) < 0)
      return jn_fail(j, e, "%s", why);
    /* Created here so that it is 0600 whatever the umask; sqlite gives the
     * -wal and -shm files the same mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      return jn_fail(j, RD_EIO, "cannot create: %s", strerror(errno));
    close(fd);
  } else if (!S_ISREG(st.st_mode)) {
    return jn_fail(j, RD_EINVAL, "not a regular file");
  }
  int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
  oflags |= SQLITE_OPEN_EXRESCODE;
#endif
  rc = sqlite3_open_v2(path, &d->db, oflags, NULL);
  if (rc != SQLITE_OK)
    return d->db ? sq_dberr(j, rc, "cannot open") : jn_fail(j, RD_ENOMEM, "out of memory");
  return configure(j);
}

static int sq_set_busy(rd_journal *j, int ms) {
  return sqlite3_busy_timeout(DB(j), ms) == SQLITE_OK ? 0 : RD_EIO;
}

static void sq_close(rd_journal *j) {
  sq_db *d = j->db;
  if (d->db && !sqlite3_get_autocommit(d->db))
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
  for (int i = 0; i < S_COUNT; i++)
    sqlite3_finalize(d->stmt[i].st);
  if (d->db) {
    sqlite3_exec(d->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close(d->db);
  }
  free(d);
  j->db = NULL;
}

/* ---- statements -------------------------------------------------------- */

static jn_q *sq_stmt(rd_journal *j, int id, int *rc) {
  sq_db *d = j->db;
  if (!d->stmt[id].st) {
    *rc = sqlite3_prepare_v3(d->db, jn_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                             &d->stmt[id].st, NULL);
    if (*rc != SQLITE_OK) {
      d->stmt[id].st = NULL;
      return NULL;
    }
  }
  *rc = SQLITE_OK;
  return &d->stmt[id].q;
}

static void sq_done(jn_q *s) {
  sqlite3_reset(ST(s));
  sqlite3_clear_bindings(ST(s));
}

static void sq_bind_text(jn_q *s, int i, const char *v) {
  if (v)
    sqlite3_bind_text(ST(s), i, v, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(ST(s), i);
}

static void sq_bind_int(jn_q *s, int i, int64_t v) { sqlite3_bind_int64(ST(s), i, v); }
static void sq_bind_double(jn_q *s, int i, double v) { sqlite3_bind_double(ST(s), i, v); }

static int sq_next(rd_journal *j, jn_q *s) {
  (void)j;
  return sqlite3_step(ST(s));
}

static const char *sq_col_text(jn_q *s, int col) {
  return (const char *)sqlite3_column_text(ST(s), col);
}

static int64_t sq_col_int(jn_q *s, int col) { return sqlite3_column_int64(ST(s), col); }
static double sq_col_double(jn_q *s, int col) { return sqlite3_column_double(ST(s), col); }
static int64_t sq_changes(rd_journal *j) { return sqlite3_changes(DB(j)); }

static int sq_begin(rd_journal *j) {
  int rc;
  jn_q *s = sq_stmt(j, S_BEGIN, &rc);
  if (!s)
    return rc;
  rc = sqlite3_step(ST(s));
  sq_done(s);
  return rc;
}

static int sq_in_tx(rd_journal *j) { return !sqlite3_get_autocommit(DB(j)); }

const jn_driver jn_sqlite_driver = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .set_busy = sq_set_busy,
    .stmt = sq_stmt,
    .bind_text = sq_bind_text,
    .bind_int = sq_bind_int,
    .bind_double = sq_bind_double,
    .next = sq_next,
    .done = sq_done,
    .col_text = sq_col_text,
    .col_int = sq_col_int,
    .col_double = sq_col_double,
    .changes = sq_changes,
    .dberr = sq_dberr,
    .begin = sq_begin,
    .in_tx = sq_in_tx,
};
