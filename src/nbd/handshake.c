/* nbd/handshake.c — the fixed newstyle handshake and option haggling (doc/proto.md,
 * "Handshake"): greeting, client flags, then options until NBD_OPT_EXPORT_NAME or a successful
 * NBD_OPT_GO enters transmission, or NBD_OPT_ABORT ends the session.
 *
 * Every option is read whole (at most NBD_MAX_OPT_DATA bytes, else a hard disconnect) before it
 * is looked at, and every length inside it is checked against the option length. Replies that
 * come from the backend (export lists, context lists) are queued first and sent once the
 * backend has returned, so a slow client never holds up the backend. */
#include "nbd/conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define CONTINUE 2 /* do_option: keep haggling */

/* One option reply whose data is a[0..alen) then b[0..blen). */
static int opt_reply2(nbd_conn_t *c, uint32_t opt, uint32_t type, const void *a, size_t alen, const void *b,
		      size_t blen)
{
	uint8_t h[20];
	be_put64(h, NBD_MAGIC_REP);
	be_put32(h + 8, opt);
	be_put32(h + 12, type);
	be_put32(h + 16, (uint32_t)(alen + blen));
	struct iovec iov[3] = { { h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen } };
	return nbd_send_iov(c->fd, iov, 3);
}

static int opt_reply(nbd_conn_t *c, uint32_t opt, uint32_t type, const void *data, size_t len)
{
	return opt_reply2(c, opt, type, data, len, NULL, 0);
}

/* An error reply carrying a message (a string for humans). Returns CONTINUE or a send error. */
static __attribute__((format(printf, 4, 5))) int opt_error(nbd_conn_t *c, uint32_t opt, uint32_t type,
							   const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	TRY(opt_reply(c, opt, type, msg, (size_t)n));
	return CONTINUE;
}

/* The option reply for a backend error. */
static uint32_t rep_for_errno(int rc, uint32_t dflt)
{
	switch (-rc) {
	case ENOENT:
		return NBD_REP_ERR_UNKNOWN;
	case EPERM:
	case EACCES:
		return NBD_REP_ERR_POLICY;
	case ESHUTDOWN:
		return NBD_REP_ERR_SHUTDOWN;
	case E2BIG:
		return NBD_REP_ERR_TOO_BIG;
	default:
		return dflt;
	}
}

/* ---- the reply queue ---- */

static void q_reset(nbd_conn_t *c) { c->qlen = 0, c->qfull = 0; }

static int q_add(nbd_conn_t *c, uint32_t opt, uint32_t type, const void *a, size_t alen, const void *b,
		 size_t blen)
{
	size_t n = 20 + alen + blen;
	if (c->qfull || n > NBD_MAX_REPLIES - c->qlen) {
		c->qfull = 1;
		return 1; /* "enough" for backend callbacks */
	}
	if (c->qlen + n > c->qcap) {
		size_t cap = c->qcap ? c->qcap : 4096;
		while (cap < c->qlen + n)
			cap *= 2;
		uint8_t *q = realloc(c->q, cap);
		if (!q) {
			c->qfull = 1;
			return 1;
		}
		c->q = q, c->qcap = cap;
	}
	uint8_t *p = c->q + c->qlen;
	be_put64(p, NBD_MAGIC_REP);
	be_put32(p + 8, opt);
	be_put32(p + 12, type);
	be_put32(p + 16, (uint32_t)(alen + blen));
	if (alen)
		memcpy(p + 20, a, alen);
	if (blen)
		memcpy(p + 20 + alen, b, blen);
	c->qlen += n;
	return 0;
}

static int q_send(nbd_conn_t *c)
{
	int rc = c->qlen ? nbd_send(c->fd, c->q, c->qlen) : 0;
	q_reset(c);
	return rc;
}

/* ---- strings ---- */

/* Copy the client string p[0..n) into out (NBD_MAX_STRING + 1 bytes, NUL-terminated). -EINVAL if
 * it is longer than NBD_MAX_STRING or contains a NUL. */
