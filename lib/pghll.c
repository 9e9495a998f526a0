/*
 * pghll.c - muse sketches as PostgreSQL hll values.
 *
 * The postgresql-hll extension (Debian: postgresql-15-hll) keeps an hll as
 * bytes laid out by the Aggregate Knowledge "HLL storage specification",
 * version 1.0.0.  Schema version 1, in short:
 *
 *   byte 0   high nibble 1 (the schema version), low nibble the type:
 *            1 EMPTY, 2 EXPLICIT, 3 SPARSE, 4 FULL
 *   byte 1   (regwidth - 1) << 5 | log2m
 *   byte 2   0 << 7 | sparseon << 6 | explicit cutoff (0 off, 63 auto,
 *            n: 2^(n-1) values)
 *   EMPTY    no more bytes
 *   SPARSE   one (log2m + regwidth)-bit word per non-zero register,
 *            index in the high bits, value in the low ones, ascending
 *            index, packed high bit first into bytes, the last byte
 *            padded with zero bits
 *   FULL     the 2^log2m registers, regwidth bits each, packed the same
 *            way
 *
 * The text form, what COPY and a literal give the type's input function,
 * is "\x" and those bytes in hex: "\x118e7f" is an empty value.
 *
 * What maps exactly.  An hll register is 1 + the number of trailing zero
 * bits of the hash above its log2m index bits (0 if those bits are all
 * zero), capped at 2^regwidth - 1.  A muse register is 1 + the number of
 * leading zero bits of the second 64-bit word of the user's XXH3-128
 * hash, capped at 63, and its index is the low lgk bits of the first
 * word (hll.h, "coupons").  Different bits, the same thing: for a uniform
 * hash both values are geometric, P(value = k) = 2^-k, independent of the
 * index, which is all the HyperLogLog estimator assumes.  So muse's
 * register i, copied into the hll's register i, is the register an hll
 * would hold for the same users under another, equally uniform hash, and
 * the maximum over a union is the same operation on both sides.
 *
 *   - log2m = lgk.  The extension keeps at most 2^17 registers (128 KiB of
 *     8-bit registers), so a sketch of lgk 18..21 is folded: register j of
 *     the result is the maximum of the registers whose index is j modulo
 *     2^17.  That is exact, not an approximation: the index is the low
 *     bits of a hash word and the value does not depend on it, so the
 *     fold is the sketch that lgk 17 would have built from the same users
 *     (and it commutes with union).
 *   - regwidth = 5, values capped at 31.  Width 6 would hold muse's
 *     values (1..63) uncapped, but the extension's large-range correction
 *     computes 2^(2^regwidth - 2 + log2m) in 64 bits, which overflows for
 *     width 6: with log2m 14 hll_cardinality answers NaN from about 41000
 *     users on (tried on postgresql-15-hll 2.17).  A muse value reaches 32
 *     for about one user in 2^31 and moves the estimate by less than
 *     2^-31 of itself, and the extension's own hll_add caps at 31 the
 *     same way.
 *   - The cutoff byte is the extension's default (sparseon 1, explicit
 *     cutoff auto), because hll_union refuses values whose thresholds
 *     differ: so an exported value fits a column declared hll(log2m) and
 *     unites with hll_empty(log2m).
 *   - EXPLICIT is never written.  It holds the 64-bit hashes themselves,
 *     which muse does not keep (a sparse muse sketch keeps 32-bit coupons:
 *     26 bits of index and the value).  A sparse muse sketch is written as
 *     its registers, like a dense one.
 *   - SPARSE or FULL: whichever the extension itself writes for the same
 *     registers, SPARSE exactly when its words take fewer bits than the
 *     FULL registers.  So the extension prints back the very bytes we
 *     wrote, and a union computed in SQL prints the bytes muse-query
 *     writes for the same union (tests/pghll.bats checks both).
 *
 * What does not.
 *
 *   - Hashing.  hll_hash_text and the other hll_hash_* functions hash with
 *     MurmurHash3; muse hashes user ids with XXH3-128 and a seed at
 *     ingest and never keeps the ids.  A user added in SQL with
 *     hll_add(h, hll_hash_text(id)) lands in another register with
 *     another value than the same user exported from muse, so a union of
 *     exported values with values built in SQL counts such users twice.
 *     Unions among exported values (of one lgk) are exact.
 *   - The estimate.  hll_cardinality is the original HyperLogLog
 *     estimator with linear counting below 5m/2; muse estimates with
 *     Ertl's (hll.c), and counts exactly while a sketch is sparse (up to
 *     K/4 users).  On the same registers the two agree to well within one
 *     standard error (1.04/sqrt(m)), not to the unit.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pghll.h"

#define PG_VERSION_NIBBLE 0x10
/* Byte 2: sparseon 1, explicit cutoff 63 ("auto"): the extension's default. */
#define PG_CUTOFF_BYTE 0x7F
#define PG_REG_MAX ((1u << MUSE_PGHLL_REGWIDTH) - 1)
#define COUPON_VALUE(c) ((c) >> 26)

