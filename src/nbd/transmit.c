/* nbd/transmit.c — the transmission phase (doc/proto.md, "Transmission"). The connection's
 * thread reads requests (and WRITE payloads) and hands them to a few worker threads of the
 * connection, which run them and reply as they finish: replies may come out of order (the
 * handle says which request they answer), as the protocol allows, so a slow request does not
 * hold back the ones behind it and the backend sees the client's queue depth. Each reply is sent
 * whole under the connection's send lock. At most one request with a payload above 1 MiB is in
 * flight (bounded memory); DISC and an export gone wait until every request in flight replied.
 * TARN_NBD_WORKERS (1..32, default 8) sets the workers per connection; 1 runs requests one at a
 * time in the connection's thread, in order.
 *
 * Checks, in order: request magic (else hard disconnect); a WRITE payload over NBD_MAX_PAYLOAD
 * (EINVAL reply, then hard disconnect: it cannot be buffered); export gone (ESHUTDOWN, then a
 * clean end); unknown command; flags not valid for the command or not negotiated; command not
 * advertised; read-only export (EPERM); range beyond the export (EINVAL, ENOSPC for writes);
 * lengths. Errors are structured error chunks with a message once structured replies are
 * negotiated, simple replies otherwise. Structured READs send holes (base:allocation extents
 * with NBD_STATE_ZERO) as OFFSET_HOLE chunks, unless NBD_CMD_FLAG_DF asks for one chunk. */
#include "nbd/conn.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/err.h"

typedef struct req {
	uint16_t flags, type;
	uint64_t handle, off;
	uint32_t len;
} req_t;

static const char *cmd_name(uint16_t type)
{
	static const char *names[] = { "READ", "WRITE", "DISC", "FLUSH", "TRIM", "CACHE", "WRITE_ZEROES",
				       "BLOCK_STATUS" };
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown command";
}

typedef struct tx tx_t;

/* One request being run, with everything its reply needs. */
typedef struct job {
	nbd_conn_t *c;
	tx_t *tx;
	req_t r;
	uint8_t *buf; /* the request's WRITE payload, or its READ / BLOCK_STATUS reply data */
	size_t bufcap;
	int big;      /* payload or reply above NBD_BIG_JOB */
	struct { uint64_t off, len; int zero; } ext[NBD_READ_CHUNKS + 2];
	uint8_t chunk_hdr[NBD_READ_CHUNKS + 2][NBD_CHUNK_HDR + 12];
	struct iovec iov[2 * (NBD_READ_CHUNKS + 2)];
	struct job *next; /* free list / run queue */
} job_t;

#define NBD_BIG_JOB (1u << 20)
#define NBD_MAX_WORKERS 32

/* The transmission state of one connection. */
struct tx {
	nbd_conn_t *c;
	pthread_mutex_t lock;
	pthread_cond_t work;      /* a job was queued, or stop (workers wait on it) */
	pthread_cond_t done;      /* a job finished (the reader waits on it) */
	int done_waiters;         /* readers waiting on done: no wakeup when none */
	pthread_mutex_t send_lock;
	job_t *jobs, *free, *queue, *qtail;
	int njobs, inflight, big_inflight, failed, stop;
	int nthreads;
	pthread_t threads[NBD_MAX_WORKERS];
};

static int job_reserve(job_t *j, size_t n)
{
	if (n <= j->bufcap)
		return 0;
	size_t cap = j->bufcap ? j->bufcap : 65536;
	while (cap < n)
		cap *= 2;
	uint8_t *b = realloc(j->buf, cap);
	if (!b)
		return terr(ENOMEM, "out of memory (payload buffer of %zu bytes)", cap);
	j->buf = b;
	j->bufcap = cap;
	return 0;
}

static int send_iov(job_t *j, struct iovec *iov, int cnt)
{
	pthread_mutex_lock(&j->tx->send_lock);
	int rc = nbd_send_iov(j->c->fd, iov, cnt);
	pthread_mutex_unlock(&j->tx->send_lock);
	return rc;
}

/* ---- replies ---- */

static int reply_simple(job_t *j, uint64_t handle, uint32_t err, const void *data, size_t len)
{
	uint8_t h[NBD_SIMPLE_HDR];
	be_put32(h, NBD_SIMPLE_REPLY_MAGIC);
	be_put32(h + 4, err);
	be_put64(h + 8, handle);
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)data, len } };
	return send_iov(j, iov, 2);
}

