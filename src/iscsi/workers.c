/* iscsi/workers.c — a connection's worker threads and its task table (iscsi_wq_t in conn.h).
 *
 * The connection's thread, the reader, receives every PDU and does all the sequencing (CmdSN
 * window, data-out with R2Ts and DataSN, task table, TMF, NOP, Text, Logout). A SCSI command
 * whose data-out is complete is handed to a worker (iscsi_wq_submit), which executes it and
 * sends its Data-In and SCSI Response itself. Commands therefore complete out of order, as
 * iSCSI allows by task tag; every PDU goes out whole under the connection's send lock, which
 * also assigns StatSN, so StatSN follows the order of the responses on the wire.
 *
 * Task slots: the reader takes a free one for a new command (TASK_RX, its own); submitting it
 * makes it TASK_RUN, the worker's, until the worker released it (after its response). Slot
 * states change only under wq.lock, and the reader looks at other threads' slots only there.
 * Workers wait on `work` (signalled once per queued task), the reader on `done` (signalled
 * only while it waits: draining, aborting, or no free slot). Threads start with the first
 * command handed over; TARN_ISCSI_WORKERS=1 runs every command in the reader, one at a time, in
 * order. A worker whose send fails records the error and shuts the socket's reading side down,
 * which ends the reader's loop. */
#include "iscsi/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/err.h"

static int workers_wanted(void)
{
	const char *e = getenv("TARN_ISCSI_WORKERS");
	long n = e && *e ? strtol(e, NULL, 10) : 8;
	return n < 1 ? 1 : n > ISCSI_MAX_WORKERS ? ISCSI_MAX_WORKERS : (int)n;
}

void iscsi_wq_init(iscsi_conn_t *c)
{
	iscsi_wq_t *q = &c->wq;
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->done, NULL);
	q->want = workers_wanted();
	for (int i = 0; i < ISCSI_MAX_WORKERS; i++)
		q->xb[i].c = c;
	c->rxb.c = c;
}

int iscsi_wq_parallel(const iscsi_conn_t *c) { return c->wq.want > 1; }

/* With q->lock: free slot t (its data-out buffer was freed by the caller). */
static void release_locked(iscsi_conn_t *c, iscsi_task_t *t)
{
	iscsi_wq_t *q = &c->wq;
	q->wbytes -= t->wres;
	int ran = t->state == TASK_RUN;
	memset(t, 0, sizeof(*t));
	c->ntasks--;
	if (ran) {
		q->running--;
		if (q->done_waiters)
			pthread_cond_signal(&q->done); /* only the reader ever waits on it */
	}
}

void iscsi_task_release(iscsi_conn_t *c, iscsi_task_t *t)
{
	free(t->buf);
	t->buf = NULL;
	pthread_mutex_lock(&c->wq.lock);
	release_locked(c, t);
	pthread_mutex_unlock(&c->wq.lock);
}

/* With q->lock: wait for a worker to release a task. */
static void wait_done(iscsi_wq_t *q)
{
	q->done_waiters++;
	pthread_cond_wait(&q->done, &q->lock);
	q->done_waiters--;
}

iscsi_task_t *iscsi_task_new(iscsi_conn_t *c, uint32_t itt, int *dup)
{
	iscsi_wq_t *q = &c->wq;
	iscsi_task_t *t;
	*dup = 0;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		iscsi_task_t *free_slot = NULL;
		int busy = 0;
		for (int i = 0; i < ISCSI_MAX_TASKS; i++) {
			t = &c->tasks[i];
			if (t->state == TASK_FREE) {
				if (!free_slot)
					free_slot = t;
			} else if (t->itt == itt) {
				if (t->state == TASK_RX) {
					*dup = 1;
					pthread_mutex_unlock(&q->lock);
					return NULL;
				}
				busy = 1; /* running: its response may be out already, the slot not yet free */
			}
		}
		if (!busy && (free_slot || q->running == 0)) {
			t = free_slot;
			break;
		}
		wait_done(q);
	}
	if (t) {
		t->state = TASK_RX;
		t->itt = itt;
		t->xb = &c->rxb;
		c->ntasks++; /* before the caller moves ExpCmdSN (see pdu.c) */
	}
	pthread_mutex_unlock(&q->lock);
	return t;
}

iscsi_task_t *iscsi_task_find_rx(iscsi_conn_t *c, uint32_t itt)
{
	iscsi_task_t *t = NULL;
	pthread_mutex_lock(&c->wq.lock);
	for (int i = 0; i < ISCSI_MAX_TASKS && !t; i++)
		if (c->tasks[i].state == TASK_RX && c->tasks[i].itt == itt)
			t = &c->tasks[i];
	pthread_mutex_unlock(&c->wq.lock);
	return t;
}

int iscsi_wq_wbuf_get(iscsi_conn_t *c, uint32_t n)
{
	iscsi_wq_t *q = &c->wq;
	pthread_mutex_lock(&q->lock);
	int ok = q->wbytes + n <= ISCSI_WBUF_TOTAL;
	if (ok)
		q->wbytes += n;
	pthread_mutex_unlock(&q->lock);
	return ok;
}

