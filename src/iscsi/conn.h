/* iscsi/conn.h — internals shared by the iSCSI target's files: the server, per-LU shared state,
 * the connection (= session: MaxConnections is 1) with its tasks, and the functions each file
 * offers the others. Not part of the public interface (iscsi.h). */
#ifndef TARN_ISCSI_CONN_H
#define TARN_ISCSI_CONN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "iscsi/iscsi.h"
#include "iscsi/proto.h"
#include "util/sock.h"
#include "util/sock_srv.h"

#define ISCSI_NAME_MAX 224 /* iSCSI names are at most 223 bytes (RFC 7143 6.1) */
#define ISCSI_NEXUS_MAX (ISCSI_NAME_MAX + 32)
#define ISCSI_PR_MAX_REGS 64

/* State of one LU shared by every session that has it open (keyed by target and LUN):
 * the COMPARE AND WRITE lock and reservations. */
typedef struct iscsi_lustate {
	struct iscsi_lustate *next;
	char *target;
	uint64_t lun;
	int refs;                 /* under the server's lock */
	pthread_mutex_t lock;     /* COMPARE AND WRITE; the fields below */
	/* SPC-2 RESERVE(6)/RELEASE(6): holder's I_T nexus ("" = none) */
	char resv[ISCSI_NEXUS_MAX];
	/* persistent reservations */
	uint32_t pr_gen;
	struct { char nexus[ISCSI_NEXUS_MAX]; uint64_t key; } regs[ISCSI_PR_MAX_REGS];
	int nregs;
	int pr_held;              /* a persistent reservation exists */
	int pr_type;
	char pr_holder[ISCSI_NEXUS_MAX]; /* holder nexus (for all-registrants types: unused) */
} iscsi_lustate_t;

struct iscsi_conn;

struct iscsi_target_srv {
	iscsi_backend_t be;
	void (*log)(void *arg, const char *line);
	void *logarg;
	sock_srv_t net;           /* listeners, connection threads, running connections; net.lock
				   * also guards the fields below */
	uint64_t next_id;
	uint16_t next_tsih;
	int login_timeout;        /* seconds; 0 = none */
	iscsi_lustate_t *lus;
	/* what the target declares / offers (iscsi_srv_set_params) */
	uint32_t mrdsl, maxburst, firstburst, maxr2t;
	int immediate, initial_r2t;
};

/* A received PDU. data points into the connection's receive buffer. */
typedef struct iscsi_pdu {
	uint8_t bhs[ISCSI_BHS];
	uint8_t ahs[ISCSI_MAX_AHS];
	uint32_t ahslen;
	uint8_t *data;
	uint32_t dlen;
	int ddigest_bad;           /* data digest mismatch (data is not to be used) */
} iscsi_pdu_t;

/* An LU the session has opened. */
typedef struct iscsi_lu {
	uint64_t lun;
	void *h;
	iscsi_lu_info_t info;
	iscsi_lustate_t *st;
	/* deferred sense for REQUEST SENSE (unused: autosense), caching mode page saved copy */
} iscsi_lu_t;

/* An outstanding R2T of a task. */
typedef struct iscsi_r2t {
	uint32_t ttt, off, len, next, datasn;
} iscsi_r2t_t;

/* Buffers of one thread that executes commands (the connection's reader or one of its workers):
 * READ chunks and small data-in, each allocated on first use. */
typedef struct iscsi_xbuf {
	struct iscsi_conn *c;
	uint8_t *rdbuf;            /* ISCSI_RDCHUNK */
	uint8_t *tbuf;             /* ISCSI_TBUF */
} iscsi_xbuf_t;

/* Who owns a task slot (changed under the work queue's lock only). */
enum { TASK_FREE = 0, TASK_RX, TASK_RUN };

/* A SCSI command while its data-out arrives (owned by the reader, TASK_RX) or while it runs on
 * a worker (TASK_RUN: the reader touches only state, itt, lun and aborted, under wq.lock). */