static void chunk_hdr(uint8_t *h, uint64_t handle, uint16_t flags, uint16_t type, uint32_t len)
{
	be_put32(h, NBD_STRUCTURED_REPLY_MAGIC);
	be_put16(h + 4, flags);
	be_put16(h + 6, type);
	be_put64(h + 8, handle);
	be_put32(h + 16, len);
}

static int reply_chunk(job_t *j, uint64_t handle, uint16_t flags, uint16_t type, const void *a, size_t alen,
		       const void *b, size_t blen)
{
	uint8_t h[NBD_CHUNK_HDR];
	chunk_hdr(h, handle, flags, type, (uint32_t)(alen + blen));
	struct iovec iov[3] = { { h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen } };
	return send_iov(j, iov, 3);
}

static int reply_ok(job_t *j, const req_t *r)
{
	if (j->c->structured && r->type == NBD_CMD_READ)
		return reply_chunk(j, r->handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, NULL, 0, NULL, 0);
	return reply_simple(j, r->handle, 0, NULL, 0);
}

static __attribute__((format(printf, 4, 5))) int reply_error(job_t *j, const req_t *r, uint32_t err,
							     const char *fmt, ...)
{
	if (!j->c->structured)
		return reply_simple(j, r->handle, err, NULL, 0);
	uint8_t p[6 + 200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)p + 6, sizeof(p) - 6, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(p) - 6)
		n = sizeof(p) - 7;
	be_put32(p, err);
	be_put16(p + 4, (uint16_t)n);
	return reply_chunk(j, r->handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, p, 6 + (size_t)n, NULL, 0);
}

/* Reply to a backend call's result rc (0 / -errno). */
static int reply_rc(job_t *j, const req_t *r, int rc, int fast)
{
	if (rc >= 0)
		return reply_ok(j, r);
	const char *m = terr_code() == -rc ? terr_msg() : strerror(-rc);
	return reply_error(j, r, nbd_errno_to_wire(rc, fast), "%s: %s", cmd_name(r->type), m);
}

/* ---- checks ---- */

/* The error for request r, 0 if it may run; *why says why for the error message. */
static uint32_t check(const nbd_conn_t *c, const req_t *r, const char **why)
{
	static const uint16_t valid[] = {
		[NBD_CMD_READ] = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_DF,
		[NBD_CMD_WRITE] = NBD_CMD_FLAG_FUA,
		[NBD_CMD_FLUSH] = NBD_CMD_FLAG_FUA,
		[NBD_CMD_TRIM] = NBD_CMD_FLAG_FUA,
		[NBD_CMD_CACHE] = NBD_CMD_FLAG_FUA,
		[NBD_CMD_WRITE_ZEROES] = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO,
		[NBD_CMD_BLOCK_STATUS] = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_REQ_ONE,
	};
	uint16_t t = c->tflags;
	uint64_t size = c->info.size;
	int beyond = r->len > size || r->off > size - r->len;

	if (r->type >= sizeof(valid) / sizeof(valid[0]) || r->type == NBD_CMD_DISC)
		return *why = "unknown command", NBD_EINVAL;
	if (r->flags & ~valid[r->type])
		return *why = "command flags not valid for this command", NBD_EINVAL;
	if (((r->flags & NBD_CMD_FLAG_FUA) && !(t & NBD_FLAG_SEND_FUA)) ||
	    ((r->flags & NBD_CMD_FLAG_DF) && !(t & NBD_FLAG_SEND_DF)) ||
	    ((r->flags & NBD_CMD_FLAG_FAST_ZERO) && !(t & NBD_FLAG_SEND_FAST_ZERO)))
		return *why = "command flag not negotiated", NBD_EINVAL;
	switch (r->type) {
	case NBD_CMD_READ:
		if (r->len > NBD_MAX_PAYLOAD)
			return *why = "length above the maximum block size", NBD_EINVAL;
		break;
	case NBD_CMD_WRITE:
	case NBD_CMD_WRITE_ZEROES:
		if (c->info.readonly)
			return *why = "read-only export", NBD_EPERM;
		if (r->type == NBD_CMD_WRITE_ZEROES && !(t & NBD_FLAG_SEND_WRITE_ZEROES))
			return *why = "WRITE_ZEROES is not supported by this export", NBD_EINVAL;
		if (beyond)
			return *why = "beyond the end of the export", NBD_ENOSPC;
		return 0;
	case NBD_CMD_FLUSH:
		if (!(t & NBD_FLAG_SEND_FLUSH))
			return *why = "FLUSH is not supported by this export", NBD_EINVAL;
		return 0;
	case NBD_CMD_TRIM:
		if (c->info.readonly)
			return *why = "read-only export", NBD_EPERM;
		if (!(t & NBD_FLAG_SEND_TRIM))
			return *why = "TRIM is not supported by this export", NBD_EINVAL;
		break;
	case NBD_CMD_CACHE:
		if (!(t & NBD_FLAG_SEND_CACHE))
			return *why = "CACHE is not supported by this export", NBD_EINVAL;
		if (r->len > NBD_MAX_PAYLOAD)
			return *why = "length above the maximum block size", NBD_EINVAL;
		break;
	case NBD_CMD_BLOCK_STATUS:
		if (!c->structured || c->nmeta == 0)
			return *why = "no meta context was negotiated", NBD_EINVAL;
		if (r->len == 0)
			return *why = "zero length", NBD_EINVAL;
		break;
	}
	if (beyond)
		return *why = "beyond the end of the export", NBD_EINVAL;
	return 0;
}

