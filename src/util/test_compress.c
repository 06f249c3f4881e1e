/* Unit tests for util/compress: round trips, the 1/8 rule, and hostile input. */
#include "util/compress.h"
#include "util/err.h"
#include "util/tap.h"

#include <pthread.h>
#include <stdlib.h>

#define BLK (128 * 1024)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Compressible: words from a small vocabulary. */
static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
	static const char *const words[] = { "tarn ", "block ", "pool ", "dataset ", "snapshot ", "copy ",
					     "on ", "write ", "\n" };
	uint64_t s = seed | 1;
	size_t i = 0;

	while (i < n) {
		const char *w;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		w = words[s % 9];
		while (*w && i < n)
			p[i++] = (uint8_t)*w++;
	}
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static const enum comp_alg algs[] = { COMP_LZ4, COMP_ZSTD };

static void test_roundtrip(void)
{
	uint8_t *src = malloc(BLK), *dst = malloc(BLK), *out = malloc(BLK);
	static const size_t sizes[] = { 1, 7, 64, 512, 4096, 4097, 65536, BLK };

	if (!ok(src && dst && out, "allocated buffers"))
		goto done;
	for (size_t a = 0; a < 2; a++) {
		enum comp_alg alg = algs[a];

		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t n = sizes[s], c;

			fill_text(src, n, n);
			c = comp_compress(alg, src, n, dst, BLK);
			if (n < 16) {
				is_u64(c, 0, "%s: %zu bytes do not compress by 1/8", comp_name(alg), n);
				continue;
			}
			if (n >= 512)
				ok(c > 0, "%s: %zu text bytes compress to %zu", comp_name(alg), n, c);
			else if (c == 0)
				continue; /* too small to save 1/8: fine either way */
			ok(c <= n - n / 8, "%s: %zu -> %zu saves at least 1/8", comp_name(alg), n, c);
			memset(out, 0xee, n);
			is_int(comp_decompress(alg, dst, c, out, n), 0, "%s: %zu decompress", comp_name(alg), n);
			ok(memcmp(src, out, n) == 0, "%s: %zu round trip intact", comp_name(alg), n);
		}
	}
done:
	free(src);
	free(dst);
	free(out);
}

static void test_rule(void)
{
	uint8_t *src = malloc(BLK), *dst = malloc(2 * BLK), *out = malloc(BLK);
	uint8_t zero[4096] = { 0 };

	if (!ok(src && dst && out, "allocated buffers"))
		goto done;
	fill_random(src, BLK);
	for (size_t a = 0; a < 2; a++) {
		enum comp_alg alg = algs[a];
		size_t c, full;

		is_u64(comp_compress(alg, src, BLK, dst, 2 * BLK), 0, "%s: random data stays uncompressed",
		       comp_name(alg));
		is_u64(comp_compress(alg, src, 0, dst, BLK), 0, "%s: empty input", comp_name(alg));
		/* Half random, half zeros: ~50% saving, well past 1/8. */
		memset(src + BLK / 2, 0, BLK / 2);
		full = comp_compress(alg, src, BLK, dst, 2 * BLK);
		ok(full > BLK / 2 && full < BLK - BLK / 8, "%s: half-random compresses to %zu", comp_name(alg),
		   full);
		/* lz4 needs exactly its output size; zstd may want slack and then refuses */
		c = comp_compress(alg, src, BLK, dst, full);
		ok(c == full || (alg == COMP_ZSTD && c == 0), "%s: dstcap == result gives %zu", comp_name(alg), c);
		is_u64(comp_compress(alg, src, BLK, dst, full - 1), 0, "%s: dstcap one short fails cleanly",
		       comp_name(alg));
		is_u64(comp_compress(alg, src, BLK, dst, 3), 0, "%s: tiny dstcap", comp_name(alg));
		/* 7/8 random: saves less than 1/8 (plus header) -> refused. */
		fill_random(src, BLK);
		memset(src + BLK - BLK / 8 + 64, 0, BLK / 8 - 64);
		is_u64(comp_compress(alg, src, BLK, dst, 2 * BLK), 0, "%s: saving just under 1/8 is refused",
		       comp_name(alg));
		c = comp_compress(alg, zero, sizeof(zero), dst, comp_bound(alg, sizeof(zero)));
		ok(c > 0 && c < 64, "%s: 4K of zeros compresses to %zu", comp_name(alg), c);
		/* padding after the block is ignored */
		memset(dst + c, 0x5a, 512);
		is_int(comp_decompress(alg, dst, c + 512, out, sizeof(zero)), 0, "%s: padded block decompresses",
		       comp_name(alg));
		ok(memcmp(out, zero, sizeof(zero)) == 0, "%s: padded block intact", comp_name(alg));
		is_int(comp_decompress(alg, dst, c, out, sizeof(zero) - 1), -EIO, "%s: dstlen too small",
		       comp_name(alg));
		diag("%s", terr_msg());
		is_int(comp_decompress(alg, dst, c, out, sizeof(zero) + 1), -EIO, "%s: dstlen too large",
		       comp_name(alg));
		diag("%s", terr_msg());
		is_int(comp_decompress(alg, dst, c - 1, out, sizeof(zero)), -EIO, "%s: truncated block",
		       comp_name(alg));
		ok(strstr(terr_msg(), "exceeds block size") != NULL, "%s: truncated message: %s", comp_name(alg),
		   terr_msg());
		fill_random(src, BLK);
	}
	is_u64(comp_compress(COMP_OFF, zero, sizeof(zero), dst, BLK), 0, "off never compresses");
	is_u64(comp_compress((enum comp_alg)7, zero, sizeof(zero), dst, BLK), 0, "unknown never compresses");
done:
	free(src);
	free(dst);
	free(out);
}

