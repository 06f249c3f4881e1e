/* daemon/sync.c — tarnd's sync thread: commits the open txg of every pool with dirty data
 * every --txg-timeout seconds, and at once when a writer has buffered half the dirty limit
 * (daemon_write_throttle kicks it). Its commits let the pool lock go while data blocks are
 * written (daemon_pool_sync), so volume I/O goes on into the next txg. */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/internal.h"
#include "util/err.h"

static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kick_cond;
static int kicked, stopping, running;
static unsigned timeout_s;
static pthread_t thread;

void daemon_sync_kick(void)
{
	pthread_mutex_lock(&kick_lock);
	if (!kicked) {
		kicked = 1;
		pthread_cond_signal(&kick_cond);
	}
	pthread_mutex_unlock(&kick_lock);
}

static void *sync_main(void *arg)
{
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += timeout_s;
		pthread_mutex_lock(&kick_lock);
		while (!kicked && !stopping && pthread_cond_timedwait(&kick_cond, &kick_lock, &until) != ETIMEDOUT)
			;
		kicked = 0;
		int stop = stopping;
		pthread_mutex_unlock(&kick_lock);
		if (stop)
			return NULL;
		daemon_sync_all();
	}
}

int daemon_sync_start(unsigned timeout)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&kick_cond, &ca);
	pthread_condattr_destroy(&ca);
	timeout_s = timeout ? timeout : 5;
	stopping = 0;
	if (pthread_create(&thread, NULL, sync_main, NULL) != 0)
		return terr(EAGAIN, "cannot start the sync thread");
	running = 1;
	return 0;
}

void daemon_sync_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&kick_lock);
	stopping = 1;
	pthread_cond_signal(&kick_cond);
	pthread_mutex_unlock(&kick_lock);
	pthread_join(thread, NULL);
	running = 0;
}
