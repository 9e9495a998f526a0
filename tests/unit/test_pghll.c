/*
 * test_pghll.c - unit tests for lib/pghll.c: byte layouts of the
 * postgresql-hll storage format worked out by hand (header bytes, SPARSE
 * words, FULL registers, the SPARSE/FULL switch, the cap at 31), then
 * properties over random sketches checked with a decoder written here
 * from the storage specification: the registers of every value equal
 * those computed straight from the coupons, a fold from lgk 18..21 gives
 * the bytes lgk 17 gives, and encoding commutes with union.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hll.h"
#include "pghll.h"

#include "check.h"

static muse_hll *xnew(unsigned lgk)
{
	muse_hll *h = muse_hll_new(lgk);

	if (h == NULL) {
		fprintf(stderr, "test_pghll: muse_hll_new(%u) failed\n", lgk);
		exit(1);
	}
	return h;
}

static uint32_t coupon(unsigned value, uint32_t address)
{
	return (uint32_t)value << 26 | (address & 0x3FFFFFF);
}

/* The encoding of h equals want[0..n). */
static int encodes_to(const muse_hll *h, const uint8_t *want, size_t n)
{
	struct muse_buf b = { 0 };
	int ok = muse_pghll_encode(h, &b) == 0 && b.len == n &&
	    memcmp(b.p, want, n) == 0;

	if (!ok) {
		printf("# got");
		for (size_t i = 0; i < b.len; i++)
			printf(" %02x", b.p[i]);
		printf("\n");
	}
	muse_buf_free(&b);
	return ok;
}

/* ---------------------------------------------------------------------
 * Hand-computed layouts
 */

