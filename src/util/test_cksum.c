/* Unit tests for util/cksum: known vectors (sha256 from FIPS 180-2, xxh3-128 from xxhsum -H2). */
#include "util/cksum.h"
#include "util/err.h"
#include "util/tap.h"

#include <stdlib.h>

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* want: hex of the significant bytes; the remaining bytes must be zero. */
static void vec(enum cksum_type t, const void *data, size_t len, const char *want, const char *what)
{
	uint8_t out[CKSUM_LEN];
	char got[2 * CKSUM_LEN + 1];
	size_t n = strlen(want) / 2;
	int tail_zero = 1;

	memset(out, 0xa5, sizeof(out));
	cksum_compute(t, data, len, out);
	hex(out, n, got);
	is_str(got, want, "%s of %s", cksum_name(t), what);
	for (size_t i = n; i < CKSUM_LEN; i++)
		tail_zero &= out[i] == 0;
	ok(tail_zero, "%s of %s: unused bytes are zero", cksum_name(t), what);
}

static void test_vectors(void)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t *big = malloc(1000000);
	uint8_t zeros[1000] = { 0 };

	vec(CKSUM_SHA256, "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "'abc'");
	vec(CKSUM_SHA256, NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "''");
	vec(CKSUM_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "the 448-bit message");
	if (ok(big != NULL, "allocated 1 MB")) {
		memset(big, 'a', 1000000);
		vec(CKSUM_SHA256, big, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		    "a million 'a'");
	}
	free(big);

	vec(CKSUM_XXH3_128, NULL, 0, "99aa06d3014798d86001c324468d497f", "''");
	vec(CKSUM_XXH3_128, "abc", 3, "06b05ab6733a618578af5f94892f3950", "'abc'");
	vec(CKSUM_XXH3_128, zeros, sizeof(zeros), "3fb94aea6d09b97224c1ea6074dd588c", "1000 zero bytes");
	vec(CKSUM_XXH3_128, fox, strlen(fox), "ddd650205ca3e7fa24a1cc2e3a8a7651", "the fox");
}

static void test_unknown_and_equal(void)
{
	uint8_t a[CKSUM_LEN], b[CKSUM_LEN], z[CKSUM_LEN] = { 0 };

	memset(a, 0xff, sizeof(a));
	cksum_compute((enum cksum_type)99, "abc", 3, a);
	ok(cksum_equal(a, z), "unknown type yields zeros");

	cksum_compute(CKSUM_SHA256, "abc", 3, a);
	cksum_compute(CKSUM_SHA256, "abc", 3, b);
	ok(cksum_equal(a, b), "equal checksums compare equal");
	b[CKSUM_LEN - 1] ^= 1;
	ok(!cksum_equal(a, b), "last byte differs");
	b[CKSUM_LEN - 1] ^= 1;
	b[0] ^= 0x80;
	ok(!cksum_equal(a, b), "first byte differs");
	cksum_compute(CKSUM_XXH3_128, "abc", 3, b);
	ok(!cksum_equal(a, b), "different algorithms differ");
	cksum_compute(CKSUM_XXH3_128, "abd", 3, a);
	ok(!cksum_equal(a, b), "different data differs");
}

static void test_names(void)
{
	enum cksum_type t = 0;

	is_str(cksum_name(CKSUM_XXH3_128), "xxh3-128", "name of xxh3-128");
	is_str(cksum_name(CKSUM_SHA256), "sha256", "name of sha256");
	ok(cksum_name((enum cksum_type)0) == NULL, "name of 0 is NULL");
	ok(cksum_name((enum cksum_type)3) == NULL, "name of 3 is NULL");

	is_int(cksum_parse("on", &t), 0, "parse on");
	is_int(t, CKSUM_XXH3_128, "on = xxh3-128");
	t = 0;
	is_int(cksum_parse("xxh3-128", &t), 0, "parse xxh3-128");
	is_int(t, CKSUM_XXH3_128, "xxh3-128");
	t = 0;
	is_int(cksum_parse("xxh3", &t), 0, "parse xxh3");
	is_int(t, CKSUM_XXH3_128, "xxh3 alias");
	t = 0;
	is_int(cksum_parse("xxh128", &t), 0, "parse xxh128");
	is_int(t, CKSUM_XXH3_128, "xxh128 alias");
	is_int(cksum_parse("sha256", &t), 0, "parse sha256");
	is_int(t, CKSUM_SHA256, "sha256");
	t = 0;
	is_int(cksum_parse("off", &t), -EINVAL, "off rejected");
	is_str(terr_msg(), "'checksum' must be one of 'on | xxh3-128 | sha256'", "reject message");
	is_int(cksum_parse("SHA256", &t), -EINVAL, "case-sensitive");
	is_int(cksum_parse("fletcher4", &t), -EINVAL, "fletcher4 rejected");
	is_int(cksum_parse("", &t), -EINVAL, "empty rejected");
	is_int(t, 0, "*out untouched on failure");
}

int main(void)
{
	test_vectors();
	test_unknown_and_equal();
	test_names();
	return done_testing();
}
