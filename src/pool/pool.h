/* pool/pool.h — a pool: a set of vdevs (striped), its labels, the uberblock ring, the space
 * allocator and its persistent space log, and block I/O with compression and checksums.
 *
 * Transactions: blocks written now are born in the *open txg* (pool_open_txg()). Nothing is
 * visible after a crash until pool_commit() has written the space log, flushed, written the
 * uberblock for that txg into every vdev's ring and flushed again. Import picks the newest
 * uberblock whose checksum verifies and whose space log and catalog load; a damaged newest one
 * falls back to the one before it (only over corrupt metadata, never over a read error).
 *
 * A pool is opened by one process at a time (exclusive flock on every vdev).
 */
#ifndef TARN_POOL_POOL_H
#define TARN_POOL_POOL_H

#include <stdint.h>

#include "pool/alloc.h"
#include "pool/bp.h"
#include "pool/vdev.h"

#define POOL_VERSION 1
#define POOL_MAX_VDEVS 64
#define POOL_NAME_MAX 256

enum pool_state { POOL_STATE_ACTIVE = 0, POOL_STATE_EXPORTED = 1, POOL_STATE_DESTROYED = 2 };

/* What a vdev's label says (decoded). */
typedef struct pool_label {
	uint32_t version;
	uint32_t state;
	uint64_t pool_guid, vdev_guid;
	uint32_t vdev_index, nvdevs;
	uint64_t vdev_size;
	uint64_t create_time;
	char name[POOL_NAME_MAX];
	uint64_t vdev_guids[POOL_MAX_VDEVS];
} pool_label_t;

typedef struct pool {
	char name[POOL_NAME_MAX];
	uint64_t guid;
	uint64_t create_time;
	int nvdevs;
	vdev_t vdevs[POOL_MAX_VDEVS];
	uint64_t txg;        /* last committed txg */
	uint64_t ub_time;    /* timestamp of that commit */
	bp_t catalog;        /* root of the dataset catalog as of txg */
	bp_t spacelog;       /* newest block of the space-log chain */
	uint64_t log_entries;
	bp_t *log_bps;       /* every block of the space-log chain (for condensing) */
	size_t log_nbps, log_cap;
	allocator_t alloc;
	uint64_t cksum_errors, io_errors; /* pool-wide counters since import */
	int rewound;         /* import fell back to an older uberblock... */
	uint64_t rewound_to; /* ...the txg of the state it loaded */
	int suspended;       /* a write or commit failed: nothing more may be committed */
	int readonly;        /* opened with POOL_IMPORT_READONLY */
	uint64_t dirty_bytes_written; /* bytes written in the open txg (throttling hints) */
} pool_t;

/* Create a pool on the given files/devices (each >= 64 MiB, not part of an active pool unless
 * force). Writes labels and an empty txg-1 state. On success *out is open and owned by the
 * caller (pool_close). Nothing is written if a check fails. */
int pool_create(const char *name, int nvdevs, char *const *paths, int force, pool_t **out);

/* Read and verify the label of one device. -EINVAL with a reason if it holds no tarn pool. */
int pool_read_label(const char *path, pool_label_t *lbl);

/* FORCE: import a pool whose labels say active; DESTROYED: import a destroyed pool; OPEN: open
 * a pool this host already has imported (labels active, left unchanged). */
enum { POOL_IMPORT_FORCE = 1, POOL_IMPORT_DESTROYED = 2, POOL_IMPORT_OPEN = 4, POOL_IMPORT_READONLY = 8 };
/* READONLY (with OPEN): read the last committed state without taking the pool's lock and
 * without writing anything (no label update, no rewind cleanup); nothing can be committed.
 * Lets listings and sends run beside the process that owns the pool: blocks of snapshots
 * never change, and every block read is verified, so a reader racing a writer sees either
 * the state it opened or a checksum error, never wrong data. */
/* Open a pool from its devices (all of them, any order). Refuses an active pool unless
 * POOL_IMPORT_FORCE, a destroyed one unless POOL_IMPORT_DESTROYED. Marks labels active. */
int pool_import(int nvdevs, char *const *paths, int flags, pool_t **out);

/* Close (after the caller committed what it wanted). Labels stay active (pool still imported). */
void pool_close(pool_t *p);
/* Mark the labels exported (or destroyed) and close. */
int pool_export(pool_t *p, enum pool_state state);

