/* pool/pool.c — pool create/import/export, txg commit, block I/O (see pool.h). */
#include "pool/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "pool/label.h"
#include "pool/spacelog.h"
#include "util/compress.h"
#include "util/err.h"
#include "util/guid.h"

static int lock_vdev(vdev_t *v)
{
	if (flock(v->fd, LOCK_EX | LOCK_NB) < 0)
		return terr(EBUSY, "'%s' is in use by another tarn process", v->path);
	return 0;
}

static void close_all(pool_t *p)
{
	for (int i = 0; i < p->nvdevs; i++)
		vdev_close(&p->vdevs[i]);
	alloc_fini(&p->alloc);
	free(p->log_bps);
	free(p);
}

static int init_alloc(pool_t *p)
{
	uint64_t lo[POOL_MAX_VDEVS], hi[POOL_MAX_VDEVS];
	for (int i = 0; i < p->nvdevs; i++) {
		lo[i] = VDEV_DATA_START;
		hi[i] = p->vdevs[i].size;
	}
	return alloc_init(&p->alloc, p->nvdevs, lo, hi);
}

static void fill_label(const pool_t *p, int i, uint32_t state, pool_label_t *l)
{
	memset(l, 0, sizeof(*l));
	l->version = POOL_VERSION;
	l->state = state;
	l->pool_guid = p->guid;
	l->vdev_guid = p->vdevs[i].guid;
	l->vdev_index = (uint32_t)i;
	l->nvdevs = (uint32_t)p->nvdevs;
	l->vdev_size = p->vdevs[i].size;
	l->create_time = p->create_time;
	snprintf(l->name, sizeof(l->name), "%s", p->name);
	for (int k = 0; k < p->nvdevs; k++)
		l->vdev_guids[k] = p->vdevs[k].guid;
}

static int write_labels(pool_t *p, uint32_t state)
{
	for (int i = 0; i < p->nvdevs; i++) {
		pool_label_t l;
		fill_label(p, i, state, &l);
		TRY(label_write(&p->vdevs[i], &l));
	}
	return 0;
}

int pool_read_label(const char *path, pool_label_t *lbl)
{
	vdev_t v;
	TRY(vdev_open(&v, path, 1));
	int rc = v.size < VDEV_DATA_START ? terr(EINVAL, "too small to hold a pool") : label_read(&v, lbl);
	vdev_close(&v);
	return rc;
}

