/* dsl/dataset.c — dataset catalog in memory, create/destroy/snapshot/rollback/clone, volume
 * handles and their space callbacks (see dsl.h). */
#include "dsl/dsl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsl/catalog.h"
#include "dsl/deadlist.h"
#include "util/compress.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/guid.h"
#include "util/names.h"
#include "util/strnum.h"

#define DIRTY_MAX_DEFAULT (64ull << 20)

/* A head's open volume and what its space callbacks need. */
struct vol_ctx {
	vol_t vol; /* first: ds->vol points here and is freed as the whole struct */
	dsl_t *d;
	dsl_ds_t *ds;
};

dsl_ds_t *dsl_by_id(const dsl_t *d, uint64_t id)
{
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->id == id)
			return d->ds[i];
	return NULL;
}

dsl_ds_t *dsl_root(const dsl_t *d)
{
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->parent == 0)
			return d->ds[i];
	return NULL;
}

void dsl_fullname(const dsl_t *d, const dsl_ds_t *ds, char *buf, size_t len)
{
	const dsl_ds_t *chain[64];
	int n = 0;
	const dsl_ds_t *head = dsl_is_head(ds) ? ds : dsl_by_id(d, ds->parent);
	for (const dsl_ds_t *c = head; c && n < 64; c = c->parent ? dsl_by_id(d, c->parent) : NULL)
		chain[n++] = c;
	size_t pos = 0;
	buf[0] = 0;
	for (int i = n - 1; i >= 0; i--)
		pos += (size_t)snprintf(buf + pos, pos < len ? len - pos : 0, "%s%s", i == n - 1 ? "" : "/", chain[i]->name);
	if (!dsl_is_head(ds) && pos < len)
		snprintf(buf + pos, len - pos, "%c%s", ds->type == DS_SNAPSHOT ? '@' : '#', ds->name);
}

/* kind: DS_FILESYSTEM means any head (filesystem or volume), else the exact type */
static int kind_match(const dsl_ds_t *c, int kind)
{
	return kind == DS_FILESYSTEM ? dsl_is_head(c) : c->type == kind;
}

static dsl_ds_t *child_named(const dsl_t *d, uint64_t parent, const char *name, int kind)
{
	for (size_t i = 0; i < d->nds; i++) {
		dsl_ds_t *c = d->ds[i];
		if (c->parent == parent && kind_match(c, kind) && !strcmp(c->name, name))
			return c;
	}
	return NULL;
}

dsl_ds_t *dsl_lookup(dsl_t *d, const char *name)
{
	char dsn[DS_NAME_MAX], snap[DS_NAME_MAX], sep;
	if (name_split(name, dsn, sizeof(dsn), snap, sizeof(snap), &sep) < 0) {
		terr(ENOENT, "dataset does not exist");
		return NULL;
	}
	size_t dl = strlen(dsn);
	if (!dl || dsn[0] == '/' || dsn[dl - 1] == '/' || strstr(dsn, "//")) { /* "a//b", "a/": no aliases */
		terr(ENOENT, "dataset does not exist");
		return NULL;
	}
	dsl_ds_t *cur = dsl_root(d);
	char *save = NULL, *tok = strtok_r(dsn, "/", &save);
	if (!cur || !tok || strcmp(tok, cur->name)) {
		terr(ENOENT, "dataset does not exist");
		return NULL;
	}
	while (cur && (tok = strtok_r(NULL, "/", &save)))
		cur = child_named(d, cur->id, tok, DS_FILESYSTEM);
	if (cur && sep)
		cur = child_named(d, cur->id, snap, sep == '@' ? DS_SNAPSHOT : DS_BOOKMARK);
	if (!cur)
		terr(ENOENT, "dataset does not exist");
	return cur;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(dsl_ds_t *const *)a)->name, (*(dsl_ds_t *const *)b)->name);
}
static int by_txg(const void *a, const void *b)
{
	uint64_t x = (*(dsl_ds_t *const *)a)->createtxg, y = (*(dsl_ds_t *const *)b)->createtxg;
	return x < y ? -1 : x > y;
}

static size_t collect(const dsl_t *d, const dsl_ds_t *ds, int kind, dsl_ds_t ***out)
{
	size_t n = 0;
	*out = calloc(d->nds + 1, sizeof(**out));
	if (!*out)
		return 0;
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->parent == ds->id && kind_match(d->ds[i], kind))
			(*out)[n++] = d->ds[i];
	qsort(*out, n, sizeof(**out), kind == DS_FILESYSTEM ? by_name : by_txg);
	return n;
}

size_t dsl_children(const dsl_t *d, const dsl_ds_t *ds, dsl_ds_t ***out) { return collect(d, ds, DS_FILESYSTEM, out); }
size_t dsl_snapshots(const dsl_t *d, const dsl_ds_t *ds, dsl_ds_t ***out) { return collect(d, ds, DS_SNAPSHOT, out); }
size_t dsl_bookmarks(const dsl_t *d, const dsl_ds_t *ds, dsl_ds_t ***out) { return collect(d, ds, DS_BOOKMARK, out); }

static uint64_t origin_txg(const dsl_t *d, const dsl_ds_t *head)
{
	const dsl_ds_t *o = head->origin ? dsl_by_id(d, head->origin) : NULL;
	return o ? o->createtxg : 0;
}

/* txg of the newest snapshot of head (or of its origin), 0 if none */
static uint64_t prev_snap_txg(const dsl_t *d, const dsl_ds_t *head)
{
	uint64_t t = origin_txg(d, head);
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->type == DS_SNAPSHOT && d->ds[i]->parent == head->id && d->ds[i]->createtxg > t)
			t = d->ds[i]->createtxg;
	return t;
}

/* deadlist key of a block born at `birth`: the txg of the first snapshot containing it */
static uint64_t dl_key(const dsl_t *d, const dsl_ds_t *head, uint64_t birth)
{
	uint64_t best = UINT64_MAX, o = origin_txg(d, head);
	if (head->origin && o >= birth)
		best = o;
	for (size_t i = 0; i < d->nds; i++) {
		const dsl_ds_t *s = d->ds[i];
		if (s->type == DS_SNAPSHOT && s->parent == head->id && s->createtxg >= birth && s->createtxg < best)
			best = s->createtxg;
	}
	return best;
}

static void head_born(void *arg, const bp_t *bp)
{
	struct vol_ctx *c = arg;
	c->ds->referenced += bp_asize(bp);
	c->ds->lreferenced += bp->lsize;
	c->ds->unique += bp_asize(bp);
}

