/* Unit tests for pool/alloc: take/free/defer, coalescing, ENOSPC, snapshot+replay round trip,
 * replay validation, and a randomized model check against a per-sector state array. */
#include "pool/alloc.h"
#include "pool/bp.h"
#include "util/err.h"
#include "util/tap.h"

#include <stdlib.h>

#define LO (1ull << 20)
#define S(n) ((uint64_t)(n) * SECTOR)

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void) { return rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; }

static int init_n(allocator_t *a, int nv, uint64_t sectors)
{
	uint64_t lo[4], hi[4];
	for (int i = 0; i < nv; i++) {
		lo[i] = LO;
		hi[i] = LO + S(sectors);
	}
	return alloc_init(a, nv, lo, hi);
}

/* 1 if both allocators have exactly the same free extents on every vdev. */
static int same_extents(const allocator_t *a, const allocator_t *b)
{
	if (a->nvdevs != b->nvdevs)
		return 0;
	for (int i = 0; i < a->nvdevs; i++) {
		avl_node_t *x = avl_first(&a->v[i].free), *y = avl_first(&b->v[i].free);
		for (; x && y; x = avl_next(x), y = avl_next(y)) {
			extent_t *e = avl_entry(x, extent_t, node), *f = avl_entry(y, extent_t, node);
			if (e->start != f->start || e->len != f->len)
				return 0;
		}
		if (x || y)
			return 0;
	}
	return 1;
}

static uint64_t defer_bytes(const allocator_t *a)
{
	uint64_t s = 0;
	for (size_t i = 0; i < a->defer.n; i++)
		s += a->defer.r[i].len;
	return s;
}

/* Build b from a's snapshot records, as an import of last-committed txg `cur` would. */
static int replay_copy(const allocator_t *a, uint64_t cur, int nv, uint64_t sectors, allocator_t *b)
{
	space_recs_t rs;
	int rc = alloc_snapshot_records(a, cur, &rs);
	if (rc == 0)
		rc = init_n(b, nv, sectors);
	for (size_t i = 0; rc == 0 && i < rs.n; i++)
		rc = alloc_replay(b, &rs.r[i], cur);
	free(rs.r);
	return rc;
}

static void test_defer_and_enospc(void)
{
	allocator_t a;
	uint16_t v;
	uint64_t off, seen = 0;
	int rc = 0;
	ok(init_n(&a, 1, 16) == 0, "init 16-sector allocator");
	is_u64(alloc_free_bytes(&a), S(16), "all free");
	is_u64(alloc_extent_count(&a), 1, "one extent");
	for (int i = 0; i < 16 && rc == 0; i++) {
		rc = alloc_take(&a, SECTOR, 1, &v, &off);
		if (rc == 0 && off >= LO && off < LO + S(16) && off % SECTOR == 0)
			seen |= 1ull << ((off - LO) / SECTOR);
	}
	ok(rc == 0 && seen == 0xffff, "16 single-sector takes return 16 distinct in-range sectors");
	is_int(alloc_take(&a, SECTOR, 1, &v, &off), -ENOSPC, "17th take: ENOSPC");
	is_int(terr_code(), ENOSPC, "with an ENOSPC message recorded");
	is_u64(a.pending.n, 1, "contiguous allocations coalesce into one pending record");
	alloc_committed(&a, 1);
	is_u64(a.pending.n, 0, "commit clears the pending records");
	ok(alloc_free(&a, 0, LO + S(5), SECTOR, 2) == 0, "free sector 5 in txg 2");
	is_int(alloc_take(&a, SECTOR, 2, &v, &off), -ENOSPC, "not reusable in txg 2 (state 1 still needs it)");
	is_u64(alloc_free_bytes(&a), 0, "deferred until txg 2 commits");
	is_int(alloc_free(&a, 0, LO + S(5), SECTOR, 2) < 0 ? 0 : 1, 1, "(a second free of a deferred block is not detected here)");
	alloc_committed(&a, 2);
	is_u64(alloc_free_bytes(&a), SECTOR, "released once txg 2 commits");
	ok(alloc_take(&a, SECTOR, 3, &v, &off) == 0 && off == LO + S(5), "reused in txg 3");
	is_int(alloc_free(&a, 1, LO, SECTOR, 3), -EIO, "free on an unknown vdev: EIO");
	is_int(alloc_free(&a, 0, LO + S(5), SECTOR, 3), 0, "free the reused sector in txg 3");
	alloc_committed(&a, 3);
	is_int(alloc_free(&a, 0, LO + S(5), SECTOR, 4), -EIO, "double free of a free sector: EIO");
	alloc_fini(&a);
}

