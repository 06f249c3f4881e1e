/* stream/format.h — the tarn send stream: a sequence of records, each a fixed 48-byte header
 * and a payload (docs/format.md "Send stream"). Every header carries a running xxh3-128 over
 * all bytes of the stream so far (the previous record's checksum, this header's first 32
 * bytes and this payload), so any flipped, dropped, reordered or truncated byte is caught at
 * the record where it happens. Little-endian, versioned; decoders check every length.
 */
#ifndef TARN_STREAM_FORMAT_H
#define TARN_STREAM_FORMAT_H

#include <stdint.h>
#include <stdio.h>

#define SR_MAGIC 0x31525354u /* "TSR1" */
#define SR_HDR 48
#define SR_MAX_PAYLOAD (16u << 20)
#define STREAM_VERSION 1

enum sr_type {
	SR_BEGIN = 1,     /* arg0 = to guid, arg1 = from guid (0: full); payload: sr_begin_t */
	SR_WRITE = 2,     /* arg0 = byte offset, arg1 = logical length; flags = compression; data */
	SR_FREE = 3,      /* arg0 = byte offset, arg1 = length: the range reads as zeros (holes) */
	SR_END = 4,       /* arg0 = to guid, arg1 = records in the substream before END */
	SR_PKG_BEGIN = 5, /* replication package (-R): payload describes datasets and snapshots */
	SR_PKG_END = 6,   /* arg0 = number of substreams */
};

/* BEGIN feature bits */
#define SRF_COMPRESSED 1u /* WRITE payloads may be stored compressed (flags = algorithm) */
#define SRF_PROPS 2u      /* BEGIN carries the dataset's properties */
#define SRF_RESUME 4u     /* a resumed stream: WRITE/FREE start at resume_offset */
#define SRF_KNOWN (SRF_COMPRESSED | SRF_PROPS | SRF_RESUME)

typedef struct sr_prop {
	char *name, *value;
} sr_prop_t;

typedef struct sr_begin {
	uint32_t version, features;
	uint8_t dstype; /* 1 filesystem, 2 volume (dsl enum ds_type) */
	uint64_t volsize;
	uint32_t volblocksize;
	uint64_t creation;      /* of the to-snapshot */
	uint64_t to_guid, from_guid;
	char toname[512], fromname[512]; /* full names on the sender */
	uint64_t resume_offset;
	sr_prop_t *props;
	uint32_t nprops;
} sr_begin_t;

typedef struct sr_hdr {
	uint16_t type, flags;
	uint64_t len, arg0, arg1;
} sr_hdr_t;

/* ---- writing ---- */
typedef struct sr_writer {
	FILE *f;
	uint8_t chain[16];
	uint64_t bytes, records; /* bytes written; records since the last BEGIN */
	int err;                 /* first write error (negative errno), sticky */
} sr_writer_t;

void srw_init(sr_writer_t *w, FILE *f);
int srw_record(sr_writer_t *w, uint16_t type, uint16_t flags, uint64_t arg0, uint64_t arg1, const void *payload,
	       uint64_t len);
int srw_begin(sr_writer_t *w, const sr_begin_t *b);
/* Size a BEGIN record takes (for estimates). */
uint64_t sr_begin_size(const sr_begin_t *b);

/* ---- reading (untrusted input) ---- */
typedef struct sr_reader {
	FILE *f;
	uint8_t chain[16];
	uint64_t bytes;  /* bytes consumed */
	uint8_t *buf;    /* payload of the last record (valid until the next read) */
	size_t cap;
} sr_reader_t;

void srr_init(sr_reader_t *r, FILE *f);
void srr_fini(sr_reader_t *r);
/* Read the next record, verify magic, lengths and the running checksum. Returns 1 with *h and
 * r->buf filled, 0 at a clean end of input (before any byte of a record), or a negative errno
 * with a message (truncated, corrupt, unknown type). */
int srr_next(sr_reader_t *r, sr_hdr_t *h);
/* Decode a BEGIN payload; caller frees with sr_begin_free. */
int sr_begin_decode(const uint8_t *p, uint64_t len, sr_begin_t *b);
void sr_begin_free(sr_begin_t *b);

#endif
