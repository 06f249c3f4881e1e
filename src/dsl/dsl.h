/* dsl/dsl.h — datasets: the catalog of filesystems (containers), volumes, snapshots and their
 * properties; snapshots, clones, rollback and destroy with ZFS deadlist semantics; space
 * accounting (used, usedbysnapshots, usedbydataset, usedbyrefreservation, usedbychildren).
 *
 * All changes are made in memory and become durable together at dsl_commit(), which syncs
 * dirty volume data, writes the catalog and commits the pool's txg. A failed operation changes
 * nothing (checks come first). Names are full ZFS names ("pool/a/vol", "pool/a/vol@snap").
 */
#ifndef TARN_DSL_DSL_H
#define TARN_DSL_DSL_H

#include <stdint.h>

#include "dsl/bobj.h"
#include "pool/pool.h"
#include "tree/tree.h"
#include "vol/vol.h"

enum ds_type { DS_FILESYSTEM = 1, DS_VOLUME = 2, DS_SNAPSHOT = 3, DS_BOOKMARK = 4 };

/* A user hold on a snapshot (zfs hold): the snapshot cannot be destroyed while held. */
typedef struct dsl_hold {
	char *tag;
	uint64_t time;
} dsl_hold_t;
enum prop_source { PROP_LOCAL = 1, PROP_RECEIVED = 2 };

/* Dataset flags */
#define DSF_INCONSISTENT 1u /* being received (or a kept partial receive): not usable */

#define DS_NAME_MAX 256
#define PROP_NAME_MAX 256
#define PROP_VALUE_MAX 8192

typedef struct dsl_prop {
	char *name, *value;
	uint8_t source;
} dsl_prop_t;

/* One deadlist entry: blocks killed from a dataset's head that a snapshot still holds, all of
 * whose "first containing snapshot" is the snapshot of txg `key`. Stored as a chain of blocks. */
typedef struct dl_entry {
	uint64_t key;
	uint64_t bytes, count;
	uint64_t lbytes;     /* logical (uncompressed) bytes */
	bp_t chain;          /* newest chain block (older ones linked from it) */
	bp_t *pend;          /* killed this txg, not yet written */
	size_t npend, cappend;
} dl_entry_t;

typedef struct deadlist {
	dl_entry_t *e;
	size_t n, cap;
} deadlist_t;

typedef struct dsl_ds {
	uint64_t id;
	uint64_t parent; /* heads: the containing dataset (0 for the pool's root); snapshots and
			    bookmarks: the head */
	char name[DS_NAME_MAX]; /* last component (snapshot/bookmark: the part after '@'/'#') */
	uint8_t type;
	uint64_t guid, createtxg, creation;
	tree_phys_t tree;          /* volumes and their snapshots */
	uint64_t volsize, volblocksize;
	uint64_t referenced;       /* bytes of blocks reachable from this tree (allocated) */
	uint64_t ref_origin;       /* of those, born at or before the origin (clones) */
	uint64_t lreferenced;      /* the same two, in logical (uncompressed) bytes */
	uint64_t lref_origin;
	uint64_t unique;           /* heads: bytes born after the latest snapshot */
	uint64_t origin;           /* heads: origin snapshot id (clones), else 0 */
	uint32_t flags;            /* DSF_* */
	deadlist_t dl;
	dsl_prop_t *props;
	size_t nprops;
	dsl_hold_t *holds;         /* snapshots only */
	size_t nholds;
	/* runtime */
	vol_t *vol;                /* open volume (heads only), NULL until used */
	int dirty;
	int busy;                  /* users in this process (NBD exports, running sends and receives):
				    * destroy, rename, rollback and promote refuse with EBUSY */
} dsl_ds_t;

/* Mark ds in use (+1) or no longer (-1); see dsl_ds_t.busy. */
static inline void dsl_busy(dsl_ds_t *ds, int delta) { ds->busy += delta; }