static void test_layouts(void)
{
	muse_hll *h;

	/*
	 * EMPTY: 0x11 (schema 1, type 1); (5 - 1) << 5 | log2m; 0x7f
	 * (sparseon 1, explicit cutoff 63 = auto).  lgk 21 is folded to 17.
	 */
	{
		static const uint8_t e14[] = { 0x11, 0x8e, 0x7f };
		static const uint8_t e4[] = { 0x11, 0x84, 0x7f };
		static const uint8_t e21[] = { 0x11, 0x91, 0x7f };

		h = xnew(14);
		check(encodes_to(h, e14, 3), "empty lgk 14 is 11 8e 7f");
		muse_hll_free(h);
		h = xnew(4);
		check(encodes_to(h, e4, 3), "empty lgk 4 is 11 84 7f");
		muse_hll_free(h);
		h = xnew(21);
		check(encodes_to(h, e21, 3), "empty lgk 21 is 11 91 7f (log2m 17)");
		muse_hll_free(h);
	}

	/*
	 * One coupon, value 2 at address 3, lgk 14: SPARSE (0x13), one
	 * 19-bit word 00000000000011|00010 padded with five 0 bits:
	 * 00000000 00001100 01000000.
	 */
	{
		static const uint8_t want[] = { 0x13, 0x8e, 0x7f, 0x00, 0x0c, 0x40 };

		h = xnew(14);
		muse_hll_add(h, coupon(2, 3));
		check(encodes_to(h, want, sizeof(want)),
		    "one coupon (3, 2) at lgk 14 is 13 8e 7f 00 0c 40");
		/* Address bits above lgk choose no other register. */
		muse_hll_add(h, coupon(1, 3 | 5u << 14));
		check(encodes_to(h, want, sizeof(want)),
		    "a smaller value at the same index changes nothing");
		muse_hll_free(h);
	}

	/*
	 * lgk 11: 16-bit words, index << 5 | value.  (11, 6) is 0x0166 and
	 * (1099, 19) is 1099 * 32 + 19 = 0x8973; a third coupon at 1099 + 2^11
	 * with value 40 lands on index 1099 too and is capped at 31, so the
	 * second word becomes 1099 * 32 + 31 = 0x897f.
	 */
	{
		static const uint8_t want1[] = { 0x13, 0x8b, 0x7f,
			0x01, 0x66, 0x89, 0x73 };
		static const uint8_t want2[] = { 0x13, 0x8b, 0x7f,
			0x01, 0x66, 0x89, 0x7f };

		h = xnew(11);
		muse_hll_add(h, coupon(19, 1099));
		muse_hll_add(h, coupon(6, 11));
		check(encodes_to(h, want1, sizeof(want1)),
		    "(11, 6), (1099, 19) at lgk 11 is 13 8b 7f 01 66 89 73");
		muse_hll_add(h, coupon(40, 1099 + 2048));
		check(encodes_to(h, want2, sizeof(want2)),
		    "a value of 40 is capped at 31: ... 89 7f");
		muse_hll_free(h);
	}

	/*
	 * lgk 4 (16 registers; muse is dense past 4 coupons).  FULL takes
	 * 16 * 5 = 80 bits; SPARSE 9 bits a filled register, so 8 filled (72
	 * bits) are SPARSE and 9 (81) are FULL, as the extension decides.
	 *
	 * Registers 0..4 = 1..5 from a dense muse sketch: SPARSE, words
	 * 0000|00001 0001|00010 0010|00011 0011|00100 0100|00101 + 3 pad bits
	 * = 00000000 10001000 10001000 01100110 01000100 00101000.
	 */
	{
		static const uint8_t want[] = { 0x13, 0x84, 0x7f,
			0x00, 0x88, 0x88, 0x66, 0x44, 0x28 };

		h = xnew(4);
		for (unsigned i = 0; i < 5; i++)
			muse_hll_add(h, coupon(i + 1, i));
		check(muse_hll_is_dense(h), "5 coupons make an lgk 4 sketch dense");
		check(encodes_to(h, want, sizeof(want)),
		    "dense registers 1..5 at lgk 4 are SPARSE 00 88 88 66 44 28");
		muse_hll_free(h);
	}
	/*
	 * Registers 0..8 = 1..9, the rest 0: FULL (0x14), 5-bit registers
	 * 00001 00010 00011 00100 00101 00110 00111 01000 01001 00000 ...
	 * = 00001000 10000110 01000010 10011000 11101000 01001000 then zeros.
	 */
	{
		static const uint8_t full[] = { 0x14, 0x84, 0x7f,
			0x08, 0x86, 0x42, 0x98, 0xe8, 0x48, 0x00, 0x00, 0x00, 0x00 };
		struct muse_buf b = { 0 };

		h = xnew(4);
		for (unsigned i = 0; i < 8; i++)
			muse_hll_add(h, coupon(i + 1, i));
		check(muse_pghll_encode(h, &b) == 0 && b.len == 3 + 9 &&
		    b.p[0] == 0x13, "8 filled registers of 16: SPARSE, 9 bytes");
		muse_buf_free(&b);
		muse_hll_add(h, coupon(9, 8));
		check(encodes_to(h, full, sizeof(full)),
		    "9 filled registers of 16: FULL 08 86 42 98 e8 48 00 00 00 00");
		muse_hll_free(h);
	}

	/* The text form: "\x" and lower-case hex. */
	{
		struct muse_buf b = { 0 };

		h = xnew(11);
		muse_hll_add(h, coupon(19, 1099));
		muse_hll_add(h, coupon(6, 11));
		check(muse_pghll_text(h, &b) == 0 && b.len == 16 &&
		    memcmp(b.p, "\\x138b7f01668973", 16) == 0,
		    "text form \\x138b7f01668973");
		muse_buf_free(&b);
		muse_hll_free(h);
	}
}

/* ---------------------------------------------------------------------
 * A decoder from the storage specification, and properties
 */

/* The next w bits of the data bytes d, high bit first, from bit *pos. */
static uint32_t getbits(const uint8_t *d, size_t *pos, unsigned w)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < w; i++, (*pos)++)
		v = v << 1 | ((d[*pos / 8] >> (7 - *pos % 8)) & 1);
	return v;
}

/*
 * Decodes a value into regs[2^log2m]; returns log2m, or -1 when the bytes
 * are not a well-formed EMPTY, SPARSE or FULL value of register width 5
 * with the default cutoff byte.
 */
