/*
 * table.c - partitioned table directories: manifests, pruning, commits.
 */
#include "table.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "buf.h"
#include "stream.h"
#include "ts.h"

#define MANIFEST_MAGIC "muse-table 1"
#define COMMIT_TRIES 1000
/* Partitions with an open data file at once; the least recently used is
 * finished (its file complete) when another is needed. */
#define OPEN_PARTS 256
#define HINTS 64

void muse_manifest_free(struct muse_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->f[i].path);
		free(m->f[i].schema);
	}
	free(m->f);
	memset(m, 0, sizeof(*m));
}

static char *path_join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *p = malloc(na + nb + 2);

	if (p) {
		memcpy(p, a, na);
		p[na] = '/';
		memcpy(p + na + 1, b, nb + 1);
	}
	return p;
}

int muse_table_is_dir(const char *path)
{
	struct stat st;
	char *v = path_join(path, "versions");
	int yes = v && stat(v, &st) == 0 && S_ISDIR(st.st_mode);

	free(v);
	return yes;
}

static int io_err(struct muse_err *e, const char *name, const char *what)
{
	int err = errno ? errno : EIO;

	muse_err_where(e, name, 0, UINT64_MAX);
	muse_err_set(e, MUSE_EIO, "%s: %s", what, strerror(err));
	e->sys_errno = err;
	return MUSE_EIO;
}

static int parse_i64(const char *s, int64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/*
 * The newest and oldest version numbers in dir/versions (0 when there is
 * none).
 */
static int version_range(const char *dir, uint64_t *v, uint64_t *oldest,
	struct muse_err *e);

static int newest_version(const char *dir, uint64_t *v, struct muse_err *e)
{
	uint64_t oldest;

	return version_range(dir, v, &oldest, e);
}

static int version_range(const char *dir, uint64_t *v, uint64_t *oldest,
	struct muse_err *e)
{
	char *vd = path_join(dir, "versions");
	DIR *d;
	struct dirent *de;

	*v = *oldest = 0;
	if (vd == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((d = opendir(vd)) == NULL) {
		int rc = errno == ENOENT ? 0 : io_err(e, vd, "cannot open");

		free(vd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t n;

		if (strlen(de->d_name) != 8 ||
		    strspn(de->d_name, "0123456789") != 8 ||
		    parse_u64(de->d_name, &n))
			continue;
		if (n > *v)
			*v = n;
		if (n && (*oldest == 0 || n < *oldest))
			*oldest = n;
	}
	closedir(d);
	free(vd);
	return 0;
}

/* ---- manifest text ---- */

static int file_push(struct muse_manifest *m, struct muse_table_file *f)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		void *p = realloc(m->f, cap * sizeof(*m->f));

		if (p == NULL)
			return -1;
		m->f = p;
		m->cap = cap;
	}
	m->f[m->n++] = *f;
	return 0;
}

static int bad_manifest(struct muse_err *e, const char *name, uint64_t line,
	const char *what)
{
	muse_err_where(e, name, line, UINT64_MAX);
	return muse_err_set(e, MUSE_EFORMAT, "bad manifest: %s", what);
}

/* Splits s at tabs into at most max fields; the count. */
static size_t split_tabs(char *s, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		f[n++] = s;
		if ((s = strchr(s, '\t')) == NULL)
			break;
		*s++ = '\0';
	}
	return s ? max + 1 : n;
}

/*
 * Parses the text of a manifest (NUL-terminated, modified in place):
 *
 *     muse-table 1
 *     version 7
 *     buckets impressions 16        (one line per table with files)
 *     file TAB table TAB date|- TAB b/n TAB rows TAB bytes TAB min_ts
 *          TAB max_ts TAB xxh64 TAB schema TAB path
 *     end N XXH64                   (file count; hash of the bytes before)
 */
static int parse_manifest(char *text, size_t len, const char *name,
	struct muse_manifest *m, struct muse_err *e)
{
	char *line = text, *nl, *end_line = NULL;
	uint64_t ln = 0, count, sum;

