/* nbd/server.c — the server object: backend, log sink, the set of running connections (for
 * nbd_server_kick and nbd_server_free), and nbd_serve_conn, which runs one connection through
 * the handshake (handshake.c) and the request loop (transmit.c). */
#include "nbd/conn.h"

#include <fcntl.h>
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
	s->max_conns = 256;
	s->handshake_timeout = 60;
	if (pipe2(s->wake, O_CLOEXEC) < 0) {
		terr(errno, "pipe: %s", strerror(errno));
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	return s;
}

void nbd_server_set_log(nbd_server_t *s, void (*log)(void *arg, const char *line), void *arg)
{
	s->log = log ? log : log_stderr;
	s->logarg = log ? arg : NULL;
}

void nbd_server_set_max_conns(nbd_server_t *s, int n)
{
	pthread_mutex_lock(&s->lock);
	s->max_conns = n > 0 ? n : 1;
	pthread_mutex_unlock(&s->lock);
}

void nbd_server_set_handshake_timeout(nbd_server_t *s, int seconds)
{
	pthread_mutex_lock(&s->lock);
	s->handshake_timeout = seconds > 0 ? seconds : 0;
	pthread_mutex_unlock(&s->lock);
}

int nbd_server_conns(nbd_server_t *s)
{
	pthread_mutex_lock(&s->lock);
	int n = s->nconns;
	pthread_mutex_unlock(&s->lock);
	return n;
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
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		free(c);
		return terr(ESHUTDOWN, "the nbd server is shutting down");
	}
	c->id = ++s->next_id;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	int timeout = s->handshake_timeout;
	pthread_mutex_unlock(&s->lock);

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
	pthread_mutex_lock(&s->lock);
	int kicked = c->kicked;
	pthread_mutex_unlock(&s->lock);
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

	pthread_mutex_lock(&s->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->export_name);
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	close(fd);
	free(c);
	if (rc < 0)
		terr(code ? code : -rc, "%s", msg);
	return rc;
}

void nbd_server_kick(nbd_server_t *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	for (nbd_conn_t *c = s->conns; c; c = c->next)
		if (c->export_name && strcmp(c->export_name, name) == 0) {
			c->kicked = 1;
			shutdown(c->fd, SHUT_RDWR);
		}
	pthread_mutex_unlock(&s->lock);
}

void nbd_server_free(nbd_server_t *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	for (nbd_conn_t *c = s->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->lock);
	nbd_listeners_stop(s); /* joins the accept threads: no new connection threads after this */
	pthread_mutex_lock(&s->lock);
	while (s->nconns || s->nthreads) {
		for (nbd_conn_t *c = s->conns; c; c = c->next)
			shutdown(c->fd, SHUT_RDWR);
		pthread_cond_wait(&s->idle, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	close(s->wake[0]);
	close(s->wake[1]);
	free(s);
}
