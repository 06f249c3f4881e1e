/* dsl/bobj.h — byte objects (internal to dsl/): a byte sequence of any length stored in a
 * block-tree object of BOBJ_BLKSZ blocks, as pool metadata (not charged to any dataset).
 * The catalog and the pool history are byte objects. Writes rewrite only the blocks whose
 * bytes change, copy-on-write, in the pool's open txg. */
#ifndef TARN_DSL_BOBJ_H
#define TARN_DSL_BOBJ_H

#include "pool/pool.h"
#include "tree/tree.h"
#include "util/le.h"

#define BOBJ_BLKSZ (128u << 10)
#define BOBJ_MAX_LEN (1ull << 32)

typedef struct bobj {
	tree_phys_t tree;
	uint64_t len;
} bobj_t;

void bobj_init(bobj_t *o);
/* Read the whole object into a new buffer (*out, caller frees; NUL-terminated for text). */
int bobj_read(pool_t *p, const bobj_t *o, uint8_t **out);
/* Replace the contents with data[0..len). */
int bobj_write(pool_t *p, bobj_t *o, const uint8_t *data, uint64_t len);
/* Append data[0..len) (reads only the last partial block). */
int bobj_append(pool_t *p, bobj_t *o, const uint8_t *data, uint64_t len);
/* Encode/decode the descriptor (BP_SIZE + 16 bytes) for a root record; decode validates. */
void bobj_encode(const bobj_t *o, le_cur_t *c);
int bobj_decode(bobj_t *o, le_cur_t *c);
/* Visit the object's blocks (scrub). */
int bobj_walk(pool_t *p, const bobj_t *o, tree_walk_fn cb, void *arg);

#endif