static void test_bound(void)
{
	is_u64(comp_bound(COMP_OFF, 4096), 4096, "bound off");
	ok(comp_bound(COMP_LZ4, 4096) >= 4096 + COMP_HDR_LEN, "bound lz4 >= input + header");
	ok(comp_bound(COMP_ZSTD, 4096) >= 4096 + COMP_HDR_LEN, "bound zstd >= input + header");
	is_u64(comp_bound(COMP_LZ4, (size_t)1 << 40), 0, "bound lz4 beyond its limit");
	is_u64(comp_bound((enum comp_alg)9, 10), 0, "bound unknown");
}

static void test_decompress_errors(void)
{
	uint8_t src[64] = { 0 }, out[64];

	is_int(comp_decompress(COMP_OFF, "abcdef", 6, out, 4), 0, "off copies");
	ok(memcmp(out, "abcd", 4) == 0, "off copied bytes");
	is_int(comp_decompress(COMP_OFF, "ab", 2, out, 4), -EIO, "off too short");
	is_int(comp_decompress(COMP_LZ4, src, 3, out, 8), -EIO, "shorter than header");
	is_str(terr_msg(), "compressed block truncated (3 bytes)", "header message");
	src[0] = 61;
	is_int(comp_decompress(COMP_LZ4, src, 64, out, 8), -EIO, "length beyond block");
	is_str(terr_msg(), "compressed length 61 exceeds block size 64", "length message");
	src[0] = 0xff;
	src[3] = 0xff;
	is_int(comp_decompress(COMP_ZSTD, src, 64, out, 8), -EIO, "huge length");
	src[0] = 0;
	src[3] = 0;
	is_int(comp_decompress(COMP_LZ4, src, 64, out, 8), -EIO, "empty lz4 payload");
	is_int(comp_decompress(COMP_ZSTD, src, 64, out, 8), -EIO, "empty zstd payload");
	is_int(comp_decompress(COMP_LZ4, src, 64, out, 0), -EINVAL, "dstlen 0");
	is_int(comp_decompress((enum comp_alg)5, src, 64, out, 8), -EINVAL, "unknown algorithm");
	is_str(terr_msg(), "unknown compression algorithm 5", "unknown message");
}

/* Random garbage, and valid blocks with bit flips, truncations and wrong lengths: must never
 * crash or overrun (run under ASan/valgrind); result is 0 or -EIO. */
