/* tests/lib/pooltool.c — a tiny inspector/patcher of tarn pool files, for the fault-injection
 * black-box tests (tests/blackbox/5x-*.sh). Test code only: it knows just enough of the on-disk
 * format (src/pool/label.c, src/pool/vdev.h) to find uberblocks and re-seal a patched label.
 * Built by tests/lib/fault.sh into the test's scratch dir:
 *   cc -O2 -o pooltool pooltool.c $(pkg-config --cflags --libs libxxhash)
 *
 * Commands (offsets in bytes, decimal):
 *   ubs FILE             one line per uberblock slot holding the uberblock magic:
 *                        "SLOT TXG VALID" (VALID = 1 if the seal checksum verifies)
 *   newest FILE          "SLOT TXG CATALOG" of the newest valid uberblock (exit 1 if none);
 *                        CATALOG = byte offset of its catalog root block (vdev 0 assumed)
 *   label FILE COPY      copy 0 or 1: "VALID VERSION STATE NAME" (VALID = magic and seal ok)
 *   setver FILE COPY V   set the version field of label copy COPY to V and re-seal it
 *   reseal FILE OFF      recompute the seal of the 4 KiB record at OFF (label or uberblock)
 *   flip FILE OFF BIT    xor bit BIT (0..7) of the byte at OFF
 *   extents FILE [MIN]   allocated (non-hole) extents at or after MIN: "START END" per line
 *   find FILE PATFILE    every offset in FILE where PATFILE's bytes occur (aligned to 512)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define REC 4096u       /* label copy / uberblock slot size */
#define SEAL 32u        /* checksum field at the end of each record */
#define UB_START 8192u
#define UB_SLOTS 128u
#define LABEL_MAGIC 0x4c42414c4e524154ull
#define UB_MAGIC 0x524542554e524154ull

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pooltool: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void seal(const uint8_t *buf, uint8_t out[SEAL])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(buf, REC - SEAL));
	memset(out, 0, SEAL);
	memcpy(out, c.digest, sizeof(c.digest));
}

static int sealed_ok(const uint8_t *buf)
{
	uint8_t c[SEAL];
	seal(buf, c);
	return memcmp(c, buf + REC - SEAL, SEAL) == 0;
}

static int open_file(const char *path, int rw)
{
	int fd = open(path, rw ? O_RDWR : O_RDONLY);
	if (fd < 0)
		die("cannot open %s", path);
	return fd;
}

static void pread_full(int fd, void *buf, size_t len, off_t off)
{
	memset(buf, 0, len);
	ssize_t r = pread(fd, buf, len, off);
	if (r < 0)
		die("read error: %s", strerror(errno));
}

static void pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	if (pwrite(fd, buf, len, off) != (ssize_t)len)
		die("write error: %s", strerror(errno));
}

static int cmd_ubs(const char *path, int newest_only)
{
	int fd = open_file(path, 0);
	uint8_t buf[REC];
	long best_slot = -1;
	uint64_t best_txg = 0, best_cat = 0;
	for (unsigned s = 0; s < UB_SLOTS; s++) {
		pread_full(fd, buf, REC, UB_START + (off_t)s * REC);
		if (rd64(buf) != UB_MAGIC)
			continue;
		uint64_t txg = rd64(buf + 16);
		int ok = sealed_ok(buf);
		if (!newest_only)
			printf("%u %llu %d\n", s, (unsigned long long)txg, ok);
		if (ok && (best_slot < 0 || txg > best_txg)) {
			best_slot = s;
			best_txg = txg;
			best_cat = rd64(buf + 48); /* magic, version, pad, txg, guid, guid_sum, time */
		}
	}
	close(fd);
	if (newest_only) {
		if (best_slot < 0)
			return 1;
		printf("%ld %llu %llu\n", best_slot, (unsigned long long)best_txg, (unsigned long long)best_cat);
	}
	return 0;
}

