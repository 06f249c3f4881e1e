/* dsl/space.c — ZFS space accounting (see dsl.h and docs/architecture.md "Space accounting"):
 *   used = usedbysnapshots + usedbydataset + usedbyrefreservation + usedbychildren
 *   usedbydataset = bytes the head references that were born after its origin
 *   usedbysnapshots = bytes only snapshots hold = the deadlists of the head and its snapshots
 *   usedbyrefreservation = max(0, refreservation - bytes unique to the head)
 *   a snapshot's used = the bytes only it holds (next's deadlist entries keyed in its range)
 *   available = pool free - slop - every dataset's unconsumed refreservation, plus the
 *   dataset's own unconsumed refreservation. */
#include <stdlib.h>
#include <string.h>

#include "dsl/deadlist.h"
#include "dsl/dsl.h"
#include "pool/bp.h"

#define MIN_SLOP (128ull << 20)
#define MAX_SLOP (128ull << 30)

uint64_t dsl_vol_refreservation(uint64_t volsize, uint64_t volblocksize)
{
	/* OpenZFS zvol_volsize_to_reservation() with copies=1 on plain vdevs: the data, plus
	 * the metadnode (L0-L6) and every indirect level at 1024 pointers per 128K block,
	 * counted twice (metadata gets ncopies + 1 DVAs). */
	const uint64_t per_level = 1024, indblk = 128ull << 10;
	uint64_t nblocks = volblocksize ? volsize / volblocksize : 0;
	uint64_t numdb = 7;
	while (nblocks > 1) {
		nblocks = (nblocks + per_level - 1) / per_level;
		numdb += nblocks;
	}
	numdb *= 2;
	/* tarn allocates in 4K units: a volume of smaller blocks needs 4K per block, which
	 * OpenZFS's formula (volsize) would under-reserve */
	uint64_t data = volblocksize && volblocksize < SECTOR ? volsize / volblocksize * SECTOR : volsize;
	return data + numdb * indblk;
}

static uint64_t refres_of(const dsl_ds_t *ds)
{
	if (ds->type == DS_SNAPSHOT)
		return 0;
	const dsl_prop_t *p = dsl_prop_find(ds, "refreservation");
	if (!p || !strcmp(p->value, "none"))
		return 0;
	return strtoull(p->value, NULL, 10);
}

static uint64_t unconsumed(const dsl_ds_t *ds)
{
	uint64_t r = refres_of(ds);
	return r > ds->unique ? r - ds->unique : 0;
}

uint64_t dsl_pool_avail(const dsl_t *d)
{
	uint64_t size = pool_size(d->pool), free = pool_free(d->pool);
	uint64_t slop = size >> 5;
	if (slop > MAX_SLOP)
		slop = MAX_SLOP;
	uint64_t minslop = size >> 1 < MIN_SLOP ? size >> 1 : MIN_SLOP;
	if (slop < minslop)
		slop = minslop;
	uint64_t res = 0;
	for (size_t i = 0; i < d->nds; i++)
		res += unconsumed(d->ds[i]);
	return free > slop + res ? free - slop - res : 0;
}

static uint64_t origin_txg_of(const dsl_t *d, const dsl_ds_t *head)
{
	const dsl_ds_t *o = head->origin ? dsl_by_id(d, head->origin) : NULL;
	return o ? o->createtxg : 0;
}

static uint64_t ratio(uint64_t logical, uint64_t phys)
{
	return phys ? logical * 100 / phys : 100;
}

static void head_space(const dsl_t *d, const dsl_ds_t *ds, dsl_space_t *s)
{
	uint64_t otxg = origin_txg_of(d, ds);
	uint64_t phys_used; /* used without the refreservation: what compressratio compares */
	memset(s, 0, sizeof(*s));
	s->referenced = ds->referenced;
	s->logicalreferenced = ds->lreferenced;
	s->usedds = ds->referenced - (ds->ref_origin < ds->referenced ? ds->ref_origin : ds->referenced);
	s->usedsnap = dl_bytes(&ds->dl, otxg, UINT64_MAX);
	s->logicalused = ds->lreferenced - (ds->lref_origin < ds->lreferenced ? ds->lref_origin : ds->lreferenced) +
			 dl_lbytes(&ds->dl, otxg, UINT64_MAX);
	phys_used = s->usedds + s->usedsnap;
	for (size_t i = 0; i < d->nds; i++) {
		const dsl_ds_t *c = d->ds[i];
		if (c->parent != ds->id || c->type == DS_BOOKMARK)
			continue;
		if (c->type == DS_SNAPSHOT) {
			s->usedsnap += dl_bytes(&c->dl, otxg, UINT64_MAX);
			s->logicalused += dl_lbytes(&c->dl, otxg, UINT64_MAX);
			phys_used += dl_bytes(&c->dl, otxg, UINT64_MAX);
		} else {
			dsl_space_t cs;
			head_space(d, c, &cs);
			s->usedchild += cs.used;
			s->logicalused += cs.logicalused;
			phys_used += cs.usedphys;
		}
	}
	s->refreservation = refres_of(ds);
	s->usedrefreserv = unconsumed(ds);
	s->used = s->usedsnap + s->usedds + s->usedrefreserv + s->usedchild;
	s->avail = dsl_pool_avail(d) + s->usedrefreserv;
	s->written = ds->unique;
	s->usedphys = phys_used;
	s->compressratio = ratio(s->logicalused, phys_used);
	s->refcompressratio = ratio(ds->lreferenced, ds->referenced);
}

static void snap_space(const dsl_t *d, const dsl_ds_t *snap, dsl_space_t *s)
{
	const dsl_ds_t *head = dsl_by_id(d, snap->parent);
	dsl_ds_t **snaps;
	size_t n = dsl_snapshots(d, head, &snaps), k;
	for (k = 0; k < n && snaps[k] != snap; k++)
		;
	uint64_t lo = k > 0 && k < n ? snaps[k - 1]->createtxg : origin_txg_of(d, head);
	const dsl_ds_t *next = k + 1 < n ? snaps[k + 1] : head;
	free(snaps);
	s->used = dl_bytes(&next->dl, lo, snap->createtxg);
	s->logicalused = dl_lbytes(&next->dl, lo, snap->createtxg);
	s->referenced = snap->referenced;
	s->logicalreferenced = snap->lreferenced;
	s->refcompressratio = s->compressratio = ratio(snap->lreferenced, snap->referenced);
	s->usedphys = s->used;
}

void dsl_space(const dsl_t *d, const dsl_ds_t *ds, dsl_space_t *s)
{
	memset(s, 0, sizeof(*s));
	if (ds->type == DS_SNAPSHOT)
		snap_space(d, ds, s);
	else
		head_space(d, ds, s);
}
