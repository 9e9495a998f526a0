/*
 * hll.c - HyperLogLog distinct-count sketches over DataSketches coupons.
 *
 * Papers implemented here:
 *
 *   [FFGM07] P. Flajolet, E. Fusy, O. Gandouet, F. Meunier, "HyperLogLog:
 *            the analysis of a near-optimal cardinality estimation
 *            algorithm", AofA 2007.  The registers.
 *   [HNH13]  S. Heule, M. Nunkesser, A. Hall, "HyperLogLog in practice:
 *            algorithmic engineering of a state of the art cardinality
 *            estimation algorithm", EDBT 2013.  The idea of a sparse,
 *            exact representation for small sets.
 *   [Ertl17] O. Ertl, "New cardinality estimation algorithms for
 *            HyperLogLog sketches", 2017, arXiv:1702.01284.  The estimator
 *            ("improved raw estimator", his algorithm 6).
 *
 * Coupons.  An item's 128-bit hash (h1, h2) becomes a 32-bit coupon
 * value << 26 | address exactly as Apache DataSketches makes it (see
 * muse_hll_coupon in hll.h): the address is the low 26 bits of h1, the
 * value is 1 + the leading zeros of h2, capped at 63.  A coupon never
 * depends on lgk, so a set of coupons can be exported as a DataSketches
 * LIST or SET image, and registers as an HLL_8/6/4 image, without loss.
 *
 * Two representations, chosen by the number of distinct coupons only:
 *
 *   sparse  the sorted set of distinct coupons, while it holds at most
 *           K/4 of them (MUSE_HLL_SPARSE_MAX).  Four bytes a coupon, so at
 *           the threshold it takes as much memory as the dense form, and
 *           its estimate is the exact coupon count.  (Two distinct items
 *           share a coupon with probability about 2^-26/3; at 4096 items
 *           that loses 1 item in 10^5 on average.)
 *   dense   K = 2^lgk 8-bit registers: register[coupon & (K-1)] is the
 *           largest value among the coupons with that address.  Values
 *           are 1..63, so 8 bits hold them with no offset or exception
 *           table, and the array is DataSketches' HLL_8 register array.
 *
 * The representation is a pure function of the SET of coupons added: a
 * sketch is sparse exactly when the set has at most K/4 members, and then
 * holds the sorted set; dense registers are a maximum, which does not
 * depend on order.  A union is the union of the sets, so merge, add and
 * batching commute, and the same input always encodes to the same bytes.
 * A dense sketch never becomes sparse again, which is consistent: its set
 * already has more than K/4 members.
 *
 * The threshold, measured: encoded sizes of a sketch holding K/4 coupons
 * (sparse) and K/4 + 1 (dense).  Gaps between sorted coupons shrink as
 * the set grows, so the sparse field costs fewer bytes a coupon at large
 * lgk; it is smaller than the dense one everywhere but at lgk 4.
 *
 *     lgk   coupons   sparse bytes (per coupon)   dense bytes
 *       4         4            18   (4.50)                17
 *      10       256           814   (3.18)              1025
 *      14      4096         11214   (2.74)             16385
 *      18     65536        134372   (2.05)            262145
 *      21    524288        912807   (1.74)           2097153
 *
 * Streams store these fields zstd-compressed, which changes the picture:
 * a dense field of few coupons is mostly zeros and compresses to less
 * than the sparse one (at lgk 14, 4096 coupons take about 10300 bytes
 * sparse and 3900 dense), while the sparse field's coupon gaps hardly
 * compress.  tests/bench/kernels.c measures both beside DataSketches'
 * HLL_4 images, which the sparse field outgrows from about K/5 coupons.
 *
 * Pending coupons.  Keeping one sorted array with insertion costs a move
 * of half the array per new coupon, which is quadratic: harmless at
 * lgk 14 (4096 coupons, about 17 MB moved in all) but some 2^38 bytes at
 * lgk 21.  So a new coupon goes into a short sorted "pending" run of
 * about sqrt(K/4) coupons, disjoint from the main run, and the pending
 * run is merged into the main run (backwards, in place, into room
 * reserved beforehand, so the merge cannot fail) when it fills up.  That
 * costs O(sqrt(K)) moves and a binary search per new coupon: filling an
 * lgk 21 sketch to its 524288 coupons takes about 0.2 s here instead of
 * tens of seconds.  Every reader except muse_hll_coupons works on the two
 * runs as they are: the count is the sum of their lengths, and encode and
 * merge walk them together in order.  muse_hll_coupons must return one
 * array, so it merges the pending run in first.  That writes through a
 * const pointer, which is defined because every sketch is a heap object
 * from muse_hll_new; it means that one sparse sketch must not be read
 * with muse_hll_coupons from two threads at once.  The set, and so
 * everything a caller can observe, is the same before and after.
 *
 * Estimator [Ertl17].  With m = K registers, C_k the number of registers
 * holding k, and q = 62 (values run 1..q+1 = 63; a value of 63 means "62
 * or more leading zeros", the saturated register of his model),
 *
 *   estimate = alpha_inf m^2 / (m sigma(C_0/m) + sum_{k=1..q} C_k 2^-k
 *                               + m tau(1 - C_{q+1}/m) 2^-q),
 *
 * alpha_inf = 1 / (2 ln 2), sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1) and
 * tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3.  sigma corrects
 * for empty registers and tau for saturated ones, so the estimator is
 * unbiased over the whole range with neither an empirical bias table nor
 * a switch to linear counting, and its relative standard error is about
 * 1.04/sqrt(m) (HLL_RSE_FACTOR).  tests/unit/test_hll.c measures it: at
 * lgk 14 (stated 0.81%) 0.55-0.66% up to n = 3*10^4, where the empty
 * registers still carry information, and 0.75-0.85% from 10^5 to 10^9,
 * with mean errors within 0.08%.  The cost is one pass over the
 * registers to build the histogram C, then O(q) arithmetic: no
 * per-register pow().  At lgk 14 the pass takes about 1.2 us with
 * AVX-512, 2 us with AVX2 and 4-5 us in portable C (see "Kernels"; the
 * figures are in tests/bench/RESULTS.md, "Sketch kernels").
 *
 * Bounds at z standard errors are estimate * (1 -/+ z rse), the lower one
 * raised to at least the number of non-empty registers (each holds at
 * least one distinct item).  The constant rse makes them conservative
 * while n is below a few m (the 95% bounds then hold n 98-99% of the
 * time).  A sparse sketch is exact: rse 0, both bounds the
 * count (of coupons, so a rare coupon collision puts n just above them).
 *
 * Encoding: the "HLL field" of muse-format(5), which is the spec.  In
 * short, a varint tag: 0 empty; 2n, then n varints (the first coupon,
 * then the strictly positive gaps between sorted coupons); 1, then K
 * register bytes.  The decoder accepts only the canonical encoding: tags,
 * counts, order, value ranges, register ranges, minimal varints, and no
 * all-zero dense sketch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hll.h"

/* Relative standard error of a dense estimate, times sqrt(K) [Ertl17]. */
#define HLL_RSE_FACTOR 1.04
/* q in [Ertl17]: the largest value that is not saturated. */
#define HLL_Q 62
#define HLL_VALUE(c) ((c) >> 26)
#define HLL_MIN_COUPON ((uint32_t)1 << 26)
#define HLL_LN2 0.693147180559945309417232121458

