/* dsl/deadlist.h — deadlists (internal to dsl/): per head or snapshot, the blocks killed while
 * it was the newest that older snapshots still hold, grouped by key = the txg of the first
 * snapshot that contains them, so destroying a snapshot touches only the groups it frees. */
#ifndef TARN_DSL_DEADLIST_H
#define TARN_DSL_DEADLIST_H

#include "dsl/dsl.h"

/* Record a killed block under key. */
int dl_insert(deadlist_t *dl, uint64_t key, const bp_t *bp);
/* Write pending entries to their chains (in the open txg). */
int dl_sync(pool_t *p, deadlist_t *dl);
/* Total bytes of entries with lo < key <= hi. */
uint64_t dl_bytes(const deadlist_t *dl, uint64_t lo, uint64_t hi);
/* The same in logical (uncompressed) bytes. */
uint64_t dl_lbytes(const deadlist_t *dl, uint64_t lo, uint64_t hi);
/* Remove the entries with lo < key <= hi, freeing their chain blocks and, if free_bps, the
 * blocks they list. */
int dl_remove(pool_t *p, deadlist_t *dl, uint64_t lo, uint64_t hi, int free_bps);
/* Move every entry of src to dst (src becomes empty). O(entries). */
int dl_move(deadlist_t *dst, deadlist_t *src);
/* Take out the entries with lo < key <= hi: their listed blocks are returned in *out (caller
 * frees), their chain blocks are freed. */
int dl_extract(pool_t *p, deadlist_t *dl, uint64_t lo, uint64_t hi, bp_t **out, size_t *n);
void dl_fini(deadlist_t *dl);
/* Visit chain blocks and listed blocks of every entry (scrub). */
int dl_walk(pool_t *p, const deadlist_t *dl, int (*cb)(void *arg, const bp_t *bp), void *arg);

#endif
