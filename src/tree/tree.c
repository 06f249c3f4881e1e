/* tree/tree.c — copy-on-write block trees (see tree.h, docs/format.md "Block tree"). */
#include "tree/tree.h"

#include <stdlib.h>
#include <string.h>

#include "util/compress.h"
#include "util/err.h"

/* Decoded indirect blocks are cached in memory, within one process-wide budget (what ZFS's ARC
 * does for metadata): a random read then costs one data block read, not also an indirect one.
 * Every open tree may keep TREE_CACHE_MIN_NODES whatever the budget; past it, a tree that is
 * used evicts its own clean level-1 nodes while the total is over budget. */
#define TREE_CACHE_MIN_NODES 64
#define TREE_CACHE_DEFAULT (64ull << 20)
static _Atomic uint64_t cache_budget_nodes; /* 0: not set yet (the default) */
static _Atomic uint64_t cache_total_nodes;

struct dirty_blk {
	avl_node_t node;
	uint64_t blkid;
	uint8_t *buf; /* NULL: the block becomes a hole */
	int comp;     /* compression for this block, or -1: the tree's */
};

struct tnode {
	avl_node_t node;
	int level;
	uint64_t idx;
	int dirty;
	int ref; /* used since the clock hand last passed */
	bp_t kids[TREE_FANOUT];
};

void tree_set_cache_size(uint64_t bytes)
{
	uint64_t n = bytes / sizeof(struct tnode);
	cache_budget_nodes = n > TREE_CACHE_MIN_NODES ? n : TREE_CACHE_MIN_NODES;
}

uint64_t tree_cache_size(void)
{
	if (!cache_budget_nodes)
		tree_set_cache_size(TREE_CACHE_DEFAULT);
	return cache_budget_nodes * sizeof(struct tnode);
}

/* Is t over its share: more than its minimum while the process is over budget? */
static int over_budget(const tree_t *t, uint64_t slack)
{
	if (!cache_budget_nodes)
		tree_set_cache_size(TREE_CACHE_DEFAULT);
	return t->nnodes > TREE_CACHE_MIN_NODES && cache_total_nodes + slack > cache_budget_nodes;
}

static void node_added(tree_t *t)
{
	t->nnodes++;
	cache_total_nodes++;
}

static void node_removed(tree_t *t, struct tnode *n)
{
	avl_remove(&t->nodes, &n->node);
	free(n);
	t->nnodes--;
	cache_total_nodes--;
}

static int dirty_cmp(const avl_node_t *a, const avl_node_t *b)
{
	uint64_t x = avl_entry(a, struct dirty_blk, node)->blkid, y = avl_entry(b, struct dirty_blk, node)->blkid;
	return x < y ? -1 : x > y;
}