static int head_kill(void *arg, const bp_t *bp)
{
	struct vol_ctx *c = arg;
	dsl_ds_t *ds = c->ds;
	uint64_t a = bp_asize(bp);
	ds->referenced -= a < ds->referenced ? a : ds->referenced;
	ds->lreferenced -= bp->lsize < ds->lreferenced ? bp->lsize : ds->lreferenced;
	if (bp->birth <= origin_txg(c->d, ds)) {
		ds->ref_origin -= a < ds->ref_origin ? a : ds->ref_origin;
		ds->lref_origin -= bp->lsize < ds->lref_origin ? bp->lsize : ds->lref_origin;
	}
	if (bp->birth > prev_snap_txg(c->d, ds)) {
		ds->unique -= a < ds->unique ? a : ds->unique;
		return pool_free_block(c->d->pool, bp);
	}
	return dl_insert(&ds->dl, dl_key(c->d, ds, bp->birth), bp);
}

static const tree_ops_t head_ops = { head_born, head_kill };

static int ds_comp(const dsl_t *d, const dsl_ds_t *ds)
{
	const char *v = dsl_prop_get(d, ds, "compression", NULL, NULL);
	enum comp_alg a = COMP_LZ4;
	if (v)
		comp_parse(v, &a);
	return a;
}

static int ds_cksum(const dsl_t *d, const dsl_ds_t *ds)
{
	const char *v = dsl_prop_get(d, ds, "checksum", NULL, NULL);
	enum cksum_type t = CKSUM_XXH3_128;
	if (v && cksum_parse(v, &t) < 0)
		t = CKSUM_XXH3_128;
	return t;
}

int dsl_vol_open(dsl_t *d, dsl_ds_t *ds, vol_t **out)
{
	if (ds->type == DS_FILESYSTEM)
		return terr(EINVAL, "operation only applies to volumes");
	if (ds->type == DS_SNAPSHOT) {
		dsl_ds_t *h = dsl_by_id(d, ds->parent);
		if (!h || h->type != DS_VOLUME)
			return terr(EINVAL, "operation only applies to volumes");
		vol_t *v = calloc(1, sizeof(*v));
		if (!v)
			return terr(ENOMEM, "out of memory");
		tree_open(&v->tree, d->pool, &ds->tree, NULL, NULL, COMP_OFF, 0);
		v->size = ds->volsize;
		*out = v;
		return 0;
	}
	if (!ds->vol) {
		struct vol_ctx *c = calloc(1, sizeof(*c));
		if (!c)
			return terr(ENOMEM, "out of memory");
		c->d = d;
		c->ds = ds;
		tree_open(&c->vol.tree, d->pool, &ds->tree, &head_ops, c, ds_comp(d, ds), ds_cksum(d, ds));
		c->vol.size = ds->volsize;
		ds->vol = &c->vol;
	}
	*out = ds->vol;
	return 0;
}

void dsl_vol_close(dsl_ds_t *ds, vol_t *v)
{
	if (!v || v == ds->vol)
		return;
	tree_close(&v->tree);
	free(v);
}

/* Discard a head's uncommitted data. */
static void drop_vol(dsl_ds_t *ds)
{
	if (ds->vol) {
		tree_close(&ds->vol->tree);
		free(ds->vol);
		ds->vol = NULL;
	}
}

static int add_ds(dsl_t *d, dsl_ds_t *ds)
{
	TRY(GROW(d->ds, d->capds, d->nds, 16));
	d->ds[d->nds++] = ds;
	return 0;
}

static void remove_ds(dsl_t *d, dsl_ds_t *ds)
{
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i] == ds) {
			d->ds[i] = d->ds[--d->nds];
			break;
		}
	ds_free(ds);
}

static dsl_ds_t *new_ds(dsl_t *d, uint64_t parent, const char *name, int type)
{
	dsl_ds_t *ds = calloc(1, sizeof(*ds));
	if (!ds) {
		terr(ENOMEM, "out of memory");
		return NULL;
	}
	ds->id = d->next_id++;
	ds->parent = parent;
	snprintf(ds->name, sizeof(ds->name), "%s", name);
	ds->type = (uint8_t)type;
	ds->guid = guid_new();
	ds->createtxg = pool_open_txg(d->pool);
	ds->creation = (uint64_t)time(NULL);
	return ds;
}

int dsl_open(pool_t *p, dsl_t **out)
{
	dsl_t *d = calloc(1, sizeof(*d));
	if (!d)
		return terr(ENOMEM, "out of memory");
	d->pool = p;
	d->next_id = 1;
	bobj_init(&d->cat);
	bobj_init(&d->hist);
	int rc = 0;
	if (bp_is_hole(&p->catalog)) {
		dsl_ds_t *root = new_ds(d, 0, p->name, DS_FILESYSTEM);
		rc = root ? add_ds(d, root) : -ENOMEM;
	} else {
		rc = catalog_load(d, &p->catalog);
		if (rc == 0 && !dsl_root(d))
			rc = terr(EIO, "catalog has no root dataset");
		/* the pool may have been renamed on import: the root dataset carries its name */
		if (rc == 0)
			snprintf(dsl_root(d)->name, DS_NAME_MAX, "%s", p->name);
	}
	if (rc < 0) {
		dsl_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

void dsl_close(dsl_t *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nds; i++)
		ds_free(d->ds[i]);
	free(d->ds);
	for (size_t i = 0; i < d->npprops; i++) {
		free(d->pprops[i].name);
		free(d->pprops[i].value);
	}
	free(d->pprops);
	free(d->hist_pend);
	free(d);
}

static int sync_vols(dsl_t *d)
{
	for (size_t i = 0; i < d->nds; i++) {
		dsl_ds_t *ds = d->ds[i];
		if (ds->vol && ds->vol->tree.dirty_count + ds->vol->tree.nnodes) {
			TRY(tree_sync(&ds->vol->tree));
			ds->tree = ds->vol->tree.phys;
		}
	}
	return 0;
}

static int history_sync(dsl_t *d)
{
	if (!d->hist_pend_len)
		return 0;
	if (d->hist.len + d->hist_pend_len > HIST_MAX) {
		/* keep the newest half, cut at a line boundary */
		uint8_t *old;
		TRY(bobj_read(d->pool, &d->hist, &old));
		size_t total = d->hist.len + d->hist_pend_len;
		uint8_t *all = malloc(total);
		if (!all) {
			free(old);
			return terr(ENOMEM, "out of memory");
		}
		memcpy(all, old, d->hist.len);
		memcpy(all + d->hist.len, d->hist_pend, d->hist_pend_len);
		free(old);
		size_t cut = total > HIST_MAX / 2 ? total - HIST_MAX / 2 : 0;
		while (cut > 0 && cut < total && all[cut - 1] != '\n')
			cut++;
		int rc = bobj_write(d->pool, &d->hist, all + cut, total - cut);
		free(all);
		TRY(rc);
	} else {
		TRY(bobj_append(d->pool, &d->hist, (uint8_t *)d->hist_pend, d->hist_pend_len));
	}
	d->hist_pend_len = 0;
	return 0;
}

int dsl_history_add(dsl_t *d, const char *line)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d.%H:%M:%S ", &tm);
	size_t n = strlen(stamp) + strlen(line) + 1;
	char *np = realloc(d->hist_pend, d->hist_pend_len + n + 1);
	if (!np)
		return terr(ENOMEM, "out of memory");
	d->hist_pend = np;
	snprintf(np + d->hist_pend_len, n + 1, "%s%s\n", stamp, line);
	d->hist_pend_len += n;
	return 0;
}

