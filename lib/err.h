/*
 * err.h - error codes and the caller-owned error record.
 *
 * Every fallible library call returns 0 (or a count) on success and a
 * negative MUSE_E* code on failure, and fills a struct muse_err that the
 * caller owns.  The record says what went wrong in words, and where: the
 * input's name, its line (text inputs) or byte offset (binary inputs), and
 * a column name when one applies.  The library never prints.
 */
#ifndef MUSE_ERR_H
#define MUSE_ERR_H

#include <stddef.h>
#include <stdint.h>

enum {
	MUSE_OK = 0,
	MUSE_EIO = -1,        /* read or write failed (errno kept in sys_errno) */
	MUSE_ENOMEM = -2,     /* allocation failed */
	MUSE_EINPUT = -3,     /* malformed text input (CSV, timestamp, identifier) */
	MUSE_EFORMAT = -4,    /* malformed binary stream: magic, version, lengths */
	MUSE_ECHECKSUM = -5,  /* a checksum did not match */
	MUSE_ETRUNC = -6,     /* input ended before its trailer */
	MUSE_EPARAM = -7,     /* streams with different parameters meet */
	MUSE_EUSAGE = -8,     /* a bad argument from the caller (query, option) */
	MUSE_ELIMIT = -9,     /* a size beyond what the format or budget allows */
};

struct muse_err {
	int code;
	int sys_errno;
	char name[256];       /* input or output name ("-" shown as "<stdin>") */
	uint64_t line;        /* 1-based text line, 0 if not applicable */
	uint64_t offset;      /* byte offset in a binary input, or UINT64_MAX */
	char msg[512];        /* lower-case, no final period, values quoted */
};

/* Names a code ("checksum mismatch"). */
const char *muse_strerror(int code);

/* Clears the record. */
void muse_err_clear(struct muse_err *e);

/*
 * Fills the record and returns code, so that error paths read
 * "return muse_err_set(e, MUSE_EINPUT, "bad ts \"%s\"", s);".
 */
int muse_err_set(struct muse_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets the location part of the record (name may be NULL to keep it). */
void muse_err_where(struct muse_err *e, const char *name, uint64_t line,
	uint64_t offset);

/*
 * Formats the record as "NAME:LINE: MSG" or "NAME: byte OFF: MSG" or
 * "NAME: MSG" into buf; returns buf.
 */
const char *muse_err_format(const struct muse_err *e, char *buf, size_t n);

#endif
