/* dsl/catalog.c — catalog encoding (see catalog.h). */
#include "dsl/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "dsl/bobj.h"
#include "dsl/deadlist.h"
#include "util/compress.h"
#include "util/err.h"
#include "util/le.h"

#define CAT_MAGIC 0x54414354u /* "TCAT" */
#define CAT_VERSION 1
#define CAT_ROOT_SIZE 512
#define REC_MAGIC 0x52534454u /* "TDSR" */

typedef struct growbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
} growbuf_t;

static void gb_need(growbuf_t *g, size_t n)
{
	if (g->err || g->len + n <= g->cap)
		return;
	size_t nc = g->cap ? g->cap : 65536;
	while (nc < g->len + n)
		nc *= 2;
	uint8_t *np = realloc(g->p, nc);
	if (!np) {
		g->err = 1;
		return;
	}
	g->p = np;
	g->cap = nc;
}
static void gb_bytes(growbuf_t *g, const void *b, size_t n)
{
	gb_need(g, n);
	if (!g->err) {
		memcpy(g->p + g->len, b, n);
		g->len += n;
	}
}
static void gb_u8(growbuf_t *g, uint8_t v) { gb_bytes(g, &v, 1); }
static void gb_u32(growbuf_t *g, uint32_t v) { uint8_t b[4]; le_put32(b, v); gb_bytes(g, b, 4); }
static void gb_u64(growbuf_t *g, uint64_t v) { uint8_t b[8]; le_put64(b, v); gb_bytes(g, b, 8); }
static void gb_str(growbuf_t *g, const char *s) { size_t n = strlen(s); gb_u32(g, (uint32_t)n); gb_bytes(g, s, n); }
static void gb_bp(growbuf_t *g, const bp_t *bp) { uint8_t b[BP_SIZE]; bp_encode(bp, b); gb_bytes(g, b, BP_SIZE); }

static void enc_props(growbuf_t *g, const dsl_prop_t *pr, size_t n)
{
	gb_u32(g, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		gb_str(g, pr[i].name);
		gb_str(g, pr[i].value);
		gb_u8(g, pr[i].source);
	}
}

static void enc_ds(growbuf_t *g, const dsl_ds_t *ds)
{
	gb_u32(g, REC_MAGIC);
	gb_u64(g, ds->id);
	gb_u64(g, ds->parent);
	gb_str(g, ds->name);
	gb_u8(g, ds->type);
	gb_u64(g, ds->guid);
	gb_u64(g, ds->createtxg);
	gb_u64(g, ds->creation);
	gb_bp(g, &ds->tree.root);
	gb_u32(g, ds->tree.levels);
	gb_u32(g, ds->tree.dblksz);
	gb_u64(g, ds->volsize);
	gb_u64(g, ds->volblocksize);
	gb_u64(g, ds->referenced);
	gb_u64(g, ds->ref_origin);
	gb_u64(g, ds->lreferenced);
	gb_u64(g, ds->lref_origin);
	gb_u64(g, ds->unique);
	gb_u64(g, ds->origin);
	gb_u32(g, ds->flags);
	enc_props(g, ds->props, ds->nprops);
	gb_u32(g, (uint32_t)ds->nholds);
	for (size_t i = 0; i < ds->nholds; i++) {
		gb_str(g, ds->holds[i].tag);
		gb_u64(g, ds->holds[i].time);
	}
	gb_u32(g, (uint32_t)ds->dl.n);
	for (size_t i = 0; i < ds->dl.n; i++) {
		gb_u64(g, ds->dl.e[i].key);
		gb_u64(g, ds->dl.e[i].bytes);
		gb_u64(g, ds->dl.e[i].lbytes);
		gb_u64(g, ds->dl.e[i].count);
		gb_bp(g, &ds->dl.e[i].chain);
	}
}

/* ---- decoding (untrusted) ---- */

