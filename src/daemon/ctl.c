/* daemon/ctl.c — the control socket ($TARN_HOME/tarnd.sock): a caller sends its argv, its
 * working directory and its stdin/stdout/stderr; tarnd runs the command in a thread of its own
 * with those descriptors and answers the exit status. Wire format: docs/format.md "Control
 * socket". */

#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "daemon/internal.h"
#include "pool/known.h"
#include "util/err.h"
#include "util/le.h"

#define CTL_MAGIC "TARNCMD1"
#define CTL_EXIT "TARNEXIT"
#define CTL_VERSION 1
#define CTL_HDR 24           /* magic 8, version 4, argc 4, payload bytes 4, flags 4 */
#define CTL_MAX_ARGC 4096
#define CTL_MAX_PAYLOAD (1u << 20)
#define CTL_MAX_RUNNING 64

static char sock_path[PATH_MAX];
static int listen_fd = -1;
static pthread_t accept_thread;
static int (*dispatch_fn)(int, char **);
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t run_cond = PTHREAD_COND_INITIALIZER;
static int running;
static volatile int stopping;

const char *daemon_socket_path(void)
{
	snprintf(sock_path, sizeof(sock_path), "%s/tarnd.sock", known_home());
	return sock_path;
}

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- server ---- */

struct cmd {
	int sock;
	int fds[3];
	int argc;
	char **argv;
	char *payload;
};

static void cmd_free(struct cmd *c)
{
	for (int i = 0; i < 3; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	if (c->sock >= 0)
		close(c->sock);
	free(c->argv);
	free(c->payload);
	free(c);
}

/* Read and check one request: header with the three descriptors, then argv and cwd. */
static int read_request(struct cmd *c)
{
	uint8_t hdr[CTL_HDR];
	char cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct iovec iov = { hdr, sizeof(hdr) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n;
	do
		n = recvmsg(c->sock, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *fds = (int *)CMSG_DATA(cm);
			for (size_t i = 0; i < nfd; i++) {
				if (i < 3 && c->fds[i] < 0)
					c->fds[i] = fds[i];
				else
					close(fds[i]);
			}
		}
	if (n != (ssize_t)sizeof(hdr))
		return terr(EPROTO, "short request header");
	if (memcmp(hdr, CTL_MAGIC, 8))
		return terr(EPROTO, "bad request magic");
	le_cur_t cur = le_cur(hdr + 8, sizeof(hdr) - 8);
	uint32_t version = le_r32(&cur), argc = le_r32(&cur), bytes = le_r32(&cur);
	if (version != CTL_VERSION)
		return terr(EPROTO, "control protocol version %u (tarnd speaks %u)", version, CTL_VERSION);
	if (argc == 0 || argc > CTL_MAX_ARGC || bytes == 0 || bytes > CTL_MAX_PAYLOAD)
		return terr(EPROTO, "request of %u arguments, %u bytes is out of bounds", argc, bytes);
	if (c->fds[0] < 0 || c->fds[1] < 0 || c->fds[2] < 0)
		return terr(EPROTO, "request without its three descriptors");
	c->payload = malloc(bytes);
	c->argv = calloc(argc + 1, sizeof(char *));
	if (!c->payload || !c->argv)
		return terr(ENOMEM, "out of memory");
	if (read_full(c->sock, c->payload, bytes) < 0)
		return terr(EPROTO, "short request");
	if (c->payload[bytes - 1] != 0)
		return terr(EPROTO, "request strings are not terminated");
	/* argc strings, then the working directory */
	uint32_t i = 0;
	for (char *p = c->payload; p < c->payload + bytes; p += strlen(p) + 1) {
		if (i < argc)
			c->argv[i] = p;
		i++;
	}
	if (i != argc + 1)
		return terr(EPROTO, "request holds %u strings, expected %u", i, argc + 1);
	c->argc = (int)argc;
	return 0;
}

static void reply(int sock, int status)
{
	uint8_t r[12];
	memcpy(r, CTL_EXIT, 8);
	le_cur_t cur = le_cur(r + 8, 4);
	le_w32(&cur, (uint32_t)status);
	write_full(sock, r, sizeof(r));
}

static void *cmd_thread(void *arg)
{
	struct cmd *c = arg;
	int status = 1;
	/* a caller gets 10 s to send its request */
	struct timeval tv = { 10, 0 }, none = { 0, 0 };
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_request(c) < 0) {
		daemon_log("control socket: bad request: %s", terr_msg());
		if (c->fds[2] >= 0)
			dprintf(c->fds[2], "tarn: tarnd refused the request: %s\n", terr_msg());
		reply(c->sock, 2);
		goto out;
	}
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	char *cwd = c->argv[c->argc - 1] + strlen(c->argv[c->argc - 1]) + 1;
	/* this thread's working directory (and umask) become its own */
	if (unshare(CLONE_FS) < 0 || chdir(cwd) < 0) {
		dprintf(c->fds[2], "tarn: cannot enter the working directory '%s': %s\n", cwd, strerror(errno));
	} else {
		/* the FILEs own dups: the caller's descriptors are closed with the command */
		FILE *in = fdopen(dup(c->fds[0]), "r");
		FILE *out = fdopen(dup(c->fds[1]), "w");
		FILE *err = fdopen(dup(c->fds[2]), "w");
		if (in && out && err) {
			setvbuf(err, NULL, _IOLBF, 0);
			cli_set_stdio(in, out, err);
			daemon_cancel_fd = c->sock;
			status = dispatch_fn(c->argc, c->argv);
			daemon_cancel_fd = -1;
			cli_set_stdio(NULL, NULL, NULL);
		} else {
			dprintf(c->fds[2], "tarn: tarnd is out of memory\n");
		}
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		if (err)
			fclose(err);
	}
	reply(c->sock, status);
out:
	cmd_free(c);
	pthread_mutex_lock(&run_lock);
	running--;
	pthread_cond_broadcast(&run_cond);
	pthread_mutex_unlock(&run_lock);
	return NULL;
}

static int peer_allowed(int sock)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void *accept_loop(void *arg)
{
	(void)arg;
	while (!stopping) {
		int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
				if (errno == EMFILE || errno == ENFILE)
					usleep(100000);
				continue;
			}
			if (!stopping)
				daemon_log("control socket: accept failed: %s", strerror(errno));
			break;
		}
		if (stopping) {
			close(s);
			break;
		}
		if (!peer_allowed(s)) {
			daemon_log("control socket: refused a caller of another user");
			close(s);
			continue;
		}
		struct cmd *c = calloc(1, sizeof(*c));
		if (!c) {
			close(s);
			continue;
		}
		c->sock = s;
		c->fds[0] = c->fds[1] = c->fds[2] = -1;
		pthread_mutex_lock(&run_lock);
		int busy = running >= CTL_MAX_RUNNING;
		if (!busy)
			running++;
		pthread_mutex_unlock(&run_lock);
		if (busy) { /* the request is not even read: the caller gets status 1 */
			daemon_log("control socket: %d commands running already; refused one", CTL_MAX_RUNNING);
			reply(s, 1);
			cmd_free(c);
			continue;
		}
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, cmd_thread, c) != 0) {
			daemon_log("control socket: cannot start a thread for a command");
			reply(s, 1);
			cmd_free(c);
			pthread_mutex_lock(&run_lock);
			running--;
			pthread_mutex_unlock(&run_lock);
		}
		pthread_attr_destroy(&at);
	}
	return NULL;
}

