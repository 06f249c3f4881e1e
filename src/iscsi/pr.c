/* iscsi/pr.c — reservations of an LU (SPC-4 5.13 and SPC-2 RESERVE/RELEASE), shared by every
 * session through the LU state (under its lock), held in memory only (APTPL is refused). An
 * I_T nexus is the initiator name with its ISID ("iqn...,i,0x..."). Persistent reservation
 * types 1, 3, 5, 6, 7, 8; PERSISTENT RESERVE IN: READ KEYS, READ RESERVATION, REPORT
 * CAPABILITIES; OUT: REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT (and ABORT), REGISTER AND
 * IGNORE EXISTING KEY. */
#include "iscsi/conn.h"

#include <stdio.h>
#include <string.h>

enum { PR_WE = 1, PR_EA = 3, PR_WE_RO = 5, PR_EA_RO = 6, PR_WE_AR = 7, PR_EA_AR = 8 };

static int reg_find(iscsi_lustate_t *st, const char *nexus)
{
	for (int i = 0; i < st->nregs; i++)
		if (!strcmp(st->regs[i].nexus, nexus))
			return i;
	return -1;
}

static void reg_del(iscsi_lustate_t *st, int i)
{
	st->regs[i] = st->regs[--st->nregs];
}

static int all_regs(int type) { return type == PR_WE_AR || type == PR_EA_AR; }
static int regs_only(int type) { return type == PR_WE_RO || type == PR_EA_RO || all_regs(type); }

/* Does nexus hold the persistent reservation (as holder or as a registrant of RO/AR types)? */
static int pr_holder(iscsi_lustate_t *st, const char *nexus)
{
	if (!st->pr_held)
		return 0;
	if (regs_only(st->pr_type))
		return reg_find(st, nexus) >= 0;
	return !strcmp(st->pr_holder, nexus);
}

/* 0: allowed whatever the reservation; 1: reads data; 2: changes data / state */
static int op_class(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case 0x12: case 0xa0: case 0x03: case 0xa3: case 0x5e: case 0x5f: case 0x25: case 0x00:
	case 0x16: case 0x17: case 0x56: case 0x57:
		return 0;
	case 0x9e:
		return (cdb[1] & 0x1f) == 0x10 ? 0 : 1;
	case 0x08: case 0x28: case 0xa8: case 0x88: case 0x2f: case 0xaf: case 0x8f: case 0x1a: case 0x5a:
	case 0x34: case 0x90: case 0x37: case 0xb7:
		return 1;
	default:
		return 2;
	}
}

int iscsi_pr_conflict(iscsi_conn_t *c, iscsi_task_t *t)
{
	iscsi_lustate_t *st = t->lu->st;
	int cls = op_class(t->cdb), conflict = 0;
	if (cls == 0)
		return 0;
	pthread_mutex_lock(&st->lock);
	if (st->resv[0] && strcmp(st->resv, c->nexus))
		conflict = 1;
	else if (st->pr_held && !pr_holder(st, c->nexus)) {
		int ea = st->pr_type == PR_EA || st->pr_type == PR_EA_RO || st->pr_type == PR_EA_AR;
		conflict = cls == 2 || ea;
	}
	pthread_mutex_unlock(&st->lock);
	if (conflict) {
		t->failed = 1;
		t->status = SAM_RESERVATION_CONFLICT;
		t->senselen = 0;
	}
	return conflict;
}

static void conflict(iscsi_task_t *t)
{
	t->failed = 1;
	t->status = SAM_RESERVATION_CONFLICT;
	t->senselen = 0;
}

