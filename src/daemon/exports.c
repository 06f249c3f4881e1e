/* daemon/exports.c — volumes and snapshots as NBD exports: the backend nbd/ calls into.
 *
 * A volume is exported when its (inherited) `sharenbd` is on or ro; the export name is the
 * dataset name; its snapshots are exported read-only as pool/vol@snap. An open export marks
 * its dataset busy (no destroy, rename, rollback or receive under a client) and keeps a
 * pointer to it, re-resolved by name when the pool was reloaded. After every command tarnd
 * re-checks the open exports: clients of one that went away are disconnected.
 *
 * Meta contexts: base:allocation from the block tree (holes: HOLE|ZERO), and tarn:changed:SNAP
 * (flag 1: written since snapshot SNAP of the same volume, from block birth txgs). */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nbd/nbd.h"
#include "util/err.h"
#include "vol/vol.h"

#define CHANGED_NS "tarn:changed:"
#define NBD_STATE_HOLE 1u
#define NBD_STATE_ZERO 2u
#define TARN_STATE_CHANGED 1u

typedef struct export {
	char name[DS_NAME_MAX * 2];
	daemon_pool_t *dp;  /* referenced */
	uint64_t gen;       /* dp->gen that ds and svol belong to */
	dsl_ds_t *ds;       /* busy-marked while gen is current */
	vol_t *svol;        /* snapshots: a read-only handle of our own */
	int readonly;
	int gone;
	struct export *next;
} export_t;

static nbd_server_t *server;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static export_t *open_exports;

/* The effective sharenbd of a volume (or of a snapshot's volume): "on", "ro" or "off". */
static const char *share_mode(dsl_t *d, dsl_ds_t *ds)
{
	dsl_ds_t *head = ds->type == DS_SNAPSHOT ? dsl_by_id(d, ds->parent) : ds;
	if (!head || head->type != DS_VOLUME || (head->flags & DSF_INCONSISTENT))
		return "off";
	const char *v = dsl_prop_get(d, head, "sharenbd", NULL, NULL);
	return v ? v : "off";
}

static int exported(dsl_t *d, dsl_ds_t *ds)
{
	if (ds->type != DS_VOLUME && ds->type != DS_SNAPSHOT)
		return 0;
	if (ds->flags & DSF_INCONSISTENT)
		return 0;
	return strcmp(share_mode(d, ds), "off") != 0;
}

static void release_ds(export_t *e)
{
	if (e->svol) {
		dsl_vol_close(e->ds, e->svol);
		e->svol = NULL;
	}
	if (e->ds && e->gen == e->dp->gen)
		dsl_busy(e->ds, -1);
	e->ds = NULL;
}

/* With dp locked: make e->ds current (after a reload, look it up again). -ESHUTDOWN when the
 * export went away. */
static int resolve(export_t *e)
{
	if (e->gone)
		return -ESHUTDOWN;
	if (e->ds && e->gen == e->dp->gen)
		return 0;
	e->ds = NULL; /* its dsl is gone with its busy mark */
	e->svol = NULL;
	dsl_ds_t *ds = dsl_lookup(e->dp->dsl, e->name);
	if (!ds || !exported(e->dp->dsl, ds)) {
		e->gone = 1;
		return -ESHUTDOWN;
	}
	e->gen = e->dp->gen;
	e->ds = ds;
	dsl_busy(ds, 1);
	return 0;
}

/* With dp locked and e resolved: writes are refused once the volume became read-only after the
 * handle was opened (sharenbd on -> ro, readonly=on): the mode negotiated at open is not enough. */
static int now_readonly(export_t *e)
{
	return !strcmp(share_mode(e->dp->dsl, e->ds), "ro") || dsl_readonly(e->dp->dsl, e->ds);
}

/* With dp->lock held: make e current (after a reload the volume is looked up again) and, if v,
 * open its volume. On failure the lock stays held. */
