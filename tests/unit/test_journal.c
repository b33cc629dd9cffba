/* test_journal.c — the journal: opening a file, its schema and migration
 * (SQLite); two handles on one journal and the append-only rows (audit,
 * alerts, inventory) on both backends (PostgreSQL's opening:
 * test_journal_pg.c).
 * Jobs: test_journal_jobs.c; lock waits: test_journal_lock.c; renewd status:
 * test_journal_status.c; crash safety: test_journal_crash.c. */
#include "test_journal_fixture.h"

/* ---- open, schema, migration ------------------------------------------- */

START_TEST(open_creates_and_migrates) {
  char path[600], err[1024] = "";
  struct stat st;
  rd_journal *j = NULL;
  snprintf(path, sizeof path, "%s/x/y/journal.db", tmpdir);
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), 0);
  ck_assert_str_eq(rd_journal_path(j), path);
  rd_journal_close(j);
  /* Parents created 0700, the file 0600. */
  snprintf(err, sizeof err, "%s/x", tmpdir);
  ck_assert_int_eq(stat(err, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0700);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0600);
  ck_assert_int_eq(sql_int(path, "PRAGMA user_version"), RD_JOURNAL_SCHEMA_VERSION);
  ck_assert_int_eq(sql_int(path, "PRAGMA application_id"), 0x72644a31);
  ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                                 " AND name IN ('jobs','transitions','steps','kv',"
                                 "'inventory','audit','alerts')"),
                   7);
  ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"),
                   2);
  /* WAL is a property of the file. */
  {
    sqlite3 *db;
    sqlite3_stmt *s;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  /* Reopen: nothing to migrate, data kept. */
  int64_t id, id2;
  int created;
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "/etc/c.pem", &id, &created), 0);
  ck_assert_int_eq(created, 1);
  rd_journal_close(j);
  ck_assert_int_eq(rd_journal_open_ex(path, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err), 0);
  ck_assert_int_eq(rd_journal_job_open(j, "rb", "h1", "/etc/c.pem", &id2, &created), 0);
  ck_assert_int_eq(created, 0);
  ck_assert_int_eq(id2, id);
  rd_journal_close(j);
  rd_journal_close(NULL);
}
END_TEST

START_TEST(open_refusals) {
  char path[600], err[1024] = "";
  rd_journal *j = (rd_journal *)1;
  /* Missing, when it must exist. */
  ck_assert_int_eq(rd_journal_open_ex(dbpath, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err),
                   RD_ENOTFOUND);
  ck_assert_ptr_null(j);
  snprintf(path, sizeof path, "journal %s: not found", dbpath);
  ck_assert_str_eq(err, path);
  ck_assert_int_ne(access(dbpath, F_OK), 0);
  /* A newer schema than this build knows. */
  j = open_j();
  rd_journal_close(j);
  ck_assert_int_eq(sql_exec(dbpath, "PRAGMA user_version = 7", NULL, 0), SQLITE_OK);
  ck_assert_int_eq(rd_journal_open(dbpath, &j, err, sizeof err), RD_EPROTO);
  ck_assert_msg(strstr(err, "schema version 7 is newer"), "%s", err);
  ck_assert_msg(!strncmp(err, "journal /tmp/", 13), "%s", err);
  /* Someone else's database. */
  snprintf(path, sizeof path, "%s/other.db", tmpdir);
  {
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  }
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), RD_EPROTO);
  ck_assert_msg(strstr(err, "not a renewd journal"), "%s", err);
  /* Not a database at all. */
  snprintf(path, sizeof path, "%s/file", tmpdir);
  {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
      fputs("this is not a database, just text\n", f);
    fclose(f);
  }
  ck_assert_int_lt(rd_journal_open(path, &j, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "not a database"), "%s", err);
  /* A parent that is a file. */
  snprintf(path, sizeof path, "%s/file/journal.db", tmpdir);
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), RD_EIO);
  ck_assert_msg(strstr(err, "Not a directory") || strstr(err, "not a directory"), "%s", err);
  ck_assert_int_eq(rd_journal_open("", &j, err, sizeof err), RD_EINVAL);
  /* A libpq keyword/value string: refused, never shown (a password), and
   * no file of that name is made. */
  ck_assert_int_eq(chdir(tmpdir), 0);
  ck_assert_int_eq(rd_journal_open("host=db1 user=renewd password=s3cret", &j, err, sizeof err),
                   RD_ECONFIG);
  ck_assert_ptr_null(j);
  ck_assert_msg(strstr(err, "postgresql://") && !strstr(err, "s3cret"), "%s", err);
  ck_assert_int_ne(access("host=db1 user=renewd password=s3cret", F_OK), 0);
  /* an SQLite file whose name merely holds a '=' is still a file */
  snprintf(path, sizeof path, "%s/a=b.db", tmpdir);
  ck_assert_int_eq(rd_journal_open(path, &j, err, sizeof err), 0);
  rd_journal_close(j);
}
END_TEST

