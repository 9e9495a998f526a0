/*
 * err.c - the error record.  Messages are composed once, where the error
 * is found, so the caller only has to add the location it knows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

const char *muse_strerror(int code)
{
	switch (code) {
	case MUSE_OK: return "success";
	case MUSE_EIO: return "input/output error";
	case MUSE_ENOMEM: return "out of memory";
	case MUSE_EINPUT: return "bad input";
	case MUSE_EFORMAT: return "malformed stream";
	case MUSE_ECHECKSUM: return "checksum mismatch";
	case MUSE_ETRUNC: return "truncated stream";
	case MUSE_EPARAM: return "parameter mismatch";
	case MUSE_EUSAGE: return "bad usage";
	case MUSE_ELIMIT: return "size limit exceeded";
	}
	return "unknown error";
}

void muse_err_clear(struct muse_err *e)
{
	memset(e, 0, sizeof(*e));
	e->offset = UINT64_MAX;
}

int muse_err_set(struct muse_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void muse_err_where(struct muse_err *e, const char *name, uint64_t line,
	uint64_t offset)
{
	if (e == NULL)
		return;
	if (name != NULL)
		snprintf(e->name, sizeof(e->name), "%s", name);
	e->line = line;
	e->offset = offset;
}

const char *muse_err_format(const struct muse_err *e, char *buf, size_t n)
{
	const char *msg = e->msg[0] ? e->msg : muse_strerror(e->code);

	if (e->name[0] && e->line)
		snprintf(buf, n, "%s:%llu: %s", e->name,
		    (unsigned long long)e->line, msg);
	else if (e->name[0] && e->offset != UINT64_MAX)
		snprintf(buf, n, "%s: byte %llu: %s", e->name,
		    (unsigned long long)e->offset, msg);
	else if (e->name[0])
		snprintf(buf, n, "%s: %s", e->name, msg);
	else
		snprintf(buf, n, "%s", msg);
	return buf;
}