int dsl_history_read(dsl_t *d, char **out)
{
	uint8_t *buf;
	TRY(bobj_read(d->pool, &d->hist, &buf));
	*out = (char *)buf;
	return 0;
}

int dsl_commit(dsl_t *d) { return dsl_commit_ex(d, NULL); }

/* A frozen data block on its way to disk. */
struct wjob {
	tree_t *t;
	tree_frozen_t f;
	pool_wblk_t w;
	int hole;
};

#define COMMIT_CHUNK (16u << 20) /* data bytes prepared and written per unlocked phase */

/* Write the frozen blocks of jobs [0, n): prepare (unlocked), then pool_wblks_commit, a chunk
 * at a time. Returns with the lock held. */
static int write_frozen(dsl_t *d, struct wjob *jobs, size_t n, const dsl_unlock_t *ul)
{
	pool_t *p = d->pool;
	uint64_t txg = pool_open_txg(p);
	pool_wblk_t **w = malloc((n ? n : 1) * sizeof(*w));
	if (!w)
		return terr(ENOMEM, "out of memory");
	int rc = 0;
	for (size_t first = 0; first < n && rc == 0;) {
		size_t end = first;
		for (uint64_t bytes = 0; end < n && bytes < COMMIT_CHUNK; end++)
			bytes += jobs[end].t->phys.dblksz;
		pool_unlock(ul);
		size_t nw = 0;
		for (size_t i = first; i < end && rc == 0; i++) {
			int k = tree_frozen_prepare(jobs[i].t, &jobs[i].f, txg, &jobs[i].w);
			jobs[i].hole = k == 1;
			if (k == 0)
				w[nw++] = &jobs[i].w;
			rc = k < 0 ? k : 0;
		}
		pool_relock(ul);
		if (rc == 0) /* the last chunk is made durable here, not under the lock */
			rc = pool_wblks_commit(p, w, nw, ul, end == n);
		for (size_t i = 0; i < nw; i++)
			pool_wblk_free(w[i]);
		first = end;
	}
	free(w);
	return rc;
}

/* Freeze every dirty volume, write the frozen data blocks (without the lock if ul), install
 * their pointers. With the lock held on return; on failure the frozen blocks are dirty again. */
static int sync_vols_frozen(dsl_t *d, const dsl_unlock_t *ul)
{
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < d->nds; i++) {
		tree_t *t = d->ds[i]->vol ? &d->ds[i]->vol->tree : NULL;
		if (t && t->dirty_count && (rc = tree_freeze(t)) == 0)
			n += t->frozen.count;
	}
	struct wjob *jobs = rc == 0 ? calloc(n ? n : 1, sizeof(*jobs)) : NULL;
	tree_frozen_t *fl = NULL;
	if (rc == 0 && !jobs)
		rc = terr(ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; rc == 0 && i < d->nds; i++) {
		tree_t *t = d->ds[i]->vol ? &d->ds[i]->vol->tree : NULL;
		size_t m = t ? t->frozen.count : 0;
		if (!m)
			continue;
		tree_frozen_t *nfl = realloc(fl, m * sizeof(*fl));
		if (!nfl) {
			rc = terr(ENOMEM, "out of memory");
			break;
		}
		fl = nfl;
		tree_frozen_list(t, fl, m);
		for (size_t j = 0; j < m; j++)
			jobs[k++] = (struct wjob){ .t = t, .f = fl[j] };
	}
	free(fl);
	if (rc == 0)
		rc = write_frozen(d, jobs, n, ul);
	/* install, one tree at a time (jobs of a tree are contiguous and in block order) */
	bp_t *bps = rc == 0 ? malloc((n ? n : 1) * sizeof(*bps)) : NULL;
	if (rc == 0 && !bps)
		rc = terr(ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n;) {
		size_t j = i;
		for (; j < n && jobs[j].t == jobs[i].t; j++)
			bps[j - i] = jobs[j].hole ? (bp_t){ 0 } : jobs[j].w.bp;
		rc = tree_install(jobs[i].t, bps, j - i);
		i = j;
	}
	free(bps);
	free(jobs);
	if (rc < 0)
		for (size_t i = 0; i < d->nds; i++)
			if (d->ds[i]->vol)
				tree_unfreeze(&d->ds[i]->vol->tree);
	return rc;
}

int dsl_commit_ex(dsl_t *d, const dsl_unlock_t *ul)
{
	if (d->abandoned)
		return terr(EIO, "pool state was abandoned after a failed command (it is being reloaded)");
	if (d->pool->suspended)
		return terr(EIO, "pool I/O is suspended after an earlier error; nothing was committed");
	uint64_t changes = d->changes; /* what this commit holds: nothing changes but volume data
					* while the lock is let go */
	TRY(sync_vols_frozen(d, ul));
	for (size_t i = 0; i < d->nds; i++) {
		dsl_ds_t *ds = d->ds[i];
		if (ds->vol && ds->vol->tree.nnodes) {
			TRY(tree_sync_indirect(&ds->vol->tree, ul));
			ds->tree = ds->vol->tree.phys;
		}
	}
	for (size_t i = 0; i < d->nds; i++)
		TRY(dl_sync(d->pool, &d->ds[i]->dl));
	TRY(history_sync(d));
	bp_t root;
	TRY(catalog_save(d, &root));
	TRY(pool_commit(d->pool, &root));
	d->committed_changes = changes;
	return 0;
}

