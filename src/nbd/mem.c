/* nbd/mem.c — the in-memory nbd backend (see mem.h). */
#include "nbd/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nbd/proto.h"
#include "util/err.h"

struct nbd_mem {
	pthread_mutex_t lock;
	nbd_mem_export_t **ex;
	size_t n, cap;
	char *ctx;
};

nbd_mem_t *nbd_mem_new(void)
{
	nbd_mem_t *m = calloc(1, sizeof(*m));
	if (!m) {
		terr(ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void ex_free(nbd_mem_export_t *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->desc);
	free(e->data);
	free(e->hole);
	free(e->dirty);
	free(e);
}

void nbd_mem_free(nbd_mem_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		ex_free(m->ex[i]);
	free(m->ex);
	free(m->ctx);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static uint64_t nblocks(uint64_t size) { return size / NBD_MEM_BLOCK + (size % NBD_MEM_BLOCK != 0); }

nbd_mem_export_t *nbd_mem_add(nbd_mem_t *m, const char *name, uint64_t size, int readonly, const char *desc)
{
	nbd_mem_export_t *e = calloc(1, sizeof(*e));
	uint64_t nb = nblocks(size);
	if (size > ((uint64_t)1 << 40)) {
		free(e);
		terr(EFBIG, "in-memory export too big");
		return NULL;
	}
	if (!e || !(e->name = strdup(name)) || (desc && !(e->desc = strdup(desc))) ||
	    !(e->data = calloc(1, size ? size : 1)) || !(e->hole = malloc(nb ? nb : 1)) ||
	    !(e->dirty = calloc(1, nb ? nb : 1)))
		goto nomem;
	memset(e->hole, 1, nb);
	e->size = size;
	e->readonly = readonly;
	e->fast_zero = 1;
	pthread_mutex_lock(&m->lock);
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 4;
		nbd_mem_export_t **ex = realloc(m->ex, cap * sizeof(*ex));
		if (!ex) {
			pthread_mutex_unlock(&m->lock);
			goto nomem;
		}
		m->ex = ex, m->cap = cap;
	}
	m->ex[m->n++] = e;
	pthread_mutex_unlock(&m->lock);
	return e;
nomem:
	ex_free(e);
	terr(ENOMEM, "out of memory");
	return NULL;
}

int nbd_mem_set_ctx(nbd_mem_t *m, const char *ctx)
{
	char *d = NULL;
	if (ctx && !(d = strdup(ctx)))
		return terr(ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	free(m->ctx);
	m->ctx = d;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void nbd_mem_lock(nbd_mem_t *m) { pthread_mutex_lock(&m->lock); }
void nbd_mem_unlock(nbd_mem_t *m) { pthread_mutex_unlock(&m->lock); }

/* ---- the backend; every handle is an export, m is found through this table ---- */

typedef struct handle {
	nbd_mem_t *m;
	nbd_mem_export_t *e;
} handle_t;

static nbd_mem_export_t *find(nbd_mem_t *m, const char *name)
{
	if (!name[0])
		return m->n ? m->ex[0] : NULL;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->ex[i]->name, name) == 0)
			return m->ex[i];
	return NULL;
}

static int mem_list(void *arg, int (*cb)(void *cbarg, const char *name, const char *desc), void *cbarg)
{
	nbd_mem_t *m = arg;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		if (cb(cbarg, m->ex[i]->name, m->ex[i]->desc))
			break;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mem_open(void *arg, const char *name, void **h, nbd_export_info_t *info)
{
	nbd_mem_t *m = arg;
	handle_t *hd = malloc(sizeof(*hd));
	if (!hd)
		return terr(ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	nbd_mem_export_t *e = find(m, name);
	if (!e || e->gone) {
		pthread_mutex_unlock(&m->lock);
		free(hd);
		return terr(ENOENT, "no export named '%s'", name);
	}
	e->opens++;
	*info = (nbd_export_info_t){ .size = e->size, .pref_block = NBD_MEM_BLOCK, .readonly = e->readonly,
				     .can_trim = 1, .can_zero = 1, .can_fast_zero = 1, .can_cache = 1,
				     .can_multi_conn = 1, .description = e->desc };
	pthread_mutex_unlock(&m->lock);
	hd->m = m, hd->e = e;
	*h = hd;
	return 0;
}

static void mem_close(void *h)
{
	handle_t *hd = h;
	pthread_mutex_lock(&hd->m->lock);
	hd->e->closes++;
	pthread_mutex_unlock(&hd->m->lock);
	free(hd);
}

/* Lock, check the fault switch and the range. */
static nbd_mem_export_t *enter(handle_t *hd, uint64_t off, uint64_t len, int *rc)
{
	pthread_mutex_lock(&hd->m->lock);
	nbd_mem_export_t *e = hd->e;
	*rc = 0;
	if (e->fail_errno > 0)
		*rc = terr(e->fail_errno, "injected failure");
	else if (off > e->size || len > e->size - off)
		*rc = terr(EINVAL, "range beyond the export");
	return e;
}

static int leave(handle_t *hd, int rc)
{
	pthread_mutex_unlock(&hd->m->lock);
	return rc;
}

/* Mark [off, off+len) changed: allocated (hole = 0) or, for whole blocks when punch, holes. */
static void touch(nbd_mem_export_t *e, uint64_t off, uint64_t len, int alloc, int punch)
{
	if (!len)
		return;
	for (uint64_t b = off / NBD_MEM_BLOCK; b <= (off + len - 1) / NBD_MEM_BLOCK; b++) {
		uint64_t bs = b * NBD_MEM_BLOCK, be = bs + NBD_MEM_BLOCK < e->size ? bs + NBD_MEM_BLOCK : e->size;
		int whole = off <= bs && off + len >= be;
		e->dirty[b] = 1;
		if (whole && punch)
			e->hole[b] = 1, memset(e->data + bs, 0, be - bs);
		else if (alloc)
			e->hole[b] = 0;
	}
}

static int mem_read(void *h, uint64_t off, uint32_t len, void *buf)
{
	int rc;
	nbd_mem_export_t *e = enter(h, off, len, &rc);
	if (rc == 0) {
		memcpy(buf, e->data + off, len);
		e->reads++;
	}
	return leave(h, rc);
}

static int mem_write(void *h, uint64_t off, uint32_t len, const void *buf, int fua)
{
	int rc;
	nbd_mem_export_t *e = enter(h, off, len, &rc);
	if (rc == 0 && e->readonly)
		rc = terr(EROFS, "read-only export");
	if (rc == 0) {
		memcpy(e->data + off, buf, len);
		touch(e, off, len, 1, 0);
		e->writes++;
		e->fua += !!fua;
	}
	return leave(h, rc);
}

static int mem_zero(void *h, uint64_t off, uint32_t len, int may_trim, int fast, int fua)
{
	int rc;
	nbd_mem_export_t *e = enter(h, off, len, &rc);
	if (rc == 0 && e->readonly)
		rc = terr(EROFS, "read-only export");
	if (rc == 0 && fast && (!may_trim || !e->fast_zero))
		rc = terr(ENOTSUP, "zeroing would not be fast");
	if (rc == 0) {
		memset(e->data + off, 0, len);
		/* a partial block of a hole stays a hole (it is still all zero) */
		for (uint64_t b = off / NBD_MEM_BLOCK; len && b <= (off + len - 1) / NBD_MEM_BLOCK; b++) {
			uint64_t bs = b * NBD_MEM_BLOCK, be = bs + NBD_MEM_BLOCK < e->size ? bs + NBD_MEM_BLOCK : e->size;
			e->dirty[b] = 1;
			if (off <= bs && off + len >= be)
				e->hole[b] = may_trim ? 1 : 0;
		}
		e->zeroes++;
		e->fua += !!fua;
	}
	return leave(h, rc);
}

static int mem_trim(void *h, uint64_t off, uint32_t len, int fua)
{
	int rc;
	nbd_mem_export_t *e = enter(h, off, len, &rc);
	if (rc == 0 && e->readonly)
		rc = terr(EROFS, "read-only export");
	if (rc == 0) {
		touch(e, off, len, 0, 1);
		e->trims++;
		e->fua += !!fua;
	}
	return leave(h, rc);
}

static int mem_flush(void *h)
{
	int rc;
	nbd_mem_export_t *e = enter(h, 0, 0, &rc);
	if (rc == 0)
		e->flushes++;
	return leave(h, rc);
}

static int mem_cache(void *h, uint64_t off, uint32_t len)
{
	int rc;
	nbd_mem_export_t *e = enter(h, off, len, &rc);
	if (rc == 0)
		e->caches++;
	return leave(h, rc);
}

static int mem_extents(void *h, const char *ctx, uint64_t off, uint64_t len, nbd_extent_fn cb, void *cbarg)
{
	handle_t *hd = h;
	int rc;
	nbd_mem_export_t *e = enter(h, off, len, &rc);
	int base = strcmp(ctx, "base:allocation") == 0;
	if (rc == 0 && !base && !(hd->m->ctx && strcmp(ctx, hd->m->ctx) == 0))
		rc = terr(EINVAL, "unknown meta context '%s'", ctx);
	if (rc < 0 || len == 0)
		return leave(h, rc);
	e->extents++;
	/* runs of blocks with the same flags, the first one starting at off */
	uint64_t pos = off, end = off + len;
	while (pos < end) {
		uint64_t b = pos / NBD_MEM_BLOCK;
		uint32_t fl = base ? (e->hole[b] ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0) : e->dirty[b];
		uint64_t run = pos;
		while (run < e->size) {
			uint64_t rb = run / NBD_MEM_BLOCK;
			uint32_t f2 = base ? (e->hole[rb] ? NBD_STATE_HOLE | NBD_STATE_ZERO : 0) : e->dirty[rb];
			if (f2 != fl)
				break;
			run = (rb + 1) * NBD_MEM_BLOCK;
			if (run >= end)
				break;
		}
		if (run > e->size)
			run = e->size;
		/* the callback may run into the server's lock-free code only: keep our lock */
		int r = cb(cbarg, run - pos, fl);
		pos = run;
		if (r)
			break;
	}
	return leave(h, 0);
}

static int mem_gone(void *h)
{
	handle_t *hd = h;
	pthread_mutex_lock(&hd->m->lock);
	int g = hd->e->gone;
	pthread_mutex_unlock(&hd->m->lock);
	return g;
}

static int mem_list_meta(void *arg, const char *export, const char *query, int (*cb)(void *cbarg, const char *ctx),
			 void *cbarg)
{
	nbd_mem_t *m = arg;
	pthread_mutex_lock(&m->lock);
	int rc = 0;
	if (!find(m, export)) {
		rc = terr(ENOENT, "no export named '%s'", export);
	} else if (m->ctx) {
		size_t nsl = (size_t)(strchr(m->ctx, ':') - m->ctx) + 1;
		if (!query[0] || strcmp(query, m->ctx) == 0 || (strlen(query) == nsl && strncmp(query, m->ctx, nsl) == 0))
			cb(cbarg, m->ctx);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_check_meta(void *arg, const char *export, const char *ctx)
{
	nbd_mem_t *m = arg;
	pthread_mutex_lock(&m->lock);
	int ok = find(m, export) && m->ctx && strcmp(ctx, m->ctx) == 0;
	pthread_mutex_unlock(&m->lock);
	return ok ? 0 : -ENOENT;
}

void nbd_mem_backend(nbd_mem_t *m, nbd_backend_t *be)
{
	*be = (nbd_backend_t){ .arg = m, .list = mem_list, .open = mem_open, .close = mem_close, .read = mem_read,
			       .write = mem_write, .zero = mem_zero, .trim = mem_trim, .flush = mem_flush,
			       .cache = mem_cache, .list_meta = mem_list_meta, .check_meta = mem_check_meta,
			       .extents = mem_extents, .gone = mem_gone };
}