static void *worker(void *arg)
{
	iscsi_xbuf_t *xb = arg;
	iscsi_conn_t *c = xb->c;
	iscsi_wq_t *q = &c->wq;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->queue && !q->stop)
			pthread_cond_wait(&q->work, &q->lock);
		iscsi_task_t *t = q->queue;
		if (!t)
			break; /* stop, and nothing left to run */
		q->queue = t->next;
		if (!q->queue)
			q->qtail = NULL;
		pthread_mutex_unlock(&q->lock);
		t->xb = xb;
		terr_clear();
		int rc = iscsi_task_run(c, t);
		free(t->buf);
		t->buf = NULL;
		pthread_mutex_lock(&q->lock);
		if (rc < 0 && !q->failed) {
			q->failed = rc;
			snprintf(q->failmsg, sizeof(q->failmsg), "%s", terr_code() == -rc ? terr_msg() : strerror(-rc));
			shutdown(c->fd, SHUT_RD); /* wakes the reader */
		}
		release_locked(c, t);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Start the workers (the reader, on the first command handed over). */
static void start_workers(iscsi_conn_t *c)
{
	iscsi_wq_t *q = &c->wq;
	while (q->nthreads < q->want) {
		if (pthread_create(&q->threads[q->nthreads], NULL, worker, &q->xb[q->nthreads]) != 0)
			break;
		q->nthreads++;
	}
	if (q->nthreads == 0) {
		iscsi_log(c, "cannot start worker threads: commands run one at a time");
		q->want = 1;
	}
}

int iscsi_wq_submit(iscsi_conn_t *c, iscsi_task_t *t)
{
	iscsi_wq_t *q = &c->wq;
	if (q->want > 1 && q->nthreads == 0)
		start_workers(c);
	if (q->want <= 1) { /* no workers: here, in order */
		int rc = iscsi_task_run(c, t);
		iscsi_task_release(c, t);
		return rc;
	}
	pthread_mutex_lock(&q->lock);
	if (q->failed) { /* the connection is going away: not worth running */
		pthread_mutex_unlock(&q->lock);
		iscsi_task_release(c, t);
		return 0;
	}
	t->state = TASK_RUN;
	t->next = NULL;
	if (q->qtail)
		q->qtail->next = t;
	else
		q->queue = t;
	q->qtail = t;
	q->running++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Wait until nothing handed over is left; q->failed. */
static int wait_idle(iscsi_wq_t *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->running)
		wait_done(q);
	int rc = q->failed;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* The first worker error as this thread's error. */
static int worker_error(iscsi_wq_t *q, int rc) { return terr(-rc, "%s", q->failmsg); }

int iscsi_wq_drain(iscsi_conn_t *c)
{
	int rc = wait_idle(&c->wq);
	return rc < 0 ? worker_error(&c->wq, rc) : 0;
}

int iscsi_wq_abort(iscsi_conn_t *c, int itt_only, uint32_t itt, int all, uint64_t lun)
{
	iscsi_wq_t *q = &c->wq;
	int n = 0;
	pthread_mutex_lock(&q->lock);
#define MATCH(t) ((itt_only ? (t)->itt == itt : all || (t)->lun == lun))
	for (int i = 0; i < ISCSI_MAX_TASKS; i++) {
		iscsi_task_t *t = &c->tasks[i];
		if (t->state == TASK_FREE || !MATCH(t))
			continue;
		if (t->state == TASK_RX) { /* the reader's: gone at once */
			free(t->buf);
			t->buf = NULL;
			release_locked(c, t);
			n++;
		} else {
			int none = 0; /* unless its status is going out already (2): then it completed */
			if (__atomic_compare_exchange_n(&t->aborted, &none, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) ||
			    none == 1)
				n++;
		}
	}
	for (;;) { /* the running ones end (aborted: without data-in or response) before the TMF answers */
		int left = 0;
		for (int i = 0; i < ISCSI_MAX_TASKS && !left; i++)
			left = c->tasks[i].state == TASK_RUN && MATCH(&c->tasks[i]);
		if (!left)
			break;
		wait_done(q);
	}
#undef MATCH
	pthread_mutex_unlock(&q->lock);
	return n;
}

int iscsi_wq_fini(iscsi_conn_t *c, int rc)
{
	iscsi_wq_t *q = &c->wq;
	int wrc = wait_idle(q); /* every command handed over runs to its end */
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	for (int i = 0; i < q->nthreads; i++) {
		pthread_join(q->threads[i], NULL);
		free(q->xb[i].rdbuf);
		free(q->xb[i].tbuf);
	}
	for (int i = 0; i < ISCSI_MAX_TASKS; i++)
		if (c->tasks[i].state == TASK_RX)
			iscsi_task_release(c, &c->tasks[i]);
	if (rc >= 0 && wrc < 0)
		rc = worker_error(q, wrc);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->done);
	return rc;
}
