/* iscsi/spc.c — the primary commands (SPC-4) of the target's LUs: TEST UNIT READY, INQUIRY
 * (standard data and the VPD pages 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2), MODE SENSE 6/10 and
 * MODE SELECT 6/10 (caching, control, read-write error recovery and informational exceptions
 * pages; WCE changeable when the backend can set it), REPORT LUNS, REQUEST SENSE, REPORT
 * SUPPORTED OPERATION CODES / TASK MANAGEMENT FUNCTIONS, START STOP UNIT, PREVENT ALLOW
 * MEDIUM REMOVAL, READ DEFECT DATA, and the reservation commands (pr.c). */
#include "iscsi/conn.h"

#include <stdio.h>
#include <string.h>

/* ---- the supported opcodes (REPORT SUPPORTED OPERATION CODES) ---- */
typedef struct opinfo {
	uint8_t op;
	int16_t sa;     /* -1: no service action */
	uint8_t len;
	uint8_t flags;  /* usage mask of byte 1 */
	uint8_t thin;   /* only on thin LUs */
} opinfo_t;

static const opinfo_t ops[] = {
	{ 0x00, -1, 6, 0x00, 0 },  { 0x03, -1, 6, 0x01, 0 },  { 0x08, -1, 6, 0x1f, 0 },  { 0x0a, -1, 6, 0x1f, 0 },
	{ 0x12, -1, 6, 0x01, 0 },  { 0x15, -1, 6, 0x11, 0 },  { 0x16, -1, 6, 0x00, 0 },  { 0x17, -1, 6, 0x00, 0 },
	{ 0x1a, -1, 6, 0x08, 0 },  { 0x1b, -1, 6, 0x01, 0 },  { 0x1e, -1, 6, 0x00, 0 },  { 0x25, -1, 10, 0x00, 0 },
	{ 0x28, -1, 10, 0x1a, 0 }, { 0x2a, -1, 10, 0x1a, 0 }, { 0x2e, -1, 10, 0x12, 0 }, { 0x2f, -1, 10, 0x16, 0 },
	{ 0x34, -1, 10, 0x02, 0 }, { 0x35, -1, 10, 0x02, 0 }, { 0x37, -1, 10, 0x00, 0 }, { 0x41, -1, 10, 0x08, 0 },
	{ 0x42, -1, 10, 0x00, 1 }, { 0x55, -1, 10, 0x11, 0 }, { 0x56, -1, 10, 0x00, 0 }, { 0x57, -1, 10, 0x00, 0 },
	{ 0x5a, -1, 10, 0x18, 0 }, { 0x5e, 0, 10, 0x1f, 0 },  { 0x5e, 1, 10, 0x1f, 0 },  { 0x5e, 2, 10, 0x1f, 0 },
	{ 0x5e, 3, 10, 0x1f, 0 },  { 0x5f, 0, 10, 0x1f, 0 },  { 0x5f, 1, 10, 0x1f, 0 },  { 0x5f, 2, 10, 0x1f, 0 },
	{ 0x5f, 3, 10, 0x1f, 0 },  { 0x5f, 4, 10, 0x1f, 0 },  { 0x5f, 5, 10, 0x1f, 0 },  { 0x5f, 6, 10, 0x1f, 0 },
	{ 0x5f, 7, 10, 0x1f, 0 },  { 0x88, -1, 16, 0x1a, 0 }, { 0x89, -1, 16, 0x18, 0 }, { 0x8a, -1, 16, 0x1a, 0 },
	{ 0x8b, -1, 16, 0x18, 0 }, { 0x8e, -1, 16, 0x12, 0 }, { 0x8f, -1, 16, 0x16, 0 }, { 0x90, -1, 16, 0x02, 0 },
	{ 0x91, -1, 16, 0x02, 0 }, { 0x93, -1, 16, 0x09, 0 }, { 0x9e, 0x10, 16, 0x1f, 0 }, { 0x9e, 0x12, 16, 0x1f, 1 },
	{ 0xa0, -1, 12, 0x00, 0 }, { 0xa3, 0x0c, 12, 0x1f, 0 }, { 0xa3, 0x0d, 12, 0x1f, 0 }, { 0xa8, -1, 12, 0x1a, 0 },
	{ 0xaa, -1, 12, 0x1a, 0 }, { 0xae, -1, 12, 0x12, 0 }, { 0xaf, -1, 12, 0x16, 0 }, { 0xb7, -1, 12, 0x1f, 0 },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static void usage_bits(const opinfo_t *o, uint8_t *u)
{
	memset(u, 0, o->len);
	u[0] = o->op;
	u[1] = o->sa >= 0 ? (uint8_t)o->sa : o->flags;
	for (int i = 2; i < o->len - 1; i++)
		u[i] = 0xff;
	u[o->len - 1] = 0x00; /* CONTROL: no NACA, no vendor bits */
	if (o->op == 0x00)
		u[1] = 0;
}

int iscsi_opcode_info(uint8_t op, uint16_t sa, uint8_t *usage, int *cdblen)
{
	for (size_t i = 0; i < NOPS; i++)
		if (ops[i].op == op && (ops[i].sa < 0 || ops[i].sa == sa)) {
			if (usage)
				usage_bits(&ops[i], usage);
			*cdblen = ops[i].len;
			return 1;
		}
	return 0;
}

static int send_in(iscsi_conn_t *c, iscsi_task_t *t, const uint8_t *d, uint32_t n, uint32_t alloc)
{
	t->want_in = n < alloc ? n : alloc;
	return iscsi_datain(c, t, d, t->want_in, 1);
}

static int has_sa(uint8_t op)
{
	for (size_t i = 0; i < NOPS; i++)
		if (ops[i].op == op)
			return ops[i].sa >= 0;
	return 0;
}

static int rsoc(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, *d = t->xb->tbuf;
	int opts = cdb[2] & 7, rctd = !!(cdb[2] & 0x80);
	uint32_t alloc = ib_get32(cdb + 6), n = 0;
	int thin = t->lu && t->lu->info.thin;
	if (opts == 0) {
		n = 4;
		for (size_t i = 0; i < NOPS; i++) {
			if (ops[i].thin && !thin)
				continue;
			uint8_t *p = d + n;
			memset(p, 0, 8);
			p[0] = ops[i].op;
			ib_put16(p + 2, ops[i].sa >= 0 ? (uint16_t)ops[i].sa : 0);
			p[5] = (uint8_t)((ops[i].sa >= 0 ? 0x01 : 0) | (rctd ? 0x02 : 0));
			ib_put16(p + 6, ops[i].len);
			n += 8;
			if (rctd) {
				memset(d + n, 0, 12);
				ib_put16(d + n, 10);
				n += 12;
			}
		}
		ib_put32(d, n - 4);
		return send_in(c, t, d, n, alloc);
	}
	if (opts > 3) {
		iscsi_sense_field(t, 1, 2, 2);
		return 0;
	}
	uint8_t op = cdb[3];
	uint16_t sa = ib_get16(cdb + 4);
	if (opts == 1 && has_sa(op)) {
		iscsi_sense_field(t, 1, 2, 2);
		return 0;
	}
	if (opts == 2 && !has_sa(op)) {
		iscsi_sense_field(t, 1, 2, 2);
		return 0;
	}
	int len = 0;
	const opinfo_t *o = NULL;
	for (size_t i = 0; i < NOPS && !o; i++)
		if (ops[i].op == op && (opts == 1 || opts == 3 ? ops[i].sa < 0 || ops[i].sa == sa : ops[i].sa == sa) &&
		    !(ops[i].thin && !thin))
			o = &ops[i];
	if (opts == 3 && o && o->sa < 0 && sa)
		o = NULL;
	memset(d, 0, 4);
	if (!o) {
		d[1] = 0x01; /* not supported */
		n = 4;
	} else {
		len = o->len;
		d[1] = (uint8_t)(0x03 | (rctd ? 0x80 : 0));
		ib_put16(d + 2, (uint16_t)len);
		usage_bits(o, d + 4);
		n = 4 + (uint32_t)len;
		if (rctd) {
			memset(d + n, 0, 12);
			ib_put16(d + n, 10);
			n += 12;
		}
	}
	return send_in(c, t, d, n, alloc);
}

/* ---- INQUIRY ---- */
static void pad(uint8_t *dst, const char *s, size_t n)
{
	size_t l = strlen(s);
	memset(dst, ' ', n);
	memcpy(dst, s, l < n ? l : n);
}

static uint32_t designator_str(uint8_t *p, uint8_t assoc_type, const char *s)
{
	size_t l = strlen(s) + 1, padded = (l + 3) & ~(size_t)3;
	if (padded > 252)
		padded = 252, l = 251;
	p[0] = 0x53; /* iSCSI, UTF-8 */
	p[1] = assoc_type;
	p[2] = 0;
	p[3] = (uint8_t)padded;
	memset(p + 4, 0, padded);
	memcpy(p + 4, s, l - 1);
	return 4 + (uint32_t)padded;
}

static int inquiry(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, *d = t->xb->tbuf;
	uint32_t alloc = ib_get16(cdb + 3), n;
	iscsi_lu_t *lu = t->lu;
	if (cdb[1] & 0x02) { /* CMDDT: obsolete */
		iscsi_sense_field(t, 1, 1, 1);
		return 0;
	}
	if (!(cdb[1] & 0x01)) {
		if (cdb[2]) {
			iscsi_sense_field(t, 1, 2, -1);
			return 0;
		}
		memset(d, 0, 96);
		d[0] = lu ? 0x00 : 0x7f;
		d[2] = 0x06;        /* SPC-4 */
		d[3] = 0x12;        /* HISUP, response data format 2 */
		d[4] = 96 - 5;
		d[7] = 0x02;        /* CMDQUE */
		pad(d + 8, "TARN", 8);
		pad(d + 16, lu && lu->info.product[0] ? lu->info.product : "tarn volume", 16);
		pad(d + 32, "0001", 4);
		static const uint16_t vd[] = { 0x00a0, 0x0960, 0x0460, 0x04c0 }; /* SAM-5 iSCSI SPC-4 SBC-3 */
		for (int i = 0; i < 4; i++)
			ib_put16(d + 58 + 2 * i, vd[i]);
		return send_in(c, t, d, 96, alloc);
	}
	if (!lu) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return 0;
	}
	iscsi_lu_info_t *in = &lu->info;
	memset(d, 0, 512);
	d[1] = cdb[2];
	switch (cdb[2]) {
	case 0x00: {
		static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
		memcpy(d + 4, pages, sizeof(pages));
		n = 4 + sizeof(pages);
		break;
	}
	case 0x80: {
		size_t l = strlen(in->serial);
		pad(d + 4, in->serial, l ? l : 1);
		n = 4 + (uint32_t)(l ? l : 1);
		break;
	}
	case 0x83: {
		uint8_t *p = d + 4;
		p[0] = 0x01, p[1] = 0x03, p[3] = 16; /* binary, LU, NAA */
		memcpy(p + 4, in->naa, 16);
		p += 20;
		p[0] = 0x51, p[1] = 0x94, p[3] = 4; /* iSCSI, binary, PIV, target port, relative port */
		ib_put32(p + 4, 1);
		p += 8;
		p[0] = 0x51, p[1] = 0x95, p[3] = 4; /* target port group */
		ib_put32(p + 4, ISCSI_TPGT);
		p += 8;
		char name[ISCSI_NAME_MAX + 16];
		snprintf(name, sizeof(name), "%s,t,0x%04x", c->target, ISCSI_TPGT);
		p += designator_str(p, 0x98, name);     /* SCSI name string, target port */
		p += designator_str(p, 0xa8, c->target); /* SCSI name string, target device */
		n = (uint32_t)(p - d);
		break;
	}
	case 0xb0: {
		uint32_t maxx = ISCSI_MAX_XFER / in->block_size, opt = in->opt_xfer_blocks;
		if (!opt || opt > maxx)
			opt = 1;
		uint32_t caw = ISCSI_MAX_BUFFERED / (2 * in->block_size);
		d[5] = (uint8_t)(caw < ISCSI_CAW_MAX ? caw : ISCSI_CAW_MAX);
		ib_put16(d + 6, 1);
		ib_put32(d + 8, maxx);
		ib_put32(d + 12, opt);
		ib_put32(d + 16, maxx);
		if (in->thin) {
			ib_put32(d + 20, 0xffffffffu);
			ib_put32(d + 24, ISCSI_UNMAP_MAX_DESC);
			ib_put32(d + 28, in->lbppbe < 16 ? 1u << in->lbppbe : 1u);
		}
		ib_put64(d + 36, 0);
		n = 64;
		break;
	}
	case 0xb1:
		ib_put16(d + 4, 1); /* non-rotating medium */
		n = 64;
		break;
	case 0xb2:
		if (in->thin) {
			d[5] = 0x80 | 0x40 | 0x20 | 0x04; /* LBPU, LBPWS, LBPWS10, LBPRZ */
			d[6] = 0x02;                      /* thin provisioned */
		}
		n = 8;
		break;
	default:
		iscsi_sense_field(t, 1, 2, -1);
		return 0;
	}
	ib_put16(d + 2, (uint16_t)(n - 4));
	return send_in(c, t, d, n, alloc);
}

