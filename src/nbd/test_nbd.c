/* Unit tests for nbd: the server (src/nbd) against the in-memory backend (nbd/mem.c: exports
 * "rw", 1 MiB writable, and "ro", 64 KiB read-only with byte i = i % 251; holes per 4 KiB block;
 * extra meta context "test:ctx" = blocks changed), driven by a client written here over a
 * socketpair (nbd_serve_conn in a thread) or over the listeners (Unix socket, TCP).
 * Every assertion looks at real replies: reply types, error values, data bytes, extents. */
#include "nbd/mem.h"
#include "nbd/nbd.h"
#include "nbd/proto.h"
#include "util/err.h"
#include "util/tap.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RW_SIZE (1u << 20)
#define RO_SIZE (64u << 10)

static nbd_mem_t *mem;
static nbd_mem_export_t *rw, *ro;
static nbd_server_t *srv;

/* ---- log capture ---- */
static pthread_mutex_t loglock = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[16384];
static void capture_log(void *arg, const char *line)
{
	(void)arg;
	pthread_mutex_lock(&loglock);
	size_t n = strlen(logbuf);
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", line);
	pthread_mutex_unlock(&loglock);
}
static int log_has(const char *s)
{
	pthread_mutex_lock(&loglock);
	int r = strstr(logbuf, s) != NULL;
	pthread_mutex_unlock(&loglock);
	return r;
}
static void log_clear(void)
{
	pthread_mutex_lock(&loglock);
	logbuf[0] = 0;
	pthread_mutex_unlock(&loglock);
}

/* ---- a server connection over a socketpair ---- */
typedef struct sconn {
	pthread_t t;
	int sfd, rc;
} sconn_t;

static void *serve_thread(void *arg)
{
	sconn_t *sc = arg;
	sc->rc = nbd_serve_conn(srv, sc->sfd);
	return NULL;
}

