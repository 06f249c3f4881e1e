/* stmf/model.c — the COMSTAR model in memory: names, lookups, mutators, visibility (stmf.h). */
#include "stmf/stmf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/grow.h"
#include "util/guid.h"
#include "util/names.h"

void stmf_init(stmf_t *m) { memset(m, 0, sizeof(*m)); }

static void lu_free(stmf_lu_t *lu)
{
	free(lu->dataset);
	free(lu->alias);
	free(lu->serial);
}

static void target_free(stmf_target_t *t)
{
	free(t->iqn);
	free(t->alias);
	free(t->chap_user);
	free(t->chap_secret);
	free(t->mutual_user);
	free(t->mutual_secret);
}

static void group_free(stmf_group_t *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->members[i]);
	free(g->members);
	free(g->name);
}

static void view_free(stmf_view_t *v)
{
	free(v->hg);
	free(v->tg);
}

void stmf_free(stmf_t *m)
{
	for (size_t i = 0; i < m->nlu; i++)
		lu_free(&m->lu[i]);
	for (size_t i = 0; i < m->ntgt; i++)
		target_free(&m->tgt[i]);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < m->ngrp[k]; i++)
			group_free(&m->grp[k][i]);
		free(m->grp[k]);
	}
	for (size_t i = 0; i < m->nview; i++)
		view_free(&m->view[i]);
	free(m->lu);
	free(m->tgt);
	free(m->view);
	memset(m, 0, sizeof(*m));
}

/* ---- names and values ---- */

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int stmf_check_iscsi_name(const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	if (n == 0)
		return terr(EINVAL, "empty iSCSI name");
	if (n > STMF_IQN_MAX)
		return terr(EINVAL, "%.40s...: iSCSI name is longer than %d bytes", name, STMF_IQN_MAX);
	if (len <= n)
		return terr(EINVAL, "iSCSI name buffer too small");
	char low[STMF_IQN_MAX + 1];
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	if (!strncmp(low, "eui.", 4) || !strncmp(low, "naa.", 4)) {
		size_t h = n - 4;
		int naa = low[0] == 'n';
		if (!is_hex(name + 4, h) || !(h == 16 || (naa && h == 32)))
			return terr(EINVAL, "%s: invalid %s name (\"%s\" and %s hexadecimal digits)", name, naa ? "NAA" : "EUI",
				    naa ? "naa." : "eui.", naa ? "16 or 32" : "16");
		memcpy(out, low, 4);
		for (size_t i = 4; i <= n; i++)
			out[i] = (char)toupper((unsigned char)name[i]);
		return 0;
	}
	if (strncmp(low, "iqn.", 4))
		return terr(EINVAL, "%s: not an iSCSI name (iqn., eui. or naa. form expected)", name);
	/* iqn.YYYY-MM.reversed.domain[:unique] */
	const char *p = low + 4;
	if (!(isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	      isdigit((unsigned char)p[3]) && p[4] == '-' && isdigit((unsigned char)p[5]) &&
	      isdigit((unsigned char)p[6]) && p[7] == '.') ||
	    (p[5] - '0') * 10 + (p[6] - '0') < 1 || (p[5] - '0') * 10 + (p[6] - '0') > 12)
		return terr(EINVAL, "%s: invalid IQN (iqn.YYYY-MM.reversed.domain[:name] expected)", name);
	p += 8;
	size_t auth = strcspn(p, ":");
	if (auth == 0 || p[0] == '.' || p[auth - 1] == '.')
		return terr(EINVAL, "%s: invalid IQN: missing naming authority after the date", name);
	for (size_t i = 0; i < auth; i++)
		if (!(isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '.') || (p[i] == '.' && p[i + 1] == '.'))
			return terr(EINVAL, "%s: invalid IQN: bad character '%c' in the naming authority", name, name[p - low + i]);
	for (const char *q = p + auth; *q; q++)
		if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '.' || *q == ':'))
			return terr(EINVAL, "%s: invalid IQN: bad character '%c' (letters, digits, '-', '.', ':')", name,
				    name[q - low]);
	memcpy(out, low, n + 1);
	return 0;
}

int stmf_check_group_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0)
		return terr(EINVAL, "empty group name");
	if (n > STMF_NAME_MAX)
		return terr(EINVAL, "group name is longer than %d characters", STMF_NAME_MAX);
	if (name[0] == '-')
		return terr(EINVAL, "%s: group name must not begin with '-'", name);
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)name[i]) || strchr("_-.:", name[i])))
			return terr(EINVAL, "%s: invalid character in group name (letters, digits and \"_-.:\")", name);
	return 0;
}

