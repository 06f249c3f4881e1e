/* util/compress.h — block compression (lz4, zstd) with ZFS's "must save 1/8" rule, and safe
 * decompression of untrusted blocks.
 *
 * Compressed block format (written by comp_compress, read by comp_decompress):
 *	u32 LE  payload length P
 *	P bytes lz4 block / zstd frame
 * The length header makes the block self-delimiting, so a caller may store it padded (e.g.
 * to a sector) and pass the padded length to comp_decompress: trailing bytes are ignored.
 *
 * zstd contexts are cached per thread (freed at thread exit), so both directions are cheap
 * to call per block and safe to call from any number of threads.
 */
#ifndef TARN_UTIL_COMPRESS_H
#define TARN_UTIL_COMPRESS_H

#include <stddef.h>

/* On-disk values: never renumber. */
enum comp_alg {
	COMP_OFF = 0,
	COMP_LZ4 = 1,
	COMP_ZSTD = 2, /* level COMP_ZSTD_LEVEL */
};

#define COMP_ZSTD_LEVEL 3
#define COMP_HDR_LEN 4

/* Worst-case output size of comp_compress(a, ., srclen, ...) including the header: a dst of
 * this size never fails for lack of room (it may still return 0 under the 1/8 rule). Returns
 * srclen for COMP_OFF and 0 if srclen is beyond what the algorithm supports or a is unknown. */
size_t comp_bound(enum comp_alg a, size_t srclen);

/* Compress srclen bytes at src into dst (dstcap bytes, must not overlap src). Returns the
 * compressed length (header included), which is at most srclen - srclen/8 and at most
 * dstcap; or 0, meaning "store the block uncompressed", if compression would not save at
 * least 1/8 of srclen (OpenZFS's rule), if a is COMP_OFF or unknown, if srclen is 0 or too
 * large for the algorithm (lz4: ~2 GiB; zstd: 4 GiB), or on any failure (including lack of
 * memory for a zstd context). Never records an error. */
size_t comp_compress(enum comp_alg a, const void *src, size_t srclen, void *dst, size_t dstcap);

/* Decompress the block at src (srclen bytes, untrusted: any content is handled safely) into
 * exactly dstlen bytes at dst (dstlen > 0). srclen may exceed the length comp_compress
 * returned (padding is ignored). COMP_OFF copies the first dstlen bytes (srclen >= dstlen
 * required). Returns 0; -EIO with a terr() message if the block is corrupt, truncated or does
 * not decompress to exactly dstlen bytes; -EINVAL for an unknown algorithm or dstlen == 0;
 * -ENOMEM if a zstd context cannot be allocated. */
int comp_decompress(enum comp_alg a, const void *src, size_t srclen, void *dst, size_t dstlen);

/* Property-value name: "off", "lz4", "zstd"; NULL for an unknown value. Static string. */
const char *comp_name(enum comp_alg a);

/* Parse a compression property value: "off", "on" (= lz4, as in OpenZFS), "lz4", "zstd".
 * Case-sensitive, as in zfs. "zstd-N" levels and ZFS's other algorithms are rejected (the zstd
 * level is fixed at COMP_ZSTD_LEVEL for now, and accepting "zstd-19" while compressing at 3
 * would be a lie in `zfs get`). Otherwise -EINVAL
 * "'compression' must be one of 'on | off | lz4 | zstd'". */
int comp_parse(const char *s, enum comp_alg *out);

#endif
