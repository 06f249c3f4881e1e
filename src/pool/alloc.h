/* pool/alloc.h — space allocator: an in-memory tree of free extents per vdev, built at import
 * from the space log, plus the per-txg record of allocations and frees that the space log
 * persists, and the deferred-free queue: a block freed in txg T is reusable only once T is
 * committed, so the state of txg T-1 stays intact until T's uberblock is on disk (the state
 * import falls back to when T's commit was torn).
 */
#ifndef TARN_POOL_ALLOC_H
#define TARN_POOL_ALLOC_H

#include <stdint.h>

#include "util/avl.h"

typedef struct extent {
	avl_node_t node;
	uint64_t start, len;
} extent_t;

/* One alloc/free event, as logged in the space log. */
typedef struct space_rec {
	uint64_t txg;
	uint64_t offset; /* bytes */
	uint64_t len;    /* bytes, SECTOR multiple */
	uint16_t vdev;
	uint8_t is_free;
} space_rec_t;

typedef struct space_recs {
	space_rec_t *r;
	size_t n, cap;
	size_t sealed; /* records [0, sealed) are already written out: never coalesce into them */
} space_recs_t;

typedef struct metaslab_vdev {
	avl_tree_t free;   /* extent_t by start */
	uint64_t lo, hi;   /* allocatable range */
	uint64_t cursor;   /* next-fit position */
	uint64_t free_bytes;
	uint64_t nextents;
} ms_vdev_t;


typedef struct allocator {
	int nvdevs;
	ms_vdev_t *v;
	int rotor;          /* vdev currently filled */
	uint64_t rotor_bytes;
	space_recs_t pending; /* this txg's allocations and frees, for the space log */
	space_recs_t defer;   /* freed, not yet reusable (txg = txg of the free) */
} allocator_t;

/* Set up an allocator with every vdev's [lo, hi) range free. */
int alloc_init(allocator_t *a, int nvdevs, const uint64_t *lo, const uint64_t *hi);
void alloc_fini(allocator_t *a);

/* Allocate len bytes (SECTOR multiple) in txg; -ENOSPC ("out of space") if nothing fits. */
int alloc_take(allocator_t *a, uint64_t len, uint64_t txg, uint16_t *vdev, uint64_t *off);
/* Free an extent in txg: logged now, reusable once txg commits. -EIO if any of it is already
 * free (a double free: the caller's state is corrupt). */
int alloc_free(allocator_t *a, uint16_t vdev, uint64_t off, uint64_t len, uint64_t txg);
/* After txg `committed` is durable: release deferred frees of txg <= committed; clear the
 * pending log records (they are on disk now). */
void alloc_committed(allocator_t *a, uint64_t committed);

/* Replay one logged record at import time (every logged txg is committed, so frees apply at
 * once). -EINVAL if the record contradicts the map. */
int alloc_replay(allocator_t *a, const space_rec_t *r, uint64_t cur_txg);

uint64_t alloc_free_bytes(const allocator_t *a);
/* Bytes freed but not yet reusable (waiting for their txg to age). */
uint64_t alloc_deferred_bytes(const allocator_t *a);
uint64_t alloc_total_bytes(const allocator_t *a);
/* Number of free extents in all vdevs (condense heuristics). */
uint64_t alloc_extent_count(const allocator_t *a);
/* Build the compact record list describing the current map: one alloc record per allocated
 * extent plus every deferred free. Caller frees out->r. */
int alloc_snapshot_records(const allocator_t *a, uint64_t txg, space_recs_t *out);

int recs_push(space_recs_t *rs, const space_rec_t *r);

#endif