int pool_create(const char *name, int nvdevs, char *const *paths, int force, pool_t **out)
{
	if (nvdevs < 1 || nvdevs > POOL_MAX_VDEVS)
		return terr(EINVAL, "a pool needs 1 to %d devices", POOL_MAX_VDEVS);
	if (strlen(name) >= POOL_NAME_MAX)
		return terr(EINVAL, "name is too long");
	pool_t *p = calloc(1, sizeof(*p));
	if (!p)
		return terr(ENOMEM, "out of memory");
	snprintf(p->name, sizeof(p->name), "%s", name);
	for (int i = 0; i < nvdevs; i++) {
		for (int k = 0; k < i; k++)
			if (!strcmp(paths[i], paths[k])) {
				close_all(p);
				return terr(EINVAL, "'%s' is specified more than once", paths[i]);
			}
		int rc = vdev_open(&p->vdevs[i], paths[i], 0);
		if (rc < 0) {
			close_all(p);
			return rc;
		}
		p->nvdevs = i + 1;
		if ((rc = lock_vdev(&p->vdevs[i])) < 0) {
			close_all(p);
			return rc;
		}
		if (p->vdevs[i].size < VDEV_MIN_SIZE) {
			close_all(p);
			return terr(EINVAL, "'%s' is too small: a device must be at least 64M", paths[i]);
		}
		pool_label_t old;
		if (label_read(&p->vdevs[i], &old) == 0 && old.state != POOL_STATE_DESTROYED &&
		    (!force || old.state == POOL_STATE_ACTIVE)) { /* -f never takes an active pool's device */
			close_all(p);
			return terr(EBUSY, "%s is part of %s pool '%s' (use -f to override)", paths[i],
				    old.state == POOL_STATE_EXPORTED ? "exported" : "active", old.name);
		}
		terr_clear();
		p->vdevs[i].guid = guid_new();
	}
	p->guid = guid_new();
	p->create_time = (uint64_t)time(NULL);
	p->txg = 0;
	int rc = init_alloc(p);
	/* wipe the uberblock rings so no stale state from an earlier pool can be picked up */
	uint8_t *zero = calloc(1, UB_SLOTS * UB_SLOT_SIZE);
	if (!zero)
		rc = terr(ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < nvdevs; i++)
		rc = vdev_write(&p->vdevs[i], zero, UB_SLOTS * UB_SLOT_SIZE, VDEV_UB_START);
	free(zero);
	if (rc == 0)
		rc = write_labels(p, POOL_STATE_ACTIVE);
	if (rc == 0) {
		bp_t none = { 0 };
		rc = pool_commit(p, &none);
	}
	if (rc < 0) {
		close_all(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* Load the state an uberblock describes. */
static int load_ub(pool_t *p, const uberblock_t *u)
{
	alloc_fini(&p->alloc);
	free(p->log_bps);
	p->log_bps = NULL;
	p->log_nbps = p->log_cap = 0;
	TRY(init_alloc(p));
	p->txg = u->txg;
	p->ub_time = u->timestamp;
	p->catalog = u->catalog;
	TRY(spacelog_load(p, &u->spacelog, u->txg, u->log_entries));
	if (!bp_is_hole(&u->catalog)) /* the catalog's root block must verify */
		TRY(pool_verify_block(p, &u->catalog));
	return 0;
}

/* After a rewind to txg `kept`: erase every uberblock newer than it (they describe states
 * whose blocks are now free space) and number new txgs past all of them, so no abandoned
 * state can ever be taken for the newest one. */
static int forget_newer(pool_t *p, uint64_t kept, uint64_t newest)
{
	uint8_t *ring = malloc(UB_SLOT_SIZE), *zero = calloc(1, UB_SLOT_SIZE);
	int rc = (!ring || !zero) ? terr(ENOMEM, "out of memory") : 0;
	for (int v = 0; rc == 0 && v < p->nvdevs; v++) {
		for (uint32_t s = 0; rc == 0 && s < UB_SLOTS; s++) {
			uberblock_t u;
			uint64_t off = VDEV_UB_START + (uint64_t)s * UB_SLOT_SIZE;
			if (vdev_read(&p->vdevs[v], ring, UB_SLOT_SIZE, off) < 0) {
				terr_clear();
				continue;
			}
			if (ub_decode(ring, &u) == 0 && u.pool_guid == p->guid && u.txg > kept)
				rc = vdev_write(&p->vdevs[v], zero, UB_SLOT_SIZE, off);
		}
		if (rc == 0)
			rc = vdev_flush(&p->vdevs[v]);
	}
	free(ring);
	free(zero);
	p->txg = newest;
	return rc;
}

static int ub_cmp_desc(const void *a, const void *b)
{
	const uberblock_t *x = a, *y = b;
	return x->txg < y->txg ? 1 : x->txg > y->txg ? -1 : 0;
}

int pool_import(int nvdevs, char *const *paths, int flags, pool_t **out)
{
	pool_t *p = calloc(1, sizeof(*p));
	if (!p)
		return terr(ENOMEM, "out of memory");
	pool_label_t lbl[POOL_MAX_VDEVS];
	int rc = 0;
	for (int i = 0; i < POOL_MAX_VDEVS; i++)
		p->vdevs[i].fd = -1;
	if (nvdevs < 1 || nvdevs > POOL_MAX_VDEVS) {
		free(p);
		return terr(EINVAL, "no devices");
	}
	int ro = (flags & POOL_IMPORT_READONLY) != 0;
	p->readonly = ro;
	for (int i = 0; i < nvdevs; i++) {
		vdev_t v;
		if ((rc = vdev_open(&v, paths[i], ro)) < 0)
			goto fail;
		if (!ro && (rc = lock_vdev(&v)) < 0) {
			vdev_close(&v);
			goto fail;
		}
		rc = v.size < VDEV_DATA_START ? terr(EINVAL, "too small to hold a pool") : label_read(&v, &lbl[i]);
		if (rc < 0) {
			terr_prefix(rc, "cannot import '%s'", paths[i]);
			vdev_close(&v);
			goto fail;
		}
		if (i == 0) {
			p->nvdevs = (int)lbl[0].nvdevs;
			p->guid = lbl[0].pool_guid;
			p->create_time = lbl[0].create_time;
			snprintf(p->name, sizeof(p->name), "%s", lbl[0].name);
		}
		uint32_t idx = lbl[i].vdev_index;
		if (lbl[i].pool_guid != p->guid || lbl[i].nvdevs != (uint32_t)p->nvdevs ||
		    p->vdevs[idx].fd >= 0) {
			vdev_close(&v);
			rc = terr(EINVAL, "cannot import: '%s' does not belong with the other devices", paths[i]);
			goto fail;
		}
		if (v.size < lbl[i].vdev_size) {
			vdev_close(&v);
			rc = terr(EINVAL, "cannot import '%s': device is truncated (%llu bytes, label says %llu)",
				  paths[i], (unsigned long long)v.size, (unsigned long long)lbl[i].vdev_size);
			goto fail;
		}
		v.size = lbl[i].vdev_size;
		v.guid = lbl[i].vdev_guid;
		p->vdevs[idx] = v;
	}
	if (nvdevs != p->nvdevs) {
		rc = terr(ENXIO, "cannot import '%s': %d of %d devices are missing", p->name,
			  p->nvdevs - nvdevs, p->nvdevs);
		goto fail;
	}
	uint32_t state = lbl[0].state;
	if (state == POOL_STATE_DESTROYED && !(flags & POOL_IMPORT_DESTROYED)) {
		rc = terr(ENOENT, "cannot import '%s': pool was destroyed (use -D)", p->name);
		goto fail;
	}
	if ((flags & POOL_IMPORT_OPEN) && state != POOL_STATE_ACTIVE) {
		rc = terr(ENOENT, "pool '%s' is not imported (it was %s)", p->name,
			  state == POOL_STATE_EXPORTED ? "exported" : "destroyed");
		goto fail;
	}
	if (state == POOL_STATE_ACTIVE && !(flags & (POOL_IMPORT_FORCE | POOL_IMPORT_OPEN))) {
		rc = terr(EBUSY, "cannot import '%s': pool may be in use from other system, it was last "
				 "accessed without export (use -f to import anyway)", p->name);
		goto fail;
	}
	/* gather every valid uberblock of this pool, newest first */
	uint64_t guid_sum = 0;
	for (int i = 0; i < p->nvdevs; i++)
		guid_sum += p->vdevs[i].guid;
	uberblock_t *ubs = calloc((size_t)p->nvdevs * UB_SLOTS, sizeof(*ubs));
	uint8_t *ring = malloc(UB_SLOTS * UB_SLOT_SIZE);
	size_t nub = 0;
	int newer = 0;
	if (!ubs || !ring) {
		free(ubs);
		free(ring);
		rc = terr(ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < p->nvdevs; i++) {
		if (vdev_read(&p->vdevs[i], ring, UB_SLOTS * UB_SLOT_SIZE, VDEV_UB_START) < 0)
			continue;
		for (uint32_t s = 0; s < UB_SLOTS; s++) {
			uberblock_t u;
			int d = ub_decode(ring + (size_t)s * UB_SLOT_SIZE, &u);
			if (d == -ENOTSUP)
				newer = 1;
			if (d == 0 && u.pool_guid == p->guid && u.guid_sum == guid_sum && u.txg % UB_SLOTS == s)
				ubs[nub++] = u;
		}
	}
	free(ring);
	if (newer) { /* never import over state we cannot read: it would be overwritten */
		free(ubs);
		rc = terr(ENOTSUP, "cannot import '%s': pool was written by a newer version of tarn", p->name);
		goto fail;
	}
	qsort(ubs, nub, sizeof(*ubs), ub_cmp_desc);
	/* Take the newest uberblock whose state loads. Only the one before it may stand in for it:
	 * a block freed in txg T is reused from T+1 on, so older states may point at overwritten
	 * blocks. And only when the newest one's metadata is corrupt, not when a device failed to
	 * read (that may pass; the newest state may be fine). */
	rc = terr(EIO, "cannot import '%s': no valid uberblock found", p->name);
	char why[TERR_MSG_MAX] = "";
	for (size_t i = 0; i < nub && ubs[i].txg + 1 >= ubs[0].txg; i++) {
		if (i && ubs[i].txg == ubs[i - 1].txg)
			continue;
		uint64_t ioerr = p->io_errors;
		rc = load_ub(p, &ubs[i]);
		if (rc == 0) {
			p->rewound = ubs[i].txg != ubs[0].txg;
			p->rewound_to = ubs[i].txg;
			if (p->rewound && !ro)
				rc = forget_newer(p, ubs[i].txg, ubs[0].txg);
			break;
		}
		if (!why[0])
			snprintf(why, sizeof(why), "%s", terr_msg());
		if (getenv("TARN_DEBUG_IMPORT"))
			fprintf(stderr, "import: txg %llu rejected: %s\n", (unsigned long long)ubs[i].txg, terr_msg());
		if (p->io_errors != ioerr)
			break; /* a read failed: do not give up the newest state over it */
	}
	free(ubs);
	if (rc < 0) {
		if (why[0])
			rc = terr(EIO, "cannot import '%s': pool metadata is corrupt or unreadable (%s)", p->name, why);
		goto fail;
	}
	if (!ro && !(flags & POOL_IMPORT_OPEN) && (rc = write_labels(p, POOL_STATE_ACTIVE)) < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	p->nvdevs = POOL_MAX_VDEVS; /* close whatever was opened */
	close_all(p);
	return rc;
}

void pool_close(pool_t *p)
{
	if (p)
		close_all(p);
}

int pool_export(pool_t *p, enum pool_state state)
{
	int rc = write_labels(p, state);
	close_all(p);
	return rc;
}

static int suspend(pool_t *p, int rc)
{
	p->suspended = 1;
	return rc;
}

int pool_wblk_prepare(enum bp_type type, int level, const void *data, uint32_t lsize, int comp, int cksum_type,
		      uint64_t birth, pool_wblk_t *w)
{
	memset(w, 0, sizeof(*w));
	uint8_t *cbuf = NULL;
	const uint8_t *out = data;
	uint32_t psize = lsize;
	if (comp != COMP_OFF) {
		size_t cap = comp_bound(comp, lsize);
		cbuf = malloc(cap + SECTOR);
		if (!cbuf)
			return terr(ENOMEM, "out of memory");
		size_t c = comp_compress(comp, data, lsize, cbuf, cap);
		if (c > 0) {
			out = cbuf;
			psize = (uint32_t)c;
		} else {
			comp = COMP_OFF;
		}
	}
	bp_t *bp = &w->bp;
	bp->type = (uint8_t)type;
	bp->level = (uint8_t)level;
	bp->psize = psize;
	bp->lsize = lsize;
	bp->comp = (uint8_t)comp;
	bp->cksum_type = (uint8_t)cksum_type;
	bp->birth = birth;
	cksum_compute(cksum_type, out, psize, bp->cksum);
	uint64_t asize = bp_asize(bp);
	if (asize == psize && out == data) { /* written as is */
		free(cbuf);
		w->data = data;
		return 0;
	}
	if (out != cbuf) { /* uncompressed with a partial tail sector: a padded copy */
		free(cbuf);
		if (!(cbuf = malloc(asize)))
			return terr(ENOMEM, "out of memory");
		memcpy(cbuf, out, psize);
	}
	memset(cbuf + psize, 0, asize - psize); /* pad the tail sector with zeros */
	w->out = cbuf;
	return 0;
}

void pool_wblk_free(pool_wblk_t *w)
{
	free(w->out);
	w->out = NULL;
}

static const uint8_t *wblk_bytes(const pool_wblk_t *w) { return w->out ? w->out : w->data; }

static int wblk_place(pool_t *p, pool_wblk_t *w)
{
	int rc = p->readonly ? terr(EROFS, "pool is open read-only")
			     : alloc_take(&p->alloc, bp_asize(&w->bp), w->bp.birth, &w->bp.vdev, &w->bp.offset);
	/* writers reserve space before buffering data: running out while syncing leaves this
	 * txg half-written, so it must not be committed */
	return rc < 0 ? suspend(p, rc) : 0;
}

static int wblks_unlocked_ok(const pool_t *p)
{
	for (int i = 0; i < p->nvdevs; i++)
		if (p->vdevs[i].torn)
			return 0;
	return 1;
}

/* Write placed blocks (through the vdev queues when locked, else positional writes that touch
 * no vdev state). *bad: the vdev that failed. */
static int wblks_write(pool_t *p, pool_wblk_t *const *w, size_t n, int locked, int durable, int *bad)
{
	if (locked) {
		for (size_t i = 0; i < n; i++) {
			*bad = w[i]->bp.vdev;
			TRY(vdev_write(&p->vdevs[w[i]->bp.vdev], wblk_bytes(w[i]), bp_asize(&w[i]->bp), w[i]->bp.offset));
		}
		return 0;
	}
	/* runs of blocks placed back to back go out as one pwritev */
	struct iovec iov[64];
	for (size_t i = 0; i < n;) {
		const bp_t *b = &w[i]->bp;
		uint64_t off = b->offset, end = off;
		int cnt = 0;
		while (i < n && cnt < 64 && w[i]->bp.vdev == b->vdev && w[i]->bp.offset == end) {
			iov[cnt].iov_base = (void *)wblk_bytes(w[i]);
			iov[cnt].iov_len = bp_asize(&w[i]->bp);
			end += iov[cnt].iov_len;
			cnt++;
			i++;
		}
		*bad = b->vdev;
		TRY(vdev_writev_direct(&p->vdevs[b->vdev], iov, cnt, off));
	}
	for (int i = 0; durable && i < p->nvdevs; i++) {
		*bad = i;
		TRY(vdev_sync_direct(&p->vdevs[i]));
	}
	return 0;
}

void pool_unlock(const pool_unlock_t *ul)
{
	if (ul)
		ul->unlock(ul->arg);
}

void pool_relock(const pool_unlock_t *ul)
{
	if (ul)
		ul->lock(ul->arg);
}

int pool_wblks_commit(pool_t *p, pool_wblk_t *const *w, size_t n, const pool_unlock_t *ul, int durable)
{
	for (size_t i = 0; i < n; i++)
		TRY(wblk_place(p, w[i]));
	int unlocked = ul && wblks_unlocked_ok(p), bad = 0;
	for (int v = 0; unlocked && v < p->nvdevs; v++) { /* nothing queued behind our writes */
		int r = vdev_issue_pending(&p->vdevs[v]);
		if (r < 0)
			return suspend(p, r);
	}
	if (unlocked)
		pool_unlock(ul);
	int rc = wblks_write(p, w, n, !unlocked, durable && unlocked, &bad); /* else the commit flushes */
	if (unlocked)
		pool_relock(ul);
	for (int i = 0; unlocked && i < p->nvdevs; i++) /* a window may hold what was there before */
		vdev_forget_readahead(&p->vdevs[i]);
	for (size_t i = 0; i < n; i++)
		p->dirty_bytes_written += bp_asize(&w[i]->bp);
	if (rc < 0) {
		if (unlocked) /* the vdev queue counted its own */
			p->vdevs[bad].write_errors++;
		return suspend(p, rc);
	}
	return 0;
}

int pool_write_block(pool_t *p, enum bp_type type, int level, const void *data, uint32_t lsize,
		     int comp, int cksum_type, bp_t *bp)
{
	pool_wblk_t w;
	TRY(pool_wblk_prepare(type, level, data, lsize, comp, cksum_type, pool_open_txg(p), &w));
	int rc = wblk_place(p, &w);
	if (rc == 0) {
		rc = vdev_write(&p->vdevs[w.bp.vdev], wblk_bytes(&w), bp_asize(&w.bp), w.bp.offset);
		p->dirty_bytes_written += bp_asize(&w.bp);
		if (rc < 0)
			suspend(p, rc);
	}
	*bp = w.bp;
	pool_wblk_free(&w);
	return rc;
}

static int check_bp(pool_t *p, const bp_t *bp)
{
	if (bp->vdev >= p->nvdevs || bp->offset < VDEV_DATA_START ||
	    bp->offset + bp_asize(bp) > p->vdevs[bp->vdev].size || bp->birth > pool_open_txg(p)) {
		p->cksum_errors++;
		return terr(EIO, "block pointer out of range (vdev %u offset %llu)", bp->vdev,
			    (unsigned long long)bp->offset);
	}
	return 0;
}

/* Read the stored bytes of bp into a new buffer (caller frees) and verify the checksum. */
static int read_verified(pool_t *p, const bp_t *bp, uint8_t **out)
{
	TRY(check_bp(p, bp));
	uint64_t asize = bp_asize(bp);
	uint8_t *buf = malloc(asize);
	if (!buf)
		return terr(ENOMEM, "out of memory");
	vdev_t *v = &p->vdevs[bp->vdev];
	int rc = vdev_read(v, buf, asize, bp->offset);
	if (rc < 0) {
		p->io_errors++;
		free(buf);
		return rc;
	}
	uint8_t c[CKSUM_LEN];
	cksum_compute(bp->cksum_type, buf, bp->psize, c);
	if (!cksum_equal(c, bp->cksum)) {
		v->cksum_errors++;
		p->cksum_errors++;
		free(buf);
		return terr(EIO, "checksum mismatch in block at %s offset %llu", v->path,
			    (unsigned long long)bp->offset);
	}
	*out = buf;
	return 0;
}

int pool_read_stored(pool_t *p, const bp_t *bp, void *dst)
{
	uint8_t *buf;
	if (bp_is_hole(bp))
		return terr(EINVAL, "a hole has no stored bytes");
	TRY(read_verified(p, bp, &buf));
	memcpy(dst, buf, bp->psize);
	free(buf);
	return 0;
}

int pool_verify_block(pool_t *p, const bp_t *bp)
{
	uint8_t *buf;
	if (bp_is_hole(bp))
		return 0;
	TRY(read_verified(p, bp, &buf));
	free(buf);
	return 0;
}

int pool_read_block(pool_t *p, const bp_t *bp, void *dst)
{
	uint8_t *buf;
	if (bp_is_hole(bp)) {
		memset(dst, 0, bp->lsize);
		return 0;
	}
	TRY(read_verified(p, bp, &buf));
	int rc = 0;
	if (bp->comp == COMP_OFF)
		memcpy(dst, buf, bp->lsize);
	else if ((rc = comp_decompress(bp->comp, buf, bp->psize, dst, bp->lsize)) < 0) {
		p->vdevs[bp->vdev].cksum_errors++;
		p->cksum_errors++;
	}
	free(buf);
	return rc;
}

/* Verify and decode the stored bytes raw (bp_asize) of bp into dst: 0 or -EAGAIN. */
static int decode_unlocked(const bp_t *bp, const uint8_t *raw, void *dst)
{
	uint8_t c[CKSUM_LEN];
	cksum_compute(bp->cksum_type, raw, bp->psize, c);
	if (!cksum_equal(c, bp->cksum))
		return -EAGAIN;
	if (bp->comp == COMP_OFF) {
		if (raw != dst)
			memcpy(dst, raw, bp->lsize);
		return 0;
	}
	return comp_decompress(bp->comp, raw, bp->psize, dst, bp->lsize) < 0 ? -EAGAIN : 0;
}

#define READ_RUN_MAX (1u << 20)

void pool_read_blocks_unlocked(pool_t *p, const bp_t *bps, void *const *dsts, int *ok, size_t n)
{
	uint8_t *run = NULL;
	for (size_t i = 0; i < n;) {
		const bp_t *a = &bps[i];
		size_t j = i + 1;
		uint64_t len = bp_asize(a);
		if (!bp_is_hole(a) && a->vdev < p->nvdevs && !p->vdevs[a->vdev].torn)
			while (j < n && !bp_is_hole(&bps[j]) && bps[j].vdev == a->vdev && bps[j].offset == a->offset + len &&
			       len + bp_asize(&bps[j]) <= READ_RUN_MAX)
				len += bp_asize(&bps[j++]);
		if (j == i + 1) { /* a block alone */
			ok[i] = pool_read_block_unlocked(p, a, dsts[i]) == 0;
			i++;
			continue;
		}
		/* stored as is and wanted back to back: read straight into the caller's buffer */
		int direct = 1;
		for (size_t k = i; k < j && direct; k++)
			direct = bps[k].comp == COMP_OFF && bp_asize(&bps[k]) == bps[k].lsize &&
				 (uint8_t *)dsts[k] == (uint8_t *)dsts[i] + (bps[k].offset - a->offset);
		uint8_t *into = direct ? dsts[i] : run ? run : (run = malloc(READ_RUN_MAX));
		if (!into || a->offset < VDEV_DATA_START || vdev_read_direct(&p->vdevs[a->vdev], into, len, a->offset) < 0) {
			for (; i < j; i++)
				ok[i] = 0;
			continue;
		}
		for (uint64_t at = 0; i < j; at += bp_asize(&bps[i]), i++)
			ok[i] = decode_unlocked(&bps[i], into + at, dsts[i]) == 0;
	}
	free(run);
}

int pool_read_block_unlocked(pool_t *p, const bp_t *bp, void *dst)
{
	if (bp_is_hole(bp)) {
		memset(dst, 0, bp->lsize);
		return 0;
	}
	if (bp->vdev >= p->nvdevs || bp->offset < VDEV_DATA_START || p->vdevs[bp->vdev].torn)
		return -EAGAIN;
	uint64_t asize = bp_asize(bp);
	uint8_t *buf = bp->comp == COMP_OFF && asize == bp->lsize ? dst : malloc(asize);
	if (!buf)
		return -EAGAIN;
	int rc = vdev_read_direct(&p->vdevs[bp->vdev], buf, asize, bp->offset);
	if (rc == 0)
		rc = decode_unlocked(bp, buf, dst);
	if (buf != dst)
		free(buf);
	return rc < 0 ? -EAGAIN : 0;
}

int pool_free_block(pool_t *p, const bp_t *bp)
{
	if (bp_is_hole(bp))
		return 0;
	int rc = alloc_free(&p->alloc, bp->vdev, bp->offset, bp_asize(bp), pool_open_txg(p));
	return rc < 0 ? suspend(p, rc) : 0;
}

int pool_commit(pool_t *p, const bp_t *catalog)
{
	uint64_t txg = pool_open_txg(p);
	if (p->readonly)
		return terr(EROFS, "pool is open read-only");
	if (p->suspended)
		return terr(EIO, "pool I/O is suspended after an earlier error; nothing was committed");
	int rc = spacelog_commit(p);
	for (int i = 0; rc == 0 && i < p->nvdevs; i++)
		rc = vdev_flush(&p->vdevs[i]);
	if (rc < 0)
		return suspend(p, rc);
	uberblock_t u = { .version = POOL_VERSION, .txg = txg, .pool_guid = p->guid,
			  .timestamp = (uint64_t)time(NULL), .catalog = *catalog,
			  .spacelog = p->spacelog, .log_entries = p->log_entries };
	for (int i = 0; i < p->nvdevs; i++)
		u.guid_sum += p->vdevs[i].guid;
	uint8_t *buf = malloc(UB_SLOT_SIZE);
	if (!buf)
		return suspend(p, terr(ENOMEM, "out of memory"));
	ub_encode(&u, buf);
	for (int i = 0; rc == 0 && i < p->nvdevs; i++)
		rc = vdev_write(&p->vdevs[i], buf, UB_SLOT_SIZE, VDEV_UB_START + (txg % UB_SLOTS) * UB_SLOT_SIZE);
	free(buf);
	for (int i = 0; rc == 0 && i < p->nvdevs; i++)
		rc = vdev_flush(&p->vdevs[i]);
	if (rc < 0)
		return suspend(p, rc);
	p->txg = txg;
	p->ub_time = u.timestamp;
	p->catalog = *catalog;
	p->dirty_bytes_written = 0;
	alloc_committed(&p->alloc, txg);
	return 0;
}

uint64_t pool_size(const pool_t *p) { return alloc_total_bytes(&p->alloc); }
uint64_t pool_free(const pool_t *p) { return alloc_free_bytes(&p->alloc); }
uint64_t pool_allocated(const pool_t *p) { return pool_size(p) - pool_free(p); }