static int cmd_label(const char *path, int copy)
{
	int fd = open_file(path, 0);
	uint8_t buf[REC];
	pread_full(fd, buf, REC, (off_t)copy * REC);
	close(fd);
	int ok = rd64(buf) == LABEL_MAGIC && sealed_ok(buf);
	char name[257];
	memcpy(name, buf + 56, 256); /* magic 8, version 4, state 4, 2 guids 16, idx+n 8, size 8, ctime 8 */
	name[256] = 0;
	printf("%d %u %u %s\n", ok, rd32(buf + 8), rd32(buf + 12), name[0] ? name : "-");
	return 0;
}

static int cmd_reseal(const char *path, off_t off)
{
	int fd = open_file(path, 1);
	uint8_t buf[REC];
	pread_full(fd, buf, REC, off);
	seal(buf, buf + REC - SEAL);
	pwrite_full(fd, buf, REC, off);
	close(fd);
	return 0;
}

static int cmd_setver(const char *path, int copy, uint32_t v)
{
	int fd = open_file(path, 1);
	uint8_t buf[REC];
	off_t off = (off_t)copy * REC;
	pread_full(fd, buf, REC, off);
	for (int i = 0; i < 4; i++)
		buf[8 + i] = (uint8_t)(v >> (8 * i));
	seal(buf, buf + REC - SEAL);
	pwrite_full(fd, buf, REC, off);
	close(fd);
	return 0;
}

static int cmd_flip(const char *path, off_t off, int bit)
{
	int fd = open_file(path, 1);
	uint8_t b;
	if (pread(fd, &b, 1, off) != 1)
		die("cannot read the byte at the offset in %s", path);
	b ^= (uint8_t)(1u << bit);
	pwrite_full(fd, &b, 1, off);
	close(fd);
	return 0;
}

static int cmd_extents(const char *path, off_t min)
{
	int fd = open_file(path, 0);
	off_t end = lseek(fd, 0, SEEK_END), pos = min;
	while (pos < end) {
		off_t d = lseek(fd, pos, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			h = end;
		printf("%lld %lld\n", (long long)d, (long long)h);
		pos = h;
	}
	close(fd);
	return 0;
}

static int cmd_find(const char *path, const char *patpath)
{
	int fd = open_file(path, 0), pfd = open_file(patpath, 0);
	struct stat st, pst;
	if (fstat(fd, &st) < 0 || fstat(pfd, &pst) < 0 || pst.st_size == 0 || st.st_size < pst.st_size)
		return 1;
	uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	uint8_t *pat = malloc((size_t)pst.st_size);
	if (m == MAP_FAILED || !pat)
		die("out of memory (%s)", path);
	pread_full(pfd, pat, (size_t)pst.st_size, 0);
	int found = 0;
	for (off_t o = 0; o + pst.st_size <= st.st_size; o += 512)
		if (m[o] == pat[0] && memcmp(m + o, pat, (size_t)pst.st_size) == 0) {
			printf("%lld\n", (long long)o);
			found = 1;
		}
	return found ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "ubs"))
		return cmd_ubs(argv[2], 0);
	if (argc >= 3 && !strcmp(argv[1], "newest"))
		return cmd_ubs(argv[2], 1);
	if (argc >= 4 && !strcmp(argv[1], "label"))
		return cmd_label(argv[2], atoi(argv[3]) ? 1 : 0);
	if (argc >= 5 && !strcmp(argv[1], "setver"))
		return cmd_setver(argv[2], atoi(argv[3]) ? 1 : 0, (uint32_t)strtoul(argv[4], NULL, 10));
	if (argc >= 4 && !strcmp(argv[1], "reseal"))
		return cmd_reseal(argv[2], (off_t)strtoll(argv[3], NULL, 10));
	if (argc >= 5 && !strcmp(argv[1], "flip"))
		return cmd_flip(argv[2], (off_t)strtoll(argv[3], NULL, 10), atoi(argv[4]) & 7);
	if (argc >= 3 && !strcmp(argv[1], "extents"))
		return cmd_extents(argv[2], argc >= 4 ? (off_t)strtoll(argv[3], NULL, 10) : 0);
	if (argc >= 4 && !strcmp(argv[1], "find"))
		return cmd_find(argv[2], argv[3]);
	fprintf(stderr, "usage: pooltool ubs|newest|label|setver|reseal|flip|extents|find FILE ...\n");
	return 2;
}
