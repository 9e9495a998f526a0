/*
 * zio.c - byte input from a file, standard input or memory, with zstd
 * decompressed transparently.
 *
 * Design.  An input is opened once and then read sequentially; nothing
 * seeks, so pipes and terminals work like files.  At open the first bytes
 * are read into a staging buffer and compared with the zstd frame magic
 * (28 B5 2F FD, RFC 8878 section 3.1.1) and the skippable-frame magics
 * (5? 2A 4D 18, section 3.1.2), which a zstd stream may also start with.
 * Text never begins with those bytes: 0x28 is '(' but B5 is not valid
 * UTF-8 after it, and 0x18 is a control character.  Detecting at open, not
 * at the first read, lets muse_input_size() answer correctly from the
 * start.
 *
 * Plain input: the staged bytes are handed out first, then read(2) fills
 * the caller's buffer directly, so a large read costs no copy.
 *
 * Compressed input: a ZSTD_DStream decodes from the staging buffer (or
 * straight from the caller's memory for muse_input_mem) into the caller's
 * buffer.  Frames may be concatenated, as zstd(1) writes them and as
 * "cat a.zst b.zst" produces; the decoder simply starts a new frame after
 * one ends.  The input ends cleanly only between frames: raw input that
 * runs out inside a frame is a truncated input, and bytes that are not a
 * frame (trailing garbage, a damaged header, a bad checksum) are corrupt
 * input.  zstd's default window limit (128 MiB) stays in force, so a
 * hostile frame cannot make us allocate more than that.
 *
 * Errors name the input (its path, or "<stdin>") and are sticky for
 * compressed input: once the decoder has failed its state is undefined,
 * so later reads repeat the first error instead of decoding on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "zio.h"

/* Staging buffer for compressed bytes; large enough to keep read(2) calls few. */
#define RAW_SIZE (256u << 10)

struct muse_input {
	int fd;                 /* -1 for memory input */
	int close_fd;           /* 0 for standard input */
	uint8_t *raw;           /* staging buffer (file input only) */
	ZSTD_inBuffer zin;      /* the unread part of raw, or of mem */
	int raw_eof;            /* the underlying file or memory is exhausted */
	ZSTD_DStream *zd;       /* NULL for plain input */
	size_t zret;            /* last decoder result: 0 between frames */
	int failed;             /* sticky error code of a compressed input */
	char failmsg[128];
	int64_t size;
	uint64_t consumed;
	char name[];
};

static void where(const muse_input *in, struct muse_err *e)
{
	muse_err_where(e, in->name, 0, UINT64_MAX);
}