typedef struct dsl {
	pool_t *pool;
	dsl_ds_t **ds; /* every dataset and snapshot, in no particular order */
	size_t nds, capds;
	uint64_t next_id;
	dsl_prop_t *pprops; /* pool properties (zpool set) */
	size_t npprops;
	bobj_t cat;           /* where the catalog lives */
	bobj_t hist;          /* pool history (zpool history): text lines */
	char *hist_pend;      /* history lines to append at the next commit */
	size_t hist_pend_len;
	uint64_t changes;     /* bumped by every structural change (create, destroy, snapshot,
			       * properties...; not volume writes): tarnd tells from it whether a
			       * failed command left anything to throw away */
	uint64_t committed_changes; /* `changes` at the last successful commit */
	int abandoned;        /* set by tarnd after such a failure: dsl_commit refuses until the
			       * pool is reloaded */
} dsl_t;

/* Open the datasets of an imported pool (reads and verifies the catalog). A new pool (empty
 * catalog) gets its root dataset. The dsl borrows the pool; dsl_close does not close it. */
int dsl_open(pool_t *p, dsl_t **out);
/* Drop everything not committed. */
void dsl_close(dsl_t *d);
/* Changes made by the calling thread (any dsl): tarnd tells from it whether a failed command
 * changed anything itself. */
extern __thread uint64_t dsl_thread_changes;
static inline void dsl_changed(dsl_t *d)
{
	d->changes++;
	dsl_thread_changes++;
}

/* Bytes of volume data written since the last commit. */
uint64_t dsl_dirty_bytes(const dsl_t *d);
/* Sync dirty volumes, write the catalog, commit the txg. */
int dsl_commit(dsl_t *d);
/* The owner's lock, for a commit that lets it go while it compresses, checksums and writes the
 * data blocks (tarnd: block I/O goes on meanwhile, new writes land in the next txg; see
 * tree_freeze). unlock/lock release and retake it. While they are released the caller's other
 * threads may only read and write volume data (vol_read/vol_write/vol_zero and tree peeks):
 * nothing else of the dsl or pool, and no other commit. */
typedef pool_unlock_t dsl_unlock_t;
/* dsl_commit, with the lock let go around the data block work when ul is not NULL (and the
 * pool is not under write fault injection). On failure frozen blocks are dirty again. */
int dsl_commit_ex(dsl_t *d, const dsl_unlock_t *ul);

/* Look up by full name; NULL (with an OpenZFS-style message) if missing. */
dsl_ds_t *dsl_lookup(dsl_t *d, const char *name);
void dsl_fullname(const dsl_t *d, const dsl_ds_t *ds, char *buf, size_t len);
dsl_ds_t *dsl_by_id(const dsl_t *d, uint64_t id);
dsl_ds_t *dsl_root(const dsl_t *d);
/* Children (heads whose parent is ds) and snapshots of a head, sorted (by name / by txg).
 * Caller frees the array. */
size_t dsl_children(const dsl_t *d, const dsl_ds_t *ds, dsl_ds_t ***out);
size_t dsl_snapshots(const dsl_t *d, const dsl_ds_t *ds, dsl_ds_t ***out);
size_t dsl_bookmarks(const dsl_t *d, const dsl_ds_t *ds, dsl_ds_t ***out);
static inline int dsl_is_head(const dsl_ds_t *ds) { return ds->type == DS_FILESYSTEM || ds->type == DS_VOLUME; }

/* Create a filesystem (container) or, if volsize > 0, a volume. props are name=value pairs set
 * locally (already validated by the caller with dsl_prop_validate). A thick volume gets
 * refreservation = dsl_vol_refreservation() unless sparse. */
int dsl_create(dsl_t *d, const char *name, uint64_t volsize, uint64_t volblocksize, int sparse,
	       char *const *props, int nprops);