static int get_string(const uint8_t *p, uint32_t n, char *out)
{
	if (n > NBD_MAX_STRING || memchr(p, 0, n))
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

/* A meta context name or query: "namespace:leaf", namespace non-empty. */
static int good_ctx(const char *s)
{
	const char *colon = strchr(s, ':');
	return colon && colon > s;
}

/* ---- exports ---- */

uint16_t nbd_tflags(const nbd_conn_t *c, const nbd_export_info_t *info)
{
	const nbd_backend_t *be = &c->s->be;
	uint16_t f = NBD_FLAG_HAS_FLAGS;
	if (info->readonly)
		f |= NBD_FLAG_READ_ONLY;
	else
		f |= NBD_FLAG_SEND_FUA;
	if (be->flush)
		f |= NBD_FLAG_SEND_FLUSH;
	if (!info->readonly && info->can_trim && be->trim)
		f |= NBD_FLAG_SEND_TRIM;
	if (!info->readonly && info->can_zero && be->zero) {
		f |= NBD_FLAG_SEND_WRITE_ZEROES;
		if (info->can_fast_zero)
			f |= NBD_FLAG_SEND_FAST_ZERO;
	}
	if (c->structured)
		f |= NBD_FLAG_SEND_DF;
	if (info->can_multi_conn)
		f |= NBD_FLAG_CAN_MULTI_CONN;
	if (info->can_cache && be->cache)
		f |= NBD_FLAG_SEND_CACHE;
	return f;
}

static int is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

/* Open export name through the backend; the info is made consistent with what the server can
 * do (no write function: read-only; a bad preferred block size: 4096). */
static int open_export(nbd_conn_t *c, const char *name, void **h, nbd_export_info_t *info)
{
	nbd_server_t *s = c->s;
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&s->net.lock);
	int stopping = s->net.stopping;
	pthread_mutex_unlock(&s->net.lock);
	if (stopping)
		return terr(ESHUTDOWN, "the server is shutting down");
	*h = NULL;
	int rc = s->be.open(s->be.arg, name, h, info);
	if (rc < 0) {
		if (terr_code() != -rc)
			terr(-rc, "cannot open export '%s': %s", name, strerror(-rc));
		return rc;
	}
	if (!s->be.write)
		info->readonly = 1;
	if (!is_pow2(info->pref_block) || info->pref_block < 512 || info->pref_block > NBD_MAX_PAYLOAD)
		info->pref_block = 4096;
	return 0;
}

/* Enter transmission with export name (already open as h). */
static int enter(nbd_conn_t *c, const char *name, void *h, const nbd_export_info_t *info)
{
	char *dup = strdup(name);
	if (!dup) {
		c->s->be.close(h);
		return terr(ENOMEM, "out of memory");
	}
	c->h = h;
	c->info = *info;
	c->tflags = nbd_tflags(c, info);
	pthread_mutex_lock(&c->s->net.lock);
	c->export_name = dup;
	pthread_mutex_unlock(&c->s->net.lock);
	/* contexts chosen for another export do not apply (BLOCK_STATUS then fails with EINVAL) */
	if (c->nmeta && (!c->meta_export || strcmp(c->meta_export, name) != 0)) {
		for (uint32_t i = 0; i < c->nmeta; i++)
			free(c->meta[i].name);
		c->nmeta = 0;
	}
	return 0;
}

static int opt_export_name(nbd_conn_t *c, const uint8_t *data, uint32_t len)
{
	char name[NBD_MAX_STRING + 1];
	void *h;
	nbd_export_info_t info;
	/* this option cannot be answered with an error: every failure is a hard disconnect */
	if (get_string(data, len, name) < 0)
		return terr(EINVAL, "NBD_OPT_EXPORT_NAME: the export name is too long or contains NUL");
	TRY(open_export(c, name, &h, &info));
	TRY(enter(c, name, h, &info));
	uint8_t r[8 + 2 + 124] = { 0 };
	be_put64(r, info.size);
	be_put16(r + 8, c->tflags);
	TRY(nbd_send(c->fd, r, c->no_zeroes ? 10 : sizeof(r)));
	return 0;
}

