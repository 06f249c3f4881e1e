/* daemon/iscsi_exports.c — COMSTAR logical units as iSCSI LUNs: the backend src/iscsi calls
 * into (iscsi_backend_t), over the stmf model (stmf.conf) and volumes.
 *
 * The model: tarnd keeps a copy of stmf.conf, re-read when the file changes (checked at most
 * once a second by the backend, after every command, every --txg-timeout seconds and on
 * SIGHUP). Every LU's dataset is held busy (dsl_busy) while tarnd runs: no destroy, rename,
 * rollback or receive into it (the CLI checks stmf.conf as well, with or without tarnd). A hold
 * keeps a pointer to its dataset, looked up again after a pool reload (dp->gen), as exports.c
 * does for NBD.
 *
 * A session's open LU (a handle) does the same for its own dataset, and answers `gone` once
 * the LU was deleted, its view removed (the LUN no longer maps to it), or its pool left. Data
 * paths mirror exports.c: the pool lock for each request, daemon_write_throttle before buffering,
 * FUA and SYNCHRONIZE CACHE commit the txg, UNMAP zeroes (whole blocks become holes). */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/internal.h"
#include "iscsi/iscsi.h"
#include "stmf/stmf.h"
#include "util/err.h"
#include "vol/vol.h"

#define LU_BLOCK 512u

/* ---- the model ---- */

static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static stmf_t model;
static int model_loaded;
static stmf_stamp_t model_stamp;
static uint64_t model_gen = 1;
static struct timespec model_checked;
static int model_bad; /* the last load failed: logged once */

/* With model_lock: re-read stmf.conf if it changed (at most once a second unless force). */
static void refresh_locked(int force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && model_loaded && now.tv_sec == model_checked.tv_sec)
		return;
	model_checked = now;
	stmf_stamp_t s;
	stmf_stamp(&s);
	if (model_loaded && stmf_stamp_eq(&s, &model_stamp))
		return;
	stmf_t m;
	if (stmf_load(&m) < 0) {
		if (!model_bad)
			daemon_log("iSCSI: %s (keeping the previous configuration)", terr_msg());
		model_bad = 1;
		model_stamp = s;
		model_loaded = 1;
		return;
	}
	if (model_loaded)
		daemon_log("iSCSI: configuration re-read (%zu LUs, %zu targets, %zu views)", m.nlu, m.ntgt, m.nview);
	model_bad = 0;
	stmf_free(&model);
	model = m;
	model_stamp = s;
	model_loaded = 1;
	model_gen++;
}

/* ---- holds: every LU's dataset busy while tarnd runs ---- */

typedef struct hold {
	char name[STMF_DATASET_MAX];
	daemon_pool_t *dp; /* referenced */
	uint64_t gen;
	dsl_ds_t *ds;      /* busy-marked while gen is current */
	struct hold *next;
} hold_t;

static pthread_mutex_t holds_lock = PTHREAD_MUTEX_INITIALIZER;
static hold_t *holds;
static int stopped;

static int pool_of(const char *name, daemon_pool_t **dp)
{
	char pool[POOL_NAME_MAX];
	size_t pl = strcspn(name, "/@#");
	if (pl == 0 || pl >= sizeof(pool))
		return -ENOENT;
	memcpy(pool, name, pl);
	pool[pl] = 0;
	return daemon_pool_get(pool, dp) < 0 ? -ENOENT : 0;
}

static int usable(const dsl_ds_t *ds)
{
	return ds && (ds->type == DS_VOLUME || ds->type == DS_SNAPSHOT) && !(ds->flags & DSF_INCONSISTENT);
}

/* Look name up with dp locked: the dataset only by its canonical name. */
static dsl_ds_t *lookup(dsl_t *d, const char *name)
{
	dsl_ds_t *ds = dsl_lookup(d, name);
	char canon[DS_NAME_MAX * 2];
	if (!ds)
		return NULL;
	dsl_fullname(d, ds, canon, sizeof(canon));
	if (strcmp(canon, name)) {
		terr(ENOENT, "dataset does not exist");
		return NULL;
	}
	if (ds->type == DS_SNAPSHOT) { /* a snapshot of a volume */
		dsl_ds_t *h = dsl_by_id(d, ds->parent);
		if (!h || h->type != DS_VOLUME)
			return NULL;
	}
	return usable(ds) ? ds : NULL;
}