/* ---- READ ---- */

typedef struct read_state {
	job_t *c;
	uint64_t pos, end;
	uint32_t n;
} read_state_t;

/* Append [pos, pos + len) as data or zeros to c->ext, merging with the previous extent. */
static int read_add(read_state_t *st, uint64_t len, int zero)
{
	job_t *c = st->c;
	if (st->n && c->ext[st->n - 1].zero == zero) {
		c->ext[st->n - 1].len += len;
	} else {
		if (st->n >= NBD_READ_CHUNKS + 1)
			return 1;
		c->ext[st->n].off = st->pos;
		c->ext[st->n].len = len;
		c->ext[st->n].zero = zero;
		st->n++;
	}
	st->pos += len;
	return 0;
}

static int read_ext_cb(void *arg, uint64_t len, uint32_t flags)
{
	read_state_t *st = arg;
	if (st->pos >= st->end)
		return 1;
	if (len == 0)
		return 0;
	if (len > st->end - st->pos)
		len = st->end - st->pos;
	/* keep the last slot for the rest of the range, read as data */
	if (st->n >= NBD_READ_CHUNKS && st->c->ext[st->n - 1].zero != !!(flags & NBD_STATE_ZERO))
		return 1;
	read_add(st, len, !!(flags & NBD_STATE_ZERO));
	return st->pos >= st->end;
}

static int do_read(job_t *j, const req_t *r)
{
	nbd_conn_t *c = j->c;
	const nbd_backend_t *be = &c->s->be;
	if (r->len == 0)
		return c->structured ? reply_ok(j, r) : reply_simple(j, r->handle, 0, NULL, 0);
	if (job_reserve(j, r->len) < 0)
		return reply_error(j, r, NBD_ENOMEM, "READ: out of memory");
	if (!c->structured || (r->flags & NBD_CMD_FLAG_DF) || !be->extents) {
		int rc = be->read(c->h, r->off, r->len, j->buf);
		if (rc < 0)
			return reply_rc(j, r, rc, 0);
		if (!c->structured)
			return reply_simple(j, r->handle, 0, j->buf, r->len);
		uint8_t o[8];
		be_put64(o, r->off);
		return reply_chunk(j, r->handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, o, 8, j->buf, r->len);
	}

	/* structured: split along base:allocation (zero extents become holes) */
	read_state_t st = { j, r->off, r->off + r->len, 0 };
	int rc = be->extents(c->h, "base:allocation", r->off, r->len, read_ext_cb, &st);
	if (rc < 0) /* no extents: read it all */
		st.n = 0, st.pos = r->off;
	if (st.pos < st.end)
		read_add(&st, st.end - st.pos, 0);
	for (uint32_t i = 0; i < st.n; i++) {
		if (j->ext[i].zero)
			continue;
		rc = be->read(c->h, j->ext[i].off, (uint32_t)j->ext[i].len, j->buf + (j->ext[i].off - r->off));
		if (rc < 0)
			return reply_rc(j, r, rc, 0);
	}
	int niov = 0;
	for (uint32_t i = 0; i < st.n; i++) {
		uint8_t *h = j->chunk_hdr[i];
		uint16_t fl = i + 1 == st.n ? NBD_REPLY_FLAG_DONE : 0;
		uint32_t elen = (uint32_t)j->ext[i].len;
		if (j->ext[i].zero) {
			chunk_hdr(h, r->handle, fl, NBD_REPLY_TYPE_OFFSET_HOLE, 12);
			be_put64(h + NBD_CHUNK_HDR, j->ext[i].off);
			be_put32(h + NBD_CHUNK_HDR + 8, elen);
			j->iov[niov++] = (struct iovec){ h, NBD_CHUNK_HDR + 12 };
		} else {
			chunk_hdr(h, r->handle, fl, NBD_REPLY_TYPE_OFFSET_DATA, 8 + elen);
			be_put64(h + NBD_CHUNK_HDR, j->ext[i].off);
			j->iov[niov++] = (struct iovec){ h, NBD_CHUNK_HDR + 8 };
			j->iov[niov++] = (struct iovec){ j->buf + (j->ext[i].off - r->off), elen };
		}
	}
	return send_iov(j, j->iov, niov);
}

