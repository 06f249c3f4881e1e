/* iscsi/session.c — the full feature phase (RFC 7143 4, 11): CmdSN window, NOP-Out/NOP-In,
 * SCSI commands with their data-out (immediate data, unsolicited Data-Out up to
 * FirstBurstLength, then R2Ts of at most MaxBurstLength, MaxOutstandingR2T at a time, DataSN
 * and offsets checked), Data-In (split at the initiator's MaxRecvDataSegmentLength, F bit at
 * every MaxBurstLength, status in the last one when GOOD), SCSI Response with residuals, task
 * management, Text (SendTargets, with continuation), Logout, Reject. Error recovery level 0:
 * any sequence error ends the connection. Also the session's LUs and the server-wide LU state.
 *
 * This file runs in the connection's thread (the reader), except iscsi_task_run and what it
 * calls (iscsi_datain, the response), which workers run too (workers.c): READs, and WRITEs of
 * at most ISCSI_WBUF_MAX whose data was buffered, of SIMPLE tasks go to a worker once complete;
 * larger WRITEs are written as their data arrives and answered here. Other commands (and
 * ORDERED / HEAD OF QUEUE tasks) run here after the tasks handed over have finished, as do a
 * Logout's response and a TMF's (after the tasks it aborts have ended). */
#include "iscsi/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/err.h"

/* ---- LUs ---- */
iscsi_lustate_t *iscsi_lustate_get(iscsi_target_srv_t *s, const char *target, uint64_t lun)
{
	pthread_mutex_lock(&s->net.lock);
	iscsi_lustate_t *st;
	for (st = s->lus; st; st = st->next)
		if (st->lun == lun && !strcmp(st->target, target))
			break;
	if (!st && (st = calloc(1, sizeof(*st))) != NULL) {
		if (!(st->target = strdup(target))) {
			free(st);
			st = NULL;
		} else {
			st->lun = lun;
			pthread_mutex_init(&st->lock, NULL);
			st->next = s->lus;
			s->lus = st;
		}
	}
	if (st)
		st->refs++;
	pthread_mutex_unlock(&s->net.lock);
	return st;
}

void iscsi_lustate_put(iscsi_target_srv_t *s, iscsi_lustate_t *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&s->net.lock);
	if (--st->refs == 0 && !st->nregs && !st->pr_held && !st->resv[0]) {
		for (iscsi_lustate_t **pp = &s->lus; *pp; pp = &(*pp)->next)
			if (*pp == st) {
				*pp = st->next;
				break;
			}
		pthread_mutex_destroy(&st->lock);
		free(st->target);
		free(st);
	}
	pthread_mutex_unlock(&s->net.lock);
}

iscsi_lu_t *iscsi_lu_get(iscsi_conn_t *c, uint64_t lun)
{
	for (int i = 0; i < c->nlus; i++)
		if (c->lus[i].lun == lun)
			return &c->lus[i];
	if (c->nlus >= ISCSI_MAX_LUS || lun > 0x3fff)
		return NULL;
	iscsi_lu_t *lu = &c->lus[c->nlus];
	memset(lu, 0, sizeof(*lu));
	int rc = c->s->be.open(c->s->be.arg, c->target, c->initiator, lun, &lu->h, &lu->info);
	if (rc < 0)
		return NULL;
	iscsi_lu_info_t *in = &lu->info;
	if (in->block_size < 512 || in->block_size > 65536 || (in->block_size & (in->block_size - 1)) ||
	    in->blocks == 0 || in->blocks > (UINT64_MAX / in->block_size)) {
		iscsi_log(c, "LUN %llu: the backend gave a bad geometry", (unsigned long long)lun);
		c->s->be.close(lu->h);
		return NULL;
	}
	in->serial[sizeof(in->serial) - 1] = 0;
	in->product[sizeof(in->product) - 1] = 0;
	if (!(lu->st = iscsi_lustate_get(c->s, c->target, lun))) {
		c->s->be.close(lu->h);
		return NULL;
	}
	lu->lun = lun;
	c->nlus++;
	return lu;
}

void iscsi_lus_close(iscsi_conn_t *c)
{
	for (int i = 0; i < c->nlus; i++) {
		iscsi_pr_nexus_lost(c, c->lus[i].st);
		c->s->be.close(c->lus[i].h);
		iscsi_lustate_put(c->s, c->lus[i].st);
	}
	c->nlus = 0;
}

