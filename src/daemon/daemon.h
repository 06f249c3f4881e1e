/* daemon/daemon.h — tarnd: one process owns the imported pools, runs CLI commands for callers
 * that reach it over a Unix control socket (argv + their stdin/stdout/stderr via SCM_RIGHTS),
 * commits transaction groups in the background and serves volumes over NBD.
 *
 * Concurrency model: each imported pool has one mutex (daemon_pool_t.lock). Whoever touches
 * its pool_t/dsl_t holds it: a command from open to close, an NBD request for its duration,
 * the sync thread for a commit. Long streams (send, receive) release it while they wait on
 * their pipe (daemon_stream_fdopen), and mark the datasets they use busy (dsl_busy) so that
 * nothing they point at is destroyed meanwhile. */
#ifndef TARN_DAEMON_DAEMON_H
#define TARN_DAEMON_DAEMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "dsl/dsl.h"
#include "pool/pool.h"
#include "vol/vol.h"

typedef struct daemon_pool {
	char name[POOL_NAME_MAX];
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* signalled when users drop or a reload finishes */
	pool_t *pool;         /* NULL once evicted or when a reload failed */
	dsl_t *dsl;
	uint64_t gen;         /* bumped whenever pool/dsl are replaced: cached pointers are stale */
	int users;            /* commands between open and close (under lock) */
	int poisoned;         /* a failed command left half-done changes: commit nothing, reload
			       * as soon as no command uses the pool */
	int evicted;          /* exported or destroyed by a command: gone from the table */
	int refs;             /* references (table lock) */
	uint64_t commits;     /* txgs committed by the daemon (sync thread, flushes, commands) */
	int syncing;          /* a commit runs with the lock let go (daemon_pool_sync): only
			       * volume I/O may use the pool meanwhile */
	struct daemon_pool *next;
} daemon_pool_t;

/* Is this process tarnd? (set by daemon_main) */
int daemon_active(void);

/* Find the pool `name`, importing it from the known-pools cache if tarnd does not hold it yet.
 * Returns it referenced, not locked; -ENOENT "no such pool", or the import's error. */
int daemon_pool_get(const char *name, daemon_pool_t **out);
void daemon_pool_put(daemon_pool_t *dp);
/* Lock for volume I/O: waits while the pool is poisoned with users left, reloads it once they
 * are gone. Fails (unlocked) with -ENOENT when the pool was evicted, -EIO when it cannot be
 * reloaded. A background commit may be running (dp->syncing) while the lock is held this way. */
int daemon_pool_lock(daemon_pool_t *dp);
/* Lock for anything else (commands, streams taking the lock back): as daemon_pool_lock, and
 * also waits until no background commit is running. */
int daemon_pool_lock_settled(daemon_pool_t *dp);
/* With dp locked for volume I/O: make everything written so far durable. Waits for a commit
 * already running (its blocks may no longer be dirty yet not committed), then commits the open
 * txg if anything is dirty, letting the lock go while data blocks are written. Volume pointers
 * the caller holds must be looked up again afterwards. */
int daemon_pool_sync(daemon_pool_t *dp);

void daemon_pool_unlock(daemon_pool_t *dp);
/* A command begins / ends using the (locked) pool. begin commits data that NBD clients wrote
 * so that a failed command can throw its own changes away without losing theirs. end with
 * failed = 1, when this thread changed something and changes are uncommitted, poisons the
 * pool (reloaded from its last commit when no user is left). */
int daemon_pool_begin(daemon_pool_t *dp, int rw, uint64_t *changes_at_begin);
void daemon_pool_end(daemon_pool_t *dp, int failed, uint64_t changes_at_begin);
/* Commit the pool's open txg (locked). */
int daemon_pool_commit(daemon_pool_t *dp);
/* Take the (locked) pool out of the table and hand its pool_t/dsl_t to the caller (zpool
 * export/destroy): NBD clients are disconnected, other users fail. */
void daemon_pool_evict(daemon_pool_t *dp, pool_t **pool, dsl_t **dsl);
/* The table, for listings: a referenced array of every held pool (caller puts each, frees). */
int daemon_pools(daemon_pool_t ***out, int *n);

/* A FILE for a command's stream on fd (mode "r" or "w") that releases dp's lock while it waits
 * on the fd, and fails with ECANCELED when the caller hung up or ESTALE when the pool was
 * reloaded meanwhile. fd stays open after fclose. */
FILE *daemon_stream_fdopen(int fd, const char *mode, daemon_pool_t *dp);

/* Block-export I/O (volio.c), with dp locked by the caller and *v its volume; dp stays locked.
 * relock(ctx, v) is called with dp locked again after a phase without the lock, to look the
 * volume up anew (after a reload); it fails when the export went away.
 * daemon_vol_read: read [off, off+len) into buf; stored blocks are read and verified without the
 * lock (several requests overlap at the disk), a block reused meanwhile is read again under it.
 * daemon_vol_prefetch: before a write, read its partial first/last blocks the same way and
 * install them as dirty data, so the write's read-modify-write needs no read under the lock. */
typedef int (*daemon_relock_fn)(void *ctx, vol_t **v);
/* With dp locked for volume I/O, before buffering `bytes` more dirty data: waits (or commits)
 * while the pool's dirty data is at its limit, and asks the sync thread for a commit once half
 * of it is buffered. If the lock was let go, relock(ctx, v) looks the volume up again (its
 * failure is returned). */
