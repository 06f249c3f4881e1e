/* tree/tree.h — copy-on-write block trees ("objects"): a radix tree of indirect blocks over
 * fixed-size data blocks. Volumes, and any pool metadata that is a sequence of bytes, are
 * stored this way.
 *
 * An object is described by tree_phys_t (stored by its owner, e.g. in the catalog). A tree_t is
 * an open handle: it caches decoded indirect blocks and holds dirty data blocks in memory until
 * tree_sync() writes them (born in the pool's open txg), rewrites the indirect path above them
 * copy-on-write, and reports every block it creates (born) and replaces (killed) to the owner's
 * callbacks, which decide what is freed and how space is charged. Nothing is written in place.
 *
 * Every indirect block pointer's birth txg is >= the birth of everything beneath it, so
 * tree_walk(min_birth) visits only what changed after min_birth.
 */
#ifndef TARN_TREE_TREE_H
#define TARN_TREE_TREE_H

#include <stdint.h>

#include "pool/pool.h"
#include "util/avl.h"

#define TREE_IBLKSZ (16u << 10) /* indirect block size */
#define TREE_FANOUT (TREE_IBLKSZ / BP_SIZE)
#define TREE_MAX_LEVELS 8

typedef struct tree_phys {
	bp_t root;       /* top indirect block (level = levels - 1) */
	uint32_t levels; /* >= 2: level 0 = data, levels-1 = root */
	uint32_t dblksz; /* data block size (power of two, 512..1M) */
} tree_phys_t;

typedef struct tree_ops {
	/* A block was written (born in the open txg). */
	void (*born)(void *ctx, const bp_t *bp);
	/* A block is no longer referenced by this tree; the owner frees it or keeps it for
	 * snapshots. Returns 0 or a negative errno. */
	int (*kill)(void *ctx, const bp_t *bp);
} tree_ops_t;

typedef struct tree {
	pool_t *pool;
	tree_phys_t phys;
	const tree_ops_t *ops;
	void *ctx;
	int comp, cksum;     /* for data blocks written by tree_sync */
	avl_tree_t dirty;    /* struct dirty_blk by blkid */
	avl_tree_t frozen;   /* dirty blocks of a commit in progress (tree_freeze), by blkid */
	avl_tree_t nodes;    /* struct tnode by (level, index) */
	uint64_t dirty_count;
	uint64_t nnodes;
	int readonly;
	int hand_level;      /* the cache's clock hand: the (level, index) to look at next */
	uint64_t hand_idx;
} tree_t;

/* A fresh, empty object with data blocks of dblksz bytes. */
void tree_phys_init(tree_phys_t *ph, uint32_t dblksz);

/* Open a handle on an object. ops may be NULL for read-only handles. The handle must be
 * closed with tree_close (dirty data not synced is discarded). */
void tree_open(tree_t *t, pool_t *p, const tree_phys_t *ph, const tree_ops_t *ops, void *ctx,
	       int comp, int cksum);
void tree_close(tree_t *t);

/* Read data block blkid (dblksz bytes) into buf: dirty contents, stored contents (verified),
 * or zeros for a hole. */
int tree_read(tree_t *t, uint64_t blkid, void *buf);
/* Get a writable in-memory copy of block blkid (loaded from disk on first touch). The pointer
 * stays valid until tree_sync/tree_close. */
int tree_dirty(tree_t *t, uint64_t blkid, uint8_t **buf);
/* As tree_dirty, for a caller that overwrites the whole block: the old contents are not read
 * (the buffer's contents are unspecified). */
int tree_dirty_full(tree_t *t, uint64_t blkid, uint8_t **buf);
/* Write dirty block blkid with compression `comp` instead of the tree's (zfs receive of a -c
 * stream keeps blocks compressed as they were sent). */
int tree_set_comp(tree_t *t, uint64_t blkid, int comp);
/* Make blocks [first, first+count) holes (without reading them). */
int tree_punch(tree_t *t, uint64_t first, uint64_t count);
/* Bytes of dirty data held in memory (frozen blocks included). */
static inline uint64_t tree_dirty_bytes(const tree_t *t)
{
	return (t->dirty_count + t->frozen.count) * t->phys.dblksz;
}