/* ---- tasks ---- */
int iscsi_task_aborted(const iscsi_task_t *t) { return __atomic_load_n(&t->aborted, __ATOMIC_SEQ_CST) == 1; }

/* The task's status is about to go: from now on an abort finds it completed (1), unless it was
 * aborted first (0: no status may go). */
static int claim_status(iscsi_task_t *t)
{
	int none = 0;
	return __atomic_compare_exchange_n(&t->aborted, &none, 2, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) ||
	       none == 2;
}

static int send_scsi_rsp(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t bhs[ISCSI_BHS] = { OP_SCSI_RSP, 0x80, 0, t->status };
	uint32_t resid = 0;
	if (t->wr && (t->over_out || t->under_out)) {
		bhs[1] |= t->over_out ? 0x04 : 0x02;
		resid = t->resid_out;
	} else if (!t->wr) {
		if (t->want_in > t->edtl)
			bhs[1] |= 0x04, resid = t->want_in - t->edtl;
		else if (t->sent_in < t->edtl)
			bhs[1] |= 0x02, resid = t->edtl - t->sent_in;
	}
	ib_put32(bhs + 16, t->itt);
	ib_put32(bhs + 20, 0);
	ib_put32(bhs + 36, t->wr ? t->r2tsn : t->datasn);
	ib_put32(bhs + 44, resid);
	uint8_t data[2 + sizeof(t->sense)];
	uint32_t dlen = 0;
	if (t->status == SAM_CHECK_CONDITION && t->senselen) {
		ib_put16(data, t->senselen);
		memcpy(data + 2, t->sense, t->senselen);
		dlen = 2u + t->senselen;
	}
	return iscsi_pdu_send(c, bhs, data, dlen, ISCSI_SN_STAT);
}

int iscsi_datain(iscsi_conn_t *c, iscsi_task_t *t, const void *buf, uint32_t len, int last)
{
	uint32_t end = t->want_in < t->edtl ? t->want_in : t->edtl;
	const uint8_t *p = buf;
	(void)last;
	while (len && t->sent_in < end && !iscsi_task_aborted(t)) {
		uint32_t n = len < end - t->sent_in ? len : end - t->sent_in;
		if (n > c->mrdsl_out)
			n = c->mrdsl_out;
		uint32_t burst_left = c->maxburst - t->sent_in % c->maxburst;
		if (n > burst_left)
			n = burst_left;
		uint8_t bhs[ISCSI_BHS] = { OP_DATA_IN };
		int final = t->sent_in + n == end;
		if (final || n == burst_left)
			bhs[1] |= 0x80;
		iscsi_lun_encode(bhs + 8, t->lun);
		ib_put32(bhs + 16, t->itt);
		ib_put32(bhs + 20, ISCSI_RSVD_TAG);
		ib_put32(bhs + 36, t->datasn++);
		ib_put32(bhs + 40, t->sent_in);
		int sn = ISCSI_SN_NOSTAT;
		if (final && !t->failed && t->status == SAM_GOOD) {
			if (!claim_status(t))
				return 0;
			bhs[1] |= 0x81;
			if (t->want_in > t->edtl)
				bhs[1] |= 0x04, ib_put32(bhs + 44, t->want_in - t->edtl);
			else if (end < t->edtl)
				bhs[1] |= 0x02, ib_put32(bhs + 44, t->edtl - end);
			sn = ISCSI_SN_STAT;
			t->status_sent = 1;
		}
		TRY(iscsi_pdu_send(c, bhs, p, n, sn));
		t->sent_in += n;
		p += n, len -= n;
	}
	return 0;
}

/* Solicit more data-out: R2Ts while fewer than MaxOutstandingR2T are out. */
static int send_r2ts(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint32_t max = c->maxr2t < ISCSI_DEF_MAXR2T ? c->maxr2t : ISCSI_DEF_MAXR2T;
	while (!t->failed && t->nr2t < max && t->r2t_next < t->edtl) {
		iscsi_r2t_t *r = &t->r2t[t->nr2t++];
		if (++c->next_ttt == ISCSI_RSVD_TAG)
			c->next_ttt = 1;
		r->ttt = c->next_ttt;
		r->off = r->next = t->r2t_next;
		r->len = t->edtl - t->r2t_next < c->maxburst ? t->edtl - t->r2t_next : c->maxburst;
		r->datasn = 0;
		t->r2t_next += r->len;
		uint8_t bhs[ISCSI_BHS] = { OP_R2T, 0x80 };
		iscsi_lun_encode(bhs + 8, t->lun);
		ib_put32(bhs + 16, t->itt);
		ib_put32(bhs + 20, r->ttt);
		ib_put32(bhs + 36, t->r2tsn++);
		ib_put32(bhs + 40, r->off);
		ib_put32(bhs + 44, r->len);
		TRY(iscsi_pdu_send(c, bhs, NULL, 0, ISCSI_SN_PEEK));
	}
	return 0;
}

