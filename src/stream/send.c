/* stream/send.c — send streams: plan (exact size, no data read) and write (see send.h). */
#include "stream/send.h"

#include <stdlib.h>
#include <string.h>

#include "util/compress.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/le.h"

/* One substream: from (NULL or a snapshot/bookmark) to a snapshot. */
typedef struct step {
	dsl_ds_t *from, *to;
} step_t;

typedef struct steps {
	step_t *v;
	size_t n, cap;
	dsl_ds_t **dsets; /* -R: the datasets, parents first */
	size_t ndsets;
} steps_t;

static int push_step(steps_t *s, dsl_ds_t *from, dsl_ds_t *to)
{
	TRY(GROW(s->v, s->cap, s->n, 16));
	s->v[s->n++] = (step_t){ from, to };
	return 0;
}

static dsl_ds_t *head_of(dsl_t *d, dsl_ds_t *s) { return dsl_by_id(d, s->parent); }

/* Is `from` (snapshot or bookmark) an ancestor state of snapshot `to`? */
static int is_ancestor(dsl_t *d, dsl_ds_t *from, dsl_ds_t *to)
{
	if (from->createtxg >= to->createtxg)
		return 0;
	for (dsl_ds_t *h = head_of(d, to); h; h = h->origin ? head_of(d, dsl_by_id(d, h->origin)) : NULL) {
		if (from->parent == h->id)
			return 1;
		dsl_ds_t *o = h->origin ? dsl_by_id(d, h->origin) : NULL;
		if (o && from->createtxg > o->createtxg)
			return 0; /* later than where this line of history branched off */
	}
	return 0;
}

/* Resolve -i/-I's argument relative to the to-snapshot. */
static int resolve_from(dsl_t *d, dsl_ds_t *to, const char *spec, dsl_ds_t **out)
{
	char full[1024], hn[DS_NAME_MAX];
	dsl_fullname(d, head_of(d, to), hn, sizeof(hn));
	if (spec[0] == '@' || spec[0] == '#')
		snprintf(full, sizeof(full), "%s%s", hn, spec);
	else if (!strchr(spec, '@') && !strchr(spec, '#'))
		snprintf(full, sizeof(full), "%s@%s", hn, spec);
	else
		snprintf(full, sizeof(full), "%s", spec);
	dsl_ds_t *f = dsl_lookup(d, full);
	if (!f || (f->type != DS_SNAPSHOT && f->type != DS_BOOKMARK))
		return terr(ENOENT, "incremental source '%s' does not exist", full);
	if (!is_ancestor(d, f, to))
		return terr(EXDEV, "incremental source (%s) does not belong to the same dataset or is not earlier than %s",
			    full, to->name);
	*out = f;
	return 0;
}

/* Snapshots of head with from.txg < txg <= to.txg (all of them with from NULL), in order. */
static int add_range(dsl_t *d, steps_t *s, dsl_ds_t *head, dsl_ds_t *from, dsl_ds_t *to, int all)
{
	if (!all)
		return push_step(s, from, to);
	dsl_ds_t **v;
	size_t n = dsl_snapshots(d, head, &v);
	dsl_ds_t *prev = from;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((from && v[i]->createtxg <= from->createtxg) || v[i]->createtxg > to->createtxg)
			continue;
		rc = push_step(s, prev, v[i]);
		prev = v[i];
	}
	free(v);
	return rc;
}

static void collect_tree(dsl_t *d, dsl_ds_t *ds, steps_t *s)
{
	if (strchr(ds->name, '%'))
		return; /* partial receives are not sent */
	dsl_ds_t **nv = realloc(s->dsets, (s->ndsets + 1) * sizeof(*nv));
	if (!nv)
		return;
	s->dsets = nv;
	s->dsets[s->ndsets++] = ds;
	dsl_ds_t **c;
	size_t n = dsl_children(d, ds, &c);
	for (size_t i = 0; i < n; i++)
		collect_tree(d, c[i], s);
	free(c);
}