typedef struct iscsi_task {
	int state;
	int aborted;               /* atomic: 1 aborted (TMF): no more data-in, no response; 2 its
				    * status is being sent: an abort finds it completed */
	int attr;                  /* task attribute (0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA) */
	uint32_t wres;             /* WRITE data buffered in buf: bytes counted in wq.wbytes */
	iscsi_xbuf_t *xb;          /* buffers of the thread executing it */
	struct iscsi_task *next;   /* work queue */
	uint32_t itt, cmdsn, edtl;
	uint64_t lun;
	iscsi_lu_t *lu;            /* NULL: LUN not available */
	uint8_t cdb[260];
	uint32_t cdblen;
	int rd, wr;
	/* data-out: [0, unsol_end) may come unsolicited; need = bytes the command will take */
	uint32_t need, got;        /* got: bytes received in order so far */
	int unsol_open;            /* unsolicited Data-Out may still come */
	uint32_t unsol_next, unsol_datasn, unsol_end;
	uint32_t r2t_next;         /* first byte not solicited yet */
	uint32_t r2tsn;
	iscsi_r2t_t r2t[ISCSI_DEF_MAXR2T];
	uint32_t nr2t;
	/* how the data is consumed */
	int stream;                /* WRITE family: written to the LU as it arrives */
	uint64_t stream_off;       /* byte offset on the LU of data byte 0 */
	int fua;
	uint8_t *buf;              /* buffered commands: the whole parameter data */
	/* result */
	int failed;                /* status/sense set: data-out is dropped, then the response */
	uint8_t status;
	uint8_t sense[18];
	uint8_t senselen;
	/* data-in */
	uint32_t datasn, sent_in, want_in; /* want_in: bytes the command has to send (before EDTL) */
	int status_sent;           /* phase collapse: status went with the last Data-In */
	int resid_in_set;          /* want_in has been set (for residual computation) */
	uint32_t resid_out;        /* write residual: bytes the command wanted beyond EDTL */
	int over_out, under_out;
} iscsi_task_t;

#define ISCSI_MAX_WORKERS 32

/* A connection's workers: the reader hands complete SCSI commands over (queue), workers run them
 * and send their data-in and response under the send lock. */
typedef struct iscsi_wq {
	pthread_mutex_t lock;      /* task slot states, the queue and the fields below */
	pthread_cond_t work;       /* a task was queued, or stop (workers wait on it) */
	pthread_cond_t done;       /* a task handed over was released (the reader waits on it) */
	int done_waiters;          /* the reader waits on done: only then workers signal it */
	iscsi_task_t *queue, *qtail;
	int running;               /* tasks handed over and not released yet */
	int want, nthreads, stop;  /* want: workers wanted (1: none, commands run in the reader) */
	int failed;                /* first worker error (-errno); failmsg says why */
	char failmsg[256];
	uint64_t wbytes;           /* WRITE data buffered by tasks (ISCSI_WBUF_TOTAL at most) */
	pthread_t threads[ISCSI_MAX_WORKERS];
	iscsi_xbuf_t xb[ISCSI_MAX_WORKERS];
} iscsi_wq_t;

