/* iscsi/login.c — the login phase (RFC 7143 6, 11.12, 11.13, 12, 13): security negotiation
 * (AuthMethod None or CHAP with MD5, one-way or mutual, when the backend returns secrets),
 * operational negotiation of the session's parameters, discovery and normal sessions. One
 * connection per session (MaxConnections=1): a login with a non-zero TSIH is refused.
 * Login text may span PDUs (the C bit); our responses are always one PDU. */
#include "iscsi/conn.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define CHAP_CHAL 16
#define CHAP_MAXBIN 1024

typedef struct lstate {
	iscsi_conn_t *c;
	int first;            /* no response sent yet */
	int csg;              /* stage the initiator is in */
	int have_names;       /* InitiatorName (and TargetName for normal sessions) checked */
	int auth_need, auth_done, method; /* method: 0 none chosen, 1 None, 2 CHAP */
	int chap;             /* 0, 1 CHAP chosen, 2 challenge sent, 3 done */
	uint8_t chap_id, chal[CHAP_CHAL];
	char user[256], secret[256], tsecret[256];
	int declared_mrdsl, sent_tpgt;
	int hd, dd;           /* digests negotiated: on from the full feature phase */
	uint16_t status;      /* class << 8 | detail of a failure */
	iscsi_kv_t rsp;
	char *text;           /* request text of continued PDUs */
	size_t textlen;
} lstate_t;

static int fail(lstate_t *ls, uint16_t status, const char *why)
{
	if (!ls->status) {
		ls->status = status;
		iscsi_log(ls->c, "login refused (0x%04x): %s", status, why);
	}
	return -1;
}

static int streq(const char *v, size_t vlen, const char *lit)
{
	return strlen(lit) == vlen && memcmp(v, lit, vlen) == 0;
}

/* Is lit one of the comma-separated values of v? */
static int in_list(const char *v, size_t vlen, const char *lit)
{
	size_t i = 0;
	while (i <= vlen) {
		size_t j = i;
		while (j < vlen && v[j] != ',')
			j++;
		if (streq(v + i, j - i, lit))
			return 1;
		i = j + 1;
	}
	return 0;
}

/* ---- CHAP ---- */
static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int b64val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* A binary value "0x..." (hex) or "0b..." (base64): its length, or -1. */
static int decode_bin(const char *v, size_t vlen, uint8_t *out, size_t cap)
{
	if (vlen < 3 || v[0] != '0')
		return -1;
	size_t n = 0;
	if (v[1] == 'x' || v[1] == 'X') {
		size_t digits = vlen - 2, i = 2;
		if (digits / 2 + 1 > cap)
			return -1;
		if (digits & 1) { /* an odd count: the first nibble stands alone */
			int d = hexval(v[i++]);
			if (d < 0)
				return -1;
			out[n++] = (uint8_t)d;
		}
		for (; i + 1 < vlen + 1 && i < vlen; i += 2) {
			int a = hexval(v[i]), b = hexval(v[i + 1]);
			if (a < 0 || b < 0)
				return -1;
			out[n++] = (uint8_t)(a << 4 | b);
		}
		return (int)n;
	}
	if (v[1] == 'b' || v[1] == 'B') {
		uint32_t acc = 0;
		int bits = 0;
		for (size_t i = 2; i < vlen; i++) {
			if (v[i] == '=')
				break;
			int d = b64val(v[i]);
			if (d < 0)
				return -1;
			acc = acc << 6 | (uint32_t)d;
			bits += 6;
			if (bits >= 8) {
				if (n >= cap)
					return -1;
				bits -= 8;
				out[n++] = (uint8_t)(acc >> bits);
			}
		}
		return (int)n;
	}
	return -1;
}

static void tohex(char *out, const uint8_t *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	*out++ = '0', *out++ = 'x';
	for (size_t i = 0; i < n; i++)
		*out++ = hx[b[i] >> 4], *out++ = hx[b[i] & 15];
	*out = 0;
}

