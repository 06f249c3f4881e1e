/* stmf/conf.c — stmf.conf: text format (docs/format.md §17), atomic saves, the transaction
 * lock, change stamps (stmf.h). */
#include "stmf/stmf.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool/known.h"
#include "util/err.h"

#define CONF_MAGIC "tarn-stmf"
#define CONF_VERSION 1
#define CONF_MAX_BYTES (16u << 20)
#define CONF_MAX_LINE (64u << 10)
#define CONF_MAX_FIELDS 4096

const char *stmf_conf_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/stmf.conf", known_home());
	return buf;
}

/* ---- encoding: every value is one word; "-" is unset; bytes outside '!'..'~', '%', '=' and
 * a lone "-" are %XX ---- */

static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (*len + n + 1 > nc)
			nc *= 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return terr(ENOMEM, "out of memory");
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = 0;
	return 0;
}

static int put_s(char **buf, size_t *len, size_t *cap, const char *s) { return put(buf, len, cap, s, strlen(s)); }

static int put_enc(char **buf, size_t *len, size_t *cap, const char *s)
{
	if (!s)
		return put_s(buf, len, cap, "-");
	if (!strcmp(s, "-") || !*s)
		return put_s(buf, len, cap, *s ? "%2D" : "%");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[4];
		if (*p <= 0x20 || *p >= 0x7f || *p == '%' || *p == '=') {
			snprintf(e, sizeof(e), "%%%02X", *p);
			TRY(put(buf, len, cap, e, 3));
		} else {
			TRY(put(buf, len, cap, (const char *)p, 1));
		}
	}
	return 0;
}

static int hexval(int c) { return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1; }

/* Decode word w in place; *out NULL for "-". "%" alone is the empty string. */
static int dec(char *w, char **out)
{
	if (!strcmp(w, "-")) {
		*out = NULL;
		return 0;
	}
	if (!strcmp(w, "%")) {
		*w = 0;
		*out = w;
		return 0;
	}
	char *o = w;
	for (char *p = w; *p; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		int a = hexval((unsigned char)p[1]), b = a < 0 ? -1 : hexval((unsigned char)p[2]);
		if (a < 0 || b < 0 || (a == 0 && b == 0))
			return -EINVAL;
		*o++ = (char)(a * 16 + b);
		p += 2;
	}
	*o = 0;
	*out = w;
	return 0;
}

static int kv(char **buf, size_t *len, size_t *cap, const char *key, const char *val)
{
	TRY(put_s(buf, len, cap, " "));
	TRY(put_s(buf, len, cap, key));
	TRY(put_s(buf, len, cap, "="));
	return put_enc(buf, len, cap, val);
}

int stmf_format(const stmf_t *m, char **out, size_t *outlen)
{
	char *b = NULL, num[32];
	size_t len = 0, cap = 0;
	int rc = put_s(&b, &len, &cap,
		       "# tarn COMSTAR configuration (sbdadm, stmfadm, itadm); format: docs/format.md, stmf.conf\n"
		       CONF_MAGIC " 1\n");
	for (size_t i = 0; rc == 0 && i < m->nlu; i++) {
		const stmf_lu_t *lu = &m->lu[i];
		rc = put_s(&b, &len, &cap, "lu ");
		if (rc == 0)
			rc = put_s(&b, &len, &cap, lu->guid);
		if (rc == 0)
			rc = put_s(&b, &len, &cap, " ");
		if (rc == 0)
			rc = put_enc(&b, &len, &cap, lu->dataset);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "wcd", lu->wcd ? "true" : "false");
		if (rc == 0)
			rc = kv(&b, &len, &cap, "alias", lu->alias);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "serial", lu->serial);
		if (rc == 0)
			rc = put_s(&b, &len, &cap, "\n");
	}
	for (size_t i = 0; rc == 0 && i < m->ntgt; i++) {
		const stmf_target_t *t = &m->tgt[i];
		rc = put_s(&b, &len, &cap, "target ");
		if (rc == 0)
			rc = put_enc(&b, &len, &cap, t->iqn);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "auth", t->auth == STMF_AUTH_CHAP ? "chap" : "none");
		if (rc == 0)
			rc = kv(&b, &len, &cap, "alias", t->alias);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "chap-user", t->chap_user);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "chap-secret", t->chap_secret);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "mutual-user", t->mutual_user);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "mutual-secret", t->mutual_secret);
		if (rc == 0)
			rc = put_s(&b, &len, &cap, "\n");
	}
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; rc == 0 && i < m->ngrp[k]; i++) {
			const stmf_group_t *g = &m->grp[k][i];
			rc = put_s(&b, &len, &cap, k == STMF_TG ? "tg " : "hg ");
			if (rc == 0)
				rc = put_enc(&b, &len, &cap, g->name);
			for (size_t j = 0; rc == 0 && j < g->n; j++) {
				rc = put_s(&b, &len, &cap, " ");
				if (rc == 0)
					rc = put_enc(&b, &len, &cap, g->members[j]);
			}
			if (rc == 0)
				rc = put_s(&b, &len, &cap, "\n");
		}
	for (size_t i = 0; rc == 0 && i < m->nview; i++) {
		const stmf_view_t *v = &m->view[i];
		snprintf(num, sizeof(num), " %u", v->entry);
		rc = put_s(&b, &len, &cap, "view ");
		if (rc == 0)
			rc = put_s(&b, &len, &cap, v->guid);
		if (rc == 0)
			rc = put_s(&b, &len, &cap, num);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "hg", v->hg ? v->hg : "*");
		if (rc == 0)
			rc = kv(&b, &len, &cap, "tg", v->tg ? v->tg : "*");
		snprintf(num, sizeof(num), "%u", v->lun);
		if (rc == 0)
			rc = kv(&b, &len, &cap, "lun", num);
		if (rc == 0)
			rc = put_s(&b, &len, &cap, "\n");
	}
	if (rc < 0) {
		free(b);
		return rc;
	}
	*out = b;
	*outlen = len;
	return 0;
}

