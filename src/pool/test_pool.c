/* Unit tests for pool/: block pointer encoding, create/import/close/export, block I/O with every
 * compression and checksum, corruption detection, the uberblock ring and rewind, and the
 * space log across many commits (including condensing). Scratch files live in a mkdtemp dir. */
#include "pool/pool.h"
#include "util/compress.h"
#include "util/err.h"
#include "util/tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char *paths[7];
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { return rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; }

static char *mkfile(int i, uint64_t size)
{
	paths[i] = malloc(128);
	snprintf(paths[i], 128, "%s/vdev%d.img", dir, i);
	int fd = open(paths[i], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 || close(fd) < 0)
		diag("cannot create %s", paths[i]);
	return paths[i];
}

/* Damage one byte of a file behind the pool's back. */
static void flip(const char *path, uint64_t off)
{
	uint8_t b = 0;
	int fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &b, 1, (off_t)off) != 1 || (b ^= 0x5a, pwrite(fd, &b, 1, (off_t)off) != 1) ||
	    close(fd) < 0)
		diag("cannot patch %s", path);
}

/* Deterministic block contents: kind 0 = compressible text, 1 = random, 2 = txg marker. */
static void fill(uint8_t *p, size_t n, int kind, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		p[i] = kind == 0 ? (uint8_t)("tarn pool block "[(i + seed) % 16]) : kind == 1 ? (uint8_t)s
										: (uint8_t)(seed >> (8 * (i % 8)));
	}
}

static int check_block(pool_t *p, const bp_t *bp, int kind, uint64_t seed)
{
	static uint8_t want[1 << 17], got[1 << 17];
	fill(want, bp->lsize, kind, seed);
	return pool_read_block(p, bp, got) == 0 && memcmp(want, got, bp->lsize) == 0;
}