/* Destroy one dataset (no children, no snapshots) or one snapshot (no clones). */
int dsl_destroy(dsl_t *d, dsl_ds_t *ds);
/* Destroy a dataset with its children and snapshots (newest first); stops at the first error
 * (e.g. a snapshot with clones elsewhere: -EBUSY), leaving what is done in memory. */
int dsl_destroy_recursive(dsl_t *d, dsl_ds_t *ds);
/* Snapshot several heads atomically (one txg): names are full "ds@snap". All or nothing; on
 * failure *failed (if not NULL) is the index of the name at fault (-1 if none in particular). */
int dsl_snapshot(dsl_t *d, char *const *names, int n, int *failed);
/* The same with given guids and creation times (receive keeps the sender's), either may be
 * NULL; and without the final commit when nocommit (the caller commits). */
int dsl_snapshot_ex(dsl_t *d, char *const *names, int n, const uint64_t *guids, const uint64_t *creations,
		    int nocommit, int *failed);
/* Receive support. A partial receive is a hidden head: the target itself flagged
 * DSF_INCONSISTENT (a full stream into a new dataset), or a clone of the target's snapshot
 * named "<target>%recv" (an incremental stream, or a full one replacing the target with -F).
 * Finishing an incremental moves the clone's
 * blocks into the target's head (the target must be unchanged since that snapshot) and
 * removes the clone, without copying data. */
int dsl_recv_swap(dsl_t *d, dsl_ds_t *target, dsl_ds_t *partial);
/* Create a head named `name` exactly as asked (no name checks: used for '%recv' partials),
 * as a clone of snap if snap is not NULL, else an empty volume/filesystem. */
int dsl_create_hidden(dsl_t *d, const char *name, dsl_ds_t *snap, uint64_t volsize, uint64_t volblocksize,
		      dsl_ds_t **out);
/* Roll a head back to its latest snapshot (the caller destroys newer ones first). */
int dsl_rollback(dsl_t *d, dsl_ds_t *snap);
/* Clone a snapshot into a new head. */
int dsl_clone(dsl_t *d, dsl_ds_t *snap, const char *newname, char *const *props, int nprops);

/* Bookmark a snapshot: "pool/ds#name" keeps the snapshot's guid, txg and creation time. */
int dsl_bookmark(dsl_t *d, dsl_ds_t *snap, const char *bookname);
/* Add/remove a user hold (tag) on a snapshot; -EEXIST / -ESRCH as zfs reports them. */
int dsl_hold(dsl_t *d, dsl_ds_t *snap, const char *tag);
int dsl_release(dsl_t *d, dsl_ds_t *snap, const char *tag);
/* Rename a head (possibly to another parent in the same pool), a snapshot or a bookmark
 * (same dataset). newname is a full name. */
int dsl_rename(dsl_t *d, dsl_ds_t *ds, const char *newname);

/* Promote a clone: the origin snapshot and the ones before it move to the clone, and the
 * former head becomes a clone of that snapshot (as `zfs promote`). Blocks are not copied. */
int dsl_promote(dsl_t *d, dsl_ds_t *clone);

/* Open the volume of a head (cached in ds->vol) or a snapshot (caller closes with dsl_vol_close). */
int dsl_vol_open(dsl_t *d, dsl_ds_t *ds, vol_t **out);
void dsl_vol_close(dsl_ds_t *ds, vol_t *v);
/* Change a volume's size (shrinking frees the blocks past the end). */
int dsl_set_volsize(dsl_t *d, dsl_ds_t *ds, uint64_t size);
/* Before buffering `bytes` more dirty data into ds: -ENOSPC if it cannot fit. Commits a txg
 * when the dirty data of the open txg exceeds the dirty limit. */
int dsl_write_throttle(dsl_t *d, dsl_ds_t *ds, uint64_t bytes);
/* The throttle's parts, for a caller that commits by itself (tarnd): the dirty limit
 * (TARN_DIRTY_MAX, default 64 MiB), and -ENOSPC if `bytes` more dirty data cannot fit in ds. */
