/* pool/vdev.h — a leaf vdev: one file or block device holding part of a pool.
 *
 * Layout of every vdev (docs/format.md): label copies at offsets 0 and 4 KiB, the uberblock
 * ring (UB_SLOTS slots of 4 KiB) from 8 KiB, allocatable space from VDEV_DATA_START to the end
 * (rounded down to SECTOR). Writes go to the OS page cache; vdev_flush makes them durable.
 *
 * Fault injection for tests (environment, read at open): TARN_TORN_AFTER=N makes the N-th flush
 * (counted per process, across vdevs) simulate a power cut: the writes issued since the
 * previous flush are applied partially (a random subset, in random order, some torn at 512-byte
 * granularity; TARN_TORN_SEED seeds it) and the process exits with status 99.
 */
#ifndef TARN_POOL_VDEV_H
#define TARN_POOL_VDEV_H

#include <stdint.h>
#include <stddef.h>
#include <sys/uio.h>

#define VDEV_LABEL_SIZE 4096u
#define UB_SLOTS 128u
#define UB_SLOT_SIZE 4096u
#define VDEV_UB_START (2 * VDEV_LABEL_SIZE)
#define VDEV_DATA_START (1u << 20)
#define VDEV_MIN_SIZE (64ull << 20) /* as ZFS: a vdev must be at least 64 MiB */
#define VDEV_KICK_BYTES (8ull << 20)  /* start writeback after this many bytes */
#define VDEV_QUEUE_BYTES (1u << 20)   /* contiguous writes are combined up to this size */
#define VDEV_READAHEAD (512u << 10)   /* a read continuing the last one reads this much ahead */

typedef struct vdev {
	char path[4096];
	int fd;
	uint64_t size;     /* usable bytes (whole file/device rounded down to SECTOR) */
	uint64_t guid;
	uint64_t read_errors, write_errors, cksum_errors; /* since import (zpool status) */
	struct torn_buf *torn; /* fault injection: writes buffered since the last flush */
	uint64_t unkicked;     /* bytes written since writeback was last started */
	uint8_t *q;            /* write-combining buffer: contiguous writes not yet issued */
	uint64_t qoff;
	size_t qlen;
	int werr;              /* a combined write failed: every later write and flush fails */
	uint8_t *ra;           /* read-ahead window (sequential reads) */
	uint64_t raoff, last_end;
	size_t ralen;
} vdev_t;

/* Open a file or block device read-write (readonly if ro). Fails with a message naming the
 * path. Caller owns *v and closes it with vdev_close. */
int vdev_open(vdev_t *v, const char *path, int ro);
void vdev_close(vdev_t *v);

/* Full-length positional I/O; short transfers and errors become -EIO with a message, and
 * bump the vdev's READ/WRITE error counters. Contiguous writes are combined into one system
 * call (up to VDEV_QUEUE_BYTES); reads and flushes issue what is pending first, so a read
 * always sees every earlier write. A write error may be reported by a later call. */
int vdev_read(vdev_t *v, void *buf, size_t len, uint64_t off);
/* A plain pread of [off, off+len), touching no vdev state (no write queue, read-ahead or
 * counters): safe from several threads while the owner works on the vdev. Does not see writes
 * still queued (callers read blocks committed earlier). -EIO on any failure, no counting. */
int vdev_read_direct(const vdev_t *v, void *buf, size_t len, uint64_t off);
int vdev_write(vdev_t *v, const void *buf, size_t len, uint64_t off);
/* Positional writes / fdatasync that touch no vdev state (no queue, read-ahead or counters):
 * for a thread writing while the owner reads. The caller must make sure nothing is queued
 * (vdev_issue_pending) and nobody else writes meanwhile, and forget read-ahead windows
 * afterwards. -EIO/-ENOSPC with a message on failure. */
int vdev_writev_direct(const vdev_t *v, const struct iovec *iov, int cnt, uint64_t off);
int vdev_sync_direct(const vdev_t *v);
/* Issue the combined writes now (-errno if they or an earlier one failed). */
int vdev_issue_pending(vdev_t *v);
/* Drop the read-ahead window (blocks may have been written behind the vdev's back). */
void vdev_forget_readahead(vdev_t *v);
/* Make every completed write durable (fdatasync). */
int vdev_flush(vdev_t *v);

#endif