static char *dec_str(le_cur_t *c, size_t max)
{
	uint32_t n = le_r32(c);
	if (!c->ok || n > max || !le_room(c, n))
		return (c->ok = 0), NULL;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return (c->ok = 0), NULL;
	memcpy(s, c->p + c->pos, n);
	s[n] = 0;
	c->pos += n;
	if (strlen(s) != n) {
		free(s);
		return (c->ok = 0), NULL;
	}
	return s;
}

static int dec_bp(le_cur_t *c, bp_t *bp)
{
	uint8_t b[BP_SIZE];
	le_rbytes(c, b, BP_SIZE);
	if (!c->ok || bp_decode(b, bp) < 0)
		return (c->ok = 0), -1;
	return 0;
}

static int dec_props(le_cur_t *c, dsl_prop_t **out, size_t *nout)
{
	uint32_t n = le_r32(c);
	if (!c->ok || n > (c->len - c->pos) / 9)
		return (c->ok = 0), -1;
	dsl_prop_t *pr = calloc(n ? n : 1, sizeof(*pr));
	if (!pr)
		return (c->ok = 0), -1;
	*out = pr;
	*nout = 0;
	for (uint32_t i = 0; i < n && c->ok; i++) {
		pr[i].name = dec_str(c, PROP_NAME_MAX - 1);
		pr[i].value = dec_str(c, PROP_VALUE_MAX - 1);
		pr[i].source = le_r8(c);
		*nout = i + 1;
		if (pr[i].source != PROP_LOCAL && pr[i].source != PROP_RECEIVED)
			c->ok = 0;
	}
	return c->ok ? 0 : -1;
}

void ds_free(dsl_ds_t *ds)
{
	if (!ds)
		return;
	for (size_t i = 0; i < ds->nprops; i++) {
		free(ds->props[i].name);
		free(ds->props[i].value);
	}
	free(ds->props);
	for (size_t i = 0; i < ds->nholds; i++)
		free(ds->holds[i].tag);
	free(ds->holds);
	dl_fini(&ds->dl);
	if (ds->vol) {
		tree_close(&ds->vol->tree);
		free(ds->vol);
	}
	free(ds);
}

