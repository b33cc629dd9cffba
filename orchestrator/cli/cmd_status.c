/* cmd_status.c — 'renewd status [--journal FILE|URI] [--json] [--all]': the jobs
 * in the journal. By default the newest job of every (host, certificate),
 * i.e. where each certificate stands; --all lists every job, newest first.
 * A job's notice (core/notices.h: a possible orphan certificate at the CA)
 * follows the table: the run that did it may have died before its report.
 * Then the host leases held (docs/JOURNAL.md, "Host leases"): which job is
 * changing which host, for which renewd instance (node:pid:start), until
 * when -- a lease past its expiry is taken over by the next claim (another
 * instance's, on a shared PostgreSQL journal: docs/SCALING.md); --all adds
 * the released ones (their last epoch). On PostgreSQL, then the claims of
 * divided scans (store/work.h): which instance probes and renews which
 * host, at which epoch, until when. --all ends with the take-overs of
 * leases and claims (the audit's *.takeover rows): who took what from whom.
 * Every list is one journal query, whatever the number of jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "base/err.h"
#include "base/util.h"
#include "core/notices.h"
#include "store/journal.h"
#include "store/work.h"

typedef struct {
  rd_job_row *rows;
  size_t n, cap;
  json_t *notices; /* one per row: the job's notice or null (core/notices.h) */
} job_list;

typedef struct {
  rd_lease_row *rows;
  size_t n, cap;
} lease_list;

typedef struct {
  rd_work_claim_row *rows;
  size_t n, cap;
} claim_list;

/* Append one row of size bytes to *rows (n used, cap allocated). */
static int push_row(void *rowsp, size_t *n, size_t *cap, const void *row, size_t size) {
  char *rows;
  memcpy(&rows, rowsp, sizeof rows);
  if (*n == *cap) {
    size_t ncap = *cap ? 2 * *cap : 64;
    char *nr = realloc(rows, ncap * size);
    if (!nr)
      return RD_ENOMEM;
    rows = nr;
    memcpy(rowsp, &rows, sizeof rows);
    *cap = ncap;
  }
  memcpy(rows + *n * size, row, size);
  (*n)++;
  return 0;
}

static int collect_lease(const rd_lease_row *row, void *arg) {
  lease_list *l = arg;
  return push_row(&l->rows, &l->n, &l->cap, row, sizeof *row);
}

static int collect_claim(const rd_work_claim_row *row, void *arg) {
  claim_list *l = arg;
  return push_row(&l->rows, &l->n, &l->cap, row, sizeof *row);
}

static int collect(const rd_job_row *row, void *arg) {
  job_list *l = arg;
  return push_row(&l->rows, &l->n, &l->cap, row, sizeof *row);
}

/* "2024-05-01 13:05" local time; "-" for 0. */
static const char *local_time(time_t t, char *buf, size_t len) {
  struct tm tm;
  if (t == 0 || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M", &tm))
    return "-";
  return buf;
}

/* "2024-05-01T11:05:00Z", or JSON null for 0. */
static json_t *iso_time(time_t t) {
  struct tm tm;
  char buf[32];
  if (t == 0 || !gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
    return json_null();
  return json_string(buf);
}

static const char *str_of(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

static const char *text_of(const json_t *o, const char *key) {
  const char *v = str_of(o, key);
  return v ? v : "";
}

/* One take-over from the audit, as status shows it: {at, kind ("lease" or
 * "claim"), host, runbook (claims only), owner, epoch, previous {owner,
 * expires}}. */
static int collect_takeover(const rd_audit_row *row, void *arg) {
  const json_t *d = row->detail, *prev = json_object_get(d, "previous");
  int claim = !strcmp(row->event, "work.takeover");
  json_t *t = json_pack("{s:o, s:s, s:s?, s:s?, s:s?, s:I, s:{s:s?, s:o}}", "at",
                        iso_time(row->at), "kind", claim ? "claim" : "lease", "host",
                        str_of(d, "host"), "runbook", claim ? str_of(d, "runbook") : NULL,
                        "owner", str_of(d, "owner"), "epoch",
                        json_integer_value(json_object_get(d, "epoch")), "previous", "owner",
                        str_of(prev, "owner"), "expires",
                        iso_time((time_t)json_integer_value(json_object_get(prev, "expires"))));
  if (t && !claim)
    json_object_del(t, "runbook");
  return t && !json_array_append_new(arg, t) ? 0 : RD_ENOMEM;
}

/* One line: control characters (a multi-line remote error) become spaces. */
static void one_line(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      *s = ' ';
}

/* A held lease whose expiry has passed: its holder stalled or died, and the
 * next claim of the host takes it over. */
static int lease_expired(const rd_lease_row *r, time_t now) { return r->held && r->expires <= now; }

static json_t *leases_json(const lease_list *ls) {
  json_t *a = json_array();
  time_t now = time(NULL);
  for (size_t i = 0; i < ls->n; i++) {
    const rd_lease_row *r = &ls->rows[i];
    json_array_append_new(
        a, json_pack("{s:s, s:b, s:s, s:s, s:o, s:o, s:I, s:b}", "host", r->host, "held",
                     r->held, "owner", r->owner, "what", r->what, "since", iso_time(r->since),
                     "expires", iso_time(r->expires), "epoch", (json_int_t)r->epoch, "expired",
                     lease_expired(r, now)));
  }
  return a;
}

/* A claim past its expiry: its instance stalled or died, and the next
 * claim of the runbook's work (any instance's) takes it over. */
static int claim_expired(const rd_work_claim_row *r, time_t now) { return r->expires <= now; }

static json_t *claims_json(const claim_list *cs) {
  json_t *a = json_array();
  time_t now = time(NULL);
  for (size_t i = 0; i < cs->n; i++) {
    const rd_work_claim_row *r = &cs->rows[i];
    json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:o, s:b}", "runbook", r->runbook,
                                       "host", r->host, "owner", r->owner, "epoch",
                                       (json_int_t)r->epoch, "expires", iso_time(r->expires),
                                       "expired", claim_expired(r, now)));
  }
  return a;
}