/* A commit whose data blocks are written without the owner's lock (dsl_commit_ex):
 * tree_freeze sets the dirty blocks aside as *frozen*: they still read as the tree's contents,
 * a write to one of them starts a new dirty copy, and their buffers do not change until
 * tree_install or tree_unfreeze. Meanwhile (lock released) the committer prepares and writes
 * them; then tree_install puts their new pointers in, and tree_sync writes the indirect blocks
 * above (and any blocks dirtied since, unless the caller froze again). tree_unfreeze after a
 * failure: frozen blocks become dirty again, except where a newer write superseded them. */
typedef struct tree_frozen {
	uint64_t blkid;
	const uint8_t *buf; /* NULL: the block becomes a hole */
	int comp;           /* compression to write it with */
} tree_frozen_t;
/* Freeze the dirty blocks (-EBUSY if some are frozen already). */
int tree_freeze(tree_t *t);
/* The frozen blocks, in block order: the first n into out; returns how many there are. */
size_t tree_frozen_list(const tree_t *t, tree_frozen_t *out, size_t n);
/* Prepare frozen block f for writing (no lock needed): 1 = it is all zeros (a hole: nothing to
 * write), 0 = *w prepared (born in txg birth), -errno. */
int tree_frozen_prepare(const tree_t *t, const tree_frozen_t *f, uint64_t birth, pool_wblk_t *w);
/* Install the frozen blocks' new pointers, bps[i] for the i-th of tree_frozen_list (a hole
 * pointer for a hole), reporting born and killed blocks, and drop the frozen set. */
int tree_install(tree_t *t, const bp_t *bps, size_t n);
void tree_unfreeze(tree_t *t);

/* Write all dirty blocks and the indirect blocks above them; t->phys.root is then current.
 * -EBUSY while blocks are frozen. */
int tree_sync(tree_t *t);
/* Write only the indirect blocks made dirty by installed blocks (after tree_install): blocks
 * dirtied meanwhile stay dirty for the next commit. With ul, the owner's lock is let go while
 * each level's blocks are compressed and written (see tree_freeze for what others may do
 * meanwhile); held again on return. */
int tree_sync_indirect(tree_t *t, const pool_unlock_t *ul);

/* Look up the pointer of data block blkid (a hole pointer if none). */
int tree_lookup(tree_t *t, uint64_t blkid, bp_t *bp);

/* Where data block blkid's contents are: 0 = copied into buf (dirty data, or zeros for a hole);
 * 1 = stored, *bp says where (read it with pool_read_block[_unlocked]); -errno on a metadata
 * read failure or a corrupt pointer. */
int tree_peek(tree_t *t, uint64_t blkid, void *buf, bp_t *bp);
/* Make block blkid dirty with `contents` as its current data, read by the caller (without the
 * owner's lock) from *expect, if the block still is *expect and not dirty: then a later
 * tree_dirty needs no read. Returns 1 if installed, 0 if not needed or stale (the caller's
 * write then reads as usual), -errno on failure. */
int tree_dirty_from(tree_t *t, uint64_t blkid, const bp_t *expect, const void *contents);
/* Is data block blkid a hole (never written, zeroed, trimmed), counting uncommitted changes?
 * Returns 1 for a hole, 0 for data, or a negative errno (a metadata read failed). */
int tree_is_hole(tree_t *t, uint64_t blkid);

/* Visit every stored block (data and indirect, and hole pointers too if holes != 0) whose birth
 * is > min_birth, in block order, from the on-disk tree (sync first). cb returns 0 to go on,
 * >0 to stop, <0 error. `first` is the first data block id the pointer covers. */
typedef int (*tree_walk_fn)(void *arg, const bp_t *bp, int level, uint64_t first);
int tree_walk(pool_t *p, const tree_phys_t *ph, uint64_t min_birth, int holes, tree_walk_fn cb, void *arg);
/* As tree_walk, but an indirect block that cannot be read is counted in *errors and skipped
 * (with everything below it) instead of ending the walk (scrub). */
int tree_walk_tolerant(pool_t *p, const tree_phys_t *ph, uint64_t min_birth, tree_walk_fn cb, void *arg,
		       uint64_t *errors);

/* Drop cached clean indirect blocks (memory bound). */
void tree_trim_cache(tree_t *t);
/* The process-wide budget for cached indirect blocks of all open trees (default 64 MiB; each
 * open tree may keep a few nodes beyond it), and what it is. Set it before trees are used;
 * lowering it later takes effect as trees are used. */
void tree_set_cache_size(uint64_t bytes);
uint64_t tree_cache_size(void);

#endif