/* MD5(id || secret || challenge) (RFC 1994). */
static int chap_md5(uint8_t id, const char *secret, const uint8_t *chal, size_t clen, uint8_t out[16])
{
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = x && EVP_DigestInit_ex(x, EVP_md5(), NULL) && EVP_DigestUpdate(x, &id, 1) &&
		 EVP_DigestUpdate(x, secret, strlen(secret)) && EVP_DigestUpdate(x, chal, clen) &&
		 EVP_DigestFinal_ex(x, out, &n) && n == 16;
	EVP_MD_CTX_free(x);
	return ok ? 0 : -1;
}

typedef struct chapkeys {
	const char *a, *n, *r, *i, *c;
	size_t alen, nlen, rlen, ilen, clen;
} chapkeys_t;

static int do_chap(lstate_t *ls, chapkeys_t *k)
{
	iscsi_conn_t *c = ls->c;
	if (ls->chap == 1) {
		if (!k->a)
			return 0; /* waiting for CHAP_A */
		if (!in_list(k->a, k->alen, "5")) {
			iscsi_kv_add(&ls->rsp, "CHAP_A", "Reject");
			return fail(ls, LOGIN_AUTH_FAIL, "no CHAP algorithm in common (MD5 only)");
		}
		if (RAND_bytes(ls->chal, CHAP_CHAL) != 1 || RAND_bytes(&ls->chap_id, 1) != 1)
			return fail(ls, LOGIN_TARGET_ERR, "no random bytes for the CHAP challenge");
		char hex[2 * CHAP_CHAL + 3];
		tohex(hex, ls->chal, CHAP_CHAL);
		iscsi_kv_add(&ls->rsp, "CHAP_A", "5");
		iscsi_kv_add(&ls->rsp, "CHAP_I", "%u", ls->chap_id);
		iscsi_kv_add(&ls->rsp, "CHAP_C", "%s", hex);
		ls->chap = 2;
		return 0;
	}
	if (ls->chap != 2)
		return k->n || k->r ? fail(ls, LOGIN_INIT_ERR, "CHAP keys out of sequence") : 0;
	if (!k->n || !k->r)
		return fail(ls, LOGIN_AUTH_FAIL, "CHAP_N / CHAP_R missing");
	uint8_t r[CHAP_MAXBIN], want[16];
	int rl = decode_bin(k->r, k->rlen, r, sizeof(r));
	if (ls->user[0] && !streq(k->n, k->nlen, ls->user))
		return fail(ls, LOGIN_AUTH_FAIL, "CHAP user name does not match");
	if (rl != 16 || chap_md5(ls->chap_id, ls->secret, ls->chal, CHAP_CHAL, want) < 0 ||
	    CRYPTO_memcmp(r, want, 16) != 0)
		return fail(ls, LOGIN_AUTH_FAIL, "CHAP response is wrong");
	if (k->i || k->c) { /* mutual: the initiator authenticates the target */
		uint8_t chal[CHAP_MAXBIN];
		uint64_t id;
		int cl = k->c ? decode_bin(k->c, k->clen, chal, sizeof(chal)) : -1;
		if (!k->i || !k->c || iscsi_num(k->i, k->ilen, 0, 255, &id) < 0 || cl < 1)
			return fail(ls, LOGIN_AUTH_FAIL, "bad CHAP_I / CHAP_C for mutual CHAP");
		if (!ls->tsecret[0])
			return fail(ls, LOGIN_AUTH_FAIL, "mutual CHAP asked but the target has no secret");
		if (cl == CHAP_CHAL && memcmp(chal, ls->chal, CHAP_CHAL) == 0)
			return fail(ls, LOGIN_AUTH_FAIL, "the initiator reflected the target's challenge");
		uint8_t resp[16];
		char hex[2 * 16 + 3];
		if (chap_md5((uint8_t)id, ls->tsecret, chal, (size_t)cl, resp) < 0)
			return fail(ls, LOGIN_TARGET_ERR, "MD5 failed");
		tohex(hex, resp, 16);
		iscsi_kv_add(&ls->rsp, "CHAP_N", "%s", c->target);
		iscsi_kv_add(&ls->rsp, "CHAP_R", "%s", hex);
	}
	ls->chap = 3;
	ls->auth_done = 1;
	return 0;
}

