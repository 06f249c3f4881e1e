/* iscsi/proto.h — iSCSI (RFC 7143) and SCSI wire constants and big-endian helpers shared by the
 * target's files. iSCSI and SCSI integers are big-endian (network order). */
#ifndef TARN_ISCSI_PROTO_H
#define TARN_ISCSI_PROTO_H

#include <stdint.h>

/* ---- limits and defaults the target offers ---- */
#define ISCSI_BHS 48
#define ISCSI_MAX_AHS 1020            /* TotalAHSLength is in words of 4 bytes, 255 at most */
#define ISCSI_LOGIN_MRDSL 8192        /* before negotiation (RFC 7143 13.12) */
#define ISCSI_DEF_MRDSL (256u << 10)  /* MaxRecvDataSegmentLength the target declares */
#define ISCSI_DEF_MAXBURST (16u << 20)
#define ISCSI_DEF_FIRSTBURST (16u << 20)
#define ISCSI_DEF_MAXR2T 16
#define ISCSI_MAX_MRDSL ((1u << 24) - 1)
#define ISCSI_WINDOW 128              /* CmdSN window: MaxCmdSN = ExpCmdSN + WINDOW - 1 */
#define ISCSI_MAX_TASKS (ISCSI_WINDOW + 8) /* tasks waiting for data-out per connection */
#define ISCSI_MAX_TEXT (64u << 10)    /* a login / text request's keys, continuations included */
#define ISCSI_MAX_LUS 64              /* LUs one session opens */
#define ISCSI_MAX_BUFFERED (8u << 20) /* data-out buffered for one non-streaming command */
#define ISCSI_MAX_XFER (64u << 20)    /* READ / WRITE / VERIFY: bytes per command (block limits VPD) */
#define ISCSI_RDCHUNK (1u << 20)      /* READ data is read from the backend this much at a time */
#define ISCSI_CAW_MAX 255             /* COMPARE AND WRITE: blocks (the CDB's field is 8 bits) */
#define ISCSI_UNMAP_MAX_DESC 256
#define ISCSI_TPGT 1

/* ---- opcodes ---- */
enum {
	OP_NOP_OUT = 0x00, OP_SCSI_CMD = 0x01, OP_TMF_REQ = 0x02, OP_LOGIN_REQ = 0x03, OP_TEXT_REQ = 0x04,
	OP_DATA_OUT = 0x05, OP_LOGOUT_REQ = 0x06, OP_SNACK = 0x10,
	OP_NOP_IN = 0x20, OP_SCSI_RSP = 0x21, OP_TMF_RSP = 0x22, OP_LOGIN_RSP = 0x23, OP_TEXT_RSP = 0x24,
	OP_DATA_IN = 0x25, OP_LOGOUT_RSP = 0x26, OP_R2T = 0x31, OP_ASYNC = 0x32, OP_REJECT = 0x3f,
};
#define ISCSI_OP_IMMEDIATE 0x40
#define ISCSI_FLAG_F 0x80
#define ISCSI_FLAG_C 0x40 /* text / login continue */
#define ISCSI_RSVD_TAG 0xffffffffu

/* Reject reasons */
enum {
	REJ_DIGEST = 0x02, REJ_SNACK = 0x03, REJ_PROTOCOL = 0x04, REJ_UNSUPPORTED = 0x05, REJ_IMMEDIATE = 0x06,
	REJ_TASK_IN_PROGRESS = 0x07, REJ_INVALID_FIELD = 0x09, REJ_LONG_OP = 0x0a, REJ_WAITING_LOGOUT = 0x0c,
};

/* Task management functions and responses */
enum {
	TMF_ABORT_TASK = 1, TMF_ABORT_TASK_SET = 2, TMF_CLEAR_ACA = 3, TMF_CLEAR_TASK_SET = 4, TMF_LUN_RESET = 5,
	TMF_TARGET_WARM_RESET = 6, TMF_TARGET_COLD_RESET = 7, TMF_TASK_REASSIGN = 8,
};
enum {
	TMF_RSP_COMPLETE = 0, TMF_RSP_NO_TASK = 1, TMF_RSP_NO_LUN = 2, TMF_RSP_REASSIGN_UNSUPP = 4,
	TMF_RSP_NOT_SUPPORTED = 5, TMF_RSP_REJECTED = 255,
};

/* Login status classes and details */
#define LOGIN_OK 0x0000
#define LOGIN_INIT_ERR 0x0200
#define LOGIN_AUTH_FAIL 0x0201
#define LOGIN_FORBIDDEN 0x0202
#define LOGIN_NOT_FOUND 0x0203
#define LOGIN_BAD_VERSION 0x0205
#define LOGIN_MISSING_PARAM 0x0207
#define LOGIN_SESSION_TYPE 0x0209
#define LOGIN_BAD_REQUEST 0x020b
#define LOGIN_TARGET_ERR 0x0300
#define LOGIN_NO_RESOURCES 0x0302

/* ---- SCSI ---- */
enum {
	SAM_GOOD = 0x00, SAM_CHECK_CONDITION = 0x02, SAM_BUSY = 0x08, SAM_RESERVATION_CONFLICT = 0x18,
	SAM_TASK_SET_FULL = 0x28,
};
enum {
	SK_NO_SENSE = 0x0, SK_NOT_READY = 0x2, SK_MEDIUM_ERROR = 0x3, SK_HARDWARE_ERROR = 0x4,
	SK_ILLEGAL_REQUEST = 0x5, SK_UNIT_ATTENTION = 0x6, SK_DATA_PROTECT = 0x7, SK_ABORTED_COMMAND = 0xb,
	SK_MISCOMPARE = 0xe,
};
/* ASC << 8 | ASCQ */
#define ASC_NONE 0x0000
#define ASC_WRITE_ERROR 0x0c00
#define ASC_READ_ERROR 0x1100
#define ASC_MISCOMPARE_VERIFY 0x1d00
#define ASC_PARAM_LIST_LENGTH 0x1a00
#define ASC_INVALID_OPCODE 0x2000
#define ASC_LBA_OUT_OF_RANGE 0x2100
#define ASC_INVALID_FIELD_CDB 0x2400
#define ASC_LUN_NOT_SUPPORTED 0x2500
#define ASC_INVALID_FIELD_PARAM 0x2600
#define ASC_WRITE_PROTECTED 0x2700
#define ASC_RESET_OCCURRED 0x2900
#define ASC_SAVING_NOT_SUPPORTED 0x3900
#define ASC_MEDIUM_NOT_PRESENT 0x3a00
#define ASC_INTERNAL_FAILURE 0x4400
#define ASC_SPACE_ALLOC_FAILED 0x2707
#define ASC_INSUFF_REG_RESOURCES 0x5504

static inline uint16_t ib_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t ib_get24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static inline uint32_t ib_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t ib_get64(const uint8_t *p) { return (uint64_t)ib_get32(p) << 32 | ib_get32(p + 4); }
static inline void ib_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static inline void ib_put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
}
static inline void ib_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static inline void ib_put64(uint8_t *p, uint64_t v) { ib_put32(p, (uint32_t)(v >> 32)), ib_put32(p + 4, (uint32_t)v); }

/* Serial number arithmetic (RFC 1982, 32 bits): a < b */
static inline int sn_lt(uint32_t a, uint32_t b) { return a != b && (int32_t)(a - b) < 0; }

#endif