static void test_coalesce(void)
{
	allocator_t a;
	uint16_t v;
	uint64_t off;
	static const int order[] = { 3, 5, 4, 1, 0, 15, 14 };
	init_n(&a, 1, 16);
	ok(alloc_take(&a, S(16), 1, &v, &off) == 0 && off == LO, "take the whole vdev");
	alloc_committed(&a, 1);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		alloc_free(&a, 0, LO + S(order[i]), SECTOR, 2);
	alloc_committed(&a, 3);
	is_u64(alloc_free_bytes(&a), S(7), "7 sectors free");
	is_u64(alloc_extent_count(&a), 3, "merged into [0,2) [3,6) [14,16)");
	avl_node_t *n = avl_first(&a.v[0].free);
	extent_t *e = avl_entry(n, extent_t, node);
	ok(e->start == LO && e->len == S(2), "first extent [0,2)");
	e = avl_entry(avl_next(n), extent_t, node);
	ok(e->start == LO + S(3) && e->len == S(3), "second extent [3,6)");
	is_int(alloc_take(&a, S(4), 4, &v, &off), -ENOSPC, "4 sectors: ENOSPC although 7 are free");
	ok(alloc_take(&a, S(3), 4, &v, &off) == 0 && off == LO + S(3), "3 sectors fit in [3,6)");
	alloc_free(&a, 0, LO + S(3), S(3), 4);
	alloc_free(&a, 0, LO + S(2), SECTOR, 4);
	alloc_free(&a, 0, LO + S(6), S(8), 4);
	alloc_committed(&a, 5);
	is_u64(alloc_extent_count(&a), 1, "everything merges back into one extent");
	is_u64(alloc_free_bytes(&a), S(16), "all 16 sectors free");
	alloc_fini(&a);
}

static void test_snapshot_replay(void)
{
	allocator_t a, b;
	uint16_t v, vb;
	uint64_t off, offb, txg = 1;
	const uint64_t NS = 256;
	init_n(&a, 2, NS);
	uint64_t offs[200], lens[200];
	uint16_t vs[200];
	for (int i = 0; i < 200; i++) {
		lens[i] = S(1 + rnd() % 4);
		if (alloc_take(&a, lens[i], txg, &vs[i], &offs[i]) < 0)
			lens[i] = 0;
	}
	alloc_committed(&a, txg++);
	for (int i = 0; i < 200; i += 3) /* freed two txgs back: released */
		if (lens[i])
			alloc_free(&a, vs[i], offs[i], lens[i], txg);
	alloc_committed(&a, txg++);
	alloc_committed(&a, txg++);
	for (int i = 1; i < 200; i += 5) /* freed in the open txg: deferred until it commits */
		if (lens[i])
			alloc_free(&a, vs[i], offs[i], lens[i], txg);
	ok(a.defer.n > 0 && alloc_extent_count(&a) > 10, "fragmented map with deferred frees (%llu extents)",
	   (unsigned long long)alloc_extent_count(&a));
	/* the snapshot is written in the open txg; it is read back only once that txg is committed,
	 * so its deferred frees replay as free */
	ok(replay_copy(&a, txg, 2, NS, &b) == 0, "snapshot records replay cleanly");
	alloc_committed(&a, txg);
	is_u64(alloc_free_bytes(&b), alloc_free_bytes(&a), "same free bytes");
	is_u64(alloc_extent_count(&b), alloc_extent_count(&a), "same extent count");
	ok(same_extents(&a, &b), "identical free extents");
	is_u64(defer_bytes(&b), 0, "nothing deferred after replay");
	ok(a.defer.n == 0, "nothing deferred once the txg committed");
	uint64_t big = 0;
	for (int i = 0; i < 2; i++)
		for (avl_node_t *n = avl_first(&a.v[i].free); n; n = avl_next(n))
			if (avl_entry(n, extent_t, node)->len > big)
				big = avl_entry(n, extent_t, node)->len;
	ok(alloc_take(&a, big, txg + 2, &v, &off) == 0 && alloc_take(&b, big, txg + 2, &vb, &offb) == 0,
	   "largest extent (%llu bytes) allocatable in both", (unsigned long long)big);
	int na = 0, nb = 0;
	while (alloc_take(&a, SECTOR, txg + 2, &v, &off) == 0)
		na++;
	while (alloc_take(&b, SECTOR, txg + 2, &vb, &offb) == 0)
		nb++;
	ok(na == nb && na > 0 && alloc_free_bytes(&a) == 0 && alloc_free_bytes(&b) == 0,
	   "same number of further single-sector allocations (%d, %d)", na, nb);
	alloc_fini(&a);
	alloc_fini(&b);
	terr_clear();
}