static int export_current(export_t *e, vol_t **v)
{
	if (e->dp->evicted || !e->dp->pool) {
		e->gone = 1;
		return -ESHUTDOWN;
	}
	TRY(resolve(e));
	if (!v)
		return 0;
	if (e->ds->type == DS_SNAPSHOT) {
		if (!e->svol)
			TRY(dsl_vol_open(e->dp->dsl, e->ds, &e->svol));
		*v = e->svol;
		return 0;
	}
	return dsl_vol_open(e->dp->dsl, e->ds, v);
}

/* For daemon_vol_read/prefetch: the lock was let go meanwhile. */
static int relock_export(void *ctx, vol_t **v) { return export_current(ctx, v); }

/* Lock e's pool and make e (and *v, if v) current; unlocked again on failure. */
static int lock_export(export_t *e, vol_t **v)
{
	if (daemon_pool_lock(e->dp) < 0) {
		e->gone = 1;
		return -ESHUTDOWN;
	}
	int rc = export_current(e, v);
	if (rc < 0)
		daemon_pool_unlock(e->dp);
	return rc;
}

/* ---- backend ---- */

struct list_ctx {
	int (*cb)(void *, const char *, const char *);
	void *arg;
	int rc;
};

static int be_list(void *arg, int (*cb)(void *, const char *, const char *), void *cbarg)
{
	daemon_pool_t **v;
	int n;
	TRY(daemon_pools(&v, &n));
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (rc == 0 && daemon_pool_lock(v[i]) == 0) {
			dsl_t *d = v[i]->dsl;
			for (size_t k = 0; rc == 0 && k < d->nds; k++) {
				dsl_ds_t *ds = d->ds[k];
				if (!exported(d, ds))
					continue;
				char name[DS_NAME_MAX * 2];
				dsl_fullname(d, ds, name, sizeof(name));
				rc = cb(cbarg, name, ds->type == DS_SNAPSHOT ? "snapshot (read-only)" : "volume");
			}
			daemon_pool_unlock(v[i]);
		}
		daemon_pool_put(v[i]);
	}
	free(v);
	return rc;
}

static int be_open(void *arg, const char *name, void **h, nbd_export_info_t *info)
{
	char pool[POOL_NAME_MAX];
	size_t pl = strcspn(name, "/@#");
	if (pl == 0 || pl >= sizeof(pool) || strlen(name) >= DS_NAME_MAX * 2)
		return -ENOENT;
	memcpy(pool, name, pl);
	pool[pl] = 0;
	export_t *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (daemon_pool_get(pool, &e->dp) < 0) {
		free(e);
		return -ENOENT;
	}
	if (daemon_pool_lock(e->dp) < 0) {
		daemon_pool_put(e->dp);
		free(e);
		return -ENOENT;
	}
	dsl_t *d = e->dp->dsl;
	dsl_ds_t *ds = dsl_lookup(d, name);
	char canon[DS_NAME_MAX * 2];
	if (ds)
		dsl_fullname(d, ds, canon, sizeof(canon));
	/* the export name is the dataset's name: not an alias dsl_lookup also accepts (data//vm,
	 * data/vm/), which the kicks and meta contexts, keyed by name, would not recognise */
	if (!ds || strcmp(canon, name) || !exported(d, ds)) {
		daemon_pool_unlock(e->dp);
		daemon_pool_put(e->dp);
		free(e);
		return -ENOENT;
	}
	e->ds = ds;
	e->gen = e->dp->gen;
	dsl_busy(ds, 1);
	e->readonly = ds->type == DS_SNAPSHOT || !strcmp(share_mode(d, ds), "ro") || dsl_readonly(d, ds);
	memset(info, 0, sizeof(*info));
	info->size = ds->volsize;
	info->pref_block = (uint32_t)ds->volblocksize;
	info->readonly = e->readonly;
	info->can_trim = !e->readonly;
	info->can_zero = !e->readonly;
	info->can_fast_zero = !e->readonly; /* zeroing whole blocks punches holes: always fast */
	info->can_cache = 1;
	info->can_multi_conn = 1; /* one in-memory state per volume: a flush covers every connection */
	info->description = ds->type == DS_SNAPSHOT ? "tarn snapshot (read-only)" : "tarn volume";
	daemon_pool_unlock(e->dp);
	pthread_mutex_lock(&open_lock);
	e->next = open_exports;
	open_exports = e;
	pthread_mutex_unlock(&open_lock);
	*h = e;
	return 0;
}

