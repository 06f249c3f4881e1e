/* iscsi/mem.h — an in-memory iSCSI backend (iscsi_backend_t over byte arrays), for the unit
 * test, the fuzz target and the test server tests/lib/iscsimem.c; the daemon's backend is over
 * volumes.
 *
 * Targets (IQNs) hold LUs (LUN numbers); every initiator sees every target and LU unless the
 * target has an allow-list entry (one initiator IQN). A target may carry CHAP secrets (user +
 * secret: one-way; target secret too: mutual). An LU is a byte array with a "mapped" flag per
 * logical block: a new LU is all unmapped (zeros); writes map the blocks they touch, unmap
 * clears whole blocks to zeros and unmapped. Thread-safe: one mutex per iscsi_mem_t; tests
 * change fields under iscsi_mem_lock. */
#ifndef TARN_ISCSI_MEM_H
#define TARN_ISCSI_MEM_H

#include <stdint.h>

#include "iscsi/iscsi.h"

typedef struct iscsi_mem_lu {
	uint64_t lun, blocks;
	uint32_t block_size;
	uint8_t *data;
	uint8_t *mapped;     /* per logical block */
	int readonly, thin, write_cache;
	int can_set_wc;      /* MODE SELECT may change write_cache (default 1) */
	int gone;            /* gone() answers this */
	int fail_errno;      /* > 0: every I/O call fails with -fail_errno */
	unsigned delay_us;   /* > 0: read and write take this long, other calls may run meanwhile */
	int busy, max_busy;  /* reads and writes in their delay now, and the most at once */
	unsigned long opens, closes, reads, writes, fua, flushes, unmaps;
} iscsi_mem_lu_t;

typedef struct iscsi_mem_target {
	char *iqn;
	char chap_user[64], chap_secret[64], target_secret[64];
	char allow[224];     /* "" = any initiator */
	iscsi_mem_lu_t **lus;
	size_t nlus, caplus;
} iscsi_mem_target_t;

typedef struct iscsi_mem iscsi_mem_t;

iscsi_mem_t *iscsi_mem_new(void);
/* Free the targets (no server may use them any more). */
void iscsi_mem_free(iscsi_mem_t *m);
iscsi_mem_target_t *iscsi_mem_add_target(iscsi_mem_t *m, const char *iqn);
/* An LU of blocks × block_size bytes (at most 4 GiB), all unmapped. */
iscsi_mem_lu_t *iscsi_mem_add_lu(iscsi_mem_t *m, iscsi_mem_target_t *t, uint64_t lun, uint64_t blocks,
				 uint32_t block_size, int readonly, int thin);
/* Fill be with the backend functions over m. */
void iscsi_mem_backend(iscsi_mem_t *m, iscsi_backend_t *be);
void iscsi_mem_lock(iscsi_mem_t *m);
void iscsi_mem_unlock(iscsi_mem_t *m);

#endif