/* ---- MODE SENSE / SELECT ---- */
/* Append page pg for page control pc to p; returns its length (0: no such page). */
static uint32_t mode_page(iscsi_lu_t *lu, int pg, int pc, int can_wce, uint8_t *p)
{
	int chg = pc == 1;
	switch (pg) {
	case 0x01:
		memset(p, 0, 12);
		p[0] = 0x01, p[1] = 0x0a;
		return 12;
	case 0x08:
		memset(p, 0, 20);
		p[0] = 0x08, p[1] = 0x12;
		if (chg)
			p[2] = can_wce ? 0x04 : 0;
		else
			p[2] = lu->info.write_cache ? 0x04 : 0;
		return 20;
	case 0x0a:
		memset(p, 0, 12);
		p[0] = 0x0a, p[1] = 0x0a;
		if (!chg) {
			p[3] = 0x10;           /* queue algorithm modifier 1: unrestricted */
			p[5] = 0x40;           /* ATO... no: TAS=1 (aborted tasks get TASK ABORTED) */
			ib_put16(p + 8, 0xffff); /* busy timeout: unlimited */
		}
		return 12;
	case 0x1c:
		memset(p, 0, 12);
		p[0] = 0x1c, p[1] = 0x0a;
		return 12;
	default:
		return 0;
	}
}

