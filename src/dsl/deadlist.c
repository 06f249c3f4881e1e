/* dsl/deadlist.c — deadlist entries stored as chains of blocks of block pointers
 * (docs/format.md "Deadlist chain block"). */
#include "dsl/deadlist.h"

#include <stdlib.h>
#include <string.h>

#include "util/compress.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/le.h"

#define DLB_MAGIC 0x424c4454u /* "TDLB" */
#define DLB_HDR (8 + BP_SIZE)
#define DLB_SIZE (16u << 10)
#define DLB_PER ((DLB_SIZE - DLB_HDR) / BP_SIZE)

static dl_entry_t *entry_for(deadlist_t *dl, uint64_t key)
{
	for (size_t i = dl->n; i-- > 0;)
		if (dl->e[i].key == key)
			return &dl->e[i];
	if (dl->n == dl->cap) {
		size_t nc = dl->cap ? dl->cap * 2 : 4;
		dl_entry_t *n = realloc(dl->e, nc * sizeof(*n));
		if (!n)
			return NULL;
		dl->e = n;
		dl->cap = nc;
	}
	dl_entry_t *e = &dl->e[dl->n++];
	memset(e, 0, sizeof(*e));
	e->key = key;
	return e;
}

int dl_insert(deadlist_t *dl, uint64_t key, const bp_t *bp)
{
	dl_entry_t *e = entry_for(dl, key);
	if (!e)
		return terr(ENOMEM, "out of memory");
	TRY(GROW(e->pend, e->cappend, e->npend, 16));
	e->pend[e->npend++] = *bp;
	e->bytes += bp_asize(bp);
	e->lbytes += bp->lsize;
	e->count++;
	return 0;
}

int dl_sync(pool_t *p, deadlist_t *dl)
{
	uint8_t *buf = NULL;
	for (size_t i = 0; i < dl->n; i++) {
		dl_entry_t *e = &dl->e[i];
		size_t done = 0;
		while (done < e->npend) {
			if (!buf && !(buf = malloc(DLB_SIZE)))
				return terr(ENOMEM, "out of memory");
			size_t take = e->npend - done < DLB_PER ? e->npend - done : DLB_PER;
			uint32_t size = (uint32_t)(DLB_HDR + take * BP_SIZE);
			le_put32(buf, DLB_MAGIC);
			le_put32(buf + 4, (uint32_t)take);
			bp_encode(&e->chain, buf + 8);
			for (size_t k = 0; k < take; k++)
				bp_encode(&e->pend[done + k], buf + DLB_HDR + k * BP_SIZE);
			bp_t nb;
			int rc = pool_write_block(p, BPT_DEADLIST, 0, buf, size, COMP_LZ4, CKSUM_XXH3_128, &nb);
			if (rc < 0) {
				free(buf);
				return rc;
			}
			e->chain = nb;
			done += take;
		}
		e->npend = 0;
	}
	free(buf);
	return 0;
}

uint64_t dl_bytes(const deadlist_t *dl, uint64_t lo, uint64_t hi)
{
	uint64_t s = 0;
	for (size_t i = 0; i < dl->n; i++)
		if (dl->e[i].key > lo && dl->e[i].key <= hi)
			s += dl->e[i].bytes;
	return s;
}

uint64_t dl_lbytes(const deadlist_t *dl, uint64_t lo, uint64_t hi)
{
	uint64_t s = 0;
	for (size_t i = 0; i < dl->n; i++)
		if (dl->e[i].key > lo && dl->e[i].key <= hi)
			s += dl->e[i].lbytes;
	return s;
}