int stmf_check_text(const char *what, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max)
		return terr(EINVAL, "%s is longer than %zu characters", what, max);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return terr(EINVAL, "%s may hold printable ASCII characters only", what);
	return 0;
}

int stmf_check_secret(const char *s)
{
	size_t n = strlen(s);
	if (n < STMF_SECRET_MIN || n > STMF_SECRET_MAX)
		return terr(EINVAL, "CHAP secret must be %d to %d characters long", STMF_SECRET_MIN, STMF_SECRET_MAX);
	return stmf_check_text("CHAP secret", s, STMF_SECRET_MAX);
}

int stmf_parse_guid(const char *s, char out[STMF_GUID_LEN + 1])
{
	if (strlen(s) != STMF_GUID_LEN || !is_hex(s, STMF_GUID_LEN))
		return terr(EINVAL, "%s: must be %d hexadecimal digits long", s, STMF_GUID_LEN);
	for (int i = 0; i < STMF_GUID_LEN; i++)
		out[i] = (char)toupper((unsigned char)s[i]);
	out[STMF_GUID_LEN] = 0;
	return 0;
}

int stmf_parse_zvol_path(const char *path, char *out, size_t len)
{
	const char *ds = path;
	if (!strncmp(path, "/dev/zvol/rdsk/", 15))
		ds = path + 15;
	else if (!strncmp(path, "/dev/zvol/dsk/", 14))
		ds = path + 14;
	else if (path[0] == '/')
		return terr(EINVAL, "%s: not a volume (/dev/zvol/rdsk/POOL/VOLUME expected)", path);
	if (strlen(ds) >= len || strlen(ds) >= NAME_MAXLEN)
		return terr(EINVAL, "%s: name is too long", path);
	if (!strchr(ds, '/') || strchr(ds, '#'))
		return terr(EINVAL, "%s: not a volume (/dev/zvol/rdsk/POOL/VOLUME expected)", path);
	if (name_check(ds, strchr(ds, '@') ? NAME_SNAPSHOT : NAME_DATASET) < 0)
		return terr_prefix(-EINVAL, "%s", path);
	snprintf(out, len, "%s", ds);
	return 0;
}

int stmf_parse_lun(const char *s, uint32_t *lun)
{
	char *end;
	if (!*s || !isdigit((unsigned char)*s))
		return terr(EINVAL, "%s: invalid LUN (0..%d)", s, STMF_LUN_MAX);
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v > STMF_LUN_MAX)
		return terr(EINVAL, "%s: invalid LUN (0..%d)", s, STMF_LUN_MAX);
	*lun = (uint32_t)v;
	return 0;
}

/* ---- lookups ---- */

stmf_lu_t *stmf_lu_find(const stmf_t *m, const char *guid)
{
	for (size_t i = 0; i < m->nlu; i++)
		if (!strcasecmp(m->lu[i].guid, guid))
			return &m->lu[i];
	return NULL;
}

stmf_lu_t *stmf_lu_by_dataset(const stmf_t *m, const char *dataset)
{
	for (size_t i = 0; i < m->nlu; i++)
		if (!strcmp(m->lu[i].dataset, dataset))
			return &m->lu[i];
	return NULL;
}

stmf_target_t *stmf_target_find(const stmf_t *m, const char *iqn)
{
	char norm[STMF_IQN_MAX + 1];
	if (strlen(iqn) > STMF_IQN_MAX)
		return NULL;
	if (stmf_check_iscsi_name(iqn, norm, sizeof(norm)) < 0)
		snprintf(norm, sizeof(norm), "%s", iqn);
	for (size_t i = 0; i < m->ntgt; i++)
		if (!strcmp(m->tgt[i].iqn, norm))
			return &m->tgt[i];
	return NULL;
}

stmf_group_t *stmf_group_find(const stmf_t *m, int kind, const char *name)
{
	for (size_t i = 0; i < m->ngrp[kind]; i++)
		if (!strcmp(m->grp[kind][i].name, name))
			return &m->grp[kind][i];
	return NULL;
}

static int is_member(const stmf_group_t *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->members[i], name))
			return 1;
	return 0;
}

size_t stmf_views_of(const stmf_t *m, const char *guid, const stmf_view_t **v, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nview; i++)
		if (!strcasecmp(m->view[i].guid, guid)) {
			if (n < max) { /* insertion by entry number */
				size_t k = n;
				while (k > 0 && v[k - 1]->entry > m->view[i].entry) {
					v[k] = v[k - 1];
					k--;
				}
				v[k] = &m->view[i];
			}
			n++;
		}
	return n;
}