static int opt_info_go(nbd_conn_t *c, uint32_t opt, const uint8_t *data, uint32_t len)
{
	const char *what = opt == NBD_OPT_GO ? "NBD_OPT_GO" : "NBD_OPT_INFO";
	char name[NBD_MAX_STRING + 1];
	if (len < 6)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: option too short", what);
	uint32_t namelen = be_get32(data);
	if (namelen > len - 6)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: name length beyond the option", what);
	uint32_t nreq = be_get16(data + 4 + namelen);
	if ((uint64_t)len != 4 + (uint64_t)namelen + 2 + 2 * (uint64_t)nreq)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: %u information requests do not fit the option",
				 what, nreq);
	if (get_string(data + 4, namelen, name) < 0)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: export name too long or contains NUL", what);
	uint32_t want = 0;
	for (uint32_t i = 0; i < nreq; i++) {
		uint16_t t = be_get16(data + 4 + namelen + 2 + 2 * i);
		if (t < 32)
			want |= 1u << t;
	}

	void *h;
	nbd_export_info_t info;
	int rc = open_export(c, name, &h, &info);
	if (rc < 0)
		return opt_error(c, opt, rep_for_errno(rc, NBD_REP_ERR_UNKNOWN), "%s", terr_msg());

	uint8_t r[14];
	be_put16(r, NBD_INFO_EXPORT);
	be_put64(r + 2, info.size);
	be_put16(r + 10, nbd_tflags(c, &info));
	rc = opt_reply(c, opt, NBD_REP_INFO, r, 12);
	if (rc == 0 && (want & (1u << NBD_INFO_NAME))) {
		be_put16(r, NBD_INFO_NAME);
		rc = opt_reply2(c, opt, NBD_REP_INFO, r, 2, name, strlen(name));
	}
	if (rc == 0 && (want & (1u << NBD_INFO_DESCRIPTION)) && info.description) {
		be_put16(r, NBD_INFO_DESCRIPTION);
		rc = opt_reply2(c, opt, NBD_REP_INFO, r, 2, info.description, strnlen(info.description, NBD_MAX_STRING));
	}
	if (rc == 0 && (want & (1u << NBD_INFO_BLOCK_SIZE))) {
		be_put16(r, NBD_INFO_BLOCK_SIZE);
		be_put32(r + 2, 1);
		be_put32(r + 6, info.pref_block);
		be_put32(r + 10, NBD_MAX_PAYLOAD);
		rc = opt_reply(c, opt, NBD_REP_INFO, r, 14);
	}
	if (rc == 0)
		rc = opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	if (rc < 0 || opt == NBD_OPT_INFO) {
		c->s->be.close(h);
		return rc < 0 ? rc : CONTINUE;
	}
	TRY(enter(c, name, h, &info));
	return 0;
}

static int list_cb(void *arg, const char *name, const char *desc)
{
	nbd_conn_t *c = arg;
	size_t nl = name ? strlen(name) : 0, dl = desc ? strnlen(desc, NBD_MAX_STRING) : 0;
	if (!name || nl > NBD_MAX_STRING)
		return 0; /* not a name a client could ask for */
	uint8_t tmp[4 + NBD_MAX_STRING];
	be_put32(tmp, (uint32_t)nl);
	memcpy(tmp + 4, name, nl);
	return q_add(c, NBD_OPT_LIST, NBD_REP_SERVER, tmp, 4 + nl, desc, dl);
}

static int opt_list(nbd_conn_t *c, uint32_t len)
{
	if (len != 0)
		return opt_error(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
	q_reset(c);
	int rc = c->s->be.list ? c->s->be.list(c->s->be.arg, list_cb, c) : 0;
	if (rc < 0) {
		q_reset(c);
		return opt_error(c, NBD_OPT_LIST, rep_for_errno(rc, NBD_REP_ERR_POLICY), "cannot list exports: %s",
				 terr_msg());
	}
	if (c->qfull) {
		q_reset(c);
		return opt_error(c, NBD_OPT_LIST, NBD_REP_ERR_TOO_BIG, "too many exports to list");
	}
	TRY(q_send(c));
	TRY(opt_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0));
	return CONTINUE;
}

/* ---- meta contexts ---- */

