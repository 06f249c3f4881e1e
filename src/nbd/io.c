/* nbd/io.c — socket I/O for the nbd server: whole reads and writes with EINTR and short
 * transfers handled, MSG_NOSIGNAL sends, the growable payload buffer, logging, error mapping. */
#include "nbd/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"

int nbd_read_full(int fd, void *buf, size_t n, int eof_ok)
{
	uint8_t *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno == EWOULDBLOCK ? EAGAIN : errno;
			return terr(e, "read from the client: %s", e == EAGAIN ? "timed out" : strerror(e));
		}
		if (r == 0) {
			if (got == 0 && eof_ok)
				return 1;
			return terr(ECONNRESET, "the client closed the connection in the middle of a message");
		}
		got += (size_t)r;
	}
	return 0;
}

int nbd_discard(int fd, uint64_t n, void *buf, size_t cap)
{
	while (n) {
		size_t k = n < cap ? (size_t)n : cap;
		TRY(nbd_read_full(fd, buf, k, 0));
		n -= k;
	}
	return 0;
}

int nbd_send_iov(int fd, struct iovec *iov, int cnt)
{
	int nosock = 0;
	while (cnt > 0) {
		if (iov->iov_len == 0) {
			iov++, cnt--;
			continue;
		}
		ssize_t w;
		if (!nosock) {
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
			w = sendmsg(fd, &mh, MSG_NOSIGNAL);
			if (w < 0 && errno == ENOTSOCK) {
				nosock = 1;
				continue;
			}
		} else {
			w = writev(fd, iov, cnt);
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno == EWOULDBLOCK ? EAGAIN : errno;
			return terr(e, "write to the client: %s", strerror(e));
		}
		size_t left = (size_t)w;
		while (cnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++, cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + left;
			iov->iov_len -= left;
		}
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

static void vlog(nbd_server_t *s, const char *prefix, const char *fmt, va_list ap)
{
	char line[768];
	int n = snprintf(line, sizeof(line), "%s", prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* the line may carry client-chosen bytes (names): keep it printable, one line */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	s->log(s->logarg, line);
}

void nbd_log(nbd_conn_t *c, const char *fmt, ...)
{
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "nbd: connection %llu%s%.200s: ", (unsigned long long)c->id,
		 c->export_name ? " to " : "", c->export_name ? c->export_name : "");
	va_list ap;
	va_start(ap, fmt);
	vlog(c->s, prefix, fmt, ap);
	va_end(ap);
}

void nbd_slog(nbd_server_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(s, "nbd: ", fmt, ap);
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