/* Data-out bytes [off, off+len) of t arrived. */
static int consume(iscsi_conn_t *c, iscsi_task_t *t, uint32_t off, const uint8_t *data, uint32_t len)
{
	t->got += len;
	if (t->failed || !len)
		return 0;
	if (t->stream)
		return iscsi_scsi_stream(c, t, off, data, len);
	if (t->buf && off < t->need) {
		uint32_t n = len < t->need - off ? len : t->need - off;
		memcpy(t->buf + off, data, n);
	}
	return 0;
}

int iscsi_task_run(iscsi_conn_t *c, iscsi_task_t *t)
{
	int rc = 0;
	if (iscsi_task_aborted(t))
		return 0;
	if (!t->failed)
		rc = iscsi_scsi_exec(c, t);
	if (rc == 0 && !t->status_sent && claim_status(t))
		rc = send_scsi_rsp(c, t);
	return rc;
}

static int op_read(uint8_t op) { return op == 0x08 || op == 0x28 || op == 0xa8 || op == 0x88; }

/* READ, WRITE, WRITE AND VERIFY, VERIFY: commands that need no ordering against others. */
static int op_rw(uint8_t op)
{
	return op_read(op) || op == 0x0a || op == 0x2a || op == 0xaa || op == 0x8a || op == 0x2e || op == 0xae ||
	       op == 0x8e || op == 0x2f || op == 0xaf || op == 0x8f;
}

/* Task attribute SIMPLE (or untagged): may run in any order with other such tasks. */
static int attr_simple(const iscsi_task_t *t) { return t->attr <= 1; }

/* Every data-out the task will get has come: run it and answer, on a worker if it is a READ or
 * a buffered WRITE of a SIMPLE task. Everything else runs here, after every task handed over
 * has finished unless it is a READ/WRITE/VERIFY (its data was streamed, or it failed early). */
/* A buffered WRITE that covers whole optimal-transfer units (the volume's blocks) needs no
 * read-modify-write: it only copies into memory, cheaper here than handed to a worker (two
 * thread switches). */
static int whole_units(const iscsi_task_t *t)
{
	uint64_t unit = (uint64_t)t->lu->info.opt_xfer_blocks * t->lu->info.block_size;
	return unit && t->stream_off % unit == 0 && t->need % unit == 0;
}

static int task_done(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t op = t->cdb[0];
	if (iscsi_wq_parallel(c) && attr_simple(t) && !t->failed && t->lu &&
	    (op_read(op) || (t->wres && !t->stream && !whole_units(t))))
		return iscsi_wq_submit(c, t);
	int rc = 0;
	if (!attr_simple(t) || (!op_rw(op) && !t->failed))
		rc = iscsi_wq_drain(c);
	if (rc == 0)
		rc = iscsi_task_run(c, t);
	iscsi_task_release(c, t);
	return rc;
}

static int task_ready(const iscsi_task_t *t)
{
	return !t->unsol_open && t->nr2t == 0 && (t->failed || t->got >= t->edtl || !t->wr);
}

