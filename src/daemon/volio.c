/* daemon/volio.c — volume I/O for tarnd's block exports (NBD and iSCSI) that lets requests
 * overlap at the disk although the engine is single-threaded (see daemon.h). */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "vol/vol.h"

/* A block of a READ that is read without the pool lock: where it goes. */
struct pending {
	uint64_t blk;
	bp_t bp;
	uint8_t *dst;
	int read, retry;
};

/* Read the pending blocks (in block order) without the lock; blocks stored back to back go
 * in one system call. Sets read where a block was read and verified. */
static void read_pending(pool_t *pool, struct pending *pd, size_t np)
{
	bp_t *bps = malloc(np * sizeof(*bps));
	void **dsts = malloc(np * sizeof(*dsts));
	int *ok = malloc(np * sizeof(*ok));
	if (bps && dsts && ok) {
		for (size_t i = 0; i < np; i++)
			bps[i] = pd[i].bp, dsts[i] = pd[i].dst;
		pool_read_blocks_unlocked(pool, bps, dsts, ok, np);
		for (size_t i = 0; i < np; i++)
			pd[i].read = ok[i];
	} else {
		for (size_t i = 0; i < np; i++)
			pd[i].read = pool_read_block_unlocked(pool, &pd[i].bp, pd[i].dst) == 0;
	}
	free(bps);
	free(dsts);
	free(ok);
}

/* The block pointers are looked up under the pool lock, dirty data and holes copied there,
 * and the stored blocks read and verified without it, so reads of several requests (and of
 * other connections) overlap at the disk. A block that no longer verifies (freed and reused
 * meanwhile) is read again under the lock. */
int daemon_vol_read(daemon_pool_t *dp, vol_t **vp, daemon_relock_fn relock, void *ctx, uint64_t off, uint32_t len,
		    void *buf)
{
	vol_t *v = *vp;
	uint64_t bs = v->tree.phys.dblksz, end = off + len;
	uint64_t first = off / bs, last = (end - 1) / bs, n = len ? last - first + 1 : 0;
	struct pending *pd = n ? calloc(n, sizeof(*pd)) : NULL;
	uint8_t *edge = n ? malloc(2 * bs) : NULL; /* partial first and last blocks */
	if (n && (!pd || !edge)) {
		free(pd);
		free(edge);
		return vol_read(v, off, len, buf); /* the plain way */
	}
	size_t np = 0;
	int rc = 0;
	for (uint64_t blk = first; rc == 0 && blk <= last && len; blk++) {
		uint64_t bstart = blk * bs;
		int whole = bstart >= off && bstart + bs <= end;
		uint8_t *dst = whole ? (uint8_t *)buf + (bstart - off) : edge + (blk == first ? 0 : bs);
		bp_t bp;
		int k = tree_peek(&v->tree, blk, dst, &bp);
		if (k < 0)
			rc = k;
		else if (k == 1)
			pd[np++] = (struct pending){ .blk = blk, .bp = bp, .dst = dst };
	}
	pool_t *pool = dp->pool;
	uint64_t ch;
	int unlocked = rc == 0 && np > 0 && daemon_pool_begin(dp, 0, &ch) == 0;
	if (unlocked)
		daemon_pool_unlock(dp);
	int retries = 0;
	if (unlocked)
		read_pending(pool, pd, np);
	for (size_t i = 0; i < np; i++) {
		if (!unlocked || !pd[i].read) {
			pd[i].retry = 1;
			retries++;
		}
	}
	if (unlocked) {
		pthread_mutex_lock(&dp->lock);
		daemon_pool_end(dp, 0, ch);
		if (retries && relock(ctx, &v) < 0)
			rc = -ESHUTDOWN;
	}
	for (size_t i = 0; rc == 0 && i < np; i++) /* under the lock, as any read: errors count */
		if (pd[i].retry)
			rc = tree_read(&v->tree, pd[i].blk, pd[i].dst);
	if (rc == 0) { /* the partial edges */
		if (off % bs)
			memcpy(buf, edge + off % bs, (size_t)(first == last ? len : bs - off % bs));
		if (last != first && end % bs)
			memcpy((uint8_t *)buf + (last * bs - off), edge + bs, (size_t)(end % bs));
		else if (first == last && off % bs == 0 && len < bs)
			memcpy(buf, edge, len);
	}
	if (rc < 0 && rc != -ESHUTDOWN)
		rc = terr_prefix(rc, "read error at offset %llu", (unsigned long long)off);
	*vp = v;
	free(pd);
	free(edge);
	return rc;
}

/* The partial blocks at the ends of a write must be read first (read-modify-write). Read them
 * without the pool lock, as be_read does, and install them as the blocks' dirty contents, so
 * that concurrent writes overlap their reads at the disk instead of queueing on the lock. */
void daemon_vol_prefetch(daemon_pool_t *dp, vol_t **v, daemon_relock_fn relock, void *ctx, uint64_t off,
			 uint32_t len)
{
	uint64_t bs = (*v)->tree.phys.dblksz, end = off + len;
	uint64_t blks[2];
	int n = 0;
	if (off % bs)
		blks[n++] = off / bs;
	if (end % bs && (n == 0 || end / bs != blks[0]))
		blks[n++] = end / bs;
	if (n == 0)
		return;
	uint8_t *tmp = malloc(2 * bs);
	if (!tmp)
		return;
	bp_t bps[2];
	int want[2] = { 0, 0 }, any = 0;
	for (int i = 0; i < n; i++) {
		int k = tree_peek(&(*v)->tree, blks[i], tmp + i * bs, &bps[i]);
		want[i] = k == 1; /* stored and not dirty: worth reading outside the lock */
		any |= want[i];
	}
	uint64_t ch;
	if (!any || daemon_pool_begin(dp, 0, &ch) < 0) {
		free(tmp);
		return;
	}
	pool_t *pool = dp->pool;
	daemon_pool_unlock(dp);
	for (int i = 0; i < n; i++)
		if (want[i] && pool_read_block_unlocked(pool, &bps[i], tmp + i * bs) < 0)
			want[i] = 0;
	pthread_mutex_lock(&dp->lock);
	daemon_pool_end(dp, 0, ch);
	if (relock(ctx, v) == 0) /* the volume may have been looked up again */
		for (int i = 0; i < n; i++)
			if (want[i])
				tree_dirty_from(&(*v)->tree, blks[i], &bps[i], tmp + i * bs);
	free(tmp);
}