static void test_bp(void)
{
	uint8_t buf[BP_SIZE];
	int good = 1;
	for (int i = 0; i < 200; i++) {
		bp_t a = { .offset = (rnd() % (1ull << 40)) * SECTOR, .vdev = (uint16_t)rnd(), .level = (uint8_t)(rnd() % 17),
			   .type = (uint8_t)(rnd() % 6), .lsize = 1 + (uint32_t)(rnd() % (1u << 20)),
			   .comp = (uint8_t)(rnd() % 3), .cksum_type = (uint8_t)(1 + rnd() % 2), .flags = 0,
			   .birth = rnd() };
		a.psize = a.comp == COMP_OFF ? a.lsize : 1 + (uint32_t)(rnd() % (1u << 20));
		for (int k = 0; k < CKSUM_LEN; k++)
			a.cksum[k] = (uint8_t)rnd();
		bp_t b;
		bp_encode(&a, buf);
		good = good && bp_decode(buf, &b) == 0 && a.offset == b.offset &&
		       a.vdev == b.vdev && a.level == b.level && a.type == b.type && a.psize == b.psize &&
		       a.lsize == b.lsize && a.comp == b.comp && a.cksum_type == b.cksum_type && a.flags == b.flags &&
		       a.birth == b.birth && !memcmp(a.cksum, b.cksum, CKSUM_LEN);
	}
	ok(good, "200 random valid block pointers round-trip");
	{
		bp_t f = { .offset = 8 * SECTOR, .psize = 4096, .lsize = 4096, .cksum_type = CKSUM_XXH3_128, .flags = 1 };
		bp_t g;
		bp_encode(&f, buf);
		is_int(bp_decode(buf, &g), -EINVAL, "bp_decode rejects an unknown flag (a newer format)");
	}
	bp_t v = { .offset = 8 * SECTOR, .psize = 4096, .lsize = 4096, .cksum_type = CKSUM_XXH3_128, .birth = 5 };
	static const struct { int field; uint64_t val; const char *what; } bad[] = {
		{ 0, 4097, "unaligned offset" }, { 1, (1u << 20) + 1, "psize over 1M" }, { 2, 0, "lsize 0" },
		{ 2, (1u << 20) + 1, "lsize over 1M" }, { 3, 17, "level 17" }, { 4, 3, "unknown compression" },
		{ 5, 0, "checksum type 0" }, { 5, 3, "checksum type 3" }, { 2, 8192, "uncompressed psize != lsize" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bp_t x = v, y;
		uint64_t val = bad[i].val;
		int f = bad[i].field;
		x.offset = f == 0 ? val : x.offset;
		x.psize = f == 1 ? (uint32_t)val : x.psize;
		x.lsize = f == 1 || f == 2 ? (uint32_t)val : x.lsize;
		x.level = f == 3 ? (uint8_t)val : x.level;
		x.comp = f == 4 ? (uint8_t)val : x.comp;
		x.cksum_type = f == 5 ? (uint8_t)val : x.cksum_type;
		bp_encode(&x, buf);
		is_int(bp_decode(buf, &y), -EINVAL, "bp_decode rejects %s", bad[i].what);
	}
	bp_t h = { .offset = 12345, .level = 200, .comp = 9, .cksum_type = 77, .birth = 42 }, hh;
	bp_encode(&h, buf);
	ok(bp_decode(buf, &hh) == 0 && bp_is_hole(&hh) && hh.birth == 42, "a hole decodes whatever else it holds");
	terr_clear();
}

#define NB 64
static bp_t bps[NB];
static int kinds[NB];

static void test_io(void)
{
	pool_t *p = NULL, *q;
	char *two[2] = { mkfile(0, VDEV_MIN_SIZE), mkfile(1, VDEV_MIN_SIZE) };
	char *small[2] = { two[0], mkfile(2, VDEV_MIN_SIZE - SECTOR) };
	char *dup[2] = { two[0], two[0] };
	pool_label_t lbl;
	is_int(pool_create("tp", 2, small, 0, &p), -EINVAL, "create refuses a file under 64M");
	is_int(pool_read_label(two[0], &lbl), -EINVAL, "and wrote nothing to the other file");
	is_int(pool_create("tp", 2, dup, 0, &p), -EINVAL, "create refuses a duplicate path");
	if (!ok(pool_create("tp", 2, two, 0, &p) == 0, "create pool on two 64M sparse files"))
		return;
	is_u64(pool_size(p), 2 * (VDEV_MIN_SIZE - VDEV_DATA_START), "size = both data areas");
	uint8_t *buf = malloc(1 << 17);
	int n = 0, good = 1, stored_ok = 1, vdev1 = 0;
	static const uint32_t sizes[] = { 4096, 5000, 131072 };
	for (int c = 0; c < 3; c++)
		for (int k = 1; k <= 2; k++)
			for (int kind = 0; kind < 2; kind++)
				for (int s = 0; s < 3 && n < NB; s++, n++) {
					fill(buf, sizes[s], kind, (uint64_t)n);
					kinds[n] = kind;
					good = good && pool_write_block(p, BPT_DATA, 0, buf, sizes[s], c, k, &bps[n]) == 0;
					const bp_t *b = &bps[n];
					stored_ok = stored_ok && b->lsize == sizes[s] && b->cksum_type == k &&
						    b->birth == pool_open_txg(p) &&
						    (kind == 1 || c == COMP_OFF ? b->comp == COMP_OFF && b->psize == b->lsize
										 : b->comp == c && b->psize < b->lsize);
				}
	ok(good, "wrote %d blocks (off/lz4/zstd x xxh3/sha256 x text/random x 3 sizes)", n);
	ok(stored_ok, "bps: compressed only when it saves, sizes, checksum type, birth = open txg");
	for (int i = n; i < NB; i++) { /* > 8M more so that the rotor moves to vdev 1 */
		kinds[i] = 1;
		fill(buf, 1 << 17, 1, (uint64_t)i);
		for (int r = 0; r < 3 && good; r++) /* rewrite: only the last copy is kept */
			good = pool_write_block(p, BPT_DATA, 0, buf, 1 << 17, COMP_OFF, CKSUM_XXH3_128, &bps[i]) == 0;
	}
	for (int i = 0; i < NB; i++) {
		good = good && check_block(p, &bps[i], kinds[i], (uint64_t)i);
		vdev1 |= bps[i].vdev == 1;
	}
	ok(good && vdev1, "all blocks read back before commit, both vdevs used");
	bp_t cat = bps[0];
	uint64_t txg = pool_open_txg(p);
	ok(pool_commit(p, &cat) == 0 && p->txg == txg, "commit txg %llu", (unsigned long long)txg);
	uint64_t alloc = pool_allocated(p);
	pool_close(p);
	is_int(pool_create("tp2", 2, two, 0, &p), -EBUSY, "create refuses the devices of an active pool");
	is_int(pool_import(2, two, 0, &p), -EBUSY, "plain import refuses an active pool");
	char *rev[2] = { two[1], two[0] };
	if (!ok(pool_import(2, rev, POOL_IMPORT_OPEN, &p) == 0, "import OPEN (devices in reverse order)"))
		return;
	ok(p->txg == txg && !strcmp(p->name, "tp") && !p->rewound && !memcmp(&p->catalog, &cat, sizeof(cat)),
	   "imported txg, name and catalog root");
	is_u64(pool_allocated(p), alloc, "allocated bytes survive");
	for (int i = 0; i < NB; i++)
		good = good && check_block(p, &bps[i], kinds[i], (uint64_t)i);
	ok(good, "every block reads back verified after import");
	/* corruption of stored bytes: a compressed and an uncompressed block */
	for (int i = 0; i < 2; i++) {
		const bp_t *b = &bps[i == 0 ? 12 : 1];
		vdev_t *v = &p->vdevs[b->vdev];
		uint64_t before = v->cksum_errors, pbefore = p->cksum_errors;
		flip(v->path, b->offset + b->psize / 2);
		is_int(pool_read_block(p, b, buf), -EIO, "flipped byte in a %s block: EIO", b->comp ? "compressed" : "plain");
		ok(v->cksum_errors == before + 1 && p->cksum_errors == pbefore + 1, "cksum error counted");
		is_int(pool_verify_block(p, b), -EIO, "verify fails too");
		flip(v->path, b->offset + b->psize / 2);
		ok(check_block(p, b, kinds[b - bps], (uint64_t)(b - bps)), "restored byte: reads again");
	}
	const bp_t *pb = &bps[1]; /* 5000 bytes in 8K: the tail padding is not covered */
	flip(p->vdevs[pb->vdev].path, pb->offset + 6000);
	ok(pb->psize == 5000 && check_block(p, pb, kinds[1], 1), "damage in the padding is harmless");
	bp_t fut = bps[0];
	fut.birth = p->txg + 2;
	is_int(pool_read_block(p, &fut, buf), -EIO, "bp born in the future: EIO");
	fut = bps[0];
	fut.offset = VDEV_MIN_SIZE;
	is_int(pool_read_block(p, &fut, buf), -EIO, "bp past the end of the vdev: EIO");
	ok(pool_export(p, POOL_STATE_EXPORTED) == 0, "export");
	is_int(pool_import(2, two, POOL_IMPORT_OPEN, &p), -ENOENT, "import OPEN refuses an exported pool");
	if (ok(pool_import(2, two, 0, &p) == 0, "plain import of the exported pool"))
		pool_close(p);
	/* import refusals */
	char *zero[1] = { mkfile(3, VDEV_MIN_SIZE) }, *one[1] = { two[0] }, *mixed[2] = { two[0], zero[0] };
	is_int(pool_import(1, zero, POOL_IMPORT_FORCE, &q), -EINVAL, "import of a non-pool file: EINVAL");
	ok(pool_import(1, one, POOL_IMPORT_OPEN, &q) < 0 && terr_code() == ENXIO, "import with a missing vdev: ENXIO");
	is_int(pool_import(2, mixed, POOL_IMPORT_OPEN, &q), -EINVAL, "import with a foreign file: EINVAL");
	char nx[128];
	snprintf(nx, sizeof(nx), "%s/missing.img", dir);
	char *nxp[1] = { nx };
	is_int(pool_import(1, nxp, POOL_IMPORT_OPEN, &q), -ENOENT, "import of a nonexistent path: ENOENT");
	free(buf);
	terr_clear();
}

/* Write a marker block for the open txg, free the previous one, commit with it as catalog. */
static int commit_marker(pool_t *p, bp_t *marker)
{
	uint8_t b[SECTOR];
	bp_t old = *marker;
	fill(b, sizeof(b), 2, pool_open_txg(p));
	TRY(pool_write_block(p, BPT_CATALOG, 0, b, sizeof(b), COMP_OFF, CKSUM_SHA256, marker));
	TRY(pool_free_block(p, &old));
	return pool_commit(p, marker);
}

static void test_ring(void)
{
	pool_t *p;
	char *two[2] = { mkfile(4, VDEV_MIN_SIZE), mkfile(5, VDEV_MIN_SIZE) };
	bp_t m = { 0 };
	int good = 1;
	if (!ok(pool_create("ring", 2, two, 0, &p) == 0, "create pool 'ring'"))
		return;
	for (int i = 0; i < 140 && good; i++)
		good = commit_marker(p, &m) == 0;
	uint64_t last = p->txg;
	ok(good && last > UB_SLOTS + 1, "140 commits (txg %llu): the ring wrapped", (unsigned long long)last);
	pool_close(p);
	if (!ok(pool_import(2, two, POOL_IMPORT_OPEN, &p) == 0, "import"))
		return;
	ok(p->txg == last && !p->rewound && check_block(p, &p->catalog, 2, last), "import picks the newest txg");
	pool_close(p);
	for (int i = 0; i < 2; i++) /* damage the newest uberblock on both vdevs */
		flip(two[i], VDEV_UB_START + (last % UB_SLOTS) * UB_SLOT_SIZE + 100);
	if (!ok(pool_import(2, two, POOL_IMPORT_OPEN, &p) == 0, "import with the newest uberblock damaged"))
		return;
	ok(p->txg == last - 1 && check_block(p, &p->catalog, 2, last - 1), "falls back to txg %llu",
	   (unsigned long long)(last - 1));
	diag("p->rewound = %d after a damaged newest uberblock slot", p->rewound);
	m = p->catalog; /* the marker of txg `last` was never committed: not ours to free */
	ok(commit_marker(p, &m) == 0 && p->txg == last, "commit after the fallback reuses txg %llu",
	   (unsigned long long)last);
	pool_close(p);
	/* damage what the newest uberblock points to (its catalog root): a real rewind */
	ok(pool_import(2, two, POOL_IMPORT_OPEN, &p) == 0 && p->txg == last && !p->rewound, "import sees it");
	bp_t newest = p->catalog;
	pool_close(p);
	flip(two[newest.vdev], newest.offset + 10);
	if (!ok(pool_import(2, two, POOL_IMPORT_OPEN, &p) == 0, "import with the newest catalog block damaged"))
		return;
	ok(p->rewound && check_block(p, &p->catalog, 2, last - 1), "rewound to the state of txg %llu",
	   (unsigned long long)(last - 1));
	ok(p->txg >= last && p->cksum_errors == 1, "new txgs number past the abandoned one; the damage is counted");
	ok(commit_marker(p, &m) == 0 && p->txg == last + 1, "commit after rewind: txg %llu", (unsigned long long)(last + 1));
	pool_close(p);
	ok(pool_import(2, two, POOL_IMPORT_OPEN, &p) == 0 && p->txg == last + 1 && !p->rewound &&
	   check_block(p, &p->catalog, 2, last + 1), "next import picks the post-rewind txg");
	pool_close(p);
	terr_clear();
}

/* Many commits with scattered frees: the space log grows past the condense threshold. */
#define LIVE 400
static bp_t live[LIVE];
static uint64_t seed[LIVE], id;

/* Free live[slot] (if any) and write a new block there. */
static int rewrite(pool_t *p, int slot)
{
	uint8_t b[SECTOR];
	if (!bp_is_hole(&live[slot]))
		TRY(pool_free_block(p, &live[slot]));
	fill(b, sizeof(b), 1, seed[slot] = ++id);
	return pool_write_block(p, BPT_DATA, 0, b, SECTOR, COMP_OFF, CKSUM_XXH3_128, &live[slot]);
}

static void test_spacelog(void)
{
	pool_t *p;
	char *one[1] = { paths[0] };
	uint64_t maxlog = 0;
	int good = 1, condensed = 0, nlive = 0;
	setenv("TARN_CONDENSE_SLACK", "1000", 1); /* condense after ~1000 surplus records, not 8192 */
	/* the file still holds a vdev of the (active, two-device) pool of the earlier tests */
	is_int(pool_create("slog", 1, one, 1, &p), -EBUSY, "create over an active pool's device: refused even with force");
	{
		static const uint8_t zero[2 * VDEV_LABEL_SIZE];
		FILE *f = fopen(one[0], "r+b");
		ok(f && fwrite(zero, 1, sizeof(zero), f) == sizeof(zero) && fclose(f) == 0, "wipe its labels");
	}
	if (!ok(pool_create("slog", 1, one, 0, &p) == 0, "create pool 'slog' on the wiped file"))
		return;
	for (int t = 0; t < 60 && good; t++) {
		for (int k = 0; k < 70 && good; k++)
			good = rewrite(p, nlive < LIVE ? nlive++ : (int)(rnd() % LIVE)) == 0;
		bp_t none = { 0 };
		good = good && pool_commit(p, &none) == 0;
		if (p->log_entries > maxlog)
			maxlog = p->log_entries;
		else
			condensed = 1;
	}
	ok(good, "60 commits of 70 writes and up to 70 scattered frees");
	ok(condensed, "the space log was condensed (peak %llu entries, now %llu)", (unsigned long long)maxlog,
	   (unsigned long long)p->log_entries);
	for (int r = 0; r < 2; r++) {
		uint64_t alloc = pool_allocated(p), ext = alloc_extent_count(&p->alloc), txg = p->txg;
		pool_close(p);
		if (!ok(pool_import(1, one, POOL_IMPORT_OPEN, &p) == 0, "re-import %d", r + 1))
			return;
		is_u64(pool_allocated(p), alloc, "allocated bytes equal before close and after import");
		is_u64(alloc_extent_count(&p->alloc), ext, "same number of free extents");
		ok(p->txg == txg, "same txg");
		for (int i = 0; i < nlive; i++)
			good = good && check_block(p, &live[i], 1, seed[i]);
		ok(good, "all %d live blocks intact", nlive);
		for (int k = 0; k < 100 && good; k++) { /* overwrite: nothing live may be handed out */
			bp_t none = { 0 };
			good = rewrite(p, (int)(rnd() % LIVE)) == 0 && (k % 25 != 24 || pool_commit(p, &none) == 0);
		}
		for (int i = 0; i < nlive; i++)
			good = good && check_block(p, &live[i], 1, seed[i]);
		ok(good, "more writes and frees after import leave live blocks intact");
	}
	pool_close(p);
	terr_clear();
}

/* Phased writes (pool_wblk_prepare + pool_wblks_commit, as background commits do) and reads of
 * blocks stored back to back in one call, one of them damaged. */
static void test_phased(void)
{
	pool_t *p;
	char *pp[] = { mkfile(6, 128 << 20) };
	if (!ok(pool_create("ph", 1, pp, 0, &p) == 0, "create pool ph"))
		return;
	enum { N = 24 };
	static uint8_t data[N][16384], got[N][16384];
	pool_wblk_t w[N], *wp[N];
	int good = 1;
	for (int i = 0; i < N; i++) {
		fill(data[i], sizeof(data[i]), i % 2, (uint64_t)i + 100); /* compressible and not */
		good = good && pool_wblk_prepare(BPT_DATA, 0, data[i], sizeof(data[i]), i % 3 ? COMP_LZ4 : COMP_OFF,
						 CKSUM_XXH3_128, pool_open_txg(p), &w[i]) == 0;
		wp[i] = &w[i];
	}
	ok(good && pool_wblks_commit(p, wp, N, NULL, 0) == 0, "prepare and commit %d blocks in one batch", N);
	int contiguous = 1;
	for (int i = 1; i < N; i++)
		contiguous &= w[i].bp.offset == w[i - 1].bp.offset + bp_asize(&w[i - 1].bp);
	ok(contiguous, "placed back to back");
	bp_t bps[N];
	void *dsts[N];
	int okv[N];
	for (int i = 0; i < N; i++) {
		bps[i] = w[i].bp;
		dsts[i] = got[i];
		pool_wblk_free(&w[i]);
	}
	bp_t none = { 0 };
	ok(pool_commit(p, &none) == 0, "commit");
	pool_read_blocks_unlocked(p, bps, dsts, okv, N);
	good = 1;
	for (int i = 0; i < N; i++)
		good = good && okv[i] && !memcmp(got[i], data[i], sizeof(data[i]));
	ok(good, "read back in runs without the lock: every block verified and equal");
	flip(pp[0], bps[7].offset + 100);
	memset(got, 0, sizeof(got));
	pool_read_blocks_unlocked(p, bps, dsts, okv, N);
	good = !okv[7];
	for (int i = 0; i < N; i++)
		good = good && (i == 7 || (okv[i] && !memcmp(got[i], data[i], sizeof(data[i]))));
	ok(good, "a damaged block in the run is left to the caller; the others are read");

	/* uncompressed blocks wanted back to back are read straight into the caller's buffer */
	for (int i = 0; i < 8; i++) {
		fill(data[i], sizeof(data[i]), 1, (uint64_t)i + 500);
		good = pool_wblk_prepare(BPT_DATA, 0, data[i], sizeof(data[i]), COMP_OFF, CKSUM_XXH3_128,
					 pool_open_txg(p), &w[i]) == 0;
		wp[i] = &w[i];
	}
	ok(good && pool_wblks_commit(p, wp, 8, NULL, 0) == 0 && pool_commit(p, &none) == 0,
	   "8 uncompressed blocks written and committed");
	static uint8_t flat[8 * 16384];
	for (int i = 0; i < 8; i++) {
		bps[i] = w[i].bp;
		dsts[i] = flat + (size_t)i * 16384;
		pool_wblk_free(&w[i]);
	}
	flip(pp[0], bps[3].offset + 5);
	pool_read_blocks_unlocked(p, bps, dsts, okv, 8);
	good = !okv[3];
	for (int i = 0; i < 8; i++)
		good = good && (i == 3 || (okv[i] && !memcmp(flat + (size_t)i * 16384, data[i], 16384)));
	ok(good, "read in place into one buffer: the damaged one left to the caller, the rest equal");
	pool_close(p);
	terr_clear();
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tarn-unit.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_bp();
	test_io();
	test_ring();
	test_spacelog();
	test_phased();
	for (int i = 0; i < 7; i++)
		if (paths[i]) {
			unlink(paths[i]);
			free(paths[i]);
		}
	rmdir(dir);
	return done_testing();
}