/* ---- names and the backend's verdict ---- */
static int check_names(lstate_t *ls, int have_iname, int have_stype)
{
	iscsi_conn_t *c = ls->c;
	(void)have_stype;
	if (ls->have_names)
		return 0;
	if (!have_iname)
		return fail(ls, LOGIN_MISSING_PARAM, "no InitiatorName");
	if (c->discovery) {
		ls->have_names = 1;
		return 0;
	}
	if (!c->target[0])
		return fail(ls, LOGIN_MISSING_PARAM, "no TargetName in a normal session");
	ls->user[0] = ls->secret[0] = ls->tsecret[0] = 0;
	int rc = c->s->be.login ? c->s->be.login(c->s->be.arg, c->target, c->initiator, ls->user, sizeof(ls->user),
						 ls->secret, sizeof(ls->secret), ls->tsecret, sizeof(ls->tsecret))
				: 0;
	ls->user[sizeof(ls->user) - 1] = ls->secret[sizeof(ls->secret) - 1] = ls->tsecret[sizeof(ls->tsecret) - 1] = 0;
	if (rc == -ENOENT)
		return fail(ls, LOGIN_NOT_FOUND, "no such target");
	if (rc == -EACCES || rc == -EPERM)
		return fail(ls, LOGIN_FORBIDDEN, "the initiator may not log in to this target");
	if (rc < 0)
		return fail(ls, LOGIN_TARGET_ERR, "backend login failed");
	ls->auth_need = ls->secret[0] != 0;
	ls->have_names = 1;
	return 0;
}

/* ---- operational keys ---- */
static int yesno(const char *v, size_t vlen)
{
	return streq(v, vlen, "Yes") ? 1 : streq(v, vlen, "No") ? 0 : -1;
}

static void op_key(lstate_t *ls, const char *key, const char *v, size_t vlen)
{
	iscsi_conn_t *c = ls->c;
	iscsi_target_srv_t *s = c->s;
	iscsi_kv_t *r = &ls->rsp;
	uint64_t n;
	int b;
	if (!strcmp(key, "HeaderDigest") || !strcmp(key, "DataDigest")) {
		/* the initiator's order of preference wins among what we support */
		size_t i = 0;
		const char *pick = NULL;
		while (i <= vlen && !pick) {
			size_t j = i;
			while (j < vlen && v[j] != ',')
				j++;
			if (streq(v + i, j - i, "CRC32C"))
				pick = "CRC32C";
			else if (streq(v + i, j - i, "None"))
				pick = "None";
			i = j + 1;
		}
		iscsi_kv_add(r, key, "%s", pick ? pick : "Reject");
		if (pick && key[0] == 'H')
			ls->hd = pick[0] == 'C';
		else if (pick)
			ls->dd = pick[0] == 'C';
	} else if (!strcmp(key, "MaxRecvDataSegmentLength")) {
		if (iscsi_num(v, vlen, 512, ISCSI_MAX_MRDSL, &n) < 0)
			iscsi_kv_add(r, key, "Reject");
		else
			c->mrdsl_out = (uint32_t)n;
	} else if (!strcmp(key, "MaxBurstLength") || !strcmp(key, "FirstBurstLength")) {
		int first = key[0] == 'F';
		if (iscsi_num(v, vlen, 512, ISCSI_MAX_MRDSL, &n) < 0) {
			iscsi_kv_add(r, key, "Reject");
			return;
		}
		uint32_t ours = first ? s->firstburst : s->maxburst;
		uint32_t x = n < ours ? (uint32_t)n : ours;
		*(first ? &c->firstburst : &c->maxburst) = x;
		iscsi_kv_add(r, key, "%u", x);
	} else if (!strcmp(key, "MaxOutstandingR2T")) {
		if (iscsi_num(v, vlen, 1, 65535, &n) < 0) {
			iscsi_kv_add(r, key, "Reject");
			return;
		}
		c->maxr2t = n < s->maxr2t ? (uint32_t)n : s->maxr2t;
		iscsi_kv_add(r, key, "%u", c->maxr2t);
	} else if (!strcmp(key, "ImmediateData") || !strcmp(key, "InitialR2T") || !strcmp(key, "DataPDUInOrder") ||
		   !strcmp(key, "DataSequenceInOrder") || !strcmp(key, "IFMarker") || !strcmp(key, "OFMarker")) {
		if ((b = yesno(v, vlen)) < 0) {
			iscsi_kv_add(r, key, "Reject");
			return;
		}
		int x;
		if (!strcmp(key, "ImmediateData"))
			x = c->immediate = b && s->immediate; /* AND */
		else if (!strcmp(key, "InitialR2T"))
			x = c->initial_r2t = b || s->initial_r2t; /* OR */
		else if (key[0] == 'D')
			x = 1; /* OR with our Yes */
		else
			x = 0; /* markers: AND with our No */
		iscsi_kv_add(r, key, "%s", x ? "Yes" : "No");
	} else if (!strcmp(key, "ErrorRecoveryLevel")) {
		if (iscsi_num(v, vlen, 0, 2, &n) < 0)
			iscsi_kv_add(r, key, "Reject");
		else
			iscsi_kv_add(r, key, "0");
	} else if (!strcmp(key, "DefaultTime2Wait") || !strcmp(key, "DefaultTime2Retain")) {
		if (iscsi_num(v, vlen, 0, 3600, &n) < 0)
			iscsi_kv_add(r, key, "Reject");
		else if (key[11] == 'W')
			iscsi_kv_add(r, key, "%u", n > 2 ? (unsigned)n : 2u); /* max */
		else
			iscsi_kv_add(r, key, "0"); /* min with ours (ErrorRecoveryLevel 0) */
	} else if (!strcmp(key, "MaxConnections")) {
		if (iscsi_num(v, vlen, 1, 65535, &n) < 0)
			iscsi_kv_add(r, key, "Reject");
		else
			iscsi_kv_add(r, key, "1");
	} else if (!strcmp(key, "IFMarkInt") || !strcmp(key, "OFMarkInt")) {
		iscsi_kv_add(r, key, "Irrelevant");
	} else if (!strcmp(key, "InitiatorAlias") || !strcmp(key, "TargetAlias") ||
		   !strcmp(key, "TargetPortalGroupTag") || !strcmp(key, "TargetAddress")) {
		/* declarative; nothing to answer */
	} else if (!strcmp(key, "SendTargets") || !strcmp(key, "TaskReporting")) {
		iscsi_kv_add(r, key, "Irrelevant");
	} else {
		iscsi_kv_add(r, key, "NotUnderstood");
	}
}