/* A SCSI Command PDU; advance: it moves ExpCmdSN (once its task slot is counted). */
static int scsi_cmd(iscsi_conn_t *c, iscsi_pdu_t *p, int advance)
{
	uint8_t *h = p->bhs;
	uint32_t itt = ib_get32(h + 16);
	int dup;
	iscsi_task_t *t = iscsi_task_new(c, itt, &dup);
	if (advance)
		c->expcmdsn = ib_get32(h + 24) + 1;
	if (!t)
		return iscsi_send_reject(c, h, dup ? REJ_TASK_IN_PROGRESS : REJ_LONG_OP);
	if ((p->dlen && (!(h[1] & 0x20) || !c->immediate)) || p->dlen > c->firstburst || p->dlen > ib_get32(h + 20)) {
		iscsi_task_release(c, t);
		return iscsi_send_reject(c, h, REJ_PROTOCOL);
	}
	t->attr = h[1] & 7;
	t->edtl = ib_get32(h + 20);
	t->cmdsn = ib_get32(h + 24);
	t->rd = !!(h[1] & 0x40);
	t->wr = !!(h[1] & 0x20);
	t->lun = iscsi_lun_decode(h + 8);
	memcpy(t->cdb, h + 32, 16);
	t->cdblen = 16;
	/* additional header segments: an extended CDB (type 1) */
	for (uint32_t a = 0; a + 4 <= p->ahslen;) {
		uint32_t alen = ib_get16(p->ahs + a), type = p->ahs[a + 2];
		if (a + 3 + alen > p->ahslen)
			break;
		if (type == 1 && alen > 1 && 16 + alen - 1 <= sizeof(t->cdb)) {
			memcpy(t->cdb + 16, p->ahs + a + 4, alen - 1);
			t->cdblen = 16 + alen - 1;
		}
		a += (3 + alen + 3) & ~3u;
	}
	if (!attr_simple(t)) /* ORDERED, HEAD OF QUEUE, ACA: after every task before it */
		TRY(iscsi_wq_drain(c));
	if (t->rd && t->wr) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB); /* bidirectional: not supported */
	} else {
		t->lu = iscsi_lu_get(c, t->lun);
		if (t->lu && c->s->be.gone && c->s->be.gone(t->lu->h))
			t->lu = NULL;
		TRY(iscsi_scsi_start(c, t));
	}
	/* data-out: immediate data, then unsolicited up to FirstBurstLength, then R2Ts */
	uint32_t imm = t->wr ? p->dlen : 0;
	if (p->ddigest_bad && imm) {
		TRY(iscsi_send_reject(c, h, REJ_DIGEST));
		if (!t->failed)
			iscsi_sense(t, SK_ABORTED_COMMAND, 0x4701);
	}
	TRY(consume(c, t, 0, p->data, imm));
	t->unsol_next = imm;
	t->unsol_end = t->edtl < c->firstburst ? t->edtl : c->firstburst;
	t->unsol_open = t->wr && !(h[1] & 0x80) && !c->initial_r2t && imm < t->unsol_end;
	t->r2t_next = t->unsol_open ? t->unsol_end : imm;
	if (t->wr && !t->unsol_open)
		TRY(send_r2ts(c, t));
	if (task_ready(t))
		return task_done(c, t);
	return 0;
}

/* A Data-Out whose DataSN is not the next one: the data may be out of order, so the command
 * fails (ABORTED COMMAND, DATA PHASE ERROR) once its data-out is complete. */
static void bad_datasn(iscsi_conn_t *c, iscsi_task_t *t, uint32_t got, uint32_t want)
{
	iscsi_log(c, "Data-Out with DataSN %u, expected %u: the command fails", got, want);
	if (!t->failed)
		iscsi_sense(t, SK_ABORTED_COMMAND, 0x4b00);
}

static int data_out(iscsi_conn_t *c, iscsi_pdu_t *p)
{
	uint8_t *h = p->bhs;
	iscsi_task_t *t = iscsi_task_find_rx(c, ib_get32(h + 16));
	uint32_t ttt = ib_get32(h + 20), datasn = ib_get32(h + 36), off = ib_get32(h + 40), len = p->dlen;
	if (!t || !t->wr)
		return iscsi_send_reject(c, h, REJ_INVALID_FIELD);
	iscsi_r2t_t *r = NULL;
	if (ttt == ISCSI_RSVD_TAG) {
		if (!t->unsol_open || off != t->unsol_next || len > t->unsol_end - off)
			return terr(EPROTO, "unsolicited Data-Out out of sequence (offset %u, DataSN %u)", off, datasn);
		if (datasn != t->unsol_datasn)
			bad_datasn(c, t, datasn, t->unsol_datasn);
		t->unsol_next += len;
		t->unsol_datasn++;
		if (h[1] & 0x80) {
			t->unsol_open = 0;
			t->r2t_next = t->unsol_next;
		}
	} else {
		for (uint32_t i = 0; i < t->nr2t && !r; i++)
			if (t->r2t[i].ttt == ttt)
				r = &t->r2t[i];
		if (!r)
			return iscsi_send_reject(c, h, REJ_INVALID_FIELD);
		if (off != r->next || len > r->off + r->len - off)
			return terr(EPROTO, "Data-Out out of sequence (offset %u, DataSN %u; want %u, %u)", off, datasn,
				    r->next, r->datasn);
		if (datasn != r->datasn)
			bad_datasn(c, t, datasn, r->datasn);
		r->next += len;
		r->datasn++;
	}
	if (p->ddigest_bad) {
		TRY(iscsi_send_reject(c, h, REJ_DIGEST));
		if (!t->failed)
			iscsi_sense(t, SK_ABORTED_COMMAND, 0x4701);
	}
	TRY(consume(c, t, off, p->data, len));
	if (r && r->next == r->off + r->len) {
		*r = t->r2t[--t->nr2t];
	} else if (r && (h[1] & 0x80)) {
		return terr(EPROTO, "Data-Out sequence ends early (offset %u of %u)", r->next, r->off + r->len);
	}
	if (!t->unsol_open)
		TRY(send_r2ts(c, t));
	if (task_ready(t))
		return task_done(c, t);
	return 0;
}