/* ---- parsing ---- */

struct line {
	const char *file;
	int no;
	char *w[CONF_MAX_FIELDS];
	int n;
};

static int bad(const struct line *l, const char *fmt, const char *arg)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, arg);
	return terr(EINVAL, "%s:%d: %s", l->file, l->no, msg);
}

/* The value of key=VALUE in word w (decoded in place), or -EINVAL. */
static int field(const struct line *l, int i, const char *key, char **val)
{
	size_t kl = strlen(key);
	if (i >= l->n || strncmp(l->w[i], key, kl) || l->w[i][kl] != '=')
		return bad(l, "expected %s=VALUE", key);
	if (dec(l->w[i] + kl + 1, val) < 0)
		return bad(l, "bad %%-escape in %s", key);
	return 0;
}

static int word(const struct line *l, int i, const char *what, char **val)
{
	if (i >= l->n)
		return bad(l, "missing %s", what);
	if (dec(l->w[i], val) < 0 || !*val)
		return bad(l, "bad %s", what);
	return 0;
}

/* A model mutator failed on line l: its message gets the file and line. */
static int at(const struct line *l, int rc)
{
	return rc < 0 ? terr_prefix(rc, "%s:%d", l->file, l->no) : 0;
}

static int parse_lu(stmf_t *m, struct line *l)
{
	char *guid, *ds, *wcd, *alias, *serial;
	TRY(word(l, 1, "LU GUID", &guid));
	TRY(word(l, 2, "LU dataset", &ds));
	TRY(field(l, 3, "wcd", &wcd));
	TRY(field(l, 4, "alias", &alias));
	TRY(field(l, 5, "serial", &serial));
	if (l->n != 6)
		return bad(l, "%s", "too many fields for an LU");
	if (!wcd)
		return bad(l, "%s", "wcd must be true or false");
	stmf_lu_t *lu;
	TRY(at(l, stmf_lu_add(m, ds, guid, &lu)));
	TRY(at(l, stmf_lu_set(m, lu, "wcd", wcd)));
	if (alias)
		TRY(at(l, stmf_lu_set(m, lu, "alias", alias)));
	if (serial)
		TRY(at(l, stmf_lu_set(m, lu, "serial", serial)));
	return 0;
}