struct muse_hll {
	unsigned lgk;
	uint32_t mask;     /* K - 1: a coupon's register is coupon & mask */
	uint8_t *reg;      /* dense: K registers; NULL while sparse */
	/* Sparse state; all NULL/0 while dense. */
	uint32_t *cp;      /* main run: sorted, distinct */
	uint32_t n;        /* coupons in the main run */
	uint32_t cap;      /* room in cp; always >= n + np */
	uint32_t *pend;    /* pending run: sorted, distinct, none in cp */
	uint32_t np;       /* coupons in the pending run, < pend_cap() */
};

/* Size of the pending run: about sqrt(K/4), at least 2. */
static uint32_t pend_cap(unsigned lgk)
{
	return (uint32_t)1 << ((lgk - 1) / 2);
}

/* ---------------------------------------------------------------------
 * Sorted runs
 */

/* Index of the first element of a[0..n) not below c (n if none). */
static uint32_t lower_bound(const uint32_t *a, uint32_t n, uint32_t c)
{
	const uint32_t *base = a;

	if (n == 0)
		return 0;
	/*
	 * Branch-free halving: the answer stays in [base, base + n].  Both
	 * possible next probes are fetched early, because at large lgk the
	 * run outgrows the caches and each probe would otherwise wait for
	 * memory in turn (about twice as fast at lgk 21).
	 */
	while (n > 1) {
		uint32_t half = n / 2;

		__builtin_prefetch(base + half / 2);
		__builtin_prefetch(base + half + half / 2);
		base = base[half] < c ? base + half : base;
		n -= half;
	}
	return (uint32_t)(base - a) + (*base < c);
}

static int contains(const uint32_t *a, uint32_t n, uint32_t c)
{
	uint32_t i = lower_bound(a, n, c);

	return i < n && a[i] == c;
}

/*
 * Walks a sparse sketch's two runs together in ascending order; they are
 * disjoint, so the walk yields each coupon once.  0 marks the end, which
 * no coupon can be.
 */
struct walk {
	const uint32_t *a, *ae, *b, *be;
};

static void walk_init(struct walk *w, const muse_hll *h)
{
	/* No arithmetic on a NULL array, even with a count of 0 (C11 6.5.6). */
	w->a = h->cp;
	w->ae = h->n ? h->cp + h->n : h->cp;
	w->b = h->pend;
	w->be = h->np ? h->pend + h->np : h->pend;
}

static uint32_t walk_next(struct walk *w)
{
	if (w->a < w->ae && (w->b == w->be || *w->a < *w->b))
		return *w->a++;
	if (w->b < w->be)
		return *w->b++;
	return 0;
}

/* Merges the pending run into the main run; needs no memory. */
static void settle(muse_hll *h)
{
	uint32_t i = h->n, j = h->np, w = h->n + h->np;

	/*
	 * Backwards, so that the main run grows in place into the room that
	 * add reserved: the write index never passes the read index.  Each
	 * pending coupon finds its place by binary search and the main
	 * coupons above it move as one block, so a merge costs one memmove
	 * of the main run plus a search per pending coupon.
	 */
	while (j > 0) {
		uint32_t c = h->pend[--j], at = lower_bound(h->cp, i, c);

		w -= i - at;
		memmove(h->cp + w, h->cp + at, (i - at) * sizeof(*h->cp));
		i = at;
		h->cp[--w] = c;
	}
	h->n += h->np;
	h->np = 0;
}

/*
 * Counts the union of the sorted array a[0..na) and the sketch src, and
 * writes it to out when out is not NULL.
 */
static uint32_t sparse_union(uint32_t *out, const uint32_t *a, uint32_t na,
	const muse_hll *src)
{
	struct walk w;
	uint32_t i = 0, k = 0, c;

	walk_init(&w, src);
	c = walk_next(&w);
	while (i < na || c != 0) {
		uint32_t v;

		if (c == 0 || (i < na && a[i] < c)) {
			v = a[i++];
		} else {
			if (i < na && a[i] == c)
				i++;
			v = c;
			c = walk_next(&w);
		}
		if (out != NULL)
			out[k] = v;
		k++;
	}
	return k;
}

/* ---------------------------------------------------------------------
 * Kernels: the register-wise maximum (merge) and the histogram of
 * register values (estimate), in portable C and, on x86-64, in SSE2 (the
 * baseline there), AVX2 and AVX-512BW.  The wider variants are compiled
 * with target attributes, never with flags for the whole build, and
 * pick_kernel chooses on every call from __builtin_cpu_supports, which
 * reads what the runtime found at start-up: a few loads, no state of our
 * own.  Every variant computes exactly the same result, which the unit
 * tests check on each one this CPU can run.
 */

/* d = max(d, s) for k registers, k a power of two >= 16. */
static void max_portable(uint8_t *restrict d, const uint8_t *restrict s,
	size_t k)
{
	size_t i, j;

	/*
	 * Whole 16-byte chunks with a constant inner trip count, so that a
	 * vectorising compiler needs no scalar epilogue.
	 */
	for (i = 0; i < k; i += 16)
		for (j = 0; j < 16; j++)
			d[i + j] = d[i + j] > s[i + j] ? d[i + j] : s[i + j];
}

/*
 * c[v] = the number of registers holding v, for v < 64 (a register above
 * 63 counts as its low 6 bits in every variant; there are none in a valid
 * sketch).  Eight partial histograms, so that runs of equal registers do
 * not make each increment wait for the one before (a store-to-load
 * dependency); written out, because GCC does not unroll at -O2.  (Loading
 * 8 registers at once and shifting them out is no faster.)
 */
static void histogram_portable(const uint8_t *r, size_t k, uint32_t c[64])
{
	uint32_t part[8][64] = { { 0 } };
	size_t i;
	int v, j;

	for (i = 0; i < k; i += 8) {
		part[0][r[i] & 63]++;
		part[1][r[i + 1] & 63]++;
		part[2][r[i + 2] & 63]++;
		part[3][r[i + 3] & 63]++;
		part[4][r[i + 4] & 63]++;
		part[5][r[i + 5] & 63]++;
		part[6][r[i + 6] & 63]++;
		part[7][r[i + 7] & 63]++;
	}
	for (v = 0; v < 64; v++)
		for (c[v] = 0, j = 0; j < 8; j++)
			c[v] += part[j][v];
}