static uint64_t dirty_total(const dsl_t *d)
{
	uint64_t s = 0;
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->vol)
			s += vol_dirty_bytes(d->ds[i]->vol);
	return s;
}

__thread uint64_t dsl_thread_changes;

uint64_t dsl_dirty_bytes(const dsl_t *d) { return dirty_total(d); }

uint64_t dsl_dirty_max(void)
{
	static uint64_t m;
	if (!m) { /* TARN_DIRTY_MAX: bytes, with suffixes (64M) */
		const char *e = getenv("TARN_DIRTY_MAX");
		uint64_t v = 0;
		if (e && parse_size(e, &v) < 0)
			terr_clear(), v = 0;
		m = v ? v : DIRTY_MAX_DEFAULT;
	}
	return m;
}

int dsl_write_throttle(dsl_t *d, dsl_ds_t *ds, uint64_t bytes)
{
	if (dirty_total(d) + bytes > dsl_dirty_max())
		TRY(dsl_commit(d));
	return dsl_write_room(d, ds, bytes);
}

int dsl_write_room(dsl_t *d, dsl_ds_t *ds, uint64_t bytes)
{
	dsl_space_t s;
	dsl_space(d, ds, &s);
	uint64_t mine = ds->vol ? vol_dirty_bytes(ds->vol) : 0;
	if (mine + bytes > s.avail)
		return terr(ENOSPC, "out of space");
	return 0;
}

/* ---- create / destroy ---- */

static int split_parent(dsl_t *d, const char *name, dsl_ds_t **parent, const char **last)
{
	char buf[DS_NAME_MAX];
	const char *slash = strrchr(name, '/');
	if (!slash)
		return terr(EINVAL, "missing dataset name");
	size_t n = (size_t)(slash - name);
	if (n >= sizeof(buf))
		return terr(ENAMETOOLONG, "name is too long");
	memcpy(buf, name, n);
	buf[n] = 0;
	*parent = dsl_lookup(d, buf);
	if (!*parent)
		return terr(ENOENT, "parent does not exist");
	if ((*parent)->type != DS_FILESYSTEM)
		return terr(EINVAL, "parent is not a filesystem");
	*last = slash + 1;
	return 0;
}

static int set_props(dsl_t *d, dsl_ds_t *ds, char *const *props, int nprops)
{
	for (int i = 0; i < nprops; i++) {
		const char *eq = strchr(props[i], '=');
		char name[PROP_NAME_MAX];
		if (!eq || (size_t)(eq - props[i]) >= sizeof(name))
			return terr(EINVAL, "bad property '%s'", props[i]);
		memcpy(name, props[i], (size_t)(eq - props[i]));
		name[eq - props[i]] = 0;
		TRY(dsl_prop_set(d, ds, name, eq + 1, PROP_LOCAL));
	}
	return 0;
}

int dsl_create(dsl_t *d, const char *name, uint64_t volsize, uint64_t volblocksize, int sparse,
	       char *const *props, int nprops)
{
	dsl_ds_t *parent;
	const char *last;
	TRY(name_check(name, NAME_DATASET));
	if (dsl_lookup(d, name))
		return terr(EEXIST, "dataset already exists");
	TRY(split_parent(d, name, &parent, &last));
	uint64_t avail_before = dsl_pool_avail(d);
	int vol = volsize > 0;
	if (vol) {
		if (volblocksize < 512 || volblocksize > (128u << 10) || (volblocksize & (volblocksize - 1)))
			return terr(EINVAL, "'volblocksize' must be power of 2 from 512B to 128K");
		if (volsize % volblocksize) /* as OpenZFS 2.2: round up to whole blocks */
			volsize += volblocksize - volsize % volblocksize;
	}
dsl_changed(d); /* validated: from here on it changes things */
	dsl_ds_t *ds = new_ds(d, parent->id, last, vol ? DS_VOLUME : DS_FILESYSTEM);
	if (!ds)
		return -ENOMEM;
	if (vol) {
		tree_phys_init(&ds->tree, (uint32_t)volblocksize);
		ds->volsize = volsize;
		ds->volblocksize = volblocksize;
	}
	int rc = add_ds(d, ds);
	if (rc == 0)
		rc = set_props(d, ds, props, nprops);
	if (rc == 0 && vol && !sparse && !dsl_prop_find(ds, "refreservation")) {
		char v[32];
		snprintf(v, sizeof(v), "%llu", (unsigned long long)dsl_vol_refreservation(volsize, volblocksize));
		rc = dsl_prop_set(d, ds, "refreservation", v, PROP_LOCAL);
	}
	if (rc == 0) {
		dsl_space_t s;
		dsl_space(d, ds, &s);
		if (s.usedrefreserv > avail_before)
			rc = terr(ENOSPC, "out of space");
	}
	if (rc < 0) {
		remove_ds(d, ds);
		return rc;
	}
	return 0;
}

static int free_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	(void)level;
	(void)first;
	return bp_is_hole(bp) ? 0 : pool_free_block(arg, bp);
}

struct sum_arg {
	uint64_t max_birth; /* count blocks born at or before this txg */
	uint64_t bytes, lbytes;
};

static int sum_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	struct sum_arg *s = arg;
	(void)level;
	(void)first;
	if (!bp_is_hole(bp) && bp->birth <= s->max_birth) {
		s->bytes += bp_asize(bp);
		s->lbytes += bp->lsize;
	}
	return 0;
}

/* Bytes (allocated, logical) of ds's tree born at or before txg (walks everything if txg > 0). */
static int bytes_born_upto(dsl_t *d, const dsl_ds_t *ds, uint64_t txg, uint64_t *out, uint64_t *lout)
{
	*out = *lout = 0;
	if (txg == 0 || ds->tree.levels == 0)
		return 0;
	struct sum_arg s = { txg, 0, 0 };
	TRY(tree_walk(d->pool, &ds->tree, 0, 0, sum_cb, &s));
	*out = s.bytes;
	*lout = s.lbytes;
	return 0;
}

/* Bytes (allocated, logical) of ds's tree born after txg (proportional to the change). */
static int bytes_born_after(dsl_t *d, const dsl_ds_t *ds, uint64_t txg, uint64_t *out, uint64_t *lout)
{
	struct sum_arg s = { UINT64_MAX, 0, 0 };
	*out = *lout = 0;
	if (ds->tree.levels == 0)
		return 0;
	TRY(tree_walk(d->pool, &ds->tree, txg, 0, sum_cb, &s));
	*out = s.bytes;
	*lout = s.lbytes;
	return 0;
}

