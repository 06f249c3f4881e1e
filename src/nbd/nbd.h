/* nbd/nbd.h — an NBD server (NetworkBlockDevice/nbd doc/proto.md): fixed newstyle handshake,
 * option haggling, structured replies, meta contexts, the transmission phase. It knows nothing
 * of pools: exports are reached through a backend (nbd_backend_t) that the daemon implements
 * over volumes and a test or fuzz target implements over memory.
 *
 * Threads: nbd_serve_conn runs one connection to its end in the calling thread; any number of
 * connections may run at once, so backend functions must be thread-safe. The listener helpers
 * start one thread per accepted connection. Errors follow util/err.h (0 / -errno + terr). */
#ifndef TARN_NBD_NBD_H
#define TARN_NBD_NBD_H

#include <stddef.h>
#include <stdint.h>

/* What the backend says about an export when a client selects it. */
typedef struct nbd_export_info {
	uint64_t size;        /* bytes */
	uint32_t pref_block;  /* preferred block size (volblocksize); power of two, 512..2M */
	int readonly;         /* snapshots, sharenbd=ro */
	int can_trim;         /* TRIM frees blocks */
	int can_zero;         /* WRITE_ZEROES; fast zero (FAST_ZERO) too when can_fast_zero */
	int can_fast_zero;
	int can_cache;
	int can_multi_conn;   /* FLUSH on one connection covers writes of all */
	const char *description; /* may be NULL; for NBD_INFO_DESCRIPTION */
} nbd_export_info_t;

/* One extent for BLOCK_STATUS: length in bytes and context-specific flags. For
 * "base:allocation" the flags are NBD_STATE_HOLE (1) | NBD_STATE_ZERO (2). */
typedef int (*nbd_extent_fn)(void *cbarg, uint64_t len, uint32_t flags);

typedef struct nbd_backend {
	void *arg; /* passed to list/open/meta_* */
	/* Call cb(cbarg, name, description-or-NULL) for every export (OPT_LIST). */
	int (*list)(void *arg, int (*cb)(void *cbarg, const char *name, const char *desc), void *cbarg);
	/* Open an export by name for one connection. -ENOENT: unknown export (NBD_REP_ERR_UNKNOWN).
	 * *h is passed to every call below and released with close. */
	int (*open)(void *arg, const char *name, void **h, nbd_export_info_t *info);
	void (*close)(void *h);
	/* I/O; off/len already checked against the export size by the server. fua: return only
	 * once the data is durable. Errors -EIO, -ENOSPC, -EROFS... become NBD_E* replies. */
	int (*read)(void *h, uint64_t off, uint32_t len, void *buf);
	int (*write)(void *h, uint64_t off, uint32_t len, const void *buf, int fua);
	/* may_trim: without NBD_CMD_FLAG_NO_HOLE the range may become a hole. fast: FAST_ZERO was
	 * asked; return -ENOTSUP if zeroing would not be fast (server replies NBD_ENOTSUP). */
	int (*zero)(void *h, uint64_t off, uint32_t len, int may_trim, int fast, int fua);
	int (*trim)(void *h, uint64_t off, uint32_t len, int fua);
	int (*flush)(void *h);
	int (*cache)(void *h, uint64_t off, uint32_t len);
	/* Meta contexts other than "base:" (which the server answers itself via extents with
	 * ctx "base:allocation"). list_meta: call cb for every context of export matching
	 * query (a namespace "tarn:" or a full name; empty query = all). check_meta: 0 if
	 * ctxname is valid for export, -ENOENT if not. Either may be NULL (no other contexts). */
	int (*list_meta)(void *arg, const char *export, const char *query,
			 int (*cb)(void *cbarg, const char *ctxname), void *cbarg);
	int (*check_meta)(void *arg, const char *export, const char *ctxname);
	/* BLOCK_STATUS: describe [off, off+len) from off onwards for context ctxname (one of
	 * "base:allocation" or a name check_meta accepted) by calling cb with consecutive
	 * extents; at least one extent, and may stop early (cb returning 1 means "enough"). */
	int (*extents)(void *h, const char *ctxname, uint64_t off, uint64_t len, nbd_extent_fn cb, void *cbarg);
	/* Has this export gone away (sharenbd turned off, dataset destroyed)? Checked before each
	 * request; when true the server disconnects the client cleanly. May be NULL. */
	int (*gone)(void *h);
} nbd_backend_t;

typedef struct nbd_server nbd_server_t;

/* A server over backend be (copied). Returns NULL (terr set) on failure. */
nbd_server_t *nbd_server_new(const nbd_backend_t *be);
/* Stops listeners, disconnects every client, waits for their threads, frees. */
void nbd_server_free(nbd_server_t *s);
/* Serve one connected socket to its end (handshake, then requests) in this thread; closes fd.
 * Returns 0 on a clean end (NBD_CMD_DISC, OPT_ABORT, client closed between requests), -errno
 * on protocol violation or I/O error (logged through the server's log function). */
int nbd_serve_conn(nbd_server_t *s, int fd);
/* Listen on "ADDR:PORT" (IPv4/IPv6 literal or host name; "[::1]:10809") or a Unix socket path
 * (anything containing '/'), accept in a background thread, one thread per connection.
 * Returns the bound TCP port (useful with port 0), 0 for a Unix socket, or -errno. A Unix
 * socket file left by a dead server is replaced; nbd_server_free unlinks it. */
int nbd_server_listen(nbd_server_t *s, const char *where);
/* Disconnect every client connected to export name (shutdown of their sockets) — used when an
 * export is removed at run time. */
void nbd_server_kick(nbd_server_t *s, const char *name);
/* Log sink (default: stderr, one line per event). */
void nbd_server_set_log(nbd_server_t *s, void (*log)(void *arg, const char *line), void *arg);
/* At most n connections from the listeners at once (default 256); more are accepted and closed. */
void nbd_server_set_max_conns(nbd_server_t *s, int n);
/* A client must finish the handshake within this many seconds (default 60; 0: no limit). Set
 * before connections start; the transmission phase has no idle limit. */
void nbd_server_set_handshake_timeout(nbd_server_t *s, int seconds);
/* Connections being served right now (handshake or transmission). */
int nbd_server_conns(nbd_server_t *s);

#endif