/* What status read besides the jobs: the leases, on PostgreSQL the claims
 * (divided: 1), with --all the take-overs (else NULL). */
typedef struct {
  lease_list leases;
  claim_list claims;
  int divided;
  json_t *takeovers;
} holders;

static int print_json(const char *path, const char *backend, const job_list *l,
                      const holders *h) {
  json_t *jobs = json_array(), *doc;
  for (size_t i = 0; i < l->n; i++) {
    const rd_job_row *r = &l->rows[i];
    json_array_append_new(
        jobs, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:i, s:o, s:o, s:o, s:s?}", "id",
                        (json_int_t)r->id, "runbook", r->runbook, "host", r->host, "cert",
                        r->cert, "state", rd_job_state_name(r->state), "terminal",
                        rd_job_state_terminal(r->state), "attempts", r->attempts, "created",
                        iso_time(r->created), "updated", iso_time(r->updated), "next_try",
                        iso_time(r->next_try), "error", r->error[0] ? r->error : NULL));
    json_t *nt = json_array_get(l->notices, i);
    if (json_is_object(nt))
      json_object_set(json_array_get(jobs, i), "notice", nt);
  }
  doc = json_pack("{s:s, s:s, s:o, s:o}", "journal", path, "backend", backend, "jobs", jobs,
                  "leases", leases_json(&h->leases));
  if (doc && h->divided)
    json_object_set_new(doc, "claims", claims_json(&h->claims));
  if (doc && h->takeovers)
    json_object_set(doc, "takeovers", h->takeovers);
  if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
    json_decref(doc);
    fprintf(stderr, "renewd status: cannot write JSON\n");
    return RD_EXIT_FAILED;
  }
  fputc('\n', stdout);
  json_decref(doc);
  return RD_EXIT_OK;
}

enum { C_ID, C_HOST, C_CERT, C_STATE, C_ATTEMPTS, C_UPDATED, C_NEXT, C_ERROR, NCOLS };

/* The cells of one row; buf holds the formatted ones. */
static void cells(const rd_job_row *r, const char *cell[NCOLS], char buf[4][48]) {
  snprintf(buf[0], 48, "%lld", (long long)r->id);
  snprintf(buf[1], 48, "%d", r->attempts);
  cell[C_ID] = buf[0];
  cell[C_HOST] = r->host;
  cell[C_CERT] = r->cert;
  cell[C_STATE] = rd_job_state_name(r->state);
  cell[C_ATTEMPTS] = buf[1];
  cell[C_UPDATED] = local_time(r->updated, buf[2], 48);
  cell[C_NEXT] = local_time(r->next_try, buf[3], 48);
  cell[C_ERROR] = r->error[0] ? r->error : "-";
}

static void print_row(const char *const cell[NCOLS], const size_t width[NCOLS]) {
  /* numbers right-aligned, the last column unpadded */
  printf("%*s  %-*s  %-*s  %-*s  %*s  %-*s  %-*s  %s\n", (int)width[C_ID], cell[C_ID],
         (int)width[C_HOST], cell[C_HOST], (int)width[C_CERT], cell[C_CERT],
         (int)width[C_STATE], cell[C_STATE], (int)width[C_ATTEMPTS], cell[C_ATTEMPTS],
         (int)width[C_UPDATED], cell[C_UPDATED], (int)width[C_NEXT], cell[C_NEXT],
         cell[C_ERROR]);
}

