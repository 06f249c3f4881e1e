/* pool/bp.c — block pointer encoding (see bp.h, docs/format.md "Block pointer"). */
#include "pool/bp.h"

#include <string.h>

#include "util/compress.h"
#include "util/err.h"
#include "util/le.h"

#define BP_MAX_BLOCK (1u << 20)

void bp_encode(const bp_t *bp, uint8_t out[BP_SIZE])
{
	le_put64(out + 0, bp->offset);
	le_put16(out + 8, bp->vdev);
	out[10] = bp->level;
	out[11] = bp->type;
	le_put32(out + 12, bp->psize);
	le_put32(out + 16, bp->lsize);
	out[20] = bp->comp;
	out[21] = bp->cksum_type;
	le_put16(out + 22, bp->flags);
	le_put64(out + 24, bp->birth);
	memcpy(out + 32, bp->cksum, CKSUM_LEN);
}

int bp_decode(const uint8_t in[BP_SIZE], bp_t *bp)
{
	bp->offset = le_get64(in + 0);
	bp->vdev = le_get16(in + 8);
	bp->level = in[10];
	bp->type = in[11];
	bp->psize = le_get32(in + 12);
	bp->lsize = le_get32(in + 16);
	bp->comp = in[20];
	bp->cksum_type = in[21];
	bp->flags = le_get16(in + 22);
	bp->birth = le_get64(in + 24);
	memcpy(bp->cksum, in + 32, CKSUM_LEN);
	if (bp->flags) /* no flags are defined yet: one set means a newer format */
		return terr(EINVAL, "block pointer uses an unknown feature");
	if (bp->psize == 0)
		return 0;
	if (bp->psize > BP_MAX_BLOCK || bp->lsize > BP_MAX_BLOCK || bp->lsize == 0 ||
	    bp->offset % SECTOR || bp->level > 16 || bp->comp > COMP_ZSTD ||
	    (bp->cksum_type != CKSUM_XXH3_128 && bp->cksum_type != CKSUM_SHA256) ||
	    (bp->comp == COMP_OFF && bp->psize != bp->lsize))
		return terr(EINVAL, "invalid block pointer");
	return 0;
}
