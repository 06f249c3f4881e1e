/* iscsi/mem.c — the in-memory iSCSI backend (see mem.h). */
#include "iscsi/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

struct iscsi_mem {
	pthread_mutex_t lock;
	iscsi_mem_target_t **t;
	size_t n, cap;
};

iscsi_mem_t *iscsi_mem_new(void)
{
	iscsi_mem_t *m = calloc(1, sizeof(*m));
	if (!m) {
		terr(ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void lu_free(iscsi_mem_lu_t *l)
{
	if (!l)
		return;
	free(l->data);
	free(l->mapped);
	free(l);
}

void iscsi_mem_free(iscsi_mem_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->t[i]->nlus; j++)
			lu_free(m->t[i]->lus[j]);
		free(m->t[i]->lus);
		free(m->t[i]->iqn);
		free(m->t[i]);
	}
	free(m->t);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void iscsi_mem_lock(iscsi_mem_t *m) { pthread_mutex_lock(&m->lock); }
void iscsi_mem_unlock(iscsi_mem_t *m) { pthread_mutex_unlock(&m->lock); }

iscsi_mem_target_t *iscsi_mem_add_target(iscsi_mem_t *m, const char *iqn)
{
	iscsi_mem_target_t *t = calloc(1, sizeof(*t));
	if (!t || !(t->iqn = strdup(iqn)))
		goto nomem;
	pthread_mutex_lock(&m->lock);
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 4;
		iscsi_mem_target_t **nt = realloc(m->t, cap * sizeof(*nt));
		if (!nt) {
			pthread_mutex_unlock(&m->lock);
			goto nomem;
		}
		m->t = nt, m->cap = cap;
	}
	m->t[m->n++] = t;
	pthread_mutex_unlock(&m->lock);
	return t;
nomem:
	if (t)
		free(t->iqn);
	free(t);
	terr(ENOMEM, "out of memory");
	return NULL;
}

iscsi_mem_lu_t *iscsi_mem_add_lu(iscsi_mem_t *m, iscsi_mem_target_t *t, uint64_t lun, uint64_t blocks,
				 uint32_t block_size, int readonly, int thin)
{
	if (!blocks || block_size < 512 || blocks > ((uint64_t)4 << 30) / block_size) {
		terr(EINVAL, "bad in-memory LU geometry");
		return NULL;
	}
	iscsi_mem_lu_t *l = calloc(1, sizeof(*l));
	if (!l || !(l->data = calloc(blocks, block_size)) || !(l->mapped = calloc(blocks, 1)))
		goto nomem;
	l->lun = lun, l->blocks = blocks, l->block_size = block_size;
	l->readonly = readonly, l->thin = thin, l->write_cache = 1, l->can_set_wc = 1;
	pthread_mutex_lock(&m->lock);
	if (t->nlus == t->caplus) {
		size_t cap = t->caplus ? 2 * t->caplus : 4;
		iscsi_mem_lu_t **nl = realloc(t->lus, cap * sizeof(*nl));
		if (!nl) {
			pthread_mutex_unlock(&m->lock);
			goto nomem;
		}
		t->lus = nl, t->caplus = cap;
	}
	t->lus[t->nlus++] = l;
	pthread_mutex_unlock(&m->lock);
	return l;
nomem:
	lu_free(l);
	terr(ENOMEM, "out of memory");
	return NULL;
}

static iscsi_mem_target_t *find_target(iscsi_mem_t *m, const char *iqn, const char *initiator)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->t[i]->iqn, iqn))
			return (!m->t[i]->allow[0] || !initiator || !strcmp(m->t[i]->allow, initiator)) ? m->t[i] : NULL;
	return NULL;
}

