/* iscsi/iscsi.h — an iSCSI target (RFC 7143) with SCSI block devices (SBC-3/SPC-4) as logical
 * units. It knows nothing of pools: targets, their LUNs and the LU data are reached through a
 * backend (iscsi_backend_t) that tarnd implements over volumes (with COMSTAR-style views) and a
 * test or fuzz target implements over memory.
 *
 * Threads: one thread per connection that receives its PDUs, and up to TARN_ISCSI_WORKERS (1..32,
 * default 8) worker threads per connection that run its READs and WRITEs, several at once on
 * the same LU handle: backend functions must be thread-safe. Errors follow util/err.h (0 /
 * -errno + terr). */
#ifndef TARN_ISCSI_ISCSI_H
#define TARN_ISCSI_ISCSI_H

#include <stddef.h>
#include <stdint.h>

/* A logical unit as the backend describes it when a session looks it up. */
typedef struct iscsi_lu_info {
	uint64_t blocks;         /* number of logical blocks */
	uint32_t block_size;     /* logical block size in bytes (512 or 4096) */
	uint32_t opt_xfer_blocks;/* optimal transfer length (block limits VPD), e.g. volblocksize/bs */
	uint8_t naa[16];         /* NAA IEEE Registered Extended id (type 6), e.g. 600144F0... */
	char serial[33];         /* unit serial number (VPD 0x80), NUL-terminated */
	char product[17];        /* INQUIRY product id */
	int readonly;            /* snapshots: WRITE gets DATA PROTECT / write protected */
	int thin;                /* logical block provisioning: UNMAP / WRITE SAME with UNMAP, LBPME */
	int write_cache;         /* WCE bit of the caching mode page (COMSTAR wcd=false => 1) */
	uint8_t lbppbe;          /* logical blocks per physical block exponent (READ CAPACITY 16),
				  * e.g. 3 for 512-byte blocks on 4 KiB volblocks; 0 = same size */
} iscsi_lu_info_t;

typedef struct iscsi_backend {
	void *arg;
	/* Targets this portal offers to initiator iqn (SendTargets): cb(cbarg, target_iqn). */
	int (*list_targets)(void *arg, const char *initiator, int (*cb)(void *cbarg, const char *iqn), void *cbarg);
	/* Login check of a normal session: 0 if initiator may log in to target; -ENOENT unknown
	 * target, -EACCES not allowed. chap_* (may be NULL): the backend's CHAP secrets for this
	 * target (one-way: chap_secret for the initiator's name; mutual: target_secret). */
	int (*login)(void *arg, const char *target, const char *initiator, char *chap_user, size_t ulen,
		     char *chap_secret, size_t slen, char *target_secret, size_t tslen);
	/* The LUNs the initiator sees on target (REPORT LUNS): cb(cbarg, lun). */
	int (*list_luns)(void *arg, const char *target, const char *initiator,
			 int (*cb)(void *cbarg, uint64_t lun), void *cbarg);
	/* Open LUN lun of target for a session: *h for the calls below, released with close.
	 * -ENOENT: no such LUN (the target answers LOGICAL UNIT NOT SUPPORTED). */
	int (*open)(void *arg, const char *target, const char *initiator, uint64_t lun, void **h, iscsi_lu_info_t *info);
	void (*close)(void *h);
	/* Data, in bytes (already range-checked by the target). fua: durable before return. */
	int (*read)(void *h, uint64_t off, uint32_t len, void *buf);
	int (*write)(void *h, uint64_t off, uint32_t len, const void *buf, int fua);
	/* Unmap (UNMAP, WRITE SAME with UNMAP): the range reads as zeros afterwards. */
	int (*unmap)(void *h, uint64_t off, uint64_t len);
	/* SYNCHRONIZE CACHE: everything written so far is durable. */
	int (*flush)(void *h);
	/* GET LBA STATUS (optional, may be NULL): is [off, off+len) mapped? cb per extent. */
	int (*extents)(void *h, uint64_t off, uint64_t len, int (*cb)(void *cbarg, uint64_t len, int mapped), void *cbarg);
	/* MODE SELECT of the caching page (may be NULL: not changeable). */
	int (*set_write_cache)(void *h, int on);
	/* Has the LU gone away (view removed, volume destroyed)? May be NULL. */
	int (*gone)(void *h);
} iscsi_backend_t;

typedef struct iscsi_target_srv iscsi_target_srv_t;

/* A target server over backend be (copied). NULL (terr set) on failure. */
iscsi_target_srv_t *iscsi_srv_new(const iscsi_backend_t *be);
/* Stop listeners, drop every connection, wait for their threads, free. */
void iscsi_srv_free(iscsi_target_srv_t *s);
/* Serve one connected socket to its end in this thread; closes fd. */
int iscsi_serve_conn(iscsi_target_srv_t *s, int fd);
/* Listen on "ADDR:PORT" (default port 3260), accept in a background thread. Returns the bound
 * port or -errno. */
int iscsi_srv_listen(iscsi_target_srv_t *s, const char *where);
/* Log sink (default stderr). */
void iscsi_srv_set_log(iscsi_target_srv_t *s, void (*log)(void *arg, const char *line), void *arg);

/* What the target declares and offers in login negotiation (for new connections). Defaults:
 * MaxRecvDataSegmentLength 256 KiB, MaxBurstLength 16 MiB, FirstBurstLength 16 MiB,
 * MaxOutstandingR2T 16, ImmediateData=Yes, InitialR2T=No. Values are clamped to what the
 * protocol allows (512 .. 2^24-1; FirstBurstLength <= MaxBurstLength). */
typedef struct iscsi_params {
	uint32_t max_recv_data_segment_length, max_burst_length, first_burst_length, max_outstanding_r2t;
	int immediate_data, initial_r2t;
} iscsi_params_t;
void iscsi_srv_get_params(iscsi_target_srv_t *s, iscsi_params_t *p);
void iscsi_srv_set_params(iscsi_target_srv_t *s, const iscsi_params_t *p);
/* At most n connections at once (default 256); seconds a login may take (default 60, 0 none). */
void iscsi_srv_set_max_conns(iscsi_target_srv_t *s, int n);
void iscsi_srv_set_login_timeout(iscsi_target_srv_t *s, int seconds);
/* Connections being served right now. */
int iscsi_srv_conns(iscsi_target_srv_t *s);

#endif