/* "notice: job 16 (h0002 /srv/tls/server.crt): issue: issued serial ...; the
 * reply to request ... was lost and the identical request resent: ..." --
 * what a run killed before its report could not print. */
static void print_notices(const job_list *l) {
  size_t i;
  json_t *nt;
  json_array_foreach(l->notices, i, nt) {
    char host[300], cert[600], step[300], msg[1200];
    if (!json_is_object(nt))
      continue;
    rd_escape(host, sizeof host, l->rows[i].host, RD_ESC_ONE_LINE);
    rd_escape(cert, sizeof cert, l->rows[i].cert, RD_ESC_ONE_LINE);
    rd_escape(step, sizeof step, json_string_value(json_object_get(nt, "step")), RD_ESC_ONE_LINE);
    rd_escape(msg, sizeof msg, json_string_value(json_object_get(nt, "message")),
              RD_ESC_ONE_LINE);
    printf("notice: job %lld (%s %s): %s: %s\n", (long long)l->rows[i].id, host, cert, step, msg);
  }
}

static void print_table(const char *path, job_list *l, int all) {
  static const char *const head[NCOLS] = {"ID",       "HOST",    "CERT",     "STATE",
                                          "ATTEMPTS", "UPDATED", "NEXT TRY", "LAST ERROR"};
  size_t width[NCOLS], active = 0, failed = 0, stuck = 0;
  const char *cell[NCOLS];
  char buf[4][48];
  if (l->n == 0) {
    printf("no jobs in journal %s\n", path);
    return;
  }
  for (int c = 0; c < NCOLS; c++)
    width[c] = strlen(head[c]);
  for (size_t i = 0; i < l->n; i++) {
    rd_job_row *r = &l->rows[i];
    one_line(r->error);
    cells(r, cell, buf);
    for (int c = 0; c < NCOLS; c++)
      if (strlen(cell[c]) > width[c])
        width[c] = strlen(cell[c]);
    if (!rd_job_state_terminal(r->state))
      active++;
    else if (rd_job_state_failed(r->state))
      failed++;
    else if (r->state == RD_JOB_NEEDS_OPERATOR)
      stuck++;
  }
  /* the header's first column is left-aligned like the rest of the header */
  printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)width[C_ID], head[C_ID],
         (int)width[C_HOST], head[C_HOST], (int)width[C_CERT], head[C_CERT],
         (int)width[C_STATE], head[C_STATE], (int)width[C_ATTEMPTS], head[C_ATTEMPTS],
         (int)width[C_UPDATED], head[C_UPDATED], (int)width[C_NEXT], head[C_NEXT],
         head[C_ERROR]);
  for (size_t i = 0; i < l->n; i++) {
    cells(&l->rows[i], cell, buf);
    print_row(cell, width);
  }
  printf("\n%zu %s: %zu active, %zu failed, %zu need%s an operator\n", l->n,
         all ? (l->n == 1 ? "job" : "jobs") : (l->n == 1 ? "certificate" : "certificates"),
         active, failed, stuck, stuck == 1 ? "s" : "");
  print_notices(l);
}

/* "lease HOST: held by OWNER (WHAT) since T, expires T, epoch N" */
static void print_leases(lease_list *ls) {
  char since[48], until[48];
  time_t now = time(NULL);
  for (size_t i = 0; i < ls->n; i++) {
    rd_lease_row *r = &ls->rows[i];
    one_line(r->host);
    one_line(r->owner);
    one_line(r->what);
    if (i == 0)
      putchar('\n');
    if (r->held)
      printf("lease %s: held by %s (%s) since %s, expires %s, epoch %lld%s\n", r->host,
             r->owner, r->what, local_time(r->since, since, sizeof since),
             local_time(r->expires, until, sizeof until), (long long)r->epoch,
             lease_expired(r, now) ? " (expired: the next claim of the host takes it over)"
                                   : "");
    else
      printf("lease %s: free (last holder %s, epoch %lld)\n", r->host, r->owner,
             (long long)r->epoch);
  }
}

/* "claim HOST (runbook R): held by OWNER, epoch N, expires T" */
static void print_claims(claim_list *cs) {
  char until[48], rb[800], host[800], owner[1000];
  time_t now = time(NULL);
  for (size_t i = 0; i < cs->n; i++) {
    rd_work_claim_row *r = &cs->rows[i];
    rd_escape(rb, sizeof rb, r->runbook, RD_ESC_ONE_LINE);
    rd_escape(host, sizeof host, r->host, RD_ESC_ONE_LINE);
    rd_escape(owner, sizeof owner, r->owner, RD_ESC_ONE_LINE);
    if (i == 0)
      putchar('\n');
    printf("claim %s (runbook %s): held by %s, epoch %lld, expires %s%s\n", host, rb, owner,
           (long long)r->epoch, local_time(r->expires, until, sizeof until),
           claim_expired(r, now) ? " (expired: the next claim of the runbook's work takes it over)"
                                 : "");
  }
}

