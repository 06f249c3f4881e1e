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
	daemon_vh_t vh; /* first: the backend's handle is the export */
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

/* The dataset an export name serves (NULL: not exported any more). */
static dsl_ds_t *find_exported(dsl_t *d, const char *name)
{
	dsl_ds_t *ds = dsl_lookup(d, name);
	return ds && exported(d, ds) ? ds : NULL;
}

/* With dp locked and h current: writes are refused once the volume became read-only after the
 * handle was opened (sharenbd on -> ro, readonly=on): the mode negotiated at open is not enough. */
static int now_readonly(daemon_vh_t *h)
{
	return !strcmp(share_mode(h->dp->dsl, h->ds), "ro") || dsl_readonly(h->dp->dsl, h->ds);
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
	snprintf(e->vh.name, sizeof(e->vh.name), "%s", name);
	e->vh.find = find_exported;
	e->vh.now_readonly = now_readonly;
	if (daemon_pool_get(pool, &e->vh.dp) < 0) {
		free(e);
		return -ENOENT;
	}
	if (daemon_pool_lock(e->vh.dp) < 0) {
		daemon_pool_put(e->vh.dp);
		free(e);
		return -ENOENT;
	}
	dsl_t *d = e->vh.dp->dsl;
	dsl_ds_t *ds = dsl_lookup(d, name);
	char canon[DS_NAME_MAX * 2];
	if (ds)
		dsl_fullname(d, ds, canon, sizeof(canon));
	/* the export name is the dataset's name: not an alias dsl_lookup also accepts (data//vm,
	 * data/vm/), which the kicks and meta contexts, keyed by name, would not recognise */
	if (!ds || strcmp(canon, name) || !exported(d, ds)) {
		daemon_pool_unlock(e->vh.dp);
		daemon_pool_put(e->vh.dp);
		free(e);
		return -ENOENT;
	}
	e->vh.ds = ds;
	e->vh.gen = e->vh.dp->gen;
	dsl_busy(ds, 1);
	e->vh.readonly = ds->type == DS_SNAPSHOT || !strcmp(share_mode(d, ds), "ro") || dsl_readonly(d, ds);
	memset(info, 0, sizeof(*info));
	info->size = ds->volsize;
	info->pref_block = (uint32_t)ds->volblocksize;
	info->readonly = e->vh.readonly;
	info->can_trim = !e->vh.readonly;
	info->can_zero = !e->vh.readonly;
	info->can_fast_zero = !e->vh.readonly; /* zeroing whole blocks punches holes: always fast */
	info->can_cache = 1;
	info->can_multi_conn = 1; /* one in-memory state per volume: a flush covers every connection */
	info->description = ds->type == DS_SNAPSHOT ? "tarn snapshot (read-only)" : "tarn volume";
	daemon_pool_unlock(e->vh.dp);
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
	daemon_vh_close(&e->vh);
	free(e);
}

static int be_read(void *h, uint64_t off, uint32_t len, void *buf) { return daemon_vh_read(h, off, len, buf); }

static int be_write(void *h, uint64_t off, uint32_t len, const void *buf, int fua)
{
	return daemon_vh_write(h, off, len, buf, fua);
}

static int be_zero(void *h, uint64_t off, uint32_t len, int may_trim, int fast, int fua)
{
	/* zeroed blocks are holes either way (tarn never stores an all-zero block), so NO_HOLE
	 * changes nothing, and zeroing is always fast */
	return daemon_vh_zero(h, off, len, 0, fua);
}

/* TRIM may leave the partial blocks at either end as they were (their contents are then
 * unspecified): only whole blocks become holes. */
static int be_trim(void *h, uint64_t off, uint32_t len, int fua) { return daemon_vh_zero(h, off, len, 1, fua); }

static int be_flush(void *h) { return daemon_vh_flush(h); }

static int be_cache(void *h, uint64_t off, uint32_t len)
{
	export_t *e = h;
	vol_t *v;
	TRY(daemon_vh_lock(&e->vh, &v)); /* nothing to prefetch into: the range check is the answer */
	daemon_pool_unlock(e->vh.dp);
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
	if (e->vh.ds->type != DS_SNAPSHOT && dsl_dirty_bytes(e->vh.dp->dsl) > 0) {
		if (daemon_pool_sync(e->vh.dp) < 0)
			return -EIO;
		TRY(daemon_vh_current(&e->vh, NULL)); /* the lock was let go: look everything up anew */
	}
	dsl_t *d = e->vh.dp->dsl;
	dsl_ds_t *since = snap_of(d, e->vh.name, snapname);
	if (!since)
		return -EINVAL;
	const tree_phys_t *ph = e->vh.ds->vol ? &e->vh.ds->vol->tree.phys : &e->vh.ds->tree;
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
	TRY(daemon_vh_lock(&e->vh, &v));
	int rc;
	if (!strcmp(ctxname, "base:allocation"))
		rc = allocation(v, off, len, cb, cbarg);
	else if (!strncmp(ctxname, CHANGED_NS, strlen(CHANGED_NS)))
		rc = changed(e, ctxname + strlen(CHANGED_NS), off, len, cb, cbarg);
	else
		rc = -EINVAL;
	daemon_pool_unlock(e->vh.dp);
	return rc;
}

static int be_gone(void *h)
{
	export_t *e = h;
	return e->vh.gone;
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
		if (pool && (strncmp(e->vh.name, pool, pl) || !e->vh.name[pl] || !strchr("/@", e->vh.name[pl])))
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			void *nv = realloc(v, nc * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		snprintf(v[n++], sizeof(v[0]), "%s", e->vh.name);
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
		found = !strcmp(e->vh.name, name);
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