uint64_t dsl_dirty_max(void);
int dsl_write_room(dsl_t *d, dsl_ds_t *ds, uint64_t bytes);

/* Properties. get: the effective value and where it comes from (source_ds = the dataset it is
 * set on; NULL means the default). Returns 0, or -ENOENT if unset anywhere and no default. */
const char *dsl_prop_get(const dsl_t *d, const dsl_ds_t *ds, const char *name, const dsl_ds_t **source_ds,
			 uint8_t *source);
/* The locally set value (or received, per source) or NULL. */
const dsl_prop_t *dsl_prop_find(const dsl_ds_t *ds, const char *name);
int dsl_prop_set(dsl_t *d, dsl_ds_t *ds, const char *name, const char *value, uint8_t source);
int dsl_prop_inherit(dsl_t *d, dsl_ds_t *ds, const char *name);
/* tarn's own bookkeeping properties (names starting with '%', never shown): set without
 * validation / remove (source 0: any). */
int dsl_prop_set_internal(dsl_ds_t *ds, const char *name, const char *value);
void dsl_prop_remove(dsl_ds_t *ds, const char *name, int source);
/* Is the dataset read-only (a snapshot, or readonly=on here or inherited)? */
int dsl_readonly(const dsl_t *d, const dsl_ds_t *ds);
/* Validate a native property value for a dataset type; user properties (with ':') pass. */
int dsl_prop_validate(const char *name, const char *value, int type);

/* Space accounting (bytes). */
typedef struct dsl_space {
	uint64_t used, usedsnap, usedds, usedrefreserv, usedchild, avail, referenced, refreservation;
	uint64_t written;
	uint64_t logicalused, logicalreferenced; /* uncompressed bytes */
	uint64_t compressratio, refcompressratio; /* x100 (100 = 1.00x) */
	uint64_t usedphys; /* used without any refreservation (what compressratio compares to) */
} dsl_space_t;
/* Bytes referenced by ds that were born after snapshot `since` (written@since); -EINVAL if
 * since is not an earlier snapshot of the same dataset (or its origin). */
int dsl_written_since(dsl_t *d, dsl_ds_t *ds, dsl_ds_t *since, uint64_t *out);
void dsl_space(const dsl_t *d, const dsl_ds_t *ds, dsl_space_t *s);
/* OpenZFS's thick-volume refreservation: volsize plus indirect-block overhead. */
uint64_t dsl_vol_refreservation(uint64_t volsize, uint64_t volblocksize);
uint64_t dsl_pool_avail(const dsl_t *d);

/* Visit every stored block (for scrub): data of all heads and snapshots (each block once, from
 * the oldest tree holding it), deadlist chains, the catalog and history, the space log.
 * Unreadable indirect or chain blocks are counted in *errors and skipped; the walk goes on. */
int dsl_walk_all(dsl_t *d, int (*cb)(void *arg, const bp_t *bp), void *arg, uint64_t *errors);

/* Pool history: record a line (e.g. "zfs create -V 1G p/v") to be written with the next
 * commit, prefixed with the date; read returns the whole text (caller frees). The history
 * keeps the newest HIST_MAX bytes. */
#define HIST_MAX (1u << 20)
int dsl_history_add(dsl_t *d, const char *line);
int dsl_history_read(dsl_t *d, char **out);

/* Pool-level records kept in the catalog (scan results, error counters, zpool set values). */
const char *dsl_pprop_get(const dsl_t *d, const char *name);
int dsl_pprop_set(dsl_t *d, const char *name, const char *value);
/* Read and verify every live block; record the result for `zpool status` (commit after). */
int dsl_scrub(dsl_t *d, uint64_t *examined, uint64_t *errors);
/* Fold the pool's in-memory error counters into the persistent ones; returns 1 if anything
 * changed (the caller commits), 0 if not, or a negative errno. */
int dsl_record_errors(dsl_t *d);

#endif