static void set_timeout(int fd, int sec)
{
	struct timeval tv = { sec, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Start a connection; returns the client's fd. */
static int start(sconn_t *sc)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	sc->sfd = sv[0];
	set_timeout(sv[1], 10);
	pthread_create(&sc->t, NULL, serve_thread, sc);
	return sv[1];
}

/* Close the client side and wait for the server; returns nbd_serve_conn's result. */
static int finish(sconn_t *sc, int fd)
{
	if (fd >= 0)
		close(fd);
	pthread_join(sc->t, NULL);
	return sc->rc;
}

/* ---- client I/O ---- */
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

/* 1 if the server closed the connection (EOF with nothing more to read). */
static int at_eof(int fd)
{
	uint8_t b[256];
	for (int i = 0; i < 10000; i++) { /* drain whatever replies came first */
		ssize_t r = recv(fd, b, sizeof(b), 0);
		if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return 1;
		if (r < 0)
			return 0; /* timeout: still open */
	}
	return 0;
}

static int greet(int fd, uint32_t cflags)
{
	uint8_t g[18], f[4];
	if (xrecv(fd, g, 18) || be_get64(g) != NBD_MAGIC_INIT || be_get64(g + 8) != NBD_MAGIC_OPT ||
	    be_get16(g + 16) != (NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES))
		return -1;
	be_put32(f, cflags);
	return xsend(fd, f, 4);
}

static int send_opt(int fd, uint32_t opt, const void *data, uint32_t len)
{
	uint8_t h[16];
	be_put64(h, NBD_MAGIC_OPT);
	be_put32(h + 8, opt);
	be_put32(h + 12, len);
	return xsend(fd, h, 16) || (len && xsend(fd, data, len)) ? -1 : 0;
}

typedef struct orep {
	uint32_t opt, type, len;
	uint8_t data[65536];
} orep_t;

static orep_t orep;

/* Read one option reply into orep; -1 on EOF or a bad reply. */
static int get_orep(int fd)
{
	uint8_t h[20];
	if (xrecv(fd, h, 20) || be_get64(h) != NBD_MAGIC_REP)
		return -1;
	orep.opt = be_get32(h + 8);
	orep.type = be_get32(h + 12);
	orep.len = be_get32(h + 16);
	if (orep.len > sizeof(orep.data) || xrecv(fd, orep.data, orep.len))
		return -1;
	return 0;
}

/* Send an option and return the type of its (first) reply, or 0 on failure. */
static uint32_t opt1(int fd, uint32_t opt, const void *data, uint32_t len)
{
	if (send_opt(fd, opt, data, len) || get_orep(fd) || orep.opt != opt)
		return 0;
	return orep.type;
}

/* Build NBD_OPT_INFO/GO data: name, then n info requests. */
static uint32_t info_data(uint8_t *p, const char *name, int n, const uint16_t *req)
{
	uint32_t nl = (uint32_t)strlen(name);
	be_put32(p, nl);
	memcpy(p + 4, name, nl);
	be_put16(p + 4 + nl, (uint16_t)n);
	for (int i = 0; i < n; i++)
		be_put16(p + 6 + nl + 2 * i, req[i]);
	return 6 + nl + 2 * (uint32_t)n;
}

/* Build LIST/SET_META_CONTEXT data: export name and queries. */
static uint32_t meta_data(uint8_t *p, const char *name, int n, const char **q)
{
	uint32_t nl = (uint32_t)strlen(name), pos;
	be_put32(p, nl);
	memcpy(p + 4, name, nl);
	be_put32(p + 4 + nl, (uint32_t)n);
	pos = 8 + nl;
	for (int i = 0; i < n; i++) {
		uint32_t ql = (uint32_t)strlen(q[i]);
		be_put32(p + pos, ql);
		memcpy(p + pos + 4, q[i], ql);
		pos += 4 + ql;
	}
	return pos;
}

static uint64_t ex_size;
static uint16_t ex_flags;

/* GO to export name; reads replies up to the ACK. 0 on success, else the error reply type. */
static uint32_t go(int fd, const char *name)
{
	uint8_t d[256];
	uint32_t n = info_data(d, name, 0, NULL);
	if (send_opt(fd, NBD_OPT_GO, d, n))
		return 1;
	for (;;) {
		if (get_orep(fd))
			return 1;
		if (orep.type == NBD_REP_ACK)
			return 0;
		if (orep.type != NBD_REP_INFO)
			return orep.type;
		if (be_get16(orep.data) == NBD_INFO_EXPORT && orep.len == 12) {
			ex_size = be_get64(orep.data + 2);
			ex_flags = be_get16(orep.data + 10);
		}
	}
}

/* Handshake to transmission: structured replies and meta contexts if asked. -1 on failure. */
static int open_export(int fd, const char *name, int structured, int nmeta, const char **metas)
{
	if (greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
		return -1;
	if (structured && opt1(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0) != NBD_REP_ACK)
		return -1;
	if (nmeta) {
		uint8_t d[1024];
		uint32_t n = meta_data(d, name, nmeta, metas);
		if (send_opt(fd, NBD_OPT_SET_META_CONTEXT, d, n))
			return -1;
		do {
			if (get_orep(fd))
				return -1;
		} while (orep.type == NBD_REP_META_CONTEXT);
		if (orep.type != NBD_REP_ACK)
			return -1;
	}
	return go(fd, name) ? -1 : 0;
}

static int send_req(int fd, uint16_t flags, uint16_t type, uint64_t handle, uint64_t off, uint32_t len,
		    const void *payload)
{
	uint8_t h[28];
	be_put32(h, NBD_REQUEST_MAGIC);
	be_put16(h + 4, flags);
	be_put16(h + 6, type);
	be_put64(h + 8, handle);
	be_put64(h + 16, off);
	be_put32(h + 24, len);
	if (xsend(fd, h, 28))
		return -1;
	return payload && len ? xsend(fd, payload, len) : 0;
}

/* A reply: simple (magic NBD_SIMPLE_REPLY_MAGIC: err, data if a READ succeeded) or one
 * structured chunk (flags, type, payload). */
typedef struct rep {
	uint32_t magic, err, len;
	uint16_t flags, type;
	uint64_t handle;
	uint8_t *data; /* payload: owned by rbuf */
} rep_t;
static uint8_t *rbuf;

static int get_rep(int fd, rep_t *r, uint32_t simple_len)
{
	uint8_t h[20];
	memset(r, 0, sizeof(*r));
	r->data = rbuf;
	if (xrecv(fd, h, 4))
		return -1;
	r->magic = be_get32(h);
	if (r->magic == NBD_SIMPLE_REPLY_MAGIC) {
		if (xrecv(fd, h + 4, 12))
			return -1;
		r->err = be_get32(h + 4);
		r->handle = be_get64(h + 8);
		if (r->err == 0 && simple_len) {
			r->len = simple_len;
			return xrecv(fd, rbuf, simple_len);
		}
		return 0;
	}
	if (r->magic != NBD_STRUCTURED_REPLY_MAGIC || xrecv(fd, h + 4, 16))
		return -1;
	r->flags = be_get16(h + 4);
	r->type = be_get16(h + 6);
	r->handle = be_get64(h + 8);
	r->len = be_get32(h + 16);
	if (r->len > (40u << 20))
		return -1;
	if (r->type & 0x8000)
		r->err = r->len >= 4 ? be_get32(rbuf) : 0;
	if (xrecv(fd, rbuf, r->len))
		return -1;
	if (r->type & 0x8000)
		r->err = be_get32(rbuf);
	return 0;
}

/* The error value of a simple reply to a request without data (~0u on failure). */
static uint32_t simple(int fd, uint16_t flags, uint16_t type, uint64_t off, uint32_t len, const void *payload)
{
	rep_t r;
	if (send_req(fd, flags, type, 0x1234, off, len, payload) || get_rep(fd, &r, 0) ||
	    r.magic != NBD_SIMPLE_REPLY_MAGIC || r.handle != 0x1234)
		return ~0u;
	return r.err;
}

/* The error of a structured error chunk, 0 for NONE/success, ~0u on anything else. */
static uint32_t structured_err(int fd, uint16_t flags, uint16_t type, uint64_t off, uint32_t len, const void *payload)
{
	rep_t r;
	if (send_req(fd, flags, type, 0x77, off, len, payload) || get_rep(fd, &r, 0) || r.handle != 0x77)
		return ~0u;
	if (r.magic == NBD_SIMPLE_REPLY_MAGIC)
		return r.err;
	if (!(r.flags & NBD_REPLY_FLAG_DONE))
		return ~0u;
	if (r.type == NBD_REPLY_TYPE_NONE)
		return 0;
	if (r.type == NBD_REPLY_TYPE_ERROR && r.len >= 6 && be_get16(rbuf + 4) == r.len - 6)
		return r.err;
	return ~0u;
}

/* A structured READ reassembled into out; chunks counted by type. 0 ok, else error value. */
static int nd, nh, nchunks;
static uint32_t sread(int fd, uint16_t flags, uint64_t off, uint32_t len, uint8_t *out)
{
	rep_t r;
	nd = nh = nchunks = 0;
	memset(out, 0xee, len);
	if (send_req(fd, flags, NBD_CMD_READ, 9, off, len, NULL))
		return ~0u;
	uint64_t covered = 0;
	do {
		if (get_rep(fd, &r, 0) || r.magic != NBD_STRUCTURED_REPLY_MAGIC || r.handle != 9)
			return ~0u;
		nchunks++;
		if (r.type == NBD_REPLY_TYPE_OFFSET_DATA) {
			uint64_t o = be_get64(rbuf);
			if (r.len < 9 || o < off || o + r.len - 8 > off + len)
				return ~0u;
			memcpy(out + (o - off), rbuf + 8, r.len - 8);
			covered += r.len - 8;
			nd++;
		} else if (r.type == NBD_REPLY_TYPE_OFFSET_HOLE) {
			uint64_t o = be_get64(rbuf);
			uint32_t hl = be_get32(rbuf + 8);
			if (r.len != 12 || o < off || o + hl > off + len || hl == 0)
				return ~0u;
			memset(out + (o - off), 0, hl);
			covered += hl;
			nh++;
		} else if (r.type == NBD_REPLY_TYPE_ERROR) {
			return r.err;
		} else if (r.type != NBD_REPLY_TYPE_NONE) {
			return ~0u;
		}
	} while (!(r.flags & NBD_REPLY_FLAG_DONE));
	return covered == len ? 0 : ~0u;
}

/* BLOCK_STATUS: extents per context id (up to 2 contexts, 64 extents each). */
static uint32_t bs_n[3], bs_len[3][64], bs_flags[3][64];
static uint32_t block_status(int fd, uint16_t flags, uint64_t off, uint32_t len)
{
	rep_t r;
	memset(bs_n, 0, sizeof(bs_n));
	if (send_req(fd, flags, NBD_CMD_BLOCK_STATUS, 5, off, len, NULL))
		return ~0u;
	do {
		if (get_rep(fd, &r, 0) || r.handle != 5)
			return ~0u;
		if (r.magic == NBD_SIMPLE_REPLY_MAGIC)
			return r.err;
		if (r.type == NBD_REPLY_TYPE_ERROR)
			return r.err;
		if (r.type != NBD_REPLY_TYPE_BLOCK_STATUS || r.len < 12 || (r.len - 4) % 8)
			return ~0u;
		uint32_t id = be_get32(rbuf);
		if (id < 1 || id > 2)
			return ~0u;
		for (uint32_t i = 0; i < (r.len - 4) / 8 && i < 64; i++) {
			bs_len[id][i] = be_get32(rbuf + 4 + 8 * i);
			bs_flags[id][i] = be_get32(rbuf + 8 + 8 * i);
		}
		bs_n[id] = (r.len - 4) / 8;
	} while (!(r.flags & NBD_REPLY_FLAG_DONE));
	return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* ---- the tests ---- */

static void test_handshake(void)
{
	sconn_t sc;
	int fd;
	uint8_t d[70000];

	diag("handshake: client flags");
	fd = start(&sc);
	ok(greet(fd, 0) == 0, "greeting: NBDMAGIC, IHAVEOPT, FIXED_NEWSTYLE|NO_ZEROES");
	ok(at_eof(fd), "a client without FIXED_NEWSTYLE is disconnected");
	ok(finish(&sc, fd) < 0, "... and nbd_serve_conn fails");
	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE | 4);
	ok(at_eof(fd), "unknown client flags: disconnected");
	finish(&sc, fd);
	fd = start(&sc);
	xrecv(fd, d, 18);
	is_int(finish(&sc, fd), 0, "client gone right after the greeting: a clean end");

	diag("handshake: options");
	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	ok(send_opt(fd, NBD_OPT_LIST, NULL, 0) == 0, "OPT_LIST sent");
	int nserv = 0, named_rw = 0, desc_ok = 0;
	while (get_orep(fd) == 0 && orep.type == NBD_REP_SERVER) {
		nserv++;
		uint32_t nl = be_get32(orep.data);
		if (nl == 2 && memcmp(orep.data + 4, "rw", 2) == 0) {
			named_rw = 1;
			desc_ok = orep.len == 6 + strlen("writable test export") &&
				  memcmp(orep.data + 6, "writable test export", orep.len - 6) == 0;
		}
	}
	is_u64(orep.type, NBD_REP_ACK, "OPT_LIST ends with ACK");
	is_int(nserv, 2, "OPT_LIST: two exports");
	ok(named_rw && desc_ok, "OPT_LIST: rw with its description");
	is_u64(opt1(fd, NBD_OPT_LIST, "x", 1), NBD_REP_ERR_INVALID, "OPT_LIST with data: ERR_INVALID");
	is_u64(opt1(fd, 99, "abc", 3), NBD_REP_ERR_UNSUP, "unknown option: ERR_UNSUP");
	ok(orep.len > 0, "error replies carry a message");
	is_u64(opt1(fd, NBD_OPT_STARTTLS, NULL, 0), NBD_REP_ERR_UNSUP, "STARTTLS: ERR_UNSUP");

	uint16_t reqs[] = { NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE, 77 };
	uint32_t n = info_data(d, "rw", 4, reqs);
	send_opt(fd, NBD_OPT_INFO, d, n);
	int got_export = 0, got_name = 0, got_desc = 0, got_bs = 0, ninfo = 0;
	uint16_t tflags = 0;
	while (get_orep(fd) == 0 && orep.type == NBD_REP_INFO) {
		ninfo++;
		switch (be_get16(orep.data)) {
		case NBD_INFO_EXPORT:
			got_export = orep.len == 12 && be_get64(orep.data + 2) == RW_SIZE;
			tflags = be_get16(orep.data + 10);
			break;
		case NBD_INFO_NAME:
			got_name = orep.len == 4 && memcmp(orep.data + 2, "rw", 2) == 0;
			break;
		case NBD_INFO_DESCRIPTION:
			got_desc = orep.len == 2 + strlen("writable test export");
			break;
		case NBD_INFO_BLOCK_SIZE:
			got_bs = orep.len == 14 && be_get32(orep.data + 2) == 1 && be_get32(orep.data + 6) == 4096 &&
				 be_get32(orep.data + 10) == 32u << 20;
			break;
		}
	}
	is_u64(orep.type, NBD_REP_ACK, "OPT_INFO rw: ACK");
	ok(got_export, "INFO_EXPORT: size 1 MiB");
	ok(got_name && got_desc, "INFO_NAME and INFO_DESCRIPTION");
	ok(got_bs, "INFO_BLOCK_SIZE: 1, 4096, 32 MiB");
	is_int(ninfo, 4, "no reply to an unknown info request");
	is_u64(tflags, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
			       NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE |
			       NBD_FLAG_SEND_FAST_ZERO,
	       "transmission flags of rw (no DF without structured replies)");
	n = info_data(d, "nope", 0, NULL);
	is_u64(opt1(fd, NBD_OPT_INFO, d, n), NBD_REP_ERR_UNKNOWN, "OPT_INFO of an unknown export: ERR_UNKNOWN");
	is_u64(opt1(fd, NBD_OPT_INFO, d, 5), NBD_REP_ERR_INVALID, "OPT_INFO shorter than 6 bytes: ERR_INVALID");
	n = info_data(d, "rw", 0, NULL);
	be_put32(d, 1000);
	is_u64(opt1(fd, NBD_OPT_INFO, d, n), NBD_REP_ERR_INVALID, "OPT_INFO name length beyond the data: ERR_INVALID");
	n = info_data(d, "rw", 0, NULL);
	be_put16(d + 6, 3);
	is_u64(opt1(fd, NBD_OPT_INFO, d, n), NBD_REP_ERR_INVALID, "OPT_INFO request count beyond the data: ERR_INVALID");
	n = info_data(d, "rw", 0, NULL);
	is_u64(opt1(fd, NBD_OPT_INFO, d, n + 1), NBD_REP_ERR_INVALID, "OPT_INFO with a trailing byte: ERR_INVALID");
	memcpy(d, "\0\0\0\3r\0w\0\0", 9);
	is_u64(opt1(fd, NBD_OPT_INFO, d, 9), NBD_REP_ERR_INVALID, "export name containing NUL: ERR_INVALID");
	n = info_data(d, "", 0, NULL);
	is_u64(opt1(fd, NBD_OPT_INFO, d, n), NBD_REP_INFO, "empty name: the default export");
	ok(be_get16(orep.data) == NBD_INFO_EXPORT && be_get64(orep.data + 2) == RW_SIZE, "... which is rw");
	get_orep(fd);

	const char *all[] = { "base:allocation", "test:ctx", "nope:x", "base:foo" };
	n = meta_data(d, "rw", 0, NULL);
	is_u64(opt1(fd, NBD_OPT_LIST_META_CONTEXT, d, n), NBD_REP_ERR_INVALID,
	       "LIST_META_CONTEXT before structured replies: ERR_INVALID");
	is_u64(opt1(fd, NBD_OPT_STRUCTURED_REPLY, "x", 1), NBD_REP_ERR_INVALID, "STRUCTURED_REPLY with data: ERR_INVALID");
	is_u64(opt1(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0), NBD_REP_ACK, "STRUCTURED_REPLY: ACK");
	send_opt(fd, NBD_OPT_LIST_META_CONTEXT, d, n);
	int base = 0, tctx = 0, other = 0;
	while (get_orep(fd) == 0 && orep.type == NBD_REP_META_CONTEXT) {
		if (orep.len == 4 + 15 && memcmp(orep.data + 4, "base:allocation", 15) == 0)
			base++;
		else if (orep.len == 4 + 8 && memcmp(orep.data + 4, "test:ctx", 8) == 0)
			tctx++;
		else
			other++;
	}
	ok(orep.type == NBD_REP_ACK && base == 1 && tctx == 1 && other == 0,
	   "LIST_META_CONTEXT, no query: base:allocation and test:ctx");
	const char *q1[] = { "test:", "base:", "zzz:q" };
	n = meta_data(d, "rw", 3, q1);
	send_opt(fd, NBD_OPT_LIST_META_CONTEXT, d, n);
	base = tctx = other = 0;
	while (get_orep(fd) == 0 && orep.type == NBD_REP_META_CONTEXT) {
		if (orep.len == 4 + 15 && memcmp(orep.data + 4, "base:allocation", 15) == 0)
			base++;
		else if (orep.len == 4 + 8 && memcmp(orep.data + 4, "test:ctx", 8) == 0)
			tctx++;
		else
			other++;
	}
	ok(orep.type == NBD_REP_ACK && base == 1 && tctx == 1 && other == 0,
	   "LIST_META_CONTEXT test: base: zzz:q -> test:ctx, base:allocation");
	n = meta_data(d, "rw", 1, q1);
	be_put32(d + 6, 100000);
	is_u64(opt1(fd, NBD_OPT_LIST_META_CONTEXT, d, n), NBD_REP_ERR_INVALID, "query count beyond the data: ERR_INVALID");
	n = meta_data(d, "rw", 1, q1);
	be_put32(d + 10, 200);
	is_u64(opt1(fd, NBD_OPT_LIST_META_CONTEXT, d, n), NBD_REP_ERR_INVALID, "query length beyond the data: ERR_INVALID");
	n = meta_data(d, "rw", 1, q1);
	be_put32(d, 5000);
	is_u64(opt1(fd, NBD_OPT_LIST_META_CONTEXT, d, n), NBD_REP_ERR_INVALID, "name length beyond the data: ERR_INVALID");
	const char *bad[] = { "nocolon" };
	n = meta_data(d, "rw", 1, bad);
	is_u64(opt1(fd, NBD_OPT_LIST_META_CONTEXT, d, n), NBD_REP_ERR_INVALID, "query without a namespace: ERR_INVALID");
	n = meta_data(d, "rw", 1, q1);
	is_u64(opt1(fd, NBD_OPT_LIST_META_CONTEXT, d, n + 3), NBD_REP_ERR_INVALID, "bytes after the last query: ERR_INVALID");
	n = meta_data(d, "nope", 0, NULL);
	send_opt(fd, NBD_OPT_LIST_META_CONTEXT, d, n);
	while (get_orep(fd) == 0 && orep.type == NBD_REP_META_CONTEXT)
		;
	is_u64(orep.type, NBD_REP_ERR_UNKNOWN, "LIST_META_CONTEXT of an unknown export: ERR_UNKNOWN");

	n = meta_data(d, "rw", 4, all);
	send_opt(fd, NBD_OPT_SET_META_CONTEXT, d, n);
	int ids = 0, idsum = 0;
	base = tctx = 0;
	while (get_orep(fd) == 0 && orep.type == NBD_REP_META_CONTEXT) {
		ids++;
		idsum += (int)be_get32(orep.data);
		base += orep.len == 19 && memcmp(orep.data + 4, "base:allocation", 15) == 0;
		tctx += orep.len == 12 && memcmp(orep.data + 4, "test:ctx", 8) == 0;
	}
	ok(orep.type == NBD_REP_ACK && ids == 2 && base == 1 && tctx == 1 && idsum == 3,
	   "SET_META_CONTEXT: base:allocation (id 1), test:ctx (id 2); unknown ones ignored");
	n = info_data(d, "rw", 0, NULL);
	is_u64(opt1(fd, NBD_OPT_GO, d, n), NBD_REP_INFO, "GO rw: INFO");
	ok(be_get16(orep.data) == NBD_INFO_EXPORT && (be_get16(orep.data + 10) & NBD_FLAG_SEND_DF), "... with SEND_DF");
	ok(get_orep(fd) == 0 && orep.type == NBD_REP_ACK, "... then ACK: transmission");
	is_u64(block_status(fd, 0, 0, 4096), 0, "BLOCK_STATUS on the contexts selected before GO");
	ok(bs_n[1] == 1 && bs_n[2] == 1, "... one chunk per context");
	send_req(fd, 0, NBD_CMD_DISC, 0, 0, 0, NULL);
	ok(at_eof(fd), "DISC: the server closes");
	is_int(finish(&sc, fd), 0, "DISC is a clean end");

	diag("handshake: abort, export name, limits");
	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	is_u64(opt1(fd, NBD_OPT_ABORT, NULL, 0), NBD_REP_ACK, "ABORT: ACK");
	ok(at_eof(fd), "... and the connection ends");
	is_int(finish(&sc, fd), 0, "ABORT is a clean end");

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	send_opt(fd, NBD_OPT_EXPORT_NAME, "ro", 2);
	ok(xrecv(fd, d, 134) == 0 && be_get64(d) == RO_SIZE &&
		   be_get16(d + 8) == (NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH |
				       NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE),
	   "EXPORT_NAME ro: size, flags (read-only: no FUA/TRIM/ZERO) and 124 zeroes");
	uint8_t pad[124] = { 0 };
	ok(memcmp(d + 10, pad, 124) == 0, "... the zeroes");
	rep_t r;
	ok(send_req(fd, 0, NBD_CMD_READ, 1, 1000, 16, NULL) == 0 && get_rep(fd, &r, 16) == 0 && r.err == 0 &&
		   rbuf[0] == 1000 % 251 && rbuf[15] == 1015 % 251,
	   "READ after EXPORT_NAME (simple reply, pattern bytes)");
	finish(&sc, fd);

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	send_opt(fd, NBD_OPT_EXPORT_NAME, "rw", 2);
	ok(xrecv(fd, d, 10) == 0 && be_get64(d) == RW_SIZE, "EXPORT_NAME with NO_ZEROES: 10 bytes");
	is_u64(simple(fd, 0, NBD_CMD_FLUSH, 0, 0, NULL), 0, "... and FLUSH right after (no stray zeroes)");
	finish(&sc, fd);

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	send_opt(fd, NBD_OPT_EXPORT_NAME, "nope", 4);
	ok(at_eof(fd), "EXPORT_NAME of an unknown export: disconnected");
	ok(finish(&sc, fd) < 0, "... an error end");

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	memset(d, 'a', sizeof(d));
	send_opt(fd, 99, d, 65537);
	ok(at_eof(fd), "option data above 64 KiB: disconnected");
	ok(finish(&sc, fd) < 0, "... an error end");

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	is_u64(opt1(fd, 99, d, 65536), NBD_REP_ERR_UNSUP, "option data of exactly 64 KiB is read and answered");
	finish(&sc, fd);

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	int answered = 0;
	for (int i = 0; i < 1001; i++) {
		if (send_opt(fd, 99, NULL, 0) || get_orep(fd))
			break;
		answered++;
	}
	is_int(answered, 1000, "1000 options are answered, the 1001st disconnects");
	ok(finish(&sc, fd) < 0, "... an error end");

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	uint8_t oh[16];
	be_put64(oh, NBD_MAGIC_OPT);
	be_put32(oh + 8, NBD_OPT_GO);
	be_put32(oh + 12, 100);
	xsend(fd, oh, 16);
	xsend(fd, d, 50);
	shutdown(fd, SHUT_WR);
	ok(at_eof(fd), "truncated option data: the server closes");
	ok(finish(&sc, fd) < 0, "... an error end, no crash");

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	be_put64(oh, 0x1122334455667788ULL);
	xsend(fd, oh, 16);
	ok(at_eof(fd), "bad option magic: disconnected");
	finish(&sc, fd);
}

static void test_simple(void)
{
	sconn_t sc;
	rep_t r;
	static uint8_t w[65536], b[65536];
	int fd = start(&sc);
	ok(open_export(fd, "rw", 0, 0, NULL) == 0, "GO rw without structured replies");
	is_u64(ex_size, RW_SIZE, "size 1 MiB");

	fill(w, 8192, 1);
	is_u64(simple(fd, 0, NBD_CMD_WRITE, 4096, 8192, w), 0, "WRITE 8 KiB at 4 KiB");
	ok(memcmp(rw->data + 4096, w, 8192) == 0, "... the bytes are in the export");
	ok(rw->hole[1] == 0 && rw->hole[2] == 0 && rw->hole[0] == 1, "... blocks 1-2 allocated, 0 still a hole");
	ok(send_req(fd, 0, NBD_CMD_READ, 2, 4000, 8300, NULL) == 0 && get_rep(fd, &r, 8300) == 0 && r.err == 0 &&
		   r.handle == 2,
	   "READ unaligned 8300 bytes at 4000");
	memset(b, 0, 96);
	memcpy(b + 96, w, 8192);
	ok(memcmp(rbuf, b, 8288) == 0 && rbuf[8288] == 0, "... data matches (zeroes, written bytes, zeroes)");
	unsigned long fua = rw->fua;
	is_u64(simple(fd, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 100, 10, w), 0, "WRITE with FUA");
	is_u64(rw->fua, fua + 1, "... the backend saw fua");
	unsigned long fl = rw->flushes;
	is_u64(simple(fd, 0, NBD_CMD_FLUSH, 0, 0, NULL), 0, "FLUSH");
	is_u64(rw->flushes, fl + 1, "... the backend flushed");

	is_u64(simple(fd, 0, NBD_CMD_READ, RW_SIZE - 10, 11, NULL), NBD_EINVAL, "READ beyond the end: EINVAL");
	is_u64(simple(fd, 0, NBD_CMD_WRITE, RW_SIZE - 10, 11, w), NBD_ENOSPC, "WRITE beyond the end: ENOSPC");
	is_u64(simple(fd, 0, NBD_CMD_READ, ~0ULL - 10, 100, NULL), NBD_EINVAL, "READ with offset+length overflowing: EINVAL");
	is_u64(simple(fd, 0, NBD_CMD_TRIM, RW_SIZE, 1, NULL), NBD_EINVAL, "TRIM beyond the end: EINVAL");
	is_u64(simple(fd, 0, NBD_CMD_WRITE_ZEROES, RW_SIZE, 1, NULL), NBD_ENOSPC, "WRITE_ZEROES beyond the end: ENOSPC");
	is_u64(simple(fd, 0, NBD_CMD_CACHE, RW_SIZE - 1, 2, NULL), NBD_EINVAL, "CACHE beyond the end: EINVAL");
	is_u64(simple(fd, 0, NBD_CMD_READ, 0, (32u << 20) + 1, NULL), NBD_EINVAL, "READ above 32 MiB: EINVAL");
	is_u64(simple(fd, 0, NBD_CMD_READ, RW_SIZE, 0, NULL), 0, "READ of 0 bytes at the end: ok, no data");
	is_u64(simple(fd, 0, NBD_CMD_WRITE, 0, 0, NULL), 0, "WRITE of 0 bytes: ok");
	is_u64(simple(fd, 0, 42, 0, 0, NULL), NBD_EINVAL, "unknown command: EINVAL");
	is_u64(simple(fd, 1u << 7, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL, "unknown command flag: EINVAL");
	is_u64(simple(fd, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL, "REQ_ONE on READ: EINVAL");
	is_u64(simple(fd, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE, 0, 1, w), NBD_EINVAL, "NO_HOLE on WRITE: EINVAL");
	is_u64(simple(fd, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL, "DF without structured replies: EINVAL");
	is_u64(simple(fd, 0, NBD_CMD_BLOCK_STATUS, 0, 4096, NULL), NBD_EINVAL, "BLOCK_STATUS without structured replies: EINVAL");
	is_u64(simple(fd, 0, NBD_CMD_READ, 4096, 4, NULL), 0, "the connection still works after the errors");
	xrecv(fd, b, 4);

	/* TRIM, WRITE_ZEROES, FAST_ZERO, CACHE */
	fill(w, 65536, 3);
	simple(fd, 0, NBD_CMD_WRITE, 65536, 65536, w);
	is_u64(simple(fd, 0, NBD_CMD_TRIM, 65536 + 4096, 8192, NULL), 0, "TRIM 2 blocks");
	ok(rw->hole[17] && rw->hole[18] && !rw->hole[16] && !rw->hole[19], "... they are holes now");
	is_u64(simple(fd, NBD_CMD_FLAG_FUA, NBD_CMD_TRIM, 65536 + 100, 200, NULL), 0, "TRIM of a partial block with FUA: ok");
	is_u64(simple(fd, 0, NBD_CMD_WRITE_ZEROES, 65536 + 16384, 8192, NULL), 0, "WRITE_ZEROES 2 blocks");
	ok(rw->hole[20] && rw->hole[21], "... became holes");
	is_u64(simple(fd, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 65536 + 32768, 8192, NULL), 0, "WRITE_ZEROES NO_HOLE");
	ok(!rw->hole[24] && !rw->hole[25] && rw->data[65536 + 32768] == 0 && rw->data[65536 + 40959] == 0,
	   "... allocated zeroes");
	is_u64(simple(fd, NBD_CMD_FLAG_FAST_ZERO | NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 65536 + 49152, 4096, NULL),
	       NBD_ENOTSUP, "FAST_ZERO the backend cannot do fast: ENOTSUP");
	ok(rw->data[65536 + 49152] == w[49152], "... and nothing changed");
	is_u64(simple(fd, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 65536 + 49152, 4096, NULL), 0, "FAST_ZERO: ok");
	ok(rw->hole[28], "... a hole");
	unsigned long ca = rw->caches;
	is_u64(simple(fd, 0, NBD_CMD_CACHE, 0, 65536, NULL), 0, "CACHE");
	is_u64(rw->caches, ca + 1, "... reached the backend");
	ok(send_req(fd, 0, NBD_CMD_READ, 3, 65536, 65536, NULL) == 0 && get_rep(fd, &r, 65536) == 0 && r.err == 0,
	   "READ 64 KiB back");
	memcpy(b, w, 65536);
	memset(b + 4096, 0, 8192);
	memset(b + 16384, 0, 8192);
	memset(b + 32768, 0, 8192);
	memset(b + 49152, 0, 4096);
	ok(memcmp(rbuf, b, 65536) == 0, "... holes and zeroes where they should be, data elsewhere");

	/* backend errors */
	rw->fail_errno = EIO;
	is_u64(simple(fd, 0, NBD_CMD_READ, 0, 512, NULL), NBD_EIO, "backend EIO on READ: EIO, no payload");
	rw->fail_errno = ENOSPC;
	is_u64(simple(fd, 0, NBD_CMD_WRITE, 0, 512, w), NBD_ENOSPC, "backend ENOSPC on WRITE: ENOSPC");
	rw->fail_errno = EROFS;
	is_u64(simple(fd, 0, NBD_CMD_TRIM, 0, 4096, NULL), NBD_EPERM, "backend EROFS: EPERM");
	rw->fail_errno = ENOMEM;
	is_u64(simple(fd, 0, NBD_CMD_FLUSH, 0, 0, NULL), NBD_ENOMEM, "backend ENOMEM: ENOMEM");
	rw->fail_errno = EOVERFLOW;
	is_u64(simple(fd, 0, NBD_CMD_CACHE, 0, 1, NULL), NBD_EOVERFLOW, "backend EOVERFLOW: EOVERFLOW");
	rw->fail_errno = ESHUTDOWN;
	is_u64(simple(fd, 0, NBD_CMD_FLUSH, 0, 0, NULL), NBD_ESHUTDOWN, "backend ESHUTDOWN: ESHUTDOWN");
	rw->fail_errno = EINVAL;
	is_u64(simple(fd, 0, NBD_CMD_FLUSH, 0, 0, NULL), NBD_EINVAL, "backend EINVAL: EINVAL");
	rw->fail_errno = ENOTSUP;
	is_u64(simple(fd, 0, NBD_CMD_WRITE_ZEROES, 0, 1, NULL), NBD_EINVAL, "backend ENOTSUP without FAST_ZERO: EINVAL");
	rw->fail_errno = EBADF;
	is_u64(simple(fd, 0, NBD_CMD_FLUSH, 0, 0, NULL), NBD_EIO, "other backend errors: EIO");
	rw->fail_errno = 0;

	/* pipelined requests: all sent first; they may be answered in any order, each reply names
	 * its request's handle */
	fill(w, 3000, 9);
	fill(b, 3000, 10);
	is_u64(simple(fd, 0, NBD_CMD_WRITE, 200000, 3000, w), 0, "write for the pipelined reads");
	is_u64(simple(fd, 0, NBD_CMD_WRITE, 300000, 3000, b), 0, "... and a second range");
	send_req(fd, 0, NBD_CMD_READ, 101, 200000, 3000, NULL);
	send_req(fd, 0, NBD_CMD_FLUSH, 102, 0, 0, NULL);
	send_req(fd, 0, NBD_CMD_READ, 103, 300000, 3000, NULL);
	int seen = 0, good = 1;
	for (int k = 0; k < 3 && good; k++) {
		uint8_t h[16], d[3000];
		good = xrecv(fd, h, 16) == 0 && be_get32(h) == NBD_SIMPLE_REPLY_MAGIC && be_get32(h + 4) == 0;
		uint64_t hd = good ? be_get64(h + 8) : 0;
		if (good && (hd == 101 || hd == 103))
			good = xrecv(fd, d, 3000) == 0 && memcmp(d, hd == 101 ? w : b, 3000) == 0;
		else if (good)
			good = hd == 102;
		seen |= good ? 1 << (hd - 101) : 0;
	}
	ok(good && seen == 7, "pipelined READ, FLUSH, READ: three replies, each with its handle and data");

	/* a WRITE above 32 MiB: EINVAL then disconnect */
	send_req(fd, 0, NBD_CMD_WRITE, 7, 0, (32u << 20) + 1, NULL);
	ok(get_rep(fd, &r, 0) == 0 && r.err == NBD_EINVAL && r.handle == 7, "WRITE payload above 32 MiB: EINVAL");
	ok(at_eof(fd), "... and disconnected");
	ok(finish(&sc, fd) < 0, "... an error end");

	fd = start(&sc);
	open_export(fd, "rw", 0, 0, NULL);
	send_req(fd, 0, NBD_CMD_FLUSH, 1, 0, 0, NULL);
	get_rep(fd, &r, 0);
	uint8_t bad[28] = { 0x11, 0x22 };
	xsend(fd, bad, 28);
	ok(at_eof(fd), "bad request magic: disconnected");
	ok(finish(&sc, fd) < 0 && log_has("bad request magic"), "... an error end, logged");
}

static void test_readonly(void)
{
	sconn_t sc;
	rep_t r;
	uint8_t w[4096] = { 1 };
	int fd = start(&sc);
	ok(open_export(fd, "ro", 1, 0, NULL) == 0, "GO ro with structured replies");
	ok((ex_flags & NBD_FLAG_READ_ONLY) && !(ex_flags & (NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
							    NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO)),
	   "READ_ONLY, no FUA/TRIM/WRITE_ZEROES/FAST_ZERO");
	is_u64(structured_err(fd, 0, NBD_CMD_WRITE, 0, 4096, w), NBD_EPERM, "WRITE to a read-only export: EPERM");
	is_u64(structured_err(fd, 0, NBD_CMD_TRIM, 0, 4096, NULL), NBD_EPERM, "TRIM: EPERM");
	is_u64(structured_err(fd, 0, NBD_CMD_WRITE_ZEROES, 0, 4096, NULL), NBD_EPERM, "WRITE_ZEROES: EPERM");
	is_u64(structured_err(fd, NBD_CMD_FLAG_FUA, NBD_CMD_READ, 0, 1, NULL), NBD_EINVAL,
	       "FUA where SEND_FUA was not advertised: EINVAL");
	ok(ro->data[0] == 0 && ro->data[1] == 1, "the export is unchanged");
	ok(send_req(fd, 0, NBD_CMD_READ, 4, 500, 1000, NULL) == 0 && get_rep(fd, &r, 0) == 0 &&
		   r.type == NBD_REPLY_TYPE_OFFSET_DATA && (r.flags & NBD_REPLY_FLAG_DONE) && r.len == 1008 &&
		   be_get64(rbuf) == 500 && rbuf[8] == 500 % 251 && rbuf[1007] == 1499 % 251,
	   "structured READ of allocated data: one OFFSET_DATA chunk, DONE, right bytes");
	is_u64(structured_err(fd, 0, NBD_CMD_READ, RO_SIZE, 0, NULL), 0, "READ of 0 bytes: a NONE chunk");
	send_req(fd, 0, NBD_CMD_DISC, 0, 0, 0, NULL);
	is_int(finish(&sc, fd), 0, "DISC: clean end");
}

static void test_structured(void)
{
	sconn_t sc;
	static uint8_t w[65536], b[1 << 20];
	const char *ctx[] = { "base:allocation", "test:ctx" };

	/* a fresh layout: 0-64K hole, 64K-72K data, 72K-128K hole, 128K-132K zero data (allocated) */
	nbd_mem_lock(mem);
	memset(rw->data, 0, RW_SIZE);
	memset(rw->hole, 1, RW_SIZE / 4096);
	memset(rw->dirty, 0, RW_SIZE / 4096);
	nbd_mem_unlock(mem);

	int fd = start(&sc);
	ok(open_export(fd, "rw", 1, 2, ctx) == 0, "GO rw with structured replies and both contexts");
	ok(ex_flags & NBD_FLAG_SEND_DF, "SEND_DF advertised");
	fill(w, 8192, 5);
	is_u64(structured_err(fd, 0, NBD_CMD_WRITE, 65536, 8192, w), 0, "WRITE 8 KiB at 64 KiB (a simple reply)");
	is_u64(structured_err(fd, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 131072, 4096, NULL), 0,
	       "WRITE_ZEROES NO_HOLE at 128 KiB");

	is_u64(sread(fd, 0, 61440, 16384, b), 0, "structured READ [60K, 76K)");
	memset(w + 8192, 0, 4096);
	ok(b[0] == 0 && b[4095] == 0 && memcmp(b + 4096, w, 8192) == 0 && b[12288] == 0 && b[16383] == 0,
	   "... reassembled: zeroes, data, zeroes");
	ok(nd == 1 && nh == 2 && nchunks == 3, "... as HOLE, DATA, HOLE chunks");
	is_u64(sread(fd, NBD_CMD_FLAG_DF, 61440, 16384, b), 0, "READ with DF");
	ok(nd == 1 && nh == 0 && nchunks == 1 && memcmp(b + 4096, w, 8192) == 0, "... one OFFSET_DATA chunk with the zeroes in it");
	is_u64(sread(fd, 0, 0, 32768, b), 0, "READ of a hole");
	ok(nh == 1 && nd == 0 && b[0] == 0 && b[32767] == 0, "... one OFFSET_HOLE chunk");
	is_u64(sread(fd, 0, 65536 + 100, 50, b), 0, "READ inside one data block");
	ok(nd == 1 && nh == 0 && memcmp(b, w + 100, 50) == 0, "... one OFFSET_DATA chunk");
	/* many alternating extents: more than NBD_READ_CHUNKS, the rest is read as data */
	for (int i = 0; i < 150; i++)
		if (i % 2)
			structured_err(fd, 0, NBD_CMD_WRITE, 262144 + 4096 * (uint64_t)i, 1, "x");
	is_u64(sread(fd, 0, 262144, 150 * 4096, b), 0, "READ over 150 alternating hole/data blocks");
	int alt_ok = nchunks >= 60 && nchunks <= 66;
	for (int i = 0; i < 150; i++)
		alt_ok = alt_ok && b[4096 * i] == (i % 2 ? 'x' : 0) && b[4096 * i + 1] == 0;
	ok(alt_ok, "... correct bytes, at most 65 chunks (%d)", nchunks);

	is_u64(block_status(fd, 0, 0, 135168), 0, "BLOCK_STATUS [0, 132K)");
	ok(bs_n[1] == 4 && bs_len[1][0] == 65536 && bs_flags[1][0] == 3 && bs_len[1][1] == 8192 && bs_flags[1][1] == 0 &&
		   bs_len[1][2] == 57344 && bs_flags[1][2] == 3 && bs_len[1][3] == 4096 && bs_flags[1][3] == 0,
	   "base:allocation: hole+zero 64K, data 8K, hole+zero 56K, data 4K");
	ok(bs_n[2] == 4 && bs_flags[2][0] == 0 && bs_flags[2][1] == 1 && bs_len[2][1] == 8192 && bs_flags[2][3] == 1,
	   "test:ctx: the changed blocks");
	is_u64(block_status(fd, NBD_CMD_FLAG_REQ_ONE, 4096, 100000), 0, "BLOCK_STATUS with REQ_ONE");
	ok(bs_n[1] == 1 && bs_n[2] == 1 && bs_len[1][0] == 61440 && bs_len[2][0] == 61440, "... one extent per context");
	is_u64(block_status(fd, 0, 65536 + 10, 20), 0, "BLOCK_STATUS of 20 bytes inside a block");
	ok(bs_n[1] == 1 && bs_len[1][0] == 20, "... one extent of 20 bytes");
	is_u64(block_status(fd, 0, 0, 0), NBD_EINVAL, "BLOCK_STATUS of 0 bytes: EINVAL");
	is_u64(block_status(fd, 0, RW_SIZE - 4096, 8192), NBD_EINVAL, "BLOCK_STATUS beyond the end: EINVAL");
	is_u64(block_status(fd, NBD_CMD_FLAG_DF, 0, 4096), NBD_EINVAL, "BLOCK_STATUS with DF: EINVAL");

	is_u64(structured_err(fd, 0, NBD_CMD_READ, RW_SIZE, 1, NULL), NBD_EINVAL, "structured READ beyond the end: error chunk EINVAL");
	rw->fail_errno = EIO;
	is_u64(structured_err(fd, 0, NBD_CMD_READ, 0, 4096, NULL), NBD_EIO, "backend EIO on READ: error chunk EIO");
	ok(rbuf[6] != 0 && memmem(rbuf + 6, be_get16(rbuf + 4), "injected failure", 16) != NULL,
	   "... with the backend's message");
	is_u64(structured_err(fd, 0, NBD_CMD_WRITE, 0, 4, "abcd"), NBD_EIO, "backend EIO on WRITE: error chunk EIO");
	is_u64(block_status(fd, 0, 0, 4096), NBD_EIO, "backend EIO on BLOCK_STATUS: error chunk EIO");
	rw->fail_errno = 0;
	is_u64(structured_err(fd, 0, 42, 0, 0, NULL), NBD_EINVAL, "unknown command: error chunk EINVAL");

	/* the export goes away */
	log_clear();
	rw->gone = 1;
	rep_t r;
	send_req(fd, 0, NBD_CMD_READ, 8, 0, 512, NULL);
	ok(get_rep(fd, &r, 0) == 0 && r.type == NBD_REPLY_TYPE_ERROR && r.err == NBD_ESHUTDOWN && r.handle == 8,
	   "export gone: the next request gets ESHUTDOWN");
	ok(at_eof(fd), "... and the server disconnects");
	is_int(finish(&sc, fd), 0, "... a clean end");
	ok(log_has("gone away"), "... logged");
	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	ok(go(fd, "rw") == NBD_REP_ERR_UNKNOWN, "a gone export cannot be opened");
	finish(&sc, fd);
	rw->gone = 0;

	/* contexts chosen for another export do not carry over */
	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	opt1(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	uint8_t d[256];
	uint32_t n = meta_data(d, "ro", 1, ctx);
	send_opt(fd, NBD_OPT_SET_META_CONTEXT, d, n);
	while (get_orep(fd) == 0 && orep.type == NBD_REP_META_CONTEXT)
		;
	ok(orep.type == NBD_REP_ACK && go(fd, "rw") == 0, "SET_META_CONTEXT for ro, then GO rw");
	is_u64(block_status(fd, 0, 0, 4096), NBD_EINVAL, "BLOCK_STATUS: EINVAL (contexts were for ro)");
	finish(&sc, fd);

	/* SET_META_CONTEXT replaces, and an empty query list selects nothing */
	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	opt1(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	n = meta_data(d, "rw", 2, ctx);
	send_opt(fd, NBD_OPT_SET_META_CONTEXT, d, n);
	while (get_orep(fd) == 0 && orep.type == NBD_REP_META_CONTEXT)
		;
	n = meta_data(d, "rw", 0, NULL);
	is_u64(opt1(fd, NBD_OPT_SET_META_CONTEXT, d, n), NBD_REP_ACK, "SET_META_CONTEXT with no queries: just ACK");
	go(fd, "rw");
	is_u64(block_status(fd, 0, 0, 4096), NBD_EINVAL, "BLOCK_STATUS after selecting nothing: EINVAL");
	finish(&sc, fd);
}

static void test_disconnects(void)
{
	sconn_t sc;
	uint8_t w[100] = { 0 };
	unsigned long opens = rw->opens, closes = rw->closes;
	int fd = start(&sc);
	open_export(fd, "rw", 0, 0, NULL);
	send_req(fd, 0, NBD_CMD_WRITE, 1, 0, 4096, NULL);
	xsend(fd, w, 100);
	ok(finish(&sc, fd) < 0, "client gone in the middle of a WRITE payload: an error end");
	ok(rw->opens == opens + 1 && rw->closes == closes + 1, "... the export handle was closed");

	fd = start(&sc);
	open_export(fd, "rw", 1, 0, NULL);
	xsend(fd, "\x25\x60\x95", 3);
	ok(finish(&sc, fd) < 0, "client gone in the middle of a request header: an error end");
	fd = start(&sc);
	open_export(fd, "rw", 1, 0, NULL);
	send_req(fd, 0, NBD_CMD_READ, 1, 0, 1 << 20, NULL);
	ok(finish(&sc, fd) <= 0, "client gone before reading a 1 MiB READ reply: no crash");
	ok(rw->opens == rw->closes, "every open has its close");

	fd = start(&sc);
	greet(fd, NBD_FLAG_C_FIXED_NEWSTYLE);
	send_opt(fd, NBD_OPT_LIST, NULL, 0);
	ok(finish(&sc, fd) <= 0, "client gone before reading the export list: no crash");

	/* a client that never finishes the handshake */
	nbd_server_set_handshake_timeout(srv, 1);
	time_t t0 = time(NULL);
	fd = start(&sc);
	uint8_t g[18];
	xrecv(fd, g, 18);
	pthread_join(sc.t, NULL);
	ok(sc.rc == -EAGAIN && time(NULL) - t0 <= 5, "a silent client is dropped after the handshake timeout");
	close(fd);
	nbd_server_set_handshake_timeout(srv, 60);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	set_timeout(fd, 10);
	return fd;
}

static int wait_conns(nbd_server_t *s, int n)
{
	for (int i = 0; i < 500; i++) { /* 5 s at most */
		if (nbd_server_conns(s) == n)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void test_listen(void)
{
	char dir[] = "/tmp/tarn-nbd-test.XXXXXX", path[128];
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/sock", dir);
	nbd_backend_t be;
	nbd_mem_backend(mem, &be);
	nbd_server_t *s = nbd_server_new(&be);
	nbd_server_set_log(s, capture_log, NULL);
	is_int(nbd_server_listen(s, path), 0, "listen on a Unix socket");
	int port = nbd_server_listen(s, "127.0.0.1:0");
	ok(port > 0, "listen on 127.0.0.1:0 gives a port (%d)", port);
	ok(nbd_server_listen(s, "127.0.0.1") < 0, "an address without a port is refused");
	ok(nbd_server_listen(s, "[::1") < 0, "a bad IPv6 literal is refused");
	ok(nbd_server_listen(s, path) < 0, "a live Unix socket is not replaced");

	int a = connect_unix(path);
	ok(a >= 0 && open_export(a, "rw", 1, 0, NULL) == 0, "a client over the Unix socket reaches transmission");
	int t = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	set_timeout(t, 10);
	ok(connect(t, (struct sockaddr *)&sin, sizeof(sin)) == 0 && open_export(t, "ro", 0, 0, NULL) == 0,
	   "a client over TCP reaches transmission");
	ok(wait_conns(s, 2), "two connections");
	nbd_server_kick(s, "rw");
	ok(at_eof(a), "kick rw: its client is disconnected");
	ok(wait_conns(s, 1), "... one connection left");
	is_u64(simple(t, 0, NBD_CMD_FLUSH, 0, 0, NULL), 0, "... the ro client still works");
	close(a);

	nbd_server_set_max_conns(s, 1);
	int c2 = connect_unix(path);
	ok(c2 >= 0 && at_eof(c2), "beyond max connections: accepted and closed");
	ok(log_has("too many connections"), "... logged");
	close(c2);
	nbd_server_set_max_conns(s, 256);
	int c3 = connect_unix(path);
	uint8_t g[18];
	ok(c3 >= 0 && xrecv(c3, g, 18) == 0, "a client in the handshake");
	nbd_server_free(s);
	ok(at_eof(t) && at_eof(c3), "nbd_server_free disconnects every client");
	ok(access(path, F_OK) != 0, "... and removes the socket file");
	close(t);
	close(c3);
	rmdir(dir);
	ok(rw->opens == rw->closes && ro->opens == ro->closes, "every export handle closed");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the test's own client writes after disconnects */
	rbuf = malloc(40u << 20);
	mem = nbd_mem_new();
	rw = nbd_mem_add(mem, "rw", RW_SIZE, 0, "writable test export");
	ro = nbd_mem_add(mem, "ro", RO_SIZE, 1, NULL);
	nbd_mem_set_ctx(mem, "test:ctx");
	for (uint32_t i = 0; i < RO_SIZE; i++)
		ro->data[i] = (uint8_t)(i % 251);
	memset(ro->hole, 0, RO_SIZE / 4096);
	nbd_backend_t be;
	nbd_mem_backend(mem, &be);
	srv = nbd_server_new(&be);
	nbd_server_set_log(srv, capture_log, NULL);
	ok(nbd_server_new(&(nbd_backend_t){ 0 }) == NULL, "a backend without open/close/read is refused");

	test_handshake();
	test_simple();
	test_readonly();
	test_structured();
	test_disconnects();
	is_int(nbd_server_conns(srv), 0, "no connection left");
	nbd_server_free(srv);
	test_listen();
	nbd_mem_free(mem);
	free(rbuf);
	return done_testing();
}