	memset(m, 0, sizeof(*m));
	/* The last line, "end N XXH64", hashes everything before it. */
	{
		size_t k = len;

		if (len == 0 || text[len - 1] != '\n')
			return bad_manifest(e, name, 0, "truncated (no final newline)");
		for (k = len - 1; k > 0 && text[k - 1] != '\n'; k--)
			;
		if (strncmp(text + k, "end ", 4))
			return bad_manifest(e, name, 0, "no end line (truncated)");
		sum = strtoull(text + k + 4 + strcspn(text + k + 4, " "), NULL, 16);
		if (XXH64(text, k, 0) != sum)
			return bad_manifest(e, name, 0, "checksum mismatch");
	}
	while (line < text + len) {
		if ((nl = memchr(line, '\n', (size_t)(text + len - line))) == NULL)
			return bad_manifest(e, name, ln + 1, "last line unterminated");
		*nl = '\0';
		ln++;
		if (ln == 1) {
			if (strcmp(line, MANIFEST_MAGIC))
				return bad_manifest(e, name, ln, "not a muse table manifest");
		} else if (strncmp(line, "version ", 8) == 0) {
			if (parse_u64(line + 8, &m->version) || m->version == 0)
				return bad_manifest(e, name, ln, "bad version");
		} else if (strncmp(line, "buckets ", 8) == 0) {
			char *sp = strchr(line + 8, ' ');
			uint64_t n;
			int t;

			if (sp == NULL)
				return bad_manifest(e, name, ln, "bad buckets line");
			*sp = '\0';
			if ((t = muse_table_parse(line + 8)) < 1 || t > 4 ||
			    parse_u64(sp + 1, &n) || n < 1 ||
			    n > MUSE_TABLE_BUCKETS_MAX)
				return bad_manifest(e, name, ln, "bad buckets line");
			m->buckets[t] = (uint32_t)n;
		} else if (strncmp(line, "file\t", 5) == 0) {
			char *f[12], *slash;
			struct muse_table_file tf;
			uint64_t b, n;

			memset(&tf, 0, sizeof(tf));
			if (split_tabs(line + 5, f, 10) != 10)
				return bad_manifest(e, name, ln, "a file line needs 10 fields");
			if ((tf.table = muse_table_parse(f[0])) < 1 || tf.table > 4)
				return bad_manifest(e, name, ln, "unknown table");
			if (strcmp(f[1], "-") == 0)
				tf.day = MUSE_TABLE_NODATE;
			else if (muse_day_parse(f[1], strlen(f[1]), &tf.day))
				return bad_manifest(e, name, ln, "bad date");
			if ((slash = strchr(f[2], '/')) == NULL)
				return bad_manifest(e, name, ln, "bad bucket");
			*slash = '\0';
			if (parse_u64(f[2], &b) || parse_u64(slash + 1, &n) ||
			    n < 1 || n > MUSE_TABLE_BUCKETS_MAX || b >= n)
				return bad_manifest(e, name, ln, "bad bucket");
			tf.bucket = (uint32_t)b;
			tf.nbuckets = (uint32_t)n;
			if (parse_u64(f[3], &tf.rows) || parse_u64(f[4], &tf.bytes) ||
			    parse_i64(f[5], &tf.min_ts) || parse_i64(f[6], &tf.max_ts) ||
			    strlen(f[7]) != 16 || strspn(f[7], "0123456789abcdef") != 16)
				return bad_manifest(e, name, ln, "bad number");
			tf.xxh64 = strtoull(f[7], NULL, 16);
			if (f[9][0] == '\0' || f[9][0] == '/' || strstr(f[9], ".."))
				return bad_manifest(e, name, ln, "bad path");
			if ((tf.schema = strdup(f[8])) == NULL ||
			    (tf.path = strdup(f[9])) == NULL ||
			    file_push(m, &tf)) {
				free(tf.schema);
				free(tf.path);
				return muse_err_set(e, MUSE_ENOMEM, "out of memory");
			}
		} else if (strncmp(line, "end ", 4) == 0) {
			char *sp = strchr(line + 4, ' ');

			end_line = line;
			if (sp == NULL || nl + 1 != text + len)
				return bad_manifest(e, name, ln, "bad end line");
			*sp = '\0';
			if (parse_u64(line + 4, &count) || strlen(sp + 1) != 16 ||
			    strspn(sp + 1, "0123456789abcdef") != 16)
				return bad_manifest(e, name, ln, "bad end line");
		} else {
			return bad_manifest(e, name, ln, "unknown line");
		}
		line = nl + 1;
	}
	if (end_line == NULL)
		return bad_manifest(e, name, ln, "no end line (truncated)");
	if (count != m->n)
		return bad_manifest(e, name, ln, "file count differs from the end line");
	if (m->version == 0)
		return bad_manifest(e, name, ln, "no version line");
	for (size_t i = 0; i < m->n; i++)
		if (m->buckets[m->f[i].table] != m->f[i].nbuckets)
			return bad_manifest(e, name, 0, "a file's bucket count differs from its table's");
	return 0;
}

/* On an error, m is left empty (nothing to free). */
int muse_manifest_parse(char *text, size_t len, const char *name,
	struct muse_manifest *m, struct muse_err *e)
{
	int rc = parse_manifest(text, len, name, m, e);

	if (rc)
		muse_manifest_free(m);
	return rc;
}

static int read_all(const char *path, struct muse_buf *b, struct muse_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	b->len = 0;
	if (fd < 0)
		return io_err(e, path, "cannot open");
	for (;;) {
		if (muse_buf_reserve(b, 65536)) {
			close(fd);
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		}
		k = read(fd, b->p + b->len, 65536);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return io_err(e, path, "read error");
		}
		if (k == 0)
			break;
		b->len += (size_t)k;
		if (b->len > (64u << 20)) {
			close(fd);
			muse_err_where(e, path, 0, UINT64_MAX);
			return muse_err_set(e, MUSE_ELIMIT, "manifest larger than 64 MB");
		}
	}
	close(fd);
	return 0;
}

int muse_table_load(const char *dir, uint64_t version,
	struct muse_manifest *m, struct muse_err *e)
{
	struct muse_buf b = { 0 };
	char name[32], *vd, *path;
	uint64_t newest, oldest;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = version_range(dir, &newest, &oldest, e)) < 0)
		return rc;
	if (version == 0)
		version = newest;
	if (version == 0)
		return 0;
	snprintf(name, sizeof(name), "%08" PRIu64, version);
	if ((vd = path_join(dir, "versions")) == NULL ||
	    (path = path_join(vd, name)) == NULL) {
		free(vd);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	free(vd);
	if (version > newest && access(path, F_OK) && errno == ENOENT) {
		muse_err_where(e, dir, 0, UINT64_MAX);
		rc = muse_err_set(e, MUSE_EUSAGE, "no version %" PRIu64
		    " (newest is %" PRIu64 ")", version, newest);
	} else if (version < oldest && access(path, F_OK) && errno == ENOENT) {
		muse_err_where(e, dir, 0, UINT64_MAX);
		rc = muse_err_set(e, MUSE_EUSAGE, "version %" PRIu64 " was "
		    "removed by vacuum (versions %" PRIu64 " to %" PRIu64
		    " remain)", version, oldest, newest);
		e->sys_errno = ENOENT;
	} else if ((rc = read_all(path, &b, e)) == 0) {
		if (muse_buf_reserve(&b, 1)) {
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		} else {
			b.p[b.len] = '\0';
			rc = muse_manifest_parse((char *)b.p, b.len, path, m, e);
			if (rc == 0 && m->version != version)
				rc = bad_manifest(e, path, 0,
				    "version line differs from the file name");
		}
	}
	if (rc < 0)
		muse_manifest_free(m);
	free(path);
	muse_buf_free(&b);
	return rc;
}