static int plan_steps(dsl_t *d, const send_opts_t *o, steps_t *s)
{
	memset(s, 0, sizeof(*s));
	dsl_ds_t *to = dsl_lookup(d, o->to);
	if (!to)
		return terr(ENOENT, "dataset does not exist");
	if (to->type != DS_SNAPSHOT)
		return terr(EINVAL, "'%s' is not a snapshot", o->to);
	dsl_ds_t *from = NULL;
	if (o->from)
		TRY(resolve_from(d, to, o->from, &from));
	if (!o->replicate)
		return add_range(d, s, head_of(d, to), from, to, o->intermediates);
	if (from && from->type != DS_SNAPSHOT)
		return terr(EINVAL, "a replication stream (-R) needs a snapshot, not a bookmark, as its source");
	collect_tree(d, head_of(d, to), s);
	int rc = 0;
	for (size_t i = 0; i < s->ndsets && rc == 0; i++) {
		dsl_ds_t *h = s->dsets[i], **v;
		size_t n = dsl_snapshots(d, h, &v);
		dsl_ds_t *dto = NULL, *dfrom = NULL, *first = NULL;
		for (size_t k = 0; k < n; k++) {
			if (!strcmp(v[k]->name, to->name))
				dto = v[k];
			if (from && !strcmp(v[k]->name, from->name))
				dfrom = v[k];
			if (!first)
				first = v[k];
		}
		free(v);
		if (!dto)
			continue; /* no snapshot of that name: not part of the package */
		if (dfrom) {
			rc = add_range(d, s, h, dfrom, dto, o->intermediates);
		} else { /* new since the source (or a full package): everything up to tosnap */
			rc = push_step(s, NULL, first);
			if (rc == 0 && first != dto)
				rc = add_range(d, s, h, first, dto, 1);
		}
	}
	return rc;
}

static void free_steps(steps_t *s)
{
	free(s->v);
	free(s->dsets);
}

/* ---- records of one substream ---- */

struct walkctx {
	dsl_t *d;
	const send_opts_t *o;
	dsl_ds_t *to;
	uint64_t min_birth, dblksz, volsize;
	sr_writer_t *w;   /* NULL: only count */
	uint64_t bytes, records;
	uint8_t *buf;
	void (*progress)(void *, uint64_t);
	void *parg;
};

static int emit_cb(void *arg, const bp_t *bp, int level, uint64_t first)
{
	struct walkctx *c = arg;
	uint64_t off = first * c->dblksz;
	if (bp_is_hole(bp)) {
		uint64_t span = c->dblksz;
		for (int l = 0; l < level; l++)
			span *= TREE_FANOUT;
		uint64_t end = off + span > c->volsize ? c->volsize : off + span;
		if (end <= c->o->resume_offset || off >= end)
			return 0;
		if (off < c->o->resume_offset)
			off = c->o->resume_offset;
		c->bytes += SR_HDR;
		c->records++;
		return c->w ? srw_record(c->w, SR_FREE, 0, off, end - off, NULL, 0) : 0;
	}
	if (level > 0 || off < c->o->resume_offset || off >= c->volsize)
		return 0;
	int comp = c->o->compressed && bp->comp != COMP_OFF;
	uint64_t len = comp ? bp->psize : c->dblksz;
	c->bytes += SR_HDR + len;
	c->records++;
	if (!c->w)
		return 0;
	if (bp->lsize != c->dblksz || bp->type != BPT_DATA)
		return terr(EIO, "corrupt block pointer at offset %llu", (unsigned long long)off);
	int rc = comp ? pool_read_stored(c->d->pool, bp, c->buf) : pool_read_block(c->d->pool, bp, c->buf);
	if (rc < 0)
		return terr_prefix(rc, "cannot read %s at offset %llu", c->to->name, (unsigned long long)off);
	TRY(srw_record(c->w, SR_WRITE, (uint16_t)(comp ? bp->comp : 0), off, c->dblksz, c->buf, len));
	if (c->progress)
		c->progress(c->parg, c->w->bytes);
	return 0;
}

static void fill_begin(dsl_t *d, const send_opts_t *o, const step_t *st, sr_begin_t *b, int with_props)
{
	memset(b, 0, sizeof(*b));
	b->version = STREAM_VERSION;
	b->features = (o->compressed ? SRF_COMPRESSED : 0) | (with_props ? SRF_PROPS : 0) |
		      (o->resuming ? SRF_RESUME : 0);
	dsl_ds_t *h = head_of(d, st->to);
	b->dstype = st->to->tree.levels ? DS_VOLUME : DS_FILESYSTEM;
	b->volsize = st->to->volsize;
	b->volblocksize = (uint32_t)st->to->volblocksize;
	b->creation = st->to->creation;
	b->to_guid = st->to->guid;
	b->from_guid = st->from ? st->from->guid : 0;
	dsl_fullname(d, st->to, b->toname, sizeof(b->toname));
	if (st->from)
		dsl_fullname(d, st->from, b->fromname, sizeof(b->fromname));
	b->resume_offset = o->resume_offset;
	if (with_props) {
		b->props = calloc(h->nprops ? h->nprops : 1, sizeof(*b->props));
		/* the dataset's own values: local, else received */
		for (size_t i = 0; b->props && i < h->nprops; i++)
			if (dsl_prop_find(h, h->props[i].name) == &h->props[i] && h->props[i].name[0] != '%') {
				b->props[b->nprops].name = h->props[i].name;
				b->props[b->nprops++].value = h->props[i].value;
			}
	}
}