static dsl_ds_t *dec_ds(le_cur_t *c)
{
	if (le_r32(c) != REC_MAGIC)
		return (c->ok = 0), NULL;
	dsl_ds_t *ds = calloc(1, sizeof(*ds));
	if (!ds)
		return (c->ok = 0), NULL;
	ds->id = le_r64(c);
	ds->parent = le_r64(c);
	char *nm = dec_str(c, DS_NAME_MAX - 1);
	if (nm) {
		strcpy(ds->name, nm);
		free(nm);
	}
	ds->type = le_r8(c);
	ds->guid = le_r64(c);
	ds->createtxg = le_r64(c);
	ds->creation = le_r64(c);
	dec_bp(c, &ds->tree.root);
	ds->tree.levels = le_r32(c);
	ds->tree.dblksz = le_r32(c);
	ds->volsize = le_r64(c);
	ds->volblocksize = le_r64(c);
	ds->referenced = le_r64(c);
	ds->ref_origin = le_r64(c);
	ds->lreferenced = le_r64(c);
	ds->lref_origin = le_r64(c);
	ds->unique = le_r64(c);
	ds->origin = le_r64(c);
	ds->flags = le_r32(c);
	dec_props(c, &ds->props, &ds->nprops);
	uint32_t nh = le_r32(c);
	if (c->ok && nh <= (c->len - c->pos) / 12) {
		ds->holds = calloc(nh ? nh : 1, sizeof(*ds->holds));
		if (!ds->holds)
			c->ok = 0;
		for (uint32_t i = 0; i < nh && c->ok; i++) {
			ds->holds[i].tag = dec_str(c, DS_NAME_MAX - 1);
			ds->holds[i].time = le_r64(c);
			ds->nholds = i + 1;
		}
	} else {
		c->ok = 0;
	}
	uint32_t n = le_r32(c);
	if (c->ok && n <= (c->len - c->pos) / (32 + BP_SIZE)) {
		ds->dl.e = calloc(n ? n : 1, sizeof(dl_entry_t));
		ds->dl.cap = n;
		if (!ds->dl.e)
			c->ok = 0;
		for (uint32_t i = 0; i < n && c->ok; i++) {
			dl_entry_t *e = &ds->dl.e[i];
			e->key = le_r64(c);
			e->bytes = le_r64(c);
			e->lbytes = le_r64(c);
			e->count = le_r64(c);
			dec_bp(c, &e->chain);
			ds->dl.n = i + 1;
		}
	} else {
		c->ok = 0;
	}
	int has_tree = ds->type == DS_VOLUME || (ds->type == DS_SNAPSHOT && ds->tree.levels != 0);
	int bad = ds->id == 0 || ds->type < DS_FILESYSTEM || ds->type > DS_BOOKMARK || !ds->name[0] ||
		  (ds->flags & ~DSF_INCONSISTENT) || (ds->flags && !dsl_is_head(ds)) ||
		  (ds->nholds && ds->type != DS_SNAPSHOT) || (ds->type == DS_BOOKMARK && (ds->dl.n || ds->nprops)) ||
		  (has_tree &&
		   (ds->tree.levels < 2 || ds->tree.levels > TREE_MAX_LEVELS || ds->tree.dblksz < 512 ||
		    ds->tree.dblksz > (128u << 10) || (ds->tree.dblksz & (ds->tree.dblksz - 1)) ||
		    ds->volblocksize != ds->tree.dblksz || ds->volsize == 0 || ds->volsize % ds->volblocksize)) ||
		  (!has_tree && (ds->tree.levels || ds->volsize || ds->volblocksize));
	if (!c->ok || bad) {
		c->ok = 0;
		ds_free(ds);
		return NULL;
	}
	return ds;
}

static int cat_decode(dsl_t *d, uint8_t *buf, size_t len)
{
	le_cur_t c = le_cur(buf, len);
	if (le_r32(&c) != CAT_MAGIC || le_r32(&c) != CAT_VERSION)
		return terr(EIO, "catalog is corrupt or of an unknown version");
	d->next_id = le_r64(&c);
	if (dec_props(&c, &d->pprops, &d->npprops) < 0)
		return terr(EIO, "catalog is corrupt");
	uint64_t n = le_r64(&c);
	if (!c.ok || n > len / 64)
		return terr(EIO, "catalog is corrupt");
	d->ds = calloc(n ? n : 1, sizeof(*d->ds));
	if (!d->ds)
		return terr(ENOMEM, "out of memory");
	d->capds = n ? n : 1;
	for (uint64_t i = 0; i < n; i++) {
		dsl_ds_t *ds = dec_ds(&c);
		if (!ds)
			return terr(EIO, "catalog is corrupt (record %llu)", (unsigned long long)i);
		d->ds[d->nds++] = ds;
	}
	if (c.pos != len)
		return terr(EIO, "catalog is corrupt (trailing bytes)");
	/* referential checks: ids unique and below next_id, parents exist */
	for (size_t i = 0; i < d->nds; i++) {
		dsl_ds_t *ds = d->ds[i];
		if (ds->id >= d->next_id)
			return terr(EIO, "catalog is corrupt (id)");
		for (size_t k = 0; k < i; k++)
			if (d->ds[k]->id == ds->id)
				return terr(EIO, "catalog is corrupt (duplicate id)");
	}
	for (size_t i = 0; i < d->nds; i++) {
		dsl_ds_t *ds = d->ds[i];
		dsl_ds_t *par = ds->parent ? dsl_by_id(d, ds->parent) : NULL;
		if ((ds->parent && (!par || !dsl_is_head(par))) || (!ds->parent && ds->type != DS_FILESYSTEM) ||
		    (dsl_is_head(ds) && par && par->type != DS_FILESYSTEM) ||
		    (ds->type == DS_SNAPSHOT && (!par || (par->type == DS_VOLUME) != (ds->tree.levels != 0))) ||
		    (ds->type == DS_BOOKMARK && (!par || !dsl_is_head(par))) ||
		    (ds->origin && (!dsl_by_id(d, ds->origin) || dsl_by_id(d, ds->origin)->type != DS_SNAPSHOT)))
			return terr(EIO, "catalog is corrupt (links)");
	}
	/* exactly one root; parent chains end at it (no loops); names unique among siblings */
	size_t roots = 0;
	for (size_t i = 0; i < d->nds; i++) {
		dsl_ds_t *ds = d->ds[i];
		roots += ds->parent == 0;
		size_t steps = 0;
		for (dsl_ds_t *p = ds; p && p->parent; p = dsl_by_id(d, p->parent))
			if (++steps > d->nds)
				return terr(EIO, "catalog is corrupt (parent loop)");
		for (size_t k = 0; k < i; k++) {
			dsl_ds_t *o = d->ds[k];
			if (o->parent == ds->parent && !strcmp(o->name, ds->name) &&
			    (dsl_is_head(o) == dsl_is_head(ds)) && (dsl_is_head(o) || o->type == ds->type))
				return terr(EIO, "catalog is corrupt (duplicate name '%s')", ds->name);
		}
	}
	if (roots != 1)
		return terr(EIO, "catalog is corrupt (%zu roots)", roots);
	return 0;
}