static int parse_target(stmf_t *m, struct line *l)
{
	char *iqn, *auth, *alias, *cu, *cs, *mu, *ms;
	TRY(word(l, 1, "target name", &iqn));
	TRY(field(l, 2, "auth", &auth));
	TRY(field(l, 3, "alias", &alias));
	TRY(field(l, 4, "chap-user", &cu));
	TRY(field(l, 5, "chap-secret", &cs));
	TRY(field(l, 6, "mutual-user", &mu));
	TRY(field(l, 7, "mutual-secret", &ms));
	if (l->n != 8)
		return bad(l, "%s", "too many fields for a target");
	if (!auth || (strcmp(auth, "none") && strcmp(auth, "chap")))
		return bad(l, "%s", "auth must be none or chap");
	if (alias)
		TRY(at(l, stmf_check_text("alias", alias, STMF_NAME_MAX)));
	if (cu)
		TRY(at(l, stmf_check_text("CHAP user", cu, STMF_NAME_MAX)));
	if (mu)
		TRY(at(l, stmf_check_text("CHAP user", mu, STMF_NAME_MAX)));
	if (cs)
		TRY(at(l, stmf_check_secret(cs)));
	if (ms)
		TRY(at(l, stmf_check_secret(ms)));
	stmf_target_t *t;
	TRY(at(l, stmf_target_add(m, iqn, &t)));
	t->auth = !strcmp(auth, "chap") ? STMF_AUTH_CHAP : STMF_AUTH_NONE;
	int rc = stmf_set_str(&t->alias, alias);
	if (rc == 0)
		rc = stmf_set_str(&t->chap_user, cu);
	if (rc == 0)
		rc = stmf_set_str(&t->chap_secret, cs);
	if (rc == 0)
		rc = stmf_set_str(&t->mutual_user, mu);
	if (rc == 0)
		rc = stmf_set_str(&t->mutual_secret, ms);
	return at(l, rc);
}

static int parse_group(stmf_t *m, struct line *l, int kind)
{
	char *name;
	TRY(word(l, 1, "group name", &name));
	TRY(at(l, stmf_group_create(m, kind, name)));
	for (int i = 2; i < l->n; i++) {
		char *mem;
		TRY(word(l, i, "group member", &mem));
		TRY(at(l, stmf_group_add_member(m, kind, name, mem)));
	}
	return 0;
}

static int parse_view(stmf_t *m, struct line *l)
{
	char *guid, *entry, *hg, *tg, *lun;
	TRY(word(l, 1, "view GUID", &guid));
	TRY(word(l, 2, "view entry number", &entry));
	TRY(field(l, 3, "hg", &hg));
	TRY(field(l, 4, "tg", &tg));
	TRY(field(l, 5, "lun", &lun));
	if (l->n != 6)
		return bad(l, "%s", "too many fields for a view");
	if (!hg || !tg || !lun)
		return bad(l, "%s", "hg, tg and lun must be given");
	uint32_t n, e;
	TRY(at(l, stmf_parse_lun(lun, &n)));
	char *end;
	unsigned long ev = strtoul(entry, &end, 10);
	if (!isdigit((unsigned char)*entry) || *end || ev > STMF_LUN_MAX)
		return bad(l, "bad view entry number '%s'", entry);
	char g[STMF_GUID_LEN + 1];
	TRY(at(l, stmf_parse_guid(guid, g)));
	for (size_t i = 0; i < m->nview; i++)
		if (!strcmp(m->view[i].guid, g) && m->view[i].entry == ev)
			return bad(l, "duplicate view entry %s", entry);
	TRY(at(l, stmf_view_add(m, g, strcmp(hg, "*") ? hg : NULL, strcmp(tg, "*") ? tg : NULL, 0, n, &e)));
	m->view[m->nview - 1].entry = (uint32_t)ev; /* keep the stored number */
	return 0;
}

int stmf_parse(const char *text, size_t len, const char *file, stmf_t *m)
{
	stmf_init(m);
	if (len > CONF_MAX_BYTES)
		return terr(EFBIG, "%s: larger than %u bytes", file, CONF_MAX_BYTES);
	char *copy = malloc(len + 1);
	struct line *l = malloc(sizeof(*l));
	if (!copy || !l) {
		free(copy);
		free(l);
		return terr(ENOMEM, "out of memory");
	}
	memcpy(copy, text, len);
	copy[len] = 0;
	l->file = file;
	l->no = 0;
	int rc = 0, seen_magic = 0;
	char *p = copy;
	while (rc == 0 && p < copy + len) {
		char *nl = memchr(p, '\n', (size_t)(copy + len - p));
		char *end = nl ? nl : copy + len;
		l->no++;
		if ((size_t)(end - p) > CONF_MAX_LINE) {
			rc = bad(l, "line longer than %s bytes", "65536");
			break;
		}
		if (memchr(p, 0, (size_t)(end - p))) {
			rc = bad(l, "%s", "NUL byte in line");
			break;
		}
		*end = 0;
		if (end > p && end[-1] == '\r')
			end[-1] = 0;
		char *next = end + 1;
		l->n = 0;
		char *save = NULL;
		for (char *s = strtok_r(p, " \t", &save); s && rc == 0; s = strtok_r(NULL, " \t", &save)) {
			if (l->n == CONF_MAX_FIELDS)
				rc = bad(l, "%s", "too many fields");
			else
				l->w[l->n++] = s;
		}
		p = next;
		if (rc < 0 || l->n == 0 || l->w[0][0] == '#')
			continue;
		if (!seen_magic) {
			if (strcmp(l->w[0], CONF_MAGIC) || l->n != 2)
				rc = bad(l, "not a tarn stmf.conf (first line must be \"%s 1\")", CONF_MAGIC);
			else if (strcmp(l->w[1], "1"))
				rc = bad(l, "version %s is not supported (this tarn reads version 1)", l->w[1]);
			seen_magic = 1;
			continue;
		}
		if (!strcmp(l->w[0], "lu"))
			rc = parse_lu(m, l);
		else if (!strcmp(l->w[0], "target"))
			rc = parse_target(m, l);
		else if (!strcmp(l->w[0], "tg"))
			rc = parse_group(m, l, STMF_TG);
		else if (!strcmp(l->w[0], "hg"))
			rc = parse_group(m, l, STMF_HG);
		else if (!strcmp(l->w[0], "view"))
			rc = parse_view(m, l);
		else
			rc = bad(l, "unknown record '%.40s'", l->w[0]);
	}
	if (rc == 0 && !seen_magic && len > 0) {
		l->no = 1;
		rc = bad(l, "not a tarn stmf.conf (first line must be \"%s 1\")", CONF_MAGIC);
	}
	free(copy);
	free(l);
	if (rc < 0)
		stmf_free(m);
	return rc;
}

