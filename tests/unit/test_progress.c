/*
 * test_progress.c - the counted progress line (muse_progress_count in
 * lib/cli.c): what it draws for a phase, its rate and its time left.
 * Standard error goes to a temporary file, which is not a terminal, so
 * lines are drawn plain ("\r" and spaces); the clock is moved by setting
 * the phase's start back, which is what the rate is measured from.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#include "check.h"

static FILE *tmp;

/* What was drawn since the last call, carriage returns and padding cut. */
static const char *drawn(char *buf, size_t size)
{
	static long at;
	size_t n;
	char *p;

	fflush(stderr);
	fseek(tmp, at, SEEK_SET);
	n = fread(buf, 1, size - 1, tmp);
	at += (long)n;
	buf[n] = '\0';
	p = strrchr(buf, '\r');
	if (p != NULL && p[1] == '\0')      /* an erasure at the end */
		*p = '\0';
	if ((p = strrchr(buf, '\r')) != NULL)
		memmove(buf, p + 1, strlen(p));
	for (n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
		buf[n - 1] = '\0';
	return buf;
}

static void see(const char *want, const char *what)
{
	char buf[1024];

	drawn(buf, sizeof(buf));
	check(strcmp(buf, want) == 0, "%s: '%s' (got '%s')", what, want, buf);
}

/* Pretends the phase began s seconds ago, and lets the next update draw. */
static void age(struct muse_progress *p, double s)
{
	p->start_ns -= (uint64_t)(s * 1e9);
	p->next_ns = 0;
}

int main(void)
{
	struct muse_progress p;

	if ((tmp = tmpfile()) == NULL || dup2(fileno(tmp), STDERR_FILENO) < 0)
		return 2;
	muse_progress_start(&p, "prog", 1);
	muse_progress_count(&p, "merging records", 0, 1000);
	see("prog: merging records: 0 of 1.0k (0%)", "a new phase is drawn at once");
	muse_progress_count(&p, "merging records", 10, 1000);
	see("", "updates wait a quarter of a second");
	/*
	 * Long ages, so that a slow machine's few milliseconds between the
	 * calls do not show in the figures.
	 */
	age(&p, 1000);
	muse_progress_count(&p, "merging records", 500000, 1000000);
	see("prog: merging records: 500.0k of 1.0M (50%), 500/s, ETA 16m40s",
	    "rate and time left once the phase has run");
	age(&p, 0);
	muse_progress_count(&p, "merging records", 1000000, 1000000);
	see("prog: merging records: 1.0M of 1.0M (100%), 1.0k/s, ETA 0s",
	    "the end of the phase");
	muse_progress_count(&p, "writing sketches", 0, 30000000);
	see("prog: writing sketches: 0 of 30.0M (0%)",
	    "a new phase starts its own clock");
	age(&p, 10000);
	muse_progress_count(&p, "writing sketches", 15000000, 30000000);
	see("prog: writing sketches: 15.0M of 30.0M (50%), 1.5k/s, ETA 2h46m",
	    "hours left");
	muse_progress_count(&p, "reading records", 0, MUSE_PROGRESS_UNKNOWN);
	see("prog: reading records", "a phase without counts yet");
	age(&p, 1000);
	muse_progress_count(&p, "reading records", 3000000, MUSE_PROGRESS_UNKNOWN);
	see("prog: reading records: 3.0M, 3.0k/s",
	    "an unknown total: no share, no time left");
	muse_progress_input(&p, "a.msk");
	see("prog: a.msk", "an input is named at once");
	muse_progress_count(&p, "reading records", 0, MUSE_PROGRESS_UNKNOWN);
	see("prog: a.msk: reading records", "a phase of an input names it");
	age(&p, 1000);
	muse_progress_count(&p, "reading records", 2000000, 1000);
	see("prog: a.msk: reading records: 2.0M, 2.0k/s",
	    "a count past its total shows no share");
	muse_progress_end(&p);
	muse_progress_count(&p, "merging records", 1, 2);
	see("", "nothing after the end");
	{
		struct muse_progress off;

		muse_progress_start(&off, "prog", 0);
		muse_progress_count(&off, "merging records", 0, 10);
		see("", "nothing when off");
	}
	return check_done("progress");
}
