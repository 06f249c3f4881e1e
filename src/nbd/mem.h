/* nbd/mem.h — an in-memory nbd backend (nbd_backend_t over byte arrays), for the unit test, the
 * fuzz target and the test server tests/lib/nbdmem.c; the daemon's backend is over volumes.
 *
 * Each export is a byte array with holes tracked per NBD_MEM_BLOCK (4 KiB) block: a new export
 * is all holes; writes allocate the blocks they touch; TRIM and WRITE_ZEROES (without
 * NO_HOLE) turn whole blocks back into holes; base:allocation reports holes as HOLE|ZERO.
 * An optional extra meta context (nbd_mem_set_ctx, e.g. "test:ctx") reports flag 1 on every
 * block written, trimmed or zeroed since the export was added. FAST_ZERO succeeds only when
 * the zeroing may punch holes (not with NO_HOLE) and fast_zero is set. Thread-safe: one mutex
 * per nbd_mem_t; tests change an export's fields under nbd_mem_lock. */
#ifndef TARN_NBD_MEM_H
#define TARN_NBD_MEM_H

#include <stdint.h>

#include "nbd/nbd.h"

#define NBD_MEM_BLOCK 4096u

typedef struct nbd_mem_export {
	char *name, *desc;
	uint64_t size;
	uint8_t *data;
	uint8_t *hole;   /* per block: 1 = hole (data there is zero) */
	uint8_t *dirty;  /* per block: changed since added (the extra context) */
	int readonly;
	int gone;        /* gone() answers this */
	int fast_zero;   /* FAST_ZERO may succeed (default 1) */
	int fail_errno;  /* > 0: every I/O call fails with -fail_errno */
	/* counters */
	unsigned long opens, closes, reads, writes, fua, flushes, trims, zeroes, caches, extents;
} nbd_mem_export_t;

typedef struct nbd_mem nbd_mem_t;

/* An empty set of exports. NULL (terr) on failure. */
nbd_mem_t *nbd_mem_new(void);
/* Free the exports (no server may use them any more). */
void nbd_mem_free(nbd_mem_t *m);
/* Add an export of size bytes (all holes); the first one added is the default export (""). */
nbd_mem_export_t *nbd_mem_add(nbd_mem_t *m, const char *name, uint64_t size, int readonly, const char *desc);
/* The extra meta context's name ("namespace:leaf"; NULL: none). */
int nbd_mem_set_ctx(nbd_mem_t *m, const char *ctx);
/* Fill be with the backend functions over m. */
void nbd_mem_backend(nbd_mem_t *m, nbd_backend_t *be);
/* Hold m's lock to look at or change exports while connections run. */
void nbd_mem_lock(nbd_mem_t *m);
void nbd_mem_unlock(nbd_mem_t *m);

#endif