/* ---- BLOCK_STATUS ---- */

typedef struct bs_state {
	uint8_t *out; /* descriptors: length, flags */
	uint64_t pos, end;
	uint32_t n, mask;
	int one;
} bs_state_t;

static int bs_cb(void *arg, uint64_t len, uint32_t flags)
{
	bs_state_t *st = arg;
	if (st->pos >= st->end || (st->one && st->n))
		return 1;
	if (len == 0)
		return 0;
	if (len > st->end - st->pos)
		len = st->end - st->pos; /* fits 32 bits: the request length does */
	flags &= st->mask;
	if (st->n && be_get32(st->out + 8 * (st->n - 1) + 4) == flags) {
		uint8_t *d = st->out + 8 * (st->n - 1);
		be_put32(d, be_get32(d) + (uint32_t)len);
	} else {
		if (st->n >= NBD_MAX_EXTENTS)
			return 1;
		be_put32(st->out + 8 * st->n, (uint32_t)len);
		be_put32(st->out + 8 * st->n + 4, flags);
		st->n++;
	}
	st->pos += len;
	return st->one || st->pos >= st->end;
}

static int do_block_status(job_t *j, const req_t *r)
{
	nbd_conn_t *c = j->c;
	const nbd_backend_t *be = &c->s->be;
	if (job_reserve(j, 4 + 8 * NBD_MAX_EXTENTS) < 0)
		return reply_error(j, r, NBD_ENOMEM, "BLOCK_STATUS: out of memory");
	for (uint32_t i = 0; i < c->nmeta; i++) {
		bs_state_t st = { j->buf + 4, r->off, r->off + r->len, 0, c->meta[i].base ? 3u : ~0u,
				  !!(r->flags & NBD_CMD_FLAG_REQ_ONE) };
		int rc = 0;
		if (be->extents)
			rc = be->extents(c->h, c->meta[i].base ? "base:allocation" : c->meta[i].name, r->off, r->len,
					 bs_cb, &st);
		if (rc < 0)
			return reply_error(j, r, nbd_errno_to_wire(rc, 0), "BLOCK_STATUS %s: %s", c->meta[i].name,
					   terr_code() == -rc ? terr_msg() : strerror(-rc));
		if (st.n == 0) /* nothing known: status 0 for the whole range */
			st.n = 1, be_put32(j->buf + 4, r->len), be_put32(j->buf + 8, 0);
		be_put32(j->buf, i + 1);
		TRY(reply_chunk(j, r->handle, i + 1 == c->nmeta ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_BLOCK_STATUS,
				j->buf, 4 + 8 * (size_t)st.n, NULL, 0));
	}
	return 0;
}

/* ---- the loop ---- */

static int run(job_t *j)
{
	nbd_conn_t *c = j->c;
	const req_t *r = &j->r;
	const nbd_backend_t *be = &c->s->be;
	const char *why = "";
	uint32_t err = check(c, r, &why);
	if (err)
		return reply_error(j, r, err, "%s: %s", cmd_name(r->type), why);
	int fua = !!(r->flags & NBD_CMD_FLAG_FUA);
	terr_clear();
	switch (r->type) {
	case NBD_CMD_READ:
		return do_read(j, r);
	case NBD_CMD_WRITE:
		return reply_rc(j, r, r->len ? be->write(c->h, r->off, r->len, j->buf, fua) : 0, 0);
	case NBD_CMD_FLUSH:
		return reply_rc(j, r, be->flush(c->h), 0);
	case NBD_CMD_TRIM:
		return reply_rc(j, r, r->len ? be->trim(c->h, r->off, r->len, fua) : 0, 0);
	case NBD_CMD_CACHE:
		return reply_rc(j, r, r->len ? be->cache(c->h, r->off, r->len) : 0, 0);
	case NBD_CMD_WRITE_ZEROES: {
		int fast = !!(r->flags & NBD_CMD_FLAG_FAST_ZERO);
		int may_trim = !(r->flags & NBD_CMD_FLAG_NO_HOLE);
		return reply_rc(j, r, r->len ? be->zero(c->h, r->off, r->len, may_trim, fast, fua) : 0, fast);
	}
	case NBD_CMD_BLOCK_STATUS:
		return do_block_status(j, r);
	}
	return reply_error(j, r, NBD_EINVAL, "unknown command");
}