int daemon_write_throttle(daemon_pool_t *dp, uint64_t bytes, daemon_relock_fn relock, void *ctx, vol_t **v);
/* A block export's handle on its volume or snapshot (volhandle.c; embedded first in the NBD
 * export and the iSCSI LU handle). name is looked up with find (NULL: not served any more);
 * while dp->gen == gen, ds is current and marked busy. readonly: opened read-only;
 * now_readonly says whether a write must be refused now (settings change while open). */
typedef struct daemon_vh {
	char name[DS_NAME_MAX * 2];
	daemon_pool_t *dp; /* referenced */
	uint64_t gen;
	dsl_ds_t *ds;
	vol_t *svol;       /* snapshots: a read-only handle of our own */
	int readonly;
	volatile int gone;
	dsl_ds_t *(*find)(dsl_t *d, const char *name);
	int (*now_readonly)(struct daemon_vh *h);
} daemon_vh_t;
/* With dp locked: drop the busy mark and the snapshot handle. */
void daemon_vh_release(daemon_vh_t *h);
/* Unlocked: release h (locking its pool) and drop its pool reference. */
void daemon_vh_close(daemon_vh_t *h);
/* With dp locked: make h current (look the dataset up again after a reload) and, if v, open
 * its volume into *v. -ESHUTDOWN (h->gone set) when it went away; the lock stays held. */
int daemon_vh_current(daemon_vh_t *h, vol_t **v);
/* Lock h's pool for volume I/O and make h current; unlocked again on failure. */
int daemon_vh_lock(daemon_vh_t *h, vol_t **v);
/* Block I/O through h (each locks and unlocks): 0 or a negative errno (-EPERM read-only,
 * -ESHUTDOWN gone, -ENOSPC, -EIO). write: fua commits before returning. zero: [off, off+len)
 * reads as zeros afterwards (whole blocks become holes); trim_only: only the whole blocks
 * (the partial ones are left as they are). flush: everything written so far is durable. */
int daemon_vh_read(daemon_vh_t *h, uint64_t off, uint32_t len, void *buf);
int daemon_vh_write(daemon_vh_t *h, uint64_t off, uint32_t len, const void *buf, int fua);
int daemon_vh_zero(daemon_vh_t *h, uint64_t off, uint64_t len, int trim_only, int fua);
int daemon_vh_flush(daemon_vh_t *h);
/* The sync thread (sync.c): commits every pool with dirty data every `timeout` seconds, and
 * when a writer asks (daemon_sync_kick). stop commits nothing itself. */
int daemon_sync_start(unsigned timeout);
void daemon_sync_kick(void);
void daemon_sync_stop(void);
int daemon_vol_read(daemon_pool_t *dp, vol_t **v, daemon_relock_fn relock, void *ctx, uint64_t off, uint32_t len,
		    void *buf);
void daemon_vol_prefetch(daemon_pool_t *dp, vol_t **v, daemon_relock_fn relock, void *ctx, uint64_t off,
			 uint32_t len);

/* Options of `tarn daemon`. */
typedef struct daemon_opts {
	const char *pidfile;   /* NULL: none */
	const char **listen;   /* NBD listeners: "ADDR:PORT" or a Unix socket path */
	int nlisten;
	int use_syslog;
	unsigned txg_timeout;  /* seconds between background commits */
	int (*dispatch)(int argc, char **argv); /* runs one command (the CLI's entry point) */
	const char *iscsi_portal; /* iSCSI listener "ADDR:PORT"; NULL: none (LUs are held busy anyway) */
} daemon_opts_t;

/* Run tarnd in the foreground until SIGTERM/SIGINT. Returns the exit status. */
int daemon_main(const daemon_opts_t *o);

/* Client side: if a tarnd answers on $TARN_HOME/tarnd.sock, run argv there with this process's
 * stdin/stdout/stderr and return its exit status (>= 0). -ENOENT: no daemon (run the command
 * here); other -errno: the daemon failed us (message in terr). */
int daemon_forward(int argc, char **argv);

/* The control socket path ($TARN_HOME/tarnd.sock). */
const char *daemon_socket_path(void);

/* tarnd's log: one line to stderr (or syslog). */
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* NBD exports (exports.c): start the server on the listeners; re-check exports after a command
 * changed something (sharenbd off, dataset gone: those clients are disconnected). */
int daemon_exports_start(const char **listen, int n);
void daemon_exports_changed(void);
void daemon_exports_stop(void);
/* Kick every NBD client of a pool (before eviction). */
void daemon_exports_kick_pool(const char *pool);

/* iSCSI (iscsi_exports.c): COMSTAR logical units (stmf.conf) as LUNs. start loads the model,
 * marks every LU's dataset busy and, with a portal ("ADDR:PORT"), starts the target; changed
 * re-reads stmf.conf if it changed and re-resolves the busy marks (after commands, pool
 * reloads); stop ends sessions and drops the marks. */
int daemon_iscsi_start(const char *portal);
void daemon_iscsi_changed(void);
void daemon_iscsi_stop(void);
/* Initiators with an LU of target open (stmfadm/itadm list-target). */
int daemon_iscsi_sessions(const char *target);
/* The backend over the model and volumes (for the target server and tests). */
struct iscsi_backend;
void daemon_iscsi_backend(struct iscsi_backend *be);

#endif