static void hold_drop(hold_t *h)
{
	if (daemon_pool_lock(h->dp) == 0) {
		if (h->ds && h->gen == h->dp->gen)
			dsl_busy(h->ds, -1);
		daemon_pool_unlock(h->dp);
	}
	daemon_pool_put(h->dp);
	free(h);
}

/* With holds_lock: make h->ds current. Returns -1 when the pool left (drop the hold). */
static int hold_resolve(hold_t *h)
{
	if (daemon_pool_lock(h->dp) < 0)
		return -1;
	if (!h->ds || h->gen != h->dp->gen) {
		h->gen = h->dp->gen;
		h->ds = lookup(h->dp->dsl, h->name);
		if (h->ds)
			dsl_busy(h->ds, 1);
	}
	daemon_pool_unlock(h->dp);
	return 0;
}

static void changed(void);

void daemon_iscsi_changed(void)
{
	/* called as commands end: keep the error they are about to print */
	char msg[TERR_MSG_MAX];
	int code = terr_code();
	snprintf(msg, sizeof(msg), "%s", terr_msg());
	changed();
	if (code)
		terr(code, "%s", msg);
	else
		terr_clear();
}

static void changed(void)
{
	pthread_mutex_lock(&holds_lock);
	if (stopped) {
		pthread_mutex_unlock(&holds_lock);
		return;
	}
	/* the datasets of the LUs, copied out of the model */
	pthread_mutex_lock(&model_lock);
	refresh_locked(1);
	size_t n = model.nlu;
	char (*names)[STMF_DATASET_MAX] = n ? calloc(n, sizeof(*names)) : NULL;
	for (size_t i = 0; names && i < n; i++)
		snprintf(names[i], sizeof(names[i]), "%s", model.lu[i].dataset);
	pthread_mutex_unlock(&model_lock);
	if (n && !names) {
		pthread_mutex_unlock(&holds_lock);
		return;
	}
	/* drop holds of LUs that are gone */
	for (hold_t **pp = &holds; *pp;) {
		hold_t *h = *pp;
		int keep = 0;
		for (size_t i = 0; i < n && !keep; i++)
			keep = !strcmp(names[i], h->name);
		if (keep) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		hold_drop(h);
	}
	/* new ones */
	for (size_t i = 0; i < n; i++) {
		hold_t *h;
		for (h = holds; h && strcmp(h->name, names[i]); h = h->next)
			;
		if (h)
			continue;
		h = calloc(1, sizeof(*h));
		if (!h)
			break;
		snprintf(h->name, sizeof(h->name), "%s", names[i]);
		if (pool_of(h->name, &h->dp) < 0) { /* not imported: tried again next time */
			free(h);
			continue;
		}
		h->next = holds;
		holds = h;
	}
	free(names);
	/* current in every pool's present generation */
	for (hold_t **pp = &holds; *pp;) {
		hold_t *h = *pp;
		if (hold_resolve(h) == 0) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		daemon_pool_put(h->dp);
		free(h);
	}
	pthread_mutex_unlock(&holds_lock);
}

/* ---- open LUs ---- */

typedef struct lu_h {
	daemon_vh_t vh; /* first: the backend's handle is the LU */
	char guid[STMF_GUID_LEN + 1];
	char target[STMF_IQN_MAX + 1], initiator[STMF_IQN_MAX + 1];
	uint32_t lun;
	uint64_t model_gen;
	struct lu_h *next;
} lu_h_t;

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static lu_h_t *open_lus;

static int canon_names(const char *target, const char *initiator, char *t, char *i)
{
	if (stmf_check_iscsi_name(target, t, STMF_IQN_MAX + 1) < 0 ||
	    stmf_check_iscsi_name(initiator, i, STMF_IQN_MAX + 1) < 0)
		return -ENOENT;
	return 0;
}

/* ---- backend ---- */