int catalog_load(dsl_t *d, const bp_t *root)
{
	uint8_t rb[CAT_ROOT_SIZE];
	if (root->type != BPT_CATALOG || root->lsize != CAT_ROOT_SIZE)
		return terr(EIO, "catalog root pointer is corrupt");
	TRY(pool_read_block(d->pool, root, rb));
	le_cur_t c = le_cur(rb, sizeof(rb));
	uint32_t magic = le_r32(&c), ver = le_r32(&c);
	if (!c.ok || magic != CAT_MAGIC)
		return terr(EIO, "catalog root is corrupt");
	if (ver != CAT_VERSION)
		return terr(ENOTSUP, "catalog version %u is not supported by this tarn (%u)", ver, CAT_VERSION);
	bobj_t cat, hist;
	TRY(bobj_decode(&cat, &c));
	TRY(bobj_decode(&hist, &c));
	uint8_t *buf;
	TRY(bobj_read(d->pool, &cat, &buf));
	int rc = cat_decode(d, buf, cat.len);
	free(buf);
	if (rc == 0) {
		d->cat = cat;
		d->hist = hist;
	}
	return rc;
}

int catalog_save(dsl_t *d, bp_t *root)
{
	growbuf_t g = { 0 };
	gb_u32(&g, CAT_MAGIC);
	gb_u32(&g, CAT_VERSION);
	gb_u64(&g, d->next_id);
	enc_props(&g, d->pprops, d->npprops);
	gb_u64(&g, d->nds);
	for (size_t i = 0; i < d->nds; i++)
		enc_ds(&g, d->ds[i]);
	if (g.err) {
		free(g.p);
		return terr(ENOMEM, "out of memory");
	}
	int rc = bobj_write(d->pool, &d->cat, g.p, g.len);
	free(g.p);
	TRY(rc);
	uint8_t rb[CAT_ROOT_SIZE] = { 0 };
	le_cur_t c = le_cur(rb, sizeof(rb));
	le_w32(&c, CAT_MAGIC);
	le_w32(&c, CAT_VERSION);
	bobj_encode(&d->cat, &c);
	bobj_encode(&d->hist, &c);
	TRY(pool_write_block(d->pool, BPT_CATALOG, 0, rb, CAT_ROOT_SIZE, COMP_OFF, CKSUM_XXH3_128, root));
	if (!bp_is_hole(&d->pool->catalog))
		TRY(pool_free_block(d->pool, &d->pool->catalog));
	return 0;
}
