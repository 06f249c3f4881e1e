/* nbd/io.c — nbd's side of the socket I/O (util/sock.c does the bytes): draining payloads,
 * the growable payload buffer, logging with the connection prefix, error mapping. */
#include "nbd/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int nbd_discard(int fd, uint64_t n, void *buf, size_t cap)
{
	while (n) {
		size_t k = n < cap ? (size_t)n : cap;
		TRY(nbd_read_full(fd, buf, k, 0));
		n -= k;
	}
	return 0;
}

int nbd_send(int fd, const void *buf, size_t n)
{
	struct iovec iov = { (void *)buf, n };
	return nbd_send_iov(fd, &iov, 1);
}

int nbd_buf_reserve(nbd_conn_t *c, size_t n)
{
	if (n <= c->bufcap)
		return 0;
	size_t cap = c->bufcap ? c->bufcap : 65536;
	while (cap < n)
		cap *= 2;
	uint8_t *b = realloc(c->buf, cap);
	if (!b)
		return terr(ENOMEM, "out of memory (payload buffer of %zu bytes)", cap);
	c->buf = b;
	c->bufcap = cap;
	return 0;
}

void nbd_log(nbd_conn_t *c, const char *fmt, ...)
{
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "nbd: connection %llu%s%.200s: ", (unsigned long long)c->id,
		 c->export_name ? " to " : "", c->export_name ? c->export_name : "");
	va_list ap;
	va_start(ap, fmt);
	sock_vlog(c->s->log, c->s->logarg, prefix, fmt, ap);
	va_end(ap);
}

void nbd_slog(nbd_server_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sock_vlog(s->log, s->logarg, "nbd: ", fmt, ap);
	va_end(ap);
}

uint32_t nbd_errno_to_wire(int rc, int fast)
{
	switch (rc < 0 ? -rc : rc) {
	case EPERM:
	case EROFS:
	case EACCES:
		return NBD_EPERM;
	case EIO:
		return NBD_EIO;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP: /* == EOPNOTSUPP on Linux */
		return fast ? NBD_ENOTSUP : NBD_EINVAL;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}
