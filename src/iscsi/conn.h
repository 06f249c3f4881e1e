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

typedef struct iscsi_listener {
	int fd;
	pthread_t thread;
	iscsi_target_srv_t *s;
} iscsi_listener_t;

struct iscsi_conn;

struct iscsi_target_srv {
	iscsi_backend_t be;
	void (*log)(void *arg, const char *line);
	void *logarg;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	struct iscsi_conn *conns;
	int nconns, nthreads, max_conns, stopping;
	uint64_t next_id;
	uint16_t next_tsih;
	int login_timeout;        /* seconds; 0 = none */
	iscsi_lustate_t *lus;
	iscsi_listener_t **listeners;
	size_t nlisteners, caplisteners;
	int wake[2];
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

/* A SCSI command while its data-out arrives (or executing). */
typedef struct iscsi_task {
	int used;
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

typedef struct iscsi_conn {
	iscsi_target_srv_t *s;
	int fd;
	uint64_t id;
	struct iscsi_conn *prev, *next;
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

	/* sequence numbers */
	uint32_t statsn, expcmdsn;

	/* receive buffer (data segments, up to mrdsl_in + padding + digest) */
	uint8_t *rbuf;
	size_t rcap;
	uint8_t *rdbuf;            /* READ data from the backend: ISCSI_RDCHUNK */
	uint8_t *tbuf;             /* small data-in (INQUIRY, MODE SENSE, ...): ISCSI_TBUF */
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
} iscsi_conn_t;

#define ISCSI_TBUF (64u << 10)

/* ---- crc32c.c ---- */
uint32_t iscsi_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- io.c ---- */
/* Read exactly n bytes (1: the peer closed before the first byte, only when eof_ok). */
int iscsi_read_full(int fd, void *buf, size_t n, int eof_ok);
int iscsi_send_iov(int fd, struct iovec *iov, int cnt);
void iscsi_log(iscsi_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iscsi_slog(iscsi_target_srv_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- pdu.c ---- */
/* Receive one PDU: the BHS, AHS, header digest (a mismatch ends the connection), the data
 * segment (longer than limit: -EPROTO) and its digest (a mismatch sets p->ddigest_bad).
 * 1: the peer closed between PDUs. */
int iscsi_pdu_recv(iscsi_conn_t *c, iscsi_pdu_t *p, uint32_t limit);
/* Send bhs (48 bytes; DataSegmentLength is filled in) with data, padding and digests. */
int iscsi_pdu_send(iscsi_conn_t *c, uint8_t *bhs, const void *data, uint32_t dlen);
/* Fill StatSN (and advance it when adv), ExpCmdSN and MaxCmdSN of a target PDU. */
void iscsi_pdu_sn(iscsi_conn_t *c, uint8_t *bhs, int adv);
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
/* Send data-in for task t: len bytes of buf at the current position; last: the command's final
 * data (status goes with it when GOOD). */
int iscsi_datain(iscsi_conn_t *c, iscsi_task_t *t, const void *buf, uint32_t len, int last);
/* Open (or find) the session's LU lun; NULL if there is none (t gets LUN NOT SUPPORTED). */
iscsi_lu_t *iscsi_lu_get(iscsi_conn_t *c, uint64_t lun);
void iscsi_lus_close(iscsi_conn_t *c);
/* Server-wide shared state of (target, lun); released with iscsi_lustate_put. */
iscsi_lustate_t *iscsi_lustate_get(iscsi_target_srv_t *s, const char *target, uint64_t lun);
void iscsi_lustate_put(iscsi_target_srv_t *s, iscsi_lustate_t *st);

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

/* ---- listen.c ---- */
/* Stop every accept thread (joined) and close the listening sockets. */
void iscsi_listeners_stop(iscsi_target_srv_t *s);

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