static int check_busy(const dsl_ds_t *ds)
{
	return ds->busy ? terr(EBUSY, "dataset is busy") : 0;
}

/* Is ds, a descendant, or a snapshot or bookmark of them in use? */
static int check_tree_busy(dsl_t *d, const dsl_ds_t *ds)
{
	TRY(check_busy(ds));
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->parent == ds->id)
			TRY(check_tree_busy(d, d->ds[i]));
	return 0;
}

int dsl_destroy(dsl_t *d, dsl_ds_t *ds)
{
	if (ds->parent == 0)
		return terr(EINVAL, "operation does not apply to pools");
	TRY(check_busy(ds));
	if (ds->type == DS_SNAPSHOT) {
		if (ds->nholds)
			return terr(EBUSY, "dataset is busy");
		for (size_t i = 0; i < d->nds; i++)
			if (d->ds[i]->origin == ds->id)
				return terr(EBUSY, "snapshot has dependent clones");
	} else if (ds->type != DS_BOOKMARK) {
		for (size_t i = 0; i < d->nds; i++)
			if (d->ds[i]->parent == ds->id && d->ds[i]->type != DS_BOOKMARK)
				return terr(EBUSY, "dataset has children");
	}
	dsl_changed(d); /* validated: from here on it changes things */
	if (ds->type == DS_BOOKMARK) {
		remove_ds(d, ds);
		return 0;
	}
	if (ds->type == DS_SNAPSHOT) {
		if (ds->nholds)
			return terr(EBUSY, "dataset is busy");
		for (size_t i = 0; i < d->nds; i++)
			if (d->ds[i]->origin == ds->id)
				return terr(EBUSY, "snapshot has dependent clones");
		dsl_ds_t *head = dsl_by_id(d, ds->parent);
		dsl_ds_t **snaps;
		size_t n = dsl_snapshots(d, head, &snaps), k;
		for (k = 0; k < n && snaps[k] != ds; k++)
			;
		uint64_t lo = k > 0 ? snaps[k - 1]->createtxg : origin_txg(d, head);
		dsl_ds_t *next = k + 1 < n ? snaps[k + 1] : head;
		free(snaps);
		if (k == n)
			return terr(ENOENT, "dataset does not exist");
		TRY(dl_remove(d->pool, &next->dl, lo, ds->createtxg, 1));
		TRY(dl_move(&next->dl, &ds->dl));
		if (next == head && head->tree.levels) {
			/* the head's unique bytes now count from the snapshot before (as OpenZFS's
			 * dsl_dataset_recalc_head_uniq): proportional to what changed since then */
			uint64_t l;
			TRY(bytes_born_after(d, head, lo, &head->unique, &l));
		}
		remove_ds(d, ds);
		return 0;
	}
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->parent == ds->id && d->ds[i]->type != DS_BOOKMARK)
			return terr(EBUSY, "dataset has children");
	for (size_t i = d->nds; i-- > 0;) /* bookmarks go with their dataset */
		if (d->ds[i]->parent == ds->id && d->ds[i]->type == DS_BOOKMARK)
			remove_ds(d, d->ds[i]);
	drop_vol(ds);
	if (ds->type == DS_VOLUME)
		TRY(tree_walk(d->pool, &ds->tree, origin_txg(d, ds), 0, free_cb, d->pool));
	TRY(dl_remove(d->pool, &ds->dl, 0, UINT64_MAX, 0));
	remove_ds(d, ds);
	return 0;
}

int dsl_destroy_recursive(dsl_t *d, dsl_ds_t *ds)
{
	TRY(check_tree_busy(d, ds)); /* before destroying anything */
	dsl_ds_t **v;
	size_t n = dsl_children(d, ds, &v);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = dsl_destroy_recursive(d, v[i]);
	free(v);
	TRY(rc);
	n = dsl_snapshots(d, ds, &v);
	for (size_t i = n; rc == 0 && i-- > 0;)
		rc = dsl_destroy(d, v[i]);
	free(v);
	TRY(rc);
	return dsl_destroy(d, ds);
}

/* ---- snapshots, rollback, clones ---- */

int dsl_snapshot(dsl_t *d, char *const *names, int n, int *failed)
{
	dsl_changed(d);
	return dsl_snapshot_ex(d, names, n, NULL, NULL, 0, failed);
}

int dsl_snapshot_ex(dsl_t *d, char *const *names, int n, const uint64_t *guids, const uint64_t *creations,
		    int nocommit, int *failed)
{
	dsl_ds_t **heads = calloc((size_t)n + 1, sizeof(*heads));
	if (!heads)
		return terr(ENOMEM, "out of memory");
	int rc = 0, i;
	uint64_t need = 0;
	if (failed)
		*failed = -1;
	for (i = 0; i < n && rc == 0; i++) {
		char dsn[DS_NAME_MAX], snap[DS_NAME_MAX], sep;
		rc = name_check(names[i], NAME_SNAPSHOT);
		if (rc == 0)
			rc = name_split(names[i], dsn, sizeof(dsn), snap, sizeof(snap), &sep);
		if (rc < 0)
			break;
		heads[i] = dsl_lookup(d, dsn);
		if (!heads[i]) {
			rc = terr(ENOENT, "dataset does not exist");
			break;
		}
		if ((heads[i]->flags & DSF_INCONSISTENT) && !nocommit && !guids) {
			rc = terr(EBUSY, "dataset is busy");
			break;
		}
		if (child_named(d, heads[i]->id, snap, DS_SNAPSHOT)) {
			rc = terr(EEXIST, "dataset already exists");
			break;
		}
		for (int k = 0; k < i; k++)
			if (heads[k] == heads[i])
				rc = terr(EINVAL, "cannot snapshot the same dataset twice in one operation");
		if (rc < 0)
			break;
		dsl_space_t s;
		dsl_space(d, heads[i], &s);
		need += s.refreservation < heads[i]->unique ? s.refreservation : heads[i]->unique;
	}
	if (rc < 0 && failed)
		*failed = i - 1 >= 0 && i - 1 < n ? i - 1 : 0;
	if (rc == 0 && need > dsl_pool_avail(d))
		rc = terr(ENOSPC, "out of space");
dsl_changed(d); /* validated: from here on it changes things */
	if (rc == 0)
		rc = sync_vols(d);
	for (i = 0; i < n && rc == 0; i++) {
		dsl_ds_t *h = heads[i];
		const char *snap = strchr(names[i], '@') + 1;
		dsl_ds_t *s = new_ds(d, h->id, snap, DS_SNAPSHOT);
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		s->tree = h->tree;
		s->volsize = h->volsize;
		s->volblocksize = h->volblocksize;
		s->referenced = h->referenced;
		s->ref_origin = h->ref_origin;
		s->lreferenced = h->lreferenced;
		s->lref_origin = h->lref_origin;
		if (guids && guids[i])
			s->guid = guids[i];
		if (creations && creations[i])
			s->creation = creations[i];
		if ((rc = dl_move(&s->dl, &h->dl)) < 0 || (rc = add_ds(d, s)) < 0) {
			ds_free(s);
			break;
		}
		h->unique = 0;
	}
	free(heads);
	if (rc == 0 && !nocommit)
		rc = dsl_commit(d);
	return rc;
}

