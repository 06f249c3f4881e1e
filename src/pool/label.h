/* pool/label.h — vdev labels (two copies at the start of every vdev) and uberblocks (the ring
 * of self-checksummed root records). Internal to pool/. */
#ifndef TARN_POOL_LABEL_H
#define TARN_POOL_LABEL_H

#include <stdio.h>

#include "pool/pool.h"

typedef struct uberblock {
	uint32_t version;
	uint64_t txg;
	uint64_t pool_guid;
	uint64_t guid_sum; /* sum of all vdev guids: every vdev must be present */
	uint64_t timestamp;
	bp_t catalog;
	bp_t spacelog;
	uint64_t log_entries;
} uberblock_t;

void label_encode(const pool_label_t *l, uint8_t out[VDEV_LABEL_SIZE]);
/* Decode and verify; -EINVAL (not a pool / corrupt) or -ENOTSUP (newer version), with message. */
int label_decode(const uint8_t in[VDEV_LABEL_SIZE], pool_label_t *l);
/* Read the first valid of the two label copies. */
int label_read(vdev_t *v, pool_label_t *l);
/* Write both copies, flushing after each, so one is always intact. */
int label_write(vdev_t *v, const pool_label_t *l);

void ub_encode(const uberblock_t *u, uint8_t out[UB_SLOT_SIZE]);
/* -EINVAL if the slot holds no valid uberblock (bad magic or checksum), -ENOTSUP if it is a
 * valid uberblock of a newer format. No message. */
int ub_decode(const uint8_t in[UB_SLOT_SIZE], uberblock_t *u);

#endif
