/* test_jobstate.c — the job state machine against an independent copy of
 * the table in docs/JOURNAL.md. */
#include <string.h>

#include "core/jobstate.h"
#include "testutil.h"

#define S(x) RD_JOB_##x

/* docs/JOURNAL.md, "Transitions": every legal edge, nothing else. */
static const struct {
  rd_job_state from, to;
} legal[] = {
    {S(DUE), S(PROBED)},          {S(DUE), S(NEEDS_OPERATOR)},
    {S(DUE), S(FAILED)},          {S(PROBED), S(KEY_READY)},
    {S(PROBED), S(REQUESTED)},    {S(PROBED), S(DONE)},
    {S(PROBED), S(NEEDS_OPERATOR)}, {S(PROBED), S(FAILED)},
    {S(KEY_READY), S(REQUESTED)}, {S(KEY_READY), S(FAILED)},
    {S(REQUESTED), S(ISSUED)},    {S(REQUESTED), S(PENDING_CA)},
    {S(REQUESTED), S(FAILED)},    {S(PENDING_CA), S(REQUESTED)},
    {S(PENDING_CA), S(ISSUED)},   {S(PENDING_CA), S(FAILED)},
    {S(ISSUED), S(INSTALLED)},    {S(ISSUED), S(ROLLING_BACK)},
    {S(ISSUED), S(FAILED)},       {S(INSTALLED), S(FOLLOWUPS)},
    {S(INSTALLED), S(VERIFIED)},  {S(INSTALLED), S(ROLLING_BACK)},
    {S(INSTALLED), S(FAILED)},    {S(FOLLOWUPS), S(VERIFIED)},
    {S(FOLLOWUPS), S(ROLLING_BACK)}, {S(FOLLOWUPS), S(FAILED)},
    {S(VERIFIED), S(DONE)},       {S(VERIFIED), S(ROLLING_BACK)},
    {S(VERIFIED), S(FAILED)},     {S(ROLLING_BACK), S(ROLLED_BACK)},
    {S(ROLLING_BACK), S(FAILED)},
};
#define NLEGAL (sizeof legal / sizeof legal[0])

static int expected(int from, int to) {
  for (size_t i = 0; i < NLEGAL; i++)
    if ((int)legal[i].from == from && (int)legal[i].to == to)
      return 1;
  return 0;
}

START_TEST(names_roundtrip) {
  static const char *const want[] = {"DUE",       "PROBED",    "KEY_READY",    "REQUESTED",
                                     "PENDING_CA", "ISSUED",   "INSTALLED",    "FOLLOWUPS",
                                     "VERIFIED",  "ROLLING_BACK", "DONE",      "FAILED",
                                     "ROLLED_BACK", "NEEDS_OPERATOR"};
  ck_assert_int_eq(RD_JOB_NSTATES, 14);
  for (int s = 0; s < RD_JOB_NSTATES; s++) {
    ck_assert_str_eq(rd_job_state_name((rd_job_state)s), want[s]);
    ck_assert_int_eq(rd_job_state_parse(want[s]), s);
  }
  ck_assert_int_eq(rd_job_state_parse("pending_ca"), RD_JOB_PENDING_CA);
  ck_assert_int_eq(rd_job_state_parse("PENDING"), -1);
  ck_assert_int_eq(rd_job_state_parse(""), -1);
  ck_assert_int_eq(rd_job_state_parse(NULL), -1);
  ck_assert_str_eq(rd_job_state_name((rd_job_state)RD_JOB_NSTATES), "?");
  ck_assert_str_eq(rd_job_state_name((rd_job_state)-1), "?");
}
END_TEST

START_TEST(terminal_states) {
  for (int s = 0; s < RD_JOB_NSTATES; s++) {
    int want = s == S(DONE) || s == S(FAILED) || s == S(ROLLED_BACK) || s == S(NEEDS_OPERATOR);
    ck_assert_msg(rd_job_state_terminal((rd_job_state)s) == want, "%s",
                  rd_job_state_name((rd_job_state)s));
  }
  ck_assert_int_eq(rd_job_state_terminal((rd_job_state)RD_JOB_NSTATES), 0);
}
END_TEST