static void be_close(void *h)
{
	export_t *e = h;
	pthread_mutex_lock(&open_lock);
	for (export_t **pp = &open_exports; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	pthread_mutex_unlock(&open_lock);
	if (daemon_pool_lock(e->dp) == 0) {
		release_ds(e);
		daemon_pool_unlock(e->dp);
	}
	daemon_pool_put(e->dp);
	free(e);
}

static int errno_of(int rc) { return rc < 0 ? rc : 0; }

static int be_read(void *h, uint64_t off, uint32_t len, void *buf)
{
	export_t *e = h;
	vol_t *v;
	TRY(lock_export(e, &v));
	int rc = daemon_vol_read(e->dp, &v, relock_export, e, off, len, buf);
	daemon_pool_unlock(e->dp);
	return errno_of(rc);
}

/* Commit so that everything acknowledged so far is durable (FLUSH, FUA). */
static int commit_now(export_t *e)
{
	int rc = daemon_pool_sync(e->dp); /* waits for a commit in progress, even with nothing dirty */
	return rc < 0 ? -EIO : 0;
}

static int be_write(void *h, uint64_t off, uint32_t len, const void *buf, int fua)
{
	export_t *e = h;
	vol_t *v;
	if (e->readonly)
		return -EPERM;
	TRY(lock_export(e, &v));
	int rc = now_readonly(e) ? -EPERM : daemon_write_throttle(e->dp, len, relock_export, e, &v);
	if (rc == 0)
		rc = dsl_write_room(e->dp->dsl, e->ds, len);
	if (rc == 0 && len)
		daemon_vol_prefetch(e->dp, &v, relock_export, e, off, len);
	if (rc == 0 && (e->gone || !e->ds)) /* went away while we were reading */
		rc = -ESHUTDOWN;
	if (rc == 0)
		rc = vol_write(v, off, len, buf);
	if (rc == 0 && fua)
		rc = commit_now(e);
	daemon_pool_unlock(e->dp);
	return errno_of(rc);
}

/* Zero [off, off+len): whole blocks become holes; the partial ones at either end are zero-filled
 * unless trim_only (TRIM may leave them: their contents are then unspecified, and we keep
 * them as they were). */
static int zero_range(export_t *e, uint64_t off, uint32_t len, int trim_only, int fua)
{
	vol_t *v;
	if (e->readonly)
		return -EPERM;
	TRY(lock_export(e, &v));
	if (now_readonly(e)) {
		daemon_pool_unlock(e->dp);
		return -EPERM;
	}
	uint64_t bs = v->tree.phys.dblksz;
	uint64_t a = (off + bs - 1) / bs * bs, b = (off + len) / bs * bs;
	int rc = 0;
	if (trim_only) {
		if (a < b)
			rc = vol_zero(v, a, b - a);
	} else {
		rc = daemon_write_throttle(e->dp, 2 * bs, relock_export, e, &v); /* at most two partial blocks */
		if (rc == 0)
			rc = dsl_write_room(e->dp->dsl, e->ds, 2 * bs);
		if (rc == 0)
			rc = vol_zero(v, off, len);
	}
	if (rc == 0 && fua)
		rc = commit_now(e);
	daemon_pool_unlock(e->dp);
	return errno_of(rc);
}

static int be_zero(void *h, uint64_t off, uint32_t len, int may_trim, int fast, int fua)
{
	/* zeroed blocks are holes either way (tarn never stores an all-zero block), so NO_HOLE
	 * changes nothing, and zeroing is always fast */
	return zero_range(h, off, len, 0, fua);
}

static int be_trim(void *h, uint64_t off, uint32_t len, int fua) { return zero_range(h, off, len, 1, fua); }

static int be_flush(void *h)
{
	export_t *e = h;
	TRY(lock_export(e, NULL));
	int rc = commit_now(e);
	daemon_pool_unlock(e->dp);
	return rc;
}

static int be_cache(void *h, uint64_t off, uint32_t len)
{
	export_t *e = h;
	vol_t *v;
	TRY(lock_export(e, &v)); /* nothing to prefetch into: the range check is the answer */
	daemon_pool_unlock(e->dp);
	return 0;
}

/* ---- meta contexts ---- */

static dsl_ds_t *snap_of(dsl_t *d, const char *export, const char *snap)
{
	char full[DS_NAME_MAX * 2];
	size_t hl = strcspn(export, "@");
	if (!*snap || strchr(snap, '@') || strchr(snap, '/') || hl + 1 + strlen(snap) >= sizeof(full))
		return NULL;
	snprintf(full, sizeof(full), "%.*s@%s", (int)hl, export, snap);
	dsl_ds_t *s = dsl_lookup(d, full);
	return s && s->type == DS_SNAPSHOT ? s : NULL;
}

static int with_pool_of(const char *export, daemon_pool_t **dp)
{
	char pool[POOL_NAME_MAX];
	size_t pl = strcspn(export, "/@#");
	if (pl == 0 || pl >= sizeof(pool))
		return -ENOENT;
	memcpy(pool, export, pl);
	pool[pl] = 0;
	if (daemon_pool_get(pool, dp) < 0)
		return -ENOENT;
	if (daemon_pool_lock(*dp) < 0) {
		daemon_pool_put(*dp);
		return -ENOENT;
	}
	return 0;
}

static int be_list_meta(void *arg, const char *export, const char *query, int (*cb)(void *, const char *),
			void *cbarg)
{
	if (*query && strncmp(query, "tarn:", 5))
		return 0;
	daemon_pool_t *dp;
	if (with_pool_of(export, &dp) < 0)
		return 0;
	int rc = 0;
	dsl_t *d = dp->dsl;
	dsl_ds_t *ds = dsl_lookup(d, export);
	dsl_ds_t *head = ds ? (ds->type == DS_SNAPSHOT ? dsl_by_id(d, ds->parent) : ds) : NULL;
	if (head && exported(d, ds)) {
		dsl_ds_t **v;
		size_t n = dsl_snapshots(d, head, &v);
		size_t ql = strlen(query);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			char ctx[DS_NAME_MAX + 32];
			snprintf(ctx, sizeof(ctx), CHANGED_NS "%s", v[i]->name);
			/* a namespace or a leaf-prefix query lists matching contexts, a full name itself */
			if (ql <= 5 || !strncmp(ctx, query, ql))
				rc = cb(cbarg, ctx);
		}
		free(v);
	}
	daemon_pool_unlock(dp);
	daemon_pool_put(dp);
	return rc;
}