/* ---- NOP, TMF, Logout ---- */
static int nop_out(iscsi_conn_t *c, iscsi_pdu_t *p)
{
	uint8_t *h = p->bhs;
	if (ib_get32(h + 16) == ISCSI_RSVD_TAG)
		return 0; /* an answer to a ping of ours, or a CmdSN update */
	uint8_t bhs[ISCSI_BHS] = { OP_NOP_IN, 0x80 };
	memcpy(bhs + 8, h + 8, 8);
	memcpy(bhs + 16, h + 16, 4);
	ib_put32(bhs + 20, ISCSI_RSVD_TAG);
	uint32_t n = p->ddigest_bad ? 0 : p->dlen;
	if (n > c->mrdsl_out)
		n = c->mrdsl_out;
	return iscsi_pdu_send(c, bhs, p->data, n, ISCSI_SN_STAT);
}

static int tmf(iscsi_conn_t *c, iscsi_pdu_t *p, int *close_after)
{
	uint8_t *h = p->bhs;
	int fn = h[1] & 0x7f;
	uint64_t lun = iscsi_lun_decode(h + 8);
	uint8_t rsp = TMF_RSP_COMPLETE;
	iscsi_lu_t *lu = NULL;
	switch (fn) {
	case TMF_ABORT_TASK: {
		/* a running task ends without data-in or response before this response goes */
		if (!iscsi_wq_abort(c, 1, ib_get32(h + 20), 0, 0) &&
		    !(sn_lt(ib_get32(h + 32), ib_get32(h + 24)) && !sn_lt(ib_get32(h + 32), c->expcmdsn)))
			rsp = TMF_RSP_NO_TASK; /* done already (or never sent: then it counts as received) */
		break;
	}
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_TASK_SET:
	case TMF_LUN_RESET:
		if (!c->discovery && !(lu = iscsi_lu_get(c, lun))) {
			rsp = TMF_RSP_NO_LUN;
			break;
		}
		iscsi_wq_abort(c, 0, 0, 0, lun);
		if (fn == TMF_LUN_RESET && !c->discovery) {
			pthread_mutex_lock(&lu->st->lock);
			lu->st->resv[0] = 0; /* a reset releases SPC-2 reservations */
			pthread_mutex_unlock(&lu->st->lock);
		}
		break;
	case TMF_TARGET_WARM_RESET:
	case TMF_TARGET_COLD_RESET:
		iscsi_wq_abort(c, 0, 0, 1, 0);
		for (int i = 0; i < c->nlus; i++) {
			pthread_mutex_lock(&c->lus[i].st->lock);
			c->lus[i].st->resv[0] = 0;
			pthread_mutex_unlock(&c->lus[i].st->lock);
		}
		*close_after = fn == TMF_TARGET_COLD_RESET;
		break;
	case TMF_TASK_REASSIGN:
		rsp = TMF_RSP_REASSIGN_UNSUPP;
		break;
	default:
		rsp = TMF_RSP_NOT_SUPPORTED;
		break;
	}
	uint8_t bhs[ISCSI_BHS] = { OP_TMF_RSP, 0x80, rsp };
	memcpy(bhs + 16, h + 16, 4);
	return iscsi_pdu_send(c, bhs, NULL, 0, ISCSI_SN_STAT);
}

/* Logout: the commands handed over finish (their responses go first); commands still waiting
 * for data-out end with the connection. */
