/* Unit tests for iscsi: the target (src/iscsi) against the in-memory backend (iscsi/mem.c:
 * target "iqn.2024-01.org.tarn:t" with LUN 0, 1 MiB writable thin, 512-byte blocks, and LUN 1,
 * 64 KiB read-only with byte i = i % 251; target "iqn.2024-01.org.tarn:chap" with CHAP secrets),
 * driven by an initiator written here over socketpairs (iscsi_serve_conn in a thread) or over a
 * TCP listener. Every assertion looks at real PDUs: opcodes, status, sense, data bytes. */
#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "iscsi/mem.h"
#include "iscsi/proto.h"
#include "util/err.h"
#include "util/tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TGT "iqn.2024-01.org.tarn:t"
#define CHAPT "iqn.2024-01.org.tarn:chap"
#define INI "iqn.2024-01.org.tarn:ini"

static iscsi_mem_t *mem;
static iscsi_mem_lu_t *lu0, *lu1;
static iscsi_target_srv_t *srv;

static void quiet(void *arg, const char *line) { (void)arg, (void)line; }

/* ---- a connection over a socketpair ---- */
typedef struct sconn {
	pthread_t t;
	int sfd, rc;
} sconn_t;

static void *serve_thread(void *arg)
{
	sconn_t *sc = arg;
	sc->rc = iscsi_serve_conn(srv, sc->sfd);
	return NULL;
}

typedef struct cli {
	int fd;
	uint32_t cmdsn, statsn, itt;
	int hd, dd;
	uint32_t mrdsl, firstburst, maxburst;
	int immediate, initial_r2t;
	sconn_t sc;
} cli_t;

