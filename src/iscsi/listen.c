/* iscsi/listen.c — TCP portals and their accept threads: one thread per listener, one detached
 * thread per accepted connection (running iscsi_serve_conn), at most max_conns of those at a
 * time (more are accepted and closed at once). iscsi_srv_free wakes the accept threads through
 * the server's wake pipe and waits for every connection thread. */
#include "iscsi/conn.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"

typedef struct conn_arg {
	iscsi_target_srv_t *s;
	int fd;
} conn_arg_t;

static void *conn_thread(void *arg)
{
	conn_arg_t a = *(conn_arg_t *)arg;
	free(arg);
	iscsi_serve_conn(a.s, a.fd);
	pthread_mutex_lock(&a.s->lock);
	a.s->nthreads--;
	pthread_cond_broadcast(&a.s->idle);
	pthread_mutex_unlock(&a.s->lock); /* the server may be freed from here on */
	return NULL;
}

static void start_conn(iscsi_target_srv_t *s, int fd, int tcp)
{
	pthread_mutex_lock(&s->lock);
	if (s->stopping || s->nthreads >= s->max_conns) {
		int max = s->max_conns, stopping = s->stopping;
		pthread_mutex_unlock(&s->lock);
		if (!stopping)
			iscsi_slog(s, "too many connections (%d): refusing one", max);
		close(fd);
		return;
	}
	s->nthreads++;
	pthread_mutex_unlock(&s->lock);
	if (tcp) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	conn_arg_t *a = malloc(sizeof(*a));
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1;
	if (a) {
		a->s = s, a->fd = fd;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, conn_thread, a);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		free(a);
		iscsi_slog(s, "cannot start a connection thread: refusing one");
		close(fd);
		pthread_mutex_lock(&s->lock);
		s->nthreads--;
		pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->lock);
	}
}

static void *accept_thread(void *arg)
{
	iscsi_listener_t *l = arg;
	iscsi_target_srv_t *s = l->s;
	for (;;) {
		struct pollfd p[2] = { { .fd = l->fd, .events = POLLIN }, { .fd = s->wake[0], .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno != EINTR)
				usleep(100000);
			continue;
		}
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
				iscsi_slog(s, "accept: %s", strerror(errno));
				usleep(100000); /* EMFILE and the like: do not spin */
			}
			continue;
		}
		start_conn(s, fd, 1);
	}
	return NULL;
}

/* Split "HOST:PORT" / "[V6]:PORT" into host (NULL: any) and port. */
static int split_addr(const char *where, char *host, size_t hostcap, const char **port)
{
	const char *colon;
	size_t hl;
	if (where[0] == '[') {
		const char *end = strchr(where, ']');
		if (!end || end[1] != ':')
			return terr(EINVAL, "bad address '%s' (want [ADDR]:PORT)", where);
		hl = (size_t)(end - where - 1);
		memcpy(host, where + 1, hl < hostcap ? hl : 0);
		colon = end + 1;
	} else {
		colon = strrchr(where, ':');
		if (!colon) /* no port: the iSCSI default */
			colon = where + strlen(where);
		hl = (size_t)(colon - where);
		memcpy(host, where, hl < hostcap ? hl : 0);
	}
	if (hl >= hostcap)
		return terr(EINVAL, "address too long: %s", where);
	host[hl] = 0;
	*port = *colon ? colon + 1 : "3260";
	if (!**port)
		return terr(EINVAL, "bad address '%s': no port", where);
	return 0;
}

static int listen_tcp(const char *where, int *out, int *port_out)
{
	char host[256];
	const char *port = NULL;
	TRY(split_addr(where, host, sizeof(host), &port));
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (g != 0)
		return terr(EINVAL, "%s: %s", where, gai_strerror(g));
	int fd = -1, e = EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return terr(e, "listen on %s: %s", where, strerror(e));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	*port_out = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			*port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			*port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	*out = fd;
	return 0;
}

int iscsi_srv_listen(iscsi_target_srv_t *s, const char *where)
{
	int fd = -1, port = 0;
	TRY(listen_tcp(where, &fd, &port));
	iscsi_listener_t *l = calloc(1, sizeof(*l));
	if (!l)
		goto nomem;
	l->fd = fd;
	l->s = s;
	pthread_mutex_lock(&s->lock);
	if (s->nlisteners == s->caplisteners) {
		size_t cap = s->caplisteners ? 2 * s->caplisteners : 4;
		iscsi_listener_t **nl = realloc(s->listeners, cap * sizeof(*nl));
		if (!nl) {
			pthread_mutex_unlock(&s->lock);
			goto nomem;
		}
		s->listeners = nl, s->caplisteners = cap;
	}
	int rc = pthread_create(&l->thread, NULL, accept_thread, l);
	if (rc == 0)
		s->listeners[s->nlisteners++] = l;
	pthread_mutex_unlock(&s->lock);
	if (rc != 0) {
		close(fd);
		free(l);
		return terr(rc, "cannot start the accept thread: %s", strerror(rc));
	}
	return port;
nomem:
	close(fd);
	free(l);
	return terr(ENOMEM, "out of memory");
}

void iscsi_listeners_stop(iscsi_target_srv_t *s)
{
	if (write(s->wake[1], "x", 1) < 0) {
		/* cannot happen with a fresh pipe; the accept threads would not stop */
	}
	pthread_mutex_lock(&s->lock);
	iscsi_listener_t **ls = s->listeners;
	size_t n = s->nlisteners;
	s->listeners = NULL;
	s->nlisteners = s->caplisteners = 0;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		pthread_join(ls[i]->thread, NULL);
		close(ls[i]->fd);
		free(ls[i]);
	}
	free(ls);
}