/* ---- mutators ---- */

static char *dup_or_null(const char *s, int *rc)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*rc = terr(ENOMEM, "out of memory");
	return d;
}

int stmf_set_str(char **field, const char *value)
{
	int rc = 0;
	char *d = dup_or_null(value, &rc);
	TRY(rc);
	free(*field);
	*field = d;
	return 0;
}

static void new_guid(char out[STMF_GUID_LEN + 1])
{
	uint64_t a = guid_new(), b = guid_new();
	snprintf(out, STMF_GUID_LEN + 1, "600144F0%08X%016llX", (unsigned)(a >> 32), (unsigned long long)b);
}

int stmf_lu_add(stmf_t *m, const char *dataset, const char *guid, stmf_lu_t **out)
{
	char g[STMF_GUID_LEN + 1], ds[STMF_DATASET_MAX];
	TRY(stmf_parse_zvol_path(dataset, ds, sizeof(ds)));
	if (stmf_lu_by_dataset(m, ds))
		return terr(EEXIST, "filename /dev/zvol/rdsk/%s: in use", ds);
	if (guid) {
		TRY(stmf_parse_guid(guid, g));
		if (stmf_lu_find(m, g))
			return terr(EEXIST, "guid in use");
	} else {
		do
			new_guid(g);
		while (stmf_lu_find(m, g));
	}
	TRY(GROW(m->lu, m->caplu, m->nlu, 8));
	stmf_lu_t *lu = &m->lu[m->nlu];
	memset(lu, 0, sizeof(*lu));
	memcpy(lu->guid, g, sizeof(g));
	lu->dataset = strdup(ds);
	if (!lu->dataset)
		return terr(ENOMEM, "out of memory");
	m->nlu++;
	if (out)
		*out = lu;
	return 0;
}

int stmf_view_remove(stmf_t *m, const char *guid, uint32_t entry)
{
	for (size_t i = 0; i < m->nview; i++)
		if (!strcasecmp(m->view[i].guid, guid) && m->view[i].entry == entry) {
			view_free(&m->view[i]);
			memmove(&m->view[i], &m->view[i + 1], (m->nview - i - 1) * sizeof(m->view[0]));
			m->nview--;
			return 0;
		}
	return terr(ENOENT, "%s, %u: not found", guid, entry);
}

int stmf_lu_delete(stmf_t *m, const char *guid)
{
	stmf_lu_t *lu = stmf_lu_find(m, guid);
	if (!lu)
		return terr(ENOENT, "%s: not found", guid);
	for (size_t i = m->nview; i-- > 0;)
		if (!strcasecmp(m->view[i].guid, lu->guid))
			stmf_view_remove(m, lu->guid, m->view[i].entry);
	size_t k = (size_t)(lu - m->lu);
	lu_free(lu);
	memmove(&m->lu[k], &m->lu[k + 1], (m->nlu - k - 1) * sizeof(m->lu[0]));
	m->nlu--;
	return 0;
}

int stmf_lu_set(stmf_t *m, stmf_lu_t *lu, const char *prop, const char *value)
{
	if (!strcmp(prop, "wcd")) {
		if (!strcasecmp(value, "true"))
			lu->wcd = 1;
		else if (!strcasecmp(value, "false"))
			lu->wcd = 0;
		else
			return terr(EINVAL, "wcd: invalid property value '%s' (true or false)", value);
		return 0;
	}
	if (!strcmp(prop, "alias") || !strcmp(prop, "serial")) {
		int serial = prop[0] == 's';
		TRY(stmf_check_text(prop, value, serial ? 32 : STMF_NAME_MAX));
		return stmf_set_str(serial ? &lu->serial : &lu->alias, *value ? value : NULL);
	}
	return terr(EINVAL, "%s: invalid property (wcd, alias or serial)", prop);
}

int stmf_target_add(stmf_t *m, const char *iqn, stmf_target_t **out)
{
	char norm[STMF_IQN_MAX + 1];
	if (iqn) {
		TRY(stmf_check_iscsi_name(iqn, norm, sizeof(norm)));
	} else {
		uint64_t a = guid_new(), b = guid_new();
		/* a version 4 UUID, as COMSTAR's iqn.1986-03.com.sun:02:<uuid> */
		snprintf(norm, sizeof(norm), "iqn.2010-09.org.tarn:%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
			 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)((b >> 48) & 0x3fff) | 0x8000,
			 (unsigned long long)b & 0xffffffffffffULL);
	}
	if (stmf_target_find(m, norm))
		return terr(EEXIST, "%s: target already exists", norm);
	TRY(GROW(m->tgt, m->captgt, m->ntgt, 4));
	stmf_target_t *t = &m->tgt[m->ntgt];
	memset(t, 0, sizeof(*t));
	t->iqn = strdup(norm);
	if (!t->iqn)
		return terr(ENOMEM, "out of memory");
	m->ntgt++;
	if (out)
		*out = t;
	return 0;
}

