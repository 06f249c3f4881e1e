/* pool/known.c — known-pools cache file (see known.h). */
#include "pool/known.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

const char *known_home(void)
{
	const char *h = getenv("TARN_HOME");
	return h && *h ? h : "/var/lib/tarn";
}

static void cache_path(char *buf, size_t len) { snprintf(buf, len, "%s/pools.cache", known_home()); }

void known_free(known_pool_t *k, int n)
{
	for (int i = 0; i < n; i++)
		for (int v = 0; v < k[i].nvdevs; v++)
			free(k[i].paths[v]);
	free(k);
}

int known_load(known_pool_t **out, int *n)
{
	char path[4096];
	cache_path(path, sizeof(path));
	*out = NULL;
	*n = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : terr(errno, "cannot read %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	int cnt = 0, rc = 0;
	known_pool_t *k = NULL;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		known_pool_t *nk = realloc(k, (size_t)(cnt + 1) * sizeof(*nk));
		if (!nk) {
			rc = terr(ENOMEM, "out of memory");
			break;
		}
		k = nk;
		known_pool_t *e = &k[cnt];
		memset(e, 0, sizeof(*e));
		char *save = NULL, *tok = strtok_r(line, "\t", &save);
		if (!tok || strlen(tok) >= POOL_NAME_MAX)
			continue;
		strcpy(e->name, tok);
		tok = strtok_r(NULL, "\t", &save);
		e->guid = tok ? strtoull(tok, NULL, 10) : 0;
		while ((tok = strtok_r(NULL, "\t", &save)) && e->nvdevs < POOL_MAX_VDEVS)
			e->paths[e->nvdevs++] = strdup(tok);
		if (e->nvdevs)
			cnt++;
	}
	free(line);
	fclose(f);
	*out = k;
	*n = cnt;
	return rc;
}

static int save(known_pool_t *k, int n)
{
	char path[4096], tmp[4200];
	if (mkdir(known_home(), 0755) < 0 && errno != EEXIST)
		return terr(errno, "cannot create %s: %s", known_home(), strerror(errno));
	cache_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return terr(errno, "cannot write %s: %s", tmp, strerror(errno));
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s\t%llu", k[i].name, (unsigned long long)k[i].guid);
		for (int v = 0; v < k[i].nvdevs; v++)
			fprintf(f, "\t%s", k[i].paths[v]);
		fputc('\n', f);
	}
	if (fflush(f) || fsync(fileno(f)) || fclose(f)) {
		unlink(tmp);
		return terr(EIO, "cannot write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return terr(errno, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

int known_add(const pool_t *p)
{
	known_pool_t *k;
	int n;
	TRY(known_load(&k, &n));
	int i;
	for (i = 0; i < n && strcmp(k[i].name, p->name); i++)
		;
	if (i == n) {
		known_pool_t *nk = realloc(k, (size_t)(n + 1) * sizeof(*nk));
		if (!nk) {
			known_free(k, n);
			return terr(ENOMEM, "out of memory");
		}
		k = nk;
		n++;
	} else {
		for (int v = 0; v < k[i].nvdevs; v++)
			free(k[i].paths[v]);
	}
	memset(&k[i], 0, sizeof(k[i]));
	snprintf(k[i].name, sizeof(k[i].name), "%s", p->name);
	k[i].guid = p->guid;
	for (int v = 0; v < p->nvdevs; v++) {
		char *rp = realpath(p->vdevs[v].path, NULL);
		k[i].paths[k[i].nvdevs++] = rp ? rp : strdup(p->vdevs[v].path);
	}
	int rc = save(k, n);
	known_free(k, n);
	return rc;
}

int known_remove(const char *name)
{
	known_pool_t *k;
	int n;
	TRY(known_load(&k, &n));
	for (int i = 0; i < n; i++)
		if (!strcmp(k[i].name, name)) {
			for (int v = 0; v < k[i].nvdevs; v++)
				free(k[i].paths[v]);
			memmove(&k[i], &k[i + 1], (size_t)(n - i - 1) * sizeof(*k));
			n--;
			break;
		}
	int rc = save(k, n);
	known_free(k, n);
	return rc;
}
