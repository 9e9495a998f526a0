/*
 * buf.h - growable byte buffers and the varint/little-endian helpers that
 * every encoder in the library shares.
 *
 * Varints are LEB128: seven bits a byte, least significant group first,
 * high bit set on every byte but the last; at most 10 bytes for a u64.
 * Decoders take the end of the buffer and refuse to read past it, and
 * refuse overlong encodings, so every value has exactly one encoding.
 */
#ifndef MUSE_BUF_H
#define MUSE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct muse_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

/* Grows the buffer for n more bytes (the slow path of muse_buf_reserve). */
int muse_buf_grow(struct muse_buf *b, size_t n);

/* Makes room for n more bytes; 0 or MUSE_ENOMEM. */
static inline int muse_buf_reserve(struct muse_buf *b, size_t n)
{
	return b->cap - b->len >= n ? 0 : muse_buf_grow(b, n);
}
int muse_buf_put(struct muse_buf *b, const void *p, size_t n);
int muse_buf_put_varint(struct muse_buf *b, uint64_t v);
int muse_buf_put_u8(struct muse_buf *b, uint8_t v);
int muse_buf_put_le32(struct muse_buf *b, uint32_t v);
int muse_buf_put_le64(struct muse_buf *b, uint64_t v);
/* A string as varint length then bytes. */
int muse_buf_put_str(struct muse_buf *b, const char *s, size_t n);
/* Appends printf-formatted text (no terminating NUL counted in len). */
int muse_buf_printf(struct muse_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void muse_buf_free(struct muse_buf *b);

/*
 * Reads a varint at *pp, not past end.  Returns 0 and advances *pp, or -1
 * when the varint is truncated, longer than 10 bytes or overlong.  The
 * one-byte case (lengths, small counters, days are mostly that) is inline;
 * muse_get_varint_long does the rest.
 */
int muse_get_varint_long(const uint8_t **pp, const uint8_t *end, uint64_t *v);

static inline int muse_get_varint(const uint8_t **pp, const uint8_t *end,
	uint64_t *v)
{
	const uint8_t *p = *pp;

	if (p < end && *p < 0x80) {
		*v = *p;
		*pp = p + 1;
		return 0;
	}
	return muse_get_varint_long(pp, end, v);
}

/* A varint-length string; the result points into the buffer. */
static inline int muse_get_str(const uint8_t **pp, const uint8_t *end,
	const char **s, size_t *n)
{
	const uint8_t *p = *pp;
	uint64_t len;

	if (muse_get_varint(&p, end, &len) || len > (uint64_t)(end - p))
		return -1;
	*s = (const char *)p;
	*n = (size_t)len;
	*pp = p + len;
	return 0;
}

static inline uint32_t muse_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t muse_le64(const uint8_t *p)
{
	return (uint64_t)muse_le32(p) | (uint64_t)muse_le32(p + 4) << 32;
}

static inline void muse_st32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline void muse_st64(uint8_t *p, uint64_t v)
{
	muse_st32(p, (uint32_t)v);
	muse_st32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t muse_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t muse_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
