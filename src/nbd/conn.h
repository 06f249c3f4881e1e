/* nbd/conn.h — internals shared by the nbd server files: the server and connection structures,
 * socket I/O helpers (io.c), the handshake (handshake.c) and the request loop (transmit.c).
 * Not part of the public interface (nbd.h). */
#ifndef TARN_NBD_CONN_H
#define TARN_NBD_CONN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nbd/nbd.h"
#include "nbd/proto.h"
#include "util/sock.h"
#include "util/sock_srv.h"

struct nbd_server {
	nbd_backend_t be;
	void (*log)(void *arg, const char *line);
	void *logarg;
	sock_srv_t net;           /* listeners, connection threads, running connections; net.lock
				   * also guards next_id, handshake_timeout, conns' export_name */
	uint64_t next_id;
	int handshake_timeout;    /* seconds; 0 = none */
};

/* One selected meta context: its id in BLOCK_STATUS replies is index + 1. */
typedef struct nbd_meta {
	char *name;
	int base; /* base:allocation (answered with ctx "base:allocation") */
} nbd_meta_t;

typedef struct nbd_conn {
	nbd_server_t *s;
	int fd;
	uint64_t id;
	sock_conn_t link;         /* in s->net.conns */
	char *export_name;        /* set (under s->net.lock) once in transmission: nbd_server_kick */
	int kicked;

	/* negotiated */
	int no_zeroes, structured;
	char *meta_export;        /* export the selected contexts were chosen for */
	nbd_meta_t meta[NBD_MAX_META];
	uint32_t nmeta;

	/* the export in transmission */
	void *h;
	nbd_export_info_t info;
	uint16_t tflags;

	/* the one payload buffer (option data, READ/WRITE payloads, extents), grown on demand up
	 * to NBD_MAX_PAYLOAD + a little; never shrunk */
	uint8_t *buf;
	size_t bufcap;
	/* queued option replies (LIST, LIST_META_CONTEXT), sent after the backend returned */
	uint8_t *q;
	size_t qlen, qcap;
	int qfull;
} nbd_conn_t;

/* ---- io.c ---- */
/* Read exactly n bytes. 0 on success; 1 if the peer closed before the first byte (only when
 * eof_ok); -ECONNRESET if it closed in the middle; -errno on other errors (EAGAIN: timeout). */
static inline int nbd_read_full(int fd, void *buf, size_t n, int eof_ok)
{
	return sock_read_full(fd, buf, n, eof_ok, "client", "message");
}
/* Read and drop n bytes (through buf of cap bytes). */
int nbd_discard(int fd, uint64_t n, void *buf, size_t cap);
/* Send every byte of iov[0..cnt) (may be modified), MSG_NOSIGNAL. */
static inline int nbd_send_iov(int fd, struct iovec *iov, int cnt)
{
	return sock_send_iov(fd, iov, cnt, "client");
}
int nbd_send(int fd, const void *buf, size_t n);
/* Make c->buf hold at least n bytes. */
int nbd_buf_reserve(nbd_conn_t *c, size_t n);
/* One line through the server's log function, prefixed with the connection id and export
 * (nbd_log) or with "nbd: " (nbd_slog). Control characters become '?'. */
void nbd_log(nbd_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nbd_slog(nbd_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Map a backend -errno to the protocol's error value (fast: FAST_ZERO was asked). */
uint32_t nbd_errno_to_wire(int rc, int fast);

/* ---- handshake.c ---- */
/* Greeting and option haggling. 0: transmission entered (c->h open); 1: clean end (OPT_ABORT
 * or the client closed between options); -errno: protocol violation or I/O error (logged). */
int nbd_handshake(nbd_conn_t *c);
/* Transmission flags for an export as this connection negotiated it. */
uint16_t nbd_tflags(const nbd_conn_t *c, const nbd_export_info_t *info);

/* ---- transmit.c ---- */
/* The request loop until DISC (0), the client closing between requests (0), the export gone
 * (0), or an error (-errno, logged). */
int nbd_transmit(nbd_conn_t *c);

#endif