int ctl_listen_start(int (*dispatch)(int, char **))
{
	dispatch_fn = dispatch;
	const char *path = daemon_socket_path();
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return terr(ENAMETOOLONG, "control socket path '%s' is too long", path);
	strcpy(a.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return terr(errno, "socket: %s", strerror(errno));
	unlink(path); /* a stale socket: the daemon lock says no other tarnd runs */
	mode_t old = umask(0177);
	int rc = bind(s, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(s, 64) < 0) {
		int e = errno;
		close(s);
		return terr(e, "cannot listen on %s: %s", path, strerror(e));
	}
	listen_fd = s;
	if (pthread_create(&accept_thread, NULL, accept_loop, NULL) != 0) {
		close(s);
		listen_fd = -1;
		return terr(EAGAIN, "cannot start the control thread");
	}
	return 0;
}

void ctl_stop(void)
{
	if (listen_fd < 0)
		return;
	stopping = 1;
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(accept_thread, NULL);
	close(listen_fd);
	listen_fd = -1;
	unlink(daemon_socket_path());
	/* let running commands finish (they hold pool locks and callers wait for them) */
	pthread_mutex_lock(&run_lock);
	while (running > 0)
		pthread_cond_wait(&run_cond, &run_lock);
	pthread_mutex_unlock(&run_lock);
}

/* ---- client ---- */

int daemon_forward(int argc, char **argv)
{
	const char *path = daemon_socket_path();
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENOENT;
	strcpy(a.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -ENOENT;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(s);
		if (e == ENOENT || e == ECONNREFUSED)
			return -ENOENT; /* no daemon: run here */
		return terr(e, "cannot reach tarnd at %s: %s", path, strerror(e));
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		close(s);
		return terr(errno, "cannot get the working directory: %s", strerror(errno));
	}
	size_t bytes = strlen(cwd) + 1;
	for (int i = 0; i < argc; i++)
		bytes += strlen(argv[i]) + 1;
	if (argc > CTL_MAX_ARGC || bytes > CTL_MAX_PAYLOAD) {
		close(s);
		return terr(E2BIG, "argument list too long for tarnd");
	}
	uint8_t hdr[CTL_HDR] = { 0 };
	memcpy(hdr, CTL_MAGIC, 8);
	le_cur_t cur = le_cur(hdr + 8, sizeof(hdr) - 8);
	le_w32(&cur, CTL_VERSION);
	le_w32(&cur, (uint32_t)argc);
	le_w32(&cur, (uint32_t)bytes);
	le_w32(&cur, 0);
	int fds[3] = { 0, 1, 2 };
	char cbuf[CMSG_SPACE(sizeof(fds))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { hdr, sizeof(hdr) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	char *payload = malloc(bytes), *p = payload;
	if (!payload) {
		close(s);
		return terr(ENOMEM, "out of memory");
	}
	for (int i = 0; i < argc; i++)
		p = stpcpy(p, argv[i]) + 1;
	strcpy(p, cwd);
	ssize_t n;
	do
		n = sendmsg(s, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	int rc = n == (ssize_t)sizeof(hdr) && write_full(s, payload, bytes) == 0 ? 0 : -1;
	free(payload);
	uint8_t r[12];
	if (rc == 0)
		rc = read_full(s, r, sizeof(r));
	close(s);
	if (rc < 0 || memcmp(r, CTL_EXIT, 8))
		return terr(EPIPE, "lost the connection to tarnd before the command ended");
	le_cur_t rc_cur = le_cur(r + 8, 4);
	uint32_t status = le_r32(&rc_cur);
	return status > 255 ? 1 : (int)status;
}