static int be_list_targets(void *arg, const char *initiator, int (*cb)(void *, const char *), void *cbarg)
{
	pthread_mutex_lock(&model_lock);
	refresh_locked(0);
	size_t n = model.ntgt;
	char (*v)[STMF_IQN_MAX + 1] = n ? calloc(n, sizeof(*v)) : NULL;
	size_t k = 0;
	for (size_t t = 0; v && t < n; t++) {
		int visible = 0;
		for (size_t j = 0; j < model.nview && !visible; j++)
			visible = stmf_view_applies(&model, &model.view[j], model.tgt[t].iqn, initiator);
		if (visible)
			snprintf(v[k++], sizeof(v[0]), "%s", model.tgt[t].iqn);
	}
	pthread_mutex_unlock(&model_lock);
	if (n && !v)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < k && rc == 0; i++) /* outside the lock: cb may block on the socket */
		rc = cb(cbarg, v[i]);
	free(v);
	return rc < 0 ? rc : 0;
}

static void copy_out(char *buf, size_t len, const char *s)
{
	if (buf && len)
		snprintf(buf, len, "%s", s ? s : "");
}

static int be_login(void *arg, const char *target, const char *initiator, char *chap_user, size_t ulen,
		    char *chap_secret, size_t slen, char *target_secret, size_t tslen)
{
	char t[STMF_IQN_MAX + 1], i[STMF_IQN_MAX + 1];
	if (canon_names(target, initiator, t, i) < 0)
		return -ENOENT;
	pthread_mutex_lock(&model_lock);
	refresh_locked(0);
	stmf_target_t *tg = stmf_target_find(&model, t);
	int rc = 0;
	if (!tg) {
		rc = -ENOENT;
	} else if (tg->auth == STMF_AUTH_CHAP) {
		if (!tg->chap_secret) {
			rc = -EACCES; /* CHAP required but no secret set: nobody can log in */
		} else {
			copy_out(chap_user, ulen, tg->chap_user ? tg->chap_user : i);
			copy_out(chap_secret, slen, tg->chap_secret);
			copy_out(target_secret, tslen, tg->mutual_secret);
		}
	} else {
		copy_out(chap_user, ulen, "");
		copy_out(chap_secret, slen, "");
		copy_out(target_secret, tslen, "");
	}
	pthread_mutex_unlock(&model_lock);
	return rc;
}

static int be_list_luns(void *arg, const char *target, const char *initiator, int (*cb)(void *, uint64_t),
			void *cbarg)
{
	pthread_mutex_lock(&model_lock);
	refresh_locked(0);
	size_t n = model.nview, k = 0;
	uint32_t *v = n ? calloc(n, sizeof(*v)) : NULL;
	for (size_t j = 0; v && j < n; j++)
		if (stmf_view_applies(&model, &model.view[j], target, initiator) && stmf_lu_find(&model, model.view[j].guid))
			v[k++] = model.view[j].lun;
	pthread_mutex_unlock(&model_lock);
	if (n && !v)
		return -ENOMEM;
	/* ascending, as REPORT LUNS lists them */
	for (size_t a = 1; a < k; a++)
		for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
			uint32_t x = v[b];
			v[b] = v[b - 1];
			v[b - 1] = x;
		}
	int rc = 0;
	for (size_t i = 0; i < k && rc == 0; i++)
		if (i == 0 || v[i] != v[i - 1])
			rc = cb(cbarg, v[i]);
	free(v);
	return rc < 0 ? rc : 0;
}

/* With the pool locked: writes are refused once the volume became read-only (readonly=on). */
static int now_readonly(daemon_vh_t *h) { return dsl_readonly(h->dp->dsl, h->ds); }

static void guid_to_naa(const char *guid, uint8_t naa[16])
{
	for (int i = 0; i < 16; i++) {
		unsigned x = 0;
		sscanf(guid + 2 * i, "%2x", &x);
		naa[i] = (uint8_t)x;
	}
}

