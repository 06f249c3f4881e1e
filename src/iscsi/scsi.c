/* iscsi/scsi.c — SCSI commands of a block device (SBC-3): READ/WRITE 6/10/12/16 (FUA), WRITE AND
 * VERIFY, VERIFY, WRITE SAME (with UNMAP), UNMAP, COMPARE AND WRITE (atomic per LU), ORWRITE,
 * SYNCHRONIZE CACHE, PRE-FETCH, READ CAPACITY 10/16, GET LBA STATUS; the dispatch to spc.c for
 * the rest. WRITE data of up to ISCSI_WBUF_MAX (ISCSI_WBUF_TOTAL per connection) of a SIMPLE task
 * is buffered and written at exec, on a worker, when the connection has workers; other WRITE
 * data goes to the backend as it arrives (bounded memory); other data-out (parameter lists,
 * COMPARE AND WRITE, ORWRITE) is buffered whole, at most ISCSI_MAX_BUFFERED. Commands use the
 * buffers of the thread that runs them (t->xb). */
#include "iscsi/conn.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

uint64_t iscsi_lun_decode(const uint8_t *p)
{
	switch (p[0] >> 6) {
	case 0: /* peripheral device addressing, bus 0 */
		return p[0] == 0 ? p[1] : 0x10000u + ib_get16(p);
	case 1: /* flat space */
		return (uint64_t)(p[0] & 0x3f) << 8 | p[1];
	default:
		return UINT64_MAX;
	}
}

void iscsi_lun_encode(uint8_t *p, uint64_t lun)
{
	memset(p, 0, 8);
	if (lun < 256) {
		p[1] = (uint8_t)lun;
	} else {
		p[0] = (uint8_t)(0x40 | ((lun >> 8) & 0x3f));
		p[1] = (uint8_t)lun;
	}
}

/* LBA and transfer length of the READ/WRITE/VERIFY/... families. */
static void lba_len(const uint8_t *cdb, uint64_t *lba, uint32_t *len)
{
	switch (cdb[0] >> 5) {
	case 0: /* 6-byte */
		*lba = (uint32_t)(cdb[1] & 0x1f) << 16 | ib_get16(cdb + 2);
		*len = cdb[4] ? cdb[4] : 256;
		break;
	case 1:
	case 2: /* 10-byte */
		*lba = ib_get32(cdb + 2);
		*len = ib_get16(cdb + 7);
		break;
	case 4: /* 16-byte */
		*lba = ib_get64(cdb + 2);
		*len = ib_get32(cdb + 10);
		break;
	default: /* 12-byte */
		*lba = ib_get32(cdb + 2);
		*len = ib_get32(cdb + 6);
		break;
	}
}

static int range_ok(iscsi_task_t *t, uint64_t lba, uint64_t len)
{
	uint64_t blocks = t->lu->info.blocks;
	if (lba >= blocks || len > blocks - lba) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return 0;
	}
	return 1;
}

static uint32_t max_xfer_blocks(const iscsi_lu_t *lu) { return ISCSI_MAX_XFER / lu->info.block_size; }