static int mode_sense(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, *d = t->xb->tbuf;
	int ten = cdb[0] == 0x5a, dbd = !!(cdb[1] & 0x08), llbaa = ten && (cdb[1] & 0x10);
	int pc = cdb[2] >> 6, pg = cdb[2] & 0x3f, sub = cdb[3];
	uint32_t alloc = ten ? ib_get16(cdb + 7) : cdb[4];
	iscsi_lu_t *lu = t->lu;
	if (pc == 3) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		return 0;
	}
	if (sub && !(sub == 0xff && pg == 0x3f) && sub != 0xff) {
		iscsi_sense_field(t, 1, 3, -1);
		return 0;
	}
	uint32_t hl = ten ? 8 : 4, bl = dbd ? 0 : llbaa ? 16 : 8, n = hl;
	memset(d, 0, hl + bl);
	d[ten ? 3 : 2] = (uint8_t)((lu->info.readonly ? 0x80 : 0) | 0x10); /* WP, DPOFUA */
	if (bl) {
		uint8_t *b = d + hl;
		if (llbaa) {
			d[4] = 0x01; /* LONGLBA */
			ib_put64(b, lu->info.blocks);
			ib_put32(b + 12, lu->info.block_size);
		} else {
			ib_put32(b, lu->info.blocks > 0xffffffffu ? 0xffffffffu : (uint32_t)lu->info.blocks);
			ib_put24(b + 5, lu->info.block_size);
		}
		if (ten)
			ib_put16(d + 6, (uint16_t)bl);
		else
			d[3] = (uint8_t)bl;
		n += bl;
	}
	int can_wce = c->s->be.set_write_cache != NULL;
	if (pg == 0x3f) {
		static const int all[] = { 0x01, 0x08, 0x0a, 0x1c };
		for (int i = 0; i < 4; i++)
			n += mode_page(lu, all[i], pc, can_wce, d + n);
	} else {
		uint32_t l = sub == 0xff ? 0 : mode_page(lu, pg, pc, can_wce, d + n);
		if (!l) {
			iscsi_sense_field(t, 1, 2, 5);
			return 0;
		}
		n += l;
	}
	if (ten)
		ib_put16(d, (uint16_t)(n - 2));
	else
		d[0] = (uint8_t)(n - 1);
	return send_in(c, t, d, n, alloc);
}

