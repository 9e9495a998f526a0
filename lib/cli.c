/*
 * cli.c - program plumbing shared by cmd/.
 *
 * The one piece of process-wide state in the library lives here: the list
 * of temporary output files that a fatal signal must remove.  A signal
 * handler cannot be given an argument, so the list is a static array; it is
 * touched only by muse_out_open/commit/abort and the handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "cli.h"

#define MAX_TEMPS 16
static char *volatile temps[MAX_TEMPS];

static void on_fatal_signal(int sig)
{
	for (int i = 0; i < MAX_TEMPS; i++)
		if (temps[i] != NULL)
			unlink(temps[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

void muse_cli_setup(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

	signal(SIGPIPE, SIG_DFL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal_signal);
}

static void temp_track(char *path, int add)
{
	for (int i = 0; i < MAX_TEMPS; i++) {
		if (add && temps[i] == NULL) {
			temps[i] = path;
			return;
		}
		if (!add && temps[i] == path) {
			temps[i] = NULL;
			return;
		}
	}
}

void muse_cli_warn(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void muse_cli_err(const char *prog, const struct muse_err *e)
{
	char buf[1024];

	muse_cli_warn(prog, "%s", muse_err_format(e, buf, sizeof(buf)));
}

int muse_cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	/* NULL: getopt has already said what was wrong. */
	if (fmt != NULL) {
		fprintf(stderr, "%s: ", prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	return MUSE_EXIT_ERROR;
}

int muse_cli_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void muse_cli_version(const char *prog)
{
	printf("%s (muse) %s\n", prog, MUSE_VERSION);
	printf("zstd %s, xxhash %u.%u.%u\n", ZSTD_versionString(),
	    XXH_versionNumber() / 10000, XXH_versionNumber() / 100 % 100,
	    XXH_versionNumber() % 100);
}

int muse_cli_close_stdout(const char *prog, int status)
{
	int bad = fflush(stdout) != 0 || ferror(stdout);

	if (fclose(stdout) != 0)
		bad = 1;
	/* An error already reported (say a failed commit) is not said twice. */
	if (bad && errno != EPIPE && status == MUSE_EXIT_OK) {
		muse_cli_warn(prog, "write error: %s", strerror(errno ? errno : EIO));
		return MUSE_EXIT_ERROR;
	}
	return status;
}

int muse_out_open(struct muse_out *o, const char *path, int binary, int force,
	struct muse_err *e)
{
	int fd;
	size_t n;

	memset(o, 0, sizeof(*o));
	if (path == NULL || strcmp(path, "-") == 0) {
		if (binary && !force && isatty(STDOUT_FILENO)) {
			muse_err_where(e, "<stdout>", 0, UINT64_MAX);
			return muse_err_set(e, MUSE_EUSAGE,
			    "refusing to write binary output to a terminal "
			    "(use -o FILE, a pipe, or --force)");
		}
		o->fp = stdout;
		o->is_stdout = 1;
		return 0;
	}
	/*
	 * A FIFO, a device or /dev/null is written in place: renaming a
	 * temporary over it would replace it, and it cannot hold a partial
	 * file anyway.
	 */
	{
		struct stat st;

		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			if ((o->fp = fopen(path, "wb")) == NULL) {
				int err = errno;

				muse_err_where(e, path, 0, UINT64_MAX);
				muse_err_set(e, MUSE_EIO, "cannot open: %s",
				    strerror(err));
				e->sys_errno = err;
				return MUSE_EIO;
			}
			o->direct = 1;
			o->path = strdup(path);
			return 0;
		}
	}
	n = strlen(path) + 32;
	o->path = strdup(path);
	o->tmp = malloc(n);
	if (o->path == NULL || o->tmp == NULL) {
		free(o->path);
		free(o->tmp);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
	temp_track(o->tmp, 1);
	fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 || (o->fp = fdopen(fd, "wb")) == NULL) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		temp_track(o->tmp, 0);
		muse_err_where(e, path, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EIO, "cannot create: %s", strerror(err));
		e->sys_errno = err;
		free(o->path);
		free(o->tmp);
		o->path = o->tmp = NULL;
		return MUSE_EIO;
	}
	return 0;
}

int muse_out_commit(struct muse_out *o, struct muse_err *e)
{
	int err = 0;

	if (o->is_stdout) {
		if (fflush(stdout) != 0 || ferror(stdout)) {
			muse_err_where(e, "<stdout>", 0, UINT64_MAX);
			return muse_err_set(e, MUSE_EIO, "write error: %s",
			    strerror(errno ? errno : EIO));
		}
		return 0;
	}
	if (o->direct) {
		if (fflush(o->fp) != 0 || ferror(o->fp))
			err = errno ? errno : EIO;
		if (fclose(o->fp) != 0 && err == 0)
			err = errno ? errno : EIO;
		o->fp = NULL;
		o->direct = 0;
		if (err)
			muse_err_where(e, o->path, 0, UINT64_MAX);
		free(o->path);
		o->path = NULL;
		if (err) {
			muse_err_set(e, MUSE_EIO, "write error: %s", strerror(err));
			e->sys_errno = err;
			return MUSE_EIO;
		}
		return 0;
	}
	if (fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0)
		err = errno ? errno : EIO;
	if (fclose(o->fp) != 0 && err == 0)
		err = errno ? errno : EIO;
	o->fp = NULL;
	if (err == 0 && rename(o->tmp, o->path) != 0)
		err = errno;
	if (err) {
		muse_err_where(e, o->path, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EIO, "write error: %s", strerror(err));
		e->sys_errno = err;
		muse_out_abort(o);
		return MUSE_EIO;
	}
	temp_track(o->tmp, 0);
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	return 0;
}

void muse_out_abort(struct muse_out *o)
{
	if (o->is_stdout)
		return;
	if (o->fp != NULL)
		fclose(o->fp);
	o->fp = NULL;
	if (o->tmp != NULL) {
		unlink(o->tmp);
		temp_track(o->tmp, 0);
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
}

int muse_cli_progress_wanted(int forced, int quiet)
{
	if (quiet)
		return 0;
	return forced || isatty(STDERR_FILENO);
}
