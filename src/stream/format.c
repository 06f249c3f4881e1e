/* stream/format.c — send stream records (see format.h). */
#include "stream/format.h"

#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "util/err.h"
#include "util/le.h"

static void chain_step(uint8_t chain[16], const uint8_t *hdr32, const void *payload, uint64_t len)
{
	XXH3_state_t st; /* on the stack: nothing to allocate or leak (tarnd runs commands on
			  * short-lived threads) */
	XXH128_canonical_t c;
	XXH3_INITSTATE(&st);
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, chain, 16);
	XXH3_128bits_update(&st, hdr32, 32);
	if (len)
		XXH3_128bits_update(&st, payload, (size_t)len);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
	memcpy(chain, c.digest, 16);
}

static void put_hdr(uint8_t h[SR_HDR], uint16_t type, uint16_t flags, uint64_t len, uint64_t a0, uint64_t a1)
{
	le_put32(h, SR_MAGIC);
	le_put16(h + 4, type);
	le_put16(h + 6, flags);
	le_put64(h + 8, len);
	le_put64(h + 16, a0);
	le_put64(h + 24, a1);
}

void srw_init(sr_writer_t *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

int srw_record(sr_writer_t *w, uint16_t type, uint16_t flags, uint64_t arg0, uint64_t arg1, const void *payload,
	       uint64_t len)
{
	uint8_t h[SR_HDR];
	if (w->err)
		return w->err;
	put_hdr(h, type, flags, len, arg0, arg1);
	chain_step(w->chain, h, payload, len);
	memcpy(h + 32, w->chain, 16);
	if (fwrite(h, 1, SR_HDR, w->f) != SR_HDR || (len && fwrite(payload, 1, (size_t)len, w->f) != len))
		return w->err = terr(errno == EPIPE ? EPIPE : EIO, "write of the stream failed: %s", strerror(errno));
	w->bytes += SR_HDR + len;
	w->records = type == SR_BEGIN ? 1 : w->records + 1;
	return 0;
}

static int enc_begin(const sr_begin_t *b, uint8_t *out, size_t cap, size_t *len)
{
	le_cur_t c = le_cur(out, cap);
	le_w32(&c, b->version);
	le_w32(&c, b->features);
	le_w8(&c, b->dstype);
	le_w64(&c, b->volsize);
	le_w32(&c, b->volblocksize);
	le_w64(&c, b->creation);
	le_wstr(&c, b->toname);
	le_wstr(&c, b->fromname);
	le_w64(&c, b->resume_offset);
	le_w32(&c, b->nprops);
	for (uint32_t i = 0; i < b->nprops; i++) {
		le_wstr(&c, b->props[i].name);
		le_wstr(&c, b->props[i].value);
	}
	*len = c.pos;
	return c.ok ? 0 : terr(E2BIG, "stream header too large");
}

uint64_t sr_begin_size(const sr_begin_t *b)
{
	size_t n = 4 + 4 + 1 + 8 + 4 + 8 + 2 + strlen(b->toname) + 2 + strlen(b->fromname) + 8 + 4;
	for (uint32_t i = 0; i < b->nprops; i++)
		n += 4 + strlen(b->props[i].name) + strlen(b->props[i].value);
	return SR_HDR + n;
}

int srw_begin(sr_writer_t *w, const sr_begin_t *b)
{
	size_t cap = sr_begin_size(b), len;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return terr(ENOMEM, "out of memory");
	int rc = enc_begin(b, buf, cap, &len);
	if (rc == 0)
		rc = srw_record(w, SR_BEGIN, 0, b->to_guid, b->from_guid, buf, len);
	free(buf);
	return rc;
}

void srr_init(sr_reader_t *r, FILE *f)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
}

void srr_fini(sr_reader_t *r)
{
	free(r->buf);
	r->buf = NULL;
}

