/* util/cksum.h — block checksums. Every checksum is stored in a fixed CKSUM_LEN-byte field;
 * algorithms with shorter digests zero-fill the rest. */
#ifndef TARN_UTIL_CKSUM_H
#define TARN_UTIL_CKSUM_H

#include <stddef.h>
#include <stdint.h>

/* On-disk values: never renumber. */
enum cksum_type {
	CKSUM_XXH3_128 = 1, /* xxh3 128-bit, canonical (big-endian) in bytes 0..15, 16..31 zero */
	CKSUM_SHA256 = 2,   /* SHA-256, all 32 bytes */
};

#define CKSUM_LEN 32
#define CKSUM_DEFAULT CKSUM_XXH3_128

/* Checksum len bytes at data (may be NULL if len == 0) with algorithm t into out (caller's
 * CKSUM_LEN bytes). Cannot fail and does not allocate. An unknown t yields all zeros: callers
 * validate types read from disk first (cksum_name() != NULL). */
void cksum_compute(enum cksum_type t, const void *data, size_t len, uint8_t out[CKSUM_LEN]);

/* 1 if the CKSUM_LEN-byte checksums are identical, else 0. */
int cksum_equal(const uint8_t a[CKSUM_LEN], const uint8_t b[CKSUM_LEN]);

/* Property-value name: "xxh3-128", "sha256"; NULL for an unknown value (use it to validate
 * a type read from disk; do not printf it unchecked). The string is static. */
const char *cksum_name(enum cksum_type t);

/* Parse a checksum property value: "on" (= the default, xxh3-128), "xxh3-128", "xxh3",
 * "xxh128" (aliases of xxh3-128), "sha256". Case-sensitive, as in zfs. Otherwise -EINVAL
 * "'checksum' must be one of 'on | xxh3-128 | sha256'" (ZFS's other algorithms and "off" are
 * not supported: every tarn block is checksummed). */
int cksum_parse(const char *s, enum cksum_type *out);

#endif