static int mode_select(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb;
	int ten = cdb[0] == 0x55;
	const uint8_t *p = t->buf;
	uint32_t len = t->need, hl = ten ? 8 : 4;
	if (cdb[1] & 0x01) { /* SP: nothing is saved */
		iscsi_sense_field(t, 1, 1, 0);
		return 0;
	}
	if (len == 0)
		return 0;
	if (len < hl) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		return 0;
	}
	uint32_t bdl = ten ? ib_get16(p + 6) : p[3], off = hl + bdl;
	if (off > len) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		return 0;
	}
	while (off + 2 <= len) {
		int pg = p[off] & 0x3f, spf = p[off] & 0x40;
		uint32_t plen = spf ? (off + 4 <= len ? 4u + ib_get16(p + off + 2) : len) : 2u + p[off + 1];
		if (off + plen > len) {
			iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
			return 0;
		}
		if (pg == 0x08 && !spf && plen >= 3) {
			int wce = !!(p[off + 2] & 0x04);
			if (wce != t->lu->info.write_cache) {
				if (!c->s->be.set_write_cache) {
					iscsi_sense_field(t, 0, (uint16_t)(off + 2), 2);
					return 0;
				}
				int rc = c->s->be.set_write_cache(t->lu->h, wce);
				if (rc < 0) {
					iscsi_sense_errno(t, rc, 1);
					return 0;
				}
				t->lu->info.write_cache = wce;
			}
		} else if (pg != 0x01 && pg != 0x0a && pg != 0x1c) {
			iscsi_sense_field(t, 0, (uint16_t)off, 5);
			return 0;
		}
		off += plen;
	}
	return 0;
}

