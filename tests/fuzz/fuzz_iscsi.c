/* tests/fuzz/fuzz_iscsi.c — libFuzzer target for the iSCSI target (src/iscsi): the input is the
 * initiator side of one whole connection, fed over a socketpair to iscsi_serve_conn running in a
 * thread, against the in-memory backend (iscsi/mem.c: target "iqn.f:t" with LUN 0, 256 KiB thin
 * writable, reset before every input, and LUN 1, 64 KiB read-only; target "iqn.f:c" with CHAP
 * secrets). Built and run by tests/fuzz/run_iscsi.sh, not by the Makefile.
 *
 * The first byte of an input is a mode, the rest is what the initiator sends:
 *   bits 0-1  0: the rest is the whole connection (login PDUs included);
 *             1: a canonical login (one operational stage, normal session to "iqn.f:t", no
 *                digests) is sent first: the rest are full feature phase PDUs;
 *             2: the same as a discovery session; 3: the same with the target offering
 *                InitialR2T=Yes, ImmediateData=No, 4 KiB segments and 16 KiB bursts (R2T paths)
 *   bit 2     every backend I/O call fails with EIO (error paths)
 * The initiator writes everything, then shuts its writing side down and reads (and drops) the
 * answers until the target closes. A crash, a sanitizer report, a hang or a leak is a finding,
 * and so is a connection that is still counted, or an LU handle that is not closed, once
 * iscsi_serve_conn has returned. */
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

#include "iscsi/iscsi.h"
#include "iscsi/mem.h"

static iscsi_mem_t *mem;
static iscsi_mem_lu_t *rw, *ro;
static iscsi_target_srv_t *srv;
static iscsi_params_t defaults;

static void quiet(void *arg, const char *line) { (void)arg, (void)line; }

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	mem = iscsi_mem_new();
	iscsi_mem_target_t *t = iscsi_mem_add_target(mem, "iqn.f:t"), *c = iscsi_mem_add_target(mem, "iqn.f:c");
	rw = iscsi_mem_add_lu(mem, t, 0, 512, 512, 0, 1);
	ro = iscsi_mem_add_lu(mem, t, 1, 128, 512, 1, 0);
	if (!rw || !ro || !c || !iscsi_mem_add_lu(mem, c, 0, 16, 512, 0, 0))
		abort();
	snprintf(c->chap_user, sizeof(c->chap_user), "u");
	snprintf(c->chap_secret, sizeof(c->chap_secret), "secretsecret");
	snprintf(c->target_secret, sizeof(c->target_secret), "targetsecret");
	iscsi_backend_t be;
	iscsi_mem_backend(mem, &be);
	srv = iscsi_srv_new(&be);
	if (!srv)
		abort();
	iscsi_srv_set_log(srv, quiet, NULL);
	iscsi_srv_set_login_timeout(srv, 0);
	iscsi_srv_get_params(srv, &defaults);
}

/* ---- the canonical login prefixes ---- */
static uint8_t pre[1024];

static size_t prefix(int discovery)
{
	static const char normal[] = "InitiatorName=iqn.f:i\0TargetName=iqn.f:t\0SessionType=Normal\0HeaderDigest=None\0"
				     "DataDigest=None\0MaxRecvDataSegmentLength=65536\0MaxBurstLength=262144\0"
				     "FirstBurstLength=65536\0ImmediateData=Yes\0InitialR2T=No\0MaxOutstandingR2T=4";
	static const char disc[] = "InitiatorName=iqn.f:i\0SessionType=Discovery\0HeaderDigest=None\0DataDigest=None";
	const char *k = discovery ? disc : normal;
	size_t kl = discovery ? sizeof(disc) : sizeof(normal);
	memset(pre, 0, 48);
	pre[0] = 0x43;             /* Login Request, immediate */
	pre[1] = 0x80 | 1 << 2 | 3; /* T, CSG 1, NSG 3 */
	pre[8] = 0x80, pre[13] = 1; /* ISID */
	pre[5] = (uint8_t)(kl >> 16), pre[6] = (uint8_t)(kl >> 8), pre[7] = (uint8_t)kl;
	memcpy(pre + 48, k, kl);
	size_t n = 48 + kl;
	while (n & 3)
		pre[n++] = 0;
	return n;
}

typedef struct sconn {
	int fd, rc;
} sconn_t;

static void *serve(void *arg)
{
	sconn_t *sc = arg;
	sc->rc = iscsi_serve_conn(srv, sc->fd);
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

	iscsi_mem_lock(mem);
	memset(rw->data, 0, rw->blocks * rw->block_size);
	memset(rw->mapped, 0, rw->blocks);
	rw->fail_errno = ro->fail_errno = (mode & 4) ? EIO : 0;
	iscsi_mem_unlock(mem);
	iscsi_params_t p = defaults;
	if ((mode & 3) == 3) {
		p.initial_r2t = 1, p.immediate_data = 0, p.max_recv_data_segment_length = 4096;
		p.max_burst_length = 16384, p.first_burst_length = 8192;
	}
	iscsi_srv_set_params(srv, &p);

	size_t np = (mode & 3) ? prefix((mode & 3) == 2) : 0;
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
		struct pollfd pf = { .fd = fd, .events = POLLIN | (wr_open ? POLLOUT : 0) };
		int pr = poll(&pf, 1, 10000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			abort(); /* the target neither reads nor writes nor closes: a hang */
		if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(fd, sink, sizeof(sink));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
		if (wr_open && (pf.revents & POLLOUT)) {
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
	if (iscsi_srv_conns(srv) != 0 || rw->opens != rw->closes || ro->opens != ro->closes) {
		fprintf(stderr, "fuzz_iscsi: a connection or an LU handle outlived iscsi_serve_conn\n");
		abort();
	}
	return 0;
}
