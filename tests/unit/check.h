/*
 * check.h - the little harness every C unit test shares: one TAP-like line
 * per check ("ok N - what" / "not ok N - what"), then the summary line
 * tests/run.sh reads ("# unit NAME: P passed, F failed").
 */
#ifndef MUSE_TEST_CHECK_H
#define MUSE_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int check_passed, check_failed;

static void check(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", check_passed + check_failed + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (ok)
		check_passed++;
	else
		check_failed++;
}

/* Prints the summary line; the exit status for main. */
static int check_done(const char *name)
{
	printf("# unit %s: %d passed, %d failed\n", name, check_passed,
	    check_failed);
	return check_failed ? 1 : 0;
}

#endif
