/* crashpoint.h — kill renewd at a chosen instant, for the crash tests.
 *
 * Compiled in always and inert unless the environment asks (read once, at
 * the first call):
 *
 *   RENEWD_CRASH_AT=commit:N          SIGKILL right after the Nth journal
 *                                     commit of this process (1-based)
 *   RENEWD_CRASH_AT=point:NAME[:N]    SIGKILL at the Nth (default 1st) named
 *                                     point that NAME matches
 *   RENEWD_CRASH_LOG=FILE             append one line per commit and per
 *                                     point reached: "commit N" or
 *                                     "point NAME N" (N: its occurrence)
 *
 * A point's name is hierarchical, "kind/detail" ("remote.changed/posix.install
 * .apply" reads "a mutating script's answer arrived, not yet handled"); NAME
 * matches a name equal to it or starting with NAME "/". The named points
 * (docs/RELIABILITY.md lists them) sit between a remote action and its
 * journal commit: an HTTP request handed to the transport, its reply before
 * the plugin sees it, a script's answer before the plugin sees it, a step's
 * phase finished before the engine journals it.
 *
 * Before dying, one line goes to stderr ("renewd: crash point: ..."). The
 * kill is SIGKILL, raised by the process itself: nothing is flushed, no
 * handler runs, as with `kill -9` from outside. Anyone who can set renewd's
 * environment can already kill it, so the hook costs no privilege. */
#ifndef RENEWD_CRASHPOINT_H
#define RENEWD_CRASHPOINT_H

/* A journal commit has completed. */
void rd_crashpoint_commit(void);
/* A named point, formatted like printf (the name only, no newline). */
void rd_crashpoint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