START_TEST(default_path) {
  char *old = getenv("RENEWD_JOURNAL") ? strdup(getenv("RENEWD_JOURNAL")) : NULL;
  unsetenv("RENEWD_JOURNAL");
  ck_assert_str_eq(rd_journal_default_path(), "/var/lib/renewd/journal.db");
  setenv("RENEWD_JOURNAL", "", 1);
  ck_assert_str_eq(rd_journal_default_path(), "/var/lib/renewd/journal.db");
  setenv("RENEWD_JOURNAL", dbpath, 1);
  ck_assert_str_eq(rd_journal_default_path(), dbpath);
  rd_journal *j = NULL;
  char err[256];
  ck_assert_int_eq(rd_journal_open(NULL, &j, err, sizeof err), 0);
  ck_assert_str_eq(rd_journal_path(j), dbpath);
  rd_journal_close(j);
  if (old)
    setenv("RENEWD_JOURNAL", old, 1);
  else
    unsetenv("RENEWD_JOURNAL");
  free(old);
}
END_TEST

/* Two handles (as two processes would have): one active job, not two. */
START_TEST(two_handles) {
  rd_journal *j1 = open_j(), *j2 = open_j();
  int64_t a, b;
  int c1, c2;
  ck_assert_int_eq(rd_journal_job_open(j1, "rb", "h", "c", &a, &c1), 0);
  ck_assert_int_eq(rd_journal_job_open(j2, "rb", "h", "c", &b, &c2), 0);
  ck_assert_int_eq(a, b);
  ck_assert(c1 == 1 && c2 == 0);
  ck_assert_int_eq(rd_journal_job_set_state(j2, a, RD_JOB_PROBED, NULL), 0);
  ck_assert_int_eq(rd_journal_job_set_state(j1, a, RD_JOB_PROBED, NULL), RD_ESTATE);
  ck_assert_int_eq(rd_journal_job_set_state(j1, a, RD_JOB_KEY_READY, NULL), 0);
  rd_journal_close(j1);
  rd_journal_close(j2);
}
END_TEST

/* ---- audit, alerts, inventory ------------------------------------------ */