static int be_check_meta(void *arg, const char *export, const char *ctxname)
{
	if (strncmp(ctxname, CHANGED_NS, strlen(CHANGED_NS)))
		return -ENOENT;
	daemon_pool_t *dp;
	if (with_pool_of(export, &dp) < 0)
		return -ENOENT;
	dsl_ds_t *ds = dsl_lookup(dp->dsl, export);
	int ok = ds && exported(dp->dsl, ds) && snap_of(dp->dsl, export, ctxname + strlen(CHANGED_NS));
	daemon_pool_unlock(dp);
	daemon_pool_put(dp);
	return ok ? 0 : -ENOENT;
}

/* base:allocation: runs of holes and data, block by block (uncommitted writes included). */
static int allocation(vol_t *v, uint64_t off, uint64_t len, nbd_extent_fn cb, void *cbarg)
{
	uint64_t bs = v->tree.phys.dblksz, end = off + len;
	/* bound the work of one request: a client asks again for the rest */
	if (len / bs > (1u << 20))
		end = off + ((uint64_t)1 << 20) * bs;
	uint64_t run_start = off;
	int run_hole = -1;
	for (uint64_t blk = off / bs; blk * bs < end; blk++) {
		int h = tree_is_hole(&v->tree, blk);
		if (h < 0)
			return h;
		if (run_hole < 0)
			run_hole = h;
		if (h != run_hole) {
			uint64_t stop = blk * bs;
			int r = cb(cbarg, stop - run_start, run_hole ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0);
			if (r)
				return r < 0 ? r : 0;
			run_start = stop;
			run_hole = h;
		}
	}
	return cb(cbarg, end - run_start, run_hole ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0) < 0 ? -EIO : 0;
}