static void set_timeout(int fd, int sec)
{
	struct timeval tv = { sec, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void start(cli_t *c)
{
	int sv[2];
	memset(c, 0, sizeof(*c));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	c->sc.sfd = sv[0];
	c->fd = sv[1];
	c->mrdsl = 8192;
	set_timeout(c->fd, 10);
	pthread_create(&c->sc.t, NULL, serve_thread, &c->sc);
}

static int finish(cli_t *c)
{
	if (c->fd >= 0)
		close(c->fd);
	pthread_join(c->sc.t, NULL);
	return c->sc.rc;
}

static int xsend(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

static int xrecv(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r, n -= (size_t)r;
	}
	return 0;
}

static void le32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }

static int send_pdu(cli_t *c, uint8_t *bhs, const void *data, uint32_t dlen)
{
	uint8_t d[4], z[4] = { 0 };
	ib_put24(bhs + 5, dlen);
	if (xsend(c->fd, bhs, 48))
		return -1;
	if (c->hd) {
		le32(d, iscsi_crc32c(0, bhs, 48));
		if (xsend(c->fd, d, 4))
			return -1;
	}
	uint32_t pad = (4 - (dlen & 3)) & 3;
	if (dlen && (xsend(c->fd, data, dlen) || (pad && xsend(c->fd, z, pad))))
		return -1;
	if (dlen && c->dd) {
		uint32_t crc = iscsi_crc32c(0, data, dlen);
		if (pad)
			crc = iscsi_crc32c(crc, z, pad);
		le32(d, crc);
		if (xsend(c->fd, d, 4))
			return -1;
	}
	return 0;
}

static uint8_t rdata[1 << 20];

/* One PDU from the target: bhs, data into rdata; returns data length or -1. */
static int recv_pdu(cli_t *c, uint8_t *bhs)
{
	uint8_t d[4];
	if (xrecv(c->fd, bhs, 48))
		return -1;
	if (c->hd && (xrecv(c->fd, d, 4) || iscsi_crc32c(0, bhs, 48) != (uint32_t)(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24)))
		return -1;
	uint32_t dlen = ib_get24(bhs + 5), padded = (dlen + 3) & ~3u;
	if (padded > sizeof(rdata) || (padded && xrecv(c->fd, rdata, padded)))
		return -1;
	if (dlen && c->dd) {
		if (xrecv(c->fd, d, 4) || iscsi_crc32c(0, rdata, padded) != (uint32_t)(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24))
			return -1;
	}
	if ((bhs[0] & 0x3f) != OP_DATA_IN && (bhs[0] & 0x3f) != OP_R2T)
		c->statsn = ib_get32(bhs + 24) + 1;
	return (int)dlen;
}

/* 1 if the target closed the connection. */
static int at_eof(cli_t *c)
{
	uint8_t b[256];
	for (int i = 0; i < 10000; i++) {
		ssize_t r = recv(c->fd, b, sizeof(b), 0);
		if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return 1;
		if (r < 0)
			return 0;
	}
	return 0;
}

/* ---- login ---- */
static char lrsp[8192];
static size_t lrsplen;
static uint16_t lstatus;

/* One login request (csg -> nsg, transit) with keys ("k=v\0k=v\0", klen bytes); 0 if a response
 * came (lstatus, lrsp), its byte 1 in *flags. */
static int login_pdu(cli_t *c, int csg, int nsg, int transit, const char *keys, size_t klen, uint8_t *flags, uint16_t *tsih)
{
	uint8_t bhs[48] = { OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE };
	bhs[1] = (uint8_t)((transit ? 0x80 : 0) | csg << 2 | (transit ? nsg : 0));
	static const uint8_t isid[6] = { 0x80, 0, 0, 1, 0, 7 };
	memcpy(bhs + 8, isid, 6);
	ib_put32(bhs + 16, c->itt++);
	ib_put32(bhs + 24, c->cmdsn);
	ib_put32(bhs + 28, c->statsn);
	if (send_pdu(c, bhs, keys, (uint32_t)klen))
		return -1;
	int n = recv_pdu(c, bhs);
	if (n < 0 || (bhs[0] & 0x3f) != OP_LOGIN_RSP)
		return -1;
	memcpy(lrsp, rdata, (size_t)n);
	lrsplen = (size_t)n;
	lrsp[n] = 0;
	lstatus = ib_get16(bhs + 36);
	if (flags)
		*flags = bhs[1];
	if (tsih)
		*tsih = ib_get16(bhs + 14);
	return 0;
}

/* The value of key in the last login/text response ("" if absent). */
static const char *rkey(const char *key)
{
	static char v[1024];
	size_t kl = strlen(key);
	for (size_t i = 0; i < lrsplen;) {
		const char *s = lrsp + i;
		size_t l = strnlen(s, lrsplen - i);
		if (l > kl && !memcmp(s, key, kl) && s[kl] == '=') {
			snprintf(v, sizeof(v), "%.*s", (int)(l - kl - 1), s + kl + 1);
			return v;
		}
		i += l + 1;
	}
	return "";
}

static size_t kv(char *buf, const char *const *pairs)
{
	size_t n = 0;
	for (; *pairs; pairs++) {
		size_t l = strlen(*pairs) + 1;
		memcpy(buf + n, *pairs, l);
		n += l;
	}
	return n;
}

/* A normal session to target with operational keys (extra may be NULL). 0 on success. */
static int login_op(cli_t *c, const char *target, const char *digest, const char *const *extra)
{
	char keys[4096], hd[64], dd[64], tn[256];
	snprintf(tn, sizeof(tn), "TargetName=%s", target);
	snprintf(hd, sizeof(hd), "HeaderDigest=%s", digest);
	snprintf(dd, sizeof(dd), "DataDigest=%s", digest);
	const char *base[] = { "InitiatorName=" INI, tn, "SessionType=Normal", hd, dd, "MaxRecvDataSegmentLength=8192",
			       "ImmediateData=Yes", "InitialR2T=No", "MaxBurstLength=16776192", "FirstBurstLength=262144",
			       "MaxOutstandingR2T=1", "ErrorRecoveryLevel=0", NULL };
	size_t n = kv(keys, base);
	if (extra)
		n += kv(keys + n, extra);
	uint8_t fl;
	if (login_pdu(c, 1, 3, 1, keys, n, &fl, NULL) || lstatus != 0 || !(fl & 0x80) || (fl & 3) != 3)
		return -1;
	c->hd = !strcmp(rkey("HeaderDigest"), "CRC32C");
	c->dd = !strcmp(rkey("DataDigest"), "CRC32C");
	c->mrdsl = (uint32_t)atoi(rkey("MaxRecvDataSegmentLength"));
	c->firstburst = (uint32_t)atoi(rkey("FirstBurstLength"));
	c->maxburst = (uint32_t)atoi(rkey("MaxBurstLength"));
	c->immediate = !strcmp(rkey("ImmediateData"), "Yes");
	c->initial_r2t = !strcmp(rkey("InitialR2T"), "Yes");
	return 0;
}

/* ---- SCSI commands ---- */
typedef struct res {
	int status;       /* -1: no response */
	uint8_t sense[32];
	uint32_t senselen, resid;
	int flags;        /* response byte 1 (O/U) */
	uint32_t nin, nr2t, ndatain;
} res_t;

/* A SCSI command: out (outlen bytes, sent as immediate / unsolicited / solicited as negotiated;
 * edtl = outlen), or data-in into in (edtl = inlen). */
static res_t scsi(cli_t *c, uint64_t lun, const uint8_t *cdb, int cdblen, const uint8_t *out, uint32_t outlen, uint8_t *in,
		  uint32_t inlen)
{
	res_t r = { .status = -1 };
	uint8_t bhs[48] = { OP_SCSI_CMD };
	uint32_t itt = c->itt++;
	bhs[1] = 0x80 | (out ? 0x20 : 0) | (in ? 0x40 : 0) | 1;
	iscsi_lun_encode(bhs + 8, lun);
	ib_put32(bhs + 16, itt);
	ib_put32(bhs + 20, out ? outlen : inlen);
	ib_put32(bhs + 24, c->cmdsn++);
	ib_put32(bhs + 28, c->statsn);
	memcpy(bhs + 32, cdb, (size_t)cdblen);
	uint32_t imm = 0, unsol = 0;
	if (out) {
		if (c->immediate)
			imm = outlen < c->firstburst ? outlen : c->firstburst;
		if (imm > c->mrdsl)
			imm = c->mrdsl;
		if (!c->initial_r2t)
			unsol = outlen < c->firstburst ? outlen : c->firstburst;
		if (unsol > imm)
			bhs[1] &= (uint8_t)~0x80;
	}
	if (send_pdu(c, bhs, out, imm))
		return r;
	/* unsolicited Data-Out */
	uint32_t sn = 0;
	for (uint32_t off = imm; off < unsol;) {
		uint32_t n = unsol - off < c->mrdsl ? unsol - off : c->mrdsl;
		uint8_t d[48] = { OP_DATA_OUT };
		d[1] = off + n == unsol ? 0x80 : 0;
		ib_put32(d + 16, itt);
		ib_put32(d + 20, ISCSI_RSVD_TAG);
		ib_put32(d + 36, sn++);
		ib_put32(d + 40, off);
		if (send_pdu(c, d, out + off, n))
			return r;
		off += n;
	}
	for (int guard = 0; guard < 100000; guard++) {
		int n = recv_pdu(c, bhs);
		if (n < 0)
			return r;
		int op = bhs[0] & 0x3f;
		if (op == OP_R2T) {
			r.nr2t++;
			uint32_t ttt = ib_get32(bhs + 20), off = ib_get32(bhs + 40), len = ib_get32(bhs + 44), dsn = 0;
			for (uint32_t done = 0; done < len;) {
				uint32_t k = len - done < c->mrdsl ? len - done : c->mrdsl;
				uint8_t d[48] = { OP_DATA_OUT };
				d[1] = done + k == len ? 0x80 : 0;
				ib_put32(d + 16, itt);
				ib_put32(d + 20, ttt);
				ib_put32(d + 36, dsn++);
				ib_put32(d + 40, off + done);
				if (send_pdu(c, d, out + off + done, k))
					return r;
				done += k;
			}
		} else if (op == OP_DATA_IN) {
			uint32_t off = ib_get32(bhs + 40);
			if (in && off + (uint32_t)n <= inlen)
				memcpy(in + off, rdata, (size_t)n);
			r.nin += (uint32_t)n;
			r.ndatain++;
			if (bhs[1] & 0x01) {
				r.status = bhs[3];
				r.flags = bhs[1] & 0x06;
				r.resid = ib_get32(bhs + 44);
				c->statsn = ib_get32(bhs + 24) + 1;
				return r;
			}
		} else if (op == OP_SCSI_RSP) {
			r.status = bhs[3];
			r.flags = bhs[1] & 0x06;
			r.resid = ib_get32(bhs + 44);
			if (n >= 2) {
				r.senselen = ib_get16(rdata);
				if (r.senselen > sizeof(r.sense))
					r.senselen = sizeof(r.sense);
				memcpy(r.sense, rdata + 2, r.senselen);
			}
			return r;
		} else {
			return r;
		}
	}
	return r;
}

static uint32_t asc(const res_t *r) { return r->senselen >= 14 ? (uint32_t)(r->sense[2] & 0xf) << 16 | ib_get16(r->sense + 12) : 0; }

static void cdb_rw(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	if (op == 0x28 || op == 0x2a || op == 0x2f) {
		ib_put32(cdb + 2, (uint32_t)lba);
		ib_put16(cdb + 7, (uint16_t)blocks);
	} else {
		ib_put64(cdb + 2, lba);
		ib_put32(cdb + 10, blocks);
	}
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 31 + seed * 7 + (i >> 9)) & 0xff);
}

/* ---- tests ---- */
static void test_crc32c(void)
{
	is_u64(iscsi_crc32c(0, "123456789", 9), 0xe3069283u, "CRC32C check value of \"123456789\"");
	uint8_t z[32] = { 0 };
	is_u64(iscsi_crc32c(0, z, 32), 0x8a9136aau, "CRC32C of 32 zero bytes (RFC 3720 B.4)");
	uint8_t inc[32];
	for (int i = 0; i < 32; i++)
		inc[i] = (uint8_t)i;
	is_u64(iscsi_crc32c(0, inc, 32), 0x46dd794eu, "CRC32C of 0..31 (RFC 3720 B.4)");
	is_u64(iscsi_crc32c(iscsi_crc32c(0, inc, 13), inc + 13, 19), 0x46dd794eu, "CRC32C chains");
}

