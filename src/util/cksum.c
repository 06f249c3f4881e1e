/* util/cksum.c — block checksums (see cksum.h).
 *
 * SHA-256 uses OpenSSL's low-level SHA256_Init/Update/Final rather than EVP or the one-shot
 * SHA256(): since OpenSSL 3.0 the latter two fetch a provider and allocate on every call, so
 * they can fail (out of memory) and cksum_compute() has no way to report that — a silently
 * wrong checksum would make a good block unreadable. The low-level functions are deprecated
 * in 3.0 but still shipped, allocation-free and infallible; we suppress the warning here only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "cksum.h"

#include "err.h"

#include <openssl/sha.h>
#include <string.h>
#include <xxhash.h>

static void cksum_xxh3(const void *data, size_t len, uint8_t out[CKSUM_LEN])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	memcpy(out, c.digest, sizeof(c.digest));
}

static void cksum_sha256(const void *data, size_t len, uint8_t out[CKSUM_LEN])
{
	SHA256_CTX ctx;

	SHA256_Init(&ctx);
	if (len)
		SHA256_Update(&ctx, data, len);
	SHA256_Final(out, &ctx);
}

void cksum_compute(enum cksum_type t, const void *data, size_t len, uint8_t out[CKSUM_LEN])
{
	_Static_assert(SHA256_DIGEST_LENGTH == CKSUM_LEN, "sha256 fills the checksum field");
	_Static_assert(sizeof(XXH128_canonical_t) <= CKSUM_LEN, "xxh3-128 fits the checksum field");

	memset(out, 0, CKSUM_LEN);
	switch (t) {
	case CKSUM_XXH3_128:
		cksum_xxh3(data, len, out);
		break;
	case CKSUM_SHA256:
		cksum_sha256(data, len, out);
		break;
	}
}

int cksum_equal(const uint8_t a[CKSUM_LEN], const uint8_t b[CKSUM_LEN])
{
	return memcmp(a, b, CKSUM_LEN) == 0;
}

const char *cksum_name(enum cksum_type t)
{
	switch (t) {
	case CKSUM_XXH3_128:
		return "xxh3-128";
	case CKSUM_SHA256:
		return "sha256";
	}
	return NULL;
}

int cksum_parse(const char *s, enum cksum_type *out)
{
	static const struct {
		const char *name;
		enum cksum_type t;
	} tab[] = {
		{ "on", CKSUM_DEFAULT },	{ "xxh3-128", CKSUM_XXH3_128 }, { "xxh3", CKSUM_XXH3_128 },
		{ "xxh128", CKSUM_XXH3_128 }, { "sha256", CKSUM_SHA256 },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(s, tab[i].name) == 0) {
			*out = tab[i].t;
			return 0;
		}
	}
	return terr(EINVAL, "'checksum' must be one of 'on | xxh3-128 | sha256'");
}