static int be_open(void *arg, const char *target, const char *initiator, uint64_t lun, void **hp,
		   iscsi_lu_info_t *info)
{
	lu_h_t *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->vh.find = lookup;
	e->vh.now_readonly = now_readonly;
	if (lun > STMF_LUN_MAX || canon_names(target, initiator, e->target, e->initiator) < 0) {
		free(e);
		return -ENOENT;
	}
	e->lun = (uint32_t)lun;
	char serial[33];
	int wcd;
	pthread_mutex_lock(&model_lock);
	refresh_locked(0);
	const stmf_lu_t *lu = stmf_lu_at(&model, e->target, e->initiator, e->lun);
	if (lu) {
		memcpy(e->guid, lu->guid, sizeof(e->guid));
		snprintf(e->vh.name, sizeof(e->vh.name), "%s", lu->dataset);
		snprintf(serial, sizeof(serial), "%s", lu->serial ? lu->serial : lu->guid);
		wcd = lu->wcd;
		e->model_gen = model_gen;
	}
	pthread_mutex_unlock(&model_lock);
	if (!lu || pool_of(e->vh.name, &e->vh.dp) < 0) {
		free(e);
		return -ENOENT;
	}
	if (daemon_pool_lock(e->vh.dp) < 0) {
		daemon_pool_put(e->vh.dp);
		free(e);
		return -ENOENT;
	}
	dsl_t *d = e->vh.dp->dsl;
	dsl_ds_t *ds = lookup(d, e->vh.name);
	if (!ds) {
		daemon_pool_unlock(e->vh.dp);
		daemon_pool_put(e->vh.dp);
		free(e);
		return -ENOENT;
	}
	e->vh.ds = ds;
	e->vh.gen = e->vh.dp->gen;
	dsl_busy(ds, 1);
	e->vh.readonly = ds->type == DS_SNAPSHOT || dsl_readonly(d, ds);
	dsl_ds_t *head = ds->type == DS_SNAPSHOT ? dsl_by_id(d, ds->parent) : ds;
	dsl_space_t sp;
	dsl_space(d, head, &sp);
	memset(info, 0, sizeof(*info));
	info->blocks = ds->volsize / LU_BLOCK;
	info->block_size = LU_BLOCK;
	info->opt_xfer_blocks = ds->volblocksize >= LU_BLOCK ? (uint32_t)(ds->volblocksize / LU_BLOCK) : 1;
	guid_to_naa(e->guid, info->naa);
	snprintf(info->serial, sizeof(info->serial), "%s", serial);
	snprintf(info->product, sizeof(info->product), "%s", ds->type == DS_SNAPSHOT ? "tarn snapshot" : "tarn volume");
	info->readonly = e->vh.readonly;
	info->thin = sp.refreservation == 0;
	info->write_cache = !wcd;
	daemon_pool_unlock(e->vh.dp);
	pthread_mutex_lock(&open_lock);
	e->next = open_lus;
	open_lus = e;
	pthread_mutex_unlock(&open_lock);
	*hp = e;
	return 0;
}

