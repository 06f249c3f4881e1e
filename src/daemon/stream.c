/* daemon/stream.c — FILEs for send/receive streams under tarnd: the pool lock is released
 * while the command waits on its pipe, so NBD clients and other commands go on meanwhile. */
#include "daemon/daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/internal.h"

__thread int daemon_cancel_fd = -1;
volatile int daemon_stopping;

struct dstream {
	int fd;
	int cancel_fd;
	daemon_pool_t *dp;
	uint64_t gen;
};

/* Wait until fd is ready for events; 0, or -1 with errno ECANCELED when the caller hung up. */
static int wait_ready(struct dstream *s, short events)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = s->fd, .events = events }, { .fd = s->cancel_fd, .events = POLLIN } };
		int n = poll(p, s->cancel_fd >= 0 ? 2 : 1, 250);
		if (n < 0 && errno != EINTR)
			return -1;
		if (s->dp->poisoned || s->dp->evicted) { /* a reload waits for us: give up */
			errno = ESTALE;
			return -1;
		}
		if (daemon_stopping || (n > 0 && s->cancel_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
			errno = ECANCELED;
			return -1;
		}
		if (n > 0 && p[0].revents)
			return 0;
	}
}

static int relock(struct dstream *s)
{
	pthread_mutex_lock(&s->dp->lock);
	while (s->dp->syncing) /* a command goes on only once a background commit is over */
		pthread_cond_wait(&s->dp->cond, &s->dp->lock);
	if (s->dp->gen != s->gen) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

static ssize_t ds_read(void *cookie, char *buf, size_t len)
{
	struct dstream *s = cookie;
	ssize_t n = -1;
	pthread_mutex_unlock(&s->dp->lock);
	if (wait_ready(s, POLLIN) == 0) {
		do
			n = read(s->fd, buf, len);
		while (n < 0 && errno == EINTR);
	}
	int e = errno;
	if (relock(s) < 0)
		return -1;
	errno = e;
	return n;
}

static ssize_t ds_write(void *cookie, const char *buf, size_t len)
{
	struct dstream *s = cookie;
	size_t done = 0;
	int e = 0;
	pthread_mutex_unlock(&s->dp->lock);
	while (done < len) {
		if (wait_ready(s, POLLOUT) < 0) {
			e = errno;
			break;
		}
		ssize_t n = write(s->fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		done += (size_t)n;
	}
	if (relock(s) < 0)
		return -1;
	if (done < len) {
		errno = e;
		return done ? (ssize_t)done : -1;
	}
	return (ssize_t)done;
}

static int ds_close(void *cookie)
{
	free(cookie);
	return 0;
}

FILE *daemon_stream_fdopen(int fd, const char *mode, daemon_pool_t *dp)
{
	struct dstream *s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	s->fd = fd;
	s->cancel_fd = daemon_cancel_fd;
	s->dp = dp;
	s->gen = dp->gen;
	cookie_io_functions_t io = { .close = ds_close };
	if (mode[0] == 'r')
		io.read = ds_read;
	else
		io.write = ds_write;
	FILE *f = fopencookie(s, mode, io);
	if (!f)
		free(s);
	return f;
}
