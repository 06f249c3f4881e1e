/* stream/recv.c — zfs receive (see recv.h). */
#include "stream/recv.h"

#include <stdlib.h>
#include <string.h>

#include "stream/format.h"
#include "stream/send.h"
#include "util/compress.h"
#include "util/err.h"
#include "util/le.h"
#include "util/names.h"

#define PARTIAL_SUFFIX "%recv"
#define RESUME_PROP "%resume"

/* ---- names ---- */

static int target_for(const recv_opts_t *o, const char *sender_ds, char *out, size_t len)
{
	const char *tail = "";
	if (o->name_mode == 'd') { /* drop the sender's pool name */
		const char *slash = strchr(sender_ds, '/');
		tail = slash ? slash : "";
	} else if (o->name_mode == 'e') { /* keep only the last component */
		const char *slash = strrchr(sender_ds, '/');
		tail = slash ? slash : "";
	}
	if ((size_t)snprintf(out, len, "%s%s", o->target, tail) >= len)
		return terr(ENAMETOOLONG, "name is too long");
	return 0;
}

static void partial_name(const char *target, char *out, size_t len) { snprintf(out, len, "%s%s", target, PARTIAL_SUFFIX); }

/* The partial dataset of an interrupted receive into target, if any. */
static dsl_ds_t *find_partial(dsl_t *d, const char *target)
{
	char pn[DS_NAME_MAX * 2];
	dsl_ds_t *t = dsl_lookup(d, target);
	if (t && (t->flags & DSF_INCONSISTENT))
		return t;
	partial_name(target, pn, sizeof(pn));
	terr_clear();
	return dsl_lookup(d, pn);
}

void stream_resume_token(dsl_t *d, const char *name, char *out, size_t len)
{
	dsl_ds_t *p = find_partial(d, name);
	const dsl_prop_t *pr = p ? dsl_prop_find(p, RESUME_PROP) : NULL;
	terr_clear();
	snprintf(out, len, "%s", pr ? pr->value : "-");
}

int stream_recv_abort(dsl_t *d, const char *target)
{
	dsl_ds_t *p = find_partial(d, target);
	if (!p)
		return terr(ENOENT, "'%s' does not have any resumable receive state to abort", target);
	TRY(dsl_destroy(d, p));
	return dsl_commit(d);
}

/* ---- applying one substream ---- */

typedef struct rctx {
	dsl_t *d;
	const recv_opts_t *o;
	sr_reader_t *r;
	recv_note_fn note;
	void *arg;
	/* replication package */
	int pkg;
	char pkg_top[512];
	uint64_t nsub;
	uint8_t *buf; /* one decompressed block */
} rctx_t;

static int check_write(const sr_begin_t *b, const sr_hdr_t *h, uint64_t next)
{
	if (b->dstype != DS_VOLUME)
		return terr(EINVAL, "invalid stream (data for a filesystem)");
	if (h->arg0 % b->volblocksize || h->arg1 != b->volblocksize || h->arg0 >= b->volsize ||
	    h->arg1 > b->volsize - h->arg0)
		return terr(EINVAL, "invalid stream (write of %llu bytes at offset %llu)", (unsigned long long)h->arg1,
			    (unsigned long long)h->arg0);
	if (h->arg0 < next)
		return terr(EINVAL, "invalid stream (records out of order at offset %llu)", (unsigned long long)h->arg0);
	if (h->flags == 0 && h->len != h->arg1)
		return terr(EINVAL, "invalid stream (write length)");
	if (h->flags > COMP_ZSTD || (h->flags && !(b->features & SRF_COMPRESSED)))
		return terr(EINVAL, "invalid stream (unknown compression %u)", h->flags);
	return 0;
}

/* Record (in the partial) where a resumed send must start, as of what is applied now. */
static int note_resume(rctx_t *c, dsl_ds_t *part, const sr_begin_t *b, uint64_t offset)
{
	if (!c->o->resumable)
		return 0;
	resume_token_t t = { .to_guid = b->to_guid, .from_guid = b->from_guid, .offset = offset,
			     .features = b->features & (SRF_COMPRESSED | SRF_PROPS) };
	snprintf(t.toname, sizeof(t.toname), "%s", b->toname);
	snprintf(t.fromname, sizeof(t.fromname), "%s", b->fromname);
	char tok[2600];
	resume_token_encode(&t, tok, sizeof(tok));
	return dsl_prop_set_internal(part, RESUME_PROP, tok);
}