int dsl_rollback(dsl_t *d, dsl_ds_t *snap)
{
	dsl_ds_t *h = dsl_by_id(d, snap->parent);
	if (!h || snap->type != DS_SNAPSHOT)
		return terr(EINVAL, "not a snapshot");
	if (prev_snap_txg(d, h) != snap->createtxg || snap->createtxg <= origin_txg(d, h))
		return terr(EEXIST, "more recent snapshots or bookmarks exist");
	TRY(check_busy(h));
dsl_changed(d); /* validated: from here on it changes things */
	drop_vol(h);
	if (h->type == DS_VOLUME)
		TRY(tree_walk(d->pool, &h->tree, snap->createtxg, 0, free_cb, d->pool));
	TRY(dl_remove(d->pool, &h->dl, 0, UINT64_MAX, 0));
	h->tree = snap->tree;
	h->referenced = snap->referenced;
	h->ref_origin = snap->ref_origin;
	h->lreferenced = snap->lreferenced;
	h->lref_origin = snap->lref_origin;
	h->unique = 0;
	h->volsize = snap->volsize;
	return 0;
}

int dsl_clone(dsl_t *d, dsl_ds_t *snap, const char *newname, char *const *props, int nprops)
{
	dsl_changed(d);
	dsl_ds_t *parent, *h = dsl_by_id(d, snap->parent);
	const char *last;
	if (snap->type != DS_SNAPSHOT || !h)
		return terr(EINVAL, "not a snapshot");
	TRY(name_check(newname, NAME_DATASET));
	if (dsl_lookup(d, newname))
		return terr(EEXIST, "dataset already exists");
	TRY(split_parent(d, newname, &parent, &last));
	dsl_ds_t *c = new_ds(d, parent->id, last, h->type);
	if (!c)
		return -ENOMEM;
	c->tree = snap->tree;
	c->volsize = snap->volsize;
	c->volblocksize = snap->volblocksize;
	c->referenced = snap->referenced;
	c->ref_origin = snap->referenced;
	c->lreferenced = snap->lreferenced;
	c->lref_origin = snap->lreferenced;
	c->origin = snap->id;
	uint64_t avail_before = dsl_pool_avail(d);
	int rc = add_ds(d, c);
	if (rc == 0)
		rc = set_props(d, c, props, nprops);
	if (rc == 0) { /* a refreservation given as a property must fit */
		dsl_space_t s;
		dsl_space(d, c, &s);
		if (s.usedrefreserv > avail_before)
			rc = terr(ENOSPC, "out of space");
	}
	if (rc < 0)
		remove_ds(d, c);
	return rc;
}

int dsl_set_volsize(dsl_t *d, dsl_ds_t *ds, uint64_t size)
{
	dsl_changed(d);
	if (ds->type != DS_VOLUME)
		return terr(EINVAL, "'volsize' does not apply to datasets of this type");
	if (size == 0)
		return terr(EINVAL, "volume size cannot be zero");
	if (size % ds->volblocksize)
		return terr(EINVAL, "volume size must be a multiple of volume block size");
	vol_t *v;
	TRY(dsl_vol_open(d, ds, &v));
	if (size < ds->volsize) {
		TRY(vol_zero(v, size, ds->volsize - size));
	}
	/* a thick volume's refreservation follows its size, as in OpenZFS */
	const dsl_prop_t *rp = dsl_prop_find(ds, "refreservation");
	uint64_t oldres = dsl_vol_refreservation(ds->volsize, ds->volblocksize);
	if (rp && strtoull(rp->value, NULL, 10) == oldres) {
		uint64_t newres = dsl_vol_refreservation(size, ds->volblocksize);
		if (newres > oldres && newres - oldres > dsl_pool_avail(d))
			return terr(ENOSPC, "out of space");
		char val[32];
		snprintf(val, sizeof(val), "%llu", (unsigned long long)newres);
		TRY(dsl_prop_set(d, ds, "refreservation", val, rp->source));
	}
	ds->volsize = size;
	v->size = size;
	return 0;
}

struct walk_all {
	int (*cb)(void *, const bp_t *);
	void *arg;
};

static int walk_tree_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	struct walk_all *w = arg;
	(void)level;
	(void)first;
	return w->cb(w->arg, bp);
}

static int chain_only_cb(void *arg, const bp_t *bp)
{
	struct walk_all *w = arg;
	return bp->type == BPT_DEADLIST ? w->cb(w->arg, bp) : 0;
}

int dsl_walk_all(dsl_t *d, int (*cb)(void *arg, const bp_t *bp), void *arg, uint64_t *errors)
{
	struct walk_all w = { cb, arg };
	for (size_t i = 0; i < d->nds; i++) {
		dsl_ds_t *ds = d->ds[i];
		if (ds->type == DS_FILESYSTEM || ds->type == DS_BOOKMARK || (ds->type == DS_SNAPSHOT && ds->tree.levels == 0))
			continue;
		/* each block is visited from the oldest tree holding it: a block of a snapshot
		 * born before the previous snapshot is also in that one */
		uint64_t min = 0;
		dsl_ds_t *head = ds->type == DS_SNAPSHOT ? dsl_by_id(d, ds->parent) : ds;
		for (size_t k = 0; k < d->nds; k++) {
			dsl_ds_t *s = d->ds[k];
			if (s->type == DS_SNAPSHOT && s->parent == head->id && s->createtxg > min &&
			    (ds->type != DS_SNAPSHOT || s->createtxg < ds->createtxg))
				min = s->createtxg;
		}
		if (min == 0)
			min = origin_txg(d, head);
		TRY(tree_walk_tolerant(d->pool, &ds->tree, min, walk_tree_cb, &w, errors));
		if (dl_walk(d->pool, &ds->dl, chain_only_cb, &w) < 0) {
			(*errors)++;
			terr_clear();
		}
	}
	if (!bp_is_hole(&d->pool->catalog)) {
		TRY(cb(arg, &d->pool->catalog));
		TRY(tree_walk_tolerant(d->pool, &d->cat.tree, 0, walk_tree_cb, &w, errors));
		TRY(tree_walk_tolerant(d->pool, &d->hist.tree, 0, walk_tree_cb, &w, errors));
	}
	for (size_t i = 0; i < d->pool->log_nbps; i++)
		TRY(cb(arg, &d->pool->log_bps[i]));
	return 0;
}

