/*
 * coldrun - times cold processes for tests/bench/serve.sh.
 *
 *   coldrun N CMD [ARG...]
 *
 * Starts CMD N times, one after another, with standard output on
 * /dev/null, and prints for each run a line with the wall-clock seconds
 * (from just before posix_spawn to just after the child is reaped) and
 * the CPU seconds the child used (user + system, from wait4): on a
 * machine shared with other work the wall clock also counts the time the
 * child waited for a core, the CPU time does not.  A shell
 * loop around date(1) would add a fork of the shell and of date to every
 * sample, about a millisecond here, which is the order of what is
 * measured; this adds only the spawn.  A run that does not exit with
 * status 0 stops the measurement (exit status 2), so a failing query is
 * never timed as a fast one.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	char *end;
	long n;

	if (argc < 3 || (n = strtol(argv[1], &end, 10)) < 1 || *end) {
		fprintf(stderr, "usage: coldrun N CMD [ARG...]\n");
		return 2;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
	    O_WRONLY, 0);
	for (long i = 0; i < n; i++) {
		struct rusage ru;
		pid_t pid;
		int rc, status;
		double t0, t1;

		t0 = now();
		rc = posix_spawnp(&pid, argv[2], &fa, NULL, argv + 2, environ);
		if (rc != 0) {
			fprintf(stderr, "coldrun: %s: %s\n", argv[2], strerror(rc));
			return 2;
		}
		while (wait4(pid, &status, 0, &ru) < 0)
			if (errno != EINTR) {
				perror("coldrun: wait4");
				return 2;
			}
		t1 = now();
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "coldrun: %s: exit status %d\n", argv[2],
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status));
			return 2;
		}
		printf("%.6f %.6f\n", t1 - t0,
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	posix_spawn_file_actions_destroy(&fa);
	return fflush(stdout) != 0 || ferror(stdout) ? 2 : 0;
}
