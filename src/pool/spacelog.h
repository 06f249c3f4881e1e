/* pool/spacelog.h — persistent space log (internal to pool/). */
#ifndef TARN_POOL_SPACELOG_H
#define TARN_POOL_SPACELOG_H

#include "pool/pool.h"

/* Append the open txg's alloc/free records (condensing first when the log has grown well past
 * the size of the map it describes). Updates p->spacelog. */
int spacelog_commit(pool_t *p);
/* Replay the chain ending at head into p->alloc (which starts all-free); txg = imported txg,
 * entries = the record count the uberblock gives (bounds the walk). */
int spacelog_load(pool_t *p, const bp_t *head, uint64_t txg, uint64_t entries);

#endif
