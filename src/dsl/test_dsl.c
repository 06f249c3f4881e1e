/* Unit tests for dsl/: volumes on a real pool: create (sparse/thick), unaligned I/O against a
 * model, snapshot space (deadlists), destroy frees exactly the snapshot's bytes, clones,
 * rollback, destroy refusals, and a catalog round trip through close + import. */
#include "dsl/deadlist.h"
#include "dsl/dsl.h"
#include "util/err.h"
#include "util/tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define VS (32ull << 20)
#define VBS 16384u
#define MIB (1ull << 20)

static uint64_t rng = 0xda942042e4dd58b5ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint8_t *m_head, *m_snap, *m_clone, *tmp;
static int scribble(vol_t *v, uint8_t *model, int n, uint64_t maxlen);

/* While a commit has let the lock go: write and zero (into the next txg), then check every
 * byte of the volume against the model. */
struct mid {
	vol_t *v;
	uint8_t *model;
	int unlocks, locks, bad;
};
static void mid_unlock(void *arg)
{
	struct mid *m = arg;
	m->unlocks++;
	if (scribble(m->v, m->model, 8, 50000) < 0)
		m->bad++;
	uint64_t z = (rnd() % (VS / VBS - 4)) * VBS + 100; /* unaligned: partial blocks and whole ones */
	if (vol_zero(m->v, z, 3 * VBS) < 0)
		m->bad++;
	memset(m->model + z, 0, 3 * VBS);
	uint8_t *buf = malloc(MIB);
	for (uint64_t off = 0; buf && off < VS; off += MIB)
		if (vol_read(m->v, off, MIB, buf) < 0 || memcmp(buf, m->model + off, MIB))
			m->bad++;
	free(buf);
}
static void mid_lock(void *arg) { ((struct mid *)arg)->locks++; }

static vol_t *vopen(dsl_t *d, const char *name)
{
	dsl_ds_t *ds = dsl_lookup(d, name);
	vol_t *v = NULL;
	if (!ds || dsl_vol_open(d, ds, &v) < 0)
		diag("cannot open %s: %s", name, terr_msg());
	return v;
}

/* Compare the whole volume with a model, 1 MiB at a time. */
static int same(dsl_t *d, const char *name, const uint8_t *model)
{
	dsl_ds_t *ds = dsl_lookup(d, name);
	vol_t *v = vopen(d, name);
	int good = v != NULL;
	for (uint64_t off = 0; good && off < VS; off += MIB)
		good = vol_read(v, off, MIB, tmp) == 0 && !memcmp(tmp, model + off, MIB);
	if (v)
		dsl_vol_close(ds, v);
	return good;
}

/* n random writes of up to maxlen bytes at any alignment, mirrored into model. */
static int scribble(vol_t *v, uint8_t *model, int n, uint64_t maxlen)
{
	for (int i = 0; i < n; i++) {
		uint64_t off = rnd() % VS, len = 1 + rnd() % maxlen;
		if (len > VS - off)
			len = VS - off;
		for (uint64_t k = 0; k < len; k++)
			tmp[k] = (uint8_t)rnd();
		TRY(vol_write(v, off, len, tmp));
		memcpy(model + off, tmp, len);
	}
	return 0;
}

static int relations_hold(dsl_t *d, const char *name)
{
	dsl_space_t s;
	dsl_space(d, dsl_lookup(d, name), &s);
	return s.used == s.usedsnap + s.usedds + s.usedrefreserv + s.usedchild;
}

static uint64_t used_of(dsl_t *d, const char *name)
{
	dsl_space_t s;
	dsl_space(d, dsl_lookup(d, name), &s);
	return s.used;
}

