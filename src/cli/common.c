/* cli/common.c — opening known pools, error output, tables (see cli.h). */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "pool/known.h"
#include "util/err.h"
#include "util/names.h"

/* Under tarnd: the daemon's pool, locked for this command until cli_close. */
static int open_in_daemon(const char *name, cli_pool_t *cp, int flags)
{
	daemon_pool_t *dp;
	TRY(daemon_pool_get(name, &dp));
	int rc = daemon_pool_lock_settled(dp);
	if (rc < 0) {
		daemon_pool_put(dp);
		return rc;
	}
	cp->rw = !(flags & POOL_IMPORT_READONLY);
	rc = daemon_pool_begin(dp, cp->rw, &cp->changes);
	if (rc < 0) {
		daemon_pool_unlock(dp);
		daemon_pool_put(dp);
		return rc;
	}
	cp->host = dp;
	cp->pool = dp->pool;
	cp->dsl = dp->dsl;
	return 0;
}

static int close_in_daemon(cli_pool_t *cp, int commit)
{
	daemon_pool_t *dp = cp->host;
	int rc = 0, rw = cp->rw;
	if (commit && rw) {
		if (cli_history_line[0])
			rc = dsl_history_add(cp->dsl, cli_history_line);
		if (rc == 0)
			rc = dsl_record_errors(cp->dsl);
		if (rc >= 0)
			rc = daemon_pool_commit(dp);
	} else if (!rw && dsl_record_errors(cp->dsl) > 0) { /* errors a reader met */
		daemon_pool_commit(dp);
	}
	daemon_pool_end(dp, !commit || rc < 0, cp->changes);
	daemon_pool_unlock(dp);
	daemon_pool_put(dp);
	memset(cp, 0, sizeof(*cp));
	if (rw) {
		daemon_exports_changed();
		daemon_iscsi_changed(); /* LU busy marks follow a pool reload */
	}
	return rc < 0 ? rc : 0;
}

int cli_in_daemon(void) { return daemon_active(); }

int cli_take_pool(cli_pool_t *cp)
{
	daemon_pool_t *dp = cp->host;
	if (!dp)
		return 0;
	if (dp->users > 1)
		return terr(EBUSY, "pool is busy");
	daemon_pool_end(dp, 0, cp->changes);
	daemon_pool_evict(dp, &cp->pool, &cp->dsl);
	daemon_pool_unlock(dp);
	daemon_pool_put(dp);
	cp->host = NULL;
	return 0;
}

void cli_pool_added(const char *name)
{
	daemon_pool_t *dp;
	if (daemon_active() && daemon_pool_get(name, &dp) == 0)
		daemon_pool_put(dp);
}

FILE *cli_stream_open(cli_pool_t *cp, const char *mode)
{
	FILE *std = mode[0] == 'r' ? cli_in : cli_out;
	if (!cp->host)
		return std;
	fflush(std);
	FILE *f = daemon_stream_fdopen(fileno(std), mode, cp->host);
	return f ? f : std;
}

void cli_stream_close(FILE *f)
{
	if (f != cli_in && f != cli_out)
		fclose(f);
}

static int open_flags(const char *name, cli_pool_t *cp, int flags)
{
	known_pool_t *k;
	int n;
	memset(cp, 0, sizeof(*cp));
	if (daemon_active())
		return open_in_daemon(name, cp, flags);
	TRY(known_load(&k, &n));
	int rc = terr(ENOENT, "no such pool");
	for (int i = 0; i < n; i++)
		if (!strcmp(k[i].name, name)) {
			rc = pool_import(k[i].nvdevs, k[i].paths, POOL_IMPORT_OPEN | flags, &cp->pool);
			break;
		}
	known_free(k, n);
	if (rc < 0)
		return rc;
	rc = dsl_open(cp->pool, &cp->dsl);
	if (rc < 0) {
		pool_close(cp->pool);
		cp->pool = NULL;
	}
	return rc;
}

int cli_open(const char *name, cli_pool_t *cp) { return open_flags(name, cp, 0); }
int cli_open_ro(const char *name, cli_pool_t *cp) { return open_flags(name, cp, POOL_IMPORT_READONLY); }