static dsl_ds_t *snap_by_guid(dsl_t *d, dsl_ds_t *head, uint64_t guid)
{
	dsl_ds_t **v, *f = NULL;
	size_t n = dsl_snapshots(d, head, &v);
	for (size_t i = 0; i < n; i++)
		if (v[i]->guid == guid)
			f = v[i];
	free(v);
	return f;
}

static dsl_ds_t *newest_snap(dsl_t *d, dsl_ds_t *head)
{
	dsl_ds_t **v, *f = NULL;
	size_t n = dsl_snapshots(d, head, &v);
	if (n)
		f = v[n - 1];
	free(v);
	return f;
}

/* Apply received and -o/-x properties to the new state of target. */
static int apply_props(rctx_t *c, dsl_ds_t *t, const sr_begin_t *b)
{
	for (uint32_t i = 0; i < b->nprops; i++) {
		int excluded = 0;
		for (int k = 0; k < c->o->nexcl; k++)
			excluded |= !strcmp(c->o->exclude[k], b->props[i].name);
		if (excluded)
			continue;
		if (dsl_prop_validate(b->props[i].name, b->props[i].value, t->type) < 0) {
			terr_clear(); /* a property this tarn does not know: skipped, as zfs does */
			continue;
		}
		TRY(dsl_prop_set(c->d, t, b->props[i].name, b->props[i].value, PROP_RECEIVED));
	}
	for (int k = 0; k < c->o->nset; k++) {
		char name[PROP_NAME_MAX];
		const char *eq = strchr(c->o->set[k], '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - c->o->set[k]), c->o->set[k]);
		TRY(dsl_prop_set(c->d, t, name, eq + 1, PROP_LOCAL));
	}
	return 0;
}

/* The received snapshot, with the sender's guid and creation time; commits (the atomic end
 * of a substream). */
static int take_snapshot(dsl_t *d, const char *tname, const char *snapname, const sr_begin_t *b)
{
	char full[DS_NAME_MAX * 2];
	snprintf(full, sizeof(full), "%s@%s", tname, snapname);
	char *names[1] = { full };
	uint64_t g[1] = { b->to_guid }, cr[1] = { b->creation };
	return dsl_snapshot_ex(d, names, 1, g, cr, 0, NULL);
}

/* The snapshot of the pool with this guid (the origin of a clone sent with -i origin); of
 * several, the one whose name shares the longest prefix with the target (nearest to it). */
static dsl_ds_t *any_snap_by_guid(dsl_t *d, uint64_t guid, const char *target)
{
	dsl_ds_t *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->type == DS_SNAPSHOT && d->ds[i]->guid == guid) {
			char full[DS_NAME_MAX];
			size_t l = 0;
			dsl_fullname(d, d->ds[i], full, sizeof(full));
			while (full[l] && full[l] == target[l])
				l++;
			if (!best || l > best_len)
				best = d->ds[i], best_len = l;
		}
	return best;
}

/* Create the missing containers above name (as zfs receive -d/-e and -R do; a plain
 * receive needs the parent to exist). */
static int ensure_parents(rctx_t *c, const char *name)
{
	dsl_t *d = c->d;
	if (!c->pkg && !c->o->name_mode)
		return 0;
	char path[DS_NAME_MAX * 2];
	snprintf(path, sizeof(path), "%s", name);
	for (char *sl = strchr(path, '/'); sl; sl = strchr(sl + 1, '/')) {
		*sl = 0;
		dsl_ds_t *p = dsl_lookup(d, path);
		terr_clear();
		if (!p)
			TRY(dsl_create(d, path, 0, 0, 0, NULL, 0));
		else if (p->type != DS_FILESYSTEM)
			return terr(EINVAL, "parent '%s' is not a filesystem", path);
		*sl = '/';
	}
	return 0;
}

/* The properties data is written with while receiving: the stream's (as received), the
 * target's own local ones (they win over received), then -o. */
