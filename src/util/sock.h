/* util/sock.h — whole-message socket I/O for the network servers (nbd, iscsi): reads and
 * writes that handle EINTR and short transfers, MSG_NOSIGNAL sends, and the one-line log
 * helper that makes network-chosen bytes harmless. No allocation: safe on the hot path. */
#ifndef TARN_UTIL_SOCK_H
#define TARN_UTIL_SOCK_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/uio.h>

/* Read exactly n bytes from fd into buf. 0 on success; 1 if the peer closed before the first
 * byte (only when eof_ok); otherwise a negative errno with the message set: -ECONNRESET "the
 * <peer> closed the connection in the middle of a <unit>", -EAGAIN "read from the <peer>: timed
 * out" (SO_RCVTIMEO), -errno "read from the <peer>: <strerror>". peer and unit are words for
 * the messages ("client", "message"). */
int sock_read_full(int fd, void *buf, size_t n, int eof_ok, const char *peer, const char *unit);

/* Send every byte of iov[0..cnt) to fd: sendmsg with MSG_NOSIGNAL (writev if fd is not a
 * socket), resumed after EINTR and short writes. iov is modified (the caller's array is
 * consumed). 0, or a negative errno with "write to the <peer>: <strerror>". */
int sock_send_iov(int fd, struct iovec *iov, int cnt, const char *peer);

/* Format prefix + fmt into one line of at most 767 bytes, turn control characters (names come
 * from the network) into '?', and hand it to log(arg, line). */
void sock_vlog(void (*log)(void *arg, const char *line), void *arg, const char *prefix, const char *fmt,
	       va_list ap) __attribute__((format(printf, 4, 0)));

#endif