static int open_for(const char *dsname, cli_pool_t *cp, int flags)
{
	char pool[POOL_NAME_MAX];
	size_t n = strcspn(dsname, "/@#");
	if (n == 0 || n >= sizeof(pool))
		return terr(ENOENT, "dataset does not exist");
	memcpy(pool, dsname, n);
	pool[n] = 0;
	int rc = open_flags(pool, cp, flags);
	if (rc == -ENOENT)
		return terr(ENOENT, "dataset does not exist");
	return rc;
}

int cli_open_for(const char *dsname, cli_pool_t *cp) { return open_for(dsname, cp, 0); }
int cli_open_for_ro(const char *dsname, cli_pool_t *cp) { return open_for(dsname, cp, POOL_IMPORT_READONLY); }

__thread char cli_history_line[4096];

__thread FILE *cli_in_, *cli_out_, *cli_err_;

void cli_set_stdio(FILE *in, FILE *out, FILE *err)
{
	cli_in_ = in;
	cli_out_ = out;
	cli_err_ = err;
	opt_errstream = err;
}

void cli_set_history(const char *personality, int argc, char **argv)
{
	size_t pos = (size_t)snprintf(cli_history_line, sizeof(cli_history_line), "%s", personality);
	for (int i = 1; i < argc && pos < sizeof(cli_history_line); i++)
		pos += (size_t)snprintf(cli_history_line + pos, sizeof(cli_history_line) - pos, " %s", argv[i]);
}

/* Errors this process saw: kept across a re-open so they can be recorded. */
struct seen_errors {
	uint64_t vdev[POOL_MAX_VDEVS][3];
	uint64_t cksum, io;
	int any;
};

static void take_errors(pool_t *p, struct seen_errors *e)
{
	memset(e, 0, sizeof(*e));
	for (int i = 0; i < p->nvdevs; i++) {
		e->vdev[i][0] = p->vdevs[i].read_errors;
		e->vdev[i][1] = p->vdevs[i].write_errors;
		e->vdev[i][2] = p->vdevs[i].cksum_errors;
		e->any |= e->vdev[i][0] || e->vdev[i][1] || e->vdev[i][2];
	}
	e->cksum = p->cksum_errors;
	e->io = p->io_errors;
	e->any |= e->cksum || e->io;
}

/* After a failed operation the in-memory state may be half-changed and must never be
 * committed. To still record the errors it met (zpool status), open the pool afresh from its
 * last committed state and commit only the counters there. */