static int prepare_partial(rctx_t *c, dsl_ds_t *part, dsl_ds_t *target, const sr_begin_t *b)
{
	TRY(apply_props(c, part, b));
	if (target && target != part)
		for (size_t i = 0; i < target->nprops; i++)
			if (target->props[i].source == PROP_LOCAL && target->props[i].name[0] != '%' &&
			    (!strcmp(target->props[i].name, "compression") || !strcmp(target->props[i].name, "checksum")))
				TRY(dsl_prop_set(c->d, part, target->props[i].name, target->props[i].value, PROP_LOCAL));
	for (int k = 0; k < c->o->nset; k++) { /* -o last: it wins */
		char name[PROP_NAME_MAX];
		const char *eq = strchr(c->o->set[k], '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - c->o->set[k]), c->o->set[k]);
		TRY(dsl_prop_set(c->d, part, name, eq + 1, PROP_LOCAL));
	}
	return 0;
}

enum finish_mode { FIN_NONE, FIN_NEW, FIN_REPLACE, FIN_SWAP, FIN_INPLACE, FIN_SKIP };

static int substream(rctx_t *c, const sr_hdr_t *bh)
{
	dsl_t *d = c->d;
	sr_begin_t b;
	TRY(sr_begin_decode(c->r->buf, bh->len, &b));
	int rc = 0, mode = FIN_NONE, verify_only = c->o->dryrun;
	dsl_ds_t *part = NULL, *target = NULL, *from = NULL;
	char tname[DS_NAME_MAX * 2], pname[DS_NAME_MAX * 2 + 8], sender_ds[DS_NAME_MAX], snapname[DS_NAME_MAX];
	snprintf(sender_ds, sizeof(sender_ds), "%.*s", (int)strcspn(b.toname, "@"), b.toname);
	snprintf(snapname, sizeof(snapname), "%s", strchr(b.toname, '@') + 1);
	b.to_guid = bh->arg0; /* the guids travel in the record header */
	b.from_guid = bh->arg1;
	if (b.to_guid == 0 || b.to_guid == b.from_guid)
		rc = terr(EINVAL, "invalid stream (BEGIN guids)");
	if (rc == 0 && c->pkg) { /* a package: the dataset's place relative to the package top */
		size_t tl = strlen(c->pkg_top);
		if (strncmp(sender_ds, c->pkg_top, tl) || (sender_ds[tl] && sender_ds[tl] != '/'))
			rc = terr(EINVAL, "invalid stream (dataset outside the package)");
		else if ((rc = target_for(c->o, c->pkg_top, tname, sizeof(tname))) == 0)
			strncat(tname, sender_ds + tl, sizeof(tname) - strlen(tname) - 1);
	} else if (rc == 0) {
		rc = target_for(c->o, sender_ds, tname, sizeof(tname));
	}
	if (rc == 0 && (name_check(tname, NAME_DATASET) < 0 || name_check(b.toname, NAME_SNAPSHOT) < 0))
		rc = terr_prefix(-EINVAL, "invalid name in the stream");
	partial_name(tname, pname, sizeof(pname));
	if (rc == 0) {
		target = dsl_lookup(d, tname);
		terr_clear();
	}
	dsl_ds_t *stale = rc == 0 ? find_partial(d, tname) : NULL;
	if (stale && !dsl_prop_find(stale, RESUME_PROP) && !c->o->dryrun) {
		/* left by a receive that was not resumable (killed): it is garbage, as OpenZFS
		 * destroys inconsistent datasets */
		if (stale == target)
			target = NULL;
		rc = dsl_destroy(d, stale);
		stale = NULL;
	}
	if (rc == 0 && (b.features & SRF_RESUME)) {
		const dsl_prop_t *pr = stale ? dsl_prop_find(stale, RESUME_PROP) : NULL;
		resume_token_t t;
		if (!pr || resume_token_decode(pr->value, &t) < 0 || t.to_guid != b.to_guid ||
		    t.from_guid != b.from_guid || t.offset != b.resume_offset) {
			rc = terr(EINVAL, "no matching partially received state to resume into '%s'", tname);
		} else if (!verify_only) {
			part = stale;
			if (part == target) /* a new dataset (full stream, or a clone) */
				target = NULL, mode = FIN_NEW;
			else if (b.from_guid) /* an incremental into the target */
				mode = FIN_SWAP, from = part->origin ? dsl_by_id(d, part->origin) : NULL;
			else /* a full stream replacing the target (-F) */
				mode = FIN_REPLACE;
			if (mode != FIN_NEW && !target)
				rc = terr(ENOENT, "destination '%s' does not exist", tname);
		}
	} else if (rc == 0 && target && (target->flags & DSF_INCONSISTENT)) {
		rc = terr(EBUSY, "destination contains partially-complete state from \"zfs receive -s\".");
	} else if (rc == 0 && stale) {
		rc = terr(EBUSY, "destination contains partially-complete state from \"zfs receive -s\".");
	} else if (rc == 0 && b.from_guid == 0) { /* full stream */
		if (target && snap_by_guid(d, target, b.to_guid) && c->pkg)
			mode = FIN_SKIP; /* already here (a package re-sent): nothing to do */
		else if (target && !c->o->force)
			rc = terr(EEXIST, "destination '%s' exists\nmust specify -F to overwrite it", tname);
		else if (target && newest_snap(d, target)) {
			char sn[DS_NAME_MAX];
			dsl_fullname(d, newest_snap(d, target), sn, sizeof(sn));
			rc = terr(EEXIST, "destination has snapshots (eg. %s)\nmust destroy them to overwrite it", sn);
		} else if (target && b.dstype == DS_FILESYSTEM && target->type == DS_FILESYSTEM)
			mode = FIN_INPLACE; /* a container holds no data: receive it where it is (even a pool's root) */
		else
			mode = target ? FIN_REPLACE : FIN_NEW;
		if (rc == 0 && !verify_only && (mode == FIN_NEW || mode == FIN_REPLACE)) {
			rc = ensure_parents(c, tname);
			if (rc == 0)
				rc = dsl_create_hidden(d, mode == FIN_REPLACE ? pname : tname, NULL,
						       b.dstype == DS_VOLUME ? b.volsize : 0, b.volblocksize, &part);
		}
	} else if (rc == 0) { /* incremental stream */
		if (!target) { /* a clone sent with -i origin: its origin must be here */
			from = any_snap_by_guid(d, b.from_guid, tname);
			if (!from && !verify_only)
				rc = terr(ENOENT, "destination '%s' does not exist", tname);
			mode = FIN_NEW;
			if (rc == 0 && from && !verify_only) {
				rc = ensure_parents(c, tname);
				if (rc == 0)
					rc = dsl_create_hidden(d, tname, from, 0, 0, &part);
			}
		} else if (snap_by_guid(d, target, b.to_guid)) {
			mode = FIN_SKIP; /* already received */
		} else if (!(from = snap_by_guid(d, target, b.from_guid))) {
			rc = terr(ENOENT, "most recent snapshot of %s does not\nmatch incremental source", tname);
		} else if (!c->o->force && (from != newest_snap(d, target) || target->unique || target->dl.n)) {
			rc = terr(EEXIST, "destination %s has been modified\nsince most recent snapshot", tname);
		} else if (target->type != b.dstype) {
			rc = terr(EINVAL, "incremental stream of a different dataset type");
		} else {
			mode = FIN_SWAP;
			if (!verify_only)
				rc = dsl_create_hidden(d, pname, from, 0, 0, &part);
		}
	}
	/* Others (NBD exports, sends, receives in other tarnd threads) may hold these datasets;
	 * while this substream reads its records (other threads run meanwhile under tarnd) they are
	 * marked busy so nobody destroys or renames them under us. */
	if (rc == 0 && target && target->busy && !verify_only)
		rc = terr(EBUSY, "dataset is busy");
	dsl_ds_t *held[3] = { rc == 0 ? target : NULL, rc == 0 ? part : NULL, rc == 0 ? from : NULL };
	for (int i = 0; i < 3; i++)
		if (held[i])
			dsl_busy(held[i], 1);
	/* the records */
	vol_t *v = NULL;
	if (rc == 0 && part && !(b.features & SRF_RESUME))
		rc = prepare_partial(c, part, target, &b);
	if (rc == 0 && part && b.dstype == DS_VOLUME) {
		if (part->volblocksize != b.volblocksize)
			rc = terr(EINVAL, "invalid stream (block size differs from the destination's)");
		if (rc == 0 && part->volsize != b.volsize)
			rc = dsl_set_volsize(d, part, b.volsize);
		if (rc == 0)
			rc = dsl_vol_open(d, part, &v);
	}
	uint64_t next = b.resume_offset, records = 1, start = c->r->bytes - SR_HDR - bh->len;
	sr_hdr_t h;
	int got_end = 0;
	while (rc == 0 && !got_end) {
		int n = srr_next(c->r, &h);
		if (n == 0)
			rc = terr(EIO, "stream is truncated (no END record)");
		else if (n < 0)
			rc = n;
		if (n <= 0)
			break;
		switch (h.type) {
		case SR_WRITE:
			rc = check_write(&b, &h, next);
			if (rc == 0 && h.flags) {
				rc = comp_decompress(h.flags, c->r->buf, h.len, c->buf, h.arg1);
				if (rc < 0)
					rc = terr(EINVAL, "invalid stream (compressed block at offset %llu)",
						  (unsigned long long)h.arg0);
			}
			if (rc == 0 && v) {
				/* what a commit inside the throttle makes durable resumes here */
				rc = note_resume(c, part, &b, h.arg0);
				if (rc == 0)
					rc = dsl_write_throttle(d, part, h.arg1);
				if (rc == 0)
					rc = vol_write(v, h.arg0, h.arg1, h.flags ? c->buf : c->r->buf);
				if (rc == 0 && h.flags) /* -c: stored compressed as it was sent */
					rc = tree_set_comp(&v->tree, h.arg0 / b.volblocksize, h.flags);
			}
			if (rc == 0) /* a record that failed (e.g. ENOSPC) is not done: resume at it */
				next = h.arg0 + h.arg1;
			break;
		case SR_FREE:
			if (b.dstype != DS_VOLUME || h.len || h.arg0 >= b.volsize || h.arg1 == 0 || h.arg1 > b.volsize - h.arg0 ||
			    h.arg0 < next) {
				rc = terr(EINVAL, "invalid stream (free of %llu bytes at offset %llu)",
					  (unsigned long long)h.arg1, (unsigned long long)h.arg0);
				break;
			}
			if (v)
				rc = vol_zero(v, h.arg0, h.arg1);
			if (rc == 0)
				next = h.arg0 + h.arg1;
			break;
		case SR_END:
			if (h.arg0 != b.to_guid || h.arg1 != records || h.len)
				rc = terr(EINVAL, "invalid stream (END record does not match: %llu of %llu records)",
					  (unsigned long long)records, (unsigned long long)h.arg1);
			got_end = 1;
			break;
		default:
			rc = terr(EINVAL, "invalid stream (record type %u inside a substream)", h.type);
		}
		records++;
	}
	for (int i = 0; i < 3; i++)
		if (held[i])
			dsl_busy(held[i], -1);
	if (rc < 0) { /* the stream failed: the partial holds only whole records */
		if (part && !d->pool->suspended) {
			char msg[TERR_MSG_MAX];
			int code = terr_code();
			snprintf(msg, sizeof(msg), "%s", terr_msg());
			if (c->o->resumable && (part->flags & DSF_INCONSISTENT)) {
				if (note_resume(c, part, &b, next) == 0) /* keep it: it resumes from `next` */
					dsl_commit(d);
			} else if (dsl_destroy(d, part) == 0) {
				dsl_commit(d);
			}
			rc = terr(code ? code : EIO, "%s", msg);
		}
		sr_begin_free(&b);
		return rc;
	}
	/* finish: one atomic step. A failure here leaves memory half-changed: nothing more is
	 * committed (the caller does not commit either) and the partial is cleaned up later. */
	if (!verify_only && mode != FIN_SKIP) {
		if (mode == FIN_REPLACE) {
			rc = dsl_destroy(d, target);
			if (rc == 0)
				rc = dsl_rename(d, part, tname);
			target = part;
		} else if (mode == FIN_SWAP) {
			if (c->o->force) { /* roll back to the source: newer snapshots go, changes go */
				dsl_ds_t **sv;
				size_t sn = dsl_snapshots(d, target, &sv);
				for (size_t i = sn; rc == 0 && i-- > 0 && sv[i] != from;)
					rc = dsl_destroy(d, sv[i]);
				free(sv);
				if (rc == 0 && (target->unique || target->dl.n))
					rc = dsl_rollback(d, from);
			}
			if (rc == 0)
				rc = dsl_recv_swap(d, target, part);
		} else if (mode == FIN_NEW) {
			target = part;
		}
		part = NULL; /* from here on it is the target (or gone) */
		if (rc == 0 && mode != FIN_INPLACE) {
			target->flags &= ~DSF_INCONSISTENT;
			dsl_prop_remove(target, RESUME_PROP, 0);
		}
		if (rc == 0)
			rc = apply_props(c, target, &b);
		if (rc == 0)
			rc = take_snapshot(d, tname, snapname, &b);
	}
	if (rc == 0 && c->note)
		c->note(c->arg, b.toname, b.from_guid ? b.fromname : NULL, c->r->bytes - start);
	sr_begin_free(&b);
	return rc;
}

/* ---- the replication package ---- */

typedef struct pkg_ds {
	char rel[512];
	uint64_t *guids;
	uint32_t nsnaps;
} pkg_ds_t;

static int package_decode(rctx_t *c, const uint8_t *p, uint64_t len, pkg_ds_t **out, uint32_t *nout)
{
	le_cur_t cur = le_cur((void *)p, (size_t)len);
	char tosnap[256], fromsnap[256];
	if (le_r32(&cur) != STREAM_VERSION)
		return terr(ENOTSUP, "replication stream version is not supported by this tarn");
	le_rstr(&cur, c->pkg_top, sizeof(c->pkg_top));
	le_rstr(&cur, tosnap, sizeof(tosnap));
	le_rstr(&cur, fromsnap, sizeof(fromsnap));
	uint32_t n = le_r32(&cur);
	if (!cur.ok || n > len / 16)
		return terr(EINVAL, "invalid stream (replication package)");
	pkg_ds_t *ds = calloc(n ? n : 1, sizeof(*ds));
	if (!ds)
		return terr(ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n && cur.ok; i++) {
		le_rstr(&cur, ds[i].rel, sizeof(ds[i].rel));
		le_r8(&cur);
		le_r64(&cur);
		uint32_t np = le_r32(&cur);
		for (uint32_t k = 0; k < np && cur.ok; k++) {
			char name[256], *val = malloc(8192);
			if (!val) {
				cur.ok = 0;
				break;
			}
			le_rstr(&cur, name, sizeof(name));
			le_rstr(&cur, val, 8192);
			free(val);
		}
		ds[i].nsnaps = le_r32(&cur);
		if (!cur.ok || ds[i].nsnaps > len / 8) {
			cur.ok = 0;
			break;
		}
		ds[i].guids = calloc(ds[i].nsnaps ? ds[i].nsnaps : 1, sizeof(uint64_t));
		for (uint32_t k = 0; ds[i].guids && k < ds[i].nsnaps && cur.ok; k++) {
			char sn[256];
			le_rstr(&cur, sn, sizeof(sn));
			ds[i].guids[k] = le_r64(&cur);
		}
		if (!ds[i].guids)
			cur.ok = 0;
		if (strstr(ds[i].rel, "/../") || strstr(ds[i].rel, "/./") || (ds[i].rel[0] && ds[i].rel[0] != '/'))
			cur.ok = 0;
	}
	if (!cur.ok || cur.pos != len) {
		for (uint32_t i = 0; i < n; i++)
			free(ds[i].guids);
		free(ds);
		return terr(EINVAL, "invalid stream (replication package)");
	}
	*out = ds;
	*nout = n;
	return 0;
}

/* -F with -R: drop target snapshots the sender no longer has. */
static int prune(rctx_t *c, pkg_ds_t *ds, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		char tname[DS_NAME_MAX * 2];
		TRY(target_for(c->o, c->pkg_top, tname, sizeof(tname)));
		strncat(tname, ds[i].rel, sizeof(tname) - strlen(tname) - 1);
		dsl_ds_t *t = dsl_lookup(c->d, tname);
		terr_clear();
		if (!t)
			continue;
		dsl_ds_t **v;
		size_t ns = dsl_snapshots(c->d, t, &v);
		int changed = 0, rc = 0;
		for (size_t k = ns; rc == 0 && k-- > 0;) {
			int keep = 0;
			for (uint32_t g = 0; g < ds[i].nsnaps; g++)
				keep |= ds[i].guids[g] == v[k]->guid;
			if (!keep && v[k]->nholds == 0) {
				rc = dsl_destroy(c->d, v[k]);
				if (rc == -EBUSY) /* a clone depends on it: keep it */
					rc = 0, terr_clear();
				else
					changed = 1;
			}
		}
		free(v);
		TRY(rc);
		if (changed)
			TRY(dsl_commit(c->d));
	}
	/* datasets below the target the sender no longer has */
	char base[DS_NAME_MAX * 2];
	TRY(target_for(c->o, c->pkg_top, base, sizeof(base)));
	dsl_ds_t *top = dsl_lookup(c->d, base);
	terr_clear();
	int changed = 0;
	for (int again = 1; top && again;) {
		again = 0;
		for (size_t k = 0; k < c->d->nds && !again; k++) {
			dsl_ds_t *x = c->d->ds[k];
			char full[DS_NAME_MAX];
			if (!dsl_is_head(x) || x == top || strchr(x->name, '%'))
				continue;
			dsl_fullname(c->d, x, full, sizeof(full));
			size_t bl = strlen(base);
			if (strncmp(full, base, bl) || full[bl] != '/')
				continue;
			int keep = 0;
			for (uint32_t i = 0; i < n && !keep; i++) /* it, or something below it, was sent */
				keep = !strncmp(ds[i].rel, full + bl, strlen(full + bl)) &&
				       (ds[i].rel[strlen(full + bl)] == 0 || ds[i].rel[strlen(full + bl)] == '/');
			if (!keep) {
				int rc = dsl_destroy_recursive(c->d, x);
				if (rc < 0)
					return terr_prefix(rc, "cannot destroy '%s'", full);
				changed = again = 1; /* the table changed under us: look again */
			}
		}
	}
	return changed ? dsl_commit(c->d) : 0;
}

