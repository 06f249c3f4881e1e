/* nbd/proto.h — NBD wire constants (NetworkBlockDevice/nbd doc/proto.md) and explicit
 * big-endian (network order) encoders/decoders. Callers check lengths before calling. */
#ifndef TARN_NBD_PROTO_H
#define TARN_NBD_PROTO_H

#include <stdint.h>

/* ---- handshake ---- */
#define NBD_MAGIC_INIT 0x4e42444d41474943ULL /* "NBDMAGIC" */
#define NBD_MAGIC_OPT 0x49484156454F5054ULL  /* "IHAVEOPT" (server greeting and every option) */
#define NBD_MAGIC_REP 0x0003e889045565a9ULL  /* option replies */

#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0) /* handshake flags (server) */
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0) /* client flags */
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

#define NBD_OPT_EXPORT_NAME 1
#define NBD_OPT_ABORT 2
#define NBD_OPT_LIST 3
#define NBD_OPT_STARTTLS 5
#define NBD_OPT_INFO 6
#define NBD_OPT_GO 7
#define NBD_OPT_STRUCTURED_REPLY 8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT 10

#define NBD_REP_ACK 1u
#define NBD_REP_SERVER 2u
#define NBD_REP_INFO 3u
#define NBD_REP_META_CONTEXT 4u
#define NBD_REP_ERR_UNSUP 0x80000001u
#define NBD_REP_ERR_POLICY 0x80000002u
#define NBD_REP_ERR_INVALID 0x80000003u
#define NBD_REP_ERR_PLATFORM 0x80000004u
#define NBD_REP_ERR_TLS_REQD 0x80000005u
#define NBD_REP_ERR_UNKNOWN 0x80000006u
#define NBD_REP_ERR_SHUTDOWN 0x80000007u
#define NBD_REP_ERR_BLOCK_SIZE_REQD 0x80000008u
#define NBD_REP_ERR_TOO_BIG 0x80000009u

#define NBD_INFO_EXPORT 0
#define NBD_INFO_NAME 1
#define NBD_INFO_DESCRIPTION 2
#define NBD_INFO_BLOCK_SIZE 3

/* ---- transmission flags (16 bits, sent with the export) ---- */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_ROTATIONAL (1u << 4)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define NBD_FLAG_SEND_CACHE (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO (1u << 11)

/* ---- requests ---- */
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu
#define NBD_REQ_HDR 28u     /* magic 4, flags 2, type 2, handle 8, offset 8, length 4 */
#define NBD_SIMPLE_HDR 16u  /* magic 4, error 4, handle 8 */
#define NBD_CHUNK_HDR 20u   /* magic 4, flags 2, type 2, handle 8, length 4 */

#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_CACHE 5
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_BLOCK_STATUS 7

#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)
#define NBD_CMD_FLAG_DF (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)

#define NBD_REPLY_FLAG_DONE (1u << 0)
#define NBD_REPLY_TYPE_NONE 0
#define NBD_REPLY_TYPE_OFFSET_DATA 1
#define NBD_REPLY_TYPE_OFFSET_HOLE 2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_ERROR 0x8001u
#define NBD_REPLY_TYPE_ERROR_OFFSET 0x8002u

#define NBD_STATE_HOLE (1u << 0) /* base:allocation */
#define NBD_STATE_ZERO (1u << 1)

/* error values of replies (fixed by the protocol, not the host's errno) */
#define NBD_EPERM 1
#define NBD_EIO 5
#define NBD_ENOMEM 12
#define NBD_EINVAL 22
#define NBD_ENOSPC 28
#define NBD_EOVERFLOW 75
#define NBD_ENOTSUP 95
#define NBD_ESHUTDOWN 108

/* ---- this server's limits ---- */
#define NBD_MAX_PAYLOAD (32u << 20)   /* READ/WRITE/CACHE length; advertised maximum block size */
#define NBD_MAX_OPT_DATA (64u << 10)  /* option data; more is a hard disconnect */
#define NBD_MAX_OPTIONS 1000          /* options per handshake; more is a hard disconnect */
#define NBD_MAX_STRING 4096           /* export names, queries, context names */
#define NBD_MAX_META 64               /* contexts selected at once (NBD_REP_ERR_TOO_BIG) */
#define NBD_MAX_REPLIES (1u << 20)    /* bytes of replies queued for one option (TOO_BIG) */
#define NBD_MAX_EXTENTS 1024          /* descriptors per BLOCK_STATUS chunk */
#define NBD_READ_CHUNKS 64            /* extents looked at to split one structured READ */

/* ---- big-endian helpers ---- */
static inline void be_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void be_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void be_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static inline uint16_t be_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t be_get64(const uint8_t *p) { return (uint64_t)be_get32(p) << 32 | be_get32(p + 4); }

#endif
