/* util/sock.c — whole-message socket I/O and log lines for the network servers. */
#include "util/sock.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"

int sock_read_full(int fd, void *buf, size_t n, int eof_ok, const char *peer, const char *unit)
{
	uint8_t *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno == EWOULDBLOCK ? EAGAIN : errno;
			return terr(e, "read from the %s: %s", peer, e == EAGAIN ? "timed out" : strerror(e));
		}
		if (r == 0) {
			if (got == 0 && eof_ok)
				return 1;
			return terr(ECONNRESET, "the %s closed the connection in the middle of a %s", peer, unit);
		}
		got += (size_t)r;
	}
	return 0;
}

int sock_send_iov(int fd, struct iovec *iov, int cnt, const char *peer)
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
			return terr(e, "write to the %s: %s", peer, strerror(e));
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

void sock_vlog(void (*log)(void *arg, const char *line), void *arg, const char *prefix, const char *fmt,
	       va_list ap)
{
	char line[768];
	int n = snprintf(line, sizeof(line), "%s", prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	for (char *p = line; *p; p++) /* names come from the network: one printable line */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	log(arg, line);
}