int stmf_load(stmf_t *m)
{
	char path[4096];
	stmf_conf_path(path, sizeof(path));
	stmf_init(m);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return terr(errno, "cannot open %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)CONF_MAX_BYTES) {
		close(fd);
		return terr(EINVAL, "%s: not a regular file of at most %u bytes", path, CONF_MAX_BYTES);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return terr(ENOMEM, "out of memory");
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	int rc = stmf_parse(buf, got, path, m);
	free(buf);
	return rc;
}

static int save(const stmf_t *m)
{
	char path[4096], tmp[4200];
	stmf_conf_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	char *text;
	size_t len;
	TRY(stmf_format(m, &text, &len));
	if (mkdir(known_home(), 0755) < 0 && errno != EEXIST) {
		free(text);
		return terr(errno, "cannot create %s: %s", known_home(), strerror(errno));
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(text);
		return terr(errno, "cannot write %s: %s", tmp, strerror(errno));
	}
	int rc = fchmod(fd, 0600); /* whatever the umask: the file holds CHAP secrets */
	size_t off = 0;
	while (rc == 0 && off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = -1;
		else
			off += (size_t)n;
	}
	if (rc == 0)
		rc = fsync(fd);
	int e = errno;
	if (close(fd) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	free(text);
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -1;
		e = errno;
	}
	if (rc < 0) {
		unlink(tmp);
		return terr(e ? e : EIO, "cannot write %s: %s", path, strerror(e ? e : EIO));
	}
	int dfd = open(known_home(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* ---- transactions ---- */

static pthread_mutex_t txn_lock = PTHREAD_MUTEX_INITIALIZER;

int stmf_begin(stmf_txn_t *t)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/stmf.lock", known_home());
	if (mkdir(known_home(), 0755) < 0 && errno != EEXIST)
		return terr(errno, "cannot create %s: %s", known_home(), strerror(errno));
	pthread_mutex_lock(&txn_lock);
	t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		int e = errno;
		pthread_mutex_unlock(&txn_lock);
		return terr(e, "cannot open %s: %s", path, strerror(e));
	}
	while (flock(t->fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(t->fd);
		pthread_mutex_unlock(&txn_lock);
		return terr(e, "cannot lock %s: %s", path, strerror(e));
	}
	int rc = stmf_load(&t->m);
	if (rc < 0) {
		close(t->fd);
		pthread_mutex_unlock(&txn_lock);
	}
	return rc;
}

int stmf_commit(stmf_txn_t *t)
{
	int rc = save(&t->m);
	stmf_abort(t);
	return rc;
}

void stmf_abort(stmf_txn_t *t)
{
	stmf_free(&t->m);
	close(t->fd); /* drops the flock */
	t->fd = -1;
	pthread_mutex_unlock(&txn_lock);
}

/* ---- change stamps ---- */

void stmf_stamp(stmf_stamp_t *s)
{
	char path[4096];
	struct stat st;
	memset(s, 0, sizeof(*s));
	if (stat(stmf_conf_path(path, sizeof(path)), &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		s->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		s->size = st.st_size;
	}
}

int stmf_stamp_eq(const stmf_stamp_t *a, const stmf_stamp_t *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mtime_ns == b->mtime_ns && a->size == b->size;
}