/* "takeover T: lease HOST by OWNER, epoch N, from OWNER (expired T)" */
static void print_takeovers(const json_t *ts) {
  size_t i;
  const json_t *t;
  json_array_foreach(ts, i, t) {
    const json_t *prev = json_object_get(t, "previous");
    const char *rbv = str_of(t, "runbook");
    char host[800], rb[800], owner[1000], from[1000], what[1700];
    rd_escape(host, sizeof host, text_of(t, "host"), RD_ESC_ONE_LINE);
    rd_escape(owner, sizeof owner, text_of(t, "owner"), RD_ESC_ONE_LINE);
    rd_escape(from, sizeof from, text_of(prev, "owner"), RD_ESC_ONE_LINE);
    if (rbv) {
      rd_escape(rb, sizeof rb, rbv, RD_ESC_ONE_LINE);
      snprintf(what, sizeof what, "claim %s (runbook %s)", host, rb);
    } else {
      snprintf(what, sizeof what, "lease %s", host);
    }
    if (i == 0)
      putchar('\n');
    printf("takeover %s: %s by %s, epoch %lld, from %s (expired %s)\n",
           text_of(t, "at"), what, owner,
           (long long)json_integer_value(json_object_get(t, "epoch")), from,
           json_is_string(json_object_get(prev, "expires")) ? str_of(prev, "expires") : "-");
  }
}

int cmd_status(int argc, char **argv) {
  const char *path = NULL;
  int json = 0, all = 0, rc;
  rd_journal *j = NULL;
  job_list l = {0};
  holders h = {0};
  json_t *notices = NULL;
  char err[1600];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if (!strcmp(argv[i], "--all")) {
      all = 1;
    } else if (!strcmp(argv[i], "--journal")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "renewd status: --journal needs a FILE or a postgresql:// URI\n");
        return RD_EXIT_USAGE;
      }
      path = argv[++i];
    } else if (!strncmp(argv[i], "--journal=", 10)) {
      path = argv[i] + 10;
    } else {
      fprintf(stderr,
              "renewd status: unknown argument '%s'\n"
              "usage: renewd status [--journal FILE|URI] [--json] [--all]\n",
              argv[i]);
      return RD_EXIT_USAGE;
    }
  }
  if (!path)
    path = rd_journal_default_path();
  /* status only reads: it never creates a journal where none was. */
  if ((rc = rd_journal_open_ex(path, RD_JOURNAL_MUST_EXIST, &j, err, sizeof err)) < 0) {
    if (rc == RD_ENOTFOUND)
      fprintf(stderr, "renewd status: %s (no job has run yet, or use --journal FILE)\n", err);
    else
      fprintf(stderr, "renewd status: %s\n", err);
    return RD_EXIT_FAILED;
  }
  rc = all ? rd_journal_jobs(j, 0, 0, collect, &l) : rd_journal_jobs_latest(j, collect, &l);
  if (rc >= 0)
    rc = rd_journal_leases(j, !all, collect_lease, &h.leases);
  if (rc >= 0 && (h.divided = rd_work_supported(j)))
    rc = rd_work_claims(j, collect_claim, &h.claims);
  if (rc >= 0 && all)
    rc = (h.takeovers = json_array())
             ? rd_journal_audit_list(j, "%.takeover", collect_takeover, h.takeovers)
             : RD_ENOMEM;
  /* the notices of all jobs in one query, then one per row */
  if (rc >= 0)
    rc = rd_job_notices(j, &notices);
  if (rc >= 0 && !(l.notices = json_array()))
    rc = RD_ENOMEM;
  for (size_t i = 0; rc >= 0 && i < l.n; i++) {
    char id[32];
    json_t *nt;
    snprintf(id, sizeof id, "%lld", (long long)l.rows[i].id);
    nt = json_object_get(notices, id);
    if (json_array_append_new(l.notices, nt ? json_incref(nt) : json_null()))
      rc = RD_ENOMEM;
  }
  if (rc < 0) {
    fprintf(stderr, "renewd status: %s\n",
            rc == RD_ENOMEM ? "out of memory" : rd_journal_errmsg(j));
    rc = RD_EXIT_FAILED;
  } else if (json)
    rc = print_json(rd_journal_path(j), rd_journal_backend(j), &l, &h);
  else {
    print_table(rd_journal_path(j), &l, all);
    print_leases(&h.leases);
    print_claims(&h.claims);
    print_takeovers(h.takeovers);
    rc = RD_EXIT_OK;
  }
  rd_journal_close(j);
  free(l.rows);
  free(h.leases.rows);
  free(h.claims.rows);
  json_decref(h.takeovers);
  json_decref(l.notices);
  json_decref(notices);
  return rc;
}
