/* Unit tests for tree/: COW block trees on a real pool: write/sync/read against a model, holes,
 * growth to more levels, punch, birth-txg invariants of tree_walk, and born/kill accounting. */
#include "tree/tree.h"
#include "util/compress.h"
#include "util/err.h"
#include "util/tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BS 4096u
#define MAXB 70016 /* model covers blkids [0, MAXB) */

static uint64_t rng = 0x853c49e6748fea9bULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t model[MAXB]; /* content seed per block, 0 = hole */

struct acct {
	pool_t *p;
	uint64_t born_n, born_bytes, kill_n, kill_bytes, kill_data;
};
static void born_cb(void *ctx, const bp_t *bp)
{
	struct acct *a = ctx;
	a->born_n++;
	a->born_bytes += bp_asize(bp);
}
static int kill_cb(void *ctx, const bp_t *bp)
{
	struct acct *a = ctx;
	a->kill_n++;
	a->kill_bytes += bp_asize(bp);
	a->kill_data += bp->level == 0;
	return pool_free_block(a->p, bp);
}
static const tree_ops_t ops = { born_cb, kill_cb };

/* Half the seeds give compressible contents, half random. */
static void fill(uint8_t *b, uint32_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL;
	for (unsigned i = 0; i < BS; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		b[i] = seed & 1 ? (uint8_t)s : (uint8_t)(i / 64 + seed);
	}
}

static int put(tree_t *t, uint64_t blkid, uint32_t seed)
{
	uint8_t *b;
	TRY(tree_dirty(t, blkid, &b));
	if (seed)
		fill(b, seed);
	else
		memset(b, 0, BS);
	model[blkid] = seed;
	return 0;
}

static int verify(tree_t *t, uint64_t lo, uint64_t hi)
{
	static uint8_t got[BS], want[BS];
	for (uint64_t i = lo; i < hi; i++) {
		if (model[i])
			fill(want, model[i]);
		else
			memset(want, 0, BS);
		if (tree_read(t, i, got) < 0 || memcmp(got, want, BS)) {
			diag("block %llu differs from the model", (unsigned long long)i);
			return 0;
		}
	}
	return 1;
}

struct seen {
	uint64_t n[TREE_MAX_LEVELS], bytes, min_birth_seen, max_birth_seen;
	uint8_t *data; /* data blkids seen (MAXB entries) */
};
static int walk_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	struct seen *s = arg;
	s->n[level]++;
	s->bytes += bp_asize(bp);
	if (bp->birth < s->min_birth_seen)
		s->min_birth_seen = bp->birth;
	if (bp->birth > s->max_birth_seen)
		s->max_birth_seen = bp->birth;
	if (level == 0 && first < MAXB && s->data)
		s->data[first]++;
	return bp->level == level && (level == 0) == (bp->type == BPT_DATA) ? 0 : -EIO;
}

static int walk(pool_t *p, const tree_phys_t *ph, uint64_t min, struct seen *s, uint8_t *data)
{
	memset(s, 0, sizeof(*s));
	s->min_birth_seen = UINT64_MAX;
	s->data = data;
	if (data)
		memset(data, 0, MAXB);
	return tree_walk(p, ph, min, 0, walk_cb, s);
}

static uint64_t live_blocks(void)
{
	uint64_t n = 0;
	for (int i = 0; i < MAXB; i++)
		n += model[i] != 0;
	return n;
}

static int sync_commit(tree_t *t)
{
	TRY(tree_sync(t));
	bp_t none = { 0 };
	return pool_commit(t->pool, &none);
}

