/*
 * seedtool.c - helps tests/fuzz/mkcorpus.sh make seed inputs; not part of
 * the build.
 *
 *   seedtool unpack IN OUT     the streams of IN with every data block's
 *                              payload decompressed (stored size = raw
 *                              size), the form FZ_PACK expects (fuzz.h)
 *   seedtool store OUT VARIANT fz_small_store(OUT, VARIANT)
 *   seedtool hll DIR           fuzz_hll inputs: an lgk byte, then encoded
 *                              sketches (empty, sparse, at the sparse
 *                              limit, dense) at several lgk
 *
 * Checksums are left as they were: the rebuilder recomputes them.
 */
#include "fuzz.h"

/* fuzz.h declares it for the targets; this program has none. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}

static int slurp(const char *path, struct muse_buf *b)
{
	FILE *f = fopen(path, "rb");
	uint8_t chunk[65536];
	size_t k;

	if (f == NULL)
		return -1;
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fz_put(b, chunk, k);
	fclose(f);
	return 0;
}

static int unpack(const char *in_path, const char *out_path)
{
	struct muse_buf in = { 0 }, out = { 0 };
	size_t pos = 0, n;
	FILE *f;

	if (slurp(in_path, &in) != 0)
		return -1;
	n = in.len;
	while (n - pos >= MUSE_HEADER_SIZE) {
		fz_put(&out, in.p + pos, MUSE_HEADER_SIZE);
		pos += MUSE_HEADER_SIZE;
		while (n - pos >= MUSE_BLOCK_HEADER_SIZE) {
			const uint8_t *bh = in.p + pos;
			uint32_t size = muse_le32(bh + 12), raw = muse_le32(bh + 8);
			size_t h = out.len, got;

			if (bh[0] == 'E') {
				fz_put(&out, bh, MUSE_TRAILER_SIZE);
				pos += MUSE_TRAILER_SIZE;
				break;
			}
			if (size > n - pos - MUSE_BLOCK_HEADER_SIZE)
				return -1;
			fz_put(&out, bh, MUSE_BLOCK_HEADER_SIZE);
			if (bh[0] == 'B') {
				if (muse_buf_reserve(&out, raw))
					abort();
				got = ZSTD_decompress(out.p + out.len, raw,
				    bh + MUSE_BLOCK_HEADER_SIZE, size);
				if (ZSTD_isError(got) || got != raw)
					return -1;
				out.len += raw;
				muse_st32(out.p + h + 12, raw);
			} else {
				fz_put(&out, bh + MUSE_BLOCK_HEADER_SIZE, size);
			}
			pos += MUSE_BLOCK_HEADER_SIZE + size;
		}
	}
	if ((f = fopen(out_path, "wb")) == NULL ||
	    fwrite(out.p, 1, out.len, f) != out.len || fclose(f) != 0)
		return -1;
	muse_buf_free(&in);
	muse_buf_free(&out);
	return 0;
}

/* Writes the sketches of n items from seed, at lgk, one per count. */
static int hll_seed(const char *dir, unsigned lgk, const unsigned *counts,
	size_t k, int seed)
{
	struct muse_buf b = { 0 };
	char path[4096];
	uint8_t first = (uint8_t)(lgk - 4);
	FILE *f;

	fz_put(&b, &first, 1);
	for (size_t i = 0; i < k; i++) {
		muse_hll *h = muse_hll_new(lgk);

		if (h == NULL)
			abort();
		for (unsigned u = 0; u < counts[i]; u++) {
			uint64_t x = XXH3_64bits_withSeed(&u, sizeof(u), (uint64_t)seed);

			if (muse_hll_add(h, muse_hll_coupon(x, x * 0x9E3779B97F4A7C15u)))
				abort();
		}
		if (muse_hll_encode(h, &b))
			abort();
		muse_hll_free(h);
	}
	snprintf(path, sizeof(path), "%s/lgk%02u-%d", dir, lgk, seed);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(b.p, 1, b.len, f) != b.len || fclose(f) != 0)
		return -1;
	muse_buf_free(&b);
	return 0;
}

static int hll_seeds(const char *dir)
{
	static const unsigned lgks[] = { 4, 5, 6, 8, 10, 12, 14, 21 };
	int rc = 0;

	for (size_t i = 0; i < sizeof(lgks) / sizeof(lgks[0]); i++) {
		unsigned lgk = lgks[i], lim = MUSE_HLL_SPARSE_MAX(lgk);
		unsigned sparse[4] = { 0, 1, 3, lim < 40 ? lim : 40 };
		unsigned edge[2] = { lim, lim + 1 };
		unsigned dense[2] = { 3 * lim, 1 };

		rc |= hll_seed(dir, lgk, sparse, 4, 1);
		if (lim <= 256)
			rc |= hll_seed(dir, lgk, edge, 2, 2);
		if (lgk <= 8)
			rc |= hll_seed(dir, lgk, dense, 2, 3);
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "hll") == 0)
		return hll_seeds(argv[2]) ? 1 : 0;
	if (argc == 4 && strcmp(argv[1], "unpack") == 0)
		return unpack(argv[2], argv[3]) ? 1 : 0;
	if (argc == 4 && strcmp(argv[1], "store") == 0)
		return fz_small_store(argv[2], (unsigned)atoi(argv[3])) ? 1 : 0;
	fprintf(stderr, "usage: seedtool unpack IN OUT | store OUT VARIANT | "
	    "hll DIR\n");
	return 2;
}