static void test_replay_rejects(void)
{
	allocator_t a;
	const uint64_t HI = LO + S(64), CUR = 10;
	init_n(&a, 2, 64);
	static const struct { uint16_t vdev; uint64_t off, len; const char *what; } bad[] = {
		{ 2, LO, SECTOR, "unknown vdev" },
		{ 0, LO - SECTOR, SECTOR, "before the allocatable range" },
		{ 0, HI - SECTOR, S(2), "past the end" },
		{ 0, HI, SECTOR, "at the end" },
		{ 0, LO, 0, "zero length" },
		{ 0, LO + 512, SECTOR, "unaligned offset" },
		{ 0, LO, SECTOR + 1, "unaligned length" },
		{ 0, LO + SECTOR, UINT64_MAX - SECTOR + 1, "length wrapping around" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (int fr = 0; fr < 2; fr++) {
			space_rec_t r = { fr ? 3 : 1, bad[i].off, bad[i].len, bad[i].vdev, (uint8_t)fr };
			is_int(alloc_replay(&a, &r, CUR), -EINVAL, "%s %s: EINVAL", fr ? "free" : "alloc", bad[i].what);
		}
	is_u64(alloc_free_bytes(&a), S(128), "rejected records changed nothing");
	space_rec_t al = { 1, LO + S(8), S(4), 0, 0 };
	ok(alloc_replay(&a, &al, CUR) == 0, "alloc [8,12)");
	is_int(alloc_replay(&a, &al, CUR), -EINVAL, "same alloc again: EINVAL");
	space_rec_t ov = { 1, LO + S(10), S(4), 0, 0 };
	is_int(alloc_replay(&a, &ov, CUR), -EINVAL, "overlapping alloc [10,14): EINVAL");
	space_rec_t fr = { 2, LO + S(8), S(4), 0, 1 };
	ok(alloc_replay(&a, &fr, CUR) == 0, "free [8,12) in an old txg");
	is_int(alloc_replay(&a, &fr, CUR), -EINVAL, "double free in an old txg: EINVAL");
	space_rec_t never = { 3, LO + S(30), S(2), 1, 1 };
	is_int(alloc_replay(&a, &never, CUR), -EINVAL, "free of never-allocated space: EINVAL");
	is_u64(alloc_free_bytes(&a), S(128), "map back to all free");
	/* frees of the imported txg go to the defer queue, but must still match the map */
	never.txg = CUR;
	is_int(alloc_replay(&a, &never, CUR), -EINVAL, "deferred free of never-allocated space: EINVAL");
	ok(alloc_replay(&a, &al, CUR) == 0, "alloc [8,12) again");
	fr.txg = CUR;
	ok(alloc_replay(&a, &fr, CUR) == 0, "deferred free [8,12)");
	is_int(alloc_replay(&a, &fr, CUR), -EINVAL, "deferred double free: EINVAL");
	alloc_fini(&a);
	terr_clear();
}

/* Randomized model check: per-sector state 0 = free, 1 = allocated, 2 = freed in dtxg. */
#define MNV 2
#define MNS 512
#define MAXLIVE 2048
static uint8_t st[MNV][MNS];
static uint64_t dtxg[MNV][MNS];

/* The model's map as an allocator: allocated sectors (and deferred ones if deferred_used). */
static void model_map(allocator_t *m, int deferred_used)
{
	init_n(m, MNV, MNS);
	for (int v = 0; v < MNV; v++)
		for (int s = 0; s < MNS; s++)
			if (st[v][s] == 1 || (st[v][s] == 2 && deferred_used)) {
				space_rec_t rr = { 0, LO + S(s), SECTOR, (uint16_t)v, 0 };
				alloc_replay(m, &rr, 0);
			}
}

static void test_model(void)
{
	static struct { uint16_t v; uint64_t s, n; } live[MAXLIVE];
	size_t nlive = 0;
	allocator_t a;
	uint64_t txg = 1, nfree = MNV * MNS, ntake = 0, nenospc = 0, nchecks = 0;
	int bad = 0, badcheck = 0;
	init_n(&a, MNV, MNS);
	for (int op = 0; op < 20000 && !bad; op++) {
		unsigned r = (unsigned)(rnd() % 100);
		if (r < 50 && nlive < MAXLIVE) {
			uint64_t n = r < 5 ? 1 + rnd() % 64 : 1 + rnd() % 8, off, s;
			uint16_t v;
			if (alloc_take(&a, S(n), txg, &v, &off) == 0) {
				s = (off - LO) / SECTOR;
				bad = v >= MNV || off < LO || off % SECTOR || s + n > MNS;
				for (uint64_t k = 0; !bad && k < n; k++)
					bad = st[v][s + k] != 0;
				for (uint64_t k = 0; !bad && k < n; k++)
					st[v][s + k] = 1;
				live[nlive].v = v, live[nlive].s = s, live[nlive++].n = n;
				nfree -= n, ntake++;
				if (bad)
					diag("op %d: take of %llu sectors got vdev %u sector %llu: not free", op,
					     (unsigned long long)n, v, (unsigned long long)s);
			} else {
				nenospc++;
				for (int v2 = 0; v2 < MNV && !bad; v2++) /* no free run of n may exist */
					for (uint64_t k = 0, run = 0; k < MNS && !bad; k++)
						if ((bad = (run = st[v2][k] ? 0 : run + 1) >= n))
							diag("op %d: ENOSPC for %llu sectors but vdev %d has a free run",
							     op, (unsigned long long)n, v2);
			}
		} else if (r < 85 && nlive) {
			size_t i = rnd() % nlive;
			alloc_free(&a, live[i].v, LO + S(live[i].s), S(live[i].n), txg);
			for (uint64_t k = 0; k < live[i].n; k++)
				st[live[i].v][live[i].s + k] = 2, dtxg[live[i].v][live[i].s + k] = txg;
			live[i] = live[--nlive];
		} else if (r < 97) {
			alloc_committed(&a, txg);
			for (int v = 0; v < MNV; v++)
				for (int s = 0; s < MNS; s++)
					if (st[v][s] == 2 && dtxg[v][s] <= txg)
						st[v][s] = 0, nfree++;
			txg++;
		} else { /* exact extent maps; a snapshot replayed, then with its deferred frees released */
			allocator_t m, b;
			model_map(&m, 1);
			/* the snapshot is written in the open txg and read back once it committed:
			 * its deferred frees replay as free */
			int good = same_extents(&a, &m) && alloc_extent_count(&a) == alloc_extent_count(&m) &&
				   replay_copy(&a, txg, MNV, MNS, &b) == 0 && defer_bytes(&b) == 0;
			alloc_fini(&m);
			model_map(&m, 0);
			good = good && same_extents(&b, &m);
			if (!good && !badcheck++)
				diag("op %d: extent comparison failed (txg %llu)", op, (unsigned long long)txg);
			alloc_fini(&m);
			alloc_fini(&b);
			nchecks++;
		}
		if (!bad && (bad = alloc_free_bytes(&a) != S(nfree)))
			diag("op %d: free bytes %llu, model %llu", op, (unsigned long long)alloc_free_bytes(&a),
			     (unsigned long long)S(nfree));
	}
	ok(!bad, "20000 random ops agree with the model (%llu takes, %llu ENOSPC)", (unsigned long long)ntake,
	   (unsigned long long)nenospc);
	ok(!badcheck && nchecks > 100, "extent maps and snapshot replays agree with the model (%llu checks)",
	   (unsigned long long)nchecks);
	ok(ntake > 1000 && nenospc > 100, "model run exercised both success and ENOSPC");
	alloc_fini(&a);
	terr_clear();
}

int main(void)
{
	test_defer_and_enospc();
	test_coalesce();
	test_snapshot_replay();
	test_replay_rejects();
	test_model();
	return done_testing();
}