static int one_stream(dsl_t *d, const send_opts_t *o, const step_t *st, sr_writer_t *w, struct walkctx *c,
		      int with_props)
{
	sr_begin_t b;
	fill_begin(d, o, st, &b, with_props);
	uint64_t before = c->bytes;
	c->bytes += sr_begin_size(&b);
	int rc = w ? srw_begin(w, &b) : 0;
	free(b.props); /* the strings belong to the dataset */
	c->to = st->to;
	c->records = 0;
	c->dblksz = st->to->volblocksize;
	c->volsize = st->to->volsize;
	c->min_birth = st->from ? st->from->createtxg : 0;
	if (rc == 0 && st->to->tree.levels)
		rc = tree_walk(d->pool, &st->to->tree, c->min_birth, st->from != NULL, emit_cb, c);
	if (rc == 0 && w)
		rc = srw_record(w, SR_END, 0, st->to->guid, c->records + 1, NULL, 0);
	c->bytes += SR_HDR;
	(void)before;
	return rc;
}

/* The -R package description (PKG_BEGIN payload). */
static int package(dsl_t *d, const steps_t *s, dsl_ds_t *top, dsl_ds_t *to, const char *fromname, uint8_t **out,
		   size_t *len)
{
	size_t cap = 4096;
	char topname[DS_NAME_MAX];
	dsl_fullname(d, top, topname, sizeof(topname));
	for (size_t i = 0; i < s->ndsets; i++) {
		cap += 1024 + s->dsets[i]->nprops * (2 * 2 + PROP_NAME_MAX + PROP_VALUE_MAX);
		dsl_ds_t **v;
		cap += dsl_snapshots(d, s->dsets[i], &v) * 300;
		free(v);
	}
	uint8_t *buf = malloc(cap);
	if (!buf)
		return terr(ENOMEM, "out of memory");
	le_cur_t c = le_cur(buf, cap);
	le_w32(&c, STREAM_VERSION);
	le_wstr(&c, topname);
	le_wstr(&c, to->name);
	le_wstr(&c, fromname ? fromname : "");
	le_w32(&c, (uint32_t)s->ndsets);
	for (size_t i = 0; i < s->ndsets; i++) {
		dsl_ds_t *h = s->dsets[i];
		char full[DS_NAME_MAX];
		dsl_fullname(d, h, full, sizeof(full));
		le_wstr(&c, full + strlen(topname)); /* "" for the top, "/child/..." below */
		le_w8(&c, h->type);
		le_w64(&c, h->guid);
		uint32_t np = 0;
		for (size_t k = 0; k < h->nprops; k++)
			np += dsl_prop_find(h, h->props[k].name) == &h->props[k] && h->props[k].name[0] != '%';
		le_w32(&c, np);
		for (size_t k = 0; k < h->nprops; k++)
			if (dsl_prop_find(h, h->props[k].name) == &h->props[k] && h->props[k].name[0] != '%') {
				le_wstr(&c, h->props[k].name);
				le_wstr(&c, h->props[k].value);
			}
		dsl_ds_t **v;
		size_t n = dsl_snapshots(d, h, &v), keep = 0;
		for (size_t k = 0; k < n; k++)
			keep += v[k]->createtxg <= to->createtxg;
		le_w32(&c, (uint32_t)keep);
		for (size_t k = 0; k < n; k++)
			if (v[k]->createtxg <= to->createtxg) {
				le_wstr(&c, v[k]->name);
				le_w64(&c, v[k]->guid);
			}
		free(v);
	}
	if (!c.ok || c.pos > SR_MAX_PAYLOAD) {
		free(buf);
		return terr(E2BIG, "replication package description too large");
	}
	*out = buf;
	*len = c.pos;
	return 0;
}

