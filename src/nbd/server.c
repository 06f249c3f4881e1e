/* nbd/server.c — the server object: backend, log sink, listeners and the set of running
 * connections (util/sock_srv.c; for nbd_server_kick and nbd_server_free), and nbd_serve_conn,
 * which runs one connection through the handshake (handshake.c) and the request loop
 * (transmit.c). */
#include "nbd/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/err.h"

static void log_stderr(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static void serve_one(void *arg, int fd)
{
	nbd_serve_conn(arg, fd);
}

static void net_log(void *arg, const char *msg)
{
	nbd_slog(arg, "%s", msg);
}

nbd_server_t *nbd_server_new(const nbd_backend_t *be)
{
	if (!be || !be->open || !be->close || !be->read) {
		terr(EINVAL, "an nbd backend needs at least open, close and read");
		return NULL;
	}
	nbd_server_t *s = calloc(1, sizeof(*s));
	if (!s) {
		terr(ENOMEM, "out of memory");
		return NULL;
	}
	s->be = *be;
	s->log = log_stderr;
	s->handshake_timeout = 60;
	if (sock_srv_init(&s->net, 256, serve_one, net_log, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void nbd_server_set_log(nbd_server_t *s, void (*log)(void *arg, const char *line), void *arg)
{
	s->log = log ? log : log_stderr;
	s->logarg = log ? arg : NULL;
}

int nbd_server_listen(nbd_server_t *s, const char *where)
{
	return sock_srv_listen(&s->net, where, NULL, 1);
}

void nbd_server_set_max_conns(nbd_server_t *s, int n)
{
	sock_srv_set_max_conns(&s->net, n);
}

void nbd_server_set_handshake_timeout(nbd_server_t *s, int seconds)
{
	pthread_mutex_lock(&s->net.lock);
	s->handshake_timeout = seconds > 0 ? seconds : 0;
	pthread_mutex_unlock(&s->net.lock);
}

int nbd_server_conns(nbd_server_t *s)
{
	return sock_srv_conns(&s->net);
}

static void set_rcvtimeo(int fd, int seconds)
{
	struct timeval tv = { seconds, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* not a socket: no timeout */
}

int nbd_serve_conn(nbd_server_t *s, int fd)
{
	nbd_conn_t *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return terr(ENOMEM, "out of memory");
	}
	c->s = s;
	c->fd = fd;
	pthread_mutex_lock(&s->net.lock);
	if (s->net.stopping) {
		pthread_mutex_unlock(&s->net.lock);
		close(fd);
		free(c);
		return terr(ESHUTDOWN, "the nbd server is shutting down");
	}
	c->id = ++s->next_id;
	sock_srv_conn_link(&s->net, &c->link, fd);
	int timeout = s->handshake_timeout;
	pthread_mutex_unlock(&s->net.lock);

	if (timeout)
		set_rcvtimeo(fd, timeout);
	int rc = nbd_handshake(c);
	if (rc == 0) {
		if (timeout)
			set_rcvtimeo(fd, 0);
		rc = nbd_transmit(c);
	} else if (rc == 1) {
		rc = 0;
	}
	pthread_mutex_lock(&s->net.lock);
	int kicked = c->kicked;
	pthread_mutex_unlock(&s->net.lock);
	if (kicked)
		nbd_log(c, "disconnected: the export was removed");
	else if (rc < 0)
		nbd_log(c, "%s", terr_msg());

	char msg[TERR_MSG_MAX];
	int code = terr_code();
	snprintf(msg, sizeof(msg), "%s", terr_msg());
	if (c->h)
		s->be.close(c->h);
	for (uint32_t i = 0; i < c->nmeta; i++)
		free(c->meta[i].name);
	free(c->meta_export);
	free(c->buf);
	free(c->q);

	pthread_mutex_lock(&s->net.lock);
	sock_srv_conn_unlink(&s->net, &c->link);
	free(c->export_name);
	pthread_mutex_unlock(&s->net.lock);
	close(fd);
	free(c);
	if (rc < 0)
		terr(code ? code : -rc, "%s", msg);
	return rc;
}

void nbd_server_kick(nbd_server_t *s, const char *name)
{
	pthread_mutex_lock(&s->net.lock);
	for (sock_conn_t *l = s->net.conns; l; l = l->next) {
		nbd_conn_t *c = (nbd_conn_t *)((char *)l - offsetof(nbd_conn_t, link));
		if (c->export_name && strcmp(c->export_name, name) == 0) {
			c->kicked = 1;
			shutdown(c->fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&s->net.lock);
}

void nbd_server_free(nbd_server_t *s)
{
	if (!s)
		return;
	sock_srv_stop(&s->net); /* every connection disconnected and its thread ended */
	sock_srv_destroy(&s->net);
	free(s);
}
