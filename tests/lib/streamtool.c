/* tests/lib/streamtool.c — a tiny inspector/re-sealer of tarn send streams, for the black-box
 * tests of zfs send/receive (tests/blackbox/6x-*.sh). Test code only: it knows just enough of
 * the record layout (src/stream/format.h) to walk records and recompute the running checksum,
 * so that a test can make hostile streams that are well-formed at the framing level.
 * Built by the tests into their scratch dir:
 *   cc -O2 -o streamtool streamtool.c $(pkg-config --cflags --libs libxxhash)
 *
 * A record is a 48-byte header {u32 magic "TSR1", u16 type, u16 flags, u64 len, u64 arg0,
 * u64 arg1, 16-byte chain} and len bytes of payload; all little-endian. The chain of a record
 * is xxh3-128 (canonical, big-endian bytes) over the previous record's chain (zeros for the
 * first), the header's first 32 bytes and the payload.
 *
 * Commands:
 *   dump FILE      one line per record: "OFFSET TYPE FLAGS LEN ARG0 ARG1 OK" (decimal; OK = 1
 *                  if the chain verifies); a trailing partial record prints "OFFSET partial";
 *                  exit 0 if every record verified and there is no partial record, else 1
 *   reseal FILE    recompute every record's chain in place (walking by the len fields, which
 *                  must be consistent); exit 1 if the file does not split into whole records
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define HDR 48u

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static unsigned rd16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	size_t cap = 1 << 20, n = 0, got;
	uint8_t *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	if (!buf) {
		fprintf(stderr, "streamtool: out of memory\n");
		exit(2);
	}
	fclose(f);
	*len = n;
	return buf;
}

static void chain_step(uint8_t chain[16], const uint8_t *hdr32, const uint8_t *payload, uint64_t len)
{
	XXH3_state_t *st = XXH3_createState();
	XXH128_canonical_t c;
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, chain, 16);
	XXH3_128bits_update(st, hdr32, 32);
	if (len)
		XXH3_128bits_update(st, payload, (size_t)len);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	XXH3_freeState(st);
	memcpy(chain, c.digest, 16);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "dump") && strcmp(argv[1], "reseal"))) {
		fprintf(stderr, "usage: streamtool dump|reseal FILE\n");
		return 2;
	}
	int reseal = !strcmp(argv[1], "reseal"), bad = 0;
	size_t n, off = 0;
	uint8_t *b = slurp(argv[2], &n), chain[16] = { 0 };
	while (off < n) {
		uint64_t len = n - off >= HDR ? rd64(b + off + 8) : 0;
		if (n - off < HDR || len > n - off - HDR) {
			if (!reseal)
				printf("%zu partial\n", off);
			bad = 1;
			break;
		}
		chain_step(chain, b + off, b + off + HDR, len);
		int ok = !memcmp(chain, b + off + 32, 16);
		if (reseal)
			memcpy(b + off + 32, chain, 16);
		else
			printf("%zu %u %u %llu %llu %llu %d\n", off, rd16(b + off + 4), rd16(b + off + 6),
			       (unsigned long long)len, (unsigned long long)rd64(b + off + 16),
			       (unsigned long long)rd64(b + off + 24), ok);
		bad |= !ok && !reseal;
		off += HDR + len;
	}
	if (reseal) {
		if (bad) {
			fprintf(stderr, "streamtool: %s does not split into whole records\n", argv[2]);
			return 1;
		}
		FILE *f = fopen(argv[2], "wb");
		if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
			perror(argv[2]);
			return 2;
		}
	}
	free(b);
	return bad;
}