int stmf_target_delete(stmf_t *m, const char *iqn)
{
	stmf_target_t *t = stmf_target_find(m, iqn);
	if (!t)
		return terr(ENOENT, "%s: not found", iqn);
	size_t k = (size_t)(t - m->tgt);
	target_free(t);
	memmove(&m->tgt[k], &m->tgt[k + 1], (m->ntgt - k - 1) * sizeof(m->tgt[0]));
	m->ntgt--;
	return 0;
}

static const char *gkind_name(int kind) { return kind == STMF_TG ? "target group" : "host group"; }

int stmf_group_create(stmf_t *m, int kind, const char *name)
{
	TRY(stmf_check_group_name(name));
	if (stmf_group_find(m, kind, name))
		return terr(EEXIST, "%s: already exists", name);
	TRY(GROW(m->grp[kind], m->capgrp[kind], m->ngrp[kind], 4));
	stmf_group_t *g = &m->grp[kind][m->ngrp[kind]];
	memset(g, 0, sizeof(*g));
	g->name = strdup(name);
	if (!g->name)
		return terr(ENOMEM, "out of memory");
	m->ngrp[kind]++;
	return 0;
}

int stmf_group_delete(stmf_t *m, int kind, const char *name)
{
	stmf_group_t *g = stmf_group_find(m, kind, name);
	if (!g)
		return terr(ENOENT, "%s: not found", name);
	for (size_t i = 0; i < m->nview; i++) {
		const char *u = kind == STMF_TG ? m->view[i].tg : m->view[i].hg;
		if (u && !strcmp(u, name))
			return terr(EBUSY, "%s: %s is used by a view of LU %s (remove-view first)", name, gkind_name(kind),
				    m->view[i].guid);
	}
	size_t k = (size_t)(g - m->grp[kind]);
	group_free(g);
	memmove(&m->grp[kind][k], &m->grp[kind][k + 1], (m->ngrp[kind] - k - 1) * sizeof(*g));
	m->ngrp[kind]--;
	return 0;
}

int stmf_group_add_member(stmf_t *m, int kind, const char *group, const char *member)
{
	char norm[STMF_IQN_MAX + 1];
	TRY(stmf_check_iscsi_name(member, norm, sizeof(norm)));
	stmf_group_t *g = stmf_group_find(m, kind, group);
	if (!g)
		return terr(ENOENT, "%s: not found", group);
	for (size_t i = 0; i < m->ngrp[kind]; i++)
		if (is_member(&m->grp[kind][i], norm))
			return terr(EEXIST, "%s: already exists in %s %s", norm, gkind_name(kind), m->grp[kind][i].name);
	TRY(GROW(g->members, g->cap, g->n, 4));
	g->members[g->n] = strdup(norm);
	if (!g->members[g->n])
		return terr(ENOMEM, "out of memory");
	g->n++;
	return 0;
}

int stmf_group_remove_member(stmf_t *m, int kind, const char *group, const char *member)
{
	char norm[STMF_IQN_MAX + 1];
	TRY(stmf_check_iscsi_name(member, norm, sizeof(norm)));
	stmf_group_t *g = stmf_group_find(m, kind, group);
	if (!g)
		return terr(ENOENT, "%s: not found", group);
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->members[i], norm)) {
			free(g->members[i]);
			memmove(&g->members[i], &g->members[i + 1], (g->n - i - 1) * sizeof(char *));
			g->n--;
			return 0;
		}
	return terr(ENOENT, "%s: not found in %s %s", norm, gkind_name(kind), group);
}

static int same_group(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }
static int overlaps(const char *a, const char *b) { return !a || !b || !strcmp(a, b); }

