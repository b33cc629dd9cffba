/* lease_metrics.c — the host leases in /metrics (docs/SCALING.md): how many
 * leases the journal holds, how many of them this instance holds, how many
 * are past their expiry (their instance stalled or died: the next claim
 * takes them over) and the take-overs ever journaled. On a PostgreSQL
 * journal shared by several instances, each one's /metrics tells what it
 * holds and the fleet's take-overs. */
#include <stdio.h>
#include <time.h>

#include "serve/serve.h"
#include "store/journal.h"

void rd_serve_lease_metrics(FILE *f, rd_journal *journal) {
  rd_lease_owner me;
  rd_lease_counts c;
  char id[320];
  if (!journal)
    return;
  rd_lease_owner_self(&me);
  rd_lease_owner_id(&me, id, sizeof id);
  if (rd_journal_lease_counts(journal, time(NULL), id, &c) < 0)
    return; /* the journal busy or away: this scrape goes without them */
  fprintf(f,
          "# HELP renewd_leases_held Host leases held in the journal, by any renewd instance.\n"
          "# TYPE renewd_leases_held gauge\nrenewd_leases_held %lld\n"
          "# HELP renewd_leases_held_here Host leases held by this instance.\n"
          "# TYPE renewd_leases_held_here gauge\nrenewd_leases_held_here %lld\n"
          "# HELP renewd_leases_expired Held host leases past their expiry (taken over at the "
          "next claim).\n"
          "# TYPE renewd_leases_expired gauge\nrenewd_leases_expired %lld\n"
          "# HELP renewd_lease_takeovers_total Host leases taken over from a stalled or dead "
          "holder.\n"
          "# TYPE renewd_lease_takeovers_total counter\nrenewd_lease_takeovers_total %lld\n",
          (long long)c.held, (long long)c.mine, (long long)c.expired, (long long)c.takeovers);
}
