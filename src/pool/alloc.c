/* pool/alloc.c — free-extent allocator (see alloc.h). */
#include "pool/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "pool/bp.h"
#include "util/err.h"
#include "util/grow.h"

#define ROTOR_CHUNK (8ull << 20) /* bytes placed on one vdev before moving to the next */

static int ext_cmp(const avl_node_t *a, const avl_node_t *b)
{
	const extent_t *x = avl_entry(a, extent_t, node), *y = avl_entry(b, extent_t, node);
	return x->start < y->start ? -1 : x->start > y->start;
}

int recs_push(space_recs_t *rs, const space_rec_t *r)
{
	if (rs->n > rs->sealed) { /* coalesce with the previous record when contiguous */
		space_rec_t *l = &rs->r[rs->n - 1];
		if (l->txg == r->txg && l->vdev == r->vdev && l->is_free == r->is_free &&
		    l->offset + l->len == r->offset) {
			l->len += r->len;
			return 0;
		}
	}
	TRY(GROW(rs->r, rs->cap, rs->n, 256));
	rs->r[rs->n++] = *r;
	return 0;
}

/* Insert [start, start+len) as free, merging with neighbours. */
static int free_insert(ms_vdev_t *m, uint64_t start, uint64_t len)
{
	extent_t key = { .start = start };
	avl_node_t *pn = avl_floor(&m->free, &key.node);
	extent_t *prev = pn ? avl_entry(pn, extent_t, node) : NULL;
	avl_node_t *nn = avl_lower_bound(&m->free, &key.node);
	extent_t *next = nn ? avl_entry(nn, extent_t, node) : NULL;
	if ((prev && prev->start + prev->len > start) || (next && start + len > next->start) ||
	    start < m->lo || start + len > m->hi)
		return terr(EINVAL, "space map corrupt: double free of [%llu, +%llu)",
			    (unsigned long long)start, (unsigned long long)len);
	m->free_bytes += len;
	if (prev && prev->start + prev->len == start) {
		prev->len += len;
		if (next && prev->start + prev->len == next->start) {
			prev->len += next->len;
			avl_remove(&m->free, &next->node);
			free(next);
			m->nextents--;
		}
		return 0;
	}
	if (next && start + len == next->start) {
		avl_remove(&m->free, &next->node);
		next->start = start;
		next->len += len;
		avl_insert(&m->free, &next->node);
		return 0;
	}
	extent_t *e = malloc(sizeof(*e));
	if (!e)
		return terr(ENOMEM, "out of memory");
	e->start = start;
	e->len = len;
	avl_insert(&m->free, &e->node);
	m->nextents++;
	return 0;
}

/* Remove [start, start+len) from the free tree; it must be entirely free. */
static int free_remove(ms_vdev_t *m, uint64_t start, uint64_t len)
{
	extent_t key = { .start = start };
	avl_node_t *n = avl_floor(&m->free, &key.node);
	extent_t *e = n ? avl_entry(n, extent_t, node) : NULL;
	if (!e || e->start + e->len < start + len)
		return terr(EINVAL, "space map corrupt: allocation of [%llu, +%llu) overlaps used space",
			    (unsigned long long)start, (unsigned long long)len);
	m->free_bytes -= len;
	uint64_t end = e->start + e->len;
	if (e->start == start) {
		if (e->len == len) {
			avl_remove(&m->free, &e->node);
			free(e);
			m->nextents--;
		} else {
			avl_remove(&m->free, &e->node);
			e->start += len;
			e->len -= len;
			avl_insert(&m->free, &e->node);
		}
		return 0;
	}
	e->len = start - e->start;
	if (start + len < end) {
		extent_t *t = malloc(sizeof(*t));
		if (!t)
			return terr(ENOMEM, "out of memory");
		t->start = start + len;
		t->len = end - t->start;
		avl_insert(&m->free, &t->node);
		m->nextents++;
	}
	return 0;
}

int alloc_init(allocator_t *a, int nvdevs, const uint64_t *lo, const uint64_t *hi)
{
	memset(a, 0, sizeof(*a));
	a->v = calloc((size_t)nvdevs, sizeof(*a->v));
	if (!a->v)
		return terr(ENOMEM, "out of memory");
	a->nvdevs = nvdevs;
	for (int i = 0; i < nvdevs; i++) {
		ms_vdev_t *m = &a->v[i];
		avl_init(&m->free, ext_cmp);
		m->lo = lo[i];
		m->hi = hi[i];
		m->cursor = lo[i];
		if (hi[i] > lo[i])
			TRY(free_insert(m, lo[i], hi[i] - lo[i]));
	}
	return 0;
}

void alloc_fini(allocator_t *a)
{
	for (int i = 0; i < a->nvdevs; i++) {
		avl_node_t *n;
		while ((n = avl_first(&a->v[i].free))) {
			avl_remove(&a->v[i].free, n);
			free(avl_entry(n, extent_t, node));
		}
	}
	free(a->v);
	free(a->pending.r);
	free(a->defer.r);
	memset(a, 0, sizeof(*a));
}

static int take_from(ms_vdev_t *m, uint64_t len, uint64_t *off)
{
	extent_t key = { .start = m->cursor };
	avl_node_t *n = avl_floor(&m->free, &key.node);
	uint64_t s;
	if (n) {
		extent_t *e = avl_entry(n, extent_t, node);
		if (e->start + e->len >= m->cursor + len) {
			s = m->cursor;
			goto found;
		}
	}
	for (n = avl_lower_bound(&m->free, &key.node); n; n = avl_next(n)) {
		extent_t *e = avl_entry(n, extent_t, node);
		if (e->len >= len) {
			s = e->start;
			goto found;
		}
	}
	for (n = avl_first(&m->free); n; n = avl_next(n)) {
		extent_t *e = avl_entry(n, extent_t, node);
		if (e->start >= m->cursor)
			break;
		if (e->len >= len) {
			s = e->start;
			goto found;
		}
	}
	return -ENOSPC;
found:
	*off = s;
	m->cursor = s + len;
	return free_remove(m, s, len);
}

