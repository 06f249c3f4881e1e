/* util/le.h — explicit little-endian encoding of fixed-width fields for on-disk and on-wire
 * structures. Encoders write into a caller-owned buffer; decoders read from one. Callers check
 * lengths before calling (these helpers do not). */
#ifndef TARN_UTIL_LE_H
#define TARN_UTIL_LE_H

#include <stdint.h>
#include <string.h>

static inline void le_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void le_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void le_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t le_get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t le_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t le_get64(const uint8_t *p) { return (uint64_t)le_get32(p) | ((uint64_t)le_get32(p + 4) << 32); }

/* A bounded cursor for encoding/decoding variable records. `ok` becomes 0 on any overrun and
 * stays 0; reads past the end yield zeros, writes past the end are dropped. Check `ok` once at
 * the end instead of after every field. */
typedef struct le_cur {
	uint8_t *p;
	size_t len, pos;
	int ok;
} le_cur_t;

static inline le_cur_t le_cur(void *buf, size_t len) { return (le_cur_t){ (uint8_t *)buf, len, 0, 1 }; }
static inline int le_room(le_cur_t *c, size_t n)
{
	if (!c->ok || n > c->len - c->pos) {
		c->ok = 0;
		return 0;
	}
	return 1;
}
static inline void le_w8(le_cur_t *c, uint8_t v) { if (le_room(c, 1)) c->p[c->pos++] = v; }
static inline void le_w16(le_cur_t *c, uint16_t v) { if (le_room(c, 2)) { le_put16(c->p + c->pos, v); c->pos += 2; } }
static inline void le_w32(le_cur_t *c, uint32_t v) { if (le_room(c, 4)) { le_put32(c->p + c->pos, v); c->pos += 4; } }
static inline void le_w64(le_cur_t *c, uint64_t v) { if (le_room(c, 8)) { le_put64(c->p + c->pos, v); c->pos += 8; } }
static inline void le_wbytes(le_cur_t *c, const void *s, size_t n) { if (le_room(c, n)) { memcpy(c->p + c->pos, s, n); c->pos += n; } }
static inline uint8_t le_r8(le_cur_t *c) { return le_room(c, 1) ? c->p[c->pos++] : 0; }
static inline uint16_t le_r16(le_cur_t *c) { uint16_t v = 0; if (le_room(c, 2)) { v = le_get16(c->p + c->pos); c->pos += 2; } return v; }
static inline uint32_t le_r32(le_cur_t *c) { uint32_t v = 0; if (le_room(c, 4)) { v = le_get32(c->p + c->pos); c->pos += 4; } return v; }
static inline uint64_t le_r64(le_cur_t *c) { uint64_t v = 0; if (le_room(c, 8)) { v = le_get64(c->p + c->pos); c->pos += 8; } return v; }
static inline void le_rbytes(le_cur_t *c, void *d, size_t n) { if (le_room(c, n)) { memcpy(d, c->p + c->pos, n); c->pos += n; } else memset(d, 0, n); }
/* Length-prefixed (u16) string: writer takes a NUL-terminated string; reader fills dst (cap bytes,
 * always NUL-terminated) and fails the cursor if the string does not fit or contains a NUL. */
static inline void le_wstr(le_cur_t *c, const char *s) { size_t n = strlen(s); if (n > 0xffff) { c->ok = 0; return; } le_w16(c, (uint16_t)n); le_wbytes(c, s, n); }
static inline void le_rstr(le_cur_t *c, char *dst, size_t cap)
{
	uint16_t n = le_r16(c);
	if (!c->ok || n >= cap || !le_room(c, n)) { c->ok = 0; dst[0] = 0; return; }
	memcpy(dst, c->p + c->pos, n);
	dst[n] = 0;
	if (memchr(dst, 0, n)) c->ok = 0;
	c->pos += n;
}

#endif