static void meta_clear(nbd_conn_t *c)
{
	for (uint32_t i = 0; i < c->nmeta; i++)
		free(c->meta[i].name);
	c->nmeta = 0;
	free(c->meta_export);
	c->meta_export = NULL;
}

static int listmeta_cb(void *arg, const char *ctx)
{
	nbd_conn_t *c = arg;
	if (!ctx || strlen(ctx) > NBD_MAX_STRING || !good_ctx(ctx))
		return 0;
	return q_add(c, NBD_OPT_LIST_META_CONTEXT, NBD_REP_META_CONTEXT, "\0\0\0\0", 4, ctx, strlen(ctx));
}

/* Select ctx (SET_META_CONTEXT); 1 if there is no room for it. */
static int meta_select(nbd_conn_t *c, const char *ctx, int base)
{
	for (uint32_t i = 0; i < c->nmeta; i++)
		if (strcmp(c->meta[i].name, ctx) == 0)
			return 0;
	if (c->nmeta >= NBD_MAX_META)
		return 1;
	char *d = strdup(ctx);
	if (!d)
		return -ENOMEM;
	c->meta[c->nmeta].name = d;
	c->meta[c->nmeta].base = base;
	c->nmeta++;
	return 0;
}

static int opt_meta(nbd_conn_t *c, uint32_t opt, const uint8_t *data, uint32_t len)
{
	const nbd_backend_t *be = &c->s->be;
	int set = opt == NBD_OPT_SET_META_CONTEXT;
	const char *what = set ? "NBD_OPT_SET_META_CONTEXT" : "NBD_OPT_LIST_META_CONTEXT";
	char name[NBD_MAX_STRING + 1], query[NBD_MAX_STRING + 1];

	if (set)
		meta_clear(c); /* replaced even if this option fails */
	if (!c->structured)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: negotiate structured replies first", what);
	/* pass 1: validate the whole option */
	if (len < 8)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: option too short", what);
	uint32_t namelen = be_get32(data);
	if (namelen > len - 8)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: name length beyond the option", what);
	if (get_string(data + 4, namelen, name) < 0)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: export name too long or contains NUL", what);
	uint32_t nq = be_get32(data + 4 + namelen);
	uint32_t pos = 8 + namelen;
	for (uint32_t i = 0; i < nq; i++) { /* ends after len / 4 rounds at most */
		if (len - pos < 4)
			return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: %u queries do not fit the option", what, nq);
		uint32_t ql = be_get32(data + pos);
		pos += 4;
		if (ql > len - pos)
			return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: query length beyond the option", what);
		if (get_string(data + pos, ql, query) < 0 || !good_ctx(query))
			return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: query %u is not 'namespace:...'", what, i);
		pos += ql;
	}
	if (pos != len)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "%s: %u bytes after the last query", what, len - pos);

	/* pass 2: answer */
	q_reset(c);
	int rc = 0;
	if (!set && nq == 0) {
		listmeta_cb(c, "base:allocation");
		if (be->list_meta && (rc = be->list_meta(be->arg, name, "", listmeta_cb, c)) > 0)
			rc = 0;
	}
	pos = 8 + namelen;
	for (uint32_t i = 0; i < nq && rc >= 0; i++) {
		uint32_t ql = be_get32(data + pos);
		get_string(data + pos + 4, ql, query);
		pos += 4 + ql;
		if (strncmp(query, "base:", 5) == 0) {
			if (strcmp(query, "base:allocation") == 0 || (!set && strcmp(query, "base:") == 0)) {
				if (set)
					rc = meta_select(c, "base:allocation", 1);
				else
					listmeta_cb(c, "base:allocation");
			}
			/* other base: leaves are ignored (spec) */
		} else if (set) {
			if (be->check_meta) {
				int r = be->check_meta(be->arg, name, query);
				if (r == 0)
					rc = meta_select(c, query, 0);
				else if (r < 0 && r != -ENOENT)
					rc = r;
			}
		} else if (be->list_meta && (rc = be->list_meta(be->arg, name, query, listmeta_cb, c)) > 0) {
			rc = 0;
		}
	}
	if (rc > 0 || (!set && c->qfull)) {
		q_reset(c);
		if (set)
			meta_clear(c);
		return opt_error(c, opt, NBD_REP_ERR_TOO_BIG, "%s: too many contexts (at most %d)", what, NBD_MAX_META);
	}
	if (rc < 0) {
		q_reset(c);
		if (set)
			meta_clear(c);
		return opt_error(c, opt, rep_for_errno(rc, NBD_REP_ERR_INVALID), "%s: %s", what, terr_msg());
	}
	if (set) {
		if (c->nmeta && !(c->meta_export = strdup(name))) {
			meta_clear(c);
			return terr(ENOMEM, "out of memory");
		}
		for (uint32_t i = 0; i < c->nmeta; i++) {
			uint8_t id[4];
			be_put32(id, i + 1);
			if (q_add(c, opt, NBD_REP_META_CONTEXT, id, 4, c->meta[i].name, strlen(c->meta[i].name))) {
				q_reset(c);
				meta_clear(c);
				return opt_error(c, opt, NBD_REP_ERR_TOO_BIG, "%s: reply too big", what);
			}
		}
	}
	TRY(q_send(c));
	TRY(opt_reply(c, opt, NBD_REP_ACK, NULL, 0));
	return CONTINUE;
}