int main(void)
{
	char dir[] = "/tmp/tarn-unit.XXXXXX", path[64];
	pool_t *p;
	tree_t t;
	tree_phys_t ph;
	struct seen s;
	static uint8_t data[MAXB];
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(path, sizeof(path), "%s/vdev.img", dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)VDEV_MIN_SIZE) < 0)
		return perror(path), 1;
	close(fd);
	char *paths[1] = { path };
	if (!ok(pool_create("tt", 1, paths, 0, &p) == 0, "create pool"))
		return done_testing();
	struct acct a = { .p = p };
	tree_phys_init(&ph, BS);
	tree_open(&t, p, &ph, &ops, &a, COMP_LZ4, CKSUM_XXH3_128);

	/* 1. random writes within the first L1 (levels 2), some all-zero */
	int rc = 0;
	for (int i = 0; i < 150 && rc == 0; i++)
		rc = put(&t, rnd() % TREE_FANOUT, i % 10 == 0 ? 0 : (uint32_t)(1 + rnd() % 1000000));
	ok(rc == 0 && verify(&t, 0, TREE_FANOUT), "dirty blocks read back before sync");
	ok(sync_commit(&t) == 0 && t.phys.levels == 2 && t.phys.root.level == 1, "sync: 2 levels, root is L1");
	ok(verify(&t, 0, TREE_FANOUT), "read back after sync");
	int holes_ok = 1;
	for (unsigned i = 0; i < TREE_FANOUT; i++) {
		bp_t bp;
		holes_ok = holes_ok && tree_lookup(&t, (uint64_t)i, &bp) == 0 && (model[i] == 0) == (bp.psize == 0);
	}
	ok(holes_ok, "all-zero and unwritten blocks are holes (psize 0)");
	ok(walk(p, &t.phys, 0, &s, NULL) == 0 && s.n[0] == live_blocks() && s.n[1] == 1, "walk sees %llu data + 1 L1",
	   (unsigned long long)live_blocks());
	uint64_t k0 = a.kill_data;
	uint64_t victim = 0;
	while (!model[victim])
		victim++;
	put(&t, victim, 0);
	ok(sync_commit(&t) == 0 && a.kill_data == k0 + 1, "zeroing a data block kills it");
	bp_t hb;
	ok(tree_lookup(&t, victim, &hb) == 0 && bp_is_hole(&hb) && hb.birth == p->txg, "it is a hole born in txg %llu",
	   (unsigned long long)p->txg);

	/* 2. growth */
	ok(put(&t, 300, 77) == 0 && sync_commit(&t) == 0 && t.phys.levels == 3, "blkid 300 grows the tree to 3 levels");
	ok(put(&t, 70000, 78) == 0 && sync_commit(&t) == 0 && t.phys.levels == 4 && t.phys.root.level == 3,
	   "blkid 70000 grows it to 4 levels");
	ok(verify(&t, 0, MAXB), "all %d blocks match after growth", MAXB);
	ok(walk(p, &t.phys, 0, &s, NULL) == 0 && s.n[0] == live_blocks() && s.n[1] == 3 && s.n[2] == 2 && s.n[3] == 1,
	   "walk: %llu data, 3 L1, 2 L2, 1 L3", (unsigned long long)live_blocks());

	/* 3. punch */
	uint64_t inrange = 0;
	for (int i = 10; i < 60; i++)
		inrange += model[i] != 0;
	k0 = a.kill_data;
	ok(tree_punch(&t, 10, 50) == 0 && tree_punch(&t, UINT64_MAX / 2, 10) == 0, "punch [10,60) and beyond the end");
	for (int i = 10; i < 60; i++)
		model[i] = 0;
	ok(verify(&t, 0, TREE_FANOUT), "punched blocks read as zeros before sync");
	ok(sync_commit(&t) == 0 && a.kill_data == k0 + inrange && verify(&t, 0, MAXB),
	   "after sync: %llu data blocks killed, contents match", (unsigned long long)inrange);
	uint8_t *b;
	ok(tree_punch(&t, 5, 1) == 0 && tree_dirty(&t, 5, &b) == 0 && b[0] == 0 && b[BS - 1] == 0,
	   "dirtying a punched block gives zeros");
	model[5] = 0;
	ok(put(&t, 5, 4242) == 0 && sync_commit(&t) == 0 && verify(&t, 0, 16), "and can be rewritten");

	/* 4. birth invariants: rewrite K blocks spread over L1s in one txg */
	static const uint64_t pick[] = { 1, 2, 100, 255, 256, 300, 511, 70000, 69999 };
	const size_t K = sizeof(pick) / sizeof(pick[0]);
	uint64_t T = pool_open_txg(p);
	for (size_t i = 0; i < K; i++)
		put(&t, pick[i], (uint32_t)(5000 + i));
	ok(sync_commit(&t) == 0 && p->txg == T, "rewrote %zu blocks in txg %llu", K, (unsigned long long)T);
	int exact = walk(p, &t.phys, T - 1, &s, data) == 0;
	for (size_t i = 0; i < K; i++)
		exact = exact && data[pick[i]] == 1;
	uint64_t tot = 0;
	for (int i = 0; i < MAXB; i++)
		tot += data[i];
	/* L1 indices: 0, 1, 273 (69999/256 = 273, 70000/256 = 273); L2: 0, 1; root */
	ok(exact && tot == K && s.n[0] == K, "walk(min_birth=T-1) visits exactly the rewritten data blocks");
	ok(s.n[1] == 3 && s.n[2] == 2 && s.n[3] == 1, "and their indirect parents (%llu L1, %llu L2, %llu L3)",
	   (unsigned long long)s.n[1], (unsigned long long)s.n[2], (unsigned long long)s.n[3]);
	ok(s.min_birth_seen == T && s.max_birth_seen == T, "every visited block was born in txg T");
	ok(walk(p, &t.phys, T, &s, NULL) == 0 && s.n[0] + s.n[1] + s.n[2] + s.n[3] == 0, "walk(min_birth=T) is empty");
	uint64_t T2 = pool_open_txg(p);
	ok(sync_commit(&t) == 0 && walk(p, &t.phys, T2 - 1, &s, NULL) == 0 && s.n[0] + s.n[1] + s.n[2] + s.n[3] == 0, "a sync with nothing dirty writes nothing");

	/* 5. accounting: born - killed = what the tree references */
	ok(walk(p, &t.phys, 0, &s, NULL) == 0, "full walk");
	is_u64(a.born_bytes - a.kill_bytes, s.bytes, "born - killed bytes = bytes reachable (%llu)",
	       (unsigned long long)s.bytes);
	is_u64(a.born_n - a.kill_n, s.n[0] + s.n[1] + s.n[2] + s.n[3], "born - killed blocks = blocks reachable");

	/* 6. reopen from the phys; read-only handle */
	tree_phys_t saved = t.phys;
	tree_close(&t);
	tree_open(&t, p, &saved, NULL, NULL, COMP_OFF, 0);
	ok(verify(&t, 0, MAXB), "a fresh read-only handle reads everything");
	ok(t.nnodes > 100, "with the default cache budget its %llu indirect blocks stay cached",
	   (unsigned long long)t.nnodes);
	/* the process-wide cache budget bounds what a tree keeps (each tree may keep 64 nodes) */
	uint64_t def = tree_cache_size();
	tree_set_cache_size(1);
	ok(tree_cache_size() < (2u << 20), "a tiny budget is raised to its minimum (%llu bytes)",
	   (unsigned long long)tree_cache_size());
	int again = verify(&t, 0, MAXB);
	ok(again && t.nnodes <= 64 + 2, "reading everything again keeps %llu nodes (<= 66)",
	   (unsigned long long)t.nnodes);
	tree_set_cache_size(def);
	ok(tree_dirty(&t, 0, &b) == -EROFS && tree_punch(&t, 0, 1) == -EROFS && tree_sync(&t) == -EROFS,
	   "read-only handle refuses changes");
	tree_close(&t);
	/* empty the tree: everything is killed; the pool returns to its baseline after the defer window */
	tree_open(&t, p, &saved, &ops, &a, COMP_LZ4, CKSUM_XXH3_128);
	ok(tree_punch(&t, 0, MAXB) == 0 && sync_commit(&t) == 0, "punch everything");
	memset(model, 0, sizeof(model));
	ok(verify(&t, 0, 1024) && bp_is_hole(&t.phys.root), "all holes; root is a hole");
	is_u64(a.born_bytes, a.kill_bytes, "every born byte was killed");
	is_u64(a.born_n, a.kill_n, "every born block was killed");
	tree_close(&t);

	/* 7. random ops on a fresh tree (growth with dirty nodes, punch, reopen) vs the model */
	tree_phys_init(&ph, BS);
	tree_open(&t, p, &ph, &ops, &a, COMP_ZSTD, CKSUM_SHA256);
	rc = 0;
	for (int op = 0; op < 3000 && rc == 0; op++) {
		unsigned r = (unsigned)(rnd() % 100);
		uint64_t blk = rnd() % 10 < 7 ? rnd() % 512 : rnd() % MAXB;
		if (r < 70) {
			rc = put(&t, blk, r < 60 ? (uint32_t)(1 + rnd() % 1000000) : 0);
		} else if (r < 80) {
			uint64_t n = 1 + rnd() % 300;
			rc = tree_punch(&t, blk, n);
			for (uint64_t i = blk; i < blk + n && i < MAXB; i++)
				model[i] = 0;
		} else if (r < 84) {
			rc = sync_commit(&t);
		} else {
			rc = tree_sync(&t);
			ph = t.phys;
			tree_close(&t);
			tree_open(&t, p, &ph, &ops, &a, COMP_ZSTD, CKSUM_SHA256);
		}
	}
	ok(rc == 0 && sync_commit(&t) == 0, "3000 random writes/zeroes/punches/syncs/reopens (levels %u)",
	   t.phys.levels);
	ok(verify(&t, 0, MAXB), "contents match the model");
	ok(walk(p, &t.phys, 0, &s, NULL) == 0 && s.n[0] == live_blocks(), "walk sees the %llu live data blocks",
	   (unsigned long long)live_blocks());
	is_u64(a.born_bytes - a.kill_bytes, s.bytes, "born - killed bytes = bytes reachable");
	tree_close(&t);
	pool_close(p);
	unlink(path);
	rmdir(dir);
	return done_testing();
}