struct changed_ctx {
	uint64_t lo, hi; /* request range in blocks */
	uint64_t *runs;  /* [start, end) block pairs, ascending */
	size_t n, cap;
	int rc;
};

static int changed_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	struct changed_ctx *c = arg;
	if (level > 0 && !bp_is_hole(bp))
		return 0; /* an indirect block: the walk goes below it */
	uint64_t span = 1;
	for (int l = 0; l < level; l++)
		span *= TREE_FANOUT;
	uint64_t a = first, b = first + span;
	if (b <= c->lo || a >= c->hi)
		return first >= c->hi;
	if (a < c->lo)
		a = c->lo;
	if (b > c->hi)
		b = c->hi;
	if (c->n && c->runs[2 * c->n - 1] == a) { /* extends the previous run */
		c->runs[2 * c->n - 1] = b;
		return 0;
	}
	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 64;
		uint64_t *nr = realloc(c->runs, nc * 2 * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		c->runs = nr;
		c->cap = nc;
	}
	c->runs[2 * c->n] = a;
	c->runs[2 * c->n + 1] = b;
	c->n++;
	return 0;
}

/* tarn:changed:SNAP — blocks born after SNAP (data or holes: trimmed ranges changed too). The
 * tree is walked from its last commit, so a live volume with uncommitted writes is committed
 * first (as a FLUSH would). */
static int changed(export_t *e, const char *snapname, uint64_t off, uint64_t len, nbd_extent_fn cb, void *cbarg)
{
	dsl_t *d = e->dp->dsl;
	dsl_ds_t *since = snap_of(d, e->name, snapname);
	if (!since)
		return -EINVAL;
	if (e->ds->type != DS_SNAPSHOT && dsl_dirty_bytes(d) > 0)
		TRY(commit_now(e));
	const tree_phys_t *ph = e->ds->vol ? &e->ds->vol->tree.phys : &e->ds->tree;
	uint64_t bs = ph->dblksz;
	struct changed_ctx c = { .lo = off / bs, .hi = (off + len + bs - 1) / bs };
	int rc = tree_walk(d->pool, ph, since->createtxg, 1, changed_cb, &c);
	if (rc < 0) {
		free(c.runs);
		return -EIO;
	}
	uint64_t pos = off, end = off + len;
	for (size_t i = 0; i <= c.n && pos < end; i++) {
		uint64_t a = i < c.n ? c.runs[2 * i] * bs : end, b = i < c.n ? c.runs[2 * i + 1] * bs : end;
		if (a < pos)
			a = pos;
		if (b > end)
			b = end;
		int r = 0;
		if (a > pos)
			r = cb(cbarg, a - pos, 0);
		if (r == 0 && b > a)
			r = cb(cbarg, b - a, TARN_STATE_CHANGED);
		if (r)
			break;
		pos = b > pos ? b : pos;
	}
	free(c.runs);
	return 0;
}