int muse_manifest_format(const struct muse_manifest *m, struct muse_buf *b)
{
	char line[256], day[16];

	b->len = 0;
	if (muse_buf_printf(b, "%s\nversion %" PRIu64 "\n", MANIFEST_MAGIC,
	    m->version))
		return -1;
	for (int t = 1; t <= 4; t++)
		if (m->buckets[t] && muse_buf_printf(b, "buckets %s %u\n",
		    muse_table_name(t), m->buckets[t]))
			return -1;
	for (size_t i = 0; i < m->n; i++) {
		const struct muse_table_file *f = &m->f[i];

		if (f->day == MUSE_TABLE_NODATE)
			strcpy(day, "-");
		else
			muse_day_format(f->day, day);
		snprintf(line, sizeof(line), "%s\t%s\t%u/%u\t%" PRIu64 "\t%" PRIu64
		    "\t%" PRId64 "\t%" PRId64 "\t%016" PRIx64, muse_table_name(f->table),
		    day, f->bucket, f->nbuckets, f->rows, f->bytes, f->min_ts,
		    f->max_ts, f->xxh64);
		if (muse_buf_printf(b, "file\t%s\t%s\t%s\n", line, f->schema, f->path))
			return -1;
	}
	return muse_buf_printf(b, "end %zu %016" PRIx64 "\n", m->n,
	    (uint64_t)XXH64(b->p, b->len, 0));
}

/* ---- pruning ---- */

/* The smallest 32-bit bucket coordinate of bucket t of n. */
static uint64_t bucket_lo(uint64_t t, uint64_t n)
{
	return ((t << 32) + n - 1) / n;
}

static int bucket_overlaps(const struct muse_table_file *f, uint32_t b,
	uint32_t n)
{
	uint64_t lo, hi;

	if (n == 0)
		return 1;
	lo = bucket_lo(f->bucket, f->nbuckets);
	hi = bucket_lo(f->bucket + 1, f->nbuckets) - 1;
	return ((lo * n) >> 32) <= b && b <= ((hi * n) >> 32);
}

int muse_table_select(const struct muse_manifest *m, int has_dates,
	int64_t day_from, int64_t day_to, uint32_t window_s, uint32_t b,
	uint32_t n, size_t **idx, size_t *nidx, struct muse_err *e)
{
	/* Impressions can matter from window_s before the first day. */
	int64_t imp_from = day_from - ((int64_t)window_s + 86399) / 86400;

	*nidx = 0;
	if ((*idx = malloc((m->n ? m->n : 1) * sizeof(**idx))) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		const struct muse_table_file *f = &m->f[i];

		if (f->table != MUSE_TABLE_ASSETS && !bucket_overlaps(f, b, n))
			continue;
		if (has_dates && f->day != MUSE_TABLE_NODATE) {
			int64_t from = f->table == MUSE_TABLE_IMPRESSIONS ?
			    imp_from : day_from;

			if (f->day < from || f->day > day_to)
				continue;
		}
		(*idx)[(*nidx)++] = i;
	}
	return 0;
}

/* ---- writing ---- */

struct part {
	int used;
	int table;
	int64_t day;
	uint32_t bucket;
	uint32_t schema;          /* index into the writer's schemas */
	FILE *fp;                 /* NULL: no open file */
	muse_writer *w;
	size_t file;              /* index into t->files of the open file */
	uint64_t last_use;
};

struct muse_table_writer {
	char *dir;
	int level;
	uint8_t hash;             /* of the user ids, in the files' headers */
	uint64_t seed;
	uint32_t req_buckets;
	struct muse_manifest base; /* the newest version when we started */
	uint32_t buckets[5];
	void *cctx;               /* shared by the partitions' writers */
	muse_behind *behind;      /* or the thread compressing for them all */
	char tag[64];
	uint64_t seq;
	uint64_t clock;
	/* the current source */
	int table;
	uint32_t schema;
	char **schemas;
	size_t nschemas;
	/* partitions: open addressing on (table, day, bucket, schema) */
	struct part *parts;
	size_t nparts, cap;
	/*
	 * Where the last row of each bucket (mod HINTS) went: rows of a day
	 * mostly go where the last row of their bucket went, found without
	 * hashing (+1; 0 is none).
	 */
	size_t hint[HINTS];
	size_t nopen;
	/* files written by this commit (paths relative to dir) */
	struct muse_manifest files;
	int committed;
};

static int mkdir_p(const char *path, struct muse_err *e)
{
	char *p = strdup(path);

	if (p == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0777) && errno != EEXIST) {
				int rc = io_err(e, p, "cannot create directory");

				free(p);
				return rc;
			}
			if ((*s = c) == '\0')
				break;
		}
	}
	free(p);
	return 0;
}

static int fsync_dir(const char *path, struct muse_err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return io_err(e, path, "cannot open directory");
	if (fsync(fd) && errno != EINVAL) {
		int rc = io_err(e, path, "fsync");

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/* A tag unique among writers: the time, the process, an address. */
static void make_tag(char *tag, size_t n, const void *salt)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tag, n, "%lx%09lx-%lx-%lx", (unsigned long)ts.tv_sec,
	    (unsigned long)ts.tv_nsec, (unsigned long)getpid(),
	    (unsigned long)((uintptr_t)salt >> 4 & 0xfffff));
}

