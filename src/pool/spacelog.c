/* pool/spacelog.c — the persistent space log: a backward-linked chain of blocks holding the
 * alloc/free records of every txg; replayed at import to rebuild the free-extent trees, and
 * condensed into a compact base when it grows (docs/format.md "Space log"). */
#include "pool/spacelog.h"

#include <stdlib.h>
#include <string.h>

#include "pool/label.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/le.h"

#define SLOG_MAGIC 0x474c5354u /* "TSLG" */
#define SLOG_HDR (4 + 4 + 8 + BP_SIZE)
#define SLOG_REC 32
#define SLOG_MAX_BLOCK (128u << 10)
#define SLOG_PER ((SLOG_MAX_BLOCK - SLOG_HDR) / SLOG_REC)
#define SLOG_MAX_CHAIN 64 /* blocks in the chain before it is condensed (import reads them all) */

static int remember_bp(pool_t *p, const bp_t *bp)
{
	TRY(GROW(p->log_bps, p->log_cap, p->log_nbps, 64));
	p->log_bps[p->log_nbps++] = *bp;
	return 0;
}

/* Write recs[from..] as chain blocks on top of *head. Block allocations append records to the
 * pool's pending list (which may be `recs` itself). */
static int write_chain(pool_t *p, space_recs_t *recs, bp_t *head)
{
	size_t done = 0;
	uint64_t txg = pool_open_txg(p);
	while (done < recs->n) {
		size_t remaining = recs->n - done;
		size_t nrec = remaining + 1 <= SLOG_PER ? remaining + 1 : SLOG_PER;
		uint32_t size = (uint32_t)((SLOG_HDR + nrec * SLOG_REC + SECTOR - 1) / SECTOR * SECTOR);
		uint16_t vdev;
		uint64_t off;
		recs->sealed = recs->n; /* the records we are about to write must stay as they are */
		p->alloc.pending.sealed = p->alloc.pending.n;
		TRY(alloc_take(&p->alloc, size, txg, &vdev, &off));
		size_t take = recs->n - done;
		if (take > SLOG_PER)
			take = SLOG_PER;
		uint8_t *buf = calloc(1, size);
		if (!buf)
			return terr(ENOMEM, "out of memory");
		le_cur_t c = le_cur(buf, size);
		le_w32(&c, SLOG_MAGIC);
		le_w32(&c, (uint32_t)take);
		le_w64(&c, txg);
		uint8_t b[BP_SIZE];
		bp_encode(head, b);
		le_wbytes(&c, b, BP_SIZE);
		for (size_t i = 0; i < take; i++) {
			const space_rec_t *r = &recs->r[done + i];
			le_w64(&c, r->txg);
			le_w64(&c, r->offset);
			le_w64(&c, r->len);
			le_w16(&c, r->vdev);
			le_w8(&c, r->is_free);
			le_wbytes(&c, "\0\0\0\0\0", 5);
		}
		bp_t nb = { .offset = off, .vdev = vdev, .type = BPT_SPACELOG, .psize = size, .lsize = size,
			    .comp = 0, .cksum_type = CKSUM_XXH3_128, .birth = txg };
		cksum_compute(CKSUM_XXH3_128, buf, size, nb.cksum);
		int rc = c.ok ? vdev_write(&p->vdevs[vdev], buf, size, off) : terr(EIO, "space log overflow");
		free(buf);
		TRY(rc);
		TRY(remember_bp(p, &nb));
		*head = nb;
		p->log_entries += take;
		done += take;
		if (done == recs->n)
			break;
	}
	recs->sealed = 0;
	p->alloc.pending.sealed = 0;
	return 0;
}

/* Condense when the log holds more than twice the records needed to describe the map, plus
 * this slack (TARN_CONDENSE_SLACK overrides it, for tests). */
static uint64_t condense_slack(void)
{
	const char *e = getenv("TARN_CONDENSE_SLACK");
	return e ? strtoull(e, NULL, 10) : 8192;
}