static int be_extents(void *h, const char *ctxname, uint64_t off, uint64_t len, nbd_extent_fn cb, void *cbarg)
{
	export_t *e = h;
	vol_t *v;
	TRY(lock_export(e, &v));
	int rc;
	if (!strcmp(ctxname, "base:allocation"))
		rc = allocation(v, off, len, cb, cbarg);
	else if (!strncmp(ctxname, CHANGED_NS, strlen(CHANGED_NS)))
		rc = changed(e, ctxname + strlen(CHANGED_NS), off, len, cb, cbarg);
	else
		rc = -EINVAL;
	daemon_pool_unlock(e->dp);
	return rc;
}

static int be_gone(void *h)
{
	export_t *e = h;
	return e->gone;
}

/* ---- life ---- */

int daemon_exports_start(const char **listen, int n)
{
	nbd_backend_t be = {
		.list = be_list, .open = be_open, .close = be_close, .read = be_read, .write = be_write,
		.zero = be_zero, .trim = be_trim, .flush = be_flush, .cache = be_cache,
		.list_meta = be_list_meta, .check_meta = be_check_meta, .extents = be_extents, .gone = be_gone,
	};
	server = nbd_server_new(&be);
	if (!server)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int rc = nbd_server_listen(server, listen[i]);
		if (rc < 0)
			return terr_prefix(rc, "NBD listener %s", listen[i]);
		daemon_log("NBD: listening on %s", listen[i]);
	}
	return 0;
}

void daemon_exports_stop(void)
{
	if (server)
		nbd_server_free(server); /* disconnects clients; their handles close */
	server = NULL;
}

/* Names of open exports (with a pool prefix: only that pool's), copied under open_lock. */
static size_t open_names(const char *pool, char (**out)[DS_NAME_MAX * 2])
{
	char (*v)[DS_NAME_MAX * 2] = NULL;
	size_t n = 0, cap = 0, pl = pool ? strlen(pool) : 0;
	pthread_mutex_lock(&open_lock);
	for (export_t *e = open_exports; e; e = e->next) {
		if (pool && (strncmp(e->name, pool, pl) || !e->name[pl] || !strchr("/@", e->name[pl])))
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			void *nv = realloc(v, nc * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		snprintf(v[n++], sizeof(v[0]), "%s", e->name);
	}
	pthread_mutex_unlock(&open_lock);
	*out = v;
	return n;
}

static int still_open(const char *name)
{
	int found = 0;
	pthread_mutex_lock(&open_lock);
	for (export_t *e = open_exports; e && !found; e = e->next)
		found = !strcmp(e->name, name);
	pthread_mutex_unlock(&open_lock);
	return found;
}

/* Disconnect the clients of name and wait (up to 5 s) until their handles are closed, so the
 * dataset is no longer busy when the command that removed the export returns. */
static void kick_and_wait(const char *name, int wait)
{
	nbd_server_kick(server, name);
	for (int i = 0; wait && i < 500 && still_open(name); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* Re-check open exports after a command (called without pool locks): one no longer exported
 * (sharenbd off, destroyed, the pool gone) loses its clients. */
void daemon_exports_changed(void)
{
	if (!server)
		return;
	char (*names)[DS_NAME_MAX * 2];
	size_t n = open_names(NULL, &names);
	for (size_t i = 0; i < n; i++) {
		daemon_pool_t *dp;
		int gone = 1;
		if (with_pool_of(names[i], &dp) == 0) {
			dsl_ds_t *ds = dsl_lookup(dp->dsl, names[i]);
			gone = !ds || !exported(dp->dsl, ds);
			daemon_pool_unlock(dp);
			daemon_pool_put(dp);
		}
		if (gone) {
			daemon_log("NBD: export '%s' went away: disconnecting its clients", names[i]);
			kick_and_wait(names[i], 1);
		}
	}
	free(names);
}

/* Before a pool leaves tarnd (its lock is held: the handles close later, without it). */
void daemon_exports_kick_pool(const char *pool)
{
	if (!server)
		return;
	char (*names)[DS_NAME_MAX * 2];
	size_t n = open_names(pool, &names);
	for (size_t i = 0; i < n; i++)
		kick_and_wait(names[i], 0);
	free(names);
}