static void test_login(void)
{
	cli_t c;
	start(&c);
	ok(login_op(&c, TGT, "CRC32C,None", NULL) == 0, "normal login in one operational stage");
	is_str(rkey("HeaderDigest"), "CRC32C", "HeaderDigest: the initiator's first choice");
	is_str(rkey("MaxRecvDataSegmentLength"), "262144", "target declares MaxRecvDataSegmentLength 256 KiB");
	is_str(rkey("MaxBurstLength"), "16776192", "MaxBurstLength: the smaller value");
	is_str(rkey("FirstBurstLength"), "262144", "FirstBurstLength: the smaller value");
	is_str(rkey("InitialR2T"), "No", "InitialR2T=No (OR of No and No)");
	is_str(rkey("ImmediateData"), "Yes", "ImmediateData=Yes");
	is_str(rkey("ErrorRecoveryLevel"), "0", "ErrorRecoveryLevel 0");
	is_str(rkey("TargetPortalGroupTag"), "1", "TargetPortalGroupTag returned");
	uint8_t cdb[16] = { 0x00 }, buf[256];
	res_t r = scsi(&c, 0, cdb, 6, NULL, 0, NULL, 0);
	is_int(r.status, 0, "TEST UNIT READY with digests on: GOOD");
	memset(cdb, 0, 16);
	cdb[0] = 0x12, cdb[4] = 96;
	r = scsi(&c, 0, cdb, 6, NULL, 0, buf, 96);
	ok(r.status == 0 && r.nin == 96 && !memcmp(buf + 8, "TARN    ", 8), "INQUIRY: 96 bytes, vendor TARN");
	/* logout */
	uint8_t bhs[48] = { OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE, 0x80 };
	ib_put32(bhs + 16, c.itt++);
	ib_put32(bhs + 24, c.cmdsn);
	ok(send_pdu(&c, bhs, NULL, 0) == 0 && recv_pdu(&c, bhs) == 0 && (bhs[0] & 0x3f) == OP_LOGOUT_RSP && bhs[2] == 0,
	   "logout: response 0");
	ok(at_eof(&c), "... and the target closes");
	is_int(finish(&c), 0, "serve_conn returns 0");

	/* two stages, keys the target does not know, bad values */
	start(&c);
	const char *sec[] = { "InitiatorName=" INI, "TargetName=" TGT, "SessionType=Normal", "AuthMethod=None", NULL };
	char keys[1024];
	size_t n = kv(keys, sec);
	uint8_t fl;
	ok(login_pdu(&c, 0, 1, 1, keys, n, &fl, NULL) == 0 && lstatus == 0 && (fl & 0x80) && (fl & 3) == 1,
	   "security stage with AuthMethod=None, transit to operational");
	is_str(rkey("AuthMethod"), "None", "... AuthMethod=None");
	const char *op[] = { "X-com.example.foo=bar", "MaxBurstLength=abc", "MaxConnections=4", "DataPDUInOrder=No", NULL };
	n = kv(keys, op);
	ok(login_pdu(&c, 1, 3, 1, keys, n, &fl, NULL) == 0 && lstatus == 0 && (fl & 3) == 3, "operational stage ends login");
	is_str(rkey("X-com.example.foo"), "NotUnderstood", "unknown key: NotUnderstood");
	is_str(rkey("MaxBurstLength"), "Reject", "non-numeric value: Reject");
	is_str(rkey("MaxConnections"), "1", "MaxConnections 1");
	is_str(rkey("DataPDUInOrder"), "Yes", "DataPDUInOrder: OR gives Yes");
	finish(&c);

	/* refusals */
	start(&c);
	const char *bad[] = { "InitiatorName=" INI, "TargetName=iqn.2024-01.org.tarn:nope", NULL };
	n = kv(keys, bad);
	ok(login_pdu(&c, 1, 3, 1, keys, n, NULL, NULL) == 0 && lstatus == LOGIN_NOT_FOUND, "unknown target: 0x0203");
	ok(at_eof(&c), "... connection closed");
	finish(&c);
	start(&c);
	const char *noname[] = { "TargetName=" TGT, NULL };
	n = kv(keys, noname);
	ok(login_pdu(&c, 1, 3, 1, keys, n, NULL, NULL) == 0 && lstatus == LOGIN_MISSING_PARAM, "no InitiatorName: 0x0207");
	finish(&c);
	start(&c);
	ok(login_pdu(&c, 1, 3, 1, "garbage-without-equals", 22, NULL, NULL) == 0 && lstatus == LOGIN_INIT_ERR,
	   "malformed key: initiator error");
	finish(&c);
	start(&c);
	memset(bhs, 0, 48);
	bhs[0] = OP_SCSI_CMD;
	send_pdu(&c, bhs, NULL, 0);
	ok(at_eof(&c), "a SCSI command before login: connection dropped");
	ok(finish(&c) < 0, "... serve_conn reports the error");
}

static void test_discovery(void)
{
	cli_t c;
	start(&c);
	const char *k[] = { "InitiatorName=" INI, "SessionType=Discovery", "HeaderDigest=None", "DataDigest=None", NULL };
	char keys[512];
	size_t n = kv(keys, k);
	uint8_t fl;
	ok(login_pdu(&c, 1, 3, 1, keys, n, &fl, NULL) == 0 && lstatus == 0 && (fl & 3) == 3, "discovery login");
	uint8_t bhs[48] = { OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, 0x80 };
	ib_put32(bhs + 16, c.itt++);
	ib_put32(bhs + 20, ISCSI_RSVD_TAG);
	ib_put32(bhs + 24, c.cmdsn);
	int dl = send_pdu(&c, bhs, "SendTargets=All", 16) == 0 ? recv_pdu(&c, bhs) : -1;
	ok(dl > 0 && (bhs[0] & 0x3f) == OP_TEXT_RSP && (bhs[1] & 0x80), "SendTargets=All answered in one final PDU");
	memcpy(lrsp, rdata, dl > 0 ? (size_t)dl : 0);
	lrsplen = dl > 0 ? (size_t)dl : 0;
	ok(memmem(lrsp, lrsplen, "TargetName=" TGT, strlen("TargetName=" TGT) + 1) &&
		   memmem(lrsp, lrsplen, "TargetName=" CHAPT, strlen("TargetName=" CHAPT) + 1),
	   "both targets listed");
	uint8_t cdb[16] = { 0 };
	bhs[0] = OP_SCSI_CMD;
	memset(bhs + 1, 0, 47);
	memcpy(bhs + 32, cdb, 16);
	ib_put32(bhs + 24, c.cmdsn++);
	ok(send_pdu(&c, bhs, NULL, 0) == 0 && recv_pdu(&c, bhs) == 48 && (bhs[0] & 0x3f) == OP_REJECT && bhs[2] == REJ_PROTOCOL,
	   "SCSI command in a discovery session: Reject (protocol error) with the header");
	finish(&c);
}