int srr_next(sr_reader_t *r, sr_hdr_t *h)
{
	uint8_t hb[SR_HDR];
	size_t got = fread(hb, 1, SR_HDR, r->f);
	if (got == 0 && feof(r->f))
		return 0;
	if (got != SR_HDR)
		return terr(EIO, "stream is truncated (at byte %llu)", (unsigned long long)(r->bytes + got));
	if (le_get32(hb) != SR_MAGIC)
		return terr(EINVAL, "invalid stream (bad magic number at byte %llu)", (unsigned long long)r->bytes);
	h->type = le_get16(hb + 4);
	h->flags = le_get16(hb + 6);
	h->len = le_get64(hb + 8);
	h->arg0 = le_get64(hb + 16);
	h->arg1 = le_get64(hb + 24);
	if (h->type < SR_BEGIN || h->type > SR_PKG_END)
		return terr(EINVAL, "invalid stream (unknown record type %u at byte %llu)", h->type,
			    (unsigned long long)r->bytes);
	if (h->len > SR_MAX_PAYLOAD)
		return terr(EINVAL, "invalid stream (record length %llu at byte %llu)", (unsigned long long)h->len,
			    (unsigned long long)r->bytes);
	if (h->len + 1 > r->cap) {
		uint8_t *nb = realloc(r->buf, h->len + 1);
		if (!nb)
			return terr(ENOMEM, "out of memory");
		r->buf = nb;
		r->cap = h->len + 1;
	}
	if (h->len && fread(r->buf, 1, (size_t)h->len, r->f) != h->len)
		return terr(EIO, "stream is truncated (in a record at byte %llu)", (unsigned long long)r->bytes);
	chain_step(r->chain, hb, r->buf, h->len);
	if (memcmp(r->chain, hb + 32, 16))
		return terr(EINVAL, "checksum mismatch in the stream (record at byte %llu): the stream is corrupt",
			    (unsigned long long)r->bytes);
	r->bytes += SR_HDR + h->len;
	return 1;
}

void sr_begin_free(sr_begin_t *b)
{
	for (uint32_t i = 0; i < b->nprops; i++) {
		free(b->props[i].name);
		free(b->props[i].value);
	}
	free(b->props);
	b->props = NULL;
	b->nprops = 0;
}

int sr_begin_decode(const uint8_t *p, uint64_t len, sr_begin_t *b)
{
	memset(b, 0, sizeof(*b));
	le_cur_t c = le_cur((void *)p, (size_t)len);
	b->version = le_r32(&c);
	b->features = le_r32(&c);
	if (c.ok && b->version != STREAM_VERSION)
		return terr(ENOTSUP, "stream version %u is not supported by this tarn (%u)", b->version, STREAM_VERSION);
	if (c.ok && (b->features & ~SRF_KNOWN))
		return terr(ENOTSUP, "stream uses features this tarn does not support (0x%x)", b->features & ~SRF_KNOWN);
	b->dstype = le_r8(&c);
	b->volsize = le_r64(&c);
	b->volblocksize = le_r32(&c);
	b->creation = le_r64(&c);
	le_rstr(&c, b->toname, sizeof(b->toname));
	le_rstr(&c, b->fromname, sizeof(b->fromname));
	b->resume_offset = le_r64(&c);
	uint32_t n = le_r32(&c);
	if (c.ok && n <= (len - c.pos) / 4) {
		b->props = calloc(n ? n : 1, sizeof(*b->props));
		for (uint32_t i = 0; b->props && i < n && c.ok; i++) {
			char name[256], *val = malloc(8192);
			if (!val) {
				c.ok = 0;
				break;
			}
			le_rstr(&c, name, sizeof(name));
			le_rstr(&c, val, 8192);
			b->props[i].name = strdup(name);
			b->props[i].value = val;
			b->nprops = i + 1;
			if (!b->props[i].name)
				c.ok = 0;
		}
		if (!b->props)
			c.ok = 0;
	} else {
		c.ok = 0;
	}
	if (!c.ok || c.pos != len || (b->dstype != 1 && b->dstype != 2) ||
	    (b->dstype == 2 && (b->volblocksize < 512 || b->volblocksize > (128u << 10) ||
				(b->volblocksize & (b->volblocksize - 1)) || b->volsize == 0 ||
				b->volsize % b->volblocksize)) ||
	    !strchr(b->toname, '@')) {
		sr_begin_free(b);
		return terr(EINVAL, "invalid stream (bad BEGIN record)");
	}
	return 0;
}