typedef struct iscsi_conn {
	iscsi_target_srv_t *s;
	int fd;
	uint64_t id;
	sock_conn_t link;         /* in s->net.conns */
	int kicked;

	/* login and negotiated parameters */
	int discovery, ffp;
	char initiator[ISCSI_NAME_MAX], target[ISCSI_NAME_MAX];
	char nexus[ISCSI_NEXUS_MAX]; /* initiator ",i,0x" ISID: the I_T nexus for reservations */
	uint8_t isid[6];
	uint16_t tsih, cid;
	int hdigest, ddigest;      /* CRC32C on */
	uint32_t mrdsl_in;         /* the largest data segment we accept */
	uint32_t mrdsl_out;        /* the largest data segment the initiator accepts */
	uint32_t maxburst, firstburst, maxr2t;
	int immediate, initial_r2t;

	/* sequence numbers. statsn and maxcmdsn change under send_lock only (at send time);
	 * expcmdsn is written by the reader only; ntasks counts task slots in use. MaxCmdSN never
	 * goes back and leaves room for every command the initiator may send: ExpCmdSN - 1 +
	 * ISCSI_WINDOW - ntasks at most (the reader counts a new task before it moves ExpCmdSN). */
	uint32_t statsn;
	_Atomic uint32_t expcmdsn, maxcmdsn;
	_Atomic int ntasks;
	pthread_mutex_t send_lock; /* one PDU at a time on the socket, in StatSN order */

	/* receive buffer (data segments, up to mrdsl_in + padding + digest) */
	uint8_t *rbuf;
	size_t rcap;
	iscsi_xbuf_t rxb;          /* buffers of commands run in the reader */
	/* text continuation (our long Text responses) */
	uint8_t *textout;
	size_t textlen, textoff;
	uint32_t text_ttt;
	uint8_t *textin;           /* a Text request's keys being continued */
	size_t textinlen;

	iscsi_lu_t lus[ISCSI_MAX_LUS];
	int nlus;
	iscsi_task_t tasks[ISCSI_MAX_TASKS];
	uint32_t next_ttt;
	iscsi_wq_t wq;
} iscsi_conn_t;

#define ISCSI_TBUF (64u << 10)
#define ISCSI_WBUF_MAX (1u << 20)    /* WRITEs up to this are buffered and run on a worker */
#define ISCSI_WBUF_TOTAL (32u << 20) /* buffered WRITE data of a connection at most */