static void test_io(void)
{
	cli_t c;
	start(&c);
	ok(login_op(&c, TGT, "None", NULL) == 0, "login, no digests");
	static uint8_t w[300 * 1024], rb[300 * 1024];
	fill(w, sizeof(w), 1);
	uint8_t cdb[16];
	cdb_rw(cdb, 0x2a, 16, 560);
	res_t r = scsi(&c, 0, cdb, 10, w, 560 * 512, NULL, 0);
	ok(r.status == 0 && r.nr2t == 1, "WRITE(10) 280 KiB: immediate + unsolicited up to FirstBurstLength, then one R2T (%u)",
	   r.nr2t);
	ok(!memcmp(lu0->data + 16 * 512, w, 560 * 512), "... the bytes are in the LU");
	cdb_rw(cdb, 0x88, 16, 512);
	memset(rb, 0, sizeof(rb));
	r = scsi(&c, 0, cdb, 16, NULL, 0, rb, 512 * 512);
	ok(r.status == 0 && r.nin == 512 * 512 && !memcmp(rb, w, 512 * 512), "READ(16) reads them back");
	ok(r.ndatain >= 32, "... in Data-In PDUs of at most the initiator's 8 KiB (%u)", r.ndatain);
	/* residuals */
	cdb_rw(cdb, 0x28, 0, 4);
	r = scsi(&c, 0, cdb, 10, NULL, 0, rb, 1024);
	ok(r.status == 0 && r.nin == 1024 && (r.flags & 0x04) && r.resid == 1024, "READ 4 blocks with EDTL 1024: overflow 1024");
	cdb_rw(cdb, 0x2a, 2000, 1);
	r = scsi(&c, 0, cdb, 10, w, 200, NULL, 0);
	ok(r.status == 0 && (r.flags & 0x04) && r.resid == 312, "WRITE 1 block with EDTL 200: GOOD, overflow 312");
	ok(!memcmp(lu0->data + 2000 * 512, w, 200) && lu0->data[2000 * 512 + 200] == 0, "... only 200 bytes written");
	/* errors */
	cdb_rw(cdb, 0x28, 2048, 1);
	r = scsi(&c, 0, cdb, 10, NULL, 0, rb, 512);
	is_u64(asc(&r), 0x052100, "READ beyond the end: ILLEGAL REQUEST / LBA OUT OF RANGE");
	cdb_rw(cdb, 0x2a, 0, 1);
	r = scsi(&c, 1, cdb, 10, w, 512, NULL, 0);
	is_u64(asc(&r), 0x072700, "WRITE to the read-only LUN: DATA PROTECT / WRITE PROTECTED");
	cdb_rw(cdb, 0x28, 0, 1);
	r = scsi(&c, 5, cdb, 10, NULL, 0, rb, 512);
	is_u64(asc(&r), 0x052500, "LUN 5: LOGICAL UNIT NOT SUPPORTED");
	memset(cdb, 0, 16);
	cdb[0] = 0xc5;
	r = scsi(&c, 0, cdb, 16, NULL, 0, NULL, 0);
	is_u64(asc(&r), 0x052000, "unknown opcode: INVALID COMMAND OPERATION CODE");
	memset(cdb, 0, 16);
	cdb[0] = 0x12, cdb[1] = 1, cdb[2] = 0x42, cdb[4] = 255;
	r = scsi(&c, 0, cdb, 6, NULL, 0, rb, 255);
	ok(asc(&r) == 0x052400 && (r.sense[15] & 0xc0) == 0xc0 && ib_get16(r.sense + 16) == 2,
	   "INQUIRY of VPD page 0x42: INVALID FIELD IN CDB, field pointer byte 2");
	memset(cdb, 0, 16);
	cdb[0] = 0x12, cdb[1] = 1, cdb[2] = 0x83, cdb[4] = 255;
	r = scsi(&c, 0, cdb, 6, NULL, 0, rb, 255);
	ok(r.status == 0 && rb[1] == 0x83 && rb[4 + 3] == 16 && rb[4 + 4] == 0x60, "VPD 0x83: NAA designator 60...");
	/* COMPARE AND WRITE */
	uint8_t caw[1024];
	memcpy(caw, lu0->data + 16 * 512, 512);
	memset(caw + 512, 0xab, 512);
	memset(cdb, 0, 16);
	cdb[0] = 0x89;
	ib_put64(cdb + 2, 16);
	cdb[13] = 1;
	r = scsi(&c, 0, cdb, 16, caw, 1024, NULL, 0);
	ok(r.status == 0 && lu0->data[16 * 512] == 0xab, "COMPARE AND WRITE: match, written");
	r = scsi(&c, 0, cdb, 16, caw, 1024, NULL, 0);
	ok(asc(&r) == 0x0e1d00 && (r.sense[0] & 0x80) && ib_get32(r.sense + 3) == 0,
	   "... again: MISCOMPARE, INFORMATION = offset 0");
	caw[100] = 0xab;
	memset(caw, 0xab, 100);
	r = scsi(&c, 0, cdb, 16, caw, 1024, NULL, 0);
	ok(asc(&r) == 0x0e1d00 && ib_get32(r.sense + 3) == 101, "... first difference at byte 101 reported");
	/* UNMAP */
	uint8_t um[24] = { 0 };
	ib_put16(um, 22);
	ib_put16(um + 2, 16);
	ib_put64(um + 8, 16);
	ib_put32(um + 16, 8);
	memset(cdb, 0, 16);
	cdb[0] = 0x42;
	ib_put16(cdb + 7, 24);
	r = scsi(&c, 0, cdb, 10, um, 24, NULL, 0);
	ok(r.status == 0 && lu0->data[16 * 512] == 0 && !lu0->mapped[16] && lu0->mapped[24], "UNMAP 8 blocks: zeros, unmapped");
	/* SYNCHRONIZE CACHE */
	unsigned long fl = lu0->flushes;
	memset(cdb, 0, 16);
	cdb[0] = 0x35;
	r = scsi(&c, 0, cdb, 10, NULL, 0, NULL, 0);
	ok(r.status == 0 && lu0->flushes == fl + 1, "SYNCHRONIZE CACHE flushes the backend");
	finish(&c);

	/* R2T only: the target offers InitialR2T=Yes, ImmediateData=No, small bursts */
	iscsi_params_t p, keep;
	iscsi_srv_get_params(srv, &keep);
	p = keep;
	p.initial_r2t = 1, p.immediate_data = 0, p.max_burst_length = 16384, p.first_burst_length = 8192;
	p.max_recv_data_segment_length = 4096;
	iscsi_srv_set_params(srv, &p);
	start(&c);
	ok(login_op(&c, TGT, "None", NULL) == 0 && c.initial_r2t && !c.immediate && c.maxburst == 16384 && c.mrdsl == 4096,
	   "login with the target offering InitialR2T=Yes, ImmediateData=No, 16 KiB bursts, 4 KiB segments");
	c.mrdsl = 4096;
	fill(w, 65536, 9);
	cdb_rw(cdb, 0x2a, 100, 128);
	r = scsi(&c, 0, cdb, 10, w, 65536, NULL, 0);
	ok(r.status == 0 && r.nr2t == 4 && !memcmp(lu0->data + 100 * 512, w, 65536), "WRITE 64 KiB: 4 R2Ts of 16 KiB, data there");
	/* a Data-Out PDU bigger than MaxRecvDataSegmentLength */
	uint8_t bhs[48] = { OP_DATA_OUT, 0x80 };
	ib_put32(bhs + 16, 0x1234);
	ok(send_pdu(&c, bhs, w, 8192) == 0 && recv_pdu(&c, bhs) == 48 && (bhs[0] & 0x3f) == OP_REJECT,
	   "a data segment beyond MaxRecvDataSegmentLength: Reject...");
	ok(at_eof(&c), "... and the connection ends");
	finish(&c);
	iscsi_srv_set_params(srv, &keep);
}

