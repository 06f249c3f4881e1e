/* vol/vol.c — byte-range volume I/O over a block tree (see vol.h). */
#include "vol/vol.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static int check_range(const vol_t *v, uint64_t off, uint64_t len)
{
	if (off > v->size || len > v->size - off)
		return terr(EINVAL, "range [%llu, +%llu) is beyond the end of the volume (%llu bytes)",
			    (unsigned long long)off, (unsigned long long)len, (unsigned long long)v->size);
	return 0;
}

int vol_read(vol_t *v, uint64_t off, uint64_t len, void *buf)
{
	TRY(check_range(v, off, len));
	uint32_t bs = v->tree.phys.dblksz;
	uint8_t *tmp = NULL;
	uint8_t *out = buf;
	while (len) {
		uint64_t blk = off / bs, inblk = off % bs;
		uint64_t n = bs - inblk < len ? bs - inblk : len;
		int rc;
		if (inblk == 0 && n == bs) {
			rc = tree_read(&v->tree, blk, out);
		} else {
			if (!tmp && !(tmp = malloc(bs)))
				return terr(ENOMEM, "out of memory");
			rc = tree_read(&v->tree, blk, tmp);
			if (rc == 0)
				memcpy(out, tmp + inblk, n);
		}
		if (rc < 0) {
			free(tmp);
			return terr_prefix(rc, "read error at offset %llu", (unsigned long long)(blk * bs));
		}
		out += n;
		off += n;
		len -= n;
	}
	free(tmp);
	return 0;
}

int vol_write(vol_t *v, uint64_t off, uint64_t len, const void *buf)
{
	TRY(check_range(v, off, len));
	uint32_t bs = v->tree.phys.dblksz;
	const uint8_t *in = buf;
	while (len) {
		uint64_t blk = off / bs, inblk = off % bs;
		uint64_t n = bs - inblk < len ? bs - inblk : len;
		uint8_t *d;
		if (n == bs)
			TRY(tree_dirty_full(&v->tree, blk, &d));
		else
			TRY(tree_dirty(&v->tree, blk, &d));
		memcpy(d + inblk, in, n);
		in += n;
		off += n;
		len -= n;
	}
	return 0;
}

int vol_zero(vol_t *v, uint64_t off, uint64_t len)
{
	TRY(check_range(v, off, len));
	uint32_t bs = v->tree.phys.dblksz;
	while (len) {
		uint64_t blk = off / bs, inblk = off % bs;
		if (inblk == 0 && len >= bs) {
			uint64_t nblk = len / bs;
			TRY(tree_punch(&v->tree, blk, nblk));
			off += nblk * bs;
			len -= nblk * bs;
			continue;
		}
		uint64_t n = bs - inblk < len ? bs - inblk : len;
		uint8_t *d;
		TRY(tree_dirty(&v->tree, blk, &d));
		memset(d + inblk, 0, n);
		off += n;
		len -= n;
	}
	return 0;
}