/* ---- the loop ---- */

static int do_option(nbd_conn_t *c, uint32_t opt, const uint8_t *data, uint32_t len)
{
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(c, data, len);
	case NBD_OPT_ABORT:
		opt_reply(c, opt, NBD_REP_ACK, NULL, 0); /* the client may be gone already */
		return 1;
	case NBD_OPT_LIST:
		return opt_list(c, len);
	case NBD_OPT_STARTTLS:
		return opt_error(c, opt, NBD_REP_ERR_UNSUP, "TLS is not supported by this server");
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info_go(c, opt, data, len);
	case NBD_OPT_STRUCTURED_REPLY:
		if (len != 0)
			return opt_error(c, opt, NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
		c->structured = 1;
		TRY(opt_reply(c, opt, NBD_REP_ACK, NULL, 0));
		return CONTINUE;
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return opt_meta(c, opt, data, len);
	default:
		return opt_error(c, opt, NBD_REP_ERR_UNSUP, "option %u is not supported", opt);
	}
}

int nbd_handshake(nbd_conn_t *c)
{
	uint8_t g[18];
	be_put64(g, NBD_MAGIC_INIT);
	be_put64(g + 8, NBD_MAGIC_OPT);
	be_put16(g + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	TRY(nbd_send(c->fd, g, sizeof(g)));

	uint8_t cf[4];
	int rc = nbd_read_full(c->fd, cf, 4, 1);
	if (rc != 0)
		return rc;
	uint32_t flags = be_get32(cf);
	if (flags & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
		return terr(EPROTO, "unknown client flags 0x%x", flags);
	if (!(flags & NBD_FLAG_C_FIXED_NEWSTYLE))
		return terr(EPROTO, "the client does not do the fixed newstyle handshake");
	c->no_zeroes = !!(flags & NBD_FLAG_C_NO_ZEROES);
	TRY(nbd_buf_reserve(c, NBD_MAX_OPT_DATA));

	for (int n = 0;; n++) {
		uint8_t oh[16];
		if (n >= NBD_MAX_OPTIONS)
			return terr(EPROTO, "more than %d options: giving up on this client", NBD_MAX_OPTIONS);
		rc = nbd_read_full(c->fd, oh, sizeof(oh), 1);
		if (rc != 0)
			return rc;
		if (be_get64(oh) != NBD_MAGIC_OPT)
			return terr(EPROTO, "bad option magic 0x%llx", (unsigned long long)be_get64(oh));
		uint32_t opt = be_get32(oh + 8), len = be_get32(oh + 12);
		if (len > NBD_MAX_OPT_DATA)
			return terr(E2BIG, "option %u carries %u bytes (at most %u)", opt, len, NBD_MAX_OPT_DATA);
		TRY(nbd_read_full(c->fd, c->buf, len, 0));
		rc = do_option(c, opt, c->buf, len);
		if (rc != CONTINUE)
			return rc;
	}
}