/* ---- REPORT LUNS ---- */
typedef struct luns_arg {
	uint8_t *d;
	uint32_t n, max;
} luns_arg_t;

static int luns_cb(void *arg, uint64_t lun)
{
	luns_arg_t *a = arg;
	if (a->n >= a->max)
		return 1;
	iscsi_lun_encode(a->d + 8 + 8 * a->n++, lun);
	return 0;
}

static int report_luns(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, *d = t->xb->tbuf;
	uint32_t alloc = ib_get32(cdb + 6);
	if (cdb[2] > 2) {
		iscsi_sense_field(t, 1, 2, -1);
		return 0;
	}
	if (alloc < 16) {
		iscsi_sense_field(t, 1, 6, -1);
		return 0;
	}
	luns_arg_t a = { d, 0, (ISCSI_TBUF - 8) / 8 };
	memset(d, 0, 8);
	if (cdb[2] != 1 && c->s->be.list_luns)
		c->s->be.list_luns(c->s->be.arg, c->target, c->initiator, luns_cb, &a);
	ib_put32(d, 8 * a.n);
	return send_in(c, t, d, 8 + 8 * a.n, alloc);
}

int iscsi_spc(iscsi_conn_t *c, iscsi_task_t *t)
{
	uint8_t *cdb = t->cdb, *d = t->xb->tbuf, op = cdb[0];
	switch (op) {
	case 0x12:
		inquiry(c, t);
		return 1;
	case 0xa0:
		report_luns(c, t);
		return 1;
	case 0x03: { /* REQUEST SENSE: autosense is used, nothing is pending */
		uint32_t alloc = cdb[4];
		memset(d, 0, 18);
		if (cdb[1] & 0x01) {
			d[0] = 0x72;
			if (!t->lu)
				d[1] = SK_ILLEGAL_REQUEST, d[2] = 0x25;
			return send_in(c, t, d, 8, alloc), 1;
		}
		d[0] = 0x70, d[7] = 10;
		if (!t->lu)
			d[2] = SK_ILLEGAL_REQUEST, d[12] = 0x25;
		send_in(c, t, d, 18, alloc);
		return 1;
	}
	case 0xa3:
		if ((cdb[1] & 0x1f) == 0x0c) {
			rsoc(c, t);
		} else if ((cdb[1] & 0x1f) == 0x0d) {
			memset(d, 0, 16);
			d[0] = 0x80 | 0x40 | 0x10 | 0x08; /* ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LUN RESET */
			int ext = !!(cdb[2] & 0x80);
			d[3] = ext ? 0x0c : 0;
			send_in(c, t, d, ext ? 16 : 4, ib_get32(cdb + 6));
		} else {
			iscsi_sense_field(t, 1, 1, 4);
		}
		return 1;
	}
	if (!t->lu || t->failed)
		return 0;
	switch (op) {
	case 0x00: /* TEST UNIT READY */
		return 1;
	case 0x1a:
	case 0x5a:
		mode_sense(c, t);
		return 1;
	case 0x15:
	case 0x55:
		mode_select(c, t);
		return 1;
	case 0x1b: /* START STOP UNIT: always ready, nothing to eject */
		return 1;
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL: not removable */
		return 1;
	case 0x37:
	case 0xb7: { /* READ DEFECT DATA: an empty list */
		int twelve = op == 0xb7;
		memset(d, 0, 8);
		d[1] = cdb[twelve ? 1 : 2] & 0x1f;
		send_in(c, t, d, twelve ? 8 : 4, twelve ? ib_get32(cdb + 6) : ib_get16(cdb + 7));
		return 1;
	}
	case 0x16:
	case 0x56:
		iscsi_reserve(c, t, 0);
		return 1;
	case 0x17:
	case 0x57:
		iscsi_reserve(c, t, 1);
		return 1;
	case 0x5e:
		iscsi_pr_in(c, t);
		return 1;
	case 0x5f:
		iscsi_pr_out(c, t, t->buf, t->need);
		return 1;
	}
	return 0;
}
