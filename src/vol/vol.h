/* vol/vol.h — byte-range I/O on a volume's block tree: unaligned reads and writes
 * (read-modify-write within the open txg's dirty blocks), zeroing (which makes holes), and
 * allocation queries. A vol_t does not own the tree's persistence: the dataset layer syncs it.
 */
#ifndef TARN_VOL_VOL_H
#define TARN_VOL_VOL_H

#include <stdint.h>

#include "tree/tree.h"

typedef struct vol {
	tree_t tree;
	uint64_t size; /* volsize in bytes; I/O beyond it fails with -EINVAL */
} vol_t;

/* Read len bytes at off into buf. Holes read as zeros; a checksum error fails with -EIO and a
 * message naming the offset. */
int vol_read(vol_t *v, uint64_t off, uint64_t len, void *buf);
/* Write len bytes at off (any alignment). All-zero blocks become holes at sync. */
int vol_write(vol_t *v, uint64_t off, uint64_t len, const void *buf);
/* Zero a range: whole blocks become holes, partial blocks are zero-filled. */
int vol_zero(vol_t *v, uint64_t off, uint64_t len);
/* Bytes of dirty data waiting for the next sync. */
static inline uint64_t vol_dirty_bytes(const vol_t *v) { return tree_dirty_bytes(&v->tree); }

#endif