static void be_close(void *h)
{
	lu_h_t *e = h;
	pthread_mutex_lock(&open_lock);
	for (lu_h_t **pp = &open_lus; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	pthread_mutex_unlock(&open_lock);
	daemon_vh_close(&e->vh);
	free(e);
}

static int be_read(void *h, uint64_t off, uint32_t len, void *buf) { return daemon_vh_read(h, off, len, buf); }

static int be_write(void *h, uint64_t off, uint32_t len, const void *buf, int fua)
{
	return daemon_vh_write(h, off, len, buf, fua);
}

/* Whole blocks become holes; the partial ones at either end are zero-filled (UNMAP promises
 * zeros afterwards: LBPRZ). */
static int be_unmap(void *h, uint64_t off, uint64_t len) { return daemon_vh_zero(h, off, len, 0, 0); }

static int be_flush(void *h) { return daemon_vh_flush(h); }

static int be_extents(void *h, uint64_t off, uint64_t len, int (*cb)(void *, uint64_t, int), void *cbarg)
{
	lu_h_t *e = h;
	vol_t *v;
	TRY(daemon_vh_lock(&e->vh, &v));
	uint64_t bs = v->tree.phys.dblksz, end = off + len;
	if (len / bs > (1u << 20)) /* bound one request's work: the initiator asks again */
		end = off + ((uint64_t)1 << 20) * bs;
	uint64_t run_start = off;
	int run_hole = -1, rc = 0;
	for (uint64_t blk = off / bs; blk * bs < end && rc == 0; blk++) {
		int hole = tree_is_hole(&v->tree, blk);
		if (hole < 0) {
			rc = hole;
			break;
		}
		if (run_hole < 0)
			run_hole = hole;
		if (hole != run_hole) {
			uint64_t stop = blk * bs;
			int r = cb(cbarg, stop - run_start, !run_hole);
			if (r) {
				daemon_pool_unlock(e->vh.dp);
				return r < 0 ? r : 0;
			}
			run_start = stop;
			run_hole = hole;
		}
	}
	if (rc == 0 && end > run_start)
		rc = cb(cbarg, end - run_start, run_hole > 0 ? 0 : 1) < 0 ? -EIO : 0;
	daemon_pool_unlock(e->vh.dp);
	return rc;
}

static int be_set_write_cache(void *h, int on)
{
	lu_h_t *e = h;
	stmf_txn_t t;
	TRY(stmf_begin(&t));
	stmf_lu_t *lu = stmf_lu_find(&t.m, e->guid);
	if (!lu) {
		stmf_abort(&t);
		return -ENOENT;
	}
	lu->wcd = !on;
	int rc = stmf_commit(&t);
	if (rc == 0) {
		pthread_mutex_lock(&model_lock);
		refresh_locked(1);
		pthread_mutex_unlock(&model_lock);
	}
	return rc;
}

static int be_gone(void *h)
{
	lu_h_t *e = h;
	if (e->vh.gone)
		return 1;
	pthread_mutex_lock(&model_lock);
	refresh_locked(0);
	if (e->model_gen != model_gen) {
		const stmf_lu_t *lu = stmf_lu_at(&model, e->target, e->initiator, e->lun);
		if (!lu || strcmp(lu->guid, e->guid) || strcmp(lu->dataset, e->vh.name))
			e->vh.gone = 1;
		else
			e->model_gen = model_gen;
	}
	pthread_mutex_unlock(&model_lock);
	return e->vh.gone;
}

void daemon_iscsi_backend(iscsi_backend_t *be)
{
	memset(be, 0, sizeof(*be));
	be->list_targets = be_list_targets;
	be->login = be_login;
	be->list_luns = be_list_luns;
	be->open = be_open;
	be->close = be_close;
	be->read = be_read;
	be->write = be_write;
	be->unmap = be_unmap;
	be->flush = be_flush;
	be->extents = be_extents;
	be->set_write_cache = be_set_write_cache;
	be->gone = be_gone;
}

int daemon_iscsi_sessions(const char *target)
{
	char t[STMF_IQN_MAX + 1];
	if (stmf_check_iscsi_name(target, t, sizeof(t)) < 0)
		return 0;
	/* distinct initiators with an LU open on target */
	int n = 0;
	pthread_mutex_lock(&open_lock);
	for (lu_h_t *e = open_lus; e; e = e->next) {
		if (strcmp(e->target, t))
			continue;
		int seen = 0;
		for (lu_h_t *f = open_lus; f != e && !seen; f = f->next)
			seen = !strcmp(f->target, t) && !strcmp(f->initiator, e->initiator);
		n += !seen;
	}
	pthread_mutex_unlock(&open_lock);
	return n;
}

/* ---- life ---- */

int daemon_iscsi_start(const char *portal)
{
	pthread_mutex_lock(&holds_lock);
	stopped = 0;
	pthread_mutex_unlock(&holds_lock);
	daemon_iscsi_changed(); /* loads stmf.conf, holds the LUs' datasets */
	if (!portal)
		return 0;
	iscsi_backend_t be;
	daemon_iscsi_backend(&be);
	return daemon_iscsi_server_start(&be, portal);
}

void daemon_iscsi_stop(void)
{
	pthread_mutex_lock(&holds_lock);
	stopped = 1;
	pthread_mutex_unlock(&holds_lock);
	daemon_iscsi_server_stop(); /* drops the sessions: their handles close */
	pthread_mutex_lock(&holds_lock);
	while (holds) {
		hold_t *h = holds;
		holds = h->next;
		hold_drop(h);
	}
	pthread_mutex_unlock(&holds_lock);
	pthread_mutex_lock(&model_lock);
	stmf_free(&model);
	model_loaded = 0;
	pthread_mutex_unlock(&model_lock);
}
