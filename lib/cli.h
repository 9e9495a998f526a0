/*
 * cli.h - what every program shares: strict number parsing, messages in
 * one shape ("muse-sketch: plays.mev: block 12: checksum mismatch"),
 * output files that appear whole or not at all, and stdout checked at exit.
 *
 * Exit status, like grep and diff: 0 success, 1 a defined negative answer,
 * 2 any error.
 */
#ifndef MUSE_CLI_H
#define MUSE_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "zio.h"

#define MUSE_EXIT_OK 0
#define MUSE_EXIT_NEGATIVE 1
#define MUSE_EXIT_ERROR 2

/* Restores SIGPIPE, installs the signal handlers that remove temporaries. */
void muse_cli_setup(void);

/* "prog: message" on stderr. */
void muse_cli_warn(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints an error record as "prog: name:line: message". */
void muse_cli_err(const char *prog, const struct muse_err *e);
/*
 * "prog: message" then "Try 'prog --help'."; returns MUSE_EXIT_ERROR.  A
 * NULL fmt prints only the second line (after getopt's own message).
 */
int muse_cli_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define MUSE_GETOPT_ERROR NULL

/*
 * getopt_long with the toolkit's messages.  It returns what getopt_long
 * returns, except that on an error it prints the reason and returns '?'
 * (the caller then calls muse_cli_usage_error(prog, MUSE_GETOPT_ERROR)):
 *
 *     muse-query: unknown option "--sotr"; did you mean "--sort"?
 *     muse-query: option "--by" needs a value
 *     muse-query: option "--s" is ambiguous: "--segment", "--serve", ...
 *     muse-query: option "--help" takes no value
 *     muse-query: unknown option "-x"
 *
 * An unknown long option is compared with every name of longopts
 * (lib/suggest.h says when one is close enough to be offered).
 */
int muse_cli_getopt(const char *prog, int argc, char **argv,
	const char *shortopts, const struct option *longopts);

/*
 * The suggestion for an unknown word among names (see lib/suggest.h),
 * as muse_suggest: "" or "; did you mean \"X\"?".  For messages such as
 * "unknown command \"%s\"%s".
 */
const char *muse_cli_suggest(const char *word, const char *const *names,
	size_t count, char *buf, size_t size);

/* Strict unsigned decimal in [min, max]; 0 or -1.  No sign, no spaces. */
int muse_cli_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * The command cmd among the n entries of a table whose entries begin with
 * their name (a const char *) and are size bytes each: its index, or -1
 * after the usage error 'unknown command "x"' with the nearest name.
 */
int muse_cli_command(const char *prog, const char *cmd, const void *table,
	size_t n, size_t size);

/* A size in bytes with an optional suffix K, M or G (powers of 1024). */
int muse_cli_size(const char *s, size_t *out);

/* Prints "prog (muse) VERSION" plus what it was built with. */
void muse_cli_version(const char *prog);

/*
 * Flushes and closes stdout; on a write error (full disk, closed pipe
 * other than EPIPE) prints the reason and returns MUSE_EXIT_ERROR, else
 * status unchanged.
 */
int muse_cli_close_stdout(const char *prog, int status);

/*
 * An output that appears whole or not at all.  For a path, data goes to
 * a temporary file beside it ("PATH.tmp.PID"), which commit fsyncs and
 * renames over the path; abort, an error or a fatal signal removes it.
 * For NULL or "-" it is stdout, and a terminal is refused for binary
 * output unless force is set.  An existing path that is not a regular
 * file (a FIFO, a device) is written in place.
 */
struct muse_out {
	FILE *fp;
	char *path;
	char *tmp;
	int is_stdout;
	int direct;     /* an existing FIFO or device, written in place */
};
int muse_out_open(struct muse_out *o, const char *path, int binary, int force,
	struct muse_err *e);
int muse_out_commit(struct muse_out *o, struct muse_err *e);
void muse_out_abort(struct muse_out *o);

/* Whether progress lines should be drawn: stderr is a terminal, or forced. */
int muse_cli_progress_wanted(int forced, int quiet);

/*
 * A progress line on stderr, redrawn in place:
 *
 *     muse-ingest: plays.csv: 1.2M rows, 140.3 MB (57%), 210 MB/s, ETA 3s
 *
 * A new input and a note are drawn at once, updates at most every 250 ms,
 * so that callers may update often; the line never wraps (it is cut to the
 * width of the terminal).  Escape sequences erase the rest of the line,
 * except when NO_COLOR is set and not empty, TERM is unset, empty or
 * "dumb", or stderr is not a terminal: then spaces do.  While a line is
 * shown, muse_cli_warn erases it before its message, and a later update
 * draws it again.  With on 0 every call does nothing.  Nothing is ever
 * written to stdout.
 */
#define MUSE_PROGRESS_UNKNOWN UINT64_MAX
struct muse_progress {
	const char *prog;
	const char *name;       /* what is being read, or NULL */
	int on;
	int plain;              /* no escape sequences */
	size_t cols;            /* the terminal's width, 0 if unknown */
	size_t shown;           /* columns of the line on the screen, 0 none */
	uint64_t start_ns;      /* when the current input or phase began */
	uint64_t next_ns;       /* no redraw before this */
	const char *unit;       /* what muse_progress_update counts: "row" */
	char phase[48];         /* of muse_progress_count, "" none */
};
void muse_progress_start(struct muse_progress *p, const char *prog, int on);
/* A new input (a file name), shown at once; rate and ETA start from it. */
void muse_progress_input(struct muse_progress *p, const char *name);
/*
 * rows and bytes read of the current input (MUSE_PROGRESS_UNKNOWN to leave
 * one out); total: what bytes counts up to (muse_progress_total), or -1
 * when unknown (a pipe), which leaves out the percentage and the ETA.
 */
void muse_progress_update(struct muse_progress *p, uint64_t rows,
	uint64_t bytes, int64_t total);
/*
 * What muse_input_consumed counts up to: muse_input_size, or for a
 * compressed file named by path, the file's size; -1 when unknown.
 */
int64_t muse_progress_total(const muse_input *in, const char *path);
/*
 * A phase of work counted in records (a struct muse_progress_hook's
 * report), drawn at once when the phase is new, then as updates are:
 *
 *     muse-merge: merging records: 1.2M of 3.4M (35%), 850k/s, ETA 3s
 *
 * total MUSE_PROGRESS_UNKNOWN (the same as MUSE_COUNT_UNKNOWN) leaves out
 * "of", the percentage and the ETA;
 * the rate shows once the phase has run half a second.
 */
void muse_progress_count(struct muse_progress *p, const char *phase,
	uint64_t done, uint64_t total);
/* A stage without counts ("merging"), drawn at once. */
void muse_progress_note(struct muse_progress *p, const char *what);
/* Erases the line, at the end or before other output on stderr. */
void muse_progress_clear(struct muse_progress *p);
/* Erases the line and stops: later calls do nothing. */
void muse_progress_end(struct muse_progress *p);

#endif