/* Every pair, including out-of-range values, against the table above. */
START_TEST(all_pairs) {
  int nlegal = 0;
  for (int f = -1; f <= RD_JOB_NSTATES; f++)
    for (int t = -1; t <= RD_JOB_NSTATES; t++) {
      int got = rd_job_transition_ok((rd_job_state)f, (rd_job_state)t);
      ck_assert_msg(got == expected(f, t), "%s -> %s: got %d",
                    rd_job_state_name((rd_job_state)f), rd_job_state_name((rd_job_state)t), got);
      nlegal += got;
    }
  ck_assert_int_eq(nlegal, (int)NLEGAL);
}
END_TEST

START_TEST(table_properties) {
  for (int s = 0; s < RD_JOB_NSTATES; s++) {
    int term = rd_job_state_terminal((rd_job_state)s), out = 0;
    ck_assert(!rd_job_transition_ok((rd_job_state)s, (rd_job_state)s));
    for (int t = 0; t < RD_JOB_NSTATES; t++)
      out += rd_job_transition_ok((rd_job_state)s, (rd_job_state)t);
    if (term) {
      ck_assert_msg(out == 0, "terminal %s has a way out", rd_job_state_name((rd_job_state)s));
    } else {
      ck_assert_msg(rd_job_transition_ok((rd_job_state)s, S(FAILED)), "%s cannot fail",
                    rd_job_state_name((rd_job_state)s));
    }
    /* Nothing ever enters DUE: it is where jobs are born. */
    ck_assert(!rd_job_transition_ok((rd_job_state)s, S(DUE)));
  }
  /* The state that rolls back: reachable from ISSUED on, and only there. */
  for (int s = 0; s < RD_JOB_NSTATES; s++) {
    int want = s == S(ISSUED) || s == S(INSTALLED) || s == S(FOLLOWUPS) || s == S(VERIFIED);
    ck_assert_int_eq(rd_job_transition_ok((rd_job_state)s, S(ROLLING_BACK)), want);
  }
  /* The forward path. */
  static const rd_job_state path[] = {S(DUE),    S(PROBED),    S(KEY_READY),
                                      S(REQUESTED), S(ISSUED), S(INSTALLED),
                                      S(FOLLOWUPS), S(VERIFIED), S(DONE)};
  for (size_t i = 0; i + 1 < sizeof path / sizeof path[0]; i++)
    ck_assert(rd_job_transition_ok(path[i], path[i + 1]));
  /* Some explicit refusals. */
  ck_assert(!rd_job_transition_ok(S(DUE), S(DONE)));
  ck_assert(!rd_job_transition_ok(S(DUE), S(REQUESTED)));
  ck_assert(!rd_job_transition_ok(S(REQUESTED), S(REQUESTED)));
  ck_assert(!rd_job_transition_ok(S(PENDING_CA), S(DONE)));
  ck_assert(!rd_job_transition_ok(S(REQUESTED), S(INSTALLED)));
  ck_assert(!rd_job_transition_ok(S(KEY_READY), S(ROLLING_BACK)));
  ck_assert(!rd_job_transition_ok(S(ROLLING_BACK), S(DONE)));
  ck_assert(!rd_job_transition_ok(S(DONE), S(FAILED)));
  ck_assert(!rd_job_transition_ok(S(FAILED), S(DUE)));
  ck_assert(!rd_job_transition_ok(S(INSTALLED), S(NEEDS_OPERATOR)));
}
END_TEST

/* Every state is reachable from DUE and every state can reach an end. */
START_TEST(reachability) {
  int reach[RD_JOB_NSTATES] = {0}, changed = 1;
  reach[S(DUE)] = 1;
  while (changed) {
    changed = 0;
    for (int f = 0; f < RD_JOB_NSTATES; f++)
      for (int t = 0; t < RD_JOB_NSTATES; t++)
        if (reach[f] && !reach[t] && rd_job_transition_ok((rd_job_state)f, (rd_job_state)t))
          reach[t] = changed = 1;
  }
  for (int s = 0; s < RD_JOB_NSTATES; s++)
    ck_assert_msg(reach[s], "%s unreachable", rd_job_state_name((rd_job_state)s));
  int ends[RD_JOB_NSTATES] = {0};
  for (int s = 0; s < RD_JOB_NSTATES; s++)
    ends[s] = rd_job_state_terminal((rd_job_state)s);
  changed = 1;
  while (changed) {
    changed = 0;
    for (int f = 0; f < RD_JOB_NSTATES; f++)
      for (int t = 0; t < RD_JOB_NSTATES; t++)
        if (!ends[f] && ends[t] && rd_job_transition_ok((rd_job_state)f, (rd_job_state)t))
          ends[f] = changed = 1;
  }
  for (int s = 0; s < RD_JOB_NSTATES; s++)
    ck_assert(ends[s]);
}
END_TEST

