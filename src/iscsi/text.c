/* iscsi/text.c — the key=value text of Login and Text PDUs (RFC 7143 6.1): NUL-terminated
 * pairs, parsed without trusting anything (no NUL at the end, no '=', empty keys), and a
 * bounded builder for responses. */
#include "iscsi/conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int iscsi_kv_next(const char *txt, size_t len, size_t *pos, const char **key, size_t *klen, const char **val,
		  size_t *vlen)
{
	while (*pos < len && txt[*pos] == 0) /* tolerate padding NULs */
		(*pos)++;
	if (*pos >= len)
		return 0;
	const char *s = txt + *pos;
	const char *end = memchr(s, 0, len - *pos);
	size_t n = end ? (size_t)(end - s) : len - *pos;
	*pos += n + 1;
	const char *eq = memchr(s, '=', n);
	if (!eq || eq == s || (size_t)(eq - s) > 63)
		return terr(EINVAL, "malformed key=value pair");
	*key = s;
	*klen = (size_t)(eq - s);
	*val = eq + 1;
	*vlen = n - *klen - 1;
	if (*vlen > 8192)
		return terr(EINVAL, "value too long");
	return 1;
}

void iscsi_kv_add(iscsi_kv_t *kv, const char *key, const char *fmt, ...)
{
	char val[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	size_t need = strlen(key) + 1 + strlen(val) + 1;
	if (kv->overflow || kv->len + need > kv->max) {
		kv->overflow = 1;
		return;
	}
	if (kv->len + need > kv->cap) {
		size_t cap = kv->cap ? kv->cap : 512;
		while (cap < kv->len + need)
			cap *= 2;
		char *b = realloc(kv->buf, cap);
		if (!b) {
			kv->overflow = 1;
			return;
		}
		kv->buf = b, kv->cap = cap;
	}
	kv->len += (size_t)sprintf(kv->buf + kv->len, "%s=%s", key, val) + 1;
}

void iscsi_kv_free(iscsi_kv_t *kv)
{
	free(kv->buf);
	kv->buf = NULL;
	kv->len = kv->cap = 0;
}

int iscsi_num(const char *v, size_t vlen, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t x = 0;
	size_t i = 0;
	int hex = vlen > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
	if (hex)
		i = 2;
	if (i >= vlen || vlen > 20)
		return -EINVAL;
	for (; i < vlen; i++) {
		int d;
		char ch = v[i];
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (hex && ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (hex && ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			return -EINVAL;
		uint64_t nx = x * (hex ? 16 : 10) + (uint64_t)d;
		if (nx / (hex ? 16 : 10) != x)
			return -EINVAL;
		x = nx;
	}
	if (x < lo || x > hi)
		return -EINVAL;
	*out = x;
	return 0;
}
