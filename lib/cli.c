/*
 * cli.c - program plumbing shared by cmd/.
 *
 * The process-wide state of the library lives here.  The list of temporary
 * output files that a fatal signal must remove: a signal handler cannot be
 * given an argument, so the list is a static array; it is touched only by
 * muse_out_open/commit/abort and the handler.  And the progress line on
 * the screen, if any, which muse_cli_warn erases before it writes: stderr
 * is one per process, and so is the line on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "cli.h"
#include "suggest.h"

#define MAX_TEMPS 16
static char *volatile temps[MAX_TEMPS];
static struct muse_progress *progress_shown;

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
	if (progress_shown != NULL)
		muse_progress_clear(progress_shown);
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

const char *muse_cli_suggest(const char *word, const char *const *names,
	size_t count, char *buf, size_t size)
{
	return muse_suggest(word, strlen(word), names, count, "", buf, size);
}

/* The message for a long option getopt_long refused: arg is "--name[=v]". */
static void long_option_error(const char *prog, const char *arg, int known,
	const struct option *longopts)
{
	const char *name = arg + 2;
	size_t n = strcspn(name, "=");
	struct muse_near nr;
	char buf[512];
	int prefixed = 0;

	if (known) {
		/* getopt_long gives optopt only for an option it found. */
		muse_cli_warn(prog, "option \"--%.*s\" takes no value", (int)n,
		    name);
		return;
	}
	for (const struct option *o = longopts; o->name != NULL; o++)
		if (strncmp(o->name, name, n) == 0)
			prefixed++;
	if (prefixed > 1) {
		int i = 0;
		size_t len;

		snprintf(buf, sizeof(buf), "option \"--%.*s\" is ambiguous:",
		    (int)n, name);
		for (const struct option *o = longopts; o->name != NULL; o++) {
			if (strncmp(o->name, name, n) != 0)
				continue;
			len = strlen(buf);
			snprintf(buf + len, sizeof(buf) - len, "%s\"--%s\"",
			    i == 0 ? " " : i + 1 == prefixed ? " or " : ", ",
			    o->name);
			i++;
		}
		muse_cli_warn(prog, "%s", buf);
		return;
	}
	muse_near_init(&nr, name, n);
	for (const struct option *o = longopts; o->name != NULL; o++)
		muse_near_offer(&nr, o->name, strlen(o->name));
	muse_cli_warn(prog, "unknown option \"--%.*s\"%s", (int)n, name,
	    muse_near_phrase(&nr, "--", buf, sizeof(buf)));
}