muse_table_writer *muse_table_writer_new(const char *dir, uint32_t buckets,
	int level, struct muse_err *e)
{
	muse_table_writer *t = calloc(1, sizeof(*t));
	char *vd;

	if (t == NULL || (t->dir = strdup(dir)) == NULL) {
		free(t);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	t->level = level;
	t->req_buckets = buckets;
	t->hash = MUSE_HASH_XXH3;
	t->seed = MUSE_HASH_SEED;
	if ((vd = path_join(dir, "versions")) == NULL) {
		muse_table_writer_free(t);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	if (mkdir_p(vd, e) || muse_table_load(dir, 0, &t->base, e)) {
		free(vd);
		muse_table_writer_free(t);
		return NULL;
	}
	free(vd);
	memcpy(t->buckets, t->base.buckets, sizeof(t->buckets));
	make_tag(t->tag, sizeof(t->tag), t);
	if ((t->cctx = muse_zstd_cctx_new()) == NULL) {
		muse_table_writer_free(t);
		muse_err_set(e, MUSE_ENOMEM, "out of memory");
		return NULL;
	}
	return t;
}

int muse_table_writer_write_behind(muse_table_writer *t, struct muse_err *e)
{
	if (t->behind == NULL && (t->behind = muse_behind_new(e)) == NULL)
		return e->code;
	return 0;
}

void muse_table_writer_hash(muse_table_writer *t, uint8_t hash,
	uint64_t seed)
{
	t->hash = hash;
	t->seed = seed;
}

int muse_table_writer_source(muse_table_writer *t, int table,
	const char *schema, struct muse_err *e)
{
	uint32_t n = t->buckets[table];

	if (table < 1 || table > 4)
		return muse_err_set(e, MUSE_EUSAGE, "unknown table");
	if (n && t->req_buckets && n != t->req_buckets) {
		muse_err_where(e, t->dir, 0, UINT64_MAX);
		return muse_err_set(e, MUSE_EUSAGE, "table %s has %u buckets, "
		    "not %u (the count is fixed by the first commit)",
		    muse_table_name(table), n, t->req_buckets);
	}
	if (n == 0)
		t->buckets[table] = t->req_buckets ? t->req_buckets :
		    MUSE_TABLE_BUCKETS_DEFAULT;
	/* Assets have no users: one partition. */
	if (table == MUSE_TABLE_ASSETS)
		t->buckets[table] = 1;
	t->table = table;
	for (t->schema = 0; t->schema < t->nschemas; t->schema++)
		if (strcmp(t->schemas[t->schema], schema) == 0)
			return 0;
	{
		void *p = realloc(t->schemas, (t->nschemas + 1) * sizeof(*t->schemas));

		if (p == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		t->schemas = p;
		if ((t->schemas[t->nschemas] = strdup(schema)) == NULL)
			return muse_err_set(e, MUSE_ENOMEM, "out of memory");
		t->nschemas++;
	}
	return 0;
}

static uint64_t part_hash(int table, int64_t day, uint32_t bucket,
	uint32_t schema)
{
	uint64_t k[3] = { (uint64_t)day, (uint64_t)table << 32 | bucket, schema };

	return XXH3_64bits(k, sizeof(k));
}

static int parts_grow(muse_table_writer *t)
{
	size_t cap = t->cap ? 2 * t->cap : 256;
	struct part *np = calloc(cap, sizeof(*np));

	if (np == NULL)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		struct part *p = &t->parts[i];
		size_t j;

		if (!p->used)
			continue;
		j = part_hash(p->table, p->day, p->bucket, p->schema) & (cap - 1);
		while (np[j].used)
			j = (j + 1) & (cap - 1);
		np[j] = *p;
	}
	free(t->parts);
	t->parts = np;
	t->cap = cap;
	memset(t->hint, 0, sizeof(t->hint));
	return 0;
}

/* Size and XXH64 of a file's bytes, read in chunks (page cache). */
static int file_digest(const char *path, uint64_t *bytes, uint64_t *sum,
	struct muse_err *e)
{
	XXH64_state_t *st = XXH64_createState();
	char *buf = malloc(1u << 20);
	int fd = -1, rc = 0;
	ssize_t k;

	*bytes = 0;
	if (st == NULL || buf == NULL) {
		rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto out;
	}
	XXH64_reset(st, 0);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = io_err(e, path, "cannot open");
		goto out;
	}
	while ((k = read(fd, buf, 1u << 20)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = io_err(e, path, "read error");
			goto out;
		}
		XXH64_update(st, buf, (size_t)k);
		*bytes += (uint64_t)k;
	}
	*sum = XXH64_digest(st);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	XXH64_freeState(st);
	return rc;
}

/*
 * Creates the data file path (never one that exists) and a writer of
 * event streams of the table into it.
 */
static muse_writer *data_open(const char *path, int table, uint8_t hash,
	uint64_t seed, int level, void *cctx, FILE **fp, struct muse_err *e)
{
	struct muse_header h;
	muse_writer *w;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	if (fd < 0 || (*fp = fdopen(fd, "wb")) == NULL) {
		io_err(e, path, "cannot create");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	memset(&h, 0, sizeof(h));
	h.kind = MUSE_KIND_EVENTS;
	h.table = (uint8_t)table;
	h.hash = hash;
	h.seed = seed;
	if ((w = muse_writer_new_cctx(*fp, path, &h, level, cctx, e)) == NULL) {
		fclose(*fp);
		*fp = NULL;
	}
	return w;
}

/* Finishes w, syncs and closes fp; fills f's rows, bytes and xxh64. */
static int data_close(const char *path, muse_writer *w, FILE *fp,
	struct muse_table_file *f, struct muse_err *e)
{
	int rc = muse_writer_finish(w, e);

	f->rows = muse_writer_records(w);
	muse_writer_free(w);
	if (rc == 0 && (fflush(fp) || fsync(fileno(fp))))
		rc = io_err(e, path, "write error");
	if (fclose(fp) && rc == 0)
		rc = io_err(e, path, "write error");
	if (rc == 0)
		rc = file_digest(path, &f->bytes, &f->xxh64, e);
	return rc;
}

/* The file of a finished partition: complete it and fsync it. */
static int part_close(muse_table_writer *t, struct part *p,
	struct muse_err *e)
{
	struct muse_table_file *f = &t->files.f[p->file];
	char *path = path_join(t->dir, f->path);
	int rc = 0;

	if (path == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	rc = data_close(path, p->w, p->fp, f, e);
	p->w = NULL;
	p->fp = NULL;
	t->nopen--;
	free(path);
	return rc;
}

static int part_open(muse_table_writer *t, struct part *p, int64_t ts,
	struct muse_err *e)
{
	struct muse_table_file f;
	char rel[256], day[16], *dir, *path;

	if (t->nopen >= OPEN_PARTS) {
		struct part *lru = NULL;

		for (size_t i = 0; i < t->cap; i++)
			if (t->parts[i].used && t->parts[i].fp &&
			    (lru == NULL || t->parts[i].last_use < lru->last_use))
				lru = &t->parts[i];
		if (part_close(t, lru, e))
			return -1;
	}
	if (p->day == MUSE_TABLE_NODATE)
		strcpy(day, "all");
	else
		muse_day_format(p->day, day);
	snprintf(rel, sizeof(rel), "data/%s/%s", muse_table_name(p->table), day);
	if ((dir = path_join(t->dir, rel)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if (mkdir_p(dir, e)) {
		free(dir);
		return -1;
	}
	free(dir);
	snprintf(rel + strlen(rel), sizeof(rel) - strlen(rel),
	    "/b%03u-%s-%" PRIu64 ".mev", p->bucket, t->tag, t->seq++);
	memset(&f, 0, sizeof(f));
	f.table = p->table;
	f.day = p->day;
	f.bucket = p->bucket;
	f.nbuckets = t->buckets[p->table];
	f.min_ts = f.max_ts = ts;
	if ((f.path = strdup(rel)) == NULL ||
	    (f.schema = strdup(t->schemas[p->schema])) == NULL ||
	    (path = path_join(t->dir, rel)) == NULL) {
		free(f.path);
		free(f.schema);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	if (file_push(&t->files, &f)) {
		free(f.path);
		free(f.schema);
		free(path);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	p->file = t->files.n - 1;
	p->w = data_open(path, p->table, t->hash, t->seed, t->level, t->cctx,
	    &p->fp, e);
	free(path);
	if (p->w == NULL)
		return -1;
	if (t->behind != NULL)
		muse_writer_behind(p->w, t->behind);
	t->nopen++;
	return 0;
}

int muse_table_writer_add(muse_table_writer *t, const struct muse_event *ev,
	const void *rec, size_t n, struct muse_err *e)
{
	int64_t day = MUSE_TABLE_NODATE;
	uint32_t bucket = 0;
	struct part *p;
	size_t j;

	if (t->table == MUSE_TABLE_IMPRESSIONS || t->table == MUSE_TABLE_PLAYS)
		day = muse_ts_day(ev->ts);
	if (t->table != MUSE_TABLE_ASSETS)
		bucket = muse_uid_bucket(&ev->user, t->buckets[t->table]);
	if (2 * (t->nparts + 1) > t->cap && parts_grow(t))
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	j = t->hint[bucket % HINTS];
	if (j > 0 && (p = &t->parts[j - 1])->day == day &&
	    p->bucket == bucket && p->table == t->table &&
	    p->schema == t->schema)
		goto found;
	j = part_hash(t->table, day, bucket, t->schema) & (t->cap - 1);
	for (;; j = (j + 1) & (t->cap - 1)) {
		p = &t->parts[j];
		if (!p->used) {
			p->used = 1;
			p->table = t->table;
			p->day = day;
			p->bucket = bucket;
			p->schema = t->schema;
			t->nparts++;
			break;
		}
		if (p->day == day && p->bucket == bucket &&
		    p->table == t->table && p->schema == t->schema)
			break;
	}
	t->hint[bucket % HINTS] = (size_t)(p - t->parts) + 1;
found:
	if (p->fp == NULL && part_open(t, p, ev->ts, e))
		return -1;
	p->last_use = ++t->clock;
	if (t->table == MUSE_TABLE_IMPRESSIONS || t->table == MUSE_TABLE_PLAYS) {
		struct muse_table_file *f = &t->files.f[p->file];

		if (ev->ts < f->min_ts)
			f->min_ts = ev->ts;
		if (ev->ts > f->max_ts)
			f->max_ts = ev->ts;
	}
	return muse_writer_add(p->w, rec, n, e);
}

static int dup_file(struct muse_table_file *dst,
	const struct muse_table_file *src)
{
	*dst = *src;
	dst->path = strdup(src->path);
	dst->schema = strdup(src->schema);
	if (dst->path == NULL || dst->schema == NULL) {
		free(dst->path);
		free(dst->schema);
		return -1;
	}
	return 0;
}

/* Writes text to a new file in dir (fsynced); its path in *tmp. */
static int write_tmp(const char *vd, const char *tag, const struct muse_buf *b,
	char **tmp, struct muse_err *e)
{
	char name[128];
	int fd, rc = 0;
	size_t off = 0;

	snprintf(name, sizeof(name), ".tmp-%s", tag);
	if ((*tmp = path_join(vd, name)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return io_err(e, *tmp, "cannot create");
	while (off < b->len && rc == 0) {
		ssize_t k = write(fd, b->p + off, b->len - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			rc = io_err(e, *tmp, "write error");
		else
			off += (size_t)k;
	}
	if (rc == 0 && fsync(fd))
		rc = io_err(e, *tmp, "fsync");
	if (close(fd) && rc == 0)
		rc = io_err(e, *tmp, "write error");
	if (rc)
		unlink(*tmp);
	return rc;
}

/*
 * Publishes the newest version, less the files named in remove, plus the
 * files of add, as the next version; when another writer publishes that
 * number first, tries the next.  A file to remove that the newest version
 * no longer names means another rotation ran meanwhile: an error.
 */
static int publish(const char *dir, const char *tag, const uint32_t *buckets,
	const struct muse_manifest *add, char *const *remove, size_t nremove,
	uint64_t *version, struct muse_err *e)
{
	struct muse_buf text = { 0 };
	char *vd = path_join(dir, "versions"), *tmp = NULL;
	int rc = 0, done = 0;

	if (vd == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	for (int attempt = 0; rc == 0 && !done; attempt++) {
		struct muse_manifest m;
		char name[32], *final = NULL;
		size_t kept = 0;

		if (attempt == COMMIT_TRIES) {
			muse_err_where(e, dir, 0, UINT64_MAX);
			rc = muse_err_set(e, MUSE_EIO, "too many concurrent commits; "
			    "gave up after %d tries", COMMIT_TRIES);
			break;
		}
		if ((rc = muse_table_load(dir, 0, &m, e)) < 0)
			break;
		/* Another writer may have fixed a bucket count meanwhile. */
		for (size_t i = 0; i < add->n && rc == 0; i++) {
			int tb = add->f[i].table;

			if (m.buckets[tb] == 0)
				m.buckets[tb] = buckets[tb];
			if (m.buckets[tb] != add->f[i].nbuckets) {
				muse_err_where(e, dir, 0, UINT64_MAX);
				rc = muse_err_set(e, MUSE_EUSAGE, "table %s was given "
				    "%u buckets by another commit; this one used %u",
				    muse_table_name(tb), m.buckets[tb],
				    add->f[i].nbuckets);
			}
		}
		for (size_t k = 0; k < nremove && rc == 0; k++) {
			size_t i;

			for (i = 0; i < m.n; i++)
				if (m.f[i].path && strcmp(m.f[i].path, remove[k]) == 0)
					break;
			if (i == m.n) {
				muse_err_where(e, dir, 0, UINT64_MAX);
				rc = muse_err_set(e, MUSE_EUSAGE, "another rotation "
				    "changed the table meanwhile (%s is gone); run "
				    "again", remove[k]);
				break;
			}
			free(m.f[i].path);
			free(m.f[i].schema);
			m.f[i].path = m.f[i].schema = NULL;
		}
		for (size_t i = 0; i < m.n; i++)
			if (m.f[i].path)
				m.f[kept++] = m.f[i];
		m.n = kept;
		for (size_t i = 0; i < add->n && rc == 0; i++) {
			struct muse_table_file f;

			if (dup_file(&f, &add->f[i]) || file_push(&m, &f))
				rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		}
		m.version++;
		if (rc == 0 && muse_manifest_format(&m, &text))
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		if (rc == 0)
			rc = write_tmp(vd, tag, &text, &tmp, e);
		if (rc == 0) {
			snprintf(name, sizeof(name), "%08" PRIu64, m.version);
			if ((final = path_join(vd, name)) == NULL) {
				rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
			} else if (link(tmp, final) == 0) {
				*version = m.version;
				done = 1;
			} else if (errno != EEXIST) {
				rc = io_err(e, final, "cannot publish the version");
			}
			unlink(tmp);
		}
		free(tmp);
		tmp = NULL;
		free(final);
		muse_manifest_free(&m);
	}
	if (rc == 0)
		rc = fsync_dir(vd, e);
	muse_buf_free(&text);
	free(vd);
	return rc;
}

int muse_table_writer_commit(muse_table_writer *t, uint64_t *version,
	struct muse_err *e)
{
	int rc = 0;

	for (size_t i = 0; i < t->cap && rc == 0; i++)
		if (t->parts[i].used && t->parts[i].fp)
			rc = part_close(t, &t->parts[i], e);
	/* The data directories' entries must be durable before a manifest
	 * names them. */
	for (size_t i = 0; i < t->files.n && rc == 0; i++) {
		char *path = path_join(t->dir, t->files.f[i].path), *slash;

		if (path == NULL) {
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
			break;
		}
		slash = strrchr(path, '/');
		*slash = '\0';
		if (i == 0 || strncmp(t->files.f[i].path, t->files.f[i - 1].path,
		    (size_t)(strrchr(t->files.f[i].path, '/') - t->files.f[i].path)))
			rc = fsync_dir(path, e);
		free(path);
	}
	if (rc == 0)
		rc = publish(t->dir, t->tag, t->buckets, &t->files, NULL, 0,
		    version, e);
	if (rc == 0)
		t->committed = 1;
	return rc;
}

void muse_table_writer_free(muse_table_writer *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->parts && t->parts[i].used && t->parts[i].fp) {
			muse_writer_free(t->parts[i].w);
			fclose(t->parts[i].fp);
		}
	}
	/* Files of a commit not made are nobody's: remove them. */
	if (!t->committed)
		for (size_t i = 0; i < t->files.n; i++) {
			char *path = path_join(t->dir, t->files.f[i].path);

			if (path)
				unlink(path);
			free(path);
		}
	muse_manifest_free(&t->files);
	muse_manifest_free(&t->base);
	for (size_t i = 0; i < t->nschemas; i++)
		free(t->schemas[i]);
	free(t->schemas);
	free(t->parts);
	muse_behind_free(t->behind);
	muse_zstd_cctx_free(t->cctx);
	free(t->dir);
	free(t);
}

/* ---- tiers ---- */


static int is_compacted(const struct muse_table_file *f)
{
	const char *base = strrchr(f->path, '/');

	return base && base[1] == 'c';
}

/* Orders files by partition (table, day, bucket, schema), then path. */
static int cmp_part(const void *a, const void *b)
{
	const struct muse_table_file *x = *(const struct muse_table_file *const *)a;
	const struct muse_table_file *y = *(const struct muse_table_file *const *)b;
	int c;

	if (x->table != y->table)
		return x->table - y->table;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	if ((c = strcmp(x->schema, y->schema)) != 0)
		return c;
	return strcmp(x->path, y->path);
}

static int same_part(const struct muse_table_file *x,
	const struct muse_table_file *y)
{
	return x->table == y->table && x->day == y->day &&
	    x->bucket == y->bucket && strcmp(x->schema, y->schema) == 0;
}

/* Copies every record of the event streams of path into w. */
static int copy_records(const char *path, const struct muse_table_file *f,
	muse_writer *w, const struct muse_header *want, struct muse_err *e)
{
	struct muse_header h;
	struct stat st;
	muse_input *in;
	muse_reader *r;
	const uint8_t *rec;
	size_t n;
	int rc;

	if (stat(path, &st))
		return io_err(e, path, "cannot open");
	if ((uint64_t)st.st_size != f->bytes) {
		muse_err_where(e, path, 0, UINT64_MAX);
		return muse_err_set(e, MUSE_EFORMAT, "size %lld differs from the "
		    "manifest's %" PRIu64, (long long)st.st_size, f->bytes);
	}
	if ((in = muse_input_open(path, e)) == NULL)
		return e->code;
	if ((r = muse_reader_new(in, e)) == NULL)
		return e->code;
	while ((rc = muse_reader_next_stream(r, &h, e)) == 1) {
		if (h.kind != MUSE_KIND_EVENTS || h.table != f->table) {
			muse_err_where(e, path, 0, UINT64_MAX);
			rc = muse_err_set(e, MUSE_EFORMAT, "not an event stream of "
			    "table %s", muse_table_name(f->table));
			break;
		}
		if (h.hash != want->hash || h.seed != want->seed) {
			muse_err_where(e, path, 0, UINT64_MAX);
			rc = muse_err_set(e, MUSE_EPARAM, "user-id hashing differs "
			    "within a partition: %s and %s",
			    muse_hash_name(want->hash), muse_hash_name(h.hash));
			break;
		}
		while ((rc = muse_reader_next(r, &rec, &n, e)) == 1)
			if ((rc = muse_writer_add(w, rec, n, e)) < 0)
				break;
		if (rc < 0)
			break;
	}
	muse_reader_free(r);
	return rc;
}

/* Writes the files grp[0..n) of one partition as one compacted file. */
static int compact_part(const char *dir, const char *tag, uint64_t seq,
	struct muse_table_file **grp, size_t n, int level, void *cctx,
	struct muse_table_file *out, struct muse_err *e)
{
	char rel[256], *path, *slash;
	struct muse_header want;
	muse_writer *w;
	FILE *fp;
	int rc = 0;

	*out = *grp[0];
	out->path = out->schema = NULL;   /* ours, freed by the caller */
	out->rows = 0;
	out->min_ts = grp[0]->min_ts;
	out->max_ts = grp[0]->max_ts;
	for (size_t i = 1; i < n; i++) {
		if (grp[i]->min_ts < out->min_ts)
			out->min_ts = grp[i]->min_ts;
		if (grp[i]->max_ts > out->max_ts)
			out->max_ts = grp[i]->max_ts;
	}
	snprintf(rel, sizeof(rel), "%s", grp[0]->path);
	if ((slash = strrchr(rel, '/')) == NULL)
		return muse_err_set(e, MUSE_EFORMAT, "bad path in manifest");
	snprintf(slash + 1, sizeof(rel) - (size_t)(slash + 1 - rel),
	    "c%03u-%s-%" PRIu64 ".mev", grp[0]->bucket, tag, seq);
	out->path = strdup(rel);
	out->schema = strdup(grp[0]->schema);
	path = path_join(dir, rel);
	if (out->path == NULL || out->schema == NULL || path == NULL) {
		free(path);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	{
		/* The hashing of the partition: its first file's. */
		char *first = path_join(dir, grp[0]->path);
		muse_input *in = first ? muse_input_open(first, e) : NULL;
		muse_reader *r = in ? muse_reader_new(in, e) : NULL;

		free(first);
		if (first == NULL)
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		else if (r == NULL || muse_reader_next_stream(r, &want, e) != 1)
			rc = e->code ? e->code : muse_err_set(e, MUSE_EFORMAT,
			    "empty data file");
		muse_reader_free(r);
		if (rc) {
			free(path);
			return rc;
		}
	}
	if ((w = data_open(path, grp[0]->table, want.hash, want.seed, level,
	    cctx, &fp, e)) == NULL) {
		free(path);
		return e->code;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *src = path_join(dir, grp[i]->path);

		if (src == NULL)
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		else
			rc = copy_records(src, grp[i], w, &want, e);
		free(src);
	}
	if (rc == 0) {
		rc = data_close(path, w, fp, out, e);
	} else {
		muse_writer_free(w);
		fclose(fp);
	}
	if (rc)
		unlink(path);
	free(path);
	return rc;
}

int muse_table_compact(const char *dir, int64_t before_day, int level,
	struct muse_table_rotation *r, struct muse_err *e)
{
	struct muse_manifest m, add = { 0 };
	struct muse_table_file **v = NULL;
	char **remove = NULL, tag[64];
	size_t nv = 0, nremove = 0;
	void *cctx = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = muse_table_load(dir, 0, &m, e)) < 0)
		return rc;
	make_tag(tag, sizeof(tag), &m);
	if ((v = malloc((m.n ? m.n : 1) * sizeof(*v))) == NULL ||
	    (remove = malloc((m.n ? m.n : 1) * sizeof(*remove))) == NULL ||
	    (cctx = muse_zstd_cctx_new()) == NULL) {
		rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m.n; i++)
		if (m.f[i].day != MUSE_TABLE_NODATE && m.f[i].day < before_day)
			v[nv++] = &m.f[i];
	qsort(v, nv, sizeof(*v), cmp_part);
	for (size_t i = 0, j; i < nv && rc == 0; i = j) {
		struct muse_table_file nf;

		for (j = i + 1; j < nv && same_part(v[i], v[j]); j++)
			;
		if (j - i == 1 && is_compacted(v[i]))
			continue;
		rc = compact_part(dir, tag, add.n, v + i, j - i, level, cctx,
		    &nf, e);
		if (rc == 0 && file_push(&add, &nf))
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
		if (rc) {
			free(nf.path);
			free(nf.schema);
			break;
		}
		r->partitions++;
		r->files_out++;
		r->bytes_out += nf.bytes;
		r->rows += nf.rows;
		for (size_t k = i; k < j; k++) {
			remove[nremove++] = v[k]->path;
			r->files_in++;
			r->bytes_in += v[k]->bytes;
		}
	}
	if (rc == 0 && nremove) {
		/* The new files' directories must be durable first. */
		for (size_t i = 0; i < add.n && rc == 0; i++) {
			char *p = path_join(dir, add.f[i].path);

			if (p == NULL) {
				rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
				break;
			}
			*strrchr(p, '/') = '\0';
			rc = fsync_dir(p, e);
			free(p);
		}
		if (rc == 0)
			rc = publish(dir, tag, m.buckets, &add, remove, nremove,
			    &r->version, e);
	}
	if (rc)
		for (size_t i = 0; i < add.n; i++) {
			char *p = path_join(dir, add.f[i].path);

			if (p)
				unlink(p);
			free(p);
		}
out:
	muse_zstd_cctx_free(cctx);
	muse_manifest_free(&add);
	muse_manifest_free(&m);
	free(remove);
	free(v);
	return rc;
}

int muse_table_expire(const char *dir, int64_t before_day,
	int64_t covered_from, int64_t covered_to, struct muse_table_rotation *r,
	struct muse_err *e)
{
	struct muse_manifest m, add = { 0 };
	char **remove = NULL, tag[64];
	size_t nremove = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = muse_table_load(dir, 0, &m, e)) < 0)
		return rc;
	make_tag(tag, sizeof(tag), &m);
	if ((remove = malloc((m.n ? m.n : 1) * sizeof(*remove))) == NULL) {
		muse_manifest_free(&m);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < m.n; i++) {
		const struct muse_table_file *f = &m.f[i];

		if (f->day == MUSE_TABLE_NODATE || f->day >= before_day ||
		    f->day < covered_from || f->day > covered_to)
			continue;
		/* a new partition unless an earlier file shares it */
		r->partitions++;
		for (size_t k = 0; k < i; k++)
			if (m.f[k].table == f->table && m.f[k].day == f->day &&
			    m.f[k].bucket == f->bucket && m.f[k].day >= covered_from &&
			    m.f[k].day <= covered_to && m.f[k].day < before_day) {
				r->partitions--;
				break;
			}
		remove[nremove++] = f->path;
		r->files_in++;
		r->bytes_in += f->bytes;
		r->rows += f->rows;
	}
	if (nremove)
		rc = publish(dir, tag, m.buckets, &add, remove, nremove,
		    &r->version, e);
	free(remove);
	muse_manifest_free(&m);
	return rc;
}

/* Whether path is named by one of the manifests. */
static int named(const struct muse_manifest *kept, size_t nkept,
	const char *path)
{
	for (size_t k = 0; k < nkept; k++)
		for (size_t i = 0; i < kept[k].n; i++)
			if (strcmp(kept[k].f[i].path, path) == 0)
				return 1;
	return 0;
}

/* Removes the unnamed files under dir/rel, recursively. */
static int sweep(const char *dir, const char *rel,
	const struct muse_manifest *kept, size_t nkept, time_t cutoff,
	uint64_t *removed, struct muse_err *e)
{
	char *abs = path_join(dir, rel);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (abs == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if ((d = opendir(abs)) == NULL) {
		rc = errno == ENOENT ? 0 : io_err(e, abs, "cannot open");
		free(abs);
		return rc;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		char *r2, *a2;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((r2 = path_join(rel, de->d_name)) == NULL ||
		    (a2 = path_join(dir, r2)) == NULL) {
			free(r2);
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
			break;
		}
		if (lstat(a2, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = sweep(dir, r2, kept, nkept, cutoff, removed, e);
			rmdir(a2);  /* only when empty */
		} else if (lstat(a2, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_mtime < cutoff && !named(kept, nkept, r2)) {
			if (unlink(a2) == 0)
				(*removed)++;
			else
				rc = io_err(e, a2, "cannot remove");
		}
		free(a2);
		free(r2);
	}
	closedir(d);
	free(abs);
	return rc;
}

int muse_table_vacuum(const char *dir, uint64_t keep, uint64_t grace_s,
	uint64_t *removed, struct muse_err *e)
{
	struct muse_manifest *kept = NULL;
	size_t nkept = 0;
	uint64_t newest;
	time_t cutoff = time(NULL) - (time_t)grace_s;
	char *vd = path_join(dir, "versions");
	int rc;

	*removed = 0;
	if (vd == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	if (keep == 0)
		keep = 1;
	if ((rc = newest_version(dir, &newest, e)) < 0) {
		free(vd);
		return rc;
	}
	if ((kept = calloc(keep, sizeof(*kept))) == NULL) {
		free(vd);
		return muse_err_set(e, MUSE_ENOMEM, "out of memory");
	}
	for (uint64_t v = newest; v >= 1 && nkept < keep && rc == 0; v--) {
		if ((rc = muse_table_load(dir, v, &kept[nkept], e)) == 0) {
			nkept++;
		} else if (e->sys_errno == ENOENT) {
			/* removed by an earlier vacuum that kept fewer */
			muse_err_clear(e);
			rc = 0;
			break;
		}
	}
	/* Old manifests first, then what no kept manifest names. */
	for (uint64_t v = newest >= keep ? newest - keep : 0; v >= 1 && rc == 0; v--) {
		char name[32], *p;

		snprintf(name, sizeof(name), "%08" PRIu64, v);
		if ((p = path_join(vd, name)) == NULL) {
			rc = muse_err_set(e, MUSE_ENOMEM, "out of memory");
			break;
		}
		if (unlink(p) == 0)
			(*removed)++;
		else if (errno != ENOENT)
			rc = io_err(e, p, "cannot remove");
		free(p);
	}
	if (rc == 0)
		rc = sweep(dir, "data", kept, nkept, cutoff, removed, e);
	if (rc == 0) {
		/* Temporaries of manifests of writers that died. */
		DIR *d = opendir(vd);
		struct dirent *de;

		while (d && (de = readdir(d)) != NULL) {
			struct stat st;
			char *p;

			if (strncmp(de->d_name, ".tmp-", 5) ||
			    (p = path_join(vd, de->d_name)) == NULL)
				continue;
			if (lstat(p, &st) == 0 && st.st_mtime < cutoff &&
			    unlink(p) == 0)
				(*removed)++;
			free(p);
		}
		if (d)
			closedir(d);
	}
	for (size_t k = 0; k < nkept; k++)
		muse_manifest_free(&kept[k]);
	free(kept);
	free(vd);
	return rc;
}