unsigned muse_pghll_log2m(unsigned lgk)
{
	return lgk < MUSE_PGHLL_LOG2M_MAX ? lgk : MUSE_PGHLL_LOG2M_MAX;
}

/* Writes words of up to 32 bits, high bit first, into a byte buffer. */
struct bitw {
	uint8_t *p;
	uint64_t acc;     /* the pending bits, in the low nacc bits */
	unsigned nacc;    /* < 8 between calls */
};

static void bitw_put(struct bitw *w, uint32_t word, unsigned width)
{
	w->acc = w->acc << width | word;
	w->nacc += width;
	while (w->nacc >= 8) {
		w->nacc -= 8;
		*w->p++ = (uint8_t)(w->acc >> w->nacc);
	}
	w->acc &= ((uint64_t)1 << w->nacc) - 1;
}

/* Pads the last byte with zero bits. */
static void bitw_flush(struct bitw *w)
{
	if (w->nacc)
		*w->p++ = (uint8_t)(w->acc << (8 - w->nacc));
	w->nacc = 0;
}

/*
 * The 2^log2m hll registers of h: each muse register (or coupon) goes to
 * its index modulo 2^log2m, capped at PG_REG_MAX; the maximum wins.
 */
static uint8_t *pg_registers(const muse_hll *h, unsigned log2m)
{
	size_t m = (size_t)1 << log2m, mask = m - 1;
	uint8_t *r = calloc(m, 1);
	const uint8_t *reg;

	if (r == NULL)
		return NULL;
	if ((reg = muse_hll_registers(h)) != NULL) {
		size_t k = (size_t)1 << muse_hll_lgk(h);

		for (size_t i = 0; i < k; i++) {
			unsigned v = reg[i] < PG_REG_MAX ? reg[i] : PG_REG_MAX;

			if (v > r[i & mask])
				r[i & mask] = (uint8_t)v;
		}
	} else {
		size_t n;
		const uint32_t *c = muse_hll_coupons(h, &n);

		for (size_t i = 0; i < n; i++) {
			unsigned v = COUPON_VALUE(c[i]);

			if (v > PG_REG_MAX)
				v = PG_REG_MAX;
			if (v > r[c[i] & mask])
				r[c[i] & mask] = (uint8_t)v;
		}
	}
	return r;
}

int muse_pghll_encode(const muse_hll *h, struct muse_buf *out)
{
	unsigned log2m = muse_pghll_log2m(muse_hll_lgk(h));
	size_t m = (size_t)1 << log2m, filled = 0, bits;
	uint8_t head[3], *r;
	struct bitw w = { 0 };
	int sparse;

	head[1] = (uint8_t)((MUSE_PGHLL_REGWIDTH - 1) << 5 | log2m);
	head[2] = PG_CUTOFF_BYTE;
	if (muse_hll_is_empty(h)) {
		head[0] = PG_VERSION_NIBBLE | MUSE_PGHLL_EMPTY;
		return muse_buf_put(out, head, 3) ? MUSE_ENOMEM : 0;
	}
	if ((r = pg_registers(h, log2m)) == NULL)
		return MUSE_ENOMEM;
	for (size_t i = 0; i < m; i++)
		filled += r[i] != 0;
	/* The extension's own choice: SPARSE while it takes fewer bits. */
	sparse = filled * (log2m + MUSE_PGHLL_REGWIDTH) < m * MUSE_PGHLL_REGWIDTH;
	bits = sparse ? filled * (log2m + MUSE_PGHLL_REGWIDTH) :
	    m * MUSE_PGHLL_REGWIDTH;
	head[0] = PG_VERSION_NIBBLE | (sparse ? MUSE_PGHLL_SPARSE : MUSE_PGHLL_FULL);
	if (muse_buf_reserve(out, 3 + (bits + 7) / 8)) {
		free(r);
		return MUSE_ENOMEM;
	}
	memcpy(out->p + out->len, head, 3);
	w.p = out->p + out->len + 3;
	for (size_t i = 0; i < m; i++) {
		if (!sparse)
			bitw_put(&w, r[i], MUSE_PGHLL_REGWIDTH);
		else if (r[i])
			bitw_put(&w, (uint32_t)i << MUSE_PGHLL_REGWIDTH | r[i],
			    log2m + MUSE_PGHLL_REGWIDTH);
	}
	bitw_flush(&w);
	out->len = (size_t)(w.p - out->p);
	free(r);
	return 0;
}

int muse_pghll_text(const muse_hll *h, struct muse_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	struct muse_buf bin = { 0 };
	int rc;

	if ((rc = muse_pghll_encode(h, &bin)) ||
	    muse_buf_reserve(out, 2 + 2 * bin.len)) {
		muse_buf_free(&bin);
		return rc ? rc : MUSE_ENOMEM;
	}
	out->p[out->len++] = '\\';
	out->p[out->len++] = 'x';
	for (size_t i = 0; i < bin.len; i++) {
		out->p[out->len++] = (uint8_t)hex[bin.p[i] >> 4];
		out->p[out->len++] = (uint8_t)hex[bin.p[i] & 15];
	}
	muse_buf_free(&bin);
	return 0;
}