struct ind { uint64_t l1[VS / VBS / TREE_FANOUT + 1], root; };
static int ind_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	struct ind *x = arg;
	if (level == 1)
		x->l1[first / TREE_FANOUT] = bp_asize(bp);
	else if (level == 2)
		x->root = bp_asize(bp);
	return 0;
}
static int chain_cb(void *arg, const bp_t *bp)
{
	if (bp->type == BPT_DEADLIST)
		*(uint64_t *)arg += bp_asize(bp);
	return 0;
}
static uint64_t log_bytes(const pool_t *p)
{
	uint64_t s = 0;
	for (size_t i = 0; i < p->log_nbps; i++)
		s += bp_asize(&p->log_bps[i]);
	return s;
}
static int sum_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	*(uint64_t *)arg += bp_asize(bp);
	return 0;
}
static uint64_t cat_bytes(dsl_t *d)
{
	uint64_t s = bp_asize(&d->pool->catalog);
	bobj_walk(d->pool, &d->cat, sum_cb, &s);
	return s;
}
static int commit_n(dsl_t *d, int n)
{
	for (int i = 0; i < n; i++)
		TRY(dsl_commit(d));
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/tarn-unit.XXXXXX", path[64];
	pool_t *p;
	dsl_t *d;
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(path, sizeof(path), "%s/pool.img", dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 1ll << 30) < 0)
		return perror(path), 1;
	close(fd);
	char *paths[1] = { path };
	m_head = calloc(1, VS), m_snap = calloc(1, VS), m_clone = calloc(1, VS), tmp = malloc(VS);
	if (!ok(pool_create("tp", 1, paths, 0, &p) == 0 && dsl_open(p, &d) == 0, "new pool, dsl_open"))
		return done_testing();
	ok(d->nds == 1 && dsl_lookup(d, "tp") == dsl_root(d), "a new pool has just its root dataset");

	/* create */
	char *nocomp[] = { "compression=off" };
	ok(dsl_create(d, "tp/vol", VS, VBS, 1, nocomp, 1) == 0, "create sparse 32M volume tp/vol");
	is_u64(dsl_vol_refreservation(300 * MIB, 16384), 321650688, "refreservation of 300M/16K as OpenZFS");
	ok(dsl_create(d, "tp/thick", 300 * MIB, 16384, 0, NULL, 0) == 0, "create thick 300M volume tp/thick");
	const dsl_prop_t *rp = dsl_prop_find(dsl_lookup(d, "tp/thick"), "refreservation");
	is_str(rp ? rp->value : NULL, "321650688", "thick volume gets refreservation=321650688");
	ok(!dsl_prop_find(dsl_lookup(d, "tp/vol"), "refreservation"), "sparse volume has none");
	is_u64(used_of(d, "tp/thick"), 321650688, "empty thick volume: used = refreservation");
	is_u64(used_of(d, "tp/vol"), 0, "empty sparse volume: used 0");
	is_int(dsl_create(d, "tp/vol", VS, VBS, 1, NULL, 0), -EEXIST, "create existing: EEXIST");
	is_int(dsl_create(d, "tp/x/y", VS, VBS, 1, NULL, 0), -ENOENT, "create under a missing parent: ENOENT");
	ok(dsl_create(d, "tp/odd", VS + 512, VBS, 1, NULL, 0) == 0 && dsl_lookup(d, "tp/odd")->volsize == VS + VBS,
	   "volsize not a block multiple rounds up to whole blocks (as OpenZFS 2.2)");
	ok(dsl_destroy(d, dsl_lookup(d, "tp/odd")) == 0, "destroy it");
	is_int(dsl_create(d, "tp/bs", VS, 3000, 1, NULL, 0), -EINVAL, "bad volblocksize: EINVAL");
	is_int(dsl_create(d, "tp/huge", 2048 * MIB, VBS, 0, NULL, 0), -ENOSPC, "thick volume larger than the pool: ENOSPC");

	/* unaligned I/O against the model */
	vol_t *v = vopen(d, "tp/vol");
	ok(v && scribble(v, m_head, 60, 300000) == 0, "60 random unaligned writes");
	ok(same(d, "tp/vol", m_head), "reads match the model before commit");
	is_int(vol_write(v, VS - 10, 11, tmp), -EINVAL, "write past the end: EINVAL");
	is_int(vol_read(v, VS, 1, tmp), -EINVAL, "read past the end: EINVAL");
	ok(dsl_commit(d) == 0 && same(d, "tp/vol", m_head), "commit; reads match");

	/* a commit that lets the owner's lock go (tarnd's background commit): volume writes,
	 * zeroing and reads while it writes land in the next txg and read back meanwhile */
	ok(scribble(v, m_head, 40, 100000) == 0, "40 more writes (to be committed with the lock let go)");
	struct mid mc = { .v = v, .model = m_head };
	const dsl_unlock_t ul = { mid_unlock, mid_lock, &mc };
	uint64_t txg0 = p->txg;
	ok(dsl_commit_ex(d, &ul) == 0 && p->txg == txg0 + 1, "commit with the lock let go: one txg");
	ok(mc.unlocks >= 3 && mc.unlocks == mc.locks && mc.bad == 0,
	   "let go %d times (data, each indirect level); reads matched the model every time", mc.unlocks);
	ok(dsl_dirty_bytes(d) > 0, "the writes made meanwhile are dirty for the next txg");
	ok(same(d, "tp/vol", m_head), "reads match after it");
	ok(dsl_commit(d) == 0 && dsl_dirty_bytes(d) == 0 && same(d, "tp/vol", m_head), "the next commit takes them");
	dsl_ds_t *vol = dsl_lookup(d, "tp/vol");
	uint64_t walked = 0;
	ok(tree_walk(p, &vol->tree, 0, 0, sum_cb, &walked) == 0 && walked == vol->referenced,
	   "referenced (%llu) = bytes reachable from the tree", (unsigned long long)vol->referenced);
	is_u64(used_of(d, "tp/vol"), vol->referenced, "sparse head without snapshots: used = referenced");
	ok(relations_hold(d, "tp/vol") && relations_hold(d, "tp"), "used = snap + ds + refreserv + child");

	/* snapshot, then overwrite whole blocks that the snapshot holds */
	char *s1[] = { "tp/vol@s1" };
	ok(dsl_snapshot(d, s1, 1, NULL) == 0, "snapshot tp/vol@s1");
	memcpy(m_snap, m_head, VS);
	dsl_ds_t *snap = dsl_lookup(d, "tp/vol@s1");
	ok(snap && snap->referenced == vol->referenced && used_of(d, "tp/vol@s1") == 0, "s1: same referenced, used 0");
	struct ind ind = { 0 };
	tree_walk(p, &snap->tree, 0, 0, ind_cb, &ind);
	uint64_t data = 0, ovh = ind.root, blks[24];
	uint8_t seen_l1[VS / VBS / TREE_FANOUT + 1] = { 0 };
	v = vopen(d, "tp/vol");
	for (int n = 0; n < 24;) {
		uint64_t b = rnd() % (VS / VBS);
		bp_t bp;
		int dup = 0;
		for (int k = 0; k < n; k++)
			dup |= blks[k] == b;
		if (dup || tree_lookup(&v->tree, b, &bp) < 0 || bp_is_hole(&bp))
			continue;
		blks[n++] = b;
		data += bp_asize(&bp);
		if (!seen_l1[b / TREE_FANOUT]++)
			ovh += ind.l1[b / TREE_FANOUT];
		for (uint64_t k = 0; k < VBS; k++)
			tmp[k] = (uint8_t)rnd();
		vol_write(v, b * VBS, VBS, tmp);
		memcpy(m_head + b * VBS, tmp, VBS);
	}
	ok(dsl_commit(d) == 0, "overwrote 24 whole data blocks (%llu bytes) and committed", (unsigned long long)data);
	dsl_space_t ss, hs;
	dsl_space(d, snap, &ss);
	dsl_space(d, vol, &hs);
	ok(ss.used > data, "snapshot used (%llu) > data overwritten (%llu)", (unsigned long long)ss.used,
	   (unsigned long long)data);
	is_u64(ss.used, data + ovh, "snapshot used = data + the indirect blocks rewritten above it");
	is_u64(hs.usedsnap, ss.used, "head usedbysnapshots = snapshot used");
	ok(relations_hold(d, "tp/vol") && relations_hold(d, "tp"), "space relations hold");
	ok(same(d, "tp/vol", m_head) && same(d, "tp/vol@s1", m_snap), "head and snapshot contents");

	/* destroy s1: frees exactly its bytes (plus its deadlist chain) once the defer window passes */
	commit_n(d, 2);
	uint64_t chain = 0, a0 = pool_allocated(p), l0 = log_bytes(p), c0 = cat_bytes(d);
	dl_walk(p, &vol->dl, chain_cb, &chain);
	ok(dsl_destroy(d, snap) == 0 && commit_n(d, 3) == 0, "destroy s1, commit 3 times");
	uint64_t a1 = pool_allocated(p), l1 = log_bytes(p), c1 = cat_bytes(d);
	is_u64(a0 - a1 + (l1 - l0) + (c1 - c0), ss.used + chain,
	       "pool allocated drops by the snapshot's used + its deadlist chain (%llu)", (unsigned long long)chain);
	dsl_space(d, vol, &hs);
	ok(hs.usedsnap == 0 && hs.used == vol->referenced, "head: usedsnap 0, used = referenced");

	/* thick volume: refreservation accounting through a snapshot's life */
	v = vopen(d, "tp/thick");
	ok(v && vol_write(v, 0, VS, m_head) == 0 && dsl_commit(d) == 0, "write 32M to the thick volume");
	dsl_ds_t *th = dsl_lookup(d, "tp/thick");
	dsl_space(d, th, &hs);
	ok(hs.used == 321650688 && hs.usedrefreserv == 321650688 - th->referenced, "used = refreservation");
	char *t1[] = { "tp/thick@t1" };
	ok(dsl_snapshot(d, t1, 1, NULL) == 0 && used_of(d, "tp/thick") == 321650688 + th->referenced,
	   "after a snapshot the whole refreservation is charged again");
	ok(dsl_destroy(d, dsl_lookup(d, "tp/thick@t1")) == 0 && dsl_commit(d) == 0, "destroy the snapshot");
	dsl_space(d, th, &hs);
	is_u64(hs.used, 321650688, "used back to the refreservation (head unique recomputed)");
	is_u64(hs.usedrefreserv, 321650688 - th->referenced, "usedbyrefreservation = refreservation - referenced");

	/* clone */
	char *s2[] = { "tp/vol@s2" };
	ok(dsl_snapshot(d, s2, 1, NULL) == 0, "snapshot tp/vol@s2");
	memcpy(m_snap, m_head, VS);
	memcpy(m_clone, m_head, VS);
	ok(dsl_clone(d, dsl_lookup(d, "tp/vol@s2"), "tp/clone", NULL, 0) == 0, "clone s2 as tp/clone");
	ok(same(d, "tp/clone", m_clone), "clone reads as its origin");
	v = vopen(d, "tp/clone");
	ok(v && scribble(v, m_clone, 10, 100000) == 0 && dsl_commit(d) == 0, "write to the clone");
	ok(same(d, "tp/clone", m_clone) && same(d, "tp/vol", m_head) && same(d, "tp/vol@s2", m_snap),
	   "clone changed; head and origin did not");
	dsl_ds_t *cl = dsl_lookup(d, "tp/clone");
	dsl_space(d, cl, &hs);
	ok(hs.usedds > 0 && hs.usedds == cl->referenced - cl->ref_origin && hs.used == hs.usedds + hs.usedsnap,
	   "clone charged only for its new blocks (%llu of %llu)", (unsigned long long)hs.usedds,
	   (unsigned long long)cl->referenced);
	is_int(dsl_destroy(d, dsl_lookup(d, "tp/vol@s2")), -EBUSY, "destroy a snapshot with a clone: EBUSY");
	is_int(dsl_destroy(d, vol), -EBUSY, "destroy a head with snapshots: EBUSY");
	ok(dsl_create(d, "tp/fs", 0, 0, 0, NULL, 0) == 0 && dsl_create(d, "tp/fs/v2", MIB, VBS, 1, NULL, 0) == 0,
	   "create tp/fs and tp/fs/v2");
	is_int(dsl_destroy(d, dsl_lookup(d, "tp/fs")), -EBUSY, "destroy a filesystem with children: EBUSY");
	is_int(dsl_destroy(d, dsl_root(d)), -EINVAL, "destroy the root: EINVAL");

	/* rollback */
	v = vopen(d, "tp/vol");
	ok(v && scribble(v, m_head, 10, 100000) == 0 && dsl_commit(d) == 0 && same(d, "tp/vol", m_head),
	   "write to tp/vol after s2");
	char *s3[] = { "tp/vol@s3" };
	ok(dsl_snapshot(d, s3, 1, NULL) == 0, "snapshot s3");
	is_int(dsl_rollback(d, dsl_lookup(d, "tp/vol@s2")), -EEXIST, "rollback past a newer snapshot: EEXIST");
	ok(dsl_destroy(d, dsl_lookup(d, "tp/vol@s3")) == 0, "destroy s3");
	v = vopen(d, "tp/vol");
	ok(v && scribble(v, m_head, 5, 100000) == 0, "uncommitted writes");
	ok(dsl_rollback(d, dsl_lookup(d, "tp/vol@s2")) == 0 && dsl_commit(d) == 0, "rollback to s2");
	ok(same(d, "tp/vol", m_snap), "head reads as s2");
	memcpy(m_head, m_snap, VS);
	ok(vol->unique == 0 && used_of(d, "tp/vol@s2") == 0, "nothing unique to the head or to s2");
	ok(relations_hold(d, "tp/vol") && relations_hold(d, "tp") && relations_hold(d, "tp/clone"), "relations hold");

	/* catalog round trip */
	enum { MAXDS = 16 };
	char names[MAXDS][DS_NAME_MAX];
	dsl_space_t before[MAXDS];
	size_t nds = d->nds;
	for (size_t i = 0; i < nds && i < MAXDS; i++) {
		dsl_fullname(d, d->ds[i], names[i], DS_NAME_MAX);
		dsl_space(d, d->ds[i], &before[i]);
	}
	uint64_t alloc = pool_allocated(p);
	dsl_close(d);
	pool_close(p);
	if (!ok(pool_import(1, paths, POOL_IMPORT_OPEN, &p) == 0 && dsl_open(p, &d) == 0, "re-import, dsl_open"))
		return done_testing();
	int same_space = d->nds == nds;
	for (size_t i = 0; i < nds && i < MAXDS && same_space; i++) {
		dsl_space_t s;
		dsl_ds_t *ds = dsl_lookup(d, names[i]);
		if (ds)
			dsl_space(d, ds, &s);
		same_space = ds && !memcmp(&s, &before[i], sizeof(s));
		if (!same_space)
			diag("%s differs after re-import", names[i]);
	}
	ok(same_space, "all %zu datasets come back with identical space accounting", nds);
	is_u64(pool_allocated(p), alloc, "pool allocated unchanged");
	rp = dsl_prop_find(dsl_lookup(d, "tp/thick"), "refreservation");
	ok(rp && !strcmp(rp->value, "321650688"), "refreservation survives");
	ok(same(d, "tp/vol", m_head) && same(d, "tp/vol@s2", m_snap) && same(d, "tp/clone", m_clone),
	   "volume, snapshot and clone contents survive");

	/* tear down: everything frees back to the empty pool's usage */
	ok(dsl_destroy(d, dsl_lookup(d, "tp/clone")) == 0 && dsl_destroy(d, dsl_lookup(d, "tp/vol@s2")) == 0 &&
	   dsl_destroy(d, dsl_lookup(d, "tp/vol")) == 0 && dsl_destroy(d, dsl_lookup(d, "tp/thick")) == 0 &&
	   dsl_destroy(d, dsl_lookup(d, "tp/fs/v2")) == 0 && dsl_destroy(d, dsl_lookup(d, "tp/fs")) == 0,
	   "destroy everything");
	ok(commit_n(d, 3) == 0 && d->nds == 1, "commit; only the root is left");
	is_u64(pool_allocated(p), log_bytes(p) + cat_bytes(d),
	       "no leaks: allocated = space log + catalog (frees are reusable once their txg committed)");
	dsl_close(d);
	pool_close(p);
	unlink(path);
	rmdir(dir);
	free(m_head), free(m_snap), free(m_clone), free(tmp);
	return done_testing();
}