int alloc_take(allocator_t *a, uint64_t len, uint64_t txg, uint16_t *vdev, uint64_t *off)
{
	if (a->rotor_bytes >= ROTOR_CHUNK) {
		a->rotor = (a->rotor + 1) % a->nvdevs;
		a->rotor_bytes = 0;
	}
	for (int i = 0; i < a->nvdevs; i++) {
		int vi = (a->rotor + i) % a->nvdevs;
		if (a->v[vi].free_bytes < len)
			continue;
		int rc = take_from(&a->v[vi], len, off);
		if (rc == -ENOSPC)
			continue;
		if (rc < 0)
			return rc;
		*vdev = (uint16_t)vi;
		if (vi != a->rotor) {
			a->rotor = vi;
			a->rotor_bytes = 0;
		}
		a->rotor_bytes += len;
		space_rec_t r = { txg, *off, len, (uint16_t)vi, 0 };
		return recs_push(&a->pending, &r);
	}
	return terr(ENOSPC, "out of space");
}

/* Does [start, start+len) overlap a free extent? */
static int overlaps_free(const ms_vdev_t *m, uint64_t start, uint64_t len)
{
	extent_t key = { .start = start };
	avl_node_t *n = avl_floor(&m->free, &key.node);
	if (n && avl_entry(n, extent_t, node)->start + avl_entry(n, extent_t, node)->len > start)
		return 1;
	n = avl_lower_bound(&m->free, &key.node);
	return n && avl_entry(n, extent_t, node)->start < start + len;
}

int alloc_free(allocator_t *a, uint16_t vdev, uint64_t off, uint64_t len, uint64_t txg)
{
	if (vdev >= a->nvdevs)
		return terr(EIO, "free of a block on unknown vdev %u", vdev);
	ms_vdev_t *m = &a->v[vdev];
	if (off < m->lo || off > m->hi || len > m->hi - off || overlaps_free(m, off, len))
		return terr(EIO, "double free of [%llu, +%llu) on vdev %u", (unsigned long long)off,
			    (unsigned long long)len, vdev);
	space_rec_t r = { txg, off, len, vdev, 1 };
	TRY(recs_push(&a->pending, &r));
	return recs_push(&a->defer, &r);
}

void alloc_committed(allocator_t *a, uint64_t committed)
{
	size_t keep = 0;
	for (size_t i = 0; i < a->defer.n; i++) {
		space_rec_t *r = &a->defer.r[i];
		if (r->txg <= committed) {
			if (free_insert(&a->v[r->vdev], r->offset, r->len) < 0)
				terr_clear(); /* already free: a bug elsewhere; never double-insert */
		} else {
			a->defer.r[keep++] = *r;
		}
	}
	a->defer.n = keep;
	a->pending.n = 0;
	a->pending.sealed = 0;
}

int alloc_replay(allocator_t *a, const space_rec_t *r, uint64_t cur_txg)
{
	if (r->vdev >= a->nvdevs || r->len == 0 || r->len % SECTOR || r->offset % SECTOR)
		return terr(EINVAL, "space log record out of range");
	ms_vdev_t *m = &a->v[r->vdev];
	if (r->offset < m->lo || r->offset > m->hi || r->len > m->hi - r->offset)
		return terr(EINVAL, "space log record out of range");
	if (r->txg > cur_txg)
		return terr(EINVAL, "space log record from the future");
	if (!r->is_free)
		return free_remove(m, r->offset, r->len);
	return free_insert(m, r->offset, r->len);
}

uint64_t alloc_free_bytes(const allocator_t *a)
{
	uint64_t s = 0;
	for (int i = 0; i < a->nvdevs; i++)
		s += a->v[i].free_bytes;
	return s;
}

uint64_t alloc_deferred_bytes(const allocator_t *a)
{
	uint64_t s = 0;
	for (size_t i = 0; i < a->defer.n; i++)
		s += a->defer.r[i].len;
	return s;
}

uint64_t alloc_total_bytes(const allocator_t *a)
{
	uint64_t s = 0;
	for (int i = 0; i < a->nvdevs; i++)
		s += a->v[i].hi - a->v[i].lo;
	return s;
}

uint64_t alloc_extent_count(const allocator_t *a)
{
	uint64_t s = 0;
	for (int i = 0; i < a->nvdevs; i++)
		s += a->v[i].nextents;
	return s;
}

int alloc_snapshot_records(const allocator_t *a, uint64_t txg, space_recs_t *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < a->nvdevs; i++) {
		const ms_vdev_t *m = &a->v[i];
		uint64_t pos = m->lo;
		for (avl_node_t *n = avl_first(&m->free);; n = avl_next(n)) {
			uint64_t s = n ? avl_entry(n, extent_t, node)->start : m->hi;
			if (s > pos) {
				space_rec_t r = { txg, pos, s - pos, (uint16_t)i, 0 };
				TRY(recs_push(out, &r));
			}
			if (!n)
				break;
			pos = s + avl_entry(n, extent_t, node)->len;
		}
	}
	for (size_t i = 0; i < a->defer.n; i++)
		TRY(recs_push(out, &a->defer.r[i]));
	return 0;
}
