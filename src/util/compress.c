/* util/compress.c — block compression (see compress.h). */
#include "compress.h"

#include "err.h"
#include "le.h"

#include <limits.h>
#include <lz4.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* ---- per-thread zstd contexts ---- */

struct zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

static __thread struct zctx *zctx_tls;
static pthread_key_t zctx_key;
static pthread_once_t zctx_once = PTHREAD_ONCE_INIT;
static int zctx_key_ok;

static void zctx_free(void *p)
{
	struct zctx *z = p;

	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

static void zctx_key_init(void) { zctx_key_ok = pthread_key_create(&zctx_key, zctx_free) == 0; }

/* This thread's context holder (freed by the key destructor at thread exit), or NULL. */
static struct zctx *zctx_get(void)
{
	if (zctx_tls)
		return zctx_tls;
	pthread_once(&zctx_once, zctx_key_init);
	if (!zctx_key_ok)
		return NULL;
	zctx_tls = calloc(1, sizeof(*zctx_tls));
	if (zctx_tls && pthread_setspecific(zctx_key, zctx_tls) != 0) {
		free(zctx_tls);
		zctx_tls = NULL;
	}
	return zctx_tls;
}

static ZSTD_CCtx *zctx_c(void)
{
	struct zctx *z = zctx_get();

	if (z && !z->c)
		z->c = ZSTD_createCCtx();
	return z ? z->c : NULL;
}

static ZSTD_DCtx *zctx_d(void)
{
	struct zctx *z = zctx_get();

	if (z && !z->d)
		z->d = ZSTD_createDCtx();
	return z ? z->d : NULL;
}

/* ---- compression ---- */

static size_t alg_bound(enum comp_alg a, size_t srclen)
{
	size_t b;

	switch (a) {
	case COMP_LZ4:
		return srclen <= LZ4_MAX_INPUT_SIZE ? (size_t)LZ4_compressBound((int)srclen) : 0;
	case COMP_ZSTD:
		b = ZSTD_compressBound(srclen);
		return ZSTD_isError(b) ? 0 : b;
	default:
		return 0;
	}
}

size_t comp_bound(enum comp_alg a, size_t srclen)
{
	size_t b;

	if (a == COMP_OFF)
		return srclen;
	b = alg_bound(a, srclen);
	if (b == 0 || b > SIZE_MAX - COMP_HDR_LEN)
		return 0;
	return b + COMP_HDR_LEN;
}

/* Compress into dst (cap bytes); 0 if it does not fit or fails. */
static size_t alg_compress(enum comp_alg a, const void *src, size_t srclen, void *dst, size_t cap)
{
	ZSTD_CCtx *cc;
	size_t n;
	int r;

	switch (a) {
	case COMP_LZ4:
		if (srclen > LZ4_MAX_INPUT_SIZE)
			return 0;
		r = LZ4_compress_default(src, dst, (int)srclen, cap > INT_MAX ? INT_MAX : (int)cap);
		return r > 0 ? (size_t)r : 0;
	case COMP_ZSTD:
		cc = zctx_c();
		if (!cc)
			return 0;
		n = ZSTD_compressCCtx(cc, dst, cap, src, srclen, COMP_ZSTD_LEVEL);
		return ZSTD_isError(n) ? 0 : n;
	default:
		return 0;
	}
}

size_t comp_compress(enum comp_alg a, const void *src, size_t srclen, void *dst, size_t dstcap)
{
	size_t cap = srclen - srclen / 8, n;

	if (srclen == 0 || srclen > UINT32_MAX || a == COMP_OFF)
		return 0;
	if (cap > dstcap)
		cap = dstcap;
	if (cap <= COMP_HDR_LEN)
		return 0;
	/* early abort, in the spirit of OpenZFS's for zstd: if neither the first nor the last
	 * quarter of the block compresses by an eighth, the block is taken for incompressible
	 * (random or encrypted data) and the full try is skipped */
	if (srclen >= 4096) {
		size_t q = srclen / 4, qcap = q - q / 8;
		if (qcap > cap - COMP_HDR_LEN)
			qcap = cap - COMP_HDR_LEN;
		size_t h = alg_compress(COMP_LZ4, src, q, (uint8_t *)dst + COMP_HDR_LEN, qcap);
		if (h == 0 || h > qcap) {
			size_t t = alg_compress(COMP_LZ4, (const uint8_t *)src + srclen - q, q,
						(uint8_t *)dst + COMP_HDR_LEN, qcap);
			if (t == 0 || t > qcap)
				return 0;
		}
	}
	n = alg_compress(a, src, srclen, (uint8_t *)dst + COMP_HDR_LEN, cap - COMP_HDR_LEN);
	if (n == 0 || n > cap - COMP_HDR_LEN)
		return 0;
	le_put32(dst, (uint32_t)n);
	return n + COMP_HDR_LEN;
}

/* ---- decompression ---- */

static int decomp_lz4(const void *src, size_t srclen, void *dst, size_t dstlen)
{
	int r;

	if (srclen > INT_MAX || dstlen > INT_MAX)
		return terr(EIO, "lz4 block too large (%zu bytes into %zu)", srclen, dstlen);
	r = LZ4_decompress_safe(src, dst, (int)srclen, (int)dstlen);
	if (r < 0)
		return terr(EIO, "lz4 decompression failed: corrupt data");
	if ((size_t)r != dstlen)
		return terr(EIO, "lz4 decompressed to %d bytes, expected %zu", r, dstlen);
	return 0;
}

static int decomp_zstd(const void *src, size_t srclen, void *dst, size_t dstlen)
{
	ZSTD_DCtx *dc = zctx_d();
	size_t r;

	if (!dc)
		return terr(ENOMEM, "cannot allocate zstd decompression context");
	r = ZSTD_decompressDCtx(dc, dst, dstlen, src, srclen);
	if (ZSTD_isError(r))
		return terr(EIO, "zstd decompression failed: %s", ZSTD_getErrorName(r));
	if (r != dstlen)
		return terr(EIO, "zstd decompressed to %zu bytes, expected %zu", r, dstlen);
	return 0;
}

int comp_decompress(enum comp_alg a, const void *src, size_t srclen, void *dst, size_t dstlen)
{
	uint32_t plen;

	if (dstlen == 0)
		return terr(EINVAL, "cannot decompress into an empty buffer");
	if (a == COMP_OFF) {
		if (srclen < dstlen)
			return terr(EIO, "uncompressed block too short (%zu bytes, expected %zu)", srclen, dstlen);
		memcpy(dst, src, dstlen);
		return 0;
	}
	if (a != COMP_LZ4 && a != COMP_ZSTD)
		return terr(EINVAL, "unknown compression algorithm %d", (int)a);
	if (srclen < COMP_HDR_LEN)
		return terr(EIO, "compressed block truncated (%zu bytes)", srclen);
	plen = le_get32(src);
	if (plen > srclen - COMP_HDR_LEN)
		return terr(EIO, "compressed length %u exceeds block size %zu", (unsigned)plen, srclen);
	src = (const uint8_t *)src + COMP_HDR_LEN;
	if (a == COMP_LZ4)
		return decomp_lz4(src, plen, dst, dstlen);
	return decomp_zstd(src, plen, dst, dstlen);
}

/* ---- names ---- */

const char *comp_name(enum comp_alg a)
{
	switch (a) {
	case COMP_OFF:
		return "off";
	case COMP_LZ4:
		return "lz4";
	case COMP_ZSTD:
		return "zstd";
	}
	return NULL;
}

int comp_parse(const char *s, enum comp_alg *out)
{
	static const struct {
		const char *name;
		enum comp_alg a;
	} tab[] = {
		{ "off", COMP_OFF }, { "on", COMP_LZ4 }, { "lz4", COMP_LZ4 }, { "zstd", COMP_ZSTD },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(s, tab[i].name) == 0) {
			*out = tab[i].a;
			return 0;
		}
	}
	return terr(EINVAL, "'compression' must be one of 'on | off | lz4 | zstd'");
}