/* ---- promote ---- */

int dsl_written_since(dsl_t *d, dsl_ds_t *ds, dsl_ds_t *since, uint64_t *out)
{
	const dsl_ds_t *head = dsl_is_head(ds) ? ds : dsl_by_id(d, ds->parent);
	int related = since->type == DS_SNAPSHOT && (since->parent == head->id || since->id == head->origin);
	if (!related || (!dsl_is_head(ds) && since->createtxg > ds->createtxg))
		return terr(EINVAL, "'%s' is not an earlier snapshot of the same dataset", since->name);
	uint64_t l;
	if (ds->vol && ds->vol->tree.dirty_count)
		TRY(sync_vols(d));
	return bytes_born_after(d, ds, since->createtxg, out, &l);
}

int dsl_promote(dsl_t *d, dsl_ds_t *c)
{
	dsl_changed(d);
	if (c->type == DS_SNAPSHOT || !c->origin)
		return terr(EINVAL, "not a cloned filesystem");
	dsl_ds_t *o = dsl_by_id(d, c->origin), *h = o ? dsl_by_id(d, o->parent) : NULL;
	if (!h)
		return terr(EIO, "origin snapshot is missing");
	TRY(check_tree_busy(d, h)); /* snapshots move between the two */
	TRY(check_busy(c));
	dsl_ds_t *x = h->origin ? dsl_by_id(d, h->origin) : NULL;
	uint64_t xtxg = x ? x->createtxg : 0;
	dsl_ds_t **hs, **cs;
	size_t nh = dsl_snapshots(d, h, &hs), nc = dsl_snapshots(d, c, &cs);
	int rc = 0;
	for (size_t i = 0; i < nh && rc == 0; i++)
		for (size_t k = 0; k < nc && hs[i]->createtxg <= o->createtxg; k++)
			if (!strcmp(hs[i]->name, cs[k]->name))
			{
				char on[DS_NAME_MAX];
				dsl_fullname(d, hs[i], on, sizeof(on));
				rc = terr(EEXIST, "conflicting snapshot '%s' from parent '%s'", hs[i]->name, on);
			}
	if (rc == 0)
		rc = sync_vols(d);
	/* 1. re-key what the clone side killed from the origin: those blocks' first containing
	 *    snapshot is now one of the snapshots that move over */
	for (size_t k = 0; k <= nc && rc == 0; k++) {
		dsl_ds_t *t = k < nc ? cs[k] : c;
		bp_t *bps = NULL;
		size_t n = 0;
		rc = dl_extract(d->pool, &t->dl, 0, o->createtxg, &bps, &n);
		for (size_t i = 0; i < n && rc == 0; i++) {
			uint64_t best = x && xtxg >= bps[i].birth ? xtxg : UINT64_MAX;
			for (size_t j = 0; j < nh; j++)
				if (hs[j]->createtxg <= o->createtxg && hs[j]->createtxg >= bps[i].birth &&
				    hs[j]->createtxg < best)
					best = hs[j]->createtxg;
			rc = dl_insert(&t->dl, best, &bps[i]);
		}
		free(bps);
	}
	/* 2. the snapshots up to the origin move to the clone */
	for (size_t i = 0; i < nh && rc == 0; i++)
		if (hs[i]->createtxg <= o->createtxg)
			hs[i]->parent = c->id;
	/* 3. the old head becomes a clone of the origin; the clone inherits the old head's origin */
	c->origin = x ? x->id : 0;
	h->origin = o->id;
	/* 4. ref_origin counts bytes born at or before each head's (new) origin */
	for (size_t i = 0; i <= nh && rc == 0; i++) {
		dsl_ds_t *t = i < nh ? hs[i] : h;
		if (t->type == DS_SNAPSHOT && t->parent != h->id)
			continue;
		uint64_t after, lafter;
		rc = bytes_born_after(d, t, o->createtxg, &after, &lafter);
		t->ref_origin = t->referenced > after ? t->referenced - after : 0;
		t->lref_origin = t->lreferenced > lafter ? t->lreferenced - lafter : 0;
	}
	for (size_t k = 0; k <= nc && rc == 0; k++) {
		dsl_ds_t *t = k < nc ? cs[k] : c;
		rc = bytes_born_upto(d, t, xtxg, &t->ref_origin, &t->lref_origin);
	}
	free(hs);
	free(cs);
	return rc;
}

/* ---- bookmarks, holds, rename ---- */

int dsl_bookmark(dsl_t *d, dsl_ds_t *snap, const char *bookname)
{
	dsl_changed(d);
	char dsn[DS_NAME_MAX], bn[DS_NAME_MAX], sep;
	TRY(name_check(bookname, NAME_BOOKMARK));
	TRY(name_split(bookname, dsn, sizeof(dsn), bn, sizeof(bn), &sep));
	dsl_ds_t *head = dsl_lookup(d, dsn);
	if (!head || sep != '#')
		return terr(ENOENT, "dataset does not exist");
	if (snap->type != DS_SNAPSHOT && snap->type != DS_BOOKMARK)
		return terr(EINVAL, "source is not a snapshot or bookmark");
	if (head->id != snap->parent)
		return terr(EXDEV, "bookmark is in a different dataset than the snapshot");
	if (child_named(d, head->id, bn, DS_BOOKMARK))
		return terr(EEXIST, "bookmark exists");
	dsl_ds_t *b = new_ds(d, head->id, bn, DS_BOOKMARK);
	if (!b)
		return -ENOMEM;
	b->guid = snap->guid;
	b->createtxg = snap->createtxg;
	b->creation = snap->creation;
	int rc = add_ds(d, b);
	if (rc < 0)
		ds_free(b);
	return rc;
}