START_TEST(audit_append_only) {
  rd_journal *j = open_j();
  json_t *d = json_pack("{s:s}", "host", "web1");
  char msg[256];
  ck_assert_int_eq(rd_journal_audit(j, "operator:alice", "hosts.trust", d), 0);
  ck_assert_int_eq(rd_journal_audit(j, "renewd", "run.start", NULL), 0);
  ck_assert_int_eq(rd_journal_audit(j, "", "x", NULL), RD_EINVAL);
  json_decref(d);
  rd_journal_close(j);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit"), 2);
  ck_assert_int_eq(sql_exec(dbpath, "UPDATE audit SET actor = 'mallory'", msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  ck_assert_str_eq(msg, "audit is append-only");
  ck_assert_int_eq(sql_exec(dbpath, "DELETE FROM audit", msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  ck_assert_str_eq(msg, "audit is append-only");
  ck_assert_int_eq(sql_exec(dbpath, "DELETE FROM audit WHERE id = 1", msg, sizeof msg) & 0xff,
                   SQLITE_CONSTRAINT);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit WHERE actor = 'operator:alice'"
                                   " AND event = 'hosts.trust' AND detail = '{\"host\":\"web1\"}'"),
                   1);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM audit"), 2);
}
END_TEST

START_TEST(alert_once) {
  rd_journal *j = open_j();
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web1:/etc/c.pem:2024-05-01"), 0);
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web1:/etc/c.pem:2024-05-01"), 1);
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web2:/etc/c.pem:2024-05-01"), 0);
  rd_journal_close(j);
  j = open_j();
  ck_assert_int_eq(rd_journal_alert_once(j, "expiring:web1:/etc/c.pem:2024-05-01"), 1);
  ck_assert_int_eq(rd_journal_alert_once(j, ""), RD_EINVAL);
  ck_assert_int_eq(rd_journal_alert_once(j, NULL), RD_EINVAL);
  rd_journal_close(j);
}
END_TEST

START_TEST(inventory_snapshots) {
  rd_journal *j = open_j();
  json_t *f = json_pack("{s:[{s:s}]}", "certs", "path", "/etc/ssl/a.pem");
  ck_assert_int_eq(rd_journal_inventory(j, "web1", f), 0);
  ck_assert_int_eq(rd_journal_inventory(j, "web1", f), 0);
  ck_assert_int_eq(rd_journal_inventory(j, "web1", NULL), RD_EINVAL);
  json_decref(f);
  rd_journal_close(j);
  ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM inventory WHERE host = 'web1'"
                                   " AND facts = '{\"certs\":[{\"path\":\"/etc/ssl/a.pem\"}]}'"),
                   2);
}
END_TEST

static int collect_inv(const rd_inventory_row *row, void *arg) {
  json_object_set_new(arg, row->host, json_deep_copy(row->facts));
  return 0;
}
static int stop_inv(const rd_inventory_row *row, void *arg) {
  (*(int *)arg)++;
  return 7;
}

START_TEST(inventory_latest_per_host) {
  rd_journal *j = open_j();
  json_t *seen = json_object();
  int visits = 0;
  ck_assert_int_eq(rd_journal_inventory_latest(j, collect_inv, seen), 0);
  ck_assert_int_eq(json_object_size(seen), 0);
  for (int i = 1; i <= 3; i++) {
    json_t *f = json_pack("{s:i}", "not_after", i);
    ck_assert_int_eq(rd_journal_inventory(j, "web1", f), 0);
    json_decref(f);
  }
  json_t *g = json_pack("{s:i}", "not_after", 99);
  ck_assert_int_eq(rd_journal_inventory(j, "db'1", g), 0);
  json_decref(g);
  ck_assert_int_eq(rd_journal_inventory_latest(j, collect_inv, seen), 0);
  ck_assert_int_eq(json_object_size(seen), 2);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(seen, "web1"), "not_after")), 3);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(seen, "db'1"), "not_after")), 99);
  /* a visitor's non-zero return stops the walk and is returned */
  ck_assert_int_eq(rd_journal_inventory_latest(j, stop_inv, &visits), 7);
  ck_assert_int_eq(visits, 1);
  ck_assert_int_eq(rd_journal_inventory_latest(j, NULL, NULL), RD_EINVAL);
  json_decref(seen);
  rd_journal_close(j);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal (postgresql)" : "journal (sqlite)");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  if (!pg) { /* the file: PostgreSQL's opening is test_journal_pg.c's */
    tcase_add_test(tc, open_creates_and_migrates);
    tcase_add_test(tc, open_refusals);
    tcase_add_test(tc, default_path);
  }
  tcase_add_test(tc, two_handles);
  tcase_add_test(tc, audit_append_only);
  tcase_add_test(tc, alert_once);
  tcase_add_test(tc, inventory_snapshots);
  tcase_add_test(tc, inventory_latest_per_host);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