static int tnode_cmp(const avl_node_t *a, const avl_node_t *b)
{
	const struct tnode *x = avl_entry(a, struct tnode, node), *y = avl_entry(b, struct tnode, node);
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void tree_phys_init(tree_phys_t *ph, uint32_t dblksz)
{
	memset(ph, 0, sizeof(*ph));
	ph->levels = 2;
	ph->dblksz = dblksz;
}

void tree_open(tree_t *t, pool_t *p, const tree_phys_t *ph, const tree_ops_t *ops, void *ctx,
	       int comp, int cksum)
{
	memset(t, 0, sizeof(*t));
	t->pool = p;
	t->phys = *ph;
	t->ops = ops;
	t->ctx = ctx;
	t->comp = comp;
	t->cksum = cksum ? cksum : CKSUM_XXH3_128;
	t->readonly = ops == NULL;
	avl_init(&t->dirty, dirty_cmp);
	avl_init(&t->frozen, dirty_cmp);
	avl_init(&t->nodes, tnode_cmp);
}

static void drop_set(avl_tree_t *set)
{
	avl_node_t *n;
	while ((n = avl_first(set))) {
		struct dirty_blk *d = avl_entry(n, struct dirty_blk, node);
		avl_remove(set, n);
		free(d->buf);
		free(d);
	}
}

static void drop_dirty(tree_t *t)
{
	drop_set(&t->dirty);
	t->dirty_count = 0;
}

void tree_close(tree_t *t)
{
	avl_node_t *n;
	drop_dirty(t);
	drop_set(&t->frozen);
	while ((n = avl_first(&t->nodes)))
		node_removed(t, avl_entry(n, struct tnode, node));
}

void tree_trim_cache(tree_t *t)
{
	avl_node_t *n = avl_first(&t->nodes);
	while (n) {
		avl_node_t *next = avl_next(n);
		struct tnode *tn = avl_entry(n, struct tnode, node);
		if (!tn->dirty)
			node_removed(t, tn);
		n = next;
	}
}

static uint64_t capacity(uint32_t levels)
{
	uint64_t c = 1;
	for (uint32_t i = 1; i < levels; i++) {
		if (c > UINT64_MAX / TREE_FANOUT)
			return UINT64_MAX;
		c *= TREE_FANOUT;
	}
	return c;
}

/* Decode an indirect block's pointers, validating each against its parent. */
static int decode_node(const uint8_t *buf, const bp_t *self, struct tnode *n)
{
	for (unsigned i = 0; i < TREE_FANOUT; i++) {
		if (bp_decode(buf + (size_t)i * BP_SIZE, &n->kids[i]) < 0 ||
		    n->kids[i].birth > self->birth ||
		    (!bp_is_hole(&n->kids[i]) && n->kids[i].level != self->level - 1))
			return terr(EIO, "corrupt indirect block at vdev %u offset %llu", self->vdev,
				    (unsigned long long)self->offset);
	}
	return 0;
}

/* Materialize the children of the block `bp` (a level-`level` indirect block). */
static int load_kids(pool_t *p, const bp_t *bp, int level, struct tnode *n)
{
	if (bp_is_hole(bp)) {
		for (unsigned i = 0; i < TREE_FANOUT; i++) {
			memset(&n->kids[i], 0, sizeof(bp_t));
			n->kids[i].birth = bp->birth;
		}
		return 0;
	}
	if (bp->type != BPT_INDIRECT || bp->level != level || bp->lsize != TREE_IBLKSZ)
		return terr(EIO, "corrupt block pointer: expected an indirect block of level %d", level);
	uint8_t *buf = malloc(TREE_IBLKSZ);
	if (!buf)
		return terr(ENOMEM, "out of memory");
	int rc = pool_read_block(p, bp, buf);
	if (rc == 0)
		rc = decode_node(buf, bp, n);
	free(buf);
	return rc;
}

static int get_node(tree_t *t, int level, uint64_t idx, struct tnode **out)
{
	struct tnode key = { .level = level, .idx = idx };
	avl_node_t *f = avl_find(&t->nodes, &key.node);
	if (f) {
		*out = avl_entry(f, struct tnode, node);
		(*out)->ref = 1;
		return 0;
	}
	bp_t bp;
	if (level == (int)t->phys.levels - 1) {
		if (idx != 0)
			return terr(EINVAL, "block tree index out of range");
		bp = t->phys.root;
	} else {
		struct tnode *parent;
		TRY(get_node(t, level + 1, idx / TREE_FANOUT, &parent));
		bp = parent->kids[idx % TREE_FANOUT];
	}
	struct tnode *n = malloc(sizeof(*n));
	if (!n)
		return terr(ENOMEM, "out of memory");
	n->level = level;
	n->idx = idx;
	n->dirty = 0;
	n->ref = 1;
	int rc = load_kids(t->pool, &bp, level, n);
	if (rc < 0) {
		free(n);
		return rc;
	}
	avl_insert(&t->nodes, &n->node);
	node_added(t);
	*out = n;
	return 0;
}


/* At an entry point (no node pointers held): keep the cache bounded. Over the bound, a clock
 * (second chance) sweep evicts clean level-1 nodes not used since the hand last passed, a small
 * batch at a time, so a working set just above the bound costs a few misses, not a refill of the
 * whole cache (random reads over a volume one node larger than the cache used to empty it on
 * nearly every request). Higher levels are few and always kept while clean ones go first. */
#define TREE_CACHE_BATCH 16
static void bound_cache(tree_t *t)
{
	if (!over_budget(t, 0))
		return;
	struct tnode key = { .level = t->hand_level, .idx = t->hand_idx };
	avl_node_t *n = avl_lower_bound(&t->nodes, &key.node);
	uint64_t visited = 0, limit = 2 * t->nnodes + 2;
	while (over_budget(t, TREE_CACHE_BATCH) && visited++ < limit) {
		if (!n)
			n = avl_first(&t->nodes);
		if (!n)
			break;
		avl_node_t *next = avl_next(n);
		struct tnode *tn = avl_entry(n, struct tnode, node);
		if (!tn->dirty && tn->level == 1) {
			if (tn->ref) {
				tn->ref = 0;
			} else {
				node_removed(t, tn);
			}
		}
		n = next;
	}
	if (n) {
		struct tnode *tn = avl_entry(n, struct tnode, node);
		t->hand_level = tn->level;
		t->hand_idx = tn->idx;
	} else {
		t->hand_level = 0;
		t->hand_idx = 0;
	}
	if (over_budget(t, 0)) /* only dirty or upper nodes left: the old way */
		tree_trim_cache(t);
}

int tree_lookup(tree_t *t, uint64_t blkid, bp_t *bp)
{
	bound_cache(t);
	if (blkid >= capacity(t->phys.levels)) {
		memset(bp, 0, sizeof(*bp));
		return 0;
	}
	struct tnode *n;
	TRY(get_node(t, 1, blkid / TREE_FANOUT, &n));
	*bp = n->kids[blkid % TREE_FANOUT];
	return 0;
}

static struct dirty_blk *find_in(const avl_tree_t *set, uint64_t blkid)
{
	struct dirty_blk key = { .blkid = blkid };
	avl_node_t *n = avl_find(set, &key.node);
	return n ? avl_entry(n, struct dirty_blk, node) : NULL;
}

static struct dirty_blk *find_dirty(tree_t *t, uint64_t blkid) { return find_in(&t->dirty, blkid); }

/* The block's in-memory contents, if any: dirty, else frozen (a commit in progress). */
static struct dirty_blk *find_mem(tree_t *t, uint64_t blkid)
{
	struct dirty_blk *d = find_in(&t->dirty, blkid);
	return d ? d : t->frozen.count ? find_in(&t->frozen, blkid) : NULL;
}

int tree_peek(tree_t *t, uint64_t blkid, void *buf, bp_t *bp)
{
	bound_cache(t);
	struct dirty_blk *d = find_mem(t, blkid);
	if (d) {
		if (d->buf)
			memcpy(buf, d->buf, t->phys.dblksz);
		else
			memset(buf, 0, t->phys.dblksz);
		return 0;
	}
	TRY(tree_lookup(t, blkid, bp));
	if (bp_is_hole(bp)) {
		memset(buf, 0, t->phys.dblksz);
		return 0;
	}
	if (bp->type != BPT_DATA || bp->level != 0 || bp->lsize != t->phys.dblksz)
		return terr(EIO, "corrupt block pointer for block %llu", (unsigned long long)blkid);
	return 1;
}

int tree_is_hole(tree_t *t, uint64_t blkid)
{
	struct dirty_blk *d = find_mem(t, blkid);
	if (d)
		return d->buf == NULL;
	bp_t bp;
	TRY(tree_lookup(t, blkid, &bp));
	return bp_is_hole(&bp);
}

int tree_read(tree_t *t, uint64_t blkid, void *buf)
{
	bound_cache(t);
	struct dirty_blk *d = find_mem(t, blkid);
	if (d) {
		if (d->buf)
			memcpy(buf, d->buf, t->phys.dblksz);
		else
			memset(buf, 0, t->phys.dblksz);
		return 0;
	}
	bp_t bp;
	TRY(tree_lookup(t, blkid, &bp));
	if (bp_is_hole(&bp)) {
		memset(buf, 0, t->phys.dblksz);
		return 0;
	}
	if (bp.type != BPT_DATA || bp.level != 0 || bp.lsize != t->phys.dblksz)
		return terr(EIO, "corrupt block pointer for block %llu", (unsigned long long)blkid);
	return pool_read_block(t->pool, &bp, buf);
}

static int grow_to(tree_t *t, uint64_t blkid)
{
	while (blkid >= capacity(t->phys.levels)) {
		if (t->phys.levels >= TREE_MAX_LEVELS)
			return terr(EFBIG, "object too large");
		/* the new root's first child is the old root; nothing is killed */
		struct tnode *n = calloc(1, sizeof(*n));
		if (!n)
			return terr(ENOMEM, "out of memory");
		n->level = (int)t->phys.levels;
		n->idx = 0;
		n->dirty = 1;
		n->kids[0] = t->phys.root;
		for (unsigned i = 1; i < TREE_FANOUT; i++)
			n->kids[i].birth = 0;
		avl_insert(&t->nodes, &n->node);
		node_added(t);
		t->phys.levels++;
		memset(&t->phys.root, 0, sizeof(bp_t));
		t->phys.root.birth = n->kids[0].birth;
	}
	return 0;
}

static int add_dirty(tree_t *t, uint64_t blkid, uint8_t *buf, struct dirty_blk **out)
{
	struct dirty_blk *d = malloc(sizeof(*d));
	if (!d)
		return terr(ENOMEM, "out of memory");
	d->blkid = blkid;
	d->buf = buf;
	d->comp = -1;
	avl_insert(&t->dirty, &d->node);
	t->dirty_count++;
	*out = d;
	return 0;
}

static int dirty_common(tree_t *t, uint64_t blkid, uint8_t **buf, int fill);
static struct dirty_blk *find_dirty(tree_t *t, uint64_t blkid);

int tree_dirty(tree_t *t, uint64_t blkid, uint8_t **buf) { return dirty_common(t, blkid, buf, 1); }
int tree_dirty_full(tree_t *t, uint64_t blkid, uint8_t **buf) { return dirty_common(t, blkid, buf, 0); }

int tree_dirty_from(tree_t *t, uint64_t blkid, const bp_t *expect, const void *contents)
{
	bound_cache(t);
	if (t->readonly)
		return terr(EROFS, "read-only object");
	if (find_mem(t, blkid)) /* a frozen block is copied by the write itself */
		return 0;
	bp_t bp;
	TRY(tree_lookup(t, blkid, &bp));
	if (bp_is_hole(&bp) || bp.vdev != expect->vdev || bp.offset != expect->offset || bp.birth != expect->birth ||
	    memcmp(bp.cksum, expect->cksum, sizeof(bp.cksum)))
		return 0;
	uint8_t *b = malloc(t->phys.dblksz);
	if (!b)
		return terr(ENOMEM, "out of memory");
	memcpy(b, contents, t->phys.dblksz);
	struct dirty_blk *d;
	int rc = add_dirty(t, blkid, b, &d);
	if (rc < 0) {
		free(b);
		return rc;
	}
	return 1;
}

int tree_set_comp(tree_t *t, uint64_t blkid, int comp)
{
	struct dirty_blk *d = find_dirty(t, blkid);
	if (!d)
		return terr(ENOENT, "block %llu is not dirty", (unsigned long long)blkid);
	d->comp = comp;
	return 0;
}

static int dirty_common(tree_t *t, uint64_t blkid, uint8_t **buf, int fill)
{
	bound_cache(t);
	if (t->readonly)
		return terr(EROFS, "read-only object");
	TRY(grow_to(t, blkid));
	struct dirty_blk *d = find_dirty(t, blkid);
	if (d && d->buf) {
		*buf = d->buf;
		return 0;
	}
	uint8_t *b = malloc(t->phys.dblksz);
	if (!b)
		return terr(ENOMEM, "out of memory");
	int rc = 0;
	if (d) /* a punched block: now zeros */
		memset(b, 0, t->phys.dblksz);
	else if (fill)
		rc = tree_read(t, blkid, b);
	if (rc < 0) {
		free(b);
		return rc;
	}
	if (d) {
		d->buf = b;
	} else if ((rc = add_dirty(t, blkid, b, &d)) < 0) {
		free(b);
		return rc;
	}
	*buf = b;
	return 0;
}

/* If data block b lies under a hole pointer at some level, the first block id past the widest
 * such hole; else b itself. */
static int hole_span(tree_t *t, uint64_t b, uint64_t *next)
{
	for (int level = (int)t->phys.levels - 1; level >= 1; level--) {
		uint64_t span = capacity((uint32_t)level); /* data blocks under one pointer of this node */
		struct tnode *n;
		TRY(get_node(t, level, b / span / TREE_FANOUT, &n));
		if (bp_is_hole(&n->kids[(b / span) % TREE_FANOUT])) {
			*next = (b / span + 1) * span;
			return 0;
		}
	}
	*next = b;
	return 0;
}

int tree_punch(tree_t *t, uint64_t first, uint64_t count)
{
	if (t->readonly)
		return terr(EROFS, "read-only object");
	bound_cache(t);
	uint64_t cap = capacity(t->phys.levels);
	uint64_t end = count > cap - (first < cap ? first : cap) ? cap : first + count;
	/* 1. buffered blocks in the range become holes */
	struct dirty_blk key = { .blkid = first };
	for (avl_node_t *an = avl_lower_bound(&t->dirty, &key.node); an; an = avl_next(an)) {
		struct dirty_blk *d = avl_entry(an, struct dirty_blk, node);
		if (d->blkid >= end)
			break;
		free(d->buf);
		d->buf = NULL;
	}
	/* 1b. frozen blocks in the range (a commit in progress) become holes too: the stored tree
	 * below may not show them yet */
	for (avl_node_t *an = avl_lower_bound(&t->frozen, &key.node); an; an = avl_next(an)) {
		struct dirty_blk *f = avl_entry(an, struct dirty_blk, node), *d;
		if (f->blkid >= end)
			break;
		if (!find_dirty(t, f->blkid))
			TRY(add_dirty(t, f->blkid, NULL, &d));
	}
	/* 2. stored blocks become holes; hole subtrees are skipped whole */
	uint64_t iter = 0;
	for (uint64_t b = first; b < end;) {
		if (++iter % TREE_FANOUT == 0)
			bound_cache(t); /* no node pointer is held between blocks */
		uint64_t next;
		TRY(hole_span(t, b, &next));
		if (next > b) {
			b = next;
			continue;
		}
		if (!find_dirty(t, b)) {
			struct dirty_blk *d;
			TRY(add_dirty(t, b, NULL, &d));
		}
		b++;
	}
	return 0;
}

static int is_zero(const uint8_t *b, size_t len)
{
	static const uint8_t z[4096];
	for (size_t off = 0; off < len; off += sizeof(z)) {
		size_t n = len - off < sizeof(z) ? len - off : sizeof(z);
		if (memcmp(b + off, z, n))
			return 0;
	}
	return 1;
}

/* Replace the pointer in slot `slot` of node n with nb, killing the old one. */
static int replace_kid(tree_t *t, struct tnode *n, unsigned slot, const bp_t *nb)
{
	bp_t old = n->kids[slot];
	if (!bp_is_hole(nb))
		t->ops->born(t->ctx, nb);
	n->kids[slot] = *nb;
	n->dirty = 1;
	if (!bp_is_hole(&old))
		TRY(t->ops->kill(t->ctx, &old));
	return 0;
}

/* Data block blkid's new pointer is nb (a hole pointer: it becomes a hole, born in the open
 * txg unless it was one already). */
static int install_one(tree_t *t, uint64_t blkid, const bp_t *nb)
{
	struct tnode *n;
	TRY(get_node(t, 1, blkid / TREE_FANOUT, &n));
	unsigned slot = (unsigned)(blkid % TREE_FANOUT);
	if (bp_is_hole(nb)) {
		if (bp_is_hole(&n->kids[slot]))
			return 0; /* a hole stays the same hole */
		bp_t hole = { .birth = pool_open_txg(t->pool) };
		return replace_kid(t, n, slot, &hole);
	}
	return replace_kid(t, n, slot, nb);
}

int tree_freeze(tree_t *t)
{
	if (t->frozen.count)
		return terr(EBUSY, "a commit of this object is in progress");
	avl_tree_t tmp = t->frozen;
	t->frozen = t->dirty;
	t->dirty = tmp;
	t->dirty_count = 0;
	return 0;
}

size_t tree_frozen_list(const tree_t *t, tree_frozen_t *out, size_t n)
{
	size_t i = 0;
	for (avl_node_t *an = avl_first(&t->frozen); an && i < n; an = avl_next(an), i++) {
		const struct dirty_blk *d = avl_entry(an, struct dirty_blk, node);
		out[i] = (tree_frozen_t){ d->blkid, d->buf, d->comp >= 0 ? d->comp : t->comp };
	}
	return t->frozen.count;
}

int tree_frozen_prepare(const tree_t *t, const tree_frozen_t *f, uint64_t birth, pool_wblk_t *w)
{
	if (!f->buf || is_zero(f->buf, t->phys.dblksz))
		return 1;
	return pool_wblk_prepare(BPT_DATA, 0, f->buf, t->phys.dblksz, f->comp, t->cksum, birth, w);
}

int tree_install(tree_t *t, const bp_t *bps, size_t n)
{
	if (n != t->frozen.count)
		return terr(EINVAL, "%zu pointers for %zu frozen blocks", n, (size_t)t->frozen.count);
	size_t i = 0;
	for (avl_node_t *an = avl_first(&t->frozen); an; an = avl_next(an), i++)
		TRY(install_one(t, avl_entry(an, struct dirty_blk, node)->blkid, &bps[i]));
	drop_set(&t->frozen);
	return 0;
}

void tree_unfreeze(tree_t *t)
{
	avl_node_t *an;
	while ((an = avl_first(&t->frozen))) {
		struct dirty_blk *d = avl_entry(an, struct dirty_blk, node);
		avl_remove(&t->frozen, an);
		if (find_dirty(t, d->blkid)) { /* superseded by a newer write */
			free(d->buf);
			free(d);
		} else {
			avl_insert(&t->dirty, &d->node);
			t->dirty_count++;
		}
	}
}

int tree_sync(tree_t *t)
{
	if (t->readonly)
		return terr(EROFS, "read-only object");
	if (t->frozen.count)
		return terr(EBUSY, "a commit of this object is in progress");
	/* data blocks */
	for (avl_node_t *an = avl_first(&t->dirty); an; an = avl_next(an)) {
		struct dirty_blk *d = avl_entry(an, struct dirty_blk, node);
		bp_t nb = { 0 };
		if (d->buf && !is_zero(d->buf, t->phys.dblksz))
			TRY(pool_write_block(t->pool, BPT_DATA, 0, d->buf, t->phys.dblksz, d->comp >= 0 ? d->comp : t->comp,
					     t->cksum, &nb));
		TRY(install_one(t, d->blkid, &nb));
	}
	drop_dirty(t);
	return tree_sync_indirect(t, NULL);
}

/* One dirty indirect block of the level being written. */
struct iwrite {
	struct tnode *n;
	uint8_t *buf; /* encoded pointers */
	pool_wblk_t w;
	bp_t nb;      /* the new pointer (a hole pointer if every child is a hole) */
	int hole;
};

/* The new pointer of node n goes into its parent (or the root). */
static int install_node(tree_t *t, struct tnode *n, const bp_t *nb)
{
	n->dirty = 0;
	if (n->level == (int)t->phys.levels - 1) {
		bp_t old = t->phys.root;
		if (!bp_is_hole(nb))
			t->ops->born(t->ctx, nb);
		t->phys.root = *nb;
		return bp_is_hole(&old) ? 0 : t->ops->kill(t->ctx, &old);
	}
	struct tnode *parent;
	TRY(get_node(t, n->level + 1, n->idx / TREE_FANOUT, &parent));
	return replace_kid(t, parent, (unsigned)(n->idx % TREE_FANOUT), nb);
}

/* Write the dirty nodes of one level: encode (locked), compress and checksum (unlocked),
 * place/write/account (pool_wblks_commit), install into the level above (locked). Dirty nodes
 * are neither evicted nor changed by others while the lock is let go. */
#define TREE_SYNC_BATCH 256 /* nodes encoded and written per round: 4 MiB (+ compressed copies) */
static int sync_level(tree_t *t, int level, const pool_unlock_t *ul, int *more)
{
	size_t n = 0, cap = 0;
	struct iwrite *iw = NULL;
	int rc = 0;
	struct tnode key = { .level = level, .idx = 0 };
	*more = 0;
	for (avl_node_t *an = avl_lower_bound(&t->nodes, &key.node); an && rc == 0; an = avl_next(an)) {
		struct tnode *tn = avl_entry(an, struct tnode, node);
		if (tn->level != level)
			break;
		if (!tn->dirty)
			continue;
		if (n == TREE_SYNC_BATCH) {
			*more = 1;
			break;
		}
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			struct iwrite *g = realloc(iw, nc * sizeof(*iw));
			if (!g) {
				rc = terr(ENOMEM, "out of memory");
				break;
			}
			iw = g;
			cap = nc;
		}
		struct iwrite *x = &iw[n];
		memset(x, 0, sizeof(*x));
		x->n = tn;
		x->hole = 1;
		for (unsigned i = 0; i < TREE_FANOUT; i++) {
			if (!bp_is_hole(&tn->kids[i]))
				x->hole = 0;
			if (tn->kids[i].birth > x->nb.birth)
				x->nb.birth = tn->kids[i].birth; /* a hole's birth: the newest below */
		}
		if (!x->hole) {
			if (!(x->buf = malloc(TREE_IBLKSZ))) {
				rc = terr(ENOMEM, "out of memory");
				break;
			}
			for (unsigned i = 0; i < TREE_FANOUT; i++)
				bp_encode(&tn->kids[i], x->buf + (size_t)i * BP_SIZE);
		}
		n++;
	}
	pool_wblk_t **w = rc == 0 ? malloc((n ? n : 1) * sizeof(*w)) : NULL;
	if (rc == 0 && !w)
		rc = terr(ENOMEM, "out of memory");
	size_t nw = 0;
	if (rc == 0) {
		uint64_t txg = pool_open_txg(t->pool);
		pool_unlock(ul);
		for (size_t i = 0; i < n && rc == 0; i++)
			if (!iw[i].hole && (rc = pool_wblk_prepare(BPT_INDIRECT, level, iw[i].buf, TREE_IBLKSZ, COMP_LZ4,
								   t->cksum, txg, &iw[i].w)) == 0)
				w[nw++] = &iw[i].w;
		pool_relock(ul);
	}
	if (rc == 0)
		rc = pool_wblks_commit(t->pool, w, nw, ul, 1); /* flushed here, not under the lock */
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = install_node(t, iw[i].n, iw[i].hole ? &iw[i].nb : &iw[i].w.bp);
	for (size_t i = 0; i < n; i++) {
		pool_wblk_free(&iw[i].w);
		free(iw[i].buf);
	}
	free(w);
	free(iw);
	return rc;
}