/* Walk one entry's chain: cb(chain block) and, with each listed bp, lcb(bp). */
static int walk_entry(pool_t *p, const dl_entry_t *e, int (*ccb)(void *, const bp_t *),
		      int (*lcb)(void *, const bp_t *), void *arg)
{
	for (size_t k = 0; k < e->npend; k++)
		if (lcb)
			TRY(lcb(arg, &e->pend[k]));
	bp_t cur = e->chain;
	uint8_t *buf = malloc(DLB_SIZE);
	if (!buf)
		return terr(ENOMEM, "out of memory");
	int rc = 0;
	uint64_t guard = 0;
	while (!bp_is_hole(&cur) && rc == 0) {
		/* every chain block lists at least one pointer: a longer chain is a loop */
		if (cur.type != BPT_DEADLIST || cur.lsize > DLB_SIZE || cur.lsize < DLB_HDR || ++guard > e->count + 1) {
			rc = terr(EIO, "corrupt deadlist chain");
			break;
		}
		rc = pool_read_block(p, &cur, buf);
		if (rc < 0)
			break;
		uint32_t n = le_get32(buf + 4);
		bp_t prev;
		if (le_get32(buf) != DLB_MAGIC || n > (cur.lsize - DLB_HDR) / BP_SIZE || bp_decode(buf + 8, &prev) < 0 ||
		    (!bp_is_hole(&prev) && prev.birth > cur.birth)) {
			rc = terr(EIO, "corrupt deadlist block");
			break;
		}
		for (uint32_t k = 0; k < n && rc == 0 && lcb; k++) {
			bp_t bp;
			if (bp_decode(buf + DLB_HDR + (size_t)k * BP_SIZE, &bp) < 0)
				rc = terr(EIO, "corrupt deadlist block");
			else
				rc = lcb(arg, &bp);
		}
		if (rc == 0 && ccb)
			rc = ccb(arg, &cur);
		cur = prev;
	}
	free(buf);
	return rc;
}

static int free_cb(void *arg, const bp_t *bp) { return pool_free_block(arg, bp); }

int dl_remove(pool_t *p, deadlist_t *dl, uint64_t lo, uint64_t hi, int free_bps)
{
	size_t keep = 0;
	int rc = 0;
	for (size_t i = 0; i < dl->n; i++) {
		dl_entry_t *e = &dl->e[i];
		if (e->key > lo && e->key <= hi) {
			if (rc == 0)
				rc = walk_entry(p, e, free_cb, free_bps ? free_cb : NULL, p);
			free(e->pend);
		} else {
			dl->e[keep++] = *e;
		}
	}
	dl->n = keep;
	return rc;
}

struct collect {
	pool_t *p;
	bp_t *v;
	size_t n, cap;
};

static int collect_cb(void *arg, const bp_t *bp)
{
	struct collect *c = arg;
	TRY(GROW(c->v, c->cap, c->n, 256));
	c->v[c->n++] = *bp;
	return 0;
}

static int chain_free_cb(void *arg, const bp_t *bp) { return pool_free_block(((struct collect *)arg)->p, bp); }

int dl_extract(pool_t *p, deadlist_t *dl, uint64_t lo, uint64_t hi, bp_t **out, size_t *n)
{
	struct collect c = { p, NULL, 0, 0 };
	size_t keep = 0;
	int rc = 0;
	for (size_t i = 0; i < dl->n; i++) {
		dl_entry_t *e = &dl->e[i];
		if (e->key > lo && e->key <= hi && rc == 0) {
			rc = walk_entry(p, e, chain_free_cb, collect_cb, &c);
			free(e->pend);
		} else {
			dl->e[keep++] = *e;
		}
	}
	dl->n = keep;
	if (rc < 0) {
		free(c.v);
		return rc;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

int dl_move(deadlist_t *dst, deadlist_t *src)
{
	if (dst->n + src->n > dst->cap) {
		size_t nc = dst->n + src->n + 4;
		dl_entry_t *n = realloc(dst->e, nc * sizeof(*n));
		if (!n)
			return terr(ENOMEM, "out of memory");
		dst->e = n;
		dst->cap = nc;
	}
	/* keep one entry per key where possible by merging pending lists; chains stay separate
	 * entries (a key may then have several entries, which is fine) */
	for (size_t i = 0; i < src->n; i++)
		dst->e[dst->n++] = src->e[i];
	src->n = 0;
	return 0;
}

void dl_fini(deadlist_t *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		free(dl->e[i].pend);
	free(dl->e);
	memset(dl, 0, sizeof(*dl));
}

int dl_walk(pool_t *p, const deadlist_t *dl, int (*cb)(void *arg, const bp_t *bp), void *arg)
{
	for (size_t i = 0; i < dl->n; i++)
		TRY(walk_entry(p, &dl->e[i], cb, cb, arg));
	return 0;
}