/* A finished job goes back to the free list; a big buffer is given back. */
static void job_done(tx_t *tx, job_t *j, int rc)
{
	if (j->bufcap > NBD_BIG_JOB) {
		free(j->buf);
		j->buf = NULL;
		j->bufcap = 0;
	}
	pthread_mutex_lock(&tx->lock);
	if (rc < 0 && !tx->failed) {
		tx->failed = rc;
		shutdown(tx->c->fd, SHUT_RD); /* wakes the reader */
	}
	tx->inflight--;
	if (j->big)
		tx->big_inflight--;
	j->next = tx->free;
	tx->free = j;
	if (tx->done_waiters)
		pthread_cond_signal(&tx->done); /* only the reader ever waits on it */
	pthread_mutex_unlock(&tx->lock);
}

static void *worker(void *arg)
{
	tx_t *tx = arg;
	for (;;) {
		pthread_mutex_lock(&tx->lock);
		while (!tx->queue && !tx->stop)
			pthread_cond_wait(&tx->work, &tx->lock);
		job_t *j = tx->queue;
		if (!j) { /* stop, and nothing left to run */
			pthread_mutex_unlock(&tx->lock);
			return NULL;
		}
		tx->queue = j->next;
		if (!tx->queue)
			tx->qtail = NULL;
		pthread_mutex_unlock(&tx->lock);
		job_done(tx, j, run(j));
	}
}

/* Take a free job (waits while all are busy, or while a big one runs and this is big too). */
static job_t *take_job(tx_t *tx, int big)
{
	pthread_mutex_lock(&tx->lock);
	tx->done_waiters++;
	while (!tx->failed && (!tx->free || (big && tx->big_inflight)))
		pthread_cond_wait(&tx->done, &tx->lock);
	tx->done_waiters--;
	job_t *j = tx->failed ? NULL : tx->free;
	if (j) {
		tx->free = j->next;
		tx->inflight++;
		if (big)
			tx->big_inflight++;
		j->big = big;
	}
	pthread_mutex_unlock(&tx->lock);
	return j;
}

static void put_back(tx_t *tx, job_t *j) { job_done(tx, j, 0); }

/* A WRITE of whole preferred blocks (the volume's blocks) needs no read-modify-write: it only
 * copies into memory, cheaper here than handed to a worker (two thread switches). */
static int whole_blocks(const tx_t *tx, const job_t *j)
{
	uint64_t b = tx->c->info.pref_block;
	return j->r.type == NBD_CMD_WRITE && b && j->r.off % b == 0 && j->r.len % b == 0 && j->r.len;
}

static void submit(tx_t *tx, job_t *j)
{
	if (tx->nthreads == 0 || whole_blocks(tx, j)) { /* run it here */
		job_done(tx, j, run(j));
		return;
	}
	pthread_mutex_lock(&tx->lock);
	j->next = NULL;
	if (tx->qtail)
		tx->qtail->next = j;
	else
		tx->queue = j;
	tx->qtail = j;
	pthread_cond_signal(&tx->work);
	pthread_mutex_unlock(&tx->lock);
}

/* Wait until every request in flight but `mine` (jobs the caller holds) has replied; returns
 * the first worker error. */
static int drain(tx_t *tx, int mine)
{
	pthread_mutex_lock(&tx->lock);
	tx->done_waiters++;
	while (tx->inflight > mine)
		pthread_cond_wait(&tx->done, &tx->lock);
	tx->done_waiters--;
	int rc = tx->failed;
	pthread_mutex_unlock(&tx->lock);
	return rc;
}

static int workers_wanted(void)
{
	const char *e = getenv("TARN_NBD_WORKERS");
	long n = e && *e ? strtol(e, NULL, 10) : 8;
	return n < 1 ? 1 : n > NBD_MAX_WORKERS ? NBD_MAX_WORKERS : (int)n;
}