int stream_recv(dsl_t *d, const recv_opts_t *o, FILE *in, recv_note_fn note, void *arg)
{
	sr_reader_t r;
	srr_init(&r, in);
	rctx_t c = { .d = d, .o = o, .r = &r, .note = note, .arg = arg };
	sr_hdr_t h;
	int n = srr_next(&r, &h), rc = 0;
	if (n == 0)
		rc = terr(EINVAL, "failed to read from stream");
	else if (n < 0)
		rc = n;
	if (rc == 0 && !(c.buf = malloc(1u << 20)))
		rc = terr(ENOMEM, "out of memory");
	if (rc == 0 && h.type == SR_BEGIN) { /* one substream, or several back to back (-I) */
		while (rc == 0) {
			rc = substream(&c, &h);
			if (rc == 0 && (n = srr_next(&r, &h)) <= 0) {
				rc = n;
				break;
			}
			if (rc == 0 && h.type != SR_BEGIN)
				rc = terr(EINVAL, "invalid stream (record type %u after an END record)", h.type);
		}
	} else if (rc == 0 && h.type == SR_PKG_BEGIN) {
		pkg_ds_t *ds = NULL;
		uint32_t nds = 0;
		c.pkg = 1;
		rc = package_decode(&c, r.buf, h.len, &ds, &nds);
		uint64_t subs = 0;
		while (rc == 0) {
			n = srr_next(&r, &h);
			if (n <= 0) {
				rc = n < 0 ? n : terr(EIO, "stream is truncated (no end of the replication package)");
				break;
			}
			if (h.type == SR_PKG_END) {
				if (h.arg0 != subs)
					rc = terr(EINVAL, "invalid stream (package of %llu substreams, %llu received)",
						  (unsigned long long)h.arg0, (unsigned long long)subs);
				break;
			}
			if (h.type != SR_BEGIN) {
				rc = terr(EINVAL, "invalid stream (record type %u between substreams)", h.type);
				break;
			}
			rc = substream(&c, &h);
			subs++;
		}
		if (rc == 0 && o->force && !o->dryrun)
			rc = prune(&c, ds, nds);
		for (uint32_t i = 0; i < nds; i++)
			free(ds[i].guids);
		free(ds);
	} else if (rc == 0) {
		rc = terr(EINVAL, "invalid stream (it starts with a record of type %u)", h.type);
	}
	free(c.buf);
	srr_fini(&r);
	return rc;
}