/* ---- crc32c.c ---- */
uint32_t iscsi_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- io.c ---- */
/* Read exactly n bytes (1: the peer closed before the first byte, only when eof_ok). */
static inline int iscsi_read_full(int fd, void *buf, size_t n, int eof_ok)
{
	return sock_read_full(fd, buf, n, eof_ok, "initiator", "PDU");
}
/* Send every byte of iov[0..cnt) (may be modified), MSG_NOSIGNAL. */
static inline int iscsi_send_iov(int fd, struct iovec *iov, int cnt)
{
	return sock_send_iov(fd, iov, cnt, "initiator");
}
void iscsi_log(iscsi_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iscsi_slog(iscsi_target_srv_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- pdu.c ---- */
/* Receive one PDU: the BHS, AHS, header digest (a mismatch ends the connection), the data
 * segment (longer than limit: -EPROTO) and its digest (a mismatch sets p->ddigest_bad).
 * 1: the peer closed between PDUs. */
int iscsi_pdu_recv(iscsi_conn_t *c, iscsi_pdu_t *p, uint32_t limit);
/* How iscsi_pdu_send fills a PDU's sequence numbers (at send time, under the send lock). */
enum {
	ISCSI_SN_STAT,   /* a response: StatSN (then advanced), ExpCmdSN, MaxCmdSN */
	ISCSI_SN_PEEK,   /* StatSN not advanced (R2T), ExpCmdSN, MaxCmdSN */
	ISCSI_SN_NOSTAT, /* StatSN reserved (0: Data-In without status), ExpCmdSN, MaxCmdSN */
};
/* Send bhs (48 bytes; DataSegmentLength and sequence numbers per sn are filled in) with data,
 * padding and digests, whole, under the connection's send lock. */
int iscsi_pdu_send(iscsi_conn_t *c, uint8_t *bhs, const void *data, uint32_t dlen, int sn);
/* A Reject PDU for the header hdr with reason. */
int iscsi_send_reject(iscsi_conn_t *c, const uint8_t *hdr, uint8_t reason);

/* ---- text.c ---- */
typedef struct iscsi_kv {
	char *buf;
	size_t len, cap, max;
	int overflow;
} iscsi_kv_t;
/* Next "key=value" of a NUL-separated list [*pos, len): 1 found, 0 end, -EINVAL malformed. */
int iscsi_kv_next(const char *txt, size_t len, size_t *pos, const char **key, size_t *klen, const char **val,
		  size_t *vlen);
/* Append "key=value\0" (printf value); sets overflow beyond max. */
void iscsi_kv_add(iscsi_kv_t *kv, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void iscsi_kv_free(iscsi_kv_t *kv);
/* Parse a decimal or 0x value of a numeric key; -EINVAL if not a number in [lo, hi]. */
int iscsi_num(const char *v, size_t vlen, uint64_t lo, uint64_t hi, uint64_t *out);

/* ---- login.c ---- */
/* The login phase. 0: full feature phase reached; 1: ended cleanly (discovery logout, peer
 * closed); -errno: error (logged by the caller). */
int iscsi_login(iscsi_conn_t *c);

/* ---- session.c ---- */
/* The full feature phase until logout (0), the peer closing (0) or an error (-errno). */
int iscsi_ffp(iscsi_conn_t *c);
/* Execute task t, whose data-out is complete, and send its data-in and response (none once it
 * is aborted). Run by a worker or the reader; -errno: the connection failed (send). */
int iscsi_task_run(iscsi_conn_t *c, iscsi_task_t *t);
/* Has t been aborted (TMF)? Safe from any thread. */
int iscsi_task_aborted(const iscsi_task_t *t);
/* Send data-in for task t: len bytes of buf at the current position; last: the command's final
 * data (status goes with it when GOOD). */
int iscsi_datain(iscsi_conn_t *c, iscsi_task_t *t, const void *buf, uint32_t len, int last);
/* Open (or find) the session's LU lun; NULL if there is none (t gets LUN NOT SUPPORTED). */
iscsi_lu_t *iscsi_lu_get(iscsi_conn_t *c, uint64_t lun);
void iscsi_lus_close(iscsi_conn_t *c);
/* Server-wide shared state of (target, lun); released with iscsi_lustate_put. */
iscsi_lustate_t *iscsi_lustate_get(iscsi_target_srv_t *s, const char *target, uint64_t lun);
void iscsi_lustate_put(iscsi_target_srv_t *s, iscsi_lustate_t *st);

/* ---- workers.c ---- */
/* Set up c->wq (TARN_ISCSI_WORKERS, 1..32, default 8; threads start with the first task). */
void iscsi_wq_init(iscsi_conn_t *c);
/* The end of the connection (rc: the reader's result): wait for every task handed over, stop
 * and join the workers, free their buffers and the reader's tasks. Returns rc if it is an error,
 * else the first worker error (terr set) or rc. */
int iscsi_wq_fini(iscsi_conn_t *c, int rc);
/* Reader: a free slot for a new command with itt (state TASK_RX, counted in ntasks, xb the
 * reader's). NULL with *dup = 1 if a task with itt exists; NULL with *dup = 0 if none is free
 * (after waiting for running tasks, if any). */
iscsi_task_t *iscsi_task_new(iscsi_conn_t *c, uint32_t itt, int *dup);
/* Reader: its own task (TASK_RX) with itt, or NULL. */
iscsi_task_t *iscsi_task_find_rx(iscsi_conn_t *c, uint32_t itt);
/* The owner frees its task (data-out buffer, slot, ntasks). */
void iscsi_task_release(iscsi_conn_t *c, iscsi_task_t *t);
/* Reader: run t (complete, TASK_RX) on a worker, which owns it until it releases it; or here,
 * then release it, when there are no workers (-errno: the connection failed). */
int iscsi_wq_submit(iscsi_conn_t *c, iscsi_task_t *t);
/* Reader: are workers in use (commands may be handed over)? */
int iscsi_wq_parallel(const iscsi_conn_t *c);
/* Reader: wait until no task handed over is left; the first worker error, or 0. */
int iscsi_wq_drain(iscsi_conn_t *c);
/* Reader: abort tasks: the one with itt (itt_only), every task of lun, or all. The reader's own
 * are freed, running ones marked aborted; every running one that matches (aborted, or sending
 * its status already) is waited for. Returns how many were aborted (those sending their status
 * count as completed, not aborted). */
int iscsi_wq_abort(iscsi_conn_t *c, int itt_only, uint32_t itt, int all, uint64_t lun);
/* Reader: reserve n bytes of buffered WRITE data (0: over the budget, stream it instead). */
int iscsi_wq_wbuf_get(iscsi_conn_t *c, uint32_t n);

/* ---- sense.c ---- */
/* Set t to CHECK CONDITION with fixed-format sense (key, asc<<8|ascq); info (if info_valid)
 * goes into the INFORMATION field. */
void iscsi_sense(iscsi_task_t *t, uint8_t key, uint16_t ascq);
void iscsi_sense_info(iscsi_task_t *t, uint8_t key, uint16_t ascq, uint32_t info);
/* ILLEGAL REQUEST / INVALID FIELD IN CDB with sense-key specific field pointer (byte, bit). */
void iscsi_sense_field(iscsi_task_t *t, int cdb, uint16_t byte, int bit);
/* Map a backend -errno to sense (read: READ ERROR, write: WRITE ERROR, ENOSPC, EROFS, ...). */
void iscsi_sense_errno(iscsi_task_t *t, int rc, int write);

/* ---- scsi.c ---- */
/* A new command (cdb, lun, edtl in t): decide what data-out it takes. Sets t->need (bytes to
 * receive), t->stream/t->buf; or fails it (t->failed). Commands without data-out are left for
 * iscsi_scsi_exec. 0 or -errno (fatal: connection). */
int iscsi_scsi_start(iscsi_conn_t *c, iscsi_task_t *t);
/* Streaming data of a WRITE: len bytes at offset off of the transfer. */
int iscsi_scsi_stream(iscsi_conn_t *c, iscsi_task_t *t, uint32_t off, const uint8_t *buf, uint32_t len);
/* Every data-out byte is in: execute (sends data-in itself). Status/sense in t. -errno: fatal. */
int iscsi_scsi_exec(iscsi_conn_t *c, iscsi_task_t *t);
/* LUN encoding of SAM (flat / peripheral addressing). */
uint64_t iscsi_lun_decode(const uint8_t *p);
void iscsi_lun_encode(uint8_t *p, uint64_t lun);

/* ---- spc.c ---- */
/* The SPC commands (INQUIRY, MODE SENSE/SELECT, REPORT LUNS, REQUEST SENSE, REPORT SUPPORTED
 * OPCODES, ...): 1 if the opcode was one of them (t has its result), 0 otherwise. */
int iscsi_spc(iscsi_conn_t *c, iscsi_task_t *t);
/* Does opcode (with service action sa) exist; its CDB length and usage mask (RSOC). */
int iscsi_opcode_info(uint8_t op, uint16_t sa, uint8_t *usage, int *cdblen);

/* ---- pr.c ---- */
/* Reservation check before a command runs: 1 conflict (t set to RESERVATION CONFLICT). */
int iscsi_pr_conflict(iscsi_conn_t *c, iscsi_task_t *t);
/* PERSISTENT RESERVE IN / OUT, RESERVE(6/10), RELEASE(6/10). */
int iscsi_pr_in(iscsi_conn_t *c, iscsi_task_t *t);
int iscsi_pr_out(iscsi_conn_t *c, iscsi_task_t *t, const uint8_t *par, uint32_t len);
int iscsi_reserve(iscsi_conn_t *c, iscsi_task_t *t, int release);
/* The session's nexus goes away: drop its SPC-2 reservation. */
void iscsi_pr_nexus_lost(iscsi_conn_t *c, iscsi_lustate_t *st);

#endif