static void test_bad_pdus(void)
{
	cli_t c;
	start(&c);
	ok(login_op(&c, TGT, "CRC32C", NULL) == 0 && c.hd && c.dd, "login with digests");
	uint8_t bhs[48] = { 0x1c }; /* an opcode nobody defines */
	ib_put32(bhs + 16, 99);
	ok(send_pdu(&c, bhs, NULL, 0) == 0 && recv_pdu(&c, bhs) == 48 && (bhs[0] & 0x3f) == OP_REJECT &&
		   bhs[2] == REJ_UNSUPPORTED,
	   "unknown opcode: Reject (command not supported)");
	memset(bhs, 0, 48);
	bhs[0] = OP_DATA_OUT, bhs[1] = 0x80;
	ib_put32(bhs + 16, 0x777);
	ok(send_pdu(&c, bhs, "abcd", 4) == 0 && recv_pdu(&c, bhs) == 48 && bhs[2] == REJ_INVALID_FIELD,
	   "Data-Out for an unknown task: Reject (invalid PDU field)");
	/* CmdSN beyond the window: ignored, then a NOP-Out still works */
	uint8_t cdb[16] = { 0 };
	memset(bhs, 0, 48);
	bhs[0] = OP_SCSI_CMD, bhs[1] = 0x80;
	ib_put32(bhs + 16, c.itt++);
	ib_put32(bhs + 24, c.cmdsn + 1000);
	memcpy(bhs + 32, cdb, 16);
	send_pdu(&c, bhs, NULL, 0);
	memset(bhs, 0, 48);
	bhs[0] = OP_NOP_OUT | ISCSI_OP_IMMEDIATE, bhs[1] = 0x80;
	ib_put32(bhs + 16, 4242);
	ib_put32(bhs + 20, ISCSI_RSVD_TAG);
	ib_put32(bhs + 24, c.cmdsn);
	int n = send_pdu(&c, bhs, "ping", 4) == 0 ? recv_pdu(&c, bhs) : -1;
	ok(n == 4 && (bhs[0] & 0x3f) == OP_NOP_IN && ib_get32(bhs + 16) == 4242 && !memcmp(rdata, "ping", 4),
	   "a command with CmdSN out of the window is ignored; NOP-Out answered with its data");
	/* TMF */
	memset(bhs, 0, 48);
	bhs[0] = OP_TMF_REQ | ISCSI_OP_IMMEDIATE, bhs[1] = 0x80 | TMF_ABORT_TASK;
	ib_put32(bhs + 16, c.itt++);
	ib_put32(bhs + 20, 0x5555);
	ib_put32(bhs + 24, c.cmdsn);
	ib_put32(bhs + 32, c.cmdsn - 1);
	ok(send_pdu(&c, bhs, NULL, 0) == 0 && recv_pdu(&c, bhs) == 0 && (bhs[0] & 0x3f) == OP_TMF_RSP && bhs[2] == TMF_RSP_NO_TASK,
	   "ABORT TASK of a finished task: task does not exist");
	memset(bhs, 0, 48);
	bhs[0] = OP_TMF_REQ | ISCSI_OP_IMMEDIATE, bhs[1] = 0x80 | TMF_LUN_RESET;
	ib_put32(bhs + 16, c.itt++);
	ib_put32(bhs + 24, c.cmdsn);
	ok(send_pdu(&c, bhs, NULL, 0) == 0 && recv_pdu(&c, bhs) == 0 && bhs[2] == TMF_RSP_COMPLETE, "LUN RESET: complete");
	res_t r = scsi(&c, 0, cdb, 6, NULL, 0, NULL, 0);
	is_int(r.status, 0, "the session goes on");
	/* a bad data digest: Reject, PDU dropped */
	memset(bhs, 0, 48);
	bhs[0] = OP_NOP_OUT | ISCSI_OP_IMMEDIATE, bhs[1] = 0x80;
	ib_put32(bhs + 16, 77);
	ib_put32(bhs + 20, ISCSI_RSVD_TAG);
	ib_put24(bhs + 5, 4);
	uint8_t hd[4], dd[4] = { 1, 2, 3, 4 };
	le32(hd, iscsi_crc32c(0, bhs, 48));
	xsend(c.fd, bhs, 48), xsend(c.fd, hd, 4), xsend(c.fd, "ping", 4), xsend(c.fd, dd, 4);
	ok(recv_pdu(&c, bhs) == 48 && (bhs[0] & 0x3f) == OP_REJECT && bhs[2] == REJ_DIGEST, "bad data digest: Reject (digest error)");
	/* a bad header digest ends the connection */
	memset(bhs, 0, 48);
	bhs[0] = OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	le32(hd, 0xdeadbeef);
	xsend(c.fd, bhs, 48), xsend(c.fd, hd, 4);
	ok(at_eof(&c), "bad header digest: connection dropped");
	ok(finish(&c) < 0, "... serve_conn reports it");
	is_u64(lu0->opens, lu0->closes, "every LU handle closed again");
}

