/* cli/common.c — opening known pools, error output, tables (see cli.h). */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pool/known.h"
#include "util/err.h"
#include "util/names.h"

int cli_open(const char *name, cli_pool_t *cp)
{
	known_pool_t *k;
	int n;
	memset(cp, 0, sizeof(*cp));
	TRY(known_load(&k, &n));
	int rc = terr(ENOENT, "no such pool '%s'", name);
	for (int i = 0; i < n; i++)
		if (!strcmp(k[i].name, name)) {
			rc = pool_import(k[i].nvdevs, k[i].paths, POOL_IMPORT_OPEN, &cp->pool);
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

int cli_open_for(const char *dsname, cli_pool_t *cp)
{
	char pool[POOL_NAME_MAX];
	size_t n = strcspn(dsname, "/@#");
	if (n == 0 || n >= sizeof(pool))
		return terr(ENOENT, "dataset does not exist");
	memcpy(pool, dsname, n);
	pool[n] = 0;
	int rc = cli_open(pool, cp);
	if (rc == -ENOENT)
		return terr(ENOENT, "dataset does not exist");
	return rc;
}

char cli_history_line[4096];

void cli_set_history(const char *personality, int argc, char **argv)
{
	size_t pos = (size_t)snprintf(cli_history_line, sizeof(cli_history_line), "%s", personality);
	for (int i = 1; i < argc && pos < sizeof(cli_history_line); i++)
		pos += (size_t)snprintf(cli_history_line + pos, sizeof(cli_history_line) - pos, " %s", argv[i]);
}

int cli_close(cli_pool_t *cp, int commit)
{
	int rc = 0;
	if (!cp->pool)
		return 0;
	if (cp->dsl && commit && cli_history_line[0])
		rc = dsl_history_add(cp->dsl, cli_history_line);
	if (cp->dsl) {
		int ch = dsl_record_errors(cp->dsl);
		if (rc == 0 && (commit || ch > 0))
			rc = dsl_commit(cp->dsl);
		dsl_close(cp->dsl);
	}
	pool_close(cp->pool);
	memset(cp, 0, sizeof(*cp));
	return rc;
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

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	char what[1024];
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cannot %s: %s\n", what, terr_msg()[0] ? terr_msg() : "unknown error");
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