static int run(dsl_t *d, const send_opts_t *o, sr_writer_t *w, send_plan_t *plan,
	       void (*progress)(void *, uint64_t), void *parg)
{
	steps_t s;
	int rc = plan_steps(d, o, &s);
	if (rc == 0 && s.n == 0)
		rc = terr(ENOENT, "no snapshots to send");
	/* under tarnd other threads run while the stream is written: keep what it reads alive */
	int marked = rc == 0;
	for (size_t i = 0; marked && i < s.n; i++) {
		dsl_busy(s.v[i].to, 1);
		if (s.v[i].from)
			dsl_busy(s.v[i].from, 1);
	}
	for (size_t i = 0; marked && i < s.ndsets; i++)
		dsl_busy(s.dsets[i], 1);
	struct walkctx c = { .d = d, .o = o, .w = w, .progress = progress, .parg = parg };
	if (rc == 0 && w && !(c.buf = malloc(1u << 20)))
		rc = terr(ENOMEM, "out of memory");
	dsl_ds_t *to = rc == 0 ? dsl_lookup(d, o->to) : NULL;
	if (rc == 0 && o->replicate) {
		uint8_t *pkg = NULL;
		size_t plen = 0;
		rc = package(d, &s, head_of(d, to), to, o->from, &pkg, &plen);
		if (rc == 0) {
			c.bytes += SR_HDR + plen;
			if (w)
				rc = srw_record(w, SR_PKG_BEGIN, 0, 0, 0, pkg, plen);
			free(pkg);
		}
	}
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		uint64_t before = c.bytes;
		rc = one_stream(d, o, &s.v[i], w, &c, o->props || o->replicate);
		if (rc == 0 && plan) {
			send_item_t *ni = realloc(plan->items, (plan->n + 1) * sizeof(*ni));
			if (!ni) {
				rc = terr(ENOMEM, "out of memory");
				break;
			}
			plan->items = ni;
			send_item_t *it = &plan->items[plan->n++];
			memset(it, 0, sizeof(*it));
			dsl_fullname(d, s.v[i].to, it->to, sizeof(it->to));
			if (s.v[i].from)
				dsl_fullname(d, s.v[i].from, it->from, sizeof(it->from));
			it->size = c.bytes - before;
		}
	}
	if (rc == 0 && o->replicate) {
		c.bytes += SR_HDR;
		if (w)
			rc = srw_record(w, SR_PKG_END, 0, s.n, 0, NULL, 0);
	}
	if (plan)
		plan->total = c.bytes;
	if (rc == 0 && w && fflush(w->f) != 0)
		rc = terr(EIO, "write of the stream failed: %s", strerror(errno));
	free(c.buf);
	for (size_t i = 0; marked && i < s.n; i++) {
		dsl_busy(s.v[i].to, -1);
		if (s.v[i].from)
			dsl_busy(s.v[i].from, -1);
	}
	for (size_t i = 0; marked && i < s.ndsets; i++)
		dsl_busy(s.dsets[i], -1);
	free_steps(&s);
	return rc;
}

int stream_plan(dsl_t *d, const send_opts_t *o, send_plan_t *plan)
{
	memset(plan, 0, sizeof(*plan));
	return run(d, o, NULL, plan, NULL, NULL);
}

void send_plan_free(send_plan_t *plan)
{
	free(plan->items);
	memset(plan, 0, sizeof(*plan));
}

int stream_send(dsl_t *d, const send_opts_t *o, FILE *out, void (*progress)(void *, uint64_t), void *arg)
{
	sr_writer_t w;
	srw_init(&w, out);
	return run(d, o, &w, NULL, progress, arg);
}

/* ---- resume tokens: "1-" then the hex of a small record ---- */

void resume_token_encode(const resume_token_t *t, char *out, size_t len)
{
	uint8_t buf[1100];
	le_cur_t c = le_cur(buf, sizeof(buf));
	le_w64(&c, t->to_guid);
	le_w64(&c, t->from_guid);
	le_w64(&c, t->offset);
	le_w32(&c, t->features);
	le_wstr(&c, t->toname);
	le_wstr(&c, t->fromname);
	size_t pos = (size_t)snprintf(out, len, "1-");
	for (size_t i = 0; i < c.pos && pos + 2 < len; i++)
		pos += (size_t)snprintf(out + pos, len - pos, "%02x", buf[i]);
}

int resume_token_decode(const char *s, resume_token_t *t)
{
	uint8_t buf[1100];
	size_t n = 0;
	memset(t, 0, sizeof(*t));
	if (strncmp(s, "1-", 2))
		return terr(EINVAL, "invalid resume token: unknown version");
	for (s += 2; s[0] && s[1] && n < sizeof(buf); s += 2) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			return terr(EINVAL, "invalid resume token");
		buf[n++] = (uint8_t)v;
	}
	le_cur_t c = le_cur(buf, n);
	t->to_guid = le_r64(&c);
	t->from_guid = le_r64(&c);
	t->offset = le_r64(&c);
	t->features = le_r32(&c);
	le_rstr(&c, t->toname, sizeof(t->toname));
	le_rstr(&c, t->fromname, sizeof(t->fromname));
	if (!c.ok || c.pos != n || *s)
		return terr(EINVAL, "invalid resume token");
	return 0;
}
