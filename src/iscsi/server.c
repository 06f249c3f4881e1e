/* iscsi/server.c — the target server object: backend, log sink, negotiation defaults, the
 * portals and the set of running connections (util/sock_srv.c; for iscsi_srv_free), and
 * iscsi_serve_conn, which runs one connection through login (login.c) and the full feature
 * phase (session.c). */
#include "iscsi/conn.h"

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
	iscsi_serve_conn(arg, fd);
}

static void net_log(void *arg, const char *msg)
{
	iscsi_slog(arg, "%s", msg);
}

iscsi_target_srv_t *iscsi_srv_new(const iscsi_backend_t *be)
{
	if (!be || !be->open || !be->close || !be->read) {
		terr(EINVAL, "an iscsi backend needs at least open, close and read");
		return NULL;
	}
	iscsi_target_srv_t *s = calloc(1, sizeof(*s));
	if (!s) {
		terr(ENOMEM, "out of memory");
		return NULL;
	}
	s->be = *be;
	s->log = log_stderr;
	s->login_timeout = 60;
	s->mrdsl = ISCSI_DEF_MRDSL;
	s->maxburst = ISCSI_DEF_MAXBURST;
	s->firstburst = ISCSI_DEF_FIRSTBURST;
	s->maxr2t = ISCSI_DEF_MAXR2T;
	s->immediate = 1;
	s->initial_r2t = 0;
	if (sock_srv_init(&s->net, 256, serve_one, net_log, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void iscsi_srv_set_log(iscsi_target_srv_t *s, void (*log)(void *arg, const char *line), void *arg)
{
	s->log = log ? log : log_stderr;
	s->logarg = log ? arg : NULL;
}

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void iscsi_srv_get_params(iscsi_target_srv_t *s, iscsi_params_t *p)
{
	pthread_mutex_lock(&s->net.lock);
	*p = (iscsi_params_t){ s->mrdsl, s->maxburst, s->firstburst, s->maxr2t, s->immediate, s->initial_r2t };
	pthread_mutex_unlock(&s->net.lock);
}

void iscsi_srv_set_params(iscsi_target_srv_t *s, const iscsi_params_t *p)
{
	pthread_mutex_lock(&s->net.lock);
	s->mrdsl = clamp(p->max_recv_data_segment_length, 512, ISCSI_MAX_MRDSL);
	s->maxburst = clamp(p->max_burst_length, 512, ISCSI_MAX_MRDSL);
	s->firstburst = clamp(p->first_burst_length, 512, s->maxburst);
	s->maxr2t = clamp(p->max_outstanding_r2t, 1, ISCSI_DEF_MAXR2T);
	s->immediate = !!p->immediate_data;
	s->initial_r2t = !!p->initial_r2t;
	pthread_mutex_unlock(&s->net.lock);
}

int iscsi_srv_listen(iscsi_target_srv_t *s, const char *where)
{
	return sock_srv_listen(&s->net, where, "3260", 0); /* no port: the iSCSI default */
}

void iscsi_srv_set_max_conns(iscsi_target_srv_t *s, int n)
{
	sock_srv_set_max_conns(&s->net, n);
}

void iscsi_srv_set_login_timeout(iscsi_target_srv_t *s, int seconds)
{
	pthread_mutex_lock(&s->net.lock);
	s->login_timeout = seconds > 0 ? seconds : 0;
	pthread_mutex_unlock(&s->net.lock);
}

int iscsi_srv_conns(iscsi_target_srv_t *s)
{
	return sock_srv_conns(&s->net);
}

static void set_rcvtimeo(int fd, int seconds)
{
	struct timeval tv = { seconds, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* not a socket: no timeout */
}

/* Close a connection so that what we sent last (a Reject, a Logout response) reaches the peer:
 * closing with unread input would reset the connection and could drop it. Half-close, then read
 * and drop what the peer still sends, for at most 200 ms and 1 MiB. */
static void linger_close(int fd)
{
	shutdown(fd, SHUT_WR);
	struct timeval tv = { 0, 200 * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char buf[16384];
	for (size_t got = 0; got < (1u << 20);) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
}

int iscsi_serve_conn(iscsi_target_srv_t *s, int fd)
{
	iscsi_conn_t *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return terr(ENOMEM, "out of memory");
	}
	c->s = s;
	c->fd = fd;
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_mutex_lock(&s->net.lock);
	if (s->net.stopping) {
		pthread_mutex_unlock(&s->net.lock);
		close(fd);
		pthread_mutex_destroy(&c->send_lock);
		free(c);
		return terr(ESHUTDOWN, "the iscsi target is shutting down");
	}
	c->id = ++s->next_id;
	sock_srv_conn_link(&s->net, &c->link, fd);
	int timeout = s->login_timeout;
	c->mrdsl_in = s->mrdsl;
	c->mrdsl_out = ISCSI_LOGIN_MRDSL;
	c->maxburst = 262144;  /* RFC 7143 defaults until negotiated */
	c->firstburst = 65536;
	c->maxr2t = 1;
	c->immediate = 1;
	c->initial_r2t = 1;
	pthread_mutex_unlock(&s->net.lock);

	if (timeout)
		set_rcvtimeo(fd, timeout);
	int rc = iscsi_login(c);
	if (rc == 0) {
		if (timeout)
			set_rcvtimeo(fd, 0);
		if (c->maxburst < 512)
			c->maxburst = 512;
		rc = iscsi_ffp(c);
	} else if (rc == 1) {
		rc = 0;
	}
	if (rc < 0)
		iscsi_log(c, "%s", terr_msg());
	char msg[TERR_MSG_MAX];
	int code = terr_code();
	snprintf(msg, sizeof(msg), "%s", terr_msg());
	iscsi_lus_close(c);
	free(c->rbuf);
	free(c->rxb.rdbuf);
	free(c->rxb.tbuf);
	free(c->textout);
	free(c->textin);

	pthread_mutex_lock(&s->net.lock);
	sock_srv_conn_unlink(&s->net, &c->link);
	pthread_mutex_unlock(&s->net.lock);
	linger_close(fd);
	pthread_mutex_destroy(&c->send_lock);
	free(c);
	if (rc < 0)
		terr(code ? code : -rc, "%s", msg);
	return rc;
}

void iscsi_srv_free(iscsi_target_srv_t *s)
{
	if (!s)
		return;
	sock_srv_stop(&s->net); /* every connection disconnected and its thread ended */
	while (s->lus) { /* states kept for reservations of LUs nobody has open */
		iscsi_lustate_t *st = s->lus;
		s->lus = st->next;
		pthread_mutex_destroy(&st->lock);
		free(st->target);
		free(st);
	}
	sock_srv_destroy(&s->net);
	free(s);
}