static int usable_always(void)
{
	return 1;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HLL_X86 1
#include <immintrin.h>

/*
 * The SIMD histograms count a window of HIST_W values, [lo, lo + HIST_W),
 * with one compare and one add per value and vector into byte counters,
 * and count the registers outside the window one by one.  The counters
 * are emptied every 255 vectors, before they can wrap.  The window starts
 * at the smallest register.  Register values are close to geometric above
 * a double-exponential lower tail, so with K registers the smallest sits
 * about log2(ln K) below the most common value and a register falls above
 * the window with probability about ln(K) 2^-(HIST_W - 1): a few of the
 * 16384 at lgk 14.  Each block of vectors is read twice, for the lower and
 * the upper half of the window: eight counters and what they need fit the
 * registers, sixteen do not, and the second read hits the L1 cache (at
 * lgk 14 a fifth faster than one pass with AVX-512, two fifths with
 * AVX2).  Below HIST_MIN_K registers the fixed costs are not worth it and
 * the portable loop runs instead.
 */
#define HIST_W 16
#define HIST_MIN_K 1024
#define HIST_LOWER(STEP) \
	STEP(0); STEP(1); STEP(2); STEP(3); STEP(4); STEP(5); STEP(6); STEP(7)
#define HIST_UPPER(STEP) \
	STEP(8); STEP(9); STEP(10); STEP(11); STEP(12); STEP(13); STEP(14); \
	STEP(15)

__attribute__((target("sse2")))
static void max_sse2(uint8_t *restrict d, const uint8_t *restrict s, size_t k)
{
	size_t i;

	for (i = 0; i < k; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(d + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(s + i));

		_mm_storeu_si128((__m128i *)(d + i), _mm_max_epu8(a, b));
	}
}

__attribute__((target("avx2")))
static void max_avx2(uint8_t *restrict d, const uint8_t *restrict s, size_t k)
{
	size_t i = 0;

	for (; i + 64 <= k; i += 64) {
		__m256i a0 = _mm256_loadu_si256((const __m256i *)(d + i));
		__m256i a1 = _mm256_loadu_si256((const __m256i *)(d + i + 32));
		__m256i b0 = _mm256_loadu_si256((const __m256i *)(s + i));
		__m256i b1 = _mm256_loadu_si256((const __m256i *)(s + i + 32));

		_mm256_storeu_si256((__m256i *)(d + i), _mm256_max_epu8(a0, b0));
		_mm256_storeu_si256((__m256i *)(d + i + 32),
		    _mm256_max_epu8(a1, b1));
	}
	/* k is 16 or 32: what is left fits 16-byte steps. */
	for (; i < k; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(d + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(s + i));

		_mm_storeu_si128((__m128i *)(d + i), _mm_max_epu8(a, b));
	}
}

/* Counters named a0..a15, not an array, so that they stay in registers. */
#define HIST256_STEP(j) \
	a##j = _mm256_sub_epi8(a##j, _mm256_cmpeq_epi8(y, _mm256_set1_epi8(j)))
#define HIST256_FLUSH(j) c[lo + j] += sum256(a##j)

/* The sum of the 32 bytes of a. */
__attribute__((target("avx2")))
static uint32_t sum256(__m256i a)
{
	__m256i s = _mm256_sad_epu8(a, _mm256_setzero_si256());

	return (uint32_t)(_mm256_extract_epi64(s, 0) +
	    _mm256_extract_epi64(s, 1) + _mm256_extract_epi64(s, 2) +
	    _mm256_extract_epi64(s, 3));
}

__attribute__((target("avx2")))
static void histogram_avx2(const uint8_t *r, size_t k, uint32_t c[64])
{
	const __m256i zero = _mm256_setzero_si256();
	__m256i mn, base, top;
	uint8_t t[32], lo = 255;
	size_t i, start, end;
	int j;

	if (k < HIST_MIN_K) {
		histogram_portable(r, k, c);
		return;
	}
	mn = _mm256_loadu_si256((const __m256i *)r);
	for (i = 32; i < k; i += 32)
		mn = _mm256_min_epu8(mn,
		    _mm256_loadu_si256((const __m256i *)(r + i)));
	_mm256_storeu_si256((__m256i *)t, mn);
	for (j = 0; j < 32; j++)
		lo = t[j] < lo ? t[j] : lo;
	lo = lo > 64 - HIST_W ? 64 - HIST_W : lo;
	memset(c, 0, 64 * sizeof(*c));
	base = _mm256_set1_epi8((char)lo);
	top = _mm256_set1_epi8(HIST_W - 1);
	for (start = 0; start < k; start = end) {
		end = start + 255 * 32 < k ? start + 255 * 32 : k;
		{
			__m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
			__m256i a4 = zero, a5 = zero, a6 = zero, a7 = zero;

			for (i = start; i < end; i += 32) {
				__m256i y = _mm256_sub_epi8(_mm256_loadu_si256(
				    (const __m256i *)(r + i)), base);
				/* A bit for each register outside the window. */
				unsigned out = ~(unsigned)_mm256_movemask_epi8(
				    _mm256_cmpeq_epi8(_mm256_min_epu8(y, top),
				    y));

				HIST_LOWER(HIST256_STEP);
				for (; out != 0; out &= out - 1)
					c[r[i + __builtin_ctz(out)] & 63]++;
			}
			HIST_LOWER(HIST256_FLUSH);
		}
		{
			__m256i a8 = zero, a9 = zero, a10 = zero, a11 = zero;
			__m256i a12 = zero, a13 = zero, a14 = zero, a15 = zero;

			for (i = start; i < end; i += 32) {
				__m256i y = _mm256_sub_epi8(_mm256_loadu_si256(
				    (const __m256i *)(r + i)), base);

				HIST_UPPER(HIST256_STEP);
			}
			HIST_UPPER(HIST256_FLUSH);
		}
	}
}

__attribute__((target("avx512bw")))
static void max_avx512bw(uint8_t *restrict d, const uint8_t *restrict s,
	size_t k)
{
	size_t i = 0;

	for (; i + 128 <= k; i += 128) {
		__m512i a0 = _mm512_loadu_si512(d + i);
		__m512i a1 = _mm512_loadu_si512(d + i + 64);
		__m512i b0 = _mm512_loadu_si512(s + i);
		__m512i b1 = _mm512_loadu_si512(s + i + 64);

		_mm512_storeu_si512(d + i, _mm512_max_epu8(a0, b0));
		_mm512_storeu_si512(d + i + 64, _mm512_max_epu8(a1, b1));
	}
	/* k is 16, 32 or 64: what is left fits 16-byte steps. */
	for (; i < k; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(d + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(s + i));

		_mm_storeu_si128((__m128i *)(d + i), _mm_max_epu8(a, b));
	}
}

#define HIST512_STEP(j) \
	a##j = _mm512_mask_add_epi8(a##j, \
	    _mm512_cmpeq_epi8_mask(y, _mm512_set1_epi8(j)), a##j, one)
#define HIST512_FLUSH(j) \
	c[lo + j] += (uint32_t)_mm512_reduce_add_epi64( \
	    _mm512_sad_epu8(a##j, zero))

__attribute__((target("avx512bw")))
static void histogram_avx512bw(const uint8_t *r, size_t k, uint32_t c[64])
{
	const __m512i zero = _mm512_setzero_si512();
	const __m512i one = _mm512_set1_epi8(1);
	__m512i mn, base, top;
	uint8_t t[64], lo = 255;
	size_t i, start, end;
	int j;

	if (k < HIST_MIN_K) {
		histogram_portable(r, k, c);
		return;
	}
	mn = _mm512_loadu_si512(r);
	for (i = 64; i < k; i += 64)
		mn = _mm512_min_epu8(mn, _mm512_loadu_si512(r + i));
	_mm512_storeu_si512(t, mn);
	for (j = 0; j < 64; j++)
		lo = t[j] < lo ? t[j] : lo;
	lo = lo > 64 - HIST_W ? 64 - HIST_W : lo;
	memset(c, 0, 64 * sizeof(*c));
	base = _mm512_set1_epi8((char)lo);
	top = _mm512_set1_epi8(HIST_W - 1);
	for (start = 0; start < k; start = end) {
		end = start + 255 * 64 < k ? start + 255 * 64 : k;
		{
			__m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
			__m512i a4 = zero, a5 = zero, a6 = zero, a7 = zero;

			for (i = start; i < end; i += 64) {
				__m512i y = _mm512_sub_epi8(
				    _mm512_loadu_si512(r + i), base);
				/* A bit for each register outside the window. */
				uint64_t out = _mm512_cmpgt_epu8_mask(y, top);

				HIST_LOWER(HIST512_STEP);
				for (; out != 0; out &= out - 1)
					c[r[i + __builtin_ctzll(out)] & 63]++;
			}
			HIST_LOWER(HIST512_FLUSH);
		}
		{
			__m512i a8 = zero, a9 = zero, a10 = zero, a11 = zero;
			__m512i a12 = zero, a13 = zero, a14 = zero, a15 = zero;

			for (i = start; i < end; i += 64) {
				__m512i y = _mm512_sub_epi8(
				    _mm512_loadu_si512(r + i), base);

				HIST_UPPER(HIST512_STEP);
			}
			HIST_UPPER(HIST512_FLUSH);
		}
	}
}

static int usable_avx2(void)
{
	return __builtin_cpu_supports("avx2");
}

static int usable_avx512bw(void)
{
	return __builtin_cpu_supports("avx512bw");
}
#endif /* HLL_X86 */

/* Fastest first; the last one runs everywhere. */
static const struct muse_hll_kernel kernels[] = {
#ifdef HLL_X86
	{ "avx512bw", usable_avx512bw, max_avx512bw, histogram_avx512bw },
	{ "avx2", usable_avx2, max_avx2, histogram_avx2 },
	/* A scalar loop beats 16-byte vectors at the histogram. */
	{ "sse2", usable_always, max_sse2, histogram_portable },
#endif
	{ "portable", usable_always, max_portable, histogram_portable },
};

static const struct muse_hll_kernel *pick_kernel(void)
{
	const struct muse_hll_kernel *k = kernels;

	while (!k->usable())
		k++;
	return k;
}

const struct muse_hll_kernel *muse_hll_kernels(size_t *n)
{
	*n = sizeof(kernels) / sizeof(kernels[0]);
	return kernels;
}

/* ---------------------------------------------------------------------
 * Dense registers
 */

static void fold(uint8_t *reg, uint32_t mask, const uint32_t *c, size_t n)
{
	size_t i;

	/*
	 * Always stored, so that no branch depends on the register's old
	 * value: that comparison goes either way at random, and a missed
	 * branch costs more than the store.
	 */
	for (i = 0; i < n; i++) {
		uint8_t *r = &reg[c[i] & mask];
		uint8_t v = (uint8_t)HLL_VALUE(c[i]), o = *r;

		*r = v > o ? v : o;
	}
}

/* Installs K registers in h, dropping any sparse state. */
static void make_dense(muse_hll *h, uint8_t *reg)
{
	free(h->cp);
	free(h->pend);
	h->cp = h->pend = NULL;
	h->n = h->np = h->cap = 0;
	h->reg = reg;
}

/*
 * Makes h sparse with the sorted distinct coupons cp[0..n), which has
 * room for cap; keeps the pending buffer for later adds.
 */
static void make_sparse(muse_hll *h, uint32_t *cp, uint32_t n, uint32_t cap)
{
	free(h->reg);
	h->reg = NULL;
	if (cp != h->cp)
		free(h->cp);
	h->cp = cp;
	h->n = n;
	h->cap = cap;
	h->np = 0;
}

/*
 * Turns a sparse sketch dense, folding in one more coupon unless extra is
 * 0.  On ENOMEM the sketch is unchanged.
 */
static int densify(muse_hll *h, uint32_t extra)
{
	uint32_t mask = h->mask;
	uint8_t *reg = calloc((size_t)mask + 1, 1);

	if (reg == NULL)
		return MUSE_ENOMEM;
	fold(reg, mask, h->cp, h->n);
	fold(reg, mask, h->pend, h->np);
	if (extra != 0)
		fold(reg, mask, &extra, 1);
	make_dense(h, reg);
	return 0;
}

/* ---------------------------------------------------------------------
 * Handles
 */

muse_hll *muse_hll_new(unsigned lgk)
{
	muse_hll *h;

	if (lgk < MUSE_HLL_LGK_MIN || lgk > MUSE_HLL_LGK_MAX)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (h != NULL) {
		h->lgk = lgk;
		h->mask = ((uint32_t)1 << lgk) - 1;
	}
	return h;
}

void muse_hll_free(muse_hll *h)
{
	if (h == NULL)
		return;
	free(h->reg);
	free(h->cp);
	free(h->pend);
	free(h);
}

void muse_hll_clear(muse_hll *h)
{
	/* Sparse buffers stay allocated for the next use of the handle. */
	free(h->reg);
	h->reg = NULL;
	h->n = h->np = 0;
}

unsigned muse_hll_lgk(const muse_hll *h)
{
	return h->lgk;
}

int muse_hll_copy(muse_hll *dst, const muse_hll *src)
{
	size_t k = (size_t)1 << src->lgk;
	uint32_t cnt;

	if (dst->lgk != src->lgk)
		return MUSE_EPARAM;
	if (dst == src)
		return 0;
	if (src->reg != NULL) {
		if (dst->reg == NULL) {
			uint8_t *reg = malloc(k);

			if (reg == NULL)
				return MUSE_ENOMEM;
			make_dense(dst, reg);
		}
		memcpy(dst->reg, src->reg, k);
		return 0;
	}
	cnt = src->n + src->np;
	if (cnt == 0) {
		muse_hll_clear(dst);
		return 0;
	}
	if (dst->reg != NULL || dst->cap < cnt) {
		uint32_t *cp = malloc(cnt * sizeof(*cp));

		if (cp == NULL)
			return MUSE_ENOMEM;
		make_sparse(dst, cp, 0, cnt);
	}
	/* The union with nothing is src's two runs as one. */
	dst->np = 0;
	dst->n = sparse_union(dst->cp, NULL, 0, src);
	return 0;
}

/* ---------------------------------------------------------------------
 * Adding and merging
 */

/* Room for one more pending coupon, in both runs. */
static int reserve_one(muse_hll *h)
{
	uint32_t want = h->n + h->np + 1;

	if (h->pend == NULL) {
		h->pend = malloc(pend_cap(h->lgk) * sizeof(*h->pend));
		if (h->pend == NULL)
			return MUSE_ENOMEM;
	}
	if (h->cap < want) {
		uint32_t max = MUSE_HLL_SPARSE_MAX(h->lgk);
		uint32_t cap = h->cap < 16 ? 16 : 2 * h->cap;
		uint32_t *cp;

		if (cap > max)
			cap = max;
		cp = realloc(h->cp, cap * sizeof(*cp));
		if (cp == NULL)
			return MUSE_ENOMEM;
		h->cp = cp;
		h->cap = cap;
	}
	return 0;
}

/*
 * Adds a coupon to a sparse sketch.  Out of line, so that the dense path
 * of muse_hll_add, the one that runs for nearly every item of a large
 * input, needs no stack frame.
 */
__attribute__((noinline))
static int add_sparse(muse_hll *h, uint32_t coupon)
{
	uint32_t j;
	int rc;

	/*
	 * A value of 0 cannot come from muse_hll_coupon; keeping it out of
	 * the sparse set keeps every encoding decodable, and in the dense
	 * form it would change nothing anyway.
	 */
	if (coupon < HLL_MIN_COUPON || contains(h->cp, h->n, coupon))
		return 0;
	j = lower_bound(h->pend, h->np, coupon);
	if (j < h->np && h->pend[j] == coupon)
		return 0;
	if (h->n + h->np == MUSE_HLL_SPARSE_MAX(h->lgk))
		return densify(h, coupon);
	if ((rc = reserve_one(h)) != 0)
		return rc;
	memmove(h->pend + j + 1, h->pend + j, (h->np - j) * sizeof(*h->pend));
	h->pend[j] = coupon;
	if (++h->np == pend_cap(h->lgk))
		settle(h);
	return 0;
}

int muse_hll_add(muse_hll *h, uint32_t coupon)
{
	if (h->reg != NULL) {
		uint8_t *r = &h->reg[coupon & h->mask];
		uint8_t v = (uint8_t)HLL_VALUE(coupon);

		if (v > *r)
			*r = v;
		return 0;
	}
	return add_sparse(h, coupon);
}

/*
 * The quick way into an empty sketch: coupons in ascending order (repeats
 * allowed), as a builder that sorts them has them, become the main run in
 * one pass instead of a search each.  Returns 1 when done; 0 when the
 * input is out of order or would make the sketch dense, and then the
 * caller adds them one by one; or MUSE_ENOMEM.
 */
static int adopt_sorted(muse_hll *h, const uint32_t *c, size_t n)
{
	size_t i, d = 0;

	for (i = 0; i < n; i++) {
		if (i > 0 && c[i] < c[i - 1])
			return 0;
		d += c[i] >= HLL_MIN_COUPON && (i == 0 || c[i] != c[i - 1]);
		if (d > MUSE_HLL_SPARSE_MAX(h->lgk))
			return 0;
	}
	if (h->cap < d) {
		uint32_t *cp = realloc(h->cp, d * sizeof(*cp));

		if (cp == NULL)
			return MUSE_ENOMEM;
		h->cp = cp;
		h->cap = (uint32_t)d;
	}
	for (i = 0, d = 0; i < n; i++)
		if (c[i] >= HLL_MIN_COUPON && (d == 0 || c[i] != h->cp[d - 1]))
			h->cp[d++] = c[i];
	h->n = (uint32_t)d;
	return 1;
}

int muse_hll_add_many(muse_hll *h, const uint32_t *coupons, size_t n)
{
	size_t i = 0;
	int rc;

	if (muse_hll_is_empty(h) && (rc = adopt_sorted(h, coupons, n)) != 0)
		return rc < 0 ? rc : 0;
	/* The sparse path is muse_hll_add's; it ends once h turns dense. */
	for (; i < n && h->reg == NULL; i++)
		if ((rc = add_sparse(h, coupons[i])) != 0)
			return rc;
	if (i < n)
		fold(h->reg, h->mask, coupons + i, n - i);
	return 0;
}

/* Folds every coupon of the sparse sketch src into the dense dst. */
static void fold_sparse(muse_hll *dst, const muse_hll *src)
{
	uint32_t mask = dst->mask;

	fold(dst->reg, mask, src->cp, src->n);
	fold(dst->reg, mask, src->pend, src->np);
}

int muse_hll_merge(muse_hll *dst, const muse_hll *src)
{
	uint32_t cnt, *cp;
	int rc;

	if (dst->lgk != src->lgk)
		return MUSE_EPARAM;
	/*
	 * A set's union with itself is the set; returning here also keeps
	 * the restrict pointers of the max kernels apart.
	 */
	if (dst == src || muse_hll_is_empty(src))
		return 0;
	if (src->reg != NULL) {
		if (dst->reg == NULL && (rc = densify(dst, 0)) != 0)
			return rc;
		pick_kernel()->max(dst->reg, src->reg, (size_t)1 << dst->lgk);
		return 0;
	}
	if (dst->reg != NULL) {
		fold_sparse(dst, src);
		return 0;
	}
	/* Both sparse: count the union first, then build it in one form. */
	settle(dst);
	cnt = sparse_union(NULL, dst->cp, dst->n, src);
	if (cnt == dst->n)
		return 0;
	if (cnt > MUSE_HLL_SPARSE_MAX(dst->lgk)) {
		if ((rc = densify(dst, 0)) != 0)
			return rc;
		fold_sparse(dst, src);
		return 0;
	}
	cp = malloc(cnt * sizeof(*cp));
	if (cp == NULL)
		return MUSE_ENOMEM;
	sparse_union(cp, dst->cp, dst->n, src);
	make_sparse(dst, cp, cnt, cnt);
	return 0;
}

/* ---------------------------------------------------------------------
 * Reading
 */

int muse_hll_is_empty(const muse_hll *h)
{
	return h->reg == NULL && h->n + h->np == 0;
}

int muse_hll_is_dense(const muse_hll *h)
{
	return h->reg != NULL;
}

const uint32_t *muse_hll_coupons(const muse_hll *h, size_t *n)
{
	/* For an empty sketch, so that NULL always means dense. */
	static const uint32_t none[1];
	/* Logically const: see "Pending coupons" at the top of the file. */
	muse_hll *w = (muse_hll *)h;

	if (h->reg != NULL) {
		*n = 0;
		return NULL;
	}
	settle(w);
	*n = h->n;
	return h->n ? h->cp : none;
}

const uint8_t *muse_hll_registers(const muse_hll *h)
{
	return h->reg;
}

static uint8_t max_byte(const uint8_t *p, size_t k);

int muse_hll_set_registers(muse_hll *h, const uint8_t *reg)
{
	size_t k = (size_t)1 << h->lgk;   /* at least 16, as max_byte needs */
	uint8_t top = max_byte(reg, k);
	uint8_t *r;

	if (top > HLL_Q + 1)
		return MUSE_EPARAM;
	if (top == 0) {
		muse_hll_clear(h);
		return 0;
	}
	r = h->reg != NULL ? h->reg : malloc(k);
	if (r == NULL)
		return MUSE_ENOMEM;
	if (r != h->reg)
		make_dense(h, r);
	memcpy(h->reg, reg, k);
	return 0;
}

/* sigma(x) of [Ertl17] for x in [0, 1): x + sum_{k>=1} x^(2^k) 2^(k-1). */
static double ertl_sigma(double x)
{
	double y = 1, z = x, prev;

	if (x == 1)
		return INFINITY;
	/* The terms shrink doubly exponentially; stop when one adds nothing. */
	do {
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

/* tau(x) of [Ertl17]: (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3. */
static double ertl_tau(double x)
{
	double y = 1, z = 1 - x, prev;

	if (x == 0 || x == 1)
		return 0;
	do {
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != prev);
	return z / 3;
}

/* Ertl's estimate of a dense sketch; *nonzero gets the non-empty registers. */
static double dense_estimate(const muse_hll *h, uint32_t *nonzero)
{
	size_t k = (size_t)1 << h->lgk;
	uint32_t c[64];
	double m = (double)k, z;
	int v;

	pick_kernel()->histogram(h->reg, k, c);
	*nonzero = (uint32_t)k - c[0];
	/* Horner form of the denominator, as in his algorithm 6. */
	z = m * ertl_tau(1 - c[HLL_Q + 1] / m);
	for (v = HLL_Q; v >= 1; v--)
		z = 0.5 * (z + c[v]);
	z += m * ertl_sigma(c[0] / m);
	/*
	 * Only a sketch with every register at 63 (some 2^62 items a
	 * register: a crafted or corrupted one) makes z zero; its estimate is
	 * kept finite, at the largest count the registers can express.
	 */
	if (!(z > 0))
		return ldexp(m, 63);
	return m * m / (2 * HLL_LN2 * z);
}

double muse_hll_estimate(const muse_hll *h)
{
	uint32_t nonzero;

	if (h->reg == NULL)
		return (double)(h->n + h->np);
	return dense_estimate(h, &nonzero);
}

double muse_hll_rse(const muse_hll *h)
{
	if (h->reg == NULL)
		return 0;
	return HLL_RSE_FACTOR / sqrt((double)((size_t)1 << h->lgk));
}

void muse_hll_bounds(const muse_hll *h, double z, double *lo, double *hi)
{
	uint32_t nonzero;
	double est, d;

	if (h->reg == NULL) {
		*lo = *hi = (double)(h->n + h->np);
		return;
	}
	est = dense_estimate(h, &nonzero);
	d = z * muse_hll_rse(h);
	*lo = est * (1 - d);
	*hi = est * (1 + d);
	if (*lo < nonzero)
		*lo = nonzero;
	if (*hi < *lo)
		*hi = *lo;
}

/* ---------------------------------------------------------------------
 * Encoding
 */

int muse_hll_encode(const muse_hll *h, struct muse_buf *out)
{
	uint32_t cnt, prev = 0, c;
	struct walk w;
	uint8_t *p;

	if (h->reg != NULL) {
		size_t k = (size_t)1 << h->lgk;

		if (muse_buf_reserve(out, 1 + k))
			return MUSE_ENOMEM;
		out->p[out->len++] = 1;
		memcpy(out->p + out->len, h->reg, k);
		out->len += k;
		return 0;
	}
	cnt = h->n + h->np;
	/* A coupon's gap needs at most 5 varint bytes, the tag at most 3. */
	if (muse_buf_reserve(out, 3 + (size_t)cnt * 5) ||
	    muse_buf_put_varint(out, 2 * (uint64_t)cnt))
		return MUSE_ENOMEM;
	/* The gaps as varints, written in place (the room is reserved). */
	p = out->p + out->len;
	walk_init(&w, h);
	while ((c = walk_next(&w)) != 0) {
		/* The first gap is from 0, which makes it the first coupon. */
		uint32_t gap = c - prev;

		while (gap >= 0x80) {
			*p++ = (uint8_t)(gap | 0x80);
			gap >>= 7;
		}
		*p++ = (uint8_t)gap;
		prev = c;
	}
	out->len = (size_t)(p - out->p);
	return 0;
}

/*
 * Reads one varint of the field named what.  muse_get_varint refuses the
 * overlong forms, so every sketch has one encoding; this tells a cut field
 * from a malformed one.
 */
static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v,
	const char *what, struct muse_err *e)
{
	const uint8_t *p = *pp, *q;

	if (muse_get_varint(&p, end, v) != 0) {
		for (q = p; q < end && q - p < 10 && (*q & 0x80); q++)
			;
		if (q == end)
			return muse_err_set(e, MUSE_EFORMAT,
			    "hll: truncated %s", what);
		return muse_err_set(e, MUSE_EFORMAT,
		    "hll: bad or overlong varint in %s", what);
	}
	*pp = p;
	return 0;
}

/*
 * The largest of k bytes, k a multiple of 16: chunked like max_portable,
 * so that the compiler vectorises it and a decode checks its registers at
 * the speed of a copy.
 */
static uint8_t max_byte(const uint8_t *p, size_t k)
{
	uint8_t m[16] = { 0 }, top = 0;
	size_t i, j;

	for (i = 0; i < k; i += 16)
		for (j = 0; j < 16; j++)
			m[j] = m[j] > p[i + j] ? m[j] : p[i + j];
	for (j = 0; j < 16; j++)
		top = m[j] > top ? m[j] : top;
	return top;
}

static int decode_dense(muse_hll *h, const uint8_t **pp, const uint8_t *end,
	struct muse_err *e)
{
	size_t k = (size_t)1 << h->lgk, i;
	const uint8_t *p = *pp;
	uint8_t top;

	if ((size_t)(end - p) < k)
		return muse_err_set(e, MUSE_EFORMAT,
		    "hll: truncated registers: %zu of %zu bytes",
		    (size_t)(end - p), k);
	top = max_byte(p, k);
	if (top > HLL_Q + 1) {
		/* Name the first one out of range. */
		for (i = 0; p[i] <= HLL_Q + 1; i++)
			;
		return muse_err_set(e, MUSE_EFORMAT,
		    "hll: register %zu is %u, more than %d", i,
		    (unsigned)p[i], HLL_Q + 1);
	}
	/* Empty is tag 0, so a dense sketch has a register set. */
	if (top == 0)
		return muse_err_set(e, MUSE_EFORMAT,
		    "hll: dense sketch with no register set");
	if (h->reg == NULL) {
		uint8_t *reg = malloc(k);

		if (reg == NULL)
			return muse_err_set(e, MUSE_ENOMEM,
			    "hll: out of memory");
		make_dense(h, reg);
	}
	memcpy(h->reg, p, k);
	*pp = p + k;
	return 0;
}

static int decode_sparse(muse_hll *h, uint64_t cnt, const uint8_t **pp,
	const uint8_t *end, struct muse_err *e)
{
	const uint8_t *p = *pp;
	uint64_t gap, prev = 0;
	uint32_t *cp, i;
	int rc;

	if (cnt > MUSE_HLL_SPARSE_MAX(h->lgk))
		return muse_err_set(e, MUSE_EFORMAT,
		    "hll: %llu sparse coupons, more than %u at lgk %u",
		    (unsigned long long)cnt, MUSE_HLL_SPARSE_MAX(h->lgk),
		    h->lgk);
	/* Each coupon takes a byte at least; check before allocating. */
	if (cnt > (uint64_t)(end - p))
		return muse_err_set(e, MUSE_EFORMAT,
		    "hll: truncated sparse coupons");
	cp = malloc(cnt * sizeof(*cp));
	if (cp == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "hll: out of memory");
	for (i = 0; i < cnt; i++) {
		if ((rc = get_varint(&p, end, &gap, "sparse coupons", e)) != 0)
			goto fail;
		if (i == 0 && gap < HLL_MIN_COUPON) {
			rc = muse_err_set(e, MUSE_EFORMAT,
			    "hll: sparse coupon %#llx has value 0",
			    (unsigned long long)gap);
			goto fail;
		}
		if (i > 0 && gap == 0) {
			rc = muse_err_set(e, MUSE_EFORMAT,
			    "hll: sparse coupons out of order");
			goto fail;
		}
		if (gap > UINT32_MAX - prev) {
			rc = muse_err_set(e, MUSE_EFORMAT,
			    "hll: sparse coupon past 2^32");
			goto fail;
		}
		prev += gap;
		cp[i] = (uint32_t)prev;
	}
	make_sparse(h, cp, (uint32_t)cnt, (uint32_t)cnt);
	*pp = p;
	return 0;
fail:
	free(cp);
	return rc;
}

int muse_hll_decode(muse_hll *h, const uint8_t **pp, const uint8_t *end,
	struct muse_err *e)
{
	const uint8_t *p = *pp;
	uint64_t tag;
	int rc;

	/* Nothing in h changes until the whole field has been checked. */
	if ((rc = get_varint(&p, end, &tag, "sketch tag", e)) != 0)
		return rc;
	if (tag == 0) {
		muse_hll_clear(h);
		*pp = p;
		return 0;
	}
	if (tag == 1)
		rc = decode_dense(h, &p, end, e);
	else if (tag & 1)
		return muse_err_set(e, MUSE_EFORMAT, "hll: bad tag %llu",
		    (unsigned long long)tag);
	else
		rc = decode_sparse(h, tag / 2, &p, end, e);
	if (rc == 0)
		*pp = p;
	return rc;
}

/* ---------------------------------------------------------------------
 * Unions of many encoded sketches
 *
 * A query unites hundreds of stored sketches into one.  Merging them one
 * by one with muse_hll_merge walks the whole sparse result for every
 * sketch added (and allocates a new array each time), which is quadratic
 * in the number of small sketches a group collects; and each stored
 * sketch is first decoded into a sketch of its own and then copied.  The
 * union below decodes every field straight into the result instead:
 *
 *   sparse  while the union holds at most K/4 coupons, they are appended
 *           unsorted behind a sorted, distinct prefix; when the tail
 *           outgrows the prefix (and at the end) it is radix-sorted,
 *           deduplicated and merged into the prefix, and the union turns
 *           dense when the prefix passes K/4.  Each coupon is so handled
 *           a constant number of times, in loops without branches on the
 *           data.  (A hash set of coupons was tried: a probe a coupon,
 *           with its unpredictable branches, cost more than the sorting.)
 *   dense   past K/4, dense fields are checked and maxed into the
 *           registers where they lie, and sparse ones folded in.
 *
 * The gaps of a sparse field are decoded a word at a time.  The result is the set union
 * whatever the order, so muse_hll_union_get gives exactly the sketch the
 * merges one by one give (the representation is a function of the set:
 * see the top of the file).  The fast decoder takes only canonical fields;
 * anything else is decoded again by muse_hll_decode, which reports the
 * error it has always reported (or, for a valid field the fast path does
 * not know, merges it the slow way).
 */

struct muse_hll_union {
	unsigned lgk;
	uint32_t mask;
	uint8_t *reg;           /* dense: K registers; NULL while sparse */
	uint32_t *cp, *tmp;     /* cp[0..sorted) sorted, distinct; then a tail */
	size_t sorted, n, cap;
	uint32_t *dec;          /* dense: a sparse field's coupons, decoded */
	muse_hll *scratch;      /* for fields the fast path leaves */
};

muse_hll_union *muse_hll_union_new(unsigned lgk)
{
	muse_hll_union *u;

	if (lgk < MUSE_HLL_LGK_MIN || lgk > MUSE_HLL_LGK_MAX)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (u != NULL) {
		u->lgk = lgk;
		u->mask = ((uint32_t)1 << lgk) - 1;
	}
	return u;
}

void muse_hll_union_free(muse_hll_union *u)
{
	if (u == NULL)
		return;
	free(u->reg);
	free(u->cp);
	free(u->tmp);
	free(u->dec);
	muse_hll_free(u->scratch);
	free(u);
}

/* Room for n + more coupons in cp (and as much in tmp). */
static int union_reserve(muse_hll_union *u, size_t more)
{
	size_t want = u->n + more, cap;
	uint32_t *cp, *tmp;

	if (want <= u->cap)
		return 0;
	cap = u->cap ? 2 * u->cap : 256;
	while (cap < want)
		cap *= 2;
	cp = realloc(u->cp, cap * sizeof(*cp));
	if (cp == NULL)
		return MUSE_ENOMEM;
	u->cp = cp;
	tmp = realloc(u->tmp, cap * sizeof(*tmp));
	if (tmp == NULL)
		return MUSE_ENOMEM;
	u->tmp = tmp;
	u->cap = cap;
	return 0;
}

static int union_densify(muse_hll_union *u)
{
	uint8_t *reg = calloc((size_t)u->mask + 1, 1);

	if (reg == NULL)
		return MUSE_ENOMEM;
	fold(reg, u->mask, u->cp, u->n);
	u->reg = reg;
	u->n = u->sorted = 0;
	return 0;
}

/*
 * Sorts a[0..n) with the help of t[0..n): three passes of 11, 11 and 10
 * bits; short runs by insertion.
 */
static void radix_sort(uint32_t *a, uint32_t *t, size_t n)
{
	static const unsigned shift[3] = { 0, 11, 22 };
	uint32_t *src = a, *dst = t, *x;

	if (n <= 32) {
		for (size_t i = 1; i < n; i++) {
			uint32_t v = a[i];
			size_t j = i;

			for (; j > 0 && a[j - 1] > v; j--)
				a[j] = a[j - 1];
			a[j] = v;
		}
		return;
	}
	for (int pass = 0; pass < 3; pass++) {
		uint32_t count[2048] = { 0 }, sum = 0;
		unsigned s = shift[pass];

		for (size_t i = 0; i < n; i++)
			count[src[i] >> s & 2047]++;
		for (size_t b = 0; b < 2048; b++) {
			uint32_t c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[src[i] >> s & 2047]++] = src[i];
		x = src;
		src = dst;
		dst = x;
	}
	/* After an odd number of passes the result is in t. */
	memcpy(a, src, n * sizeof(*a));
}

/* a[0..m) and a[m..n), each sorted, into one sorted a[0..n), via t. */
static void merge_runs(uint32_t *a, size_t m, size_t n, uint32_t *t)
{
	size_t i = 0, j = m, k = 0;

	while (i < m && j < n)
		t[k++] = a[j] < a[i] ? a[j++] : a[i++];
	while (i < m)
		t[k++] = a[i++];
	while (j < n)
		t[k++] = a[j++];
	memcpy(a, t, n * sizeof(*a));
}

/*
 * Sorts the tail into the prefix; turns the union dense when it holds
 * more than K/4 coupons.
 */
static int union_settle(muse_hll_union *u)
{
	uint32_t *tail, *out = u->tmp;
	size_t nt = u->n - u->sorted, i, j = 0, k = 0, d = 0;

	/* Nothing appended: cp may still be NULL (no offset taken from it). */
	if (u->reg != NULL || nt == 0)
		return 0;
	tail = u->cp + u->sorted;
	/*
	 * A tail of one field (a group of one key, say) is sorted already;
	 * one of two fields (a key met in two inputs) is two sorted runs,
	 * merged here at less cost than a sort.
	 */
	for (i = 1; i < nt && tail[i - 1] < tail[i]; i++)
		;
	if (i < nt) {
		for (j = i + 1; j < nt && tail[j - 1] <= tail[j]; j++)
			;
		if (j == nt)
			merge_runs(tail, i, nt, u->tmp);
		else
			radix_sort(tail, u->tmp, nt);
		j = 0;
	}
	for (i = 0; i < nt; i++)
		if (d == 0 || tail[i] != tail[d - 1])
			tail[d++] = tail[i];
	if (u->sorted == 0) {
		u->n = u->sorted = d;
	} else {
		for (i = 0; i < u->sorted || j < d;) {
			uint32_t v;

			if (j == d || (i < u->sorted && u->cp[i] < tail[j]))
				v = u->cp[i++];
			else if (i == u->sorted || tail[j] < u->cp[i])
				v = tail[j++];
			else
				v = u->cp[i++], j++;
			out[k++] = v;
		}
		u->tmp = u->cp;
		u->cp = out;
		u->n = u->sorted = k;
	}
	if (u->n > MUSE_HLL_SPARSE_MAX(u->lgk))
		return union_densify(u);
	return 0;
}

/* After coupons were appended: settles when the tail has grown enough. */
static int union_appended(muse_hll_union *u)
{
	size_t nt = u->n - u->sorted, lim = MUSE_HLL_SPARSE_MAX(u->lgk);

	if (nt > (u->sorted > lim / 2 ? u->sorted : lim / 2))
		return union_settle(u);
	return 0;
}

/* Adds n coupons (each with a value) to the union, sparse or dense. */
static int union_add(muse_hll_union *u, const uint32_t *c, uint32_t n)
{
	int rc;

	if (u->reg != NULL) {
		fold(u->reg, u->mask, c, n);
		return 0;
	}
	if ((rc = union_reserve(u, n)) != 0)
		return rc;
	if (n)
		memcpy(u->cp + u->n, c, n * sizeof(*c));
	u->n += n;
	return union_appended(u);
}

static int union_dense_regs(muse_hll_union *u, const uint8_t *reg)
{
	int rc;

	if (u->reg == NULL && (rc = union_densify(u)) != 0)
		return rc;
	pick_kernel()->max(u->reg, reg, (size_t)u->mask + 1);
	return 0;
}

/* Unites a decoded sketch into u (the slow path). */
static int union_sketch(muse_hll_union *u, const muse_hll *h)
{
	int rc;

	if (h->reg != NULL)
		return union_dense_regs(u, h->reg);
	if ((rc = union_add(u, h->cp, h->n)) != 0)
		return rc;
	return union_add(u, h->pend, h->np);
}

/* A varint below 2^32 in its one canonical form, or 0. */
static inline int fast_varint32(const uint8_t **pp, const uint8_t *end,
	uint32_t *v)
{
	const uint8_t *p = *pp;
	uint64_t r = 0;

	for (unsigned s = 0; s < 35 && p < end; s += 7) {
		uint8_t b = *p++;

		if (b == 0 && s > 0)
			return 0;
		r |= (uint64_t)(b & 0x7F) << s;
		if (!(b & 0x80)) {
			if (r > UINT32_MAX)
				return 0;
			*v = (uint32_t)r;
			*pp = p;
			return 1;
		}
	}
	return 0;
}

/*
 * Eight bytes at p as a little-endian word: the gaps of a sparse field are
 * read a word at a time, without a branch per byte.
 */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/*
 * Decodes cnt gaps at *pp into the coupons out[0..cnt); 1 when the field
 * is not one the fast path takes.  While 8 bytes remain, a varint's
 * length is the first byte without its top bit, found in a word at once,
 * and its 7-bit groups are gathered with shifts; the last few are read a
 * byte at a time.  The checks are muse_hll_decode's: canonical varints,
 * a first coupon with a value, strictly rising coupons below 2^32.
 */
static int fast_gaps(const uint8_t **pp, const uint8_t *end, uint32_t cnt,
	uint32_t *out)
{
	const uint8_t *p = *pp;
	uint64_t prev = 0;
	uint32_t i = 0, gap;

	for (; i < cnt && end - p >= 8; i++) {
		uint64_t w = load_le64(p), stop = ~w & 0x8080808080808080ULL, x, v;
		unsigned len;

		if (stop == 0)
			return 1;
		len = (unsigned)__builtin_ctzll(stop) / 8 + 1;
		if (len > 5)
			return 1;
		x = w & (~0ULL >> (64 - 8 * len));
		if (len > 1 && (x >> (8 * (len - 1))) == 0)
			return 1;       /* a final zero byte: overlong */
		v = (x & 0x7F) | (x >> 1 & 0x3F80) | (x >> 2 & 0x1FC000) |
		    (x >> 3 & 0xFE00000) | (x >> 4 & 0x7F0000000ULL);
		if (i == 0 ? v < HLL_MIN_COUPON : v == 0)
			return 1;
		prev += v;
		if (prev > UINT32_MAX)
			return 1;
		out[i] = (uint32_t)prev;
		p += len;
	}
	for (; i < cnt; i++) {
		if (!fast_varint32(&p, end, &gap) ||
		    (i == 0 ? gap < HLL_MIN_COUPON : gap == 0) ||
		    gap > UINT32_MAX - prev)
			return 1;
		prev += gap;
		out[i] = (uint32_t)prev;
	}
	*pp = p;
	return 0;
}

/*
 * A sparse field's coupons into u: decoded straight onto the tail while
 * sparse; while dense, into dec, then folded (two loops, so that the
 * scattered register updates overlap).  1 when the field is not one the
 * fast path takes (u is then as it was).
 */
static int union_fast_sparse(muse_hll_union *u, uint32_t cnt,
	const uint8_t **pp, const uint8_t *end, int *rc)
{
	uint32_t *out;

	if (cnt > MUSE_HLL_SPARSE_MAX(u->lgk) || cnt > (size_t)(end - *pp))
		return 1;
	if (u->reg == NULL) {
		if ((*rc = union_reserve(u, cnt)) != 0)
			return 0;
		out = u->cp + u->n;
	} else {
		if (u->dec == NULL &&
		    (u->dec = malloc(MUSE_HLL_SPARSE_MAX(u->lgk) *
		    sizeof(*u->dec))) == NULL) {
			*rc = MUSE_ENOMEM;
			return 0;
		}
		out = u->dec;
	}
	if (fast_gaps(pp, end, cnt, out))
		return 1;
	if (u->reg != NULL) {
		fold(u->reg, u->mask, out, cnt);
		return 0;
	}
	u->n += cnt;
	*rc = union_appended(u);
	return 0;
}

int muse_hll_union_decode(muse_hll_union *u, const uint8_t **pp,
	const uint8_t *end, struct muse_err *e)
{
	const uint8_t *p = *pp, *start = *pp;
	size_t k = (size_t)u->mask + 1;
	uint32_t tag;
	int rc = 0;

	if (fast_varint32(&p, end, &tag)) {
		if (tag == 0) {
			*pp = p;
			return 0;
		}
		if (tag == 1 && (size_t)(end - p) >= k) {
			uint8_t top = max_byte(p, k);

			if (top >= 1 && top <= HLL_Q + 1) {
				if ((rc = union_dense_regs(u, p)) != 0)
					return muse_err_set(e, rc, "hll: out of memory");
				*pp = p + k;
				return 0;
			}
		} else if (tag > 1 && !(tag & 1) &&
		    !union_fast_sparse(u, tag / 2, &p, end, &rc)) {
			if (rc != 0)
				return muse_err_set(e, rc, "hll: out of memory");
			*pp = p;
			return 0;
		}
	}
	/* Anything else: the decoder's own checks and messages. */
	if (u->scratch == NULL && (u->scratch = muse_hll_new(u->lgk)) == NULL)
		return muse_err_set(e, MUSE_ENOMEM, "hll: out of memory");
	p = start;
	if ((rc = muse_hll_decode(u->scratch, &p, end, e)) != 0)
		return rc;
	if ((rc = union_sketch(u, u->scratch)) != 0)
		return muse_err_set(e, rc, "hll: out of memory");
	*pp = p;
	return 0;
}

int muse_hll_union_get(muse_hll_union *u, muse_hll *h)
{
	int rc;

	if (h->lgk != u->lgk)
		return MUSE_EPARAM;
	if ((rc = union_settle(u)) != 0)
		return rc;
	muse_hll_clear(h);
	if (u->reg != NULL) {
		make_dense(h, u->reg);
		u->reg = NULL;
	} else if (u->n > 0) {
		make_sparse(h, u->cp, (uint32_t)u->n, (uint32_t)u->cap);
		u->cp = NULL;
		free(u->tmp);
		u->tmp = NULL;
		u->cap = 0;
	}
	u->n = u->sorted = 0;
	return 0;
}
