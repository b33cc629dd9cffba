/* test_journal_crash.c — crash safety: a child hammering the journal is
 * SIGKILLed at random points and the journal must come back whole
 * (docs/JOURNAL.md, "Crash safety"), on both backends: on PostgreSQL the
 * server rolls back the transaction of the connection that died. */
#include "test_journal_fixture.h"

/* ---- crash safety ------------------------------------------------------ */

/* The child reports every commit AFTER it returned: (job, index in the
 * job's history, state). 16 bytes < PIPE_BUF, so a write is all or nothing
 * even when SIGKILL lands in it. */
typedef struct {
  int64_t job;
  int32_t seq;
  int32_t state; /* < 0: the child hit an error (its code) */
} crash_ev;

static uint64_t rnd_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void report(int fd, int64_t job, int seq, int state) {
  crash_ev ev = {job, seq, state};
  if (write(fd, &ev, sizeof ev) != (ssize_t)sizeof ev)
    _exit(4);
}

static int count_tr(const rd_transition_row *r, void *arg) {
  (void)r;
  (*(int *)arg)++;
  return 0;
}

/* Never returns. Even jobs go through rd_journal_job_advance (transition +
 * step + kv in one transaction), odd ones through plain set_state; KEY_READY
 * is sometimes resumed (a rewind). */
static void crash_child(int fd, uint64_t seed) {
  rd_journal *j = NULL;
  char err[512];
  int rc;
  if ((rc = rd_journal_open(jtarget, &j, err, sizeof err)) < 0) {
    report(fd, -1, 0, rc);
    _exit(3);
  }
  for (int iter = 0; iter < 200000; iter++) {
    char host[16], cert[16];
    int64_t id;
    int created, nhist = 0;
    rd_job_row row;
    snprintf(host, sizeof host, "h%d", (int)(rnd_next(&seed) % 5));
    snprintf(cert, sizeof cert, "c%d", (int)(rnd_next(&seed) % 3));
    if ((rc = rd_journal_job_open(j, "crash", host, cert, &id, &created)) < 0)
      goto fail;
    if (created)
      report(fd, id, 0, RD_JOB_DUE);
    if ((rc = rd_journal_transitions(j, id, count_tr, &nhist)) < 0 ||
        (rc = rd_journal_job_get(j, id, &row)) < 0)
      goto fail;
    /* A few moves on this job, then another job: several stay active. */
    int moves = 1 + (int)(rnd_next(&seed) % 3);
    for (int m = 0; m < moves && !rd_job_state_terminal(row.state); m++) {
      rd_job_state next[4 * RD_JOB_NSTATES];
      int nn = 0;
      if (row.state == RD_JOB_KEY_READY && rnd_next(&seed) % 4 == 0) {
        rd_job_state st;
        if ((rc = rd_journal_job_resume(j, id, &st)) < 0)
          goto fail;
        report(fd, id, nhist++, (int)st);
        row.state = st;
        continue;
      }
      for (int t = 0; t < RD_JOB_NSTATES; t++) {
        if (!rd_job_transition_ok(row.state, (rd_job_state)t))
          continue;
        /* Ends are less likely than progress, so that paths get long. */
        int w = rd_job_state_terminal((rd_job_state)t) && t != RD_JOB_DONE ? 1 : 4;
        for (int k = 0; k < w; k++)
          next[nn++] = (rd_job_state)t;
      }
      rd_job_state to = next[rnd_next(&seed) % (uint64_t)nn];
      if (id % 2 == 0) {
        int ntr = 0;
        /* transitions of kind "transition" so far = nhist - 1 - resumes;
         * the kv counter holds exactly that, so read it back. */
        json_t *cur = NULL;
        if ((rc = rd_journal_kv_get(j, id, "n", &cur)) < 0 && rc != RD_ENOTFOUND)
          goto fail;
        ntr = cur ? (int)json_integer_value(cur) : 0;
        json_decref(cur);
        json_t *res = json_pack("{s:s, s:i}", "to", rd_job_state_name(to), "n", ntr + 1);
        json_t *kv = json_pack("{s:i, s:s}", "n", ntr + 1, "pad",
                               "some bytes so that rows span more than a few cells");
        rd_step_record step = {.step = "crash.step", .phase = "apply", .result = res};
        rd_job_advance a = {.to = to, .kv = kv, .step = &step};
        rc = rd_journal_job_advance(j, id, &a);
        json_decref(res);
        json_decref(kv);
      } else {
        rc = rd_journal_job_set_state(j, id, to, "odd job");
      }
      if (rc < 0)
        goto fail;
      report(fd, id, nhist++, (int)to);
      row.state = to;
    }
  }
  rd_journal_close(j);
  _exit(0);
fail:
  report(fd, -1, 0, rc);
  _exit(3);
}