/* read(2) that retries on EINTR; returns the count, 0 at end, or -1. */
static ssize_t read_eintr(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int read_error(muse_input *in, struct muse_err *e)
{
	int saved = errno;

	where(in, e);
	muse_err_set(e, MUSE_EIO, "read error: %s", strerror(saved));
	if (e != NULL)
		e->sys_errno = saved;
	return MUSE_EIO;
}

/*
 * Reads more raw bytes into the staging buffer after what is unread, until
 * it holds at least want bytes or the file ends.  0 or MUSE_EIO.
 */
static int raw_fill(muse_input *in, size_t want, struct muse_err *e)
{
	size_t have = in->zin.size - in->zin.pos;

	if (in->zin.pos > 0) {
		memmove(in->raw, in->raw + in->zin.pos, have);
		in->zin.pos = 0;
		in->zin.size = have;
	}
	while (!in->raw_eof && in->zin.size < want) {
		ssize_t r = read_eintr(in->fd, in->raw + in->zin.size,
		    RAW_SIZE - in->zin.size);

		if (r < 0)
			return read_error(in, e);
		if (r == 0)
			in->raw_eof = 1;
		in->zin.size += (size_t)r;
		in->consumed += (uint64_t)r;
	}
	return 0;
}

/* p holds at least four bytes. */
static int is_zstd_magic(const uint8_t *p)
{
	if (p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD)
		return 1;
	return (p[0] & 0xF0) == 0x50 && p[1] == 0x2A && p[2] == 0x4D &&
	    p[3] == 0x18;
}

static muse_input *alloc_input(const char *name, struct muse_err *e)
{
	size_t len = strlen(name);
	muse_input *in = calloc(1, sizeof(*in) + len + 1);

	if (in == NULL) {
		muse_err_where(e, name, 0, UINT64_MAX);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	memcpy(in->name, name, len + 1);
	in->fd = -1;
	in->size = -1;
	return in;
}

/* Switches the input to decompression when its first bytes are a frame. */
static int detect(muse_input *in, struct muse_err *e)
{
	size_t have = in->zin.size - in->zin.pos;

	if (have < 4 ||
	    !is_zstd_magic((const uint8_t *)in->zin.src + in->zin.pos))
		return 0;
	in->zd = ZSTD_createDStream();
	if (in->zd == NULL) {
		where(in, e);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	ZSTD_initDStream(in->zd);
	/* A frame has begun, so ending here would be a truncation. */
	in->zret = 1;
	in->size = -1;
	return 0;
}

/* Finishes opening an input whose fd is set: size, buffer, zstd detection. */
static muse_input *setup_fd(muse_input *in, struct muse_err *e)
{
	struct stat st;

	if (fstat(in->fd, &st) < 0)
		goto fail_open;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail_open;
	}
	if (S_ISREG(st.st_mode)) {
		/* Standard input may be a file already partly read. */
		off_t off = lseek(in->fd, 0, SEEK_CUR);

		in->size = st.st_size - (off > 0 ? off : 0);
	}
	in->raw = malloc(RAW_SIZE);
	if (in->raw == NULL) {
		where(in, e);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto fail;
	}
	in->zin.src = in->raw;
	if (raw_fill(in, 4, e) < 0 || detect(in, e) < 0)
		goto fail;
	return in;

fail_open:
	{
		int saved = errno;

		where(in, e);
		muse_err_set(e, MUSE_EIO, "cannot open: %s", strerror(saved));
		if (e != NULL)
			e->sys_errno = saved;
	}
fail:
	muse_input_free(in);
	return NULL;
}

muse_input *muse_input_open(const char *path, struct muse_err *e)
{
	int use_stdin = path == NULL || strcmp(path, "-") == 0;
	muse_input *in = alloc_input(use_stdin ? "<stdin>" : path, e);

	if (in == NULL)
		return NULL;
	if (use_stdin) {
		in->fd = STDIN_FILENO;
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			int saved = errno;

			where(in, e);
			muse_err_set(e, MUSE_EIO, "cannot open: %s", strerror(saved));
			if (e != NULL)
				e->sys_errno = saved;
			muse_input_free(in);
			return NULL;
		}
		in->close_fd = 1;
	}
	return setup_fd(in, e);
}

muse_input *muse_input_fd(int fd, const char *name, struct muse_err *e)
{
	muse_input *in = alloc_input(name != NULL ? name : "<fd>", e);

	if (in == NULL) {
		close(fd);
		return NULL;
	}
	in->fd = fd;
	in->close_fd = 1;
	return setup_fd(in, e);
}

muse_input *muse_input_mem(const void *p, size_t n, const char *name,
	struct muse_err *e)
{
	muse_input *in = alloc_input(name != NULL ? name : "<memory>", e);

	if (in == NULL)
		return NULL;
	in->zin.src = p;
	in->zin.size = n;
	in->raw_eof = 1;
	in->size = (int64_t)n;
	/* Memory is read at once as far as progress reports go. */
	in->consumed = n;
	if (detect(in, e) < 0) {
		muse_input_free(in);
		return NULL;
	}
	return in;
}

void muse_input_free(muse_input *in)
{
	if (in == NULL)
		return;
	if (in->close_fd)
		close(in->fd);
	ZSTD_freeDStream(in->zd);
	free(in->raw);
	free(in);
}

const char *muse_input_name(const muse_input *in)
{
	return in->name;
}

int muse_input_compressed(const muse_input *in)
{
	return in->zd != NULL;
}

int64_t muse_input_size(const muse_input *in)
{
	return in->size;
}

uint64_t muse_input_consumed(const muse_input *in)
{
	return in->consumed;
}

static long read_plain(muse_input *in, uint8_t *buf, size_t n,
	struct muse_err *e)
{
	size_t got = in->zin.size - in->zin.pos;

	/* Staged bytes first, then straight into the caller's buffer. */
	if (got > n)
		got = n;
	if (got > 0) {
		memcpy(buf, (const uint8_t *)in->zin.src + in->zin.pos, got);
		in->zin.pos += got;
	}
	while (got < n && !in->raw_eof) {
		ssize_t r = read_eintr(in->fd, buf + got, n - got);

		if (r < 0)
			return read_error(in, e);
		if (r == 0)
			in->raw_eof = 1;
		got += (size_t)r;
		in->consumed += (uint64_t)r;
	}
	return (long)got;
}

static int zstd_fail(muse_input *in, int code, const char *msg,
	struct muse_err *e)
{
	size_t i;

	in->failed = code;
	snprintf(in->failmsg, sizeof(in->failmsg), "zstd: %s", msg);
	/* zstd names its errors capitalised; house style is lower-case. */
	i = strlen("zstd: ");
	if (in->failmsg[i] >= 'A' && in->failmsg[i] <= 'Z')
		in->failmsg[i] = (char)(in->failmsg[i] - 'A' + 'a');
	where(in, e);
	return muse_err_set(e, code, "%s", in->failmsg);
}

static long read_zstd(muse_input *in, uint8_t *buf, size_t n,
	struct muse_err *e)
{
	ZSTD_outBuffer out = { buf, n, 0 };
	size_t r;

	while (out.pos < out.size) {
		if (in->zin.pos == in->zin.size && !in->raw_eof &&
		    raw_fill(in, 1, e) < 0)
			return MUSE_EIO;
		if (in->zin.pos == in->zin.size && in->raw_eof) {
			size_t before = out.pos;

			if (in->zret == 0)
				break;
			/*
			 * The raw input is gone inside a frame.  The decoder
			 * may still hold output that did not fit last time;
			 * once it has none left, the frame is cut short.
			 */
			r = ZSTD_decompressStream(in->zd, &out, &in->zin);
			if (ZSTD_isError(r))
				return zstd_fail(in, MUSE_EFORMAT,
				    ZSTD_getErrorName(r), e);
			in->zret = r;
			if (out.pos == before && r != 0)
				return zstd_fail(in, MUSE_ETRUNC,
				    "truncated input", e);
			continue;
		}
		r = ZSTD_decompressStream(in->zd, &out, &in->zin);
		if (ZSTD_isError(r))
			return zstd_fail(in, MUSE_EFORMAT, ZSTD_getErrorName(r),
			    e);
		in->zret = r;
	}
	return (long)out.pos;
}

long muse_input_read(muse_input *in, void *buf, size_t n, struct muse_err *e)
{
	/* The count must fit the return type; callers loop anyway. */
	if (n > (size_t)LONG_MAX)
		n = (size_t)LONG_MAX;
	if (in->failed) {
		where(in, e);
		return muse_err_set(e, in->failed, "%s", in->failmsg);
	}
	if (in->zd != NULL)
		return read_zstd(in, buf, n, e);
	return read_plain(in, buf, n, e);
}

FILE *muse_tmp_file(const char *dir, const char *prefix, int *fd,
	struct muse_err *e)
{
	size_t len = strlen(dir) + strlen(prefix) + 16;
	char *path = malloc(len);
	FILE *fp = NULL;
	int wfd = -1;

	*fd = -1;
	if (path == NULL) {
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(path, len, "%s/%s.XXXXXX", dir, prefix);
	if ((*fd = mkstemp(path)) < 0 || unlink(path) != 0 ||
	    (wfd = dup(*fd)) < 0 || (fp = fdopen(wfd, "wb")) == NULL) {
		int err = errno ? errno : EIO;

		muse_err_where(e, path, 0, UINT64_MAX);
		muse_err_set(e, MUSE_EIO, "cannot create a temporary file: %s",
		    strerror(err));
		e->sys_errno = err;
		if (wfd >= 0)
			close(wfd);
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	free(path);
	return fp;
}