int spacelog_commit(pool_t *p)
{
	uint64_t ext = alloc_extent_count(&p->alloc) + p->alloc.defer.n;
	/* also condense a chain of many small blocks (one per txg): import reads every block */
	uint64_t base_blocks = ext / SLOG_PER + 1;
	if (p->log_entries > 2 * ext + condense_slack() ||
	    (p->log_nbps > SLOG_MAX_CHAIN && p->log_nbps > 4 * base_blocks)) {
		/* condense: a base describing the whole map, then this txg's records on top */
		space_recs_t base;
		size_t nold = p->log_nbps;
		bp_t *old = p->log_bps;
		p->log_bps = NULL;
		p->log_nbps = p->log_cap = 0;
		for (size_t i = 0; i < nold; i++)
			TRY(alloc_free(&p->alloc, old[i].vdev, old[i].offset, bp_asize(&old[i]), pool_open_txg(p)));
		free(old);
		TRY(alloc_snapshot_records(&p->alloc, pool_open_txg(p), &base));
		p->alloc.pending.n = 0; /* described by the base */
		bp_t head = { 0 };
		p->log_entries = 0;
		int rc = write_chain(p, &base, &head);
		free(base.r);
		TRY(rc);
		p->spacelog = head;
	}
	return write_chain(p, &p->alloc.pending, &p->spacelog);
}

int spacelog_load(pool_t *p, const bp_t *head, uint64_t txg, uint64_t entries)
{
	bp_t *chain = NULL;
	size_t n = 0, cap = 0;
	uint8_t **blocks = NULL;
	int rc = 0;
	bp_t cur = *head;
	p->log_entries = 0;
	while (!bp_is_hole(&cur)) {
		if (n > entries) { /* every block holds at least one record: a longer chain loops */
			rc = terr(EIO, "space log chain is corrupt");
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			bp_t *nc = realloc(chain, cap * sizeof(*nc));
			uint8_t **nb = realloc(blocks, cap * sizeof(*nb));
			if (nc)
				chain = nc;
			if (nb)
				blocks = nb;
			if (!nc || !nb) {
				rc = terr(ENOMEM, "out of memory");
				goto out;
			}
		}
		if (cur.type != BPT_SPACELOG || cur.birth > txg || (n && cur.birth > chain[n - 1].birth)) {
			rc = terr(EIO, "space log chain is corrupt");
			goto out;
		}
		blocks[n] = malloc(cur.lsize);
		if (!blocks[n]) {
			rc = terr(ENOMEM, "out of memory");
			goto out;
		}
		chain[n++] = cur;
		rc = pool_read_block(p, &cur, blocks[n - 1]);
		if (rc < 0)
			goto out;
		le_cur_t c = le_cur(blocks[n - 1], cur.lsize);
		uint32_t magic = le_r32(&c), nrec = le_r32(&c);
		le_r64(&c);
		uint8_t b[BP_SIZE];
		le_rbytes(&c, b, BP_SIZE);
		if (!c.ok || magic != SLOG_MAGIC || nrec > (cur.lsize - SLOG_HDR) / SLOG_REC ||
		    bp_decode(b, &cur) < 0) {
			rc = terr(EIO, "space log block is corrupt");
			goto out;
		}
	}
	for (size_t i = n; i-- > 0;) {
		le_cur_t c = le_cur(blocks[i], chain[i].lsize);
		le_r32(&c);
		uint32_t nrec = le_r32(&c);
		c.pos = SLOG_HDR;
		for (uint32_t k = 0; k < nrec; k++) {
			space_rec_t r;
			r.txg = le_r64(&c);
			r.offset = le_r64(&c);
			r.len = le_r64(&c);
			r.vdev = le_r16(&c);
			r.is_free = le_r8(&c);
			c.pos += 5;
			if (!c.ok || r.txg > txg) {
				rc = terr(EIO, "space log record is corrupt");
				goto out;
			}
			rc = alloc_replay(&p->alloc, &r, txg);
			if (rc < 0)
				goto out;
		}
		p->log_entries += nrec;
		if (p->log_entries > entries) {
			rc = terr(EIO, "space log is longer than its uberblock says");
			goto out;
		}
		rc = remember_bp(p, &chain[i]);
		if (rc < 0)
			goto out;
	}
	p->spacelog = *head;
out:
	for (size_t i = 0; i < n; i++)
		free(blocks[i]);
	free(blocks);
	free(chain);
	return rc;
}