int stmf_view_add(stmf_t *m, const char *guid, const char *hg, const char *tg, int lun_auto, uint32_t lun,
		  uint32_t *entry)
{
	stmf_lu_t *lu = stmf_lu_find(m, guid);
	if (!lu)
		return terr(ENOENT, "%s: not found", guid);
	if (hg && !stmf_group_find(m, STMF_HG, hg))
		return terr(ENOENT, "%s: host group not found", hg);
	if (tg && !stmf_group_find(m, STMF_TG, tg))
		return terr(ENOENT, "%s: target group not found", tg);
	if (!lun_auto && lun > STMF_LUN_MAX)
		return terr(EINVAL, "%u: invalid LUN (0..%d)", lun, STMF_LUN_MAX);
	for (size_t i = 0; i < m->nview; i++)
		if (!strcmp(m->view[i].guid, lu->guid) && same_group(m->view[i].hg, hg) && same_group(m->view[i].tg, tg))
			return terr(EEXIST, "view entry exists");
	for (uint32_t cand = lun_auto ? 0 : lun;; cand++) {
		int taken = 0;
		for (size_t i = 0; i < m->nview && !taken; i++)
			taken = m->view[i].lun == cand && overlaps(m->view[i].hg, hg) && overlaps(m->view[i].tg, tg);
		if (!taken) {
			lun = cand;
			break;
		}
		if (!lun_auto)
			return terr(EEXIST, "LUN already in use");
		if (cand == STMF_LUN_MAX)
			return terr(ENOSPC, "no free LUN for this host group and target group");
	}
	uint32_t e = 0;
	for (int again = 1; again;) {
		again = 0;
		for (size_t i = 0; i < m->nview; i++)
			if (!strcmp(m->view[i].guid, lu->guid) && m->view[i].entry == e) {
				e++;
				again = 1;
			}
	}
	TRY(GROW(m->view, m->capview, m->nview, 8));
	stmf_view_t *v = &m->view[m->nview];
	memset(v, 0, sizeof(*v));
	memcpy(v->guid, lu->guid, sizeof(v->guid));
	v->entry = e;
	v->lun = lun;
	int rc = 0;
	v->hg = dup_or_null(hg, &rc);
	v->tg = dup_or_null(tg, &rc);
	if (rc < 0) {
		view_free(v);
		return rc;
	}
	m->nview++;
	if (entry)
		*entry = e;
	return 0;
}

/* ---- visibility ---- */

int stmf_view_applies(const stmf_t *m, const stmf_view_t *v, const char *target, const char *initiator)
{
	char t[STMF_IQN_MAX + 1], i[STMF_IQN_MAX + 1];
	if (stmf_check_iscsi_name(target, t, sizeof(t)) < 0 || stmf_check_iscsi_name(initiator, i, sizeof(i)) < 0)
		return 0;
	if (!stmf_target_find(m, t))
		return 0;
	if (v->tg) {
		const stmf_group_t *g = stmf_group_find(m, STMF_TG, v->tg);
		if (!g || !is_member(g, t))
			return 0;
	}
	if (v->hg) {
		const stmf_group_t *g = stmf_group_find(m, STMF_HG, v->hg);
		if (!g || !is_member(g, i))
			return 0;
	}
	return 1;
}

const stmf_lu_t *stmf_lu_at(const stmf_t *m, const char *target, const char *initiator, uint32_t lun)
{
	for (size_t k = 0; k < m->nview; k++)
		if (m->view[k].lun == lun && stmf_view_applies(m, &m->view[k], target, initiator))
			return stmf_lu_find(m, m->view[k].guid);
	return NULL;
}

/* Does dataset ds fall under name (itself, a child, a snapshot of either)? */
static int under(const char *ds, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(ds, name, n) && (ds[n] == 0 || ds[n] == '/' || ds[n] == '@');
}

const stmf_lu_t *stmf_dataset_in_use(const stmf_t *m, const char *name, int family)
{
	const char *at = strchr(name, '@');
	for (size_t i = 0; i < m->nlu; i++) {
		const char *ds = m->lu[i].dataset;
		if (!at) {
			if (family ? under(ds, name) : !strcmp(ds, name))
				return &m->lu[i];
			continue;
		}
		/* a snapshot spec: head@a,b,c or head@a%b (any snapshot of head for a range) */
		size_t hl = (size_t)(at - name);
		if (strncmp(ds, name, hl) || ds[hl] != '@')
			continue;
		if (strchr(at + 1, '%'))
			return &m->lu[i];
		const char *snap = ds + hl + 1;
		size_t sl = strlen(snap);
		for (const char *p = at + 1; *p;) {
			size_t l = strcspn(p, ",");
			if (l == sl && !strncmp(p, snap, l))
				return &m->lu[i];
			p += l + (p[l] == ',');
		}
	}
	return NULL;
}