int dsl_hold(dsl_t *d, dsl_ds_t *snap, const char *tag)
{
	dsl_changed(d);
	(void)d;
	if (snap->type != DS_SNAPSHOT)
		return terr(EINVAL, "not a snapshot");
	if (!*tag || strlen(tag) >= DS_NAME_MAX)
		return terr(EINVAL, "invalid tag");
	for (size_t i = 0; i < snap->nholds; i++)
		if (!strcmp(snap->holds[i].tag, tag))
			return terr(EEXIST, "tag already exists on this dataset");
	dsl_hold_t *nh = realloc(snap->holds, (snap->nholds + 1) * sizeof(*nh));
	char *t = strdup(tag);
	if (!nh || !t) {
		free(t);
		if (nh)
			snap->holds = nh;
		return terr(ENOMEM, "out of memory");
	}
	snap->holds = nh;
	snap->holds[snap->nholds++] = (dsl_hold_t){ t, (uint64_t)time(NULL) };
	return 0;
}

int dsl_release(dsl_t *d, dsl_ds_t *snap, const char *tag)
{
	dsl_changed(d);
	(void)d;
	for (size_t i = 0; i < snap->nholds; i++)
		if (!strcmp(snap->holds[i].tag, tag)) {
			free(snap->holds[i].tag);
			snap->holds[i] = snap->holds[--snap->nholds];
			return 0;
		}
	return terr(ESRCH, "no such tag on this dataset");
}

int dsl_rename(dsl_t *d, dsl_ds_t *ds, const char *newname)
{
	char dsn[DS_NAME_MAX], last[DS_NAME_MAX], sep;
	TRY(name_split(newname, dsn, sizeof(dsn), last, sizeof(last), &sep));
	TRY(check_tree_busy(d, ds)); /* names of exports and running streams must not change */
	if (!dsl_is_head(ds)) {
		int want = ds->type == DS_SNAPSHOT ? '@' : '#';
		TRY(name_check(newname, ds->type == DS_SNAPSHOT ? NAME_SNAPSHOT : NAME_BOOKMARK));
		dsl_ds_t *head = dsl_lookup(d, dsn);
		if (sep != want || !head || head->id != ds->parent)
			return terr(EINVAL, "snapshots must be part of same dataset");
		if (child_named(d, head->id, last, ds->type))
			return terr(EEXIST, "dataset already exists");
		dsl_changed(d);
		snprintf(ds->name, sizeof(ds->name), "%s", last);
		return 0;
	}
	if (ds->parent == 0)
		return terr(EINVAL, "cannot rename a pool's root dataset");
	TRY(name_check(newname, NAME_DATASET));
	if (dsl_lookup(d, newname))
		return terr(EEXIST, "dataset already exists");
	dsl_ds_t *parent;
	const char *lastc;
	TRY(split_parent(d, newname, &parent, &lastc));
	for (dsl_ds_t *p = parent; p; p = p->parent ? dsl_by_id(d, p->parent) : NULL)
		if (p == ds)
			return terr(EINVAL, "New dataset name cannot be a descendant of current dataset name");
	dsl_changed(d);
	ds->parent = parent->id;
	snprintf(ds->name, sizeof(ds->name), "%s", lastc);
	return 0;
}

/* ---- receive support ---- */

int dsl_create_hidden(dsl_t *d, const char *name, dsl_ds_t *snap, uint64_t volsize, uint64_t volblocksize,
		      dsl_ds_t **out)
{
	dsl_changed(d);
	dsl_ds_t *parent;
	const char *last;
	if (dsl_lookup(d, name))
		return terr(EEXIST, "dataset already exists");
	TRY(split_parent(d, name, &parent, &last));
	dsl_ds_t *h = snap ? dsl_by_id(d, snap->parent) : NULL;
	dsl_ds_t *ds = new_ds(d, parent->id, last, snap ? h->type : (volsize ? DS_VOLUME : DS_FILESYSTEM));
	if (!ds)
		return -ENOMEM;
	if (snap) {
		ds->tree = snap->tree;
		ds->volsize = snap->volsize;
		ds->volblocksize = snap->volblocksize;
		ds->referenced = ds->ref_origin = snap->referenced;
		ds->lreferenced = ds->lref_origin = snap->lreferenced;
		ds->origin = snap->id;
	} else if (volsize) {
		tree_phys_init(&ds->tree, (uint32_t)volblocksize);
		ds->volsize = volsize;
		ds->volblocksize = volblocksize;
	}
	ds->flags = DSF_INCONSISTENT;
	int rc = add_ds(d, ds);
	if (rc < 0) {
		ds_free(ds);
		return rc;
	}
	*out = ds;
	return 0;
}

int dsl_recv_swap(dsl_t *d, dsl_ds_t *target, dsl_ds_t *partial)
{
	dsl_changed(d);
	dsl_ds_t *from = partial->origin ? dsl_by_id(d, partial->origin) : NULL;
	if (!from || from->parent != target->id || prev_snap_txg(d, target) != from->createtxg)
		return terr(EINVAL, "the partial receive does not start at the target's newest snapshot");
	if (target->unique || target->dl.n || (target->vol && target->vol->tree.dirty_count))
		return terr(EBUSY, "destination has been modified since most recent snapshot");
	TRY(check_busy(target));
	TRY(sync_vols(d));
	/* what the clone killed of the snapshot's blocks: into the target's deadlist, keyed by
	 * the target's own snapshots (a clone keys them all at the origin) */
	bp_t *bps = NULL;
	size_t n = 0;
	TRY(dl_extract(d->pool, &partial->dl, 0, UINT64_MAX, &bps, &n));
	uint64_t otxg = origin_txg(d, target);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = dl_insert(&target->dl, dl_key(d, target, bps[i].birth), &bps[i]);
		if (bps[i].birth <= otxg) { /* it was counted in the target's ref_origin */
			target->ref_origin -= bp_asize(&bps[i]) < target->ref_origin ? bp_asize(&bps[i]) : target->ref_origin;
			target->lref_origin -= bps[i].lsize < target->lref_origin ? bps[i].lsize : target->lref_origin;
		}
	}
	free(bps);
	TRY(rc);
	/* the clone's tree becomes the head's; its new blocks are the head's unique ones */
	drop_vol(target);
	drop_vol(partial);
	target->tree = partial->tree;
	target->volsize = partial->volsize;
	target->referenced = partial->referenced;
	target->lreferenced = partial->lreferenced;
	target->unique = partial->unique;
	remove_ds(d, partial);
	return 0;
}
