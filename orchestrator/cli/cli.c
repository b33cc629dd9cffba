/* cli.c — the verb table and the --help texts. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/debug.h"
#include "config/jsonpos.h"

const rd_verb rd_verbs[] = {
    {"run", "renew what is due now (add --whatif to only preview)",
     "usage: renewd run RUNBOOK... [--whatif] [--host H] [--force] [--json]\n"
     "                 [--journal FILE] [--plugins DIR] [--show-scripts]\n"
     "\n"
     "Probes every target of the runbooks, renews the certificates that are due\n"
     "and runs the follow-up steps. Every job state is committed to the journal\n"
     "before the next remote action, so an interrupted run resumes where it was.\n"
     "\n"
     "  --whatif        run probes only and print what would change (= renewd plan)\n"
     "  --host H        only this target (repeatable)\n"
     "  --force         ignore the renewal window and backoff\n"
     "  --json          machine-readable report on stdout\n"
     "  --journal FILE  journal database (default /var/lib/renewd/journal.db,\n"
     "                  or $RENEWD_JOURNAL)\n"
     "  --plugins DIR   plugin directory (default $RENEWD_PLUGINS or the install dir)\n"
     "  --max-parallel N  jobs at once, 1..4096 (default 64)\n"
     "\n"
     "exit: 0 nothing due, 10 renewed, 1 a job failed, 2 bad runbook or usage\n"
     "example: renewd run runbooks/lab-posix-scep.json --host h0001\n",
     cmd_run},
    {"plan", "preview: what would be renewed and changed (= run --whatif)",
     "usage: renewd plan RUNBOOK... [--host H] [--json] [--keys] [--show-scripts]\n"
     "                  [--journal FILE|URI] [--plugins DIR] [--max-parallel N]\n"
     "\n"
     "Runs only the read-only probe half of every step and prints, per host and\n"
     "certificate, why it is due and every step's old -> new values. Nothing on\n"
     "any target changes: the host API refuses mutating scripts in this mode. A\n"
     "certificate of a manual issuer that is due says NEEDS_OPERATOR, with the action.\n"
     "\n"
     "  --host H        only this target (repeatable)\n"
     "  --json          machine-readable report on stdout\n"
     "  --keys          check every key against its certificate (under sudo), not\n"
     "                  only the due ones'\n"
     "  --show-scripts  print the exact remote scripts and their parameters\n"
     "  --journal FILE  read (never write) the journal a run would use, or\n"
     "                  $RENEWD_JOURNAL: a host waiting out the backoff of a failed\n"
     "                  renewal shows BACKOFF, as the run would leave it; an\n"
     "                  unfinished job is named with what the run does with it\n"
     "                  (a request already at the CA is polled, never sent again).\n"
     "                  Without either, the plan opens no journal\n"
     "  --plugins DIR   plugin directory (default $RENEWD_PLUGINS or the install dir)\n"
     "  --max-parallel N  jobs at once, 1..4096 (default 64)\n"
     "\n"
     "exit: 0 nothing due, 10 something would be renewed, 1 a probe failed or a\n"
     "host is backing off, 2 usage\n"
     "example: renewd plan runbooks/lab-posix-scep.json --json\n",
     cmd_plan},
    {"doctor", "read-only preflight: what would stop a renewal on each target, and the fix",
     "usage: renewd doctor RUNBOOK... [--host H]... [--json] [--plugins DIR]\n"
     "\n"
     "Checks, on every target of the runbooks and without changing anything, what a\n"
     "renewal needs: SSH answers, the host key is trusted and the login works; the\n"
     "platform's own checks (POSIX: 'sudo -n' may run /bin/sh as root when the\n"
     "runbook's ssh.sudo is set, openssl, the certificate's directories); the\n"
     "certificate and its key are readable and belong together; the CA answers\n"
     "(SCEP and ACME: from this machine; AD CS: from the target); and every step's\n"
     "probe. It runs like 'renewd plan' (mutating scripts are refused before they\n"
     "are sent) but goes on past a failure, so one run lists every finding.\n"
     "\n"
     "One line per check, a fix after each failed one, then a verdict per host:\n"
     "  host h0002: sudo: labadm may not run /bin/sh as root without a password ...;\n"
     "      fix: as root on the host, 'visudo -f /etc/sudoers.d/renewd' and add the\n"
     "      line: labadm ALL=(root) NOPASSWD: /bin/sh\n"
     "  host h0001: verdict: all good: nothing would stop a renewal\n"
     "\n"
     "  --host H        only this target (repeatable); --runbook R names a runbook too\n"
     "  --json          the report with each host's \"checks\" on stdout\n"
     "  --plugins DIR   plugin directory (default $RENEWD_PLUGINS or the install dir)\n"
     "\n"
     "exit: 0 all good, 1 something to fix, 2 usage or a bad runbook\n"
     "example: renewd doctor runbooks/lab-posix-scep.json --host h0001\n",
     cmd_doctor},
    {"validate", "check runbooks without touching any target",
     "usage: renewd validate RUNBOOK... [--plugins DIR] [--list-steps]\n"
     "\n"
     "Parses and validates runbooks: JSON syntax, unknown keys (with a suggestion),\n"
     "types, step kinds and their parameters (checked by the owning plugin), inline\n"
     "secrets (must be {\"file\": ...} or {\"env\": ...}) and impossible schedules.\n"
     "Errors are printed as file:line:column: message.\n"
     "\n"
     "exit: 0 all valid, 2 any error\n"
     "example: renewd validate runbooks/*.json\n",
     cmd_validate},
    {"status", "jobs and their states from the journal",
     "usage: renewd status [--journal FILE|URI] [--json] [--all]\n"
     "\n"
     "Lists jobs from the journal: host, certificate, state, attempts, last error\n"
     "and the time of the next try (backoff). By default the newest job of each\n"
     "(host, certificate); --all lists every job. Then a notice for each job\n"
     "whose journal says what an operator must know (a reply lost and the\n"
     "identical request resent: the CA may hold an orphan certificate), and the\n"
     "host leases: which instance (node:pid:start) changes which host, epoch,\n"
     "expiry. On a PostgreSQL journal (several instances) the claims of divided\n"
     "scans too: which instance probes and renews which host. --all adds the\n"
     "released leases and the take-overs (who took a lease or claim from whom).\n"
     "A missing journal is an error (exit 1); status never creates one.\n"
     "\n"
     "example: renewd status --journal /var/lib/renewd/journal.db\n",
     cmd_status},
    {"inventory", "list the certificates found on the targets",
     "usage: renewd inventory RUNBOOK... [--host H] [--json] [--keys] [--journal FILE]\n"
     "\n"
     "Runs the inventory probes of the runbooks' targets and prints every\n"
     "certificate found: subject, serial, expiry, days left, key match, SHA-1,\n"
     "and the problems found (--json: everything the probe saw). Read-only.\n"
     "The key match (KEY: ok, WRONG) is checked for a due certificate only,\n"
     "'-' for the others: reading a key needs sudo, a certificate does not.\n"
     "\n"
     "  --host H        only this target (repeatable)\n"
     "  --json          machine-readable report on stdout\n"
     "  --keys          check every key against its certificate (under sudo)\n"
     "  --journal FILE  record what was found in this journal (what 'renewd report',\n"
     "                  'renewd status' and serve's /status read); $RENEWD_JOURNAL\n"
     "                  too. Without either, no journal is opened\n"
     "  --plugins DIR   plugin directory (default $RENEWD_PLUGINS or the install dir)\n"
     "\n"
     "exit: 0 listed, 1 a target could not be inventoried, 2 usage or bad runbook\n"
     "example: renewd inventory runbooks/lab-posix-scep.json --journal /var/lib/renewd/journal.db\n",
     cmd_inventory},
    {"remediate", "diagnose one host now and fix what is wrong",
     "usage: renewd remediate --runbook R --host H [--host H2...] [--whatif] [--json]\n"
     "\n"
     "Ignores the schedule: checks for expired or expiring certificates, key/cert\n"
     "mismatch, wrong owner or mode, duplicates, config thumbprints that do not\n"
     "match the live certificate, and services not serving it; prints findings,\n"
     "then fixes them (with --whatif, only says how): a certificate that is due,\n"
     "expired or does not match its key is renewed; drift in the follow-ups\n"
     "(key owner/mode, backups, a stale service) is repaired without renewing.\n"
     "\n"
     "  --runbook R     the runbook (or name it as an argument)\n"
     "  --host H        the host to diagnose (required)\n"
     "  --whatif        diagnose and say the remedy, change nothing\n"
     "  --json          machine-readable report on stdout\n"
     "  --journal FILE  journal database (default /var/lib/renewd/journal.db,\n"
     "                  or $RENEWD_JOURNAL)\n"
     "  --plugins DIR   plugin directory (default $RENEWD_PLUGINS or the install dir)\n"
     "\n"
     "exit: 0 healthy, 10 fixed (or would fix, with --whatif), 1 a fix failed, 2 usage\n"
     "example: renewd remediate --runbook runbooks/lab-posix-scep.json --host h0003\n",
     cmd_remediate},
    {"serve", "the daemon: scheduled scans and renewals, /metrics and /status",
     "usage: renewd serve RUNBOOK... [--journal FILE] [--listen ADDR:PORT] [--plugins DIR]\n"
     "                   [--max-parallel N] [--once]\n"
     "\n"
     "The daemon. Scans each runbook every schedule.scan_interval (plus a random\n"
     "jitter up to schedule.jitter). Inside the maintenance window (schedule.window,\n"
     "default always) a scan renews what is due, in waves; outside it a scan only\n"
     "probes and reports. Failed renewals wait out their backoff. One scan runs at a\n"
     "time; scans run on the daemon's event loop, so the listener answers during\n"
     "them. SIGTERM or SIGINT closes the listener at once and stops after the\n"
     "running scan (each step is bounded by its timeout); a second signal exits at\n"
     "once, and the journal resumes the interrupted jobs on the next start.\n"
     "SIGHUP re-reads the runbooks: a broken one is refused (file:line:column in\n"
     "the log and /status) and its old version keeps running; a good one takes\n"
     "over at its next scan.\n"
     "\n"
     "  --listen ADDR:PORT  serve GET/HEAD /metrics (Prometheus text), /healthz and\n"
     "                      /status (JSON: runbooks and their next scans, jobs by\n"
     "                      state, fleet expiry), /report (the page of renewd\n"
     "                      report); IPv6 as [::1]:9464\n"
     "  --max-parallel N    jobs at once per scan, 1..4096 (default 64)\n"
     "  --once              scan every runbook once, then exit with run's exit code\n"
     "  --log-format F      text (default) or json: one JSON object per warning line\n"
     "                      (notifications, digests, the report; docs/SERVICE.md)\n"
     "\n"
     "example: renewd serve /etc/renewd/runbooks/*.json --listen 127.0.0.1:9464\n",
     cmd_serve},
    {"report", "the fleet report: one HTML page (expiry timeline, jobs, history)",
     "usage: renewd report --html FILE [--journal FILE] [RUNBOOK...]\n"
     "\n"
     "Writes one self-contained HTML page (inline CSS and SVG, no script, no\n"
     "external asset) from the journal: an expiry timeline of every certificate\n"
     "with its renew window and the 60/30/14-day bands, coloured by state; the\n"
     "jobs that failed, wait or need an operator with their reasons; each host's\n"
     "history. With runbooks, every target of theirs (never inventoried ones\n"
     "too) and the runbook's renew window; without, every host the journal has\n"
     "inventoried. Contacts no target; FILE '-' is stdout.\n"
     "\n"
     "exit: 0 written, 1 no journal or a write failed, 2 usage or bad runbook\n"
     "example: renewd report --html /var/www/renewd.html runbooks/*.json\n",
     cmd_report},
    {"hosts", "host keys: 'hosts trust HOST...' enrols them in known_hosts",
     "usage: renewd hosts trust HOST... --runbook R [--yes] [--replace]\n"
     "\n"
     "Connects to each host, shows its host key fingerprint and, after you confirm\n"
     "(or with --yes), adds it to the runbook's known_hosts file. renewd never\n"
     "trusts an unknown or changed host key on its own.\n"
     "\n"
     "  --runbook R  the runbook whose targets name the hosts and whose\n"
     "               ssh.known_hosts file gets the keys\n"
     "  --yes        add without asking (no terminal: required)\n"
     "  --replace    replace a key the file already holds for the host (after you\n"
     "               checked that the host really changed its key)\n"
     "\n"
     "exit: 0 trusted, 1 a host failed or was refused, 2 usage\n"
     "example: renewd hosts trust h0001 --runbook runbooks/lab-posix-scep.json\n",
     cmd_hosts},
    {"debug", "transport by hand: exec, script, hostkey, http, psbuild (for tests and ops)",
     dbg_usage, cmd_debug},
    {NULL, NULL, NULL, NULL}};

const rd_verb *rd_verb_find(const char *name) {
  for (const rd_verb *v = rd_verbs; name && v->name; v++)
    if (!strcmp(v->name, name))
      return v;
  return NULL;
}

const char *rd_verb_suggest(const char *name) {
  const char *names[32];
  size_t n = 0;
  for (const rd_verb *v = rd_verbs; v->name && n < sizeof names / sizeof *names; v++)
    names[n++] = v->name;
  return name ? rd_suggest(name, names, n) : NULL;
}

int rd_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--"))
      break;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
      return 1;
  }
  return 0;
}

void rd_verb_help(const rd_verb *v) {
  printf("renewd %s — %s\n\n%s", v->name, v->summary, v->help);
}

int rd_not_built(const char *verb) {
  fprintf(stderr,
          "renewd %s: not built yet in this release; see 'renewd --help' for the "
          "verbs that work\n",
          verb);
  return RD_EXIT_USAGE;
}
