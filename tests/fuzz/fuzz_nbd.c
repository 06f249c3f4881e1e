/* tests/fuzz/fuzz_nbd.c — libFuzzer target for the NBD server (src/nbd): the input is the client
 * side of one whole connection, fed over a socketpair to nbd_serve_conn running in a thread,
 * against the in-memory backend (nbd/mem.c: "rw", 256 KiB writable, reset before every input;
 * "ro", 64 KiB read-only; extra meta context "fz:ctx"). Built and run by tests/fuzz/run_nbd.sh,
 * not by the Makefile.
 *
 * The first byte of an input is a mode, the rest is what the client sends:
 *   bits 0-1  0: the rest is the whole connection (client flags, options, requests);
 *             1: a canonical handshake is sent first (FIXED_NEWSTYLE|NO_ZEROES, STRUCTURED_REPLY,
 *                SET_META_CONTEXT base:allocation + fz:ctx, GO "rw"): the rest are requests;
 *             2: the same with simple replies (EXPORT_NAME "rw"); 3: structured, GO "ro"
 *   bit 2     every backend I/O call fails with EIO (error paths)
 *   bit 3     FAST_ZERO is never fast (ENOTSUP)
 * The client writes everything, then shuts its writing side down and reads (and drops) the
 * replies until the server closes. A crash, a sanitizer report, a hang or a leak is a finding,
 * and so is a connection that is still counted, or an export handle that is not closed, once
 * nbd_serve_conn has returned. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd/mem.h"
#include "nbd/nbd.h"
#include "nbd/proto.h"

static nbd_mem_t *mem;
static nbd_mem_export_t *rw, *ro;
static nbd_server_t *srv;

static void quiet(void *arg, const char *line)
{
	(void)arg, (void)line;
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	mem = nbd_mem_new();
	rw = nbd_mem_add(mem, "rw", 256 << 10, 0, "fuzz export");
	ro = nbd_mem_add(mem, "ro", 64 << 10, 1, NULL);
	if (!rw || !ro || nbd_mem_set_ctx(mem, "fz:ctx") < 0)
		abort();
	for (uint32_t i = 0; i < ro->size; i++)
		ro->data[i] = (uint8_t)i;
	memset(ro->hole, 0, ro->size / NBD_MEM_BLOCK);
	nbd_backend_t be;
	nbd_mem_backend(mem, &be);
	srv = nbd_server_new(&be);
	if (!srv)
		abort();
	nbd_server_set_log(srv, quiet, NULL);
	nbd_server_set_handshake_timeout(srv, 0);
}

/* ---- the canonical handshake prefixes ---- */
static uint8_t pre[512];

static size_t put_opt(uint8_t *p, uint32_t opt, const void *data, uint32_t len)
{
	be_put64(p, NBD_MAGIC_OPT);
	be_put32(p + 8, opt);
	be_put32(p + 12, len);
	if (len)
		memcpy(p + 16, data, len);
	return 16 + len;
}

static size_t prefix(int kind)
{
	size_t n = 0;
	uint8_t d[128];
	be_put32(pre, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	n = 4;
	if (kind == 2)
		return n + put_opt(pre + n, NBD_OPT_EXPORT_NAME, "rw", 2);
	const char *name = kind == 3 ? "ro" : "rw";
	n += put_opt(pre + n, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	be_put32(d, 2);
	memcpy(d + 4, name, 2);
	be_put32(d + 6, 2);
	be_put32(d + 10, 15);
	memcpy(d + 14, "base:allocation", 15);
	be_put32(d + 29, 6);
	memcpy(d + 33, "fz:ctx", 6);
	n += put_opt(pre + n, NBD_OPT_SET_META_CONTEXT, d, 39);
	be_put32(d, 2);
	memcpy(d + 4, name, 2);
	be_put16(d + 6, 1);
	be_put16(d + 8, NBD_INFO_BLOCK_SIZE);
	n += put_opt(pre + n, NBD_OPT_GO, d, 10);
	return n;
}

/* ---- one connection ---- */
typedef struct sconn {
	int fd, rc;
} sconn_t;

static void *serve(void *arg)
{
	sconn_t *sc = arg;
	sc->rc = nbd_serve_conn(srv, sc->fd);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint8_t sink[65536];
	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	int mode = data[0];
	data++, size--;

	nbd_mem_lock(mem);
	memset(rw->data, 0, rw->size);
	memset(rw->hole, 1, rw->size / NBD_MEM_BLOCK);
	memset(rw->dirty, 0, rw->size / NBD_MEM_BLOCK);
	rw->fail_errno = ro->fail_errno = (mode & 4) ? EIO : 0;
	rw->fast_zero = !(mode & 8);
	nbd_mem_unlock(mem);

	size_t np = (mode & 3) ? prefix(mode & 3) : 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	sconn_t sc = { sv[0], 0 };
	pthread_t t;
	if (pthread_create(&t, NULL, serve, &sc) != 0)
		abort();
	int fd = sv[1];
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t sent = 0, total = np + size;
	int wr_open = 1;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (wr_open ? POLLOUT : 0) };
		int pr = poll(&p, 1, 10000);
		if (pr < 0 && errno == EINTR) /* libFuzzer's SIGALRM */
			continue;
		if (pr <= 0)
			abort(); /* the server neither reads nor writes nor closes: a hang */
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(fd, sink, sizeof(sink));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
		if (wr_open && (p.revents & POLLOUT)) {
			const uint8_t *src = sent < np ? pre + sent : data + (sent - np);
			size_t n = sent < np ? np - sent : total - sent;
			ssize_t w = n ? send(fd, src, n, MSG_NOSIGNAL) : 0;
			if (w > 0)
				sent += (size_t)w;
			if (sent == total || (w < 0 && errno != EAGAIN && errno != EINTR)) {
				shutdown(fd, SHUT_WR);
				wr_open = 0;
			}
		}
	}
	close(fd);
	pthread_join(t, NULL);
	if (nbd_server_conns(srv) != 0 || rw->opens != rw->closes || ro->opens != ro->closes) {
		fprintf(stderr, "fuzz_nbd: a connection or an export handle outlived nbd_serve_conn\n");
		abort();
	}
	return 0;
}