int iscsi_reserve(iscsi_conn_t *c, iscsi_task_t *t, int release)
{
	iscsi_lustate_t *st = t->lu->st;
	pthread_mutex_lock(&st->lock);
	if (release) {
		if (!strcmp(st->resv, c->nexus))
			st->resv[0] = 0;
	} else if (st->pr_held || (st->resv[0] && strcmp(st->resv, c->nexus))) {
		conflict(t);
	} else {
		snprintf(st->resv, sizeof(st->resv), "%s", c->nexus);
	}
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void iscsi_pr_nexus_lost(iscsi_conn_t *c, iscsi_lustate_t *st)
{
	pthread_mutex_lock(&st->lock);
	if (!strcmp(st->resv, c->nexus))
		st->resv[0] = 0;
	pthread_mutex_unlock(&st->lock);
}

int iscsi_pr_in(iscsi_conn_t *c, iscsi_task_t *t)
{
	iscsi_lustate_t *st = t->lu->st;
	uint8_t *d = t->xb->tbuf;
	uint32_t alloc = ib_get16(t->cdb + 7), n = 8;
	int sa = t->cdb[1] & 0x1f;
	memset(d, 0, 24);
	pthread_mutex_lock(&st->lock);
	ib_put32(d, st->pr_gen);
	switch (sa) {
	case 0: /* READ KEYS */
		for (int i = 0; i < st->nregs; i++, n += 8)
			ib_put64(d + n, st->regs[i].key);
		memset(d + 8 + 8 * st->nregs, 0, 16);
		ib_put32(d + 4, n - 8);
		break;
	case 1: /* READ RESERVATION */
		memset(d + 8, 0, 16);
		if (st->pr_held) {
			int h = all_regs(st->pr_type) ? -1 : reg_find(st, st->pr_holder);
			ib_put64(d + 8, h >= 0 && !regs_only(st->pr_type) ? st->regs[h].key : 0);
			if (st->pr_type == PR_WE_RO || st->pr_type == PR_EA_RO) {
				h = reg_find(st, st->pr_holder);
				ib_put64(d + 8, h >= 0 ? st->regs[h].key : 0);
			}
			d[21] = (uint8_t)st->pr_type;
			n = 24;
		}
		ib_put32(d + 4, n - 8);
		break;
	case 2: /* REPORT CAPABILITIES */
		memset(d, 0, 8);
		ib_put16(d, 8);
		d[2] = 0x00;          /* no SIP_C, ATP_C, PTPL_C */
		d[3] = 0x80 | 0x10;   /* TMV; ALLOW COMMANDS 001b */
		d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
		d[5] = 0x01;
		n = 8;
		break;
	case 3: /* READ FULL STATUS: one descriptor per registrant, iSCSI TransportID with ISID */
		for (int i = 0; i < st->nregs && n + 24 + 260 <= ISCSI_TBUF; i++) {
			uint8_t *q = d + n;
			memset(q, 0, 24);
			ib_put64(q, st->regs[i].key);
			if (pr_holder(st, st->regs[i].nexus)) {
				q[12] = 0x01; /* R_HOLDER */
				q[13] = (uint8_t)st->pr_type;
			}
			ib_put16(q + 18, 1); /* relative target port */
			size_t l = strlen(st->regs[i].nexus) + 1, padded = (l + 3) & ~(size_t)3;
			uint8_t *tid = q + 24;
			memset(tid, 0, 4 + padded);
			tid[0] = 0x45; /* format 01b (name + ISID), protocol iSCSI */
			ib_put16(tid + 2, (uint16_t)padded);
			memcpy(tid + 4, st->regs[i].nexus, l - 1);
			ib_put32(q + 20, (uint32_t)(4 + padded));
			n += 24 + 4 + (uint32_t)padded;
		}
		ib_put32(d + 4, n - 8);
		break;
	default:
		pthread_mutex_unlock(&st->lock);
		iscsi_sense_field(t, 1, 1, 4);
		return 0;
	}
	pthread_mutex_unlock(&st->lock);
	t->want_in = n < alloc ? n : alloc;
	return iscsi_datain(c, t, d, t->want_in, 1);
}

int iscsi_pr_out(iscsi_conn_t *c, iscsi_task_t *t, const uint8_t *p, uint32_t len)
{
	iscsi_lustate_t *st = t->lu->st;
	int sa = t->cdb[1] & 0x1f, type = t->cdb[2] & 0x0f, scope = t->cdb[2] >> 4;
	if (sa > 7) {
		iscsi_sense_field(t, 1, 1, 4);
		return 0;
	}
	if (ib_get32(t->cdb + 5) != 24 || len < 24 || !p) {
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		return 0;
	}
	uint64_t key = ib_get64(p), sakey = ib_get64(p + 8);
	if (p[20] & 0x01) { /* APTPL: reservations are not kept across power loss */
		iscsi_sense_field(t, 0, 20, 0);
		return 0;
	}
	if (p[20] & 0x0c) { /* SPEC_I_PT, ALL_TG_PT */
		iscsi_sense_field(t, 0, 20, 3);
		return 0;
	}
	if ((sa == 1 || sa == 2 || sa == 4 || sa == 5) &&
	    (scope != 0 || !(type == 1 || type == 3 || (type >= 5 && type <= 8)))) {
		iscsi_sense_field(t, 1, 2, -1);
		return 0;
	}
	pthread_mutex_lock(&st->lock);
	int me = reg_find(st, c->nexus);
	if (sa != 0 && sa != 6 && (me < 0 || st->regs[me].key != key)) {
		conflict(t);
		goto out;
	}
	switch (sa) {
	case 0: /* REGISTER */
	case 6: /* REGISTER AND IGNORE EXISTING KEY */
		if (sa == 0 && ((me < 0 && key != 0) || (me >= 0 && st->regs[me].key != key))) {
			conflict(t);
			break;
		}
		if (me < 0) {
			if (sakey == 0)
				break;
			if (st->nregs >= ISCSI_PR_MAX_REGS) {
				iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_INSUFF_REG_RESOURCES);
				break;
			}
			snprintf(st->regs[st->nregs].nexus, sizeof(st->regs[0].nexus), "%s", c->nexus);
			st->regs[st->nregs++].key = sakey;
		} else if (sakey) {
			st->regs[me].key = sakey;
		} else {
			int held = st->pr_held && !regs_only(st->pr_type) && !strcmp(st->pr_holder, c->nexus);
			reg_del(st, me);
			if (held || (st->pr_held && regs_only(st->pr_type) && (!all_regs(st->pr_type) || !st->nregs) &&
				     (all_regs(st->pr_type) || !strcmp(st->pr_holder, c->nexus))))
				st->pr_held = 0;
		}
		st->pr_gen++;
		break;
	case 1: /* RESERVE */
		if (st->resv[0]) {
			conflict(t);
		} else if (!st->pr_held) {
			st->pr_held = 1;
			st->pr_type = type;
			snprintf(st->pr_holder, sizeof(st->pr_holder), "%s", c->nexus);
		} else if (!pr_holder(st, c->nexus) || st->pr_type != type) {
			conflict(t);
		}
		break;
	case 2: /* RELEASE */
		if (!st->pr_held || !pr_holder(st, c->nexus))
			break;
		if (st->pr_type != type) {
			iscsi_sense(t, SK_ILLEGAL_REQUEST, 0x2604); /* INVALID RELEASE OF PERSISTENT RESERVATION */
			break;
		}
		st->pr_held = 0;
		break;
	case 3: /* CLEAR */
		st->nregs = 0;
		st->pr_held = 0;
		st->pr_gen++;
		break;
	case 4: /* PREEMPT */
	case 5: { /* PREEMPT AND ABORT (tasks of other sessions are not aborted) */
		int removed = 0;
		int preempt_holder = st->pr_held &&
				     (all_regs(st->pr_type) ? sakey == 0
							    : reg_find(st, st->pr_holder) >= 0 &&
								  st->regs[reg_find(st, st->pr_holder)].key == sakey);
		if (!preempt_holder && sakey == 0) {
			iscsi_sense_field(t, 0, 8, -1);
			break;
		}
		for (int i = 0; i < st->nregs;) {
			if ((sakey == 0 || st->regs[i].key == sakey) && strcmp(st->regs[i].nexus, c->nexus)) {
				reg_del(st, i);
				removed++;
			} else {
				i++;
			}
		}
		if (preempt_holder) {
			st->pr_type = type;
			snprintf(st->pr_holder, sizeof(st->pr_holder), "%s", c->nexus);
		} else if (!removed) {
			conflict(t);
			break;
		}
		st->pr_gen++;
		break;
	}
	default:
		iscsi_sense_field(t, 1, 1, 4);
		break;
	}
out:
	pthread_mutex_unlock(&st->lock);
	return 0;
}
