/* Unit tests for util/sock and util/sock_listen: address parsing, listening sockets, whole
 * reads and writes over a socket pair, log line sanitising. */
#include "util/err.h"
#include "util/sock.h"
#include "util/sock_listen.h"
#include "util/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void split_ok(const char *where, const char *def, const char *host, const char *port)
{
	char h[64] = "junk";
	const char *p = NULL;
	if (is_int(sock_split_addr(where, def, h, sizeof(h), &p), 0, "split '%s'", where)) {
		is_str(h, host, "split '%s': host", where);
		is_str(p, port, "split '%s': port", where);
	} else {
		diag("message: %s", terr_msg());
	}
}

static void split_err(const char *where, const char *def, const char *msg)
{
	char h[16];
	const char *p = NULL;
	terr_clear();
	is_int(sock_split_addr(where, def, h, sizeof(h), &p), -EINVAL, "split '%s' fails", where);
	is_str(terr_msg(), msg, "split '%s': message", where);
}

static char last_line[1024];
static void catch_line(void *arg, const char *line)
{
	(void)arg;
	snprintf(last_line, sizeof(last_line), "%s", line);
}

static void vlog_to(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog_to(const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sock_vlog(catch_line, NULL, prefix, fmt, ap);
	va_end(ap);
}

int main(void)
{
	split_ok("127.0.0.1:10809", NULL, "127.0.0.1", "10809");
	split_ok("[::1]:3260", NULL, "::1", "3260");
	split_ok(":10809", NULL, "", "10809");
	split_ok("[::]:0", "3260", "::", "0");
	split_ok("10.0.0.1", "3260", "10.0.0.1", "3260");
	split_ok("", "3260", "", "3260");
	split_err("localhost", NULL, "bad address 'localhost' (want ADDR:PORT or a socket path)");
	split_err("[::1]", NULL, "bad address '[::1]' (want [ADDR]:PORT)");
	split_err("[::1]3260", "3260", "bad address '[::1]3260' (want [ADDR]:PORT)");
	split_err("127.0.0.1:", NULL, "bad address '127.0.0.1:': no port");
	split_err("a-very-long-host-name:1", NULL, "address too long: a-very-long-host-name:1");

	/* TCP: an ephemeral port, then the same port again */
	int fd = -1, fd2 = -1, port = 0;
	if (is_int(sock_listen_tcp("127.0.0.1:0", NULL, &fd, &port), 0, "listen on 127.0.0.1:0")) {
		ok(port > 0, "bound port reported (%d)", port);
		char where[64];
		snprintf(where, sizeof(where), "127.0.0.1:%d", port);
		is_int(sock_listen_tcp(where, NULL, &fd2, &port), -EADDRINUSE, "the same port again fails");
		ok(strstr(terr_msg(), "Address already in use") != NULL, "... Address already in use (%s)", terr_msg());
		close(fd);
	}

	/* Unix: a live socket stays, a stale one is replaced */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/tarn-test-sock-%d", (int)getpid());
	unlink(path);
	if (is_int(sock_listen_unix(path, &fd), 0, "listen on %s", path)) {
		is_int(sock_listen_unix(path, &fd2), -EADDRINUSE, "a live socket file stays");
		char msg[96];
		snprintf(msg, sizeof(msg), "%s: address in use", path);
		is_str(terr_msg(), msg, "... message");
		close(fd);
		if (is_int(sock_listen_unix(path, &fd2), 0, "a stale socket file is replaced"))
			close(fd2);
		unlink(path);
	}
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/', longpath[sizeof(longpath) - 1] = 0;
	is_int(sock_listen_unix(longpath, &fd), -ENAMETOOLONG, "a too long socket path fails");

	/* whole reads and writes */
	int sp[2];
	if (ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair")) {
		char a[] = "hello", b[] = ", world";
		struct iovec iov[3] = { { a, 5 }, { NULL, 0 }, { b, 7 } };
		is_int(sock_send_iov(sp[0], iov, 3, "client"), 0, "send an iovec");
		char got[13] = { 0 };
		is_int(sock_read_full(sp[1], got, 12, 0, "client", "message"), 0, "read it whole");
		is_str(got, "hello, world", "the bytes");
		is_int(sock_send_iov(sp[0], (struct iovec[]){ { a, 3 } }, 1, "client"), 0, "send 3 bytes");
		close(sp[0]);
		is_int(sock_read_full(sp[1], got, 5, 0, "client", "message"), -ECONNRESET, "EOF in the middle");
		is_str(terr_msg(), "the client closed the connection in the middle of a message", "... message");
		is_int(sock_read_full(sp[1], got, 5, 1, "initiator", "PDU"), 1, "EOF before the first byte (eof_ok)");
		is_int(sock_read_full(sp[1], got, 5, 0, "initiator", "PDU"), -ECONNRESET, "... not ok without eof_ok");
		is_str(terr_msg(), "the initiator closed the connection in the middle of a PDU", "... message");
		close(sp[1]);
	}

	vlog_to("nbd: ", "name %s", "a\nb\x7f" "c");
	is_str(last_line, "nbd: name a?b?c", "log line: control characters become '?'");
	return done_testing();
}