/* Check one job against its history, steps and kv; why gets the first
 * problem, or "". */
static void check_job(rd_journal *j, const rd_job_row *row, char *why, size_t len) {
  history h = {0};
  steps_seen st = {0};
  int ntrans = 0;
  long long id = (long long)row->id;
  ck_assert_int_eq(rd_journal_transitions(j, row->id, collect_tr, &h), 0);
  why[0] = '\0';
  if (h.n < 1 || h.rows[0].from != -1 || h.rows[0].to != RD_JOB_DUE ||
      strcmp(h.rows[0].kind, "create"))
    snprintf(why, len, "job %lld: history does not start with its creation", id);
  for (int i = 1; !why[0] && i < h.n; i++) {
    const rd_transition_row *r = &h.rows[i];
    if (r->from != (int)h.rows[i - 1].to)
      snprintf(why, len, "job %lld: history row %d starts from %d, not %d", id, i, r->from,
               (int)h.rows[i - 1].to);
    else if (!strcmp(r->kind, "transition")) {
      if (!rd_job_transition_ok((rd_job_state)r->from, r->to))
        snprintf(why, len, "job %lld: illegal %s -> %s in history", id,
                 rd_job_state_name((rd_job_state)r->from), rd_job_state_name(r->to));
      ntrans++;
    } else if (!strcmp(r->kind, "resume")) {
      if (rd_job_resume_state((rd_job_state)r->from) != r->to || (int)r->to == r->from)
        snprintf(why, len, "job %lld: bad resume row", id);
    } else {
      snprintf(why, len, "job %lld: history row kind %s", id, r->kind);
    }
  }
  if (!why[0] && h.rows[h.n - 1].to != row->state)
    snprintf(why, len, "job %lld: state %s but history ends in %s", id,
             rd_job_state_name(row->state), rd_job_state_name(h.rows[h.n - 1].to));
  if (!why[0] && row->id % 2 == 0 && !strcmp(row->runbook, "crash")) {
    /* Steps rows and the kv counter match the transitions one for one. */
    json_t *n = NULL;
    ck_assert_int_eq(rd_journal_steps(j, row->id, collect_step, &st), 0);
    int kvn = rd_journal_kv_get(j, row->id, "n", &n) == 0 ? (int)json_integer_value(n) : 0;
    json_decref(n);
    if (st.n != ntrans || kvn != ntrans)
      snprintf(why, len, "job %lld: %d transitions but %d steps and kv n=%d", id, ntrans, st.n,
               kvn);
    for (int i = 1, k = 0; !why[0] && i < h.n; i++) {
      if (strcmp(h.rows[i].kind, "transition"))
        continue;
      if (strcmp(st.v[k].to, rd_job_state_name(h.rows[i].to)))
        snprintf(why, len, "job %lld: step %d records %s, history %s", id, k, st.v[k].to,
                 rd_job_state_name(h.rows[i].to));
      k++;
    }
  }
  history_free(&h);
  free(st.v);
}

typedef struct {
  rd_journal *j;
  int jobs, bad;
  char why[512];
} walk;

static int check_visit(const rd_job_row *row, void *arg) {
  walk *w = arg;
  char why[512];
  w->jobs++;
  check_job(w->j, row, why, sizeof why);
  if (why[0] && !w->bad++)
    snprintf(w->why, sizeof w->why, "%s", why);
  return 0;
}

static int history_len(rd_journal *j, int64_t id) {
  int n = 0;
  ck_assert_int_eq(rd_journal_transitions(j, id, count_tr, &n), 0);
  return n;
}

static int history_to(rd_journal *j, int64_t id, int seq) {
  history h = {0};
  int to = -1;
  ck_assert_int_eq(rd_journal_transitions(j, id, collect_tr, &h), 0);
  if (seq < h.n)
    to = (int)h.rows[seq].to;
  history_free(&h);
  return to;
}

static long long total_history(void) {
  if (!jpg && access(dbpath, F_OK) != 0)
    return 0;
  long long n = sql_int(dbpath, jpg ? "SELECT count(*) FROM pg_tables WHERE schemaname ="
                                      " current_schema() AND tablename = 'transitions'"
                                    : "SELECT count(*) FROM sqlite_schema WHERE name = 'transitions'");
  return n == 1 ? sql_int(dbpath, "SELECT count(*) FROM transitions") : 0;
}

