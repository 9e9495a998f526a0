/*
 * buf.c - growable buffers and varints.  Growth doubles, so appending n
 * bytes one at a time costs O(n) in all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "err.h"

int muse_buf_grow(struct muse_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return MUSE_ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL)
		return MUSE_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int muse_buf_put(struct muse_buf *b, const void *p, size_t n)
{
	if (muse_buf_reserve(b, n))
		return MUSE_ENOMEM;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int muse_buf_put_varint(struct muse_buf *b, uint64_t v)
{
	uint8_t *p;

	if (muse_buf_reserve(b, 10))
		return MUSE_ENOMEM;
	p = b->p + b->len;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	b->len = (size_t)(p - b->p);
	return 0;
}

int muse_buf_put_u8(struct muse_buf *b, uint8_t v)
{
	return muse_buf_put(b, &v, 1);
}

int muse_buf_put_le32(struct muse_buf *b, uint32_t v)
{
	uint8_t t[4];

	muse_st32(t, v);
	return muse_buf_put(b, t, 4);
}

int muse_buf_put_le64(struct muse_buf *b, uint64_t v)
{
	uint8_t t[8];

	muse_st64(t, v);
	return muse_buf_put(b, t, 8);
}

int muse_buf_put_str(struct muse_buf *b, const char *s, size_t n)
{
	if (muse_buf_put_varint(b, n))
		return MUSE_ENOMEM;
	return muse_buf_put(b, s, n);
}

int muse_buf_printf(struct muse_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || muse_buf_reserve(b, (size_t)n + 1))
		return MUSE_ENOMEM;
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void muse_buf_free(struct muse_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int muse_get_varint_long(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t r = 0;
	unsigned shift;

	for (shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return -1;
		if (shift == 63 && *p > 1)
			return -1;
		r |= (uint64_t)(*p & 0x7F) << shift;
		/* A final zero byte after others is an overlong encoding. */
		if (*p == 0 && shift > 0)
			return -1;
		if (!(*p++ & 0x80)) {
			*pp = p;
			*v = r;
			return 0;
		}
	}
	return -1;
}

