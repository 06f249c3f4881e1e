/* iscsi/pdu.c — PDUs on the wire (RFC 7143 11): the 48-byte basic header segment, additional
 * header segments, the data segment padded to 4 bytes, and the optional CRC32C header and data
 * digests (sent and checked little-endian, as the RFC's examples show). Every length comes from
 * the network and is checked before anything is read into memory. */
#include "iscsi/conn.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static void le_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t le_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int rbuf_reserve(iscsi_conn_t *c, size_t n)
{
	if (n <= c->rcap)
		return 0;
	size_t cap = c->rcap ? c->rcap : 16384;
	while (cap < n)
		cap *= 2;
	uint8_t *b = realloc(c->rbuf, cap);
	if (!b)
		return terr(ENOMEM, "out of memory (receive buffer of %zu bytes)", cap);
	c->rbuf = b;
	c->rcap = cap;
	return 0;
}

int iscsi_pdu_recv(iscsi_conn_t *c, iscsi_pdu_t *p, uint32_t limit)
{
	int rc = iscsi_read_full(c->fd, p->bhs, ISCSI_BHS, 1);
	if (rc)
		return rc;
	p->ahslen = (uint32_t)p->bhs[4] * 4;
	p->dlen = ib_get24(p->bhs + 5);
	p->data = NULL;
	p->ddigest_bad = 0;
	if (p->ahslen)
		TRY(iscsi_read_full(c->fd, p->ahs, p->ahslen, 0));
	if (c->hdigest) {
		uint8_t d[4];
		TRY(iscsi_read_full(c->fd, d, 4, 0));
		uint32_t crc = iscsi_crc32c(0, p->bhs, ISCSI_BHS);
		if (p->ahslen)
			crc = iscsi_crc32c(crc, p->ahs, p->ahslen); /* the CRC runs on over the AHS */
		if (crc != le_get32(d))
			return terr(EBADMSG, "header digest error (opcode 0x%02x)", p->bhs[0] & 0x3f);
	}
	if (p->dlen > limit)
		return terr(EMSGSIZE, "data segment of %u bytes (opcode 0x%02x) exceeds MaxRecvDataSegmentLength %u",
			    p->dlen, p->bhs[0] & 0x3f, limit);
	if (p->dlen == 0)
		return 0;
	uint32_t padded = (p->dlen + 3) & ~3u;
	TRY(rbuf_reserve(c, padded + 4));
	TRY(iscsi_read_full(c->fd, c->rbuf, padded + (c->ddigest ? 4 : 0), 0));
	p->data = c->rbuf;
	if (c->ddigest && iscsi_crc32c(0, c->rbuf, padded) != le_get32(c->rbuf + padded))
		p->ddigest_bad = 1;
	return 0;
}

/* With the send lock: fill the sequence numbers of bhs. MaxCmdSN is raised (never lowered) to
 * what the free task slots allow: ExpCmdSN is read before ntasks, and the reader counts a new
 * task before it moves ExpCmdSN, so a stale pair can only make the window smaller. */
static void pdu_sn(iscsi_conn_t *c, uint8_t *bhs, int sn)
{
	uint32_t exp = c->expcmdsn;
	int used = c->ntasks;
	uint32_t max = c->maxcmdsn;
	if (sn_lt(max, exp - 1)) /* never below ExpCmdSN - 1 (a peer beyond MaxCmdSN) */
		max = exp - 1;
	if (used < ISCSI_WINDOW && sn_lt(max, exp - 1 + (uint32_t)(ISCSI_WINDOW - used)))
		max = exp - 1 + (uint32_t)(ISCSI_WINDOW - used);
	c->maxcmdsn = max;
	ib_put32(bhs + 24, sn == ISCSI_SN_NOSTAT ? 0 : c->statsn);
	if (sn == ISCSI_SN_STAT)
		c->statsn++;
	ib_put32(bhs + 28, exp);
	ib_put32(bhs + 32, max);
}

int iscsi_pdu_send(iscsi_conn_t *c, uint8_t *bhs, const void *data, uint32_t dlen, int sn)
{
	static const uint8_t zero[4];
	uint8_t hd[4], dd[4];
	uint32_t pad = (4 - (dlen & 3)) & 3;
	bhs[4] = 0;
	ib_put24(bhs + 5, dlen);
	struct iovec iov[5];
	int n = 0, hdi = -1;
	iov[n++] = (struct iovec){ bhs, ISCSI_BHS };
	if (c->hdigest) {
		hdi = n;
		iov[n++] = (struct iovec){ hd, 4 };
	}
	if (dlen) {
		iov[n++] = (struct iovec){ (void *)data, dlen };
		if (pad)
			iov[n++] = (struct iovec){ (void *)zero, pad };
		if (c->ddigest) { /* outside the lock: it does not depend on the sequence numbers */
			uint32_t crc = iscsi_crc32c(0, data, dlen);
			if (pad)
				crc = iscsi_crc32c(crc, zero, pad);
			le_put32(dd, crc);
			iov[n++] = (struct iovec){ dd, 4 };
		}
	}
	pthread_mutex_lock(&c->send_lock);
	pdu_sn(c, bhs, sn);
	if (hdi >= 0)
		le_put32(hd, iscsi_crc32c(0, bhs, ISCSI_BHS));
	int rc = iscsi_send_iov(c->fd, iov, n);
	pthread_mutex_unlock(&c->send_lock);
	return rc;
}

int iscsi_send_reject(iscsi_conn_t *c, const uint8_t *hdr, uint8_t reason)
{
	uint8_t bhs[ISCSI_BHS] = { OP_REJECT, 0x80, reason };
	ib_put32(bhs + 16, ISCSI_RSVD_TAG);
	iscsi_log(c, "reject (reason 0x%02x) of a PDU with opcode 0x%02x", reason, hdr[0] & 0x3f);
	return iscsi_pdu_send(c, bhs, hdr, ISCSI_BHS, ISCSI_SN_STAT);
}