static int writable(iscsi_task_t *t)
{
	if (t->lu->info.readonly) {
		iscsi_sense(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return 0;
	}
	return 1;
}

/* Data-out length check: the command takes need bytes, the initiator sends edtl. */
static void want_out(iscsi_conn_t *c, iscsi_task_t *t, uint32_t need, int buffered)
{
	t->need = need;
	if (t->edtl != need || (need && !t->wr)) {
		uint32_t sent = t->wr ? t->edtl : 0;
		t->over_out = need > sent, t->under_out = need < sent;
		t->resid_out = need > sent ? need - sent : sent - need;
		t->wr = 1; /* residuals are reported the write way */
		if (t->stream) { /* FCP-4 9.4.2 a): transfer and write only what both say */
			t->need = need < sent ? need : sent;
			return;
		}
		if (need > sent) { /* a parameter list cut short: use none of it */
			iscsi_sense(t, SK_ILLEGAL_REQUEST, 0x0e03); /* INVALID FIELD IN COMMAND INFORMATION UNIT */
			return;
		}
	}
	if (buffered && need) {
		if (need > ISCSI_MAX_BUFFERED) {
			iscsi_sense_field(t, 1, 0, -1);
			return;
		}
		if (!(t->buf = malloc(need))) {
			t->status = SAM_TASK_SET_FULL;
			t->failed = 1;
			t->senselen = 0;
		}
	}
	(void)c;
}

/* A WRITE of a SIMPLE task small enough is buffered whole and runs on a worker once its data is
 * in (session.c); larger ones, or beyond the connection's budget, are written as data arrives. */
static void buffer_write(iscsi_conn_t *c, iscsi_task_t *t)
{
	if (t->failed || !t->need || t->need > ISCSI_WBUF_MAX || t->attr > 1 || !iscsi_wq_parallel(c) ||
	    !iscsi_wq_wbuf_get(c, t->need))
		return;
	t->wres = t->need;
	if (!(t->buf = malloc(t->need))) /* streaming needs no memory */
		return;
	t->stream = 0;
}

int iscsi_scsi_start(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, op = cdb[0];
	t->status = SAM_GOOD;
	if (!t->lu || iscsi_pr_conflict(c, t))
		return 0; /* answered at exec (LUN NOT SUPPORTED, RESERVATION CONFLICT) */
	uint32_t bs = t->lu->info.block_size;
	uint64_t lba;
	uint32_t len;
	switch (op) {
	case 0x0a: case 0x2a: case 0xaa: case 0x8a: /* WRITE 6/10/12/16 */
	case 0x2e: case 0xae: case 0x8e:            /* WRITE AND VERIFY 10/12/16 */
		lba_len(cdb, &lba, &len);
		if (op != 0x0a && (cdb[1] & 0xe0)) /* WRPROTECT: no protection information */
			iscsi_sense_field(t, 1, 1, 7);
		else if (len > max_xfer_blocks(t->lu))
			iscsi_sense_field(t, 1, op == 0x0a ? 4 : 7, -1);
		else if (range_ok(t, lba, len) && writable(t)) {
			t->stream = 1;
			t->stream_off = lba * bs;
			t->fua = op == 0x0a ? 0 : !!(cdb[1] & 0x08);
			want_out(c, t, len * bs, 0);
			buffer_write(c, t);
		}
		return 0;
	case 0x2f: case 0xaf: case 0x8f: { /* VERIFY 10/12/16 */
		int bytchk = (cdb[1] >> 1) & 3;
		lba_len(cdb, &lba, &len);
		if (cdb[1] & 0xe0)
			iscsi_sense_field(t, 1, 1, 7);
		else if (bytchk == 2)
			iscsi_sense_field(t, 1, 1, 2);
		else if (len > max_xfer_blocks(t->lu))
			iscsi_sense_field(t, 1, 7, -1);
		else if (range_ok(t, lba, len)) {
			if (bytchk == 1) {
				t->stream = 1;
				t->stream_off = lba * bs;
				want_out(c, t, len * bs, 0);
			} else if (bytchk == 3) {
				want_out(c, t, len ? bs : 0, 1);
			}
		}
		return 0;
	}
	case 0x89: /* COMPARE AND WRITE */
		lba = ib_get64(cdb + 2);
		len = cdb[13];
		if (cdb[1] & 0xe0)
			iscsi_sense_field(t, 1, 1, 7);
		else if (len > ISCSI_CAW_MAX || 2ull * len * bs > ISCSI_MAX_BUFFERED || (len == 0 && t->edtl))
			iscsi_sense_field(t, 1, 13, -1);
		else if (t->edtl != 2 * len * bs) /* verify and write data, nothing else */
			iscsi_sense(t, SK_ILLEGAL_REQUEST, 0x0e03);
		else if (range_ok(t, lba, len) && writable(t))
			want_out(c, t, 2 * len * bs, 1);
		return 0;
	case 0x8b: /* ORWRITE 16 */
		lba_len(cdb, &lba, &len);
		if (cdb[1] & 0xe0)
			iscsi_sense_field(t, 1, 1, 7);
		else if ((uint64_t)len * bs > ISCSI_MAX_BUFFERED)
			iscsi_sense_field(t, 1, 10, -1);
		else if (range_ok(t, lba, len) && writable(t))
			want_out(c, t, len * bs, 1);
		return 0;
	case 0x41: case 0x93: { /* WRITE SAME 10/16 */
		int ndob = op == 0x93 && (cdb[1] & 0x01);
		lba_len(cdb, &lba, &len);
		if (cdb[1] & 0xe0)
			iscsi_sense_field(t, 1, 1, 7);
		else if (cdb[1] & 0x10) /* ANCHOR */
			iscsi_sense_field(t, 1, 1, 4);
		else if ((cdb[1] & 0x08) && !t->lu->info.thin) /* UNMAP on a fully provisioned LU */
			iscsi_sense_field(t, 1, 1, 3);
		else if (ndob && !(cdb[1] & 0x08))
			iscsi_sense_field(t, 1, 1, 0);
		else if (t->edtl != (ndob ? 0 : bs)) /* exactly one block of data (none with NDOB) */
			iscsi_sense(t, SK_ILLEGAL_REQUEST, 0x0e03);
		else if (range_ok(t, lba, len ? len : 1) && writable(t))
			want_out(c, t, ndob ? 0 : bs, 1);
		return 0;
	}
	case 0x42: /* UNMAP */
		if (!t->lu->info.thin)
			iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		else if (cdb[1] & 0x01) /* ANCHOR */
			iscsi_sense_field(t, 1, 1, 0);
		else if (writable(t))
			want_out(c, t, ib_get16(cdb + 7), 1);
		return 0;
	case 0x15: /* MODE SELECT 6 */
		want_out(c, t, cdb[4], 1);
		return 0;
	case 0x55: /* MODE SELECT 10 */
		want_out(c, t, ib_get16(cdb + 7), 1);
		return 0;
	case 0x5f: /* PERSISTENT RESERVE OUT */
		want_out(c, t, ib_get32(cdb + 5), 1);
		return 0;
	default:
		if (t->wr && t->edtl) /* a command without data-out: the data is dropped */
			t->under_out = 1, t->resid_out = t->edtl;
		return 0;
	}
}

/* WRITE / WRITE AND VERIFY data, or VERIFY (BYTCHK 1) data to compare. */
int iscsi_scsi_stream(iscsi_conn_t *c, iscsi_task_t *t, uint32_t off, const uint8_t *buf, uint32_t len)
{
	iscsi_lu_t *lu = t->lu;
	uint8_t op = t->cdb[0];
	if (off >= t->need)
		return 0;
	if (len > t->need - off)
		len = t->need - off;
	if (op == 0x2f || op == 0xaf || op == 0x8f) {
		if (!t->xb->rdbuf && !(t->xb->rdbuf = malloc(ISCSI_RDCHUNK))) {
			iscsi_sense(t, SK_ABORTED_COMMAND, ASC_INTERNAL_FAILURE);
			return 0;
		}
		for (uint32_t done = 0; done < len;) {
			uint32_t n = len - done < ISCSI_RDCHUNK ? len - done : ISCSI_RDCHUNK;
			int rc = c->s->be.read(lu->h, t->stream_off + off + done, n, t->xb->rdbuf);
			if (rc < 0) {
				iscsi_sense_errno(t, rc, 0);
				return 0;
			}
			for (uint32_t i = 0; i < n; i++)
				if (t->xb->rdbuf[i] != buf[done + i]) {
					iscsi_sense_info(t, SK_MISCOMPARE, ASC_MISCOMPARE_VERIFY, off + done + i);
					return 0;
				}
			done += n;
		}
		return 0;
	}
	if (off >= t->need)
		return 0; /* beyond the CDB's transfer length (residual underflow) */
	if (len > t->need - off)
		len = t->need - off;
	if (!c->s->be.write) {
		iscsi_sense(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return 0;
	}
	int rc = c->s->be.write(lu->h, t->stream_off + off, len, buf, t->fua);
	if (rc < 0)
		iscsi_sense_errno(t, rc, 1);
	return 0;
}

static int do_read(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, op = cdb[0];
	uint64_t lba;
	uint32_t len;
	lba_len(cdb, &lba, &len);
	if (op != 0x08 && (cdb[1] & 0xe0)) {
		iscsi_sense_field(t, 1, 1, 7);
		return 0;
	}
	if (len > max_xfer_blocks(t->lu)) {
		iscsi_sense_field(t, 1, op == 0x08 ? 4 : op == 0x28 ? 7 : op == 0x88 ? 10 : 6, -1);
		return 0;
	}
	if (!range_ok(t, lba, len))
		return 0;
	uint32_t bs = t->lu->info.block_size;
	t->want_in = len * bs;
	uint32_t total = t->want_in < t->edtl ? t->want_in : t->edtl;
	if (!total)
		return 0;
	if (!t->xb->rdbuf && !(t->xb->rdbuf = malloc(ISCSI_RDCHUNK))) {
		iscsi_sense(t, SK_ABORTED_COMMAND, ASC_INTERNAL_FAILURE);
		return 0;
	}
	for (uint32_t done = 0; done < total;) {
		uint32_t n = total - done < ISCSI_RDCHUNK ? total - done : ISCSI_RDCHUNK;
		int rc = c->s->be.read(t->lu->h, lba * bs + done, n, t->xb->rdbuf);
		if (rc < 0) {
			iscsi_sense_errno(t, rc, 0);
			return 0;
		}
		done += n;
		TRY(iscsi_datain(c, t, t->xb->rdbuf, n, done == total));
	}
	return 0;
}

/* COMPARE AND WRITE: read, compare with the first half, write the second half, all under the
 * LU's lock (other COMPARE AND WRITEs and ORWRITEs of every session wait). */
static int do_caw(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint64_t lba = ib_get64(t->cdb + 2);
	uint32_t bs = t->lu->info.block_size, n = t->cdb[13] * bs;
	if (!n)
		return 0;
	uint8_t *cur = malloc(n);
	if (!cur) {
		iscsi_sense(t, SK_ABORTED_COMMAND, ASC_INTERNAL_FAILURE);
		return 0;
	}
	pthread_mutex_lock(&t->lu->st->lock);
	int rc = c->s->be.read(t->lu->h, lba * bs, n, cur);
	if (rc < 0) {
		iscsi_sense_errno(t, rc, 0);
	} else {
		uint32_t i = 0;
		while (i < n && cur[i] == t->buf[i])
			i++;
		if (i < n) {
			iscsi_sense_info(t, SK_MISCOMPARE, ASC_MISCOMPARE_VERIFY, i);
		} else if ((rc = c->s->be.write(t->lu->h, lba * bs, n, t->buf + n, !!(t->cdb[1] & 0x08))) < 0) {
			iscsi_sense_errno(t, rc, 1);
		}
	}
	pthread_mutex_unlock(&t->lu->st->lock);
	free(cur);
	return 0;
}

static int do_orwrite(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint64_t lba;
	uint32_t len;
	lba_len(t->cdb, &lba, &len);
	uint32_t bs = t->lu->info.block_size, n = len * bs;
	if (!n)
		return 0;
	uint8_t *cur = malloc(n);
	if (!cur) {
		iscsi_sense(t, SK_ABORTED_COMMAND, ASC_INTERNAL_FAILURE);
		return 0;
	}
	pthread_mutex_lock(&t->lu->st->lock);
	int rc = c->s->be.read(t->lu->h, lba * bs, n, cur);
	if (rc < 0) {
		iscsi_sense_errno(t, rc, 0);
	} else {
		for (uint32_t i = 0; i < n; i++)
			cur[i] |= t->buf[i];
		if ((rc = c->s->be.write(t->lu->h, lba * bs, n, cur, !!(t->cdb[1] & 0x08))) < 0)
			iscsi_sense_errno(t, rc, 1);
	}
	pthread_mutex_unlock(&t->lu->st->lock);
	free(cur);
	return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int do_write_same(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint64_t lba;
	uint32_t len;
	lba_len(t->cdb, &lba, &len);
	iscsi_lu_t *lu = t->lu;
	uint32_t bs = lu->info.block_size;
	int ndob = t->cdb[0] == 0x93 && (t->cdb[1] & 0x01), unmap = !!(t->cdb[1] & 0x08);
	int zero = ndob || all_zero(t->buf, bs);
	int rc;
	if (len == 0) /* WSNZ is 0: zero blocks means up to the last LBA */
		len = (uint32_t)(lu->info.blocks - lba > 0xffffffffu ? 0xffffffffu : lu->info.blocks - lba);
	if (unmap && lu->info.thin && c->s->be.unmap) { /* unmapped blocks read as zeros (LBPRZ) */
		if ((rc = c->s->be.unmap(lu->h, lba * bs, (uint64_t)len * bs)) < 0)
			iscsi_sense_errno(t, rc, 1);
		return 0;
	}
	if (!t->xb->rdbuf && !(t->xb->rdbuf = malloc(ISCSI_RDCHUNK))) {
		iscsi_sense(t, SK_ABORTED_COMMAND, ASC_INTERNAL_FAILURE);
		return 0;
	}
	uint32_t per = ISCSI_RDCHUNK / bs;
	for (uint32_t i = 0; i < per; i++) {
		if (zero)
			memset(t->xb->rdbuf + (size_t)i * bs, 0, bs);
		else
			memcpy(t->xb->rdbuf + (size_t)i * bs, t->buf, bs);
	}
	for (uint64_t done = 0; done < len;) {
		uint32_t n = len - done < per ? (uint32_t)(len - done) : per;
		if ((rc = c->s->be.write(lu->h, (lba + done) * bs, n * bs, t->xb->rdbuf, 0)) < 0) {
			iscsi_sense_errno(t, rc, 1);
			return 0;
		}
		done += n;
	}
	return 0;
}

static int do_unmap(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint32_t plen = t->need;
	const uint8_t *p = t->buf;
	iscsi_lu_t *lu = t->lu;
	if (plen == 0)
		return 0;
	if (plen < 8) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		return 0;
	}
	uint32_t dlen = ib_get16(p + 2);
	if (dlen > plen - 8)
		dlen = (plen - 8) & ~15u;
	if (dlen / 16 > ISCSI_UNMAP_MAX_DESC) {
		iscsi_sense_field(t, 0, 2, -1);
		return 0;
	}
	for (uint32_t i = 0; i + 16 <= dlen; i += 16) { /* every range is checked before any unmap */
		uint64_t lba = ib_get64(p + 8 + i);
		uint32_t n = ib_get32(p + 16 + i);
		if (lba > lu->info.blocks || n > lu->info.blocks - lba || (n && lba == lu->info.blocks)) {
			iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
			return 0;
		}
	}
	for (uint32_t i = 0; i + 16 <= dlen; i += 16) {
		uint64_t lba = ib_get64(p + 8 + i);
		uint32_t n = ib_get32(p + 16 + i);
		if (!n)
			continue;
		int rc = c->s->be.unmap ? c->s->be.unmap(lu->h, lba * lu->info.block_size, (uint64_t)n * lu->info.block_size)
					: 0;
		if (rc < 0) {
			iscsi_sense_errno(t, rc, 1);
			return 0;
		}
	}
	return 0;
}

static int do_verify3(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint64_t lba;
	uint32_t len;
	lba_len(t->cdb, &lba, &len);
	uint32_t bs = t->lu->info.block_size;
	if (!t->xb->rdbuf && !(t->xb->rdbuf = malloc(ISCSI_RDCHUNK))) {
		iscsi_sense(t, SK_ABORTED_COMMAND, ASC_INTERNAL_FAILURE);
		return 0;
	}
	for (uint32_t b = 0; b < len; b++) {
		int rc = c->s->be.read(t->lu->h, (lba + b) * bs, bs, t->xb->rdbuf);
		if (rc < 0) {
			iscsi_sense_errno(t, rc, 0);
			return 0;
		}
		for (uint32_t i = 0; i < bs; i++)
			if (t->xb->rdbuf[i] != t->buf[i]) {
				iscsi_sense_info(t, SK_MISCOMPARE, ASC_MISCOMPARE_VERIFY, b * bs + i);
				return 0;
			}
	}
	return 0;
}

static int small_in(iscsi_conn_t *c, iscsi_task_t *t, const uint8_t *d, uint32_t n, uint32_t alloc)
{
	t->want_in = n < alloc ? n : alloc;
	return iscsi_datain(c, t, d, t->want_in, 1);
}

static int read_capacity(iscsi_conn_t *c, iscsi_task_t *t, int sixteen)
{
	iscsi_lu_info_t *in = &t->lu->info;
	uint8_t d[32] = { 0 };
	if (!sixteen) {
		if (!(t->cdb[8] & 1) && ib_get32(t->cdb + 2)) {
			iscsi_sense_field(t, 1, 2, -1);
			return 0;
		}
		ib_put32(d, in->blocks - 1 > 0xffffffffu ? 0xffffffffu : (uint32_t)(in->blocks - 1));
		ib_put32(d + 4, in->block_size);
		return small_in(c, t, d, 8, 8);
	}
	ib_put64(d, in->blocks - 1);
	ib_put32(d + 8, in->block_size);
	d[13] = in->lbppbe & 0x0f;
	if (in->thin)
		d[14] = 0x80 | 0x40; /* LBPME, LBPRZ: unmapped blocks read as zeros */
	return small_in(c, t, d, 32, ib_get32(t->cdb + 10));
}

typedef struct lbas {
	uint8_t *d;
	uint32_t n, max;
	uint64_t lba;
	uint32_t bs;
} lbas_t;

static int lbas_cb(void *arg, uint64_t len, int mapped)
{
	lbas_t *a = arg;
	if (a->n >= a->max)
		return 1;
	uint64_t blocks = (len + a->bs - 1) / a->bs;
	if (!blocks)
		return 0;
	if (blocks > 0xffffffffu)
		blocks = 0xffffffffu;
	uint8_t *p = a->d + 8 + 16 * a->n++;
	memset(p, 0, 16);
	ib_put64(p, a->lba);
	ib_put32(p + 8, (uint32_t)blocks);
	p[12] = mapped ? 0 : 1;
	a->lba += blocks;
	return 0;
}

static int get_lba_status(iscsi_conn_t *c, iscsi_task_t *t)
{
	iscsi_lu_t *lu = t->lu;
	uint64_t lba = ib_get64(t->cdb + 2);
	uint32_t alloc = ib_get32(t->cdb + 10);
	if (lba >= lu->info.blocks) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return 0;
	}
	lbas_t a = { .d = t->xb->tbuf, .max = (ISCSI_TBUF - 8) / 16, .lba = lba, .bs = lu->info.block_size };
	if (a.max > 64)
		a.max = 64;
	memset(t->xb->tbuf, 0, 8);
	uint64_t len = (lu->info.blocks - lba) * lu->info.block_size;
	if (len > (64ull << 20))
		len = 64ull << 20;
	int rc = c->s->be.extents ? c->s->be.extents(lu->h, lba * lu->info.block_size, len, lbas_cb, &a) : 0;
	if (rc < 0) {
		iscsi_sense_errno(t, rc, 0);
		return 0;
	}
	if (a.n == 0)
		lbas_cb(&a, len, 1);
	ib_put32(t->xb->tbuf, 4 + 16 * a.n);
	return small_in(c, t, t->xb->tbuf, 8 + 16 * a.n, alloc);
}

int iscsi_scsi_exec(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, op = cdb[0];
	if (!t->xb->tbuf && !(t->xb->tbuf = malloc(ISCSI_TBUF))) {
		t->status = SAM_TASK_SET_FULL;
		return 0;
	}
	if (t->failed)
		return 0;
	if (iscsi_spc(c, t))
		return 0;
	if (!t->lu) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return 0;
	}
	if (t->stream)
		return 0; /* written (or compared) while the data came */
	uint64_t lba;
	uint32_t len;
	int rc;
	switch (op) {
	case 0x08: case 0x28: case 0xa8: case 0x88:
		return do_read(c, t);
	case 0x0a: case 0x2a: case 0xaa: case 0x8a: case 0x2e: case 0xae: case 0x8e:
		/* buffered (else zero blocks: nothing came, nothing to do) */
		return t->buf ? iscsi_scsi_stream(c, t, 0, t->buf, t->need) : 0;
	case 0x2f: case 0xaf: case 0x8f:
		return t->buf ? do_verify3(c, t) : 0;
	case 0x89:
		return do_caw(c, t);
	case 0x8b:
		return do_orwrite(c, t);
	case 0x41: case 0x93:
		return do_write_same(c, t);
	case 0x42:
		return do_unmap(c, t);
	case 0x35: case 0x91: /* SYNCHRONIZE CACHE 10/16 */
		if (op == 0x35)
			lba = ib_get32(cdb + 2), len = ib_get16(cdb + 7);
		else
			lba = ib_get64(cdb + 2), len = ib_get32(cdb + 10);
		if (!range_ok(t, lba, len))
			return 0;
		if (c->s->be.flush && (rc = c->s->be.flush(t->lu->h)) < 0)
			iscsi_sense_errno(t, rc, 1);
		return 0;
	case 0x34: case 0x90: /* PRE-FETCH 10/16 */
		if (op == 0x34)
			lba = ib_get32(cdb + 2), len = ib_get16(cdb + 7);
		else
			lba = ib_get64(cdb + 2), len = ib_get32(cdb + 10);
		range_ok(t, lba, len);
		return 0;
	case 0x25:
		return read_capacity(c, t, 0);
	case 0x9e:
		if ((cdb[1] & 0x1f) == 0x10)
			return read_capacity(c, t, 1);
		if ((cdb[1] & 0x1f) == 0x12 && t->lu->info.thin)
			return get_lba_status(c, t);
		iscsi_sense_field(t, 1, 1, 4);
		return 0;
	default:
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return 0;
	}
}
