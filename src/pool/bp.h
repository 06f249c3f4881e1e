/* pool/bp.h — block pointers: where a block lives, how big it is, how it is stored, when it was
 * born, and its checksum. Encoded as a fixed 64-byte little-endian record (docs/format.md). */
#ifndef TARN_POOL_BP_H
#define TARN_POOL_BP_H

#include <stdint.h>

#include "util/cksum.h"

#define BP_SIZE 64
#define SECTOR 4096u /* allocation unit (ashift 12) */

enum bp_type {
	BPT_NONE = 0,
	BPT_DATA = 1,     /* volume data block */
	BPT_INDIRECT = 2, /* block-tree indirect block (array of bps) */
	BPT_CATALOG = 3,  /* dataset catalog */
	BPT_SPACELOG = 4, /* space-log block */
	BPT_DEADLIST = 5, /* deadlist chain block */
};

typedef struct bp {
	uint64_t offset; /* byte offset in the vdev (SECTOR aligned); meaningless for holes */
	uint16_t vdev;   /* vdev index in the pool */
	uint8_t level;   /* 0 = data, n = indirect level n */
	uint8_t type;    /* enum bp_type */
	uint32_t psize;  /* bytes stored on disk (0 = hole) */
	uint32_t lsize;  /* logical bytes after decompression */
	uint8_t comp;    /* enum comp_alg */
	uint8_t cksum_type;
	uint16_t flags;
	uint64_t birth; /* txg in which this block (or, for a hole, the hole) was born; for an
			   indirect block it is also the maximum birth of everything below it */
	uint8_t cksum[CKSUM_LEN];
} bp_t;

/* A hole pointer (no data) keeps its birth txg so frees are visible to incremental sends. */
static inline int bp_is_hole(const bp_t *bp) { return bp->psize == 0; }
/* Bytes the block occupies on disk (psize rounded up to the allocation unit). */
static inline uint64_t bp_asize(const bp_t *bp) { return ((uint64_t)bp->psize + SECTOR - 1) / SECTOR * SECTOR; }

/* Encode/decode one bp to/from exactly BP_SIZE bytes. bp_decode validates field ranges and
 * returns -EINVAL (with a message) for an impossible pointer. */
void bp_encode(const bp_t *bp, uint8_t out[BP_SIZE]);
int bp_decode(const uint8_t in[BP_SIZE], bp_t *bp);

#endif
