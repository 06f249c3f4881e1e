/* dsl/bobj.c — byte objects (see bobj.h). */
#include "dsl/bobj.h"

#include <stdlib.h>
#include <string.h>

#include "util/compress.h"
#include "util/err.h"
#include "util/le.h"

static void meta_born(void *ctx, const bp_t *bp) { (void)ctx; (void)bp; }
static int meta_kill(void *ctx, const bp_t *bp) { return pool_free_block(ctx, bp); }
static const tree_ops_t meta_ops = { meta_born, meta_kill };

void bobj_init(bobj_t *o)
{
	tree_phys_init(&o->tree, BOBJ_BLKSZ);
	o->len = 0;
}

int bobj_read(pool_t *p, const bobj_t *o, uint8_t **out)
{
	uint8_t *buf = malloc(o->len + 1);
	uint8_t *blk = malloc(BOBJ_BLKSZ);
	int rc = (!buf || !blk) ? terr(ENOMEM, "out of memory") : 0;
	tree_t t;
	tree_open(&t, p, &o->tree, NULL, NULL, COMP_LZ4, CKSUM_XXH3_128);
	for (uint64_t off = 0; rc == 0 && off < o->len; off += BOBJ_BLKSZ) {
		rc = tree_read(&t, off / BOBJ_BLKSZ, blk);
		if (rc == 0)
			memcpy(buf + off, blk, o->len - off < BOBJ_BLKSZ ? o->len - off : BOBJ_BLKSZ);
	}
	tree_close(&t);
	free(blk);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[o->len] = 0;
	*out = buf;
	return 0;
}

/* Write data (len bytes) over the object from byte `from` on; blocks before from's block are
 * left alone, later blocks are rewritten only if their bytes differ. */
static int write_from(pool_t *p, bobj_t *o, const uint8_t *data, uint64_t len, uint64_t from)
{
	if (len > BOBJ_MAX_LEN)
		return terr(EFBIG, "metadata object too large");
	tree_t t;
	tree_open(&t, p, &o->tree, &meta_ops, p, COMP_LZ4, CKSUM_XXH3_128);
	int rc = 0;
	uint64_t nblk = (len + BOBJ_BLKSZ - 1) / BOBJ_BLKSZ;
	uint8_t *old = malloc(BOBJ_BLKSZ);
	if (!old)
		rc = terr(ENOMEM, "out of memory");
	for (uint64_t b = from / BOBJ_BLKSZ; rc == 0 && b < nblk; b++) {
		size_t n = len - b * BOBJ_BLKSZ < BOBJ_BLKSZ ? len - b * BOBJ_BLKSZ : BOBJ_BLKSZ;
		rc = tree_read(&t, b, old);
		if (rc == 0 && (memcmp(old, data + b * BOBJ_BLKSZ, n) || (n < BOBJ_BLKSZ && old[n]))) {
			uint8_t *dst;
			rc = tree_dirty_full(&t, b, &dst);
			if (rc == 0) {
				memset(dst, 0, BOBJ_BLKSZ);
				memcpy(dst, data + b * BOBJ_BLKSZ, n);
			}
		}
	}
	free(old);
	uint64_t oldblk = (o->len + BOBJ_BLKSZ - 1) / BOBJ_BLKSZ;
	if (rc == 0 && oldblk > nblk) /* drop blocks past the new end */
		rc = tree_punch(&t, nblk, oldblk - nblk);
	if (rc == 0)
		rc = tree_sync(&t);
	if (rc == 0) {
		o->tree = t.phys;
		o->len = len;
	}
	tree_close(&t);
	return rc;
}

int bobj_write(pool_t *p, bobj_t *o, const uint8_t *data, uint64_t len) { return write_from(p, o, data, len, 0); }

int bobj_append(pool_t *p, bobj_t *o, const uint8_t *data, uint64_t len)
{
	if (o->len + len > BOBJ_MAX_LEN)
		return terr(EFBIG, "metadata object too large");
	/* only the last partial block of the old contents takes part */
	uint64_t base = o->len / BOBJ_BLKSZ * BOBJ_BLKSZ;
	uint64_t keep = o->len - base;
	uint8_t *buf = malloc(keep + len ? keep + len : 1), *blk = malloc(BOBJ_BLKSZ);
	int rc = (!buf || !blk) ? terr(ENOMEM, "out of memory") : 0;
	if (rc == 0 && keep) {
		tree_t t;
		tree_open(&t, p, &o->tree, NULL, NULL, COMP_LZ4, CKSUM_XXH3_128);
		rc = tree_read(&t, base / BOBJ_BLKSZ, blk);
		tree_close(&t);
		if (rc == 0)
			memcpy(buf, blk, keep);
	}
	free(blk);
	if (rc == 0) {
		memcpy(buf + keep, data, len);
		/* write_from indexes data from byte 0 of the object: shift by base */
		tree_t t;
		tree_open(&t, p, &o->tree, &meta_ops, p, COMP_LZ4, CKSUM_XXH3_128);
		uint64_t total = keep + len;
		for (uint64_t off = 0; rc == 0 && off < total; off += BOBJ_BLKSZ) {
			uint8_t *dst;
			size_t n = total - off < BOBJ_BLKSZ ? total - off : BOBJ_BLKSZ;
			rc = tree_dirty_full(&t, (base + off) / BOBJ_BLKSZ, &dst);
			if (rc == 0) {
				memset(dst, 0, BOBJ_BLKSZ);
				memcpy(dst, buf + off, n);
			}
		}
		if (rc == 0)
			rc = tree_sync(&t);
		if (rc == 0) {
			o->tree = t.phys;
			o->len += len;
		}
		tree_close(&t);
	}
	free(buf);
	return rc;
}

void bobj_encode(const bobj_t *o, le_cur_t *c)
{
	uint8_t b[BP_SIZE];
	le_w64(c, o->len);
	bp_encode(&o->tree.root, b);
	le_wbytes(c, b, BP_SIZE);
	le_w32(c, o->tree.levels);
	le_w32(c, o->tree.dblksz);
}

int bobj_decode(bobj_t *o, le_cur_t *c)
{
	uint8_t b[BP_SIZE];
	o->len = le_r64(c);
	le_rbytes(c, b, BP_SIZE);
	o->tree.levels = le_r32(c);
	o->tree.dblksz = le_r32(c);
	if (!c->ok || bp_decode(b, &o->tree.root) < 0 || o->tree.dblksz != BOBJ_BLKSZ || o->tree.levels < 2 ||
	    o->tree.levels > TREE_MAX_LEVELS || o->len > BOBJ_MAX_LEN)
		return terr(EIO, "metadata object descriptor is corrupt");
	return 0;
}

int bobj_walk(pool_t *p, const bobj_t *o, tree_walk_fn cb, void *arg) { return tree_walk(p, &o->tree, 0, 0, cb, arg); }