/* Go through the keys of one (complete) login request. */
static int keys(lstate_t *ls, const char *txt, size_t len, int csg)
{
	iscsi_conn_t *c = ls->c;
	size_t pos = 0;
	const char *k, *v;
	size_t kl, vl;
	int rc, have_iname = c->initiator[0] != 0, have_stype = 0;
	chapkeys_t ck = { 0 };
	const char *auth = NULL;
	size_t authlen = 0;
	while ((rc = iscsi_kv_next(txt, len, &pos, &k, &kl, &v, &vl)) > 0) {
		char key[64];
		memcpy(key, k, kl);
		key[kl] = 0;
		if (!strcmp(key, "InitiatorName")) {
			if (vl == 0 || vl >= ISCSI_NAME_MAX)
				return fail(ls, LOGIN_INIT_ERR, "bad InitiatorName");
			memcpy(c->initiator, v, vl);
			c->initiator[vl] = 0;
			have_iname = 1;
		} else if (!strcmp(key, "TargetName")) {
			if (vl == 0 || vl >= ISCSI_NAME_MAX)
				return fail(ls, LOGIN_NOT_FOUND, "bad TargetName");
			memcpy(c->target, v, vl);
			c->target[vl] = 0;
		} else if (!strcmp(key, "SessionType")) {
			if (streq(v, vl, "Discovery"))
				c->discovery = 1;
			else if (streq(v, vl, "Normal"))
				c->discovery = 0;
			else
				return fail(ls, LOGIN_SESSION_TYPE, "unknown SessionType");
			have_stype = 1;
		} else if (!strcmp(key, "AuthMethod")) {
			auth = v, authlen = vl;
		} else if (!strncmp(key, "CHAP_", 5)) {
			if (csg != 0)
				return fail(ls, LOGIN_INIT_ERR, "CHAP keys outside the security stage");
			if (!strcmp(key, "CHAP_A"))
				ck.a = v, ck.alen = vl;
			else if (!strcmp(key, "CHAP_N"))
				ck.n = v, ck.nlen = vl;
			else if (!strcmp(key, "CHAP_R"))
				ck.r = v, ck.rlen = vl;
			else if (!strcmp(key, "CHAP_I"))
				ck.i = v, ck.ilen = vl;
			else if (!strcmp(key, "CHAP_C"))
				ck.c = v, ck.clen = vl;
			else
				iscsi_kv_add(&ls->rsp, key, "NotUnderstood");
		} else {
			op_key(ls, key, v, vl);
		}
	}
	if (rc < 0)
		return fail(ls, LOGIN_INIT_ERR, "malformed login text");
	TRY(check_names(ls, have_iname, have_stype));
	if (auth) {
		if (csg != 0) {
			iscsi_kv_add(&ls->rsp, "AuthMethod", "Irrelevant");
		} else if (ls->auth_need) {
			if (!in_list(auth, authlen, "CHAP")) {
				iscsi_kv_add(&ls->rsp, "AuthMethod", "Reject");
				return fail(ls, LOGIN_AUTH_FAIL, "the target requires CHAP");
			}
			iscsi_kv_add(&ls->rsp, "AuthMethod", "CHAP");
			ls->method = 2;
			ls->chap = ls->chap ? ls->chap : 1;
		} else if (in_list(auth, authlen, "None")) {
			iscsi_kv_add(&ls->rsp, "AuthMethod", "None");
			ls->method = 1;
		} else {
			iscsi_kv_add(&ls->rsp, "AuthMethod", "Reject");
			return fail(ls, LOGIN_AUTH_FAIL, "no authentication method in common");
		}
	}
	if (ls->method == 2) {
		if (ck.a || ck.n || ck.r || ck.i || ck.c)
			TRY(do_chap(ls, &ck));
	} else if (ck.a || ck.n || ck.r || ck.i || ck.c) {
		return fail(ls, LOGIN_INIT_ERR, "CHAP keys without AuthMethod=CHAP");
	}
	return 0;
}