START_TEST(resume_each_state) {
  static const struct {
    rd_job_state s, r;
  } want[] = {
      {S(DUE), S(DUE)},
      {S(PROBED), S(PROBED)},
      {S(KEY_READY), S(PROBED)},
      {S(REQUESTED), S(REQUESTED)},     /* keeps the CA transaction: poll */
      {S(PENDING_CA), S(PENDING_CA)},   /* never resubmit */
      {S(ISSUED), S(ISSUED)},
      {S(INSTALLED), S(INSTALLED)},
      {S(FOLLOWUPS), S(FOLLOWUPS)},
      {S(VERIFIED), S(VERIFIED)},
      {S(ROLLING_BACK), S(ROLLING_BACK)},
      {S(DONE), S(DONE)},
      {S(FAILED), S(FAILED)},
      {S(ROLLED_BACK), S(ROLLED_BACK)},
      {S(NEEDS_OPERATOR), S(NEEDS_OPERATOR)},
  };
  ck_assert_int_eq(sizeof want / sizeof want[0], RD_JOB_NSTATES);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    rd_job_state r = rd_job_resume_state(want[i].s);
    ck_assert_msg(r == want[i].r, "resume %s: got %s", rd_job_state_name(want[i].s),
                  rd_job_state_name(r));
    /* Resuming never crosses into or out of the terminal states and never
     * skips ahead: it stays, or rewinds exactly one legal step. */
    ck_assert_int_eq(rd_job_state_terminal(r), rd_job_state_terminal(want[i].s));
    ck_assert(r == want[i].s || rd_job_transition_ok(r, want[i].s));
    ck_assert(rd_job_resume_state(r) == r); /* idempotent */
  }
}
END_TEST

/* The map's rank and failed columns: the forward path in order, the ends
 * the retry policy backs off from. */
START_TEST(ranks_and_failed_flags) {
  static const rd_job_state path[] = {S(DUE),       S(PROBED),    S(KEY_READY),
                                      S(REQUESTED), S(ISSUED),    S(INSTALLED),
                                      S(FOLLOWUPS), S(VERIFIED)};
  for (size_t i = 0; i < sizeof path / sizeof path[0]; i++)
    ck_assert_int_eq(rd_job_state_rank(path[i]), (int)i);
  ck_assert_int_eq(rd_job_state_rank(S(PENDING_CA)), rd_job_state_rank(S(REQUESTED)));
  static const rd_job_state off[] = {S(ROLLING_BACK), S(DONE), S(FAILED), S(ROLLED_BACK),
                                     S(NEEDS_OPERATOR)};
  for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
    ck_assert_int_eq(rd_job_state_rank(off[i]), -1);
  ck_assert_int_eq(rd_job_state_rank((rd_job_state)RD_JOB_NSTATES), -1);
  ck_assert_int_eq(rd_job_state_rank((rd_job_state)-1), -1);
  for (int s = -1; s <= RD_JOB_NSTATES; s++) {
    int want = s == S(FAILED) || s == S(ROLLED_BACK);
    ck_assert_int_eq(rd_job_state_failed((rd_job_state)s), want);
    if (want)
      ck_assert(rd_job_state_terminal((rd_job_state)s));
  }
  /* a resumed job that is further along ignores a move back, never one
   * off the path */
  ck_assert(rd_job_state_behind(S(INSTALLED), S(FOLLOWUPS)) == 0);
  ck_assert(rd_job_state_behind(S(FOLLOWUPS), S(INSTALLED)) == 1);
  ck_assert(rd_job_state_behind(S(ISSUED), S(REQUESTED)) == 1);
  ck_assert(rd_job_state_behind(S(PENDING_CA), S(REQUESTED)) == 0);
  ck_assert(rd_job_state_behind(S(VERIFIED), S(ROLLING_BACK)) == 0);
  ck_assert(rd_job_state_behind(S(VERIFIED), S(FAILED)) == 0);
  ck_assert(rd_job_state_behind(S(ROLLING_BACK), S(DUE)) == 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("jobstate");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, names_roundtrip);
  tcase_add_test(tc, terminal_states);
  tcase_add_test(tc, all_pairs);
  tcase_add_test(tc, table_properties);
  tcase_add_test(tc, reachability);
  tcase_add_test(tc, resume_each_state);
  tcase_add_test(tc, ranks_and_failed_flags);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
