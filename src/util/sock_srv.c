/* util/sock_srv.c — accept threads, connection threads and the running-connection list of a
 * network server (see sock_srv.h). sock_srv_stop wakes the accept threads through the wake
 * pipe and waits for every connection thread. */
#include "util/sock_srv.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"
#include "util/sock_listen.h"

typedef struct sock_listener {
	int fd;
	pthread_t thread;
	char *unix_path; /* unlinked at stop; NULL for TCP */
	sock_srv_t *v;
} sock_listener_t;

typedef struct conn_arg {
	sock_srv_t *v;
	int fd;
} conn_arg_t;

static void srv_log(sock_srv_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv_log(sock_srv_t *v, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->log(v->arg, msg);
}

int sock_srv_init(sock_srv_t *v, int max_conns, void (*serve)(void *arg, int fd),
		  void (*log)(void *arg, const char *msg), void *arg)
{
	*v = (sock_srv_t){ .max_conns = max_conns, .serve = serve, .log = log, .arg = arg };
	if (pipe2(v->wake, O_CLOEXEC) < 0)
		return terr(errno, "pipe: %s", strerror(errno));
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->idle, NULL);
	return 0;
}

void sock_srv_destroy(sock_srv_t *v)
{
	free(v->listeners);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->idle);
	close(v->wake[0]);
	close(v->wake[1]);
}

void sock_srv_set_max_conns(sock_srv_t *v, int n)
{
	pthread_mutex_lock(&v->lock);
	v->max_conns = n > 0 ? n : 1;
	pthread_mutex_unlock(&v->lock);
}

int sock_srv_conns(sock_srv_t *v)
{
	pthread_mutex_lock(&v->lock);
	int n = v->nconns;
	pthread_mutex_unlock(&v->lock);
	return n;
}

void sock_srv_conn_link(sock_srv_t *v, sock_conn_t *c, int fd)
{
	c->fd = fd;
	c->prev = NULL;
	c->next = v->conns;
	if (v->conns)
		v->conns->prev = c;
	v->conns = c;
	v->nconns++;
}

void sock_srv_conn_unlink(sock_srv_t *v, sock_conn_t *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		v->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	v->nconns--;
	pthread_cond_broadcast(&v->idle);
}

static void *conn_thread(void *arg)
{
	conn_arg_t a = *(conn_arg_t *)arg;
	free(arg);
	a.v->serve(a.v->arg, a.fd);
	pthread_mutex_lock(&a.v->lock);
	a.v->nthreads--;
	pthread_cond_broadcast(&a.v->idle);
	pthread_mutex_unlock(&a.v->lock); /* the server may be freed from here on */
	return NULL;
}

static void start_conn(sock_srv_t *v, int fd, int tcp)
{
	pthread_mutex_lock(&v->lock);
	if (v->stopping || v->nthreads >= v->max_conns) {
		int max = v->max_conns, stopping = v->stopping;
		pthread_mutex_unlock(&v->lock);
		if (!stopping)
			srv_log(v, "too many connections (%d): refusing one", max);
		close(fd);
		return;
	}
	v->nthreads++;
	pthread_mutex_unlock(&v->lock);
	if (tcp) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	conn_arg_t *a = malloc(sizeof(*a));
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1;
	if (a) {
		a->v = v, a->fd = fd;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, conn_thread, a);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		free(a);
		srv_log(v, "cannot start a connection thread: refusing one");
		close(fd);
		pthread_mutex_lock(&v->lock);
		v->nthreads--;
		pthread_cond_broadcast(&v->idle);
		pthread_mutex_unlock(&v->lock);
	}
}

static void *accept_thread(void *arg)
{
	sock_listener_t *l = arg;
	sock_srv_t *v = l->v;
	for (;;) {
		struct pollfd p[2] = { { .fd = l->fd, .events = POLLIN }, { .fd = v->wake[0], .events = POLLIN } };
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
				srv_log(v, "accept: %s", strerror(errno));
				usleep(100000); /* EMFILE and the like: do not spin */
			}
			continue;
		}
		start_conn(v, fd, !l->unix_path);
	}
	return NULL;
}

int sock_srv_listen(sock_srv_t *v, const char *where, const char *default_port, int unix_ok)
{
	int fd = -1, port = 0, is_unix = unix_ok && strchr(where, '/') != NULL;
	if (is_unix)
		TRY(sock_listen_unix(where, &fd));
	else
		TRY(sock_listen_tcp(where, default_port, &fd, &port));
	sock_listener_t *l = calloc(1, sizeof(*l));
	if (!l || (is_unix && !(l->unix_path = strdup(where))))
		goto nomem;
	l->fd = fd;
	l->v = v;
	pthread_mutex_lock(&v->lock);
	if (v->nlisteners == v->caplisteners) {
		size_t cap = v->caplisteners ? 2 * v->caplisteners : 4;
		sock_listener_t **nl = realloc(v->listeners, cap * sizeof(*nl));
		if (!nl) {
			pthread_mutex_unlock(&v->lock);
			goto nomem;
		}
		v->listeners = nl, v->caplisteners = cap;
	}
	int rc = pthread_create(&l->thread, NULL, accept_thread, l);
	if (rc == 0)
		v->listeners[v->nlisteners++] = l;
	pthread_mutex_unlock(&v->lock);
	if (rc != 0) {
		if (is_unix)
			unlink(where);
		close(fd);
		free(l->unix_path);
		free(l);
		return terr(rc, "cannot start the accept thread: %s", strerror(rc));
	}
	return port;
nomem:
	if (is_unix)
		unlink(where);
	close(fd);
	if (l)
		free(l->unix_path);
	free(l);
	return terr(ENOMEM, "out of memory");
}

/* Join every accept thread, close the listening sockets and unlink the Unix ones. */
static void listeners_stop(sock_srv_t *v)
{
	if (write(v->wake[1], "x", 1) < 0) {
		/* cannot happen with a fresh pipe; the accept threads would not stop */
	}
	pthread_mutex_lock(&v->lock);
	sock_listener_t **ls = v->listeners;
	size_t n = v->nlisteners;
	v->listeners = NULL;
	v->nlisteners = v->caplisteners = 0;
	pthread_mutex_unlock(&v->lock);
	for (size_t i = 0; i < n; i++) {
		pthread_join(ls[i]->thread, NULL);
		close(ls[i]->fd);
		if (ls[i]->unix_path)
			unlink(ls[i]->unix_path);
		free(ls[i]->unix_path);
		free(ls[i]);
	}
	free(ls);
}

static void shutdown_all(sock_srv_t *v)
{
	for (sock_conn_t *c = v->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
}

void sock_srv_stop(sock_srv_t *v)
{
	pthread_mutex_lock(&v->lock);
	v->stopping = 1;
	shutdown_all(v);
	pthread_mutex_unlock(&v->lock);
	listeners_stop(v); /* joins the accept threads: no new connection threads after this */
	pthread_mutex_lock(&v->lock);
	while (v->nconns || v->nthreads) {
		shutdown_all(v);
		pthread_cond_wait(&v->idle, &v->lock);
	}
	pthread_mutex_unlock(&v->lock);
}
