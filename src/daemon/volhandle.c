/* daemon/volhandle.c — what an NBD export and an iSCSI LU share: a handle on a volume or
 * snapshot by name that survives pool reloads, marks its dataset busy, and does the block I/O
 * (read, write, zero, flush) under the pool's locking rules (daemon.h). */
#include "daemon/daemon.h"

#include <errno.h>

#include "util/err.h"

void daemon_vh_release(daemon_vh_t *h)
{
	if (h->svol) {
		dsl_vol_close(h->ds, h->svol);
		h->svol = NULL;
	}
	if (h->ds && h->gen == h->dp->gen)
		dsl_busy(h->ds, -1);
	h->ds = NULL;
}

void daemon_vh_close(daemon_vh_t *h)
{
	if (daemon_pool_lock(h->dp) == 0) {
		daemon_vh_release(h);
		daemon_pool_unlock(h->dp);
	}
	daemon_pool_put(h->dp);
	h->dp = NULL;
}

/* With dp locked: make h->ds current (after a reload, look it up again). -ESHUTDOWN when the
 * dataset went away or is no longer served. */
static int resolve(daemon_vh_t *h)
{
	if (h->gone)
		return -ESHUTDOWN;
	if (h->ds && h->gen == h->dp->gen)
		return 0;
	h->ds = NULL; /* gone with its dsl, busy mark included */
	h->svol = NULL;
	dsl_ds_t *ds = h->find(h->dp->dsl, h->name);
	if (!ds) {
		h->gone = 1;
		return -ESHUTDOWN;
	}
	h->gen = h->dp->gen;
	h->ds = ds;
	dsl_busy(ds, 1);
	return 0;
}

int daemon_vh_current(daemon_vh_t *h, vol_t **v)
{
	if (h->dp->evicted || !h->dp->pool) {
		h->gone = 1;
		return -ESHUTDOWN;
	}
	TRY(resolve(h));
	if (!v)
		return 0;
	if (h->ds->type == DS_SNAPSHOT) {
		if (!h->svol)
			TRY(dsl_vol_open(h->dp->dsl, h->ds, &h->svol));
		*v = h->svol;
		return 0;
	}
	return dsl_vol_open(h->dp->dsl, h->ds, v);
}

/* For daemon_vol_read/prefetch and the throttle: the lock was let go meanwhile. */
static int relock(void *ctx, vol_t **v) { return daemon_vh_current(ctx, v); }

int daemon_vh_lock(daemon_vh_t *h, vol_t **v)
{
	if (daemon_pool_lock(h->dp) < 0) {
		h->gone = 1;
		return -ESHUTDOWN;
	}
	int rc = daemon_vh_current(h, v);
	if (rc < 0)
		daemon_pool_unlock(h->dp);
	return rc;
}

static int errno_of(int rc) { return rc < 0 ? rc : 0; }

int daemon_vh_read(daemon_vh_t *h, uint64_t off, uint32_t len, void *buf)
{
	vol_t *v;
	TRY(daemon_vh_lock(h, &v));
	int rc = daemon_vol_read(h->dp, &v, relock, h, off, len, buf);
	daemon_pool_unlock(h->dp);
	return errno_of(rc);
}

/* With h locked: everything written so far made durable (-EIO on failure). */
static int commit_now(daemon_vh_t *h) { return daemon_pool_sync(h->dp) < 0 ? -EIO : 0; }

/* Lock h for a change of its volume: -EPERM when it is (or became) read-only. */
static int lock_for_write(daemon_vh_t *h, vol_t **v)
{
	if (h->readonly)
		return -EPERM;
	TRY(daemon_vh_lock(h, v));
	if (h->now_readonly(h)) {
		daemon_pool_unlock(h->dp);
		return -EPERM;
	}
	return 0;
}

int daemon_vh_write(daemon_vh_t *h, uint64_t off, uint32_t len, const void *buf, int fua)
{
	vol_t *v;
	TRY(lock_for_write(h, &v));
	int rc = daemon_write_throttle(h->dp, len, relock, h, &v);
	if (rc == 0)
		rc = dsl_write_room(h->dp->dsl, h->ds, len);
	if (rc == 0 && len)
		daemon_vol_prefetch(h->dp, &v, relock, h, off, len);
	if (rc == 0 && (h->gone || !h->ds)) /* went away while the partial blocks were read */
		rc = -ESHUTDOWN;
	if (rc == 0)
		rc = vol_write(v, off, len, buf);
	if (rc == 0 && fua)
		rc = commit_now(h);
	daemon_pool_unlock(h->dp);
	return errno_of(rc);
}

int daemon_vh_zero(daemon_vh_t *h, uint64_t off, uint64_t len, int trim_only, int fua)
{
	vol_t *v;
	TRY(lock_for_write(h, &v));
	uint64_t bs = v->tree.phys.dblksz;
	uint64_t a = (off + bs - 1) / bs * bs, b = (off + len) / bs * bs;
	int rc = 0;
	if (trim_only) {
		if (a < b)
			rc = vol_zero(v, a, b - a);
	} else {
		rc = daemon_write_throttle(h->dp, 2 * bs, relock, h, &v); /* at most two partial blocks */
		if (rc == 0)
			rc = dsl_write_room(h->dp->dsl, h->ds, 2 * bs);
		if (rc == 0)
			rc = vol_zero(v, off, len);
	}
	if (rc == 0 && fua)
		rc = commit_now(h);
	daemon_pool_unlock(h->dp);
	return errno_of(rc);
}

int daemon_vh_flush(daemon_vh_t *h)
{
	TRY(daemon_vh_lock(h, NULL));
	int rc = commit_now(h);
	daemon_pool_unlock(h->dp);
	return rc;
}