static int mem_list_targets(void *arg, const char *initiator, int (*cb)(void *cbarg, const char *iqn), void *cbarg)
{
	iscsi_mem_t *m = arg;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		if ((!m->t[i]->allow[0] || !strcmp(m->t[i]->allow, initiator)) && cb(cbarg, m->t[i]->iqn))
			break;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mem_login(void *arg, const char *target, const char *initiator, char *user, size_t ulen, char *secret,
		     size_t slen, char *tsecret, size_t tslen)
{
	iscsi_mem_t *m = arg;
	int rc = 0;
	pthread_mutex_lock(&m->lock);
	iscsi_mem_target_t *t = NULL;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->t[i]->iqn, target))
			t = m->t[i];
	if (!t)
		rc = -ENOENT;
	else if (t->allow[0] && strcmp(t->allow, initiator))
		rc = -EACCES;
	else {
		if (user)
			snprintf(user, ulen, "%s", t->chap_user);
		if (secret)
			snprintf(secret, slen, "%s", t->chap_secret);
		if (tsecret)
			snprintf(tsecret, tslen, "%s", t->target_secret);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_list_luns(void *arg, const char *target, const char *initiator, int (*cb)(void *cbarg, uint64_t lun),
			 void *cbarg)
{
	iscsi_mem_t *m = arg;
	pthread_mutex_lock(&m->lock);
	iscsi_mem_target_t *t = find_target(m, target, initiator);
	for (size_t i = 0; t && i < t->nlus; i++)
		if (!t->lus[i]->gone && cb(cbarg, t->lus[i]->lun))
			break;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

typedef struct handle {
	iscsi_mem_t *m;
	iscsi_mem_lu_t *l;
} handle_t;

static int mem_open(void *arg, const char *target, const char *initiator, uint64_t lun, void **h,
		    iscsi_lu_info_t *info)
{
	iscsi_mem_t *m = arg;
	handle_t *hd = malloc(sizeof(*hd));
	if (!hd)
		return terr(ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	iscsi_mem_target_t *t = find_target(m, target, initiator);
	iscsi_mem_lu_t *l = NULL;
	for (size_t i = 0; t && i < t->nlus; i++)
		if (t->lus[i]->lun == lun && !t->lus[i]->gone)
			l = t->lus[i];
	if (!l) {
		pthread_mutex_unlock(&m->lock);
		free(hd);
		return terr(ENOENT, "no LUN %llu", (unsigned long long)lun);
	}
	l->opens++;
	memset(info, 0, sizeof(*info));
	info->blocks = l->blocks;
	info->block_size = l->block_size;
	info->opt_xfer_blocks = 8192 / l->block_size ? 8192 / l->block_size : 1;
	info->naa[0] = 0x60, info->naa[1] = 0x01, info->naa[2] = 0x44, info->naa[3] = 0xf0;
	uint32_t hsh = 2166136261u;
	for (const char *p = target; *p; p++)
		hsh = (hsh ^ (uint8_t)*p) * 16777619u;
	for (int i = 0; i < 4; i++)
		info->naa[8 + i] = (uint8_t)(hsh >> (8 * i));
	for (int i = 0; i < 4; i++)
		info->naa[12 + i] = (uint8_t)(lun >> (8 * (3 - i)));
	snprintf(info->serial, sizeof(info->serial), "tarnmem%08x%04llx", hsh, (unsigned long long)lun);
	snprintf(info->product, sizeof(info->product), "mem");
	info->readonly = l->readonly;
	info->thin = l->thin;
	info->write_cache = l->write_cache;
	for (uint32_t bs = l->block_size; bs < 4096; bs *= 2)
		info->lbppbe++; /* 4 KiB "physical" blocks */
	pthread_mutex_unlock(&m->lock);
	hd->m = m, hd->l = l;
	*h = hd;
	return 0;
}

static void mem_close(void *h)
{
	handle_t *hd = h;
	pthread_mutex_lock(&hd->m->lock);
	hd->l->closes++;
	pthread_mutex_unlock(&hd->m->lock);
	free(hd);
}

static iscsi_mem_lu_t *enter(handle_t *hd, uint64_t off, uint64_t len, int *rc)
{
	pthread_mutex_lock(&hd->m->lock);
	iscsi_mem_lu_t *l = hd->l;
	uint64_t size = l->blocks * l->block_size;
	*rc = 0;
	if (l->fail_errno > 0)
		*rc = terr(l->fail_errno, "injected failure");
	else if (off > size || len > size - off)
		*rc = terr(EINVAL, "range beyond the LU");
	return l;
}

static int leave(handle_t *hd, int rc)
{
	pthread_mutex_unlock(&hd->m->lock);
	return rc;
}

/* With the lock: a slow LU's read or write waits delay_us without the lock (counted in busy). */
static void slow(handle_t *hd)
{
	iscsi_mem_lu_t *l = hd->l;
	if (!l->delay_us)
		return;
	unsigned us = l->delay_us;
	if (++l->busy > l->max_busy)
		l->max_busy = l->busy;
	pthread_mutex_unlock(&hd->m->lock);
	usleep(us);
	pthread_mutex_lock(&hd->m->lock);
	l->busy--;
}

static int mem_read(void *h, uint64_t off, uint32_t len, void *buf)
{
	int rc;
	iscsi_mem_lu_t *l = enter(h, off, len, &rc);
	slow(h);
	if (rc == 0) {
		memcpy(buf, l->data + off, len);
		l->reads++;
	}
	return leave(h, rc);
}

static int mem_write(void *h, uint64_t off, uint32_t len, const void *buf, int fua)
{
	int rc;
	iscsi_mem_lu_t *l = enter(h, off, len, &rc);
	slow(h);
	if (rc == 0 && l->readonly)
		rc = terr(EROFS, "read-only LU");
	if (rc == 0) {
		memcpy(l->data + off, buf, len);
		for (uint64_t b = off / l->block_size; len && b <= (off + len - 1) / l->block_size; b++)
			l->mapped[b] = 1;
		l->writes++;
		l->fua += !!fua;
	}
	return leave(h, rc);
}

static int mem_unmap(void *h, uint64_t off, uint64_t len)
{
	int rc;
	iscsi_mem_lu_t *l = enter(h, off, len, &rc);
	if (rc == 0 && l->readonly)
		rc = terr(EROFS, "read-only LU");
	if (rc == 0) {
		memset(l->data + off, 0, len);
		for (uint64_t b = off / l->block_size; len && b <= (off + len - 1) / l->block_size; b++)
			if (b * l->block_size >= off && (b + 1) * l->block_size <= off + len)
				l->mapped[b] = 0;
		l->unmaps++;
	}
	return leave(h, rc);
}

static int mem_flush(void *h)
{
	int rc;
	iscsi_mem_lu_t *l = enter(h, 0, 0, &rc);
	if (rc == 0)
		l->flushes++;
	return leave(h, rc);
}

static int mem_extents(void *h, uint64_t off, uint64_t len, int (*cb)(void *cbarg, uint64_t len, int mapped), void *cbarg)
{
	int rc;
	iscsi_mem_lu_t *l = enter(h, off, len, &rc);
	if (rc < 0 || !len)
		return leave(h, rc);
	uint64_t b = off / l->block_size, end = (off + len + l->block_size - 1) / l->block_size;
	while (b < end) {
		uint64_t e = b;
		while (e < end && l->mapped[e] == l->mapped[b])
			e++;
		if (cb(cbarg, (e - b) * l->block_size, l->mapped[b]))
			break;
		b = e;
	}
	return leave(h, 0);
}

static int mem_set_wc(void *h, int on)
{
	handle_t *hd = h;
	pthread_mutex_lock(&hd->m->lock);
	int rc = hd->l->can_set_wc ? 0 : -EPERM;
	if (rc == 0)
		hd->l->write_cache = !!on;
	pthread_mutex_unlock(&hd->m->lock);
	return rc;
}

static int mem_gone(void *h)
{
	handle_t *hd = h;
	pthread_mutex_lock(&hd->m->lock);
	int g = hd->l->gone;
	pthread_mutex_unlock(&hd->m->lock);
	return g;
}

void iscsi_mem_backend(iscsi_mem_t *m, iscsi_backend_t *be)
{
	*be = (iscsi_backend_t){ .arg = m, .list_targets = mem_list_targets, .login = mem_login,
				 .list_luns = mem_list_luns, .open = mem_open, .close = mem_close, .read = mem_read,
				 .write = mem_write, .unmap = mem_unmap, .flush = mem_flush, .extents = mem_extents,
				 .set_write_cache = mem_set_wc, .gone = mem_gone };
}