START_TEST(crash_safety) {
  uint64_t seed = 0x5eed0000ULL + (uint64_t)getpid();
  int rounds = 14, total_events = 0, total_killed_mid = 0;
  for (int round = 0; round < rounds; round++) {
    int p[2];
    long long before = total_history();
    ck_assert_int_eq(pipe(p), 0);
    /* Kill points: by time (from "during open/migration" to deep in the
     * loop) or right after the k-th reported commit. */
    int by_events = round % 2;
    long kill_ms = round == 0 ? 0 : (long)(rnd_next(&seed) % 400);
    int kill_after = 1 + (int)(rnd_next(&seed) % 400);
    uint64_t child_seed = rnd_next(&seed) | 1;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
      close(p[0]);
      crash_child(p[1], child_seed);
    }
    close(p[1]);
    crash_ev *evs = NULL;
    size_t nev = 0, cap = 0;
    int killed = 0, eof = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!eof) {
      long elapsed;
      clock_gettime(CLOCK_MONOTONIC, &t);
      elapsed = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
      if (!killed && ((!by_events && elapsed >= kill_ms) ||
                      (by_events && (int)nev >= kill_after) || elapsed > 60000)) {
        kill(pid, SIGKILL);
        killed = 1;
      }
      struct pollfd pf = {.fd = p[0], .events = POLLIN};
      int timeout = killed ? 1000 : 1;
      if (poll(&pf, 1, timeout) <= 0)
        continue;
      crash_ev ev;
      ssize_t r = read(p[0], &ev, sizeof ev);
      if (r == 0) {
        eof = 1;
        break;
      }
      ck_assert_int_eq(r, (ssize_t)sizeof ev);
      if (nev == cap) {
        cap = cap ? 2 * cap : 256;
        evs = realloc(evs, cap * sizeof *evs);
        ck_assert_ptr_nonnull(evs);
      }
      evs[nev++] = ev;
      /* With events-based kills, stop at once: the child is mid-flight. */
      if (!killed && by_events && (int)nev >= kill_after) {
        kill(pid, SIGKILL);
        killed = 1;
      }
    }
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    for (size_t i = 0; i < nev; i++)
      ck_assert_msg(evs[i].state >= 0, "round %d: child error %s", round,
                    rd_errname(evs[i].state));
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      total_killed_mid++;
    else
      ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                    "round %d: child status %d", round, status);

    /* The file is whole (SQLite)... */
    if (!jpg && access(dbpath, F_OK) == 0) {
      sqlite3 *db;
      sqlite3_stmt *s;
      ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
      ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
                       SQLITE_OK);
      ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
      ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
      sqlite3_finalize(s);
      ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL),
                       SQLITE_OK);
      ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
      sqlite3_finalize(s);
      sqlite3_close(db);
    }
    /* ...opens and migrates... */
    rd_journal *j = open_j();
    /* ...every job is consistent with its history, steps and kv... */
    walk w = {.j = j};
    ck_assert_int_eq(rd_journal_jobs(j, 0, 0, check_visit, &w), 0);
    ck_assert_msg(w.bad == 0, "round %d: %d bad jobs; first: %s", round, w.bad, w.why);
    ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM (SELECT host, cert FROM jobs"
                                     " WHERE terminal = 0 GROUP BY host, cert"
                                     " HAVING count(*) > 1) dup"),
                     0);
    ck_assert_int_eq(sql_int(dbpath, "SELECT count(*) FROM jobs WHERE terminal !="
                                     " (CASE WHEN state IN ('DONE','FAILED','ROLLED_BACK',"
                                     "'NEEDS_OPERATOR') THEN 1 ELSE 0 END)"),
                     0);
    /* ...every commit the child reported is there, in order... */
    for (size_t i = 0; i < nev; i++) {
      int len = history_len(j, evs[i].job);
      ck_assert_msg(len > evs[i].seq, "round %d: job %lld lost commit %d (history %d)", round,
                    (long long)evs[i].job, evs[i].seq, len);
      ck_assert_msg(history_to(j, evs[i].job, evs[i].seq) == evs[i].state,
                      "round %d: job %lld commit %d is not %s", round, (long long)evs[i].job,
                      evs[i].seq, rd_job_state_name((rd_job_state)evs[i].state));
    }
    /* ...and at most one commit happened that was not reported yet. */
    long long after = total_history();
    ck_assert_msg(after - before == (long long)nev || after - before == (long long)nev + 1,
                  "round %d: %lld new history rows, %zu reported", round, after - before, nev);
    total_events += (int)nev;
    rd_journal_close(j);
    free(evs);
  }
  ck_assert_int_gt(total_events, 100);
  ck_assert_int_ge(total_killed_mid, rounds - 1);
}
END_TEST

static Suite *suite(int pg) {
  Suite *s = suite_create(pg ? "journal_crash (postgresql)" : "journal_crash (sqlite)");
  TCase *tc = tcase_create("crash");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, crash_safety);
  tcase_set_timeout(tc, 240);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_backends(suite); }