/* Read one request (and its payload) into a job and submit it. 1: the loop ends cleanly (DISC,
 * closed between requests, export gone); 0: go on; -errno: error end. */
static int next_request(tx_t *tx)
{
	nbd_conn_t *c = tx->c;
	const nbd_backend_t *be = &c->s->be;
	uint8_t h[NBD_REQ_HDR];
	int rc = nbd_read_full(c->fd, h, sizeof(h), 1);
	if (rc == 1)
		return 1; /* closed between requests */
	if (rc < 0)
		return rc;
	if (be_get32(h) != NBD_REQUEST_MAGIC)
		return terr(EPROTO, "bad request magic 0x%08x", be_get32(h));
	req_t r = { be_get16(h + 4), be_get16(h + 6), be_get64(h + 8), be_get64(h + 16), be_get32(h + 24) };
	int big = (r.type == NBD_CMD_WRITE || r.type == NBD_CMD_READ) && r.len > NBD_BIG_JOB;
	job_t *j = take_job(tx, big);
	if (!j)
		return tx->failed;
	j->r = r;
	if (r.type == NBD_CMD_WRITE) {
		if (r.len > NBD_MAX_PAYLOAD) {
			reply_error(j, &r, NBD_EINVAL, "WRITE: payload above %u bytes", NBD_MAX_PAYLOAD);
			put_back(tx, j);
			return terr(E2BIG, "WRITE payload of %u bytes (at most %u): disconnecting", r.len,
				    NBD_MAX_PAYLOAD);
		}
		/* the buffer grows with the bytes that really arrive, not with what the header
		 * announces */
		for (uint32_t got = 0, step; got < r.len; got += step) {
			step = r.len - got < (1u << 20) ? r.len - got : (1u << 20);
			if ((rc = job_reserve(j, (size_t)got + step)) < 0 ||
			    (rc = nbd_read_full(c->fd, j->buf + got, step, 0)) < 0) {
				put_back(tx, j);
				return rc;
			}
		}
	}
	if (r.type == NBD_CMD_DISC) {
		put_back(tx, j);
		return 1;
	}
	if (be->gone && be->gone(c->h)) {
		drain(tx, 1); /* the requests before it are answered first */
		reply_error(j, &r, NBD_ESHUTDOWN, "the export has gone away");
		put_back(tx, j);
		nbd_log(c, "the export has gone away: disconnecting");
		return 1;
	}
	submit(tx, j);
	return 0;
}

int nbd_transmit(nbd_conn_t *c)
{
	tx_t *tx = calloc(1, sizeof(*tx));
	int nw = workers_wanted();
	if (!tx || !(tx->jobs = calloc((size_t)nw, sizeof(job_t)))) {
		free(tx);
		return terr(ENOMEM, "out of memory");
	}
	tx->c = c;
	tx->njobs = nw;
	pthread_mutex_init(&tx->lock, NULL);
	pthread_cond_init(&tx->work, NULL);
	pthread_cond_init(&tx->done, NULL);
	pthread_mutex_init(&tx->send_lock, NULL);
	for (int i = nw - 1; i >= 0; i--) {
		tx->jobs[i].c = c;
		tx->jobs[i].tx = tx;
		tx->jobs[i].next = tx->free;
		tx->free = &tx->jobs[i];
	}
	for (int i = 0; nw > 1 && i < nw; i++) {
		if (pthread_create(&tx->threads[i], NULL, worker, tx) != 0)
			break;
		tx->nthreads++;
	}
	int rc;
	do
		rc = next_request(tx);
	while (rc == 0);
	int wrc = drain(tx, 0); /* every request read is answered before the connection ends */
	pthread_mutex_lock(&tx->lock);
	tx->stop = 1;
	pthread_cond_broadcast(&tx->work);
	pthread_mutex_unlock(&tx->lock);
	for (int i = 0; i < tx->nthreads; i++)
		pthread_join(tx->threads[i], NULL);
	for (int i = 0; i < tx->njobs; i++)
		free(tx->jobs[i].buf);
	free(tx->jobs);
	pthread_mutex_destroy(&tx->lock);
	pthread_cond_destroy(&tx->work);
	pthread_cond_destroy(&tx->done);
	pthread_mutex_destroy(&tx->send_lock);
	free(tx);
	if (wrc < 0 && rc >= 0)
		return wrc;
	return rc < 0 ? rc : 0;
}