int muse_cli_getopt(const char *prog, int argc, char **argv,
	const char *shortopts, const struct option *longopts)
{
	char opts[128];
	int before = optind, c;

	/* A leading ':' makes a missing value ':' rather than '?'. */
	snprintf(opts, sizeof(opts), ":%s",
	    shortopts[0] == ':' ? shortopts + 1 : shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, opts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	/*
	 * A long option is always a whole word, which getopt_long has passed
	 * (optind moved on); a bad short option may sit inside "-qz".
	 */
	if (optind > before && optind - 1 < argc &&
	    strncmp(argv[optind - 1], "--", 2) == 0 && argv[optind - 1][2]) {
		const char *arg = argv[optind - 1];

		if (c == ':')
			muse_cli_warn(prog, "option \"%.*s\" needs a value",
			    (int)strcspn(arg, "="), arg);
		else
			long_option_error(prog, arg, optopt != 0, longopts);
	} else if (c == ':') {
		muse_cli_warn(prog, "option \"-%c\" needs a value", optopt);
	} else if (optopt > 0 && optopt <= CHAR_MAX) {
		muse_cli_warn(prog, "unknown option \"-%c\"", optopt);
	} else {
		muse_cli_warn(prog, "unknown option \"%s\"",
		    optind > 0 && optind - 1 < argc ? argv[optind - 1] : "?");
	}
	return '?';
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

int muse_cli_command(const char *prog, const char *cmd, const void *table,
	size_t n, size_t size)
{
	const char *known[64];
	char near[256];

	for (size_t k = 0; k < n && k < 64; k++) {
		known[k] = *(const char *const *)(const void *)
		    ((const char *)table + k * size);
		if (strcmp(cmd, known[k]) == 0)
			return (int)k;
	}
	muse_cli_usage_error(prog, "unknown command \"%s\"%s", cmd,
	    muse_cli_suggest(cmd, known, n < 64 ? n : 64, near, sizeof(near)));
	return -1;
}

int muse_cli_size(const char *s, size_t *out)
{
	char num[32];
	size_t n = strlen(s);
	uint64_t v, mult = 1;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K': case 'k': mult = 1 << 10; num[--n] = '\0'; break;
	case 'M': case 'm': mult = 1 << 20; num[--n] = '\0'; break;
	case 'G': case 'g': mult = 1 << 30; num[--n] = '\0'; break;
	}
	if (muse_cli_u64(num, 1, UINT64_MAX / mult, &v))
		return -1;
	*out = (size_t)(v * mult);
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

/* ------------------------------------------------------------------ */
/* Progress line                                                       */
/* ------------------------------------------------------------------ */

#define PROGRESS_INTERVAL_NS 250000000u
/* Rates over shorter times than this are noise, not worth showing. */
#define PROGRESS_MIN_RATE_NS 500000000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void muse_progress_start(struct muse_progress *p, const char *prog, int on)
{
	const char *term = getenv("TERM"), *no_color = getenv("NO_COLOR");
	struct winsize ws;

	memset(p, 0, sizeof(*p));
	p->prog = prog;
	p->on = on;
	if (!on)
		return;
	p->plain = !isatty(STDERR_FILENO) ||
	    (no_color != NULL && *no_color != '\0') ||
	    term == NULL || *term == '\0' || strcmp(term, "dumb") == 0;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		p->cols = ws.ws_col;
	p->start_ns = now_ns();
}

int64_t muse_progress_total(const muse_input *in, const char *path)
{
	struct stat st;

	if (muse_input_size(in) >= 0 || !muse_input_compressed(in))
		return muse_input_size(in);
	if (path == NULL || strcmp(path, "-") == 0 || stat(path, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return -1;
	return st.st_size;
}

/* Writes "prog: text" over the line shown. */
static void draw(struct muse_progress *p, const char *text)
{
	char line[512];
	size_t len;

	snprintf(line, sizeof(line), "%s: %s", p->prog, text);
	len = strlen(line);
	/* A line that wrapped could not be redrawn by "\r". */
	if (p->cols > 1 && len > p->cols - 1) {
		len = p->cols - 1;
		while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
			len--;      /* not inside a UTF-8 sequence */
		line[len] = '\0';
	}
	if (p->plain)
		fprintf(stderr, "\r%s%*s", line,
		    p->shown > len ? (int)(p->shown - len) : 0, "");
	else
		fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	p->shown = len;
	progress_shown = p;
}

/* "950", "12.3k", "1.2M", "3.4G": three digits at most before the point. */
static void put_count(char *b, size_t n, uint64_t v)
{
	static const char unit[] = "kMGTPE";
	double x = (double)v;
	int u = -1;

	if (v < 1000) {
		snprintf(b, n, "%llu", (unsigned long long)v);
		return;
	}
	while (x >= 999.95 && u < 5) {
		x /= 1000;
		u++;
	}
	snprintf(b, n, "%.1f%c", x, unit[u]);
}

/* "45s", "3m07s", "2h05m". */
static void put_eta(char *b, size_t n, double s)
{
	unsigned long long t = (unsigned long long)(s + 0.5);

	if (t < 60)
		snprintf(b, n, "%llus", t);
	else if (t < 3600)
		snprintf(b, n, "%llum%02llus", t / 60, t % 60);
	else
		snprintf(b, n, "%lluh%02llum", t / 3600, t / 60 % 60);
}

/* Appends to the text of a line (cut at its end). */
struct text {
	char s[400];
	size_t len;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->s + t->len, sizeof(t->s) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n;
	if (t->len >= sizeof(t->s))
		t->len = sizeof(t->s) - 1;
}

void muse_progress_update(struct muse_progress *p, uint64_t rows,
	uint64_t bytes, int64_t total)
{
	struct text line = { .len = 0 };
	char num[32];
	const char *sep = "";
	uint64_t t;

	if (!p->on || (t = now_ns()) < p->next_ns)
		return;
	p->next_ns = t + PROGRESS_INTERVAL_NS;
	line.s[0] = '\0';
	if (p->name != NULL) {
		put(&line, "%s", p->name);
		sep = ": ";
	}
	if (rows != MUSE_PROGRESS_UNKNOWN) {
		put_count(num, sizeof(num), rows);
		put(&line, "%s%s %s%s", sep, num, p->unit ? p->unit : "row",
		    rows == 1 ? "" : "s");
		sep = ", ";
	}
	if (bytes != MUSE_PROGRESS_UNKNOWN) {
		uint64_t dt = t - p->start_ns;
		double rate = dt >= PROGRESS_MIN_RATE_NS ?
		    (double)bytes / ((double)dt / 1e9) : 0;
		int known = total >= 0 && bytes <= (uint64_t)total;

		put(&line, "%s%.1f MB", sep, (double)bytes / 1e6);
		if (known && total > 0)
			put(&line, " (%d%%)",
			    (int)(100.0 * (double)bytes / (double)total));
		if (rate > 0) {
			put(&line, rate < 10e6 ? ", %.1f MB/s" : ", %.0f MB/s",
			    rate / 1e6);
			if (known) {
				put_eta(num, sizeof(num),
				    (double)((uint64_t)total - bytes) / rate);
				put(&line, ", ETA %s", num);
			}
		}
	}
	draw(p, line.s);
}

void muse_progress_count(struct muse_progress *p, const char *phase,
	uint64_t done, uint64_t total)
{
	struct text line = { .len = 0 };
	char num[32];
	uint64_t t, dt;
	double rate;

	if (!p->on)
		return;
	t = now_ns();
	if (strncmp(p->phase, phase, sizeof(p->phase) - 1) != 0) {
		snprintf(p->phase, sizeof(p->phase), "%s", phase);
		p->start_ns = t;
		p->next_ns = 0;     /* a new phase is drawn at once */
	}
	if (t < p->next_ns)
		return;
	p->next_ns = t + PROGRESS_INTERVAL_NS;
	dt = t - p->start_ns;
	rate = dt >= PROGRESS_MIN_RATE_NS ? (double)done / ((double)dt / 1e9) : 0;
	line.s[0] = '\0';
	if (p->name != NULL)
		put(&line, "%s: ", p->name);
	put(&line, "%s", p->phase);
	if (done == 0 && total == MUSE_PROGRESS_UNKNOWN) {
		draw(p, line.s);      /* a phase that does not count */
		return;
	}
	put_count(num, sizeof(num), done);
	put(&line, ": %s", num);
	if (total != MUSE_PROGRESS_UNKNOWN && done <= total) {
		put_count(num, sizeof(num), total);
		put(&line, " of %s", num);
		if (total > 0)
			put(&line, " (%d%%)", (int)(100.0 * (double)done /
			    (double)total));
	}
	if (rate > 0) {
		put_count(num, sizeof(num), (uint64_t)(rate + 0.5));
		put(&line, ", %s/s", num);
		if (total != MUSE_PROGRESS_UNKNOWN && done <= total) {
			put_eta(num, sizeof(num), (double)(total - done) / rate);
			put(&line, ", ETA %s", num);
		}
	}
	draw(p, line.s);
}

void muse_progress_note(struct muse_progress *p, const char *what)
{
	if (!p->on)
		return;
	draw(p, what);
	p->next_ns = now_ns() + PROGRESS_INTERVAL_NS;
}

void muse_progress_input(struct muse_progress *p, const char *name)
{
	if (!p->on)
		return;
	p->name = name;
	p->phase[0] = '\0';
	/* At once: the line names the input before. */
	muse_progress_note(p, name);
	p->start_ns = now_ns();
}

void muse_progress_clear(struct muse_progress *p)
{
	if (!p->on || p->shown == 0)
		return;
	if (p->plain)
		fprintf(stderr, "\r%*s\r", (int)p->shown, "");
	else
		fputs("\r\033[K", stderr);
	fflush(stderr);
	p->shown = 0;
	if (progress_shown == p)
		progress_shown = NULL;
}

void muse_progress_end(struct muse_progress *p)
{
	muse_progress_clear(p);
	p->on = 0;
}