static void md5chap(uint8_t id, const char *secret, const uint8_t *chal, size_t cl, char *hex)
{
	uint8_t md[16];
	unsigned int n;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	EVP_DigestInit_ex(x, EVP_md5(), NULL);
	EVP_DigestUpdate(x, &id, 1);
	EVP_DigestUpdate(x, secret, strlen(secret));
	EVP_DigestUpdate(x, chal, cl);
	EVP_DigestFinal_ex(x, md, &n);
	EVP_MD_CTX_free(x);
	sprintf(hex, "0x");
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 + 2 * i, "%02x", md[i]);
}

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	for (s += 2; s[0] && s[1]; s += 2) {
		unsigned v;
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* CHAP login to CHAPT with secret; mutual when ichal; returns the final status. */
static int chap_login(cli_t *c, const char *secret, int mutual, int *target_ok)
{
	char keys[1024], r[64], nkey[128];
	const char *k1[] = { "InitiatorName=" INI, "TargetName=" CHAPT, "SessionType=Normal", "AuthMethod=CHAP,None", NULL };
	size_t n = kv(keys, k1);
	uint8_t fl;
	if (login_pdu(c, 0, 1, 1, keys, n, &fl, NULL) || lstatus || strcmp(rkey("AuthMethod"), "CHAP") || (fl & 0x80))
		return -1;
	if (login_pdu(c, 0, 1, 1, "CHAP_A=5", 9, &fl, NULL) || lstatus || strcmp(rkey("CHAP_A"), "5"))
		return -1;
	int id = atoi(rkey("CHAP_I"));
	uint8_t chal[64], ichal[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	size_t cl = unhex(rkey("CHAP_C"), chal);
	md5chap((uint8_t)id, secret, chal, cl, r);
	snprintf(nkey, sizeof(nkey), "CHAP_R=%s", r);
	const char *k2[] = { "CHAP_N=alice", nkey, mutual ? "CHAP_I=77" : NULL, "CHAP_C=0x0102030405060708090a0b0c0d0e0f10", NULL };
	n = kv(keys, k2);
	if (login_pdu(c, 0, 1, 1, keys, n, &fl, NULL))
		return -1;
	if (lstatus)
		return lstatus;
	if (mutual) {
		char want[64];
		md5chap(77, "targetsecret", ichal, 16, want);
		*target_ok = !strcmp(rkey("CHAP_R"), want);
	}
	if (!(fl & 0x80) || (fl & 3) != 1)
		return -1;
	const char *k3[] = { "HeaderDigest=None", "DataDigest=None", NULL };
	n = kv(keys, k3);
	if (login_pdu(c, 1, 3, 1, keys, n, &fl, NULL))
		return -1;
	return lstatus;
}

static void test_chap(void)
{
	cli_t c;
	int tok = 0;
	start(&c);
	is_int(chap_login(&c, "alicesecret12", 0, &tok), 0, "one-way CHAP with the right secret");
	uint8_t cdb[16] = { 0 };
	res_t r = scsi(&c, 0, cdb, 6, NULL, 0, NULL, 0);
	is_int(r.status, 0, "... and the session works");
	finish(&c);
	start(&c);
	is_int(chap_login(&c, "wrongsecret!!", 0, &tok), LOGIN_AUTH_FAIL, "a wrong secret: authentication failure");
	ok(at_eof(&c), "... connection closed");
	finish(&c);
	start(&c);
	is_int(chap_login(&c, "alicesecret12", 1, &tok), 0, "mutual CHAP");
	ok(tok, "... the target's CHAP_R proves its secret");
	finish(&c);
	start(&c);
	char keys[512];
	const char *k[] = { "InitiatorName=" INI, "TargetName=" CHAPT, "HeaderDigest=None", NULL };
	size_t n = kv(keys, k);
	ok(login_pdu(&c, 1, 3, 1, keys, n, NULL, NULL) == 0 && lstatus == LOGIN_AUTH_FAIL,
	   "skipping the security stage of a CHAP target: authentication failure");
	finish(&c);
}

static void test_listen(void)
{
	int port = iscsi_srv_listen(srv, "127.0.0.1:0");
	ok(port > 0, "listen on 127.0.0.1, a free port (%d)", port);
	cli_t cs[3];
	int okc = 0;
	for (int i = 0; i < 3; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		set_timeout(cs[i].fd, 10);
		if (connect(cs[i].fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && login_op(&cs[i], TGT, "None", NULL) == 0)
			okc++;
	}
	is_int(okc, 3, "three sessions at once over TCP");
	uint8_t cdb[16], w[4096], rb[4096];
	int good = 0;
	for (int i = 0; i < 3; i++) {
		fill(w, sizeof(w), (unsigned)i + 20);
		cdb_rw(cdb, 0x2a, 1000 + 8 * (uint64_t)i, 8);
		good += scsi(&cs[i], 0, cdb, 10, w, 4096, NULL, 0).status == 0;
	}
	for (int i = 0; i < 3; i++) {
		fill(w, sizeof(w), (unsigned)i + 20);
		cdb_rw(cdb, 0x28, 1000 + 8 * (uint64_t)i, 8);
		good += scsi(&cs[(i + 1) % 3], 0, cdb, 10, NULL, 0, rb, 4096).status == 0 && !memcmp(rb, w, 4096);
	}
	is_int(good, 6, "each writes, another reads it back");
	for (int i = 0; i < 3; i++)
		close(cs[i].fd);
}

/* ---- several commands in flight on one connection ---- */
typedef struct pend {
	uint32_t itt;
	int status;      /* -1: no status yet; -2: none expected (aborted) */
	uint8_t *in;     /* data-in lands here */
	uint32_t inlen;
} pend_t;

/* What the PDUs from the target said, in wire order. */
typedef struct wire {
	uint32_t statsn, maxcmdsn, expcmdsn;
	int have, statsn_ok, maxcmdsn_ok;
	int order[64], norder; /* pend indices in the order their status came */
	int stray;             /* PDUs for a pend that expects none (-2) */
} wire_t;

/* Send a SCSI command with its data as immediate data only (outlen <= FirstBurstLength and the
 * target's MaxRecvDataSegmentLength), no waiting. */
static int send_cmd(cli_t *c, uint32_t itt, const uint8_t *cdb, const uint8_t *out, uint32_t outlen, uint32_t inlen)
{
	uint8_t bhs[48] = { OP_SCSI_CMD };
	bhs[1] = 0x80 | (out ? 0x20 : 0) | (inlen ? 0x40 : 0) | 1;
	iscsi_lun_encode(bhs + 8, 0);
	ib_put32(bhs + 16, itt);
	ib_put32(bhs + 20, out ? outlen : inlen);
	ib_put32(bhs + 24, c->cmdsn++);
	ib_put32(bhs + 28, c->statsn);
	memcpy(bhs + 32, cdb, 16);
	return send_pdu(c, bhs, out, out ? outlen : 0);
}

static int send_tmf(cli_t *c, int fn, uint32_t ref_itt, uint32_t ref_cmdsn)
{
	uint8_t bhs[48] = { OP_TMF_REQ | ISCSI_OP_IMMEDIATE, (uint8_t)(0x80 | fn) };
	iscsi_lun_encode(bhs + 8, 0);
	ib_put32(bhs + 16, c->itt++);
	ib_put32(bhs + 20, ref_itt);
	ib_put32(bhs + 24, c->cmdsn);
	ib_put32(bhs + 32, ref_cmdsn);
	return send_pdu(c, bhs, NULL, 0);
}

static int send_ping(cli_t *c)
{
	uint8_t bhs[48] = { OP_NOP_OUT | ISCSI_OP_IMMEDIATE, 0x80 };
	ib_put32(bhs + 16, c->itt++);
	ib_put32(bhs + 20, ISCSI_RSVD_TAG);
	ib_put32(bhs + 24, c->cmdsn);
	return send_pdu(c, bhs, NULL, 0);
}

/* Receive until every pend has its status (stop < 0), or until a PDU with opcode stop came (its
 * header in out). 0, or -1 if the connection failed or timed out. */
static int collect(cli_t *c, pend_t *p, int n, wire_t *w, int stop, uint8_t *out)
{
	uint8_t bhs[48];
	for (;;) {
		int left = 0;
		for (int i = 0; i < n; i++)
			left += p[i].status == -1;
		if (stop < 0 && !left)
			return 0;
		int dl = recv_pdu(c, bhs);
		if (dl < 0)
			return -1;
		int op = bhs[0] & 0x3f, st = op != OP_R2T && (op != OP_DATA_IN || (bhs[1] & 0x01));
		uint32_t statsn = ib_get32(bhs + 24), exp = ib_get32(bhs + 28), max = ib_get32(bhs + 32);
		if (st) {
			if (w->have && statsn != w->statsn + 1)
				w->statsn_ok = 0;
			w->statsn = statsn;
			c->statsn = statsn + 1;
		}
		if (w->have && (sn_lt(max, w->maxcmdsn) || sn_lt(exp, w->expcmdsn)))
			w->maxcmdsn_ok = 0;
		if (!w->have || !sn_lt(max, w->maxcmdsn))
			w->maxcmdsn = max;
		if (!w->have || !sn_lt(exp, w->expcmdsn))
			w->expcmdsn = exp;
		w->have = 1;
		if (op == stop) {
			memcpy(out, bhs, 48);
			return 0;
		}
		if (op != OP_DATA_IN && op != OP_SCSI_RSP)
			continue;
		int k = -1;
		for (int i = 0; i < n && k < 0; i++)
			if (p[i].itt == ib_get32(bhs + 16))
				k = i;
		if (k < 0)
			continue;
		if (p[k].status == -2) {
			w->stray++;
			continue;
		}
		if (op == OP_DATA_IN && p[k].in && ib_get32(bhs + 40) + (uint32_t)dl <= p[k].inlen)
			memcpy(p[k].in + ib_get32(bhs + 40), rdata, (size_t)dl);
		if (op == OP_SCSI_RSP || (bhs[1] & 0x01)) {
			p[k].status = bhs[3];
			if (w->norder < 64)
				w->order[w->norder++] = k;
		}
	}
}

static void wire_init(wire_t *w)
{
	memset(w, 0, sizeof(*w));
	w->statsn_ok = w->maxcmdsn_ok = 1;
}

static void lu0_slow(unsigned us)
{
	iscsi_mem_lock(mem);
	lu0->delay_us = us;
	lu0->max_busy = 0;
	iscsi_mem_unlock(mem);
}

static int lu0_max_busy(void)
{
	iscsi_mem_lock(mem);
	int n = lu0->max_busy;
	iscsi_mem_unlock(mem);
	return n;
}

#define NPAR 32
static uint8_t pdata[NPAR][4096], pin[NPAR][4096];

/* Pending WRITE(10)s of 4 KiB i = 0..n-1 at scattered LBAs, data pdata[i] (seed). */
static int send_writes(cli_t *c, pend_t *p, int n, unsigned seed)
{
	uint8_t cdb[16];
	for (int i = 0; i < n; i++) {
		fill(pdata[i], 4096, seed + (unsigned)i);
		p[i] = (pend_t){ .itt = c->itt++, .status = -1 };
		cdb_rw(cdb, 0x2a, (uint64_t)((i * 97) % 256) * 8, 8);
		if (send_cmd(c, p[i].itt, cdb, pdata[i], 4096, 0))
			return -1;
	}
	return 0;
}

static int send_reads(cli_t *c, pend_t *p, int n)
{
	uint8_t cdb[16];
	for (int i = 0; i < n; i++) {
		memset(pin[i], 0, 4096);
		p[i] = (pend_t){ .itt = c->itt++, .status = -1, .in = pin[i], .inlen = 4096 };
		cdb_rw(cdb, 0x28, (uint64_t)((i * 97) % 256) * 8, 8);
		if (send_cmd(c, p[i].itt, cdb, NULL, 0, 4096))
			return -1;
	}
	return 0;
}

static int all_good(const pend_t *p, int n)
{
	for (int i = 0; i < n; i++)
		if (p[i].status != 0)
			return 0;
	return 1;
}

static int in_order(const wire_t *w)
{
	for (int i = 0; i < w->norder; i++)
		if (w->order[i] != i)
			return 0;
	return 1;
}

static void test_parallel(void)
{
	cli_t c;
	pend_t p[NPAR];
	wire_t w;
	start(&c);
	ok(login_op(&c, TGT, "None", NULL) == 0, "parallel: login");
	lu0_slow(20000);
	wire_init(&w);
	ok(send_writes(&c, p, NPAR, 300) == 0 && collect(&c, p, NPAR, &w, -1, NULL) == 0 && all_good(p, NPAR),
	   "32 WRITEs of 4 KiB sent at once, each answered GOOD");
	int same = 1;
	for (int i = 0; i < NPAR; i++)
		same &= !memcmp(lu0->data + (size_t)((i * 97) % 256) * 4096, pdata[i], 4096);
	ok(same, "... every block holds its command's data");
	ok(lu0_max_busy() > 1, "... the writes overlapped at the backend (%d at once)", lu0_max_busy());
	ok(w.statsn_ok, "... StatSN counts up by one in the order the responses came");
	ok(w.maxcmdsn_ok, "... ExpCmdSN and MaxCmdSN never went back");
	diag("write responses in %s order", in_order(&w) ? "command" : "another");
	lu0_slow(20000);
	wire_init(&w);
	ok(send_reads(&c, p, NPAR) == 0 && collect(&c, p, NPAR, &w, -1, NULL) == 0 && all_good(p, NPAR),
	   "32 READs of 4 KiB at once: all GOOD");
	same = 1;
	for (int i = 0; i < NPAR; i++)
		same &= !memcmp(pin[i], pdata[i], 4096);
	ok(same, "... each READ got its own blocks' data");
	ok(lu0_max_busy() > 1 && w.statsn_ok && w.maxcmdsn_ok, "... overlapped (%d at once), StatSN in wire order",
	   lu0_max_busy());

	/* MaxCmdSN leaves room only for the task slots that are free */
	lu0_slow(200000);
	wire_init(&w);
	uint8_t bhs[48];
	int r = send_reads(&c, p, 16) == 0 && send_ping(&c) == 0 ? collect(&c, p, 16, &w, OP_NOP_IN, bhs) : -1;
	int open = 0;
	for (int i = 0; i < 16; i++)
		open += p[i].status == -1;
	uint32_t exp = ib_get32(bhs + 28), max = ib_get32(bhs + 32);
	ok(r == 0 && exp == c.cmdsn && max - exp + 1 <= 128u - (uint32_t)open,
	   "NOP-In with %d READs running: ExpCmdSN %u, MaxCmdSN %u leaves room for at most 128 - %d", open,
	   exp - c.cmdsn, max - c.cmdsn, open);
	ok(collect(&c, p, 16, &w, -1, NULL) == 0 && all_good(p, 16), "... then the READs answer");
	lu0_slow(0);
	finish(&c);

	/* one worker: in order, one at a time */
	setenv("TARN_ISCSI_WORKERS", "1", 1);
	start(&c);
	ok(login_op(&c, TGT, "None", NULL) == 0, "TARN_ISCSI_WORKERS=1: login");
	lu0_slow(2000);
	wire_init(&w);
	ok(send_reads(&c, p, 16) == 0 && collect(&c, p, 16, &w, -1, NULL) == 0 && all_good(p, 16) && in_order(&w) &&
		   w.statsn_ok,
	   "... 16 READs at once answer in command order");
	ok(lu0_max_busy() == 1, "... one at a time at the backend");
	lu0_slow(0);
	finish(&c);
	unsetenv("TARN_ISCSI_WORKERS");
}

static void test_abort_inflight(void)
{
	cli_t c;
	pend_t p[NPAR];
	wire_t w;
	uint8_t bhs[48];
	start(&c);
	ok(login_op(&c, TGT, "None", NULL) == 0, "TMF in flight: login");

	/* ABORT TASK of a running READ */
	lu0_slow(300000);
	wire_init(&w);
	uint32_t first = c.cmdsn;
	int r = send_reads(&c, p, 4) == 0 && send_tmf(&c, TMF_ABORT_TASK, p[1].itt, first + 1) == 0
			? collect(&c, p, 4, &w, OP_TMF_RSP, bhs)
			: -1;
	ok(r == 0 && bhs[2] == TMF_RSP_COMPLETE && p[1].status == -1, "ABORT TASK of a running READ: function complete");
	p[1].status = -2;
	ok(collect(&c, p, 4, &w, -1, NULL) == 0 && p[0].status == 0 && p[2].status == 0 && p[3].status == 0 &&
		   !memcmp(pin[0], pdata[0], 4096) && !memcmp(pin[3], pdata[3], 4096),
	   "... the other three READs answer with their data");
	ok(send_ping(&c) == 0 && collect(&c, p, 4, &w, OP_NOP_IN, bhs) == 0 && w.stray == 0,
	   "... and nothing comes for the aborted one (a ping answers first)");
	ok(w.statsn_ok, "... StatSN in order throughout");

	/* ABORT TASK right behind a fast READ: either the READ answered and the task does not exist,
	 * or it did not answer and the abort completed; never both, never neither */
	lu0_slow(0);
	static pend_t q[200];
	int bad = 0, done_first = 0, aborted_first = 0;
	wire_init(&w);
	for (int k = 0; k < 200 && !bad; k++) {
		uint8_t rcdb[16];
		cdb_rw(rcdb, 0x28, (uint64_t)k, 1);
		q[k] = (pend_t){ .itt = c.itt++, .status = -1 };
		uint32_t sn = c.cmdsn;
		if (send_cmd(&c, q[k].itt, rcdb, NULL, 0, 512) || send_tmf(&c, TMF_ABORT_TASK, q[k].itt, sn) ||
		    collect(&c, q + k, 1, &w, OP_TMF_RSP, bhs)) {
			bad++;
		} else if (bhs[2] == TMF_RSP_COMPLETE && q[k].status == -1) {
			aborted_first++;
			q[k].status = -2;
		} else if (bhs[2] == TMF_RSP_NO_TASK && q[k].status == 0) {
			done_first++;
		} else {
			bad++;
		}
	}
	ok(!bad && send_ping(&c) == 0 && collect(&c, q, 200, &w, OP_NOP_IN, bhs) == 0 && w.stray == 0 && w.statsn_ok,
	   "ABORT TASK right behind a READ, 200 times: answered + no such task (%d) or aborted + complete (%d)",
	   done_first, aborted_first);
	lu0_slow(300000);

	/* LUN RESET with READs and WRITEs running */
	wire_init(&w);
	r = send_reads(&c, p, 6) == 0 && send_writes(&c, p + 6, 6, 500) == 0 && send_tmf(&c, TMF_LUN_RESET, 0, 0) == 0
		    ? collect(&c, p, 12, &w, OP_TMF_RSP, bhs)
		    : -1;
	int answered = 0;
	for (int i = 0; i < 12; i++) {
		answered += p[i].status != -1;
		p[i].status = -2;
	}
	ok(r == 0 && bhs[2] == TMF_RSP_COMPLETE, "LUN RESET with 12 commands running: function complete");
	ok(answered < 12, "... %d of them aborted", 12 - answered);
	ok(send_ping(&c) == 0 && collect(&c, p, 12, &w, OP_NOP_IN, bhs) == 0 && w.stray == 0,
	   "... no response for any of them after the TMF response");
	lu0_slow(0);
	uint8_t cdb[16] = { 0 };
	is_int(scsi(&c, 0, cdb, 6, NULL, 0, NULL, 0).status, 0, "... the session goes on");

	/* Logout with WRITEs running: they answer first */
	lu0_slow(100000);
	wire_init(&w);
	uint8_t lo[48] = { OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE, 0x80 };
	ib_put32(lo + 16, c.itt + 100);
	ib_put32(lo + 24, c.cmdsn + 6);
	r = send_writes(&c, p, 6, 700) == 0 && send_pdu(&c, lo, NULL, 0) == 0 ? collect(&c, p, 6, &w, OP_LOGOUT_RSP, bhs) : -1;
	int same = 1;
	for (int i = 0; i < 6; i++)
		same &= !memcmp(lu0->data + (size_t)((i * 97) % 256) * 4096, pdata[i], 4096);
	ok(r == 0 && all_good(p, 6) && bhs[2] == 0, "Logout with 6 WRITEs running: their responses, then the logout's");
	ok(same && w.statsn_ok, "... the data is there, StatSN in order");
	ok(at_eof(&c), "... and the connection ends");
	is_int(finish(&c), 0, "... serve_conn returns 0");

	/* the initiator goes away with commands running */
	start(&c);
	ok(login_op(&c, TGT, "None", NULL) == 0 && send_reads(&c, p, 8) == 0, "8 slow READs, then the initiator closes");
	close(c.fd);
	c.fd = -1;
	finish(&c);
	ok(1, "... serve_conn returns once they ended");
	lu0_slow(0);
	is_u64(lu0->opens, lu0->closes, "... every LU handle closed");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mem = iscsi_mem_new();
	iscsi_mem_target_t *t = iscsi_mem_add_target(mem, TGT), *ct = iscsi_mem_add_target(mem, CHAPT);
	lu0 = iscsi_mem_add_lu(mem, t, 0, 2048, 512, 0, 1);
	lu1 = iscsi_mem_add_lu(mem, t, 1, 128, 512, 1, 0);
	if (!lu0 || !lu1 || !ct || !iscsi_mem_add_lu(mem, ct, 0, 128, 512, 0, 0))
		return 1;
	snprintf(ct->chap_user, sizeof(ct->chap_user), "alice");
	snprintf(ct->chap_secret, sizeof(ct->chap_secret), "alicesecret12");
	snprintf(ct->target_secret, sizeof(ct->target_secret), "targetsecret");
	for (uint32_t i = 0; i < 128 * 512; i++)
		lu1->data[i] = (uint8_t)(i % 251);
	iscsi_backend_t be;
	iscsi_mem_backend(mem, &be);
	srv = iscsi_srv_new(&be);
	if (!srv)
		return 1;
	iscsi_srv_set_log(srv, quiet, NULL);
	test_crc32c();
	test_login();
	test_discovery();
	test_io();
	test_bad_pdus();
	test_chap();
	test_listen();
	test_parallel();
	test_abort_inflight();
	iscsi_srv_free(srv);
	is_u64(lu0->opens, lu0->closes, "every LU handle closed at the end");
	iscsi_mem_free(mem);
	return done_testing();
}