static int logout(iscsi_conn_t *c, iscsi_pdu_t *p)
{
	uint8_t *h = p->bhs;
	int reason = h[1] & 0x7f;
	uint8_t bhs[ISCSI_BHS] = { OP_LOGOUT_RSP, 0x80, reason == 2 ? 2 : 0 };
	memcpy(bhs + 16, h + 16, 4);
	ib_put16(bhs + 40, 2);
	ib_put16(bhs + 42, 0);
	TRY(iscsi_wq_drain(c));
	return iscsi_pdu_send(c, bhs, NULL, 0, ISCSI_SN_STAT);
}

/* ---- Text: SendTargets ---- */
typedef struct st_arg {
	iscsi_conn_t *c;
	iscsi_kv_t *kv;
	const char *want; /* NULL: all */
	char addr[80];
} st_arg_t;

static int st_cb(void *arg, const char *iqn)
{
	st_arg_t *a = arg;
	if (a->want && strcmp(a->want, iqn))
		return 0;
	iscsi_kv_add(a->kv, "TargetName", "%s", iqn);
	if (a->addr[0])
		iscsi_kv_add(a->kv, "TargetAddress", "%s,%d", a->addr, ISCSI_TPGT);
	return a->kv->overflow;
}

static void local_addr(iscsi_conn_t *c, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64];
	out[0] = 0;
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%d", host, ntohs(sa->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%d", host, ntohs(sa->sin6_port));
	}
}

static int send_text_part(iscsi_conn_t *c, const uint8_t *h)
{
	uint32_t n = c->textlen - c->textoff < c->mrdsl_out ? (uint32_t)(c->textlen - c->textoff) : c->mrdsl_out;
	int last = c->textoff + n == c->textlen;
	uint8_t bhs[ISCSI_BHS] = { OP_TEXT_RSP, last ? 0x80 : 0x40 };
	memcpy(bhs + 16, h + 16, 4);
	if (!last) {
		if (++c->next_ttt == ISCSI_RSVD_TAG)
			c->next_ttt = 1;
		c->text_ttt = c->next_ttt;
	}
	ib_put32(bhs + 20, last ? ISCSI_RSVD_TAG : c->text_ttt);
	int rc = iscsi_pdu_send(c, bhs, n ? c->textout + c->textoff : NULL, n, ISCSI_SN_STAT);
	c->textoff += n;
	if (last) {
		free(c->textout);
		c->textout = NULL;
		c->textlen = c->textoff = 0;
	}
	return rc;
}

static int text(iscsi_conn_t *c, iscsi_pdu_t *p)
{
	uint8_t *h = p->bhs;
	uint32_t ttt = ib_get32(h + 20);
	if (ttt != ISCSI_RSVD_TAG) { /* the initiator wants the next part of our response */
		if (!c->textout || ttt != c->text_ttt)
			return iscsi_send_reject(c, h, REJ_INVALID_FIELD);
		return send_text_part(c, h);
	}
	free(c->textout); /* a new request ends an old exchange */
	c->textout = NULL;
	c->textlen = c->textoff = 0;
	if (p->ddigest_bad)
		return iscsi_send_reject(c, h, REJ_DIGEST);
	if (c->textinlen + p->dlen > ISCSI_MAX_TEXT) {
		free(c->textin);
		c->textin = NULL;
		c->textinlen = 0;
		return iscsi_send_reject(c, h, REJ_PROTOCOL);
	}
	if (p->dlen) {
		uint8_t *b = realloc(c->textin, c->textinlen + p->dlen);
		if (!b)
			return terr(ENOMEM, "out of memory");
		memcpy(b + c->textinlen, p->data, p->dlen);
		c->textin = b;
		c->textinlen += p->dlen;
	}
	if (h[1] & 0x40) { /* continued: answer empty and wait for the rest */
		uint8_t bhs[ISCSI_BHS] = { OP_TEXT_RSP, 0 };
		memcpy(bhs + 16, h + 16, 4);
		if (++c->next_ttt == ISCSI_RSVD_TAG)
			c->next_ttt = 1;
		ib_put32(bhs + 20, c->next_ttt);
		return iscsi_pdu_send(c, bhs, NULL, 0, ISCSI_SN_STAT);
	}
	iscsi_kv_t kv = { .max = 1u << 20 };
	size_t pos = 0;
	const char *k, *v;
	size_t kl, vl;
	int rc;
	while ((rc = iscsi_kv_next((const char *)c->textin, c->textinlen, &pos, &k, &kl, &v, &vl)) > 0) {
		char key[64];
		memcpy(key, k, kl);
		key[kl] = 0;
		if (!strcmp(key, "SendTargets")) {
			st_arg_t a = { .c = c, .kv = &kv };
			char want[ISCSI_NAME_MAX];
			local_addr(c, a.addr, sizeof(a.addr));
			if ((vl == 3 && !memcmp(v, "All", 3))) {
				if (!c->discovery)
					a.want = c->target;
			} else if (vl == 0) {
				a.want = c->target;
			} else if (vl < sizeof(want)) {
				memcpy(want, v, vl);
				want[vl] = 0;
				a.want = want;
			} else {
				continue;
			}
			if (a.want && !a.want[0])
				continue;
			if (c->s->be.list_targets)
				c->s->be.list_targets(c->s->be.arg, c->initiator, st_cb, &a);
		} else {
			iscsi_kv_add(&kv, key, "NotUnderstood");
		}
	}
	free(c->textin);
	c->textin = NULL;
	c->textinlen = 0;
	if (rc < 0 || kv.overflow) {
		iscsi_kv_free(&kv);
		return iscsi_send_reject(c, h, REJ_PROTOCOL);
	}
	c->textout = (uint8_t *)kv.buf;
	c->textlen = kv.len;
	c->textoff = 0;
	return send_text_part(c, h);
}