static inline uint64_t pool_open_txg(const pool_t *p) { return p->txg + 1; }

/* Compress (if comp says so and it saves >= 1/8), checksum, allocate and write one block
 * born in the open txg; fills *bp. -ENOSPC when the pool is full. */
int pool_write_block(pool_t *p, enum bp_type type, int level, const void *data, uint32_t lsize,
		     int comp, int cksum_type, bp_t *bp);
/* A block write in phases, so that a commit can do the CPU work and the I/O of its blocks
 * without the owner's lock (tarnd's background commits; see dsl_commit_ex):
 *   pool_wblk_prepare  compress, checksum, pad: touches no pool state (any thread);
 *   pool_wblks_commit  with the lock held: allocate, then write (letting the lock go if
 *                      allowed) and account; after it each w->bp is the block's pointer.
 * pool_write_block is both for one block, written through the vdev's write queue.
 * pool_wblk_free frees the prepared copy (any time after the write). */
typedef struct pool_wblk {
	bp_t bp;
	uint8_t *out;        /* bytes to write (bp_asize), NULL when data is written as is */
	const uint8_t *data; /* the caller's data, written as is (uncompressed, whole sectors) */
} pool_wblk_t;
int pool_wblk_prepare(enum bp_type type, int level, const void *data, uint32_t lsize, int comp, int cksum_type,
		      uint64_t birth, pool_wblk_t *w);
void pool_wblk_free(pool_wblk_t *w);
/* The owner's lock, for work that lets it go (NULL: never let go). */
typedef struct pool_unlock {
	void (*unlock)(void *arg);
	void (*lock)(void *arg);
	void *arg;
} pool_unlock_t;
void pool_unlock(const pool_unlock_t *ul);
void pool_relock(const pool_unlock_t *ul);
/* Allocate, write and account n prepared blocks, with the lock held on entry and on return.
 * With ul (and no write fault injection, whose buffered writes live in vdev state), the lock
 * is let go while the blocks are written with positional writes that touch no vdev state
 * (nobody else may write the pool meanwhile); durable: fdatasync them then too. A failure
 * suspends the pool. */
int pool_wblks_commit(pool_t *p, pool_wblk_t *const *w, size_t n, const pool_unlock_t *ul, int durable);

/* Read one block into buf (bp->lsize bytes), verifying its checksum. A mismatch counts a
 * CKSUM error on the vdev and returns -EIO; bad bytes are never returned. */
int pool_read_block(pool_t *p, const bp_t *bp, void *buf);
/* As pool_read_block, for a thread that does not hold the pool's owner lock (tarnd's NBD reads
 * overlap this way): bp must have been looked up under the lock, and the pool must stay open
 * (the caller is counted as a user). Changes no pool state. Returns -EAGAIN when the block does
 * not verify (it may have been freed and reused since the lookup, or be damaged) or cannot be
 * read this way: the caller then reads again under the lock, which counts and reports errors. */
int pool_read_block_unlocked(pool_t *p, const bp_t *bp, void *buf);
/* As pool_read_block_unlocked for n blocks (bps[i] into dsts[i]): blocks stored back to back
 * are read with one system call (up to 1 MiB). ok[i] = 1 where block i was read and verified,
 * 0 where the caller must read it again under the lock. */
void pool_read_blocks_unlocked(pool_t *p, const bp_t *bps, void *const *dsts, int *ok, size_t n);
/* Read the stored (possibly compressed) bytes of a block, verified: bp->psize bytes into buf. */
int pool_read_stored(pool_t *p, const bp_t *bp, void *buf);
/* Read the stored bytes and verify the checksum only (scrub). */
int pool_verify_block(pool_t *p, const bp_t *bp);
/* Free a block (deferred: reusable once the open txg commits). Holes are no-ops. */
int pool_free_block(pool_t *p, const bp_t *bp);

/* Commit the open txg with `catalog` as the new catalog root. After any failed block write or
 * commit the pool is suspended: the on-disk state stays the last committed one, and this
 * process must close and re-import the pool to go on (-EIO "pool I/O is suspended"). */
int pool_commit(pool_t *p, const bp_t *catalog);

uint64_t pool_size(const pool_t *p);
uint64_t pool_allocated(const pool_t *p);
uint64_t pool_free(const pool_t *p);

#endif
