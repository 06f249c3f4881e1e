/* util/sock_srv.h — the connection side of a network server (nbd, iscsi), protocol-free:
 * listening sockets with one accept thread each, one detached thread per accepted connection
 * (at most max_conns at a time; more are accepted and closed at once), the list of running
 * connections, and a stop that disconnects them and waits for every connection thread.
 *
 * The owner embeds a sock_srv_t in its server object and may keep its own state under
 * v->lock (which is why the fields are visible). Connections are served by the owner's
 * serve(arg, fd) callback, which owns fd; one-line messages (without a prefix) go to the
 * owner's log(arg, msg). */
#ifndef TARN_UTIL_SOCK_SRV_H
#define TARN_UTIL_SOCK_SRV_H

#include <pthread.h>
#include <stddef.h>

/* A running connection, embedded in the owner's connection object. */
typedef struct sock_conn {
	int fd;
	struct sock_conn *prev, *next;
} sock_conn_t;

struct sock_listener;

typedef struct sock_srv {
	pthread_mutex_t lock;   /* guards every field below; the owner may put its own state under it */
	pthread_cond_t idle;    /* broadcast whenever a connection or a connection thread ends */
	sock_conn_t *conns;     /* linked by sock_srv_conn_link (doubly linked) */
	int nconns;
	int nthreads;           /* connection threads started by listeners, not yet finished */
	int max_conns;          /* listeners accept and close beyond this */
	int stopping;           /* set by sock_srv_stop: no new connections */
	struct sock_listener **listeners;
	size_t nlisteners, caplisteners;
	int wake[2];            /* a byte in wake[1] stops every accept thread */
	void (*serve)(void *arg, int fd);
	void (*log)(void *arg, const char *msg);
	void *arg;
} sock_srv_t;

/* Initialise v (the wake pipe, lock and condition). 0, or a negative errno with the message
 * ("pipe: ...") and nothing to undo. */
int sock_srv_init(sock_srv_t *v, int max_conns, void (*serve)(void *arg, int fd),
		  void (*log)(void *arg, const char *msg), void *arg);

/* Release what sock_srv_init and sock_srv_listen took. Call after sock_srv_stop. */
void sock_srv_destroy(sock_srv_t *v);

/* Listen on where and start its accept thread. where is a Unix socket path if unix_ok and it
 * holds a '/', otherwise a TCP address (sock_listen_tcp, with default_port). Returns the bound
 * TCP port (0 for a Unix socket) or a negative errno with the message. */
int sock_srv_listen(sock_srv_t *v, const char *where, const char *default_port, int unix_ok);

/* At most n (at least 1) connection threads at a time. */
void sock_srv_set_max_conns(sock_srv_t *v, int n);

/* How many connections are linked now. */
int sock_srv_conns(sock_srv_t *v);

/* Link c (socket fd) into the running connections; sock_srv_stop shuts fd down. The caller
 * holds v->lock and has checked v->stopping. */
void sock_srv_conn_link(sock_srv_t *v, sock_conn_t *c, int fd);

/* Unlink c and broadcast v->idle. The caller holds v->lock; it closes the socket itself. */
void sock_srv_conn_unlink(sock_srv_t *v, sock_conn_t *c);

/* Stop: refuse new connections, shut every linked connection's socket down (again each time
 * one ends), join the accept threads (closing the listening sockets, unlinking Unix socket
 * files), and wait until no connection is linked and no connection thread runs. */
void sock_srv_stop(sock_srv_t *v);

#endif