/* ---- the loop ---- */
int iscsi_ffp(iscsi_conn_t *c)
{
	iscsi_pdu_t *p = malloc(sizeof(*p));
	if (!p)
		return terr(ENOMEM, "out of memory");
	int rc = 0, close_after = 0;
	iscsi_wq_init(c);
	for (;;) {
		rc = iscsi_pdu_recv(c, p, c->mrdsl_in);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc == -EMSGSIZE) {
			char msg[TERR_MSG_MAX];
			snprintf(msg, sizeof(msg), "%s", terr_msg());
			iscsi_send_reject(c, p->bhs, REJ_PROTOCOL);
			rc = terr(EMSGSIZE, "%s", msg);
			break;
		}
		if (rc < 0)
			break;
		uint8_t *h = p->bhs;
		int op = h[0] & 0x3f, imm = h[0] & 0x40, advance = 0;
		if (op == OP_NOP_OUT || op == OP_SCSI_CMD || op == OP_TMF_REQ || op == OP_TEXT_REQ || op == OP_LOGOUT_REQ) {
			uint32_t cmdsn = ib_get32(h + 24), exp = c->expcmdsn, max = c->maxcmdsn;
			if (!imm) {
				if (sn_lt(cmdsn, exp) || sn_lt(max, cmdsn)) {
					iscsi_log(c, "CmdSN %u outside the window [%u, %u]: PDU ignored", cmdsn, exp, max);
					continue;
				}
				advance = 1;
				if (op != OP_SCSI_CMD || c->discovery) /* a command moves it once its task counts */
					c->expcmdsn = cmdsn + 1;
			}
		}
		if (p->ddigest_bad && op != OP_SCSI_CMD && op != OP_DATA_OUT) {
			rc = iscsi_send_reject(c, h, REJ_DIGEST); /* the PDU is dropped */
		} else if (c->discovery && op != OP_NOP_OUT && op != OP_TEXT_REQ && op != OP_LOGOUT_REQ) {
			rc = iscsi_send_reject(c, h, REJ_PROTOCOL);
		} else {
			switch (op) {
			case OP_NOP_OUT:
				rc = nop_out(c, p);
				break;
			case OP_SCSI_CMD:
				rc = scsi_cmd(c, p, advance);
				break;
			case OP_DATA_OUT:
				rc = data_out(c, p);
				break;
			case OP_TMF_REQ:
				rc = tmf(c, p, &close_after);
				break;
			case OP_TEXT_REQ:
				rc = text(c, p);
				break;
			case OP_LOGOUT_REQ:
				rc = logout(c, p);
				close_after = 1;
				break;
			case OP_SNACK:
				rc = iscsi_send_reject(c, h, REJ_PROTOCOL); /* ErrorRecoveryLevel 0 */
				break;
			default:
				rc = iscsi_send_reject(c, h, REJ_UNSUPPORTED);
				break;
			}
		}
		if (rc < 0 || close_after)
			break;
	}
	rc = iscsi_wq_fini(c, rc); /* every command handed over has answered */
	free(p);
	return rc;
}