static int send_rsp(lstate_t *ls, const uint8_t *req, int transit, int nsg, int csg)
{
	iscsi_conn_t *c = ls->c;
	uint8_t bhs[ISCSI_BHS] = { OP_LOGIN_RSP };
	if (ls->status) {
		bhs[1] = 0;
		iscsi_kv_free(&ls->rsp);
	} else {
		bhs[1] = (uint8_t)((transit ? 0x80 : 0) | (csg & 3) << 2 | (transit ? (nsg & 3) : 0));
	}
	bhs[2] = 0, bhs[3] = 0; /* VersionMax, VersionActive */
	memcpy(bhs + 8, c->isid, 6);
	ib_put16(bhs + 14, (transit && nsg == 3 && !ls->status) ? c->tsih : 0);
	memcpy(bhs + 16, req + 16, 4);
	bhs[36] = (uint8_t)(ls->status >> 8);
	bhs[37] = (uint8_t)ls->status;
	if (ls->rsp.overflow)
		return terr(EOVERFLOW, "login response too long");
	int rc = iscsi_pdu_send(c, bhs, ls->rsp.buf, (uint32_t)ls->rsp.len, ISCSI_SN_STAT);
	ls->rsp.len = 0;
	ls->first = 0;
	return rc;
}

int iscsi_login(iscsi_conn_t *c)
{
	lstate_t ls = { .c = c, .first = 1, .csg = -1 };
	ls.rsp.max = ISCSI_LOGIN_MRDSL;
	iscsi_pdu_t *p = malloc(sizeof(*p));
	if (!p)
		return terr(ENOMEM, "out of memory");
	int rc;
	for (int npdu = 0;; npdu++) {
		rc = iscsi_pdu_recv(c, p, ISCSI_LOGIN_MRDSL);
		if (rc == 1)
			break;
		if (rc < 0)
			break;
		uint8_t *h = p->bhs;
		if ((h[0] & 0x3f) != OP_LOGIN_REQ || p->ddigest_bad) {
			rc = terr(EPROTO, "PDU with opcode 0x%02x during login", h[0] & 0x3f);
			break;
		}
		if (npdu > 64) {
			rc = terr(EPROTO, "login takes too many PDUs");
			break;
		}
		int transit = h[1] & 0x80, cont = h[1] & 0x40, csg = (h[1] >> 2) & 3, nsg = h[1] & 3;
		if (ls.first && !ls.textlen) {
			memcpy(c->isid, h + 8, 6);
			c->cid = ib_get16(h + 20);
			c->expcmdsn = ib_get32(h + 24);
			c->maxcmdsn = c->expcmdsn - 1; /* raised to the full window at the first send */
			c->statsn = ib_get32(h + 28);
			if (h[3] > 0 || h[2] < h[3])
				fail(&ls, LOGIN_BAD_VERSION, "unsupported version");
			else if (ib_get16(h + 14) != 0)
				fail(&ls, 0x020a, "adding a connection to a session is not supported");
		}
		if (!ls.status && (csg == 2 || csg == 3 || (transit && (nsg == 2 || nsg <= csg)) || (transit && cont) ||
				   (ls.csg >= 0 && csg < ls.csg)))
			fail(&ls, LOGIN_BAD_REQUEST, "bad stage transition");
		if (!ls.status && p->dlen) {
			if (ls.textlen + p->dlen > ISCSI_MAX_TEXT) {
				fail(&ls, LOGIN_INIT_ERR, "login text too long");
			} else {
				char *t = realloc(ls.text, ls.textlen + p->dlen);
				if (!t) {
					fail(&ls, LOGIN_NO_RESOURCES, "out of memory");
				} else {
					memcpy(t + ls.textlen, p->data, p->dlen);
					ls.text = t;
					ls.textlen += p->dlen;
				}
			}
		}
		if (!ls.status && cont) { /* more text of this request follows: an empty answer */
			rc = send_rsp(&ls, h, 0, 0, csg);
			if (rc < 0)
				break;
			continue;
		}
		ls.csg = csg;
		if (!ls.status)
			keys(&ls, ls.text ? ls.text : "", ls.textlen, csg);
		ls.textlen = 0;
		if (!ls.status && csg == 1 && ls.auth_need && !ls.auth_done)
			fail(&ls, LOGIN_AUTH_FAIL, "authentication required");
		int can_transit = transit;
		if (!ls.status && csg == 0 && transit) {
			if (ls.auth_need && !ls.auth_done)
				can_transit = 0; /* CHAP still going on */
		}
		if (!ls.status && !c->discovery && !ls.sent_tpgt && ls.have_names) {
			iscsi_kv_add(&ls.rsp, "TargetPortalGroupTag", "%d", ISCSI_TPGT);
			ls.sent_tpgt = 1;
		}
		if (!ls.status && can_transit && (nsg == 3 || csg == 1) && !ls.declared_mrdsl) {
			iscsi_kv_add(&ls.rsp, "MaxRecvDataSegmentLength", "%u", c->mrdsl_in);
			if (!c->discovery)
				iscsi_kv_add(&ls.rsp, "TargetAlias", "tarn");
			ls.declared_mrdsl = 1;
		}
		if (!ls.status && can_transit && nsg == 3) {
			pthread_mutex_lock(&c->s->net.lock);
			c->tsih = ++c->s->next_tsih ? c->s->next_tsih : ++c->s->next_tsih;
			pthread_mutex_unlock(&c->s->net.lock);
		}
		rc = send_rsp(&ls, h, can_transit, nsg, csg);
		if (rc < 0)
			break;
		if (ls.status) {
			rc = 1;
			break;
		}
		if (can_transit && nsg == 3) {
			if (c->firstburst > c->maxburst)
				c->firstburst = c->maxburst;
			snprintf(c->nexus, sizeof(c->nexus), "%s,i,0x%02x%02x%02x%02x%02x%02x", c->initiator, c->isid[0],
				 c->isid[1], c->isid[2], c->isid[3], c->isid[4], c->isid[5]);
			c->hdigest = ls.hd, c->ddigest = ls.dd;
			c->ffp = 1;
			rc = 0;
			break;
		}
	}
	free(ls.text);
	iscsi_kv_free(&ls.rsp);
	free(p);
	return rc;
}