static void test_fuzz(void)
{
	enum { N = 4096, ITER = 3000 };
	uint8_t *src = malloc(N), *blk = malloc(2 * N), *bad = malloc(2 * N), *out = malloc(N);
	int weird = 0;

	if (!ok(src && blk && bad && out, "allocated buffers"))
		goto done;
	for (size_t a = 0; a < 2; a++) {
		enum comp_alg alg = algs[a];
		size_t c;

		fill_text(src, N, 77);
		c = comp_compress(alg, src, N, blk, 2 * N);
		if (!ok(c > 0, "%s: fuzz seed block compressed", comp_name(alg)))
			continue;
		for (int i = 0; i < ITER; i++) {
			size_t len = c, dlen = N;
			int rc;

			memcpy(bad, blk, c);
			switch (i % 4) {
			case 0: /* bit flips */
				for (int k = 0; k < 1 + (int)(rnd() % 4); k++)
					bad[rnd() % c] ^= (uint8_t)(1u << (rnd() % 8));
				break;
			case 1: /* truncation, header fixed up to match */
				len = COMP_HDR_LEN + rnd() % (c - COMP_HDR_LEN);
				bad[0] = (uint8_t)(len - COMP_HDR_LEN);
				bad[1] = (uint8_t)((len - COMP_HDR_LEN) >> 8);
				break;
			case 2: /* pure garbage with a plausible header */
				len = COMP_HDR_LEN + rnd() % (2 * N - COMP_HDR_LEN);
				fill_random(bad, len);
				bad[0] = (uint8_t)(len - COMP_HDR_LEN);
				bad[1] = (uint8_t)((len - COMP_HDR_LEN) >> 8);
				bad[2] = bad[3] = 0;
				break;
			default: /* intact data, wrong output size */
				dlen = 1 + rnd() % N;
				break;
			}
			rc = comp_decompress(alg, bad, len, out, dlen);
			if (rc != 0 && rc != -EIO)
				weird++;
		}
	}
	is_int(weird, 0, "fuzzed blocks give 0 or -EIO only");
done:
	free(src);
	free(blk);
	free(bad);
	free(out);
}

/* Each thread gets its own zstd contexts; they are freed when it exits (valgrind checks). */
static void *thread_main(void *arg)
{
	uint8_t src[8192], dst[8192], out[8192];
	size_t c;
	int *bad = arg;

	for (int i = 0; i < 50; i++) {
		fill_text(src, sizeof(src), (uint64_t)i + 1);
		c = comp_compress(COMP_ZSTD, src, sizeof(src), dst, sizeof(dst));
		if (c == 0 || comp_decompress(COMP_ZSTD, dst, c, out, sizeof(out)) != 0 ||
		    memcmp(src, out, sizeof(src)) != 0)
			(*bad)++;
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];
	int bad[4] = { 0 }, started = 0, total = 0;

	for (int i = 0; i < 4; i++)
		started += pthread_create(&th[i], NULL, thread_main, &bad[i]) == 0;
	is_int(started, 4, "started 4 threads");
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		total += bad[i];
	}
	is_int(total, 0, "concurrent zstd round trips");
}

static void test_names(void)
{
	enum comp_alg a = 9;

	is_str(comp_name(COMP_OFF), "off", "name off");
	is_str(comp_name(COMP_LZ4), "lz4", "name lz4");
	is_str(comp_name(COMP_ZSTD), "zstd", "name zstd");
	ok(comp_name((enum comp_alg)3) == NULL, "name unknown is NULL");
	is_int(comp_parse("off", &a), 0, "parse off");
	is_int(a, COMP_OFF, "off");
	is_int(comp_parse("on", &a), 0, "parse on");
	is_int(a, COMP_LZ4, "on = lz4");
	a = 9;
	is_int(comp_parse("lz4", &a), 0, "parse lz4");
	is_int(a, COMP_LZ4, "lz4");
	is_int(comp_parse("zstd", &a), 0, "parse zstd");
	is_int(a, COMP_ZSTD, "zstd");
	a = 9;
	is_int(comp_parse("zstd-19", &a), -EINVAL, "zstd-19 rejected");
	is_str(terr_msg(), "'compression' must be one of 'on | off | lz4 | zstd'", "reject message");
	is_int(comp_parse("gzip", &a), -EINVAL, "gzip rejected");
	is_int(comp_parse("LZ4", &a), -EINVAL, "case-sensitive");
	is_int(comp_parse("", &a), -EINVAL, "empty rejected");
	is_int(a, 9, "*out untouched on failure");
}

int main(void)
{
	test_roundtrip();
	test_rule();
	test_bound();
	test_decompress_errors();
	test_fuzz();
	test_threads();
	test_names();
	return done_testing();
}