static int decode(const uint8_t *p, size_t n, uint8_t *regs)
{
	unsigned log2m, width, type;
	size_t m, nbits, pos = 0;

	if (n < 3 || p[0] >> 4 != 1 || p[2] != 0x7f)
		return -1;
	type = p[0] & 15;
	width = (p[1] >> 5) + 1u;
	log2m = p[1] & 31;
	if (width != 5 || log2m < 4 || log2m > 17)
		return -1;
	m = (size_t)1 << log2m;
	memset(regs, 0, m);
	nbits = (n - 3) * 8;
	switch (type) {
	case 1:
		return n == 3 ? (int)log2m : -1;
	case 3: {
		long prev = -1;

		while (nbits - pos >= log2m + width) {
			uint32_t idx = getbits(p + 3, &pos, log2m);
			uint32_t v = getbits(p + 3, &pos, width);

			if ((long)idx <= prev || v == 0)
				return -1;
			regs[idx] = (uint8_t)v;
			prev = idx;
		}
		/* Only padding, shorter than a byte, may follow. */
		return nbits - pos < 8 ? (int)log2m : -1;
	}
	case 4:
		if (n - 3 != (m * width + 7) / 8)
			return -1;
		for (size_t i = 0; i < m; i++)
			regs[i] = (uint8_t)getbits(p + 3, &pos, width);
		return (int)log2m;
	}
	return -1;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A coupon as muse makes one from a random 128-bit hash. */
static uint32_t random_coupon(void)
{
	uint64_t h1 = rng(), h2 = rng();

	return muse_hll_coupon(h1, h2);
}

static void test_properties(void)
{
	static const size_t sizes[] = { 1, 40, 3000, 5000, 60000, 300000 };
	static const unsigned lgks[] = { 4, 10, 14, 17, 18, 21 };
	uint8_t *got = malloc((size_t)1 << 17), *want = malloc((size_t)1 << 17);
	uint32_t *c = malloc(300000 * sizeof(*c));

	if (got == NULL || want == NULL || c == NULL) {
		fprintf(stderr, "test_pghll: out of memory\n");
		exit(1);
	}
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		int regs_ok = 1, fold_ok = 1, union_ok = 1;

		for (size_t i = 0; i < n; i++)
			c[i] = random_coupon();
		for (size_t l = 0; l < sizeof(lgks) / sizeof(lgks[0]); l++) {
			unsigned lgk = lgks[l], log2m = muse_pghll_log2m(lgk);
			size_t m = (size_t)1 << log2m;
			muse_hll *h = xnew(lgk), *a = xnew(lgk), *b = xnew(lgk);
			muse_hll *h17 = xnew(17);
			struct muse_buf eh = { 0 }, e17 = { 0 }, eu = { 0 };

			muse_hll_add_many(h, c, n);
			muse_hll_add_many(h17, c, n);
			/* Two overlapping halves whose union is h. */
			muse_hll_add_many(a, c, n * 2 / 3);
			muse_hll_add_many(b, c + n / 3, n - n / 3);
			muse_hll_merge(a, b);
			if (muse_pghll_encode(h, &eh) || muse_pghll_encode(h17, &e17) ||
			    muse_pghll_encode(a, &eu)) {
				fprintf(stderr, "test_pghll: out of memory\n");
				exit(1);
			}
			/* The registers straight from the coupons. */
			memset(want, 0, m);
			for (size_t i = 0; i < n; i++) {
				unsigned v = c[i] >> 26 > 31 ? 31 : c[i] >> 26;

				if (v > want[c[i] & (m - 1)])
					want[c[i] & (m - 1)] = (uint8_t)v;
			}
			if (decode(eh.p, eh.len, got) != (int)log2m ||
			    memcmp(got, want, m) != 0)
				regs_ok = 0;
			if (lgk >= 17 && (eh.len != e17.len ||
			    memcmp(eh.p, e17.p, eh.len) != 0))
				fold_ok = 0;
			if (eu.len != eh.len || memcmp(eu.p, eh.p, eh.len) != 0)
				union_ok = 0;
			muse_buf_free(&eh);
			muse_buf_free(&e17);
			muse_buf_free(&eu);
			muse_hll_free(h);
			muse_hll_free(a);
			muse_hll_free(b);
			muse_hll_free(h17);
		}
		check(regs_ok, "%zu users, lgk 4..21: the registers decoded equal "
		    "those computed from the coupons", n);
		check(fold_ok, "%zu users: lgk 18 and 21 give the bytes of lgk 17", n);
		check(union_ok, "%zu users: the union of two halves encodes as "
		    "the whole", n);
	}
	free(got);
	free(want);
	free(c);
}

int main(void)
{
	test_layouts();
	test_properties();
	return check_done("test_pghll");
}