int tree_sync_indirect(tree_t *t, const pool_unlock_t *ul)
{
	if (t->readonly)
		return terr(EROFS, "read-only object");
	/* bottom-up; the number of levels is read anew each time (a write may grow the tree
	 * while the lock is let go: the new top node holds the old root and is dirty) */
	for (int level = 1; level < (int)t->phys.levels; level++)
		for (int more = 1; more;) /* the nodes written become clean: the next round skips them */
			TRY(sync_level(t, level, ul, &more));
	bound_cache(t);
	return 0;
}

struct walk {
	pool_t *p;
	uint64_t min_birth;
	int holes;
	uint64_t *errors; /* tolerant walk: count unreadable indirect blocks and go on */
	tree_walk_fn cb;
	void *arg;
	uint8_t *bufs[TREE_MAX_LEVELS];
};

static int walk_bp(struct walk *w, const bp_t *bp, int level, uint64_t first)
{
	if (bp->birth <= w->min_birth)
		return 0;
	if (bp_is_hole(bp))
		return w->holes ? w->cb(w->arg, bp, level, first) : 0;
	int rc = w->cb(w->arg, bp, level, first);
	if (rc != 0 || level == 0)
		return rc;
	if (level >= TREE_MAX_LEVELS || bp->level != level || bp->type != BPT_INDIRECT)
		return terr(EIO, "corrupt block pointer in block tree");
	struct tnode *n = malloc(sizeof(*n));
	if (!n)
		return terr(ENOMEM, "out of memory");
	rc = load_kids(w->p, bp, level, n);
	if (rc < 0 && w->errors) {
		(*w->errors)++;
		terr_clear();
		free(n);
		return 0;
	}
	uint64_t span = capacity((uint32_t)level);
	for (unsigned i = 0; rc == 0 && i < TREE_FANOUT; i++)
		rc = walk_bp(w, &n->kids[i], level - 1, first + i * span);
	free(n);
	return rc;
}

int tree_walk(pool_t *p, const tree_phys_t *ph, uint64_t min_birth, int holes, tree_walk_fn cb, void *arg)
{
	struct walk w = { .p = p, .min_birth = min_birth, .holes = holes, .cb = cb, .arg = arg };
	if (ph->levels < 2 || ph->levels > TREE_MAX_LEVELS)
		return terr(EIO, "corrupt block tree (levels %u)", ph->levels);
	return walk_bp(&w, &ph->root, (int)ph->levels - 1, 0);
}

int tree_walk_tolerant(pool_t *p, const tree_phys_t *ph, uint64_t min_birth, tree_walk_fn cb, void *arg,
		       uint64_t *errors)
{
	struct walk w = { .p = p, .min_birth = min_birth, .cb = cb, .arg = arg, .errors = errors };
	if (ph->levels < 2 || ph->levels > TREE_MAX_LEVELS) {
		(*errors)++;
		return 0;
	}
	return walk_bp(&w, &ph->root, (int)ph->levels - 1, 0);
}
