/* daemon/host.c — the table of pools tarnd holds, their locks, commits and reloads (see
 * daemon.h for the concurrency model). */
#include "daemon/daemon.h"

#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "pool/known.h"
#include "util/err.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static daemon_pool_t *table;
static int active;

int daemon_active(void) { return active; }
void daemon_set_active(int on) { active = on; }

/* Import name from the known-pools cache and open its datasets. */
static int import_known(const char *name, pool_t **pool, dsl_t **dsl)
{
	known_pool_t *k;
	int n;
	TRY(known_load(&k, &n));
	int rc = terr(ENOENT, "no such pool");
	for (int i = 0; i < n; i++)
		if (!strcmp(k[i].name, name)) {
			rc = pool_import(k[i].nvdevs, k[i].paths, POOL_IMPORT_OPEN, pool);
			break;
		}
	known_free(k, n);
	if (rc < 0)
		return rc;
	rc = dsl_open(*pool, dsl);
	if (rc < 0) {
		pool_close(*pool);
		*pool = NULL;
	}
	return rc;
}

int daemon_pool_get(const char *name, daemon_pool_t **out)
{
	pthread_mutex_lock(&table_lock);
	for (daemon_pool_t *p = table; p; p = p->next)
		if (!strcmp(p->name, name)) {
			p->refs++;
			pthread_mutex_unlock(&table_lock);
			*out = p;
			return 0;
		}
	/* imported under the table lock: two commands naming a new pool import it once */
	pool_t *pool;
	dsl_t *dsl;
	int rc = import_known(name, &pool, &dsl);
	if (rc < 0) {
		pthread_mutex_unlock(&table_lock);
		return rc;
	}
	daemon_pool_t *p = calloc(1, sizeof(*p));
	if (!p) {
		dsl_close(dsl);
		pool_close(pool);
		pthread_mutex_unlock(&table_lock);
		return terr(ENOMEM, "out of memory");
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	/* held briefly by many I/O workers: spin a little before sleeping (each sleep and wakeup
	 * costs two context switches, more than most critical sections under it) */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&p->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_cond_init(&p->cond, NULL);
	p->pool = pool;
	p->dsl = dsl;
	p->refs = 2; /* the table's and the caller's */
	p->next = table;
	table = p;
	pthread_mutex_unlock(&table_lock);
	daemon_log("imported pool '%s'", name);
	*out = p;
	return 0;
}

void daemon_pool_put(daemon_pool_t *dp)
{
	pthread_mutex_lock(&table_lock);
	int last = --dp->refs == 0;
	pthread_mutex_unlock(&table_lock);
	if (!last)
		return;
	if (dp->dsl)
		dsl_close(dp->dsl);
	if (dp->pool)
		pool_close(dp->pool);
	pthread_mutex_destroy(&dp->lock);
	pthread_cond_destroy(&dp->cond);
	free(dp);
}

static void unlink_from_table(daemon_pool_t *dp)
{
	pthread_mutex_lock(&table_lock);
	for (daemon_pool_t **pp = &table; *pp; pp = &(*pp)->next)
		if (*pp == dp) {
			*pp = dp->next;
			dp->refs--; /* the table's reference; the caller still holds one */
			break;
		}
	pthread_mutex_unlock(&table_lock);
}

/* Throw the in-memory state away and import the pool afresh (locked, no users). The caller's
 * error (terr) is kept: it is what its command reports. */
static int reload(daemon_pool_t *dp)
{
	char msg[TERR_MSG_MAX];
	int code = terr_code();
	snprintf(msg, sizeof(msg), "%s", terr_msg());
	if (dp->dsl)
		dsl_close(dp->dsl);
	if (dp->pool)
		pool_close(dp->pool);
	dp->dsl = NULL;
	dp->pool = NULL;
	dp->gen++;
	int rc = import_known(dp->name, &dp->pool, &dp->dsl);
	dp->poisoned = 0;
	pthread_cond_broadcast(&dp->cond);
	if (rc < 0)
		daemon_log("pool '%s': reload after a failed command failed: %s", dp->name, terr_msg());
	else
		daemon_log("pool '%s': reloaded from its last commit after a failed command", dp->name);
	terr(code, "%s", msg);
	return rc;
}

static int lock_waiting(daemon_pool_t *dp, int settled)
{
	pthread_mutex_lock(&dp->lock);
	while ((dp->poisoned && (dp->users > 0 || dp->syncing)) || (settled && dp->syncing))
		pthread_cond_wait(&dp->cond, &dp->lock);
	if (dp->poisoned)
		reload(dp);
	if (dp->evicted || !dp->pool) {
		pthread_mutex_unlock(&dp->lock);
		return dp->evicted ? terr(ENOENT, "no such pool") : terr(EIO, "pool '%s' could not be reloaded", dp->name);
	}
	return 0;
}

int daemon_pool_lock(daemon_pool_t *dp) { return lock_waiting(dp, 0); }
int daemon_pool_lock_settled(daemon_pool_t *dp) { return lock_waiting(dp, 1); }

void daemon_pool_unlock(daemon_pool_t *dp) { pthread_mutex_unlock(&dp->lock); }

/* TARN_TEST_SYNC_DELAY_MS (tests only): each phase of a background commit that runs without
 * the lock lasts at least this long, which widens the windows in which I/O and commits race. */
static void sync_unlock(void *arg)
{
	static int delay_ms = -1;
	if (delay_ms < 0) {
		const char *e = getenv("TARN_TEST_SYNC_DELAY_MS");
		delay_ms = e && *e ? atoi(e) : 0;
	}
	pthread_mutex_unlock(&((daemon_pool_t *)arg)->lock);
	if (delay_ms > 0)
		usleep((useconds_t)(delay_ms > 1000 ? 1000 : delay_ms) * 1000);
}
static void sync_lock(void *arg) { pthread_mutex_lock(&((daemon_pool_t *)arg)->lock); }

int daemon_pool_sync(daemon_pool_t *dp)
{
	while (dp->syncing) /* its data may be installed already (no longer dirty) but not committed */
		pthread_cond_wait(&dp->cond, &dp->lock);
	if (dp->dsl && dsl_dirty_bytes(dp->dsl) == 0)
		return 0; /* the last commit holds everything written */
	if (dp->poisoned || !dp->dsl)
		return terr(EIO, "pool '%s' is being reloaded after a failed command", dp->name);
	if (dp->pool->suspended)
		return terr(EIO, "pool '%s': I/O is suspended after an earlier error", dp->name);
	const dsl_unlock_t ul = { sync_unlock, sync_lock, dp };
	dp->syncing = 1;
	int rc = dsl_commit_ex(dp->dsl, &ul);
	dp->syncing = 0;
	if (rc == 0)
		dp->commits++;
	pthread_cond_broadcast(&dp->cond);
	return rc;
}

int daemon_write_throttle(daemon_pool_t *dp, uint64_t bytes, daemon_relock_fn relock, void *ctx, vol_t **v)
{
	uint64_t max = dsl_dirty_max();
	int waited = 0, rc = 0;
	while (dsl_dirty_bytes(dp->dsl) + bytes > max && dsl_dirty_bytes(dp->dsl) > 0) {
		if (dp->syncing)
			pthread_cond_wait(&dp->cond, &dp->lock); /* the running commit frees room */
		else if ((rc = daemon_pool_sync(dp)) < 0)
			break;
		waited = 1;
		if (!dp->dsl) /* evicted or reloaded meanwhile: relock says what became of us */
			break;
	}
	if (waited) {
		int r = relock(ctx, v);
		if (rc == 0)
			rc = r;
	}
	if (rc == 0 && !dp->syncing && dsl_dirty_bytes(dp->dsl) + bytes > max / 2)
		daemon_sync_kick();
	return rc;
}

int daemon_pool_commit(daemon_pool_t *dp)
{
	if (dp->syncing) /* never: commands lock settled */
		return terr(EBUSY, "pool '%s': a background commit is running", dp->name);
	if (dp->poisoned)
		return terr(EIO, "pool '%s' is being reloaded after a failed command", dp->name);
	int rc = dsl_commit(dp->dsl);
	if (rc == 0)
		dp->commits++;
	return rc;
}

int daemon_pool_begin(daemon_pool_t *dp, int rw, uint64_t *changes)
{
	if (rw && dsl_dirty_bytes(dp->dsl) > 0)
		TRY(daemon_pool_commit(dp));
	dp->users++;
	*changes = dsl_thread_changes;
	return 0;
}

void daemon_pool_end(daemon_pool_t *dp, int failed, uint64_t changes)
{
	dp->users--;
	/* a failure poisons the pool only if it changed something and left it uncommitted (a
	 * receive that cleaned up after itself and committed has nothing to throw away) */
	if (failed && dp->dsl && dsl_thread_changes != changes && dp->dsl->changes != dp->dsl->committed_changes) {
		dp->poisoned = 1;
		dp->dsl->abandoned = 1;
	}
	if (dp->poisoned && dp->users == 0)
		reload(dp);
	pthread_cond_broadcast(&dp->cond);
}

void daemon_pool_evict(daemon_pool_t *dp, pool_t **pool, dsl_t **dsl)
{
	daemon_exports_kick_pool(dp->name);
	*pool = dp->pool;
	*dsl = dp->dsl;
	dp->pool = NULL;
	dp->dsl = NULL;
	dp->evicted = 1;
	dp->gen++;
	pthread_cond_broadcast(&dp->cond);
	unlink_from_table(dp);
	daemon_log("pool '%s' left tarnd", dp->name);
}

int daemon_pools(daemon_pool_t ***out, int *n)
{
	pthread_mutex_lock(&table_lock);
	int cnt = 0;
	for (daemon_pool_t *p = table; p; p = p->next)
		cnt++;
	daemon_pool_t **v = calloc((size_t)cnt + 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&table_lock);
		return terr(ENOMEM, "out of memory");
	}
	cnt = 0;
	for (daemon_pool_t *p = table; p; p = p->next) {
		p->refs++;
		v[cnt++] = p;
	}
	pthread_mutex_unlock(&table_lock);
	*out = v;
	*n = cnt;
	return 0;
}

/* At shutdown: commit and close every pool (the known cache keeps them for the next start). */
void daemon_pools_close_all(void)
{
	for (;;) {
		pthread_mutex_lock(&table_lock);
		daemon_pool_t *p = table;
		if (p)
			p->refs++;
		pthread_mutex_unlock(&table_lock);
		if (!p)
			return;
		pthread_mutex_lock(&p->lock);
		while (p->syncing)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->pool && !p->poisoned && !p->pool->suspended && dsl_dirty_bytes(p->dsl) > 0 &&
		    daemon_pool_commit(p) < 0)
			daemon_log("pool '%s': final commit failed: %s", p->name, terr_msg());
		pool_t *pool;
		dsl_t *dsl;
		daemon_pool_evict(p, &pool, &dsl);
		pthread_mutex_unlock(&p->lock);
		if (dsl)
			dsl_close(dsl);
		if (pool)
			pool_close(pool);
		daemon_pool_put(p);
	}
}