static void record_errors_fresh(const char *name, const struct seen_errors *e)
{
	cli_pool_t fresh;
	char msg[TERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", terr_msg()); /* keep the error the caller will print */
	int code = terr_code();
	if (cli_open(name, &fresh) == 0) {
		for (int i = 0; i < fresh.pool->nvdevs; i++) {
			fresh.pool->vdevs[i].read_errors += e->vdev[i][0];
			fresh.pool->vdevs[i].write_errors += e->vdev[i][1];
			fresh.pool->vdevs[i].cksum_errors += e->vdev[i][2];
		}
		fresh.pool->cksum_errors += e->cksum;
		fresh.pool->io_errors += e->io;
		if (dsl_record_errors(fresh.dsl) > 0)
			dsl_commit(fresh.dsl);
		dsl_close(fresh.dsl);
		pool_close(fresh.pool);
	}
	terr(code, "%s", msg);
}

int cli_close(cli_pool_t *cp, int commit)
{
	int rc = 0;
	if (!cp->pool)
		return 0;
	if (cp->host)
		return close_in_daemon(cp, commit);
	if (!cp->dsl || cp->pool->readonly) { /* nothing can be committed here */
		struct seen_errors e;
		char name[POOL_NAME_MAX];
		take_errors(cp->pool, &e);
		snprintf(name, sizeof(name), "%s", cp->pool->name);
		if (cp->dsl)
			dsl_close(cp->dsl);
		pool_close(cp->pool);
		memset(cp, 0, sizeof(*cp));
		if (e.any) /* record what a reader met, if the pool is not busy */
			record_errors_fresh(name, &e);
		return 0;
	}
	if (commit) {
		if (cli_history_line[0])
			rc = dsl_history_add(cp->dsl, cli_history_line);
		if (rc == 0)
			rc = dsl_record_errors(cp->dsl);
		if (rc >= 0)
			rc = dsl_commit(cp->dsl);
		dsl_close(cp->dsl);
		pool_close(cp->pool);
	} else {
		struct seen_errors e;
		char name[POOL_NAME_MAX];
		take_errors(cp->pool, &e);
		snprintf(name, sizeof(name), "%s", cp->pool->name);
		dsl_close(cp->dsl);
		pool_close(cp->pool);
		if (e.any)
			record_errors_fresh(name, &e);
	}
	memset(cp, 0, sizeof(*cp));
	return rc < 0 ? rc : 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cli_known_names(char ***names, int *n)
{
	known_pool_t *k;
	int cnt;
	TRY(known_load(&k, &cnt));
	*names = calloc((size_t)cnt + 1, sizeof(char *));
	for (int i = 0; i < cnt && *names; i++)
		(*names)[i] = strdup(k[i].name);
	known_free(k, cnt);
	if (!*names)
		return terr(ENOMEM, "out of memory");
	qsort(*names, (size_t)cnt, sizeof(char *), cmpstr);
	*n = cnt;
	return 0;
}

int cli_wants_help(int argc, char **argv)
{
	if (argc > 0 && !strcmp(argv[0], "help"))
		return 1;
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-?") || !strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

int cli_finish(cli_pool_t *cp, int rc, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (rc >= 0 && cli_close(cp, 1) == 0)
		return 0;
	if (rc < 0)
		cli_close(cp, 0);
	return cli_fail("%s", what);
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	char what[1024];
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(cli_err, "cannot %s: %s\n", what, terr_msg()[0] ? terr_msg() : "unknown error");
	return 1;
}

void table_init(table_t *t, int ncols, const char *const *hdr, const int *right)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->hdr = calloc((size_t)ncols, sizeof(char *));
	t->right = calloc((size_t)ncols, sizeof(int));
	for (int i = 0; i < ncols; i++) {
		t->hdr[i] = strdup(hdr[i]);
		t->right[i] = right ? right[i] : 0;
	}
}

void table_add(table_t *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->rows = realloc(t->rows, (size_t)t->cap * sizeof(*t->rows));
	}
	char **r = calloc((size_t)t->ncols, sizeof(char *));
	for (int i = 0; i < t->ncols; i++)
		r[i] = strdup(cells[i] ? cells[i] : "-");
	t->rows[t->nrows++] = r;
}

void table_print(table_t *t, FILE *f, int scripted, int header)
{
	size_t *w = calloc((size_t)t->ncols, sizeof(size_t));
	for (int c = 0; c < t->ncols; c++) {
		w[c] = header ? strlen(t->hdr[c]) : 0;
		for (int r = 0; r < t->nrows; r++)
			if (strlen(t->rows[r][c]) > w[c])
				w[c] = strlen(t->rows[r][c]);
	}
	for (int r = header && !scripted ? -1 : 0; r < t->nrows; r++) {
		char **cells = r < 0 ? t->hdr : t->rows[r];
		for (int c = 0; c < t->ncols; c++) {
			int last = c == t->ncols - 1;
			if (scripted)
				fprintf(f, "%s%s", cells[c], last ? "" : "\t");
			else if (t->right[c])
				fprintf(f, "%*s%s", (int)w[c], cells[c], last ? "" : "  ");
			else if (last)
				fprintf(f, "%s", cells[c]);
			else
				fprintf(f, "%-*s  ", (int)w[c], cells[c]);
		}
		fputc('\n', f);
	}
	free(w);
}

void table_free(table_t *t)
{
	for (int r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	for (int c = 0; c < t->ncols; c++)
		free(t->hdr[c]);
	free(t->hdr);
	free(t->right);
	free(t->rows);
}
